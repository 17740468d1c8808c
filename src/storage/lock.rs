//! Advisory file locks (flock) that serialize changes to the store.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// A held flock; released when dropped (or when the process dies, so a
/// crashed invocation never leaves the store locked).
pub struct FileLock {
    _file: File,
}

impl FileLock {
    pub fn exclusive(path: &Path) -> Result<FileLock> {
        Self::acquire(path, libc::LOCK_EX)
    }

    /// The lock if no one (this process included, through another open
    /// file) holds it now; None rather than waiting.
    pub fn try_exclusive(path: &Path) -> Result<Option<FileLock>> {
        match Self::acquire(path, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(l) => Ok(Some(l)),
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::WouldBlock) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn acquire(path: &Path, op: libc::c_int) -> Result<FileLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("opening lock {}", path.display()))?;
        loop {
            // SAFETY: flock on a valid, owned descriptor.
            let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(FileLock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err).with_context(|| format!("locking {}", path.display()));
            }
        }
    }
}

/// A held POSIX record lock (fcntl F_SETLKW) on a whole file: unlike a
/// flock it is *not* shared with a forked child, so a container's monitor
/// (a fork of the CLI that started it) does not keep its container locked.
/// Released when dropped or when the process dies.
pub struct RecordLock {
    _file: File,
}

impl RecordLock {
    pub fn exclusive(path: &Path) -> Result<RecordLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("opening lock {}", path.display()))?;
        // SAFETY: a zeroed flock is a valid value; the fields set below
        // describe a write lock over the whole file.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_WRLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        loop {
            // SAFETY: fcntl on a valid, owned descriptor with a valid flock.
            let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLKW, &fl) };
            if rc == 0 {
                return Ok(RecordLock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err).with_context(|| format!("locking {}", path.display()));
            }
        }
    }
}
