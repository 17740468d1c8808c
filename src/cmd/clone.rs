//! `container clone` and `pod clone`: a copy of a container or a pod (with
//! its containers) from its records, with the changes the flags give.

use super::output::println;
use super::GlobalOpts;
use crate::engine::clone::{self as engine, CloneRequest};
use crate::engine::create::{CreateLimits, IoLimits, Limits};
use crate::engine::pod_clone::PodCloneRequest;
use crate::engine::pod_create::PodRequest;
use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct ContainerCloneArgs {
    /// Block IO weight (relative weight, 10 to 1000)
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
    /// Block IO relative weight of one device (DEVICE:WEIGHT, 10 to 1000)
    #[arg(long = "blkio-weight-device", value_name = "DEVICE:WEIGHT")]
    pub blkio_weight_device: Vec<String>,
    /// Limit the CPU Completely Fair Scheduler (CFS) period
    #[arg(long, value_name = "PERIOD")]
    pub cpu_period: Option<u64>,
    /// Limit the CPU Completely Fair Scheduler (CFS) quota
    #[arg(long, value_name = "QUOTA", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds (cgroup v1, as root)
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_rt_period: Option<u64>,
    /// Limit the CPU real-time runtime in microseconds (cgroup v1, as root)
    #[arg(long, value_name = "MICROSECONDS", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// Number of CPUs (replaces the original's CPU limits)
    #[arg(long, value_name = "CPUS")]
    pub cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "NODES")]
    pub cpuset_mems: Option<String>,
    /// Remove the original container
    #[arg(long)]
    pub destroy: bool,
    /// Limit the read rate from a device (PATH:RATE, e.g. /dev/sda:1mb)
    #[arg(long = "device-read-bps", value_name = "PATH:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit the write rate to a device (PATH:RATE, e.g. /dev/sda:1mb)
    #[arg(long = "device-write-bps", value_name = "PATH:RATE")]
    pub device_write_bps: Vec<String>,
    /// Remove the original even when it runs (with --destroy)
    #[arg(short, long)]
    pub force: bool,
    /// Memory limit (format: <number>[<unit>], unit b, k, m or g)
    #[arg(short = 'm', long, value_name = "MEMORY")]
    pub memory: Option<String>,
    /// Memory soft limit (format: <number>[<unit>])
    #[arg(long, value_name = "MEMORY-RESERVATION")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_name = "MEMORY-SWAP", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune the container's memory swappiness, 0 to 100 (cgroup v1 only)
    #[arg(long, value_name = "SWAPPINESS", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// The clone's name [default: NAME-clone]
    #[arg(long)]
    pub name: Option<String>,
    /// Put the clone in this pod (it takes the pod's shared namespaces)
    #[arg(long)]
    pub pod: Option<String>,
    /// Start the clone (detached)
    #[arg(long)]
    pub run: bool,
    /// The container to clone
    pub container: String,
    /// The clone's name (as --name)
    #[arg(value_name = "NAME")]
    pub new_name: Option<String>,
    /// Another image for the clone
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
}

pub fn container_clone(g: &GlobalOpts, a: ContainerCloneArgs) -> Result<()> {
    let name = match (a.name, a.new_name) {
        (Some(_), Some(_)) => bail!("cannot specify --name and a name argument together"),
        (n, None) | (None, n) => n,
    };
    let req = CloneRequest {
        source: a.container,
        name,
        image: a.image,
        limits: CreateLimits {
            limits: Limits {
                memory: a.memory,
                memory_swap: a.memory_swap,
                memory_reservation: a.memory_reservation,
                cpus: a.cpus,
                cpu_shares: a.cpu_shares,
                cpu_quota: a.cpu_quota,
                cpu_period: a.cpu_period,
                cpuset_cpus: a.cpuset_cpus,
                cpuset_mems: a.cpuset_mems,
                blkio_weight: a.blkio_weight,
                cpu_rt_period: a.cpu_rt_period,
                cpu_rt_runtime: a.cpu_rt_runtime,
                io: IoLimits {
                    memory_swappiness: a.memory_swappiness,
                    device_read_bps: a.device_read_bps,
                    device_write_bps: a.device_write_bps,
                    blkio_weight_device: a.blkio_weight_device,
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        },
        pod: a.pod,
        destroy: a.destroy,
        force: a.force,
        run: a.run,
    };
    let store = g.open_store()?;
    let clone = engine::clone_container(&store, req)?;
    println(&clone.id)
}

#[derive(Args, Debug)]
pub struct PodCloneArgs {
    /// The clone's name [default: NAME-clone]
    #[arg(short, long)]
    pub name: Option<String>,
    /// Set the clone's hostname
    #[arg(long)]
    pub hostname: Option<String>,
    /// Set metadata on the clone (added to the original's)
    #[arg(short, long = "label", value_name = "LABEL")]
    pub label: Vec<String>,
    /// The name of the clone's infra container
    #[arg(long)]
    pub infra_name: Option<String>,
    /// Write the pid of the clone's infra container's monitor to this file
    #[arg(long, value_name = "PATH")]
    pub infra_conmon_pidfile: Option<String>,
    /// The command the clone's infra runs (a string or a JSON array; an infra from an --infra-image only)
    #[arg(long, value_name = "COMMAND")]
    pub infra_command: Option<String>,
    /// Remove the original pod
    #[arg(long)]
    pub destroy: bool,
    /// Start the clone and its containers
    #[arg(long)]
    pub start: bool,
    #[command(flatten)]
    pub settings: super::pod_settings::PodSettings,
    /// The pod to clone
    pub pod: String,
    /// The clone's name (as --name)
    #[arg(value_name = "NAME")]
    pub new_name: Option<String>,
}

pub fn pod_clone(g: &GlobalOpts, a: PodCloneArgs) -> Result<()> {
    let name = match (a.name, a.new_name) {
        (Some(_), Some(_)) => bail!("cannot specify --name and a name argument together"),
        (n, None) | (None, n) => n,
    };
    let mut changes = PodRequest {
        hostname: a.hostname,
        labels: super::output::key_values(&a.label),
        infra_name: a.infra_name,
        infra_conmon_pidfile: a.infra_conmon_pidfile,
        infra_command: a.infra_command,
        ..Default::default()
    };
    a.settings.fill(&mut changes);
    let store = g.open_store()?;
    let pod = crate::engine::pod_clone::clone_pod(
        &store,
        PodCloneRequest {
            source: a.pod,
            name,
            changes,
            destroy: a.destroy,
            start: a.start,
        },
    )?;
    println(&pod.id)
}
