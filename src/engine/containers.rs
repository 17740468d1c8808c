//! Containers: which ones a request means, listing, removal, pruning and
//! renaming, with podman's rules (an infra container goes with its pod, a
//! running one only with force, names are unique store-wide).

use super::lookup::{container_id, try_container_id};
use crate::error::CodedError;
use crate::runtime::container as rt;
use crate::runtime::removal::remove_files;
use crate::runtime::state::{current_state, is_restarting, is_running};
use crate::storage::containers::{ContainerConfig, ContainerState};
use crate::storage::events;
use crate::storage::health::HealthState;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::time::SystemTime;

/// Signal numbers from names (`TERM`, `SIGTERM`) or numbers (`15`).
pub use crate::runtime::container::parse_signal;

/// One container as the listing verbs see it: both records, read once.
pub struct Listed {
    pub cfg: ContainerConfig,
    pub state: ContainerState,
    /// healthy, unhealthy or starting; "" without a healthcheck.
    pub health: String,
}

/// Every container with its (corrected) state, oldest first. A container
/// removed while we read is skipped, not an error.
pub fn list_all(store: &Store) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    for id in store.containers.ids()? {
        let Ok(cfg) = store.containers.load_config(&id) else {
            continue;
        };
        let Ok(state) = current_state(store, &id) else {
            continue;
        };
        let health = health(store, &cfg).map(|h| h.status).unwrap_or_default();
        out.push(Listed { cfg, state, health });
    }
    out.sort_by(|a, b| a.cfg.created.cmp(&b.cfg.created));
    Ok(out)
}

/// [`list_all`] for the listing verbs (`ps`): from the container index, so
/// it reads a few files whatever the number of containers. Each `cfg` holds
/// only what a listing shows (no environment, resources, command line...);
/// a container that looks alive has its state checked as [`list_all`] does.
pub fn list_summaries(store: &Store) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    for s in store.containers.summaries()? {
        let (cfg, mut state) = (s.cfg, s.state);
        if looks_alive(&state) {
            let Ok(now) = current_state(store, &cfg.id) else {
                continue;
            };
            state = now;
        }
        let health = health(store, &cfg).map(|h| h.status).unwrap_or_default();
        out.push(Listed { cfg, state, health });
    }
    out.sort_by(|a, b| a.cfg.created.cmp(&b.cfg.created));
    Ok(out)
}

/// A state [`current_state`] might correct (a dead monitor, a `stop`
/// under way); any other is final until the next recorded change.
fn looks_alive(state: &ContainerState) -> bool {
    use crate::storage::containers::Status;
    state.restarting
        || matches!(
            state.status,
            Status::Running | Status::Paused | Status::Stopping | Status::Initialized
        )
}

/// A user's stop or kill ended container `id` (its restart policy rests).
pub fn stopped_by_user(store: &Store, id: &str) -> bool {
    store.containers.stopped_by_user(id)
}

/// The most recently created container (`--latest`).
pub fn latest_id(store: &Store) -> Result<String> {
    match list_all(store)?.pop() {
        Some(l) => Ok(l.cfg.id),
        None => bail!("no containers to act on: no such container"),
    }
}

/// Which containers a verb acts on: the names typed, or all, or the latest.
pub struct Targets<'a> {
    pub names: &'a [String],
    pub all: bool,
    pub latest: bool,
    /// Unknown names are left out instead of failing the request.
    pub ignore_missing: bool,
}

/// Resolve a request to (typed, id) pairs. All names are looked up before
/// anything is done, as podman does: one unknown name stops the verb before
/// it touches the others.
pub fn targets(store: &Store, t: &Targets) -> Result<Vec<(String, String)>> {
    if t.all || t.latest {
        if !t.names.is_empty() {
            bail!("--all, --latest, and --cidfile cannot be used together with container names");
        }
        if t.latest {
            let id = latest_id(store)?;
            return Ok(vec![(id.clone(), id)]);
        }
        return Ok(list_all(store)?
            .into_iter()
            .map(|l| (l.cfg.id.clone(), l.cfg.id))
            .collect());
    }
    if t.names.is_empty() {
        bail!("you must provide at least one name or id");
    }
    let mut out = Vec::new();
    for n in t.names {
        if t.ignore_missing {
            if let Some(id) = try_container_id(store, n)? {
                out.push((n.clone(), id));
            }
        } else {
            out.push((n.clone(), container_id(store, n)?));
        }
    }
    Ok(out)
}

/// Is `id` the infra container of a pod that still exists?
pub fn is_pod_infra(store: &Store, id: &str) -> bool {
    store
        .containers
        .load_config(id)
        .is_ok_and(|c| c.is_infra && store.pods.exists(&c.pod))
}

/// How to remove a container.
#[derive(Clone, Copy, Debug, Default)]
pub struct Removal {
    /// Stop a running container first (else refuse, exit 2).
    pub force: bool,
    /// Seconds to wait for it to stop before SIGKILL (default: its own).
    pub stop_timeout: Option<u32>,
    /// Its anonymous volumes go too.
    pub volumes: bool,
}

/// Remove one container, as `rm` does.
pub fn remove(store: &Store, id: &str, how: Removal) -> Result<()> {
    // After a start under way; a removal that won the race leaves the
    // container gone for us: podman's one-winner "no such container".
    let _lock = store.containers.lock(id)?;
    if !store.containers.exists(id) {
        return Err(CodedError {
            code: 1,
            message: format!("no container with name or ID \"{id}\" found: no such container"),
        }
        .into());
    }
    if is_pod_infra(store, id) {
        let pod = store.containers.load_config(id)?.pod;
        bail!("container {id} is the infra container of pod {pod} and cannot be removed without removing the pod");
    }
    let state = current_state(store, id)?;
    if is_running(&state) || is_restarting(&state) {
        if !how.force {
            return Err(CodedError {
                code: 2,
                message: format!("cannot remove container {id} as it is running - running or paused containers cannot be removed without force: container state improper"),
            }
            .into());
        }
        let timeout = match how.stop_timeout {
            Some(t) => t,
            None => store.containers.load_config(id)?.stop_timeout,
        };
        rt::stop(store, id, timeout)?;
        // A `--rm` container removes itself once stopped: done already.
        if !store.containers.dir(id).join("config.json").exists() {
            return Ok(());
        }
    }
    let cfg = store.containers.load_config(id)?;
    // A `mount`ed root filesystem must not be in the way of its files.
    crate::runtime::host_mount::release(store, id);
    if how.volumes {
        crate::runtime::volume::remove_container_and_anonymous(store, id)?;
    } else {
        remove_files(store, id)?;
    }
    events::container(store, "remove", &cfg);
    Ok(())
}

/// Which stopped containers `container prune` removes.
#[derive(Debug, Default)]
pub struct PruneFilter {
    /// Only those created before this time.
    pub until: Option<SystemTime>,
    /// Only those with every one of these labels (`key` or `key=value`).
    pub labels: Vec<String>,
    /// Only those with none of these (`label!=`).
    pub not_labels: Vec<String>,
}

impl PruneFilter {
    /// podman's `--filter` values: `until=<time>`, `label=<key>[=<value>]`.
    pub fn parse(filters: &[String]) -> Result<PruneFilter> {
        let mut out = PruneFilter::default();
        for f in filters {
            match f.split_once('=') {
                Some(("until", v)) => {
                    out.until = Some(crate::format::human::parse_duration_or_time(
                        v,
                        SystemTime::now(),
                    )?)
                }
                Some(("label", v)) => out.labels.push(v.to_string()),
                Some(("label!", v)) => out.not_labels.push(v.to_string()),
                _ => bail!("{f} is an invalid filter"),
            }
        }
        Ok(out)
    }
}

/// What a prune did: the ids removed, and the last failure if any.
pub struct PruneReport {
    pub removed: Vec<String>,
    pub error: Option<anyhow::Error>,
}

/// Remove every container that is not running (a pod's infra stays with
/// its pod) and matches `filter`.
pub fn prune(store: &Store, filter: &PruneFilter) -> Result<PruneReport> {
    let mut report = PruneReport {
        removed: Vec::new(),
        error: None,
    };
    for l in list_all(store)? {
        if is_running(&l.state) || (l.cfg.is_infra && store.pods.exists(&l.cfg.pod)) {
            continue;
        }
        if let Some(t) = filter.until {
            match crate::format::human::parse_rfc3339(&l.cfg.created) {
                Ok(c) if c < t => {}
                _ => continue,
            }
        }
        if !filter
            .labels
            .iter()
            .all(|f| super::filter::label_matches(f, &l.cfg.labels))
            || filter
                .not_labels
                .iter()
                .any(|f| super::filter::label_matches(f, &l.cfg.labels))
        {
            continue;
        }
        match remove_files(store, &l.cfg.id) {
            Ok(()) => {
                events::container(store, "remove", &l.cfg);
                report.removed.push(l.cfg.id);
            }
            Err(e) => report.error = Some(e),
        }
    }
    Ok(report)
}

/// Give container `id` a new name, unique store-wide.
pub fn rename(store: &Store, id: &str, new_name: &str) -> Result<()> {
    if !crate::storage::names::is_valid(new_name) {
        bail!(
            "container name {new_name:?} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        );
    }
    // Names are unique store-wide: check and write under the store lock.
    let _lock = store.lock()?;
    let mut cfg = store.containers.load_config(id)?;
    if cfg.name == new_name {
        return Ok(());
    }
    if !store.containers.claim_name(new_name, id)? {
        bail!(
            "renaming container {id}: name {new_name} already in use, cannot rename container {id}: container already exists"
        );
    }
    let old = std::mem::replace(&mut cfg.name, new_name.to_string());
    store.containers.save_config(&cfg)?;
    store.containers.release_name(&old, id);
    events::container(store, "rename", &cfg);
    Ok(())
}

/// Start container `id`'s process through a new monitor; a pod member's
/// infra first, as podman does. With `attach` the monitor relays to our
/// stdio and exits with the program's code.
pub fn start_process(store: &Store, id: &str, attach: bool) -> Result<rt::Started> {
    let cfg = crate::runtime::prepared::config_of(store, id)?;
    // `--requires`: those first (each with its own requirements).
    for required in &cfg.tuning.requires {
        start(store, required)
            .with_context(|| format!("starting {required}, which {} requires", cfg.name))?;
    }
    // From the infra's start to this one's: no exit policy in between.
    let _members = crate::runtime::pod::start_infra_for(store, &cfg)?;
    rt::start(store, id, attach)
}

/// Start a container unless it runs already (podman: not an error).
pub fn start(store: &Store, id: &str) -> Result<()> {
    let state = current_state(store, id)?;
    if is_running(&state) || is_restarting(&state) {
        return Ok(());
    }
    start_process(store, id, false).map(|_| ())
}

/// `init`: make container `id` ready to start without starting it
/// (`runtime/initialize.rs` says what that holds). A pod member's infra
/// starts first, as podman initializes a member's dependencies. With
/// `all`, one already initialized or running is left alone, no error.
pub fn init(store: &Store, id: &str, all: bool) -> Result<()> {
    let cfg = store.containers.load_config(id)?;
    let initialize = crate::runtime::initialize::check_initializable;
    if !cfg.pod.is_empty() && initialize(store, id).is_ok() {
        crate::runtime::pod::start_infra_for(store, &cfg)?;
    }
    // As a start: after one under way, and never beside a removal.
    let _lock = store.containers.lock(id)?;
    if !store.containers.exists(id) {
        bail!("no container with name or ID \"{id}\" found: no such container");
    }
    if let Err(e) = initialize(store, id) {
        return if all { Ok(()) } else { Err(e) };
    }
    crate::runtime::initialize::initialize(store, &cfg)?;
    events::container(store, "init", &cfg);
    Ok(())
}

/// Stop a container, waiting `timeout` seconds (default: its own) before
/// SIGKILL.
pub fn stop(store: &Store, id: &str, timeout: Option<u32>) -> Result<()> {
    let cfg = store.containers.load_config(id)?;
    rt::stop(store, id, timeout.unwrap_or(cfg.stop_timeout))?;
    events::container(store, "stop", &cfg);
    Ok(())
}

/// Send `signal` to a container's first process.
pub fn kill(store: &Store, id: &str, signal: i32) -> Result<()> {
    rt::kill(store, id, signal)?;
    let cfg = store.containers.load_config(id)?;
    let e = events::Event::container("kill", &cfg).with_attribute("signal", &signal.to_string());
    events::append(store, e);
    Ok(())
}

/// Stop (as [`stop`]) and start again.
pub fn restart(store: &Store, id: &str, timeout: Option<u32>) -> Result<()> {
    let cfg = store.containers.load_config(id)?;
    // podman's restart: stop (stop signal, then SIGKILL after the timeout)
    // and start again detached; one that is not running (initialized
    // either) is just started.
    if !status_is(store, id, crate::storage::containers::Status::Initialized) {
        rt::stop(store, id, timeout.unwrap_or(cfg.stop_timeout))?;
    }
    start_process(store, id, false)?;
    events::container(store, "restart", &cfg);
    Ok(())
}

/// Container `id`'s state now (a dead monitor's container corrected).
pub fn state(store: &Store, id: &str) -> Result<ContainerState> {
    current_state(store, id)
}

/// Is container `id` running (or paused) now?
pub fn is_running_now(store: &Store, id: &str) -> bool {
    current_state(store, id).is_ok_and(|s| is_running(&s))
}

/// Wait until the container reaches one of `conds`; its exit code. A
/// created container counts as stopped (podman answers 0 at once). A
/// container removed meanwhile (`--rm`) answers with the code its monitor
/// kept.
/// What `wait --condition` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    State(crate::storage::containers::Status),
    /// The healthcheck's status (healthy, unhealthy).
    Health(&'static str),
}

pub fn wait(
    store: &Store,
    id: &str,
    conds: &[WaitCondition],
    interval: std::time::Duration,
) -> Result<i32> {
    wait_first(store, &[id.to_string()], conds, interval).map(|(_, code)| code)
}

/// `wait --exit-first-match`: the first of `ids` to meet a condition (its
/// index) and its code; the others are not waited for.
pub fn wait_first(
    store: &Store,
    ids: &[String],
    conds: &[WaitCondition],
    interval: std::time::Duration,
) -> Result<(usize, i32)> {
    let mut cfgs = Vec::new();
    for id in ids {
        cfgs.push(wait_config(store, id, conds)?);
    }
    // Poll quickly first so a short-lived container answers fast.
    let mut delay = std::time::Duration::from_millis(5).min(interval);
    loop {
        for (i, id) in ids.iter().enumerate() {
            if let Some(code) = wait_check(store, id, conds, cfgs[i].as_ref())? {
                return Ok((i, code));
            }
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(interval);
    }
}

/// The record a health condition needs (a `--rm` container may be gone
/// already, its exit code kept: only health conditions load it).
fn wait_config(
    store: &Store,
    id: &str,
    conds: &[WaitCondition],
) -> Result<Option<ContainerConfig>> {
    let wants_health = conds.iter().any(|c| matches!(c, WaitCondition::Health(_)));
    let cfg = match wants_health {
        true => Some(store.containers.load_config(id)?),
        false => None,
    };
    if wants_health && cfg.as_ref().is_some_and(|c| c.health.is_none()) {
        let c = conds
            .iter()
            .find_map(|c| match c {
                WaitCondition::Health(h) => Some(*h),
                _ => None,
            })
            .unwrap_or_default();
        bail!("cannot use condition {c:?}: container {id} has no healthcheck");
    }
    Ok(cfg)
}

/// The code once container `id` meets one of `conds`, else `None`.
fn wait_check(
    store: &Store,
    id: &str,
    conds: &[WaitCondition],
    cfg: Option<&ContainerConfig>,
) -> Result<Option<i32>> {
    use crate::storage::containers::Status;
    if !store.containers.dir(id).exists() {
        return store
            .containers
            .kept_exit_code(id)
            .map(Some)
            .ok_or_else(|| {
                anyhow::anyhow!("no container with ID {id} found in database: no such container")
            });
    }
    let state = current_state(store, id)?;
    let health = || {
        cfg.and_then(|c| health(store, c))
            .map(|h| h.status)
            .unwrap_or_default()
    };
    for c in conds {
        match c {
            // An initialized container waits for its start and end, as
            // podman's (a created one answers at once).
            WaitCondition::State(Status::Exited)
                if !is_running(&state) && state.status != Status::Initialized =>
            {
                return Ok(Some(state.exit_code))
            }
            WaitCondition::State(Status::Exited) => {}
            WaitCondition::State(other) if *other == state.status => {
                return Ok(Some(state.exit_code))
            }
            WaitCondition::State(_) => {}
            // podman answers -1 for a health condition.
            WaitCondition::Health(h) if health() == *h => return Ok(Some(-1)),
            WaitCondition::Health(_) => {}
        }
    }
    Ok(None)
}

/// Record a new container (its config and runtime spec) made from `img`.
pub fn create(
    store: &Store,
    cfg: ContainerConfig,
    img: Option<&crate::storage::images::ImageRecord>,
) -> Result<ContainerConfig> {
    let cfg = match img {
        Some(img) => rt::create(store, cfg, img)?,
        // `--rootfs`: a directory for a root.
        None => rt::create_imageless(store, cfg)?,
    };
    events::container(store, "create", &cfg);
    Ok(cfg)
}

/// `--cidfile`: write the new container's id, refusing to overwrite a file
/// (podman's rule); when it cannot be written the container goes again.
pub fn write_cidfile(store: &Store, cfg: &ContainerConfig, path: &std::path::Path) -> Result<()> {
    if let Err(e) = rt::write_cidfile(path, &cfg.id) {
        if crate::runtime::volume::remove_container_and_anonymous(store, &cfg.id).is_ok() {
            events::container(store, "remove", cfg);
        }
        return Err(e);
    }
    Ok(())
}

/// A start that failed to set up the network (a host port in use) leaves
/// no half-made container behind.
pub fn discard_if_network_failed(store: &Store, id: &str, e: &anyhow::Error) {
    use crate::error::{FailureKind, StartFailed};
    let network = e
        .downcast_ref::<StartFailed>()
        .is_some_and(|f| f.kind == FailureKind::Network);
    if network {
        let cfg = store.containers.load_config(id);
        let removed = crate::runtime::volume::remove_container_and_anonymous(store, id);
        if let (Ok(cfg), Ok(())) = (cfg, removed) {
            events::container(store, "remove", &cfg);
        }
    }
}

/// Run a command in a running container; its exit code (0 when detached)
/// and a detached one's session id.
pub fn exec(
    store: &Store,
    id: &str,
    opts: &crate::runtime::exec::ExecOptions,
) -> Result<crate::runtime::exec::ExecOutcome> {
    exec_under(store, id, opts, None)
}

/// [`exec`] under a session made ahead of it (the API's exec create,
/// `container_mount::create_exec_session`), which stays after the end.
pub fn exec_in_session(
    store: &Store,
    id: &str,
    opts: &crate::runtime::exec::ExecOptions,
    session: &str,
) -> Result<crate::runtime::exec::ExecOutcome> {
    exec_under(store, id, opts, Some(session))
}

fn exec_under(
    store: &Store,
    id: &str,
    opts: &crate::runtime::exec::ExecOptions,
    session: Option<&str>,
) -> Result<crate::runtime::exec::ExecOutcome> {
    if let Ok(cfg) = store.containers.load_config(id) {
        events::container(store, "exec", &cfg);
    }
    match session {
        Some(s) => crate::runtime::exec::exec_in_session(store, id, opts, s),
        None => crate::runtime::exec::exec(store, id, opts),
    }
}

/// `ps --size`: each container's own layer (its upper dir) and its whole
/// root (the image below it too), in bytes, by id; `of` lists (container
/// id, image id) pairs. Rootless, the upper
/// dirs hold files of subordinate ids that only the user namespace may
/// read: this enters it (call while single-threaded).
pub fn sizes(
    store: &Store,
    of: &[(&str, &str)],
) -> Result<std::collections::HashMap<String, (u64, u64)>> {
    let images = store.images.load()?;
    crate::runtime::userns::enter_for_storage(store)?;
    let mut out = std::collections::HashMap::new();
    for (id, image_id) in of {
        let rw = crate::runtime::volume::tree_size(&store.containers.dir(id).join("upper"));
        let image = images
            .list
            .iter()
            .find(|i| i.id == *image_id)
            .map_or(0, |i| i.size);
        out.insert(id.to_string(), (rw, rw + image));
    }
    Ok(out)
}

/// Is container `id` in state `status` now?
pub fn status_is(store: &Store, id: &str, status: crate::storage::containers::Status) -> bool {
    current_state(store, id).is_ok_and(|s| s.status == status)
}

/// Freeze every process of a container.
pub fn pause(store: &Store, id: &str) -> Result<()> {
    crate::runtime::resources::pause(store, id)?;
    journal(store, id, "pause");
    Ok(())
}

/// Thaw a paused container.
pub fn unpause(store: &Store, id: &str) -> Result<()> {
    crate::runtime::resources::unpause(store, id)?;
    journal(store, id, "unpause");
    Ok(())
}

/// An event for something done to container `id`.
fn journal(store: &Store, id: &str, status: &str) {
    if let Ok(cfg) = store.containers.load_config(id) {
        events::container(store, status, &cfg);
    }
}

/// What `inspect` shows of a container beyond its records: what the
/// runtime derives from them.
pub struct Inspected {
    pub cfg: ContainerConfig,
    pub state: ContainerState,
    /// The environment the process really gets (the spec's, with the
    /// defaults the runtime added).
    pub env: Vec<String>,
    /// Effective (and bounding) capabilities.
    pub caps: Vec<String>,
    /// `--ulimit` values parsed: (name, soft, hard).
    pub ulimits: Vec<(String, u64, u64)>,
    /// Where the root filesystem is mounted while the container runs.
    pub rootfs_mountpoint: std::path::PathBuf,
    /// The stop signal as a number (SIGTERM when unset).
    pub stop_signal: i32,
    /// How its healthchecks went: `None` without a healthcheck.
    pub health: Option<HealthState>,
}

/// A container's health as podman shows it: "starting" until the first
/// check; `None` without a healthcheck.
pub fn health(store: &Store, cfg: &ContainerConfig) -> Option<HealthState> {
    cfg.health.as_ref()?;
    let userdata = store.containers.dir(&cfg.id).join("userdata");
    Some(
        crate::storage::health::load(&userdata)
            .map(|r| r.health)
            .unwrap_or_default(),
    )
}

/// Container `id` as `inspect` reports it.
pub fn inspect(store: &Store, id: &str) -> Result<Inspected> {
    let cfg = store.containers.load_config(id)?;
    let state = current_state(store, id)?;
    let env = crate::runtime::spec::load(&store.containers.dir(id).join("spec.json"))
        .ok()
        .and_then(|s| s.process().as_ref().and_then(|p| p.env().clone()))
        .unwrap_or_else(|| cfg.env.clone())
        .into_iter()
        .filter(|e| {
            !super::secrets::env_names(&cfg.secrets)
                .contains(&e.split('=').next().unwrap_or_default())
        })
        .collect();
    let caps = crate::runtime::caps::effective_set(cfg.privileged, &cfg.cap_add, &cfg.cap_drop)
        .unwrap_or_default();
    let ulimits = cfg
        .ulimits
        .iter()
        .filter_map(|u| crate::runtime::spec::parse_ulimit(u).ok())
        .collect();
    Ok(Inspected {
        env,
        caps,
        ulimits,
        rootfs_mountpoint: rt::rootfs_mountpoint(store),
        stop_signal: rt::stop_signal_number(&cfg.stop_signal),
        health: health(store, &cfg),
        cfg,
        state,
    })
}
