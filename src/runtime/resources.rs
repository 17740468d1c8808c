//! What acts on a running container's cgroup: pause and unpause (the
//! freezer), `update` of its limits, and what it uses (`stats`).

use super::cgroup::usage::{self, ProcIndex, Usage};
use super::cgroup::{self, Cgroup};
use super::state::{current_state, is_running};
use super::sys;
use crate::storage::containers::{ContainerConfig, ContainerState, Status};
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};

fn container_cgroup(state: &ContainerState, id: &str, what: &str) -> Result<Cgroup> {
    Cgroup::open(&state.cgroup_path).ok_or_else(|| {
        anyhow!(
            "{what} container {id}: it has no cgroup (rootless on a host that delegates no cgroup v2 subtree to the user, or --cgroups=disabled), and the cgroup freezer is what pauses a container"
        )
    })
}

/// The freezer of the container's cgroup; through its external runtime's
/// `pause`/`resume` when it has one (the same cgroup: the runtime was
/// given it).
fn freeze(store: &Store, id: &str, state: &ContainerState, what: &str, frozen: bool) -> Result<()> {
    let cg = container_cgroup(state, id, what)?;
    let cfg = store.containers.load_config(id)?;
    if cfg.oci_runtime.is_some() {
        super::oci_runtime::pause(store, &cfg, state.pid, frozen)
    } else {
        cg.set_frozen(frozen)
    }
}

/// Freeze every process of a running container.
pub fn pause(store: &Store, id: &str) -> Result<()> {
    let _lock = store.lock()?;
    let mut state = current_state(store, id)?;
    if state.status != Status::Running {
        bail!("{id:?} is not running, can't pause: container state improper");
    }
    freeze(store, id, &state, "pausing", true)?;
    state.status = Status::Paused;
    store.containers.save_state(id, &state)
}

/// Thaw a paused container.
pub fn unpause(store: &Store, id: &str) -> Result<()> {
    let _lock = store.lock()?;
    let mut state = current_state(store, id)?;
    if state.status != Status::Paused {
        bail!("{id:?} is not paused, can't unpause: container state improper");
    }
    freeze(store, id, &state, "unpausing", false)?;
    state.status = Status::Running;
    store.containers.save_state(id, &state)
}

/// After a signal to a paused container: thaw it so the signal is
/// handled and the container can end (stop, kill, rm -f).
pub fn thaw_after_signal(store: &Store, id: &str, state: &ContainerState) {
    if state.status != Status::Paused {
        return;
    }
    if let Some(cg) = Cgroup::open(&state.cgroup_path) {
        let _ = cg.set_frozen(false);
        let mut fresh = store
            .containers
            .load_state(id)
            .unwrap_or_else(|_| state.clone());
        if fresh.status == Status::Paused {
            fresh.status = Status::Running;
            let _ = store.containers.save_state(id, &fresh);
        }
    }
}

/// Change a container's record (`update`): `change` edits it. A running
/// container's cgroup gets the limits at once and its monitor is told to
/// read the healthcheck again; the spec follows for later starts.
pub fn update(
    store: &Store,
    id: &str,
    change: impl FnOnce(&mut ContainerConfig) -> Result<()>,
) -> Result<()> {
    let _lock = store.lock()?;
    let old = store.containers.load_config(id)?;
    let mut cfg = old.clone();
    change(&mut cfg)?;
    let mode = if cfg.cgroups.is_empty() {
        "enabled"
    } else {
        cfg.cgroups.as_str()
    };
    cgroup::check(&mut cfg.resources, true, mode, store.rootless)?;
    let state = current_state(store, id)?;
    let running = is_running(&state);
    if running && cfg.resources != old.resources {
        if let Some(cg) = Cgroup::open(&state.cgroup_path) {
            cg.apply(&cfg.resources)
                .with_context(|| format!("updating the limits of container {id}"))?;
        }
    }
    // The spec records the limits too (what OCI tools read), and the
    // process's environment and rlimits for the next start.
    let spec_path = store.containers.dir(id).join("spec.json");
    let mut spec = super::spec::load(&spec_path)?;
    let resources = super::spec::resources(&cfg.resources).context("updating the runtime spec")?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_resources(resources);
    }
    super::spec::refresh_process(&mut spec, &old, &cfg)?;
    store.containers.save_config(&cfg)?;
    super::spec::save(&spec, &spec_path)?;
    let monitor_reads = cfg.health != old.health || cfg.restart_policy != old.restart_policy;
    if monitor_reads && sys::process_is(state.monitor_pid, state.monitor_start) {
        // SAFETY: the pid was checked to be the container's monitor, which
        // takes SIGUSR1 as "read the record again".
        unsafe { libc::kill(state.monitor_pid, libc::SIGUSR1) };
    }
    Ok(())
}

/// What a running container uses now: from its cgroup, or summed over its
/// processes when it has none. Network I/O always comes from its network
/// namespace. `index` is filled on first need and shared between calls.
pub fn usage_of(state: &ContainerState, index: &mut Option<ProcIndex>) -> Usage {
    let mut u = match Cgroup::open(&state.cgroup_path) {
        Some(cg) => usage::of_cgroup(&cg),
        None => usage::of_processes(state.pid, index.get_or_insert_with(ProcIndex::scan)),
    };
    (u.net_rx, u.net_tx) = usage::network(state.pid);
    u
}
