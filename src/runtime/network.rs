//! The helper that gives a container's network namespace its outside
//! connectivity (pasta, from the passt package; slirp4netns otherwise),
//! and the relays for published ports it cannot serve itself. The monitor
//! starts the helper for its container and the helper ends with the
//! container's network namespace. Parsing `-p` is publish.rs; the hosts
//! and resolv.conf files are name_files.rs.

use crate::storage::modes::NetworkMode;
use anyhow::{bail, Context, Result};
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::port_relay::{self, Proto, Relay, Route};
use super::publish::published_on_loopback_only;
pub use crate::storage::containers::PortMapping;

/// What a pasta container gets of its own when the host's loopback stays
/// closed and the user chose no addresses: a link-local address and
/// gateway. The pasta of Debian 12 can only map the gateway to the host's
/// loopback (which stays closed, as podman's `--no-map-gw`) and has no
/// other address standing for the host; with the host's own address the
/// container would reach itself there. With its own, the host's addresses
/// lie outside it and pasta connects to them on the host.
pub const PASTA_OWN_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 2);
const PASTA_OWN_GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);

/// pasta's command-line options for a container, from the user's.
#[derive(Debug, PartialEq, Eq)]
pub struct PastaSetup {
    /// What goes to pasta, after our own options.
    pub args: Vec<String>,
    /// The gateway stands for the host's loopback (podman's `--map-gw`).
    pub map_gw: bool,
    /// The container's IPv4 address, when it is not the host's.
    pub own: Option<Ipv4Addr>,
}

/// podman's pasta options: `--map-gw` (podman's own, not pasta's) opens
/// the host's loopback through the gateway; without it pasta gets
/// `--no-map-gw`, and the container its own address unless the user
/// chose addresses (-a, -n, -g) or IPv6 only.
pub fn pasta_setup(options: &[String]) -> PastaSetup {
    let mut args = Vec::new();
    let mut map_gw = false;
    let mut no_map_gw = false;
    let mut addressed = false;
    let mut own = None;
    let mut prev: Option<&str> = None;
    for o in options {
        let o = o.as_str();
        if matches!(prev, Some("-a" | "--address")) {
            own = own.or(o.parse().ok());
        }
        if let Some(a) = o.strip_prefix("--address=") {
            own = own.or(a.parse().ok());
        }
        let name = o.split_once('=').map_or(o, |(n, _)| n);
        match name {
            "--map-gw" => map_gw = true,
            "--no-map-gw" => no_map_gw = true,
            "-a" | "--address" | "-n" | "--netmask" | "-g" | "--gateway" | "-6" | "--ipv6-only" => {
                addressed = true
            }
            _ => {}
        }
        if o != "--map-gw" {
            args.push(o.to_string());
        }
        prev = Some(o);
    }
    // The user's --no-map-gw wins over --map-gw, as in podman.
    let map_gw = map_gw && !no_map_gw;
    let mut ours = Vec::new();
    if !map_gw {
        if !no_map_gw {
            ours.push("--no-map-gw".to_string());
        }
        if !addressed {
            own = Some(PASTA_OWN_ADDRESS);
            ours.extend([
                "-a".to_string(),
                PASTA_OWN_ADDRESS.to_string(),
                "-n".to_string(),
                "16".to_string(),
                "-g".to_string(),
                PASTA_OWN_GATEWAY.to_string(),
            ]);
        }
    }
    ours.extend(args);
    PastaSetup {
        args: ours,
        map_gw,
        own,
    }
}

/// slirp4netns options, podman's spelling (`slirp4netns:allow_host_loopback=true,mtu=1500`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SlirpSetup {
    /// The container reaches the host's loopback at 10.0.2.2.
    pub allow_host_loopback: bool,
    pub mtu: Option<u32>,
}

pub fn slirp_setup(options: &[String]) -> Result<SlirpSetup> {
    let mut s = SlirpSetup::default();
    for o in options {
        let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
        match k {
            "allow_host_loopback" => {
                s.allow_host_loopback = match v {
                    "true" => true,
                    "false" => false,
                    _ => bail!("invalid slirp4netns option {o:?}: allow_host_loopback takes true or false"),
                }
            }
            "mtu" => {
                s.mtu = Some(
                    v.parse()
                        .ok()
                        .filter(|m| (68..=65521).contains(m))
                        .with_context(|| {
                            format!("invalid slirp4netns option {o:?}: mtu takes 68 to 65521")
                        })?,
                )
            }
            _ => bail!(
                "unsupported slirp4netns option {o:?}: coracle takes allow_host_loopback=true|false and mtu=N"
            ),
        }
    }
    Ok(s)
}

/// Start errors from the network helpers begin with this.
pub const SETUP_FAILED: &str = "setting up the network";

pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into());
    // containers.conf's helper_binaries_dir first, as podman looks.
    let helpers = crate::config::get()
        .containers
        .engine
        .helper_binaries_dir
        .clone();
    helpers
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The network mode a container gets when the user named none. pasta drops
/// root privileges before it opens the namespace, so root containers use
/// slirp4netns.
pub fn default_mode() -> NetworkMode {
    if super::userns::is_rootless() && find_program("pasta").is_some() {
        NetworkMode::Pasta(Vec::new())
    } else if find_program("slirp4netns").is_some() {
        NetworkMode::Slirp4netns(Vec::new())
    } else {
        NetworkMode::Private
    }
}

/// The default routes pasta will add to a container's namespace, when we
/// can tell: the families the host has one for (pasta copies the host's),
/// narrowed by -4 or -6. None under other options, which we do not read.
pub fn pasta_route_families(options: &[String]) -> Option<super::net_routes::Families> {
    let mut f = super::net_routes::host_defaults();
    for o in options {
        match o.as_str() {
            "-4" | "--ipv4-only" => f.v6 = false,
            "-6" | "--ipv6-only" => f.v4 = false,
            "--map-gw" | "--no-map-gw" => {}
            _ => return None,
        }
    }
    f.any().then_some(f)
}

fn tun_usable() -> Result<()> {
    match std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun") {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => bail!(
            "/dev/net/tun is not usable by this user (mode {:o}): rootless networking needs it; as root run `chmod 0666 /dev/net/tun` (the mode standard distributions use), or use --network none",
            std::fs::metadata("/dev/net/tun").map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777).unwrap_or(0)
        ),
        Err(e) => Err(e).context("opening /dev/net/tun"),
    }
}

/// A running network helper, and the UDP relay beside it, if any. Both end
/// when stopped, or with the monitor (parent-death signal, --exit-fd).
pub struct Helper {
    pub pid: i32,
    /// Our child to reap once the helper is killed: the helper itself, or
    /// the launcher that started it; 0 when neither.
    reap: i32,
    relay: Option<Relay>,
}

/// A helper that is still setting up; the container's own setup goes on
/// meanwhile. `wait` for it before the container's program starts.
pub struct Starting {
    kind: StartingKind,
}

enum StartingKind {
    Pasta {
        child: std::process::Child,
        ready: std::fs::File,
        /// What pasta wrote to `ready` so far: its pid and a newline.
        said: Vec<u8>,
        fifo: PathBuf,
        ports: Vec<PortMapping>,
        relay: Option<Relay>,
    },
    Slirp {
        pid: i32,
        ready_r: i32,
        api: PathBuf,
        ports: Vec<PortMapping>,
        relay: Option<Relay>,
    },
}

/// How long a helper may take to set up before we give up on it.
const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The mappings our relay serves instead of pasta (see port_relay), as its
/// routes, and the mappings pasta keeps:
/// - TCP on a host loopback address: only local clients reach it, and
///   pasta splices those to the namespace's loopback, as the relay does;
///   the relay is serving the moment it is bound, while pasta first fills
///   its packet buffers (most of its start), at least as fast.
/// - UDP that pasta cannot answer through from the host's loopback.
fn split_relay_routes(ports: &[PortMapping]) -> (Vec<Route>, Vec<PortMapping>) {
    let v6 = UdpSocket::bind("[::1]:0").is_ok();
    let mut routes = Vec::new();
    let mut keep = Vec::new();
    for p in ports {
        if p.protocol == "tcp" {
            match p.host_ip.parse::<std::net::IpAddr>() {
                Ok(ip) if ip.is_loopback() => routes.push(Route {
                    proto: Proto::Tcp,
                    host: std::net::SocketAddr::new(ip, p.host_port),
                    container_port: p.container_port,
                }),
                _ => keep.push(p.clone()),
            }
            continue;
        }
        if p.protocol != "udp" || !port_relay::pasta_loses_answers(p.host_port, p.container_port) {
            keep.push(p.clone());
            continue;
        }
        let loopback = port_relay::loopback_addrs(&p.host_ip);
        for ip in &loopback {
            if ip.is_ipv6() && !v6 {
                continue;
            }
            routes.push(Route {
                proto: Proto::Udp,
                host: std::net::SocketAddr::new(*ip, p.host_port),
                container_port: p.container_port,
            });
        }
        // pasta keeps the other addresses, where it answers right.
        if !published_on_loopback_only(p) {
            keep.push(p.clone());
        }
    }
    (routes, keep)
}

/// pasta re-executes itself as `pasta.avx2` on a CPU with AVX2: run that
/// one directly, and save a program load on every start.
fn pasta_program() -> Option<PathBuf> {
    let pasta = find_program("pasta")?;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        let avx2 = pasta.with_file_name("pasta.avx2");
        if avx2.is_file() {
            return Some(avx2);
        }
    }
    Some(pasta)
}

/// Start pasta for the network namespace of `pid` (and its user namespace),
/// forwarding `ports`; `wait` on the result for it to be ready.
pub fn spawn_pasta(
    pid: i32,
    ports: &[PortMapping],
    extra: &[String],
    run_dir: &Path,
) -> Result<Starting> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;
    tun_usable()?;
    let pasta = pasta_program().context("pasta not found: install the passt package")?;
    std::fs::create_dir_all(run_dir)?;
    // pasta writes its pid file once it is set up: a FIFO there tells us
    // the moment it is, without polling a file.
    let fifo = run_dir.join("pasta.ready");
    let _ = std::fs::remove_file(&fifo);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .context("creating pasta's readiness FIFO")?;
    let ready = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo)
        .context("opening pasta's readiness FIFO")?;
    let (routes, pasta_ports) = split_relay_routes(ports);
    let mut cmd = Command::new(pasta);
    // In the foreground: it stays our child, and dies with us.
    cmd.args(["--config-net", "--quiet", "--foreground", "--pid"])
        .arg(&fifo);
    // One option per mapping: pasta takes an address only on a lone spec.
    for proto in ["tcp", "udp"] {
        let flag = if proto == "tcp" { "-t" } else { "-u" };
        let mine: Vec<&PortMapping> = pasta_ports.iter().filter(|p| p.protocol == proto).collect();
        if mine.is_empty() {
            cmd.arg(flag).arg("none");
        }
        for p in mine {
            let spec = if p.host_ip.is_empty() {
                format!("{}:{}", p.host_port, p.container_port)
            } else {
                format!("{}/{}:{}", p.host_ip, p.host_port, p.container_port)
            };
            cmd.arg(flag).arg(spec);
        }
    }
    // Only what the user asked for goes out; nothing from the container in.
    cmd.arg("-T").arg("none").arg("-U").arg("none");
    // The host's loopback stays closed unless asked for (pasta_setup).
    cmd.args(pasta_setup(extra).args);
    // Joins the container's user namespace too, where it may configure
    // the network.
    cmd.arg(pid.to_string());
    // SAFETY: getpid cannot fail.
    let parent = unsafe { libc::getpid() };
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Out of an attached terminal's process group (^C is the
            // container's), with default signal handling.
            libc::setsid();
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running pasta")?;
    let mut starting = Starting {
        kind: StartingKind::Pasta {
            child,
            ready,
            said: Vec::new(),
            fifo,
            ports: ports.to_vec(),
            relay: None,
        },
    };
    if !routes.is_empty() {
        match port_relay::start(pid, &routes) {
            Ok(r) => {
                if let StartingKind::Pasta { relay, .. } = &mut starting.kind {
                    *relay = Some(r);
                }
            }
            Err(e) => {
                starting.abort();
                return Err(anyhow::anyhow!("{SETUP_FAILED}: {e:#}"));
            }
        }
    }
    Ok(starting)
}

/// The mappings our relay serves for slirp4netns, and the ones slirp4netns
/// keeps: every TCP one (its user-mode TCP stack forwards at half the
/// throughput of a splice; see port_relay), and UDP on the host's loopback.
/// slirp4netns shows a loopback sender as 10.0.2.2, and with the host's
/// loopback closed (`--disable-host-loopback`) it drops the answers sent
/// there; the relay answers from the namespace's loopback. slirp4netns
/// keeps the other addresses of a UDP mapping.
fn split_tcp_routes(ports: &[PortMapping]) -> Result<(Vec<Route>, Vec<PortMapping>)> {
    let v6 = UdpSocket::bind("[::1]:0").is_ok();
    let mut routes = Vec::new();
    let mut keep = Vec::new();
    for p in ports {
        if p.protocol != "tcp" {
            for ip in port_relay::loopback_addrs(&p.host_ip) {
                if ip.is_ipv6() && !v6 {
                    continue;
                }
                routes.push(Route {
                    proto: Proto::Udp,
                    host: std::net::SocketAddr::new(ip, p.host_port),
                    container_port: p.container_port,
                });
            }
            if !published_on_loopback_only(p) {
                keep.push(p.clone());
            }
            continue;
        }
        let ip: std::net::IpAddr = if p.host_ip.is_empty() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            p.host_ip
                .parse()
                .with_context(|| format!("invalid host address in {}", p.display()))?
        };
        routes.push(Route {
            proto: Proto::Tcp,
            host: std::net::SocketAddr::new(ip, p.host_port),
            container_port: p.container_port,
        });
    }
    Ok((routes, keep))
}

/// slirp4netns: outbound connectivity, published UDP ports through its API
/// socket, TCP ones through our relay; the host's loopback at 10.0.2.2 only
/// with `allow_host_loopback=true`, as podman.
pub fn spawn_slirp4netns(
    pid: i32,
    ports: &[PortMapping],
    options: &[String],
    run_dir: &Path,
) -> Result<Starting> {
    let setup = slirp_setup(options)?;
    let (routes, ports) = split_tcp_routes(ports)?;
    let ports = ports.as_slice();
    tun_usable()?;
    let slirp = find_program("slirp4netns")
        .context("slirp4netns not found: install it, or use pasta (passt)")?;
    std::fs::create_dir_all(run_dir)?;
    // A unix socket path must fit in 108 bytes; a deep runroot does not.
    let mut api = run_dir.join("slirp4netns.sock");
    if api.as_os_str().len() > 100 {
        let name = run_dir
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(12).collect::<String>())
            .unwrap_or_default();
        api =
            std::env::temp_dir().join(format!("coracle-slirp-{name}-{}.sock", std::process::id()));
    }
    let _ = std::fs::remove_file(&api);
    let (r, w) = super::sys::pipe()?;
    super::sys::set_cloexec(w, false);
    // slirp4netns outlives its namespace unless told otherwise: it exits
    // when this pipe closes, i.e. when the monitor ends, however it ends.
    let (exit_r, _exit_w) = super::sys::pipe()?;
    super::sys::set_cloexec(exit_r, false);
    let mut cmd = Command::new(slirp);
    cmd.arg("--configure")
        .arg(format!("--mtu={}", setup.mtu.unwrap_or(65520)))
        .arg("--ready-fd")
        .arg(w.to_string())
        .arg("--exit-fd")
        .arg(exit_r.to_string());
    if !setup.allow_host_loopback {
        cmd.arg("--disable-host-loopback");
    }
    if !ports.is_empty() {
        cmd.arg("--api-socket").arg(&api);
    }
    let spawned = cmd
        .arg(pid.to_string())
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    super::sys::close(w);
    super::sys::close(exit_r);
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            super::sys::close(r);
            return Err(e).context("running slirp4netns");
        }
    };
    let _ = std::fs::write(run_dir.join("slirp4netns.pid"), child.id().to_string());
    let mut starting = Starting {
        kind: StartingKind::Slirp {
            pid: child.id() as i32,
            ready_r: r,
            api,
            ports: ports.to_vec(),
            relay: None,
        },
    };
    if !routes.is_empty() {
        match port_relay::start(pid, &routes) {
            Ok(r) => {
                if let StartingKind::Slirp { relay, .. } = &mut starting.kind {
                    *relay = Some(r);
                }
            }
            Err(e) => {
                starting.abort();
                return Err(anyhow::anyhow!("{SETUP_FAILED}: {e:#}"));
            }
        }
    }
    Ok(starting)
}

impl Starting {
    /// The helper's pid (our child, or the launcher's).
    pub fn pid(&self) -> i32 {
        match &self.kind {
            StartingKind::Pasta { child, .. } => child.id() as i32,
            StartingKind::Slirp { pid, .. } => *pid,
        }
    }

    /// Wait until the helper is ready (true), or until `other` becomes
    /// readable first (false): the program got going without us. Only
    /// pasta can be left behind this way; `wait` finishes either.
    pub fn ready_or(&mut self, other: i32) -> Result<bool> {
        match &mut self.kind {
            StartingKind::Pasta {
                child,
                ready,
                said,
                ports,
                ..
            } => wait_for_pasta(child, ready, said, Some(other))
                .map_err(|e| pasta_error(child, ports, e)),
            StartingKind::Slirp { .. } => Ok(true),
        }
    }

    /// Wait until the helper has configured the namespace and bound the
    /// published ports.
    pub fn wait(self) -> Result<Helper> {
        match self.kind {
            StartingKind::Pasta {
                mut child,
                ready,
                mut said,
                fifo,
                ports,
                relay,
            } => {
                let helper = Helper {
                    pid: child.id() as i32,
                    reap: child.id() as i32,
                    relay,
                };
                let up = wait_for_pasta(&mut child, &ready, &mut said, None);
                let _ = std::fs::remove_file(&fifo);
                if let Err(e) = up {
                    helper.stop();
                    return Err(pasta_error(&mut child, &ports, e));
                }
                Ok(helper)
            }
            StartingKind::Slirp {
                pid,
                ready_r,
                api,
                ports,
                relay,
            } => {
                let ready = super::sys::read_to_end(ready_r).unwrap_or_default();
                super::sys::close(ready_r);
                let helper = Helper {
                    pid,
                    reap: pid,
                    relay,
                };
                if ready.is_empty() {
                    helper.stop();
                    bail!("{SETUP_FAILED}: slirp4netns failed");
                }
                for p in &ports {
                    if let Err(e) = slirp_forward(&api, p) {
                        helper.stop();
                        return Err(e);
                    }
                }
                Ok(helper)
            }
        }
    }

    /// Give up on a helper that is still starting (the container failed).
    pub fn abort(self) {
        let helper = match self.kind {
            StartingKind::Pasta {
                child, fifo, relay, ..
            } => {
                let _ = std::fs::remove_file(&fifo);
                Helper {
                    pid: child.id() as i32,
                    reap: child.id() as i32,
                    relay,
                }
            }
            StartingKind::Slirp {
                pid,
                ready_r,
                relay,
                ..
            } => {
                super::sys::close(ready_r);
                Helper {
                    pid,
                    reap: pid,
                    relay,
                }
            }
        };
        helper.stop();
    }
}

/// Until pasta writes its pid into the FIFO (set up: true), or exits
/// (failed), or `other` is readable (false).
fn wait_for_pasta(
    child: &mut std::process::Child,
    ready: &std::fs::File,
    said: &mut Vec<u8>,
    other: Option<i32>,
) -> Result<bool> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let start = std::time::Instant::now();
    loop {
        if said.contains(&b'\n') {
            return Ok(true);
        }
        let mut pfds = [
            libc::pollfd {
                fd: ready.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: other.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // A short timeout only to notice an exit: readiness wakes us at once.
        // SAFETY: valid pollfds (a negative fd is skipped).
        unsafe { libc::poll(pfds.as_mut_ptr(), 2, 10) };
        let pfd = pfds[0];
        if pfd.revents & libc::POLLIN != 0 {
            let mut buf = [0u8; 32];
            if let Ok(n) = (&*ready).read(&mut buf) {
                said.extend_from_slice(&buf[..n]);
                continue;
            }
        } else if pfds[1].revents != 0 {
            return Ok(false);
        } else if pfd.revents & libc::POLLHUP != 0 {
            // Closed without a word: it is exiting; look again soon.
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!("pasta exited ({status}) before it was ready");
        }
        if start.elapsed() > HELPER_TIMEOUT {
            bail!("pasta was not ready after {}s", HELPER_TIMEOUT.as_secs());
        }
    }
}

/// The error for a pasta that failed to start, from what it said.
fn pasta_error(
    child: &mut std::process::Child,
    ports: &[PortMapping],
    fallback: anyhow::Error,
) -> anyhow::Error {
    use std::io::Read;
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    // pasta follows an option it rejects with its whole usage text: the
    // user needs the line that says what was wrong, not the manual.
    let msg: String = err
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .filter(|l| !l.contains("syslog") && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if msg.contains("Failed to bind") {
        let ports: Vec<String> = ports
            .iter()
            .map(|p| format!("{}/{}", p.host_port, p.protocol))
            .collect();
        return anyhow::anyhow!(
            "{SETUP_FAILED}: cannot publish ports {}: a host port is already in use ({msg})",
            ports.join(", ")
        );
    }
    if msg.is_empty() {
        return anyhow::anyhow!("{SETUP_FAILED}: {fallback:#}");
    }
    anyhow::anyhow!("{SETUP_FAILED}: pasta failed: {msg}")
}

/// Remove a helper's API socket when it lives outside the run dir.
pub fn cleanup_socket(run_dir: &Path) {
    let name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().chars().take(12).collect::<String>())
        .unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        let prefix = format!("coracle-slirp-{name}-");
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn slirp_forward(api: &Path, p: &PortMapping) -> Result<()> {
    use std::io::{Read, Write};
    let mut sock =
        std::os::unix::net::UnixStream::connect(api).context("connecting to slirp4netns")?;
    let host_addr = if p.host_ip.is_empty() {
        "0.0.0.0"
    } else {
        &p.host_ip
    };
    let req = serde_json::json!({"execute": "add_hostfwd", "arguments": {
        "proto": p.protocol, "host_addr": host_addr, "host_port": p.host_port, "guest_port": p.container_port}});
    sock.write_all(req.to_string().as_bytes())?;
    sock.shutdown(std::net::Shutdown::Write)?;
    let mut reply = String::new();
    sock.read_to_string(&mut reply)?;
    if reply.contains("\"error\"") {
        if reply.contains("add_hostfwd failed") {
            bail!(
                "{SETUP_FAILED}: cannot publish port {}: the host port is already in use",
                p.display()
            );
        }
        bail!(
            "{SETUP_FAILED}: cannot publish port {}: {}",
            p.display(),
            reply.trim()
        );
    }
    Ok(())
}

impl Helper {
    /// No helper, only the relay for published ports (named networks).
    pub fn relay_only(relay: Relay) -> Helper {
        Helper {
            pid: 0,
            reap: 0,
            relay: Some(relay),
        }
    }

    /// A helper that `launcher`, our child, started (and outlives it).
    pub fn started_by(pid: i32, launcher: i32) -> Helper {
        Helper {
            pid,
            reap: launcher,
            relay: None,
        }
    }

    /// Kill the helper and wait until it has let go of its ports: a
    /// stopped container's port is free for the next command.
    pub fn stop(&self) {
        if let Some(r) = &self.relay {
            r.stop();
        }
        if self.pid <= 0 {
            return;
        }
        // SAFETY: our own helper process.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        if self.reap > 0 {
            // SAFETY: reap our child (the helper, or its launcher, which
            // ends once the helper has).
            unsafe { libc::waitpid(self.reap, std::ptr::null_mut(), 0) };
            return;
        }
        let start = std::time::Instant::now();
        let mut delay = std::time::Duration::from_micros(200);
        while start.elapsed() < std::time::Duration::from_secs(2) && !has_exited(self.pid) {
            std::thread::sleep(delay);
            delay = (delay * 2).min(std::time::Duration::from_millis(20));
        }
    }

    /// In the launcher that started it: until the helper ends (killed by
    /// the monitor), then the rest goes too.
    pub fn wait_end(&self) {
        // SAFETY: our own child.
        unsafe { libc::waitpid(self.reap, std::ptr::null_mut(), 0) };
        if let Some(r) = &self.relay {
            r.stop();
        }
    }
}

/// Gone, or a zombie (a zombie has closed its sockets).
fn has_exited(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::name_files::hosts_file;

    fn net(s: &str) -> NetworkMode {
        s.parse().unwrap()
    }

    #[test]
    fn relay_serves_loopback_tcp_and_the_udp_pasta_would_drop() {
        let map = |ip: &str, host: u16, ctr: u16, proto: &str| PortMapping {
            host_ip: ip.into(),
            host_port: host,
            container_port: ctr,
            protocol: proto.into(),
        };
        let ports = [
            map("127.0.0.1", 8080, 80, "tcp"),
            map("", 8081, 80, "tcp"),
            map("192.0.2.1", 8082, 80, "tcp"),
            map("127.0.0.1", 5353, 53, "udp"),
            map("127.0.0.1", 53, 5353, "udp"),
        ];
        let (routes, keep) = split_relay_routes(&ports);
        let served: Vec<String> = routes
            .iter()
            .map(|r| format!("{:?} {} {}", r.proto, r.host, r.container_port))
            .collect();
        assert_eq!(served, ["Tcp 127.0.0.1:8080 80", "Udp 127.0.0.1:5353 53"]);
        let kept: Vec<u16> = keep.iter().map(|p| p.host_port).collect();
        assert_eq!(kept, [8081, 8082, 53]);
    }

    #[test]
    fn host_loopback_closed_unless_asked_for() {
        let opts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let closed = pasta_setup(&[]);
        assert!(!closed.map_gw);
        assert_eq!(closed.own, Some(PASTA_OWN_ADDRESS));
        assert_eq!(
            closed.args,
            opts(&[
                "--no-map-gw",
                "-a",
                "169.254.1.2",
                "-n",
                "16",
                "-g",
                "169.254.1.1"
            ])
        );
        // podman's --map-gw is not pasta's: taken out, and nothing added.
        let open = pasta_setup(&opts(&["--map-gw", "-4"]));
        assert!(open.map_gw);
        assert_eq!((open.own, open.args), (None, opts(&["-4"])));
        // The user's addresses stay theirs; the gateway stays closed.
        let mine = pasta_setup(&opts(&["-a", "10.1.2.3"]));
        assert_eq!(mine.own, Some("10.1.2.3".parse().unwrap()));
        assert_eq!(mine.args, opts(&["--no-map-gw", "-a", "10.1.2.3"]));
        assert!(!pasta_setup(&opts(&["--map-gw", "--no-map-gw"])).map_gw);

        assert!(!slirp_setup(&[]).unwrap().allow_host_loopback);
        let s = slirp_setup(&opts(&["allow_host_loopback=true", "mtu=1500"])).unwrap();
        assert!(s.allow_host_loopback);
        assert_eq!(s.mtu, Some(1500));
        assert!(slirp_setup(&opts(&["allow_host_loopback=yes"])).is_err());
        assert!(slirp_setup(&opts(&["cidr=10.5.0.0/24"])).is_err());
        assert!(hosts_file(&net("slirp4netns:bogus"), "h", "n", &[]).is_err());
        let opened =
            hosts_file(&net("slirp4netns:allow_host_loopback=true"), "h", "n", &[]).unwrap();
        assert!(
            opened.contains("10.0.2.2\thost.containers.internal"),
            "{opened}"
        );
    }
}
