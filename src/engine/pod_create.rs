//! `pod create` from a typed request: checked before the store is opened
//! (`check`), then the pod and its infra container made (`create_pod`).

use super::types::PodConfig;

use super::create::idmap::IdMapRequest;
use super::create::{network_mode, CreateLimits};
use crate::runtime::pod::{self as rt, PodSpec};
use crate::storage::launch::IdMappings;
use crate::storage::modes::{NamespaceMode, NetworkMode, UsernsMode};
use crate::storage::pods::MemberDefaults;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

/// What `pod create` asks for. Strings are in podman's flag syntax.
#[derive(Debug, Clone, Default)]
pub struct PodRequest {
    pub name: String,
    /// Published ports (`-p`)
    pub publish: Vec<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// ipc, net, pid, uts, none; `+NS` adds to the default; `None` is the
    /// default
    pub share: Option<String>,
    pub infra: bool,
    pub infra_name: Option<String>,
    pub network: Option<NetworkMode>,
    pub add_host: Vec<String>,
    /// The infra's `--network-alias`, `--ip`, `--ip6`, `--mac-address` on
    /// its (first) named network.
    pub network_alias: Vec<String>,
    pub ip: Option<String>,
    pub ip6: Option<String>,
    pub mac_address: Option<String>,
    pub no_hosts: bool,
    /// An absolute host path, `none` or `image`.
    pub hosts_file: Option<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    /// Where to write the new pod's id
    pub pod_id_file: Option<String>,
    /// Where the infra's monitor writes its pid
    pub infra_conmon_pidfile: Option<String>,
    /// Replace a pod of the same name
    pub replace: bool,
    /// continue, or stop: the pod stops when its last container exits
    pub exit_policy: String,
    /// The command line to record; `None` is this process's own, with
    /// secrets hidden.
    pub create_command: Option<Vec<String>>,
    /// `--label-file`s, read under `labels`.
    pub label_file: Vec<String>,
    /// The pod's cgroup limits and `--cgroup-parent` (`cgroups` unused).
    pub limits: CreateLimits,
    /// `--share-parent=false`: members' cgroups do not go below the pod's.
    pub own_cgroups: bool,
    /// The infra's `--pid` and `--uts`.
    pub pid: Option<NamespaceMode>,
    pub uts: Option<NamespaceMode>,
    /// What every member gets.
    pub member: MemberDefaults,
    /// `--infra-image` and `--infra-command` (a string or a JSON array):
    /// an infra that runs a program of its own.
    pub infra_image: Option<String>,
    pub infra_command: Option<String>,
    /// A clone's: the original pod's limits, under those `limits` gives.
    pub base_resources: Option<crate::storage::containers::Resources>,
    /// `--userns` (`None`: not given) and `--uidmap` and kin: the pod's
    /// user namespace, which every member joins.
    pub userns: Option<UsernsMode>,
    pub id_maps: IdMapRequest,
    /// A clone's: the original pod's user namespace, kept when neither
    /// `userns` nor `id_maps` is given.
    pub base_userns: Option<(UsernsMode, Option<IdMappings>)>,
}

/// A request that passed the checks that need no store.
pub struct CheckedPod {
    spec: PodSpec,
    infra_image: Option<String>,
    infra_command: Option<Vec<String>>,
    infra_name: Option<String>,
    pod_id_file: Option<String>,
    replace: bool,
}

fn parse_share(s: Option<&str>) -> Result<Vec<String>> {
    let default: Vec<String> = rt::DEFAULT_SHARE.iter().map(|s| s.to_string()).collect();
    let Some(s) = s else { return Ok(default) };
    let (mut out, list) = match s.strip_prefix('+') {
        Some(rest) => (default, rest),
        None => (Vec::new(), s),
    };
    for ns in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match ns {
            "none" => out.clear(),
            "net" | "ipc" | "uts" | "pid" => {
                if !out.iter().any(|o| o == ns) {
                    out.push(ns.to_string());
                }
            }
            "cgroup" | "user" => {
                bail!("--share {ns}: sharing the {ns} namespace is not supported; share ipc, net, pid or uts")
            }
            other => {
                bail!("invalid kernel namespace to share: {other}: must be ipc, net, pid or uts")
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `--pid`/`--uts` of a pod: its infra's namespace, private, the host's
/// or one at a path (no other container's).
fn infra_mode(kind: &str, mode: Option<NamespaceMode>) -> Result<NamespaceMode> {
    match mode.unwrap_or_default() {
        m @ (NamespaceMode::Private | NamespaceMode::Host | NamespaceMode::Ns(_)) => Ok(m),
        other => bail!(
            "invalid --{kind} mode for a pod {:?}: use private, host or ns:PATH",
            other.to_string()
        ),
    }
}

/// The pod's user namespace: its mode and maps, checked as run's are.
fn pod_userns(a: &PodRequest) -> Result<(UsernsMode, Option<IdMappings>)> {
    if a.userns.is_none() && a.id_maps.is_empty() {
        if let Some(base) = &a.base_userns {
            return Ok(base.clone());
        }
    }
    let mode = a.userns.clone().unwrap_or_default();
    if !a.infra && (mode != UsernsMode::Default || !a.id_maps.is_empty()) {
        bail!("cannot set a user namespace (--userns, --uidmap, --gidmap, --subuidname, --subgidname) with --infra=false: the pod's user namespace is its infra's");
    }
    let maps = super::create::idmap::for_mode(&a.id_maps, &mode, false)?;
    if mode.is_keep_id() && !crate::runtime::userns::is_rootless() {
        bail!("keep-id is only supported in rootless mode");
    }
    if matches!(mode, UsernsMode::Auto(_)) && crate::config::get().runtime.is_some() {
        bail!("--userns=auto needs coracle's own runtime, not --runtime");
    }
    if maps.is_some() && crate::config::get().runtime.is_some() {
        bail!(
            "--uidmap/--gidmap/--subuidname/--subgidname need coracle's own runtime, not --runtime"
        );
    }
    // Rootless, `host` and `private` are the default: a user namespace
    // mapped as the store's, which members share through the infra's
    // other namespaces anyway.
    let mode = match mode {
        UsernsMode::Host | UsernsMode::Private => UsernsMode::Default,
        m => m,
    };
    Ok((mode, maps))
}

/// Check a pod request before the store is opened.
pub fn check(a: PodRequest) -> Result<CheckedPod> {
    if !a.infra {
        if a.infra_image.is_some() || a.infra_command.is_some() {
            bail!("cannot set --infra-image or --infra-command with --infra=false");
        }
        if a.share.is_some() {
            bail!("you must have an infra container to share namespaces");
        }
        if !a.publish.is_empty() {
            bail!("you must have an infra container to publish ports");
        }
    }
    let share = parse_share(a.share.as_deref())?;
    let (userns, id_mappings) = pod_userns(&a)?;
    let exit_policy = match a.exit_policy.as_str() {
        "" | "continue" => "continue",
        "stop" => "stop",
        other => bail!("invalid pod exit policy: {other:?}: must be continue or stop"),
    };
    if a.replace && a.name.is_empty() {
        bail!("cannot replace pod without --name being set");
    }
    let network = network_mode(a.network.as_ref())?;
    if let NetworkMode::Container(_) = network {
        bail!("--network {network}: a pod cannot join another container's network");
    }
    let mut ports = Vec::new();
    for p in &a.publish {
        ports.extend(crate::runtime::publish::parse_publish(p)?);
    }
    if !ports.is_empty() {
        if !share.iter().any(|s| s == "net") {
            bail!("you must share the network namespace (--share net) to publish ports");
        }
        if !network.takes_ports() {
            bail!("cannot publish ports with --network {network}: use the default network (pasta or slirp4netns)");
        }
    }
    // The name files are checked now, not when the infra starts.
    crate::runtime::name_files::hosts_file(&network, "x", "x", &a.add_host)?;
    if a.no_hosts && !a.add_host.is_empty() {
        bail!("--no-hosts and --add-host cannot be set together");
    }
    let hosts_file = a.hosts_file.clone().filter(|h| !h.is_empty());
    if a.no_hosts && hosts_file.is_some() {
        bail!("--no-hosts and --hosts-file cannot be set together");
    }
    super::create::check_hosts_file(hosts_file.as_deref())?;
    let named = match &network {
        NetworkMode::Bridge(names) => names.clone(),
        _ => Vec::new(),
    };
    let (_, network_attachments) = super::networks::parse_flags(&super::networks::NetworkFlags {
        network: named,
        aliases: a.network_alias.clone(),
        ip: a.ip.clone(),
        ip6: a.ip6.clone(),
        mac: a.mac_address.clone(),
    })?;
    crate::runtime::name_files::resolv_conf(&network, &a.dns, &a.dns_search, &a.dns_option)?;
    if let Some(h) = &a.hostname {
        if h.is_empty() || h.len() > 64 {
            bail!("invalid hostname {h:?}");
        }
    }
    if a.infra_command.is_some() && a.infra_image.is_none() {
        bail!("--infra-command needs --infra-image: coracle's built-in infra runs no program");
    }
    let infra_command = a
        .infra_command
        .as_deref()
        .map(super::create::parse_entrypoint)
        .filter(|c| !c.is_empty());
    let pid = infra_mode("pid", a.pid.clone())?;
    let uts = infra_mode("uts", a.uts.clone())?;
    if uts.is_host() && a.hostname.is_some() {
        bail!("invalid config provided: cannot set hostname when running in the host UTS namespace: invalid configuration");
    }
    super::create::pod_defaults::check(&a.member, &network)?;
    let mut labels = super::filter::key_values(&super::create::label_file_items(&a.label_file)?);
    labels.extend(a.labels);
    let mut limits = a.limits;
    limits.cgroups = "enabled".into();
    let rootless = crate::runtime::userns::is_rootless();
    let mut resources = match &a.base_resources {
        Some(base) => super::clone::merge_limits(base, &limits, "enabled", rootless)?,
        None => limits.resources(rootless)?.0,
    };
    // The pod has no --pids-limit: its members' own defaults apply.
    resources.pids_limit = 0;
    Ok(CheckedPod {
        spec: PodSpec {
            name: a.name,
            labels,
            hostname: a.hostname.unwrap_or_default(),
            share,
            infra: a.infra,
            infra_name: a.infra_name.clone().unwrap_or_default(),
            network,
            ports,
            dns: a.dns,
            dns_search: a.dns_search,
            dns_options: a.dns_option,
            add_hosts: a.add_host,
            network_attachments,
            no_hosts: a.no_hosts,
            hosts_file,
            exit_policy: exit_policy.into(),
            infra_conmon_pidfile: a.infra_conmon_pidfile,
            create_command: a.create_command.unwrap_or_else(|| {
                crate::storage::containers::command_line_without_secrets(std::env::args())
            }),
            resources,
            cgroup_parent: limits.cgroup_parent.unwrap_or_default(),
            own_cgroups: a.own_cgroups,
            pid,
            uts,
            member: a.member,
            infra_image: None,
            userns,
            id_mappings,
        },
        infra_name: a.infra_name,
        infra_image: a.infra_image.filter(|i| !i.is_empty()),
        infra_command,
        pod_id_file: a.pod_id_file,
        replace: a.replace,
    })
}

/// `--infra-image` (pulled when missing) and what its infra runs:
/// `--infra-command`, else the image's ENTRYPOINT and CMD.
fn infra_image(store: &Store, name: &str, command: Option<Vec<String>>) -> Result<rt::InfraImage> {
    let record = super::images::ensure_image(store, name, "missing", &Default::default())?;
    let cfg = crate::storage::image_config::ImageConfig::parse(
        &store.blobs.read(&record.config_digest())?,
    )?
    .config;
    let args = command.unwrap_or_else(|| {
        let mut a = cfg.entrypoint.clone().unwrap_or_default();
        a.extend(cfg.cmd.clone().unwrap_or_default());
        a
    });
    if args.is_empty() {
        bail!("infra image {name} has no ENTRYPOINT or CMD: give --infra-command");
    }
    Ok(rt::InfraImage {
        name: record
            .names
            .iter()
            .find(|n| n.ends_with(name))
            .or(record.names.first())
            .cloned()
            .unwrap_or_else(|| name.to_string()),
        record,
        args,
        env: cfg.env.unwrap_or_default(),
    })
}

impl CheckedPod {
    /// A clone's published ports: the original's, as they were checked.
    pub fn with_ports(mut self, ports: Vec<crate::storage::containers::PortMapping>) -> Self {
        self.spec.ports = ports;
        self
    }
}

/// Make the pod (and its infra container) and write its id file; a pod
/// whose id file cannot be written is removed again.
pub fn create_pod(store: &Store, p: CheckedPod) -> Result<PodConfig> {
    if p.replace {
        // The name only, not an id prefix: podman's --replace.
        if let Some(id) = store.pods.name_owner(&p.spec.name) {
            let old = store.pods.load(&id)?;
            super::pods::remove(store, &old, true, None)?;
        }
    }
    super::networks::check_container_networks(store, &p.spec.network)?;
    if let Some(n) = &p.infra_name {
        if store.containers.name_owner(n).is_some() {
            bail!("the container name \"{n}\" is already in use: that name is already in use");
        }
    }
    let mut spec = p.spec;
    if let Some(name) = &p.infra_image {
        spec.infra_image = Some(infra_image(store, name, p.infra_command)?);
    }
    let pod = rt::create(store, spec)?;
    if let Some(path) = &p.pod_id_file {
        if let Err(e) = std::fs::write(path, &pod.id).with_context(|| format!("writing {path}")) {
            let _ = rt::remove(store, &pod, true, Some(0));
            return Err(e);
        }
    }
    Ok(pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_lists() {
        assert_eq!(parse_share(None).unwrap(), ["ipc", "net", "uts"]);
        assert_eq!(parse_share(Some("net,pid")).unwrap(), ["net", "pid"]);
        assert_eq!(
            parse_share(Some("+pid")).unwrap(),
            ["ipc", "net", "pid", "uts"]
        );
        assert!(parse_share(Some("none")).unwrap().is_empty());
        assert!(parse_share(Some("bogus")).is_err());
    }
}
