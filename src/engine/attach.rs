//! `attach` (and `start -a` of a running container): the container's
//! output here, our input there, through its monitor's attach socket.

use super::types::Store;
use crate::error::SilentExit;
use crate::runtime::attach_client::{self, ClientOptions, Ended};
use crate::runtime::state::{current_state, is_running};
use crate::runtime::{attach, detach_keys};
use crate::storage::events;
use anyhow::{bail, Result};

#[derive(Debug, Default, Clone)]
pub struct AttachRequest {
    /// `--no-stdin`.
    pub no_stdin: bool,
    /// `--detach-keys`; podman's default when not given.
    pub detach_keys: Option<String>,
    /// `--sig-proxy` (a terminal passes its keys through instead).
    pub sig_proxy: bool,
}

/// The bytes of `--detach-keys` (checked before anything is done).
pub fn parse_detach_keys(spec: Option<&str>) -> Result<Vec<u8>> {
    detach_keys::parse(spec.unwrap_or(detach_keys::DEFAULT))
}

/// Attach to running container `id` until its program ends (its exit
/// code is ours: `SilentExit` when not 0) or the user detaches (0).
pub fn attach(store: &Store, id: &str, req: &AttachRequest) -> Result<()> {
    let keys = parse_detach_keys(req.detach_keys.as_deref())?;
    let cfg = store.containers.load_config(id)?;
    let state = current_state(store, id)?;
    if !is_running(&state) {
        bail!("you can only attach to running containers");
    }
    let opts = ClientOptions {
        stdin: cfg.stdin && !req.no_stdin,
        tty: cfg.tty,
        detach_keys: keys,
    };
    if req.sig_proxy && !cfg.tty {
        let signals = attach::block_proxied_signals();
        attach::proxy_signals(signals, state.pid, store.containers.stopped_marker(id));
    }
    events::container(store, "attach", &cfg);
    let code = match attach_client::attach(&store.containers.run_dir(id), &opts)? {
        Ended::Detached => return Ok(()),
        Ended::Exited(code) => {
            settle(store, id);
            code
        }
        Ended::Lost => {
            settle(store, id);
            current_state(store, id).map(|s| s.exit_code).unwrap_or(0)
        }
    };
    if code != 0 {
        return Err(SilentExit(code).into());
    }
    Ok(())
}

/// Give the monitor a moment to record the end, so that what the user
/// asks next (`ps`, `inspect`) agrees with the code we return.
fn settle(store: &Store, id: &str) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < until
        && current_state(store, id).is_ok_and(|s| is_running(&s))
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A front end's own connection to running container `id`'s attach
/// socket (the API service relays its client's input through it).
pub struct AttachSocket(std::os::fd::OwnedFd);

impl AttachSocket {
    pub fn connect(store: &Store, id: &str) -> Result<AttachSocket> {
        Ok(AttachSocket(crate::runtime::attach_socket::connect(
            &store.containers.run_dir(id),
        )?))
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.0)
    }

    fn send(&self, kind: u8, data: &[u8]) -> std::io::Result<()> {
        let msg = crate::runtime::attach_socket::frame(kind, data);
        crate::runtime::sys::write_all(self.raw_fd(), &msg)
    }

    pub fn send_stdin(&self, data: &[u8]) -> std::io::Result<()> {
        self.send(crate::runtime::attach_socket::STDIN, data)
    }

    /// The container's stdin ends (its pipe is closed).
    pub fn send_stdin_eof(&self) -> std::io::Result<()> {
        self.send(crate::runtime::attach_socket::STDIN_EOF, &[])
    }

    /// The container's terminal gets this size.
    pub fn send_resize(&self, rows: u16, cols: u16) -> std::io::Result<()> {
        let mut size = rows.to_be_bytes().to_vec();
        size.extend_from_slice(&cols.to_be_bytes());
        self.send(crate::runtime::attach_socket::RESIZE, &size)
    }

    /// Leave once the monitor has read what we sent: it drops a client
    /// whose end is closed when it next has output for it, unread frames
    /// and all, so we half-close and read until it lets us go (bounded).
    pub fn finish(self) {
        use std::io::Read;
        let mut sock = std::os::unix::net::UnixStream::from(self.0);
        let _ = sock.shutdown(std::net::Shutdown::Write);
        let _ = sock.set_read_timeout(Some(std::time::Duration::from_secs(2)));
        let mut buf = [0u8; 16384];
        while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
    }
}
