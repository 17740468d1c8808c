//! `pod clone`: a new pod from an existing one's record with the changes
//! given, and a clone of each of its containers in it; the original
//! removed (`--destroy`) and the clone started (`--start`) when asked.

use super::clone::{clone_container, clone_name, CloneRequest};
use super::pod_create::{check, create_pod, PodRequest};
use super::types::{MemberDefaults, PodConfig, Store, UsernsMode};
use anyhow::Result;

/// What `pod clone` asks for.
#[derive(Debug, Clone, Default)]
pub struct PodCloneRequest {
    /// The pod to copy (name or id).
    pub source: String,
    /// The clone's name; `None`: podman's `<name>-clone`.
    pub name: Option<String>,
    /// The `pod create` settings given (hostname, labels, infra name and
    /// pid file, limits, member settings): they replace the original's.
    pub changes: PodRequest,
    pub destroy: bool,
    pub start: bool,
}

/// A list given replaces the original's.
fn pick(given: Vec<String>, old: &[String]) -> Vec<String> {
    if given.is_empty() {
        old.to_vec()
    } else {
        given
    }
}

/// The original's pod settings with the changes over them.
fn request(store: &Store, old: &PodConfig, name: Option<String>, c: PodRequest) -> PodRequest {
    let m = &old.member;
    let member = MemberDefaults {
        devices: pick(c.member.devices, &m.devices),
        gpus: pick(c.member.gpus, &m.gpus),
        volumes: pick(c.member.volumes, &m.volumes),
        volumes_from: pick(c.member.volumes_from, &m.volumes_from),
        security_opt: pick(c.member.security_opt, &m.security_opt),
        sysctl: pick(c.member.sysctl, &m.sysctl),
        restart: if c.member.restart.is_empty() {
            m.restart.clone()
        } else {
            c.member.restart
        },
        shm_size: c.member.shm_size.or_else(|| m.shm_size.clone()),
        shm_size_systemd: c
            .member
            .shm_size_systemd
            .or_else(|| m.shm_size_systemd.clone()),
        no_hostname: c.member.no_hostname || m.no_hostname,
    };
    let mut labels = old.labels.clone();
    labels.extend(c.labels);
    let mut limits = c.limits;
    if limits.cgroup_parent.is_none() && !old.cgroup_parent.is_empty() {
        limits.cgroup_parent = Some(old.cgroup_parent.clone());
    }
    let infra = !old.infra_id.is_empty();
    // An infra made from an image keeps it, and its command unless
    // `--infra-command` gives another.
    let old_infra = store.containers.load_config(&old.infra_id).ok();
    let (infra_image, infra_command) = match old_infra.filter(|i| infra && !i.image_id.is_empty()) {
        Some(i) => (
            Some(i.image_id.clone()),
            c.infra_command
                .or_else(|| serde_json::to_string(&i.args).ok()),
        ),
        None => (None, c.infra_command),
    };
    PodRequest {
        name: name.unwrap_or_else(|| clone_name(&old.name, |n| store.pods.name_owner(n).is_some())),
        hostname: c
            .hostname
            .or_else(|| Some(old.hostname.clone()).filter(|h| !h.is_empty())),
        labels,
        label_file: c.label_file,
        share: infra.then(|| old.share.join(",")),
        infra,
        infra_name: c.infra_name,
        network: Some(old.network.clone()),
        add_host: old.add_hosts.clone(),
        no_hosts: old.no_hosts,
        hosts_file: old.hosts_file.clone(),
        dns: old.dns.clone(),
        dns_search: old.dns_search.clone(),
        dns_option: old.dns_options.clone(),
        infra_conmon_pidfile: c.infra_conmon_pidfile,
        exit_policy: old.exit_policy.clone(),
        limits,
        base_resources: Some(old.resources.clone()),
        own_cgroups: old.own_cgroups || c.own_cgroups,
        pid: c.pid.or_else(|| Some(old.pid.clone())),
        uts: c.uts.or_else(|| Some(old.uts.clone())),
        member,
        infra_image,
        infra_command,
        userns: c.userns,
        id_maps: c.id_maps,
        // `--userns=auto`: the clone's infra gets a range of its own.
        base_userns: Some((
            old.userns.clone(),
            old.id_mappings
                .clone()
                .filter(|_| !matches!(old.userns, UsernsMode::Auto(_))),
        )),
        ..Default::default()
    }
}

/// Make the clone and its containers; nothing is left of it on failure.
pub fn clone_pod(store: &Store, req: PodCloneRequest) -> Result<PodConfig> {
    let old = store.pods.load(&super::pods::pod_id(store, &req.source)?)?;
    let checked = check(request(store, &old, req.name, req.changes))?.with_ports(old.ports.clone());
    let pod = create_pod(store, checked)?;
    let members = crate::runtime::pod::containers(store, &old.id)?;
    for m in members.iter().filter(|m| !m.cfg.is_infra) {
        let made = clone_container(
            store,
            CloneRequest {
                source: m.cfg.id.clone(),
                pod: Some(pod.id.clone()),
                ..Default::default()
            },
        );
        if let Err(e) = made {
            let _ = super::pods::remove(store, &pod, true, Some(0));
            return Err(e);
        }
    }
    if req.destroy {
        super::pods::remove(store, &old, true, None)?;
    }
    if req.start {
        super::pods::start(store, &pod, false)?;
    }
    Ok(pod)
}
