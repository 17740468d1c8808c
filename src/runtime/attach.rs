//! The foreground side of `run`/`start -a`: a raw terminal when the user
//! has one, signals passed on to the container, and the monitor's exit
//! status (the program's) as ours.

use anyhow::{bail, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::termios::{self, SetArg, Termios};
use std::os::fd::BorrowedFd;

/// Puts a terminal in raw mode; restores it when dropped.
pub struct RawTerminal {
    saved: Option<Termios>,
}

impl RawTerminal {
    /// Raw mode on stdin when it is a terminal; a no-op otherwise.
    pub fn enable() -> RawTerminal {
        // SAFETY: fd 0 lives as long as the process.
        let fd = unsafe { BorrowedFd::borrow_raw(0) };
        let Ok(saved) = termios::tcgetattr(fd) else {
            return RawTerminal { saved: None };
        };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        if termios::tcsetattr(fd, SetArg::TCSANOW, &raw).is_err() {
            return RawTerminal { saved: None };
        }
        RawTerminal { saved: Some(saved) }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: fd 0 lives as long as the process.
            let fd = unsafe { BorrowedFd::borrow_raw(0) };
            let _ = termios::tcsetattr(fd, SetArg::TCSANOW, saved);
        }
    }
}

/// A started container: its monitor's pid (our child), and the program's.
pub struct Started {
    pub monitor: i32,
    pub pid: i32,
}

/// Signals a foreground CLI passes on (podman's --sig-proxy set).
const PROXIED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGCONT,
];

/// Block the proxied signals so a thread can take them with sigwait.
/// Call before starting the monitor, so no signal is lost in between.
pub fn block_proxied_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in PROXIED {
        set.add(*s);
    }
    let _ = set.thread_block();
    set
}

/// Pass the blocked `signals` on to the container's process `pid` from a
/// thread; one that ends it is a user's stop (`stopped_marker`).
pub fn proxy_signals(signals: SigSet, pid: i32, stopped_marker: std::path::PathBuf) {
    std::thread::spawn(move || loop {
        if let Ok(sig) = signals.wait() {
            if matches!(
                sig,
                Signal::SIGHUP | Signal::SIGINT | Signal::SIGQUIT | Signal::SIGTERM
            ) {
                let _ = std::fs::write(&stopped_marker, b"");
            }
            // SAFETY: a plain kill of the container's first process.
            unsafe { libc::kill(pid, sig as i32) };
        }
    });
}

/// Wait for the monitor; pass signals to the container meanwhile. A
/// signal that ends it (a unit's SIGTERM, the user's ^C) is a user's stop:
/// `stopped_marker` is written first, so the restart policy rests.
pub fn wait_foreground(
    started: Started,
    sig_proxy: bool,
    signals: SigSet,
    stopped_marker: std::path::PathBuf,
) -> Result<i32> {
    if !sig_proxy {
        let _ = signals.thread_unblock();
    } else {
        proxy_signals(signals, started.pid, stopped_marker);
    }
    let mut status = 0;
    let mut reaped = false;
    if let Some(detached) = super::foreground_detach::cli_end() {
        match super::foreground_detach::wait_or_detached(started.monitor, &detached)? {
            // The user typed the detach keys: the container runs on.
            None => return Ok(0),
            Some(s) => (status, reaped) = (s, true),
        }
    }
    // SAFETY: the monitor is our child (unless reaped above).
    while !reaped && unsafe { libc::waitpid(started.monitor, &mut status, 0) } < 0 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            bail!(
                "waiting for the container monitor: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    if libc::WIFEXITED(status) {
        return Ok(libc::WEXITSTATUS(status));
    }
    bail!(
        "the container monitor was killed by signal {}",
        libc::WTERMSIG(status)
    )
}

/// Ask on the terminal (without echo for a password); read a line of stdin
/// when it is not a terminal.
pub fn prompt(label: &str, secret: bool) -> anyhow::Result<String> {
    use anyhow::Context;
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprint!("{label}");
    }
    let saved = if tty && secret {
        let t = nix::sys::termios::tcgetattr(&stdin).ok();
        if let Some(orig) = &t {
            let mut quiet = orig.clone();
            quiet
                .local_flags
                .remove(nix::sys::termios::LocalFlags::ECHO);
            let _ =
                nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &quiet);
        }
        t
    } else {
        None
    };
    let mut line = String::new();
    let r = stdin.lock().read_line(&mut line);
    if let Some(orig) = saved {
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &orig);
        eprintln!();
    }
    r.context("reading from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
