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
    /// Set by `container cleanup --exec` from the exit file, which goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

fn exec_dir(store: &Store, container: &str) -> PathBuf {
    store.containers.run_dir(container).join("exec")
}

/// A session's directory; `None` for an id that is not one (no path
/// outside `exec/` is ever made from user input).
pub fn dir(store: &Store, container: &str, session: &str) -> Option<PathBuf> {
    super::records::is_full_id(session).then(|| exec_dir(store, container).join(session))
}

/// A new session's id and directory, with its empty `exit` file open for
/// the waiting process to write.
pub fn begin(store: &Store, container: &str) -> Result<(String, PathBuf, fs::File)> {
    let id = super::containers::new_id();
    let dir = exec_dir(store, container).join(&id);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let exit = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join("exit"))
        .with_context(|| format!("creating the exit file of exec session {id}"))?;
    Ok((id, dir, exit))
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
