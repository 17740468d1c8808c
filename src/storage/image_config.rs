//! The OCI/Docker image configuration (the JSON whose digest is the image id).
//! Unknown fields are kept so a config round-trips unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: ContainerConfig,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The runtime defaults an image carries (`.config` in the JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub fs_type: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl ImageConfig {
    /// Parse and check the parts coracle relies on.
    pub fn parse(data: &[u8]) -> anyhow::Result<ImageConfig> {
        let cfg: ImageConfig = serde_json::from_slice(data)
            .map_err(|e| anyhow::anyhow!("malformed image configuration: {e}"))?;
        if !cfg.rootfs.fs_type.is_empty() && cfg.rootfs.fs_type != "layers" {
            anyhow::bail!(
                "unsupported rootfs type {:?} in image configuration",
                cfg.rootfs.fs_type
            );
        }
        Ok(cfg)
    }
}

/// The config JSON `config` with `rootfs.diff_ids` replaced and every other
/// field kept: for an image whose layers were written again and came out
/// different from the tars they were stored from (push, save).
pub fn with_diff_ids(
    config: &[u8],
    diff_ids: &[crate::storage::digest::Digest],
) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    let mut v: Value = serde_json::from_slice(config).context("parsing the image configuration")?;
    let ids: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    match v.get_mut("rootfs").and_then(|r| r.as_object_mut()) {
        Some(r) => {
            r.insert("diff_ids".into(), serde_json::json!(ids));
        }
        None => anyhow::bail!("malformed image configuration: no rootfs"),
    }
    Ok(serde_json::to_vec(&v)?)
}

/// `commit --config FILE`: merge a Docker container configuration (the
/// Schema2Config JSON of a `config` section) into an image's, as buildah
/// does: plain values replace the image's when set, maps (ports, volumes,
/// labels) and the environment (by name) are merged, and ENTRYPOINT and
/// CMD go together (either given sets both). Fields an image config has
/// no use for (Hostname, Tty, ...) are ignored.
pub fn merge_override(config: &mut ContainerConfig, over: &Value) -> anyhow::Result<()> {
    use anyhow::{bail, Context};
    let Some(over) = over.as_object() else {
        bail!("not a JSON object");
    };
    let text = |key: &str| -> anyhow::Result<Option<String>> {
        match over.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => bail!("{key}: not a string"),
        }
    };
    let list = |key: &str| -> anyhow::Result<Option<Vec<String>>> {
        match over.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                let l: Vec<String> = serde_json::from_value(v.clone())
                    .with_context(|| format!("{key}: not a list of strings"))?;
                Ok(Some(l).filter(|l| !l.is_empty()))
            }
        }
    };
    let map = |key: &str| -> anyhow::Result<Option<Map<String, Value>>> {
        match over.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => bail!("{key}: not an object"),
        }
    };
    if let Some(u) = text("User")? {
        config.user = Some(u);
    }
    if let Some(w) = text("WorkingDir")? {
        config.working_dir = Some(w);
    }
    if let Some(s) = text("StopSignal")? {
        config.stop_signal = Some(s);
    }
    if let Some(ports) = map("ExposedPorts")? {
        let mine = config.exposed_ports.get_or_insert_with(BTreeMap::new);
        mine.extend(
            ports
                .into_iter()
                .map(|(k, _)| (k, Value::Object(Map::new()))),
        );
    }
    if let Some(vols) = map("Volumes")? {
        let mine = config.volumes.get_or_insert_with(BTreeMap::new);
        mine.extend(
            vols.into_iter()
                .map(|(k, _)| (k, Value::Object(Map::new()))),
        );
    }
    if let Some(labels) = map("Labels")? {
        let mine = config.labels.get_or_insert_with(BTreeMap::new);
        for (k, v) in labels {
            let Value::String(v) = v else {
                bail!("Labels: {k}: not a string");
            };
            mine.insert(k, v);
        }
    }
    if let Some(env) = list("Env")? {
        let mine = config.env.get_or_insert_with(Vec::new);
        for e in env {
            let name = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            match mine
                .iter_mut()
                .find(|m| m.split_once('=').map_or(m.as_str(), |(k, _)| k) == name)
            {
                Some(m) => *m = e.clone(),
                None => mine.push(e.clone()),
            }
        }
    }
    let (entrypoint, cmd) = (list("Entrypoint")?, list("Cmd")?);
    if entrypoint.is_some() || cmd.is_some() {
        config.entrypoint = entrypoint;
        config.cmd = cmd;
    }
    // Docker-format keys the image config keeps as they are.
    for key in ["Healthcheck", "OnBuild", "Shell"] {
        match over.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(v) => {
                config.extra.insert(key.to_string(), v.clone());
            }
        }
    }
    Ok(())
}
