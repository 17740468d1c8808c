//! The name-resolution files a container gets (`/etc/hosts`,
//! `/etc/resolv.conf`) and the host addresses they name, as podman writes
//! them; containers sharing a network share them.

use crate::storage::modes::NetworkMode;
use anyhow::{bail, Context, Result};
use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;

use super::network::{pasta_setup, slirp_setup};

/// The host's default IPv4 gateway: with pasta, the container reaches the
/// host's own loopback services through it (host.containers.internal).
pub fn default_gateway() -> Option<Ipv4Addr> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    for line in routes.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" {
            let g = u32::from_str_radix(f[2], 16).ok()?;
            return Some(Ipv4Addr::from(g.swap_bytes()));
        }
    }
    None
}

/// The host's address on its default route (pasta gives the container the same).
pub fn default_address() -> Option<Ipv4Addr> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks a route.
    sock.connect("198.51.100.1:9").ok()?;
    match sock.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(a) if !a.is_unspecified() => Some(a),
        _ => None,
    }
}

/// The host's IPv4 addresses other than loopback, the one on its default
/// route first (podman's "first non-loopback address").
pub fn host_addresses() -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = default_address().into_iter().collect();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below; we only read it.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return out;
    }
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null()
            // SAFETY: a non-null sockaddr from getifaddrs.
            || i32::from(unsafe { (*ifa.ifa_addr).sa_family }) != libc::AF_INET
        {
            continue;
        }
        // SAFETY: an AF_INET address is a sockaddr_in.
        let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
        let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
        if !ip.is_loopback() && !ip.is_unspecified() && !out.contains(&ip) {
            out.push(ip);
        }
    }
    // SAFETY: the list getifaddrs returned, freed once.
    unsafe { libc::freeifaddrs(list) };
    out
}

/// The address a container reaches the host at (host.containers.internal),
/// when it is not the host's loopback: the host's first address other than
/// loopback and other than the container's own.
fn host_address_except(own: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
    host_addresses().into_iter().find(|a| Some(*a) != own)
}

/// A container's own address and the host's, as its name files give them,
/// for its network (mode and options); the options are checked here.
fn name_addresses(network: &NetworkMode) -> Result<(String, Option<String>)> {
    let options = network.helper_options();
    Ok(match network {
        NetworkMode::Pasta(_) => {
            let setup = pasta_setup(&options);
            let own = setup.own.or_else(default_address);
            // The gateway stands for the host's loopback only with --map-gw.
            let host = if setup.map_gw {
                default_gateway()
            } else {
                host_address_except(own)
            };
            (
                own.map_or_else(|| "127.0.1.1".to_string(), |a| a.to_string()),
                host.map(|h| h.to_string()),
            )
        }
        NetworkMode::Slirp4netns(_) => {
            let setup = slirp_setup(&options)?;
            let host = if setup.allow_host_loopback {
                Some("10.0.2.2".to_string())
            } else {
                host_address_except(None).map(|a| a.to_string())
            };
            ("10.0.2.100".to_string(), host)
        }
        _ => ("127.0.1.1".to_string(), None),
    })
}

/// `/etc/hosts` for a container: localhost, its own names, the host, extras.
/// The host is `host.containers.internal` at an address that is not its
/// loopback unless the network's options open that (podman's
/// `allow_host_loopback=true`, `--map-gw`); `host-gateway` is the same.
pub fn hosts_file(
    network: &NetworkMode,
    hostname: &str,
    name: &str,
    add_hosts: &[String],
) -> Result<String> {
    if *network == NetworkMode::Host {
        return Ok(std::fs::read_to_string("/etc/hosts").unwrap_or_default());
    }
    let (own, host) = name_addresses(network)?;
    let mut out = String::from(
        "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n",
    );
    for h in add_hosts {
        let (name, ip) = h
            .split_once(':')
            .with_context(|| format!("invalid --add-host {h:?}: expected HOST:IP"))?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        if ip.parse::<std::net::IpAddr>().is_err() && ip != "host-gateway" {
            bail!("invalid IP address {ip:?} in --add-host {h:?}");
        }
        let ip = if ip == "host-gateway" {
            host.clone()
                .or_else(|| host_address_except(None).map(|a| a.to_string()))
                .unwrap_or_else(|| "127.0.0.1".into())
        } else {
            ip.to_string()
        };
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    out.push_str(&format!("{own}\t{hostname} {name}\n"));
    if let Some(h) = host {
        out.push_str(&format!(
            "{h}\thost.containers.internal host.docker.internal\n"
        ));
    }
    Ok(out)
}

/// `--hosts-file`: the base file's lines first, then ours (without our
/// localhost lines when the base names localhost already).
pub fn on_base(base: Option<&str>, own: &str) -> String {
    let Some(base) = base else {
        return own.to_string();
    };
    let has_localhost = base.lines().any(|l| {
        let l = l.split('#').next().unwrap_or("");
        l.split_whitespace().skip(1).any(|n| n == "localhost")
    });
    let mut out = base.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for l in own.lines() {
        let localhost = l.split_whitespace().nth(1) == Some("localhost");
        if !(has_localhost && localhost) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// The container whose network namespace `cfg` joins, if any.
fn network_owner(cfg: &crate::storage::containers::ContainerConfig) -> Option<&str> {
    cfg.network.container()
}

/// The line a joining container adds to the shared /etc/hosts.
fn name_entry(name: &str) -> String {
    format!("127.0.0.1\t{name}\n")
}

/// Rewrite a file in place: containers bind-mount it, so its inode must
/// stay the same for them to see the change.
fn rewrite_in_place(path: &Path, edit: impl FnOnce(&str) -> String) -> Result<()> {
    use std::io::Write;
    let text = std::fs::read_to_string(path)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(edit(&text).as_bytes())?;
    Ok(())
}

/// A container in another's network namespace (a pod member) sees that
/// container's /etc/hosts and /etc/resolv.conf (the same files, hard
/// linked), and its own name is added to the hosts file everyone shares.
/// Call with the store lock held.
pub fn share_name_files(
    store: &crate::storage::store::Store,
    cfg: &crate::storage::containers::ContainerConfig,
) -> Result<()> {
    let Some(owner) = network_owner(cfg) else {
        return Ok(());
    };
    let ours = store.containers.dir(&cfg.id).join("userdata");
    let theirs = store.containers.dir(owner).join("userdata");
    for file in ["hosts", "resolv.conf"] {
        let _ = std::fs::remove_file(ours.join(file));
        if std::fs::hard_link(theirs.join(file), ours.join(file)).is_err() {
            std::fs::copy(theirs.join(file), ours.join(file))
                .with_context(|| format!("sharing /etc/{file} of container {owner}"))?;
        }
    }
    let entry = name_entry(&cfg.name);
    rewrite_in_place(&ours.join("hosts"), |text| {
        let mut text = text.to_string();
        if !text.lines().any(|l| format!("{l}\n") == entry) {
            text.push_str(&entry);
        }
        text
    })
    .context("adding the container's name to the shared /etc/hosts")
}

/// Take a removed container's name out of the /etc/hosts it shared.
/// Call with the store lock held.
pub fn forget_name_entry(store: &crate::storage::store::Store, id: &str) {
    let Ok(cfg) = store.containers.load_config(id) else {
        return;
    };
    if network_owner(&cfg).is_none() {
        return;
    }
    let entry = name_entry(&cfg.name);
    let hosts = store.containers.dir(id).join("userdata/hosts");
    let _ = rewrite_in_place(&hosts, |text| {
        text.lines()
            .map(|l| format!("{l}\n"))
            .filter(|l| *l != entry)
            .collect()
    });
}

/// `/etc/resolv.conf`: the host's, without resolvers the container cannot
/// reach, with the user's `--dns*` settings replacing the host's.
pub fn resolv_conf(
    network: &NetworkMode,
    dns: &[String],
    search: &[String],
    options: &[String],
) -> Result<String> {
    for d in dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            bail!("invalid --dns address {d:?}");
        }
    }
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut servers: Vec<String> = Vec::new();
    let mut searches: Vec<String> = Vec::new();
    let mut opts: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("nameserver") => {
                if let Some(s) = f.next() {
                    let loopback = s.starts_with("127.") || s == "::1";
                    if *network == NetworkMode::Host || !loopback {
                        servers.push(s.to_string());
                    }
                }
            }
            Some("search") | Some("domain") => searches.extend(f.map(str::to_string)),
            Some("options") => opts.extend(f.map(str::to_string)),
            _ => {}
        }
    }
    if servers.is_empty() && matches!(network, NetworkMode::Slirp4netns(_)) {
        servers.push("10.0.2.3".into());
    }
    if !dns.is_empty() {
        servers = dns.to_vec();
    }
    if !search.is_empty() {
        searches = if search == ["."] {
            Vec::new()
        } else {
            search.to_vec()
        };
    }
    if !options.is_empty() {
        opts = options.to_vec();
    }
    let mut out = String::new();
    if !searches.is_empty() {
        out.push_str(&format!("search {}\n", searches.join(" ")));
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !opts.is_empty() {
        out.push_str(&format!("options {}\n", opts.join(" ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> NetworkMode {
        s.parse().unwrap()
    }

    #[test]
    fn helper_options_do_not_change_the_name_files() {
        let plain = hosts_file(&net("slirp4netns"), "h", "n", &[]).unwrap();
        let with_options = hosts_file(&net("slirp4netns:mtu=1500"), "h", "n", &[]).unwrap();
        assert_eq!(plain, with_options);
        // The host's loopback stays closed: 10.0.2.2 is not the host here.
        assert!(!with_options.contains("10.0.2.2"), "{with_options}");
    }

    #[test]
    fn resolv_replaces_with_flags() {
        let r = resolv_conf(
            &net("pasta"),
            &["1.1.1.1".into()],
            &["corp".into()],
            &["ndots:2".into()],
        )
        .unwrap();
        assert!(r.contains("nameserver 1.1.1.1\n"));
        assert!(r.contains("search corp\n"));
        assert!(r.contains("options ndots:2\n"));
        assert!(resolv_conf(&net("pasta"), &["x".into()], &[], &[]).is_err());
    }
}
