//! Detaching from a foreground `run -i`/`start -ai` with the detach keys.
//! The monitor reads the terminal there, so it spots the keys: it stops
//! relaying, leaves the caller's session and tells the waiting CLI over a
//! pipe, which then returns while the container runs on.
//!
//! The CLI arms this before it forks the monitor, which inherits it (a
//! process-wide slot, so that the start path needs no new arguments).
//!
//! `exec -it` relays the terminal in the CLI itself: armed with
//! [`arm_exec`], the keys hand the program's terminal to a process of its
//! own that drains it, and the CLI returns while the program runs on.

use super::detach_keys::Matcher;
use super::sys;
use anyhow::Result;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

struct Armed {
    keys: Vec<u8>,
    read: Option<OwnedFd>,
    write: Option<OwnedFd>,
    /// `exec`'s relay, in the CLI: no monitor to tell.
    exec: bool,
}

static ARMED: Mutex<Option<Armed>> = Mutex::new(None);

/// Before an attached start: detach on `keys` (none: never).
pub fn arm(keys: Vec<u8>) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let (read, write) = sys::owned_pipe()?;
    *ARMED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Armed {
        keys,
        read: Some(read),
        write: Some(write),
        exec: false,
    });
    Ok(())
}

/// Before `exec -t` relays its program's terminal here: detach on `keys`
/// (none: never).
pub fn arm_exec(keys: Vec<u8>) {
    if keys.is_empty() {
        return;
    }
    *ARMED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Armed {
        keys,
        read: None,
        write: None,
        exec: true,
    });
}

/// The relaying side: the keys to watch for and how to tell the CLI
/// (none: the relay is the CLI's own, exec's).
pub struct Watch {
    pub matcher: Matcher,
    tell: Option<OwnedFd>,
}

/// Who relayed when the keys were typed.
#[derive(Debug, PartialEq)]
pub enum Detached {
    /// The monitor: it has told the CLI and left the caller; it relays on
    /// to the log.
    Monitor,
    /// `exec`'s CLI: the relay hands the terminal off and returns.
    Exec,
}

impl Watch {
    /// In the monitor (attached): take the write end; the read end is the
    /// CLI's. In `exec`: the keys alone.
    pub fn take() -> Option<Watch> {
        let mut slot = ARMED.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref()?.exec {
            let armed = slot.take()?;
            return Some(Watch {
                matcher: Matcher::new(armed.keys),
                tell: None,
            });
        }
        let armed = slot.as_mut()?;
        armed.read = None;
        let tell = armed.write.take()?;
        Some(Watch {
            matcher: Matcher::new(armed.keys.clone()),
            tell: Some(tell),
        })
    }

    /// The keys were typed. The monitor tells the CLI and leaves its
    /// session and stdio (the container is ours to keep); exec's relay
    /// only learns that it is to hand off.
    pub fn detached(self) -> Detached {
        let Some(tell) = self.tell else {
            return Detached::Exec;
        };
        let _ = sys::write_all(tell.as_raw_fd(), b"d");
        drop(tell);
        sys::detach_from_caller();
        Detached::Monitor
    }
}

/// `exec` detached: a process of its own keeps the program's output
/// `fds` open and drains them until the program (and whatever shares its
/// terminal) lets go, so that it runs on without a reader and without a
/// hangup; it leaves the caller's session and stdio. The caller closes
/// its own copies.
pub fn hand_off(fds: &[i32]) -> Result<()> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: the child runs plain syscalls on what was made before.
    let child = unsafe { libc::fork() };
    if child < 0 {
        anyhow::bail!("fork: {}", sys::errno());
    }
    if child > 0 {
        return Ok(());
    }
    sys::detach_from_caller();
    // Nothing else of the CLI's (locks, sockets) stays held.
    sys::close_fds_except(fds);
    loop {
        if pfds.iter().all(|p| p.fd < 0) {
            // SAFETY: leaving without the CLI's exit handlers.
            unsafe { libc::_exit(0) };
        }
        // SAFETY: a valid array of pollfds.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if sys::errno().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            // SAFETY: as above.
            unsafe { libc::_exit(0) };
        }
        for p in pfds.iter_mut().filter(|p| p.fd >= 0 && p.revents != 0) {
            // SAFETY: reading into a buffer of its length.
            let got = unsafe { libc::read(p.fd, buf.as_mut_ptr().cast(), buf.len()) };
            let again = got < 0
                && matches!(
                    sys::errno().raw_os_error(),
                    Some(libc::EINTR) | Some(libc::EAGAIN)
                );
            if got == 0 || (got < 0 && !again) {
                // EOF, or EIO from a terminal nobody holds any more.
                sys::close(p.fd);
                p.fd = -1;
            }
        }
    }
}

/// In the CLI once the monitor is forked: the read end (the write end is
/// the monitor's alone, so the CLI's copy goes).
pub fn cli_end() -> Option<OwnedFd> {
    let mut slot = ARMED.lock().unwrap_or_else(|e| e.into_inner());
    let armed = slot.take()?;
    armed.read
}

/// Wait for `monitor` (our child) to end, or for its word that the user
/// detached: `None` then.
pub fn wait_or_detached(monitor: i32, detached: &OwnedFd) -> Result<Option<libc::c_int>> {
    // SAFETY: pidfd_open on our own child, which is not reaped yet.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, monitor, 0) } as i32;
    if pidfd < 0 {
        anyhow::bail!("watching the container monitor: {}", sys::errno());
    }
    let mut watch_pipe = true;
    loop {
        let mut pfds = [
            libc::pollfd {
                fd: pidfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if watch_pipe { detached.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: a valid array of two pollfds.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) };
        if n < 0 && sys::errno().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if pfds[1].revents != 0 {
            let mut b = [0u8; 1];
            // SAFETY: reading one byte into a one-byte buffer.
            let got = unsafe { libc::read(detached.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
            if got == 1 {
                sys::close(pidfd);
                return Ok(None);
            }
            // EOF: the monitor (or a fork of it) let go without a word.
            watch_pipe = false;
        }
        if pfds[0].revents != 0 || n < 0 {
            break;
        }
    }
    sys::close(pidfd);
    let mut status = 0;
    // SAFETY: the monitor is our child.
    while unsafe { libc::waitpid(monitor, &mut status, 0) } < 0 {
        if sys::errno().raw_os_error() != Some(libc::EINTR) {
            anyhow::bail!("waiting for the container monitor: {}", sys::errno());
        }
    }
    Ok(Some(status))
}
