//! `manifest create|add|annotate|inspect|exists|remove|rm|push`: manifest
//! lists (image indexes), as podman's.

use super::output::println;
use super::registry_flags::{CompressionFlags, RegistryFlags, RetryFlags};
use super::GlobalOpts;
use crate::engine::images;
use crate::engine::manifest::{self as lists, PlatformOverride};
use crate::engine::types::{ManifestFormat, PushOptions};
use crate::error::SilentExit;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ManifestCommand {
    /// Create a manifest list or image index
    Create(CreateArgs),
    /// Add images to a manifest list or image index
    Add(AddArgs),
    /// Add or update information about an entry in a manifest list or image index
    Annotate(AnnotateArgs),
    /// Display a manifest list or image index
    Inspect(InspectArgs),
    /// Check if a manifest list exists in local storage
    Exists(ExistsArgs),
    /// Remove an entry from a manifest list or image index
    Remove(RemoveArgs),
    /// Remove manifest lists or image indexes from local storage
    Rm(RmArgs),
    /// Push a manifest list or image index to a registry
    Push(PushArgs),
}

pub fn dispatch(g: &GlobalOpts, c: ManifestCommand) -> Result<()> {
    match c {
        ManifestCommand::Create(a) => create(g, a),
        ManifestCommand::Add(a) => add(g, a),
        ManifestCommand::Annotate(a) => annotate(g, a),
        ManifestCommand::Inspect(a) => inspect(g, a),
        ManifestCommand::Exists(a) => exists(g, a),
        ManifestCommand::Remove(a) => remove(g, a),
        ManifestCommand::Rm(a) => rm(g, a),
        ManifestCommand::Push(a) => push(g, a),
    }
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Name of the new list
    pub list: String,
    /// Local images to add to it
    pub images: Vec<String>,
    /// Add all of the entries of images that are themselves lists
    #[arg(long)]
    pub all: bool,
    /// Modify an existing list of that name instead of failing
    #[arg(short, long)]
    pub amend: bool,
    /// Set an annotation on the list (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Require HTTPS and verify certificates when reading images from registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
}

fn create(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    let annotations = lists::parse_annotations(&a.annotation)?;
    let client = crate::engine::types::ClientOptions {
        tls_verify: a.tls_verify,
        ..Default::default()
    };
    let store = g.open_store()?;
    let id = lists::create(
        &store,
        &lists::Create {
            list: a.list,
            images: a.images,
            all: a.all,
            amend: a.amend,
            annotations,
            client,
        },
    )?;
    println(&id)
}

/// Platform fields recorded for an entry instead of the image's own.
#[derive(Args, Debug, Default)]
pub struct PlatformFlags {
    /// Override the architecture recorded for the image
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Override the OS recorded for the image
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Override the OS version recorded for the image
    #[arg(long, value_name = "VERSION")]
    pub os_version: Option<String>,
    /// Override the architecture variant recorded for the image
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Override the CPU features recorded for the image (repeatable)
    #[arg(long, value_name = "FEATURE")]
    pub features: Vec<String>,
}

impl PlatformFlags {
    fn to_override(&self, os_features: Vec<String>) -> PlatformOverride {
        PlatformOverride {
            os: self.os.clone(),
            arch: self.arch.clone(),
            variant: self.variant.clone(),
            os_version: self.os_version.clone(),
            os_features,
            features: self.features.clone(),
        }
    }
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The list to add to
    pub list: String,
    /// Images to add: local ones (`containers-storage:` may prefix them), or in a registry (`docker://`, or a qualified name not found locally); files with --artifact
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Add all of the entries of an image that is itself a list
    #[arg(long)]
    pub all: bool,
    /// Set an annotation on the entry (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    #[command(flatten)]
    pub platform: PlatformFlags,
    #[command(flatten)]
    pub artifact: super::manifest_artifact::ArtifactFlags,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

fn add(g: &GlobalOpts, a: AddArgs) -> Result<()> {
    let annotations = lists::parse_annotations(&a.annotation)?;
    let (list, files) = (&a.list, &a.images);
    let platform = a.platform.to_override(Vec::new());
    if super::manifest_artifact::add(g, &a.artifact, list, files, &annotations, platform)? {
        return Ok(());
    }
    let client = a.registry.client_options()?;
    let store = g.open_store()?;
    let id = lists::add(
        &store,
        &lists::Add {
            list: a.list,
            images: a.images,
            all: a.all,
            annotations,
            platform: a.platform.to_override(Vec::new()),
            client,
        },
    )?;
    println(&id)
}

#[derive(Args, Debug)]
pub struct AnnotateArgs {
    /// The list
    pub list: String,
    /// The entry: its digest, or a local image in the list (not needed with --index)
    #[arg(required_unless_present = "index")]
    pub entry: Option<String>,
    /// Set an annotation (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Set the annotations on the list itself rather than on an entry
    #[arg(long)]
    pub index: bool,
    /// Override the OS features recorded for the image
    #[arg(long, value_name = "FEATURE")]
    pub os_features: Vec<String>,
    #[command(flatten)]
    pub platform: PlatformFlags,
    /// Set the subject the index refers to (an image), with --index
    #[arg(long, value_name = "IMAGE")]
    pub subject: Option<String>,
}

fn annotate(g: &GlobalOpts, a: AnnotateArgs) -> Result<()> {
    let annotations = lists::parse_annotations(&a.annotation)?;
    if let Some(subject) = &a.subject {
        super::manifest_artifact::set_subject(g, &a.list, a.entry.as_deref(), subject)?;
    }
    let store = g.open_store()?;
    let (id, digest) = lists::annotate(
        &store,
        &lists::Annotate {
            list: a.list,
            target: a.entry.unwrap_or_default(),
            index: a.index,
            annotations,
            platform: a.platform.to_override(a.os_features),
        },
    )?;
    println(&format!("{id}: {digest}"))
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A local list, or an image or list in a registry
    pub list: String,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

fn inspect(g: &GlobalOpts, a: InspectArgs) -> Result<()> {
    let store = g.open_store()?;
    let v = lists::inspect(&store, &a.list, &a.registry.client_options()?)?;
    println(&crate::format::table::json_pretty(&v))
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    pub list: String,
}

fn exists(g: &GlobalOpts, a: ExistsArgs) -> Result<()> {
    let store = g.open_store()?;
    if lists::exists(&store, &a.list)? {
        Ok(())
    } else {
        Err(SilentExit(1).into())
    }
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The list
    pub list: String,
    /// Digest of the entry to remove
    pub digest: String,
}

fn remove(g: &GlobalOpts, a: RemoveArgs) -> Result<()> {
    let store = g.open_store()?;
    let (id, digest) = lists::remove(&store, &a.list, &a.digest)?;
    println(&format!("{id}: {digest}"))
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Lists to remove
    #[arg(required = true)]
    pub lists: Vec<String>,
    /// Ignore lists that do not exist
    #[arg(short, long)]
    pub ignore: bool,
}

fn rm(g: &GlobalOpts, a: RmArgs) -> Result<()> {
    let store = g.open_store()?;
    let ids = lists::lists_to_remove(&store, &a.lists, a.ignore)?;
    if ids.is_empty() {
        return Ok(());
    }
    let report = images::remove(
        &store,
        &images::Removal {
            images: ids,
            ..Default::default()
        },
    )?;
    super::image::print_removal(report)
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The list to push
    pub list: String,
    /// Where to: [docker://]REGISTRY/NAME[:TAG] (default: the list's own name)
    pub destination: Option<String>,
    /// Push the list's images too, not only the list
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub all: bool,
    /// Manifest list type (oci or v2s2)
    #[arg(short, long, value_name = "FORMAT", default_value = "oci")]
    pub format: String,
    /// Remove the local list once it is pushed
    #[arg(long)]
    pub rm: bool,
    /// Write the digest of the pushed list to this file
    #[arg(long, value_name = "PATH")]
    pub digestfile: Option<PathBuf>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub sign: super::sign_flags::SignFlags,
    /// Discard any pre-existing signatures in the images
    #[arg(long)]
    pub remove_signatures: bool,
    #[command(flatten)]
    pub compression: CompressionFlags,
    /// Also push each local image compressed this way (gzip or zstd), as another entry of the list (repeatable)
    #[arg(long, value_name = "FORMAT")]
    pub add_compression: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
}

fn push(g: &GlobalOpts, mut a: PushArgs) -> Result<()> {
    let format = ManifestFormat::parse(&a.format)?;
    let sign_by = a.sign.signers()?;
    a.retry.apply(&mut a.registry)?;
    let mut options = PushOptions {
        client: a.registry.client_options()?,
        quiet: a.quiet,
        ..Default::default()
    };
    a.compression.apply(&mut options)?;
    let add_compression = a
        .add_compression
        .iter()
        .map(|f| super::registry_flags::parse_compression(f))
        .collect::<Result<Vec<_>>>()?;
    let store = g.open_store()?;
    let digest = lists::push(
        &store,
        &lists::Push {
            list: a.list,
            destination: a.destination,
            all: a.all,
            format,
            remove: a.rm,
            options,
            sign_by,
            add_compression,
            remove_signatures: a.remove_signatures,
        },
    )?;
    if let Some(path) = &a.digestfile {
        std::fs::write(path, digest.to_string())
            .with_context(|| format!("writing digest file {}", path.display()))?;
    }
    Ok(())
}
