//! `container checkpoint` and `container restore`: the policies (root
//! only, which states, what is kept), the export archive in podman's
//! layout, and `--import` as a new container. criu itself is driven by
//! `runtime/checkpoint.rs`; a restore is a start whose monitor restores.

use crate::runtime::checkpoint::{self as ckpt, CriuStats};
pub use crate::runtime::checkpoint::{DumpOptions, RestoreOptions};
use crate::runtime::state::{current_state, is_running};
use crate::storage::containers::{ContainerConfig, MountKind, Status};
use crate::storage::events;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    None,
    Gzip,
    #[default]
    Zstd,
}

impl std::str::FromStr for Compression {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            _ => bail!("selected compression algorithm ({s:?}) not supported. Please select one from: gzip, none, zstd"),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct CheckpointRequest {
    pub dump: DumpOptions,
    pub keep: bool,
    pub export: Option<PathBuf>,
    pub compression: Compression,
    pub ignore_rootfs: bool,
    pub ignore_volumes: bool,
    pub print_stats: bool,
    /// `--create-image`: the checkpoint as an image of that name.
    pub create_image: Option<String>,
}

/// podman's annotation naming the checkpointed container in a checkpoint
/// image (`--create-image`); restore knows such an image by it.
const CHECKPOINT_NAME: &str = "io.podman.annotations.checkpoint.name";

#[derive(Debug, Default, Clone)]
pub struct RestoreRequest {
    pub criu: RestoreOptions,
    pub keep: bool,
    pub print_stats: bool,
    pub import: Option<PathBuf>,
    pub name: Option<String>,
    pub ignore_rootfs: bool,
    pub ignore_volumes: bool,
    pub ignore_static_ip: bool,
    pub ignore_static_mac: bool,
    /// `--publish`: replaces the imported container's published ports.
    pub publish: Vec<String>,
    /// `--pod`: the pod an imported pod member is restored into.
    pub pod: Option<String>,
}

/// One container's result: podman's `--print-stats` entry.
#[derive(Debug)]
pub struct Report {
    pub id: String,
    /// Microseconds criu took.
    pub runtime_duration: i64,
    pub stats: Option<CriuStats>,
}

fn require_root(store: &Store, verb: &str) -> Result<()> {
    if store.rootless {
        bail!("{verb} a container requires root");
    }
    Ok(())
}

/// Checkpoint running container `id`.
pub fn checkpoint(store: &Store, id: &str, req: &CheckpointRequest) -> Result<Report> {
    require_root(store, "checkpointing")?;
    ckpt::criu()?;
    let _starting = store.containers.lock(id)?;
    let cfg = store.containers.load_config(id)?;
    let state = current_state(store, id)?;
    if !is_running(&state) || state.status == Status::Paused {
        bail!(
            "{:?} is not running, cannot checkpoint: container state improper",
            state.status.as_str()
        );
    }
    if cfg.auto_remove && req.export.is_none() {
        bail!("cannot checkpoint containers that have been started with '--rm' unless '--export' is used");
    }
    let dir = store.containers.dir(id);
    let spec = crate::runtime::spec::load(&dir.join("spec.json"))?;
    ckpt::check_dumpable(store, &cfg, &spec)?;
    let mark = ckpt::checkpointing_mark(store, id);
    if !req.dump.leave_running {
        crate::storage::atomic::write_file(&mark, b"", false)?;
    }
    let began = Instant::now();
    if let Err(e) = ckpt::dump(store, &cfg, &spec, state.pid, &req.dump) {
        let _ = std::fs::remove_file(&mark);
        let _ = std::fs::remove_dir_all(ckpt::images_dir(store, id));
        return Err(e);
    }
    let runtime_duration = began.elapsed().as_micros() as i64;
    // The processes are stopped (unless left running): the archive is
    // written before they go, so a `--rm` container's files are still there.
    let exported = match (&req.export, &req.create_image) {
        (Some(target), _) => export(store, &cfg, target, req),
        (None, Some(name)) => create_image(store, &cfg, name, req),
        (None, None) => Ok(()),
    };
    if let Err(e) = exported {
        // Nothing changes but the images: the container goes on.
        if !req.dump.leave_running {
            let _ = std::fs::remove_file(&mark);
            resume_stopped(state.pid);
        }
        let _ = std::fs::remove_dir_all(ckpt::images_dir(store, id));
        return Err(e);
    }
    if !req.dump.leave_running {
        // SAFETY: the pid was the container's running first process; criu
        // left its tree stopped, so it is still that process.
        unsafe { libc::kill(state.pid, libc::SIGKILL) };
        crate::runtime::container::wait_stopped(
            store,
            id,
            Some(std::time::Duration::from_secs(30)),
        )?;
    }
    let stats = if req.print_stats {
        Some(ckpt::read_stats(
            &ckpt::images_dir(store, id).join("stats-dump"),
        )?)
    } else {
        None
    };
    if !req.keep {
        let _ = std::fs::remove_file(ckpt::dump_log(store, id));
        let _ = std::fs::remove_file(ckpt::images_dir(store, id).join("stats-dump"));
    }
    if store.containers.exists(id) {
        events::container(store, "checkpoint", &cfg);
    }
    Ok(Report {
        id: id.to_string(),
        runtime_duration,
        stats,
    })
}

/// podman's archive: `checkpoint/` (criu's images), `config.dump`,
/// `spec.dump`, unless `--ignore-rootfs` `rootfs-diff.tar` (the
/// container's own layer) and unless `--ignore-volumes`
/// `volumes/NAME.tar` for each of its local volumes.
fn export(
    store: &Store,
    cfg: &ContainerConfig,
    target: &Path,
    req: &CheckpointRequest,
) -> Result<()> {
    let dir = store.containers.dir(&cfg.id);
    let file = std::fs::File::create(target)
        .with_context(|| format!("creating checkpoint archive {}", target.display()))?;
    let out: Box<dyn Write> = match req.compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::default(),
        )),
        Compression::Zstd => Box::new(zstd::stream::write::Encoder::new(file, 3)?.auto_finish()),
    };
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    tar.append_dir_all("checkpoint", ckpt::images_dir(store, &cfg.id))?;
    tar.append_path_with_name(dir.join("config.json"), "config.dump")?;
    tar.append_path_with_name(dir.join("spec.json"), "spec.dump")?;
    if !req.ignore_rootfs {
        let mut diff = tar::Builder::new(Vec::new());
        diff.follow_symlinks(false);
        diff.append_dir_all(".", dir.join("upper"))?;
        let bytes = diff.into_inner()?;
        let mut h = data_header(bytes.len());
        tar.append_data(&mut h, "rootfs-diff.tar", bytes.as_slice())?;
    }
    if !req.ignore_volumes {
        for m in cfg.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            let local = store
                .volumes
                .load(&m.source)?
                .is_some_and(|v| matches!(v.driver.as_str(), "" | "local"));
            if !local {
                continue;
            }
            let mut vol = tar::Builder::new(Vec::new());
            vol.follow_symlinks(false);
            vol.append_dir_all(".", store.volumes.data_dir(&m.source))?;
            let bytes = vol.into_inner()?;
            let mut h = data_header(bytes.len());
            tar.append_data(
                &mut h,
                format!("volumes/{}.tar", m.source),
                bytes.as_slice(),
            )?;
        }
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

/// Was container `id` ended by a checkpoint it can be restored from?
pub fn is_checkpointed(store: &Store, id: &str) -> bool {
    current_state(store, id).is_ok_and(|s| s.checkpointed && !is_running(&s))
        && ckpt::has_checkpoint(store, id)
}

/// `--create-image`: the export's files as the one layer of an image,
/// with podman's checkpoint annotations.
fn create_image(
    store: &Store,
    cfg: &ContainerConfig,
    name: &str,
    req: &CheckpointRequest,
) -> Result<()> {
    let tmp = crate::storage::leftovers::temp_name(&store.root.join("tmp"), "checkpoint-image-");
    let plain = CheckpointRequest {
        compression: Compression::None,
        ..req.clone()
    };
    let result = (|| {
        export(store, cfg, &tmp, &plain)?;
        let mut opts = crate::storage::commit::CommitOptions {
            names: vec![super::images::local_name(name)?],
            ..Default::default()
        };
        let a = &mut opts.annotations;
        a.insert(CHECKPOINT_NAME.into(), cfg.name.clone());
        a.insert(
            "io.podman.annotations.checkpoint.rawImageName".into(),
            cfg.image_name.clone(),
        );
        a.insert(
            "io.podman.annotations.checkpoint.rootfsImageID".into(),
            cfg.image_id.clone(),
        );
        a.insert(
            "io.podman.annotations.checkpoint.rootfsImageName".into(),
            cfg.image_name.clone(),
        );
        a.insert(
            "io.podman.annotations.checkpoint.runtime.name".into(),
            "coracle".into(),
        );
        super::commit::import(
            store,
            &super::commit::ImportSource::File(tmp.clone()),
            opts,
            Some(name),
            &super::commit::ImportPlatform::default(),
        )
        .with_context(|| format!("creating checkpoint image {name}"))?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// The checkpoint image `input` names, if it names one (an image with
/// podman's checkpoint annotation): its record and the container's name.
pub fn checkpoint_image(
    store: &Store,
    input: &str,
) -> Result<Option<(crate::storage::images::ImageRecord, String)>> {
    let mut images = store.images.load()?;
    let Some(rec) = super::images::try_found(store, &mut images, input)
        .ok()
        .flatten()
    else {
        return Ok(None);
    };
    let name = store
        .blobs
        .read(&rec.manifest_digest)
        .ok()
        .and_then(|m| serde_json::from_slice::<serde_json::Value>(&m).ok())
        .and_then(|m| {
            m["annotations"][CHECKPOINT_NAME]
                .as_str()
                .map(str::to_string)
        });
    Ok(name.map(|n| (rec, n)))
}

/// `restore IMAGE`: a new container from a checkpoint image, as
/// `--import` makes one from an archive.
pub fn restore_image(store: &Store, input: &str, req: &RestoreRequest) -> Result<Report> {
    require_root(store, "restoring")?;
    ckpt::criu()?;
    let (rec, original) = checkpoint_image(store, input)?
        .with_context(|| format!("{input} is no checkpoint image"))?;
    let layer = rec
        .layers
        .first()
        .context("a checkpoint image without a layer")?;
    let scratch =
        crate::storage::leftovers::temp_name(&store.records_root.join("tmp"), "checkpoint-import-");
    std::fs::create_dir_all(&scratch)?;
    let result = (|| {
        // The layer is unpacked in the store already: copy it through tar.
        let mut t = tar::Builder::new(Vec::new());
        t.follow_symlinks(false);
        t.append_dir_all(".", store.layers.diff_dir(layer))?;
        let bytes = t.into_inner()?;
        tar::Archive::new(bytes.as_slice()).unpack(&scratch)?;
        import_unpacked(store, &scratch, input, &original, req)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// A tar header for a file of `len` bytes made in memory (owned by root,
/// timestamped now).
fn data_header(len: usize) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(len as u64);
    h.set_mode(0o600);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    h.set_cksum();
    h
}

/// Let the tree criu left stopped go on: every process of the pid
/// namespace of `pid` gets SIGCONT.
fn resume_stopped(pid: i32) {
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let Some(theirs) = ns(&pid.to_string()) else {
        return;
    };
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Ok(p) = name.parse::<i32>() {
            if ns(&name).as_ref() == Some(&theirs) {
                // SAFETY: a signal to a process of the container's namespace.
                unsafe { libc::kill(p, libc::SIGCONT) };
            }
        }
    }
}

/// `restore --pod`: an imported member of some pod goes into `pod`, whose
/// infra's namespaces replace the ones it shared with its own pod's (the
/// pod must share them too, as podman checks).
fn move_into_pod(store: &Store, cfg: &mut ContainerConfig, pod: &str) -> Result<()> {
    use crate::storage::modes::{NamespaceMode, NetworkMode};
    let pod = store
        .pods
        .load(&super::pods::pod_id(store, pod)?)
        .with_context(|| format!("pod {pod:?} cannot be retrieved"))?;
    if pod.infra_id.is_empty() {
        bail!(
            "cannot retrieve infra container from pod {:?}: pod has no infra container",
            pod.name
        );
    }
    let unshared =
        |what: &str| anyhow::anyhow!("pod {} does not share the {what} namespace", pod.id);
    if let NetworkMode::Container(_) = cfg.network {
        if !pod.shares("net") {
            return Err(unshared("network"));
        }
        cfg.network = NetworkMode::Container(pod.infra_id.clone());
        cfg.ports.clear();
        for a in cfg.network_attachments.values_mut() {
            a.ip = None;
            a.ip6 = None;
            a.mac = None;
        }
    }
    for (ns, what, mode) in [
        ("ipc", "IPC", &mut cfg.ipc),
        ("uts", "UTS", &mut cfg.uts),
        ("pid", "PID", &mut cfg.pid),
    ] {
        if let NamespaceMode::Container(_) = mode {
            if !pod.shares(ns) {
                return Err(unshared(what));
            }
            *mode = NamespaceMode::Container(pod.infra_id.clone());
        }
    }
    if matches!(cfg.uts, NamespaceMode::Container(_)) {
        cfg.hostname = pod.effective_hostname().to_string();
    }
    cfg.pod = pod.id;
    Ok(())
}

/// Restore checkpointed container `id`.
pub fn restore(store: &Store, id: &str, req: &RestoreRequest) -> Result<Report> {
    require_root(store, "restoring")?;
    ckpt::criu()?;
    let state = current_state(store, id)?;
    if is_running(&state) || state.status == Status::Paused {
        bail!("container {id} is running or paused, cannot restore: container state improper");
    }
    if !ckpt::has_checkpoint(store, id) {
        bail!("a complete checkpoint for this container cannot be found, cannot restore: no checkpoint of container {id}");
    }
    ckpt::write_restore_request(store, id, &req.criu)?;
    let began = Instant::now();
    // A pod member: its pod's infra runs first (podman starts it).
    let cfg = store.containers.load_config(id)?;
    let started = crate::runtime::pod::start_infra_for(store, &cfg)
        .and_then(|_members| crate::runtime::container::start(store, id, false));
    let _ = std::fs::remove_file(ckpt::restore_request(store, id));
    started?;
    let runtime_duration = began.elapsed().as_micros() as i64;
    let cfg = store.containers.load_config(id)?;
    events::container(store, "restore", &cfg);
    let stats = if req.print_stats {
        Some(ckpt::read_stats(
            &ckpt::images_dir(store, id).join("stats-restore"),
        )?)
    } else {
        None
    };
    if !req.keep {
        let _ = std::fs::remove_dir_all(ckpt::images_dir(store, id));
        let _ = std::fs::remove_file(ckpt::restore_log(store, id));
    }
    Ok(Report {
        id: id.to_string(),
        runtime_duration,
        stats,
    })
}

/// Read an archive whatever its compression (none, gzip, zstd).
fn open_archive(path: &Path) -> Result<Box<dyn Read>> {
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("opening checkpoint archive {}", path.display()))?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic)?;
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(0))?;
    Ok(if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(f))
    } else if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::stream::read::Decoder::new(f)?)
    } else {
        Box::new(f)
    })
}

/// `restore --import`: a new container from an exported checkpoint,
/// named `--name` or as the original, then restored. Nothing is left of
/// it when a step fails.
pub fn import(store: &Store, req: &RestoreRequest) -> Result<Report> {
    require_root(store, "restoring")?;
    ckpt::criu()?;
    let archive = req.import.as_deref().context("no archive to import")?;
    // Beside the containers' directories, so the images move by rename;
    // a killed import's leftover is swept as any other.
    let scratch =
        crate::storage::leftovers::temp_name(&store.records_root.join("tmp"), "checkpoint-import-");
    std::fs::create_dir_all(&scratch)?;
    let result = (|| {
        tar::Archive::new(open_archive(archive)?)
            .unpack(&scratch)
            .with_context(|| format!("reading checkpoint archive {}", archive.display()))?;
        import_unpacked(store, &scratch, &archive.display().to_string(), "", req)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// The new container from a checkpoint unpacked in `scratch` (from
/// `what`), named `--name`, else `default_name`, else the original's.
fn import_unpacked(
    store: &Store,
    scratch: &Path,
    what: &str,
    default_name: &str,
    req: &RestoreRequest,
) -> Result<Report> {
    {
        let config = std::fs::read(scratch.join("config.dump"))
            .with_context(|| format!("{what} holds no config.dump: not a checkpoint"))?;
        let mut cfg: ContainerConfig =
            serde_json::from_slice(&config).context("reading the checkpoint's config.dump")?;
        if !scratch.join("checkpoint/inventory.img").is_file() {
            bail!("{what} holds no complete checkpoint");
        }
        match (&req.pod, cfg.pod.is_empty()) {
            (None, false) => bail!("cannot restore pod container without --pod"),
            (Some(_), true) => bail!("cannot restore non pod container into pod"),
            (Some(pod), false) => move_into_pod(store, &mut cfg, pod)?,
            (None, true) => {}
        }
        if !default_name.is_empty() {
            cfg.name = default_name.to_string();
        }
        if let Some(name) = &req.name {
            cfg.name = name.clone();
        }
        for a in cfg.network_attachments.values_mut() {
            if req.ignore_static_ip {
                a.ip = None;
                a.ip6 = None;
            }
            if req.ignore_static_mac {
                a.mac = None;
            }
        }
        if !req.publish.is_empty() {
            let mut ports = Vec::new();
            for p in &req.publish {
                ports.extend(crate::runtime::publish::parse_publish(p)?);
            }
            cfg.ports = ports;
        }
        if let Some(owner) = store.containers.name_owner(&cfg.name) {
            bail!(
                "the container name {:?} is already in use by {owner}. You have to remove that container to be able to reuse that name: that name is already in use",
                cfg.name
            );
        }
        let img = store
            .images
            .load()?
            .by_id(&cfg.image_id)
            .cloned()
            .with_context(|| {
                format!(
                    "the checkpoint's image {} is not in the store",
                    cfg.image_id
                )
            })?;
        let new = super::containers::create(store, cfg, Some(&img))?;
        let made = (|| {
            let dir = store.containers.dir(&new.id);
            std::fs::rename(scratch.join("checkpoint"), ckpt::images_dir(store, &new.id))
                .context("moving the checkpoint into the container")?;
            let diff = scratch.join("rootfs-diff.tar");
            if !req.ignore_rootfs && diff.is_file() {
                let mut a = tar::Archive::new(std::fs::File::open(&diff)?);
                a.set_preserve_permissions(true);
                a.set_preserve_ownerships(true);
                a.set_unpack_xattrs(true);
                a.unpack(dir.join("upper"))
                    .context("unpacking the checkpoint's root filesystem changes")?;
            }
            if !req.ignore_volumes {
                for m in new.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
                    let tar_path = scratch.join("volumes").join(format!("{}.tar", m.source));
                    if !tar_path.is_file() {
                        continue;
                    }
                    let mut a = tar::Archive::new(std::fs::File::open(&tar_path)?);
                    a.set_preserve_permissions(true);
                    a.set_preserve_ownerships(true);
                    a.unpack(store.volumes.data_dir(&m.source))
                        .with_context(|| {
                            format!("restoring the contents of volume {}", m.source)
                        })?;
                }
            }
            restore(store, &new.id, req)
        })();
        if made.is_err() {
            let _ = super::containers::remove(
                store,
                &new.id,
                super::containers::Removal {
                    force: true,
                    ..Default::default()
                },
            );
        }
        made
    }
}
