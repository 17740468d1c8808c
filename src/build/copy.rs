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

use super::context::{walk_below, ContextRoot, Entry};
use super::ignore::{clean_path, Matcher};
use crate::storage::digest::Hasher;
use crate::storage::fsutil::{lchown, remove_any, set_mtime};
use crate::storage::unpack::{self, XattrPrefix};
use anyhow::{bail, Context, Result};
use std::cell::OnceCell;
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
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

    /// The root directory: every layer's root, topmost first.
    fn root(&self) -> Option<ViewEntry> {
        let top = self.layers.last()?;
        Some(ViewEntry {
            path: top.clone(),
            meta: fs::symlink_metadata(top).ok()?,
            dirs: self.layers.iter().rev().cloned().collect(),
        })
    }

    /// Entry `name` of the directory made of `dirs` (topmost first), as
    /// overlayfs shows it: the topmost layer that has it wins, a whiteout
    /// hides it, and a directory merges with the ones below down to an
    /// opaque one or a non-directory.
    fn child(&self, dirs: &[PathBuf], name: &OsStr) -> Option<ViewEntry> {
        for (i, d) in dirs.iter().enumerate() {
            let path = d.join(name);
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if self.is_whiteout(&path, &meta) {
                return None;
            }
            let mut merged = Vec::new();
            if meta.is_dir() {
                for lower in &dirs[i..] {
                    let q = lower.join(name);
                    match fs::symlink_metadata(&q) {
                        Ok(m) if m.is_dir() => {
                            let opaque = self.is_opaque(&q);
                            merged.push(q);
                            if opaque {
                                break;
                            }
                        }
                        Ok(_) => break,
                        Err(_) => {}
                    }
                }
            }
            return Some(ViewEntry {
                path,
                meta,
                dirs: merged,
            });
        }
        None
    }

    /// Look `rel` up in the merged view with every link resolved inside
    /// the view, as openat2(RESOLVE_IN_ROOT) would in the mounted image: a
    /// link that leaves the root (`/hostroot -> /`, `../..`) lands at the
    /// image's root, never the host's. The last component is followed only
    /// with `follow_last`. None when absent, deleted or looping.
    pub fn resolve(&self, rel: &str, follow_last: bool) -> Option<ViewEntry> {
        const MAX_LINKS: usize = 40;
        let mut stack = vec![self.root()?];
        let mut todo: VecDeque<Vec<u8>> = components(rel.as_bytes()).collect();
        let mut links = 0;
        while let Some(name) = todo.pop_front() {
            if name == b".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let cur = stack.last().expect("the root stays");
            if !cur.meta.is_dir() {
                return None;
            }
            let e = self.child(&cur.dirs, OsStr::from_bytes(&name))?;
            if e.meta.file_type().is_symlink() && (follow_last || !todo.is_empty()) {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                let target = fs::read_link(&e.path).ok()?;
                let target = target.as_os_str().as_bytes();
                if target.starts_with(b"/") {
                    stack.truncate(1);
                }
                for c in components(target).collect::<Vec<_>>().into_iter().rev() {
                    todo.push_front(c);
                }
                continue;
            }
            stack.push(e);
        }
        stack.pop()
    }

    /// The entry for `rel` (no leading `/` needed), links on the way
    /// resolved inside the view but a final link not followed; None when
    /// absent or deleted.
    pub fn find(&self, rel: &str) -> Option<(PathBuf, fs::Metadata)> {
        self.resolve(rel, false).map(|e| (e.path, e.meta))
    }

    /// A file's text, a final link followed inside the view.
    pub fn read_to_string(&self, rel: &str) -> Option<String> {
        let e = self.resolve(rel, true)?;
        e.meta
            .is_file()
            .then(|| fs::read_to_string(e.path).ok())
            .flatten()
    }
}

/// An entry of an [`ImageView`].
#[derive(Clone, Debug)]
pub struct ViewEntry {
    /// Where it is in the topmost layer that has it; no link on the way.
    pub path: PathBuf,
    pub meta: fs::Metadata,
    /// For a directory, the layer directories that make it up, topmost
    /// first.
    dirs: Vec<PathBuf>,
}

/// The names in a `/`-separated path, `.` and empty ones left out.
fn components(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
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
/// context, with excluded ones left out. None match, or one is a link that
/// leads nowhere inside the context: an error naming it, as podman's.
pub fn context_sources(
    root: &ContextRoot,
    matcher: &Matcher,
    pattern: &str,
) -> Result<Vec<String>> {
    let cleaned = clean_path(&format!("/{pattern}"));
    let rel = cleaned.trim_start_matches('/').to_string();
    let found: Vec<String> = if super::glob::has_wildcards(&rel) {
        super::glob::expand_sources(root, &rel)
            .with_context(|| format!("expanding {pattern}"))?
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    } else if rel.is_empty() || root.has_entry(&rel) {
        vec![rel.clone()]
    } else {
        Vec::new()
    };
    let mut kept = Vec::new();
    for r in found {
        if r.is_empty() {
            kept.push(r);
            continue;
        }
        let entry = root.entry(&r).map_err(|_| not_found(root.path(), &r))?;
        let is_dir = entry.meta.is_dir();
        if !matcher.is_excluded(&r, is_dir) || (is_dir && matcher.must_descend(&r)) {
            kept.push(r);
        }
    }
    if kept.is_empty() {
        return Err(not_found(root.path(), &rel));
    }
    Ok(kept)
}

/// A cheap fingerprint of context sources from `stat` alone (names, types,
/// modes, owners, sizes, change times and inodes), and their content hash
/// (names, modes, owners, link targets and bytes), which is what the cache
/// key uses. `known` maps a fingerprint to a content hash computed before:
/// when it answers, no file is read.
pub fn hash_context_sources(
    root: &ContextRoot,
    matcher: &Matcher,
    rels: &[String],
    known: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, String)> {
    let mut stat = Hasher::new();
    for rel in rels {
        stat.update(format!("src {rel}\0").as_bytes());
        root.walk(matcher, rel, &mut |r, e| {
            let m = &e.meta;
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
            Ok(())
        })?;
    }
    let stat_key = stat.finish().hex().to_string();
    if let Some(content) = known(&stat_key) {
        return Ok((stat_key, content));
    }
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 64 << 10];
    for rel in rels {
        root.walk(matcher, rel, &mut |r, e| {
            let m = &e.meta;
            h.update(format!("{r}\0{:o} {} {}\n", m.mode(), m.uid(), m.gid()).as_bytes());
            if m.file_type().is_symlink() {
                h.update(e.read_link()?.as_os_str().as_bytes());
            } else if m.is_file() {
                let mut f = e.open().with_context(|| format!("reading /{r}"))?;
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
            h.update(b"\n");
            Ok(())
        })?;
    }
    Ok((stat_key, h.finish().hex().to_string()))
}

/// Write one entry (a directory's own node, not its contents) at `dst`.
/// Whatever was at `dst` goes first, so a link there is replaced, never
/// written through.
fn put_entry(src: &Entry, dst: &Path, owner: (u32, u32), mode: Option<u32>) -> Result<()> {
    let meta = &src.meta;
    let ft = meta.file_type();
    if ft.is_dir() {
        if !fs::symlink_metadata(dst).is_ok_and(|m| m.is_dir()) {
            remove_any(dst)?;
            fs::create_dir(dst).with_context(|| format!("creating {}", dst.display()))?;
        }
    } else {
        remove_any(dst)?;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(src.read_link()?, dst)
                .with_context(|| format!("creating {}", dst.display()))?;
        } else if ft.is_file() {
            let mut from = src
                .open()
                .with_context(|| format!("copying {}", src.shown().display()))?;
            let mut to =
                fs::File::create_new(dst).with_context(|| format!("creating {}", dst.display()))?;
            std::io::copy(&mut from, &mut to)
                .with_context(|| format!("copying {}", src.shown().display()))?;
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

pub fn detect_archive(src: &Entry) -> Option<Archive> {
    let mut f = src.open().ok()?;
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
fn archive_reader(src: &Entry, kind: Archive) -> Result<Box<dyn Read>> {
    let path = src.shown();
    let f = src
        .open()
        .with_context(|| format!("opening {}", path.display()))?;
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
///
/// Sources are read inside their own roots: context paths through
/// [`ContextRoot`], image and stage paths through [`ImageView::resolve`].
/// On the way in, every directory a file lands in is a real directory of
/// the layer, and whatever sat at a file's place is removed first, so no
/// write follows a link an earlier source put there.
pub fn write_layer(plan: &CopyPlan, layer: &Path, scratch: &Path) -> Result<()> {
    let dest = plan.dest.as_str();
    let dest_is_dir = dest.ends_with('/')
        || plan.items.len() > 1
        || image_has_dir(&plan.base, dest)
        || is_context_root_dir(plan);
    let owner = plan.attrs.owner;
    let ctx_owner = owner.unwrap_or((0, 0));
    let made = Some((ctx_owner.0, ctx_owner.1, 0o755));
    let context = OnceCell::new();
    let context = || -> Result<&ContextRoot> {
        if context.get().is_none() {
            let _ = context.set(ContextRoot::open(&plan.context)?);
        }
        Ok(context.get().expect("set above"))
    };
    let target_for = |name: &str| -> Result<PathBuf> {
        if dest_is_dir {
            Ok(ensure_dir(layer, dest, &plan.base, made)?.join(name))
        } else {
            let (parent, leaf) = split_parent(dest);
            Ok(ensure_dir(layer, parent, &plan.base, None)?.join(leaf))
        }
    };
    for item in &plan.items {
        match item {
            Item::Heredoc { name, content } => {
                let target = target_for(name)?;
                remove_any(&target)?;
                fs::File::create_new(&target)
                    .and_then(|mut f| f.write_all(content.as_bytes()))
                    .with_context(|| format!("writing {}", target.display()))?;
                lchown(&target, ctx_owner.0, ctx_owner.1)?;
                fs::set_permissions(
                    &target,
                    fs::Permissions::from_mode(plan.attrs.mode.unwrap_or(0o644)),
                )?;
            }
            Item::Fetched { path, name } => {
                let src = Entry::unlinked(path, fs::symlink_metadata(path)?);
                // Downloaded files are 0600 as Docker leaves them.
                let mode = Some(plan.attrs.mode.unwrap_or(0o600));
                put_entry(&src, &target_for(name)?, ctx_owner, mode)?;
            }
            Item::Context { rel } => {
                let root = context()?;
                let top = root.entry(rel).map_err(|_| not_found(root.path(), rel))?;
                if top.meta.is_dir() {
                    let made = Some((ctx_owner.0, ctx_owner.1, top.meta.mode() & 0o7777));
                    let dir = ensure_dir(layer, dest, &plan.base, made)?;
                    let mut parents = ParentDirs::new(layer, dest, &plan.base, made);
                    walk_below(&plan.matcher, rel, &top, &mut |r, e| {
                        let sub = r[rel.len()..].trim_start_matches('/');
                        parents.ready(sub)?;
                        put_entry(e, &dir.join(sub), ctx_owner, plan.attrs.mode)?;
                        if e.meta.is_dir() {
                            parents.made(sub);
                        }
                        Ok(())
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
                put_entry(
                    &top,
                    &target_for(&base_name(rel))?,
                    ctx_owner,
                    plan.attrs.mode,
                )?;
            }
            Item::Image { rel } => {
                let from = plan
                    .from
                    .as_ref()
                    .context("COPY --from without a source image")?;
                // A named link is followed, inside the source image.
                let found = from.resolve(rel, true).ok_or_else(|| {
                    anyhow::anyhow!(
                        "copier: stat: {:?}: no such file or directory",
                        format!("/{rel}")
                    )
                })?;
                let meta = &found.meta;
                if meta.is_dir() {
                    let dir = ensure_dir(
                        layer,
                        dest,
                        &plan.base,
                        Some((meta.uid(), meta.gid(), meta.mode() & 0o7777)),
                    )?;
                    let parts: Vec<&PathBuf> = found.dirs.iter().rev().collect();
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
                let keep = owner.unwrap_or((meta.uid(), meta.gid()));
                let src = Entry::unlinked(&found.path, found.meta.clone());
                put_entry(&src, &target_for(&base_name(rel))?, keep, plan.attrs.mode)?;
            }
        }
    }
    Ok(())
}

/// The directories below a copied directory's destination that hold the
/// walk's entries. A walk makes each directory before what it holds, but
/// an excluded directory whose files an exception keeps is not made, and
/// an earlier source of the step may have put a link at its name: such a
/// parent is made a real directory before anything is written into it.
struct ParentDirs<'a> {
    layer: &'a Path,
    dest: &'a str,
    base: &'a ImageView,
    made: Option<(u32, u32, u32)>,
    ready: std::collections::HashSet<String>,
}

impl<'a> ParentDirs<'a> {
    fn new(
        layer: &'a Path,
        dest: &'a str,
        base: &'a ImageView,
        made: Option<(u32, u32, u32)>,
    ) -> Self {
        ParentDirs {
            layer,
            dest,
            base,
            made,
            ready: Default::default(),
        }
    }

    /// Make sure the parent of `sub` (relative to the destination) is a
    /// directory of the layer.
    fn ready(&mut self, sub: &str) -> Result<()> {
        let Some((parent, _)) = sub.rsplit_once('/') else {
            return Ok(());
        };
        if !self.ready.contains(parent) {
            let cpath = format!("{}/{parent}", self.dest.trim_end_matches('/'));
            ensure_dir(self.layer, &cpath, self.base, self.made)?;
            self.made(parent);
        }
        Ok(())
    }

    fn made(&mut self, sub: &str) {
        self.ready.insert(sub.to_string());
    }
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
    archive: &Entry,
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
        .with_context(|| format!("extracting {}", archive.shown().display()))?;
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
        let root = ContextRoot::open(d.path()).unwrap();
        assert_eq!(
            context_sources(&root, &m, "*").unwrap(),
            vec!["a.txt", "src"]
        );
        let err = context_sources(&root, &m, "b.log").unwrap_err().to_string();
        assert!(err.contains("/b.log"), "{err}");
        let err = context_sources(&root, &m, "../../nope")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nope"), "{err}");
        let none = |_: &str| None;
        let (s1, c1) = hash_context_sources(&root, &m, &["src".into()], &none).unwrap();
        fs::write(d.path().join("src/skip/y"), "changed").unwrap();
        let (_, c2) = hash_context_sources(&root, &m, &["src".into()], &none).unwrap();
        assert_eq!(c1, c2, "an ignored file does not change the hash");
        fs::write(d.path().join("src/x"), "changed").unwrap();
        let (s3, c3) = hash_context_sources(&root, &m, &["src".into()], &none).unwrap();
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
                // SAFETY: a plain query of this process's ids.
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
