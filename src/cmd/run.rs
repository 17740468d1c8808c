//! create, run and start: flags to a container config, then the runtime.

use super::create_flags::CreateFlags;
use super::output::println;
use super::registry_flags::platform_from_flags;
use super::GlobalOpts;
use crate::error::SilentExit;
use crate::registry::pull::PullOptions;
use crate::runtime::{attach, container};
use crate::storage::containers::ContainerConfig;
use crate::storage::image_config::ImageConfig;
use crate::storage::images::ImageRecord;
use crate::storage::modes::{NetworkMode, RestartPolicy, UsernsMode};
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::collections::BTreeMap;

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    #[command(flatten)]
    pub flags: CreateFlags,
    /// The image to create the container from
    pub image: String,
    /// Command and arguments (override the image's CMD)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub flags: CreateFlags,
    /// The image to run
    pub image: String,
    /// Command and arguments (override the image's CMD)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Find the image locally, pulling it as `--pull` says.
pub fn ensure_image(store: &Store, name: &str, f: &CreateFlags) -> Result<ImageRecord> {
    let opts = PullOptions {
        client: f.registry.client_options()?,
        platform: platform_from_flags(f.platform.as_deref(), None, None, None)?,
        quiet: f.quiet,
    };
    crate::engine::images::ensure_image(store, name, &f.pull, &opts)
}

fn parse_entrypoint(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    if s.trim_start().starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(s) {
            return v;
        }
    }
    vec![s.to_string()]
}

fn parse_env_files(files: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading env file {f}"))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.push(line.to_string());
        }
    }
    Ok(out)
}

/// Apply `KEY=VALUE` (or `KEY`, taken from our own environment) to `env`.
fn merge_env(env: &mut Vec<String>, items: &[String]) {
    for item in items {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => match std::env::var(item) {
                Ok(v) => (item.clone(), v),
                Err(_) => continue,
            },
        };
        env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key.as_str()) && e != &key);
        env.push(format!("{key}={value}"));
    }
}

fn parse_key_values(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// The container config from the image's defaults and the flags, merged as
/// podman does.
pub fn container_config(
    f: &CreateFlags,
    image_name: &str,
    img: &ImageRecord,
    img_cfg: &ImageConfig,
    command: &[String],
) -> Result<ContainerConfig> {
    let ic = &img_cfg.config;
    let entrypoint = match &f.entrypoint {
        Some(e) => parse_entrypoint(e),
        None => ic.entrypoint.clone().unwrap_or_default(),
    };
    let cmd = if !command.is_empty() {
        command.to_vec()
    } else if f.entrypoint.is_some() {
        Vec::new()
    } else {
        ic.cmd.clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
    if args.is_empty() {
        bail!("no command or entrypoint provided, and no CMD or ENTRYPOINT from image");
    }
    let mut env = ic.env.clone().unwrap_or_default();
    merge_env(&mut env, &parse_env_files(&f.env_file)?);
    merge_env(&mut env, &f.env);
    let mut labels = ic.labels.clone().unwrap_or_default();
    labels.extend(parse_key_values(&f.label));
    let mut mounts = Vec::new();
    let mut tmpfs = Vec::new();
    for v in &f.volume {
        mounts.push(super::mounts::parse_volume(v)?);
    }
    for m in &f.mount {
        let m = super::mounts::parse_mount(m)?;
        if m.kind == "tmpfs" {
            tmpfs.push(m);
        } else {
            mounts.push(m);
        }
    }
    for t in &f.tmpfs {
        tmpfs.push(super::mounts::parse_tmpfs(t)?);
    }
    for u in &f.ulimit {
        crate::runtime::spec::parse_ulimit(u)?;
    }
    crate::runtime::caps::effective_set(f.privileged, &f.cap_add, &f.cap_drop)?;
    let network = network_mode(f.network.as_ref())?;
    let mut ports = Vec::new();
    for p in &f.publish {
        ports.extend(crate::runtime::network::parse_publish(p)?);
    }
    if f.publish_all {
        for exposed in ic
            .exposed_ports
            .as_ref()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let (port, proto) = exposed.split_once('/').unwrap_or((exposed.as_str(), "tcp"));
            if !ports
                .iter()
                .any(|m| m.container_port.to_string() == port && m.protocol == proto)
            {
                ports.extend(crate::runtime::network::parse_publish(&format!(
                    "{port}/{proto}"
                ))?);
            }
        }
    }
    if !ports.is_empty() && !network.needs_helper() {
        bail!("cannot publish ports with --network {network}: use the default network (pasta or slirp4netns)");
    }
    if f.userns == UsernsMode::KeepId && !crate::runtime::userns::is_rootless() {
        bail!("keep-id is only supported in rootless mode");
    }
    if f.restart != RestartPolicy::No {
        bail!(
            "--restart={}: restart policies are not supported; use a systemd unit",
            f.restart
        );
    }
    if !matches!(f.log_driver.as_str(), "k8s-file" | "none" | "") {
        bail!(
            "unsupported log driver {:?}: use k8s-file or none",
            f.log_driver
        );
    }
    if let Some(s) = &f.stop_signal {
        container::parse_signal(s)?;
    }
    let (resources, cgroups) = f.limits.resources(crate::runtime::userns::is_rootless())?;
    Ok(ContainerConfig {
        name: f.name.clone().unwrap_or_default(),
        image_name: image_name.to_string(),
        args,
        entrypoint,
        cmd,
        env,
        workdir: f
            .workdir
            .clone()
            .or_else(|| ic.working_dir.clone().filter(|w| !w.is_empty()))
            .unwrap_or_else(|| "/".into()),
        user: f
            .user
            .clone()
            .or_else(|| (f.userns == UsernsMode::KeepId).then(keep_id_user))
            .or_else(|| ic.user.clone())
            .unwrap_or_default(),
        hostname: f.hostname.clone().unwrap_or_default(),
        labels,
        annotations: parse_key_values(&f.annotation),
        tty: f.tty,
        stdin: f.interactive,
        auto_remove: f.rm,
        stop_signal: f
            .stop_signal
            .clone()
            .or_else(|| ic.stop_signal.clone())
            .unwrap_or_default(),
        stop_timeout: f.stop_timeout.unwrap_or(10),
        init: f.init,
        read_only: f.read_only,
        privileged: f.privileged,
        cap_add: f.cap_add.clone(),
        cap_drop: f.cap_drop.clone(),
        security_opt: f.security_opt.clone(),
        mounts,
        tmpfs,
        ulimits: f.ulimit.clone(),
        network,
        ports,
        dns: f.dns.clone(),
        dns_search: f.dns_search.clone(),
        dns_options: f.dns_option.clone(),
        add_hosts: f.add_host.clone(),
        userns: f.userns,
        cidfile: f.cidfile.clone(),
        image_id: img.id.clone(),
        create_command: crate::storage::containers::command_line_without_secrets(std::env::args()),
        resources,
        cgroup_parent: f.limits.cgroup_parent.clone().unwrap_or_default(),
        cgroups,
        ..Default::default()
    })
}

/// The network a container gets: the default (podman's bridge) is pasta
/// or slirp4netns; coracle has no named networks. `container:` names
/// resolve later.
pub(super) fn network_mode(n: Option<&NetworkMode>) -> Result<NetworkMode> {
    Ok(match n {
        None => crate::runtime::network::default_mode(),
        Some(NetworkMode::Bridge(names))
            if names.is_empty() || names.iter().all(|n| n == "default") =>
        {
            crate::runtime::network::default_mode()
        }
        Some(NetworkMode::Bridge(names)) => bail!(
            "invalid network mode {:?}: use pasta, slirp4netns, none, host, container:NAME or ns:PATH",
            names.join(",")
        ),
        Some(mode) => mode.clone(),
    })
}

/// With keep-id the process runs as the caller's own ids by default.
fn keep_id_user() -> String {
    let (uid, gid) = crate::runtime::userns::caller_ids();
    format!("{uid}:{gid}")
}

/// The name to record as the container's image (podman's ImageName).
fn image_display_name(img: &ImageRecord, typed: &str) -> String {
    img.names
        .iter()
        .find(|n| n.ends_with(typed) || typed.ends_with(n.as_str()))
        .or(img.names.first())
        .cloned()
        .unwrap_or_else(|| typed.to_string())
}

fn create_container(
    g: &GlobalOpts,
    f: &CreateFlags,
    image: &str,
    command: &[String],
) -> Result<(Store, ContainerConfig)> {
    let store = g.open_store()?;
    // Another container's network is named by its id from here on.
    let mut f = f.clone();
    if let Some(NetworkMode::Container(other)) = &f.network {
        f.network = Some(NetworkMode::Container(crate::engine::lookup::container_id(
            &store, other,
        )?));
    }
    let join = super::namespaces::member_flags(&store, &mut f)?;
    let f = &f;
    let img = ensure_image(&store, image, f)?;
    crate::debug!("image {} resolved", img.id);
    let img_cfg = ImageConfig::parse(&store.blobs.read(&img.config_digest())?)?;
    let mut cfg = container_config(f, &image_display_name(&img, image), &img, &img_cfg, command)?;
    super::mounts::add_volumes_from(&store, &mut cfg, &f.volumes_from)?;
    super::mounts::add_image_volumes(&mut cfg, &img_cfg, &f.image_volume)?;
    let new_pod = super::namespaces::join(&store, f, join, &mut cfg)?;
    let cfg = match crate::engine::containers::create(&store, cfg, &img) {
        Ok(cfg) => cfg,
        Err(e) => {
            super::namespaces::discard_new_pod(&store, new_pod);
            return Err(e);
        }
    };
    crate::debug!("container {} created", cfg.id);
    if let Some(path) = &f.cidfile {
        crate::engine::containers::write_cidfile(&store, &cfg, std::path::Path::new(path))?;
    }
    Ok((store, cfg))
}

pub fn create(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    let (_, cfg) = create_container(g, &a.flags, &a.image, &a.command)?;
    println(&cfg.id)
}

pub fn run(g: &GlobalOpts, a: RunArgs) -> Result<()> {
    let (store, cfg) = create_container(g, &a.flags, &a.image, &a.command)?;
    if a.detach {
        if let Err(e) = crate::engine::containers::start_process(&store, &cfg.id, false) {
            crate::engine::containers::discard_if_network_failed(&store, &cfg.id, &e);
            return Err(e);
        }
        return println(&cfg.id);
    }
    run_attached(&store, &cfg.id, cfg.tty, a.sig_proxy)
}

/// Start attached and exit with the program's code.
pub fn run_attached(store: &Store, id: &str, tty: bool, sig_proxy: bool) -> Result<()> {
    let signals = attach::block_proxied_signals();
    let _raw = tty.then(attach::RawTerminal::enable);
    let started = match crate::engine::containers::start_process(store, id, true) {
        Ok(s) => s,
        Err(e) => {
            crate::engine::containers::discard_if_network_failed(store, id, &e);
            return Err(e);
        }
    };
    let code = attach::wait_foreground(started, sig_proxy && !tty, signals)?;
    drop(_raw);
    if code != 0 {
        return Err(SilentExit(code).into());
    }
    Ok(())
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run the exec session in detached mode (backgrounded)
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Sets the username or UID used and optionally the groupname or GID
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Container name or id
    pub container: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

pub fn exec(g: &GlobalOpts, a: ExecArgs) -> Result<()> {
    let store = g.open_store()?;
    let id = crate::engine::lookup::container_id(&store, &a.container)?;
    let mut env = parse_env_files(&a.env_file)?;
    env.extend(a.env.iter().cloned());
    let opts = crate::runtime::exec::ExecOptions {
        args: a.command,
        env,
        user: a.user,
        workdir: a.workdir,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        privileged: a.privileged,
    };
    let code = crate::engine::containers::exec(&store, &id, &opts)?;
    if code != 0 {
        return Err(SilentExit(code).into());
    }
    Ok(())
}
