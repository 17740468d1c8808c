//! Per-container cgroups: where they go, which controllers this host gives
//! us, the limits written as the container starts (or by `update`), the
//! freezer, the OOM record, and removal when the container ends.
//!
//! cgroup v2 when /sys/fs/cgroup is the unified hierarchy: as root under
//! `/coracle`, rootless under the subtree delegated to the user (systemd's
//! user@.service delegates one). On hosts that still mount the v1
//! controllers, root uses them (`/sys/fs/cgroup/<controller>/coracle/...`);
//! rootless containers there get no cgroup, and a limit is a clear error.

pub mod pod;
pub mod usage;
mod v1;
mod v2;

use crate::storage::containers::Resources;
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const ROOT: &str = "/sys/fs/cgroup";

/// podman's default `--pids-limit` where the pids controller is there.
pub const DEFAULT_PIDS_LIMIT: i64 = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hierarchy {
    /// The unified hierarchy mounted at /sys/fs/cgroup.
    V2,
    /// v1 controllers, each mounted at /sys/fs/cgroup/<controller>.
    V1,
}

/// Which hierarchy this host uses for resource control, if any.
pub fn hierarchy() -> Option<Hierarchy> {
    // SAFETY: statfs fills the zeroed struct we pass.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let path = c"/sys/fs/cgroup";
    // SAFETY: a valid C string and a struct to fill.
    if unsafe { libc::statfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    if st.f_type == libc::CGROUP2_SUPER_MAGIC {
        return Some(Hierarchy::V2);
    }
    Path::new(ROOT)
        .join("memory/memory.limit_in_bytes")
        .exists()
        .then_some(Hierarchy::V1)
}

/// A limit flag and the controller (v2 name) that enforces it.
fn needed_controllers(r: &Resources, explicit_pids: bool) -> Vec<(&'static str, &'static str)> {
    let mut v = Vec::new();
    if r.memory != 0 {
        v.push(("--memory", "memory"));
    }
    if r.memory_swap != 0 && r.memory == 0 {
        v.push(("--memory-swap", "memory"));
    }
    if r.memory_reservation != 0 {
        v.push(("--memory-reservation", "memory"));
    }
    if r.nano_cpus != 0 {
        v.push(("--cpus", "cpu"));
    } else if r.cpu_quota != 0 || r.cpu_period != 0 {
        v.push(("--cpu-quota", "cpu"));
    }
    if r.cpu_shares != 0 {
        v.push(("--cpu-shares", "cpu"));
    }
    if !r.cpuset_cpus.is_empty() {
        v.push(("--cpuset-cpus", "cpuset"));
    }
    if !r.cpuset_mems.is_empty() {
        v.push(("--cpuset-mems", "cpuset"));
    }
    if explicit_pids && r.pids_limit > 0 {
        v.push(("--pids-limit", "pids"));
    }
    if r.blkio_weight != 0 {
        v.push(("--blkio-weight", "io"));
    }
    if r.memory_swappiness.is_some() {
        v.push(("--memory-swappiness", "memory"));
    }
    if r.oom_kill_disable {
        v.push(("--oom-kill-disable", "memory"));
    }
    if r.cpu_rt_period != 0 {
        v.push(("--cpu-rt-period", "cpu"));
    }
    if r.cpu_rt_runtime != 0 {
        v.push(("--cpu-rt-runtime", "cpu"));
    }
    for (flag, rates) in [
        ("--device-read-bps", &r.device_read_bps),
        ("--device-write-bps", &r.device_write_bps),
        ("--device-read-iops", &r.device_read_iops),
        ("--device-write-iops", &r.device_write_iops),
        ("--blkio-weight-device", &r.blkio_weight_device),
    ] {
        if !rates.is_empty() {
            v.push((flag, "io"));
        }
    }
    v
}

/// The controllers containers of this user can use, and why others are
/// missing (for the error message).
pub struct Available {
    pub hierarchy: Option<Hierarchy>,
    pub controllers: Vec<String>,
    /// Where the default parent goes (below the hierarchy root), when
    /// containers get a cgroup at all.
    pub base: Option<String>,
    pub why_missing: String,
}

fn read_words(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// This process's cgroup v2 path ("0::/a/b" in /proc/self/cgroup).
pub fn own_v2_cgroup() -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// The topmost cgroup above (and including) ours that this user owns: the
/// subtree delegated to it.
fn delegated_root() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let own = own_v2_cgroup()?;
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut rel = PathBuf::from(own.trim_start_matches('/'));
    let mut best = None;
    loop {
        if rel.as_os_str().is_empty() {
            break;
        }
        match fs::metadata(Path::new(ROOT).join(&rel)) {
            Ok(m) if m.uid() == uid => best = Some(format!("/{}", rel.display())),
            _ if best.is_some() => break,
            _ => {}
        }
        if !rel.pop() {
            break;
        }
    }
    best
}

pub fn available(rootless: bool) -> Available {
    let h = hierarchy();
    match (h, rootless) {
        (None, _) => Available {
            hierarchy: None,
            controllers: Vec::new(),
            base: None,
            why_missing: "this host has no cgroup hierarchy mounted at /sys/fs/cgroup".into(),
        },
        (Some(Hierarchy::V1), true) => Available {
            hierarchy: h,
            controllers: Vec::new(),
            base: None,
            why_missing: "this host uses cgroup v1 controllers, which are not delegated to users; rootless limits need a cgroup v2 subtree delegated to the user (as systemd's user@.service does)".into(),
        },
        (Some(Hierarchy::V1), false) => Available {
            hierarchy: h,
            controllers: v1::CONTROLLERS
                .iter()
                .filter(|c| Path::new(ROOT).join(c).exists())
                .map(|c| v1::v2_name(c).to_string())
                .collect(),
            base: Some(String::new()),
            why_missing: "its cgroup v1 hierarchy is not mounted at /sys/fs/cgroup".into(),
        },
        (Some(Hierarchy::V2), false) => Available {
            hierarchy: h,
            controllers: read_words(&Path::new(ROOT).join("cgroup.controllers")),
            base: Some(String::new()),
            why_missing: "the kernel does not offer it in /sys/fs/cgroup/cgroup.controllers".into(),
        },
        (Some(Hierarchy::V2), true) => match delegated_root() {
            None => Available {
                hierarchy: h,
                controllers: Vec::new(),
                base: None,
                why_missing: "no cgroup v2 subtree is delegated to this user (systemd's user@.service delegates one)".into(),
            },
            Some(d) => {
                let controllers =
                    read_words(&Path::new(ROOT).join(d.trim_start_matches('/')).join("cgroup.controllers"));
                Available {
                    hierarchy: h,
                    why_missing: format!(
                        "the cgroup subtree delegated to this user ({d}) has only: {}",
                        if controllers.is_empty() { "none".to_string() } else { controllers.join(" ") }
                    ),
                    controllers,
                    base: Some(d),
                }
            }
        },
    }
}

/// What `create` decides about a container's cgroup: the default pids
/// limit, and a clear error for a limit this host cannot enforce.
pub fn check(r: &mut Resources, explicit_pids: bool, mode: &str, rootless: bool) -> Result<()> {
    let needed = needed_controllers(r, explicit_pids);
    if mode == "disabled" {
        let conf = (!r.cgroup_conf.is_empty()).then_some("--cgroup-conf");
        if let Some(flag) = needed.first().map(|(f, _)| *f).or(conf) {
            bail!("{flag}: cannot set resource limits with --cgroups=disabled");
        }
        return Ok(());
    }
    let avail = available(rootless);
    if avail.hierarchy == Some(Hierarchy::V2) {
        // podman's warnings: cgroup v2 has no real-time group scheduling.
        if std::mem::take(&mut r.cpu_rt_period) != 0 {
            crate::warn!("Realtime period not supported on cgroups V2 systems");
        }
        if std::mem::take(&mut r.cpu_rt_runtime) != 0 {
            crate::warn!("Realtime runtime not supported on cgroups V2 systems");
        }
    }
    if !r.cgroup_conf.is_empty() {
        if avail.hierarchy != Some(Hierarchy::V2) {
            bail!("--cgroup-conf: the container's cgroup files can only be set on cgroup v2, and this host uses cgroup v1");
        }
        if avail.base.is_none() {
            bail!(
                "--cgroup-conf: the container gets no cgroup: {}",
                avail.why_missing
            );
        }
    }
    for (flag, ctrl) in needed
        .iter()
        .filter(|(f, _)| !f.starts_with("--cpu-rt") || avail.hierarchy != Some(Hierarchy::V2))
    {
        if !avail.controllers.iter().any(|c| c == ctrl) {
            if *ctrl == "io" && !rootless && *flag == "--blkio-weight" {
                // podman's own wording for a kernel without I/O weights.
                crate::warn!("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
                r.blkio_weight = 0;
                continue;
            }
            bail!(
                "{flag}: the {ctrl} controller is not available: {}",
                avail.why_missing
            );
        }
    }
    if avail.hierarchy == Some(Hierarchy::V2) {
        // cgroup v2 has neither: podman's warnings, and the value dropped.
        if r.memory_swappiness.take().is_some() {
            crate::warn!("Your kernel does not support memory swappiness capabilities, or the cgroup is not mounted. Memory swappiness discarded.");
        }
        if std::mem::take(&mut r.oom_kill_disable) {
            crate::warn!("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
        }
    }
    if r.blkio_weight != 0 && !v1::blkio_weight_supported(avail.hierarchy) {
        crate::warn!("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
        r.blkio_weight = 0;
    }
    if !explicit_pids {
        r.pids_limit = if avail.controllers.iter().any(|c| c == "pids") {
            // containers.conf's pids_limit is a default too (0: none).
            let conf = crate::config::get().containers.containers.pids_limit;
            conf.unwrap_or(DEFAULT_PIDS_LIMIT).max(0)
        } else {
            0
        };
    }
    Ok(())
}

/// One container's cgroup: its path below the hierarchy root.
#[derive(Clone, Debug)]
pub struct Cgroup {
    pub rel: String,
    pub hierarchy: Hierarchy,
}

impl Cgroup {
    /// The cgroup recorded in a container's state (`cgroup_path`).
    pub fn open(rel: &str) -> Option<Cgroup> {
        if rel.is_empty() {
            return None;
        }
        Some(Cgroup {
            rel: rel.to_string(),
            hierarchy: hierarchy()?,
        })
    }

    /// The directories that make it up: one in v2, one per v1 controller.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let rel = self.rel.trim_start_matches('/');
        match self.hierarchy {
            Hierarchy::V2 => vec![Path::new(ROOT).join(rel)],
            Hierarchy::V1 => v1::dirs(rel).into_iter().map(|(_, d)| d).collect(),
        }
    }

    /// The directory of one controller (v1 name); the only one in v2.
    pub fn dir(&self, v1_controller: &str) -> PathBuf {
        let rel = self.rel.trim_start_matches('/');
        match self.hierarchy {
            Hierarchy::V2 => Path::new(ROOT).join(rel),
            Hierarchy::V1 => Path::new(ROOT).join(v1_controller).join(rel),
        }
    }

    /// Make the cgroup of container `id` and write its limits. `None` when
    /// the container runs without one (cgroups disabled, or rootless on a
    /// host that delegates nothing and no limit was asked for).
    pub fn create(
        id: &str,
        r: &Resources,
        parent: &str,
        mode: &str,
        rootless: bool,
    ) -> Result<Option<Cgroup>> {
        if mode == "disabled" {
            return Ok(None);
        }
        let avail = available(rootless);
        let Some(h) = avail.hierarchy else {
            return Ok(None);
        };
        let parent = if mode == "split" {
            // Rootless, only a delegated v2 subtree is ours to divide (as
            // in the default mode, no cgroup at all otherwise).
            if rootless && (h != Hierarchy::V2 || avail.base.is_none()) {
                return Ok(None);
            }
            let own = own_v2_cgroup()
                .filter(|_| h == Hierarchy::V2)
                .or_else(|| own_v1_cgroup("memory"))
                .unwrap_or_default();
            if h == Hierarchy::V2 {
                // A unit's cgroup holds the CLI and the monitor: v2 lets a
                // cgroup with processes have no controlled children, so they
                // move below it first (podman's `runtime` sub-cgroup).
                v2::move_processes_below(&own, "runtime")?;
            }
            own
        } else if !parent.is_empty() {
            format!("/{}", parent.trim_matches('/'))
        } else {
            match &avail.base {
                Some(b) => format!("{}/coracle", b.trim_end_matches('/')),
                None => return Ok(None),
            }
        };
        let cg = Cgroup {
            rel: format!("{}/coracle-{id}", parent.trim_end_matches('/')),
            hierarchy: h,
        };
        match h {
            Hierarchy::V2 => v2::create(&cg, avail.base.as_deref().unwrap_or(""))?,
            Hierarchy::V1 => v1::create(&cg)?,
        }
        let result = (|| {
            // A custom parent may lack what the default place has.
            let have = cg.controllers();
            for (flag, ctrl) in needed_controllers(r, r.pids_limit > 0) {
                if !have.iter().any(|c| c == ctrl) {
                    bail!(
                        "{flag}: the {ctrl} controller is not available in cgroup {}",
                        cg.rel
                    );
                }
            }
            cg.apply(r)
        })();
        if let Err(e) = result {
            cg.remove();
            return Err(e);
        }
        Ok(Some(cg))
    }

    /// Controllers (v2 names) enabled for this cgroup.
    pub fn controllers(&self) -> Vec<String> {
        match self.hierarchy {
            Hierarchy::V2 => read_words(&self.dir("").join("cgroup.controllers")),
            Hierarchy::V1 => v1::dirs(self.rel.trim_start_matches('/'))
                .into_iter()
                .filter(|(_, d)| d.exists())
                .map(|(c, _)| v1::v2_name(c).to_string())
                .collect(),
        }
    }

    /// Write the limits (at start, and again on `update`).
    pub fn apply(&self, r: &Resources) -> Result<()> {
        match self.hierarchy {
            Hierarchy::V2 => v2::apply(self, r),
            Hierarchy::V1 => v1::apply(self, r),
        }
    }

    /// Move process `pid` into the cgroup.
    pub fn add(&self, pid: i32) -> Result<()> {
        for d in self.dirs() {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Can a single-threaded process join by itself cheaply ([`join_self`])?
    /// On v1, yes; v2's `cgroup.threads` is for threaded cgroups only.
    ///
    /// [`join_self`]: Cgroup::join_self
    pub fn joins_cheaply_by_itself(&self) -> bool {
        self.hierarchy == Hierarchy::V1
    }

    /// Move the calling process, which must be single-threaded, into the
    /// cgroup. On v1 it writes "0" (itself) to `tasks`: moving one thread
    /// named that way spares the kernel the global write lock on thread
    /// groups, whose first taking waits out an RCU grace period (5-15 ms
    /// here) that `cgroup.procs` with a pid pays on every start.
    pub fn join_self(&self) -> Result<()> {
        let file = match self.hierarchy {
            Hierarchy::V2 => "cgroup.procs",
            Hierarchy::V1 => "tasks",
        };
        for d in self.dirs() {
            write(&d.join(file), "0")?;
        }
        Ok(())
    }

    /// Freeze (pause) or thaw every process, and wait until the kernel
    /// says it is done.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        match self.hierarchy {
            Hierarchy::V2 => v2::set_frozen(self, frozen),
            Hierarchy::V1 => v1::set_frozen(self, frozen),
        }
    }

    /// Did the kernel's OOM killer kill a process of this cgroup?
    pub fn oom_killed(&self) -> bool {
        let (file, key) = match self.hierarchy {
            Hierarchy::V2 => ("memory.events", "oom_kill"),
            Hierarchy::V1 => ("memory.oom_control", "oom_kill"),
        };
        fs::read_to_string(self.dir("memory").join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .any(|(k, v)| k == key && v.trim().parse::<u64>().unwrap_or(0) > 0)
    }

    /// Kill what is left and remove the cgroup. Errors are not fatal: the
    /// container has ended either way; a leftover empty directory is
    /// removed on the next start of the same container.
    pub fn remove(&self) {
        let _ = self.set_frozen(false);
        let deadline = Instant::now() + Duration::from_secs(2);
        for d in self.dirs() {
            loop {
                match fs::remove_dir(&d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        kill_all(&d);
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => {
                        crate::debug!("removing cgroup {}: {e}", d.display());
                        break;
                    }
                }
            }
        }
    }
}

/// SIGKILL every process listed in a cgroup directory.
fn kill_all(dir: &Path) {
    if fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    for pid in fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
    {
        // SAFETY: a process of the container's own cgroup.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// This process's cgroup in one v1 hierarchy.
fn own_v1_cgroup(controller: &str) -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let _ = f.next();
        let ctrls = f.next()?;
        let path = f.next()?;
        ctrls
            .split(',')
            .any(|c| c == controller)
            .then(|| path.to_string())
    })
}

/// Write a cgroup file, naming it and the value in the error.
fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).with_context(|| format!("writing {value:?} to {}", path.display()))
}

/// Write a limit file that may be missing on some kernels (swap accounting).
fn write_if_exists(path: &Path, value: &str) -> Result<()> {
    if path.exists() {
        write(path, value)
    } else {
        Ok(())
    }
}

/// The cpuset and pids limits: the same files in v1 (each in its
/// controller's directory) and v2 (both in the one directory).
fn apply_cpuset_and_pids(cpuset: &Path, pids: &Path, r: &Resources) -> Result<()> {
    if !r.cpuset_cpus.is_empty() {
        write(&cpuset.join("cpuset.cpus"), &r.cpuset_cpus)?;
    }
    if !r.cpuset_mems.is_empty() {
        write(&cpuset.join("cpuset.mems"), &r.cpuset_mems)?;
    }
    let pids = pids.join("pids.max");
    if pids.exists() {
        let v = if r.pids_limit > 0 {
            r.pids_limit.to_string()
        } else {
            "max".into()
        };
        write(&pids, &v)?;
    }
    Ok(())
}

/// Create a directory (and parents), existing ones being fine.
fn mkdir(path: &Path) -> Result<()> {
    match fs::create_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating cgroup {}", path.display())),
    }
}

/// cpu shares (2..262144) to cgroup v2 cpu.weight (1..10000), as crun does.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// cpu.weight back to shares (for `--cpu-weight`).
pub fn weight_to_shares(weight: u64) -> u64 {
    2 + (weight.clamp(1, 10_000) - 1) * 262_142 / 9999
}

/// The CFS quota and period the limits ask for: `--cpus` wins.
pub fn cpu_max(r: &Resources) -> Option<(i64, u64)> {
    if r.nano_cpus > 0 {
        let period = if r.cpu_period > 0 {
            r.cpu_period
        } else {
            100_000
        };
        let quota = (r.nano_cpus as i128 * period as i128 / 1_000_000_000) as i64;
        return Some((quota.max(1000), period));
    }
    if r.cpu_quota != 0 || r.cpu_period != 0 {
        let period = if r.cpu_period > 0 {
            r.cpu_period
        } else {
            100_000
        };
        return Some((r.cpu_quota, period));
    }
    None
}

/// Host memory (MemTotal), the limit of a container without one.
pub fn host_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_conversions() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(10_000), 262_144);
        let r = Resources {
            nano_cpus: 500_000_000,
            ..Default::default()
        };
        assert_eq!(cpu_max(&r), Some((50_000, 100_000)));
        let r = Resources {
            cpu_quota: 20_000,
            ..Default::default()
        };
        assert_eq!(cpu_max(&r), Some((20_000, 100_000)));
        assert_eq!(cpu_max(&Resources::default()), None);
    }
}
