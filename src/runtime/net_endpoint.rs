//! A container's place on a network and the ways to shape it, whatever
//! the driver (bridge.rs, network_vlan.rs): the endpoint record, where
//! `ip` and `nft` run (the host or the rootless network namespace), the
//! `ip` lines that give an interface its addresses and routes.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

use super::rootless_netns::Netns;

/// One container's place on one network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub network: String,
    pub network_id: String,
    /// The interface inside the container.
    pub interface: String,
    /// Its IPv4 address, prefix and gateway (none on an IPv6-only
    /// network; no gateway on an `--internal` macvlan without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub prefix: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
    pub mac: String,
    pub aliases: Vec<String>,
    /// The host end of the veth pair.
    pub host_veth: String,
    /// DNAT map elements added for its published ports.
    #[serde(default)]
    pub elements: Vec<String>,
    /// The container's default route goes through this network.
    #[serde(default)]
    pub default_route: bool,
    /// Its IPv6 address, prefix and gateway, on a network with IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default)]
    pub prefix6: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
}

/// Where `ip` and `nft` run: the host's namespaces (root) or the rootless
/// network namespace.
#[derive(Clone, Copy)]
pub struct Place<'a>(pub Option<&'a Netns>);

impl Place<'_> {
    pub(super) fn command(&self, program: &str) -> Command {
        match self.0 {
            Some(ns) => ns.command(program, None),
            None => Command::new(program),
        }
    }

    pub(super) fn ip_batch(&self) -> Command {
        let mut cmd = self.command("ip");
        cmd.args(["-batch", "-"]);
        cmd
    }

    pub(super) fn nft(&self) -> Command {
        let mut cmd = self.command("nft");
        cmd.args(["-f", "-"]);
        cmd
    }

    /// `ip -batch -` in the network namespace of `pid`.
    pub(super) fn ip_in(&self, pid: i32) -> Result<(Command, std::fs::File)> {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .context("opening the container's network namespace")?;
        let mut cmd = match self.0 {
            Some(rootless) => rootless.command("ip", Some(&ns)),
            None => in_netns(&ns),
        };
        cmd.args(["-batch", "-"]);
        Ok((cmd, ns))
    }

    pub(super) fn rootless(&self) -> bool {
        self.0.is_some()
    }
}

/// The `ip` lines that give a member's interface its addresses, bring it
/// up and, when `route`, route through the gateways; and the network's
/// static routes.
pub(super) fn addresses_and_routes(
    ep: &Endpoint,
    route: bool,
    statics: &[crate::storage::networks::StaticRoute],
) -> String {
    let iface = &ep.interface;
    let mut script = String::new();
    if let Some(ip) = ep.ip {
        script.push_str(&format!("addr add {ip}/{} dev {iface}\n", ep.prefix));
    }
    // nodad: usable at once, not after duplicate address detection.
    if let Some(ip6) = ep.ip6 {
        script.push_str(&format!(
            "addr add {ip6}/{} dev {iface} nodad\n",
            ep.prefix6
        ));
    }
    script.push_str(&format!("link set {iface} up\n"));
    if route {
        for gw in [ep.gateway.map(IpAddr::V4), ep.gateway6.map(IpAddr::V6)]
            .into_iter()
            .flatten()
        {
            script.push_str(&format!("route add default via {gw}\n"));
        }
    }
    for r in statics {
        let metric = r.metric.map(|m| format!(" metric {m}")).unwrap_or_default();
        script.push_str(&format!(
            "route add {} via {} dev {iface}{metric}\n",
            r.destination, r.gateway
        ));
    }
    script
}

/// `ip` in the network namespace `ns`: entered between fork and exec (one
/// program load less than nsenter).
fn in_netns(ns: &std::fs::File) -> Command {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = ns.as_raw_fd();
    let mut cmd = Command::new("ip");
    // SAFETY: setns is async-signal-safe; the caller keeps the fd open
    // until the command has been spawned.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Run a command with `input` on its stdin; its stderr is the error.
pub(super) fn run(cmd: &mut Command, input: &str) -> Result<()> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
