//! A pod's infra process: the first process of the infra container, which
//! only keeps the pod's shared namespaces alive. It is the monitor's child
//! itself, never an exec: no pause binary in any image is needed. It walls
//! itself into an empty read-only root, gives up every capability, and
//! waits for a signal, reaping whatever is re-parented to it (with a
//! shared pid namespace it is the members' init).

use super::sys;
use oci_spec::runtime::Spec;
use std::path::Path;

/// Never returns: sets up, reports success by closing `report_fd`, then
/// waits until SIGTERM/SIGINT/SIGHUP/SIGQUIT (exit 0) or SIGKILL.
pub fn hold_namespaces(spec: &Spec, rootless: bool, report_fd: i32) -> ! {
    // Seen in `pod top` and the host's `ps` as what it is, not as the
    // command line of the CLI it was forked from (/proc goes with isolate).
    sys::set_process_title("pause");
    if let Err(e) = isolate(spec) {
        super::process::fail(report_fd, &e);
    }
    // SAFETY: plain process-attribute syscalls on ourselves.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"coracle-infra".as_ptr());
        // Dies with its monitor, like any container's first process.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // As root, members sharing its pid namespace may not reach the host
        // through /proc/1 (exe). Rootless, this process never exec'd, so its
        // memory belongs to the host's user namespace: not dumpable, not
        // even the user's own monitors could open its namespaces.
        if !rootless {
            libc::prctl(libc::PR_SET_DUMPABLE, 0);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
        }
    }
    let _ = super::caps::drop_bounding(&[]);
    let _ = super::caps::set_process_caps(&[]);
    sys::close_fds_except(&[0, 1, 2]);
    super::memory::shed();
    // All signals blocked (so none is dropped at PID 1), taken one by one.
    let all = sys::block_all_signals();
    loop {
        match sys::next_signal(&all) {
            // SAFETY: exiting and reaping, plain libc calls.
            libc::SIGTERM | libc::SIGINT | libc::SIGHUP | libc::SIGQUIT => unsafe {
                libc::_exit(0)
            },
            // SAFETY: reaping our own child.
            libc::SIGCHLD => unsafe {
                while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
            },
            _ => {}
        }
    }
}

/// An empty, read-only tmpfs as the root: nothing of the host is left
/// reachable through this process.
fn isolate(spec: &Spec) -> anyhow::Result<()> {
    use anyhow::Context;
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .context("spec has no root")?;
    sys::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    sys::mount(
        Some(Path::new("tmpfs")),
        &root,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some("size=4k,mode=0555"),
    )
    .context("mounting the infra's root")?;
    super::rootfs::pivot_root(&root)?;
    sys::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_BIND
            | libc::MS_REMOUNT
            | libc::MS_RDONLY
            | libc::MS_NOSUID
            | libc::MS_NODEV
            | libc::MS_NOEXEC,
        None,
    )
    .context("making the infra's root read-only")?;
    Ok(())
}
