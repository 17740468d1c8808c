//! `logs`: print a container's k8s-file log as podman does; stdout records
//! go to stdout, stderr records to stderr, partial records are joined.

use super::GlobalOpts;
use crate::engine::containers::latest_id;
use crate::engine::lookup::container_id;
use crate::format::human;
use crate::runtime::logfile::{self, LogFollower, LogRecord};
use crate::runtime::state::{current_state, is_running};
use anyhow::{bail, Result};
use clap::Args;
use std::io::Write;
use std::time::{Duration, SystemTime};

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
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
    /// Show container names and ids as colored prefixes (accepted)
    #[arg(long)]
    pub color: bool,
    pub containers: Vec<String>,
}

/// One container being printed: where its log is and how to label it.
struct Source {
    id: String,
    prefix: String,
    follower: LogFollower,
    done: bool,
}

struct Printer {
    timestamps: bool,
    since: Option<SystemTime>,
    until: Option<SystemTime>,
}

impl Printer {
    fn print(&self, prefix: &str, records: &[LogRecord]) -> Result<()> {
        let mut out = Vec::new();
        let mut err = Vec::new();
        for r in records {
            if self.since.is_some() || self.until.is_some() {
                let Some(t) = r.when() else { continue };
                if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
                    continue;
                }
            }
            let buf = if r.stream == "stderr" {
                &mut err
            } else {
                &mut out
            };
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
            if !r.partial {
                buf.push(b'\n');
            }
        }
        write_ignoring_pipe(&mut std::io::stdout().lock(), &out)?;
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
    let ids: Vec<String> = if a.latest {
        if !a.containers.is_empty() {
            bail!("--latest and containers cannot be used together");
        }
        vec![latest_id(&store)?]
    } else {
        if a.containers.is_empty() {
            bail!("specify at least one container name or ID to log");
        }
        a.containers
            .iter()
            .map(|c| container_id(&store, c))
            .collect::<Result<_>>()?
    };
    let now = SystemTime::now();
    let printer = Printer {
        timestamps: a.timestamps,
        since: a
            .since
            .as_deref()
            .map(|s| human::parse_duration_or_time(s, now))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|s| human::parse_duration_or_time(s, now))
            .transpose()?,
    };
    let multi = ids.len() > 1;
    let mut sources = Vec::new();
    for id in ids {
        let cfg = store.containers.load_config(&id)?;
        // podman labels lines when asked, or when several logs interleave.
        let prefix = if a.names {
            format!("{} ", cfg.name)
        } else if multi {
            format!("{} ", &id[..12])
        } else {
            String::new()
        };
        let path = store.containers.dir(&id).join("userdata").join("ctr.log");
        sources.push(Source {
            id,
            prefix,
            follower: LogFollower::new(&path),
            done: false,
        });
    }
    // What is already there, cut to --tail.
    for s in &mut sources {
        let mut records = s.follower.read_new()?;
        if a.tail >= 0 {
            records = logfile::tail(records, a.tail as usize);
        }
        printer.print(&s.prefix, &records)?;
    }
    if !a.follow {
        return Ok(());
    }
    // Follow until every container has stopped and its log is drained.
    // Polling keeps this simple; 50 ms is below what a reader notices.
    loop {
        let mut all_done = true;
        for s in &mut sources {
            if s.done {
                continue;
            }
            // Check the state before reading, so the last read after the
            // container stopped sees everything it wrote.
            let stopped = match current_state(&store, &s.id) {
                Ok(st) => !is_running(&st),
                Err(_) => true,
            } || !store.containers.dir(&s.id).exists();
            let records = s.follower.read_new()?;
            printer.print(&s.prefix, &records)?;
            if stopped {
                s.done = true;
            } else {
                all_done = false;
            }
        }
        if all_done {
            return Ok(());
        }
        if a.until.is_some() && printer.until.is_some_and(|u| SystemTime::now() > u) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
