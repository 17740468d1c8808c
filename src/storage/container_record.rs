//! A container's records as they are stored: its definition
//! (`config.json`, [`ContainerConfig`]) and its state (`state.json`,
//! [`ContainerState`]) with the types they hold. The store that reads and
//! writes them is containers.rs; the index of their summaries is
//! container_index.rs.

use super::digest::Digest;
use super::health::HealthSettings;
use super::modes::{NamespaceMode, NetworkMode, RestartPolicy, UsernsMode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the user asked for, kept so `start`, `inspect` and `commit` see it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    pub image_id: String,
    /// The image as the user named it, normalized (podman's ImageName).
    pub image_name: String,
    pub layers: Vec<Digest>,
    /// The image store `layers` are in (`--imagestore` when it was
    /// created); None: the graph root's. Its layers are found there
    /// whichever image store a later command names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_store: Option<PathBuf>,
    pub created: String,
    /// The process: entrypoint and command already merged.
    pub args: Vec<String>,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub workdir: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub stdin: bool,
    #[serde(default)]
    pub auto_remove: bool,
    #[serde(default)]
    pub stop_signal: String,
    #[serde(default)]
    pub stop_timeout: u32,
    #[serde(default)]
    pub init: bool,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// The seccomp profile of the image's label (`--seccomp-policy=image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_image_profile: Option<String>,
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    #[serde(default)]
    pub tmpfs: Vec<MountSpec>,
    #[serde(default)]
    pub ulimits: Vec<String>,
    #[serde(default)]
    pub network: NetworkMode,
    /// What it asked of each named network it joins (address, aliases...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub network_attachments:
        std::collections::BTreeMap<String, crate::storage::networks::Attachment>,
    #[serde(default)]
    pub userns: UsernsMode,
    #[serde(default)]
    pub cidfile: Option<String>,
    #[serde(default)]
    pub log_path: String,
    /// Published ports (`-p`), random host ports already chosen.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    #[serde(default)]
    pub add_hosts: Vec<String>,
    /// `--no-hosts`: the image's /etc/hosts stays; none is mounted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_hosts: bool,
    /// `--hosts-file`: the base of its /etc/hosts (a host path, `none`
    /// or `image`); unset: coracle's own lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts_file: Option<String>,
    /// `--expose`: ports it says it serves, podman's keys (`80/tcp`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    /// The command line that created it (podman's Config.CreateCommand).
    #[serde(default)]
    pub create_command: Vec<String>,
    /// The pod this container belongs to (its id), if any.
    #[serde(default)]
    pub pod: String,
    /// The pod's infra container: its process only holds the namespaces.
    #[serde(default)]
    pub is_infra: bool,
    /// `create --init-ctr`: a pod's init container (podman's
    /// InitContainerType), run to its end by `pod start` before the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_ctr: Option<InitCtr>,
    /// IPC, PID and UTS namespace modes (recorded as "" for private,
    /// "host", "container:ID" or "ns:PATH").
    #[serde(default)]
    pub ipc: NamespaceMode,
    #[serde(default)]
    pub pid: NamespaceMode,
    #[serde(default)]
    pub uts: NamespaceMode,
    /// Resource limits (cgroup), as `update` last left them.
    #[serde(default)]
    pub resources: Resources,
    /// `--cgroup-parent`: empty for the default place.
    #[serde(default)]
    pub cgroup_parent: String,
    /// `--cgroups`: enabled (also ""), disabled, no-conmon, split.
    #[serde(default)]
    pub cgroups: String,
    // The service settings are left out when unset, so records written
    // before them read and write back the same.
    /// `--restart`: kept by the monitor.
    #[serde(default, skip_serializing_if = "RestartPolicy::is_no")]
    pub restart_policy: RestartPolicy,
    /// The healthcheck (from `--health-*` or the image), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSettings>,
    /// `--sdnotify`: container (also ""), conmon, healthy or ignore.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sdnotify: String,
    /// `--pidfile`: where the monitor writes the program's pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfile: Option<String>,
    /// `--conmon-pidfile`: where the monitor writes its own pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conmon_pidfile: Option<String>,
    /// `--secret`: which secrets, and how the container sees them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<super::secrets::SecretUse>,
    /// Process settings: shm size, sysctls, time zone, umask, devices...
    #[serde(
        default,
        skip_serializing_if = "super::tuning::ProcessTuning::is_default"
    )]
    pub tuning: super::tuning::ProcessTuning,
    /// `--runtime`: the external OCI runtime that runs it; None: coracle's
    /// own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_runtime: Option<OciRuntimeRecord>,
    /// Id maps, preserved descriptors, the init binary.
    #[serde(
        default,
        skip_serializing_if = "super::launch::LaunchSettings::is_default"
    )]
    pub launch: super::launch::LaunchSettings,
}

/// An external OCI runtime (crun, runc...) and the global flags it gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciRuntimeRecord {
    pub name: String,
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// A container's resource limits in podman's units (inspect's HostConfig).
/// Zero means "not set" unless said otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Bytes.
    #[serde(default)]
    pub memory: i64,
    /// Memory plus swap, bytes; -1 unlimited.
    #[serde(default)]
    pub memory_swap: i64,
    #[serde(default)]
    pub memory_reservation: i64,
    /// `--cpus` times 1e9.
    #[serde(default)]
    pub nano_cpus: i64,
    #[serde(default)]
    pub cpu_shares: u64,
    /// Microseconds per period; -1 unlimited.
    #[serde(default)]
    pub cpu_quota: i64,
    #[serde(default)]
    pub cpu_period: u64,
    #[serde(default)]
    pub cpuset_cpus: String,
    #[serde(default)]
    pub cpuset_mems: String,
    /// 0 or -1: unlimited.
    #[serde(default)]
    pub pids_limit: i64,
    #[serde(default)]
    pub blkio_weight: u16,
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// `--memory-swappiness` (0 to 100; cgroup v1 only, as podman).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swappiness: Option<u64>,
    /// `--oom-kill-disable` (cgroup v1 only, as podman).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_kill_disable: bool,
    /// `--device-read-bps`, `--device-write-bps` (bytes per second) and
    /// `--device-read-iops`, `--device-write-iops`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_read_bps: Vec<DeviceRate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_write_bps: Vec<DeviceRate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_read_iops: Vec<DeviceRate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_write_iops: Vec<DeviceRate>,
    /// `--blkio-weight-device`: per-device weights (10 to 1000), in `rate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blkio_weight_device: Vec<DeviceRate>,
    /// `--cpu-rt-period` and `--cpu-rt-runtime`, microseconds (cgroup v1
    /// only, as podman).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub cpu_rt_period: u64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub cpu_rt_runtime: i64,
    /// `--device-cgroup-rule`s, as given ("c 1:3 rwm").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    /// `--cgroup-conf`: cgroup v2 files and the values written to them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cgroup_conf: BTreeMap<String, String>,
    /// `--rdt-class`: the resctrl class of service its processes join.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rdt_class: String,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// A per-device I/O limit: the device as given, its numbers, the rate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRate {
    pub path: String,
    pub major: u64,
    pub minor: u64,
    pub rate: u64,
}

/// One `-p` mapping, with any random host port already chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Empty: every host address (podman shows 0.0.0.0).
    #[serde(default)]
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// tcp or udp
    pub protocol: String,
}

impl PortMapping {
    /// podman's `0.0.0.0:8080->80/tcp`.
    pub fn display(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        format!(
            "{ip}:{}->{}/{}",
            self.host_port, self.container_port, self.protocol
        )
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MountSpec {
    pub kind: MountKind,
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub options: Vec<String>,
    /// For a volume that does not exist yet: the options to create it
    /// with (`--mount type=volume,volume-opt=K=V`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_options: BTreeMap<String, String>,
}

/// What a mount brings in; recorded as podman spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    #[default]
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A fresh tmpfs.
    Tmpfs,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// When a pod's init container runs: at every `pod start`, or at the
/// first only (then it is removed). Recorded as podman spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitCtr {
    Always,
    Once,
}

impl std::str::FromStr for InitCtr {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<InitCtr> {
        match s {
            "always" => Ok(InitCtr::Always),
            "once" => Ok(InitCtr::Once),
            _ => anyhow::bail!("init-ctr value must be 'always' or 'once'"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    /// `init`: prepared to start (its root filesystem mounted as root),
    /// no process yet.
    Initialized,
    Running,
    Paused,
    Stopping,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Initialized => "initialized",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopping => "stopping",
            Status::Exited => "exited",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Status,
    #[serde(default)]
    pub pid: i32,
    /// Kernel start time of `pid` (field 22 of /proc/pid/stat): a reused pid
    /// has another, so a dead container is never mistaken for a live one.
    #[serde(default)]
    pub pid_start: u64,
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub monitor_start: u64,
    #[serde(default)]
    pub boot_id: String,
    /// The network helper (pasta, slirp4netns), so a dead monitor's helper
    /// can be ended by whoever notices.
    #[serde(default)]
    pub helper_pid: i32,
    #[serde(default)]
    pub helper_start: u64,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub restart_count: u32,
    /// Exited, and the monitor will start it again (restart policy).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restarting: bool,
    /// The container's cgroup below the hierarchy root ("" when it has none).
    #[serde(default)]
    pub cgroup_path: String,
    /// Ended by `container checkpoint` (its criu images are in userdata).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checkpointed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpointed_at: Option<String>,
    /// Running from a `container restore`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restored: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_at: Option<String>,
}
