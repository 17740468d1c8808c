//! Detaching from a foreground `run -i`/`start -ai` with the detach keys.
//! The monitor reads the terminal there, so it spots the keys: it stops
//! relaying, leaves the caller's session and tells the waiting CLI over a
//! pipe, which then returns while the container runs on.
//!
//! The CLI arms this before it forks the monitor, which inherits it (a
//! process-wide slot, so that the start path needs no new arguments).

use super::detach_keys::Matcher;
use super::sys;
use anyhow::Result;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

struct Armed {
    keys: Vec<u8>,
    read: Option<OwnedFd>,
    write: Option<OwnedFd>,
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
    });
    Ok(())
}

/// The monitor's side: the keys to watch for and how to tell the CLI.
pub struct Watch {
    pub matcher: Matcher,
    tell: OwnedFd,
}

impl Watch {
    /// In the monitor (attached): take the write end; the read end is the
    /// CLI's.
    pub fn take() -> Option<Watch> {
        let mut slot = ARMED.lock().unwrap_or_else(|e| e.into_inner());
        let armed = slot.as_mut()?;
        armed.read = None;
        let tell = armed.write.take()?;
        Some(Watch {
            matcher: Matcher::new(armed.keys.clone()),
            tell,
        })
    }

    /// The keys were typed: tell the CLI, and leave its session and stdio
    /// (the container is ours to keep).
    pub fn detached(self) {
        let _ = sys::write_all(self.tell.as_raw_fd(), b"d");
        drop(self.tell);
        sys::detach_from_caller();
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
