//! `container runlabel LABEL IMAGE [ARG...]`: run the command an image's
//! label holds (`--display` only prints it).

use super::registry_flags::RegistryFlags;
use super::GlobalOpts;
use crate::engine::runlabel::{self, RunLabel};
use crate::engine::types::PullOptions;
use crate::error::SilentExit;
use anyhow::{Context, Result};
use clap::Args;
use std::process::Stdio;

#[derive(Args, Debug)]
pub struct RunlabelArgs {
    /// Display the label's value of the image having populated its environment variables
    #[arg(long)]
    pub display: bool,
    /// Assign a name to the container
    #[arg(short, long)]
    pub name: Option<String>,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub quiet: bool,
    /// Replace existing container with a new one from the image
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    pub label: String,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub fn runlabel(g: &GlobalOpts, a: RunlabelArgs) -> Result<()> {
    let store = g.open_store()?;
    let cmd = runlabel::command(
        &store,
        &RunLabel {
            label: a.label,
            image: a.image,
            name: a.name,
            args: a.args,
            pull: PullOptions {
                client: a.registry.client_options()?,
                quiet: a.quiet,
                ..Default::default()
            },
        },
    )?;
    if a.display {
        let me = std::env::args().next().unwrap_or_else(|| "coracle".into());
        let shown: Vec<&str> = std::iter::once(me.as_str())
            .chain(cmd[1..].iter().map(String::as_str))
            .collect();
        return super::output::println(&format!("command: {}", shown.join(" ")));
    }
    if a.replace {
        runlabel::remove_named(&store, &cmd)?;
    }
    let mut run = std::process::Command::new(&cmd[0]);
    run.args(&cmd[1..]).env("PODMAN_RUNLABEL_NESTED", "1");
    if a.quiet {
        run.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    let status = run
        .status()
        .with_context(|| format!("running {}", cmd[0]))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(SilentExit(code).into()),
        None => Err(SilentExit(125).into()),
    }
}
