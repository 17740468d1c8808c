//! `--runtime`: an external OCI runtime (crun, runc, youki...) creates and
//! starts the container from a bundle coracle writes (the rootfs mounted,
//! and `config.json`: the same spec the built-in runtime reads, so the
//! same capabilities, seccomp profile, masked and read-only paths,
//! no_new_privs and namespaces). The monitor stays the container's parent:
//! it is a subreaper while the runtime's `create` runs, so the container's
//! first process is handed to it when the runtime exits, and it owns the
//! logs, the exit code, healthchecks, restarts and `--rm` as ever.
//!
//! Rootless, the runtime runs as root of the container's own user
//! namespace (made and mapped by coracle, as for the built-in runtime,
//! with the rootfs mounted in a mount namespace it owns), as podman runs
//! crun: an unprivileged runtime could not mount the overlay itself, and
//! the container keeps the id maps coracle gives every container. Later
//! calls (`start`, `kill`, `exec`) enter that user namespace too.

use super::relay::Wiring;
use super::rootfs::RootfsPlan;
use super::sys;
use crate::storage::containers::{ContainerConfig, OciRuntimeRecord};
use crate::storage::modes::{NamespaceMode, NetworkMode};
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What coracle does not hand to an external runtime: refused at create.
pub fn check(cfg: &ContainerConfig) -> Result<()> {
    let Some(rt) = &cfg.oci_runtime else {
        return Ok(());
    };
    let joins = |m: &NamespaceMode| matches!(m, NamespaceMode::Container(_) | NamespaceMode::Ns(_));
    let what = if cfg.init {
        Some("--init")
    } else if !cfg.pod.is_empty() {
        Some("--pod")
    } else if matches!(cfg.network, NetworkMode::Container(_) | NetworkMode::Ns(_))
        || joins(&cfg.ipc)
        || joins(&cfg.pid)
        || joins(&cfg.uts)
    {
        Some("joining another container's or a path's namespaces")
    } else if super::userns::is_rootless()
        && matches!(&cfg.network, NetworkMode::Bridge(n) if !n.is_empty())
    {
        Some("a rootless container on named networks")
    } else {
        None
    };
    match what {
        Some(w) => bail!(
            "{w} is not supported with --runtime {}: use coracle's built-in runtime",
            rt.name
        ),
        None => Ok(()),
    }
}

/// The runtime's state directory: per user, under coracle's runroot.
fn state_root(store: &Store, rt: &OciRuntimeRecord) -> PathBuf {
    store.runroot.join("oci-runtime").join(&rt.name)
}

/// Where the bundle of container `id` is made.
fn bundle_dir(store: &Store, id: &str) -> PathBuf {
    store.containers.run_dir(id).join("bundle")
}

/// `RUNTIME --root DIR [flags]`, entering the user namespace of `pid` first
/// when rootless (the runtime made the container as its root).
fn command(store: &Store, rt: &OciRuntimeRecord, userns_of: Option<i32>) -> Result<Command> {
    let mut c = Command::new(&rt.path);
    c.arg("--root").arg(state_root(store, rt));
    c.args(&rt.flags);
    if let Some(pid) = userns_of.filter(|_| store.rootless) {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .with_context(|| format!("opening the user namespace of process {pid}"))?;
        // SAFETY: setns between fork and exec, in the single-threaded
        // child; the closure owns the descriptor, so it stays open as long
        // as the command (and closes on exec).
        unsafe {
            c.pre_exec(move || {
                if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWUSER) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    Ok(c)
}

/// Run a runtime command to its end; its stderr is the error.
fn run_quiet(mut c: Command, what: &str) -> Result<()> {
    let out = c
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        return Err(failure(what, &out.stderr));
    }
    Ok(())
}

/// A runtime's failure with podman's exit code: 127 when the program is
/// not there, 126 when it cannot be run, else 125.
fn failure(what: &str, said: &[u8]) -> anyhow::Error {
    let message = format!("{what}: {}", last_words(said));
    let lower = message.to_ascii_lowercase();
    let about_exec = lower.contains("executable") || lower.contains("exec:");
    let code = if about_exec && (lower.contains("not found") || lower.contains("no such file")) {
        127
    } else if about_exec
        && (lower.contains("permission denied") || lower.contains("operation not permitted"))
    {
        126
    } else {
        return anyhow!(message);
    };
    crate::error::CodedError { code, message }.into()
}

fn last_words(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        "failed".to_string()
    } else {
        text.lines().collect::<Vec<_>>().join("; ")
    }
}

/// The spec as the runtime gets it: its root in the bundle, no hooks (the
/// monitor runs them, as for its own runtime), the cgroup coracle made;
/// rootless, no user namespace of its own (it runs inside the one coracle
/// made and mapped).
fn bundle_spec(spec: &Spec, rootfs: &Path, cgroup: Option<&str>, rootless: bool) -> Result<Spec> {
    let mut s = spec.clone();
    let mut root = s.root().clone().context("spec has no root")?;
    root.set_path(rootfs.to_path_buf());
    s.set_root(Some(root));
    s.set_hooks(None);
    if let Some(linux) = s.linux_mut() {
        if rootless {
            let ns = linux.namespaces().clone().unwrap_or_default();
            linux.set_namespaces(Some(
                ns.into_iter()
                    .filter(|n| n.typ() != LinuxNamespaceType::User)
                    .collect(),
            ));
            linux.set_uid_mappings(None);
            linux.set_gid_mappings(None);
        }
        if let Some(rel) = cgroup {
            linux.set_cgroups_path(Some(PathBuf::from(format!(
                "/{}",
                rel.trim_start_matches('/')
            ))));
        }
    }
    Ok(s)
}

/// `init` of a container this runtime runs: its bundle's `config.json`
/// as the runtime will get it, to be read before anything runs (the
/// start writes it again, with the cgroup it places the container in).
pub fn write_bundle_config(store: &Store, cfg: &ContainerConfig, spec: &Spec) -> Result<PathBuf> {
    let bundle = bundle_dir(store, &cfg.id);
    std::fs::create_dir_all(&bundle).with_context(|| format!("creating {}", bundle.display()))?;
    let path = bundle.join("config.json");
    let rootfs = bundle.join("rootfs");
    super::spec::save(&bundle_spec(spec, &rootfs, None, store.rootless)?, &path)?;
    Ok(path)
}

/// A container the runtime has created (its process waits for `start`).
pub struct Created {
    pub pid: i32,
    pub wiring: Wiring,
}

/// The container's stdio as the runtime gets it, and the monitor's ends.
struct Stdio {
    /// stdin, stdout, stderr of the runtime (and of the container, without
    /// a terminal).
    child: [OwnedFd; 3],
    wiring: Option<Wiring>,
    /// Where the runtime's own complaints are read from when it fails.
    errors: OwnedFd,
    console: Option<(ConsoleDir, std::os::unix::net::UnixListener)>,
}

/// A private directory for the console socket: short enough for a socket
/// path wherever the runroot is, removed when dropped.
struct ConsoleDir(PathBuf);

impl ConsoleDir {
    fn new() -> Result<ConsoleDir> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!("coracle-console.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(ConsoleDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ConsoleDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stdio(tty: bool, attach_stdin: bool) -> Result<Stdio> {
    if tty {
        let dir = ConsoleDir::new()?;
        let listener = std::os::unix::net::UnixListener::bind(dir.path().join("s"))
            .context("making the console socket")?;
        let (err_r, err_w) = sys::owned_pipe()?;
        return Ok(Stdio {
            child: [sys::dev_null()?, sys::dev_null()?, err_w],
            wiring: None,
            errors: err_r,
            console: Some((dir, listener)),
        });
    }
    let (stdout_r, stdout_w) = sys::owned_pipe()?;
    let (stderr_r, stderr_w) = sys::owned_pipe()?;
    let (stdin_r, stdin_w) = if attach_stdin {
        let (r, w) = sys::owned_pipe()?;
        (r, Some(w))
    } else {
        (sys::dev_null()?, None)
    };
    // A failed create says why on the container's stderr: read it there.
    let errors = stderr_r.try_clone()?;
    Ok(Stdio {
        child: [stdin_r, stdout_w, stderr_w],
        wiring: Some(Wiring::Pipes {
            stdin_w,
            stdout_r,
            stderr_r,
        }),
        errors,
        console: None,
    })
}

fn read_available(fd: &OwnedFd) -> Vec<u8> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reading into a local buffer of its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 || out.len() > 64 * 1024 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

fn set_subreaper(on: bool) -> Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, on as libc::c_ulong, 0, 0, 0) } != 0 {
        bail!("becoming a subreaper: {}", sys::errno());
    }
    Ok(())
}

/// `RUNTIME create`: mounts the rootfs in a new mount namespace (and, rootless,
/// a user namespace the monitor maps), writes the bundle and has the
/// runtime create the container. Its process is the monitor's child when
/// this returns.
pub fn create(
    store: &Store,
    cfg: &ContainerConfig,
    spec: &Spec,
    plan: RootfsPlan,
    cgroup: Option<&str>,
    attach_stdin: bool,
) -> Result<Created> {
    let rt = cfg.oci_runtime.as_ref().context("no external runtime")?;
    // What a killed monitor left behind would make the id taken.
    delete(store, cfg);
    let bundle = bundle_dir(store, &cfg.id);
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(&rootfs).with_context(|| format!("creating {}", rootfs.display()))?;
    std::fs::create_dir_all(state_root(store, rt))?;
    let rootless = store.rootless;
    super::spec::save(
        &bundle_spec(spec, &rootfs, cgroup, rootless)?,
        &bundle.join("config.json"),
    )?;
    let pid_file = bundle.join("pid");
    let _ = std::fs::remove_file(&pid_file);
    let io = stdio(cfg.tty, attach_stdin)?;
    let mut c = command(store, rt, None)?;
    c.arg("create")
        .arg("--bundle")
        .arg(&bundle)
        .arg("--pid-file")
        .arg(&pid_file);
    if let Some((dir, _)) = &io.console {
        c.arg("--console-socket").arg(dir.path().join("s"));
    }
    c.arg(&cfg.id);
    let (ready_r, ready_w) = sys::owned_pipe()?;
    let (go_r, go_w) = sys::owned_pipe()?;
    set_subreaper(true)?;
    // SAFETY: the monitor is single-threaded; the child runs plain code
    // and leaves by exec or _exit.
    let child = unsafe { libc::fork() };
    if child < 0 {
        bail!("fork: {}", sys::errno());
    }
    if child == 0 {
        drop(ready_r);
        drop(go_w);
        let e = runtime_child(c, &io.child, &rootfs, &plan, rootless, ready_w, go_r);
        let msg = format!("{e:#}\n");
        let _ = sys::write_all(io.child[2].as_raw_fd(), msg.as_bytes());
        // SAFETY: leaving the forked child without running the parent's
        // destructors.
        unsafe { libc::_exit(125) };
    }
    drop(ready_w);
    drop(go_r);
    let Stdio {
        child: child_ends,
        wiring,
        errors,
        console,
    } = io;
    drop(child_ends);
    let mapped = if rootless {
        // The child has made its user namespace once it writes a byte.
        let got = sys::read_to_end(ready_r.as_raw_fd()).unwrap_or_default();
        if got.is_empty() {
            Err(anyhow!("the runtime's user namespace was not made"))
        } else {
            super::userns::write_id_maps(child, &super::spec::id_maps(spec))
        }
    } else {
        Ok(())
    };
    let mapped = mapped.map_err(|e| {
        // SAFETY: our own child, not reaped yet.
        unsafe { libc::kill(child, libc::SIGKILL) };
        let said = read_available(&errors);
        if said.is_empty() {
            e
        } else {
            e.context(last_words(&said))
        }
    });
    drop(go_w);
    let mut status = 0;
    // SAFETY: reaping our own child.
    while unsafe { libc::waitpid(child, &mut status, 0) } < 0
        && sys::errno().raw_os_error() == Some(libc::EINTR)
    {}
    let _ = set_subreaper(false);
    mapped?;
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(failure(
            &format!("{} create", rt.name),
            &read_available(&errors),
        ));
    }
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .with_context(|| format!("{} create wrote no pid file", rt.name))?;
    let wiring = match (wiring, console) {
        (Some(w), _) => w,
        (None, Some((_dir, listener))) => {
            let (stream, _) = listener.accept().context("the runtime's console socket")?;
            Wiring::Pty {
                master: super::process::recv_fd(stream.as_fd())?,
            }
        }
        (None, None) => unreachable!("a terminal has a console socket"),
    };
    Ok(Created { pid, wiring })
}

/// The forked child of `create`: namespaces, the rootfs, then exec the
/// runtime. Returns only on failure.
fn runtime_child(
    mut c: Command,
    stdio: &[OwnedFd; 3],
    rootfs: &Path,
    plan: &RootfsPlan,
    rootless: bool,
    ready_w: OwnedFd,
    go_r: OwnedFd,
) -> anyhow::Error {
    let result = (|| -> Result<()> {
        // The monitor's ignored and blocked signals are not the runtime's.
        // SAFETY: resetting dispositions and the mask of our own process.
        unsafe {
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
        }
        sys::unblock_all_signals();
        if rootless {
            // SAFETY: unshare in a single-threaded child.
            if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
                bail!("creating a user namespace: {}", sys::errno());
            }
            sys::write_all(ready_w.as_raw_fd(), b"1")?;
            drop(ready_w);
            // EOF: the maps are written.
            sys::read_to_end(go_r.as_raw_fd())?;
            drop(go_r);
        }
        // SAFETY: unshare in a single-threaded child.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            bail!("creating a mount namespace: {}", sys::errno());
        }
        super::rootfs::mount_for_runtime(rootfs, plan)?;
        for (fd, target) in stdio.iter().zip(0..) {
            sys::dup_onto(fd.as_fd(), target)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        return e;
    }
    let program = c.get_program().to_owned();
    anyhow!("running {program:?}: {}", c.exec())
}

/// `RUNTIME start`: the program runs.
pub fn start(store: &Store, cfg: &ContainerConfig, pid: i32) -> Result<()> {
    let rt = cfg.oci_runtime.as_ref().context("no external runtime")?;
    let mut c = command(store, rt, Some(pid))?;
    c.arg("start").arg(&cfg.id);
    run_quiet(c, &format!("{} start", rt.name))
}

/// `RUNTIME kill`: a signal to the container's first process.
pub fn kill(store: &Store, cfg: &ContainerConfig, pid: i32, sig: i32) -> Result<()> {
    let rt = cfg.oci_runtime.as_ref().context("no external runtime")?;
    let mut c = command(store, rt, Some(pid))?;
    c.arg("kill").arg(&cfg.id).arg(sig.to_string());
    run_quiet(c, &format!("{} kill", rt.name))
}

/// `RUNTIME pause` (`frozen`) or `RUNTIME resume`.
pub fn pause(store: &Store, cfg: &ContainerConfig, pid: i32, frozen: bool) -> Result<()> {
    let rt = cfg.oci_runtime.as_ref().context("no external runtime")?;
    let verb = if frozen { "pause" } else { "resume" };
    let mut c = command(store, rt, Some(pid))?;
    c.arg(verb).arg(&cfg.id);
    run_quiet(c, &format!("{} {verb}", rt.name))
}

/// `RUNTIME delete --force`, once the program has ended (or before a
/// create, for what a killed monitor left). Nothing to report: there may
/// be nothing to delete.
pub fn delete(store: &Store, cfg: &ContainerConfig) {
    let Some(rt) = &cfg.oci_runtime else {
        return;
    };
    let state = state_root(store, rt).join(&cfg.id);
    if !state.exists() {
        return;
    }
    if let Ok(mut c) = command(store, rt, None) {
        c.args(["delete", "--force"]).arg(&cfg.id);
        if let Err(e) = run_quiet(c, &format!("{} delete", rt.name)) {
            crate::debug!("{e:#}");
        }
    }
    // A runtime that could not clean its state (rootless, once the
    // container's user namespace is gone) leaves files we own.
    let _ = std::fs::remove_dir_all(&state);
}

/// `RUNTIME exec`: `process` in the running container `cfg`; returns its
/// exit code (0 with `detach`).
pub fn exec(
    store: &Store,
    cfg: &ContainerConfig,
    pid: i32,
    process: &Process,
    tty: bool,
    interactive: bool,
    detach: bool,
) -> Result<i32> {
    let rt = cfg.oci_runtime.as_ref().context("no external runtime")?;
    let file = store
        .containers
        .run_dir(&cfg.id)
        .join(format!("exec-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(process)?)
        .with_context(|| format!("writing {}", file.display()))?;
    let result = run_exec(store, rt, cfg, pid, &file, tty, interactive, detach);
    let _ = std::fs::remove_file(&file);
    result
}

#[allow(clippy::too_many_arguments)]
fn run_exec(
    store: &Store,
    rt: &OciRuntimeRecord,
    cfg: &ContainerConfig,
    pid: i32,
    file: &Path,
    tty: bool,
    interactive: bool,
    detach: bool,
) -> Result<i32> {
    let mut c = command(store, rt, Some(pid))?;
    c.arg("exec").arg("--process").arg(file);
    if tty {
        if detach {
            bail!(
                "exec --detach --tty is not supported with --runtime {}",
                rt.name
            );
        }
        return exec_with_terminal(c, rt, &cfg.id);
    }
    if detach {
        // The program must not hold the caller's pipes open.
        c.arg("--detach")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
    }
    c.arg(&cfg.id);
    if !interactive || detach {
        c.stdin(std::process::Stdio::null());
    }
    let status = c
        .status()
        .with_context(|| format!("running {} exec", rt.name))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        _ => 125,
    })
}

/// `exec -t`: the runtime starts the program detached on a terminal it
/// sends over a console socket; this process (a subreaper meanwhile) is
/// handed the program and relays the terminal, as for the built-in exec.
fn exec_with_terminal(mut c: Command, rt: &OciRuntimeRecord, id: &str) -> Result<i32> {
    let dir = ConsoleDir::new()?;
    let socket = dir.path().join("s");
    let listener =
        std::os::unix::net::UnixListener::bind(&socket).context("making the console socket")?;
    let pid_file = dir.path().join("pid");
    c.arg("--tty")
        .arg("--detach")
        .arg("--console-socket")
        .arg(&socket)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(id);
    let sfd = sys::child_signalfd(&[])?;
    set_subreaper(true)?;
    let ran = run_quiet(c, &format!("{} exec", rt.name));
    let _ = set_subreaper(false);
    ran?;
    let (stream, _) = listener.accept().context("the runtime's console socket")?;
    let master = super::process::recv_fd(stream.as_fd())?;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .with_context(|| format!("{} exec wrote no pid file", rt.name))?;
    let _raw = super::attach::RawTerminal::enable();
    super::relay::relay(
        pid,
        Wiring::Pty { master },
        &mut super::logfile::LogWriter::none(),
        true,
        &sfd,
        &mut super::relay::NoSidecar,
        None,
    )
}
