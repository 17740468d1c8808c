//! `compose logs` and attached `up`: the services' logs interleaved, each
//! line prefixed with its container's name (`app-web-1  | `), coloured
//! per service on a terminal.

use crate::engine::logs::{self, LogSource, LogWindow};
use crate::engine::types::{LogRecord, Store};
use crate::format::human;
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

/// How to print.
pub struct Style {
    pub prefix: bool,
    pub color: bool,
    pub timestamps: bool,
}

const COLORS: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

struct Source {
    prefix: String,
    log: LogSource,
    exited_said: bool,
}

pub struct Printer {
    sources: Vec<Source>,
    timestamps: bool,
}

impl Printer {
    /// The logs of containers `ids` (with their service names), opened.
    pub fn open(store: &Store, ids: Vec<(String, String)>, style: &Style) -> Result<Printer> {
        let services: Vec<String> = ids.iter().map(|(_, s)| s.clone()).collect();
        let opened = logs::open(
            store,
            ids.into_iter().map(|(id, _)| id).collect(),
            LogWindow::default(),
        )?;
        let width = opened.iter().map(|l| l.name.len()).max().unwrap_or(0);
        let mut distinct: Vec<&String> = services.iter().collect();
        distinct.dedup();
        let sources = opened
            .into_iter()
            .zip(services.iter())
            .map(|(log, svc)| {
                let prefix = match (style.prefix, style.color) {
                    (false, _) => String::new(),
                    (true, false) => format!("{:width$}  | ", log.name),
                    (true, true) => {
                        let i = distinct.iter().position(|s| *s == svc).unwrap_or(0);
                        format!(
                            "\x1b[{}m{:width$}  |\x1b[0m ",
                            COLORS[i % COLORS.len()],
                            log.name
                        )
                    }
                };
                Source {
                    prefix,
                    log,
                    exited_said: false,
                }
            })
            .collect();
        Ok(Printer {
            sources,
            timestamps: style.timestamps,
        })
    }

    fn print(&self, prefix: &str, records: &[LogRecord]) -> Result<()> {
        let mut buf = Vec::new();
        for r in records {
            buf.extend_from_slice(prefix.as_bytes());
            if self.timestamps {
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
        if buf.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(&buf).and_then(|_| out.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// What is there, cut to the last `tail` lines of each (negative: all).
    pub fn existing(&mut self, tail: i64) -> Result<()> {
        for i in 0..self.sources.len() {
            let records = self.sources[i].log.read_existing(tail)?;
            self.print(&self.sources[i].prefix, &records)?;
        }
        Ok(())
    }

    /// One round of following; true once every container stopped and its
    /// log is drained. `exited` says which container ended, with its code.
    pub fn follow_once(
        &mut self,
        store: &Store,
        exited: &dyn Fn(&str) -> Option<String>,
    ) -> Result<bool> {
        let mut all_done = true;
        for i in 0..self.sources.len() {
            if self.sources[i].log.done() {
                continue;
            }
            let records = self.sources[i].log.follow(store)?;
            self.print(&self.sources[i].prefix, &records)?;
            if self.sources[i].log.done() {
                let s = &mut self.sources[i];
                if !s.exited_said {
                    s.exited_said = true;
                    if let Some(line) = exited(&s.log.id) {
                        super::output::println(&line)?;
                    }
                }
            } else {
                all_done = false;
            }
        }
        Ok(all_done)
    }
}

/// Poll interval of following: below what a reader notices.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(50);
