//! A RUN step under `build --userns-uid-map` and kin runs on a copy of
//! the image's tree with its ids shifted (there is no overlay to record
//! the changes): its layer is the difference between that tree, ids
//! shifted back, and the image's own tree, as a layer tar (`.wh.` names
//! for what the step removed). Extended attributes are not compared or
//! carried; a hard link becomes a copy.

use crate::storage::layer_tar::MtimePolicy;
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Ids as the step's tree has them to the image's.
pub type Unshift<'a> = &'a dyn Fn(u32, u32) -> (u32, u32);

/// The tar of what `new` (the step's tree) changes over `old` (the
/// image's), written to `out`.
pub fn write_diff(
    new: &Path,
    old: &Path,
    unshift: Unshift,
    mtime: MtimePolicy,
    out: impl Write,
) -> Result<()> {
    let mut entries = Vec::new();
    walk(new, old, Path::new(""), unshift, &mut entries)?;
    let mut tar = tar::Builder::new(out);
    for e in entries {
        match e {
            Entry::Whiteout(rel) => {
                let name = rel.file_name().context("whiteout of the root")?;
                let path = rel.with_file_name(format!(".wh.{}", name.to_string_lossy()));
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                h.set_mode(0o644);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(mtime_of(mtime, 0));
                tar.append_data(&mut h, &path, std::io::empty())?;
            }
            Entry::Node(rel) => {
                let src = new.join(&rel);
                let m = fs::symlink_metadata(&src)?;
                let (uid, gid) = unshift(m.uid(), m.gid());
                let mut h = tar::Header::new_gnu();
                h.set_mode(m.mode() & 0o7777);
                h.set_uid(uid.into());
                h.set_gid(gid.into());
                h.set_mtime(mtime_of(mtime, m.mtime().max(0) as u64));
                h.set_size(0);
                let ft = m.file_type();
                if ft.is_dir() {
                    h.set_entry_type(tar::EntryType::Directory);
                    tar.append_data(&mut h, &rel, std::io::empty())?;
                } else if ft.is_symlink() {
                    h.set_entry_type(tar::EntryType::Symlink);
                    let target = fs::read_link(&src)?;
                    tar.append_link(&mut h, &rel, &target)?;
                } else if ft.is_file() {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(m.len());
                    let f = fs::File::open(&src)
                        .with_context(|| format!("reading {}", src.display()))?;
                    tar.append_data(&mut h, &rel, f)?;
                } else if ft.is_char_device() || ft.is_block_device() {
                    h.set_entry_type(if ft.is_char_device() {
                        tar::EntryType::Char
                    } else {
                        tar::EntryType::Block
                    });
                    h.set_device_major(libc::major(m.rdev()))?;
                    h.set_device_minor(libc::minor(m.rdev()))?;
                    tar.append_data(&mut h, &rel, std::io::empty())?;
                } else if ft.is_fifo() {
                    h.set_entry_type(tar::EntryType::Fifo);
                    tar.append_data(&mut h, &rel, std::io::empty())?;
                }
                // Sockets are not carried in layers.
            }
        }
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

fn mtime_of(p: MtimePolicy, own: u64) -> u64 {
    match p {
        MtimePolicy::Keep => own,
        MtimePolicy::Set(t) => t,
        MtimePolicy::Clamp(t) => own.min(t),
    }
}

enum Entry {
    Node(std::path::PathBuf),
    Whiteout(std::path::PathBuf),
}

/// The same as the image has it: kind, mode, owner and (not for
/// directories, whose children are compared instead) times, size, target.
fn same(n: &fs::Metadata, o: &fs::Metadata, unshift: Unshift, new: &Path, old: &Path) -> bool {
    if n.file_type() != o.file_type()
        || n.mode() != o.mode()
        || unshift(n.uid(), n.gid()) != (o.uid(), o.gid())
    {
        return false;
    }
    if n.is_dir() {
        return true;
    }
    if n.file_type().is_symlink() {
        return fs::read_link(new).ok() == fs::read_link(old).ok();
    }
    n.len() == o.len()
        && n.mtime() == o.mtime()
        && n.mtime_nsec() == o.mtime_nsec()
        && n.rdev() == o.rdev()
}

fn walk(
    new_root: &Path,
    old_root: &Path,
    rel: &Path,
    unshift: Unshift,
    out: &mut Vec<Entry>,
) -> Result<()> {
    let new_dir = new_root.join(rel);
    let old_dir = old_root.join(rel);
    let names = |d: &Path| -> BTreeSet<std::ffi::OsString> {
        fs::read_dir(d)
            .map(|r| r.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
            .unwrap_or_default()
    };
    let (new_names, old_names) = (names(&new_dir), names(&old_dir));
    for name in &new_names {
        let r = rel.join(name);
        let (np, op) = (new_root.join(&r), old_root.join(&r));
        let n = fs::symlink_metadata(&np)?;
        let o = fs::symlink_metadata(&op).ok();
        let unchanged = o.as_ref().is_some_and(|o| same(&n, o, unshift, &np, &op));
        if n.is_dir() {
            // A new directory (or one in place of a non-directory): none
            // of its children is found in the image, all of them are taken.
            let mut children = Vec::new();
            walk(new_root, old_root, &r, unshift, &mut children)?;
            if !unchanged || !children.is_empty() {
                out.push(Entry::Node(r));
                out.extend(children);
            }
        } else if !unchanged {
            out.push(Entry::Node(r));
        }
    }
    for name in old_names.difference(&new_names) {
        out.push(Entry::Whiteout(rel.join(name)));
    }
    Ok(())
}
