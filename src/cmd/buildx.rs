//! `buildx` (also `builder`), docker's spellings that podman accepts:
//! `buildx build` is `build`, `builder prune` is `image prune`.

use super::GlobalOpts;
use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum BuildxCommand {
    /// Build an image from a Containerfile (the same as `build`)
    Build(Box<super::build::BuildArgs>),
    /// Remove unused images (the same as `image prune`)
    Prune(super::image_list::PruneArgs),
}

pub fn dispatch(g: &GlobalOpts, c: BuildxCommand) -> Result<()> {
    match c {
        BuildxCommand::Build(a) => super::build::build(g, *a),
        BuildxCommand::Prune(a) => super::image_list::prune(g, a),
    }
}
