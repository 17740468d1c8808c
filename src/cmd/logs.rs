//! `logs`: print a container's k8s-file log as podman does; stdout records
//! go to stdout, stderr records to stderr, partial records are joined.

use super::GlobalOpts;
use crate::engine::logs::{self, LogSource, LogWindow};
use crate::engine::types::LogRecord;
use crate::format::human;
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::time::{Duration, SystemTime};

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    #[command(flatten)]
    pub out: LogFlags,
    pub containers: Vec<String>,
}

/// What to print and how: the flags `logs` and `pod logs` share.
#[derive(Args, Debug)]
pub struct LogFlags {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Output the container name in the log
    #[arg(short, long)]
    pub names: bool,
    /// Show logs since TIMESTAMP
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs until TIMESTAMP
    #[arg(long)]
    pub until: Option<String>,
    /// Output the specified number of LINES at the end of the logs (-1: all)
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    /// Output the timestamps in the log
    #[arg(short, long)]
    pub timestamps: bool,
    /// Output the containers with different colors in the log
    #[arg(long)]
    pub color: bool,
}

/// One container being printed, and how to label it.
struct Source {
    prefix: String,
    /// `--color`: the ANSI color of this container's lines, else "".
    color: &'static str,
    log: LogSource,
}

/// podman's colors for `logs --color`, by the container's place in the
/// list: light gray, red, yellow, blue, magenta, cyan, green.
const COLORS: [&str; 7] = [
    "\x1b[37m", "\x1b[31m", "\x1b[33m", "\x1b[34m", "\x1b[35m", "\x1b[36m", "\x1b[32m",
];
const COLOR_RESET: &str = "\x1b[0m";

struct Printer {
    timestamps: bool,
}

impl Printer {
    /// Each line as podman prints it: prefix, time stamp, text; with a
    /// color, all three wrapped in it and a reset.
    fn print(&self, prefix: &str, color: &str, records: &[LogRecord]) -> Result<()> {
        let mut out = Vec::new();
        let mut err = Vec::new();
        for r in records {
            let buf = if r.stream == "stderr" {
                &mut err
            } else {
                &mut out
            };
            buf.extend_from_slice(color.as_bytes());
            buf.extend_from_slice(prefix.as_bytes());
            if self.timestamps {
                // podman prints Go's RFC3339Nano in local time (UTC here).
                let ts = r
                    .when()
                    .map(human::rfc3339_nano)
                    .unwrap_or_else(|| r.time.clone());
                buf.extend_from_slice(ts.as_bytes());
                buf.push(b' ');
            }
            buf.extend_from_slice(&r.text);
            if !color.is_empty() {
                buf.extend_from_slice(COLOR_RESET.as_bytes());
            }
            if !r.partial {
                buf.push(b'\n');
            }
        }
        write_ignoring_pipe(&mut super::output::stdout(), &out)?;
        write_ignoring_pipe(&mut std::io::stderr().lock(), &err)?;
        Ok(())
    }
}

fn write_ignoring_pipe(w: &mut dyn Write, data: &[u8]) -> Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    match w.write_all(data).and_then(|_| w.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub fn logs(g: &GlobalOpts, a: LogsArgs) -> Result<()> {
    let store = g.open_store()?;
    let ids = logs::targets(&store, &a.containers, a.latest)?;
    let now = SystemTime::now();
    let parse = |t: &Option<String>| {
        t.as_deref()
            .map(|s| human::parse_duration_or_time(s, now))
            .transpose()
    };
    let window = LogWindow {
        since: parse(&a.out.since)?,
        until: parse(&a.out.until)?,
    };
    let logs = logs::open(&store, ids, window)?;
    let printer = Printer {
        timestamps: a.out.timestamps,
    };
    let multi = logs.len() > 1;
    let mut sources: Vec<Source> = logs
        .into_iter()
        .enumerate()
        .map(|(i, log)| {
            // podman labels lines when asked, or when several logs interleave.
            let prefix = if a.out.names {
                format!("{} ", log.name)
            } else if multi {
                format!("{} ", &log.id[..12])
            } else {
                String::new()
            };
            let color = if a.out.color {
                COLORS[i % COLORS.len()]
            } else {
                ""
            };
            Source { prefix, color, log }
        })
        .collect();
    // What is already there, cut to --tail.
    for s in &mut sources {
        let records = s.log.read_existing(a.out.tail)?;
        printer.print(&s.prefix, s.color, &records)?;
    }
    if !a.out.follow {
        return Ok(());
    }
    // Follow until every container has stopped and its log is drained.
    // Polling keeps this simple; 50 ms is below what a reader notices.
    loop {
        let mut all_done = true;
        for s in &mut sources {
            if s.log.done() {
                continue;
            }
            let records = s.log.follow(&store)?;
            printer.print(&s.prefix, s.color, &records)?;
            if !s.log.done() {
                all_done = false;
            }
        }
        if all_done {
            return Ok(());
        }
        if window.until.is_some_and(|u| SystemTime::now() > u) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
