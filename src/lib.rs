//! coracle: a daemonless, rootless container tool.
#![recursion_limit = "256"]
//!
//! Dependencies point one way: `cmd -> engine -> build -> runtime ->
//! storage` and `engine -> registry -> storage`. `format` is pure output
//! rendering. See docs/ARCHITECTURE.md.

pub(crate) mod api;
pub(crate) mod build;
pub mod cmd;
pub(crate) mod config;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod format;
pub(crate) mod kube;
pub(crate) mod log;
pub(crate) mod quadlet;
pub(crate) mod registry;
pub(crate) mod runtime;
pub(crate) mod storage;

pub mod testing;
