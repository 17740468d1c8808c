//! `generate spec`: a container's or pod's settings as podman's SpecGen
//! JSON (the body podman's API takes to create one), made from the
//! records as `container clone` reads them.

use super::types::{ContainerConfig, NamespaceMode, NetworkMode, Store};
use crate::storage::container_record::{MountKind, Resources};
use crate::storage::pods::PodConfig;
use anyhow::{bail, Result};
use serde_json::{json, Map, Value};

/// `generate spec`: the JSON for the container or pod `input` names
/// (containers first, as podman looks). `rename`: the name a copy would
/// take (`NAME-clone`, then `NAME-clone1`...), so the JSON can make one
/// beside the original.
pub fn generate_spec(store: &Store, input: &str, rename: bool) -> Result<Value> {
    if let Ok(id) = super::lookup::container_id(store, input) {
        let cfg = store.containers.load_config(&id)?;
        let mut spec = container_spec(&cfg);
        if rename {
            let taken = |n: &str| store.containers.name_owner(n).is_some();
            spec["name"] = super::clone::clone_name(&cfg.name, taken).into();
        }
        return Ok(spec);
    }
    if let Ok(id) = super::pods::pod_id(store, input) {
        let pod = store.pods.load(&id)?;
        let mut spec = pod_spec(&pod);
        if rename {
            let taken = |n: &str| store.pods.name_owner(n).is_some();
            spec["name"] = super::clone::clone_name(&pod.name, taken).into();
        }
        return Ok(spec);
    }
    bail!("could not find a pod or container with the id {input}")
}

/// podman's Namespace: `{"nsmode": ..., "value": ...}`.
fn namespace(mode: &str) -> Value {
    match mode.split_once(':') {
        Some(("container", id)) => json!({"nsmode": "container", "value": id}),
        Some(("ns", path)) => json!({"nsmode": "path", "value": path}),
        Some((m, opts)) => json!({"nsmode": m, "value": opts}),
        None => json!({"nsmode": mode}),
    }
}

fn ns_mode(m: &NamespaceMode) -> Value {
    match m {
        NamespaceMode::Shareable => namespace("private"),
        other => namespace(&other.to_string()),
    }
}

/// The network namespace and, on named networks, their names.
fn network(mode: &NetworkMode) -> (Value, Value) {
    match mode {
        NetworkMode::Bridge(names) if !names.is_empty() => {
            let nets: Map<String, Value> = names.iter().map(|n| (n.clone(), json!({}))).collect();
            (json!({"nsmode": "bridge"}), Value::Object(nets))
        }
        other => (namespace(&other.to_string()), Value::Null),
    }
}

/// `KEY=VALUE` lines as podman's map.
fn env_map(env: &[String]) -> Value {
    let map: Map<String, Value> = env
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), Value::from(v)),
            None => (e.clone(), Value::from("")),
        })
        .collect();
    Value::Object(map)
}

/// podman's resource_limits (an OCI LinuxResources): only what is set.
fn resource_limits(r: &Resources) -> Value {
    let mut out = Map::new();
    let mut memory = Map::new();
    if r.memory > 0 {
        memory.insert("limit".into(), r.memory.into());
    }
    if r.memory_swap != 0 {
        memory.insert("swap".into(), r.memory_swap.into());
    }
    if r.memory_reservation > 0 {
        memory.insert("reservation".into(), r.memory_reservation.into());
    }
    if let Some(s) = r.memory_swappiness {
        memory.insert("swappiness".into(), s.into());
    }
    if !memory.is_empty() {
        out.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = Map::new();
    if r.cpu_shares > 0 {
        cpu.insert("shares".into(), r.cpu_shares.into());
    }
    if r.nano_cpus > 0 {
        // --cpus: a quota over the default period, as podman records it.
        cpu.insert("quota".into(), (r.nano_cpus / 10_000).into());
        cpu.insert("period".into(), 100_000.into());
    } else {
        if r.cpu_quota > 0 {
            cpu.insert("quota".into(), r.cpu_quota.into());
        }
        if r.cpu_period > 0 {
            cpu.insert("period".into(), r.cpu_period.into());
        }
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), r.cpuset_cpus.clone().into());
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), r.cpuset_mems.clone().into());
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), Value::Object(cpu));
    }
    if r.pids_limit > 0 {
        out.insert("pids".into(), json!({"limit": r.pids_limit}));
    }
    if r.blkio_weight > 0 {
        out.insert("blockIO".into(), json!({"weight": r.blkio_weight}));
    }
    Value::Object(out)
}

fn container_spec(c: &ContainerConfig) -> Value {
    let (netns, networks) = network(&c.network);
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for m in c.mounts.iter().chain(&c.tmpfs) {
        match m.kind {
            MountKind::Volume => volumes.push(json!({
                "Name": m.source,
                "Dest": m.destination,
                "Options": m.options,
            })),
            MountKind::Bind => mounts.push(json!({
                "destination": m.destination,
                "type": "bind",
                "source": m.source,
                "options": m.options,
            })),
            MountKind::Tmpfs => mounts.push(json!({
                "destination": m.destination,
                "type": "tmpfs",
                "source": "tmpfs",
                "options": m.options,
            })),
        }
    }
    let ports: Vec<Value> = c
        .ports
        .iter()
        .map(|p| {
            json!({
                "host_ip": p.host_ip,
                "container_port": p.container_port,
                "host_port": p.host_port,
                "range": 1,
                "protocol": p.protocol,
            })
        })
        .collect();
    let mut spec = json!({
        "name": c.name,
        "command": c.args,
        "env": env_map(&c.env),
        "terminal": c.tty,
        "stdin": c.stdin,
        "labels": c.labels,
        "annotations": c.annotations,
        "stop_signal": crate::runtime::signals::parse_signal(&c.stop_signal).unwrap_or(libc::SIGTERM),
        "stop_timeout": c.stop_timeout,
        "sdnotifyMode": if c.sdnotify.is_empty() { "container" } else { c.sdnotify.as_str() },
        "pidns": ns_mode(&c.pid),
        "utsns": ns_mode(&c.uts),
        "ipcns": ns_mode(&c.ipc),
        "userns": namespace(&c.userns.to_string()),
        "hostname": c.hostname,
        "remove": c.auto_remove,
        "containerCreateCommand": c.create_command,
        "image": c.image_id,
        "raw_image_name": c.image_name,
        "init": c.init,
        "mounts": mounts,
        "volumes": volumes,
        "privileged": c.privileged,
        "user": c.user,
        "cap_add": c.cap_add,
        "cap_drop": c.cap_drop,
        "read_only_filesystem": c.read_only,
        "work_dir": c.workdir,
        "netns": netns,
        "Networks": networks,
        "portmappings": ports,
        "dns_server": c.dns,
        "dns_search": c.dns_search,
        "dns_option": c.dns_options,
        "hostadd": c.add_hosts,
        "use_image_hosts": c.no_hosts,
        "resource_limits": resource_limits(&c.resources),
        "cgroup_parent": c.cgroup_parent,
        "pod": c.pod,
    });
    if !c.entrypoint.is_empty() {
        spec["entrypoint"] = c.entrypoint.clone().into();
    }
    if let Some(h) = &c.health {
        spec["healthconfig"] = json!({
            "Test": h.check.test,
            "Interval": h.check.interval,
            "Timeout": h.check.timeout,
            "StartPeriod": h.check.start_period,
            "Retries": h.check.retries,
        });
    }
    let restart = c.restart_policy.to_string();
    if let Some((policy, tries)) = restart.split_once(':') {
        spec["restart_policy"] = policy.into();
        spec["restart_tries"] = tries.parse::<u64>().unwrap_or(0).into();
    } else if restart != "no" && !restart.is_empty() {
        spec["restart_policy"] = restart.into();
    }
    spec
}

fn pod_spec(p: &PodConfig) -> Value {
    let (netns, networks) = network(&p.network);
    let ports: Vec<Value> = p
        .ports
        .iter()
        .map(|m| {
            json!({
                "host_ip": m.host_ip,
                "container_port": m.container_port,
                "host_port": m.host_port,
                "range": 1,
                "protocol": m.protocol,
            })
        })
        .collect();
    json!({
        "name": p.name,
        "hostname": p.hostname,
        "exit_policy": p.exit_policy,
        "labels": p.labels,
        "no_infra": p.infra_id.is_empty(),
        "shared_namespaces": p.share,
        "pod_create_command": p.create_command,
        "pidns": ns_mode(&p.pid),
        "utsns": ns_mode(&p.uts),
        "netns": netns,
        "Networks": networks,
        "portmappings": ports,
        "dns_server": p.dns,
        "dns_search": p.dns_search,
        "dns_option": p.dns_options,
        "hostadd": p.add_hosts,
        "no_manage_hosts": p.no_hosts,
        "cgroup_parent": p.cgroup_parent,
        "share_parent": !p.own_cgroups,
        "resource_limits": resource_limits(&p.resources),
    })
}
