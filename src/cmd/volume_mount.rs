//! `volume mount|unmount VOLUME...`: podman's output (the path, the name).

use super::output::{for_each_reported, println};
use super::GlobalOpts;
use crate::engine::types::path_str;
use crate::engine::volume_mount;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct MountArgs {
    #[arg(required = true)]
    pub volumes: Vec<String>,
}

pub fn mount(g: &GlobalOpts, a: MountArgs) -> Result<()> {
    let store = g.open_store()?;
    for_each_reported(
        &a.volumes,
        |v| v.as_str(),
        true,
        |v| println(&path_str(&volume_mount::mount(&store, v)?)),
    )
}

pub fn unmount(g: &GlobalOpts, a: MountArgs) -> Result<()> {
    let store = g.open_store()?;
    for_each_reported(
        &a.volumes,
        |v| v.as_str(),
        false,
        |v| volume_mount::unmount(&store, v),
    )
}
