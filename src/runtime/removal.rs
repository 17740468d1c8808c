//! Removing a stopped container's files, now or (`--rm`) in the background.

use super::delete::delete_tree;
use super::sys;
use crate::storage::store::Store;
use anyhow::Result;
use std::os::fd::AsRawFd;

/// Delete a stopped container's files.
pub fn remove_files(store: &Store, id: &str) -> Result<()> {
    let doomed = {
        let _lock = store.lock()?;
        super::name_files::forget_name_entry(store, id);
        store.containers.unlink(id)?
    };
    delete_tree(store, &doomed)
}

/// `--rm` from the monitor: the container leaves the store at once (one
/// rename); its files are deleted by a detached child, so whoever waits for
/// the monitor is not kept waiting for the deletion.
pub fn remove_files_in_background(
    store: &Store,
    id: &str,
    mount_ns: Option<std::os::fd::OwnedFd>,
) -> Result<()> {
    // --rm takes the container's anonymous volumes with it, as podman's does.
    let doomed = super::volume::unlink_container(store, id, true)?;
    // SAFETY: the monitor is single-threaded; the child only deletes files.
    match unsafe { libc::fork() } {
        0 => {
            // Only plain file work from here; the caller's stdio is let go.
            let keep: Vec<i32> = mount_ns.iter().map(|f| f.as_raw_fd()).collect();
            sys::detach_into_background(&keep);
            let failed = doomed.iter().any(|d| delete_tree(store, d).is_err());
            // Last, the container's mount namespace goes (see monitor.rs).
            drop(mount_ns);
            let code = i32::from(failed);
            // SAFETY: no destructors of the parent's state in the child.
            unsafe { libc::_exit(code) }
        }
        pid if pid < 0 => doomed.iter().try_for_each(|d| delete_tree(store, d)),
        _ => {
            drop(mount_ns);
            Ok(())
        }
    }
}
