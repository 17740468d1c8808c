//! The OCI runtime spec of a container, built from its image config and the
//! user's flags, and kept in the container's directory. The runtime reads
//! only this spec (plus where the rootfs layers are) to start a process.

use super::caps;
use super::seccomp;
use super::user::ResolvedUser;
use super::userns::IdMaps;
use crate::storage::containers::ContainerConfig;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use serde_json::{json, Value};
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

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": typ, "source": source, "options": options})
}

fn default_mounts(input: &SpecInput) -> Vec<Value> {
    // A user namespace may mount proc (mqueue) only for a pid (ipc)
    // namespace it owns: rootless with the host's, bind the host's.
    let host_bind = |mode: &str| input.rootless && mode == "host";
    let mut m = vec![
        if host_bind(&input.cfg.pid) {
            mount(
                "/proc",
                "bind",
                "/proc",
                &["rbind", "nosuid", "noexec", "nodev"],
            )
        } else {
            mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])
        },
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
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
    m.push(mount("/dev/pts", "devpts", "devpts", &pts));
    if host_bind(&input.cfg.ipc) {
        // Without the host's mqueue mounted there is nothing to show.
        if std::path::Path::new("/dev/mqueue").is_dir() {
            m.push(mount(
                "/dev/mqueue",
                "bind",
                "/dev/mqueue",
                &["rbind", "nosuid", "noexec", "nodev"],
            ));
        }
    } else {
        m.push(mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ));
    }
    m.push(mount(
        "/dev/shm",
        "tmpfs",
        "shm",
        &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    ));
    if input.cfg.network == "host" && input.rootless {
        // A user namespace that does not own the network namespace may not
        // mount sysfs: show the host's, read-only.
        m.push(mount(
            "/sys",
            "bind",
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        ));
    } else {
        m.push(mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ));
    }
    m
}

/// Mounts from `-v`, `--mount`, `--tmpfs`, and the generated /etc files.
fn user_mounts(input: &SpecInput) -> Result<Vec<Value>> {
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
        // A user's own mount of the same path wins.
        if !user_dests.contains(&dest) {
            out.push(json!({"destination": dest, "type": "bind", "source": src, "options": ["bind", "rprivate"]}));
        }
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
                out.push(
                    json!({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                    "options": ["rw", "rprivate", "nosuid", "nodev", "mode=1777", "size=65536k"]}),
                );
            }
        }
    }
    for t in &input.cfg.tmpfs {
        let mut opts = vec!["nosuid".to_string(), "nodev".to_string()];
        opts.extend(t.options.iter().cloned());
        if !opts.iter().any(|o| o.starts_with("mode=")) {
            opts.push("mode=1777".into());
        }
        out.push(json!({"destination": t.destination, "type": "tmpfs", "source": "tmpfs", "options": opts}));
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
        out.push(json!({"destination": b.destination, "type": "bind", "source": b.source, "options": opts}));
    }
    // Parents before children (a tmpfs on /run must not hide the
    // .containerenv mounted inside it); the sort is stable otherwise.
    out.sort_by_key(|m| {
        m["destination"]
            .as_str()
            .map(|d| d.split('/').filter(|c| !c.is_empty()).count())
            .unwrap_or(0)
    });
    Ok(out)
}

fn id_maps_json(maps: &[super::userns::IdMapping]) -> Value {
    Value::Array(
        maps.iter()
            .map(|m| json!({"containerID": m.container_id, "hostID": m.host_id, "size": m.size}))
            .collect(),
    )
}

/// The seccomp section: podman's default refusals, or none when unconfined.
fn seccomp_json(cfg: &ContainerConfig, caps: &[String]) -> Result<Option<Value>> {
    let mut unconfined = cfg.privileged;
    for opt in &cfg.security_opt {
        match opt.split_once(['=', ':']) {
            Some(("seccomp", "unconfined")) => unconfined = true,
            Some(("seccomp", path)) => {
                bail!("--security-opt seccomp={path}: custom seccomp profiles are not supported yet; use the default or unconfined")
            }
            _ => {}
        }
    }
    if unconfined {
        return Ok(None);
    }
    Ok(Some(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": seccomp::default_blocked_names(caps),
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": libc::EPERM,
        }],
    })))
}

fn no_new_privileges(cfg: &ContainerConfig) -> bool {
    !cfg.security_opt
        .iter()
        .any(|o| o == "no-new-privileges=false")
}

pub fn build(input: &SpecInput) -> Result<Spec> {
    let cfg = input.cfg;
    let caps = caps::effective_set(cfg.privileged, &cfg.cap_add, &cfg.cap_drop)?;
    let is_root = input.user.uid == 0;
    let effective: Vec<String> = if is_root { caps.clone() } else { Vec::new() };
    let mut env = cfg.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", input.user.home));
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", cfg.hostname));
    }
    if !env.iter().any(|e| e.starts_with("container=")) {
        env.push("container=coracle".into());
    }
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let mut rlimits: Vec<Value> = cfg
        .ulimits
        .iter()
        .map(|u| parse_ulimit(u).map(|(t, s, h)| json!({"type": t, "soft": s, "hard": h})))
        .collect::<Result<_>>()?;
    // podman's defaults, lowered to what this caller may set (hosts without
    // CAP_SYS_RESOURCE cannot raise a hard limit); the user's own win.
    for (name, resource, want) in [
        ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE, 1_048_576u64),
        ("RLIMIT_NPROC", libc::RLIMIT_NPROC, 4_194_304u64),
    ] {
        if !rlimits.iter().any(|r| r["type"] == name) {
            let v = want.min(current_hard_limit(resource));
            rlimits.push(json!({"type": name, "soft": v, "hard": v}));
        }
    }
    let mut namespaces = Vec::new();
    // `--pid/--ipc/--uts host` stay in the host's namespace.
    for (kind, mode) in [("pid", &cfg.pid), ("ipc", &cfg.ipc), ("uts", &cfg.uts)] {
        if mode != "host" {
            namespaces.push(json!({ "type": kind }));
        }
    }
    namespaces.push(json!({"type": "mount"}));
    namespaces.push(json!({"type": "cgroup"}));
    if cfg.network != "host" {
        namespaces.push(json!({"type": "network"}));
    }
    if input.rootless {
        namespaces.push(json!({"type": "user"}));
    }
    let mut mounts = default_mounts(input);
    mounts.extend(user_mounts(input)?);
    let mut linux = json!({
        "namespaces": namespaces,
        "maskedPaths": if cfg.privileged { vec![] } else { MASKED_PATHS.to_vec() },
        "readonlyPaths": if cfg.privileged { vec![] } else { READONLY_PATHS.to_vec() },
    });
    if input.rootless {
        linux["uidMappings"] = id_maps_json(&input.id_maps.uids);
        linux["gidMappings"] = id_maps_json(&input.id_maps.gids);
    }
    if let Some(s) = seccomp_json(cfg, &caps)? {
        linux["seccomp"] = s;
    }
    if let Some(r) = resources_json(&cfg.resources) {
        linux["resources"] = r;
    }
    let spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": cfg.tty,
            "user": {"uid": input.user.uid, "gid": input.user.gid, "additionalGids": input.user.additional_gids},
            "args": cfg.args,
            "env": env,
            "cwd": if cfg.workdir.is_empty() { "/" } else { cfg.workdir.as_str() },
            "capabilities": {
                "bounding": caps, "effective": effective, "inheritable": [],
                "permitted": effective, "ambient": [],
            },
            "rlimits": rlimits,
            "noNewPrivileges": no_new_privileges(cfg),
        },
        "root": {"path": input.rootfs, "readonly": cfg.read_only},
        "hostname": cfg.hostname,
        "mounts": mounts,
        "linux": linux,
        "annotations": cfg.annotations,
    });
    let mut spec = spec;
    if let Some(adj) = cfg.resources.oom_score_adj {
        spec["process"]["oomScoreAdj"] = json!(adj);
    }
    serde_json::from_value(spec).context("building the OCI runtime spec")
}

/// The OCI `linux.resources` of the limits (the monitor applies them from
/// the container's config; the spec records them for OCI tools).
pub fn resources_json(r: &crate::storage::containers::Resources) -> Option<Value> {
    let mut out = serde_json::Map::new();
    let mut memory = serde_json::Map::new();
    if r.memory > 0 {
        memory.insert("limit".into(), json!(r.memory));
    }
    if r.memory_swap != 0 {
        memory.insert("swap".into(), json!(r.memory_swap));
    }
    if r.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(r.memory_reservation));
    }
    if !memory.is_empty() {
        out.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = serde_json::Map::new();
    if let Some((quota, period)) = super::cgroup::cpu_max(r) {
        cpu.insert("quota".into(), json!(quota));
        cpu.insert("period".into(), json!(period));
    }
    if r.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(r.cpu_shares));
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(r.cpuset_mems));
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), Value::Object(cpu));
    }
    if r.pids_limit > 0 {
        out.insert("pids".into(), json!({"limit": r.pids_limit}));
    }
    if r.blkio_weight > 0 {
        out.insert("blockIO".into(), json!({"weight": r.blkio_weight}));
    }
    (!out.is_empty()).then_some(Value::Object(out))
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

pub fn save(spec: &Spec, path: &Path) -> Result<()> {
    crate::storage::atomic::write_json(path, spec, false)
}

pub fn load(path: &Path) -> Result<Spec> {
    crate::storage::atomic::read_json(path)?
        .with_context(|| format!("no runtime spec at {}", path.display()))
}
