//! Pods: finding them, listing them with their containers, and acting on
//! them as a whole (start, stop, kill, remove, prune).

use crate::error::CodedError;
use crate::runtime::pod::{self as rt, Member};
use crate::runtime::state::is_running;
use crate::storage::containers::Status;
use crate::storage::pods::PodConfig;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

pub fn no_such_pod(input: &str) -> anyhow::Error {
    CodedError {
        code: 125,
        message: format!("no pod with name or ID {input} found: no such pod"),
    }
    .into()
}

/// The full id of the pod `input` names: id, unique id prefix, or name.
pub fn try_pod_id(store: &Store, input: &str) -> Result<Option<String>> {
    if input.is_empty() {
        bail!("pod name or ID cannot be empty");
    }
    if input.len() == 64 && store.pods.exists(input) {
        return Ok(Some(input.to_string()));
    }
    if let Some(id) = store.pods.name_owner(input) {
        return Ok(Some(id));
    }
    crate::engine::lookup::unique_prefix(&store.pods.ids()?, input, "pod")
}

pub fn pod_id(store: &Store, input: &str) -> Result<String> {
    try_pod_id(store, input)?.ok_or_else(|| no_such_pod(input))
}

/// A pod with its containers, as the listing verbs see it.
pub struct Listed {
    pub pod: PodConfig,
    pub members: Vec<Member>,
}

impl Listed {
    pub fn status(&self) -> &'static str {
        // podman leaves init containers out of a pod's status.
        let states: Vec<Status> = self
            .members
            .iter()
            .filter(|m| m.cfg.init_ctr.is_none())
            .map(|m| m.state.status)
            .collect();
        rt::status(&states)
    }
}

/// Every pod, oldest first. A pod removed while we read is skipped.
pub fn list_all(store: &Store) -> Result<Vec<Listed>> {
    let mut members: BTreeMap<String, Vec<Member>> = BTreeMap::new();
    for l in super::containers::list_all(store)? {
        if !l.cfg.pod.is_empty() {
            members.entry(l.cfg.pod.clone()).or_default().push(Member {
                cfg: l.cfg,
                state: l.state,
            });
        }
    }
    let mut out = Vec::new();
    for id in store.pods.ids()? {
        let Ok(pod) = store.pods.load(&id) else {
            continue;
        };
        let members = members.remove(&id).unwrap_or_default();
        out.push(Listed { pod, members });
    }
    out.sort_by(|a, b| a.pod.created.cmp(&b.pod.created));
    Ok(out)
}

/// The pods the user named (or all, or the latest), looked up before
/// anything is done.
pub fn targets(
    store: &Store,
    names: &[String],
    all: bool,
    latest: bool,
    ignore: bool,
) -> Result<Vec<PodConfig>> {
    if all || latest {
        if !names.is_empty() {
            bail!("--all and --latest cannot be used together with pod names");
        }
        let mut list = list_all(store)?;
        if latest {
            list.drain(..list.len().saturating_sub(1));
            if list.is_empty() {
                bail!("no pods to act on: no such pod");
            }
        }
        return Ok(list.into_iter().map(|l| l.pod).collect());
    }
    if names.is_empty() {
        bail!("you must provide at least one name or id");
    }
    let mut out = Vec::new();
    for n in names {
        match try_pod_id(store, n)? {
            Some(id) => out.push(store.pods.load(&id)?),
            None if ignore => {}
            None => return Err(no_such_pod(n)),
        }
    }
    Ok(out)
}

/// Start a pod (its infra first); with `restart`, stop it before.
pub fn start(store: &Store, pod: &PodConfig, restart: bool) -> Result<()> {
    if restart {
        // podman: a restart runs no init container.
        rt::stop(store, pod, None)?;
    } else {
        run_init_containers(store, pod)?;
    }
    rt::start(store, pod)
}

/// `create --init-ctr` containers of a pod that is not running: each run
/// to its end, in order of creation, after the infra (whose namespaces
/// they join); a `once` one removed after. One that fails fails the pod's
/// start, before its other containers, as podman.
fn run_init_containers(store: &Store, pod: &PodConfig) -> Result<()> {
    use super::containers::{self as ctrs, WaitCondition};
    let list = rt::containers(store, &pod.id)?;
    let running = list
        .iter()
        .any(|m| !m.cfg.is_infra && m.cfg.init_ctr.is_none() && is_running(&m.state));
    if running {
        return Ok(());
    }
    for m in list.iter().filter(|m| m.cfg.init_ctr.is_some()) {
        let id = &m.cfg.id;
        // `start` starts the pod's infra first.
        ctrs::start(store, id)?;
        let exited = WaitCondition::State(Status::Exited);
        let code = ctrs::wait(store, id, &[exited], std::time::Duration::from_millis(50))?;
        if code != 0 {
            bail!("init container {id} exited with code {code}");
        }
        if m.cfg.init_ctr == Some(crate::storage::containers::InitCtr::Once) {
            ctrs::remove(store, id, ctrs::Removal::default())
                .with_context(|| format!("failed to remove once init container {id}"))?;
        }
    }
    Ok(())
}

pub fn stop(store: &Store, pod: &PodConfig, timeout: Option<u32>) -> Result<()> {
    rt::stop(store, pod, timeout)
}

pub fn kill(store: &Store, pod: &PodConfig, signal: i32) -> Result<()> {
    rt::kill(store, pod, signal)
}

/// Remove a pod and its containers; running ones only with `force`.
pub fn remove(store: &Store, pod: &PodConfig, force: bool, timeout: Option<u32>) -> Result<()> {
    rt::remove(store, pod, force, timeout)
}

/// The pods `pod prune` removes: those with no running container.
/// Where the pod's cgroup is (made when its first container starts);
/// empty when this user's containers get none on this host.
pub fn cgroup_path(store: &Store, pod: &PodConfig) -> String {
    crate::runtime::cgroup::pod::place(&pod.id, &pod.cgroup_parent, store.rootless)
        .map(|c| c.rel)
        .unwrap_or_default()
}

pub fn prune_candidates(store: &Store) -> Result<Vec<PodConfig>> {
    Ok(list_all(store)?
        .into_iter()
        .filter(|l| !l.members.iter().any(|m| is_running(&m.state)))
        .map(|l| l.pod)
        .collect())
}
