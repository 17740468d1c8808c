//! The kernel's data path of named networks (root): a Linux bridge per
//! network carrying its gateway address, a veth pair per container (the
//! host end on the bridge, the other in the container's namespace with an
//! address from the network's leases and a default route via the
//! gateway), and nftables in coracle's table: masquerade for egress, a
//! forward drop for `--internal` networks, DNAT for published ports.
//!
//! The monitor attaches its container before the program starts and
//! detaches it once the program is gone; a command that finds a monitor
//! killed detaches for it (state.rs). What was done is recorded in the
//! container's run dir (`networks.json`), so detaching needs nothing else.
//! The last member to leave a network takes its bridge, its nftables
//! elements and its DNS server with it.
//!
//! Rootless, all of it lives in the rootless network namespace
//! (rootless_netns.rs): `ip` and `nft` run there, and published ports go
//! through the port relay instead of DNAT.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use super::net_endpoint::{addresses_and_routes, run};
pub use super::net_endpoint::{Endpoint, Place};
use super::rootless_netns::Netns;
use super::sys;
use crate::storage::containers::{ContainerConfig, PortMapping};
use crate::storage::networks::{self as nets, Lease, Leases, Net4, Net6, Network};
use crate::storage::store::Store;

const TABLE: &str = "coracle";
const RECORD: &str = "networks.json";

/// The host's routed subnets (`/proc/net/route`): a new network must not
/// overlap them.
pub fn host_subnets() -> Vec<Net4> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dst = u32::from_str_radix(f.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?.swap_bytes();
            (mask != 0).then(|| Net4 {
                addr: Ipv4Addr::from(dst),
                prefix: mask.count_ones() as u8,
            })
        })
        .collect()
}

/// The endpoints recorded in a container's run dir.
pub fn endpoints(run_dir: &Path) -> Vec<Endpoint> {
    crate::storage::atomic::read_json(&run_dir.join(RECORD))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Whether a lease's holder (a monitor) still runs.
fn holder_alive(l: &Lease) -> bool {
    sys::process_is(l.pid, l.pid_start)
}

/// A random locally administered unicast MAC.
fn random_mac() -> String {
    let b: [u8; 6] = rand::random();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        (b[0] & 0xfe) | 0x02,
        b[1],
        b[2],
        b[3],
        b[4],
        b[5]
    )
}

/// The process a lease belongs to: the container's monitor.
#[derive(Clone, Copy)]
pub struct Holder {
    pub pid: i32,
    pub start: u64,
}

impl Holder {
    /// This process: the monitor attaching its own container.
    fn me() -> Holder {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        Holder {
            pid,
            start: sys::process_start_time(pid).unwrap_or(0),
        }
    }
}

/// The rootless network namespace when it runs, for cleaning up.
fn opened(store: &Store) -> Option<Netns> {
    if store.rootless {
        super::rootless_netns::open(&store.runroot)
    } else {
        None
    }
}

/// Put the container (first process `pid`, monitored by us) on its named
/// networks, before its program starts.
pub fn attach(store: &Store, cfg: &ContainerConfig, pid: i32, place: Place) -> Result<()> {
    let crate::storage::modes::NetworkMode::Bridge(names) = &cfg.network else {
        return Ok(());
    };
    let holder = Holder::me();
    let mut dns_at = None;
    for name in names {
        let dns = join(store, cfg, pid, holder, name, place)?;
        dns_at = dns_at.or(dns);
    }
    if let Some(first) = endpoints(&store.containers.run_dir(&cfg.id)).first() {
        let ip = first.ip.map(IpAddr::V4).or(first.ip6.map(IpAddr::V6));
        if let Some(ip) = ip {
            own_hosts_entry(store, cfg, ip);
        }
    }
    // The network's name server, unless the user chose servers.
    if let (Some(gw), true) = (dns_at, cfg.dns.is_empty()) {
        let path = store.containers.dir(&cfg.id).join("userdata/resolv.conf");
        rewrite_in_place(&path, &super::dns::resolv_conf(gw));
    }
    Ok(())
}

/// `network connect` of a running container: one more network.
pub fn connect(
    store: &Store,
    cfg: &ContainerConfig,
    pid: i32,
    holder: Holder,
    name: &str,
) -> Result<()> {
    if !store.rootless {
        return join(store, cfg, pid, holder, name, Place(None)).map(|_| ());
    }
    // Under the namespace's lock, as a starting member joins.
    let (_lock, ns) = super::rootless_netns::ensure(&store.runroot)?;
    join(store, cfg, pid, holder, name, Place(Some(&ns))).map(|_| ())
}

/// Put the container on network `name`: a lease, the bridge, the veth
/// pair; its first network also takes its published ports. Recorded
/// before each step, so a failure halfway is undone by `detach`. Returns
/// the gateway when the network has a name server.
fn join(
    store: &Store,
    cfg: &ContainerConfig,
    pid: i32,
    holder: Holder,
    name: &str,
    place: Place,
) -> Result<Option<IpAddr>> {
    let run_dir = store.containers.run_dir(&cfg.id);
    std::fs::create_dir_all(&run_dir)?;
    let mut done = endpoints(&run_dir);
    let net = nets::load(&store.root, name)?.with_context(|| {
        format!("unable to find network with name or ID {name}: network not found")
    })?;
    let want = cfg
        .network_attachments
        .get(name)
        .cloned()
        .unwrap_or_default();
    let v4 = net.subnet4()?;
    let v6 = net.subnet6()?;
    if v4.is_none() && v6.is_none() {
        bail!("network {name} has no subnet");
    }
    // macvlan/ipvlan: a sub-interface of a host interface, root only.
    let parent = if net.is_bridge() {
        None
    } else if place.rootless() {
        bail!(
            "network {name}: {} networks need root: rootless networking has no access to the host's interfaces",
            net.driver
        );
    } else {
        Some(super::network_vlan::parent(&net)?)
    };
    let mut leases = Leases::open(&store.runroot, name)?;
    leases.forget_dead(holder_alive);
    // A live member made the bridge and its rules; they go with the last.
    let bridge_up = !leases.list.is_empty();
    let ip = leases.free_address(&net, want.ip)?;
    let ip6 = leases.free_address(&net, want.ip6)?;
    let mac = parent
        .as_deref()
        .and_then(|p| super::network_vlan::shared_mac(&net, p))
        .or_else(|| want.mac.clone())
        .unwrap_or_else(random_mac);
    let mut names_here = vec![cfg.name.clone()];
    names_here.extend(want.aliases.iter().cloned());
    if cfg.is_infra && !cfg.pod.is_empty() {
        if let Ok(pod) = store.pods.load(&cfg.pod) {
            names_here.push(pod.name.clone());
        }
    }
    leases.list.push(Lease {
        container_id: cfg.id.clone(),
        ip,
        ip6,
        mac: mac.clone(),
        names: names_here,
        pid: holder.pid,
        pid_start: holder.start,
    });
    leases.save()?;
    let interface = want.interface_name.clone().unwrap_or_else(|| {
        (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !done.iter().any(|e| &e.interface == n))
            .unwrap_or_default()
    });
    let first = done.is_empty();
    let route = !net.internal
        && !super::network_vlan::no_default_route(&net)
        && !done.iter().any(|e| e.default_route);
    done.push(Endpoint {
        network: name.to_string(),
        network_id: net.id.clone(),
        interface,
        ip,
        prefix: v4.map_or(0, |(n, _)| n.prefix),
        gateway: v4.map(|(_, g)| g).filter(|_| net.has_gateway::<Ipv4Addr>()),
        mac,
        aliases: want.aliases.clone(),
        // A sub-interface's name on the host until it moves in.
        host_veth: format!(
            "{}{:08x}",
            if parent.is_some() { "vlan" } else { "veth" },
            rand::random::<u32>()
        ),
        // Published ports are the bridge's (netavark: macvlan has none).
        elements: if first && !place.rootless() && parent.is_none() {
            dnat_elements(&cfg.ports, ip, ip6)
        } else {
            Vec::new()
        },
        default_route: route,
        ip6,
        prefix6: v6.map_or(0, |(n, _)| n.prefix),
        gateway6: v6.map(|(_, g)| g).filter(|_| net.has_gateway::<Ipv6Addr>()),
    });
    crate::storage::atomic::write_json(&run_dir.join(RECORD), &done, false)?;
    let ep = done.last().expect("just pushed");
    if let Some(parent) = parent {
        drop(leases);
        super::network_vlan::link_container(pid, &net, &parent, ep, route, place)?;
        return Ok(None);
    }
    if !bridge_up {
        ensure_bridge(&net, v4, v6, place)?;
    }
    // The name server listens on the IPv4 gateway, or the IPv6 one of
    // an IPv6-only network.
    let dns_at = v4
        .map(|(_, g)| IpAddr::V4(g))
        .or(v6.map(|(_, g)| IpAddr::V6(g)));
    let dns = match (net.dns_enabled, dns_at) {
        (true, Some(at)) => {
            super::dns::ensure_running(store, &net, at, place.0)?;
            Some(at)
        }
        _ => None,
    };
    // Leased, recorded, the bridge and its name server up: the container's
    // own links need no lock, so members starting together (compose up)
    // make theirs at once.
    drop(leases);
    link_container(pid, &net, ep, route, place)?;
    add_elements(&ep.elements, place)?;
    Ok(dns)
}

/// Replace a bind-mounted file's text, keeping its inode.
fn rewrite_in_place(path: &Path, text: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// The container's own line in its /etc/hosts names its address on its
/// first network (the file is bind-mounted: rewritten in place).
fn own_hosts_entry(store: &Store, cfg: &ContainerConfig, ip: IpAddr) {
    let path = store.containers.dir(&cfg.id).join("userdata/hosts");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let fixed: String = text
        .lines()
        .map(|l| match l.strip_prefix("127.0.1.1\t") {
            Some(rest) => format!("{ip}\t{rest}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    rewrite_in_place(&path, &fixed);
}

/// Take the container off its networks, as its run dir records; the last
/// member of a network takes the bridge, its rules and its DNS server.
pub fn detach(store: &Store, id: &str) {
    let run_dir = store.containers.run_dir(id);
    let ns = opened(store);
    for ep in &endpoints(&run_dir) {
        leave(store, id, ep, Place(ns.as_ref()));
    }
    let _ = std::fs::remove_file(run_dir.join(RECORD));
}

/// `network disconnect` of a running container (its first process
/// `pid`); false when it was not on that network.
pub fn disconnect(store: &Store, id: &str, pid: i32, name: &str) -> Result<bool> {
    let run_dir = store.containers.run_dir(id);
    let mut eps = endpoints(&run_dir);
    let Some(at) = eps.iter().position(|e| e.network == name) else {
        return Ok(false);
    };
    let ep = eps.remove(at);
    let ns = opened(store);
    if ep.host_veth.starts_with("vlan") {
        super::network_vlan::unlink_container(pid, &ep, Place(ns.as_ref()));
    }
    leave(store, id, &ep, Place(ns.as_ref()));
    crate::storage::atomic::write_json(&run_dir.join(RECORD), &eps, false)?;
    Ok(true)
}

/// One endpoint goes: its rules, its veth pair, its lease.
fn leave(store: &Store, id: &str, ep: &Endpoint, place: Place) {
    remove_elements(&ep.elements, place);
    // Rootless, /sys shows the host's links: just try.
    if place.rootless() || Path::new("/sys/class/net").join(&ep.host_veth).exists() {
        let _ = run(
            &mut place.ip_batch(),
            &format!("link del {}\n", ep.host_veth),
        );
    }
    let Ok(mut leases) = Leases::open(&store.runroot, &ep.network) else {
        return;
    };
    leases.list.retain(|l| l.container_id != id);
    leases.forget_dead(holder_alive);
    let _ = leases.save();
    if leases.list.is_empty() {
        let net = nets::load(&store.root, &ep.network).ok().flatten();
        teardown_network(store, &ep.network, net.as_ref(), place);
    }
}

/// `network reload`: put back the nftables rules, set elements and DNAT
/// elements of a running container's networks (after a firewall reload
/// flushed them).
pub fn reload(store: &Store, id: &str) -> Result<()> {
    let ns = opened(store);
    if store.rootless && ns.is_none() {
        bail!("the rootless network namespace is not running");
    }
    let place = Place(ns.as_ref());
    for ep in endpoints(&store.containers.run_dir(id)) {
        let Some(net) = nets::load(&store.root, &ep.network)? else {
            continue;
        };
        if !net.is_bridge() {
            continue;
        }
        run(
            &mut place.nft(),
            &network_rules(&net, net.subnet4()?, net.subnet6()?),
        )
        .with_context(|| format!("adding the nftables rules of network {}", net.name))?;
        add_elements(&ep.elements, place)?;
    }
    Ok(())
}

/// A network with no member left: its DNS server, bridge and elements go.
fn teardown_network(store: &Store, name: &str, net: Option<&Network>, place: Place) {
    super::dns::stop(store, name);
    // A macvlan's interface is its parent: the host's, not ours.
    let Some(net) = net.filter(|n| n.is_bridge()) else {
        return;
    };

    if place.rootless()
        || Path::new("/sys/class/net")
            .join(&net.network_interface)
            .exists()
    {
        let _ = run(
            &mut place.ip_batch(),
            &format!("link del {}\n", net.network_interface),
        );
    }
    let v4 = net.subnet4().ok().flatten();
    let v6 = net.subnet6().ok().flatten();
    for set in ["net_masq", "net_internal", "net_subnets"] {
        if let Some((subnet, _)) = v4 {
            let _ = run(
                &mut place.nft(),
                &format!("delete element ip {TABLE} {set} {{ {subnet} }}\n"),
            );
        }
        if let Some((subnet6, _)) = v6 {
            let _ = run(
                &mut place.nft(),
                &format!("delete element ip6 {TABLE} {set} {{ {subnet6} }}\n"),
            );
        }
    }
}

/// A removed network: stop what may still serve it (a DNS server whose
/// members were killed with their monitors).
pub fn forget_network(store: &Store, name: &str) {
    let mut leases = match Leases::open(&store.runroot, name) {
        Ok(l) => l,
        Err(_) => return,
    };
    leases.forget_dead(holder_alive);
    if leases.list.is_empty() {
        super::dns::stop(store, name);
        let _ = leases.save();
    }
}

/// The network's bridge with its gateway address, and its place in the
/// nftables sets; made by its first member (under the leases' lock).
fn ensure_bridge(
    net: &Network,
    v4: Option<(Net4, Ipv4Addr)>,
    v6: Option<(Net6, Ipv6Addr)>,
    place: Place,
) -> Result<()> {
    let br = &net.network_interface;
    let sys_dir = Path::new("/sys/class/net").join(br);
    if place.rootless() {
        // /sys is the host's: ask the namespace. A bridge left by a killed
        // last member is taken down and made anew.
        let _ = run(&mut place.ip_batch(), &format!("link del {br}\n"));
    }
    if place.rootless() || !sys_dir.exists() {
        let mut script = format!("link add {br} type bridge\n");
        if let Some(mtu) = net.options.get("mtu") {
            script.push_str(&format!("link set {br} mtu {mtu}\n"));
        }
        if let Some((subnet, gw)) = v4 {
            script.push_str(&format!("addr add {gw}/{} dev {br}\n", subnet.prefix));
        }
        // nodad: usable at once, not after duplicate address detection.
        if let Some((net6, gw6)) = v6 {
            script.push_str(&format!("addr add {gw6}/{} dev {br} nodad\n", net6.prefix));
        }
        script.push_str(&format!("link set {br} up\n"));
        run(&mut place.ip_batch(), &script)
            .with_context(|| format!("creating bridge {br} of network {}", net.name))?;
    } else if !sys_dir.join("bridge").exists() {
        bail!(
            "network {}: interface {br} exists and is not a bridge",
            net.name
        );
    }
    // Published ports reached at 127.0.0.1 are DNATed onto the bridge.
    // (Rootless: the relay publishes, and the holder turned forwarding on.)
    if !place.rootless() {
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{br}/route_localnet"), "1");
    }
    if !net.internal && !place.rootless() {
        // Egress is forwarded by the host, as podman's networks are.
        if v4.is_some() {
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
                .context("enabling IPv4 forwarding")?;
        }
        if v6.is_some() {
            std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1")
                .context("enabling IPv6 forwarding")?;
        }
    }
    run(&mut place.nft(), &network_rules(net, v4, v6))
        .with_context(|| format!("adding the nftables rules of network {}", net.name))
}

/// Our chains, and the network's subnets in the sets that say what they
/// may (the IPv6 table only for a network with IPv6).
fn network_rules(
    net: &Network,
    v4: Option<(Net4, Ipv4Addr)>,
    v6: Option<(Net6, Ipv6Addr)>,
) -> String {
    let mut nft = String::new();
    let set = if net.internal {
        "net_internal"
    } else {
        "net_masq"
    };
    let subnets = [
        ("ip", v4.map(|(n, _)| n.to_string())),
        ("ip6", v6.map(|(n, _)| n.to_string())),
    ];
    for (family, subnet) in subnets {
        let Some(subnet) = subnet else { continue };
        nft.push_str(&ruleset(family));
        for s in ["net_subnets", set] {
            nft.push_str(&format!(
                "add element {family} {TABLE} {s} {{ {subnet} }}\n"
            ));
        }
    }
    nft
}

/// Our chains in coracle's table of family `f` (`ip` or `ip6`; port_nat
/// has its own): idempotent, the sets and maps kept, the chains' rules
/// rewritten. DNAT for published ports, masquerade out, internal networks
/// kept in. IPv4's loopback is DNATed too (`route_localnet`, masqueraded
/// onto the bridge); IPv6 has no such thing: `[::1]` is not published as
/// root (podman's netavark neither). In IPv6's output hook `fib daddr
/// type local` matches nothing; a packet to a local address leaves by
/// `lo` there.
fn ruleset(f: &str) -> String {
    let (addr, local_out, from_lo) = if f == "ip6" {
        ("ipv6_addr", "oif lo", String::new())
    } else {
        (
            "ipv4_addr",
            "fib daddr type local",
            format!("add rule ip {TABLE} net_postrouting ip saddr 127.0.0.0/8 ip daddr @net_subnets masquerade\n"),
        )
    };
    format!(
        "add table {f} {TABLE}
add set {f} {TABLE} net_subnets {{ type {addr}; flags interval; }}
add set {f} {TABLE} net_masq {{ type {addr}; flags interval; }}
add set {f} {TABLE} net_internal {{ type {addr}; flags interval; }}
add map {f} {TABLE} net_tcp {{ type inet_service : {addr} . inet_service; }}
add map {f} {TABLE} net_udp {{ type inet_service : {addr} . inet_service; }}
add map {f} {TABLE} net_tcp_addr {{ type {addr} . inet_service : {addr} . inet_service; }}
add map {f} {TABLE} net_udp_addr {{ type {addr} . inet_service : {addr} . inet_service; }}
add chain {f} {TABLE} net_prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}
add chain {f} {TABLE} net_output {{ type nat hook output priority -100; policy accept; }}
add chain {f} {TABLE} net_postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
add chain {f} {TABLE} net_forward {{ type filter hook forward priority filter; policy accept; }}
flush chain {f} {TABLE} net_prerouting
flush chain {f} {TABLE} net_output
flush chain {f} {TABLE} net_postrouting
flush chain {f} {TABLE} net_forward
add rule {f} {TABLE} net_prerouting fib daddr type local dnat {f} to tcp dport map @net_tcp
add rule {f} {TABLE} net_prerouting fib daddr type local dnat {f} to udp dport map @net_udp
add rule {f} {TABLE} net_prerouting dnat {f} to {f} daddr . tcp dport map @net_tcp_addr
add rule {f} {TABLE} net_prerouting dnat {f} to {f} daddr . udp dport map @net_udp_addr
add rule {f} {TABLE} net_output {local_out} dnat {f} to tcp dport map @net_tcp
add rule {f} {TABLE} net_output {local_out} dnat {f} to udp dport map @net_udp
add rule {f} {TABLE} net_output dnat {f} to {f} daddr . tcp dport map @net_tcp_addr
add rule {f} {TABLE} net_output dnat {f} to {f} daddr . udp dport map @net_udp_addr
{from_lo}add rule {f} {TABLE} net_postrouting {f} saddr @net_masq {f} daddr != @net_subnets masquerade
add rule {f} {TABLE} net_forward {f} saddr @net_internal {f} daddr != @net_internal drop
add rule {f} {TABLE} net_forward {f} daddr @net_internal {f} saddr != @net_internal drop
"
    )
}

/// The map elements that send a container's published ports to its
/// addresses: IPv4's in the `ip` table, IPv6's (written `ip6 ...`) in the
/// `ip6` one. A port with no host address is published on both families
/// the container has, `0.0.0.0` and `::` on theirs, an address on its.
fn dnat_elements(
    ports: &[PortMapping],
    ip: Option<Ipv4Addr>,
    ip6: Option<Ipv6Addr>,
) -> Vec<String> {
    let targets = [("", ip.map(IpAddr::V4)), ("ip6 ", ip6.map(IpAddr::V6))];
    let mut out = Vec::new();
    for p in ports
        .iter()
        .filter(|p| p.protocol == "tcp" || p.protocol == "udp")
    {
        let (proto, host, ctr) = (&p.protocol, p.host_port, p.container_port);
        let asked = p.host_ip.parse::<IpAddr>().ok();
        for (family, to) in targets {
            let Some(to) = to else { continue };
            let element = match asked {
                None if p.host_ip.is_empty() => format!("net_{proto} {{ {host} : {to} . {ctr} }}"),
                Some(a) if a.is_ipv4() != to.is_ipv4() => continue,
                Some(a) if a.is_unspecified() => format!("net_{proto} {{ {host} : {to} . {ctr} }}"),
                Some(a) => format!("net_{proto}_addr {{ {a} . {host} : {to} . {ctr} }}"),
                None => continue,
            };
            out.push(format!("{family}{element}"));
        }
    }
    out
}

/// An element's table family and its text there (`ip6 net_tcp {...}` is
/// IPv6's; the records of earlier releases have IPv4's only, unmarked).
fn family_of(element: &str) -> (&str, &str) {
    match element.strip_prefix("ip6 ") {
        Some(rest) => ("ip6", rest),
        None => ("ip", element),
    }
}

fn add_elements(elements: &[String], place: Place) -> Result<()> {
    if elements.is_empty() {
        return Ok(());
    }
    let add: String = elements
        .iter()
        .map(|e| {
            let (family, e) = family_of(e);
            format!("add element {family} {TABLE} {e}\n")
        })
        .collect();
    run(&mut place.nft(), &add).context("publishing the container's ports")
}

/// `net_tcp { 8080 : 10.89.0.2 . 80 }` -> `net_tcp { 8080 }`.
fn key_only(element: &str) -> String {
    match element.split_once(" : ") {
        Some((head, _)) => format!("{head} }}"),
        None => element.to_string(),
    }
}

fn remove_elements(elements: &[String], place: Place) {
    // One command per element: one missing must not keep the others.
    for e in elements {
        let (family, e) = family_of(e);
        let _ = run(
            &mut place.nft(),
            &format!("delete element {family} {TABLE} {}\n", key_only(e)),
        );
    }
}

/// The veth pair: the host end on the bridge, the other end named and
/// addressed in the container's namespace, with the default route when
/// `route`.
fn link_container(pid: i32, net: &Network, ep: &Endpoint, route: bool, place: Place) -> Result<()> {
    let tmp = format!("c{}", &ep.host_veth[4..]);
    let mtu = net
        .options
        .get("mtu")
        .map(|m| format!(" mtu {m}"))
        .unwrap_or_default();
    run(
        &mut place.ip_batch(),
        &format!(
            "link add {}{mtu} type veth peer name {tmp}{mtu} netns {pid}\nlink set {} master {} up\n",
            ep.host_veth, ep.host_veth, net.network_interface
        ),
    )
    .context("creating the container's veth pair")?;
    let mut script = format!(
        "link set {tmp} name {}\nlink set {} address {}\n",
        ep.interface, ep.interface, ep.mac
    );
    script.push_str(&addresses_and_routes(ep, route, &net.routes));
    let (mut cmd, _ns) = place.ip_in(pid)?;
    run(&mut cmd, &script).context("configuring the container's network interface")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_become_map_elements() {
        let map = |ip: &str, proto: &str| PortMapping {
            host_ip: ip.into(),
            host_port: 8080,
            container_port: 80,
            protocol: proto.into(),
        };
        let ip: Ipv4Addr = "10.89.0.2".parse().unwrap();
        let ports = [
            map("", "tcp"),
            map("127.0.0.1", "udp"),
            map("::1", "tcp"),
            map("::", "udp"),
        ];
        assert_eq!(
            dnat_elements(&ports, Some(ip), None),
            [
                "net_tcp { 8080 : 10.89.0.2 . 80 }",
                "net_udp_addr { 127.0.0.1 . 8080 : 10.89.0.2 . 80 }"
            ]
        );
        // IPv6 too: the elements of the ip6 table.
        let ip6: Ipv6Addr = "fd00::2".parse().unwrap();
        assert_eq!(
            dnat_elements(&ports, None, Some(ip6)),
            [
                "ip6 net_tcp { 8080 : fd00::2 . 80 }",
                "ip6 net_tcp_addr { ::1 . 8080 : fd00::2 . 80 }",
                "ip6 net_udp { 8080 : fd00::2 . 80 }"
            ]
        );
        assert_eq!(
            family_of("ip6 net_tcp { 8080 : fd00::2 . 80 }"),
            ("ip6", "net_tcp { 8080 : fd00::2 . 80 }")
        );
        assert_eq!(dnat_elements(&ports[..1], Some(ip), Some(ip6)).len(), 2);
        assert_eq!(
            key_only("net_tcp { 8080 : 10.89.0.2 . 80 }"),
            "net_tcp { 8080 }"
        );
    }

    #[test]
    fn macs_are_local_unicast() {
        for _ in 0..32 {
            let m = random_mac();
            let first = u8::from_str_radix(&m[..2], 16).unwrap();
            assert_eq!(first & 0x03, 0x02, "{m}");
        }
    }
}
