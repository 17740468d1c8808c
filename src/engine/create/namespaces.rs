//! How a request's pod (`--pod`) and ipc/pid/uts modes become a container's
//! namespace modes: checked before anything is written, applied to the
//! config once it is built (a `--pod new:NAME` pod is made then).

use super::ContainerRequest;
use crate::engine::pods::pod_id;
use crate::runtime::pod::{self as rt, PodSpec};
use crate::storage::containers::ContainerConfig;
use crate::storage::modes::{NamespaceMode, NetworkMode, UsernsMode};
use crate::storage::pods::PodConfig;
use crate::storage::store::Store;
use anyhow::{bail, Result};

/// The pod a new container goes into.
pub enum PodJoin {
    Existing(Box<PodConfig>),
    New(String),
}

/// `--ipc/--pid/--uts` as stored: a container named by its id, `shareable`
/// (ipc only) as private.
fn namespace_mode(store: &Store, kind: &str, v: &mut Option<NamespaceMode>) -> Result<()> {
    match v {
        Some(NamespaceMode::Shareable) if kind == "ipc" => *v = Some(NamespaceMode::Private),
        Some(NamespaceMode::Shareable) => {
            bail!(
                "invalid --{kind} mode \"shareable\": use private, host, container:NAME or ns:PATH"
            )
        }
        Some(NamespaceMode::Container(name)) => {
            *name = crate::engine::lookup::container_id(store, name)?;
        }
        _ => {}
    }
    Ok(())
}

/// Check the namespace flags and `--pod` before anything is written.
pub fn member_flags(store: &Store, f: &mut ContainerRequest) -> Result<Option<PodJoin>> {
    namespace_mode(store, "ipc", &mut f.ipc)?;
    namespace_mode(store, "pid", &mut f.pid)?;
    namespace_mode(store, "uts", &mut f.uts)?;
    if f.hostname.is_some() {
        match f.uts {
            Some(NamespaceMode::Host) => bail!("invalid config provided: cannot set hostname when running in the host UTS namespace: invalid configuration"),
            Some(NamespaceMode::Container(_)) => bail!("invalid config provided: cannot set hostname when joining another container's UTS namespace: invalid configuration"),
            _ => {}
        }
    }
    let Some(p) = f.pod.clone().filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if let Some(name) = p.strip_prefix("new:") {
        if !crate::storage::names::is_valid(name) {
            bail!("pod name {name:?} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument");
        }
        if store.pods.name_owner(name).is_some() {
            bail!("adding pod to state: name \"{name}\" is in use: pod already exists");
        }
        return Ok(Some(PodJoin::New(name.to_string())));
    }
    let pod = store.pods.load(&pod_id(store, &p)?)?;
    if f.init_ctr.is_some()
        && crate::runtime::pod::containers(store, &pod.id)?
            .iter()
            .any(|m| m.state.status == crate::storage::containers::Status::Running)
    {
        bail!("cannot add init-ctr to a running pod");
    }
    super::pod_defaults::apply(&pod, f)?;
    check_userns(&pod, &f.userns)?;
    if pod.shares_user() && f.userns == UsernsMode::Default {
        // The pod's mode, so keep-id's defaults (the user) apply.
        f.userns = pod.userns.clone();
    }
    if pod.shares("net") && f.network.is_none() {
        if !f.publish.is_empty() || f.publish_all {
            bail!("invalid config provided: published or exposed ports must be defined when the pod is created: network cannot be configured when it is shared with a pod");
        }
        if !f.dns.is_empty() || !f.dns_search.is_empty() || !f.dns_option.is_empty() {
            bail!("invalid config provided: DNS must be set when the pod is created: network cannot be configured when it is shared with a pod");
        }
        if !f.add_host.is_empty() {
            bail!("invalid config provided: extra host entries must be specified on the pod: network cannot be configured when it is shared with a pod");
        }
    }
    if pod.shares("uts") && f.uts.is_none() && f.hostname.is_some() {
        bail!("invalid config provided: cannot set hostname when joining the pod UTS namespace: invalid configuration");
    }
    Ok(Some(PodJoin::Existing(Box::new(pod))))
}

/// Put the namespace modes on the container, creating a `new:` pod.
/// Returns the id of a pod made here, to discard if the container fails.
pub fn join(
    store: &Store,
    f: &ContainerRequest,
    join: Option<PodJoin>,
    cfg: &mut ContainerConfig,
) -> Result<Option<String>> {
    cfg.ipc = f.ipc.clone().unwrap_or_default();
    cfg.pid = f.pid.clone().unwrap_or_default();
    cfg.uts = f.uts.clone().unwrap_or_default();
    match &cfg.uts {
        NamespaceMode::Host => cfg.hostname = crate::runtime::namespaces::host_hostname(),
        NamespaceMode::Container(other) => {
            cfg.hostname = store.containers.load_config(other)?.hostname;
        }
        _ => {}
    }
    let Some(join) = join else {
        return Ok(None);
    };
    let (pod, made) = match join {
        PodJoin::Existing(p) => (*p, None),
        PodJoin::New(name) => {
            // podman moves the container's published ports to the new pod.
            let ports = if f.network.is_none() {
                std::mem::take(&mut cfg.ports)
            } else {
                Vec::new()
            };
            let pod = rt::create(
                store,
                PodSpec {
                    name,
                    share: rt::DEFAULT_SHARE.iter().map(|s| s.to_string()).collect(),
                    infra: true,
                    network: crate::runtime::network::default_mode(),
                    ports,
                    exit_policy: "continue".into(),
                    infra_conmon_pidfile: None,
                    create_command: cfg.create_command.clone(),
                    ..Default::default()
                },
            )?;
            let id = pod.id.clone();
            (pod, Some(id))
        }
    };
    if made.is_some() {
        if let Err(e) = check_userns(&pod, &cfg.userns) {
            discard_new_pod(store, made);
            return Err(e);
        }
    }
    cfg.pod = pod.id.clone();
    if pod.shares_user() && cfg.userns == pod.userns {
        join_pod_userns(&pod, cfg);
    }
    let infra = || NamespaceMode::Container(pod.infra_id.clone());
    // The pod's --pid/--uts host: members stay in the host's namespace
    // (rootless, joining the host's through the infra is not allowed).
    let pod_mode = |m: &NamespaceMode| {
        if m.is_host() {
            NamespaceMode::Host
        } else {
            infra()
        }
    };
    for ns in rt::member_modes(&pod) {
        match ns {
            "net" if f.network.is_none() => {
                cfg.network = NetworkMode::Container(pod.infra_id.clone());
                // Members share the infra's /etc/hosts, or keep their
                // image's with the pod's --no-hosts.
                cfg.no_hosts = cfg.no_hosts || pod.no_hosts;
            }
            "ipc" if f.ipc.is_none() => cfg.ipc = infra(),
            "pid" if f.pid.is_none() => cfg.pid = pod_mode(&pod.pid),
            "uts" if f.uts.is_none() => {
                cfg.uts = pod_mode(&pod.uts);
                cfg.hostname = if pod.uts.is_host() {
                    crate::runtime::namespaces::host_hostname()
                } else {
                    pod.effective_hostname().to_string()
                };
            }
            _ => {}
        }
    }
    Ok(made)
}

/// A container moved into `pod` (`container clone --pod`): the pod's
/// shared namespaces replace its own, and with the network go its ports
/// and name settings, as podman resets them.
pub fn into_pod(pod: &PodConfig, cfg: &mut ContainerConfig) -> Result<()> {
    if cfg.launch.userns_from.take().is_some() {
        // The user namespace of the pod it leaves.
        cfg.userns = UsernsMode::Default;
        cfg.launch.id_mappings = None;
    }
    if pod.shares_user() {
        if cfg.userns != pod.userns && cfg.userns != UsernsMode::Default {
            check_userns(pod, &cfg.userns)?;
        }
        if cfg.launch.id_mappings.is_some() {
            bail!("--uidmap/--gidmap/--subuidname/--subgidname cannot be set on a container in a pod: give them to `pod create`");
        }
        cfg.userns = pod.userns.clone();
        join_pod_userns(pod, cfg);
    } else {
        check_userns(pod, &cfg.userns)?;
    }
    cfg.pod = pod.id.clone();
    let infra = || NamespaceMode::Container(pod.infra_id.clone());
    // The pod's --pid/--uts host: members stay in the host's namespace
    // (rootless, joining the host's through the infra is not allowed).
    let pod_mode = |m: &NamespaceMode| {
        if m.is_host() {
            NamespaceMode::Host
        } else {
            infra()
        }
    };
    for ns in rt::member_modes(pod) {
        match ns {
            "net" => {
                cfg.network = NetworkMode::Container(pod.infra_id.clone());
                cfg.ports.clear();
                cfg.network_attachments.clear();
                cfg.dns.clear();
                cfg.dns_search.clear();
                cfg.dns_options.clear();
                cfg.add_hosts.clear();
                cfg.no_hosts = pod.no_hosts;
            }
            "ipc" => cfg.ipc = infra(),
            "pid" => cfg.pid = pod_mode(&pod.pid),
            "uts" => {
                cfg.uts = pod_mode(&pod.uts);
                cfg.hostname = if pod.uts.is_host() {
                    crate::runtime::namespaces::host_hostname()
                } else {
                    pod.effective_hostname().to_string()
                };
            }
            _ => {}
        }
    }
    Ok(())
}

/// A member's own `--userns` in a pod with an infra: only the pod's (the
/// default) or the host's, as podman.
fn check_userns(pod: &PodConfig, mode: &UsernsMode) -> Result<()> {
    if !pod.infra_id.is_empty()
        && matches!(
            mode,
            UsernsMode::KeepId { .. }
                | UsernsMode::Private
                | UsernsMode::NoMap
                | UsernsMode::Auto(_)
        )
    {
        bail!("cannot set user namespace mode when joining pod with infra container: invalid argument");
    }
    Ok(())
}

/// A member of a pod with a user namespace of its own lives in the
/// infra's: the same maps (its files are owned as the infra's ids), and
/// the namespace itself joined at start.
fn join_pod_userns(pod: &PodConfig, cfg: &mut ContainerConfig) {
    cfg.launch.id_mappings = pod.id_mappings.clone();
    cfg.launch.userns_from = Some(pod.infra_id.clone());
}

/// Remove a pod `join` made for a container that then failed.
pub fn discard_new_pod(store: &Store, made: Option<String>) {
    if let Some(id) = made {
        if let Ok(pod) = store.pods.load(&id) {
            let _ = rt::remove(store, &pod, true, Some(0));
        }
    }
}
