//! Loading images from an archive: every part is read and checked against
//! its digest, missing layers are unpacked into staging, and only when all
//! of it is in place are layers, blobs and records stored. A corrupt or
//! truncated archive leaves the store as it was.

use super::source::{self, LoadInput, Source};
use super::{docker_archive, loaded_name, oci_layout};
use crate::registry::manifest::{ImageManifest, OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST};
use crate::storage::compression::{self, Compression};
use crate::storage::digest::{Digest, HashingReader};
use crate::storage::image_config::ImageConfig;
use crate::storage::images::ImageRecord;
use crate::storage::layers::{LayerRecord, StagedLayer};
use crate::storage::store::Store;
use crate::storage::unpack::{self, UnpackOptions};
use anyhow::{anyhow, bail, Context, Result};
use std::io;

/// An image found in an archive, before its layers are read.
pub(super) struct Candidate {
    /// As the archive spells them (RepoTags, ref.name annotations).
    pub names: Vec<String>,
    /// docker-archive names are Docker references (short means docker.io).
    pub docker_names: bool,
    pub config_bytes: Vec<u8>,
    /// The manifest (bytes, digest, media type) when the archive has one.
    pub manifest: Option<(Vec<u8>, Digest, String)>,
    pub layers: Vec<LayerRef>,
}

pub(super) struct LayerRef {
    /// The file in the archive.
    pub name: String,
    /// Digest and size the file must have (OCI blobs).
    pub blob: Option<(Digest, u64)>,
    /// None: find out from the data.
    pub compression: Option<Compression>,
    pub media_type: Option<String>,
}

/// What `load` stored.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub id: String,
    pub names: Vec<String>,
}

/// An image ready to register once every layer is staged.
struct Planned {
    config_bytes: Vec<u8>,
    config_digest: Digest,
    created: Option<String>,
    diff_ids: Vec<Digest>,
    manifest: (Vec<u8>, Digest, String),
    names: Vec<String>,
}

/// Load every image in `input`. Rootless, call it inside the user
/// namespace: unpacked files get their container owners.
pub fn load(store: &Store, input: LoadInput, quiet: bool) -> Result<Vec<LoadedImage>> {
    let progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    // Staging left by loads and pulls that were killed half way.
    store.layers.sweep_stale_temp();
    let src = source::open(input, &store.image_tmp())?;
    let candidates = if src.has("manifest.json") {
        docker_archive::read(src.as_ref())?
    } else if src.has("index.json") {
        oci_layout::read(src.as_ref())?
    } else {
        bail!("not an image archive: it has neither manifest.json (docker-archive) nor index.json (OCI layout)");
    };

    let unpack_opts = UnpackOptions {
        xattr_prefix: store.xattr_prefix(),
        whiteout: unpack::probe_whiteout_form(&store.image_tmp()),
        rootless: store.rootless,
        merge: Default::default(),
    };
    progress("Getting image source signatures");
    let mut staged: Vec<(StagedLayer, LayerRecord)> = Vec::new();
    let mut planned: Vec<Planned> = Vec::new();
    for c in candidates {
        let config = ImageConfig::parse(&c.config_bytes)?;
        let config_digest = Digest::of_bytes(&c.config_bytes);
        let diff_ids = config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<Result<Vec<_>>>()
            .context("malformed image configuration: bad diff id")?;
        if diff_ids.len() != c.layers.len() {
            bail!(
                "malformed image {}: {} layers in the archive, {} in its configuration",
                config_digest.short(),
                c.layers.len(),
                diff_ids.len()
            );
        }
        let mut sizes = Vec::new();
        for (l, diff_id) in c.layers.iter().zip(&diff_ids) {
            if let Some((_, rec)) = staged.iter().find(|(_, r)| r.diff_id == *diff_id) {
                sizes.push(rec.size);
                continue;
            }
            if store.layers.has(diff_id) {
                progress(&format!(
                    "Copying blob {} skipped: already exists",
                    diff_id.short()
                ));
                sizes.push(store.layers.record(diff_id)?.size);
                continue;
            }
            let (layer, rec) = unpack_one(store, src.as_ref(), l, diff_id, &unpack_opts)
                .with_context(|| format!("layer {}", l.name))?;
            progress(&format!("Copying blob {} done", diff_id.short()));
            sizes.push(rec.size);
            staged.push((layer, rec));
        }
        progress(&format!("Copying config {} done", config_digest.short()));
        let manifest = match c.manifest {
            Some(m) => m,
            None => synthesize_manifest(&c.config_bytes, &config_digest, &diff_ids, &sizes)?,
        };
        let mut names: Vec<String> = Vec::new();
        for raw in &c.names {
            match loaded_name(raw, c.docker_names) {
                Some(n) if !names.contains(&n) => names.push(n),
                Some(_) => {}
                None => crate::warn!("ignoring the name {raw:?}: not a valid image name"),
            }
        }
        if let Some(p) = planned
            .iter_mut()
            .find(|p| p.config_digest == config_digest)
        {
            for n in names {
                if !p.names.contains(&n) {
                    p.names.push(n);
                }
            }
            continue;
        }
        planned.push(Planned {
            config_bytes: c.config_bytes,
            config_digest,
            created: config.created.clone(),
            diff_ids,
            manifest,
            names,
        });
    }
    drop(src);
    progress("Writing manifest to image destination");
    register(store, planned, staged)
}

/// Read, check and unpack one layer into staging.
fn unpack_one(
    store: &Store,
    src: &dyn Source,
    l: &LayerRef,
    diff_id: &Digest,
    opts: &UnpackOptions,
) -> Result<(StagedLayer, LayerRecord)> {
    let staged = store.layers.stage()?;
    let mut blob = HashingReader::new(src.open(&l.name)?);
    let (tar_digest, tar_size) = {
        let decompressed = match l.compression {
            Some(c) => compression::decompress(&mut blob, c)?,
            None => compression::auto_decompress(&mut blob)?,
        };
        let mut tar = HashingReader::new(decompressed);
        unpack::unpack_layer(&mut tar, &staged.diff_dir(), opts)?;
        // Padding after the end-of-archive marker is part of the diff id.
        io::copy(&mut tar, &mut io::sink()).context("reading layer")?;
        let size = tar.len();
        (tar.finish().1, size)
    };
    io::copy(&mut blob, &mut io::sink()).context("reading layer")?;
    let blob_size = blob.len();
    let (_, blob_digest) = blob.finish();
    if let Some((want, want_size)) = &l.blob {
        if blob_size != *want_size {
            bail!("blob size mismatch: expected {want_size} bytes, got {blob_size}");
        }
        if blob_digest != *want {
            bail!("digest mismatch: expected {want}, got {blob_digest}");
        }
    }
    if tar_digest != *diff_id {
        bail!("layer content does not match the configuration's diff id: expected {diff_id}, got {tar_digest}");
    }
    // An OCI blob is a form the layer can be pushed back as unchanged.
    let (compressed_digest, compressed_size, media_type) = match (&l.blob, &l.media_type) {
        (Some((d, s)), Some(mt)) => (Some(d.clone()), Some(*s), Some(mt.clone())),
        _ => (None, None, None),
    };
    let record = LayerRecord {
        diff_id: diff_id.clone(),
        size: tar_size,
        compressed_digest,
        compressed_size,
        media_type,
        created: crate::format::human::now_rfc3339(),
    };
    Ok((staged, record))
}

/// A docker-archive has no manifest; the store keeps one per image, so make
/// the OCI manifest of the image as loaded (uncompressed layers).
fn synthesize_manifest(
    config_bytes: &[u8],
    config_digest: &Digest,
    diff_ids: &[Digest],
    sizes: &[u64],
) -> Result<(Vec<u8>, Digest, String)> {
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: docker_archive::descriptor(
            OCI_CONFIG,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers: diff_ids
            .iter()
            .zip(sizes)
            .map(|(d, s)| docker_archive::descriptor(OCI_LAYER_TAR, d.clone(), *s))
            .collect(),
        subject: None,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&m)?;
    let digest = Digest::of_bytes(&bytes);
    Ok((bytes, digest, OCI_MANIFEST.to_string()))
}

/// Everything checked: store layers, blobs and records under the lock.
fn register(
    store: &Store,
    planned: Vec<Planned>,
    staged: Vec<(StagedLayer, LayerRecord)>,
) -> Result<Vec<LoadedImage>> {
    let _lock = store.lock()?;
    for (layer, rec) in staged {
        store.layers.commit(layer, &rec)?;
    }
    let mut images = store.images.load()?;
    let mut out = Vec::new();
    for p in planned {
        let mut size = 0;
        for d in &p.diff_ids {
            // A concurrent `rmi` may have taken a layer we found present.
            let rec = store
                .layers
                .record(d)
                .map_err(|_| anyhow!("layer {d} was removed while loading; load again"))?;
            size += rec.size;
        }
        store.blobs.put(&p.config_bytes, Some(&p.config_digest))?;
        let (bytes, digest, media_type) = p.manifest;
        store.blobs.put(&bytes, Some(&digest))?;
        let id = p.config_digest.hex().to_string();
        images.upsert(ImageRecord {
            id: id.clone(),
            names: p.names.clone(),
            names_history: Vec::new(),
            manifest_digest: digest.clone(),
            manifest_media_type: media_type,
            repo_digests: Vec::new(),
            digests: vec![digest],
            layers: p.diff_ids,
            size,
            created: p.created,
            added: crate::format::human::now_rfc3339(),
        });
        out.push(LoadedImage { id, names: p.names });
    }
    store.images.save(&images)?;
    Ok(out)
}
