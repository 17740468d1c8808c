//! Restart policies, kept by the container's monitor: whether an ended
//! program starts again, and after how long. The delay is Docker's
//! documented backoff: 100 ms, doubling up to a minute; a run that lasted
//! 10 s or more starts the doubling afresh.

use crate::storage::modes::RestartPolicy;
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
const STABLE_RUN: Duration = Duration::from_secs(10);

/// Does `policy` start the program again after it ended with `exit_code`,
/// `restarts` restarts so far? (A user's stop or kill is checked apart.)
pub fn wanted(policy: RestartPolicy, exit_code: i32, restarts: u32) -> bool {
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure(max) => exit_code != 0 && max.is_none_or(|m| restarts < m),
    }
}

pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST_DELAY }
    }
}

impl Backoff {
    /// The wait before the next start, after a run of `ran`.
    pub fn delay_after(&mut self, ran: Duration) -> Duration {
        if ran >= STABLE_RUN {
            self.next = FIRST_DELAY;
        }
        let d = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_as_podman_documents_them() {
        assert!(!wanted(RestartPolicy::No, 1, 0));
        assert!(wanted(RestartPolicy::Always, 0, 100));
        assert!(wanted(RestartPolicy::UnlessStopped, 0, 0));
        assert!(!wanted(RestartPolicy::OnFailure(None), 0, 0));
        assert!(wanted(RestartPolicy::OnFailure(None), 3, 1000));
        assert!(wanted(RestartPolicy::OnFailure(Some(2)), 1, 1));
        assert!(!wanted(RestartPolicy::OnFailure(Some(2)), 1, 2));
    }

    #[test]
    fn backoff_doubles_to_a_minute_and_resets_after_a_stable_run() {
        let mut b = Backoff::default();
        let short = Duration::from_millis(5);
        assert_eq!(b.delay_after(short), Duration::from_millis(100));
        assert_eq!(b.delay_after(short), Duration::from_millis(200));
        assert_eq!(b.delay_after(short), Duration::from_millis(400));
        for _ in 0..20 {
            b.delay_after(short);
        }
        assert_eq!(b.delay_after(short), Duration::from_secs(60));
        assert_eq!(
            b.delay_after(Duration::from_secs(11)),
            Duration::from_millis(100)
        );
    }
}
