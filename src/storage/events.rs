//! The event journal: every verb appends what it did (container create,
//! start, died, remove; image pull, tag, rmi; volume and pod changes), and
//! `coracle events` reads it back or follows it.
//!
//! One JSON object a line, with podman's keys, in `<graph root>/events/
//! events.log`. The graph root, not the runroot (podman's choice, a tmpfs):
//! `events --since 1h` should still answer after a reboot.
//!
//! Appending is one `open(O_APPEND)` and one `write` of the whole line, no
//! fsync and no lock: the kernel serializes appends to a regular file, so
//! lines of concurrent processes never interleave. An event that cannot be
//! written costs at most a debug line; it never fails the verb.
//!
//! Bounded: when the file passes [`ROTATE_AT`] (1 MiB, podman's file
//! logger default, some 4000 events) it becomes `events.log.1`, replacing
//! the previous generation; readers read `.1` then the live file. So the
//! journal stays under about 2 MiB and always keeps the newest 1 MiB.

use super::containers::ContainerConfig;
use super::store::Store;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use super::event_backend::{Backend, JOURNAL_SOCKET};

/// The live file rotates once it grows past this many bytes.
pub const ROTATE_AT: u64 = 1024 * 1024;

/// One event, serialized exactly as podman's `events --format json` (and
/// its own file journal): Go's `omitempty` keys left out when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "ContainerExitCode", default, skip_serializing_if = "is_zero")]
    pub exit_code: i32,
    #[serde(rename = "ID", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "Image", default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "Network", default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    #[serde(rename = "Status")]
    pub status: String,
    /// RFC 3339 with nanoseconds, UTC.
    #[serde(rename = "Time")]
    pub time: String,
    /// container, image, volume, pod, network or system.
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "PodID", default, skip_serializing_if = "String::is_empty")]
    pub pod_id: String,
    /// healthy, unhealthy or starting, on `health_status` events.
    #[serde(
        rename = "HealthStatus",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub health_status: String,
    /// The result as JSON, on `health_status` events of a container whose
    /// `--health-log-destination` is `events_logger`.
    #[serde(
        rename = "HealthLog",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub health_log: String,
    /// Labels of the container (podman: `{}` for containers, null otherwise).
    #[serde(rename = "Attributes", default)]
    pub attributes: Option<BTreeMap<String, String>>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

impl Event {
    /// An event of `typ` ("container", "image", ...) happening now.
    pub fn new(typ: &str, status: &str) -> Event {
        Event {
            typ: typ.to_string(),
            status: status.to_string(),
            time: crate::format::human::now_rfc3339(),
            ..Event::default()
        }
    }

    /// A container event (`create`, `init`, `start`, `attach`, `died`,
    /// `stop`, `kill`, `pause`, `unpause`, `remove`, `rename`, `restart`,
    /// `exec`, `cleanup`...): id, name, image and labels of `cfg`.
    pub fn container(status: &str, cfg: &ContainerConfig) -> Event {
        Event {
            id: cfg.id.clone(),
            name: cfg.name.clone(),
            image: cfg.image_name.clone(),
            attributes: Some(cfg.labels.clone()),
            ..Event::new("container", status)
        }
    }

    /// An image event (`pull`, `push`, `tag`, `untag`, `remove`, `save`,
    /// `load`, `build`, `import`, `prune`...). podman names the image by
    /// the reference the user gave; `id` may be empty (as for `pull`).
    pub fn image(status: &str, id: &str, name: &str) -> Event {
        Event {
            id: id.to_string(),
            name: name.to_string(),
            ..Event::new("image", status)
        }
    }

    /// A volume event (`create`, `remove`, `prune`, `mount`, `unmount`).
    pub fn volume(status: &str, name: &str) -> Event {
        Event {
            name: name.to_string(),
            ..Event::new("volume", status)
        }
    }

    /// A pod event (`create`, `start`, `stop`, `kill`, `pause`,
    /// `unpause`, `remove`).
    pub fn pod(status: &str, id: &str, name: &str) -> Event {
        Event {
            id: id.to_string(),
            name: name.to_string(),
            ..Event::new("pod", status)
        }
    }

    /// The exit code of a `died` event.
    pub fn with_exit_code(mut self, code: i32) -> Event {
        self.exit_code = code;
        self
    }

    /// One more attribute (podman adds e.g. `signal` to `kill`).
    pub fn with_attribute(mut self, key: &str, value: &str) -> Event {
        self.attributes
            .get_or_insert_with(BTreeMap::new)
            .insert(key.to_string(), value.to_string());
        self
    }

    pub fn timestamp(&self) -> Option<SystemTime> {
        crate::format::human::parse_rfc3339(&self.time).ok()
    }
}

/// The live journal file of the store.
pub fn journal_path(store: &Store) -> PathBuf {
    journal_in(&store.root)
}

fn journal_in(root: &Path) -> PathBuf {
    root.join("events").join("events.log")
}

fn previous_generation(live: &Path) -> PathBuf {
    live.with_extension("log.1")
}

/// Record `event` in the store's journal. Never fails: a journal that
/// cannot be written must not fail the verb that did the work.
pub fn append(store: &Store, event: Event) {
    let written = match store.events_backend {
        Backend::File => append_to(&journal_path(store), &event, ROTATE_AT),
        Backend::Journald => to_journald(&event),
        Backend::None => Ok(()),
    };
    if let Err(e) = written {
        crate::debug!("writing the {} {} event: {e:#}", event.typ, event.status);
    }
}

fn append_to(live: &Path, event: &Event, limit: u64) -> Result<()> {
    let mut line = serde_json::to_vec(event)?;
    line.push(b'\n');
    let open = || {
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(live)
    };
    let mut file = match open() {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(live.parent().expect("journal has a parent"))?;
            open()?
        }
        Err(e) => return Err(e.into()),
    };
    // One write of the whole line: appends to a regular file do not mix.
    file.write_all(&line)?;
    if file.metadata()?.len() > limit {
        rotate(live, limit)?;
    }
    Ok(())
}

/// One native journal message: podman's fields (`PODMAN_EVENT`,
/// `PODMAN_TYPE`, `PODMAN_ID`, `PODMAN_NAME`, `PODMAN_IMAGE`) under
/// coracle's identifier, and the whole event as JSON in `CORACLE_EVENT`.
fn to_journald(event: &Event) -> Result<()> {
    let json = serde_json::to_string(event)?;
    let mut msg = String::new();
    for (k, v) in [
        (
            "MESSAGE",
            format!("{} {} {}", event.typ, event.status, event.name),
        ),
        ("SYSLOG_IDENTIFIER", "coracle".to_string()),
        ("PODMAN_EVENT", event.status.clone()),
        ("PODMAN_TYPE", event.typ.clone()),
        ("PODMAN_ID", event.id.clone()),
        ("PODMAN_NAME", event.name.clone()),
        ("PODMAN_IMAGE", event.image.clone()),
        ("CORACLE_EVENT", json),
    ] {
        if !v.is_empty() {
            // Values are one line each (the JSON has its newlines escaped).
            msg.push_str(&format!("{k}={}\n", v.replace('\n', " ")));
        }
    }
    let sock = std::os::unix::net::UnixDatagram::unbound()?;
    sock.send_to(msg.as_bytes(), JOURNAL_SOCKET)
        .with_context(|| format!("sending to {JOURNAL_SOCKET}"))?;
    Ok(())
}

/// Move the live file to the previous generation. Under a lock, and only
/// if the live file is still the big one: two writers that both saw it
/// pass the limit must not rotate twice (which would drop a generation).
fn rotate(live: &Path, limit: u64) -> Result<()> {
    let _lock = super::lock::FileLock::exclusive(&live.with_extension("lock"))?;
    match std::fs::metadata(live) {
        Ok(m) if m.len() > limit => {}
        _ => return Ok(()),
    }
    std::fs::rename(live, previous_generation(live))
        .with_context(|| format!("rotating {}", live.display()))
}

/// The annotation the builder marks its RUN containers with (its
/// `BUILD_ANNOTATION`): they are not the user's, and podman reports no
/// container events for them either.
const BUILD_CONTAINER: &str = "io.coracle.build.pid";

/// Record a container event for `cfg` (none for build containers).
pub fn container(store: &Store, status: &str, cfg: &ContainerConfig) {
    if !cfg.annotations.contains_key(BUILD_CONTAINER) {
        append(store, Event::container(status, cfg));
    }
}

/// Record that `cfg`'s container died with `code`.
/// A healthcheck ran: podman's `health_status` event.
/// `log`: the result itself, for `--health-log-destination=events_logger`.
pub fn health_status(
    store: &Store,
    cfg: &ContainerConfig,
    status: &str,
    log: Option<&super::health::HealthLogEntry>,
) {
    let mut e = Event::container("health_status", cfg);
    e.health_status = status.to_string();
    if let Some(entry) = log {
        e.health_log = serde_json::to_string(entry).unwrap_or_default();
    }
    append(store, e);
}

pub fn container_died(store: &Store, cfg: &ContainerConfig, code: i32) {
    if !cfg.annotations.contains_key(BUILD_CONTAINER) {
        append(store, Event::container("died", cfg).with_exit_code(code));
    }
}

#[cfg(test)]
fn read_all_in(live: &Path) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    for path in [previous_generation(live), live.to_path_buf()] {
        match std::fs::read(&path) {
            Ok(bytes) => out.extend(parse_lines(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    Ok(out)
}

/// Complete lines that parse; a torn or foreign line is skipped.
fn parse_lines(bytes: &[u8]) -> impl Iterator<Item = Event> + '_ {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
}

/// Follows the live journal as `tail -F` does: new complete lines as they
/// are appended, across rotations.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    pending: Vec<u8>,
}

impl Follower {
    /// Start at the current end of the journal: only later events.
    pub fn from_end(store: &Store) -> Follower {
        let path = journal_path(store);
        let file = File::open(&path).ok().and_then(|mut f| {
            f.seek(SeekFrom::End(0)).ok()?;
            Some(f)
        });
        Follower {
            path,
            file,
            pending: Vec::new(),
        }
    }

    /// Start at the beginning of the journal: returns the follower, which
    /// reads the live file from its start, and the previous generation's
    /// events, which come before.
    pub fn from_start(store: &Store) -> (Follower, Vec<Event>) {
        Self::from_start_in(&journal_path(store))
    }

    fn from_start_in(live: &Path) -> (Follower, Vec<Event>) {
        // Open the live file first: if it rotates before we read the old
        // generation, that generation is our file, read once through it.
        let file = File::open(live).ok();
        let older_path = previous_generation(live);
        let same = |m: &std::fs::Metadata| {
            file.as_ref()
                .and_then(|f| f.metadata().ok())
                .is_some_and(|o| o.ino() == m.ino() && o.dev() == m.dev())
        };
        let older = match std::fs::metadata(&older_path) {
            Ok(m) if !same(&m) => std::fs::read(&older_path)
                .map(|b| parse_lines(&b).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let follower = Follower {
            path: live.to_path_buf(),
            file,
            pending: Vec::new(),
        };
        (follower, older)
    }

    /// Events appended since the last call.
    pub fn read_new(&mut self) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        self.drain(&mut out)?;
        // Rotated (or created) since we opened it: finish the old file,
        // then read the new one from its start.
        if self.rotated() {
            self.pending.clear();
            self.file = File::open(&self.path).ok();
            self.drain(&mut out)?;
        }
        Ok(out)
    }

    fn drain(&mut self, out: &mut Vec<Event>) -> Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Ok(());
        };
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .with_context(|| format!("reading {}", self.path.display()))?;
        self.pending.extend_from_slice(&buf);
        if let Some(last_nl) = self.pending.iter().rposition(|&b| b == b'\n') {
            let rest = self.pending.split_off(last_nl + 1);
            out.extend(parse_lines(&self.pending));
            self.pending = rest;
        }
        Ok(())
    }

    fn rotated(&self) -> bool {
        let Ok(now) = std::fs::metadata(&self.path) else {
            return false;
        };
        match &self.file {
            None => true,
            Some(f) => f
                .metadata()
                .map(|m| m.ino() != now.ino() || m.dev() != now.dev())
                .unwrap_or(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("coracle-events-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        journal_in(&d)
    }

    #[test]
    fn json_keys_as_podman() {
        let mut e = Event::image("pull", "", "localhost/bb:1");
        e.time = "2026-11-25T16:26:02.717580097Z".into();
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"Name":"localhost/bb:1","Status":"pull","Time":"2026-11-25T16:26:02.717580097Z","Type":"image","Attributes":null}"#
        );
        let cfg = ContainerConfig {
            id: "abc".into(),
            name: "s1".into(),
            image_name: "localhost/bb:latest".into(),
            ..Default::default()
        };
        let mut e = Event::container("died", &cfg).with_exit_code(137);
        e.time = "2026-11-25T16:26:01.149194921Z".into();
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"ContainerExitCode":137,"ID":"abc","Image":"localhost/bb:latest","Name":"s1","Status":"died","Time":"2026-11-25T16:26:01.149194921Z","Type":"container","Attributes":{}}"#
        );
    }

    #[test]
    fn build_mark_is_the_builders() {
        assert_eq!(BUILD_CONTAINER, crate::build::builder::BUILD_ANNOTATION);
    }

    #[test]
    fn appends_in_order_and_reads_back() {
        let live = tmp("order");
        for i in 0..5 {
            append_to(&live, &Event::volume("create", &format!("v{i}")), ROTATE_AT).unwrap();
        }
        let names: Vec<String> = read_all_in(&live)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["v0", "v1", "v2", "v3", "v4"]);
    }

    #[test]
    fn stays_bounded_and_keeps_the_newest() {
        let live = tmp("bound");
        let limit = 4096;
        let n = 1000;
        for i in 0..n {
            append_to(&live, &Event::volume("create", &format!("v{i}")), limit).unwrap();
        }
        let total: u64 = [previous_generation(&live), live.clone()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let line = serde_json::to_vec(&Event::volume("create", "v999"))
            .unwrap()
            .len() as u64
            + 1;
        assert!(total <= 2 * (limit + line), "journal grew to {total} bytes");
        let events = read_all_in(&live).unwrap();
        assert!(
            events.len() >= (limit / line) as usize,
            "kept {}",
            events.len()
        );
        assert!(events.len() < n, "nothing was dropped");
        // the newest are kept, in order, with no gap
        let last: Vec<usize> = events
            .iter()
            .map(|e| e.name[1..].parse().unwrap())
            .collect();
        assert_eq!(*last.last().unwrap(), n - 1);
        assert!(last.windows(2).all(|w| w[1] == w[0] + 1), "gap in {last:?}");
    }

    #[test]
    fn concurrent_writers_never_interleave() {
        let live = tmp("concurrent");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let live = live.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let e = Event::volume("create", &format!("{t}-{i}-{}", "x".repeat(300)));
                        append_to(&live, &e, 64 * 1024).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(&live).unwrap()
            + &std::fs::read_to_string(previous_generation(&live)).unwrap_or_default();
        for l in text.lines() {
            serde_json::from_str::<Event>(l).unwrap_or_else(|e| panic!("torn line {l:?}: {e}"));
        }
    }

    #[test]
    fn follower_sees_appends_across_rotation() {
        let live = tmp("follow");
        append_to(&live, &Event::volume("create", "old"), 1 << 20).unwrap();
        let mut f = Follower {
            path: live.clone(),
            file: File::open(&live).ok().map(|mut f| {
                f.seek(SeekFrom::End(0)).unwrap();
                f
            }),
            pending: Vec::new(),
        };
        assert!(f.read_new().unwrap().is_empty());
        append_to(&live, &Event::volume("create", "a"), 1 << 20).unwrap();
        std::fs::rename(&live, previous_generation(&live)).unwrap();
        append_to(&live, &Event::volume("create", "b"), 1 << 20).unwrap();
        let names: Vec<String> = f.read_new().unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
