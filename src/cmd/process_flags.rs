//! The flags of `create`/`run` that tune the container's process beyond
//! its identity and limits: devices, /dev/shm, sysctls, time zone, umask,
//! groups, environment and labels built on the image's, dependencies.

use crate::engine::create::TuningRequest;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct ProcessFlags {
    /// Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS]), or a CDI device (VENDOR/CLASS=NAME)
    #[arg(long = "device", value_name = "DEVICE")]
    pub device: Vec<String>,
    /// Size of /dev/shm (format: <number>[<unit>]; 0: no limit) [default: 64m]
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Set a namespaced kernel parameter (net.*, fs.mqueue.*, kernel IPC ones)
    #[arg(long = "sysctl", value_name = "NAME=VALUE")]
    pub sysctl: Vec<String>,
    /// Set the container's time zone (a zone of /usr/share/zoneinfo, or local)
    #[arg(long, value_name = "TIMEZONE")]
    pub tz: Option<String>,
    /// Set the umask inside the container [default: 0022]
    #[arg(long, value_name = "UMASK")]
    pub umask: Option<String>,
    /// Add additional groups to the container's user (keep-groups: keep the caller's)
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Execution domain of the container's process (LINUX, LINUX32)
    #[arg(long, value_name = "PERSONALITY")]
    pub personality: Option<String>,
    /// Do not create /etc/hostname in the container
    #[arg(long)]
    pub no_hostname: bool,
    /// Containers to start before this one (names or ids, comma-separated)
    #[arg(long = "requires", value_name = "CONTAINERS")]
    pub requires: Vec<String>,
    /// Seconds the container may run before it is killed (0: no limit)
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub timeout: u32,
    /// Use all of the current environment inside the container
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true", require_equals = true)]
    pub env_host: bool,
    /// Set an environment variable from the image's (${NAME} and $NAME expand)
    #[arg(long = "env-merge", value_name = "NAME=VALUE")]
    pub env_merge: Vec<String>,
    /// Unset a default environment variable (of the image or the runtime)
    #[arg(long = "unsetenv", value_name = "NAME")]
    pub unsetenv: Vec<String>,
    /// Unset all default environment variables (only --env and --env-file remain)
    #[arg(long)]
    pub unsetenv_all: bool,
    /// Pass the host's proxy variables (http_proxy, https_proxy, ftp_proxy, no_proxy) in
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub http_proxy: bool,
    /// Read in a line-delimited file of labels (KEY=VALUE)
    #[arg(long = "label-file", value_name = "FILE")]
    pub label_file: Vec<String>,
    /// With --read-only, mount tmpfs on /dev, /dev/shm, /run, /tmp and /var/tmp
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub read_only_tmpfs: bool,
    /// Cgroup namespace: private (a namespace of its own) or host
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// Run in the pod whose ID this file holds (as --pod)
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Option<String>,
    /// Add a host user's passwd entry to the container (name or UID)
    #[arg(long = "hostuser", value_name = "NAME")]
    pub hostuser: Vec<String>,
    /// Add an /etc/passwd entry for a numeric --user the image does not know
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub passwd: bool,
    /// The added /etc/passwd entry ($USERNAME, $UID, $GID, $NAME, $HOME expand)
    #[arg(long, value_name = "ENTRY")]
    pub passwd_entry: Option<String>,
    /// The added /etc/group entry ($GROUPNAME, $GID, $USERNAME expand)
    #[arg(long, value_name = "ENTRY")]
    pub group_entry: Option<String>,
    /// Logging driver options: path=FILE, max-size=SIZE (the log is truncated at it), tag=TAG
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Directories in the container that are chroots: they get the generated /etc/hosts, /etc/hostname and /etc/resolv.conf too
    #[arg(long = "chrootdirs", value_name = "PATH")]
    pub chrootdirs: Vec<String>,
    /// Docker's image verification switch: podman documents it as a no-op, and so it is here
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true, default_value_t = false)]
    pub disable_content_trust: bool,
}

impl ProcessFlags {
    pub fn request(&self) -> TuningRequest {
        let f = self.clone();
        TuningRequest {
            device: f.device,
            shm_size: f.shm_size,
            sysctl: f.sysctl,
            tz: f.tz,
            umask: f.umask,
            group_add: f.group_add,
            personality: f.personality,
            no_hostname: f.no_hostname,
            requires: f.requires,
            timeout: f.timeout,
            env_host: f.env_host,
            env_merge: f.env_merge,
            unsetenv: f.unsetenv,
            unsetenv_all: f.unsetenv_all,
            http_proxy: Some(f.http_proxy),
            label_file: f.label_file,
            cgroupns: f.cgroupns,
            hostuser: f.hostuser,
            passwd: Some(f.passwd),
            passwd_entry: f.passwd_entry,
            group_entry: f.group_entry,
            log_opt: f.log_opt,
            chrootdirs: f.chrootdirs,
        }
    }

    /// `--pod-id-file`: the pod id it holds (first line).
    pub fn pod_from_file(&self) -> anyhow::Result<Option<String>> {
        use anyhow::Context;
        let Some(path) = &self.pod_id_file else {
            return Ok(None);
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading pod ID file {path}"))?;
        Ok(Some(text.lines().next().unwrap_or("").trim().to_string()))
    }

    /// `--read-only-tmpfs=false` as the security option the spec reads.
    pub fn security_opts(&self) -> Vec<String> {
        if self.read_only_tmpfs {
            Vec::new()
        } else {
            vec!["read-only-tmpfs=false".to_string()]
        }
    }
}
