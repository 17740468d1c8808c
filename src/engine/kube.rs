//! `kube generate`, `kube play`, `kube down`: the store side of
//! `src/kube/`. Generate describes containers and pods from their records
//! for `kube::generate`; play carries out a `kube::play` plan (volumes,
//! pods and their members, the pod's own configMap/secret/emptyDir files)
//! and undoes all of it when a step fails; down removes what play made.

use super::create::{create_container, ContainerRequest};
use super::pod_create::PodRequest;
use super::types::{
    ContainerConfig, ImageConfig, MountKind, NamespaceMode, NetworkMode, PodConfig, PullOptions,
    RestartPolicy, Store, UsernsMode,
};
use crate::kube::generate::{
    self as gen, ContainerDescription, GenerateOptions, MountDescription, MountSource,
    PodDescription, PortDescription,
};
use crate::kube::play::{self, ContainerPlan, MountPlan, Plan, PlanOptions, PodPlan};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::kube::generate::Kind;
pub use wait::wait_then_down;

mod wait;

/// What `kube generate` asks for.
pub struct GenerateRequest {
    /// Containers, pods or volumes, by name or id.
    pub names: Vec<String>,
    pub kind: Kind,
    pub replicas: Option<u32>,
    pub service: bool,
    /// `--podman-only`: podman's reserved annotations kept.
    pub podman_only: bool,
}

/// The YAML for the named containers, pods and volumes.
pub fn generate(store: &Store, req: &GenerateRequest) -> Result<String> {
    let mut pods = Vec::new();
    let mut loose: Vec<ContainerConfig> = Vec::new();
    let mut volumes = Vec::new();
    for n in &req.names {
        if let Some(id) = super::lookup::try_container_id(store, n)? {
            let cfg = store.containers.load_config(&id)?;
            if cfg.is_infra {
                bail!("{n} is a pod's infra container: name the pod");
            }
            if !cfg.pod.is_empty() {
                bail!("{n} belongs to a pod: name the pod to generate it with its members");
            }
            loose.push(cfg);
        } else if let Some(id) = super::pods::try_pod_id(store, n)? {
            pods.push(describe_pod(
                store,
                &store.pods.load(&id)?,
                req.podman_only,
            )?);
        } else if store.volumes.exists(n) {
            volumes.push(n.clone());
        } else {
            bail!("{n}: no such container, pod or volume");
        }
    }
    if !loose.is_empty() {
        // podman's single-container form: a pod named after the first,
        // "-pod" added so the two names differ
        let containers = loose
            .iter()
            .map(|c| describe_container(store, c, ""))
            .collect::<Result<Vec<_>>>()?;
        let first = &loose[0];
        pods.insert(
            0,
            PodDescription {
                name: format!("{}-pod", first.name),
                hostname: None,
                containers,
                ports: Vec::new(),
                restart: first.restart_policy.to_string(),
                stop_timeout: None,
                annotations: annotations(&loose, req.podman_only),
                ..Default::default()
            },
        );
    }
    let opts = GenerateOptions {
        kind: req.kind,
        replicas: req.replicas,
        service: req.service,
        timestamp: seconds_rfc3339(),
        created_with: format!("coracle-{}", env!("CARGO_PKG_VERSION")),
    };
    gen::generate(&pods, &volumes, &opts)
}

/// Now as Kubernetes writes times: `2024-01-09T02:24:55Z`.
pub(crate) fn seconds_rfc3339() -> String {
    let t = crate::format::human::now_rfc3339();
    match t.split_once('.') {
        Some((secs, _)) => format!("{secs}Z"),
        None => t,
    }
}

fn ports(p: &[super::types::PortMapping]) -> Vec<PortDescription> {
    p.iter()
        .map(|m| PortDescription {
            host_ip: m.host_ip.clone(),
            host_port: m.host_port,
            container_port: m.container_port,
            protocol: m.protocol.clone(),
        })
        .collect()
}

/// podman's reserved annotations: its own settings, which Kubernetes
/// has no use for (kept with `--podman-only`).
const RESERVED: &[&str] = &[
    "io.podman.annotations.cid-file",
    "io.podman.annotations.autoremove",
    "io.podman.annotations.privileged",
    "io.podman.annotations.publish-all",
    "io.podman.annotations.init",
    "io.podman.annotations.label",
    "io.podman.annotations.seccomp",
    "io.podman.annotations.apparmor",
    "io.podman.annotations.volumes-from",
];

/// The containers' annotations as the pod's, `KEY/CONTAINER` as podman
/// writes them; the reserved ones (with those coracle's records imply:
/// --rm, --privileged, --init, --cidfile) only with `podman_only`.
fn annotations(members: &[ContainerConfig], podman_only: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in members {
        let mut all = c.annotations.clone();
        if podman_only {
            let flags = [
                ("autoremove", c.auto_remove),
                ("privileged", c.privileged),
                ("init", c.init),
            ];
            for (name, set) in flags {
                if set {
                    all.insert(format!("io.podman.annotations.{name}"), "TRUE".into());
                }
            }
            if let Some(f) = &c.cidfile {
                all.insert("io.podman.annotations.cid-file".into(), f.clone());
            }
        }
        let ctr = c.name.replace('_', "");
        for (k, v) in all {
            if podman_only || !RESERVED.contains(&k.as_str()) {
                out.insert(format!("{k}/{ctr}"), v);
            }
        }
    }
    out
}

fn describe_pod(store: &Store, pod: &PodConfig, podman_only: bool) -> Result<PodDescription> {
    let mut members: Vec<ContainerConfig> = super::containers::list_all(store)?
        .into_iter()
        .map(|l| l.cfg)
        .filter(|c| c.pod == pod.id && !c.is_infra)
        .collect();
    members.sort_by(|a, b| a.created.cmp(&b.created));
    let prefix = format!("{}-", pod.name);
    let containers = members
        .iter()
        .map(|c| describe_container(store, c, &prefix))
        .collect::<Result<Vec<_>>>()?;
    Ok(PodDescription {
        name: pod.name.clone(),
        hostname: Some(pod.hostname.clone()).filter(|h| !h.is_empty() && *h != pod.name),
        containers,
        ports: ports(&pod.ports),
        restart: members
            .first()
            .map(|c| c.restart_policy.to_string())
            .unwrap_or_default(),
        stop_timeout: None,
        annotations: annotations(&members, podman_only),
        ..Default::default()
    })
}

fn image_config(store: &Store, cfg: &ContainerConfig) -> Option<ImageConfig> {
    let images = store.images.load().ok()?;
    let img = images.by_id(&cfg.image_id)?;
    ImageConfig::parse(&store.blobs.read(&img.config_digest()).ok()?).ok()
}

/// One container as Kubernetes sees it; `prefix` (`<pod>-`) is taken off
/// its name, as `kube play` puts it back.
fn describe_container(
    store: &Store,
    cfg: &ContainerConfig,
    prefix: &str,
) -> Result<ContainerDescription> {
    let ic = image_config(store, cfg)
        .map(|c| c.config)
        .unwrap_or_default();
    let image_env = ic.env.clone().unwrap_or_default();
    let image_ep = ic.entrypoint.clone().unwrap_or_default();
    let image_cmd = ic.cmd.clone().unwrap_or_default();
    let (command, args) = if cfg.entrypoint != image_ep {
        (cfg.entrypoint.clone(), cfg.cmd.clone())
    } else if cfg.cmd != image_cmd {
        (Vec::new(), cfg.cmd.clone())
    } else {
        (Vec::new(), Vec::new())
    };
    let env = cfg
        .env
        .iter()
        .filter(|e| !image_env.contains(e))
        .filter_map(|e| e.split_once('='))
        .filter(|(k, _)| !matches!(*k, "container" | "HOSTNAME"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let image_wd = ic.working_dir.clone().unwrap_or_default();
    let workdir = Some(cfg.workdir.clone()).filter(|w| !w.is_empty() && w != "/" && *w != image_wd);
    let mut mounts = Vec::new();
    for m in cfg.mounts.iter().chain(cfg.tmpfs.iter()) {
        let source = match m.kind {
            MountKind::Volume => MountSource::Volume(m.source.clone()),
            MountKind::Tmpfs => MountSource::Tmpfs,
            MountKind::Bind => {
                let kind = match std::fs::metadata(&m.source) {
                    Ok(md) if md.is_dir() => "Directory",
                    Ok(_) => "File",
                    Err(_) => "DirectoryOrCreate",
                };
                MountSource::HostPath {
                    path: m.source.clone(),
                    kind: kind.into(),
                }
            }
        };
        mounts.push(MountDescription {
            source,
            destination: m.destination.clone(),
            read_only: m.options.iter().any(|o| o == "ro"),
        });
    }
    let name = cfg.name.strip_prefix(prefix).filter(|n| !n.is_empty());
    Ok(ContainerDescription {
        name: name.unwrap_or(&cfg.name).to_string(),
        image: cfg.image_name.clone(),
        command,
        args,
        env,
        workdir,
        ports: ports(&cfg.ports),
        mounts,
        tty: cfg.tty,
        stdin: cfg.stdin,
        liveness: None,
    })
}

/// What `kube play` asks for besides the file.
#[derive(Default)]
pub struct PlayRequest {
    /// The YAML and its name for errors (`-` for stdin).
    pub text: String,
    pub file: String,
    /// Where image build directories are looked for (the YAML's directory).
    pub context_dir: PathBuf,
    /// `--configmap` files: (path, text).
    pub configmaps: Vec<(String, String)>,
    pub publish: Vec<String>,
    pub network: Option<NetworkMode>,
    pub start: bool,
    pub replace: bool,
    /// `--build`: Some(true) always, Some(false) never, None when the
    /// image is missing.
    pub build: Option<bool>,
    /// How images are pulled (registry options, quiet).
    pub pull: PullOptions,
    pub no_pod_prefix: bool,
    pub publish_all: bool,
    /// `--log-driver` (empty: the default) and `--log-opt` for every container.
    pub log_driver: String,
    pub log_opt: Vec<String>,
    /// `--annotation KEY=VALUE` for every container.
    pub annotations: Vec<String>,
    /// `--no-hosts`: the pods' /etc/hosts is the image's.
    pub no_hosts: bool,
    /// `--no-hostname`: no /etc/hostname is made for the containers.
    pub no_hostname: bool,
    /// `--seccomp-profile-root`: where `localhost/NAME` profiles are.
    pub seccomp_profile_root: PathBuf,
    /// `--ip` and `--mac-address`: one per pod, in the file's order.
    pub ips: Vec<String>,
    pub macs: Vec<String>,
    /// `--userns`: every pod's user namespace, over the file's
    /// `io.podman.annotations.userns`.
    pub userns: Option<UsernsMode>,
}

#[derive(Debug, Default)]
pub struct PlayedPod {
    pub id: String,
    /// Container ids, infra left out.
    pub containers: Vec<String>,
}

#[derive(Debug, Default)]
pub struct PlayReport {
    /// Volumes made for the file's claims.
    pub volumes: Vec<String>,
    pub pods: Vec<PlayedPod>,
}

/// Where a played pod keeps its configMap, secret and emptyDir volumes:
/// the run root (a tmpfs), so Secret values are never on disk.
fn pod_dir(store: &Store, pod: &str) -> PathBuf {
    store.runroot.join("kube").join(pod)
}

/// Every object made so far, removed again when a later step fails.
#[derive(Default)]
struct Undo {
    volumes: Vec<String>,
    pods: Vec<PodConfig>,
    dirs: Vec<PathBuf>,
    secrets: Vec<String>,
}

impl Undo {
    fn run(self, store: &Store) {
        for p in self.pods.iter().rev() {
            let _ = super::pods::remove(store, p, true, Some(0));
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
        if !self.secrets.is_empty() {
            let _ = super::secrets::remove(store, &self.secrets, false, true);
        }
        if !self.volumes.is_empty() {
            let _ = super::volumes::remove(
                store,
                &super::volumes::Removal {
                    names: self.volumes,
                    force: true,
                    ..Default::default()
                },
            );
        }
    }
}

/// The flags that must fit the file, checked before anything is made.
fn check_play_flags(plan: &Plan, req: &PlayRequest) -> Result<()> {
    if !matches!(req.log_driver.as_str(), "" | "k8s-file" | "none") {
        bail!(
            "unsupported log driver {:?}: use k8s-file or none",
            req.log_driver
        );
    }
    for a in &req.annotations {
        if !a.contains('=') || a.starts_with('=') {
            bail!("invalid annotation {a:?}: must be KEY=VALUE");
        }
    }
    for (flag, list) in [("--ip", &req.ips), ("--mac-address", &req.macs)] {
        if list.len() > plan.pods.len() {
            bail!(
                "{flag} given {} times for {} pods: give at most one per pod",
                list.len(),
                plan.pods.len()
            );
        }
    }
    for p in &plan.pods {
        if !p.init_containers.is_empty() && !req.start {
            bail!(
                "pod {:?}: its initContainers run before the pod starts: --start=false cannot be used with them",
                p.name
            );
        }
        if p.host_network && req.network.is_some() {
            bail!(
                "pod {:?}: hostNetwork and --network cannot be used together",
                p.name
            );
        }
    }
    Ok(())
}

/// Play a file: everything checked first, then made; a failure removes
/// what this play made.
pub fn play_kube(store: &Store, req: PlayRequest) -> Result<PlayReport> {
    let opts = PlanOptions {
        configmaps: req.configmaps.clone(),
        publish: req.publish.clone(),
        names_only: false,
        no_pod_prefix: req.no_pod_prefix,
        publish_all: req.publish_all,
        seccomp_profile_root: req.seccomp_profile_root.clone(),
    };
    let plan = play::plan(&req.text, &req.file, &opts)?;
    if plan.pods.is_empty() && plan.volumes.is_empty() {
        bail!(
            "{}: no Pod, Deployment, DaemonSet, Job or PersistentVolumeClaim to play",
            req.file
        );
    }
    check_play_flags(&plan, &req)?;
    for p in &plan.pods {
        let taken = store.pods.name_owner(&p.name).is_some();
        if taken && !req.replace {
            bail!(
                "{}: a pod named {:?} already exists: use --replace, or kube down first",
                req.file,
                p.name
            );
        }
        for c in &p.containers {
            if let Some(owner) = store.containers.name_owner(&c.name) {
                let cfg = store.containers.load_config(&owner)?;
                let in_replaced = req.replace && store.pods.name_owner(&p.name) == Some(cfg.pod);
                if !in_replaced {
                    bail!("the container name {:?} is already in use", c.name);
                }
            }
        }
    }
    build_images(store, &plan, &req)?;
    if req.replace {
        remove_pods(store, &plan)?;
    }
    let mut undo = Undo::default();
    match carry_out(store, &plan, &req, &mut undo) {
        Ok(r) => Ok(r),
        Err(e) => {
            undo.run(store);
            Err(e)
        }
    }
}

fn carry_out(store: &Store, plan: &Plan, req: &PlayRequest, undo: &mut Undo) -> Result<PlayReport> {
    let mut report = PlayReport::default();
    let mut claims: Vec<String> = plan.volumes.clone();
    for p in &plan.pods {
        for c in &p.containers {
            for m in &c.mounts {
                if let MountPlan::Volume { name, .. } = m {
                    claims.push(name.clone());
                }
            }
        }
    }
    for v in claims {
        if store.volumes.exists(&v) {
            continue;
        }
        super::volumes::create(
            store,
            super::volumes::NewVolume {
                name: Some(v.clone()),
                driver: crate::storage::volumes::LOCAL_DRIVER.into(),
                ignore_existing: true,
                ..Default::default()
            },
        )?;
        undo.volumes.push(v.clone());
        if plan.volumes.contains(&v) {
            report.volumes.push(v);
        }
    }
    store_secrets(store, plan, undo)?;
    for (i, p) in plan.pods.iter().enumerate() {
        report.pods.push(play_pod(store, p, i, req, undo)?);
    }
    if req.start {
        for p in &undo.pods {
            super::pods::start(store, p, false)
                .with_context(|| format!("starting pod {}", p.name))?;
        }
    }
    Ok(report)
}

/// The Secret keys containers take as env, into the secret store (a
/// replay updates them): containers name them, so values never reach a
/// container's record or inspect.
fn store_secrets(store: &Store, plan: &Plan, undo: &mut Undo) -> Result<()> {
    let used: std::collections::BTreeSet<&String> = plan
        .pods
        .iter()
        .flat_map(|p| &p.containers)
        .flat_map(|c| c.secret_env.iter().map(|(_, s)| s))
        .collect();
    for name in used {
        let existed = super::secrets::exists(store, name);
        super::secrets::create(
            store,
            super::secrets::NewSecret {
                name: name.clone(),
                data: plan.secrets[name].clone(),
                driver: crate::storage::secrets::FILE_DRIVER.into(),
                driver_options: Default::default(),
                labels: Default::default(),
                replace: true,
                ignore: false,
            },
        )?;
        if !existed {
            undo.secrets.push(name.clone());
        }
    }
    Ok(())
}

fn play_pod(
    store: &Store,
    p: &PodPlan,
    index: usize,
    req: &PlayRequest,
    undo: &mut Undo,
) -> Result<PlayedPod> {
    let dir = pod_dir(store, &p.name);
    if !p.pod_dirs.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
        undo.dirs.push(dir.clone());
        write_pod_dirs(&dir, p)?;
    }
    let network = match p.host_network {
        true => Some(NetworkMode::Host),
        false => req.network.clone(),
    };
    let userns = pod_userns(p, req).with_context(|| format!("pod {}", p.name))?;
    let checked = super::pod_create::check(PodRequest {
        name: p.name.clone(),
        publish: p.publish.clone(),
        hostname: p.hostname.clone(),
        labels: p.labels.clone(),
        infra: true,
        network,
        no_hosts: req.no_hosts,
        ip: req.ips.get(index).cloned(),
        mac_address: req.macs.get(index).cloned(),
        exit_policy: "continue".into(),
        userns,
        ..Default::default()
    })
    .with_context(|| format!("pod {}", p.name))?;
    let pod = super::pod_create::create_pod(store, checked)?;
    undo.pods.push(pod.clone());
    let restart: RestartPolicy = p.restart.parse()?;
    let mut played = PlayedPod {
        id: pod.id.clone(),
        containers: Vec::new(),
    };
    // init containers run to completion, in order, before the others
    // exist (so the pod's start cannot start them again); then go
    for c in &p.init_containers {
        let r = container_request(c, &pod, &dir, req, RestartPolicy::No, p.host_network)?;
        let cfg = create_container(store, r).with_context(|| format!("container {}", c.name))?;
        run_init(store, &cfg.id, &c.name)?;
    }
    for c in &p.containers {
        let mut r = container_request(c, &pod, &dir, req, restart, p.host_network)?;
        r.stop_timeout = p.stop_timeout;
        let cfg = create_container(store, r).with_context(|| format!("container {}", c.name))?;
        played.containers.push(cfg.id);
    }
    Ok(played)
}

/// A played pod's user namespace: `--userns`, else the annotation given
/// with `--annotation`, else the file's (as podman looks for it).
fn pod_userns(p: &PodPlan, req: &PlayRequest) -> Result<Option<UsernsMode>> {
    if req.userns.is_some() {
        return Ok(req.userns.clone());
    }
    let flag = req.annotations.iter().find_map(|a| {
        let (k, v) = a.split_once('=')?;
        (k == play::USERNS_ANNOTATION || k == format!("{}/{}", play::USERNS_ANNOTATION, p.name))
            .then_some(v)
    });
    match flag.or(p.userns.as_deref()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .with_context(|| format!("annotation {}={v}", play::USERNS_ANNOTATION)),
    }
}

/// Run an init container to its end: a failure is play's failure.
fn run_init(store: &Store, id: &str, name: &str) -> Result<()> {
    use super::containers::{self as ctrs, WaitCondition};
    ctrs::start(store, id).with_context(|| format!("starting init container {name}"))?;
    let exited = WaitCondition::State(crate::storage::containers::Status::Exited);
    let code = ctrs::wait(store, id, &[exited], std::time::Duration::from_millis(100))?;
    if code != 0 {
        bail!("init container {name} exited with code {code}");
    }
    ctrs::remove(store, id, ctrs::Removal::default())
}

/// The run request of one of a pod's containers.
fn container_request(
    c: &ContainerPlan,
    pod: &PodConfig,
    dir: &Path,
    req: &PlayRequest,
    restart: RestartPolicy,
    host_network: bool,
) -> Result<ContainerRequest> {
    let mut volume = Vec::new();
    for m in &c.mounts {
        volume.push(volume_spec(m, dir)?);
    }
    let s = &c.security;
    let mut r = ContainerRequest {
        image: c.image.clone(),
        name: Some(c.name.clone()),
        command: c.args.clone(),
        entrypoint: (!c.command.is_empty())
            .then(|| serde_json::to_string(&c.command))
            .transpose()?,
        env: c.env.clone(),
        workdir: c.workdir.clone(),
        tty: c.tty,
        interactive: c.stdin,
        volume,
        pod: Some(pod.id.clone()),
        image_volume: "bind".into(),
        user: s.user.clone(),
        read_only: s.read_only,
        privileged: s.privileged,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        security_opt: s
            .no_new_privileges
            .then(|| "no-new-privileges".to_string())
            .into_iter()
            .chain(c.seccomp.as_ref().map(|p| format!("seccomp={p}")))
            .collect(),
        annotation: c
            .annotations
            .iter()
            .chain(&req.annotations)
            .cloned()
            .collect(),
        log_driver: req.log_driver.clone(),
        // the host's network itself, not a join of the infra's (which
        // a rootless member may not enter)
        network: host_network.then_some(NetworkMode::Host),
        pid: c.host_pid.then_some(NamespaceMode::Host),
        ipc: c.host_ipc.then_some(NamespaceMode::Host),
        source: super::create::ImageSource {
            policy: "missing".into(),
            options: Ok(req.pull.clone()),
        },
        ..Default::default()
    };
    r.tuning.log_opt = req.log_opt.clone();
    r.tuning.no_hostname = req.no_hostname;
    let l = &c.limits;
    r.limits.limits.memory = l.memory.map(|b| b.to_string());
    r.limits.limits.memory_reservation = l.memory_reservation.map(|b| b.to_string());
    r.limits.limits.cpus = l.cpus;
    r.secret = c
        .secret_env
        .iter()
        .map(|(var, name)| format!("{name},type=env,target={var}"))
        .collect();
    r.service.restart = restart;
    if let Some(h) = &c.health {
        let secs = |s: Option<u32>| s.map(|s| format!("{s}s"));
        let s = &mut r.service;
        s.health_cmd = Some(serde_json::to_string(&h.command)?);
        s.health_interval = secs(h.interval_seconds);
        s.health_timeout = secs(h.timeout_seconds);
        s.health_start_period = secs(h.start_period_seconds);
        s.health_retries = h.retries;
        s.health_on_failure = "none".into();
        s.health_max_log_count = 5;
        s.health_max_log_size = 500;
        s.health_startup_interval = "30s".into();
        s.health_startup_timeout = "30s".into();
    }
    Ok(r)
}

/// The `-v` spec of a mount; a hostPath of a `...OrCreate` type is made.
fn volume_spec(m: &MountPlan, dir: &Path) -> Result<String> {
    let ro = |r: &bool| if *r { ":ro" } else { "" };
    Ok(match m {
        MountPlan::Volume {
            name,
            dest,
            read_only,
        } => format!("{name}:{dest}{}", ro(read_only)),
        MountPlan::Host {
            path,
            kind,
            dest,
            read_only,
        } => {
            let p = Path::new(path);
            match kind.as_str() {
                "DirectoryOrCreate" | "" if !p.exists() => std::fs::create_dir_all(p)
                    .with_context(|| format!("creating hostPath {path}"))?,
                "FileOrCreate" if !p.exists() => {
                    std::fs::write(p, b"").with_context(|| format!("creating hostPath {path}"))?
                }
                "Directory" if !p.is_dir() => bail!("hostPath {path} is not a directory"),
                "File" if !p.is_file() => bail!("hostPath {path} is not a file"),
                _ => {}
            }
            format!("{path}:{dest}{}", ro(read_only))
        }
        MountPlan::PodDir {
            volume,
            sub_path,
            dest,
            read_only,
        } => {
            let mut src = dir.join(volume);
            if let Some(s) = sub_path {
                src = src.join(s);
            }
            format!("{}:{dest}{}", src.display(), ro(read_only))
        }
    })
}

fn write_pod_dirs(dir: &Path, p: &PodPlan) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (volume, files) in &p.pod_dirs {
        let vdir = dir.join(volume);
        std::fs::create_dir_all(&vdir).with_context(|| format!("creating {}", vdir.display()))?;
        for (name, data) in files {
            let path = vdir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}

/// `--build`: an image whose name is a directory beside the YAML with a
/// Containerfile or Dockerfile is built from it (when missing, or always
/// with `--build`), tagged with that name.
fn build_images(store: &Store, plan: &Plan, req: &PlayRequest) -> Result<()> {
    if req.build == Some(false) {
        return Ok(());
    }
    let mut done = std::collections::BTreeSet::new();
    for c in plan.pods.iter().flat_map(|p| p.containers.iter()) {
        let base = c.image.split(':').next().unwrap_or_default();
        if base.is_empty() || base.contains('/') || !done.insert(c.image.clone()) {
            continue;
        }
        let ctx = req.context_dir.join(base);
        let Some(file) = ["Containerfile", "Dockerfile"]
            .iter()
            .map(|f| ctx.join(f))
            .find(|f| f.is_file())
        else {
            continue;
        };
        let present =
            super::images::ensure_image(store, &c.image, "never", &PullOptions::default()).is_ok();
        if present && req.build != Some(true) {
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let parsed = super::build::parse_containerfile(&text, &file.display().to_string())?;
        let tag = super::images::local_name(&c.image)?;
        super::build::build(
            store,
            super::build::BuildRequest {
                file: parsed,
                options: super::types::BuildOptions {
                    context: ctx.clone(),
                    tags: vec![tag],
                    commit_name: Some(c.image.clone()),
                    quiet: true,
                    ..Default::default()
                },
                source: super::create::ImageSource {
                    policy: "missing".into(),
                    options: Ok(req.pull.clone()),
                },
            },
        )
        .with_context(|| format!("building {} from {}", c.image, ctx.display()))?;
    }
    Ok(())
}

/// What `kube down` removed.
#[derive(Debug, Default)]
pub struct DownReport {
    pub stopped: Vec<String>,
    pub removed: Vec<String>,
    pub volumes: Vec<String>,
}

fn remove_pods(store: &Store, plan: &Plan) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for p in &plan.pods {
        if let Some(id) = store.pods.name_owner(&p.name) {
            let pod = store.pods.load(&id)?;
            super::pods::remove(store, &pod, true, None)?;
            removed.push(id);
        }
        let _ = std::fs::remove_dir_all(pod_dir(store, &p.name));
    }
    Ok(removed)
}

/// Remove the pods a file describes (and with `force` its volumes).
pub fn down(store: &Store, text: &str, file: &str, force: bool) -> Result<DownReport> {
    let opts = PlanOptions {
        names_only: true,
        ..Default::default()
    };
    // (kube down finds pods by name; their containers go with them)
    let plan = play::plan(text, file, &opts)?;
    let removed = remove_pods(store, &plan)?;
    // the Secrets' keys it stored (those still there)
    let secrets: Vec<String> = plan
        .secrets
        .keys()
        .filter(|s| super::secrets::exists(store, s))
        .cloned()
        .collect();
    if !secrets.is_empty() {
        let r = super::secrets::remove(store, &secrets, false, true)?;
        if let Some(e) = r.error {
            return Err(e);
        }
    }
    let mut report = DownReport {
        stopped: removed.clone(),
        removed,
        volumes: Vec::new(),
    };
    if force {
        let names: Vec<String> = plan
            .volumes
            .iter()
            .filter(|v| store.volumes.exists(v))
            .cloned()
            .collect();
        if !names.is_empty() {
            report.volumes = super::volumes::remove(
                store,
                &super::volumes::Removal {
                    names,
                    force: true,
                    ..Default::default()
                },
            )?;
        }
    }
    Ok(report)
}
