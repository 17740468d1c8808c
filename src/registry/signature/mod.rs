//! Simple signing, containers/image's "atomic container signature": a
//! small JSON payload naming an image (its reference and its manifest's
//! digest), signed with GPG, kept in lookaside storage beside the
//! registry. `sign` makes one (image sign, push --sign-by); `verify`
//! checks a pull against policy.json's `signedBy` requirements.
//! `sigstore` is the other format: keys of cosign's, signatures kept in
//! the registry.

pub mod gpg;
pub mod lookaside;
pub mod sigstore;

use crate::config::policy::{Identity, SignedBy};
use crate::registry::reference::Reference;
use crate::storage::digest::Digest;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const SIGNATURE_TYPE: &str = "atomic container signature";

/// Who signs, and how the key's passphrase is given.
pub struct Signer<'a> {
    pub key: &'a str,
    pub passphrase_file: Option<&'a Path>,
}

fn payload(reference: &Reference, digest: &Digest) -> Vec<u8> {
    payload_of(SIGNATURE_TYPE, reference, digest)
}

/// The signed claim, simple signing's and sigstore's alike but for its
/// `critical.type`: what containers/image writes.
pub(super) fn payload_of(kind: &str, reference: &Reference, digest: &Digest) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({
        "critical": {
            "identity": {"docker-reference": reference.to_string()},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": kind,
        },
        "optional": {
            "creator": concat!("coracle ", env!("CARGO_PKG_VERSION")),
            "timestamp": now,
        },
    })
    .to_string()
    .into_bytes()
}

/// Sign `digest` as the manifest of `reference` and store the signature
/// (in `directory` when given, else where registries.d says); the file
/// written.
pub fn sign(
    reference: &Reference,
    digest: &Digest,
    signer: &Signer,
    directory: Option<&Path>,
    rootless: bool,
) -> Result<PathBuf> {
    let dir = lookaside::write_dir(reference, digest, directory, rootless)?;
    let sig = gpg::sign(
        &payload(reference, digest),
        signer.key,
        signer.passphrase_file,
    )?;
    lookaside::put(&dir, &sig)
}

/// A signature of `digest` as the manifest of `reference`, not stored
/// (`build --sign-by` keeps it with the image).
pub fn sign_detached(reference: &Reference, digest: &Digest, signer: &Signer) -> Result<Vec<u8>> {
    gpg::sign(
        &payload(reference, digest),
        signer.key,
        signer.passphrase_file,
    )
}

/// Store signatures made elsewhere (an image's own, carried by `push`)
/// for `digest` of `reference`, where registries.d says to write.
pub fn store_copies(
    reference: &Reference,
    digest: &Digest,
    signatures: &[Vec<u8>],
    rootless: bool,
) -> Result<()> {
    if signatures.is_empty() {
        return Ok(());
    }
    let dir = lookaside::write_dir(reference, digest, None, rootless)?;
    for sig in signatures {
        lookaside::put(&dir, sig)?;
    }
    Ok(())
}

/// What a verified payload claims.
#[derive(Debug)]
struct Claim {
    reference: Reference,
    digest: Digest,
}

fn parse_payload(bytes: &[u8]) -> Result<Claim> {
    let v: Value = serde_json::from_slice(bytes).context("the signed payload is not JSON")?;
    let critical = &v["critical"];
    if critical["type"] != SIGNATURE_TYPE {
        bail!("the signed payload is not an {SIGNATURE_TYPE:?}");
    }
    let text = |ptr: &str| {
        critical
            .pointer(ptr)
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("the signed payload has no {ptr}"))
    };
    Ok(Claim {
        reference: Reference::parse(text("/identity/docker-reference")?)?,
        digest: Digest::parse(text("/image/docker-manifest-digest")?)?,
    })
}

fn identity_matches(rule: &Identity, pulled: &Reference, claimed: &Reference) -> bool {
    let same_repo = |a: &Reference, b: &Reference| a.repo_name() == b.repo_name();
    match rule {
        Identity::Remap {
            prefix,
            signed_prefix,
        } => {
            let name = pulled.repo_name();
            let under = name == *prefix
                || (name.starts_with(prefix.as_str()) && name[prefix.len()..].starts_with('/'));
            let remapped = if under {
                let full = pulled.to_string();
                match Reference::parse(&format!("{signed_prefix}{}", &full[prefix.len()..])) {
                    Ok(r) => r,
                    Err(_) => return false,
                }
            } else {
                pulled.clone()
            };
            identity_matches(&Identity::RepoDigestOrExact, &remapped, claimed)
        }
        Identity::RepoDigestOrExact if pulled.digest.is_some() => same_repo(pulled, claimed),
        Identity::RepoDigestOrExact | Identity::Exact => pulled == claimed,
        Identity::Repository => same_repo(pulled, claimed),
        Identity::ExactReference(r) => Reference::parse(r).is_ok_and(|r| &r == claimed),
        Identity::ExactRepository(r) => {
            Reference::parse(r).is_ok_and(|r| r.repo_name() == claimed.repo_name())
        }
    }
}

/// Check that each requirement has a valid signature of `digest` (the
/// manifest pulled) for `reference` in lookaside storage.
pub fn verify(
    reference: &Reference,
    digest: &Digest,
    needed: &[SignedBy],
    rootless: bool,
) -> Result<()> {
    if needed.is_empty() {
        return Ok(());
    }
    let signatures = lookaside::get_all(reference, digest, rootless)?;
    if signatures.is_empty() {
        bail!("Source image rejected: A signature was required, but no signature exists");
    }
    for req in needed {
        let mut why = Vec::new();
        let ok = signatures.iter().any(|sig| {
            let checked = gpg::verify(&req.keys, sig)
                .and_then(|p| parse_payload(&p))
                .and_then(|c| {
                    if &c.digest != digest {
                        bail!("signature is for manifest {}, not {digest}", c.digest);
                    }
                    if !identity_matches(&req.identity, reference, &c.reference) {
                        bail!("signature for identity {}, not {reference}", c.reference);
                    }
                    Ok(())
                });
            checked.map_err(|e| why.push(format!("{e:#}"))).is_ok()
        });
        if !ok {
            bail!(
                "Source image rejected: no valid signature for {reference}: {}",
                why.join("; ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_rules() {
        let r = |s: &str| Reference::parse(s).unwrap();
        let by_tag = r("h:5000/a/b:1");
        assert!(identity_matches(
            &Identity::RepoDigestOrExact,
            &by_tag,
            &r("h:5000/a/b:1")
        ));
        assert!(!identity_matches(
            &Identity::RepoDigestOrExact,
            &by_tag,
            &r("h:5000/a/b:2")
        ));
        assert!(identity_matches(
            &Identity::Repository,
            &by_tag,
            &r("h:5000/a/b:2")
        ));
        let d = Digest::of_bytes(b"m");
        let by_digest = r(&format!("h:5000/a/b@{d}"));
        assert!(identity_matches(
            &Identity::RepoDigestOrExact,
            &by_digest,
            &r("h:5000/a/b:2")
        ));
        assert!(!identity_matches(
            &Identity::RepoDigestOrExact,
            &by_digest,
            &r("h:5000/a/c:2")
        ));
        let remap = Identity::Remap {
            prefix: "mirror:5000/a".into(),
            signed_prefix: "h:5000/a".into(),
        };
        assert!(identity_matches(
            &remap,
            &r("mirror:5000/a/b:1"),
            &r("h:5000/a/b:1")
        ));
        assert!(!identity_matches(
            &remap,
            &r("mirror:5000/a/b:1"),
            &r("h:5000/a/b:2")
        ));
        assert!(!identity_matches(
            &remap,
            &r("mirror:5000/ab:1"),
            &r("h:5000/ab:1")
        ));
        assert!(identity_matches(
            &remap,
            &r("h:5000/a/b:1"),
            &r("h:5000/a/b:1")
        ));
    }

    #[test]
    fn payload_round_trips() {
        let r = Reference::parse("h/a:1").unwrap();
        let d = Digest::of_bytes(b"m");
        let c = parse_payload(&payload(&r, &d)).unwrap();
        assert_eq!((c.reference, c.digest), (r, d));
        assert!(parse_payload(br#"{"critical":{"type":"other"}}"#).is_err());
    }
}
