//! containers.conf(5): the keys coracle applies. Every key is optional, so
//! "not set" stays apart from a value (a flag or coracle's own default
//! applies then). Keys coracle does not know are skipped, as podman skips
//! them.

use anyhow::{bail, Result};
use serde::Deserialize;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ContainersConf {
    pub containers: ContainersSection,
    pub engine: EngineSection,
    pub network: NetworkSection,
}

/// `[containers]`: defaults of every new container.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ContainersSection {
    /// `KEY=VALUE` set in every container (the image's and `--env` win).
    pub env: Option<Vec<String>>,
    /// `--ulimit` values every container gets unless it names the same one.
    pub default_ulimits: Option<Vec<String>>,
    /// The capabilities a container starts from (`--cap-add/--cap-drop`
    /// change them).
    pub default_capabilities: Option<Vec<String>>,
    pub dns_servers: Option<Vec<String>>,
    pub dns_searches: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub pids_limit: Option<i64>,
    pub read_only: Option<bool>,
    pub init: Option<bool>,
    /// `-v` values every container gets.
    pub volumes: Option<Vec<String>>,
    pub userns: Option<String>,
    /// A seccomp profile in podman's JSON format, used where no
    /// `--security-opt seccomp=` is given.
    pub seccomp_profile: Option<String>,
    /// The hosts file new containers' /etc/hosts starts from (read by the
    /// network code).
    pub base_hosts_file: Option<String>,
}

/// `[engine]`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct EngineSection {
    /// file, journald or none.
    pub events_logger: Option<String>,
    pub volume_path: Option<String>,
    /// Seconds `stop` waits before SIGKILL (a container's `--stop-timeout`
    /// wins).
    pub stop_timeout: Option<u32>,
    /// Directories searched for pasta and slirp4netns before $PATH.
    pub helper_binaries_dir: Option<Vec<String>>,
    /// OCI hook directories, lowest precedence first.
    pub hooks_dir: Option<Vec<String>>,
    /// Where CDI spec files are looked for (`--device VENDOR/CLASS=NAME`,
    /// `--gpus`), the later directory winning.
    pub cdi_spec_dirs: Option<Vec<String>>,
    /// cgroupfs or systemd (podman's default, which coracle reads as
    /// cgroupfs: it places containers in cgroups itself).
    pub cgroup_manager: Option<String>,
    /// `[engine.runtimes]`: an OCI runtime's name to the paths it may be
    /// installed at (`--runtime NAME` takes the first that exists).
    pub runtimes: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// `[engine.volume_plugins]`: a volume plugin's name (a `--driver`)
    /// to its unix socket.
    pub volume_plugins: Option<std::collections::BTreeMap<String, String>>,
    /// Seconds a volume plugin has to answer a call (podman's default 5).
    pub volume_plugin_timeout: Option<u64>,
    /// Seconds `system service` waits idle before it exits (its `--time`
    /// when not given; 0 never).
    pub service_timeout: Option<u64>,
}

/// `[network]`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct NetworkSection {
    /// Where named networks' files live.
    pub network_config_dir: Option<String>,
}

impl ContainersConf {
    /// Values with a fixed set of spellings, checked once at load.
    pub fn validate(&self) -> Result<()> {
        if let Some(l) = &self.engine.events_logger {
            if !matches!(l.as_str(), "file" | "journald" | "none") {
                bail!("invalid events_logger {l:?}: use file, journald or none");
            }
        }
        if let Some(m) = &self.engine.cgroup_manager {
            if !matches!(m.as_str(), "cgroupfs" | "systemd") {
                bail!("invalid cgroup_manager {m:?}: use cgroupfs or systemd");
            }
        }
        Ok(())
    }
}
