//! `kube generate`: Kubernetes YAML from a plain description of pods and
//! their containers, as podman writes it (a Pod, or a Deployment, Job or
//! DaemonSet around one; a Service for published ports; a
//! PersistentVolumeClaim per named volume). The description holds no
//! coracle record, so any front end can fill it: the engine from its
//! containers and pods, compose from its normalized project.

use super::model::*;
use super::names::{label, label_with_suffix};
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};

/// A pod to describe: its containers, and the ports published on it.
#[derive(Debug, Clone, Default)]
pub struct PodDescription {
    pub name: String,
    /// Set when it differs from the pod's name.
    pub hostname: Option<String>,
    pub containers: Vec<ContainerDescription>,
    /// Ports the pod publishes (listed on its first container, as podman).
    pub ports: Vec<PortDescription>,
    /// `no`, `always`, `on-failure`, `unless-stopped` (podman's spellings).
    pub restart: String,
    /// Seconds a stop waits, when not the default.
    pub stop_timeout: Option<u32>,
    /// Labels beside `app` (valid Kubernetes labels only).
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// A Deployment's replicas, over the options' default.
    pub replicas: Option<u32>,
    /// A ClusterIP Service even without `--service`, so other pods reach
    /// this one by its name.
    pub reachable: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ContainerDescription {
    pub name: String,
    pub image: String,
    /// The entrypoint, when it is not the image's.
    pub command: Vec<String>,
    /// The command, when it is not the image's.
    pub args: Vec<String>,
    /// Only variables the image does not set to the same value.
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub ports: Vec<PortDescription>,
    pub mounts: Vec<MountDescription>,
    pub tty: bool,
    pub stdin: bool,
    pub liveness: Option<Probe>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortDescription {
    /// Empty: every address.
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// tcp, udp or sctp
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MountSource {
    /// A named volume (a PersistentVolumeClaim).
    Volume(String),
    /// A host path; `kind` is hostPath's type (Directory, File, DirectoryOrCreate).
    HostPath { path: String, kind: String },
    /// A fresh tmpfs (an emptyDir in memory).
    Tmpfs,
    /// A fresh directory that lives as long as the pod (an emptyDir).
    Empty,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MountDescription {
    pub source: MountSource,
    pub destination: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Pod,
    Deployment,
    DaemonSet,
    Job,
}

impl std::str::FromStr for Kind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Kind> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "pod" => Kind::Pod,
            "deployment" => Kind::Deployment,
            "daemonset" => Kind::DaemonSet,
            "job" => Kind::Job,
            _ => bail!("invalid type {s:?}: must be pod, deployment, daemonset or job"),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    pub kind: Kind,
    /// For a Deployment; podman's default is 1.
    pub replicas: Option<u32>,
    /// A Service (NodePort) for the published ports.
    pub service: bool,
    /// creationTimestamp of every object (RFC 3339, in seconds).
    pub timestamp: String,
    /// `coracle-VERSION`, for the header.
    pub created_with: String,
}

/// The YAML text: a header comment, then the objects as `---` separated
/// documents (claims first, so a reader creates them before their users).
pub fn generate(
    pods: &[PodDescription],
    volumes: &[String],
    opts: &GenerateOptions,
) -> Result<String> {
    if opts.replicas.is_some() && opts.kind != Kind::Deployment {
        bail!("--replicas can only be set with --type=deployment");
    }
    if pods.is_empty() && volumes.is_empty() {
        bail!("nothing to generate: name a container, pod or volume");
    }
    let mut docs: Vec<String> = Vec::new();
    let mut claims: BTreeSet<String> = volumes.iter().cloned().collect();
    for p in pods {
        for c in &p.containers {
            for m in &c.mounts {
                if let MountSource::Volume(v) = &m.source {
                    claims.insert(v.clone());
                }
            }
        }
    }
    for v in &claims {
        docs.push(to_yaml(&claim(v, &opts.timestamp))?);
    }
    let mut node_ports = NodePorts::default();
    for p in pods {
        let pod = pod_object(p, opts);
        let node_ports = opts.service.then_some(&mut node_ports);
        let service = (opts.service || p.reachable)
            .then(|| service_object(&pod, p, node_ports))
            .flatten();
        docs.push(wrap(pod, p.replicas.or(opts.replicas), opts)?);
        if let Some(s) = service {
            docs.push(to_yaml(&s)?);
        }
    }
    let mut out = format!(
        "# Save the output of this file and use kubectl create -f to import\n\
         # it into Kubernetes.\n#\n# Created with {}\n",
        opts.created_with
    );
    // A bare timestamp reads back as a YAML date, which the schema
    // refuses: quoted, as podman writes it.
    let stamp = format!("creationTimestamp: {}\n", opts.timestamp);
    let quoted = format!("creationTimestamp: \"{}\"\n", opts.timestamp);
    for d in docs {
        out.push_str("---\n");
        out.push_str(&d.replace(&stamp, &quoted));
    }
    Ok(out)
}

fn to_yaml<T: serde::Serialize>(v: &T) -> Result<String> {
    Ok(serde_yaml_ng::to_string(v)?)
}

fn meta(name: &str, timestamp: &str) -> ObjectMeta {
    ObjectMeta {
        creation_timestamp: Some(timestamp.to_string()),
        labels: BTreeMap::from([("app".to_string(), name.to_string())]),
        name: name.to_string(),
        ..Default::default()
    }
}

/// A PersistentVolumeClaim for named volume `name` (a claim is named as
/// the volume: kube play makes the volume of the claim's name).
fn claim(name: &str, timestamp: &str) -> PersistentVolumeClaim {
    let mut metadata = meta(&label(name), timestamp);
    metadata.labels.clear();
    PersistentVolumeClaim {
        api_version: "v1".into(),
        kind: "PersistentVolumeClaim".into(),
        metadata,
        spec: ClaimSpec {
            access_modes: vec!["ReadWriteOnce".into()],
            resources: ClaimResources {
                requests: BTreeMap::from([("storage".into(), "1Gi".into())]),
            },
        },
    }
}

/// The name a mount's volume gets in the pod: podman's scheme
/// (`<volume>-pvc`, `<path-with-dashes>-host`), made a valid label.
fn volume_name(m: &MountDescription) -> String {
    match &m.source {
        MountSource::Volume(v) => label_with_suffix(v, "-pvc", "volume"),
        MountSource::HostPath { path, .. } => {
            label_with_suffix(path.trim_matches('/'), "-host", "root")
        }
        MountSource::Tmpfs => label_with_suffix(&m.destination, "-tmpfs", "tmp"),
        MountSource::Empty => label_with_suffix(&m.destination, "-empty", "empty"),
    }
}

fn volume_object(m: &MountDescription, name: String) -> Volume {
    let mut v = Volume {
        name,
        ..Default::default()
    };
    match &m.source {
        MountSource::Volume(claim) => {
            v.persistent_volume_claim = Some(ClaimRef {
                claim_name: label(claim),
                read_only: false,
            })
        }
        MountSource::HostPath { path, kind } => {
            v.host_path = Some(HostPath {
                path: path.clone(),
                kind: Some(kind.clone()),
            })
        }
        MountSource::Tmpfs => {
            v.empty_dir = Some(EmptyDir {
                medium: Some("Memory".into()),
            })
        }
        MountSource::Empty => v.empty_dir = Some(EmptyDir { medium: None }),
    }
    v
}

fn port_object(p: &PortDescription, with_host: bool) -> ContainerPort {
    let proto = p.protocol.to_ascii_uppercase();
    ContainerPort {
        container_port: p.container_port,
        host_ip: (with_host && !p.host_ip.is_empty()).then(|| p.host_ip.clone()),
        host_port: (with_host && p.host_port != 0).then_some(p.host_port),
        name: None,
        // TCP is Kubernetes' default, left out as podman does
        protocol: (proto != "TCP" && !proto.is_empty()).then_some(proto),
    }
}

fn container_object(c: &ContainerDescription, with_host_ports: bool) -> (Container, Vec<Volume>) {
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for m in &c.mounts {
        let name = volume_name(m);
        mounts.push(VolumeMount {
            mount_path: m.destination.clone(),
            name: name.clone(),
            read_only: m.read_only,
            sub_path: None,
        });
        volumes.push(volume_object(m, name));
    }
    let container = Container {
        args: c.args.clone(),
        command: c.command.clone(),
        env: c
            .env
            .iter()
            .map(|(k, v)| EnvVar {
                name: k.clone(),
                value: Some(v.clone()),
                value_from: None,
            })
            .collect(),
        image: c.image.clone(),
        liveness_probe: c.liveness.clone(),
        name: label(&c.name),
        ports: c
            .ports
            .iter()
            .map(|p| port_object(p, with_host_ports))
            .collect(),
        stdin: c.stdin,
        tty: c.tty,
        volume_mounts: mounts,
        working_dir: c.workdir.clone(),
        ..Default::default()
    };
    (container, volumes)
}

fn restart_policy(restart: &str, kind: Kind) -> Option<String> {
    if kind == Kind::Job {
        // a Job's pods never run Always; podman writes Never
        return Some(
            if restart == "on-failure" {
                "OnFailure"
            } else {
                "Never"
            }
            .into(),
        );
    }
    if kind != Kind::Pod {
        // Deployments and DaemonSets only take Always, their default
        return None;
    }
    match restart {
        "always" | "unless-stopped" => Some("Always".into()),
        "on-failure" => Some("OnFailure".into()),
        _ => None,
    }
}

fn pod_object(p: &PodDescription, opts: &GenerateOptions) -> Pod {
    let name = label(&p.name);
    // With a Service, the pod's ports are the Service's targets, not host
    // ports (podman's choice).
    let host_ports = !opts.service;
    let mut containers = Vec::new();
    let mut volumes: BTreeMap<String, Volume> = BTreeMap::new();
    let mut used = BTreeSet::new();
    for (i, c) in p.containers.iter().enumerate() {
        let (mut k, vols) = container_object(c, host_ports);
        if i == 0 {
            let mut ports: Vec<ContainerPort> = p
                .ports
                .iter()
                .map(|pp| port_object(pp, host_ports))
                .collect();
            ports.append(&mut k.ports);
            k.ports = ports;
        }
        // two names that became one label stay two containers
        let mut unique = k.name.clone();
        let mut n = 1;
        while !used.insert(unique.clone()) {
            n += 1;
            unique = label_with_suffix(&k.name, &format!("-{n}"), "ctr");
        }
        k.name = unique;
        containers.push(k);
        for v in vols {
            volumes.insert(v.name.clone(), v);
        }
    }
    let mut metadata = meta(&name, &opts.timestamp);
    for (k, v) in &p.labels {
        // `app` selects the pod: a label of that name stays ours
        metadata
            .labels
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    metadata.annotations = p.annotations.clone();
    Pod {
        api_version: "v1".into(),
        kind: "Pod".into(),
        metadata,
        spec: PodSpec {
            containers,
            hostname: p.hostname.as_deref().map(label),
            restart_policy: restart_policy(&p.restart, opts.kind),
            termination_grace_period_seconds: p.stop_timeout,
            volumes: volumes.into_values().collect(),
            ..Default::default()
        },
    }
}

/// Node ports already handed out in this output (podman picks them at
/// random in 30000-32767).
#[derive(Default)]
struct NodePorts(BTreeSet<u16>);

impl NodePorts {
    fn next(&mut self) -> u16 {
        loop {
            let p = 30000 + rand::random::<u16>() % 2768;
            if self.0.insert(p) {
                return p;
            }
        }
    }
}

/// A NodePort Service when given node ports to hand out and the pod
/// publishes a port on the host, else ClusterIP (reachable inside only).
fn service_object(
    pod: &Pod,
    p: &PodDescription,
    node_ports: Option<&mut NodePorts>,
) -> Option<Service> {
    let published = p
        .ports
        .iter()
        .chain(p.containers.iter().flat_map(|c| c.ports.iter()))
        .any(|pp| pp.host_port != 0);
    let mut node_ports = node_ports.filter(|_| published);
    let mut ports = Vec::new();
    let all = p
        .ports
        .iter()
        .chain(p.containers.iter().flat_map(|c| c.ports.iter()));
    let mut seen = BTreeSet::new();
    for pp in all {
        if !seen.insert((pp.container_port, pp.protocol.to_ascii_lowercase())) {
            continue;
        }
        let protocol = match pp.protocol.to_ascii_uppercase() {
            s if s.is_empty() => "TCP".to_string(),
            s => s,
        };
        ports.push(ServicePort {
            name: format!("{}-{}", pp.container_port, protocol.to_ascii_lowercase()),
            node_port: node_ports.as_mut().map(|n| n.next()),
            port: pp.container_port,
            protocol,
            target_port: pp.container_port,
        });
    }
    if ports.is_empty() {
        return None;
    }
    let kind = if node_ports.is_some() {
        "NodePort"
    } else {
        "ClusterIP"
    };
    let mut metadata = pod.metadata.clone();
    metadata.annotations.clear();
    Some(Service {
        api_version: "v1".into(),
        kind: "Service".into(),
        spec: ServiceSpec {
            ports,
            selector: selector_of(&metadata),
            kind: kind.into(),
        },
        metadata,
    })
}

/// What selects the pod: its `app` label alone (other labels may change).
fn selector_of(m: &ObjectMeta) -> BTreeMap<String, String> {
    m.labels
        .iter()
        .filter(|(k, _)| *k == "app")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The pod as the kind asked for.
fn wrap(pod: Pod, replicas: Option<u32>, opts: &GenerateOptions) -> Result<String> {
    let (kind, api, suffix) = match opts.kind {
        Kind::Pod => return to_yaml(&pod),
        Kind::Deployment => ("Deployment", "apps/v1", "-deployment"),
        Kind::DaemonSet => ("DaemonSet", "apps/v1", "-daemonset"),
        Kind::Job => ("Job", "batch/v1", "-job"),
    };
    let name = pod.metadata.name.clone();
    let mut metadata = pod.metadata.clone();
    metadata.name = format!("{name}{suffix}");
    let selector = (opts.kind != Kind::Job).then(|| LabelSelector {
        match_labels: selector_of(&pod.metadata),
    });
    let w = Workload {
        api_version: api.into(),
        kind: kind.into(),
        metadata,
        spec: WorkloadSpec {
            replicas: replicas.filter(|r| *r > 1),
            selector,
            template: PodTemplate {
                metadata: pod.metadata,
                spec: pod.spec,
            },
        },
    };
    to_yaml(&w)
}
