//! The OCI image layout: `oci-layout`, `index.json` (one manifest per name,
//! named by the `org.opencontainers.image.ref.name` annotation) and
//! `blobs/sha256/<hex>`. oci-archive is this layout in a tar.

use super::docker_archive::descriptor;
use super::load::{Candidate, LayerRef};
use super::source::Source;
use super::{export_image, LayerCache, SaveImage, SaveOptions, Sink};
use crate::registry::manifest::{
    choose_manifest, host_platform, layer_compression, parse_manifest, ImageIndex, ImageManifest,
    LayerCompression, ParsedManifest, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR,
    OCI_MANIFEST,
};
use crate::storage::compression::Compression;
use crate::storage::digest::Digest;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

fn blob_name(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// The index of a layout directory we add to (None: a new layout).
pub(super) fn existing_index(dir: &Path) -> Result<Option<ImageIndex>> {
    let path = dir.join("index.json");
    match std::fs::read(&path) {
        Ok(bytes) => match parse_manifest(&bytes, OCI_INDEX)
            .with_context(|| format!("reading {}", path.display()))?
        {
            ParsedManifest::Index(i) => Ok(Some(i)),
            ParsedManifest::Image(_) => bail!("{} is not an image index", path.display()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

pub(super) fn write(
    store: &Store,
    images: &[SaveImage],
    sink: &mut dyn Sink,
    existing: Option<ImageIndex>,
    opts: &SaveOptions,
) -> Result<()> {
    let mut index = existing.unwrap_or(ImageIndex {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        artifact_type: None,
        manifests: Vec::new(),
        subject: None,
        annotations: None,
    });
    let layer_type = match opts.layer_compression() {
        Compression::Gzip => OCI_LAYER_GZIP,
        _ => OCI_LAYER_TAR,
    };
    let mut cache = LayerCache::new();
    opts.progress("Getting image source signatures");
    for img in images {
        let ex = export_image(store, &img.record, sink, &mut cache, opts, &blob_name)?;
        sink.put_bytes(&blob_name(&ex.config_digest), &ex.config_bytes)?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            artifact_type: None,
            config: descriptor(OCI_CONFIG, ex.config_digest, ex.config_bytes.len() as u64),
            layers: ex
                .layers
                .iter()
                .map(|(b, _)| descriptor(layer_type, b.digest.clone(), b.size))
                .collect(),
            subject: None,
            annotations: None,
        };
        let bytes = serde_json::to_vec(&manifest)?;
        let digest = Digest::of_bytes(&bytes);
        sink.put_bytes(&blob_name(&digest), &bytes)?;
        let entry = |name: Option<&String>| {
            let mut d = descriptor(OCI_MANIFEST, digest.clone(), bytes.len() as u64);
            d.annotations = name.map(|n| BTreeMap::from([(REF_NAME.to_string(), n.to_string())]));
            d
        };
        if img.names.is_empty() {
            index.manifests.push(entry(None));
        }
        for n in &img.names {
            // A name moves to the image saved now, as a tag would.
            index
                .manifests
                .retain(|m| m.annotations.as_ref().and_then(|a| a.get(REF_NAME)) != Some(n));
            index.manifests.push(entry(Some(n)));
        }
    }
    opts.progress("Writing manifest to image destination");
    sink.put_bytes("oci-layout", LAYOUT)?;
    sink.put_bytes("index.json", &serde_json::to_vec(&index)?)
}

/// The images a layout's index names, manifests and configs read and
/// checked against their digests; layers only named.
pub(super) fn read(src: &dyn Source) -> Result<Vec<Candidate>> {
    let layout = src.read_small("oci-layout")?;
    let v: serde_json::Value = serde_json::from_slice(&layout)
        .map_err(|e| anyhow::anyhow!("malformed oci-layout: {e}"))?;
    if v.get("imageLayoutVersion")
        .and_then(|v| v.as_str())
        .is_none()
    {
        bail!("malformed oci-layout: no imageLayoutVersion");
    }
    let bytes = src.read_small("index.json")?;
    let ParsedManifest::Index(index) = parse_manifest(&bytes, OCI_INDEX).context("index.json")?
    else {
        bail!("index.json is not an image index");
    };
    let mut out: Vec<Candidate> = Vec::new();
    for desc in &index.manifests {
        let name = desc
            .annotations
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .cloned();
        let (bytes, digest, media_type) = read_blob_checked(src, &desc.digest, &desc.media_type)?;
        let manifest = match parse_manifest(&bytes, &media_type)? {
            ParsedManifest::Image(m) => (m, bytes, digest, media_type),
            ParsedManifest::Index(inner) => {
                // A multi-platform image: the one for this host.
                let d = choose_manifest(&inner, &host_platform())?;
                let (b, dg, mt) = read_blob_checked(src, &d.digest, &d.media_type)?;
                match parse_manifest(&b, &mt)? {
                    ParsedManifest::Image(m) => (m, b, dg, mt),
                    ParsedManifest::Index(_) => bail!("index {} points at another index", d.digest),
                }
            }
        };
        let (m, bytes, digest, media_type) = manifest;
        // Several names for one manifest: one image with several names.
        if let Some(c) = out
            .iter_mut()
            .find(|c| c.manifest.as_ref().map(|m| &m.1) == Some(&digest))
        {
            c.names.extend(name);
            continue;
        }
        let config_bytes = src
            .read_small(&blob_name(&m.config.digest))
            .with_context(|| format!("reading config {}", m.config.digest))?;
        let got = Digest::of_bytes(&config_bytes);
        if got != m.config.digest {
            bail!(
                "config {} does not match its digest (got {got})",
                m.config.digest
            );
        }
        let mut layers = Vec::new();
        for l in &m.layers {
            let c = match layer_compression(&l.media_type)? {
                LayerCompression::None => Compression::None,
                LayerCompression::Gzip => Compression::Gzip,
                LayerCompression::Zstd => Compression::Zstd,
            };
            layers.push(LayerRef {
                name: blob_name(&l.digest),
                blob: Some((l.digest.clone(), l.size)),
                compression: Some(c),
                media_type: Some(l.media_type.clone()),
            });
        }
        out.push(Candidate {
            names: name.into_iter().collect(),
            docker_names: false,
            config_bytes,
            manifest: Some((bytes, digest, media_type)),
            layers,
        });
    }
    if out.is_empty() {
        bail!("index.json lists no image");
    }
    Ok(out)
}

/// A small blob, refused unless it hashes to `digest`.
fn read_blob_checked(
    src: &dyn Source,
    digest: &Digest,
    media_type: &str,
) -> Result<(Vec<u8>, Digest, String)> {
    let bytes = src
        .read_small(&blob_name(digest))
        .with_context(|| format!("reading manifest {digest}"))?;
    let got = Digest::of_bytes(&bytes);
    if got != *digest {
        bail!("manifest {digest} does not match its digest (got {got})");
    }
    Ok((bytes, got, media_type.to_string()))
}
