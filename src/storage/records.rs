//! What the container and pod stores share: one directory per record,
//! named by its 64-hex id, and a name index beside them.

use super::atomic;
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// A full id: 64 hex digits.
pub fn is_full_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The ids of the records below `dir` (none when it does not exist yet);
/// anything else there (a name that is not an id) is not a record.
pub fn list_ids(dir: &Path, what: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("listing {what}")),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_full_id(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// A fresh name in the store's `tmp/` for a tree on its way out (or in):
/// unique to this process and call.
pub fn tmp_path(tmp: &Path, prefix: &str) -> PathBuf {
    super::leftovers::temp_name(tmp, prefix)
}

/// A names index: one small file per name holding the id, so a name costs
/// one lookup, not a scan. An entry whose id has no record (left by a
/// removal cut short) owns nothing.
pub struct NameIndex {
    dir: PathBuf,
    /// The store's tmp/, where writes are staged (and swept if cut short).
    tmp: PathBuf,
}

impl NameIndex {
    pub fn new(dir: PathBuf, tmp: PathBuf) -> NameIndex {
        NameIndex { dir, tmp }
    }

    /// Every name in the index with the id it holds (stale ones too).
    pub fn entries(&self) -> Vec<(String, String)> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = fs::read_to_string(e.path()).ok()?;
                Some((name, id.trim().to_string()))
            })
            .collect();
        out.sort();
        out
    }

    /// Drop an index entry whatever it holds (a repair of a stale one).
    pub fn forget(&self, name: &str) -> Result<()> {
        match fs::remove_file(self.dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Which id holds `name`; `exists` says whether an id has a record.
    pub fn owner(&self, name: &str, exists: impl FnOnce(&str) -> bool) -> Option<String> {
        if !super::names::is_valid(name) {
            return None;
        }
        let id = fs::read_to_string(self.dir.join(name)).ok()?;
        let id = id.trim().to_string();
        exists(&id).then_some(id)
    }

    /// Take `name` for `id`; false when a live record holds it. Call with
    /// the store lock held.
    pub fn claim(&self, name: &str, id: &str, exists: impl FnOnce(&str) -> bool) -> Result<bool> {
        if let Some(owner) = self.owner(name, exists) {
            return Ok(owner == id);
        }
        fs::create_dir_all(&self.dir)?;
        atomic::write_file_in(&self.tmp, &self.dir.join(name), id.as_bytes(), false)?;
        Ok(true)
    }

    /// Give `name` back, if `id` holds it.
    pub fn release(&self, name: &str, id: &str) {
        let path = self.dir.join(name);
        if fs::read_to_string(&path).is_ok_and(|owner| owner.trim() == id) {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_claims_and_releases() {
        let dir = std::env::temp_dir().join(format!("coracle-names-{}", std::process::id()));
        let idx = NameIndex::new(dir.join("names"), dir.join("tmp"));
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let live = |id: &str| is_full_id(id);
        assert!(idx.claim("web", &a, live).unwrap());
        assert!(idx.claim("web", &a, live).unwrap());
        assert!(!idx.claim("web", &b, live).unwrap());
        assert_eq!(idx.owner("web", live), Some(a.clone()));
        // A stale entry (its record gone) is free to take.
        assert!(idx.claim("web", &b, |id| id == b).unwrap());
        idx.release("web", &a);
        assert_eq!(idx.owner("web", live), Some(b.clone()));
        idx.release("web", &b);
        assert_eq!(idx.owner("web", live), None);
        assert_eq!(idx.owner("../x", |_| true), None);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn full_ids() {
        assert!(is_full_id(&"0f".repeat(32)));
        assert!(!is_full_id(&"0f".repeat(31)));
        assert!(!is_full_id(&"zz".repeat(32)));
    }
}
