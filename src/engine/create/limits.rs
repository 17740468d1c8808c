//! Resource limits (`run`/`create` and `update`) to the container's
//! recorded limits, with podman's validation and defaults.

use crate::storage::containers::Resources;
use anyhow::{bail, Result};

/// The limits `update` can change on a running container.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Memory limit (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), m (mebibytes), or g (gibibytes))
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    pub memory_swap: Option<String>,
    /// Memory soft limit (format: <number>[<unit>])
    pub memory_reservation: Option<String>,
    /// Number of CPUs. The default is 0.000 which means no limit
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    pub cpu_shares: Option<u64>,
    /// CPU weight on cgroup v2's scale, 1 to 10000 (another way to give --cpu-shares)
    pub cpu_weight: Option<u64>,
    /// Limit the CPU Completely Fair Scheduler (CFS) quota
    pub cpu_quota: Option<i64>,
    /// Limit the CPU Completely Fair Scheduler (CFS) period
    pub cpu_period: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1). Only effective on NUMA systems.
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    pub pids_limit: Option<i64>,
    /// Block IO weight (relative weight) accepts a weight value between 10 and 1000.
    pub blkio_weight: Option<u16>,
    /// Real-time period and runtime, microseconds.
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    /// Swappiness, OOM killer, per-device I/O rates and weights.
    pub io: super::io_limits::IoLimits,
}

/// The limits only `run`/`create` take.
#[derive(Debug, Clone, Default)]
pub struct CreateLimits {
    pub limits: Limits,
    /// Rules for the devices cgroup ("c 1:3 rwm").
    pub device_cgroup_rules: Vec<String>,
    /// cgroup v2 files to write (KEY=VALUE).
    pub cgroup_conf: Vec<String>,
    /// The resctrl class of service (`--rdt-class`).
    pub rdt_class: Option<String>,
    /// Tune the host's OOM preferences (-1000 to +1000)
    pub oom_score_adj: Option<i32>,
    /// Optional parent cgroup for the container
    pub cgroup_parent: Option<String>,
    /// Control container cgroup configuration ("enabled"|"disabled"|"no-conmon"|"split")
    pub cgroups: String,
}

/// The smallest memory limit: 6 MiB, as podman (and runc) refuse less.
const MIN_MEMORY: i64 = 6 << 20;

/// go-units RAMInBytes: `64m`, `1.5g`, `512k`, `1024`, `64mb`, `2GiB`;
/// binary units.
pub fn parse_bytes(s: &str, what: &str) -> Result<i64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let unit = unit.trim_start();
    let mult: f64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => bail!("invalid value for {what}: invalid size: '{s}'"),
    };
    let ok_unit = matches!(unit.len(), 0..=3)
        && unit.chars().enumerate().all(|(i, c)| {
            if i == 0 {
                "kmgtpb".contains(c)
            } else {
                "ib".contains(c)
            }
        });
    let Ok(n) = num.parse::<f64>() else {
        bail!("invalid value for {what}: invalid size: '{s}'");
    };
    if !ok_unit {
        bail!("invalid value for {what}: invalid size: '{s}'");
    }
    let bytes = n * mult;
    // `as` would saturate: a size past i64 is an error, not "unlimited".
    if bytes >= i64::MAX as f64 {
        bail!("invalid value for {what}: invalid size: '{s}': value out of range");
    }
    Ok(bytes as i64)
}

impl Limits {
    /// Apply the flags given to `r` (all of them at create; the given
    /// ones on update).
    pub fn apply_to(&self, r: &mut Resources) -> Result<()> {
        if self.cpus.is_some() && self.cpu_quota.is_some() {
            bail!("--cpu-quota and --cpus cannot be set together");
        }
        if self.cpus.is_some() && self.cpu_period.is_some() {
            bail!("--cpu-period and --cpus cannot be set together");
        }
        if self.cpu_shares.is_some() && self.cpu_weight.is_some() {
            bail!("--cpu-shares and --cpu-weight cannot be set together");
        }
        if let Some(m) = &self.memory {
            r.memory = parse_bytes(m, "memory")?;
            // The kernel's and podman's floor: less cannot start a process.
            if r.memory > 0 && r.memory < MIN_MEMORY {
                bail!("minimum memory limit allowed is 6MB");
            }
            if self.memory_swap.is_none() && r.memory > 0 {
                // podman's default: as much swap as memory.
                r.memory_swap = r.memory.saturating_mul(2);
            }
        }
        if let Some(s) = &self.memory_swap {
            r.memory_swap = if s.trim() == "-1" {
                -1
            } else {
                parse_bytes(s, "memory-swap")?
            };
            if r.memory == 0 {
                bail!(
                    "you should always set a memory limit when using a memoryswap limit, see usage"
                );
            }
            if r.memory_swap > 0 && r.memory_swap < r.memory {
                bail!("minimum memoryswap limit should be larger than memory limit, see usage");
            }
        }
        if let Some(m) = &self.memory_reservation {
            r.memory_reservation = parse_bytes(m, "memory-reservation")?;
        }
        if let Some(c) = self.cpus {
            let max = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1) as f64;
            // 0 is podman's "no limit"; below it, or not a number, is none.
            if c < 0.0 || !c.is_finite() {
                bail!("range of CPUs is from 0.01 to {max:.2}, as there are only {max} CPUs available");
            }
            if c > 0.0 {
                if c > max {
                    bail!("range of CPUs is from 0.01 to {max:.2}, as there are only {max} CPUs available");
                }
                r.nano_cpus = (c * 1e9) as i64;
                r.cpu_period = 100_000;
                r.cpu_quota = (c * 100_000.0) as i64;
            } else {
                r.nano_cpus = 0;
            }
        }
        if let Some(q) = self.cpu_quota {
            if q > 0 && q < 1000 {
                bail!("CPU cfs quota cannot be less than 1ms (i.e. 1000)");
            }
            r.cpu_quota = q;
            r.nano_cpus = 0;
        }
        if let Some(p) = self.cpu_period {
            if p != 0 && !(1000..=1_000_000).contains(&p) {
                bail!("CPU cfs period cannot be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
            }
            r.cpu_period = p;
            r.nano_cpus = 0;
        }
        if let Some(s) = self.cpu_shares {
            r.cpu_shares = s;
        }
        if let Some(w) = self.cpu_weight {
            if !(1..=10_000).contains(&w) {
                bail!("--cpu-weight {w}: the weight must be between 1 and 10000");
            }
            r.cpu_shares = crate::runtime::cgroup::weight_to_shares(w);
        }
        if let Some(c) = &self.cpuset_cpus {
            check_cpu_list(c, "cpuset-cpus")?;
            r.cpuset_cpus = c.clone();
        }
        if let Some(m) = &self.cpuset_mems {
            check_cpu_list(m, "cpuset-mems")?;
            r.cpuset_mems = m.clone();
        }
        if let Some(p) = self.pids_limit {
            r.pids_limit = p.max(0);
        }
        if let Some(w) = self.blkio_weight {
            if w != 0 && !(10..=1000).contains(&w) {
                bail!("invalid --blkio-weight {w}: must be between 10 and 1000");
            }
            r.blkio_weight = w;
        }
        if let Some(p) = self.cpu_rt_period {
            r.cpu_rt_period = p;
        }
        if let Some(rt) = self.cpu_rt_runtime {
            r.cpu_rt_runtime = rt;
        }
        if r.cpu_rt_period > 0 && r.cpu_rt_runtime > r.cpu_rt_period as i64 {
            bail!(
                "--cpu-rt-runtime {} must not exceed --cpu-rt-period {}",
                r.cpu_rt_runtime,
                r.cpu_rt_period
            );
        }
        self.io.apply_to(r)
    }
}

/// `0-3,5`: what the kernel accepts in cpuset.cpus / cpuset.mems.
fn check_cpu_list(s: &str, flag: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.split(',').all(|part| {
            let mut ends = part.splitn(2, '-');
            ends.all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
    if !ok {
        bail!("invalid --{flag} {s:?}: expected a list like 0-3,5");
    }
    Ok(())
}

impl CreateLimits {
    /// The limits a new container gets, checked against what this host can
    /// enforce (a limit it cannot is an error that names the controller).
    pub fn resources(&self, rootless: bool) -> Result<(Resources, String)> {
        let mut r = Resources::default();
        self.limits.apply_to(&mut r)?;
        r.device_cgroup_rules = self
            .device_cgroup_rules
            .iter()
            .map(|rule| super::cgroup_rules::device_rule(rule))
            .collect::<Result<_>>()?;
        r.cgroup_conf = super::cgroup_rules::cgroup_conf(&self.cgroup_conf)?;
        if let Some(class) = &self.rdt_class {
            r.rdt_class = super::cgroup_rules::rdt_class(class)?;
            if rootless {
                bail!(
                    "--rdt-class {class}: assigning a container to a class of service needs root"
                );
            }
        }
        if let Some(a) = self.oom_score_adj {
            if !(-1000..=1000).contains(&a) {
                bail!("oom-score-adj {a} is out of range: it must be between -1000 and 1000");
            }
            r.oom_score_adj = Some(a);
        }
        let mode = match self.cgroups.as_str() {
            "" | "enabled" => "enabled",
            m @ ("disabled" | "no-conmon" | "split") => m,
            other => bail!(
                "running container create option: invalid cgroup mode {other:?}: invalid argument"
            ),
        };
        crate::runtime::cgroup::check(&mut r, self.limits.pids_limit.is_some(), mode, rootless)?;
        Ok((r, mode.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_podman_reads_them() {
        assert_eq!(parse_bytes("64m", "memory").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("64mb", "memory").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1g", "memory").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("2GiB", "memory").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("512k", "memory").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("1000", "memory").unwrap(), 1000);
        assert_eq!(parse_bytes("1.5k", "memory").unwrap(), 1536);
        assert!(parse_bytes("64x", "memory").is_err());
        assert_eq!(
            parse_bytes("99999999999999999999", "memory")
                .unwrap_err()
                .to_string(),
            "invalid value for memory: invalid size: '99999999999999999999': value out of range"
        );
        assert!(parse_bytes("8388608t", "memory").is_err());
        assert!(parse_bytes("8388607t", "memory").is_ok());
        assert!(parse_bytes("m", "memory").is_err());
    }

    #[test]
    fn limits_no_kernel_could_honour() {
        let err = |l: Limits| {
            let mut r = Resources::default();
            l.apply_to(&mut r).unwrap_err().to_string()
        };
        assert_eq!(
            err(Limits {
                memory: Some("1".into()),
                ..Default::default()
            }),
            "minimum memory limit allowed is 6MB"
        );
        assert!(err(Limits {
            cpus: Some(-1.0),
            ..Default::default()
        })
        .starts_with("range of CPUs is from 0.01 to "));
        assert!(err(Limits {
            cpus: Some(f64::NAN),
            ..Default::default()
        })
        .starts_with("range of CPUs is from 0.01 to "));
        // The largest size there is: no overflow of the swap default.
        let mut r = Resources::default();
        Limits {
            memory: Some("8388607t".into()),
            ..Default::default()
        }
        .apply_to(&mut r)
        .unwrap();
        assert_eq!(r.memory_swap, i64::MAX);
        // 0 is no limit, 6 MiB the least.
        let mut r = Resources::default();
        Limits {
            memory: Some("6m".into()),
            cpus: Some(0.0),
            ..Default::default()
        }
        .apply_to(&mut r)
        .unwrap();
        assert_eq!((r.memory, r.nano_cpus), (6 << 20, 0));
    }

    #[test]
    fn cpus_set_quota_and_period() {
        let f = Limits {
            cpus: Some(0.5),
            ..Default::default()
        };
        let mut r = Resources::default();
        f.apply_to(&mut r).unwrap();
        assert_eq!(
            (r.nano_cpus, r.cpu_quota, r.cpu_period),
            (500_000_000, 50_000, 100_000)
        );
        let f = Limits {
            memory: Some("64m".into()),
            ..Default::default()
        };
        let mut r = Resources::default();
        f.apply_to(&mut r).unwrap();
        assert_eq!((r.memory, r.memory_swap), (64 << 20, 128 << 20));
    }
}
