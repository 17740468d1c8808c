//! `volume export|import`: a volume's contents as a tar stream, out or in
//! (merged over what is there, the tar's files winning). Rootless, the
//! work runs in the store's user namespace so owners survive the trip.

use crate::storage::store::Store;
use crate::storage::volumes::VolumeRecord;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};

fn plain_volume(store: &Store, name: &str) -> Result<VolumeRecord> {
    let Some(rec) = store.volumes.load(name)? else {
        bail!("no volume with name {name:?} found: no such volume");
    };
    if rec.mounts_something_else() {
        bail!(
            "volume {name} mounts a filesystem of its own (type=/device= options): only plain local volumes can be exported or imported"
        );
    }
    if rec.uses_plugin() {
        bail!(
            "volume {name} is kept by volume plugin {}: only plain local volumes can be exported or imported",
            rec.driver
        );
    }
    Ok(rec)
}

/// Write volume `name`'s contents to `out` as a tar stream.
pub fn export(store: &Store, name: &str, out: &mut dyn Write) -> Result<()> {
    plain_volume(store, name)?;
    crate::runtime::userns::enter_for_storage(store)?;
    let dir = store.volumes.data_dir(name);
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Complete);
    tar.append_dir_all(".", &dir)
        .with_context(|| format!("exporting volume {name}"))?;
    tar.finish()
        .with_context(|| format!("exporting volume {name}"))?;
    Ok(())
}

/// Unpack the tar stream `input` into volume `name`.
pub fn import(store: &Store, name: &str, input: &mut dyn Read) -> Result<()> {
    plain_volume(store, name)?;
    crate::runtime::userns::enter_for_storage(store)?;
    let dir = store.volumes.data_dir(name);
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_overwrite(true);
    archive
        .unpack(&dir)
        .with_context(|| format!("importing into volume {name}"))?;
    // Filled now: a container's first mount must not copy the image over it.
    let _lock = store.lock()?;
    if let Some(mut rec) = store.volumes.load(name)? {
        rec.needs_copy_up = false;
        store.volumes.save(&rec)?;
    }
    Ok(())
}
