//! Pod records: `pods/<id>/pod.json`, what a pod is (written at create,
//! replaced atomically). A pod has no state file of its own: its state is
//! its containers' states, so it can never disagree with them. Members
//! name their pod in their own config (`ContainerConfig::pod`).
//! Pod names have their own index (`pod-names/<name>`): podman keeps pod
//! and container names apart.

use super::atomic;
use super::containers::{PortMapping, Resources};
use super::launch::IdMappings;
use super::layers::remove_tree;
use super::modes::{NamespaceMode, NetworkMode, UsernsMode};
use super::records::{self, NameIndex};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// What `pod create` asked for. The infra container carries the running
/// side (its process holds the shared namespaces, its monitor the network
/// helper and the published ports).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PodConfig {
    pub id: String,
    pub name: String,
    pub created: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// As given with `--hostname` (empty: the members use the pod's name).
    #[serde(default)]
    pub hostname: String,
    /// Namespaces the members share through the infra: net, ipc, uts, pid.
    #[serde(default)]
    pub share: Vec<String>,
    /// Empty with `--infra=false`.
    #[serde(default)]
    pub infra_id: String,
    /// The infra's network mode (pasta, slirp4netns, none, host...).
    #[serde(default)]
    pub network: NetworkMode,
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
    /// The infra's `--ip`, `--mac-address` and `--network-alias` per
    /// named network.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub network_attachments: BTreeMap<String, crate::storage::networks::Attachment>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_hosts: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts_file: Option<String>,
    /// podman's ExitPolicy: continue or stop.
    #[serde(default)]
    pub exit_policy: String,
    #[serde(default)]
    pub create_command: Vec<String>,
    /// Limits for the pod as a whole, written to its cgroup (the parent
    /// of its members' cgroups).
    #[serde(default, skip_serializing_if = "is_default")]
    pub resources: Resources,
    /// `--cgroup-parent`: where the pod's cgroup goes (empty: the default).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    /// `--share-parent=false`: members get cgroups outside the pod's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own_cgroups: bool,
    /// The infra's `--pid` and `--uts` modes (host, ns:PATH; private by
    /// default), which members sharing them get too.
    #[serde(default, skip_serializing_if = "is_default")]
    pub pid: NamespaceMode,
    #[serde(default, skip_serializing_if = "is_default")]
    pub uts: NamespaceMode,
    /// What every container made in the pod gets.
    #[serde(default, skip_serializing_if = "is_default")]
    pub member: MemberDefaults,
    /// `--userns` (keep-id) and `--uidmap` and kin, resolved: the infra's
    /// user namespace, which every member joins (see `shares_user`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub userns: UsernsMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_mappings: Option<IdMappings>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// What `pod create` gives each container made in the pod, in the flags'
/// own syntax (podman copies them into every member's config); a
/// member's own flags come after and win.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberDefaults {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// `--gpus`: resolved through the CDI specs when each member is made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sysctl: Vec<String>,
    /// A restart policy (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub restart: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size_systemd: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_hostname: bool,
}

impl PodConfig {
    /// Whether members share the infra's `ns` namespace (never without an
    /// infra: `--infra=false` pods share nothing).
    pub fn shares(&self, ns: &str) -> bool {
        self.share.iter().any(|s| s == ns)
    }

    /// Do members join the infra's user namespace? With a user namespace
    /// of the pod's own (`--userns keep-id`, `--uidmap`...), as podman.
    pub fn shares_user(&self) -> bool {
        !self.infra_id.is_empty()
            && (self.id_mappings.is_some()
                || !matches!(self.userns, UsernsMode::Default | UsernsMode::Host))
    }

    /// The hostname members see: `--hostname`, else the pod's name.
    pub fn effective_hostname(&self) -> &str {
        if self.hostname.is_empty() {
            &self.name
        } else {
            &self.hostname
        }
    }
}

pub struct PodStore {
    dir: PathBuf,
    names: NameIndex,
    tmp: PathBuf,
    /// `<runroot>/pod-locks/<id>`: see [`PodStore::members_lock`].
    locks: PathBuf,
}

impl PodStore {
    pub fn new(root: &Path, runroot: &Path) -> PodStore {
        PodStore {
            dir: root.join("pods"),
            names: NameIndex::new(root.join("pod-names"), root.join("tmp")),
            tmp: root.join("tmp"),
            locks: runroot.join("pod-locks"),
        }
    }

    /// Serialize a member's start with the pod's exit policy: a member
    /// joining the infra's namespaces never meets an infra that a departing
    /// member's monitor has just decided to stop (it finds it stopped, and
    /// starts it again). Not inherited by forks (a monitor holds nothing).
    pub fn members_lock(&self, id: &str) -> Result<super::lock::RecordLock> {
        fs::create_dir_all(&self.locks)
            .with_context(|| format!("creating {}", self.locks.display()))?;
        super::lock::RecordLock::exclusive(&self.locks.join(id))
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn record(&self, id: &str) -> PathBuf {
        self.dir(id).join("pod.json")
    }

    pub fn exists(&self, id: &str) -> bool {
        self.record(id).exists()
    }

    pub fn ids(&self) -> Result<Vec<String>> {
        records::list_ids(&self.dir, "pods")
    }

    pub fn load(&self, id: &str) -> Result<PodConfig> {
        atomic::read_json(&self.record(id))?.with_context(|| format!("pod {id} has no record"))
    }

    pub fn save(&self, pod: &PodConfig) -> Result<()> {
        atomic::write_json(&self.record(&pod.id), pod, true)
    }

    /// Write a new pod's record. Call with the store lock held, after
    /// `claim_name`.
    pub fn create(&self, pod: &PodConfig) -> Result<()> {
        let dir = self.dir(&pod.id);
        if dir.exists() {
            bail!("pod id {} is already in use", pod.id);
        }
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.save(pod)
    }

    /// Which pod holds `name`.
    pub fn name_owner(&self, name: &str) -> Option<String> {
        self.names.owner(name, |id| self.exists(id))
    }

    /// Take `name` for pod `id`; false when a live pod holds it. Call with
    /// the store lock held.
    pub fn claim_name(&self, name: &str, id: &str) -> Result<bool> {
        self.names.claim(name, id, |id| self.exists(id))
    }

    pub fn release_name(&self, name: &str, id: &str) {
        self.names.release(name, id)
    }

    /// Remove a pod's record and name (its containers are gone already).
    /// One rename takes it out of the store; the rest is cleanup.
    pub fn remove(&self, id: &str) -> Result<()> {
        let name = self.load(id).ok().map(|pod| pod.name);
        fs::create_dir_all(&self.tmp)?;
        let doomed = records::tmp_path(&self.tmp, "pod-");
        // The record first: a kill between leaves a name that owns nothing.
        match fs::rename(self.dir(id), &doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("removing pod {id}")),
        }
        if let Some(name) = name {
            self.release_name(&name, id);
        }
        let _ = fs::remove_file(self.locks.join(id));
        remove_tree(&doomed).with_context(|| format!("removing pod {id}"))
    }
}
