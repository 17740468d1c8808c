//! `auto-update`: containers labelled `io.containers.autoupdate=registry`
//! (or `local`) and run from a systemd unit (the `PODMAN_SYSTEMD_UNIT`
//! label `run` records) get the newer image their name has: pulled from
//! the registry (or already in the store), then their unit restarted; a
//! restart that fails puts the old image back under the name and restarts
//! once more. No daemon: systemd (`systemctl`) owns the units.

use super::containers::list_all;
use super::images::{pull_image, tag};
use crate::registry::client::{ClientOptions, RegistryClient};
use crate::registry::reference::{parse_name, ParsedName};
use crate::registry::resolve::try_find_image;
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use std::path::PathBuf;

pub const POLICY_LABEL: &str = "io.containers.autoupdate";
const AUTHFILE_LABEL: &str = "io.containers.autoupdate.authfile";
pub const UNIT_LABEL: &str = "PODMAN_SYSTEMD_UNIT";

pub struct AutoUpdateRequest {
    /// Only say what would be updated (`pending`).
    pub dry_run: bool,
    /// Put the old image back when the restart fails (podman's default).
    pub rollback: bool,
    pub client: ClientOptions,
}

/// One container's outcome, in podman's terms.
#[derive(Clone, Debug)]
pub struct UpdateReport {
    pub unit: String,
    pub container_id: String,
    pub container_name: String,
    pub image: String,
    pub policy: String,
    /// `true`, `false`, `pending`, `failed` or `rolled back`.
    pub updated: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Policy {
    Registry,
    Local,
}

struct Task {
    report: UpdateReport,
    policy: Policy,
    image_id: String,
    authfile: Option<PathBuf>,
}

/// Check and update every labelled running container; the reports, and
/// the errors met on the way (each naming its container or unit).
pub fn auto_update(
    store: &Store,
    req: &AutoUpdateRequest,
) -> Result<(Vec<UpdateReport>, Vec<String>)> {
    let mut errors = Vec::new();
    let mut units: Vec<(String, Vec<Task>)> = Vec::new();
    for l in list_all(store)? {
        let Some(policy) = l.cfg.labels.get(POLICY_LABEL) else {
            continue;
        };
        if !crate::runtime::state::is_running(&l.state) {
            continue;
        }
        let policy = match policy.as_str() {
            "registry" | "image" => Policy::Registry,
            "local" => Policy::Local,
            "disabled" | "" => continue,
            other => {
                errors.push(format!(
                    "auto-updating container {:?}: invalid auto-update policy {other:?}: valid policies are [\"disabled\" \"registry\" \"local\"]",
                    l.cfg.id
                ));
                continue;
            }
        };
        let Some(unit) = l.cfg.labels.get(UNIT_LABEL) else {
            errors.push(format!(
                "auto-updating container {:?}: no {UNIT_LABEL} label found",
                l.cfg.id
            ));
            continue;
        };
        let task = Task {
            report: UpdateReport {
                unit: unit.clone(),
                container_id: l.cfg.id.clone(),
                container_name: l.cfg.name.clone(),
                image: l.cfg.image_name.clone(),
                policy: match policy {
                    Policy::Registry => "registry",
                    Policy::Local => "local",
                }
                .to_string(),
                updated: "failed".to_string(),
            },
            policy,
            image_id: l.cfg.image_id.clone(),
            authfile: l.cfg.labels.get(AUTHFILE_LABEL).map(PathBuf::from),
        };
        match units.iter_mut().find(|(u, _)| u == unit) {
            Some((_, tasks)) => tasks.push(task),
            None => units.push((unit.clone(), vec![task])),
        }
    }
    let mut reports = Vec::new();
    for (unit, mut tasks) in units {
        update_unit(store, req, &unit, &mut tasks, &mut errors);
        reports.extend(tasks.into_iter().map(|t| t.report));
    }
    Ok((reports, errors))
}

/// podman's order: check and pull each container's image, restart the
/// unit once, and on failure roll every one back and restart again.
fn update_unit(
    store: &Store,
    req: &AutoUpdateRequest,
    unit: &str,
    tasks: &mut [Task],
    errors: &mut Vec<String>,
) {
    let mut pulled = false;
    for t in tasks.iter_mut() {
        let client = ClientOptions {
            authfile: t.authfile.clone().or_else(|| req.client.authfile.clone()),
            ..req.client.clone()
        };
        match update_available(store, t, &client) {
            Err(e) => errors.push(format!(
                "checking image updates for container {}: {e:#}",
                t.report.container_id
            )),
            Ok(false) => t.report.updated = "false".into(),
            Ok(true) if req.dry_run => t.report.updated = "pending".into(),
            Ok(true) => match fetch(store, t, &client) {
                Ok(()) => pulled = true,
                Err(e) => errors.push(format!(
                    "updating image for container {}: {e:#}",
                    t.report.container_id
                )),
            },
        }
    }
    if !pulled {
        return;
    }
    let restarted = restart_unit(store, unit);
    let status = if restarted.is_ok() { "true" } else { "failed" };
    tasks
        .iter_mut()
        .for_each(|t| t.report.updated = status.into());
    let Err(update_error) = restarted else {
        return;
    };
    if !req.rollback {
        errors.push(format!(
            "restarting unit {unit} during update: {update_error:#}"
        ));
        return;
    }
    for t in tasks.iter() {
        if let Err(e) = tag(store, &t.image_id, std::slice::from_ref(&t.report.image)) {
            errors.push(format!(
                "rolling back image for container {} in unit {unit}: {e:#}",
                t.report.container_id
            ));
        }
    }
    match restart_unit(store, unit) {
        Ok(()) => tasks
            .iter_mut()
            .for_each(|t| t.report.updated = "rolled back".into()),
        Err(e) => errors.push(format!("restarting unit {unit} during rollback: {e:#}")),
    }
}

/// Registry: the registry's manifest digest for the name is not one the
/// container's image is known by. Local: the name now means another image.
fn update_available(store: &Store, t: &Task, client: &ClientOptions) -> Result<bool> {
    let images = store.images.load()?;
    let current = images
        .by_id(&t.image_id)
        .ok_or_else(|| anyhow!("internal error: no image found for ID {}", t.image_id))?;
    match t.policy {
        Policy::Local => {
            let named = try_find_image(&images, &t.report.image)?;
            Ok(named.is_some_and(|i| i.id != t.image_id))
        }
        Policy::Registry => {
            let ParsedName::Qualified(r) = parse_name(&t.report.image)? else {
                bail!(
                    "auto-update policy \"registry\" requires a fully-qualified image reference (got {:?})",
                    t.report.image
                );
            };
            let remote = RegistryClient::new(&r.registry, client)?
                .get_manifest(&r.repository, &r.reference_str())
                .with_context(|| format!("reading the manifest of {r}"))?;
            Ok(!current.digests.contains(&remote.digest)
                && current.manifest_digest != remote.digest)
        }
    }
}

/// The new image into the store (`local`: it is there already).
fn fetch(store: &Store, t: &Task, client: &ClientOptions) -> Result<()> {
    if t.policy == Policy::Registry {
        let opts = crate::registry::pull::PullOptions {
            client: client.clone(),
            platform: None,
            quiet: true,
        };
        pull_image(store, &t.report.image, &opts)?;
    }
    Ok(())
}

/// `systemctl [--user] restart UNIT`: systemd waits for the unit to be
/// started again (for a notify unit, until it says it is ready).
fn restart_unit(store: &Store, unit: &str) -> Result<()> {
    let mut cmd = std::process::Command::new("systemctl");
    if store.rootless {
        cmd.arg("--user");
    }
    let out = cmd
        .args(["restart", unit])
        .stdin(std::process::Stdio::null())
        .output()
        .context("running systemctl")?;
    if out.status.success() {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&out.stderr)
        .trim()
        .replace('\n', " ");
    bail!("systemctl restart {unit}: {}: {why}", out.status)
}
