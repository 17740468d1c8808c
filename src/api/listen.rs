//! The listening side of `system service`: the endpoint (a URI, systemd's
//! socket activation, or the default socket), the accept loop that forks
//! one child per connection, and the idle timeout.

use super::{Ctx, ServiceOptions};
use anyhow::{bail, Context, Result};
use rustls::ServerConfig;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the service listens.
#[derive(Debug, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

/// A URI as podman takes it: `unix:///path`, `tcp://host:port` (or the
/// older `tcp:host:port`).
pub fn parse_uri(uri: &str) -> Result<Endpoint> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        bail!("API Service endpoint scheme \"\" is not supported. Try tcp://{uri} or unix://{uri}");
    };
    match scheme {
        "unix" => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                bail!("{uri} is an invalid socket destination");
            }
            let path = Path::new(path);
            Ok(Endpoint::Unix(if path.is_absolute() {
                path.to_path_buf()
            } else {
                std::env::current_dir()?.join(path)
            }))
        }
        "tcp" => {
            let host = rest.strip_prefix("//").unwrap_or(rest).trim_end_matches('/');
            if host.is_empty() || !host.contains(':') {
                bail!("{uri} is an invalid socket destination: a tcp endpoint needs HOST:PORT");
            }
            Ok(Endpoint::Tcp(host.to_string()))
        }
        other => bail!(
            "API Service endpoint scheme {other:?} is not supported. Try tcp://{uri} or unix://{uri}"
        ),
    }
}

/// The descriptor systemd passed (LISTEN_PID is us, LISTEN_FDS is 1), if any.
fn activation_fd() -> Result<Option<OwnedFd>> {
    let Ok(pid) = std::env::var("LISTEN_PID") else {
        return Ok(None);
    };
    if pid.trim() != std::process::id().to_string() {
        return Ok(None);
    }
    let fds: usize = std::env::var("LISTEN_FDS")
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0);
    if fds != 1 {
        bail!("wrong number of file descriptors for socket activation protocol ({fds} != 1)");
    }
    // SAFETY: the socket activation protocol hands us descriptor 3 and it
    // is ours alone from here on (nothing else in this process names it).
    let fd = unsafe { OwnedFd::from_raw_fd(3) };
    let mut on: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `on`, an int.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut on as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    let listening = rc == 0 && on != 0;
    if !listening {
        bail!("unexpected fd received from systemd: cannot listen on it");
    }
    Ok(Some(fd))
}

/// The default socket: root's /run/podman/podman.sock, a user's under
/// XDG_RUNTIME_DIR, as podman's.
fn default_uri() -> Result<String> {
    if let Ok(v) = std::env::var("PODMAN_SOCKET") {
        if !v.is_empty() {
            return Ok(v);
        }
    }
    let path = if nix::unistd::geteuid().is_root() {
        PathBuf::from("/run/podman/podman.sock")
    } else {
        let xdg = std::env::var("XDG_RUNTIME_DIR")
            .ok()
            .filter(|v| !v.is_empty())
            .context("XDG_RUNTIME_DIR is not set: give the service a URI (unix:///path)")?;
        Path::new(&xdg).join("podman/podman.sock")
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(format!("unix://{}", path.display()))
}

use std::os::unix::fs::DirBuilderExt;

/// Bind a unix socket at `path`, mode 0600 as podman's (made under umask
/// 0177). A stale socket file goes first; one a service answers on, or
/// anything that is not a socket, is an error.
fn bind_unix(path: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            bail!(
                "unable to create socket: {} exists and is not a socket",
                path.display()
            );
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!(
                "unable to create socket: {} is in use by another service",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("removing the stale socket {}", path.display()))?;
    }
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let listener = bound.map_err(|e| anyhow::anyhow!("unable to create socket: {e}"))?;
    Ok(OwnedFd::from(listener))
}

fn bind_tcp(host: &str, tls: bool) -> Result<OwnedFd> {
    if !tls {
        crate::warn!(
            "Using the Podman API service with TCP sockets without TLS is not recommended, please see `podman system service` manpage for details",
        );
    }
    let listener = std::net::TcpListener::bind(host)
        .map_err(|e| anyhow::anyhow!("unable to create socket {host}: {e}"))?;
    Ok(OwnedFd::from(listener))
}

/// Set by SIGTERM and SIGINT: stop accepting and exit.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn set_stop_handlers(install: bool) {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let handler = match install {
        true => SigHandler::Handler(on_stop),
        false => SigHandler::SigDfl,
    };
    let act = SigAction::new(handler, SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; SIG_DFL restores the default.
        let _ = unsafe { sigaction(sig, &act) };
    }
}

/// Listen, accept, fork a child per connection, and exit after
/// `idle_seconds` with no connection open (never when 0).
/// With `tls`, every connection (on any listener, as podman's) is TLS.
pub fn run(opts: &ServiceOptions, tls: Option<Arc<ServerConfig>>, ctx: &Ctx) -> Result<()> {
    let activated = activation_fd()?;
    let (listener, socket_file) = match activated {
        Some(fd) => (fd, None),
        None => {
            let uri = match &opts.uri {
                Some(u) => u.clone(),
                None => default_uri()?,
            };
            match parse_uri(&uri)? {
                Endpoint::Unix(p) => (bind_unix(&p)?, Some(p)),
                Endpoint::Tcp(h) => (bind_tcp(&h, tls.is_some())?, None),
            }
        }
    };
    // Not for the containers: systemd's variables describe our descriptors.
    for v in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        std::env::remove_var(v);
    }
    // Nothing may prompt on our terminal (short names): stdin is /dev/null.
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(null);
    }
    nix::fcntl::fcntl(
        &listener,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    set_stop_handlers(true);
    let result = accept_loop(&listener, opts.idle_seconds, tls, ctx);
    if let Some(p) = socket_file {
        let _ = std::fs::remove_file(p);
    }
    result
}

fn accept_loop(
    listener: &OwnedFd,
    idle_seconds: u64,
    tls: Option<Arc<ServerConfig>>,
    ctx: &Ctx,
) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let idle = Duration::from_secs(idle_seconds);
    let mut live = 0usize;
    let mut last_busy = Instant::now();
    loop {
        live -= reap(live);
        if live > 0 {
            last_busy = Instant::now();
        }
        if STOP.load(Ordering::SeqCst) {
            return Ok(());
        }
        if idle_seconds > 0 && live == 0 && last_busy.elapsed() >= idle {
            crate::debug!("API service: idle for {idle_seconds}s, exiting");
            return Ok(());
        }
        // Wake at least every 250ms to reap children and check the clock.
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(250u16)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waiting for connections"),
        }
        // SAFETY: accept4 on our listening descriptor with no address
        // buffers; the result is a new descriptor we own or -1.
        let fd = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            continue;
        }
        // SAFETY: accept4 returned a fresh descriptor nothing else owns.
        let conn = unsafe { OwnedFd::from_raw_fd(fd) };
        // A reply in several writes (TLS records, streamed bodies) must not
        // wait on the client's delayed ACK (40 ms a time): no Nagle, as Go's
        // servers. A unix socket refuses the option; nothing to do then.
        let one: libc::c_int = 1;
        // SAFETY: setsockopt on our own descriptor with an int option.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        // SAFETY: the listening process is single threaded (it only polls,
        // accepts and reaps), so the child may run any code after fork.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                // The listener is the parent's: a child holding it would
                // keep the socket answering after the service ended.
                // SAFETY: this process never uses the listener again.
                unsafe { libc::close(listener.as_raw_fd()) };
                set_stop_handlers(false);
                let served = match &tls {
                    Some(config) => super::tls::serve_connection(conn, config.clone(), |plain| {
                        super::router::serve_connection(plain, ctx)
                    }),
                    None => super::router::serve_connection(conn, ctx),
                };
                let code = match served {
                    Ok(()) => 0,
                    Err(e) => {
                        crate::debug!("API connection: {e:#}");
                        1
                    }
                };
                std::process::exit(code);
            }
            Ok(nix::unistd::ForkResult::Parent { .. }) => {
                drop(conn);
                live += 1;
                last_busy = Instant::now();
            }
            Err(e) => {
                crate::warn!("cannot fork for a connection: {e}");
            }
        }
    }
}

/// Reap the children that ended; how many.
fn reap(live: usize) -> usize {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut n = 0;
    while n < live {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(_) => n += 1,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_uri("unix:///tmp/x.sock").unwrap(),
            Endpoint::Unix("/tmp/x.sock".into())
        );
        assert_eq!(
            parse_uri("tcp://127.0.0.1:8080").unwrap(),
            Endpoint::Tcp("127.0.0.1:8080".into())
        );
        assert_eq!(
            parse_uri("tcp:localhost:1").unwrap(),
            Endpoint::Tcp("localhost:1".into())
        );
        assert!(parse_uri("http://x").is_err());
        assert!(parse_uri("tcp://nohostport").is_err());
        assert!(parse_uri("/tmp/x").is_err());
    }
}
