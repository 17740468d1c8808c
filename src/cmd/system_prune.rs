//! `system prune`, `system reset`, `system migrate`, `system renumber`:
//! podman's prompts and output over engine/maintenance.rs.

use super::output::{confirm, print};
use super::GlobalOpts;
use crate::engine::maintenance::{self, PruneRequest};
use crate::format::human::human_size_compact;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused data
    #[arg(short, long)]
    pub all: bool,
    /// Also remove build containers, running or not, that a killed build left (unsafe while a build runs)
    #[arg(long)]
    pub build: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Remove only what the store holds that no record names (container directories without records, layers nothing uses, leftovers of killed commands); no other option may be given
    #[arg(long)]
    pub external: bool,
}

pub fn prune(g: &GlobalOpts, a: PruneArgs) -> Result<()> {
    if a.external {
        if a.all || a.volumes || a.build || !a.filter.is_empty() {
            anyhow::bail!("system prune --external cannot be combined with other options");
        }
        // As podman: no prompt, and nothing printed.
        let store = g.open_store()?;
        let r = crate::engine::check::remove_external(&store)?;
        for id in &r.containers {
            crate::info!("removed the directory of container {id}, which had no record");
        }
        for hex in &r.layers {
            crate::info!("removed layer {hex}, which nothing used");
        }
        crate::info!("removed {} leftover files of killed commands", r.leftovers);
        return Ok(());
    }
    let store = g.open_store()?;
    if !a.force {
        let volumes = if a.volumes {
            "\n\t- all volumes not used by at least one container"
        } else {
            ""
        };
        let build = if a.build {
            "\n\t- all build containers"
        } else {
            ""
        };
        let images = if a.all {
            "\t- all images without at least one container associated with them\n\t- all build cache"
        } else {
            "\t- all dangling images\n\t- all dangling build cache"
        };
        let warning = format!(
            "WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container{volumes}{build}\n{images}\n"
        );
        if !confirm(&warning)? {
            return Ok(());
        }
    }
    let report = maintenance::prune(
        &store,
        &PruneRequest {
            all: a.all,
            volumes: a.volumes,
            build: a.build,
            filters: a.filter,
        },
    )?;
    let mut out = String::new();
    for (heading, ids) in [
        ("Deleted Containers", &report.containers),
        ("Deleted Pods", &report.pods),
        ("Deleted Volumes", &report.volumes),
        ("Deleted Images", &report.images),
    ] {
        if !ids.is_empty() {
            out.push_str(heading);
            out.push('\n');
            for id in ids {
                out.push_str(id);
                out.push('\n');
            }
        }
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size_compact(report.reclaimed)
    ));
    print(&out)?;
    match report.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Args, Debug)]
pub struct ResetArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn reset(g: &GlobalOpts, a: ResetArgs) -> Result<()> {
    let store = g.open_store()?;
    if !a.force {
        let warning = format!(
            "WARNING! This will remove:\n        - all containers\n        - all pods\n        - all images\n        - all networks\n        - all build cache\n        - all machines\n        - all volumes\n        - the graphRoot directory: {:?}\n        - the runRoot directory: {:?}",
            store.root.display().to_string(),
            store.runroot.display().to_string()
        );
        if !confirm(&warning)? {
            return Ok(());
        }
    }
    maintenance::reset(&store)
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Give every container this OCI runtime (a name, a path, or coracle for the built-in one)
    #[arg(long, value_name = "RUNTIME")]
    pub new_runtime: Option<String>,
    /// Migrate a legacy BoltDB database to SQLite: coracle's store is JSON files and has no legacy database, so there is never anything to migrate (as podman on a SQLite store)
    #[arg(long)]
    pub migrate_db: bool,
}

pub fn migrate(g: &GlobalOpts, a: MigrateArgs) -> Result<()> {
    let store = g.open_store()?;
    maintenance::migrate(&store, a.new_runtime.as_deref())?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct RenumberArgs {}

pub fn renumber(g: &GlobalOpts, _a: RenumberArgs) -> Result<()> {
    let store = g.open_store()?;
    maintenance::renumber(&store)
}
