//! coracle: a daemonless, rootless container tool.
//!
//! Dependencies point one way: `cmd -> engine -> build -> runtime ->
//! storage` and `engine -> registry -> storage`. `format` is pure output
//! rendering. See docs/ARCHITECTURE.md.

pub mod build;
pub mod cmd;
pub mod engine;
pub mod error;
pub mod format;
pub mod log;
pub mod registry;
pub mod runtime;
pub mod storage;
