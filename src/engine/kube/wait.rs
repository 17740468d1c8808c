//! `kube play --wait`: stay in the foreground while the played pods run;
//! when their containers have all ended, or on Ctrl-C (SIGINT, SIGTERM,
//! SIGHUP), remove everything the play made.

use super::super::types::Store;
use super::{down, DownReport, PlayReport};
use crate::runtime::state::{current_state, is_restarting, is_running};
use anyhow::Result;
use nix::sys::signal::{SigSet, Signal};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Wait, then tear down as `kube down --force` does. The signal that
/// ended the wait, if one did, comes back with the report.
pub fn wait_then_down(
    store: &Store,
    played: &PlayReport,
    text: &str,
    file: &str,
) -> Result<(DownReport, Option<i32>)> {
    // Blocked only now: the containers' monitors, forked before, keep
    // the signals they had.
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()?;
    let signal = Arc::new(AtomicI32::new(0));
    let seen = signal.clone();
    std::thread::spawn(move || {
        if let Ok(sig) = set.wait() {
            seen.store(sig as i32, Ordering::SeqCst);
        }
    });
    let ids: Vec<&String> = played.pods.iter().flat_map(|p| &p.containers).collect();
    while signal.load(Ordering::SeqCst) == 0 && ids.iter().any(|id| still_running(store, id)) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let report = down(store, text, file, true)?;
    let sig = signal.load(Ordering::SeqCst);
    Ok((report, (sig != 0).then_some(sig)))
}

/// Running, or waiting to be restarted by its policy.
fn still_running(store: &Store, id: &str) -> bool {
    current_state(store, id).is_ok_and(|s| is_running(&s) || is_restarting(&s))
}
