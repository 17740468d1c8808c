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
use super::container_record::{ContainerConfig, ContainerState, MountSpec, PortMapping, Status};
use super::modes::{NetworkMode, RestartPolicy};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

/// What the index keeps of one container.
#[derive(Debug, Clone)]
pub struct Summary {
    pub cfg: ContainerConfig,
    pub state: ContainerState,
}

/// A summary as a shard stores it: only what a listing shows, defaults left
/// out (the id is the shard's key), so 5,000 of them parse in a few ms.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    name: String,
    image_id: String,
    image_name: String,
    created: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    auto_remove: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mounts: Vec<MountSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tmpfs: Vec<MountSpec>,
    #[serde(default)]
    network: NetworkMode,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    network_attachments: BTreeMap<String, crate::storage::networks::Attachment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ports: Vec<PortMapping>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pod: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    is_infra: bool,
    #[serde(default, skip_serializing_if = "RestartPolicy::is_no")]
    restart_policy: RestartPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health: Option<super::health::HealthSettings>,
    status: Status,
    #[serde(default, skip_serializing_if = "is_zero")]
    pid: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    exit_code: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    restarting: bool,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

impl Stored {
    fn of(s: &Summary) -> Stored {
        let (c, st) = (&s.cfg, &s.state);
        Stored {
            name: c.name.clone(),
            image_id: c.image_id.clone(),
            image_name: c.image_name.clone(),
            created: c.created.clone(),
            args: c.args.clone(),
            labels: c.labels.clone(),
            auto_remove: c.auto_remove,
            mounts: c.mounts.clone(),
            tmpfs: c.tmpfs.clone(),
            network: c.network.clone(),
            network_attachments: c.network_attachments.clone(),
            ports: c.ports.clone(),
            pod: c.pod.clone(),
            is_infra: c.is_infra,
            restart_policy: c.restart_policy,
            health: c.health.clone(),
            status: st.status,
            pid: st.pid,
            exit_code: st.exit_code,
            started_at: st.started_at.clone(),
            finished_at: st.finished_at.clone(),
            restarting: st.restarting,
        }
    }

    fn summary(self, id: &str) -> Summary {
        Summary {
            cfg: ContainerConfig {
                id: id.to_string(),
                name: self.name,
                image_id: self.image_id,
                image_name: self.image_name,
                created: self.created,
                args: self.args,
                labels: self.labels,
                auto_remove: self.auto_remove,
                mounts: self.mounts,
                tmpfs: self.tmpfs,
                network: self.network,
                network_attachments: self.network_attachments,
                ports: self.ports,
                pod: self.pod,
                is_infra: self.is_infra,
                restart_policy: self.restart_policy,
                health: self.health,
                ..Default::default()
            },
            state: ContainerState {
                status: self.status,
                pid: self.pid,
                exit_code: self.exit_code,
                started_at: self.started_at,
                finished_at: self.finished_at,
                restarting: self.restarting,
                ..Default::default()
            },
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Shard {
    containers: BTreeMap<String, Stored>,
}

pub struct ContainerIndex {
    dir: PathBuf,
    tmp: PathBuf,
}

/// The index lock is a record lock (a forked monitor does not inherit it),
/// which threads of one process share: this serializes them. Not a
/// Mutex: a thread may fork (a monitor) while another holds it, and the
/// child would inherit it locked by a thread it does not have. This holds
/// the holder's pid instead, so a child sees its parent's pid and knows
/// the hold is not its own.
static IN_PROCESS: AtomicI32 = AtomicI32::new(0);

/// This process's turn at the index lock.
struct ThreadTurn;

impl ThreadTurn {
    fn take() -> ThreadTurn {
        let me = std::process::id() as i32;
        loop {
            match IN_PROCESS.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return ThreadTurn,
                // Held in the process we were forked from: not ours to wait for.
                Err(holder) if holder != me => {
                    if IN_PROCESS
                        .compare_exchange(holder, me, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        return ThreadTurn;
                    }
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_micros(200)),
            }
        }
    }
}

impl Drop for ThreadTurn {
    fn drop(&mut self) {
        IN_PROCESS.store(0, Ordering::Release);
    }
}

/// A held index lock.
pub struct Held {
    // Dropped in this order: the file lock first, then the turn.
    _lock: super::lock::RecordLock,
    _thread: ThreadTurn,
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
        image_store: cfg.image_store.clone(),
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
        let thread = ThreadTurn::take();
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
                shard.containers.insert(id.to_string(), Stored::of(&s));
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
                all.extend(
                    shard
                        .containers
                        .into_iter()
                        .map(|(id, s)| (id.clone(), s.summary(&id))),
                );
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
                .insert(s.cfg.id.clone(), Stored::of(&s));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_keeps_what_listing_shows() {
        let mut cfg = ContainerConfig {
            id: "ab".repeat(32),
            name: "web".into(),
            image_id: "cd".repeat(32),
            image_name: "localhost/x:latest".into(),
            created: "2026-01-01T00:00:00Z".into(),
            args: vec!["sh".into()],
            env: vec!["A=1".into()],
            pod: "p".into(),
            ..Default::default()
        };
        cfg.labels.insert("k".into(), "v".into());
        let state = ContainerState {
            status: Status::Exited,
            exit_code: 3,
            finished_at: Some("2026-01-01T00:00:01Z".into()),
            ..Default::default()
        };
        let s = Summary {
            cfg: slim(&cfg),
            state,
        };
        let text = serde_json::to_string(&Stored::of(&s)).unwrap();
        let back = serde_json::from_str::<Stored>(&text)
            .unwrap()
            .summary(&cfg.id);
        assert_eq!(back.cfg.id, cfg.id);
        assert_eq!(back.cfg.name, "web");
        assert_eq!(back.cfg.labels, cfg.labels);
        assert_eq!(back.cfg.pod, "p");
        assert!(back.cfg.env.is_empty());
        assert_eq!(back.state.status, Status::Exited);
        assert_eq!(back.state.exit_code, 3);
        assert_eq!(back.state.finished_at, s.state.finished_at);
    }
}
