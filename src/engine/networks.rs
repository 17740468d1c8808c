//! Named networks with podman's rules: create (a free 10.89.N.0/24 and a
//! free `podmanN` bridge unless given), list with filters, inspect with
//! the containers on them, remove (refused while in use unless forced,
//! then the containers go first), prune, and the `--network` flags of
//! `run`/`create` (`NAME[:ip=,mac=,alias=,interface_name=]`).

use crate::error::CodedError;
use crate::storage::containers::ContainerConfig;
use crate::storage::modes::NetworkMode;
use crate::storage::networks::{
    self as nets, Attachment, LeaseRange, Net4, Net6, Network, StaticRoute, Subnet,
};
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A network to create (`network create`).
#[derive(Debug, Default)]
pub struct NewNetwork {
    /// `podmanN` when missing.
    pub name: Option<String>,
    pub driver: String,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub internal: bool,
    pub ipv6: bool,
    pub dns: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub options: Vec<String>,
    pub disable_dns: bool,
    pub interface_name: Option<String>,
    /// `--ipam-driver`: host-local (the default) is the one coracle has.
    pub ipam_driver: Option<String>,
    /// An existing network of that name is not an error.
    pub ignore_existing: bool,
    /// `--route DESTINATION,GATEWAY[,METRIC]`.
    pub routes: Vec<String>,
}

/// A `--route` as given, checked against the network's subnets: its
/// gateway must be reachable on one of them.
fn static_route(spec: &str, net: &Network) -> Result<StaticRoute> {
    let bad = |why: &str| anyhow::anyhow!("invalid route {spec:?}: {why}");
    let mut parts = spec.split(',');
    let (Some(dest), Some(gw)) = (parts.next(), parts.next()) else {
        return Err(bad("expected DESTINATION/PREFIX,GATEWAY[,METRIC]"));
    };
    let metric = match parts.next() {
        None => None,
        Some(m) => Some(
            m.parse::<u32>()
                .map_err(|_| bad("the metric must be a number"))?,
        ),
    };
    if parts.next().is_some() {
        return Err(bad("expected DESTINATION/PREFIX,GATEWAY[,METRIC]"));
    }
    let (addr, prefix) = dest
        .split_once('/')
        .ok_or_else(|| bad("the destination must be ADDRESS/PREFIX"))?;
    let addr: std::net::IpAddr = addr
        .parse()
        .map_err(|_| bad("the destination is no IP address"))?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    prefix
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= width)
        .ok_or_else(|| bad("the destination's prefix is out of range"))?;
    let gateway: std::net::IpAddr = gw
        .parse()
        .map_err(|_| bad("the gateway is no IP address"))?;
    let on_a_subnet = match gateway {
        std::net::IpAddr::V4(g) => net.subnet4()?.is_some_and(|(s, _)| s.contains(g)),
        std::net::IpAddr::V6(g) => net.subnet6()?.is_some_and(|(s, _)| s.contains(g)),
    };
    if addr.is_ipv4() != gateway.is_ipv4() {
        return Err(bad(
            "the destination and the gateway are of different address families",
        ));
    }
    if !on_a_subnet {
        return Err(bad("the gateway is on none of the network's subnets"));
    }
    Ok(StaticRoute {
        destination: dest.to_string(),
        gateway: gateway.to_string(),
        metric,
    })
}

/// podman's error for an unknown network (exit 125 unless said).
fn not_found(name: &str) -> anyhow::Error {
    anyhow::anyhow!("unable to find network with name or ID {name}: network not found")
}

fn not_found_coded(name: &str, code: i32) -> anyhow::Error {
    CodedError {
        code,
        message: format!("unable to find network with name or ID {name}: network not found"),
    }
    .into()
}

/// The networks' lock: creation picks free subnets and names under it.
fn lock(store: &Store) -> Result<crate::storage::lock::FileLock> {
    let dir = nets::config_dir(&store.root);
    std::fs::create_dir_all(&dir)?;
    crate::storage::lock::FileLock::exclusive(&dir.join("networks.lock"))
}

/// Bridge options podman takes that coracle applies.
fn bridge_options(opts: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for o in opts {
        let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
        match k {
            "mtu" => {
                v.parse::<u32>()
                    .ok()
                    .filter(|m| (68..=65535).contains(m))
                    .with_context(|| format!("invalid mtu {v:?}: use 68 to 65535"))?;
            }
            _ => bail!("unsupported bridge network option {k}"),
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// macvlan/ipvlan options podman takes that coracle applies (`parent`
/// is taken out before: it is the network's interface).
fn vlan_options(driver: &str, opts: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for o in opts {
        let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
        let v = match k {
            "mode" => {
                let modes: &[&str] = if driver == nets::MACVLAN {
                    &nets::MACVLAN_MODES
                } else {
                    &nets::IPVLAN_MODES
                };
                if !modes.contains(&v) {
                    bail!("unknown {driver} mode {v:?}");
                }
                v.to_string()
            }
            "mtu" => {
                bridge_options(std::slice::from_ref(o))?;
                v.to_string()
            }
            // netavark takes only "true"/"false"; podman writes those.
            "no_default_route" => match v {
                "1" | "true" | "t" | "T" | "TRUE" | "True" => "true".into(),
                "0" | "false" | "f" | "F" | "FALSE" | "False" => "false".into(),
                _ => bail!("invalid no_default_route value {v:?}: use true or false"),
            },
            _ => bail!("unsupported {driver} network option {k}"),
        };
        out.insert(k.to_string(), v);
    }
    Ok(out)
}

/// The parent interface of a macvlan/ipvlan network: `-o parent=` or
/// `--interface-name` (podman takes either), which must exist; empty for
/// the interface of the default route when a container starts (as
/// netavark does).
fn vlan_parent(r: &NewNetwork) -> Result<(String, Vec<String>)> {
    let mut rest = Vec::new();
    let mut parent = r.interface_name.clone();
    for o in &r.options {
        match o.strip_prefix("parent=") {
            Some(p) => {
                if parent.as_ref().is_some_and(|q| q != p) {
                    bail!(
                        "--interface-name {} and -o parent={p} name different parents",
                        parent.unwrap_or_default()
                    );
                }
                parent = Some(p.to_string());
            }
            None => rest.push(o.clone()),
        }
    }
    let parent = parent.unwrap_or_default();
    if !parent.is_empty()
        && !std::path::Path::new("/sys/class/net")
            .join(&parent)
            .exists()
    {
        bail!("parent interface {parent} does not exist");
    }
    Ok((parent, rest))
}

/// The subnets in use: other networks', and as root the host's routes
/// (the bridges live in the host's namespace).
fn used_subnets(existing: &[Network], rootless: bool) -> Vec<Net4> {
    let mut used: Vec<Net4> = existing
        .iter()
        .flat_map(|n| n.subnets.iter())
        .filter_map(|s| Net4::parse(&s.subnet).ok())
        .collect();
    if !rootless {
        used.extend(crate::runtime::bridge::host_subnets());
    }
    used
}

/// The IPv6 subnets other networks have.
fn used_subnets6(existing: &[Network]) -> Vec<Net6> {
    existing
        .iter()
        .flat_map(|n| n.subnets.iter())
        .filter_map(|s| Net6::parse(&s.subnet).ok())
        .collect()
}

/// A random unique local fdXX:XXXX:XXXX:XXXX::/64 (RFC 4193, as podman
/// picks them) that no other network has.
fn free_subnet6(used: &[Net6]) -> Result<Net6> {
    (0..64)
        .map(|_| {
            let mut b: [u8; 16] = [0; 16];
            b[0] = 0xfd;
            b[1..8].copy_from_slice(&rand::random::<[u8; 7]>());
            Net6 {
                addr: Ipv6Addr::from(b),
                prefix: 64,
            }
        })
        .find(|c| !used.iter().any(|u| u.overlaps(*c)))
        .context("could not find free IPv6 subnet")
}

/// An IPv6 `--subnet` with its `--gateway`.
fn user_subnet6(
    subnet: &str,
    gateway: Option<&String>,
    range: Option<&String>,
    used: &[Net6],
) -> Result<Subnet> {
    let net = Net6::parse(subnet)?;
    if let Some(u) = used.iter().find(|u| u.overlaps(net)) {
        bail!("subnet {net} is already used on the host or by another config: {u} overlaps");
    }
    if range.is_some() {
        bail!("--ip-range: not supported for IPv6 subnet {net}");
    }
    let gw = match gateway {
        Some(g) => {
            let ip: Ipv6Addr = g
                .parse()
                .with_context(|| format!("invalid gateway {g:?}"))?;
            if !net.contains(ip) {
                bail!("gateway {ip} not in subnet {net}");
            }
            ip
        }
        None => net.hosts().0,
    };
    Ok(Subnet {
        subnet: net.to_string(),
        gateway: Some(gw.to_string()),
        lease_range: None,
    })
}

/// The first free 10.89.N.0/24.
fn free_subnet(used: &[Net4]) -> Result<Net4> {
    (0..=255u8)
        .map(|n| Net4 {
            addr: Ipv4Addr::new(10, 89, n, 0),
            prefix: 24,
        })
        .find(|c| !used.iter().any(|u| u.overlaps(*c)))
        .context("could not find free subnet from subnet pools")
}

/// The first `podmanN` no network has and no host interface is.
fn free_interface(existing: &[Network]) -> String {
    (1..)
        .map(|n| format!("podman{n}"))
        .find(|i| {
            !existing.iter().any(|n| &n.network_interface == i)
                && !std::path::Path::new("/sys/class/net").join(i).exists()
        })
        .unwrap_or_default()
}

/// The subnet of `--subnet`, `--gateway` and `--ip-range` given together.
fn user_subnet(
    subnet: &str,
    gateway: Option<&String>,
    range: Option<&String>,
    used: &[Net4],
) -> Result<Subnet> {
    let net = Net4::parse(subnet)?;
    if let Some(u) = used.iter().find(|u| u.overlaps(net)) {
        bail!("subnet {net} is already used on the host or by another config: {u} overlaps");
    }
    let gw = match gateway {
        Some(g) => {
            let ip: Ipv4Addr = g
                .parse()
                .with_context(|| format!("invalid gateway {g:?}"))?;
            if !net.contains(ip) {
                bail!("gateway {ip} not in subnet {net}");
            }
            ip
        }
        None => net.hosts().0,
    };
    let lease_range = match range {
        Some(r) => {
            let rn = Net4::parse(r).with_context(|| format!("invalid --ip-range {r:?}"))?;
            if !net.contains(rn.addr) || rn.prefix < net.prefix {
                bail!("ip range {rn} is not in subnet {net}");
            }
            let (lo, hi) = rn.hosts();
            Some(LeaseRange {
                start_ip: Some(lo.to_string()),
                end_ip: Some(hi.to_string()),
            })
        }
        None => None,
    };
    Ok(Subnet {
        subnet: net.to_string(),
        gateway: Some(gw.to_string()),
        lease_range,
    })
}

/// Create a network; returns its name.
pub fn create(store: &Store, r: NewNetwork) -> Result<String> {
    let vlan = match r.driver.as_str() {
        nets::BRIDGE => false,
        nets::MACVLAN | nets::IPVLAN => true,
        other => bail!("unsupported driver {other}: invalid argument"),
    };
    match r.ipam_driver.as_deref() {
        None | Some("host-local") => {}
        Some("dhcp") => bail!(
            "ipam driver dhcp is not supported by coracle: give the network a --subnet (host-local)"
        ),
        Some(other) => bail!("unsupported ipam driver {other:?}"),
    }
    let v6_given = r.subnets.iter().filter(|s| nets::is_v6(s)).count();
    if v6_given > 1 || r.subnets.len() - v6_given > 1 {
        bail!("--subnet: coracle networks have one IPv4 and one IPv6 subnet");
    }
    if r.gateways.len() > r.subnets.len() || r.ip_ranges.len() > r.subnets.len() {
        bail!("cannot set more gateways or ip ranges than subnets");
    }
    for d in &r.dns {
        d.parse::<std::net::IpAddr>()
            .with_context(|| format!("invalid --dns address {d:?}"))?;
    }
    let (parent, options) = if vlan {
        let (parent, rest) = vlan_parent(&r)?;
        (parent, vlan_options(&r.driver, &rest)?)
    } else {
        (String::new(), bridge_options(&r.options)?)
    };
    if vlan {
        vlan_checks(&r, v6_given)?;
    }
    if let Some(name) = &r.name {
        if !crate::storage::names::is_valid(name) {
            bail!("network name {name} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument");
        }
    }
    if let Some(i) = &r.interface_name {
        if i.is_empty() || i.len() > 15 || i.contains('/') || i.contains(char::is_whitespace) {
            bail!("invalid interface name {i:?}");
        }
    }
    let _lock = lock(store)?;
    let existing = nets::list(&store.root)?;
    let name = match &r.name {
        Some(n) => {
            if existing.iter().any(|e| &e.name == n) {
                if r.ignore_existing {
                    return Ok(n.clone());
                }
                bail!("network name {n} already used: network already exists");
            }
            n.clone()
        }
        None => (1..)
            .map(|n| format!("podman{n}"))
            .find(|n| !existing.iter().any(|e| &e.name == n))
            .unwrap_or_default(),
    };
    let interface = match &r.interface_name {
        _ if vlan => parent,
        Some(i) => {
            if existing.iter().any(|n| &n.network_interface == i) {
                bail!("bridge name {i} already in use");
            }
            i.clone()
        }
        None => free_interface(&existing),
    };
    // A macvlan's subnet is the parent's LAN: nothing else is checked
    // (as podman).
    let (used, used6) = if vlan {
        (Vec::new(), Vec::new())
    } else {
        (
            used_subnets(&existing, store.rootless),
            used_subnets6(&existing),
        )
    };
    // Gateways and ranges pair with the subnets in the order given.
    let mut subnets = Vec::new();
    for (i, s) in r.subnets.iter().enumerate() {
        let (gw, range) = (r.gateways.get(i), r.ip_ranges.get(i));
        subnets.push(if nets::is_v6(s) {
            user_subnet6(s, gw, range, &used6)?
        } else {
            user_subnet(s, gw, range, &used)?
        });
    }
    // No way out, no gateway unless asked (podman's rule for these).
    if vlan && r.internal {
        for (i, s) in subnets.iter_mut().enumerate() {
            if r.gateways.get(i).is_none() {
                s.gateway = None;
            }
        }
    }
    // No subnet given: an IPv4 one, and IPv6 beside it with --ipv6 (an
    // IPv6 subnet alone makes an IPv6-only network, as podman 5).
    if r.subnets.is_empty() {
        let net = free_subnet(&used)?;
        subnets.insert(
            0,
            Subnet {
                subnet: net.to_string(),
                gateway: Some(net.hosts().0.to_string()),
                lease_range: None,
            },
        );
    }
    if r.ipv6 && v6_given == 0 {
        let net = free_subnet6(&used6)?;
        subnets.push(Subnet {
            subnet: net.to_string(),
            gateway: Some(net.hosts().0.to_string()),
            lease_range: None,
        });
    }
    let ipv6_enabled = r.ipv6 || v6_given > 0;
    let net = Network {
        name: name.clone(),
        id: crate::storage::containers::new_id(),
        driver: r.driver.clone(),
        network_interface: interface,
        created: crate::format::human::now_rfc3339(),
        subnets,
        ipv6_enabled,
        internal: r.internal,
        dns_enabled: !r.disable_dns && !vlan,
        network_dns_servers: r.dns,
        labels: r.labels,
        options,
        ipam_options: [("driver".to_string(), "host-local".to_string())].into(),
        routes: Vec::new(),
    };
    let mut net = net;
    for r in &r.routes {
        let route = static_route(r, &net)?;
        net.routes.push(route);
    }
    nets::save(&store.root, &net)?;
    Ok(name)
}

/// What podman requires of a macvlan/ipvlan network: a subnet (without
/// one podman asks DHCP, which coracle does not do), no name server.
fn vlan_checks(r: &NewNetwork, v6_given: usize) -> Result<()> {
    if r.subnets.is_empty() {
        if r.driver == nets::IPVLAN {
            bail!("ipam driver dhcp is not supported with ipvlan: give a --subnet");
        }
        bail!("a macvlan network without --subnet gets its addresses by DHCP, which coracle does not support: give a --subnet");
    }
    if r.ipv6 && v6_given == 0 {
        bail!("--ipv6: give the {} network an IPv6 --subnet", r.driver);
    }
    if !r.dns.is_empty() {
        bail!(
            "cannot set NetworkDNSServers if DNS is not enabled for the network: invalid argument"
        );
    }
    Ok(())
}

/// The network a name or an id prefix means.
pub fn find(store: &Store, name_or_id: &str) -> Result<Network> {
    if let Some(n) = nets::load(&store.root, name_or_id)? {
        return Ok(n);
    }
    let all = nets::list(&store.root)?;
    let mut hits = all.into_iter().filter(|n| n.id.starts_with(name_or_id));
    match (hits.next(), hits.next()) {
        (Some(n), None) if !name_or_id.is_empty() => Ok(n),
        (Some(_), Some(_)) => bail!("more than one result for network ID {name_or_id}"),
        _ => Err(not_found(name_or_id)),
    }
}

pub fn exists(store: &Store, name: &str) -> Result<bool> {
    Ok(find(store, name).is_ok())
}

/// The named networks a container is on.
pub fn networks_of(cfg: &ContainerConfig) -> &[String] {
    match &cfg.network {
        NetworkMode::Bridge(names) => names,
        _ => &[],
    }
}

/// Which containers are on each network.
pub fn users(store: &Store) -> Result<BTreeMap<String, Vec<ContainerConfig>>> {
    let mut out: BTreeMap<String, Vec<ContainerConfig>> = BTreeMap::new();
    for id in store.containers.ids()? {
        let Ok(cfg) = store.containers.load_config(&id) else {
            continue;
        };
        for n in networks_of(&cfg) {
            out.entry(n.clone()).or_default().push(cfg.clone());
        }
    }
    Ok(out)
}

/// `network ls` / `prune` filters.
pub enum Filter {
    Name(super::filter::Regex),
    Id(String),
    Driver(String),
    Label(String),
    LabelNot(String),
    Dangling(bool),
    Until(std::time::SystemTime),
}

impl Filter {
    pub fn parse(s: &str, for_prune: bool) -> Result<Filter> {
        let (k, v) = s
            .split_once('=')
            .with_context(|| format!("invalid filter {s:?}: expected key=value"))?;
        Ok(match k {
            "label" => Filter::Label(v.into()),
            "label!" => Filter::LabelNot(v.into()),
            "until" => Filter::Until(crate::format::human::parse_duration_or_time(
                v,
                std::time::SystemTime::now(),
            )?),
            "name" if !for_prune => Filter::Name(super::filter::Regex::new(v)),
            "id" if !for_prune => Filter::Id(v.into()),
            "driver" if !for_prune => {
                if v != nets::BRIDGE && v != "macvlan" && v != "ipvlan" {
                    bail!("invalid driver: {v}");
                }
                Filter::Driver(v.into())
            }
            "dangling" if !for_prune => Filter::Dangling(match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => bail!("invalid dangling filter value \"{v}\""),
            }),
            _ => bail!("invalid filter {k:?}"),
        })
    }

    fn matches(&self, n: &Network, users: usize) -> bool {
        match self {
            Filter::Name(re) => re.is_match(&n.name),
            Filter::Id(p) => n.id.starts_with(p.as_str()),
            Filter::Driver(d) => &n.driver == d,
            Filter::Label(l) => super::filter::label_matches(l, &n.labels),
            Filter::LabelNot(l) => !super::filter::label_matches(l, &n.labels),
            Filter::Dangling(d) => (users == 0) == *d,
            Filter::Until(t) => {
                crate::format::human::parse_rfc3339(&n.created).is_ok_and(|c| c <= *t)
            }
        }
    }
}

/// A network and the containers on it.
pub struct Listed {
    pub network: Network,
    pub containers: Vec<ContainerConfig>,
}

/// Every network passing all `filters` (podman: values of one key OR'ed,
/// keys AND'ed; here every filter must pass, as for volumes).
pub fn list(store: &Store, filters: &[Filter]) -> Result<Vec<Listed>> {
    let mut users = users(store)?;
    Ok(nets::list(&store.root)?
        .into_iter()
        .map(|n| Listed {
            containers: users.remove(&n.name).unwrap_or_default(),
            network: n,
        })
        .filter(|l| {
            filters
                .iter()
                .all(|f| f.matches(&l.network, l.containers.len()))
        })
        .collect())
}

/// One container's place on a network, as inspect shows it.
pub use crate::runtime::bridge::Endpoint;

/// Where a running container is on each of its networks.
pub fn endpoints(store: &Store, cfg: &ContainerConfig) -> Vec<Endpoint> {
    crate::runtime::bridge::endpoints(&store.containers.run_dir(&cfg.id))
}

/// What `network rm` was asked to do.
#[derive(Debug, Default)]
pub struct Removal {
    pub names: Vec<String>,
    /// Remove the containers on them first.
    pub force: bool,
    pub stop_timeout: Option<u32>,
}

fn in_use_error(name: &str) -> anyhow::Error {
    CodedError {
        code: 2,
        message: format!("\"{name}\" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used"),
    }
    .into()
}

/// `network rm`; returns the names removed, in order. Nothing is removed
/// unless every network named may be.
pub fn remove(store: &Store, r: &Removal) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for n in &r.names {
        let net = find(store, n).map_err(|_| not_found_coded(n, 1))?;
        if net.name == nets::DEFAULT_NAME {
            bail!("default network {} cannot be removed", net.name);
        }
        found.push(net);
    }
    let users = users(store)?;
    if !r.force {
        if let Some(n) = found.iter().find(|n| users.contains_key(&n.name)) {
            return Err(in_use_error(&n.name));
        }
    }
    let forced = super::containers::Removal {
        force: true,
        stop_timeout: r.stop_timeout,
        volumes: false,
    };
    let mut removed = Vec::new();
    for net in found {
        for cfg in users.get(&net.name).into_iter().flatten() {
            if !store.containers.dir(&cfg.id).exists() {
                continue;
            }
            if cfg.is_infra && store.pods.exists(&cfg.pod) {
                let pod = store.pods.load(&cfg.pod)?;
                crate::runtime::pod::remove(store, &pod, true, r.stop_timeout)?;
            } else {
                super::containers::remove(store, &cfg.id, forced)?;
            }
        }
        remove_unused(store, &net.name)?;
        removed.push(net.name);
    }
    Ok(removed)
}

/// Remove a network no container uses (rechecked under the lock).
fn remove_unused(store: &Store, name: &str) -> Result<()> {
    let _lock = lock(store)?;
    if users(store)?.contains_key(name) {
        return Err(in_use_error(name));
    }
    nets::remove(&store.root, name)?;
    crate::runtime::bridge::forget_network(store, name);
    Ok(())
}

/// `network prune`: every network but the default that no container uses
/// and `filters` pass; returns their names.
pub fn prune(store: &Store, filters: &[Filter]) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for l in list(store, filters)? {
        if l.network.name == nets::DEFAULT_NAME || !l.containers.is_empty() {
            continue;
        }
        match remove_unused(store, &l.network.name) {
            Ok(()) => removed.push(l.network.name),
            // Taken since we looked: not unused any more.
            Err(e) if crate::error::exit_code_of(&e) == 2 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// What `run`/`create` were asked about networks.
#[derive(Debug, Default, Clone)]
pub struct NetworkFlags {
    /// `--network`, each as given.
    pub network: Vec<String>,
    pub aliases: Vec<String>,
    pub ip: Option<String>,
    pub ip6: Option<String>,
    pub mac: Option<String>,
}

/// The mode and the per-network requests of `--network` (repeatable),
/// `--network-alias`, `--ip`, `--ip6` and `--mac-address`.
pub fn parse_flags(
    f: &NetworkFlags,
) -> Result<(Option<NetworkMode>, BTreeMap<String, Attachment>)> {
    let mut mode = None;
    let mut named: Vec<String> = Vec::new();
    let mut attach: BTreeMap<String, Attachment> = BTreeMap::new();
    for v in &f.network {
        match named_network(v)? {
            Some((name, a)) => {
                if mode.is_some() {
                    bail!(
                        "--network {v}: a container on named networks cannot also use --network {}",
                        mode.as_ref().map(ToString::to_string).unwrap_or_default()
                    );
                }
                if !named.contains(&name) {
                    named.push(name.clone());
                }
                attach.insert(name, a);
            }
            None => {
                let m: NetworkMode = if v.is_empty() {
                    NetworkMode::Bridge(Vec::new())
                } else {
                    v.parse()?
                };
                if mode.is_some() || !named.is_empty() {
                    bail!("--network {v} cannot be combined with another --network");
                }
                mode = Some(m);
            }
        }
    }
    let statics = f.ip.is_some() || f.ip6.is_some() || f.mac.is_some();
    let extra = !f.aliases.is_empty() || statics;
    if extra {
        if named.is_empty() {
            bail!("--network-alias, --ip, --ip6 and --mac-address need a named network (--network NAME)");
        }
        if named.len() > 1 && statics {
            bail!("--ip, --ip6 and --mac-address can only be used with a single network: use --network NAME:ip=IP,ip6=IP6,mac=MAC");
        }
        for name in &named {
            let a = attach.entry(name.clone()).or_default();
            a.aliases.extend(f.aliases.iter().cloned());
        }
        let first = attach.entry(named[0].clone()).or_default();
        if let Some(ip) = &f.ip {
            first.ip = Some(parse_ip(ip)?);
        }
        if let Some(ip) = &f.ip6 {
            first.ip6 = Some(parse_ip6(ip)?);
        }
        if let Some(mac) = &f.mac {
            first.mac = Some(parse_mac(mac)?);
        }
    }
    attach.retain(|_, a| *a != Attachment::default());
    if !named.is_empty() {
        mode = Some(NetworkMode::Bridge(named));
    }
    Ok((mode, attach))
}

fn parse_ip(s: &str) -> Result<Ipv4Addr> {
    s.parse().with_context(|| {
        if s.contains(':') {
            format!("invalid IP address {s:?}: IPv6 addresses are not supported")
        } else {
            format!("invalid IP address {s:?}")
        }
    })
}

pub fn parse_ip6(s: &str) -> Result<Ipv6Addr> {
    s.parse()
        .with_context(|| format!("invalid IPv6 address {s:?}"))
}

fn parse_mac(s: &str) -> Result<String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6
        || !parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        bail!("invalid MAC address {s:?}");
    }
    let first = u8::from_str_radix(parts[0], 16).unwrap_or(1);
    if first & 1 != 0 {
        bail!("invalid MAC address {s:?}: a multicast address");
    }
    Ok(s.to_ascii_lowercase())
}

/// `network connect`'s `--ip`, `--mac-address` and `--alias` (its
/// `--ip6`: `parse_ip6`).
pub fn attachment(ip: Option<&str>, mac: Option<&str>, aliases: &[String]) -> Result<Attachment> {
    Ok(Attachment {
        ip: ip.map(parse_ip).transpose()?,
        ip6: None,
        mac: mac.map(parse_mac).transpose()?,
        aliases: aliases.to_vec(),
        interface_name: None,
    })
}

/// `NAME` or `NAME:ip=,ip6=,mac=,alias=,interface_name=` when `v` names a
/// network rather than a mode.
fn named_network(v: &str) -> Result<Option<(String, Attachment)>> {
    let (name, opts) = v.split_once(':').unwrap_or((v, ""));
    const MODES: [&str; 9] = [
        "",
        "none",
        "host",
        "private",
        "bridge",
        "pasta",
        "slirp4netns",
        "container",
        "ns",
    ];
    if MODES.contains(&name) || name == "default" || !crate::storage::names::is_valid(name) {
        return Ok(None);
    }
    let mut a = Attachment::default();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let (k, val) = o.split_once('=').with_context(|| {
            format!("invalid option {o:?} for network {name}: expected key=value")
        })?;
        match k {
            "ip" => a.ip = Some(parse_ip(val)?),
            "ip6" => a.ip6 = Some(parse_ip6(val)?),
            "mac" => a.mac = Some(parse_mac(val)?),
            "alias" => a.aliases.push(val.to_string()),
            "interface_name" => {
                if val.is_empty() || val.len() > 15 || val.contains('/') {
                    bail!("invalid interface_name {val:?}");
                }
                a.interface_name = Some(val.to_string())
            }
            _ => bail!(
                "unknown option {k:?} for network {name}: use ip, ip6, mac, alias or interface_name"
            ),
        }
    }
    Ok(Some((name.to_string(), a)))
}

/// `network connect`: put a container on one more network (at once when
/// it runs).
pub fn connect(store: &Store, network: &str, container: &str, want: Attachment) -> Result<()> {
    let net = find(store, network)?;
    let id = super::lookup::container_id(store, container)?;
    let mut cfg = store.containers.load_config(&id)?;
    let names = match &cfg.network {
        NetworkMode::Bridge(n) => n.clone(),
        other => bail!("container {container} uses --network {other}: only containers on named networks can be connected to another"),
    };
    if names.contains(&net.name) {
        bail!(
            "container {id} is already connected to network {}: network is already connected",
            net.name
        );
    }
    check_container_networks(store, &NetworkMode::Bridge(vec![net.name.clone()]))?;
    let mut updated = names.clone();
    updated.push(net.name.clone());
    cfg.network = NetworkMode::Bridge(updated);
    if want != Attachment::default() {
        cfg.network_attachments.insert(net.name.clone(), want);
    }
    let state = crate::runtime::state::current_state(store, &id)?;
    if crate::runtime::state::is_running(&state) {
        let holder = crate::runtime::bridge::Holder {
            pid: state.monitor_pid,
            start: state.monitor_start,
        };
        if let Err(e) = crate::runtime::bridge::connect(store, &cfg, state.pid, holder, &net.name) {
            let _ = crate::runtime::bridge::disconnect(store, &id, state.pid, &net.name);
            return Err(e);
        }
    }
    {
        let _lock = store.lock()?;
        store.containers.save_config(&cfg)?;
    }
    network_event(store, "connect", &id, &net.name);
    Ok(())
}

/// podman's `network connect|disconnect` event: the container's id, the
/// network's name.
fn network_event(store: &Store, status: &str, id: &str, network: &str) {
    use crate::storage::events::{self, Event};
    events::append(
        store,
        Event {
            id: id.to_string(),
            network: network.to_string(),
            ..Event::new("network", status)
        },
    );
}

/// `network disconnect`: take a container off a network (at once when it
/// runs).
/// `network update`: drop then add network-level DNS servers (podman's
/// order); running members' DNS server picks the list up within a second.
pub fn update(store: &Store, network: &str, add: &[String], drop: &[String]) -> Result<()> {
    for d in add.iter().chain(drop) {
        d.parse::<std::net::IpAddr>()
            .with_context(|| format!("invalid DNS server address {d:?}"))?;
    }
    let _lock = lock(store)?;
    let mut net = find(store, network)?;
    if net.name == nets::DEFAULT_NAME {
        bail!("default network {} cannot be modified", net.name);
    }
    if !net.dns_enabled && !add.is_empty() {
        bail!(
            "network {} has DNS disabled: its members would never ask the servers added",
            net.name
        );
    }
    let mut servers: Vec<String> = net
        .network_dns_servers
        .iter()
        .filter(|s| !drop.contains(s))
        .cloned()
        .collect();
    for a in add {
        if !servers.contains(a) {
            servers.push(a.clone());
        }
    }
    if servers != net.network_dns_servers {
        net.network_dns_servers = servers;
        nets::save(&store.root, &net)?;
    }
    Ok(())
}

/// `network disconnect`; with `force`, a running member whose interface
/// cannot be taken down (its namespace is gone) is disconnected in its
/// record anyway.
pub fn disconnect(store: &Store, network: &str, container: &str, force: bool) -> Result<()> {
    let net = find(store, network)?;
    let id = super::lookup::container_id(store, container)?;
    let mut cfg = store.containers.load_config(&id)?;
    let NetworkMode::Bridge(names) = &cfg.network else {
        bail!("container {id} is not connected to network {}", net.name);
    };
    if !names.contains(&net.name) {
        bail!("container {id} is not connected to network {}", net.name);
    }
    let rest: Vec<String> = names.iter().filter(|n| **n != net.name).cloned().collect();
    let state = crate::runtime::state::current_state(store, &id)?;
    if crate::runtime::state::is_running(&state) {
        let down = crate::runtime::bridge::disconnect(store, &id, state.pid, &net.name);
        match down {
            Err(e) if force => crate::warn!("{e:#}"),
            other => {
                other?;
            }
        }
    }
    cfg.network = NetworkMode::Bridge(rest);
    cfg.network_attachments.remove(&net.name);
    {
        let _lock = store.lock()?;
        store.containers.save_config(&cfg)?;
    }
    network_event(store, "disconnect", &id, &net.name);
    Ok(())
}

/// `network reload`: the firewall rules of running containers on named
/// networks put back; returns the ids done.
pub fn reload(store: &Store, containers: &[String], all: bool) -> Result<Vec<String>> {
    if all && !containers.is_empty() {
        bail!("--all and containers cannot be used together");
    }
    if !all && containers.is_empty() {
        bail!("provide one or more containers, or --all");
    }
    let ids = if all {
        store.containers.ids()?
    } else {
        containers
            .iter()
            .map(|c| super::lookup::container_id(store, c))
            .collect::<Result<Vec<_>>>()?
    };
    let mut done = Vec::new();
    for id in ids {
        let Ok(cfg) = store.containers.load_config(&id) else {
            continue;
        };
        let running = crate::runtime::state::current_state(store, &id)
            .is_ok_and(|s| crate::runtime::state::is_running(&s));
        if networks_of(&cfg).is_empty() || !running {
            if !all {
                bail!("container {id} is not running on a named network");
            }
            continue;
        }
        crate::runtime::bridge::reload(store, &id)?;
        done.push(id);
    }
    Ok(done)
}

/// Check a container's named networks exist before it is made.
pub fn check_container_networks(store: &Store, mode: &NetworkMode) -> Result<()> {
    let NetworkMode::Bridge(names) = mode else {
        return Ok(());
    };
    for n in names {
        let Some(net) = nets::load(&store.root, n)? else {
            bail!("unable to find network with name or ID {n}: network not found");
        };
        // Rootless networks live in a namespace of their own: no host
        // interface to hang a macvlan/ipvlan on (podman fails there too).
        if store.rootless && !net.is_bridge() {
            bail!(
                "network {n}: {} networks need root: rootless networking has no access to the host's interfaces",
                net.driver
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(nets: &[&str]) -> NetworkFlags {
        NetworkFlags {
            network: nets.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn network_flags_name_networks_or_modes() {
        let (m, a) = parse_flags(&flags(&["app:ip=10.89.0.50,alias=api", "backend"])).unwrap();
        assert_eq!(
            m,
            Some(NetworkMode::Bridge(vec!["app".into(), "backend".into()]))
        );
        assert_eq!(a["app"].ip, Some("10.89.0.50".parse().unwrap()));
        assert_eq!(a["app"].aliases, ["api"]);
        assert!(!a.contains_key("backend"));
        let (m, a) = parse_flags(&flags(&["pasta:-4"])).unwrap();
        assert_eq!(m, Some(NetworkMode::Pasta(vec!["-4".into()])));
        assert!(a.is_empty());
        assert!(parse_flags(&flags(&["none", "app"])).is_err());
        assert!(parse_flags(&flags(&["app:bogus=1"])).is_err());
        let mut f = flags(&["app"]);
        f.ip = Some("10.89.0.9".into());
        f.aliases = vec!["db".into()];
        let (_, a) = parse_flags(&f).unwrap();
        assert_eq!(a["app"].ip, Some("10.89.0.9".parse().unwrap()));
        assert_eq!(a["app"].aliases, ["db"]);
        let (_, a) = parse_flags(&flags(&["app:ip6=fd00::9"])).unwrap();
        assert_eq!(a["app"].ip6, Some("fd00::9".parse().unwrap()));
        assert!(parse_flags(&flags(&["app:ip6=10.0.0.1"])).is_err());
        let mut f = flags(&[]);
        f.aliases = vec!["db".into()];
        assert!(parse_flags(&f).is_err());
    }

    #[test]
    fn a_free_subnet_skips_those_in_use() {
        let used = [
            Net4::parse("10.89.0.0/24").unwrap(),
            Net4::parse("10.89.2.0/23").unwrap(),
        ];
        assert_eq!(free_subnet(&used).unwrap().to_string(), "10.89.1.0/24");
        let used = [Net4::parse("10.89.0.0/23").unwrap()];
        assert_eq!(free_subnet(&used).unwrap().to_string(), "10.89.2.0/24");
    }
}
