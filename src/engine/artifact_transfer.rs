//! `artifact push|pull`: an artifact's blobs and manifest to and from the
//! registry its name names, through the distribution client. Pulled blobs
//! are staged and checked against their digests, and only stored (with
//! the manifest, under the store lock) when all of them arrived.

use super::artifact::{artifact_reference, event, find};
use crate::registry::client::{
    repository_scope, ClientOptions, HttpRequest, Method, RegistryClient, UploadBody,
};
use crate::registry::progress::Progress;
use crate::registry::push::put_manifest;
use crate::registry::reference::Reference;
use crate::storage::artifacts::{ArtifactStore, Descriptor, Manifest, OCI_MANIFEST};
use crate::storage::digest::Digest;
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};

/// What push and pull share: the client's options and `--quiet`.
#[derive(Debug, Clone, Default)]
pub struct Transfer {
    pub client: ClientOptions,
    pub quiet: bool,
}

/// `artifact push NAME`: returns the pushed manifest's digest. With
/// `sign` (`--sign-by`, `--sign-by-sigstore-private-key`), the manifest
/// pushed is then signed, as `push` does.
pub fn push(
    store: &Store,
    typed: &str,
    t: &Transfer,
    sign: &super::signing::Signers,
) -> Result<Digest> {
    let r = artifact_reference(typed)?;
    sign.check_destination(&r)?;
    let artifacts = ArtifactStore::new(store);
    let all = artifacts.list()?;
    let a = find(&all, &r.to_string())?;
    send_artifact(&artifacts, &r, &r.reference_str(), &a.manifest, &a.raw, t)
        .with_context(|| format!("pushing artifact {r}"))?;
    sign.sign_pushed(
        &r,
        std::slice::from_ref(&a.digest),
        &t.client,
        store.rootless,
        t.quiet,
    )?;
    event(store, "push", &a.digest, &a.name);
    Ok(a.digest.clone())
}

/// Send an artifact's blobs, then its manifest (as stored) under
/// `reference` (a tag or its digest), into `dest`'s repository.
pub fn send_artifact(
    artifacts: &ArtifactStore,
    dest: &Reference,
    reference: &str,
    manifest: &Manifest,
    raw: &[u8],
    t: &Transfer,
) -> Result<()> {
    let client = RegistryClient::new(&dest.registry, &t.client)?;
    let scope = repository_scope(&dest.repository, &["pull", "push"]);
    let progress = Progress::new(t.quiet);
    progress.line("Getting image source signatures");
    let up = Uploader {
        client: &client,
        repo: &dest.repository,
        scope: &scope,
        artifacts,
        progress: &progress,
    };
    for l in &manifest.layers {
        up.blob(l, "blob")?;
    }
    up.blob(&manifest.config, "config")?;
    progress.line("Writing manifest to image destination");
    put_manifest(&client, &dest.repository, reference, raw, OCI_MANIFEST)
}

struct Uploader<'a> {
    client: &'a RegistryClient,
    repo: &'a str,
    scope: &'a str,
    artifacts: &'a ArtifactStore<'a>,
    progress: &'a Progress,
}

impl Uploader<'_> {
    fn blob(&self, d: &Descriptor, what: &str) -> Result<()> {
        let short = d.digest.short().to_string();
        if self.exists(&d.digest)? {
            self.progress
                .line(&format!("Copying {what} {short} skipped: already exists"));
            return Ok(());
        }
        self.upload(d)
            .with_context(|| format!("writing blob {}", d.digest))?;
        self.progress.line(&format!("Copying {what} {short} done"));
        Ok(())
    }

    fn exists(&self, digest: &Digest) -> Result<bool> {
        let path = format!("/v2/{}/blobs/{digest}", self.repo);
        let resp = self
            .client
            .request(&HttpRequest::new(Method::Head, &path, Some(self.scope)))
            .with_context(|| format!("checking blob {digest}"))?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(
                anyhow::Error::new(self.client.error_from(resp, "blob unknown"))
                    .context(format!("checking blob {digest}")),
            ),
        }
    }

    /// One monolithic upload: POST a session, PUT the file.
    fn upload(&self, d: &Descriptor) -> Result<()> {
        let start = format!("/v2/{}/blobs/uploads/", self.repo);
        let resp =
            self.client
                .request(&HttpRequest::new(Method::Post, &start, Some(self.scope)))?;
        if resp.status().as_u16() != 202 {
            return Err(self.client.error_from(resp, "name unknown").into());
        }
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| anyhow!("the registry started an upload without a Location"))?
            .to_string();
        let sep = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{sep}digest={}", d.digest);
        let path = self.artifacts.blob_path(&d.digest);
        let mut req = HttpRequest::new(Method::Put, &target, Some(self.scope));
        req.headers
            .push(("Content-Type", "application/octet-stream".into()));
        req.body = UploadBody::File {
            path: &path,
            offset: 0,
            len: d.size,
        };
        let resp = self.client.request(&req)?;
        if resp.status().as_u16() != 201 {
            return Err(self.client.error_from(resp, "blob upload unknown").into());
        }
        Ok(())
    }
}

/// `artifact pull NAME`: returns the stored manifest's digest.
pub fn pull(store: &Store, typed: &str, t: &Transfer) -> Result<Digest> {
    let r = artifact_reference(typed)?;
    let name = r.to_string();
    let client = RegistryClient::new(&r.registry, &t.client)?;
    let fetched = client.get_manifest(&r.repository, &r.reference_str())?;
    if fetched.media_type != OCI_MANIFEST {
        bail!(
            "{name}: the registry holds a {} there, not an artifact (an OCI image manifest)",
            fetched.media_type
        );
    }
    let manifest = Manifest::parse(&fetched.bytes).with_context(|| format!("pulling {name}"))?;
    let artifacts = ArtifactStore::new(store);
    let progress = Progress::new(t.quiet);
    progress.line("Getting image source signatures");
    let mut staged = Vec::new();
    let wanted = manifest
        .layers
        .iter()
        .map(|l| (l, "blob"))
        .chain(std::iter::once((&manifest.config, "config")));
    for (d, what) in wanted {
        let (mut body, _) = client.get_blob_with_size(&r.repository, &d.digest)?;
        let blob = artifacts
            .stage(&mut body, Some(&d.digest))
            .with_context(|| format!("fetching blob {}", d.digest))?;
        if blob.size != d.size {
            bail!(
                "blob {}: the registry sent {} bytes, the manifest says {}",
                d.digest,
                blob.size,
                d.size
            );
        }
        progress.line(&format!("Copying {what} {} done", d.digest.short()));
        staged.push(blob);
    }
    progress.line("Writing manifest to image destination");
    let digest = {
        let _lock = artifacts.lock()?;
        artifacts.commit(&name, &fetched.bytes, staged)?
    };
    event(store, "pull", &digest, &name);
    Ok(digest)
}
