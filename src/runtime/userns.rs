//! The rootless user namespace: id maps from /etc/subuid and /etc/subgid,
//! and entering a namespace where the caller is root over those ids.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Gid, Pid, Uid};

/// Set in the environment of the process that runs inside the namespace,
/// so a nested call (or a re-exec of ourselves) does not enter again.
const IN_USERNS_ENV: &str = "_CORACLE_IN_USERNS";

/// The real uid and gid of this process.
pub fn caller_ids() -> (u32, u32) {
    (Uid::current().as_raw(), Gid::current().as_raw())
}

pub fn is_rootless() -> bool {
    !Uid::effective().is_root()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMaps {
    pub uids: Vec<IdMapping>,
    pub gids: Vec<IdMapping>,
}

static SINGLE_ID_WARNED: AtomicBool = AtomicBool::new(false);

impl IdMaps {
    /// Every id maps to itself (root, or no namespace).
    pub fn identity() -> IdMaps {
        let all = IdMapping {
            container_id: 0,
            host_id: 0,
            size: u32::MAX,
        };
        IdMaps {
            uids: vec![all],
            gids: vec![all],
        }
    }

    /// The maps the caller gets: identity for root; rootless, container 0 is
    /// the caller and 1.. its subordinate ranges.
    pub fn for_current_user() -> Result<IdMaps> {
        if !is_rootless() {
            return Ok(IdMaps::identity());
        }
        let uid = Uid::effective().as_raw();
        let gid = Gid::effective().as_raw();
        let name = nix::unistd::User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.name);
        let read = |path: &str| match fs::read_to_string(path) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(e).with_context(|| format!("reading {path}")),
        };
        let sub_u = subordinate_ranges(&read("/etc/subuid")?, name.as_deref(), uid);
        let sub_g = subordinate_ranges(&read("/etc/subgid")?, name.as_deref(), uid);
        let maps = IdMaps {
            uids: build_map(uid, &sub_u),
            gids: build_map(gid, &sub_g),
        };
        if maps.is_single() && !SINGLE_ID_WARNED.swap(true, Ordering::Relaxed) {
            crate::warn!(
                "no subordinate id range for {} in /etc/subuid and /etc/subgid: only one id is \
                 mapped, so images with files owned by other users will fail to unpack \
                 (add a range, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}`)",
                name.as_deref().unwrap_or("this user"),
                name.as_deref().unwrap_or("USER"),
            );
        }
        Ok(maps)
    }

    pub fn host_uid(&self, container_uid: u32) -> Option<u32> {
        lookup(&self.uids, container_uid)
    }

    pub fn host_gid(&self, container_gid: u32) -> Option<u32> {
        lookup(&self.gids, container_gid)
    }

    pub fn container_uid(&self, host_uid: u32) -> Option<u32> {
        reverse_lookup(&self.uids, host_uid)
    }

    pub fn container_gid(&self, host_gid: u32) -> Option<u32> {
        reverse_lookup(&self.gids, host_gid)
    }

    /// podman's `--userns=keep-id`: the caller's own ids appear unchanged
    /// inside the container; the ids below and above them come from the
    /// subordinate ranges, in order.
    pub fn keep_id(&self, uid: u32, gid: u32) -> Result<IdMaps> {
        fn shift(map: &[IdMapping], own: u32) -> Result<Vec<IdMapping>> {
            // The host ids available to the container, in container order,
            // without the caller's own id (which goes to `own`).
            let sub: Vec<&IdMapping> = map.iter().filter(|m| m.container_id != 0).collect();
            let total: u64 = sub.iter().map(|m| m.size as u64).sum();
            if total < own as u64 {
                bail!("--userns=keep-id needs a subordinate range of at least {own} ids");
            }
            let mut out = Vec::new();
            let mut next_container: u32 = 0;
            for m in sub {
                let mut host = m.host_id;
                let mut left = m.size;
                while left > 0 {
                    if next_container == own {
                        next_container += 1;
                    }
                    let run = if next_container < own {
                        left.min(own - next_container)
                    } else {
                        left
                    };
                    out.push(IdMapping {
                        container_id: next_container,
                        host_id: host,
                        size: run,
                    });
                    next_container += run;
                    host += run;
                    left -= run;
                }
            }
            let own_host = map
                .iter()
                .find(|m| m.container_id == 0)
                .map(|m| m.host_id)
                .unwrap_or(own);
            out.push(IdMapping {
                container_id: own,
                host_id: own_host,
                size: 1,
            });
            out.sort_by_key(|m| m.container_id);
            Ok(out)
        }
        Ok(IdMaps {
            uids: shift(&self.uids, uid)?,
            gids: shift(&self.gids, gid)?,
        })
    }

    /// Only one uid or only one gid is mapped: no subordinate ranges.
    pub fn is_single(&self) -> bool {
        let count = |m: &[IdMapping]| m.iter().map(|r| r.size as u64).sum::<u64>();
        count(&self.uids) <= 1 || count(&self.gids) <= 1
    }
}

fn reverse_lookup(map: &[IdMapping], host: u32) -> Option<u32> {
    map.iter().find_map(|r| {
        let off = host.checked_sub(r.host_id)?;
        (off < r.size).then(|| r.container_id + off)
    })
}

fn lookup(map: &[IdMapping], id: u32) -> Option<u32> {
    map.iter().find_map(|r| {
        let off = id.checked_sub(r.container_id)?;
        (off < r.size).then(|| r.host_id + off)
    })
}

/// (start, count) ranges for the user from a subuid/subgid file, matched by
/// name or numeric uid, in file order.
pub fn subordinate_ranges(text: &str, name: Option<&str>, uid: u32) -> Vec<(u32, u32)> {
    let uid_s = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let mut f = line.split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            if Some(who) != name && who != uid_s {
                return None;
            }
            let (start, count) = (start.trim().parse().ok()?, count.trim().parse().ok()?);
            (count > 0).then_some((start, count))
        })
        .collect()
}

fn build_map(own: u32, ranges: &[(u32, u32)]) -> Vec<IdMapping> {
    let mut map = vec![IdMapping {
        container_id: 0,
        host_id: own,
        size: 1,
    }];
    let mut next: u32 = 1;
    for &(start, count) in ranges {
        let Some(end) = next.checked_add(count) else {
            break;
        };
        map.push(IdMapping {
            container_id: next,
            host_id: start,
            size: count,
        });
        next = end;
    }
    map
}

/// Whether this process is already inside a namespace we set up.
fn already_inside() -> bool {
    std::env::var_os(IN_USERNS_ENV).is_some_and(|v| v == "1") && !uid_map_is_initial()
}

fn uid_map_is_initial() -> bool {
    fs::read_to_string("/proc/self/uid_map")
        .map(|s| {
            let f: Vec<&str> = s.split_whitespace().collect();
            f == ["0", "0", "4294967295"]
        })
        .unwrap_or(true)
}

fn thread_count() -> Result<u64> {
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow!("no Threads line in /proc/self/status"))
}

static CHILD_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = CHILD_PID.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: a signal to a process we started.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Rootless: fork; the child enters a new user and mount namespace mapped by
/// `maps` and returns Ok as uid 0 there; the parent relays signals, waits,
/// and exits with the child's status (it never returns once the child runs).
/// Root, or already inside: returns Ok at once.
pub fn enter_user_namespace(maps: &IdMaps) -> Result<()> {
    if !is_rootless() || already_inside() {
        return Ok(());
    }
    let threads = thread_count()?;
    if threads != 1 {
        bail!(
            "cannot enter a user namespace: the process already runs {threads} threads \
             (enter it before starting any thread)"
        );
    }
    let newuidmap = if maps.is_single() {
        None
    } else {
        Some((find_helper("newuidmap")?, find_helper("newgidmap")?))
    };

    // ready: child -> parent "unshared"; go: parent -> child "maps written".
    let (ready_r, ready_w) = nix::unistd::pipe().context("creating a pipe")?;
    let (go_r, go_w) = nix::unistd::pipe().context("creating a pipe")?;

    // SAFETY: single-threaded (checked above), so the child may run any code.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            drop(ready_r);
            drop(go_w);
            child_enter(ready_w, go_r, maps.is_single())
        }
        ForkResult::Parent { child } => {
            drop(ready_w);
            drop(go_r);
            if let Err(e) = parent_map(child, ready_r, &go_w, maps, newuidmap) {
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                let _ = waitpid(child, None);
                return Err(e);
            }
            drop(go_w);
            parent_wait(child)
        }
    }
}

fn find_helper(name: &str) -> Result<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            "/usr/bin".into(),
            "/usr/sbin".into(),
            "/bin".into(),
            "/sbin".into(),
        ])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("{name} not found: install the uidmap package"))
}

/// In the child: unshare, tell the parent, wait for the maps, become root.
fn child_enter(ready_w: OwnedFd, go_r: OwnedFd, single: bool) -> Result<()> {
    let fail = |msg: String| -> ! {
        eprintln!("Error: entering the user namespace: {msg}");
        // SAFETY: leave the forked child without running the parent's destructors.
        unsafe { libc::_exit(125) }
    };
    if let Err(e) = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS) {
        fail(format!("unshare: {e}"));
    }
    let mut ready = std::fs::File::from(ready_w);
    if ready.write_all(b"u").is_err() {
        fail("parent went away".into());
    }
    drop(ready);
    let mut go = std::fs::File::from(go_r);
    let mut b = [0u8; 1];
    // EOF without a byte: the parent failed to write the maps (it says why).
    if !matches!(go.read(&mut b), Ok(1)) {
        // SAFETY: leave the forked child without running the parent's destructors.
        unsafe { libc::_exit(125) };
    }
    drop(go);
    if let Err(e) = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)) {
        fail(format!("setresgid 0: {e}"));
    }
    if !single {
        // The host's supplementary groups mean nothing in here.
        let _ = nix::unistd::setgroups(&[]);
    }
    if let Err(e) = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)) {
        fail(format!("setresuid 0: {e}"));
    }
    // Before anything is mounted: keep our mounts from reaching the host.
    if let Err(e) = nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    ) {
        fail(format!("making mounts private: {e}"));
    }
    // SAFETY: still single-threaded.
    unsafe { std::env::set_var(IN_USERNS_ENV, "1") };
    Ok(())
}

fn parent_map(
    child: Pid,
    ready_r: OwnedFd,
    go_w: &OwnedFd,
    maps: &IdMaps,
    helpers: Option<(std::path::PathBuf, std::path::PathBuf)>,
) -> Result<()> {
    let mut ready = std::fs::File::from(ready_r);
    let mut b = [0u8; 1];
    if !matches!(ready.read(&mut b), Ok(1)) {
        let _ = waitpid(child, None);
        bail!("the namespace child failed before its id maps could be written");
    }
    write_maps_with(child.as_raw(), maps, helpers)?;
    nix::unistd::write(go_w, b"g").context("releasing the namespace child")?;
    Ok(())
}

/// Write the id maps of process `pid` (just created in a new user namespace):
/// through newuidmap/newgidmap for subordinate ranges, directly for one id.
pub fn write_id_maps(pid: i32, maps: &IdMaps) -> Result<()> {
    let helpers = if maps.is_single() {
        None
    } else {
        Some((find_helper("newuidmap")?, find_helper("newgidmap")?))
    };
    write_maps_with(pid, maps, helpers)
}

fn write_maps_with(
    pid: i32,
    maps: &IdMaps,
    helpers: Option<(std::path::PathBuf, std::path::PathBuf)>,
) -> Result<()> {
    match helpers {
        // Root may write any map itself (and keeps setgroups).
        _ if !is_rootless() && !in_user_namespace() => {
            let write = |file: &str, text: String| {
                fs::write(format!("/proc/{pid}/{file}"), text)
                    .with_context(|| format!("writing /proc/{pid}/{file}"))
            };
            write("uid_map", map_text(&maps.uids))?;
            write("gid_map", map_text(&maps.gids))?;
        }
        None => {
            // One id: we may write our own maps, setgroups denied first.
            let write = |file: &str, text: String| {
                fs::write(format!("/proc/{pid}/{file}"), text)
                    .with_context(|| format!("writing /proc/{pid}/{file}"))
            };
            write("setgroups", "deny".into())?;
            write("uid_map", map_text(&maps.uids))?;
            write("gid_map", map_text(&maps.gids))?;
        }
        Some((uidmap, gidmap)) => {
            // Both helpers at once: each is a setuid exec of its own.
            let u = spawn_map_helper("newuidmap", &uidmap, pid, &maps.uids)?;
            let g = spawn_map_helper("newgidmap", &gidmap, pid, &maps.gids);
            let u_done = wait_map_helper(u);
            let g_done = wait_map_helper(g?);
            u_done?;
            g_done?;
        }
    }
    Ok(())
}

/// newuidmap or newgidmap at work: its pid and the read end of its stderr.
struct MapHelper {
    name: &'static str,
    pid: i32,
    stderr: i32,
}

/// Start newuidmap or newgidmap (`name`) for `pid`. By fork and exec, not
/// posix_spawn: that waits for the exec, and on a busy machine the new
/// setuid program then often runs to its end before its parent resumes,
/// so the second helper would start only after the first had finished.
fn spawn_map_helper(
    name: &'static str,
    prog: &std::path::Path,
    pid: i32,
    map: &[IdMapping],
) -> Result<MapHelper> {
    use std::ffi::CString;
    let mut args = vec![super::sys::cstr(prog)?, CString::new(pid.to_string())?];
    for m in map {
        for n in [m.container_id, m.host_id, m.size] {
            args.push(CString::new(n.to_string())?);
        }
    }
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let (err_r, err_w) = super::sys::pipe()?;
    // SAFETY: the child only makes async-signal-safe calls (open, dup2,
    // sigprocmask, signal, execv, _exit) on memory prepared before fork.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: as above.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(err_w, 2);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::execv(argv[0], argv.as_ptr());
            libc::_exit(127)
        }
    }
    super::sys::close(err_w);
    if child < 0 {
        super::sys::close(err_r);
        bail!("running {}: {}", prog.display(), super::sys::errno());
    }
    Ok(MapHelper {
        name,
        pid: child,
        stderr: err_r,
    })
}

fn wait_map_helper(h: MapHelper) -> Result<()> {
    let err = super::sys::read_to_end(h.stderr).unwrap_or_default();
    super::sys::close(h.stderr);
    let mut status = 0;
    // SAFETY: reap our own child.
    while unsafe { libc::waitpid(h.pid, &mut status, 0) } < 0 {
        if super::sys::errno().raw_os_error() != Some(libc::EINTR) {
            bail!("waiting for {}: {}", h.name, super::sys::errno());
        }
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let how = if libc::WIFEXITED(status) {
            format!("exit status: {}", libc::WEXITSTATUS(status))
        } else {
            format!("signal: {}", libc::WTERMSIG(status))
        };
        bail!(
            "{} failed ({how}): {}",
            h.name,
            String::from_utf8_lossy(&err).trim()
        );
    }
    Ok(())
}

/// This process moved into a user namespace that maps the store's ids as
/// ours does (the rootless network namespace's): store work needs no other.
pub fn mark_inside() {
    // SAFETY: called while single-threaded (the monitor before its clone).
    unsafe { std::env::set_var(IN_USERNS_ENV, "1") };
}

/// Is this process inside a user namespace that coracle set up?
pub fn in_user_namespace() -> bool {
    already_inside()
}

/// Rootless stores hold files owned by subordinate ids: work on them from
/// inside the user namespace (the whole process moves in). Root: no-op.
pub fn enter_for_storage(store: &crate::storage::store::Store) -> Result<()> {
    if !store.rootless {
        return Ok(());
    }
    enter_user_namespace(&IdMaps::for_current_user()?)
}

/// Run `f` in a child process inside the user namespace while this process
/// stays outside; `f`'s bytes come back, its error as one message. Must be
/// called while single-threaded.
pub fn run_in_child_userns<F: FnOnce() -> Result<Vec<u8>>>(maps: &IdMaps, f: F) -> Result<Vec<u8>> {
    let (r, w) = nix::unistd::pipe().context("creating a pipe")?;
    // SAFETY: single-threaded (enter_user_namespace checks again in the child).
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            drop(r);
            let mut out = std::fs::File::from(w);
            let result = enter_user_namespace(maps).and_then(|_| f());
            let (code, msg) = match result {
                Ok(bytes) => (0, [b"ok ".as_slice(), &bytes].concat()),
                Err(e) => (125, format!("err {e:#}").into_bytes()),
            };
            let _ = out.write_all(&msg);
            drop(out);
            // SAFETY: leave without running the parent's destructors twice.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut data = Vec::new();
            let _ = std::fs::File::from(r).read_to_end(&mut data);
            let _ = waitpid(child, None);
            if let Some(rest) = data.strip_prefix(b"ok ") {
                return Ok(rest.to_vec());
            }
            if let Some(rest) = data.strip_prefix(b"err ") {
                bail!("{}", String::from_utf8_lossy(rest));
            }
            bail!("the user namespace helper process failed")
        }
    }
}

fn map_text(map: &[IdMapping]) -> String {
    map.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

fn parent_wait(child: Pid) -> ! {
    CHILD_PID.store(child.as_raw(), Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing a handler that only calls async-signal-safe functions.
        unsafe { libc::signal(sig, forward_signal as *const () as libc::sighandler_t) };
    }
    let code = loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("Error: waiting for the namespace child: {e}");
                break 125;
            }
        }
    };
    // _exit: buffered output belongs to the child now; don't print it twice.
    // SAFETY: leave the forked child without running the parent's destructors.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBUID: &str = "\
# comment
alice:100000:65536
bob:200000:1000
1001:300000:10
alice:500000:5
carol:1:0
";

    #[test]
    fn ranges_by_name_and_uid_concatenate() {
        let r = subordinate_ranges(SUBUID, Some("alice"), 1000);
        assert_eq!(r, [(100000, 65536), (500000, 5)]);
        let r = subordinate_ranges(SUBUID, Some("bob"), 1001);
        assert_eq!(r, [(200000, 1000), (300000, 10)]);
        assert!(subordinate_ranges(SUBUID, Some("carol"), 7).is_empty());
        assert!(subordinate_ranges(SUBUID, None, 42).is_empty());
    }

    #[test]
    fn map_layout_and_lookup() {
        let maps = IdMaps {
            uids: build_map(1000, &[(100000, 65536), (500000, 5)]),
            gids: build_map(1000, &[(100000, 65536)]),
        };
        assert_eq!(
            maps.uids,
            [
                IdMapping {
                    container_id: 0,
                    host_id: 1000,
                    size: 1
                },
                IdMapping {
                    container_id: 1,
                    host_id: 100000,
                    size: 65536
                },
                IdMapping {
                    container_id: 65537,
                    host_id: 500000,
                    size: 5
                },
            ]
        );
        assert_eq!(maps.host_uid(0), Some(1000));
        assert_eq!(maps.host_uid(1), Some(100000));
        assert_eq!(maps.host_uid(1000), Some(100999));
        assert_eq!(maps.host_uid(65537), Some(500000));
        assert_eq!(maps.host_uid(65542), None);
        assert_eq!(maps.host_gid(65536), Some(165535));
        assert!(!maps.is_single());
        let single = IdMaps {
            uids: build_map(1000, &[]),
            gids: build_map(1000, &[]),
        };
        assert!(single.is_single());
        assert_eq!(single.host_uid(1), None);
        assert_eq!(map_text(&single.uids), "0 1000 1\n");
    }

    #[test]
    fn keep_id_puts_own_ids_in_place() {
        let maps = IdMaps {
            uids: build_map(1000, &[(100000, 65536)]),
            gids: build_map(1000, &[(100000, 65536)]),
        };
        let k = maps.keep_id(1000, 1000).unwrap();
        assert_eq!(k.host_uid(1000), Some(1000));
        assert_eq!(k.host_uid(0), Some(100000));
        assert_eq!(k.host_uid(999), Some(100999));
        assert_eq!(k.host_uid(1001), Some(101000));
        assert_eq!(k.host_uid(65536), Some(165535));
        assert_eq!(k.host_uid(65537), None);
    }

    #[test]
    fn identity_maps_everything() {
        let id = IdMaps::identity();
        assert_eq!(id.host_uid(0), Some(0));
        assert_eq!(id.host_gid(4_000_000_000), Some(4_000_000_000));
        assert!(!id.is_single());
    }
}
