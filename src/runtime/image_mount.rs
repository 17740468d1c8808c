//! `image mount`/`image unmount`: an image's layers, read-only, where the
//! host can reach them (`<root>/image-mounts/<id>/merged`). A count of
//! mounts (`<runroot>/image-mounts/<id>/mount-count`) lets several users
//! share one: the last unmount unmounts. Rootless only inside `unshare`,
//! as podman (host_mount::check_allowed).

use super::host_mount::{is_mounted, read_count, write_count};
use super::rootfs::{mount_layers, RootfsPlan};
use super::sys;
use crate::storage::digest::Digest;
use crate::storage::store::{Driver, Store};
use anyhow::{bail, Result};
use std::path::PathBuf;

fn dir(store: &Store, id: &str) -> PathBuf {
    store.root.join("image-mounts").join(id)
}

pub fn mountpoint(store: &Store, id: &str) -> PathBuf {
    dir(store, id).join("merged")
}

fn count_file(store: &Store, id: &str) -> PathBuf {
    store
        .runroot
        .join("image-mounts")
        .join(id)
        .join("mount-count")
}

fn count(store: &Store, id: &str) -> u32 {
    read_count(&count_file(store, id))
}

fn set_count(store: &Store, id: &str, n: u32) -> Result<()> {
    write_count(&count_file(store, id), n)
}

/// Mount image `id` (whose layers, base first, are `layers`) once; later
/// calls count.
pub fn mount(store: &Store, id: &str, layers: &[Digest]) -> Result<PathBuf> {
    super::host_mount::check_allowed(store, "image mount")?;
    if store.driver == Driver::Vfs {
        bail!("image mount needs the overlay storage driver: vfs keeps no layers to mount");
    }
    let target = mountpoint(store, id);
    if is_mounted(&target) {
        set_count(store, id, count(store, id).max(1) + 1)?;
        return Ok(target);
    }
    // An empty upper directory: overlay needs one beside a single layer;
    // the read-only remount below keeps it empty.
    let d = dir(store, id);
    let plan = RootfsPlan {
        layers: layers.iter().map(|l| store.layers.diff_dir(l)).collect(),
        upper: d.join("upper"),
        work: d.join("work"),
        userxattr: store.rootless,
        copy: false,
        premounted: false,
    };
    for p in [&plan.upper, &plan.work] {
        std::fs::create_dir_all(p)?;
    }
    let cwd = std::env::current_dir().ok();
    let made = mount_layers(&target, &plan);
    if let Some(c) = cwd {
        let _ = std::env::set_current_dir(c);
    }
    made?;
    if let Err(e) = sys::mount(
        None,
        &target,
        None,
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
        None,
    ) {
        let _ = sys::umount_detach(&target);
        return Err(e.context("making the image mount read-only"));
    }
    set_count(store, id, 1)?;
    Ok(target)
}

/// One unmount (every one with `force`); the filesystem goes with the
/// last. Whether the image was mounted.
pub fn unmount(store: &Store, id: &str, force: bool) -> Result<bool> {
    super::host_mount::check_allowed(store, "image unmount")?;
    let target = mountpoint(store, id);
    if !is_mounted(&target) {
        set_count(store, id, 0)?;
        return Ok(false);
    }
    let left = if force {
        0
    } else {
        count(store, id).saturating_sub(1)
    };
    if left == 0 {
        sys::umount_detach(&target)?;
        let _ = std::fs::remove_dir_all(dir(store, id));
    }
    set_count(store, id, left)?;
    Ok(true)
}

/// The ids of the images mounted here.
pub fn mounted(store: &Store) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(store.root.join("image-mounts")) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|id| is_mounted(&mountpoint(store, id)))
        .collect();
    ids.sort();
    ids
}
