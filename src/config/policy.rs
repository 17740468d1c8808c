//! containers-policy.json(5): which images may be pulled, and which
//! signatures they need. `signedBy` (simple signing with GPG keys) and
//! `sigstoreSigned` with public keys are handed back to the caller to
//! verify; what coracle cannot check (`signedBaseLayer`, and sigstore's
//! keyless Fulcio/Rekor/PKI roots, which need their services) refuses the
//! pull with a clear error rather than letting an unverified image through.

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
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
#[serde(rename_all = "camelCase")]
struct Requirement {
    #[serde(rename = "type")]
    kind: String,
    key_type: Option<String>,
    key_path: Option<PathBuf>,
    key_paths: Option<Vec<PathBuf>>,
    key_data: Option<String>,
    key_datas: Option<Vec<String>>,
    signed_identity: Option<SignedIdentity>,
    // sigstoreSigned's keyless roots: named only to refuse them.
    fulcio: Option<serde_json::Value>,
    pki: Option<serde_json::Value>,
    rekor_public_key_path: Option<serde_json::Value>,
    rekor_public_key_paths: Option<serde_json::Value>,
    rekor_public_key_data: Option<serde_json::Value>,
    rekor_public_key_datas: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedIdentity {
    #[serde(rename = "type")]
    kind: String,
    docker_reference: Option<String>,
    docker_repository: Option<String>,
    prefix: Option<String>,
    signed_prefix: Option<String>,
}

/// Which identity a signature must claim, as `signedIdentity` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The default: the same repository for a pull by digest, the same
    /// reference for a pull by tag.
    RepoDigestOrExact,
    Exact,
    Repository,
    ExactReference(String),
    ExactRepository(String),
    /// `remapIdentity`: a pulled name under `prefix` is read as if it were
    /// under `signed_prefix`, then matched as RepoDigestOrExact.
    Remap {
        prefix: String,
        signed_prefix: String,
    },
}

/// A `signedBy` requirement: at least one valid signature by one of these
/// keys (armored or binary key rings), claiming an accepted identity.
#[derive(Debug, Clone)]
pub struct SignedBy {
    pub keys: Vec<Vec<u8>>,
    pub identity: Identity,
}

/// A `sigstoreSigned` requirement: at least one sigstore signature made
/// with one of these public keys (PEM text, read now, parsed by the
/// verifier), claiming an accepted identity.
#[derive(Debug, Clone)]
pub struct SigstoreSigned {
    /// (where the key came from, its PEM text)
    pub keys: Vec<(String, Vec<u8>)>,
    pub identity: Identity,
}

/// What a pull must verify before it may go on.
#[derive(Debug, Clone, Default)]
pub struct Needed {
    pub signed_by: Vec<SignedBy>,
    pub sigstore: Vec<SigstoreSigned>,
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
/// over `transport` (`docker`) under the policy at `path`: the signature
/// requirements left for the caller to verify (none: accepted as is).
pub fn check(path: &Path, transport: &str, reference: &str) -> Result<Needed> {
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
    let mut needed = Needed::default();
    for r in chosen {
        match r.kind.as_str() {
            "insecureAcceptAnything" => {}
            "reject" => bail!(
                "Source image rejected: Running image {transport}://{reference} is rejected by policy."
            ),
            "signedBy" => needed.signed_by.push(
                signed_by(r).with_context(|| format!("invalid signature policy {}", path.display()))?,
            ),
            "sigstoreSigned" => needed.sigstore.push(
                sigstore_signed(r)
                    .with_context(|| format!("invalid signature policy {}", path.display()))?,
            ),
            "signedBaseLayer" => bail!(
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
    Ok(needed)
}

/// A `signedBy` entry's keys, read now, and its identity rule.
fn signed_by(r: &Requirement) -> Result<SignedBy> {
    if let Some(t) = r.key_type.as_deref().filter(|t| *t != "GPGKeys") {
        bail!("signedBy keyType {t:?} is not supported: use GPGKeys");
    }
    let mut keys = Vec::new();
    let paths = r.key_path.iter().chain(r.key_paths.iter().flatten());
    for p in paths {
        keys.push(
            std::fs::read(p).map_err(|e| anyhow!("reading signedBy key {}: {e}", p.display()))?,
        );
    }
    if let Some(d) = &r.key_data {
        keys.push(
            base64::engine::general_purpose::STANDARD
                .decode(d.trim())
                .map_err(|e| anyhow!("signedBy keyData is not base64: {e}"))?,
        );
    }
    let sources = usize::from(r.key_path.is_some())
        + usize::from(r.key_paths.is_some())
        + usize::from(r.key_data.is_some());
    if sources != 1 {
        bail!("signedBy needs exactly one of keyPath, keyPaths and keyData");
    }
    let identity = identity(r)?;
    Ok(SignedBy { keys, identity })
}

fn identity(r: &Requirement) -> Result<Identity> {
    Ok(match &r.signed_identity {
        None => Identity::RepoDigestOrExact,
        Some(s) => match (s.kind.as_str(), &s.docker_reference, &s.docker_repository) {
            ("matchRepoDigestOrExact", _, _) => Identity::RepoDigestOrExact,
            ("matchExact", _, _) => Identity::Exact,
            ("matchRepository", _, _) => Identity::Repository,
            ("exactReference", Some(r), _) => Identity::ExactReference(r.clone()),
            ("exactRepository", _, Some(r)) => Identity::ExactRepository(r.clone()),
            ("remapIdentity", _, _) => match (&s.prefix, &s.signed_prefix) {
                (Some(p), Some(sp)) if !p.is_empty() && !sp.is_empty() => Identity::Remap {
                    prefix: p.clone(),
                    signed_prefix: sp.clone(),
                },
                _ => bail!("remapIdentity needs both prefix and signedPrefix"),
            },
            (other, _, _) => bail!("unsupported or incomplete signedIdentity {other:?}"),
        },
    })
}

/// A `sigstoreSigned` entry's public keys, read now, and its identity rule.
fn sigstore_signed(r: &Requirement) -> Result<SigstoreSigned> {
    let keyless = [
        ("fulcio", r.fulcio.is_some()),
        ("pki", r.pki.is_some()),
        ("rekorPublicKeyPath", r.rekor_public_key_path.is_some()),
        ("rekorPublicKeyPaths", r.rekor_public_key_paths.is_some()),
        ("rekorPublicKeyData", r.rekor_public_key_data.is_some()),
        ("rekorPublicKeyDatas", r.rekor_public_key_datas.is_some()),
    ];
    let named: Vec<&str> = keyless
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    if !named.is_empty() {
        bail!(
            "sigstoreSigned with {} is not supported: coracle verifies sigstore signatures with public keys (keyPath, keyPaths, keyData, keyDatas) only, not keyless Fulcio/Rekor/PKI trust roots",
            named.join(", ")
        );
    }
    let sources = usize::from(r.key_path.is_some())
        + usize::from(r.key_paths.is_some())
        + usize::from(r.key_data.is_some())
        + usize::from(r.key_datas.is_some());
    if sources != 1 {
        bail!("sigstoreSigned needs exactly one of keyPath, keyPaths, keyData and keyDatas");
    }
    let mut keys = Vec::new();
    for p in r.key_path.iter().chain(r.key_paths.iter().flatten()) {
        let text = std::fs::read(p)
            .map_err(|e| anyhow!("reading sigstoreSigned key {}: {e}", p.display()))?;
        keys.push((p.display().to_string(), text));
    }
    for d in r.key_data.iter().chain(r.key_datas.iter().flatten()) {
        let text = base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map_err(|e| anyhow!("sigstoreSigned keyData is not base64: {e}"))?;
        keys.push(("keyData".to_string(), text));
    }
    if keys.is_empty() {
        bail!("sigstoreSigned names no public key");
    }
    Ok(SigstoreSigned {
        keys,
        identity: identity(r)?,
    })
}

/// The scopes naming `reference`, most specific first: itself, the
/// repository, each parent namespace, the host, then `*.domain`
/// wildcards of the host.
pub fn scopes_of(reference: &str) -> impl Iterator<Item = String> {
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
        assert!({
            let n = check(&p, "docker", "h/ok:1").unwrap();
            n.signed_by.is_empty() && n.sigstore.is_empty()
        });
        std::fs::write(
            &p,
            r#"{"default":[{"type":"sigstoreSigned","keyPath":"/k","fulcio":{"caPath":"/ca"}}]}"#,
        )
        .unwrap();
        let e = format!("{:#}", check(&p, "docker", "h/a:1").unwrap_err());
        assert!(e.contains("fulcio") && e.contains("not supported"), "{e}");
        std::fs::write(
            &p,
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"h/ok":[{"type":"insecureAcceptAnything"}],"h/signed":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]}}}"#,
        )
        .unwrap();
        assert!(check(&p, "docker", "h/other:1").is_err());
        let e = format!("{:#}", check(&p, "docker", "h/signed:1").unwrap_err());
        assert!(e.contains("reading signedBy key /k"), "{e}");
    }
}
