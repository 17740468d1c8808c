//! containers-policy.json(5): which images may be pulled. coracle checks
//! no signatures, so a requirement of one (`signedBy`, `sigstoreSigned`,
//! `signedBaseLayer`) refuses the pull with a clear error rather than
//! letting an unverified image through.

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct Policy {
    default: Option<Vec<Requirement>>,
    #[serde(default)]
    transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
}

#[derive(Debug, Deserialize)]
struct Requirement {
    #[serde(rename = "type")]
    kind: String,
}

/// `~/.config/containers/policy.json`, else `/etc/containers/policy.json`;
/// none when neither exists (everything is allowed then).
pub fn default_path() -> Option<PathBuf> {
    let user = super::files::user_dir().map(|d| d.join("policy.json"));
    [user, Some(PathBuf::from("/etc/containers/policy.json"))]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

/// Whether `reference` (`host/path/name:tag` or `@digest`) may be pulled
/// over `transport` (`docker`) under the policy at `path`.
pub fn check(path: &Path, transport: &str, reference: &str) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("reading signature policy {}: {e}", path.display()))?;
    let policy: Policy = serde_json::from_str(&text)
        .map_err(|e| anyhow!("invalid signature policy {}: {e}", path.display()))?;
    let Some(default) = &policy.default else {
        bail!(
            "invalid signature policy {}: default policy is missing",
            path.display()
        );
    };
    let scopes = policy.transports.get(transport);
    let chosen = scopes
        .and_then(|s| scopes_of(reference).find_map(|scope| s.get(&scope)))
        .or_else(|| scopes.and_then(|s| s.get("")))
        .unwrap_or(default);
    for r in chosen {
        match r.kind.as_str() {
            "insecureAcceptAnything" => {}
            "reject" => bail!(
                "Source image rejected: Running image {transport}://{reference} is rejected by policy."
            ),
            "signedBy" | "sigstoreSigned" | "signedBaseLayer" => bail!(
                "Source image rejected: policy {} requires {} signatures for {reference}, which coracle cannot verify",
                path.display(),
                r.kind
            ),
            other => bail!(
                "invalid signature policy {}: unknown policy requirement type {other:?}",
                path.display()
            ),
        }
    }
    Ok(())
}

/// The scopes naming `reference`, most specific first: itself, the
/// repository, each parent namespace, the host, then `*.domain`
/// wildcards of the host.
fn scopes_of(reference: &str) -> impl Iterator<Item = String> {
    let mut out = vec![reference.to_string()];
    let repo = match reference.split_once('@') {
        Some((r, _)) => r,
        None => {
            let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
            match reference[last_slash..].rfind(':') {
                Some(i) => &reference[..last_slash + i],
                None => reference,
            }
        }
    };
    let mut cur = repo.to_string();
    loop {
        if out.last() != Some(&cur) {
            out.push(cur.clone());
        }
        match cur.rfind('/') {
            Some(i) => cur.truncate(i),
            None => break,
        }
    }
    // Wildcards name host names, without a port.
    let host = repo.split('/').next().unwrap_or_default();
    let mut rest = host.split(':').next().unwrap_or_default();
    while let Some((_, tail)) = rest.split_once('.') {
        out.push(format!("*.{tail}"));
        rest = tail;
    }
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_go_from_the_reference_to_the_host() {
        let s: Vec<String> = scopes_of("reg.example.com:5000/a/b:v1").collect();
        assert_eq!(
            s,
            [
                "reg.example.com:5000/a/b:v1",
                "reg.example.com:5000/a/b",
                "reg.example.com:5000/a",
                "reg.example.com:5000",
                "*.example.com",
                "*.com",
            ]
        );
    }

    #[test]
    fn the_most_specific_scope_decides() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policy.json");
        std::fs::write(
            &p,
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"h/ok":[{"type":"insecureAcceptAnything"}],"h/signed":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]}}}"#,
        )
        .unwrap();
        assert!(check(&p, "docker", "h/ok:1").is_ok());
        assert!(check(&p, "docker", "h/other:1").is_err());
        let e = check(&p, "docker", "h/signed:1").unwrap_err().to_string();
        assert!(e.contains("cannot verify"), "{e}");
    }
}
