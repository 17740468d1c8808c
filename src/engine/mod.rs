//! The engine: the one library API every front end calls — the command
//! line today; compose, Kubernetes YAML, Quadlet units and restart policies
//! next. It takes typed requests and returns typed reports, and it owns the
//! policies: which names and ids a request means, what is in use and may
//! not be removed, which process enters the user namespace for the store.
//! `cmd/` turns flags into one engine call and its report into output;
//! `runtime/`, `registry/`, `build/` and `storage/` do the work below.

pub mod artifact;
pub mod artifact_manifest;
pub mod artifact_mime;
pub mod artifact_transfer;
pub mod attach;
pub mod auto_update;
pub mod build;
pub mod build_cache;
pub mod build_platforms;
pub mod check;
pub mod checkpoint;
pub mod clone;
pub mod commit;
pub mod compose;
pub mod config;
pub mod container_mount;
pub mod containers;
pub mod create;
pub mod diff;
pub mod events;
pub mod filter;
pub mod generate;
pub mod generate_spec;
pub mod health;
pub mod image_mount;
pub mod image_tree;
pub mod images;
pub mod kube;
pub mod logs;
pub mod lookup;
pub mod maintenance;
pub mod manifest;
pub mod manifest_build;
pub mod manifest_instance;
pub mod networks;
pub mod pod_clone;
pub mod pod_create;
pub mod pod_pause;
pub mod pods;
pub mod quadlet;
pub mod runlabel;
pub mod scp;
pub mod search;
pub mod secrets;
pub mod signing;
pub mod stats;
pub mod system;
pub mod top;
pub mod transfer;
pub mod trust;
pub mod types;
pub mod unshare;
pub mod update;
pub mod volume_archive;
pub mod volume_mount;
pub mod volumes;

use anyhow::Result;
use types::{Store, StoreOptions};

/// Open the store this user's commands work on (rootless or root is the
/// caller's effective uid).
pub fn open_store(opts: &StoreOptions) -> Result<Store> {
    let opts = config::store_options(opts)?;
    // Inside `unshare` we are root of the user's namespace: its store still.
    let rootless =
        crate::runtime::userns::is_rootless() || crate::runtime::userns::in_user_namespace();
    Store::open(&opts, rootless)
}

/// Call once at the start of every invocation: each process it forks gets
/// random state of its own (ids, names and nonces never repeat across forks).
pub fn prepare_process() {
    crate::runtime::sys::reseed_random_after_fork();
}

/// Call first in a command that starts or enters a container: it runs on
/// from a read-only view of coracle's binary (see runtime::sealed_exe).
pub fn ensure_sealed() -> Result<()> {
    crate::runtime::sealed_exe::ensure()
}
