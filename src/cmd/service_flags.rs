//! The flags of `create`/`run` that make a container a service: restart
//! policy, healthchecks, systemd notification and the files units use.

use crate::engine::create::ServiceRequest;
use crate::engine::types::RestartPolicy;
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct ServiceFlags {
    /// Restart policy: no, on-failure[:max_retries], always, unless-stopped
    #[arg(long, default_value = "no")]
    pub restart: RestartPolicy,
    /// Command to check the container's health: a shell line, or a JSON array ("none" disables the image's)
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between healthchecks ("disable": only `healthcheck run`) [default: 30s]
    #[arg(long, value_name = "INTERVAL")]
    pub health_interval: Option<String>,
    /// Consecutive failures before the container is unhealthy [default: 3]
    #[arg(long, value_name = "RETRIES")]
    pub health_retries: Option<u32>,
    /// Time a healthcheck may take before it counts as failed [default: 30s]
    #[arg(long, value_name = "TIMEOUT")]
    pub health_timeout: Option<String>,
    /// Time after start during which failures do not count [default: 0s]
    #[arg(long, value_name = "PERIOD")]
    pub health_start_period: Option<String>,
    /// What to do when the container turns unhealthy: none, kill, restart, stop
    #[arg(long, value_name = "ACTION", default_value = "none")]
    pub health_on_failure: String,
    /// Results kept in the healthcheck log (0: all)
    #[arg(long, value_name = "COUNT", default_value_t = 5)]
    pub health_max_log_count: usize,
    /// Bytes of output kept per healthcheck result (0: all)
    #[arg(long, value_name = "SIZE", default_value_t = 500)]
    pub health_max_log_size: usize,
    /// Where healthcheck results go: local (the container's record), events_logger (also in each health_status event) or a directory (<id>-healthcheck.log in it)
    #[arg(long, value_name = "DESTINATION")]
    pub health_log_destination: Option<String>,
    /// Startup healthcheck: runs until it passes, then the regular one takes over
    #[arg(long, value_name = "COMMAND")]
    pub health_startup_cmd: Option<String>,
    /// Time between startup healthchecks
    #[arg(long, value_name = "INTERVAL", default_value = "30s")]
    pub health_startup_interval: String,
    /// Failed startup healthchecks before the container is restarted (0: no limit)
    #[arg(long, value_name = "RETRIES", default_value_t = 0)]
    pub health_startup_retries: u32,
    /// Startup healthchecks that must pass in a row (0: one)
    #[arg(long, value_name = "SUCCESSES", default_value_t = 0)]
    pub health_startup_success: u32,
    /// Time a startup healthcheck may take
    #[arg(long, value_name = "TIMEOUT", default_value = "30s")]
    pub health_startup_timeout: String,
    /// Disable any healthcheck the image defines
    #[arg(long)]
    pub no_healthcheck: bool,
    /// How systemd learns the container is ready: container, conmon, healthy, ignore
    #[arg(long, value_name = "MODE", default_value = "container")]
    pub sdnotify: String,
    /// Replace a container of the same name, if there is one
    #[arg(long)]
    pub replace: bool,
    /// Write the container process's pid to this file
    #[arg(long, value_name = "PATH")]
    pub pidfile: Option<String>,
    /// Write the container monitor's pid to this file
    #[arg(long, value_name = "PATH")]
    pub conmon_pidfile: Option<String>,
}

impl ServiceFlags {
    pub fn request(&self) -> ServiceRequest {
        let f = self.clone();
        ServiceRequest {
            restart: f.restart,
            health_cmd: f.health_cmd,
            health_interval: f.health_interval,
            health_retries: f.health_retries,
            health_timeout: f.health_timeout,
            health_start_period: f.health_start_period,
            health_on_failure: f.health_on_failure,
            health_max_log_count: f.health_max_log_count,
            health_max_log_size: f.health_max_log_size,
            health_log_destination: f.health_log_destination,
            health_startup_cmd: f.health_startup_cmd,
            health_startup_interval: f.health_startup_interval,
            health_startup_retries: f.health_startup_retries,
            health_startup_success: f.health_startup_success,
            health_startup_timeout: f.health_startup_timeout,
            no_healthcheck: f.no_healthcheck,
            sdnotify: f.sdnotify,
            replace: f.replace,
            pidfile: f.pidfile,
            conmon_pidfile: f.conmon_pidfile,
        }
    }
}
