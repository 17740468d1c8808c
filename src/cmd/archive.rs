//! Images to and from files: save, load.

use super::output::println;
use super::GlobalOpts;
use crate::registry::archive::{self, LoadInput, SaveFormat, SaveImage, SaveOptions, SaveTarget};
use crate::registry::resolve::{find_image, try_find_image};
use crate::storage::events::{self, Event};
use crate::storage::images::{ImageRecord, Images};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a specified file (default: stdout, which must be redirected)
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Save image to docker-archive, oci-archive, oci-dir or docker-dir
    #[arg(long, default_value = "docker-archive", value_name = "FORMAT")]
    pub format: String,
    /// Interpret additional arguments as images, not tags, and save them all
    #[arg(short, long)]
    pub multi_image_archive: bool,
    /// Compress tarball image layers when saving to a directory (docker-dir)
    #[arg(long)]
    pub compress: bool,
    /// Accept uncompressed layers when saving an OCI image
    #[arg(long)]
    pub uncompressed: bool,
    /// Suppress the output
    #[arg(short, long)]
    pub quiet: bool,
    /// Images to save (names or ids)
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from specified archive file or OCI layout directory (default: stdin)
    #[arg(short, long, value_name = "PATH")]
    pub input: Option<PathBuf>,
    /// Suppress the progress output
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn save(g: &GlobalOpts, a: SaveArgs) -> Result<()> {
    // Opened once, here: saving may enter the user namespace, after which
    // the store's location could no longer be worked out.
    let store = g.open_store()?;
    let images = store.images.load()?;
    let saved: Vec<(String, String)> = a
        .images
        .iter()
        .filter_map(|t| match try_find_image(&images, t) {
            Ok(Some(rec)) => Some((rec.id.clone(), t.clone())),
            _ => None,
        })
        .collect();
    save_images(&store, &images, a)?;
    for (id, name) in &saved {
        events::append(&store, Event::image("save", id, name));
    }
    Ok(())
}

fn save_images(store: &crate::storage::store::Store, images: &Images, a: SaveArgs) -> Result<()> {
    let format = SaveFormat::parse(&a.format)?;
    if a.compress && format != SaveFormat::DockerDir {
        bail!("--compress can only be set when --format is docker-dir");
    }
    let chosen = choose_images(images, &a.images, format, a.multi_image_archive)?;
    let opts = SaveOptions {
        format,
        compress: a.compress,
        uncompressed: a.uncompressed,
        quiet: a.quiet,
    };
    if format.is_dir() {
        let Some(dir) = &a.output else {
            bail!("--format {} needs -o DIRECTORY", a.format);
        };
        crate::runtime::userns::enter_for_storage(store)?;
        return archive::save(store, &chosen, SaveTarget::Dir(dir), &opts);
    }
    match &a.output {
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                bail!("refusing to save to terminal. Use -o flag or redirect");
            }
            crate::runtime::userns::enter_for_storage(store)?;
            let mut out = std::io::BufWriter::with_capacity(256 << 10, stdout.lock());
            archive::save(store, &chosen, SaveTarget::Stream(&mut out), &opts)?;
            out.flush().context("writing the archive")
        }
        Some(path) => {
            crate::runtime::userns::enter_for_storage(store)?;
            save_to_file(path, |w| {
                archive::save(store, &chosen, SaveTarget::Stream(w), &opts)
            })
        }
    }
}

/// Write through a temp sibling renamed into place: `path` is never left
/// half written.
fn save_to_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    // A pipe or device (`-o /dev/stdout`) cannot be renamed over.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut w = std::io::BufWriter::with_capacity(256 << 10, file);
        write(&mut w)?;
        return w
            .flush()
            .with_context(|| format!("writing {}", path.display()));
    }
    let tmp = crate::storage::atomic::temp_sibling(path);
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(256 << 10, file);
    let result = write(&mut w).and_then(|()| {
        let f = w
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", path.display()))?;
        f.sync_all()
            .with_context(|| format!("writing {}", path.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The images to save and the names each goes under. Without
/// `-m`, docker-archive takes one image and the other arguments are more
/// names for it, as podman.
fn choose_images(
    images: &Images,
    typed: &[String],
    format: SaveFormat,
    multi: bool,
) -> Result<Vec<SaveImage>> {
    let mut out: Vec<SaveImage> = Vec::new();
    for t in typed {
        let rec = find_image(images, t)?;
        let name = matched_name(rec, t)?;
        match out.iter_mut().find(|s| s.record.id == rec.id) {
            Some(s) => s.names.extend(name.filter(|n| !s.names.contains(n))),
            None => out.push(SaveImage {
                record: rec.clone(),
                names: name.into_iter().collect(),
            }),
        }
    }
    if out.len() > 1 {
        match format {
            SaveFormat::DockerArchive if !multi => bail!(
                "the names given are {} different images: use -m (--multi-image-archive) to save several images",
                out.len()
            ),
            SaveFormat::DockerDir => bail!("docker-dir holds one image: save the others separately"),
            _ => {}
        }
    }
    Ok(out)
}

/// The stored name `typed` found, None when it was an id.
fn matched_name(rec: &ImageRecord, typed: &str) -> Result<Option<String>> {
    let bare = typed.strip_prefix("sha256:").unwrap_or(typed);
    if rec.id.starts_with(bare) {
        return Ok(None);
    }
    for n in &rec.names {
        let one = Images {
            list: vec![ImageRecord {
                names: vec![n.clone()],
                ..rec.clone()
            }],
        };
        if try_find_image(&one, typed)?.is_some() {
            return Ok(Some(n.clone()));
        }
    }
    Ok(None)
}

pub fn load(g: &GlobalOpts, a: LoadArgs) -> Result<()> {
    let store = g.open_store()?;
    let what = match &a.input {
        Some(p) => p.display().to_string(),
        None => "stdin".to_string(),
    };
    let input = match a.input {
        Some(p) => LoadInput::Path(p),
        None => {
            if std::io::stdin().is_terminal() {
                bail!(
                    "cannot read from terminal, use command-line redirection or the --input flag"
                );
            }
            LoadInput::Stream(Box::new(std::io::stdin()))
        }
    };
    // Unpacked files get their container owners inside the user namespace.
    crate::runtime::userns::enter_for_storage(&store)?;
    let loaded =
        archive::load(&store, input, a.quiet).with_context(|| format!("loading {what}"))?;
    for img in loaded {
        let name = img.names.first().unwrap_or(&img.id);
        events::append(&store, Event::image("load", &img.id, name));
        if img.names.is_empty() {
            println(&format!("Loaded image: sha256:{}", img.id))?;
        }
        for n in &img.names {
            println(&format!("Loaded image: {n}"))?;
        }
    }
    Ok(())
}
