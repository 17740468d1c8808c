//! Volumes: create, remove and prune with podman's rules (a volume in use
//! stays unless forced, and then its containers go first; nothing is
//! removed unless everything asked for may be).

use crate::error::CodedError;
use crate::runtime::state::{current_state, is_running};
use crate::runtime::volume as rtvol;
use crate::storage::events::{self, Event};
use crate::storage::store::Store;
use crate::storage::volumes::{self, Filter, VolumeRecord};
use anyhow::{bail, Result};
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
}

/// Create a volume; returns its name.
pub fn create(store: &Store, v: NewVolume) -> Result<String> {
    if v.driver != volumes::LOCAL_DRIVER {
        bail!(
            "volume driver {:?} is not supported: use local: volume plugin not found",
            v.driver
        );
    }
    let name = v.name.unwrap_or_else(crate::storage::containers::new_id);
    volumes::check_name(&name)?;
    let mut rec = VolumeRecord::new(&name, crate::format::human::now_rfc3339());
    rec.options = volumes::parse_options(&v.options)?;
    rec.labels = v.labels;
    {
        let _lock = store.lock()?;
        if store.volumes.exists(&name) {
            if v.ignore_existing {
                return Ok(name);
            }
            return Err(volumes::exists_error(&name));
        }
        store.volumes.create(&mut rec)?;
    }
    events::append(store, Event::volume("create", &name));
    Ok(name)
}

/// `volume create --uid/--gid`: the owner of a new volume's directory
/// (ids as the containers see them; rootless, set inside the user
/// namespace).
pub fn set_owner(store: &Store, name: &str, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
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
    crate::runtime::userns::enter_for_storage(store)?;
    let dir = store.volumes.data_dir(name);
    std::os::unix::fs::chown(&dir, uid, gid)
        .map_err(|e| anyhow::anyhow!("setting the owner of volume {name}: {e}"))
}

/// Which containers use each volume.
pub fn users(store: &Store) -> Result<BTreeMap<String, Vec<String>>> {
    volumes::users(&store.containers)
}

/// podman's MountCount: only volumes that mount something (a tmpfs, a
/// device) count, one per running container that uses them.
pub fn mount_count(store: &Store, v: &VolumeRecord, users: &[String]) -> usize {
    if !v.mounts_something_else() {
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
        remove_unused(store, n)?;
    }
    Ok(names)
}

/// Remove volume `name`, rechecking under the lock that no container took
/// it meanwhile.
fn remove_unused(store: &Store, name: &str) -> Result<()> {
    let doomed = {
        let _lock = store.lock()?;
        if !store.volumes.exists(name) {
            return Ok(());
        }
        if let Some(ids) = users(store)?.get(name) {
            return Err(in_use_error(name, ids));
        }
        store.volumes.unlink(name)?
    };
    events::append(store, Event::volume("remove", name));
    rtvol::delete_volume_tree(store, &doomed)
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
        match remove_unused(store, n) {
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
