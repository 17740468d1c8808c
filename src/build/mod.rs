//! Containerfile parsing and the image builder (a later issue).
//!
//! - [`containerfile`]: text to typed instructions, stages, variable expansion.
//! - [`ignore`]: `.containerignore` / `.dockerignore` and the context walk.
//! - [`glob`]: wildcards in COPY/ADD sources (Go's `filepath.Match`).

pub mod containerfile;
pub mod glob;
pub mod ignore;
