//! The kernel's path for published TCP ports of root containers, for
//! clients on the host itself: a veth link into the container's network
//! namespace and nftables DNAT in the host's output hook, as podman's
//! bridge does. A connection through our relay crosses the TCP stack twice
//! and a user process on the way; through NAT it crosses once.
//!
//! The relay stays bound to the published addresses: it reserves them
//! (nobody else can bind the port while the container runs), serves the
//! clients from other hosts (the prerouting path would need forwarding,
//! which the host's firewall may forbid), and serves everyone until the
//! rules are in, so setting them up never delays the start. Any failure
//! here only leaves the relay serving alone.

use anyhow::{bail, Context, Result};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::net_endpoint::run;
use crate::storage::containers::PortMapping;

const TABLE: &str = "coracle";
/// The file in the container's run dir naming its map elements, for
/// whoever removes them (the monitor, or the command that finds it dead).
const ELEMENTS_FILE: &str = "nat-ports";
/// The container's end of the link.
const CONTAINER_IF: &str = "ports0";
/// Host ends are `corp<N>`, N also choosing the link's /30.
const HOST_IF_PREFIX: &str = "corp";
const MAX_LINKS: u32 = 15000;

/// A container's port link and its DNAT elements.
pub struct PortNat {
    run_dir: PathBuf,
}

impl PortNat {
    /// Remove the container's DNAT elements (its link goes with its
    /// network namespace).
    pub fn remove(&self) {
        remove(&self.run_dir);
    }
}

/// The mappings NAT can serve: TCP on an IPv4 address or every address.
fn nat_ports(ports: &[PortMapping]) -> Vec<(Option<Ipv4Addr>, &PortMapping)> {
    ports
        .iter()
        .filter(|p| p.protocol == "tcp")
        .filter_map(|p| match p.host_ip.as_str() {
            "" | "0.0.0.0" => Some((None, p)),
            ip => ip.parse::<Ipv4Addr>().ok().map(|a| (Some(a), p)),
        })
        .collect()
}

/// Whether a root container with these ports gets NAT: it has TCP ports
/// on IPv4 and nftables is installed.
pub fn wanted(rootless: bool, ports: &[PortMapping]) -> bool {
    !rootless && !nat_ports(ports).is_empty() && super::network::find_program("nft").is_some()
}

/// The /30 of link `n`: 169.254.4.0 upwards, skipping 169.254.169.0/24
/// (cloud metadata lives there).
fn link_net(n: u32) -> Ipv4Addr {
    let mut base = u32::from(Ipv4Addr::new(169, 254, 4, 0)) + n * 4;
    if base >= u32::from(Ipv4Addr::new(169, 254, 169, 0)) {
        base += 256;
    }
    Ipv4Addr::from(base)
}

/// Link the namespace of `pid` to the host, and point its published TCP
/// ports there for local clients.
pub fn setup(pid: i32, ports: &[PortMapping], run_dir: &Path) -> Result<PortNat> {
    let (n, net) = add_link(pid)?;
    let ctr_ip = Ipv4Addr::from(u32::from(net) + 2);
    let host_if = format!("{HOST_IF_PREFIX}{n}");
    // Host-side packets from 127.0.0.1 may leave through this link (to be
    // masqueraded) only with route_localnet.
    std::fs::write(
        format!("/proc/sys/net/ipv4/conf/{host_if}/route_localnet"),
        "1",
    )
    .context("allowing loopback sources on the port link")?;
    run(
        Command::new("nsenter")
            .arg(format!("--net=/proc/{pid}/ns/net"))
            .args(["ip", "-batch", "-"]),
        &format!("addr add {ctr_ip}/30 dev {CONTAINER_IF}\nlink set {CONTAINER_IF} up\n"),
    )
    .context("configuring the container's end of the port link")?;
    let elements: Vec<String> = nat_ports(ports)
        .into_iter()
        .map(|(addr, p)| match addr {
            None => format!(
                "tcp_any {{ {} : {ctr_ip} . {} }}",
                p.host_port, p.container_port
            ),
            Some(a) => format!(
                "tcp_addr {{ {a} . {} : {ctr_ip} . {} }}",
                p.host_port, p.container_port
            ),
        })
        .collect();
    std::fs::write(run_dir.join(ELEMENTS_FILE), elements.join("\n"))
        .context("recording the container's NAT elements")?;
    let add: String = elements
        .iter()
        .map(|e| format!("add element ip {TABLE} {e}\n"))
        .collect();
    if run(
        Command::new("nft").arg("-f").arg("-"),
        &format!("{}{add}", ruleset()),
    )
    .is_err()
    {
        // A killed container's elements may still hold the keys: the
        // relay's reservation says the ports are ours now.
        let delete: String = elements
            .iter()
            .map(|e| format!("delete element ip {TABLE} {}\n", key_only(e)))
            .collect();
        for d in delete.lines() {
            let _ = run(Command::new("nft").arg("-f").arg("-"), d);
        }
        run(
            Command::new("nft").arg("-f").arg("-"),
            &format!("{}{add}", ruleset()),
        )
        .context("adding the DNAT rules")?;
    }
    Ok(PortNat {
        run_dir: run_dir.to_path_buf(),
    })
}

/// Remove the DNAT elements a container recorded in `run_dir`, if any.
pub fn remove(run_dir: &Path) {
    let file = run_dir.join(ELEMENTS_FILE);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return;
    };
    // One command per element: one missing must not keep the others.
    for e in text.lines().filter(|l| !l.is_empty()) {
        let _ = run(
            Command::new("nft").arg("-f").arg("-"),
            &format!("delete element ip {TABLE} {}\n", key_only(e)),
        );
    }
    let _ = std::fs::remove_file(&file);
}

/// `tcp_any { 8080 : 169.254.4.2 . 80 }` -> `tcp_any { 8080 }`.
fn key_only(element: &str) -> String {
    match element.split_once(" : ") {
        Some((head, _)) => format!("{head} }}"),
        None => element.to_string(),
    }
}

/// The table, idempotently: maps are kept, the chains' rules rewritten.
fn ruleset() -> String {
    format!(
        "add table ip {TABLE}
add map ip {TABLE} tcp_any {{ type inet_service : ipv4_addr . inet_service; }}
add map ip {TABLE} tcp_addr {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
add chain ip {TABLE} output {{ type nat hook output priority -100; policy accept; }}
add chain ip {TABLE} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
flush chain ip {TABLE} output
flush chain ip {TABLE} postrouting
add rule ip {TABLE} output fib daddr type local dnat ip to tcp dport map @tcp_any
add rule ip {TABLE} output dnat ip to ip daddr . tcp dport map @tcp_addr
add rule ip {TABLE} postrouting oifname \"{HOST_IF_PREFIX}*\" masquerade
"
    )
}

/// Create the veth pair: the first free `corp<N>` on the host, `ports0`
/// in the namespace of `pid`, the host end addressed and up.
fn add_link(pid: i32) -> Result<(u32, Ipv4Addr)> {
    let taken: std::collections::HashSet<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut tries = 0;
    for n in 0..MAX_LINKS {
        let name = format!("{HOST_IF_PREFIX}{n}");
        if taken.contains(&name) {
            continue;
        }
        let net = link_net(n);
        let host_ip = Ipv4Addr::from(u32::from(net) + 1);
        let script = format!(
            "link add {name} type veth peer name {CONTAINER_IF} netns {pid}\naddr add {host_ip}/30 dev {name}\nlink set {name} up\n"
        );
        match run(Command::new("ip").args(["-batch", "-"]), &script) {
            Ok(()) => return Ok((n, net)),
            // Another container took it since we looked: try the next.
            Err(e) if format!("{e:#}").contains("File exists") && tries < 8 => tries += 1,
            Err(e) => return Err(e).context("creating the port link"),
        }
    }
    bail!("no free port link name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_get_distinct_30s_outside_the_metadata_range() {
        assert_eq!(link_net(0), Ipv4Addr::new(169, 254, 4, 0));
        assert_eq!(link_net(1), Ipv4Addr::new(169, 254, 4, 4));
        // RFC 3927 keeps 169.254.255.0/24 back.
        let last = link_net(MAX_LINKS - 1);
        assert!(last.octets()[2] < 255, "{last}");
        for n in 0..MAX_LINKS {
            assert_ne!(link_net(n).octets()[2], 169, "link {n}");
        }
    }

    #[test]
    fn only_tcp_on_ipv4_or_every_address_is_natted() {
        let map = |ip: &str, proto: &str| PortMapping {
            host_ip: ip.into(),
            host_port: 8080,
            container_port: 80,
            protocol: proto.into(),
        };
        let ports = [
            map("", "tcp"),
            map("127.0.0.1", "tcp"),
            map("::1", "tcp"),
            map("", "udp"),
        ];
        let got: Vec<Option<Ipv4Addr>> = nat_ports(&ports).into_iter().map(|(a, _)| a).collect();
        assert_eq!(got, [None, Some(Ipv4Addr::LOCALHOST)]);
    }

    #[test]
    fn an_element_is_deleted_by_its_key() {
        assert_eq!(
            key_only("tcp_any { 8080 : 169.254.4.2 . 80 }"),
            "tcp_any { 8080 }"
        );
        assert_eq!(
            key_only("tcp_addr { 127.0.0.1 . 8080 : 169.254.4.2 . 80 }"),
            "tcp_addr { 127.0.0.1 . 8080 }"
        );
    }
}
