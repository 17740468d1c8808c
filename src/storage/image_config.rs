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
