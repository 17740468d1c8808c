//! `pod pause|unpause`: freeze or thaw every container of a pod that is
//! in the state to be (the infra too, as podman does).

use super::types::{PodConfig, Status, Store};
use crate::runtime::pod as rt;
use crate::storage::events::{self, Event};
use anyhow::{bail, Result};

/// Freeze the pod's running containers.
pub fn pause(store: &Store, pod: &PodConfig) -> Result<()> {
    change(
        store,
        pod,
        Status::Running,
        "running",
        super::containers::pause,
    )?;
    events::append(store, Event::pod("pause", &pod.id, &pod.name));
    Ok(())
}

/// Thaw the pod's paused containers.
pub fn unpause(store: &Store, pod: &PodConfig) -> Result<()> {
    change(
        store,
        pod,
        Status::Paused,
        "paused",
        super::containers::unpause,
    )?;
    events::append(store, Event::pod("unpause", &pod.id, &pod.name));
    Ok(())
}

fn change(
    store: &Store,
    pod: &PodConfig,
    from: Status,
    from_name: &str,
    f: fn(&Store, &str) -> Result<()>,
) -> Result<()> {
    let members: Vec<_> = rt::containers(store, &pod.id)?
        .into_iter()
        .filter(|m| m.state.status == from)
        .collect();
    if members.is_empty() {
        bail!(
            "no containers in pod {} are {from_name}: pod state improper",
            pod.name
        );
    }
    for m in &members {
        f(store, &m.cfg.id)?;
    }
    Ok(())
}
