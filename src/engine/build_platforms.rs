//! `build --all-platforms`: the platforms every base image of the build
//! is available for. A base in local storage offers what it is there (a
//! manifest list its entries' platforms, an image its own); one that is
//! not is asked of its registry, as buildah asks (unless the pull policy
//! is never). Names are taken as the build will take them: after
//! `--from`, `--build-context` and the source policy's conversions.

use super::create::ImageSource;
use super::types::{BuildOptions, Containerfile};
use crate::build::sources::named_images;
use crate::registry::manifest::{
    host_platform, image_platforms, parse_manifest, same_platform, ParsedManifest, Platform,
    OCI_INDEX,
};
use crate::registry::pull::name_candidates;
use crate::registry::push_index::remote_entries;
use crate::registry::resolve::try_find_image;
use crate::storage::image_config::ImageConfig;
use crate::storage::images::Images;
use crate::storage::manifest_lists as lists;
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};

/// What a local image offers: a list's entries' platforms, an image its own.
fn local_platforms(store: &Store, images: &Images, name: &str) -> Result<Option<Vec<Platform>>> {
    let Some(rec) = try_find_image(images, name)? else {
        return Ok(None);
    };
    if lists::is_list(rec) {
        return match parse_manifest(&lists::read_index(store, rec)?, OCI_INDEX)? {
            ParsedManifest::Index(i) => Ok(Some(image_platforms(&i.manifests))),
            ParsedManifest::Image(_) => bail!("{name}: its manifest is not an index"),
        };
    }
    let cfg = ImageConfig::parse(&store.blobs.read(&rec.config_digest())?)?;
    Ok(Some(vec![Platform {
        os: cfg.os,
        architecture: cfg.architecture,
        variant: cfg.variant.filter(|v| !v.is_empty()),
        ..Default::default()
    }]))
}

/// What `name` offers in its registry (the first search registry that
/// has it, for a short name).
fn remote_platforms(name: &str, source: &ImageSource) -> Result<Vec<Platform>> {
    let opts = source.options.as_ref().map_err(|e| anyhow!("{e:#}"))?;
    let mut errors = Vec::new();
    for r in name_candidates(name)? {
        match remote_entries(&r, true, &host_platform(), &opts.client) {
            Ok(entries) => return Ok(image_platforms(&entries)),
            Err(e) => errors.push(format!("{r}: {e:#}")),
        }
    }
    match errors.len() {
        0 => bail!("{name}: no registries to search for short names"),
        _ => bail!("{}", errors.join("; ")),
    }
}

/// Every platform all the build's base images are available for, in the
/// order the first base lists them.
pub fn base_platforms(
    store: &Store,
    file: &Containerfile,
    opts: &BuildOptions,
    source: &ImageSource,
) -> Result<Vec<Platform>> {
    let images = store.images.load()?;
    let mut common: Option<Vec<Platform>> = None;
    let mut names = Vec::new();
    for base in named_images(file, opts.selection())?
        .into_iter()
        .filter(|n| n.base)
    {
        let name = match &opts.source_policy {
            Some(p) => super::build::apply_source_policy(p, &base.name)
                .with_context(|| base.text.clone())?
                .unwrap_or(base.name),
            None => base.name,
        };
        let mine = match local_platforms(store, &images, &name)? {
            Some(p) => p,
            None if source.policy == "never" => bail!(
                "--all-platforms: base image {name} is not in local storage and the pull policy is never"
            ),
            None => remote_platforms(&name, source).with_context(|| {
                format!("--all-platforms: base image {name} is not in local storage nor found in a registry")
            })?,
        };
        let listed: Vec<String> = mine.iter().map(|p| p.to_string()).collect();
        names.push(format!("{name} ({})", listed.join(", ")));
        common = Some(match common {
            None => mine,
            Some(c) => c
                .into_iter()
                .filter(|p| mine.iter().any(|m| same_platform(m, p)))
                .collect(),
        });
    }
    let common = common.context(
        "--all-platforms: every stage is FROM scratch: there is no base image to take platforms from (use --platform)",
    )?;
    if common.is_empty() {
        bail!(
            "--all-platforms: the base images have no platform in common: {}",
            names.join(", ")
        );
    }
    Ok(common)
}
