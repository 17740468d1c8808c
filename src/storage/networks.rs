//! Named networks: one netavark-format JSON file per network under
//! `<root>/networks/NAME.json` (podman's keys, so a user's network
//! definitions read the same), and per network, in the run root, the
//! leases of its running members (`networks/NAME.leases`) behind a lock
//! (`networks/NAME.lock`): the one place addresses are handed out, so
//! concurrent starts never get the same one.

use super::atomic;
use super::lock::FileLock;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// podman's default network: always there, never written.
pub const DEFAULT_NAME: &str = "podman";
const DEFAULT_ID: &str = "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9";
pub const BRIDGE: &str = "bridge";
pub const MACVLAN: &str = "macvlan";
pub const IPVLAN: &str = "ipvlan";
/// The `mode` option's values, the first the default (as netavark).
pub const MACVLAN_MODES: [&str; 4] = ["bridge", "private", "vepa", "passthru"];
pub const IPVLAN_MODES: [&str; 3] = ["l2", "l3", "l3s"];

/// A network as netavark keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub network_interface: String,
    pub created: String,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub ipv6_enabled: bool,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub dns_enabled: bool,
    /// `--dns`: the resolvers the network's DNS server forwards to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_dns_servers: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub ipam_options: BTreeMap<String, String>,
    /// `--route`: static routes every member gets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<StaticRoute>,
}

/// A static route of a network, as netavark keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StaticRoute {
    /// `ADDRESS/PREFIX`.
    pub destination: String,
    pub gateway: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Subnet {
    pub subnet: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LeaseRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ip: Option<String>,
}

/// An address family: its width and the prefixes a network may have.
/// Arithmetic is done on the address as a u128, so one `Net` serves both.
pub trait Family: Copy + Eq + std::fmt::Display + std::str::FromStr {
    const BITS: u8;
    /// Prefix lengths that leave room for a gateway and members.
    const PREFIXES: std::ops::RangeInclusive<u8>;
    fn bits(self) -> u128;
    fn from_bits(b: u128) -> Self;
    /// Why `a` (of subnet `s`) is not an address of this family.
    fn not_mine(s: &str, a: &str) -> String;
    /// A member's address of this family.
    fn leased(l: &Lease) -> Option<Self>;
}

impl Family for Ipv4Addr {
    const BITS: u8 = 32;
    const PREFIXES: std::ops::RangeInclusive<u8> = 8..=30;
    fn bits(self) -> u128 {
        u32::from(self).into()
    }
    fn from_bits(b: u128) -> Self {
        Ipv4Addr::from(b as u32)
    }
    fn leased(l: &Lease) -> Option<Self> {
        l.ip
    }
    fn not_mine(s: &str, a: &str) -> String {
        if a.contains(':') {
            format!("invalid subnet {s:?}: IPv6 subnets are not supported")
        } else {
            format!("invalid subnet {s:?}")
        }
    }
}

impl Family for Ipv6Addr {
    const BITS: u8 = 128;
    // No wider than a /8; the all-ones address is left out as podman does.
    const PREFIXES: std::ops::RangeInclusive<u8> = 8..=126;
    fn bits(self) -> u128 {
        u128::from(self)
    }
    fn from_bits(b: u128) -> Self {
        Ipv6Addr::from(b)
    }
    fn leased(l: &Lease) -> Option<Self> {
        l.ip6
    }
    fn not_mine(s: &str, _: &str) -> String {
        format!("invalid subnet {s:?}")
    }
}

/// A subnet: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net<A> {
    pub addr: A,
    pub prefix: u8,
}

pub type Net4 = Net<Ipv4Addr>;
pub type Net6 = Net<Ipv6Addr>;

impl<A: Family> Net<A> {
    pub fn parse(s: &str) -> Result<Net<A>> {
        let (a, p) = s
            .split_once('/')
            .with_context(|| format!("invalid subnet {s:?}: expected ADDRESS/PREFIX"))?;
        let addr: A = a.parse().ok().with_context(|| A::not_mine(s, a))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| A::PREFIXES.contains(p))
            .with_context(|| {
                format!(
                    "invalid subnet {s:?}: the prefix must be {} to {}",
                    A::PREFIXES.start(),
                    A::PREFIXES.end()
                )
            })?;
        let net = Net { addr, prefix };
        Ok(Net {
            addr: A::from_bits(addr.bits() & net.mask()),
            prefix,
        })
    }

    /// All ones over the family's width.
    fn all() -> u128 {
        u128::MAX >> (128 - u32::from(A::BITS))
    }

    pub fn mask(self) -> u128 {
        (Self::all() << (A::BITS - self.prefix)) & Self::all()
    }

    pub fn contains(self, ip: A) -> bool {
        ip.bits() & self.mask() == self.addr.bits()
    }

    pub fn overlaps(self, other: Net<A>) -> bool {
        let m = self.mask() & other.mask();
        self.addr.bits() & m == other.addr.bits() & m
    }

    /// The first and last address a host may have (no network or
    /// broadcast address).
    pub fn hosts(self) -> (A, A) {
        let base = self.addr.bits();
        (
            A::from_bits(base + 1),
            A::from_bits((base | (!self.mask() & Self::all())) - 1),
        )
    }

    /// The subnet's gateway as written, else its first host.
    fn gateway(self, written: Option<&String>, network: &str) -> Result<A> {
        match written {
            Some(g) => g
                .parse()
                .ok()
                .with_context(|| format!("network {network}: invalid gateway {g:?}")),
            None => Ok(self.hosts().0),
        }
    }
}

impl<A: std::fmt::Display> std::fmt::Display for Net<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Whether a subnet as written is IPv6.
pub fn is_v6(subnet: &str) -> bool {
    subnet.contains(':')
}

impl Network {
    /// podman's default network, as podman shows it.
    pub fn default_network() -> Network {
        Network {
            name: DEFAULT_NAME.into(),
            id: DEFAULT_ID.into(),
            driver: BRIDGE.into(),
            network_interface: "podman0".into(),
            created: crate::format::human::now_rfc3339(),
            subnets: vec![Subnet {
                subnet: "10.88.0.0/16".into(),
                gateway: Some("10.88.0.1".into()),
                lease_range: None,
            }],
            ipam_options: [("driver".to_string(), "host-local".to_string())].into(),
            ..Default::default()
        }
    }

    /// The IPv4 subnet and gateway, when the network has one (an
    /// IPv6-only network has not).
    pub fn subnet4(&self) -> Result<Option<(Net4, Ipv4Addr)>> {
        self.subnet::<Ipv4Addr>()
    }

    /// The IPv6 subnet and gateway, when the network has one.
    pub fn subnet6(&self) -> Result<Option<(Net6, Ipv6Addr)>> {
        self.subnet::<Ipv6Addr>()
    }

    fn written<A: Family>(&self) -> Option<&Subnet> {
        self.subnets
            .iter()
            .find(|s| is_v6(&s.subnet) == (A::BITS == 128))
    }

    /// The family's subnet and gateway, when the network has one.
    pub fn subnet<A: Family>(&self) -> Result<Option<(Net<A>, A)>> {
        let Some(s) = self.written::<A>() else {
            return Ok(None);
        };
        let net = Net::<A>::parse(&s.subnet)?;
        Ok(Some((net, net.gateway(s.gateway.as_ref(), &self.name)?)))
    }

    /// Whether the family's subnet names a gateway (an `--internal`
    /// macvlan may have none: its members get no route).
    pub fn has_gateway<A: Family>(&self) -> bool {
        self.written::<A>().is_some_and(|s| s.gateway.is_some())
    }

    /// The addresses leases come from: the lease range, or the subnet's hosts.
    pub fn lease_bounds<A: Family>(&self, net: Net<A>) -> (A, A) {
        let (mut lo, mut hi) = net.hosts();
        if let Some(r) = self.written::<A>().and_then(|s| s.lease_range.as_ref()) {
            if let Some(s) = r.start_ip.as_ref().and_then(|s| s.parse().ok()) {
                lo = s;
            }
            if let Some(e) = r.end_ip.as_ref().and_then(|s| s.parse().ok()) {
                hi = e;
            }
        }
        (lo, hi)
    }

    /// Whether it is a bridge (coracle's data path, nftables, DNS) rather
    /// than a macvlan/ipvlan on a host interface.
    pub fn is_bridge(&self) -> bool {
        self.driver == BRIDGE
    }
}

/// Where network files live: `--network-config-dir` or containers.conf's
/// `network_config_dir`, else `<root>/networks`.
pub fn config_dir(root: &Path) -> PathBuf {
    match &crate::config::get().network_config_dir {
        Some(dir) => dir.clone(),
        None => root.join("networks"),
    }
}

/// The file of network `name`.
pub fn config_path(root: &Path, name: &str) -> PathBuf {
    config_dir(root).join(format!("{name}.json"))
}

/// The volatile per-network files (leases, lock, DNS server pid).
pub fn run_dir(runroot: &Path) -> PathBuf {
    runroot.join("networks")
}

/// Every network, by name (as podman lists them).
pub fn list(root: &Path) -> Result<Vec<Network>> {
    let mut out = vec![Network::default_network()];
    let mut files: Vec<PathBuf> = match std::fs::read_dir(config_dir(root)) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).context("reading the networks directory"),
    };
    files.sort();
    for f in files {
        if let Some(n) = atomic::read_json::<Network>(&f)? {
            if n.name != DEFAULT_NAME {
                out.push(n);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The network named `name`, if any.
pub fn load(root: &Path, name: &str) -> Result<Option<Network>> {
    if name == DEFAULT_NAME {
        return Ok(Some(Network::default_network()));
    }
    if !super::names::is_valid(name) {
        return Ok(None);
    }
    atomic::read_json(&config_path(root, name))
}

pub fn save(root: &Path, n: &Network) -> Result<()> {
    let dir = config_dir(root);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    atomic::write_json(&config_path(root, &n.name), n, true)
}

pub fn remove(root: &Path, name: &str) -> Result<()> {
    match std::fs::remove_file(config_path(root, name)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing network {name}")),
    }
}

/// One running member's address on a network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lease {
    pub container_id: String,
    /// Its IPv4 address, on a network with an IPv4 subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    /// Its IPv6 address, on a network with an IPv6 subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    pub mac: String,
    /// The names it answers to: container name, aliases, pod name.
    #[serde(default)]
    pub names: Vec<String>,
    /// The monitor that holds it, and its start time: a lease whose
    /// monitor is gone is free.
    pub pid: i32,
    pub pid_start: u64,
}

/// A network's leases, read and written under its lock.
pub struct Leases {
    path: PathBuf,
    pub list: Vec<Lease>,
    _lock: FileLock,
}

impl Leases {
    /// Lock the network's leases and read them.
    pub fn open(runroot: &Path, name: &str) -> Result<Leases> {
        let dir = run_dir(runroot);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock = FileLock::exclusive(&dir.join(format!("{name}.lock")))?;
        let path = leases_path(runroot, name);
        let list = atomic::read_json(&path)?.unwrap_or_default();
        Ok(Leases {
            path,
            list,
            _lock: lock,
        })
    }

    pub fn save(&self) -> Result<()> {
        if self.list.is_empty() {
            let _ = std::fs::remove_file(&self.path);
            return Ok(());
        }
        atomic::write_json(&self.path, &self.list, false)
    }

    /// Drop the leases whose holder is gone (`alive` says).
    pub fn forget_dead(&mut self, alive: impl Fn(&Lease) -> bool) {
        self.list.retain(alive);
    }

    /// A new member's address of family `A`: `wanted` when free and
    /// inside the subnet, else the first free one (not the gateway, not
    /// leased); None when the network has no subnet of that family.
    pub fn free_address<A: Family>(&self, net: &Network, wanted: Option<A>) -> Result<Option<A>> {
        let Some((subnet, gw)) = net.subnet::<A>()? else {
            if let Some(ip) = wanted {
                bail!(
                    "requested static ip {ip} not in any subnet on network {}",
                    net.name
                );
            }
            return Ok(None);
        };
        let taken = |ip: A| ip == gw || self.list.iter().any(|l| A::leased(l) == Some(ip));
        if let Some(ip) = wanted {
            if !subnet.contains(ip) {
                bail!(
                    "requested static ip {ip} not in any subnet on network {}",
                    net.name
                );
            }
            if taken(ip) {
                bail!(
                    "IPAM error: requested ip address {ip} is already allocated to another container on network {}",
                    net.name
                );
            }
            return Ok(Some(ip));
        }
        let (lo, hi) = net.lease_bounds(subnet);
        // A member per address and the gateway: the leases bound the search.
        (lo.bits()..=hi.bits())
            .take(self.list.len() + 2)
            .map(A::from_bits)
            .find(|ip| !taken(*ip))
            .map(Some)
            .with_context(|| format!("IPAM error: failed to find free IP in network {}", net.name))
    }
}

/// The leases of a network as they are now (no lock: for readers such
/// as the DNS server and inspect).
pub fn read_leases(runroot: &Path, name: &str) -> Vec<Lease> {
    atomic::read_json(&leases_path(runroot, name))
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub fn leases_path(runroot: &Path, name: &str) -> PathBuf {
    run_dir(runroot).join(format!("{name}.leases"))
}

/// What a container asks of one network it joins (`--network
/// NAME:ip=,mac=,alias=,interface_name=`, `--ip`, `--mac-address`,
/// `--network-alias`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attachment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_compare() {
        let n = Net4::parse("10.89.3.7/24").unwrap();
        assert_eq!(n.to_string(), "10.89.3.0/24");
        assert!(n.contains("10.89.3.200".parse().unwrap()));
        assert!(!n.contains("10.89.4.1".parse().unwrap()));
        assert!(n.overlaps(Net4::parse("10.89.0.0/16").unwrap()));
        assert!(!n.overlaps(Net4::parse("10.89.4.0/24").unwrap()));
        assert_eq!(
            n.hosts(),
            ("10.89.3.1".parse().unwrap(), "10.89.3.254".parse().unwrap())
        );
        assert!(Net4::parse("fd00::/64")
            .unwrap_err()
            .to_string()
            .contains("IPv6"));
        assert!(Net4::parse("10.0.0.0").is_err());
        assert!(Net4::parse("10.0.0.0/31").is_err());
    }

    #[test]
    fn v6_subnets_parse_and_lease() {
        let n = Net6::parse("fd12:3456:789a:1::7/64").unwrap();
        assert_eq!(n.to_string(), "fd12:3456:789a:1::/64");
        assert!(n.contains("fd12:3456:789a:1::99".parse().unwrap()));
        assert!(!n.contains("fd12:3456:789a:2::1".parse().unwrap()));
        assert!(n.overlaps(Net6::parse("fd12::/16").unwrap()));
        assert!(Net6::parse("fd00::/127").is_err());
        assert!(Net6::parse("10.0.0.0/24").is_err());
        let net = Network {
            name: "n".into(),
            subnets: vec![
                Subnet {
                    subnet: "10.89.0.0/24".into(),
                    gateway: Some("10.89.0.1".into()),
                    lease_range: None,
                },
                Subnet {
                    subnet: n.to_string(),
                    gateway: Some("fd12:3456:789a:1::1".into()),
                    lease_range: None,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            net.subnet4().unwrap().unwrap().0.to_string(),
            "10.89.0.0/24"
        );
        let leases = Leases {
            path: PathBuf::new(),
            list: vec![Lease {
                container_id: "a".into(),
                ip: Some("10.89.0.2".parse().unwrap()),
                ip6: Some("fd12:3456:789a:1::2".parse().unwrap()),
                mac: String::new(),
                names: Vec::new(),
                pid: 0,
                pid_start: 0,
            }],
            _lock: FileLock::exclusive(
                &std::env::temp_dir().join(format!("cor-v6-{}", std::process::id())),
            )
            .unwrap(),
        };
        assert_eq!(
            leases.free_address::<Ipv6Addr>(&net, None).unwrap(),
            Some("fd12:3456:789a:1::3".parse().unwrap())
        );
        assert_eq!(
            leases.free_address::<Ipv4Addr>(&net, None).unwrap(),
            Some("10.89.0.3".parse().unwrap())
        );
        assert!(leases
            .free_address(
                &net,
                Some("fd12:3456:789a:1::2".parse::<Ipv6Addr>().unwrap())
            )
            .is_err());
        assert!(leases
            .free_address(&net, Some("fd99::2".parse::<Ipv6Addr>().unwrap()))
            .is_err());
        // IPv6 only: no IPv4 address, and asking one is an error.
        let v6only = Network {
            subnets: net.subnets[1..].to_vec(),
            ..net.clone()
        };
        assert_eq!(
            leases.free_address::<Ipv4Addr>(&v6only, None).unwrap(),
            None
        );
        assert!(leases
            .free_address(&v6only, Some("10.89.0.9".parse::<Ipv4Addr>().unwrap()))
            .is_err());
    }

    #[test]
    fn the_default_network_reads_as_podman_writes_it() {
        let text = r#"{"name":"podman","id":"2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9","driver":"bridge","network_interface":"podman0","created":"2024-01-01T00:00:00Z","subnets":[{"subnet":"10.88.0.0/16","gateway":"10.88.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}"#;
        let n: Network = serde_json::from_str(text).unwrap();
        let mut d = Network::default_network();
        d.created = n.created.clone();
        assert_eq!(n, d);
        assert_eq!(serde_json::to_string(&n).unwrap(), text);
    }
}
