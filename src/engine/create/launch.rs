//! The launch settings of a new container (`--uidmap` and kin,
//! `--init-path`), checked before anything is pulled or written.

use super::ContainerRequest;
use crate::storage::launch::LaunchSettings;
use anyhow::{bail, Result};

pub fn settings(req: &ContainerRequest) -> Result<LaunchSettings> {
    let in_pod = req.pod.as_deref().is_some_and(|p| !p.is_empty());
    let init_path = match &req.init_path {
        None => None,
        Some(p) if !req.init => bail!("--init-path {p:?} is the init --init runs: add --init"),
        Some(p) if !p.starts_with('/') => bail!("--init-path {p:?}: must be an absolute path"),
        Some(p) => match std::fs::metadata(p) {
            Ok(m) if m.is_file() => Some(p.clone()),
            Ok(_) => bail!("--init-path {p:?}: not a file"),
            Err(e) => bail!("--init-path {p:?}: {e}"),
        },
    };
    let id_mappings = super::idmap::resolve(&req.id_maps, &req.userns, in_pod)?;
    if id_mappings.is_some() && crate::config::get().runtime.is_some() {
        bail!(
            "--uidmap/--gidmap/--subuidname/--subgidname need coracle's own runtime, not --runtime"
        );
    }
    Ok(LaunchSettings {
        id_mappings,
        init_path,
    })
}

/// `--preserve-fds N` and `--preserve-fd LIST`: the descriptor numbers,
/// each one the caller passed.
pub fn preserved_fds(count: u32, listed: &[u32]) -> Result<Vec<i32>> {
    crate::runtime::launch::preserved_fds(count, listed)
}

/// The descriptors the containers this process starts get (`run`).
pub fn pass_fds(fds: Vec<i32>) {
    crate::runtime::launch::pass_fds(fds)
}
