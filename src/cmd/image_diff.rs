//! `image diff IMAGE [IMAGE]`: an image's changes against its parent
//! layer, or against another image.

use super::GlobalOpts;
use crate::engine::diff::{self, Kinds};
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct ImageDiffArgs {
    /// Change the output format (json)
    #[arg(long)]
    pub format: Option<String>,
    /// Image to inspect
    pub image: String,
    /// Compare with this image instead of the parent layer
    pub other: Option<String>,
}

pub fn diff(g: &GlobalOpts, a: ImageDiffArgs) -> Result<()> {
    let store = g.open_store()?;
    let list = diff::changes(&store, &a.image, a.other.as_deref(), Kinds::Images)?;
    super::commit::print_changes(&list, a.format.as_deref())
}
