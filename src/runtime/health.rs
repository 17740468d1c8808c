//! Running healthchecks: a check is an exec in the container whose output
//! is captured (in a memfd) and whose time is bounded. `healthcheck run`
//! runs one and waits ([`run_check`]). The monitor forks a [`Probe`] that
//! runs the check *and records it*, and reads back one byte, the verdict:
//! the monitor's own work per check stays a fork, a read and a wait, so
//! the code it touches (and keeps resident) does not grow with checks.

use super::sys;
use crate::storage::containers::ContainerConfig;
use crate::storage::events;
use crate::storage::health::{
    self, HealthConfig, HealthLogEntry, HealthRecord, HealthSettings, HEALTHY, UNHEALTHY,
};
use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::io::{Read, Seek};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime};

/// Output kept from a check before it is cut to the record's size.
const OUTPUT_CAP: u64 = 64 * 1024;
/// How long past its timeout a probe may take to record its result.
const RECORD_GRACE: Duration = Duration::from_secs(10);

/// How one check went.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub start: SystemTime,
    pub end: SystemTime,
    pub exit_code: i32,
    pub output: String,
    pub startup: bool,
}

/// The check due now: the startup one until it has passed.
pub fn due_check<'a>(store: &Store, cfg: &'a ContainerConfig) -> Option<(&'a HealthConfig, bool)> {
    let settings = cfg.health.as_ref()?;
    let userdata = store.containers.dir(&cfg.id).join("userdata");
    let startup_done = health::load(&userdata).is_some_and(|r| r.startup_done);
    match &settings.startup {
        Some(s) if !startup_done => Some((&s.check, true)),
        _ => Some((&settings.check, false)),
    }
}

fn memfd() -> Result<std::fs::File> {
    // SAFETY: memfd_create with a literal name; returns a new descriptor.
    let fd = unsafe { libc::memfd_create(c"healthcheck".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        bail!("memfd_create: {}", sys::errno());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Wait for child `pid` up to `timeout`; `None` when it is still running.
fn wait_with_timeout(pid: i32, timeout: Duration) -> Option<libc::c_int> {
    let until = Instant::now() + timeout;
    // SAFETY: pidfd_open on our own child; a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    let pidfd = (pidfd >= 0).then(|| {
        // SAFETY: a fresh descriptor we own.
        unsafe { OwnedFd::from_raw_fd(pidfd) }
    });
    loop {
        let mut status = 0;
        // SAFETY: asking about our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Some(status);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match &pidfd {
            Some(fd) => {
                let mut pfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32 + 1) };
            }
            // Kernels before 5.3: poll the child.
            None => std::thread::sleep(left.min(Duration::from_millis(5))),
        }
    }
}

/// Run `check` in container `id` (running) and wait for it, its output in
/// a memfd; past its timeout it is killed with all it started.
pub fn run_check(
    store: &Store,
    id: &str,
    check: &HealthConfig,
    startup: bool,
) -> Result<ProbeResult> {
    let argv = check.argv();
    if argv.is_empty() {
        bail!("container {id} has no defined healthcheck");
    }
    let mut out = memfd()?;
    let start = SystemTime::now();
    // SAFETY: the callers are single-threaded at this point (the monitor's
    // probe, the CLI); the child runs the exec path and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("starting the healthcheck: {}", sys::errno());
    }
    if pid == 0 {
        // SAFETY: plain syscalls in the child; it leaves with _exit.
        unsafe { libc::setpgid(0, 0) };
        let code = (|| -> Result<i32> {
            let null = sys::dev_null()?;
            sys::dup_onto(null.as_fd(), 0)?;
            sys::dup_onto(out.as_fd(), 1)?;
            sys::dup_onto(out.as_fd(), 2)?;
            let opts = super::exec::ExecOptions {
                args: argv,
                env: Vec::new(),
                user: None,
                workdir: None,
                tty: false,
                interactive: false,
                detach: false,
                privileged: false,
                preserve_fds: Vec::new(),
                detach_keys: Vec::new(),
                // (a check is no session of the user's)
                no_session: true,
            };
            super::exec::exec(store, id, &opts).map(|o| o.code)
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
    // SAFETY: setpgid on our own child, so the group exists before a
    // timeout signals it.
    unsafe { libc::setpgid(pid, pid) };
    let timeout = Duration::from_nanos(check.timeout_ns() as u64);
    let (exit_code, output) = match wait_with_timeout(pid, timeout) {
        Some(status) => {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            let mut text = Vec::new();
            let _ = out.rewind();
            let _ = (&mut out).take(OUTPUT_CAP).read_to_end(&mut text);
            (code, String::from_utf8_lossy(&text).into_owned())
        }
        None => {
            // SAFETY: the check's own process group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            (-1, format!("Timed out after {timeout:?}"))
        }
    };
    Ok(ProbeResult {
        start,
        end: SystemTime::now(),
        exit_code,
        output,
        startup,
    })
}

/// A check the monitor forked: it runs and records the check, then writes
/// its verdict (one byte) to `out`.
pub struct Probe {
    pid: i32,
    out: OwnedFd,
    deadline: Instant,
    verdict: Option<Verdict>,
}

/// Fork a probe for container `cfg` (running since `started`) with the
/// healthcheck `settings`; `timeout` is the due check's (the probe itself
/// reads which check is due).
pub fn spawn(
    store: &Store,
    cfg: &ContainerConfig,
    settings: Option<&HealthSettings>,
    started: SystemTime,
    timeout: Duration,
) -> Result<Probe> {
    let (r, w) = sys::owned_pipe()?;
    // SAFETY: the monitor is single-threaded; the child leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("starting the healthcheck: {}", sys::errno());
    }
    if pid == 0 {
        drop(r);
        // SAFETY: plain syscalls in the child; it leaves with _exit.
        unsafe { libc::setpgid(0, 0) };
        // The monitor's settings: an `update` may have changed the record's.
        let mut cfg = cfg.clone();
        cfg.health = settings.cloned();
        let cfg = &cfg;
        // A paused container is not checked (exec cannot enter it).
        let paused = store
            .containers
            .load_state(&cfg.id)
            .is_ok_and(|s| s.status == crate::storage::containers::Status::Paused);
        let verdict = due_check(store, cfg)
            .filter(|_| !paused)
            .ok_or_else(|| anyhow::anyhow!("no check due"))
            .and_then(|(check, startup)| run_check(store, &cfg.id, check, startup))
            .and_then(|result| record(store, cfg, &result, started))
            .map(|(v, _)| v);
        if let Ok(v) = verdict {
            let _ = sys::write_all(w.as_raw_fd(), &[v as u8]);
        }
        // SAFETY: leave without running the monitor's destructors.
        unsafe { libc::_exit(0) }
    }
    drop(w);
    // SAFETY: setpgid on our own child (see run_check).
    unsafe { libc::setpgid(pid, pid) };
    Ok(Probe {
        pid,
        out: r,
        deadline: Instant::now() + timeout + RECORD_GRACE,
        verdict: None,
    })
}

impl Probe {
    pub fn fd(&self) -> RawFd {
        self.out.as_raw_fd()
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Read the verdict; true once the probe is done writing.
    pub fn read(&mut self) -> bool {
        let mut b = [0u8; 1];
        // SAFETY: reading one byte into a buffer of one byte.
        let n = unsafe { libc::read(self.out.as_raw_fd(), b.as_mut_ptr() as *mut libc::c_void, 1) };
        match n {
            1 => {
                self.verdict = Verdict::from_byte(b[0]);
                false
            }
            0 => true,
            _ => !matches!(
                sys::errno().raw_os_error(),
                Some(libc::EINTR) | Some(libc::EAGAIN)
            ),
        }
    }

    /// Collect the probe (killed first when it overran); its verdict.
    pub fn finish(self, overran: bool) -> Verdict {
        if overran {
            // SAFETY: the probe's own process group.
            unsafe { libc::kill(-self.pid, libc::SIGKILL) };
        }
        // SAFETY: reaping our own child.
        while unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), 0) } < 0
            && sys::errno().raw_os_error() == Some(libc::EINTR)
        {}
        self.verdict.unwrap_or(Verdict::Unchanged)
    }
}

/// What a result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
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

impl Verdict {
    fn from_byte(b: u8) -> Option<Verdict> {
        [
            Verdict::Unchanged,
            Verdict::StartupPassed,
            Verdict::StartupExhausted,
            Verdict::BecameHealthy,
            Verdict::BecameUnhealthy,
        ]
        .into_iter()
        .find(|v| *v as u8 == b)
    }
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
    if let Some(file) = settings.log_file(&cfg.id) {
        // podman's results file: what `.State.Health` shows.
        let text = serde_json::to_vec(&rec.health)?;
        std::fs::write(&file, text)
            .map_err(|e| anyhow::anyhow!("writing the healthcheck log {}: {e}", file.display()))?;
    }
    let logged = (settings.log_destination == health::LOG_EVENTS)
        .then(|| rec.health.log.last())
        .flatten();
    events::health_status(store, cfg, &rec.health.status, logged);
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
