//! Layer transfers run a few at a time: enough to overlap network and CPU
//! on small hosts, not so many that they fight over two cores.

use anyhow::Result;
use std::sync::Mutex;

/// Run `f` over `jobs` on up to `limit` threads; the first error wins and
/// stops the others from taking new jobs.
pub fn run_parallel<T: Sync>(
    jobs: &[T],
    limit: usize,
    f: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    if jobs.len() <= 1 {
        return jobs.iter().try_for_each(&f);
    }
    let next = Mutex::new(0usize);
    let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..limit.max(1).min(jobs.len()) {
            s.spawn(|| loop {
                if first_error.lock().expect("no poison").is_some() {
                    return;
                }
                let i = {
                    let mut n = next.lock().expect("no poison");
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(job) = jobs.get(i) else { return };
                if let Err(e) = f(job) {
                    first_error.lock().expect("no poison").get_or_insert(e);
                    return;
                }
            });
        }
    });
    match first_error.into_inner().expect("no poison") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
