//! `update`, `pause`, `unpause`: change a container's limits,
//! environment, healthcheck and restart policy; freeze it and thaw it.

use super::limits::LimitFlags;
use super::output::println;
use super::selection::{cidfile_names, filtered, for_each, targets};
use super::GlobalOpts;
use crate::engine::containers;
use crate::engine::lookup::container_id;
use crate::engine::types::{RestartPolicy, Status};
use crate::engine::update::{HealthUpdate, UpdateRequest};
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub limits: LimitFlags,
    /// Set environment variables (KEY=VALUE, or KEY from this environment) for the next start
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Vec<String>,
    /// Unset environment variables for the next start
    #[arg(long, value_name = "NAME")]
    pub unsetenv: Vec<String>,
    /// Ulimit options (NAME=SOFT[:HARD]), applied from the next start
    #[arg(long = "ulimit", value_name = "ULIMIT")]
    pub ulimit: Vec<String>,
    /// Restart policy: no, on-failure[:max_retries], always, unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<RestartPolicy>,
    #[command(flatten)]
    pub health: HealthFlags,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// The container to update
    #[arg(required_unless_present = "latest")]
    pub container: Option<String>,
}

/// The healthcheck as `update` changes it: only what is given.
#[derive(Args, Debug, Clone, Default)]
pub struct HealthFlags {
    /// Command to check the container's health: a shell line, or a JSON array ("none" removes the healthcheck)
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between healthchecks ("disable": only `healthcheck run`); resets the timer
    #[arg(long, value_name = "INTERVAL")]
    pub health_interval: Option<String>,
    /// Consecutive failures before the container is unhealthy
    #[arg(long, value_name = "RETRIES")]
    pub health_retries: Option<u32>,
    /// Time a healthcheck may take before it counts as failed
    #[arg(long, value_name = "TIMEOUT")]
    pub health_timeout: Option<String>,
    /// Time after start during which failures do not count
    #[arg(long, value_name = "PERIOD")]
    pub health_start_period: Option<String>,
    /// What to do when the container turns unhealthy: none, kill, restart, stop
    #[arg(long, value_name = "ACTION")]
    pub health_on_failure: Option<String>,
    /// Where healthcheck results go: local, events_logger or a directory
    #[arg(long, value_name = "DESTINATION")]
    pub health_log_destination: Option<String>,
    /// Results kept in the healthcheck log (0: all)
    #[arg(long, value_name = "COUNT")]
    pub health_max_log_count: Option<usize>,
    /// Bytes of output kept per healthcheck result (0: all)
    #[arg(long, value_name = "SIZE")]
    pub health_max_log_size: Option<usize>,
    /// Startup healthcheck: runs until it passes, then the regular one takes over
    #[arg(long, value_name = "COMMAND")]
    pub health_startup_cmd: Option<String>,
    /// Time between startup healthchecks
    #[arg(long, value_name = "INTERVAL")]
    pub health_startup_interval: Option<String>,
    /// Failed startup healthchecks before the container is restarted (0: no limit)
    #[arg(long, value_name = "RETRIES")]
    pub health_startup_retries: Option<u32>,
    /// Startup healthchecks that must pass in a row (0: one)
    #[arg(long, value_name = "SUCCESSES")]
    pub health_startup_success: Option<u32>,
    /// Time a startup healthcheck may take
    #[arg(long, value_name = "TIMEOUT")]
    pub health_startup_timeout: Option<String>,
    /// Remove the container's healthcheck
    #[arg(long)]
    pub no_healthcheck: bool,
}

impl HealthFlags {
    fn request(self) -> HealthUpdate {
        HealthUpdate {
            cmd: self.health_cmd,
            interval: self.health_interval,
            retries: self.health_retries,
            timeout: self.health_timeout,
            start_period: self.health_start_period,
            on_failure: self.health_on_failure,
            log_destination: self.health_log_destination,
            max_log_count: self.health_max_log_count,
            max_log_size: self.health_max_log_size,
            startup_cmd: self.health_startup_cmd,
            startup_interval: self.health_startup_interval,
            startup_retries: self.health_startup_retries,
            startup_success: self.health_startup_success,
            startup_timeout: self.health_startup_timeout,
            no_healthcheck: self.no_healthcheck,
        }
    }
}

pub fn update(g: &GlobalOpts, a: UpdateArgs) -> Result<()> {
    let store = g.open_store()?;
    let id = match &a.container {
        Some(c) if !a.latest => container_id(&store, c)?,
        _ => crate::engine::containers::latest_id(&store)?,
    };
    let req = UpdateRequest {
        limits: a.limits.request(),
        env: a.env,
        unsetenv: a.unsetenv,
        ulimits: a.ulimit,
        restart: a.restart,
        health: a.health.request(),
    };
    crate::engine::update::update(&store, &id, &req)?;
    println(&id)
}

#[derive(Args, Debug)]
pub struct PauseArgs {
    /// Pause all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Read the container ID from the file
    #[arg(long = "cidfile", value_name = "FILE")]
    pub cidfile: Vec<String>,
    /// Act only on the containers these filters select (as ps --filter)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    pub containers: Vec<String>,
}

/// The containers `pause`/`unpause` act on: names, `--cidfile`s,
/// `--filter` (alone it means every container), and with `--all` or a
/// filter alone only those in status `from`.
fn pause_targets(
    store: &crate::engine::types::Store,
    mut a: PauseArgs,
    from: Status,
) -> Result<Vec<(String, String)>> {
    a.containers.extend(cidfile_names(&a.cidfile, false)?);
    let everything = a.all || (a.containers.is_empty() && !a.filter.is_empty() && !a.latest);
    let list = targets(store, &a.containers, everything, a.latest, false)?;
    let mut list = filtered(store, list, &a.filter)?;
    if everything {
        list.retain(|(_, id)| containers::status_is(store, id, from));
    }
    Ok(list)
}

pub fn pause(g: &GlobalOpts, a: PauseArgs) -> Result<()> {
    let store = g.open_store()?;
    let list = pause_targets(&store, a, Status::Running)?;
    for_each(&list, |_, id| containers::pause(&store, id), false)
}

pub fn unpause(g: &GlobalOpts, a: PauseArgs) -> Result<()> {
    let store = g.open_store()?;
    let list = pause_targets(&store, a, Status::Paused)?;
    for_each(&list, |_, id| containers::unpause(&store, id), false)
}
