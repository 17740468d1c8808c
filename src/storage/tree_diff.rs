//! What differs between two root filesystems, each a stack of layer
//! directories in overlay's format (whiteouts, opaque directories): the
//! second `diff` argument and `image diff A B`. Each stack is merged into
//! one map of paths first, then the maps are compared as containers/storage
//! compares trees: mode, owner and device always, size, mtime and a link's
//! target for all but directories; a directory holding a change is itself
//! changed.

use super::commit::{xattr, ChangeKind};
use super::unpack::XattrPrefix;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    mode: u32,
    uid: u32,
    gid: u32,
    rdev: u64,
    size: u64,
    mtime: (i64, i64),
    link: Option<PathBuf>,
}

impl Entry {
    fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    fn differs(&self, other: &Entry) -> bool {
        let meta = (self.mode, self.uid, self.gid, self.rdev)
            != (other.mode, other.uid, other.gid, other.rdev);
        // A tar loses nanoseconds: zero matches any, as in containers/storage.
        let (a, b) = (self.mtime, other.mtime);
        let same_time = a.0 == b.0 && (a.1 == b.1 || a.1 == 0 || b.1 == 0);
        meta || (!self.is_dir()
            && (!same_time || (self.size, &self.link) != (other.size, &other.link)))
    }
}

type Tree = BTreeMap<String, Entry>;

/// Drop `path` and everything below it.
fn remove_subtree(tree: &mut Tree, path: &str, keep_self: bool) {
    let below = format!("{path}/");
    let doomed: Vec<String> = tree
        .range(path.to_string()..)
        .map(|(k, _)| k)
        .take_while(|k| *k == path || k.starts_with(&below) || k.as_str() < below.as_str())
        .filter(|k| k.starts_with(&below) || (!keep_self && *k == path))
        .cloned()
        .collect();
    for k in doomed {
        tree.remove(&k);
    }
}

fn apply_layer(dir: &Path, rel: &str, prefix: XattrPrefix, tree: &mut Tree) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries {
        let e = e?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let key = format!("{rel}/{name}");
        let st = std::fs::symlink_metadata(&path)?;
        let whiteout = (st.file_type().is_char_device() && st.rdev() == 0)
            || (st.is_file()
                && st.len() == 0
                && xattr(&path, &format!("{}whiteout", prefix.as_str())).is_some());
        if whiteout {
            remove_subtree(tree, &key, false);
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            // Tar-style whiteouts, as a vfs copy keeps them.
            if hidden == ".wh..opq" {
                remove_subtree(tree, rel, true);
            } else {
                remove_subtree(tree, &format!("{rel}/{hidden}"), false);
            }
            continue;
        }
        // A file replacing a directory, or an opaque directory, hides
        // everything below it.
        let opaque =
            || xattr(&path, &format!("{}opaque", prefix.as_str())).as_deref() == Some(b"y");
        if !st.is_dir() || opaque() {
            remove_subtree(tree, &key, true);
        }
        tree.insert(
            key.clone(),
            Entry {
                mode: st.mode(),
                uid: st.uid(),
                gid: st.gid(),
                rdev: st.rdev(),
                size: st.len(),
                mtime: (st.mtime(), st.mtime_nsec()),
                link: std::fs::read_link(&path).ok(),
            },
        );
        if st.is_dir() {
            apply_layer(&path, &key, prefix, tree)?;
        }
    }
    Ok(())
}

fn merged(layers: &[PathBuf], prefix: XattrPrefix) -> Result<Tree> {
    let mut tree = Tree::new();
    for l in layers {
        apply_layer(l, "", prefix, &mut tree)?;
    }
    Ok(tree)
}

/// How the filesystem of `layers` (base first) differs from that of
/// `base`: sorted by path. `ignore`d paths (and what is below them) are
/// left out of both.
pub fn compare(
    layers: &[PathBuf],
    base: &[PathBuf],
    prefix: XattrPrefix,
    ignore: &[&str],
) -> Result<Vec<(String, ChangeKind)>> {
    let mut new = merged(layers, prefix)?;
    let mut old = merged(base, prefix)?;
    for p in ignore {
        remove_subtree(&mut new, p, false);
        remove_subtree(&mut old, p, false);
    }
    let mut out: BTreeMap<String, ChangeKind> = BTreeMap::new();
    for (p, e) in &new {
        match old.get(p) {
            None => {
                out.insert(p.clone(), ChangeKind::Added);
            }
            Some(o) if e.differs(o) => {
                out.insert(p.clone(), ChangeKind::Changed);
            }
            Some(_) => {}
        }
    }
    // A deleted directory is one line, not one per thing it held.
    let gone = |p: &str| old.contains_key(p) && !new.contains_key(p);
    for p in old.keys().filter(|p| gone(p)) {
        let parent = p.rsplit_once('/').map_or("", |(d, _)| d);
        if parent.is_empty() || !gone(parent) {
            out.insert(p.clone(), ChangeKind::Deleted);
        }
    }
    // A directory that holds a change has changed, where it is in both.
    let changed: Vec<String> = out.keys().cloned().collect();
    for p in changed {
        let mut cur = p.as_str();
        while let Some((parent, _)) = cur.rsplit_once('/') {
            if parent.is_empty() {
                break;
            }
            if new.contains_key(parent) && old.contains_key(parent) {
                out.entry(parent.to_string()).or_insert(ChangeKind::Changed);
            }
            cur = parent;
        }
    }
    Ok(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtrees_go_whole() {
        let e = || Entry {
            mode: 0,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 0,
            mtime: (0, 0),
            link: None,
        };
        let mut t = Tree::new();
        for k in ["/a", "/a/b", "/a/b/c", "/a-x", "/ab"] {
            t.insert(k.to_string(), e());
        }
        remove_subtree(&mut t, "/a", true);
        assert_eq!(t.keys().collect::<Vec<_>>(), ["/a", "/a-x", "/ab"]);
        remove_subtree(&mut t, "/a", false);
        assert_eq!(t.keys().collect::<Vec<_>>(), ["/a-x", "/ab"]);
    }
}
