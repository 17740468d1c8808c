//! Container records: `containers/<id>/config.json` (what the container is,
//! written at create) and `state.json` (what it is doing, rewritten by the
//! monitor). Both are replaced atomically; a reader never sees half of one.

use super::atomic;
use super::container_index::{self, ContainerIndex, Summary};
use super::digest::Digest;
use super::health::HealthSettings;
use super::layers::remove_tree;
use super::leftovers;
use super::modes::{NamespaceMode, NetworkMode, RestartPolicy, UsernsMode};
use super::records::{self, NameIndex};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// What the user asked for, kept so `start`, `inspect` and `commit` see it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    pub image_id: String,
    /// The image as the user named it, normalized (podman's ImageName).
    pub image_name: String,
    pub layers: Vec<Digest>,
    pub created: String,
    /// The process: entrypoint and command already merged.
    pub args: Vec<String>,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub workdir: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub stdin: bool,
    #[serde(default)]
    pub auto_remove: bool,
    #[serde(default)]
    pub stop_signal: String,
    #[serde(default)]
    pub stop_timeout: u32,
    #[serde(default)]
    pub init: bool,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub security_opt: Vec<String>,
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    #[serde(default)]
    pub tmpfs: Vec<MountSpec>,
    #[serde(default)]
    pub ulimits: Vec<String>,
    #[serde(default)]
    pub network: NetworkMode,
    /// What it asked of each named network it joins (address, aliases...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub network_attachments:
        std::collections::BTreeMap<String, crate::storage::networks::Attachment>,
    #[serde(default)]
    pub userns: UsernsMode,
    #[serde(default)]
    pub cidfile: Option<String>,
    #[serde(default)]
    pub log_path: String,
    /// Published ports (`-p`), random host ports already chosen.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    #[serde(default)]
    pub add_hosts: Vec<String>,
    /// `--no-hosts`: the image's /etc/hosts stays; none is mounted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_hosts: bool,
    /// `--hosts-file`: the base of its /etc/hosts (a host path, `none`
    /// or `image`); unset: coracle's own lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts_file: Option<String>,
    /// `--expose`: ports it says it serves, podman's keys (`80/tcp`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    /// The command line that created it (podman's Config.CreateCommand).
    #[serde(default)]
    pub create_command: Vec<String>,
    /// The pod this container belongs to (its id), if any.
    #[serde(default)]
    pub pod: String,
    /// The pod's infra container: its process only holds the namespaces.
    #[serde(default)]
    pub is_infra: bool,
    /// IPC, PID and UTS namespace modes (recorded as "" for private,
    /// "host", "container:ID" or "ns:PATH").
    #[serde(default)]
    pub ipc: NamespaceMode,
    #[serde(default)]
    pub pid: NamespaceMode,
    #[serde(default)]
    pub uts: NamespaceMode,
    /// Resource limits (cgroup), as `update` last left them.
    #[serde(default)]
    pub resources: Resources,
    /// `--cgroup-parent`: empty for the default place.
    #[serde(default)]
    pub cgroup_parent: String,
    /// `--cgroups`: enabled (also ""), disabled, no-conmon, split.
    #[serde(default)]
    pub cgroups: String,
    // The service settings are left out when unset, so records written
    // before them read and write back the same.
    /// `--restart`: kept by the monitor.
    #[serde(default, skip_serializing_if = "RestartPolicy::is_no")]
    pub restart_policy: RestartPolicy,
    /// The healthcheck (from `--health-*` or the image), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSettings>,
    /// `--sdnotify`: container (also ""), conmon, healthy or ignore.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sdnotify: String,
    /// `--pidfile`: where the monitor writes the program's pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfile: Option<String>,
    /// `--conmon-pidfile`: where the monitor writes its own pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conmon_pidfile: Option<String>,
    /// `--secret`: which secrets, and how the container sees them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<super::secrets::SecretUse>,
    /// Process settings: shm size, sysctls, time zone, umask, devices...
    #[serde(
        default,
        skip_serializing_if = "super::tuning::ProcessTuning::is_default"
    )]
    pub tuning: super::tuning::ProcessTuning,
    /// `--runtime`: the external OCI runtime that runs it; None: coracle's
    /// own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_runtime: Option<OciRuntimeRecord>,
}

/// An external OCI runtime (crun, runc...) and the global flags it gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciRuntimeRecord {
    pub name: String,
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// A container's resource limits in podman's units (inspect's HostConfig).
/// Zero means "not set" unless said otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Bytes.
    #[serde(default)]
    pub memory: i64,
    /// Memory plus swap, bytes; -1 unlimited.
    #[serde(default)]
    pub memory_swap: i64,
    #[serde(default)]
    pub memory_reservation: i64,
    /// `--cpus` times 1e9.
    #[serde(default)]
    pub nano_cpus: i64,
    #[serde(default)]
    pub cpu_shares: u64,
    /// Microseconds per period; -1 unlimited.
    #[serde(default)]
    pub cpu_quota: i64,
    #[serde(default)]
    pub cpu_period: u64,
    #[serde(default)]
    pub cpuset_cpus: String,
    #[serde(default)]
    pub cpuset_mems: String,
    /// 0 or -1: unlimited.
    #[serde(default)]
    pub pids_limit: i64,
    #[serde(default)]
    pub blkio_weight: u16,
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// `--memory-swappiness` (0 to 100; cgroup v1 only, as podman).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swappiness: Option<u64>,
    /// `--oom-kill-disable` (cgroup v1 only, as podman).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_kill_disable: bool,
    /// `--device-read-bps`, `--device-write-bps` (bytes per second) and
    /// `--device-read-iops`, `--device-write-iops`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_read_bps: Vec<DeviceRate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_write_bps: Vec<DeviceRate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_read_iops: Vec<DeviceRate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_write_iops: Vec<DeviceRate>,
}

/// A per-device I/O limit: the device as given, its numbers, the rate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRate {
    pub path: String,
    pub major: u64,
    pub minor: u64,
    pub rate: u64,
}

/// One `-p` mapping, with any random host port already chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Empty: every host address (podman shows 0.0.0.0).
    #[serde(default)]
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// tcp or udp
    pub protocol: String,
}

impl PortMapping {
    /// podman's `0.0.0.0:8080->80/tcp`.
    pub fn display(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        format!(
            "{ip}:{}->{}/{}",
            self.host_port, self.container_port, self.protocol
        )
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MountSpec {
    pub kind: MountKind,
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub options: Vec<String>,
    /// For a volume that does not exist yet: the options to create it
    /// with (`--mount type=volume,volume-opt=K=V`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_options: BTreeMap<String, String>,
}

/// What a mount brings in; recorded as podman spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    #[default]
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A fresh tmpfs.
    Tmpfs,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Stopping,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopping => "stopping",
            Status::Exited => "exited",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Status,
    #[serde(default)]
    pub pid: i32,
    /// Kernel start time of `pid` (field 22 of /proc/pid/stat): a reused pid
    /// has another, so a dead container is never mistaken for a live one.
    #[serde(default)]
    pub pid_start: u64,
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub monitor_start: u64,
    #[serde(default)]
    pub boot_id: String,
    /// The network helper (pasta, slirp4netns), so a dead monitor's helper
    /// can be ended by whoever notices.
    #[serde(default)]
    pub helper_pid: i32,
    #[serde(default)]
    pub helper_start: u64,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub restart_count: u32,
    /// Exited, and the monitor will start it again (restart policy).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restarting: bool,
    /// The container's cgroup below the hierarchy root ("" when it has none).
    #[serde(default)]
    pub cgroup_path: String,
}

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
        let name = self.load_config(id).ok().map(|c| c.name);
        self.unlink_named(id, name.as_deref())
    }

    /// [`unlink`](Self::unlink) for a container whose name (if it has a
    /// config at all) the caller knows.
    pub fn unlink_named(&self, id: &str, name: Option<&str>) -> Result<PathBuf> {
        let dir = self.dir(id);
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
