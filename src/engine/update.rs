//! `update`: what a container may change after it was made, as podman
//! lets it: its limits, environment, rlimits, healthcheck and restart
//! policy. The records change under the store lock; a running container's
//! cgroup gets the limits at once, and its monitor re-reads the
//! healthcheck and restart policy (the environment and rlimits apply from
//! the next start, as in podman).

use super::create::{at_least_a_second, duration_ns, health_test, merge_env, Limits};
use crate::storage::containers::ContainerConfig;
use crate::storage::health::{
    self, HealthConfig, HealthSettings, StartupCheck, DEFAULT_LOG_COUNT, DEFAULT_LOG_SIZE,
};
use crate::storage::modes::RestartPolicy;
use crate::storage::store::Store;
use anyhow::{bail, Result};

/// The `--health-*` flags of `update`: `None` is "leave as it is".
#[derive(Debug, Clone, Default)]
pub struct HealthUpdate {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub retries: Option<u32>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub on_failure: Option<String>,
    pub log_destination: Option<String>,
    pub max_log_count: Option<usize>,
    pub max_log_size: Option<usize>,
    pub startup_cmd: Option<String>,
    pub startup_interval: Option<String>,
    pub startup_retries: Option<u32>,
    pub startup_success: Option<u32>,
    pub startup_timeout: Option<String>,
    pub no_healthcheck: bool,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateRequest {
    pub limits: Limits,
    /// `KEY=VALUE` (or `KEY`, from our environment) to set.
    pub env: Vec<String>,
    /// Names of variables to remove.
    pub unsetenv: Vec<String>,
    /// `--ulimit`s, replacing those of the same name.
    pub ulimits: Vec<String>,
    pub restart: Option<RestartPolicy>,
    pub health: HealthUpdate,
}

/// Change container `id` as `req` asks.
pub fn update(store: &Store, id: &str, req: &UpdateRequest) -> Result<()> {
    crate::runtime::resources::update(store, id, |cfg| apply(cfg, req))
}

fn env_key(e: &str) -> &str {
    e.split_once('=').map_or(e, |(k, _)| k)
}

fn apply(cfg: &mut ContainerConfig, req: &UpdateRequest) -> Result<()> {
    req.limits.apply_to(&mut cfg.resources)?;
    for name in &req.unsetenv {
        cfg.env.retain(|e| env_key(e) != name);
    }
    merge_env(&mut cfg.env, &req.env);
    for u in &req.ulimits {
        let (name, ..) = crate::runtime::spec::parse_ulimit(u)?;
        cfg.ulimits.retain(|o| {
            crate::runtime::spec::parse_ulimit(o).map_or(true, |(other, ..)| other != name)
        });
        cfg.ulimits.push(u.clone());
    }
    if let Some(policy) = req.restart {
        if cfg.auto_remove && policy != RestartPolicy::No {
            bail!(
                r#"the --rm option conflicts with --restart, when the restartPolicy is not "" and "no""#
            );
        }
        cfg.restart_policy = policy;
    }
    cfg.health = updated_health(cfg.health.take(), &req.health)?;
    Ok(())
}

impl HealthUpdate {
    /// Does it change anything but the command?
    fn tunes(&self) -> bool {
        self.interval.is_some()
            || self.retries.is_some()
            || self.timeout.is_some()
            || self.start_period.is_some()
            || self.on_failure.is_some()
            || self.log_destination.is_some()
            || self.max_log_count.is_some()
            || self.max_log_size.is_some()
            || self.startup_cmd.is_some()
            || self.startup_interval.is_some()
            || self.startup_retries.is_some()
            || self.startup_success.is_some()
            || self.startup_timeout.is_some()
    }
}

/// A new healthcheck (podman's defaults) running `test`.
fn new_settings(test: Vec<String>) -> HealthSettings {
    HealthSettings {
        check: HealthConfig {
            test,
            ..Default::default()
        },
        max_log_count: DEFAULT_LOG_COUNT,
        max_log_size: DEFAULT_LOG_SIZE,
        scheduled: true,
        log_destination: health::LOG_LOCAL.into(),
        ..Default::default()
    }
}

fn updated_health(
    current: Option<HealthSettings>,
    u: &HealthUpdate,
) -> Result<Option<HealthSettings>> {
    if u.no_healthcheck {
        if u.cmd.is_some() || u.tunes() {
            bail!("cannot specify both --no-healthcheck and other healthcheck flags");
        }
        return Ok(None);
    }
    let mut s = match (current, &u.cmd) {
        (current, Some(cmd)) => {
            let test = health_test(cmd)?;
            if test == ["NONE"] {
                if u.tunes() {
                    bail!("cannot change a healthcheck that --health-cmd=none removes");
                }
                return Ok(None);
            }
            let mut s = current.unwrap_or_else(|| new_settings(Vec::new()));
            s.check.test = test;
            s
        }
        (Some(s), None) => s,
        (None, None) if u.tunes() => {
            bail!("the container has no healthcheck to change: give --health-cmd to define one")
        }
        (None, None) => return Ok(None),
    };
    if let Some(i) = &u.interval {
        if i == "disable" {
            s.scheduled = false;
        } else {
            s.check.interval = at_least_a_second("healthcheck-interval", i)?;
            s.scheduled = true;
        }
    }
    if let Some(n) = u.retries {
        if n < 1 {
            bail!("healthcheck-retries must be greater than 0");
        }
        s.check.retries = n;
    }
    if let Some(t) = &u.timeout {
        s.check.timeout = at_least_a_second("healthcheck-timeout", t)?;
    }
    if let Some(p) = &u.start_period {
        s.check.start_period = duration_ns("healthcheck-start-period", p)?;
    }
    if let Some(a) = &u.on_failure {
        s.on_failure = a.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    }
    if let Some(d) = &u.log_destination {
        s.log_destination = health::log_destination(d)?;
    }
    if let Some(n) = u.max_log_count {
        s.max_log_count = n;
    }
    if let Some(n) = u.max_log_size {
        s.max_log_size = n;
    }
    if let Some(cmd) = &u.startup_cmd {
        let check = HealthConfig {
            test: health_test(cmd)?,
            interval: 30_000_000_000,
            timeout: 30_000_000_000,
            ..Default::default()
        };
        match &mut s.startup {
            Some(st) => st.check.test = check.test,
            None => {
                s.startup = Some(StartupCheck {
                    check,
                    successes: 0,
                })
            }
        }
    }
    let startup_tuned = u.startup_interval.is_some()
        || u.startup_retries.is_some()
        || u.startup_success.is_some()
        || u.startup_timeout.is_some();
    if startup_tuned {
        let Some(st) = s.startup.as_mut() else {
            bail!("the container has no startup healthcheck to change: give --health-startup-cmd to define one");
        };
        if let Some(i) = &u.startup_interval {
            st.check.interval = at_least_a_second("healthcheck-startup-interval", i)?;
        }
        if let Some(t) = &u.startup_timeout {
            st.check.timeout = at_least_a_second("healthcheck-startup-timeout", t)?;
        }
        if let Some(n) = u.startup_retries {
            st.check.retries = n;
        }
        if let Some(n) = u.startup_success {
            st.successes = n;
        }
    }
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthcheck_is_made_changed_and_removed() {
        let add = HealthUpdate {
            cmd: Some("true".into()),
            interval: Some("2s".into()),
            ..Default::default()
        };
        let s = updated_health(None, &add).unwrap().unwrap();
        assert_eq!(s.check.test, ["CMD-SHELL", "true"]);
        assert_eq!(s.check.interval, 2_000_000_000);
        assert_eq!(s.max_log_count, DEFAULT_LOG_COUNT);
        let retune = HealthUpdate {
            retries: Some(7),
            ..Default::default()
        };
        let s = updated_health(Some(s), &retune).unwrap().unwrap();
        assert_eq!((s.check.retries, s.check.interval), (7, 2_000_000_000));
        let off = HealthUpdate {
            no_healthcheck: true,
            ..Default::default()
        };
        assert!(updated_health(Some(s), &off).unwrap().is_none());
        assert!(updated_health(None, &retune).is_err());
    }
}
