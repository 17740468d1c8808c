//! Leveled diagnostics on stderr, in podman's `LEVEL[0000] message` shape,
//! and with `--syslog` in the system log as well (`syslog`).

mod syslog;

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Panic = 0,
    Fatal = 1,
    Error = 2,
    Warn = 3,
    Info = 4,
    Debug = 5,
    Trace = 6,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

/// When the process started, for the elapsed times debug lines carry.
static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

pub fn mark_start() {
    START.get_or_init(std::time::Instant::now);
}

impl std::str::FromStr for Level {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Level> {
        Ok(match s {
            "panic" => Level::Panic,
            "fatal" => Level::Fatal,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => anyhow::bail!(
                "invalid log level {s:?}: must be one of trace, debug, info, warn, warning, error, fatal, panic"
            ),
        })
    }
}

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// `--syslog`: from now on every line printed here also goes to
/// /dev/log, when something listens there.
pub fn enable_syslog() {
    syslog::open();
}

/// A command's error, as its one line `Error: TEXT` on stderr (and in
/// the system log with `--syslog`).
pub fn error_line(text: &str) {
    eprintln!("Error: {text}");
    syslog::send(3, &format!("Error: {text}"));
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

pub fn emit(level: Level, msg: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let tag = match level {
        Level::Panic => "PANI",
        Level::Fatal => "FATA",
        Level::Error => "ERRO",
        Level::Warn => "WARN",
        Level::Info => "INFO",
        Level::Debug => "DEBU",
        Level::Trace => "TRAC",
    };
    if level >= Level::Debug {
        let us = START.get().map(|s| s.elapsed().as_micros()).unwrap_or(0);
        eprintln!(
            "{tag}[0000] [{}.{:03}ms pid {}] {msg}",
            us / 1000,
            us % 1000,
            std::process::id()
        );
    } else {
        eprintln!("{tag}[0000] {msg}");
    }
    // syslog(3)'s severities: crit, crit, err, warning, info, debug, debug.
    let severity = match level {
        Level::Panic | Level::Fatal => 2,
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    };
    syslog::send(severity, &msg);
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Warn, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Info, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Debug, format_args!($($arg)*)) };
}
