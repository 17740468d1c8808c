//! File primitives of the copying paths (the vfs driver, build's COPY,
//! a volume's copy-up): they keep owners and times, never follow a link.

use anyhow::{Context, Result};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Remove whatever is at `path` (a tree, a file, a link); nothing there is
/// fine.
pub fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path)?,
        Ok(_) => fs::remove_file(path)?,
        Err(_) => {}
    }
    Ok(())
}

/// chown without following a link, the error naming the path.
pub fn lchown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}

/// Give `path` the access and modification times of `meta`.
pub fn set_times(path: &Path, meta: &fs::Metadata) {
    set_raw_times(
        path,
        [
            timespec(meta.atime(), meta.atime_nsec()),
            timespec(meta.mtime(), meta.mtime_nsec()),
        ],
    )
}

/// Give `path` `meta`'s modification time as both its times.
pub fn set_mtime(path: &Path, meta: &fs::Metadata) {
    let t = timespec(meta.mtime(), meta.mtime_nsec());
    set_raw_times(path, [t, t])
}

fn timespec(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

/// Best effort: a time that cannot be set is not worth failing a copy.
fn set_raw_times(path: &Path, times: [libc::timespec; 2]) {
    let Ok(p) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: valid path and two timespecs.
    unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            p.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
}
