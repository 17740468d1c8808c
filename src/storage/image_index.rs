//! The image records on disk: `images/<xx>.json`, 256 shards keyed by the
//! first two hex digits of the image id, so a change rewrites the one or
//! two small shards it touches, not every record of the store.
//!
//! A change that touches several shards (a tag moving from one image to
//! another) is made atomic by a journal: the new shards are first written
//! together to `images/journal.json`, then each shard, then the journal is
//! removed. A reader that finds a journal reads its shards in place of the
//! ones on disk; the next save writes them for good.
//!
//! Older stores kept every record in `images.json`. They are read as they
//! are; the first save migrates them, one way: the shards are made in
//! tmp/ and renamed into place whole, then `images.json` goes.

use super::atomic;
use super::image_record::ImageRecord;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Shard {
    images: Vec<ImageRecord>,
}

/// A shard as written: the records borrowed from the caller's list.
#[derive(Serialize)]
struct ShardOut<'a> {
    images: &'a [&'a ImageRecord],
}

type ShardRefs<'a> = BTreeMap<String, Vec<&'a ImageRecord>>;

/// Shard name -> its records, as last read or written.
pub type Shards = BTreeMap<String, Vec<ImageRecord>>;

pub struct ImageIndex {
    dir: PathBuf,
    legacy: PathBuf,
    tmp: PathBuf,
}

/// What a load found: the records by shard, and what the next save must
/// write whatever changed (a journal not yet applied, a legacy file).
#[derive(Debug, Default)]
pub struct Loaded {
    pub shards: Shards,
    pub pending: Vec<String>,
    pub legacy: bool,
}

pub fn shard_of(id: &str) -> String {
    id.get(..2).unwrap_or("00").to_ascii_lowercase()
}

impl ImageIndex {
    pub fn new(root: &Path) -> ImageIndex {
        ImageIndex {
            dir: root.join("images"),
            legacy: root.join("images.json"),
            tmp: root.join("tmp"),
        }
    }

    fn journal(&self) -> PathBuf {
        self.dir.join("journal.json")
    }

    pub fn load(&self) -> Result<Loaded> {
        if !self.dir.is_dir() {
            let file: Shard = atomic::read_json(&self.legacy)?.unwrap_or_default();
            let legacy = self.legacy.exists();
            return Ok(Loaded {
                shards: group(file.images),
                pending: Vec::new(),
                legacy,
            });
        }
        let mut shards = Shards::new();
        let entries =
            fs::read_dir(&self.dir).with_context(|| format!("listing {}", self.dir.display()))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(key) = name.strip_suffix(".json") else {
                continue;
            };
            if key.len() != 2 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            if let Some(shard) = atomic::read_json::<Shard>(&e.path())? {
                shards.insert(key.to_string(), shard.images);
            }
        }
        let mut pending = Vec::new();
        if let Some(journal) = atomic::read_json::<Shards>(&self.journal())? {
            for (key, records) in journal {
                pending.push(key.clone());
                shards.insert(key, records);
            }
        }
        Ok(Loaded {
            shards,
            pending,
            legacy: false,
        })
    }

    /// The shards named by `keys` (absent ones empty), as they are on disk;
    /// None when only a whole load reads the store right (the old single
    /// file, or a journal not yet applied).
    pub fn load_keys(&self, keys: &std::collections::BTreeSet<String>) -> Result<Option<Loaded>> {
        if !self.dir.is_dir() || self.journal().exists() {
            return Ok(None);
        }
        let mut shards = Shards::new();
        for key in keys {
            let shard: Option<Shard> = atomic::read_json(&self.dir.join(format!("{key}.json")))?;
            shards.insert(key.clone(), shard.map(|s| s.images).unwrap_or_default());
        }
        Ok(Some(Loaded {
            shards,
            pending: Vec::new(),
            legacy: false,
        }))
    }

    /// Write `records` over what `before` held: only the shards that differ
    /// (and any `pending`). Call with the store lock held.
    /// Returns the shards written (all of them after a migration).
    pub fn save(&self, before: &Loaded, records: &[ImageRecord]) -> Result<Vec<String>> {
        let after = group_refs(records);
        if before.legacy || !self.dir.is_dir() {
            self.migrate(&after)?;
            return Ok(after.keys().cloned().collect());
        }
        let mut changed = ShardRefs::new();
        for key in before.shards.keys().chain(after.keys()) {
            let old = before.shards.get(key).map(Vec::as_slice).unwrap_or(&[]);
            let new = after.get(key).cloned().unwrap_or_default();
            let same = old.len() == new.len() && old.iter().zip(&new).all(|(a, b)| a == *b);
            if !same || before.pending.contains(key) {
                changed.insert(key.clone(), new);
            }
        }
        for key in &before.pending {
            changed
                .entry(key.clone())
                .or_insert_with(|| after.get(key).cloned().unwrap_or_default());
        }
        if changed.len() > 1 {
            atomic::write_file_in(
                &self.tmp,
                &self.journal(),
                &serde_json::to_vec(&changed)?,
                true,
            )?;
            super::crash::point("images-journal-written");
        }
        for (key, records) in &changed {
            self.write_shard(key, records)?;
        }
        if changed.len() > 1 || !before.pending.is_empty() {
            match fs::remove_file(self.journal()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).context("removing the image journal")
                }
                _ => {}
            }
        }
        Ok(changed.into_keys().collect())
    }

    fn write_shard(&self, key: &str, records: &[&ImageRecord]) -> Result<()> {
        let path = self.dir.join(format!("{key}.json"));
        if records.is_empty() {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            };
        }
        let data = serde_json::to_vec(&ShardOut { images: records })?;
        atomic::write_file_in(&self.tmp, &path, &data, true)
    }

    /// The one-way move from `images.json`: every shard made in tmp/, the
    /// directory renamed into place whole, then the old file removed.
    fn migrate(&self, shards: &ShardRefs) -> Result<()> {
        let staging = super::leftovers::temp_name(&self.tmp, "images-");
        fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
        for (key, records) in shards {
            atomic::write_file(
                &staging.join(format!("{key}.json")),
                &serde_json::to_vec(&ShardOut { images: records })?,
                true,
            )?;
        }
        fs::File::open(&staging)?.sync_all()?;
        super::crash::point("images-migrating");
        fs::rename(&staging, &self.dir)
            .with_context(|| format!("moving image records into {}", self.dir.display()))?;
        if let Some(root) = self.dir.parent() {
            fs::File::open(root)?.sync_all()?;
        }
        match fs::remove_file(&self.legacy) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).context("removing images.json after the migration")
            }
            _ => Ok(()),
        }
    }

    /// Is the store still on the old single-file layout?
    pub fn is_legacy(&self) -> bool {
        !self.dir.is_dir() && self.legacy.exists()
    }
}

/// Records by shard, borrowed, each shard in the order the records came.
fn group_refs(records: &[ImageRecord]) -> ShardRefs<'_> {
    let mut out = ShardRefs::new();
    for r in records {
        out.entry(shard_of(&r.id)).or_default().push(r);
    }
    out
}

/// Records by shard, each shard in the order the records came.
pub fn group(records: Vec<ImageRecord>) -> Shards {
    let mut out = Shards::new();
    for r in records {
        out.entry(shard_of(&r.id)).or_default().push(r);
    }
    out
}

/// All records of `shards`, oldest added first (the order of the old
/// single file, which appended).
pub fn flatten(shards: &Shards) -> Vec<ImageRecord> {
    let mut all: Vec<ImageRecord> = shards.values().flatten().cloned().collect();
    all.sort_by(|a, b| a.added.cmp(&b.added));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::digest::Digest;

    fn record(id_byte: &str, name: &str, added: &str) -> ImageRecord {
        ImageRecord {
            id: id_byte.repeat(32),
            names: vec![name.to_string()],
            names_history: vec![],
            manifest_digest: Digest::from_hex(&"e".repeat(64)).unwrap(),
            manifest_media_type: String::new(),
            repo_digests: vec![],
            digests: vec![],
            layers: vec![],
            size: 1,
            created: None,
            added: added.to_string(),
        }
    }

    fn store() -> (PathBuf, ImageIndex) {
        let root = std::env::temp_dir().join(format!(
            "coracle-index-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        fs::create_dir_all(root.join("tmp")).unwrap();
        let idx = ImageIndex::new(&root);
        (root, idx)
    }

    #[test]
    fn a_legacy_file_is_read_then_migrated_once() {
        let (root, idx) = store();
        let old = vec![record("ab", "a", "1"), record("cd", "c", "2")];
        fs::write(
            root.join("images.json"),
            serde_json::to_vec(&Shard {
                images: old.clone(),
            })
            .unwrap(),
        )
        .unwrap();
        let loaded = idx.load().unwrap();
        assert!(loaded.legacy && idx.is_legacy());
        assert_eq!(flatten(&loaded.shards), old);
        idx.save(&loaded, &old).unwrap();
        assert!(!root.join("images.json").exists() && !idx.is_legacy());
        assert!(root.join("images/ab.json").exists() && root.join("images/cd.json").exists());
        assert_eq!(flatten(&idx.load().unwrap().shards), old);
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn a_save_writes_only_what_changed_and_a_journal_wins() {
        let (root, idx) = store();
        let mut recs = vec![record("ab", "a", "1"), record("cd", "c", "2")];
        fs::create_dir_all(root.join("images")).unwrap();
        idx.save(&Loaded::default(), &recs).unwrap();
        let loaded = idx.load().unwrap();
        // Only shard cd changes: ab is not rewritten.
        let ab = root.join("images/ab.json");
        let before = fs::metadata(&ab).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        recs[1].names = vec!["c2".into()];
        idx.save(&loaded, &recs).unwrap();
        assert_eq!(fs::metadata(&ab).unwrap().modified().unwrap(), before);
        assert_eq!(flatten(&idx.load().unwrap().shards), recs);
        // A journal left by a save cut short overrides the shards it names.
        let mut moved = recs.clone();
        moved[0].names = vec!["c2".into()];
        moved[1].names = vec![];
        let journal: Shards = group(moved.clone());
        fs::write(
            root.join("images/journal.json"),
            serde_json::to_vec(&journal).unwrap(),
        )
        .unwrap();
        let loaded = idx.load().unwrap();
        assert_eq!(flatten(&loaded.shards), moved);
        assert_eq!(loaded.pending.len(), 2);
        idx.save(&loaded, &moved).unwrap();
        assert!(!root.join("images/journal.json").exists());
        assert_eq!(flatten(&idx.load().unwrap().shards), moved);
        // The last record of a shard takes its file with it.
        idx.save(&idx.load().unwrap(), &moved[..1]).unwrap();
        assert!(!root.join("images/cd.json").exists());
        let _ = fs::remove_dir_all(root);
    }
}
