//! The `image` group and the verbs that change images: pull, tag, untag,
//! rmi, exists. Listing and prune are image_list.rs; inspect and history
//! image_inspect.rs.

use super::output::{print, println};
use super::registry_flags::{platform_from_flags, RegistryFlags, RetryFlags, UnsupportedFlags};
use super::GlobalOpts;
use crate::engine::images;
use crate::engine::types::PullOptions;
use crate::error::SilentExit;
use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Build an image from a Containerfile
    Build(Box<super::build::BuildArgs>),
    /// Pull an image from a registry
    Pull(PullArgs),
    /// List images in local storage
    #[command(visible_alias = "list")]
    Ls(super::image_list::ImagesArgs),
    /// Display the configuration of an image
    Inspect(super::image_inspect::ImageInspectArgs),
    /// Add an additional name to a local image
    Tag(TagArgs),
    /// Remove a name from a local image
    Untag(UntagArgs),
    /// Remove one or more images from local storage
    Rm(RmiArgs),
    /// Remove unused images
    Prune(super::image_list::PruneArgs),
    /// Show history of a specified image
    History(super::image_inspect::HistoryArgs),
    /// Check if an image exists in local storage
    Exists(ExistsArgs),
    /// Save image(s) to an archive
    Save(super::archive::SaveArgs),
    /// Load image(s) from a tar archive
    Load(super::archive::LoadArgs),
    /// Import a tarball to create a filesystem image
    Import(super::commit::ImportArgs),
    /// Print layer hierarchy of an image in a tree format
    Tree(super::image_tree::TreeArgs),
    /// Push an image to a registry
    Push(super::transfer::PushArgs),
    /// Inspect changes to the image's file systems
    Diff(super::image_diff::ImageDiffArgs),
    /// Mount an image's root filesystem
    Mount(super::image_mount::ImageMountArgs),
    /// Unmount an image's root filesystem
    #[command(visible_alias = "umount")]
    Unmount(super::image_mount::ImageUnmountArgs),
    /// Securely copy an image to or from another user of this machine
    Scp(super::image_scp::ScpArgs),
    /// Sign an image with gpg (simple signing)
    Sign(super::image_sign::SignArgs),
    /// Manage container image trust policy
    #[command(subcommand)]
    Trust(super::image_trust::TrustCommand),
    /// Search a registry for an image
    Search(super::search::SearchArgs),
}

pub fn dispatch(g: &GlobalOpts, c: ImageCommand) -> Result<()> {
    match c {
        ImageCommand::Build(a) => super::build::build(g, *a),
        ImageCommand::Pull(a) => pull(g, a),
        ImageCommand::Ls(a) => super::image_list::images(g, a),
        ImageCommand::Inspect(a) => super::image_inspect::image_inspect(g, a),
        ImageCommand::Tag(a) => tag(g, a),
        ImageCommand::Untag(a) => untag(g, a),
        ImageCommand::Rm(a) => rmi(g, a),
        ImageCommand::Prune(a) => super::image_list::prune(g, a),
        ImageCommand::History(a) => super::image_inspect::history(g, a),
        ImageCommand::Exists(a) => exists(g, a),
        ImageCommand::Save(a) => super::archive::save(g, a),
        ImageCommand::Load(a) => super::archive::load(g, a),
        ImageCommand::Import(a) => super::commit::import(g, a),
        ImageCommand::Tree(a) => super::image_tree::tree(g, a),
        ImageCommand::Push(a) => super::transfer::push(g, a),
        ImageCommand::Diff(a) => super::image_diff::diff(g, a),
        ImageCommand::Mount(a) => super::image_mount::mount(g, a),
        ImageCommand::Unmount(a) => super::image_mount::unmount(g, a),
        ImageCommand::Scp(a) => super::image_scp::scp(g, a),
        ImageCommand::Sign(a) => super::image_sign::sign(g, a),
        ImageCommand::Trust(c) => super::image_trust::dispatch(g, c),
        ImageCommand::Search(a) => super::search::search(g, a),
    }
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Image to pull (NAME[:TAG|@DIGEST])
    pub image: String,
    /// Set the OS/ARCH[/VARIANT] of the image to pull
    #[arg(long)]
    pub platform: Option<String>,
    /// Use ARCH instead of the architecture of the machine
    #[arg(long)]
    pub arch: Option<String>,
    /// Use OS instead of the running OS
    #[arg(long)]
    pub os: Option<String>,
    /// Use VARIANT instead of the running architecture variant
    #[arg(long)]
    pub variant: Option<String>,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub quiet: bool,
    /// Pull every tagged image of the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// Pull policy: always (the default), missing, never or newer
    #[arg(long, value_name = "POLICY", default_value = "always")]
    pub policy: String,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
    #[command(flatten)]
    pub unsupported: UnsupportedFlags,
}

pub fn pull(g: &GlobalOpts, mut a: PullArgs) -> Result<()> {
    a.unsupported.check()?;
    if !matches!(a.policy.as_str(), "always" | "missing" | "never" | "newer") {
        anyhow::bail!(
            "invalid pull policy {:?}: use always, missing, never or newer",
            a.policy
        );
    }
    a.retry.apply(&mut a.registry)?;
    let store = g.open_store()?;
    let opts = PullOptions {
        client: a.registry.client_options()?,
        platform: platform_from_flags(
            a.platform.as_deref(),
            a.os.as_deref(),
            a.arch.as_deref(),
            a.variant.as_deref(),
        )?,
        quiet: a.quiet,
    };
    let names = if a.all_tags {
        crate::engine::search::all_tags(&a.image, &opts.client)?
    } else {
        vec![a.image.clone()]
    };
    for name in &names {
        let img = images::ensure_image(&store, name, &a.policy, &opts)?;
        println(&img.id)?;
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct TagArgs {
    pub image: String,
    #[arg(required = true, value_name = "TARGET_NAME")]
    pub targets: Vec<String>,
}

pub fn tag(g: &GlobalOpts, a: TagArgs) -> Result<()> {
    let store = g.open_store()?;
    images::tag(&store, &a.image, &a.targets).map(drop)
}

#[derive(Args, Debug)]
pub struct UntagArgs {
    pub image: String,
    /// Names to remove (all names when none given)
    pub names: Vec<String>,
}

pub fn untag(g: &GlobalOpts, a: UntagArgs) -> Result<()> {
    let store = g.open_store()?;
    images::untag(&store, &a.image, &a.names)
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove all images
    #[arg(short, long)]
    pub all: bool,
    /// Force removal of the image and any containers using it
    #[arg(short, long)]
    pub force: bool,
    /// Ignore errors if a specified image does not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Do not remove dangling parent images (a build's intermediate images)
    #[arg(long)]
    pub no_prune: bool,
    pub images: Vec<String>,
}

pub fn rmi(g: &GlobalOpts, a: RmiArgs) -> Result<()> {
    let store = g.open_store()?;
    let report = images::remove(
        &store,
        &images::Removal {
            images: a.images,
            all: a.all,
            force: a.force,
            ignore_missing: a.ignore,
            no_prune: a.no_prune,
        },
    )?;
    print_removal(report)
}

/// What `rmi` (and `manifest rm`) removed, as podman prints it, then the
/// first error, if one stopped it.
pub(super) fn print_removal(report: images::RemovalReport) -> Result<()> {
    let mut out = String::new();
    for line in &report.done {
        match line {
            images::Removed::Untagged(name) => out.push_str(&format!("Untagged: {name}\n")),
            images::Removed::Deleted(id) => out.push_str(&format!("Deleted: {id}\n")),
        }
    }
    print(&out)?;
    match report.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    pub image: String,
}

pub fn exists(g: &GlobalOpts, a: ExistsArgs) -> Result<()> {
    let store = g.open_store()?;
    let mut images = store.images.load_for(&[&a.image])?;
    match crate::engine::images::try_found(&store, &mut images, &a.image)? {
        Some(_) => Ok(()),
        None => Err(SilentExit(1).into()),
    }
}
