//! coracle: a daemonless, rootless container tool.
//!
//! Dependencies point one way: `cmd -> build -> runtime -> storage` and
//! `cmd -> registry -> storage`. `format` is pure output rendering.

pub mod build;
pub mod cmd;
pub mod error;
pub mod format;
pub mod log;
pub mod registry;
pub mod runtime;
pub mod storage;
