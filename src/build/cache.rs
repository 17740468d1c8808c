//! The build cache: `build-cache.json` in the store maps a step's key (its
//! parent image, expanded instruction, build args in use and, for COPY/ADD,
//! a hash of its sources) to the image that step made. Loaded once per build
//! and written once at the end, atomically; an entry whose image is gone is
//! simply a miss. It is a cache: losing it costs a rebuild, never a wrong
//! image, so it is not fsynced.
//!
//! It also remembers, per COPY source set, a fingerprint of the sources'
//! `stat` data and the content hash it stood for, so a rebuild with
//! untouched sources reads no file content at all.

use crate::storage::atomic;
use crate::storage::digest::Hasher;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bump when the key recipe changes, so old entries stop matching.
const KEY_VERSION: &str = "coracle-build-cache-v1";

/// Stat fingerprints kept at most; the oldest go first (BTreeMap order is
/// good enough: this is a cache).
const MAX_STAT_ENTRIES: usize = 4096;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct CacheFile {
    #[serde(default)]
    steps: BTreeMap<String, String>,
    #[serde(default)]
    stat: BTreeMap<String, String>,
}

pub struct BuildCache {
    path: PathBuf,
    file: CacheFile,
    dirty: bool,
}

impl BuildCache {
    /// Load the store's cache; a missing or unreadable one is empty.
    pub fn load(store_root: &Path) -> BuildCache {
        let path = store_root.join("build-cache.json");
        let file = atomic::read_json::<CacheFile>(&path)
            .ok()
            .flatten()
            .unwrap_or_default();
        BuildCache {
            path,
            file,
            dirty: false,
        }
    }

    /// The image a step with `key` made before, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.file.steps.get(key).map(String::as_str)
    }

    pub fn put(&mut self, key: String, image_id: String) {
        self.file.steps.insert(key, image_id);
        self.dirty = true;
    }

    pub fn content_for_stat(&self, stat_key: &str) -> Option<&str> {
        self.file.stat.get(stat_key).map(String::as_str)
    }

    pub fn remember_stat(&mut self, stat_key: String, content: String) {
        if self.file.stat.len() >= MAX_STAT_ENTRIES {
            if let Some(first) = self.file.stat.keys().next().cloned() {
                self.file.stat.remove(&first);
            }
        }
        self.file.stat.insert(stat_key, content);
        self.dirty = true;
    }

    /// Drop entries whose image is not in `live` (called with the image list
    /// in hand, so it costs no extra read).
    pub fn forget_missing(&mut self, live: &dyn Fn(&str) -> bool) {
        let before = self.file.steps.len();
        self.file.steps.retain(|_, id| live(id));
        if self.file.steps.len() != before {
            self.dirty = true;
        }
    }

    /// Everything known now (a `--jobs` child hands it to its parent).
    pub fn snapshot(&self) -> CacheFile {
        self.file.clone()
    }

    /// What a `--jobs` child learned, added.
    pub fn absorb(&mut self, other: CacheFile) {
        for (k, v) in other.steps {
            if self.file.steps.get(&k) != Some(&v) {
                self.file.steps.insert(k, v);
                self.dirty = true;
            }
        }
        for (k, v) in other.stat {
            if self.file.stat.get(&k) != Some(&v) {
                self.remember_stat(k, v);
            }
        }
    }

    /// Write the index if it changed.
    pub fn save(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        atomic::write_json(&self.path, &self.file, false)?;
        self.dirty = false;
        Ok(())
    }
}

/// A cache key: sha256 over length-prefixed parts, so no two part lists
/// give the same byte stream.
pub fn key(parts: &[&str]) -> String {
    let mut h = Hasher::new();
    for p in std::iter::once(&KEY_VERSION).chain(parts) {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finish().hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_parts() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_eq!(key(&["x"]), key(&["x"]));
        assert_eq!(key(&["x"]).len(), 64);
    }

    #[test]
    fn round_trip_and_missing_images() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = BuildCache::load(dir.path());
        assert!(c.get("k").is_none());
        c.put("k".into(), "img1".into());
        c.put("j".into(), "img2".into());
        c.remember_stat("s".into(), "h".into());
        c.save().unwrap();
        let mut c = BuildCache::load(dir.path());
        assert_eq!(c.get("k"), Some("img1"));
        assert_eq!(c.content_for_stat("s"), Some("h"));
        c.forget_missing(&|id| id == "img2");
        assert!(c.get("k").is_none());
        assert_eq!(c.get("j"), Some("img2"));
    }
}
