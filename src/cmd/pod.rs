//! `pod` verbs: create, ps, inspect, start, stop, restart, kill, rm,
//! prune, exists.

use super::output::{confirm, key_values, print, println};
use super::GlobalOpts;
use crate::engine::lookup::missing_exits_1;
use crate::engine::pod_create::{self as engine, PodRequest};
use crate::engine::pods::{self, list_all, try_pod_id, Listed};
use crate::engine::types::{NamespaceMode, NetworkMode, PodConfig};
use crate::error::SilentExit;
use crate::format::{human, table};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::time::SystemTime;

#[derive(Subcommand, Debug)]
pub enum PodCommand {
    /// Create a new empty pod
    Create(Box<CreateArgs>),
    /// List pods
    #[command(visible_aliases = ["ls", "list"])]
    Ps(PsArgs),
    /// Display a pod configuration
    Inspect(InspectArgs),
    /// Start one or more pods
    Start(StartArgs),
    /// Stop one or more pods
    Stop(StopArgs),
    /// Restart one or more pods
    Restart(RestartArgs),
    /// Send the specified signal or SIGKILL to containers in pod
    Kill(KillArgs),
    /// Remove one or more pods
    Rm(RmArgs),
    /// Remove all stopped pods and their containers
    Prune(PruneArgs),
    /// Check if a pod exists in local storage
    Exists(ExistsArgs),
    /// Display the running processes of containers in a pod
    Top(super::pod_watch::PodTopArgs),
    /// Display a live stream of resource usage statistics for the containers in one or more pods
    Stats(super::pod_watch::PodStatsArgs),
    /// Pause one or more pods
    Pause(super::pod_pause::PauseArgs),
    /// Unpause one or more pods
    Unpause(super::pod_pause::PauseArgs),
    /// Fetch logs for pod with one or more containers
    Logs(super::pod_logs::PodLogsArgs),
    /// Create a copy of an existing pod
    Clone(Box<super::clone::PodCloneArgs>),
}

pub fn dispatch(g: &GlobalOpts, c: PodCommand) -> Result<()> {
    match c {
        PodCommand::Create(a) => create(g, *a),
        PodCommand::Ps(a) => ps(g, a),
        PodCommand::Inspect(a) => inspect(g, a),
        PodCommand::Start(a) => start(g, a),
        PodCommand::Stop(a) => stop(g, a),
        PodCommand::Restart(a) => restart(g, a),
        PodCommand::Kill(a) => kill(g, a),
        PodCommand::Rm(a) => rm(g, a),
        PodCommand::Prune(a) => prune(g, a),
        PodCommand::Exists(a) => exists(g, a),
        PodCommand::Top(a) => super::pod_watch::pod_top(g, a),
        PodCommand::Stats(a) => super::pod_watch::pod_stats(g, a),
        PodCommand::Pause(a) => super::pod_pause::pause(g, a, true),
        PodCommand::Unpause(a) => super::pod_pause::pause(g, a, false),
        PodCommand::Logs(a) => super::pod_logs::pod_logs(g, a),
        PodCommand::Clone(a) => super::clone::pod_clone(g, *a),
    }
}

// ---- pod create ----

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Assign a name to the pod
    #[arg(short, long)]
    pub name: Option<String>,
    /// Publish a container's port, or a range of ports, to the host
    #[arg(short, long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Set the pod's hostname
    #[arg(long)]
    pub hostname: Option<String>,
    /// Set metadata on the pod
    #[arg(short, long = "label", value_name = "LABEL")]
    pub label: Vec<String>,
    /// Namespaces to share: ipc, net, pid, uts, none (+NS adds to the default)
    #[arg(long)]
    pub share: Option<String>,
    /// Create an infra container for the pod
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub infra: bool,
    /// The name of the infra container
    #[arg(long)]
    pub infra_name: Option<String>,
    /// The image of the infra container, which then runs its program (default: a built-in infra that runs none)
    #[arg(long, value_name = "IMAGE")]
    pub infra_image: Option<String>,
    /// The program the infra container runs (a string or a JSON array; with --infra-image)
    #[arg(long, value_name = "COMMAND")]
    pub infra_command: Option<String>,
    /// Connect the pod to a network: pasta[:OPTIONS], slirp4netns, none, host
    #[arg(long, alias = "net", value_parser = super::create_flags::network_flag)]
    pub network: Option<NetworkMode>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Add a network-scoped alias for the pod (its infra)
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// Specify a static IPv4 address for the pod on its network
    #[arg(long)]
    pub ip: Option<String>,
    /// Specify a static IPv6 address for the pod on its network
    #[arg(long)]
    pub ip6: Option<String>,
    /// The pod's MAC address on its network (e.g. 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Do not create /etc/hosts for the pod's containers (their images' stay)
    #[arg(long = "no-hosts")]
    pub no_hosts: bool,
    /// Base file for the pod's /etc/hosts: an absolute host path, none, or image
    #[arg(long = "hosts-file", value_name = "PATH")]
    pub hosts_file: Option<String>,
    /// Set custom DNS servers
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set custom DNS options
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Write the pod ID to the file
    #[arg(long)]
    pub pod_id_file: Option<String>,
    /// Write the pid of the infra container's monitor to this file
    #[arg(long, value_name = "PATH")]
    pub infra_conmon_pidfile: Option<String>,
    /// Replace a pod of the same name, if there is one
    #[arg(long)]
    pub replace: bool,
    /// What the pod does when its last container exits: continue, stop
    #[arg(long, default_value = "continue")]
    pub exit_policy: String,
    #[command(flatten)]
    pub settings: super::pod_settings::PodSettings,
    /// The pod's name (instead of --name)
    pub pod_name: Option<String>,
}

pub fn create(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    let req = pod_request(a)?;
    let checked = engine::check(req)?;
    let store = g.open_store()?;
    let pod = engine::create_pod(&store, checked)?;
    println(&pod.id)
}

/// A `pod create` command line (without `pod create`), parsed by these
/// very flags, made into a pod (the API's create: every default is the
/// CLI's).
pub fn create_from_words(
    store: &crate::engine::types::Store,
    words: &[String],
) -> Result<PodConfig> {
    use clap::{Args as _, FromArgMatches};
    let command = CreateArgs::augment_args(clap::Command::new("create").no_binary_name(true));
    let matches = command.try_get_matches_from(words).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default().to_string();
        anyhow::anyhow!("{}", first.trim_start_matches("error: "))
    })?;
    let a = CreateArgs::from_arg_matches(&matches)?;
    let checked = engine::check(pod_request(a)?)?;
    engine::create_pod(store, checked)
}

fn pod_request(a: CreateArgs) -> Result<PodRequest> {
    let name = match (&a.name, &a.pod_name) {
        (Some(_), Some(_)) => bail!("cannot specify --name and a pod name argument together"),
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => String::new(),
    };
    let mut req = PodRequest {
        name,
        publish: a.publish,
        hostname: a.hostname,
        labels: key_values(&a.label),
        share: a.share,
        infra: a.infra,
        infra_name: a.infra_name,
        network: a.network,
        add_host: a.add_host,
        network_alias: a.network_alias,
        ip: a.ip,
        ip6: a.ip6,
        mac_address: a.mac_address,
        no_hosts: a.no_hosts,
        hosts_file: a.hosts_file,
        dns: a.dns,
        dns_search: a.dns_search,
        dns_option: a.dns_option,
        pod_id_file: a.pod_id_file,
        infra_conmon_pidfile: a.infra_conmon_pidfile,
        replace: a.replace,
        exit_policy: a.exit_policy,
        infra_image: a.infra_image,
        infra_command: a.infra_command,
        ..Default::default()
    };
    a.settings.fill(&mut req);
    Ok(req)
}

// ---- listing ----

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Print the numeric IDs of the pods only
    #[arg(short, long)]
    pub quiet: bool,
    /// Pretty-print pods to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Filter output based on conditions given
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Display the container names
    #[arg(long)]
    pub ctr_names: bool,
    /// Display the container UUIDs
    #[arg(long)]
    pub ctr_ids: bool,
    /// Display the container status
    #[arg(long)]
    pub ctr_status: bool,
    /// Do not truncate pod and container IDs
    #[arg(long)]
    pub no_trunc: bool,
    /// Display namespace information of the pod
    #[arg(long, visible_alias = "namespace")]
    pub ns: bool,
    /// Do not print headers
    #[arg(long)]
    pub noheading: bool,
    /// Sort output by created, id, name, number or status
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
}

fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.chars().take(12).collect()
    }
}

fn created_ago(pod: &PodConfig, now: SystemTime) -> String {
    human::parse_rfc3339(&pod.created)
        .map(|c| human::time_ago_from(c, now))
        .unwrap_or_default()
}

/// The row for tables and templates (podman's ListPodReporter).
fn table_row(l: &Listed, now: SystemTime, no_trunc: bool) -> Value {
    let ids: Vec<String> = l
        .members
        .iter()
        .map(|m| short(&m.cfg.id, no_trunc))
        .collect();
    let names: Vec<&str> = l.members.iter().map(|m| m.cfg.name.as_str()).collect();
    let statuses: Vec<&str> = l.members.iter().map(|m| m.state.status.as_str()).collect();
    let id = short(&l.pod.id, no_trunc);
    let infra = short(&l.pod.infra_id, no_trunc);
    json!({
        "Id": id, "ID": id,
        "Name": l.pod.name,
        "Status": l.status(),
        "Created": created_ago(&l.pod, now),
        "InfraId": infra, "InfraID": infra,
        "NumberOfContainers": l.members.len(),
        "ContainerIds": ids.join(","),
        "ContainerNames": names.join(","),
        "ContainerStatuses": statuses.join(","),
        "Cgroup": "",
        "Namespace": "",
        "Labels": l.pod.labels,
        "Networks": "",
    })
}

/// podman's `pod ps --format json` object.
/// A pod as `pod ps --format json` shows it (the API's list too).
pub fn json_row(l: &Listed) -> Value {
    json!({
        "Cgroup": "",
        "Containers": l.members.iter().map(|m| json!({
            "Id": m.cfg.id, "Names": m.cfg.name, "Status": m.state.status.as_str()})).collect::<Vec<_>>(),
        "Created": l.pod.created,
        "Id": l.pod.id,
        "InfraId": l.pod.infra_id,
        "Name": l.pod.name,
        "Namespace": "",
        "Networks": [],
        "Status": l.status(),
        "Labels": l.pod.labels,
    })
}

fn headers() -> table::HeaderMap {
    table::HeaderMap::new(&[
        ("Id", "POD ID"),
        ("ID", "POD ID"),
        ("Name", "NAME"),
        ("Status", "STATUS"),
        ("Labels", "LABELS"),
        ("NumberOfContainers", "# OF CONTAINERS"),
        ("Created", "CREATED"),
        ("InfraID", "INFRA ID"),
        ("InfraId", "INFRA ID"),
        ("ContainerIds", "IDS"),
        ("ContainerNames", "NAMES"),
        ("ContainerStatuses", "STATUS"),
        ("Cgroup", "CGROUP"),
        ("Namespace", "NAMESPACES"),
        ("Networks", "NETWORKS"),
    ])
}

pub type Pred = Box<dyn Fn(&Listed) -> bool>;

/// `--filter`: values of one key are ORed, different keys ANDed.
pub fn build_filters(filters: &[String]) -> Result<Vec<Pred>> {
    let mut preds: Vec<Pred> = Vec::new();
    for (key, values) in crate::engine::filter::group_filters(filters)? {
        let res = || -> Vec<crate::engine::filter::Regex> {
            values
                .iter()
                .map(|v| crate::engine::filter::Regex::new(v))
                .collect()
        };
        match key.as_str() {
            "id" => preds.push(Box::new(move |l| {
                values.iter().any(|v| l.pod.id.starts_with(v.as_str()))
            })),
            "name" => {
                let res = res();
                preds.push(Box::new(move |l| {
                    res.iter().any(|r| r.is_match(&l.pod.name))
                }))
            }
            "label" => preds.push(Box::new(move |l| {
                values
                    .iter()
                    .all(|v| crate::engine::filter::label_matches(v, &l.pod.labels))
            })),
            "status" => {
                for v in &values {
                    if !matches!(
                        v.as_str(),
                        "stopped"
                            | "running"
                            | "paused"
                            | "exited"
                            | "dead"
                            | "created"
                            | "degraded"
                    ) {
                        bail!("{v} is not a valid status");
                    }
                }
                preds.push(Box::new(move |l| {
                    let s = l.status().to_ascii_lowercase();
                    values.contains(&s)
                }))
            }
            "ctr-names" => {
                let res = res();
                preds.push(Box::new(move |l| {
                    l.members
                        .iter()
                        .any(|m| res.iter().any(|r| r.is_match(&m.cfg.name)))
                }))
            }
            "ctr-ids" => preds.push(Box::new(move |l| {
                l.members
                    .iter()
                    .any(|m| values.iter().any(|v| m.cfg.id.starts_with(v.as_str())))
            })),
            "ctr-status" => {
                for v in &values {
                    if !matches!(
                        v.as_str(),
                        "created" | "running" | "paused" | "stopped" | "exited" | "unknown"
                    ) {
                        bail!("{v} is not a valid status");
                    }
                }
                preds.push(Box::new(move |l| {
                    l.members.iter().any(|m| {
                        let s = m.state.status.as_str();
                        values
                            .iter()
                            .any(|v| v == s || (v == "stopped" && s == "exited"))
                    })
                }))
            }
            "ctr-number" => {
                let mut ns = Vec::new();
                for v in &values {
                    ns.push(
                        v.parse::<usize>()
                            .with_context(|| format!("invalid ctr-number {v:?}"))?,
                    );
                }
                preds.push(Box::new(move |l| ns.contains(&l.members.len())))
            }
            "until" => {
                let mut limits = Vec::new();
                for v in &values {
                    limits.push(human::parse_duration_or_time(v, SystemTime::now())?);
                }
                preds.push(Box::new(move |l| {
                    human::parse_rfc3339(&l.pod.created)
                        .is_ok_and(|c| limits.iter().any(|t| c < *t))
                }))
            }
            "network" => preds.push(Box::new(move |l| match &l.pod.network {
                NetworkMode::Bridge(names) => names.iter().any(|n| values.contains(n)),
                _ => false,
            })),
            other => bail!("{other} is an invalid filter"),
        }
    }
    Ok(preds)
}

pub fn ps(g: &GlobalOpts, a: PsArgs) -> Result<()> {
    let preds = build_filters(&a.filter)?;
    let store = g.open_store()?;
    let now = SystemTime::now();
    let mut list: Vec<Listed> = list_all(&store)?
        .into_iter()
        .filter(|l| preds.iter().all(|p| p(l)))
        .collect();
    if a.latest && list.len() > 1 {
        list.drain(..list.len() - 1);
    }
    match a.sort.as_str() {
        // podman lists the newest pod first
        "created" => list.reverse(),
        "id" => list.sort_by(|x, y| x.pod.id.cmp(&y.pod.id)),
        "name" => list.sort_by(|x, y| x.pod.name.cmp(&y.pod.name)),
        "number" => list.sort_by_key(|l| l.members.len()),
        "status" => list.sort_by_key(|l| l.status()),
        other => bail!("invalid option for --sort, options are: created, id, name, number, or status: {other:?}"),
    }
    if a.quiet {
        let out: String = list
            .iter()
            .map(|l| short(&l.pod.id, a.no_trunc) + "\n")
            .collect();
        return print(&out);
    }
    if a.format.as_deref().map(str::trim) == Some("json") {
        let rows: Vec<Value> = list.iter().map(json_row).collect();
        return println(&table::json_indented(&Value::Array(rows), 2));
    }
    let mut cols = vec![
        "{{.Id}}",
        "{{.Name}}",
        "{{.Status}}",
        "{{.Created}}",
        "{{.InfraID}}",
    ];
    if a.ctr_ids {
        cols.push("{{.ContainerIds}}");
    }
    if a.ctr_names {
        cols.push("{{.ContainerNames}}");
    }
    if a.ctr_status {
        cols.push("{{.ContainerStatuses}}");
    }
    if a.ns {
        cols.extend(["{{.Cgroup}}", "{{.Namespace}}"]);
    }
    if !a.ctr_ids && !a.ctr_names && !a.ctr_status {
        cols.push("{{.NumberOfContainers}}");
    }
    let default = format!("table {}", cols.join("\t"));
    let rows: Vec<Value> = list.iter().map(|l| table_row(l, now, a.no_trunc)).collect();
    let format = a.format.as_deref().map(super::output::unescape);
    let out = table::render_rows(format.as_deref(), &default, &headers(), &rows, a.noheading)?;
    print(&out)
}

// ---- inspect ----

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format the output to a Go template or json
    #[arg(short, long)]
    pub format: Option<String>,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    pub pods: Vec<String>,
}

/// podman's keys for a pod's cgroup limits and its members' settings
/// (each left out when unset, as podman's omitempty does).
fn settings_json(store: &crate::engine::types::Store, p: &PodConfig) -> Result<Value> {
    let r = &p.resources;
    let m = &p.member;
    let mut o = serde_json::Map::new();
    let mut put = |k: &str, v: Value, set: bool| {
        if set {
            o.insert(k.to_string(), v);
        }
    };
    // podman records --cpus as a quota over the default period.
    let (period, quota) = if r.nano_cpus > 0 {
        (100_000u64, r.nano_cpus / 10_000)
    } else {
        (r.cpu_period, r.cpu_quota)
    };
    put("cpu_period", json!(period), period != 0);
    put("cpu_quota", json!(quota), quota != 0);
    put("cpu_shares", json!(r.cpu_shares), r.cpu_shares != 0);
    put(
        "cpuset_cpus",
        json!(r.cpuset_cpus),
        !r.cpuset_cpus.is_empty(),
    );
    put(
        "cpuset_mems",
        json!(r.cpuset_mems),
        !r.cpuset_mems.is_empty(),
    );
    let mut mounts = Vec::new();
    for v in &m.volumes {
        mounts.push(super::inspect::mount_json(
            store,
            &crate::engine::create::parse_volume(v)?,
        ));
    }
    put("mounts", json!(mounts), !mounts.is_empty());
    let devices: Vec<Value> = m.devices.iter().map(|d| device_json(d)).collect();
    put("devices", json!(devices), !devices.is_empty());
    put(
        "device_read_bps",
        super::inspect::rates_json(&r.device_read_bps),
        !r.device_read_bps.is_empty(),
    );
    put(
        "device_write_bps",
        super::inspect::rates_json(&r.device_write_bps),
        !r.device_write_bps.is_empty(),
    );
    put(
        "volumes_from",
        json!(m.volumes_from),
        !m.volumes_from.is_empty(),
    );
    put(
        "security_opt",
        json!(m.security_opt),
        !m.security_opt.is_empty(),
    );
    put("memory_limit", json!(r.memory), r.memory != 0);
    put("memory_swap", json!(r.memory_swap), r.memory_swap != 0);
    put("blkio_weight", json!(r.blkio_weight), r.blkio_weight != 0);
    put(
        "blkio_weight_device",
        super::inspect::weights_json(&r.blkio_weight_device),
        !r.blkio_weight_device.is_empty(),
    );
    put("RestartPolicy", json!(m.restart), !m.restart.is_empty());
    Ok(Value::Object(o))
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]` as podman's InspectDevice.
fn device_json(d: &str) -> Value {
    let parts: Vec<&str> = d.split(':').collect();
    let perm = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (host, ctr, perms) = match parts.as_slice() {
        [h, p] if perm(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p, ..] => (*h, *c, *p),
        _ => (d, d, "rwm"),
    };
    json!({"PathOnHost": host, "PathInContainer": ctr, "CgroupPermissions": perms})
}

/// The namespaces members share, sorted as podman lists them: the user
/// namespace too when the pod has one of its own.
fn shared_namespaces(p: &crate::engine::types::PodConfig) -> Vec<String> {
    let mut out = p.share.clone();
    if p.shares_user() {
        out.push("user".into());
        out.sort();
    }
    out
}

/// podman's `pod inspect` document.
pub fn inspect_json(store: &crate::engine::types::Store, l: &Listed) -> Result<Value> {
    let p = &l.pod;
    let ns_mode = |ns: &str| if p.shares(ns) { "" } else { "private" };
    let infra_config = if p.infra_id.is_empty() {
        Value::Null
    } else {
        json!({
            "PortBindings": super::inspect::ports_json(&p.ports),
            "HostNetwork": p.network == NetworkMode::Host,
            "StaticIP": "",
            "StaticMAC": "",
            "NoManageResolvConf": false,
            "DNSServer": if p.dns.is_empty() { Value::Null } else { json!(p.dns) },
            "DNSSearch": if p.dns_search.is_empty() { Value::Null } else { json!(p.dns_search) },
            "DNSOption": if p.dns_options.is_empty() { Value::Null } else { json!(p.dns_options) },
            "NoManageHosts": false,
            "HostAdd": if p.add_hosts.is_empty() { Value::Null } else { json!(p.add_hosts) },
            "Networks": [],
            "NetworkOptions": null,
            "pid_ns": if p.pid == NamespaceMode::Private { ns_mode("pid").to_string() } else { p.pid.to_string() },
            "userns": if p.shares_user() { "private" } else { "host" },
            "uts_ns": if p.uts == NamespaceMode::Private { ns_mode("uts").to_string() } else { p.uts.to_string() },
            "NoManageHostname": p.member.no_hostname,
        })
    };
    let cgroup_path = pods::cgroup_path(store, p);
    let cgroup_parent = match cgroup_path.rsplit_once('/') {
        Some((parent, _)) => parent.to_string(),
        None => String::new(),
    };
    let mut doc = json!({
        "Id": p.id,
        "Name": p.name,
        "Created": p.created,
        "CreateCommand": p.create_command,
        "ExitPolicy": if p.exit_policy.is_empty() { "continue" } else { p.exit_policy.as_str() },
        "State": l.status(),
        "Hostname": p.hostname,
        "Labels": p.labels,
        "CreateCgroup": !cgroup_path.is_empty(),
        "CgroupParent": cgroup_parent,
        "CgroupPath": cgroup_path,
        "CreateInfra": !p.infra_id.is_empty(),
        "InfraContainerID": p.infra_id,
        "InfraConfig": infra_config,
        "SharedNamespaces": shared_namespaces(p),
        "NumContainers": l.members.len(),
        "Containers": l.members.iter().map(|m| json!({
            "Id": m.cfg.id, "Name": m.cfg.name, "State": m.state.status.as_str()})).collect::<Vec<_>>(),
    });
    if let (Some(o), Value::Object(s)) = (doc.as_object_mut(), settings_json(store, p)?) {
        o.extend(s);
        if p.infra_id.is_empty() {
            o.remove("InfraContainerID");
            o.remove("InfraConfig");
        }
    }
    Ok(doc)
}

pub fn inspect(g: &GlobalOpts, a: InspectArgs) -> Result<()> {
    let store = g.open_store()?;
    let all = list_all(&store)?;
    let names = if a.latest {
        match all.last() {
            Some(l) => vec![l.pod.id.clone()],
            None => bail!("no pods to inspect: no such pod"),
        }
    } else if a.pods.is_empty() {
        bail!("you must provide at least one name or id");
    } else {
        a.pods.clone()
    };
    let mut docs = Vec::new();
    let mut missing = None;
    for n in &names {
        match try_pod_id(&store, n)?.and_then(|id| all.iter().find(|l| l.pod.id == id)) {
            Some(l) => docs.push(inspect_json(&store, l)?),
            None => missing = Some(n.clone()),
        }
    }
    match a.format.as_deref() {
        // podman prints one pod as an object, several as an array
        None | Some("json") if docs.len() == 1 => {
            println(&table::json_inspect(&docs[0]))?;
        }
        format => super::output::print_inspect(&docs, format)?,
    }
    match missing {
        Some(n) => bail!("inspecting object: no such pod {n}"),
        None => Ok(()),
    }
}

// ---- lifecycle ----

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Act on all pods
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Read the pod ID from the file and start the pod (repeatable)
    #[arg(long = "pod-id-file", value_name = "FILE")]
    pub pod_id_file: Vec<String>,
    pub pods: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RestartArgs {
    /// Act on all pods
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    pub pods: Vec<String>,
}

/// The pod ids `--pod-id-file` files hold (first line of each), with the
/// file; with `ignore`, a missing file is skipped.
fn pod_id_files(files: &[String], ignore: bool) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for f in files {
        match std::fs::read_to_string(f) {
            Ok(text) => out.push((
                f.clone(),
                text.lines().next().unwrap_or("").trim().to_string(),
            )),
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading pod ID file {f}")),
        }
    }
    Ok(out)
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Stop all running pods
    #[arg(short, long)]
    pub all: bool,
    /// Ignore errors when a specified pod is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Seconds to wait for the pod's containers to stop before killing them
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    pub time: Option<u32>,
    /// Read the pod ID from the file and stop the pod (repeatable)
    #[arg(long = "pod-id-file", value_name = "FILE")]
    pub pod_id_file: Vec<String>,
    pub pods: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Kill all pods
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Signal to send to the containers in the pod
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    pub pods: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Remove all pods
    #[arg(short, long)]
    pub all: bool,
    /// Stop the pod's running containers, then remove it
    #[arg(short, long)]
    pub force: bool,
    /// Ignore errors when a specified pod is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Seconds to wait for the pod's containers to stop before killing them
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Read the pod ID from the file and remove the pod, and the file with it (repeatable)
    #[arg(long = "pod-id-file", value_name = "FILE")]
    pub pod_id_file: Vec<String>,
    pub pods: Vec<String>,
}

/// Run `f` on every pod, printing each id that succeeded; report each
/// failure and fail at the end with the last one.
fn for_each(pods: &[PodConfig], f: impl FnMut(&PodConfig) -> Result<()>) -> Result<()> {
    super::output::for_each_reported(pods, |p| &p.id, false, f)
}

pub fn start(g: &GlobalOpts, mut a: StartArgs) -> Result<()> {
    a.pods.extend(
        pod_id_files(&a.pod_id_file, false)?
            .into_iter()
            .map(|(_, id)| id),
    );
    let store = g.open_store()?;
    let list = pods::targets(&store, &a.pods, a.all, a.latest, false)?;
    for_each(&list, |pod| pods::start(&store, pod, false))
}

pub fn restart(g: &GlobalOpts, a: RestartArgs) -> Result<()> {
    let store = g.open_store()?;
    let list = pods::targets(&store, &a.pods, a.all, a.latest, false)?;
    for_each(&list, |pod| pods::start(&store, pod, true))
}

pub fn stop(g: &GlobalOpts, mut a: StopArgs) -> Result<()> {
    let from_files = pod_id_files(&a.pod_id_file, a.ignore)?;
    if a.pods.is_empty() && from_files.is_empty() && !a.pod_id_file.is_empty() {
        // --ignore with every file missing: nothing to stop.
        return Ok(());
    }
    a.pods.extend(from_files.into_iter().map(|(_, id)| id));
    let store = g.open_store()?;
    let list = pods::targets(&store, &a.pods, a.all, a.latest, a.ignore)?;
    for_each(&list, |pod| pods::stop(&store, pod, a.time))
}

pub fn kill(g: &GlobalOpts, a: KillArgs) -> Result<()> {
    let sig = crate::engine::containers::parse_signal(&a.signal)?;
    let store = g.open_store()?;
    let list = pods::targets(&store, &a.pods, a.all, a.latest, false)?;
    for_each(&list, |pod| pods::kill(&store, pod, sig))
}

pub fn rm(g: &GlobalOpts, mut a: RmArgs) -> Result<()> {
    let from_files = pod_id_files(&a.pod_id_file, a.ignore)?;
    if a.pods.is_empty() && from_files.is_empty() && !a.pod_id_file.is_empty() {
        return Ok(());
    }
    a.pods.extend(from_files.iter().map(|(_, id)| id.clone()));
    let store = g.open_store()?;
    let list = missing_exits_1(pods::targets(&store, &a.pods, a.all, a.latest, a.ignore))?;
    for_each(&list, |pod| {
        pods::remove(&store, pod, a.force, a.time)?;
        // podman removes each id file along with its pod.
        for (file, named) in &from_files {
            if pod.id.starts_with(named.as_str()) || pod.name == *named {
                let _ = std::fs::remove_file(file);
            }
        }
        Ok(())
    })
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn prune(g: &GlobalOpts, a: PruneArgs) -> Result<()> {
    if !a.force && !confirm("WARNING! This will remove all stopped/exited pods..")? {
        return Ok(());
    }
    let store = g.open_store()?;
    let doomed = pods::prune_candidates(&store)?;
    for_each(&doomed, |pod| pods::remove(&store, pod, false, None))
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    pub pod: String,
}

pub fn exists(g: &GlobalOpts, a: ExistsArgs) -> Result<()> {
    let store = g.open_store()?;
    match try_pod_id(&store, &a.pod)? {
        Some(_) => Ok(()),
        None => Err(SilentExit(1).into()),
    }
}
