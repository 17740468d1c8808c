//! `volume mount|unmount`: a plain local volume is a directory that is
//! always there, so mounting it is naming that directory and unmounting it
//! releases nothing (as podman's local driver does). Volumes whose options
//! mount a filesystem (type=, device=) are mounted only for containers.

use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::path::PathBuf;

fn plain(store: &Store, name: &str) -> Result<()> {
    let Some(rec) = store.volumes.load(name)? else {
        bail!("no volume with name {name:?} found: no such volume");
    };
    if rec.mounts_something_else() {
        bail!(
            "volume {name} mounts a filesystem of its own (type=/device= options): coracle mounts it only for the containers that use it"
        );
    }
    if rec.uses_plugin() {
        bail!(
            "volume {name} is kept by volume plugin {}: coracle mounts it only for the containers that use it",
            rec.driver
        );
    }
    Ok(())
}

/// Where volume `name`'s files are, on the host.
pub fn mount(store: &Store, name: &str) -> Result<PathBuf> {
    plain(store, name)?;
    Ok(store.volumes.data_dir(name))
}

pub fn unmount(store: &Store, name: &str) -> Result<()> {
    plain(store, name)
}
