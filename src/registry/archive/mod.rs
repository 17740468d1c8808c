//! Images in and out of files: `save` writes docker-archive, oci-archive,
//! an OCI layout directory or a `dir:` directory; `load` reads the first
//! three (plain or compressed) back into the store.
//!
//! Layers leave as tars written from the layer directories (layer_tar).
//! A tar written again may not be byte for byte the one the layer came as;
//! then the saved config names the diff ids of what was written (as push
//! does), so a saved archive is always self-consistent.
//!
//! The manifest and index types are the registry's: the same documents.

mod docker_archive;
mod load;
mod oci_layout;
mod source;

pub use load::{load, LoadedImage};
pub use source::LoadInput;

use crate::storage::compression::Compression;
use crate::storage::digest::Digest;
use crate::storage::image_config::with_diff_ids;
use crate::storage::images::ImageRecord;
use crate::storage::layer_tar::{write_layer_blob, LayerBlob, LayerTarOptions};
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveFormat {
    DockerArchive,
    OciArchive,
    OciDir,
    DockerDir,
}

impl SaveFormat {
    pub fn parse(s: &str) -> Result<SaveFormat> {
        Ok(match s {
            "docker-archive" => SaveFormat::DockerArchive,
            "oci-archive" => SaveFormat::OciArchive,
            "oci-dir" => SaveFormat::OciDir,
            "docker-dir" => SaveFormat::DockerDir,
            other => bail!(
                "unknown format {other:?}: use docker-archive, oci-archive, oci-dir or docker-dir"
            ),
        })
    }

    /// A directory rather than one tar stream.
    pub fn is_dir(self) -> bool {
        matches!(self, SaveFormat::OciDir | SaveFormat::DockerDir)
    }
}

/// One image to save and the names it goes under (none: saved by id).
#[derive(Clone, Debug)]
pub struct SaveImage {
    pub record: ImageRecord,
    pub names: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct SaveOptions {
    pub format: SaveFormat,
    /// Gzip the layers (OCI formats gzip unless `uncompressed`; docker-dir
    /// only with `compress`; docker-archive never).
    pub compress: bool,
    pub uncompressed: bool,
    pub quiet: bool,
}

impl SaveOptions {
    fn layer_compression(&self) -> Compression {
        match self.format {
            SaveFormat::DockerArchive => Compression::None,
            SaveFormat::DockerDir if self.compress => Compression::Gzip,
            SaveFormat::DockerDir => Compression::None,
            _ if self.uncompressed => Compression::None,
            _ => Compression::Gzip,
        }
    }

    fn progress(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}

/// Where `save` writes.
pub enum SaveTarget<'a> {
    /// A tar stream (an open `-o` file's temp sibling, or stdout).
    Stream(&'a mut dyn Write),
    /// A directory (oci-dir, docker-dir).
    Dir(&'a Path),
}

/// Save `images` in `opts.format`. Rootless, call it inside the user
/// namespace: layer directories hold files of subordinate owners.
pub fn save(
    store: &Store,
    images: &[SaveImage],
    target: SaveTarget<'_>,
    opts: &SaveOptions,
) -> Result<()> {
    if images.is_empty() {
        bail!("no image to save");
    }
    let scratch = store.image_tmp();
    match (opts.format, target) {
        (SaveFormat::DockerArchive, SaveTarget::Stream(w)) => {
            let mut sink = TarSink::new(w, scratch);
            docker_archive::write(store, images, &mut sink, opts)?;
            sink.finish()
        }
        (SaveFormat::OciArchive, SaveTarget::Stream(w)) => {
            let mut sink = TarSink::new(w, scratch);
            oci_layout::write(store, images, &mut sink, None, opts)?;
            sink.finish()
        }
        (SaveFormat::OciDir, SaveTarget::Dir(dir)) => {
            let mut sink = DirSink::new(dir)?;
            let existing = oci_layout::existing_index(dir)?;
            oci_layout::write(store, images, &mut sink, existing, opts)
        }
        (SaveFormat::DockerDir, SaveTarget::Dir(dir)) => {
            let mut sink = DirSink::new(dir)?;
            docker_archive::write_dir(store, images, &mut sink, opts)
        }
        (f, _) => bail!("internal error: format {f:?} written to the wrong kind of target"),
    }
}

/// An image as it is written: its config (diff ids as written) and layers.
struct Exported {
    config_bytes: Vec<u8>,
    config_digest: Digest,
    /// Per layer: the blob written and the name it has in the output.
    layers: Vec<(LayerBlob, String)>,
}

/// Layers already written in this save, by stored diff id: images that
/// share a layer carry it once.
type LayerCache = HashMap<Digest, (LayerBlob, String)>;

/// Write `rec`'s layers (those not written yet) into `sink` and return the
/// config that names them. `name_of(blob digest)` is a layer's output name.
fn export_image(
    store: &Store,
    rec: &ImageRecord,
    sink: &mut dyn Sink,
    cache: &mut LayerCache,
    opts: &SaveOptions,
    name_of: &dyn Fn(&Digest) -> String,
) -> Result<Exported> {
    let c = opts.layer_compression();
    let tar_opts = LayerTarOptions {
        xattr_prefix: store.xattr_prefix(),
        mtime: Default::default(),
    };
    let mut layers = Vec::new();
    for diff_id in &rec.layers {
        if let Some(done) = cache.get(diff_id) {
            layers.push(done.clone());
            continue;
        }
        let dir = store.layers.diff_dir(diff_id);
        if !store.layers.has(diff_id) {
            bail!("layer {diff_id} of image {} is not in the store", rec.id);
        }
        let tmp = sink.scratch()?;
        let blob = write_layer_blob(&dir, &tar_opts, c, tmp.path())
            .with_context(|| format!("writing layer {diff_id}"))?;
        let name = name_of(&blob.digest);
        sink.put_file(&name, tmp)?;
        opts.progress(&format!("Copying blob {} done", blob.digest.short()));
        cache.insert(diff_id.clone(), (blob.clone(), name.clone()));
        layers.push((blob, name));
    }
    let stored = store
        .blobs
        .read(&rec.config_digest())
        .with_context(|| format!("reading the configuration of image {}", rec.id))?;
    let written: Vec<Digest> = layers.iter().map(|(b, _)| b.diff_id.clone()).collect();
    let config_bytes = if written == rec.layers {
        stored
    } else {
        with_diff_ids(&stored, &written)?
    };
    let config_digest = Digest::of_bytes(&config_bytes);
    opts.progress(&format!("Copying config {} done", config_digest.short()));
    Ok(Exported {
        config_bytes,
        config_digest,
        layers,
    })
}

/// A file being built before it gets its name; removed unless taken.
struct Scratch(Option<PathBuf>);

impl Scratch {
    fn new(dir: &Path) -> Result<Scratch> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let nonce: u64 = rand::random();
        // Named after our pid: a later run's sweep removes it if we die.
        Ok(Scratch(Some(dir.join(format!(
            "{}-{nonce:016x}-save",
            std::process::id()
        )))))
    }
    fn path(&self) -> &Path {
        self.0.as_deref().expect("not taken yet")
    }
    fn take(mut self) -> PathBuf {
        self.0.take().expect("not taken yet")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

/// Where the writers put named files: a tar stream or a directory.
trait Sink {
    /// A fresh file to build a large entry in before `put_file` names it.
    fn scratch(&mut self) -> Result<Scratch>;
    fn put_file(&mut self, name: &str, file: Scratch) -> Result<()>;
    fn put_bytes(&mut self, name: &str, data: &[u8]) -> Result<()>;
}

struct TarSink<'a> {
    builder: tar::Builder<&'a mut dyn Write>,
    scratch_dir: PathBuf,
    dirs: BTreeSet<String>,
}

impl<'a> TarSink<'a> {
    fn new(w: &'a mut dyn Write, scratch_dir: PathBuf) -> TarSink<'a> {
        TarSink {
            builder: tar::Builder::new(w),
            scratch_dir,
            dirs: BTreeSet::new(),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        // Fixed metadata: saving the same image twice gives the same bytes.
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(size);
        h
    }

    /// Directory entries for `name`'s parents, once each.
    fn parents(&mut self, name: &str) -> Result<()> {
        let mut at = 0;
        while let Some(i) = name[at..].find('/') {
            let dir = format!("{}/", &name[..at + i]);
            at += i + 1;
            if self.dirs.insert(dir.clone()) {
                let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
                self.builder.append_data(&mut h, &dir, std::io::empty())?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        let w = self.builder.into_inner().context("finishing the archive")?;
        w.flush().context("writing the archive")
    }
}

impl Sink for TarSink<'_> {
    fn scratch(&mut self) -> Result<Scratch> {
        Scratch::new(&self.scratch_dir)
    }

    fn put_file(&mut self, name: &str, file: Scratch) -> Result<()> {
        self.parents(name)?;
        let f = fs::File::open(file.path()).context("reading a layer back")?;
        let size = f.metadata()?.len();
        let mut h = Self::header(tar::EntryType::Regular, 0o644, size);
        self.builder
            .append_data(&mut h, name, f)
            .with_context(|| format!("writing {name} to the archive"))
    }

    fn put_bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.parents(name)?;
        let mut h = Self::header(tar::EntryType::Regular, 0o644, data.len() as u64);
        self.builder
            .append_data(&mut h, name, data)
            .with_context(|| format!("writing {name} to the archive"))
    }
}

struct DirSink {
    root: PathBuf,
}

impl DirSink {
    fn new(root: &Path) -> Result<DirSink> {
        fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        Ok(DirSink {
            root: root.to_path_buf(),
        })
    }
}

impl Sink for DirSink {
    fn scratch(&mut self) -> Result<Scratch> {
        // In the target itself, so naming the finished file is a rename.
        Scratch::new(&self.root)
    }

    fn put_file(&mut self, name: &str, file: Scratch) -> Result<()> {
        let dest = self.root.join(name);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let from = file.take();
        fs::rename(&from, &dest).with_context(|| format!("writing {}", dest.display()))
    }

    fn put_bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let dest = self.root.join(name);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        crate::storage::atomic::write_file(&dest, data, false)
    }
}

/// The name an image loaded from an archive is stored under, podman's way:
/// docker-archive tags are Docker references (`img:1` is
/// `docker.io/library/img:1`); OCI `ref.name`s are local names (`img:1` is
/// `localhost/img:1`). None for what is not a usable name.
pub fn loaded_name(raw: &str, docker: bool) -> Option<String> {
    let parsed = crate::registry::reference::parse_name(raw).ok()?;
    let r = parsed.qualify(if docker { "docker.io" } else { "localhost" });
    if r.digest.is_some() {
        return None;
    }
    let tag = r.tag.as_deref().unwrap_or("latest");
    Some(format!("{}:{tag}", r.repo_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_podman_loads_them() {
        assert_eq!(
            loaded_name("img:tag", true).as_deref(),
            Some("docker.io/library/img:tag")
        );
        assert_eq!(
            loaded_name("img:tag", false).as_deref(),
            Some("localhost/img:tag")
        );
        assert_eq!(
            loaded_name("1", false).as_deref(),
            Some("localhost/1:latest")
        );
        assert_eq!(
            loaded_name("127.0.0.1:5000/a/b:1", true).as_deref(),
            Some("127.0.0.1:5000/a/b:1")
        );
        assert_eq!(
            loaded_name("localhost/foo", false).as_deref(),
            Some("localhost/foo:latest")
        );
        assert_eq!(loaded_name("Not A Name", true), None);
    }

    #[test]
    fn formats() {
        assert_eq!(SaveFormat::parse("oci-dir").unwrap(), SaveFormat::OciDir);
        assert!(SaveFormat::parse("tar").is_err());
        let o = SaveOptions {
            format: SaveFormat::OciArchive,
            compress: false,
            uncompressed: false,
            quiet: true,
        };
        assert_eq!(o.layer_compression(), Compression::Gzip);
    }
}
