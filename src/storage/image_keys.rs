//! Which images a name, layer or manifest belongs to, so that `tag`, `rmi`
//! and every name resolution read the few image shards they need instead
//! of all of them: `image-keys/<xx>.json`, 256 shards by a hash of the key,
//! each a map key -> image ids. The keys of an image record:
//!   - `n:<base>` for each name and repo digest, where base is the last path
//!     part of the repository (`docker.io/library/busybox:1` -> `busybox`),
//!     so a short name and every qualified spelling of it meet in one shard;
//!   - `l:<diff id>` for each layer, `l:-` when it has none;
//!   - `m:<digest>` for its manifest and every digest it is known by.
//!
//! The records stay the truth. Every save of image records (under the
//! store lock) goes
//!   1. `dirty` is created,
//!   2. the record shards are written,
//!   3. the key shards they touch are rewritten,
//!   4. `dirty` is removed.
//!
//! A reader that finds `dirty`, or no `complete` holding this boot's id
//! (an older store; a new boot, since the key shards are not fsynced),
//! does not use the index; the next save, or a reader that can take the
//! store lock, rebuilds it from the records, as `system check --repair`
//! does.

use super::atomic;
use super::image_record::ImageRecord;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One shard: key -> the ids of the images that have it.
type Shard = BTreeMap<String, BTreeSet<String>>;

pub struct ImageKeys {
    dir: PathBuf,
    tmp: PathBuf,
}

/// The repository's last path part of a stored name or a typed reference
/// (`host:5000/a/b:tag@sha256:...` -> `b`).
pub fn base_name(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    let last = name.rsplit('/').next().unwrap_or(name);
    last.split(':').next().unwrap_or(last)
}

pub fn name_key(name: &str) -> String {
    format!("n:{}", base_name(name))
}

pub fn layer_key(diff_id: Option<&super::digest::Digest>) -> String {
    match diff_id {
        Some(d) => format!("l:{}", d.hex()),
        None => "l:-".to_string(),
    }
}

pub fn manifest_key(d: &super::digest::Digest) -> String {
    format!("m:{}", d.hex())
}

/// Every key of `rec`.
pub fn keys_of(rec: &ImageRecord) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = rec
        .names
        .iter()
        .chain(&rec.repo_digests)
        .map(|n| name_key(n))
        .collect();
    if rec.layers.is_empty() {
        out.insert(layer_key(None));
    }
    out.extend(rec.layers.iter().map(|l| layer_key(Some(l))));
    out.insert(manifest_key(&rec.manifest_digest));
    out.extend(rec.digests.iter().map(manifest_key));
    out
}

/// FNV-1a of the key, to two hex digits: stable across releases.
fn shard_of(key: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{:02x}", (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & 0xff)
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

impl ImageKeys {
    pub fn new(root: &Path) -> ImageKeys {
        ImageKeys {
            dir: root.join("image-keys"),
            tmp: root.join("tmp"),
        }
    }

    fn shard_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    fn dirty_path(&self) -> PathBuf {
        self.dir.join("dirty")
    }

    fn complete_path(&self) -> PathBuf {
        self.dir.join("complete")
    }

    /// Whole for this boot, and no change cut short.
    pub fn is_usable(&self) -> bool {
        !self.dirty_path().exists()
            && fs::read_to_string(self.complete_path()).is_ok_and(|b| b.trim() == boot_id())
    }

    /// The ids of the images having any of `keys`; None when the index is
    /// not to be trusted (read the records instead).
    pub fn lookup(&self, keys: &[String]) -> Option<BTreeSet<String>> {
        if !self.is_usable() {
            return None;
        }
        let mut by_shard: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for k in keys {
            by_shard.entry(shard_of(k)).or_default().push(k);
        }
        let mut ids = BTreeSet::new();
        for (shard, keys) in by_shard {
            let shard: Shard = atomic::read_json(&self.shard_path(&shard))
                .ok()?
                .unwrap_or_default();
            for k in keys {
                ids.extend(shard.get(k).into_iter().flatten().cloned());
            }
        }
        // A change that began while we read: the records decide.
        (!self.dirty_path().exists()).then_some(ids)
    }

    /// Step 1 of a save (store lock held).
    pub fn mark_dirty(&self) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        fs::write(self.dirty_path(), b"")
            .with_context(|| format!("writing {}", self.dirty_path().display()))?;
        super::crash::point("image-keys-dirty");
        Ok(())
    }

    /// Steps 3 and 4: the keys of the records `old` (as they were) become
    /// those of `new`, then the change is over.
    pub fn update(&self, old: &[&ImageRecord], new: &[&ImageRecord]) -> Result<()> {
        let pairs = |recs: &[&ImageRecord]| -> BTreeSet<(String, String)> {
            recs.iter()
                .flat_map(|r| keys_of(r).into_iter().map(|k| (k, r.id.clone())))
                .collect()
        };
        let (before, after) = (pairs(old), pairs(new));
        let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
        for (k, id) in before.difference(&after) {
            let shard = self.shard_for(&mut shards, k)?;
            if let Some(ids) = shard.get_mut(k) {
                ids.remove(id);
                if ids.is_empty() {
                    shard.remove(k);
                }
            }
        }
        for (k, id) in after.difference(&before) {
            let shard = self.shard_for(&mut shards, k)?;
            shard.entry(k.clone()).or_default().insert(id.clone());
        }
        for (key, shard) in &shards {
            self.write_shard(key, shard)?;
        }
        self.end_change()
    }

    fn shard_for<'a>(
        &self,
        shards: &'a mut BTreeMap<String, Shard>,
        key: &str,
    ) -> Result<&'a mut Shard> {
        let s = shard_of(key);
        if !shards.contains_key(&s) {
            let read = atomic::read_json(&self.shard_path(&s))?.unwrap_or_default();
            shards.insert(s.clone(), read);
        }
        Ok(shards.get_mut(&s).expect("inserted above"))
    }

    fn end_change(&self) -> Result<()> {
        match fs::remove_file(self.dirty_path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).context("ending an image key index change")
            }
            _ => Ok(()),
        }
    }

    fn write_shard(&self, key: &str, shard: &Shard) -> Result<()> {
        let path = self.shard_path(key);
        if shard.is_empty() {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            };
        }
        // Not fsynced: after a power cut the new boot rebuilds the index.
        atomic::write_file_in(&self.tmp, &path, &serde_json::to_vec(shard)?, false)
    }

    /// The index as the records say it should be.
    fn built(records: &[ImageRecord]) -> BTreeMap<String, Shard> {
        let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
        for r in records {
            for k in keys_of(r) {
                shards
                    .entry(shard_of(&k))
                    .or_default()
                    .entry(k)
                    .or_default()
                    .insert(r.id.clone());
            }
        }
        shards
    }

    fn shard_names(&self) -> Vec<String> {
        fs::read_dir(&self.dir)
            .map(|es| {
                es.flatten()
                    .filter_map(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        let key = n.strip_suffix(".json")?.to_string();
                        (key.len() == 2).then_some(key)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What is wrong with the index against `records` (all of them, read
    /// under the store lock); empty when it is whole and exact.
    pub fn problems(&self, records: &[ImageRecord]) -> Vec<String> {
        let mut out = Vec::new();
        if self.dirty_path().exists() {
            out.push("a change to the image name index was cut short".to_string());
        } else if !self.is_usable() {
            out.push("the image name index is missing or from an earlier boot".to_string());
            return out;
        }
        let want = Self::built(records);
        let mut keys: BTreeSet<String> = want.keys().cloned().collect();
        keys.extend(self.shard_names());
        let stale = keys
            .iter()
            .filter(|k| {
                let have: Option<Shard> = atomic::read_json(&self.shard_path(k)).ok().flatten();
                have.unwrap_or_default() != want.get(*k).cloned().unwrap_or_default()
            })
            .count();
        if stale > 0 {
            out.push(format!(
                "the image name index disagrees with the image records in {stale} shard(s)"
            ));
        }
        out
    }

    /// Replace the whole index by what `records` (all of them, read under
    /// the store lock) say, and mark it whole for this boot.
    pub fn rebuild(&self, records: &[ImageRecord]) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let want = Self::built(records);
        for key in self.shard_names() {
            if !want.contains_key(&key) {
                self.write_shard(&key, &Shard::new())?;
            }
        }
        for (key, shard) in &want {
            self.write_shard(key, shard)?;
        }
        atomic::write_file_in(
            &self.tmp,
            &self.complete_path(),
            boot_id().as_bytes(),
            false,
        )?;
        self.end_change()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_name_meets_in_one_key() {
        for n in [
            "busybox",
            "busybox:1.36",
            "docker.io/library/busybox:latest",
            "127.0.0.1:5000/x/busybox:2",
            "quay.io/busybox@sha256:abcd",
        ] {
            assert_eq!(name_key(n), "n:busybox", "{n}");
        }
        assert_ne!(shard_of("n:a"), shard_of("n:b"));
        assert_eq!(shard_of("n:a").len(), 2);
    }
}
