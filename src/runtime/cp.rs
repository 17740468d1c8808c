//! A container's root filesystem, reached without mounting anything on the
//! host, for `cp`, `export` and `diff`; and the tar plumbing `cp` uses.
//!
//! Every access runs in a forked child so namespaces and mounts die with it:
//! - a running container: its root through `/proc/PID/root` (its own mount
//!   tree, volumes included), rootless after joining its user namespace, so
//!   a write is visible in the container at once and gets mapped owners;
//! - a stopped one: its overlay (layers + upper) mounted in the child's
//!   private mount namespace (rootless inside a fresh user namespace), so a
//!   write into a lower file is a proper copy-up;
//! - a copied rootfs (vfs, keep-id): the upper dir itself.
//!
//! Paths inside the container are resolved with openat2(RESOLVE_IN_ROOT):
//! a symlink in the container can never lead to the host's files.

mod between;

use super::monitor::uses_copied_rootfs;
use super::state::{current_state, is_running};
use super::userns::{self, IdMaps};
use crate::storage::containers::ContainerConfig;
use crate::storage::store::Store;
use crate::storage::unpack::{unpack_layer, UnpackOptions, WhiteoutForm};
use anyhow::{anyhow, bail, Context, Result};
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How the root is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read and write the live view (`cp`).
    Live,
    /// A read-only view of the container's own files only, without the
    /// mounts a running container has (`export`).
    Snapshot,
}

/// The container's root as the closure sees it.
pub struct ContainerRoot {
    /// An O_PATH directory fd: resolve paths in it with [`open_in`].
    pub fd: OwnedFd,
}

/// Run `f` in a child process that sees the container's root; its bytes
/// come back, its error as one message. Stdin and stdout are shared with the
/// child, so it may stream. Call while single-threaded.
pub fn with_container_root<F>(store: &Store, id: &str, access: Access, f: F) -> Result<Vec<u8>>
where
    F: FnOnce(&ContainerRoot) -> Result<Vec<u8>>,
{
    let cfg = store.containers.load_config(id)?;
    let state = current_state(store, id)?;
    let live_pid = (access == Access::Live && is_running(&state)).then_some(state.pid);
    if live_pid.is_some() {
        super::sealed_exe::require()?;
    }
    // A stopped container's plugin volumes: mounted by their plugins for
    // the copy, unmounted after it.
    let mut plugin_mounts = super::volume_plugin::Mounted::default();
    let plugin_dirs = if live_pid.is_none() && access == Access::Live {
        super::volume_plugin::mount_for_copy(store, &cfg, &mut plugin_mounts)?
    } else {
        Default::default()
    };
    let result = in_child(|| {
        let path = match live_pid {
            Some(pid) => {
                let path = PathBuf::from(format!("/proc/{pid}/root"));
                let root = open_dir(&path)?;
                if store.rootless {
                    join_user_namespace(pid)?;
                }
                return f(&ContainerRoot { fd: root });
            }
            None => {
                if store.rootless {
                    userns::enter_user_namespace(&IdMaps::for_current_user()?)?;
                } else {
                    private_mount_namespace()?;
                }
                let root = if let Some(dir) = cfg.launch.rootfs.as_ref().filter(|r| !r.overlay) {
                    // `--rootfs DIR`: the container's files are DIR's own.
                    PathBuf::from(&dir.path)
                } else if uses_copied_rootfs(store, &cfg) {
                    store.containers.dir(id).join("upper")
                } else {
                    mount_overlay(store, &cfg, access)?
                };
                if access == Access::Live {
                    mount_volumes(store, &cfg, &root, &plugin_dirs)?;
                }
                root
            }
        };
        let root = open_dir(&path)?;
        f(&ContainerRoot { fd: root })
    });
    super::volume_plugin::release(store, &mut plugin_mounts);
    result
}

/// Fork; `f` runs in the child. Stdout is flushed before the child leaves.
pub fn in_child(f: impl FnOnce() -> Result<Vec<u8>>) -> Result<Vec<u8>> {
    let (r, w) = nix::unistd::pipe().context("creating a pipe")?;
    // SAFETY: the CLI is single-threaded here.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let mut out = File::from(w);
            let result = f();
            let _ = io::stdout().flush();
            let msg = match result {
                Ok(bytes) => [b"ok ".as_slice(), &bytes].concat(),
                Err(e) => format!("err {e:#}").into_bytes(),
            };
            let _ = out.write_all(&msg);
            drop(out);
            // SAFETY: leave without running the parent's destructors twice.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut data = Vec::new();
            let _ = File::from(r).read_to_end(&mut data);
            let _ = nix::sys::wait::waitpid(child, None);
            if let Some(rest) = data.strip_prefix(b"ok ") {
                return Ok(rest.to_vec());
            }
            if let Some(rest) = data.strip_prefix(b"err ") {
                bail!("{}", String::from_utf8_lossy(rest));
            }
            bail!("the helper process failed")
        }
    }
}

fn join_user_namespace(pid: i32) -> Result<()> {
    let path = format!("/proc/{pid}/ns/user");
    let ns = File::open(&path).with_context(|| format!("opening {path}"))?;
    // SAFETY: setns on an fd we own; the child is single-threaded.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWUSER) } != 0 {
        bail!(
            "joining the container's user namespace: {}",
            io::Error::last_os_error()
        );
    }
    Ok(())
}

fn private_mount_namespace() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .context("creating a mount namespace")?;
    // Before mounting anything: nothing may propagate to the host.
    super::sys::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
}

/// Mount the container's overlay in this (private) mount namespace. A
/// snapshot stacks upper on the layers read-only: no work dir is taken, so
/// it works while the container runs.
fn mount_overlay(store: &Store, cfg: &ContainerConfig, access: Access) -> Result<PathBuf> {
    let dir = store.containers.dir(&cfg.id);
    let target = store.containers.run_dir(&cfg.id).join("rootfs");
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    // Relative layer paths keep the options within a page.
    let layers_dir = store.container_layers(cfg).dir().to_path_buf();
    std::env::set_current_dir(&layers_dir)
        .with_context(|| format!("entering {}", layers_dir.display()))?;
    let mut lower: Vec<String> = match &cfg.launch.rootfs {
        // `--rootfs DIR:O`: DIR is the one lower layer.
        Some(r) => vec![r.path.clone()],
        None => cfg
            .layers
            .iter()
            .rev()
            .map(|d| format!("{}/diff", d.hex()))
            .collect(),
    };
    let upper = dir.join("upper");
    let mut data = match access {
        Access::Live => format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            upper.display(),
            dir.join("work").display()
        ),
        Access::Snapshot => {
            lower.insert(0, upper.display().to_string());
            format!("lowerdir={}", lower.join(":"))
        }
    };
    if store.rootless {
        data.push_str(",userxattr");
    }
    let (extra_flags, extra) = super::rootfs::overlay_mountopt();
    for o in extra {
        data.push(',');
        data.push_str(&o);
    }
    let flags = extra_flags
        | if access == Access::Snapshot {
            libc::MS_RDONLY
        } else {
            0
        };
    super::sys::mount(
        Some(Path::new("overlay")),
        &target,
        Some("overlay"),
        flags,
        Some(&data),
    )?;
    Ok(target)
}

/// A stopped container's volumes and bind mounts, in place over its root
/// (in the child's own mount namespace), so `cp` reads and writes what the
/// container will see, as podman's does. Mount points missing from the
/// root are made, as the container's start would.
fn mount_volumes(
    store: &Store,
    cfg: &ContainerConfig,
    root: &Path,
    plugin_dirs: &std::collections::BTreeMap<PathBuf, String>,
) -> Result<()> {
    let resolved = super::volume::resolve_for_spec(store, cfg)?;
    for m in resolved
        .mounts
        .iter()
        .filter(|m| m.kind == crate::storage::containers::MountKind::Bind)
    {
        // A plugin's volume is where its plugin mounted it.
        let source = Path::new(
            plugin_dirs
                .get(Path::new(&m.destination))
                .unwrap_or(&m.source),
        );
        let Ok(meta) = std::fs::metadata(source) else {
            continue;
        };
        let target = super::rootfs::secure_join(root, Path::new(&m.destination));
        let made = if meta.is_dir() {
            std::fs::create_dir_all(&target)
        } else {
            target
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&target)
                        .map(drop)
                })
        };
        made.with_context(|| format!("making the mount point {}", m.destination))?;
        let mut flags = libc::MS_BIND | libc::MS_REC;
        super::sys::mount(Some(source), &target, None, flags, None)
            .with_context(|| format!("mounting {} on {}", source.display(), m.destination))?;
        if m.options.iter().any(|o| o == "ro") {
            // A user namespace may not drop the flags the source carries.
            flags |= libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(&target);
            super::sys::mount(None, &target, None, flags, None)
                .with_context(|| format!("making {} read-only", m.destination))?;
        }
    }
    Ok(())
}

/// The mount flags of `path`'s mount that a remount must keep.
fn locked_flags(path: &Path) -> libc::c_ulong {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return 0;
    };
    // SAFETY: statvfs fills the struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a zeroed struct that statvfs fills.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ]
    .iter()
    .filter(|(st_flag, _)| st.f_flag & st_flag != 0)
    .fold(0, |acc, (_, ms)| acc | ms)
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: a valid C string.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("opening {}", path.display()));
    }
    // SAFETY: a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Open `path` beneath `root` with every symlink resolved as if `root` were
/// `/`. Mount points may be crossed (volumes); magic links may not.
pub fn open_in(root: BorrowedFd<'_>, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
    let rel = path.strip_prefix(b"/").unwrap_or(path);
    crate::storage::unpack::openat2_in_root(root, rel, flags, 0)
}

/// `/proc/self/fd/N`: a path for APIs that want one, naming exactly `fd`.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

pub fn lstat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Option<libc::stat>> {
    // SAFETY: stat is plain data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, name and out pointer.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH,
        )
    };
    if r == 0 {
        return Ok(Some(st));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENOENT) {
        Ok(None)
    } else {
        Err(e)
    }
}

fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: valid fd and name.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn is_type(st: &libc::stat, fmt: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == fmt
}

/// Writes a tree to a tar stream by fd, never following a symlink, with
/// the owners given (`Some`) or as stat shows them.
pub struct TreeTar<W: Write> {
    pub builder: tar::Builder<W>,
    pub owner: Option<(u32, u32)>,
}

impl<W: Write> TreeTar<W> {
    pub fn new(out: W, owner: Option<(u32, u32)>) -> Self {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        TreeTar { builder, owner }
    }

    /// Add `name` in `dir` (empty name: `dir` itself) as `as_name`.
    pub fn add(&mut self, dir: BorrowedFd<'_>, name: &CStr, as_name: &Path) -> Result<()> {
        let st = lstat_at(dir, name)?
            .ok_or_else(|| anyhow!("{}: no such file or directory", as_name.display()))?;
        let mut h = tar::Header::new_gnu();
        let (uid, gid) = self.owner.unwrap_or((st.st_uid, st.st_gid));
        h.set_uid(uid as u64);
        h.set_gid(gid as u64);
        h.set_mode(st.st_mode & 0o7777);
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        if is_type(&st, libc::S_IFDIR) {
            h.set_entry_type(tar::EntryType::Directory);
            let mut n = as_name.as_os_str().to_owned();
            n.push("/");
            self.builder.append_data(&mut h, &n, io::empty())?;
            let fd = if name.is_empty() {
                openat(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY)?
            } else {
                openat(
                    dir,
                    name,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                )?
            };
            self.children(fd.as_fd(), as_name)?;
        } else if is_type(&st, libc::S_IFREG) {
            let f = File::from(openat(dir, name, libc::O_RDONLY | libc::O_NOFOLLOW)?);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(st.st_size as u64);
            self.builder
                .append_data(&mut h, as_name, f.take(st.st_size as u64))?;
        } else if is_type(&st, libc::S_IFLNK) {
            let mut buf = vec![0u8; libc::PATH_MAX as usize];
            // SAFETY: buf is large enough and owned.
            let n = unsafe {
                libc::readlinkat(
                    dir.as_raw_fd(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error().into());
            }
            buf.truncate(n as usize);
            h.set_entry_type(tar::EntryType::Symlink);
            self.builder
                .append_link(&mut h, as_name, OsStr::from_bytes(&buf))?;
        } else if is_type(&st, libc::S_IFCHR)
            || is_type(&st, libc::S_IFBLK)
            || is_type(&st, libc::S_IFIFO)
        {
            let kind = if is_type(&st, libc::S_IFCHR) {
                tar::EntryType::Char
            } else if is_type(&st, libc::S_IFBLK) {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            h.set_entry_type(kind);
            h.set_device_major(libc::major(st.st_rdev))?;
            h.set_device_minor(libc::minor(st.st_rdev))?;
            self.builder.append_data(&mut h, as_name, io::empty())?;
        }
        Ok(())
    }

    /// Every child of the directory `fd`, sorted, under `prefix`.
    pub fn children(&mut self, fd: BorrowedFd<'_>, prefix: &Path) -> Result<()> {
        let mut names: Vec<CString> = Vec::new();
        let mut listing = nix::dir::Dir::from_fd(fd.try_clone_to_owned()?)?;
        for ent in listing.iter() {
            let ent = ent?;
            let n = ent.file_name();
            if n.to_bytes() != b"." && n.to_bytes() != b".." {
                names.push(n.to_owned());
            }
        }
        names.sort();
        for n in names {
            let child = prefix.join(OsStr::from_bytes(n.to_bytes()));
            self.add(fd, &n, &child)?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<W> {
        Ok(self.builder.into_inner()?)
    }
}

/// Extract `tar` into the directory `dest` (an fd): nothing is written
/// outside it, symlinks in it resolve within it.
pub fn extract_into(tar: impl Read, dest: BorrowedFd<'_>, rootless: bool) -> Result<()> {
    let path = fd_path(dest);
    let opts = UnpackOptions {
        xattr_prefix: if rootless {
            crate::storage::unpack::XattrPrefix::User
        } else {
            crate::storage::unpack::XattrPrefix::Trusted
        },
        whiteout: WhiteoutForm::CharDevice,
        rootless,
        merge: Default::default(),
    };
    unpack_layer(tar, &path, &opts)?;
    Ok(())
}

/// Stream a tar from `produce` into `consume` through a pipe (one thread
/// writes while this one reads), so nothing is held whole in memory.
pub fn pipe_tar(
    produce: impl FnOnce(File) -> Result<()> + Send,
    consume: impl FnOnce(&mut dyn Read) -> Result<()>,
) -> Result<()> {
    let (r, w) = nix::unistd::pipe().context("creating a pipe")?;
    let (r, w) = (File::from(r), File::from(w));
    std::thread::scope(|s| {
        let producer = s.spawn(move || produce(w));
        let mut reader = io::BufReader::with_capacity(128 << 10, r);
        let consumed = consume(&mut reader);
        // Drain so the producer never blocks on a full pipe.
        let _ = io::copy(&mut reader, &mut io::sink());
        drop(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the tar writer panicked")));
        produced.and(consumed)
    })
}

/// One side of a `cp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Host(PathBuf),
    /// A container id and a path in it.
    Container(String, String),
    /// A tar stream on stdin or stdout.
    Stream,
}

#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    /// Owner of what is written into the container (podman's `--archive`:
    /// the container user); None keeps the source owners.
    pub owner: Option<(u32, u32)>,
    /// A directory may replace a non-directory of the same name and back
    /// (`--overwrite`); refused otherwise, as docker and podman do.
    pub overwrite: bool,
    /// `-L`: a source that is a symlink is copied as what it points to.
    pub follow: bool,
}

/// `-L`: a source that is a symlink is copied as what it points to, under
/// the link's own name (at most 40 links, as the kernel allows); each step
/// resolves on the same side, so a container's links stay in its root.
fn resolve_followed(side: Side<'_>, t: &Typed, ctr: &str, follow: bool) -> Result<Source> {
    if !follow {
        return resolve_source(side, t, ctr);
    }
    let mut path = t.path.clone();
    let plain = |path: &[u8]| Typed {
        path: path.to_vec(),
        contents: false,
        slash: false,
    };
    let mut cur = resolve_source(side, &plain(&path), ctr)?;
    let base = cur.base.clone();
    for _ in 0..40 {
        let link =
            lstat_at(cur.parent.as_fd(), &cur.name)?.is_some_and(|st| is_type(&st, libc::S_IFLNK));
        if !link {
            let last = Typed {
                path,
                contents: t.contents,
                slash: t.slash,
            };
            let s = resolve_source(side, &last, ctr)?;
            return Ok(Source { base, ..s });
        }
        let target = readlink_at(cur.parent.as_fd(), &cur.name)?;
        let (dir, _) = split_parent(&path);
        path = if target.starts_with(b"/") {
            target
        } else {
            [dir.as_slice(), b"/", &target].concat()
        };
        cur = resolve_source(side, &plain(&path), ctr)?;
    }
    bail!(
        "{:?}: too many levels of symbolic links",
        String::from_utf8_lossy(&t.path)
    )
}

fn readlink_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: buf is large enough and owned; name is a valid C string.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error().into());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// Without `--overwrite`, the copy must not turn a directory at its
/// landing name into a file, nor a file into a directory. (`SRC/.` into
/// a directory has no landing name: its entries merge.)
fn check_overwrite(d: &Dest, src: &SourceKind, contents: bool, overwrite: bool) -> Result<()> {
    let Some(name) = d.name.as_deref() else {
        return Ok(());
    };
    if overwrite || (contents && d.existing_dir) {
        return Ok(());
    }
    let Some(st) = lstat_at(d.dir.as_fd(), name)? else {
        return Ok(());
    };
    let there = String::from_utf8_lossy(name.to_bytes()).into_owned();
    match (is_type(&st, libc::S_IFDIR), src.is_dir) {
        (true, false) => bail!(
            "cannot overwrite directory {there:?} with non-directory {:?}: use --overwrite",
            String::from_utf8_lossy(src.base.to_bytes())
        ),
        (false, true) => bail!(
            "cannot overwrite non-directory {there:?} with directory {:?}: use --overwrite",
            String::from_utf8_lossy(src.base.to_bytes())
        ),
        _ => Ok(()),
    }
}

/// What a path typed by the user names, docker's rules in mind.
struct Typed {
    /// Path bytes as typed, without the `/.` or trailing `/` marks.
    path: Vec<u8>,
    /// `SRC/.`: the directory's contents, not the directory.
    contents: bool,
    /// Ends in `/`: must be a directory.
    slash: bool,
}

fn typed(p: &[u8]) -> Typed {
    let contents = p.ends_with(b"/.") || p == b".";
    let slash = p.ends_with(b"/");
    let mut path = p.to_vec();
    while path.len() > 1 && (path.ends_with(b"/.") || path.ends_with(b"/")) {
        if path.ends_with(b"/.") {
            path.truncate(path.len() - 2);
        } else {
            path.pop();
        }
    }
    if path.is_empty() {
        path = b"/".to_vec();
    }
    Typed {
        path,
        contents,
        slash,
    }
}

fn split_parent(p: &[u8]) -> (Vec<u8>, CString) {
    let trimmed = p.strip_suffix(b"/").unwrap_or(p);
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => (
            if i == 0 {
                b"/".to_vec()
            } else {
                trimmed[..i].to_vec()
            },
            CString::new(&trimmed[i + 1..]).unwrap_or_default(),
        ),
        None => (b".".to_vec(), CString::new(trimmed).unwrap_or_default()),
    }
}

/// A place paths resolve in: the container's root (in-root resolution) or
/// the host (ordinary resolution).
#[derive(Clone, Copy)]
enum Side<'a> {
    Container(BorrowedFd<'a>),
    Host,
}

impl Side<'_> {
    fn open(&self, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
        match self {
            Side::Container(root) => open_in(*root, path, flags),
            Side::Host => {
                let c =
                    CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
                // SAFETY: a valid C string.
                let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                // SAFETY: a fresh fd we own.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            }
        }
    }

    fn describe(&self, path: &[u8], ctr: &str) -> String {
        match self {
            Side::Container(_) => format!(
                "{:?} could not be found on container {ctr}",
                String::from_utf8_lossy(path)
            ),
            Side::Host => format!(
                "{:?} could not be found on the host",
                String::from_utf8_lossy(path)
            ),
        }
    }
}

/// "no such file or directory", as podman words it.
fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// A resolved source: the parent directory fd and the entry's name (empty
/// for a root), and whether it is a directory.
struct Source {
    parent: OwnedFd,
    name: CString,
    is_dir: bool,
    base: CString,
}

/// What the destination's rules need to know of a source (it may have been
/// resolved in another container's root).
#[derive(Clone, Debug, PartialEq)]
struct SourceKind {
    is_dir: bool,
    /// The source is a root (`CTR:/`): its contents go in.
    is_root: bool,
    base: CString,
}

impl Source {
    fn kind(&self) -> SourceKind {
        SourceKind {
            is_dir: self.is_dir,
            is_root: self.name.is_empty(),
            base: self.base.clone(),
        }
    }
}

fn resolve_source(side: Side<'_>, t: &Typed, ctr: &str) -> Result<Source> {
    let missing = |e: io::Error| anyhow!("{}: {}", side.describe(&t.path, ctr), errno_text(&e));
    let (parent, name) = if t.path == b"/" {
        (
            side.open(b"/", libc::O_PATH | libc::O_DIRECTORY)
                .map_err(missing)?,
            CString::default(),
        )
    } else {
        let (dir, name) = split_parent(&t.path);
        let parent = side
            .open(&dir, libc::O_PATH | libc::O_DIRECTORY)
            .map_err(missing)?;
        (parent, name)
    };
    let st = lstat_at(parent.as_fd(), &name)?
        .ok_or_else(|| missing(io::Error::from_raw_os_error(libc::ENOENT)))?;
    let is_dir = is_type(&st, libc::S_IFDIR);
    if (t.slash || t.contents) && !is_dir {
        bail!("{:?}: not a directory", String::from_utf8_lossy(&t.path));
    }
    let base = if name.is_empty() {
        CString::new("root").unwrap()
    } else {
        name.clone()
    };
    Ok(Source {
        parent,
        name,
        is_dir,
        base,
    })
}

/// Where a copy lands: the directory to extract into and the name the
/// source takes there (None: the source's contents go in directly).
struct Dest {
    dir: OwnedFd,
    name: Option<CString>,
    /// The typed destination is an existing directory (`SRC/.` then means
    /// its contents go straight in).
    existing_dir: bool,
}

fn resolve_dest(side: Side<'_>, t: &Typed, src: Option<&SourceKind>, ctr: &str) -> Result<Dest> {
    let missing = |e: io::Error| anyhow!("{}: {}", side.describe(&t.path, ctr), errno_text(&e));
    // An existing directory (a symlink to one resolves, in the container's root).
    match side.open(&t.path, libc::O_RDONLY | libc::O_DIRECTORY) {
        Ok(dir) => {
            let name = match src {
                None => None,
                Some(s) if s.is_dir && s.is_root => None,
                Some(s) => Some(s.base.clone()),
            };
            return Ok(Dest {
                dir,
                name,
                existing_dir: true,
            });
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            if src.is_none_or(|s| s.is_dir) {
                bail!(
                    "{:?}: cannot copy a directory (or a tar stream) onto a file",
                    String::from_utf8_lossy(&t.path)
                );
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            if t.slash || src.is_none() {
                return Err(missing(e)).context("the destination directory must exist");
            }
        }
        Err(e) => return Err(missing(e)),
    }
    // A new name (or a file to replace) in an existing directory.
    let (parent, name) = split_parent(&t.path);
    let dir = side
        .open(&parent, libc::O_RDONLY | libc::O_DIRECTORY)
        .map_err(|e| anyhow!("{}: {}", side.describe(&parent, ctr), errno_text(&e)))?;
    Ok(Dest {
        dir,
        name: Some(name),
        existing_dir: false,
    })
}

/// Write the source as a tar: named `name`, or its contents when None.
fn write_source<W: Write>(
    src: &Source,
    contents: bool,
    name: Option<&CStr>,
    out: W,
    owner: Option<(u32, u32)>,
) -> Result<W> {
    let mut t = TreeTar::new(out, owner);
    if src.is_dir && (contents || name.is_none()) {
        let fd = if src.name.is_empty() {
            openat(src.parent.as_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY)?
        } else {
            openat(
                src.parent.as_fd(),
                &src.name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            )?
        };
        t.children(fd.as_fd(), Path::new(""))?;
    } else {
        let as_name = name.unwrap_or(&src.base);
        t.add(
            src.parent.as_fd(),
            &src.name,
            Path::new(OsStr::from_bytes(as_name.to_bytes())),
        )?;
    }
    t.finish()
}

/// `cp SRC DST` with at most one side in a container (or a stream).
pub fn copy(store: &Store, src: &Endpoint, dst: &Endpoint, opts: &CopyOptions) -> Result<()> {
    let id = match (src, dst) {
        (Endpoint::Container(id, _), Endpoint::Host(_) | Endpoint::Stream) => id.clone(),
        (Endpoint::Host(_) | Endpoint::Stream, Endpoint::Container(id, _)) => id.clone(),
        (Endpoint::Container(from, sp), Endpoint::Container(to, dp)) => {
            return between::copy(store, (from, sp), (to, dp), opts);
        }
        _ => bail!("one of the source and destination must be a container path (CONTAINER:PATH)"),
    };
    let name = store.containers.load_config(&id)?.name;
    let rootless = store.rootless;
    let owner = opts.owner;
    let overwrite = opts.overwrite;
    let follow = opts.follow;
    with_container_root(store, &id, Access::Live, |root| {
        let ctr = Side::Container(root.fd.as_fd());
        match (src, dst) {
            (Endpoint::Container(_, p), Endpoint::Stream) => {
                let t = typed(p.as_bytes());
                let s = resolve_followed(ctr, &t, &name, follow)?;
                let out = io::BufWriter::new(io::stdout().lock());
                let mut out = write_source(&s, t.contents, None, out, None)?;
                out.flush()?;
            }
            (Endpoint::Stream, Endpoint::Container(_, p)) => {
                let t = typed(p.as_bytes());
                let d = resolve_dest(ctr, &t, None, &name)?;
                extract_into(io::stdin().lock(), d.dir.as_fd(), rootless)?;
            }
            (Endpoint::Container(_, sp), Endpoint::Host(hp)) => {
                let st = typed(sp.as_bytes());
                let s = resolve_followed(ctr, &st, &name, follow)?;
                let dt = typed(hp.as_os_str().as_bytes());
                let d = resolve_dest(Side::Host, &dt, Some(&s.kind()), &name)?;
                check_overwrite(&d, &s.kind(), st.contents, overwrite)?;
                // Files copied out belong to the caller, as with docker.
                // SAFETY: geteuid/getegid cannot fail.
                let me = unsafe { (libc::geteuid(), libc::getegid()) };
                transfer(&s, st.contents, &d, Some(me), rootless)?;
            }
            (Endpoint::Host(hp), Endpoint::Container(_, dp)) => {
                let st = typed(hp.as_os_str().as_bytes());
                let s = resolve_followed(Side::Host, &st, &name, follow)?;
                let dt = typed(dp.as_bytes());
                let d = resolve_dest(ctr, &dt, Some(&s.kind()), &name)?;
                check_overwrite(&d, &s.kind(), st.contents, overwrite)?;
                transfer(&s, st.contents, &d, owner, rootless)?;
            }
            _ => unreachable!("checked above"),
        }
        Ok(Vec::new())
    })
    .map(drop)
}

fn transfer(
    s: &Source,
    contents: bool,
    d: &Dest,
    owner: Option<(u32, u32)>,
    rootless: bool,
) -> Result<()> {
    // Into an existing directory, `SRC/.` copies the contents; to a new
    // name, the directory itself takes that name either way.
    let contents = (contents && d.existing_dir) || d.name.is_none();
    let name = if contents { None } else { d.name.as_deref() };
    pipe_tar(
        |w| {
            write_source(s, contents, name, io::BufWriter::new(w), owner)?
                .flush()
                .map_err(Into::into)
        },
        |r| extract_into(r, d.dir.as_fd(), rootless),
    )
}

/// `export`: the container's merged files (its own mounts left out) as a
/// tar into `out`, with the container-side owners.
pub fn export(store: &Store, id: &str, out: impl FnOnce() -> Result<Box<dyn Write>>) -> Result<()> {
    with_container_root(store, id, Access::Snapshot, |root| {
        let w = out()?;
        let mut t = TreeTar::new(io::BufWriter::with_capacity(256 << 10, w), None);
        let fd = openat(root.fd.as_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY)?;
        t.children(fd.as_fd(), Path::new(""))?;
        t.finish()?.flush()?;
        Ok(Vec::new())
    })
    .map(drop)
}
