//! A recursive record of a directory tree, to prove a failed command left the
//! store byte-for-byte as it was.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// "file", "dir", "symlink", "fifo", "char", "block", "socket"
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// sha256 of a file's content.
    pub sha256: Option<String>,
    pub link_target: Option<PathBuf>,
    pub rdev: u64,
    /// (name, value) sorted by name.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Every entry under `dir` (relative paths; `""` is `dir` itself). A missing
/// dir gives an empty map.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    if std::fs::symlink_metadata(dir).is_ok() {
        walk(dir, PathBuf::new(), &mut out);
    }
    out
}

fn walk(root: &Path, rel: PathBuf, out: &mut BTreeMap<PathBuf, Entry>) {
    let path = root.join(&rel);
    let md = std::fs::symlink_metadata(&path).unwrap();
    let ft = md.file_type();
    let kind = if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "file"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else {
        "socket"
    };
    let sha256 = ft.is_file().then(|| {
        let data = std::fs::read(&path).unwrap();
        format!("{:x}", Sha256::digest(&data))
    });
    let link_target = ft.is_symlink().then(|| std::fs::read_link(&path).unwrap());
    out.insert(
        rel.clone(),
        Entry {
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            size: if ft.is_dir() { 0 } else { md.size() },
            sha256,
            link_target,
            rdev: md.rdev(),
            xattrs: xattrs(&path),
        },
    );
    if ft.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for n in names {
            walk(root, rel.join(n), out);
        }
    }
}

/// All extended attributes of a path (not following symlinks).
pub fn xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: a NUL-terminated path; pointer and length describe our buffer.
    let n =
        unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if n <= 0 {
        return Vec::new();
    }
    let mut v: Vec<(String, Vec<u8>)> = buf[..n as usize]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let name = String::from_utf8_lossy(name).into_owned();
            let value = get_xattr(path, &name).unwrap_or_default();
            (name, value)
        })
        .collect();
    v.sort();
    v
}

/// One extended attribute (not following symlinks), None when absent.
pub fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let cn = CString::new(name).unwrap();
    let mut buf = vec![0u8; 65536];
    // SAFETY: NUL-terminated path and name; pointer and length describe our buffer.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            cn.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
        )
    };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

/// Panic with a readable list of added, removed and changed entries.
pub fn assert_same_snapshot(
    before: &BTreeMap<PathBuf, Entry>,
    after: &BTreeMap<PathBuf, Entry>,
    what: &str,
) {
    if before == after {
        return;
    }
    let mut diff = Vec::new();
    for (p, e) in before {
        match after.get(p) {
            None => diff.push(format!("  removed: {} ({})", p.display(), e.kind)),
            Some(a) if a != e => diff.push(format!(
                "  changed: {}\n    before: {e:?}\n    after:  {a:?}",
                p.display()
            )),
            _ => {}
        }
    }
    for (p, e) in after {
        if !before.contains_key(p) {
            diff.push(format!(
                "  added:   {} ({}, {} bytes)",
                p.display(),
                e.kind,
                e.size
            ));
        }
    }
    if diff.len() > 40 {
        let n = diff.len();
        diff.truncate(40);
        diff.push(format!("  ... {} more", n - 40));
    }
    panic!("{what}: the store changed:\n{}", diff.join("\n"));
}
