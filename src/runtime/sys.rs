//! Thin, checked wrappers over the few raw syscalls the runtime makes.

use anyhow::{anyhow, bail, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub fn cstr(p: impl AsRef<std::ffi::OsStr>) -> Result<CString> {
    CString::new(p.as_ref().as_bytes()).map_err(|_| anyhow!("path contains a NUL byte"))
}

pub fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// SIGCHLD, SIGWINCH and `more` blocked and read from a signalfd instead:
/// how a process relaying for its child learns of its end and of the
/// terminal's new size.
pub fn child_signalfd(more: &[nix::sys::signal::Signal]) -> Result<nix::sys::signalfd::SignalFd> {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = SigSet::empty();
    for &sig in [Signal::SIGCHLD, Signal::SIGWINCH].iter().chain(more) {
        set.add(sig);
    }
    set.thread_block()
        .map_err(|e| anyhow!("blocking signals: {e}"))?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| anyhow!("signalfd: {e}"))
}

/// mount(2); `what` names the operation in the error.
pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<()> {
    let src = source.map(cstr).transpose()?;
    let tgt = cstr(target)?;
    let fs = fstype.map(cstr).transpose()?;
    let dat = data.map(cstr).transpose()?;
    // SAFETY: all pointers are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::mount(
            src.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            tgt.as_ptr(),
            fs.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            dat.as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr() as *const libc::c_void),
        )
    };
    if rc != 0 {
        let err = errno();
        return Err(anyhow!(
            "mounting {} on {}: {err}",
            source
                .map(|s| s.display().to_string())
                .or(fstype.map(str::to_string))
                .unwrap_or_default(),
            target.display()
        ));
    }
    Ok(())
}

pub fn umount_detach(target: &Path) -> Result<()> {
    let t = cstr(target)?;
    // SAFETY: valid C string.
    if unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(anyhow!("unmounting {}: {}", target.display(), errno()));
    }
    Ok(())
}

/// Start time of a process in clock ticks since boot (field 22 of stat).
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Is `pid` still the live process that started at `start`? A zombie
/// (dead, not yet reaped by whoever inherited it) counts as gone.
pub fn process_is(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return false;
    };
    let mut fields = rest.split(' ');
    if matches!(fields.next(), Some("Z") | Some("X")) {
        return false;
    }
    fields.nth(18).and_then(|f| f.parse().ok()) == Some(start)
}

pub fn set_cloexec(fd: i32, on: bool) {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            let new = if on {
                flags | libc::FD_CLOEXEC
            } else {
                flags & !libc::FD_CLOEXEC
            };
            libc::fcntl(fd, libc::F_SETFD, new);
        }
    }
}

/// A pipe whose both ends close on exec.
pub fn pipe() -> Result<(i32, i32)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(anyhow!("pipe: {}", errno()));
    }
    Ok((fds[0], fds[1]))
}

/// A pipe whose both ends close on exec, owned: (read, write).
pub fn owned_pipe() -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) = pipe()?;
    // SAFETY: pipe2 just made both fds and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(r), OwnedFd::from_raw_fd(w)) })
}

/// A connected pair of unix stream sockets, both close-on-exec.
pub fn owned_socketpair() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1i32; 2];
    // SAFETY: socketpair fills the two-element array.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(anyhow!("socketpair: {}", errno()));
    }
    // SAFETY: socketpair just made both fds and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// /dev/null for reading and writing, close-on-exec (a copy made by
/// `dup_onto` is not).
pub fn dev_null() -> Result<OwnedFd> {
    // SAFETY: a NUL-terminated literal path.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(anyhow!("opening /dev/null: {}", errno()));
    }
    // SAFETY: open just made this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Make `target` (0, 1 or 2) a copy of `fd` that survives exec.
pub fn dup_onto(fd: BorrowedFd<'_>, target: RawFd) -> std::io::Result<()> {
    if fd.as_raw_fd() == target {
        // dup2 onto itself does nothing: clear close-on-exec by hand.
        // SAFETY: fcntl on an fd we hold.
        let flags = unsafe { libc::fcntl(target, libc::F_GETFD) };
        // SAFETY: as above.
        if flags < 0 || unsafe { libc::fcntl(target, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0
        {
            return Err(errno());
        }
        return Ok(());
    }
    loop {
        // SAFETY: dup2 between fds we hold.
        if unsafe { libc::dup2(fd.as_raw_fd(), target) } >= 0 {
            return Ok(());
        }
        let e = errno();
        if !matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) {
            return Err(e);
        }
    }
}

/// Let go of a descriptor that was copied onto stdio: closed, unless it
/// is itself one of 0, 1, 2 (then it is what it was copied onto, or the
/// caller's own stdio, which stays as `close_fds_except` leaves it).
pub fn close_unless_stdio(fd: OwnedFd) {
    if fd.as_raw_fd() <= 2 {
        let _ = fd.into_raw_fd();
    }
}

pub fn close(fd: i32) {
    if fd >= 0 {
        // SAFETY: closing an fd we own.
        unsafe { libc::close(fd) };
    }
}

pub fn write_all(fd: i32, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        // SAFETY: data is a valid slice.
        let n = unsafe { libc::write(fd, data.as_ptr() as *const libc::c_void, data.len()) };
        if n < 0 {
            let e = errno();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Read until EOF (for small sync messages).
pub fn read_to_end(fd: i32) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: buf is a valid mutable buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n < 0 {
            let e = errno();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// Close every fd from 3 up except those in `keep`: a process that will
/// not exec (the container's init) must not hold the monitor's or the CLI's
/// pipes open, or their readers never see EOF.
pub fn close_fds_except(keep: &[i32]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&fd| fd >= 3)
        .map(|&fd| fd as u32)
        .collect();
    keep.sort_unstable();
    let mut from = 3u32;
    for fd in keep {
        if fd > from {
            // SAFETY: close_range on fds this process owns.
            unsafe { libc::syscall(libc::SYS_close_range, from, fd - 1, 0) };
        }
        from = fd + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0) };
}

/// Block every signal, to take them one at a time with `next_signal` (a
/// PID 1 gets no default actions, and a handler could drop one).
pub fn block_all_signals() -> libc::sigset_t {
    // SAFETY: a zeroed sigset filled by sigfillset; sigprocmask on ourselves.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        all
    }
}

/// Undo `block_all_signals`.
pub fn unblock_all_signals() {
    // SAFETY: an empty set from sigemptyset; sigprocmask on ourselves.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// The next pending signal of the blocked `set`; waits for one.
pub fn next_signal(set: &libc::sigset_t) -> libc::c_int {
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: a valid set and an out pointer to a local.
        if unsafe { libc::sigwait(set, &mut sig) } == 0 {
            return sig;
        }
    }
}

/// Leave the caller's session and its stdio (all on /dev/null): a
/// detached process must not hold the caller's terminal or pipes open.
pub fn detach_from_caller() {
    // SAFETY: plain syscalls on our own process and fds.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        if null > 2 {
            libc::close(null);
        }
    }
}

/// Rename this process as `ps` and `top` show it (its command line), as
/// setproctitle(3) does: the title over the start of the argument area and
/// a non-NUL last byte, which tells the kernel to read up to the first NUL.
/// For processes forked from the CLI that never exec (the pod's infra).
pub fn set_process_title(title: &str) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name, which may hold spaces: state is 3rd.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<usize>().ok());
    let (Some(start), Some(end)) = (field(48), field(49)) else {
        return;
    };
    let bytes = title.as_bytes();
    if end <= start || bytes.len() + 2 > end - start {
        return;
    }
    // SAFETY: [start, end) is this process's own argument area on its
    // stack, which nothing reads after start-up (std copied argv).
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, end - start);
        area.fill(0);
        area[..bytes.len()].copy_from_slice(bytes);
        area[end - start - 1] = b' ';
    }
}

/// For a process left running in the background after its parent is gone:
/// its own session, /dev/null as stdio and no other fd but `keep`, so that
/// nobody reading the caller's output or pipes waits for it.
pub fn detach_into_background(keep: &[i32]) {
    detach_from_caller();
    close_fds_except(keep);
}

/// Bring up `lo` in a fresh network namespace.
pub fn loopback_up() -> Result<()> {
    // SAFETY: an ioctl on a throwaway socket with a zeroed ifreq.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            bail!("socket: {}", errno());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            ifr.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut ifr) != 0 {
            libc::close(sock);
            bail!("reading lo flags: {}", errno());
        }
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let rc = libc::ioctl(sock, libc::SIOCSIFFLAGS, &ifr);
        libc::close(sock);
        if rc != 0 {
            bail!("bringing up lo: {}", errno());
        }
    }
    Ok(())
}

/// Every `fork()` from here on gives the child random state of its own:
/// rand 0.9 no longer reseeds a forked child, and two processes drawing the
/// same "random" container ids, exec session ids, veth names or temp file
/// nonces collide (the API serves each connection in a fork of one process).
pub fn reseed_random_after_fork() {
    extern "C" fn reseed() {
        let _ = rand::rng().reseed();
    }
    // SAFETY: registers a plain function; glibc runs it in the child after
    // fork, where this process is single-threaded.
    unsafe { libc::pthread_atfork(None, None, Some(reseed)) };
}

#[cfg(test)]
mod tests {
    /// A forked child draws other numbers than its parent does next.
    #[test]
    fn a_forked_child_has_random_state_of_its_own() {
        super::reseed_random_after_fork();
        let _warm: u64 = rand::random();
        let mut fds = [0i32; 2];
        // SAFETY: a pipe for the child's number; the child only draws,
        // writes and leaves with _exit.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            match libc::fork() {
                0 => {
                    let n: u64 = rand::random();
                    libc::write(fds[1], (&n as *const u64).cast(), 8);
                    libc::_exit(0);
                }
                pid => {
                    assert!(pid > 0);
                    let mine: u64 = rand::random();
                    let mut theirs = 0u64;
                    assert_eq!(libc::read(fds[0], (&mut theirs as *mut u64).cast(), 8), 8);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                    libc::close(fds[0]);
                    libc::close(fds[1]);
                    assert_ne!(mine, theirs, "the child repeated its parent's numbers");
                }
            }
        }
    }
}
