//! info, version and the `system` group (df; check, prune, reset, migrate
//! and renumber live in system_check.rs and system_prune.rs).

use super::output::{print, print_inspect, println, unescape};
use super::GlobalOpts;
use crate::format::human::{human_duration, human_size_compact, parse_rfc3339};
use crate::format::table;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::time::SystemTime;

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Check storage consistency
    Check(super::system_check::CheckArgs),
    /// Show coracle disk usage
    Df(DfArgs),
    /// Show coracle events
    Events(super::events::EventsArgs),
    /// Display podman-compatible system information
    Info(InfoArgs),
    /// Stop running containers so that new id mappings apply when they start
    Migrate(super::system_prune::MigrateArgs),
    /// Remove unused data
    Prune(super::system_prune::PruneArgs),
    /// Give volumes' lock numbers out again, densely
    Renumber(super::system_prune::RenumberArgs),
    /// Reset coracle storage: remove every container, pod, image and volume
    Reset(super::system_prune::ResetArgs),
    /// Run an API service
    Service(ServiceArgs),
}

pub fn dispatch(g: &GlobalOpts, c: SystemCommand) -> Result<()> {
    match c {
        SystemCommand::Check(a) => super::system_check::system_check(g, a),
        SystemCommand::Df(a) => df(g, a),
        SystemCommand::Events(a) => super::events::events(g, a),
        SystemCommand::Info(a) => info(g, a),
        SystemCommand::Migrate(a) => super::system_prune::migrate(g, a),
        SystemCommand::Prune(a) => super::system_prune::prune(g, a),
        SystemCommand::Renumber(a) => super::system_prune::renumber(g, a),
        SystemCommand::Reset(a) => super::system_prune::reset(g, a),
        SystemCommand::Service(a) => service(g, a),
    }
}

#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Time until the service session expires in seconds.  Use 0 to disable the timeout (default: containers.conf's service_timeout, else 5)
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS")]
    pub time: Option<u64>,
    /// Set CORS Headers
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Option<String>,
    /// PEM file containing TLS serving certificate; with --tls-key, the service speaks TLS
    #[arg(long = "tls-cert", value_name = "PATH")]
    pub tls_cert: Option<String>,
    /// PEM file containing TLS serving certificate private key
    #[arg(long = "tls-key", value_name = "PATH")]
    pub tls_key: Option<String>,
    /// Only trust client connections with certificates signed by this CA PEM file
    #[arg(long = "tls-client-ca", value_name = "PATH")]
    pub tls_client_ca: Option<String>,
    /// Where to listen: unix:///PATH or tcp://HOST:PORT (default: systemd's socket, else $PODMAN_SOCKET, else the user's podman.sock)
    #[arg(value_name = "URI")]
    pub uri: Option<String>,
}

/// podman's `service_timeout`: seconds idle before the service exits.
const DEFAULT_SERVICE_TIMEOUT: u64 = 5;

/// `system service`: podman's REST API until idle (`api/`).
pub fn service(g: &GlobalOpts, a: ServiceArgs) -> Result<()> {
    let tls = service_tls(&a)?;
    // The store is opened in each connection's process; this checks the
    // options once, before anything listens.
    g.open_store()?;
    let opts = crate::api::ServiceOptions {
        uri: a.uri.filter(|u| !u.is_empty()),
        idle_seconds: a.time.unwrap_or_else(|| {
            crate::config::get()
                .containers
                .engine
                .service_timeout
                .unwrap_or(DEFAULT_SERVICE_TIMEOUT)
        }),
        cors: a.cors.filter(|c| !c.is_empty()),
        tls,
    };
    crate::api::serve(opts, &|| g.open_store())
}

/// The TLS files, paired as podman requires (a client CA needs the
/// server's own certificate and key).
fn service_tls(a: &ServiceArgs) -> Result<Option<crate::api::tls::TlsFiles>> {
    let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let (cert, key, ca) = (
        given(&a.tls_cert),
        given(&a.tls_key),
        given(&a.tls_client_ca),
    );
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(crate::api::tls::TlsFiles {
            cert: cert.into(),
            key: key.into(),
            client_ca: ca.map(Into::into),
        })),
        (Some(_), None) => bail!("--tls-cert provided without --tls-key"),
        (None, Some(_)) => bail!("--tls-key provided without --tls-cert"),
        (None, None) if ca.is_some() => {
            bail!("--tls-client-ca provided without --tls-cert and --tls-key")
        }
        (None, None) => Ok(None),
    }
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Change the output format to JSON or a Go template
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Change the output format to JSON or a Go template
    #[arg(short, long)]
    pub format: Option<String>,
}

pub fn version(_g: &GlobalOpts, a: VersionArgs) -> Result<()> {
    let v = crate::engine::system::version_report();
    let all = json!({"Client": v});
    let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    match a.format.as_deref() {
        Some("json") => println(&crate::format::table::json_compact(&all)),
        Some(f) => print_inspect(std::slice::from_ref(&all), Some(f)),
        None => println(&format!(
            "Client:       coracle\nVersion:      {}\nAPI Version:  {}\nBuilt:        {}\nOS/Arch:      {}",
            field("Version"),
            field("APIVersion"),
            field("BuiltTime"),
            field("OsArch")
        )),
    }
}

pub fn info(g: &GlobalOpts, a: InfoArgs) -> Result<()> {
    let store = g.open_store()?;
    let info = crate::engine::system::info_report(&store)?;
    match a.format.as_deref() {
        None => println(&yamlish(&info, 0)),
        Some("json") => println(&crate::format::table::json_indented(&info, 2)),
        // Templates use podman's Go field names (Store.GraphRoot, Host.Arch).
        Some(f) => print_inspect(&[go_names(&info)], Some(f)),
    }
}

/// JSON keys as Go struct field names: `graphRoot` -> `GraphRoot`.
fn go_names(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (go_name(k), go_names(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(go_names).collect()),
        other => other.clone(),
    }
}

/// One key: podman's Go name where it is not the key capitalized.
fn go_name(key: &str) -> String {
    let special = match key {
        "cgroupVersion" => "CgroupsVersion",
        "cpus" => "CPUs",
        "cpuUtilization" => "CPUUtilization",
        "idMappings" => "IDMappings",
        "ociRuntime" => "OCIRuntime",
        "os" => "OS",
        "capabilities" => "DefaultCapabilities",
        "apparmorEnabled" => "AppArmorEnabled",
        "seccompEnabled" => "SECCOMPEnabled",
        "seccompProfilePath" => "SECCOMPProfilePath",
        "selinuxEnabled" => "SELinuxEnabled",
        "gidmap" => "GIDMap",
        "uidmap" => "UIDMap",
        "container_id" => "ContainerID",
        "host_id" => "HostID",
        _ => "",
    };
    if !special.is_empty() {
        return special.to_string();
    }
    let mut c = key.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The human `info` view: YAML-like, as podman prints it.
fn yamlish(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent);
    let mut out = String::new();
    if let Value::Object(m) = v {
        for (k, val) in m {
            match val {
                Value::Object(inner) if !inner.is_empty() => {
                    out.push_str(&format!("{pad}{k}:\n{}", yamlish(val, indent + 1)));
                }
                Value::Object(_) => out.push_str(&format!("{pad}{k}: {{}}\n")),
                Value::Array(items) if !items.is_empty() => {
                    out.push_str(&format!("{pad}{k}:\n"));
                    for item in items {
                        match item {
                            Value::Object(_) => {
                                let body = yamlish(item, indent + 1);
                                let body = body.trim_start();
                                out.push_str(&format!("{pad}- {body}"));
                            }
                            other => out.push_str(&format!("{pad}- {}\n", scalar(other))),
                        }
                    }
                }
                Value::Array(_) => out.push_str(&format!("{pad}{k}: []\n")),
                other => out.push_str(&format!("{pad}{k}: {}\n", scalar(other))),
            }
        }
    }
    out.trim_end_matches('\n').to_string() + if indent == 0 { "" } else { "\n" }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on disk usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Pretty-print images using a Go template or JSON
    #[arg(long)]
    pub format: Option<String>,
}

/// One line of the summary: podman's dfSummary.
struct Summary {
    kind: &'static str,
    total: usize,
    active: usize,
    size: u64,
    reclaimable: u64,
}

impl Summary {
    fn json(&self) -> Value {
        let percent = if self.size > 0 {
            (self.reclaimable as f64 / self.size as f64 * 100.0).round() as u64
        } else {
            0
        };
        json!({
            "Type": self.kind,
            "Total": self.total,
            "Active": self.active,
            "RawSize": self.size,
            "RawReclaimable": self.reclaimable,
            "TotalCount": self.total,
            "Size": human_size_compact(self.size),
            "Reclaimable": format!("{} ({percent}%)", human_size_compact(self.reclaimable)),
        })
    }
}

fn since(created: &str, now: SystemTime) -> String {
    parse_rfc3339(created)
        .map(|t| human_duration(now.duration_since(t).unwrap_or_default()))
        .unwrap_or_default()
}

/// `system df`: what images, containers and volumes take, and what
/// removing the unused ones would give back, as podman counts it.
pub fn df(g: &GlobalOpts, a: DfArgs) -> Result<()> {
    if a.format.is_some() && a.verbose {
        bail!("cannot combine --format and --verbose flags");
    }
    let store = g.open_store()?;
    let now = SystemTime::now();
    let usage = crate::engine::system::disk_usage(&store)?;

    let mut image_rows = Vec::new();
    let (mut images_size, mut images_used, mut images_active) = (0u64, 0u64, 0usize);
    for u in &usage.images {
        let img = &u.record;
        images_size += img.size;
        if u.containers > 0 {
            images_active += 1;
            images_used += img.size;
        }
        let (repo, tag) = match img.names.first() {
            Some(n) => {
                let (r, t) = crate::engine::types::split_name(n);
                (r.to_string(), t.unwrap_or("<none>").to_string())
            }
            None => ("<none>".into(), "<none>".into()),
        };
        image_rows.push(json!({
            "Repository": repo,
            "Tag": tag,
            "ImageID": &img.id[..12.min(img.id.len())],
            "Created": img.created.as_deref().map(|c| since(c, now)).unwrap_or_default(),
            "Size": human_size_compact(img.size),
            "SharedSize": human_size_compact(img.size.saturating_sub(u.unique)),
            "UniqueSize": human_size_compact(u.unique),
            "Containers": u.containers,
        }));
    }

    let mut container_rows = Vec::new();
    let (mut ctr_size, mut ctr_reclaimable, mut ctr_active) = (0u64, 0u64, 0usize);
    for u in &usage.containers {
        let (c, rw) = (&u.listed, u.rw_size);
        ctr_size += rw;
        if crate::engine::types::is_running(&c.state) {
            ctr_active += 1;
        } else {
            ctr_reclaimable += rw;
        }
        container_rows.push(json!({
            "ContainerID": &c.cfg.id[..12],
            "Image": &c.cfg.image_id[..12.min(c.cfg.image_id.len())],
            "Command": c.cfg.args.join(" "),
            "LocalVolumes": c.cfg.mounts.iter().filter(|m| m.kind == crate::engine::types::MountKind::Volume).count(),
            "RWSize": human_size_compact(rw),
            "Created": since(&c.cfg.created, now),
            "Status": c.state.status.as_str(),
            "Names": c.cfg.name,
        }));
    }

    let mut volume_rows = Vec::new();
    let (mut vol_size, mut vol_reclaimable, mut vol_active) = (0u64, 0u64, 0usize);
    for v in &usage.volumes {
        vol_size += v.size;
        vol_active += v.links;
        if v.links == 0 {
            vol_reclaimable += v.size;
        }
        volume_rows.push(json!({
            "VolumeName": v.name,
            "Links": v.links,
            "Size": human_size_compact(v.size),
        }));
    }

    if a.verbose {
        let section = |title: &str, default: &str, headers: &[(&str, &str)], rows: &[Value]| {
            let body =
                table::render_rows(None, default, &table::HeaderMap::new(headers), rows, false)?;
            Ok::<String, anyhow::Error>(format!("{title}\n\n{body}"))
        };
        let mut out = section(
            "Images space usage:",
            "table {{.Repository}}\t{{.Tag}}\t{{.ImageID}}\t{{.Created}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            &[("ImageID", "IMAGE ID"), ("SharedSize", "SHARED SIZE"), ("UniqueSize", "UNIQUE SIZE")],
            &image_rows,
        )?;
        out.push('\n');
        out.push_str(&section(
            "Containers space usage:",
            "table {{.ContainerID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.RWSize}}\t{{.Created}}\t{{.Status}}\t{{.Names}}",
            &[("ContainerID", "CONTAINER ID"), ("LocalVolumes", "LOCAL VOLUMES"), ("RWSize", "SIZE")],
            &container_rows,
        )?);
        out.push('\n');
        out.push_str(&section(
            "Local Volumes space usage:",
            "table {{.VolumeName}}\t{{.Links}}\t{{.Size}}",
            &[("VolumeName", "VOLUME NAME")],
            &volume_rows,
        )?);
        return print(&out);
    }

    let summary: Vec<Value> = [
        Summary {
            kind: "Images",
            total: usage.images.len(),
            active: images_active,
            size: images_size,
            reclaimable: images_size - images_used,
        },
        Summary {
            kind: "Containers",
            total: usage.containers.len(),
            active: ctr_active,
            size: ctr_size,
            reclaimable: ctr_reclaimable,
        },
        Summary {
            kind: "Local Volumes",
            total: usage.volumes.len(),
            active: vol_active,
            size: vol_size,
            reclaimable: vol_reclaimable,
        },
    ]
    .iter()
    .map(Summary::json)
    .collect();
    if a.format.as_deref().map(str::trim) == Some("json") {
        return println(&table::json_pretty(&Value::Array(summary)));
    }
    let format = a.format.as_deref().map(unescape);
    let out = table::render_rows(
        format.as_deref(),
        "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &table::HeaderMap::new(&[("Size", "SIZE"), ("Reclaimable", "RECLAIMABLE")]),
        &summary,
        false,
    )?;
    print(&out)
}
