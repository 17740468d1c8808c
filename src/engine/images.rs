//! Images: pull, tag, untag, remove and prune, with podman's rules (an
//! image a container uses stays unless forced; removing by one of several
//! names only drops that name). Store work that creates files runs in the
//! rootless user namespace ([`crate::runtime::userns::enter_for_storage`]).

mod parents;

use crate::error::CodedError;
use crate::registry::manifest::{same_platform, Platform};
use crate::registry::pull::{self, PullOptions};
use crate::registry::resolve::try_find_image;
use crate::storage::events::{self, Event};
use crate::storage::images::ImageRecord;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};

/// Pull, rootless inside a child user namespace (so unpacked files get
/// their real owners) while this process stays outside it.
pub fn pull_image(store: &Store, name: &str, opts: &PullOptions) -> Result<ImageRecord> {
    let img = pull_image_quietly(store, name, opts)?;
    let shown = img
        .names
        .iter()
        .find(|n| n.ends_with(name))
        .map_or(name, |n| n);
    events::append(store, Event::image("pull", &img.id, shown));
    Ok(img)
}

fn pull_image_quietly(store: &Store, name: &str, opts: &PullOptions) -> Result<ImageRecord> {
    use crate::runtime::userns;
    if !store.rootless || userns::in_user_namespace() {
        return pull::pull_by_name(store, name, opts);
    }
    let maps = userns::IdMaps::for_current_user()?;
    let id = userns::run_in_child_userns(&maps, || {
        pull::pull_by_name(store, name, opts).map(|img| img.id.into_bytes())
    })?;
    let id = String::from_utf8_lossy(&id).into_owned();
    let images = store.images.load_for(&[&id])?;
    images
        .by_id(&id)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("pulled image {id} is not in the store"))
}

/// A name for a local image: short names go to `localhost/`, as podman.
pub fn local_name(input: &str) -> Result<String> {
    use crate::registry::reference::{parse_name, ParsedName};
    Ok(match parse_name(input)? {
        ParsedName::Qualified(r) => {
            if r.digest.is_some() {
                bail!("{input}: a tag target must not contain a digest");
            }
            r.to_string()
        }
        ParsedName::Short {
            repository,
            tag,
            digest,
        } => {
            if digest.is_some() {
                bail!("{input}: a tag target must not contain a digest");
            }
            format!(
                "localhost/{repository}:{}",
                tag.as_deref().unwrap_or("latest")
            )
        }
    })
}

/// Add names to an image; returns them as stored (short ones under
/// `localhost/`).
pub fn tag(store: &Store, image: &str, targets: &[String]) -> Result<Vec<String>> {
    let names = targets
        .iter()
        .map(|t| local_name(t))
        .collect::<Result<Vec<_>>>()?;
    let _lock = store.lock()?;
    let mut inputs: Vec<&str> = names.iter().map(String::as_str).collect();
    inputs.push(image);
    let mut images = store.images.load_for(&inputs)?;
    let id = found(store, &mut images, image)?.id;
    for n in &names {
        images.add_name(&id, n)?;
    }
    store.images.save(&images)?;
    names
        .iter()
        .for_each(|n| events::append(store, Event::image("tag", &id, n)));
    Ok(names)
}

/// Remove names from an image (all of them when `names` is empty).
pub fn untag(store: &Store, image: &str, names: &[String]) -> Result<()> {
    let _lock = store.lock()?;
    let mut images = store.images.load_for(&[image])?;
    let id = found(store, &mut images, image)?.id;
    let drop: Vec<String> = names.iter().map(|n| local_name(n)).collect::<Result<_>>()?;
    let img = images.by_id_mut(&id).expect("found above");
    let before = img.names.clone();
    if drop.is_empty() {
        img.names.clear();
    } else {
        for (want, typed) in drop.iter().zip(names) {
            if !img.names.contains(want) {
                bail!("{typed}: tag not known");
            }
            img.names.retain(|n| n != want);
        }
    }
    let gone: Vec<&String> = before.iter().filter(|n| !img.names.contains(n)).collect();
    store.images.save(&images)?;
    gone.iter()
        .for_each(|n| events::append(store, Event::image("untag", &id, n)));
    Ok(())
}

/// What `rmi` was asked to do.
#[derive(Debug, Default)]
pub struct Removal {
    pub images: Vec<String>,
    pub all: bool,
    /// Remove images in use (their containers go first) and by ID with
    /// several names.
    pub force: bool,
    /// Unknown images are not an error.
    pub ignore_missing: bool,
    /// Keep the untagged parents (a build's intermediate images) that
    /// podman removes with an image.
    pub no_prune: bool,
}

/// One line of what `rmi` did, in order.
pub enum Removed {
    Untagged(String),
    Deleted(String),
}

/// What `rmi` did, and the first failure that did not stop it (podman
/// goes on past an unknown or used image and fails at the end: exit 1 for
/// unknown, 2 for in use).
pub struct RemovalReport {
    pub done: Vec<Removed>,
    pub error: Option<anyhow::Error>,
}

/// `rmi`, as podman does it.
pub fn remove(store: &Store, r: &Removal) -> Result<RemovalReport> {
    if r.images.is_empty() && !r.all {
        bail!("image name or ID must be specified");
    }
    if !r.images.is_empty() && r.all {
        bail!("when using the --all switch, you may not pass any images names or IDs");
    }
    if r.force {
        // podman: -f removes the containers using an image first. Before
        // taking the store lock, which container removal takes itself.
        let images = store.images.load()?;
        let mut ids: Vec<String> = Vec::new();
        if r.all {
            ids.extend(images.list.iter().map(|i| i.id.clone()));
        }
        for t in &r.images {
            if let Some(rec) = try_find_image(&images, t)? {
                ids.push(rec.id.clone());
            }
        }
        let forced = super::containers::Removal {
            force: true,
            ..Default::default()
        };
        for id in &ids {
            for cid in containers_using(store, id) {
                if !store.containers.exists(&cid) {
                    continue; // the other mode's: refused below
                }
                super::containers::remove(store, &cid, forced)?;
            }
        }
    }
    crate::runtime::userns::enter_for_storage(store)?;
    let _lock = store.lock()?;
    let mut images = if r.all {
        store.images.load()?
    } else {
        let typed: Vec<&str> = r.images.iter().map(String::as_str).collect();
        store.images.load_for(&typed)?
    };
    let mut report = RemovalReport {
        done: Vec::new(),
        error: None,
    };
    let targets: Vec<String> = if r.all {
        images.list.iter().map(|i| i.id.clone()).collect()
    } else {
        r.images.clone()
    };
    let mut removed = Vec::new();
    let mut journal = Vec::new();
    for target in &targets {
        let rec = match try_found(store, &mut images, target)? {
            Some(rec) => rec,
            None if r.all => continue, // removed as a parent of another
            None => {
                // podman: -f also means an unknown image is no error.
                if !r.ignore_missing && !r.force && report.error.is_none() {
                    // podman: exit 1 when an image to remove is not known.
                    report.error = Some(
                        CodedError {
                            code: 1,
                            message: format!("{target}: image not known"),
                        }
                        .into(),
                    );
                }
                continue;
            }
        };
        // podman: removing by one of several names only drops that name.
        let by_name = !r.all
            && !rec.id.starts_with(target.trim_start_matches("sha256:"))
            && rec.names.len() > 1;
        if by_name && !r.force {
            let name = resolve_name_in(&rec, target)?;
            images
                .by_id_mut(&rec.id)
                .expect("present")
                .names
                .retain(|n| *n != name);
            journal.push(Event::image("untag", &rec.id, &name));
            report.done.push(Removed::Untagged(name));
            continue;
        }
        if !r.force && rec.names.len() > 1 && !r.all {
            bail!(
                "unable to delete image {:?} by ID with more than one tag ({:?}): please force removal",
                rec.id,
                rec.names
            );
        }
        // podman: an image a container uses stays unless forced; forced,
        // those containers went first.
        let users = containers_using(store, &rec.id);
        if let Some(user) = users.first() {
            if !r.force {
                if report.error.is_none() {
                    report.error = Some(
                        CodedError {
                            code: 2,
                            message: format!("image used by {user}: image is in use by a container: consider listing external containers and force-removing image"),
                        }
                        .into(),
                    );
                }
                continue;
            }
            bail!("image {} is still used by container {user}", rec.id);
        }
        // What deciding which layers, blobs and parents go with it reads.
        store.images.widen_for_removal(&mut images, &rec)?;
        for n in &rec.names {
            journal.push(Event::image("untag", &rec.id, n));
            report.done.push(Removed::Untagged(n.clone()));
        }
        journal.push(Event::image("remove", &rec.id, target));
        images.remove(&rec.id);
        report.done.push(Removed::Deleted(rec.id.clone()));
        let doomed = if r.no_prune {
            Vec::new()
        } else {
            let in_use = |id: &str| !containers_using(store, id).is_empty();
            parents::dangling_parents(store, &images, &rec, &in_use)
        };
        removed.push(rec);
        for id in doomed {
            if let Some(parent) = images.remove(&id) {
                store.images.widen_for_removal(&mut images, &parent)?;
                journal.push(Event::image("remove", &id, &id));
                report.done.push(Removed::Deleted(id));
                removed.push(parent);
            }
        }
    }
    store.images.save(&images)?;
    journal.into_iter().for_each(|e| events::append(store, e));
    for rec in &removed {
        store.collect_image_garbage(&images, rec)?;
    }
    Ok(report)
}

/// `image prune`: under the store lock (in the rootless user namespace,
/// where layer files can be deleted), `choose` picks the image ids to
/// remove; an image a container uses stays whatever `choose` says (its
/// layers are the container's). Returns the ids removed.
pub fn prune(
    store: &Store,
    external: bool,
    choose: impl Fn(&Store) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    crate::runtime::userns::enter_for_storage(store)?;
    if external {
        // (removal takes the store lock itself)
        remove_external_users(store, &choose(store)?)?;
    }
    let _lock = store.lock()?;
    let mut doomed = choose(store)?;
    // The other mode's containers (`--transient-store` or not) too, and
    // those of other graph roots sharing the image store: each made on
    // this image store's images (or the graph root's, without one).
    let mut used = std::collections::BTreeSet::new();
    let sharing = store.image_store_users();
    for set in std::iter::once(&store.containers)
        .chain(store.other_containers.as_ref())
        .chain(&sharing)
    {
        let ids = match set.ids() {
            Ok(ids) => ids,
            Err(_) if !std::ptr::eq(set, &store.containers) => Vec::new(),
            Err(e) => return Err(e),
        };
        used.extend(
            ids.iter()
                .filter_map(|id| set.load_config(id).ok())
                .filter(|c| c.image_store == store.image_store)
                .map(|c| c.image_id),
        );
    }
    doomed.retain(|id| !used.contains(id));
    remove_unused(store, &doomed)
}

/// `image prune --external`: podman's external containers are those its
/// database does not hold (buildah's); coracle's are the RUN steps'
/// containers of builds (`io.coracle.build.pid`), running or not, as
/// `system prune --build` takes them. Those using an image among
/// `candidates` that no other container uses are removed, so the image can
/// go too.
fn remove_external_users(store: &Store, candidates: &[String]) -> Result<()> {
    let builder = crate::build::builder::BUILD_ANNOTATION;
    let candidates: std::collections::BTreeSet<&String> = candidates.iter().collect();
    let listed = super::containers::list_all(store)?;
    // Images a container of the user's uses stay, whatever builds use them.
    let mut kept: std::collections::BTreeSet<String> = listed
        .iter()
        .filter(|l| !l.cfg.annotations.contains_key(builder))
        .map(|l| l.cfg.image_id.clone())
        .collect();
    if let Some(other) = &store.other_containers {
        kept.extend(
            (other.summaries().unwrap_or_default())
                .into_iter()
                .map(|s| s.cfg.image_id),
        );
    }
    for l in listed {
        let image = &l.cfg.image_id;
        if l.cfg.annotations.contains_key(builder)
            && candidates.contains(image)
            && !kept.contains(image)
        {
            let how = super::containers::Removal {
                force: true,
                stop_timeout: Some(0),
                volumes: false,
            };
            super::containers::remove(store, &l.cfg.id, how)
                .with_context(|| format!("removing build container {}", l.cfg.id))?;
        }
    }
    Ok(())
}

/// `image prune --build-cache` (and `--all`, `system prune --all`): remove
/// the directories `RUN --mount=type=cache` keeps between builds.
pub fn prune_build_cache(store: &Store) -> Result<()> {
    // (a cache holds files of the build's subordinate ids)
    crate::runtime::userns::enter_for_storage(store)?;
    let _lock = store.lock()?;
    let dir = store.root.join(crate::build::builder::CACHE_MOUNTS_DIR);
    crate::storage::fsutil::remove_tree(&dir)
        .with_context(|| format!("removing the build cache {}", dir.display()))
}

/// Remove the images with these ids; returns the ids removed.
fn remove_unused(store: &Store, ids: &[String]) -> Result<Vec<String>> {
    let mut images = store.images.load()?;
    let mut removed = Vec::new();
    for id in ids {
        if let Some(rec) = images.remove(id) {
            removed.push(rec);
        }
    }
    store.images.save(&images)?;
    let mut out = Vec::new();
    for rec in &removed {
        events::append(store, Event::image("remove", &rec.id, &rec.id));
        store.collect_image_garbage(&images, rec)?;
        out.push(rec.id.clone());
    }
    Ok(out)
}

/// Ids of the containers created from image `image_id` of this image
/// store (the graph root's without one), this mode's first, then those of
/// the other (`--transient-store` or not) and of other graph roots sharing
/// the image store, which use its images but which this invocation cannot
/// remove.
/// From the container index: one read of its shards, not of every record.
pub fn containers_using(store: &Store, image_id: &str) -> Vec<String> {
    let sharing = store.image_store_users();
    std::iter::once(&store.containers)
        .chain(store.other_containers.as_ref())
        .chain(&sharing)
        .flat_map(|set| set.summaries().unwrap_or_default())
        .filter(|s| s.cfg.image_id == image_id && s.cfg.image_store == store.image_store)
        .map(|s| s.cfg.id)
        .collect()
}

/// The image `input` names among `images`, loaded for it with
/// `ImageStore::load_for`; a miss there (a change made while we read)
/// is looked for among all of them before it counts.
pub fn try_found(
    store: &Store,
    images: &mut crate::storage::images::Images,
    input: &str,
) -> Result<Option<ImageRecord>> {
    if let Some(rec) = try_find_image(images, input)? {
        return Ok(Some(rec.clone()));
    }
    if images.scope.is_none() {
        return Ok(None);
    }
    store.images.widen_all(images)?;
    Ok(try_find_image(images, input)?.cloned())
}

/// [`try_found`], with podman's "image not known" for a miss.
pub fn found(
    store: &Store,
    images: &mut crate::storage::images::Images,
    input: &str,
) -> Result<ImageRecord> {
    try_found(store, images, input)?.ok_or_else(|| crate::error::not_found("image", input))
}

/// Which of `rec`'s names the user meant by `typed`.
fn resolve_name_in(rec: &ImageRecord, typed: &str) -> Result<String> {
    let mut one = crate::storage::images::Images {
        list: vec![rec.clone()],
        scope: None,
    };
    for n in rec.names.clone() {
        one.list[0].names = vec![n.clone()];
        if try_find_image(&one, typed)?.is_some() && !rec.id.starts_with(typed) {
            return Ok(n);
        }
    }
    Ok(rec.names[0].clone())
}

/// The platform of local image `img` when it is not `want` (a list, or
/// no platform asked for, matches: a list's instance is chosen later).
/// Without a variant asked for, any variant of the architecture matches.
fn other_platform(store: &Store, img: &ImageRecord, want: Option<&Platform>) -> Option<String> {
    let want = want?;
    if crate::storage::manifest_lists::is_list(img) {
        return None;
    }
    let bytes = store.blobs.read(&img.config_digest()).ok()?;
    let cfg = crate::storage::image_config::ImageConfig::parse(&bytes).ok()?;
    let have = Platform {
        os: cfg.os,
        architecture: cfg.architecture,
        variant: match want.variant {
            Some(_) => cfg.variant.filter(|v| !v.is_empty()),
            None => None,
        },
        ..Default::default()
    };
    (!same_platform(&have, want)).then(|| have.to_string())
}

/// The image a new container is made from, pulled or not by podman's
/// `--pull` policy: `missing` (the default), `always`, `never`, `newer`
/// (a failed pull falls back to the local image).
pub fn ensure_image(
    store: &Store,
    name: &str,
    policy: &str,
    opts: &PullOptions,
) -> Result<ImageRecord> {
    let local = {
        let mut images = store.images.load_for(&[name])?;
        try_found(store, &mut images, name)?
    };
    // A local image of another platform than the one asked for stands
    // for nothing under `missing`: the right one is pulled (and the local
    // one used still, with a warning, when that fails).
    let other_platform = local
        .as_ref()
        .and_then(|img| other_platform(store, img, opts.platform.as_ref()));
    let pull = match (policy, &local) {
        ("always" | "newer", _) => true,
        ("missing", None) => true,
        ("missing", Some(_)) => other_platform.is_some(),
        ("never", None) => bail!("{name}: image not known"),
        ("never", Some(_)) => false,
        (other, _) => bail!("invalid pull policy {other:?}: use always, missing, never or newer"),
    };
    if !pull {
        let img = local.expect("found above");
        // A list stands for its image for this platform, as in podman.
        if crate::storage::manifest_lists::is_list(&img) {
            return super::manifest_instance::local_instance(store, &img, opts.platform.as_ref());
        }
        return Ok(img);
    }
    match pull_image(store, name, opts) {
        Ok(img) => Ok(img),
        Err(e) if policy == "newer" && local.is_some() => {
            crate::warn!("{e:#}; using the local image");
            Ok(local.expect("found above"))
        }
        Err(e) if other_platform.is_some() => {
            crate::warn!(
                "{e:#}; using the local image, whose platform is {}",
                other_platform.expect("checked")
            );
            Ok(local.expect("found above"))
        }
        Err(e) => Err(e),
    }
}
