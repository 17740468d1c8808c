//! `system check`: find damage (storage/check.rs) and, asked to, repair it
//! with podman's rules: `repair` removes damaged images nothing uses,
//! damaged layers nothing uses, container records nothing can read, and
//! rebuilds volume records and name index entries; `force` also removes
//! the containers that use damaged images or layers (stopping them first).
//! A running container is never removed without `force`; a healthy image
//! never is.

use super::containers::{self, Removal};
use crate::runtime::state::{current_state, is_running};
use crate::storage::check::{self, Findings};
use crate::storage::store::Store;
use anyhow::Result;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Skip hashing blobs and walking layer trees.
    pub quick: bool,
    pub repair: bool,
    /// Also remove containers that depend on damaged images or layers.
    pub force: bool,
    /// `--max`: how old a layer nothing uses may be before it is damaged
    /// (`None`: a day, as podman).
    pub unreferenced_max_age: Option<std::time::Duration>,
}

#[derive(Debug, Default)]
pub struct CheckReport {
    pub found: Findings,
    pub removed_layers: Vec<String>,
    pub removed_images: Vec<String>,
    pub removed_containers: Vec<String>,
    pub removed_blobs: Vec<String>,
    pub rebuilt_volumes: Vec<String>,
    pub rebuilt_indexes: Vec<String>,
}

/// Check (and repair) the store. Rootless, this enters the user namespace
/// (layer trees hold files of subordinate ids): call single-threaded.
pub fn check(store: &Store, opts: CheckOptions) -> Result<CheckReport> {
    crate::runtime::userns::enter_for_storage(store)?;
    let found = {
        let _lock = store.lock()?;
        let max_age = opts
            .unreferenced_max_age
            .unwrap_or(check::UNREFERENCED_LAYER_MAX_AGE);
        check::inspect(store, opts.quick, max_age)?
    };
    let mut report = CheckReport::default();
    if opts.repair || opts.force {
        repair(store, opts, &found, &mut report)?;
    }
    report.found = found;
    Ok(report)
}

fn running(store: &Store, id: &str) -> bool {
    current_state(store, id).is_ok_and(|s| is_running(&s))
}

fn repair(store: &Store, opts: CheckOptions, f: &Findings, r: &mut CheckReport) -> Result<()> {
    let damaged_layers: BTreeSet<_> = f.layers.keys().cloned().collect();
    // Containers built on damaged images or layers: only with force, and
    // first, without the store lock (removal takes it).
    if opts.force {
        let doomed: BTreeSet<String> = f
            .containers
            .keys()
            .filter(|id| !f.unreadable_containers.contains(*id))
            .filter(|id| {
                store.containers.load_config(id).is_ok_and(|c| {
                    f.images.contains_key(&c.image_id)
                        || c.layers.iter().any(|l| {
                            damaged_layers.contains(l.hex()) || !store.container_layers(&c).has(l)
                        })
                })
            })
            .cloned()
            .chain(
                f.images
                    .keys()
                    .flat_map(|img| super::images::containers_using(store, img)),
            )
            .collect();
        for id in doomed {
            let how = Removal {
                force: true,
                stop_timeout: Some(0),
                volumes: false,
            };
            if containers::remove(store, &id, how).is_ok() {
                r.removed_containers.push(id);
            }
        }
    }
    let _lock = store.lock()?;
    check::sweep_everywhere(store);
    for id in &f.unreadable_containers {
        if running(store, id) {
            continue;
        }
        if let Ok(doomed) = store.containers.unlink_named(id, None) {
            let _ = crate::runtime::delete::delete_tree(store, &doomed);
            r.removed_containers.push(id.clone());
        }
    }
    // The listing index, from the records (a change cut short, a lost shard).
    store.containers.rebuild_index()?;
    // The image key index, likewise (the image repairs below keep it so).
    if !f.indexes.is_empty() {
        store.images.rebuild_key_index()?;
        r.rebuilt_indexes.extend(f.indexes.keys().cloned());
    }
    for name in store.containers.stale_names() {
        store.containers.forget_name(&name)?;
    }
    for (id, name) in &f.unindexed_names {
        if store.containers.name_owner(name).is_none() {
            store.containers.claim_name(name, id)?;
        }
    }
    for name in &f.volumes_to_rebuild {
        check::rebuild_volume(store, name, crate::format::human::now_rfc3339())?;
        r.rebuilt_volumes.push(name.clone());
    }
    // Damaged images that no container uses (any more).
    let mut images = store.images.load()?;
    let mut gone = Vec::new();
    for id in f.images.keys() {
        if super::images::containers_using(store, id).is_empty() {
            if let Some(rec) = images.remove(id) {
                gone.push(rec);
            }
        }
    }
    if !gone.is_empty() {
        store.images.save(&images)?;
        for rec in &gone {
            crate::storage::events::append(
                store,
                crate::storage::events::Event::image("remove", &rec.id, &rec.id),
            );
            store.collect_image_garbage(&images, rec)?;
            r.removed_images.push(rec.id.clone());
        }
    }
    // Damaged layers nothing uses any more.
    let in_use_by_containers: BTreeSet<String> = store
        .containers
        .ids()?
        .iter()
        .filter_map(|id| store.containers.load_config(id).ok())
        .flat_map(|c| c.layers.into_iter().map(|l| l.hex().to_string()))
        .collect();
    for hex in &damaged_layers {
        let Ok(d) = crate::storage::digest::Digest::from_hex(hex) else {
            continue;
        };
        if in_use_by_containers.contains(hex) || images.layer_in_use(&d, None) {
            continue;
        }
        if store.layers.path(&d).exists() {
            store.layers.remove(&d)?;
        }
        r.removed_layers.push(hex.clone());
    }
    for hex in f.blobs.keys() {
        if let Ok(d) = crate::storage::digest::Digest::from_hex(hex) {
            store.blobs.remove(&d)?;
            r.removed_blobs.push(hex.clone());
        }
    }
    Ok(())
}

/// What `system prune --external` removed.
#[derive(Debug, Default)]
pub struct ExternalReport {
    pub containers: Vec<String>,
    pub layers: Vec<String>,
    /// Leftover files of dead invocations.
    pub leftovers: usize,
}

/// `system prune --external`: what the store holds that no record of
/// coracle's names, as containers/storage's garbage collection: leftovers
/// of dead invocations in every directory, container directories without
/// a readable record (not running), and layers no image or container
/// uses, of any age (a pull or commit that loses one under way fails
/// cleanly: both look for their layers again under the lock). Never an
/// image, a container with its records, a volume or a blob.
pub fn remove_external(store: &Store) -> Result<ExternalReport> {
    crate::runtime::userns::enter_for_storage(store)?;
    let _lock = store.lock()?;
    let mut r = ExternalReport {
        leftovers: check::sweep_everywhere(store).len(),
        ..Default::default()
    };
    let found = check::inspect(store, true, std::time::Duration::ZERO)?;
    for id in &found.unreadable_containers {
        if running(store, id) {
            continue;
        }
        if let Ok(doomed) = store.containers.unlink_named(id, None) {
            let _ = crate::runtime::delete::delete_tree(store, &doomed);
            r.containers.push(id.clone());
        }
    }
    if r.containers.len() < found.unreadable_containers.len() {
        // A running container without records may use any layer.
        return Ok(r);
    }
    let images = store.images.load()?;
    // The other mode's containers (`--transient-store` or not) too.
    let mut in_use_by_containers = BTreeSet::new();
    for set in std::iter::once(&store.containers).chain(store.other_containers.as_ref()) {
        let ids = match set.ids() {
            Ok(ids) => ids,
            Err(_) if !std::ptr::eq(set, &store.containers) => Vec::new(),
            Err(e) => return Err(e),
        };
        for id in ids {
            if let Ok(c) = set.load_config(&id) {
                in_use_by_containers.extend(c.layers);
            }
        }
    }
    // Every layer nothing uses, however young (and whatever its record).
    for d in store.layers.list()? {
        if in_use_by_containers.contains(&d) || images.layer_in_use(&d, None) {
            continue;
        }
        store.layers.remove(&d)?;
        r.layers.push(d.hex().to_string());
    }
    Ok(r)
}
