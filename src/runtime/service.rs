//! The monitor's service duties while the program runs: healthchecks on
//! their schedule (podman needs a systemd timer per container for these;
//! here they work wherever the container does), the on-failure action,
//! and systemd's notify socket. Served from the relay loop (`Sidecar`).

use super::health::{self, Probe, Verdict};
use super::relay::Sidecar;
use super::sdnotify::Notifier;
use crate::storage::containers::ContainerConfig;
use crate::storage::health::{HealthAction, HealthConfig, HealthSettings};
use crate::storage::store::Store;
use std::time::{Duration, Instant, SystemTime};

pub struct Duties<'a> {
    store: &'a Store,
    cfg: &'a ContainerConfig,
    /// The healthcheck: the record's, read again after an `update`.
    health: Option<HealthSettings>,
    notifier: &'a mut Notifier,
    monitor_pid: i32,
    /// When the program started: the start period counts from here.
    started: SystemTime,
    next_check: Option<Instant>,
    probe: Option<Probe>,
    /// The program was asked to stop: SIGKILL at this time.
    kill_at: Option<Instant>,
    /// `--timeout`: when the program has run its allowed time.
    timeout_at: Option<Instant>,
    /// The healthcheck asked for a restart (whatever the restart policy).
    pub restart_requested: bool,
    /// The startup check has passed (or there is none).
    startup_done: bool,
}

fn nanos(ns: i64) -> Duration {
    Duration::from_nanos(ns.max(0) as u64)
}

impl<'a> Duties<'a> {
    pub fn new(
        store: &'a Store,
        cfg: &'a ContainerConfig,
        notifier: &'a mut Notifier,
        monitor_pid: i32,
    ) -> Duties<'a> {
        let mut d = Duties {
            store,
            cfg,
            health: cfg.health.clone(),
            notifier,
            monitor_pid,
            started: SystemTime::now(),
            next_check: None,
            probe: None,
            kill_at: None,
            timeout_at: (cfg.tuning.timeout > 0)
                .then(|| Instant::now() + Duration::from_secs(cfg.tuning.timeout.into())),
            restart_requested: false,
            startup_done: cfg.health.as_ref().is_none_or(|h| h.startup.is_none()),
        };
        d.schedule();
        d
    }

    /// The interval to the next check: the startup check's until it has
    /// passed (known from the verdicts: the monitor reads no records).
    fn interval(&self) -> Option<Duration> {
        let settings = self.health.as_ref().filter(|s| s.scheduled)?;
        Some(nanos(self.due(settings).interval_ns()))
    }

    fn due<'s>(&self, settings: &'s HealthSettings) -> &'s HealthConfig {
        match &settings.startup {
            Some(s) if !self.startup_done => &s.check,
            _ => &settings.check,
        }
    }

    fn schedule(&mut self) {
        self.next_check = self.interval().map(|i| Instant::now() + i);
    }

    fn start_check(&mut self) {
        let timeout = match &self.health {
            Some(settings) => nanos(self.due(settings).timeout_ns()),
            None => return,
        };
        match health::spawn(
            self.store,
            self.cfg,
            self.health.as_ref(),
            self.started,
            timeout,
        ) {
            Ok(p) => self.probe = Some(p),
            Err(e) => {
                crate::debug!("healthcheck not started: {e:#}");
                self.schedule();
            }
        }
    }

    fn finished(&mut self, verdict: Verdict, pid: i32) {
        // What this round faulted in of the binary goes again: the monitor
        // idles between checks at the size it had before the first.
        super::memory::shed();
        if verdict == Verdict::StartupPassed {
            self.startup_done = true;
        }
        self.schedule();
        match verdict {
            Verdict::BecameHealthy => self.notifier.healthy(self.monitor_pid),
            Verdict::BecameUnhealthy => {
                let action = self.health.as_ref().map(|h| h.on_failure);
                self.act(action.unwrap_or_default(), pid);
            }
            Verdict::StartupExhausted => self.act(HealthAction::Restart, pid),
            // The regular check begins on its own interval.
            Verdict::StartupPassed | Verdict::Unchanged => {}
        }
    }

    /// The on-failure action, as podman takes it. kill and stop end the
    /// container as a user's kill or stop would (no restart policy);
    /// restart ends the program and the monitor starts it again.
    fn act(&mut self, action: HealthAction, pid: i32) {
        let stop_signal = super::signals::stop_signal_number(&self.cfg.stop_signal);
        let grace = Duration::from_secs(self.cfg.stop_timeout as u64);
        if action != HealthAction::None {
            // The container is ending: no more checks of this run.
            self.next_check = None;
        }
        match action {
            HealthAction::None => {}
            HealthAction::Kill => {
                self.store.containers.mark_stopped_by_user(&self.cfg.id);
                // SAFETY: our own child, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            HealthAction::Stop | HealthAction::Restart => {
                if action == HealthAction::Stop {
                    self.store.containers.mark_stopped_by_user(&self.cfg.id);
                } else {
                    self.restart_requested = true;
                }
                // SAFETY: as above.
                unsafe { libc::kill(pid, stop_signal) };
                self.kill_at = Some(Instant::now() + grace);
            }
        }
    }
}

impl Sidecar for Duties<'_> {
    /// `update` changed the record: the new healthcheck from now on, its
    /// timer started again (as podman's). A check under way finishes.
    fn reload(&mut self) {
        let Ok(fresh) = self.store.containers.load_config(&self.cfg.id) else {
            return;
        };
        if fresh.health == self.health {
            return;
        }
        self.health = fresh.health;
        if self.health.as_ref().is_none_or(|h| h.startup.is_none()) {
            self.startup_done = true;
        }
        if self.probe.is_none() && self.kill_at.is_none() {
            self.schedule();
        }
    }

    fn fds(&self, out: &mut Vec<i32>) {
        out.extend(self.notifier.fd());
        out.extend(self.probe.as_ref().map(Probe::fd));
    }

    fn deadline(&self) -> Option<Instant> {
        let check = match &self.probe {
            Some(p) => Some(p.deadline()),
            None => self.next_check,
        };
        [check, self.kill_at, self.timeout_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn serve(&mut self, ready: &[i32], pid: i32) {
        if let Some(fd) = self.notifier.fd() {
            if ready.contains(&fd) {
                self.notifier.forward(self.monitor_pid);
            }
        }
        let now = Instant::now();
        if let Some(mut probe) = self.probe.take() {
            let ended = ready.contains(&probe.fd()) && probe.read();
            if ended || now >= probe.deadline() {
                let verdict = probe.finish(!ended);
                self.finished(verdict, pid);
            } else {
                self.probe = Some(probe);
            }
        } else if self.next_check.is_some_and(|t| now >= t) {
            self.start_check();
        }
        if self.timeout_at.is_some_and(|t| now >= t) {
            // As conmon's --timeout: the kill signal, and no restart.
            self.timeout_at = None;
            self.store.containers.mark_stopped_by_user(&self.cfg.id);
            // SAFETY: our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if self.kill_at.is_some_and(|t| now >= t) {
            self.kill_at = None;
            // SAFETY: our own child, not yet reaped (the relay calls us
            // only while it runs).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl Drop for Duties<'_> {
    /// A check still running when the program ends is not recorded.
    fn drop(&mut self) {
        if let Some(p) = self.probe.take() {
            let _ = p.finish(true);
        }
    }
}
