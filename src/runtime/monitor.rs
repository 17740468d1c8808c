//! The monitor: one small process per running container, the parent of its
//! first process. It creates the namespaces, waits for the program to start,
//! relays output to the log and an attached terminal, reaps the program,
//! records how it ended, and cleans up (`--rm`). No daemon outlives it.

use super::cgroup::Cgroup;
use super::process::{self, Stdio};
use super::rootfs::{self, RootfsPlan};
use super::sys;
use crate::storage::containers::{ContainerConfig, Status};
use crate::storage::events;
use crate::storage::modes::{NetworkMode, UsernsMode};
use crate::storage::store::{Driver, Store};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::time::SystemTime;

/// How the first process's stdio is wired (the monitor's side).
pub enum Wiring {
    Pipes {
        stdin_w: Option<i32>,
        stdout_r: i32,
        stderr_r: i32,
    },
    Pty {
        master: i32,
    },
}

fn now() -> String {
    crate::format::human::rfc3339_nano(SystemTime::now())
}

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
    RootfsPlan {
        layers: cfg
            .layers
            .iter()
            .map(|d| store.layers.diff_dir(d))
            .collect(),
        upper: dir.join("upper"),
        work: dir.join("work"),
        userxattr: store.rootless,
        copy: uses_copied_rootfs(store, cfg),
    }
}

/// Is the rootfs a private copy (vfs driver, or ids shifted by keep-id)?
pub fn uses_copied_rootfs(store: &Store, cfg: &ContainerConfig) -> bool {
    store.driver == Driver::Vfs || cfg.userns == UsernsMode::KeepId
}

/// Bring up `lo` in a fresh network namespace.
fn loopback_up() -> Result<()> {
    // SAFETY: an ioctl on a throwaway socket with a zeroed ifreq.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            bail!("socket: {}", sys::errno());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            ifr.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut ifr) != 0 {
            libc::close(sock);
            bail!("reading lo flags: {}", sys::errno());
        }
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let rc = libc::ioctl(sock, libc::SIOCSIFFLAGS, &ifr);
        libc::close(sock);
        if rc != 0 {
            bail!("bringing up lo: {}", sys::errno());
        }
    }
    Ok(())
}

/// The container side, between clone and exec. Never returns.
#[allow(clippy::too_many_arguments)]
fn child_main(
    spec: &Spec,
    plan: &RootfsPlan,
    rootless: bool,
    flags: libc::c_int,
    go_r: i32,
    err_w: i32,
    stdio: Stdio,
    init: bool,
    joins: &[(i32, libc::c_int)],
    infra: bool,
    net: NetWait,
    cgroup: Option<&Cgroup>,
) -> ! {
    // Wait until the monitor has written our id maps (and made our cgroup).
    let _ = sys::read_to_end(go_r);
    sys::close(go_r);
    let result = (|| -> Result<std::convert::Infallible> {
        if let Some(cg) = cgroup {
            cg.join_self()
                .context("moving the container into its cgroup")?;
        }
        // Only now, inside the container's cgroup, so that it is the root
        // of the new cgroup namespace.
        // SAFETY: unshare with a flag constant.
        if flags & libc::CLONE_NEWCGROUP != 0
            // SAFETY: unshare with a flag constant, in a single-threaded process.
            && unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } != 0
        {
            bail!("creating the cgroup namespace: {}", sys::errno());
        }
        // SAFETY: restore default signal handling for the program.
        unsafe {
            for sig in 1..=64 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            if rootless {
                libc::setresgid(0, 0, 0);
                libc::setresuid(0, 0, 0);
            }
        }
        if flags & libc::CLONE_NEWUTS != 0 {
            if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
                nix::unistd::sethostname(h).context("setting the hostname")?;
            }
        }
        if flags & libc::CLONE_NEWNET != 0 {
            loopback_up()?;
        }
        for &(fd, kind) in joins {
            // SAFETY: setns on an fd the monitor opened for us.
            if unsafe { libc::setns(fd, kind) } != 0 {
                bail!(
                    "joining the {} namespace: {}",
                    super::namespaces::kind_name(kind),
                    sys::errno()
                );
            }
            sys::close(fd);
        }
        if infra {
            super::infra::hold_namespaces(spec, rootless, err_w);
        }
        rootfs::setup(spec, plan, rootless)?;
        if net.fd >= 0 {
            wait_for_network(net)?;
        }
        process::start_program(spec, stdio, init.then_some(err_w))
    })();
    match result {
        Err(e) => process::fail(err_w, &e),
        Ok(never) => match never {},
    }
}

/// What the program waits for before it starts: a byte from the monitor
/// on `fd` once the network helper is ready, or, sooner, the default
/// routes the helper adds when it has configured the namespace.
#[derive(Clone, Copy)]
struct NetWait {
    fd: i32,
    routes: Option<super::net_routes::Families>,
}

/// The program starts once its network is configured: outbound works from
/// its first instruction (what it sends before the helper is fully up
/// waits in the helper's tap queue). The monitor writes one byte when the
/// helper is ready; EOF alone means it gave up (or died).
fn wait_for_network(net: NetWait) -> Result<()> {
    if let Some(want) = net.routes {
        use super::net_routes::Waited;
        match super::net_routes::wait_for_defaults(want, net.fd) {
            Ok(Waited::Routes) => {
                sys::close(net.fd);
                return Ok(());
            }
            // The monitor spoke first, or netlink failed: hear it out.
            Ok(Waited::Other) | Err(_) => {}
        }
    }
    let got = sys::read_to_end(net.fd).unwrap_or_default();
    sys::close(net.fd);
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

impl Net {
    fn wait(self) -> Result<super::network::Helper> {
        match self {
            Net::Starting(s) => s.wait(),
            Net::Ready(h) => Ok(h),
        }
    }

    fn abort(self) {
        match self {
            Net::Starting(s) => s.abort(),
            Net::Ready(h) => h.stop(),
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
    let plan = rootfs_plan(store, cfg);
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
    // The monitor enters the user and pid namespaces itself (a pid
    // namespace applies to children); the child enters the others.
    flags = joins.enter_before_clone(flags)?;
    let join_fds = joins.child_fds();
    let (go_r, go_w) = sys::pipe()?;
    let (net_r, net_w) = if needs_helper(cfg) {
        sys::pipe()?
    } else {
        (-1, -1)
    };
    // A pasta we start ourselves configures the namespace well before it
    // is ready: the program may go once it has.
    let early_routes = match &cfg.network {
        NetworkMode::Pasta(_) if launcher.is_none() => {
            super::network::pasta_route_families(&cfg.network.helper_options())
        }
        _ => None,
    };
    let (err_r, err_w) = sys::pipe()?;
    let mut sock = [-1i32; 2];
    let (mut in_r, mut in_w, mut out_r, mut out_w, mut errs_r, mut errs_w) =
        (-1, -1, -1, -1, -1, -1);
    if cfg.tty {
        // SAFETY: socketpair fills the array.
        if unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                sock.as_mut_ptr(),
            )
        } != 0
        {
            bail!("socketpair: {}", sys::errno());
        }
    } else {
        (out_r, out_w) = sys::pipe()?;
        (errs_r, errs_w) = sys::pipe()?;
        if attach_stdin {
            (in_r, in_w) = sys::pipe()?;
        }
    }
    // Made before the clone: on cgroup v1 the child moves itself in (see
    // Cgroup::join_self), in parallel with the monitor's work.
    let cgroup = create_cgroup(store, cfg)?;
    let self_joined = cgroup.as_ref().filter(|c| c.joins_cheaply_by_itself());
    // The cgroup namespace is made by the child once it is in its cgroup.
    let clone_now = flags & !libc::CLONE_NEWCGROUP;
    if !store.rootless {
        // The child is coracle's code, not the program's, until it execs:
        // not dumpable, so no process of a pid namespace it joins can open
        // its /proc/PID/{exe,mem} (exec makes the program dumpable again).
        // Rootless, newuidmap and the network helper need it dumpable.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) };
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
        let e = sys::errno();
        if let Some(cg) = &cgroup {
            cg.remove();
        }
        bail!("creating the container's namespaces: {e}");
    }
    if pid == 0 {
        sys::close(go_w);
        sys::close(err_r);
        let stdio = if cfg.tty {
            sys::close(sock[0]);
            Stdio::Pty { socket: sock[1] }
        } else {
            // SAFETY: wiring our own fds onto 0, 1, 2.
            unsafe {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                libc::dup2(if in_r >= 0 { in_r } else { null }, 0);
                libc::dup2(out_w, 1);
                libc::dup2(errs_w, 2);
            }
            Stdio::Inherited
        };
        sys::close(net_w);
        let mut keep = vec![go_r, err_w, sock[1], net_r];
        keep.extend(join_fds.iter().map(|(fd, _)| *fd));
        sys::close_fds_except(&keep);
        child_main(
            spec,
            &plan,
            store.rootless,
            flags,
            go_r,
            err_w,
            stdio,
            cfg.init,
            &join_fds,
            cfg.is_infra,
            NetWait {
                fd: net_r,
                routes: early_routes,
            },
            self_joined,
        );
    }
    sys::close(go_r);
    sys::close(net_r);
    sys::close(err_w);
    for fd in [in_r, out_w, errs_w, sock[1]] {
        sys::close(fd);
    }
    let kill_child = || {
        // SAFETY: the child is ours.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        if let Some(cg) = &cgroup {
            cg.remove();
        }
    };
    crate::debug!("container process {pid} cloned");
    let mount_ns = hold_mount_namespace(pid);
    // The network helper sets up while the id maps are written and the
    // rootfs is mounted (it needs neither); the program waits for it.
    let net = match launcher {
        Some(l) => l.launch(pid).map(|h| h.map(Net::Ready)),
        None => start_network_helper(store, cfg, pid).map(|s| s.map(Net::Starting)),
    };
    let net = match net {
        Ok(n) => n,
        Err(e) => {
            sys::close(net_w);
            kill_child();
            return Err(e);
        }
    };
    let placed = (|| {
        if flags & libc::CLONE_NEWUSER != 0 {
            let maps = super::spec::id_maps(spec);
            super::userns::write_id_maps(pid, &maps)?;
        }
        crate::debug!("id maps written");
        place_in_cgroup(cfg, cgroup.as_ref(), self_joined.is_some(), pid)
    })();
    if let Err(e) = placed {
        sys::close(net_w);
        if let Some(n) = net {
            n.abort();
        }
        kill_child();
        return Err(e);
    }
    sys::close(go_w);
    // The helper's readiness, or the program's start (or failure: err_r
    // is readable either way) when it went on the routes alone; then the
    // helper is finished after the start is reported.
    let (helper, pending_net) = match net {
        Some(Net::Starting(mut s)) if early_routes.is_some() => match s.ready_or(err_r) {
            Ok(true) => (s.wait().map(Some), None),
            Ok(false) => (Ok(None), Some(s)),
            Err(e) => {
                s.abort();
                (Err(e), None)
            }
        },
        net => (net.map(Net::wait).transpose(), None),
    };
    let helper = match helper {
        Ok(h) => h,
        Err(e) => {
            sys::close(net_w);
            kill_child();
            return Err(e);
        }
    };
    if net_w >= 0 {
        if helper.is_some() {
            crate::debug!("network helper ready");
            let _ = sys::write_all(net_w, b"1");
        }
        sys::close(net_w);
    }
    let stop_net = |helper: &Option<super::network::Helper>,
                    pending: Option<super::network::Starting>| {
        if let Some(h) = helper {
            h.stop();
        }
        if let Some(p) = pending {
            p.abort();
        }
    };
    let wiring = if cfg.tty {
        let master = process::recv_fd(sock[0]);
        sys::close(sock[0]);
        match master {
            Ok(m) => Wiring::Pty { master: m },
            Err(e) => {
                let failure = process::read_failure(err_r);
                sys::close(err_r);
                // SAFETY: reap our child.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                // The program never ran: its helper must not outlive it.
                stop_net(&helper, pending_net);
                if let Some(cg) = &cgroup {
                    cg.remove();
                }
                return Err(match failure {
                    Some(f) => f.into(),
                    None => e,
                });
            }
        }
    } else {
        Wiring::Pipes {
            stdin_w: (in_w >= 0).then_some(in_w),
            stdout_r: out_r,
            stderr_r: errs_r,
        }
    };
    if let Some(f) = process::read_failure(err_r) {
        sys::close(err_r);
        // SAFETY: reap our child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        if helper.is_some() || pending_net.is_some() {
            stop_net(&helper, pending_net);
            super::network::cleanup_socket(&store.containers.run_dir(&cfg.id));
        }
        if let Some(cg) = &cgroup {
            cg.remove();
        }
        return Err(f.into());
    }
    sys::close(err_r);
    Ok(Spawned {
        pid,
        wiring,
        helper,
        pending_net,
        cgroup,
        mount_ns,
    })
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
}

/// The container's cgroup with its limits, made before its process.
fn create_cgroup(store: &Store, cfg: &ContainerConfig) -> Result<Option<Cgroup>> {
    let cg = Cgroup::create(
        &cfg.id,
        &cfg.resources,
        &cfg.cgroup_parent,
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
    to: i32,
    from: i32,
}

impl HelperLauncher {
    fn fork(store: &Store, cfg: &ContainerConfig) -> Result<HelperLauncher> {
        if matches!(cfg.network, NetworkMode::Slirp4netns(_)) {
            // slirp4netns lives as long as its parent: that must be the monitor.
            bail!("a rootless container that joins another container's namespaces needs --network pasta, none or container:NAME, not slirp4netns");
        }
        let (to_r, to_w) = sys::pipe()?;
        let (from_r, from_w) = sys::pipe()?;
        // SAFETY: the monitor is single-threaded; the child runs plain code
        // and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            bail!("fork: {}", sys::errno());
        }
        if pid == 0 {
            // It lives as long as the helper, its child: it must not hold
            // the monitor's pipes, and must die with the monitor.
            sys::close_fds_except(&[to_r, from_w]);
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            let msg = sys::read_to_end(to_r).unwrap_or_default();
            let mut helper = None;
            let reply = match String::from_utf8_lossy(&msg).trim().parse::<i32>() {
                Ok(target) => match start_network_helper(store, cfg, target)
                    .and_then(|s| s.map(|s| s.wait()).transpose())
                {
                    Ok(h) => {
                        let pid = h.as_ref().map(|h| h.pid).unwrap_or(0);
                        helper = h;
                        format!("ok {pid}")
                    }
                    Err(e) => format!("err {e:#}"),
                },
                Err(_) => "err no container pid".to_string(),
            };
            let _ = sys::write_all(from_w, reply.as_bytes());
            sys::close(from_w);
            if let Some(h) = helper {
                h.wait_end();
            }
            // SAFETY: leave without the monitor's destructors.
            unsafe { libc::_exit(0) }
        }
        sys::close(to_r);
        sys::close(from_w);
        Ok(HelperLauncher {
            pid,
            to: to_w,
            from: from_r,
        })
    }

    fn launch(self, target: i32) -> Result<Option<super::network::Helper>> {
        let _ = sys::write_all(self.to, target.to_string().as_bytes());
        sys::close(self.to);
        let reply = sys::read_to_end(self.from).unwrap_or_default();
        sys::close(self.from);
        let reply = String::from_utf8_lossy(&reply).into_owned();
        // The launcher stays while its helper runs; otherwise reap it now.
        if let Some(("ok", pid)) = reply.split_once(' ') {
            if let Ok(p) = pid.parse::<i32>() {
                if p > 0 {
                    return Ok(Some(super::network::Helper::started_by(p, self.pid)));
                }
            }
        }
        // SAFETY: reap our launcher.
        unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), 0) };
        match reply.split_once(' ') {
            Some(("ok", _)) => Ok(None),
            Some(("err", msg)) => bail!("{msg}"),
            _ => bail!(
                "{}: the helper launcher failed",
                super::network::SETUP_FAILED
            ),
        }
    }
}

/// Tell the waiting CLI how the start went: "ok <pid>" or "err <code> <msg>".
fn notify(ready_fd: i32, msg: &str) {
    if ready_fd >= 0 {
        let _ = sys::write_all(ready_fd, msg.as_bytes());
        sys::close(ready_fd);
    }
}

/// The monitor's whole life. Returns the exit code for the monitor process:
/// the container's own, so a foreground CLI can pass it on.
pub fn run(store: &Store, id: &str, attach: bool, ready_fd: i32) -> i32 {
    match run_inner(store, id, attach, ready_fd) {
        Ok(code) => code,
        Err(e) => {
            let code = e
                .chain()
                .find_map(|c| c.downcast_ref::<process::StartError>().map(|s| s.code))
                .unwrap_or(125);
            notify(ready_fd, &format!("err {code} {e:#}"));
            code
        }
    }
}

fn run_inner(store: &Store, id: &str, attach: bool, ready_fd: i32) -> Result<i32> {
    // The container must not inherit the CLI's end of the start report.
    sys::set_cloexec(ready_fd, true);
    let (cfg, spec) = super::container::load_prepared(store, id)?;
    let (spec, first_mounts) = super::volume::with_first_mounts(store, &cfg, spec);
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
    let mut sigset = nix::sys::signal::SigSet::empty();
    sigset.add(nix::sys::signal::Signal::SIGCHLD);
    sigset.add(nix::sys::signal::Signal::SIGWINCH);
    sigset.thread_block().context("blocking signals")?;
    let sfd = nix::sys::signalfd::SignalFd::with_flags(
        &sigset,
        nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
    )
    .context("signalfd")?;

    crate::debug!("monitor loaded the spec");
    let attach_stdin = attach && cfg.stdin;
    let started = spawn_container(store, &cfg, &spec, attach_stdin);
    let Spawned {
        pid,
        wiring,
        helper,
        pending_net,
        cgroup,
        mount_ns,
    } = match started {
        Ok(v) => v,
        Err(e) => {
            let mut state = store.containers.load_state(id).unwrap_or_default();
            state.status = Status::Created;
            state.error = Some(format!("{e:#}"));
            let _ = store.containers.save_state(id, &state);
            if cfg.auto_remove && super::volume::remove_container_and_anonymous(store, id).is_ok() {
                events::container(store, "remove", &cfg);
            }
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
    state.started_at = Some(now());
    state.finished_at = None;
    state.exit_code = 0;
    state.error = None;
    state.oom_killed = false;
    state.cgroup_path = cgroup.as_ref().map(|c| c.rel.clone()).unwrap_or_default();
    store.containers.save_state(id, &state)?;
    super::volume::mark_mounted(store, &first_mounts);
    events::container(store, "init", &cfg);
    events::container(store, "start", &cfg);
    if attach {
        // Here, not in the CLI: a short program may die before the CLI runs.
        events::container(store, "attach", &cfg);
    }
    notify(ready_fd, &format!("ok {pid}"));
    crate::debug!("container program started");
    let helper = match pending_net {
        Some(p) => finish_helper(store, id, pid, p),
        None => helper,
    };
    let nat = port_nat_for(store, &cfg, pid);

    let log_path = store.containers.dir(id).join("userdata").join("ctr.log");
    let mut log = super::logfile::LogWriter::open(&log_path)?;
    let status = super::relay::relay(pid, wiring, &mut log, attach, sfd)?;
    if let Some(h) = &helper {
        h.stop();
        super::network::cleanup_socket(&store.containers.run_dir(id));
    }
    if let Some(n) = &nat {
        n.remove();
    }

    crate::debug!("container program exited with {status}");
    let oom_killed = cgroup.as_ref().is_some_and(|c| c.oom_killed());
    if let Some(cg) = &cgroup {
        cg.remove();
    }
    if cfg.auto_remove {
        events::container_died(store, &cfg, status);
        // The record goes now; `wait` may still be asking for the code.
        if let Err(e) = store.containers.keep_exit_code(id, status) {
            crate::debug!("keeping the exit code: {e:#}");
        }
        super::container::remove_files_in_background(store, id, mount_ns)?;
        events::container(store, "remove", &cfg);
        crate::debug!("container removed");
        return Ok(status);
    }
    let mut state = store.containers.load_state(id).unwrap_or_default();
    state.status = Status::Exited;
    state.exit_code = status;
    state.oom_killed = oom_killed;
    state.cgroup_path = String::new();
    state.finished_at = Some(now());
    state.pid = 0;
    state.monitor_pid = 0;
    // Journal first: whoever sees the container exited finds `died` there.
    events::container_died(store, &cfg, status);
    store.containers.save_state(id, &state)?;
    release_in_background(mount_ns);
    Ok(status)
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
