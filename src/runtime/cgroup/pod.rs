//! A pod's cgroup: the parent of its members' cgroups (podman's pod
//! cgroup parent), holding the limits `pod create` gave for the pod as a
//! whole. Made when the first member starts, removed with the pod.

use super::{available, needed_controllers, v1, v2, Cgroup, Hierarchy};
use crate::storage::containers::Resources;
use anyhow::{bail, Result};

/// Where pod `id`'s cgroup is (below the hierarchy root), made or not:
/// `None` when this user's containers get no cgroup on this host.
pub fn place(id: &str, parent: &str, rootless: bool) -> Option<Cgroup> {
    let avail = available(rootless);
    let h = avail.hierarchy?;
    let parent = if !parent.is_empty() {
        format!("/{}", parent.trim_matches('/'))
    } else {
        format!("{}/coracle", avail.base?.trim_end_matches('/'))
    };
    Some(Cgroup {
        rel: format!("{}/coracle-pod-{id}", parent.trim_end_matches('/')),
        hierarchy: h,
    })
}

/// Make pod `id`'s cgroup if it is missing and write its limits; its
/// path, which members take as their parent.
pub fn ensure(id: &str, r: &Resources, parent: &str, rootless: bool) -> Result<Option<String>> {
    let Some(cg) = place(id, parent, rootless) else {
        return Ok(None);
    };
    // An existing one holds running members: made again, it would be
    // emptied (a dead monitor's leftover is, in `create`).
    if !cg.dirs().iter().any(|d| d.exists()) {
        match cg.hierarchy {
            Hierarchy::V2 => v2::create(&cg, available(rootless).base.as_deref().unwrap_or(""))?,
            Hierarchy::V1 => v1::create(&cg)?,
        }
    }
    let have = cg.controllers();
    for (flag, ctrl) in needed_controllers(r, false) {
        if !have.iter().any(|c| c == ctrl) {
            bail!(
                "{flag}: the {ctrl} controller is not available in the pod's cgroup {}",
                cg.rel
            );
        }
    }
    cg.apply(r)?;
    Ok(Some(cg.rel))
}

/// Remove pod `id`'s cgroup (its members' are gone already).
pub fn remove(id: &str, parent: &str, rootless: bool) {
    if let Some(cg) = place(id, parent, rootless) {
        if cg.dirs().iter().any(|d| d.exists()) {
            cg.remove();
        }
    }
}
