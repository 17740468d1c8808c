//! `manifest add --artifact*` and `manifest annotate --subject`: the
//! artifact flags of the manifest verbs, kept apart from the image ones.

use super::GlobalOpts;
use crate::engine::artifact_manifest::{self, AddArtifact};
use crate::engine::manifest::PlatformOverride;
use crate::engine::types::{ClientOptions, Platform};
use anyhow::{bail, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args, Debug, Default)]
pub struct ArtifactFlags {
    /// Make an artifact manifest of the arguments (files, not images) and add it
    #[arg(long)]
    pub artifact: bool,
    /// Use this file's contents as the artifact manifest's configuration blob
    #[arg(long, value_name = "PATH")]
    pub artifact_config: Option<PathBuf>,
    /// Media type of the artifact manifest's configuration
    #[arg(long, value_name = "TYPE")]
    pub artifact_config_type: Option<String>,
    /// Do not annotate each file with its name (org.opencontainers.image.title)
    #[arg(long)]
    pub artifact_exclude_titles: bool,
    /// Media type of the files (default: guessed from their names or contents)
    #[arg(long, value_name = "TYPE")]
    pub artifact_layer_type: Option<String>,
    /// Set the artifact manifest's subject to this image
    #[arg(long, value_name = "IMAGE")]
    pub artifact_subject: Option<String>,
    /// The artifact manifest's artifactType (default application/vnd.unknown.artifact.v1)
    #[arg(long, value_name = "TYPE")]
    pub artifact_type: Option<String>,
}

impl ArtifactFlags {
    /// The `--artifact-*` flags given without `--artifact`, as podman names them.
    fn stray(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (set, name) in [
            (self.artifact_type.is_some(), "--artifact-type"),
            (self.artifact_config.is_some(), "--artifact-config"),
            (
                self.artifact_config_type.is_some(),
                "--artifact-config-type",
            ),
            (self.artifact_layer_type.is_some(), "--artifact-layer-type"),
            (self.artifact_subject.is_some(), "--artifact-subject"),
            (self.artifact_exclude_titles, "--artifact-exclude-titles"),
        ] {
            if set {
                out.push(name);
            }
        }
        out
    }
}

/// `manifest add`'s artifact path: `Ok(false)` when `--artifact` was not
/// given (the arguments are images then; stray artifact flags refused).
pub fn add(
    g: &GlobalOpts,
    flags: &ArtifactFlags,
    list: &str,
    files: &[String],
    annotations: &BTreeMap<String, String>,
    platform: PlatformOverride,
) -> Result<bool> {
    if !flags.artifact {
        match flags.stray().as_slice() {
            [] => return Ok(false),
            [one] => bail!("{one} requires --artifact"),
            many => bail!("{} require --artifact", many.join("/")),
        }
    }
    let store = g.open_store()?;
    let id = artifact_manifest::add(
        &store,
        &AddArtifact {
            list: list.to_string(),
            files: files.iter().map(PathBuf::from).collect(),
            artifact_type: flags.artifact_type.clone(),
            config_file: flags.artifact_config.clone(),
            config_type: flags.artifact_config_type.clone(),
            layer_type: flags.artifact_layer_type.clone(),
            exclude_titles: flags.artifact_exclude_titles,
            subject: flags.artifact_subject.clone(),
            annotations: annotations.clone(),
            platform: platform_of(platform),
            client: ClientOptions::default(),
        },
    )?;
    super::output::println(&id)?;
    Ok(true)
}

/// The platform the flags give an artifact's entry; none when none is given.
fn platform_of(o: PlatformOverride) -> Option<Platform> {
    if o.os.is_none()
        && o.arch.is_none()
        && o.variant.is_none()
        && o.os_version.is_none()
        && o.os_features.is_empty()
        && o.features.is_empty()
    {
        return None;
    }
    Some(Platform {
        architecture: o.arch.unwrap_or_default(),
        os: o.os.unwrap_or_default(),
        variant: o.variant.filter(|v| !v.is_empty()),
        os_version: o.os_version,
        os_features: (!o.os_features.is_empty()).then_some(o.os_features),
        features: (!o.features.is_empty()).then_some(o.features),
    })
}

/// `manifest annotate --subject`: only for the index itself.
pub fn set_subject(g: &GlobalOpts, list: &str, entry: Option<&str>, subject: &str) -> Result<()> {
    if entry.is_some() {
        bail!("setting subject for a manifest list requires no instance digest");
    }
    let store = g.open_store()?;
    artifact_manifest::set_subject(&store, list, subject, &ClientOptions::default())
}
