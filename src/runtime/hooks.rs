//! OCI hooks (oci-hooks(5), schema 1.0.0): JSON files in the hooks
//! directories (`--hooks-dir`, containers.conf `hooks_dir`, else podman's
//! /usr/share/containers/oci/hooks.d and /etc/containers/oci/hooks.d)
//! say which programs run at which stage of which containers. They are
//! matched once, at create, and kept in the container's OCI spec
//! (`hooks`); the monitor runs them with the container's state on stdin:
//! `prestart` and `createRuntime` once its namespaces exist and before the
//! program runs (a failure fails the start), `poststart` once it runs and
//! `poststop` once it ended (failures are warnings, as the spec says).
//! `createContainer` and `startContainer`, which run inside the
//! container's namespaces, are refused: coracle does not run them.

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::Spec;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEFAULT_DIRS: &[&str] = &[
    "/usr/share/containers/oci/hooks.d",
    "/etc/containers/oci/hooks.d",
];

#[derive(Debug, Deserialize)]
struct HookFile {
    version: String,
    hook: Value,
    when: When,
    stages: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct When {
    always: Option<bool>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    commands: Vec<String>,
    has_bind_mounts: Option<bool>,
}

/// The directories to read, lowest precedence first.
fn dirs() -> Vec<PathBuf> {
    match &crate::config::get().hooks_dirs {
        Some(d) => d.clone(),
        None => DEFAULT_DIRS.iter().map(PathBuf::from).collect(),
    }
}

/// Every hook file, one per name (a later directory's wins), in name order.
fn hook_files() -> Result<Vec<PathBuf>> {
    let mut by_name = BTreeMap::new();
    for dir in dirs() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(anyhow!("reading hooks directory {}: {e}", dir.display())),
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                by_name.insert(name, e.path());
            }
        }
    }
    Ok(by_name.into_values().collect())
}

/// Whether `when` selects a container running `command` with
/// `annotations` (podman's rules: every condition given must hold, except
/// that a matching command selects on its own).
fn matches(
    when: &When,
    command: &str,
    annotations: &BTreeMap<String, String>,
    has_binds: bool,
) -> Result<bool> {
    let mut hits = 0;
    if let Some(always) = when.always {
        if !always {
            return Ok(false);
        }
        hits += 1;
    }
    if let Some(want) = when.has_bind_mounts {
        if !(want && has_binds) {
            return Ok(false);
        }
        hits += 1;
    }
    for (kp, vp) in &when.annotations {
        let (k, v) = (regex::Regex::new(kp)?, regex::Regex::new(vp)?);
        if !annotations
            .iter()
            .any(|(ak, av)| k.is_match(ak) && v.is_match(av))
        {
            return Ok(false);
        }
        hits += 1;
    }
    if !when.commands.is_empty() {
        for c in &when.commands {
            if regex::Regex::new(c)?.is_match(command) {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    Ok(hits > 0)
}

/// The hooks section for a container whose spec is `spec`: every hook
/// file that selects it, by stage. None when no hook applies.
pub fn for_container(spec: &Spec, has_binds: bool) -> Result<Option<oci_spec::runtime::Hooks>> {
    let command = spec
        .process()
        .as_ref()
        .and_then(|p| p.args().as_ref())
        .and_then(|a| a.first().cloned())
        .unwrap_or_default();
    let annotations: BTreeMap<String, String> = spec
        .annotations()
        .as_ref()
        .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut stages: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for path in hook_files()? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading hook {}", path.display()))?;
        let bad = |what: String| anyhow!("hook {}: {what}", path.display());
        let file: HookFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if file.version != "1.0.0" {
            return Err(bad(format!(
                "unsupported version {:?}: use 1.0.0",
                file.version
            )));
        }
        let hook_path = file
            .hook
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !Path::new(hook_path).is_absolute() {
            return Err(bad(format!(
                "hook.path {hook_path:?} must be an absolute path"
            )));
        }
        if !matches(&file.when, &command, &annotations, has_binds)
            .map_err(|e| bad(e.to_string()))?
        {
            continue;
        }
        for stage in &file.stages {
            let key = match stage.as_str() {
                "prestart" | "createRuntime" | "poststart" | "poststop" => stage.clone(),
                "createContainer" | "startContainer" => {
                    return Err(bad(format!(
                        "stage {stage} (in the container's namespaces) is not supported by coracle"
                    )));
                }
                other => return Err(bad(format!("unknown stage {other:?}"))),
            };
            stages.entry(key).or_default().push(file.hook.clone());
        }
    }
    if stages.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        serde_json::from_value(json!(stages)).context("hooks")?,
    ))
}

/// The hooks of `stage` in the spec's `hooks`.
fn stage_hooks(spec: &Spec, stage: &str) -> Vec<Value> {
    spec.hooks()
        .as_ref()
        .and_then(|h| serde_json::to_value(h).ok())
        .and_then(|v| v.get(stage).cloned())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// Run `stage`'s hooks, in order, each with the container's state on
/// stdin; the first failure is the error.
pub fn run_stage(
    spec: &Spec,
    stage: &str,
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
) -> Result<()> {
    let hooks = stage_hooks(spec, stage);
    if hooks.is_empty() {
        return Ok(());
    }
    let state = json!({
        "ociVersion": "1.0.2",
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": spec.annotations().clone().unwrap_or_default(),
    })
    .to_string();
    for h in hooks {
        run_one(&h, &state).with_context(|| format!("{stage} hook"))?;
    }
    Ok(())
}

fn run_one(hook: &Value, state: &str) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let path = hook["path"].as_str().unwrap_or_default();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let args = strings(&hook["args"]);
    let mut cmd = std::process::Command::new(path);
    // args[0] is the program's argv[0], as in execve.
    if let Some(first) = args.first() {
        cmd.arg0(first);
    }
    cmd.args(args.iter().skip(1)).env_clear();
    for e in strings(&hook["env"]) {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running {path}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state is not an error.
        let _ = stdin.write_all(state.as_bytes());
    }
    let timeout = hook["timeout"].as_u64().map(Duration::from_secs);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{path} timed out after {}s",
                timeout.unwrap_or_default().as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        bail!(
            "{path} failed ({status}): {}",
            err.trim().replace('\n', " ")
        );
    }
    Ok(())
}
