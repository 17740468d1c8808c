//! `update`, `pause`, `unpause`: change a container's cgroup while it runs.

use super::limits::LimitFlags;
use super::output::println;
use super::selection::{for_each, targets};
use super::GlobalOpts;
use crate::engine::containers;
use crate::engine::lookup::container_id;
use crate::engine::types::Status;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub limits: LimitFlags,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// The container to update
    #[arg(required_unless_present = "latest")]
    pub container: Option<String>,
}

pub fn update(g: &GlobalOpts, a: UpdateArgs) -> Result<()> {
    let store = g.open_store()?;
    let id = match &a.container {
        Some(c) if !a.latest => container_id(&store, c)?,
        _ => crate::engine::containers::latest_id(&store)?,
    };
    containers::update(&store, &id, |r| a.limits.apply_to(r))?;
    println(&id)
}

#[derive(Args, Debug)]
pub struct PauseArgs {
    /// Pause all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

pub fn pause(g: &GlobalOpts, a: PauseArgs) -> Result<()> {
    let store = g.open_store()?;
    let mut list = targets(&store, &a.containers, a.all, a.latest, false)?;
    if a.all {
        list.retain(|(_, id)| containers::status_is(&store, id, Status::Running));
    }
    for_each(&list, |_, id| containers::pause(&store, id), false)
}

pub fn unpause(g: &GlobalOpts, a: PauseArgs) -> Result<()> {
    let store = g.open_store()?;
    let mut list = targets(&store, &a.containers, a.all, a.latest, false)?;
    if a.all {
        list.retain(|(_, id)| containers::status_is(&store, id, Status::Paused));
    }
    for_each(&list, |_, id| containers::unpause(&store, id), false)
}
