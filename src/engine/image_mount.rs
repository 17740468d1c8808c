//! `image mount`/`image unmount`: which images, and what is listed.

use super::types::Store;
use crate::registry::resolve::find_image;
use crate::runtime::image_mount;
use anyhow::Result;
use std::path::PathBuf;

/// A mounted image, as podman reports it.
pub struct MountedImage {
    pub id: String,
    /// The image's digest.
    pub digest: String,
    /// Its names (`REPO:TAG`).
    pub repositories: Vec<String>,
    pub path: PathBuf,
}

fn report(store: &Store, id: &str) -> Result<MountedImage> {
    let images = store.images.load()?;
    let img = find_image(&images, id)?;
    Ok(MountedImage {
        id: img.id.clone(),
        digest: img.manifest_digest.to_string(),
        repositories: img.names.clone(),
        path: image_mount::mountpoint(store, &img.id),
    })
}

/// Refuse where podman does (rootless outside `unshare`) before any work.
pub fn check_allowed(store: &Store, verb: &str) -> Result<()> {
    crate::runtime::host_mount::check_allowed(store, verb)
}

/// Mount each image named (every image with `all`).
pub fn mount(store: &Store, names: &[String], all: bool) -> Result<Vec<MountedImage>> {
    let images = store.images.load()?;
    let ids: Vec<String> = if all {
        images.list.iter().map(|i| i.id.clone()).collect()
    } else {
        names
            .iter()
            .map(|n| find_image(&images, n).map(|i| i.id.clone()))
            .collect::<Result<_>>()?
    };
    let mut out = Vec::new();
    for id in ids {
        let img = images.by_id(&id).cloned();
        if let Some(img) = img {
            image_mount::mount(store, &img.id, &img.layers)?;
            out.push(report(store, &img.id)?);
        }
    }
    Ok(out)
}

/// Every image mounted here.
pub fn mounted(store: &Store) -> Result<Vec<MountedImage>> {
    image_mount::mounted(store)
        .iter()
        .map(|id| report(store, id))
        .collect()
}

/// Unmount each image named (every mounted one with `all`): the ids
/// unmounted.
pub fn unmount(store: &Store, names: &[String], all: bool, force: bool) -> Result<Vec<String>> {
    let ids: Vec<String> = if all {
        image_mount::mounted(store)
    } else {
        let images = store.images.load()?;
        names
            .iter()
            .map(|n| find_image(&images, n).map(|i| i.id.clone()))
            .collect::<Result<_>>()?
    };
    let mut out = Vec::new();
    for id in ids {
        image_mount::unmount(store, &id, force || all)?;
        out.push(id);
    }
    Ok(out)
}
