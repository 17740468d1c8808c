//! Container records: `containers/<id>/config.json` (what the container is,
//! written at create) and `state.json` (what it is doing, rewritten by the
//! monitor). Both are replaced atomically; a reader never sees half of one.

use super::atomic;
use super::container_index::{self, ContainerIndex, Summary};
pub use super::container_record::{
    ContainerConfig, ContainerState, DeviceRate, InitCtr, MountKind, MountSpec, OciRuntimeRecord,
    PortMapping, Resources, Status,
};
use super::layers::remove_tree;
use super::leftovers;
use super::records::{self, NameIndex};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

pub struct ContainerStore {
    dir: PathBuf,
    run_dir: PathBuf,
    /// `<root>/container-names/<name>`: beside, not inside, `containers/`,
    /// which holds only container directories.
    names: NameIndex,
    exits: PathBuf,
    tmp: PathBuf,
    /// `<runroot>/container-locks/<id>`: see [`ContainerStore::lock`].
    locks: PathBuf,
    /// What `ps` reads: container_index.rs.
    index: ContainerIndex,
}

/// How long the exit code of a removed container is kept for `wait`.
const EXIT_CODE_KEPT: std::time::Duration = std::time::Duration::from_secs(300);

impl ContainerStore {
    pub fn new(root: &Path, runroot: &Path) -> ContainerStore {
        ContainerStore {
            dir: root.join("containers"),
            run_dir: runroot.join("containers"),
            names: NameIndex::new(root.join("container-names"), root.join("tmp")),
            exits: runroot.join("exits"),
            locks: runroot.join("container-locks"),
            tmp: root.join("tmp"),
            index: ContainerIndex::new(root),
        }
    }

    /// Keep the exit code of a container about to be removed (`--rm`), so
    /// that `wait` still answers for it, as podman's exit-code table does.
    /// Volatile (runroot) and short-lived: older codes are swept here.
    pub fn keep_exit_code(&self, id: &str, code: i32) -> Result<()> {
        fs::create_dir_all(&self.exits)
            .with_context(|| format!("creating {}", self.exits.display()))?;
        if let Ok(entries) = fs::read_dir(&self.exits) {
            for e in entries.flatten() {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > EXIT_CODE_KEPT);
                if old {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        let tmp = self.exits.join(format!(".{id}.tmp"));
        fs::write(&tmp, format!("{code}\n"))
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, self.exits.join(id)).context("recording the exit code")
    }

    /// The kept exit code of a removed container, if still there.
    pub fn kept_exit_code(&self, id: &str) -> Option<i32> {
        if !records::is_full_id(id) {
            return None;
        }
        let path = self.exits.join(id);
        let age = fs::metadata(&path).ok()?.modified().ok()?.elapsed().ok()?;
        if age > EXIT_CODE_KEPT {
            return None;
        }
        fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// Persistent directory of a container (records, upper dir, logs).
    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Serialize starting and removing one container: a removal waits for
    /// a start under way (and then finds the container running, to stop)
    /// instead of pulling its files from under it. Whoever takes it checks
    /// again that the container still exists.
    pub fn lock(&self, id: &str) -> Result<super::lock::RecordLock> {
        fs::create_dir_all(&self.locks)
            .with_context(|| format!("creating {}", self.locks.display()))?;
        super::lock::RecordLock::exclusive(&self.locks.join(id))
    }

    /// Does the container have its record (exist, for every verb)?
    pub fn exists(&self, id: &str) -> bool {
        records::is_full_id(id) && self.has_config(id)
    }

    /// Volatile directory (runtime files that die with a reboot).
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.run_dir.join(id)
    }

    /// The containers there are: not those a create is still building.
    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = records::list_ids(&self.dir, "containers")?;
        let unfinished = leftovers::creating_ids(&self.tmp);
        if !unfinished.is_empty() {
            ids.retain(|id| !unfinished.contains(id));
        }
        Ok(ids)
    }

    pub fn load_config(&self, id: &str) -> Result<ContainerConfig> {
        atomic::read_json(&self.dir(id).join("config.json"))?
            .with_context(|| format!("container {id} has no configuration"))
    }

    /// The definition survives a power cut, except for `--rm` containers,
    /// which nothing needs after they end.
    pub fn save_config(&self, cfg: &ContainerConfig) -> Result<()> {
        self.changing(&cfg.id, || {
            atomic::write_json(
                &self.dir(&cfg.id).join("config.json"),
                cfg,
                !cfg.auto_remove,
            )
        })
    }

    /// Change container `id`'s records with `write`, keeping its summary in
    /// the index in step (the protocol: container_index.rs).
    fn changing<T>(&self, id: &str, write: impl FnOnce() -> Result<T>) -> Result<T> {
        let held = self.index.lock()?;
        self.index.mark_dirty(&held, id)?;
        super::crash::point("container-index-dirty");
        let out = write();
        super::crash::point("container-record-written");
        let summary = self.summary_from_records(id);
        self.index.put(&held, id, summary)?;
        out
    }

    /// The summary of `id` as its records on disk say (none: no record).
    /// One still being created has its summary too; readers leave it out.
    fn summary_from_records(&self, id: &str) -> Option<Summary> {
        let cfg = self.load_config(id).ok()?;
        let state = self.load_state(id).ok()?;
        Some(Summary {
            cfg: container_index::slim(&cfg),
            state,
        })
    }

    /// Every container (not those a create is still building) as the index
    /// summarizes it: the configuration without its bulky parts (see
    /// [`container_index::slim`]) and the state as last written, which the
    /// caller corrects for a container that looks alive. Exact: a change
    /// under way or cut short is read from the records.
    pub fn summaries(&self) -> Result<Vec<Summary>> {
        let read = if self.index.is_complete() {
            self.index.read().ok()
        } else {
            None
        };
        let Some((mut all, dirty)) = read else {
            return self.rebuild_index();
        };
        for id in dirty {
            all.remove(&id);
            if let Some(s) = self.summary_from_records(&id) {
                all.insert(id, s);
            }
        }
        let unfinished = leftovers::creating_ids(&self.tmp);
        Ok(all
            .into_values()
            .filter(|s| !unfinished.contains(&s.cfg.id))
            .collect())
    }

    /// Read every record and write the index anew from them (a store
    /// without one, a new boot, `system check --repair`). Without the lock
    /// (a store we may not write) the records are read and not indexed.
    pub fn rebuild_index(&self) -> Result<Vec<Summary>> {
        let held = self.index.lock().ok();
        let mut all = Vec::new();
        for id in records::list_ids(&self.dir, "containers")? {
            if let Some(s) = self.summary_from_records(&id) {
                all.push(s);
            }
        }
        // No container, nothing to index: a listing of an empty store
        // leaves it as it found it (the next reader looks again, cheaply).
        if all.is_empty() {
            return Ok(all);
        }
        if let Some(held) = &held {
            if let Err(e) = self.index.rebuild(held, all.clone()) {
                crate::warn!("could not rebuild the container index: {e:#}");
            }
        }
        let unfinished = leftovers::creating_ids(&self.tmp);
        all.retain(|s| !unfinished.contains(&s.cfg.id));
        Ok(all)
    }

    pub fn load_state(&self, id: &str) -> Result<ContainerState> {
        Ok(atomic::read_json(&self.dir(id).join("state.json"))?.unwrap_or_default())
    }

    /// `stop`, `kill` and `rm` say so before they signal, so the monitor
    /// does not apply the restart policy; a user's `start` clears it.
    pub fn mark_stopped_by_user(&self, id: &str) {
        let _ = fs::write(self.stopped_marker(id), b"");
    }

    pub fn clear_stopped_by_user(&self, id: &str) {
        let _ = fs::remove_file(self.stopped_marker(id));
    }

    pub fn stopped_by_user(&self, id: &str) -> bool {
        self.stopped_marker(id).exists()
    }

    /// `stop` says it is waiting for the program to end: the container
    /// shows as `stopping` while that `stop` runs (its owner tag says
    /// whether it still does, so a killed `stop` leaves nothing behind).
    pub fn mark_stopping(&self, id: &str) {
        let _ = fs::write(self.stopping_marker(id), leftovers::owner_tag());
    }

    pub fn clear_stopping(&self, id: &str) {
        let _ = fs::remove_file(self.stopping_marker(id));
    }

    pub fn is_stopping(&self, id: &str) -> bool {
        fs::read_to_string(self.stopping_marker(id))
            .is_ok_and(|owner| !leftovers::owner_is_gone(owner.trim()))
    }

    fn stopping_marker(&self, id: &str) -> PathBuf {
        self.dir(id).join("userdata").join("stopping")
    }

    pub fn stopped_marker(&self, id: &str) -> PathBuf {
        self.dir(id).join("userdata").join("stopped-by-user")
    }

    /// State is replaced atomically but not fsynced: after a power cut an
    /// older state is corrected anyway (a new boot id means nothing runs).
    pub fn save_state(&self, id: &str, state: &ContainerState) -> Result<()> {
        self.changing(id, || {
            atomic::write_json(&self.dir(id).join("state.json"), state, false)
        })
    }

    /// A container exists once its create has finished.
    fn has_config(&self, id: &str) -> bool {
        self.dir(id).join("config.json").exists() && !leftovers::is_creating(&self.tmp, id)
    }

    /// Which container holds `name`.
    pub fn name_owner(&self, name: &str) -> Option<String> {
        self.names.owner(name, |id| self.has_config(id))
    }

    /// Take `name` for `id`; false when a live container holds it. Call
    /// with the store lock held.
    pub fn claim_name(&self, name: &str, id: &str) -> Result<bool> {
        self.names.claim(name, id, |id| self.has_config(id))
    }

    /// Give `name` back, if `id` holds it.
    pub fn release_name(&self, name: &str, id: &str) {
        self.names.release(name, id)
    }

    /// Index entries that give a name to no container (a removal cut
    /// short). Harmless (such a name is free) but clutter: call with the
    /// store lock held, when no create is half way.
    pub fn stale_names(&self) -> Vec<String> {
        self.names
            .entries()
            .into_iter()
            .filter(|(_, id)| !self.has_config(id))
            .map(|(name, _)| name)
            .collect()
    }

    pub fn forget_name(&self, name: &str) -> Result<()> {
        self.names.forget(name)
    }

    /// Make the directories of a new container and write its first records.
    /// Until the returned guard is dropped a marker in tmp/ names the
    /// container as unfinished: if the creating process dies first, the
    /// next sweep takes the container out again (its name with it).
    pub fn create(&self, cfg: &ContainerConfig) -> Result<Creating> {
        let dir = self.dir(&cfg.id);
        if dir.exists() {
            bail!("container id {} is already in use", cfg.id);
        }
        fs::create_dir_all(&self.tmp)
            .with_context(|| format!("creating {}", self.tmp.display()))?;
        let marker = leftovers::mark_creating(&self.tmp, &cfg.id)
            .with_context(|| format!("creating {}", self.tmp.display()))?;
        let creating = Creating { marker };
        let result = (|| -> Result<()> {
            for sub in ["upper", "work", "userdata"] {
                fs::create_dir_all(dir.join(sub))
                    .with_context(|| format!("creating {}", dir.join(sub).display()))?;
            }
            super::crash::point("container-dir-made");
            self.save_config(cfg)?;
            super::crash::point("container-config-written");
            self.save_state(&cfg.id, &ContainerState::default())
        })();
        if let Err(e) = result {
            let _ = self.changing(&cfg.id, || Ok(remove_tree(&dir)?));
            return Err(e);
        }
        Ok(creating)
    }

    /// Remove every trace of a container. The records go first, so a crash
    /// half way leaves no record pointing at half a directory.
    pub fn remove(&self, id: &str) -> Result<()> {
        let doomed = self.unlink(id)?;
        remove_tree(&doomed).with_context(|| format!("removing container {id}"))
    }

    /// Take a container out of the store in one atomic rename (into the
    /// store's tmp/, where a crash leaves it to the next sweep); the caller
    /// deletes the returned tree, now or in the background.
    pub fn unlink(&self, id: &str) -> Result<PathBuf> {
        let cfg = self.load_config(id).ok();
        let doomed = self.unlink_named(id, cfg.as_ref().map(|c| c.name.as_str()))?;
        if let Some(c) = &cfg {
            forget_cidfile(c);
        }
        Ok(doomed)
    }

    /// [`unlink`](Self::unlink) for a container whose name (if it has a
    /// config at all) the caller knows.
    pub fn unlink_named(&self, id: &str, name: Option<&str>) -> Result<PathBuf> {
        let dir = self.dir(id);
        detach_merged(&dir);
        fs::create_dir_all(&self.tmp)
            .with_context(|| format!("creating {}", self.tmp.display()))?;
        let doomed = records::tmp_path(&self.tmp, "");
        // The records leave first, in one rename: a kill after it leaves a
        // name entry that owns nothing, never a container without its name.
        self.changing(id, || match fs::rename(&dir, &doomed) {
            Ok(()) => {
                super::crash::point("container-unlinked");
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing container {id}")),
        })?;
        if let Some(name) = name {
            self.release_name(name, id);
        }
        let _ = remove_tree(&self.run_dir(id));
        // Whoever waits on it finds the container gone; ids are never reused.
        let _ = fs::remove_file(self.locks.join(id));
        Ok(doomed)
    }
}

/// A removed container's `--cidfile` goes with it (podman's rule, which lets
/// a systemd unit's next `run --cidfile` start), unless the file now names
/// another container.
pub fn forget_cidfile(cfg: &ContainerConfig) {
    let Some(file) = cfg.cidfile.as_deref() else {
        return;
    };
    if fs::read_to_string(file).is_ok_and(|t| t.trim_end() == cfg.id) {
        let _ = fs::remove_file(file);
    }
}

/// A `mount` of the container's root left in this mount namespace goes
/// before its files: deleting the tree must not reach through it (for a
/// `--rootfs DIR` container that would be the user's DIR itself).
fn detach_merged(dir: &Path) {
    let merged = dir.join("merged");
    let Ok(c) = std::ffi::CString::new(merged.as_os_str().as_encoded_bytes()) else {
        return;
    };
    // SAFETY: a NUL-terminated path; failing (not a mount point, or not
    // allowed) changes nothing.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
}

/// A container being created (see [`ContainerStore::create`]): dropping
/// it, once the create has finished or been undone, removes its marker.
pub struct Creating {
    marker: PathBuf,
}

impl Drop for Creating {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.marker);
    }
}

/// A command line as records keep it (podman's CreateCommand), without
/// the secrets on it: the password of `--creds USER:PASSWORD` and the value
/// of `--password` become `*****`. Records end up in `inspect` output and
/// CI logs; credentials serve the pull and are forgotten.
pub fn command_line_without_secrets(args: impl IntoIterator<Item = String>) -> Vec<String> {
    const HIDDEN: &str = "*****";
    let hide = |flag: &str, value: &str| -> String {
        match (flag, value.split_once(':')) {
            ("--creds", Some((user, _))) => format!("{user}:{HIDDEN}"),
            ("--creds", None) => value.to_string(),
            _ => HIDDEN.to_string(),
        }
    };
    let mut out = Vec::new();
    let mut pending: Option<&'static str> = None;
    for a in args {
        if let Some(flag) = pending.take() {
            out.push(hide(flag, &a));
            continue;
        }
        let mut kept = a.clone();
        for flag in ["--creds", "--password"] {
            if a == flag {
                pending = Some(flag);
            } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                kept = format!("{flag}={}", hide(flag, v));
            }
        }
        out.push(kept);
    }
    out
}

/// A fresh 64-hex container id.
pub fn new_id() -> String {
    let a: u128 = rand::random();
    let b: u128 = rand::random();
    format!("{a:032x}{b:032x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_lines_keep_no_secrets() {
        let line = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let kept = super::command_line_without_secrets(line(&[
            "coracle",
            "run",
            "--creds",
            "me:pa:ss",
            "--creds=you:pw2",
            "-p",
            "80:80",
            "--password",
            "pw3",
            "--password=pw4",
            "--creds",
            "onlyuser",
            "img",
        ]));
        assert_eq!(
            kept,
            line(&[
                "coracle",
                "run",
                "--creds",
                "me:*****",
                "--creds=you:*****",
                "-p",
                "80:80",
                "--password",
                "*****",
                "--password=*****",
                "--creds",
                "onlyuser",
                "img",
            ])
        );
    }
}
