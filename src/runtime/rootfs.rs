//! The container's root filesystem, assembled inside its own mount
//! namespace: overlay of the image layers, the spec's mounts, device nodes,
//! masked and read-only paths, then pivot_root. Nothing here touches the
//! host's mount table: when the namespace dies, every mount goes with it.

use super::sys::{self, mount};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Mount, Spec};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Where the rootfs comes from.
#[derive(Debug, Clone)]
pub struct RootfsPlan {
    /// Layer diff directories, lowest first.
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Mount overlay with `userxattr` (layers written inside a user namespace).
    pub userxattr: bool,
    /// The vfs driver: `upper` already holds a full copy; bind it.
    pub copy: bool,
    /// Already mounted, the mount namespace made private (see
    /// `idmap::reach_before_identity`).
    pub premounted: bool,
}

/// Resolve `path` inside `root` as the container would see it: symlinks
/// (absolute ones too) are followed relative to `root` and never lead out.
pub fn secure_join(root: &Path, path: &Path) -> PathBuf {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: Vec<std::ffi::OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .rev()
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            parts.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&parts);
        candidate.push(&part);
        match fs::read_link(&candidate) {
            Ok(target) if hops < 40 => {
                hops += 1;
                if target.is_absolute() {
                    parts.clear();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => pending.push(n.to_os_string()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => parts.push(part),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(parts);
    out
}

fn mount_flags(options: &[String]) -> (libc::c_ulong, libc::c_ulong, Vec<String>) {
    let mut flags = 0;
    let mut propagation = 0;
    let mut data = Vec::new();
    for o in options {
        match o.as_str() {
            "ro" => flags |= libc::MS_RDONLY,
            "rw" => flags &= !libc::MS_RDONLY,
            "nosuid" => flags |= libc::MS_NOSUID,
            "suid" => flags &= !libc::MS_NOSUID,
            "nodev" => flags |= libc::MS_NODEV,
            "dev" => flags &= !libc::MS_NODEV,
            "noexec" => flags |= libc::MS_NOEXEC,
            "exec" => flags &= !libc::MS_NOEXEC,
            "sync" => flags |= libc::MS_SYNCHRONOUS,
            "dirsync" => flags |= libc::MS_DIRSYNC,
            "noatime" => flags |= libc::MS_NOATIME,
            "nodiratime" => flags |= libc::MS_NODIRATIME,
            "relatime" => flags |= libc::MS_RELATIME,
            "strictatime" => flags |= libc::MS_STRICTATIME,
            "bind" => flags |= libc::MS_BIND,
            "rbind" => flags |= libc::MS_BIND | libc::MS_REC,
            "private" => propagation = libc::MS_PRIVATE,
            "rprivate" => propagation = libc::MS_PRIVATE | libc::MS_REC,
            "slave" => propagation = libc::MS_SLAVE,
            "rslave" => propagation = libc::MS_SLAVE | libc::MS_REC,
            "shared" => propagation = libc::MS_SHARED,
            "rshared" => propagation = libc::MS_SHARED | libc::MS_REC,
            "unbindable" => propagation = libc::MS_UNBINDABLE,
            "runbindable" => propagation = libc::MS_UNBINDABLE | libc::MS_REC,
            "z" | "Z" | "U" | "copy" | "nocopy" | "keepowner" => {}
            other => data.push(other.to_string()),
        }
    }
    (flags, propagation, data)
}

/// The storage driver's `mountopt` (`--storage-opt overlay.mountopt=`,
/// STORAGE_OPTS, storage.conf): mount flags, and options for overlayfs.
pub(crate) fn overlay_mountopt() -> (libc::c_ulong, Vec<String>) {
    let (flags, _, data) = mount_flags(&crate::config::get().storage.overlay_mountopt);
    (flags, data)
}

/// Flags a bind mount inherits from its source and may not drop when
/// remounted inside a user namespace (the kernel "locks" them).
fn locked_flags(path: &Path) -> libc::c_ulong {
    let Ok(c) = sys::cstr(path) else { return 0 };
    // SAFETY: statvfs fills the zeroed struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a zeroed struct that statvfs fills.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    let mut out = 0;
    for (vfs, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & vfs != 0 {
            out |= ms;
        }
    }
    out
}

/// Make the mount point: a directory, or an empty file for a file source.
fn make_target(target: &Path, source_is_file: bool) -> Result<()> {
    if target.exists() {
        return Ok(());
    }
    if source_is_file {
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::File::create(target).with_context(|| format!("creating {}", target.display()))?;
    } else {
        fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    }
    Ok(())
}

fn mount_one(root: &Path, m: &Mount) -> Result<()> {
    let dest = secure_join(root, m.destination());
    let typ = m.typ().as_deref().unwrap_or("bind");
    let options = m.options().clone().unwrap_or_default();
    let (flags, propagation, data) = mount_flags(&options);
    let data = data.join(",");
    let data = (!data.is_empty()).then_some(data.as_str());
    let is_bind = typ == "bind" || flags & libc::MS_BIND != 0;
    if is_bind {
        let source = m.source().clone().unwrap_or_default();
        let meta = fs::metadata(&source)
            .with_context(|| format!("bind mount source {}", source.display()))?;
        make_target(&dest, !meta.is_dir())?;
        let rec = flags & libc::MS_REC;
        mount(Some(&source), &dest, None, libc::MS_BIND | rec, None)?;
        let wanted = flags & !(libc::MS_BIND | libc::MS_REC);
        if wanted != 0 {
            let keep = locked_flags(&dest);
            mount(
                None,
                &dest,
                None,
                libc::MS_BIND | libc::MS_REMOUNT | wanted | keep,
                None,
            )
            .with_context(|| format!("applying options to {}", m.destination().display()))?;
        }
    } else {
        make_target(&dest, false)?;
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        match mount(Some(&source), &dest, Some(typ), flags, data) {
            Ok(()) => {}
            // Without its own network namespace a user namespace may not
            // mount sysfs; the host's, read-only, is what podman shows then.
            Err(_) if typ == "sysfs" => {
                mount(
                    Some(Path::new("/sys")),
                    &dest,
                    None,
                    libc::MS_BIND | libc::MS_REC,
                    None,
                )?;
                let keep = locked_flags(&dest);
                let _ = mount(
                    None,
                    &dest,
                    None,
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | keep,
                    None,
                );
            }
            // mqueue needs an IPC namespace owned by our user namespace.
            Err(_) if typ == "mqueue" => {}
            Err(e) => return Err(e),
        }
    }
    // Everything here is private already (setup made "/" rprivate first,
    // and mounts made under private ones are private): only other kinds
    // of propagation cost a mount call.
    if propagation != 0 && propagation & !libc::MS_REC != libc::MS_PRIVATE {
        mount(None, &dest, None, propagation, None)?;
    }
    Ok(())
}

/// The device nodes every container gets.
const DEVICES: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn create_devices(root: &Path, rootless: bool) -> Result<()> {
    let dev = root.join("dev");
    for (name, major, minor) in DEVICES {
        let path = dev.join(name);
        let c = sys::cstr(&path)?;
        // SAFETY: valid path; makedev is pure.
        let made = !rootless
            && unsafe {
                libc::mknod(
                    c.as_ptr(),
                    libc::S_IFCHR | 0o666,
                    libc::makedev(*major, *minor),
                )
            } == 0;
        if made {
            // mknod is subject to the umask.
            fs::set_permissions(&path, fs::Permissions::from_mode(0o666))?;
        } else {
            // A user namespace may not create devices: bind the host's.
            fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            mount(
                Some(&Path::new("/dev").join(name)),
                &path,
                None,
                libc::MS_BIND,
                None,
            )?;
        }
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        let _ = symlink(target, dev.join(link));
    }
    let ptmx = dev.join("ptmx");
    let _ = fs::remove_file(&ptmx);
    symlink("pts/ptmx", &ptmx).context("creating /dev/ptmx")?;
    Ok(())
}

fn mask_paths(root: &Path, masked: &[String]) -> Result<()> {
    for p in masked {
        let target = secure_join(root, Path::new(p));
        let Ok(meta) = fs::symlink_metadata(&target) else {
            continue;
        };
        if meta.is_dir() {
            mount(
                Some(Path::new("tmpfs")),
                &target,
                Some("tmpfs"),
                libc::MS_RDONLY,
                Some("size=0"),
            )?;
        } else {
            mount(
                Some(Path::new("/dev/null")),
                &target,
                None,
                libc::MS_BIND,
                None,
            )?;
        }
    }
    Ok(())
}

fn readonly_paths(root: &Path, paths: &[String]) -> Result<()> {
    for p in paths {
        let target = secure_join(root, Path::new(p));
        if !target.exists() {
            continue;
        }
        mount(
            Some(&target),
            &target,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )?;
        let keep = locked_flags(&target);
        mount(
            None,
            &target,
            None,
            libc::MS_BIND
                | libc::MS_REMOUNT
                | libc::MS_RDONLY
                | keep
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC,
            None,
        )?;
    }
    Ok(())
}

/// Mount the image layers at the spec's root path.
pub(crate) fn mount_layers(root: &Path, plan: &RootfsPlan) -> Result<()> {
    fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    if plan.copy {
        return mount(Some(&plan.upper), root, None, libc::MS_BIND, None);
    }
    if plan.layers.is_empty() {
        bail!("the image has no layers");
    }
    // Paths relative to the layers directory keep the mount data short:
    // the kernel takes one page of options. (A `--rootfs DIR:O` near the
    // top of the tree has no such directory: "/" then.)
    let base = plan.layers[0]
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    std::env::set_current_dir(&base).with_context(|| format!("entering {}", base.display()))?;
    // An image may hold the same layer twice (two steps that changed
    // nothing): overlayfs refuses a repeated lower dir (ELOOP). The topmost
    // copy alone gives the same view, since it covers everything below it.
    let mut seen = std::collections::HashSet::new();
    let lower: Vec<String> = plan
        .layers
        .iter()
        .rev()
        .filter(|l| seen.insert(l.as_path()))
        .map(|l| {
            l.strip_prefix(&base)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_else(|_| l.to_string_lossy().into_owned())
        })
        .collect();
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        plan.upper.display(),
        plan.work.display()
    );
    if plan.userxattr {
        data.push_str(",userxattr");
    }
    let (extra_flags, extra) = overlay_mountopt();
    for o in extra {
        data.push(',');
        data.push_str(&o);
    }
    if data.len() >= 4000 {
        bail!(
            "the image has too many layers ({}) for one overlay mount",
            plan.layers.len()
        );
    }
    mount(
        Some(Path::new("overlay")),
        root,
        Some("overlay"),
        extra_flags,
        Some(&data),
    )
    .context("mounting the container's root filesystem")?;
    std::env::set_current_dir("/")?;
    Ok(())
}

pub(super) fn pivot_root(root: &Path) -> Result<()> {
    std::env::set_current_dir(root)?;
    let dot = sys::cstr(".")?;
    // SAFETY: pivot_root(".", ".") stacks the old root under the new one,
    // which we then detach: no directory for the old root is needed.
    let rc = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    if rc != 0 {
        bail!("pivot_root: {}", sys::errno());
    }
    // Keep the old root's unmount from propagating anywhere.
    mount(
        None,
        Path::new("."),
        None,
        libc::MS_SLAVE | libc::MS_REC,
        None,
    )?;
    sys::umount_detach(Path::new("."))?;
    std::env::set_current_dir("/")?;
    Ok(())
}

/// The image layers at `target`, in the caller's own (new) mount
/// namespace: the root an external OCI runtime is given (`--runtime`),
/// which does the rest of the mounts itself.
pub fn mount_for_runtime(target: &Path, plan: &RootfsPlan) -> Result<()> {
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    mount_layers(target, plan)
}

/// Nothing we mount may propagate back to the host.
pub(super) fn make_private() -> Result<()> {
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
}

/// Build the whole root filesystem and switch into it. Runs in the
/// container's fresh mount namespace, before the process is started.
pub fn setup(spec: &Spec, plan: &RootfsPlan, rootless: bool) -> Result<()> {
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .context("spec has no root")?;
    if !plan.premounted {
        make_private()?;
        mount_layers(&root, plan)?;
    }
    let mounts = spec.mounts().clone().unwrap_or_default();
    let (uid, gid) = spec
        .process()
        .as_ref()
        .map(|p| (p.user().uid(), p.user().gid()))
        .unwrap_or((0, 0));
    for m in &mounts {
        if m.typ().as_deref().unwrap_or("bind") == "bind" {
            super::volume::prepare_source(&secure_join(&root, m.destination()), m, uid, gid)
                .with_context(|| format!("preparing {}", m.destination().display()))?;
        }
        mount_one(&root, m).with_context(|| format!("mounting {}", m.destination().display()))?;
        if m.destination() == Path::new("/dev") {
            create_devices(&root, rootless)?;
            super::devices::make_nodes(spec, |p| secure_join(&root, p))?;
        }
    }
    let linux = spec.linux().as_ref();
    let masked = linux
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    let readonly = linux
        .and_then(|l| l.readonly_paths().clone())
        .unwrap_or_default();
    readonly_paths(&root, &readonly)?;
    mask_paths(&root, &masked)?;
    pivot_root(&root)?;
    if spec
        .root()
        .as_ref()
        .is_some_and(|r| r.readonly().unwrap_or(false))
    {
        let keep = locked_flags(Path::new("/"));
        mount(
            None,
            Path::new("/"),
            None,
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | keep,
            None,
        )
        .context("making the root filesystem read-only")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_join_stays_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../etc", root.join("rel")).unwrap();
        assert_eq!(
            secure_join(root, Path::new("/abs/hosts")),
            root.join("etc/hosts")
        );
        assert_eq!(
            secure_join(root, Path::new("rel/hosts")),
            root.join("etc/hosts")
        );
        assert_eq!(secure_join(root, Path::new("../../x")), root.join("x"));
    }
}
