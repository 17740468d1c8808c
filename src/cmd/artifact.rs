//! `artifact add|ls|inspect|rm|extract|push|pull`: OCI artifacts, with
//! podman 5's flags and output.

use super::output::{print_lines, print_table, println, unescape};
use super::registry_flags::{RegistryFlags, RetryFlags};
use super::GlobalOpts;
use crate::engine::artifact::{self, Artifact};
use crate::engine::artifact_transfer::{self, Transfer};
use crate::engine::manifest::parse_annotations;
use crate::format::{human, table, template::Template};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ArtifactCommand {
    /// Add an OCI artifact to the local store
    Add(AddArgs),
    /// Extract an OCI artifact to a local path
    Extract(ExtractArgs),
    /// Inspect an OCI artifact
    Inspect(InspectArgs),
    /// List OCI artifacts
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Pull an OCI artifact
    Pull(PullArgs),
    /// Push an OCI artifact
    Push(PushArgs),
    /// Remove one or more OCI artifacts
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

pub fn dispatch(g: &GlobalOpts, c: ArtifactCommand) -> Result<()> {
    match c {
        ArtifactCommand::Add(a) => add(g, a),
        ArtifactCommand::Extract(a) => extract(g, a),
        ArtifactCommand::Inspect(a) => inspect(g, a),
        ArtifactCommand::Ls(a) => ls(g, a),
        ArtifactCommand::Pull(a) => pull(g, a),
        ArtifactCommand::Push(a) => push(g, a),
        ArtifactCommand::Rm(a) => rm(g, a),
    }
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// Set an annotation on the artifact and on each file added (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Append files to an existing artifact
    #[arg(short, long)]
    pub append: bool,
    /// Set the media type of the files (default: detected from their content)
    #[arg(long, value_name = "TYPE")]
    pub file_type: Option<String>,
    /// Replace an artifact of the same name
    #[arg(long)]
    pub replace: bool,
    /// Set the artifact's type (artifactType)
    #[arg(long = "type", value_name = "TYPE")]
    pub artifact_type: Option<String>,
    /// The artifact's name (REGISTRY/NAME[:TAG])
    pub name: String,
    /// Files to add, one layer each
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

fn add(g: &GlobalOpts, a: AddArgs) -> Result<()> {
    let annotations = parse_annotations(&a.annotation)?;
    let store = g.open_store()?;
    let digest = artifact::add(
        &store,
        &artifact::Add {
            name: a.name,
            files: a.files,
            annotations,
            append: a.append,
            replace: a.replace,
            file_type: a.file_type,
            artifact_type: a.artifact_type,
        },
    )?;
    println(digest.hex())
}

#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// Only extract the blob with this digest
    #[arg(long, value_name = "DIGEST", conflicts_with = "title")]
    pub digest: Option<String>,
    /// Only extract the blob with this title
    #[arg(long, value_name = "TITLE")]
    pub title: Option<String>,
    /// The artifact: its name or a prefix of its digest
    pub artifact: String,
    /// A directory (it must exist) or a file (created or replaced)
    pub target: PathBuf,
}

fn extract(g: &GlobalOpts, a: ExtractArgs) -> Result<()> {
    let store = g.open_store()?;
    artifact::extract(
        &store,
        &a.artifact,
        &a.target,
        &artifact::Extract {
            digest: a.digest,
            title: a.title,
        },
    )
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format the output with a Go template (or json)
    #[arg(short, long)]
    pub format: Option<String>,
    /// The artifact: its name or a prefix of its digest
    pub artifact: String,
}

/// podman's report: the artifact's name and manifest, the manifest's
/// digest.
fn inspect_json(a: &Artifact) -> Result<Value> {
    Ok(json!({
        "Name": a.name,
        "Manifest": serde_json::to_value(&a.manifest)?,
        "Digest": a.digest.to_string(),
    }))
}

fn inspect(g: &GlobalOpts, a: InspectArgs) -> Result<()> {
    let store = g.open_store()?;
    let found = artifact::inspect(&store, &a.artifact)?;
    let doc = inspect_json(&found)?;
    match a.format.as_deref() {
        None | Some("") | Some("json") => println(&table::json_indented(&doc, 5)),
        Some(f) => {
            // What a template sees beyond the JSON: the embedded artifact
            // and its size method, as podman's Go structs offer them.
            let mut data = doc.clone();
            data["TotalSizeBytes"] = json!(found.manifest.total_size());
            data["Artifact"] = json!({
                "Name": found.name,
                "Manifest": doc["Manifest"],
                "Digest": doc["Digest"],
            });
            let out = Template::parse(&unescape(f))?.render(&data)?;
            println(&out)
        }
    }
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Format the output with a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print column headings
    #[arg(short, long)]
    pub noheading: bool,
    /// Do not truncate the digests
    #[arg(long)]
    pub no_trunc: bool,
}

fn ls_row(a: &Artifact, no_trunc: bool) -> Result<Value> {
    let r = artifact::artifact_reference(&a.name)
        .with_context(|| format!("{:?} is an invalid artifact name", a.name))?;
    let hex = a.digest.hex();
    let digest = if no_trunc { hex } else { &hex[..12] };
    let created = a
        .manifest
        .annotations
        .as_ref()
        .and_then(|m| m.get(artifact::CREATED))
        .and_then(|c| human::parse_rfc3339(c).ok());
    let size = a.manifest.total_size();
    Ok(json!({
        "Repository": r.repo_name(),
        "Tag": r.tag.clone().unwrap_or_default(),
        "Digest": digest,
        "Created": created.map(human::time_ago).unwrap_or_default(),
        "CreatedAt": created.map(human::go_time_string).unwrap_or_default(),
        "Size": human::human_size_compact(size),
        "VirtualSize": size.to_string(),
    }))
}

fn ls(g: &GlobalOpts, a: LsArgs) -> Result<()> {
    let store = g.open_store()?;
    let rows = artifact::list(&store)?
        .iter()
        .map(|x| ls_row(x, a.no_trunc))
        .collect::<Result<Vec<_>>>()?;
    if a.format.as_deref().map(str::trim) == Some("json") {
        return println(&table::json_indented(&Value::Array(rows), 4));
    }
    print_table(
        a.format.as_deref(),
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.Created}}\t{{.Size}}",
        &[("Repository", "REPOSITORY")],
        &rows,
        a.noheading,
    )
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Remove all artifacts
    #[arg(short, long)]
    pub all: bool,
    /// Ignore artifacts that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Artifacts: names or prefixes of their digests
    pub artifacts: Vec<String>,
}

fn rm(g: &GlobalOpts, a: RmArgs) -> Result<()> {
    let store = g.open_store()?;
    let removed = artifact::remove(&store, &a.artifacts, a.all, a.ignore)?;
    print_lines(&removed.iter().map(|d| d.hex()).collect::<Vec<_>>())
}

/// The flags push and pull share.
#[derive(Args, Debug)]
pub struct TransferFlags {
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Number of times to retry a registry request that failed in a way retrying can fix (default 3)
    #[arg(long, value_name = "N")]
    pub retry: Option<u32>,
    /// Delay between retries (e.g. 500ms, 2s; default: from 200ms, doubling)
    #[arg(long, value_name = "DURATION")]
    pub retry_delay: Option<String>,
}

impl TransferFlags {
    fn transfer(&self) -> Result<Transfer> {
        let mut r = self.registry.clone();
        RetryFlags {
            retry: self.retry,
            retry_delay: self.retry_delay.clone(),
            disable_content_trust: false,
        }
        .apply(&mut r)?;
        if let Some(f) = &r.authfile {
            if !f.exists() {
                bail!(
                    "credential file is not accessible: {}: no such file or directory",
                    f.display()
                );
            }
        }
        Ok(Transfer {
            client: r.client_options()?,
            quiet: self.quiet,
        })
    }
}

#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    pub flags: TransferFlags,
    /// Key to decrypt an encrypted artifact with (not supported: encryption is not implemented)
    #[arg(long, value_name = "KEY")]
    pub decryption_key: Vec<String>,
    /// The artifact to pull (REGISTRY/NAME[:TAG|@DIGEST])
    pub artifact: String,
}

fn pull(g: &GlobalOpts, a: PullArgs) -> Result<()> {
    if !a.decryption_key.is_empty() {
        bail!("--decryption-key: encrypted artifacts are not supported by coracle");
    }
    let t = a.flags.transfer()?;
    let store = g.open_store()?;
    artifact_transfer::pull(&store, &a.artifact, &t)?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    pub flags: TransferFlags,
    /// Write the digest of the pushed manifest to this file
    #[arg(long, value_name = "PATH")]
    pub digestfile: Option<PathBuf>,
    #[command(flatten)]
    pub sign: super::sign_flags::SignFlags,
    /// The artifact to push, to the registry its name names
    pub artifact: String,
}

fn push(g: &GlobalOpts, a: PushArgs) -> Result<()> {
    let t = a.flags.transfer()?;
    let sign = a.sign.signers()?;
    let store = g.open_store()?;
    let digest = artifact_transfer::push(&store, &a.artifact, &t, &sign)?;
    if let Some(path) = &a.digestfile {
        std::fs::write(path, digest.to_string())
            .with_context(|| format!("writing digest file {}", path.display()))?;
    }
    Ok(())
}
