//! Verbs that move files between containers, images and tarballs:
//! commit, diff, export, import, cp.

use super::output::{print, println};
use super::GlobalOpts;
use crate::engine::images::local_name;
use crate::engine::lookup::container_id;
use crate::registry::resolve::try_find_image;
use crate::runtime::cp::{self, CopyOptions, Endpoint};
use crate::runtime::userns::{self, IdMaps};
use crate::storage::commit::{self, ChangeKind, CommitOptions, ImageFormat};
use crate::storage::events::{self, Event};
use crate::storage::images::ImageRecord;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::IsTerminal;
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

fn progress(quiet: bool, img: &ImageRecord) {
    if quiet {
        return;
    }
    eprintln!("Getting image source signatures");
    if let Some(top) = img.layers.last() {
        eprintln!("Copying blob {} done", top.short());
    }
    eprintln!("Copying config {} done", &img.id[..12]);
    eprintln!("Writing manifest to image destination");
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Set the author for the image committed
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply the following possible instructions to the created image: CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | ONBUILD | STOPSIGNAL | USER | VOLUME | WORKDIR
    #[arg(short, long = "change", value_name = "CHANGE")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Format of the image manifest and metadata (oci or docker)
    #[arg(short, long, default_value = "oci")]
    pub format: String,
    /// Pause container during commit (accepted; the upper dir is read as it is)
    #[arg(short, long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub pause: Option<bool>,
    /// Suppress output
    #[arg(short, long)]
    pub quiet: bool,
    pub container: String,
    pub image: Option<String>,
}

pub fn commit(g: &GlobalOpts, a: CommitArgs) -> Result<()> {
    let store = g.open_store()?;
    let id = container_id(&store, &a.container)?;
    let mut names = Vec::new();
    if let Some(n) = &a.image {
        names.push(local_name(n)?);
    }
    let opts = CommitOptions {
        author: a.author.clone(),
        message: a.message.clone(),
        changes: a.change.clone(),
        format: a.format.parse::<ImageFormat>()?,
        names,
        apply_changes: Some(crate::build::changes::apply_changes),
        ..CommitOptions::default()
    };
    let img = in_storage_userns(&store, || {
        commit::commit_container(&store, &id, &opts).map(|i| i.id)
    })
    .with_context(|| format!("committing container {}", a.container))?;
    if let Ok(cfg) = store.containers.load_config(&id) {
        events::container(&store, "commit", &cfg);
    }
    progress(a.quiet, &img);
    println(&img.id)
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Change the output format (json)
    #[arg(long)]
    pub format: Option<String>,
    /// Container (or image) to inspect
    pub name: String,
}

/// podman leaves out what the runtime itself puts in every container.
const INIT_PATHS: [&str; 11] = [
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

pub fn diff(g: &GlobalOpts, a: DiffArgs) -> Result<()> {
    let store = g.open_store()?;
    let (upper, lowers, container) = match crate::engine::lookup::try_container_id(&store, &a.name)?
    {
        Some(id) => {
            let cfg = store.containers.load_config(&id)?;
            if crate::runtime::monitor::uses_copied_rootfs(&store, &cfg) {
                bail!("diff of container {}: its root filesystem is a full copy (vfs driver or --userns=keep-id), not a set of changes", cfg.name);
            }
            let lowers: Vec<PathBuf> = cfg
                .layers
                .iter()
                .rev()
                .map(|d| store.layers.diff_dir(d))
                .collect();
            (store.containers.dir(&id).join("upper"), lowers, true)
        }
        None => {
            let images = store.images.load()?;
            let Some(img) = try_find_image(&images, &a.name)? else {
                return Err(crate::error::not_found(
                    "container or image",
                    a.name.clone(),
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
    match a.format.as_deref() {
        Some("json") => {
            let pick = |k: ChangeKind| -> Vec<&str> {
                list.iter()
                    .filter(|(_, c)| *c == k)
                    .map(|(p, _)| p.as_str())
                    .collect()
            };
            let mut obj = serde_json::Map::new();
            for (key, k) in [
                ("changed", ChangeKind::Changed),
                ("added", ChangeKind::Added),
                ("deleted", ChangeKind::Deleted),
            ] {
                let v = pick(k);
                if !v.is_empty() {
                    obj.insert(key.to_string(), serde_json::json!(v));
                }
            }
            println(&crate::format::table::json_compact(
                &serde_json::Value::Object(obj),
            ))
        }
        None | Some("") => {
            let mut out = String::new();
            for (p, k) in &list {
                let c = match k {
                    ChangeKind::Changed => 'C',
                    ChangeKind::Added => 'A',
                    ChangeKind::Deleted => 'D',
                };
                out.push_str(&format!("{c} {p}\n"));
            }
            print(&out)
        }
        Some(other) => bail!("unknown --format {other:?}: only json is supported"),
    }
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a specified file (default: stdout, which must be redirected)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

pub fn export(g: &GlobalOpts, a: ExportArgs) -> Result<()> {
    let store = g.open_store()?;
    let id = container_id(&store, &a.container)?;
    if a.output.is_none() && std::io::stdout().is_terminal() {
        bail!("refusing to export to terminal. Use -o flag or redirect");
    }
    // Made here, outside any namespace: the file belongs to the caller.
    let file = match &a.output {
        Some(p) => {
            Some(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => None,
    };
    cp::export(&store, &id, move || {
        Ok(match file {
            Some(f) => Box::new(f),
            None => Box::new(std::io::stdout().lock()),
        })
    })
    .with_context(|| format!("exporting container {}", a.container))
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply the following possible instructions to the created image
    #[arg(short, long = "change", value_name = "CHANGE")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Suppress output
    #[arg(short, long)]
    pub quiet: bool,
    /// A tarball (plain, gzip or zstd), an http(s) URL, or - for stdin
    pub source: String,
    pub reference: Option<String>,
}

pub fn import(g: &GlobalOpts, a: ImportArgs) -> Result<()> {
    let store = g.open_store()?;
    let mut names = Vec::new();
    if let Some(n) = &a.reference {
        names.push(local_name(n)?);
    }
    let source = a.source.clone();
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    if !is_url && source != "-" {
        // Fail before forking, with the path in the message.
        std::fs::metadata(&source).with_context(|| format!("opening {source}"))?;
    }
    let opts = CommitOptions {
        message: a.message.clone(),
        changes: a.change.clone(),
        names,
        apply_changes: Some(crate::build::changes::apply_changes),
        ..CommitOptions::default()
    };
    let img = in_storage_userns(&store, || {
        let input: Box<dyn std::io::Read> = if source == "-" {
            Box::new(std::io::stdin().lock())
        } else if is_url {
            let resp = ureq::get(&source)
                .call()
                .with_context(|| format!("fetching {source}"))?;
            Box::new(resp.into_body().into_reader())
        } else {
            Box::new(std::fs::File::open(&source).with_context(|| format!("opening {source}"))?)
        };
        let layer =
            commit::layer_from_tar(&store, input).with_context(|| format!("importing {source}"))?;
        let mut opts = opts;
        opts.history_created_by = Some(format!(
            "/bin/sh -c #(nop) ADD file:{} in /",
            layer.diff_id.hex()
        ));
        commit::image_from_layers(&store, None, Some(layer), |_| {}, &opts).map(|i| i.id)
    })?;
    let name = a.reference.as_deref().unwrap_or(&img.id);
    events::append(&store, Event::image("import", &img.id, name));
    progress(a.quiet, &img);
    println(&img.id)
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Chown copied files to the primary uid/gid of the destination container
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub archive: bool,
    /// Allow directories to be overwritten with non-directories and vice versa (accepted)
    #[arg(long)]
    pub overwrite: bool,
    /// SRC: a host path, CONTAINER:PATH, or - (a tar on stdin)
    pub source: String,
    /// DEST: a host path, CONTAINER:PATH, or - (a tar on stdout)
    pub dest: String,
}

fn endpoint(store: &Store, arg: &str) -> Result<Endpoint> {
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

pub fn cp(g: &GlobalOpts, a: CpArgs) -> Result<()> {
    let store = g.open_store()?;
    let src = endpoint(&store, &a.source)?;
    let dst = endpoint(&store, &a.dest)?;
    if src == Endpoint::Stream && dst == Endpoint::Stream {
        bail!("only one of the source and destination may be -");
    }
    let mut opts = CopyOptions::default();
    if let (true, Endpoint::Container(id, _)) = (a.archive, &dst) {
        if src != Endpoint::Stream {
            let cfg = store.containers.load_config(id)?;
            let user = crate::runtime::container::resolve_user(&store, &cfg)?;
            opts.owner = Some((user.uid, user.gid));
        }
    }
    cp::copy(&store, &src, &dst, &opts)
}
