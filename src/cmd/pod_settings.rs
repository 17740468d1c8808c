//! The flags `pod create` and `pod clone` share beyond names and
//! network: the pod's cgroup and what each of its containers gets.

use crate::engine::create::idmap::IdMapRequest;
use crate::engine::create::{CreateLimits, IoLimits, Limits};
use crate::engine::pod_create::PodRequest;
use crate::engine::types::{MemberDefaults, NamespaceMode, RestartPolicy, UsernsMode};
use clap::Args;

/// The flags `pod create` and `pod clone` share beyond names and network:
/// the pod's cgroup and what each of its containers gets.
#[derive(Args, Debug, Clone, Default)]
pub struct PodSettings {
    /// Read in a line-delimited file of labels (KEY=VALUE)
    #[arg(long = "label-file", value_name = "FILE")]
    pub label_file: Vec<String>,
    /// Memory limit of the pod as a whole (format: <number>[<unit>], unit b, k, m or g)
    #[arg(short = 'm', long, value_name = "MEMORY")]
    pub memory: Option<String>,
    /// The pod's memory plus swap limit: '-1' for unlimited swap
    #[arg(long, value_name = "MEMORY-SWAP", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// The total number of CPUs of the pod (0: no limit)
    #[arg(long, value_name = "CPUS")]
    pub cpus: Option<f64>,
    /// CPU shares of the pod (relative weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPUs in which the pod's containers may run (0-3, 0,1)
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which the pod's containers may run (0-3, 0,1)
    #[arg(long, value_name = "NODES")]
    pub cpuset_mems: Option<String>,
    /// Block IO weight of the pod (relative weight, 10 to 1000)
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
    /// Block IO weight of the pod for one device (DEVICE:WEIGHT, weight 10 to 1000)
    #[arg(long = "blkio-weight-device", value_name = "DEVICE:WEIGHT")]
    pub blkio_weight_device: Vec<String>,
    /// Limit the pod's read rate from a device (PATH:RATE, e.g. /dev/sda:1mb)
    #[arg(long = "device-read-bps", value_name = "PATH:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit the pod's write rate to a device (PATH:RATE, e.g. /dev/sda:1mb)
    #[arg(long = "device-write-bps", value_name = "PATH:RATE")]
    pub device_write_bps: Vec<String>,
    /// The parent cgroup of the pod's cgroup
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Put the pod's containers in the pod's cgroup (false: cgroups of their own)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub share_parent: bool,
    /// PID namespace of the pod: private, host, ns:PATH
    #[arg(long)]
    pub pid: Option<NamespaceMode>,
    /// UTS namespace of the pod: private, host, ns:PATH
    #[arg(long)]
    pub uts: Option<NamespaceMode>,
    /// Add a host device to every container of the pod (HOST[:CONTAINER][:PERMISSIONS], or a CDI name)
    #[arg(long = "device", value_name = "DEVICE")]
    pub device: Vec<String>,
    /// GPU devices every container of the pod gets, by the vendor's CDI specs ('all' to pass all GPUs)
    #[arg(long = "gpus", value_name = "ENTRY")]
    pub gpus: Vec<String>,
    /// Bind mount a volume into every container of the pod
    #[arg(short, long = "volume", value_name = "VOLUME")]
    pub volume: Vec<String>,
    /// Mount the volumes of the given container(s) into every container of the pod
    #[arg(long = "volumes-from", value_name = "CONTAINER[:OPTIONS]")]
    pub volumes_from: Vec<String>,
    /// Security options of every container of the pod
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Set a namespaced kernel parameter in every container of the pod
    #[arg(long = "sysctl", value_name = "NAME=VALUE")]
    pub sysctl: Vec<String>,
    /// Restart policy of the pod's containers: no, on-failure[:max_retries], always, unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<RestartPolicy>,
    /// Size of /dev/shm of the pod's containers (format: <number>[<unit>]; 0: no limit)
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Size of systemd mode's tmpfs mounts in the pod's containers (format: <number>[<unit>]; 0: no limit)
    #[arg(long, value_name = "SIZE")]
    pub shm_size_systemd: Option<String>,
    /// Do not create /etc/hostname in the pod's containers
    #[arg(long)]
    pub no_hostname: bool,
    /// User namespace of the pod, which all its containers join (auto[:OPTIONS], keep-id, nomap, host, "")
    #[arg(long)]
    pub userns: Option<UsernsMode>,
    /// Container UID:host UID[:amount] to map in the pod's user namespace (repeatable)
    #[arg(long, value_name = "UIDMAP")]
    pub uidmap: Vec<String>,
    /// Container GID:host GID[:amount] to map in the pod's user namespace (repeatable)
    #[arg(long, value_name = "GIDMAP")]
    pub gidmap: Vec<String>,
    /// Map the pod's uids to NAME's ranges in /etc/subuid
    #[arg(long, value_name = "NAME")]
    pub subuidname: Option<String>,
    /// Map the pod's gids to NAME's ranges in /etc/subgid
    #[arg(long, value_name = "NAME")]
    pub subgidname: Option<String>,
}

impl PodSettings {
    /// Fill the request's cgroup and member settings.
    pub fn fill(self, r: &mut PodRequest) {
        r.label_file = self.label_file;
        r.limits = CreateLimits {
            limits: Limits {
                memory: self.memory,
                memory_swap: self.memory_swap,
                cpus: self.cpus,
                cpu_shares: self.cpu_shares,
                cpuset_cpus: self.cpuset_cpus,
                cpuset_mems: self.cpuset_mems,
                blkio_weight: self.blkio_weight,
                io: IoLimits {
                    device_read_bps: self.device_read_bps,
                    device_write_bps: self.device_write_bps,
                    blkio_weight_device: self.blkio_weight_device,
                    ..Default::default()
                },
                ..Default::default()
            },
            cgroup_parent: self.cgroup_parent,
            ..Default::default()
        };
        r.own_cgroups = !self.share_parent;
        r.userns = self.userns;
        r.id_maps = IdMapRequest {
            uidmap: self.uidmap,
            gidmap: self.gidmap,
            subuidname: self.subuidname,
            subgidname: self.subgidname,
        };
        r.pid = self.pid;
        r.uts = self.uts;
        r.member = MemberDefaults {
            devices: self.device,
            gpus: self.gpus,
            volumes: self.volume,
            volumes_from: self.volumes_from,
            security_opt: self.security_opt,
            sysctl: self.sysctl,
            restart: self.restart.map(|r| r.to_string()).unwrap_or_default(),
            shm_size: self.shm_size,
            shm_size_systemd: self.shm_size_systemd,
            no_hostname: self.no_hostname,
        };
    }
}
