//! `unshare`: run a command inside the rootless user namespace (the store's
//! id maps: 0 is the caller, 1.. its subordinate ids), optionally in the
//! rootless network namespace too, as podman's `unshare` does. As root
//! the command just runs.

use anyhow::{Context, Result};
use std::os::unix::process::CommandExt;

use crate::error::CodedError;
use crate::storage::store::Store;

/// What to run: the command, or the user's shell.
pub struct UnshareRequest {
    pub command: Vec<String>,
    /// Join the rootless network namespace (made if none runs).
    pub rootless_netns: bool,
}

/// Replace this process with the command inside the namespaces; returns
/// only on failure (the command's exit status is this command's).
pub fn unshare(store: &Store, req: UnshareRequest) -> Result<()> {
    let mut argv = req.command;
    if argv.is_empty() {
        argv.push(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()));
    }
    if store.rootless {
        if req.rootless_netns {
            crate::runtime::rootless_netns::enter_for_user(&store.runroot)?;
        } else {
            crate::runtime::userns::enter_for_storage(store)?;
        }
    } else if req.rootless_netns {
        anyhow::bail!("--rootless-netns: root has no rootless network namespace (its networks live in the host's)");
    }
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env("CONTAINERS_GRAPHROOT", &store.root)
        .env("CONTAINERS_RUNROOT", &store.runroot);
    let err = cmd.exec();
    let code = match err.kind() {
        std::io::ErrorKind::NotFound => 127,
        std::io::ErrorKind::PermissionDenied => 126,
        _ => 125,
    };
    Err(CodedError {
        code,
        message: format!("{}: {err}", argv[0]),
    })
    .context("running the command")
}
