//! Exec sessions are the engine's (`exec -d`'s, inspect's ExecIDs,
//! `container cleanup --exec`'s): `POST /containers/{id}/exec` makes one
//! ahead of its start with what to run, `POST /exec/{id}/start` runs it
//! through the engine's exec with its output framed on the taken-over
//! connection, and `GET /exec/{id}/json` reports it, the exit code once it
//! ended. It stays until `container cleanup --exec ID --rm` or the
//! container's cleanup.

use super::http::{frame, Conn, Request};
use super::reply::{api_error, common_headers, Reply};
use super::Ctx;
use crate::engine::container_mount::{self as sessions, ExecSessionReport};
use crate::engine::types::{ExecOptions, ExecRequest, Store};
use anyhow::Result;
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// The session `exec_id` names, or podman's 404.
fn load(store: &Store, exec_id: &str) -> Result<ExecSessionReport> {
    sessions::exec_session(store, exec_id).ok_or_else(|| {
        api_error(
            404,
            format!("no exec session with ID {exec_id} found: no such exec session"),
        )
    })
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
    let request = ExecRequest {
        env: strings(&body["Env"]),
        user: body["User"].as_str().unwrap_or_default().to_string(),
        workdir: body["WorkingDir"].as_str().unwrap_or_default().to_string(),
        tty: body["Tty"].as_bool().unwrap_or(false),
        privileged: body["Privileged"].as_bool().unwrap_or(false),
        attach_stdin: body["AttachStdin"].as_bool().unwrap_or(false),
        attach_stdout: body["AttachStdout"].as_bool().unwrap_or(false),
        attach_stderr: body["AttachStderr"].as_bool().unwrap_or(false),
        detach_keys: body["DetachKeys"].as_str().unwrap_or_default().to_string(),
        tty_path: None,
    };
    let exec_id = sessions::create_exec_session(&store, &id, cmd, request)?;
    Ok(Reply::Json(201, json!({"Id": exec_id})))
}

/// `GET /exec/{id}/json`.
pub fn inspect(ctx: &Ctx, exec_id: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let r = load(&store, exec_id)?;
    let s = &r.session;
    let req = s.request.clone().unwrap_or_default();
    Ok(Reply::Json(
        200,
        json!({
            "ID": s.id,
            "ContainerID": r.container,
            "Running": r.running,
            "ExitCode": r.exit_code.unwrap_or(0),
            "Pid": s.pid,
            "OpenStdin": req.attach_stdin,
            "OpenStdout": req.attach_stdout,
            "OpenStderr": req.attach_stderr,
            "CanRemove": false,
            "DetachKeys": req.detach_keys,
            "ProcessConfig": {
                "entrypoint": s.command.first().cloned().unwrap_or_default(),
                "arguments": s.command.iter().skip(1).collect::<Vec<_>>(),
                "privileged": req.privileged,
                "tty": req.tty,
                "user": req.user,
            },
        }),
    ))
}

fn options(command: &[String], req: &ExecRequest, detach: bool, stdin: bool) -> ExecOptions {
    let opt = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
    ExecOptions {
        args: command.to_vec(),
        env: req.env.clone(),
        user: opt(&req.user),
        workdir: opt(&req.workdir),
        tty: req.tty,
        interactive: stdin,
        detach,
        privileged: req.privileged,
        preserve_fds: Vec::new(),
        detach_keys: Vec::new(),
        // the session is the one made by create
        no_session: false,
    }
}

/// The exec's standard streams on the API's side: a terminal's master
/// (its slave is the engine exec's stdio, so the engine's own terminal
/// relay runs as under a CLI `exec -t`), or pipes.
enum Streams {
    Terminal {
        master: OwnedFd,
    },
    Pipes {
        stdin: Option<OwnedFd>,
        out: OwnedFd,
        err: OwnedFd,
    },
}

/// Set the window size of the terminal at `path` (a pty slave): its
/// foreground process (the engine's exec) gets SIGWINCH and passes it on.
pub fn set_winsize(fd: std::os::fd::RawFd, rows: u16, cols: u16) {
    // SAFETY: an ioctl with a properly sized winsize on an open descriptor.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        ws.ws_row = rows;
        ws.ws_col = cols;
        libc::ioctl(fd, libc::TIOCSWINSZ, &ws);
    }
}

/// `h` and `w` of a resize request.
pub fn size_of(req: &Request) -> Result<(u16, u16)> {
    let dim = |k: &str| -> Result<u16> {
        let v = req.q_int(k)?.unwrap_or(0);
        u16::try_from(v).map_err(|_| api_error(400, format!("{k}={v}: out of range")))
    };
    Ok((dim("h")?, dim("w")?))
}

/// `POST /exec/{id}/resize?h=&w=`: the session's terminal gets that size.
pub fn resize(ctx: &Ctx, req: &Request, exec_id: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let rec = load(&store, exec_id)?;
    let (rows, cols) = size_of(req)?;
    let Some(path) = rec
        .session
        .request
        .as_ref()
        .and_then(|r| r.tty_path.as_deref())
        .filter(|p| p.starts_with("/dev/pts/"))
    else {
        return Err(api_error(
            409,
            format!("exec session {exec_id} has no terminal: exec session state improper"),
        ));
    };
    if !rec.running {
        return Err(api_error(
            409,
            format!("exec session {exec_id} is not running: exec session state improper"),
        ));
    }
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
        .map_err(|e| api_error(409, format!("exec session {exec_id}: {path}: {e}")))?;
    set_winsize(tty.as_raw_fd(), rows, cols);
    Ok(Reply::Json(201, json!({})))
}

/// `POST /exec/{id}/start` with `{"Detach": bool, "Tty": bool}`: detached,
/// the process is started and 200 answers; else the connection is taken
/// over, the output relayed until the process ends and, with
/// `AttachStdin`, the client's bytes passed to its stdin (the client's
/// half-close ends that stdin).
pub fn start(ctx: &Ctx, conn: &mut Conn, req: &Request, exec_id: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let rec = load(&store, exec_id)?;
    let body: Value = match req.body.is_empty() {
        true => json!({}),
        false => serde_json::from_slice(&req.body)
            .map_err(|e| api_error(400, format!("decode(): {e}")))?,
    };
    if rec.session.pid != 0 || rec.exit_code.is_some() {
        return Err(api_error(
            409,
            format!("exec session {exec_id} has already been started: exec session state improper"),
        ));
    }
    let id = rec.container.clone();
    if !crate::engine::containers::is_running_now(&store, &id) {
        return Err(api_error(
            409,
            format!("container {id} is not running: container state improper"),
        ));
    }
    let request = rec.session.request.clone().unwrap_or_default();
    let command = &rec.session.command;
    if body["Detach"] == json!(true) {
        let opts = options(command, &request, true, false);
        if let Err(e) = crate::engine::containers::exec_in_session(&store, &id, &opts, exec_id) {
            let _ =
                sessions::exec_session_failed(&store, &id, exec_id, crate::error::exit_code_of(&e));
            return Err(e);
        }
        return Ok(Reply::Json(200, json!({})));
    }
    let tty = request.tty;
    let stdin = request.attach_stdin;
    let opts = options(command, &request, false, stdin);
    // The child's stdio (0, 1, 2) and our ends.
    let (streams, theirs): (Streams, [OwnedFd; 3]) = match tty {
        true => {
            let pty = nix::pty::openpty(None, None)?;
            let path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd()))?;
            sessions::note_exec_terminal(&store, &id, exec_id, &path.to_string_lossy())?;
            if let Some([h, w]) = body["ConsoleSize"].as_array().and_then(|a| {
                let v: Vec<u16> = a
                    .iter()
                    .filter_map(|x| x.as_u64())
                    .map(|x| x as u16)
                    .collect();
                <[u16; 2]>::try_from(v).ok()
            }) {
                set_winsize(pty.slave.as_raw_fd(), h, w);
            }
            let (a, b) = (pty.slave.try_clone()?, pty.slave.try_clone()?);
            (Streams::Terminal { master: pty.master }, [pty.slave, a, b])
        }
        false => {
            let (in_r, in_w) = match stdin {
                true => {
                    let (r, w) = nix::unistd::pipe()?;
                    (r, Some(w))
                }
                false => (std::fs::File::open("/dev/null")?.into(), None),
            };
            let (out_r, out_w) = nix::unistd::pipe()?;
            let (err_r, err_w) = nix::unistd::pipe()?;
            let ours = Streams::Pipes {
                stdin: in_w,
                out: out_r,
                err: err_r,
            };
            (ours, [in_r, out_w, err_w])
        }
    };
    // SAFETY: a connection's process is single threaded; the child only
    // rewires its stdio and runs the engine's exec as a CLI `exec` would.
    let child = match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            drop(streams);
            if tty {
                // Its own session with the terminal as the controlling
                // one: a window size set there reaches it as SIGWINCH.
                let _ = nix::unistd::setsid();
                // SAFETY: TIOCSCTTY on the open slave.
                unsafe { libc::ioctl(theirs[0].as_raw_fd(), libc::TIOCSCTTY, 0) };
            }
            let [i, o, e] = theirs;
            let _ = nix::unistd::dup2_stdin(&i);
            let _ = nix::unistd::dup2_stdout(&o);
            let _ = nix::unistd::dup2_stderr(&e);
            drop((i, o, e));
            let code = match crate::engine::containers::exec_in_session(&store, &id, &opts, exec_id)
            {
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
    drop(theirs);
    conn.hijack(req, &common_headers(ctx), tty)?;
    let relayed = relay(conn, streams);
    let code = match nix::sys::wait::waitpid(child, None) {
        Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
        Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
        _ => -1,
    };
    // A program that ran wrote its own exit code; one that never did ends
    // with the engine's.
    sessions::exec_session_failed(&store, &id, exec_id, code)?;
    relayed?;
    Ok(Reply::Streamed)
}

/// Copy the process's output to the connection until it ends (framed
/// unless it is a terminal's), and the client's input to its stdin.
fn relay(conn: &mut Conn, streams: Streams) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::{AsFd, BorrowedFd};
    // Slots: 0 the client's input, 1 stdout (or the terminal), 2 stderr.
    let (mut input, mut outputs, terminal): (Option<OwnedFd>, [Option<OwnedFd>; 2], bool) =
        match streams {
            Streams::Terminal { master } => {
                let input = master.try_clone()?;
                (Some(input), [Some(master), None], true)
            }
            Streams::Pipes { stdin, out, err } => (stdin, [Some(out), Some(err)], false),
        };
    let mut buf = vec![0u8; 32768];
    while outputs.iter().any(Option::is_some) {
        // What came with the request's head is not seen by poll.
        if input.is_some() && conn.has_pending() {
            pass_input(conn, &mut input, &mut buf)?;
        }
        // SAFETY: the connection's socket outlives this poll.
        let conn_fd = unsafe { BorrowedFd::borrow_raw(conn.raw_fd()) };
        let mut slots = Vec::new();
        let mut pfds = Vec::new();
        if input.is_some() {
            slots.push(0);
            pfds.push(PollFd::new(conn_fd, PollFlags::POLLIN));
        }
        for (i, f) in outputs.iter().enumerate() {
            if let Some(f) = f {
                slots.push(i + 1);
                pfds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut pfds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let ready: Vec<usize> = slots
            .iter()
            .zip(pfds.iter())
            .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|(i, _)| *i)
            .collect();
        for slot in ready {
            if slot == 0 {
                pass_input(conn, &mut input, &mut buf)?;
                continue;
            }
            let i = slot - 1;
            // A terminal's master reads EIO once its last slave closed.
            let n = match &outputs[i] {
                Some(f) => nix::unistd::read(f, &mut buf).unwrap_or(0),
                None => 0,
            };
            if n == 0 {
                outputs[i] = None;
                if terminal {
                    input = None;
                }
                continue;
            }
            let data = match terminal {
                true => buf[..n].to_vec(),
                false => frame(i as u8 + 1, &buf[..n]),
            };
            conn.write_all(&data)?;
        }
    }
    Ok(())
}

/// Move what the client sent to the process's stdin; its end (or a
/// terminal's client leaving) closes our side.
fn pass_input(conn: &mut Conn, input: &mut Option<OwnedFd>, buf: &mut [u8]) -> Result<()> {
    let n = conn.read_input(buf)?;
    if n == 0 {
        // Through pipes, closing the write end is the program's EOF; a
        // terminal has none (but ^D): the program reads on.
        *input = None;
        return Ok(());
    }
    if let Some(fd) = input {
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            match nix::unistd::write(&*fd, rest) {
                Ok(w) => rest = &rest[w..],
                Err(nix::errno::Errno::EINTR) => {}
                // The program closed its stdin: the rest is dropped.
                Err(_) => {
                    *input = None;
                    break;
                }
            }
        }
    }
    Ok(())
}
