//! `build --jobs N`: stages that do not need each other built at the same
//! time, each in a forked copy of the builder (which has every finished
//! stage's image in hand), which writes what it made to a file and exits.
//! The parent takes each result in (the stage's image, the cache entries
//! and images the child made, the build args it used) before starting the
//! stages that need it; the final stage is always built by the parent.

use super::cache::CacheFile;
use crate::storage::images::ImageRecord;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// What a child built, or why it could not.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StageResult {
    pub image: Option<ImageRecord>,
    pub error: Option<String>,
    pub remote_key: Option<String>,
    pub used_args: Vec<String>,
    /// Images the child made (the parent's cache may point at them).
    pub new_images: Vec<ImageRecord>,
    pub cache: CacheFile,
}

/// Run `work` in a forked child that writes its result to `path` and
/// exits; returns the child's pid. The child reads no stdin (as podman:
/// several stages cannot share it).
pub fn fork(path: &Path, work: impl FnOnce() -> StageResult) -> Result<libc::pid_t> {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: the build process is single-threaded here; the child only
    // builds the stage (as the parent would) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!(
            "starting a build stage process: {}",
            std::io::Error::last_os_error()
        );
    }
    if pid > 0 {
        return Ok(pid);
    }
    // SAFETY: our own fds, in the child.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
    }
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| {
            StageResult {
                error: Some("the stage's build process panicked".into()),
                ..Default::default()
            }
        });
    let ok = serde_json::to_vec(&result)
        .ok()
        .and_then(|b| std::fs::write(path, b).ok())
        .is_some();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: leave without running the parent's destructors twice.
    unsafe { libc::_exit(if ok && result.error.is_none() { 0 } else { 1 }) }
}

/// Wait for any child; its pid.
pub fn wait_any() -> Result<libc::pid_t> {
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own children.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid >= 0 {
            return Ok(pid);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(anyhow!("waiting for a build stage process: {e}"));
        }
    }
}

/// A finished child's result, read from `path`.
pub fn read(path: &Path) -> Result<StageResult> {
    let bytes =
        std::fs::read(path).context("a build stage process ended without a result (killed?)")?;
    let _ = std::fs::remove_file(path);
    let r: StageResult =
        serde_json::from_slice(&bytes).context("reading a build stage's result")?;
    if let Some(e) = &r.error {
        bail!("{e}");
    }
    Ok(r)
}
