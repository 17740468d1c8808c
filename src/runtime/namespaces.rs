//! Namespaces a container enters instead of making its own:
//! `--network/--ipc/--uts/--pid container:X` (another container's, a pod's
//! infra's) and `ns:PATH`. Rootless, every container has its own user
//! namespace, and another container's namespaces belong to its: the new
//! container then lives in that same user namespace.

use super::state::{current_state, is_running};
use super::sys;
use crate::storage::containers::ContainerConfig;
use crate::storage::modes::{NamespaceMode, NetworkMode};
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

/// Where a namespace joined comes from.
enum Source<'a> {
    Container(&'a str),
    Path(&'a str),
}

fn source(mode: &NamespaceMode) -> Option<Source<'_>> {
    match mode {
        NamespaceMode::Container(id) => Some(Source::Container(id)),
        NamespaceMode::Ns(path) => Some(Source::Path(path)),
        NamespaceMode::Private | NamespaceMode::Shareable | NamespaceMode::Host => None,
    }
}

/// The kinds a container may join, with what its config says to join.
fn modes(cfg: &ContainerConfig) -> [(&'static str, libc::c_int, Option<Source<'_>>); 4] {
    let net = match &cfg.network {
        NetworkMode::Container(id) => Some(Source::Container(id)),
        NetworkMode::Ns(path) => Some(Source::Path(path)),
        _ => None,
    };
    [
        ("net", libc::CLONE_NEWNET, net),
        ("ipc", libc::CLONE_NEWIPC, source(&cfg.ipc)),
        ("uts", libc::CLONE_NEWUTS, source(&cfg.uts)),
        ("pid", libc::CLONE_NEWPID, source(&cfg.pid)),
    ]
}

/// The namespaces `cfg` joins instead of making (net, ipc, uts, pid),
/// each with the container it comes from (None: an `ns:PATH`).
pub fn joined(cfg: &ContainerConfig) -> Vec<(&'static str, Option<&str>)> {
    modes(cfg)
        .into_iter()
        .filter_map(|(name, _, source)| match source? {
            Source::Container(id) => Some((name, Some(id))),
            Source::Path(_) => Some((name, None)),
        })
        .collect()
}

pub fn kind_name(kind: libc::c_int) -> &'static str {
    match kind {
        libc::CLONE_NEWNET => "network",
        libc::CLONE_NEWIPC => "ipc",
        libc::CLONE_NEWUTS => "uts",
        libc::CLONE_NEWPID => "pid",
        libc::CLONE_NEWUSER => "user",
        _ => "",
    }
}

/// What to enter, opened before anything is cloned.
#[derive(Default)]
pub struct Joins {
    entries: Vec<(libc::c_int, File)>,
    /// The user namespace that owns them, with who it belongs to.
    userns: Option<(File, String)>,
}

/// Open every namespace `cfg` names. A container whose namespaces are
/// joined must be running.
pub fn joins(store: &Store, cfg: &ContainerConfig) -> Result<Joins> {
    let mut out = Joins::default();
    // A member of a pod with a user namespace of its own joins the infra's.
    if let Some(other) = &cfg.launch.userns_from {
        let state = current_state(store, other)?;
        if !is_running(&state) {
            bail!("the container {other} whose user namespace this one joins is not running");
        }
        let f = File::open(format!("/proc/{}/ns/user", state.pid))
            .with_context(|| format!("opening the user namespace of container {other}"))?;
        out.userns = Some((f, format!("container {other}")));
    }
    for (ns, kind, source) in modes(cfg) {
        let other = match source {
            None => continue,
            Some(Source::Path(path)) => {
                let f = File::open(path)
                    .with_context(|| format!("opening {} namespace {path}", kind_name(kind)))?;
                out.entries.push((kind, f));
                continue;
            }
            Some(Source::Container(other)) => other,
        };
        let state = current_state(store, other)?;
        if !is_running(&state) {
            bail!(
                "the container {other} whose {} namespace this one joins is not running",
                kind_name(kind)
            );
        }
        let open = |name: &str| match File::open(format!("/proc/{}/ns/{name}", state.pid)) {
            // Its process ended; its monitor has yet to record it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "the container {other} whose {} namespace this one joins is not running",
                kind_name(kind)
            ),
            r => r.with_context(|| format!("opening the {name} namespace of container {other}")),
        };
        out.entries.push((kind, open(ns)?));
        if store.rootless {
            let userns = open("user")?;
            match &out.userns {
                Some((have, who)) if !same_file(have, &userns) => bail!(
                    "cannot join namespaces of both {who} and container {other}: they belong to different user namespaces"
                ),
                Some(_) => {}
                None => out.userns = Some((userns, format!("container {other}"))),
            }
        }
    }
    Ok(out)
}

fn same_file(a: &File, b: &File) -> bool {
    match (a.metadata(), b.metadata()) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

impl Joins {
    /// Whether the monitor will enter another container's user namespace.
    pub fn enters_userns(&self) -> bool {
        self.userns.is_some()
    }

    /// In the monitor, before clone: enter the owning user namespace and a
    /// pid namespace to join (both apply to the child cloned next). Returns
    /// the clone flags without the namespaces joined instead of made.
    pub fn enter_before_clone(&self, mut flags: libc::c_int) -> Result<libc::c_int> {
        if let Some((userns, who)) = &self.userns {
            // A restarting monitor is in it already: joining again fails.
            if !already_in_userns(std::os::fd::AsFd::as_fd(userns)) {
                // SAFETY: setns on an fd we opened; the monitor is single-threaded.
                if unsafe { libc::setns(userns.as_raw_fd(), libc::CLONE_NEWUSER) } != 0 {
                    bail!("joining the user namespace of {who}: {}", sys::errno());
                }
            }
            // Gaining capabilities in a user namespace made us (and the
            // child to come) undumpable, which would keep the network
            // helper out of the child's namespaces. Nothing secret is here
            // yet, and the program's exec decides dumpability anew.
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1) };
            flags &= !libc::CLONE_NEWUSER;
        }
        for (kind, f) in &self.entries {
            flags &= !kind;
            if *kind == libc::CLONE_NEWPID {
                // SAFETY: as above; only our next child enters it.
                if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
                    bail!("joining the pid namespace: {}", sys::errno());
                }
            }
        }
        Ok(flags)
    }

    /// For the child, after `enter_before_clone`: the namespaces it enters
    /// itself, owned, with their kinds. The monitor's own (user, pid) are
    /// let go: it is in them already.
    pub fn into_child_fds(self) -> Vec<(std::os::fd::OwnedFd, libc::c_int)> {
        self.entries
            .into_iter()
            .filter(|(kind, _)| *kind != libc::CLONE_NEWPID)
            .map(|(kind, f)| (f.into(), kind))
            .collect()
    }
}

/// Is this process a member of the user namespace `ns` already?
fn already_in_userns(ns: std::os::fd::BorrowedFd) -> bool {
    let ours = std::fs::metadata("/proc/self/ns/user").map(|m| (m.dev(), m.ino()));
    let theirs = nix::sys::stat::fstat(ns);
    match (ours, theirs) {
        (Ok((dev, ino)), Ok(st)) => dev == st.st_dev && ino == st.st_ino,
        _ => false,
    }
}

/// The host's hostname (`--uts host`).
pub fn host_hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}
