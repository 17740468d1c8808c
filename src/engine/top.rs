//! What a running container, or a pod's running containers, run: the rows
//! of `top` (a header row first), or the lines of `ps` run in the
//! container. Laying the rows out is the caller's.

use super::containers::latest_id;
use super::lookup::container_id;
use super::pods::{pod_id, targets};
use crate::runtime::pod;
use crate::runtime::state::is_running;
use crate::runtime::top;
use crate::storage::store::Store;
use anyhow::{bail, Result};

/// What `top` found.
pub enum TopReport {
    /// Rows of cells for the format descriptors, the header row first.
    Rows(Vec<Vec<String>>),
    /// The output lines of `ps` with the options given.
    Lines(Vec<String>),
}

/// `top`: the container (the first word, or the latest), then format
/// descriptors, or else `ps` options.
pub fn container_top(store: &Store, latest: bool, args: &[String]) -> Result<TopReport> {
    let (id, words) = if latest {
        (latest_id(store)?, args)
    } else {
        match args.split_first() {
            Some((name, rest)) => (container_id(store, name)?, rest),
            None => bail!("you must provide the name or id of a running container"),
        }
    };
    Ok(match top::parse_descriptors(words) {
        Some(descriptors) => TopReport::Rows(top::top(store, &id, &descriptors)?),
        None => TopReport::Lines(top::ps_in_container(store, &id, words)?),
    })
}

/// `pod top`: the processes of every running container of the pod (the
/// first word, or the latest pod), infra first, under one header row.
pub fn pod_top(store: &Store, latest: bool, args: &[String]) -> Result<Vec<Vec<String>>> {
    let (pod, words) = if latest {
        let mut pods = targets(store, &[], false, true, false)?;
        (pods.remove(0), args)
    } else {
        match args.split_first() {
            Some((name, rest)) => (store.pods.load(&pod_id(store, name)?)?, rest),
            None => bail!("you must provide the name or id of a running pod"),
        }
    };
    let Some(descriptors) = top::parse_descriptors(words) else {
        bail!(
            "unknown descriptor {:?}: pod top takes format descriptors (pid user args ...)",
            words.join(" ")
        );
    };
    let mut members = pod::containers(store, &pod.id)?;
    members.retain(|m| is_running(&m.state));
    members.sort_by_key(|m| !m.cfg.is_infra);
    if members.is_empty() {
        bail!(
            "pod top can only be used on pods with at least one running container: pod {} is not running",
            pod.name
        );
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for m in &members {
        // A member that ended since we looked is simply not listed.
        let Ok(mut own) = top::top(store, &m.cfg.id, &descriptors) else {
            continue;
        };
        if !rows.is_empty() && !own.is_empty() {
            own.remove(0);
        }
        rows.extend(own);
    }
    Ok(rows)
}
