//! coracle: a daemonless, rootless container tool.
//!
//! Dependencies point one way: `cmd -> engine -> build -> runtime ->
//! storage` and `engine -> registry -> storage`. `format` is pure output
//! rendering. See docs/ARCHITECTURE.md.

pub(crate) mod build;
pub mod cmd;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod format;
pub(crate) mod log;
pub(crate) mod quadlet;
pub(crate) mod registry;
pub(crate) mod runtime;
pub(crate) mod storage;

/// What the example probe and the fuzz targets use; nothing else of the
/// library is API, so rustc reports code that nothing calls.
pub mod testing {
    pub use crate::build::containerfile::{expand, parse, Instruction};
    pub use crate::runtime::userns::{enter_user_namespace, is_rootless, IdMaps};
    pub use crate::storage::compression::auto_decompress;
    pub use crate::storage::unpack::{unpack_layer, UnpackOptions, WhiteoutForm};
}
