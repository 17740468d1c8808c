//! The container lifecycle the verbs build on: create (records, generated
//! files, the runtime spec), start (a monitor), signals, stop, state that
//! never lies, and removal.

use super::prepared::remember_created;
use super::report::Report;
use super::spec::{self, SpecInput};
pub use super::state::wait_stopped;
use super::state::{current_state, is_restarting, is_running};
use super::sys;
use super::user::{self, ResolvedUser};
use super::userns::IdMaps;
use crate::error::CodedError;
use crate::storage::containers::{ContainerConfig, ContainerState};
use crate::storage::images::ImageRecord;
use crate::storage::modes::UsernsMode;
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Read a file as the container would see it at start: the container's own
/// changes first, then the image layers from the top; a whiteout hides it.
pub fn read_image_file(store: &Store, cfg: &ContainerConfig, rel: &str) -> Option<String> {
    let mut dirs: Vec<PathBuf> = vec![store.containers.dir(&cfg.id).join("upper")];
    let layers = store.container_layers(cfg);
    dirs.extend(cfg.layers.iter().rev().map(|d| layers.diff_dir(d)));
    for dir in dirs {
        let path = dir.join(rel);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => return fs::read_to_string(&path).ok(),
            Ok(m) => {
                use std::os::unix::fs::FileTypeExt;
                if m.file_type().is_char_device() {
                    return None; // whited out
                }
            }
            Err(_) => {}
        }
    }
    // `--rootfs`: the user's directory, its links followed inside it as
    // the container would (never out to the host's files).
    let root = PathBuf::from(&cfg.launch.rootfs.as_ref()?.path);
    let path = super::rootfs::secure_join(&root, Path::new(rel));
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => fs::read_to_string(&path).ok(),
        _ => None,
    }
}

/// `--user`/`--hostuser` entries the image lacks: its passwd and group
/// with them, in the userdata (bound over /etc by the spec).
fn write_passwd_files(store: &Store, cfg: &ContainerConfig) -> Result<()> {
    let passwd = read_image_file(store, cfg, "etc/passwd").unwrap_or_default();
    let group = read_image_file(store, cfg, "etc/group").unwrap_or_default();
    let host = if cfg.tuning.host_users.is_empty() {
        String::new()
    } else {
        fs::read_to_string("/etc/passwd").context("reading the host's /etc/passwd")?
    };
    let (users, groups) = super::passwd::additions(cfg, &passwd, &group, &host)?;
    let ud = store.containers.dir(&cfg.id).join("userdata");
    let with = |base: &str, add: &str| {
        let mut t = base.to_string();
        if !t.is_empty() && !t.ends_with('\n') {
            t.push('\n');
        }
        t + add
    };
    if !users.is_empty() {
        fs::write(ud.join("passwd"), with(&passwd, &users))?;
    }
    if !groups.is_empty() {
        fs::write(ud.join("group"), with(&group, &groups))?;
    }
    Ok(())
}

pub fn resolve_user(store: &Store, cfg: &ContainerConfig) -> Result<ResolvedUser> {
    // The files the container sees: with added entries, the generated ones.
    let ud = store.containers.dir(&cfg.id).join("userdata");
    let passwd = fs::read_to_string(ud.join("passwd"))
        .ok()
        .or_else(|| read_image_file(store, cfg, "etc/passwd"))
        .unwrap_or_default();
    let group = fs::read_to_string(ud.join("group"))
        .ok()
        .or_else(|| read_image_file(store, cfg, "etc/group"))
        .unwrap_or_default();
    user::resolve(&cfg.user, &passwd, &group)
        .and_then(|mut u| {
            user::add_groups(&mut u, &cfg.tuning.group_add, &group)?;
            Ok(u)
        })
        .map_err(|e| {
            CodedError {
                code: 126,
                message: format!("{e:#}"),
            }
            .into()
        })
}

fn write_generated_files(store: &Store, cfg: &ContainerConfig, image_id: &str) -> Result<()> {
    let ud = store.containers.dir(&cfg.id).join("userdata");
    let net = &cfg.network;
    let own = super::name_files::hosts_file(net, &cfg.hostname, &cfg.name, &cfg.add_hosts)?;
    let base = match cfg.hosts_file.as_deref() {
        None | Some("none") => None,
        Some("image") => read_image_file(store, cfg, "etc/hosts"),
        Some(path) => {
            Some(fs::read_to_string(path).with_context(|| format!("reading --hosts-file {path}"))?)
        }
    };
    fs::write(
        ud.join("hosts"),
        super::name_files::on_base(base.as_deref(), &own),
    )?;
    fs::write(ud.join("hostname"), format!("{}\n", cfg.hostname))?;
    fs::write(
        ud.join("resolv.conf"),
        super::name_files::resolv_conf(net, &cfg.dns, &cfg.dns_search, &cfg.dns_options)?,
    )?;
    let env = format!(
        "engine=\"coracle-{}\"\nname=\"{}\"\nid=\"{}\"\nimage=\"{}\"\nimageid=\"{}\"\nrootless={}\n",
        env!("CARGO_PKG_VERSION"),
        cfg.name,
        cfg.id,
        cfg.image_name,
        image_id,
        u8::from(store.rootless)
    );
    fs::write(ud.join(".containerenv"), env)?;
    // A container in another's network namespace shares its name files.
    super::name_files::share_name_files(store, cfg)
}

/// Fill the container's upper dir with a full copy of its image (the vfs
/// driver, or keep-id's shifted ids). Rootless, the copy runs in the user
/// namespace with the standard maps, so each file is chowned to the id that
/// shows as its original owner under the container's own maps.
fn copy_rootfs(store: &Store, cfg: &ContainerConfig, base: &IdMaps, maps: &IdMaps) -> Result<()> {
    let layer_store = store.container_layers(cfg);
    let layers: Vec<PathBuf> = cfg.layers.iter().map(|d| layer_store.diff_dir(d)).collect();
    let dest = store.containers.dir(&cfg.id).join("upper");
    let prefix = store.xattr_prefix();
    let shift = |uid: u32, gid: u32| -> (u32, u32) {
        let u = maps
            .host_uid(uid)
            .and_then(|h| base.container_uid(h))
            .unwrap_or(uid);
        let g = maps
            .host_gid(gid)
            .and_then(|h| base.container_gid(h))
            .unwrap_or(gid);
        (u, g)
    };
    let copy = || crate::storage::vfs::materialize(&layers, &dest, prefix, &shift);
    if store.rootless && !super::userns::in_user_namespace() {
        super::userns::run_in_child_userns(base, || copy().map(|_| Vec::new()))?;
        Ok(())
    } else {
        copy()
    }
}

/// Where a container's rootfs is mounted before pivot_root. One directory
/// serves every container: each mounts there in its own private mount
/// namespace, unseen by the host and by each other, and a start then makes
/// and removes no directory (costly where freeing a block means a discard).
pub fn rootfs_mountpoint(store: &Store) -> PathBuf {
    store.runroot.join("rootfs")
}

/// Write a new container's records, generated files and runtime spec.
/// `cfg.name` empty means "generate one". Names are unique store-wide.
pub fn create(store: &Store, cfg: ContainerConfig, image: &ImageRecord) -> Result<ContainerConfig> {
    create_from(store, cfg, Some(image))
}

/// Create a container without an image: a pod's infra, whose process
/// never leaves the monitor's code (its root is an empty tmpfs).
pub fn create_imageless(store: &Store, cfg: ContainerConfig) -> Result<ContainerConfig> {
    create_from(store, cfg, None)
}

fn create_from(
    store: &Store,
    mut cfg: ContainerConfig,
    image: Option<&ImageRecord>,
) -> Result<ContainerConfig> {
    cfg.id = crate::storage::containers::new_id();
    if cfg.hostname.is_empty() {
        cfg.hostname = cfg.id[..12].to_string();
    }
    if let Some(image) = image {
        cfg.layers = image.layers.clone();
        cfg.image_id = image.id.clone();
    }
    cfg.created = crate::format::human::now_rfc3339();
    // `--userns=auto`: the size from the image before the lock, the
    // range under it (no other create chooses at the same time).
    let auto = match &cfg.userns {
        UsernsMode::Auto(opts) if cfg.launch.id_mappings.is_none() => {
            Some(super::auto_userns::plan(store, opts, &cfg.layers)?)
        }
        _ => None,
    };
    let _lock = store.lock()?;
    // Its layers are the image store's of this invocation, which learns
    // (before anything is claimed) that this graph root uses it.
    cfg.image_store = store.image_store.clone();
    store.register_image_store_user()?;
    if let Some(plan) = &auto {
        cfg.launch.id_mappings = Some(super::auto_userns::allocate(store, plan)?);
    }
    if cfg.name.is_empty() {
        cfg.name =
            crate::storage::names::claim_generated(|n| store.containers.claim_name(n, &cfg.id))?;
    } else {
        if !crate::storage::names::is_valid(&cfg.name) {
            bail!(
                "container name {:?} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                cfg.name
            );
        }
        if !store.containers.claim_name(&cfg.name, &cfg.id)? {
            bail!(
                "creating container storage: the container name \"{}\" is already in use by another container. You have to remove that container to be able to reuse that name: that name is already in use",
                cfg.name
            );
        }
    }
    cfg.log_path = if cfg.tuning.log_path.is_empty() {
        store
            .containers
            .dir(&cfg.id)
            .join("userdata/ctr.log")
            .to_string_lossy()
            .into_owned()
    } else {
        cfg.tuning.log_path.clone()
    };
    let made_volumes = match super::volume::claim(store, &mut cfg) {
        Ok(v) => v,
        Err(e) => {
            store.containers.release_name(&cfg.name, &cfg.id);
            return Err(e);
        }
    };
    let _creating = match store.containers.create(&cfg) {
        Ok(creating) => creating,
        Err(e) => {
            store.containers.release_name(&cfg.name, &cfg.id);
            super::volume::unclaim(store, &made_volumes);
            return Err(e);
        }
    };
    let result = (|| -> Result<()> {
        write_generated_files(store, &cfg, &cfg.image_id)?;
        write_passwd_files(store, &cfg)?;
        let base = if store.rootless {
            IdMaps::for_current_user()?
        } else {
            IdMaps::identity()
        };
        let maps = if let UsernsMode::KeepId { uid, gid } = cfg.userns {
            // SAFETY: getuid/getgid cannot fail.
            let (own_uid, own_gid) = unsafe { (libc::getuid(), libc::getgid()) };
            base.keep_id(uid.unwrap_or(own_uid), gid.unwrap_or(own_gid))?
        } else if let Some(wanted) = &cfg.launch.id_mappings {
            super::idmap::host_maps(wanted, &base)?
        } else {
            base.clone()
        };
        if image.is_some() && super::monitor::uses_copied_rootfs(store, &cfg) {
            copy_rootfs(store, &cfg, &base, &maps)?;
        }
        let user = resolve_user(store, &cfg)?;
        let mut spec = spec::build(&SpecInput {
            cfg: &super::volume::resolve_for_spec(store, &cfg)?,
            user: &user,
            rootless: super::monitor::own_user_namespace(store, &cfg),
            id_maps: &maps,
            rootfs: rootfs_mountpoint(store),
            userdata: store.containers.dir(&cfg.id).join("userdata"),
        })?;
        super::secrets::mount(store, &cfg, &base, &maps, &mut spec)?;
        super::launch::apply(&cfg, &mut spec)?;
        spec::save(&spec, &store.containers.dir(&cfg.id).join("spec.json"))?;
        remember_created(&cfg, spec);
        Ok(())
    })();
    if let Err(e) = result {
        let _ = store.containers.remove(&cfg.id);
        super::volume::unclaim(store, &made_volumes);
        return Err(e);
    }
    Ok(cfg)
}

pub use super::attach::Started;
pub use super::signals::{parse_signal, stop_signal_number};

/// Start a created or exited container through a new monitor. With `attach`
/// the monitor relays to our stdio and exits with the program's code.
pub fn start(store: &Store, id: &str, attach: bool) -> Result<Started> {
    begin_start(store, id, attach)?.finish()
}

/// A monitor forked whose report is still to come: several containers
/// start in parallel when their monitors are all forked before any report
/// is awaited (compose starts a dependency level at once).
pub struct StartPending {
    child: i32,
    ready_r: std::os::fd::OwnedFd,
    _starting: crate::storage::lock::RecordLock,
}

/// Fork container `id`'s monitor; [`StartPending::finish`] waits for it.
pub fn begin_start(store: &Store, id: &str, attach: bool) -> Result<StartPending> {
    super::sealed_exe::require()?;
    // Held until the start is reported; the monitor (a fork) does not
    // inherit it. A removal that came first leaves nothing to start.
    let _starting = store.containers.lock(id)?;
    if !store.containers.exists(id) {
        bail!("no container with name or ID \"{id}\" found: no such container");
    }
    let state = current_state(store, id)?;
    if is_running(&state) {
        bail!("container {id} is already running");
    }
    if is_restarting(&state) {
        bail!("container {id} is restarting: its monitor starts it again shortly");
    }
    // The monitor mounts the root filesystem in the container's own mount
    // namespace; the host's mount `init` made is no longer its to hold.
    super::initialize::release(store, id);
    let mountpoint = rootfs_mountpoint(store);
    fs::create_dir_all(&mountpoint)
        .with_context(|| format!("creating {}", mountpoint.display()))?;
    let (ready_r, ready_w) = sys::owned_pipe()?;
    // The monitor is a fork of this process, not a new exec: it saves a
    // program load on every start. The CLI is single-threaded here.
    // SAFETY: fork in a single-threaded process; the child only runs the
    // monitor and leaves with _exit.
    let child = unsafe { libc::fork() };
    if child < 0 {
        bail!("starting the container monitor: {}", sys::errno());
    }
    if child == 0 {
        drop(ready_r);
        if !attach {
            sys::detach_from_caller();
        }
        // SAFETY: naming our own process.
        unsafe { libc::prctl(libc::PR_SET_NAME, c"coracle-monitor".as_ptr()) };
        let code = super::monitor::run(store, id, attach, ready_w);
        // SAFETY: leave without the CLI's destructors or buffered output.
        unsafe { libc::_exit(code) }
    }
    drop(ready_w);
    Ok(StartPending {
        child,
        ready_r,
        _starting,
    })
}

impl StartPending {
    /// The monitor's report: started, or why not (the monitor reaped).
    pub fn finish(self) -> Result<Started> {
        let child = self.child;
        let report = Report::receive(self.ready_r.as_fd());
        drop(self.ready_r);
        finish_report(child, report)
    }
}

fn finish_report(child: i32, report: Result<Option<Report>>) -> Result<Started> {
    let failure = match report {
        Ok(Some(Report::Started { pid })) => {
            return Ok(Started {
                monitor: child,
                pid,
            })
        }
        // A failure keeps its exit code and kind (`error::StartFailed`).
        Ok(Some(failed)) => failed.into_result().err(),
        Ok(None) => None,
        Err(e) => Some(e),
    };
    // SAFETY: reap the monitor that failed.
    unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
    Err(failure
        .unwrap_or_else(|| anyhow!("the container monitor exited before the container started")))
}

/// A user ends a container with a restart policy waiting to start it
/// again: no more restarts, and the monitor is woken to hear it.
fn stop_restarting(store: &Store, id: &str, state: &ContainerState) {
    store.containers.mark_stopped_by_user(id);
    if sys::process_is(state.monitor_pid, state.monitor_start) {
        // SAFETY: the pid was checked to be the container's monitor.
        unsafe { libc::kill(state.monitor_pid, libc::SIGUSR1) };
    }
}

/// Send `sig` to the container's first process.
pub fn kill(store: &Store, id: &str, sig: i32) -> Result<()> {
    let state = current_state(store, id)?;
    if is_restarting(&state) {
        stop_restarting(store, id, &state);
        return Ok(());
    }
    if !is_running(&state) {
        bail!(
            "can only kill running containers. {id} is in state {}: container state improper",
            state.status.as_str()
        );
    }
    if !sys::process_is(state.pid, state.pid_start) {
        bail!("container {id} is not running");
    }
    // The restart policy does not undo a user's kill.
    store.containers.mark_stopped_by_user(id);
    let cfg = store.containers.load_config(id)?;
    if cfg.oci_runtime.is_some() {
        super::oci_runtime::kill(store, &cfg, state.pid, sig)?;
    // SAFETY: the pid was checked to be the container's.
    } else if unsafe { libc::kill(state.pid, sig) } != 0 {
        bail!("sending signal {sig} to container {id}: {}", sys::errno());
    }
    if sig == libc::SIGKILL {
        super::resources::thaw_after_signal(store, id, &state);
    }
    Ok(())
}

/// podman's stop: the stop signal, then SIGKILL after `timeout` seconds.
pub fn stop(store: &Store, id: &str, timeout: u32) -> Result<()> {
    let cfg = store.containers.load_config(id)?;
    let state = current_state(store, id)?;
    if is_restarting(&state) {
        stop_restarting(store, id, &state);
        wait_stopped(store, id, None)?;
        return Ok(());
    }
    if state.status == crate::storage::containers::Status::Initialized {
        return super::initialize::stop(store, id);
    }
    if !is_running(&state) {
        return Ok(());
    }
    store.containers.mark_stopped_by_user(id);
    let sig = if cfg.stop_signal.is_empty() {
        libc::SIGTERM
    } else {
        parse_signal(&cfg.stop_signal)?
    };
    store.containers.mark_stopping(id);
    let result = signal_and_wait(store, id, &cfg, &state, sig, timeout);
    store.containers.clear_stopping(id);
    result
}

/// The stop signal, then SIGKILL after `timeout` seconds.
fn signal_and_wait(
    store: &Store,
    id: &str,
    cfg: &ContainerConfig,
    state: &crate::storage::containers::ContainerState,
    sig: i32,
    timeout: u32,
) -> Result<()> {
    if sys::process_is(state.pid, state.pid_start) {
        if cfg.oci_runtime.is_some() {
            // Through the runtime, as podman does; SIGKILL below regardless.
            if let Err(e) = super::oci_runtime::kill(store, cfg, state.pid, sig) {
                crate::debug!("{e:#}");
            }
        } else {
            // SAFETY: verified pid.
            unsafe { libc::kill(state.pid, sig) };
        }
    }
    super::resources::thaw_after_signal(store, id, state);
    let state = wait_stopped(store, id, Some(Duration::from_secs(timeout as u64)))?;
    if is_running(&state) {
        if timeout > 0 {
            crate::warn!(
                "StopSignal {} failed to stop container {} in {timeout} seconds, resorting to SIGKILL",
                if cfg.stop_signal.is_empty() { "SIGTERM" } else { cfg.stop_signal.as_str() },
                cfg.name
            );
        }
        if sys::process_is(state.pid, state.pid_start) {
            // SAFETY: verified pid.
            unsafe { libc::kill(state.pid, libc::SIGKILL) };
        }
        wait_stopped(store, id, None)?;
    }
    Ok(())
}

/// Write the id to a `--cidfile`, refusing to overwrite one (podman's rule).
pub fn write_cidfile(path: &Path, id: &str) -> Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("opening cidfile {}", path.display()))?;
    f.write_all(id.as_bytes())?;
    Ok(())
}
