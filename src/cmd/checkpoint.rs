//! `container checkpoint` and `container restore` (CRIU).

use super::output::println;
use super::selection::targets;
use super::GlobalOpts;
use crate::engine::checkpoint::{self as ckpt, CheckpointRequest, Compression, RestoreRequest};
use crate::engine::containers::is_running_now;
use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// Checkpoint all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Create a checkpoint image with the given name
    #[arg(long, value_name = "IMAGE")]
    pub create_image: Option<String>,
    /// Select compression algorithm (gzip, none, zstd) for checkpoint archive
    #[arg(short = 'c', long, default_value = "zstd")]
    pub compress: String,
    /// Export the checkpoint image to a tar.gz
    #[arg(short, long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// Checkpoint a container with file locks
    #[arg(long)]
    pub file_locks: bool,
    /// Do not include root file-system changes when exporting
    #[arg(long)]
    pub ignore_rootfs: bool,
    /// Do not export the contents of the container's volumes
    #[arg(long)]
    pub ignore_volumes: bool,
    /// Keep all temporary checkpoint files
    #[arg(short, long)]
    pub keep: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Leave the container running after writing checkpoint to disk
    #[arg(short = 'R', long)]
    pub leave_running: bool,
    /// Display checkpoint statistics
    #[arg(long)]
    pub print_stats: bool,
    /// Checkpoint a container with established TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Restore all checkpointed containers
    #[arg(short, long)]
    pub all: bool,
    /// Restore a container with file locks
    #[arg(long)]
    pub file_locks: bool,
    /// Do not apply root file-system changes when importing from exported checkpoint
    #[arg(long)]
    pub ignore_rootfs: bool,
    /// Do not restore the contents of volumes when importing from exported checkpoint
    #[arg(long)]
    pub ignore_volumes: bool,
    /// Ignore IP address set via --ip when importing from exported checkpoint
    #[arg(long)]
    pub ignore_static_ip: bool,
    /// Ignore MAC address set via --mac-address when importing from exported checkpoint
    #[arg(long)]
    pub ignore_static_mac: bool,
    /// Publish a container's port, or a range of ports, to the host (only with --import)
    #[arg(short, long, value_name = "PORT")]
    pub publish: Vec<String>,
    /// Restore from exported checkpoint archive (tar.gz)
    #[arg(short, long, value_name = "FILE")]
    pub import: Option<PathBuf>,
    /// Keep all temporary checkpoint files
    #[arg(short, long)]
    pub keep: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Specify new name for container restored from exported checkpoint (only works with --import)
    #[arg(short, long)]
    pub name: Option<String>,
    /// Restore container into existing Pod (only works with image or --import)
    #[arg(long, value_name = "NAME")]
    pub pod: Option<String>,
    /// Display restore statistics
    #[arg(long)]
    pub print_stats: bool,
    /// Restore a container with established TCP connections in closed state
    #[arg(long)]
    pub tcp_close: bool,
    /// Restore a container with established TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    pub containers: Vec<String>,
}

/// podman's `--print-stats` document.
fn print_stats(
    duration_key: &str,
    runtime_key: &str,
    began: Instant,
    reports: &[ckpt::Report],
) -> Result<()> {
    let stats: Vec<_> = reports
        .iter()
        .map(|r| {
            json!({
                "Id": r.id,
                runtime_key: r.runtime_duration,
                "criu_statistics": r.stats,
            })
        })
        .collect();
    let doc = json!({
        duration_key: began.elapsed().as_micros() as i64,
        "container_statistics": stats,
    });
    println(&serde_json::to_string_pretty(&doc)?)
}

/// Run `f` on each target, naming each success (or gathering reports
/// for `--print-stats`); failures are reported and the last one returned.
fn each(
    list: &[(String, String)],
    stats: bool,
    mut f: impl FnMut(&str) -> Result<ckpt::Report>,
) -> (Vec<ckpt::Report>, Result<()>) {
    let mut reports = Vec::new();
    let result = super::output::for_each_reported(
        list,
        |(typed, _)| typed,
        stats,
        |(_, id)| {
            reports.push(f(id)?);
            Ok(())
        },
    );
    (reports, result)
}

pub fn checkpoint(g: &GlobalOpts, a: CheckpointArgs) -> Result<()> {
    let began = Instant::now();
    let compression: Compression = a.compress.parse()?;
    if a.export.is_none() {
        if a.ignore_rootfs {
            bail!("--ignore-rootfs can only be used with --export");
        }
        if a.ignore_volumes {
            bail!("--ignore-volumes can only be used with --export");
        }
        if a.compress != "zstd" {
            bail!("--compress can only be used with --export");
        }
    }
    if (a.export.is_some() || a.create_image.is_some()) && (a.all || a.containers.len() > 1) {
        bail!("--export and --create-image can only be used with a single container");
    }
    if a.export.is_some() && a.create_image.is_some() {
        bail!("--export and --create-image cannot be used together");
    }
    let store = g.open_store()?;
    let mut list = targets(&store, &a.containers, a.all, a.latest, false)?;
    if a.all {
        list.retain(|(_, id)| is_running_now(&store, id));
    }
    let req = CheckpointRequest {
        dump: ckpt::DumpOptions {
            leave_running: a.leave_running,
            tcp_established: a.tcp_established,
            file_locks: a.file_locks,
        },
        keep: a.keep,
        export: a.export.clone(),
        compression,
        ignore_rootfs: a.ignore_rootfs,
        ignore_volumes: a.ignore_volumes,
        print_stats: a.print_stats,
        create_image: a.create_image.clone(),
    };
    let (reports, result) = each(&list, a.print_stats, |id| {
        ckpt::checkpoint(&store, id, &req)
    });
    if a.print_stats && result.is_ok() {
        print_stats(
            "podman_checkpoint_duration",
            "runtime_checkpoint_duration",
            began,
            &reports,
        )?;
    }
    result
}

pub fn restore(g: &GlobalOpts, a: RestoreArgs) -> Result<()> {
    let began = Instant::now();
    if a.import.is_none() {
        if a.ignore_rootfs {
            bail!("--ignore-rootfs can only be used with --import");
        }
        if a.ignore_volumes {
            bail!("--ignore-volumes can only be used with --import");
        }
    } else if a.all || a.latest || !a.containers.is_empty() {
        bail!("--import cannot be used with --all, --latest or container names");
    }
    if a.tcp_close && a.tcp_established {
        bail!("--tcp-close and --tcp-established cannot be used together");
    }
    let req = RestoreRequest {
        criu: ckpt::RestoreOptions {
            tcp_established: a.tcp_established,
            tcp_close: a.tcp_close,
            file_locks: a.file_locks,
        },
        keep: a.keep,
        print_stats: a.print_stats,
        import: a.import.clone(),
        name: a.name.clone(),
        ignore_rootfs: a.ignore_rootfs,
        ignore_volumes: a.ignore_volumes,
        ignore_static_ip: a.ignore_static_ip,
        ignore_static_mac: a.ignore_static_mac,
        publish: a.publish.clone(),
        pod: a.pod.clone(),
    };
    let store = g.open_store()?;
    if a.import.is_some() {
        let report = ckpt::import(&store, &req)?;
        if a.print_stats {
            return print_stats(
                "podman_restore_duration",
                "runtime_restore_duration",
                began,
                &[report],
            );
        }
        return println(&report.id);
    }
    // `restore IMAGE`: a checkpoint image makes a new container.
    if !a.all && !a.latest && a.containers.len() == 1 {
        let input = &a.containers[0];
        let is_container = crate::engine::lookup::try_container_id(&store, input)?.is_some();
        if !is_container && ckpt::checkpoint_image(&store, input)?.is_some() {
            let report = ckpt::restore_image(&store, input, &req)?;
            if a.print_stats {
                return print_stats(
                    "podman_restore_duration",
                    "runtime_restore_duration",
                    began,
                    &[report],
                );
            }
            return println(&report.id);
        }
    }
    if a.pod.is_some() {
        bail!("--pod can only be used with image or --import");
    }
    if a.name.is_some() || a.ignore_static_ip || a.ignore_static_mac || !a.publish.is_empty() {
        bail!("--name, --publish, --ignore-static-ip and --ignore-static-mac can only be used with --import or a checkpoint image");
    }
    let mut list = targets(&store, &a.containers, a.all, a.latest, false)?;
    if a.all {
        list.retain(|(_, id)| ckpt::is_checkpointed(&store, id));
    }
    let (reports, result) = each(&list, a.print_stats, |id| ckpt::restore(&store, id, &req));
    if a.print_stats && result.is_ok() {
        print_stats(
            "podman_restore_duration",
            "runtime_restore_duration",
            began,
            &reports,
        )?;
    }
    result
}
