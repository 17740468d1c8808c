//! Image records, loaded whole and saved by difference under the store lock
//! (the shards and journal on disk: image_index.rs), so a tag move between
//! images is a single change and a change costs what it touches.

use super::digest::Digest;
use super::image_index::{self, ImageIndex, Loaded};
pub use super::image_record::ImageRecord;
use anyhow::{bail, Result};
use std::path::Path;
use std::sync::Mutex;

pub struct ImageStore {
    index: ImageIndex,
    /// What this process last loaded or saved: a save writes the shards
    /// that differ from it.
    seen: Mutex<Option<Loaded>>,
}

/// The loaded image records; change them and `save` while holding the lock.
#[derive(Debug, Default)]
pub struct Images {
    pub list: Vec<ImageRecord>,
}

impl ImageStore {
    pub fn new(root: &Path) -> ImageStore {
        ImageStore {
            index: ImageIndex::new(root),
            seen: Mutex::new(None),
        }
    }

    pub fn load(&self) -> Result<Images> {
        let loaded = self.index.load()?;
        let list = image_index::flatten(&loaded.shards);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(loaded);
        Ok(Images { list })
    }

    /// Write what changed since this process's last load (call with the
    /// lock held, after loading under it).
    pub fn save(&self, images: &Images) -> Result<()> {
        super::crash::point("images-saving");
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Taken: a second save in this process compares with the disk.
        let before = match seen.take() {
            Some(l) => l,
            None => self.index.load()?,
        };
        self.index.save(&before, &images.list)
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
