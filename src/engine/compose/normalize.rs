//! One service's (or top-level resource's) merged YAML to the normalized
//! model: short forms made long, unknown keys warned about, values checked.

use super::interpolate::{self, Vars};
use super::model::*;
use super::values::*;
use anyhow::{bail, Context, Result};
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::Path;

const SERVICE_KEYS: &[&str] = &[
    "image",
    "build",
    "container_name",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "tmpfs",
    "networks",
    "network_mode",
    "depends_on",
    "healthcheck",
    "restart",
    "user",
    "working_dir",
    "hostname",
    "labels",
    "deploy",
    "scale",
    "stop_signal",
    "stop_grace_period",
    "init",
    "read_only",
    "privileged",
    "tty",
    "stdin_open",
    "cap_add",
    "cap_drop",
    "security_opt",
    "dns",
    "dns_search",
    "dns_opt",
    "extra_hosts",
    "ulimits",
    "secrets",
    "configs",
    "pull_policy",
    "pid",
    "ipc",
    "profiles",
    "mem_limit",
    "cpus",
    "pids_limit",
];
/// In the compose specification, not (yet) applied by coracle.
const SERVICE_UNSUPPORTED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "devices",
    "domainname",
    "external_links",
    "gpus",
    "group_add",
    "isolation",
    "label_file",
    "links",
    "logging",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "oom_kill_disable",
    "oom_score_adj",
    "platform",
    "post_start",
    "pre_stop",
    "runtime",
    "shm_size",
    "storage_opt",
    "sysctls",
    "userns_mode",
    "uts",
    "volumes_from",
];

fn opt_string(m: &Mapping, at: &str, key: &str) -> Result<Option<String>> {
    match m.get(key) {
        Some(v) => scalar(&format!("{at}.{key}"), v),
        None => Ok(None),
    }
}

fn opt_bool(m: &Mapping, at: &str, key: &str) -> Result<bool> {
    match m.get(key) {
        Some(v) => boolean(&format!("{at}.{key}"), v),
        None => Ok(false),
    }
}

fn list(m: &Mapping, at: &str, key: &str) -> Result<Vec<String>> {
    match m.get(key) {
        Some(v) => strings(&format!("{at}.{key}"), v),
        None => Ok(Vec::new()),
    }
}

fn map(m: &Mapping, at: &str, key: &str) -> Result<BTreeMap<String, String>> {
    Ok(match m.get(key) {
        Some(v) => pairs(&format!("{at}.{key}"), v, '=')?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect(),
        None => BTreeMap::new(),
    })
}

/// Seconds of a Go duration (`1m30s`, `10s`).
fn seconds(at: &str, s: &str) -> Result<u32> {
    let (_, d) = crate::format::human::parse_go_duration(s)
        .map_err(|e| anyhow::anyhow!("{at}: invalid duration {s:?}: {e}"))?;
    Ok(d.as_secs().min(u32::MAX as u64) as u32)
}

/// One service. `vars` resolve `environment` entries without a value.
pub fn service(name: &str, v: &Value, vars: &Vars) -> Result<Service> {
    let at = format!("services.{name}");
    let m = mapping(&at, v)?;
    check_keys(&at, m, SERVICE_KEYS, SERVICE_UNSUPPORTED);
    let mut s = Service {
        image: opt_string(m, &at, "image")?,
        container_name: opt_string(m, &at, "container_name")?,
        user: opt_string(m, &at, "user")?,
        working_dir: opt_string(m, &at, "working_dir")?,
        hostname: opt_string(m, &at, "hostname")?,
        stop_signal: opt_string(m, &at, "stop_signal")?,
        pull_policy: opt_string(m, &at, "pull_policy")?,
        pid: opt_string(m, &at, "pid")?,
        ipc: opt_string(m, &at, "ipc")?,
        network_mode: opt_string(m, &at, "network_mode")?,
        restart: opt_string(m, &at, "restart")?,
        init: opt_bool(m, &at, "init")?,
        read_only: opt_bool(m, &at, "read_only")?,
        privileged: opt_bool(m, &at, "privileged")?,
        tty: opt_bool(m, &at, "tty")?,
        stdin_open: opt_bool(m, &at, "stdin_open")?,
        cap_add: list(m, &at, "cap_add")?,
        cap_drop: list(m, &at, "cap_drop")?,
        security_opt: list(m, &at, "security_opt")?,
        dns: list(m, &at, "dns")?,
        dns_search: list(m, &at, "dns_search")?,
        dns_opt: list(m, &at, "dns_opt")?,
        expose: list(m, &at, "expose")?,
        tmpfs: list(m, &at, "tmpfs")?,
        profiles: list(m, &at, "profiles")?,
        labels: map(m, &at, "labels")?,
        replicas: 1,
        ..Default::default()
    };
    if let Some(v) = m.get("command") {
        s.command = Some(command(&format!("{at}.command"), v)?);
    }
    if let Some(v) = m.get("entrypoint") {
        s.entrypoint = Some(command(&format!("{at}.entrypoint"), v)?);
    }
    if let Some(v) = m.get("build") {
        s.build = Some(build(&format!("{at}.build"), v)?);
    }
    if s.image.is_none() && s.build.is_none() {
        bail!("service {name:?} has neither an image nor a build context specified");
    }
    s.environment = environment(m, &at, vars)?;
    if let Some(v) = m.get("ports") {
        s.ports = seq(&format!("{at}.ports"), v, port)?
            .into_iter()
            .flatten()
            .collect();
    }
    if let Some(v) = m.get("volumes") {
        s.volumes = seq(&format!("{at}.volumes"), v, mount)?;
    }
    if let Some(v) = m.get("networks") {
        s.networks = service_networks(&format!("{at}.networks"), v)?;
    }
    if let Some(v) = m.get("depends_on") {
        s.depends_on = depends_on(&format!("{at}.depends_on"), v)?;
    }
    if let Some(v) = m.get("healthcheck") {
        s.healthcheck = Some(healthcheck(&format!("{at}.healthcheck"), v)?);
    }
    if let Some(g) = opt_string(m, &at, "stop_grace_period")? {
        s.stop_grace_period = Some(seconds(&format!("{at}.stop_grace_period"), &g)?);
    }
    if let Some(v) = m.get("extra_hosts") {
        s.extra_hosts = extra_hosts(&format!("{at}.extra_hosts"), v)?;
    }
    if let Some(v) = m.get("ulimits") {
        s.ulimits = ulimits(&format!("{at}.ulimits"), v)?;
    }
    if let Some(v) = m.get("secrets") {
        s.secrets = seq(&format!("{at}.secrets"), v, |at, v| {
            file_mount(at, v, "/run/secrets/")
        })?;
    }
    if let Some(v) = m.get("configs") {
        s.configs = seq(&format!("{at}.configs"), v, |at, v| file_mount(at, v, "/"))?;
    }
    s.limits.memory = opt_string(m, &at, "mem_limit")?;
    if let Some(c) = opt_string(m, &at, "cpus")? {
        s.limits.cpus = Some(c.parse().with_context(|| format!("{at}.cpus: {c:?}"))?);
    }
    if let Some(v) = m.get("pids_limit") {
        s.limits.pids = Some(number(&format!("{at}.pids_limit"), v)?);
    }
    if let Some(v) = m.get("scale") {
        s.replicas = number(&format!("{at}.scale"), v)?;
    }
    if let Some(v) = m.get("deploy") {
        deploy(&format!("{at}.deploy"), v, &mut s)?;
    }
    if s.network_mode.is_some() && !s.networks.is_empty() {
        bail!("service {name:?} declares networks and network_mode, which cannot be combined");
    }
    if s.container_name.is_some() && s.replicas > 1 {
        bail!("service {name:?}: a service with container_name cannot have more than one replica");
    }
    Ok(s)
}

fn seq<T>(at: &str, v: &Value, f: impl Fn(&str, &Value) -> Result<T>) -> Result<Vec<T>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| f(&format!("{at}[{i}]"), x))
            .collect(),
        _ => bail!("{at} must be a list"),
    }
}

fn build(at: &str, v: &Value) -> Result<Build> {
    if let Some(ctx) = scalar(at, v).ok().flatten() {
        return Ok(Build {
            context: ctx,
            ..Default::default()
        });
    }
    let m = mapping(at, v)?;
    check_keys(
        at,
        m,
        &[
            "context",
            "dockerfile",
            "args",
            "target",
            "labels",
            "no_cache",
        ],
        &[
            "additional_contexts",
            "cache_from",
            "cache_to",
            "dockerfile_inline",
            "entitlements",
            "extra_hosts",
            "isolation",
            "network",
            "platforms",
            "privileged",
            "pull",
            "secrets",
            "shm_size",
            "ssh",
            "tags",
            "ulimits",
        ],
    );
    Ok(Build {
        context: opt_string(m, at, "context")?.unwrap_or_else(|| ".".into()),
        dockerfile: opt_string(m, at, "dockerfile")?,
        args: map(m, at, "args")?,
        target: opt_string(m, at, "target")?,
        labels: map(m, at, "labels")?,
        no_cache: opt_bool(m, at, "no_cache")?,
    })
}

/// `env_file` (lowest), then `environment`; a name without a value takes
/// it from the environment or is left out.
fn environment(m: &Mapping, at: &str, vars: &Vars) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    if let Some(v) = m.get("env_file") {
        let at = format!("{at}.env_file");
        let files = seq(&at, &normalize_list(v), |at, v| match v {
            Value::Mapping(f) => {
                check_keys(at, f, &["path", "required", "format"], &[]);
                let path = opt_string(f, at, "path")?
                    .ok_or_else(|| anyhow::anyhow!("{at}.path is required"))?;
                let required = match f.get("required") {
                    Some(r) => boolean(&format!("{at}.required"), r)?,
                    None => true,
                };
                Ok((path, required))
            }
            _ => Ok((string(at, v)?, true)),
        })?;
        for (path, required) in files {
            if !required && !Path::new(&path).exists() {
                continue;
            }
            env.extend(interpolate::dotenv(Path::new(&path), vars)?);
        }
    }
    if let Some(v) = m.get("environment") {
        for (k, val) in pairs(&format!("{at}.environment"), v, '=')? {
            match val.or_else(|| vars.get(&k).cloned()) {
                Some(val) => env.insert(k, val),
                None => env.remove(&k),
            };
        }
    }
    Ok(env)
}

/// A single value where a list is expected, as a one-item list.
fn normalize_list(v: &Value) -> Value {
    match v {
        Value::Sequence(_) | Value::Null => v.clone(),
        other => Value::Sequence(vec![other.clone()]),
    }
}

/// `[HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]` or the long form.
fn port(at: &str, v: &Value) -> Result<Vec<Port>> {
    if let Value::Mapping(m) = v {
        check_keys(
            at,
            m,
            &[
                "target",
                "published",
                "host_ip",
                "protocol",
                "mode",
                "name",
                "app_protocol",
            ],
            &[],
        );
        let target = opt_string(m, at, "target")?
            .ok_or_else(|| anyhow::anyhow!("{at}.target is required"))?;
        return Ok(vec![Port {
            target,
            published: opt_string(m, at, "published")?.filter(|p| !p.is_empty()),
            host_ip: opt_string(m, at, "host_ip")?,
            protocol: opt_string(m, at, "protocol")?.unwrap_or_else(|| "tcp".into()),
        }]);
    }
    let s = string(at, v)?;
    let (rest, protocol) = match s.rsplit_once('/') {
        Some((r, p)) => (r, p.to_string()),
        None => (s.as_str(), "tcp".to_string()),
    };
    let (host_ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, r) = r
            .split_once("]:")
            .ok_or_else(|| anyhow::anyhow!("{at}: invalid port {s:?}"))?;
        (Some(ip.to_string()), r)
    } else {
        (None, rest)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, published, target) = match parts.as_slice() {
        [t] => (None, None, *t),
        [p, t] => (None, Some(*p), *t),
        [i, p, t] => (Some(*i), Some(*p), *t),
        _ => bail!("{at}: invalid port {s:?}"),
    };
    let valid = |p: &str| {
        !p.is_empty() && p.split('-').count() <= 2 && p.split('-').all(|n| n.parse::<u16>().is_ok())
    };
    if !valid(target) || published.is_some_and(|p| !p.is_empty() && !valid(p)) {
        bail!("{at}: invalid port {s:?}");
    }
    Ok(vec![Port {
        target: target.to_string(),
        published: published.filter(|p| !p.is_empty()).map(str::to_string),
        host_ip: host_ip.or(ip.map(str::to_string)),
        protocol,
    }])
}

/// `SOURCE:TARGET[:MODE]`, `TARGET`, or the long form. A source that is
/// a path is a bind mount, any other a volume's key.
fn mount(at: &str, v: &Value) -> Result<Mount> {
    if let Value::Mapping(m) = v {
        check_keys(
            at,
            m,
            &[
                "type",
                "source",
                "target",
                "read_only",
                "bind",
                "volume",
                "tmpfs",
                "consistency",
            ],
            &["image"],
        );
        let kind = match opt_string(m, at, "type")?.as_deref() {
            Some("volume") | None => MountType::Volume,
            Some("bind") => MountType::Bind,
            Some("tmpfs") => MountType::Tmpfs,
            Some(other) => bail!("{at}.type: unsupported mount type {other:?}"),
        };
        let target = opt_string(m, at, "target")?
            .ok_or_else(|| anyhow::anyhow!("{at}.target is required"))?;
        let mut size = None;
        if let Some(t) = m.get("tmpfs") {
            let t = mapping(&format!("{at}.tmpfs"), t)?;
            if let Some(sz) = opt_string(t, at, "size")? {
                size = Some(bytes(&format!("{at}.tmpfs.size"), &sz)?);
            }
        }
        let source = opt_string(m, at, "source")?.filter(|s| !s.is_empty());
        if kind == MountType::Bind && source.is_none() {
            bail!("{at}: a bind mount needs a source");
        }
        return Ok(Mount {
            kind,
            source,
            target,
            read_only: opt_bool(m, at, "read_only")?,
            size,
            options: None,
        });
    }
    let s = string(at, v)?;
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => bail!("{at}: invalid volume {s:?}"),
    };
    let is_path = |p: &str| p.starts_with(['/', '.', '~']);
    let mut read_only = false;
    let mut options = Vec::new();
    for o in mode.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => {}
            "z" | "Z" | "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
            | "nocopy" | "cached" | "delegated" | "consistent" => options.push(o),
            other => bail!("{at}: invalid volume mode {other:?} in {s:?}"),
        }
    }
    Ok(Mount {
        kind: match source {
            Some(p) if is_path(p) => MountType::Bind,
            _ => MountType::Volume,
        },
        source: source.map(str::to_string),
        target: target.to_string(),
        read_only,
        size: None,
        options: (!options.is_empty()).then(|| options.join(",")),
    })
}

/// go-units sizes (`64m`, `1g`, bytes) as bytes.
fn bytes(at: &str, s: &str) -> Result<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let end = lower
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(lower.len());
    let (n, unit) = lower.split_at(end);
    let mult: u64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => bail!("{at}: invalid size {s:?}"),
    };
    let n: f64 = n
        .parse()
        .map_err(|_| anyhow::anyhow!("{at}: invalid size {s:?}"))?;
    Ok((n * mult as f64) as u64)
}

fn service_networks(at: &str, v: &Value) -> Result<BTreeMap<String, ServiceNetwork>> {
    let mut out = BTreeMap::new();
    match v {
        Value::Sequence(_) => {
            for n in strings(at, v)? {
                out.insert(n, ServiceNetwork::default());
            }
        }
        Value::Mapping(m) => {
            for (k, x) in m {
                let name = string(at, k)?;
                let at = format!("{at}.{name}");
                let mut sn = ServiceNetwork::default();
                if let Value::Mapping(o) = x {
                    check_keys(
                        &at,
                        o,
                        &["aliases", "ipv4_address"],
                        &[
                            "ipv6_address",
                            "link_local_ips",
                            "mac_address",
                            "priority",
                            "driver_opts",
                            "gw_priority",
                            "interface_name",
                        ],
                    );
                    sn.aliases = list(o, &at, "aliases")?;
                    sn.ipv4_address = opt_string(o, &at, "ipv4_address")?;
                } else if !x.is_null() {
                    bail!("{at} must be a mapping");
                }
                out.insert(name, sn);
            }
        }
        _ => bail!("{at} must be a list or a mapping"),
    }
    Ok(out)
}

fn depends_on(at: &str, v: &Value) -> Result<BTreeMap<String, Dependency>> {
    let started = || Dependency {
        condition: "service_started".into(),
        required: true,
        restart: false,
    };
    let mut out = BTreeMap::new();
    match v {
        Value::Sequence(_) => {
            for n in strings(at, v)? {
                out.insert(n, started());
            }
        }
        Value::Mapping(m) => {
            for (k, x) in m {
                let name = string(at, k)?;
                let at = format!("{at}.{name}");
                let o = mapping(&at, x)?;
                check_keys(&at, o, &["condition", "required", "restart"], &[]);
                let mut d = started();
                if let Some(c) = opt_string(o, &at, "condition")? {
                    if !matches!(
                        c.as_str(),
                        "service_started" | "service_healthy" | "service_completed_successfully"
                    ) {
                        bail!("{at}.condition: unknown condition {c:?}: use service_started, service_healthy or service_completed_successfully");
                    }
                    d.condition = c;
                }
                if let Some(r) = o.get("required") {
                    d.required = boolean(&format!("{at}.required"), r)?;
                }
                d.restart = opt_bool(o, &at, "restart")?;
                out.insert(name, d);
            }
        }
        _ => bail!("{at} must be a list or a mapping"),
    }
    Ok(out)
}

fn healthcheck(at: &str, v: &Value) -> Result<Healthcheck> {
    let m = mapping(at, v)?;
    check_keys(
        at,
        m,
        &[
            "test",
            "interval",
            "timeout",
            "start_period",
            "retries",
            "disable",
        ],
        &["start_interval"],
    );
    let test = match m.get("test") {
        Some(Value::Sequence(_)) => strings(&format!("{at}.test"), &m["test"])?,
        Some(v) => match scalar(&format!("{at}.test"), v)? {
            Some(s) if s == "NONE" => vec!["NONE".into()],
            Some(s) => vec!["CMD-SHELL".into(), s],
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    if let Some(first) = test.first() {
        if !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
            bail!("{at}.test: a list must start with CMD, CMD-SHELL or NONE");
        }
    }
    let retries = match m.get("retries") {
        Some(r) => Some(number(&format!("{at}.retries"), r)?),
        None => None,
    };
    Ok(Healthcheck {
        disable: opt_bool(m, at, "disable")? || test.first().is_some_and(|t| t == "NONE"),
        test,
        interval: opt_string(m, at, "interval")?,
        timeout: opt_string(m, at, "timeout")?,
        start_period: opt_string(m, at, "start_period")?,
        retries,
    })
}

fn extra_hosts(at: &str, v: &Value) -> Result<Vec<String>> {
    let items = match v {
        Value::Mapping(_) => pairs(at, v, '=')?,
        _ => strings(at, v)?
            .into_iter()
            .map(|h| match h.split_once('=').or_else(|| h.split_once(':')) {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (h, None),
            })
            .collect(),
    };
    items
        .into_iter()
        .map(|(host, ip)| match ip {
            Some(ip) => Ok(format!("{host}:{ip}")),
            None => bail!("{at}: {host:?} has no address: use HOST:IP"),
        })
        .collect()
}

fn ulimits(at: &str, v: &Value) -> Result<Vec<String>> {
    let m = mapping(at, v)?;
    let mut out = Vec::new();
    for (k, x) in m {
        let name = string(at, k)?;
        let at = format!("{at}.{name}");
        out.push(match x {
            Value::Mapping(o) => {
                let soft = opt_string(o, &at, "soft")?;
                let hard = opt_string(o, &at, "hard")?;
                match (soft, hard) {
                    (Some(s), Some(h)) => format!("{name}={s}:{h}"),
                    _ => bail!("{at} needs soft and hard"),
                }
            }
            _ => format!("{name}={}", string(&at, x)?),
        });
    }
    Ok(out)
}

/// A service's secret or config: its name, or `{source, target, uid,
/// gid, mode}`; a relative target is under `dir`.
fn file_mount(at: &str, v: &Value, dir: &str) -> Result<FileMount> {
    let mut f = FileMount {
        source: String::new(),
        target: String::new(),
        uid: None,
        gid: None,
        mode: None,
    };
    let target = match v {
        Value::Mapping(m) => {
            check_keys(at, m, &["source", "target", "uid", "gid", "mode"], &[]);
            f.source = opt_string(m, at, "source")?
                .ok_or_else(|| anyhow::anyhow!("{at}.source is required"))?;
            for (key, slot) in [("uid", &mut f.uid), ("gid", &mut f.gid)] {
                if let Some(x) = m.get(key) {
                    *slot = Some(number(&format!("{at}.{key}"), x)?);
                }
            }
            if let Some(x) = m.get("mode") {
                f.mode = Some(file_mode(&format!("{at}.mode"), x)?);
            }
            opt_string(m, at, "target")?
        }
        _ => {
            f.source = string(at, v)?;
            None
        }
    };
    let target = target.unwrap_or_else(|| f.source.clone());
    f.target = if target.starts_with('/') {
        target
    } else {
        format!("{dir}{target}")
    };
    Ok(f)
}

/// A file mode: a number (`0o440`, `288`) or a string with a leading zero
/// read as octal (`0440`, what compose files write).
fn file_mode(at: &str, v: &Value) -> Result<u32> {
    let text = string(at, v)?;
    let parsed = match text.strip_prefix("0o").or_else(|| text.strip_prefix('0')) {
        Some("") => Ok(0),
        Some(octal) => u32::from_str_radix(octal, 8),
        None => text.parse(),
    };
    match parsed {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => bail!("{at}: invalid file mode {text:?}"),
    }
}

fn deploy(at: &str, v: &Value, s: &mut Service) -> Result<()> {
    let m = mapping(at, v)?;
    check_keys(
        at,
        m,
        &["replicas", "resources", "restart_policy"],
        &[
            "mode",
            "labels",
            "placement",
            "update_config",
            "rollback_config",
            "endpoint_mode",
        ],
    );
    if let Some(r) = m.get("replicas") {
        s.replicas = number(&format!("{at}.replicas"), r)?;
    }
    if let Some(r) = m.get("restart_policy") {
        let at = format!("{at}.restart_policy");
        let r = mapping(&at, r)?;
        check_keys(&at, r, &["condition", "max_attempts"], &["delay", "window"]);
        let tries = opt_string(r, &at, "max_attempts")?;
        let policy = match opt_string(r, &at, "condition")?.as_deref() {
            Some("none") => "no".to_string(),
            Some("on-failure") => match tries {
                Some(n) => format!("on-failure:{n}"),
                None => "on-failure".into(),
            },
            Some("any") | None => "always".into(),
            Some(other) => bail!("{at}.condition: unknown condition {other:?}"),
        };
        s.restart.get_or_insert(policy);
    }
    if let Some(r) = m.get("resources") {
        let at = format!("{at}.resources");
        let r = mapping(&at, r)?;
        check_keys(&at, r, &["limits"], &["reservations"]);
        if let Some(l) = r.get("limits") {
            let at = format!("{at}.limits");
            let l = mapping(&at, l)?;
            check_keys(&at, l, &["cpus", "memory", "pids"], &["devices"]);
            if let Some(c) = opt_string(l, &at, "cpus")? {
                s.limits.cpus = Some(c.parse().with_context(|| format!("{at}.cpus: {c:?}"))?);
            }
            if let Some(mem) = opt_string(l, &at, "memory")? {
                s.limits.memory = Some(mem);
            }
            if let Some(p) = l.get("pids") {
                s.limits.pids = Some(number(&format!("{at}.pids"), p)?);
            }
        }
    }
    Ok(())
}

/// A top-level network; `name` is its real name.
pub fn network(project: &str, key: &str, v: &Value) -> Result<Network> {
    let at = format!("networks.{key}");
    let empty = Mapping::new();
    let m = match v {
        Value::Null => &empty,
        _ => mapping(&at, v)?,
    };
    check_keys(
        &at,
        m,
        &[
            "name",
            "external",
            "driver",
            "driver_opts",
            "internal",
            "labels",
            "ipam",
            "attachable",
        ],
        &["enable_ipv4", "enable_ipv6"],
    );
    if let Some(d) = opt_string(m, &at, "driver")? {
        if d != "bridge" {
            bail!("{at}.driver: unsupported driver {d:?}: coracle networks use the bridge driver");
        }
    }
    let (external, ext_name) = external(&at, m)?;
    let mut subnets = Vec::new();
    if let Some(ipam) = m.get("ipam") {
        let ipam = mapping(&format!("{at}.ipam"), ipam)?;
        check_keys(
            &format!("{at}.ipam"),
            ipam,
            &["config", "driver"],
            &["options"],
        );
        if let Some(Value::Sequence(cfgs)) = ipam.get("config") {
            for c in cfgs {
                let c = mapping(&format!("{at}.ipam.config"), c)?;
                if let Some(s) = opt_string(c, &at, "subnet")? {
                    subnets.push(s);
                }
            }
        }
    }
    let mut bridge_name = None;
    for (k, v) in map(m, &at, "driver_opts")? {
        match k.as_str() {
            "com.docker.network.bridge.name" => bridge_name = Some(v),
            other => crate::warn!(
                "{at}.driver_opts: {other:?} is not supported by coracle and is ignored"
            ),
        }
    }
    Ok(Network {
        bridge_name,
        name: opt_string(m, &at, "name")?
            .or(ext_name)
            .unwrap_or_else(|| match external {
                true => key.to_string(),
                false => format!("{project}_{key}"),
            }),
        external,
        internal: opt_bool(m, &at, "internal")?,
        subnets,
        labels: map(m, &at, "labels")?,
    })
}

/// `external: true`, or the legacy `external: {name: N}`.
fn external(at: &str, m: &Mapping) -> Result<(bool, Option<String>)> {
    Ok(match m.get("external") {
        None => (false, None),
        Some(Value::Mapping(e)) => (true, opt_string(e, at, "name")?),
        Some(v) => (boolean(&format!("{at}.external"), v)?, None),
    })
}

/// A top-level volume; `name` is its real name.
pub fn volume(project: &str, key: &str, v: &Value) -> Result<Volume> {
    let at = format!("volumes.{key}");
    let empty = Mapping::new();
    let m = match v {
        Value::Null => &empty,
        _ => mapping(&at, v)?,
    };
    check_keys(
        &at,
        m,
        &["name", "external", "driver", "driver_opts", "labels"],
        &[],
    );
    if let Some(d) = opt_string(m, &at, "driver")? {
        if d != "local" {
            bail!("{at}.driver: unsupported volume driver {d:?}: use local");
        }
    }
    let (external, ext_name) = external(&at, m)?;
    Ok(Volume {
        name: opt_string(m, &at, "name")?
            .or(ext_name)
            .unwrap_or_else(|| match external {
                true => key.to_string(),
                false => format!("{project}_{key}"),
            }),
        external,
        driver_opts: map(m, &at, "driver_opts")?,
        labels: map(m, &at, "labels")?,
    })
}

/// A top-level secret or config: exactly one of `file`, `environment`
/// (the variable's value, read from `vars` now), `content` (configs
/// only) or `external: true` (an existing secret, by `name` or the key).
pub fn file_source(kind: &str, key: &str, v: &Value, vars: &Vars) -> Result<FileSource> {
    let at = format!("{kind}.{key}");
    let m = mapping(&at, v)?;
    let mut known = vec!["file", "name", "environment", "external", "labels"];
    if kind == "configs" {
        known.push("content");
    }
    check_keys(
        &at,
        m,
        &known,
        &["driver", "driver_opts", "template_driver"],
    );
    let external = match m.get("external") {
        Some(x) => boolean(&format!("{at}.external"), x)?,
        None => false,
    };
    let f = FileSource {
        name: opt_string(m, &at, "name")?,
        file: opt_string(m, &at, "file")?,
        environment: opt_string(m, &at, "environment")?,
        content: match kind {
            "configs" => opt_string(m, &at, "content")?,
            _ => None,
        },
        external,
        value: None,
    };
    let sources = [
        f.file.is_some(),
        f.environment.is_some(),
        f.content.is_some(),
        f.external,
    ];
    let what = match kind {
        "configs" => "file, environment, content or external",
        _ => "file, environment or external",
    };
    match sources.iter().filter(|x| **x).count() {
        1 => {}
        0 => bail!("{at}: needs one of {what}"),
        _ => bail!("{at}: takes only one of {what}"),
    }
    if f.external && kind == "configs" {
        bail!("{at}: external configs live in a swarm; coracle has none (use file, environment or content)");
    }
    let value = match &f.environment {
        Some(var) => Some(
            vars.get(var)
                .cloned()
                .with_context(|| format!("{at}: environment variable {var:?} is not set"))?,
        ),
        None => None,
    };
    Ok(FileSource { value, ..f })
}
