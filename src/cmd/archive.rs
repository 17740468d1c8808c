//! Images to and from files: save, load.

use super::output::println;
use super::GlobalOpts;
use crate::engine::transfer;
use crate::engine::types::{LoadInput, SaveFormat, SaveOptions};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

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
    let format = SaveFormat::parse(&a.format)?;
    if a.compress && format != SaveFormat::DockerDir {
        bail!("--compress can only be set when --format is docker-dir");
    }
    let s = transfer::Save {
        images: &a.images,
        format,
        multi_image: a.multi_image_archive,
        options: SaveOptions {
            format,
            compress: a.compress,
            uncompressed: a.uncompressed,
            quiet: a.quiet,
        },
    };
    if format.is_dir() {
        let Some(dir) = &a.output else {
            bail!("--format {} needs -o DIRECTORY", a.format);
        };
        return transfer::save_images(&store, &s, transfer::SaveTo::Dir(dir));
    }
    match &a.output {
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                bail!("refusing to save to terminal. Use -o flag or redirect");
            }
            let mut out = std::io::BufWriter::with_capacity(256 << 10, stdout.lock());
            transfer::save_images(&store, &s, transfer::SaveTo::Stream(&mut out))?;
            out.flush().context("writing the archive")
        }
        Some(path) => transfer::save_to_file(path, |w| {
            transfer::save_images(&store, &s, transfer::SaveTo::Stream(w))
        }),
    }
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
    let loaded =
        transfer::load_images(&store, input, a.quiet).with_context(|| format!("loading {what}"))?;
    for img in loaded {
        if img.names.is_empty() {
            println(&format!("Loaded image: sha256:{}", img.id))?;
        }
        for n in &img.names {
            println(&format!("Loaded image: {n}"))?;
        }
    }
    Ok(())
}
