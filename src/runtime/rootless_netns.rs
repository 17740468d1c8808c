//! The rootless network namespace: where a rootless user's named networks
//! live. One user namespace (mapped as the store's: 0 is the caller, 1..
//! its subordinate ids) and one network namespace owned by it, held by a
//! process titled `coracle rootless-netns` (a child of the supervisor
//! below, doing nothing but exist). pasta, attached to it, gives it a way
//! out (and forwards DNS sent to its gateway to the host's resolvers).
//!
//! The first container on a named network makes it; the supervisor (in
//! the caller's own user namespace, the one process that may kill pasta
//! and the holder) checks every second, under the lock that joining
//! members take, whether any network has a live member, and takes
//! everything with it when none has. A killed monitor therefore leaves
//! nothing for longer than a second, and no process outlives the last
//! container. Its pids are in `<runroot>/rootless-netns/state`.
//!
//! A member's monitor enters the user namespace before it clones its
//! container, whose own user namespace is then a child of this one: the
//! monitor is root over both, so it can move a veth end from the shared
//! network namespace into the container's, and writes the container's id
//! maps itself (no newuidmap).

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::sys;
use super::userns::{IdMapping, IdMaps};
use crate::storage::lock::FileLock;
use crate::storage::networks as nets;

fn dir(runroot: &Path) -> PathBuf {
    runroot.join("rootless-netns")
}

/// The running namespace's processes.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Running {
    supervisor: i32,
    supervisor_start: u64,
    holder: i32,
}

fn read_state(runroot: &Path) -> Option<Running> {
    let text = std::fs::read_to_string(dir(runroot).join("state")).ok()?;
    let f: Vec<&str> = text.split_whitespace().collect();
    let r = Running {
        supervisor: f.first()?.parse().ok()?,
        supervisor_start: f.get(1)?.parse().ok()?,
        holder: f.get(2)?.parse().ok()?,
    };
    sys::process_is(r.supervisor, r.supervisor_start).then_some(r)
}

/// The namespaces, opened: enter the user one, then the network one.
pub struct Netns {
    pub user: File,
    pub net: File,
}

fn open_of(holder: i32) -> Result<Netns> {
    let open = |kind: &str| {
        File::open(format!("/proc/{holder}/ns/{kind}"))
            .with_context(|| format!("opening the rootless {kind} namespace"))
    };
    Ok(Netns {
        user: open("user")?,
        net: open("net")?,
    })
}

/// The namespace if it runs (nothing is made).
pub fn open(runroot: &Path) -> Option<Netns> {
    read_state(runroot).and_then(|r| open_of(r.holder).ok())
}

/// Lock the namespace (members join under it; the supervisor decides under
/// it that none is left) and make it unless it runs. Keep the lock until
/// the container's leases are written.
pub fn ensure(runroot: &Path) -> Result<(FileLock, Netns)> {
    let d = dir(runroot);
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    let lock = FileLock::exclusive(&d.join("lock"))?;
    if let Some(ns) = open(runroot) {
        return Ok((lock, ns));
    }
    let holder = start(runroot).context("starting the rootless network namespace")?;
    Ok((lock, open_of(holder)?))
}

/// `unshare --rootless-netns`: this process joins the namespace (made if
/// none runs) and counts as a member until it ends (a file named by its
/// pid and start time, which an exec keeps).
pub fn enter_for_user(runroot: &Path) -> Result<()> {
    let (lock, ns) = ensure(runroot)?;
    count_me_in(runroot)?;
    drop(lock);
    ns.enter_userns()?;
    // SAFETY: setns on an fd we opened; this process is single-threaded.
    if unsafe { libc::setns(ns.net.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        bail!("joining the rootless network namespace: {}", sys::errno());
    }
    Ok(())
}

/// Keep the namespace while this process lives (call with the lock held):
/// an `unshare --rootless-netns`, or a member's monitor, which cannot move
/// to another namespace should its container restart after being the
/// last member.
pub fn count_me_in(runroot: &Path) -> Result<()> {
    let users = dir(runroot).join("users");
    std::fs::create_dir_all(&users)?;
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    let start = sys::process_start_time(me).unwrap_or(0);
    std::fs::write(users.join(format!("{me}_{start}")), "")?;
    Ok(())
}

/// Whether any process counted in (count_me_in) still runs; the others'
/// files go.
fn any_user(runroot: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir(runroot).join("users")) else {
        return false;
    };
    let mut any = false;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let alive = name
            .split_once('_')
            .and_then(|(p, s)| Some((p.parse().ok()?, s.parse().ok()?)))
            .is_some_and(|(p, s)| sys::process_is(p, s));
        if alive {
            any = true;
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
    any
}

/// Whether this process is in the user namespace `ns` already.
fn is_current_userns(ns: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::metadata("/proc/self/ns/user").map(|m| (m.dev(), m.ino()));
    let theirs = ns.metadata().map(|m| (m.dev(), m.ino()));
    matches!((ours, theirs), (Ok(a), Ok(b)) if a == b)
}

impl Netns {
    /// Move this (single-threaded) process into the user namespace for
    /// good: it is root there over the store's ids, as in the store's own
    /// namespace, which it then need not enter again.
    pub fn enter_userns(&self) -> Result<()> {
        if is_current_userns(&self.user) {
            return Ok(());
        }
        // SAFETY: setns on an fd we opened; the caller is single-threaded.
        if unsafe { libc::setns(self.user.as_raw_fd(), libc::CLONE_NEWUSER) } != 0 {
            bail!("joining the rootless user namespace: {}", sys::errno());
        }
        // Joining made us undumpable; the helpers we start need to see us.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1) };
        super::userns::mark_inside();
        Ok(())
    }

    /// `program` run inside both namespaces (entered between fork and
    /// exec), or in another network namespace `net` owned by a descendant
    /// of the user one.
    pub fn command(&self, program: &str, net: Option<&File>) -> Command {
        let user = (!is_current_userns(&self.user)).then(|| self.user.as_raw_fd());
        let net = net.unwrap_or(&self.net).as_raw_fd();
        let mut cmd = Command::new(program);
        // SAFETY: only setns between fork and exec; the fds stay open in
        // the parent (borrowed from self) until the command has spawned.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(u) = user {
                    if libc::setns(u, libc::CLONE_NEWUSER) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if libc::setns(net, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }
}

/// The container's id maps (in the caller's terms) in the terms of the
/// rootless user namespace, its parent: each host id replaced by the id
/// that stands for it there.
pub fn maps_in_parent(child: &[IdMapping], parent: &[IdMapping]) -> Result<Vec<IdMapping>> {
    let mut out = Vec::new();
    for m in child {
        let mut done = 0u32;
        while done < m.size {
            let host = m.host_id + done;
            let Some(p) = parent
                .iter()
                .find(|p| host >= p.host_id && host - p.host_id < p.size)
            else {
                bail!("id {host} of the container's map is not in the rootless user namespace");
            };
            let n = (p.size - (host - p.host_id)).min(m.size - done);
            out.push(IdMapping {
                container_id: m.container_id + done,
                host_id: p.container_id + (host - p.host_id),
                size: n,
            });
            done += n;
        }
    }
    Ok(out)
}

/// Write the maps of `pid`, a new user namespace below the rootless one,
/// from inside the rootless one (we are root there: no setuid helper).
pub fn write_child_maps(pid: i32, maps: &IdMaps) -> Result<()> {
    // Our own maps, read inside the rootless namespace, are its maps.
    let own = |file: &str| -> Result<Vec<IdMapping>> {
        let text = std::fs::read_to_string(format!("/proc/self/{file}"))
            .with_context(|| format!("reading /proc/self/{file}"))?;
        Ok(text
            .lines()
            .filter_map(|l| {
                let f: Vec<u32> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                (f.len() == 3).then(|| IdMapping {
                    container_id: f[0],
                    host_id: f[1],
                    size: f[2],
                })
            })
            .collect())
    };
    let parent = IdMaps {
        uids: own("uid_map")?,
        gids: own("gid_map")?,
    };
    let text = |m: &[IdMapping]| -> String {
        m.iter()
            .map(|e| format!("{} {} {}\n", e.container_id, e.host_id, e.size))
            .collect()
    };
    let uids = maps_in_parent(&maps.uids, &parent.uids)?;
    let gids = maps_in_parent(&maps.gids, &parent.gids)?;
    for (file, body) in [("uid_map", text(&uids)), ("gid_map", text(&gids))] {
        std::fs::write(format!("/proc/{pid}/{file}"), body)
            .with_context(|| format!("writing /proc/{pid}/{file}"))?;
    }
    Ok(())
}

/// Make the namespace: the supervisor (forked twice, so nobody waits for
/// it), which makes the holder, maps it, starts pasta, writes the state
/// file and reports; then it watches. Returns the holder's pid.
fn start(runroot: &Path) -> Result<i32> {
    let maps = IdMaps::for_current_user()?;
    let (r, w) = sys::pipe()?;
    // SAFETY: the caller is single-threaded; the children make plain
    // syscalls and leave with _exit.
    let child = unsafe { libc::fork() };
    if child < 0 {
        sys::close(r);
        sys::close(w);
        bail!("fork: {}", sys::errno());
    }
    if child == 0 {
        sys::close(r);
        // SAFETY: as above.
        let sup = unsafe { libc::fork() };
        if sup == 0 {
            // Nothing of the caller's: its pipes must see their EOFs, and
            // its lock must go when it lets go.
            sys::close_fds_except(&[w]);
            // SAFETY: from the raw pipe end this child owns.
            let report = unsafe { OwnedFd::from_raw_fd(w) };
            supervise(runroot, &maps, report);
        }
        // SAFETY: leave without the caller's destructors.
        unsafe { libc::_exit(if sup > 0 { 0 } else { 1 }) };
    }
    sys::close(w);
    let reply = sys::read_to_end(r).unwrap_or_default();
    sys::close(r);
    // SAFETY: reaping our own intermediate child.
    unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
    let reply = String::from_utf8_lossy(&reply);
    match reply.strip_prefix("ok ") {
        Some(pid) => pid.trim().parse().context("the supervisor's reply"),
        None if reply.is_empty() => bail!("the supervisor failed"),
        None => bail!("{reply}"),
    }
}

/// The supervisor: never returns.
fn supervise(runroot: &Path, maps: &IdMaps, report: OwnedFd) -> ! {
    // The monitor blocks signals for its signalfd: a user's kill must work.
    // SAFETY: an empty set from sigemptyset, for this process alone.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    let mut made = Made::default();
    match made.set_up(runroot, maps) {
        Ok(()) => {
            let _ = sys::write_all(report.as_raw_fd(), format!("ok {}", made.holder).as_bytes());
        }
        Err(e) => {
            made.tear_down(runroot);
            let _ = sys::write_all(report.as_raw_fd(), format!("{e:#}").as_bytes());
            // SAFETY: leave without the caller's destructors.
            unsafe { libc::_exit(1) };
        }
    }
    drop(report);
    sys::detach_into_background(&[]);
    sys::set_process_title("coracle rootless-netns");
    loop {
        std::thread::sleep(Duration::from_secs(1));
        // No lock to take: the run dir went with its store, and nobody
        // can join any more.
        let lock = FileLock::exclusive(&dir(runroot).join("lock"));
        if lock.is_err() || (!any_member(runroot) && !any_user(runroot)) {
            made.tear_down(runroot);
            // SAFETY: as above.
            unsafe { libc::_exit(0) };
        }
    }
}

/// Whether any network has a member whose monitor runs.
fn any_member(runroot: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(nets::run_dir(runroot)) else {
        return false;
    };
    entries.flatten().any(|e| {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".leases") else {
            return false;
        };
        nets::read_leases(runroot, name)
            .iter()
            .any(|l| sys::process_is(l.pid, l.pid_start))
    })
}

/// What the supervisor started.
#[derive(Default)]
struct Made {
    holder: i32,
    pasta: Option<super::network::Helper>,
}

impl Made {
    fn set_up(&mut self, runroot: &Path, maps: &IdMaps) -> Result<()> {
        let (ready_r, ready_w) = sys::pipe()?;
        let (go_r, go_w) = sys::pipe()?;
        // SAFETY: single-threaded; the holder makes plain syscalls only.
        let holder = unsafe { libc::fork() };
        if holder < 0 {
            bail!("fork: {}", sys::errno());
        }
        if holder == 0 {
            sys::close_fds_except(&[ready_w, go_r]);
            hold(ready_w, go_r);
        }
        self.holder = holder;
        sys::close(ready_w);
        sys::close(go_r);
        let said = sys::read_to_end(ready_r).unwrap_or_default();
        sys::close(ready_r);
        if said != b"u" {
            sys::close(go_w);
            bail!("the namespace holder failed to unshare");
        }
        let mapped = super::userns::write_id_maps(holder, maps);
        let _ = sys::write_all(go_w, if mapped.is_ok() { b"m" } else { b"x" });
        sys::close(go_w);
        mapped?;
        let d = dir(runroot);
        let pasta = super::network::spawn_pasta(holder, &[], &[], &d)?;
        self.pasta = Some(pasta.wait()?);
        // SAFETY: getpid cannot fail.
        let me = unsafe { libc::getpid() };
        let start = sys::process_start_time(me).unwrap_or(0);
        crate::storage::atomic::write_file(
            &d.join("state"),
            format!("{me} {start} {holder}\n").as_bytes(),
            false,
        )
    }

    fn tear_down(&self, runroot: &Path) {
        let _ = std::fs::remove_file(dir(runroot).join("state"));
        if let Some(p) = &self.pasta {
            p.stop();
        }
        if self.holder > 0 {
            // SAFETY: our own child.
            unsafe {
                libc::kill(self.holder, libc::SIGKILL);
                libc::waitpid(self.holder, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// The holder: new user and network namespaces, mapped by its parent;
/// forwarding on, loopback up; then it only waits, and dies with the
/// supervisor.
fn hold(ready_w: i32, go_r: i32) -> ! {
    // SAFETY: plain syscalls in a single-threaded child; _exit leaves.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) != 0 {
            libc::_exit(1);
        }
        // Openable by its owner's other processes (/proc/PID/ns/*).
        libc::prctl(libc::PR_SET_DUMPABLE, 1);
        let _ = sys::write_all(ready_w, b"u");
        sys::close(ready_w);
        let go = sys::read_to_end(go_r).unwrap_or_default();
        if go != b"m" {
            libc::_exit(1);
        }
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1");
        let _ = sys::loopback_up();
        sys::set_process_title("coracle rootless-netns holder");
        loop {
            libc::pause();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: u32, h: u32, n: u32) -> IdMapping {
        IdMapping {
            container_id: c,
            host_id: h,
            size: n,
        }
    }

    #[test]
    fn child_maps_are_rewritten_in_the_parents_ids() {
        let parent = [m(0, 1000, 1), m(1, 100000, 65536)];
        // The default rootless map: the identity in the parent's terms.
        assert_eq!(
            maps_in_parent(&[m(0, 1000, 1), m(1, 100000, 65536)], &parent).unwrap(),
            [m(0, 0, 1), m(1, 1, 65536)]
        );
        // keep-id: the caller's id in the middle, a range split in two.
        assert_eq!(
            maps_in_parent(&[m(0, 100000, 1000), m(1000, 1000, 1)], &parent).unwrap(),
            [m(0, 1, 1000), m(1000, 0, 1)]
        );
        assert!(maps_in_parent(&[m(0, 5, 1)], &parent).is_err());
    }
}
