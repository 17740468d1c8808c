//! Leftovers of invocations that died half way: staging trees and doomed
//! trees in `<root>/tmp`, `.tmp-*` files beside records, containers whose
//! `create` was cut short. Every such name carries its owner's pid and
//! start time (`<pid>_<start>`), so a sweep removes only what belongs to
//! a process that is gone, never a concurrent writer's work in progress.

use super::fsutil::remove_tree;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// This process's owner tag, `<pid>_<start time>`. Recomputed after a
/// fork (the monitor is a fork of the CLI and outlives it).
pub fn owner_tag() -> String {
    static CACHE: Mutex<Option<(i32, u64)>> = Mutex::new(None);
    let pid = std::process::id() as i32;
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let start = match *cache {
        Some((p, s)) if p == pid => s,
        _ => {
            let s = start_time(pid).unwrap_or(0);
            *cache = Some((pid, s));
            s
        }
    };
    format!("{pid}_{start}")
}

/// A fresh name in `tmp` owned by this process: `<prefix><tag>-<nonce>`.
pub fn temp_name(tmp: &Path, prefix: &str) -> PathBuf {
    let nonce: u64 = rand::random();
    tmp.join(format!("{prefix}{}-{nonce:016x}", owner_tag()))
}

/// The owner named in a leftover's file name: the first `-`-separated
/// token that is `<pid>` (older stores) or `<pid>_<start>`.
pub fn owner_of(name: &str) -> Option<(i32, Option<u64>)> {
    name.split('-').find_map(|tok| {
        let (pid, start) = match tok.split_once('_') {
            Some((p, s)) => (p, Some(s.parse::<u64>().ok()?)),
            None => (tok, None),
        };
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((pid.parse().ok()?, start))
    })
}

/// Is the process that named a leftover gone? A reused pid (another start
/// time) and a zombie count as gone; a name without an owner is not ours
/// to judge.
pub fn owner_is_gone(name: &str) -> bool {
    let Some((pid, start)) = owner_of(name) else {
        return false;
    };
    if pid <= 0 {
        return true;
    }
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        // SAFETY: signal 0 only checks for existence (/proc may hide pids).
        let rc = unsafe { libc::kill(pid, 0) };
        return rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM);
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return false;
    };
    let mut fields = rest.split(' ');
    if matches!(fields.next(), Some("Z") | Some("X")) {
        return true;
    }
    match start {
        Some(s) => fields.nth(18).and_then(|f| f.parse::<u64>().ok()) != Some(s),
        None => false,
    }
}

/// Start time of a process in clock ticks since boot (field 22 of stat).
fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// The marker a `create` leaves in tmp/ while it builds a container,
/// `creating-<id>` holding its owner tag, so that a create killed half way
/// is undone by the next sweep (and the container is no container until
/// then: one stat tells).
pub const CREATING: &str = "creating-";

/// Write the marker of a create under way.
pub fn mark_creating(tmp: &Path, id: &str) -> std::io::Result<PathBuf> {
    let marker = tmp.join(format!("{CREATING}{id}"));
    fs::write(&marker, owner_tag())?;
    Ok(marker)
}

/// Is a create of `id` under way, or cut short and not yet swept?
pub fn is_creating(tmp: &Path, id: &str) -> bool {
    tmp.join(format!("{CREATING}{id}")).exists()
}

/// Is the owner of a create marker gone? An unreadable or empty marker
/// (a kill between its creation and its write) counts as gone.
fn creator_is_gone(marker: &Path) -> bool {
    match fs::read_to_string(marker) {
        Ok(tag) if !tag.trim().is_empty() => owner_is_gone(&format!("{}-x", tag.trim())),
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Ids of the containers a `create` is building (or was, when it died and
/// no sweep has run since): not containers yet.
pub fn creating_ids(tmp: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(tmp) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Some(name.strip_prefix(CREATING)?.to_string())
        })
        .collect()
}

/// What one sweep found and removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Paths removed (or taken out of the store) because their owner died.
    pub removed: Vec<PathBuf>,
    /// Ids of containers whose create was cut short.
    pub unfinished_containers: Vec<String>,
}

/// Dead owners' entries in `tmp`: staging and doomed trees, and, given
/// `undo_create` (which takes a container out of the store; call with the
/// store lock held), markers of unfinished creates. Each tree is first claimed by a rename to a
/// name of ours, so two sweepers never delete the same tree at once; a tree
/// that cannot be deleted yet (rootless: files of subordinate ids) stays,
/// under our name, for a later sweep.
pub fn sweep_tmp(tmp: &Path, mut undo_create: Option<&mut dyn FnMut(&str)>) -> Swept {
    let mut swept = Swept::default();
    let Ok(entries) = fs::read_dir(tmp) else {
        return swept;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_prefix(CREATING) {
            let Some(undo) = undo_create.as_mut() else {
                continue;
            };
            if creator_is_gone(&entry.path()) {
                undo(id);
                swept.unfinished_containers.push(id.to_string());
                let _ = fs::remove_file(entry.path());
                swept.removed.push(entry.path());
            }
            continue;
        }
        if !owner_is_gone(&name) {
            continue;
        }
        let claimed = temp_name(tmp, "");
        if fs::rename(entry.path(), &claimed).is_err() {
            continue;
        }
        swept.removed.push(entry.path());
        if fs::symlink_metadata(&claimed).is_ok_and(|m| m.is_dir()) {
            let _ = remove_tree(&claimed);
        } else {
            let _ = fs::remove_file(&claimed);
        }
    }
    swept
}

/// Dead owners' `.tmp-*` files (atomic writes cut short) directly in `dir`.
pub fn sweep_temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-")
            && owner_is_gone(&name)
            && fs::remove_file(entry.path()).is_ok()
        {
            removed.push(entry.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_names() {
        assert_eq!(owner_of("123_456-00ff"), Some((123, Some(456))));
        assert_eq!(owner_of("123-00ff"), Some((123, None)));
        assert_eq!(owner_of("pod-77_8-ab"), Some((77, Some(8))));
        assert_eq!(owner_of(".tmp-9_10-ab-images.json"), Some((9, Some(10))));
        assert_eq!(owner_of("stray"), None);
    }

    #[test]
    fn only_the_dead_are_gone() {
        let me = owner_tag();
        assert!(!owner_is_gone(&format!("{me}-00")));
        let (pid, start) = owner_of(&me).unwrap();
        // Our pid with another start time: a reused pid.
        assert!(owner_is_gone(&format!("{pid}_{}-00", start.unwrap() + 1)));
        assert!(!owner_is_gone("stray"));
    }

    #[test]
    fn sweep_spares_the_living() {
        let dir = std::env::temp_dir().join(format!("coracle-sweep-{}", owner_tag()));
        fs::create_dir_all(&dir).unwrap();
        let mine = temp_name(&dir, "");
        fs::create_dir(&mine).unwrap();
        // Our pid with start time 1: a reused pid, so a dead owner.
        let dead = dir.join(format!("{}_1-00", std::process::id()));
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join("f"), b"x").unwrap();
        let marker = dir.join(format!("{CREATING}{}", "a".repeat(64)));
        fs::write(&marker, format!("{}_1", std::process::id())).unwrap();
        let live = mark_creating(&dir, &"b".repeat(64)).unwrap();
        assert!(is_creating(&dir, &"b".repeat(64)));
        let mut undone = Vec::new();
        let swept = sweep_tmp(&dir, Some(&mut |id: &str| undone.push(id.to_string())));
        assert!(mine.exists() && live.exists());
        assert!(!dead.exists() && !marker.exists());
        assert_eq!(undone, vec!["a".repeat(64)]);
        assert_eq!(swept.removed.len(), 2);
        let _ = fs::remove_dir_all(dir);
    }
}
