//! CRIU: a running container's process tree dumped to image files
//! (`container checkpoint`) and brought back from them (`container
//! restore`). criu runs as a helper program, found as the other helpers
//! are. What the container holds of the host (its network namespace, the
//! files bound into it, the pipes to its monitor, the host's /dev/null on
//! stdin) is declared external at the dump, each under a key kept in
//! `checkpoint/descriptors.json`, and handed in anew at the restore.

use super::sys;
use crate::storage::containers::ContainerConfig;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// criu's key for the container's network namespace: restore is given a
/// new one under it.
pub const NETNS_KEY: &str = "extRootNetNS";

/// What a restore needs besides criu's images.
#[derive(Serialize, Deserialize, Default, Debug)]
pub struct Descriptors {
    /// criu's names of the first process's fds 0, 1 and 2 (`pipe:[N]`
    /// for the monitor's pipes, `file[M:I]` for the host's /dev/null).
    pub stdio: Vec<String>,
    /// Mount points bound from the host (each is its own key).
    pub mounts: Vec<ExternalMount>,
    /// The container had a network namespace of its own.
    pub own_netns: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ExternalMount {
    pub target: String,
    /// Where it came from at the dump; a restore prefers what the
    /// container's spec binds there now (an imported container's files).
    pub host: String,
}

/// The criu program: containers.conf's helper_binaries_dir, $PATH, then
/// /usr/local/sbin and /usr/sbin.
pub fn criu() -> Result<PathBuf> {
    if let Some(p) = super::network::find_program("criu") {
        if !p.starts_with("/usr/sbin") && !p.starts_with("/usr/bin") {
            return Ok(p);
        }
        // A distribution's criu may be too old for the kernel; one built
        // into /usr/local wins when $PATH left it out.
        let local = PathBuf::from("/usr/local/sbin/criu");
        return Ok(if local.is_file() { local } else { p });
    }
    let local = PathBuf::from("/usr/local/sbin/criu");
    if local.is_file() {
        return Ok(local);
    }
    bail!("checkpoint/restore requires CRIU: criu not found in $PATH, /usr/local/sbin or containers.conf's helper_binaries_dir")
}

pub fn userdata(store: &Store, id: &str) -> PathBuf {
    store.containers.dir(id).join("userdata")
}

/// criu's images of the container.
pub fn images_dir(store: &Store, id: &str) -> PathBuf {
    userdata(store, id).join("checkpoint")
}

pub fn dump_log(store: &Store, id: &str) -> PathBuf {
    userdata(store, id).join("dump.log")
}

pub fn restore_log(store: &Store, id: &str) -> PathBuf {
    userdata(store, id).join("restore.log")
}

/// Written by `checkpoint` before the dump: the monitor records the end
/// of the program as a checkpoint, not an exit to restart from.
pub fn checkpointing_mark(store: &Store, id: &str) -> PathBuf {
    userdata(store, id).join("checkpointing")
}

/// Written by `restore` for the monitor it starts: restore, don't start.
pub fn restore_request(store: &Store, id: &str) -> PathBuf {
    userdata(store, id).join("restore-request.json")
}

/// The restore request for this start, if `restore` made one; removed,
/// so a later plain start starts the program anew.
pub fn take_restore_request(store: &Store, id: &str) -> Option<RestoreOptions> {
    let path = restore_request(store, id);
    let text = std::fs::read(&path).ok()?;
    let _ = std::fs::remove_file(&path);
    serde_json::from_slice(&text).ok()
}

pub fn write_restore_request(store: &Store, id: &str, o: &RestoreOptions) -> Result<()> {
    crate::storage::atomic::write_file(&restore_request(store, id), &serde_json::to_vec(o)?, false)
}

/// Did `checkpoint` end the program? (The mark is removed.)
pub fn take_checkpointing_mark(store: &Store, id: &str) -> bool {
    std::fs::remove_file(checkpointing_mark(store, id)).is_ok()
}

/// Is there a complete checkpoint to restore from?
pub fn has_checkpoint(store: &Store, id: &str) -> bool {
    images_dir(store, id).join("inventory.img").is_file()
}

#[derive(Default, Debug, Clone)]
pub struct DumpOptions {
    pub leave_running: bool,
    pub tcp_established: bool,
    pub file_locks: bool,
}

#[derive(Default, Debug, Clone, Serialize, Deserialize)]
pub struct RestoreOptions {
    pub tcp_established: bool,
    pub tcp_close: bool,
    pub file_locks: bool,
}

/// Why a container cannot be checkpointed, before criu is asked.
pub fn check_dumpable(store: &Store, cfg: &ContainerConfig, spec: &Spec) -> Result<()> {
    if cfg.tty {
        bail!("cannot checkpoint container {}: a container with a terminal (-t) cannot be checkpointed by coracle", cfg.name);
    }
    if cfg.oci_runtime.is_some() {
        bail!("cannot checkpoint container {}: it runs under an external OCI runtime; only the built-in runtime is checkpointed", cfg.name);
    }
    // A pod member's net, ipc and uts namespaces are its infra's: criu
    // takes them as external and the restore joins the infra's again.
    let infra = pod_infra(store, cfg);
    for (ns, from) in super::namespaces::joined(cfg) {
        let of_infra = from.is_some() && from == infra.as_deref();
        if !of_infra || !POD_SHARED.contains(&ns) {
            bail!(
                "cannot checkpoint container {}: it joins another container's {ns} namespace",
                cfg.name
            );
        }
    }
    if cfg.launch.userns_from.is_some() {
        bail!(
            "cannot checkpoint container {}: it shares the user namespace of its pod",
            cfg.name
        );
    }
    let own = |t: oci_spec::runtime::LinuxNamespaceType| {
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|n| n.iter().any(|ns| ns.typ() == t && ns.path().is_none()))
    };
    if !own(oci_spec::runtime::LinuxNamespaceType::Pid) {
        bail!(
            "cannot checkpoint container {}: it shares another pid namespace",
            cfg.name
        );
    }
    Ok(())
}

/// The namespaces a checkpointed pod member may share with its infra.
const POD_SHARED: [&str; 3] = ["net", "ipc", "uts"];

/// The infra of `cfg`'s pod, if it is a member of one.
fn pod_infra(store: &Store, cfg: &ContainerConfig) -> Option<String> {
    if cfg.pod.is_empty() {
        return None;
    }
    let pod = store.pods.load(&cfg.pod).ok()?;
    (!pod.infra_id.is_empty()).then_some(pod.infra_id)
}

/// One line of /proc/PID/mountinfo, the fields we use.
struct MountLine {
    dev: String,
    root: String,
    target: String,
    fstype: String,
}

fn mountinfo(pid: i32) -> Result<Vec<MountLine>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .with_context(|| format!("reading the mounts of process {pid}"))?;
    let unescape = |s: &str| {
        s.replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\134", "\\")
    };
    Ok(text
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            Some(MountLine {
                dev: f.get(2)?.to_string(),
                root: unescape(f.get(3)?),
                target: unescape(f.get(4)?),
                fstype: right.split(' ').next()?.to_string(),
            })
        })
        .collect())
}

/// The mounts bound from outside the container: a bind (root not `/`)
/// of a filesystem no other mount of the container shows, or any mount
/// the spec binds from the host.
fn external_mounts(pid: i32, spec: &Spec) -> Result<Vec<ExternalMount>> {
    let lines = mountinfo(pid)?;
    let binds: Vec<(String, String)> = spec
        .mounts()
        .iter()
        .flatten()
        .filter(|m| {
            m.typ().as_deref() == Some("bind")
                || m.options()
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|o| o == "bind" || o == "rbind"))
        })
        .filter_map(|m| {
            Some((
                m.destination().to_string_lossy().into_owned(),
                m.source().as_ref()?.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    let mut out = Vec::new();
    for m in &lines {
        if m.target == "/" {
            continue;
        }
        let from_spec = binds.iter().find(|(d, _)| *d == m.target);
        let inside = lines.iter().any(|o| {
            !std::ptr::eq(o, m)
                && o.dev == m.dev
                && (o.root == "/" || m.root.starts_with(&format!("{}/", o.root)))
                && o.target != m.target
        });
        let host = if let Some((_, src)) = from_spec {
            src.clone()
        } else if m.root != "/" && !inside {
            if m.fstype == "devtmpfs" {
                format!("/dev{}", m.root)
            } else {
                m.root.clone()
            }
        } else {
            continue;
        };
        out.push(ExternalMount {
            target: m.target.clone(),
            host,
        });
    }
    Ok(out)
}

/// criu's name of fd `n` of `pid`.
fn fd_key(pid: i32, n: i32) -> Result<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{n}"))
        .with_context(|| format!("reading fd {n} of the container's process"))?;
    let link = link.to_string_lossy().into_owned();
    if link.starts_with("pipe:[") {
        return Ok(link);
    }
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{n}"))?;
    let field = |k: &str| -> Option<u64> {
        info.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
    };
    match (field("mnt_id:"), field("ino:")) {
        (Some(mnt), Some(ino)) => Ok(format!("file[{mnt:x}:{ino:x}]")),
        _ => bail!("fd {n} of the container's process ({link}) cannot be checkpointed"),
    }
}

fn namespace_inode(pid: i32, kind: &str) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()?;
    let s = link.to_string_lossy();
    Some(
        s.trim_start_matches(&format!("{kind}:["))
            .trim_end_matches(']')
            .to_string(),
    )
}

/// Run criu, its output and stderr discarded (its log has them), failing
/// with one line that points at the log.
fn run_criu(args: &[String], what: &str, log: &Path, setup: Option<CriuSetup>) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let criu = criu()?;
    let mut cmd = std::process::Command::new(&criu);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(setup) = setup {
        // SAFETY: the monitor is single-threaded; the closure runs plain
        // syscalls between fork and exec.
        unsafe {
            cmd.pre_exec(move || setup.apply());
        }
    }
    let status = cmd
        .status()
        .with_context(|| format!("running {}", criu.display()))?;
    if !status.success() {
        bail!(
            "criu failed: {what}: {} exited with {}, see {} for details",
            criu.display(),
            status.code().unwrap_or(-1),
            log.display()
        );
    }
    Ok(())
}

/// Dump container `cfg`'s process tree (first process `pid`) into its
/// userdata's `checkpoint/`.
pub fn dump(
    store: &Store,
    cfg: &ContainerConfig,
    spec: &Spec,
    pid: i32,
    o: &DumpOptions,
) -> Result<()> {
    let dir = images_dir(store, &cfg.id);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log = dump_log(store, &cfg.id);
    let mut args: Vec<String> = ["dump", "-t", &pid.to_string(), "-D"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(dir.display().to_string());
    args.extend(["-o".into(), log.display().to_string(), "-v4".into()]);
    args.push("--manage-cgroups=ignore".into());
    let mut desc = Descriptors::default();
    let own_net = namespace_inode(pid, "net");
    let host_net = namespace_inode(1, "net");
    if own_net.is_some() && own_net != host_net {
        desc.own_netns = true;
        args.push("--external".into());
        args.push(format!("net[{}]:{NETNS_KEY}", own_net.unwrap_or_default()));
    }
    for n in 0..3 {
        let key = fd_key(pid, n)?;
        if key.starts_with("file[") {
            args.push("--external".into());
            args.push(key.clone());
        }
        desc.stdio.push(key);
    }
    desc.mounts = external_mounts(pid, spec)?;
    for m in &desc.mounts {
        args.push("--external".into());
        args.push(format!("mnt[{}]:{}", m.target, m.target));
    }
    // Stopped, not killed: the caller exports what it must before the
    // program ends (a `--rm` container's files go with it).
    args.push(
        if o.leave_running {
            "--leave-running"
        } else {
            "--leave-stopped"
        }
        .into(),
    );
    if o.tcp_established {
        args.push("--tcp-established".into());
    }
    if o.file_locks {
        args.push("--file-locks".into());
    }
    crate::storage::atomic::write_file(
        &dir.join("descriptors.json"),
        &serde_json::to_vec_pretty(&desc)?,
        false,
    )?;
    crate::debug!("criu {}", args.join(" "));
    run_criu(
        &args,
        &format!("checkpointing container {}", cfg.id),
        &log,
        None,
    )
}

pub fn load_descriptors(store: &Store, id: &str) -> Result<Descriptors> {
    let path = images_dir(store, id).join("descriptors.json");
    let text = std::fs::read(&path)
        .with_context(|| format!("a complete checkpoint for this container cannot be found, cannot restore: {} is missing", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))
}

/// What the child that becomes criu does before its exec: join the
/// container's cgroup (what criu restores is made there), get a mount
/// namespace of its own with the container's root filesystem mounted,
/// and put the inherited fds in their places.
struct CriuSetup {
    cgroup: Option<super::cgroup::Cgroup>,
    rootfs: super::rootfs::RootfsPlan,
    root: PathBuf,
    /// (fd, number it must have)
    fds: Vec<(i32, i32)>,
}

impl CriuSetup {
    fn apply(&self) -> std::io::Result<()> {
        let err = |e: anyhow::Error| std::io::Error::other(format!("{e:#}"));
        // criu waits for its helpers with SIGCHLD: not the monitor's
        // blocked mask and ignored signals.
        sys::unblock_all_signals();
        for sig in [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGPIPE,
            libc::SIGTERM,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
        ] {
            // SAFETY: resetting a disposition in the single-threaded child.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
        if let Some(cg) = &self.cgroup {
            cg.add(std::process::id() as i32).map_err(err)?;
        }
        // SAFETY: unshare with a constant flag in the single-threaded child.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        super::rootfs::make_private().map_err(err)?;
        super::rootfs::mount_layers(&self.root, &self.rootfs).map_err(err)?;
        for (fd, target) in &self.fds {
            // SAFETY: dup2 of fds this process holds; the copies lose CLOEXEC.
            if unsafe { libc::dup2(*fd, *target) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// A process holding a new network namespace (loopback up) until it is
/// dropped: the namespace the restored container gets, set up by the
/// network helper before the program goes on.
pub struct NetnsHolder {
    pub pid: i32,
    release: Option<OwnedFd>,
}

impl NetnsHolder {
    pub fn new() -> Result<NetnsHolder> {
        let (ready_r, ready_w) = sys::owned_pipe()?;
        let (release_r, release_w) = sys::owned_pipe()?;
        // SAFETY: the monitor is single-threaded; the child runs plain
        // syscalls and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            bail!("fork: {}", sys::errno());
        }
        if pid == 0 {
            drop(ready_r);
            drop(release_w);
            // The monitor's pipes (the CLI's report among them) are not ours.
            sys::close_fds_except(&[ready_w.as_raw_fd(), release_r.as_raw_fd()]);
            // SAFETY: plain syscalls in the child.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::unshare(libc::CLONE_NEWNET) != 0 {
                    libc::_exit(1);
                }
            }
            if sys::loopback_up().is_err() {
                // SAFETY: leave at once.
                unsafe { libc::_exit(1) };
            }
            let _ = sys::write_all(ready_w.as_raw_fd(), b"1");
            drop(ready_w);
            let _ = sys::read_to_end(release_r.as_raw_fd());
            // SAFETY: leave without the monitor's destructors.
            unsafe { libc::_exit(0) }
        }
        drop(ready_w);
        drop(release_r);
        let holder = NetnsHolder {
            pid,
            release: Some(release_w),
        };
        let got = sys::read_to_end(ready_r.as_raw_fd()).unwrap_or_default();
        if got.is_empty() {
            bail!("creating a network namespace for the restored container failed");
        }
        Ok(holder)
    }
}

impl Drop for NetnsHolder {
    fn drop(&mut self) {
        drop(self.release.take());
        // SAFETY: reaping our own child, which exits on the closed pipe.
        unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), 0) };
    }
}

/// The namespaces a restored container goes into besides its own: a new
/// network namespace `netns` holds, or those `joined` (its pod infra's).
pub struct RestoreNamespaces<'a> {
    pub netns: Option<&'a NetnsHolder>,
    pub joined: Vec<(OwnedFd, libc::c_int)>,
}

/// The ends of the restored program's stdio the monitor keeps, and the
/// container's ends, which criu hands to the restored processes.
pub struct RestoreStdio {
    pub stdin_w: Option<OwnedFd>,
    pub stdout_r: OwnedFd,
    pub stderr_r: OwnedFd,
}

/// Restore container `cfg` from its images: the restored first process is
/// a child of the caller (the monitor: criu's `--restore-sibling`), in
/// `cgroup`, in the network namespace `netns` holds (or the one `joined`
/// names, with the ipc and uts namespaces there), its root `rootfs`.
/// Returns its pid and the monitor's ends of its stdio.
pub fn restore(
    store: &Store,
    cfg: &ContainerConfig,
    spec: &Spec,
    rootfs: super::rootfs::RootfsPlan,
    cgroup: Option<&super::cgroup::Cgroup>,
    namespaces: RestoreNamespaces,
    o: &RestoreOptions,
) -> Result<(i32, RestoreStdio)> {
    let RestoreNamespaces { netns, joined } = namespaces;
    let id = &cfg.id;
    let desc = load_descriptors(store, id)?;
    let dir = images_dir(store, id);
    let log = restore_log(store, id);
    let run_dir = store.containers.run_dir(id);
    std::fs::create_dir_all(&run_dir)?;
    let root = run_dir.join("restore-root");
    std::fs::create_dir_all(&root)?;
    let pidfile = run_dir.join("restore.pid");
    let _ = std::fs::remove_file(&pidfile);
    let mut args: Vec<String> = vec!["restore".into(), "-D".into(), dir.display().to_string()];
    args.extend(["-o".into(), log.display().to_string(), "-v4".into()]);
    // The root task a sibling of criu's, so the monitor's child (its
    // parent-death signal then follows the monitor, not criu).
    args.extend(["--restore-detached".into(), "--restore-sibling".into()]);
    args.extend(["--manage-cgroups=ignore".into(), "--root".into()]);
    args.push(root.display().to_string());
    args.extend(["--pidfile".into(), pidfile.display().to_string()]);
    // Inherited fds from 400 up: above every fd the monitor holds, so no
    // dup2 onto a target clobbers a source still to be placed.
    let mut keep: Vec<OwnedFd> = Vec::new();
    let mut fds = Vec::new();
    let mut next = 400;
    let mut place = |fd: OwnedFd| {
        fds.push((fd.as_raw_fd(), next));
        keep.push(fd);
        next += 1;
        next - 1
    };
    // A pod member's namespaces are its infra's, joined as at a start.
    let mut joined_net = None;
    for (fd, kind) in joined {
        let name = match kind {
            libc::CLONE_NEWNET => {
                joined_net = Some(fd);
                continue;
            }
            libc::CLONE_NEWIPC => "ipc",
            libc::CLONE_NEWUTS => "uts",
            other => bail!(
                "cannot restore container {id} into another container's {} namespace",
                super::namespaces::kind_name(other)
            ),
        };
        let n = place(fd);
        args.extend(["--join-ns".into(), format!("{name}:/proc/self/fd/{n}")]);
    }
    if desc.own_netns {
        let ns = match joined_net {
            Some(fd) => fd,
            None => {
                let holder = netns.context("the restored container needs a network namespace")?;
                let ns = std::fs::File::open(format!("/proc/{}/ns/net", holder.pid))
                    .context("opening the new network namespace")?;
                OwnedFd::from(ns)
            }
        };
        let n = place(ns);
        args.extend(["--inherit-fd".into(), format!("fd[{n}]:{NETNS_KEY}")]);
    }
    let (stdout_r, stdout_w) = sys::owned_pipe()?;
    let (stderr_r, stderr_w) = sys::owned_pipe()?;
    let mut stdin_w = None;
    let mut seen = std::collections::HashMap::new();
    let mut writers = [Some(stdout_w), Some(stderr_w)];
    for (n, key) in desc.stdio.iter().enumerate() {
        if seen.contains_key(key) {
            continue;
        }
        seen.insert(key.clone(), n);
        let fd = if key.starts_with("pipe:") && n == 0 {
            let (r, w) = sys::owned_pipe()?;
            stdin_w = Some(w);
            r
        } else if key.starts_with("pipe:") {
            match writers[n - 1].take() {
                Some(w) => w,
                None => continue,
            }
        } else {
            sys::dev_null()?
        };
        let n = place(fd);
        args.extend(["--inherit-fd".into(), format!("fd[{n}]:{key}")]);
    }
    for m in &desc.mounts {
        let host = spec
            .mounts()
            .iter()
            .flatten()
            .find(|s| s.destination().to_string_lossy() == m.target)
            .and_then(|s| s.source().as_ref())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| m.host.clone());
        args.push("--external".into());
        args.push(format!("mnt[{}]:{}", m.target, host));
    }
    if o.tcp_established {
        args.push("--tcp-established".into());
    }
    if o.tcp_close {
        args.push("--tcp-close".into());
    }
    if o.file_locks {
        args.push("--file-locks".into());
    }
    let setup = CriuSetup {
        cgroup: cgroup.cloned(),
        rootfs,
        root,
        fds,
    };
    crate::debug!("criu {}", args.join(" "));
    run_criu(
        &args,
        &format!("restoring container {id}"),
        &log,
        Some(setup),
    )?;
    drop(keep);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .with_context(|| format!("criu left no pid in {}", pidfile.display()))?;
    let _ = std::fs::remove_file(&pidfile);
    Ok((
        pid,
        RestoreStdio {
            stdin_w,
            stdout_r,
            stderr_r,
        },
    ))
}

/// criu's statistics, as podman's `--print-stats` names them.
#[derive(Serialize, Default, Debug)]
pub struct CriuStats {
    #[serde(skip_serializing_if = "is_zero32")]
    pub freezing_time: u32,
    #[serde(skip_serializing_if = "is_zero32")]
    pub frozen_time: u32,
    #[serde(skip_serializing_if = "is_zero32")]
    pub memdump_time: u32,
    #[serde(skip_serializing_if = "is_zero32")]
    pub memwrite_time: u32,
    #[serde(skip_serializing_if = "is_zero64")]
    pub pages_scanned: u64,
    #[serde(skip_serializing_if = "is_zero64")]
    pub pages_written: u64,
    #[serde(skip_serializing_if = "is_zero64")]
    pub pages_compared: u64,
    #[serde(skip_serializing_if = "is_zero64")]
    pub pages_skipped_cow: u64,
    #[serde(skip_serializing_if = "is_zero32")]
    pub forking_time: u32,
    #[serde(skip_serializing_if = "is_zero32")]
    pub restore_time: u32,
    #[serde(skip_serializing_if = "is_zero64")]
    pub pages_restored: u64,
}

fn is_zero32(v: &u32) -> bool {
    *v == 0
}
fn is_zero64(v: &u64) -> bool {
    *v == 0
}

/// Protocol buffers' base-128 varint at `*at`.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The fields of one message: (number, varint value or sub-message bytes).
fn fields(b: &[u8]) -> Vec<(u64, u64, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let Some(tag) = varint(b, &mut at) else { break };
        match tag & 7 {
            0 => match varint(b, &mut at) {
                Some(v) => out.push((tag >> 3, v, &b[0..0])),
                None => break,
            },
            2 => {
                let Some(len) = varint(b, &mut at) else { break };
                let end = at + len as usize;
                if end > b.len() {
                    break;
                }
                out.push((tag >> 3, 0, &b[at..end]));
                at = end;
            }
            1 => at += 8,
            5 => at += 4,
            _ => break,
        }
    }
    out
}

/// Read criu's `stats-dump` or `stats-restore` (an image: two magic
/// words, a length, a `stats_entry` message).
pub fn read_stats(path: &Path) -> Result<CriuStats> {
    let b = std::fs::read(path).with_context(|| {
        format!(
            "displaying checkpointing statistics not possible: reading {}",
            path.display()
        )
    })?;
    if b.len() < 12 {
        bail!("{} is no criu statistics image", path.display());
    }
    let len = u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize;
    let msg = b
        .get(12..12 + len)
        .context("a truncated criu statistics image")?;
    let mut s = CriuStats::default();
    for (n, _, sub) in fields(msg) {
        for (f, v, _) in fields(sub) {
            match (n, f) {
                (1, 1) => s.freezing_time = v as u32,
                (1, 2) => s.frozen_time = v as u32,
                (1, 3) => s.memdump_time = v as u32,
                (1, 4) => s.memwrite_time = v as u32,
                (1, 5) => s.pages_scanned = v,
                (1, 7) => s.pages_written = v,
                (2, 1) => s.pages_compared = v,
                (2, 2) => s.pages_skipped_cow = v,
                (2, 3) => s.forking_time = v as u32,
                (2, 4) => s.restore_time = v as u32,
                (2, 5) => s.pages_restored = v,
                _ => {}
            }
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_statistics_are_read_from_criu_image() {
        // A stats-dump criu 4.1 wrote.
        let img: Vec<u8> = vec![
            0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57, 0x21, 0, 0, 0, 0x0a, 0x1f, 0x08, 0x7a,
            0x10, 0xb0, 0xb6, 0x04, 0x18, 0xea, 0x03, 0x20, 0x63, 0x28, 0x30, 0x30, 0x00, 0x38,
            0x22, 0x40, 0x00, 0x48, 0x00, 0x50, 0x08, 0x58, 0x08, 0x60, 0x00, 0x68, 0x00, 0x70,
            0x00,
        ];
        let dir = std::env::temp_dir().join(format!("ckstats-{}", std::process::id()));
        std::fs::write(&dir, &img).unwrap();
        let s = read_stats(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        assert_eq!(s.freezing_time, 122);
        assert_eq!(s.frozen_time, 72496);
        assert_eq!(s.memdump_time, 490);
        assert_eq!(s.memwrite_time, 99);
        assert_eq!(s.pages_scanned, 48);
        assert_eq!(s.pages_written, 34);
    }
}
