//! `RUN --mount=...`: what a RUN step's container gets mounted for that
//! step only, never committed: `type=secret` (a `build --secret`, as a file
//! or an environment variable), `type=bind` (read-only, from the context),
//! `type=cache` (a directory kept in the store between builds) and
//! `type=tmpfs`; `type=ssh` (a `build --ssh` agent, see [`super::ssh`]).

use super::ssh::{Forwarder, SshSources};
use crate::storage::containers::{MountKind, MountSpec};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// What the mounts of one RUN step add to its container.
#[derive(Debug, Default)]
pub struct StepMounts {
    pub mounts: Vec<MountSpec>,
    pub tmpfs: Vec<MountSpec>,
    /// `type=secret,env=NAME`: `NAME=value`, for this process only.
    pub env: Vec<String>,
    /// `type=ssh`: the step's agent sockets, relayed while it runs.
    pub ssh: Vec<SshSocket>,
}

/// A step's agent socket and whose it must be inside the step.
#[derive(Debug)]
pub struct SshSocket {
    pub forwarder: Forwarder,
    pub uid: u32,
    pub gid: u32,
}

impl StepMounts {
    /// Where the mounts go: the mount points the step's layer must not keep.
    pub fn targets(&self) -> Vec<String> {
        self.mounts
            .iter()
            .chain(&self.tmpfs)
            .map(|m| m.destination.clone())
            .collect()
    }
}

/// `build --secret`s: id to content. Its `Debug` shows the ids only.
#[derive(Clone, Default)]
pub struct Secrets(pub BTreeMap<String, Vec<u8>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Where the step's files come from.
pub struct Sources<'a> {
    /// `build --secret`: id to content.
    pub secrets: &'a Secrets,
    /// `build --ssh`: id to agent socket.
    pub ssh: &'a SshSources,
    /// The (canonical) context directory.
    pub context: &'a Path,
    /// Where secret files are written for the step (the build's scratch).
    pub scratch: &'a Path,
    /// Where `type=cache` directories live.
    pub cache_root: &'a Path,
    /// The RUN step's working directory (relative targets).
    pub workdir: &'a str,
}

/// Parse and prepare each `--mount` value.
pub fn prepare(specs: &[String], src: &Sources) -> Result<StepMounts> {
    let mut out = StepMounts::default();
    for spec in specs {
        one(spec, src, &mut out).with_context(|| format!("RUN --mount={spec}"))?;
    }
    Ok(out)
}

fn options(spec: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = match k {
            "dst" | "destination" => "target",
            "src" => "source",
            "readonly" => "ro",
            other => other,
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn absolute(target: &str, workdir: &str) -> String {
    if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{}/{target}", workdir.trim_end_matches('/'))
    }
}

fn bool_opt(o: &BTreeMap<String, String>, key: &str) -> Result<bool> {
    Ok(match o.get(key).map(String::as_str) {
        None | Some("false") => false,
        Some("" | "true") => true,
        Some(other) => bail!("invalid value {other:?} for {key}: use true or false"),
    })
}

/// `build --mount=SPEC`: the grammar checked before the build starts
/// (each RUN step then prepares it as its own `RUN --mount`).
pub fn check_spec(spec: &str) -> Result<()> {
    kind_of(&options(spec)?)
        .map(drop)
        .with_context(|| format!("invalid --mount {spec:?}"))
}

/// The mount's type, its options checked against those the type takes.
fn kind_of(o: &BTreeMap<String, String>) -> Result<&str> {
    let kind = o.get("type").map(String::as_str).unwrap_or("bind");
    let known: &[&str] = match kind {
        "secret" => &["type", "id", "target", "required", "mode", "env"],
        "ssh" => &["type", "id", "target", "required", "mode", "uid", "gid"],
        "bind" => &["type", "source", "target", "ro", "rw"],
        "cache" => &["type", "id", "target", "ro", "sharing", "mode"],
        "tmpfs" => &["type", "target", "size", "tmpfs-size"],
        other => bail!("unsupported mount type {other:?}: use secret, ssh, bind, cache or tmpfs"),
    };
    if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
        bail!("unsupported option {k:?} for a {kind} mount");
    }
    Ok(kind)
}

fn one(spec: &str, src: &Sources, out: &mut StepMounts) -> Result<()> {
    let o = options(spec)?;
    let kind = kind_of(&o)?;
    match kind {
        "secret" => secret(&o, src, out),
        "ssh" => ssh(&o, src, out),
        "bind" => {
            let target = o.get("target").context("a bind mount needs a target")?;
            if bool_opt(&o, "rw")? {
                bail!("read-write bind mounts are not supported: the context is mounted read-only");
            }
            let rel = o.get("source").map(String::as_str).unwrap_or(".");
            let path = fs::canonicalize(src.context.join(rel.trim_start_matches('/')))
                .with_context(|| format!("bind source {rel:?} in the build context"))?;
            if !path.starts_with(src.context) {
                bail!("bind source {rel:?} is outside the build context");
            }
            out.mounts
                .push(bind(&path, &absolute(target, src.workdir), true));
            Ok(())
        }
        "cache" => {
            let target = absolute(
                o.get("target").context("a cache mount needs a target")?,
                src.workdir,
            );
            let id = o.get("id").cloned().unwrap_or_else(|| target.clone());
            // One directory per id, named by its digest: any id is a safe name.
            let name = crate::storage::digest::Digest::of_bytes(id.as_bytes());
            let dir = src.cache_root.join(name.hex());
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            if let Some(mode) = o.get("mode") {
                let m = u32::from_str_radix(mode, 8)
                    .with_context(|| format!("invalid mode {mode:?}"))?;
                fs::set_permissions(&dir, fs::Permissions::from_mode(m))?;
            }
            out.mounts.push(bind(&dir, &target, bool_opt(&o, "ro")?));
            Ok(())
        }
        _ => {
            let target = o.get("target").context("a tmpfs mount needs a target")?;
            let mut options = Vec::new();
            if let Some(size) = o.get("size").or(o.get("tmpfs-size")) {
                options.push(format!("size={size}"));
            }
            out.tmpfs.push(MountSpec {
                kind: MountKind::Tmpfs,
                source: "tmpfs".into(),
                destination: absolute(target, src.workdir),
                options,
                ..Default::default()
            });
            Ok(())
        }
    }
}

fn bind(source: &Path, target: &str, ro: bool) -> MountSpec {
    MountSpec {
        kind: MountKind::Bind,
        source: source.to_string_lossy().into_owned(),
        destination: target.to_string(),
        options: if ro { vec!["ro".into()] } else { Vec::new() },
        ..Default::default()
    }
}

fn secret(o: &BTreeMap<String, String>, src: &Sources, out: &mut StepMounts) -> Result<()> {
    let id = match (o.get("id"), o.get("target")) {
        (Some(id), _) => id.clone(),
        (None, Some(t)) => t.rsplit('/').next().unwrap_or(t).to_string(),
        (None, None) => bail!("a secret mount needs an id or a target"),
    };
    let Some(content) = src.secrets.0.get(&id) else {
        if bool_opt(o, "required")? {
            bail!("secret {id:?} is required but was not given with --secret");
        }
        return Ok(());
    };
    if let Some(name) = o.get("env") {
        let value = String::from_utf8(content.clone())
            .with_context(|| format!("secret {id:?} is not text for env={name}"))?;
        out.env.push(format!("{name}={value}"));
        // env= alone puts no file anywhere.
        if !o.contains_key("target") {
            return Ok(());
        }
    }
    let target = absolute(
        o.get("target")
            .map(String::as_str)
            .unwrap_or(&format!("/run/secrets/{id}")),
        src.workdir,
    );
    let mode = match o.get("mode") {
        Some(m) => u32::from_str_radix(m, 8).with_context(|| format!("invalid mode {m:?}"))?,
        None => 0o400,
    };
    let path = src
        .scratch
        .join(format!("secret-{:08x}", rand::random::<u32>()));
    fs::write(&path, content).with_context(|| format!("writing secret {id:?}"))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    out.mounts.push(bind(&path, &target, true));
    Ok(())
}

/// `type=ssh[,id=ID][,target=PATH][,required][,mode=][,uid=][,gid=]`: a
/// socket relaying to the `--ssh` agent of that id (`default` unless
/// named), `SSH_AUTH_SOCK` naming the step's first.
fn ssh(o: &BTreeMap<String, String>, src: &Sources, out: &mut StepMounts) -> Result<()> {
    let id = o.get("id").map(String::as_str).unwrap_or("default");
    let number = |key: &str, radix: u32, default: u32| match o.get(key) {
        Some(v) => u32::from_str_radix(v, radix).with_context(|| format!("invalid {key} {v:?}")),
        None => Ok(default),
    };
    let (mode, uid, gid) = (
        number("mode", 8, 0o600)?,
        number("uid", 10, 0)?,
        number("gid", 10, 0)?,
    );
    let Some(agent) = src.ssh.0.get(id) else {
        if bool_opt(o, "required")? {
            bail!("ssh agent {id:?} is required but was not given with --ssh");
        }
        return Ok(());
    };
    let target = match o.get("target") {
        Some(t) => absolute(t, src.workdir),
        None => format!("/run/buildkit/ssh_agent.{}", out.ssh.len()),
    };
    let name = format!("ssh-{:08x}.sock", rand::random::<u32>());
    let forwarder = Forwarder::start(agent, src.scratch, &name, mode)
        .with_context(|| format!("forwarding ssh agent {id:?}"))?;
    out.mounts.push(bind(&forwarder.socket, &target, false));
    if out.ssh.is_empty() {
        out.env.push(format!("SSH_AUTH_SOCK={target}"));
    }
    out.ssh.push(SshSocket {
        forwarder,
        uid,
        gid,
    });
    Ok(())
}

/// `build --secret id=ID,src=PATH` / `id=ID,env=VAR` / `id=ID,type=env`:
/// the secret's id and content.
pub fn parse_secret_flag(spec: &str) -> Result<(String, Vec<u8>)> {
    let o = options(spec)?;
    let id = o
        .get("id")
        .cloned()
        .with_context(|| format!("invalid --secret {spec:?}: id= is required"))?;
    let kind = o.get("type").map(String::as_str);
    let from_env = |var: &str| {
        std::env::var(var)
            .map(String::into_bytes)
            .with_context(|| format!("--secret {id}: environment variable {var} is not set"))
    };
    match (kind, o.get("source"), o.get("env")) {
        (None | Some("env"), None, Some(var)) => Ok((id.clone(), from_env(var)?)),
        (Some("env"), Some(var), None) => Ok((id.clone(), from_env(var)?)),
        (Some("env"), None, None) => Ok((id.clone(), from_env(&id)?)),
        (None | Some("file"), Some(path), None) => {
            let bytes = fs::read(path).with_context(|| format!("--secret {id}: reading {path}"))?;
            Ok((id, bytes))
        }
        (None | Some("file"), None, None) => {
            let bytes = fs::read(&id).with_context(|| format!("--secret {id}: reading {id}"))?;
            Ok((id, bytes))
        }
        _ => bail!("invalid --secret {spec:?}: use id=ID,src=PATH or id=ID,env=VARIABLE"),
    }
}
