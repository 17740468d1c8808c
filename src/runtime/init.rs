//! `--init`: a tiny PID 1 that runs the program as its child, passes
//! signals on to it and reaps every zombie, so programs that never expected
//! to be PID 1 behave (a PID 1 gets no default signal actions).

/// Fork: the child returns and execs the program; this process becomes the
/// init and never returns. The init closes `report_fd` (the start report)
/// so that only the program's exec closes the monitor's view of it.
pub fn run_as_init(report_fd: i32) {
    // Blocked before the fork: a program that exits at once must still
    // leave its SIGCHLD pending for the wait below (after the fork it
    // could be discarded first, and the init would wait forever).
    let all = super::sys::block_all_signals();
    // SAFETY: a single-threaded process forking; the child only returns.
    let child = unsafe { libc::fork() };
    if child < 0 {
        super::sys::unblock_all_signals();
        return; // Run without an init rather than not at all.
    }
    if child == 0 {
        // SAFETY: restore the default mask for the program.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            libc::setpgid(0, 0);
        }
        return;
    }
    // SAFETY: plain libc calls on our own fds and process.
    unsafe {
        libc::close(report_fd);
        libc::prctl(libc::PR_SET_NAME, c"coracle-init".as_ptr());
    }
    // SAFETY: signalling and reaping our own children.
    unsafe {
        loop {
            let sig = super::sys::next_signal(&all);
            if sig != libc::SIGCHLD {
                libc::kill(child, sig);
                continue;
            }
            loop {
                let mut status = 0;
                let pid = libc::waitpid(-1, &mut status, libc::WNOHANG);
                if pid <= 0 {
                    break;
                }
                if pid == child {
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        128 + libc::WTERMSIG(status)
                    };
                    libc::_exit(code);
                }
            }
        }
    }
}
