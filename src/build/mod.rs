//! Containerfile parsing and the image builder.
//!
//! - [`containerfile`]: text to typed instructions, stages, variable expansion.
//! - [`ignore`]: `.containerignore` / `.dockerignore`.
//! - [`context`]: the build context as a root links cannot leave.
//! - [`glob`]: wildcards in COPY/ADD sources (Go's `filepath.Match`).
//! - [`builder`]: instructions to images, step by step; [`cache`] its index;
//!   [`copy`] COPY/ADD sources and layers; [`named_context`] `--build-context`.
//! - [`image_edits`]: what build's flags change on the images it makes;
//!   [`squash`] `--squash`/`--squash-all`; [`run_mounts`] `RUN --mount`;
//!   [`ssh`] `--ssh` agents for `RUN --mount=type=ssh`;
//!   [`source_policy`] `--source-policy-file`; [`sbom`] `--sbom`;
//!   [`jobs`] `--jobs`; [`remap_diff`] the layer of a RUN step with id maps; [`sources`] the images a
//!   build will name, found before it starts.

pub mod builder;
pub mod cache;
pub mod changes;
pub mod config_edit;
pub mod containerfile;
pub mod context;
pub mod copy;
pub mod glob;
pub mod ignore;
pub mod image_edits;
pub mod jobs;
pub mod named_context;
pub mod remap_diff;
pub mod run_mounts;
pub mod sbom;
pub mod source_policy;
pub mod sources;
pub mod squash;
pub mod ssh;
