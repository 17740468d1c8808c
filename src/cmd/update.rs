//! `update`, `pause`, `unpause`: change a container's cgroup while it runs.

use super::limits::LimitFlags;
use super::output::println;
use super::selection::{cidfile_names, filtered, for_each, targets};
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
    /// Read the container ID from the file
    #[arg(long = "cidfile", value_name = "FILE")]
    pub cidfile: Vec<String>,
    /// Act only on the containers these filters select (as ps --filter)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    pub containers: Vec<String>,
}

/// The containers `pause`/`unpause` act on: names, `--cidfile`s,
/// `--filter` (alone it means every container), and with `--all` or a
/// filter alone only those in status `from`.
fn pause_targets(
    store: &crate::engine::types::Store,
    mut a: PauseArgs,
    from: Status,
) -> Result<Vec<(String, String)>> {
    a.containers.extend(cidfile_names(&a.cidfile, false)?);
    let everything = a.all || (a.containers.is_empty() && !a.filter.is_empty() && !a.latest);
    let list = targets(store, &a.containers, everything, a.latest, false)?;
    let mut list = filtered(store, list, &a.filter)?;
    if everything {
        list.retain(|(_, id)| containers::status_is(store, id, from));
    }
    Ok(list)
}

pub fn pause(g: &GlobalOpts, a: PauseArgs) -> Result<()> {
    let store = g.open_store()?;
    let list = pause_targets(&store, a, Status::Running)?;
    for_each(&list, |_, id| containers::pause(&store, id), false)
}

pub fn unpause(g: &GlobalOpts, a: PauseArgs) -> Result<()> {
    let store = g.open_store()?;
    let list = pause_targets(&store, a, Status::Paused)?;
    for_each(&list, |_, id| containers::unpause(&store, id), false)
}
