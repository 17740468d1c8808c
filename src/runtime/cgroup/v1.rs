//! cgroup v1 (as root on hosts that still mount the v1 controllers): one
//! directory per controller, the same relative path in each.

use super::{cpu_max, mkdir, write, write_if_exists, Cgroup, Hierarchy, ROOT};
use crate::storage::containers::Resources;
use anyhow::{bail, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The v1 controllers a container joins (limits, stats, the freezer).
pub const CONTROLLERS: &[&str] = &[
    "memory", "cpu", "cpuacct", "pids", "cpuset", "freezer", "blkio",
];

/// The v2 name of a v1 controller (what the limit checks speak).
pub fn v2_name(c: &str) -> &str {
    match c {
        "blkio" => "io",
        other => other,
    }
}

/// (controller, directory) for each mounted controller; co-mounted ones
/// (cpu,cpuacct) appear once.
pub fn dirs(rel: &str) -> Vec<(&'static str, PathBuf)> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    for c in CONTROLLERS {
        let mount = Path::new(ROOT).join(c);
        // Co-mounted controllers are symlinks to one directory (cpu ->
        // cpu,cpuacct); no full canonicalize, this runs on every start.
        let real = match fs::symlink_metadata(&mount) {
            Ok(m) if m.file_type().is_symlink() => match fs::read_link(&mount) {
                Ok(target) => mount.parent().unwrap_or(Path::new(ROOT)).join(target),
                Err(_) => continue,
            },
            Ok(m) if m.is_dir() => mount.clone(),
            _ => continue,
        };
        if seen.contains(&real) {
            continue;
        }
        seen.push(real);
        out.push((*c, mount.join(rel)));
    }
    out
}

pub fn blkio_weight_supported(h: Option<Hierarchy>) -> bool {
    match h {
        Some(Hierarchy::V1) => {
            let b = Path::new(ROOT).join("blkio");
            b.join("blkio.weight").exists() || b.join("blkio.bfq.weight").exists()
        }
        _ => true,
    }
}

pub fn create(cg: &Cgroup) -> Result<()> {
    let rel = cg.rel.trim_start_matches('/');
    for (c, dir) in dirs(rel) {
        let existed = dir.exists();
        mkdir(&dir)?;
        if existed {
            super::kill_all(&dir);
        }
        if c == "cpuset" {
            // A new cpuset is empty, and no task may join an empty one:
            // inherit each level's cpus and mems from its parent.
            let root = Path::new(ROOT).join("cpuset");
            let mut levels = Vec::new();
            let mut p = dir.clone();
            while p != root && p.starts_with(&root) {
                levels.push(p.clone());
                if !p.pop() {
                    break;
                }
            }
            for level in levels.iter().rev() {
                for f in ["cpuset.cpus", "cpuset.mems"] {
                    let mine = fs::read_to_string(level.join(f)).unwrap_or_default();
                    if mine.trim().is_empty() {
                        let parent = level.parent().unwrap_or(&root);
                        let v = fs::read_to_string(parent.join(f)).unwrap_or_default();
                        write(&level.join(f), v.trim())?;
                    }
                }
            }
        }
    }
    Ok(())
}

pub fn apply(cg: &Cgroup, r: &Resources) -> Result<()> {
    let mem = cg.dir("memory");
    if r.memory > 0 {
        let limit = mem.join("memory.limit_in_bytes");
        let memsw = mem.join("memory.memsw.limit_in_bytes");
        let swap = match r.memory_swap {
            0 => None,
            s if s < 0 => Some("-1".to_string()),
            s => Some(s.max(r.memory).to_string()),
        };
        // memsw may never be below the memory limit: order the writes.
        if write(&limit, &r.memory.to_string()).is_err() {
            if let Some(s) = &swap {
                write_if_exists(&memsw, s)?;
            }
            write(&limit, &r.memory.to_string())?;
        } else if let Some(s) = &swap {
            write_if_exists(&memsw, s)?;
        }
    }
    if r.memory_reservation > 0 {
        write(
            &mem.join("memory.soft_limit_in_bytes"),
            &r.memory_reservation.to_string(),
        )?;
    }
    let cpu = cg.dir("cpu");
    if let Some((quota, period)) = cpu_max(r) {
        write(&cpu.join("cpu.cfs_period_us"), &period.to_string())?;
        write(&cpu.join("cpu.cfs_quota_us"), &quota.max(-1).to_string())?;
    }
    if r.cpu_shares > 0 {
        write(&cpu.join("cpu.shares"), &r.cpu_shares.to_string())?;
    }
    apply_realtime(&cpu, r)?;
    super::apply_cpuset_and_pids(&cg.dir("cpuset"), &cg.dir("pids"), r)?;
    if r.blkio_weight > 0 {
        let b = cg.dir("blkio");
        let f = if b.join("blkio.weight").exists() {
            b.join("blkio.weight")
        } else {
            b.join("blkio.bfq.weight")
        };
        write(&f, &r.blkio_weight.to_string())?;
    }
    if let Some(n) = r.memory_swappiness {
        write(&mem.join("memory.swappiness"), &n.to_string())?;
    }
    if r.oom_kill_disable {
        write(&mem.join("memory.oom_control"), "1")?;
    }
    let blkio = cg.dir("blkio");
    if !r.blkio_weight_device.is_empty() && weight_device_file(&blkio).is_none() {
        bail!("--blkio-weight-device: this kernel's blkio controller takes no per-device weights (neither blkio.weight_device nor blkio.bfq.weight_device: the disk's I/O scheduler must be CFQ or BFQ)");
    }
    for (file, rates) in [
        ("blkio.throttle.read_bps_device", &r.device_read_bps),
        ("blkio.throttle.write_bps_device", &r.device_write_bps),
        ("blkio.throttle.read_iops_device", &r.device_read_iops),
        ("blkio.throttle.write_iops_device", &r.device_write_iops),
        (
            weight_device_file(&blkio).unwrap_or_default(),
            &r.blkio_weight_device,
        ),
    ] {
        // One device per write: the kernel takes one line at a time.
        for d in rates {
            write(
                &blkio.join(file),
                &format!("{}:{} {}", d.major, d.minor, d.rate),
            )?;
        }
    }
    Ok(())
}

/// The per-device weights: CFQ's file, else BFQ's (none: neither).
fn weight_device_file(blkio: &Path) -> Option<&'static str> {
    ["blkio.weight_device", "blkio.bfq.weight_device"]
        .into_iter()
        .find(|f| blkio.join(f).exists())
}

/// `--cpu-rt-period`/`--cpu-rt-runtime`. A group's real-time runtime comes
/// out of its parent's, and a new parent has none: each level above the
/// container (below the root) is given at least the runtime asked for.
fn apply_realtime(cpu: &Path, r: &Resources) -> Result<()> {
    if r.cpu_rt_period > 0 {
        write(&cpu.join("cpu.rt_period_us"), &r.cpu_rt_period.to_string())?;
    }
    if r.cpu_rt_runtime == 0 {
        return Ok(());
    }
    let root = Path::new(ROOT).join("cpu");
    let mut levels = Vec::new();
    let mut p = cpu.parent().map(Path::to_path_buf);
    while let Some(level) = p.filter(|l| *l != root && l.starts_with(&root)) {
        p = level.parent().map(Path::to_path_buf);
        levels.push(level);
    }
    for level in levels.iter().rev() {
        let file = level.join("cpu.rt_runtime_us");
        let have: i64 = fs::read_to_string(&file)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if have >= 0 && have < r.cpu_rt_runtime {
            write(&file, &r.cpu_rt_runtime.to_string())?;
        }
    }
    write(
        &cpu.join("cpu.rt_runtime_us"),
        &r.cpu_rt_runtime.to_string(),
    )
}

pub fn set_frozen(cg: &Cgroup, frozen: bool) -> Result<()> {
    let f = cg.dir("freezer").join("freezer.state");
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        write(&f, want)?;
        if fs::read_to_string(&f).unwrap_or_default().trim() == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the cgroup {} did not reach {want}", cg.rel);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
