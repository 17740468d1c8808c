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

/// Remove a tree even where unpacked modes deny writing (e.g. 0555 dirs).
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(path);
            match fs::remove_dir_all(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                r => r,
            }
        }
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let mode = meta.permissions().mode();
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o700));
        if let Ok(entries) = fs::read_dir(path) {
            for e in entries.flatten() {
                make_writable(&e.path());
            }
        }
    }
}
