//! Pushing a manifest list: each instance image into the destination
//! repository under its digest, then the index (rewritten to name what the
//! registry now holds) under the tag. Also reading a list from a registry.

use super::client::{ClientOptions, FetchedManifest, RegistryClient};
use super::manifest::{
    choose_manifest, parse_manifest, Descriptor, ImageIndex, ParsedManifest, Platform,
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX,
};
use super::push::{copy_remote_instance, push_instance, put_manifest, ManifestFormat, PushOptions};
use super::reference::Reference;
use crate::storage::compression::Compression;
use crate::storage::digest::Digest;
use crate::storage::image_config::ImageConfig;
use crate::storage::images::ImageRecord;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::io::Read;

/// Configurations are small; refuse a hostile registry's endless one.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// One entry of the list to push: the local image behind it, the image in
/// a registry it was added from (`manifest add docker://...`), or neither
/// when only the index is pushed (`--all=false`).
pub struct Instance<'a> {
    pub image: Option<&'a ImageRecord>,
    /// `registry/repository@digest`.
    pub remote: Option<Reference>,
    /// The image's stored manifest must go as it is (signatures of it go
    /// along): see [`PushOptions::keep_manifest`].
    pub keep_manifest: bool,
}

/// What `manifest push` sends.
pub struct ListPush<'a> {
    pub index: &'a ImageIndex,
    /// `instances[i]` is the image of `index.manifests[i]`.
    pub instances: &'a [Instance<'a>],
    /// The index's type (`--format`).
    pub format: ManifestFormat,
    /// `--add-compression`: each local image again in these compressions,
    /// as further entries.
    pub variants: &'a [Compression],
}

/// c/image's mark on an index entry whose layers are zstd.
const ZSTD_ANNOTATION: &str = "io.github.containers.compression.zstd";

/// Push the list to `dest`. Returns the pushed index's digest.
pub fn push_list(
    store: &Store,
    list: &ListPush,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<Digest> {
    if dest.digest.is_some() {
        bail!("cannot push to a digest reference: give a tag");
    }
    let (index, instances, list_format) = (list.index, list.instances, list.format);
    let mut out = index.clone();
    let mut extra = Vec::new();
    for (entry, inst) in out.manifests.iter_mut().zip(instances) {
        let Some(image) = inst.image else {
            if let Some(source) = &inst.remote {
                // Copied as it is: the entry keeps its digest.
                copy_remote_instance(store, source, dest, opts)?;
            }
            continue;
        };
        let instance_opts = PushOptions {
            keep_manifest: inst.keep_manifest,
            ..opts.clone()
        };
        let pushed = push_instance(store, image, dest, &instance_opts)?;
        entry.digest = pushed.digest;
        entry.size = pushed.size;
        entry.media_type = pushed.media_type;
        let main = opts.compression.unwrap_or(Compression::Gzip);
        for &c in list.variants.iter().filter(|&&c| c != main) {
            let variant_opts = PushOptions {
                compression: Some(c),
                force_compression: true,
                ..opts.clone()
            };
            let pushed = push_instance(store, image, dest, &variant_opts)?;
            let mut variant = entry.clone();
            variant.digest = pushed.digest;
            variant.size = pushed.size;
            variant.media_type = pushed.media_type;
            if c == Compression::Zstd {
                variant
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(ZSTD_ANNOTATION.to_string(), "true".to_string());
            }
            extra.push(variant);
        }
    }
    for v in extra {
        if !out.manifests.iter().any(|m| m.digest == v.digest) {
            out.manifests.push(v);
        }
    }
    let media_type = match list_format {
        ManifestFormat::Oci => OCI_INDEX,
        ManifestFormat::V2s2 => {
            if let Some(e) = out
                .manifests
                .iter()
                .find(|e| e.media_type != DOCKER_MANIFEST)
            {
                bail!(
                    "a v2s2 manifest list can only hold v2s2 images, not {} ({}): push with --format v2s2 for the images too, or --format oci",
                    e.digest,
                    e.media_type
                );
            }
            // Docker lists carry no annotations.
            out.annotations = None;
            for e in &mut out.manifests {
                e.annotations = None;
            }
            DOCKER_MANIFEST_LIST
        }
    };
    out.media_type = Some(media_type.to_string());
    let bytes = serde_json::to_vec_pretty(&out)?;
    let client = RegistryClient::new(&dest.registry, &opts.client)?;
    let tag = dest.tag.clone().unwrap_or_else(|| "latest".to_string());
    put_manifest(&client, &dest.repository, &tag, &bytes, media_type)
        .with_context(|| format!("pushing manifest list {dest}"))?;
    Ok(Digest::of_bytes(&bytes))
}

/// The manifest or index `r` names in its registry, as stored there.
pub fn fetch_remote(r: &Reference, opts: &ClientOptions) -> Result<FetchedManifest> {
    let client = RegistryClient::new(&r.registry, opts)?;
    client
        .get_manifest(&r.repository, &r.reference_str())
        .with_context(|| format!("reading manifest of {r}"))
}

/// The index entries `r` (an image or a list in a registry) gives a list:
/// an image's own (its platform read from its configuration), or a list's
/// entries: every one (`all`) or the one for `want`.
pub fn remote_entries(
    r: &Reference,
    all: bool,
    want: &Platform,
    opts: &ClientOptions,
) -> Result<Vec<Descriptor>> {
    let client = RegistryClient::new(&r.registry, opts)?;
    let fetched = client
        .get_manifest(&r.repository, &r.reference_str())
        .with_context(|| format!("reading manifest of {r}"))?;
    match parse_manifest(&fetched.bytes, &fetched.media_type)? {
        ParsedManifest::Index(index) => Ok(if all {
            index.manifests
        } else {
            vec![choose_manifest(&index, want)?.clone()]
        }),
        ParsedManifest::Image(m) => {
            let mut config = Vec::new();
            client
                .get_blob(&r.repository, &m.config.digest)?
                .take(MAX_CONFIG_BYTES)
                .read_to_end(&mut config)
                .with_context(|| format!("reading the configuration of {r}"))?;
            if Digest::of_bytes(&config) != m.config.digest {
                bail!("{r}: the configuration does not match its digest");
            }
            let config = ImageConfig::parse(&config)?;
            Ok(vec![Descriptor {
                media_type: fetched.media_type,
                digest: fetched.digest,
                size: fetched.bytes.len() as u64,
                platform: Some(Platform {
                    architecture: config.architecture,
                    os: config.os,
                    variant: config.variant.filter(|v| !v.is_empty()),
                    os_version: config
                        .extra
                        .get("os.version")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                    os_features: None,
                    features: None,
                }),
                annotations: None,
                urls: None,
                artifact_type: None,
            }])
        }
    }
}
