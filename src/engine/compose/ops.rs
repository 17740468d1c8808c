//! The verbs on a project's containers: stop, start, restart, kill, rm,
//! down (containers, then the project's networks, with `-v` its volumes,
//! with `--rmi` its images), a one-off `run`, and what `images` and `port`
//! show.

use super::check::start_order;
use super::members::{members, Member};
use super::model::Project;
use super::request::{self, Owner};
use super::up::Progress;
use crate::engine::containers::{self, Removal};
use crate::engine::types::Store;
use anyhow::{bail, Result};

/// The project's service containers for `services` (all when empty),
/// in dependency order, or the reverse.
pub fn selected(
    store: &Store,
    p: &Project,
    services: &[String],
    reverse: bool,
) -> Result<Vec<Member>> {
    let mut order = start_order(p, services, false)?;
    if reverse {
        order.reverse();
    }
    let mut all = members(store, &p.name)?;
    let mut out = Vec::new();
    for s in &order {
        let (mine, rest): (Vec<Member>, Vec<Member>) =
            all.into_iter().partition(|m| &m.service == s && !m.oneoff);
        out.extend(mine);
        all = rest;
    }
    Ok(out)
}

pub fn stop(
    store: &Store,
    p: &Project,
    services: &[String],
    timeout: Option<u32>,
    say: Progress,
) -> Result<()> {
    for m in selected(store, p, services, true)? {
        if m.running() {
            say("Container", m.name(), "Stopping");
            containers::stop(store, m.id(), timeout)?;
            say("Container", m.name(), "Stopped");
        }
    }
    Ok(())
}

pub fn start(store: &Store, p: &Project, services: &[String], say: Progress) -> Result<()> {
    let found = selected(store, p, services, false)?;
    if found.is_empty() {
        bail!("no containers to start");
    }
    for m in found {
        if !m.running() {
            containers::start(store, m.id())?;
            say("Container", m.name(), "Started");
        }
    }
    Ok(())
}

pub fn restart(
    store: &Store,
    p: &Project,
    services: &[String],
    timeout: Option<u32>,
    say: Progress,
) -> Result<()> {
    for m in selected(store, p, services, false)? {
        containers::restart(store, m.id(), timeout)?;
        say("Container", m.name(), "Restarted");
    }
    Ok(())
}

pub fn kill(
    store: &Store,
    p: &Project,
    services: &[String],
    signal: &str,
    say: Progress,
) -> Result<()> {
    let sig = containers::parse_signal(signal)?;
    for m in selected(store, p, services, true)? {
        if m.running() {
            containers::kill(store, m.id(), sig)?;
            say("Container", m.name(), "Killed");
        }
    }
    Ok(())
}

/// `rm`: the stopped containers (with `stop`, running ones are stopped
/// first); returns what was removed.
pub fn rm(
    store: &Store,
    p: &Project,
    services: &[String],
    stop: bool,
    volumes: bool,
    say: Progress,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for m in selected(store, p, services, true)? {
        if m.running() && !stop {
            continue;
        }
        let how = Removal {
            force: true,
            stop_timeout: None,
            volumes,
        };
        containers::remove(store, m.id(), how)?;
        say("Container", m.name(), "Removed");
        removed.push(m.name().to_string());
    }
    Ok(removed)
}

/// The containers `rm` would remove.
pub fn removable(
    store: &Store,
    p: &Project,
    services: &[String],
    stop: bool,
) -> Result<Vec<String>> {
    Ok(selected(store, p, services, true)?
        .into_iter()
        .filter(|m| stop || !m.running())
        .map(|m| m.name().to_string())
        .collect())
}

/// What `down` was asked.
#[derive(Debug, Default, Clone)]
pub struct DownOptions {
    pub volumes: bool,
    pub remove_orphans: bool,
    /// `local` (images built without an `image:` name) or `all`
    pub rmi: Option<String>,
    pub timeout: Option<u32>,
}

/// `down`: the containers of the file's services (and one-off ones), the
/// orphans when asked, the project's networks, and as asked its volumes
/// and images. External networks and volumes are never removed.
pub fn down(store: &Store, p: &Project, o: &DownOptions, say: Progress) -> Result<()> {
    if let Some(r) = &o.rmi {
        if r != "local" && r != "all" {
            bail!("invalid --rmi {r:?}: use local or all");
        }
    }
    let mut all = members(store, &p.name)?;
    // Dependents first.
    let order = start_order(p, &[], false)?;
    all.sort_by_key(|m| std::cmp::Reverse(order.iter().position(|s| *s == m.service)));
    stop_together(store, p, &all, o.timeout)?;
    let mut orphans = Vec::new();
    for m in &all {
        if !p.services.contains_key(&m.service) && !m.oneoff {
            orphans.push(m.name().to_string());
            if !o.remove_orphans {
                continue;
            }
        }
        let how = Removal {
            force: true,
            stop_timeout: o.timeout,
            volumes: o.volumes,
        };
        if m.running() {
            say("Container", m.name(), "Stopping");
        }
        containers::remove(store, m.id(), how)?;
        say("Container", m.name(), "Removed");
    }
    if !orphans.is_empty() && !o.remove_orphans {
        crate::warn!("Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", orphans.join(", "));
    }
    for n in p.networks.values().filter(|n| !n.external) {
        if crate::engine::networks::exists(store, &n.name)? {
            let r = crate::engine::networks::Removal {
                names: vec![n.name.clone()],
                ..Default::default()
            };
            crate::engine::networks::remove(store, &r)?;
            say("Network", &n.name, "Removed");
        }
    }
    // The secrets and configs `up` put in the secret store.
    let ours =
        crate::engine::secrets::list(store, &[format!("label={}={}", request::PROJECT, p.name)])?;
    let made: Vec<String> = ours
        .into_iter()
        .filter(|r| {
            r.labels.contains_key(request::SECRET) || r.labels.contains_key(request::CONFIG)
        })
        .map(|r| r.name)
        .collect();
    if !made.is_empty() {
        let gone = crate::engine::secrets::remove(store, &made, false, true)?;
        if let Some(e) = gone.error {
            return Err(e);
        }
    }
    if o.volumes {
        for v in p.volumes.values().filter(|v| !v.external) {
            if store.volumes.exists(&v.name) {
                let r = crate::engine::volumes::Removal {
                    names: vec![v.name.clone()],
                    ..Default::default()
                };
                crate::engine::volumes::remove(store, &r)?;
                say("Volume", &v.name, "Removed");
            }
        }
    }
    if let Some(r) = &o.rmi {
        for (name, s) in &p.services {
            if r == "local" && s.image.is_some() {
                continue;
            }
            let image = request::image_name(p, name);
            if super::up::local_image(store, &image).is_none() {
                continue;
            }
            let rm = crate::engine::images::Removal {
                images: vec![image.clone()],
                ignore_missing: true,
                ..Default::default()
            };
            let report = crate::engine::images::remove(store, &rm)?;
            if let Some(e) = report.error {
                crate::warn!("{e:#}");
            } else {
                say("Image", &image, "Removed");
            }
        }
    }
    Ok(())
}

/// Stop the running containers of `all` that `down` removes: those of a
/// dependency level together (one thread each: each stop is mostly
/// waiting), dependents' levels first. Orphans are stopped by `remove`.
fn stop_together(store: &Store, p: &Project, all: &[Member], timeout: Option<u32>) -> Result<()> {
    let order = start_order(p, &[], false)?;
    for level in super::up::levels(p, &order).iter().rev() {
        let ids: Vec<&str> = all
            .iter()
            .filter(|m| m.running() && !m.oneoff && level.contains(&m.service))
            .map(|m| m.id())
            .collect();
        let failed = std::thread::scope(|s| {
            let running: Vec<_> = ids
                .iter()
                .map(|id| s.spawn(move || containers::stop(store, id, timeout)))
                .collect();
            running
                .into_iter()
                .find_map(|t| t.join().ok().and_then(Result::err))
        });
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
}

/// A one-off container of a service (`run`): named
/// `<project>-<service>-run-<id>`, labelled oneoff, its command and a few
/// settings replaced.
pub struct RunRequest {
    pub service: String,
    pub command: Vec<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub name: Option<String>,
    pub rm: bool,
    pub tty: bool,
    pub interactive: bool,
    pub publish: Vec<String>,
    /// Keep the service's ports (`--service-ports`)
    pub service_ports: bool,
    pub volumes: Vec<String>,
    pub labels: Vec<String>,
}

/// Create the one-off container; returns its id.
pub fn create_oneoff(store: &Store, p: &Project, r: RunRequest) -> Result<String> {
    let suffix = &crate::storage::containers::new_id()[..12];
    let name = r
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{suffix}", p.name, r.service));
    let owner = Owner {
        service: &r.service,
        number: 1,
        oneoff: true,
    };
    let mut req = request::request(p, &owner, name, &|other| {
        super::up::first_container(store, p, other)
    })?;
    if !r.command.is_empty() {
        req.command = r.command;
    }
    if r.entrypoint.is_some() {
        req.entrypoint = r.entrypoint;
    }
    req.env.extend(r.env);
    if r.user.is_some() {
        req.user = r.user;
    }
    if r.workdir.is_some() {
        req.workdir = r.workdir;
    }
    if !r.service_ports {
        req.publish.clear();
    }
    req.publish.extend(r.publish);
    req.volume.extend(r.volumes);
    req.label.extend(r.labels);
    // A one-off container does not restart, and goes with `--rm`.
    req.service.restart = Default::default();
    req.rm = r.rm;
    req.tty = r.tty;
    req.interactive = r.interactive;
    Ok(crate::engine::create::create_container(store, req)?.id)
}

/// `port`: the host address of a service container's published port.
pub fn port(
    store: &Store,
    p: &Project,
    service: &str,
    index: u32,
    port: u16,
    proto: &str,
) -> Result<Option<String>> {
    let m = selected(store, p, &[service.to_string()], false)?
        .into_iter()
        .find(|m| m.number == index)
        .ok_or_else(|| anyhow::anyhow!("service {service:?} has no container number {index}"))?;
    let cfg = &m.listed.cfg;
    Ok(cfg
        .ports
        .iter()
        .find(|pm| pm.protocol == proto && pm.container_port == port)
        .map(|pm| {
            let ip = if pm.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                pm.host_ip.as_str()
            };
            format!("{ip}:{}", pm.host_port)
        }))
}
