//! `quadlet --dryrun [--user]` (what podman's /usr/libexec/podman/quadlet
//! prints) and the systemd generator the binary is when called
//! `coracle-system-generator` or `coracle-user-generator`.

use super::output::{print, unescape};
use crate::engine::quadlet as q;
use crate::error::SilentExit;
use crate::format::table;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct QuadletArgs {
    /// Print the units that would be generated instead of writing them
    #[arg(long)]
    pub dryrun: bool,
    /// Generate units for the user's systemd (the user's directories)
    #[arg(long)]
    pub user: bool,
    #[command(subcommand)]
    pub verb: Option<QuadletVerb>,
}

#[derive(Subcommand, Debug)]
pub enum QuadletVerb {
    /// Install a Quadlet file (or a directory of them) for the current user
    Install(InstallArgs),
    /// List the current user's Quadlets
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Display the contents of a Quadlet
    #[command(visible_alias = "cat")]
    Print(PrintArgs),
    /// Remove installed Quadlets
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// Reload systemd after installing
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true")]
    pub reload_systemd: bool,
    /// Replace files that are already installed
    #[arg(short, long)]
    pub replace: bool,
    /// A Quadlet file or a directory of them, then files they use
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Filter: name=GLOB, status=STATUS, pod=NAME
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format the output with JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print headers
    #[arg(short, long)]
    pub noheading: bool,
}

#[derive(Args, Debug)]
pub struct PrintArgs {
    /// The Quadlet (web.container)
    pub quadlet: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Remove all of the current user's Quadlets
    #[arg(short, long)]
    pub all: bool,
    /// Stop a running unit first
    #[arg(short, long)]
    pub force: bool,
    /// No error for a Quadlet that is not installed
    #[arg(short, long)]
    pub ignore: bool,
    /// Reload systemd after removing
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true")]
    pub reload_systemd: bool,
    pub quadlets: Vec<String>,
}

pub fn quadlet(a: QuadletArgs) -> Result<()> {
    if a.verb.is_some() && (a.dryrun || a.user) {
        bail!("quadlet: --dryrun and --user go without a verb (the verbs act on the calling user's Quadlets)");
    }
    match a.verb {
        Some(QuadletVerb::Install(v)) => return install(v),
        Some(QuadletVerb::List(v)) => return list(v),
        Some(QuadletVerb::Print(v)) => return print_one(v),
        Some(QuadletVerb::Rm(v)) => return rm(v),
        None => {}
    }
    if !a.dryrun {
        anyhow::bail!(
            "quadlet: nothing to do: use --dryrun to print the units the generator writes"
        );
    }
    let out = q::generate(a.user)?;
    print_units(&out);
    finish(&out, "Error: ")
}

/// Print each file's problem on its own line; a failed file fails the run
/// (the others were still generated).
fn finish(out: &q::Outcome, prefix: &str) -> Result<()> {
    for e in &out.errors {
        eprintln!("{prefix}{e}");
    }
    if out.errors.is_empty() {
        Ok(())
    } else {
        Err(SilentExit(125).into())
    }
}

/// The binary called by systemd as a generator: `NAME NORMAL-DIR
/// [EARLY-DIR LATE-DIR]` (units go to the normal directory, as podman's);
/// `--dryrun` prints instead. The name says which generator it is.
pub fn generator(program: &str, args: &[String]) -> i32 {
    let mut user = program.contains("user");
    let mut dryrun = false;
    let mut dirs = Vec::new();
    for a in args {
        match a.as_str() {
            "-dryrun" | "--dryrun" => dryrun = true,
            "-user" | "--user" => user = true,
            // podman's: verbose, and logging to the console instead of kmsg
            "-v" | "--v" | "-no-kmsg-log" | "--no-kmsg-log" => {}
            _ if a.starts_with('-') => {
                eprintln!("{program}: unknown option {a}");
                return 1;
            }
            _ => dirs.push(a.clone()),
        }
    }
    let result = match (dryrun, dirs.first()) {
        (true, _) => q::generate(user).inspect(print_units),
        (false, Some(dir)) => q::run_generator(Path::new(dir), user, program),
        (false, None) => {
            eprintln!("{program}: missing output directory argument");
            return 1;
        }
    };
    let done = result.and_then(|out| finish(&out, &format!("{program}: ")));
    match done {
        Ok(()) => 0,
        Err(e) => {
            if e.downcast_ref::<SilentExit>().is_none() {
                eprintln!("{program}: {e:#}");
            }
            1
        }
    }
}

/// podman's dry-run listing: each unit under a `---NAME---` line.
fn print_units(out: &q::Outcome) {
    for u in &out.units {
        println!("---{}---\n{}", u.filename, u.text);
    }
}

fn install(a: InstallArgs) -> Result<()> {
    let user = q::for_user();
    let written = q::install(user, &a.paths, a.replace)?;
    let out: String = written
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect();
    print(&out)?;
    if a.reload_systemd {
        q::reload_systemd(user)?;
    }
    Ok(())
}

/// `name=GLOB` (`*` and `?`), `status=`, `pod=` as podman's quadlet list.
fn matches(filter: &str, item: &q::Installed) -> Result<bool> {
    let (k, v) = filter
        .split_once('=')
        .with_context(|| format!("invalid filter {filter:?}: use KEY=VALUE"))?;
    Ok(match k {
        "name" => glob(v, &item.name),
        "status" => item.status == v,
        "pod" => item.pod == v || item.pod.trim_end_matches(".pod") == v,
        other => bail!("{other:?} is an invalid filter: use name, status or pod"),
    })
}

fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    go(&p, &s)
}

fn list(a: ListArgs) -> Result<()> {
    let mut items = q::list(q::for_user())?;
    for f in &a.filter {
        let mut kept = Vec::new();
        for i in items {
            if matches(f, &i)? {
                kept.push(i);
            }
        }
        items = kept;
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "Name": i.name,
                "UnitName": i.unit,
                "Path": i.path.to_string_lossy(),
                "Status": i.status,
                "App": "",
                "Pod": i.pod,
            })
        })
        .collect();
    if a.format.as_deref().map(str::trim) == Some("json") {
        return print(&format!(
            "{}\n",
            table::json_indented(&Value::Array(rows), 4)
        ));
    }
    let format = a.format.as_deref().map(unescape);
    let headers = table::HeaderMap::new(&[
        ("UnitName", "UNIT NAME"),
        ("Path", "PATH ON DISK"),
        ("App", "APPLICATION"),
    ]);
    let out = table::render_rows(
        format.as_deref(),
        "table {{.Name}}\t{{.UnitName}}\t{{.Path}}\t{{.Status}}\t{{.App}}\t{{.Pod}}",
        &headers,
        &rows,
        a.noheading,
    )?;
    print(&out)
}

fn print_one(a: PrintArgs) -> Result<()> {
    let Some(path) = q::find(q::for_user(), &a.quadlet) else {
        bail!("quadlet {:?} not found", a.quadlet);
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    print(&text)
}

fn rm(a: RmArgs) -> Result<()> {
    if a.all != a.quadlets.is_empty() {
        bail!("quadlet rm: give Quadlet names or --all, not both or neither");
    }
    let user = q::for_user();
    let removed = q::remove(user, &a.quadlets, a.all, a.force, a.ignore)?;
    let out: String = removed.iter().map(|n| format!("{n}\n")).collect();
    print(&out)?;
    if a.reload_systemd && !removed.is_empty() {
        q::reload_systemd(user)?;
    }
    Ok(())
}
