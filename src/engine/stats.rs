//! What running containers use, sampled again and again: the containers a
//! request names (or all, or the running ones), or a pod's members, each
//! with its usage and CPU share. Turning the numbers into columns is the
//! caller's.

use super::containers::{latest_id, list_all, Listed};
use super::lookup::container_id;
use super::pods::targets;
use super::types::Usage;
use crate::format::human;
use crate::runtime::cgroup::usage::ProcIndex;
use crate::runtime::pod;
use crate::runtime::resources::usage_of;
use crate::runtime::state::is_running;
use crate::storage::containers::Status;
use crate::storage::store::Store;
use anyhow::Result;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a running container used, with its CPU share (percent) since the
/// previous sample and on average over its life.
#[derive(Default)]
pub struct Measured {
    pub usage: Usage,
    pub cpu: f64,
    pub avg: f64,
}

/// The previous sample of each container: (cpu ns, wall ns).
#[derive(Default)]
struct Samples(HashMap<String, (u64, u128)>);

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn started_ns(l: &Listed) -> Option<u128> {
    let t = l.state.started_at.as_deref()?;
    let t = human::parse_rfc3339(t).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_nanos())
}

impl Samples {
    /// One sample of a container, `None` when it is not running. The first
    /// sample's CPU share is over the container's life, the next ones over
    /// the interval since the previous (as podman does).
    fn measure(
        &mut self,
        l: &Listed,
        index: &mut Option<ProcIndex>,
        now: u128,
    ) -> Option<Measured> {
        if !is_running(&l.state) || l.state.status == Status::Created {
            return None;
        }
        let usage = usage_of(&l.state, index);
        let start = started_ns(l).unwrap_or(now);
        let lifetime = now.saturating_sub(start).max(1) as f64;
        let avg = usage.cpu_ns as f64 / lifetime * 100.0;
        let cpu = match self.0.get(&l.cfg.id) {
            Some((cpu0, t0)) if now > *t0 => {
                usage.cpu_ns.saturating_sub(*cpu0) as f64 / (now - t0) as f64 * 100.0
            }
            _ => avg,
        };
        self.0.insert(l.cfg.id.clone(), (usage.cpu_ns, now));
        Some(Measured { usage, cpu, avg })
    }
}

/// One container in a sample; `measured` is `None` when it is not running.
pub struct ContainerSample {
    pub container: Listed,
    pub measured: Option<Measured>,
}

/// `stats`: the containers to sample, and their previous samples.
pub struct ContainerStats {
    wanted: Option<Vec<String>>,
    all: bool,
    previous: Samples,
}

/// The containers `names` mean (or the latest; or, with none named, all
/// containers with `all`, else the running ones).
pub fn container_stats(
    store: &Store,
    names: &[String],
    latest: bool,
    all: bool,
) -> Result<ContainerStats> {
    let wanted: Option<Vec<String>> = if latest {
        Some(vec![latest_id(store)?])
    } else if names.is_empty() {
        None
    } else {
        Some(
            names
                .iter()
                .map(|n| container_id(store, n))
                .collect::<Result<_>>()?,
        )
    };
    Ok(ContainerStats {
        wanted,
        all,
        previous: Samples::default(),
    })
}

impl ContainerStats {
    /// One sample of every container, named ones in the order named.
    pub fn sample(&mut self, store: &Store) -> Result<Vec<ContainerSample>> {
        let mut list = list_all(store)?;
        match &self.wanted {
            Some(ids) => {
                list.retain(|l| ids.contains(&l.cfg.id));
                list.sort_by_key(|l| ids.iter().position(|i| i == &l.cfg.id));
            }
            None if !self.all => list.retain(|l| is_running(&l.state)),
            None => {}
        }
        let now = now_ns();
        let mut index: Option<ProcIndex> = None;
        Ok(list
            .into_iter()
            .map(|l| {
                let measured = self.previous.measure(&l, &mut index, now);
                ContainerSample {
                    container: l,
                    measured,
                }
            })
            .collect())
    }
}

/// One pod member in a sample; `measured` is `None` when it is not running.
pub struct PodSample {
    pub pod_id: String,
    pub container: Listed,
    pub measured: Option<Measured>,
}

/// `pod stats`: the pods to sample, and their members' previous samples.
pub struct PodStats {
    pods: Vec<crate::storage::pods::PodConfig>,
    chosen: bool,
    all: bool,
    previous: Samples,
}

/// The pods `names` mean (or the latest; or, with none named, every pod,
/// of which a sample shows those with a running member unless `all`).
pub fn pod_stats(store: &Store, names: &[String], latest: bool, all: bool) -> Result<PodStats> {
    let chosen = !names.is_empty() || latest;
    let pods = targets(store, names, !chosen, latest, false)?;
    Ok(PodStats {
        pods,
        chosen,
        all,
        previous: Samples::default(),
    })
}

impl PodStats {
    /// One sample of every member of every pod, pod by pod, oldest first.
    pub fn sample(&mut self, store: &Store) -> Result<Vec<PodSample>> {
        let mut index = None;
        let mut out = Vec::new();
        for p in &self.pods {
            let members = pod::containers(store, &p.id)?;
            if !self.chosen && !self.all && !members.iter().any(|m| is_running(&m.state)) {
                continue;
            }
            for m in members {
                let l = Listed {
                    health: super::containers::health(store, &m.cfg)
                        .map(|h| h.status)
                        .unwrap_or_default(),
                    cfg: m.cfg,
                    state: m.state,
                };
                let measured = self.previous.measure(&l, &mut index, now_ns());
                out.push(PodSample {
                    pod_id: p.id.clone(),
                    container: l,
                    measured,
                });
            }
        }
        Ok(out)
    }
}
