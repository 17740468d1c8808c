//! `stats`: what running containers use, with podman's columns, `--format`
//! (json and templates) and a refreshing stream unless `--no-stream`.

use super::output::{print, unescape};
use super::GlobalOpts;
use crate::engine::containers::Listed;
use crate::engine::stats::container_stats;
use crate::engine::types::Usage;
use crate::format::gofmt::fmt_float_g;
use crate::format::table;
use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers. Only running containers are shown by default
    #[arg(short, long)]
    pub all: bool,
    /// Pretty-print container statistics to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Time in seconds between stats reports
    #[arg(short, long, default_value_t = 5)]
    pub interval: u64,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Disable resetting the screen between intervals
    #[arg(long)]
    pub no_reset: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    pub containers: Vec<String>,
}

/// go-units HumanSize: four significant digits, decimal units, no space.
pub(super) fn size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", fmt_float_g(v, Some(4)), UNITS[i])
}

/// go-units BytesSize: binary units (`244KiB`).
pub(super) fn bytes_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", fmt_float_g(v, Some(4)), UNITS[i])
}

/// Go's `time.Duration.String()`.
fn go_duration(ns: u64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let frac = |v: u64, digits: u32| -> String {
        let unit = 10u64.pow(digits);
        let (whole, rest) = (v / unit, v % unit);
        if rest == 0 {
            return whole.to_string();
        }
        let r = format!("{rest:0width$}", width = digits as usize);
        format!("{whole}.{}", r.trim_end_matches('0'))
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 6));
    }
    let secs = ns / 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&frac(s * 1_000_000_000 + ns % 1_000_000_000, 9));
    out.push('s');
    out
}

pub(super) fn percent(x: f64) -> String {
    format!("{x:.2}%")
}

/// One container's numbers, and the podman fields made of them.
fn row(l: &Listed, u: &Usage, cpu_percent: f64, avg: f64, no_trunc: bool) -> Value {
    let id = if no_trunc {
        l.cfg.id.clone()
    } else {
        l.cfg.id[..12].to_string()
    };
    let mem_percent = if u.mem_limit > 0 {
        u.mem_usage as f64 / u.mem_limit as f64 * 100.0
    } else {
        0.0
    };
    json!({
        "ID": id,
        "ContainerID": l.cfg.id,
        "Name": l.cfg.name,
        "CPUPerc": percent(cpu_percent),
        "AVGCPU": percent(avg),
        "UpTime": go_duration(u.cpu_ns),
        "MemUsage": format!("{} / {}", size(u.mem_usage), size(u.mem_limit)),
        "MemUsageBytes": format!("{} / {}", bytes_size(u.mem_usage), bytes_size(u.mem_limit)),
        "MemPerc": percent(mem_percent),
        "NetIO": format!("{} / {}", size(u.net_rx), size(u.net_tx)),
        "BlockIO": format!("{} / {}", size(u.blk_read), size(u.blk_write)),
        "PIDS": u.pids.to_string(),
        "CPU": cpu_percent,
        "CPUNano": u.cpu_ns,
        "MemLimit": u.mem_limit,
        "PIDs": u.pids,
        "NetInput": u.net_rx,
        "NetOutput": u.net_tx,
        "BlockInput": u.blk_read,
        "BlockOutput": u.blk_write,
    })
}

/// podman's `stats --format json` object.
fn json_row(r: &Value) -> Value {
    json!({
        "id": r["ID"], "name": r["Name"], "cpu_time": r["UpTime"],
        "cpu_percent": r["CPUPerc"], "avg_cpu": r["AVGCPU"], "mem_usage": r["MemUsage"],
        "mem_percent": r["MemPerc"], "net_io": r["NetIO"], "block_io": r["BlockIO"],
        "pids": r["PIDS"],
    })
}

fn headers() -> table::HeaderMap {
    table::HeaderMap::new(&[
        ("ID", "ID"),
        ("Name", "NAME"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemUsageBytes", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET IO"),
        ("BlockIO", "BLOCK IO"),
        ("PIDS", "PIDS"),
        ("UpTime", "CPU TIME"),
        ("AVGCPU", "AVG CPU %"),
    ])
}

const DEFAULT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}\t{{.UpTime}}\t{{.AVGCPU}}";

/// JSON as podman prints it here (one-space indent).
fn json_one_space(v: &Value) -> Result<String> {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)?;
    Ok(String::from_utf8_lossy(&buf).into_owned() + "\n")
}

pub fn stats(g: &GlobalOpts, a: StatsArgs) -> Result<()> {
    if a.interval == 0 {
        bail!("invalid interval, must be a positive number greater zero");
    }
    let store = g.open_store()?;
    let mut sampler = container_stats(&store, &a.containers, a.latest, a.all)?;
    let format = a.format.as_deref().map(unescape);
    let mut first = true;
    loop {
        let rows: Vec<Value> = sampler
            .sample(&store)?
            .into_iter()
            .map(|s| {
                let m = s.measured.unwrap_or_default();
                row(&s.container, &m.usage, m.cpu, m.avg, a.no_trunc)
            })
            .collect();
        let text = match table::FormatSpec::parse(format.as_deref(), DEFAULT) {
            table::FormatSpec::Json => {
                json_one_space(&Value::Array(rows.iter().map(json_row).collect()))?
            }
            _ => table::render_rows(format.as_deref(), DEFAULT, &headers(), &rows, false)?,
        };
        show_frame(&text, !a.no_stream && !a.no_reset && !first)?;
        first = false;
        if a.no_stream {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(a.interval));
    }
}

/// Print one frame of a live table; a redraw on a terminal clears it
/// first, as podman does.
pub fn show_frame(text: &str, redraw: bool) -> Result<()> {
    if redraw && super::output::stdout_is_terminal() {
        print("\x1b[2J\x1b[H")?;
    }
    print(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_formats() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1_551_886_763), "1.551886763s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(120_000_000_000), "2m0s");
        assert_eq!(go_duration(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(size(249_856), "249.9kB");
        assert_eq!(size(67_108_864), "67.11MB");
        assert_eq!(size(0), "0B");
        assert_eq!(bytes_size(67_108_864), "64MiB");
    }
}
