//! The store as a whole: where it lives, its lock, and its parts.

use super::blobs::BlobStore;
use super::containers::ContainerStore;
use super::images::ImageStore;
use super::layers::LayerStore;
use super::lock::FileLock;
use super::pods::PodStore;
use super::volumes::VolumeStore;
use super::{atomic, leftovers, unpack};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// Kernel overlayfs over shared layer directories.
    Overlay,
    /// A copying driver for hosts without usable overlayfs.
    Vfs,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::Vfs => "vfs",
        }
    }
}

impl std::str::FromStr for Driver {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Driver> {
        match s {
            "overlay" | "overlay2" => Ok(Driver::Overlay),
            "vfs" => Ok(Driver::Vfs),
            _ => bail!("unsupported storage driver {s:?}: use overlay or vfs"),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct StoreOptions {
    pub root: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
    pub tmpdir: Option<PathBuf>,
    pub driver: Option<Driver>,
    pub events_backend: Option<super::event_backend::Backend>,
    /// Where volumes live (`--volumepath`); `<root>/volumes` when None.
    pub volume_path: Option<PathBuf>,
    /// `--transient-store` (or storage.conf's `transient_store`): container
    /// and pod records under `<runroot>/transient`, gone with a reboot.
    pub transient: Option<bool>,
    /// `--imagestore` (or storage.conf's `imagestore`): images, their
    /// layers and blobs under this directory instead of the root.
    pub image_store: Option<PathBuf>,
}

/// Facts fixed when the store is first used (`store.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreMeta {
    pub driver: Driver,
}

pub struct Store {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub tmpdir: PathBuf,
    /// Where container and pod records (and containers' writable layers)
    /// live: the root, or `<runroot>/transient` in transient mode.
    pub records_root: PathBuf,
    pub transient: bool,
    /// Where images, layers, blobs, the image key index and the build
    /// cache live, with a `tmp/` of their own: the root, or the image
    /// store (`--imagestore`).
    pub image_root: PathBuf,
    /// The image store when one is set (`image_root` then differs from
    /// `root`).
    pub image_store: Option<PathBuf>,
    pub driver: Driver,
    pub rootless: bool,
    pub events_backend: super::event_backend::Backend,
    pub blobs: BlobStore,
    pub layers: LayerStore,
    pub images: ImageStore,
    pub containers: ContainerStore,
    /// The containers of the other mode (persistent ones seen from
    /// transient mode, and the reverse), which share the images: read
    /// only, so that no image they use is taken from under them.
    pub other_containers: Option<ContainerStore>,
    pub volumes: VolumeStore,
    pub pods: PodStore,
}

/// The persistent and volatile roots for this user, as DESIGN.md lays out.
pub fn default_paths(rootless: bool) -> (PathBuf, PathBuf) {
    if !rootless {
        return (
            PathBuf::from("/var/lib/coracle"),
            PathBuf::from("/run/coracle"),
        );
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"));
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".local/share"));
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let run = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(|d| PathBuf::from(d).join("coracle"))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/coracle-{uid}")));
    (data.join("coracle"), run)
}

impl Store {
    /// Open (creating when missing) the store. Cheap: no locks, no scans.
    pub fn open(opts: &StoreOptions, rootless: bool) -> Result<Store> {
        let (def_root, def_run) = default_paths(rootless);
        let root = absolute(opts.root.clone().unwrap_or(def_root))?;
        let runroot = absolute(opts.runroot.clone().unwrap_or(def_run))?;
        let tmpdir = opts.tmpdir.clone().unwrap_or_else(|| runroot.join("tmp"));
        // First: an image store that cannot be made, or whose driver is
        // not this store's, leaves nothing made.
        let image_store = image_store_dir(opts.image_store.as_deref(), &root)?;
        let image_root = image_store.clone().unwrap_or_else(|| root.clone());
        let meta_path = root.join("store.json");
        let recorded = atomic::read_json::<StoreMeta>(&meta_path)?;
        let driver = match &recorded {
            Some(meta) => {
                if let Some(asked) = opts.driver {
                    if asked != meta.driver {
                        bail!(
                            "database storage graph driver {:?} does not match our storage graph driver {:?}: use --storage-driver {} or another --root",
                            meta.driver.name(),
                            asked.name(),
                            meta.driver.name()
                        );
                    }
                }
                meta.driver
            }
            None => opts.driver.unwrap_or(Driver::Overlay),
        };
        // An image store's layers are made for one driver, as the root's
        // are: it records the driver it was first used with.
        if image_store.is_some() {
            let image_meta = image_root.join("store.json");
            match atomic::read_json::<StoreMeta>(&image_meta)? {
                Some(meta) if meta.driver != driver => bail!(
                    "image store {} holds layers of the {:?} storage driver, not of {:?}: use --storage-driver {} or another --imagestore",
                    image_root.display(),
                    meta.driver.name(),
                    driver.name(),
                    meta.driver.name()
                ),
                Some(_) => {}
                None => atomic::write_json(&image_meta, &StoreMeta { driver }, true)?,
            }
        }
        // (after the checks above: a refused image store makes nothing)
        for dir in [&root, &runroot] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        if recorded.is_none() {
            atomic::write_json(&meta_path, &StoreMeta { driver }, true)?;
        }
        // The full skeleton exists from the first command on, so a failed
        // command never leaves the store different from how it found it.
        // Layers and blobs are the image root's (the image store's when
        // one is set), with its own tmp/: renames never cross filesystems.
        for (base, sub) in [
            (&root, "tmp"),
            (&image_root, "tmp"),
            (&image_root, "layers"),
            (&image_root, "blobs/sha256"),
            (&root, "containers"),
            (&root, "container-names"),
            (&root, "volumes"),
            (&root, "pods"),
            (&root, "pod-names"),
            (&root, "container-index/dirty"),
        ] {
            let dir = base.join(sub);
            if !dir.exists() {
                fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            }
        }
        // Transient mode: the records and their staging dir (renames stay on
        // one filesystem: the run root is often a tmpfs) on the run root.
        let transient = opts.transient.unwrap_or(false);
        let records_root = if transient {
            runroot.join("transient")
        } else {
            root.clone()
        };
        if transient {
            for sub in [
                "tmp",
                "containers",
                "container-names",
                "pods",
                "pod-names",
                "container-index/dirty",
            ] {
                let dir = records_root.join(sub);
                if !dir.exists() {
                    fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(&dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
            }
            let lock_path = records_root.join("container-index/lock");
            if !lock_path.exists() {
                fs::File::create(&lock_path)
                    .with_context(|| format!("creating {}", lock_path.display()))?;
            }
        }
        if let Some(dir) = &opts.volume_path {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        for lock_path in [
            root.join("storage.lock"),
            image_root.join("storage.lock"),
            root.join("container-index/lock"),
        ] {
            if !lock_path.exists() {
                fs::File::create(&lock_path)
                    .with_context(|| format!("creating {}", lock_path.display()))?;
            }
        }
        Ok(Store {
            blobs: BlobStore::new(&image_root),
            layers: LayerStore::new(&image_root),
            images: ImageStore::new(&image_root),
            containers: ContainerStore::new(&records_root, &runroot),
            other_containers: if transient {
                Some(ContainerStore::new(&root, &runroot))
            } else {
                let dir = runroot.join("transient");
                dir.join("containers")
                    .is_dir()
                    .then(|| ContainerStore::new(&dir, &runroot))
            },
            volumes: VolumeStore::new(
                &opts
                    .volume_path
                    .clone()
                    .unwrap_or_else(|| root.join("volumes")),
                &root,
            ),
            pods: PodStore::new(&records_root, &runroot),
            records_root,
            transient,
            image_root,
            image_store,
            root,
            runroot,
            tmpdir,
            driver,
            rootless,
            events_backend: opts.events_backend.unwrap_or_default(),
        })
    }

    pub fn meta(&self) -> Result<Option<StoreMeta>> {
        atomic::read_json(&self.root.join("store.json"))
    }

    pub fn save_meta(&self, meta: &StoreMeta) -> Result<()> {
        atomic::write_json(&self.root.join("store.json"), meta, true)
    }

    /// The store-wide lock for changes to records. A process's first
    /// taking of it sweeps what dead invocations left (cheap: tmp/ and the
    /// root's own entries).
    ///
    /// Each directory's `storage.lock` guards what lives in it: the root's
    /// its containers (and its images when no image store is set), an
    /// image store's its images. With an image store both are taken, in
    /// the order of their paths, so that graph roots sharing one image
    /// store serialize on it, the same root used with and without it
    /// serializes on the root's, and two invocations never wait on each
    /// other's second lock.
    pub fn lock(&self) -> Result<StoreLock> {
        let mut paths = vec![self.root.join("storage.lock")];
        if self.image_store.is_some() {
            paths.push(self.image_root.join("storage.lock"));
            paths.sort();
        }
        let held = paths
            .iter()
            .map(|p| FileLock::exclusive(p))
            .collect::<Result<Vec<_>>>()?;
        static SWEPT_BY: AtomicU32 = AtomicU32::new(0);
        if SWEPT_BY.swap(std::process::id(), Ordering::Relaxed) != std::process::id() {
            self.sweep_leftovers();
        }
        Ok(StoreLock { _held: held })
    }

    /// The layers container `cfg` was made on: in the image store it was
    /// created with, or the graph root, whatever this command names.
    pub fn container_layers(&self, cfg: &super::containers::ContainerConfig) -> LayerStore {
        LayerStore::new(cfg.image_store.as_deref().unwrap_or(&self.root))
    }

    /// Note in the image store that this graph root (and run root) has
    /// containers on its layers, so that image removals made from other
    /// graph roots sharing it keep the images they use. One small file per
    /// graph root, written atomically; none without an image store.
    pub fn register_image_store_user(&self) -> Result<()> {
        if self.image_store.is_none() {
            return Ok(());
        }
        let dir = self.image_root.join(GRAPH_ROOTS_DIR);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let key = super::digest::Digest::of_bytes(self.root.as_os_str().as_encoded_bytes());
        let entry = dir.join(&key.hex()[..16]);
        let text = format!("{}\n{}\n", self.root.display(), self.runroot.display());
        if fs::read_to_string(&entry).ok().as_deref() != Some(text.as_str()) {
            atomic::write_file(&entry, text.as_bytes(), false)?;
        }
        Ok(())
    }

    /// The containers of the other graph roots that share this image store
    /// (read only: this command cannot remove them), persistent and
    /// transient. Empty without an image store.
    pub fn image_store_users(&self) -> Vec<ContainerStore> {
        if self.image_store.is_none() {
            return Vec::new();
        }
        let Ok(entries) = fs::read_dir(self.image_root.join(GRAPH_ROOTS_DIR)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let Ok(text) = fs::read_to_string(e.path()) else {
                continue;
            };
            let mut lines = text.lines();
            let (Some(root), Some(runroot)) = (lines.next(), lines.next()) else {
                continue;
            };
            let (root, runroot) = (PathBuf::from(root), PathBuf::from(runroot));
            if root == self.root {
                continue;
            }
            for records in [root.clone(), runroot.join("transient")] {
                if records.join("containers").is_dir() {
                    out.push(ContainerStore::new(&records, &runroot));
                }
            }
        }
        out
    }

    /// The image root's staging dir: where image, layer and blob writes
    /// are staged and their removals renamed to.
    pub fn image_tmp(&self) -> PathBuf {
        self.image_root.join("tmp")
    }

    /// Remove what invocations that died left behind: staging and doomed
    /// trees, unfinished creates, `.tmp-*` files of records. Call with the
    /// lock held.
    pub fn sweep_leftovers(&self) -> leftovers::Swept {
        let mut undo_create = |id: &str| {
            if let Ok(doomed) = self.containers.unlink(id) {
                let _ = super::layers::remove_tree(&doomed);
            }
        };
        // Unfinished creates are marked in the records' tmp/ (the run root's
        // in transient mode, the root's otherwise).
        let mut swept =
            leftovers::sweep_tmp(&self.records_root.join("tmp"), Some(&mut undo_create));
        let mut others = Vec::new();
        if self.transient {
            others.push(self.root.clone());
        }
        if self.image_store.is_some() {
            others.push(self.image_root.clone());
        }
        for dir in &others {
            swept
                .removed
                .extend(leftovers::sweep_tmp(&dir.join("tmp"), None).removed);
        }
        if self.transient {
            swept
                .removed
                .extend(leftovers::sweep_temp_files(&self.records_root));
        }
        swept
            .removed
            .extend(leftovers::sweep_temp_files(&self.root));
        if self.image_store.is_some() {
            swept
                .removed
                .extend(leftovers::sweep_temp_files(&self.image_root));
        }
        // A migration of the image records cut short after its rename.
        let legacy = self.image_root.join("images.json");
        if self.image_root.join("images").is_dir() && fs::remove_file(&legacy).is_ok() {
            swept.removed.push(legacy);
        }
        // An image key index a killed save left marked, or none yet.
        let _ = self.images.heal_key_index();
        swept
    }

    /// The overlay xattr namespace layers of this store use.
    pub fn xattr_prefix(&self) -> unpack::XattrPrefix {
        if self.rootless {
            unpack::XattrPrefix::User
        } else {
            unpack::XattrPrefix::Trusted
        }
    }
}

/// In an image store: one file per graph root with containers on its
/// layers (`register_image_store_user`).
const GRAPH_ROOTS_DIR: &str = "graph-roots";

/// The held store lock (one file, or the root's and the image store's).
pub struct StoreLock {
    _held: Vec<FileLock>,
}

/// The image store asked for, made absolute and created (0700) when
/// missing; None when none is set ("" means none, as in storage.conf).
fn image_store_dir(asked: Option<&Path>, root: &Path) -> Result<Option<PathBuf>> {
    let Some(asked) = asked.filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(None);
    };
    let dir = absolute(asked.to_path_buf())?;
    if dir == root {
        bail!(
            "imagestore {} must either be not set or be different than graphroot",
            dir.display()
        );
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating image store {}", dir.display()))?;
    Ok(Some(dir))
}

fn absolute(p: PathBuf) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p);
    }
    Ok(std::env::current_dir()?.join(p))
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Store {
    /// After `removed` left the image list, delete what nothing else uses:
    /// its layers, config and manifest blobs. Call with the lock held.
    pub fn collect_image_garbage(
        &self,
        remaining: &super::images::Images,
        removed: &super::images::ImageRecord,
    ) -> Result<()> {
        for diff_id in &removed.layers {
            if !remaining.layer_in_use(diff_id, None) {
                self.layers.remove(diff_id)?;
            }
        }
        let config = removed.config_digest();
        if !remaining.list.iter().any(|i| i.id == removed.id) {
            self.blobs.remove(&config)?;
            super::image_signatures::remove(&self.image_root, &removed.id)?;
        }
        let mut manifests = vec![removed.manifest_digest.clone()];
        manifests.extend(removed.digests.iter().cloned());
        for m in manifests {
            let used = remaining
                .list
                .iter()
                .any(|i| i.manifest_digest == m || i.digests.contains(&m));
            if !used {
                self.blobs.remove(&m)?;
            }
        }
        Ok(())
    }
}
