//! Replace files atomically: write a temporary sibling, fsync, rename.
//! A reader sees the old content or the new, never half of either.

use anyhow::{Context, Result};
use serde::Serialize;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A unique temporary name next to `path` (same directory, so rename is atomic).
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u64 = rand::random();
    let owner = super::leftovers::owner_tag();
    path.with_file_name(format!(".tmp-{owner}-{nonce:x}-{name}"))
}

/// Write `data` to `path` atomically. `durable` adds fsync of the file and
/// its directory: wanted for persistent records, not for the volatile runroot.
pub fn write_file(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    write_file_from(&temp_sibling(path), path, data, durable)
}

/// [`write_file`] with the temporary file in `staging` (the store's tmp/,
/// same filesystem), where a write cut short is swept with the rest.
pub fn write_file_in(staging: &Path, path: &Path, data: &[u8], durable: bool) -> Result<()> {
    fs::create_dir_all(staging).with_context(|| format!("creating {}", staging.display()))?;
    let tmp = super::leftovers::temp_name(staging, ".tmp-");
    write_file_from(&tmp, path, data, durable)
}

fn write_file_from(tmp: &Path, path: &Path, data: &[u8], durable: bool) -> Result<()> {
    let tmp = tmp.to_path_buf();
    let result = (|| -> Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        if durable {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path)?;
        if durable {
            if let Some(dir) = path.parent() {
                File::open(dir)?.sync_all()?;
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

pub fn write_json<T: Serialize>(path: &Path, value: &T, durable: bool) -> Result<()> {
    let data = serde_json::to_vec(value)?;
    write_file(path, &data, durable)
}

/// Read and parse a JSON record; `None` when the file does not exist.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .with_context(|| format!("parsing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
