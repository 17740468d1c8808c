//! `image trust show|set`: policy.json as podman describes and edits it.
//! Read and written as loose JSON so that keys coracle does not know
//! survive a `set`.

use crate::config::{policy, registries_d};
use crate::registry::signature::gpg;
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// One line of `image trust show`, with podman's JSON names.
#[derive(Debug, Serialize)]
pub struct TrustEntry {
    pub transport: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub repo_name: String,
    #[serde(rename = "sigstore", skip_serializing_if = "String::is_empty")]
    pub signature_store: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gpg_id: String,
}

/// `--signature-policy`, else the file pulls use, else the system's.
pub fn policy_path(given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .or_else(policy::default_path)
        .unwrap_or_else(|| PathBuf::from("/etc/containers/policy.json"))
}

fn read(path: &Path) -> Result<(String, Value)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("unable to read policy file {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "could not parse trust policies from {}: {e}",
            path.display()
        )
    })?;
    Ok((text, v))
}

/// The file as it is (`--raw`).
pub fn raw(path: &Path) -> Result<String> {
    read(path).map(|(t, _)| t)
}

fn type_description(t: &str) -> &'static str {
    match t {
        "insecureAcceptAnything" => "accept",
        "signedBy" => "signed",
        "sigstoreSigned" => "sigstoreSigned",
        "reject" => "reject",
        _ => "",
    }
}

fn gpg_ids(req: &Value) -> String {
    let mut ids = Vec::new();
    let paths = req["keyPath"].as_str().into_iter().chain(
        req["keyPaths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str),
    );
    for p in paths {
        ids.extend(gpg::key_ids(Path::new(p)));
    }
    if let Some(data) = req["keyData"].as_str() {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) {
            let f = std::env::temp_dir().join(format!("coracle-key-{}", std::process::id()));
            if std::fs::write(&f, bytes).is_ok() {
                ids.extend(gpg::key_ids(&f));
            }
            let _ = std::fs::remove_file(&f);
        }
    }
    ids.join(", ")
}

/// Every requirement of the policy, as podman lists them: the default
/// first, then each transport's scopes in name order.
pub fn show(path: &Path) -> Result<Vec<TrustEntry>> {
    let (_, v) = read(path)?;
    let lookaside = registries_d::load()?;
    let mut out = Vec::new();
    let mut add = |transport: &str, name: &str, repo: &str, scope: &str, reqs: &Value| {
        for r in reqs.as_array().into_iter().flatten() {
            let t = r["type"].as_str().unwrap_or_default();
            out.push(TrustEntry {
                transport: transport.to_string(),
                name: name.to_string(),
                repo_name: repo.to_string(),
                signature_store: lookaside.shown_for_scope(scope).unwrap_or_default(),
                kind: type_description(t).to_string(),
                gpg_id: match t {
                    "signedBy" => gpg_ids(r),
                    "sigstoreSigned" => "N/A".to_string(),
                    _ => String::new(),
                },
            });
        }
    };
    if v["default"].as_array().is_some_and(|a| !a.is_empty()) {
        add("all", "* (default)", "default", "", &v["default"]);
    }
    if let Some(transports) = v["transports"].as_object() {
        let mut names: Vec<&String> = transports.keys().collect();
        names.sort();
        for t in names {
            let shown = if t == "docker" { "repository" } else { t };
            let Some(scopes) = transports[t].as_object() else {
                continue;
            };
            let mut keys: Vec<&String> = scopes.keys().collect();
            keys.sort();
            for s in keys {
                add(shown, s, s, s, &scopes[s]);
            }
        }
    }
    Ok(out)
}

/// What `image trust set` writes for one scope.
pub struct SetTrust {
    /// `default` or a registry/repository scope.
    pub scope: String,
    /// accept, reject, signedBy, sigstoreSigned (podman's spellings).
    pub kind: String,
    pub pubkeys: Vec<PathBuf>,
}

/// Write the scope's requirements into the policy at `path` (made when
/// missing, as podman does).
pub fn set(path: &Path, s: &SetTrust) -> Result<()> {
    let kind = match s.kind.as_str() {
        "accept" | "insecureAcceptAnything" => "insecureAcceptAnything",
        "reject" => "reject",
        "signedBy" => "signedBy",
        "sigstoreSigned" => "sigstoreSigned",
        other => bail!(
            "invalid choice: {other} (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')"
        ),
    };
    check_scope(&s.scope)?;
    let reqs: Vec<Value> = match kind {
        "insecureAcceptAnything" | "reject" => {
            if !s.pubkeys.is_empty() {
                bail!(
                    "{} public keys unexpectedly provided for trust type {}",
                    s.pubkeys.len(),
                    s.kind
                );
            }
            vec![json!({"type": kind})]
        }
        _ => {
            if s.pubkeys.is_empty() {
                bail!("at least one public key must be defined for type '{kind}'");
            }
            s.pubkeys
                .iter()
                .map(|p| match kind {
                    "signedBy" => json!({"type": kind, "keyType": "GPGKeys", "keyPath": p}),
                    _ => json!({"type": kind, "keyPath": p}),
                })
                .collect()
        }
    };
    let mut policy = if path.exists() {
        match read(path)?.1 {
            Value::Object(m) => m,
            _ => bail!("could not read trust policies from {}", path.display()),
        }
    } else {
        Map::new()
    };
    if s.scope == "default" {
        policy.insert("default".into(), Value::Array(reqs));
    } else {
        if policy
            .get("default")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty())
        {
            bail!("default trust policy must be set");
        }
        let transports = policy
            .entry("transports")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .context("policy \"transports\" is not an object")?;
        let holder = transports
            .iter()
            .find(|(_, v)| v.get(&s.scope).is_some())
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| "docker".to_string());
        transports
            .entry(holder)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .context("a transport of the policy is not an object")?
            .insert(s.scope.clone(), Value::Array(reqs));
    }
    let text = crate::format::table::json_pretty(&Value::Object(policy));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// podman's check of a scope: a registry host, perhaps with a port and a
/// repository path.
fn check_scope(scope: &str) -> Result<()> {
    let ok = !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b))
        && !scope.starts_with(['/', ':', '.']);
    if !ok {
        bail!("invalid image uri: {scope}");
    }
    Ok(())
}
