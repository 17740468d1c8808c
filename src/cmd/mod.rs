//! The command line: flags in, library calls, output out. No syscalls here.

mod archive;
mod artifact;
mod attach;
mod auto_update;
mod bool_flags;
mod build;
mod build_flags;
mod build_sources;
mod buildx;
mod checkpoint;
mod clone;
mod commit;
mod compose;
mod compose_logs;
mod container;
mod context;
mod create_flags;
mod docs;
mod docs_prose;
mod events;
mod generate;
mod healthcheck;
mod image;
mod image_diff;
pub(crate) mod image_inspect;
pub(crate) mod image_list;
mod image_mount;
mod image_scp;
mod image_sign;
mod image_tree;
mod image_trust;
pub(crate) mod inspect;
mod kube;
mod lazy;
mod limits;
mod logs;
mod manifest;
mod manifest_artifact;
mod mount;
pub(crate) mod network;
mod output;
pub mod pod;
mod pod_logs;
mod pod_pause;
mod pod_settings;
mod pod_watch;
mod process_flags;
pub(crate) mod ps;
mod quadlet;
mod registry_flags;
pub(crate) mod run;
mod runlabel;
mod search;
mod secret;
mod selection;
mod service_flags;
mod sign_flags;
mod stats;
mod system;
mod system_check;
mod system_prune;
mod top;
mod transfer;
mod unshare;
mod update;
pub(crate) mod volume;
mod volume_archive;
mod volume_mount;

use crate::engine::types::{Driver, EventsBackend, Store, StoreOptions};
use crate::error::{exit_code_of, SilentExit};
use anyhow::Result;
use clap::{Parser, Subcommand};
use lazy::{Lazy, LazyGroup};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "coracle",
    // `coracle -v` prints "coracle version X", as `podman -v` does
    version = concat!("version ", env!("CARGO_PKG_VERSION")),
    disable_version_flag = true,
    about = "Manage containers and images, daemonless and rootless",
    disable_help_subcommand = false
)]
pub struct Cli {
    /// Print the version
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    pub version: (),
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug, Clone)]
pub struct GlobalOpts {
    /// Path to the root directory in which data, including images, is stored
    #[arg(long, global = true, value_name = "PATH")]
    pub root: Option<PathBuf>,
    /// Path to the 'run directory' where all state information is stored
    #[arg(long, global = true, value_name = "PATH")]
    pub runroot: Option<PathBuf>,
    /// Path to the tmp directory for libpod state content
    #[arg(long, global = true, value_name = "PATH")]
    pub tmpdir: Option<PathBuf>,
    /// Select which storage driver is used to manage storage of images and containers
    #[arg(long, global = true, value_name = "DRIVER")]
    pub storage_driver: Option<String>,
    /// Log messages above specified level (trace, debug, info, warn, error, fatal, panic)
    #[arg(long, global = true, default_value = "warn", value_name = "LEVEL")]
    pub log_level: String,
    /// Send output (stdout) from coracle to a file; a container's output is not redirected
    #[arg(long, global = true, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Do not output to stdout (as --out /dev/null)
    #[arg(long, global = true)]
    pub noout: bool,
    /// Backend to use for storing events: file, journald or none
    #[arg(long, global = true, value_name = "TYPE", value_parser = ["file", "journald", "none"])]
    pub events_backend: Option<String>,
    /// The cgroup manager: cgroupfs (coracle writes the cgroup files itself; systemd is refused)
    #[arg(long, global = true, value_name = "MANAGER", value_parser = ["cgroupfs", "systemd"])]
    pub cgroup_manager: Option<String>,
    /// Load the specified containers.conf(5) module (a path, or a name in the modules directories)
    #[arg(long, global = true, value_name = "PATH")]
    pub module: Vec<String>,
    /// Path to the directory holding docker's config.json, where credentials are also looked up
    #[arg(long, global = true, value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// Set the OCI hooks directory path (may be given more than once; later ones win)
    #[arg(long, global = true, value_name = "PATH")]
    pub hooks_dir: Vec<PathBuf>,
    /// The CDI spec directory path (may be set multiple times; later ones win). Default: /etc/cdi and /var/run/cdi
    #[arg(long, global = true, value_name = "PATH")]
    pub cdi_spec_dir: Vec<PathBuf>,
    /// Path of the directory where network configuration files are stored
    #[arg(long, global = true, value_name = "PATH")]
    pub network_config_dir: Option<PathBuf>,
    /// A storage driver option (overlay.mountopt=OPTS), replacing storage.conf's and STORAGE_OPTS (repeatable; "" for none)
    #[arg(long, global = true, value_name = "OPTION")]
    pub storage_opt: Option<Vec<String>>,
    /// Keep container and pod records (and containers' writable layers) under the run root, gone with a reboot; default from storage.conf's transient_store
    #[arg(long, global = true, value_name = "BOOL", action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub transient_store: Option<bool>,
    /// Path to the image store, apart from the graph root: images (their records, layers and blobs) are kept there, everything else under --root; default from storage.conf's imagestore ("" for none)
    #[arg(long, global = true, value_name = "PATH")]
    pub imagestore: Option<String>,
    /// Volume directory where builtin volume information is stored
    #[arg(long, global = true, value_name = "PATH")]
    pub volumepath: Option<PathBuf>,
    /// Path to the OCI-compatible binary used to run containers, or its name (crun, runc, youki, runsc: looked up in containers.conf's [engine.runtimes], then $PATH); without it, coracle's built-in runtime
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub runtime: Option<String>,
    /// Add a global flag for the container runtime, without its leading -- (e.g. debug, log-format=json); needs --runtime
    #[arg(long, global = true, value_name = "FLAG")]
    pub runtime_flag: Vec<String>,
    /// Output logging information to syslog as well as the console (default false)
    #[arg(long, global = true)]
    pub syslog: bool,
    /// Remote access: not supported (coracle is daemonless; an error)
    #[arg(long, global = true)]
    pub remote: bool,
    /// Remote service URL: not supported (an error)
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Remote connection: not supported (an error)
    #[arg(long, global = true, value_name = "NAME")]
    pub connection: Option<String>,
    /// SSH identity of a remote connection: not supported (an error)
    #[arg(long, global = true, value_name = "PATH")]
    pub identity: Option<String>,
    /// SSH mode of a remote connection: not supported (an error)
    #[arg(long, global = true, value_name = "MODE")]
    pub ssh: Option<String>,
    /// TLS CA of a remote connection: not supported (an error)
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_ca: Option<String>,
    /// TLS client certificate of a remote connection: not supported (an error)
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_cert: Option<String>,
    /// TLS client key of a remote connection: not supported (an error)
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_key: Option<String>,
    /// TLS details of a remote connection: not supported (an error)
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_details: Option<String>,
}

impl GlobalOpts {
    pub fn open_store(&self) -> Result<Store> {
        let driver = match &self.storage_driver {
            Some(d) => Some(d.parse::<Driver>()?),
            None => None,
        };
        let events_backend = match &self.events_backend {
            Some(b) => Some(b.parse::<EventsBackend>()?),
            None => None,
        };
        let opts = StoreOptions {
            root: self.root.clone(),
            runroot: self.runroot.clone(),
            tmpdir: self.tmpdir.clone(),
            driver,
            events_backend,
            volume_path: self.volumepath.clone(),
            transient: self.transient_store,
            image_store: self.imagestore.as_ref().map(PathBuf::from),
        };
        crate::engine::open_store(&opts)
    }

    /// The options that set up the invocation rather than open the store;
    /// `shadowed`: those the verb takes as its own flags.
    fn globals(&self, shadowed: &[&str]) -> crate::engine::config::Globals {
        let global = |name: &str| !shadowed.contains(&name);
        let remote = [
            (self.remote, "--remote"),
            (self.url.is_some(), "--url"),
            (self.connection.is_some(), "--connection"),
            (self.identity.is_some(), "--identity"),
            (self.ssh.is_some(), "--ssh"),
            (self.tls_ca.is_some(), "--tls-ca"),
            (self.tls_cert.is_some(), "--tls-cert"),
            (self.tls_key.is_some(), "--tls-key"),
            (self.tls_details.is_some(), "--tls-details"),
        ]
        .into_iter()
        .find_map(|(given, flag)| (given && global(&flag[2..])).then_some(flag));
        crate::engine::config::Globals {
            modules: self.module.clone(),
            cgroup_manager: self.cgroup_manager.clone(),
            docker_config: self.config.clone().filter(|_| global("config")),
            hooks_dirs: self.hooks_dir.clone(),
            cdi_spec_dirs: self.cdi_spec_dir.clone(),
            network_config_dir: self.network_config_dir.clone(),
            storage_opts: self.storage_opt.clone(),
            remote,
            runtime: self.runtime.clone(),
            runtime_flags: self.runtime_flag.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pull an image from a registry
    Pull(Lazy<image::PullArgs>),
    /// List images in local storage
    Images(Lazy<image_list::ImagesArgs>),
    /// Manage images
    #[command(subcommand)]
    Image(LazyGroup<image::ImageCommand>),
    /// Add an additional name to a local image
    Tag(Lazy<image::TagArgs>),
    /// Remove a name from a local image
    Untag(Lazy<image::UntagArgs>),
    /// Remove one or more images from local storage
    Rmi(Lazy<image::RmiArgs>),
    /// Show history of a specified image
    History(Lazy<image_inspect::HistoryArgs>),
    /// Display the configuration of object denoted by ID
    Inspect(Lazy<image_inspect::InspectArgs>),
    /// Build an image from a Containerfile
    Build(Lazy<build::BuildArgs>),
    /// Run a command in a new container
    Run(Lazy<run::RunArgs>),
    /// Create but do not start a container
    Create(Lazy<run::CreateArgs>),
    /// Run a process in a running container
    Exec(Lazy<run::ExecArgs>),
    /// List containers
    Ps(Lazy<ps::PsArgs>),
    /// Manage containers
    #[command(subcommand)]
    Container(LazyGroup<container::ContainerCommand>),
    /// Manage pods
    #[command(subcommand)]
    Pod(LazyGroup<pod::PodCommand>),
    /// Initialize one or more containers
    Init(Lazy<container::InitArgs>),
    /// Start one or more containers
    Start(Lazy<container::StartArgs>),
    /// Stop one or more containers
    Stop(Lazy<container::StopArgs>),
    /// Kill one or more running containers with a specific signal
    Kill(Lazy<container::KillArgs>),
    /// Restart one or more containers
    Restart(Lazy<container::RestartArgs>),
    /// Block on one or more containers
    Wait(Lazy<container::WaitArgs>),
    /// Remove one or more containers
    Rm(Lazy<container::RmArgs>),
    /// Rename an existing container
    Rename(Lazy<container::RenameArgs>),
    /// Fetch the logs of one or more containers
    Logs(Lazy<logs::LogsArgs>),
    /// List port mappings or a specific mapping for the container
    Port(Lazy<container::PortArgs>),
    /// Push an image to a registry
    Push(Lazy<transfer::PushArgs>),
    /// Log in to a container registry
    Login(Lazy<transfer::LoginArgs>),
    /// Log out of a container registry
    Logout(Lazy<transfer::LogoutArgs>),
    /// Search a registry for an image
    Search(Lazy<search::SearchArgs>),
    /// Save image(s) to an archive
    Save(Lazy<archive::SaveArgs>),
    /// Load image(s) from a tar archive
    Load(Lazy<archive::LoadArgs>),
    /// Create new image based on the changed container
    Commit(Lazy<commit::CommitArgs>),
    /// Inspect changes to the container's file systems
    Diff(Lazy<commit::DiffArgs>),
    /// Copy files/folders between a container and the local filesystem
    Cp(Lazy<commit::CpArgs>),
    /// Export a container's filesystem contents as a tar archive
    Export(Lazy<commit::ExportArgs>),
    /// Import a tarball to create a filesystem image
    Import(Lazy<commit::ImportArgs>),
    /// Show coracle events
    Events(Lazy<events::EventsArgs>),
    /// Display the running processes of a container
    Top(Lazy<top::TopArgs>),
    /// Display podman-compatible system information
    Info(Lazy<system::InfoArgs>),
    /// Display the coracle version information
    Version(Lazy<system::VersionArgs>),
    /// Manage healthchecks of containers
    #[command(subcommand)]
    Healthcheck(LazyGroup<healthcheck::HealthcheckCommand>),
    /// Manage volumes
    #[command(subcommand)]
    Volume(LazyGroup<volume::VolumeCommand>),
    /// Manipulate manifest lists and image indexes
    #[command(subcommand)]
    Manifest(LazyGroup<manifest::ManifestCommand>),
    /// Manage OCI artifacts
    #[command(subcommand)]
    Artifact(LazyGroup<artifact::ArtifactCommand>),
    /// Manage networks
    #[command(subcommand)]
    Network(LazyGroup<network::NetworkCommand>),
    /// Manage coracle
    #[command(subcommand)]
    System(LazyGroup<system::SystemCommand>),
    /// Display a live stream of container resource usage statistics
    Stats(Lazy<stats::StatsArgs>),
    /// Update an existing container's resource limits
    Update(Lazy<update::UpdateArgs>),
    /// Pause all the processes in one or more containers
    Pause(Lazy<update::PauseArgs>),
    /// Unpause the processes in one or more containers
    Unpause(Lazy<update::PauseArgs>),
    /// Generate systemd units from Quadlet files (.container, .volume, .image, .build)
    Quadlet(Lazy<quadlet::QuadletArgs>),
    /// Auto update containers according to their auto-update policy
    AutoUpdate(Lazy<auto_update::AutoUpdateArgs>),
    /// Generate structured data based on containers
    #[command(subcommand)]
    Generate(LazyGroup<generate::GenerateCommand>),
    /// Play containers, pods or volumes from a structured file
    #[command(subcommand)]
    Kube(LazyGroup<kube::KubeCommand>),
    /// Play containers, pods or volumes from a structured file (podman's older spelling of kube play)
    #[command(subcommand)]
    Play(LazyGroup<kube::PlayCommand>),
    /// Manage secrets
    #[command(subcommand)]
    Secret(LazyGroup<secret::SecretCommand>),
    /// Build images (docker's spellings: `buildx build`, `builder prune`)
    #[command(subcommand, visible_alias = "builder")]
    Buildx(LazyGroup<buildx::BuildxCommand>),
    /// Manage contexts (coracle has one: the local store)
    #[command(subcommand)]
    Context(LazyGroup<context::ContextCommand>),
    /// Generate shell completion scripts
    Completion(Lazy<docs::CompletionArgs>),
    /// Write the man pages and completion scripts into a directory
    #[command(name = "__generate-docs", hide = true)]
    GenerateDocs(Lazy<docs::GenerateDocsArgs>),
    /// Attach to a running container
    Attach(Lazy<attach::AttachArgs>),
    /// Mount a working container's root filesystem
    Mount(Lazy<mount::MountArgs>),
    /// Unmount working containers' root filesystems
    #[command(visible_alias = "umount")]
    Unmount(Lazy<mount::UnmountArgs>),
    /// Run a command in a modified user namespace
    Unshare(Lazy<unshare::UnshareArgs>),
    /// Run multi-container applications from compose files
    Compose(Lazy<compose::ComposeArgs>),
}

/// Entry point: parse, run, and turn errors into podman's exit codes.
pub fn main() -> i32 {
    crate::log::mark_start();
    crate::engine::prepare_process();
    // systemd runs generators by name: the same binary, linked as one
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let program = argv0.rsplit('/').next().unwrap_or_default().to_string();
    if program == "coracle-system-generator" || program == "coracle-user-generator" {
        return quadlet::generator(&program, &args.collect::<Vec<_>>());
    }
    let outcome = std::panic::catch_unwind(|| -> Result<i32> {
        match bool_flags::parse::<Cli>() {
            Ok(cli) => run(cli).map(|()| 0),
            Err(e) => Ok(report_parse_error(e)),
        }
    });
    match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(err)) => {
            report(&err);
            exit_code_of(&err)
        }
        // The binary's panic hook already printed the one-line message
        // that names the bug report.
        Err(_) => 125,
    }
}

fn run(cli: Cli) -> Result<()> {
    if cli.global.syslog {
        crate::log::enable_syslog();
    }
    let level: crate::log::Level = cli.global.log_level.parse()?;
    crate::log::set_level(level);
    if cli.global.noout {
        output::redirect(std::path::Path::new("/dev/null"))?;
    } else if let Some(path) = &cli.global.out {
        output::redirect(path)?;
    }
    // Test-only: proves a panic reaches the user as one line and a report.
    if std::env::var_os("CORACLE_TEST_PANIC").is_some() {
        panic!("CORACLE_TEST_PANIC is set");
    }
    if cli.command.enters_containers() {
        // Before any work: this may start the command anew (see sealed_exe).
        crate::engine::ensure_sealed()?;
    }
    // After the sealing re-exec: the files are read once, by the process
    // that does the work.
    crate::engine::config::configure(&cli.global.globals(cli.command.own_flags()))?;
    let g = &cli.global;
    match cli.command {
        Command::Pull(a) => image::pull(g, a.0),
        Command::Images(a) => image_list::images(g, a.0),
        Command::Image(c) => image::dispatch(g, c.0),
        Command::Tag(a) => image::tag(g, a.0),
        Command::Untag(a) => image::untag(g, a.0),
        Command::Rmi(a) => image::rmi(g, a.0),
        Command::History(a) => image_inspect::history(g, a.0),
        Command::Inspect(a) => image_inspect::inspect(g, a.0),
        Command::Build(a) => build::build(g, a.0),
        Command::Run(a) => run::run(g, a.0),
        Command::Create(a) => run::create(g, a.0),
        Command::Exec(a) => run::exec(g, a.0),
        Command::Ps(a) => ps::ps(g, a.0),
        Command::Container(c) => container::dispatch(g, c.0),
        Command::Pod(c) => pod::dispatch(g, c.0),
        Command::Init(a) => container::init(g, a.0),
        Command::Start(a) => container::start(g, a.0),
        Command::Stop(a) => container::stop(g, a.0),
        Command::Kill(a) => container::kill(g, a.0),
        Command::Restart(a) => container::restart(g, a.0),
        Command::Wait(a) => container::wait(g, a.0),
        Command::Rm(a) => container::rm(g, a.0),
        Command::Rename(a) => container::rename(g, a.0),
        Command::Logs(a) => logs::logs(g, a.0),
        Command::Port(a) => container::port(g, a.0),
        Command::Push(a) => transfer::push(g, a.0),
        Command::Login(a) => transfer::login(g, a.0),
        Command::Logout(a) => transfer::logout(g, a.0),
        Command::Search(a) => search::search(g, a.0),
        Command::Save(a) => archive::save(g, a.0),
        Command::Load(a) => archive::load(g, a.0),
        Command::Commit(a) => commit::commit(g, a.0),
        Command::Diff(a) => commit::diff(g, a.0),
        Command::Cp(a) => commit::cp(g, a.0),
        Command::Export(a) => commit::export(g, a.0),
        Command::Import(a) => commit::import(g, a.0),
        Command::Events(a) => events::events(g, a.0),
        Command::Top(a) => top::top(g, a.0),
        Command::Info(a) => system::info(g, a.0),
        Command::Version(a) => system::version(g, a.0),
        Command::Healthcheck(c) => healthcheck::dispatch(g, c.0),
        Command::Volume(c) => volume::dispatch(g, c.0),
        Command::Manifest(c) => manifest::dispatch(g, c.0),
        Command::Artifact(c) => artifact::dispatch(g, c.0),
        Command::Network(c) => network::dispatch(g, c.0),
        Command::System(c) => system::dispatch(g, c.0),
        Command::Stats(a) => stats::stats(g, a.0),
        Command::Update(a) => update::update(g, a.0),
        Command::Pause(a) => update::pause(g, a.0),
        Command::Unpause(a) => update::unpause(g, a.0),
        Command::Quadlet(a) => quadlet::quadlet(a.0),
        Command::AutoUpdate(a) => auto_update::auto_update(g, a.0),
        Command::Generate(c) => generate::dispatch(g, c.0),
        Command::Kube(c) => kube::dispatch(g, c.0),
        Command::Play(c) => kube::dispatch_play(g, c.0),
        Command::Secret(c) => secret::dispatch(g, c.0),
        Command::Buildx(c) => buildx::dispatch(g, c.0),
        Command::Context(c) => context::dispatch(c.0),
        Command::Completion(a) => docs::completion(a.0),
        Command::GenerateDocs(a) => docs::generate_docs(a.0),
        Command::Attach(a) => attach::attach(g, a.0),
        Command::Mount(a) => mount::mount(g, a.0),
        Command::Unmount(a) => mount::unmount(g, a.0),
        Command::Unshare(a) => unshare::unshare(g, a.0),
        Command::Compose(a) => compose::dispatch(g, a.0),
    }
}

impl Command {
    /// The global options this verb has a flag of its own by (podman's
    /// verbs shadow them: `commit --config FILE`, `build --ssh`). clap gives
    /// such a value to the global too; it means the verb's flag only.
    fn own_flags(&self) -> &'static [&'static str] {
        use container::ContainerCommand as C;
        match self {
            Command::Commit(_) => &["config"],
            Command::Container(c) if matches!(c.0, C::Commit(_)) => &["config"],
            Command::Build(_) => &["ssh"],
            Command::Image(c) if matches!(c.0, image::ImageCommand::Build(_)) => &["ssh"],
            Command::Buildx(c) if matches!(c.0, buildx::BuildxCommand::Build(_)) => &["ssh"],
            Command::System(c) if matches!(c.0, system::SystemCommand::Service(_)) => {
                &["tls-cert", "tls-key"]
            }
            _ => &[],
        }
    }

    /// Verbs that start a container's process or enter a running one: they
    /// run from the read-only view of coracle's binary.
    fn enters_containers(&self) -> bool {
        use container::ContainerCommand as C;
        use pod::PodCommand as P;
        match self {
            Command::Run(_)
            | Command::Exec(_)
            | Command::Start(_)
            | Command::Init(_)
            | Command::Restart(_)
            | Command::Top(_)
            | Command::Cp(_)
            | Command::Build(_)
            | Command::Healthcheck(_)
            | Command::Play(_) => true,
            Command::Kube(c) => kube::starts_containers(&c.0),
            Command::Container(c) => matches!(
                c.0,
                C::Run(_)
                    | C::Exec(_)
                    | C::Start(_)
                    | C::Init(_)
                    | C::Restart(_)
                    | C::Top(_)
                    | C::Cp(_)
                    | C::Clone(_)
                    | C::Restore(_)
            ),
            Command::Pod(c) => matches!(c.0, P::Start(_) | P::Restart(_) | P::Clone(_)),
            Command::Image(c) => matches!(c.0, image::ImageCommand::Build(_)),
            Command::Buildx(c) => matches!(c.0, buildx::BuildxCommand::Build(_)),
            Command::Compose(a) => a.0.command.enters_containers(),
            Command::System(c) => matches!(c.0, system::SystemCommand::Service(_)),
            _ => false,
        }
    }
}

/// One line, `Error: ...`, the whole cause chain joined with ": ".
fn report(err: &anyhow::Error) {
    if err.downcast_ref::<SilentExit>().is_some() {
        return;
    }
    crate::log::error_line(&format!("{err:#}").replace('\n', " "));
}

fn report_parse_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            0
        }
        _ => {
            // clap explains over several lines; a script wants one.
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid command line")
                .trim_start_matches("error: ")
                .to_string();
            eprintln!("Error: {first}");
            125
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap's own checks of every command (two flags of one name, a bad
    /// alias): they otherwise surface only when that command is run.
    #[test]
    fn every_command_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
