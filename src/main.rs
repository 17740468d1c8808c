//! The binary: a panic hook, then the command line.
//!
//! A panic that reaches a user is a bug. The hook turns it into one
//! `Error:` line that names a bug report (the message, where it happened,
//! the command line and a backtrace) written under the user's run
//! directory; `cmd::main` catches the unwind and exits 125.

use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    std::panic::set_hook(Box::new(|info| {
        let message = panic_message(info.payload());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::force_capture();
        let report = format!(
            "coracle {} panicked{at}: {message}\ncommand line: {:?}\n\nbacktrace:\n{backtrace}\n",
            env!("CARGO_PKG_VERSION"),
            std::env::args().collect::<Vec<_>>(),
        );
        let line = format!("internal error (a bug in coracle): {message}{at}");
        match write_report(&report) {
            Some(path) => eprintln!("Error: {line}; please report it with {}", path.display()),
            None => eprintln!("Error: {line}; please report it"),
        }
    }));
    std::process::exit(coracle::cmd::main());
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    };
    // The user sees one line.
    text.replace('\n', " ")
}

/// Writes the report to `<run dir>/bug-reports/`, falling back to the
/// system temp dir; the path, or None when neither could be written.
fn write_report(report: &str) -> Option<PathBuf> {
    let name = format!(
        "panic-{}-{}.txt",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        std::process::id()
    );
    [run_dir().join("bug-reports"), std::env::temp_dir()]
        .iter()
        .find_map(|dir| write_private(dir, &name, report).ok())
}

fn write_private(dir: &Path, name: &str, report: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(report.as_bytes())?;
    Ok(path)
}

/// The run root this invocation uses: `--runroot`, else the default of
/// the store (root: /run/coracle; rootless: $XDG_RUNTIME_DIR/coracle or
/// /tmp/coracle-$UID). Read from the raw arguments: a panic may come
/// before or during their parsing.
fn run_dir() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    for (i, a) in args.iter().enumerate() {
        if let Some(v) = a.strip_prefix("--runroot=") {
            return PathBuf::from(v);
        }
        if a == "--runroot" {
            if let Some(v) = args.get(i + 1) {
                return PathBuf::from(v);
            }
        }
    }
    // SAFETY: geteuid and getuid cannot fail.
    let (euid, uid) = unsafe { (libc::geteuid(), libc::getuid()) };
    if euid == 0 {
        return PathBuf::from("/run/coracle");
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(|d| PathBuf::from(d).join("coracle"))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/coracle-{uid}")))
}
