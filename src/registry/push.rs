//! Pushing an image: each layer blob (reused when the destination has it or
//! can mount it, else made from the layer directory), the config, then the
//! manifest. An unchanged pulled image goes back with its own manifest, so
//! a re-push sends no layer and keeps the manifest digest.

use super::client::{
    repository_scope, ClientOptions, HttpRequest, Method, RegistryClient, UploadBody,
};
use super::manifest::{
    layer_compression, parse_manifest, Descriptor, ImageManifest, LayerCompression, ParsedManifest,
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, DOCKER_MANIFEST, OCI_CONFIG,
    OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use super::progress::Progress;
use super::reference::{parse_name, ParsedName, Reference};
use crate::storage::atomic;
use crate::storage::compression::Compression;
use crate::storage::digest::{Digest, HashingReader};
use crate::storage::image_config::with_diff_ids;
use crate::storage::images::ImageRecord;
use crate::storage::layer_tar::{write_layer_blob_at, LayerTarOptions};
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Blobs bigger than this go up in chunks (PATCH...PUT), one PUT otherwise.
pub const DEFAULT_CHUNK_SIZE: u64 = 64 << 20;
/// Layers prepared and sent at once.
const PARALLEL_LAYERS: usize = 3;
/// Beside `layer.json`: blobs earlier pushes made of this layer whose tar is
/// not byte for byte the pulled one (so they carry another diff id).
const PUSHED_FORMS: &str = "pushed.json";
const MAX_PUSHED_FORMS: usize = 4;

/// A compressed form of a layer some registry may already hold.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct PushedForm {
    digest: Digest,
    size: u64,
    media_type: String,
    /// Digest of the tar inside it.
    diff_id: Digest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestFormat {
    Oci,
    /// Docker image manifest v2, schema 2.
    V2s2,
}

impl ManifestFormat {
    pub fn parse(s: &str) -> Result<ManifestFormat> {
        match s {
            "oci" => Ok(ManifestFormat::Oci),
            "v2s2" | "docker" => Ok(ManifestFormat::V2s2),
            other => bail!("unsupported manifest format {other:?}: use oci or v2s2"),
        }
    }

    fn manifest_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => OCI_MANIFEST,
            ManifestFormat::V2s2 => DOCKER_MANIFEST,
        }
    }

    fn config_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => OCI_CONFIG,
            ManifestFormat::V2s2 => DOCKER_CONFIG,
        }
    }

    fn layer_type(self, c: Compression) -> Result<&'static str> {
        Ok(match (self, c) {
            (ManifestFormat::Oci, Compression::Gzip) => OCI_LAYER_GZIP,
            (ManifestFormat::Oci, Compression::Zstd) => OCI_LAYER_ZSTD,
            (ManifestFormat::Oci, Compression::None) => OCI_LAYER_TAR,
            (ManifestFormat::V2s2, Compression::Gzip) => DOCKER_LAYER_GZIP,
            (ManifestFormat::V2s2, Compression::None) => DOCKER_LAYER_TAR,
            (ManifestFormat::V2s2, Compression::Zstd) => {
                bail!("zstd compression is not supported with the v2s2 manifest format: use --format oci")
            }
        })
    }
}

#[derive(Clone, Debug)]
pub struct PushOptions {
    pub client: ClientOptions,
    /// None: keep the stored manifest's format (OCI when there is none).
    pub format: Option<ManifestFormat>,
    /// The compression of new blobs (gzip when None).
    pub compression: Option<Compression>,
    /// `--compression-level` for new blobs.
    pub compression_level: Option<i32>,
    /// Reuse only blobs in `compression` (gzip when None); else any
    /// compressed form the registry has or can mount is reused.
    pub force_compression: bool,
    pub quiet: bool,
    /// Blobs above this size are uploaded in chunks of this size.
    pub chunk_size: u64,
    /// The stored manifest must go as it is (the image's signatures sign
    /// it): a layer that would have to be compressed now is an error.
    pub keep_manifest: bool,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            client: ClientOptions::default(),
            format: None,
            compression: None,
            compression_level: None,
            force_compression: false,
            quiet: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
            keep_manifest: false,
        }
    }
}

/// Push `image` to `dest` (a tag; `latest` when none). Returns the digest of
/// the manifest the registry now holds. Rootless, call it inside the user
/// namespace: layer directories hold files of subordinate owners.
pub fn push(
    store: &Store,
    image: &ImageRecord,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<Digest> {
    push_inner(store, image, dest, opts, false)
        .map(|d| d.digest)
        .with_context(|| format!("pushing {dest}"))
}

/// Push `image` into `dest`'s repository under its manifest's digest (no
/// tag): an instance of a list pushed next. Returns the manifest's
/// descriptor as the registry holds it.
pub fn push_instance(
    store: &Store,
    image: &ImageRecord,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<Descriptor> {
    push_inner(store, image, dest, opts, true)
        .with_context(|| format!("pushing image {} to {}", image.id, dest.repo_name()))
}

/// A list's entry that names an image in a registry (`manifest add
/// docker://...`, never pulled): copied to `dest` under its digest, blob by
/// blob, each mounted when both are on one registry, else streamed through
/// a temporary file with its digest checked.
pub fn copy_remote_instance(
    store: &Store,
    source: &Reference,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<()> {
    let what = format!("copying {source} to {}", dest.repo_name());
    copy_remote(store, source, dest, opts).context(what)
}

fn copy_remote(
    store: &Store,
    source: &Reference,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<()> {
    let digest = source.reference_str();
    let src = RegistryClient::new(&source.registry, &opts.client)?;
    let fetched = src.get_manifest(&source.repository, &digest)?;
    let ParsedManifest::Image(manifest) = parse_manifest(&fetched.bytes, &fetched.media_type)?
    else {
        bail!("an index cannot be an entry of a list");
    };
    let client = RegistryClient::new(&dest.registry, &opts.client)?;
    let repo = dest.repository.as_str();
    let scope = repository_scope(repo, &["pull", "push"]);
    let progress = Progress::new(opts.quiet);
    let same_registry = source.registry == dest.registry && source.repository != dest.repository;
    let ctx = Ctx {
        store,
        client: &client,
        repo,
        scope: &scope,
        format: ManifestFormat::Oci,
        opts,
        progress: &progress,
        mount_from: if same_registry {
            vec![source.repository.clone()]
        } else {
            Vec::new()
        },
    };
    for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
        if ctx.blob_exists(&blob.digest)? || ctx.try_mount(&blob.digest)? {
            progress.line(&format!(
                "Copying blob {} skipped: already exists",
                blob.digest.short()
            ));
            continue;
        }
        let tmp = TempFile::new(&store.image_tmp())?;
        let mut reader = HashingReader::new(src.get_blob(&source.repository, &blob.digest)?);
        let mut file = std::fs::File::create(tmp.path())
            .with_context(|| format!("creating {}", tmp.path().display()))?;
        std::io::copy(&mut reader, &mut file)
            .with_context(|| format!("fetching blob {}", blob.digest))?;
        let size = reader.len();
        let (_, got) = reader.finish();
        if got != blob.digest {
            bail!("blob {} arrived as {got}", blob.digest);
        }
        ctx.upload(&blob.digest, size, BlobSource::File(tmp.path()))?;
        progress.line(&format!("Copying blob {} done", blob.digest.short()));
    }
    put_manifest(&client, repo, &digest, &fetched.bytes, &fetched.media_type)
}

/// What the store already knows about the image as a registry would see it.
struct Stored {
    manifest: ImageManifest,
    bytes: Vec<u8>,
    media_type: String,
}

fn stored_manifest(store: &Store, image: &ImageRecord) -> Option<Stored> {
    let mt = image.manifest_media_type.as_str();
    if mt != OCI_MANIFEST && mt != DOCKER_MANIFEST {
        return None;
    }
    let bytes = store.blobs.read(&image.manifest_digest).ok()?;
    let ParsedManifest::Image(manifest) = parse_manifest(&bytes, mt).ok()? else {
        return None;
    };
    // Only the manifest of exactly this image (same config, same layers).
    if manifest.config.digest != image.config_digest()
        || manifest.layers.len() != image.layers.len()
    {
        return None;
    }
    Some(Stored {
        manifest,
        bytes,
        media_type: mt.to_string(),
    })
}

/// Whether pushing `image` with `opts` sends its stored manifest byte for
/// byte: no change of format or compression, and every layer already a
/// compressed blob (none made at push time, which would change the
/// manifest). What carrying the image's signatures needs.
pub fn keeps_manifest(store: &Store, image: &ImageRecord, opts: &PushOptions) -> bool {
    let Some(stored) = stored_manifest(store, image) else {
        return false;
    };
    let format = match stored.media_type.as_str() {
        DOCKER_MANIFEST => ManifestFormat::V2s2,
        _ => ManifestFormat::Oci,
    };
    if opts.format.is_some_and(|f| f != format) {
        return false;
    }
    stored.manifest.layers.iter().all(|l| {
        match layer_compression(&l.media_type).map(to_compression) {
            Ok(Compression::None) | Err(_) => false,
            Ok(c) => {
                !opts.force_compression || Some(c) == opts.compression.or(Some(Compression::Gzip))
            }
        }
    })
}

/// containers/image's refusal, as podman prints it.
pub const WOULD_INVALIDATE_SIGNATURES: &str = "Copying this image would require changing layer representation, which we cannot do: \"Would invalidate signatures\"";

fn push_inner(
    store: &Store,
    image: &ImageRecord,
    dest: &Reference,
    opts: &PushOptions,
    by_digest: bool,
) -> Result<Descriptor> {
    if dest.digest.is_some() {
        bail!("cannot push to a digest reference: give a tag");
    }
    let tag = dest.tag.clone().unwrap_or_else(|| "latest".to_string());
    let stored = stored_manifest(store, image);
    let format = match (opts.format, &stored) {
        (Some(f), _) => f,
        (None, Some(s)) if s.media_type == DOCKER_MANIFEST => ManifestFormat::V2s2,
        _ => ManifestFormat::Oci,
    };
    // Refuse an impossible combination before any network traffic.
    format.layer_type(opts.compression.unwrap_or(Compression::Gzip))?;

    let client = RegistryClient::new(&dest.registry, &opts.client)?;
    let repo = dest.repository.as_str();
    let scope = repository_scope(repo, &["pull", "push"]);
    let progress = Progress::new(opts.quiet);
    let ctx = Ctx {
        store,
        client: &client,
        repo,
        scope: &scope,
        format,
        opts,
        progress: &progress,
        mount_from: with_base_sources(store, image, dest, mount_sources(image, dest)),
    };

    let config_digest = image.config_digest();
    let config_bytes = store
        .blobs
        .read(&config_digest)
        .context("reading the image configuration")?;

    progress.line("Getting image source signatures");
    let descriptors: Mutex<Vec<Option<(Descriptor, Digest)>>> =
        Mutex::new(vec![None; image.layers.len()]);
    let jobs: Vec<usize> = (0..image.layers.len()).collect();
    super::parallel::run_parallel(&jobs, PARALLEL_LAYERS, |&i| {
        let known = stored.as_ref().map(|s| &s.manifest.layers[i]);
        let d = ctx
            .push_layer(&image.layers[i], known)
            .with_context(|| format!("layer {}", image.layers[i]))?;
        descriptors.lock().expect("no poison")[i] = Some(d);
        Ok(())
    })?;
    let (layers, diff_ids): (Vec<Descriptor>, Vec<Digest>) = descriptors
        .into_inner()
        .expect("no poison")
        .into_iter()
        .map(|d| d.expect("every layer pushed"))
        .unzip();

    // A layer made again from its directory may not be byte for byte the
    // tar it was pulled as; the config must name what was sent.
    let (config_bytes, config_digest) = if diff_ids != image.layers {
        let bytes = with_diff_ids(&config_bytes, &diff_ids)?;
        let digest = Digest::of_bytes(&bytes);
        (bytes, digest)
    } else {
        (config_bytes, config_digest)
    };
    let config = Descriptor {
        media_type: format.config_type().to_string(),
        digest: config_digest.clone(),
        size: config_bytes.len() as u64,
        platform: None,
        annotations: None,
        urls: None,
        artifact_type: None,
    };
    if ctx.blob_exists(&config_digest)? {
        progress.line(&format!(
            "Copying config {} skipped: already exists",
            config_digest.short()
        ));
    } else {
        ctx.upload(
            &config_digest,
            config_bytes.len() as u64,
            BlobSource::Bytes(&config_bytes),
        )
        .context("writing config")?;
        progress.line(&format!("Copying config {} done", config_digest.short()));
    }

    // The exact stored manifest when nothing in it changed: same digest.
    let (bytes, media_type) = match &stored {
        Some(s)
            if s.media_type == format.manifest_type()
                && s.manifest.layers.iter().zip(&layers).all(|(a, b)| {
                    a.digest == b.digest && a.media_type == b.media_type && a.size == b.size
                })
                && s.manifest.config.media_type == config.media_type
                && s.manifest.config.digest == config.digest =>
        {
            (s.bytes.clone(), s.media_type.clone())
        }
        _ => {
            let m = ImageManifest {
                schema_version: 2,
                media_type: Some(format.manifest_type().to_string()),
                artifact_type: None,
                config,
                layers,
                subject: None,
                annotations: None,
            };
            (serde_json::to_vec(&m)?, format.manifest_type().to_string())
        }
    };
    progress.line("Writing manifest to image destination");
    let digest = Digest::of_bytes(&bytes);
    let reference = if by_digest { digest.to_string() } else { tag };
    put_manifest(&client, repo, &reference, &bytes, &media_type)?;
    Ok(Descriptor {
        media_type,
        digest,
        size: bytes.len() as u64,
        platform: None,
        annotations: None,
        urls: None,
        artifact_type: None,
    })
}

/// PUT a manifest (or index) into `repo` under `reference` (tag or digest).
pub fn put_manifest(
    client: &RegistryClient,
    repo: &str,
    reference: &str,
    bytes: &[u8],
    media_type: &str,
) -> Result<()> {
    let scope = repository_scope(repo, &["pull", "push"]);
    let path = format!("/v2/{repo}/manifests/{reference}");
    let mut req = HttpRequest::new(Method::Put, &path, Some(&scope));
    req.headers.push(("Content-Type", media_type.to_string()));
    req.body = UploadBody::Bytes(bytes);
    let resp = client.request(&req).context("writing manifest")?;
    if !(200..300).contains(&resp.status().as_u16()) {
        let err = client.error_from(resp, "name unknown");
        return Err(anyhow::Error::new(err).context("writing manifest"));
    }
    Ok(())
}

/// `sources` and the repositories on `dest`'s registry the images `image`
/// stands on were pulled from (a built image's base): what
/// containers/image's blob info cache would offer to mount its layers
/// from, so the base's blobs keep their digests.
fn with_base_sources(
    store: &Store,
    image: &ImageRecord,
    dest: &Reference,
    mut sources: Vec<String>,
) -> Vec<String> {
    let Ok(images) = store.images.load() else {
        return sources;
    };
    for base in &images.list {
        if base.id == image.id || base.layers.is_empty() || !image.layers.starts_with(&base.layers)
        {
            continue;
        }
        for repo in mount_sources(base, dest) {
            if !sources.contains(&repo) {
                sources.push(repo);
            }
        }
    }
    sources
}

/// Repositories on the destination's registry the image was pulled from:
/// a blob there can be mounted instead of sent.
fn mount_sources(image: &ImageRecord, dest: &Reference) -> Vec<String> {
    let mut out = Vec::new();
    for rd in &image.repo_digests {
        if let Ok(ParsedName::Qualified(r)) = parse_name(rd) {
            if r.registry == dest.registry
                && r.repository != dest.repository
                && !out.contains(&r.repository)
            {
                out.push(r.repository);
            }
        }
    }
    out
}

struct Ctx<'a> {
    store: &'a Store,
    client: &'a RegistryClient,
    repo: &'a str,
    scope: &'a str,
    format: ManifestFormat,
    opts: &'a PushOptions,
    progress: &'a Progress,
    mount_from: Vec<String>,
}

enum BlobSource<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

impl Ctx<'_> {
    /// One layer: reuse a blob the registry has (or can mount), else make
    /// one from the layer directory and upload it.
    /// Returns the descriptor and the diff id of what the blob holds.
    fn push_layer(
        &self,
        diff_id: &Digest,
        known: Option<&Descriptor>,
    ) -> Result<(Descriptor, Digest)> {
        let record = self.store.layers.record(diff_id)?;
        let wanted = self.opts.compression.unwrap_or(Compression::Gzip);
        // Blobs this layer is known as: the pulled manifest's, the record's,
        // then forms earlier pushes made (with the diff id each one holds).
        let mut candidates: Vec<PushedForm> = Vec::new();
        if let Some(d) = known {
            candidates.push(PushedForm {
                digest: d.digest.clone(),
                size: d.size,
                media_type: d.media_type.clone(),
                diff_id: diff_id.clone(),
            });
        }
        if let (Some(d), Some(size), Some(mt)) = (
            &record.compressed_digest,
            record.compressed_size,
            &record.media_type,
        ) {
            candidates.push(PushedForm {
                digest: d.clone(),
                size,
                media_type: mt.clone(),
                diff_id: diff_id.clone(),
            });
        }
        let forms_path = self.store.layers.path(diff_id).join(PUSHED_FORMS);
        let mut forms: Vec<PushedForm> = atomic::read_json(&forms_path)
            .ok()
            .flatten()
            .unwrap_or_default();
        candidates.extend(forms.iter().cloned());
        let mut seen = Vec::new();
        for cand in candidates {
            if seen.contains(&cand.digest) {
                continue;
            }
            seen.push(cand.digest.clone());
            let Ok(c) = layer_compression(&cand.media_type).map(to_compression) else {
                continue;
            };
            if self.opts.force_compression && wanted != c {
                continue;
            }
            let Ok(mt) = self.format.layer_type(c) else {
                continue;
            };
            if self.blob_exists(&cand.digest)? || self.try_mount(&cand.digest)? {
                self.progress.line(&format!(
                    "Copying blob {} skipped: already exists",
                    cand.digest.short()
                ));
                return Ok((layer_descriptor(mt, cand.digest, cand.size), cand.diff_id));
            }
        }

        // A blob the store keeps (`build --disable-compression=false`):
        // sent as it is, so the manifest describing it stays the same.
        if let (Some(path), Some(d), Some(size), Some(mt)) = (
            self.store.layers.stored_compressed(&record),
            &record.compressed_digest,
            record.compressed_size,
            &record.media_type,
        ) {
            let usable = layer_compression(mt)
                .map(to_compression)
                .ok()
                .filter(|c| !self.opts.force_compression || *c == wanted)
                .and_then(|c| self.format.layer_type(c).ok());
            if let Some(mt) = usable {
                self.upload(d, size, BlobSource::File(&path))?;
                self.progress
                    .line(&format!("Copying blob {} done", d.short()));
                return Ok((layer_descriptor(mt, d.clone(), size), diff_id.clone()));
            }
        }

        if self.opts.keep_manifest {
            bail!("{WOULD_INVALIDATE_SIGNATURES}");
        }
        // Make the blob: layer tar, compressed, hashed, into a temp file.
        let c = wanted;
        let mt = self.format.layer_type(c)?;
        let tmp = TempFile::new(&self.store.image_tmp())?;
        let (digest, size, tar_digest) = self.build_blob(diff_id, c, tmp.path())?;
        if self.blob_exists(&digest)? {
            self.progress.line(&format!(
                "Copying blob {} skipped: already exists",
                digest.short()
            ));
        } else {
            self.upload(&digest, size, BlobSource::File(tmp.path()))?;
            self.progress
                .line(&format!("Copying blob {} done", digest.short()));
        }
        drop(tmp);
        // Remember this form so the next push of the layer is free. The
        // layer record promises a blob of exactly the layer's tar; a tar made
        // again that differs from the pulled one is remembered beside it.
        if tar_digest == *diff_id {
            let mut record = record;
            record.compressed_digest = Some(digest.clone());
            record.compressed_size = Some(size);
            record.media_type = Some(mt.to_string());
            if let Err(e) = self.store.layers.update_record(&record) {
                crate::debug!("recording the pushed form of layer {diff_id}: {e:#}");
            }
        } else {
            forms.retain(|f| f.digest != digest);
            forms.insert(
                0,
                PushedForm {
                    digest: digest.clone(),
                    size,
                    media_type: mt.to_string(),
                    diff_id: tar_digest.clone(),
                },
            );
            forms.truncate(MAX_PUSHED_FORMS);
            if let Err(e) = atomic::write_json(&forms_path, &forms, false) {
                crate::debug!("recording the pushed form of layer {diff_id}: {e:#}");
            }
        }
        Ok((layer_descriptor(mt, digest, size), tar_digest))
    }

    /// The compressed blob into `dest`: its digest and size, and the
    /// digest of the uncompressed tar (the diff id it carries).
    fn build_blob(
        &self,
        diff_id: &Digest,
        c: Compression,
        dest: &Path,
    ) -> Result<(Digest, u64, Digest)> {
        let tar_opts = LayerTarOptions {
            xattr_prefix: self.store.xattr_prefix(),
            mtime: Default::default(),
        };
        let dir = self.store.layers.diff_dir(diff_id);
        let blob = write_layer_blob_at(&dir, &tar_opts, (c, self.opts.compression_level), dest)?;
        Ok((blob.digest, blob.size, blob.diff_id))
    }

    fn blob_exists(&self, digest: &Digest) -> Result<bool> {
        let path = format!("/v2/{}/blobs/{digest}", self.repo);
        let resp = self
            .client
            .request(&HttpRequest::new(Method::Head, &path, Some(self.scope)))
            .with_context(|| format!("checking blob {digest}"))?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => {
                let err = self.client.error_from(resp, "blob unknown");
                Err(anyhow::Error::new(err).context(format!("checking blob {digest}")))
            }
        }
    }

    /// Ask the registry to link `digest` from a repository it came from.
    fn try_mount(&self, digest: &Digest) -> Result<bool> {
        for from in &self.mount_from {
            let path = format!(
                "/v2/{}/blobs/uploads/?mount={digest}&from={from}",
                self.repo
            );
            let resp = self
                .client
                .request(&HttpRequest::new(Method::Post, &path, Some(self.scope)))
                .with_context(|| format!("mounting blob {digest} from {from}"))?;
            match resp.status().as_u16() {
                201 => return Ok(true),
                // 202: the registry started an ordinary upload instead;
                // it expires unused on the registry's side.
                202 => continue,
                _ => {
                    let err = self.client.error_from(resp, "name unknown");
                    return Err(anyhow::Error::new(err)
                        .context(format!("mounting blob {digest} from {from}")));
                }
            }
        }
        Ok(false)
    }

    /// POST an upload session, then one PUT, or PATCH chunks and a final PUT.
    fn upload(&self, digest: &Digest, size: u64, src: BlobSource<'_>) -> Result<()> {
        let run = || -> Result<()> {
            let start = format!("/v2/{}/blobs/uploads/", self.repo);
            let resp =
                self.client
                    .request(&HttpRequest::new(Method::Post, &start, Some(self.scope)))?;
            if resp.status().as_u16() != 202 {
                return Err(self.client.error_from(resp, "name unknown").into());
            }
            let mut location = location_of(&resp)?;
            let chunked = matches!(src, BlobSource::File(_)) && size > self.opts.chunk_size;
            if chunked {
                let BlobSource::File(path) = &src else {
                    unreachable!("checked above")
                };
                let mut offset = 0;
                while offset < size {
                    let len = self.opts.chunk_size.min(size - offset);
                    let mut req = HttpRequest::new(Method::Patch, &location, Some(self.scope));
                    req.headers
                        .push(("Content-Type", "application/octet-stream".into()));
                    req.headers
                        .push(("Content-Range", format!("{offset}-{}", offset + len - 1)));
                    req.body = UploadBody::File { path, offset, len };
                    let resp = self.client.request(&req)?;
                    if resp.status().as_u16() != 202 {
                        return Err(self.client.error_from(resp, "blob upload unknown").into());
                    }
                    location = location_of(&resp)?;
                    offset += len;
                }
            }
            let target = with_query(&location, &format!("digest={digest}"));
            let mut req = HttpRequest::new(Method::Put, &target, Some(self.scope));
            req.headers
                .push(("Content-Type", "application/octet-stream".into()));
            req.body = match (&src, chunked) {
                (_, true) => UploadBody::Empty,
                (BlobSource::Bytes(b), false) => UploadBody::Bytes(b),
                (BlobSource::File(path), false) => UploadBody::File {
                    path,
                    offset: 0,
                    len: size,
                },
            };
            let resp = self.client.request(&req)?;
            if resp.status().as_u16() != 201 {
                return Err(self.client.error_from(resp, "blob upload unknown").into());
            }
            Ok(())
        };
        run().with_context(|| format!("writing blob {digest}"))
    }
}

fn to_compression(c: LayerCompression) -> Compression {
    match c {
        LayerCompression::None => Compression::None,
        LayerCompression::Gzip => Compression::Gzip,
        LayerCompression::Zstd => Compression::Zstd,
    }
}

fn layer_descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest,
        size,
        platform: None,
        annotations: None,
        urls: None,
        artifact_type: None,
    }
}

fn location_of(resp: &ureq::http::Response<ureq::Body>) -> Result<String> {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the registry started an upload without a Location"))
}

/// Add a query parameter to a URL or path that may already have some.
fn with_query(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// A file in the store's tmp/ removed when dropped. Its name starts with
/// our pid, so the sweep of a later run removes it if we die first.
struct TempFile(PathBuf);

impl TempFile {
    fn new(dir: &Path) -> Result<TempFile> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let nonce: u64 = rand::random();
        Ok(TempFile(
            dir.join(format!("{}-{nonce:016x}-push", std::process::id())),
        ))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_media_types() {
        assert_eq!(ManifestFormat::parse("oci").unwrap(), ManifestFormat::Oci);
        assert_eq!(ManifestFormat::parse("v2s2").unwrap(), ManifestFormat::V2s2);
        assert!(ManifestFormat::parse("v2s1").is_err());
        let v2 = ManifestFormat::V2s2;
        assert_eq!(v2.layer_type(Compression::Gzip).unwrap(), DOCKER_LAYER_GZIP);
        assert!(v2.layer_type(Compression::Zstd).is_err());
        assert_eq!(
            ManifestFormat::Oci.layer_type(Compression::Zstd).unwrap(),
            OCI_LAYER_ZSTD
        );
        assert_eq!(v2.config_type(), DOCKER_CONFIG);
    }

    #[test]
    fn query_and_mount_sources() {
        assert_eq!(
            with_query("/v2/a/blobs/uploads/x", "d=1"),
            "/v2/a/blobs/uploads/x?d=1"
        );
        assert_eq!(
            with_query("http://h/v2/a/blobs/uploads/x?_state=s", "d=1"),
            "http://h/v2/a/blobs/uploads/x?_state=s&d=1"
        );
        let d = Digest::of_bytes(b"m");
        let img = ImageRecord {
            id: Digest::of_bytes(b"c").hex().to_string(),
            names: vec![],
            names_history: vec![],
            manifest_digest: d.clone(),
            manifest_media_type: OCI_MANIFEST.into(),
            repo_digests: vec![
                format!("reg.io:5000/src/app@{d}"),
                format!("reg.io:5000/dst/app@{d}"),
                format!("other.io/src/app@{d}"),
            ],
            digests: vec![d],
            layers: vec![],
            size: 0,
            created: None,
            added: String::new(),
        };
        let dest = Reference::parse("reg.io:5000/dst/app:1").unwrap();
        assert_eq!(mount_sources(&img, &dest), ["src/app"]);
    }
}
