//! Volume plugins: the Docker volume plugin protocol, spoken to the
//! plugins containers.conf names in `[engine.volume_plugins]` (NAME =
//! socket path). Each call is one HTTP/1.1 POST over the plugin's unix
//! socket with a JSON body; a non-200 status or a non-empty `Err` in the
//! answer is the plugin's error. A small client of our own over std's
//! UnixStream, every call bounded by `volume_plugin_timeout` (podman's
//! default 5 s).
//!
//! A container's plugin volumes are mounted (`Mount` with its id) by its
//! monitor before each run and unmounted when the run ends; what is
//! mounted is recorded in the container's directory first, so a monitor
//! that dies (kill -9) leaves a list the next reading of its state
//! (`state::current_state`) unmounts.

use crate::storage::atomic;
use crate::storage::containers::{ContainerConfig, MountKind};
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1+json";
/// podman's `volume_plugin_timeout` default, in seconds.
const DEFAULT_TIMEOUT: u64 = 5;
/// No answer of the protocol is near this big.
const MAX_RESPONSE: usize = 16 << 20;

/// The plugins configured, by name.
pub fn configured() -> BTreeMap<String, PathBuf> {
    crate::config::get()
        .containers
        .engine
        .volume_plugins
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, PathBuf::from(v)))
        .collect()
}

/// How long a plugin has to answer one call.
pub fn timeout() -> Duration {
    let secs = crate::config::get()
        .containers
        .engine
        .volume_plugin_timeout
        .unwrap_or(DEFAULT_TIMEOUT);
    Duration::from_secs(secs.max(1))
}

/// A volume as a plugin describes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PluginVolume {
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "Mountpoint", default)]
    pub mountpoint: String,
    #[serde(rename = "Status", default)]
    pub status: Option<serde_json::Map<String, Value>>,
}

/// A configured plugin that answered its activation as a volume driver.
pub struct Plugin {
    pub name: String,
    socket: PathBuf,
    timeout: Duration,
}

/// The plugin named `name`, activated (podman's GetVolumePlugin).
pub fn get(name: &str) -> Result<Plugin> {
    let Some(socket) = configured().remove(name) else {
        bail!("no volume plugin with name {name} available: required plugin missing");
    };
    let plugin = Plugin {
        name: name.to_string(),
        socket,
        timeout: timeout(),
    };
    plugin.activate()?;
    Ok(plugin)
}

impl Plugin {
    fn activate(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.socket).map_err(|e| {
            anyhow!(
                "cannot access plugin {} socket {:?}: {e}",
                self.name,
                self.socket
            )
        })?;
        if !meta.file_type().is_socket() {
            bail!(
                "volume plugin {} path {:?} is not a unix socket: target does not appear to be a valid plugin",
                self.name,
                self.socket
            );
        }
        let (status, body) = self.post("/Plugin.Activate", None)?;
        if status != 200 {
            bail!(
                "got status code {status} from activation endpoint for plugin {}: target does not appear to be a valid plugin",
                self.name
            );
        }
        let implements: Vec<String> = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| serde_json::from_value(v.get("Implements")?.clone()).ok())
            .with_context(|| {
                format!(
                    "unmarshalling plugin {} activation response: not the JSON of the protocol",
                    self.name
                )
            })?;
        if !implements.iter().any(|i| i == "VolumeDriver") {
            bail!(
                "plugin {} does not implement volume plugin, instead provides {}: plugin is not a volume plugin",
                self.name,
                implements.join(", ")
            );
        }
        Ok(())
    }

    /// One call: the answer's JSON, or the plugin's error.
    fn call(&self, endpoint: &str, body: Value, volume: Option<&str>) -> Result<Value> {
        let (status, answer) = self.post(endpoint, Some(&body))?;
        let doc: Option<Value> = serde_json::from_slice(&answer).ok();
        let err = doc
            .as_ref()
            .and_then(|d| d.get("Err"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if status != 200 || !err.is_empty() {
            let err = if err.is_empty() {
                format!("empty error from plugin (status {status})")
            } else {
                err.to_string()
            };
            return Err(match volume {
                Some(v) => anyhow!(
                    "on {endpoint} on volume {v} in volume plugin {}: {err}",
                    self.name
                ),
                None => anyhow!("on {endpoint} in volume plugin {}: {err}", self.name),
            });
        }
        doc.with_context(|| {
            format!(
                "unmarshalling JSON response from volume plugin {} endpoint {endpoint}",
                self.name
            )
        })
    }

    pub fn create(&self, name: &str, opts: &BTreeMap<String, String>) -> Result<()> {
        self.call(
            "/VolumeDriver.Create",
            json!({"Name": name, "Opts": opts}),
            Some(name),
        )
        .map(drop)
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        self.call("/VolumeDriver.Remove", json!({"Name": name}), Some(name))
            .map(drop)
    }

    /// The volume as the plugin has it.
    pub fn volume(&self, name: &str) -> Result<PluginVolume> {
        let doc = self.call("/VolumeDriver.Get", json!({"Name": name}), Some(name))?;
        let vol = doc.get("Volume").cloned().unwrap_or(Value::Null);
        if vol.is_null() {
            bail!(
                "on /VolumeDriver.Get on volume {name} in volume plugin {}: no such volume",
                self.name
            );
        }
        self.parse(vol, "/VolumeDriver.Get")
    }

    pub fn list(&self) -> Result<Vec<PluginVolume>> {
        let doc = self.call("/VolumeDriver.List", json!({}), None)?;
        let vols = doc.get("Volumes").cloned().unwrap_or(Value::Null);
        if vols.is_null() {
            return Ok(Vec::new());
        }
        self.parse(vols, "/VolumeDriver.List")
    }

    /// Mount `name` for container `id`: the host directory to bind.
    pub fn mount(&self, name: &str, id: &str) -> Result<String> {
        let doc = self.call(
            "/VolumeDriver.Mount",
            json!({"Name": name, "ID": id}),
            Some(name),
        )?;
        match doc.get("Mountpoint").and_then(Value::as_str) {
            Some(m) if m.starts_with('/') => Ok(m.to_string()),
            other => bail!(
                "volume plugin {} mounted volume {name} at {:?}, not an absolute path",
                self.name,
                other.unwrap_or("")
            ),
        }
    }

    pub fn unmount(&self, name: &str, id: &str) -> Result<()> {
        self.call(
            "/VolumeDriver.Unmount",
            json!({"Name": name, "ID": id}),
            Some(name),
        )
        .map(drop)
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, v: Value, endpoint: &str) -> Result<T> {
        serde_json::from_value(v).map_err(|e| {
            anyhow!(
                "unmarshalling volume plugin {} {endpoint} response: {e}",
                self.name
            )
        })
    }

    /// POST `endpoint`: the status and the body of the answer.
    fn post(&self, endpoint: &str, body: Option<&Value>) -> Result<(u16, Vec<u8>)> {
        let fail = |what: String| {
            anyhow!(
                "sending request to volume plugin {} endpoint {endpoint}: {what}",
                self.name
            )
        };
        let deadline = Instant::now() + self.timeout;
        let mut conn = UnixStream::connect(&self.socket)
            .map_err(|e| fail(format!("connecting to {}: {e}", self.socket.display())))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "POST {endpoint} HTTP/1.1\r\nHost: plugin\r\nContent-Type: {CONTENT_TYPE}\r\nAccept: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        conn.set_write_timeout(Some(self.timeout))
            .map_err(|e| fail(e.to_string()))?;
        conn.write_all(request.as_bytes())
            .map_err(|e| fail(timed_out(e, self.timeout)))?;
        read_response(&mut conn, deadline).map_err(|e| {
            anyhow!(
                "reading the answer of volume plugin {} to {endpoint}: {}",
                self.name,
                timed_out(e, self.timeout)
            )
        })
    }
}

fn timed_out(e: std::io::Error, t: Duration) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("no answer within {}s", t.as_secs())
        }
        _ => e.to_string(),
    }
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

/// Read an HTTP/1.1 answer: status line, headers, and a body framed by
/// Content-Length, chunked, or the end of the connection.
fn read_response(conn: &mut UnixStream, deadline: Instant) -> std::io::Result<(u16, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut eof = false;
    let mut fill = |buf: &mut Vec<u8>, eof: &mut bool| -> std::io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        conn.set_read_timeout(Some(left))?;
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            *eof = true;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return Err(bad("answer too large"));
        }
        Ok(())
    };
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if eof {
            return Err(bad("connection closed before a complete answer"));
        }
        fill(&mut buf, &mut eof)?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let status: u16 = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => code
            .parse()
            .map_err(|_| bad(&format!("bad status line {status_line:?}")))?,
        _ => return Err(bad(&format!("not an HTTP answer: {status_line:?}"))),
    };
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "content-length" {
            length = Some(v.parse().map_err(|_| bad("bad Content-Length"))?);
        } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }
    let mut body = buf.split_off(head_end + 4);
    if chunked {
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            let Some(nl) = body[pos..].windows(2).position(|w| w == b"\r\n") else {
                if eof {
                    return Err(bad("truncated chunked answer"));
                }
                fill(&mut body, &mut eof)?;
                continue;
            };
            let size_text = String::from_utf8_lossy(&body[pos..pos + nl]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            let start = pos + nl + 2;
            if size == 0 {
                return Ok((status, out));
            }
            while body.len() < start + size + 2 {
                if eof {
                    return Err(bad("truncated chunked answer"));
                }
                fill(&mut body, &mut eof)?;
            }
            out.extend_from_slice(&body[start..start + size]);
            pos = start + size + 2;
        }
    }
    match length {
        Some(n) => {
            while body.len() < n {
                if eof {
                    return Err(bad("connection closed before the whole answer"));
                }
                fill(&mut body, &mut eof)?;
            }
            body.truncate(n);
        }
        None => {
            while !eof {
                fill(&mut body, &mut eof)?;
            }
        }
    }
    Ok((status, body))
}

/// A plugin volume mounted for a container's run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MountedVolume {
    pub driver: String,
    pub name: String,
}

/// The plugin volumes a monitor mounted for its container: unmounted by
/// `release`, and listed in the container's directory until then.
#[derive(Debug, Default)]
pub struct Mounted {
    /// The id each was mounted under.
    id: String,
    list: Vec<MountedVolume>,
    /// Listed in the container's directory (a run's mounts).
    record: bool,
}

fn record_path(store: &Store, id: &str) -> PathBuf {
    store.containers.dir(id).join("plugin-mounts.json")
}

/// Mount the container's plugin volumes (`Mount` with its id) and point
/// the spec's mounts of them at the directories the plugins answered.
/// Each is recorded before it is asked for; on failure those mounted are
/// unmounted again.
pub fn mount_for_run(
    store: &Store,
    cfg: &ContainerConfig,
    spec: &mut oci_spec::runtime::Spec,
    held: &mut Mounted,
) -> Result<()> {
    held.id = cfg.id.clone();
    held.record = true;
    let targets = mount_all(store, cfg, held)?;
    if targets.is_empty() {
        return Ok(());
    }
    if let Some(mounts) = spec.mounts().clone() {
        let mounts = mounts
            .into_iter()
            .map(|mut mnt| {
                if let Some(dir) = targets.get(mnt.destination()) {
                    mnt.set_source(Some(PathBuf::from(dir)));
                }
                mnt
            })
            .collect();
        spec.set_mounts(Some(mounts));
    }
    Ok(())
}

/// `cp` with a stopped container: its plugin volumes mounted for the copy
/// under an id of their own (the container may start meanwhile and mount
/// them under its id); their directories by destination. `release` them
/// after.
pub fn mount_for_copy(
    store: &Store,
    cfg: &ContainerConfig,
    held: &mut Mounted,
) -> Result<BTreeMap<PathBuf, String>> {
    held.id = crate::storage::containers::new_id();
    held.record = false;
    mount_all(store, cfg, held)
}

fn mount_all(
    store: &Store,
    cfg: &ContainerConfig,
    held: &mut Mounted,
) -> Result<BTreeMap<PathBuf, String>> {
    let mut targets: BTreeMap<PathBuf, String> = BTreeMap::new();
    for m in cfg.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
        let Some(rec) = store.volumes.load(&m.source)? else {
            continue;
        };
        if !rec.uses_plugin() {
            continue;
        }
        let result = (|| -> Result<String> {
            let plugin = get(&rec.driver).with_context(|| {
                format!(
                    "volume plugin {} (needed by volume {}) missing",
                    rec.driver, rec.name
                )
            })?;
            held.list.push(MountedVolume {
                driver: rec.driver.clone(),
                name: rec.name.clone(),
            });
            if held.record {
                atomic::write_json(&record_path(store, &cfg.id), &held.list, true)?;
            }
            plugin.mount(&rec.name, &held.id)
        })();
        match result {
            Ok(dir) => {
                targets.insert(PathBuf::from(&m.destination), dir);
            }
            Err(e) => {
                release(store, held);
                return Err(e);
            }
        }
    }
    Ok(targets)
}

/// Unmount what `held` mounted (a failure is warned about: the container
/// has ended either way) and drop the record.
pub fn release(store: &Store, held: &mut Mounted) {
    let list = std::mem::take(&mut held.list);
    if list.is_empty() {
        return;
    }
    for v in &list {
        let r = get(&v.driver).and_then(|p| p.unmount(&v.name, &held.id));
        if let Err(e) = r {
            crate::warn!("unmounting volume {}: {e:#}", v.name);
        }
    }
    if held.record {
        let _ = std::fs::remove_file(record_path(store, &held.id));
    }
}

/// The monitor's copies of the list go to a forked child that keeps the
/// container: this one must not unmount them.
pub fn hand_over(held: &mut Mounted) {
    held.list.clear();
}

/// A container whose monitor died: unmount what it had mounted.
pub fn release_recorded(store: &Store, id: &str) {
    let path = record_path(store, id);
    let list: Vec<MountedVolume> = match atomic::read_json(&path) {
        Ok(Some(l)) => l,
        _ => return,
    };
    release(
        store,
        &mut Mounted {
            id: id.to_string(),
            list,
            record: true,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn serve(answer: &'static [u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("p.sock");
        let l = UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut req = [0u8; 4096];
            let _ = c.read(&mut req);
            c.write_all(answer).unwrap();
        });
        (dir, sock)
    }

    fn plugin(sock: PathBuf) -> Plugin {
        Plugin {
            name: "p".into(),
            socket: sock,
            timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn reads_length_and_chunked_answers() {
        let (_d, s) =
            serve(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"Err\":\"\"}\n\nextra");
        let (st, body) = plugin(s).post("/x", None).unwrap();
        assert_eq!((st, body.as_slice()), (200, &b"{\"Err\":\"\"}\n\n"[..]));
        let (_d, s) = serve(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"Mo\r\n13\r\nuntpoint\":\"/srv/a\"}\r\n0\r\n\r\n",
        );
        assert_eq!(plugin(s).mount("a", "id").unwrap(), "/srv/a");
    }

    #[test]
    fn err_field_is_the_error() {
        let (_d, s) = serve(b"HTTP/1.0 200 OK\r\n\r\n{\"Err\":\"no such volume\"}");
        let e = plugin(s).remove("v").unwrap_err().to_string();
        assert_eq!(
            e,
            "on /VolumeDriver.Remove on volume v in volume plugin p: no such volume"
        );
        let (_d, s) = serve(b"garbage\r\n\r\n");
        assert!(plugin(s).remove("v").is_err());
    }
}
