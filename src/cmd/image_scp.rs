//! `image scp`: copy an image to or from another user's storage on this
//! machine (engine/scp.rs).

use super::output::println;
use super::GlobalOpts;
use crate::engine::scp;
use crate::engine::types::SaveFormat;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct ScpArgs {
    /// The image: IMAGE, or USER@localhost::IMAGE for another user's
    pub source: String,
    /// Where to: USER@localhost::[NEWNAME] (default: the user who ran sudo)
    pub destination: Option<String>,
    /// Format of the transfer archive: docker-archive or oci-archive
    #[arg(long, default_value = "docker-archive", value_name = "FORMAT")]
    pub format: String,
    /// Suppress the output
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn scp(g: &GlobalOpts, a: ScpArgs) -> Result<()> {
    let format = SaveFormat::parse(&a.format)?;
    let store = g.open_store()?;
    let loaded = scp::scp(
        &store,
        &scp::ScpRequest {
            source: &a.source,
            destination: a.destination.as_deref(),
            format,
            quiet: a.quiet,
        },
    )?;
    if !a.quiet {
        for n in loaded {
            println(&format!("Loaded image: {n}"))?;
        }
    }
    Ok(())
}
