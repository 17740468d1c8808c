//! Container networking without a daemon: published ports, the helper that
//! gives a rootless network namespace its connectivity (pasta, from the
//! passt package; slirp4netns otherwise), and the name-resolution files.
//! The monitor starts the helper for its container and the helper ends
//! with the container's network namespace.

use crate::storage::modes::NetworkMode;
use anyhow::{bail, Context, Result};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::port_relay::{self, Proto, Relay, Route};
pub use crate::storage::containers::PortMapping;

fn parse_port_range(s: &str) -> Result<(u16, u16)> {
    let parse = |p: &str| -> Result<u16> {
        let n: u16 = p.parse().with_context(|| format!("invalid port {p:?}"))?;
        if n == 0 {
            bail!("invalid port 0");
        }
        Ok(n)
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                bail!("invalid port range {s:?}");
            }
            Ok((a, b))
        }
        None => {
            let p = parse(s)?;
            Ok((p, p))
        }
    }
}

/// A host port nobody uses right now, for `-p 80` and `-P`.
pub fn free_port(protocol: &str, ip: &str) -> Result<u16> {
    let addr = if ip.is_empty() { "0.0.0.0" } else { ip };
    let port = if protocol == "udp" {
        UdpSocket::bind((addr, 0))?.local_addr()?.port()
    } else {
        TcpListener::bind((addr, 0))?.local_addr()?.port()
    };
    Ok(port)
}

/// Parse `-p [ip:][hostPort:]containerPort[/tcp|udp]` (ranges allowed).
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
    let (addr_part, protocol) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if protocol != "tcp" && protocol != "udp" {
        bail!("invalid protocol {protocol:?} in {spec:?}: use tcp or udp");
    }
    // An IPv6 host address comes in brackets: [::1]:8080:80.
    let (host_ip, rest) = if let Some(r) = addr_part.strip_prefix('[') {
        let (ip, rest) = r
            .split_once(']')
            .with_context(|| format!("invalid address in {spec:?}"))?;
        (ip.to_string(), rest.trim_start_matches(':').to_string())
    } else {
        let parts: Vec<&str> = addr_part.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), addr_part.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => bail!("invalid port specification {spec:?}"),
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<std::net::IpAddr>().is_err() {
        bail!("invalid IP address {host_ip:?} in {spec:?}");
    }
    let (host, ctr) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest.as_str()),
    };
    let (c0, c1) =
        parse_port_range(ctr).with_context(|| format!("in port specification {spec:?}"))?;
    let mut out = Vec::new();
    if host.is_empty() {
        for c in c0..=c1 {
            out.push(PortMapping {
                host_port: free_port(&protocol, &host_ip)?,
                host_ip: host_ip.clone(),
                container_port: c,
                protocol: protocol.clone(),
            });
        }
        return Ok(out);
    }
    let (h0, h1) =
        parse_port_range(host).with_context(|| format!("in port specification {spec:?}"))?;
    if h1 - h0 != c1 - c0 {
        bail!("invalid port specification {spec:?}: host and container port ranges differ in size");
    }
    for i in 0..=(c1 - c0) {
        out.push(PortMapping {
            host_ip: host_ip.clone(),
            host_port: h0 + i,
            container_port: c0 + i,
            protocol: protocol.clone(),
        });
    }
    Ok(out)
}

/// The host's default IPv4 gateway: with pasta, the container reaches the
/// host's own loopback services through it (host.containers.internal).
pub fn default_gateway() -> Option<Ipv4Addr> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    for line in routes.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" {
            let g = u32::from_str_radix(f[2], 16).ok()?;
            return Some(Ipv4Addr::from(g.swap_bytes()));
        }
    }
    None
}

/// The host's address on its default route (pasta gives the container the same).
pub fn default_address() -> Option<Ipv4Addr> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks a route.
    sock.connect("198.51.100.1:9").ok()?;
    match sock.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(a) if !a.is_unspecified() => Some(a),
        _ => None,
    }
}

/// The host's IPv4 addresses other than loopback, the one on its default
/// route first (podman's "first non-loopback address").
pub fn host_addresses() -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = default_address().into_iter().collect();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below; we only read it.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return out;
    }
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null()
            // SAFETY: a non-null sockaddr from getifaddrs.
            || i32::from(unsafe { (*ifa.ifa_addr).sa_family }) != libc::AF_INET
        {
            continue;
        }
        // SAFETY: an AF_INET address is a sockaddr_in.
        let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
        let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
        if !ip.is_loopback() && !ip.is_unspecified() && !out.contains(&ip) {
            out.push(ip);
        }
    }
    // SAFETY: the list getifaddrs returned, freed once.
    unsafe { libc::freeifaddrs(list) };
    out
}

/// The address a container reaches the host at (host.containers.internal),
/// when it is not the host's loopback: the host's first address other than
/// loopback and other than the container's own.
fn host_address_except(own: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
    host_addresses().into_iter().find(|a| Some(*a) != own)
}

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
    std::env::split_paths(&path)
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
                child, ready, said, ..
            } => wait_for_pasta(child, ready, said, Some(other)),
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
    let msg: String = err
        .lines()
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

/// A container's own address and the host's, as its name files give them,
/// for its network (mode and options); the options are checked here.
fn name_addresses(network: &NetworkMode) -> Result<(String, Option<String>)> {
    let options = network.helper_options();
    Ok(match network {
        NetworkMode::Pasta(_) => {
            let setup = pasta_setup(&options);
            let own = setup.own.or_else(default_address);
            // The gateway stands for the host's loopback only with --map-gw.
            let host = if setup.map_gw {
                default_gateway()
            } else {
                host_address_except(own)
            };
            (
                own.map_or_else(|| "127.0.1.1".to_string(), |a| a.to_string()),
                host.map(|h| h.to_string()),
            )
        }
        NetworkMode::Slirp4netns(_) => {
            let setup = slirp_setup(&options)?;
            let host = if setup.allow_host_loopback {
                Some("10.0.2.2".to_string())
            } else {
                host_address_except(None).map(|a| a.to_string())
            };
            ("10.0.2.100".to_string(), host)
        }
        _ => ("127.0.1.1".to_string(), None),
    })
}

/// `/etc/hosts` for a container: localhost, its own names, the host, extras.
/// The host is `host.containers.internal` at an address that is not its
/// loopback unless the network's options open that (podman's
/// `allow_host_loopback=true`, `--map-gw`); `host-gateway` is the same.
pub fn hosts_file(
    network: &NetworkMode,
    hostname: &str,
    name: &str,
    add_hosts: &[String],
) -> Result<String> {
    if *network == NetworkMode::Host {
        return Ok(std::fs::read_to_string("/etc/hosts").unwrap_or_default());
    }
    let (own, host) = name_addresses(network)?;
    let mut out = String::from(
        "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n",
    );
    for h in add_hosts {
        let (name, ip) = h
            .split_once(':')
            .with_context(|| format!("invalid --add-host {h:?}: expected HOST:IP"))?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        if ip.parse::<std::net::IpAddr>().is_err() && ip != "host-gateway" {
            bail!("invalid IP address {ip:?} in --add-host {h:?}");
        }
        let ip = if ip == "host-gateway" {
            host.clone()
                .or_else(|| host_address_except(None).map(|a| a.to_string()))
                .unwrap_or_else(|| "127.0.0.1".into())
        } else {
            ip.to_string()
        };
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    out.push_str(&format!("{own}\t{hostname} {name}\n"));
    if let Some(h) = host {
        out.push_str(&format!(
            "{h}\thost.containers.internal host.docker.internal\n"
        ));
    }
    Ok(out)
}

/// The container whose network namespace `cfg` joins, if any.
fn network_owner(cfg: &crate::storage::containers::ContainerConfig) -> Option<&str> {
    cfg.network.container()
}

/// The line a joining container adds to the shared /etc/hosts.
fn name_entry(name: &str) -> String {
    format!("127.0.0.1\t{name}\n")
}

/// Rewrite a file in place: containers bind-mount it, so its inode must
/// stay the same for them to see the change.
fn rewrite_in_place(path: &Path, edit: impl FnOnce(&str) -> String) -> Result<()> {
    use std::io::Write;
    let text = std::fs::read_to_string(path)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(edit(&text).as_bytes())?;
    Ok(())
}

/// A container in another's network namespace (a pod member) sees that
/// container's /etc/hosts and /etc/resolv.conf (the same files, hard
/// linked), and its own name is added to the hosts file everyone shares.
/// Call with the store lock held.
pub fn share_name_files(
    store: &crate::storage::store::Store,
    cfg: &crate::storage::containers::ContainerConfig,
) -> Result<()> {
    let Some(owner) = network_owner(cfg) else {
        return Ok(());
    };
    let ours = store.containers.dir(&cfg.id).join("userdata");
    let theirs = store.containers.dir(owner).join("userdata");
    for file in ["hosts", "resolv.conf"] {
        let _ = std::fs::remove_file(ours.join(file));
        if std::fs::hard_link(theirs.join(file), ours.join(file)).is_err() {
            std::fs::copy(theirs.join(file), ours.join(file))
                .with_context(|| format!("sharing /etc/{file} of container {owner}"))?;
        }
    }
    let entry = name_entry(&cfg.name);
    rewrite_in_place(&ours.join("hosts"), |text| {
        let mut text = text.to_string();
        if !text.lines().any(|l| format!("{l}\n") == entry) {
            text.push_str(&entry);
        }
        text
    })
    .context("adding the container's name to the shared /etc/hosts")
}

/// Take a removed container's name out of the /etc/hosts it shared.
/// Call with the store lock held.
pub fn forget_name_entry(store: &crate::storage::store::Store, id: &str) {
    let Ok(cfg) = store.containers.load_config(id) else {
        return;
    };
    if network_owner(&cfg).is_none() {
        return;
    }
    let entry = name_entry(&cfg.name);
    let hosts = store.containers.dir(id).join("userdata/hosts");
    let _ = rewrite_in_place(&hosts, |text| {
        text.lines()
            .map(|l| format!("{l}\n"))
            .filter(|l| *l != entry)
            .collect()
    });
}

/// `/etc/resolv.conf`: the host's, without resolvers the container cannot
/// reach, with the user's `--dns*` settings replacing the host's.
pub fn resolv_conf(
    network: &NetworkMode,
    dns: &[String],
    search: &[String],
    options: &[String],
) -> Result<String> {
    for d in dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            bail!("invalid --dns address {d:?}");
        }
    }
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut servers: Vec<String> = Vec::new();
    let mut searches: Vec<String> = Vec::new();
    let mut opts: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("nameserver") => {
                if let Some(s) = f.next() {
                    let loopback = s.starts_with("127.") || s == "::1";
                    if *network == NetworkMode::Host || !loopback {
                        servers.push(s.to_string());
                    }
                }
            }
            Some("search") | Some("domain") => searches.extend(f.map(str::to_string)),
            Some("options") => opts.extend(f.map(str::to_string)),
            _ => {}
        }
    }
    if servers.is_empty() && matches!(network, NetworkMode::Slirp4netns(_)) {
        servers.push("10.0.2.3".into());
    }
    if !dns.is_empty() {
        servers = dns.to_vec();
    }
    if !search.is_empty() {
        searches = if search == ["."] {
            Vec::new()
        } else {
            search.to_vec()
        };
    }
    if !options.is_empty() {
        opts = options.to_vec();
    }
    let mut out = String::new();
    if !searches.is_empty() {
        out.push_str(&format!("search {}\n", searches.join(" ")));
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !opts.is_empty() {
        out.push_str(&format!("options {}\n", opts.join(" ")));
    }
    Ok(out)
}

/// A port published on a host loopback address only (`-p 127.0.0.1:H:C`).
fn published_on_loopback_only(p: &crate::storage::containers::PortMapping) -> bool {
    p.host_ip
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> NetworkMode {
        s.parse().unwrap()
    }

    #[test]
    fn publish_specs() {
        let p = parse_publish("8080:80").unwrap();
        assert_eq!(p[0].host_port, 8080);
        assert_eq!(p[0].container_port, 80);
        assert_eq!(p[0].protocol, "tcp");
        let p = parse_publish("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(
            (p[0].host_ip.as_str(), p[0].protocol.as_str()),
            ("127.0.0.1", "udp")
        );
        let p = parse_publish("127.0.0.1::80").unwrap();
        assert!(p[0].host_port > 0);
        let p = parse_publish("8000-8002:80-82").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!((p[2].host_port, p[2].container_port), (8002, 82));
        assert!(parse_publish("8000-8002:80").is_err());
        assert!(parse_publish("80/sctp").is_err());
        assert!(parse_publish("nope:80:80").is_err());
        assert_eq!(
            parse_publish("8080:80").unwrap()[0].display(),
            "0.0.0.0:8080->80/tcp"
        );
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
    fn helper_options_do_not_change_the_name_files() {
        let plain = hosts_file(&net("slirp4netns"), "h", "n", &[]).unwrap();
        let with_options = hosts_file(&net("slirp4netns:mtu=1500"), "h", "n", &[]).unwrap();
        assert_eq!(plain, with_options);
        // The host's loopback stays closed: 10.0.2.2 is not the host here.
        assert!(!with_options.contains("10.0.2.2"), "{with_options}");
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

    #[test]
    fn resolv_replaces_with_flags() {
        let r = resolv_conf(
            &net("pasta"),
            &["1.1.1.1".into()],
            &["corp".into()],
            &["ndots:2".into()],
        )
        .unwrap();
        assert!(r.contains("nameserver 1.1.1.1\n"));
        assert!(r.contains("search corp\n"));
        assert!(r.contains("options ndots:2\n"));
        assert!(resolv_conf(&net("pasta"), &["x".into()], &[], &[]).is_err());
    }
}
