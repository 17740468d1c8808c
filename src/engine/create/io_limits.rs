//! The memory and block-I/O limits of `run`/`create` beyond `update`'s:
//! `--memory-swappiness`, `--oom-kill-disable`, and the per-device rates
//! (`--device-read-bps` and its three siblings), checked as podman
//! checks them.

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
}

/// `PATH:RATE`, the rate in bytes (with units) or plain operations.
fn device_rate(flag: &str, s: &str, bytes: bool) -> Result<DeviceRate> {
    let Some((path, rate)) = s.rsplit_once(':') else {
        bail!("invalid value {s:?} for {flag}: PATH:RATE");
    };
    let rate = if bytes {
        parse_bytes(rate, flag)?
    } else {
        rate.parse::<i64>()
            .with_context(|| format!("invalid rate {rate:?} for {flag}: a number"))?
    };
    if rate < 0 {
        bail!("invalid rate {rate} for {flag}: it must not be negative");
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
    pub fn apply_to(&self, r: &mut Resources) -> Result<()> {
        match self.memory_swappiness {
            None | Some(-1) => {}
            Some(n @ 0..=100) => r.memory_swappiness = Some(n as u64),
            Some(n) => bail!("invalid value: {n}, valid memory swappiness range is 0-100"),
        }
        r.oom_kill_disable = self.oom_kill_disable;
        let parse = |flag: &str, items: &[String], bytes: bool| -> Result<Vec<DeviceRate>> {
            items.iter().map(|s| device_rate(flag, s, bytes)).collect()
        };
        r.device_read_bps = parse("--device-read-bps", &self.device_read_bps, true)?;
        r.device_write_bps = parse("--device-write-bps", &self.device_write_bps, true)?;
        r.device_read_iops = parse("--device-read-iops", &self.device_read_iops, false)?;
        r.device_write_iops = parse("--device-write-iops", &self.device_write_iops, false)?;
        Ok(())
    }
}
