//! `pod top` and `pod stats`: what a pod's containers run and use, with
//! podman's layout; the per-container work is `top`'s and `stats`'s.

use super::output::{print, unescape};
use super::stats::{bytes_size, percent, show_frame, size};
use super::GlobalOpts;
use crate::engine::stats::{pod_stats as sample_pods, PodSample};
use crate::format::table;
use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct PodTopArgs {
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// POD, then format descriptors (pid user args...)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "POD [DESCRIPTORS...]"
    )]
    pub args: Vec<String>,
}

/// The processes of every running container of the pod, infra first, under
/// one header.
pub fn pod_top(g: &GlobalOpts, a: PodTopArgs) -> Result<()> {
    let store = g.open_store()?;
    let rows = crate::engine::top::pod_top(&store, a.latest, &a.args)?;
    print(&super::top::columns(&rows))
}

#[derive(Args, Debug)]
pub struct PodStatsArgs {
    /// Provide stats for all pods (the default: running ones)
    #[arg(short, long)]
    pub all: bool,
    /// Pretty-print pod statistics to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Disable resetting the screen between intervals
    #[arg(long)]
    pub no_reset: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    pub pods: Vec<String>,
}

const DEFAULT: &str = "table {{.Pod}}\t{{.CID}}\t{{.Name}}\t{{.CPU}}\t{{.MemUsage}}\t{{.Mem}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}";

fn headers() -> table::HeaderMap {
    table::HeaderMap::new(&[
        ("Pod", "POD"),
        ("CID", "CID"),
        ("Name", "NAME"),
        ("CPU", "CPU %"),
        ("MemUsage", "MEM USAGE/ LIMIT"),
        ("MemUsageBytes", "MEM USAGE/ LIMIT"),
        ("Mem", "MEM %"),
        ("NetIO", "NET IO"),
        ("BlockIO", "BLOCK IO"),
        ("PIDS", "PIDS"),
    ])
}

/// podman's pod stats row; a container that is not running shows `--`.
fn row(s: &PodSample) -> Value {
    let l = &s.container;
    let (cpu, mem_usage, mem_bytes, mem, net, block, pids) = match &s.measured {
        Some(m) => {
            let u = &m.usage;
            let mem_percent = if u.mem_limit > 0 {
                u.mem_usage as f64 / u.mem_limit as f64 * 100.0
            } else {
                0.0
            };
            (
                percent(m.cpu),
                format!("{} / {}", size(u.mem_usage), size(u.mem_limit)),
                format!("{} / {}", bytes_size(u.mem_usage), bytes_size(u.mem_limit)),
                percent(mem_percent),
                format!("{} / {}", size(u.net_rx), size(u.net_tx)),
                format!("{} / {}", size(u.blk_read), size(u.blk_write)),
                u.pids.to_string(),
            )
        }
        None => {
            let dash = || "--".to_string();
            let pair = || "-- / --".to_string();
            (dash(), pair(), pair(), dash(), pair(), pair(), dash())
        }
    };
    json!({
        "CPU": cpu,
        "MemUsage": mem_usage,
        "MemUsageBytes": mem_bytes,
        "Mem": mem,
        "NetIO": net,
        "BlockIO": block,
        "PIDS": pids,
        "Pod": s.pod_id[..12],
        "CID": l.cfg.id[..12],
        "Name": l.cfg.name,
    })
}

pub fn pod_stats(g: &GlobalOpts, a: PodStatsArgs) -> Result<()> {
    let store = g.open_store()?;
    let mut sampler = sample_pods(&store, &a.pods, a.latest, a.all)?;
    let format = a.format.as_deref().map(unescape);
    let mut first = true;
    loop {
        let rows: Vec<Value> = sampler.sample(&store)?.iter().map(row).collect();
        let text = match table::FormatSpec::parse(format.as_deref(), DEFAULT) {
            table::FormatSpec::Json => table::json_inspect(&Value::Array(rows)) + "\n",
            _ => table::render_rows(format.as_deref(), DEFAULT, &headers(), &rows, false)?,
        };
        show_frame(&text, !a.no_stream && !a.no_reset && !first)?;
        first = false;
        if a.no_stream {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(5));
    }
}
