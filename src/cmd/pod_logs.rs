//! `pod logs POD`: the logs of the pod's containers (its infra left out),
//! or of one of them (`-c`), with the flags and output of `logs`.

use super::logs::{LogFlags, LogsArgs};
use super::GlobalOpts;
use crate::engine::pods;
use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct PodLogsArgs {
    /// Filter logs by container name or id which belongs to pod
    #[arg(short, long)]
    pub container: Option<String>,
    /// Act on the latest pod coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    #[command(flatten)]
    pub out: LogFlags,
    pub pod: Option<String>,
}

pub fn pod_logs(g: &GlobalOpts, a: PodLogsArgs) -> Result<()> {
    let store = g.open_store()?;
    let names: Vec<String> = a.pod.iter().cloned().collect();
    if a.latest == a.pod.is_some() {
        bail!("specify one pod, or --latest");
    }
    let pod = pods::targets(&store, &names, false, a.latest, false)?
        .pop()
        .expect("one pod, or an error");
    let listed = pods::list_all(&store)?
        .into_iter()
        .find(|l| l.pod.id == pod.id);
    let mut members: Vec<(String, String)> = listed
        .map(|l| l.members)
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !m.cfg.is_infra)
        .map(|m| (m.cfg.id, m.cfg.name))
        .collect();
    if let Some(c) = &a.container {
        members.retain(|(id, name)| name == c || id.starts_with(c.as_str()));
        if members.is_empty() {
            bail!("container {c} is not in pod {}", pod.name);
        }
    }
    if members.is_empty() {
        bail!("no containers in pod {}", pod.name);
    }
    super::logs::logs(
        g,
        LogsArgs {
            latest: false,
            out: a.out,
            containers: members.into_iter().map(|(id, _)| id).collect(),
        },
    )
}
