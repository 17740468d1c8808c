//! Default routes: which families the host has one for, and waiting, from
//! inside a network namespace, until a helper has added them there.
//!
//! pasta configures the namespace (link, addresses, default routes) early,
//! then spends most of its start filling its packet buffers, and only then
//! reports itself ready. Its tap queues what the program sends meanwhile
//! and its host ports are bound before all of it, so the program may start
//! as soon as the routes are in: the start no longer waits out the buffers.

use anyhow::{bail, Result};

use super::sys;

/// The address families a namespace is expected to get a default route in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Families {
    pub v4: bool,
    pub v6: bool,
}

impl Families {
    pub fn any(self) -> bool {
        self.v4 || self.v6
    }
}

/// The families the current network namespace has a usable default route
/// for, read from /proc (no netlink round trip).
pub fn host_defaults() -> Families {
    Families {
        v4: std::fs::read_to_string("/proc/net/route").is_ok_and(|t| has_v4_default(&t)),
        v6: std::fs::read_to_string("/proc/net/ipv6_route").is_ok_and(|t| has_v6_default(&t)),
    }
}

const RTF_UP: u32 = 0x1;
const RTF_REJECT: u32 = 0x200;

/// /proc/net/route: Iface Destination Gateway Flags ... Mask ..., in hex.
fn has_v4_default(table: &str) -> bool {
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() >= 8
            && f[1] == "00000000"
            && f[7] == "00000000"
            && u32::from_str_radix(f[3], 16)
                .is_ok_and(|fl| fl & RTF_UP != 0 && fl & RTF_REJECT == 0)
    })
}

/// /proc/net/ipv6_route: dest plen src plen next-hop metric refcnt use
/// flags device. The kernel's "unreachable" defaults sit on lo.
fn has_v6_default(table: &str) -> bool {
    table.lines().any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() >= 10
            && f[0].bytes().all(|b| b == b'0')
            && f[1] == "00"
            && f[9] != "lo"
            && u32::from_str_radix(f[8], 16)
                .is_ok_and(|fl| fl & RTF_UP != 0 && fl & RTF_REJECT == 0)
    })
}

/// How waiting ended: the routes are in, or `other` became readable first.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    Routes,
    Other,
}

const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTMGRP_IPV6_ROUTE: u32 = 0x400;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RT_TABLE_MAIN: u8 = 254;
const RTN_UNICAST: u8 = 1;
const NLMSG_HDRLEN: usize = 16;

/// Wait, in the current network namespace, until it has a default route in
/// every family of `want`, or until `other` is readable. Subscribes to
/// route changes before it lists the routes, so none is missed.
pub fn wait_for_defaults(want: Families, other: i32) -> Result<Waited> {
    // SAFETY: a plain netlink socket; closed by the guard below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        bail!("netlink socket: {}", sys::errno());
    }
    let _guard = Closer(fd);
    // SAFETY: a zeroed sockaddr_nl with our groups.
    let rc = unsafe {
        let mut sa: libc::sockaddr_nl = std::mem::zeroed();
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
        libc::bind(
            fd,
            &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if rc != 0 {
        bail!("netlink bind: {}", sys::errno());
    }
    send_route_dump(fd)?;
    let mut seen = Families::default();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: other,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if sys::errno().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            bail!("poll: {}", sys::errno());
        }
        if fds[1].revents != 0 {
            return Ok(Waited::Other);
        }
        if fds[0].revents & libc::POLLIN == 0 {
            bail!("netlink socket closed");
        }
        // SAFETY: reading into our buffer.
        let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if got < 0 {
            // ENOBUFS: events were dropped; the answer is in a new dump.
            if sys::errno().raw_os_error() == Some(libc::ENOBUFS) {
                send_route_dump(fd)?;
                continue;
            }
            bail!("netlink recv: {}", sys::errno());
        }
        note_default_routes(&buf[..got as usize], &mut seen);
        if (seen.v4 || !want.v4) && (seen.v6 || !want.v6) {
            return Ok(Waited::Routes);
        }
    }
}

struct Closer(i32);

impl Drop for Closer {
    fn drop(&mut self) {
        sys::close(self.0);
    }
}

/// Ask for every route of every family.
fn send_route_dump(fd: i32) -> Result<()> {
    // nlmsghdr (16 bytes) then an rtmsg (12 bytes) of family AF_UNSPEC.
    let len = (NLMSG_HDRLEN + 12) as u32;
    let mut msg = Vec::with_capacity(len as usize);
    msg.extend_from_slice(&len.to_ne_bytes());
    msg.extend_from_slice(&RTM_GETROUTE.to_ne_bytes());
    msg.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&[0u8; 12]);
    // SAFETY: sending our buffer to the kernel (address zeroed: pid 0).
    let rc = unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), 0) };
    if rc < 0 {
        bail!("netlink send: {}", sys::errno());
    }
    Ok(())
}

/// Mark the families that `data` (netlink messages) adds a default route
/// of the main table for.
fn note_default_routes(mut data: &[u8], seen: &mut Families) {
    while data.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(data[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes(data[4..6].try_into().expect("2 bytes"));
        if len < NLMSG_HDRLEN || len > data.len() {
            return;
        }
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type.
        let rt = &data[NLMSG_HDRLEN..len];
        if kind == RTM_NEWROUTE
            && rt.len() >= 8
            && rt[1] == 0
            && rt[4] == RT_TABLE_MAIN
            && rt[7] == RTN_UNICAST
        {
            match rt[0] as i32 {
                libc::AF_INET => seen.v4 = true,
                libc::AF_INET6 => seen.v6 = true,
                _ => {}
            }
        }
        // Messages are aligned to 4 bytes.
        let next = (len + 3) & !3;
        data = data.get(next..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_default_needs_a_zero_destination_and_mask_and_an_up_route() {
        let head =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
        let default = "eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        let subnet = "eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert!(has_v4_default(&format!("{head}{subnet}{default}")));
        assert!(!has_v4_default(&format!("{head}{subnet}")));
        let down = default.replace("0003", "0002");
        assert!(!has_v4_default(&format!("{head}{down}")));
    }

    #[test]
    fn v6_default_skips_the_unreachable_one_on_lo() {
        let zero = "00000000000000000000000000000000";
        let real = format!("{zero} 00 {zero} 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0");
        let unreachable =
            format!("{zero} 00 {zero} 00 {zero} ffffffff 00000001 00000000 00200200       lo");
        let subnet = format!("fd000000000000000000000000000000 40 {zero} 00 {zero} 00000100 00000001 00000000 00000001     eth0");
        assert!(has_v6_default(&format!("{subnet}\n{real}\n")));
        assert!(!has_v6_default(&format!("{subnet}\n{unreachable}\n")));
    }

    #[test]
    fn default_routes_are_read_from_netlink_messages() {
        fn route(family: u8, dst_len: u8, table: u8) -> Vec<u8> {
            let mut m = Vec::new();
            m.extend_from_slice(&28u32.to_ne_bytes());
            m.extend_from_slice(&RTM_NEWROUTE.to_ne_bytes());
            m.extend_from_slice(&[0u8; 10]);
            m.extend_from_slice(&[family, dst_len, 0, 0, table, 4, 0, RTN_UNICAST]);
            m.extend_from_slice(&[0u8; 4]);
            m
        }
        let mut seen = Families::default();
        let mut msgs = route(libc::AF_INET6 as u8, 64, RT_TABLE_MAIN);
        msgs.extend(route(libc::AF_INET as u8, 0, 255));
        note_default_routes(&msgs, &mut seen);
        assert_eq!(seen, Families::default());
        msgs.extend(route(libc::AF_INET as u8, 0, RT_TABLE_MAIN));
        note_default_routes(&msgs, &mut seen);
        assert_eq!(
            seen,
            Families {
                v4: true,
                v6: false
            }
        );
    }
}
