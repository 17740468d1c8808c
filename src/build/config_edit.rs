//! Edits of an image's config that a Containerfile's metadata instructions
//! and `commit --change` make alike.

use super::containerfile::KeyValue;
use crate::storage::image_config::ContainerConfig;
use serde_json::json;

/// ENV: each key replaces an earlier value of its own.
pub fn set_env(c: &mut ContainerConfig, kvs: &[KeyValue]) {
    let env = c.env.get_or_insert_with(Vec::new);
    for kv in kvs {
        let prefix = format!("{}=", kv.key);
        env.retain(|e| !e.starts_with(&prefix) && *e != kv.key);
        env.push(format!("{}={}", kv.key, kv.value));
    }
}

/// LABEL
pub fn add_labels(c: &mut ContainerConfig, kvs: &[KeyValue]) {
    let labels = c.labels.get_or_insert_with(Default::default);
    for kv in kvs {
        labels.insert(kv.key.clone(), kv.value.clone());
    }
}

/// EXPOSE: a port without a protocol is TCP.
pub fn expose(c: &mut ContainerConfig, ports: &[String]) {
    let map = c.exposed_ports.get_or_insert_with(Default::default);
    for p in ports {
        let p = if p.contains('/') {
            p.to_ascii_lowercase()
        } else {
            format!("{p}/tcp")
        };
        map.insert(p, json!({}));
    }
}

/// VOLUME
pub fn add_volumes(c: &mut ContainerConfig, vols: &[String]) {
    let map = c.volumes.get_or_insert_with(Default::default);
    for v in vols {
        map.insert(v.clone(), json!({}));
    }
}
