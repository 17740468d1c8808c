//! docker-archive (`docker save`'s format) and the `dir:` directory.
//!
//! docker-archive: `manifest.json` lists each image (`Config`, `RepoTags`,
//! `Layers`); the config is `<id>.json`; each layer is an uncompressed tar
//! at `<hex>/layer.tar` beside the legacy `VERSION` and `json`, so the
//! `repositories` file old loaders use can point at the top layer.

use super::load::{Candidate, LayerRef};
use super::source::Source;
use super::{export_image, LayerCache, SaveImage, SaveOptions, Sink};
use crate::registry::manifest::{
    Descriptor, ImageManifest, DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, DOCKER_MANIFEST,
};
use crate::registry::resolve::split_name;
use crate::storage::compression::Compression;
use crate::storage::digest::Digest;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

pub(super) fn write(
    store: &Store,
    images: &[SaveImage],
    sink: &mut dyn Sink,
    opts: &SaveOptions,
) -> Result<()> {
    let mut cache = LayerCache::new();
    let mut items = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut legacy_written = std::collections::HashSet::new();
    opts.progress("Getting image source signatures");
    for img in images {
        let name_of = |d: &Digest| format!("{}/layer.tar", d.hex());
        let ex = export_image(store, &img.record, sink, &mut cache, opts, &name_of)?;
        // Legacy per-layer metadata, for loaders that predate manifest.json.
        let mut parent: Option<String> = None;
        for (blob, _) in &ex.layers {
            let id = blob.digest.hex().to_string();
            if legacy_written.insert(id.clone()) {
                let mut v = Map::new();
                v.insert("id".into(), json!(id));
                if let Some(p) = &parent {
                    v.insert("parent".into(), json!(p));
                }
                sink.put_bytes(&format!("{id}/VERSION"), b"1.0")?;
                sink.put_bytes(&format!("{id}/json"), &serde_json::to_vec(&v)?)?;
            }
            parent = Some(id);
        }
        let config_name = format!("{}.json", ex.config_digest.hex());
        sink.put_bytes(&config_name, &ex.config_bytes)?;
        if let Some(top) = &parent {
            for n in &img.names {
                let (repo, tag) = split_name(n);
                repositories
                    .entry(repo.to_string())
                    .or_default()
                    .insert(tag.unwrap_or("latest").to_string(), top.clone());
            }
        }
        items.push(ManifestItem {
            config: config_name,
            repo_tags: Some(img.names.clone()),
            layers: ex.layers.iter().map(|(_, n)| n.clone()).collect(),
        });
    }
    opts.progress("Writing manifest to image destination");
    sink.put_bytes("manifest.json", &serde_json::to_vec(&items)?)?;
    sink.put_bytes("repositories", &serde_json::to_vec(&repositories)?)
}

/// The `dir:` transport's layout: one image, blobs named by hex, a Docker
/// schema2 `manifest.json` and a `version` file.
pub(super) fn write_dir(
    store: &Store,
    images: &[SaveImage],
    sink: &mut dyn Sink,
    opts: &SaveOptions,
) -> Result<()> {
    let [img] = images else {
        bail!("docker-dir holds exactly one image");
    };
    let mut cache = LayerCache::new();
    opts.progress("Getting image source signatures");
    let name_of = |d: &Digest| d.hex().to_string();
    let ex = export_image(store, &img.record, sink, &mut cache, opts, &name_of)?;
    sink.put_bytes(ex.config_digest.hex(), &ex.config_bytes)?;
    let layer_type = match opts.layer_compression() {
        Compression::Gzip => DOCKER_LAYER_GZIP,
        _ => DOCKER_LAYER_TAR,
    };
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(DOCKER_MANIFEST.into()),
        artifact_type: None,
        config: descriptor(
            DOCKER_CONFIG,
            ex.config_digest,
            ex.config_bytes.len() as u64,
        ),
        layers: ex
            .layers
            .iter()
            .map(|(b, _)| descriptor(layer_type, b.digest.clone(), b.size))
            .collect(),
        subject: None,
        annotations: None,
    };
    opts.progress("Writing manifest to image destination");
    sink.put_bytes("manifest.json", &serde_json::to_vec(&manifest)?)?;
    sink.put_bytes("version", b"Directory Transport Version: 1.1\n")
}

pub(super) fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        platform: None,
        annotations: None,
        urls: None,
        artifact_type: None,
    }
}

/// The images `manifest.json` lists. Configs are read and checked here;
/// layers are only named (the loader reads and checks them).
pub(super) fn read(src: &dyn Source) -> Result<Vec<Candidate>> {
    let text = src.read_small("manifest.json")?;
    let items: Vec<ManifestItem> = serde_json::from_slice(&text)
        .map_err(|e| anyhow::anyhow!("malformed manifest.json: {e}"))?;
    if items.is_empty() {
        bail!("manifest.json lists no image");
    }
    let mut out = Vec::new();
    for item in items {
        let config_bytes = src
            .read_small(&item.config)
            .with_context(|| format!("reading config {}", item.config))?;
        let digest = Digest::of_bytes(&config_bytes);
        // docker and podman name the config by its digest: hold them to it.
        if let Some(hex) = named_hex(&item.config) {
            if hex != digest.hex() {
                bail!(
                    "config {} does not match its digest (got {digest})",
                    item.config
                );
            }
        }
        out.push(Candidate {
            names: item.repo_tags.unwrap_or_default(),
            docker_names: true,
            config_bytes,
            manifest: None,
            layers: item
                .layers
                .into_iter()
                .map(|name| LayerRef {
                    name,
                    blob: None,
                    compression: None,
                    media_type: None,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// The hex of a digest-named file: `<hex>.json`, `blobs/sha256/<hex>`.
fn named_hex(name: &str) -> Option<&str> {
    let base = name.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    Digest::from_hex(hex).ok().map(|_| hex)
}
