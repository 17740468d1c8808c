//! `attach`'s side of the attach socket: our stdin (and window size) to
//! the container, its output to our stdout and stderr, until it ends or
//! the user types the detach keys.

use super::attach::RawTerminal;
use super::attach_socket::{self, Frames};
use super::detach_keys::{Matcher, Seen};
use super::sys;
use anyhow::Result;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

pub struct ClientOptions {
    /// Send our stdin (the container was made with `-i`, no `--no-stdin`).
    pub stdin: bool,
    /// The container has a terminal: ours goes raw, its size follows ours.
    pub tty: bool,
    /// The detach sequence; empty: none.
    pub detach_keys: Vec<u8>,
}

/// How an attach ended.
#[derive(Debug, PartialEq)]
pub enum Ended {
    /// The program ended with this code.
    Exited(i32),
    /// The user typed the detach keys; the container runs on.
    Detached,
    /// The monitor went away without a word.
    Lost,
}

fn send(sock: &OwnedFd, kind: u8, data: &[u8]) -> bool {
    sys::write_all(sock.as_raw_fd(), &attach_socket::frame(kind, data)).is_ok()
}

fn send_winsize(sock: &OwnedFd) {
    // SAFETY: an ioctl with a properly sized winsize.
    let ws = unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) != 0 {
            return;
        }
        ws
    };
    let mut data = ws.ws_row.to_be_bytes().to_vec();
    data.extend_from_slice(&ws.ws_col.to_be_bytes());
    send(sock, attach_socket::RESIZE, &data);
}

/// Attach to the container whose run directory is `run_dir`.
pub fn attach(run_dir: &Path, o: &ClientOptions) -> Result<Ended> {
    let sock = attach_socket::connect(run_dir)?;
    let _raw = (o.tty && o.stdin).then(RawTerminal::enable);
    let winch = if o.tty {
        let mut set = nix::sys::signal::SigSet::empty();
        set.add(nix::sys::signal::Signal::SIGWINCH);
        let _ = set.thread_block();
        send_winsize(&sock);
        nix::sys::signalfd::SignalFd::with_flags(
            &set,
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
        )
        .ok()
    } else {
        None
    };
    let mut matcher = Matcher::new(o.detach_keys.clone());
    let mut frames = Frames::default();
    let mut stdin_open = o.stdin;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut pfds = vec![libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if stdin_open {
            pfds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if let Some(w) = &winch {
            pfds.push(libc::pollfd {
                fd: w.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: pfds is a valid array of pollfd.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if sys::errno().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            anyhow::bail!("waiting on the attach socket: {}", sys::errno());
        }
        if pfds[0].revents != 0 {
            let Some(k) = read(sock.as_raw_fd(), &mut buf) else {
                return Ok(Ended::Lost);
            };
            frames.push(&buf[..k]);
            while let Some((kind, data)) = frames.next_frame() {
                match kind {
                    attach_socket::STDOUT => {
                        let _ = sys::write_all(1, &data);
                    }
                    attach_socket::STDERR => {
                        let _ = sys::write_all(2, &data);
                    }
                    attach_socket::EXIT if data.len() == 4 => {
                        let code = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                        return Ok(Ended::Exited(code));
                    }
                    _ => {}
                }
            }
        }
        if stdin_open && pfds[1].revents != 0 {
            match read(0, &mut buf) {
                None => {
                    stdin_open = false;
                    // A terminal has no end of its own: the user's ^D is a byte.
                    if !o.tty {
                        send(&sock, attach_socket::STDIN_EOF, &[]);
                    }
                }
                Some(k) => match matcher.feed(&buf[..k]) {
                    Seen::Forward(data) => {
                        if !data.is_empty() {
                            send(&sock, attach_socket::STDIN, &data);
                        }
                    }
                    Seen::Detach(data) => {
                        if !data.is_empty() {
                            send(&sock, attach_socket::STDIN, &data);
                        }
                        return Ok(Ended::Detached);
                    }
                },
            }
        }
        if let Some(w) = &winch {
            if pfds.last().is_some_and(|p| p.revents != 0) {
                while let Ok(Some(_)) = w.read_signal() {}
                send_winsize(&sock);
            }
        }
    }
}

/// Some bytes, or `None` at the end (or an error: the same to us).
fn read(fd: i32, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: buf is valid for writes of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n < 0 && sys::errno().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return (n > 0).then_some(n as usize);
    }
}
