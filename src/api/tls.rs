//! TLS for `system service` (`--tls-cert`, `--tls-key`, `--tls-client-ca`):
//! the serving certificate and the client CA read once, before anything
//! listens; then each connection's process does the handshake and becomes
//! a pump between the client's encrypted socket and a plain socket pair
//! whose other end a process of its own serves exactly as a plain
//! connection. So every path that polls, reads and writes the
//! connection's descriptor directly (hijacked attach and exec streams,
//! half-closes, a client gone) works unchanged over TLS.

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The files `--tls-cert`, `--tls-key` and `--tls-client-ca` named.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Clients must present a certificate this bundle signed.
    pub client_ca: Option<PathBuf>,
}

/// The server's TLS settings from the files, every problem an error here.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>> {
    let certs = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| pem_error(&files.key, "private key", e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(ca)? {
                roots
                    .add(c)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| {
        let why = match e {
            rustls::Error::InconsistentKeys(_) => "the key is not the certificate's".to_string(),
            other => other.to_string(),
        };
        anyhow::anyhow!(
            "{} and {}: {why}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    Ok(Arc::new(config))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(path, "certificate", e))?;
    if certs.is_empty() {
        bail!("{}: no PEM certificate in it", path.display());
    }
    Ok(certs)
}

fn pem_error(path: &Path, what: &str, e: rustls::pki_types::pem::Error) -> anyhow::Error {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(io) => anyhow::anyhow!("reading {}: {io}", path.display()),
        E::NoItemsFound => anyhow::anyhow!("{}: no PEM {what} in it", path.display()),
        other => anyhow::anyhow!("{}: not a PEM {what}: {other:?}", path.display()),
    }
}

/// What Go's server (podman's) answers a plain HTTP request made to its
/// TLS port.
const PLAIN_HTTP_REPLY: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// The first bytes of a plain HTTP request rather than a TLS record.
fn looks_like_http(head: &[u8]) -> bool {
    [
        &b"GET /"[..],
        b"HEAD ",
        b"POST ",
        b"PUT /",
        b"OPTIO",
        b"DELET",
        b"PATCH",
    ]
    .iter()
    .any(|m| head.starts_with(m))
}

/// Serve one accepted connection over TLS: the handshake here, then
/// `serve` runs in a child on the plain end of a socket pair while this
/// process moves bytes between it and the client until both are done.
pub fn serve_connection(
    sock: OwnedFd,
    config: Arc<ServerConfig>,
    serve: impl FnOnce(OwnedFd) -> Result<()>,
) -> Result<()> {
    let mut sock = std::fs::File::from(sock);
    // A TLS record header is 5 bytes; Go checks those for a plain request.
    let mut head = Vec::with_capacity(5);
    while head.len() < 5 {
        let mut b = [0u8; 5];
        let n = read_retrying(&mut sock, &mut b[..5 - head.len()])?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&b[..n]);
    }
    if looks_like_http(&head) {
        let _ = sock.write_all(PLAIN_HTTP_REPLY);
        // Read the rest of the request a little while: closing on unread
        // bytes would reset the connection before the client read the reply.
        // SAFETY: shutdown on our own open socket.
        unsafe { libc::shutdown(sock.as_raw_fd(), libc::SHUT_WR) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        let mut rest = [0u8; 4096];
        while std::time::Instant::now() < deadline {
            let mut pfd = libc::pollfd {
                fd: sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd for our own open socket.
            let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
            if ready > 0 && !matches!(sock.read(&mut rest), Ok(n) if n > 0) {
                break;
            }
        }
        bail!("a plain HTTP request on the TLS listener");
    }
    let mut tls = rustls::ServerConnection::new(config)?;
    tls.set_buffer_limit(None);
    tls.read_tls(&mut &head[..])?;
    while tls.is_handshaking() {
        let (read, _) = tls
            .complete_io(&mut sock)
            .context("TLS handshake with the client")?;
        if read == 0 && tls.is_handshaking() && !tls.wants_write() {
            bail!("the client closed the connection within the TLS handshake");
        }
    }
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    // SAFETY: this process is single threaded (forked from the listener,
    // which is), so the child may run any code.
    let server = match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            // Only the pump holds the client's socket and the TLS state.
            drop(sock);
            drop(ours);
            let code = match serve(OwnedFd::from(theirs)) {
                Ok(()) => 0,
                Err(e) => {
                    crate::debug!("API connection: {e:#}");
                    1
                }
            };
            std::process::exit(code);
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(theirs);
    let pumped = pump(&mut tls, &sock, ours);
    // The client is done (or gone) and the serving end closed: the
    // server sees its connection end and exits.
    drop(sock);
    let _ = nix::sys::wait::waitpid(server, None);
    pumped
}

fn read_retrying(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match f.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The most of the client's plaintext held for a server that reads slowly
/// before the client's socket is left unread.
const INPUT_HELD_MAX: usize = 1 << 20;

/// Move bytes both ways until the server closed its end and everything it
/// wrote went out (then a close_notify), or the client's socket failed.
/// The client's end of input (close_notify, or the socket's half-close)
/// becomes a half-close of the plain end, as a plain connection's would.
fn pump(
    tls: &mut rustls::ServerConnection,
    sock: &std::fs::File,
    mut plain: std::os::unix::net::UnixStream,
) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    set_nonblocking(sock.as_fd())?;
    plain.set_nonblocking(true)?;
    let mut sock_io = sock;
    let mut to_server: Vec<u8> = Vec::new();
    let mut client_ended;
    let mut server_told_end = false;
    let mut server_ended = false;
    let mut buf = vec![0u8; 16384];
    client_ended = take_plaintext(tls, &mut to_server, &mut buf);
    loop {
        if client_ended && to_server.is_empty() && !server_told_end {
            let _ = plain.shutdown(std::net::Shutdown::Write);
            server_told_end = true;
        }
        if server_ended && !tls.wants_write() {
            return Ok(());
        }
        let mut sock_events = PollFlags::empty();
        if !client_ended && to_server.len() < INPUT_HELD_MAX {
            sock_events |= PollFlags::POLLIN;
        }
        if tls.wants_write() {
            sock_events |= PollFlags::POLLOUT;
        }
        let mut plain_events = PollFlags::empty();
        // What the server wrote is read only once the last of it went out.
        if !server_ended && !tls.wants_write() {
            plain_events |= PollFlags::POLLIN;
        }
        if !to_server.is_empty() {
            plain_events |= PollFlags::POLLOUT;
        }
        // A descriptor with nothing wanted stays out: its hang-up would
        // wake every poll.
        let mut fds = Vec::with_capacity(2);
        if !sock_events.is_empty() {
            fds.push(PollFd::new(sock.as_fd(), sock_events));
        }
        if !plain_events.is_empty() {
            fds.push(PollFd::new(plain.as_fd(), plain_events));
        }
        if fds.is_empty() {
            // Nothing can move: the client ended and the server's bytes
            // are held up behind nothing (cannot happen); done.
            return Ok(());
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waiting on the connection"),
            Ok(_) => {}
        }
        let revents = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        let sock_ready = if sock_events.is_empty() {
            PollFlags::empty()
        } else {
            revents(0)
        };
        let plain_ready = match (sock_events.is_empty(), plain_events.is_empty()) {
            (_, true) => PollFlags::empty(),
            (true, false) => revents(0),
            (false, false) => revents(1),
        };
        drop(fds);
        let woke = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        // Hung up both ways (or reset) with no input wanted: nothing more
        // can reach the client.
        if client_ended && sock_ready.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
            return Ok(());
        }

        if sock_events.contains(PollFlags::POLLIN) && sock_ready.intersects(woke) {
            match tls.read_tls(&mut sock_io) {
                Ok(0) => client_ended = true,
                Ok(_) => {
                    if let Err(e) = tls.process_new_packets() {
                        // The alert goes out if it can; the client is done.
                        let _ = tls.write_tls(&mut sock_io);
                        return Err(e).context("TLS from the client");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Reset: the client is gone; closing our end tells the server.
                Err(e) => return Err(e).context("reading from the client"),
            }
        }
        // (The handshake may have read the first request already.)
        if !client_ended {
            client_ended = take_plaintext(tls, &mut to_server, &mut buf);
        }
        if !to_server.is_empty()
            && plain_ready.intersects(PollFlags::POLLOUT | PollFlags::POLLERR | PollFlags::POLLHUP)
        {
            match plain.write(&to_server) {
                Ok(n) => {
                    to_server.drain(..n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) => {}
                // The server stopped reading (it closed): the rest is dropped.
                Err(_) => {
                    to_server.clear();
                    client_ended = true;
                }
            }
        }
        if plain_events.contains(PollFlags::POLLIN) && plain_ready.intersects(woke) {
            match plain.read(&mut buf) {
                Ok(0) => {
                    server_ended = true;
                    tls.send_close_notify();
                }
                Ok(n) => tls.writer().write_all(&buf[..n])?,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => {
                    server_ended = true;
                    tls.send_close_notify();
                }
            }
        }
        while tls.wants_write() {
            match tls.write_tls(&mut sock_io) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("writing to the client"),
            }
        }
    }
}

/// Move what the client's records decrypted to into `out`; whether its
/// input ended (a close_notify, or the socket's end without one).
fn take_plaintext(tls: &mut rustls::ServerConnection, out: &mut Vec<u8>, buf: &mut [u8]) -> bool {
    loop {
        match tls.reader().read(buf) {
            Ok(0) => return true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

fn set_nonblocking(fd: std::os::fd::BorrowedFd) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_requests_are_told_apart() {
        assert!(looks_like_http(b"GET /_ping HTTP/1.1"));
        assert!(looks_like_http(b"POST /v1.41/containers/create"));
        // a TLS handshake record: type 22, version 3.1
        assert!(!looks_like_http(&[22, 3, 1, 0, 200]));
    }

    #[test]
    fn bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let files = TlsFiles {
            cert: junk.clone(),
            key: junk.clone(),
            client_ca: None,
        };
        let e = format!("{:#}", server_config(&files).unwrap_err());
        assert!(e.contains("no PEM certificate"), "{e}");
        let files = TlsFiles {
            cert: dir.path().join("missing.pem"),
            key: junk,
            client_ca: None,
        };
        let e = format!("{:#}", server_config(&files).unwrap_err());
        assert!(e.contains("reading") && e.contains("missing.pem"), "{e}");
    }
}
