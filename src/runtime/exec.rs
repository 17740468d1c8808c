//! `exec`: a new process in a running container. It joins the container's
//! namespaces through its first process (setns on /proc/PID/ns/*), with
//! the container's capabilities, seccomp filter and limits.

use super::logfile::LogWriter;
use super::process::{self, Stdio};
use super::relay::Wiring;
use super::state::{current_state, is_running};
use super::sys;
use crate::error::CodedError;
use crate::storage::exec_sessions;
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{Capabilities, Process, Spec, UserBuilder};
use std::os::fd::{AsFd, AsRawFd};

pub struct ExecOptions {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    pub privileged: bool,
    /// `--preserve-fds`/`--preserve-fd`: the caller's descriptors passed on.
    pub preserve_fds: Vec<i32>,
    /// `--detach-keys`, parsed (none: never). With `-t` and our stdin a
    /// terminal, typing them leaves the program running and returns 0.
    pub detach_keys: Vec<u8>,
    /// `--no-session`: no exec session is recorded.
    pub no_session: bool,
}

/// How an exec ended: the program's code, and (with `-d`) the session
/// left running.
pub struct ExecOutcome {
    pub code: i32,
    pub session: Option<String>,
}

/// The exec'd process's spec: the container's, with this command.
fn exec_spec(store: &Store, id: &str, pid: i32, o: &ExecOptions) -> Result<Spec> {
    let mut spec = super::spec::load(&store.containers.dir(id).join("spec.json"))?;
    let mut p = spec.process().clone().unwrap_or_default();
    super::secrets::add_env(store, &store.containers.load_config(id)?, &mut p)?;
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(o.tty));
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    for e in &o.env {
        let key = e.split('=').next().unwrap_or_default();
        let value = match e.split_once('=') {
            Some(_) => e.clone(),
            None => match std::env::var(key) {
                Ok(v) => format!("{key}={v}"),
                Err(_) => continue,
            },
        };
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(value);
    }
    if let Some(w) = &o.workdir {
        p.set_cwd(w.into());
    }
    if let Some(u) = &o.user {
        let root = format!("/proc/{pid}/root");
        let passwd = std::fs::read_to_string(format!("{root}/etc/passwd")).unwrap_or_default();
        let group = std::fs::read_to_string(format!("{root}/etc/group")).unwrap_or_default();
        let r = super::user::resolve(u, &passwd, &group).map_err(|e| CodedError {
            code: 126,
            message: format!("{e:#}"),
        })?;
        let user = UserBuilder::default()
            .uid(r.uid)
            .gid(r.gid)
            .additional_gids(r.additional_gids)
            .build()?;
        p.set_user(user);
        env.retain(|x| !x.starts_with("HOME="));
        env.push(format!("HOME={}", r.home));
        let bounding = bounding(&p);
        p.set_capabilities(Some(super::spec::process_capabilities(
            &bounding,
            r.uid == 0,
        )?));
    }
    if o.privileged {
        let all: Vec<String> = super::caps::ALL.iter().map(|c| c.to_string()).collect();
        let mut caps = p.capabilities().clone().unwrap_or_default();
        caps.set_bounding(Some(super::spec::capabilities(&all)?));
        p.set_capabilities(Some(caps));
        if let Some(linux) = spec.linux_mut() {
            linux.set_seccomp(None);
        }
    }
    p.set_env(Some(env));
    spec.set_process(Some(p));
    Ok(spec)
}

/// The bounding set of a spec's process (empty when it has none).
fn bounding(p: &Process) -> Capabilities {
    p.capabilities()
        .as_ref()
        .and_then(|c| c.bounding().clone())
        .unwrap_or_default()
}

fn join_namespaces(pid: i32) -> Result<()> {
    // The user namespace first: it grants the rights to join the others.
    // Root's containers have one too with `--uidmap` (joining our own is
    // skipped below).
    let mut order: Vec<(&str, libc::c_int)> = vec![("user", libc::CLONE_NEWUSER)];
    order.extend([
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("cgroup", libc::CLONE_NEWCGROUP),
        ("pid", libc::CLONE_NEWPID),
        ("mnt", libc::CLONE_NEWNS),
    ]);
    // Open them all before joining any: after the mount namespace our view
    // of /proc changes.
    let mut fds = Vec::new();
    for (name, flag) in &order {
        let path = format!("/proc/{pid}/ns/{name}");
        let fd = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        fds.push((fd, *flag, *name));
    }
    for (fd, flag, name) in &fds {
        use std::os::fd::AsRawFd;
        // Already a member (e.g. --network host): joining again fails.
        let own = std::fs::read_link(format!("/proc/self/ns/{name}")).ok();
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).ok();
        if own.is_some() && own == theirs {
            continue;
        }
        // SAFETY: setns on an fd we own.
        if unsafe { libc::setns(fd.as_raw_fd(), *flag) } != 0 {
            bail!("joining the container's {name} namespace: {}", sys::errno());
        }
    }
    Ok(())
}

/// Run a command in the container; returns its exit code (0 with
/// --detach) and, detached, its session's id.
pub fn exec(store: &Store, id: &str, o: &ExecOptions) -> Result<ExecOutcome> {
    exec_under(store, id, o, None)
}

/// [`exec`] under a session made ahead of it (`exec_sessions::create`,
/// the API's exec create), which stays when the program ends.
pub fn exec_in_session(
    store: &Store,
    id: &str,
    o: &ExecOptions,
    session: &str,
) -> Result<ExecOutcome> {
    exec_under(store, id, o, Some(session))
}

fn exec_under(store: &Store, id: &str, o: &ExecOptions, made: Option<&str>) -> Result<ExecOutcome> {
    super::sealed_exe::require()?;
    let state = current_state(store, id)?;
    if !is_running(&state) || state.status == crate::storage::containers::Status::Paused {
        bail!("can only create exec sessions on running containers: container state improper");
    }
    let pid = state.pid;
    let cgroup = super::cgroup::Cgroup::open(&state.cgroup_path);
    let spec = exec_spec(store, id, pid, o)?;
    let cfg = store.containers.load_config(id)?;
    // Keys are typed: piped input is passed on whole.
    if o.tty && !o.detach && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        super::foreground_detach::arm_exec(o.detach_keys.clone());
    }
    if cfg.oci_runtime.is_some() {
        if !o.preserve_fds.is_empty() {
            bail!("--preserve-fds/--preserve-fd need coracle's own runtime, not --runtime");
        }
        let process = spec.process().clone().unwrap_or_default();
        // (the OCI runtime's exec keeps no session of coracle's)
        let code =
            super::oci_runtime::exec(store, &cfg, pid, &process, o.tty, o.interactive, o.detach)?;
        return Ok(ExecOutcome {
            code,
            session: None,
        });
    }
    let (report_r, report_w) = sys::owned_pipe()?;
    let (sock_ours, sock_theirs) = match o.tty {
        true => {
            let (a, b) = sys::owned_socketpair()?;
            (Some(a), Some(b))
        }
        false => (None, None),
    };
    let sfd = sys::child_signalfd(&[])?;
    // The session: its exit file opened here, so the waiting process can
    // write it from inside the container's namespaces.
    let session = match (made, o.no_session) {
        (Some(sid), _) => Some(exec_sessions::resume(store, id, sid)?),
        (None, true) => None,
        (None, false) => Some(exec_sessions::begin(store, id)?),
    };
    // A session begun here ends with an attached exec; a made one is its
    // maker's to remove.
    let own_session = made.is_none();
    let exit_fd = session
        .as_ref()
        .map(|(_, _, f)| f.as_raw_fd())
        .unwrap_or(-1);
    // SAFETY: the CLI is single-threaded here; the child runs plain code.
    let child = unsafe { libc::fork() };
    if child < 0 {
        let err = sys::errno();
        if let Some((sid, _, _)) = session.as_ref().filter(|_| own_session) {
            let _ = exec_sessions::remove(store, id, sid);
        }
        bail!("fork: {err}");
    }
    if child == 0 {
        drop(report_r);
        drop(sock_ours);
        let report_fd = report_w.as_raw_fd();
        let result = (|| -> Result<std::convert::Infallible> {
            if o.detach {
                // The process waiting for the program must not hold the
                // caller's pipes open either.
                sys::detach_from_caller();
            }
            // Under the container's limits, and counted in its stats.
            if let Some(cg) = &cgroup {
                cg.join_self()?;
            }
            // Before it is seen in the container's pid namespace: nothing
            // there may open this process's /proc/PID/{exe,mem} while it
            // runs coracle's code (the program's exec resets this).
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) } != 0 {
                bail!("making the exec helper non-dumpable: {}", sys::errno());
            }
            join_namespaces(pid)?;
            // The pid namespace applies to our children: fork once more.
            // SAFETY: single-threaded.
            let inner = unsafe { libc::fork() };
            if inner < 0 {
                bail!("fork: {}", sys::errno());
            }
            if inner > 0 {
                // SAFETY: the report pipe is ours; this process only waits
                // from here on and leaves with _exit.
                unsafe { libc::close(report_fd) };
                let mut status = 0;
                // SAFETY: reap our child, record and mirror how it ended
                // (the exit file is ours, opened before the fork).
                unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                    while libc::waitpid(inner, &mut status, 0) < 0 {}
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        128 + libc::WTERMSIG(status)
                    };
                    if exit_fd >= 0 {
                        let text = format!("{code}\n");
                        libc::write(exit_fd, text.as_ptr().cast(), text.len());
                    }
                    libc::_exit(code);
                }
            }
            sys::unblock_all_signals();
            // The caller's descriptors stay ours unless passed on (the
            // program never gets the session's exit file).
            if exit_fd >= 0 {
                // SAFETY: closing a descriptor of this process only.
                unsafe { libc::close(exit_fd) };
            }
            let mut keep = o.preserve_fds.clone();
            keep.push(report_fd);
            keep.extend(sock_theirs.as_ref().map(|s| s.as_raw_fd()));
            sys::close_fds_except(&keep);
            let stdio = match sock_theirs {
                Some(socket) => Stdio::Pty { socket },
                None => {
                    if !o.interactive || o.detach {
                        // stdin (and for -d all of stdio) from /dev/null.
                        let null = sys::dev_null()?;
                        let targets: &[i32] = if o.detach { &[0, 1, 2] } else { &[0] };
                        for &fd in targets {
                            sys::dup_onto(null.as_fd(), fd)
                                .map_err(|e| anyhow!("wiring /dev/null onto fd {fd}: {e}"))?;
                        }
                        sys::close_unless_stdio(null);
                    }
                    Stdio::Inherited
                }
            };
            process::start_program(&spec, stdio, None)
        })();
        match result {
            Err(e) => process::fail(report_fd, &e),
            Ok(never) => match never {},
        }
    }
    drop(report_w);
    drop(sock_theirs);
    let session = match session {
        Some((sid, dir, exit_file)) => {
            drop(exit_file);
            // A made session keeps what it was made with.
            let request = exec_sessions::load(store, id, &sid).and_then(|s| s.request);
            let record = exec_sessions::ExecSession {
                id: sid.clone(),
                command: o.args.clone(),
                pid: child,
                start_time: sys::process_start_time(child).unwrap_or(0),
                container_pid: pid,
                detached: o.detach,
                exit_code: None,
                request,
            };
            if let Err(e) = exec_sessions::save(&dir, &record) {
                crate::warn!("recording exec session {sid}: {e:#}");
            }
            Some(sid)
        }
        None => None,
    };
    // An attached session ends with the exec (podman removes it too).
    let forget = || {
        if let Some(sid) = session.as_ref().filter(|_| own_session) {
            let _ = exec_sessions::remove(store, id, sid);
        }
    };
    // A child that failed has reported and ended: reap it.
    let reap = || {
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
        forget();
    };
    let wiring = match sock_ours {
        Some(socket) => match process::recv_fd(socket.as_fd()) {
            Ok(master) => Some(Wiring::Pty { master }),
            Err(e) => {
                drop(socket);
                let failure = super::report::await_exec(report_r.as_fd());
                reap();
                return Err(failure.err().unwrap_or(e));
            }
        },
        None => None,
    };
    if let Err(e) = super::report::await_exec(report_r.as_fd()) {
        reap();
        return Err(e);
    }
    drop(report_r);
    if o.detach {
        return Ok(ExecOutcome { code: 0, session });
    }
    let code = match wiring {
        Some(w) => {
            let _raw = super::attach::RawTerminal::enable();
            super::relay::relay(
                child,
                w,
                &mut LogWriter::none(),
                true,
                &sfd,
                &mut super::relay::NoSidecar,
                None,
            )
        }
        None => {
            let mut status = 0;
            // SAFETY: reap our child.
            unsafe { libc::waitpid(child, &mut status, 0) };
            Ok(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            })
        }
    };
    forget();
    Ok(ExecOutcome {
        code: code?,
        session: None,
    })
}
