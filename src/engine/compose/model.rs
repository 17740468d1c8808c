//! The normalized project: what a compose file means once files are
//! merged, variables replaced, `extends`, `include` and profiles applied,
//! relative paths made absolute and short forms made long. Every front end
//! of a compose project reads this: `up` turns services into containers,
//! `config` prints it, a Kubernetes converter can turn it into objects.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_one(n: &u32) -> bool {
    *n == 1
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Project {
    pub name: String,
    /// The project directory (relative paths were resolved against it).
    #[serde(skip)]
    pub working_dir: PathBuf,
    /// The files read, in order (includes and extends not counted).
    #[serde(skip)]
    pub files: Vec<PathBuf>,
    pub services: BTreeMap<String, Service>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Network>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Volume>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, FileSource>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FileSource>,
    /// Services left out by their profiles (for `config --profiles`).
    #[serde(skip)]
    pub profiles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Service {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `env_file` contents under `environment`, as docker resolves them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Mount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// Networks by their key in the file (empty with `network_mode`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, ServiceNetwork>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, Dependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Limits::is_empty")]
    pub limits: Limits,
    /// How many containers (`scale`, `deploy.replicas`).
    #[serde(skip_serializing_if = "is_one")]
    pub replicas: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds to wait after the stop signal before SIGKILL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<u32>,
    #[serde(skip_serializing_if = "is_false")]
    pub init: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tty: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub stdin_open: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    /// `HOST:IP`
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    /// podman's `--ulimit` syntax: `nofile=1024:2048`
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileMount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Build {
    pub context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_false")]
    pub no_cache: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Port {
    /// The container's port or range (`80`, `8000-8010`)
    pub target: String,
    /// The host's port or range; `None`: a free one
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    pub protocol: String,
}

impl Port {
    /// podman's `-p` syntax.
    pub fn publish_flag(&self) -> String {
        let mut s = String::new();
        if let Some(ip) = &self.host_ip {
            s.push_str(ip);
            s.push(':');
        }
        match &self.published {
            Some(p) => {
                s.push_str(p);
                s.push(':');
            }
            None if self.host_ip.is_some() => s.push(':'),
            None => {}
        }
        s.push_str(&self.target);
        s.push('/');
        s.push_str(&self.protocol);
        s
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Volume,
    Bind,
    Tmpfs,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: MountType,
    /// A volume's key in the file (none: anonymous), or a host path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub target: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// tmpfs size in bytes
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SELinux relabel and similar suffixes, kept as written (`z`, `Z`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ServiceNetwork {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dependency {
    /// service_started, service_healthy or service_completed_successfully
    pub condition: String,
    pub required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub restart: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Healthcheck {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(skip_serializing_if = "is_false")]
    pub disable: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Limits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// As written (`512m`, `1g`, bytes)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

/// A secret or config as a service mounts it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileMount {
    pub source: String,
    /// An absolute path in the container
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Permission bits (printed in decimal, as docker compose does)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// A top-level secret or config: a host file (bound), a host variable's
/// value or inline content (kept in the secret store, never in a
/// container's record), or an existing secret (`external`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FileSource {
    /// The store's name (`external`), or the file's name in docker's output
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The variable the value comes from (its name: the value is never printed)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    /// The variable's value, read at load time (`environment`).
    #[serde(skip)]
    pub value: Option<String>,
}

impl FileSource {
    /// The bytes to keep in the secret store, when they do not come from a
    /// file or an existing secret.
    pub fn data(&self) -> Option<&str> {
        self.value.as_deref().or(self.content.as_deref())
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Network {
    /// The network's real name (`<project>_<key>` unless given).
    pub name: String,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub internal: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// The bridge's name (`driver_opts: com.docker.network.bridge.name`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge_name: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Volume {
    /// The volume's real name (`<project>_<key>` unless given).
    pub name: String,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    /// `--opt` values (`type=`, `device=`, `o=`)
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}
