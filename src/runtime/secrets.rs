//! A container's secrets, put in place when it is created (as podman
//! does): a mount secret is copied into the container's own directory with
//! the owner and mode asked for and bind-mounted read-only at its target;
//! an env secret goes into the spec's environment only, not the record.

use super::userns::IdMaps;
use crate::storage::containers::ContainerConfig;
use crate::storage::secrets::{SecretKind, SecretStore};
use crate::storage::store::Store;
use anyhow::{Context, Result};
use oci_spec::runtime::{MountBuilder, Spec};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Copy and wire `cfg`'s secrets into `spec`. `base` are the store's maps,
/// `maps` the container's (they differ with keep-id).
pub fn apply(
    store: &Store,
    cfg: &ContainerConfig,
    base: &IdMaps,
    maps: &IdMaps,
    spec: &mut Spec,
) -> Result<()> {
    if cfg.secrets.is_empty() {
        return Ok(());
    }
    let ss = SecretStore::at(&store.root);
    let records = ss.list()?;
    let dir = store.containers.dir(&cfg.id).join("userdata/secrets");
    let mut env = Vec::new();
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (i, used) in cfg.secrets.iter().enumerate() {
        let rec = records.iter().find(|r| r.id == used.id).with_context(|| {
            format!("no secret with name or id {:?}: no such secret", used.name)
        })?;
        let data = ss.data(rec)?;
        match used.kind {
            SecretKind::Env => env.push(format!(
                "{}={}",
                used.target,
                String::from_utf8_lossy(&data)
            )),
            SecretKind::Mount => {
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
        }
    }
    spec.set_mounts(Some(mounts));
    if let Some(process) = spec.process_mut() {
        let mut all = process.env().clone().unwrap_or_default();
        for e in env {
            let key = e.split('=').next().unwrap_or_default().to_string();
            all.retain(|x| x.split('=').next() != Some(key.as_str()));
            all.push(e);
        }
        process.set_env(Some(all));
    }
    Ok(())
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
