//! A container's log as a reader sees it: which containers a request
//! names, the records already written (cut to a tail and a time window),
//! then the new ones until the container stops. Printing them is the
//! caller's.

use super::containers::latest_id;
use super::lookup::container_id;
use super::types::LogRecord;
use crate::runtime::logfile::{self, LogFollower};
use crate::runtime::state::{current_state, is_running};
use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::time::SystemTime;

/// Which records a reader wants by time; a record without a readable time
/// is left out when either bound is set.
#[derive(Clone, Copy, Default)]
pub struct LogWindow {
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
}

impl LogWindow {
    fn keeps(&self, r: &LogRecord) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(t) = r.when() else { return false };
        !(self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u))
    }

    fn select(&self, records: Vec<LogRecord>) -> Vec<LogRecord> {
        records.into_iter().filter(|r| self.keeps(r)).collect()
    }
}

/// One container's log being read.
pub struct LogSource {
    pub id: String,
    pub name: String,
    follower: LogFollower,
    window: LogWindow,
    done: bool,
}

/// The containers `names` (or the latest one) mean, in order.
pub fn targets(store: &Store, names: &[String], latest: bool) -> Result<Vec<String>> {
    Ok(if latest {
        if !names.is_empty() {
            bail!("--latest and containers cannot be used together");
        }
        vec![latest_id(store)?]
    } else {
        if names.is_empty() {
            bail!("specify at least one container name or ID to log");
        }
        names
            .iter()
            .map(|c| container_id(store, c))
            .collect::<Result<_>>()?
    })
}

/// The logs of containers `ids`, opened at their start.
pub fn open(store: &Store, ids: Vec<String>, window: LogWindow) -> Result<Vec<LogSource>> {
    let mut sources = Vec::new();
    for id in ids {
        let cfg = store.containers.load_config(&id)?;
        if cfg.tuning.log_driver == "none" {
            bail!("this container is using the 'none' log driver, cannot read logs: this container is not logging output");
        }
        let path = crate::runtime::monitor::log_file(store, &cfg);
        sources.push(LogSource {
            id,
            name: cfg.name,
            follower: LogFollower::new(&path),
            window,
            done: false,
        });
    }
    Ok(sources)
}

impl LogSource {
    /// What is already there, cut to the last `tail` records (negative:
    /// all), then to the window.
    pub fn read_existing(&mut self, tail: i64) -> Result<Vec<LogRecord>> {
        let mut records = self.follower.read_new()?;
        if tail >= 0 {
            records = logfile::tail(records, tail as usize);
        }
        Ok(self.window.select(records))
    }

    /// The records written since the last read; once the container has
    /// stopped (or is gone) this last read drains the log and the source
    /// is done.
    pub fn follow(&mut self, store: &Store) -> Result<Vec<LogRecord>> {
        // Check the state before reading, so the last read after the
        // container stopped sees everything it wrote.
        let stopped = match current_state(store, &self.id) {
            Ok(st) => !is_running(&st),
            Err(_) => true,
        } || !store.containers.dir(&self.id).exists();
        let records = self.follower.read_new()?;
        if stopped {
            self.done = true;
        }
        Ok(self.window.select(records))
    }

    /// The container stopped and its log is drained.
    pub fn done(&self) -> bool {
        self.done
    }
}

/// A container's log read live by an attached client (the API's attach):
/// the file is opened (made when missing, as the monitor makes it:
/// create, append) before the container starts, so what it writes from
/// its first line is read even when `--rm` removes the file meanwhile.
pub struct LiveLog {
    file: std::fs::File,
    pending: Vec<u8>,
}

/// Open container `id`'s log for [`LiveLog`]; `from_start`: every record
/// already there too, else only what comes next.
pub fn open_live(store: &Store, id: &str, from_start: bool) -> Result<LiveLog> {
    use std::io::{Seek, SeekFrom};
    let cfg = store.containers.load_config(id)?;
    if cfg.tuning.log_driver == "none" {
        bail!("this container is using the 'none' log driver, cannot read logs: this container is not logging output");
    }
    let path = crate::runtime::monitor::log_file(store, &cfg);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("opening log {}: {e}", path.display()))?;
    if !from_start {
        file.seek(SeekFrom::End(0))?;
    }
    Ok(LiveLog {
        file,
        pending: Vec::new(),
    })
}

impl LiveLog {
    /// The whole records written since the last read.
    pub fn read_new(&mut self) -> Result<Vec<LogRecord>> {
        use std::io::Read;
        let mut data = std::mem::take(&mut self.pending);
        self.file.read_to_end(&mut data)?;
        let complete = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.pending = data.split_off(complete);
        Ok(data
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(logfile::parse_line)
            .collect())
    }
}
