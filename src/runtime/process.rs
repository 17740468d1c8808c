//! The last steps inside the container before its program runs: terminal,
//! limits, working directory, identity, capabilities, seccomp, then exec.
//! Errors travel to the monitor over a close-on-exec pipe as a typed
//! report (`report::Report::Failed`), so 126/127 reach the user as podman
//! gives them.

use super::report::Report;
use super::{caps, seccomp, sys};
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::Spec;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A start failure with the exit code podman gives it (126, 127, 125).
pub use crate::error::CodedError as StartError;

/// How the process gets its stdio.
pub enum Stdio {
    /// fds 0, 1 and 2 are already in place.
    Inherited,
    /// Make a terminal inside the container and hand its master end over
    /// this unix socket.
    Pty { socket: OwnedFd },
}

/// Report a failure to the monitor over `report_fd` and end this process
/// with the failure's code.
pub fn fail(report_fd: RawFd, err: &anyhow::Error) -> ! {
    let report = Report::failed(err);
    let code = match &report {
        Report::Failed { code, .. } => *code,
        Report::Started { .. } => 125,
    };
    // SAFETY: the caller holds `report_fd` open; this process ends below.
    let fd = unsafe { BorrowedFd::borrow_raw(report_fd) };
    // Nothing more to do if the monitor is gone: the exit code says it.
    let _ = report.send(fd);
    // SAFETY: leave without running destructors of the parent's state.
    unsafe { libc::_exit(code) }
}

fn setup_pty(socket: OwnedFd) -> Result<()> {
    // SAFETY: a NUL-terminated literal path.
    let master = unsafe {
        libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if master < 0 {
        bail!("opening /dev/ptmx: {}", sys::errno());
    }
    // SAFETY: open just made this fd.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    // SAFETY: unlockpt on the master we opened.
    if unsafe { libc::unlockpt(master.as_raw_fd()) } != 0 {
        bail!("unlocking the terminal: {}", sys::errno());
    }
    // SAFETY: TIOCGPTPEER on the master opens its peer, a new fd.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY,
        )
    };
    if slave < 0 {
        bail!("opening the terminal: {}", sys::errno());
    }
    // SAFETY: the ioctl just made this fd.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    send_fd(socket.as_fd(), master.as_fd())?;
    drop(master);
    drop(socket);
    // SAFETY: setsid on ourselves.
    if unsafe { libc::setsid() } < 0 {
        bail!("starting a session for the terminal: {}", sys::errno());
    }
    // SAFETY: TIOCSCTTY on the terminal we opened.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        bail!("setting the controlling terminal: {}", sys::errno());
    }
    for fd in 0..3 {
        sys::dup_onto(slave.as_fd(), fd)
            .map_err(|e| anyhow!("wiring the terminal onto fd {fd}: {e}"))?;
    }
    sys::close_unless_stdio(slave);
    Ok(())
}

/// Pass `fd` over a unix socket (SCM_RIGHTS).
pub fn send_fd(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<()> {
    let (socket, fd) = (socket.as_raw_fd(), fd.as_raw_fd());
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut libc::c_void,
        iov_len: 1,
    };
    // SAFETY: a correctly sized control buffer for one fd.
    unsafe {
        let space = libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) as usize;
        let mut cbuf = vec![0u8; space];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut i32, fd);
        if libc::sendmsg(socket, &msg, 0) < 0 {
            bail!("passing the terminal: {}", sys::errno());
        }
    }
    Ok(())
}

/// Receive an fd sent by `send_fd`.
pub fn recv_fd(socket: BorrowedFd<'_>) -> Result<OwnedFd> {
    let socket = socket.as_raw_fd();
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut libc::c_void,
        iov_len: 1,
    };
    // SAFETY: as in send_fd.
    unsafe {
        let space = libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) as usize;
        let mut cbuf = vec![0u8; space];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space;
        let n = libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n <= 0 {
            bail!(
                "receiving the terminal: {}",
                if n == 0 {
                    "no terminal was sent".to_string()
                } else {
                    sys::errno().to_string()
                }
            );
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            bail!("receiving the terminal: no descriptor");
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const i32);
        if fd < 0 {
            bail!("receiving the terminal: no descriptor");
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

fn apply_rlimits(spec: &Spec) -> Result<()> {
    let process = spec.process().as_ref().context("spec has no process")?;
    for r in process.rlimits().clone().unwrap_or_default() {
        let name = serde_json::to_value(r.typ())?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some(res) = rlimit_resource(&name) else {
            continue;
        };
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: setrlimit reads the struct.
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            bail!(
                "setting {name} to {}:{}: {} (the limit is above what this user may set)",
                r.soft(),
                r.hard(),
                sys::errno()
            );
        }
    }
    Ok(())
}

fn env_path(env: &[String]) -> String {
    env.iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string()
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Find the program like execvp does, failing with podman's codes.
pub fn find_program(arg0: &str, env: &[String]) -> Result<PathBuf> {
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return match std::fs::metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StartError {
                code: 127,
                message: format!("{arg0}: no such file or directory: OCI runtime attempted to invoke a command that was not found"),
            }
            .into()),
            Ok(m) if m.is_dir() || !is_executable_file(&p) => Err(StartError {
                code: 126,
                message: format!("{arg0}: permission denied: OCI permission denied"),
            }
            .into()),
            _ => Ok(p),
        };
    }
    let mut found_not_exec = None;
    for dir in env_path(env).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        if is_executable_file(&candidate) {
            return Ok(candidate);
        }
        if candidate.is_file() && found_not_exec.is_none() {
            found_not_exec = Some(candidate);
        }
    }
    if found_not_exec.is_some() {
        return Err(StartError {
            code: 126,
            message: format!("executable file `{arg0}` is not executable: permission denied: OCI permission denied"),
        }
        .into());
    }
    Err(StartError {
        code: 127,
        message: format!("executable file `{arg0}` not found in $PATH: No such file or directory: OCI runtime attempted to invoke a command that was not found"),
    }
    .into())
}

fn cstrings(v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.as_bytes()).map_err(|_| anyhow!("argument contains a NUL byte")))
        .collect()
}

/// Switch to the spec's user, with its groups, keeping `keep` capabilities
/// for root and none for others.
fn switch_identity(spec: &Spec) -> Result<()> {
    let process = spec.process().as_ref().context("spec has no process")?;
    let user = process.user();
    let keep: Vec<String> = process
        .capabilities()
        .as_ref()
        .and_then(|c| c.bounding().clone())
        .map(|set| set.iter().map(|c| format!("CAP_{}", cap_name(c))).collect())
        .unwrap_or_default();
    caps::drop_bounding(&keep)?;
    let groups: Vec<libc::gid_t> = user.additional_gids().clone().unwrap_or_default();
    // `--group-add keep-groups`: the caller's groups stay (no setgroups).
    let keep_groups = spec
        .annotations()
        .as_ref()
        .is_some_and(|a| a.contains_key(super::spec::KEEP_GROUPS));
    // SAFETY: plain credential syscalls.
    unsafe {
        // setgroups is denied in a single-id user namespace; that is fine
        // when there are no groups to set.
        if !keep_groups && libc::setgroups(groups.len(), groups.as_ptr()) != 0 && !groups.is_empty()
        {
            bail!("setting supplementary groups: {}", sys::errno());
        }
        if libc::setresgid(user.gid(), user.gid(), user.gid()) != 0 {
            bail!("switching to gid {}: {}", user.gid(), sys::errno());
        }
        if libc::setresuid(user.uid(), user.uid(), user.uid()) != 0 {
            bail!("switching to uid {}: {}", user.uid(), sys::errno());
        }
    }
    if user.uid() == 0 {
        caps::set_process_caps(&keep)?;
    }
    Ok(())
}

/// oci-spec's capability enum as the kernel name without `CAP_`.
fn cap_name(c: &oci_spec::runtime::Capability) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.trim_start_matches("CAP_").to_string()))
        .unwrap_or_default()
}

fn enter_workdir(cwd: &Path) -> Result<()> {
    if std::env::set_current_dir(cwd).is_err() {
        // podman makes a missing working directory.
        std::fs::create_dir_all(cwd)
            .with_context(|| format!("creating working directory {}", cwd.display()))?;
        std::env::set_current_dir(cwd)
            .with_context(|| format!("entering working directory {}", cwd.display()))?;
    }
    Ok(())
}

fn install_seccomp(spec: &Spec) -> Result<()> {
    match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(sc) => seccomp::install(sc),
        None => Ok(()),
    }
}

/// Everything from the terminal to exec. Never returns on success.
/// With `init` (the start-report pipe), a tiny init stays PID 1 and the
/// program runs as its child.
pub fn start_program(
    spec: &Spec,
    stdio: Stdio,
    init: Option<i32>,
) -> Result<std::convert::Infallible> {
    let process = spec.process().as_ref().context("spec has no process")?;
    match stdio {
        Stdio::Inherited => {
            // Out of the monitor's session (and its terminal's).
            // SAFETY: setsid on ourselves.
            if unsafe { libc::setsid() } < 0 {
                bail!("starting a session: {}", sys::errno());
            }
        }
        Stdio::Pty { socket } => setup_pty(socket)?,
    }
    apply_rlimits(spec)?;
    let env = process.env().clone().unwrap_or_default();
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        bail!("no command specified: the image has no CMD or ENTRYPOINT; give a command");
    }
    switch_identity(spec)?;
    enter_workdir(process.cwd())?;
    super::devices::apply_personality(spec)?;
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe { libc::umask(process.user().umask().unwrap_or(0o022) as libc::mode_t) };
    let program = find_program(&args[0], &env)?;
    if process.no_new_privileges().unwrap_or(true) {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            bail!("setting no_new_privs: {}", sys::errno());
        }
    }
    // The container dies with its monitor (reset by the uid change above,
    // so set it last).
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        bail!("setting the parent-death signal: {}", sys::errno());
    }
    install_seccomp(spec)?;
    if let Some(report_fd) = init {
        super::init::run_as_init(report_fd);
    }
    let argv = cstrings(&args)?;
    let envp = cstrings(&env)?;
    let prog = CString::new(program.as_os_str().as_bytes())?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of valid C strings.
    unsafe { libc::execve(prog.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    let err = sys::errno();
    let code = match err.raw_os_error() {
        Some(libc::ENOENT) => 127,
        _ => 126,
    };
    Err(StartError {
        code,
        message: format!("{}: {err}", args[0]),
    }
    .into())
}
