//! The OCI runtime spec of a container, built from its image config and the
//! user's flags, and kept in the container's directory. The runtime reads
//! only this spec (plus where the rootfs layers are) to start a process.

use super::caps;
use super::seccomp;
use super::user::ResolvedUser;
use super::userns::IdMaps;
use crate::storage::containers::ContainerConfig;
use crate::storage::modes::{NamespaceMode, NetworkMode};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    Capabilities, Capability, LinuxBlockIoBuilder, LinuxBuilder, LinuxCapabilities,
    LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxIdMapping, LinuxIdMappingBuilder,
    LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder, LinuxSeccomp, Mount, MountBuilder,
    PosixRlimit, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec,
    SpecBuilder, UserBuilder,
};
use std::path::{Path, PathBuf};

/// podman's masked paths: hidden behind /dev/null or an empty read-only tmpfs.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];

/// podman's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The annotation that keeps the caller's supplementary groups.
pub const KEEP_GROUPS: &str = "run.oci.keep_original_groups";

/// Where the host keeps its time zones (`--tz`).
pub const ZONEINFO: &str = "/usr/share/zoneinfo";

pub struct SpecInput<'a> {
    pub cfg: &'a ContainerConfig,
    pub user: &'a ResolvedUser,
    pub rootless: bool,
    pub id_maps: &'a IdMaps,
    /// Where the container's root filesystem is mounted before pivot_root.
    pub rootfs: PathBuf,
    /// The container's generated files (hosts, hostname, resolv.conf...).
    pub userdata: PathBuf,
}

/// An rlimit as the user asked for it (`--ulimit nofile=1024:2048`).
pub fn parse_ulimit(s: &str) -> Result<(String, u64, u64)> {
    let (name, values) = s
        .split_once('=')
        .with_context(|| format!("invalid ulimit {s:?}: expected name=soft[:hard]"))?;
    let key = format!("RLIMIT_{}", name.to_ascii_uppercase());
    const KNOWN: &[&str] = &[
        "RLIMIT_CORE",
        "RLIMIT_CPU",
        "RLIMIT_DATA",
        "RLIMIT_FSIZE",
        "RLIMIT_LOCKS",
        "RLIMIT_MEMLOCK",
        "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE",
        "RLIMIT_NOFILE",
        "RLIMIT_NPROC",
        "RLIMIT_RSS",
        "RLIMIT_RTPRIO",
        "RLIMIT_RTTIME",
        "RLIMIT_SIGPENDING",
        "RLIMIT_STACK",
        "RLIMIT_AS",
    ];
    if !KNOWN.contains(&key.as_str()) {
        bail!("invalid ulimit type {name:?}");
    }
    let parse = |v: &str| -> Result<u64> {
        if v == "-1" || v == "unlimited" {
            return Ok(u64::MAX);
        }
        v.parse::<u64>()
            .with_context(|| format!("invalid ulimit value {v:?} in {s:?}"))
    };
    let (soft, hard) = match values.split_once(':') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let v = parse(values)?;
            (v, v)
        }
    };
    if soft > hard {
        bail!("invalid ulimit {s:?}: soft limit {soft} is above hard limit {hard}");
    }
    Ok((key, soft, hard))
}

fn mount(dest: &str, typ: &str, source: impl Into<PathBuf>, options: &[&str]) -> Result<Mount> {
    Ok(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source.into())
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()?)
}

fn default_mounts(input: &SpecInput) -> Result<Vec<Mount>> {
    // A user namespace may mount proc (mqueue) only for a pid (ipc)
    // namespace it owns: rootless with the host's, bind the host's.
    let host_bind = |mode: &NamespaceMode| input.rootless && mode.is_host();
    let mut m = vec![
        if host_bind(&input.cfg.pid) {
            mount(
                "/proc",
                "bind",
                "/proc",
                &["rbind", "nosuid", "noexec", "nodev"],
            )?
        } else {
            mount("/proc", "proc", "proc", &proc_options(input.cfg))?
        },
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
    ];
    // A devpts gid option is only valid when gid 5 is mapped.
    let devpts_gid = input.id_maps.host_gid(5).is_some();
    let mut pts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if devpts_gid {
        pts.push("gid=5");
    }
    m.push(mount("/dev/pts", "devpts", "devpts", &pts)?);
    if host_bind(&input.cfg.ipc) {
        // Without the host's mqueue mounted there is nothing to show.
        if std::path::Path::new("/dev/mqueue").is_dir() {
            m.push(mount(
                "/dev/mqueue",
                "bind",
                "/dev/mqueue",
                &["rbind", "nosuid", "noexec", "nodev"],
            )?);
        }
    } else {
        m.push(mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?);
    }
    // `--shm-size`: 0 is no limit (the tmpfs default, half of RAM).
    let shm_size = match input.cfg.tuning.shm_size {
        None => Some("size=65536k".to_string()),
        Some(0) => None,
        Some(n) => Some(format!("size={n}")),
    };
    let mut shm = vec!["nosuid", "noexec", "nodev", "mode=1777"];
    shm.extend(shm_size.as_deref());
    m.push(mount("/dev/shm", "tmpfs", "shm", &shm)?);
    if input.cfg.network == NetworkMode::Host && input.rootless {
        // A user namespace that does not own the network namespace may not
        // mount sysfs: show the host's, read-only.
        m.push(mount(
            "/sys",
            "bind",
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        )?);
    } else {
        m.push(mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?);
    }
    Ok(m)
}

/// Mounts from `-v`, `--mount`, `--tmpfs`, and the generated /etc files.
fn user_mounts(input: &SpecInput) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    let ud = &input.userdata;
    let etc_files = [
        ("/etc/hosts", ud.join("hosts")),
        ("/etc/hostname", ud.join("hostname")),
        ("/etc/resolv.conf", ud.join("resolv.conf")),
        ("/run/.containerenv", ud.join(".containerenv")),
    ];
    let user_dests: Vec<&str> = input
        .cfg
        .mounts
        .iter()
        .chain(input.cfg.tmpfs.iter())
        .map(|m| m.destination.as_str())
        .collect();
    for (dest, src) in etc_files {
        if dest == "/etc/hostname" && input.cfg.tuning.no_hostname {
            continue;
        }
        // A user's own mount of the same path wins; --no-hosts keeps the
        // image's.
        let kept_from_image = dest == "/etc/hosts" && input.cfg.no_hosts;
        if !user_dests.contains(&dest) && !kept_from_image {
            out.push(mount(dest, "bind", &src, &["bind", "rprivate"])?);
        }
        // `--chrootdirs`: the /etc files, again under each chroot.
        if dest.starts_with("/etc/") {
            for dir in &input.cfg.tuning.chroot_dirs {
                out.push(mount(
                    &format!("{dir}{dest}"),
                    "bind",
                    &src,
                    &["bind", "rprivate"],
                )?);
            }
        }
    }
    // Entries added for --user/--hostuser (runtime/passwd.rs).
    for (dest, name) in [("/etc/passwd", "passwd"), ("/etc/group", "group")] {
        let src = ud.join(name);
        if src.exists() && !user_dests.contains(&dest) {
            out.push(mount(dest, "bind", src, &["bind", "rprivate"])?);
        }
    }
    let tz = &input.cfg.tuning.timezone;
    if !tz.is_empty() && !user_dests.contains(&"/etc/localtime") {
        let zone = if tz == "local" {
            PathBuf::from("/etc/localtime")
        } else {
            Path::new(ZONEINFO).join(tz)
        };
        // The zone file itself: a symlink would point outside the rootfs.
        let zone = std::fs::canonicalize(&zone).unwrap_or(zone);
        out.push(mount(
            "/etc/localtime",
            "bind",
            zone,
            &["bind", "ro", "rprivate"],
        )?);
    }
    // podman's --read-only keeps the usual scratch places writable.
    if input.cfg.read_only
        && !input
            .cfg
            .security_opt
            .iter()
            .any(|o| o == "read-only-tmpfs=false")
    {
        for dest in ["/tmp", "/var/tmp", "/run"] {
            if !user_dests.contains(&dest) {
                out.push(mount(
                    dest,
                    "tmpfs",
                    "tmpfs",
                    &[
                        "rw",
                        "rprivate",
                        "nosuid",
                        "nodev",
                        "mode=1777",
                        "size=65536k",
                    ],
                )?);
            }
        }
    }
    for t in &input.cfg.tmpfs {
        let mut opts = vec!["nosuid".to_string(), "nodev".to_string()];
        opts.extend(t.options.iter().cloned());
        if !opts.iter().any(|o| o.starts_with("mode=")) {
            opts.push("mode=1777".into());
        }
        out.push(
            MountBuilder::default()
                .destination(&t.destination)
                .typ("tmpfs")
                .source("tmpfs")
                .options(opts)
                .build()?,
        );
    }
    for b in &input.cfg.mounts {
        let mut opts: Vec<String> = vec!["rbind".into()];
        for o in &b.options {
            match o.as_str() {
                "z" | "Z" | "rbind" | "bind" => {}
                other => opts.push(other.to_string()),
            }
        }
        if !opts
            .iter()
            .any(|o| o.ends_with("private") || o.ends_with("shared") || o.ends_with("slave"))
        {
            opts.push("rprivate".into());
        }
        out.push(
            MountBuilder::default()
                .destination(&b.destination)
                .typ("bind")
                .source(&b.source)
                .options(opts)
                .build()?,
        );
    }
    // Parents before children (a tmpfs on /run must not hide the
    // .containerenv mounted inside it); the sort is stable otherwise.
    out.sort_by_key(|m| {
        m.destination()
            .to_string_lossy()
            .split('/')
            .filter(|c| !c.is_empty())
            .count()
    });
    Ok(out)
}

/// The kernel's files kept from the container: podman's masked and
/// read-only paths (none when privileged) less those `--security-opt
/// unmask=` names (Go `filepath.Match` patterns, or ALL, which
/// `systempaths=unconfined` means too), plus every `mask=` path.
fn system_paths(cfg: &ContainerConfig) -> (Vec<String>, Vec<String>) {
    let mut unmask = Vec::new();
    let mut mask = Vec::new();
    for opt in &cfg.security_opt {
        match opt.split_once(['=', ':']) {
            Some(("unmask", v)) => unmask.extend(v.split(':')),
            Some(("systempaths", "unconfined")) => unmask.push("ALL"),
            Some(("mask", v)) => mask.extend(v.split(':').filter(|p| !p.is_empty())),
            _ => {}
        }
    }
    let kept = |path: &str| {
        !unmask.iter().any(|u| {
            u.eq_ignore_ascii_case("all")
                || crate::format::glob::Glob::new(u).is_ok_and(|g| g.matches(path))
        })
    };
    let defaults = |list: &[&str]| -> Vec<String> {
        if cfg.privileged {
            return Vec::new();
        }
        list.iter()
            .filter(|p| kept(p))
            .map(|p| p.to_string())
            .collect()
    };
    let mut masked = defaults(MASKED_PATHS);
    masked.extend(mask.iter().map(|p| p.to_string()));
    (masked, defaults(READONLY_PATHS))
}

/// `--security-opt proc-opts=`: more options for the /proc mount.
fn proc_options(cfg: &ContainerConfig) -> Vec<&str> {
    let mut opts = vec!["nosuid", "noexec", "nodev"];
    for opt in &cfg.security_opt {
        if let Some(("proc-opts", v)) = opt.split_once(['=', ':']) {
            opts.extend(v.split(',').filter(|o| !o.is_empty()));
        }
    }
    opts
}

fn id_mappings(maps: &[super::userns::IdMapping]) -> Result<Vec<LinuxIdMapping>> {
    maps.iter()
        .map(|m| {
            Ok(LinuxIdMappingBuilder::default()
                .container_id(m.container_id)
                .host_id(m.host_id)
                .size(m.size)
                .build()?)
        })
        .collect()
}

/// The seccomp section: the image's profile (`--seccomp-policy=image`),
/// else that of `--security-opt seccomp=PATH`, else the default one (podman's allowlist), resolved for the container's
/// capabilities; none when unconfined or privileged. A profile is read
/// here, at create: a bad one fails the create, and the spec keeps what
/// was read.
fn seccomp(cfg: &ContainerConfig, caps: &[String]) -> Result<Option<LinuxSeccomp>> {
    let mut unconfined = cfg.privileged;
    let mut path = None;
    for opt in &cfg.security_opt {
        match opt.split_once(['=', ':']) {
            Some(("seccomp", "unconfined")) => unconfined = true,
            Some(("seccomp", p)) => path = Some(p),
            _ => {}
        }
    }
    if unconfined {
        return Ok(None);
    }
    let profile = match (&cfg.seccomp_image_profile, path) {
        (Some(image), _) => {
            seccomp::Profile::parse(image.as_bytes(), "io.containers.seccomp.profile")?
        }
        (None, Some(p)) => {
            let data = std::fs::read(p).with_context(|| format!("reading seccomp profile {p}"))?;
            seccomp::Profile::parse(&data, p)?
        }
        (None, None) => super::seccomp_default::profile(),
    };
    Ok(Some(profile.resolve(caps)?))
}

fn no_new_privileges(cfg: &ContainerConfig) -> bool {
    !cfg.security_opt
        .iter()
        .any(|o| o == "no-new-privileges=false")
}

/// A value of an OCI enum by its name in the spec (`CAP_CHOWN`,
/// `RLIMIT_NOFILE`): the spec's own spelling, without a table of ours.
fn oci_name<T: serde::de::DeserializeOwned>(what: &str, name: &str) -> Result<T> {
    use serde::de::{value::Error, value::StrDeserializer};
    T::deserialize(StrDeserializer::<Error>::new(name))
        .map_err(|_| anyhow::anyhow!("unknown {what} {name:?}"))
}

/// Capability names as the spec's set.
pub fn capabilities(names: &[String]) -> Result<Capabilities> {
    names
        .iter()
        .map(|n| oci_name::<Capability>("capability", n))
        .collect()
}

fn rlimit(typ: PosixRlimitType, soft: u64, hard: u64) -> Result<PosixRlimit> {
    Ok(PosixRlimitBuilder::default()
        .typ(typ)
        .soft(soft)
        .hard(hard)
        .build()?)
}

fn namespace(typ: LinuxNamespaceType) -> Result<LinuxNamespace> {
    Ok(LinuxNamespaceBuilder::default().typ(typ).build()?)
}

/// The process's capability sets: the bounding set, and effective and
/// permitted only for root.
pub fn process_capabilities(bounding: &Capabilities, is_root: bool) -> Result<LinuxCapabilities> {
    let effective = if is_root {
        bounding.clone()
    } else {
        Capabilities::new()
    };
    Ok(LinuxCapabilitiesBuilder::default()
        .bounding(bounding.clone())
        .effective(effective.clone())
        .inheritable(Capabilities::new())
        .permitted(effective)
        .ambient(Capabilities::new())
        .build()?)
}

pub fn build(input: &SpecInput) -> Result<Spec> {
    let cfg = input.cfg;
    let caps = caps::effective_set(cfg.privileged, &cfg.cap_add, &cfg.cap_drop)?;
    let is_root = input.user.uid == 0;
    let mut env = cfg.env.clone();
    let adds = |name: &str| cfg.tuning.adds_default_env(name);
    if adds("PATH") && !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    if adds("HOME") && !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", input.user.home));
    }
    if adds("HOSTNAME") && !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", cfg.hostname));
    }
    if adds("container") && !env.iter().any(|e| e.starts_with("container=")) {
        env.push("container=coracle".into());
    }
    if cfg.tty && adds("TERM") && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let mut rlimits: Vec<PosixRlimit> = cfg
        .ulimits
        .iter()
        .map(|u| {
            let (name, soft, hard) = parse_ulimit(u)?;
            rlimit(oci_name("ulimit", &name)?, soft, hard)
        })
        .collect::<Result<_>>()?;
    // podman's defaults, lowered to what this caller may set (hosts without
    // CAP_SYS_RESOURCE cannot raise a hard limit); the user's own win.
    for (typ, resource, want) in [
        (
            PosixRlimitType::RlimitNofile,
            libc::RLIMIT_NOFILE,
            1_048_576u64,
        ),
        (
            PosixRlimitType::RlimitNproc,
            libc::RLIMIT_NPROC,
            4_194_304u64,
        ),
    ] {
        if !rlimits.iter().any(|r| r.typ() == typ) {
            let v = want.min(current_hard_limit(resource));
            rlimits.push(rlimit(typ, v, v)?);
        }
    }
    let mut namespaces = Vec::new();
    // `--pid/--ipc/--uts host` stay in the host's namespace.
    for (typ, mode) in [
        (LinuxNamespaceType::Pid, &cfg.pid),
        (LinuxNamespaceType::Ipc, &cfg.ipc),
        (LinuxNamespaceType::Uts, &cfg.uts),
    ] {
        if !mode.is_host() {
            namespaces.push(namespace(typ)?);
        }
    }
    namespaces.push(namespace(LinuxNamespaceType::Mount)?);
    if cfg.tuning.cgroupns != "host" {
        namespaces.push(namespace(LinuxNamespaceType::Cgroup)?);
    }
    if cfg.network != NetworkMode::Host {
        namespaces.push(namespace(LinuxNamespaceType::Network)?);
    }
    if input.rootless {
        namespaces.push(namespace(LinuxNamespaceType::User)?);
    }
    let mut mounts = default_mounts(input)?;
    mounts.extend(user_mounts(input)?);
    mounts.extend(super::devices::bind_mounts(&cfg.tuning, input.rootless)?);
    let (masked, readonly) = system_paths(cfg);
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(masked)
        .readonly_paths(readonly);
    if input.rootless {
        linux = linux
            .uid_mappings(id_mappings(&input.id_maps.uids)?)
            .gid_mappings(id_mappings(&input.id_maps.gids)?);
    }
    if let Some(s) = seccomp(cfg, &caps)? {
        linux = linux.seccomp(s);
    }
    linux = super::devices::add_to_spec(linux, &cfg.tuning, input.rootless)?;
    let mut linux = linux.build()?;
    // Linux's defaults hold an empty device list: only limits go here.
    linux.set_resources(resources(&cfg.resources)?);
    let user = UserBuilder::default()
        .uid(input.user.uid)
        .gid(input.user.gid)
        .additional_gids(input.user.additional_gids.clone())
        .umask(cfg.tuning.umask_bits())
        .build()?;
    let mut process = ProcessBuilder::default()
        .terminal(cfg.tty)
        .user(user)
        .args(cfg.args.clone())
        .env(env)
        .cwd(if cfg.workdir.is_empty() {
            "/"
        } else {
            cfg.workdir.as_str()
        })
        .capabilities(process_capabilities(&capabilities(&caps)?, is_root)?)
        .rlimits(rlimits)
        .no_new_privileges(no_new_privileges(cfg));
    if let Some(adj) = cfg.resources.oom_score_adj {
        process = process.oom_score_adj(adj);
    }
    let root = RootBuilder::default()
        .path(&input.rootfs)
        .readonly(cfg.read_only)
        .build()?;
    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .process(process.build()?)
        .root(root)
        .hostname(cfg.hostname.clone())
        .mounts(mounts)
        .linux(linux)
        .annotations({
            let mut a = cfg
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::HashMap<_, _>>();
            if cfg.tuning.keeps_groups() {
                // crun's spelling: the process keeps the caller's groups.
                a.insert(KEEP_GROUPS.to_string(), "1".to_string());
            }
            a
        })
        .build()?;
    let has_binds = cfg
        .mounts
        .iter()
        .any(|m| m.kind == crate::storage::containers::MountKind::Bind);
    spec.set_hooks(super::hooks::for_container(&spec, has_binds)?);
    Ok(spec)
}

/// The OCI `linux.resources` of the limits (the monitor applies them from
/// the container's config; the spec records them for OCI tools).
pub fn resources(r: &crate::storage::containers::Resources) -> Result<Option<LinuxResources>> {
    let mut out = LinuxResourcesBuilder::default();
    let mut any = false;
    if r.memory > 0 || r.memory_swap != 0 || r.memory_reservation > 0 {
        let mut memory = LinuxMemoryBuilder::default();
        if r.memory > 0 {
            memory = memory.limit(r.memory);
        }
        if r.memory_swap != 0 {
            memory = memory.swap(r.memory_swap);
        }
        if r.memory_reservation > 0 {
            memory = memory.reservation(r.memory_reservation);
        }
        out = out.memory(memory.build()?);
        any = true;
    }
    let cpu_max = super::cgroup::cpu_max(r);
    let mut out_cpu: Option<oci_spec::runtime::LinuxCpu> = None;
    if cpu_max.is_some()
        || r.cpu_shares > 0
        || !r.cpuset_cpus.is_empty()
        || !r.cpuset_mems.is_empty()
    {
        let mut cpu = LinuxCpuBuilder::default();
        if let Some((quota, period)) = cpu_max {
            cpu = cpu.quota(quota).period(period);
        }
        if r.cpu_shares > 0 {
            cpu = cpu.shares(r.cpu_shares);
        }
        if !r.cpuset_cpus.is_empty() {
            cpu = cpu.cpus(r.cpuset_cpus.clone());
        }
        if !r.cpuset_mems.is_empty() {
            cpu = cpu.mems(r.cpuset_mems.clone());
        }
        out_cpu = Some(cpu.build()?);
    }
    if r.pids_limit > 0 {
        out = out.pids(LinuxPidsBuilder::default().limit(r.pids_limit).build()?);
        any = true;
    }
    if r.cpu_rt_period > 0 || r.cpu_rt_runtime != 0 {
        let mut cpu = out_cpu.unwrap_or_default();
        if r.cpu_rt_period > 0 {
            cpu.set_realtime_period(Some(r.cpu_rt_period));
        }
        if r.cpu_rt_runtime != 0 {
            cpu.set_realtime_runtime(Some(r.cpu_rt_runtime));
        }
        out_cpu = Some(cpu);
    }
    if let Some(cpu) = out_cpu {
        out = out.cpu(cpu);
        any = true;
    }
    if r.blkio_weight > 0 || !r.blkio_weight_device.is_empty() || has_rates(r) {
        out = out.block_io(block_io(r)?);
        any = true;
    }
    if !r.device_cgroup_rules.is_empty() {
        out = out.devices(
            r.device_cgroup_rules
                .iter()
                .map(|rule| device_cgroup(rule))
                .collect::<Result<Vec<_>>>()?,
        );
        any = true;
    }
    if !r.cgroup_conf.is_empty() {
        out = out.unified(
            r.cgroup_conf
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::HashMap<_, _>>(),
        );
        any = true;
    }
    Ok(if any { Some(out.build()?) } else { None })
}

/// After `update`: the process's environment and rlimits follow the
/// record's changes (variables removed or set, rlimits named again); the
/// defaults the spec added stay.
pub fn refresh_process(
    spec: &mut Spec,
    old: &ContainerConfig,
    new: &ContainerConfig,
) -> Result<()> {
    let Some(process) = spec.process_mut() else {
        return Ok(());
    };
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    let mut env = process.env().clone().unwrap_or_default();
    for gone in old.env.iter().map(|e| key(e)) {
        if !new.env.iter().any(|e| key(e) == gone) {
            env.retain(|e| key(e) != gone);
        }
    }
    for set in new.env.iter().filter(|e| !old.env.contains(e)) {
        let k = key(set);
        env.retain(|e| key(e) != k);
        env.push(set.clone());
    }
    process.set_env(Some(env));
    let mut rlimits = process.rlimits().clone().unwrap_or_default();
    for u in new.ulimits.iter().filter(|u| !old.ulimits.contains(u)) {
        let (name, soft, hard) = parse_ulimit(u)?;
        let limit = rlimit(oci_name("ulimit", &name)?, soft, hard)?;
        rlimits.retain(|r| r.typ() != limit.typ());
        rlimits.push(limit);
    }
    process.set_rlimits(Some(rlimits));
    Ok(())
}

fn has_rates(r: &crate::storage::containers::Resources) -> bool {
    !(r.device_read_bps.is_empty()
        && r.device_write_bps.is_empty()
        && r.device_read_iops.is_empty()
        && r.device_write_iops.is_empty())
}

/// The block I/O section: the weights and the per-device rates.
fn block_io(r: &crate::storage::containers::Resources) -> Result<oci_spec::runtime::LinuxBlockIo> {
    use oci_spec::runtime::{LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder};
    let throttle = |rates: &[crate::storage::containers::DeviceRate]| -> Result<Vec<_>> {
        rates
            .iter()
            .map(|d| {
                Ok(LinuxThrottleDeviceBuilder::default()
                    .major(d.major as i64)
                    .minor(d.minor as i64)
                    .rate(d.rate)
                    .build()?)
            })
            .collect()
    };
    let mut b = LinuxBlockIoBuilder::default();
    if r.blkio_weight > 0 {
        b = b.weight(r.blkio_weight);
    }
    if !r.blkio_weight_device.is_empty() {
        b = b.weight_device(
            r.blkio_weight_device
                .iter()
                .map(|d| {
                    Ok(LinuxWeightDeviceBuilder::default()
                        .major(d.major as i64)
                        .minor(d.minor as i64)
                        .weight(d.rate as u16)
                        .build()?)
                })
                .collect::<Result<Vec<_>>>()?,
        );
    }
    Ok(b.throttle_read_bps_device(throttle(&r.device_read_bps)?)
        .throttle_write_bps_device(throttle(&r.device_write_bps)?)
        .throttle_read_iops_device(throttle(&r.device_read_iops)?)
        .throttle_write_iops_device(throttle(&r.device_write_iops)?)
        .build()?)
}

/// A `--device-cgroup-rule` (checked at create) as the spec's allow entry.
fn device_cgroup(rule: &str) -> Result<oci_spec::runtime::LinuxDeviceCgroup> {
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};
    let mut parts = rule.split(' ');
    let (kind, numbers, access) = (
        parts.next().unwrap_or("a"),
        parts.next().unwrap_or("*:*"),
        parts.next().unwrap_or("rwm"),
    );
    let (major, minor) = numbers.split_once(':').unwrap_or(("*", "*"));
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(match kind {
            "b" => LinuxDeviceType::B,
            "c" => LinuxDeviceType::C,
            _ => LinuxDeviceType::A,
        })
        .access(access.to_string());
    if let Ok(n) = major.parse::<i64>() {
        b = b.major(n);
    }
    if let Ok(n) = minor.parse::<i64>() {
        b = b.minor(n);
    }
    Ok(b.build()?)
}

fn current_hard_limit(resource: libc::__rlimit_resource_t) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(resource, &mut lim) } != 0 {
        return 0;
    }
    lim.rlim_max
}

/// The id maps a spec asks for (identity when it has none).
pub fn id_maps(spec: &Spec) -> IdMaps {
    let conv = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Option<Vec<super::userns::IdMapping>> {
        m.as_ref().map(|v| {
            v.iter()
                .map(|x| super::userns::IdMapping {
                    container_id: x.container_id(),
                    host_id: x.host_id(),
                    size: x.size(),
                })
                .collect()
        })
    };
    let linux = spec.linux().as_ref();
    match (
        linux.and_then(|l| conv(l.uid_mappings())),
        linux.and_then(|l| conv(l.gid_mappings())),
    ) {
        (Some(uids), Some(gids)) => IdMaps { uids, gids },
        _ => IdMaps::identity(),
    }
}

/// Container-mode `--sdnotify` under a notify unit: the monitor's socket
/// directory bound at /run/notify, and `NOTIFY_SOCKET` naming it.
pub fn add_notify_socket(spec: &mut Spec, dir: &Path) -> Result<()> {
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(
        MountBuilder::default()
            .destination(super::sdnotify::CONTAINER_DIR)
            .typ("bind")
            .source(dir)
            .options(vec!["bind".to_string(), "rw".to_string()])
            .build()?,
    );
    spec.set_mounts(Some(mounts));
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        env.push(format!(
            "NOTIFY_SOCKET={}",
            super::sdnotify::CONTAINER_SOCKET
        ));
        p.set_env(Some(env));
    }
    Ok(())
}

pub fn save(spec: &Spec, path: &Path) -> Result<()> {
    crate::storage::atomic::write_json(path, spec, false)
}

pub fn load(path: &Path) -> Result<Spec> {
    crate::storage::atomic::read_json(path)?
        .with_context(|| format!("no runtime spec at {}", path.display()))
}
