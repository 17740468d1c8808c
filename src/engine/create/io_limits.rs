//! The memory and block-I/O limits beyond the basic ones:
//! `--memory-swappiness`, `--oom-kill-disable` (create only), the
//! per-device rates (`--device-read-bps` and its three siblings) and
//! weights (`--blkio-weight-device`), checked as podman checks them.

use super::limits::parse_bytes;
use crate::storage::containers::{DeviceRate, Resources};
use anyhow::{bail, Context, Result};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

#[derive(Debug, Clone, Default)]
pub struct IoLimits {
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: bool,
    pub device_read_bps: Vec<String>,
    pub device_write_bps: Vec<String>,
    pub device_read_iops: Vec<String>,
    pub device_write_iops: Vec<String>,
    pub blkio_weight_device: Vec<String>,
}

/// How a per-device value is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Bytes,
    Operations,
    Weight,
}

/// `PATH:RATE`, the rate in bytes (with units) or plain operations;
/// `PATH:WEIGHT` for a weight.
fn device_rate(flag: &str, s: &str, unit: Unit) -> Result<DeviceRate> {
    let Some((path, rate)) = s.rsplit_once(':') else {
        let form = if unit == Unit::Weight {
            "DEVICE:WEIGHT"
        } else {
            "PATH:RATE"
        };
        bail!("invalid value {s:?} for {flag}: {form}");
    };
    let rate = if unit == Unit::Bytes {
        parse_bytes(rate, flag)?
    } else {
        rate.parse::<i64>()
            .with_context(|| format!("invalid value {rate:?} for {flag}: a number"))?
    };
    if rate < 0 {
        bail!("invalid rate {rate} for {flag}: it must not be negative");
    }
    if unit == Unit::Weight && !(10..=1000).contains(&rate) {
        bail!("invalid weight {rate} for {flag}: must be between 10 and 1000");
    }
    let meta = std::fs::metadata(path).with_context(|| format!("{flag}: stat {path}"))?;
    if !meta.file_type().is_block_device() {
        bail!("{flag}: {path} is not a block device");
    }
    let rdev = meta.rdev();
    Ok(DeviceRate {
        path: path.to_string(),
        major: libc::major(rdev) as u64,
        minor: libc::minor(rdev) as u64,
        rate: rate as u64,
    })
}

impl IoLimits {
    /// Apply the flags given to `r`: a device named again gets the new
    /// value, the others keep theirs (so `update` adds to what is there).
    pub fn apply_to(&self, r: &mut Resources) -> Result<()> {
        match self.memory_swappiness {
            None | Some(-1) => {}
            Some(n @ 0..=100) => r.memory_swappiness = Some(n as u64),
            Some(n) => bail!("invalid value: {n}, valid memory swappiness range is 0-100"),
        }
        if self.oom_kill_disable {
            r.oom_kill_disable = true;
        }
        let merge = |flag: &str, items: &[String], unit: Unit, into: &mut Vec<DeviceRate>| {
            for s in items {
                let d = device_rate(flag, s, unit)?;
                into.retain(|o| (o.major, o.minor) != (d.major, d.minor));
                into.push(d);
            }
            anyhow::Ok(())
        };
        merge(
            "--device-read-bps",
            &self.device_read_bps,
            Unit::Bytes,
            &mut r.device_read_bps,
        )?;
        merge(
            "--device-write-bps",
            &self.device_write_bps,
            Unit::Bytes,
            &mut r.device_write_bps,
        )?;
        merge(
            "--device-read-iops",
            &self.device_read_iops,
            Unit::Operations,
            &mut r.device_read_iops,
        )?;
        merge(
            "--device-write-iops",
            &self.device_write_iops,
            Unit::Operations,
            &mut r.device_write_iops,
        )?;
        merge(
            "--blkio-weight-device",
            &self.blkio_weight_device,
            Unit::Weight,
            &mut r.blkio_weight_device,
        )?;
        Ok(())
    }
}
