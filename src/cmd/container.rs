//! Container lifecycle verbs: start, stop, kill, restart, wait, rm, rename,
//! prune, exists, and the `container` group that mirrors them (plus ps,
//! logs and inspect, which live in their own modules).

use super::output::{confirm, print, println};
use super::selection::{cidfile_names, filtered, for_each, targets};
use super::GlobalOpts;
use crate::engine::containers::{self, WaitCondition};
use crate::engine::lookup::{container_id, missing_exits_1, try_container_id};
use crate::engine::types::Status;
use crate::error::SilentExit;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// List containers
    #[command(visible_aliases = ["list", "ps"])]
    Ls(super::ps::PsArgs),
    /// Run a command in a new container
    Run(super::run::RunArgs),
    /// Create but do not start a container
    Create(super::run::CreateArgs),
    /// Run a process in a running container
    Exec(super::run::ExecArgs),
    /// Attach to a running container
    Attach(super::attach::AttachArgs),
    /// Mount a working container's root filesystem
    Mount(super::mount::MountArgs),
    /// Unmount working containers' root filesystems
    #[command(visible_alias = "umount")]
    Unmount(super::mount::UnmountArgs),
    /// Clean up the host side of exited containers (their mounts), optionally removing them
    Cleanup(super::mount::CleanupArgs),
    /// Initialize one or more containers
    Init(InitArgs),
    /// Start one or more containers
    Start(StartArgs),
    /// Stop one or more containers
    Stop(StopArgs),
    /// Kill one or more running containers with a specific signal
    Kill(KillArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Block on one or more containers
    Wait(WaitArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Rename an existing container
    Rename(RenameArgs),
    /// Fetch the logs of one or more containers
    Logs(super::logs::LogsArgs),
    /// Display the configuration of a container
    Inspect(super::inspect::ContainerInspectArgs),
    /// Remove all non running containers
    Prune(PruneArgs),
    /// Check if a container exists in local storage
    Exists(ExistsArgs),
    /// Create new image based on the changed container
    Commit(super::commit::CommitArgs),
    /// Inspect changes to the container's file systems
    Diff(super::commit::DiffArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(super::commit::CpArgs),
    /// Export a container's filesystem contents as a tar archive
    Export(super::commit::ExportArgs),
    /// Display the running processes of a container
    Top(super::top::TopArgs),
    /// Display a live stream of container resource usage statistics
    Stats(super::stats::StatsArgs),
    /// Update an existing container's resource limits
    Update(super::update::UpdateArgs),
    /// Pause all the processes in one or more containers
    Pause(super::update::PauseArgs),
    /// Unpause the processes in one or more containers
    Unpause(super::update::PauseArgs),
    /// Execute the command described by an image label
    Runlabel(super::runlabel::RunlabelArgs),
    /// List port mappings of a container
    Port(PortArgs),
    /// Create a copy of an existing container
    Clone(super::clone::ContainerCloneArgs),
    /// Checkpoint one or more running containers
    Checkpoint(super::checkpoint::CheckpointArgs),
    /// Restore one or more containers from a checkpoint
    Restore(super::checkpoint::RestoreArgs),
}

pub fn dispatch(g: &GlobalOpts, c: ContainerCommand) -> Result<()> {
    match c {
        ContainerCommand::Ls(a) => super::ps::ps(g, a),
        ContainerCommand::Port(a) => port(g, a),
        ContainerCommand::Run(a) => super::run::run(g, a),
        ContainerCommand::Create(a) => super::run::create(g, a),
        ContainerCommand::Attach(a) => super::attach::attach(g, a),
        ContainerCommand::Mount(a) => super::mount::mount(g, a),
        ContainerCommand::Cleanup(a) => super::mount::cleanup(g, a),
        ContainerCommand::Checkpoint(a) => super::checkpoint::checkpoint(g, a),
        ContainerCommand::Restore(a) => super::checkpoint::restore(g, a),
        ContainerCommand::Unmount(a) => super::mount::unmount(g, a),
        ContainerCommand::Exec(a) => super::run::exec(g, a),
        ContainerCommand::Init(a) => init(g, a),
        ContainerCommand::Start(a) => start(g, a),
        ContainerCommand::Stop(a) => stop(g, a),
        ContainerCommand::Kill(a) => kill(g, a),
        ContainerCommand::Restart(a) => restart(g, a),
        ContainerCommand::Wait(a) => wait(g, a),
        ContainerCommand::Rm(a) => rm(g, a),
        ContainerCommand::Rename(a) => rename(g, a),
        ContainerCommand::Logs(a) => super::logs::logs(g, a),
        ContainerCommand::Inspect(a) => super::inspect::container_inspect(g, a),
        ContainerCommand::Prune(a) => prune(g, a),
        ContainerCommand::Exists(a) => exists(g, a),
        ContainerCommand::Commit(a) => super::commit::commit(g, a),
        ContainerCommand::Diff(a) => super::commit::diff(g, a),
        ContainerCommand::Cp(a) => super::commit::cp(g, a),
        ContainerCommand::Export(a) => super::commit::export(g, a),
        ContainerCommand::Top(a) => super::top::top(g, a),
        ContainerCommand::Stats(a) => super::stats::stats(g, a),
        ContainerCommand::Update(a) => super::update::update(g, a),
        ContainerCommand::Pause(a) => super::update::pause(g, a),
        ContainerCommand::Unpause(a) => super::update::unpause(g, a),
        ContainerCommand::Runlabel(a) => super::runlabel::runlabel(g, a),
        ContainerCommand::Clone(a) => super::clone::container_clone(g, a),
    }
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach container's STDOUT and STDERR
    #[arg(short, long)]
    pub attach: bool,
    /// Select the key sequence for detaching an attached running container (default ctrl-p,ctrl-q)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    /// Start all containers regardless of their state or configuration
    #[arg(long)]
    pub all: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Start only the containers these filters select (as ps --filter)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    pub containers: Vec<String>,
}

pub fn start(g: &GlobalOpts, a: StartArgs) -> Result<()> {
    crate::engine::attach::parse_detach_keys(a.detach_keys.as_deref())?;
    let store = g.open_store()?;
    let everything = a.all || (a.containers.is_empty() && !a.filter.is_empty() && !a.latest);
    let mut list = targets(&store, &a.containers, everything, a.latest, false)?;
    if !a.filter.is_empty() {
        let selected = super::ps::filtered_ids(&store, &a.filter)?;
        list.retain(|(_, id)| selected.contains(id));
    }
    if a.attach {
        if list.len() > 1 {
            bail!("you cannot start and attach multiple containers at once");
        }
        let (_, id) = &list[0];
        let cfg = store.containers.load_config(id)?;
        if containers::is_running_now(&store, id) {
            let req = crate::engine::attach::AttachRequest {
                no_stdin: !a.interactive,
                detach_keys: a.detach_keys,
                sig_proxy: a.sig_proxy,
            };
            return crate::engine::attach::attach(&store, id, &req);
        }
        return crate::engine::create::run_attached_detachable(
            &store,
            id,
            cfg.tty,
            a.sig_proxy,
            a.detach_keys.as_deref(),
        );
    }
    for_each(&list, |_, id| containers::start(&store, id), false)
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Initialize all containers (those initialized or running already are left alone)
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

/// `init`: each container prepared to start (root filesystem mounted,
/// spec in place, state `initialized`) and not started; prints what the
/// user named it (the id with `--all`/`--latest`), as podman.
pub fn init(g: &GlobalOpts, a: InitArgs) -> Result<()> {
    let store = g.open_store()?;
    let list = targets(&store, &a.containers, a.all, a.latest, false)?;
    for_each(&list, |_, id| containers::init(&store, id, a.all), false)
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Stop all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Seconds to wait for stop before killing the container
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    pub time: Option<u32>,
    /// Read the container ID from the file
    #[arg(long = "cidfile", value_name = "FILE")]
    pub cidfile: Vec<String>,
    /// Stop only the containers these filters select (as ps --filter)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    pub containers: Vec<String>,
}

pub fn stop(g: &GlobalOpts, mut a: StopArgs) -> Result<()> {
    let store = g.open_store()?;
    a.containers.extend(cidfile_names(&a.cidfile, a.ignore)?);
    let everything = a.all || (a.containers.is_empty() && !a.filter.is_empty() && !a.latest);
    if a.containers.is_empty() && !a.cidfile.is_empty() && !everything && !a.latest {
        return Ok(());
    }
    let list = targets(&store, &a.containers, everything, a.latest, a.ignore)?;
    let mut list = filtered(&store, list, &a.filter)?;
    if everything {
        list.retain(|(_, id)| containers::is_running_now(&store, id));
    }
    for_each(&list, |_, id| containers::stop(&store, id, a.time), false)
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL", allow_hyphen_values = true)]
    pub signal: String,
    /// Read the container ID from the file
    #[arg(long = "cidfile", value_name = "FILE")]
    pub cidfile: Vec<String>,
    pub containers: Vec<String>,
}

pub fn kill(g: &GlobalOpts, mut a: KillArgs) -> Result<()> {
    let sig = containers::parse_signal(&a.signal)?;
    let store = g.open_store()?;
    a.containers.extend(cidfile_names(&a.cidfile, false)?);
    let mut list = targets(&store, &a.containers, a.all, a.latest, false)?;
    if a.all {
        list.retain(|(_, id)| containers::is_running_now(&store, id));
    }
    for_each(&list, |_, id| containers::kill(&store, id, sig), false)
}

#[derive(Args, Debug)]
pub struct RestartArgs {
    /// Restart all non-running containers
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Restart only running containers
    #[arg(long)]
    pub running: bool,
    /// Seconds to wait for stop before killing the container
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    pub time: Option<u32>,
    /// Read the container ID from the file
    #[arg(long = "cidfile", value_name = "FILE")]
    pub cidfile: Vec<String>,
    /// Restart only the containers these filters select (as ps --filter)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    pub containers: Vec<String>,
}

pub fn restart(g: &GlobalOpts, mut a: RestartArgs) -> Result<()> {
    let store = g.open_store()?;
    a.containers.extend(cidfile_names(&a.cidfile, false)?);
    let everything = a.all || (a.containers.is_empty() && !a.filter.is_empty() && !a.latest);
    let list = targets(&store, &a.containers, everything, a.latest, false)?;
    let mut list = filtered(&store, list, &a.filter)?;
    if a.running {
        list.retain(|(_, id)| containers::is_running_now(&store, id));
    }
    for_each(
        &list,
        |_, id| containers::restart(&store, id, a.time),
        false,
    )
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// Condition to wait on (stopped, exited, running, created, paused, healthy, unhealthy)
    #[arg(long, value_delimiter = ',')]
    pub condition: Vec<String>,
    /// Time interval to wait before polling for completion
    #[arg(short, long, default_value = "250ms")]
    pub interval: String,
    /// Ignore errors when a specified container is missing
    #[arg(long)]
    pub ignore: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Wait for the first container to meet the conditions only, and print its code
    #[arg(long)]
    pub exit_first_match: bool,
    pub containers: Vec<String>,
}

/// `--condition` values as podman parses them.
fn parse_condition(c: &str) -> Result<WaitCondition> {
    Ok(WaitCondition::State(match c {
        "stopped" | "exited" => Status::Exited,
        "running" => Status::Running,
        "created" | "configured" => Status::Created,
        "initialized" => Status::Initialized,
        "paused" => Status::Paused,
        "stopping" => Status::Stopping,
        "healthy" => return Ok(WaitCondition::Health("healthy")),
        "unhealthy" => return Ok(WaitCondition::Health("unhealthy")),
        other => bail!("unknown container state: {other}: invalid argument"),
    }))
}

pub fn wait(g: &GlobalOpts, a: WaitArgs) -> Result<()> {
    let mut conds = Vec::new();
    for c in &a.condition {
        conds.push(parse_condition(c)?);
    }
    if conds.is_empty() {
        conds.push(WaitCondition::State(Status::Exited));
    }
    let interval = parse_interval(&a.interval)?;
    let store = g.open_store()?;
    // `run -d --rm` then `wait ID`: the container may be gone already; its
    // full id still finds the exit code its monitor kept.
    let kept = |n: &String| match try_container_id(&store, n) {
        Ok(None) => store.containers.kept_exit_code(n),
        _ => None,
    };
    let list = if a.latest || a.containers.iter().all(|n| kept(n).is_none()) {
        targets(&store, &a.containers, false, a.latest, a.ignore)?
    } else {
        let mut list = Vec::new();
        for n in &a.containers {
            if kept(n).is_some() {
                list.push((n.clone(), n.clone()));
            } else {
                list.extend(targets(
                    &store,
                    std::slice::from_ref(n),
                    false,
                    false,
                    a.ignore,
                )?);
            }
        }
        list
    };
    if a.exit_first_match {
        let ids: Vec<String> = list.iter().map(|(_, id)| id.clone()).collect();
        let (_, code) = containers::wait_first(&store, &ids, &conds, interval)?;
        return println(&code.to_string());
    }
    let mut out_err = None;
    for (typed, id) in &list {
        match containers::wait(&store, id, &conds, interval) {
            Ok(code) => println(&code.to_string())?,
            Err(e) => {
                crate::log::error_line(&format!("{typed}: {e:#}"));
                out_err = Some(SilentExit(125));
            }
        }
    }
    match out_err {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// podman's interval: a Go duration, or a bare number of milliseconds.
fn parse_interval(s: &str) -> Result<Duration> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    let (neg, d) = crate::format::human::parse_go_duration(s)?;
    if neg {
        bail!("invalid interval {s:?}: must be positive");
    }
    Ok(d)
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    pub all: bool,
    /// Force removal of a running or unusable container
    #[arg(short, long)]
    pub force: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    pub ignore: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Seconds to wait for stop before killing the container
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove container (and pod if created) after depending containers
    #[arg(long)]
    pub depend: bool,
    /// Read the container ID from the file
    #[arg(long = "cidfile", value_name = "FILE")]
    pub cidfile: Vec<String>,
    /// Remove only the containers these filters select (as ps --filter)
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    pub containers: Vec<String>,
}

pub fn rm(g: &GlobalOpts, mut a: RmArgs) -> Result<()> {
    let store = g.open_store()?;
    a.containers.extend(cidfile_names(&a.cidfile, a.ignore)?);
    let everything = a.all || (a.containers.is_empty() && !a.filter.is_empty() && !a.latest);
    if a.containers.is_empty() && !a.cidfile.is_empty() && !everything && !a.latest {
        return Ok(());
    }
    let list = missing_exits_1(targets(
        &store,
        &a.containers,
        everything,
        a.latest,
        a.ignore,
    ))?;
    let list = filtered(&store, list, &a.filter)?;
    // A pod's infra goes with its pod (`pod rm`), not with `rm --all`.
    let list: Vec<(String, String)> = if everything {
        list.into_iter()
            .filter(|(_, id)| !containers::is_pod_infra(&store, id))
            .collect()
    } else {
        list
    };
    let how = containers::Removal {
        force: a.force,
        stop_timeout: a.time,
        volumes: a.volumes,
    };
    for_each(&list, |_, id| containers::remove(&store, id, how), false)
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

pub fn rename(g: &GlobalOpts, a: RenameArgs) -> Result<()> {
    let store = g.open_store()?;
    let id = container_id(&store, &a.container)?;
    containers::rename(&store, &id, &a.new_name)
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (label=<key>[=<value>], until=<time>)
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

pub fn prune(g: &GlobalOpts, a: PruneArgs) -> Result<()> {
    let store = g.open_store()?;
    let filter = containers::PruneFilter::parse(&a.filter)?;
    if !a.force && !confirm("WARNING! This will remove all non running containers.")? {
        return Ok(());
    }
    let report = containers::prune(&store, &filter)?;
    print(
        &report
            .removed
            .iter()
            .map(|id| format!("{id}\n"))
            .collect::<String>(),
    )?;
    match report.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    /// Check external containers as well as coracle containers
    #[arg(long)]
    pub external: bool,
    pub container: String,
}

pub fn exists(g: &GlobalOpts, a: ExistsArgs) -> Result<()> {
    let store = g.open_store()?;
    match try_container_id(&store, &a.container)? {
        Some(_) => Ok(()),
        None => Err(SilentExit(1).into()),
    }
}

#[derive(clap::Args, Debug)]
pub struct PortArgs {
    /// Display port information for all containers
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// The container
    pub container: Option<String>,
    /// Only this private port (PORT[/PROTO])
    pub port: Option<String>,
}

/// `port`: the published ports of a container, podman's `80/tcp -> 0.0.0.0:8080`.
pub fn port(g: &GlobalOpts, a: PortArgs) -> Result<()> {
    let store = g.open_store()?;
    let ids: Vec<String> = if a.all {
        store.containers.ids()?
    } else {
        let name = a
            .container
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("you must supply a running container name or ID"))?;
        vec![crate::engine::lookup::container_id(&store, name)?]
    };
    let want = a.port.as_deref().map(|p| {
        let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        (port.to_string(), proto.to_string())
    });
    let mut out = String::new();
    for id in ids {
        let Ok(cfg) = store.containers.load_config(&id) else {
            continue;
        };
        for p in &cfg.ports {
            let host_ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            match &want {
                Some((port, proto)) => {
                    if p.container_port.to_string() == *port && p.protocol == *proto {
                        out.push_str(&format!("{host_ip}:{}\n", p.host_port));
                    }
                }
                None => {
                    if a.all {
                        out.push_str(&format!("{}\t", &cfg.id[..12]));
                    }
                    out.push_str(&format!(
                        "{}/{} -> {host_ip}:{}\n",
                        p.container_port, p.protocol, p.host_port
                    ));
                }
            }
        }
    }
    super::output::print(&out)
}
