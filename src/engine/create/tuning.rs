//! The process settings of `run`/`create` (`--device`, `--shm-size`,
//! `--sysctl`, `--tz`, `--umask`, `--group-add`, `--personality`,
//! `--requires`, `--timeout`...) and the environment and label flags that
//! build on the image's (`--env-host`, `--env-merge`, `--unsetenv`,
//! `--http-proxy`, `--label-file`): checked as podman checks them, before
//! anything is written.

use super::limits::parse_bytes;
use crate::storage::modes::{NamespaceMode, NetworkMode};
use crate::storage::tuning::{DeviceSpec, ProcessTuning};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The flags as given.
#[derive(Default, Clone, Debug)]
pub struct TuningRequest {
    pub device: Vec<String>,
    pub shm_size: Option<String>,
    pub sysctl: Vec<String>,
    pub tz: Option<String>,
    pub umask: Option<String>,
    pub group_add: Vec<String>,
    pub personality: Option<String>,
    pub no_hostname: bool,
    /// Names or ids, each possibly a comma-separated list.
    pub requires: Vec<String>,
    pub timeout: u32,
    pub env_host: bool,
    pub env_merge: Vec<String>,
    pub unsetenv: Vec<String>,
    pub unsetenv_all: bool,
    /// `None`: podman's default, true.
    pub http_proxy: Option<bool>,
    pub label_file: Vec<String>,
    /// `host` or `private` (the default).
    pub cgroupns: Option<String>,
    pub hostuser: Vec<String>,
    /// `None`: podman's default, true.
    pub passwd: Option<bool>,
    pub passwd_entry: Option<String>,
    pub group_entry: Option<String>,
    /// `--log-opt` values: path=, max-size=, tag=.
    pub log_opt: Vec<String>,
    /// Each possibly a comma-separated list.
    pub chrootdirs: Vec<String>,
}

/// `--log-opt` as (path, max size, tag).
fn log_options(opts: &[String]) -> Result<(String, i64, String)> {
    let (mut path, mut max, mut tag) = (String::new(), 0, String::new());
    for o in opts {
        match o.split_once('=') {
            Some(("path", p)) if !p.is_empty() => {
                path = std::path::absolute(p)
                    .with_context(|| format!("log path {p}"))?
                    .to_string_lossy()
                    .into_owned();
            }
            Some(("max-size", "-1")) => max = 0,
            Some(("max-size", v)) => max = parse_bytes(v, "--log-opt max-size")?,
            Some(("tag", t)) => tag = t.to_string(),
            _ => bail!("invalid log option {o:?}: path=, max-size= or tag="),
        }
    }
    Ok((path, max, tag))
}

fn check_entry(flag: &str, entry: &Option<String>) -> Result<String> {
    let e = entry.clone().unwrap_or_default();
    if e.contains('\n') {
        bail!("{flag} must be a single line");
    }
    Ok(e)
}

/// The IPC sysctls a private IPC namespace may set (podman's list, plus
/// `fs.mqueue.*`).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Where the container's namespaces stand, for the sysctl and shm rules.
pub struct Namespaces<'a> {
    pub network: &'a NetworkMode,
    pub ipc: &'a NamespaceMode,
}

fn parse_sysctls(items: &[String], ns: &Namespaces) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        let Some((key, value)) = item.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            bail!("{item:?} is not in a valid format: sysctls are name=value");
        };
        let key = key.trim().to_string();
        let ipc = IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.");
        if ipc {
            if ns.ipc.is_host() {
                bail!("sysctl {key:?} is not allowed when the IPC namespace is the host's");
            }
        } else if key.starts_with("net.") {
            if *ns.network == NetworkMode::Host {
                bail!("sysctl {key:?} is not allowed when the network namespace is the host's");
            }
        } else {
            bail!("sysctl {key:?} is not allowed: only namespaced ones (net.*, fs.mqueue.*, kernel IPC) can be set");
        }
        out.insert(key, value.to_string());
    }
    Ok(out)
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`.
pub fn parse_device(s: &str) -> Result<DeviceSpec> {
    let parts: Vec<&str> = s.split(':').collect();
    let is_perm = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (host, ctr, perm) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perm(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => bail!("invalid device specification {s:?}: HOST[:CONTAINER][:PERMISSIONS]"),
    };
    if !is_perm(perm) {
        bail!("invalid device mode {perm:?} in {s:?}: a combination of r, w and m");
    }
    if !ctr.starts_with('/') {
        bail!("invalid device {s:?}: the container path {ctr:?} must be absolute");
    }
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(host)
        .with_context(|| format!("stat {host}: no such file or directory"))?;
    let ft = meta.file_type();
    if !(ft.is_char_device() || ft.is_block_device()) {
        bail!("{host} is not a device");
    }
    Ok(DeviceSpec {
        host_path: host.to_string(),
        container_path: ctr.to_string(),
        permissions: perm.to_string(),
    })
}

fn check_timezone(tz: &str) -> Result<()> {
    let path = if tz == "local" {
        Path::new("/etc/localtime").to_path_buf()
    } else {
        if tz.split('/').any(|c| c == ".." || c.is_empty()) {
            bail!("finding timezone: unknown time zone {tz}");
        }
        Path::new(crate::runtime::spec::ZONEINFO).join(tz)
    };
    if !path.is_file() {
        bail!("finding timezone: unknown time zone {tz}");
    }
    Ok(())
}

fn check_umask(u: &str) -> Result<()> {
    if u.is_empty() || u.len() > 4 || !u.chars().all(|c| ('0'..='7').contains(&c)) {
        bail!("invalid umask string {u}");
    }
    Ok(())
}

fn check_groups(groups: &[String]) -> Result<()> {
    if groups.iter().any(|g| g == "keep-groups") && groups.len() > 1 {
        bail!("the '--group-add keep-groups' option is not allowed with any other --group-add options");
    }
    if groups.iter().any(|g| g.is_empty() || g.contains(':')) {
        bail!("invalid --group-add value: a group name or id");
    }
    Ok(())
}

fn personality(p: &str) -> Result<String> {
    match p.to_ascii_uppercase().as_str() {
        "LINUX" => Ok("LINUX".into()),
        "LINUX32" => Ok("LINUX32".into()),
        _ => bail!("invalid personality {p:?}: LINUX or LINUX32"),
    }
}

/// The settings, checked; `requires` names are resolved by the caller.
pub fn tuning(r: &TuningRequest, ns: &Namespaces) -> Result<ProcessTuning> {
    let shm_size = match &r.shm_size {
        Some(s) => {
            if ns.ipc.is_host() {
                bail!("--shm-size cannot be used with --ipc=host: /dev/shm is the host's");
            }
            let n = parse_bytes(s, "--shm-size")?;
            if n < 0 {
                bail!("invalid value for --shm-size: {s:?}");
            }
            Some(n as u64)
        }
        None => None,
    };
    if let Some(tz) = &r.tz {
        check_timezone(tz)?;
    }
    if let Some(u) = &r.umask {
        check_umask(u)?;
    }
    check_groups(&r.group_add)?;
    let cgroupns = match r.cgroupns.as_deref() {
        None | Some("private") | Some("") => String::new(),
        Some("host") => "host".to_string(),
        Some(other) => bail!("invalid cgroup namespace {other:?}: private or host"),
    };
    let (log_path, log_max_size, log_tag) = log_options(&r.log_opt)?;
    let mut chroot_dirs = Vec::new();
    for d in r.chrootdirs.iter().flat_map(|d| d.split(',')) {
        if !d.starts_with('/') || d.split('/').any(|c| c == "..") {
            bail!("invalid --chrootdirs {d:?}: an absolute path in the container");
        }
        chroot_dirs.push(d.trim_end_matches('/').to_string());
    }
    Ok(ProcessTuning {
        chroot_dirs,
        host_users: r.hostuser.clone(),
        no_passwd: r.passwd == Some(false),
        passwd_entry: check_entry("--passwd-entry", &r.passwd_entry)?,
        group_entry: check_entry("--group-entry", &r.group_entry)?,
        // set by the caller from --log-driver
        log_driver: String::new(),
        log_path,
        log_max_size,
        log_tag,
        cgroupns,
        shm_size,
        sysctls: parse_sysctls(&r.sysctl, ns)?,
        timezone: r.tz.clone().unwrap_or_default(),
        umask: r.umask.clone().unwrap_or_default(),
        devices: r
            .device
            .iter()
            .map(|d| parse_device(d))
            .collect::<Result<_>>()?,
        group_add: r.group_add.clone(),
        personality: match &r.personality {
            Some(p) => personality(p)?,
            None => String::new(),
        },
        no_hostname: r.no_hostname,
        requires: Vec::new(),
        timeout: r.timeout,
        unset_env: r.unsetenv.clone(),
        unset_env_all: r.unsetenv_all,
    })
}

/// The proxy variables podman passes from its own environment.
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
];

fn key_of(e: &str) -> &str {
    e.split_once('=').map(|(k, _)| k).unwrap_or(e)
}

fn set(env: &mut Vec<String>, key: &str, value: &str) {
    env.retain(|e| key_of(e) != key);
    env.push(format!("{key}={value}"));
}

/// The defaults before `--env-file`/`--env`: the host's proxy variables
/// (under the image's), the image's, then with `--env-host` all of ours.
pub fn base_env(r: &TuningRequest, image_env: &[String]) -> Vec<String> {
    let mut env = Vec::new();
    if r.http_proxy.unwrap_or(true) {
        for k in PROXY_VARS {
            if let Ok(v) = std::env::var(k) {
                set(&mut env, k, &v);
            }
        }
    }
    for e in image_env {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        set(&mut env, k, v);
    }
    if r.env_host {
        for (k, v) in std::env::vars() {
            set(&mut env, &k, &v);
        }
    }
    env
}

/// `$NAME` and `${NAME}` of `value` from `env` (a missing one is empty).
fn expand(value: &str, env: &[String]) -> String {
    let lookup = |name: &str| {
        env.iter()
            .find(|e| key_of(e) == name)
            .and_then(|e| e.split_once('=').map(|(_, v)| v.to_string()))
            .unwrap_or_default()
    };
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            if let Some(end) = inner.find('}') {
                out.push_str(&lookup(&inner[..end]));
                rest = &inner[end + 1..];
                continue;
            }
        }
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if len == 0 {
            out.push('$');
        } else {
            out.push_str(&lookup(&after[..len]));
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// After `--env`: `--env-merge` against what is there, then `--unsetenv`
/// (`--unsetenv-all` keeps only what `--env`/`--env-file` gave).
pub fn finish_env(r: &TuningRequest, env: &mut Vec<String>, explicit: &[String]) -> Result<()> {
    for m in &r.env_merge {
        let Some((k, v)) = m.split_once('=') else {
            bail!("invalid --env-merge {m:?}: NAME=VALUE");
        };
        let value = expand(v, env);
        set(env, k, &value);
    }
    if r.unsetenv_all {
        let keep: Vec<&str> = explicit.iter().map(|e| key_of(e)).collect();
        env.retain(|e| keep.contains(&key_of(e)));
    }
    env.retain(|e| !r.unsetenv.iter().any(|u| u == key_of(e)));
    Ok(())
}

/// The `KEY=VALUE` lines of `--label-file` files (comments and blank lines
/// skipped), under the `--label`s that follow.
pub fn label_file_items(files: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading label file {f}"))?;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.push(line.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_both_spellings() {
        let env = vec!["hello=world".to_string()];
        assert_eq!(expand("${hello}-some", &env), "world-some");
        assert_eq!(expand("$hello/$nope.x", &env), "world/.x");
        assert_eq!(expand("a$", &env), "a$");
    }

    #[test]
    fn device_forms() {
        let d = parse_device("/dev/null:r").unwrap();
        assert_eq!(
            (d.container_path.as_str(), d.permissions.as_str()),
            ("/dev/null", "r")
        );
        let d = parse_device("/dev/null:/dev/nothing").unwrap();
        assert_eq!(d.container_path, "/dev/nothing");
        assert!(parse_device("/dev/null:/dev/x:q").is_err());
        assert!(parse_device("/etc/passwd").is_err());
    }
}
