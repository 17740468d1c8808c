//! `compose convert --kube`: the normalized project as Kubernetes objects
//! in one step. Each service becomes a pod description for the kube
//! generator (a Deployment by default), named after the service; a
//! ClusterIP Service of the same name keeps `db:5432` resolving for every
//! service with ports (published or `expose`d).

use super::model::{Healthcheck, MountType, Port, Project, Service};
use crate::kube::generate::{
    self as gen, ContainerDescription, GenerateOptions, Kind, MountDescription, MountSource,
    PodDescription, PortDescription,
};
use crate::kube::model::{ExecAction, Probe};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    /// `pod` or `deployment`
    pub kind: String,
    /// NodePort Services for published ports (hostPorts dropped), as
    /// `kube generate --service`.
    pub service: bool,
    /// `--scale SERVICE=N` over `deploy.replicas`.
    pub scale: BTreeMap<String, u32>,
}

/// The YAML text of the whole project.
pub fn to_kube(p: &Project, o: &KubeOptions) -> Result<String> {
    let kind: Kind = o.kind.parse()?;
    if !matches!(kind, Kind::Pod | Kind::Deployment) {
        bail!("invalid type {:?}: must be pod or deployment", o.kind);
    }
    for s in o.scale.keys() {
        if !p.services.contains_key(s) {
            bail!("--scale {s:?}: no such service");
        }
    }
    let mut pods = Vec::new();
    for (name, s) in &p.services {
        let dropped = not_converted(s);
        if !dropped.is_empty() {
            crate::warn!(
                "service {name:?}: not converted to Kubernetes: {}",
                dropped.join(", ")
            );
        }
        let mut pod = describe(p, name, s)?;
        let replicas = o.scale.get(name).copied().unwrap_or(s.replicas);
        if kind == Kind::Deployment {
            pod.replicas = Some(replicas);
        } else if replicas != 1 {
            bail!("service {name:?}: {replicas} replicas need --type deployment");
        }
        // a Service needs ports: one that depends on this service reaches
        // it through the ports it publishes or exposes
        pod.reachable = !pod.containers[0].ports.is_empty();
        pods.push(pod);
    }
    let opts = GenerateOptions {
        kind,
        replicas: None,
        service: o.service,
        timestamp: crate::engine::kube::seconds_rfc3339(),
        created_with: format!("coracle-{}", env!("CARGO_PKG_VERSION")),
    };
    gen::generate(&pods, &[], &opts)
}

fn describe(p: &Project, name: &str, s: &Service) -> Result<PodDescription> {
    let at = format!("service {name:?}");
    let mut ports: Vec<PortDescription> = Vec::new();
    for port in &s.ports {
        for d in port_descriptions(port).with_context(|| at.clone())? {
            if !ports.contains(&d) {
                ports.push(d);
            }
        }
    }
    for e in &s.expose {
        let (range, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        for container_port in port_range(range).with_context(|| at.clone())? {
            let d = PortDescription {
                container_port,
                protocol: proto.to_string(),
                ..Default::default()
            };
            if !ports.iter().any(|x| x.container_port == container_port) {
                ports.push(d);
            }
        }
    }
    let mut mounts = Vec::new();
    for m in &s.volumes {
        let source = match (&m.kind, &m.source) {
            (MountType::Volume, Some(key)) => MountSource::Volume(
                p.volumes
                    .get(key)
                    .map(|v| v.name.clone())
                    .unwrap_or_else(|| key.clone()),
            ),
            (MountType::Volume, None) => MountSource::Empty,
            (MountType::Bind, Some(path)) => MountSource::HostPath {
                path: path.clone(),
                kind: host_path_kind(Path::new(path)).into(),
            },
            (MountType::Bind, None) => bail!("{at}: a bind mount without a source"),
            (MountType::Tmpfs, _) => MountSource::Tmpfs,
        };
        mounts.push(MountDescription {
            source,
            destination: m.target.clone(),
            read_only: m.read_only,
        });
    }
    for t in &s.tmpfs {
        mounts.push(MountDescription {
            source: MountSource::Tmpfs,
            destination: t.split(':').next().unwrap_or(t).to_string(),
            read_only: false,
        });
    }
    let container = ContainerDescription {
        name: name.to_string(),
        image: super::image_name(p, name),
        command: s.entrypoint.clone().unwrap_or_default(),
        args: s.command.clone().unwrap_or_default(),
        env: s.environment.clone().into_iter().collect(),
        workdir: s.working_dir.clone(),
        ports,
        mounts,
        tty: s.tty,
        stdin: s.stdin_open,
        liveness: s
            .healthcheck
            .as_ref()
            .map(|h| probe(&at, h))
            .transpose()?
            .flatten(),
    };
    let (labels, annotations) = s
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, v)| valid_label(k, v));
    Ok(PodDescription {
        name: name.to_string(),
        hostname: s.hostname.clone(),
        containers: vec![container],
        ports: Vec::new(),
        restart: s
            .restart
            .as_deref()
            .map(|r| r.split(':').next().unwrap_or(r).to_string())
            .unwrap_or_default(),
        stop_timeout: s.stop_grace_period,
        labels,
        annotations,
        replicas: None,
        reachable: false,
    })
}

/// The service's settings this conversion leaves out, so a user knows.
fn not_converted(s: &Service) -> Vec<&'static str> {
    [
        (s.user.is_some(), "user"),
        (!s.limits.is_empty(), "deploy.resources.limits"),
        (
            !s.cap_add.is_empty() || !s.cap_drop.is_empty(),
            "cap_add/cap_drop",
        ),
        (s.privileged, "privileged"),
        (s.read_only, "read_only"),
        (
            !s.secrets.is_empty() || !s.configs.is_empty(),
            "secrets/configs",
        ),
        (s.network_mode.is_some(), "network_mode"),
        (!s.extra_hosts.is_empty(), "extra_hosts"),
        (
            s.build.is_some() && s.image.is_none(),
            "build (the image is named, not built)",
        ),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// A published port as container ports; a range maps port by port.
fn port_descriptions(p: &Port) -> Result<Vec<PortDescription>> {
    let targets = port_range(&p.target)?;
    let hosts = match &p.published {
        Some(h) => port_range(h)?,
        None => vec![0; targets.len()],
    };
    if hosts.len() != targets.len() {
        bail!(
            "port {}: a host range must be as long as the container's",
            p.publish_flag()
        );
    }
    Ok(targets
        .into_iter()
        .zip(hosts)
        .map(|(container_port, host_port)| PortDescription {
            host_ip: p.host_ip.clone().unwrap_or_default(),
            host_port,
            container_port,
            protocol: p.protocol.clone(),
        })
        .collect())
}

fn port_range(s: &str) -> Result<Vec<u16>> {
    let bad = || format!("invalid port {s:?}");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.trim().parse().with_context(bad)?;
    let b: u16 = b.trim().parse().with_context(bad)?;
    if a == 0 || b < a {
        bail!(bad());
    }
    Ok((a..=b).collect())
}

/// hostPath's type: what is there now, or a directory made on first use.
fn host_path_kind(path: &Path) -> &'static str {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => "File",
        Ok(m) if m.is_dir() => "Directory",
        _ => "DirectoryOrCreate",
    }
}

/// A healthcheck as a livenessProbe running its command (none when it is
/// disabled or only inherits the image's).
fn probe(at: &str, h: &Healthcheck) -> Result<Option<Probe>> {
    let command = match h.test.split_first() {
        _ if h.disable => return Ok(None),
        Some((k, rest)) if k == "CMD" => rest.to_vec(),
        Some((k, rest)) if k == "CMD-SHELL" => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        Some((k, _)) if k == "NONE" => return Ok(None),
        None => return Ok(None),
        Some(_) => h.test.clone(),
    };
    let secs = |d: &Option<String>| -> Result<Option<u32>> {
        d.as_deref()
            .map(|d| {
                let (_, t) = crate::format::human::parse_go_duration(d).map_err(|e| {
                    anyhow::anyhow!("{at}: healthcheck: invalid duration {d:?}: {e}")
                })?;
                // Kubernetes counts whole seconds, at least one
                Ok((t.as_secs().clamp(1, u32::MAX as u64)) as u32)
            })
            .transpose()
    };
    Ok(Some(Probe {
        exec: Some(ExecAction { command }),
        failure_threshold: h.retries.filter(|r| *r > 0),
        initial_delay_seconds: secs(&h.start_period)?,
        period_seconds: secs(&h.interval)?,
        timeout_seconds: secs(&h.timeout)?,
        ..Default::default()
    }))
}

/// Kubernetes' label rules (the rest become annotations): an optional DNS
/// prefix and `/`, then a name of up to 63 characters; the value likewise.
fn valid_label(key: &str, value: &str) -> bool {
    let name_ok = |n: &str| {
        n.len() <= 63
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && n.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let (prefix, name) = key.rsplit_once('/').unwrap_or(("", key));
    let prefix_ok = prefix.is_empty()
        || (prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            }));
    prefix_ok && name_ok(name) && (value.is_empty() || name_ok(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_kubernetes_accepts() {
        assert!(valid_label("tier", "web"));
        assert!(valid_label("example.com/tier", ""));
        assert!(!valid_label("description", "an accounting webapp"));
        assert!(!valid_label("Example.com/x", "y"));
    }

    #[test]
    fn port_ranges_map_port_by_port() {
        let p = Port {
            target: "80-81".into(),
            published: Some("8080-8081".into()),
            host_ip: None,
            protocol: "tcp".into(),
        };
        let d = port_descriptions(&p).unwrap();
        assert_eq!((d[1].host_port, d[1].container_port), (8081, 81));
        assert!(port_range("0").is_err() && port_range("x").is_err());
    }
}
