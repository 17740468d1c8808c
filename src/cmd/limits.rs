//! Resource-limit flags (`run`/`create` and `update`): the clap side of
//! the engine's limits (`engine/create/limits.rs` checks and applies them).

use crate::engine::create::{CreateLimits, IoLimits, Limits};
use clap::Args;

/// The limits `update` can change on a running container.
#[derive(Args, Debug, Clone, Default)]
pub struct LimitFlags {
    /// Memory limit (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), m (mebibytes), or g (gibibytes))
    #[arg(short = 'm', long, value_name = "MEMORY")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_name = "MEMORY-SWAP", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit (format: <number>[<unit>])
    #[arg(long, value_name = "MEMORY-RESERVATION")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs. The default is 0.000 which means no limit
    #[arg(long, value_name = "CPUS", allow_hyphen_values = true)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPU weight on cgroup v2's scale, 1 to 10000 (another way to give --cpu-shares)
    #[arg(long, value_name = "WEIGHT")]
    pub cpu_weight: Option<u64>,
    /// Limit the CPU Completely Fair Scheduler (CFS) quota
    #[arg(long, value_name = "QUOTA", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU Completely Fair Scheduler (CFS) period
    #[arg(long, value_name = "PERIOD")]
    pub cpu_period: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1). Only effective on NUMA systems.
    #[arg(long, value_name = "NODES")]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "LIMIT", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (relative weight) accepts a weight value between 10 and 1000.
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
    /// Block IO relative weight of one device (DEVICE:WEIGHT, 10 to 1000)
    #[arg(long = "blkio-weight-device", value_name = "DEVICE:WEIGHT")]
    pub blkio_weight_device: Vec<String>,
    /// Limit the CPU real-time period in microseconds (cgroup v1, as root)
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_rt_period: Option<u64>,
    /// Limit the CPU real-time runtime in microseconds (cgroup v1, as root)
    #[arg(long, value_name = "MICROSECONDS", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// Tune the container's memory swappiness, 0 to 100 (-1: the host's; cgroup v1 only)
    #[arg(long, value_name = "SWAPPINESS", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// Limit the read rate from a device (PATH:RATE, e.g. /dev/sda:1mb)
    #[arg(long = "device-read-bps", value_name = "PATH:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit the write rate to a device (PATH:RATE, e.g. /dev/sda:1mb)
    #[arg(long = "device-write-bps", value_name = "PATH:RATE")]
    pub device_write_bps: Vec<String>,
    /// Limit the read operations per second from a device (PATH:RATE)
    #[arg(long = "device-read-iops", value_name = "PATH:RATE")]
    pub device_read_iops: Vec<String>,
    /// Limit the write operations per second to a device (PATH:RATE)
    #[arg(long = "device-write-iops", value_name = "PATH:RATE")]
    pub device_write_iops: Vec<String>,
}

/// The limits only `run`/`create` take.
#[derive(Args, Debug, Clone, Default)]
pub struct CreateLimitFlags {
    #[command(flatten)]
    pub limits: LimitFlags,
    /// Tune the host's OOM preferences (-1000 to +1000)
    #[arg(long, value_name = "ADJ", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Optional parent cgroup for the container
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Control container cgroup configuration ("enabled"|"disabled"|"no-conmon"|"split")
    #[arg(long, default_value = "enabled", value_name = "MODE")]
    pub cgroups: String,
    /// Disable the OOM killer for the container (cgroup v1 only)
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// Add a rule to the cgroup allowed devices list ("TYPE MAJOR:MINOR MODE", e.g. "c 1:3 rwm")
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,
    /// Write VALUE to the file KEY of the container's cgroup (cgroup v2; e.g. memory.high=1073741824)
    #[arg(long = "cgroup-conf", value_name = "KEY=VALUE")]
    pub cgroup_conf: Vec<String>,
    /// Intel RDT class of service the container runs in (a directory of /sys/fs/resctrl; root only)
    #[arg(long, value_name = "CLASS")]
    pub rdt_class: Option<String>,
}

impl LimitFlags {
    /// The limits as the engine takes them.
    pub fn request(&self) -> Limits {
        Limits {
            memory: self.memory.clone(),
            memory_swap: self.memory_swap.clone(),
            memory_reservation: self.memory_reservation.clone(),
            cpus: self.cpus,
            cpu_shares: self.cpu_shares,
            cpu_weight: self.cpu_weight,
            cpu_quota: self.cpu_quota,
            cpu_period: self.cpu_period,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight,
            cpu_rt_period: self.cpu_rt_period,
            cpu_rt_runtime: self.cpu_rt_runtime,
            io: IoLimits {
                memory_swappiness: self.memory_swappiness,
                oom_kill_disable: false,
                device_read_bps: self.device_read_bps.clone(),
                device_write_bps: self.device_write_bps.clone(),
                device_read_iops: self.device_read_iops.clone(),
                device_write_iops: self.device_write_iops.clone(),
                blkio_weight_device: self.blkio_weight_device.clone(),
            },
        }
    }
}

impl CreateLimitFlags {
    /// The limits as the engine takes them.
    pub fn request(&self) -> CreateLimits {
        let mut limits = self.limits.request();
        limits.io.oom_kill_disable = self.oom_kill_disable;
        CreateLimits {
            limits,
            oom_score_adj: self.oom_score_adj,
            cgroup_parent: self.cgroup_parent.clone(),
            cgroups: self.cgroups.clone(),
            device_cgroup_rules: self.device_cgroup_rule.clone(),
            cgroup_conf: self.cgroup_conf.clone(),
            rdt_class: self.rdt_class.clone(),
        }
    }
}
