//! create, run and exec: flags to the engine's typed request, then the
//! engine creates and starts.

use super::create_flags::CreateFlags;
use super::output::println;
use super::registry_flags::platform_from_flags;
use super::GlobalOpts;
use crate::engine::create::{self as engine, ContainerRequest, ImageSource};
use crate::engine::types::{ExecOptions, PullOptions};
use crate::error::SilentExit;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Make it one of its pod's init containers, run to its end by each pod start (always) or the first (once, then removed)
    #[arg(long = "init-ctr", value_name = "TYPE")]
    pub init_ctr: Option<String>,
    /// The image to create the container from
    pub image: String,
    /// Command and arguments (override the image's CMD)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    /// Key sequence that detaches from the container typed on a terminal (default ctrl-p,ctrl-q; "" turns it off)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// After the container exits, remove its image unless another container uses it (implies --rm)
    #[arg(long)]
    pub rmi: bool,
    #[command(flatten)]
    pub fds: PreserveFdFlags,
    #[command(flatten)]
    pub flags: CreateFlags,
    /// The image to run
    pub image: String,
    /// Command and arguments (override the image's CMD)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `--preserve-fds` and `--preserve-fd` (run and exec).
#[derive(Args, Debug, Default)]
pub struct PreserveFdFlags {
    /// Pass N additional file descriptors (3 to 3+N-1) to the process
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Pass these file descriptors (FD1[,FD2,...], under their own numbers) to the process
    #[arg(long, value_name = "FD1[,FD2,...]", value_delimiter = ',')]
    pub preserve_fd: Vec<u32>,
}

impl PreserveFdFlags {
    fn checked(&self) -> Result<Vec<i32>> {
        engine::preserved_fds(self.preserve_fds, &self.preserve_fd)
    }
}

/// How `--pull`, `--platform`, `--quiet` and the registry flags find the
/// image (a bad registry flag is reported when the image is looked up).
pub fn image_source(f: &CreateFlags) -> ImageSource {
    let options = (|| {
        let mut registry = f.registry.clone();
        super::registry_flags::RetryFlags {
            retry: f.retry,
            retry_delay: f.retry_delay.clone(),
            disable_content_trust: false,
        }
        .apply(&mut registry)?;
        let client = registry.client_options()?;
        Ok(PullOptions {
            client,
            platform: platform_from_flags(
                f.platform.as_deref(),
                f.os.as_deref(),
                f.arch.as_deref(),
                f.variant.as_deref(),
            )?,
            quiet: f.quiet,
        })
    })();
    ImageSource {
        policy: f.pull.clone(),
        options,
    }
}

/// The flags as the engine's typed request.
fn request(f: &CreateFlags, image: &str, command: &[String]) -> Result<ContainerRequest> {
    let f = f.clone();
    let (network, network_attachments) =
        crate::engine::networks::parse_flags(&crate::engine::networks::NetworkFlags {
            network: f.network.clone(),
            aliases: f.network_alias.clone(),
            ip: f.ip.clone(),
            ip6: f.ip6.clone(),
            mac: f.mac_address.clone(),
        })?;
    Ok(ContainerRequest {
        image: image.to_string(),
        source: image_source(&f),
        command: command.to_vec(),
        name: f.name,
        interactive: f.interactive,
        tty: f.tty,
        env: f.env,
        env_file: f.env_file,
        workdir: f.workdir,
        user: f.user,
        entrypoint: f.entrypoint,
        volume: f.volume,
        mount: f.mount,
        tmpfs: f.tmpfs,
        volumes_from: f.volumes_from,
        image_volume: f.image_volume,
        read_only: f.read_only,
        hostname: f.hostname,
        init: f.init,
        label: f.label,
        annotation: f.annotation,
        cidfile: f.cidfile,
        cap_add: f.cap_add,
        cap_drop: f.cap_drop,
        privileged: f.privileged,
        security_opt: f
            .security_opt
            .iter()
            .cloned()
            .chain(f.process.security_opts())
            .collect(),
        secret: f.secret,
        ulimit: f.ulimit,
        network,
        network_attachments,
        publish: f.publish,
        publish_all: f.publish_all,
        dns: f.dns,
        dns_search: f.dns_search,
        dns_option: f.dns_option,
        add_host: f.add_host,
        no_hosts: f.no_hosts,
        hosts_file: f.hosts_file,
        expose: f.expose,
        userns: f.userns,
        stop_signal: f.stop_signal,
        stop_timeout: f.stop_timeout,
        rm: f.rm,
        log_driver: f.log_driver,
        service: f.service.request(),
        pod: match f.process.pod_from_file()? {
            Some(pod) if f.pod.is_none() => Some(pod),
            Some(_) => anyhow::bail!("--pod and --pod-id-file cannot be used together"),
            None => f.pod,
        },
        init_ctr: None,
        ipc: f.ipc,
        pid: f.pid,
        uts: f.uts,
        limits: f.limits.request(),
        tuning: f.process.request(),
        create_command: None,
        seccomp_policy: f.seccomp_policy,
        gpus: f.gpus,
        id_maps: engine::idmap::IdMapRequest {
            uidmap: f.uidmap,
            gidmap: f.gidmap,
            subuidname: f.subuidname,
            subgidname: f.subgidname,
        },
        init_path: f.init_path,
        systemd: f.systemd,
        shm_size_systemd: f.shm_size_systemd,
        attach: f.attach,
        rootfs: f.rootfs,
    })
}

/// A `create` command line (how the API service puts a request body) as
/// the engine's request, with every default the command line gives; it
/// is recorded as the container's create command.
pub fn request_from_words(words: &[String]) -> Result<crate::engine::create::ContainerRequest> {
    use clap::{Args as _, FromArgMatches};
    let command = CreateArgs::augment_args(clap::Command::new("create").no_binary_name(true));
    let matches = command.try_get_matches_from(words).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        anyhow::anyhow!("{}", first.trim_start_matches("error: "))
    })?;
    let a = CreateArgs::from_arg_matches(&matches)?;
    let mut req = request(&a.flags, &a.image, &a.command)?;
    let mut recorded = vec!["coracle".to_string(), "create".to_string()];
    recorded.extend(words.iter().cloned());
    req.create_command = Some(recorded);
    Ok(req)
}

pub fn create(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    let store = g.open_store()?;
    let mut req = request(&a.flags, &a.image, &a.command)?;
    req.init_ctr = a.init_ctr.as_deref().map(str::parse).transpose()?;
    let cfg = engine::create_container(&store, req)?;
    println(&cfg.id)
}

pub fn run(g: &GlobalOpts, mut a: RunArgs) -> Result<()> {
    if a.rmi {
        if a.detach {
            anyhow::bail!("the --rmi option does not work with -d (detach)");
        }
        a.flags.rm = true;
    }
    crate::engine::attach::parse_detach_keys(a.detach_keys.as_deref())?;
    engine::pass_fds(a.fds.checked()?)?;
    if a.detach && !a.flags.attach.is_empty() {
        anyhow::bail!("conflicting options: -a/--attach and -d/--detach");
    }
    let store = g.open_store()?;
    let cfg = engine::create_container(&store, request(&a.flags, &a.image, &a.command)?)?;
    if a.detach {
        engine::start_detached(&store, &cfg.id)?;
        return println(&cfg.id);
    }
    let result = engine::run_attached_detachable(
        &store,
        &cfg.id,
        cfg.tty,
        a.sig_proxy,
        a.detach_keys.as_deref(),
    );
    if a.rmi {
        engine::remove_image_after_run(&store, &cfg)?;
    }
    result
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run the exec session in detached mode (backgrounded)
    #[arg(short, long)]
    pub detach: bool,
    /// Key sequence for detaching from the exec session with -it (default ctrl-p,ctrl-q; "" disables)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Sets the username or UID used and optionally the groupname or GID
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Read the container ID from the file (the first argument is then the command)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<String>,
    #[command(flatten)]
    pub fds: PreserveFdFlags,
    /// Do not record an exec session (refused with --detach, as podman)
    #[arg(long)]
    pub no_session: bool,
    /// Container name or id
    pub container: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn exec(g: &GlobalOpts, mut a: ExecArgs) -> Result<()> {
    if let Some(file) = &a.cidfile {
        // No container argument then: what clap took for it is the command.
        let id = super::selection::cidfile_names(std::slice::from_ref(file), false)?;
        a.command
            .insert(0, std::mem::replace(&mut a.container, id.concat()));
    }
    if a.command.is_empty() {
        anyhow::bail!("exec requires the name or ID of a container and a command to run");
    }
    if a.no_session && (a.detach || a.detach_keys.is_some()) {
        anyhow::bail!("--no-session cannot be used with --detach or --detach-keys");
    }
    let detach_keys = crate::engine::attach::parse_detach_keys(a.detach_keys.as_deref())?;
    let preserve_fds = a.fds.checked()?;
    let store = g.open_store()?;
    let id = crate::engine::lookup::container_id(&store, &a.container)?;
    let mut env = engine::parse_env_files(&a.env_file)?;
    env.extend(a.env.iter().cloned());
    let opts = ExecOptions {
        args: a.command,
        env,
        user: a.user,
        workdir: a.workdir,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        privileged: a.privileged,
        preserve_fds,
        detach_keys,
        no_session: a.no_session,
    };
    let outcome = crate::engine::containers::exec(&store, &id, &opts)?;
    // As podman: `exec -d` prints its session's id.
    if let Some(session) = &outcome.session {
        super::output::println(session)?;
    }
    let code = outcome.code;
    if code != 0 {
        return Err(SilentExit(code).into());
    }
    Ok(())
}
