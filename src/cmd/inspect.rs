//! `container inspect`: podman's document for a container, built from its
//! two records (and its runtime spec for the final environment).

use super::output::print_inspect;
use super::GlobalOpts;
use crate::engine::containers::latest_id;
use crate::engine::lookup::try_container_id;
use crate::engine::types::{
    is_running, path_str, ContainerConfig, ContainerState, MountSpec, NetworkMode, Status, Store,
};
use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Map, Value};

#[derive(Args, Debug)]
pub struct ContainerInspectArgs {
    /// Format the output to a Go template or json
    #[arg(short, long)]
    pub format: Option<String>,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Display filesystem usage (accepted; sizes are not computed yet)
    #[arg(short, long)]
    pub size: bool,
    pub containers: Vec<String>,
}

pub fn container_inspect(g: &GlobalOpts, a: ContainerInspectArgs) -> Result<()> {
    let store = g.open_store()?;
    let names = if a.latest {
        vec![latest_id(&store)?]
    } else if a.containers.is_empty() {
        bail!("must specify at least one container name or ID");
    } else {
        a.containers.clone()
    };
    let mut docs = Vec::new();
    let mut missing = None;
    for n in &names {
        match try_container_id(&store, n)? {
            Some(id) => docs.push(inspect_json(&store, &id)?),
            None => missing = Some(n.clone()),
        }
    }
    print_inspect(&docs, a.format.as_deref())?;
    match missing {
        Some(n) => bail!("inspecting object: no such container {n}"),
        None => Ok(()),
    }
}

/// Go's zero time, which podman prints for times that never happened.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn opt_time(t: &Option<String>) -> String {
    t.clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| GO_ZERO_TIME.to_string())
}

/// podman's object for a bind mount or a volume (`Mounts`).
pub(super) fn mount_json(store: &Store, m: &MountSpec) -> Value {
    let ro = m.options.iter().any(|o| o == "ro");
    if m.kind == crate::engine::types::MountKind::Volume {
        let mut options: Vec<String> = m
            .options
            .iter()
            .filter(|o| !matches!(o.as_str(), "ro" | "rw" | "z" | "Z"))
            .cloned()
            .collect();
        for (flag, unless) in [("nosuid", "suid"), ("nodev", "dev")] {
            if !options.iter().any(|o| o == flag || o == unless) {
                options.push(flag.into());
            }
        }
        options.push("rbind".into());
        return json!({
            "Type": "volume",
            "Name": m.source,
            "Source": path_str(&store.volumes.data_dir(&m.source)),
            "Destination": m.destination,
            "Driver": store
                .volumes
                .load(&m.source)
                .ok()
                .flatten()
                .map_or_else(|| crate::engine::types::LOCAL_DRIVER.to_string(), |v| v.driver),
            "Mode": "",
            "Options": options,
            "RW": !ro,
            "Propagation": "rprivate",
        });
    }
    let propagation = m
        .options
        .iter()
        .find(|o| {
            matches!(
                o.as_str(),
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
            )
        })
        .cloned()
        .unwrap_or_else(|| "rprivate".into());
    let recursive = if m.options.iter().any(|o| o == "bind") {
        "bind"
    } else {
        "rbind"
    };
    json!({
        "Type": "bind",
        "Source": m.source,
        "Destination": m.destination,
        "Driver": "",
        "Mode": "",
        "Options": [recursive],
        "RW": !ro,
        "Propagation": propagation,
    })
}

/// `-v` as podman echoes it in HostConfig.Binds.
fn bind_text(m: &MountSpec) -> String {
    let mut opts: Vec<String> = vec![if m.options.iter().any(|o| o == "ro") {
        "ro".into()
    } else {
        "rw".into()
    }];
    opts.extend(
        m.options
            .iter()
            .filter(|o| *o != "ro" && *o != "rw")
            .cloned(),
    );
    if !opts
        .iter()
        .any(|o| o.ends_with("private") || o.ends_with("shared") || o.ends_with("slave"))
    {
        opts.push("rprivate".into());
    }
    if !opts.iter().any(|o| o == "bind" || o == "rbind") {
        opts.push("rbind".into());
    }
    format!("{}:{}:{}", m.source, m.destination, opts.join(","))
}

/// podman's per-device rates: null when none.
pub(super) fn rates_json(rates: &[crate::engine::types::DeviceRate]) -> Value {
    if rates.is_empty() {
        return Value::Null;
    }
    json!(rates
        .iter()
        .map(|d| json!({"Path": d.path, "Rate": d.rate}))
        .collect::<Vec<_>>())
}

/// `--blkio-weight-device`s as podman's InspectBlkioWeightDevice list.
pub(super) fn weights_json(weights: &[crate::engine::types::DeviceRate]) -> Value {
    if weights.is_empty() {
        return Value::Null;
    }
    json!(weights
        .iter()
        .map(|d| json!({"Path": d.path, "Weight": d.rate}))
        .collect::<Vec<_>>())
}

/// podman's HostConfig keys for cgroups and resource limits.
fn limits_json(cfg: &ContainerConfig) -> Value {
    let r = &cfg.resources;
    let mut v = json!({
        "Cgroup": "",
        "Cgroups": if cfg.cgroups.is_empty() || cfg.cgroups == "enabled" { "default" } else { cfg.cgroups.as_str() },
        "CgroupParent": cfg.cgroup_parent,
        "CgroupMode": if cfg.tuning.cgroupns == "host" { "host" } else { "private" },
        "OomScoreAdj": r.oom_score_adj.unwrap_or(0),
        "CpuShares": r.cpu_shares,
        "Memory": r.memory,
        "NanoCpus": r.nano_cpus,
        "BlkioWeight": r.blkio_weight,
        "BlkioWeightDevice": weights_json(&r.blkio_weight_device),
        "BlkioDeviceReadBps": rates_json(&r.device_read_bps),
        "BlkioDeviceWriteBps": rates_json(&r.device_write_bps),
        "BlkioDeviceReadIOps": rates_json(&r.device_read_iops),
        "BlkioDeviceWriteIOps": rates_json(&r.device_write_iops),
        "CpuPeriod": r.cpu_period,
        "CpuQuota": r.cpu_quota,
        "CpuRealtimePeriod": r.cpu_rt_period,
        "CpuRealtimeRuntime": r.cpu_rt_runtime,
        "CpusetCpus": r.cpuset_cpus,
        "CpusetMems": r.cpuset_mems,
        "Devices": cfg.tuning.devices.iter().map(|d| json!({"PathOnHost": d.host_path, "PathInContainer": d.container_path, "CgroupPermissions": d.permissions})).collect::<Vec<_>>(),
        "DiskQuota": 0,
        "KernelMemory": 0,
        "MemoryReservation": r.memory_reservation,
        "MemorySwap": r.memory_swap,
        "MemorySwappiness": r.memory_swappiness.map(|n| n as i64).unwrap_or(-1),
        "OomKillDisable": r.oom_kill_disable,
        "PidsLimit": r.pids_limit,
        "CgroupConf": if r.cgroup_conf.is_empty() { Value::Null } else { json!(r.cgroup_conf) },
    });
    if !r.device_cgroup_rules.is_empty() {
        // docker's key (podman shows the rules nowhere)
        v["DeviceCgroupRules"] = json!(r.device_cgroup_rules);
    }
    if !r.rdt_class.is_empty() {
        v["IntelRdtClosID"] = json!(r.rdt_class);
    }
    v
}

fn state_json(state: &ContainerState, health: Option<&crate::engine::types::HealthState>) -> Value {
    let running = is_running(state);
    let health = match health {
        Some(h) => {
            json!({"Status": h.status, "FailingStreak": h.failing_streak, "Log": if h.log.is_empty() { Value::Null } else { json!(h.log) }})
        }
        None => json!({"Status": "", "FailingStreak": 0, "Log": null}),
    };
    json!({
        "OciVersion": "1.0.2-dev",
        "Status": state.status.as_str(),
        "Running": state.status == Status::Running,
        "Paused": state.status == Status::Paused,
        "Restarting": state.restarting,
        "OOMKilled": state.oom_killed,
        "Dead": false,
        "Pid": if running { state.pid } else { 0 },
        "ConmonPid": if running { state.monitor_pid } else { 0 },
        "ExitCode": state.exit_code,
        "Error": state.error.clone().unwrap_or_default(),
        "StartedAt": opt_time(&state.started_at),
        "FinishedAt": opt_time(&state.finished_at),
        "Health": health,
        "CgroupPath": if running { state.cgroup_path.as_str() } else { "" },
        "Checkpointed": state.checkpointed,
        "CheckpointedAt": opt_time(&state.checkpointed_at),
        "Restored": state.restored,
        "RestoredAt": opt_time(&state.restored_at),
    })
}

/// podman's `HostConfig.RestartPolicy`: no policy is an empty name.
fn restart_policy_json(p: crate::engine::types::RestartPolicy) -> Value {
    use crate::engine::types::RestartPolicy as P;
    let (name, max) = match p {
        P::No => ("", 0),
        P::OnFailure(n) => ("on-failure", n.unwrap_or(0)),
        P::Always => ("always", 0),
        P::UnlessStopped => ("unless-stopped", 0),
    };
    json!({"Name": name, "MaximumRetryCount": max})
}

/// podman's Config keys for a healthcheck.
fn healthcheck_json(h: &crate::engine::types::HealthSettings) -> Map<String, Value> {
    let mut m = Map::new();
    let check = |c: &crate::engine::types::HealthConfig| {
        json!({
            "Test": c.test,
            "StartPeriod": c.start_period,
            "Interval": if h.scheduled { c.interval_ns() } else { 0 },
            "Timeout": c.timeout_ns(),
            "Retries": c.retries,
        })
    };
    let mut main = check(&h.check);
    main["Retries"] = json!(h.check.retries());
    m.insert("Healthcheck".into(), main);
    m.insert(
        "HealthcheckOnFailureAction".into(),
        json!(h.on_failure.to_string()),
    );
    m.insert("HealthLogDestination".into(), json!(h.log_destination));
    m.insert("HealthcheckMaxLogCount".into(), json!(h.max_log_count));
    m.insert("HealthcheckMaxLogSize".into(), json!(h.max_log_size));
    if let Some(s) = &h.startup {
        let mut v = check(&s.check);
        v["Successes"] = json!(s.successes);
        m.insert("StartupHealthCheck".into(), v);
    }
    m
}

/// podman's `inspect` document for one container.
pub fn inspect_json(store: &Store, id: &str) -> Result<Value> {
    let crate::engine::containers::Inspected {
        cfg,
        state,
        env,
        caps,
        ulimits,
        rootfs_mountpoint,
        stop_signal,
        health,
    } = crate::engine::containers::inspect(store, id)?;
    let live = matches!(state.status, Status::Running | Status::Paused);
    let exec_ids = match live {
        true => crate::engine::container_mount::exec_session_ids(store, id, state.pid),
        false => Vec::new(),
    };
    let dir = store.containers.dir(id);
    let userdata = dir.join("userdata");
    let image_digest = store
        .images
        .load()
        .ok()
        .and_then(|imgs| {
            imgs.by_id(&cfg.image_id)
                .map(|r| r.display_digest().to_string())
        })
        .unwrap_or_default();
    let mut layer_dirs: Vec<String> = cfg
        .layers
        .iter()
        .rev()
        .map(|d| path_str(&store.layers.diff_dir(d)))
        .collect();
    // `--rootfs DIR:O`: DIR is the lower layer; without :O, DIR is written.
    let mut upper = path_str(&dir.join("upper"));
    match &cfg.launch.rootfs {
        Some(r) if r.overlay => layer_dirs.push(r.path.clone()),
        Some(r) => upper = r.path.clone(),
        None => {}
    }
    let mut graph = Map::new();
    if !layer_dirs.is_empty() {
        graph.insert("LowerDir".into(), json!(layer_dirs.join(":")));
    }
    graph.insert("MergedDir".into(), json!(path_str(&rootfs_mountpoint)));
    graph.insert("UpperDir".into(), json!(upper));
    graph.insert("WorkDir".into(), json!(path_str(&dir.join("work"))));
    let tmpfs: Map<String, Value> = cfg
        .tmpfs
        .iter()
        .map(|t| {
            let mut opts = vec![
                "rw".to_string(),
                "rprivate".into(),
                "nosuid".into(),
                "nodev".into(),
                "tmpcopyup".into(),
            ];
            opts.extend(
                t.options
                    .iter()
                    .filter(|o| !o.starts_with("size=65536k"))
                    .cloned(),
            );
            (t.destination.clone(), json!(opts.join(",")))
        })
        .collect();
    let network_mode = match &cfg.network {
        NetworkMode::None | NetworkMode::Host | NetworkMode::Container(_) | NetworkMode::Ns(_) => {
            cfg.network.to_string()
        }
        NetworkMode::Bridge(n) if !n.is_empty() => "bridge".to_string(),
        _ => "private".to_string(),
    };
    let (path, args) = match cfg.args.split_first() {
        Some((p, rest)) => (p.clone(), rest.to_vec()),
        None => (String::new(), Vec::new()),
    };
    let mut annotations = cfg.annotations.clone();
    annotations
        .entry("io.container.manager".into())
        .or_insert_with(|| "coracle".into());
    let create_command = cfg.create_command.clone();
    let network_settings = json!({
        "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "MacAddress": "", "Bridge": "", "SandboxID": "", "HairpinMode": false,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports_json(&cfg.ports), "SandboxKey": "",
    });
    let mut network_settings = network_settings;
    if let NetworkMode::Bridge(names) = &cfg.network {
        network_settings["Networks"] = networks_json(store, &cfg, names);
    }
    let config = json!({
        "Hostname": cfg.hostname,
        "Domainname": "",
        "User": cfg.user,
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": cfg.tty,
        "OpenStdin": cfg.stdin,
        "StdinOnce": false,
        "Env": env,
        "Cmd": cfg.cmd,
        "Image": cfg.image_name,
        "Volumes": null,
        "WorkingDir": cfg.workdir,
        "Entrypoint": cfg.entrypoint.join(" "),
        "OnBuild": null,
        "Labels": cfg.labels,
        "Annotations": annotations,
        "StopSignal": stop_signal,
        "CreateCommand": create_command,
        "Umask": if cfg.tuning.umask.is_empty() { "0022" } else { cfg.tuning.umask.as_str() },
        "Timeout": cfg.tuning.timeout,
        "Timezone": cfg.tuning.timezone,
        "StopTimeout": cfg.stop_timeout,
        "SdNotifyMode": cfg.sdnotify,
    });
    let mut config = config;
    if let (Value::Object(c), Some(h)) = (&mut config, &cfg.health) {
        c.extend(healthcheck_json(h));
    }
    let host_config = json!({
        "Binds": cfg.mounts.iter().filter(|m| m.kind == crate::engine::types::MountKind::Bind || m.kind == crate::engine::types::MountKind::Volume).map(bind_text).collect::<Vec<_>>(),
        "CgroupManager": "cgroupfs",
        "ContainerIDFile": cfg.cidfile.clone().unwrap_or_default(),
        "LogConfig": {"Type": if cfg.tuning.log_driver.is_empty() { "k8s-file" } else { cfg.tuning.log_driver.as_str() }, "Config": null, "Path": if cfg.tuning.log_driver == "none" { "" } else { cfg.log_path.as_str() }, "Tag": cfg.tuning.log_tag, "Size": crate::format::human::human_size_compact(cfg.tuning.log_max_size as u64)},
        "NetworkMode": network_mode,
        "PortBindings": {},
        "RestartPolicy": restart_policy_json(cfg.restart_policy),
        "AutoRemove": cfg.auto_remove,
        "CapAdd": cfg.cap_add,
        "CapDrop": cfg.cap_drop,
        "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": [], "GroupAdd": cfg.tuning.group_add,
        "ShmSize": cfg.tuning.shm_size.unwrap_or(65536 * 1024),
        "Sysctls": cfg.tuning.sysctls,
        "IpcMode": cfg.ipc.to_string(),
        "PidMode": cfg.pid.to_string(),
        "UTSMode": cfg.uts.to_string(),
        "UsernsMode": userns_mode_shown(&cfg),
        "Privileged": cfg.privileged,
        "ReadonlyRootfs": cfg.read_only,
        "SecurityOpt": cfg.security_opt,
        "Tmpfs": tmpfs,
        "Init": cfg.init,
        "Ulimits": ulimits
            .iter()
            .map(|(name, soft, hard)| json!({"Name": name, "Soft": soft, "Hard": hard}))
            .collect::<Vec<_>>(),
        "Runtime": "oci",
    });
    if !cfg.expose.is_empty() {
        // podman's keys: `80/tcp`, each with an empty object.
        config["ExposedPorts"] = cfg.expose.iter().map(|p| (p.clone(), json!({}))).collect();
    }
    let mut host_config = host_config;
    if let (Value::Object(hc), Value::Object(limits)) = (&mut host_config, limits_json(&cfg)) {
        hc.extend(limits);
    }
    if let Some(m) = &cfg.launch.id_mappings {
        let texts = |r: &[crate::engine::types::IdRange]| -> Vec<String> {
            r.iter().map(|r| r.text()).collect()
        };
        host_config["IDMappings"] = json!({"UidMap": texts(&m.uids), "GidMap": texts(&m.gids)});
    }
    Ok(json!({
        "Id": cfg.id,
        "Created": cfg.created,
        "Path": path,
        "Args": args,
        "State": state_json(&state, health.as_ref()),
        "Image": cfg.image_id,
        "ImageDigest": image_digest,
        "ImageName": cfg.image_name,
        "Rootfs": cfg.launch.rootfs.as_ref().map(|r| r.path.as_str()).unwrap_or_default(),
        "Pod": cfg.pod,
        "ResolvConfPath": path_str(&userdata.join("resolv.conf")),
        "HostnamePath": path_str(&userdata.join("hostname")),
        "HostsPath": path_str(&userdata.join("hosts")),
        "StaticDir": path_str(&userdata),
        "OCIConfigPath": path_str(&dir.join("spec.json")),
        "OCIRuntime": cfg.oci_runtime.as_ref().map_or("coracle", |r| r.name.as_str()),
        "ConmonPidFile": cfg.conmon_pidfile.clone().unwrap_or_default(),
        "PidFile": cfg.pidfile.clone().unwrap_or_default(),
        "Name": cfg.name,
        "RestartCount": state.restart_count,
        "Driver": store.driver.name(),
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": caps,
        "BoundingCaps": caps,
        "ExecIDs": exec_ids,
        "GraphDriver": {"Name": store.driver.name(), "Data": graph},
        "Mounts": cfg.mounts.iter().filter(|m| m.kind == crate::engine::types::MountKind::Bind || m.kind == crate::engine::types::MountKind::Volume).map(|m| mount_json(store, m)).collect::<Vec<_>>(),
        "Dependencies": cfg.tuning.requires,
        "NetworkSettings": network_settings,
        "Namespace": "",
        "IsInfra": cfg.is_infra,
        "IsService": false,
        "Config": config,
        "HostConfig": host_config,
    }))
}

/// podman's NetworkSettings.Ports: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`.
/// podman's `NetworkSettings.Networks`: each named network, with the
/// address it gave the container while it runs.
fn networks_json(store: &Store, cfg: &ContainerConfig, names: &[String]) -> Value {
    let eps = crate::engine::networks::endpoints(store, cfg);
    let mut out = serde_json::Map::new();
    for n in names {
        let ep = eps.iter().find(|e| &e.network == n);
        let mut aliases = vec![cfg.id[..12.min(cfg.id.len())].to_string()];
        aliases.extend(
            cfg.network_attachments
                .get(n)
                .map(|a| a.aliases.clone())
                .unwrap_or_default(),
        );
        out.insert(
            n.clone(),
            json!({
                "EndpointID": "",
                "Gateway": ep.and_then(|e| e.gateway).map(|g| g.to_string()).unwrap_or_default(),
                "IPAddress": ep.and_then(|e| e.ip).map(|i| i.to_string()).unwrap_or_default(),
                "IPPrefixLen": ep.filter(|e| e.ip.is_some()).map_or(0, |e| e.prefix),
                "IPv6Gateway": ep.and_then(|e| e.gateway6).map(|g| g.to_string()).unwrap_or_default(),
                "GlobalIPv6Address": ep.and_then(|e| e.ip6).map(|i| i.to_string()).unwrap_or_default(),
                "GlobalIPv6PrefixLen": ep.filter(|e| e.ip6.is_some()).map_or(0, |e| e.prefix6),
                "MacAddress": ep.map(|e| e.mac.clone()).unwrap_or_default(),
                "NetworkID": ep.map(|e| e.network_id.clone()).unwrap_or_else(|| n.clone()),
                "DriverOpts": null,
                "IPAMConfig": null,
                "Links": null,
                "Aliases": aliases,
            }),
        );
    }
    Value::Object(out)
}

pub fn ports_json(ports: &[crate::engine::types::PortMapping]) -> Value {
    let mut map = serde_json::Map::new();
    for p in ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        let entry = json!({"HostIp": p.host_ip, "HostPort": p.host_port.to_string()});
        match map.get_mut(&key).and_then(|v| v.as_array_mut()) {
            Some(list) => list.push(entry),
            None => {
                map.insert(key, json!([entry]));
            }
        }
    }
    Value::Object(map)
}

/// `HostConfig.UsernsMode` as podman reads it from the runtime spec: the
/// infra's namespace a pod member joins (`container:ID`), `private` for a
/// namespace of the container's own (keep-id, nomap, auto, id maps), and
/// nothing for the host's or the default.
fn userns_mode_shown(cfg: &crate::engine::types::ContainerConfig) -> String {
    use crate::engine::types::UsernsMode;
    if let Some(infra) = &cfg.launch.userns_from {
        return format!("container:{infra}");
    }
    match cfg.userns {
        UsernsMode::Host => String::new(),
        UsernsMode::Default if cfg.launch.id_mappings.is_none() => String::new(),
        _ => "private".to_string(),
    }
}
