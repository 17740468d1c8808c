//! Making images locally: a layer from a directory in overlay form (a
//! container's upper dir, a build step's changes), an image from a parent
//! and new layers, and `commit` of a container. `import` and the builder
//! stand on the same two calls.
//!
//! Rootless, every call that reads or writes layer directories must run
//! inside the user namespace (`runtime::userns::run_in_child_userns` or
//! `enter_for_storage`, as `cmd::image::pull_image` does): the files there
//! belong to subordinate ids, and stat() must show the container-side owners.

use super::containers::ContainerConfig;
use super::digest::{Digest, HashingReader, HashingWriter};
use super::image_config::{History, ImageConfig};
use super::images::ImageRecord;
use super::layer_tar::{write_layer_tar, LayerTarOptions, MtimePolicy};
use super::layers::LayerRecord;
use super::store::{Driver, Store};
use super::unpack::{unpack_layer, UnpackOptions};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

#[cfg(test)]
/// Diff id of a layer with no entries (a tar of 1024 zero bytes).
pub const EMPTY_LAYER_DIFF_ID: &str =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Turn `dir`, a directory in overlay form (0/0 character devices or xattr
/// whiteouts, opaque directories by xattr), into a stored layer.
///
/// The layer tar is written once and streamed two ways: through a hasher
/// (the diff id and size) and into `unpack_layer` in a staged layer dir, so
/// the stored layer is exactly what pulling that tar would give (whiteouts
/// in the form this kernel takes, hostile names impossible). An empty `dir`
/// gives the canonical empty layer. A layer already stored is reused.
///
/// Rootless: call inside the user namespace (see the module comment).
pub fn layer_from_dir(store: &Store, dir: &Path) -> Result<LayerRecord> {
    layer_from_dir_with(store, dir, MtimePolicy::Keep)
}

/// `layer_from_dir` with the entries' times set or clamped (`build
/// --timestamp`): the stored layer carries the same times as its tar.
pub fn layer_from_dir_with(store: &Store, dir: &Path, mtime: MtimePolicy) -> Result<LayerRecord> {
    layer_from_dir_as(store, dir, mtime, false)
}

/// `layer_from_dir_with`, and with `compress` (`build
/// --disable-compression=false`) the tar is gzipped as it is written and
/// the blob kept with the layer: its manifests then describe it
/// compressed, and push sends that blob as it is.
pub fn layer_from_dir_as(
    store: &Store,
    dir: &Path,
    mtime: MtimePolicy,
    compress: bool,
) -> Result<LayerRecord> {
    let staged = store.layers.stage()?;
    let dest = staged.diff_dir();
    let unpack_opts = UnpackOptions::detect(store.rootless, &dest);
    let tar_opts = LayerTarOptions {
        xattr_prefix: store.xattr_prefix(),
        mtime,
    };
    let blob = compress.then(|| CompressedBlob::new(&store.image_tmp()));
    let blob = blob.transpose()?;
    let (r, w) = nix::unistd::pipe().context("creating a pipe")?;
    let (reader, writer) = (File::from(r), File::from(w));

    let (written, unpacked) = std::thread::scope(|s| {
        let blob_path = blob.as_ref().map(|b| b.path.clone());
        let producer = s.spawn(move || -> Result<WrittenLayer> {
            let gzip = blob_path.map(|p| gzip_file_writer(&p)).transpose()?;
            let tee = Tee {
                first: BufWriter::with_capacity(256 << 10, writer),
                second: gzip,
            };
            let out = HashingWriter::new(tee);
            let (out, _) = write_layer_tar(dir, out, &tar_opts)?;
            let (tee, digest, size) = out.finish();
            let Tee { first, second } = tee;
            let mut buffered = first;
            buffered.flush().context("writing the layer stream")?;
            let compressed = second.map(finish_gzip_file).transpose()?;
            Ok((digest, size, compressed))
        });
        let mut reader = BufReader::with_capacity(256 << 10, reader);
        let unpacked = unpack_layer(&mut reader, &dest, &unpack_opts);
        // Read what is left (tar padding, or everything after a failure) so
        // the writer never blocks on a full pipe.
        let _ = io::copy(&mut reader, &mut io::sink());
        drop(reader);
        let written = producer
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the layer writer panicked")));
        (written, unpacked)
    });
    let (diff_id, size, compressed) =
        written.with_context(|| format!("reading {}", dir.display()))?;
    unpacked.with_context(|| format!("storing the layer made from {}", dir.display()))?;
    let compressed = blob.zip(compressed);

    if store.layers.has(&diff_id) {
        let record = store.layers.record(&diff_id)?;
        return match compressed {
            Some((blob, (digest, size))) => keep_compressed_form(store, record, blob, digest, size),
            None => Ok(record),
        };
    }
    let mut record = LayerRecord {
        diff_id,
        size,
        compressed_digest: None,
        compressed_size: None,
        media_type: None,
        created: crate::format::human::now_rfc3339(),
    };
    if let Some((blob, (digest, csize))) = compressed {
        let name = super::layers::compressed_name(&digest);
        blob.move_to(&staged.root().join(name))?;
        record.compressed_digest = Some(digest);
        record.compressed_size = Some(csize);
        record.media_type = Some(OCI_LAYER_GZIP.to_string());
    }
    store.layers.commit(staged, &record)?;
    if record.compressed_digest.is_some() && store.layers.stored_compressed(&record).is_none() {
        // Another invocation stored the layer first, without our blob:
        // what the store holds is its record.
        return store.layers.record(&record.diff_id);
    }
    Ok(record)
}

/// What the layer writer made: the tar's digest and size, and the gzip
/// blob's when one was asked for.
type WrittenLayer = (Digest, u64, Option<(Digest, u64)>);

/// A gzip blob being written in the store's tmp/ (removed on drop unless
/// moved into a layer).
struct CompressedBlob {
    path: std::path::PathBuf,
}

impl CompressedBlob {
    fn new(tmp: &Path) -> Result<CompressedBlob> {
        std::fs::create_dir_all(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(CompressedBlob {
            path: super::leftovers::temp_name(tmp, "gzip-"),
        })
    }

    fn move_to(self, dest: &Path) -> Result<()> {
        std::fs::rename(&self.path, dest)
            .with_context(|| format!("storing the compressed layer as {}", dest.display()))
    }
}

impl Drop for CompressedBlob {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

type GzipFile = super::compression::CompressWriter<HashingWriter<BufWriter<File>>>;

fn gzip_file_writer(path: &Path) -> Result<GzipFile> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let hashed = HashingWriter::new(BufWriter::with_capacity(256 << 10, file));
    super::compression::compress_writer_at(hashed, super::compression::Compression::Gzip, None)
}

/// End the gzip stream and make the file durable: its digest and size.
fn finish_gzip_file(gzip: GzipFile) -> Result<(Digest, u64)> {
    let (mut file, digest, size) = gzip.finish().context("compressing the layer")?.finish();
    file.flush().context("writing the compressed layer")?;
    file.into_inner()
        .map_err(|e| e.into_error())
        .context("writing the compressed layer")?
        .sync_all()
        .context("writing the compressed layer")?;
    Ok((digest, size))
}

/// Writes everything to `first`, and what `first` took to `second` too.
struct Tee<A, B> {
    first: A,
    second: Option<B>,
}

impl<A: Write, B: Write> Write for Tee<A, B> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.first.write(buf)?;
        if let Some(s) = &mut self.second {
            s.write_all(&buf[..n])?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.first.flush()?;
        if let Some(s) = &mut self.second {
            s.flush()?;
        }
        Ok(())
    }
}

/// A layer already stored, made again compressed: keep the blob with it
/// unless it keeps one already. The blob is named by its digest and
/// moved in before the record names it, so a crash between the two
/// leaves an unnamed file, never a record naming a missing blob.
fn keep_compressed_form(
    store: &Store,
    mut record: LayerRecord,
    blob: CompressedBlob,
    digest: Digest,
    size: u64,
) -> Result<LayerRecord> {
    if store.layers.stored_compressed(&record).is_some() {
        return Ok(record);
    }
    blob.move_to(&store.layers.compressed_path(&record.diff_id, &digest))?;
    record.compressed_digest = Some(digest);
    record.compressed_size = Some(size);
    record.media_type = Some(OCI_LAYER_GZIP.to_string());
    store.layers.update_record(&record)?;
    Ok(record)
}

/// A layer stored from a tar (`layer_from_tar`), with its gzip blob kept
/// as `layer_from_dir_as` keeps one: `tar` is read again and compressed.
pub fn keep_compressed_tar(store: &Store, record: LayerRecord, tar: &Path) -> Result<LayerRecord> {
    if store.layers.stored_compressed(&record).is_some() {
        return Ok(record);
    }
    let blob = CompressedBlob::new(&store.image_tmp())?;
    let mut input =
        HashingReader::new(File::open(tar).with_context(|| format!("reading {}", tar.display()))?);
    let mut gzip = gzip_file_writer(&blob.path)?;
    io::copy(&mut input, &mut gzip).context("compressing the layer")?;
    let (_, diff_id) = input.finish();
    if diff_id != record.diff_id {
        bail!("the layer tar changed while it was compressed");
    }
    let (digest, size) = finish_gzip_file(gzip)?;
    keep_compressed_form(store, record, blob, digest, size)
}

/// The manifest and config media types of a new image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImageFormat {
    #[default]
    Oci,
    /// Docker image manifest v2 schema 2 (`--format docker`).
    Docker,
}

impl std::str::FromStr for ImageFormat {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<ImageFormat> {
        match s {
            "oci" => Ok(ImageFormat::Oci),
            "docker" | "v2s2" => Ok(ImageFormat::Docker),
            other => bail!("unrecognized image type {other:?}: use oci or docker"),
        }
    }
}

/// Applies `--change` lines to a config.
pub type ApplyChanges = fn(&mut ImageConfig, &[String]) -> Result<()>;

#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// The config's and the history entry's `author`.
    pub author: Option<String>,
    /// The history entry's `comment`.
    pub message: Option<String>,
    /// Dockerfile-like one-line changes (`CMD ["/app"]`, `ENV A=1`),
    /// applied after the caller's edits by `apply_changes`.
    pub changes: Vec<String>,
    /// What understands `changes`: the build module's Containerfile parser
    /// (`build::changes::apply_changes`), handed down so storage needs no
    /// parser of its own.
    pub apply_changes: Option<ApplyChanges>,
    /// The history entry's `created_by`.
    pub history_created_by: Option<String>,
    /// Record the history entry as `empty_layer` even with a new layer
    /// (never needed by commit; the builder's metadata-only steps pass no
    /// layer, which sets it anyway).
    pub empty_layer: bool,
    pub format: ImageFormat,
    /// Names to give the image, fully qualified (`localhost/app:latest`):
    /// normalize short names first (`cmd::image::local_name`).
    pub names: Vec<String>,
    /// The image's creation time (RFC 3339) instead of now (`build
    /// --timestamp`/`--source-date-epoch`).
    pub created: Option<String>,
    /// No history at all in the config, the parent's included
    /// (`build --omit-history`).
    pub omit_history: bool,
    /// The manifest's annotations (OCI only: a Docker manifest has none).
    pub annotations: BTreeMap<String, String>,
    /// One layer holding the whole tree: the parent's layers and history
    /// are not kept (`commit --squash`).
    pub squash: bool,
    /// Every volume and bind mount the user gave the container becomes a
    /// VOLUME of the image (`commit --include-volumes`); without it only
    /// the anonymous volumes do, as podman.
    pub include_volumes: bool,
    /// A Docker container configuration merged into the image's before
    /// `changes` (`commit --config FILE`).
    pub override_config: Option<serde_json::Value>,
}

/// A new image: `parent`'s config (or an empty one for the host platform)
/// edited by `config_edit` and `opts.changes`, its layers plus `new_layer`,
/// and one history entry. The config, an OCI (or Docker) manifest and the
/// image record are stored; the image id is the config digest.
///
/// Layers this store made locally are described in the manifest by their
/// diff id as uncompressed tars; `push` sees no such blob on the registry
/// and compresses the layer directory then. Pulled layers keep their blob,
/// and layers made with `layer_from_dir_as(.., compress)` the gzip blob
/// kept with them.
pub fn image_from_layers(
    store: &Store,
    parent: Option<&ImageRecord>,
    new_layer: Option<LayerRecord>,
    config_edit: impl FnOnce(&mut ImageConfig),
    opts: &CommitOptions,
) -> Result<ImageRecord> {
    let mut config = match parent {
        Some(p) => ImageConfig::parse(&store.blobs.read(&p.config_digest())?)
            .with_context(|| format!("reading the configuration of image {}", p.id))?,
        None => ImageConfig {
            architecture: host_arch().to_string(),
            os: "linux".to_string(),
            ..ImageConfig::default()
        },
    };
    let mut layers: Vec<Digest> = match parent {
        Some(p) if !opts.squash => p.layers.clone(),
        _ => Vec::new(),
    };
    if let Some(l) = &new_layer {
        layers.push(l.diff_id.clone());
    }
    let created = opts
        .created
        .clone()
        .unwrap_or_else(crate::format::human::now_rfc3339);
    config_edit(&mut config);
    if let Some(over) = &opts.override_config {
        crate::storage::image_config::merge_override(&mut config.config, over)
            .context("merging --config")?;
    }
    if !opts.changes.is_empty() {
        let apply = opts
            .apply_changes
            .context("changes were given but nothing to apply them")?;
        apply(&mut config, &opts.changes)?;
    }
    config.created = Some(created.clone());
    if opts.author.is_some() {
        config.author = opts.author.clone();
    }
    config.rootfs.fs_type = "layers".to_string();
    config.rootfs.diff_ids = layers.iter().map(|d| d.to_string()).collect();
    if opts.squash {
        // The history's layer entries must match the layers.
        config.history.clear();
    }
    if opts.omit_history {
        config.history.clear();
    } else {
        config.history.push(History {
            created: Some(created.clone()),
            created_by: opts.history_created_by.clone(),
            author: opts.author.clone(),
            comment: opts.message.clone().filter(|m| !m.is_empty()),
            empty_layer: new_layer.is_none() || opts.empty_layer,
        });
    }
    let config_bytes = serde_json::to_vec(&config)?;

    let (manifest_type, config_type) = match opts.format {
        ImageFormat::Oci => (OCI_MANIFEST, OCI_CONFIG),
        ImageFormat::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG),
    };
    let mut descriptors = Vec::with_capacity(layers.len());
    let mut size = 0u64;
    for d in &layers {
        let rec = store.layers.record(d)?;
        size += rec.size;
        descriptors.push(layer_descriptor(&rec, opts.format));
    }
    let config_digest = Digest::of_bytes(&config_bytes);
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {
            "mediaType": config_type,
            "digest": config_digest.to_string(),
            "size": config_bytes.len(),
        },
        "layers": descriptors,
    });
    if opts.format == ImageFormat::Oci && !opts.annotations.is_empty() {
        manifest["annotations"] = json!(opts.annotations);
    }
    let manifest_bytes = serde_json::to_vec(&manifest)?;

    store.blobs.put(&config_bytes, Some(&config_digest))?;
    let manifest_digest = store.blobs.put(&manifest_bytes, None)?;
    let record = ImageRecord {
        id: config_digest.hex().to_string(),
        names: opts.names.clone(),
        names_history: Vec::new(),
        manifest_digest,
        manifest_media_type: manifest_type.to_string(),
        repo_digests: Vec::new(),
        digests: Vec::new(),
        layers,
        size,
        created: Some(created),
        added: crate::format::human::now_rfc3339(),
    };
    let _lock = store.lock()?;
    // The shards this record and the images holding its names are in.
    let mut wanted: Vec<&str> = record.names.iter().map(String::as_str).collect();
    wanted.push(&record.id);
    let mut images = store.images.load_for(&wanted)?;
    // A layer removed by a concurrent rmi between our write and the lock.
    for d in &record.layers {
        if !store.layers.has(d) {
            bail!("layer {d} was removed while the image was made; try again");
        }
    }
    images.upsert(record);
    store.images.save(&images)?;
    Ok(images
        .by_id(config_digest.hex())
        .expect("just stored")
        .clone())
}

fn layer_descriptor(rec: &LayerRecord, format: ImageFormat) -> Value {
    // A pulled gzip layer keeps its blob; anything else is described by its
    // tar, which is what this store can always produce again.
    if let (Some(d), Some(size), Some(mt)) =
        (&rec.compressed_digest, rec.compressed_size, &rec.media_type)
    {
        let gzip = mt.ends_with("gzip");
        let mt = match (format, gzip) {
            (ImageFormat::Oci, true) => OCI_LAYER_GZIP,
            (ImageFormat::Docker, true) => DOCKER_LAYER_GZIP,
            // zstd has no Docker form; OCI keeps it as it is.
            (ImageFormat::Oci, false) => mt.as_str(),
            (ImageFormat::Docker, false) => "",
        };
        if !mt.is_empty() {
            return json!({"mediaType": mt, "digest": d.to_string(), "size": size});
        }
    }
    let mt = match format {
        ImageFormat::Oci => OCI_LAYER_TAR,
        ImageFormat::Docker => DOCKER_LAYER_TAR,
    };
    json!({"mediaType": mt, "digest": rec.diff_id.to_string(), "size": rec.size})
}

/// Commit a container: its upper dir becomes a new layer on its image, its
/// run settings (command, entrypoint, env, workdir, user, labels) the new
/// image's defaults, as podman does. Works on running containers too (the
/// upper dir is read as it is; a file that shrinks while read fails).
///
/// Containers with a copied root filesystem (vfs driver, `--userns=keep-id`)
/// keep the whole tree in upper, not their changes: refused.
///
/// Rootless: call inside the user namespace.
pub fn commit_container(
    store: &Store,
    container_id: &str,
    opts: &CommitOptions,
) -> Result<ImageRecord> {
    let cfg = store.containers.load_config(container_id)?;
    if let Some(r) = &cfg.launch.rootfs {
        bail!(
            "cannot commit container {}: its root filesystem is the directory {} (--rootfs), not an image's layers and its changes (commit --squash can)",
            cfg.name,
            r.path
        );
    }
    if store.driver == Driver::Vfs || cfg.userns.is_keep_id() || cfg.launch.id_mappings.is_some() {
        bail!(
            "cannot commit container {}: its root filesystem is a full copy (vfs driver, --userns=keep-id or --uidmap), not a set of changes (commit --squash can)",
            cfg.name
        );
    }
    let upper = store.containers.dir(container_id).join("upper");
    let layer = layer_from_dir(store, &upper)?;
    commit_container_layer(store, container_id, layer, opts)
}

/// Commit a container with `layer` as its new layer: its changes, or
/// (`opts.squash`) its whole tree.
pub fn commit_container_layer(
    store: &Store,
    container_id: &str,
    layer: LayerRecord,
    opts: &CommitOptions,
) -> Result<ImageRecord> {
    let cfg = store.containers.load_config(container_id)?;
    // `--rootfs`: no image below; `layer` is the whole tree (squashed).
    let parent = match &cfg.launch.rootfs {
        Some(_) if !opts.squash => bail!(
            "cannot commit container {}: it has no image (--rootfs)",
            cfg.name
        ),
        Some(_) => None,
        None => Some(
            store
                .images
                .load()?
                .by_id(&cfg.image_id)
                .with_context(|| {
                    format!(
                        "the image {} of container {} is gone",
                        cfg.image_id, cfg.name
                    )
                })?
                .clone(),
        ),
    };
    image_from_layers(
        store,
        parent.as_ref(),
        Some(layer),
        |c| {
            apply_container_config(c, &cfg);
            add_user_volumes(store, c, &cfg, opts.include_volumes);
        },
        opts,
    )
}

/// The mount points the user gave the container as image VOLUMEs: the
/// anonymous volumes, or with `all` every volume and bind mount (podman's
/// `--include-volumes`).
fn add_user_volumes(store: &Store, config: &mut ImageConfig, cfg: &ContainerConfig, all: bool) {
    let anonymous = |name: &str| {
        store
            .volumes
            .load(name)
            .ok()
            .flatten()
            .is_some_and(|v| v.anonymous)
    };
    for m in &cfg.mounts {
        let wanted = match m.kind {
            super::container_record::MountKind::Volume => all || anonymous(&m.source),
            super::container_record::MountKind::Bind => all,
            super::container_record::MountKind::Tmpfs => false,
        };
        if wanted {
            config
                .config
                .volumes
                .get_or_insert_with(Default::default)
                .insert(m.destination.clone(), json!({}));
        }
    }
}

/// The container's run settings as image defaults.
pub fn apply_container_config(config: &mut ImageConfig, cfg: &ContainerConfig) {
    let c = &mut config.config;
    c.cmd = (!cfg.cmd.is_empty()).then(|| cfg.cmd.clone());
    c.entrypoint = (!cfg.entrypoint.is_empty()).then(|| cfg.entrypoint.clone());
    if !cfg.env.is_empty() {
        c.env = Some(cfg.env.clone());
    }
    if !cfg.workdir.is_empty() {
        c.working_dir = Some(cfg.workdir.clone());
    }
    if !cfg.user.is_empty() {
        c.user = Some(cfg.user.clone());
    }
    if !cfg.labels.is_empty() {
        let labels = c.labels.get_or_insert_with(Default::default);
        for (k, v) in &cfg.labels {
            labels.insert(k.clone(), v.clone());
        }
    }
}

/// The OCI name of this machine's architecture.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Read a whole stream into a layer: used by `import`. The tar (plain,
/// gzip or zstd) is unpacked with `unpack_layer`, so hostile entries fail
/// and write nothing outside the staged layer; the diff id is the digest of
/// the decompressed stream as given. Rootless: inside the user namespace.
pub fn layer_from_tar(store: &Store, input: impl Read) -> Result<LayerRecord> {
    let staged = store.layers.stage()?;
    let dest = staged.diff_dir();
    let opts = UnpackOptions::detect(store.rootless, &dest);
    let plain = super::compression::auto_decompress(input)?;
    let mut hashing = super::digest::HashingReader::new(plain);
    unpack_layer(&mut hashing, &dest, &opts)?;
    // Trailing padding belongs to the stream the diff id names.
    io::copy(&mut hashing, &mut io::sink()).context("reading the tar")?;
    let size = hashing.len();
    let (_, diff_id) = hashing.finish();
    if store.layers.has(&diff_id) {
        return store.layers.record(&diff_id);
    }
    let record = LayerRecord {
        diff_id,
        size,
        compressed_digest: None,
        compressed_size: None,
        media_type: None,
        created: crate::format::human::now_rfc3339(),
    };
    store.layers.commit(staged, &record)?;
    Ok(record)
}

#[cfg(test)]
mod tests;

/// A path's change in a container (or layer) against the layers below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Changed,
    Added,
    Deleted,
}

/// The changes `upper` (overlay form) makes over `lowers` (top first), as
/// podman's `diff` lists them: sorted by path; a path present below is C, a
/// new one A, a whiteout (or a lower entry hidden by an opaque dir) D.
/// Rootless: inside the user namespace.
pub fn changes(
    upper: &Path,
    lowers: &[std::path::PathBuf],
    prefix: super::unpack::XattrPrefix,
) -> Result<Vec<(String, ChangeKind)>> {
    let mut out = Vec::new();
    walk_changes(upper, Path::new("/"), lowers, prefix, &mut out)?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk_changes(
    dir: &Path,
    rel: &Path,
    lowers: &[std::path::PathBuf],
    prefix: super::unpack::XattrPrefix,
    out: &mut Vec<(String, ChangeKind)>,
) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries {
        let e = e?;
        let path = e.path();
        let r = rel.join(e.file_name());
        let st = std::fs::symlink_metadata(&path)?;
        let key = r.to_string_lossy().into_owned();
        let whiteout = (st.file_type().is_char_device() && st.rdev() == 0)
            || (st.is_file()
                && st.len() == 0
                && xattr(&path, &format!("{}whiteout", prefix.as_str())).is_some());
        if whiteout {
            out.push((key, ChangeKind::Deleted));
            continue;
        }
        let below = in_lowers(lowers, &r, prefix);
        out.push((
            key,
            if below {
                ChangeKind::Changed
            } else {
                ChangeKind::Added
            },
        ));
        if st.is_dir() {
            if below && xattr(&path, &format!("{}opaque", prefix.as_str())).as_deref() == Some(b"y")
            {
                // Everything below that upper does not have again is gone.
                for name in lower_names(lowers, &r, prefix) {
                    if std::fs::symlink_metadata(path.join(&name)).is_err() {
                        out.push((
                            r.join(&name).to_string_lossy().into_owned(),
                            ChangeKind::Deleted,
                        ));
                    }
                }
            }
            walk_changes(&path, &r, lowers, prefix, out)?;
        }
    }
    Ok(())
}

/// Does `rel` (absolute in the container) exist in the merged `lowers`?
fn in_lowers(
    lowers: &[std::path::PathBuf],
    rel: &Path,
    prefix: super::unpack::XattrPrefix,
) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    for layer in lowers {
        // A whiteout or opaque dir on the way hides the layers below.
        let mut p = layer.clone();
        let comps: Vec<_> = rel.components().collect();
        for (i, c) in comps.iter().enumerate() {
            p.push(c);
            match std::fs::symlink_metadata(&p) {
                Ok(st) => {
                    let wh = (st.file_type().is_char_device() && st.rdev() == 0)
                        || (st.is_file()
                            && st.len() == 0
                            && xattr(&p, &format!("{}whiteout", prefix.as_str())).is_some());
                    if wh {
                        return false;
                    }
                    if i + 1 == comps.len() {
                        return true;
                    }
                    if !st.is_dir() {
                        return false;
                    }
                    if xattr(&p, &format!("{}opaque", prefix.as_str())).as_deref() == Some(b"y") {
                        // Found the parent opaque here: the rest must be in this layer.
                        let rest: std::path::PathBuf = comps[i + 1..].iter().collect();
                        return std::fs::symlink_metadata(p.join(rest)).is_ok();
                    }
                }
                Err(_) => break,
            }
        }
    }
    false
}

fn lower_names(
    lowers: &[std::path::PathBuf],
    rel: &Path,
    prefix: super::unpack::XattrPrefix,
) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    let r = rel.strip_prefix("/").unwrap_or(rel);
    for layer in lowers {
        if let Ok(entries) = std::fs::read_dir(layer.join(r)) {
            for e in entries.flatten() {
                let n = e.file_name();
                if !out.contains(&n) && in_lowers(lowers, &rel.join(&n), prefix) {
                    out.push(n);
                }
            }
        }
    }
    out
}

pub(crate) fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 64];
    // SAFETY: lgetxattr writes at most buf.len() bytes.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return None;
    }
    buf.truncate(len as usize);
    Some(buf)
}
