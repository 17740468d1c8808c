//! The containers of a project, found by their labels (never by name: a
//! renamed container is still the project's).

use super::request::{HASH, NUMBER, ONEOFF, PROJECT, SERVICE};
use crate::engine::containers::{list_all, Listed};
use crate::engine::types::Store;
use anyhow::Result;

/// One container of a project.
pub struct Member {
    pub service: String,
    pub number: u32,
    pub oneoff: bool,
    pub hash: String,
    pub listed: Listed,
}

impl Member {
    pub fn id(&self) -> &str {
        &self.listed.cfg.id
    }
    pub fn name(&self) -> &str {
        &self.listed.cfg.name
    }
    pub fn running(&self) -> bool {
        crate::engine::types::is_running(&self.listed.state)
    }
}

/// Every container of project `name`, by service and number.
pub fn members(store: &Store, name: &str) -> Result<Vec<Member>> {
    let mut out: Vec<Member> = list_all(store)?
        .into_iter()
        .filter(|l| l.cfg.labels.get(PROJECT).map(String::as_str) == Some(name))
        .map(|l| {
            let label = |k: &str| l.cfg.labels.get(k).cloned().unwrap_or_default();
            Member {
                service: label(SERVICE),
                number: label(NUMBER).parse().unwrap_or(0),
                oneoff: label(ONEOFF) == "True",
                hash: label(HASH),
                listed: l,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
    Ok(out)
}

/// A container's record and its current state, read afresh.
pub fn status(
    store: &Store,
    id: &str,
) -> Result<(
    crate::engine::types::ContainerConfig,
    crate::engine::types::ContainerState,
)> {
    let cfg = store.containers.load_config(id)?;
    let state = crate::runtime::state::current_state(store, id)?;
    Ok((cfg, state))
}
