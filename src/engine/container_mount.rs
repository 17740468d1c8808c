//! `mount`/`unmount` of containers: which ones, and what is listed.

use super::types::Store;
use crate::runtime::host_mount;
use crate::storage::exec_sessions;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// A mounted container, as `mount` without arguments lists it.
pub struct MountedContainer {
    pub id: String,
    pub names: Vec<String>,
    pub mountpoint: PathBuf,
}

/// Mount container `id`'s root filesystem; where it is.
pub fn mount(store: &Store, id: &str) -> Result<PathBuf> {
    let cfg = store.containers.load_config(id)?;
    let path = host_mount::mount(store, &cfg)?;
    crate::storage::events::container(store, "mount", &cfg);
    Ok(path)
}

pub fn unmount(store: &Store, id: &str, force: bool) -> Result<()> {
    let cfg = store.containers.load_config(id)?;
    host_mount::unmount(store, id, force)?;
    crate::storage::events::container(store, "unmount", &cfg);
    Ok(())
}

/// Refuse where podman does (rootless outside `unshare`) before any work.
pub fn check_allowed(store: &Store, verb: &str) -> Result<()> {
    host_mount::check_allowed(store, verb)
}

/// Every container whose root filesystem is mounted here.
pub fn mounted(store: &Store) -> Result<Vec<MountedContainer>> {
    let mut out = Vec::new();
    for l in super::containers::list_all(store)? {
        let path = host_mount::mountpoint(store, &l.cfg.id);
        if host_mount::is_mounted(&path) {
            out.push(MountedContainer {
                id: l.cfg.id.clone(),
                names: vec![l.cfg.name.clone()],
                mountpoint: path,
            });
        }
    }
    Ok(out)
}

/// The ids of every mounted container (`unmount --all`).
pub fn mounted_ids(store: &Store) -> Result<Vec<String>> {
    Ok(mounted(store)?.into_iter().map(|m| m.id).collect())
}

/// `container cleanup`: what an exited container still holds on the
/// host goes (its `mount`; the monitor undid its network as it ended);
/// with `rm` the container too, with `rmi` its image as well unless
/// another container uses it. A running container is left alone: false.
pub fn cleanup(store: &Store, id: &str, rm: bool, rmi: bool) -> Result<bool> {
    // Reading the state settles a container whose monitor was killed.
    let state = crate::runtime::state::current_state(store, id)?;
    if crate::runtime::state::is_running(&state) {
        return Ok(false);
    }
    let cfg = store.containers.load_config(id)?;
    if host_mount::is_mounted(&host_mount::mountpoint(store, id)) {
        host_mount::unmount(store, id, true)?;
    }
    // Its exec sessions ended with it (podman removes them too).
    exec_sessions::remove_all(store, id);
    if rm || rmi {
        super::containers::remove(store, id, super::containers::Removal::default())?;
    }
    if rmi {
        super::create::remove_image_after_run(store, &cfg)?;
    }
    Ok(true)
}

/// Whether an exec session's program still runs: no exit code yet and its
/// waiting process alive (a reused pid has another start time).
fn session_running(store: &Store, id: &str, s: &exec_sessions::ExecSession) -> bool {
    s.exit_code.is_none()
        && exec_sessions::exit_code(store, id, &s.id).is_none()
        && crate::runtime::sys::process_is(s.pid, s.start_time)
}

/// `container cleanup --exec SESSION [--rm]`: a session whose program
/// ended has its exit code kept in its record and its exit file removed;
/// with `rm` the session goes. A session still running is refused; one
/// already gone is no error (as podman: its own cleanup may have won).
pub fn cleanup_exec(store: &Store, id: &str, session: &str, rm: bool) -> Result<()> {
    let Some(mut s) = exec_sessions::load(store, id, session) else {
        return Ok(());
    };
    if session_running(store, id, &s) {
        if rm {
            bail!("container {id} exec session {session} is still running, cannot remove: exec session state improper");
        }
        bail!("cannot clean up container {id} exec session {session} as it is running: exec session state improper");
    }
    if rm {
        exec_sessions::remove(store, id, session)
    } else {
        exec_sessions::settle(store, id, &mut s)
    }
}

/// The exec sessions of a running container (`inspect`'s ExecIDs).
pub fn exec_session_ids(store: &Store, id: &str, container_pid: i32) -> Vec<String> {
    exec_sessions::list(store, id, container_pid)
}

/// An exec session as the API reports it: its container, its record,
/// whether its program runs and how it ended.
pub struct ExecSessionReport {
    pub container: String,
    pub session: exec_sessions::ExecSession,
    pub running: bool,
    pub exit_code: Option<i32>,
}

/// The API's exec create: a session of the running container `id`, made
/// ahead of its start (and listed in its ExecIDs from now on); its id.
pub fn create_exec_session(
    store: &Store,
    id: &str,
    command: Vec<String>,
    request: exec_sessions::ExecRequest,
) -> Result<String> {
    let state = crate::runtime::state::current_state(store, id)?;
    exec_sessions::create(store, id, state.pid, command, request)
}

/// A session by its id alone (the API names no container).
pub fn exec_session(store: &Store, session: &str) -> Option<ExecSessionReport> {
    let (container, s) = exec_sessions::find(store, session)?;
    let exit_code = s
        .exit_code
        .or_else(|| exec_sessions::exit_code(store, &container, &s.id));
    let running = s.pid != 0 && session_running(store, &container, &s);
    Some(ExecSessionReport {
        container,
        session: s,
        running,
        exit_code,
    })
}

/// The terminal a made session's program gets, kept for resizes.
pub fn note_exec_terminal(store: &Store, id: &str, session: &str, tty_path: &str) -> Result<()> {
    let Some(mut s) = exec_sessions::load(store, id, session) else {
        bail!("no exec session with ID {session} found: no such exec session");
    };
    s.request.get_or_insert_with(Default::default).tty_path = Some(tty_path.to_string());
    let dir = exec_sessions::dir(store, id, session).unwrap_or_default();
    exec_sessions::save(&dir, &s)
}

/// A made session whose start failed before its program could end on
/// its own: `code` is how it ended (a program that ran wrote its own).
pub fn exec_session_failed(store: &Store, id: &str, session: &str, code: i32) -> Result<()> {
    let Some(mut s) = exec_sessions::load(store, id, session) else {
        return Ok(());
    };
    if s.exit_code.is_some() || exec_sessions::exit_code(store, id, session).is_some() {
        return Ok(());
    }
    s.exit_code = Some(code);
    let dir = exec_sessions::dir(store, id, session).unwrap_or_default();
    exec_sessions::save(&dir, &s)
}
