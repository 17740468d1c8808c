//! Published ports: parsing `-p` as podman does, and finding free host ports.

use anyhow::{bail, Context, Result};
use std::net::{TcpListener, UdpSocket};

pub use crate::storage::containers::PortMapping;

/// `--expose PORT[-END][/PROTO]`: the ports as podman keys them
/// (`80/tcp`), one per port of a range.
pub fn parse_expose(spec: &str) -> Result<Vec<String>> {
    let (range, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        bail!("invalid protocol {proto:?} in --expose {spec:?}: use tcp, udp or sctp");
    }
    let (a, b) = parse_port_range(range).with_context(|| format!("invalid --expose {spec:?}"))?;
    Ok((a..=b).map(|p| format!("{p}/{proto}")).collect())
}

fn parse_port_range(s: &str) -> Result<(u16, u16)> {
    let parse = |p: &str| -> Result<u16> {
        let n: u16 = p.parse().with_context(|| format!("invalid port {p:?}"))?;
        if n == 0 {
            bail!("invalid port 0");
        }
        Ok(n)
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                bail!("invalid port range {s:?}");
            }
            Ok((a, b))
        }
        None => {
            let p = parse(s)?;
            Ok((p, p))
        }
    }
}

/// A host port nobody uses right now, for `-p 80` and `-P`.
pub fn free_port(protocol: &str, ip: &str) -> Result<u16> {
    let addr = if ip.is_empty() { "0.0.0.0" } else { ip };
    let port = if protocol == "udp" {
        UdpSocket::bind((addr, 0))?.local_addr()?.port()
    } else {
        TcpListener::bind((addr, 0))?.local_addr()?.port()
    };
    Ok(port)
}

/// Parse `-p [ip:][hostPort:]containerPort[/tcp|udp]` (ranges allowed).
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
    let (addr_part, protocol) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if protocol != "tcp" && protocol != "udp" {
        bail!("invalid protocol {protocol:?} in {spec:?}: use tcp or udp");
    }
    // An IPv6 host address comes in brackets: [::1]:8080:80.
    let (host_ip, rest) = if let Some(r) = addr_part.strip_prefix('[') {
        let (ip, rest) = r
            .split_once(']')
            .with_context(|| format!("invalid address in {spec:?}"))?;
        (ip.to_string(), rest.trim_start_matches(':').to_string())
    } else {
        let parts: Vec<&str> = addr_part.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), addr_part.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => bail!("invalid port specification {spec:?}"),
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<std::net::IpAddr>().is_err() {
        bail!("invalid IP address {host_ip:?} in {spec:?}");
    }
    let (host, ctr) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest.as_str()),
    };
    let (c0, c1) =
        parse_port_range(ctr).with_context(|| format!("in port specification {spec:?}"))?;
    let mut out = Vec::new();
    if host.is_empty() {
        for c in c0..=c1 {
            out.push(PortMapping {
                host_port: free_port(&protocol, &host_ip)?,
                host_ip: host_ip.clone(),
                container_port: c,
                protocol: protocol.clone(),
            });
        }
        return Ok(out);
    }
    let (h0, h1) =
        parse_port_range(host).with_context(|| format!("in port specification {spec:?}"))?;
    if h1 - h0 != c1 - c0 {
        bail!("invalid port specification {spec:?}: host and container port ranges differ in size");
    }
    for i in 0..=(c1 - c0) {
        out.push(PortMapping {
            host_ip: host_ip.clone(),
            host_port: h0 + i,
            container_port: c0 + i,
            protocol: protocol.clone(),
        });
    }
    Ok(out)
}

/// A port published on a host loopback address only (`-p 127.0.0.1:H:C`).
pub fn published_on_loopback_only(p: &crate::storage::containers::PortMapping) -> bool {
    p.host_ip
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_specs() {
        let p = parse_publish("8080:80").unwrap();
        assert_eq!(p[0].host_port, 8080);
        assert_eq!(p[0].container_port, 80);
        assert_eq!(p[0].protocol, "tcp");
        let p = parse_publish("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(
            (p[0].host_ip.as_str(), p[0].protocol.as_str()),
            ("127.0.0.1", "udp")
        );
        let p = parse_publish("127.0.0.1::80").unwrap();
        assert!(p[0].host_port > 0);
        let p = parse_publish("8000-8002:80-82").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!((p[2].host_port, p[2].container_port), (8002, 82));
        assert!(parse_publish("8000-8002:80").is_err());
        assert!(parse_publish("80/sctp").is_err());
        assert!(parse_publish("nope:80:80").is_err());
        assert_eq!(
            parse_publish("8080:80").unwrap()[0].display(),
            "0.0.0.0:8080->80/tcp"
        );
    }
}
