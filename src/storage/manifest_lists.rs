//! Manifest lists (image indexes) kept as images, as podman keeps them: a
//! record with names whose manifest is the index, stored as a blob. The
//! index itself is the whole state of the list (entries, platforms,
//! annotations); changing the list writes a new index blob.
//!
//! A list has no configuration of its own, but every image record names
//! one by its id. It gets a small one (no layers, no platform, a nonce so
//! two lists never share an id), which also keeps the id stable while the
//! index changes, as podman's list ids are.

use super::digest::Digest;
use super::images::ImageRecord;
use super::store::Store;
use anyhow::{anyhow, bail, Result};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Is this record a manifest list rather than an image?
pub fn is_list(rec: &ImageRecord) -> bool {
    rec.manifest_media_type == OCI_INDEX || rec.manifest_media_type == DOCKER_LIST
}

/// Store a new list named `name` holding `index` (OCI index JSON). Fails
/// if any image already has the name. Returns the record.
pub fn create(store: &Store, name: &str, index: &[u8]) -> Result<ImageRecord> {
    let now = crate::format::human::now_rfc3339();
    let nonce = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let config = serde_json::json!({
        "created": now,
        "architecture": "",
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {},
        "coracle.manifest-list": nonce,
    });
    let config_digest = store.blobs.put(&serde_json::to_vec(&config)?, None)?;
    let index_digest = store.blobs.put(index, None)?;
    let _lock = store.lock()?;
    let mut images = store.images.load()?;
    if images.by_name(name).is_some() {
        bail!("{name}: image name is already in use");
    }
    let record = ImageRecord {
        id: config_digest.hex().to_string(),
        names: vec![name.to_string()],
        names_history: Vec::new(),
        manifest_digest: index_digest.clone(),
        manifest_media_type: OCI_INDEX.to_string(),
        repo_digests: Vec::new(),
        digests: vec![index_digest],
        layers: Vec::new(),
        size: 0,
        created: Some(now.clone()),
        added: now,
    };
    images.upsert(record.clone());
    store.images.save(&images)?;
    Ok(record)
}

/// Remember where entries added from a registry are
/// (`registry/repository@digest`), as the list's repo digests.
pub fn add_sources(store: &Store, id: &str, sources: &[String]) -> Result<()> {
    let _lock = store.lock()?;
    let mut images = store.images.load()?;
    let rec = images
        .by_id_mut(id)
        .filter(|r| is_list(r))
        .ok_or_else(|| anyhow!("manifest list {id} was removed meanwhile"))?;
    for s in sources {
        if !rec.repo_digests.contains(s) {
            rec.repo_digests.push(s.clone());
        }
    }
    store.images.save(&images)
}

/// The list's current index.
pub fn read_index(store: &Store, rec: &ImageRecord) -> Result<Vec<u8>> {
    store
        .blobs
        .read(&rec.manifest_digest)
        .map_err(|e| anyhow!("reading the index of manifest list {}: {e:#}", rec.id))
}

/// Replace list `id`'s index with `index`; the previous index blob goes
/// when nothing else refers to it.
pub fn replace_index(store: &Store, id: &str, index: &[u8]) -> Result<Digest> {
    let digest = store.blobs.put(index, None)?;
    let _lock = store.lock()?;
    let mut images = store.images.load()?;
    let rec = images
        .by_id_mut(id)
        .filter(|r| is_list(r))
        .ok_or_else(|| anyhow!("manifest list {id} was removed meanwhile"))?;
    let old = std::mem::replace(&mut rec.manifest_digest, digest.clone());
    rec.digests = vec![digest.clone()];
    store.images.save(&images)?;
    let used = images
        .list
        .iter()
        .any(|i| i.manifest_digest == old || i.digests.contains(&old));
    if !used && old != digest {
        store.blobs.remove(&old)?;
    }
    Ok(digest)
}
