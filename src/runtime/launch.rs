//! What `run` and `exec` hand the program beyond the spec: the caller's
//! descriptors (`--preserve-fds`, `--preserve-fd`), another init binary
//! (`--init-path`), systemd mode's mounts and environment (`--systemd`).

use std::sync::OnceLock;

use anyhow::{bail, Result};
use oci_spec::runtime::{MountBuilder, Spec};

use crate::storage::containers::ContainerConfig;

/// Where `--init-path`'s binary appears in the container (podman's path).
pub const INIT_IN_CONTAINER: &str = "/run/podman-init";

/// The descriptors this `run` passes on. A start-time matter, not a
/// record's: the monitor is a fork of this process, so it sees them here
/// and holds the descriptors themselves; a later `start` passes none.
static PASSED: OnceLock<Vec<i32>> = OnceLock::new();

/// `--attach`: the streams the monitor's attached relay serves (unset or
/// empty: all).
static ATTACHED: OnceLock<Vec<String>> = OnceLock::new();

/// In the monitor, before relaying: the container's `--attach`.
pub fn attach_only(streams: &[String]) {
    let _ = ATTACHED.set(streams.to_vec());
}

/// Is `stream` (stdin, stdout, stderr) relayed to an attached caller?
pub fn attached(stream: &str) -> bool {
    ATTACHED
        .get()
        .is_none_or(|s| s.is_empty() || s.iter().any(|x| x == stream))
}

/// `--preserve-fds N` and `--preserve-fd LIST` as one sorted list of
/// descriptor numbers, each checked to be one the caller passed us.
pub fn preserved_fds(count: u32, listed: &[u32]) -> Result<Vec<i32>> {
    let mut fds: Vec<i32> = Vec::new();
    for &fd in listed {
        if fd < 3 {
            bail!("cannot preserve FD {fd}: 0, 1 and 2 are the container's stdio already");
        }
        fds.push(fd.try_into()?);
    }
    let first_free = 3i64 + count as i64;
    if first_free > i32::MAX as i64 {
        bail!("--preserve-fds {count}: too many descriptors");
    }
    fds.extend(3..first_free as i32);
    fds.sort_unstable();
    fds.dedup();
    for &fd in &fds {
        if !inherited(fd) {
            bail!("file descriptor {fd} is not available - the preserve-fd option requires that file descriptors must be passed");
        }
    }
    Ok(fds)
}

/// Open, and not close-on-exec: ours from the caller (every descriptor
/// coracle opens itself is close-on-exec).
fn inherited(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    flags >= 0 && flags & libc::FD_CLOEXEC == 0
}

/// Hand `fds` to the containers this process starts.
pub fn pass_fds(fds: Vec<i32>) {
    let _ = PASSED.set(fds);
}

/// The descriptors a container started by this process gets.
pub fn passed_fds() -> &'static [i32] {
    PASSED.get().map(Vec::as_slice).unwrap_or_default()
}

/// The launch settings' part of a new container's spec.
pub fn apply(cfg: &ContainerConfig, spec: &mut Spec) -> Result<()> {
    apply_init_path(cfg, spec)?;
    if cfg.launch.systemd {
        systemd_mode(cfg, spec)?;
    }
    Ok(())
}

/// podman's systemd mode: tmpfs where systemd writes at boot (unless
/// mounted already), the cgroup tree writable (cgroup v2; v1: a tmpfs at
/// /sys/fs/cgroup/systemd), and
/// `container_uuid`. Mounts then go parents first.
fn systemd_mode(cfg: &ContainerConfig, spec: &mut Spec) -> Result<()> {
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    let taken = |mounts: &[oci_spec::runtime::Mount], d: &str| {
        mounts
            .iter()
            .any(|m| m.destination() == std::path::Path::new(d))
    };
    // `--shm-size-systemd`: a size for each (0: none, the kernel's half).
    let size = cfg
        .launch
        .systemd_tmpfs_size
        .filter(|&n| n > 0)
        .map(|n| format!("size={n}"));
    for (dest, mode) in [
        ("/run", "755"),
        ("/run/lock", "755"),
        ("/tmp", "1777"),
        ("/var/log/journal", "755"),
    ] {
        if !taken(&mounts, dest) {
            let mut options: Vec<String> = ["rw", "rprivate", "nosuid", "nodev"]
                .map(String::from)
                .to_vec();
            options.push(format!("mode={mode}"));
            options.extend(size.clone());
            mounts.push(
                MountBuilder::default()
                    .destination(dest)
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(options)
                    .build()?,
            );
        }
    }
    let v2 = std::path::Path::new(super::cgroup::ROOT)
        .join("cgroup.controllers")
        .exists();
    let tmpfs = |dest: &str| {
        MountBuilder::default()
            .destination(dest)
            .typ("tmpfs")
            .source("tmpfs")
            .options(
                ["rw", "nosuid", "noexec", "nodev", "mode=755"]
                    .map(String::from)
                    .to_vec(),
            )
            .build()
    };
    if !v2 && !taken(&mounts, super::cgroup::ROOT) {
        // cgroup v1: systemd's own hierarchy is a tmpfs of its own (the
        // sysfs below has no directory for it: a tmpfs under it first).
        mounts.push(tmpfs(super::cgroup::ROOT)?);
        mounts.push(tmpfs("/sys/fs/cgroup/systemd")?);
    }
    if v2 && !taken(&mounts, super::cgroup::ROOT) {
        mounts.push(
            MountBuilder::default()
                .destination(super::cgroup::ROOT)
                .typ("cgroup2")
                .source("cgroup2")
                .options(
                    ["rw", "nosuid", "noexec", "nodev"]
                        .map(String::from)
                        .to_vec(),
                )
                .build()?,
        );
    }
    // Stable: a parent (fewer components) still comes before its children.
    mounts.sort_by_key(|m| m.destination().components().count());
    spec.set_mounts(Some(mounts));
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("container_uuid="));
        env.push(format!("container_uuid={}", &cfg.id[..32]));
        p.set_env(Some(env));
    }
    Ok(())
}

/// `--init-path`: the binary bound read-only at /run/podman-init and run
/// as `/run/podman-init -- PROGRAM...`, as podman runs its catatonit.
fn apply_init_path(cfg: &ContainerConfig, spec: &mut Spec) -> Result<()> {
    let Some(path) = &cfg.launch.init_path else {
        return Ok(());
    };
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(
        MountBuilder::default()
            .destination(INIT_IN_CONTAINER)
            .typ("bind")
            .source(path)
            .options(vec!["bind".into(), "ro".into(), "nosuid".into()])
            .build()?,
    );
    spec.set_mounts(Some(mounts));
    if let Some(p) = spec.process_mut() {
        let mut args = vec![INIT_IN_CONTAINER.to_string(), "--".to_string()];
        args.extend(p.args().clone().unwrap_or_default());
        p.set_args(Some(args));
    }
    Ok(())
}

/// `--rootfs`: the directory itself (bound, changes land in it), or with
/// `:O` the lower layer of an overlay whose upper is the container's.
pub fn rootfs_plan(
    r: &crate::storage::launch::RootfsDir,
    dir: &std::path::Path,
    rootless: bool,
) -> super::rootfs::RootfsPlan {
    let path = std::path::PathBuf::from(&r.path);
    super::rootfs::RootfsPlan {
        layers: if r.overlay {
            vec![path.clone()]
        } else {
            Vec::new()
        },
        upper: if r.overlay { dir.join("upper") } else { path },
        work: dir.join("work"),
        userxattr: rootless,
        copy: !r.overlay,
        premounted: false,
    }
}
