//! `build`: a Containerfile's text and the build options to an image, its
//! base images found (or pulled) as the pull policy says, and the event.

use super::types::{BuildOptions, Containerfile, ImageRecord};

use super::create::{self, CreateLimits, ImageSource};
use super::types::{ContainerConfig, NamespaceMode, NetworkMode};
use crate::build::{builder, containerfile};
use crate::storage::events::{self, Event};
use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::cell::RefCell;

/// A Containerfile read and checked, before anything else is done.
pub fn parse_containerfile(text: &str, name: &str) -> Result<Containerfile> {
    containerfile::parse(text, name).map_err(|e| anyhow::anyhow!("{e}"))
}

/// What to build.
pub struct BuildRequest {
    /// The parsed Containerfile (`parse_containerfile`)
    pub file: Containerfile,
    pub options: BuildOptions,
    /// How base images are found: pulled as the policy says. A bad
    /// registry option is reported only when a base image is looked up.
    pub source: ImageSource,
}

/// Build the image and record the `build` event.
pub fn build(store: &Store, req: BuildRequest) -> Result<ImageRecord> {
    let policy = req.source.policy;
    let options = RefCell::new(req.source.options.map_err(Some));
    let resolve = |name: &str| {
        if let Ok(opts) = &*options.borrow() {
            return super::images::ensure_image(store, name, &policy, opts);
        }
        let e = options.borrow_mut().as_mut().err().and_then(Option::take);
        Err(e.unwrap_or_else(|| anyhow::anyhow!("invalid registry options")))
    };
    let img = builder::build(store, &req.file, &req.options, &resolve)?;
    let name = req.options.tags.first().unwrap_or(&img.id);
    events::append(store, Event::image("build", &img.id, name));
    Ok(img)
}

/// The container settings every RUN step gets (`build --network`,
/// `--volume`, capabilities, limits, DNS...), in podman's flag syntax.
#[derive(Debug, Default, Clone)]
pub struct RunRequest {
    /// `None`: a private namespace with only `lo`, as before.
    pub network: Option<NetworkMode>,
    pub volume: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub ulimit: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub add_host: Vec<String>,
    pub ipc: Option<NamespaceMode>,
    pub pid: Option<NamespaceMode>,
    pub uts: Option<NamespaceMode>,
    pub limits: CreateLimits,
}

/// The RUN steps' container template, every value checked as `run`
/// checks it, before any step runs.
pub fn run_template(r: &RunRequest) -> Result<ContainerConfig> {
    let mut mounts = Vec::new();
    for v in &r.volume {
        mounts.push(create::parse_volume(v)?);
    }
    for u in &r.ulimit {
        crate::runtime::spec::parse_ulimit(u)?;
    }
    crate::runtime::caps::effective_set(false, &r.cap_add, &r.cap_drop)?;
    create::check_security_opts(&r.security_opt)?;
    let network = match &r.network {
        None => NetworkMode::Private,
        Some(NetworkMode::Container(_)) => bail!("--network container: is not supported by build"),
        Some(mode) => create::network_mode(Some(mode))?,
    };
    let namespace = |what: &str, m: &Option<NamespaceMode>| -> Result<NamespaceMode> {
        match m {
            Some(NamespaceMode::Container(_)) => {
                bail!("--{what} container: is not supported by build")
            }
            Some(m) => Ok(m.clone()),
            None => Ok(NamespaceMode::default()),
        }
    };
    let (resources, cgroups) = r.limits.resources(crate::runtime::userns::is_rootless())?;
    Ok(ContainerConfig {
        mounts,
        cap_add: r.cap_add.clone(),
        cap_drop: r.cap_drop.clone(),
        security_opt: r.security_opt.clone(),
        ulimits: r.ulimit.clone(),
        network,
        dns: r.dns.clone(),
        dns_search: r.dns_search.clone(),
        dns_options: r.dns_option.clone(),
        add_hosts: r.add_host.clone(),
        ipc: namespace("ipc", &r.ipc)?,
        pid: namespace("pid", &r.pid)?,
        uts: namespace("uts", &r.uts)?,
        resources,
        cgroup_parent: r.limits.cgroup_parent.clone().unwrap_or_default(),
        cgroups,
        ..Default::default()
    })
}
