//! `mount` and `unmount`/`umount`: containers' root filesystems on the host.

use super::output::println;
use super::selection::{for_each, targets};
use super::GlobalOpts;
use crate::engine::container_mount as engine;
use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct MountArgs {
    /// Mount all containers
    #[arg(short, long)]
    pub all: bool,
    /// Print the mounted containers in the given format (json)
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Do not truncate the output
    #[arg(long, visible_alias = "notruncate")]
    pub no_trunc: bool,
    pub containers: Vec<String>,
}

#[derive(serde::Serialize)]
struct JsonMount {
    id: String,
    names: Vec<String>,
    mountpoint: String,
}

pub fn mount(g: &GlobalOpts, a: MountArgs) -> Result<()> {
    if let Some(f) = a.format.as_deref().filter(|f| *f != "json") {
        bail!("unknown --format {f:?}: mount prints json");
    }
    let store = g.open_store()?;
    engine::check_allowed(&store, "mount")?;
    if a.containers.is_empty() && !a.all && !a.latest {
        return print_mounted(&store, a.format.is_some(), a.no_trunc);
    }
    let list = targets(&store, &a.containers, a.all, a.latest, false)?;
    let mut out = Vec::new();
    for (_, id) in &list {
        let path = engine::mount(&store, id)?;
        out.push((id.clone(), path));
    }
    if a.format.is_some() {
        return print_mounted(&store, true, true);
    }
    for (id, path) in out {
        if list.len() == 1 {
            println(&path.to_string_lossy())?;
        } else {
            println(&format!("{id} {}", path.display()))?;
        }
    }
    Ok(())
}

fn print_mounted(store: &crate::engine::types::Store, json: bool, no_trunc: bool) -> Result<()> {
    let mounted = engine::mounted(store)?;
    if json {
        let v: Vec<JsonMount> = mounted
            .into_iter()
            .map(|m| JsonMount {
                id: m.id,
                names: m.names,
                mountpoint: m.mountpoint.to_string_lossy().into_owned(),
            })
            .collect();
        return println(&serde_json::to_string_pretty(&v)?);
    }
    for m in mounted {
        let id = if no_trunc {
            &m.id[..]
        } else {
            &m.id[..12.min(m.id.len())]
        };
        println(&format!("{id} {}", m.mountpoint.display()))?;
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct UnmountArgs {
    /// Unmount all of the currently mounted containers
    #[arg(short, long)]
    pub all: bool,
    /// Force the complete unmount of the container, whatever its mount count
    #[arg(short, long)]
    pub force: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

pub fn unmount(g: &GlobalOpts, a: UnmountArgs) -> Result<()> {
    let store = g.open_store()?;
    engine::check_allowed(&store, "unmount")?;
    let list = if a.all {
        if !a.containers.is_empty() {
            bail!("--all and container names cannot be used together");
        }
        engine::mounted_ids(&store)?
            .into_iter()
            .map(|id| (id.clone(), id))
            .collect()
    } else {
        targets(&store, &a.containers, false, a.latest, false)?
    };
    for_each(&list, |_, id| engine::unmount(&store, id, a.force), false)
}

#[derive(Args, Debug)]
pub struct CleanupArgs {
    /// Clean up all exited containers
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// After cleanup, remove the container entirely
    #[arg(long)]
    pub rm: bool,
    /// After cleanup, remove the image entirely unless another container uses it (implies --rm)
    #[arg(long)]
    pub rmi: bool,
    /// Clean up this exec session of the one container: its exit code kept, its files removed (with --rm, the session removed)
    #[arg(long, value_name = "SESSION")]
    pub exec: Option<String>,
    pub containers: Vec<String>,
}

/// `container cleanup`: each cleaned container is named; running ones
/// are passed over, as podman's.
pub fn cleanup(g: &GlobalOpts, a: CleanupArgs) -> Result<()> {
    if let Some(session) = &a.exec {
        if a.all {
            bail!("--all and --exec cannot be set together");
        }
        if a.containers.len() > 1 {
            bail!("cannot use exec option when more than one container is given");
        }
        if a.rmi {
            bail!("--exec and --rmi cannot be set together");
        }
        let store = g.open_store()?;
        // Nothing is printed, as podman.
        for (_, id) in targets(&store, &a.containers, false, a.latest, false)? {
            engine::cleanup_exec(&store, &id, session, a.rm)?;
        }
        return Ok(());
    }
    let store = g.open_store()?;
    let list = targets(&store, &a.containers, a.all, a.latest, false)?;
    let mut cleaned = Vec::new();
    let result = for_each(
        &list,
        |typed, id| {
            if engine::cleanup(&store, id, a.rm, a.rmi)? {
                cleaned.push(typed.to_string());
            }
            Ok(())
        },
        true,
    );
    for name in cleaned {
        println(&name)?;
    }
    result
}
