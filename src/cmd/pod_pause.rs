//! `pod pause|unpause`: every container of the pods named (or all, or the
//! latest), each pod's id printed as it is done.

use super::GlobalOpts;
use crate::engine::{pod_pause, pods};
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct PauseArgs {
    /// Act on all pods
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    pub pods: Vec<String>,
}

pub fn pause(g: &GlobalOpts, a: PauseArgs, freeze: bool) -> Result<()> {
    let store = g.open_store()?;
    let list = pods::targets(&store, &a.pods, a.all, a.latest, false)?;
    super::output::for_each_reported(
        &list,
        |p| &p.id,
        false,
        |pod| {
            if freeze {
                pod_pause::pause(&store, pod)
            } else {
                pod_pause::unpause(&store, pod)
            }
        },
    )
}
