//! A summary of every container for the listing verbs (`ps`), so a listing
//! reads a few shard files instead of two records per container:
//! `container-index/<xx>.json`, 256 shards keyed by the first two hex
//! digits of the id, each holding what `ps` shows of its containers (the
//! configuration without its bulky parts, and the state).
//!
//! The records stay the truth; the index must never show anything else.
//! Every change to a record is made under `container-index/lock` as
//!   1. `dirty/<id>` is created (a change is under way),
//!   2. the record is written (or removed),
//!   3. the summary in its shard is replaced,
//!   4. `dirty/<id>` is removed.
//!
//! A reader takes the summaries, but reads the records themselves of any
//! container marked dirty, so a change cut short anywhere shows as it is
//! on disk. `complete` holds the boot id of the last full rebuild from the
//! records: without it (an older store, a new boot after a power cut that
//! may have lost unsynced shards) the index is rebuilt before it is used;
//! `system check --repair` rebuilds it too.

use super::atomic;
use super::containers::{ContainerConfig, ContainerState};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What the index keeps of one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub cfg: ContainerConfig,
    pub state: ContainerState,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Shard {
    containers: BTreeMap<String, Summary>,
}

pub struct ContainerIndex {
    dir: PathBuf,
    tmp: PathBuf,
}

/// The index lock is a record lock (a forked monitor does not inherit it),
/// which threads of one process share: this serializes them.
static IN_PROCESS: Mutex<()> = Mutex::new(());

/// A held index lock.
pub struct Held {
    _lock: super::lock::RecordLock,
    _thread: std::sync::MutexGuard<'static, ()>,
}

fn shard_of(id: &str) -> String {
    id.get(..2).unwrap_or("00").to_ascii_lowercase()
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The configuration without what no listing shows (environment, command
/// line, resources...): the summaries stay small to read.
pub fn slim(cfg: &ContainerConfig) -> ContainerConfig {
    ContainerConfig {
        id: cfg.id.clone(),
        name: cfg.name.clone(),
        image_id: cfg.image_id.clone(),
        image_name: cfg.image_name.clone(),
        created: cfg.created.clone(),
        args: cfg.args.clone(),
        labels: cfg.labels.clone(),
        auto_remove: cfg.auto_remove,
        mounts: cfg.mounts.clone(),
        tmpfs: cfg.tmpfs.clone(),
        network: cfg.network.clone(),
        network_attachments: cfg.network_attachments.clone(),
        ports: cfg.ports.clone(),
        pod: cfg.pod.clone(),
        is_infra: cfg.is_infra,
        restart_policy: cfg.restart_policy,
        health: cfg.health.clone(),
        ..Default::default()
    }
}

impl ContainerIndex {
    pub fn new(root: &Path) -> ContainerIndex {
        ContainerIndex {
            dir: root.join("container-index"),
            tmp: root.join("tmp"),
        }
    }

    fn dirty_dir(&self) -> PathBuf {
        self.dir.join("dirty")
    }

    fn shard_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    fn complete_path(&self) -> PathBuf {
        self.dir.join("complete")
    }

    pub fn lock(&self) -> Result<Held> {
        let thread = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
        fs::create_dir_all(self.dirty_dir())
            .with_context(|| format!("creating {}", self.dirty_dir().display()))?;
        Ok(Held {
            _lock: super::lock::RecordLock::exclusive(&self.dir.join("lock"))?,
            _thread: thread,
        })
    }

    /// Step 1 of a change to container `id` (call with the lock held).
    pub fn mark_dirty(&self, _held: &Held, id: &str) -> Result<()> {
        let path = self.dirty_dir().join(id);
        fs::write(&path, b"").with_context(|| format!("writing {}", path.display()))
    }

    /// Steps 3 and 4: the summary of `id` becomes `summary` (none: the
    /// container is gone), then the change is over.
    pub fn put(&self, _held: &Held, id: &str, summary: Option<Summary>) -> Result<()> {
        let key = shard_of(id);
        let mut shard: Shard = match atomic::read_json(&self.shard_path(&key)) {
            Ok(shard) => shard.unwrap_or_default(),
            Err(_) => {
                // An unreadable shard lost its other summaries: the index
                // is no longer whole, and the next reader rebuilds it.
                let _ = fs::remove_file(self.complete_path());
                Shard::default()
            }
        };
        match summary {
            Some(s) => {
                shard.containers.insert(id.to_string(), s);
            }
            None => {
                shard.containers.remove(id);
            }
        }
        self.write_shard(&key, &shard)?;
        match fs::remove_file(self.dirty_dir().join(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).context("ending a container index change")
            }
            _ => Ok(()),
        }
    }

    fn write_shard(&self, key: &str, shard: &Shard) -> Result<()> {
        let path = self.shard_path(key);
        if shard.containers.is_empty() {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            };
        }
        // Not fsynced: after a power cut the new boot rebuilds the index.
        atomic::write_file_in(&self.tmp, &path, &serde_json::to_vec(shard)?, false)
    }

    /// Is the index whole for this boot (not to be rebuilt first)?
    pub fn is_complete(&self) -> bool {
        fs::read_to_string(self.complete_path()).is_ok_and(|b| b.trim() == boot_id())
    }

    /// Every summary in the index, and the ids marked dirty (whose
    /// records are to be read instead).
    pub fn read(&self) -> Result<(BTreeMap<String, Summary>, Vec<String>)> {
        let mut all = BTreeMap::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((all, Vec::new())),
            Err(e) => return Err(e).with_context(|| format!("listing {}", self.dir.display())),
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(key) = name.strip_suffix(".json") else {
                continue;
            };
            if key.len() != 2 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            if let Some(shard) = atomic::read_json::<Shard>(&e.path())? {
                all.extend(shard.containers);
            }
        }
        let dirty = super::records::list_ids(&self.dirty_dir(), "container index changes")?;
        Ok((all, dirty))
    }

    /// Replace the whole index by `summaries` (read from the records under
    /// the lock) and mark it complete for this boot.
    pub fn rebuild(&self, _held: &Held, summaries: Vec<Summary>) -> Result<()> {
        let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
        for s in summaries {
            shards
                .entry(shard_of(&s.cfg.id))
                .or_default()
                .containers
                .insert(s.cfg.id.clone(), s);
        }
        let old: Vec<String> = fs::read_dir(&self.dir)
            .map(|es| {
                es.flatten()
                    .filter_map(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        let key = n.strip_suffix(".json")?.to_string();
                        (key.len() == 2).then_some(key)
                    })
                    .collect()
            })
            .unwrap_or_default();
        for key in old.iter().filter(|k| !shards.contains_key(*k)) {
            self.write_shard(key, &Shard::default())?;
        }
        for (key, shard) in &shards {
            self.write_shard(key, shard)?;
        }
        for id in super::records::list_ids(&self.dirty_dir(), "container index changes")? {
            let _ = fs::remove_file(self.dirty_dir().join(id));
        }
        atomic::write_file_in(
            &self.tmp,
            &self.complete_path(),
            boot_id().as_bytes(),
            false,
        )
    }
}
