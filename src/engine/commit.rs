//! Images made from containers and tarballs (commit, import), what a
//! container changed (diff), and copying in and out of containers (cp,
//! export). Layer files show their container-side owners only inside the
//! rootless user namespace, so that work runs there.

use super::lookup::container_id;
use crate::registry::resolve::try_find_image;
use crate::runtime::cp::{self, CopyOptions, Endpoint};
use crate::runtime::userns::{self, IdMaps};
use crate::storage::commit::{self, ChangeKind, CommitOptions};
use crate::storage::events::{self, Event};
use crate::storage::images::ImageRecord;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// Run `f` where layer files show their container-side owners: rootless in
/// a child inside the user namespace, else here. `f` returns an image id.
fn in_storage_userns(store: &Store, f: impl FnOnce() -> Result<String>) -> Result<ImageRecord> {
    let id = if store.rootless && !userns::in_user_namespace() {
        let maps = IdMaps::for_current_user()?;
        let bytes = userns::run_in_child_userns(&maps, || f().map(String::into_bytes))?;
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        f()?
    };
    store
        .images
        .load()?
        .by_id(&id)
        .cloned()
        .with_context(|| format!("image {id} is not in the store"))
}

/// `--change` instructions (CMD, ENV, ...) are applied as a Containerfile's.
fn with_change_instructions(mut opts: CommitOptions) -> CommitOptions {
    opts.apply_changes
        .get_or_insert(crate::build::changes::apply_changes);
    opts
}

/// `commit --config FILE`: the Docker container configuration to merge,
/// read and checked before anything is made.
pub fn read_override_config(path: &std::path::Path) -> Result<serde_json::Value> {
    let data = std::fs::read(path).with_context(|| format!("--config: {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&data)
        .with_context(|| format!("--config {}: not JSON", path.display()))?;
    crate::storage::image_config::merge_override(&mut Default::default(), &v)
        .with_context(|| format!("--config {}", path.display()))?;
    Ok(v)
}

/// Write a container's root filesystem as a tar to what `out` opens (in
/// the child that sees the container's root).
pub fn export(
    store: &Store,
    id: &str,
    out: impl FnOnce() -> Result<Box<dyn std::io::Write>>,
) -> Result<()> {
    cp::export(store, id, out)
}

/// Make an image of container `id`'s changes (with `opts.squash`, of its
/// whole tree as one layer). With `pause`, a running container is frozen
/// meanwhile, so the image is one moment of it.
pub fn commit_container(
    store: &Store,
    id: &str,
    opts: CommitOptions,
    pause: bool,
) -> Result<ImageRecord> {
    use crate::storage::containers::Status;
    let opts = with_change_instructions(opts);
    // Its image is another image store's (it was made with another
    // --imagestore, or none): a new image here would name an image and
    // layers this store does not have.
    let cfg = store.containers.load_config(id)?;
    if !cfg.layers.is_empty() && cfg.image_store != store.image_store {
        let made_with = match &cfg.image_store {
            Some(dir) => format!("--imagestore {}", dir.display()),
            None => "no --imagestore".to_string(),
        };
        bail!(
            "container {} was made on the images of another image store: commit it with {made_with}",
            cfg.name
        );
    }
    let frozen = pause && super::containers::status_is(store, id, Status::Running);
    if frozen {
        super::containers::pause(store, id)?;
    }
    let made = if opts.squash {
        commit_squashed(store, id, &opts)
    } else {
        in_storage_userns(store, || {
            commit::commit_container(store, id, &opts).map(|i| i.id)
        })
    };
    if made.is_ok() {
        if let Ok(cfg) = store.containers.load_config(id) {
            events::container(store, "commit", &cfg);
        }
    }
    if frozen {
        super::containers::unpause(store, id)?;
    }
    made
}

/// The container's whole tree, as `export` writes it, unpacked as one layer.
fn commit_squashed(store: &Store, id: &str, opts: &CommitOptions) -> Result<ImageRecord> {
    let tmp = store.image_tmp();
    std::fs::create_dir_all(&tmp)?;
    let path = crate::storage::leftovers::temp_name(&tmp, "squash-");
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    // Gone from the directory at once: the open file is all we need.
    let _ = std::fs::remove_file(&path);
    let out = file.try_clone()?;
    cp::export(store, id, move || {
        Ok(Box::new(out) as Box<dyn std::io::Write>)
    })?;
    in_storage_userns(store, || {
        use std::io::Seek;
        let mut input = file;
        input.rewind()?;
        let layer = commit::layer_from_tar(store, std::io::BufReader::new(input))?;
        commit::commit_container_layer(store, id, layer, opts).map(|i| i.id)
    })
}

/// podman leaves out what the runtime itself puts in every container.
pub(super) const INIT_PATHS: [&str; 11] = [
    "/dev",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/proc",
    "/run",
    "/run/notify",
    "/run/.containerenv",
    "/run/secrets",
    "/sys",
    "/etc/mtab",
];

/// What a container (or an image's top layer) changed, as `diff` lists it.
pub fn changes(store: &Store, name: &str) -> Result<Vec<(String, ChangeKind)>> {
    let (upper, lowers, container) = match super::lookup::try_container_id(store, name)? {
        Some(id) => {
            let cfg = store.containers.load_config(&id)?;
            if crate::runtime::monitor::uses_copied_rootfs(store, &cfg) {
                bail!("diff of container {}: its root filesystem is a full copy (vfs driver or --userns=keep-id), not a set of changes", cfg.name);
            }
            let lowers: Vec<PathBuf> = match &cfg.launch.rootfs {
                Some(r) if r.overlay => vec![PathBuf::from(&r.path)],
                Some(r) => bail!("diff of container {}: its root filesystem is the directory {} itself (--rootfs), not a set of changes", cfg.name, r.path),
                None => {
                    let layers = store.container_layers(&cfg);
                    cfg.layers.iter().rev().map(|d| layers.diff_dir(d)).collect()
                }
            };
            (store.containers.dir(&id).join("upper"), lowers, true)
        }
        None => {
            let images = store.images.load()?;
            let Some(img) = try_find_image(&images, name)? else {
                return Err(crate::error::not_found(
                    "container or image",
                    name.to_string(),
                ));
            };
            let (top, rest) = img.layers.split_last().context("the image has no layers")?;
            let lowers = rest
                .iter()
                .rev()
                .map(|d| store.layers.diff_dir(d))
                .collect();
            (store.layers.diff_dir(top), lowers, false)
        }
    };
    let prefix = store.xattr_prefix();
    let walk = || commit::changes(&upper, &lowers, prefix);
    let list = if store.rootless && !userns::in_user_namespace() {
        let maps = IdMaps::for_current_user()?;
        let bytes = userns::run_in_child_userns(&maps, || {
            let l = walk()?;
            let v: Vec<(String, u8)> = l.into_iter().map(|(p, k)| (p, k as u8)).collect();
            Ok(serde_json::to_vec(&v)?)
        })?;
        let v: Vec<(String, u8)> = serde_json::from_slice(&bytes)?;
        v.into_iter()
            .map(|(p, k)| {
                let k = match k {
                    0 => ChangeKind::Changed,
                    1 => ChangeKind::Added,
                    _ => ChangeKind::Deleted,
                };
                (p, k)
            })
            .collect()
    } else {
        walk()?
    };
    let list: Vec<(String, ChangeKind)> = list
        .into_iter()
        .filter(|(p, _)| !container || !INIT_PATHS.contains(&p.as_str()))
        .collect();
    Ok(list)
}

/// Where an import reads its tarball.
pub enum ImportSource {
    Stdin,
    Url(String),
    File(PathBuf),
}

/// `import --os/--arch/--variant`: what the image says it runs on
/// (the host's when not given).
#[derive(Debug, Default, Clone)]
pub struct ImportPlatform {
    pub os: Option<String>,
    pub arch: Option<String>,
    pub variant: Option<String>,
}

/// Make a one-layer image of a root filesystem tarball.
pub fn import(
    store: &Store,
    source: &ImportSource,
    opts: CommitOptions,
    name: Option<&str>,
    platform: &ImportPlatform,
) -> Result<ImageRecord> {
    let opts = with_change_instructions(opts);
    let shown = match source {
        ImportSource::Stdin => "-".to_string(),
        ImportSource::Url(u) => u.clone(),
        ImportSource::File(p) => {
            // Fail before forking, with the path in the message.
            std::fs::metadata(p).with_context(|| format!("opening {}", p.display()))?;
            p.display().to_string()
        }
    };
    let img = in_storage_userns(store, || {
        let input: Box<dyn std::io::Read> = match source {
            ImportSource::Stdin => Box::new(std::io::stdin().lock()),
            ImportSource::Url(u) => {
                let resp = ureq::get(u)
                    .call()
                    .with_context(|| format!("fetching {u}"))?;
                Box::new(resp.into_body().into_reader())
            }
            ImportSource::File(p) => {
                Box::new(std::fs::File::open(p).with_context(|| format!("opening {shown}"))?)
            }
        };
        let layer =
            commit::layer_from_tar(store, input).with_context(|| format!("importing {shown}"))?;
        let mut opts = opts;
        opts.history_created_by = Some(format!(
            "/bin/sh -c #(nop) ADD file:{} in /",
            layer.diff_id.hex()
        ));
        let set_platform = |c: &mut crate::storage::image_config::ImageConfig| {
            if let Some(os) = &platform.os {
                c.os = os.clone();
            }
            if let Some(arch) = &platform.arch {
                c.architecture = arch.clone();
            }
            if let Some(v) = &platform.variant {
                c.variant = Some(v.clone());
            }
        };
        commit::image_from_layers(store, None, Some(layer), set_platform, &opts).map(|i| i.id)
    })?;
    events::append(
        store,
        Event::image("import", &img.id, name.unwrap_or(&img.id)),
    );
    Ok(img)
}

/// A `cp` argument: a host path, `CONTAINER:PATH`, or `-`.
pub fn endpoint(store: &Store, arg: &str) -> Result<Endpoint> {
    if arg == "-" {
        return Ok(Endpoint::Stream);
    }
    // `name:path` names a container when `name` is one; paths that start
    // like a path never do.
    if !arg.starts_with('/') && !arg.starts_with('.') {
        if let Some((name, path)) = arg.split_once(':') {
            if !name.is_empty() && !name.contains('/') {
                let id = container_id(store, name)?;
                let path = if path.is_empty() { "/" } else { path };
                let path = if path.starts_with('/') {
                    path.to_string()
                } else {
                    // Relative container paths start at its working dir.
                    let wd = store.containers.load_config(&id)?.workdir;
                    format!(
                        "{}/{path}",
                        if wd.is_empty() {
                            ""
                        } else {
                            wd.trim_end_matches('/')
                        }
                    )
                };
                return Ok(Endpoint::Container(id, path));
            }
        }
    }
    // Absolute: the copy runs in a child that may change directory.
    // std::path::absolute drops a trailing `/.` or `/`: they mean something here.
    let suffix = if arg.ends_with("/.") || arg == "." {
        "/."
    } else if arg.ends_with('/') {
        "/"
    } else {
        ""
    };
    let mut p = std::path::absolute(arg).with_context(|| format!("resolving {arg}"))?;
    if !p
        .as_os_str()
        .as_encoded_bytes()
        .ends_with(suffix.as_bytes())
    {
        p.as_mut_os_string().push(suffix);
    }
    Ok(Endpoint::Host(p))
}

/// `cp SRC DEST`; with `archive`, files copied into a container belong to
/// its user.
pub fn copy(
    store: &Store,
    src: &Endpoint,
    dst: &Endpoint,
    archive: bool,
    overwrite: bool,
    follow: bool,
) -> Result<()> {
    if *src == Endpoint::Stream && *dst == Endpoint::Stream {
        bail!("only one of the source and destination may be -");
    }
    let mut opts = CopyOptions {
        overwrite,
        follow,
        ..CopyOptions::default()
    };
    if let (true, Endpoint::Container(id, _)) = (archive, dst) {
        if *src != Endpoint::Stream {
            let cfg = store.containers.load_config(id)?;
            let user = crate::runtime::container::resolve_user(store, &cfg)?;
            opts.owner = Some((user.uid, user.gid));
        }
    }
    cp::copy(store, src, dst, &opts)
}
