//! Signatures kept with an image (`build --sign-by`), as c/storage keeps
//! them: `image-signatures/<image id>.json`, a list of simple-signing
//! signatures each with the manifest digest it signs. Written whole and
//! atomically under the store lock, removed with the image's record
//! (`Store::collect_image_garbage`). `push` carries the ones of the
//! image's manifest to the destination's lookaside.

use super::atomic;
use super::digest::Digest;
use anyhow::{Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const DIR: &str = "image-signatures";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSignature {
    manifest_digest: Digest,
    /// The gpg signed message, base64.
    signature: String,
    /// Who signed (the key as `--sign-by` named it) and the name signed:
    /// a newer signature of the same claim replaces this one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    signer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    identity: String,
}

/// What a signature says, for [`add`].
pub struct Claim<'a> {
    pub manifest: &'a Digest,
    pub signer: &'a str,
    pub identity: &'a str,
}

fn path(image_root: &Path, id: &str) -> PathBuf {
    image_root.join(DIR).join(format!("{id}.json"))
}

fn load(image_root: &Path, id: &str) -> Result<Vec<StoredSignature>> {
    Ok(atomic::read_json(&path(image_root, id))?.unwrap_or_default())
}

/// Keep `signature` of `claim` with image `id`, in place of an earlier
/// one of the same claim (a cached rebuild signs the same manifest again:
/// the image keeps one signature, not one per build). Call with the store
/// lock held.
pub fn add(image_root: &Path, id: &str, claim: &Claim, signature: &[u8]) -> Result<()> {
    let mut all = load(image_root, id)?;
    all.retain(|s| {
        s.signer.is_empty()
            || !(&s.manifest_digest == claim.manifest
                && s.signer == claim.signer
                && s.identity == claim.identity)
    });
    all.push(StoredSignature {
        manifest_digest: claim.manifest.clone(),
        signature: base64::engine::general_purpose::STANDARD.encode(signature),
        signer: claim.signer.to_string(),
        identity: claim.identity.to_string(),
    });
    let dir = image_root.join(DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    atomic::write_json(&path(image_root, id), &all, true)
}

/// The signatures image `id` keeps of `manifest` (those of another
/// manifest, say an earlier image of the same id, are not its).
pub fn of_manifest(image_root: &Path, id: &str, manifest: &Digest) -> Result<Vec<Vec<u8>>> {
    load(image_root, id)?
        .into_iter()
        .filter(|s| &s.manifest_digest == manifest)
        .map(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(&s.signature)
                .with_context(|| format!("a stored signature of image {id} is damaged"))
        })
        .collect()
}

/// Forget image `id`'s signatures. Call with the store lock held.
pub fn remove(image_root: &Path, id: &str) -> Result<()> {
    let p = path(image_root, id);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", p.display())),
    }
}
