//! `volume export|import`: a volume's contents to or from a tar stream.

use super::GlobalOpts;
use crate::engine::volume_archive;
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, default is STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    pub volume: String,
}

pub fn export(g: &GlobalOpts, a: ExportArgs) -> Result<()> {
    let store = g.open_store()?;
    match &a.output {
        Some(path) => {
            let mut f = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            volume_archive::export(&store, &a.volume, &mut f)?;
            f.sync_all()?;
        }
        None => {
            if super::output::stdout_is_terminal() {
                anyhow::bail!("refusing to export to terminal. Use -o flag or redirect");
            }
            let mut out = std::io::stdout().lock();
            volume_archive::export(&store, &a.volume, &mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    pub volume: String,
    /// A tar file, or `-` for standard input
    pub source: String,
}

pub fn import(g: &GlobalOpts, a: ImportArgs) -> Result<()> {
    let store = g.open_store()?;
    if a.source == "-" {
        volume_archive::import(&store, &a.volume, &mut std::io::stdin().lock())
    } else {
        let mut f =
            std::fs::File::open(&a.source).with_context(|| format!("opening {}", a.source))?;
        volume_archive::import(&store, &a.volume, &mut f)
    }
}
