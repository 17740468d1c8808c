//! COPY and ADD: which files a step takes (context, heredoc, another stage
//! or image, URL), a hash of them for the cache, and writing them into a
//! fresh layer directory with Docker's rules (a directory source copies its
//! contents; a destination ending in `/`, or an existing directory, receives
//! files by name; several sources need a directory).
//!
//! Writing happens in a plain directory, not through a container: it only
//! ever adds files, so the directory is already the step's layer. Rootless
//! it runs inside the user namespace, where the owners it sets are the
//! container's ids.

use super::ignore::{clean_path, Matcher};
use crate::storage::digest::Hasher;
use crate::storage::fsutil::{lchown, remove_any, set_mtime};
use crate::storage::unpack::{self, XattrPrefix};
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The merged view of an image's layers, read without mounting them.
#[derive(Clone, Debug, Default)]
pub struct ImageView {
    /// Layer diff directories, lowest first.
    pub layers: Vec<PathBuf>,
    pub prefix: Option<XattrPrefix>,
}

fn lgetxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = [0u8; 16];
    // SAFETY: lgetxattr writes at most buf.len() bytes.
    let len = unsafe {
        libc::lgetxattr(
            p.as_ptr(),
            n.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
        )
    };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

impl ImageView {
    fn is_whiteout(&self, path: &Path, meta: &fs::Metadata) -> bool {
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            return true;
        }
        let prefix = self
            .prefix
            .map(|p| p.as_str())
            .unwrap_or("trusted.overlay.");
        meta.is_file() && meta.len() == 0 && lgetxattr(path, &format!("{prefix}whiteout")).is_some()
    }

    fn is_opaque(&self, path: &Path) -> bool {
        let prefix = self
            .prefix
            .map(|p| p.as_str())
            .unwrap_or("trusted.overlay.");
        lgetxattr(path, &format!("{prefix}opaque")).is_some_and(|v| v == b"y")
    }

    /// The topmost layer entry for `rel` (no leading `/`), not following a
    /// final symlink; None when absent or deleted.
    pub fn find(&self, rel: &str) -> Option<(PathBuf, fs::Metadata)> {
        let rel = rel.trim_start_matches('/');
        for layer in self.layers.iter().rev() {
            let p = if rel.is_empty() {
                layer.clone()
            } else {
                layer.join(rel)
            };
            if let Ok(m) = fs::symlink_metadata(&p) {
                if self.is_whiteout(&p, &m) {
                    return None;
                }
                return Some((p, m));
            }
        }
        None
    }

    pub fn read_to_string(&self, rel: &str) -> Option<String> {
        let (p, m) = self.find(rel)?;
        m.is_file().then(|| fs::read_to_string(p).ok()).flatten()
    }

    /// The layers that make up directory `rel`, lowest first: those above
    /// the last one that replaced or made it opaque.
    fn dir_layers(&self, rel: &str) -> Vec<PathBuf> {
        let rel = rel.trim_start_matches('/');
        let mut out = Vec::new();
        for layer in self.layers.iter().rev() {
            let p = if rel.is_empty() {
                layer.clone()
            } else {
                layer.join(rel)
            };
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    out.push(p.clone());
                    if self.is_opaque(&p) {
                        break;
                    }
                }
                Ok(_) => break,
                Err(_) => {}
            }
        }
        out.reverse();
        out
    }
}

/// Owner and mode choices of a COPY/ADD.
#[derive(Clone, Copy, Debug, Default)]
pub struct Attrs {
    /// `--chown`; None: root for context files, kept for `--from` files.
    pub owner: Option<(u32, u32)>,
    /// `--chmod`.
    pub mode: Option<u32>,
}

/// `--chmod=755`: octal only, as Docker.
pub fn parse_chmod(s: &str) -> Result<u32> {
    let m = u32::from_str_radix(s, 8).with_context(|| format!("invalid --chmod {s:?}"))?;
    if m > 0o7777 {
        bail!("invalid --chmod {s:?}");
    }
    Ok(m)
}

/// `--chown=user[:group]` resolved in the image's /etc/passwd and
/// /etc/group. A bare number is both uid and gid, as Docker has it.
pub fn resolve_chown(spec: &str, view: &ImageView) -> Result<(u32, u32)> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok((n, n));
    }
    let passwd = view.read_to_string("etc/passwd").unwrap_or_default();
    let group = view.read_to_string("etc/group").unwrap_or_default();
    let (user, grp) = spec.split_once(':').unwrap_or((spec, ""));
    let uid_gid = crate::runtime::user::resolve(user, &passwd, &group)
        .with_context(|| format!("looking up user {user:?} for --chown"))?;
    let gid = if grp.is_empty() {
        uid_gid.gid
    } else if let Ok(g) = grp.parse::<u32>() {
        g
    } else {
        group
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 3 && f[0] == grp).then(|| f[2].parse().ok())?
            })
            .with_context(|| format!("unable to find group {grp} for --chown"))?
    };
    Ok((uid_gid.uid, gid))
}

/// One thing a COPY/ADD step takes.
#[derive(Clone, Debug)]
pub enum Item {
    /// A context path (relative to the context, for the ignore rules).
    Context { rel: String },
    /// A path in another stage's or an image's layers.
    Image { rel: String },
    /// `COPY <<name`: a file `name` holding `content`.
    Heredoc { name: String, content: String },
    /// ADD of a URL: the fetched file, and the name it gets.
    Fetched { path: PathBuf, name: String },
}

/// Everything needed to write a COPY/ADD layer; plain data, so a child in
/// the user namespace can act on it.
#[derive(Clone, Debug)]
pub struct CopyPlan {
    pub context: PathBuf,
    pub matcher: Matcher,
    pub from: Option<ImageView>,
    /// The image the step writes on (for existing directories, users).
    pub base: ImageView,
    pub items: Vec<Item>,
    /// Absolute destination in the container.
    pub dest: String,
    pub attrs: Attrs,
    /// ADD: extract local archives.
    pub extract: bool,
}

fn not_found(context: &Path, rel: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "checking on sources under {:?}: copier: stat: {:?}: no such file or directory",
        context.display().to_string(),
        format!("/{rel}")
    )
}

/// Context sources named by `pattern` (wildcards allowed), relative to the
/// context, with excluded ones left out. None match: an error naming it.
pub fn context_sources(context: &Path, matcher: &Matcher, pattern: &str) -> Result<Vec<String>> {
    let cleaned = clean_path(&format!("/{pattern}"));
    let rel = cleaned.trim_start_matches('/').to_string();
    let found: Vec<String> = if super::glob::has_wildcards(&rel) {
        super::glob::expand_sources(context, &rel)
            .with_context(|| format!("expanding {pattern}"))?
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    } else if fs::symlink_metadata(context.join(&rel)).is_ok() || rel.is_empty() {
        vec![rel.clone()]
    } else {
        Vec::new()
    };
    let kept: Vec<String> = found
        .into_iter()
        .filter(|r| {
            r.is_empty() || {
                let is_dir = context.join(r).is_dir();
                !matcher.is_excluded(r, is_dir) || (is_dir && matcher.must_descend(r))
            }
        })
        .collect();
    if kept.is_empty() {
        return Err(not_found(context, &rel));
    }
    Ok(kept)
}

/// Visit `rel` (a context path) and, for a directory, everything under it
/// the ignore rules keep, in name order. The top is followed when it is a
/// symlink (Docker copies what a named link points to); below, links are
/// entries of their own.
fn walk_context(
    context: &Path,
    matcher: &Matcher,
    rel: &str,
    f: &mut dyn FnMut(&str, &Path, &fs::Metadata) -> Result<()>,
) -> Result<()> {
    let top = context.join(rel);
    let meta = fs::metadata(&top).with_context(|| format!("reading {}", top.display()))?;
    f(rel, &top, &meta)?;
    if meta.is_dir() {
        walk_dir(context, matcher, rel, f)?;
    }
    Ok(())
}

fn walk_dir(
    context: &Path,
    matcher: &Matcher,
    rel: &str,
    f: &mut dyn FnMut(&str, &Path, &fs::Metadata) -> Result<()>,
) -> Result<()> {
    let dir = context.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let child = if rel.is_empty() {
            name.to_string_lossy().into_owned()
        } else {
            format!("{rel}/{}", name.to_string_lossy())
        };
        let path = e.path();
        let meta = fs::symlink_metadata(&path)?;
        let excluded = !matcher.is_empty() && matcher.is_excluded(&child, meta.is_dir());
        if !excluded {
            f(&child, &path, &meta)?;
        }
        if meta.is_dir() && (!excluded || matcher.must_descend(&child)) {
            walk_dir(context, matcher, &child, f)?;
        }
    }
    Ok(())
}

/// A cheap fingerprint of context sources from `stat` alone (names, types,
/// modes, owners, sizes, change times and inodes), and their content hash
/// (names, modes, owners, link targets and bytes), which is what the cache
/// key uses. `known` maps a fingerprint to a content hash computed before:
/// when it answers, no file is read.
pub fn hash_context_sources(
    context: &Path,
    matcher: &Matcher,
    rels: &[String],
    known: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, String)> {
    let mut stat = Hasher::new();
    let mut files: Vec<(String, PathBuf, fs::Metadata)> = Vec::new();
    for rel in rels {
        stat.update(format!("src {rel}\0").as_bytes());
        walk_context(context, matcher, rel, &mut |r, p, m| {
            stat.update(
                format!(
                    "{r}\0{:o} {} {} {} {}.{} {}.{} {}\n",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec(),
                    m.ino()
                )
                .as_bytes(),
            );
            files.push((r.to_string(), p.to_path_buf(), m.clone()));
            Ok(())
        })?;
    }
    let stat_key = stat.finish().hex().to_string();
    if let Some(content) = known(&stat_key) {
        return Ok((stat_key, content));
    }
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 64 << 10];
    for (r, p, m) in files {
        h.update(format!("{r}\0{:o} {} {}\n", m.mode(), m.uid(), m.gid()).as_bytes());
        if m.file_type().is_symlink() {
            h.update(fs::read_link(&p)?.as_os_str().as_bytes());
        } else if m.is_file() {
            let mut f = fs::File::open(&p).with_context(|| format!("reading {}", p.display()))?;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
        h.update(b"\n");
    }
    Ok((stat_key, h.finish().hex().to_string()))
}

/// Write one entry (a directory's own node, not its contents) at `dst`.
fn put_entry(
    src: &Path,
    meta: &fs::Metadata,
    dst: &Path,
    owner: (u32, u32),
    mode: Option<u32>,
) -> Result<()> {
    let ft = meta.file_type();
    if ft.is_dir() {
        if !fs::symlink_metadata(dst).is_ok_and(|m| m.is_dir()) {
            remove_any(dst)?;
            fs::create_dir(dst).with_context(|| format!("creating {}", dst.display()))?;
        }
    } else {
        remove_any(dst)?;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(src)?, dst)
                .with_context(|| format!("creating {}", dst.display()))?;
        } else if ft.is_file() {
            fs::copy(src, dst).with_context(|| format!("copying {}", src.display()))?;
        } else {
            // Sockets, fifos and devices are not copied (Docker skips them too).
            return Ok(());
        }
    }
    lchown(dst, owner.0, owner.1)?;
    if !ft.is_symlink() {
        let m = mode.unwrap_or(meta.mode() & 0o7777);
        fs::set_permissions(dst, fs::Permissions::from_mode(m))?;
    }
    set_mtime(dst, meta);
    Ok(())
}

/// Make `dst` (a layer path for container path `cpath`) a directory: with
/// the image's metadata when the image has it, so the layer changes
/// nothing about it, else root-owned 0755 (or `made` when given).
fn ensure_dir(
    layer: &Path,
    cpath: &str,
    base: &ImageView,
    made: Option<(u32, u32, u32)>,
) -> Result<PathBuf> {
    let rel = cpath.trim_matches('/');
    let mut cur = layer.to_path_buf();
    let mut crel = String::new();
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        cur.push(part);
        if !crel.is_empty() {
            crel.push('/');
        }
        crel.push_str(part);
        if fs::symlink_metadata(&cur).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        remove_any(&cur)?;
        fs::create_dir(&cur).with_context(|| format!("creating {}", cur.display()))?;
        match base.find(&crel).filter(|(_, m)| m.is_dir()) {
            Some((_, m)) => {
                lchown(&cur, m.uid(), m.gid())?;
                fs::set_permissions(&cur, fs::Permissions::from_mode(m.mode() & 0o7777))?;
                set_mtime(&cur, &m);
            }
            None => {
                let (uid, gid, mode) = if i + 1 == parts.len() {
                    made.unwrap_or((0, 0, 0o755))
                } else {
                    (0, 0, 0o755)
                };
                lchown(&cur, uid, gid)?;
                fs::set_permissions(&cur, fs::Permissions::from_mode(mode))?;
            }
        }
    }
    Ok(cur)
}

/// Is the container path a directory in the image?
fn image_has_dir(base: &ImageView, cpath: &str) -> bool {
    base.find(cpath).is_some_and(|(_, m)| m.is_dir())
}

fn base_name(rel: &str) -> String {
    rel.rsplit('/').next().unwrap_or(rel).to_string()
}

/// Archive formats ADD extracts, by magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Archive {
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

pub fn detect_archive(path: &Path) -> Option<Archive> {
    let mut f = fs::File::open(path).ok()?;
    let mut head = vec![0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = &head[..n];
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Archive::Gzip)
    } else if head.starts_with(b"BZh") {
        Some(Archive::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some(Archive::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Archive::Zstd)
    } else if n >= 262 && &head[257..262] == b"ustar" {
        Some(Archive::Tar)
    } else {
        None
    }
}

/// The plain tar stream of an archive. bzip2 and xz go through the system
/// tools (`bzip2 -dc`, `xz -dc`): rare enough not to carry a codec for.
fn archive_reader(path: &Path, kind: Archive) -> Result<Box<dyn Read>> {
    let f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(match kind {
        Archive::Tar => Box::new(std::io::BufReader::new(f)),
        Archive::Gzip => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            f,
        ))),
        Archive::Zstd => Box::new(zstd::Decoder::new(f)?),
        Archive::Bzip2 | Archive::Xz => {
            let tool = if kind == Archive::Xz { "xz" } else { "bzip2" };
            let child = std::process::Command::new(tool)
                .arg("-dc")
                .stdin(f)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .with_context(|| format!("running {tool} to extract {}", path.display()))?;
            Box::new(child.stdout.expect("piped"))
        }
    })
}

/// Move everything in `from` into `to`, merging directories.
fn merge_into(from: &Path, to: &Path) -> Result<()> {
    for e in fs::read_dir(from)? {
        let e = e?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let sm = fs::symlink_metadata(&src)?;
        if sm.is_dir() && fs::symlink_metadata(&dst).is_ok_and(|m| m.is_dir()) {
            merge_into(&src, &dst)?;
            // The archive's directory metadata wins, as with tar -x.
            lchown(&dst, sm.uid(), sm.gid())?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(sm.mode() & 0o7777))?;
            set_mtime(&dst, &sm);
        } else {
            remove_any(&dst)?;
            fs::rename(&src, &dst)
                .with_context(|| format!("moving {} into place", src.display()))?;
        }
    }
    Ok(())
}

fn chown_tree(path: &Path, owner: (u32, u32)) -> Result<()> {
    lchown(path, owner.0, owner.1)?;
    if fs::symlink_metadata(path)?.is_dir() {
        for e in fs::read_dir(path)? {
            chown_tree(&e?.path(), owner)?;
        }
    }
    Ok(())
}

/// Write the step's files into `layer` (an empty directory), with
/// `scratch` an empty directory on the same filesystem for archives.
pub fn write_layer(plan: &CopyPlan, layer: &Path, scratch: &Path) -> Result<()> {
    let dest = plan.dest.as_str();
    let dest_is_dir = dest.ends_with('/')
        || plan.items.len() > 1
        || image_has_dir(&plan.base, dest)
        || is_context_root_dir(plan);
    let owner = plan.attrs.owner;
    let ctx_owner = owner.unwrap_or((0, 0));
    let made = Some((ctx_owner.0, ctx_owner.1, 0o755));
    for item in &plan.items {
        match item {
            Item::Heredoc { name, content } => {
                let target = if dest_is_dir {
                    let dir = ensure_dir(layer, dest, &plan.base, made)?;
                    dir.join(name)
                } else {
                    let (parent, leaf) = split_parent(dest);
                    ensure_dir(layer, parent, &plan.base, None)?.join(leaf)
                };
                fs::write(&target, content)
                    .with_context(|| format!("writing {}", target.display()))?;
                lchown(&target, ctx_owner.0, ctx_owner.1)?;
                fs::set_permissions(
                    &target,
                    fs::Permissions::from_mode(plan.attrs.mode.unwrap_or(0o644)),
                )?;
            }
            Item::Fetched { path, name } => {
                let meta = fs::metadata(path)?;
                let target = if dest_is_dir {
                    ensure_dir(layer, dest, &plan.base, made)?.join(name)
                } else {
                    let (parent, leaf) = split_parent(dest);
                    ensure_dir(layer, parent, &plan.base, None)?.join(leaf)
                };
                // Downloaded files are 0600 as Docker leaves them.
                put_entry(
                    path,
                    &meta,
                    &target,
                    ctx_owner,
                    Some(plan.attrs.mode.unwrap_or(0o600)),
                )?;
            }
            Item::Context { rel } => {
                let top = plan.context.join(rel);
                let meta =
                    fs::metadata(&top).with_context(|| format!("reading {}", top.display()))?;
                if meta.is_dir() {
                    let dir = ensure_dir(
                        layer,
                        dest,
                        &plan.base,
                        Some((ctx_owner.0, ctx_owner.1, meta.mode() & 0o7777)),
                    )?;
                    let base_rel = rel.clone();
                    walk_dir(&plan.context, &plan.matcher, rel, &mut |r, p, m| {
                        let sub = r[base_rel.len()..].trim_start_matches('/');
                        put_entry(p, m, &dir.join(sub), ctx_owner, plan.attrs.mode)
                    })?;
                    continue;
                }
                if plan.extract {
                    if let Some(kind) = detect_archive(&top) {
                        let dir = ensure_dir(layer, dest, &plan.base, made)?;
                        extract(&top, kind, &dir, scratch, owner)?;
                        continue;
                    }
                }
                let target = if dest_is_dir {
                    ensure_dir(layer, dest, &plan.base, made)?.join(base_name(rel))
                } else {
                    let (parent, leaf) = split_parent(dest);
                    ensure_dir(layer, parent, &plan.base, None)?.join(leaf)
                };
                put_entry(&top, &meta, &target, ctx_owner, plan.attrs.mode)?;
            }
            Item::Image { rel } => {
                let from = plan
                    .from
                    .as_ref()
                    .context("COPY --from without a source image")?;
                let (path, meta) = from.find(rel).ok_or_else(|| {
                    anyhow::anyhow!(
                        "copier: stat: {:?}: no such file or directory",
                        format!("/{rel}")
                    )
                })?;
                if meta.is_dir() {
                    let dir = ensure_dir(
                        layer,
                        dest,
                        &plan.base,
                        Some((meta.uid(), meta.gid(), meta.mode() & 0o7777)),
                    )?;
                    let parts = from.dir_layers(rel);
                    let prefix = from.prefix.unwrap_or(XattrPrefix::Trusted);
                    crate::storage::vfs::materialize(
                        &parts,
                        &dir,
                        prefix,
                        &crate::storage::vfs::identity,
                    )?;
                    if let Some(o) = owner {
                        chown_tree(&dir, o)?;
                    }
                    if let Some(m) = plan.attrs.mode {
                        chmod_tree(&dir, m)?;
                    }
                    continue;
                }
                let target = if dest_is_dir {
                    ensure_dir(layer, dest, &plan.base, made)?.join(base_name(rel))
                } else {
                    let (parent, leaf) = split_parent(dest);
                    ensure_dir(layer, parent, &plan.base, None)?.join(leaf)
                };
                let keep = owner.unwrap_or((meta.uid(), meta.gid()));
                put_entry(&path, &meta, &target, keep, plan.attrs.mode)?;
            }
        }
    }
    Ok(())
}

fn chmod_tree(path: &Path, mode: u32) -> Result<()> {
    let m = fs::symlink_metadata(path)?;
    if m.file_type().is_symlink() {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    if m.is_dir() {
        for e in fs::read_dir(path)? {
            chmod_tree(&e?.path(), mode)?;
        }
    }
    Ok(())
}

/// COPY of the whole context (`COPY . /app`) always means a directory.
fn is_context_root_dir(plan: &CopyPlan) -> bool {
    plan.items
        .iter()
        .any(|i| matches!(i, Item::Context { rel } if rel.is_empty()))
}

fn split_parent(dest: &str) -> (&str, &str) {
    match dest.trim_end_matches('/').rsplit_once('/') {
        Some((p, leaf)) => (if p.is_empty() { "/" } else { p }, leaf),
        None => ("/", dest),
    }
}

fn extract(
    archive: &Path,
    kind: Archive,
    dir: &Path,
    scratch: &Path,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let tmp = scratch.join(format!("extract-{}", rand::random::<u32>()));
    fs::create_dir(&tmp)?;
    let opts = unpack::UnpackOptions::detect(crate::runtime::userns::in_user_namespace(), &tmp);
    let reader = archive_reader(archive, kind)?;
    unpack::unpack_layer(reader, &tmp, &opts)
        .with_context(|| format!("extracting {}", archive.display()))?;
    if let Some(o) = owner {
        for e in fs::read_dir(&tmp)? {
            chown_tree(&e?.path(), o)?;
        }
    }
    merge_into(&tmp, dir)?;
    let _ = fs::remove_dir_all(&tmp);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_is_octal() {
        assert_eq!(parse_chmod("755").unwrap(), 0o755);
        assert!(parse_chmod("9").is_err());
        assert!(parse_chmod("17777").is_err());
    }

    #[test]
    fn parents_and_leaves() {
        assert_eq!(split_parent("/a/b"), ("/a", "b"));
        assert_eq!(split_parent("/a"), ("/", "a"));
        assert_eq!(split_parent("/a/b/"), ("/a", "b"));
    }

    #[test]
    fn sources_respect_ignore_rules() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("src/skip")).unwrap();
        fs::write(d.path().join("a.txt"), "a").unwrap();
        fs::write(d.path().join("b.log"), "b").unwrap();
        fs::write(d.path().join("src/x"), "x").unwrap();
        fs::write(d.path().join("src/skip/y"), "y").unwrap();
        let m = Matcher::new(&["*.log", "src/skip"]).unwrap();
        assert_eq!(
            context_sources(d.path(), &m, "*").unwrap(),
            vec!["a.txt", "src"]
        );
        let err = context_sources(d.path(), &m, "b.log")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/b.log"), "{err}");
        let err = context_sources(d.path(), &m, "../../nope")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nope"), "{err}");
        let none = |_: &str| None;
        let (s1, c1) = hash_context_sources(d.path(), &m, &["src".into()], &none).unwrap();
        fs::write(d.path().join("src/skip/y"), "changed").unwrap();
        let (_, c2) = hash_context_sources(d.path(), &m, &["src".into()], &none).unwrap();
        assert_eq!(c1, c2, "an ignored file does not change the hash");
        fs::write(d.path().join("src/x"), "changed").unwrap();
        let (s3, c3) = hash_context_sources(d.path(), &m, &["src".into()], &none).unwrap();
        assert_ne!(c1, c3);
        assert_ne!(s1, s3);
    }

    #[test]
    fn writes_docker_copy_semantics() {
        let ctx = tempfile::tempdir().unwrap();
        let layer = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        fs::create_dir_all(ctx.path().join("dir/sub")).unwrap();
        fs::write(ctx.path().join("dir/sub/f"), "f").unwrap();
        fs::write(ctx.path().join("one"), "1").unwrap();
        let plan = |items: Vec<Item>, dest: &str| CopyPlan {
            context: ctx.path().to_path_buf(),
            matcher: Matcher::default(),
            from: None,
            base: ImageView::default(),
            items,
            dest: dest.into(),
            attrs: Attrs {
                owner: Some(((unsafe { libc::getuid() }), unsafe { libc::getgid() })),
                mode: None,
            },
            extract: false,
        };
        let p = plan(vec![Item::Context { rel: "dir".into() }], "/app");
        write_layer(&p, layer.path(), scratch.path()).unwrap();
        assert!(
            layer.path().join("app/sub/f").is_file(),
            "contents, not the dir"
        );
        let p = plan(vec![Item::Context { rel: "one".into() }], "/file");
        write_layer(&p, layer.path(), scratch.path()).unwrap();
        assert_eq!(fs::read_to_string(layer.path().join("file")).unwrap(), "1");
        let p = plan(vec![Item::Context { rel: "one".into() }], "/d/");
        write_layer(&p, layer.path(), scratch.path()).unwrap();
        assert!(layer.path().join("d/one").is_file());
    }
}
