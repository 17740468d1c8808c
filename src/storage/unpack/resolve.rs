//! Path handling that can never leave the layer root: lexical cleaning of
//! entry names, and lookups through openat2(RESOLVE_IN_ROOT) so that any
//! symlink met on the way is resolved as if the layer root were `/`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use anyhow::{bail, Result};

/// An entry name split into components, with `.`, empty components, and a
/// leading `/` removed and `..` applied lexically. Empty means the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanPath(pub Vec<CString>);

impl CleanPath {
    /// Clean `raw`; a `..` that would climb above the root is an error
    /// (never clamped: such a name is a sign of a hostile layer).
    pub fn parse(raw: &[u8]) -> Result<CleanPath> {
        let mut parts: Vec<CString> = Vec::new();
        for comp in raw.split(|&b| b == b'/') {
            match comp {
                b"" | b"." => {}
                b".." => {
                    if parts.pop().is_none() {
                        bail!("path climbs above the layer root");
                    }
                }
                _ => parts.push(
                    CString::new(comp).map_err(|_| anyhow::anyhow!("path contains a NUL byte"))?,
                ),
            }
        }
        Ok(CleanPath(parts))
    }

    /// The parent's components and the last name; None for the root.
    pub fn split_last(&self) -> Option<(&[CString], &CStr)> {
        self.0
            .split_last()
            .map(|(last, parent)| (parent, last.as_c_str()))
    }

    /// `a/b/c` as bytes (for lookups, messages and caching).
    pub fn join(parts: &[CString]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            out.extend_from_slice(p.as_bytes());
        }
        out
    }
}

/// Open `path` (relative, already cleaned) beneath `root` with every symlink
/// resolved inside `root`, magic links refused, mount points not crossed.
/// `path` empty opens the root.
pub fn open_in_root(root: BorrowedFd<'_>, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
    openat2_in_root(root, path, flags, libc::RESOLVE_NO_XDEV)
}

/// Open `path` beneath `root` as if `root` were `/`: every symlink on the
/// way (the last one too, unless `flags` has O_NOFOLLOW) is resolved inside
/// `root`, magic links are refused, and `resolve` adds RESOLVE_* flags.
/// `path` empty opens the root.
pub fn openat2_in_root(
    root: BorrowedFd<'_>,
    path: &[u8],
    flags: i32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let c_path = if path.is_empty() {
        CString::new(".").unwrap()
    } else {
        CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?
    };
    // SAFETY: a plain C struct, for which all zeroes is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS | resolve;
    // EAGAIN: the kernel saw a concurrent rename and asks us to retry.
    for _ in 0..32 {
        // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c_path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: a descriptor the call above just returned; nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
            Some(libc::ENOSYS) => return Err(io::Error::other(
                "openat2 is not available: Linux 5.6 or newer is needed to resolve paths safely",
            )),
            _ => return Err(err),
        }
    }
    Err(io::Error::from_raw_os_error(libc::EAGAIN))
}

/// Open the directory `parts` beneath `root` as an O_PATH fd, creating
/// missing directories (mode 0755) on the way, as tar does for entries whose
/// parents the archive does not list.
pub fn open_or_create_dir(root: BorrowedFd<'_>, parts: &[CString]) -> io::Result<OwnedFd> {
    let whole = CleanPath::join(parts);
    match open_in_root(root, &whole, libc::O_PATH | libc::O_DIRECTORY) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        other => return other,
    }
    // Slow path: walk from the root; each step is again resolved from the
    // root so a symlink component stays anchored there.
    let mut dir = open_in_root(root, b"", libc::O_PATH | libc::O_DIRECTORY)?;
    for i in 0..parts.len() {
        let prefix = CleanPath::join(&parts[..=i]);
        match open_in_root(root, &prefix, libc::O_PATH | libc::O_DIRECTORY) {
            Ok(fd) => dir = fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                // mkdirat never follows a symlink in the last component: a
                // dangling symlink here yields EEXIST rather than a write
                // through it.
                // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
                let r = unsafe { libc::mkdirat(dir.as_raw_fd(), parts[i].as_ptr(), 0o755) };
                if r != 0 {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() == Some(libc::EEXIST) {
                        // Never follow it out of the root; just refuse.
                        return Err(io::Error::other(format!(
                            "{:?} is a symlink whose target is not a directory in this layer",
                            String::from_utf8_lossy(&prefix)
                        )));
                    }
                    return Err(e);
                }
                dir = open_in_root(root, &prefix, libc::O_PATH | libc::O_DIRECTORY)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &CleanPath) -> Vec<&str> {
        p.0.iter().map(|c| c.to_str().unwrap()).collect()
    }

    #[test]
    fn cleaning() {
        assert_eq!(names(&CleanPath::parse(b"./a/b/").unwrap()), ["a", "b"]);
        assert_eq!(names(&CleanPath::parse(b"/etc//x").unwrap()), ["etc", "x"]);
        assert_eq!(names(&CleanPath::parse(b"a/../b").unwrap()), ["b"]);
        assert!(CleanPath::parse(b"./").unwrap().0.is_empty());
        assert!(CleanPath::parse(b"..").is_err());
        assert!(CleanPath::parse(b"../evil").is_err());
        assert!(CleanPath::parse(b"a/../../evil").is_err());
        assert!(CleanPath::parse(b"/../x").is_err());
    }
}
