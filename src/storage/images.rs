//! Image records, loaded whole and saved by difference under the store lock
//! (the shards and journal on disk: image_index.rs), so a tag move between
//! images is a single change and a change costs what it touches. A verb
//! that needs a few images (`tag`, `rmi`, a name resolution) loads only
//! the shards that can hold them, found through the key index
//! (image_keys.rs), which every save keeps exact.

use super::digest::Digest;
use super::image_index::{self, ImageIndex, Loaded};
use super::image_keys::{self, ImageKeys};
pub use super::image_record::ImageRecord;
use anyhow::{bail, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct ImageStore {
    index: ImageIndex,
    keys: ImageKeys,
    root: PathBuf,
    /// What this process last loaded or saved: a save writes the shards
    /// that differ from it.
    seen: Mutex<Option<Loaded>>,
}

/// The loaded image records; change them and `save` while holding the lock.
#[derive(Debug, Default)]
pub struct Images {
    pub list: Vec<ImageRecord>,
    /// The record shards `list` holds whole, when not every one: a save
    /// leaves the others as they are.
    pub scope: Option<BTreeSet<String>>,
}

impl ImageStore {
    pub fn new(root: &Path) -> ImageStore {
        ImageStore {
            index: ImageIndex::new(root),
            keys: ImageKeys::new(root),
            root: root.to_path_buf(),
            seen: Mutex::new(None),
        }
    }

    pub fn load(&self) -> Result<Images> {
        let loaded = self.index.load()?;
        let list = image_index::flatten(&loaded.shards);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(loaded);
        Ok(Images { list, scope: None })
    }

    /// Every record, for reading only (a listing): not kept for a save.
    pub fn read_all(&self) -> Result<Vec<ImageRecord>> {
        let loaded = self.index.load()?;
        let mut all: Vec<ImageRecord> = loaded.shards.into_values().flatten().collect();
        all.sort_by(|a, b| a.added.cmp(&b.added));
        Ok(all)
    }

    /// The records that what a user typed (`inputs`: names, ids, id
    /// prefixes, `name@digest`) can mean, read from the shards that can
    /// hold them: every image with the same repository base name, every
    /// id with the same first two digits. Resolving among them finds what
    /// resolving among all would. Everything, when the index cannot say.
    pub fn load_for(&self, inputs: &[&str]) -> Result<Images> {
        let mut shards = BTreeSet::new();
        let mut keys = Vec::new();
        for input in inputs {
            let typed = input.trim();
            let bare = typed.strip_prefix("sha256:").unwrap_or(typed);
            if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_hexdigit()) {
                let bare = bare.to_ascii_lowercase();
                if bare.len() >= 2 {
                    shards.insert(bare[..2].to_string());
                } else {
                    shards.extend("0123456789abcdef".chars().map(|c| format!("{bare}{c}")));
                }
            }
            keys.push(image_keys::name_key(typed));
        }
        let Some(ids) = self.lookup(&keys) else {
            return self.load();
        };
        shards.extend(ids.iter().map(|id| image_index::shard_of(id)));
        match self.index.load_keys(&shards)? {
            Some(loaded) => Ok(Images {
                list: image_index::flatten(&loaded.shards),
                scope: Some(shards),
            }),
            None => self.load(),
        }
    }

    /// Add to a partial `images` every image sharing a layer or a manifest
    /// with `rec` (and every image without layers): what deciding which
    /// of `rec`'s layers and blobs may go, and which parents it has, needs.
    /// The caller's changes to `images` are kept.
    pub fn widen_for_removal(&self, images: &mut Images, rec: &ImageRecord) -> Result<()> {
        let Some(scope) = &images.scope else {
            return Ok(());
        };
        let mut keys: Vec<String> = rec
            .layers
            .iter()
            .map(|l| image_keys::layer_key(Some(l)))
            .collect();
        keys.push(image_keys::manifest_key(&rec.manifest_digest));
        keys.extend(rec.digests.iter().map(image_keys::manifest_key));
        // An image without layers (a manifest list, a FROM scratch build)
        // can be anything's parent, and anything can stand on it: with
        // one in the store, read all.
        let layerless = self.lookup(&[image_keys::layer_key(None)]);
        let ids = match layerless {
            Some(none) if none.is_empty() && !rec.layers.is_empty() => self.lookup(&keys),
            _ => None,
        };
        let more: Option<BTreeSet<String>> = ids.map(|ids| {
            ids.iter()
                .map(|id| image_index::shard_of(id))
                .filter(|s| !scope.contains(s))
                .collect()
        });
        self.widen(images, more)
    }

    /// Make a partial `images` whole, keeping the caller's changes.
    pub fn widen_all(&self, images: &mut Images) -> Result<()> {
        self.widen(images, None)
    }

    /// Add the shards `more` (None: all) to a partial `images`, keeping
    /// the caller's changes to what it holds.
    fn widen(&self, images: &mut Images, more: Option<BTreeSet<String>>) -> Result<()> {
        let Some(scope) = images.scope.take() else {
            return Ok(());
        };
        let loaded = match &more {
            Some(more) if more.is_empty() => {
                images.scope = Some(scope);
                return Ok(());
            }
            Some(more) => self.index.load_keys(more)?,
            None => None,
        };
        let (extra, added) = match (loaded, more) {
            (Some(l), Some(more)) => (image_index::flatten(&l.shards), Some(more)),
            _ => (image_index::flatten(&self.index.load()?.shards), None),
        };
        let mine = std::mem::take(&mut images.list);
        images.list = extra
            .into_iter()
            .filter(|r| !scope.contains(&image_index::shard_of(&r.id)))
            .collect();
        images.list.extend(mine);
        images.list.sort_by(|a, b| a.added.cmp(&b.added));
        images.scope = added.map(|a| scope.union(&a).cloned().collect());
        Ok(())
    }

    /// The key index's answer, rebuilding it first when it cannot give one
    /// and the store is free to (nobody, this process included, holds the
    /// lock); None: read the records.
    fn lookup(&self, keys: &[String]) -> Option<BTreeSet<String>> {
        if !self.keys.is_usable() {
            let lock = super::lock::FileLock::try_exclusive(&self.root.join("storage.lock"));
            if let Ok(Some(_held)) = lock {
                let all = self.index.load().ok()?;
                self.keys.rebuild(&image_index::flatten(&all.shards)).ok()?;
            }
        }
        self.keys.lookup(keys)
    }

    /// Write what changed since this process's last load (call with the
    /// lock held, after loading under it).
    pub fn save(&self, images: &Images) -> Result<()> {
        super::crash::point("images-saving");
        if let Some(scope) = &images.scope {
            return self.save_scoped(scope, &images.list);
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Taken: a second save in this process compares with the disk.
        let before = match seen.take() {
            Some(l) => l,
            None => self.index.load()?,
        };
        self.write(&before, &images.list)
    }

    /// A partial list's save: its shards, and new records' shards with the
    /// records already there.
    fn save_scoped(&self, scope: &BTreeSet<String>, list: &[ImageRecord]) -> Result<()> {
        let after: BTreeSet<String> = list.iter().map(|r| image_index::shard_of(&r.id)).collect();
        let all: BTreeSet<String> = scope.union(&after).cloned().collect();
        let Some(before) = self.index.load_keys(&all)? else {
            bail!("the image records changed their layout under the store lock");
        };
        let ids: BTreeSet<&str> = list.iter().map(|r| r.id.as_str()).collect();
        let mut merged = list.to_vec();
        for key in after.difference(scope) {
            merged.extend(
                before.shards[key]
                    .iter()
                    .filter(|r| !ids.contains(r.id.as_str()))
                    .cloned(),
            );
        }
        self.write(&before, &merged)
    }

    /// The records, then the key index: marked dirty across the change,
    /// rebuilt whole when it was not to be trusted.
    fn write(&self, before: &Loaded, records: &[ImageRecord]) -> Result<()> {
        let usable = self.keys.is_usable();
        if usable {
            self.keys.mark_dirty()?;
        }
        let changed = self.index.save(before, records)?;
        super::crash::point("images-written");
        if !usable {
            let all = self.index.load()?;
            return self.keys.rebuild(&image_index::flatten(&all.shards));
        }
        let changed: BTreeSet<String> = changed.into_iter().collect();
        let old: Vec<&ImageRecord> = changed
            .iter()
            .filter_map(|k| before.shards.get(k))
            .flatten()
            .collect();
        let new: Vec<&ImageRecord> = records
            .iter()
            .filter(|r| changed.contains(&image_index::shard_of(&r.id)))
            .collect();
        self.keys.update(&old, &new)
    }

    /// What is wrong with the key index (all records read under the lock).
    pub fn key_index_problems(&self) -> Result<Vec<String>> {
        let all = self.index.load()?;
        Ok(self.keys.problems(&image_index::flatten(&all.shards)))
    }

    /// Rebuild the key index when it is not to be trusted (store lock
    /// held): a writer's first act, with the other leftovers' sweep.
    pub fn heal_key_index(&self) -> Result<()> {
        if self.keys.is_usable() {
            return Ok(());
        }
        self.rebuild_key_index()
    }

    /// Rebuild the key index from the records (store lock held).
    pub fn rebuild_key_index(&self) -> Result<()> {
        let all = self.index.load()?;
        self.keys.rebuild(&image_index::flatten(&all.shards))
    }

    /// Bring an old store's records to the sharded layout (`system
    /// migrate`; any save does it too). Call with the lock held.
    pub fn migrate(&self) -> Result<bool> {
        if !self.index.is_legacy() {
            return Ok(false);
        }
        let images = self.load()?;
        self.save(&images)?;
        Ok(true)
    }
}

impl Images {
    pub fn by_id(&self, id: &str) -> Option<&ImageRecord> {
        self.list.iter().find(|i| i.id == id)
    }

    pub fn by_id_mut(&mut self, id: &str) -> Option<&mut ImageRecord> {
        self.list.iter_mut().find(|i| i.id == id)
    }

    pub fn by_name(&self, name: &str) -> Option<&ImageRecord> {
        self.list.iter().find(|i| i.names.iter().any(|n| n == name))
    }

    /// Images whose id starts with `prefix` (hex only).
    pub fn by_id_prefix(&self, prefix: &str) -> Vec<&ImageRecord> {
        let prefix = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Vec::new();
        }
        let prefix = prefix.to_ascii_lowercase();
        self.list
            .iter()
            .filter(|i| i.id.starts_with(&prefix))
            .collect()
    }

    /// Give `name` to the image `id`, taking it from any image that had it.
    pub fn add_name(&mut self, id: &str, name: &str) -> Result<()> {
        if self.by_id(id).is_none() {
            bail!("image {id} not known");
        }
        for img in self.list.iter_mut() {
            if img.id != id {
                img.names.retain(|n| n != name);
            }
        }
        let img = self.by_id_mut(id).expect("checked above");
        if !img.names.iter().any(|n| n == name) {
            img.names.push(name.to_string());
        }
        img.names_history.retain(|n| n != name);
        img.names_history.insert(0, name.to_string());
        Ok(())
    }

    /// Insert a new record or merge names and digests into an existing one.
    /// Names move to this image from any other that had them.
    pub fn upsert(&mut self, record: ImageRecord) {
        let id = record.id.clone();
        let names = record.names.clone();
        match self.by_id_mut(&id) {
            Some(existing) => {
                for d in record.repo_digests {
                    if !existing.repo_digests.contains(&d) {
                        existing.repo_digests.push(d);
                    }
                }
                for d in record.digests {
                    if !existing.digests.contains(&d) {
                        existing.digests.push(d);
                    }
                }
            }
            None => {
                let mut record = record;
                record.names.clear();
                self.list.push(record);
            }
        }
        for name in names {
            self.add_name(&id, &name)
                .expect("the record was just stored");
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<ImageRecord> {
        let pos = self.list.iter().position(|i| i.id == id)?;
        Some(self.list.remove(pos))
    }

    /// Is `diff_id` used by any image other than `except`?
    pub fn layer_in_use(&self, diff_id: &Digest, except: Option<&str>) -> bool {
        self.list
            .iter()
            .filter(|i| Some(i.id.as_str()) != except)
            .any(|i| i.layers.contains(diff_id))
    }
}
