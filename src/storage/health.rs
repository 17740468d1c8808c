//! Healthchecks as records: what to run and when (a container's settings,
//! in the image config's `Healthcheck` shape), and how the checks went
//! (podman's `.State.Health`: Status, FailingStreak, Log), kept in
//! `userdata/healthcheck.log` beside the container's state.

use super::atomic;
use super::lock::FileLock;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// podman's defaults.
pub const DEFAULT_INTERVAL_NS: i64 = 30_000_000_000;
pub const DEFAULT_TIMEOUT_NS: i64 = 30_000_000_000;
pub const DEFAULT_RETRIES: u32 = 3;
pub const DEFAULT_LOG_COUNT: usize = 5;
pub const DEFAULT_LOG_SIZE: usize = 500;

/// One check: the image config's `Healthcheck` object (durations in
/// nanoseconds; zero means the default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["CMD", arg...]`, `["CMD-SHELL", line]` or `["NONE"]`.
    #[serde(default)]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub retries: u32,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

impl HealthConfig {
    /// The program to run: `CMD-SHELL` through `/bin/sh -c`.
    pub fn argv(&self) -> Vec<String> {
        match self.test.first().map(String::as_str) {
            Some("CMD-SHELL") => {
                let line = self.test[1..].join(" ");
                vec!["/bin/sh".into(), "-c".into(), line]
            }
            Some("CMD") => self.test[1..].to_vec(),
            _ => Vec::new(),
        }
    }

    /// `NONE` or nothing to run: no check.
    pub fn is_disabled(&self) -> bool {
        self.argv().is_empty()
    }

    pub fn interval_ns(&self) -> i64 {
        if self.interval > 0 {
            self.interval
        } else {
            DEFAULT_INTERVAL_NS
        }
    }

    pub fn timeout_ns(&self) -> i64 {
        if self.timeout > 0 {
            self.timeout
        } else {
            DEFAULT_TIMEOUT_NS
        }
    }

    pub fn retries(&self) -> u32 {
        if self.retries > 0 {
            self.retries
        } else {
            DEFAULT_RETRIES
        }
    }
}

/// What happens when a container turns unhealthy (`--health-on-failure`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HealthAction {
    #[default]
    None,
    Kill,
    Restart,
    Stop,
}

impl fmt::Display for HealthAction {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            HealthAction::None => "none",
            HealthAction::Kill => "kill",
            HealthAction::Restart => "restart",
            HealthAction::Stop => "stop",
        })
    }
}

impl FromStr for HealthAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "" | "none" => HealthAction::None,
            "kill" => HealthAction::Kill,
            "restart" => HealthAction::Restart,
            "stop" => HealthAction::Stop,
            _ => {
                return Err(format!(
                    "invalid on-failure action {s:?} for health check: supported actions are none, kill, restart and stop"
                ))
            }
        })
    }
}

impl Serialize for HealthAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HealthAction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The startup check (`--health-startup-*`): run until it passes
/// `successes` times in a row, then the regular check takes over; after
/// `retries` failures (0: no limit) the container is restarted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupCheck {
    pub check: HealthConfig,
    #[serde(default)]
    pub successes: u32,
}

/// A container's healthcheck settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSettings {
    pub check: HealthConfig,
    #[serde(default)]
    pub on_failure: HealthAction,
    #[serde(default)]
    pub startup: Option<StartupCheck>,
    /// Results kept in the log (`--health-max-log-count`, 0: all).
    #[serde(default = "default_log_count")]
    pub max_log_count: usize,
    /// Bytes of output kept per result (`--health-max-log-size`, 0: all).
    #[serde(default = "default_log_size")]
    pub max_log_size: usize,
    /// Checks run on their interval (false: `--health-interval=disable`,
    /// only `healthcheck run`).
    #[serde(default = "yes")]
    pub scheduled: bool,
    /// Where results go besides the record (`--health-log-destination`):
    /// `local` (only there), `events_logger` (each result in its
    /// `health_status` event too), or a directory (`<id>-healthcheck.log`
    /// in it, podman's file).
    #[serde(default = "local", skip_serializing_if = "is_local")]
    pub log_destination: String,
}

pub const LOG_LOCAL: &str = "local";
pub const LOG_EVENTS: &str = "events_logger";

fn local() -> String {
    LOG_LOCAL.into()
}

fn is_local(s: &String) -> bool {
    s == LOG_LOCAL
}

/// `--health-log-destination` checked as podman checks it: local,
/// events_logger, or an existing directory (made absolute).
pub fn log_destination(value: &str) -> Result<String> {
    if value == LOG_LOCAL || value == LOG_EVENTS {
        return Ok(value.to_string());
    }
    let meta = std::fs::metadata(value).map_err(|e| {
        anyhow::anyhow!("HealthCheck Log '{value}' destination error: stat {value}: {e}")
    })?;
    if !meta.is_dir() {
        anyhow::bail!("HealthCheck Log '{value}' destination must be directory");
    }
    Ok(std::path::absolute(value)?.to_string_lossy().into_owned())
}

impl HealthSettings {
    /// The file of podman's results in a `--health-log-destination`
    /// directory, if the container has one.
    pub fn log_file(&self, id: &str) -> Option<std::path::PathBuf> {
        (!matches!(self.log_destination.as_str(), "" | LOG_LOCAL | LOG_EVENTS))
            .then(|| Path::new(&self.log_destination).join(format!("{id}-healthcheck.log")))
    }
}

fn yes() -> bool {
    true
}

fn default_log_count() -> usize {
    DEFAULT_LOG_COUNT
}

fn default_log_size() -> usize {
    DEFAULT_LOG_SIZE
}

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// One check's result, as podman's Log entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLogEntry {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// podman's `.State.Health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    pub status: String,
    pub failing_streak: u32,
    #[serde(default)]
    pub log: Vec<HealthLogEntry>,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState {
            status: STARTING.into(),
            failing_streak: 0,
            log: Vec::new(),
        }
    }
}

/// The record on disk: podman's keys, and how far the startup check got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthRecord {
    #[serde(flatten)]
    pub health: HealthState,
    /// Startup checks passed in a row.
    #[serde(default, rename = "CoracleStartupPassed")]
    pub startup_passed: u32,
    /// The startup phase is over (or there is none to pass).
    #[serde(default, rename = "CoracleStartupDone")]
    pub startup_done: bool,
}

fn file(userdata: &Path) -> std::path::PathBuf {
    userdata.join("healthcheck.log")
}

/// The container's health record; `None` before the first check.
pub fn load(userdata: &Path) -> Option<HealthRecord> {
    atomic::read_json(&file(userdata)).ok().flatten()
}

/// Change the record under its lock: the monitor and `healthcheck run`
/// may both write it.
pub fn update<T>(
    userdata: &Path,
    f: impl FnOnce(&mut HealthRecord) -> T,
) -> Result<(T, HealthRecord)> {
    let _lock = FileLock::exclusive(&userdata.join("healthcheck.lock"))?;
    let mut record = load(userdata).unwrap_or_default();
    let out = f(&mut record);
    atomic::write_json(&file(userdata), &record, false)?;
    Ok((out, record))
}

/// Forget the record: a new start begins at "starting".
pub fn reset(userdata: &Path) {
    let _ = std::fs::remove_file(file(userdata));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_and_exec_forms() {
        let shell = HealthConfig {
            test: vec!["CMD-SHELL".into(), "test -f /ok".into()],
            ..Default::default()
        };
        assert_eq!(shell.argv(), ["/bin/sh", "-c", "test -f /ok"]);
        let exec = HealthConfig {
            test: vec!["CMD".into(), "true".into()],
            ..Default::default()
        };
        assert_eq!(exec.argv(), ["true"]);
        let none = HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        };
        assert!(none.is_disabled());
        assert_eq!(exec.interval_ns(), DEFAULT_INTERVAL_NS);
        assert_eq!(exec.retries(), 3);
    }

    #[test]
    fn record_keeps_podman_keys_and_startup_progress() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_none());
        update(dir.path(), |r| {
            r.health.status = HEALTHY.into();
            r.startup_passed = 2;
        })
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join("healthcheck.log")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Status"], "healthy");
        assert_eq!(v["FailingStreak"], 0);
        let back = load(dir.path()).unwrap();
        assert_eq!(back.startup_passed, 2);
        reset(dir.path());
        assert!(load(dir.path()).is_none());
    }

    #[test]
    fn actions_parse_as_podman_spells_them() {
        assert_eq!(
            "restart".parse::<HealthAction>().unwrap(),
            HealthAction::Restart
        );
        assert!("reboot".parse::<HealthAction>().is_err());
    }
}
