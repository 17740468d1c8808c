//! The build context as a root that symlinks cannot leave.
//!
//! Every context path a build reads (COPY/ADD sources, wildcard matches,
//! the ignore file) is resolved with openat2(RESOLVE_IN_ROOT) beneath the
//! context directory, through [`crate::runtime::cp::open_in`]: a link is
//! followed as if the context were `/`, so `s -> /etc/shadow` names
//! `<context>/etc/shadow`, never the host's file. Below a named source,
//! links are entries of their own: a walk reaches each entry through its
//! directory's fd and opens files with O_NOFOLLOW, so a link swapped in
//! while the build runs cannot redirect a read either.

use super::ignore::Matcher;
use crate::runtime::cp::{fd_path, open_in};
use anyhow::{Context, Result};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The context directory, held open.
#[derive(Debug)]
pub struct ContextRoot {
    fd: OwnedFd,
    path: PathBuf,
}

/// One source entry and how to read it without leaving its root.
#[derive(Debug)]
pub struct Entry {
    pub meta: fs::Metadata,
    /// A path naming exactly this entry: `/proc/self/fd/N` for a followed
    /// name, `/proc/self/fd/DIR/name` for an entry met in a walk.
    path: PathBuf,
    /// Whether opening `path` may follow a final link (only the magic
    /// `/proc/self/fd/N`, which leads to the entry itself).
    follow: bool,
    /// The fd `path` names, kept open as long as the entry.
    _held: Option<OwnedFd>,
    /// Where the user would look for it (for messages).
    shown: PathBuf,
}

impl Entry {
    /// An entry at a path that passes through no link an attacker could
    /// place (the store's layers, the build's scratch files); a final link
    /// is never followed.
    pub fn unlinked(path: &Path, meta: fs::Metadata) -> Entry {
        Entry {
            meta,
            path: path.to_path_buf(),
            follow: false,
            _held: None,
            shown: path.to_path_buf(),
        }
    }

    fn options(&self, extra: i32) -> OpenOptions {
        let mut o = OpenOptions::new();
        o.read(true);
        o.custom_flags(extra | if self.follow { 0 } else { libc::O_NOFOLLOW });
        o
    }

    /// The entry's bytes; a link here is an error, never followed.
    pub fn open(&self) -> io::Result<File> {
        self.options(0).open(&self.path)
    }

    fn open_dir(&self) -> io::Result<File> {
        self.options(libc::O_DIRECTORY).open(&self.path)
    }

    /// The target of a link entry.
    pub fn read_link(&self) -> io::Result<PathBuf> {
        fs::read_link(&self.path)
    }

    /// Where the user would look for it, for messages (not for opening).
    pub fn shown(&self) -> &Path {
        &self.shown
    }
}

impl super::glob::Tree for ContextRoot {
    fn has_entry(&self, rel: &str) -> bool {
        ContextRoot::has_entry(self, rel)
    }
    fn names(&self, rel: &str) -> io::Result<Vec<OsString>> {
        ContextRoot::names(self, rel)
    }
}

impl ContextRoot {
    /// The context's `.containerignore` (or `.dockerignore`) patterns.
    pub fn ignore_matcher(&self) -> Result<Matcher, super::ignore::IgnoreError> {
        Matcher::from_context_files(self.path(), |name| self.read_to_string(name))
    }

    pub fn open(dir: &Path) -> Result<ContextRoot> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(dir)
            .with_context(|| format!("opening the build context {}", dir.display()))?;
        Ok(ContextRoot {
            fd: f.into(),
            path: dir.to_path_buf(),
        })
    }

    /// The context directory as the user named it (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_at(&self, rel: &str, flags: i32) -> io::Result<OwnedFd> {
        open_in(self.fd.as_fd(), rel.as_bytes(), flags)
    }

    /// `rel` with every link on the way, the last one included, followed
    /// inside the context. An error when it leads nowhere there.
    pub fn entry(&self, rel: &str) -> io::Result<Entry> {
        let f = File::from(self.open_at(rel, libc::O_PATH)?);
        let meta = f.metadata()?;
        let fd = OwnedFd::from(f);
        Ok(Entry {
            meta,
            path: fd_path(fd.as_fd()),
            follow: true,
            _held: Some(fd),
            shown: self.path.join(rel),
        })
    }

    /// Whether `rel` names an entry (a link counts as itself; links in its
    /// parents are followed inside the context).
    pub fn has_entry(&self, rel: &str) -> bool {
        self.open_at(rel, libc::O_PATH | libc::O_NOFOLLOW).is_ok()
    }

    /// Whether `rel`, followed inside the context, is a directory.
    pub fn is_dir(&self, rel: &str) -> bool {
        self.entry(rel).is_ok_and(|e| e.meta.is_dir())
    }

    pub fn read_to_string(&self, rel: &str) -> io::Result<String> {
        let mut s = String::new();
        File::from(self.open_at(rel, libc::O_RDONLY)?).read_to_string(&mut s)?;
        Ok(s)
    }

    /// The names in directory `rel` (followed inside the context), sorted.
    pub fn names(&self, rel: &str) -> io::Result<Vec<OsString>> {
        let dir = File::from(self.open_at(rel, libc::O_RDONLY | libc::O_DIRECTORY)?);
        let mut names = fs::read_dir(fd_path(dir.as_fd()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort();
        Ok(names)
    }

    /// Visit `rel` (followed inside the context when it is a link, as
    /// Docker copies what a named link points to) and, for a directory,
    /// everything under it the ignore rules keep, in name order.
    pub fn walk(
        &self,
        matcher: &Matcher,
        rel: &str,
        f: &mut dyn FnMut(&str, &Entry) -> Result<()>,
    ) -> Result<()> {
        let top = self
            .entry(rel)
            .with_context(|| format!("reading {}", self.path.join(rel).display()))?;
        f(rel, &top)?;
        if top.meta.is_dir() {
            walk_below(matcher, rel, &top, f)?;
        }
        Ok(())
    }
}

/// Visit what directory entry `dir` (context path `rel`) holds, not the
/// directory itself. Links below are entries, never followed.
pub fn walk_below(
    matcher: &Matcher,
    rel: &str,
    dir: &Entry,
    f: &mut dyn FnMut(&str, &Entry) -> Result<()>,
) -> Result<()> {
    let opened = dir
        .open_dir()
        .with_context(|| format!("reading {}", dir.shown.display()))?;
    let base = fd_path(opened.as_fd());
    let mut names = fs::read_dir(&base)
        .with_context(|| format!("reading {}", dir.shown.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    for name in names {
        let child = if rel.is_empty() {
            name.to_string_lossy().into_owned()
        } else {
            format!("{rel}/{}", name.to_string_lossy())
        };
        let path = base.join(&name);
        let meta = fs::symlink_metadata(&path)?;
        let entry = Entry {
            meta,
            path,
            follow: false,
            _held: None,
            shown: dir.shown.join(&name),
        };
        let is_dir = entry.meta.is_dir();
        let excluded = !matcher.is_empty() && matcher.is_excluded(&child, is_dir);
        if !excluded {
            f(&child, &entry)?;
        }
        if is_dir && (!excluded || matcher.must_descend(&child)) {
            walk_below(matcher, &child, &entry, f)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_context() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "host").unwrap();
        let ctx = tempfile::tempdir().unwrap();
        let c = ctx.path();
        fs::create_dir_all(c.join("tmp/d")).unwrap();
        fs::write(c.join("tmp/d/f"), "inside").unwrap();
        let abs = outside.path().join("secret");
        std::os::unix::fs::symlink(&abs, c.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../..", c.join("up")).unwrap();
        std::os::unix::fs::symlink("/tmp", c.join("t")).unwrap();
        let root = ContextRoot::open(c).unwrap();
        assert!(
            root.entry("abs").is_err(),
            "a host path is not in the context"
        );
        assert!(root.has_entry("abs"), "the link itself is");
        let rel = format!("up{}", abs.display());
        assert!(root.read_to_string(&rel).is_err());
        assert_eq!(root.read_to_string("t/d/f").unwrap(), "inside");
        assert!(root.is_dir("up/tmp/d"));
        let mut seen = Vec::new();
        root.walk(&Matcher::default(), "t", &mut |r, e| {
            seen.push((r.to_string(), e.meta.is_dir()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                ("t".to_string(), true),
                ("t/d".to_string(), true),
                ("t/d/f".to_string(), false)
            ]
        );
    }
}
