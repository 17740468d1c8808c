//! Verbs that move files between containers, images and tarballs:
//! commit, diff, export, import, cp.

use super::output::{print, println};
use super::GlobalOpts;
use crate::engine::commit as engine;
use crate::engine::images::local_name;
use crate::engine::lookup::container_id;
use crate::engine::types::{ChangeKind, CommitOptions, ImageFormat, ImageRecord};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

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
    /// Pause a running container while its image is made
    #[arg(short, long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub pause: Option<bool>,
    /// Include in the image, as VOLUMEs, the volumes and bind mounts given to the container with --volume or --mount
    #[arg(long)]
    pub include_volumes: bool,
    /// Squash the container's tree, its image's layers included, into one new layer
    #[arg(short, long)]
    pub squash: bool,
    /// Suppress output
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to the file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<std::path::PathBuf>,
    /// File containing a container configuration (Docker's Schema2Config JSON) to merge into the image
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    pub container: String,
    pub image: Option<String>,
}

pub fn commit(g: &GlobalOpts, a: CommitArgs) -> Result<()> {
    // read before the store is touched: a bad file changes nothing
    let override_config = a
        .config
        .as_deref()
        .map(engine::read_override_config)
        .transpose()?;
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
        squash: a.squash,
        include_volumes: a.include_volumes,
        override_config,
        ..CommitOptions::default()
    };
    let img = engine::commit_container(&store, &id, opts, a.pause.unwrap_or(false))
        .with_context(|| format!("committing container {}", a.container))?;
    progress(a.quiet, &img);
    if let Some(path) = &a.iidfile {
        std::fs::write(path, &img.id).with_context(|| format!("writing {}", path.display()))?;
    }
    println(&img.id)
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Change the output format (json)
    #[arg(long)]
    pub format: Option<String>,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Container (or image) to inspect
    pub name: Option<String>,
    /// Compare with this container or image instead of the parent layer
    pub other: Option<String>,
}

pub fn diff(g: &GlobalOpts, a: DiffArgs) -> Result<()> {
    let store = g.open_store()?;
    let (name, other) = match (a.latest, a.name, a.other) {
        (true, None, None) => (crate::engine::containers::latest_id(&store)?, None),
        (true, _, _) => bail!("--latest and containers cannot be used together"),
        (false, Some(n), other) => (n, other),
        (false, None, _) => bail!("a container or image name is required"),
    };
    let list = crate::engine::diff::changes(
        &store,
        &name,
        other.as_deref(),
        crate::engine::diff::Kinds::ContainersOrImages,
    )?;
    print_changes(&list, a.format.as_deref())
}

/// podman's `diff` output: `K /path` lines, or `--format json`.
pub fn print_changes(list: &[(String, ChangeKind)], format: Option<&str>) -> Result<()> {
    match format {
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
            for (p, k) in list {
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
    engine::export(&store, &id, move || {
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
    /// Set the architecture of the imported image
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Set the OS of the imported image
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Set the variant of the imported image
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
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
    let source = if a.source == "-" {
        engine::ImportSource::Stdin
    } else if a.source.starts_with("http://") || a.source.starts_with("https://") {
        engine::ImportSource::Url(a.source.clone())
    } else {
        engine::ImportSource::File(PathBuf::from(&a.source))
    };
    let opts = CommitOptions {
        message: a.message.clone(),
        changes: a.change.clone(),
        names,
        ..CommitOptions::default()
    };
    let platform = engine::ImportPlatform {
        os: a.os.clone(),
        arch: a.arch.clone(),
        variant: a.variant.clone(),
    };
    let img = engine::import(&store, &source, opts, a.reference.as_deref(), &platform)?;
    progress(a.quiet, &img);
    println(&img.id)
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Chown copied files to the primary uid/gid of the destination container
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub archive: bool,
    /// Allow directories to be overwritten with non-directories and vice versa
    #[arg(long)]
    pub overwrite: bool,
    /// Follow symbolic links in SRC_PATH: copy what they point to
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// SRC: a host path, CONTAINER:PATH, or - (a tar on stdin)
    pub source: String,
    /// DEST: a host path, CONTAINER:PATH, or - (a tar on stdout)
    pub dest: String,
}

pub fn cp(g: &GlobalOpts, a: CpArgs) -> Result<()> {
    let store = g.open_store()?;
    let src = engine::endpoint(&store, &a.source)?;
    let dst = engine::endpoint(&store, &a.dest)?;
    engine::copy(&store, &src, &dst, a.archive, a.overwrite, a.follow_link)
}
