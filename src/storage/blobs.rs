//! Content-addressed blobs (manifests, configs): `blobs/sha256/<hex>`.
//! Verified before they are named, so a blob's name is always its digest.

use super::atomic;
use super::digest::Digest;
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

pub struct BlobStore {
    dir: PathBuf,
    /// The store's tmp/: a blob write cut short is swept from there.
    tmp: PathBuf,
}

impl BlobStore {
    pub fn new(root: &Path) -> BlobStore {
        BlobStore {
            dir: root.join("blobs").join("sha256"),
            tmp: root.join("tmp"),
        }
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    pub fn has(&self, digest: &Digest) -> bool {
        self.path(digest).exists()
    }

    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>> {
        fs::read(self.path(digest)).with_context(|| format!("reading blob {digest}"))
    }

    /// Store `data`, refusing it when it does not hash to `expected`.
    pub fn put(&self, data: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let digest = Digest::of_bytes(data);
        if let Some(want) = expected {
            if *want != digest {
                bail!("digest mismatch: expected {want}, got {digest}");
            }
        }
        let path = self.path(&digest);
        if !path.exists() {
            fs::create_dir_all(&self.dir)
                .with_context(|| format!("creating {}", self.dir.display()))?;
            super::crash::point("blob-writing");
            atomic::write_file_in(&self.tmp, &path, data, true)?;
            super::crash::point("blob-written");
        }
        Ok(digest)
    }

    pub fn remove(&self, digest: &Digest) -> Result<()> {
        match fs::remove_file(self.path(digest)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing blob {digest}")),
        }
    }

    /// Every stored blob's digest.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let name = entry?.file_name();
            if let Ok(d) = Digest::from_hex(&name.to_string_lossy()) {
                out.push(d);
            }
        }
        Ok(out)
    }
}
