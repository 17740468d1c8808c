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
    /// `[storage.options]` as written (shown by `info`).
    pub options: Option<toml::Table>,
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
