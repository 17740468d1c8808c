//! Pulling an image: manifest (through an index when there is one), config,
//! then every missing layer streamed in one pass — download, sha256, decompress,
//! unpack — several layers at once. The image is registered only when every
//! part is in place; layers finished before a failure stay for the next try.

use super::client::{ClientOptions, RegistryClient};
use super::manifest::{
    choose_manifest, host_platform, layer_compression, parse_manifest, Descriptor, ImageManifest,
    LayerCompression, ParsedManifest, Platform,
};
use super::progress::Progress;
use super::reference::{parse_name, ParsedName, Reference};
use super::shortnames::search_registries;
use crate::storage::compression::{self, Compression};
use crate::storage::digest::{Digest, HashingReader};
use crate::storage::image_config::ImageConfig;
use crate::storage::images::ImageRecord;
use crate::storage::layers::LayerRecord;
use crate::storage::store::Store;
use crate::storage::unpack::{self, UnpackOptions};
use anyhow::{anyhow, bail, Context, Result};
use std::io::{self, Read};

#[derive(Default, Clone)]
pub struct PullOptions {
    pub client: ClientOptions,
    pub platform: Option<Platform>,
    pub quiet: bool,
}

/// Layers fetched at once: enough to overlap network and CPU on small hosts.
const PARALLEL_LAYERS: usize = 3;
/// Whole-layer attempts when the connection breaks mid-stream.
const LAYER_ATTEMPTS: usize = 3;
/// Configs are small; refuse a hostile registry's endless one.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Where to look for what the user typed: a qualified name itself, a
/// short name in each search registry in turn (`latest` if untagged).
pub fn name_candidates(name: &str) -> Result<Vec<Reference>> {
    Ok(match parse_name(name)? {
        ParsedName::Qualified(r) => vec![r],
        ParsedName::Short {
            repository,
            tag,
            digest,
        } => search_registries()?
            .into_iter()
            .map(|registry| {
                let repository = if registry == "docker.io" && !repository.contains('/') {
                    format!("library/{repository}")
                } else {
                    repository.clone()
                };
                let tag = if tag.is_none() && digest.is_none() {
                    Some("latest".to_string())
                } else {
                    tag.clone()
                };
                Reference {
                    registry,
                    repository,
                    tag,
                    digest: digest.clone(),
                }
            })
            .collect(),
    })
}

/// Pull what the user typed: a qualified name directly, a short name from
/// each search registry in turn.
pub fn pull_by_name(store: &Store, name: &str, opts: &PullOptions) -> Result<ImageRecord> {
    let candidates = name_candidates(name)?;
    let progress = Progress::new(opts.quiet);
    let mut errors = Vec::new();
    for r in &candidates {
        progress.line(&format!("Trying to pull {r}..."));
        match pull_reference(store, r, opts, &progress) {
            Ok(img) => return Ok(img),
            Err(e) => errors.push((r.to_string(), e)),
        }
    }
    match errors.len() {
        0 => bail!("{name}: no registries to search for short names"),
        1 => {
            let (r, e) = errors.pop().expect("one error");
            Err(e.context(format!("pulling {r}")))
        }
        _ => {
            let all: Vec<String> = errors.iter().map(|(r, e)| format!("{r}: {e:#}")).collect();
            bail!(
                "pulling {name}: every search registry failed: {}",
                all.join("; ")
            )
        }
    }
}

/// The manifest chosen for this host (or `--platform`), and the index it came from.
struct Chosen {
    manifest: ImageManifest,
    bytes: Vec<u8>,
    media_type: String,
    digest: Digest,
    index: Option<(Vec<u8>, Digest)>,
}

fn choose(client: &RegistryClient, r: &Reference, want: &Platform) -> Result<Chosen> {
    let first = client
        .get_manifest(&r.repository, &r.reference_str())
        .context("reading manifest")?;
    match parse_manifest(&first.bytes, &first.media_type)? {
        ParsedManifest::Image(manifest) => Ok(Chosen {
            manifest,
            bytes: first.bytes,
            media_type: first.media_type,
            digest: first.digest,
            index: None,
        }),
        ParsedManifest::Index(index) => {
            let desc = choose_manifest(&index, want)?;
            let inner = client
                .get_manifest(&r.repository, &desc.digest.to_string())
                .with_context(|| format!("reading manifest {}", desc.digest))?;
            match parse_manifest(&inner.bytes, &inner.media_type)? {
                ParsedManifest::Image(manifest) => Ok(Chosen {
                    manifest,
                    bytes: inner.bytes,
                    media_type: inner.media_type,
                    digest: inner.digest,
                    index: Some((first.bytes, first.digest)),
                }),
                ParsedManifest::Index(_) => {
                    bail!("image index {} points at another index", first.digest)
                }
            }
        }
    }
}

pub fn pull_reference(
    store: &Store,
    r: &Reference,
    opts: &PullOptions,
    progress: &Progress,
) -> Result<ImageRecord> {
    // containers-policy.json may refuse the image before any download.
    let needed = match crate::config::policy::default_path() {
        Some(policy) => crate::config::policy::check(&policy, "docker", &r.to_string())?,
        None => Default::default(),
    };
    let client = RegistryClient::new(&r.registry, &opts.client)?;
    // Staging left by pulls that were killed half way.
    store.layers.sweep_stale_temp();
    let want = opts.platform.clone().unwrap_or_else(host_platform);
    let chosen = choose(&client, r, &want)?;
    // Signatures sign the manifest the reference names (a list's, for a list).
    let top = chosen.index.as_ref().map_or(&chosen.digest, |(_, d)| d);
    super::signature::verify(r, top, &needed.signed_by, store.rootless)?;
    if !needed.sigstore.is_empty() {
        let attachments =
            crate::config::registries_d::load()?.use_sigstore_attachments(&r.to_string());
        super::signature::sigstore::verify(&client, r, top, &needed.sigstore, attachments)?;
    }
    let manifest = &chosen.manifest;

    // Check everything we can before moving a byte of layer data.
    let compressions = manifest
        .layers
        .iter()
        .map(|l| layer_compression(&l.media_type))
        .collect::<Result<Vec<_>>>()?;
    progress.line("Getting image source signatures");
    let config_bytes = fetch_small_blob(&client, &r.repository, &manifest.config)
        .with_context(|| format!("reading config {}", manifest.config.digest))?;
    let config = ImageConfig::parse(&config_bytes)?;
    let diff_ids = config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| Digest::parse(d))
        .collect::<Result<Vec<_>>>()
        .context("malformed image configuration: bad diff id")?;
    if diff_ids.len() != manifest.layers.len() {
        bail!(
            "malformed image: the manifest lists {} layers but the configuration {}",
            manifest.layers.len(),
            diff_ids.len()
        );
    }
    if opts.platform.is_some()
        && chosen.index.is_none()
        && (config.architecture != want.architecture || config.os != want.os)
    {
        crate::warn!(
            "image platform ({}/{}) does not match the expected platform ({}/{})",
            config.os,
            config.architecture,
            want.os,
            want.architecture
        );
    }

    let unpack_opts = UnpackOptions {
        xattr_prefix: store.xattr_prefix(),
        whiteout: unpack::probe_whiteout_form(&store.image_tmp()),
        rootless: store.rootless,
        merge: Default::default(),
    };
    let mut jobs: Vec<(usize, &Descriptor, Digest, Compression)> = Vec::new();
    for (i, (desc, diff_id)) in manifest.layers.iter().zip(&diff_ids).enumerate() {
        let label = desc.digest.short().to_string();
        if store.layers.has(diff_id) || jobs.iter().any(|j| j.2 == *diff_id) {
            progress.line(&format!("Copying blob {label} skipped: already exists"));
            continue;
        }
        let c = match compressions[i] {
            LayerCompression::None => Compression::None,
            LayerCompression::Gzip => Compression::Gzip,
            LayerCompression::Zstd => Compression::Zstd,
        };
        jobs.push((i, desc, diff_id.clone(), c));
    }

    super::parallel::run_parallel(&jobs, PARALLEL_LAYERS, |(_, desc, diff_id, c)| {
        fetch_layer(
            store,
            &client,
            &r.repository,
            desc,
            diff_id,
            *c,
            &unpack_opts,
            progress,
        )
    })?;
    progress.line(&format!(
        "Copying config {} done",
        manifest.config.digest.short()
    ));
    progress.line("Writing manifest to image destination");

    register(store, r, &chosen, &config_bytes, &config, diff_ids)
}

fn fetch_small_blob(client: &RegistryClient, repo: &str, desc: &Descriptor) -> Result<Vec<u8>> {
    if desc.size > MAX_CONFIG_BYTES {
        bail!("blob {} is too large ({} bytes)", desc.digest, desc.size);
    }
    let mut data = Vec::with_capacity(desc.size as usize);
    client
        .get_blob(repo, &desc.digest)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut data)?;
    let got = Digest::of_bytes(&data);
    if got != desc.digest {
        bail!("digest mismatch: expected {}, got {got}", desc.digest);
    }
    Ok(data)
}

/// An error worth another whole-layer attempt (the connection, not the data).
fn is_transient(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::TimedOut
            )
        })
    })
}

#[allow(clippy::too_many_arguments)]
fn fetch_layer(
    store: &Store,
    client: &RegistryClient,
    repo: &str,
    desc: &Descriptor,
    diff_id: &Digest,
    compression: Compression,
    unpack_opts: &UnpackOptions,
    progress: &Progress,
) -> Result<()> {
    let label = desc.digest.short().to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let bar = progress.blob(&label, desc.size);
        match fetch_layer_once(
            store,
            client,
            repo,
            desc,
            diff_id,
            compression,
            unpack_opts,
            &bar,
        ) {
            Ok(()) => {
                progress.blob_done(bar, "blob", &label, "done");
                return Ok(());
            }
            Err(e) if attempt < LAYER_ATTEMPTS && is_transient(&e) => {
                crate::debug!("layer {}: {e:#}; retrying", desc.digest);
                std::thread::sleep(std::time::Duration::from_millis(200 << attempt));
            }
            Err(e) => return Err(e.context(format!("layer {}", desc.digest))),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn fetch_layer_once(
    store: &Store,
    client: &RegistryClient,
    repo: &str,
    desc: &Descriptor,
    diff_id: &Digest,
    compression: Compression,
    unpack_opts: &UnpackOptions,
    bar: &super::progress::BlobProgress,
) -> Result<()> {
    let staged = store.layers.stage()?;
    let body = client.get_blob(repo, &desc.digest)?;
    let mut blob = HashingReader::new(bar.wrap(body));
    let (tar_digest, tar_size) = {
        let decompressed = compression::decompress(&mut blob, compression)?;
        let mut tar = HashingReader::new(decompressed);
        unpack::unpack_layer(&mut tar, &staged.diff_dir(), unpack_opts)?;
        // Tar padding after the end-of-archive marker is part of the diff id.
        io::copy(&mut tar, &mut io::sink()).context("reading layer")?;
        let size = tar.len();
        (tar.finish().1, size)
    };
    io::copy(&mut blob, &mut io::sink()).context("reading layer")?;
    let blob_size = blob.len();
    let (_, blob_digest) = blob.finish();
    if blob_size != desc.size {
        bail!(
            "blob size mismatch: expected {} bytes, got {blob_size}",
            desc.size
        );
    }
    if blob_digest != desc.digest {
        bail!(
            "digest mismatch: expected {}, got {blob_digest}",
            desc.digest
        );
    }
    if tar_digest != *diff_id {
        bail!("layer content does not match the configuration's diff id: expected {diff_id}, got {tar_digest}");
    }
    let record = LayerRecord {
        diff_id: diff_id.clone(),
        size: tar_size,
        compressed_digest: Some(desc.digest.clone()),
        compressed_size: Some(desc.size),
        media_type: Some(desc.media_type.clone()),
        created: crate::format::human::now_rfc3339(),
    };
    store.layers.commit(staged, &record)
}

/// Store the blobs and the image record, under the store lock.
fn register(
    store: &Store,
    r: &Reference,
    chosen: &Chosen,
    config_bytes: &[u8],
    config: &ImageConfig,
    diff_ids: Vec<Digest>,
) -> Result<ImageRecord> {
    let config_digest = store.blobs.put(config_bytes, None)?;
    store.blobs.put(&chosen.bytes, Some(&chosen.digest))?;
    if let Some((bytes, digest)) = &chosen.index {
        store.blobs.put(bytes, Some(digest))?;
    }
    let _lock = store.lock()?;
    let mut size = 0;
    for d in &diff_ids {
        // A concurrent `rmi` may have taken a layer we skipped as present.
        let rec = store
            .layers
            .record(d)
            .map_err(|_| anyhow!("layer {d} was removed while pulling; pull again"))?;
        size += rec.size;
    }
    let repo = r.repo_name();
    let mut digests = Vec::new();
    if let Some((_, d)) = &chosen.index {
        digests.push(d.clone());
    }
    digests.push(chosen.digest.clone());
    let name = match (&r.tag, &r.digest) {
        (Some(t), _) => format!("{repo}:{t}"),
        (None, Some(d)) => format!("{repo}@{d}"),
        (None, None) => format!("{repo}:latest"),
    };
    let record = ImageRecord {
        id: config_digest.hex().to_string(),
        names: vec![name],
        names_history: Vec::new(),
        manifest_digest: chosen.digest.clone(),
        manifest_media_type: chosen.media_type.clone(),
        repo_digests: digests.iter().map(|d| format!("{repo}@{d}")).collect(),
        digests,
        layers: diff_ids,
        size,
        created: config.created.clone(),
        added: crate::format::human::now_rfc3339(),
    };
    let mut images = store.images.load()?;
    images.upsert(record);
    store.images.save(&images)?;
    Ok(images
        .by_id(config_digest.hex())
        .expect("just stored")
        .clone())
}
