//! The monitor's I/O loop: container output to the log and to an attached
//! terminal, attached stdin to the container (its EOF too), window-size
//! changes to the container's terminal, until the program is reaped.

use super::attach_socket::{self, AttachServer, Input};
use super::detach_keys::Seen;
use super::foreground_detach::Detached;
use super::logfile::LogWriter;
use super::sys;
use anyhow::Result;
use nix::sys::signalfd::SignalFd;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};

/// How the first process's stdio is wired (the monitor's or exec's side).
pub enum Wiring {
    Pipes {
        stdin_w: Option<OwnedFd>,
        stdout_r: OwnedFd,
        stderr_r: OwnedFd,
    },
    Pty {
        master: OwnedFd,
    },
}

fn read_some(fd: i32, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: buf is valid for writes of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n < 0 {
            let e = sys::errno();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return Some(0),
                // EIO: the terminal's other side is gone.
                _ => return None,
            }
        }
        return if n == 0 { None } else { Some(n as usize) };
    }
}

fn set_nonblocking(fd: i32) {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

fn copy_winsize(from: i32, to: i32) {
    // SAFETY: ioctls with a properly sized winsize.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// What the monitor does beside relaying (healthchecks, systemd notify):
/// descriptors to watch and a deadline, served from the same loop so the
/// monitor stays one single-threaded process.
pub trait Sidecar {
    /// Descriptors to watch for input.
    fn fds(&self, out: &mut Vec<i32>);
    /// When `serve` must run next even if nothing is readable.
    fn deadline(&self) -> Option<std::time::Instant>;
    /// After every wake: `ready` holds the readable ones of `fds`; `pid`
    /// is the container's program, still running.
    fn serve(&mut self, ready: &[i32], pid: i32);
    /// The container's record changed (`update`): read it again.
    fn reload(&mut self) {}
}

/// No work beside the relay (exec's terminal).
pub struct NoSidecar;

impl Sidecar for NoSidecar {
    fn fds(&self, _: &mut Vec<i32>) {}
    fn deadline(&self) -> Option<std::time::Instant> {
        None
    }
    fn serve(&mut self, _: &[i32], _: i32) {}
}

/// How long an attached program runs before its monitor sheds memory.
const SHED_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

fn exit_code(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        125
    }
}

fn set_winsize(fd: i32, rows: u16, cols: u16) {
    // SAFETY: an ioctl with a properly sized winsize.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        ws.ws_row = rows;
        ws.ws_col = cols;
        libc::ioctl(fd, libc::TIOCSWINSZ, &ws);
    }
}

/// Relay until `pid` exits and its output is drained; returns its exit code.
/// `clients` (the attach socket) get the output too and may send input.
pub fn relay(
    pid: i32,
    wiring: Wiring,
    log: &mut LogWriter,
    attach: bool,
    sfd: &SignalFd,
    side: &mut dyn Sidecar,
    mut clients: Option<&mut AttachServer>,
) -> Result<i32> {
    // (fd, stream name, where attached output goes)
    let mut outputs: Vec<(i32, &str, i32)> = Vec::new();
    let mut is_pty = false;
    // From here the loop below owns these fds and closes them as their
    // streams end.
    let mut stdin_target: Option<i32> = match wiring {
        Wiring::Pipes {
            stdin_w,
            stdout_r,
            stderr_r,
        } => {
            outputs.push((stdout_r.into_raw_fd(), "stdout", 1));
            outputs.push((stderr_r.into_raw_fd(), "stderr", 2));
            stdin_w.map(IntoRawFd::into_raw_fd)
        }
        Wiring::Pty { master } => {
            let master = master.into_raw_fd();
            outputs.push((master, "stdout", 1));
            is_pty = true;
            if attach {
                copy_winsize(0, master);
            }
            // Attach clients may type even when the caller does not.
            Some(master)
        }
    };
    for (fd, _, _) in &outputs {
        set_nonblocking(*fd);
    }
    let mut attached_out = attach;
    // The detach keys, when the caller armed them (see foreground_detach).
    let mut watch = if attach {
        super::foreground_detach::Watch::take()
    } else {
        None
    };
    let mut stdin_open = attach && stdin_target.is_some() && super::launch::attached("stdin");
    let mut exit: Option<i32> = None;
    // exec detached: its program runs on, its output drained elsewhere.
    let mut handed_off = false;
    let mut buf = vec![0u8; 64 * 1024];
    let sig_fd = sfd.as_raw_fd();
    // A monitor idles here for the container's whole life, so once the
    // loop is about to wait it sheds what it won't use again. Attached, a
    // short program (`run --rm IMG true`) is usually gone sooner: shed only
    // once the program has run a while, not while the caller waits.
    let shed_at = std::time::Instant::now()
        + if attach {
            SHED_AFTER
        } else {
            std::time::Duration::ZERO
        };
    let mut shed_pending = true;
    let mut side_fds: Vec<i32> = Vec::new();
    loop {
        if exit.is_some() && outputs.is_empty() {
            break;
        }
        let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(4);
        pfds.push(libc::pollfd {
            fd: sig_fd,
            events: libc::POLLIN,
            revents: 0,
        });
        for (fd, _, _) in &outputs {
            pfds.push(libc::pollfd {
                fd: *fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let stdin_idx = if stdin_open {
            pfds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
            Some(pfds.len() - 1)
        } else {
            None
        };
        side_fds.clear();
        if exit.is_none() {
            side.fds(&mut side_fds);
        }
        let side_start = pfds.len();
        if let Some(c) = clients.as_deref() {
            c.fds(&mut side_fds);
        }
        for fd in &side_fds {
            pfds.push(libc::pollfd {
                fd: *fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if shed_pending && exit.is_none() && std::time::Instant::now() >= shed_at {
            shed_pending = false;
            super::memory::shed();
        }
        // Once the program is gone, give stragglers a moment, not forever.
        let timeout = if exit.is_some() {
            500
        } else if shed_pending {
            let left = shed_at.saturating_duration_since(std::time::Instant::now());
            left.as_millis() as i32 + 1
        } else {
            -1
        };
        let timeout = match side.deadline().filter(|_| exit.is_none()) {
            Some(at) => {
                let left = at.saturating_duration_since(std::time::Instant::now());
                let ms = left.as_millis().min(i32::MAX as u128) as i32 + 1;
                if timeout < 0 {
                    ms
                } else {
                    timeout.min(ms)
                }
            }
            None => timeout,
        };
        // SAFETY: pfds is a valid array of pollfd.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            if sys::errno().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        if n == 0 && exit.is_some() {
            break;
        }
        if pfds[0].revents != 0 {
            while let Ok(Some(info)) = sfd.read_signal() {
                if info.ssi_signo == libc::SIGWINCH as u32 {
                    if let (true, Some(t)) = (is_pty, stdin_target) {
                        copy_winsize(0, t);
                    }
                }
                if info.ssi_signo == libc::SIGUSR1 as u32 && exit.is_none() {
                    side.reload();
                }
            }
            loop {
                let mut status = 0;
                // SAFETY: reaping our own child.
                let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                if r == pid {
                    exit = Some(exit_code(status));
                }
                if r <= 0 || r == pid {
                    break;
                }
            }
        }
        let ready: Vec<i32> = pfds[side_start..]
            .iter()
            .filter(|p| p.revents != 0)
            .map(|p| p.fd)
            .collect();
        if exit.is_none() {
            side.serve(&ready, pid);
        }
        if let Some(c) = clients.as_deref_mut() {
            let mut inputs = Vec::new();
            c.serve(&ready, &mut inputs);
            for input in inputs {
                match (input, stdin_target) {
                    (Input::Stdin(data), Some(t)) => {
                        let _ = sys::write_all(t, &data);
                    }
                    (Input::Resize { rows, cols }, Some(t)) if is_pty => set_winsize(t, rows, cols),
                    (Input::StdinEof, Some(t)) if !is_pty => {
                        sys::close(t);
                        stdin_target = None;
                        stdin_open = false;
                    }
                    _ => {}
                }
            }
        }
        let mut closed = Vec::new();
        for (i, (fd, stream, target)) in outputs.iter().enumerate() {
            let rev = pfds[i + 1].revents;
            if rev == 0 {
                continue;
            }
            match read_some(*fd, &mut buf) {
                Some(0) => {}
                Some(k) => {
                    log.write(stream, &buf[..k]);
                    if let Some(c) = clients.as_deref_mut() {
                        let kind = match *stream {
                            "stderr" => attach_socket::STDERR,
                            _ => attach_socket::STDOUT,
                        };
                        c.broadcast(kind, &buf[..k]);
                    }
                    if attached_out
                        && super::launch::attached(stream)
                        && sys::write_all(*target, &buf[..k]).is_err()
                    {
                        // The terminal went away: keep logging.
                        attached_out = false;
                    }
                }
                None => closed.push(*fd),
            }
        }
        for fd in closed {
            outputs.retain(|(f, _, _)| *f != fd);
            if !(is_pty && stdin_target == Some(fd)) {
                sys::close(fd);
            }
        }
        if let Some(idx) = stdin_idx {
            if pfds[idx].revents != 0 {
                match read_some(0, &mut buf) {
                    Some(0) => {}
                    Some(k) => {
                        let (data, detach) = match watch.as_mut().map(|w| w.matcher.feed(&buf[..k]))
                        {
                            Some(Seen::Forward(d)) => (d, false),
                            Some(Seen::Detach(d)) => (d, true),
                            None => (buf[..k].to_vec(), false),
                        };
                        if let Some(t) = stdin_target {
                            let _ = sys::write_all(t, &data);
                        }
                        if let Some(w) = watch.take_if(|_| detach) {
                            match w.detached() {
                                Detached::Monitor => {
                                    stdin_open = false;
                                    attached_out = false;
                                }
                                Detached::Exec => {
                                    handed_off = true;
                                    break;
                                }
                            }
                        }
                    }
                    None => {
                        stdin_open = false;
                        // Pass EOF on: close the pipe (a terminal has no EOF
                        // of its own; its reader sees the user's ^D).
                        if let (false, Some(t)) = (is_pty, stdin_target) {
                            sys::close(t);
                            stdin_target = None;
                        }
                    }
                }
            }
        }
    }
    if handed_off {
        let fds: Vec<i32> = outputs.iter().map(|(fd, _, _)| *fd).collect();
        let handed = super::foreground_detach::hand_off(&fds);
        for fd in fds {
            sys::close(fd);
        }
        if let (false, Some(t)) = (is_pty, stdin_target) {
            sys::close(t);
        }
        handed?;
        // Detaching is a success, as podman's.
        return Ok(0);
    }
    if let (false, Some(t)) = (is_pty, stdin_target) {
        sys::close(t);
    }
    let code = exit.unwrap_or(125);
    if let Some(c) = clients {
        c.finish(code);
    }
    Ok(code)
}
