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
        for dir in [&root, &runroot] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        let meta_path = root.join("store.json");
        let driver = match atomic::read_json::<StoreMeta>(&meta_path)? {
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
            None => {
                let driver = opts.driver.unwrap_or(Driver::Overlay);
                atomic::write_json(&meta_path, &StoreMeta { driver }, true)?;
                driver
            }
        };
        // The full skeleton exists from the first command on, so a failed
        // command never leaves the store different from how it found it.
        for sub in [
            "tmp",
            "layers",
            "blobs/sha256",
            "containers",
            "container-names",
            "volumes",
            "pods",
            "pod-names",
            "container-index/dirty",
        ] {
            let dir = root.join(sub);
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
        for lock_path in [root.join("storage.lock"), root.join("container-index/lock")] {
            if !lock_path.exists() {
                fs::File::create(&lock_path)
                    .with_context(|| format!("creating {}", lock_path.display()))?;
            }
        }
        Ok(Store {
            blobs: BlobStore::new(&root),
            layers: LayerStore::new(&root),
            images: ImageStore::new(&root),
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
            pods: PodStore::new(&records_root),
            records_root,
            transient,
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
    pub fn lock(&self) -> Result<FileLock> {
        let lock = FileLock::exclusive(&self.root.join("storage.lock"))?;
        static SWEPT_BY: AtomicU32 = AtomicU32::new(0);
        if SWEPT_BY.swap(std::process::id(), Ordering::Relaxed) != std::process::id() {
            self.sweep_leftovers();
        }
        Ok(lock)
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
        let mut swept = if self.transient {
            let mut swept = leftovers::sweep_tmp(&self.root.join("tmp"), None);
            let records =
                leftovers::sweep_tmp(&self.records_root.join("tmp"), Some(&mut undo_create));
            swept.removed.extend(records.removed);
            swept
                .unfinished_containers
                .extend(records.unfinished_containers);
            swept
                .removed
                .extend(leftovers::sweep_temp_files(&self.records_root));
            swept
        } else {
            leftovers::sweep_tmp(&self.root.join("tmp"), Some(&mut undo_create))
        };
        swept
            .removed
            .extend(leftovers::sweep_temp_files(&self.root));
        // A migration of the image records cut short after its rename.
        let legacy = self.root.join("images.json");
        if self.root.join("images").is_dir() && fs::remove_file(&legacy).is_ok() {
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
