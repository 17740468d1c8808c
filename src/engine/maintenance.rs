//! The store as a whole: `system prune`, `system reset`, `system migrate`
//! and `system renumber`, on the same removal code the single verbs use.

use super::containers::{self, PruneFilter, Removal};
use crate::storage::store::Store;
use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// `system prune`'s request.
#[derive(Debug, Default)]
pub struct PruneRequest {
    /// Every image no container uses, not only dangling ones.
    pub all: bool,
    pub volumes: bool,
    /// `--build`: also the RUN containers of builds (a killed build leaves
    /// its own), running or not.
    pub build: bool,
    /// podman's `label=`, `label!=` and `until=` (containers and images).
    pub filters: Vec<String>,
}

#[derive(Debug, Default)]
pub struct PruneReport {
    pub containers: Vec<String>,
    pub pods: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
    /// Bytes the store shrank by.
    pub reclaimed: u64,
    /// The first failure; what could be removed was.
    pub error: Option<anyhow::Error>,
}

/// Images' side of podman's system prune filters.
fn image_matches(
    f: &PruneFilter,
    created: Option<&str>,
    labels: &BTreeMap<String, String>,
) -> bool {
    if let Some(t) = f.until {
        match created.map(crate::format::human::parse_rfc3339) {
            Some(Ok(c)) if c < t => {}
            _ => return false,
        }
    }
    f.labels
        .iter()
        .all(|l| super::filter::label_matches(l, labels))
        && !f
            .not_labels
            .iter()
            .any(|l| super::filter::label_matches(l, labels))
}

/// Remove stopped pods and containers, unused volumes (asked), and dangling
/// (or, `all`, unused) images, in that order, so what one step frees the
/// next can take.
pub fn prune(store: &Store, req: &PruneRequest) -> Result<PruneReport> {
    let f = PruneFilter::parse(&req.filters)?;
    let before = store_bytes(store)?;
    let mut report = PruneReport::default();
    let failed = |e: anyhow::Error, report: &mut PruneReport| {
        if report.error.is_none() {
            report.error = Some(e);
        }
    };
    if req.build {
        let builder = crate::build::builder::BUILD_ANNOTATION;
        for l in containers::list_all(store)? {
            if !l.cfg.annotations.contains_key(builder) {
                continue;
            }
            let how = Removal {
                force: true,
                stop_timeout: Some(0),
                volumes: false,
            };
            match containers::remove(store, &l.cfg.id, how) {
                Ok(()) => report.containers.push(l.cfg.id),
                Err(e) => failed(e, &mut report),
            }
        }
    }
    if f.labels.is_empty() && f.not_labels.is_empty() && f.until.is_none() {
        for pod in super::pods::prune_candidates(store)? {
            match super::pods::remove(store, &pod, false, None) {
                Ok(()) => report.pods.push(pod.id),
                Err(e) => failed(e, &mut report),
            }
        }
    }
    let pruned = containers::prune(store, &f)?;
    report.containers.extend(pruned.removed);
    if let Some(e) = pruned.error {
        failed(e, &mut report);
    }
    if req.volumes {
        let doomed = super::volumes::prune_candidates(store, &[])?;
        let v = super::volumes::prune(store, &doomed);
        report.volumes = v.removed;
        if let Some(e) = v.error {
            failed(e, &mut report);
        }
    }
    let all = req.all;
    report.images = super::images::prune(store, false, |store| {
        let images = store.images.load()?;
        let mut out = Vec::new();
        for rec in &images.list {
            if !all && !rec.names.is_empty() {
                continue;
            }
            let labels = store
                .blobs
                .read(&rec.config_digest())
                .ok()
                .and_then(|b| crate::storage::image_config::ImageConfig::parse(&b).ok())
                .and_then(|c| c.config.labels)
                .unwrap_or_default();
            let labels = labels.into_iter().collect();
            if image_matches(&f, rec.created.as_deref(), &labels) {
                out.push(rec.id.clone());
            }
        }
        Ok(out)
    })?;
    // podman's prune of every unused image takes the build cache too
    if req.all {
        if let Err(e) = super::images::prune_build_cache(store) {
            failed(e, &mut report);
        }
    }
    report.reclaimed = before.saturating_sub(store_bytes(store)?);
    Ok(report)
}

/// Bytes under the store's root and image store (rootless: from inside
/// the user namespace, where every file can be read).
fn store_bytes(store: &Store) -> Result<u64> {
    crate::runtime::userns::enter_for_storage(store)?;
    Ok(store
        .image_store
        .iter()
        .chain([&store.root])
        .map(|dir| crate::runtime::volume::tree_size(dir))
        .sum())
}

/// Remove everything of this user: containers (stopped first), pods,
/// images, volumes, then the store's directories themselves.
pub fn reset(store: &Store) -> Result<()> {
    let mut first_error = None;
    for pod in super::pods::list_all(store)? {
        if let Err(e) = super::pods::remove(store, &pod.pod, true, Some(0)) {
            first_error.get_or_insert(e);
        }
    }
    for l in containers::list_all(store)? {
        let how = Removal {
            force: true,
            stop_timeout: Some(0),
            volumes: false,
        };
        if let Err(e) = containers::remove(store, &l.cfg.id, how) {
            first_error.get_or_insert(e);
        }
    }
    // A plugin's volumes go at the plugin too, as podman's reset does.
    let plugin_volumes: Vec<String> = store
        .volumes
        .list()?
        .into_iter()
        .filter(|v| v.uses_plugin())
        .map(|v| v.name)
        .collect();
    if !plugin_volumes.is_empty() {
        let r = super::volumes::Removal {
            names: plugin_volumes,
            force: true,
            ..Default::default()
        };
        if let Err(e) = super::volumes::remove(store, &r) {
            first_error.get_or_insert(e);
        }
    }
    crate::runtime::userns::enter_for_storage(store)?;
    // The image store's images are this user's too (podman's reset
    // removes every image).
    for dir in [&store.root, &store.runroot]
        .into_iter()
        .chain(store.image_store.as_ref())
    {
        if let Err(e) = crate::runtime::delete::delete_tree(store, dir) {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `system migrate`: stop every running container, so a changed
/// /etc/subuid or /etc/subgid applies when they start again (coracle has
/// no pause process to stop), and bring an old store's image records to
/// the current layout. Returns the ids stopped.
///
/// With `new_runtime` (`--new-runtime`), every container is given that OCI
/// runtime (`coracle`: the built-in one); a runtime that cannot be found
/// changes nothing.
pub fn migrate(store: &Store, new_runtime: Option<&str>) -> Result<Vec<String>> {
    let runtime = match new_runtime {
        None => None,
        Some("coracle") => Some(None),
        Some(name) => {
            let chosen = crate::config::oci_runtime::choose(
                Some(name),
                &[],
                &crate::config::get().containers.engine,
            )?;
            Some(
                chosen.map(|r| crate::storage::containers::OciRuntimeRecord {
                    name: r.name,
                    path: r.path,
                    flags: r.flags,
                }),
            )
        }
    };
    let mut stopped = Vec::new();
    for l in containers::list_all(store)? {
        if crate::runtime::state::is_running(&l.state) {
            containers::stop(store, &l.cfg.id, None)?;
            stopped.push(l.cfg.id);
        }
    }
    let _lock = store.lock()?;
    if let Some(runtime) = runtime {
        let mut changed = Vec::new();
        for id in store.containers.ids()? {
            let Ok(mut cfg) = store.containers.load_config(&id) else {
                continue;
            };
            cfg.oci_runtime = runtime.clone();
            crate::runtime::oci_runtime::check(&cfg).with_context(|| {
                format!("container {} cannot run under the new runtime", cfg.name)
            })?;
            changed.push(cfg);
        }
        for cfg in &changed {
            store.containers.save_config(cfg)?;
        }
    }
    store.images.migrate()?;
    Ok(stopped)
}

/// `system renumber`: give the volumes' lock numbers out again, densely
/// from 0 in name order.
pub fn renumber(store: &Store) -> Result<()> {
    let _lock = store.lock()?;
    for (n, mut v) in store.volumes.list()?.into_iter().enumerate() {
        if v.lock_number != n as u32 {
            v.lock_number = n as u32;
            store.volumes.save(&v)?;
        }
    }
    Ok(())
}
