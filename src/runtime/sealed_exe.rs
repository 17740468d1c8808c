//! The only coracle binary a container can ever see: a read-only view.
//!
//! A coracle process that enters a container's namespaces (the monitor's
//! child that becomes the container's init, `exec`, `top`'s ps, `cp`, the
//! `--init` and pod infra processes) shows up in the container's `/proc`,
//! and `/proc/PID/exe` is a link to the file it runs. Were that the host's
//! binary, a container could open it, keep the descriptor, and write
//! through it once no process runs that file any more (CVE-2019-5736).
//! `exec CTR /proc/self/exe` would even run the host's file inside.
//!
//! So before such a command does anything, the CLI executes itself again
//! from a *detached, read-only bind mount* of its own binary
//! (`open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_RDONLY)` +
//! `execveat`). Every process it forks inherits that view: opening it for
//! writing fails with EROFS, through `/proc/PID/exe`, a kept descriptor or
//! `/proc/self/fd/N` alike, and no container can remount a mount that is
//! in none of its namespaces. Why this and not runc's other choices:
//! - no copy: the mount shares the binary's page cache, so a monitor per
//!   running container costs no extra memory, where a sealed memfd copy
//!   (runc 1.1) pins ~15 MB per long-lived process and costs a copy per
//!   start;
//! - no mount table churn: the mount is never attached anywhere (runc's
//!   bind mount onto a temp file was reverted for that);
//! - the cost is one program load, ~1 ms, on the verbs that need it only.
//!
//! Rootless, a forked helper makes the mount in a user and mount namespace
//! of its own and hands the descriptor back. Kernels without the new mount
//! API (before 5.12) fall back to a sealed memfd copy.

use super::sys;
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// Set in the environment of the re-executed CLI, so that a second failure
/// to run sealed is an error rather than a loop. Removed at once.
const REEXEC_MARK: &str = "_CORACLE_SEALED_EXEC";

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// `struct mount_attr` of <linux/mount.h>.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Does this process run from a binary that cannot be written through?
/// True for our read-only view, a sealed memfd, or a binary that lives on
/// a read-only file system.
pub fn is_sealed() -> bool {
    // SAFETY: statvfs fills the zeroed struct; the path is a C literal.
    let ro_mount = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c"/proc/self/exe".as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_RDONLY != 0
    };
    ro_mount || memfd_is_sealed()
}

fn memfd_is_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: fcntl on a descriptor we own.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::F_SEAL_WRITE != 0
}

/// Call first thing in a command that will start or enter a container:
/// returns at once when this process already runs sealed, otherwise
/// replaces it with the same command run from the read-only view (and so
/// does not return on success).
pub fn ensure() -> Result<()> {
    let retried = std::env::var_os(REEXEC_MARK).is_some();
    if retried {
        // Not for the container's helpers and hooks to see.
        std::env::remove_var(REEXEC_MARK);
    }
    if is_sealed() {
        return Ok(());
    }
    if retried {
        bail!("coracle could not run from a read-only view of its own binary, which it needs to enter a container safely");
    }
    let exe = sealed_view().context("making a read-only view of coracle's binary")?;
    reexec(&exe)
}

/// Checked where a container is started or entered: a command that calls
/// there without [`ensure`] is a bug, caught by the tests of that command.
pub fn require() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    bail!("internal error: this command enters a container without running from the read-only view of coracle's binary (a bug in coracle, please report it)")
}

/// A descriptor of this binary that cannot be written through.
fn sealed_view() -> Result<OwnedFd> {
    match readonly_clone_here() {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return sealed_memfd(),
        // Not allowed in this mount namespace (rootless, or in a user
        // namespace already): in one of our own.
        Err(_) => {}
    }
    match readonly_clone_in_helper() {
        Ok(fd) => Ok(fd),
        Err(_) => sealed_memfd(),
    }
}

/// `open_tree` + `mount_setattr` on the binary, in this process.
fn readonly_clone_here() -> std::io::Result<OwnedFd> {
    readonly_clone(c"/proc/self/exe")
}

fn readonly_clone(path: &std::ffi::CStr) -> std::io::Result<OwnedFd> {
    // SAFETY: open_tree with a valid path; returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: open_tree returned a descriptor that nothing else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr on our detached mount with a correctly sized struct.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(tree)
}

/// Rootless: a forked helper enters a user and mount namespace of its own
/// (where it may mount), clones the binary's mount read-only there, and
/// passes the descriptor back. The mount outlives the helper while the
/// descriptor (and later the running program) holds it.
fn readonly_clone_in_helper() -> Result<OwnedFd> {
    // The path as this mount namespace names it: the helper's new one is a
    // copy, and open_tree only clones mounts of the caller's namespace.
    let path = std::fs::read_link("/proc/self/exe").context("reading /proc/self/exe")?;
    let path = CString::new(path.as_os_str().as_bytes())?;
    let mut sock = [-1i32; 2];
    // SAFETY: socketpair fills the array.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            sock.as_mut_ptr(),
        )
    } != 0
    {
        bail!("socketpair: {}", sys::errno());
    }
    // SAFETY: both ends are ours now.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(sock[0]), OwnedFd::from_raw_fd(sock[1])) };
    // SAFETY: the CLI is single-threaded here; the child makes plain
    // syscalls and leaves with _exit.
    let child = unsafe { libc::fork() };
    if child < 0 {
        bail!("fork: {}", sys::errno());
    }
    if child == 0 {
        drop(ours);
        // SAFETY: unshare with flag constants, in a single-threaded child.
        let made = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } == 0;
        let sent = made
            && readonly_clone(&path)
                .and_then(|fd| {
                    super::process::send_fd(theirs.as_fd(), fd.as_fd())
                        .map_err(std::io::Error::other)
                })
                .is_ok();
        // SAFETY: leave without running the parent's destructors.
        unsafe { libc::_exit(if sent { 0 } else { 1 }) }
    }
    drop(theirs);
    let received = super::process::recv_fd(ours.as_fd());
    let mut status = 0;
    // SAFETY: reap the helper we forked.
    unsafe { libc::waitpid(child, &mut status, 0) };
    received
}

/// The fallback: a copy of the binary in a memfd, sealed against writes.
fn sealed_memfd() -> Result<OwnedFd> {
    // SAFETY: memfd_create with a literal name; returns a new descriptor.
    let fd = unsafe {
        libc::memfd_create(
            c"coracle".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        bail!("memfd_create: {}", sys::errno());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut src = std::fs::File::open("/proc/self/exe").context("opening /proc/self/exe")?;
    let mut dst = std::fs::File::from(memfd);
    std::io::copy(&mut src, &mut dst).context("copying coracle's binary")?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our memfd.
    if unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        bail!("sealing the copy of coracle's binary: {}", sys::errno());
    }
    Ok(OwnedFd::from(dst))
}

/// Execute `exe` with this process's arguments and environment (plus the
/// mark). Returns only on failure.
fn reexec(exe: &OwnedFd) -> Result<()> {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| CString::new([k.as_bytes(), b"=", v.as_bytes()].concat()))
        .collect::<Result<_, _>>()?;
    env.push(CString::new(format!("{REEXEC_MARK}=1"))?);
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of C strings that outlive the call.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            exe.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    bail!("executing coracle's read-only view: {}", sys::errno())
}
