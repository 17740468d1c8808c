//! `compose up`: the project's networks and volumes, its images (built or
//! pulled), then each service's containers in dependency order, waiting
//! for what `depends_on` asks (started, healthy, completed). A container
//! whose config hash and image still match is kept; any other is
//! recreated under the same name.

use super::check::start_order;
use super::members::{members, Member};
use super::model::Project;
use super::request::{self, Owner};
use crate::engine::containers::{self, Removal};
use crate::engine::types::{BuildOptions, Store};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// What `up` was asked.
#[derive(Debug, Default, Clone)]
pub struct UpOptions {
    pub services: Vec<String>,
    pub no_deps: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    /// Build images before starting (`--build`)
    pub build: bool,
    pub no_build: bool,
    /// `--pull`: always, missing, never (default: each service's pull_policy)
    pub pull: Option<String>,
    pub scale: BTreeMap<String, u32>,
    /// Create, do not start (`--no-start`)
    pub no_start: bool,
    /// Recreate the services named's dependencies (`--always-recreate-deps`)
    pub always_recreate_deps: bool,
    /// A recreated container gets new anonymous volumes instead of its
    /// predecessor's (`--renew-anon-volumes`)
    pub renew_anon_volumes: bool,
    /// Pull without progress (`--quiet-pull`)
    pub quiet_pull: bool,
    pub remove_orphans: bool,
    /// Seconds a stop waits before SIGKILL
    pub timeout: Option<u32>,
    /// Wait for services running and healthy (`--wait`), at most this long
    pub wait: Option<Duration>,
}

/// A line of progress, docker's: `Container app-web-1  Started`.
pub type Progress<'a> = &'a dyn Fn(&str, &str, &str);

/// The project's networks and volumes that `services` use, created unless
/// they exist (an external one must).
pub fn ensure_resources(
    store: &Store,
    p: &Project,
    services: &[String],
    say: Progress,
) -> Result<()> {
    let mut nets = BTreeSet::new();
    let mut vols = BTreeSet::new();
    for s in services {
        let svc = &p.services[s];
        nets.extend(svc.networks.keys().cloned());
        for m in &svc.volumes {
            if let (super::model::MountType::Volume, Some(v)) = (&m.kind, &m.source) {
                vols.insert(v.clone());
            }
        }
    }
    ensure_stored_files(store, p, services)?;
    for key in nets {
        let n = &p.networks[&key];
        if crate::engine::networks::exists(store, &n.name)? {
            continue;
        }
        if n.external {
            bail!(
                "network {} declared as external, but could not be found",
                n.name
            );
        }
        let mut labels = n.labels.clone();
        labels.extend(request::project_labels(p));
        labels.insert(request::NETWORK.into(), key.clone());
        crate::engine::networks::create(
            store,
            crate::engine::networks::NewNetwork {
                name: Some(n.name.clone()),
                driver: "bridge".into(),
                subnets: n.subnets.clone(),
                internal: n.internal,
                interface_name: n.bridge_name.clone(),
                labels,
                ignore_existing: true,
                ..Default::default()
            },
        )?;
        say("Network", &n.name, "Created");
    }
    for key in vols {
        let v = &p.volumes[&key];
        if store.volumes.exists(&v.name) {
            continue;
        }
        if v.external {
            bail!("external volume {:?} not found", v.name);
        }
        let mut labels = v.labels.clone();
        labels.extend(request::project_labels(p));
        labels.insert(request::VOLUME.into(), key.clone());
        crate::engine::volumes::create(
            store,
            crate::engine::volumes::NewVolume {
                name: Some(v.name.clone()),
                driver: crate::engine::types::LOCAL_DRIVER.into(),
                options: v
                    .driver_opts
                    .iter()
                    .map(|(k, x)| format!("{k}={x}"))
                    .collect(),
                labels,
                ignore_existing: true,
                ..Default::default()
            },
        )?;
        say("Volume", &v.name, "Created");
    }
    Ok(())
}

/// The secrets and configs `services` mount that live in the secret
/// store: a variable's value or inline content put there (refreshed each
/// time), an external secret checked.
fn ensure_stored_files(store: &Store, p: &Project, services: &[String]) -> Result<()> {
    let mut wanted = BTreeMap::new();
    for s in services {
        let svc = &p.services[s];
        for (label, mounts, sources) in [
            (request::SECRET, &svc.secrets, &p.secrets),
            (request::CONFIG, &svc.configs, &p.configs),
        ] {
            for f in mounts {
                let src = &sources[&f.source];
                if src.file.is_none() {
                    let name = request::stored_name(p, label, &f.source, src);
                    wanted.insert(name, (label, f.source.clone(), src));
                }
            }
        }
    }
    // Every external one checked before anything is made.
    for (name, (_, _, src)) in &wanted {
        if src.external && !crate::engine::secrets::exists(store, name) {
            bail!("external secret {name:?} not found: create it with `coracle secret create {name} FILE`");
        }
    }
    for (name, (label, key, src)) in wanted {
        if src.external {
            continue;
        }
        let mut labels = request::project_labels(p);
        labels.insert(label.to_string(), key);
        crate::engine::secrets::create(
            store,
            crate::engine::secrets::NewSecret {
                name,
                data: src.data().unwrap_or_default().as_bytes().to_vec(),
                driver: crate::storage::secrets::FILE_DRIVER.into(),
                driver_options: Default::default(),
                labels,
                replace: true,
                ignore: false,
            },
        )?;
    }
    Ok(())
}

/// The local image `name`, if there is one.
pub fn local_image(store: &Store, name: &str) -> Option<crate::engine::types::ImageRecord> {
    crate::engine::images::ensure_image(store, name, "never", &Default::default()).ok()
}

/// Build service `name`'s image (tagged as `request::image_name`).
pub fn build_service(store: &Store, p: &Project, name: &str, no_cache: bool) -> Result<String> {
    let Some(b) = &p.services[name].build else {
        bail!("service {name:?} has no build section");
    };
    let context = Path::new(&b.context);
    let file = match &b.dockerfile {
        Some(f) => context.join(f),
        None => ["Containerfile", "Dockerfile"]
            .iter()
            .map(|n| context.join(n))
            .find(|f| f.is_file())
            .unwrap_or_else(|| context.join("Dockerfile")),
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("service {name:?}: reading {}", file.display()))?;
    let parsed = crate::engine::build::parse_containerfile(&text, &file.display().to_string())?;
    let image = request::image_name(p, name);
    let tag = crate::engine::images::local_name(&image)?;
    let img = crate::engine::build::build(
        store,
        crate::engine::build::BuildRequest {
            file: parsed,
            options: BuildOptions {
                context: context.to_path_buf(),
                tags: vec![tag],
                commit_name: Some(image),
                target: b.target.clone(),
                build_args: b.args.clone(),
                no_cache: no_cache || b.no_cache,
                quiet: true,
                edits: crate::engine::types::ImageEdits {
                    labels: b.labels.clone(),
                    ..Default::default()
                },
                ..Default::default()
            },
            source: Default::default(),
        },
    )?;
    Ok(img.id)
}

/// Each service's image there: built (`build:` services without one, or
/// all of them with `build`), else pulled as the policy says.
pub fn ensure_images(
    store: &Store,
    p: &Project,
    services: &[String],
    o: &UpOptions,
    say: Progress,
) -> Result<()> {
    for name in services {
        let s = &p.services[name];
        let image = request::image_name(p, name);
        let have = local_image(store, &image).is_some();
        if s.build.is_some() && !o.no_build && (o.build || !have) {
            say("Image", &image, "Building");
            build_service(store, p, name, false)?;
            say("Image", &image, "Built");
            continue;
        }
        let policy = o
            .pull
            .clone()
            .or_else(|| s.pull_policy.clone())
            .unwrap_or_else(|| "missing".into());
        let policy = match policy.as_str() {
            "if_not_present" => "missing".to_string(),
            "build" if s.build.is_some() => {
                build_service(store, p, name, false)?;
                continue;
            }
            "daily" | "weekly" => "missing".to_string(),
            other => other.to_string(),
        };
        if s.build.is_some() && have && policy == "missing" {
            continue;
        }
        if !have || policy == "always" || policy == "newer" {
            say("Image", &image, "Pulling");
        }
        let pull = crate::engine::types::PullOptions {
            quiet: o.quiet_pull,
            ..Default::default()
        };
        crate::engine::images::ensure_image(store, &image, &policy, &pull)
            .with_context(|| format!("service {name:?}"))?;
    }
    Ok(())
}

/// Wait until service `dep`'s containers meet `condition`.
fn wait_for_dependency(
    store: &Store,
    p: &Project,
    service: &str,
    dep: &str,
    condition: &str,
) -> Result<()> {
    if condition == "service_started" {
        return Ok(());
    }
    let ids: Vec<(String, String)> = members(store, &p.name)?
        .into_iter()
        .filter(|m| m.service == dep && !m.oneoff)
        .map(|m| (m.id().to_string(), m.name().to_string()))
        .collect();
    for (id, ctr) in ids {
        loop {
            let (cfg, state) = super::members::status(store, &id)?;
            let running = crate::engine::types::is_running(&state);
            match condition {
                "service_healthy" => {
                    let health = containers::health(store, &cfg).map(|h| h.status);
                    match health.as_deref() {
                        None => bail!("service {service:?} depends on {dep:?} being healthy, but {dep:?} has no healthcheck"),
                        Some("healthy") => break,
                        Some("unhealthy") => bail!("dependency failed to start: container {ctr} is unhealthy"),
                        _ if !running => bail!("dependency failed to start: container {ctr} exited ({})", state.exit_code),
                        _ => {}
                    }
                }
                _ => {
                    if !running && state.status != crate::engine::types::Status::Created {
                        if state.exit_code != 0 {
                            bail!(
                                "service {dep:?} didn't complete successfully: exit {}",
                                state.exit_code
                            );
                        }
                        break;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// Make container number `n` of `service`; `inherit` are its
/// predecessor's anonymous volumes (name, destination), mounted again.
fn create_one(
    store: &Store,
    p: &Project,
    service: &str,
    n: u32,
    inherit: &[(String, String)],
) -> Result<String> {
    let name = request::container_name(p, service, n);
    let owner = Owner {
        service,
        number: n,
        oneoff: false,
    };
    let mut req = request::request(p, &owner, name, &|other| first_container(store, p, other))?;
    for (volume, dest) in inherit {
        // The service's own anonymous mount there (`- /data[:opts]`), or
        // one the image declares.
        let at = req
            .volume
            .iter()
            .position(|v| v == dest || v.split_once(':').is_some_and(|(d, _)| d == dest));
        let opts = at
            .map(|i| req.volume.remove(i))
            .and_then(|v| v.split_once(':').map(|(_, o)| format!(":{o}")))
            .unwrap_or_default();
        req.volume.push(format!("{volume}:{dest}{opts}"));
    }
    make_bind_sources(p, service)?;
    let cfg = crate::engine::create::create_container(store, req)?;
    Ok(cfg.id)
}

/// The first container of another service (`network_mode: service:X`).
pub fn first_container(store: &Store, p: &Project, service: &str) -> Result<String> {
    members(store, &p.name)?
        .into_iter()
        .find(|m| m.service == service && !m.oneoff)
        .map(|m| m.id().to_string())
        .with_context(|| format!("service {service:?} has no container"))
}

/// Host directories a service binds that are missing, made (as docker does).
fn make_bind_sources(p: &Project, service: &str) -> Result<()> {
    for m in &p.services[service].volumes {
        if let (super::model::MountType::Bind, Some(src)) = (&m.kind, &m.source) {
            if !Path::new(src).exists() {
                std::fs::create_dir_all(src).with_context(|| format!("creating {src}"))?;
            }
        }
    }
    Ok(())
}

/// Does container `m` still match its service (config and image)?
fn up_to_date(store: &Store, p: &Project, m: &Member) -> bool {
    let s = &p.services[&m.service];
    m.hash == request::config_hash(s)
        && local_image(store, &request::image_name(p, &m.service))
            .is_some_and(|img| img.id == m.listed.cfg.image_id)
}

/// Bring the project up; returns the ids of the containers it runs.
pub fn up(store: &Store, p: &Project, o: &UpOptions, say: Progress) -> Result<Vec<String>> {
    for s in o.scale.keys() {
        if !p.services.contains_key(s) {
            bail!("--scale: no such service: {s}");
        }
    }
    let order = start_order(p, &o.services, !o.no_deps)?;
    ensure_resources(store, p, &order, say)?;
    ensure_images(store, p, &order, o, say)?;
    let existing = members(store, &p.name)?;
    let orphans: Vec<&Member> = existing
        .iter()
        .filter(|m| !m.oneoff && !p.services.contains_key(&m.service))
        .collect();
    if !orphans.is_empty() {
        if o.remove_orphans {
            for m in &orphans {
                containers::remove(store, m.id(), removal(o.timeout))?;
                say("Container", m.name(), "Removed");
            }
        } else {
            let names: Vec<&str> = orphans.iter().map(|m| m.name()).collect();
            crate::warn!("Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", names.join(", "));
        }
    }
    let mut ids = Vec::new();
    // Services whose containers this `up` replaced or made.
    let mut renewed: BTreeSet<String> = BTreeSet::new();
    for level in levels(p, &order) {
        let mut to_start = Vec::new();
        for name in &level {
            let s = &p.services[name];
            for (dep, d) in &s.depends_on {
                if order.contains(dep) || !o.no_deps {
                    wait_for_dependency(store, p, name, dep, &d.condition)?;
                }
            }
            let before = to_start.len();
            converge(store, p, name, &existing, o, say, &mut to_start)?;
            if to_start[before..].iter().any(|t| !t.2) {
                renewed.insert(name.clone());
            }
            // `depends_on: {X: {restart: true}}`: a running container is
            // restarted when X was renewed.
            let restart = s
                .depends_on
                .iter()
                .any(|(dep, d)| d.restart && renewed.contains(dep));
            if restart {
                for t in to_start[before..].iter_mut().filter(|t| t.2) {
                    say("Container", &t.1, "Restarting");
                    containers::stop(store, &t.0, o.timeout)?;
                    t.2 = false;
                }
            }
        }
        let (running, stopped): (Vec<_>, Vec<_>) = to_start.into_iter().partition(|t| t.2);
        for (id, cname, _) in running {
            say("Container", &cname, "Running");
            ids.push(id);
        }
        if o.no_start {
            ids.extend(stopped.into_iter().map(|t| t.0));
            continue;
        }
        for (_, cname, _) in &stopped {
            say("Container", cname, "Starting");
        }
        start_all(
            store,
            &stopped.iter().map(|t| t.0.clone()).collect::<Vec<_>>(),
        )?;
        for (id, cname, _) in stopped {
            say("Container", &cname, "Started");
            ids.push(id);
        }
    }
    if let Some(limit) = o.wait {
        wait_healthy(store, &ids, limit, say)?;
    }
    Ok(ids)
}

/// The services in groups that may start together: each after the groups
/// holding what it depends on.
pub(super) fn levels(p: &Project, order: &[String]) -> Vec<Vec<String>> {
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out: Vec<Vec<String>> = Vec::new();
    for name in order {
        let l = p.services[name]
            .depends_on
            .keys()
            .filter_map(|d| level.get(d.as_str()).map(|l| l + 1))
            .max()
            .unwrap_or(0);
        level.insert(name, l);
        if out.len() <= l {
            out.resize(l + 1, Vec::new());
        }
        out[l].push(name.clone());
    }
    out
}

/// Service `name`'s containers made to match: kept when up to date,
/// recreated when not, removed above the wanted count, created below it.
/// What is to run is added to `to_start` as (id, name, running now).
fn converge(
    store: &Store,
    p: &Project,
    name: &str,
    existing: &[Member],
    o: &UpOptions,
    say: Progress,
    to_start: &mut Vec<(String, String, bool)>,
) -> Result<()> {
    let want = o
        .scale
        .get(name)
        .copied()
        .unwrap_or(p.services[name].replicas);
    // `--always-recreate-deps`: what the named services depend on is
    // recreated too.
    let dependency = !o.services.is_empty() && !o.services.iter().any(|s| s == name);
    let force = o.force_recreate || (o.always_recreate_deps && dependency);
    let mine: Vec<&Member> = existing
        .iter()
        .filter(|m| m.service == name && !m.oneoff)
        .collect();
    for m in &mine {
        if m.number > want || m.number == 0 {
            containers::remove(store, m.id(), removal(o.timeout))?;
            say("Container", m.name(), "Removed");
            continue;
        }
        let keep = o.no_recreate || (!force && up_to_date(store, p, m));
        if keep {
            to_start.push((m.id().to_string(), m.name().to_string(), m.running()));
        } else {
            say("Container", m.name(), "Recreate");
            let inherit = match o.renew_anon_volumes {
                true => Vec::new(),
                false => anonymous_volumes(store, m),
            };
            let mut how = removal(o.timeout);
            how.volumes = o.renew_anon_volumes;
            containers::remove(store, m.id(), how)?;
            let id = create_one(store, p, name, m.number, &inherit)?;
            say("Container", m.name(), "Recreated");
            to_start.push((id, m.name().to_string(), false));
        }
    }
    for n in 1..=want {
        if mine.iter().any(|m| m.number == n) {
            continue;
        }
        let id = create_one(store, p, name, n, &[])?;
        let cname = request::container_name(p, name, n);
        say("Container", &cname, "Created");
        to_start.push((id, cname, false));
    }
    Ok(())
}

/// Container `m`'s anonymous volumes: (name, destination).
fn anonymous_volumes(store: &Store, m: &Member) -> Vec<(String, String)> {
    m.listed
        .cfg
        .mounts
        .iter()
        .filter(|v| v.kind == crate::engine::types::MountKind::Volume)
        .filter(|v| {
            store
                .volumes
                .load(&v.source)
                .ok()
                .flatten()
                .is_some_and(|v| v.anonymous)
        })
        .map(|v| (v.source.clone(), v.destination.clone()))
        .collect()
}

/// Start containers together: every monitor forked first, then their
/// reports collected (the starts overlap). A start whose network failed
/// leaves no container.
fn start_all(store: &Store, ids: &[String]) -> Result<()> {
    let mut pending = Vec::new();
    let mut failed = None;
    for id in ids {
        match crate::runtime::container::begin_start(store, id, false) {
            Ok(p) => pending.push((id, p)),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    for (id, p) in pending {
        if let Err(e) = p.finish() {
            containers::discard_if_network_failed(store, id, &e);
            failed.get_or_insert(e);
        }
    }
    failed.map_or(Ok(()), Err)
}

fn removal(timeout: Option<u32>) -> Removal {
    Removal {
        force: true,
        stop_timeout: timeout,
        volumes: false,
    }
}

/// `--wait`: every container running, and healthy when it has a check.
fn wait_healthy(store: &Store, ids: &[String], limit: Duration, say: Progress) -> Result<()> {
    // A limit too far to represent is no limit.
    let deadline = Instant::now().checked_add(limit);
    for id in ids {
        loop {
            let (cfg, state) = super::members::status(store, id)?;
            let name = &cfg.name;
            let running = crate::engine::types::is_running(&state);
            let health = containers::health(store, &cfg).map(|h| h.status);
            match health.as_deref() {
                Some("unhealthy") => bail!("container {name} is unhealthy"),
                Some("healthy") if running => {
                    say("Container", name, "Healthy");
                    break;
                }
                None if running => break,
                _ if !running => bail!("container {name} exited ({})", state.exit_code),
                _ => {}
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                bail!("timeout waiting for container {name} to be running and healthy");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}
