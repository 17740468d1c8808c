//! `healthcheck run`: run a container's healthcheck now.

use super::output::println;
use super::GlobalOpts;
use crate::engine::{health, lookup};
use crate::error::SilentExit;
use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum HealthcheckCommand {
    /// Run the healthcheck of a container
    Run(RunArgs),
}

pub fn dispatch(g: &GlobalOpts, c: HealthcheckCommand) -> Result<()> {
    match c {
        HealthcheckCommand::Run(a) => run(g, a),
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Exit with code 0 regardless of the result, or of the container still starting
    #[arg(long)]
    pub ignore_result: bool,
    /// The container
    pub container: String,
}

/// podman's exit codes: 0 healthy, 1 not (the status printed), 125 error.
fn run(g: &GlobalOpts, a: RunArgs) -> Result<()> {
    let store = g.open_store()?;
    let id = lookup::container_id(&store, &a.container)?;
    let status = health::run_check(&store, &id)?;
    if status == "healthy" {
        return Ok(());
    }
    println(&status)?;
    if a.ignore_result {
        return Ok(());
    }
    Err(SilentExit(1).into())
}
