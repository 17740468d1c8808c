//! A container's state as it really is: its record, corrected when its
//! monitor died without saying so.

use super::sys;
use crate::storage::containers::{ContainerState, Status};
use crate::storage::store::Store;
use anyhow::Result;
use std::time::{Duration, Instant};

/// The state, corrected when its monitor died without saying so (kill -9,
/// reboot): such a container is reported, and recorded, as exited.
pub fn current_state(store: &Store, id: &str) -> Result<ContainerState> {
    let mut state = store.containers.load_state(id)?;
    if state.status == Status::Initialized && !same_boot(&state) {
        // `init`ed before a reboot: its mount went with the boot.
        state.status = Status::Created;
        let _ = store.containers.save_state(id, &state);
    }
    if is_restarting(&state) && !monitor_alive(&state) {
        // Its monitor died while waiting to restart it.
        super::volume_plugin::release_recorded(store, id);
        state.restarting = false;
        state.monitor_pid = 0;
        let _ = store.containers.save_state(id, &state);
    }
    if matches!(
        state.status,
        Status::Running | Status::Paused | Status::Stopping
    ) {
        let same_boot = same_boot(&state);
        if !monitor_alive(&state) {
            // Reread: the monitor may have finished between our two reads.
            let fresh = store.containers.load_state(id)?;
            if !matches!(
                fresh.status,
                Status::Running | Status::Paused | Status::Stopping
            ) {
                return Ok(fresh);
            }
            state = fresh;
            // The container died with its monitor (parent-death signal);
            // its network helper may not have noticed.
            for (pid, start) in [
                (state.pid, state.pid_start),
                (state.helper_pid, state.helper_start),
            ] {
                if same_boot && sys::process_is(pid, start) {
                    // SAFETY: kill a process we verified is this container's.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            // Nor its plugin volumes' mounts, its DNAT rules, its cgroup.
            super::volume_plugin::release_recorded(store, id);
            super::port_nat::remove(&store.containers.run_dir(id));
            super::bridge::detach(store, id);
            if let Some(cg) = super::cgroup::Cgroup::open(&state.cgroup_path) {
                cg.remove();
            }
            state.cgroup_path = String::new();
            state.helper_pid = 0;
            state.status = Status::Exited;
            state.exit_code = 137;
            state.finished_at = Some(crate::format::human::rfc3339_nano(
                std::time::SystemTime::now(),
            ));
            state.pid = 0;
            state.monitor_pid = 0;
            let _ = store.containers.save_state(id, &state);
            if let Ok(cfg) = store.containers.load_config(id) {
                crate::storage::events::container_died(store, &cfg, 137);
            }
        } else if state.status == Status::Running && store.containers.is_stopping(id) {
            // A `stop` is waiting for it (not recorded: the monitor's
            // own state writes stay the only ones while it runs).
            state.status = Status::Stopping;
        }
    }
    Ok(state)
}

/// Exited, with its monitor waiting to start it again (restart policy).
pub fn is_restarting(state: &ContainerState) -> bool {
    state.restarting && state.status == Status::Exited && state.monitor_pid != 0
}

fn same_boot(state: &ContainerState) -> bool {
    state.boot_id.is_empty() || state.boot_id == sys::boot_id()
}

fn monitor_alive(state: &ContainerState) -> bool {
    same_boot(state) && sys::process_is(state.monitor_pid, state.monitor_start)
}

pub fn is_running(state: &ContainerState) -> bool {
    matches!(
        state.status,
        Status::Running | Status::Paused | Status::Stopping
    )
}

/// Wait until the container is no longer running, up to `timeout`.
pub fn wait_stopped(store: &Store, id: &str, timeout: Option<Duration>) -> Result<ContainerState> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(2);
    loop {
        let state = current_state(store, id)?;
        if !is_running(&state) && !is_restarting(&state) {
            return Ok(state);
        }
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                return Ok(state);
            }
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}
