//! The copying driver: a container's root filesystem as a plain directory,
//! made by applying the image layers in order (their overlay-form whiteouts
//! and opaque directories interpreted here). Used for `--storage-driver vfs`
//! on hosts without a usable overlayfs, and for containers whose ids must be
//! shifted (`--userns=keep-id`), where the layers cannot be shared as-is.

use super::fsutil::{lchown, remove_any, set_times};
use super::unpack::XattrPrefix;
use anyhow::{Context, Result};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// How ids change on the way into the copy (identity for plain vfs).
pub type IdShift<'a> = &'a dyn Fn(u32, u32) -> (u32, u32);

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: lgetxattr writes at most buf.len() bytes.
    let len = unsafe {
        libc::lgetxattr(
            p.as_ptr(),
            n.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
        )
    };
    if len < 0 {
        return None;
    }
    buf.truncate(len as usize);
    Some(buf)
}

fn is_whiteout(path: &Path, meta: &fs::Metadata, prefix: XattrPrefix) -> bool {
    if meta.file_type().is_char_device() && meta.rdev() == 0 {
        return true;
    }
    meta.is_file()
        && meta.len() == 0
        && xattr(path, &format!("{}whiteout", prefix.as_str())).is_some()
}

fn is_opaque(path: &Path, prefix: XattrPrefix) -> bool {
    xattr(path, &format!("{}opaque", prefix.as_str())).as_deref() == Some(b"y")
}

/// Copy one entry (not a directory's contents) from a layer into `dest`.
fn copy_entry(src: &Path, dest: &Path, meta: &fs::Metadata, shift: IdShift) -> Result<()> {
    let (uid, gid) = shift(meta.uid(), meta.gid());
    let ft = meta.file_type();
    if ft.is_dir() {
        if !fs::symlink_metadata(dest)
            .map(|m| m.is_dir())
            .unwrap_or(false)
        {
            remove_any(dest)?;
            fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
        }
    } else {
        remove_any(dest)?;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(src)?, dest)?;
        } else if ft.is_file() {
            fs::copy(src, dest).with_context(|| format!("copying {}", src.display()))?;
        } else {
            let d = std::ffi::CString::new(dest.as_os_str().as_bytes())?;
            // SAFETY: recreate a device node or fifo with the same type and number.
            if unsafe { libc::mknod(d.as_ptr(), meta.mode(), meta.rdev()) } != 0 {
                crate::warn!(
                    "skipping {}: {}",
                    dest.display(),
                    std::io::Error::last_os_error()
                );
                return Ok(());
            }
        }
    }
    lchown(dest, uid, gid)?;
    if !ft.is_symlink() {
        // After chown, which clears setuid bits.
        fs::set_permissions(dest, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    Ok(())
}

fn apply_dir(src: &Path, dest: &Path, prefix: XattrPrefix, shift: IdShift) -> Result<()> {
    for entry in fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let s = entry.path();
        let d = dest.join(&name);
        let meta = fs::symlink_metadata(&s)?;
        if is_whiteout(&s, &meta, prefix) {
            remove_any(&d)?;
            continue;
        }
        if meta.is_dir() && is_opaque(&s, prefix) {
            remove_any(&d)?;
        }
        copy_entry(&s, &d, &meta, shift)?;
        if meta.is_dir() {
            apply_dir(&s, &d, prefix, shift)?;
            set_times(&d, &meta);
        } else {
            set_times(&d, &meta);
        }
    }
    Ok(())
}

/// Apply `layers` (lowest first) onto the empty directory `dest`.
pub fn materialize(
    layers: &[impl AsRef<Path>],
    dest: &Path,
    prefix: XattrPrefix,
    shift: IdShift,
) -> Result<()> {
    for layer in layers {
        let layer = layer.as_ref();
        if let Ok(meta) = fs::metadata(layer) {
            let (uid, gid) = shift(meta.uid(), meta.gid());
            let _ = lchown(dest, uid, gid);
            let _ = fs::set_permissions(dest, fs::Permissions::from_mode(meta.mode() & 0o7777));
        }
        apply_dir(layer, dest, prefix, shift)
            .with_context(|| format!("copying layer {}", layer.display()))?;
    }
    Ok(())
}

pub fn identity(uid: u32, gid: u32) -> (u32, u32) {
    (uid, gid)
}
