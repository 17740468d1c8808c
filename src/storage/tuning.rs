//! The process settings of `run`/`create` beyond identity and limits:
//! /dev/shm's size, namespaced sysctls, the time zone, the umask, extra
//! devices and groups, the execution domain. Kept in the container's
//! record as one group, left out when nothing was asked, so records
//! written before it read and write back the same.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A host device node made visible in the container (`--device`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSpec {
    pub host_path: String,
    pub container_path: String,
    /// Some of `r`, `w`, `m`, as given (default `rwm`).
    pub permissions: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessTuning {
    /// `--shm-size` in bytes; `None` for the default 64 MiB, `Some(0)` for
    /// no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// `--tz`: a zone under /usr/share/zoneinfo, or `local`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timezone: String,
    /// `--umask` as an octal string (`0022` when unset).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub umask: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceSpec>,
    /// `--group-add`: group names or ids, or `keep-groups` alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// `--personality`: `LINUX` or `LINUX32` (empty: the caller's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub personality: String,
    /// `--no-hostname`: no /etc/hostname is made for the container.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_hostname: bool,
    /// `--requires`: ids of containers started before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// `--timeout`: seconds the program may run before it is killed (0: no
    /// limit).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: u32,
    /// `--unsetenv`: variables the runtime must not add by default either
    /// (PATH, HOME, HOSTNAME, TERM, container).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset_env: Vec<String>,
    /// `--cgroupns`: `host` keeps the host's cgroup namespace (empty:
    /// one of its own).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroupns: String,
    /// `--hostuser`: host users whose passwd entries the container gets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_users: Vec<String>,
    /// `--passwd=false`: no entry is added for a numeric `--user`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_passwd: bool,
    /// `--passwd-entry`/`--group-entry`: the shapes of added entries.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub passwd_entry: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group_entry: String,
    /// `--log-driver none`: the program's output is kept nowhere (empty:
    /// k8s-file, the log file).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_driver: String,
    /// `--log-opt path=`: where the log goes instead of the userdata.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_path: String,
    /// `--log-opt max-size=`: bytes the log may reach before it is
    /// truncated (0: no limit).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub log_max_size: i64,
    /// `--log-opt tag=`: kept for inspect (the k8s-file format has no
    /// place for it, as with podman).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_tag: String,
    /// `--chrootdirs`: directories that also get the generated /etc files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chroot_dirs: Vec<String>,
    /// `--unsetenv-all`: no default variable at all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unset_env_all: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

impl ProcessTuning {
    pub fn is_default(&self) -> bool {
        *self == ProcessTuning::default()
    }

    /// The umask the program starts with.
    pub fn umask_bits(&self) -> u32 {
        u32::from_str_radix(&self.umask, 8).unwrap_or(0o022)
    }

    /// Whether the runtime may add its default `name` to the environment.
    pub fn adds_default_env(&self, name: &str) -> bool {
        !self.unset_env_all && !self.unset_env.iter().any(|u| u == name)
    }

    /// `keep-groups`: the caller's supplementary groups pass through.
    pub fn keeps_groups(&self) -> bool {
        self.group_add.iter().any(|g| g == "keep-groups")
    }
}
