//! `mount`/`unmount`: a container's root filesystem mounted where the
//! host can reach it (`<root>/containers/<id>/merged`), the same overlay of
//! its layers and upper directory its process sees. A count of mounts
//! (`<runroot>/containers/<id>/mount-count`) lets several users share it:
//! the last unmount unmounts. Rootless, only inside `unshare`'s user and
//! mount namespaces, as podman: outside them the mount could not be made.

use super::monitor::rootfs_plan;
use super::sys;
use crate::storage::containers::ContainerConfig;
use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub fn mountpoint(store: &Store, id: &str) -> PathBuf {
    store.containers.dir(id).join("merged")
}

fn count_file(store: &Store, id: &str) -> PathBuf {
    store.containers.run_dir(id).join("mount-count")
}

fn count(store: &Store, id: &str) -> u32 {
    read_count(&count_file(store, id))
}

fn set_count(store: &Store, id: &str, n: u32) -> Result<()> {
    write_count(&count_file(store, id), n)
}

/// How many mounts a count file records (none: 0).
pub(super) fn read_count(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Record `n` mounts; 0 removes the file.
pub(super) fn write_count(path: &Path, n: u32) -> Result<()> {
    if n == 0 {
        let _ = std::fs::remove_file(path);
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::storage::atomic::write_file(path, n.to_string().as_bytes(), false)
}

/// Is `path` a mount point in this process's mount namespace?
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| unescape(m) == want)
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// podman's refusal outside the user namespace.
pub fn check_allowed(store: &Store, verb: &str) -> Result<()> {
    if store.rootless && !super::userns::in_user_namespace() {
        bail!(
            "cannot run command \"coracle {verb}\" in rootless mode, must execute `coracle unshare` first"
        );
    }
    Ok(())
}

/// Mount container `cfg`'s root filesystem (once; later calls count).
pub fn mount(store: &Store, cfg: &ContainerConfig) -> Result<PathBuf> {
    check_allowed(store, "mount")?;
    let target = mountpoint(store, &cfg.id);
    if is_mounted(&target) {
        set_count(store, &cfg.id, count(store, &cfg.id).max(1) + 1)?;
        return Ok(target);
    }
    let cwd = std::env::current_dir().ok();
    let made = super::rootfs::mount_layers(&target, &rootfs_plan(store, cfg));
    if let Some(dir) = cwd {
        let _ = std::env::set_current_dir(dir);
    }
    made?;
    set_count(store, &cfg.id, 1)?;
    Ok(target)
}

/// One unmount (every one with `force`); the filesystem goes with the
/// last. Not mounted: nothing to do.
pub fn unmount(store: &Store, id: &str, force: bool) -> Result<()> {
    check_allowed(store, "unmount")?;
    let target = mountpoint(store, id);
    if !is_mounted(&target) {
        return set_count(store, id, 0);
    }
    let left = if force {
        0
    } else {
        count(store, id).saturating_sub(1)
    };
    if left == 0 {
        sys::umount_detach(&target)?;
    }
    set_count(store, id, left)
}

/// Before a container's files go: its host mount must not be in the way.
pub fn release(store: &Store, id: &str) {
    let target = mountpoint(store, id);
    if is_mounted(&target) {
        let _ = sys::umount_detach(&target);
    }
}
