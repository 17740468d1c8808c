//! `kube generate`, `kube play`, `kube down` (and podman's older spellings
//! `generate kube`, `play kube`): Kubernetes YAML from containers and
//! pods, and pods from Kubernetes YAML.

use super::output::print;
use super::GlobalOpts;
use crate::engine::kube::{self as engine, GenerateRequest, Kind, PlayReport, PlayRequest};
use crate::engine::types::{NetworkMode, PullOptions};
use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgAction, Args, Subcommand};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum KubeCommand {
    /// Generate Kubernetes YAML based on containers, pods or volumes
    Generate(GenerateArgs),
    /// Play a pod or volume based on Kubernetes YAML
    Play(PlayArgs),
    /// Remove pods based on Kubernetes YAML
    Down(DownArgs),
}

/// `play kube`: podman's older name of `kube play`.
#[derive(Subcommand, Debug)]
pub enum PlayCommand {
    /// Play a pod or volume based on Kubernetes YAML
    Kube(PlayArgs),
}

pub fn dispatch(g: &GlobalOpts, c: KubeCommand) -> Result<()> {
    match c {
        KubeCommand::Generate(a) => generate(g, a),
        KubeCommand::Play(a) => play(g, a),
        KubeCommand::Down(a) => down(g, a),
    }
}

pub fn dispatch_play(g: &GlobalOpts, c: PlayCommand) -> Result<()> {
    match c {
        PlayCommand::Kube(a) => play(g, a),
    }
}

/// Whether this subcommand starts containers (it then runs sealed).
pub fn starts_containers(c: &KubeCommand) -> bool {
    matches!(c, KubeCommand::Play(_))
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Write the YAML to this file (which must not exist) instead of stdout
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: Option<PathBuf>,
    /// The kind to generate: pod, deployment, daemonset or job
    #[arg(short = 't', long = "type", default_value = "pod", value_name = "TYPE")]
    pub kind: String,
    /// Replicas of a Deployment (with --type deployment)
    #[arg(short = 'r', long)]
    pub replicas: Option<u32>,
    /// Add a Service (NodePort) for the published ports
    #[arg(short = 's', long)]
    pub service: bool,
    /// Containers, pods or volumes
    #[arg(required = true, value_name = "CONTAINER|POD|VOLUME")]
    pub names: Vec<String>,
}

pub fn generate(g: &GlobalOpts, a: GenerateArgs) -> Result<()> {
    let kind: Kind = a.kind.parse()?;
    if let Some(f) = &a.filename {
        if f.exists() {
            bail!("cannot write to {:?}: file exists", f.display().to_string());
        }
    }
    let store = g.open_store()?;
    let req = GenerateRequest {
        names: a.names,
        kind,
        replicas: a.replicas,
        service: a.service,
    };
    let text = engine::generate(&store, &req)?;
    match &a.filename {
        Some(f) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(f)
                .with_context(|| format!("creating {}", f.display()))?;
            std::io::Write::write_all(&mut file, text.as_bytes())
                .with_context(|| format!("writing {}", f.display()))
        }
        None => print(&text),
    }
}

#[derive(Args, Debug)]
pub struct PlayArgs {
    /// Remove the pods (and with --force the volumes) the file made
    #[arg(long)]
    pub down: bool,
    /// Remove the volumes too (with --down)
    #[arg(long)]
    pub force: bool,
    /// Remove the file's pods first if they exist
    #[arg(long)]
    pub replace: bool,
    /// Start the pods after creating them
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value = "true", default_missing_value = "true", value_name = "BOOL")]
    pub start: bool,
    /// The pods' network (pasta, slirp4netns, host, none, or a named network)
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// Publish a port (HOSTPORT:CONTAINERPORT), replacing the file's for that container port
    #[arg(long, value_name = "PORT")]
    pub publish: Vec<String>,
    /// A YAML file of ConfigMaps the file may refer to
    #[arg(long, value_name = "FILE")]
    pub configmap: Vec<PathBuf>,
    /// Build images from directories beside the file: always (--build), never (--build=false), or when missing
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub build: Option<bool>,
    /// Where image build directories are looked for (default: the file's directory)
    #[arg(long, value_name = "DIR")]
    pub context_dir: Option<PathBuf>,
    /// Name containers as in the file, without the pod's name before them
    #[arg(long)]
    pub no_pod_prefix: bool,
    /// Publish every containerPort (on the same host port when it has no hostPort)
    #[arg(long)]
    pub publish_all: bool,
    /// Print no progress while pulling images
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: super::registry_flags::RegistryFlags,
    /// The YAML file, or - for stdin
    #[arg(value_name = "FILE")]
    pub file: String,
}

/// The file's text, and the directory beside it (image build contexts).
fn read_input(file: &str) -> Result<(String, PathBuf)> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading stdin")?;
        return Ok((s, std::env::current_dir()?));
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let dir = Path::new(file)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or(std::env::current_dir()?);
    Ok((text, dir))
}

pub fn play(g: &GlobalOpts, a: PlayArgs) -> Result<()> {
    if a.down {
        return down(
            g,
            DownArgs {
                force: a.force,
                file: a.file,
            },
        );
    }
    if a.force {
        bail!("--force can only be used with --down");
    }
    let (text, context_dir) = read_input(&a.file)?;
    let mut configmaps = Vec::new();
    for f in &a.configmap {
        let t = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        configmaps.push((f.display().to_string(), t));
    }
    let network = match &a.network {
        Some(n) => Some(
            n.parse::<NetworkMode>()
                .map_err(|e| anyhow!("--network {n}: {e}"))?,
        ),
        None => None,
    };
    let pull = PullOptions {
        client: a.registry.client_options()?,
        platform: None,
        quiet: a.quiet,
    };
    let store = g.open_store()?;
    let report = engine::play_kube(
        &store,
        PlayRequest {
            text,
            file: a.file,
            context_dir: a.context_dir.unwrap_or(context_dir),
            configmaps,
            publish: a.publish,
            network,
            start: a.start,
            replace: a.replace,
            build: a.build,
            pull,
            no_pod_prefix: a.no_pod_prefix,
            publish_all: a.publish_all,
        },
    )?;
    print(&play_report(&report))
}

/// podman's report: the volumes, then per pod its id and its containers.
fn play_report(r: &PlayReport) -> String {
    let mut out = String::new();
    if !r.volumes.is_empty() {
        out.push_str("Volumes:\n");
        for v in &r.volumes {
            out.push_str(&format!("{v}\n"));
        }
    }
    for p in &r.pods {
        out.push_str(&format!("Pod:\n{}\n", p.id));
        match p.containers.len() {
            0 => continue,
            1 => out.push_str("Container:\n"),
            _ => out.push_str("Containers:\n"),
        }
        for c in &p.containers {
            out.push_str(&format!("{c}\n"));
        }
        out.push('\n');
    }
    out
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Remove the file's volumes (PersistentVolumeClaims) too
    #[arg(long)]
    pub force: bool,
    /// The YAML file kube play was given, or - for stdin
    #[arg(value_name = "FILE")]
    pub file: String,
}

pub fn down(g: &GlobalOpts, a: DownArgs) -> Result<()> {
    let (text, _) = read_input(&a.file)?;
    let store = g.open_store()?;
    let r = engine::down(&store, &text, &a.file, a.force)?;
    let mut out = String::from("Pods stopped:\n");
    for id in &r.stopped {
        out.push_str(&format!("{id}\n"));
    }
    out.push_str("Pods removed:\n");
    for id in &r.removed {
        out.push_str(&format!("{id}\n"));
    }
    out.push_str("Secrets removed:\nVolumes removed:\n");
    for v in &r.volumes {
        out.push_str(&format!("{v}\n"));
    }
    print(&out)
}
