//! Signing as the verbs use it: `image sign` signs what a registry
//! holds, `push --sign-by` what was just pushed (simple signing, gpg);
//! `push --sign-by-sigstore-private-key` makes sigstore signatures, kept
//! in the registry as attachments. The formats, gpg, the lookaside and
//! the attachments are `registry::signature`.

use crate::registry::client::{ClientOptions, RegistryClient};
use crate::registry::manifest::{parse_manifest, ParsedManifest};
use crate::registry::reference::Reference;
use crate::registry::signature::sigstore::{self, PrivateKey};
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

/// `build --sign-by`: before the build, refuse a key gpg cannot sign with
/// or an image with no name to sign it as.
pub fn check_build_signer(by: &SignBy, names: &[String]) -> Result<Reference> {
    let Some(name) = names.first() else {
        bail!("--sign-by needs a name for the image (-t): a signature names the image it signs");
    };
    signature::gpg::check_signing_key(&by.key)?;
    Reference::parse(name).with_context(|| format!("parsing {name:?}"))
}

/// `build --sign-by`: sign the built image's manifest as `name` and keep
/// the signature with the image (push carries it).
pub fn sign_built(
    store: &crate::storage::store::Store,
    image: &crate::storage::images::ImageRecord,
    name: &Reference,
    by: &SignBy,
) -> Result<()> {
    let sig = signature::sign_detached(name, &image.manifest_digest, &by.signer())
        .with_context(|| format!("signing {name}"))?;
    let _lock = store.lock()?;
    if !store
        .images
        .load_for(&[image.id.as_str()])?
        .list
        .iter()
        .any(|i| i.id == image.id)
    {
        bail!("image {} was removed before it was signed", image.id);
    }
    let claim = crate::storage::image_signatures::Claim {
        manifest: &image.manifest_digest,
        signer: &by.key,
        identity: &name.to_string(),
    };
    crate::storage::image_signatures::add(&store.image_root, &image.id, &claim, &sig)
}

/// `push --sign-by`: sign the manifest just pushed to `dest`.
pub fn sign_pushed(dest: &Reference, digest: &Digest, by: &SignBy, rootless: bool) -> Result<()> {
    sign_one(dest, digest, by, None, rootless)
        .with_context(|| format!("signing {dest}"))
        .map(drop)
}

/// Every signature a push was asked to make: gpg (`--sign-by`) and
/// sigstore (`--sign-by-sigstore-private-key`, `--sign-by-sigstore` with a
/// key in its parameter file; keys loaded up front so that a wrong
/// passphrase stops the push before it sends anything).
#[derive(Default)]
pub struct Signers {
    pub gpg: Option<SignBy>,
    pub sigstore: Vec<PrivateKey>,
}

impl Signers {
    pub fn is_empty(&self) -> bool {
        self.gpg.is_none() && self.sigstore.is_empty()
    }

    /// Before pushing to `dest`: refuse a signature that could not be
    /// stored, rather than pushing an image and failing after.
    pub fn check_destination(&self, dest: &Reference) -> Result<()> {
        if !self.sigstore.is_empty()
            && !crate::config::registries_d::load()?.use_sigstore_attachments(&dest.to_string())
        {
            bail!("writing signatures: writing sigstore attachments is disabled by configuration (set use-sigstore-attachments: true for {} in registries.d)", dest.repo_name());
        }
        Ok(())
    }

    /// Sign each of `digests` (manifests just pushed to `dest`).
    pub fn sign_pushed(
        &self,
        dest: &Reference,
        digests: &[Digest],
        client: &ClientOptions,
        rootless: bool,
        quiet: bool,
    ) -> Result<()> {
        for d in digests {
            if let Some(by) = &self.gpg {
                sign_pushed(dest, d, by, rootless)?;
            }
        }
        if self.sigstore.is_empty() {
            return Ok(());
        }
        let c = RegistryClient::new(&dest.registry, client)?;
        let progress = crate::registry::progress::Progress::new(quiet);
        for d in digests {
            // containers/image's words, as podman prints them.
            for i in 1..=self.sigstore.len() {
                let n = match self.sigstore.len() {
                    1 => String::new(),
                    _ => format!(" {i}"),
                };
                progress.line(&format!(
                    "Creating signature{n}: Signing image using a sigstore signature"
                ));
            }
            progress.line("Storing signatures");
            for key in &self.sigstore {
                sigstore::sign_into_registry(&c, dest, d, key)
                    .with_context(|| format!("writing signatures: signing {dest} ({d})"))?;
            }
        }
        Ok(())
    }
}

/// Load a cosign private key for `--sign-by-sigstore-private-key`: the
/// passphrase is the first line of `passphrase_file`, else asked on the
/// terminal (never read from a pipe: that would take the image's input).
pub fn load_sigstore_key(path: &Path, passphrase_file: Option<&Path>) -> Result<PrivateKey> {
    load_key(path, passphrase_file, "--sign-by-sigstore-private-key")
}

fn load_key(path: &Path, passphrase_file: Option<&Path>, flag: &str) -> Result<PrivateKey> {
    use std::io::IsTerminal;
    let passphrase = match passphrase_file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("reading passphrase file {}: {e}", f.display()))?;
            text.split('\n').next().unwrap_or_default().to_string()
        }
        None if std::io::stdin().is_terminal() => {
            crate::runtime::attach::prompt("Key Passphrase: ", true)?
        }
        None => bail!(
            "{flag} {}: a passphrase is needed for the key: use --sign-passphrase-file (standard input is not a terminal to ask on)",
            path.display()
        ),
    };
    PrivateKey::load(path, passphrase.as_bytes())
}

/// containers-sigstore-signing-params.yaml(5), as containers/image reads
/// it (unknown fields are errors).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SigningParams {
    private_key_file: Option<PathBuf>,
    private_key_passphrase_file: Option<PathBuf>,
    fulcio: Option<serde_yaml_ng::Value>,
    #[serde(rename = "rekorURL")]
    rekor_url: Option<String>,
}

/// `--sign-by-sigstore PARAMFILE`: the private key the file names. Its
/// keyless parts (`fulcio`, `rekorURL`) need those services, and are
/// refused by name.
pub fn load_sigstore_params(path: &Path) -> Result<PrivateKey> {
    let setup = || {
        format!(
            "setting up signing using parameter file {:?}",
            path.display().to_string()
        )
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {:?}: {e}", path.display().to_string()))
        .with_context(setup)?;
    let params: SigningParams = serde_yaml_ng::from_str(&text)
        .map_err(|e| anyhow::anyhow!("parsing {:?}: {e}", path.display().to_string()))
        .with_context(setup)?;
    let keyless: Vec<&str> = [
        ("fulcio", params.fulcio.is_some()),
        (
            "rekorURL",
            params.rekor_url.as_deref().is_some_and(|u| !u.is_empty()),
        ),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if !keyless.is_empty() {
        bail!(
            "--sign-by-sigstore {}: {} (keyless signing, Fulcio certificates and Rekor) is not supported by coracle, it needs those services: sign with a private key (privateKeyFile)",
            path.display(),
            keyless.join(", ")
        );
    }
    let Some(key) = params
        .private_key_file
        .filter(|k| !k.as_os_str().is_empty())
    else {
        bail!("no private key source provided (neither a private key nor Fulcio) when preparing to create sigstore signatures");
    };
    load_key(
        &key,
        params.private_key_passphrase_file.as_deref(),
        "--sign-by-sigstore",
    )
}
