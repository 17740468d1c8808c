//! Simple signing as the verbs use it: `image sign` signs what a registry
//! holds, `push --sign-by` what was just pushed. The format, gpg and the
//! lookaside storage are `registry::signature`.

use crate::registry::client::{ClientOptions, RegistryClient};
use crate::registry::manifest::{parse_manifest, ParsedManifest};
use crate::registry::reference::Reference;
use crate::registry::signature::{self, Signer};
use crate::storage::digest::Digest;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// `--sign-by KEY [--sign-passphrase-file F]`.
#[derive(Debug, Clone)]
pub struct SignBy {
    pub key: String,
    pub passphrase_file: Option<PathBuf>,
}

impl SignBy {
    fn signer(&self) -> Signer<'_> {
        Signer {
            key: &self.key,
            passphrase_file: self.passphrase_file.as_deref(),
        }
    }
}

/// What `image sign` was asked.
pub struct SignRequest {
    /// `docker://REFERENCE`, as podman takes them.
    pub images: Vec<String>,
    pub sign_by: SignBy,
    /// `--directory`: instead of registries.d's location.
    pub directory: Option<PathBuf>,
    /// `--all`: each image of a list, rather than the list.
    pub all: bool,
    pub client: ClientOptions,
}

fn docker_reference(typed: &str) -> Result<Reference> {
    let Some(rest) = typed.strip_prefix("docker://") else {
        match typed.split_once(':') {
            Some((t, _)) if !t.contains('/') && !t.contains('.') => {
                bail!("invalid image name {typed:?}: unknown transport {t:?}, only docker:// can be signed")
            }
            _ => bail!(
                "invalid image name {typed:?}, expected colon-separated transport:reference (docker://...)"
            ),
        }
    };
    Reference::parse(rest).with_context(|| format!("parsing {typed:?}"))
}

/// `image sign`: sign each image's manifest as the registry holds it.
/// The signature files written.
pub fn sign_images(req: &SignRequest) -> Result<Vec<PathBuf>> {
    // Which default lookaside directory: the user's or the system's.
    let rootless = crate::runtime::userns::is_rootless();
    if req.sign_by.key.is_empty() {
        bail!("no identity provided: use --sign-by");
    }
    let mut written = Vec::new();
    for typed in &req.images {
        let r = docker_reference(typed)?;
        let client = RegistryClient::new(&r.registry, &req.client)?;
        let top = client
            .get_manifest(&r.repository, &r.reference_str())
            .with_context(|| format!("reading the manifest of {r}"))?;
        let digests = if req.all {
            match parse_manifest(&top.bytes, &top.media_type)? {
                ParsedManifest::Index(i) => i.manifests.into_iter().map(|d| d.digest).collect(),
                ParsedManifest::Image(_) => bail!(
                    "{typed} is not a multi-architecture image (manifest type {})",
                    top.media_type
                ),
            }
        } else {
            vec![top.digest]
        };
        for d in digests {
            written.push(
                sign_one(&r, &d, &req.sign_by, req.directory.as_deref(), rootless)
                    .with_context(|| format!("storing signature for {r}, {d}"))?,
            );
        }
    }
    Ok(written)
}

fn sign_one(
    r: &Reference,
    digest: &Digest,
    by: &SignBy,
    directory: Option<&Path>,
    rootless: bool,
) -> Result<PathBuf> {
    signature::sign(r, digest, &by.signer(), directory, rootless)
}

/// `push --sign-by`: sign the manifest just pushed to `dest`.
pub fn sign_pushed(dest: &Reference, digest: &Digest, by: &SignBy, rootless: bool) -> Result<()> {
    sign_one(dest, digest, by, None, rootless)
        .with_context(|| format!("signing {dest}"))
        .map(drop)
}
