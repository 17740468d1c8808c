//! What makes a container a service, checked as podman checks it: the
//! restart policy, the healthcheck (flags over the image's), how systemd
//! is notified, and the pid files units read.

use crate::storage::health::{HealthAction, HealthConfig, HealthSettings, StartupCheck};
use crate::storage::image_config::ImageConfig;
use crate::storage::modes::RestartPolicy;
use anyhow::{bail, Result};
use std::time::Duration;

/// The service flags as `create`/`run` take them; `None` is "not given"
/// (the image's value, else podman's default).
#[derive(Debug, Clone, Default)]
pub struct ServiceRequest {
    pub restart: RestartPolicy,
    pub health_cmd: Option<String>,
    pub health_interval: Option<String>,
    pub health_retries: Option<u32>,
    pub health_timeout: Option<String>,
    pub health_start_period: Option<String>,
    pub health_on_failure: String,
    pub health_max_log_count: usize,
    pub health_max_log_size: usize,
    /// local, events_logger or a directory; `None`: local.
    pub health_log_destination: Option<String>,
    pub health_startup_cmd: Option<String>,
    pub health_startup_interval: String,
    pub health_startup_retries: u32,
    pub health_startup_success: u32,
    pub health_startup_timeout: String,
    pub no_healthcheck: bool,
    pub sdnotify: String,
    pub replace: bool,
    pub pidfile: Option<String>,
    pub conmon_pidfile: Option<String>,
}

/// The checked settings, ready for the container's record.
pub struct Service {
    pub restart: RestartPolicy,
    pub health: Option<HealthSettings>,
    pub sdnotify: String,
}

/// `--health-cmd` as podman reads it: a JSON array (prefixed with `CMD`
/// unless it names its form), `none`, or a shell line.
pub fn health_test(cmd: &str) -> Result<Vec<String>> {
    let cmd = cmd.trim();
    if cmd.is_empty() {
        bail!("must define a healthcheck command for all healthchecks");
    }
    if cmd.eq_ignore_ascii_case("none") {
        return Ok(vec!["NONE".into()]);
    }
    if cmd.starts_with('[') {
        let argv: Vec<String> = serde_json::from_str(cmd)
            .map_err(|e| anyhow::anyhow!("invalid healthcheck command {cmd:?}: {e}"))?;
        return Ok(match argv.first().map(String::as_str) {
            None => bail!("must define a healthcheck command for all healthchecks"),
            Some("CMD" | "CMD-SHELL" | "NONE") => argv,
            Some(_) => std::iter::once("CMD".to_string()).chain(argv).collect(),
        });
    }
    Ok(vec!["CMD-SHELL".into(), cmd.to_string()])
}

pub(crate) fn duration_ns(flag: &str, value: &str) -> Result<i64> {
    let (neg, d) = crate::format::human::parse_go_duration(value)
        .map_err(|e| anyhow::anyhow!("invalid {flag} {value:?}: {e}"))?;
    if neg {
        bail!("{flag} must be 0 seconds or greater");
    }
    Ok(d.as_nanos().min(i64::MAX as u128) as i64)
}

/// At least a second, as podman requires of intervals and timeouts.
pub(crate) fn at_least_a_second(flag: &str, value: &str) -> Result<i64> {
    let ns = duration_ns(flag, value)?;
    if ns < Duration::from_secs(1).as_nanos() as i64 {
        bail!("{flag} must be at least 1 second");
    }
    Ok(ns)
}

/// The image's `Healthcheck`, if it has one.
fn image_check(img: &ImageConfig) -> Option<HealthConfig> {
    let v = img.config.extra.get("Healthcheck")?;
    serde_json::from_value(v.clone()).ok()
}

fn health(r: &ServiceRequest, img: &ImageConfig) -> Result<Option<HealthSettings>> {
    if r.no_healthcheck {
        if r.health_cmd.is_some() {
            bail!("cannot specify both --no-healthcheck and --health-cmd");
        }
        return Ok(None);
    }
    let mut check = match &r.health_cmd {
        Some(cmd) => HealthConfig {
            test: health_test(cmd)?,
            ..Default::default()
        },
        None => match image_check(img) {
            Some(c) => c,
            None => {
                if r.health_startup_cmd.is_some() {
                    bail!("cannot set a startup healthcheck without a healthcheck");
                }
                return Ok(None);
            }
        },
    };
    if check.is_disabled() {
        return Ok(None);
    }
    let mut scheduled = true;
    if let Some(i) = &r.health_interval {
        if i == "disable" {
            scheduled = false;
        } else {
            check.interval = at_least_a_second("healthcheck-interval", i)?;
        }
    }
    if let Some(n) = r.health_retries {
        if n < 1 {
            bail!("healthcheck-retries must be greater than 0");
        }
        check.retries = n;
    }
    if let Some(t) = &r.health_timeout {
        check.timeout = at_least_a_second("healthcheck-timeout", t)?;
    }
    if let Some(p) = &r.health_start_period {
        check.start_period = duration_ns("healthcheck-start-period", p)?;
    }
    let on_failure: HealthAction = r
        .health_on_failure
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let startup = match &r.health_startup_cmd {
        None => None,
        Some(cmd) => Some(StartupCheck {
            check: HealthConfig {
                test: health_test(cmd)?,
                interval: at_least_a_second(
                    "healthcheck-startup-interval",
                    &r.health_startup_interval,
                )?,
                timeout: at_least_a_second(
                    "healthcheck-startup-timeout",
                    &r.health_startup_timeout,
                )?,
                retries: r.health_startup_retries,
                ..Default::default()
            },
            successes: r.health_startup_success,
        }),
    };
    Ok(Some(HealthSettings {
        check,
        on_failure,
        startup,
        max_log_count: r.health_max_log_count,
        max_log_size: r.health_max_log_size,
        scheduled,
        log_destination: match &r.health_log_destination {
            Some(d) => crate::storage::health::log_destination(d)?,
            None => crate::storage::health::LOG_LOCAL.into(),
        },
    }))
}

/// Check the request against itself and the image.
pub fn service(r: &ServiceRequest, img: &ImageConfig, auto_remove: bool) -> Result<Service> {
    if auto_remove && r.restart != RestartPolicy::No {
        bail!(
            r#"the --rm option conflicts with --restart, when the restartPolicy is not "" and "no""#
        );
    }
    let sdnotify = match r.sdnotify.as_str() {
        "" | "container" => "container",
        m @ ("conmon" | "healthy" | "ignore") => m,
        other => {
            bail!("invalid sdnotify value {other:?}: must be conmon, container, healthy or ignore")
        }
    };
    let health = health(r, img)?;
    if sdnotify == "healthy" && health.is_none() {
        bail!("--sdnotify=healthy requires a healthcheck (--health-cmd, or one in the image)");
    }
    Ok(Service {
        restart: r.restart,
        health,
        sdnotify: sdnotify.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_commands_as_podman_reads_them() {
        assert_eq!(
            health_test("curl -f x").unwrap(),
            ["CMD-SHELL", "curl -f x"]
        );
        assert_eq!(health_test(r#"["true"]"#).unwrap(), ["CMD", "true"]);
        assert_eq!(
            health_test(r#"["CMD-SHELL", "exit 0"]"#).unwrap(),
            ["CMD-SHELL", "exit 0"]
        );
        assert_eq!(health_test("none").unwrap(), ["NONE"]);
        assert!(health_test("").is_err());
        assert!(health_test("[bad").is_err());
    }

    fn req(cmd: &str) -> ServiceRequest {
        ServiceRequest {
            health_cmd: Some(cmd.into()),
            health_on_failure: "none".into(),
            health_startup_interval: "30s".into(),
            health_startup_timeout: "30s".into(),
            sdnotify: "container".into(),
            ..Default::default()
        }
    }

    #[test]
    fn intervals_below_a_second_are_refused() {
        let img = ImageConfig::default();
        let mut r = req("true");
        r.health_interval = Some("500ms".into());
        let e = service(&r, &img, false).err().unwrap();
        assert_eq!(
            e.to_string(),
            "healthcheck-interval must be at least 1 second"
        );
        r.health_interval = Some("disable".into());
        let s = service(&r, &img, false).unwrap();
        assert!(!s.health.unwrap().scheduled);
    }

    #[test]
    fn rm_and_restart_conflict() {
        let mut r = req("true");
        r.restart = RestartPolicy::Always;
        assert!(service(&r, &ImageConfig::default(), true).is_err());
        assert!(service(&r, &ImageConfig::default(), false).is_ok());
    }

    #[test]
    fn image_check_is_used_and_overridden() {
        let mut img = ImageConfig::default();
        img.config.extra.insert(
            "Healthcheck".into(),
            serde_json::json!({"Test": ["CMD-SHELL", "exit 0"], "Interval": 5_000_000_000i64, "Retries": 2}),
        );
        let mut r = req("x");
        r.health_cmd = None;
        r.health_retries = Some(7);
        let h = service(&r, &img, false).unwrap().health.unwrap();
        assert_eq!(h.check.test, ["CMD-SHELL", "exit 0"]);
        assert_eq!(h.check.interval, 5_000_000_000);
        assert_eq!(h.check.retries, 7);
        r.no_healthcheck = true;
        assert!(service(&r, &img, false).unwrap().health.is_none());
    }
}
