//! `system check`: what in the store is damaged, and the repairs that only
//! touch what is damaged. Reading and repairing are separate steps so the
//! engine can decide what may go (a running container never does).
//!
//! Damage is what a later command would trip over: a layer without its
//! record or tree, an image whose blobs or layers are missing or wrong, a
//! container whose records are unreadable or whose layers are gone, a
//! volume without its record or data directory, a container name the
//! index gives to no one or to another. Leftovers of dead invocations are
//! not damage (the next writer sweeps them); `--repair` sweeps them too.

use super::digest::{Digest, Hasher};
use super::image_config::ImageConfig;
use super::leftovers;
use super::store::Store;
use super::volumes::VolumeRecord;
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Problems by what has them: id (or name) -> messages.
pub type Problems = BTreeMap<String, Vec<String>>;

#[derive(Debug, Default)]
pub struct Findings {
    pub layers: Problems,
    pub images: Problems,
    pub containers: Problems,
    pub volumes: Problems,
    /// Indexes that disagree with the records they index (rebuilt).
    pub indexes: Problems,
    /// Blobs whose content does not hash to their name, referenced by no image.
    pub blobs: Problems,
    /// Containers with unreadable records (no config): nothing can use them.
    pub unreadable_containers: BTreeSet<String>,
    /// Volumes that lack their record (rebuilt) or data directory (remade).
    pub volumes_to_rebuild: BTreeSet<String>,
    /// Names a container holds but the index does not give it: (id, name).
    pub unindexed_names: Vec<(String, String)>,
}

impl Findings {
    pub fn damaged(&self) -> bool {
        !(self.layers.is_empty()
            && self.images.is_empty()
            && self.containers.is_empty()
            && self.volumes.is_empty()
            && self.indexes.is_empty()
            && self.blobs.is_empty())
    }
}

fn note(p: &mut Problems, key: &str, msg: String) {
    p.entry(key.to_string()).or_default().push(msg);
}

/// How old a layer no image or container uses may be before it counts as
/// the remains of a pull or build cut short (containers/storage's default).
pub const UNREFERENCED_LAYER_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Look at everything; change nothing. `quick` skips hashing blobs and
/// walking layer trees; a layer nothing uses that is older than
/// `unreferenced_max_age` is damaged. Call with the store lock held
/// (rootless: inside the user namespace, where layer trees are readable).
pub fn inspect(store: &Store, quick: bool, unreferenced_max_age: Duration) -> Result<Findings> {
    let mut f = Findings::default();
    let damaged_layers = check_layers(store, quick, &mut f);
    let bad_blobs = if quick {
        BTreeSet::new()
    } else {
        hash_blobs(store)
    };
    check_images(store, &damaged_layers, &bad_blobs, &mut f)?;
    let keys = store.images.key_index_problems()?;
    if !keys.is_empty() {
        f.indexes.insert("image-keys".to_string(), keys);
    }
    check_containers(store, &damaged_layers, &mut f)?;
    check_volumes(store, &mut f);
    if f.unreadable_containers.is_empty() {
        // (a container whose record is unreadable may use any layer)
        check_unreferenced_layers(store, unreferenced_max_age, &mut f)?;
    }
    Ok(f)
}

/// Layers no image and no container uses, made longer than `max_age`
/// ago: a pull or a build that wrote them was cut short before an image
/// took them (a younger one may belong to a pull still under way).
fn check_unreferenced_layers(store: &Store, max_age: Duration, f: &mut Findings) -> Result<()> {
    let images = store.images.load()?;
    let mut used: BTreeSet<Digest> = images
        .list
        .iter()
        .flat_map(|i| i.layers.iter().cloned())
        .collect();
    for id in store.containers.ids()? {
        if let Ok(cfg) = store.containers.load_config(&id) {
            used.extend(cfg.layers);
        }
    }
    let now = SystemTime::now();
    for d in store.layers.list().unwrap_or_default() {
        if used.contains(&d) {
            continue;
        }
        // A layer without a readable record is damaged already.
        let Ok(rec) = store.layers.record(&d) else {
            continue;
        };
        let old = match crate::format::human::parse_rfc3339(&rec.created) {
            Ok(at) => at + max_age < now,
            // as containers/storage: a layer of unknown age is old
            Err(_) => true,
        };
        if old {
            note(
                &mut f.layers,
                d.hex(),
                "layer not referenced by any images or containers".into(),
            );
        }
    }
    Ok(())
}

fn check_layers(store: &Store, quick: bool, f: &mut Findings) -> BTreeSet<Digest> {
    let mut damaged = BTreeSet::new();
    for d in store.layers.list().unwrap_or_default() {
        let mut problems = Vec::new();
        match store.layers.record(&d) {
            Err(_) => problems.push("layer record is missing or unreadable".to_string()),
            Ok(rec) if rec.diff_id != d => {
                problems.push(format!("layer record names another layer, {}", rec.diff_id))
            }
            Ok(_) => {}
        }
        let diff = store.layers.diff_dir(&d);
        if !diff.is_dir() {
            problems.push("layer contents are missing".to_string());
        } else if !quick {
            if let Err(e) = walk(&diff) {
                problems.push(format!("layer contents are unreadable: {e}"));
            }
        }
        if !problems.is_empty() {
            damaged.insert(d.clone());
            f.layers.insert(d.hex().to_string(), problems);
        }
    }
    damaged
}

/// Read every directory of a tree: a tree the kernel cannot list is damaged.
fn walk(dir: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            walk(&e.path())?;
        }
    }
    Ok(())
}

/// Blobs whose content is not what their name says.
fn hash_blobs(store: &Store) -> BTreeSet<Digest> {
    let mut bad = BTreeSet::new();
    for d in store.blobs.list().unwrap_or_default() {
        let ok = fs::File::open(store.blobs.path(&d)).is_ok_and(|mut file| {
            let mut h = Hasher::new();
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match file.read(&mut buf) {
                    Ok(0) => break h.finish() == d,
                    Ok(n) => h.update(&buf[..n]),
                    Err(_) => break false,
                }
            }
        });
        if !ok {
            bad.insert(d);
        }
    }
    bad
}

fn check_images(
    store: &Store,
    damaged_layers: &BTreeSet<Digest>,
    bad_blobs: &BTreeSet<Digest>,
    f: &mut Findings,
) -> Result<()> {
    let images = store.images.load()?;
    let mut referenced = BTreeSet::new();
    for img in &images.list {
        let mut problems = Vec::new();
        let config = img.config_digest();
        referenced.insert(config.clone());
        referenced.insert(img.manifest_digest.clone());
        referenced.extend(img.digests.iter().cloned());
        for (what, d) in [("config", &config), ("manifest", &img.manifest_digest)] {
            if !store.blobs.has(d) {
                problems.push(format!("{what} blob {d} is missing"));
            } else if bad_blobs.contains(d) {
                problems.push(format!("{what} blob {d} does not match its digest"));
            }
        }
        if store.blobs.has(&config) && !bad_blobs.contains(&config) {
            match store
                .blobs
                .read(&config)
                .and_then(|b| ImageConfig::parse(&b))
            {
                Ok(cfg) if !same_layers(&cfg.rootfs.diff_ids, &img.layers) => {
                    problems.push("configuration lists other layers than the image record".into())
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("configuration is unreadable: {e:#}")),
            }
        }
        for l in &img.layers {
            if damaged_layers.contains(l) {
                problems.push(format!("layer {l} is damaged"));
            } else if !store.layers.has(l) {
                problems.push(format!("layer {l} is missing"));
            }
        }
        if !problems.is_empty() {
            f.images.insert(img.id.clone(), problems);
        }
    }
    for d in bad_blobs.difference(&referenced) {
        note(
            &mut f.blobs,
            d.hex(),
            "blob content does not match its digest".into(),
        );
    }
    Ok(())
}

fn same_layers(diff_ids: &[String], layers: &[Digest]) -> bool {
    diff_ids.len() == layers.len()
        && diff_ids
            .iter()
            .zip(layers)
            .all(|(a, b)| *a == b.to_string())
}

fn check_containers(
    store: &Store,
    damaged_layers: &BTreeSet<Digest>,
    f: &mut Findings,
) -> Result<()> {
    for id in store.containers.ids()? {
        let dir = store.containers.dir(&id);
        let cfg = match store.containers.load_config(&id) {
            Ok(cfg) => cfg,
            Err(e) => {
                let msg = if dir.join("config.json").exists() {
                    format!("container record is unreadable: {e:#}")
                } else {
                    "container record is missing".to_string()
                };
                note(&mut f.containers, &id, msg);
                f.unreadable_containers.insert(id);
                continue;
            }
        };
        if cfg.id != id {
            note(
                &mut f.containers,
                &id,
                format!("container record names another container, {}", cfg.id),
            );
            f.unreadable_containers.insert(id.clone());
            continue;
        }
        if let Err(e) = store.containers.load_state(&id) {
            note(
                &mut f.containers,
                &id,
                format!("state is unreadable: {e:#}"),
            );
        }
        // Layers of another image store than this command's (it was made
        // with another --imagestore, or none) are looked for there; only
        // this store's layers were checked for damage.
        let own = cfg.image_store == store.image_store;
        let layers = store.container_layers(&cfg);
        for l in &cfg.layers {
            if own && damaged_layers.contains(l) {
                note(&mut f.containers, &id, format!("layer {l} is damaged"));
            } else if !layers.has(l) {
                note(&mut f.containers, &id, format!("layer {l} is missing"));
            }
        }
        for sub in ["upper", "work"] {
            if !cfg.is_infra && !dir.join(sub).is_dir() {
                note(
                    &mut f.containers,
                    &id,
                    format!("{sub} directory is missing"),
                );
            }
        }
        if !cfg.name.is_empty() && store.containers.name_owner(&cfg.name).as_deref() != Some(&id) {
            note(
                &mut f.containers,
                &id,
                format!("name {:?} is not indexed to it", cfg.name),
            );
            f.unindexed_names.push((id.clone(), cfg.name.clone()));
        }
    }
    Ok(())
}

fn check_volumes(store: &Store, f: &mut Findings) {
    let Ok(entries) = fs::read_dir(store.volumes.base()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !super::names::is_valid(&name) || !e.path().is_dir() {
            continue;
        }
        match store.volumes.load(&name) {
            Ok(Some(rec)) if rec.name == name => {}
            Ok(Some(rec)) => {
                note(
                    &mut f.volumes,
                    &name,
                    format!("volume record names another volume, {}", rec.name),
                );
                f.volumes_to_rebuild.insert(name.clone());
            }
            Ok(None) => {
                note(&mut f.volumes, &name, "volume record is missing".into());
                f.volumes_to_rebuild.insert(name.clone());
            }
            Err(e) => {
                note(
                    &mut f.volumes,
                    &name,
                    format!("volume record is unreadable: {e:#}"),
                );
                f.volumes_to_rebuild.insert(name.clone());
            }
        }
        if !store.volumes.data_dir(&name).is_dir() {
            note(&mut f.volumes, &name, "data directory is missing".into());
            f.volumes_to_rebuild.insert(name.clone());
        }
    }
}

/// Give a volume its record and data directory back, keeping its data: a
/// record that is missing or wrong is written anew (created now, no
/// options), a missing `_data` is made empty.
pub fn rebuild_volume(store: &Store, name: &str, now: String) -> Result<()> {
    let good = matches!(store.volumes.load(name), Ok(Some(ref r)) if r.name == name);
    if !good {
        let mut rec = VolumeRecord::new(name, now);
        // Whatever is in _data already is the volume's content.
        rec.needs_copy_up = false;
        rec.needs_chown = false;
        store.volumes.save(&rec)?;
    }
    let data = store.volumes.data_dir(name);
    if !data.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new().mode(0o755).create(&data)?;
    }
    Ok(())
}

/// Every `.tmp-*` file and dead invocation's leftover anywhere in the
/// store, not only where the writers' cheap sweep looks. Call with the
/// lock held.
pub fn sweep_everywhere(store: &Store) -> Vec<PathBuf> {
    let mut removed = store.sweep_leftovers().removed;
    let root = &store.root;
    let records = &store.records_root;
    let images = &store.image_root;
    let mut dirs = vec![
        images.join("blobs/sha256"),
        records.join("container-names"),
        records.join("pod-names"),
        root.join("volumes"),
    ];
    for (base, parent, nested) in [
        (records, "containers", &["", "userdata"][..]),
        (images, "layers", &[""][..]),
        (root, "volumes", &[""][..]),
        (records, "pods", &[""][..]),
    ] {
        if let Ok(entries) = fs::read_dir(base.join(parent)) {
            for e in entries.flatten() {
                for sub in nested {
                    dirs.push(e.path().join(sub));
                }
            }
        }
    }
    for dir in dirs {
        removed.extend(leftovers::sweep_temp_files(&dir));
    }
    removed
}
