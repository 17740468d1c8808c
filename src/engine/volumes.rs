//! Volumes: create, remove and prune with podman's rules (a volume in use
//! stays unless forced, and then its containers go first; nothing is
//! removed unless everything asked for may be).

use crate::error::CodedError;
use crate::runtime::state::{current_state, is_running};
use crate::runtime::volume as rtvol;
use crate::runtime::volume_plugin as plugins;
use crate::storage::events::{self, Event};
use crate::storage::store::Store;
use crate::storage::volumes::{self, Filter, VolumeRecord};
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;

/// A volume to create.
#[derive(Debug, Default)]
pub struct NewVolume {
    /// Generated when missing.
    pub name: Option<String>,
    pub driver: String,
    /// `--opt` values (`type=`, `device=`, `o=`).
    pub options: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// An existing volume of that name is not an error.
    pub ignore_existing: bool,
    /// `--uid`/`--gid`: the owner of the volume's directory (ids as the
    /// containers see them), kept at its first mount.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Create a volume; returns its name.
pub fn create(store: &Store, v: NewVolume) -> Result<String> {
    if (v.uid.is_some() || v.gid.is_some()) && v.driver != volumes::LOCAL_DRIVER {
        bail!(
            "the uid and gid options are for the local driver, not volume plugin {}: invalid argument",
            v.driver
        );
    }
    if v.driver != volumes::LOCAL_DRIVER {
        return create_in_plugin(store, v);
    }
    let name = v.name.unwrap_or_else(crate::storage::containers::new_id);
    volumes::check_name(&name)?;
    let mut rec = VolumeRecord::new(&name, crate::format::human::now_rfc3339());
    rec.options = volumes::parse_options(&v.options)?;
    // `-o nocopy`: the first mount leaves the image's files out.
    rec.needs_copy_up = !rec.options.contains_key(volumes::NO_COPY);
    // `-o o=uid=,gid=` own the directory as `--uid`/`--gid` do (which win).
    let (o_uid, o_gid) = volumes::owner_in_options(&rec.options)?;
    let (uid, gid) = (v.uid.or(o_uid), v.gid.or(o_gid));
    rec.labels = v.labels;
    if !record(store, rec, v.ignore_existing)? {
        return Ok(name);
    }
    if let Err(e) = set_owner(store, &name, uid, gid) {
        // Bad input leaves nothing behind.
        let _ = remove_unused(store, &name, false);
        return Err(e);
    }
    Ok(name)
}

/// Record a new volume under the store lock, unless one of its name is
/// there already (an error, or false with `ignore_existing`: its options
/// are not applied to the one there).
fn record(store: &Store, mut rec: VolumeRecord, ignore_existing: bool) -> Result<bool> {
    let name = rec.name.clone();
    {
        let _lock = store.lock()?;
        if store.volumes.exists(&name) {
            if ignore_existing {
                return Ok(false);
            }
            return Err(volumes::exists_error(&name));
        }
        store.volumes.create(&mut rec)?;
    }
    events::append(store, Event::volume("create", &name));
    Ok(true)
}

/// `--opt k=v` for a plugin: passed on as they are.
fn plugin_options(items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            bail!("invalid volume option {item:?}: expected KEY=VALUE: invalid argument");
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// The plugin a volume of driver `driver` is made by.
fn plugin_for(name: &str, driver: &str) -> Result<plugins::Plugin> {
    plugins::get(driver).map_err(|e| {
        anyhow!("volume {name} uses volume plugin {driver} but it could not be retrieved: {e:#}")
    })
}

/// A volume of a plugin: made there unless the plugin has it already
/// (podman's rule), then recorded with the plugin's name as its driver.
fn create_in_plugin(store: &Store, v: NewVolume) -> Result<String> {
    let name = v.name.unwrap_or_else(crate::storage::containers::new_id);
    volumes::check_name(&name)?;
    let options = plugin_options(&v.options)?;
    if store.volumes.exists(&name) {
        if v.ignore_existing {
            return Ok(name);
        }
        return Err(volumes::exists_error(&name));
    }
    let plugin = plugin_for(&name, &v.driver)?;
    if plugin.volume(&name).is_err() {
        plugin
            .create(&name, &options)
            .map_err(|e| anyhow!("creating volume {name:?} in plugin {}: {e:#}", plugin.name))?;
    }
    let mut rec = VolumeRecord::new(&name, crate::format::human::now_rfc3339());
    rec.driver = v.driver;
    // The plugin's files: nothing of ours to fill or chown.
    rec.needs_copy_up = false;
    rec.needs_chown = false;
    rec.options = options;
    rec.labels = v.labels;
    record(store, rec, v.ignore_existing)?;
    Ok(name)
}

/// Seconds a volume plugin has to answer (inspect's Timeout).
pub fn plugin_timeout() -> u64 {
    plugins::timeout().as_secs()
}

/// What a plugin says of one of its volumes (inspect's Mountpoint and
/// Status).
pub fn plugin_volume(rec: &VolumeRecord) -> Result<plugins::PluginVolume> {
    let plugin = plugins::get(&rec.driver).map_err(|e| {
        anyhow!(
            "volume {} uses volume plugin {} but it is not available, cannot inspect: {e:#}",
            rec.name,
            rec.driver
        )
    })?;
    plugin.volume(&rec.name).map_err(|e| {
        anyhow!(
            "retrieving volume {} information from plugin {}: {e:#}",
            rec.name,
            rec.driver
        )
    })
}

/// The owner of a new volume's directory (ids as the containers see them;
/// rootless, set inside the user namespace).
fn set_owner(store: &Store, name: &str, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    {
        // The first mount keeps this owner (podman's volume chown skipped).
        let _lock = store.lock()?;
        if let Some(mut rec) = store.volumes.load(name)? {
            rec.needs_chown = false;
            store.volumes.save(&rec)?;
        }
    }
    let dir = store.volumes.data_dir(name);
    let chown = || {
        std::os::unix::fs::chown(&dir, uid, gid)
            .map_err(|e| anyhow::anyhow!("setting the owner of volume {name}: {e}"))
    };
    if !store.rootless || crate::runtime::userns::in_user_namespace() {
        return chown();
    }
    // Rootless, the ids are the containers': chown inside the user
    // namespace, from a child, so the caller (compose up, kube play, a
    // volume create) stays outside for what it does next.
    let maps = crate::runtime::userns::IdMaps::for_current_user()?;
    crate::runtime::userns::run_in_child_userns(&maps, || chown().map(|()| Vec::new()))?;
    Ok(())
}

/// Which containers use each volume.
pub fn users(store: &Store) -> Result<BTreeMap<String, Vec<String>>> {
    volumes::users(&store.containers)
}

/// podman's MountCount: only volumes that mount something (a tmpfs, a
/// device, a plugin's) count, one per running container that uses them.
pub fn mount_count(store: &Store, v: &VolumeRecord, users: &[String]) -> usize {
    if !v.mounts_something_else() && !v.uses_plugin() {
        return 0;
    }
    users
        .iter()
        .filter(|id| current_state(store, id).is_ok_and(|s| is_running(&s)))
        .count()
}

/// podman's refusal to remove a volume in use (exit 2, as `rm` of a
/// running container).
fn in_use_error(name: &str, ids: &[String]) -> anyhow::Error {
    CodedError {
        code: 2,
        message: format!(
            "volume {name} is being used by the following container(s): {}: volume is being used",
            ids.join(", ")
        ),
    }
    .into()
}

/// What `volume rm` was asked to do.
#[derive(Debug, Default)]
pub struct Removal {
    pub names: Vec<String>,
    pub all: bool,
    /// Remove volumes in use (their containers go first); unknown names
    /// are not an error.
    pub force: bool,
    /// Seconds to wait for those containers to stop.
    pub stop_timeout: Option<u32>,
}

/// `volume rm`; returns the names removed.
pub fn remove(store: &Store, r: &Removal) -> Result<Vec<String>> {
    if r.all != r.names.is_empty() {
        bail!("choose either one or more volumes or all");
    }
    let names: Vec<String> = if r.all {
        store.volumes.list()?.into_iter().map(|v| v.name).collect()
    } else {
        let mut v = Vec::new();
        for n in &r.names {
            if store.volumes.exists(n) {
                v.push(n.clone());
            } else if !r.force {
                return Err(CodedError {
                    code: 1,
                    message: format!("no volume with name {n:?} found: no such volume"),
                }
                .into());
            }
        }
        v
    };
    // Nothing is removed unless everything may be.
    let in_use = users(store)?;
    if !r.force {
        if let Some((n, ids)) = names.iter().find_map(|n| in_use.get(n).map(|i| (n, i))) {
            return Err(in_use_error(n, ids));
        }
    }
    // -f: the containers using a volume go first, as podman does.
    let forced = super::containers::Removal {
        force: true,
        stop_timeout: r.stop_timeout,
        volumes: false,
    };
    for n in &names {
        for id in in_use.get(n).into_iter().flatten() {
            if store.containers.dir(id).exists() {
                super::containers::remove(store, id, forced)?;
            }
        }
    }
    for n in &names {
        remove_unused(store, n, true)?;
    }
    Ok(names)
}

/// Remove volume `name`, rechecking under the lock that no container took
/// it meanwhile. A plugin's volume is removed at the plugin too (with
/// `at_plugin`) as podman does: a plugin that refuses keeps it; one that
/// is missing or no longer has it lets it go, and that is the error.
fn remove_unused(store: &Store, name: &str, at_plugin: bool) -> Result<()> {
    let mut late = None;
    let doomed = {
        let _lock = store.lock()?;
        let Some(rec) = store.volumes.load(name)? else {
            return Ok(());
        };
        if let Some(ids) = users(store)?.get(name) {
            return Err(in_use_error(name, ids));
        }
        if rec.uses_plugin() && at_plugin {
            let driver = &rec.driver;
            match plugins::get(driver) {
                Err(e) => late = Some(anyhow!(
                    "cannot remove volume {name} from plugin {driver}, but it has been removed from coracle: {e:#}"
                )),
                Ok(p) => match p.volume(name) {
                    Err(e) => late = Some(anyhow!(
                        "volume {name} could not be retrieved from plugin {driver}, but it has been removed from coracle: {e:#}"
                    )),
                    Ok(_) => p.remove(name).map_err(|e| {
                        anyhow!("volume {name} could not be removed from plugin {driver}: {e:#}")
                    })?,
                },
            }
        }
        store.volumes.unlink(name)?
    };
    events::append(store, Event::volume("remove", name));
    rtvol::delete_volume_tree(store, &doomed)?;
    late.map_or(Ok(()), Err)
}

/// What `volume reload` did.
#[derive(Default)]
pub struct ReloadReport {
    /// Volumes the plugins have that are now recorded.
    pub added: Vec<String>,
    /// Records of plugin volumes their plugin no longer lists, removed.
    pub removed: Vec<String>,
    /// What could not be done; the rest was.
    pub errors: Vec<anyhow::Error>,
}

/// `volume reload`: each configured plugin's volumes recorded (driver =
/// the plugin), and the records of that plugin's volumes it no longer
/// lists removed (unless a container uses them). A plugin that cannot be
/// listed is an error and its records stay.
pub fn reload(store: &Store) -> ReloadReport {
    let mut report = ReloadReport::default();
    let mut listed: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for driver in plugins::configured().into_keys() {
        let plugin = match plugins::get(&driver) {
            Ok(p) => p,
            Err(e) => {
                report.errors.push(e);
                continue;
            }
        };
        let vols = match plugin.list() {
            Ok(v) => v,
            Err(e) => {
                report.errors.push(anyhow!(
                    "failed to read volumes from plugin {driver:?}: {e:#}"
                ));
                continue;
            }
        };
        let names = listed.entry(driver.clone()).or_default();
        for v in vols {
            names.insert(v.name.clone());
            match record_plugin_volume(store, &v.name, &driver) {
                Ok(true) => {
                    report.added.push(v.name);
                }
                Ok(false) => {}
                Err(e) => report.errors.push(e),
            }
        }
    }
    let records = match store.volumes.list() {
        Ok(r) => r,
        Err(e) => {
            report.errors.push(anyhow!(
                "cannot delete dangling plugin volumes: failed to read volumes: {e:#}"
            ));
            return report;
        }
    };
    for rec in records {
        let Some(names) = listed.get(&rec.driver) else {
            continue;
        };
        if names.contains(&rec.name) {
            continue;
        }
        match remove_unused(store, &rec.name, false) {
            Ok(()) => report.removed.push(rec.name),
            Err(e) if crate::error::exit_code_of(&e) == 2 => report.errors.push(anyhow!(
                "volume was removed from the plugin {:?} but containers still require it: {e:#}",
                rec.driver
            )),
            Err(e) => report.errors.push(e),
        }
    }
    report
}

/// Record a volume plugin `driver` has; false when a volume of that name
/// is recorded already.
fn record_plugin_volume(store: &Store, name: &str, driver: &str) -> Result<bool> {
    volumes::check_name(name)?;
    let mut rec = VolumeRecord::new(name, crate::format::human::now_rfc3339());
    rec.driver = driver.to_string();
    rec.needs_copy_up = false;
    rec.needs_chown = false;
    {
        let _lock = store.lock()?;
        if store.volumes.exists(name) {
            return Ok(false);
        }
        store.volumes.create(&mut rec)?;
    }
    events::append(store, Event::volume("create", name));
    Ok(true)
}

/// Current podman's `volume prune` scope: anonymous volumes only, unless
/// `--all` or `--filter all=true` (not both) asks for named ones too.
/// Returns whether named volumes are in scope.
pub fn prune_scope(filters: &mut Vec<Filter>, all_flag: bool) -> Result<bool> {
    let all_filter = filters.iter().any(|f| matches!(f, Filter::All(true)));
    if all_flag && all_filter {
        bail!("--all and --filter all cannot be used together");
    }
    let all = all_flag || all_filter;
    if !all {
        filters.push(Filter::Anonymous(true));
    }
    Ok(all)
}

/// The volumes `volume prune` would remove: unused ones matching `filters`.
pub fn prune_candidates(store: &Store, filters: &[Filter]) -> Result<Vec<String>> {
    let users = users(store)?;
    Ok(store
        .volumes
        .list()?
        .into_iter()
        .filter(|v| !users.contains_key(&v.name) && filters.iter().all(|f| f.matches(v, 0)))
        .map(|v| v.name)
        .collect())
}

/// What a prune did: the names removed, and the failure that stopped it.
pub struct PruneReport {
    pub removed: Vec<String>,
    pub error: Option<anyhow::Error>,
}

/// Remove these volumes unless a container took one since they were chosen.
pub fn prune(store: &Store, names: &[String]) -> PruneReport {
    let mut report = PruneReport {
        removed: Vec::new(),
        error: None,
    };
    for n in names {
        match remove_unused(store, n, true) {
            Ok(()) => report.removed.push(n.clone()),
            // Taken by a container since we looked: not unused any more.
            Err(e) if crate::error::exit_code_of(&e) == 2 => {}
            Err(e) => {
                report.error = Some(e);
                break;
            }
        }
    }
    report
}
