//! containers-storage.conf(5): where the store lives and its driver.
//! Rootless, as podman: the store's paths come only from the user's own
//! file (or the one CONTAINERS_STORAGE_CONF names); a system file may give
//! `rootless_storage_path`.

use super::files::{self, Kind, Level};
use anyhow::Result;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct File {
    storage: StorageConf,
}

/// `[storage]`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct StorageConf {
    pub driver: Option<String>,
    pub graphroot: Option<String>,
    pub runroot: Option<String>,
    pub rootless_storage_path: Option<String>,
    pub transient_store: Option<bool>,
    /// Where images live apart from the graph root (`--imagestore`).
    pub imagestore: Option<String>,
    /// `[storage.options]` as written (shown by `info`).
    pub options: Option<toml::Table>,
    /// The overlay driver's `mountopt`: more options for every overlay
    /// mount of the store (from `--storage-opt`, STORAGE_OPTS or here).
    #[serde(skip)]
    pub overlay_mountopt: Vec<String>,
}

/// c/storage's overlay options coracle has no use for: accepted from a
/// storage.conf (files written for podman keep working), refused by name
/// when asked for on the command line.
const OVERLAY_UNUSED: &[&str] = &[
    "mount_program",
    "ignore_chown_errors",
    "force_mask",
    "skip_mount_home",
    "size",
    "inodes",
    "use_composefs",
    "imagestore",
];

/// The overlay `mountopt` in force: `--storage-opt` when given (replacing
/// the rest; an empty one: none), else STORAGE_OPTS (comma-separated),
/// else storage.conf's `[storage.options.overlay]` (or the older
/// `[storage.options]`) `mountopt`. A driver option given on the command
/// line or in STORAGE_OPTS that coracle does not act on is an error.
pub fn overlay_mountopt(
    conf: &StorageConf,
    flag: Option<&[String]>,
    env: Option<&str>,
) -> Result<Vec<String>> {
    let given: Option<(Vec<String>, &str)> = match (flag, env) {
        (Some(f), _) => Some((f.to_vec(), "--storage-opt")),
        (None, Some(e)) => Some((e.split(',').map(str::to_string).collect(), "STORAGE_OPTS")),
        (None, None) => None,
    };
    let split = |v: &str| -> Vec<String> {
        v.split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect()
    };
    let Some((items, source)) = given else {
        let options = conf.options.as_ref();
        let overlay = options
            .and_then(|o| o.get("overlay"))
            .and_then(|o| o.get("mountopt"))
            .or_else(|| options.and_then(|o| o.get("mountopt")));
        return Ok(overlay
            .and_then(|v| v.as_str())
            .map(split)
            .unwrap_or_default());
    };
    let mut out = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            anyhow::bail!("{source} {item:?}: expected DRIVER.KEY=VALUE");
        };
        let key = key.trim().to_ascii_lowercase();
        let key = key.strip_prefix('.').unwrap_or(&key);
        let (driver, name) = key.split_once('.').unwrap_or(("overlay", key));
        match (driver, name) {
            ("overlay" | "overlay2", "mountopt") => out.extend(split(value)),
            ("overlay" | "overlay2", n) if OVERLAY_UNUSED.contains(&n) => anyhow::bail!(
                "{source} {item:?}: not supported by coracle (it mounts the kernel's overlayfs itself, without that option)"
            ),
            _ => anyhow::bail!("{source} {item:?}: unknown storage driver option"),
        }
    }
    Ok(out)
}

/// The merged `[storage]` and the last file read.
pub fn load(uid: u32) -> Result<(StorageConf, Option<PathBuf>)> {
    let kind = Kind {
        name: "storage",
        env: "CONTAINERS_STORAGE_CONF",
        drop_ins: true,
    };
    let found = files::search(&kind, &[], uid)?;
    let mut merged = toml::Table::new();
    for (path, level) in &found {
        let mut table = files::read_toml(path)?;
        if uid > 0 && *level == Level::System {
            if let Some(toml::Value::Table(s)) = table.get_mut("storage") {
                s.remove("graphroot");
                s.remove("runroot");
                // A system-wide image store is root's, as its graph root.
                s.remove("imagestore");
            }
        }
        files::merge(&mut merged, table);
    }
    let file: File = files::load_table(merged, found.last().map(|(p, _)| p.as_path()))?;
    let mut conf = file.storage;
    if uid > 0 && conf.graphroot.is_none() {
        conf.graphroot = conf.rootless_storage_path.as_deref().map(expand);
    }
    Ok((conf, found.last().map(|(p, _)| p.clone())))
}

/// `$HOME`, `$UID` and `$USER` in `rootless_storage_path`.
fn expand(path: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let user = std::env::var("USER").unwrap_or_default();
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    path.replace("$HOME", &home)
        .replace("$UID", &uid.to_string())
        .replace("$USER", &user)
}
