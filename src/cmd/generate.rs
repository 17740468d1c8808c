//! `generate systemd --new`: podman's older way to run a container from
//! systemd (Quadlet files are the newer one, `coracle quadlet`).

use super::output::{print, println};
use super::GlobalOpts;
use crate::engine::generate::{units, SystemdOptions};
use crate::engine::quadlet::own_path;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum GenerateCommand {
    /// Generate a systemd unit file for a container
    Systemd(SystemdArgs),
    /// Generate Kubernetes YAML (podman's older spelling of kube generate)
    Kube(super::kube::GenerateArgs),
    /// Generate Specgen JSON (podman's API body) from a container or pod
    Spec(SpecArgs),
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// The container or pod
    pub input: String,
    /// Print the JSON on one line
    #[arg(short, long)]
    pub compact: bool,
    /// Write the JSON to this file (and print its name)
    #[arg(short, long, value_name = "FILE")]
    pub filename: Option<std::path::PathBuf>,
    /// Name it as a copy would be named (NAME-clone...), so it does not conflict with the original
    #[arg(short, long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub name: bool,
}

/// `generate spec`.
fn spec(g: &GlobalOpts, a: SpecArgs) -> Result<()> {
    let store = g.open_store()?;
    let spec = crate::engine::generate_spec::generate_spec(&store, &a.input, a.name)?;
    let text = match a.compact {
        true => serde_json::to_string(&spec)?,
        false => serde_json::to_string_pretty(&spec)?,
    };
    match &a.filename {
        Some(path) => {
            std::fs::write(path, format!("{text}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            println(&path.display().to_string())
        }
        None => println(&text),
    }
}

pub fn dispatch(g: &GlobalOpts, c: GenerateCommand) -> Result<()> {
    match c {
        GenerateCommand::Systemd(a) => systemd(g, a),
        GenerateCommand::Kube(a) => super::kube::generate(g, a),
        GenerateCommand::Spec(a) => spec(g, a),
    }
}

#[derive(Args, Debug)]
pub struct SystemdArgs {
    /// Use the container's name instead of its id in the unit's name
    #[arg(short, long)]
    pub name: bool,
    /// Create a new container at each start (required: coracle keeps no monitor pid file for the other form)
    #[arg(long)]
    pub new: bool,
    /// Write the unit to ./NAME.service instead of printing it
    #[arg(short, long)]
    pub files: bool,
    /// Output format: json
    #[arg(long)]
    pub format: Option<String>,
    /// Systemd restart policy (no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always)
    #[arg(long)]
    pub restart_policy: Option<String>,
    /// Seconds systemd waits before restarting
    #[arg(long)]
    pub restart_sec: Option<u32>,
    /// Stop timeout in seconds, for the unit's stop and rm -t and its TimeoutStopSec (default: the container's)
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// The older spelling of --stop-timeout
    #[arg(short = 't', long = "time", value_name = "SECONDS", hide = true)]
    pub time: Option<u32>,
    /// Set an environment variable in the unit: KEY=VALUE, KEY (its value here, when set) or PREFIX* (every variable here that starts with PREFIX)
    #[arg(short, long, value_name = "ENV")]
    pub env: Vec<String>,
    /// Make a template unit (NAME@.service): each instance runs a container named NAME-INSTANCE (implies --new)
    #[arg(long)]
    pub template: bool,
    /// Start timeout in seconds
    #[arg(long)]
    pub start_timeout: Option<u32>,
    /// Prefix of a container unit's name
    #[arg(long, default_value = "container")]
    pub container_prefix: String,
    /// Prefix of a pod unit's name
    #[arg(long, default_value = "pod")]
    pub pod_prefix: String,
    /// Separator between the prefix and the name or id
    #[arg(long, default_value = "-")]
    pub separator: String,
    /// Leave out the header's version and time
    #[arg(long)]
    pub no_header: bool,
    /// Add Wants= dependencies
    #[arg(long)]
    pub wants: Vec<String>,
    /// Add After= dependencies
    #[arg(long)]
    pub after: Vec<String>,
    /// Add Requires= dependencies
    #[arg(long)]
    pub requires: Vec<String>,
    /// The container, or the pod (its unit, then one per member container)
    pub container: String,
}

/// Whether `run`'s flag reads the next word as its value (`--name x`),
/// from run's own flag definitions.
fn run_flag_takes_value(flag: &str) -> bool {
    use clap::Args as _;
    let cmd = super::run::RunArgs::augment_args(clap::Command::new("run"));
    let found = cmd.get_arguments().any(|a| {
        let named = match flag.strip_prefix("--") {
            Some(long) => {
                a.get_long() == Some(long)
                    || a.get_all_aliases().is_some_and(|al| al.contains(&long))
            }
            None => {
                let short = flag.chars().last();
                short.is_some() && a.get_short() == short
            }
        };
        named
            && a.get_action().takes_values()
            && a.get_num_args().is_none_or(|n| n.min_values() > 0)
    });
    found
}

/// `--env` as podman reads it: `K=V` as given, `K` from this environment
/// (left out when unset), `PREFIX*` every variable here starting so.
fn unit_env(given: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for e in given {
        if e.contains('=') {
            out.push(e.clone());
        } else if let Some(prefix) = e.strip_suffix('*') {
            let mut found: Vec<(String, String)> = std::env::vars()
                .filter(|(k, _)| k.starts_with(prefix))
                .collect();
            found.sort();
            out.extend(found.into_iter().map(|(k, v)| format!("{k}={v}")));
        } else if let Ok(v) = std::env::var(e) {
            out.push(format!("{e}={v}"));
        }
    }
    out
}

pub fn systemd(g: &GlobalOpts, mut a: SystemdArgs) -> Result<()> {
    // A template is always --new (as podman, which refuses --new=false).
    a.new |= a.template;
    if !a.new {
        bail!("generate systemd: only --new is supported: coracle keeps no pid file of a container's monitor for a unit to start an existing container with");
    }
    if let Some(f) = a.format.as_deref().filter(|f| *f != "json") {
        bail!("unsupported format {f:?}: use json");
    }
    if a.stop_timeout.is_some() && a.time.is_some() {
        bail!("stop-timeout and time are redundant and cannot be used together");
    }
    let store = g.open_store()?;
    let opts = SystemdOptions {
        use_name: a.name,
        restart_policy: a.restart_policy,
        restart_sec: a.restart_sec,
        stop_timeout: a.stop_timeout.or(a.time),
        start_timeout: a.start_timeout,
        container_prefix: a.container_prefix,
        pod_prefix: a.pod_prefix,
        separator: a.separator,
        no_header: a.no_header,
        wants: a.wants,
        after: a.after,
        requires: a.requires,
        env: unit_env(&a.env),
        template: a.template,
        exe: own_path()?,
        timestamp: crate::format::human::go_time_string(std::time::SystemTime::now()),
    };
    let units = units(&store, &a.container, &opts, &run_flag_takes_value)?;
    let mut shown: Vec<(String, String)> = Vec::new();
    for unit in &units {
        let text = if a.files {
            let cwd = std::env::current_dir().context("finding the current directory")?;
            let path = cwd.join(format!("{}.service", unit.name));
            std::fs::write(&path, &unit.text)
                .with_context(|| format!("writing {}", path.display()))?;
            path.to_string_lossy().into_owned()
        } else {
            unit.text.clone()
        };
        shown.push((unit.name.clone(), text));
    }
    if a.format.is_some() {
        // by name, as podman's (a Go map's) JSON
        let mut sorted = shown;
        sorted.sort();
        let v: serde_json::Map<String, serde_json::Value> = sorted
            .into_iter()
            .map(|(name, text)| (name, serde_json::Value::String(text)))
            .collect();
        return println(&crate::format::table::json_indented(&v.into(), 4));
    }
    let mut out = String::new();
    for (_, text) in &shown {
        out.push_str(text);
        if a.files {
            out.push('\n');
        }
    }
    print(&out)
}
