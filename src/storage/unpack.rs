//! Unpack an OCI layer tar into a directory overlayfs can use as a layer
//! ("diff" dir), turning OCI whiteouts into overlayfs whiteouts.
//!
//! Safety rule: nothing is created, changed or followed outside `dest`.
//! Every parent directory is looked up with openat2(RESOLVE_IN_ROOT) (see
//! `resolve`), so symlinks in the layer behave as inside the container;
//! the final component is always handled relative to that parent's fd and
//! never followed.

mod guard;
mod resolve;

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use anyhow::{anyhow, bail, Context, Result};
use tar::EntryType;

pub use resolve::openat2_in_root;
use resolve::{open_in_root, open_or_create_dir, CleanPath};

/// Which xattr namespace overlayfs reads its markers from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XattrPrefix {
    /// `trusted.overlay.`: overlay mounted by real root.
    Trusted,
    /// `user.overlay.`: overlay mounted in a user namespace with `userxattr`.
    User,
}

impl XattrPrefix {
    pub fn as_str(self) -> &'static str {
        match self {
            XattrPrefix::Trusted => "trusted.overlay.",
            XattrPrefix::User => "user.overlay.",
        }
    }
    fn name(self, suffix: &str) -> CString {
        CString::new(format!("{}{suffix}", self.as_str())).unwrap()
    }
}

/// How a deletion is recorded in a layer directory for overlayfs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhiteoutForm {
    /// A character device 0/0 with the deleted name.
    CharDevice,
    /// A zero-size regular file with `<prefix>whiteout` set, its directory
    /// marked `<prefix>opaque=x` (overlayfs >= 6.8, lower layers only).
    Xattr,
}

#[derive(Clone, Debug)]
pub struct UnpackOptions {
    pub xattr_prefix: XattrPrefix,
    pub whiteout: WhiteoutForm,
    /// Unpacking inside a rootless user namespace: device nodes are skipped
    /// and failures to set `trusted.*` xattrs are ignored.
    pub rootless: bool,
    /// Unpacking a layer over the layers below it in one directory (`build
    /// --squash`), not into an empty one.
    pub merge: Merge,
}

/// How a layer's deletions act on what `dest` already holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Merge {
    /// `dest` is empty or holds this layer's own entries: a whiteout never
    /// removes one (the OCI rule: it hides lower layers only).
    #[default]
    No,
    /// `dest` holds the layers below: whiteouts and opaque markers remove
    /// what they hide there, and stay for the layers under those.
    KeepWhiteouts,
    /// As `KeepWhiteouts`, with nothing under `dest`: no markers stay.
    DropWhiteouts,
}

impl UnpackOptions {
    /// The options for this process: `rootless` picks the xattr prefix, a
    /// probe in `scratch_dir` (same filesystem as the layers) the whiteout
    /// form. Call it where the unpack will run (inside the user namespace),
    /// with a scratch dir that process can write (e.g. the empty `dest`).
    pub fn detect(rootless: bool, scratch_dir: &Path) -> UnpackOptions {
        UnpackOptions {
            xattr_prefix: if rootless {
                XattrPrefix::User
            } else {
                XattrPrefix::Trusted
            },
            whiteout: probe_whiteout_form(scratch_dir),
            rootless,
            merge: Default::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Regular files written (hard links not counted).
    pub files: u64,
    /// Sum of the regular files' sizes.
    pub bytes: u64,
    /// Every entry materialized: files, dirs, links, nodes, whiteouts.
    pub entries: u64,
}

/// Find out whether this process may create 0/0 character devices in
/// `scratch_dir` (which it must be able to write; the probe leaves nothing
/// behind); if not, layers must use the xattr whiteout form.
pub fn probe_whiteout_form(scratch_dir: &Path) -> WhiteoutForm {
    let probe = scratch_dir.join(format!(".coracle-whiteout-probe-{}", std::process::id()));
    let Ok(c) = CString::new(probe.as_os_str().as_bytes()) else {
        return WhiteoutForm::Xattr;
    };
    // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
    let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, libc::makedev(0, 0)) };
    if r == 0 {
        // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
        unsafe { libc::unlink(c.as_ptr()) };
        WhiteoutForm::CharDevice
    } else {
        crate::debug!(
            "mknod of a whiteout device in {} failed ({}): using xattr whiteouts",
            scratch_dir.display(),
            io::Error::last_os_error()
        );
        WhiteoutForm::Xattr
    }
}

/// Unpack the (uncompressed) layer tar `tar_stream` into `dest`, an existing
/// empty directory that becomes the layer's root. Fails on the first entry
/// that cannot be written faithfully or that tries to leave `dest`.
pub fn unpack_layer(
    tar_stream: impl Read,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats> {
    let root_file =
        File::open(dest).with_context(|| format!("opening layer directory {}", dest.display()))?;
    // Re-open through openat2 so the root is a plain O_PATH directory fd.
    let root = open_in_root(root_file.as_fd(), b"", libc::O_PATH | libc::O_DIRECTORY)
        .with_context(|| format!("opening layer directory {}", dest.display()))?;
    drop(root_file);

    let mut u = Unpacker {
        root,
        opts,
        stats: UnpackStats::default(),
        dir_times: Vec::new(),
        parent_cache: None,
        skipped_devices: 0,
        buf: vec![0u8; 128 * 1024],
    };
    let limit = guard::max_layer_size()?;
    let mut archive = tar::Archive::new(guard::TarGuard::new(tar_stream, limit));
    let entries = archive.entries().context("reading layer tar")?;
    for entry in entries {
        let mut entry = entry.context("reading layer tar")?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        u.entry(&mut entry)
            .with_context(|| format!("layer entry {name:?}"))?;
    }
    u.finish_dir_times()?;
    if u.skipped_devices > 0 {
        crate::warn!(
            "skipped {} device node(s) in a layer: device nodes cannot be created rootless",
            u.skipped_devices
        );
    }
    Ok(u.stats)
}

struct Unpacker<'o> {
    root: OwnedFd,
    opts: &'o UnpackOptions,
    stats: UnpackStats,
    /// Directory mtimes, applied last: creating children changes them.
    dir_times: Vec<(Vec<CString>, [libc::timespec; 2])>,
    /// The last parent directory looked up; most entries share it.
    parent_cache: Option<(Vec<u8>, Rc<OwnedFd>)>,
    skipped_devices: u64,
    buf: Vec<u8>,
}

/// Metadata common to every entry type.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    times: [libc::timespec; 2],
    xattrs: Vec<(CString, Vec<u8>)>,
}

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

impl Unpacker<'_> {
    fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let path = CleanPath::parse(&entry.path_bytes())?;
        let meta = self.meta(entry)?;

        if let Some((parent, name)) = path.split_last() {
            if name.to_bytes().starts_with(WHITEOUT_PREFIX) {
                return self.whiteout(parent, name);
            }
        }

        let Some((parent_parts, name)) = path.split_last() else {
            // The layer root itself ("./").
            if kind != EntryType::Directory {
                bail!("the layer root must be a directory");
            }
            let fd = open_in_root(self.root(), b"", libc::O_RDONLY | libc::O_DIRECTORY)?;
            self.apply_fd_meta(fd.as_fd(), &meta, false)?;
            self.dir_times.push((Vec::new(), meta.times));
            return Ok(());
        };
        let parent = self.parent(parent_parts)?;
        let parent = parent.as_fd();

        match kind {
            EntryType::Directory => {
                match lstat_at(parent, name)? {
                    Some(st) if is_type(&st, libc::S_IFDIR) => {}
                    Some(st) => {
                        self.remove(parent, name, &st)?;
                        mkdir_at(parent, name)?;
                    }
                    None => mkdir_at(parent, name)?,
                }
                let fd = openat(
                    parent,
                    name,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                )?;
                self.apply_fd_meta(fd.as_fd(), &meta, false)?;
                self.dir_times.push((path.0.clone(), meta.times));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.clear(parent, name)?;
                let fd = openat(
                    parent,
                    name,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                    0o600,
                )?;
                let mut file = File::from(fd);
                let n = copy(entry, &mut file, &mut self.buf).context("writing file data")?;
                self.apply_fd_meta(file.as_fd(), &meta, true)?;
                self.stats.files += 1;
                self.stats.bytes += n;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("symlink without a target"))?;
                let target = CString::new(target.into_owned())
                    .map_err(|_| anyhow!("symlink target contains a NUL byte"))?;
                self.clear(parent, name)?;
                // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
                cvt(unsafe { libc::symlinkat(target.as_ptr(), parent.as_raw_fd(), name.as_ptr()) })
                    .context("creating symlink")?;
                self.apply_at_meta(parent, name, &meta, false)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("hard link without a target"))?;
                let target = CleanPath::parse(&target).context("hard link target")?;
                self.hardlink(parent, name, &path, &target)?;
            }
            EntryType::Char | EntryType::Block => {
                if self.opts.rootless {
                    self.skipped_devices += 1;
                    return Ok(());
                }
                let major = entry.header().device_major()?.unwrap_or(0);
                let minor = entry.header().device_minor()?.unwrap_or(0);
                let fmt = if kind == EntryType::Char {
                    libc::S_IFCHR
                } else {
                    libc::S_IFBLK
                };
                self.clear(parent, name)?;
                // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
                cvt(unsafe {
                    libc::mknodat(
                        parent.as_raw_fd(),
                        name.as_ptr(),
                        fmt | (meta.mode & 0o777),
                        libc::makedev(major, minor),
                    )
                })
                .context("creating device node")?;
                self.apply_at_meta(parent, name, &meta, true)?;
            }
            EntryType::Fifo => {
                self.clear(parent, name)?;
                // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
                cvt(unsafe {
                    libc::mknodat(parent.as_raw_fd(), name.as_ptr(), libc::S_IFIFO | 0o600, 0)
                })
                .context("creating fifo")?;
                self.apply_at_meta(parent, name, &meta, true)?;
            }
            other => bail!("unsupported tar entry type {other:?}"),
        }
        self.stats.entries += 1;
        Ok(())
    }

    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> Result<Meta> {
        let h = entry.header();
        let uid = u32::try_from(h.uid()?).map_err(|_| anyhow!("uid out of range"))?;
        let gid = u32::try_from(h.gid()?).map_err(|_| anyhow!("gid out of range"))?;
        let mode = h.mode()? & 0o7777;
        let mut mtime = libc::timespec {
            tv_sec: h.mtime().unwrap_or(0) as libc::time_t,
            tv_nsec: 0,
        };
        let mut xattrs = Vec::new();
        if let Some(pax) = entry.pax_extensions()? {
            for ext in pax {
                let ext = ext?;
                let key = ext.key_bytes();
                if key == b"mtime" {
                    if let Some(t) = parse_pax_time(ext.value_bytes()) {
                        mtime = t;
                    }
                } else if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    // A layer must not forge overlay markers (whiteouts,
                    // redirects, metacopy): those come only from us.
                    if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
                        crate::debug!(
                            "ignoring overlay xattr {} in a layer",
                            String::from_utf8_lossy(name)
                        );
                        continue;
                    }
                    let name = CString::new(name)
                        .map_err(|_| anyhow!("xattr name contains a NUL byte"))?;
                    xattrs.push((name, ext.value_bytes().to_vec()));
                }
            }
        }
        Ok(Meta {
            uid,
            gid,
            mode,
            times: [mtime, mtime],
            xattrs,
        })
    }

    /// The parent directory of an entry, created when the layer omits it.
    fn parent(&mut self, parts: &[CString]) -> Result<Rc<OwnedFd>> {
        let key = CleanPath::join(parts);
        if let Some((cached, fd)) = &self.parent_cache {
            if *cached == key {
                return Ok(fd.clone());
            }
        }
        let fd = Rc::new(open_or_create_dir(self.root(), parts).with_context(|| {
            format!(
                "opening parent directory {:?}",
                String::from_utf8_lossy(&key)
            )
        })?);
        self.parent_cache = Some((key, fd.clone()));
        Ok(fd)
    }

    /// Remove whatever is at `name` so a new entry can take its place.
    fn clear(&mut self, parent: BorrowedFd<'_>, name: &CStr) -> Result<()> {
        if let Some(st) = lstat_at(parent, name)? {
            self.remove(parent, name, &st)?;
        }
        Ok(())
    }

    fn remove(&mut self, parent: BorrowedFd<'_>, name: &CStr, st: &libc::stat) -> Result<()> {
        // A removed directory may be the cached parent.
        self.parent_cache = None;
        if is_type(st, libc::S_IFDIR) {
            remove_tree(parent, name).context("replacing a directory")
        } else {
            // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
            cvt(unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), 0) })
                .map(drop)
                .context("replacing an existing entry")
        }
    }

    fn hardlink(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        path: &CleanPath,
        target: &CleanPath,
    ) -> Result<()> {
        let Some((t_parent, t_name)) = target.split_last() else {
            bail!("hard link to the layer root");
        };
        if target == path {
            return Ok(());
        }
        let t_dir = open_in_root(
            self.root(),
            &CleanPath::join(t_parent),
            libc::O_PATH | libc::O_DIRECTORY,
        )
        .with_context(|| {
            format!(
                "hard link target {:?} is not in this layer",
                String::from_utf8_lossy(&CleanPath::join(&target.0))
            )
        })?;
        if lstat_at(t_dir.as_fd(), t_name)?.is_none() {
            bail!(
                "hard link target {:?} is not in this layer",
                String::from_utf8_lossy(&CleanPath::join(&target.0))
            );
        }
        self.clear(parent, name)?;
        // Flags 0: never follow a symlink target; link the symlink itself.
        // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
        cvt(unsafe {
            libc::linkat(
                t_dir.as_raw_fd(),
                t_name.as_ptr(),
                parent.as_raw_fd(),
                name.as_ptr(),
                0,
            )
        })
        .context("creating hard link")?;
        self.stats.entries += 1;
        Ok(())
    }

    fn whiteout(&mut self, parent_parts: &[CString], name: &CStr) -> Result<()> {
        let bytes = name.to_bytes();
        let parent = self.parent(parent_parts)?;
        let dir_path = CleanPath::join(parent_parts);
        if bytes == OPAQUE_MARKER {
            let dir = open_in_root(self.root(), &dir_path, libc::O_RDONLY | libc::O_DIRECTORY)?;
            if self.opts.merge != Merge::No {
                // Our writer puts the marker right after its directory, so
                // every child there now is a lower layer's.
                self.parent_cache = None;
                remove_children(dir.as_fd()).context("emptying an opaque directory")?;
                if self.opts.merge == Merge::DropWhiteouts {
                    return Ok(());
                }
            }
            fsetxattr(dir.as_fd(), &self.opts.xattr_prefix.name("opaque"), b"y")
                .context("marking directory opaque")?;
            self.stats.entries += 1;
            return Ok(());
        }
        if bytes.starts_with(b".wh..wh.") {
            // AUFS-internal names (.wh..wh.plnk etc.): meaningless here.
            crate::debug!(
                "ignoring aufs metadata entry {}",
                String::from_utf8_lossy(bytes)
            );
            return Ok(());
        }
        let target = &bytes[WHITEOUT_PREFIX.len()..];
        if target.is_empty() || target == b"." || target == b".." {
            bail!("invalid whiteout name");
        }
        let target = CString::new(target).unwrap();
        let existing = lstat_at(parent.as_fd(), &target)?;
        if self.opts.merge != Merge::No {
            // What is there is a lower layer's: the whiteout removes it.
            if let Some(st) = existing {
                self.remove(parent.as_fd(), &target, &st)?;
            }
            if self.opts.merge == Merge::DropWhiteouts {
                return Ok(());
            }
        } else if existing.is_some() {
            // The OCI spec: a whiteout hides only lower layers, so a path
            // this layer itself created stays.
            return Ok(());
        }
        match self.opts.whiteout {
            WhiteoutForm::CharDevice => {
                // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
                cvt(unsafe {
                    libc::mknodat(
                        parent.as_raw_fd(),
                        target.as_ptr(),
                        libc::S_IFCHR,
                        libc::makedev(0, 0),
                    )
                })
                .context("creating whiteout device")?;
            }
            WhiteoutForm::Xattr => {
                let fd = openat(
                    parent.as_fd(),
                    &target,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                    0o644,
                )?;
                fsetxattr(fd.as_fd(), &self.opts.xattr_prefix.name("whiteout"), b"y")
                    .context("creating xattr whiteout")?;
                // overlayfs only looks for xattr whiteouts in directories
                // marked opaque=x; an opaque=y directory hides all anyway.
                let dir = open_in_root(self.root(), &dir_path, libc::O_RDONLY | libc::O_DIRECTORY)?;
                let opaque = self.opts.xattr_prefix.name("opaque");
                if fgetxattr(dir.as_fd(), &opaque).as_deref() != Some(b"y") {
                    fsetxattr(dir.as_fd(), &opaque, b"x").context("marking whiteout directory")?;
                }
            }
        }
        self.stats.entries += 1;
        Ok(())
    }

    /// Owner, then mode (chown clears setuid bits), then xattrs (chown also
    /// clears security.capability), then times.
    fn apply_fd_meta(&self, fd: BorrowedFd<'_>, meta: &Meta, set_times: bool) -> Result<()> {
        // SAFETY: a descriptor we own; the times array outlives the call.
        let r = unsafe { libc::fchown(fd.as_raw_fd(), meta.uid, meta.gid) };
        self.check_chown(r, meta)?;
        // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
        cvt(unsafe { libc::fchmod(fd.as_raw_fd(), meta.mode) }).context("setting mode")?;
        for (k, v) in &meta.xattrs {
            self.xattr_result(fsetxattr(fd, k, v), k)?;
        }
        if set_times {
            // SAFETY: a descriptor we own; the times array outlives the call.
            cvt(unsafe { libc::futimens(fd.as_raw_fd(), meta.times.as_ptr()) })
                .context("setting times")?;
        }
        Ok(())
    }

    /// The same for entries that cannot be opened (symlinks, nodes).
    fn apply_at_meta(
        &self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
        chmod: bool,
    ) -> Result<()> {
        // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
        let r = unsafe {
            libc::fchownat(
                parent.as_raw_fd(),
                name.as_ptr(),
                meta.uid,
                meta.gid,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        self.check_chown(r, meta)?;
        if chmod {
            // Only for nodes we just created, never symlinks: no follow risk.
            // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
            cvt(unsafe { libc::fchmodat(parent.as_raw_fd(), name.as_ptr(), meta.mode, 0) })
                .context("setting mode")?;
        }
        if !meta.xattrs.is_empty() {
            // /proc/self/fd/<parent>/<name>: the parent is pinned by its fd,
            // and lsetxattr does not follow the last component.
            let mut p = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
            p.extend_from_slice(name.to_bytes());
            let p = CString::new(p).unwrap();
            for (k, v) in &meta.xattrs {
                // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
                let r = cvt(unsafe {
                    libc::lsetxattr(p.as_ptr(), k.as_ptr(), v.as_ptr().cast(), v.len(), 0)
                });
                self.xattr_result(r.map(drop), k)?;
            }
        }
        // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
        cvt(unsafe {
            libc::utimensat(
                parent.as_raw_fd(),
                name.as_ptr(),
                meta.times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
        .context("setting times")?;
        Ok(())
    }

    fn check_chown(&self, r: libc::c_int, meta: &Meta) -> Result<()> {
        if r == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINVAL) => bail!(
                "cannot set owner {}:{}: the id is not mapped in this user namespace \
                 (configure a subordinate id range in /etc/subuid and /etc/subgid)",
                meta.uid,
                meta.gid
            ),
            // SAFETY: a plain query of this process's ids, no pointers.
            Some(libc::EPERM) if self.opts.rootless || unsafe { libc::geteuid() } != 0 => bail!(
                "cannot set owner {}:{}: permission denied (a rootless unpack must run \
                 inside the user namespace)",
                meta.uid,
                meta.gid
            ),
            _ => Err(err).context(format!("setting owner {}:{}", meta.uid, meta.gid)),
        }
    }

    fn xattr_result(&self, r: io::Result<()>, name: &CStr) -> Result<()> {
        match r {
            Ok(()) => Ok(()),
            Err(e) if self.opts.rootless && name.to_bytes().starts_with(b"trusted.") => {
                crate::debug!("ignoring xattr {:?} rootless: {e}", name);
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("setting xattr {}", name.to_string_lossy())),
        }
    }

    fn finish_dir_times(&mut self) -> Result<()> {
        let times = std::mem::take(&mut self.dir_times);
        for (parts, ts) in &times {
            let Some((last, parent_parts)) = parts.split_last() else {
                let fd = open_in_root(self.root(), b"", libc::O_RDONLY | libc::O_DIRECTORY)?;
                // SAFETY: a descriptor we own; the times array outlives the call.
                cvt(unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) })
                    .context("setting layer root times")?;
                continue;
            };
            let parent_path = CleanPath::join(parent_parts);
            // A later entry may have removed or replaced the directory.
            let Ok(parent) =
                open_in_root(self.root(), &parent_path, libc::O_PATH | libc::O_DIRECTORY)
            else {
                continue;
            };
            match lstat_at(parent.as_fd(), last)? {
                Some(st) if is_type(&st, libc::S_IFDIR) => {}
                _ => continue,
            }
            // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
            cvt(unsafe {
                libc::utimensat(
                    parent.as_raw_fd(),
                    last.as_ptr(),
                    ts.as_ptr(),
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            })
            .with_context(|| {
                format!(
                    "setting times of directory {:?}",
                    String::from_utf8_lossy(&CleanPath::join(parts))
                )
            })?;
        }
        Ok(())
    }
}

/// Stream an entry's data with a reusable buffer (no whole-file buffering).
fn copy(r: &mut impl Read, w: &mut File, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let n = match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// PAX times are decimal seconds with an optional fraction ("1700000000.5").
fn parse_pax_time(v: &[u8]) -> Option<libc::timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let neg = secs.starts_with('-');
    let mut sec: i64 = secs.parse().ok()?;
    let mut nsec: i64 = 0;
    if !frac.is_empty() {
        let digits: String = frac.chars().take(9).collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        nsec = format!("{digits:0<9}").parse().ok()?;
        if neg && nsec > 0 {
            sec -= 1;
            nsec = 1_000_000_000 - nsec;
        }
    }
    Some(libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    })
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn is_type(st: &libc::stat, fmt: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == fmt
}

fn lstat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Option<libc::stat>> {
    // SAFETY: a plain C struct, for which all zeroes is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == 0 {
        Ok(Some(st))
    } else {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOENT) {
            Ok(None)
        } else {
            Err(e)
        }
    }
}

fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: i32, mode: libc::mode_t) -> io::Result<OwnedFd> {
    // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
    let fd = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode,
        )
    })?;
    // SAFETY: a descriptor the call above just returned; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn mkdir_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<()> {
    // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o700) })
        .map(drop)
        .context("creating directory")
}

fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
    cvt(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

fn fgetxattr(fd: BorrowedFd<'_>, name: &CStr) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

/// Remove the directory `name` under `parent` and everything in it, by fd
/// all the way down, never following a symlink.
/// Remove every entry of the directory `dir` (an fd opened for reading).
fn remove_children(dir: BorrowedFd<'_>) -> io::Result<()> {
    let mut listing = nix::dir::Dir::from_fd(dir.try_clone_to_owned()?).map_err(io::Error::from)?;
    let mut names: Vec<CString> = Vec::new();
    for ent in listing.iter() {
        let n = ent.map_err(io::Error::from)?.file_name().to_owned();
        if n.to_bytes() != b"." && n.to_bytes() != b".." {
            names.push(n);
        }
    }
    for name in names {
        match lstat_at(dir, &name)? {
            Some(st) if is_type(&st, libc::S_IFDIR) => remove_tree(dir, &name)?,
            Some(_) => {
                // SAFETY: a NUL-terminated name in a directory fd we own; the result is checked.
                cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })?;
            }
            None => {}
        }
    }
    Ok(())
}

fn remove_tree(parent: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let dir = openat(
        parent,
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )?;
    let listing = nix::dir::Dir::from_fd(dir.try_clone()?).map_err(io::Error::from)?;
    let mut children: Vec<(CString, bool)> = Vec::new();
    let mut listing = listing;
    for ent in listing.iter() {
        let ent = ent.map_err(io::Error::from)?;
        let n = ent.file_name();
        if n.to_bytes() == b"." || n.to_bytes() == b".." {
            continue;
        }
        let is_dir = match ent.file_type() {
            Some(t) => t == nix::dir::Type::Directory,
            None => lstat_at(dir.as_fd(), n)?.is_some_and(|st| is_type(&st, libc::S_IFDIR)),
        };
        children.push((n.to_owned(), is_dir));
    }
    for (child, is_dir) in children {
        if is_dir {
            remove_tree(dir.as_fd(), &child)?;
        } else {
            // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
            cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), child.as_ptr(), 0) })?;
        }
    }
    // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
    cvt(unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) }).map(drop)
}

#[cfg(test)]
mod tests;
