//! The container this process just created, kept in memory so the monitor
//! forked from it (`run`) need not read back and parse what was written.

use super::spec;
use crate::storage::containers::ContainerConfig;
use crate::storage::store::Store;
use anyhow::Result;

/// The container this process just created, so the monitor forked from it
/// (`run`) need not read back and parse what was just written.
static JUST_CREATED: std::sync::Mutex<Option<(ContainerConfig, oci_spec::runtime::Spec)>> =
    std::sync::Mutex::new(None);

pub fn remember_created(cfg: &ContainerConfig, spec: oci_spec::runtime::Spec) {
    if let Ok(mut slot) = JUST_CREATED.lock() {
        *slot = Some((cfg.clone(), spec));
    }
}

/// The config of container `id`, from memory when this process created it.
pub fn config_of(store: &Store, id: &str) -> Result<ContainerConfig> {
    let just = JUST_CREATED
        .lock()
        .ok()
        .and_then(|s| s.as_ref().map(|(cfg, _)| cfg.clone()));
    match just {
        Some(cfg) if cfg.id == id => Ok(cfg),
        _ => store.containers.load_config(id),
    }
}

/// The config and spec of container `id`: from memory when this process
/// created it, else from its directory.
pub fn load_prepared(
    store: &Store,
    id: &str,
) -> Result<(ContainerConfig, oci_spec::runtime::Spec)> {
    if let Some((cfg, spec)) = JUST_CREATED.lock().ok().and_then(|mut s| s.take()) {
        if cfg.id == id {
            return Ok((cfg, spec));
        }
    }
    let cfg = store.containers.load_config(id)?;
    let spec = spec::load(&store.containers.dir(id).join("spec.json"))?;
    Ok((cfg, spec))
}
