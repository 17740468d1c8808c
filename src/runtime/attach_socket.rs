//! The monitor's attach socket (`<runroot>/containers/<id>/attach`, owner
//! only): `attach` clients get the container's output as it comes and
//! send its stdin, window size and stdin's end. Framed both ways: a kind
//! byte, a 4-byte big-endian length, the data.

use super::sys;
use anyhow::{bail, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Server to client.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// The program ended: its exit code, 4 bytes big-endian.
pub const EXIT: u8 = 3;
/// Client to server.
pub const STDIN: u8 = 0;
/// Rows and columns, 2 bytes big-endian each.
pub const RESIZE: u8 = 4;
pub const STDIN_EOF: u8 = 5;

/// The socket's name in the container's run directory.
const NAME: &str = "attach";

pub fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5);
    out.push(kind);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Bytes read so far, cut into whole frames.
#[derive(Default)]
pub struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.buf.len() < 5 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if self.buf.len() < 5 + len {
            return None;
        }
        let kind = self.buf[0];
        let data = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Some((kind, data))
    }
}

/// `/proc/self/fd/N/attach` through an open directory: a run directory's
/// path may be longer than a socket address holds (108 bytes).
fn short_path(dir: &OwnedFd) -> String {
    format!("/proc/self/fd/{}/{NAME}", dir.as_raw_fd())
}

fn sockaddr(path: &str) -> Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain data; zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        bail!("socket path {path} is too long");
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    let c = sys::cstr(dir)?;
    // SAFETY: a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        bail!("opening {}: {}", dir.display(), sys::errno());
    }
    // SAFETY: open just made this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn unix_socket(flags: libc::c_int) -> Result<OwnedFd> {
    // SAFETY: socket with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | flags, 0) };
    if fd < 0 {
        bail!("socket: {}", sys::errno());
    }
    // SAFETY: socket just made this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Connect to container's attach socket in `run_dir` (the client's side).
pub fn connect(run_dir: &Path) -> Result<OwnedFd> {
    let dir = open_dir(run_dir)?;
    let (addr, len) = sockaddr(&short_path(&dir))?;
    let sock = unix_socket(libc::SOCK_CLOEXEC)?;
    // SAFETY: addr is a valid sockaddr_un of length len.
    let r = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            &addr as *const libc::sockaddr_un as *const libc::sockaddr,
            len,
        )
    };
    if r != 0 {
        bail!(
            "connecting to the container's attach socket: {}",
            sys::errno()
        );
    }
    Ok(sock)
}

/// What clients sent for the container.
pub enum Input {
    Stdin(Vec<u8>),
    Resize { rows: u16, cols: u16 },
    StdinEof,
}

struct Client {
    fd: OwnedFd,
    frames: Frames,
}

/// The listening socket and its connected clients, served from the
/// monitor's poll loop.
pub struct AttachServer {
    listener: OwnedFd,
    dir: OwnedFd,
    clients: Vec<Client>,
}

impl AttachServer {
    /// Listen in `run_dir` (made if missing), readable and writable by
    /// the owner only.
    pub fn bind(run_dir: &Path) -> Result<AttachServer> {
        std::fs::create_dir_all(run_dir)?;
        let dir = open_dir(run_dir)?;
        let path = short_path(&dir);
        let _ = std::fs::remove_file(&path);
        let (addr, len) = sockaddr(&path)?;
        let listener = unix_socket(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)?;
        // The mode comes from the umask: owner only from the start, no
        // window where others could connect. The monitor is single-threaded.
        // SAFETY: umask and bind on our own socket with a valid address.
        let r = unsafe {
            let old = libc::umask(0o177);
            let r = libc::bind(
                listener.as_raw_fd(),
                &addr as *const libc::sockaddr_un as *const libc::sockaddr,
                len,
            );
            libc::umask(old);
            r
        };
        if r != 0 {
            bail!("binding the attach socket: {}", sys::errno());
        }
        // SAFETY: listen on our own bound socket.
        if unsafe { libc::listen(listener.as_raw_fd(), 16) } != 0 {
            bail!("listening on the attach socket: {}", sys::errno());
        }
        Ok(AttachServer {
            listener,
            dir,
            clients: Vec::new(),
        })
    }

    /// Descriptors to poll: the listener and every client.
    pub fn fds(&self, out: &mut Vec<RawFd>) {
        out.push(self.listener.as_raw_fd());
        out.extend(self.clients.iter().map(|c| c.fd.as_raw_fd()));
    }

    /// Accept new clients and read what the ready ones sent.
    pub fn serve(&mut self, ready: &[RawFd], inputs: &mut Vec<Input>) {
        if ready.contains(&self.listener.as_raw_fd()) {
            self.accept();
        }
        let mut gone = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        for (i, c) in self.clients.iter_mut().enumerate() {
            if !ready.contains(&c.fd.as_raw_fd()) {
                continue;
            }
            // SAFETY: buf is valid for writes of its length.
            let n = unsafe {
                libc::recv(
                    c.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n == 0 || (n < 0 && sys::errno().raw_os_error() != Some(libc::EAGAIN)) {
                gone.push(i);
                continue;
            }
            if n < 0 {
                continue;
            }
            c.frames.push(&buf[..n as usize]);
            while let Some((kind, data)) = c.frames.next_frame() {
                match kind {
                    STDIN => inputs.push(Input::Stdin(data)),
                    STDIN_EOF => inputs.push(Input::StdinEof),
                    RESIZE if data.len() == 4 => inputs.push(Input::Resize {
                        rows: u16::from_be_bytes([data[0], data[1]]),
                        cols: u16::from_be_bytes([data[2], data[3]]),
                    }),
                    _ => {}
                }
            }
        }
        for i in gone.into_iter().rev() {
            self.clients.remove(i);
        }
    }

    fn accept(&mut self) {
        loop {
            // SAFETY: accept4 on our listener; no address wanted.
            let fd = unsafe {
                libc::accept4(
                    self.listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                )
            };
            if fd < 0 {
                return;
            }
            self.clients.push(Client {
                // SAFETY: accept4 just made this fd.
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
                frames: Frames::default(),
            });
        }
    }

    /// Send a frame to every client; one that cannot take it now (it does
    /// not read) is dropped rather than stall the container's output.
    pub fn broadcast(&mut self, kind: u8, data: &[u8]) {
        if self.clients.is_empty() {
            return;
        }
        let msg = frame(kind, data);
        self.clients.retain(|c| send_all(c.fd.as_raw_fd(), &msg));
    }

    /// The program ended with `code`: tell the clients, then let them go.
    pub fn finish(&mut self, code: i32) {
        self.broadcast(EXIT, &code.to_be_bytes());
        self.clients.clear();
    }
}

impl Drop for AttachServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(short_path(&self.dir));
    }
}

/// Write all of `data` without blocking for long: a full socket buffer is
/// given a moment to drain, then the client counts as gone.
fn send_all(fd: RawFd, mut data: &[u8]) -> bool {
    let mut waits = 0;
    while !data.is_empty() {
        // SAFETY: data is valid for reads of its length.
        let n = unsafe {
            libc::send(
                fd,
                data.as_ptr() as *const libc::c_void,
                data.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n > 0 {
            data = &data[n as usize..];
            continue;
        }
        let e = sys::errno().raw_os_error();
        if e == Some(libc::EINTR) {
            continue;
        }
        if e != Some(libc::EAGAIN) || waits >= 20 {
            return false;
        }
        waits += 1;
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 50) };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_being_cut_anywhere() {
        let mut wire = frame(STDOUT, b"hello");
        wire.extend(frame(EXIT, &7i32.to_be_bytes()));
        for cut in 0..wire.len() {
            let mut f = Frames::default();
            f.push(&wire[..cut]);
            let mut got = Vec::new();
            while let Some(x) = f.next_frame() {
                got.push(x);
            }
            f.push(&wire[cut..]);
            while let Some(x) = f.next_frame() {
                got.push(x);
            }
            assert_eq!(
                got,
                vec![(STDOUT, b"hello".to_vec()), (EXIT, vec![0, 0, 0, 7])]
            );
        }
    }
}
