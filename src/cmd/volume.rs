//! `volume create|ls|inspect|rm|prune|exists|reload`: flags in, the volume store
//! and runtime calls, podman's output out.

use super::output::{
    confirm, key_values, print, print_inspect, print_lines, print_lines_then, print_table, println,
};
use super::GlobalOpts;
use crate::engine::types::{path_str, Store, VolumeFilter as Filter, VolumeRecord};
use crate::engine::volumes as vols;
use crate::error::SilentExit;
use crate::format::table;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::time::SystemTime;

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a new volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused volumes
    Prune(PruneArgs),
    /// Check if a volume exists
    Exists(ExistsArgs),
    /// Export volumes
    Export(super::volume_archive::ExportArgs),
    /// Import a tarball contents into a volume
    Import(super::volume_archive::ImportArgs),
    /// Mount volume (print the path of its files)
    Mount(super::volume_mount::MountArgs),
    /// Unmount volume
    #[command(visible_alias = "umount")]
    Unmount(super::volume_mount::MountArgs),
    /// Reload all volumes from volume plugins
    Reload(ReloadArgs),
}

pub fn dispatch(g: &GlobalOpts, c: VolumeCommand) -> Result<()> {
    match c {
        VolumeCommand::Create(a) => create(g, a),
        VolumeCommand::Ls(a) => ls(g, a),
        VolumeCommand::Inspect(a) => inspect(g, a),
        VolumeCommand::Rm(a) => rm(g, a),
        VolumeCommand::Prune(a) => prune(g, a),
        VolumeCommand::Exists(a) => exists(g, a),
        VolumeCommand::Export(a) => super::volume_archive::export(g, a),
        VolumeCommand::Import(a) => super::volume_archive::import(g, a),
        VolumeCommand::Mount(a) => super::volume_mount::mount(g, a),
        VolumeCommand::Unmount(a) => super::volume_mount::unmount(g, a),
        VolumeCommand::Reload(a) => reload(g, a),
    }
}

/// Check all configured volume plugins and update the volume records with
/// all available volumes; records of volumes a plugin no longer has are
/// removed.
#[derive(Args, Debug)]
pub struct ReloadArgs {}

pub fn reload(g: &GlobalOpts, _a: ReloadArgs) -> Result<()> {
    let store = g.open_store()?;
    let report = vols::reload(&store);
    let mut out = String::new();
    for (title, names) in [("Added", &report.added), ("Removed", &report.removed)] {
        if !names.is_empty() {
            out.push_str(title);
            out.push_str(":\n");
            for n in names {
                out.push_str(n);
                out.push('\n');
            }
        }
    }
    print(&out)?;
    // podman: every error but the last on stderr, the last the command's.
    let mut errors = report.errors;
    let last = errors.pop();
    for e in errors {
        crate::log::error_line(&format!("{e:#}").replace('\n', " "));
    }
    last.map_or(Ok(()), Err)
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Specify volume driver name: local, or a volume plugin named in containers.conf [engine.volume_plugins]
    #[arg(short, long, default_value = crate::engine::types::LOCAL_DRIVER)]
    pub driver: String,
    /// Set metadata for a volume (e.g., --label mykey=value)
    #[arg(short, long = "label", value_name = "LABEL")]
    pub label: Vec<String>,
    /// Set driver specific options (type, device, o, copy, nocopy)
    #[arg(short, long = "opt", value_name = "OPT")]
    pub opt: Vec<String>,
    /// Don't fail if volume already exists
    #[arg(long)]
    pub ignore: bool,
    /// The UID that owns the volume's directory (not passed to a mount)
    #[arg(long, value_name = "UID")]
    pub uid: Option<u32>,
    /// The GID that owns the volume's directory (not passed to a mount)
    #[arg(long, value_name = "GID")]
    pub gid: Option<u32>,
    /// The volume's name (a generated one when missing)
    pub name: Option<String>,
}

pub fn create(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    let store = g.open_store()?;
    let name = vols::create(
        &store,
        vols::NewVolume {
            name: a.name,
            driver: a.driver,
            options: a.opt,
            labels: key_values(&a.label),
            ignore_existing: a.ignore,
            uid: a.uid,
            gid: a.gid,
        },
    )?;
    println(&name)
}

/// podman's inspect document of a volume; a plugin's volume is asked of
/// its plugin (with `ask_plugin`) for where it is and its status.
pub(crate) fn volume_json(
    store: &Store,
    v: &VolumeRecord,
    users: &[String],
    ask_plugin: bool,
) -> Result<Value> {
    let mount_count = vols::mount_count(store, v, users);
    let (mountpoint, status) = if !v.uses_plugin() {
        (path_str(&store.volumes.data_dir(&v.name)).to_string(), None)
    } else if ask_plugin {
        let pv = vols::plugin_volume(v)?;
        (pv.mountpoint, pv.status.filter(|s| !s.is_empty()))
    } else {
        (String::new(), None)
    };
    let mut doc = json!({
        "Name": v.name,
        "Driver": v.driver,
        "Mountpoint": mountpoint,
        "CreatedAt": v.created_at,
    });
    if let Some(status) = status {
        doc["Status"] = Value::Object(status);
    }
    let rest = json!({
        "Labels": v.labels,
        "Scope": "local",
        "Options": v.options,
        "MountCount": mount_count,
    });
    if let (Value::Object(doc), Value::Object(rest)) = (&mut doc, rest) {
        doc.extend(rest);
    }
    // podman leaves these out once false.
    if v.needs_copy_up {
        doc["NeedsCopyUp"] = json!(true);
    }
    if v.needs_chown {
        doc["NeedsChown"] = json!(true);
    }
    if v.anonymous {
        doc["Anonymous"] = json!(true);
    }
    if v.uses_plugin() {
        doc["Timeout"] = json!(vols::plugin_timeout());
    }
    doc["LockNumber"] = json!(v.lock_number);
    Ok(doc)
}

/// What templates see: CreatedAt as Go prints a time, and every field of
/// podman's struct, even those its JSON leaves out.
fn template_view(mut doc: Value) -> Value {
    for key in ["NeedsCopyUp", "NeedsChown", "Anonymous"] {
        if doc.get(key).is_none() {
            doc[key] = json!(false);
        }
    }
    if let Some(t) = doc["CreatedAt"]
        .as_str()
        .and_then(|s| crate::format::human::parse_rfc3339(s).ok())
    {
        doc["CreatedAt"] = json!(crate::format::human::go_time_string(t));
    }
    doc
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Filter volume output
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format volume output using JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print headers
    #[arg(short = 'n', long)]
    pub noheading: bool,
    /// Print volume output in quiet mode
    #[arg(short, long)]
    pub quiet: bool,
}

pub(crate) fn parse_filters(items: &[String], for_prune: bool) -> Result<Vec<Filter>> {
    let now = SystemTime::now();
    items
        .iter()
        .map(|f| Filter::parse(f, for_prune, now))
        .collect()
}

pub fn ls(g: &GlobalOpts, a: LsArgs) -> Result<()> {
    let filters = parse_filters(&a.filter, false)?;
    let store = g.open_store()?;
    let users = vols::users(&store)?;
    let none = Vec::new();
    let list: Vec<(VolumeRecord, &Vec<String>)> = store
        .volumes
        .list()?
        .into_iter()
        .map(|v| {
            let u = users.get(&v.name).unwrap_or(&none);
            (v, u)
        })
        .filter(|(v, u)| filters.iter().all(|f| f.matches(v, u.len())))
        .collect();
    if a.quiet {
        return print_lines(&list.iter().map(|(v, _)| &v.name).collect::<Vec<_>>());
    }
    // The default table shows no plugin's answer: no call to make.
    let ask_plugin = a.format.is_some();
    let docs: Vec<Value> = list
        .iter()
        .map(|(v, u)| volume_json(&store, v, u, ask_plugin))
        .collect::<Result<_>>()?;
    if a.format.as_deref().map(str::trim) == Some("json") {
        return println(&table::json_indented(&Value::Array(docs), 2));
    }
    let rows: Vec<Value> = docs.into_iter().map(template_view).collect();
    print_table(
        a.format.as_deref(),
        "table {{.Driver}}\t{{.Name}}",
        &[("Name", "VOLUME NAME"), ("Driver", "DRIVER")],
        &rows,
        a.noheading,
    )
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Inspect all volumes
    #[arg(short, long)]
    pub all: bool,
    /// Format volume output using JSON or a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    pub names: Vec<String>,
}

pub fn inspect(g: &GlobalOpts, a: InspectArgs) -> Result<()> {
    if a.all != a.names.is_empty() {
        bail!("provide one or more volume names or use --all");
    }
    let store = g.open_store()?;
    let users = vols::users(&store)?;
    let none = Vec::new();
    let records = if a.all {
        store.volumes.list()?
    } else {
        let mut v = Vec::new();
        for n in &a.names {
            match store.volumes.load(n)? {
                Some(rec) => v.push(rec),
                None => {
                    // podman prints what it found, then the error.
                    let docs: Vec<Value> = v
                        .iter()
                        .map(|r: &VolumeRecord| {
                            volume_json(&store, r, users.get(&r.name).unwrap_or(&none), true)
                        })
                        .collect::<Result<_>>()?;
                    if a.format.is_none() || a.format.as_deref() == Some("json") {
                        print_inspect(&docs, None)?;
                    }
                    bail!("inspecting object: no such volume {n}");
                }
            }
        }
        v
    };
    let docs: Vec<Value> = records
        .iter()
        .map(|r| volume_json(&store, r, users.get(&r.name).unwrap_or(&none), true))
        .collect::<Result<_>>()?;
    match a.format.as_deref() {
        None | Some("json") => print_inspect(&docs, None),
        Some(f) => {
            let views: Vec<Value> = docs.into_iter().map(template_view).collect();
            print_inspect(&views, Some(f))
        }
    }
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Remove all volumes
    #[arg(short, long)]
    pub all: bool,
    /// Remove a volume by force, even if it is being used by a container
    #[arg(short, long)]
    pub force: bool,
    /// Seconds to wait for running containers to stop before killing them
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
    pub names: Vec<String>,
}

pub fn rm(g: &GlobalOpts, a: RmArgs) -> Result<()> {
    let store = g.open_store()?;
    let removed = vols::remove(
        &store,
        &vols::Removal {
            names: a.names,
            all: a.all,
            force: a.force,
            stop_timeout: a.time,
        },
    )?;
    print_lines(&removed)
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused volumes, both anonymous and named
    #[arg(short, long)]
    pub all: bool,
    /// Show what would be pruned without actually pruning
    #[arg(long)]
    pub dry_run: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>', 'all=true', 'anonymous=false')
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

pub fn prune(g: &GlobalOpts, a: PruneArgs) -> Result<()> {
    let mut filters = parse_filters(&a.filter, true)?;
    let all = vols::prune_scope(&mut filters, a.all)?;
    if a.force && a.dry_run {
        bail!("--force and --dry-run cannot be used together");
    }
    let store = g.open_store()?;
    let doomed = vols::prune_candidates(&store, &filters)?;
    if a.dry_run {
        let list: String = doomed.iter().map(|n| format!("{n}\n")).collect();
        return print(&format!("Volumes that would be pruned:\n{list}"));
    }
    if !a.force {
        let (warning, none) = if all {
            ("WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:", "No dangling volumes found")
        } else {
            ("WARNING! This will remove anonymous local volumes not used by at least one container. The following volumes will be removed:", "No dangling anonymous volumes found")
        };
        if doomed.is_empty() {
            return println(&format!("{warning}\n{none}"));
        }
        let mut warning = warning.to_string();
        for n in &doomed {
            warning.push('\n');
            warning.push_str(n);
        }
        if !confirm(&warning)? {
            return Ok(());
        }
    }
    let report = vols::prune(&store, &doomed);
    print_lines_then(&report.removed, report.error)
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    pub name: String,
}

pub fn exists(g: &GlobalOpts, a: ExistsArgs) -> Result<()> {
    let store = g.open_store()?;
    if store.volumes.exists(&a.name) {
        Ok(())
    } else {
        Err(SilentExit(1).into())
    }
}
