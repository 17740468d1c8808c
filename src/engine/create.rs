//! Creating a container from a typed request: the image's defaults merged
//! with what the caller asked for, as podman merges them, checked before
//! anything is written; then the pod to join, the record and its spec.
//! The command line's `create`/`run` fill a `ContainerRequest` from flags;
//! compose files or Kubernetes pods can fill one without clap.

mod cdi;
mod cgroup_rules;
mod defaults;
pub mod idmap;
mod io_limits;
mod launch;
mod limits;
mod mounts;
mod namespaces;
pub mod pod_defaults;
mod security;
mod service;
mod tuning;

use super::types::{ContainerConfig, NamespaceMode, NetworkMode, PullOptions, Store, UsernsMode};
pub use io_limits::IoLimits;
pub use launch::{pass_fds, preserved_fds};
pub use limits::{CreateLimits, Limits};
pub use mounts::{parse_mount, parse_tmpfs, parse_volume};
pub use namespaces::into_pod;
pub use security::check_security_opts;
pub use service::ServiceRequest;
pub(crate) use service::{at_least_a_second, duration_ns, health_test};
pub use tuning::{
    base_env, label_file_items, tuning as process_tuning, Namespaces as TuningNamespaces,
    TuningRequest,
};

use crate::error::SilentExit;
use crate::runtime::{attach, container};
use crate::storage::image_config::ImageConfig;
use crate::storage::images::ImageRecord;
use anyhow::{bail, Context, Result};

/// How to find the image: the pull policy and the registry options. The
/// options are a `Result` so that a bad one is reported only when the
/// image is looked up, after the request's other checks (as `run` always
/// did).
pub struct ImageSource {
    /// `always`, `missing`, `never` or `newer`
    pub policy: String,
    pub options: Result<PullOptions>,
}

impl Default for ImageSource {
    fn default() -> Self {
        ImageSource {
            policy: "missing".into(),
            options: Ok(PullOptions::default()),
        }
    }
}

/// Everything that makes a container, as `create`/`run` take it. Strings
/// are in podman's flag syntax (`-v`, `--mount`, `-p`, `--ulimit`...).
#[derive(Default)]
pub struct ContainerRequest {
    /// The image as the user typed it
    pub image: String,
    pub source: ImageSource,
    /// Command and arguments (override the image's CMD)
    pub command: Vec<String>,
    pub name: Option<String>,
    pub interactive: bool,
    pub tty: bool,
    /// `KEY=VALUE`, or `KEY` to take it from our environment
    pub env: Vec<String>,
    pub env_file: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// A string or a JSON array
    pub entrypoint: Option<String>,
    pub volume: Vec<String>,
    pub mount: Vec<String>,
    pub tmpfs: Vec<String>,
    pub volumes_from: Vec<String>,
    /// bind, tmpfs or ignore
    pub image_volume: String,
    pub read_only: bool,
    pub hostname: Option<String>,
    pub init: bool,
    pub label: Vec<String>,
    pub annotation: Vec<String>,
    pub cidfile: Option<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    pub ulimit: Vec<String>,
    pub network: Option<NetworkMode>,
    /// Per named network: address, MAC, aliases, interface name.
    pub network_attachments:
        std::collections::BTreeMap<String, crate::storage::networks::Attachment>,
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub add_host: Vec<String>,
    pub no_hosts: bool,
    /// An absolute host path, `none` or `image`.
    pub hosts_file: Option<String>,
    /// `--expose` specs: PORT[-END][/PROTO].
    pub expose: Vec<String>,
    pub userns: UsernsMode,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
    pub rm: bool,
    /// k8s-file or none
    pub log_driver: String,
    /// Restart policy, healthcheck, systemd notification, pid files
    pub service: ServiceRequest,
    /// A pod name or id, or `new:NAME`
    pub pod: Option<String>,
    /// `--init-ctr`: one of the pod's init containers.
    pub init_ctr: Option<crate::storage::containers::InitCtr>,
    pub ipc: Option<NamespaceMode>,
    pub pid: Option<NamespaceMode>,
    pub uts: Option<NamespaceMode>,
    pub limits: CreateLimits,
    /// Devices, shm, sysctls, time zone, umask, groups, environment...
    pub tuning: TuningRequest,
    /// The command line to record; `None` is this process's own, with
    /// secrets hidden.
    pub create_command: Option<Vec<String>>,
    /// `--secret NAME[,type=...,target=...,uid=,gid=,mode=]`
    pub secret: Vec<String>,
    /// `--seccomp-policy`: default, or image (the image label's profile).
    pub seccomp_policy: String,
    /// `--gpus`: GPUs by CDI name ("all", "0"...), of the vendor found.
    pub gpus: Vec<String>,
    /// `--uidmap`, `--gidmap`, `--subuidname`, `--subgidname`
    pub id_maps: idmap::IdMapRequest,
    /// `--init-path`: the init `--init` runs instead of coracle's own
    pub init_path: Option<String>,
    /// `--systemd`: true (also ""), false or always
    pub systemd: String,
    /// `--shm-size-systemd`: the size of systemd mode's tmpfs mounts
    pub shm_size_systemd: Option<String>,
    /// `--attach`: stdin, stdout, stderr
    pub attach: Vec<String>,
    /// `--rootfs`: `image` is a directory (`PATH[:O]`), not an image
    pub rootfs: bool,
}

/// `--entrypoint` (and `pod create --infra-command`): a JSON array, or
/// one string as the program.
pub fn parse_entrypoint(s: &str) -> Vec<String> {
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

/// The lines of `--env-file` files (comments and blank lines skipped).
pub fn parse_env_files(files: &[String]) -> Result<Vec<String>> {
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
pub(crate) fn merge_env(env: &mut Vec<String>, items: &[String]) {
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

/// The container config from the image's defaults and the request, merged
/// as podman does.
fn container_config(
    f: &mut ContainerRequest,
    image_name: &str,
    image_id: &str,
    img_cfg: &ImageConfig,
) -> Result<ContainerConfig> {
    let ic = &img_cfg.config;
    let entrypoint = match &f.entrypoint {
        Some(e) => parse_entrypoint(e),
        None => ic.entrypoint.clone().unwrap_or_default(),
    };
    let cmd = if !f.command.is_empty() {
        std::mem::take(&mut f.command)
    } else if f.entrypoint.is_some() {
        Vec::new()
    } else {
        ic.cmd.clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
    if args.is_empty() {
        bail!("no command or entrypoint provided, and no CMD or ENTRYPOINT from image");
    }
    // containers.conf's env, then the host's (--env-host) and the
    // image's, then the caller's.
    let mut env = crate::config::get()
        .containers
        .containers
        .env
        .clone()
        .unwrap_or_default();
    merge_env(
        &mut env,
        &tuning::base_env(&f.tuning, &ic.env.clone().unwrap_or_default()),
    );
    let mut explicit = parse_env_files(&f.env_file)?;
    explicit.extend(f.env.iter().cloned());
    merge_env(&mut env, &explicit);
    tuning::finish_env(&f.tuning, &mut env, &explicit)?;
    let mut labels = ic.labels.clone().unwrap_or_default();
    labels.extend(super::filter::key_values(&tuning::label_file_items(
        &f.tuning.label_file,
    )?));
    labels.extend(super::filter::key_values(&f.label));
    // run from a systemd unit: auto-update restarts that unit (as podman)
    if let Ok(unit) = std::env::var("PODMAN_SYSTEMD_UNIT") {
        labels
            .entry("PODMAN_SYSTEMD_UNIT".to_string())
            .or_insert(unit);
    }
    let mut mounts = Vec::new();
    let mut tmpfs = Vec::new();
    for v in &f.volume {
        mounts.push(parse_volume(v)?);
    }
    for m in &f.mount {
        let m = parse_mount(m)?;
        if m.kind == crate::storage::containers::MountKind::Tmpfs {
            tmpfs.push(m);
        } else {
            mounts.push(m);
        }
    }
    for t in &f.tmpfs {
        tmpfs.push(parse_tmpfs(t)?);
    }
    for u in &f.ulimit {
        crate::runtime::spec::parse_ulimit(u)?;
    }
    crate::runtime::caps::effective_set(f.privileged, &f.cap_add, &f.cap_drop)?;
    let network = network_mode(f.network.as_ref())?;
    let mut process_tuning = tuning::tuning(
        &f.tuning,
        &tuning::Namespaces {
            network: &network,
            ipc: f.ipc.as_ref().unwrap_or(&NamespaceMode::default()),
        },
    )?;
    if f.log_driver == "none" {
        process_tuning.log_driver = "none".into();
    }
    let mut ports = Vec::new();
    for p in &f.publish {
        ports.extend(crate::runtime::publish::parse_publish(p)?);
    }
    let mut expose = Vec::new();
    for e in &f.expose {
        for key in crate::runtime::publish::parse_expose(e)? {
            if !expose.contains(&key) {
                expose.push(key);
            }
        }
    }
    hosts_flags(f)?;
    if f.publish_all {
        let mut exposed: Vec<String> = ic
            .exposed_ports
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        exposed.extend(expose.iter().filter(|e| !e.ends_with("/sctp")).cloned());
        for exposed in exposed {
            let (port, proto) = exposed.split_once('/').unwrap_or((exposed.as_str(), "tcp"));
            if !ports
                .iter()
                .any(|m| m.container_port.to_string() == port && m.protocol == proto)
            {
                ports.extend(crate::runtime::publish::parse_publish(&format!(
                    "{port}/{proto}"
                ))?);
            }
        }
    }
    if !ports.is_empty() && !network.takes_ports() {
        bail!("cannot publish ports with --network {network}: use the default network (pasta or slirp4netns)");
    }
    if f.userns.is_keep_id() && !crate::runtime::userns::is_rootless() {
        bail!("keep-id is only supported in rootless mode");
    }
    let service = service::service(&f.service, img_cfg, f.rm)?;
    if !matches!(f.log_driver.as_str(), "k8s-file" | "none" | "") {
        bail!(
            "unsupported log driver {:?}: use k8s-file or none",
            f.log_driver
        );
    }
    if let Some(s) = &f.stop_signal {
        container::parse_signal(s)?;
    }
    security::check_security_opts(&f.security_opt)?;
    let (resources, cgroups) = f.limits.resources(crate::runtime::userns::is_rootless())?;
    let create_command = f.create_command.take().unwrap_or_else(|| {
        crate::storage::containers::command_line_without_secrets(std::env::args())
    });
    let cfg = ContainerConfig {
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
            .or_else(|| keep_id_user(&f.userns))
            .or_else(|| ic.user.clone())
            .unwrap_or_default(),
        hostname: f.hostname.clone().unwrap_or_default(),
        labels,
        annotations: super::filter::key_values(&f.annotation),
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
        seccomp_image_profile: security::image_seccomp(&f.seccomp_policy, ic.labels.as_ref())?,
        mounts,
        tmpfs,
        ulimits: f.ulimit.clone(),
        network,
        network_attachments: f.network_attachments.clone(),
        ports,
        dns: f.dns.clone(),
        dns_search: f.dns_search.clone(),
        dns_options: f.dns_option.clone(),
        add_hosts: f.add_host.clone(),
        no_hosts: f.no_hosts,
        hosts_file: f.hosts_file.clone().filter(|h| !h.is_empty()),
        expose,
        userns: f.userns.clone(),
        // absolute: the file goes when the container does, maybe removed
        // from another directory
        cidfile: f.cidfile.as_deref().map(|p| {
            std::path::absolute(p).map_or_else(|_| p.to_string(), |a| a.display().to_string())
        }),
        image_id: image_id.to_string(),
        create_command,
        init_ctr: f.init_ctr,
        resources,
        cgroup_parent: f.limits.cgroup_parent.clone().unwrap_or_default(),
        cgroups,
        restart_policy: service.restart,
        health: service.health,
        sdnotify: service.sdnotify,
        pidfile: f.service.pidfile.clone(),
        conmon_pidfile: f.service.conmon_pidfile.clone(),
        tuning: process_tuning,
        oci_runtime: configured_oci_runtime(),
        ..Default::default()
    };
    crate::runtime::oci_runtime::check(&cfg)?;
    Ok(cfg)
}

/// `--no-hosts` and `--hosts-file`, checked as podman does.
pub fn hosts_flags(f: &ContainerRequest) -> Result<()> {
    if f.no_hosts && !f.add_host.is_empty() {
        bail!("--no-hosts and --add-host cannot be set together");
    }
    if f.no_hosts && f.hosts_file.as_deref().is_some_and(|h| !h.is_empty()) {
        bail!("--no-hosts and --hosts-file cannot be set together");
    }
    check_hosts_file(f.hosts_file.as_deref())
}

/// A `--hosts-file` value: `none`, `image`, or an absolute path to a
/// readable file.
pub fn check_hosts_file(h: Option<&str>) -> Result<()> {
    match h {
        None | Some("" | "none" | "image") => Ok(()),
        Some(p) if !p.starts_with('/') => {
            bail!("--hosts-file {p:?}: must be an absolute path, none or image")
        }
        Some(p) => std::fs::read_to_string(p)
            .map(|_| ())
            .with_context(|| format!("--hosts-file {p:?}: cannot read it")),
    }
}

/// The network a container (or a pod) gets: the default (podman's bridge)
/// is pasta or slirp4netns; named networks are kept by name (checked by
/// `networks::check_container_networks`). `container:` names resolve later.
pub fn network_mode(n: Option<&NetworkMode>) -> Result<NetworkMode> {
    Ok(match n {
        None => crate::runtime::network::default_mode(),
        Some(NetworkMode::Bridge(names))
            if names.is_empty() || names.iter().all(|n| n == "default") =>
        {
            crate::runtime::network::default_mode()
        }
        Some(mode) => mode.clone(),
    })
}

/// With keep-id the process runs as the caller's own ids by default (or
/// those `keep-id:uid=,gid=` give them inside).
fn keep_id_user(mode: &UsernsMode) -> Option<String> {
    let UsernsMode::KeepId { uid, gid } = *mode else {
        return None;
    };
    let (own_uid, own_gid) = crate::runtime::userns::caller_ids();
    Some(format!(
        "{}:{}",
        uid.unwrap_or(own_uid),
        gid.unwrap_or(own_gid)
    ))
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

/// Find the image locally, pulling it as the request's policy says.
fn ensure_image(store: &Store, name: &str, source: ImageSource) -> Result<ImageRecord> {
    let opts = source.options?;
    super::images::ensure_image(store, name, &source.policy, &opts)
}

/// Create a container from `req`: checked, its pod joined (a `new:` pod
/// made), recorded, the cidfile written. Nothing is left behind on error.
pub fn create_container(store: &Store, mut req: ContainerRequest) -> Result<ContainerConfig> {
    if req.init_ctr.is_some() && req.pod.as_deref().is_none_or(str::is_empty) {
        bail!("must specify pod value with init-ctr");
    }
    defaults::apply(&mut req)?;
    cdi::resolve(&mut req)?;
    if req.service.replace {
        replace_named(store, req.name.as_deref())?;
    }
    // Another container's network is named by its id from here on.
    if let Some(NetworkMode::Container(other)) = &req.network {
        req.network = Some(NetworkMode::Container(super::lookup::container_id(
            store, other,
        )?));
    }
    if let Some(mode) = &req.network {
        super::networks::check_container_networks(store, mode)?;
    }
    let requires = required_ids(store, &req.tuning.requires)?;
    let join = namespaces::member_flags(store, &mut req)?;
    // What a pod gives its members, its CDI devices and GPUs too.
    cdi::resolve(&mut req)?;
    let launch = launch::settings(&req)?;
    let image = std::mem::take(&mut req.image);
    // `--rootfs`: no image, its defaults empty.
    let (img, img_cfg) = match launch.rootfs {
        Some(_) => (None, ImageConfig::default()),
        None => {
            let img = ensure_image(store, &image, std::mem::take(&mut req.source))?;
            crate::debug!("image {} resolved", img.id);
            let img_cfg = ImageConfig::parse(&store.blobs.read(&img.config_digest())?)?;
            (Some(img), img_cfg)
        }
    };
    let (display, image_id) = match &img {
        Some(img) => (image_display_name(img, &image), img.id.as_str()),
        None => (String::new(), ""),
    };
    let mut cfg = container_config(&mut req, &display, image_id, &img_cfg)?;
    // `-a stdin` keeps stdin open, as `-i` does.
    cfg.stdin |= launch.attach.iter().any(|s| s == "stdin");
    cfg.launch = launch;
    launch::apply_systemd(&req.systemd, &mut cfg);
    for s in &req.secret {
        cfg.secrets.push(super::secrets::parse_use(store, s)?);
    }
    cfg.tuning.requires = requires;
    mounts::add_volumes_from(store, &mut cfg, &req.volumes_from)?;
    mounts::add_image_volumes(&mut cfg, &img_cfg, &req.image_volume)?;
    let new_pod = namespaces::join(store, &req, join, &mut cfg)?;
    let cfg = match super::containers::create(store, cfg, img.as_ref()) {
        Ok(cfg) => cfg,
        Err(e) => {
            namespaces::discard_new_pod(store, new_pod);
            return Err(e);
        }
    };
    crate::debug!("container {} created", cfg.id);
    if let Some(path) = &req.cidfile {
        super::containers::write_cidfile(store, &cfg, std::path::Path::new(path))?;
    }
    Ok(cfg)
}

/// `--requires`: the containers, by id, that start before this one.
fn required_ids(store: &Store, names: &[String]) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for name in names
        .iter()
        .flat_map(|n| n.split(','))
        .filter(|n| !n.is_empty())
    {
        ids.push(super::lookup::container_id(store, name)?);
    }
    Ok(ids)
}

/// `--replace`: a container that holds the name goes first (stopped if
/// it runs), as podman's does.
fn replace_named(store: &Store, name: Option<&str>) -> Result<()> {
    let Some(name) = name else {
        bail!("cannot replace container without --name being set");
    };
    if let Some(old) = store.containers.name_owner(name) {
        let how = super::containers::Removal {
            force: true,
            ..Default::default()
        };
        super::containers::remove(store, &old, how)?;
    }
    Ok(())
}

/// Start a container detached; a start whose network failed leaves no
/// container.
pub fn start_detached(store: &Store, id: &str) -> Result<()> {
    if let Err(e) = super::containers::start_process(store, id, false) {
        super::containers::discard_if_network_failed(store, id, &e);
        return Err(e);
    }
    Ok(())
}

/// Start attached (the terminal raw with a tty, signals proxied as asked)
/// and exit with the program's code (`SilentExit` when not 0).
pub fn run_attached(store: &Store, id: &str, tty: bool, sig_proxy: bool) -> Result<()> {
    run_attached_detachable(store, id, tty, sig_proxy, None)
}

/// As [`run_attached`], detaching on `detach_keys` (podman's default when
/// `None`, none when empty) typed on our terminal: the container runs on.
pub fn run_attached_detachable(
    store: &Store,
    id: &str,
    tty: bool,
    sig_proxy: bool,
    detach_keys: Option<&str>,
) -> Result<()> {
    let keys = super::attach::parse_detach_keys(detach_keys)?;
    // Keys are typed: piped input (a tar, say) is passed on whole.
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        crate::runtime::foreground_detach::arm(keys)?;
    }
    let signals = attach::block_proxied_signals();
    let _raw = tty.then(attach::RawTerminal::enable);
    let started = match super::containers::start_process(store, id, true) {
        Ok(s) => s,
        Err(e) => {
            super::containers::discard_if_network_failed(store, id, &e);
            return Err(e);
        }
    };
    let marker = store.containers.stopped_marker(id);
    let code = attach::wait_foreground(started, sig_proxy && !tty, signals, marker)?;
    drop(_raw);
    if code != 0 {
        return Err(SilentExit(code).into());
    }
    Ok(())
}

/// `run --rmi`: once the container is gone, its image goes too (by the
/// name it was run by: another tag of the same image only loses that
/// name, as `rmi NAME`), unless another container uses it.
pub fn remove_image_after_run(store: &Store, cfg: &ContainerConfig) -> Result<()> {
    if !super::images::containers_using(store, &cfg.image_id).is_empty() {
        return Ok(());
    }
    if store.rootless {
        // The attached run left a signal-proxy thread, and only a
        // single-threaded process may enter the user namespace: a fork is.
        let maps = crate::runtime::userns::IdMaps::for_current_user()?;
        crate::runtime::userns::run_in_child_userns(&maps, || {
            remove_run_image(store, cfg).map(|()| Vec::new())
        })?;
        return Ok(());
    }
    remove_run_image(store, cfg)
}

fn remove_run_image(store: &Store, cfg: &ContainerConfig) -> Result<()> {
    let report = super::images::remove(
        store,
        &super::images::Removal {
            images: vec![cfg.image_name.clone()],
            ignore_missing: true,
            ..Default::default()
        },
    )?;
    match report.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The external OCI runtime `--runtime` (or containers.conf) names, if any:
/// a container records it, so later verbs drive it through the same one.
pub fn configured_oci_runtime() -> Option<crate::storage::containers::OciRuntimeRecord> {
    crate::config::get()
        .runtime
        .as_ref()
        .map(|r| crate::storage::containers::OciRuntimeRecord {
            name: r.name.clone(),
            path: r.path.clone(),
            flags: r.flags.clone(),
        })
}
