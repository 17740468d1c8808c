//! Exec sessions: `POST /containers/{id}/exec` records what to run (under
//! the run root, `api-exec/ID.json`, since each request is served by
//! another process), `POST /exec/{id}/start` runs it through the engine's
//! exec with its output framed on the taken-over connection, and
//! `GET /exec/{id}/json` reports it, the exit code once it ended.

use super::http::{frame, Conn, Request};
use super::reply::{api_error, common_headers, Reply};
use super::Ctx;
use crate::engine::types::{ExecOptions, Store};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::path::PathBuf;

fn dir(store: &Store) -> PathBuf {
    store.runroot.join("api-exec")
}

fn path_of(store: &Store, exec_id: &str) -> Result<PathBuf> {
    if exec_id.len() != 64 || !exec_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(api_error(
            404,
            format!("no exec session with ID {exec_id} found: no such exec session"),
        ));
    }
    Ok(dir(store).join(format!("{exec_id}.json")))
}

fn load(store: &Store, exec_id: &str) -> Result<Value> {
    let p = path_of(store, exec_id)?;
    let text = std::fs::read(&p).map_err(|_| {
        api_error(
            404,
            format!("no exec session with ID {exec_id} found: no such exec session"),
        )
    })?;
    Ok(serde_json::from_slice(&text)?)
}

fn save(store: &Store, rec: &Value) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let d = dir(store);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&d)?;
    let id = rec["ID"].as_str().unwrap_or_default();
    let tmp = d.join(format!(".{id}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(rec)?)?;
    std::fs::rename(&tmp, d.join(format!("{id}.json"))).context("saving the exec session")?;
    Ok(())
}

fn new_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// `POST /containers/{id}/exec`: Docker's ExecConfig. The container must
/// be running (409).
pub fn create(ctx: &Ctx, req: &Request, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = crate::engine::lookup::container_id(&store, name)?;
    let body: Value =
        serde_json::from_slice(&req.body).map_err(|e| api_error(400, format!("decode(): {e}")))?;
    let cmd = strings(&body["Cmd"]);
    if cmd.is_empty() {
        return Err(api_error(400, "No exec command specified"));
    }
    if !crate::engine::containers::is_running_now(&store, &id) {
        return Err(api_error(
            409,
            format!("container {id} is not running: container state improper"),
        ));
    }
    let exec_id = new_id();
    let rec = json!({
        "ID": exec_id,
        "ContainerID": id,
        "Cmd": cmd,
        "Env": strings(&body["Env"]),
        "User": body["User"].as_str().unwrap_or_default(),
        "WorkingDir": body["WorkingDir"].as_str().unwrap_or_default(),
        "Tty": body["Tty"].as_bool().unwrap_or(false),
        "Privileged": body["Privileged"].as_bool().unwrap_or(false),
        "AttachStdin": body["AttachStdin"].as_bool().unwrap_or(false),
        "AttachStdout": body["AttachStdout"].as_bool().unwrap_or(false),
        "AttachStderr": body["AttachStderr"].as_bool().unwrap_or(false),
        "DetachKeys": body["DetachKeys"].as_str().unwrap_or_default(),
        "Running": false,
        "ExitCode": 0,
        "Pid": 0,
    });
    save(&store, &rec)?;
    Ok(Reply::Json(201, json!({"Id": exec_id})))
}

/// `GET /exec/{id}/json`.
pub fn inspect(ctx: &Ctx, exec_id: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let r = load(&store, exec_id)?;
    let cmd = strings(&r["Cmd"]);
    Ok(Reply::Json(
        200,
        json!({
            "ID": r["ID"],
            "ContainerID": r["ContainerID"],
            "Running": r["Running"],
            "ExitCode": r["ExitCode"],
            "Pid": r["Pid"],
            "OpenStdin": r["AttachStdin"],
            "OpenStdout": r["AttachStdout"],
            "OpenStderr": r["AttachStderr"],
            "CanRemove": false,
            "DetachKeys": r["DetachKeys"],
            "ProcessConfig": {
                "entrypoint": cmd.first().cloned().unwrap_or_default(),
                "arguments": cmd.iter().skip(1).collect::<Vec<_>>(),
                "privileged": r["Privileged"],
                "tty": r["Tty"],
                "user": r["User"],
            },
        }),
    ))
}

fn options(r: &Value, detach: bool) -> ExecOptions {
    let opt = |k: &str| r[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    ExecOptions {
        args: strings(&r["Cmd"]),
        env: strings(&r["Env"]),
        user: opt("User"),
        workdir: opt("WorkingDir"),
        tty: r["Tty"].as_bool().unwrap_or(false),
        interactive: false,
        detach,
        privileged: r["Privileged"].as_bool().unwrap_or(false),
        preserve_fds: Vec::new(),
        detach_keys: Vec::new(),
        // the API keeps its own exec records (api/exec.rs)
        no_session: true,
    }
}

/// `POST /exec/{id}/start` with `{"Detach": bool}`: detached, the process
/// is started and 200 answers; else the connection is taken over and the
/// output relayed until the process ends. Stdin is not relayed.
pub fn start(ctx: &Ctx, conn: &mut Conn, req: &Request, exec_id: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let mut rec = load(&store, exec_id)?;
    let body: Value = match req.body.is_empty() {
        true => json!({}),
        false => serde_json::from_slice(&req.body)
            .map_err(|e| api_error(400, format!("decode(): {e}")))?,
    };
    if rec["Running"] == json!(true) || rec["Pid"].as_i64().unwrap_or(0) != 0 {
        return Err(api_error(
            409,
            format!("exec session {exec_id} has already been started: exec session state improper"),
        ));
    }
    let id = rec["ContainerID"].as_str().unwrap_or_default().to_string();
    if !crate::engine::containers::is_running_now(&store, &id) {
        return Err(api_error(
            409,
            format!("container {id} is not running: container state improper"),
        ));
    }
    if rec["AttachStdin"] == json!(true) && body["Detach"] != json!(true) {
        return Err(api_error(
            400,
            "attaching stdin is not supported by coracle's API service",
        ));
    }
    if body["Detach"] == json!(true) {
        crate::engine::containers::exec(&store, &id, &options(&rec, true))?;
        rec["Pid"] = json!(-1);
        save(&store, &rec)?;
        return Ok(Reply::Json(200, json!({})));
    }
    let tty = rec["Tty"].as_bool().unwrap_or(false);
    let (out_r, out_w) = nix::unistd::pipe()?;
    let (err_r, err_w) = nix::unistd::pipe()?;
    let opts = options(&rec, false);
    // SAFETY: a connection's process is single threaded; the child only
    // rewires its stdio and runs the engine's exec as a CLI `exec` would.
    let child = match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            drop(out_r);
            drop(err_r);
            let _ = nix::unistd::dup2_stdout(&out_w);
            let _ = nix::unistd::dup2_stderr(&err_w);
            if let Ok(null) = std::fs::File::open("/dev/null") {
                let _ = nix::unistd::dup2_stdin(null);
            }
            drop(out_w);
            drop(err_w);
            let code = match crate::engine::containers::exec(&store, &id, &opts) {
                Ok(outcome) => outcome.code,
                Err(e) => {
                    crate::log::error_line(&format!("{e:#}"));
                    crate::error::exit_code_of(&e)
                }
            };
            std::process::exit(code);
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(out_w);
    drop(err_w);
    rec["Running"] = json!(true);
    rec["Pid"] = json!(child.as_raw());
    save(&store, &rec)?;
    conn.hijack(req, &common_headers(ctx), tty)?;
    let relayed = relay(conn, out_r, err_r, tty);
    let code = match nix::sys::wait::waitpid(child, None) {
        Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
        Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
        _ => -1,
    };
    rec["Running"] = json!(false);
    rec["ExitCode"] = json!(code);
    save(&store, &rec)?;
    relayed?;
    Ok(Reply::Streamed)
}

/// Copy the process's stdout and stderr to the connection until both end.
fn relay(
    conn: &mut Conn,
    out: std::os::fd::OwnedFd,
    err: std::os::fd::OwnedFd,
    tty: bool,
) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut open = [Some(out), Some(err)];
    let mut buf = [0u8; 32768];
    while open.iter().any(Option::is_some) {
        let ready: Vec<usize> = {
            let idx: Vec<usize> = (0..2).filter(|i| open[*i].is_some()).collect();
            let mut pfds: Vec<PollFd> = idx
                .iter()
                .filter_map(|i| open[*i].as_ref())
                .map(|f| PollFd::new(f.as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut pfds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            idx.iter()
                .zip(pfds.iter())
                .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()))
                .map(|(i, _)| *i)
                .collect()
        };
        for i in ready {
            let n = match &open[i] {
                Some(f) => nix::unistd::read(f, &mut buf).unwrap_or(0),
                None => 0,
            };
            if n == 0 {
                open[i] = None;
                continue;
            }
            let data = match tty {
                true => buf[..n].to_vec(),
                false => frame(i as u8 + 1, &buf[..n]),
            };
            conn.write_all(&data)?;
        }
    }
    Ok(())
}
