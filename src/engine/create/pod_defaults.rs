//! What `pod create` gives every container made in the pod (`--device`,
//! `--gpus`, `--volume`, `--volumes-from`, `--security-opt`, `--sysctl`,
//! `--restart`, `--shm-size`, `--shm-size-systemd`, `--no-hostname`):
//! checked when the pod is
//! made, as a container's would be, and put into each new member's
//! request before its own flags, which win (CDI devices and GPUs are
//! resolved through the specs for each member as it is made).

use super::mounts::parse_volume;
use super::tuning::{self, Namespaces, TuningRequest};
use super::ContainerRequest;
use crate::storage::modes::{NamespaceMode, NetworkMode, RestartPolicy};
use crate::storage::pods::{MemberDefaults, PodConfig};
use anyhow::Result;

/// Check the members' settings of a pod on `network`.
pub fn check(m: &MemberDefaults, network: &NetworkMode) -> Result<()> {
    for v in &m.volumes {
        parse_volume(v)?;
    }
    super::security::check_security_opts(&m.security_opt)?;
    super::launch::systemd_tmpfs_size(m.shm_size_systemd.as_deref())?;
    m.restart.parse::<RestartPolicy>()?;
    let (cdi, paths): (Vec<String>, Vec<String>) = m
        .devices
        .iter()
        .cloned()
        .partition(|d| super::cdi::is_cdi_name(d));
    // CDI devices and GPUs: the specs must define them now.
    if !cdi.is_empty() || !m.gpus.is_empty() {
        let mut probe = ContainerRequest {
            gpus: m.gpus.clone(),
            ..Default::default()
        };
        probe.tuning.device = cdi;
        super::cdi::resolve(&mut probe)?;
    }
    let req = TuningRequest {
        device: paths,
        shm_size: m.shm_size.clone(),
        sysctl: m.sysctl.clone(),
        ..Default::default()
    };
    tuning::tuning(
        &req,
        &Namespaces {
            network,
            ipc: &NamespaceMode::Private,
        },
    )?;
    Ok(())
}

/// `pod` first, then `own`: the member's own settings come later and win.
fn before(pod: &[String], own: &mut Vec<String>) {
    let mut all = pod.to_vec();
    all.append(own);
    *own = all;
}

/// Put `pod`'s member settings into a new member's request.
pub fn apply(pod: &PodConfig, f: &mut ContainerRequest) -> Result<()> {
    let m = &pod.member;
    before(&m.devices, &mut f.tuning.device);
    before(&m.gpus, &mut f.gpus);
    before(&m.security_opt, &mut f.security_opt);
    before(&m.sysctl, &mut f.tuning.sysctl);
    before(&m.volumes_from, &mut f.volumes_from);
    // A member's own volume at the same place replaces the pod's.
    let own: Vec<String> = f
        .volume
        .iter()
        .filter_map(|v| parse_volume(v).ok())
        .map(|s| s.destination)
        .collect();
    let mut volumes = Vec::new();
    for v in &m.volumes {
        if !own.contains(&parse_volume(v)?.destination) {
            volumes.push(v.clone());
        }
    }
    before(&volumes, &mut f.volume);
    if f.service.restart.is_no() && !f.rm {
        f.service.restart = m.restart.parse()?;
    }
    if f.tuning.shm_size.is_none() {
        f.tuning.shm_size = m.shm_size.clone();
    }
    if f.shm_size_systemd.is_none() {
        f.shm_size_systemd = m.shm_size_systemd.clone();
    }
    f.tuning.no_hostname |= m.no_hostname;
    Ok(())
}
