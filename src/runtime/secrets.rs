//! A container's secrets, put in place when it is created (as podman
//! does): a mount secret is copied into the container's own directory with
//! the owner and mode asked for and bind-mounted read-only at its target.
//! An env secret is read from the secret store each time a process starts
//! (the monitor, `exec`), so no file of the container holds its value.

use super::userns::IdMaps;
use crate::storage::containers::ContainerConfig;
use crate::storage::secrets::{SecretKind, SecretRecord, SecretStore, SecretUse};
use crate::storage::store::Store;
use anyhow::{Context, Result};
use oci_spec::runtime::{MountBuilder, Process, Spec};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Copy and wire `cfg`'s mount secrets into `spec`. `base` are the store's
/// maps, `maps` the container's (they differ with keep-id).
pub fn mount(
    store: &Store,
    cfg: &ContainerConfig,
    base: &IdMaps,
    maps: &IdMaps,
    spec: &mut Spec,
) -> Result<()> {
    if !cfg.secrets.iter().any(|u| u.kind == SecretKind::Mount) {
        return Ok(());
    }
    let ss = SecretStore::at(&store.root);
    let records = ss.list()?;
    let dir = store.containers.dir(&cfg.id).join("userdata/secrets");
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (i, used) in cfg.secrets.iter().enumerate() {
        if used.kind != SecretKind::Mount {
            continue;
        }
        let data = ss.data(record(&records, used)?)?;
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        // One file per use: the same secret may be given twice.
        let file = dir.join(format!("{i}-{}", used.id));
        fs::write(&file, &data).with_context(|| format!("writing {}", file.display()))?;
        fs::set_permissions(&file, fs::Permissions::from_mode(used.mode & 0o7777))?;
        chown(store, &file, (used.uid, used.gid), base, maps)?;
        mounts.push(
            MountBuilder::default()
                .destination(&used.target)
                .typ("bind")
                .source(&file)
                .options(vec!["bind".into(), "rprivate".into(), "ro".into()])
                .build()?,
        );
    }
    spec.set_mounts(Some(mounts));
    Ok(())
}

/// Add `cfg`'s env secrets to the environment of the process about to
/// start, read from the secret store now: the spec on disk never holds them.
pub fn add_env(store: &Store, cfg: &ContainerConfig, process: &mut Process) -> Result<()> {
    if !cfg.secrets.iter().any(|u| u.kind == SecretKind::Env) {
        return Ok(());
    }
    let ss = SecretStore::at(&store.root);
    let records = ss.list()?;
    let mut env = process.env().clone().unwrap_or_default();
    for used in cfg.secrets.iter().filter(|u| u.kind == SecretKind::Env) {
        let data = ss.data(record(&records, used)?)?;
        env.retain(|x| x.split('=').next() != Some(used.target.as_str()));
        env.push(format!(
            "{}={}",
            used.target,
            String::from_utf8_lossy(&data)
        ));
    }
    process.set_env(Some(env));
    Ok(())
}

fn record<'a>(records: &'a [SecretRecord], used: &SecretUse) -> Result<&'a SecretRecord> {
    records
        .iter()
        .find(|r| r.id == used.id)
        .with_context(|| format!("no secret with name or id {:?}: no such secret", used.name))
}

/// Give `file` the container ids `(uid, gid)`: on the host those are the
/// ids the container's maps send them to; rootless, a child in the store's
/// user namespace does the chown.
fn chown(store: &Store, file: &Path, ids: (u32, u32), base: &IdMaps, maps: &IdMaps) -> Result<()> {
    let host_uid = maps
        .host_uid(ids.0)
        .context("the secret's uid is not mapped")?;
    let host_gid = maps
        .host_gid(ids.1)
        .context("the secret's gid is not mapped")?;
    let set = |uid: u32, gid: u32| {
        std::os::unix::fs::lchown(file, Some(uid), Some(gid))
            .with_context(|| format!("changing the owner of {}", file.display()))
    };
    if !store.rootless {
        return set(host_uid, host_gid);
    }
    let uid = base
        .container_uid(host_uid)
        .context("the secret's uid is not mapped")?;
    let gid = base
        .container_gid(host_gid)
        .context("the secret's gid is not mapped")?;
    if super::userns::in_user_namespace() {
        return set(uid, gid);
    }
    if (uid, gid) == (0, 0) {
        // Already the caller's own, which is root in the namespace.
        return Ok(());
    }
    super::userns::run_in_child_userns(base, || set(uid, gid).map(|()| Vec::new()))?;
    Ok(())
}
