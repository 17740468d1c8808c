//! Our own forwarder for published ports where the network helper's falls
//! short:
//!
//! - UDP through pasta: pasta hands datagrams from a loopback sender
//!   straight to a socket in the namespace ("spliced") and sends the
//!   answers back through its reverse port map. In the pasta of Debian 12
//!   (2023-03) that map overflows when the host port is above the container
//!   port (`-p 5353:53/udp`): the request arrives, the answer is dropped.
//!   For such ports the relay serves the host's loopback addresses and pasta
//!   keeps every other address, where its tap path answers correctly and
//!   shows the real sender.
//! - TCP through slirp4netns: its port forwarding goes through a user-mode
//!   TCP stack, at half the throughput of a kernel path. The relay accepts
//!   on the host and splices each connection to the container's port on the
//!   namespace's loopback, as pasta and podman's rootlessport do.
//!
//! The relay is a fork of the monitor: it binds the host sockets, enters the
//! container's user and network namespaces, and forwards from sockets of
//! its own there, so answers come back to it. It dies with the monitor
//! (parent-death signal).

use anyhow::{bail, Context, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use super::sys;

/// A sender with no traffic for this long is forgotten (pasta's timeout).
const FLOW_IDLE: Duration = Duration::from_secs(180);
/// At most this many UDP senders at once; the quietest goes first.
const MAX_FLOWS: usize = 512;
/// Splicing pipes this large move a lot per wakeup (best effort: the
/// user's pipe budget may not allow it).
const PIPE_SIZE: libc::c_int = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One published address the relay serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub proto: Proto,
    pub host: SocketAddr,
    pub container_port: u16,
}

/// Does this pasta lose the answers on a UDP mapping? Its reverse port map
/// holds `host + (container - host) mod 2^16` without the wrap, so any
/// mapping to a lower container port breaks.
pub fn pasta_loses_answers(host_port: u16, container_port: u16) -> bool {
    container_port < host_port
}

/// The loopback addresses a published UDP mapping covers: all of them when
/// it binds every address (`0.0.0.0`, `::`, or none given), else its own
/// when that is a loopback address.
pub fn loopback_addrs(host_ip: &str) -> Vec<IpAddr> {
    let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    match host_ip.parse::<IpAddr>() {
        Err(_) => vec![v4, v6],
        Ok(ip) if ip.is_unspecified() => match ip {
            IpAddr::V4(_) => vec![v4],
            IpAddr::V6(_) => vec![v6],
        },
        Ok(ip) if ip.is_loopback() => vec![ip],
        Ok(_) => Vec::new(),
    }
}

/// Every published port as relay routes (rootless named networks): the
/// host address asked for, else all of IPv4's and, on a host with IPv6,
/// all of IPv6's (each reaching the container's loopback of its family).
pub fn routes_for(ports: &[crate::storage::containers::PortMapping]) -> Result<Vec<Route>> {
    let host_has_v6 = std::path::Path::new("/proc/net/if_inet6").exists();
    let mut routes = Vec::new();
    for p in ports
        .iter()
        .filter(|p| p.protocol == "tcp" || p.protocol == "udp")
    {
        let ips: Vec<IpAddr> = if p.host_ip.is_empty() {
            let mut all = vec![Ipv4Addr::UNSPECIFIED.into()];
            if host_has_v6 {
                all.push(Ipv6Addr::UNSPECIFIED.into());
            }
            all
        } else {
            vec![p
                .host_ip
                .parse()
                .with_context(|| format!("invalid host address in {}", p.display()))?]
        };
        for ip in ips {
            routes.push(Route {
                proto: if p.protocol == "tcp" {
                    Proto::Tcp
                } else {
                    Proto::Udp
                },
                host: SocketAddr::new(ip, p.host_port),
                container_port: p.container_port,
            });
        }
    }
    Ok(routes)
}

/// A running relay process.
pub struct Relay {
    pid: i32,
}

impl Relay {
    /// Kill the relay and wait for it: its ports are free afterwards.
    pub fn stop(&self) {
        // SAFETY: our own child.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// Host-side sockets, bound before the relay enters the namespace.
enum Listener {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

/// Start a relay for `routes` into the network namespace of `target`.
/// Returns once the host addresses are bound and the relay is in the
/// namespace; a host address in use is an error.
pub fn start(target: i32, routes: &[Route]) -> Result<Relay> {
    let (r, w) = sys::pipe()?;
    // SAFETY: getpid cannot fail.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the monitor is single-threaded; the child runs plain code and
    // leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        sys::close(r);
        sys::close(w);
        bail!("fork: {}", sys::errno());
    }
    if pid == 0 {
        sys::close(r);
        sys::close_fds_except(&[w]);
        // SAFETY: prctl with a constant name.
        unsafe { libc::prctl(libc::PR_SET_NAME, c"coracle-ports".as_ptr()) };
        match prepare(target, routes, parent) {
            Ok(listeners) => {
                let _ = sys::write_all(w, b"ok");
                sys::close(w);
                serve(listeners);
            }
            Err(e) => {
                let _ = sys::write_all(w, format!("{e:#}").as_bytes());
            }
        }
        // SAFETY: leave without the monitor's destructors.
        unsafe { libc::_exit(0) }
    }
    sys::close(w);
    let reply = sys::read_to_end(r).unwrap_or_default();
    sys::close(r);
    let relay = Relay { pid };
    if reply != b"ok" {
        relay.stop();
        let msg = String::from_utf8_lossy(&reply);
        if msg.is_empty() {
            bail!("the port relay failed");
        }
        bail!("{msg}");
    }
    Ok(relay)
}

/// In the relay: bind the host side, then move into the container's
/// namespaces.
fn prepare(target: i32, routes: &[Route], parent: i32) -> Result<Vec<(Listener, Route)>> {
    let mut listeners = Vec::new();
    for route in routes {
        let what = match route.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        let sock = bind_reusable(route).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                "the host port is already in use".to_string()
            } else {
                e.to_string()
            };
            anyhow::anyhow!("cannot publish port {}/{what}: {why}", route.host)
        })?;
        listeners.push((sock, route.clone()));
    }
    let ns = |kind: &str| {
        std::fs::File::open(format!("/proc/{target}/ns/{kind}"))
            .with_context(|| format!("opening the container's {kind} namespace"))
    };
    let user = ns("user")?;
    let net = ns("net")?;
    let ino = |f: &std::fs::File| f.metadata().map(|m| m.ino()).unwrap_or(0);
    let same_user =
        std::fs::File::open("/proc/self/ns/user").is_ok_and(|own| ino(&own) == ino(&user));
    // SAFETY: setns on namespace files we opened; this process has one thread.
    unsafe {
        if !same_user && libc::setns(user.as_raw_fd(), libc::CLONE_NEWUSER) != 0 {
            bail!("joining the container's user namespace: {}", sys::errno());
        }
        if libc::setns(net.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
            bail!(
                "joining the container's network namespace: {}",
                sys::errno()
            );
        }
        // After the credential change of setns: it would clear it.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
    }
    Ok(listeners)
}

/// A nonblocking socket bound to the route's host address with
/// SO_REUSEADDR: a UDP one shares the port with pasta's socket on the
/// wildcard address (which has it too; the kernel prefers the exact address
/// for loopback traffic); a TCP one can be bound again at once after a stop.
fn bind_reusable(route: &Route) -> std::io::Result<Listener> {
    let addr = route.host;
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let kind = match route.proto {
        Proto::Tcp => libc::SOCK_STREAM,
        Proto::Udp => libc::SOCK_DGRAM,
    };
    // SAFETY: plain socket calls on an fd owned by the OwnedFd made from it.
    unsafe {
        let fd = libc::socket(family, kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let one: libc::c_int = 1;
        let opt = |level, name| {
            libc::setsockopt(
                fd,
                level,
                name,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        opt(libc::SOL_SOCKET, libc::SO_REUSEADDR);
        if family == libc::AF_INET6 {
            opt(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY);
        }
        let (storage, len) = sockaddr(addr);
        if libc::bind(fd, &storage as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(match route.proto {
            Proto::Udp => Listener::Udp(UdpSocket::from(owned)),
            Proto::Tcp => {
                if libc::listen(fd, 128) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Listener::Tcp(TcpListener::from(owned))
            }
        })
    }
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid; we fill one variant.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large enough for sockaddr_in.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is large enough for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// The namespace's loopback address of the family of `peer`.
fn loopback_like(peer: &SocketAddr) -> IpAddr {
    if peer.is_ipv4() {
        Ipv4Addr::LOCALHOST.into()
    } else {
        Ipv6Addr::LOCALHOST.into()
    }
}

/// One UDP sender: its datagrams go out of `sock`, in the namespace, and
/// what comes back to `sock` goes to it.
struct Flow {
    listener: usize,
    peer: SocketAddr,
    sock: UdpSocket,
    last: Instant,
}

/// A socket in the namespace for `peer`, connected to the container's port
/// on loopback. It keeps the sender's port when it is free there, as pasta
/// does, so the container sees the same source port.
fn flow_socket(peer: SocketAddr, container_port: u16) -> std::io::Result<UdpSocket> {
    let lo = loopback_like(&peer);
    let sock = UdpSocket::bind((lo, peer.port())).or_else(|_| UdpSocket::bind((lo, 0)))?;
    sock.connect((lo, container_port))?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// One direction of a TCP connection: from a socket, through a pipe, to
/// the other.
struct Half {
    pipe_r: i32,
    pipe_w: i32,
    /// Bytes in the pipe, and what it holds at most.
    queued: usize,
    cap: usize,
    /// The source said EOF; once the pipe is empty the sink is shut down.
    eof: bool,
    done: bool,
}

impl Half {
    fn new() -> std::io::Result<Half> {
        let mut fds = [0i32; 2];
        // SAFETY: pipe2 fills the array; fcntl on the pipe we just made.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::fcntl(fds[1], libc::F_SETPIPE_SZ, PIPE_SIZE);
        }
        // SAFETY: as above.
        let cap = unsafe { libc::fcntl(fds[1], libc::F_GETPIPE_SZ) }.max(4096) as usize;
        Ok(Half {
            pipe_r: fds[0],
            pipe_w: fds[1],
            queued: 0,
            cap,
            eof: false,
            done: false,
        })
    }

    /// Move what can move from `from` to `to`. Err: the connection broke.
    fn pump(&mut self, from: i32, to: i32) -> std::io::Result<()> {
        let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
        loop {
            let mut progress = false;
            if !self.eof && self.queued < self.cap {
                // SAFETY: splice between fds we own.
                let n = unsafe {
                    libc::splice(
                        from,
                        std::ptr::null_mut(),
                        self.pipe_w,
                        std::ptr::null_mut(),
                        self.cap - self.queued,
                        flags,
                    )
                };
                match n {
                    0 => self.eof = true,
                    n if n > 0 => {
                        self.queued += n as usize;
                        progress = true;
                    }
                    _ => {
                        let e = std::io::Error::last_os_error();
                        if e.kind() != std::io::ErrorKind::WouldBlock {
                            return Err(e);
                        }
                    }
                }
            }
            if self.queued > 0 {
                // SAFETY: as above.
                let n = unsafe {
                    libc::splice(
                        self.pipe_r,
                        std::ptr::null_mut(),
                        to,
                        std::ptr::null_mut(),
                        self.queued,
                        flags,
                    )
                };
                if n > 0 {
                    self.queued -= n as usize;
                    progress = true;
                } else if n < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() != std::io::ErrorKind::WouldBlock {
                        return Err(e);
                    }
                }
            }
            if self.eof && self.queued == 0 && !self.done {
                // SAFETY: shutdown on a socket we own.
                unsafe { libc::shutdown(to, libc::SHUT_WR) };
                self.done = true;
            }
            if !progress {
                return Ok(());
            }
        }
    }
}

impl Drop for Half {
    fn drop(&mut self) {
        sys::close(self.pipe_r);
        sys::close(self.pipe_w);
    }
}

/// A TCP connection: the host side and ours to the container.
struct Conn {
    outer: TcpStream,
    inner: TcpStream,
    /// Our connection to the container is not established yet.
    connecting: bool,
    up: Half,
    down: Half,
}

/// At most this many TCP connections at once; more wait in the backlog.
const MAX_CONNS: usize = 1024;

/// Start connecting to the container's port for an accepted connection.
/// Nonblocking: a container whose backlog is full must not stall the
/// others.
fn connect_inner(outer: TcpStream, peer: &SocketAddr, container_port: u16) -> Option<Conn> {
    let to = SocketAddr::new(loopback_like(peer), container_port);
    let family = if to.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: a new socket, owned by the TcpStream made from it.
    let inner = unsafe {
        let fd = libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return None;
        }
        let inner = TcpStream::from_raw_fd(fd);
        let (storage, len) = sockaddr(to);
        if libc::connect(fd, &storage as *const _ as *const libc::sockaddr, len) != 0
            && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINPROGRESS)
        {
            return None;
        }
        inner
    };
    outer.set_nonblocking(true).ok()?;
    let _ = outer.set_nodelay(true);
    let _ = inner.set_nodelay(true);
    Some(Conn {
        outer,
        inner,
        connecting: true,
        up: Half::new().ok()?,
        down: Half::new().ok()?,
    })
}

/// Whether a nonblocking connect has failed (checked once it is writable).
fn connect_failed(sock: &TcpStream) -> bool {
    !matches!(sock.take_error(), Ok(None))
}

/// Forward until killed.
fn serve(listeners: Vec<(Listener, Route)>) -> ! {
    let mut flows: Vec<Flow> = Vec::new();
    let mut conns: Vec<Conn> = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        // A socket we want nothing from is left out (fd -1): its hangup
        // would wake us again and again while the other side is full.
        let poll = |fd: i32, events: libc::c_short| libc::pollfd {
            fd: if events == 0 { -1 } else { fd },
            events,
            revents: 0,
        };
        for (l, _) in &listeners {
            let (fd, events) = match l {
                Listener::Udp(s) => (s.as_raw_fd(), libc::POLLIN),
                // At the limit, new connections wait in the backlog.
                Listener::Tcp(s) if conns.len() >= MAX_CONNS => (s.as_raw_fd(), 0),
                Listener::Tcp(s) => (s.as_raw_fd(), libc::POLLIN),
            };
            fds.push(poll(fd, events));
        }
        for f in &flows {
            fds.push(poll(f.sock.as_raw_fd(), libc::POLLIN));
        }
        for c in &conns {
            if c.connecting {
                fds.push(poll(c.outer.as_raw_fd(), 0));
                fds.push(poll(c.inner.as_raw_fd(), libc::POLLOUT));
                continue;
            }
            // Read while the pipe has room, write while it holds data.
            let events = |from: &Half, to: &Half| {
                let mut ev = 0;
                if !from.eof && from.queued < from.cap {
                    ev |= libc::POLLIN;
                }
                if to.queued > 0 {
                    ev |= libc::POLLOUT;
                }
                ev
            };
            fds.push(poll(c.outer.as_raw_fd(), events(&c.up, &c.down)));
            fds.push(poll(c.inner.as_raw_fd(), events(&c.down, &c.up)));
        }
        // SAFETY: fds is a valid array of pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 30_000) };
        if n < 0 {
            continue;
        }
        let now = Instant::now();
        let (n_listen, n_flows) = (listeners.len(), flows.len());
        // Connections first: their slots follow the flows'.
        let mut k = 0;
        conns.retain_mut(|c| {
            let (a, b) = (
                fds[n_listen + n_flows + 2 * k].revents,
                fds[n_listen + n_flows + 2 * k + 1].revents,
            );
            k += 1;
            if a == 0 && b == 0 {
                return true;
            }
            if c.connecting {
                // Refused (nothing listens yet): the outer one closes too.
                if connect_failed(&c.inner) {
                    return false;
                }
                c.connecting = false;
            }
            let (o, i) = (c.outer.as_raw_fd(), c.inner.as_raw_fd());
            let ok = c.up.pump(o, i).is_ok() && c.down.pump(i, o).is_ok();
            ok && !(c.up.done && c.down.done) && (a | b) & (libc::POLLERR | libc::POLLNVAL) == 0
        });
        for (f, flow) in flows.iter_mut().enumerate() {
            if fds[n_listen + f].revents == 0 {
                continue;
            }
            loop {
                match flow.sock.recv(&mut buf) {
                    Ok(len) => {
                        flow.last = now;
                        if let Listener::Udp(s) = &listeners[flow.listener].0 {
                            let _ = s.send_to(&buf[..len], flow.peer);
                        }
                    }
                    // An ICMP error (nothing listens yet): the next datagram may do.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                    Err(_) => break,
                }
            }
        }
        for (i, (listener, route)) in listeners.iter().enumerate() {
            if fds[i].revents == 0 {
                continue;
            }
            match listener {
                Listener::Tcp(l) => {
                    while conns.len() < MAX_CONNS {
                        match l.accept() {
                            Ok((outer, peer)) => {
                                if let Some(c) = connect_inner(outer, &peer, route.container_port) {
                                    conns.push(c);
                                }
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            Err(_) => {
                                // Out of descriptors, say: let some close
                                // rather than spin on the ready listener.
                                std::thread::sleep(Duration::from_millis(10));
                                break;
                            }
                        }
                    }
                }
                Listener::Udp(sock) => {
                    while let Ok((len, peer)) = sock.recv_from(&mut buf) {
                        let at = match flows.iter().position(|f| f.listener == i && f.peer == peer)
                        {
                            Some(at) => at,
                            None => {
                                let Ok(s) = flow_socket(peer, route.container_port) else {
                                    continue;
                                };
                                if flows.len() >= MAX_FLOWS {
                                    if let Some(old) =
                                        (0..flows.len()).min_by_key(|&k| flows[k].last)
                                    {
                                        flows.swap_remove(old);
                                    }
                                }
                                flows.push(Flow {
                                    listener: i,
                                    peer,
                                    sock: s,
                                    last: now,
                                });
                                flows.len() - 1
                            }
                        };
                        let flow = &mut flows[at];
                        flow.last = now;
                        let _ = flow.sock.send(&buf[..len]);
                    }
                }
            }
        }
        flows.retain(|f| now.duration_since(f.last) < FLOW_IDLE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_mappings_need_the_relay() {
        assert!(pasta_loses_answers(5353, 53));
        assert!(!pasta_loses_answers(53, 53));
        assert!(!pasta_loses_answers(5000, 5353));
        assert_eq!(loopback_addrs("").len(), 2);
        assert_eq!(
            loopback_addrs("0.0.0.0"),
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        );
        assert_eq!(
            loopback_addrs("127.0.0.2"),
            vec!["127.0.0.2".parse::<IpAddr>().unwrap()]
        );
        assert!(loopback_addrs("192.0.2.2").is_empty());
        assert_eq!(loopback_addrs("::"), vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]);
    }
}
