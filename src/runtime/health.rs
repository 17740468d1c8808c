//! Running healthchecks: a check is an exec in the container whose output
//! is captured and whose time is bounded. The monitor runs them on their
//! interval without blocking its relay (a [`Probe`] is watched like any
//! other descriptor); `healthcheck run` runs one and waits. Each result
//! goes to the health record and the events journal.

use super::sys;
use crate::storage::containers::ContainerConfig;
use crate::storage::events;
use crate::storage::health::{
    self, HealthConfig, HealthLogEntry, HealthRecord, HealthSettings, HEALTHY, UNHEALTHY,
};
use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime};

/// Output kept from a check before it is cut to the record's size.
const OUTPUT_CAP: usize = 64 * 1024;

/// A check in progress: its process (leader of its own process group,
/// so a timeout ends everything it started) and its output.
pub struct Probe {
    pid: i32,
    out: OwnedFd,
    start: SystemTime,
    deadline: Instant,
    output: Vec<u8>,
    /// A startup check (`--health-startup-cmd`), not the regular one.
    pub startup: bool,
}

/// How one check went.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub start: SystemTime,
    pub end: SystemTime,
    pub exit_code: i32,
    pub output: String,
    pub startup: bool,
}

/// Start `check` in container `id` (running). The child execs into the
/// container exactly as `exec` does, with stdout and stderr to our pipe.
pub fn spawn(store: &Store, id: &str, check: &HealthConfig, startup: bool) -> Result<Probe> {
    let argv = check.argv();
    if argv.is_empty() {
        bail!("container {id} has no defined healthcheck");
    }
    let (r, w) = sys::owned_pipe()?;
    let start = SystemTime::now();
    // SAFETY: the callers (monitor, CLI) are single-threaded; the child
    // runs the exec path and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("starting the healthcheck: {}", sys::errno());
    }
    if pid == 0 {
        drop(r);
        // SAFETY: plain syscalls in the child; it leaves with _exit.
        unsafe { libc::setpgid(0, 0) };
        let code = (|| -> Result<i32> {
            let null = sys::dev_null()?;
            sys::dup_onto(null.as_fd(), 0)?;
            sys::dup_onto(w.as_fd(), 1)?;
            sys::dup_onto(w.as_fd(), 2)?;
            drop(w);
            let opts = super::exec::ExecOptions {
                args: argv,
                env: Vec::new(),
                user: None,
                workdir: None,
                tty: false,
                interactive: false,
                detach: false,
                privileged: false,
            };
            super::exec::exec(store, id, &opts)
        })();
        let code = match code {
            Ok(c) => c,
            Err(e) => {
                // The check's output is where its failure shows.
                let _ = sys::write_all(2, format!("{e:#}\n").as_bytes());
                crate::error::exit_code_of(&e)
            }
        };
        // SAFETY: leave without running the parent's destructors.
        unsafe { libc::_exit(code) }
    }
    drop(w);
    // Also here: the group must exist before a timeout signals it.
    // SAFETY: setpgid on our own child.
    unsafe { libc::setpgid(pid, pid) };
    let timeout = Duration::from_nanos(check.timeout_ns() as u64);
    Ok(Probe {
        pid,
        out: r,
        start,
        deadline: Instant::now() + timeout,
        output: Vec::new(),
        startup,
    })
}

impl Probe {
    pub fn fd(&self) -> RawFd {
        self.out.as_raw_fd()
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Read what the check wrote; true once its output has ended.
    pub fn read(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        // SAFETY: reading into a buffer of its length.
        let n = unsafe {
            libc::read(
                self.out.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if n < 0 {
            return !matches!(
                sys::errno().raw_os_error(),
                Some(libc::EINTR) | Some(libc::EAGAIN)
            );
        }
        if n == 0 {
            return true;
        }
        let room = OUTPUT_CAP.saturating_sub(self.output.len());
        self.output
            .extend_from_slice(&buf[..(n as usize).min(room)]);
        false
    }

    /// Collect the check: `timed_out` kills what is left of it first.
    pub fn finish(self, timed_out: bool) -> ProbeResult {
        if timed_out {
            // SAFETY: the probe's own process group.
            unsafe { libc::kill(-self.pid, libc::SIGKILL) };
        }
        let mut status = 0;
        // SAFETY: reaping our own child.
        while unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0
            && sys::errno().raw_os_error() == Some(libc::EINTR)
        {}
        let exit_code = if timed_out {
            -1
        } else if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        let mut output = String::from_utf8_lossy(&self.output).into_owned();
        if timed_out {
            output = "Timed out".into();
        }
        ProbeResult {
            start: self.start,
            end: SystemTime::now(),
            exit_code,
            output,
            startup: self.startup,
        }
    }

    /// Run to the end (or the timeout), blocking.
    pub fn wait(mut self) -> ProbeResult {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return self.finish(true);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32 + 1) };
            if n > 0 && self.read() {
                return self.finish(false);
            }
        }
    }
}

/// What a result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing that calls for action.
    Unchanged,
    /// The startup check passed often enough: regular checks from now.
    StartupPassed,
    /// The startup check failed its allowed number of times.
    StartupExhausted,
    /// Turned healthy (from starting or unhealthy).
    BecameHealthy,
    /// Turned unhealthy: the on-failure action is due.
    BecameUnhealthy,
}

/// The regular check's status after one more result, podman's rules:
/// a pass is healthy; failures in the start period do not count; the
/// `retries`-th failure in a row is unhealthy.
fn apply_regular(
    rec: &mut HealthRecord,
    check: &HealthConfig,
    passed: bool,
    in_start: bool,
) -> Verdict {
    let before = rec.health.status.clone();
    if passed {
        rec.health.failing_streak = 0;
        rec.health.status = HEALTHY.into();
    } else if !in_start {
        rec.health.failing_streak += 1;
        if rec.health.failing_streak >= check.retries() {
            rec.health.status = UNHEALTHY.into();
        }
    }
    match (before.as_str(), rec.health.status.as_str()) {
        (b, HEALTHY) if b != HEALTHY => Verdict::BecameHealthy,
        (b, UNHEALTHY) if b != UNHEALTHY => Verdict::BecameUnhealthy,
        _ => Verdict::Unchanged,
    }
}

fn apply_startup(rec: &mut HealthRecord, settings: &HealthSettings, passed: bool) -> Verdict {
    let Some(startup) = &settings.startup else {
        rec.startup_done = true;
        return Verdict::StartupPassed;
    };
    if passed {
        rec.startup_passed += 1;
        rec.health.failing_streak = 0;
        if rec.startup_passed >= startup.successes.max(1) {
            rec.startup_done = true;
            return Verdict::StartupPassed;
        }
        return Verdict::Unchanged;
    }
    rec.startup_passed = 0;
    rec.health.failing_streak += 1;
    if startup.check.retries > 0 && rec.health.failing_streak >= startup.check.retries {
        rec.health.failing_streak = 0;
        return Verdict::StartupExhausted;
    }
    Verdict::Unchanged
}

/// Keep a result: the record updated under its lock (log trimmed as
/// asked), a `health_status` event. `started` is when the container's
/// program started (the start period counts from there).
pub fn record(
    store: &Store,
    cfg: &ContainerConfig,
    result: &ProbeResult,
    started: SystemTime,
) -> Result<(Verdict, HealthRecord)> {
    let Some(settings) = &cfg.health else {
        bail!("container {} has no defined healthcheck", cfg.id);
    };
    let passed = result.exit_code == 0;
    let in_start = result
        .start
        .duration_since(started)
        .map(|d| d.as_nanos() < settings.check.start_period.max(0) as u128)
        .unwrap_or(true);
    let userdata = store.containers.dir(&cfg.id).join("userdata");
    let (verdict, rec) = health::update(&userdata, |rec| {
        let verdict = if result.startup {
            apply_startup(rec, settings, passed)
        } else {
            apply_regular(rec, &settings.check, passed, in_start)
        };
        let mut output = result.output.clone();
        if settings.max_log_size > 0 && output.len() > settings.max_log_size {
            let mut cut = settings.max_log_size;
            while !output.is_char_boundary(cut) {
                cut -= 1;
            }
            output.truncate(cut);
        }
        rec.health.log.push(HealthLogEntry {
            start: crate::format::human::rfc3339_nano(result.start),
            end: crate::format::human::rfc3339_nano(result.end),
            exit_code: result.exit_code,
            output,
        });
        let keep = settings.max_log_count;
        if keep > 0 && rec.health.log.len() > keep {
            let extra = rec.health.log.len() - keep;
            rec.health.log.drain(..extra);
        }
        verdict
    })?;
    events::health_status(store, cfg, &rec.health.status);
    Ok((verdict, rec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::health::{StartupCheck, STARTING};

    fn check(retries: u32) -> HealthConfig {
        HealthConfig {
            test: vec!["CMD".into(), "true".into()],
            retries,
            ..Default::default()
        }
    }

    #[test]
    fn failures_count_only_after_the_start_period() {
        let mut rec = HealthRecord::default();
        let c = check(2);
        assert_eq!(apply_regular(&mut rec, &c, false, true), Verdict::Unchanged);
        assert_eq!(rec.health.failing_streak, 0);
        assert_eq!(
            apply_regular(&mut rec, &c, false, false),
            Verdict::Unchanged
        );
        assert_eq!(rec.health.status, STARTING);
        assert_eq!(
            apply_regular(&mut rec, &c, false, false),
            Verdict::BecameUnhealthy
        );
        assert_eq!(
            apply_regular(&mut rec, &c, false, false),
            Verdict::Unchanged
        );
        assert_eq!(rec.health.failing_streak, 3);
        assert_eq!(
            apply_regular(&mut rec, &c, true, false),
            Verdict::BecameHealthy
        );
        assert_eq!(rec.health.failing_streak, 0);
        assert_eq!(apply_regular(&mut rec, &c, true, false), Verdict::Unchanged);
    }

    #[test]
    fn startup_needs_its_successes_in_a_row() {
        let settings = HealthSettings {
            check: check(3),
            startup: Some(StartupCheck {
                check: check(2),
                successes: 2,
            }),
            ..Default::default()
        };
        let mut rec = HealthRecord::default();
        assert_eq!(apply_startup(&mut rec, &settings, true), Verdict::Unchanged);
        assert_eq!(
            apply_startup(&mut rec, &settings, false),
            Verdict::Unchanged
        );
        assert_eq!(
            apply_startup(&mut rec, &settings, false),
            Verdict::StartupExhausted
        );
        assert_eq!(apply_startup(&mut rec, &settings, true), Verdict::Unchanged);
        assert_eq!(
            apply_startup(&mut rec, &settings, true),
            Verdict::StartupPassed
        );
        assert!(rec.startup_done);
    }
}
