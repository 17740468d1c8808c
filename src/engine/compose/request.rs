//! A service to the engine's container request: docker's names
//! (`<project>-<service>-<n>`, `<project>_<volume>`) and labels
//! (`com.docker.compose.*`), and the hash of the service's config that
//! tells `up` whether a container still matches its file.

use super::model::{FileMount, FileSource, MountType, Project, Service};
use crate::engine::create::{ContainerRequest, CreateLimits, ImageSource, Limits, ServiceRequest};
use crate::engine::types::{NetworkMode, RestartPolicy};
use anyhow::Result;
use std::collections::BTreeMap;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const HASH: &str = "com.docker.compose.config-hash";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";
pub const SECRET: &str = "com.docker.compose.secret";
pub const CONFIG: &str = "com.docker.compose.config";

/// The secret store's name of a secret or config: an external one's own,
/// else `<project>_<secret|config>_<key>` (what `up` keeps there).
pub fn stored_name(p: &Project, label: &str, key: &str, src: &FileSource) -> String {
    if src.external {
        return src.name.clone().unwrap_or_else(|| key.to_string());
    }
    let kind = label.rsplit('.').next().unwrap_or(label);
    format!("{}_{kind}_{key}", p.name)
}

/// `--secret` of a mount: the stored secret at the target, with its owner
/// and mode.
fn secret_spec(name: &str, f: &FileMount) -> String {
    let mut spec = format!("{name},type=mount,target={}", f.target);
    if let Some(u) = f.uid {
        spec += &format!(",uid={u}");
    }
    if let Some(g) = f.gid {
        spec += &format!(",gid={g}");
    }
    if let Some(m) = f.mode {
        spec += &format!(",mode={m:o}");
    }
    spec
}

/// The image a service runs: its `image`, else `<project>-<service>` (what
/// its build is tagged).
pub fn image_name(p: &Project, service: &str) -> String {
    match &p.services[service].image {
        Some(i) => i.clone(),
        None => format!("{}-{service}", p.name),
    }
}

/// The name of a service's container number `n`.
pub fn container_name(p: &Project, service: &str, n: u32) -> String {
    match &p.services[service].container_name {
        Some(c) => c.clone(),
        None => format!("{}-{service}-{n}", p.name),
    }
}

/// The hash `up` compares: the service's normalized config (its replica
/// count left out: scaling keeps the containers there are).
pub fn config_hash(s: &Service) -> String {
    let mut s = s.clone();
    s.replicas = 1;
    let json = serde_json::to_vec(&s).unwrap_or_default();
    crate::storage::digest::Digest::of_bytes(&json)
        .hex()
        .to_string()
}

/// The labels every resource of the project carries.
pub fn project_labels(p: &Project) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert(PROJECT.to_string(), p.name.clone());
    l
}

/// Whose container this is, as its labels say.
pub struct Owner<'a> {
    pub service: &'a str,
    pub number: u32,
    pub oneoff: bool,
}

/// The request that makes container `owner` of the service. `container_of`
/// finds a running container of another service (`network_mode: service:`).
pub fn request(
    p: &Project,
    owner: &Owner,
    name: String,
    container_of: &dyn Fn(&str) -> Result<String>,
) -> Result<ContainerRequest> {
    let s = &p.services[owner.service];
    let mut labels = s.labels.clone();
    labels.insert(PROJECT.into(), p.name.clone());
    labels.insert(SERVICE.into(), owner.service.to_string());
    labels.insert(NUMBER.into(), owner.number.to_string());
    labels.insert(HASH.into(), config_hash(s));
    labels.insert(
        ONEOFF.into(),
        if owner.oneoff { "True" } else { "False" }.into(),
    );
    labels.insert(WORKING_DIR.into(), p.working_dir.display().to_string());
    let files: Vec<String> = p.files.iter().map(|f| f.display().to_string()).collect();
    labels.insert(CONFIG_FILES.into(), files.join(","));

    let mut volume = Vec::new();
    let mut tmpfs = s.tmpfs.clone();
    for m in &s.volumes {
        let mut opts: Vec<&str> = Vec::new();
        if m.read_only {
            opts.push("ro");
        }
        if let Some(o) = &m.options {
            opts.extend(
                o.split(',')
                    .filter(|o| !matches!(*o, "cached" | "delegated" | "consistent" | "nocopy")),
            );
        }
        let suffix = match opts.is_empty() {
            true => String::new(),
            false => format!(":{}", opts.join(",")),
        };
        match (&m.kind, &m.source) {
            (MountType::Tmpfs, _) => tmpfs.push(match m.size {
                Some(sz) => format!("{}:size={sz}", m.target),
                None => m.target.clone(),
            }),
            (MountType::Volume, Some(key)) => {
                volume.push(format!("{}:{}{suffix}", p.volumes[key].name, m.target))
            }
            (MountType::Volume, None) => volume.push(m.target.clone()),
            (MountType::Bind, Some(src)) => volume.push(format!("{src}:{}{suffix}", m.target)),
            (MountType::Bind, None) => {}
        }
    }
    // A file is bound as docker does; anything else is in the secret
    // store, copied in at start (never in the container's record).
    let mut secret = Vec::new();
    for (kind, mounts, sources) in [
        (SECRET, &s.secrets, &p.secrets),
        (CONFIG, &s.configs, &p.configs),
    ] {
        for f in mounts {
            let src = &sources[&f.source];
            match &src.file {
                Some(file) => volume.push(format!("{file}:{}:ro", f.target)),
                None => secret.push(secret_spec(&stored_name(p, kind, &f.source, src), f)),
            }
        }
    }

    let mut attachments = BTreeMap::new();
    let network = match &s.network_mode {
        Some(mode) => Some(match mode.strip_prefix("service:") {
            Some(other) => NetworkMode::Container(container_of(other)?),
            None => mode
                .parse::<NetworkMode>()
                .map_err(|e| anyhow::anyhow!("service {:?}: network_mode: {e}", owner.service))?,
        }),
        None => {
            let mut names = Vec::new();
            for (key, sn) in &s.networks {
                let real = p.networks[key].name.clone();
                let mut aliases = vec![owner.service.to_string()];
                aliases.extend(sn.aliases.iter().cloned());
                let a = crate::engine::networks::attachment(
                    sn.ipv4_address.as_deref(),
                    None,
                    &aliases,
                )?;
                attachments.insert(real.clone(), a);
                names.push(real);
            }
            Some(NetworkMode::Bridge(names))
        }
    };

    let hc = s.healthcheck.clone().unwrap_or_default();
    let service = ServiceRequest {
        restart: match &s.restart {
            Some(r) => r
                .parse::<RestartPolicy>()
                .map_err(|e| anyhow::anyhow!("service {:?}: restart: {e}", owner.service))?,
            None => RestartPolicy::No,
        },
        health_cmd: match hc.test.is_empty() {
            true => None,
            false => Some(serde_json::to_string(&hc.test)?),
        },
        no_healthcheck: hc.disable,
        health_interval: hc.interval,
        health_timeout: hc.timeout,
        health_start_period: hc.start_period,
        health_retries: hc.retries,
        health_on_failure: "none".into(),
        health_max_log_count: 5,
        health_max_log_size: 500,
        health_startup_interval: "30s".into(),
        health_startup_timeout: "30s".into(),
        sdnotify: "container".into(),
        ..Default::default()
    };
    let parse_ns = |what: &str, v: &Option<String>| {
        v.as_deref()
            .map(|m| {
                m.parse()
                    .map_err(|e| anyhow::anyhow!("service {:?}: {what}: {e}", owner.service))
            })
            .transpose()
    };
    Ok(ContainerRequest {
        image: image_name(p, owner.service),
        source: ImageSource {
            policy: "missing".into(),
            options: Ok(Default::default()),
        },
        command: s.command.clone().unwrap_or_default(),
        name: Some(name),
        interactive: s.stdin_open,
        tty: s.tty,
        env: s
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        workdir: s.working_dir.clone(),
        user: s.user.clone(),
        entrypoint: match &s.entrypoint {
            Some(e) => Some(serde_json::to_string(e)?),
            None => None,
        },
        volume,
        secret,
        tmpfs,
        image_volume: "bind".into(),
        read_only: s.read_only,
        hostname: s.hostname.clone(),
        init: s.init,
        label: labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        privileged: s.privileged,
        security_opt: s.security_opt.clone(),
        ulimit: s.ulimits.clone(),
        network,
        network_attachments: attachments,
        publish: s.ports.iter().map(|p| p.publish_flag()).collect(),
        dns: s.dns.clone(),
        dns_search: s.dns_search.clone(),
        dns_option: s.dns_opt.clone(),
        add_host: s.extra_hosts.clone(),
        stop_signal: s.stop_signal.clone(),
        stop_timeout: s.stop_grace_period,
        log_driver: "k8s-file".into(),
        service,
        ipc: parse_ns("ipc", &s.ipc)?,
        pid: parse_ns("pid", &s.pid)?,
        limits: CreateLimits {
            limits: Limits {
                memory: s.limits.memory.clone(),
                cpus: s.limits.cpus,
                pids_limit: s.limits.pids,
                ..Default::default()
            },
            cgroups: "enabled".into(),
            ..Default::default()
        },
        ..Default::default()
    })
}
