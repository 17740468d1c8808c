//! `ps`: list containers with podman's columns, filters and JSON keys.
//! Each container costs two small JSON reads and no process: `ps -a` must
//! stay fast with hundreds of containers.

use super::output::{print, unescape};
use super::GlobalOpts;
use crate::engine::containers::{list_summaries, Listed};
use crate::engine::filter::{group_filters, label_matches, Regex};
use crate::engine::types::{is_running, RestartPolicy, Status, Store};
use crate::format::{human, table};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all the containers, default is only running containers
    #[arg(short, long)]
    pub all: bool,
    /// Filter output based on conditions given
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print containers to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Print the n last created containers (all states)
    #[arg(short = 'n', long, value_name = "N", allow_negative_numbers = true)]
    pub last: Option<i64>,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Do not print headers
    #[arg(long)]
    pub noheading: bool,
    /// Display the extended information
    #[arg(long)]
    pub no_trunc: bool,
    /// Print the namespaces (accepted; shown in JSON only)
    #[arg(long, visible_alias = "ns")]
    pub namespace: bool,
    /// Print the ID and name of the pod the containers are associated with
    #[arg(short, long)]
    pub pod: bool,
    /// Print the numeric IDs of the containers only
    #[arg(short, long)]
    pub quiet: bool,
    /// Display the total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Sort output by: command, created, id, image, names, runningfor, size, status
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Also list external containers (none here)
    #[arg(long)]
    pub external: bool,
    /// Sync container state with the runtime (coracle reads each container's state live from its monitor on every listing, so this is always so)
    #[arg(long)]
    pub sync: bool,
    /// Refresh the listing every SECONDS seconds, until interrupted
    #[arg(short, long, value_name = "SECONDS", default_value_t = 0)]
    pub watch: u64,
}

/// Go's zero time as a unix time, which podman prints for "never".
const GO_ZERO_UNIX: i64 = -62135596800;

fn unix(t: Option<SystemTime>) -> i64 {
    match t {
        None => GO_ZERO_UNIX,
        Some(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        },
    }
}

fn time_of(s: Option<&str>) -> Option<SystemTime> {
    s.filter(|s| !s.is_empty())
        .and_then(|s| human::parse_rfc3339(s).ok())
}

/// podman's STATUS text: `Up 3 seconds ago`, `Exited (0) 2 seconds ago`,
/// `Created`. Whole seconds, as podman rounds through unix time.
pub fn status_text(l: &Listed, now: SystemTime) -> String {
    let ago = |t: Option<&str>| {
        let secs = unix(time_of(t));
        let t = UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
        human::time_ago_from(t, now)
    };
    match l.state.status {
        Status::Running if !l.health.is_empty() => {
            format!("Up {} ({})", ago(l.state.started_at.as_deref()), l.health)
        }
        Status::Running => format!("Up {}", ago(l.state.started_at.as_deref())),
        Status::Exited => format!(
            "Exited ({}) {}",
            l.state.exit_code,
            ago(l.state.finished_at.as_deref())
        ),
        Status::Created => "Created".into(),
        Status::Initialized => "Initialized".into(),
        Status::Paused => "Paused".into(),
        Status::Stopping => "Stopping".into(),
    }
}

fn mount_destinations(l: &Listed) -> Vec<String> {
    l.cfg
        .mounts
        .iter()
        .chain(l.cfg.tmpfs.iter())
        .map(|m| m.destination.clone())
        .collect()
}

/// The named networks a container is on (podman's Networks column).
fn networks(l: &Listed) -> Vec<String> {
    crate::engine::networks::networks_of(&l.cfg).to_vec()
}

/// `--size`: each container's own layer (its upper dir) and its whole root
/// (the image below it too), in bytes.
pub(crate) struct Sizes(std::collections::HashMap<String, (u64, u64)>);

impl Sizes {
    fn measure(store: &Store, list: &[&Listed]) -> Result<Sizes> {
        let of: Vec<(&str, &str)> = list
            .iter()
            .map(|l| (l.cfg.id.as_str(), l.cfg.image_id.as_str()))
            .collect();
        Ok(Sizes(crate::engine::containers::sizes(store, &of)?))
    }

    fn of(&self, id: &str) -> (u64, u64) {
        self.0.get(id).copied().unwrap_or_default()
    }

    /// podman's SIZE cell: `0B (virtual 1.98MB)`.
    fn text(&self, id: &str) -> String {
        let (rw, root) = self.of(id);
        let h = |n: u64| human::human_size_with_precision(n as f64, 3).replace(' ', "");
        format!("{} (virtual {})", h(rw), h(root))
    }
}

/// The podman `ps --format json` object.
pub(crate) fn json_row(
    l: &Listed,
    now: SystemTime,
    sizes: Option<&Sizes>,
    pod_name: &str,
) -> Value {
    let created = time_of(Some(&l.cfg.created));
    let running = is_running(&l.state);
    let exited = l.state.status == Status::Exited;
    json!({
        "AutoRemove": l.cfg.auto_remove,
        "Command": l.cfg.args,
        "CreatedAt": created.map(|c| human::time_ago_from(c, now)).unwrap_or_default(),
        "Exited": exited,
        "ExitedAt": unix(time_of(l.state.finished_at.as_deref())),
        "ExitCode": l.state.exit_code,
        "Id": l.cfg.id,
        "Image": l.cfg.image_name,
        "ImageID": l.cfg.image_id,
        "IsInfra": l.cfg.is_infra,
        "Labels": if l.cfg.labels.is_empty() { Value::Null } else { json!(l.cfg.labels) },
        "Mounts": mount_destinations(l),
        "Names": [l.cfg.name],
        "Namespaces": {},
        "Networks": networks(l),
        "Pid": if running { l.state.pid } else { 0 },
        "Pod": l.cfg.pod,
        "PodName": pod_name,
        "Ports": if l.cfg.ports.is_empty() { Value::Null } else {
            Value::Array(l.cfg.ports.iter().map(|p| json!({
                "host_ip": p.host_ip, "container_port": p.container_port,
                "host_port": p.host_port, "range": 1, "protocol": p.protocol})).collect())
        },
        "Size": match sizes {
            Some(s) => {
                let (rw, root) = s.of(&l.cfg.id);
                json!({"rootFsSize": root, "rwSize": rw})
            }
            None => Value::Null,
        },
        "StartedAt": unix(time_of(l.state.started_at.as_deref())),
        "State": l.state.status.as_str(),
        "Status": "",
        "Created": unix(created),
    })
}

/// A row for the table and templates: podman's psReporter fields.
fn table_row(
    l: &Listed,
    now: SystemTime,
    no_trunc: bool,
    pod_name: &str,
    sizes: Option<&Sizes>,
) -> Value {
    let created = time_of(Some(&l.cfg.created));
    let command = l.cfg.args.join(" ");
    let command = if !no_trunc && command.chars().count() > 17 {
        format!("{}...", command.chars().take(17).collect::<String>())
    } else {
        command
    };
    let status = status_text(l, now);
    let running_for = created
        .map(|c| human::time_ago_from(c, now))
        .unwrap_or_default();
    let created_at = created.map(human::go_time_string).unwrap_or_default();
    json!({
        "ID": if no_trunc { l.cfg.id.clone() } else { l.cfg.id[..12].to_string() },
        "Image": l.cfg.image_name,
        "ImageID": if no_trunc { l.cfg.image_id.clone() } else { l.cfg.image_id.chars().take(12).collect() },
        "Command": command,
        "Created": created_at,
        "CreatedAt": created_at,
        "CreatedHuman": running_for,
        "RunningFor": running_for,
        "Status": status,
        "State": status,
        "Ports": ports_text(l),
        "Names": l.cfg.name,
        // podman's psReporter: Labels() as sorted k=v pairs, Label(name)
        "Labels": l.cfg.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Label()": l.cfg.labels,
        "Mounts": mount_destinations(l),
        "Networks": networks(l).join(","),
        "Pid": if is_running(&l.state) { l.state.pid } else { 0 },
        "ExitCode": l.state.exit_code,
        "Exited": l.state.status == Status::Exited,
        "StartedAt": unix(time_of(l.state.started_at.as_deref())),
        "ExitedAt": unix(time_of(l.state.finished_at.as_deref())),
        "AutoRemove": l.cfg.auto_remove,
        "IsInfra": l.cfg.is_infra,
        "Pod": if no_trunc { l.cfg.pod.clone() } else { l.cfg.pod.chars().take(12).collect() },
        "PodName": pod_name,
        "Size": sizes.map(|s| s.text(&l.cfg.id)).unwrap_or_default(),
        "Namespaces": {},
    })
}

/// The default table, built straight from the records: the same cells the
/// default template gives, without a template run per container (`ps -a`
/// over hundreds of containers is a hot path).
fn default_table(
    list: &[&Listed],
    now: SystemTime,
    no_trunc: bool,
    sizes: Option<&Sizes>,
    noheading: bool,
    pods: Option<&BTreeMap<String, String>>,
) -> String {
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(list.len() + 1);
    if !noheading {
        let mut h: Vec<String> = [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if sizes.is_some() {
            h.push("SIZE".into());
        }
        if pods.is_some() {
            h.extend(["POD ID".to_string(), "PODNAME".to_string()]);
        }
        rows.push(h);
    }
    for l in list {
        let command = l.cfg.args.join(" ");
        let command = if !no_trunc && command.chars().count() > 17 {
            format!("{}...", command.chars().take(17).collect::<String>())
        } else {
            command
        };
        let created = time_of(Some(&l.cfg.created))
            .map(|c| human::time_ago_from(c, now))
            .unwrap_or_default();
        let mut row = vec![
            if no_trunc {
                l.cfg.id.clone()
            } else {
                l.cfg.id[..12].to_string()
            },
            l.cfg.image_name.clone(),
            command,
            created,
            status_text(l, now),
            ports_text(l),
            l.cfg.name.clone(),
        ];
        if let Some(s) = sizes {
            row.push(s.text(&l.cfg.id));
        }
        if let Some(pods) = pods {
            let id = if no_trunc {
                l.cfg.pod.clone()
            } else {
                l.cfg.pod.chars().take(12).collect()
            };
            row.extend([id, pods.get(&l.cfg.pod).cloned().unwrap_or_default()]);
        }
        rows.push(row);
    }
    table::tabwrite(&rows)
}

/// Members of a pod reach the world through its infra's network: they show
/// the pod's published ports, as podman lists them.
fn show_pod_ports(all: &mut [Listed]) {
    let infra: std::collections::HashMap<String, Vec<_>> = all
        .iter()
        .filter(|l| l.cfg.is_infra && !l.cfg.ports.is_empty())
        .map(|l| (l.cfg.id.clone(), l.cfg.ports.clone()))
        .collect();
    for l in all
        .iter_mut()
        .filter(|l| !l.cfg.pod.is_empty() && l.cfg.ports.is_empty())
    {
        if let Some(ports) = l.cfg.network.container().and_then(|id| infra.get(id)) {
            l.cfg.ports = ports.clone();
        }
    }
}

/// The PORTS column: `0.0.0.0:8080->80/tcp, ...`.
fn ports_text(l: &Listed) -> String {
    l.cfg
        .ports
        .iter()
        .map(|p| p.display())
        .collect::<Vec<_>>()
        .join(", ")
}

fn headers() -> table::HeaderMap {
    table::HeaderMap::new(&[
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedHuman", "CREATED"),
        ("Created", "CREATED"),
        ("Status", "STATUS"),
        ("State", "STATE"),
        ("Ports", "PORTS"),
        ("Names", "NAMES"),
        ("Size", "SIZE"),
        ("Pod", "POD ID"),
        ("PodName", "PODNAME"),
    ])
}

type Pred = Box<dyn Fn(&Listed) -> bool>;

/// `--filter`: values of one key are ORed, different keys ANDed; label
/// filters are all ANDed (podman's rules).
fn build_filters(
    store: &Store,
    filters: &[String],
    all: &[Listed],
    pods: &BTreeMap<String, String>,
) -> Result<Vec<Pred>> {
    let mut preds: Vec<Pred> = Vec::new();
    for (key, values) in group_filters(filters)? {
        match key.as_str() {
            "id" => preds.push(Box::new(move |l| {
                values.iter().any(|v| l.cfg.id.starts_with(v.as_str()))
            })),
            "name" => {
                let res: Vec<Regex> = values.iter().map(|v| Regex::new(v)).collect();
                preds.push(Box::new(move |l| {
                    res.iter().any(|r| r.is_match(&l.cfg.name))
                }))
            }
            "status" => {
                let mut want = Vec::new();
                for v in &values {
                    want.push(match v.as_str() {
                        "created" | "configured" => Status::Created,
                        "initialized" => Status::Initialized,
                        "running" => Status::Running,
                        "paused" => Status::Paused,
                        "exited" | "stopped" => Status::Exited,
                        "stopping" => Status::Stopping,
                        "unknown" | "removing" => continue,
                        other => bail!("unknown container state: {other}: invalid argument"),
                    });
                }
                preds.push(Box::new(move |l| want.contains(&l.state.status)))
            }
            "ancestor" => {
                let res: Vec<(String, Regex)> =
                    values.iter().map(|v| (v.clone(), Regex::new(v))).collect();
                preds.push(Box::new(move |l| {
                    res.iter().any(|(v, r)| ancestor_matches(v, r, l))
                }))
            }
            "label" => preds.push(Box::new(move |l| {
                values.iter().all(|v| label_matches(v, &l.cfg.labels))
            })),
            "exited" => {
                let mut codes = Vec::new();
                for v in &values {
                    codes.push(
                        v.parse::<i32>()
                            .with_context(|| format!("exited code out of range {v:?}"))?,
                    );
                }
                preds.push(Box::new(move |l| {
                    l.state.status == Status::Exited && codes.contains(&l.state.exit_code)
                }))
            }
            "before" | "since" => {
                let mut anchors = Vec::new();
                for v in &values {
                    let anchor = all
                        .iter()
                        .find(|l| l.cfg.name == *v || l.cfg.id.starts_with(v.as_str()))
                        .map(|l| l.cfg.created.clone())
                        .with_context(|| {
                            format!("no container with name or ID \"{v}\" found: no such container")
                        })?;
                    anchors.push(anchor);
                }
                let before = key == "before";
                preds.push(Box::new(move |l| {
                    anchors.iter().any(|a| {
                        if before {
                            l.cfg.created < *a
                        } else {
                            l.cfg.created > *a
                        }
                    })
                }))
            }
            "pod" => {
                let pods = pods.clone();
                preds.push(Box::new(move |l| {
                    !l.cfg.pod.is_empty()
                        && values.iter().any(|v| {
                            l.cfg.pod.starts_with(v.as_str())
                                || pods.get(&l.cfg.pod).is_some_and(|n| n == v)
                        })
                }))
            }
            "health" => preds.push(Box::new(move |l| values.contains(&l.health))),
            "restart-policy" => {
                let valid = ["none", "no", "always", "on-failure", "unless-stopped"];
                let bad: Vec<&String> = values
                    .iter()
                    .filter(|v| !valid.contains(&v.as_str()))
                    .collect();
                if !bad.is_empty() {
                    let what = if bad.len() > 1 { "policies" } else { "policy" };
                    let names: Vec<&str> = bad.iter().map(|s| s.as_str()).collect();
                    bail!("{} invalid restart {what}", names.join(", "));
                }
                preds.push(Box::new(move |l| {
                    let name = restart_policy_name(l.cfg.restart_policy);
                    values
                        .iter()
                        .any(|v| v == name || (v == "none" && name == "no"))
                }))
            }
            "should-start-on-boot" => {
                let mut want = false;
                for v in &values {
                    want = parse_go_bool(v)?;
                }
                // Asked only here: a listing does not look for the marker.
                let stopped: std::collections::BTreeSet<String> = all
                    .iter()
                    .filter(|l| l.cfg.restart_policy == RestartPolicy::UnlessStopped)
                    .filter(|l| crate::engine::containers::stopped_by_user(store, &l.cfg.id))
                    .map(|l| l.cfg.id.clone())
                    .collect();
                preds.push(Box::new(move |l| {
                    should_start_on_boot(l, stopped.contains(&l.cfg.id)) == want
                }))
            }
            "network" => preds.push(Box::new(move |l| {
                networks(l).iter().any(|n| values.contains(n))
            })),
            "volume" => preds.push(Box::new(move |l| {
                values.iter().any(|v| volume_matches(v, l))
            })),
            "until" => {
                // Created before the time (or duration ago) given.
                let now = SystemTime::now();
                let mut limits = Vec::new();
                for v in &values {
                    limits.push(human::parse_duration_or_time(v, now)?);
                }
                preds.push(Box::new(move |l| {
                    time_of(Some(&l.cfg.created)).is_some_and(|c| limits.iter().all(|t| c < *t))
                }))
            }
            other => bail!("{other} is an invalid filter"),
        }
    }
    Ok(preds)
}

/// podman's `volume=SOURCE[:DEST]`: a volume's name or a bind mount's
/// host path, and where it is mounted when given.
fn volume_matches(v: &str, l: &Listed) -> bool {
    let (source, dest) = match v.split_once(':') {
        Some((s, d)) => (s, Some(d)),
        None => (v, None),
    };
    l.cfg
        .mounts
        .iter()
        .any(|m| m.source == source && dest.is_none_or(|d| m.destination == d))
}

/// The policy's name as podman's filter compares it.
fn restart_policy_name(p: RestartPolicy) -> &'static str {
    match p {
        RestartPolicy::No => "no",
        RestartPolicy::OnFailure(_) => "on-failure",
        RestartPolicy::Always => "always",
        RestartPolicy::UnlessStopped => "unless-stopped",
    }
}

/// podman's rule for what comes back after a reboot: made and started
/// once, with `always`, or `unless-stopped` and not stopped by a user.
fn should_start_on_boot(l: &Listed, stopped_by_user: bool) -> bool {
    if l.state.status == Status::Created {
        return false;
    }
    match l.cfg.restart_policy {
        RestartPolicy::Always => true,
        RestartPolicy::UnlessStopped => !stopped_by_user,
        _ => false,
    }
}

/// Go's strconv.ParseBool.
fn parse_go_bool(v: &str) -> Result<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => bail!("strconv.ParseBool: parsing {v:?}: invalid syntax"),
    }
}

/// podman's ancestor filter: the full image id, or the whole image name
/// matching the value as a regex (anchored at both ends), or the name
/// without its tag when that tag is `latest`.
fn ancestor_matches(v: &str, re: &Regex, l: &Listed) -> bool {
    let name = &l.cfg.image_name;
    if l.cfg.image_id == v || re.is_full_match(name) {
        return true;
    }
    match name.strip_suffix(":latest") {
        Some(repo) => re.is_full_match(repo),
        None => false,
    }
}

/// The ids of the containers `--filter` selects, as `ps -a` would list
/// them (for `start --filter`, and the like).
pub fn filtered_ids(store: &Store, filters: &[String]) -> Result<Vec<String>> {
    let all = list_summaries(store)?;
    let pods = pod_names(store, &all);
    let preds = build_filters(store, filters, &all, &pods)?;
    Ok(all
        .iter()
        .filter(|l| preds.iter().all(|p| p(l)))
        .map(|l| l.cfg.id.clone())
        .collect())
}

pub fn ps(g: &GlobalOpts, a: PsArgs) -> Result<()> {
    let store = g.open_store()?;
    if a.watch == 0 {
        return list_once(&store, &a);
    }
    if a.quiet || a.format.as_deref().map(str::trim) == Some("json") {
        bail!("--watch cannot be used with --quiet or --format json");
    }
    loop {
        // podman's refresh: clear the screen, list, wait.
        print("\x1b[2J\x1b[H")?;
        list_once(&store, &a)?;
        std::thread::sleep(std::time::Duration::from_secs(a.watch));
    }
}

fn list_once(store: &Store, a: &PsArgs) -> Result<()> {
    let now = SystemTime::now();
    let mut all = list_summaries(store)?;
    show_pod_ports(&mut all);
    let pods = pod_names(store, &all);
    let preds = build_filters(store, &a.filter, &all, &pods)?;
    let last = if a.latest { Some(1) } else { a.last };
    let show_all = a.all || last.is_some_and(|n| n > 0) || !a.filter.is_empty();
    let mut list: Vec<&Listed> = all
        .iter()
        .filter(|l| show_all || is_running(&l.state))
        .filter(|l| preds.iter().all(|p| p(l)))
        .collect();
    if let Some(n) = last.filter(|n| *n >= 0) {
        let n = n as usize;
        if list.len() > n {
            list.drain(..list.len() - n);
        }
    }
    sort_rows(&mut list, &a.sort, now)?;

    if a.quiet {
        let mut out = String::new();
        for l in &list {
            out.push_str(if a.no_trunc {
                &l.cfg.id
            } else {
                &l.cfg.id[..12]
            });
            out.push('\n');
        }
        return print(&out);
    }
    let sizes = if a.size {
        Some(Sizes::measure(store, &list)?)
    } else {
        None
    };
    if a.format.as_deref().map(str::trim) == Some("json") {
        let pod_name = |l: &Listed| match a.pod {
            true => pods.get(&l.cfg.pod).cloned().unwrap_or_default(),
            false => String::new(),
        };
        let rows: Vec<Value> = list
            .iter()
            .map(|l| json_row(l, now, sizes.as_ref(), &pod_name(l)))
            .collect();
        return super::output::println(&json_two_space(&Value::Array(rows)));
    }
    if a.format.is_none() {
        let pods = a.pod.then_some(&pods);
        return print(&default_table(
            &list,
            now,
            a.no_trunc,
            sizes.as_ref(),
            a.noheading,
            pods,
        ));
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|l| {
            let name = pods.get(&l.cfg.pod).map(String::as_str).unwrap_or("");
            table_row(l, now, a.no_trunc, name, sizes.as_ref())
        })
        .collect();
    let mut default = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}".to_string();
    if a.size {
        default.push_str("\t{{.Size}}");
    }
    if a.pod {
        default.push_str("\t{{.Pod}}\t{{.PodName}}");
    }
    let format = a.format.as_deref().map(unescape);
    let out = table::render_rows(format.as_deref(), &default, &headers(), &rows, a.noheading)?;
    print(&out)
}

/// Names of the pods the listed containers belong to, by pod id.
pub(crate) fn pod_names(
    store: &crate::engine::types::Store,
    all: &[Listed],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for l in all.iter().filter(|l| !l.cfg.pod.is_empty()) {
        if !out.contains_key(&l.cfg.pod) {
            if let Ok(p) = store.pods.load(&l.cfg.pod) {
                out.insert(l.cfg.pod.clone(), p.name);
            }
        }
    }
    out
}

fn sort_rows(list: &mut [&Listed], by: &str, now: SystemTime) -> Result<()> {
    match by {
        "created" | "runningfor" => {} // already oldest first, as podman prints
        "id" => list.sort_by(|x, y| x.cfg.id.cmp(&y.cfg.id)),
        "names" => list.sort_by(|x, y| x.cfg.name.cmp(&y.cfg.name)),
        "image" => list.sort_by(|x, y| x.cfg.image_name.cmp(&y.cfg.image_name)),
        "command" => list.sort_by(|x, y| x.cfg.args.cmp(&y.cfg.args)),
        "status" => list.sort_by_key(|l| status_text(l, now)),
        "pod" => list.sort_by(|x, y| x.cfg.pod.cmp(&y.cfg.pod)),
        "size" | "ports" => {}
        other => bail!("invalid option for --sort, options are: command, created, id, image, names, runningfor, size, or status: {other:?}"),
    }
    Ok(())
}

/// `ps --format json` as podman prints it: two-space indent, with Go's
/// HTML escaping of `<`, `>` and `&`.
fn json_two_space(v: &Value) -> String {
    let text = serde_json::to_string_pretty(v).expect("serialize JSON value");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}
