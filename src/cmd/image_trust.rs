//! `image trust show|set`: the signature policy (policy.json).

use super::output::{print, println};
use super::GlobalOpts;
use crate::engine::trust::{self, SetTrust};
use crate::format::table::{json_pretty, tabwrite};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Display trust policy for the system
    Show(ShowArgs),
    /// Set default trust policy or a new trust policy for a registry
    Set(SetArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Output trust as JSON for machine parsing
    #[arg(short, long)]
    pub json: bool,
    /// Do not print column headings
    #[arg(short, long)]
    pub noheading: bool,
    /// Output trust policy file as raw JSON
    #[arg(long)]
    pub raw: bool,
    /// Path of the signature policy file to display
    #[arg(long, value_name = "PATH")]
    pub signature_policy: Option<PathBuf>,
    /// Accepted as podman does; the whole policy is shown
    #[arg(value_name = "REGISTRY")]
    pub registry: Option<String>,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// Path of an exported public key (repeat to require several)
    #[arg(short = 'f', long = "pubkeysfile", value_name = "PATH")]
    pub pubkeysfile: Vec<PathBuf>,
    /// Path of the signature policy file to update
    #[arg(long, value_name = "PATH")]
    pub signature_policy: Option<PathBuf>,
    /// Trust type: accept, reject, signedBy, sigstoreSigned
    #[arg(
        short = 't',
        long = "type",
        value_name = "TYPE",
        default_value = "signedBy"
    )]
    pub kind: String,
    /// `default` or a registry/repository scope
    #[arg(value_name = "REGISTRY")]
    pub registry: String,
}

pub fn dispatch(_g: &GlobalOpts, c: TrustCommand) -> Result<()> {
    match c {
        TrustCommand::Show(a) => show(a),
        TrustCommand::Set(a) => set(a),
    }
}

fn show(a: ShowArgs) -> Result<()> {
    if a.raw && a.json {
        bail!("--raw and --json cannot be used together");
    }
    let path = trust::policy_path(a.signature_policy.as_deref());
    if a.raw {
        return println(trust::raw(&path)?.trim_end());
    }
    let entries = trust::show(&path)?;
    if a.json {
        return println(&json_pretty(&serde_json::to_value(&entries)?));
    }
    let mut rows = Vec::new();
    if !a.noheading {
        rows.push(
            ["TRANSPORT", "NAME", "TYPE", "ID", "STORE"]
                .map(String::from)
                .to_vec(),
        );
    }
    for e in entries {
        rows.push(vec![
            e.transport,
            e.repo_name,
            e.kind,
            e.gpg_id,
            e.signature_store,
        ]);
    }
    print(&tabwrite(&rows))
}

fn set(a: SetArgs) -> Result<()> {
    let path = trust::policy_path(a.signature_policy.as_deref());
    trust::set(
        &path,
        &SetTrust {
            scope: a.registry,
            kind: a.kind,
            pubkeys: a.pubkeysfile,
        },
    )
}
