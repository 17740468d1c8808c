//! Attached `up`: the user's Ctrl-C (or a unit's SIGTERM) taken by a
//! thread instead of ending the process, so the caller can stop the
//! project gracefully, and force on the second one.

use nix::sys::signal::{SigSet, Signal};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

/// Signals received so far, and the last one.
#[derive(Clone, Default)]
pub struct Interrupts {
    count: Arc<AtomicUsize>,
    last: Arc<AtomicI32>,
}

impl Interrupts {
    /// Take SIGINT, SIGTERM and SIGHUP from now on. Call once every
    /// container has started: processes forked later inherit the mask.
    pub fn install() -> Interrupts {
        let mut set = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(s);
        }
        let _ = set.thread_block();
        let me = Interrupts::default();
        let seen = me.clone();
        std::thread::spawn(move || loop {
            if let Ok(sig) = set.wait() {
                seen.last.store(sig as i32, Ordering::SeqCst);
                seen.count.fetch_add(1, Ordering::SeqCst);
            }
        });
        me
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The exit code a shell gives a process ended by the last signal.
    pub fn exit_code(&self) -> i32 {
        128 + self.last.load(Ordering::SeqCst)
    }
}
