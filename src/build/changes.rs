//! `--change` lines (`CMD ["/app"]`, `ENV A=1`) for commit and import,
//! parsed as one-line Containerfiles.

use super::config_edit;
use super::containerfile::{self, Command, Instruction};
use crate::storage::image_config::ImageConfig;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

/// The instructions `--change` accepts (podman's list).
const CHANGE_KEYWORDS: [&str; 10] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Apply Dockerfile-like one-line changes to `config`, parsed by the
/// Containerfile parser (one instruction each; `KEY=value` as podman
/// also takes it: `CMD=/bin/sh`). Variables expand against the config's env.
pub fn apply_changes(config: &mut ImageConfig, changes: &[String]) -> Result<()> {
    for change in changes {
        apply_change(config, change).with_context(|| format!("invalid change {change:?}"))?;
    }
    Ok(())
}

fn apply_change(config: &mut ImageConfig, change: &str) -> Result<()> {
    let change = change.trim();
    if change.contains('\n') || change.contains('\r') {
        bail!("a change must be one line");
    }
    let word_end = change
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(change.len());
    let keyword = change[..word_end].to_ascii_uppercase();
    if !CHANGE_KEYWORDS.contains(&keyword.as_str()) {
        bail!(
            "{} is not a valid change instruction: use one of {}",
            if keyword.is_empty() { change } else { &keyword },
            CHANGE_KEYWORDS.join(", ")
        );
    }
    let rest = &change[word_end..];
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    let text = format!("FROM scratch\n{keyword} {}\n", rest.trim_start());
    let file = containerfile::parse(&text, "change").map_err(|e| anyhow!("{}", e.message))?;
    let stage = file.stages.first().context("no instruction")?;
    let [step] = stage.instructions.as_slice() else {
        bail!("a change must be exactly one instruction");
    };
    let env = config.config.env.clone().unwrap_or_default();
    let lookup = |name: &str| -> Option<String> {
        env.iter().rev().find_map(|e| {
            e.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    };
    let instruction = step
        .instruction
        .expand(file.escape, &lookup)
        .map_err(|e| anyhow!("{}", e.0))?;
    let c = &mut config.config;
    match instruction {
        Instruction::Cmd(cmd) => c.cmd = Some(command_argv(cmd)),
        Instruction::Entrypoint(cmd) => c.entrypoint = Some(command_argv(cmd)),
        Instruction::Env(kvs) => config_edit::set_env(c, &kvs),
        Instruction::Expose(ports) => config_edit::expose(c, &ports),
        Instruction::Label(kvs) => config_edit::add_labels(c, &kvs),
        Instruction::User(u) => c.user = Some(u),
        Instruction::Workdir(w) => {
            // A relative WORKDIR continues from the current one.
            let w = if w.starts_with('/') {
                w
            } else {
                let base = c.working_dir.clone().unwrap_or_else(|| "/".to_string());
                format!("{}/{w}", base.trim_end_matches('/'))
            };
            c.working_dir = Some(w);
        }
        Instruction::Volume(vols) => config_edit::add_volumes(c, &vols),
        Instruction::StopSignal(s) => c.stop_signal = Some(s),
        Instruction::OnBuild(o) => {
            let list = c
                .extra
                .entry("OnBuild")
                .or_insert_with(|| Value::Array(Vec::new()));
            if !list.is_array() {
                *list = Value::Array(Vec::new());
            }
            list.as_array_mut()
                .expect("made an array above")
                .push(Value::String(o.trigger));
        }
        other => bail!("{} is not a valid change instruction", other.keyword()),
    }
    Ok(())
}

fn command_argv(cmd: Command) -> Vec<String> {
    match cmd {
        Command::Exec(argv) => argv,
        Command::Shell(line) => vec!["/bin/sh".to_string(), "-c".to_string(), line],
    }
}
