//! Named kill points for the crash-injection tests: with
//! `CORACLE_TEST_CRASH_AT=NAME[,NAME...]` in its environment a process
//! SIGKILLs itself when it reaches point NAME, exactly as a kill from
//! outside would leave it. Always compiled in; off, a point costs one
//! cached lookup.

use std::sync::OnceLock;

pub const ENV: &str = "CORACLE_TEST_CRASH_AT";

/// Die here if the tests asked for it.
pub fn point(name: &str) {
    static WANTED: OnceLock<Vec<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| {
        std::env::var(ENV)
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    });
    if wanted.iter().any(|w| w == name) {
        // SAFETY: a signal to ourselves; SIGKILL cannot be caught.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}
