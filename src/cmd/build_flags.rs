//! `build`'s flags beyond the Containerfile and the context: what they
//! change on the images made (`ImageEditFlags`) and the settings of the
//! RUN steps' containers (`RunStepFlags`).

use crate::engine::build::RunRequest;
use crate::engine::create::{CreateLimits, Limits, TuningRequest};
use crate::engine::types::{ImageEdits, MtimePolicy, NamespaceMode, SbomFlags};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args, Debug, Default)]
pub struct ImageEditFlags {
    /// Set metadata for an image (default [])
    #[arg(long = "label", value_name = "LABEL")]
    pub label: Vec<String>,
    /// Unset label when inheriting labels from base image
    #[arg(long = "unsetlabel", value_name = "LABEL")]
    pub unsetlabel: Vec<String>,
    /// Set metadata for an image (default [])
    #[arg(long = "annotation", value_name = "ANNOTATION")]
    pub annotation: Vec<String>,
    /// Unset annotation when inheriting annotations from base image
    #[arg(long = "unsetannotation", value_name = "ANNOTATION")]
    pub unsetannotation: Vec<String>,
    /// Set environment variable for the image (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "env", value_name = "ENV")]
    pub env: Vec<String>,
    /// Unset environment variable from final image
    #[arg(long = "unsetenv", value_name = "ENV")]
    pub unsetenv: Vec<String>,
    /// Inherit the labels from the base image or base stages
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub inherit_labels: bool,
    /// Inherit the annotations from the base image or base stages
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub inherit_annotations: bool,
    /// Add an "org.opencontainers.image.created" annotation to the image
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub created_annotation: bool,
    /// Omit build history information from the built image
    #[arg(long)]
    pub omit_history: bool,
    /// Set the created timestamp and new layers' file times to this many seconds since the epoch
    #[arg(long, value_name = "SECONDS", conflicts_with = "source_date_epoch")]
    pub timestamp: Option<u64>,
    /// Set the created timestamp to this many seconds since the epoch (default $SOURCE_DATE_EPOCH); also the SOURCE_DATE_EPOCH build arg
    #[arg(long, value_name = "SECONDS", env = "SOURCE_DATE_EPOCH")]
    pub source_date_epoch: Option<u64>,
    /// Clamp new layers' file times to --source-date-epoch
    #[arg(long, requires = "source_date_epoch")]
    pub rewrite_timestamp: bool,
    /// Add a label to the intermediate images (not the final one)
    #[arg(long = "layer-label", value_name = "LABEL")]
    pub layer_label: Vec<String>,
    /// The OS version the image requires (its config's os.version)
    #[arg(long, value_name = "VERSION")]
    pub os_version: Option<String>,
    /// An OS feature the image requires (os.features); FEATURE- removes one the base lists
    #[arg(long = "os-feature", value_name = "FEATURE")]
    pub os_feature: Vec<String>,
    /// Add the identity label io.buildah.version (default true; by default not with --timestamp or --source-date-epoch)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub identity_label: Option<bool>,
}

impl ImageEditFlags {
    pub fn edits(&self) -> ImageEdits {
        let mut env = Vec::new();
        for e in &self.env {
            match e.split_once('=') {
                Some(_) => env.push(e.clone()),
                // `--env KEY`: its value here, and nothing if unset.
                None => {
                    if let Ok(v) = std::env::var(e) {
                        env.push(format!("{e}={v}"));
                    }
                }
            }
        }
        let (created, mtime) = match (self.timestamp, self.source_date_epoch) {
            (Some(t), _) => (Some(t), MtimePolicy::Set(t)),
            (None, Some(t)) if self.rewrite_timestamp => (Some(t), MtimePolicy::Clamp(t)),
            (None, s) => (s, MtimePolicy::Keep),
        };
        ImageEdits {
            labels: super::output::key_values(&self.label),
            unset_labels: self.unsetlabel.clone(),
            env,
            unset_env: self.unsetenv.clone(),
            annotations: super::output::key_values(&self.annotation),
            unset_annotations: self.unsetannotation.clone(),
            inherit_labels: self.inherit_labels,
            inherit_annotations: self.inherit_annotations,
            created_annotation: self.created_annotation,
            omit_history: self.omit_history,
            created,
            mtime,
            layer_labels: super::output::key_values(&self.layer_label),
            os_version: self.os_version.clone(),
            os_features: self.os_feature.clone(),
            identity_label: self.identity_label,
        }
    }
}

/// `--sbom` and its settings: a scanner run over the built image.
#[derive(Args, Debug, Default)]
pub struct SbomArgs {
    /// Scan the built image and the contexts with a preset: syft, syft-cyclonedx, syft-spdx, trivy, trivy-cyclonedx or trivy-spdx
    #[arg(long, value_name = "PRESET")]
    pub sbom: Option<String>,
    /// The image whose commands scan (instead of the preset's)
    #[arg(long, value_name = "IMAGE")]
    pub sbom_scanner_image: Option<String>,
    /// A scanner command, with {ROOTFS}, {CONTEXT} and {OUTPUT} filled in (repeatable, run in order)
    #[arg(long = "sbom-scanner-command", value_name = "COMMAND")]
    pub sbom_scanner_command: Vec<String>,
    /// How several scanner outputs are merged: cat, merge-cyclonedx-by-component-name-and-version or merge-spdx-by-package-name-and-versioninfo
    #[arg(long, value_name = "STRATEGY")]
    pub sbom_merge_strategy: Option<String>,
    /// Write the SBOM to this local file
    #[arg(long, value_name = "FILE")]
    pub sbom_output: Option<PathBuf>,
    /// Add the SBOM to the image at this path
    #[arg(long, value_name = "PATH")]
    pub sbom_image_output: Option<String>,
    /// Write the package URLs found in the SBOM to this local file
    #[arg(long, value_name = "FILE")]
    pub sbom_purl_output: Option<PathBuf>,
    /// Add the package URLs found in the SBOM to the image at this path
    #[arg(long, value_name = "PATH")]
    pub sbom_image_purl_output: Option<String>,
}

impl SbomArgs {
    pub fn flags(&self) -> SbomFlags {
        SbomFlags {
            preset: self.sbom.clone(),
            image: self.sbom_scanner_image.clone(),
            commands: self.sbom_scanner_command.clone(),
            merge: self.sbom_merge_strategy.clone(),
            output: self.sbom_output.clone(),
            purl_output: self.sbom_purl_output.clone(),
            image_output: self.sbom_image_output.clone(),
            image_purl_output: self.sbom_image_purl_output.clone(),
        }
    }
}

#[derive(Args, Debug, Default)]
pub struct RunStepFlags {
    /// Network for RUN instructions: private (default), none, host, ns:PATH, pasta, slirp4netns or a network name
    #[arg(long, alias = "net", value_name = "MODE")]
    pub network: Option<String>,
    /// Bind mount a volume into the RUN containers (not committed)
    #[arg(short, long = "volume", value_name = "VOLUME")]
    pub volume: Vec<String>,
    /// Add the specified capability when running
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop the specified capability when running
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Security options for RUN instructions
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Ulimit options for RUN instructions
    #[arg(long = "ulimit", value_name = "ULIMIT")]
    pub ulimit: Vec<String>,
    /// Set custom DNS servers
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set custom DNS options
    #[arg(long = "dns-option", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// IPC namespace for RUN instructions: private, host or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<NamespaceMode>,
    /// PID namespace for RUN instructions: private, host or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub pid: Option<NamespaceMode>,
    /// UTS namespace for RUN instructions: private, host or ns:PATH
    #[arg(long, value_name = "MODE")]
    pub uts: Option<NamespaceMode>,
    /// Memory limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(short = 'm', long, value_name = "MEMORY")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_name = "MEMORY-SWAP", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "PERIOD")]
    pub cpu_period: Option<u64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "QUOTA", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "NODES")]
    pub cpuset_mems: Option<String>,
    /// Optional parent cgroup for the RUN containers
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Add a host device to the RUN containers (HOST[:CONTAINER[:PERMISSIONS]])
    #[arg(long = "device", value_name = "DEVICE")]
    pub device: Vec<String>,
    /// Size of /dev/shm in the RUN containers (format: <number>[<unit>])
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Add supplementary groups to the RUN containers' processes
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Do not create /etc/hosts for the RUN containers: the image's is used
    #[arg(long)]
    pub no_hosts: bool,
    /// Do not create /etc/hostname for the RUN containers
    #[arg(long)]
    pub no_hostname: bool,
    /// Pass the host's proxy environment variables to the RUN containers
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub http_proxy: bool,
    /// Cgroup namespace for the RUN containers: private or host
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// Pass stdin into the RUN containers
    #[arg(long)]
    pub stdin: bool,
    /// How RUN steps are isolated: oci (the default) or rootless (no network or UTS namespace of their own); chroot is not supported
    #[arg(long, value_name = "TYPE", env = "BUILDAH_ISOLATION")]
    pub isolation: Option<String>,
    /// User namespace for the RUN steps: container (a new one) or host
    #[arg(long, value_name = "HOW")]
    pub userns: Option<String>,
    /// UID map of the RUN steps' user namespace: container:host:size triples, comma separated (rootless, host ids are the rootless namespace's)
    #[arg(long, value_name = "MAPPING", value_delimiter = ',')]
    pub userns_uid_map: Vec<String>,
    /// GID map of the RUN steps' user namespace (as --userns-uid-map; alone it maps uids too)
    #[arg(long, value_name = "MAPPING", value_delimiter = ',')]
    pub userns_gid_map: Vec<String>,
    /// Map the RUN steps' uids to USER's ranges in /etc/subuid (and gids to its /etc/subgid ones unless --userns-gid-map-group)
    #[arg(long, value_name = "USER")]
    pub userns_uid_map_user: Option<String>,
    /// Map the RUN steps' gids to GROUP's ranges in /etc/subgid
    #[arg(long, value_name = "GROUP")]
    pub userns_gid_map_group: Option<String>,
}

impl RunStepFlags {
    pub fn request(&self) -> Result<RunRequest> {
        let network = match self.network.as_deref() {
            None => None,
            Some(n) => Some(super::create_flags::network_flag(n)?),
        };
        Ok(RunRequest {
            network,
            volume: self.volume.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
            ulimit: self.ulimit.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_option: self.dns_option.clone(),
            add_host: self.add_host.clone(),
            ipc: self.ipc.clone(),
            pid: self.pid.clone(),
            uts: self.uts.clone(),
            limits: CreateLimits {
                limits: Limits {
                    memory: self.memory.clone(),
                    memory_swap: self.memory_swap.clone(),
                    cpu_shares: self.cpu_shares,
                    cpu_period: self.cpu_period,
                    cpu_quota: self.cpu_quota,
                    cpuset_cpus: self.cpuset_cpus.clone(),
                    cpuset_mems: self.cpuset_mems.clone(),
                    ..Default::default()
                },
                cgroup_parent: self.cgroup_parent.clone(),
                cgroups: "enabled".into(),
                ..Default::default()
            },
            tuning: TuningRequest {
                device: self.device.clone(),
                shm_size: self.shm_size.clone(),
                group_add: self.group_add.clone(),
                no_hostname: self.no_hostname,
                http_proxy: Some(self.http_proxy),
                cgroupns: self.cgroupns.clone(),
                ..Default::default()
            },
            no_hosts: self.no_hosts,
            stdin: self.stdin,
            isolation: self.isolation.clone(),
            userns: self.userns.clone(),
            id_maps: crate::engine::create::idmap::IdMapRequest {
                uidmap: self.userns_uid_map.clone(),
                gidmap: self.userns_gid_map.clone(),
                subuidname: self.userns_uid_map_user.clone(),
                subgidname: self.userns_gid_map_group.clone(),
            },
        })
    }
}

/// `--build-arg-file` files then `--build-arg`s, the later winning: `KEY`
/// alone takes its value from our environment (nothing if unset).
pub fn build_args(files: &[PathBuf], items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut lines = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading build arg file {}", f.display()))?;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if !line.contains('=') {
                bail!(
                    "invalid line {line:?} in build arg file {}: use ARG=VALUE",
                    f.display()
                );
            }
            lines.push(line.to_string());
        }
    }
    lines.extend(items.iter().cloned());
    let mut out = BTreeMap::new();
    for item in &lines {
        match item.split_once('=') {
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(item) {
                    out.insert(item.clone(), v);
                }
            }
        }
    }
    Ok(out)
}
