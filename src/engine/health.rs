//! `healthcheck run`: one check now, recorded as the monitor records its
//! own, with the on-failure action applied.

use super::types::Store;
use crate::runtime::health::{self, Verdict};
use crate::runtime::state::{current_state, is_running};
use crate::storage::health::HealthAction;
use anyhow::{bail, Result};

/// Run container `id`'s healthcheck; its status afterwards (healthy,
/// unhealthy or starting).
pub fn run_check(store: &Store, id: &str) -> Result<String> {
    let cfg = store.containers.load_config(id)?;
    let Some(settings) = &cfg.health else {
        bail!("container {} has no defined healthcheck", cfg.name);
    };
    let state = current_state(store, id)?;
    if !is_running(&state) {
        bail!("container {} is not running", cfg.name);
    }
    let Some((check, startup)) = health::due_check(store, &cfg) else {
        bail!("container {} has no defined healthcheck", cfg.name);
    };
    let result = health::run_check(store, id, check, startup)?;
    let started = state
        .started_at
        .as_deref()
        .and_then(|t| crate::format::human::parse_rfc3339(t).ok())
        .unwrap_or(std::time::UNIX_EPOCH);
    let (verdict, rec) = health::record(store, &cfg, &result, started)?;
    let action = match verdict {
        Verdict::BecameUnhealthy => settings.on_failure,
        Verdict::StartupExhausted => HealthAction::Restart,
        _ => HealthAction::None,
    };
    match action {
        HealthAction::None => {}
        HealthAction::Kill => super::containers::kill(store, id, libc::SIGKILL)?,
        HealthAction::Stop => super::containers::stop(store, id, None)?,
        HealthAction::Restart => super::containers::restart(store, id, None)?,
    }
    Ok(rec.health.status)
}
