//! cgroup v2 (the unified hierarchy): controllers enabled down the tree,
//! one directory per container, limits in its interface files.

use super::{cpu_max, mkdir, read_words, write, write_if_exists, Cgroup, ROOT};
use crate::storage::containers::Resources;
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The controllers a container may use, when the parent offers them.
const WANTED: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

/// Make the cgroup and enable controllers in every ancestor from `base`
/// (the hierarchy root as root, the delegated subtree rootless) down.
pub fn create(cg: &Cgroup, base: &str) -> Result<()> {
    let rel = cg.rel.trim_start_matches('/');
    let base = base.trim_matches('/');
    let dir = Path::new(ROOT).join(rel);
    let parent = dir.parent().unwrap_or(Path::new(ROOT)).to_path_buf();
    mkdir(&parent)?;
    // Enable from base down when the parent lies inside it; a custom
    // parent elsewhere is taken as it is.
    let start = if rel.starts_with(base) {
        Path::new(ROOT).join(base)
    } else {
        parent.clone()
    };
    let mut levels: Vec<PathBuf> = Vec::new();
    let mut p = parent.clone();
    while p.starts_with(&start) {
        levels.push(p.clone());
        if p == start || !p.pop() {
            break;
        }
    }
    for level in levels.iter().rev() {
        enable_controllers(level);
    }
    if dir.exists() {
        // Left by a monitor that died: empty it before reuse.
        super::kill_all(&dir);
    } else {
        mkdir(&dir)?;
    }
    Ok(())
}

/// Move every process of cgroup `rel` into its child `sub` (made if
/// missing), so `rel` may enable controllers for its children.
pub fn move_processes_below(rel: &str, sub: &str) -> Result<()> {
    let dir = Path::new(ROOT).join(rel.trim_start_matches('/'));
    let target = dir.join(sub);
    mkdir(&target)?;
    let procs = fs::read_to_string(dir.join("cgroup.procs"))
        .with_context(|| format!("reading {}", dir.join("cgroup.procs").display()))?;
    for pid in procs.split_whitespace() {
        // A process that ended meanwhile is not an error.
        if let Err(e) = fs::write(target.join("cgroup.procs"), pid) {
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(e)
                    .with_context(|| format!("moving process {pid} into {}", target.display()));
            }
        }
    }
    Ok(())
}

/// Let children of `dir` use every wanted controller it has. Failures are
/// left to the caller's check of what the container's cgroup got (a cgroup
/// with processes of its own cannot enable any: "no internal processes").
fn enable_controllers(dir: &Path) {
    let have = read_words(&dir.join("cgroup.controllers"));
    let on = read_words(&dir.join("cgroup.subtree_control"));
    for c in WANTED {
        if have.iter().any(|h| h == c) && !on.iter().any(|o| o == c) {
            if let Err(e) = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}")) {
                crate::debug!("enabling {c} in {}: {e}", dir.display());
            }
        }
    }
}

pub fn apply(cg: &Cgroup, r: &Resources) -> Result<()> {
    let d = cg.dir("");
    if r.memory > 0 {
        write(&d.join("memory.max"), &r.memory.to_string())?;
    }
    if r.memory_reservation > 0 {
        write(&d.join("memory.low"), &r.memory_reservation.to_string())?;
    }
    if r.memory_swap != 0 && r.memory > 0 {
        let swap = if r.memory_swap < 0 {
            "max".to_string()
        } else {
            (r.memory_swap - r.memory).max(0).to_string()
        };
        write_if_exists(&d.join("memory.swap.max"), &swap)?;
    }
    if let Some((quota, period)) = cpu_max(r) {
        let q = if quota < 0 {
            "max".to_string()
        } else {
            quota.to_string()
        };
        write(&d.join("cpu.max"), &format!("{q} {period}"))?;
    }
    if r.cpu_shares > 0 {
        write(
            &d.join("cpu.weight"),
            &super::shares_to_weight(r.cpu_shares).to_string(),
        )?;
    }
    super::apply_cpuset_and_pids(&d, &d, r)?;
    if r.blkio_weight > 0 {
        let bfq = d.join("io.bfq.weight");
        if bfq.exists() {
            write(&bfq, &r.blkio_weight.to_string())?;
        } else {
            // blkio weights (10..1000) on io.weight's scale (1..10000).
            let w = 1 + (u64::from(r.blkio_weight).clamp(10, 1000) - 10) * 9999 / 990;
            write(&d.join("io.weight"), &w.to_string())?;
        }
    }
    for (key, rates) in [
        ("rbps", &r.device_read_bps),
        ("wbps", &r.device_write_bps),
        ("riops", &r.device_read_iops),
        ("wiops", &r.device_write_iops),
    ] {
        // io.max takes one device and key at a time, keeping the others.
        for dev in rates {
            write(
                &d.join("io.max"),
                &format!("{}:{} {key}={}", dev.major, dev.minor, dev.rate),
            )?;
        }
    }
    for dev in &r.blkio_weight_device {
        let bfq = d.join("io.bfq.weight");
        let (file, w) = if bfq.exists() {
            (bfq, dev.rate)
        } else {
            (
                d.join("io.weight"),
                1 + (dev.rate.clamp(10, 1000) - 10) * 9999 / 990,
            )
        };
        write(&file, &format!("{}:{} {w}", dev.major, dev.minor))?;
    }
    // `--cgroup-conf`: the user's own files, last, so they win.
    for (key, value) in &r.cgroup_conf {
        write(&d.join(key), value)?;
    }
    Ok(())
}

pub fn set_frozen(cg: &Cgroup, frozen: bool) -> Result<()> {
    let d = cg.dir("");
    write(&d.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = fs::read_to_string(d.join("cgroup.events")).unwrap_or_default();
        if events.lines().any(|l| l.trim() == want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the cgroup {} did not reach \"{want}\"", cg.rel);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
