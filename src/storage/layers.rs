//! Extracted layers, shared by every image that has them:
//! `layers/<diff-id hex>/diff` (the overlay lower dir) and `layer.json`.
//!
//! A layer is unpacked into a private staging directory under `tmp/` and
//! renamed into place whole, so a layer directory that exists is complete.
//! A layer a build made with `--disable-compression=false` also keeps its
//! gzip blob there, `compressed-<hex>` (named by its digest, so a file
//! is only ever the blob its name says), which the record's
//! `compressed_digest` names and push sends as it is.

use super::atomic;
use super::digest::Digest;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerRecord {
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar stream.
    pub size: u64,
    /// The blob it was pulled as, so an unchanged image can be pushed back
    /// without sending it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_digest: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub created: String,
}

pub struct LayerStore {
    dir: PathBuf,
    tmp: PathBuf,
}

/// A layer being unpacked. Removed on drop unless committed.
pub struct StagedLayer {
    root: PathBuf,
    committed: bool,
}

impl StagedLayer {
    /// The layer's own directory (what becomes `layers/<diff-id>`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory to unpack into.
    pub fn diff_dir(&self) -> PathBuf {
        self.root.join("diff")
    }
}

impl Drop for StagedLayer {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_tree(&self.root);
        }
    }
}

impl LayerStore {
    pub fn new(root: &Path) -> LayerStore {
        LayerStore {
            dir: root.join("layers"),
            tmp: root.join("tmp"),
        }
    }

    /// The directory the layers are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, diff_id: &Digest) -> PathBuf {
        self.dir.join(diff_id.hex())
    }

    pub fn diff_dir(&self, diff_id: &Digest) -> PathBuf {
        self.path(diff_id).join("diff")
    }

    /// Where the layer keeps its compressed blob `digest`, when it has one.
    pub fn compressed_path(&self, diff_id: &Digest, digest: &Digest) -> PathBuf {
        self.path(diff_id).join(compressed_name(digest))
    }

    /// The stored file of the compressed form `record` names, if it is kept.
    pub fn stored_compressed(&self, record: &LayerRecord) -> Option<PathBuf> {
        let d = record.compressed_digest.as_ref()?;
        let path = self.compressed_path(&record.diff_id, d);
        path.is_file().then_some(path)
    }

    pub fn has(&self, diff_id: &Digest) -> bool {
        self.path(diff_id).join("layer.json").exists()
    }

    pub fn record(&self, diff_id: &Digest) -> Result<LayerRecord> {
        atomic::read_json(&self.path(diff_id).join("layer.json"))?
            .with_context(|| format!("layer {diff_id} is not in the store"))
    }

    /// Update a layer's record (e.g. to remember another compressed form).
    pub fn update_record(&self, record: &LayerRecord) -> Result<()> {
        atomic::write_json(&self.path(&record.diff_id).join("layer.json"), record, true)
    }

    pub fn stage(&self) -> Result<StagedLayer> {
        let root = new_temp_dir(&self.tmp)?;
        fs::create_dir(root.join("diff"))?;
        Ok(StagedLayer {
            root,
            committed: false,
        })
    }

    /// Move a fully unpacked layer into place. When another invocation
    /// finished the same layer first, ours is dropped and theirs kept.
    pub fn commit(&self, mut staged: StagedLayer, record: &LayerRecord) -> Result<()> {
        super::crash::point("layer-staged");
        atomic::write_json(&staged.root.join("layer.json"), record, false)?;
        fs::create_dir_all(&self.dir)?;
        let dest = self.path(&record.diff_id);
        match fs::rename(&staged.root, &dest) {
            Ok(()) => {
                staged.committed = true;
                super::crash::point("layer-committed");
                Ok(())
            }
            Err(_) if self.has(&record.diff_id) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("storing layer {}", record.diff_id)),
        }
    }

    /// Remove a layer: first out of sight (renamed into tmp), then deleted.
    pub fn remove(&self, diff_id: &Digest) -> Result<()> {
        let path = self.path(diff_id);
        if !path.exists() {
            return Ok(());
        }
        let doomed = new_temp_name(&self.tmp)?;
        fs::rename(&path, &doomed).with_context(|| format!("removing layer {diff_id}"))?;
        super::crash::point("layer-unlinked");
        remove_tree(&doomed).with_context(|| format!("removing layer {diff_id}"))
    }

    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            if let Ok(d) = Digest::from_hex(&entry?.file_name().to_string_lossy()) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Delete staging leftovers of invocations that died (their owner is
    /// gone), not what a concurrent invocation is still writing. Without
    /// the store lock: unfinished creates wait for
    /// [`super::store::Store::lock`].
    pub fn sweep_stale_temp(&self) {
        super::leftovers::sweep_tmp(&self.tmp, None);
    }
}

/// The file name of a layer's compressed blob `digest`.
pub fn compressed_name(digest: &Digest) -> String {
    format!("compressed-{}", digest.hex())
}

fn new_temp_name(tmp: &Path) -> Result<PathBuf> {
    fs::create_dir_all(tmp).with_context(|| format!("creating {}", tmp.display()))?;
    Ok(super::leftovers::temp_name(tmp, ""))
}

fn new_temp_dir(tmp: &Path) -> Result<PathBuf> {
    let path = new_temp_name(tmp)?;
    fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(path)
}

pub use super::fsutil::remove_tree;
