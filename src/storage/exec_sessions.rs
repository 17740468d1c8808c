//! Exec sessions, as podman keeps them: each `exec` has a 64-hex id and a
//! directory in its container's run dir, `exec/<id>/`, holding
//! `session.json` (the command, the pid and start time of the process that
//! waits for the program, the container's pid then) and `exit`, made empty
//! when the session starts and given the program's exit code by that
//! waiting process when it ends. An attached `exec` removes its session
//! when it returns; an `exec -d` session stays (stopped, with its exit
//! code) until `container cleanup --exec ID --rm` or the container's own
//! cleanup; one of an earlier run of the container is not listed. Volatile,
//! as the run dir: a reboot ends every session.
//!
//! The API's exec makes a session ahead of its start (`create`: pid 0,
//! no `exit` file yet, what to run with in `request`); its start runs
//! under that session (`resume`) and it stays after the program ended,
//! for the API's inspect, until `container cleanup --exec` or the
//! container's cleanup.

use super::atomic;
use super::store::Store;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSession {
    pub id: String,
    pub command: Vec<String>,
    /// The process waiting for the program (it writes `exit`).
    pub pid: i32,
    pub start_time: u64,
    /// The container's pid when the session began: a session of an
    /// earlier run of the container is no longer its.
    pub container_pid: i32,
    pub detached: bool,
    /// Set by `container cleanup --exec` from the exit file, which goes
    /// (or by the API's start when the program never ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// A session made before its start (the API's exec create): how it
    /// is to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<ExecRequest>,
}

/// What the API's exec create asked for, kept until (and after) its start.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecRequest {
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub workdir: String,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(default)]
    pub detach_keys: String,
    /// The terminal the started program has (for resizes from another
    /// request), a /dev/pts path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty_path: Option<String>,
}

fn exec_dir(store: &Store, container: &str) -> PathBuf {
    store.containers.run_dir(container).join("exec")
}

/// A session's directory; `None` for an id that is not one (no path
/// outside `exec/` is ever made from user input).
pub fn dir(store: &Store, container: &str, session: &str) -> Option<PathBuf> {
    super::records::is_full_id(session).then(|| exec_dir(store, container).join(session))
}

/// A new session's id and its directory, made here (never one that
/// exists). The id is the kernel's randomness, not a generator's: the
/// API's connections are forks of one process, and would share its state.
fn new_session_dir(store: &Store, container: &str) -> Result<(String, PathBuf)> {
    let parent = exec_dir(store, container);
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    loop {
        let mut bytes = [0u8; 32];
        // SAFETY: getrandom fills the buffer it is given, of that length.
        let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
        if n != bytes.len() as isize {
            anyhow::bail!("getrandom: {}", std::io::Error::last_os_error());
        }
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let dir = parent.join(&id);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
}

/// A new session's id and directory, with its empty `exit` file open for
/// the waiting process to write.
pub fn begin(store: &Store, container: &str) -> Result<(String, PathBuf, fs::File)> {
    let (id, dir) = new_session_dir(store, container)?;
    let exit = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join("exit"))
        .with_context(|| format!("creating the exit file of exec session {id}"))?;
    Ok((id, dir, exit))
}

/// A session made ahead of its start, listed with the container's
/// current run (`container_pid`): its id.
pub fn create(
    store: &Store,
    container: &str,
    container_pid: i32,
    command: Vec<String>,
    request: ExecRequest,
) -> Result<String> {
    let (id, dir) = new_session_dir(store, container)?;
    let session = ExecSession {
        id: id.clone(),
        command,
        pid: 0,
        start_time: 0,
        container_pid,
        detached: false,
        exit_code: None,
        request: Some(request),
    };
    save(&dir, &session)?;
    Ok(id)
}

/// A made session about to start: its id, directory and new `exit` file,
/// as [`begin`] gives them. Its `exit` file is made exclusively, so a
/// session starts once only.
pub fn resume(
    store: &Store,
    container: &str,
    session: &str,
) -> Result<(String, PathBuf, fs::File)> {
    let started = || {
        anyhow::anyhow!(
            "exec session {session} has already been started: exec session state improper"
        )
    };
    let s = load(store, container, session).with_context(|| {
        format!("no exec session with ID {session} found: no such exec session")
    })?;
    if s.pid != 0 {
        return Err(started());
    }
    let dir = exec_dir(store, container).join(&s.id);
    let exit = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join("exit"))
        .map_err(|_| started())?;
    Ok((s.id, dir, exit))
}

/// The container whose session this is, and the session: looked for
/// among every container's run dir (the API names a session alone).
pub fn find(store: &Store, session: &str) -> Option<(String, ExecSession)> {
    if !super::records::is_full_id(session) {
        return None;
    }
    let ids = store.containers.ids().ok()?;
    ids.into_iter()
        .find_map(|c| load(store, &c, session).map(|s| (c, s)))
}

/// Record the session once its waiting process exists.
pub fn save(dir: &std::path::Path, s: &ExecSession) -> Result<()> {
    atomic::write_json(&dir.join("session.json"), s, false)
}

pub fn load(store: &Store, container: &str, session: &str) -> Option<ExecSession> {
    let dir = dir(store, container, session)?;
    let text = fs::read(dir.join("session.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The ids of the sessions of the container's current run (`container_pid`).
pub fn list(store: &Store, container: &str, container_pid: i32) -> Vec<String> {
    let Ok(entries) = fs::read_dir(exec_dir(store, container)) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| load(store, container, id).is_some_and(|s| s.container_pid == container_pid))
        .collect();
    out.sort();
    out
}

/// The program's exit code, once its waiting process wrote it.
pub fn exit_code(store: &Store, container: &str, session: &str) -> Option<i32> {
    let d = dir(store, container, session)?;
    fs::read_to_string(d.join("exit")).ok()?.trim().parse().ok()
}

/// An ended session's exit code moved into its record and its exit file
/// removed (what `container cleanup --exec` does without `--rm`).
pub fn settle(store: &Store, container: &str, s: &mut ExecSession) -> Result<()> {
    let Some(d) = dir(store, container, &s.id) else {
        return Ok(());
    };
    if s.exit_code.is_none() {
        s.exit_code = exit_code(store, container, &s.id);
    }
    save(&d, s)?;
    match fs::remove_file(d.join("exit")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing the exit file of exec session {}", s.id))
        }
        _ => Ok(()),
    }
}

/// Remove one session's directory.
pub fn remove(store: &Store, container: &str, session: &str) -> Result<()> {
    if let Some(d) = dir(store, container, session) {
        match fs::remove_dir_all(&d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", d.display())),
        }
    }
    Ok(())
}

/// Every session of the container (it is starting again, or cleaned up).
pub fn remove_all(store: &Store, container: &str) {
    let _ = fs::remove_dir_all(exec_dir(store, container));
}
