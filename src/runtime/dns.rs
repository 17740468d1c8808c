//! A network's name server (as podman's aardvark-dns): a process forked
//! from the monitor of the network's first member, listening on the
//! gateway's port 53 (on the bridge, so only the network reaches it),
//! answering A queries for the members' names and aliases from the
//! network's leases (read anew for every query, so a container started
//! later is found at once and a stopped one is gone), and forwarding any
//! other name to the network's `--dns` servers or the host's resolvers.
//! It exits when the network has no live member left (the last member's
//! detach stops it; it also checks every second, holding the leases' lock
//! so a member joining meanwhile is never left without it).
//!
//! Rootless, its socket is bound in the rootless network namespace (by a
//! child that enters it) while the server itself stays in the host's, so
//! it forwards from there as root's does.

use anyhow::{Context, Result};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sys;
use crate::storage::networks::{self as nets, Leases, Network};
use crate::storage::store::Store;

/// The search domain members' names answer in too.
pub const DOMAIN: &str = "dns.podman";

fn pid_file(runroot: &Path, name: &str) -> PathBuf {
    nets::run_dir(runroot).join(format!("{name}.dns"))
}

/// The server's pid and start time, if it runs.
fn running(runroot: &Path, name: &str) -> Option<i32> {
    let text = std::fs::read_to_string(pid_file(runroot, name)).ok()?;
    let (pid, start) = text.trim().split_once(' ')?;
    let (pid, start): (i32, u64) = (pid.parse().ok()?, start.parse().ok()?);
    sys::process_is(pid, start).then_some(pid)
}

/// Start the network's server unless it runs. Call with the network's
/// leases locked.
pub fn ensure_running(
    store: &Store,
    net: &Network,
    gw: IpAddr,
    rootless: Option<&super::rootless_netns::Netns>,
) -> Result<()> {
    if running(&store.runroot, &net.name).is_some() {
        return Ok(());
    }
    let sock = match rootless {
        None => UdpSocket::bind((gw, 53)),
        Some(ns) => bind_in(ns, gw),
    }
    .with_context(|| format!("starting the DNS server of network {} on {gw}:53", net.name))?;
    let upstream = Upstream::new(&store.root, net);
    let runroot = store.runroot.clone();
    let name = net.name.clone();
    let pid_path = pid_file(&runroot, &name);
    // SAFETY: the monitor is single-threaded here; the children make
    // plain syscalls until the grandchild, a process of its own, serves.
    let child = unsafe { libc::fork() };
    if child < 0 {
        anyhow::bail!("forking the DNS server: {}", sys::errno());
    }
    if child == 0 {
        // SAFETY: as above; the intermediate child only forks and exits.
        let server = unsafe { libc::fork() };
        if server == 0 {
            sys::detach_into_background(&[sock.as_raw_fd()]);
            sys::set_process_title(&format!("coracle dns {name}"));
            serve(sock, &runroot, &name, upstream);
            // SAFETY: leave without running the monitor's destructors.
            unsafe { libc::_exit(0) };
        }
        if server > 0 {
            let start = sys::process_start_time(server).unwrap_or(0);
            let _ = std::fs::write(&pid_path, format!("{server} {start}\n"));
        }
        // SAFETY: as above.
        unsafe { libc::_exit(if server > 0 { 0 } else { 1 }) };
    }
    drop(sock);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        anyhow::bail!("starting the DNS server of network {}", net.name);
    }
    Ok(())
}

/// A socket bound in the rootless network namespace, made by a child that
/// enters it and passes the socket back (this process stays where it is).
fn bind_in(ns: &super::rootless_netns::Netns, gw: IpAddr) -> std::io::Result<UdpSocket> {
    use std::os::fd::{AsFd, FromRawFd};
    let (ours, theirs) = sys::owned_socketpair().map_err(std::io::Error::other)?;
    // SAFETY: single-threaded caller; the child makes plain syscalls and
    // leaves with _exit.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if child == 0 {
        drop(ours);
        let code = (|| -> std::io::Result<()> {
            ns.enter_userns().map_err(std::io::Error::other)?;
            // SAFETY: setns on an fd we hold; this child has one thread.
            if unsafe { libc::setns(ns.net.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let sock = UdpSocket::bind((gw, 53))?;
            super::process::send_fd(theirs.as_fd(), sock.as_fd()).map_err(std::io::Error::other)
        })()
        .map_or(1, |_| 0);
        // SAFETY: leave without the caller's destructors.
        unsafe { libc::_exit(code) };
    }
    drop(theirs);
    let got = super::process::recv_fd(ours.as_fd());
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    let fd =
        got.map_err(|_| std::io::Error::other("cannot bind in the rootless network namespace"))?;
    // SAFETY: a socket fd we just received and own.
    Ok(unsafe { UdpSocket::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)) })
}

/// Stop the network's server, if it runs.
pub fn stop(store: &Store, name: &str) {
    if let Some(pid) = running(&store.runroot, name) {
        // SAFETY: a process we verified is this network's server.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let _ = std::fs::remove_file(pid_file(&store.runroot, name));
}

/// Where names outside the network go: its `--dns` servers, else the
/// host's (the server runs in the host's namespace: loopback ones work).
fn upstream_servers(net: &Network) -> Vec<SocketAddr> {
    if net.internal {
        return Vec::new();
    }
    let list: Vec<String> = if net.network_dns_servers.is_empty() {
        std::fs::read_to_string("/etc/resolv.conf")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver"))
            .map(|s| s.trim().to_string())
            .collect()
    } else {
        net.network_dns_servers.clone()
    };
    list.iter()
        .filter_map(|s| s.parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The servers names outside the network go to, read again when the
/// network's file changes (`network update --dns-add/--dns-drop` reaches
/// running members within a second).
struct Upstream {
    file: std::path::PathBuf,
    seen: Option<(std::time::SystemTime, u64)>,
    checked: std::time::Instant,
    servers: Vec<SocketAddr>,
}

impl Upstream {
    fn new(root: &Path, net: &Network) -> Upstream {
        let file = nets::config_path(root, &net.name);
        Upstream {
            seen: Self::stamp(&file),
            file,
            checked: std::time::Instant::now(),
            servers: upstream_servers(net),
        }
    }

    fn stamp(file: &Path) -> Option<(std::time::SystemTime, u64)> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(file).ok()?;
        Some((m.modified().ok()?, m.ino()))
    }

    /// The current list, looking at the file at most once a second.
    fn servers(&mut self) -> &[SocketAddr] {
        if self.checked.elapsed() >= Duration::from_secs(1) {
            self.checked = std::time::Instant::now();
            let now = Self::stamp(&self.file);
            if now.is_some() && now != self.seen {
                self.seen = now;
                if let Ok(Some(net)) = crate::storage::atomic::read_json::<Network>(&self.file) {
                    self.servers = upstream_servers(&net);
                }
            }
        }
        &self.servers
    }
}

/// The server's loop; returns when the network has no live member.
fn serve(sock: UdpSocket, runroot: &Path, name: &str, mut upstream: Upstream) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 1500];
    loop {
        match sock.recv_from(&mut buf) {
            Ok((n, peer)) => {
                let query = &buf[..n];
                let leases = nets::read_leases(runroot, name);
                let servers = upstream.servers();
                match answer(query, &leases, servers.is_empty()) {
                    Some(reply) => {
                        let _ = sock.send_to(&reply, peer);
                    }
                    None => forward(&sock, query.to_vec(), peer, servers.to_vec()),
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if no_member_left(runroot, name) {
                    return;
                }
            }
            Err(_) => {}
        }
    }
}

/// Under the leases' lock: none of the members' monitors runs. The pid
/// file goes then, so a member joining after sees no server and starts one.
fn no_member_left(runroot: &Path, name: &str) -> bool {
    let Ok(mut leases) = Leases::open(runroot, name) else {
        return false;
    };
    leases.forget_dead(|l| sys::process_is(l.pid, l.pid_start));
    if !leases.list.is_empty() {
        return false;
    }
    let _ = std::fs::remove_file(pid_file(runroot, name));
    true
}

/// Ask the upstream servers in a thread of its own (a slow one must not
/// hold the members' queries) and pass the first answer back.
fn forward(sock: &UdpSocket, query: Vec<u8>, peer: SocketAddr, upstream: Vec<SocketAddr>) {
    let Ok(reply_sock) = sock.try_clone() else {
        return;
    };
    std::thread::spawn(move || {
        for server in upstream {
            let bind: SocketAddr = if server.is_ipv4() {
                "0.0.0.0:0".parse().expect("literal")
            } else {
                "[::]:0".parse().expect("literal")
            };
            let Ok(up) = UdpSocket::bind(bind) else {
                continue;
            };
            let _ = up.set_read_timeout(Some(Duration::from_secs(3)));
            if up.send_to(&query, server).is_err() {
                continue;
            }
            let mut buf = [0u8; 4096];
            if let Ok((n, _)) = up.recv_from(&mut buf) {
                let _ = reply_sock.send_to(&buf[..n], peer);
                return;
            }
        }
        if let Some(fail) = error_reply(&query, RCODE_SERVFAIL) {
            let _ = reply_sock.send_to(&fail, peer);
        }
    });
}

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_ANY: u16 = 255;
const RCODE_SERVFAIL: u8 = 2;
const RCODE_NXDOMAIN: u8 = 3;

/// A parsed question: the name (lower case, no trailing dot), its type,
/// and where the question section ends.
struct Question {
    name: String,
    qtype: u16,
    end: usize,
}

fn question(q: &[u8]) -> Option<Question> {
    if q.len() < 12 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    let mut at = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = *q.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(q.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*q.get(at)?, *q.get(at + 1)?]);
    q.get(at + 3)?;
    Some(Question {
        name: labels.join("."),
        qtype,
        end: at + 4,
    })
}

/// The reply's header and question: the query's id, question and RD bit.
fn reply_head(q: &[u8], qn: &Question, rcode: u8, answers: u16) -> Vec<u8> {
    let mut r = Vec::with_capacity(qn.end + 16 * answers as usize);
    r.extend_from_slice(&q[0..2]);
    // QR, opcode from the query, AA, RD from the query; RA, rcode.
    r.push(0x80 | (q[2] & 0x78) | 0x04 | (q[2] & 0x01));
    r.push(0x80 | rcode);
    r.extend_from_slice(&1u16.to_be_bytes());
    r.extend_from_slice(&answers.to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&q[12..qn.end]);
    r
}

fn error_reply(q: &[u8], rcode: u8) -> Option<Vec<u8>> {
    let qn = question(q)?;
    Some(reply_head(q, &qn, rcode, 0))
}

/// The answer for a member's name, an NXDOMAIN for other names in our
/// domain (or any name when nothing is forwarded), or None: forward it.
fn answer(q: &[u8], leases: &[nets::Lease], no_upstream: bool) -> Option<Vec<u8>> {
    let Some(qn) = question(q) else {
        // Not a query we can read: say so rather than stay silent.
        return (q.len() >= 12).then(|| {
            let mut r = q[..12].to_vec();
            r[2] |= 0x80;
            r[3] = 0x80 | 1;
            r[4..12].fill(0);
            r
        });
    };
    let short = qn
        .name
        .strip_suffix(DOMAIN)
        .map(|s| s.trim_end_matches('.'))
        .unwrap_or(&qn.name);
    let members: Vec<&nets::Lease> = leases
        .iter()
        .filter(|l| l.names.iter().any(|n| n.eq_ignore_ascii_case(short)))
        .collect();
    if members.is_empty() {
        let ours = qn.name == DOMAIN || qn.name.ends_with(&format!(".{DOMAIN}"));
        return (ours || no_upstream).then(|| reply_head(q, &qn, RCODE_NXDOMAIN, 0));
    }
    // A member without an address of the kind asked: the name exists,
    // with no record (not an error).
    let mut records: Vec<(u16, Vec<u8>)> = Vec::new();
    if matches!(qn.qtype, TYPE_A | TYPE_ANY) {
        records.extend(
            members
                .iter()
                .filter_map(|l| l.ip)
                .map(|ip| (TYPE_A, ip.octets().to_vec())),
        );
    }
    if matches!(qn.qtype, TYPE_AAAA | TYPE_ANY) {
        records.extend(
            members
                .iter()
                .filter_map(|l| l.ip6)
                .map(|ip| (TYPE_AAAA, ip.octets().to_vec())),
        );
    }
    let mut r = reply_head(q, &qn, 0, records.len() as u16);
    for (kind, data) in records {
        // The name: a pointer to the question's.
        r.extend_from_slice(&[0xc0, 0x0c]);
        r.extend_from_slice(&kind.to_be_bytes());
        r.extend_from_slice(&1u16.to_be_bytes());
        r.extend_from_slice(&60u32.to_be_bytes());
        r.extend_from_slice(&(data.len() as u16).to_be_bytes());
        r.extend_from_slice(&data);
    }
    Some(r)
}

/// A container's /etc/resolv.conf on a network with DNS: the network's
/// server first, our domain searched first (unless the user chose --dns).
pub fn resolv_conf(gateway: IpAddr) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut search = vec![DOMAIN.to_string()];
    let mut options = Vec::new();
    for line in host.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("search") | Some("domain") => search.extend(f.map(str::to_string)),
            Some("options") => options.extend(f.map(str::to_string)),
            _ => {}
        }
    }
    let mut out = format!("search {}\nnameserver {gateway}\n", search.join(" "));
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    fn lease(names: &[&str], ip: &str) -> nets::Lease {
        nets::Lease {
            names: names.iter().map(|s| s.to_string()).collect(),
            ip: Some(ip.parse().unwrap()),
            ip6: None,
            container_id: String::new(),
            mac: String::new(),
            pid: 0,
            pid_start: 0,
        }
    }

    #[test]
    fn members_are_answered_by_name_and_alias() {
        let leases = [lease(&["db", "database"], "10.89.0.2")];
        for name in ["db", "DATABASE", "db.dns.podman"] {
            let r = answer(&query(name, TYPE_A), &leases, false).unwrap();
            assert_eq!(&r[0..2], &[0x12, 0x34]);
            assert_eq!(r[3] & 0x0f, 0, "{name}");
            assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1);
            assert_eq!(&r[r.len() - 4..], &[10, 89, 0, 2]);
        }
        // AAAA of a member: the name exists, no address of that kind.
        let r = answer(&query("db", 28), &leases, false).unwrap();
        assert_eq!((r[3] & 0x0f, u16::from_be_bytes([r[6], r[7]])), (0, 0));
        // A member with IPv6: its AAAA.
        let mut l6 = lease(&["web"], "10.89.0.3");
        l6.ip6 = Some("fd00::3".parse().unwrap());
        let r = answer(&query("web", TYPE_AAAA), &[l6], false).unwrap();
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1);
        assert_eq!(
            &r[r.len() - 16..],
            &"fd00::3".parse::<std::net::Ipv6Addr>().unwrap().octets()
        );
        // Ours but unknown: NXDOMAIN; elsewhere: forwarded.
        let r = answer(&query("web.dns.podman", TYPE_A), &leases, false).unwrap();
        assert_eq!(r[3] & 0x0f, RCODE_NXDOMAIN);
        assert!(answer(&query("example.com", TYPE_A), &leases, false).is_none());
        assert!(answer(&query("example.com", TYPE_A), &leases, true).is_some());
    }
}
