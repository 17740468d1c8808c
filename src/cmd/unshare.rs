//! `unshare`: a command inside the rootless user namespace (and, with
//! `--rootless-netns`, the rootless network namespace).

use super::GlobalOpts;
use crate::engine::unshare::{unshare as run_unshare, UnshareRequest};
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct UnshareArgs {
    /// Join the rootless network namespace, where rootless named networks live
    #[arg(long)]
    pub rootless_netns: bool,
    /// The command and its arguments (default: $SHELL)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn unshare(g: &GlobalOpts, a: UnshareArgs) -> Result<()> {
    let store = g.open_store()?;
    run_unshare(
        &store,
        UnshareRequest {
            command: a.command,
            rootless_netns: a.rootless_netns,
        },
    )
}
