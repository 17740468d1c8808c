//! Volumes in a container's life: made (named ones on first use, anonymous
//! ones per container) when the container is created, turned into mounts
//! for its spec, filled from the image on first mount (copy-up, inside the
//! container's namespaces so owners come out right rootless), and removed
//! with the container when they were its anonymous ones.

use super::sys;
use crate::storage::containers::MountKind;
use crate::storage::containers::{ContainerConfig, MountSpec};
use crate::storage::events::{self, Event};
use crate::storage::fsutil;
use crate::storage::store::Store;
use crate::storage::volumes::{self, VolumeRecord};
use anyhow::{Context, Result};
use oci_spec::runtime::{Mount, Spec};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Spec mount option (ours, never given to mount(2)): fill the volume from
/// the directory it covers and give it that directory's owner and mode.
pub const COPY_UP: &str = "copy";
/// `-v ...:U`: chown the source, recursively, to the container's user.
pub const CHOWN: &str = "U";
const NO_COPY: &str = "nocopy";
/// Spec mount option (ours): the volume's owner was set (`volume create
/// --uid/--gid`); copy-up keeps it.
pub const KEEP_OWNER: &str = "keepowner";

/// Make the volumes a new container names: anonymous ones (empty source)
/// get a fresh name, named ones are created when missing. Call with the
/// store lock held; returns the volumes made, to undo on failure.
pub fn claim(store: &Store, cfg: &mut ContainerConfig) -> Result<Vec<String>> {
    let mut made = Vec::new();
    for m in cfg
        .mounts
        .iter_mut()
        .filter(|m| m.kind == MountKind::Volume)
    {
        let anonymous = m.source.is_empty();
        if anonymous {
            m.source = crate::storage::containers::new_id();
        } else if store.volumes.exists(&m.source) {
            continue;
        }
        let mut rec = VolumeRecord::new(&m.source, crate::format::human::now_rfc3339());
        rec.anonymous = anonymous;
        rec.options = m.volume_options.clone();
        volumes::check_options(&rec.options)?;
        if let Err(e) = store.volumes.create(&mut rec) {
            unclaim(store, &made);
            return Err(e).with_context(|| format!("creating named volume {:?}", m.source));
        }
        made.push(m.source.clone());
    }
    for name in &made {
        events::append(store, Event::volume("create", name));
    }
    Ok(made)
}

/// Undo `claim` (the container could not be made). Lock held.
pub fn unclaim(store: &Store, made: &[String]) {
    for name in made {
        if let Ok(doomed) = store.volumes.unlink(name) {
            let _ = crate::storage::layers::remove_tree(&doomed);
        }
    }
}

/// The config as the spec builder sees it: each volume mount becomes what
/// it mounts (its `_data` directory, its device, or a tmpfs), with podman's
/// defaults (nosuid, nodev).
pub fn resolve_for_spec(store: &Store, cfg: &ContainerConfig) -> Result<ContainerConfig> {
    let mut out = cfg.clone();
    out.mounts.clear();
    for m in &cfg.mounts {
        if m.kind != MountKind::Volume {
            out.mounts.push(m.clone());
            continue;
        }
        let rec = store
            .volumes
            .load(&m.source)?
            .with_context(|| format!("no volume with name {:?} found: no such volume", m.source))?;
        let mut options: Vec<String> = m.options.clone();
        for (flag, unless) in [("nosuid", "suid"), ("nodev", "dev")] {
            if !options.iter().any(|o| o == flag || o == unless) {
                options.push(flag.into());
            }
        }
        let o: Vec<String> = rec
            .options
            .get("o")
            .map(|o| {
                o.split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if rec.uses_plugin() {
            // Where the plugin mounts it is known only at start: the
            // monitor asks and points this mount there
            // (`volume_plugin::mount_for_run`).
            options.retain(|x| !matches!(x.as_str(), "copy" | "nocopy" | "keepowner"));
            out.mounts.push(MountSpec {
                kind: MountKind::Bind,
                source: path_of(&store.volumes.data_dir(&m.source)),
                destination: m.destination.clone(),
                options,
                ..Default::default()
            });
            continue;
        }
        match rec.options.get("type").map(String::as_str) {
            Some("tmpfs") => {
                options.retain(|x| {
                    !matches!(
                        x.as_str(),
                        "U" | "copy" | "nocopy" | "keepowner" | "z" | "Z"
                    )
                });
                options.extend(o);
                out.tmpfs.push(MountSpec {
                    kind: MountKind::Tmpfs,
                    source: "tmpfs".into(),
                    destination: m.destination.clone(),
                    options,
                    ..Default::default()
                });
            }
            Some(_) => {
                options.extend(o.into_iter().filter(|x| x != "bind" && x != "rbind"));
                out.mounts.push(MountSpec {
                    kind: MountKind::Bind,
                    source: rec.options.get("device").cloned().unwrap_or_default(),
                    destination: m.destination.clone(),
                    options,
                    ..Default::default()
                });
            }
            None => out.mounts.push(MountSpec {
                kind: MountKind::Bind,
                source: path_of(&store.volumes.data_dir(&m.source)),
                destination: m.destination.clone(),
                options,
                ..Default::default()
            }),
        }
    }
    Ok(out)
}

fn path_of(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Before a start: the volumes never mounted yet get the copy-up option in
/// the spec the monitor runs (the saved spec is left as it is). Returns
/// the spec and those volumes, to be marked once the container started.
pub fn with_first_mounts(
    store: &Store,
    cfg: &ContainerConfig,
    mut spec: Spec,
) -> (Spec, Vec<String>) {
    let mut first = Vec::new();
    let mut dests = BTreeMap::new();
    for m in cfg.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
        let Ok(Some(rec)) = store.volumes.load(&m.source) else {
            continue;
        };
        if (rec.needs_copy_up || rec.needs_chown) && !rec.options.contains_key("type") {
            let mut marks = vec![COPY_UP];
            if !rec.needs_chown {
                marks.push(KEEP_OWNER);
            }
            // `volume create -o nocopy`: owner and mode still taken
            if !rec.needs_copy_up {
                marks.push(NO_COPY);
            }
            dests.insert(PathBuf::from(&m.destination), marks);
            first.push(rec.name);
        }
    }
    if first.is_empty() {
        return (spec, first);
    }
    if let Some(mounts) = spec.mounts().clone() {
        let mounts = mounts
            .into_iter()
            .map(|mut mnt| {
                if let Some(marks) = dests.get(mnt.destination()) {
                    let mut opts = mnt.options().clone().unwrap_or_default();
                    opts.extend(marks.iter().map(|m| m.to_string()));
                    mnt.set_options(Some(opts));
                }
                mnt
            })
            .collect();
        spec.set_mounts(Some(mounts));
    }
    (spec, first)
}

/// The volumes `names` have been mounted once: no more copy-up.
pub fn mark_mounted(store: &Store, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let Ok(_lock) = store.lock() else { return };
    for name in names {
        if let Ok(Some(mut rec)) = store.volumes.load(name) {
            rec.needs_copy_up = false;
            rec.needs_chown = false;
            let _ = store.volumes.save(&rec);
        }
    }
}

/// Inside the container's namespaces, before `m` is mounted over `dest`
/// (the path in the new root): copy-up and `U`. Ids here are the
/// container's own, so what is copied keeps its owners, rootless too.
pub fn prepare_source(dest: &Path, m: &Mount, uid: u32, gid: u32) -> Result<()> {
    let opts = m.options().clone().unwrap_or_default();
    let has = |o: &str| opts.iter().any(|x| x == o);
    let Some(source) = m.source().clone() else {
        return Ok(());
    };
    if has(COPY_UP) {
        match fs::metadata(dest) {
            Ok(meta) if meta.is_dir() => {
                if !has(NO_COPY) && is_empty_dir(&source)? {
                    copy_tree(dest, &source).with_context(|| {
                        format!("copying {} into the volume", m.destination().display())
                    })?;
                }
                // podman: the volume takes the owner and mode of what it
                // covers, unless its owner was given.
                if !has(KEEP_OWNER) {
                    fsutil::lchown(&source, meta.uid(), meta.gid())?;
                }
                fs::set_permissions(&source, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
            }
            _ if has(KEEP_OWNER) => {}
            _ => fsutil::lchown(&source, uid, gid)?,
        }
    }
    if has(CHOWN) {
        chown_tree(&source, uid, gid)?;
    }
    Ok(())
}

fn is_empty_dir(p: &Path) -> Result<bool> {
    Ok(fs::read_dir(p)
        .with_context(|| format!("reading {}", p.display()))?
        .next()
        .is_none())
}

/// Copy the merged view under `src` into `dest` with owners, modes, times.
fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    for entry in fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let entry = entry?;
        let s = entry.path();
        let d = dest.join(entry.file_name());
        let meta = fs::symlink_metadata(&s)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir(&d).with_context(|| format!("creating {}", d.display()))?;
            copy_tree(&s, &d)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&s)?, &d)?;
        } else if ft.is_file() {
            // create_new: never write through a name that appeared meanwhile.
            let mut from =
                fs::File::open(&s).with_context(|| format!("opening {}", s.display()))?;
            let mut to = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&d)
                .with_context(|| format!("creating {}", d.display()))?;
            std::io::copy(&mut from, &mut to)
                .with_context(|| format!("copying {}", s.display()))?;
        } else {
            let c = sys::cstr(&d)?;
            // SAFETY: recreate a fifo or device node with the same type and number.
            if unsafe { libc::mknod(c.as_ptr(), meta.mode(), meta.rdev()) } != 0 {
                continue; // a device a user namespace may not make
            }
        }
        fsutil::lchown(&d, meta.uid(), meta.gid())?;
        if !ft.is_symlink() {
            // After chown, which clears setuid bits.
            fs::set_permissions(&d, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
        fsutil::set_times(&d, &meta);
    }
    Ok(())
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<()> {
    let meta = fs::symlink_metadata(path)?;
    fsutil::lchown(path, uid, gid)?;
    if meta.is_dir() {
        for e in fs::read_dir(path)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Take container `id` out of the store and, with `anonymous`, the
/// anonymous volumes no other container uses, under one lock. Returns the
/// trees to delete.
pub fn unlink_container(store: &Store, id: &str, anonymous: bool) -> Result<Vec<PathBuf>> {
    let _lock = store.lock()?;
    let cfg = store.containers.load_config(id).ok();
    super::name_files::forget_name_entry(store, id);
    let mut doomed = vec![store
        .containers
        .unlink_named(id, cfg.as_ref().map(|c| c.name.as_str()))?];
    if let Some(c) = &cfg {
        crate::storage::containers::forget_cidfile(c);
    }
    let Some(cfg) = cfg.filter(|_| anonymous) else {
        return Ok(doomed);
    };
    let names: Vec<&str> = cfg
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume)
        .map(|m| m.source.as_str())
        .collect();
    if names.is_empty() {
        return Ok(doomed);
    }
    let users = volumes::users(&store.containers)?;
    for name in names {
        let anon = store
            .volumes
            .load(name)
            .ok()
            .flatten()
            .is_some_and(|v| v.anonymous);
        if anon && !users.contains_key(name) {
            doomed.push(store.volumes.unlink(name)?);
            events::append(store, Event::volume("remove", name));
        }
    }
    Ok(doomed)
}

/// Remove a container with its anonymous volumes (`rm -v`, `--rm`).
pub fn remove_container_and_anonymous(store: &Store, id: &str) -> Result<()> {
    for path in unlink_container(store, id, true)? {
        super::delete::delete_tree(store, &path)?;
    }
    Ok(())
}

/// Delete the tree of a volume taken out of the store (its files may
/// belong to the user's subordinate ids).
pub fn delete_volume_tree(store: &Store, path: &Path) -> Result<()> {
    super::delete::delete_tree(store, path)
}

/// Apparent size of the files under `path` (what podman reports).
pub fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}
