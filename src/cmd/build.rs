//! `build`: flags in, the engine's build, the image id out (last line of
//! stdout).

use super::create_flags::CreateFlags;
use super::output::println;
use super::registry_flags::RegistryFlags;
use super::run::image_source;
use super::GlobalOpts;
use crate::engine::build::{self as engine, BuildRequest};
use crate::engine::types::{BuildOptions, ImageFormat};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag for the built image (repeatable)
    #[arg(short, long = "tag", value_name = "NAME")]
    pub tag: Vec<String>,
    /// Containerfile to build (`-` reads it from stdin)
    #[arg(short, long = "file", value_name = "FILE")]
    pub file: Option<String>,
    /// Build up to and including this stage
    #[arg(long)]
    pub target: Option<String>,
    /// ARG values (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg", value_name = "ARG")]
    pub build_arg: Vec<String>,
    /// Do not use cached steps
    #[arg(long)]
    pub no_cache: bool,
    /// Pull the base images: always, missing, never (true = always, false = missing)
    #[arg(long, default_value = "missing", num_args = 0..=1, default_missing_value = "always", require_equals = true)]
    pub pull: String,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image id to this file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Cache intermediate images (each step's image)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub layers: bool,
    /// Set a label on the image (KEY=VALUE, repeatable)
    #[arg(long = "label", value_name = "LABEL")]
    pub label: Vec<String>,
    /// Platform of the base images (OS/ARCH[/VARIANT])
    #[arg(long)]
    pub platform: Option<String>,
    /// Manifest type of the built image: oci or docker
    #[arg(long, default_value = "oci")]
    pub format: String,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The build context directory
    pub context: Option<PathBuf>,
}

/// podman's pull policies, with its boolean spellings.
fn pull_policy(s: &str) -> Result<&'static str> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "always" | "true" => "always",
        "missing" | "ifmissing" | "false" => "missing",
        "never" => "never",
        "newer" | "ifnewer" => "newer",
        other => bail!("invalid pull policy {other:?}: use always, missing, never or newer"),
    })
}

fn build_args(items: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(item) {
                    out.insert(item.clone(), v);
                }
            }
        }
    }
    out
}

/// The Containerfile: `-f` (relative to the current directory, as podman),
/// else Containerfile, else Dockerfile in the context.
fn read_containerfile(file: Option<&str>, context: &Path) -> Result<(String, String)> {
    match file {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the Containerfile from stdin")?;
            Ok((text, "-".into()))
        }
        Some(f) => {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading Containerfile {f}"))?;
            Ok((text, f.to_string()))
        }
        None => {
            for name in ["Containerfile", "Dockerfile"] {
                let p = context.join(name);
                if let Ok(text) = std::fs::read_to_string(&p) {
                    return Ok((text, p.display().to_string()));
                }
            }
            bail!(
                "no Containerfile or Dockerfile specified or found in context directory, {}: no such file or directory",
                context.display()
            )
        }
    }
}

pub fn build(g: &GlobalOpts, a: BuildArgs) -> Result<()> {
    let context = a.context.clone().unwrap_or_else(|| PathBuf::from("."));
    let context = std::fs::canonicalize(&context)
        .with_context(|| format!("context directory {}", context.display()))?;
    if !context.is_dir() {
        bail!("context {} is not a directory", context.display());
    }
    let (text, name) = read_containerfile(a.file.as_deref(), &context)?;
    let file = engine::parse_containerfile(&text, &name)?;
    let format: ImageFormat = a.format.parse()?;
    let mut tags = Vec::new();
    for t in &a.tag {
        tags.push(crate::engine::images::local_name(t)?);
    }
    let labels = super::output::key_values(&a.label);
    let opts = BuildOptions {
        context,
        tags,
        commit_name: a.tag.first().cloned(),
        target: a.target.clone(),
        build_args: build_args(&a.build_arg),
        no_cache: a.no_cache || !a.layers,
        quiet: a.quiet,
        labels,
        format,
    };
    let flags = CreateFlags {
        pull: pull_policy(&a.pull)?.to_string(),
        platform: a.platform.clone(),
        quiet: a.quiet,
        registry: a.registry.clone(),
        ..Default::default()
    };
    let store = g.open_store()?;
    let req = BuildRequest {
        file,
        options: opts,
        source: image_source(&flags),
    };
    let img = engine::build(&store, req)?;
    if let Some(path) = &a.iidfile {
        std::fs::write(path, format!("sha256:{}", img.id))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println(&img.id)
}
