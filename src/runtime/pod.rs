//! Pods, as podman has them: a group of containers that share namespaces
//! through an infra container. The infra is an ordinary container record
//! (flagged `is_infra`) whose process only holds the namespaces (see
//! `infra.rs`) and whose monitor runs the network helper that owns the
//! pod's published ports. Members join the infra's namespaces with the
//! same `container:` path any container can use, so a pod needs no
//! machinery of its own at run time; here are the verbs that act on all
//! of a pod's containers at once.

use super::container;
use super::state::{current_state, is_running};
use super::sys;
use crate::storage::containers::{ContainerConfig, ContainerState, PortMapping, Status};
use crate::storage::events::{self, Event};
use crate::storage::modes::{NamespaceMode, NetworkMode};
use crate::storage::pods::PodConfig;
use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What `pod create` asks for.
#[derive(Debug, Clone, Default)]
pub struct PodSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub hostname: String,
    pub share: Vec<String>,
    pub infra: bool,
    /// Empty: `<pod id 12>-infra`.
    pub infra_name: String,
    pub network: NetworkMode,
    pub ports: Vec<PortMapping>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub add_hosts: Vec<String>,
    pub network_attachments: BTreeMap<String, crate::storage::networks::Attachment>,
    pub no_hosts: bool,
    pub hosts_file: Option<String>,
    pub exit_policy: String,
    pub create_command: Vec<String>,
    /// `--infra-conmon-pidfile`: where the infra's monitor writes its pid
    /// (a `Type=forking` unit's PIDFile).
    pub infra_conmon_pidfile: Option<String>,
    /// The pod's cgroup: its limits, parent, and whether members use it.
    pub resources: crate::storage::containers::Resources,
    pub cgroup_parent: String,
    pub own_cgroups: bool,
    /// The infra's pid and uts namespace modes.
    pub pid: NamespaceMode,
    pub uts: NamespaceMode,
    pub member: crate::storage::pods::MemberDefaults,
    /// `--infra-image`: an infra that runs this image's program instead
    /// of holding the namespaces by itself.
    pub infra_image: Option<InfraImage>,
    /// The pod's user namespace: the infra's mode and maps (`--userns`,
    /// `--uidmap`...), which every member joins.
    pub userns: crate::storage::modes::UsernsMode,
    pub id_mappings: Option<crate::storage::launch::IdMappings>,
}

/// An infra made from an image: the image, its name and what runs.
#[derive(Debug, Clone)]
pub struct InfraImage {
    pub record: crate::storage::images::ImageRecord,
    pub name: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
}

/// podman's default `--share`.
pub const DEFAULT_SHARE: &[&str] = &["ipc", "net", "uts"];

/// Create a pod and (unless `--infra=false`) its infra container. The
/// pod exists from its record; its infra starts with the pod.
pub fn create(store: &Store, spec: PodSpec) -> Result<PodConfig> {
    let mut pod = PodConfig {
        id: crate::storage::containers::new_id(),
        name: spec.name,
        created: crate::format::human::now_rfc3339(),
        labels: spec.labels,
        hostname: spec.hostname,
        share: if spec.infra { spec.share } else { Vec::new() },
        infra_id: String::new(),
        network: spec.network,
        ports: spec.ports,
        dns: spec.dns,
        dns_search: spec.dns_search,
        dns_options: spec.dns_options,
        add_hosts: spec.add_hosts,
        network_attachments: spec.network_attachments,
        no_hosts: spec.no_hosts,
        hosts_file: spec.hosts_file,
        exit_policy: spec.exit_policy,
        create_command: spec.create_command,
        resources: spec.resources,
        cgroup_parent: spec.cgroup_parent,
        own_cgroups: spec.own_cgroups,
        pid: spec.pid,
        uts: spec.uts,
        member: spec.member,
        userns: spec.userns,
        id_mappings: spec.id_mappings,
    };
    {
        let _lock = store.lock()?;
        if pod.name.is_empty() {
            pod.name =
                crate::storage::names::claim_generated(|n| store.pods.claim_name(n, &pod.id))?;
        } else {
            if !crate::storage::names::is_valid(&pod.name) {
                bail!(
                    "pod name {:?} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument",
                    pod.name
                );
            }
            if !store.pods.claim_name(&pod.name, &pod.id)? {
                bail!(
                    "adding pod to state: name \"{}\" is in use: pod already exists",
                    pod.name
                );
            }
        }
        if let Err(e) = store.pods.create(&pod) {
            store.pods.release_name(&pod.name, &pod.id);
            return Err(e);
        }
    }
    if !spec.infra {
        pod_event(store, "create", &pod);
        return Ok(pod);
    }
    let mut infra = infra_config(&pod);
    if !spec.infra_name.is_empty() {
        infra.name = spec.infra_name;
    }
    infra.conmon_pidfile = spec.infra_conmon_pidfile;
    let made = match &spec.infra_image {
        Some(image) => {
            if let crate::storage::modes::UsernsMode::KeepId { uid, gid } = infra.userns {
                // As podman: keep-id's program runs as the caller (or
                // the ids given).
                let (own_uid, own_gid) = super::userns::caller_ids();
                infra.user = format!("{}:{}", uid.unwrap_or(own_uid), gid.unwrap_or(own_gid));
            }
            infra.image_name = image.name.clone();
            infra.args = image.args.clone();
            infra.env = image.env.clone();
            container::create(store, infra, &image.record)
        }
        None => container::create_imageless(store, infra),
    };
    let infra = match made {
        Ok(c) => c,
        Err(e) => {
            let _lock = store.lock();
            let _ = store.pods.remove(&pod.id);
            return Err(e);
        }
    };
    if matches!(pod.userns, crate::storage::modes::UsernsMode::Auto(_)) {
        // `--userns=auto`: the range the infra got is the pod's, which
        // every member is made with.
        pod.id_mappings = infra.launch.id_mappings.clone();
    }
    pod.infra_id = infra.id;
    let _lock = store.lock()?;
    if let Err(e) = store.pods.save(&pod) {
        let _ = store.containers.remove(&pod.infra_id);
        let _ = store.pods.remove(&pod.id);
        return Err(e);
    }
    drop(_lock);
    pod_event(store, "create", &pod);
    Ok(pod)
}

/// The infra container of `pod`: named `<pod id 12>-infra` as in podman,
/// holding the pod's network (its helper and ports) and hostname.
fn infra_config(pod: &PodConfig) -> ContainerConfig {
    let net = pod.shares("net");
    ContainerConfig {
        name: format!("{}-infra", &pod.id[..12]),
        hostname: if pod.uts.is_host() {
            super::namespaces::host_hostname()
        } else if pod.shares("uts") {
            pod.effective_hostname().to_string()
        } else {
            String::new()
        },
        pid: pod.pid.clone(),
        uts: pod.uts.clone(),
        labels: pod.labels.clone(),
        workdir: "/".into(),
        stop_signal: "TERM".into(),
        stop_timeout: 10,
        network: if net {
            pod.network.clone()
        } else {
            NetworkMode::None
        },
        ports: if net { pod.ports.clone() } else { Vec::new() },
        dns: pod.dns.clone(),
        dns_search: pod.dns_search.clone(),
        dns_options: pod.dns_options.clone(),
        add_hosts: pod.add_hosts.clone(),
        network_attachments: pod.network_attachments.clone(),
        no_hosts: pod.no_hosts,
        hosts_file: pod.hosts_file.clone(),
        pod: pod.id.clone(),
        is_infra: true,
        create_command: pod.create_command.clone(),
        userns: pod.userns.clone(),
        launch: crate::storage::launch::LaunchSettings {
            id_mappings: pod.id_mappings.clone(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The namespaces (net, ipc, uts, pid) a new member of `pod` takes from
/// its infra (`container:INFRA`), for the flags the user left unset.
pub fn member_modes(pod: &PodConfig) -> Vec<&'static str> {
    ["net", "ipc", "uts", "pid"]
        .into_iter()
        .filter(|ns| pod.shares(ns))
        .collect()
}

/// Before a member starts: its pod's infra must run (podman starts it).
/// Returns the pod's members lock, to hold until the member has started:
/// a member ending meanwhile may not stop the infra under it (the pod's
/// exit policy takes the same lock).
pub fn start_infra_for(
    store: &Store,
    cfg: &ContainerConfig,
) -> Result<Option<crate::storage::lock::RecordLock>> {
    if cfg.pod.is_empty() || cfg.is_infra {
        return Ok(None);
    }
    let Ok(pod) = store.pods.load(&cfg.pod) else {
        return Ok(None);
    };
    let members = store.pods.members_lock(&pod.id)?;
    if !pod.infra_id.is_empty() && !is_running(&current_state(store, &pod.infra_id)?) {
        container::start(store, &pod.infra_id, false)?;
    }
    Ok(Some(members))
}

/// One container of a pod, both records.
pub struct Member {
    pub cfg: ContainerConfig,
    pub state: ContainerState,
}

/// Every container of `pod_id` (infra included), oldest first, with
/// corrected states. A container removed meanwhile is skipped.
pub fn containers(store: &Store, pod_id: &str) -> Result<Vec<Member>> {
    let mut out = Vec::new();
    for id in store.containers.ids()? {
        let Ok(cfg) = store.containers.load_config(&id) else {
            continue;
        };
        if cfg.pod != pod_id {
            continue;
        }
        let Ok(state) = current_state(store, &id) else {
            continue;
        };
        out.push(Member { cfg, state });
    }
    out.sort_by(|a, b| a.cfg.created.cmp(&b.cfg.created));
    Ok(out)
}

/// podman's pod status from its containers' states.
pub fn status(states: &[Status]) -> &'static str {
    let n = states.len();
    let count = |f: &dyn Fn(&Status) -> bool| states.iter().filter(|s| f(s)).count();
    let running = count(&|s| matches!(s, Status::Running | Status::Stopping));
    let paused = count(&|s| *s == Status::Paused);
    let stopped = count(&|s| *s == Status::Exited);
    if n == 0 {
        "Created"
    } else if running > 0 {
        if running == n {
            "Running"
        } else {
            "Degraded"
        }
    } else if paused == n {
        "Paused"
    } else if stopped == n {
        "Exited"
    } else if stopped > 0 {
        "Stopped"
    } else {
        "Created"
    }
}

/// Start the infra, then every member that is not running. Goes on past
/// a member that fails, and fails at the end with the last error.
pub fn start(store: &Store, pod: &PodConfig) -> Result<()> {
    // As one member's start (start_infra_for): the exit policy waits.
    let _members = store.pods.members_lock(&pod.id)?;
    let list = containers(store, &pod.id)?;
    if let Some(infra) = list.iter().find(|m| m.cfg.is_infra) {
        if !is_running(&infra.state) {
            container::start(store, &infra.cfg.id, false)?;
        }
    }
    let mut last = None;
    // Init containers are the engine's to run, before this.
    for m in list
        .iter()
        .filter(|m| !m.cfg.is_infra && m.cfg.init_ctr.is_none())
    {
        if is_running(&m.state) {
            continue;
        }
        if let Err(e) = container::start(store, &m.cfg.id, false) {
            last = Some(e.context(format!("starting container {}", m.cfg.id)));
        }
    }
    match last {
        Some(e) => Err(e),
        None => {
            pod_event(store, "start", pod);
            Ok(())
        }
    }
}

fn pod_event(store: &Store, status: &str, pod: &PodConfig) {
    events::append(store, Event::pod(status, &pod.id, &pod.name));
}

/// Stop the members (all at once: one timeout for the lot, as podman),
/// then the infra. `timeout` overrides each container's own.
pub fn stop(store: &Store, pod: &PodConfig, timeout: Option<u32>) -> Result<()> {
    let list = containers(store, &pod.id)?;
    let (infra, members): (Vec<&Member>, Vec<&Member>) = list.iter().partition(|m| m.cfg.is_infra);
    stop_together(store, &members, timeout)?;
    stop_together(store, &infra, timeout)?;
    if list.iter().any(|m| is_running(&m.state)) {
        pod_event(store, "stop", pod);
    }
    Ok(())
}

/// The stop signal to each running container, then SIGKILL to those still
/// running when their timeout ends.
fn stop_together(store: &Store, list: &[&Member], timeout: Option<u32>) -> Result<()> {
    let start = Instant::now();
    let mut waiting = Vec::new();
    for m in list {
        // a user's stop: the restart policy must not start it again
        store.containers.mark_stopped_by_user(&m.cfg.id);
        if !is_running(&m.state) {
            continue;
        }
        let sig = if m.cfg.stop_signal.is_empty() {
            libc::SIGTERM
        } else {
            container::parse_signal(&m.cfg.stop_signal)?
        };
        if sys::process_is(m.state.pid, m.state.pid_start) {
            // SAFETY: the pid was checked to be this container's.
            unsafe { libc::kill(m.state.pid, sig) };
        }
        // A paused member (`pod pause`) gets the signal once thawed.
        super::resources::thaw_after_signal(store, &m.cfg.id, &m.state);
        let secs = timeout.unwrap_or(m.cfg.stop_timeout);
        waiting.push((m, Duration::from_secs(secs as u64)));
    }
    for (m, limit) in &waiting {
        let left = limit.saturating_sub(start.elapsed());
        let state = container::wait_stopped(store, &m.cfg.id, Some(left))?;
        if is_running(&state) {
            if !limit.is_zero() {
                crate::warn!(
                    "StopSignal {} failed to stop container {} in {} seconds, resorting to SIGKILL",
                    if m.cfg.stop_signal.is_empty() {
                        "SIGTERM"
                    } else {
                        m.cfg.stop_signal.as_str()
                    },
                    m.cfg.name,
                    limit.as_secs()
                );
            }
            if sys::process_is(state.pid, state.pid_start) {
                // SAFETY: verified pid.
                unsafe { libc::kill(state.pid, libc::SIGKILL) };
            }
            super::resources::thaw_after_signal(store, &m.cfg.id, &state);
        }
    }
    for (m, _) in &waiting {
        container::wait_stopped(store, &m.cfg.id, None)?;
    }
    Ok(())
}

/// Send `sig` to every running container of the pod, infra included.
pub fn kill(store: &Store, pod: &PodConfig, sig: i32) -> Result<()> {
    let list = containers(store, &pod.id)?;
    if !list.iter().any(|m| is_running(&m.state)) {
        bail!(
            "no containers in pod {} are running: pod state improper",
            pod.name
        );
    }
    for m in list.iter().filter(|m| is_running(&m.state)) {
        container::kill(store, &m.cfg.id, sig)?;
    }
    // SIGKILL cannot fail to end them: report the pod as it now is.
    if sig == libc::SIGKILL {
        for m in list.iter().filter(|m| is_running(&m.state)) {
            container::wait_stopped(store, &m.cfg.id, Some(Duration::from_secs(5)))?;
        }
    }
    pod_event(store, "kill", pod);
    Ok(())
}

/// Remove the pod with its containers. Without `force`, a pod whose
/// members run is refused before anything changes (a running infra alone
/// is stopped, as podman does).
pub fn remove(store: &Store, pod: &PodConfig, force: bool, timeout: Option<u32>) -> Result<()> {
    let list = containers(store, &pod.id)?;
    if !force {
        if let Some(m) = list
            .iter()
            .find(|m| !m.cfg.is_infra && is_running(&m.state))
        {
            return Err(crate::error::CodedError {
                code: 125,
                message: format!(
                    "removing container {} from pod {}: cannot remove container {} as it is running - running or paused containers cannot be removed without force: container state improper",
                    m.cfg.id, pod.id, m.cfg.id
                ),
            }
            .into());
        }
    }
    stop(store, pod, timeout)?;
    // Members first: they link the infra's name files.
    let (infra, members): (Vec<&Member>, Vec<&Member>) = list.iter().partition(|m| m.cfg.is_infra);
    for m in members.iter().chain(infra.iter()) {
        super::removal::remove_files(store, &m.cfg.id)?;
        events::container(store, "remove", &m.cfg);
    }
    {
        let _lock = store.lock()?;
        store.pods.remove(&pod.id)?;
    }
    super::cgroup::pod::remove(&pod.id, &pod.cgroup_parent, store.rootless);
    pod_event(store, "remove", pod);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_status_from_container_states() {
        use Status::*;
        assert_eq!(status(&[]), "Created");
        assert_eq!(status(&[Created, Created]), "Created");
        assert_eq!(status(&[Running, Running]), "Running");
        assert_eq!(status(&[Running, Exited]), "Degraded");
        assert_eq!(status(&[Running, Created]), "Degraded");
        assert_eq!(status(&[Exited, Exited]), "Exited");
        assert_eq!(status(&[Exited, Created]), "Stopped");
        assert_eq!(status(&[Paused, Paused]), "Paused");
    }
}
