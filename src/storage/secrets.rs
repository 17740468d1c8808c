//! Secrets: `secrets/secrets.json` (names, ids, drivers, labels) and the
//! data of the file driver in `secrets/filedata/<id>` (mode 0600 in a 0700
//! directory, or the directory of the driver's `path` option). Kept apart
//! from images, layers and containers, so no commit, export or save can
//! carry a secret.

use super::atomic;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The one driver there is (podman's default).
pub const FILE_DRIVER: &str = "file";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SecretRecord {
    /// 25 hex digits, as podman's.
    pub id: String,
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub driver_options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// RFC 3339 with nanoseconds, UTC.
    pub created_at: String,
    pub updated_at: String,
}

pub struct SecretStore {
    dir: PathBuf,
}

impl SecretStore {
    /// The secrets of the store rooted at `root`.
    pub fn at(root: &Path) -> SecretStore {
        SecretStore {
            dir: root.join("secrets"),
        }
    }

    fn index(&self) -> PathBuf {
        self.dir.join("secrets.json")
    }

    /// Where the file driver keeps data unless told otherwise.
    pub fn default_data_dir(&self) -> PathBuf {
        self.dir.join("filedata")
    }

    fn data_path(&self, rec: &SecretRecord) -> PathBuf {
        let dir = rec
            .driver_options
            .get("path")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.default_data_dir());
        dir.join(&rec.id)
    }

    pub fn list(&self) -> Result<Vec<SecretRecord>> {
        Ok(atomic::read_json(&self.index())?.unwrap_or_default())
    }

    fn save(&self, list: &[SecretRecord]) -> Result<()> {
        private_dir(&self.dir)?;
        atomic::write_json(&self.index(), &list, true)
    }

    /// Store `data` for `rec` and record it, replacing a record of the same
    /// id. The caller holds the store lock.
    pub fn put(&self, rec: SecretRecord, data: &[u8]) -> Result<()> {
        let path = self.data_path(&rec);
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        write_private(&path, data)?;
        let mut list = self.list()?;
        // An update keeps its place: `secret ls` lists in creation order.
        match list.iter_mut().find(|r| r.id == rec.id) {
            Some(old) => *old = rec,
            None => list.push(rec),
        }
        self.save(&list)
    }

    /// Forget `rec` and delete its data. The caller holds the store lock.
    pub fn remove(&self, rec: &SecretRecord) -> Result<()> {
        let mut list = self.list()?;
        list.retain(|r| r.id != rec.id);
        self.save(&list)?;
        match fs::remove_file(self.data_path(rec)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing the data of secret {}", rec.name))
            }
            _ => Ok(()),
        }
    }

    pub fn data(&self, rec: &SecretRecord) -> Result<Vec<u8>> {
        fs::read(self.data_path(rec))
            .with_context(|| format!("reading the data of secret {}", rec.name))
    }
}

fn private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Written beside, synced, then renamed: a reader sees the old data or the
/// new, and the file is 0600 from its first byte.
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = atomic::temp_sibling(path);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let written = f.write_all(data).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        bail!("writing {}: {e}", tmp.display());
    }
    fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
}

/// How a container sees a secret (`--secret NAME,type=...`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    /// A file, `/run/secrets/NAME` unless the target says otherwise.
    #[default]
    Mount,
    /// An environment variable.
    Env,
}

/// A secret a container was given; the data is read from the secret store
/// when the container is created, never kept in its record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SecretUse {
    pub id: String,
    pub name: String,
    pub kind: SecretKind,
    /// The absolute path of the file, or the variable's name.
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}
