//! macvlan and ipvlan networks (root only): no bridge, no nftables, no
//! name server. Each member gets a sub-interface of the network's parent
//! (its `network_interface`, or the interface of the host's default route
//! when none was given, as netavark picks it), made in the host's
//! namespace under a temporary name, moved into the container's at once,
//! renamed and addressed there. It lives and dies with the container's
//! network namespace: nothing of it stays on the host when the container
//! is gone, whatever killed it.

use anyhow::{bail, Context, Result};
use std::path::Path;

use super::net_endpoint::{addresses_and_routes, run, Endpoint, Place};
use crate::storage::networks::{Network, IPVLAN, IPVLAN_MODES, MACVLAN_MODES};

/// The host interface the network's members hang on.
pub fn parent(net: &Network) -> Result<String> {
    let parent = if net.network_interface.is_empty() {
        default_route_interface().context(
            "no default route to take the parent interface from: give the network -o parent=",
        )?
    } else {
        net.network_interface.clone()
    };
    if !Path::new("/sys/class/net").join(&parent).exists() {
        bail!(
            "network {}: parent interface {parent} does not exist",
            net.name
        );
    }
    Ok(parent)
}

/// The MAC a member shows: ipvlan members share their parent's; a
/// macvlan member has its own (None: the caller picks one).
pub fn shared_mac(net: &Network, parent: &str) -> Option<String> {
    (net.driver == IPVLAN)
        .then(|| std::fs::read_to_string(format!("/sys/class/net/{parent}/address")).ok())
        .flatten()
        .map(|m| m.trim().to_string())
}

/// The interface of the IPv4 default route (`/proc/net/route`).
fn default_route_interface() -> Option<String> {
    let text = std::fs::read_to_string("/proc/net/route").ok()?;
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"00000000") && f.get(7) == Some(&"00000000")).then(|| f[0].to_string())
    })
}

/// Whether members get no default route (`-o no_default_route=true`).
pub fn no_default_route(net: &Network) -> bool {
    net.options
        .get("no_default_route")
        .is_some_and(|v| v == "true")
}

/// The member's sub-interface: made on the parent as `ep.host_veth` (so
/// a failure before the move leaves a name `detach` can remove), moved
/// into the namespace of `pid`, named, addressed and routed there.
pub fn link_container(
    pid: i32,
    net: &Network,
    parent: &str,
    ep: &Endpoint,
    route: bool,
    place: Place,
) -> Result<()> {
    let modes: &[&str] = if net.driver == IPVLAN {
        &IPVLAN_MODES
    } else {
        &MACVLAN_MODES
    };
    let mode = net.options.get("mode").map_or(modes[0], |m| m.as_str());
    let mtu = net
        .options
        .get("mtu")
        .map(|m| format!(" mtu {m}"))
        .unwrap_or_default();
    let tmp = &ep.host_veth;
    run(
        &mut place.ip_batch(),
        &format!(
            "link add {tmp} link {parent}{mtu} type {} mode {mode}\nlink set {tmp} netns {pid}\n",
            net.driver
        ),
    )
    .with_context(|| {
        format!(
            "creating the container's {} interface on {parent}",
            net.driver
        )
    })?;
    let iface = &ep.interface;
    let mut script = format!("link set {tmp} name {iface}\n");
    if net.driver != IPVLAN {
        script.push_str(&format!("link set {iface} address {}\n", ep.mac));
    }
    script.push_str(&addresses_and_routes(ep, route, &net.routes));
    let (mut cmd, _ns) = place.ip_in(pid)?;
    run(&mut cmd, &script).context("configuring the container's network interface")
}

/// `network disconnect` of a running member: its sub-interface goes from
/// its namespace (a stopped member's went with the namespace).
pub fn unlink_container(pid: i32, ep: &Endpoint, place: Place) {
    if let Ok((mut cmd, _ns)) = place.ip_in(pid) {
        let _ = run(&mut cmd, &format!("link del {}\n", ep.interface));
    }
}
