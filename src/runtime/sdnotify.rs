//! systemd's notify protocol (`Type=notify` units, `NOTIFY_SOCKET`), as
//! podman's `--sdnotify` modes speak it. The monitor is the unit's main
//! process (MAINPID) and says READY=1 once the container has started
//! (conmon), once it turns healthy (healthy), or passes on what the
//! program itself says through a socket bound into the container
//! (container). `ignore` leaves the socket alone and tells no one.

use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};

/// Where the container finds the proxied socket.
pub const CONTAINER_DIR: &str = "/run/notify";
pub const CONTAINER_SOCKET: &str = "/run/notify/notify.sock";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Container,
    Conmon,
    Healthy,
    Ignore,
}

impl Mode {
    pub fn parse(s: &str) -> Mode {
        match s {
            "conmon" => Mode::Conmon,
            "healthy" => Mode::Healthy,
            "ignore" => Mode::Ignore,
            _ => Mode::Container,
        }
    }
}

pub struct Notifier {
    mode: Mode,
    /// systemd's socket; `None`: not run by a notify unit.
    target: Option<SocketAddr>,
    sender: Option<UnixDatagram>,
    /// Container mode: the socket the program writes to, and its directory.
    proxy: Option<(UnixDatagram, PathBuf)>,
    ready_sent: bool,
}

/// `NOTIFY_SOCKET`'s value as an address: a path, or `@name` abstract.
fn address(value: &str) -> Option<SocketAddr> {
    match value.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()).ok(),
        None if value.starts_with('/') => SocketAddr::from_pathname(value).ok(),
        None => None,
    }
}

impl Notifier {
    /// Take `NOTIFY_SOCKET` from the environment (nothing below the monitor
    /// inherits it). `run_dir` is the container's runtime directory, where
    /// container mode makes the socket it proxies.
    pub fn from_env(mode: &str, run_dir: &Path) -> Result<Notifier> {
        let mode = Mode::parse(mode);
        let value = std::env::var("NOTIFY_SOCKET").ok();
        std::env::remove_var("NOTIFY_SOCKET");
        let mut n = Notifier {
            mode,
            target: None,
            sender: None,
            proxy: None,
            ready_sent: false,
        };
        let Some(target) = value.as_deref().and_then(address) else {
            return Ok(n);
        };
        if mode == Mode::Ignore {
            return Ok(n);
        }
        n.sender = Some(UnixDatagram::unbound().context("notify socket")?);
        n.target = Some(target);
        if mode == Mode::Container {
            let dir = run_dir.join("notify");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join("notify.sock");
            let _ = std::fs::remove_file(&path);
            // Bound through the directory's descriptor: a socket path has
            // 107 bytes at most, and a run directory can be longer.
            let handle =
                std::fs::File::open(&dir).with_context(|| format!("opening {}", dir.display()))?;
            let short = format!("/proc/self/fd/{}/notify.sock", handle.as_raw_fd());
            let sock = UnixDatagram::bind(&short)
                .with_context(|| format!("binding {}", path.display()))?;
            drop(handle);
            sock.set_nonblocking(true)?;
            // Any user of the container may say it is ready.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
            n.proxy = Some((sock, dir));
        }
        Ok(n)
    }

    /// The directory to bind at [`CONTAINER_DIR`] (container mode under a
    /// notify unit).
    pub fn proxy_dir(&self) -> Option<&Path> {
        self.proxy.as_ref().map(|(_, d)| d.as_path())
    }

    /// The proxied socket, for the monitor to watch.
    pub fn fd(&self) -> Option<RawFd> {
        self.proxy.as_ref().map(|(s, _)| s.as_raw_fd())
    }

    fn send(&self, msg: &str) {
        if let (Some(s), Some(t)) = (&self.sender, &self.target) {
            if let Err(e) = s.send_to_addr(msg.as_bytes(), t) {
                crate::debug!("notifying systemd: {e}");
            }
        }
    }

    /// The container's program runs (again): say who the main process is,
    /// and (conmon) that the service is ready.
    pub fn started(&mut self, monitor_pid: i32) {
        match self.mode {
            Mode::Conmon if !self.ready_sent => {
                self.send(&format!("MAINPID={monitor_pid}\nREADY=1"));
                self.ready_sent = true;
            }
            Mode::Ignore => {}
            _ => self.send(&format!("MAINPID={monitor_pid}")),
        }
    }

    /// The container turned healthy: ready, in healthy mode.
    pub fn healthy(&mut self, monitor_pid: i32) {
        if self.mode == Mode::Healthy && !self.ready_sent {
            self.send(&format!("MAINPID={monitor_pid}\nREADY=1"));
            self.ready_sent = true;
        }
    }

    /// Pass on what the program said (container mode); MAINPID stays the
    /// monitor's, whatever the program claims.
    pub fn forward(&mut self, monitor_pid: i32) {
        let Some((sock, _)) = &self.proxy else { return };
        let mut buf = [0u8; 4096];
        while let Ok(n) = sock.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            let mut lines: Vec<&str> = text
                .lines()
                .filter(|l| !l.starts_with("MAINPID="))
                .collect();
            if lines.is_empty() {
                continue;
            }
            let main = format!("MAINPID={monitor_pid}");
            lines.insert(0, &main);
            self.send(&lines.join("\n"));
        }
    }

    /// The monitor is ending the container for good.
    pub fn stopping(&self) {
        if self.mode != Mode::Ignore {
            self.send("STOPPING=1");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_systemd_writes_them() {
        assert!(address("/run/systemd/notify").is_some());
        assert!(address("@/org/freedesktop/systemd1/notify/123").is_some());
        assert!(address("relative").is_none());
    }

    #[test]
    fn modes_default_to_container() {
        assert_eq!(Mode::parse(""), Mode::Container);
        assert_eq!(Mode::parse("healthy"), Mode::Healthy);
    }
}
