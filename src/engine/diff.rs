//! `diff A [B]` and `image diff A [B]`: what a container or image changed
//! against its parent, or against another container or image.

use super::types::Store;
use crate::registry::resolve::try_find_image;
use crate::runtime::userns::{self, IdMaps};
use crate::storage::commit::ChangeKind;
use crate::storage::tree_diff;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// Which kinds of object a name may mean.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kinds {
    ContainersOrImages,
    Images,
}

/// The layer stack (base first) of a container or image, and whether it
/// is a container's.
fn stack(store: &Store, name: &str, kinds: Kinds) -> Result<(Vec<PathBuf>, bool)> {
    if kinds == Kinds::ContainersOrImages {
        if let Some(id) = super::lookup::try_container_id(store, name)? {
            let cfg = store.containers.load_config(&id)?;
            if crate::runtime::monitor::uses_copied_rootfs(store, &cfg) {
                bail!("diff of container {}: its root filesystem is a full copy (vfs driver or --userns=keep-id), not a set of changes", cfg.name);
            }
            let mut out: Vec<PathBuf> = match &cfg.launch.rootfs {
                Some(r) if r.overlay => vec![PathBuf::from(&r.path)],
                // `--rootfs DIR`: DIR is the whole tree, with no upper.
                Some(r) => return Ok((vec![PathBuf::from(&r.path)], true)),
                None => {
                    let layers = store.container_layers(&cfg);
                    cfg.layers.iter().map(|d| layers.diff_dir(d)).collect()
                }
            };
            out.push(store.containers.dir(&id).join("upper"));
            return Ok((out, true));
        }
    }
    let images = store.images.load()?;
    match try_find_image(&images, name)? {
        Some(img) => Ok((
            img.layers
                .iter()
                .map(|d| store.layers.diff_dir(d))
                .collect(),
            false,
        )),
        None if kinds == Kinds::Images => Err(crate::error::not_found("image", name.to_string())),
        None => Err(crate::error::not_found(
            "container or image",
            name.to_string(),
        )),
    }
}

/// The changes of `name` against its parent, or against `other`.
pub fn changes(
    store: &Store,
    name: &str,
    other: Option<&str>,
    kinds: Kinds,
) -> Result<Vec<(String, ChangeKind)>> {
    let Some(other) = other else {
        if kinds == Kinds::Images {
            // Resolve as an image only, then take its own layer's changes.
            let images = store.images.load()?;
            let img = try_find_image(&images, name)?
                .ok_or_else(|| crate::error::not_found("image", name.to_string()))?;
            return super::commit::changes(store, &img.id);
        }
        return super::commit::changes(store, name);
    };
    let (new, new_is_ctr) = stack(store, name, kinds)?;
    let (old, old_is_ctr) = stack(store, other, kinds)?;
    let prefix = store.xattr_prefix();
    // What the runtime puts in every container is no change of the user's.
    let containers = new_is_ctr || old_is_ctr;
    let ignore: &[&str] = if containers {
        &super::commit::INIT_PATHS
    } else {
        &[]
    };
    let walk = || tree_diff::compare(&new, &old, prefix, ignore);
    if !store.rootless || userns::in_user_namespace() {
        return walk();
    }
    let bytes = userns::run_in_child_userns(&IdMaps::for_current_user()?, || {
        let v: Vec<(String, u8)> = walk()?.into_iter().map(|(p, k)| (p, k as u8)).collect();
        Ok(serde_json::to_vec(&v)?)
    })?;
    let v: Vec<(String, u8)> = serde_json::from_slice(&bytes)?;
    Ok(v.into_iter()
        .map(|(p, k)| {
            let k = match k {
                0 => ChangeKind::Changed,
                1 => ChangeKind::Added,
                _ => ChangeKind::Deleted,
            };
            (p, k)
        })
        .collect())
}
