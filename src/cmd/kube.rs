//! `kube generate`, `kube play`, `kube down` (and podman's older spellings
//! `generate kube`, `play kube`): Kubernetes YAML from containers and
//! pods, and pods from Kubernetes YAML.

use super::output::print;
use super::GlobalOpts;
use crate::engine::kube::{self as engine, GenerateRequest, Kind, PlayRequest};
use crate::engine::types::{NetworkMode, PullOptions};
use crate::format::kube as kube_format;
use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgAction, Args, Subcommand};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum KubeCommand {
    /// Generate Kubernetes YAML based on containers, pods or volumes
    Generate(GenerateArgs),
    /// Play a pod or volume based on Kubernetes YAML
    Play(Box<PlayArgs>),
    /// Remove pods based on Kubernetes YAML
    Down(DownArgs),
    /// Deploy to a Kubernetes cluster (refused: coracle runs containers here, not in a cluster)
    Apply(ApplyArgs),
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// podman's flags and names (none is read)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

/// `play kube`: podman's older name of `kube play`.
#[derive(Subcommand, Debug)]
pub enum PlayCommand {
    /// Play a pod or volume based on Kubernetes YAML
    Kube(Box<PlayArgs>),
}

pub fn dispatch(g: &GlobalOpts, c: KubeCommand) -> Result<()> {
    match c {
        KubeCommand::Generate(a) => generate(g, a),
        KubeCommand::Play(a) => play(g, *a),
        KubeCommand::Down(a) => down(g, a),
        KubeCommand::Apply(_) => bail!(
            "kube apply deploys to a remote Kubernetes cluster, which coracle does not talk to: use kube play to run the YAML here"
        ),
    }
}

pub fn dispatch_play(g: &GlobalOpts, c: PlayCommand) -> Result<()> {
    match c {
        PlayCommand::Kube(a) => play(g, *a),
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
    /// Keep podman's reserved annotations (io.podman.annotations.*), which Kubernetes cannot use
    #[arg(long)]
    pub podman_only: bool,
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
        podman_only: a.podman_only,
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
    #[arg(long, visible_alias = "net", value_name = "NETWORK")]
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
    /// Logging driver for every container: k8s-file (coracle's one driver)
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Logging driver options for every container: path=FILE, max-size=SIZE, tag=TAG
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Add an annotation (KEY=VALUE) to every container
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Do not write the pods' /etc/hosts: keep the image's
    #[arg(long)]
    pub no_hosts: bool,
    /// Do not write the containers' /etc/hostname: keep the image's
    #[arg(long)]
    pub no_hostname: bool,
    /// Directory of the seccomp profiles the pods' `localhost/NAME` seccomp annotations name
    #[arg(long, value_name = "PATH", default_value = "/var/lib/kubelet/seccomp")]
    pub seccomp_profile_root: std::path::PathBuf,
    /// A static IP address for a pod on its named network (once per pod, in the file's order)
    #[arg(long, value_name = "IP")]
    pub ip: Vec<String>,
    /// A static MAC address for a pod on its named network (once per pod, in the file's order)
    #[arg(long = "mac-address", value_name = "MAC")]
    pub mac_address: Vec<String>,
    /// Stay in the foreground until the pods' containers end or Ctrl-C, then remove everything the file made
    #[arg(short, long)]
    pub wait: bool,
    /// User namespace of every pod played (auto[:OPTIONS], keep-id, nomap, host, ""), over the io.podman.annotations.userns annotation
    #[arg(long)]
    pub userns: Option<crate::engine::types::UsernsMode>,
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
    if a.wait && !a.start {
        bail!("--wait and --start=false cannot be used together");
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
    let file = a.file.clone();
    let report = engine::play_kube(
        &store,
        PlayRequest {
            text: text.clone(),
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
            log_driver: a.log_driver.unwrap_or_default(),
            log_opt: a.log_opt,
            annotations: a.annotation,
            no_hosts: a.no_hosts,
            no_hostname: a.no_hostname,
            seccomp_profile_root: a.seccomp_profile_root,
            ips: a.ip,
            macs: a.mac_address,
            userns: a.userns,
        },
    )?;
    let pods: Vec<(String, Vec<String>)> = report
        .pods
        .iter()
        .map(|p| (p.id.clone(), p.containers.clone()))
        .collect();
    print(&kube_format::play_report(&report.volumes, &pods))?;
    if a.wait {
        let (r, _) = engine::wait_then_down(&store, &report, &text, &file)?;
        print(&kube_format::down_report(
            &r.stopped, &r.removed, &r.volumes,
        ))?;
    }
    Ok(())
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
    print(&kube_format::down_report(
        &r.stopped, &r.removed, &r.volumes,
    ))
}
