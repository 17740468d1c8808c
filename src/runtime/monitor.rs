//! The monitor: one small process per running container, the parent of its
//! first process. It creates the namespaces, waits for the program to start,
//! relays output to the log and an attached terminal, reaps the program,
//! records how it ended, and cleans up (`--rm`). No daemon outlives it.

use super::cgroup::Cgroup;
use super::process;
use super::report::Report;
use super::rootfs::{self, RootfsPlan};
use super::sys;
use crate::error::{FailureKind, StartFailed};
use crate::storage::containers::{ContainerConfig, Status};
use crate::storage::events;
use crate::storage::modes::NetworkMode;
use crate::storage::store::{Driver, Store};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::relay::Wiring;

/// The namespaces to create, from the spec.
fn clone_flags(spec: &Spec) -> libc::c_int {
    let mut flags = 0;
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in namespaces {
        flags |= match ns.typ() {
            LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
            LinuxNamespaceType::Network => libc::CLONE_NEWNET,
            LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
            LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
            LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
            LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
            LinuxNamespaceType::User => libc::CLONE_NEWUSER,
            LinuxNamespaceType::Time => 0,
        };
    }
    flags
}

pub fn rootfs_plan(store: &Store, cfg: &ContainerConfig) -> RootfsPlan {
    let dir = store.containers.dir(&cfg.id);
    if let Some(r) = &cfg.launch.rootfs {
        return super::launch::rootfs_plan(r, &dir, store.rootless);
    }
    RootfsPlan {
        layers: {
            let layers = store.container_layers(cfg);
            cfg.layers.iter().map(|d| layers.diff_dir(d)).collect()
        },
        upper: dir.join("upper"),
        work: dir.join("work"),
        userxattr: store.rootless,
        copy: uses_copied_rootfs(store, cfg),
        premounted: false,
    }
}

/// Is the rootfs a private copy (vfs driver, or ids shifted by keep-id or
/// `--uidmap`)? Never for `--rootfs`: the directory, or an overlay on it.
pub fn uses_copied_rootfs(store: &Store, cfg: &ContainerConfig) -> bool {
    cfg.launch.rootfs.is_none()
        && (store.driver == Driver::Vfs
            || cfg.userns.is_keep_id()
            || cfg.launch.id_mappings.is_some())
}

/// Does the container get a user namespace of its own (rootless, or root
/// with `--uidmap`)? It is then set up as a rootless one is: devices bound,
/// not made, and root of that namespace taken before the program.
pub fn own_user_namespace(store: &Store, cfg: &ContainerConfig) -> bool {
    store.rootless || cfg.launch.id_mappings.is_some()
}

/// Everything the container's first process needs between clone and exec:
/// what `child_main` used to take as a dozen arguments.
struct ChildPlan<'a> {
    spec: &'a Spec,
    rootfs: RootfsPlan,
    rootless: bool,
    /// `--uidmap` and kin: the store's owner may be left out of the maps.
    remapped: bool,
    /// The namespaces asked for (the cgroup one is made by the child).
    flags: libc::c_int,
    /// `--init`: a tiny init stays PID 1.
    init: bool,
    /// A pod's infra: holds the namespaces, runs no program.
    infra: bool,
    /// The cgroup the child moves itself into (cgroup v1, see
    /// `Cgroup::join_self`); `None` when the monitor places it.
    joins_cgroup: Option<&'a Cgroup>,
    /// Namespaces of other containers to enter, with their kinds.
    joins: Vec<(OwnedFd, libc::c_int)>,
    /// Which default routes mean the network is up (see `wait_for_network`).
    net_routes: Option<super::net_routes::Families>,
    ends: ChildEnds,
}

/// The container's ends of the channels to its monitor.
struct ChildEnds {
    /// EOF: the id maps are written (and the cgroup made).
    go: OwnedFd,
    /// Where a failure is reported; closed by exec on success.
    report: OwnedFd,
    /// A byte, or EOF, once the network helper is up.
    net: Option<OwnedFd>,
    stdio: ChildStdio,
}

/// The container's stdio before it is wired onto 0, 1 and 2.
enum ChildStdio {
    Pipes {
        stdin_r: Option<OwnedFd>,
        stdout_w: OwnedFd,
        stderr_w: OwnedFd,
    },
    /// The terminal is made inside; its master goes back over this.
    Pty { socket: OwnedFd },
}

/// The monitor's ends of the same channels.
struct MonitorEnds {
    go: OwnedFd,
    report: OwnedFd,
    net: Option<OwnedFd>,
    stdio: MonitorStdio,
}

enum MonitorStdio {
    Wired(Wiring),
    /// The terminal's master arrives over this socket.
    Pty {
        socket: OwnedFd,
    },
}

/// A pipe when `wanted`, else no ends.
fn optional_pipe(wanted: bool) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    if !wanted {
        return Ok((None, None));
    }
    let (r, w) = sys::owned_pipe()?;
    Ok((Some(r), Some(w)))
}

/// Every channel between the monitor and the container's first process,
/// both ends, all close-on-exec.
fn channels(tty: bool, attach_stdin: bool, net: bool) -> Result<(MonitorEnds, ChildEnds)> {
    let (go_r, go_w) = sys::owned_pipe()?;
    let (report_r, report_w) = sys::owned_pipe()?;
    let (net_r, net_w) = optional_pipe(net)?;
    let (monitor_stdio, child_stdio) = if tty {
        let (ours, theirs) = sys::owned_socketpair()?;
        (
            MonitorStdio::Pty { socket: ours },
            ChildStdio::Pty { socket: theirs },
        )
    } else {
        let (stdout_r, stdout_w) = sys::owned_pipe()?;
        let (stderr_r, stderr_w) = sys::owned_pipe()?;
        let (stdin_r, stdin_w) = optional_pipe(attach_stdin)?;
        (
            MonitorStdio::Wired(Wiring::Pipes {
                stdin_w,
                stdout_r,
                stderr_r,
            }),
            ChildStdio::Pipes {
                stdin_r,
                stdout_w,
                stderr_w,
            },
        )
    };
    Ok((
        MonitorEnds {
            go: go_w,
            report: report_r,
            net: net_w,
            stdio: monitor_stdio,
        },
        ChildEnds {
            go: go_r,
            report: report_w,
            net: net_r,
            stdio: child_stdio,
        },
    ))
}

/// Wire the pipes onto 0, 1 and 2 (stdin from /dev/null when not
/// attached); a terminal is made later, inside the container.
fn wire_stdio(stdio: ChildStdio) -> Result<process::Stdio> {
    match stdio {
        ChildStdio::Pty { socket } => Ok(process::Stdio::Pty { socket }),
        ChildStdio::Pipes {
            stdin_r,
            stdout_w,
            stderr_w,
        } => {
            let stdin = match stdin_r {
                Some(r) => r,
                None => sys::dev_null()?,
            };
            for (fd, target, name) in [
                (stdin, 0, "stdin"),
                (stdout_w, 1, "stdout"),
                (stderr_w, 2, "stderr"),
            ] {
                sys::dup_onto(fd.as_fd(), target)
                    .map_err(|e| anyhow::anyhow!("wiring the container's {name}: {e}"))?;
                sys::close_unless_stdio(fd);
            }
            Ok(process::Stdio::Inherited)
        }
    }
}

/// The container side, between clone and exec. Never returns.
fn child_main(plan: ChildPlan, monitor_ends: MonitorEnds) -> ! {
    // The monitor's ends are not ours: its readers must see our EOF.
    drop(monitor_ends);
    let ChildPlan {
        spec,
        mut rootfs,
        rootless,
        remapped,
        flags,
        init,
        infra,
        joins_cgroup,
        joins,
        net_routes,
        ends:
            ChildEnds {
                go,
                report,
                net,
                stdio,
            },
    } = plan;
    let report_fd = report.as_raw_fd();
    let result = (|| -> Result<std::convert::Infallible> {
        let stdio = wire_stdio(stdio)?;
        // Nothing of the host's but these: every other fd from 3 up goes
        // (a process that does not exec keeps what it does not close).
        let mut keep = vec![go.as_raw_fd(), report_fd];
        // `run --preserve-fds`: the caller's, under their own numbers.
        keep.extend(super::launch::passed_fds());
        if let process::Stdio::Pty { socket } = &stdio {
            keep.push(socket.as_raw_fd());
        }
        keep.extend(net.as_ref().map(|n| n.as_raw_fd()));
        keep.extend(joins.iter().map(|(fd, _)| fd.as_raw_fd()));
        sys::close_fds_except(&keep);
        // Wait until the monitor has written our id maps (and made our
        // cgroup): its end closes then.
        sys::read_to_end(go.as_raw_fd()).context("waiting for the monitor")?;
        drop(go);
        if let Some(cg) = joins_cgroup {
            cg.join_self()
                .context("moving the container into its cgroup")?;
        }
        // Only now, inside the container's cgroup, so that it is the root
        // of the new cgroup namespace.
        if flags & libc::CLONE_NEWCGROUP != 0
            // SAFETY: unshare with a flag constant, in a single-threaded process.
            && unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } != 0
        {
            bail!("creating the cgroup namespace: {}", sys::errno());
        }
        // Default signal handling for the program. (signal() fails only
        // for numbers that are no signal, or glibc's own two: left as they
        // are.)
        // SAFETY: plain signal-disposition calls on ourselves.
        unsafe {
            for sig in 1..=64 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
        }
        sys::unblock_all_signals();
        let reached;
        let spec = if remapped {
            reached = super::idmap::reach_before_identity(spec, &mut rootfs)?;
            &reached.0
        } else {
            spec
        };
        if rootless {
            // Root of the new user namespace (the ids were mapped).
            // SAFETY: credential syscalls with constant ids.
            if unsafe { libc::setresgid(0, 0, 0) } != 0 {
                bail!("switching to gid 0 in the user namespace: {}", sys::errno());
            }
            // SAFETY: as above.
            if unsafe { libc::setresuid(0, 0, 0) } != 0 {
                bail!("switching to uid 0 in the user namespace: {}", sys::errno());
            }
            // When 0 maps to another host uid than ours (keep-id, custom
            // maps) the switch made us non-dumpable, and pasta, still
            // joining our namespaces, could no longer open them. We were
            // dumpable until now: stay so (exec settles it for the program).
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1) } != 0 {
                bail!("staying dumpable for the network helper: {}", sys::errno());
            }
        }
        if flags & libc::CLONE_NEWUTS != 0 {
            if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
                nix::unistd::sethostname(h).context("setting the hostname")?;
            }
        }
        if flags & libc::CLONE_NEWNET != 0 {
            sys::loopback_up()?;
        }
        for (fd, kind) in joins {
            // SAFETY: setns on an fd the monitor opened for us.
            if unsafe { libc::setns(fd.as_raw_fd(), kind) } != 0 {
                bail!(
                    "joining the {} namespace: {}",
                    super::namespaces::kind_name(kind),
                    sys::errno()
                );
            }
        }
        if infra {
            super::infra::hold_namespaces(spec, rootless, report_fd);
        }
        super::devices::apply_sysctls(spec)?;
        rootfs::setup(spec, &rootfs, rootless)?;
        if let Some(fd) = net {
            wait_for_network(fd, net_routes)?;
        }
        process::start_program(spec, stdio, init.then_some(report_fd))
    })();
    match result {
        Err(e) => process::fail(report_fd, &e),
        Ok(never) => match never {},
    }
}

/// Where the program's output is logged: `--log-opt path=` or the userdata.
pub fn log_file(store: &Store, cfg: &ContainerConfig) -> std::path::PathBuf {
    if cfg.tuning.log_path.is_empty() {
        store
            .containers
            .dir(&cfg.id)
            .join("userdata")
            .join("ctr.log")
    } else {
        std::path::PathBuf::from(&cfg.tuning.log_path)
    }
}

/// The program starts once its network is configured: outbound works from
/// its first instruction (what it sends before the helper is fully up
/// waits in the helper's tap queue). The monitor writes one byte on `fd`
/// when the helper is ready; EOF alone means it gave up (or died). Sooner,
/// with `routes`, the default routes the helper adds once it has
/// configured the namespace are enough.
fn wait_for_network(fd: OwnedFd, routes: Option<super::net_routes::Families>) -> Result<()> {
    if let Some(want) = routes {
        use super::net_routes::Waited;
        match super::net_routes::wait_for_defaults(want, fd.as_raw_fd()) {
            Ok(Waited::Routes) => return Ok(()),
            // The monitor spoke first, or netlink failed: hear it out.
            Ok(Waited::Other) | Err(_) => {}
        }
    }
    let got = sys::read_to_end(fd.as_raw_fd()).unwrap_or_default();
    if got.is_empty() {
        bail!("the container's network was not set up");
    }
    Ok(())
}

/// A network helper on its way up (started here), or up (by a launcher).
enum Net {
    Starting(super::network::Starting),
    Ready(super::network::Helper),
}

/// Mark a failure of the network helper as such: the CLI discards the
/// half-made container (`FailureKind::Network`). The message is unchanged.
fn network_failure(e: anyhow::Error) -> anyhow::Error {
    StartFailed {
        code: 125,
        message: format!("{e:#}"),
        kind: FailureKind::Network,
    }
    .into()
}

/// A container process on its way up and what was made for it. Dropped
/// while armed (any failure before the start is reported), it kills and
/// reaps the process, stops the network helper and removes the cgroup;
/// `disarm` hands them over instead.
struct HalfMade {
    /// The cloned process; 0 before the clone.
    pid: i32,
    cgroup: Option<Cgroup>,
    /// A helper still setting up, or one the program started ahead of.
    starting: Option<super::network::Starting>,
    helper: Option<super::network::Helper>,
    /// The run directory whose helper socket goes with the helper.
    net_dir: Option<std::path::PathBuf>,
}

/// What a disarmed `HalfMade` hands over.
struct Made {
    pid: i32,
    cgroup: Option<Cgroup>,
    pending_net: Option<super::network::Starting>,
    helper: Option<super::network::Helper>,
}

impl HalfMade {
    fn new(cgroup: Option<Cgroup>) -> HalfMade {
        HalfMade {
            pid: 0,
            cgroup,
            starting: None,
            helper: None,
            net_dir: None,
        }
    }

    fn disarm(mut self) -> Made {
        let made = Made {
            pid: self.pid,
            cgroup: self.cgroup.take(),
            pending_net: self.starting.take(),
            helper: self.helper.take(),
        };
        self.pid = 0;
        self.net_dir = None;
        made
    }

    /// The container is up: what was made goes to the monitor's run,
    /// with the ends each way of spawning made on its own.
    fn hand_over(
        self,
        wiring: Wiring,
        mount_ns: Option<std::os::fd::OwnedFd>,
        netns_holder: Option<super::checkpoint::NetnsHolder>,
    ) -> Spawned {
        let Made {
            pid,
            cgroup,
            pending_net,
            helper,
        } = self.disarm();
        Spawned {
            pid,
            wiring,
            helper,
            pending_net,
            cgroup,
            mount_ns,
            netns_holder,
        }
    }
}

impl Drop for HalfMade {
    fn drop(&mut self) {
        if self.pid > 0 {
            // SAFETY: signalling and reaping our own child, which has not
            // been reaped (its pid cannot have been reused).
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                while libc::waitpid(self.pid, std::ptr::null_mut(), 0) < 0
                    && sys::errno().raw_os_error() == Some(libc::EINTR)
                {}
            }
        }
        // The program never ran: its helper must not outlive it.
        if let Some(h) = self.helper.take() {
            h.stop();
        }
        if let Some(s) = self.starting.take() {
            s.abort();
        }
        if let Some(dir) = self.net_dir.take() {
            super::network::cleanup_socket(&dir);
        }
        if let Some(cg) = self.cgroup.take() {
            cg.remove();
        }
    }
}

/// Create the container process. Returns its pid and the monitor's ends.
fn spawn_container(
    store: &Store,
    cfg: &ContainerConfig,
    spec: &Spec,
    attach_stdin: bool,
) -> Result<Spawned> {
    let mut flags = clone_flags(spec);
    let joins = super::namespaces::joins(store, cfg)?;
    // Once in another container's user namespace, a helper we start would
    // run there as its root and drop to nobody: start it from a process
    // forked before.
    let launcher = if joins.enters_userns() && needs_helper(cfg) {
        Some(HelperLauncher::fork(store, cfg)?)
    } else {
        None
    };
    // Rootless on named networks: into the rootless network namespace's
    // user namespace, so the container's is a child of it (locked until
    // the container's leases are written).
    let rootless_net = rootless_named_networks(store, cfg)?;
    if let Some((_, ns)) = &rootless_net {
        if joins.enters_userns() {
            bail!(
                "a rootless container on named networks cannot join another container's namespaces"
            );
        }
        ns.enter_userns()?;
        super::rootless_netns::count_me_in(&store.runroot)?;
    }
    // The monitor enters the user and pid namespaces itself (a pid
    // namespace applies to children); the child enters the others.
    flags = joins.enter_before_clone(flags)?;
    let join_fds = joins.into_child_fds();
    // A pasta we start ourselves configures the namespace well before it
    // is ready: the program may go once it has.
    let early_routes = match &cfg.network {
        NetworkMode::Pasta(_) if launcher.is_none() => {
            super::network::pasta_route_families(&cfg.network.helper_options())
        }
        _ => None,
    };
    let (mut ends, child_ends) = channels(cfg.tty, attach_stdin, needs_helper(cfg))?;
    // Made before the clone: on cgroup v1 the child moves itself in (see
    // Cgroup::join_self), in parallel with the monitor's work.
    let mut made = HalfMade::new(create_cgroup(store, cfg)?);
    let joins_itself = made
        .cgroup
        .as_ref()
        .is_some_and(|c| c.joins_cheaply_by_itself());
    let plan = ChildPlan {
        spec,
        rootfs: rootfs_plan(store, cfg),
        rootless: own_user_namespace(store, cfg),
        remapped: cfg.launch.id_mappings.is_some(),
        flags,
        // `--init-path`: that init is the program's first word instead.
        init: cfg.init && cfg.launch.init_path.is_none(),
        // An infra made from an image (`--infra-image`) runs its program.
        infra: cfg.is_infra && cfg.image_id.is_empty(),
        joins_cgroup: made.cgroup.as_ref().filter(|_| joins_itself),
        joins: join_fds,
        net_routes: early_routes,
        ends: child_ends,
    };
    // The cgroup namespace is made by the child once it is in its cgroup.
    let clone_now = flags & !libc::CLONE_NEWCGROUP;
    if !store.rootless {
        // The child is coracle's code, not the program's, until it execs:
        // not dumpable, so no process of a pid namespace it joins can open
        // its /proc/PID/{exe,mem} (exec makes the program dumpable again).
        // Rootless, newuidmap and the network helper need it dumpable.
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) } != 0 {
            bail!("making the monitor non-dumpable: {}", sys::errno());
        }
    }
    // SAFETY: the monitor is single-threaded, so the child may run Rust code.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (clone_now | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    } as i32;
    if pid < 0 {
        bail!("creating the container's namespaces: {}", sys::errno());
    }
    if pid == 0 {
        child_main(plan, ends);
    }
    made.pid = pid;
    // The child's ends are the child's: our copies must close for its EOFs
    // (and ours) to mean what they say.
    drop(plan);
    crate::debug!("container process {pid} cloned");
    let mount_ns = hold_mount_namespace(pid);
    // The network helper sets up while the id maps are written and the
    // rootfs is mounted (it needs neither); the program waits for it.
    let net = match launcher {
        Some(l) => l.launch(pid).map(|h| h.map(Net::Ready)),
        None => start_network_helper(store, cfg, pid).map(|s| s.map(Net::Starting)),
    };
    match net.map_err(network_failure)? {
        Some(Net::Starting(s)) => made.starting = Some(s),
        Some(Net::Ready(h)) => made.helper = Some(h),
        None => {}
    }
    // Named networks: the veth, address and routes, before the program runs.
    let place = super::bridge::Place(rootless_net.as_ref().map(|(_, ns)| ns));
    super::bridge::attach(store, cfg, pid, place).map_err(network_failure)?;
    if made.starting.is_some() || made.helper.is_some() {
        made.net_dir = Some(store.containers.run_dir(&cfg.id));
    }
    if flags & libc::CLONE_NEWUSER != 0 {
        let maps = super::spec::id_maps(spec);
        if rootless_net.is_some() {
            super::rootless_netns::write_child_maps(pid, &maps)?;
        } else {
            super::userns::write_id_maps(pid, &maps)?;
        }
    }
    if rootless_net.is_some() && !cfg.ports.is_empty() {
        // Published through our relay into the container's namespace, as
        // podman's rootlessport does (this pasta cannot add forwards to a
        // running namespace).
        let routes = super::port_relay::routes_for(&cfg.ports)?;
        let relay = super::port_relay::start(pid, &routes).map_err(network_failure)?;
        made.helper = Some(super::network::Helper::relay_only(relay));
    }
    drop(rootless_net);
    crate::debug!("id maps written");
    place_in_cgroup(cfg, made.cgroup.as_ref(), joins_itself, pid)?;
    let bundle = store.containers.dir(&cfg.id);
    for stage in ["prestart", "createRuntime"] {
        super::hooks::run_stage(spec, stage, &cfg.id, "created", pid, &bundle)?;
    }
    // Go: the child reads EOF.
    drop(ends.go);
    // The helper's readiness, or the program's start (or failure: the
    // report pipe is readable either way) when it went on the routes
    // alone; then the helper is finished after the start is reported.
    if let Some(mut s) = made.starting.take() {
        let ready = match early_routes {
            Some(_) => s.ready_or(ends.report.as_raw_fd()),
            None => Ok(true),
        };
        match ready {
            Ok(true) => made.helper = Some(s.wait().map_err(network_failure)?),
            Ok(false) => made.starting = Some(s),
            Err(e) => {
                made.starting = Some(s);
                return Err(network_failure(e));
            }
        }
    }
    if let Some(net_w) = ends.net.take() {
        if made.helper.is_some() {
            crate::debug!("network helper ready");
            // Should the child be gone already, its report says why.
            let _ = sys::write_all(net_w.as_raw_fd(), b"1");
        }
        // EOF without a byte: the program went on the routes, or the
        // helper never came up.
        drop(net_w);
    }
    let wiring = match ends.stdio {
        MonitorStdio::Wired(w) => w,
        MonitorStdio::Pty { socket } => match process::recv_fd(socket.as_fd()) {
            Ok(master) => Wiring::Pty { master },
            // The child failed before it made the terminal: its report
            // says why.
            Err(e) => {
                drop(socket);
                super::report::await_exec(ends.report.as_fd())?;
                return Err(e);
            }
        },
    };
    super::report::await_exec(ends.report.as_fd())?;
    Ok(made.hand_over(wiring, mount_ns, None))
}

/// `container restore`: the container's processes brought back by criu
/// from its checkpoint, as children of this monitor, in a new cgroup and a
/// new network namespace its helper or bridge has set up first.
fn spawn_restored(
    store: &Store,
    cfg: &ContainerConfig,
    spec: &Spec,
    options: &super::checkpoint::RestoreOptions,
) -> Result<Spawned> {
    let mut made = HalfMade::new(create_cgroup(store, cfg)?);
    // A pod member joins its infra's namespaces instead (its network is
    // the infra's to set up).
    let joined = super::namespaces::joins(store, cfg)?.into_child_fds();
    let joins_net = joined.iter().any(|(_, kind)| *kind == libc::CLONE_NEWNET);
    let holder = if clone_flags(spec) & libc::CLONE_NEWNET != 0 && !joins_net {
        Some(super::checkpoint::NetnsHolder::new()?)
    } else {
        None
    };
    if let Some(h) = &holder {
        if let Some(s) = start_network_helper(store, cfg, h.pid).map_err(network_failure)? {
            made.net_dir = Some(store.containers.run_dir(&cfg.id));
            made.helper = Some(s.wait().map_err(network_failure)?);
        }
        super::bridge::attach(store, cfg, h.pid, super::bridge::Place(None))
            .map_err(network_failure)?;
    }
    let (pid, stdio) = super::checkpoint::restore(
        store,
        cfg,
        spec,
        rootfs_plan(store, cfg),
        made.cgroup.as_ref(),
        super::checkpoint::RestoreNamespaces {
            netns: holder.as_ref(),
            joined,
        },
        options,
    )?;
    made.pid = pid;
    crate::debug!("container process {pid} restored");
    let mount_ns = hold_mount_namespace(pid);
    let wiring = Wiring::Pipes {
        stdin_w: stdio.stdin_w,
        stdout_r: stdio.stdout_r,
        stderr_r: stdio.stderr_r,
    };
    Ok(made.hand_over(wiring, mount_ns, holder))
}

/// `--runtime`: the external runtime creates the container; its network
/// and the hooks are set up before its `start`, as for our own.
fn spawn_with_oci_runtime(
    store: &Store,
    cfg: &ContainerConfig,
    spec: &Spec,
    attach_stdin: bool,
) -> Result<Spawned> {
    let mut made = HalfMade::new(create_cgroup(store, cfg)?);
    let cgroup = made.cgroup.as_ref().map(|c| c.rel.clone());
    let created = super::oci_runtime::create(
        store,
        cfg,
        spec,
        rootfs_plan(store, cfg),
        cgroup.as_deref(),
        attach_stdin,
    )?;
    let pid = created.pid;
    made.pid = pid;
    crate::debug!("{pid} created by the external runtime");
    let mount_ns = hold_mount_namespace(pid);
    if let Some(starting) = start_network_helper(store, cfg, pid).map_err(network_failure)? {
        made.net_dir = Some(store.containers.run_dir(&cfg.id));
        made.helper = Some(starting.wait().map_err(network_failure)?);
    }
    super::bridge::attach(store, cfg, pid, super::bridge::Place(None)).map_err(network_failure)?;
    let bundle = store.containers.dir(&cfg.id);
    for stage in ["prestart", "createRuntime"] {
        super::hooks::run_stage(spec, stage, &cfg.id, "created", pid, &bundle)?;
    }
    super::oci_runtime::start(store, cfg, pid)?;
    Ok(made.hand_over(created.wiring, mount_ns, None))
}

/// The rootless network namespace, locked, for a rootless container on
/// named networks.
fn rootless_named_networks(
    store: &Store,
    cfg: &ContainerConfig,
) -> Result<Option<(crate::storage::lock::FileLock, super::rootless_netns::Netns)>> {
    match &cfg.network {
        NetworkMode::Bridge(names) if store.rootless && !names.is_empty() => {
            super::rootless_netns::ensure(&store.runroot)
                .map(Some)
                .map_err(network_failure)
        }
        _ => Ok(None),
    }
}

/// A reference to the container's mount namespace. Whoever drops the last
/// one unmounts its whole tree and waits out an RCU grace period: without
/// this, that is the container's own exit, before its parent hears of it.
/// Held, the teardown happens where the monitor lets go (off the path the
/// caller waits on, for `--rm`).
fn hold_mount_namespace(pid: i32) -> Option<std::os::fd::OwnedFd> {
    std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(std::os::fd::OwnedFd::from)
}

/// A container in the host's pid namespace: its other processes outlive
/// its first one (no namespace ends with it), and without a cgroup of its
/// own (rootless on cgroup v1) nothing else finds them. Podman ends every
/// process of such a container with it.
fn outlived_by_its_processes(cfg: &ContainerConfig, spec: &Spec) -> bool {
    cfg.oci_runtime.is_none() && clone_flags(spec) & libc::CLONE_NEWPID == 0
}

/// Kill every process still in the container's mount namespace (held in
/// `mount_ns`): only the container's processes and its execs live there.
fn end_leftover_processes(mount_ns: Option<&std::os::fd::OwnedFd>) {
    use std::os::unix::fs::MetadataExt;
    let Some(ns) = mount_ns.and_then(|fd| nix::sys::stat::fstat(fd).ok()) else {
        return;
    };
    let container_ns = (ns.st_dev, ns.st_ino);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let left: Vec<i32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|p: &i32| {
                std::fs::metadata(format!("/proc/{p}/ns/mnt"))
                    .is_ok_and(|m| (m.dev(), m.ino()) == container_ns)
            })
            .collect();
        if left.is_empty() || std::time::Instant::now() >= deadline {
            return;
        }
        crate::debug!("ending the container's leftover processes {left:?}");
        for pid in left {
            // SAFETY: a process of this container's own mount namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A started container process and what the monitor keeps of it.
struct Spawned {
    pid: i32,
    wiring: Wiring,
    helper: Option<super::network::Helper>,
    /// A helper the program started ahead of: finished after the start
    /// is reported.
    pending_net: Option<super::network::Starting>,
    cgroup: Option<Cgroup>,
    mount_ns: Option<std::os::fd::OwnedFd>,
    /// A restored container's network namespace, held until its run ends.
    netns_holder: Option<super::checkpoint::NetnsHolder>,
}

/// The container's cgroup with its limits, made before its process. A
/// pod member without a parent of its own goes below its pod's cgroup.
fn create_cgroup(store: &Store, cfg: &ContainerConfig) -> Result<Option<Cgroup>> {
    let pod = match cfg.pod.as_str() {
        "" => None,
        id => store.pods.load(id).ok(),
    };
    let pod_parent = match pod {
        Some(pod)
            if cfg.cgroup_parent.is_empty()
                && matches!(cfg.cgroups.as_str(), "" | "enabled")
                && (cfg.is_infra || !pod.own_cgroups) =>
        {
            super::cgroup::pod::ensure(&pod.id, &pod.resources, &pod.cgroup_parent, store.rootless)?
        }
        _ => None,
    };
    let cg = Cgroup::create(
        &cfg.id,
        &cfg.resources,
        pod_parent.as_deref().unwrap_or(&cfg.cgroup_parent),
        &cfg.cgroups,
        store.rootless,
    )?;
    crate::debug!("cgroup {:?} made", cg.as_ref().map(|c| &c.rel));
    Ok(cg)
}

/// Put the (still waiting) container process into its cgroup, unless it
/// moves itself, and set its OOM score.
fn place_in_cgroup(
    cfg: &ContainerConfig,
    cg: Option<&Cgroup>,
    joins_itself: bool,
    pid: i32,
) -> Result<()> {
    if let (Some(cg), false) = (cg, joins_itself) {
        cg.add(pid)
            .context("moving the container into its cgroup")?;
    }
    if !cfg.resources.rdt_class.is_empty() {
        // Intel RDT: the class of service's cache share, inherited by
        // everything the process starts.
        let tasks = std::path::Path::new("/sys/fs/resctrl")
            .join(&cfg.resources.rdt_class)
            .join("tasks");
        std::fs::write(&tasks, pid.to_string()).with_context(|| {
            format!("--rdt-class: moving the container into {}", tasks.display())
        })?;
    }
    if let Some(adj) = cfg.resources.oom_score_adj {
        let path = format!("/proc/{pid}/oom_score_adj");
        if let Err(e) = std::fs::write(&path, adj.to_string()) {
            bail!("setting --oom-score-adj {adj}: {e} (lowering it needs CAP_SYS_RESOURCE)");
        }
    }
    Ok(())
}

fn start_network_helper(
    store: &Store,
    cfg: &ContainerConfig,
    pid: i32,
) -> Result<Option<super::network::Starting>> {
    let run_dir = store.containers.run_dir(&cfg.id);
    let extra = cfg.network.helper_options();
    if cfg.network.needs_helper() {
        // The helpers keep their pid file and socket here.
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
    }
    match cfg.network {
        NetworkMode::Pasta(_) => {
            super::network::spawn_pasta(pid, &cfg.ports, &extra, &run_dir).map(Some)
        }
        NetworkMode::Slirp4netns(_) => {
            super::network::spawn_slirp4netns(pid, &cfg.ports, &extra, &run_dir).map(Some)
        }
        _ => Ok(None),
    }
}

fn needs_helper(cfg: &ContainerConfig) -> bool {
    cfg.network.needs_helper()
}

/// A child of the monitor, forked while the monitor is still in its own
/// user namespace, that starts the network helper once told the pid.
struct HelperLauncher {
    pid: i32,
    /// The container's pid goes here, as decimal text.
    to: OwnedFd,
    /// A `Report` comes back: `Started` with the helper's pid (0: none).
    from: OwnedFd,
}

impl HelperLauncher {
    fn fork(store: &Store, cfg: &ContainerConfig) -> Result<HelperLauncher> {
        if matches!(cfg.network, NetworkMode::Slirp4netns(_)) {
            // slirp4netns lives as long as its parent: that must be the monitor.
            bail!("a rootless container that joins another container's namespaces needs --network pasta, none or container:NAME, not slirp4netns");
        }
        let (to_r, to_w) = sys::owned_pipe()?;
        let (from_r, from_w) = sys::owned_pipe()?;
        // SAFETY: the monitor is single-threaded; the child runs plain code
        // and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            bail!("fork: {}", sys::errno());
        }
        if pid == 0 {
            drop((to_w, from_r));
            Self::serve(store, cfg, to_r, from_w)
        }
        Ok(HelperLauncher {
            pid,
            to: to_w,
            from: from_r,
        })
    }

    /// The launcher's side. Never returns.
    fn serve(store: &Store, cfg: &ContainerConfig, from: OwnedFd, to: OwnedFd) -> ! {
        // It lives as long as the helper, its child: it must not hold
        // the monitor's pipes, and must die with the monitor.
        sys::close_fds_except(&[from.as_raw_fd(), to.as_raw_fd()]);
        let mut helper = None;
        let reply = (|| {
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
                bail!("setting the parent-death signal: {}", sys::errno());
            }
            let msg = sys::read_to_end(from.as_raw_fd()).unwrap_or_default();
            let target = String::from_utf8_lossy(&msg)
                .trim()
                .parse::<i32>()
                .map_err(|_| anyhow::anyhow!("no container pid"))?;
            helper = start_network_helper(store, cfg, target)?
                .map(|s| s.wait())
                .transpose()?;
            Ok(helper.as_ref().map_or(0, |h| h.pid))
        })();
        let reply = match reply {
            Ok(pid) => Report::Started { pid },
            Err(e) => Report::failed(&e),
        };
        let _ = reply.send(to.as_fd());
        drop(to);
        if let Some(h) = helper {
            h.wait_end();
        }
        // SAFETY: leave without the monitor's destructors.
        unsafe { libc::_exit(0) }
    }

    fn launch(self, target: i32) -> Result<Option<super::network::Helper>> {
        let _ = sys::write_all(self.to.as_raw_fd(), target.to_string().as_bytes());
        drop(self.to);
        let reply = Report::receive(self.from.as_fd());
        drop(self.from);
        // The launcher stays while its helper runs; otherwise reap it now.
        if let Ok(Some(Report::Started { pid })) = reply {
            if pid > 0 {
                return Ok(Some(super::network::Helper::started_by(pid, self.pid)));
            }
        }
        // SAFETY: reap our launcher.
        unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), 0) };
        match reply {
            Ok(Some(Report::Started { .. })) => Ok(None),
            Ok(Some(Report::Failed { message, .. })) => bail!("{message}"),
            Ok(None) | Err(_) => bail!(
                "{}: the helper launcher failed",
                super::network::SETUP_FAILED
            ),
        }
    }
}

/// Tell the waiting CLI how the start went, once: the first report takes
/// the pipe, so a later failure cannot write to whatever reuses its number.
fn notify(ready: &mut Option<OwnedFd>, report: &Report) {
    if let Some(fd) = ready.take() {
        // The CLI may be gone (killed while waiting): nobody to tell.
        let _ = report.send(fd.as_fd());
    }
}

/// The monitor's whole life. Returns the exit code for the monitor process:
/// the container's own, so a foreground CLI can pass it on. `ready` is the
/// CLI's start report pipe.
pub fn run(store: &Store, id: &str, attach: bool, ready: OwnedFd) -> i32 {
    let mut ready = Some(ready);
    let mut plugin_mounts = super::volume_plugin::Mounted::default();
    let result = run_inner(store, id, attach, &mut ready, &mut plugin_mounts);
    // Whatever way the run ended, its plugin volumes are unmounted (the
    // paths below do it before they record the exit; this is the net).
    super::volume_plugin::release(store, &mut plugin_mounts);
    match result {
        Ok(code) => code,
        Err(e) => {
            let report = Report::failed(&e);
            notify(&mut ready, &report);
            match report {
                Report::Failed { code, .. } => code,
                Report::Started { .. } => 125,
            }
        }
    }
}

fn run_inner(
    store: &Store,
    id: &str,
    attach: bool,
    ready: &mut Option<OwnedFd>,
    plugin_mounts: &mut super::volume_plugin::Mounted,
) -> Result<i32> {
    // The container must not inherit the CLI's end of the start report.
    if let Some(fd) = ready {
        sys::set_cloexec(fd.as_raw_fd(), true);
    }
    let (mut cfg, mut spec) = super::prepared::load_prepared(store, id)?;
    if let Some(process) = spec.process_mut() {
        super::secrets::add_env(store, &cfg, process)?;
    }
    let (mut spec, first_mounts) = super::volume::with_first_mounts(store, &cfg, spec);
    if let Err(e) = super::volume_plugin::mount_for_run(store, &cfg, &mut spec, plugin_mounts) {
        first_start_failed(store, &cfg, &e);
        return Err(e);
    }
    // SAFETY: the monitor ignores job-control and terminal signals: the CLI
    // forwards them to the container; SIGCHLD/SIGWINCH are read below.
    unsafe {
        for sig in [
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
            libc::SIGPIPE,
            libc::SIGHUP,
            libc::SIGTERM,
        ] {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    // A user's stop wakes a monitor waiting to restart the program.
    let sfd = sys::child_signalfd(&[nix::sys::signal::Signal::SIGUSR1])?;
    crate::debug!("monitor loaded the spec");

    // A user's start: the restart policy applies again, health starts over.
    store.containers.clear_stopped_by_user(id);
    let userdata = store.containers.dir(id).join("userdata");
    crate::storage::health::reset(&userdata);
    let mut notifier =
        super::sdnotify::Notifier::from_env(&cfg.sdnotify, &store.containers.run_dir(id))?;
    if let Some(dir) = notifier.proxy_dir() {
        super::spec::add_notify_socket(&mut spec, dir)?;
    }
    // `container restore` asked for this start (the request is used once).
    let restore = super::checkpoint::take_restore_request(store, id);
    let mut attach = attach;
    let mut restarts = 0u32;
    let mut backoff = super::restart::Backoff::default();
    loop {
        let began = std::time::Instant::now();
        let end = match run_once(
            store,
            &cfg,
            &spec,
            attach,
            ready,
            &sfd,
            &mut notifier,
            restarts,
            restore.as_ref(),
        ) {
            Ok(end) => end,
            // The first start's failure goes to the caller, as ever.
            Err(e) if restarts == 0 && restore.is_some() => {
                // Still checkpointed: the restore may be tried again.
                super::volume_plugin::release(store, plugin_mounts);
                let mut state = store.containers.load_state(id).unwrap_or_default();
                state.status = Status::Exited;
                state.error = Some(format!("{e:#}"));
                let _ = store.containers.save_state(id, &state);
                return Err(e);
            }
            Err(e) if restarts == 0 => {
                super::volume_plugin::release(store, plugin_mounts);
                first_start_failed(store, &cfg, &e);
                return Err(e);
            }
            // A restart that fails is an exit like any other.
            Err(e) => RunEnd {
                status: crate::error::exit_code_of(&e),
                error: Some(format!("{e:#}")),
                ..RunEnd::default()
            },
        };
        if restarts == 0 {
            super::volume::mark_mounted(store, &first_mounts);
        }
        // Ended by `checkpoint`: not an exit the restart policy answers.
        let checkpointed = super::checkpoint::take_checkpointing_mark(store, id);
        let status = if checkpointed { 0 } else { end.status };
        let stopped = checkpointed || store.containers.stopped_by_user(id);
        if cfg.auto_remove {
            super::volume_plugin::release(store, plugin_mounts);
            events::container_died(store, &cfg, status);
            // The record goes now; `wait` may still be asking for the code.
            if let Err(e) = store.containers.keep_exit_code(id, status) {
                crate::debug!("keeping the exit code: {e:#}");
            }
            super::removal::remove_files_in_background(store, id, end.mount_ns)?;
            events::container(store, "remove", &cfg);
            apply_pod_exit_policy(store, &cfg);
            crate::debug!("container removed");
            return Ok(monitor_exit(attach, stopped, status));
        }
        // `update` may have changed the policy and healthcheck meanwhile.
        if let Ok(fresh) = store.containers.load_config(id) {
            cfg.restart_policy = fresh.restart_policy;
            cfg.health = fresh.health;
        }
        let again = end.restart_requested
            || (!stopped && super::restart::wanted(cfg.restart_policy, status, restarts));
        let mut state = store.containers.load_state(id).unwrap_or_default();
        state.status = Status::Exited;
        state.exit_code = status;
        state.oom_killed = end.oom_killed;
        state.cgroup_path = String::new();
        state.finished_at = Some(crate::format::human::now_rfc3339());
        state.pid = 0;
        state.error = end.error;
        state.restarting = again;
        if checkpointed {
            state.checkpointed = true;
            state.checkpointed_at = state.finished_at.clone();
            state.restored = false;
            state.restored_at = None;
        }
        if !again {
            state.monitor_pid = 0;
        }
        if !again {
            super::volume_plugin::release(store, plugin_mounts);
        }
        // Journal first: whoever sees the container exited finds `died` there.
        events::container_died(store, &cfg, status);
        store.containers.save_state(id, &state)?;
        release_in_background(end.mount_ns);
        if !again {
            notifier.stopping();
            apply_pod_exit_policy(store, &cfg);
            return Ok(monitor_exit(attach, stopped, status));
        }
        // A foreground caller gets the first run's code; the monitor goes
        // on in the background.
        if attach {
            if !continue_in_background(store, id) {
                // The child keeps the container and its plugin volumes.
                super::volume_plugin::hand_over(plugin_mounts);
                return Ok(status);
            }
            attach = false;
        }
        let delay = backoff.delay_after(began.elapsed());
        crate::debug!("restarting in {delay:?}");
        if !wait_unless_stopped(store, id, &sfd, delay) {
            let mut state = store.containers.load_state(id).unwrap_or_default();
            state.restarting = false;
            state.monitor_pid = 0;
            super::volume_plugin::release(store, plugin_mounts);
            store.containers.save_state(id, &state)?;
            notifier.stopping();
            return Ok(monitor_exit(attach, true, status));
        }
        restarts += 1;
        crate::storage::health::reset(&userdata);
        events::container(store, "restart", &cfg);
    }
}

/// The first start failed: the container stays created, with the error
/// (a `--rm` one goes).
fn first_start_failed(store: &Store, cfg: &ContainerConfig, e: &anyhow::Error) {
    let id = &cfg.id;
    let mut state = store.containers.load_state(id).unwrap_or_default();
    state.status = Status::Created;
    state.error = Some(format!("{e:#}"));
    let _ = store.containers.save_state(id, &state);
    if cfg.auto_remove && super::volume::remove_container_and_anonymous(store, id).is_ok() {
        events::container(store, "remove", cfg);
    }
}

/// The monitor's own exit code. Attached, it is the program's (the CLI
/// passes it on). Detached, the monitor is what a systemd unit watches
/// (MAINPID): a user's stop (the unit's ExecStop) is a clean end, anything
/// else ends as the program did, so `Restart=on-failure` works.
fn monitor_exit(attach: bool, stopped_by_user: bool, status: i32) -> i32 {
    if !attach && stopped_by_user {
        0
    } else {
        status
    }
}

/// `pod create --exit-policy=stop`: the last of a pod's containers to end
/// stops the pod, that is its infra (whose monitor a `Type=forking` pod
/// unit watches).
fn apply_pod_exit_policy(store: &Store, cfg: &ContainerConfig) {
    use super::state::{current_state, is_running};
    if cfg.pod.is_empty() || cfg.is_infra {
        return;
    }
    let Ok(pod) = store.pods.load(&cfg.pod) else {
        return;
    };
    if pod.exit_policy != "stop" || pod.infra_id.is_empty() {
        return;
    }
    // A member starting now has the lock until it runs: it counts below,
    // or it starts after the infra has stopped (and starts it again).
    let Ok(_members) = store.pods.members_lock(&pod.id) else {
        return;
    };
    let others_run = store.containers.ids().unwrap_or_default().iter().any(|id| {
        id != &cfg.id
            && id != &pod.infra_id
            && store
                .containers
                .load_config(id)
                .is_ok_and(|c| c.pod == cfg.pod)
            && current_state(store, id).is_ok_and(|s| is_running(&s))
    });
    if others_run {
        return;
    }
    if let Ok(infra) = current_state(store, &pod.infra_id) {
        if is_running(&infra) && sys::process_is(infra.pid, infra.pid_start) {
            crate::debug!("exit policy stop: the pod's last container ended");
            store.containers.mark_stopped_by_user(&pod.infra_id);
            // SAFETY: the pid was checked to be the infra's process.
            unsafe { libc::kill(infra.pid, libc::SIGKILL) };
            // Until its monitor has recorded the end: a member starting
            // next must find it stopped, not a process on its way out.
            let bound = Some(std::time::Duration::from_secs(10));
            let _ = super::state::wait_stopped(store, &pod.infra_id, bound);
        }
    }
}

/// How one run of the program ended.
#[derive(Default)]
struct RunEnd {
    status: i32,
    oom_killed: bool,
    /// The healthcheck asked for a restart.
    restart_requested: bool,
    /// Why the program could not be started again.
    error: Option<String>,
    mount_ns: Option<OwnedFd>,
}

/// Start the program once, serve it until it ends, and clean up what the
/// run made (network helper, NAT, cgroup).
#[allow(clippy::too_many_arguments)]
fn run_once(
    store: &Store,
    cfg: &ContainerConfig,
    spec: &Spec,
    attach: bool,
    ready: &mut Option<OwnedFd>,
    sfd: &nix::sys::signalfd::SignalFd,
    notifier: &mut super::sdnotify::Notifier,
    restarts: u32,
    restore: Option<&super::checkpoint::RestoreOptions>,
) -> Result<RunEnd> {
    let id = cfg.id.as_str();
    // `-i` keeps stdin open, attached or not: `attach` may write to it.
    let attach_stdin = cfg.stdin;
    let mut clients = super::attach_socket::AttachServer::bind(&store.containers.run_dir(id))
        .map_err(|e| crate::debug!("no attach socket: {e:#}"))
        .ok();
    let Spawned {
        pid,
        wiring,
        helper,
        pending_net,
        cgroup,
        mount_ns,
        netns_holder,
    } = match if let Some(options) = restore.filter(|_| restarts == 0) {
        spawn_restored(store, cfg, spec, options)
    } else if cfg.oci_runtime.is_some() {
        spawn_with_oci_runtime(store, cfg, spec, attach_stdin)
    } else {
        spawn_container(store, cfg, spec, attach_stdin)
    } {
        Ok(v) => v,
        Err(e) => {
            super::bridge::detach(store, id);
            return Err(e);
        }
    };
    let mut state = store.containers.load_state(id).unwrap_or_default();
    state.status = Status::Running;
    state.pid = pid;
    state.pid_start = sys::process_start_time(pid).unwrap_or(0);
    // SAFETY: getpid cannot fail.
    state.monitor_pid = unsafe { libc::getpid() };
    state.monitor_start = sys::process_start_time(state.monitor_pid).unwrap_or(0);
    state.boot_id = sys::boot_id();
    state.helper_pid = match (&helper, &pending_net) {
        (Some(h), _) => h.pid,
        (None, Some(p)) => p.pid(),
        (None, None) => 0,
    };
    state.helper_start = sys::process_start_time(state.helper_pid).unwrap_or(0);
    state.started_at = Some(crate::format::human::now_rfc3339());
    if restore.is_some() && restarts == 0 {
        state.restored = true;
        state.restored_at = state.started_at.clone();
        state.checkpointed = false;
    }
    state.finished_at = None;
    state.exit_code = 0;
    state.error = None;
    state.oom_killed = false;
    state.restarting = false;
    state.restart_count = restarts;
    state.cgroup_path = cgroup.as_ref().map(|c| c.rel.clone()).unwrap_or_default();
    store.containers.save_state(id, &state)?;
    let monitor_pid = state.monitor_pid;
    write_pid_files(cfg, pid, monitor_pid);
    if restarts == 0 {
        events::container(store, "init", cfg);
    }
    events::container(store, "start", cfg);
    if attach {
        // Here, not in the CLI: a short program may die before the CLI runs.
        events::container(store, "attach", cfg);
    }
    notify(ready, &Report::Started { pid });
    notifier.started(monitor_pid);
    let bundle = store.containers.dir(id);
    if let Err(e) = super::hooks::run_stage(spec, "poststart", id, "running", pid, &bundle) {
        crate::warn!("{e:#}");
    }
    crate::debug!("container program started");
    // A stop that came while the program was starting again.
    if restarts > 0 && store.containers.stopped_by_user(id) {
        // SAFETY: our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let helper = match pending_net {
        Some(p) => finish_helper(store, id, pid, p),
        None => helper,
    };
    let nat = port_nat_for(store, cfg, pid);

    let log_path = log_file(store, cfg);
    let mut log = match cfg.tuning.log_driver.as_str() {
        "none" => super::logfile::LogWriter::none(),
        _ => super::logfile::LogWriter::open(&log_path)?.max_size(cfg.tuning.log_max_size),
    };
    let mut duties = super::service::Duties::new(store, cfg, notifier, monitor_pid);
    super::launch::attach_only(&cfg.launch.attach);
    let status = super::relay::relay(
        pid,
        wiring,
        &mut log,
        attach,
        sfd,
        &mut duties,
        clients.as_mut(),
    )?;
    drop(clients);
    let restart_requested = duties.restart_requested;
    drop(duties);
    if outlived_by_its_processes(cfg, spec) {
        end_leftover_processes(mount_ns.as_ref());
    }
    if let Some(h) = &helper {
        h.stop();
        super::network::cleanup_socket(&store.containers.run_dir(id));
    }
    if let Some(n) = &nat {
        n.remove();
    }
    super::bridge::detach(store, id);
    super::oci_runtime::delete(store, cfg);
    crate::debug!("container program exited with {status}");
    let oom_killed = cgroup.as_ref().is_some_and(|c| c.oom_killed());
    if let Some(cg) = &cgroup {
        cg.remove();
    }
    if let Err(e) = super::hooks::run_stage(spec, "poststop", id, "stopped", pid, &bundle) {
        crate::warn!("{e:#}");
    }
    drop(netns_holder);
    Ok(RunEnd {
        status,
        oom_killed,
        restart_requested,
        error: None,
        mount_ns,
    })
}

/// `--pidfile` and `--conmon-pidfile`, as units read them.
fn write_pid_files(cfg: &ContainerConfig, pid: i32, monitor_pid: i32) {
    for (path, value) in [(&cfg.pidfile, pid), (&cfg.conmon_pidfile, monitor_pid)] {
        if let Some(path) = path {
            if let Err(e) = crate::storage::atomic::write_file(
                std::path::Path::new(path),
                value.to_string().as_bytes(),
                false,
            ) {
                crate::warn!("writing pid file {path}: {e:#}");
            }
        }
    }
}

/// After an attached first run: the monitor forks, the parent ends (the
/// foreground caller gets the code) and the child keeps the container.
fn continue_in_background(store: &Store, id: &str) -> bool {
    // SAFETY: the monitor is single-threaded.
    match unsafe { libc::fork() } {
        0 => {
            sys::detach_from_caller();
            let mut state = store.containers.load_state(id).unwrap_or_default();
            // SAFETY: getpid cannot fail.
            state.monitor_pid = unsafe { libc::getpid() };
            state.monitor_start = sys::process_start_time(state.monitor_pid).unwrap_or(0);
            let _ = store.containers.save_state(id, &state);
            true
        }
        n if n > 0 => false,
        _ => {
            crate::warn!("cannot restart container {id}: fork: {}", sys::errno());
            false
        }
    }
}

/// Wait `delay` before a restart; false when a user's stop, kill or rm
/// came meanwhile (they mark the container, then wake us with SIGUSR1).
fn wait_unless_stopped(
    store: &Store,
    id: &str,
    sfd: &nix::sys::signalfd::SignalFd,
    delay: std::time::Duration,
) -> bool {
    let until = std::time::Instant::now() + delay;
    loop {
        if store.containers.stopped_by_user(id) || !store.containers.dir(id).exists() {
            return false;
        }
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        let mut pfd = libc::pollfd {
            fd: sfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32 + 1) };
        while let Ok(Some(_)) = sfd.read_signal() {}
    }
}

/// A root container's published TCP ports beside slirp4netns get the
/// kernel's path for local clients (see port_nat); the relay serves until
/// then, and alone should it fail.
fn port_nat_for(
    store: &Store,
    cfg: &ContainerConfig,
    pid: i32,
) -> Option<super::port_nat::PortNat> {
    if !matches!(cfg.network, NetworkMode::Slirp4netns(_))
        || !super::port_nat::wanted(store.rootless, &cfg.ports)
    {
        return None;
    }
    match super::port_nat::setup(pid, &cfg.ports, &store.containers.run_dir(&cfg.id)) {
        Ok(n) => {
            crate::debug!("published ports NATed");
            Some(n)
        }
        Err(e) => {
            crate::debug!("published ports stay with the relay: {e:#}");
            None
        }
    }
}

/// Wait for a network helper the program started ahead of. Should it fail
/// after all (it has bound its ports and configured the namespace by
/// then, so hardly ever), the container is stopped with the reason as its
/// error rather than left running without a network.
fn finish_helper(
    store: &Store,
    id: &str,
    pid: i32,
    pending: super::network::Starting,
) -> Option<super::network::Helper> {
    match pending.wait() {
        Ok(h) => {
            crate::debug!("network helper ready");
            Some(h)
        }
        Err(e) => {
            let mut state = store.containers.load_state(id).unwrap_or_default();
            state.error = Some(format!("{e:#}"));
            let _ = store.containers.save_state(id, &state);
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            None
        }
    }
}

/// Let go of the container's mount namespace in a child that outlives
/// the monitor, so its teardown does not delay the monitor's exit (which
/// a foreground CLI waits for).
fn release_in_background(mount_ns: Option<std::os::fd::OwnedFd>) {
    use std::os::fd::AsRawFd;
    let Some(ns) = mount_ns else { return };
    // The child holds on until the monitor is gone: a pipe only the
    // monitor can write reads EOF then.
    let Ok((r, _w)) = sys::pipe() else { return };
    // SAFETY: the monitor is single-threaded; the child makes plain
    // syscalls and leaves with _exit.
    match unsafe { libc::fork() } {
        0 => {
            sys::detach_into_background(&[r, ns.as_raw_fd()]);
            let _ = sys::read_to_end(r);
            drop(ns);
            // SAFETY: no destructors of the monitor's state in the child.
            unsafe { libc::_exit(0) }
        }
        _ => {
            sys::close(r);
            drop(ns);
            // The write end stays open until the monitor exits.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child that only waits to be killed.
    fn sleeper() -> i32 {
        // SAFETY: the child calls only async-signal-safe functions.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", sys::errno());
        if pid == 0 {
            // SAFETY: as above.
            unsafe {
                libc::pause();
                libc::_exit(0)
            }
        }
        pid
    }

    fn reaped(pid: i32) -> bool {
        // SAFETY: asking about our own child without waiting.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        r < 0 && sys::errno().raw_os_error() == Some(libc::ECHILD)
    }

    #[test]
    fn half_made_container_is_killed_and_reaped() {
        let pid = sleeper();
        let mut made = HalfMade::new(None);
        made.pid = pid;
        drop(made);
        assert!(reaped(pid));
    }

    #[test]
    fn disarmed_container_is_handed_over() {
        let pid = sleeper();
        let mut made = HalfMade::new(None);
        made.pid = pid;
        let got = made.disarm();
        assert_eq!(got.pid, pid);
        assert!(got.cgroup.is_none() && got.helper.is_none() && got.pending_net.is_none());
        // Still alive and ours.
        // SAFETY: asking about our own child without waiting.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        assert_eq!(r, 0);
        // SAFETY: cleaning up our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }

    #[test]
    fn guard_before_clone_has_nothing_to_kill() {
        drop(HalfMade::new(None));
    }

    fn cloexec(fd: &OwnedFd) -> bool {
        // SAFETY: fcntl on an fd we own.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        flags >= 0 && flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn every_channel_closes_on_exec() {
        for (tty, stdin, net) in [(false, true, true), (true, false, false)] {
            let (m, c) = channels(tty, stdin, net).unwrap();
            let mut fds: Vec<&OwnedFd> = vec![&m.go, &m.report, &c.go, &c.report];
            fds.extend(m.net.iter().chain(c.net.iter()));
            match &m.stdio {
                MonitorStdio::Pty { socket } => fds.push(socket),
                MonitorStdio::Wired(Wiring::Pipes {
                    stdin_w,
                    stdout_r,
                    stderr_r,
                }) => fds.extend(stdin_w.iter().chain([stdout_r, stderr_r])),
                MonitorStdio::Wired(Wiring::Pty { master }) => fds.push(master),
            }
            match &c.stdio {
                ChildStdio::Pty { socket } => fds.push(socket),
                ChildStdio::Pipes {
                    stdin_r,
                    stdout_w,
                    stderr_w,
                } => fds.extend(stdin_r.iter().chain([stdout_w, stderr_w])),
            }
            assert_eq!(fds.len(), if tty { 6 } else { 12 });
            assert!(fds.iter().all(|fd| cloexec(fd)));
        }
    }
}
