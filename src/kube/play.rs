//! `kube play` read: Kubernetes YAML (several documents) to a plan of
//! volumes and pods to make, with ConfigMaps and Secrets already resolved
//! into environment variables and files. Nothing here touches a store:
//! the engine carries the plan out, so a bad file changes nothing.

use super::model::*;
use super::names::is_label;
pub use super::play_spec::{HealthPlan, LimitsPlan, SecurityPlan};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a file asks for.
#[derive(Debug, Default)]
pub struct Plan {
    /// Named volumes (PersistentVolumeClaims), in file order.
    pub volumes: Vec<String>,
    pub pods: Vec<PodPlan>,
    /// Every key of every Secret in the file, as the secret store names
    /// it (`secret_name`): its data. Played containers take the ones they
    /// use as env from the store, so values stay out of their records.
    pub secrets: BTreeMap<String, Vec<u8>>,
}

/// The secret store's name for `key` of Secret `secret`: a Secret's name
/// holds no '_', so the first '_' after the prefix splits the two.
pub fn secret_name(secret: &str, key: &str) -> String {
    format!("kube_{secret}_{key}")
}

#[derive(Debug, Default)]
pub struct PodPlan {
    pub name: String,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `-p` specs for the pod (`[IP:]HOST:CONTAINER[/PROTO]`).
    pub publish: Vec<String>,
    /// podman's restart policy for every container: always, on-failure, no.
    pub restart: String,
    pub stop_timeout: Option<u32>,
    /// `hostNetwork: true`: the pod uses the host's network (its ports
    /// are the host's already, so none are published).
    pub host_network: bool,
    /// Run to completion one after the other before `containers` start
    /// (podman's `once` type: removed when done).
    pub init_containers: Vec<ContainerPlan>,
    pub containers: Vec<ContainerPlan>,
    /// Volumes that live and die with the pod (configMap, secret,
    /// emptyDir): their files, by volume name.
    pub pod_dirs: BTreeMap<String, Files>,
    /// podman's `io.podman.annotations.userns` (or `.../<pod name>`): the
    /// pod's user namespace mode, as given.
    pub userns: Option<String>,
}

/// The annotation that gives a played pod's user namespace mode.
pub const USERNS_ANNOTATION: &str = "io.podman.annotations.userns";

/// Files of a pod's own volume: (path inside it, content).
pub type Files = Vec<(String, Vec<u8>)>;

#[derive(Debug, Default)]
pub struct ContainerPlan {
    /// `<pod>-<container>`, as podman names them.
    pub name: String,
    pub image: String,
    /// Replaces the image's entrypoint when not empty.
    pub command: Vec<String>,
    /// Replaces the image's command when not empty (or with `command`).
    pub args: Vec<String>,
    /// `KEY=VALUE`
    pub env: Vec<String>,
    /// Variables whose value is a Secret's: (variable, store secret name).
    pub secret_env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub stdin: bool,
    pub mounts: Vec<MountPlan>,
    /// The pod's annotations, `KEY=VALUE`.
    pub annotations: Vec<String>,
    pub security: SecurityPlan,
    pub limits: LimitsPlan,
    pub health: Option<HealthPlan>,
    /// hostPID / hostIPC: the host's namespace, not the pod's.
    pub host_pid: bool,
    pub host_ipc: bool,
    /// The pod's seccomp annotations for it: `unconfined` or a profile's
    /// path (None: the default profile).
    pub seccomp: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum MountPlan {
    /// A named volume.
    Volume {
        name: String,
        dest: String,
        read_only: bool,
    },
    /// A host path; `kind` is hostPath's type ("" for none).
    Host {
        path: String,
        kind: String,
        dest: String,
        read_only: bool,
    },
    /// One of the pod's own volumes (`pod_dirs`), or a path inside it.
    PodDir {
        volume: String,
        sub_path: Option<String>,
        dest: String,
        read_only: bool,
    },
}

/// Data of ConfigMaps and Secrets by name (Secret values decoded).
#[derive(Default)]
struct DataSources {
    config_maps: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Missing ones are no error (`kube down` needs only the names).
    lenient: bool,
}

/// One document of the file, read far enough to know its kind.
fn kind_of(v: &serde_yaml_ng::Value) -> String {
    v.get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Every document of `text` (empty ones dropped), typed by kind. Errors
/// name `file` and the line.
fn documents(text: &str, file: &str) -> Result<Vec<Doc>> {
    let mut values = Vec::new();
    for d in serde_yaml_ng::Deserializer::from_str(text) {
        let v = serde_yaml_ng::Value::deserialize(d).map_err(|e| yaml_error(file, &e))?;
        values.push(v);
    }
    let mut out = Vec::new();
    // Read each again as its kind, so a wrong field's error has its line.
    for (i, d) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let v = &values[i];
        let kind = kind_of(v);
        // Services route traffic between pods in a cluster; here pods
        // publish through their hostPorts, so there is nothing to run
        // (podman's play reads no more of them either)
        if v.is_null() || kind == "Service" {
            continue;
        }
        let typed = |e: serde_yaml_ng::Error| yaml_error(file, &e);
        out.push(match kind.as_str() {
            "Pod" => Doc::Pod(Pod::deserialize(d).map_err(typed)?),
            "Deployment" | "DaemonSet" | "Job" => {
                Doc::Workload(Workload::deserialize(d).map_err(typed)?)
            }
            "PersistentVolumeClaim" => {
                Doc::Claim(PersistentVolumeClaim::deserialize(d).map_err(typed)?)
            }
            "ConfigMap" => Doc::ConfigMap(DataObject::deserialize(d).map_err(typed)?),
            "Secret" => Doc::Secret(DataObject::deserialize(d).map_err(typed)?),
            "" => bail!("{file}: document {}: no kind", i + 1),
            other => bail!(
                "{file}: document {}: kind {other:?} is not supported: use Pod, Deployment, DaemonSet, Job, PersistentVolumeClaim, ConfigMap or Secret",
                i + 1
            ),
        });
    }
    Ok(out)
}

fn yaml_error(file: &str, e: &serde_yaml_ng::Error) -> anyhow::Error {
    // serde_yaml_ng says "at line N column M" itself when it knows
    let text = e.to_string().replace('\n', " ");
    match e.location() {
        Some(l) if !text.contains("line") => {
            anyhow!("{file}: line {}: {text}", l.line())
        }
        _ => anyhow!("{file}: {text}"),
    }
}

enum Doc {
    Pod(Pod),
    Workload(Workload),
    Claim(PersistentVolumeClaim),
    ConfigMap(DataObject),
    Secret(DataObject),
}

/// Options of `kube play` that change the plan.
#[derive(Debug, Default)]
pub struct PlanOptions {
    /// `--configmap` files: (name for errors, text).
    pub configmaps: Vec<(String, String)>,
    /// `--publish`: adds to or overrides the YAML's host ports.
    pub publish: Vec<String>,
    /// Only the names matter (`kube down`): a ConfigMap or Secret the
    /// file refers to may be missing.
    pub names_only: bool,
    /// `--no-pod-prefix`: containers named as in the file, not `<pod>-<name>`.
    pub no_pod_prefix: bool,
    /// `--publish-all`: a containerPort without a hostPort is published
    /// on the same port of the host.
    pub publish_all: bool,
    /// `--seccomp-profile-root`: where `localhost/NAME` seccomp profiles
    /// are (empty: Kubernetes' /var/lib/kubelet/seccomp).
    pub seccomp_profile_root: std::path::PathBuf,
}

/// The seccomp annotations Kubernetes had before `seccompProfile`, which
/// podman reads: one for the pod, one per container.
const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// A container's seccomp profile from its pod's annotations, as the value
/// of `--security-opt seccomp=`: `unconfined` or a profile's path; None:
/// the default profile.
fn seccomp_of(
    annotations: &std::collections::BTreeMap<String, String>,
    container: &str,
    root: &std::path::Path,
) -> Result<Option<String>> {
    let value = annotations
        .get(&format!("{SECCOMP_CONTAINER}{container}"))
        .or_else(|| annotations.get(SECCOMP_POD));
    let Some(value) = value else {
        return Ok(None);
    };
    match value.as_str() {
        "runtime/default" | "docker/default" => Ok(None),
        "unconfined" => Ok(Some("unconfined".into())),
        v => match v.strip_prefix("localhost/").filter(|n| !n.is_empty()) {
            Some(name) => {
                let root = if root.as_os_str().is_empty() {
                    std::path::Path::new("/var/lib/kubelet/seccomp")
                } else {
                    root
                };
                Ok(Some(root.join(name).to_string_lossy().into_owned()))
            }
            None => bail!(
                "invalid seccomp path: {v} (use runtime/default, unconfined or localhost/NAME)"
            ),
        },
    }
}

/// Read `text` (from `file`, for errors) into a plan.
pub fn plan(text: &str, file: &str, opts: &PlanOptions) -> Result<Plan> {
    let mut docs = documents(text, file)?;
    for (name, text) in &opts.configmaps {
        for d in documents(text, name)? {
            match d {
                Doc::ConfigMap(_) => docs.push(d),
                _ => bail!("{name}: --configmap files hold ConfigMaps only"),
            }
        }
    }
    let mut data = DataSources {
        lenient: opts.names_only,
        ..Default::default()
    };
    let mut secrets = BTreeMap::new();
    for d in &docs {
        match d {
            Doc::ConfigMap(c) => {
                check_name(&c.metadata.name, "ConfigMap")?;
                for k in c.data.keys().chain(c.binary_data.keys()) {
                    check_key(k, "ConfigMap", &c.metadata.name)?;
                }
                let mut m = BTreeMap::new();
                for (k, v) in &c.data {
                    m.insert(k.clone(), v.as_bytes().to_vec());
                }
                for (k, v) in &c.binary_data {
                    m.insert(k.clone(), decode(v, "ConfigMap", &c.metadata.name, k)?);
                }
                data.config_maps.insert(c.metadata.name.clone(), m);
            }
            Doc::Secret(s) => {
                check_name(&s.metadata.name, "Secret")?;
                for k in s.data.keys().chain(s.string_data.keys()) {
                    check_key(k, "Secret", &s.metadata.name)?;
                }
                let mut m = BTreeMap::new();
                for (k, v) in &s.data {
                    m.insert(k.clone(), decode(v, "Secret", &s.metadata.name, k)?);
                }
                for (k, v) in &s.string_data {
                    m.insert(k.clone(), v.as_bytes().to_vec());
                }
                for (k, v) in &m {
                    secrets.insert(secret_name(&s.metadata.name, k), v.clone());
                }
                data.secrets.insert(s.metadata.name.clone(), m);
            }
            _ => {}
        }
    }
    let mut plan = Plan {
        secrets,
        ..Default::default()
    };
    for d in docs {
        match d {
            Doc::Claim(c) => {
                check_name(&c.metadata.name, "PersistentVolumeClaim")?;
                plan.volumes.push(c.metadata.name);
            }
            Doc::Pod(p) => {
                let ctx = PodContext { data: &data, opts };
                let pod = pod_plan(&p.metadata, &p.spec, &p.metadata.name, "Always", &ctx)?;
                plan.pods.push(pod);
            }
            Doc::Workload(w) => {
                let ctx = PodContext { data: &data, opts };
                plan.pods.extend(workload_pods(&w, &ctx)?)
            }
            Doc::ConfigMap(_) | Doc::Secret(_) => {}
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for p in &mut plan.pods {
        if !names.insert(p.name.clone()) {
            bail!("{file}: two pods named {:?}", p.name);
        }
        override_ports(&mut p.publish, &opts.publish)?;
    }
    Ok(plan)
}

fn decode(v: &str, kind: &str, name: &str, key: &str) -> Result<Vec<u8>> {
    let clean: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .with_context(|| format!("{kind} {name:?}: key {key:?} is not valid base64"))
}

/// What pod_plan needs of the options and the file's data.
struct PodContext<'a> {
    data: &'a DataSources,
    opts: &'a PlanOptions,
}

/// A name coracle makes something of (a pod, a volume, a directory):
/// podman's name rule, so no name is a path.
fn check_name(name: &str, kind: &str) -> Result<()> {
    if name.is_empty() {
        bail!("a {kind} has no metadata.name");
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        bail!("invalid {kind} name {name:?}: letters, digits, '_', '.' and '-' only, starting with a letter or digit");
    }
    Ok(())
}

/// A ConfigMap or Secret key, which names a file: Kubernetes' rule.
fn check_key(key: &str, kind: &str, name: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key != "."
        && key != ".."
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        bail!("{kind} {name:?}: invalid key {key:?}: letters, digits, '_', '.' and '-' only");
    }
    Ok(())
}

/// A Deployment's replicas (one pod each; host ports on the first only,
/// the others would take the same ports), a DaemonSet's one pod on this
/// node, a Job's one pod (restart Never unless it says OnFailure).
fn workload_pods(w: &Workload, ctx: &PodContext) -> Result<Vec<PodPlan>> {
    let base = format!("{}-pod", w.metadata.name);
    check_name(&w.metadata.name, &w.kind)?;
    let (replicas, default_restart) = match w.kind.as_str() {
        "Deployment" => (w.spec.replicas.unwrap_or(1), "Always"),
        "Job" => (1, "Never"),
        _ => (1, "Always"),
    };
    let t = &w.spec.template;
    let mut out = Vec::new();
    for i in 0..replicas {
        let name = if replicas == 1 {
            base.clone()
        } else {
            format!("{base}-{i}")
        };
        let mut p = pod_plan(&t.metadata, &t.spec, &name, default_restart, ctx)?;
        if i > 0 {
            p.publish.clear();
        }
        out.push(p);
    }
    Ok(out)
}

fn pod_plan(
    meta: &ObjectMeta,
    spec: &PodSpec,
    name: &str,
    default_restart: &str,
    ctx: &PodContext,
) -> Result<PodPlan> {
    let data = ctx.data;
    check_name(name, "Pod")?;
    if spec.containers.is_empty() {
        bail!("pod {name:?} has no containers");
    }
    init_type(meta, name)?;
    let restart = match spec.restart_policy.as_deref().unwrap_or(default_restart) {
        "Always" => "always",
        "OnFailure" => "on-failure",
        "Never" => "no",
        other => bail!(
            "pod {name:?}: invalid restartPolicy {other:?}: must be Always, OnFailure or Never"
        ),
    };
    let mut pod = PodPlan {
        name: name.to_string(),
        hostname: spec.hostname.clone(),
        labels: meta.labels.clone(),
        restart: restart.to_string(),
        stop_timeout: spec.termination_grace_period_seconds,
        host_network: spec.host_network,
        userns: meta
            .annotations
            .get(USERNS_ANNOTATION)
            .or_else(|| meta.annotations.get(&format!("{USERNS_ANNOTATION}/{name}")))
            .cloned(),
        ..Default::default()
    };
    let volumes: BTreeMap<&str, &Volume> =
        spec.volumes.iter().map(|v| (v.name.as_str(), v)).collect();
    for v in &spec.volumes {
        if !is_label(&v.name) {
            bail!(
                "pod {name:?}: invalid volume name {:?}: lowercase letters, digits and '-' only",
                v.name
            );
        }
        if let Some(files) = pod_dir_files(v, data)? {
            pod.pod_dirs.insert(v.name.clone(), files);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (init, c) in spec
        .init_containers
        .iter()
        .map(|c| (true, c))
        .chain(spec.containers.iter().map(|c| (false, c)))
    {
        if !seen.insert(c.name.as_str()) {
            bail!("pod {name:?}: two containers named {:?}", c.name);
        }
        let plan = container_plan(c, meta, spec, &volumes, name, ctx)?;
        if init {
            pod.init_containers.push(plan);
            continue;
        }
        for p in &c.ports {
            let host = match p.host_port.filter(|h| *h != 0) {
                Some(h) => Some(h),
                None if ctx.opts.publish_all => Some(p.container_port),
                None => None,
            };
            if let (Some(host), false) = (host, spec.host_network) {
                let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
                let ip = p
                    .host_ip
                    .as_deref()
                    .map(|ip| format!("{ip}:"))
                    .unwrap_or_default();
                pod.publish
                    .push(format!("{ip}{host}:{}/{proto}", p.container_port));
            }
        }
        pod.containers.push(plan);
    }
    Ok(pod)
}

/// podman's annotation choosing how init containers run.
pub const INIT_TYPE_ANNOTATION: &str = "io.podman.annotations.init.container.type";

/// Init containers run once, before the pod's containers first start;
/// podman's `always` type (again at every pod start) is refused.
fn init_type(meta: &ObjectMeta, pod: &str) -> Result<()> {
    match meta.annotations.get(INIT_TYPE_ANNOTATION).map(String::as_str) {
        None | Some("once") => Ok(()),
        Some("always") => bail!(
            "pod {pod:?}: init containers of type \"always\" are not supported: coracle runs them once, before the pod's containers start"
        ),
        Some(other) => bail!(
            "pod {pod:?}: invalid {INIT_TYPE_ANNOTATION} {other:?}: must be once or always"
        ),
    }
}

/// One container (or init container) of a pod.
fn container_plan(
    c: &Container,
    meta: &ObjectMeta,
    spec: &PodSpec,
    volumes: &BTreeMap<&str, &Volume>,
    pod: &str,
    ctx: &PodContext,
) -> Result<ContainerPlan> {
    if !is_label(&c.name) {
        bail!(
            "pod {pod:?}: invalid container name {:?}: lowercase letters, digits and '-' only",
            c.name
        );
    }
    if c.image.is_empty() {
        bail!("pod {pod:?}: container {:?} has no image", c.name);
    }
    let mut mounts = Vec::new();
    for m in &c.volume_mounts {
        let v = volumes.get(m.name.as_str()).ok_or_else(|| {
            anyhow!(
                "pod {pod:?}: container {:?} mounts volume {:?}, which the pod does not define",
                c.name,
                m.name
            )
        })?;
        mounts.push(mount_plan(m, v)?);
    }
    let (env, secret_env) = env_of(c, ctx.data)?;
    let what = format!("pod {pod:?}: container {:?}", c.name);
    Ok(ContainerPlan {
        name: if ctx.opts.no_pod_prefix {
            c.name.clone()
        } else {
            format!("{pod}-{}", c.name)
        },
        image: c.image.clone(),
        command: c.command.clone(),
        args: c.args.clone(),
        env,
        secret_env,
        workdir: c.working_dir.clone().filter(|w| !w.is_empty()),
        tty: c.tty,
        stdin: c.stdin,
        mounts,
        annotations: meta
            .annotations
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        security: super::play_spec::security(
            c.security_context.as_ref(),
            spec.security_context.as_ref(),
        ),
        limits: super::play_spec::limits(c.resources.as_ref(), &what)?,
        health: super::play_spec::health(c.liveness_probe.as_ref(), &what)?,
        host_pid: spec.host_pid,
        host_ipc: spec.host_ipc,
        seccomp: seccomp_of(&meta.annotations, &c.name, &ctx.opts.seccomp_profile_root)
            .with_context(|| what.clone())?,
    })
}

/// The files of a configMap, secret or emptyDir volume; `None` for the
/// other kinds (which are not the pod's own).
fn pod_dir_files(v: &Volume, data: &DataSources) -> Result<Option<Files>> {
    let (source, items, optional, kind) = if let Some(c) = &v.config_map {
        (
            data.config_maps.get(&c.name),
            &c.items,
            c.optional,
            ("ConfigMap", &c.name),
        )
    } else if let Some(s) = &v.secret {
        (
            data.secrets.get(&s.secret_name),
            &s.items,
            s.optional,
            ("Secret", &s.secret_name),
        )
    } else if v.empty_dir.is_some() {
        return Ok(Some(Vec::new()));
    } else {
        return Ok(None);
    };
    let Some(source) = source else {
        if optional || data.lenient {
            return Ok(Some(Vec::new()));
        }
        bail!("volume {:?}: {} {:?} not found", v.name, kind.0, kind.1);
    };
    let mut files = Vec::new();
    if items.is_empty() {
        for (k, val) in source {
            files.push((k.clone(), val.clone()));
        }
    } else {
        for it in items {
            let val = source.get(&it.key).ok_or_else(|| {
                anyhow!(
                    "volume {:?}: {} {:?} has no key {:?}",
                    v.name,
                    kind.0,
                    kind.1,
                    it.key
                )
            })?;
            files.push((it.path.clone(), val.clone()));
        }
    }
    for (path, _) in &files {
        if path.starts_with('/') || path.split('/').any(|p| p == ".." || p.is_empty()) {
            bail!("volume {:?}: invalid file name {path:?}", v.name);
        }
    }
    Ok(Some(files))
}

fn mount_plan(m: &VolumeMount, v: &Volume) -> Result<MountPlan> {
    let dest = m.mount_path.clone();
    if !dest.starts_with('/') {
        bail!(
            "volume mount {:?}: mountPath {dest:?} is not absolute",
            m.name
        );
    }
    let sub = m.sub_path.clone().filter(|s| !s.is_empty());
    if let Some(s) = &sub {
        if s.starts_with('/') || s.split('/').any(|p| p == "..") {
            bail!("volume mount {:?}: invalid subPath {s:?}", m.name);
        }
    }
    let read_only = m.read_only;
    if let Some(h) = &v.host_path {
        let path = match &sub {
            Some(s) => format!("{}/{s}", h.path.trim_end_matches('/')),
            None => h.path.clone(),
        };
        let kind = h.kind.clone().unwrap_or_default();
        // podman: a path without a slash names a volume
        if !h.path.contains('/') {
            return Ok(MountPlan::Volume {
                name: h.path.clone(),
                dest,
                read_only,
            });
        }
        return Ok(MountPlan::Host {
            path,
            kind,
            dest,
            read_only,
        });
    }
    if let Some(c) = &v.persistent_volume_claim {
        if sub.is_some() {
            bail!(
                "volume mount {:?}: subPath of a persistentVolumeClaim is not supported",
                m.name
            );
        }
        return Ok(MountPlan::Volume {
            name: c.claim_name.clone(),
            dest,
            read_only: read_only || c.read_only,
        });
    }
    if v.config_map.is_some() || v.secret.is_some() || v.empty_dir.is_some() {
        // configMap and secret files are read-only, as in Kubernetes
        let read_only = read_only || v.empty_dir.is_none();
        return Ok(MountPlan::PodDir {
            volume: v.name.clone(),
            sub_path: sub,
            dest,
            read_only,
        });
    }
    bail!("volume {:?}: unsupported volume type: use hostPath, persistentVolumeClaim, configMap, secret or emptyDir", v.name)
}

fn text(bytes: &[u8], what: &str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| anyhow!("{what} is not text"))
}

/// A variable's value: text, or a Secret's key (by its store name).
enum EnvValue {
    Text(String),
    Secret(String),
}

/// `KEY=VALUE` variables, and (variable, store secret name) pairs.
type Env = (Vec<String>, Vec<(String, String)>);

/// The container's environment: `envFrom` first, `env` over it. Values
/// from Secrets come back apart, as store names (`secret_name`).
fn env_of(c: &Container, data: &DataSources) -> Result<Env> {
    let mut out: Vec<(String, EnvValue)> = Vec::new();
    let mut set = |k: String, v: EnvValue| {
        out.retain(|(k2, _)| *k2 != k);
        out.push((k, v));
    };
    for from in &c.env_from {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (source, r, kind) = if let Some(r) = &from.config_map_ref {
            (data.config_maps.get(&r.name), r, "ConfigMap")
        } else if let Some(r) = &from.secret_ref {
            (data.secrets.get(&r.name), r, "Secret")
        } else {
            continue;
        };
        let Some(source) = source else {
            if r.optional || data.lenient {
                continue;
            }
            bail!(
                "container {:?}: envFrom: {kind} {:?} not found",
                c.name,
                r.name
            );
        };
        for (k, v) in source {
            let value = text(v, &format!("{kind} {:?} key {k:?}", r.name))?;
            set(format!("{prefix}{k}"), env_value(kind, &r.name, k, value));
        }
    }
    for e in &c.env {
        if let Some(v) = &e.value {
            set(e.name.clone(), EnvValue::Text(v.clone()));
            continue;
        }
        let Some(from) = &e.value_from else {
            set(e.name.clone(), EnvValue::Text(String::new()));
            continue;
        };
        let (source, r, kind) = if let Some(r) = &from.config_map_key_ref {
            (data.config_maps.get(&r.name), r, "ConfigMap")
        } else if let Some(r) = &from.secret_key_ref {
            (data.secrets.get(&r.name), r, "Secret")
        } else {
            bail!(
                "container {:?}: env {:?}: valueFrom supports configMapKeyRef and secretKeyRef",
                c.name,
                e.name
            );
        };
        match source.and_then(|s| s.get(&r.key)) {
            Some(v) => {
                let value = text(v, &format!("{kind} {:?} key {:?}", r.name, r.key))?;
                set(e.name.clone(), env_value(kind, &r.name, &r.key, value))
            }
            None if r.optional || data.lenient => {}
            None if source.is_none() => {
                bail!(
                    "container {:?}: env {:?}: {kind} {:?} not found",
                    c.name,
                    e.name,
                    r.name
                )
            }
            None => bail!(
                "container {:?}: env {:?}: {kind} {:?} has no key {:?}",
                c.name,
                e.name,
                r.name,
                r.key
            ),
        }
    }
    let mut env = Vec::new();
    let mut secret_env = Vec::new();
    for (k, v) in out {
        match v {
            EnvValue::Text(v) => env.push(format!("{k}={v}")),
            EnvValue::Secret(s) => secret_env.push((k, s)),
        }
    }
    Ok((env, secret_env))
}

/// A Secret's value goes by the store (an empty one has nothing to hide,
/// and the store keeps no empty secret).
fn env_value(kind: &str, name: &str, key: &str, value: String) -> EnvValue {
    if kind == "Secret" && !value.is_empty() {
        EnvValue::Secret(secret_name(name, key))
    } else {
        EnvValue::Text(value)
    }
}

/// The container port and protocol a `-p` spec publishes to.
fn target_of(spec: &str) -> (String, String) {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let target = ports.rsplit(':').next().unwrap_or(ports);
    (target.to_string(), proto.to_ascii_lowercase())
}

/// `--publish`: a spec replaces the YAML's for the same container port.
fn override_ports(publish: &mut Vec<String>, extra: &[String]) -> Result<()> {
    for e in extra {
        if !e.contains(':') {
            bail!("--publish {e:?}: give HOSTPORT:CONTAINERPORT");
        }
        let t = target_of(e);
        publish.retain(|p| target_of(p) != t);
        publish.push(e.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  GREETING: hello
  file.txt: content
---
apiVersion: v1
kind: Secret
metadata:
  name: sec
data:
  pw: c2VjcmV0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: app
        image: busybox
        ports:
        - containerPort: 80
          hostPort: 8080
        envFrom:
        - configMapRef:
            name: cfg
        env:
        - name: PW
          valueFrom:
            secretKeyRef:
              name: sec
              key: pw
        volumeMounts:
        - name: conf
          mountPath: /conf
      volumes:
      - name: conf
        configMap:
          name: cfg
"#;

    #[test]
    fn deployment_with_config() {
        let p = plan(APP, "app.yaml", &PlanOptions::default()).unwrap();
        assert_eq!(p.pods.len(), 2);
        assert_eq!(p.pods[0].name, "web-pod-0");
        assert_eq!(p.pods[0].publish, ["8080:80/tcp"]);
        assert!(p.pods[1].publish.is_empty());
        let c = &p.pods[0].containers[0];
        assert_eq!(c.name, "web-pod-0-app");
        assert!(c.env.contains(&"GREETING=hello".to_string()));
        // a Secret's value stays out of the plain environment
        assert!(!c.env.iter().any(|e| e.starts_with("PW=")));
        assert_eq!(c.secret_env, [("PW".into(), secret_name("sec", "pw"))]);
        assert_eq!(p.secrets[&secret_name("sec", "pw")], b"secret");
        assert_eq!(p.pods[0].pod_dirs["conf"].len(), 2);
        let opts = PlanOptions {
            publish: vec!["9090:80".into()],
            ..Default::default()
        };
        let p = plan(APP, "app.yaml", &opts).unwrap();
        assert_eq!(p.pods[0].publish, ["9090:80"]);
    }

    #[test]
    fn publish_all_and_no_pod_prefix() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: x\n    ports:\n    - containerPort: 8080\n    - containerPort: 53\n      protocol: UDP\n      hostPort: 5353\n";
        let p = plan(text, "f", &PlanOptions::default()).unwrap();
        assert_eq!(p.pods[0].publish, ["5353:53/udp"]);
        assert_eq!(p.pods[0].containers[0].name, "p-a");
        let opts = PlanOptions {
            publish_all: true,
            no_pod_prefix: true,
            ..Default::default()
        };
        let p = plan(text, "f", &opts).unwrap();
        assert_eq!(p.pods[0].publish, ["8080:8080/tcp", "5353:53/udp"]);
        assert_eq!(p.pods[0].containers[0].name, "a");
    }

    #[test]
    fn init_containers_and_host_network() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostNetwork: true\n  initContainers:\n  - name: setup\n    image: x\n  containers:\n  - name: a\n    image: x\n    ports:\n    - containerPort: 80\n      hostPort: 8080\n";
        let p = plan(text, "f", &PlanOptions::default()).unwrap();
        let pod = &p.pods[0];
        assert!(pod.host_network);
        // the host's ports are the pod's already
        assert!(pod.publish.is_empty());
        assert_eq!(pod.init_containers[0].name, "p-setup");
        assert_eq!(pod.containers.len(), 1);
        let twice = text.replace("name: setup", "name: a");
        let e = plan(&twice, "f", &PlanOptions::default()).unwrap_err();
        assert!(e.to_string().contains("two containers named"), "{e}");
        let always = text.replace(
            "  name: p\n",
            "  name: p\n  annotations:\n    io.podman.annotations.init.container.type: always\n",
        );
        let e = plan(&always, "f", &PlanOptions::default()).unwrap_err();
        assert!(e.to_string().contains("\"always\""), "{e}");
    }

    #[test]
    fn names_are_never_paths() {
        let o = PlanOptions::default();
        let pod = |name: &str| {
            format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: a\n    image: x\n")
        };
        plan(&pod("ok-1"), "f", &o).unwrap();
        assert!(plan(&pod("../up"), "f", &o).is_err());
        assert!(plan(&pod("a/b"), "f", &o).is_err());
        let key = "kind: ConfigMap\nmetadata:\n  name: c\ndata:\n  ../x: y\n";
        assert!(plan(key, "f", &o)
            .unwrap_err()
            .to_string()
            .contains("invalid key"));
        let vol = format!(
            "{}  volumes:\n  - name: ../v\n    emptyDir: {{}}\n",
            pod("p")
        );
        assert!(plan(&vol, "f", &o).is_err());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = plan(
            "kind: Pod\nspec:\n  containers: [\n",
            "bad.yaml",
            &PlanOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("bad.yaml: ") && e.contains("line"), "{e}");
        let e = plan(
            "kind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: x\n    ports:\n    - containerPort: abc\n",
            "t.yaml",
            &PlanOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 9"), "{e}");
    }
}
