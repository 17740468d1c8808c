//! How a container's process is launched beyond what its image says: its
//! own user namespace maps (`--uidmap`...), another init binary
//! (`--init-path`), systemd mode (`--systemd`).
//! Left out of the record when unset, so earlier records read the same.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchSettings {
    /// `--uidmap`/`--gidmap`/`--subuidname`/`--subgidname`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_mappings: Option<IdMappings>,
    /// A pod member's: the container (its pod's infra) whose user
    /// namespace it joins instead of making one with those maps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns_from: Option<String>,
    /// `--init-path`: the init bound at /run/podman-init, run before the
    /// program (with `--init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_path: Option<String>,
    /// `--systemd` chose systemd mode: tmpfs on /run, /run/lock, /tmp and
    /// /var/log/journal, a writable cgroup tree, `container_uuid`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub systemd: bool,
    /// `--shm-size-systemd`: those tmpfs' size in bytes (`None` or 0: the
    /// kernel's default, half the memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_tmpfs_size: Option<u64>,
    /// `--attach`: the streams an attached start relays (stdin, stdout,
    /// stderr); empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attach: Vec<String>,
    /// `--rootfs`: the container's root is this directory, not an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<RootfsDir>,
}

/// `--rootfs PATH[:O]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootfsDir {
    pub path: String,
    /// `:O`: the directory is an overlay's lower layer, left unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overlay: bool,
}

impl LaunchSettings {
    pub fn is_default(&self) -> bool {
        *self == LaunchSettings::default()
    }
}

/// A user namespace's maps, host ids as the caller's own namespace sees
/// them: as root the host's, rootless the intermediate ids (0 the caller,
/// 1.. the subordinate ranges), as podman's `--uidmap` takes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdMappings {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

impl IdRange {
    /// podman's inspect spelling: `container:host:size`.
    pub fn text(&self) -> String {
        format!("{}:{}:{}", self.container_id, self.host_id, self.size)
    }
}
