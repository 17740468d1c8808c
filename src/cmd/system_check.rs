//! `system check`: podman 5.2's flags, report and exit codes.

use super::output::print;
use super::GlobalOpts;
use crate::engine::check::{check, CheckOptions, CheckReport};
use anyhow::{bail, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Remove inconsistent images and containers, also containers of damaged images
    #[arg(short, long)]
    pub force: bool,
    /// Maximum allowed age of layers no image or container uses: older ones are the remains of a pull or build cut short, and damaged (a Go duration, e.g. 1h30m)
    #[arg(short, long, value_name = "DURATION", value_parser = go_duration, allow_hyphen_values = true)]
    pub max: Option<Duration>,
    /// Skip time-consuming checks
    #[arg(short, long)]
    pub quick: bool,
    /// Remove inconsistent images
    #[arg(short, long)]
    pub repair: bool,
}

/// `--max`: Go's duration syntax (a negative one: every such layer).
fn go_duration(s: &str) -> Result<Duration, String> {
    crate::format::human::parse_go_duration(s)
        .map(|(neg, d)| if neg { Duration::ZERO } else { d })
        .map_err(|e| e.to_string())
}

pub fn system_check(g: &GlobalOpts, a: CheckArgs) -> Result<()> {
    let store = g.open_store()?;
    let opts = CheckOptions {
        quick: a.quick,
        repair: a.repair,
        force: a.force,
        unreferenced_max_age: a.max,
    };
    let report = check(&store, opts)?;
    print(&render(&report))?;
    if !(a.repair || a.force) {
        if report.found.damaged() {
            bail!("damage detected in local storage");
        }
        return Ok(());
    }
    let again = check(
        &store,
        CheckOptions {
            quick: a.quick,
            unreferenced_max_age: a.max,
            ..Default::default()
        },
    )?;
    if again.found.damaged() {
        bail!("damage in local storage still present after repair attempt");
    }
    Ok(())
}

/// podman's lines: each damaged thing with its errors as a multierror
/// list, then what was deleted.
fn render(r: &CheckReport) -> String {
    let mut out = String::new();
    let group = |out: &mut String, what: &str, p: &BTreeMap<String, Vec<String>>| {
        for (id, errs) in p {
            let head = if errs.len() == 1 {
                "1 error occurred:".to_string()
            } else {
                format!("{} errors occurred:", errs.len())
            };
            let list: Vec<String> = errs.iter().map(|e| format!("* {e}")).collect();
            out.push_str(&format!(
                "Damaged {what} {id}:\n{head}\n\t{}\n\n",
                list.join("\n\t")
            ));
        }
    };
    let deleted = |out: &mut String, what: &str, ids: &[String]| {
        for id in ids {
            out.push_str(&format!("Deleted damaged {what}: {id}\n"));
        }
    };
    group(&mut out, "layer", &r.found.layers);
    deleted(&mut out, "layer", &r.removed_layers);
    group(&mut out, "image", &r.found.images);
    deleted(&mut out, "image", &r.removed_images);
    group(&mut out, "container", &r.found.containers);
    deleted(&mut out, "container", &r.removed_containers);
    group(&mut out, "volume", &r.found.volumes);
    for v in &r.rebuilt_volumes {
        out.push_str(&format!("Rebuilt damaged volume: {v}\n"));
    }
    group(&mut out, "index", &r.found.indexes);
    for i in &r.rebuilt_indexes {
        out.push_str(&format!("Rebuilt damaged index: {i}\n"));
    }
    group(&mut out, "blob", &r.found.blobs);
    deleted(&mut out, "blob", &r.removed_blobs);
    out
}
