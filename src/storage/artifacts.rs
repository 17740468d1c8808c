//! OCI artifacts (`artifact add|pull|...`), kept as podman keeps them: an
//! OCI image layout of their own under `<root>/artifacts/` (`oci-layout`,
//! `index.json`, `blobs/sha256/<hex>`), each artifact one entry of the
//! index named by its `org.opencontainers.image.ref.name` annotation. A
//! layout apart from the images' blobs, so no image garbage collection
//! can take an artifact's blob, and `skopeo copy oci:<root>/artifacts:NAME`
//! reads it as it reads podman's.
//!
//! Blobs are staged in the store's tmp/ (named for their owner, so a
//! killed add or pull leaves nothing a later sweep does not remove) and
//! only moved into `blobs/` under the store lock, where the index is
//! changed and unreferenced blobs are removed: a blob is never collected
//! between its arrival and its manifest's.

use super::atomic;
use super::digest::{Digest, HashingWriter};
use super::leftovers;
use super::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty config's content, `{}`.
pub const EMPTY_DATA: &[u8] = b"{}";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const TITLE: &str = "org.opencontainers.image.title";
pub const CREATED: &str = "org.opencontainers.image.created";
/// Marks an unnamed entry as an artifact manifest `manifest add
/// --artifact` made for the manifest list of this id.
pub const LIST_ID: &str = "io.coracle.manifest-list";

/// A descriptor as the image spec orders its fields (what Go's encoder
/// writes), with the inline `data` the empty config carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: None,
            annotations: None,
            data: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// The spec's empty descriptor: `{}` as the config.
    pub fn empty() -> Descriptor {
        Descriptor {
            data: Some("e30=".to_string()),
            ..Descriptor::new(
                EMPTY_MEDIA_TYPE,
                Digest::of_bytes(EMPTY_DATA),
                EMPTY_DATA.len() as u64,
            )
        }
    }

    pub fn title(&self) -> Option<&str> {
        self.annotations.as_ref()?.get(TITLE).map(String::as_str)
    }
}

/// An artifact's manifest: an OCI image manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Manifest> {
        let m: Manifest =
            serde_json::from_slice(bytes).context("parsing an artifact's manifest")?;
        if let Some(mt) = &m.media_type {
            if mt != OCI_MANIFEST {
                bail!("an artifact's manifest must be an OCI image manifest, not {mt:?}");
            }
        }
        Ok(m)
    }

    /// What `ls` shows as the size: the layers' bytes.
    pub fn total_size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// One stored artifact.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// `registry/repo:tag` (or `@digest`) as stored.
    pub name: String,
    /// The manifest's digest.
    pub digest: Digest,
    pub manifest: Manifest,
    /// The manifest as stored (its digest is `digest`).
    pub raw: Vec<u8>,
}

/// A blob staged in tmp/ and not yet in the layout.
pub struct StagedBlob {
    path: PathBuf,
    pub digest: Digest,
    pub size: u64,
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

pub struct ArtifactStore<'a> {
    store: &'a Store,
    dir: PathBuf,
}

impl<'a> ArtifactStore<'a> {
    pub fn new(store: &'a Store) -> ArtifactStore<'a> {
        ArtifactStore {
            store,
            dir: store.root.join("artifacts"),
        }
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    fn blobs_dir(&self) -> PathBuf {
        self.dir.join("blobs").join("sha256")
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    /// The store lock, which every change of the layout holds.
    pub fn lock(&self) -> Result<super::store::StoreLock> {
        self.store.lock()
    }

    fn load_index(&self) -> Result<Index> {
        Ok(
            atomic::read_json::<Index>(&self.index_path())?.unwrap_or_else(|| Index {
                schema_version: 2,
                media_type: Some(OCI_INDEX.to_string()),
                manifests: Vec::new(),
            }),
        )
    }

    /// Every named artifact, in the index's order (oldest first).
    pub fn list(&self) -> Result<Vec<Artifact>> {
        let index = self.load_index()?;
        let mut out = Vec::new();
        for d in index.manifests {
            let Some(name) = ref_name(&d).map(str::to_string) else {
                continue;
            };
            let raw = fs::read(self.blob_path(&d.digest))
                .with_context(|| format!("reading artifact manifest {}", d.digest))?;
            out.push(Artifact {
                manifest: Manifest::parse(&raw)
                    .with_context(|| format!("artifact {name} ({})", d.digest))?,
                name,
                digest: d.digest,
                raw,
            });
        }
        Ok(out)
    }

    pub fn read_blob(&self, digest: &Digest) -> Result<fs::File> {
        fs::File::open(self.blob_path(digest))
            .with_context(|| format!("opening artifact blob {digest}"))
    }

    /// Copy `src` into a staged blob, hashing as it goes; `expected`, when
    /// given, must match (a registry's blob).
    pub fn stage(&self, src: &mut dyn Read, expected: Option<&Digest>) -> Result<StagedBlob> {
        let tmp = self.store.root.join("tmp");
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let path = leftovers::temp_name(&tmp, "artifact-blob-");
        let file =
            fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        // Owned from here on: dropped on any error below, the file goes.
        let mut staged = StagedBlob {
            path,
            digest: Digest::of_bytes(b""),
            size: 0,
        };
        let mut w = HashingWriter::new(std::io::BufWriter::new(file));
        std::io::copy(src, &mut w)?;
        let (buf, digest, size) = w.finish();
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        if let Some(want) = expected {
            if *want != digest {
                bail!("digest mismatch: expected {want}, got {digest}");
            }
        }
        staged.digest = digest;
        staged.size = size;
        Ok(staged)
    }

    /// The manifest stored under `digest`, if the layout has it.
    pub fn read_manifest(&self, digest: &Digest) -> Option<Vec<u8>> {
        fs::read(self.blob_path(digest)).ok()
    }

    /// Store `manifest` (with `blobs`, staged) as artifact `name`,
    /// replacing the entry of that name, if any. Call with the lock held.
    /// Blobs nothing refers to any more are removed. Returns the
    /// manifest's digest.
    pub fn commit(&self, name: &str, manifest: &[u8], blobs: Vec<StagedBlob>) -> Result<Digest> {
        self.commit_entry(REF_NAME, name, manifest, blobs)
    }

    /// Store `manifest` as an unnamed entry kept while manifest list
    /// `list_id` names it. Call with the lock held.
    pub fn commit_for_list(
        &self,
        list_id: &str,
        manifest: &[u8],
        blobs: Vec<StagedBlob>,
    ) -> Result<Digest> {
        self.commit_entry(LIST_ID, list_id, manifest, blobs)
    }

    fn commit_entry(
        &self,
        key: &str,
        value: &str,
        manifest: &[u8],
        blobs: Vec<StagedBlob>,
    ) -> Result<Digest> {
        fs::create_dir_all(self.blobs_dir())
            .with_context(|| format!("creating {}", self.blobs_dir().display()))?;
        let layout = self.dir.join("oci-layout");
        if !layout.exists() {
            atomic::write_file(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#, true)?;
        }
        let empty = Digest::of_bytes(EMPTY_DATA);
        if !self.blob_path(&empty).exists() {
            atomic::write_file_in(
                &self.store.root.join("tmp"),
                &self.blob_path(&empty),
                EMPTY_DATA,
                true,
            )?;
        }
        for b in &blobs {
            let dest = self.blob_path(&b.digest);
            if !dest.exists() {
                fs::rename(&b.path, &dest)
                    .with_context(|| format!("storing artifact blob {}", b.digest))?;
            }
        }
        let digest = Digest::of_bytes(manifest);
        atomic::write_file_in(
            &self.store.root.join("tmp"),
            &self.blob_path(&digest),
            manifest,
            true,
        )?;
        let mut index = self.load_index()?;
        let mut desc = Descriptor::new(OCI_MANIFEST, digest.clone(), manifest.len() as u64);
        desc.annotations = Some(BTreeMap::from([(key.to_string(), value.to_string())]));
        let same = |d: &Descriptor| match key {
            // A name names one artifact; a list may hold several.
            REF_NAME => ref_name(d) == Some(value),
            _ => d.digest == digest && annotation(d, key) == Some(value),
        };
        match index.manifests.iter_mut().find(|d| same(d)) {
            Some(d) => *d = desc,
            None => index.manifests.push(desc),
        }
        self.save_index(index, Some(&digest))?;
        Ok(digest)
    }

    /// Remove the artifact stored as `name` and the blobs only it used.
    /// Call with the lock held.
    pub fn remove(&self, name: &str) -> Result<()> {
        let mut index = self.load_index()?;
        let before = index.manifests.len();
        index.manifests.retain(|d| ref_name(d) != Some(name));
        if index.manifests.len() == before {
            return Err(anyhow!("{name}: artifact does not exist"));
        }
        self.save_index(index, None)
    }

    /// Write the index, less the entries of lists that no longer hold
    /// them (`fresh`, just committed, is kept: its list is changed next),
    /// then remove the blobs nothing names.
    fn save_index(&self, mut index: Index, fresh: Option<&Digest>) -> Result<()> {
        let images = self.store.images.load()?;
        index.manifests.retain(|d| {
            let Some(id) = annotation(d, LIST_ID) else {
                return true;
            };
            Some(&d.digest) == fresh
                || images
                    .by_id(id)
                    .and_then(|rec| self.store.blobs.read(&rec.manifest_digest).ok())
                    .is_some_and(|ix| String::from_utf8_lossy(&ix).contains(&d.digest.to_string()))
        });
        atomic::write_file_in(
            &self.store.root.join("tmp"),
            &self.index_path(),
            &serde_json::to_vec(&index)?,
            true,
        )?;
        let mut keep = BTreeSet::new();
        for d in &index.manifests {
            keep.insert(d.digest.hex().to_string());
            let raw = fs::read(self.blob_path(&d.digest))?;
            let m = Manifest::parse(&raw)?;
            keep.insert(m.config.digest.hex().to_string());
            keep.extend(m.layers.iter().map(|l| l.digest.hex().to_string()));
        }
        let Ok(entries) = fs::read_dir(self.blobs_dir()) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(())
    }
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    annotation(d, REF_NAME)
}

fn annotation<'d>(d: &'d Descriptor, key: &str) -> Option<&'d str> {
    d.annotations.as_ref()?.get(key).map(String::as_str)
}

/// Write `src` to `target`, replacing a file there (podman truncates it).
pub fn copy_to_file(src: &mut dyn Read, target: &Path) -> Result<()> {
    let mut out = fs::File::create(target)
        .map_err(|e| anyhow!("failed to create target file: {}: {e}", target.display()))?;
    std::io::copy(src, &mut out)
        .and_then(|_| out.flush())
        .with_context(|| format!("writing {}", target.display()))
}
