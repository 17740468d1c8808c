//! `init`: a container made ready to start, without its process. What
//! init does: the OCI spec is in place (`spec.json`, inspect's
//! `OCIConfigPath`, written at create and checked readable here; for a
//! `--runtime` container also the runtime's own `<runroot>/containers/
//! <id>/bundle/config.json`, as that runtime will get it), the root
//! filesystem is mounted where the host sees it (as root: the same counted
//! mount `mount` makes, at `<root>/containers/<id>/merged`), and the state
//! is `initialized`. What it does not: no process and no network namespace
//! exist before `start` (the built-in runtime makes both in one clone when
//! the monitor starts the container), so a network is set up by `start`.
//! Rootless, the host cannot hold a mount outside a user namespace that
//! lives on (the same limit as `mount`), so init records the state only.
//!
//! Crash safety: the mark (`<runroot>/containers/<id>/init-mount`) is
//! written before the mount and the state last, so a killed init leaves
//! either a `created` container whose mark the next start or removal
//! releases, or a complete initialized one. The state carries the boot id:
//! after a reboot (the volatile mount gone) it reads as `created` again.

use super::state::{current_state, is_restarting, is_running};
use super::{host_mount, spec, sys};
use crate::storage::containers::{ContainerConfig, Status};
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

fn mark(store: &Store, id: &str) -> PathBuf {
    store.containers.run_dir(id).join("init-mount")
}

/// Can container `id` be initialized now? podman's refusal otherwise.
pub fn check_initializable(store: &Store, id: &str) -> Result<()> {
    let state = current_state(store, id)?;
    if is_running(&state) || is_restarting(&state) || state.status == Status::Initialized {
        bail!("container {id} has already been created in runtime: container state improper");
    }
    Ok(())
}

/// Initialize a created or exited container (the caller holds its start
/// lock and checked [`check_initializable`]).
pub fn initialize(store: &Store, cfg: &ContainerConfig) -> Result<()> {
    let id = &cfg.id;
    let spec_path = store.containers.dir(id).join("spec.json");
    let spec = spec::load(&spec_path)
        .with_context(|| format!("reading the OCI spec of container {id}"))?;
    if cfg.oci_runtime.is_some() {
        // `--runtime`: the bundle the runtime will get, as podman's.
        super::oci_runtime::write_bundle_config(store, cfg, &spec)?;
    }
    if !store.rootless {
        let m = mark(store, id);
        if !m.exists() {
            if let Some(dir) = m.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            crate::storage::atomic::write_file(&m, b"", false)?;
            if let Err(e) = host_mount::mount(store, cfg) {
                let _ = std::fs::remove_file(&m);
                return Err(e.context(format!("mounting the root filesystem of container {id}")));
            }
        }
    }
    let mut state = store.containers.load_state(id)?;
    state.status = Status::Initialized;
    state.boot_id = sys::boot_id();
    state.pid = 0;
    state.pid_start = 0;
    state.monitor_pid = 0;
    state.monitor_start = 0;
    state.error = None;
    store.containers.save_state(id, &state)
}

/// Undo init's mount (one count of it), when the container starts, stops
/// or goes. No mark: nothing to do.
pub fn release(store: &Store, id: &str) {
    let m = mark(store, id);
    if m.exists() {
        let target = host_mount::mountpoint(store, id);
        if host_mount::is_mounted(&target) {
            let _ = host_mount::unmount(store, id, false);
        }
        let _ = std::fs::remove_file(&m);
    }
}

/// `stop` of an initialized container: podman kills the runtime's waiting
/// process (after the stop timeout: it does not take signals before its
/// exec), so the container ends `exited` with 137; coracle has no process
/// to wait for and ends it so at once.
pub fn stop(store: &Store, id: &str) -> Result<()> {
    release(store, id);
    let mut state = store.containers.load_state(id)?;
    if state.status != Status::Initialized {
        return Ok(());
    }
    state.status = Status::Exited;
    state.exit_code = 137;
    state.finished_at = Some(crate::format::human::rfc3339_nano(
        std::time::SystemTime::now(),
    ));
    store.containers.save_state(id, &state)
}
