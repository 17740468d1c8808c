//! Write a layer directory ("diff" dir) as an OCI layer tar: the inverse of
//! `unpack_layer`. Used by push, and later by commit, save and diff.
//!
//! The stream is deterministic (entries sorted by name, mtimes in whole
//! seconds, no user/group names), so the same directory always gives the
//! same diff id. Overlay whiteouts become OCI ones: a 0/0 character device
//! or an xattr whiteout -> `.wh.NAME`; a directory marked `opaque=y` -> its
//! entry followed by `DIR/.wh..wh..opq`. Overlay xattrs never leave.
//!
//! Rootless, call it inside the user namespace: stat() there shows the
//! container-side owners the tar must carry, and 0700 directories owned by
//! subordinate ids are readable.

use super::compression::{compress_writer_at, Compression};
use super::digest::{Digest, HashingWriter};
use super::unpack::XattrPrefix;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use tar::{Builder, EntryType, Header};

#[derive(Clone, Copy, Debug)]
pub struct LayerTarOptions {
    /// The overlay xattr namespace whiteout/opaque markers are read from.
    pub xattr_prefix: XattrPrefix,
    /// The modification times written (`build --timestamp`,
    /// `--rewrite-timestamp`): files' own unless set.
    pub mtime: MtimePolicy,
}

/// What a layer tar records as its entries' modification times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MtimePolicy {
    /// Each file's own.
    #[default]
    Keep,
    /// This time for every entry (seconds since the epoch).
    Set(u64),
    /// Each file's own, but never later than this.
    Clamp(u64),
}

impl MtimePolicy {
    fn apply(self, own: u64) -> u64 {
        match self {
            MtimePolicy::Keep => own,
            MtimePolicy::Set(t) => t,
            MtimePolicy::Clamp(t) => own.min(t),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerTarStats {
    /// Entries written (whiteouts and opaque markers included).
    pub entries: u64,
    /// Bytes of regular file data.
    pub bytes: u64,
}

/// Write `dir` as an uncompressed layer tar into `out`; returns `out` so the
/// caller can finish what wraps it (a compressor, a hasher).
pub fn write_layer_tar<W: Write>(
    dir: &Path,
    out: W,
    opts: &LayerTarOptions,
) -> Result<(W, LayerTarStats)> {
    let mut w = Writer {
        builder: Builder::new(out),
        opts: *opts,
        links: HashMap::new(),
        stats: LayerTarStats::default(),
    };
    let meta = fs::symlink_metadata(dir)
        .with_context(|| format!("reading layer directory {}", dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    w.children(dir, Path::new(""))?;
    let out = w.builder.into_inner().context("finishing layer tar")?;
    Ok((out, w.stats))
}

struct Writer<W: Write> {
    builder: Builder<W>,
    opts: LayerTarOptions,
    /// (dev, ino) of multiply-linked files already written -> their name, so
    /// later names become hard links within the layer.
    links: HashMap<(u64, u64), PathBuf>,
    stats: LayerTarStats,
}

const OVERLAY_PREFIXES: [&str; 2] = ["trusted.overlay.", "user.overlay."];

impl<W: Write> Writer<W> {
    /// Every child of `abs` (its archive name `rel`), sorted by name bytes.
    fn children(&mut self, abs: &Path, rel: &Path) -> Result<()> {
        let mut names: Vec<OsString> = fs::read_dir(abs)
            .with_context(|| format!("reading {}", abs.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .with_context(|| format!("reading {}", abs.display()))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let child_abs = abs.join(&name);
            let child_rel = rel.join(&name);
            self.entry(&child_abs, &child_rel, &name)
                .with_context(|| format!("layer entry {:?}", child_rel))?;
        }
        Ok(())
    }

    fn entry(&mut self, abs: &Path, rel: &Path, name: &OsStr) -> Result<()> {
        let st = fs::symlink_metadata(abs)?;
        let ft = st.file_type();
        let xattrs = list_xattrs(abs)?;
        let prefix = self.opts.xattr_prefix.as_str();
        let marker = |suffix: &str| -> Option<&[u8]> {
            let key = format!("{prefix}{suffix}");
            xattrs
                .iter()
                .find(|(k, _)| k.as_bytes() == key.as_bytes())
                .map(|(_, v)| v.as_slice())
        };

        // Deletions: overlay's two whiteout forms -> `.wh.NAME`.
        let is_whiteout = (ft.is_char_device() && st.rdev() == 0)
            || (ft.is_file() && st.size() == 0 && marker("whiteout").is_some());
        if is_whiteout {
            let mut wh = OsString::from(".wh.");
            wh.push(name);
            let path = rel.with_file_name(wh);
            let mut h = self.header(&st, EntryType::Regular);
            // A whiteout's own metadata means nothing; keep it neutral.
            h.set_mode(0o600);
            h.set_uid(0);
            h.set_gid(0);
            h.set_size(0);
            self.builder.append_data(&mut h, &path, io::empty())?;
            self.stats.entries += 1;
            return Ok(());
        }

        let keep: Vec<&(CString, Vec<u8>)> = xattrs
            .iter()
            .filter(|(k, _)| {
                let k = k.as_bytes();
                !OVERLAY_PREFIXES.iter().any(|p| k.starts_with(p.as_bytes()))
            })
            .collect();
        if !keep.is_empty() {
            self.pax_xattrs(rel, &keep)?;
        }

        if ft.is_dir() {
            let opaque = marker("opaque") == Some(b"y");
            let mut h = self.header(&st, EntryType::Directory);
            h.set_size(0);
            let mut dir_name = rel.as_os_str().to_owned();
            dir_name.push("/");
            self.builder.append_data(&mut h, &dir_name, io::empty())?;
            self.stats.entries += 1;
            if opaque {
                let mut m = self.header(&st, EntryType::Regular);
                m.set_mode(0o600);
                m.set_uid(0);
                m.set_gid(0);
                m.set_size(0);
                self.builder
                    .append_data(&mut m, rel.join(".wh..wh..opq"), io::empty())?;
                self.stats.entries += 1;
            }
            return self.children(abs, rel);
        }
        if ft.is_symlink() {
            let target = fs::read_link(abs)?;
            let mut h = self.header(&st, EntryType::Symlink);
            h.set_size(0);
            self.builder.append_link(&mut h, rel, &target)?;
        } else if ft.is_file() {
            if st.nlink() > 1 {
                let key = (st.dev(), st.ino());
                if let Some(first) = self.links.get(&key) {
                    let mut h = self.header(&st, EntryType::Link);
                    h.set_size(0);
                    let first = first.clone();
                    self.builder.append_link(&mut h, rel, &first)?;
                    self.stats.entries += 1;
                    return Ok(());
                }
                self.links.insert(key, rel.to_path_buf());
            }
            let file = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(abs)?;
            let mut h = self.header(&st, EntryType::Regular);
            h.set_size(st.size());
            // A file that changes size while read would corrupt the stream:
            // read exactly the size in the header, and fail if it shrank.
            let mut data = Exact {
                inner: file,
                left: st.size(),
            };
            self.builder.append_data(&mut h, rel, &mut data)?;
            if data.left != 0 {
                anyhow::bail!("file shrank while being archived");
            }
            self.stats.bytes += st.size();
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                EntryType::Char
            } else if ft.is_block_device() {
                EntryType::Block
            } else {
                EntryType::Fifo
            };
            let mut h = self.header(&st, kind);
            h.set_size(0);
            if kind != EntryType::Fifo {
                let rdev = st.rdev();
                h.set_device_major(libc::major(rdev))?;
                h.set_device_minor(libc::minor(rdev))?;
            }
            self.builder.append_data(&mut h, rel, io::empty())?;
        } else {
            // Sockets have no tar form (nor meaning in an image).
            crate::debug!("skipping socket {}", rel.display());
            return Ok(());
        }
        self.stats.entries += 1;
        Ok(())
    }

    fn header(&self, st: &fs::Metadata, kind: EntryType) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(st.mode() & 0o7777);
        h.set_uid(st.uid() as u64);
        h.set_gid(st.gid() as u64);
        h.set_mtime(self.opts.mtime.apply(st.mtime().max(0) as u64));
        h
    }

    /// A PAX extended header carrying `SCHILY.xattr.*` for the next entry.
    fn pax_xattrs(&mut self, rel: &Path, xattrs: &[&(CString, Vec<u8>)]) -> Result<()> {
        let mut data = Vec::new();
        for (k, v) in xattrs {
            let mut kv = b"SCHILY.xattr.".to_vec();
            kv.extend_from_slice(k.as_bytes());
            kv.push(b'=');
            kv.extend_from_slice(v);
            kv.push(b'\n');
            data.extend_from_slice(&pax_record(&kv));
        }
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::XHeader);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        // The name is informational; keep it short enough for any header.
        let base = rel
            .file_name()
            .map(|n| n.as_bytes())
            .unwrap_or(b"root")
            .iter()
            .take(80)
            .copied()
            .collect::<Vec<u8>>();
        let mut name = b"PaxHeaders/".to_vec();
        name.extend_from_slice(&base);
        h.set_path(OsStr::from_bytes(&name))
            .or_else(|_| h.set_path("PaxHeaders/entry"))?;
        h.set_cksum();
        self.builder.append(&h, &data[..])?;
        Ok(())
    }
}

/// `"LEN key=value\n"`, where LEN counts the whole record, itself included.
fn pax_record(kv_nl: &[u8]) -> Vec<u8> {
    let mut len = kv_nl.len() + 2;
    loop {
        let candidate = kv_nl.len() + 1 + len.to_string().len();
        if candidate == len {
            break;
        }
        len = candidate;
    }
    let mut out = format!("{len} ").into_bytes();
    out.extend_from_slice(kv_nl);
    out
}

struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: io::Read> io::Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Every xattr of `path` (not following a symlink), sorted by name. Names
/// the process may not read (`trusted.*` rootless) are left out.
fn list_xattrs(path: &Path) -> Result<Vec<(CString, Vec<u8>)>> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    let mut names = vec![0u8; 1024];
    let n = loop {
        // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
        let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ERANGE) => names.resize(names.len() * 4, 0),
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            _ => return Err(err).context("listing xattrs"),
        }
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let key = CString::new(name.to_vec())?;
        if let Some(v) = get_xattr(&c, &key)? {
            out.push((key, v));
        }
    }
    out.sort();
    Ok(out)
}

fn get_xattr(path: &CString, name: &CString) -> Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            Some(libc::ENODATA) | Some(libc::EPERM) | Some(libc::EACCES) => return Ok(None),
            _ => {
                return Err(err).with_context(|| {
                    format!("reading xattr {}", String::from_utf8_lossy(name.as_bytes()))
                })
            }
        }
    }
}

/// A layer written out as a (possibly compressed) blob file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerBlob {
    /// Digest and size of the blob as written (compressed or not).
    pub digest: Digest,
    pub size: u64,
    /// Digest and size of the tar inside: the diff id it carries, which
    /// may differ from the one the layer was stored under when the layer
    /// came as a tar this writer would not make byte for byte.
    pub diff_id: Digest,
    pub tar_size: u64,
}

/// Write the layer directory `dir` as a blob compressed with `c` into the
/// new file `dest`. Used by push and save.
pub fn write_layer_blob(
    dir: &Path,
    opts: &LayerTarOptions,
    c: Compression,
    dest: &Path,
) -> Result<LayerBlob> {
    write_layer_blob_at(dir, opts, (c, None), dest)
}

/// As [`write_layer_blob`], compressed at a level (`push --compression-level`).
pub fn write_layer_blob_at(
    dir: &Path,
    opts: &LayerTarOptions,
    (c, level): (Compression, Option<i32>),
    dest: &Path,
) -> Result<LayerBlob> {
    let file = fs::File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
    let hashed = HashingWriter::new(io::BufWriter::with_capacity(256 << 10, file));
    let compressed = compress_writer_at(hashed, c, level)?;
    let tar = HashingWriter::new(compressed);
    let (tar, _) = write_layer_tar(dir, tar, opts)
        .with_context(|| format!("reading layer {}", dir.display()))?;
    let (compressed, diff_id, tar_size) = tar.finish();
    let hashed = compressed.finish().context("compressing layer")?;
    let (mut buffered, digest, size) = hashed.finish();
    buffered.flush().context("writing layer blob")?;
    Ok(LayerBlob {
        digest,
        size,
        diff_id,
        tar_size,
    })
}

#[cfg(test)]
/// Convenience for tests and small layers: the whole tar in memory.
pub fn layer_tar_bytes(dir: &Path, opts: &LayerTarOptions) -> Result<Vec<u8>> {
    Ok(write_layer_tar(dir, Vec::new(), opts)?.0)
}

#[cfg(test)]
mod tests;
