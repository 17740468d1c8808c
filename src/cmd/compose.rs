//! `compose`: docker compose's verbs on a project read from compose files.
//! Flags in, one engine call (engine/compose), output out: progress lines
//! on stderr as docker prints them, tables and logs on stdout.

use super::compose_logs::{Printer, Style, FOLLOW_EVERY};
use super::output::{print, println};
use super::GlobalOpts;
use crate::engine::compose::{self as engine, model::Project, LoadOptions};
use crate::engine::types::{ExecOptions, Store};
use crate::error::SilentExit;
use crate::format::compose as shape;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ComposeArgs {
    /// Compose configuration files
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Alternate working directory (default: the path of the first file)
    #[arg(long, value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    /// Alternate environment files (default: .env in the project directory)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Profiles to enable
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profile: Vec<String>,
    #[command(subcommand)]
    pub command: ComposeCommand,
}

#[derive(Subcommand, Debug)]
pub enum ComposeCommand {
    /// Create and start containers
    // `-V` is docker's --renew-anon-volumes here, not --version.
    #[command(disable_version_flag = true)]
    Up(UpArgs),
    /// Stop and remove containers, networks
    Down(DownArgs),
    /// List containers
    Ps(PsArgs),
    /// View output from containers
    Logs(LogsArgs),
    /// Start services
    Start(ServicesArgs),
    /// Stop services
    Stop(StopArgs),
    /// Restart service containers
    Restart(StopArgs),
    /// Force stop service containers
    Kill(KillArgs),
    /// Remove stopped service containers
    Rm(RmArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Run a one-off command on a service
    Run(RunArgs),
    /// Display the running processes
    Top(ServicesArgs),
    /// List images used by the created containers
    Images(ImagesArgs),
    /// Print the public port for a port binding
    Port(PortArgs),
    /// Build or rebuild services
    Build(BuildArgs),
    /// Pull service images
    Pull(PullArgs),
    /// Push service images
    Push(PushArgs),
    /// Parse, resolve and render the compose file in canonical format
    Config(ConfigArgs),
    /// As config; with --kube, the project as Kubernetes YAML
    Convert(ConvertArgs),
}

impl ComposeCommand {
    /// Verbs that start or enter containers (they run sealed).
    pub fn enters_containers(&self) -> bool {
        matches!(
            self,
            ComposeCommand::Up(_)
                | ComposeCommand::Start(_)
                | ComposeCommand::Restart(_)
                | ComposeCommand::Exec(_)
                | ComposeCommand::Run(_)
                | ComposeCommand::Top(_)
                | ComposeCommand::Build(_)
        )
    }
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's missing
    #[arg(long, conflicts_with = "build")]
    pub no_build: bool,
    /// Pull image before running (always, missing, never)
    #[arg(long, value_name = "POLICY")]
    pub pull: Option<String>,
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Don't start the services after creating them
    #[arg(long, conflicts_with_all = ["abort_on_container_exit", "exit_code_from", "wait"])]
    pub no_start: bool,
    /// Stops all containers if any container was stopped; returns its exit code
    #[arg(long, conflicts_with = "detach")]
    pub abort_on_container_exit: bool,
    /// Return the exit code of the selected service's container (implies --abort-on-container-exit)
    #[arg(long, value_name = "SERVICE", conflicts_with = "detach")]
    pub exit_code_from: Option<String>,
    /// Attach to the output of the services named's dependencies too
    #[arg(long, conflicts_with = "detach")]
    pub attach_dependencies: bool,
    /// Recreate dependent containers (the dependencies of the services named)
    #[arg(long, conflicts_with = "no_recreate")]
    pub always_recreate_deps: bool,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Scale SERVICE to NUM instances
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Wait for services to be running|healthy (implies detached mode)
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait_timeout: u64,
    /// Seconds to wait for a container to stop before it is killed
    #[arg(short, long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section and anonymous volumes
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove images used by services: "local" (built ones without a name) or "all"
    #[arg(long, value_name = "TYPE")]
    pub rmi: Option<String>,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Seconds to wait for a container to stop before it is killed
    #[arg(short, long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all stopped containers too
    #[arg(short, long)]
    pub all: bool,
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display services
    #[arg(long)]
    pub services: bool,
    /// Format the output: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    #[arg(value_name = "SERVICE")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container (all: every line)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ServicesArgs {
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait for a container to stop before it is killed
    #[arg(short, long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short, long, default_value = "SIGKILL")]
    pub signal: String,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short, long)]
    pub force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short, long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short, long)]
    pub volumes: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Disable pseudo-TTY allocation (default: a TTY when stdin is one)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Run the command as this user
    #[arg(short, long)]
    pub user: Option<String>,
    /// Path to workdir directory for this command
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Give extended privileges to the process
    #[arg(long)]
    pub privileged: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Disable pseudo-TTY allocation (default: a TTY when stdin is one)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Run as specified username or uid
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Override the entrypoint of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Publish a container's port(s) to the host
    #[arg(short, long)]
    pub publish: Vec<String>,
    /// Run command with the service's ports enabled and mapped to the host
    #[arg(long)]
    pub service_ports: bool,
    /// Bind mount a volume
    #[arg(short, long)]
    pub volume: Vec<String>,
    /// Add or override a label
    #[arg(short, long)]
    pub label: Vec<String>,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    pub service: String,
    pub private_port: u16,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Pull what it can and ignore images with pull failures
    #[arg(long)]
    pub ignore_pull_failures: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Push what it can and ignore images with push failures
    #[arg(long)]
    pub ignore_push_failures: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the network names, one per line
    #[arg(long)]
    pub networks: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    pub images: bool,
    /// Format the output: yaml or json
    #[arg(long, default_value = "yaml")]
    pub format: String,
    /// Save to file (default: stdout)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    pub services_selected: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the project as Kubernetes objects: a Deployment (or Pod) per service, Services, PersistentVolumeClaims
    #[arg(long)]
    pub kube: bool,
    /// With --kube, the kind each service becomes: pod or deployment (default)
    #[arg(long = "type", short = 't', value_name = "KIND")]
    pub kind: Option<String>,
    /// With --kube, NodePort Services for published ports instead of hostPorts
    #[arg(long)]
    pub service: bool,
    /// With --kube, replicas of a service over its deploy.replicas: SERVICE=NUM
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
}

/// The project the flags and `services` name.
fn project(a: &ComposeArgs, services: &[String]) -> Result<Project> {
    engine::load(&LoadOptions {
        files: a.file.clone(),
        project_name: a.project_name.clone(),
        project_directory: a.project_directory.clone(),
        env_files: a.env_file.clone(),
        profiles: a.profile.clone(),
        services: services.to_vec(),
    })
}

/// Docker's progress line, on stderr.
fn say(kind: &str, name: &str, what: &str) {
    eprintln!(" {kind} {name}  {what}");
}

pub fn dispatch(g: &GlobalOpts, a: ComposeArgs) -> Result<()> {
    use ComposeCommand as C;
    match &a.command {
        C::Config(c) => config(&a, c),
        C::Convert(c) if c.kube => convert_kube(&a, c),
        C::Convert(c) => {
            if c.kind.is_some() || c.service || !c.scale.is_empty() {
                bail!("--type, --service and --scale need --kube");
            }
            config(&a, &c.config)
        }
        C::Up(u) => up(g, &a, u),
        C::Down(d) => {
            let p = project(&a, &[])?;
            let store = g.open_store()?;
            let o = engine::DownOptions {
                volumes: d.volumes,
                remove_orphans: d.remove_orphans,
                rmi: d.rmi.clone(),
                timeout: d.timeout,
            };
            engine::down(&store, &p, &o, &say)
        }
        C::Ps(ps_args) => ps(g, &a, ps_args),
        C::Logs(l) => logs(g, &a, l),
        C::Start(s) => {
            let p = project(&a, &s.services)?;
            engine::start(&g.open_store()?, &p, &s.services, &say)
        }
        C::Stop(s) => {
            let p = project(&a, &s.services)?;
            engine::stop(&g.open_store()?, &p, &s.services, s.timeout, &say)
        }
        C::Restart(s) => {
            let p = project(&a, &s.services)?;
            engine::restart(&g.open_store()?, &p, &s.services, s.timeout, &say)
        }
        C::Kill(k) => {
            let p = project(&a, &k.services)?;
            engine::kill(&g.open_store()?, &p, &k.services, &k.signal, &say)
        }
        C::Rm(r) => rm(g, &a, r),
        C::Exec(e) => exec(g, &a, e),
        C::Run(r) => run(g, &a, r),
        C::Top(t) => top(g, &a, t),
        C::Images(i) => images(g, &a, i),
        C::Port(pa) => {
            let p = project(&a, &[])?;
            let store = g.open_store()?;
            match engine::port(
                &store,
                &p,
                &pa.service,
                pa.index,
                pa.private_port,
                &pa.protocol,
            )? {
                Some(addr) => println(&addr),
                None => bail!(
                    "no port {}/{} published for service {:?}",
                    pa.private_port,
                    pa.protocol,
                    pa.service
                ),
            }
        }
        C::Build(b) => {
            let p = project(&a, &b.services)?;
            let store = g.open_store()?;
            for name in engine::start_order(&p, &b.services, false)? {
                if p.services[&name].build.is_some() {
                    let image = engine::image_name(&p, &name);
                    say("Image", &image, "Building");
                    engine::build_service(&store, &p, &name, b.no_cache)?;
                    say("Image", &image, "Built");
                }
            }
            Ok(())
        }
        C::Pull(pl) => {
            let p = project(&a, &pl.services)?;
            let store = g.open_store()?;
            let o = engine::UpOptions {
                pull: Some("always".into()),
                no_build: true,
                ..Default::default()
            };
            for name in engine::start_order(&p, &pl.services, false)? {
                if p.services[&name].image.is_none() {
                    continue;
                }
                match engine::ensure_images(&store, &p, std::slice::from_ref(&name), &o, &say) {
                    Ok(()) => say("Image", &engine::image_name(&p, &name), "Pulled"),
                    Err(e) if pl.ignore_pull_failures => crate::warn!("{e:#}"),
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
        C::Push(ps_args) => {
            let p = project(&a, &ps_args.services)?;
            let store = g.open_store()?;
            for name in engine::start_order(&p, &ps_args.services, false)? {
                let Some(image) = p.services[&name].image.clone() else {
                    continue;
                };
                if p.services[&name].build.is_none() {
                    continue;
                }
                say("Image", &image, "Pushing");
                let r = crate::engine::transfer::push_image(
                    &store,
                    &crate::engine::transfer::Push {
                        image: &image,
                        destination: None,
                        options: Default::default(),
                        remove_signatures: false,
                    },
                );
                match r {
                    Ok(_) => say("Image", &image, "Pushed"),
                    Err(e) if ps_args.ignore_push_failures => crate::warn!("{e:#}"),
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
    }
}

fn config(a: &ComposeArgs, c: &ConfigArgs) -> Result<()> {
    let p = project(a, &c.services_selected)?;
    let text = if c.services {
        shape::lines(&p.services.keys().cloned().collect::<Vec<_>>())
    } else if c.volumes {
        shape::lines(&p.volumes.keys().cloned().collect::<Vec<_>>())
    } else if c.networks {
        shape::lines(&p.networks.keys().cloned().collect::<Vec<_>>())
    } else if c.profiles {
        shape::lines(&p.profiles)
    } else if c.images {
        let images: Vec<String> = p
            .services
            .keys()
            .map(|s| engine::image_name(&p, s))
            .collect();
        shape::lines(&images)
    } else {
        shape::document(&p, &c.format)?
    };
    if c.quiet {
        return Ok(());
    }
    match &c.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => print(&text),
    }
}

/// `--scale SERVICE=NUM` flags as a map.
fn scale_map(flags: &[String]) -> Result<BTreeMap<String, u32>> {
    let mut scale = BTreeMap::new();
    for s in flags {
        let (svc, n) = s
            .split_once('=')
            .with_context(|| format!("invalid --scale {s:?}: use SERVICE=NUM"))?;
        let n: u32 = n
            .parse()
            .with_context(|| format!("invalid --scale {s:?}: use SERVICE=NUM"))?;
        scale.insert(svc.to_string(), n);
    }
    Ok(scale)
}

fn convert_kube(a: &ComposeArgs, c: &ConvertArgs) -> Result<()> {
    let cf = &c.config;
    if cf.services || cf.volumes || cf.networks || cf.profiles || cf.images {
        bail!("--kube cannot be combined with --services, --volumes, --networks, --profiles or --images");
    }
    if cf.format != "yaml" {
        bail!("--kube writes yaml only: leave out --format");
    }
    let p = project(a, &cf.services_selected)?;
    let o = engine::KubeOptions {
        kind: c.kind.clone().unwrap_or_else(|| "deployment".into()),
        service: c.service,
        scale: scale_map(&c.scale)?,
    };
    let text = engine::to_kube(&p, &o)?;
    if cf.quiet {
        return Ok(());
    }
    match &cf.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => print(&text),
    }
}

fn up(g: &GlobalOpts, a: &ComposeArgs, u: &UpArgs) -> Result<()> {
    let p = project(a, &u.services)?;
    if let Some(s) = &u.exit_code_from {
        if !p.services.contains_key(s) {
            bail!("--exit-code-from: no such service: {s}");
        }
    }
    let scale = scale_map(&u.scale)?;
    let o = engine::UpOptions {
        services: u.services.clone(),
        no_deps: u.no_deps,
        force_recreate: u.force_recreate,
        no_recreate: u.no_recreate,
        build: u.build,
        no_build: u.no_build,
        pull: u.pull.clone(),
        scale,
        no_start: u.no_start,
        always_recreate_deps: u.always_recreate_deps,
        renew_anon_volumes: u.renew_anon_volumes,
        quiet_pull: u.quiet_pull,
        remove_orphans: u.remove_orphans,
        timeout: u.timeout,
        wait: u.wait.then(|| match u.wait_timeout {
            0 => Duration::from_secs(u64::MAX / 4),
            s => Duration::from_secs(s),
        }),
    };
    let store = g.open_store()?;
    let ids = engine::up(&store, &p, &o, &say)?;
    if u.detach || u.wait || u.no_start {
        return Ok(());
    }
    let how = Attach {
        services: u.services.clone(),
        stop: engine::start_order(&p, &u.services, !u.no_deps)?,
        dependencies: u.attach_dependencies || u.services.is_empty(),
        abort: u.abort_on_container_exit || u.exit_code_from.is_some(),
        exit_code_from: u.exit_code_from.clone(),
        timeout: u.timeout,
        style: Style {
            prefix: !u.no_log_prefix,
            color: !u.no_color && std::io::stdout().is_terminal(),
            timestamps: false,
        },
    };
    attach(&store, &p, ids, &how)
}

/// How attached `up` follows the project.
struct Attach {
    /// The services named (all when empty)
    services: Vec<String>,
    /// What Ctrl-C and an abort stop: those and their dependencies
    stop: Vec<String>,
    /// Print the output of the named services' dependencies too
    dependencies: bool,
    /// Stop everything once a container exits (`--abort-on-container-exit`)
    abort: bool,
    exit_code_from: Option<String>,
    timeout: Option<u32>,
    style: Style,
}

/// Attached `up`: the containers' output, prefixed, until all stopped;
/// Ctrl-C stops them all (a second one kills them). With `abort`, the
/// first container to exit stops the rest and gives the exit code.
fn attach(store: &Store, p: &Project, ids: Vec<String>, how: &Attach) -> Result<()> {
    let interrupts = engine::Interrupts::install();
    let members = engine::members(store, &p.name)?;
    let with_service: Vec<(String, String)> = ids
        .iter()
        .filter_map(|id| {
            let m = members.iter().find(|m| m.id() == id);
            let svc = m.map(|m| m.service.clone()).unwrap_or_default();
            (how.dependencies || how.services.contains(&svc)).then(|| (id.clone(), svc))
        })
        .collect();
    let mut printer = Printer::open(store, with_service, &how.style)?;
    printer.existing(-1)?;
    // The first container that exited: its service and code.
    let first_exit: std::cell::RefCell<Option<(String, i32)>> = Default::default();
    let exited = |id: &str| {
        let m = engine::members(store, &p.name).ok()?;
        let m = m.into_iter().find(|m| m.id() == id)?;
        let code = m.listed.state.exit_code;
        first_exit
            .borrow_mut()
            .get_or_insert_with(|| (m.service.clone(), code));
        Some(format!("{} exited with code {code}", m.name()))
    };
    let mut handled = 0;
    let mut aborting = false;
    loop {
        let done = printer.follow_once(store, &exited)?;
        // (Before leaving: the last attached container's exit stops the
        // dependencies that are not attached.)
        if how.abort && !aborting && first_exit.borrow().is_some() {
            aborting = true;
            eprintln!("Aborting on container exit...");
            engine::stop(store, p, &how.stop, how.timeout, &say)?;
        }
        if done {
            break;
        }
        let n = interrupts.count();
        if n > handled {
            handled = n;
            if n == 1 {
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                engine::stop(store, p, &how.stop, how.timeout, &say)?;
            } else {
                engine::kill(store, p, &how.stop, "SIGKILL", &say)?;
            }
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
    if interrupts.count() > 0 {
        return Err(SilentExit(interrupts.exit_code()).into());
    }
    if !how.abort {
        return Ok(());
    }
    let code = match &how.exit_code_from {
        Some(service) => engine::members(store, &p.name)?
            .into_iter()
            .find(|m| &m.service == service && !m.oneoff)
            .map_or(0, |m| m.listed.state.exit_code),
        None => first_exit.borrow().as_ref().map_or(0, |(_, c)| *c),
    };
    if code != 0 {
        return Err(SilentExit(code).into());
    }
    Ok(())
}

fn ps(g: &GlobalOpts, a: &ComposeArgs, o: &PsArgs) -> Result<()> {
    let p = project(a, &o.names)?;
    let store = g.open_store()?;
    if o.services {
        return print(&shape::lines(&engine::start_order(&p, &o.names, false)?));
    }
    let mut found = engine::members(&store, &p.name)?;
    found
        .retain(|m| (o.all || m.running()) && (o.names.is_empty() || o.names.contains(&m.service)));
    let now = std::time::SystemTime::now();
    let rows: Vec<shape::PsRow> = found
        .iter()
        .map(|m| {
            let cfg = &m.listed.cfg;
            shape::PsRow {
                id: m.id().to_string(),
                name: m.name().to_string(),
                image: cfg.image_name.clone(),
                command: cfg.args.join(" "),
                project: p.name.clone(),
                service: m.service.clone(),
                created: crate::format::human::parse_rfc3339(&cfg.created)
                    .map(|t| crate::format::human::time_ago_from(t, now))
                    .unwrap_or_default(),
                state: m.listed.state.status.as_str().to_string(),
                health: m.listed.health.clone(),
                exit_code: m.listed.state.exit_code,
                status: super::ps::status_text(&m.listed, now),
                ports: cfg
                    .ports
                    .iter()
                    .map(|p| p.display())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
        .collect();
    print(&shape::ps(&rows, &o.format, o.quiet)?)
}

fn logs(g: &GlobalOpts, a: &ComposeArgs, l: &LogsArgs) -> Result<()> {
    let p = project(a, &l.services)?;
    let store = g.open_store()?;
    let tail: i64 = match l.tail.as_str() {
        "all" => -1,
        n => n.parse().with_context(|| format!("invalid --tail {n:?}"))?,
    };
    let mut found = engine::members(&store, &p.name)?;
    found.retain(|m| !m.oneoff && (l.services.is_empty() || l.services.contains(&m.service)));
    let ids = found
        .iter()
        .map(|m| (m.id().to_string(), m.service.clone()))
        .collect();
    let style = Style {
        prefix: !l.no_log_prefix,
        color: !l.no_color && std::io::stdout().is_terminal(),
        timestamps: l.timestamps,
    };
    let mut printer = Printer::open(&store, ids, &style)?;
    printer.existing(tail)?;
    if !l.follow {
        return Ok(());
    }
    while !printer.follow_once(&store, &|_| None)? {
        std::thread::sleep(FOLLOW_EVERY);
    }
    Ok(())
}

fn rm(g: &GlobalOpts, a: &ComposeArgs, r: &RmArgs) -> Result<()> {
    let p = project(a, &r.services)?;
    let store = g.open_store()?;
    let names = engine::removable(&store, &p, &r.services, r.stop)?;
    if names.is_empty() {
        eprintln!("No stopped containers");
        return Ok(());
    }
    if !r.force && std::io::stdin().is_terminal() {
        let question = format!("Going to remove {}", names.join(", "));
        if !super::output::confirm(&question)? {
            return Ok(());
        }
    }
    engine::rm(&store, &p, &r.services, r.stop, r.volumes, &say)?;
    Ok(())
}

/// The id of container number `index` of `service`.
fn service_container(store: &Store, p: &Project, service: &str, index: u32) -> Result<String> {
    if !p.services.contains_key(service) {
        bail!("no such service: {service}");
    }
    engine::members(store, &p.name)?
        .into_iter()
        .find(|m| m.service == service && m.number == index && !m.oneoff && m.running())
        .map(|m| m.id().to_string())
        .with_context(|| format!("service {service:?} is not running"))
}

fn exec(g: &GlobalOpts, a: &ComposeArgs, e: &ExecArgs) -> Result<()> {
    let p = project(a, &[])?;
    let store = g.open_store()?;
    let id = service_container(&store, &p, &e.service, e.index)?;
    let tty = !e.no_tty && !e.detach && std::io::stdin().is_terminal();
    let opts = ExecOptions {
        args: e.command.clone(),
        env: e.env.clone(),
        user: e.user.clone(),
        workdir: e.workdir.clone(),
        tty,
        interactive: !e.detach,
        detach: e.detach,
        privileged: e.privileged,
        preserve_fds: Vec::new(),
        detach_keys: Vec::new(),
        no_session: false,
    };
    let code = crate::engine::containers::exec(&store, &id, &opts)?.code;
    if code != 0 {
        return Err(SilentExit(code).into());
    }
    Ok(())
}

fn run(g: &GlobalOpts, a: &ComposeArgs, r: &RunArgs) -> Result<()> {
    let p = project(a, std::slice::from_ref(&r.service))?;
    let store = g.open_store()?;
    if !r.no_deps {
        let deps: Vec<String> = p.services[&r.service].depends_on.keys().cloned().collect();
        if !deps.is_empty() {
            let o = engine::UpOptions {
                services: deps,
                ..Default::default()
            };
            engine::up(&store, &p, &o, &say)?;
        }
    }
    let o = engine::UpOptions {
        services: vec![r.service.clone()],
        no_deps: true,
        ..Default::default()
    };
    engine::ensure_images(&store, &p, std::slice::from_ref(&r.service), &o, &say)?;
    let tty = !r.no_tty && !r.detach && std::io::stdin().is_terminal();
    let req = engine::RunRequest {
        service: r.service.clone(),
        command: r.command.clone(),
        entrypoint: r.entrypoint.clone(),
        env: r.env.clone(),
        user: r.user.clone(),
        workdir: r.workdir.clone(),
        name: r.name.clone(),
        rm: r.rm,
        tty,
        interactive: !r.detach,
        publish: r.publish.clone(),
        service_ports: r.service_ports,
        volumes: r.volume.clone(),
        labels: r.label.clone(),
    };
    let id = engine::create_oneoff(&store, &p, req)?;
    if r.detach {
        crate::engine::create::start_detached(&store, &id)?;
        return println(&id);
    }
    crate::engine::create::run_attached(&store, &id, tty, true)
}

fn top(g: &GlobalOpts, a: &ComposeArgs, t: &ServicesArgs) -> Result<()> {
    use crate::engine::top::{container_top, TopReport};
    let p = project(a, &t.services)?;
    let store = g.open_store()?;
    let mut blocks = Vec::new();
    for m in engine::selected(&store, &p, &t.services, false)? {
        if !m.running() {
            continue;
        }
        let block = match container_top(&store, false, &[m.id().to_string()])? {
            TopReport::Rows(rows) => shape::TopBlock::Rows(rows),
            TopReport::Lines(lines) => shape::TopBlock::Lines(lines),
        };
        blocks.push((m.name().to_string(), block));
    }
    print(&shape::top(&blocks))
}

fn images(g: &GlobalOpts, a: &ComposeArgs, i: &ImagesArgs) -> Result<()> {
    let p = project(a, &i.services)?;
    let store = g.open_store()?;
    let found = engine::selected(&store, &p, &i.services, false)?;
    let all = store.images.load()?;
    let mut rows = Vec::new();
    for m in &found {
        let id = &m.listed.cfg.image_id;
        let Some(img) = all.list.iter().find(|x| &x.id == id) else {
            continue;
        };
        let (repo, tag) = crate::engine::types::split_name(&m.listed.cfg.image_name);
        rows.push(shape::ImageRow {
            container: m.name().to_string(),
            repository: repo.to_string(),
            tag: tag.unwrap_or("latest").to_string(),
            id: id.clone(),
            size: crate::format::human::human_size(img.size),
        });
    }
    print(&shape::images(&rows, i.quiet))
}
