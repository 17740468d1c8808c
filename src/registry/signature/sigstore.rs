//! Sigstore signatures with a private key, as containers/image makes and
//! checks them: a small JSON payload naming the image (as simple signing
//! does, with its own `type`), signed ECDSA P-256 with SHA-256, kept in
//! the registry itself as a "sigstore attachment": an OCI image manifest
//! tagged `sha256-<hex>.sig` beside the signed manifest, one layer per
//! signature (the payload), the base64 signature in a layer annotation.
//! Keys are cosign's: an encrypted PKCS#8 private key (scrypt +
//! NaCl secretbox) and a PEM `PUBLIC KEY`.

use super::{identity_matches, Claim};
use crate::config::policy::SigstoreSigned;
use crate::registry::client::{repository_scope, HttpRequest, Method, RegistryClient};
use crate::registry::client::{UploadBody, MAX_MANIFEST_SIZE};
use crate::registry::manifest::{Descriptor, ImageManifest, OCI_CONFIG, OCI_MANIFEST};
use crate::registry::reference::Reference;
use crate::storage::digest::Digest;
use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The media type of a signature layer.
pub const SIGNATURE_MIME: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature of the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const SIGNATURE_TYPE: &str = "cosign container image signature";
const PRIVATE_KEY_PEM_TYPES: [&str; 2] = [
    "ENCRYPTED SIGSTORE PRIVATE KEY",
    "ENCRYPTED COSIGN PRIVATE KEY",
];
/// A signature payload is a few hundred bytes; refuse anything absurd.
const MAX_PAYLOAD_SIZE: u64 = 4 << 20;

/// A loaded signing key.
pub struct PrivateKey(SigningKey);

/// cosign's (go-securesystemslib's) encrypted key envelope.
#[derive(Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l.trim() == end {
                closed = true;
                break;
            }
            body.push_str(l.trim());
        }
        if !closed {
            break;
        }
        if let Ok(bytes) = BASE64.decode(body.as_bytes()) {
            out.push((label.to_string(), bytes));
        }
    }
    out
}

impl PrivateKey {
    /// Read and decrypt a cosign private key file with `passphrase`.
    pub fn load(path: &Path, passphrase: &[u8]) -> Result<PrivateKey> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("reading private key from {}: {e}", path.display()))?;
        Self::parse_with(&text, passphrase).context("initializing private key")
    }

    fn parse_with(text: &str, passphrase: &[u8]) -> Result<PrivateKey> {
        let (label, envelope) = pem_blocks(text)
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("invalid pem block"))?;
        if !PRIVATE_KEY_PEM_TYPES.contains(&label.as_str()) {
            bail!("unsupported pem type: {label}");
        }
        let der = decrypt(&envelope, passphrase).context("decrypt")?;
        let key = SigningKey::from_pkcs8_der(&der).map_err(|e| {
            anyhow!(
                "parsing private key: {e} (only ECDSA P-256 keys, cosign's default, are supported)"
            )
        })?;
        Ok(PrivateKey(key))
    }

    /// Sign `payload`: the ASN.1 DER ECDSA signature, base64.
    pub fn sign(&self, payload: &[u8]) -> String {
        let sig: Signature = self.0.sign(payload);
        BASE64.encode(sig.to_der().as_bytes())
    }
}

/// Undo go-securesystemslib's `encrypted.Encrypt`: scrypt derives the key
/// from the passphrase, NaCl secretbox holds the PKCS#8 DER.
fn decrypt(envelope: &[u8], passphrase: &[u8]) -> Result<Vec<u8>> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let e: Envelope = serde_json::from_slice(envelope)
        .map_err(|e| anyhow!("encrypted: the key envelope is not valid JSON: {e}"))?;
    if e.kdf.name != "scrypt" {
        bail!(
            "encrypted: unsupported key derivation function {:?}",
            e.kdf.name
        );
    }
    if e.cipher.name != "nacl/secretbox" {
        bail!("encrypted: unsupported cipher {:?}", e.cipher.name);
    }
    let KdfParams { n, r, p } = e.kdf.params;
    // A key file must not make us spend gigabytes: cosign uses N=2^15, r=8, p=1.
    if !n.is_power_of_two()
        || !(2..=1 << 20).contains(&n)
        || !(1..=32).contains(&r)
        || !(1..=16).contains(&p)
    {
        bail!("encrypted: unsupported scrypt parameters N={n} r={r} p={p}");
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 32)
        .map_err(|e| anyhow!("encrypted: scrypt parameters: {e}"))?;
    let salt = BASE64
        .decode(&e.kdf.salt)
        .map_err(|e| anyhow!("encrypted: salt is not base64: {e}"))?;
    let nonce = BASE64
        .decode(&e.cipher.nonce)
        .map_err(|e| anyhow!("encrypted: nonce is not base64: {e}"))?;
    let sealed = BASE64
        .decode(&e.ciphertext)
        .map_err(|e| anyhow!("encrypted: ciphertext is not base64: {e}"))?;
    if nonce.len() != 24 {
        bail!("encrypted: the nonce is {} bytes, not 24", nonce.len());
    }
    let mut key = [0u8; 32];
    scrypt::scrypt(passphrase, &salt, &params, &mut key)
        .map_err(|e| anyhow!("encrypted: scrypt: {e}"))?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&key.into());
    cipher
        .decrypt(nonce.as_slice().into(), sealed.as_slice())
        .map_err(|_| anyhow!("encrypted: decryption failed"))
}

/// Public keys from PEM text (one or more `PUBLIC KEY` blocks).
pub fn parse_public_keys(text: &[u8], source: &str) -> Result<Vec<VerifyingKey>> {
    let text =
        std::str::from_utf8(text).map_err(|_| anyhow!("public key {source} is not PEM text"))?;
    let mut keys = Vec::new();
    for (label, der) in pem_blocks(text) {
        if label != "PUBLIC KEY" {
            bail!("public key {source}: unexpected PEM block {label:?}, want \"PUBLIC KEY\"");
        }
        keys.push(VerifyingKey::from_public_key_der(&der).map_err(|e| {
            anyhow!("public key {source}: {e} (only ECDSA P-256 keys are supported)")
        })?);
    }
    if keys.is_empty() {
        bail!("public key {source}: no PEM \"PUBLIC KEY\" block");
    }
    Ok(keys)
}

/// The payload signed: what containers/image writes.
pub fn payload(reference: &Reference, digest: &Digest) -> Vec<u8> {
    super::payload_of(SIGNATURE_TYPE, reference, digest)
}

fn parse_payload(bytes: &[u8]) -> Result<Claim> {
    let v: Value = serde_json::from_slice(bytes).context("the signed payload is not JSON")?;
    // As containers/image: exactly these fields, nothing a verifier
    // would silently ignore.
    let exact = |v: &Value, what: &str, keys: &[&str]| -> Result<()> {
        let o = v
            .as_object()
            .ok_or_else(|| anyhow!("{what} is not a JSON object"))?;
        if o.len() != keys.len() || !keys.iter().all(|k| o.contains_key(*k)) {
            let found: Vec<&String> = o.keys().collect();
            bail!("{what} has fields {found:?}, expected exactly {keys:?}");
        }
        Ok(())
    };
    exact(&v, "the signed payload", &["critical", "optional"])?;
    let critical = &v["critical"];
    exact(critical, "critical", &["type", "image", "identity"])?;
    exact(
        &critical["image"],
        "critical.image",
        &["docker-manifest-digest"],
    )?;
    exact(
        &critical["identity"],
        "critical.identity",
        &["docker-reference"],
    )?;
    if critical["type"] != SIGNATURE_TYPE {
        bail!(
            "Unrecognized signature type {}",
            critical["type"].as_str().unwrap_or_default()
        );
    }
    let text = |ptr: &str| {
        critical
            .pointer(ptr)
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("the signed payload has no critical{ptr}"))
    };
    Ok(Claim {
        reference: Reference::parse(text("/identity/docker-reference")?)?,
        digest: Digest::parse(text("/image/docker-manifest-digest")?)?,
    })
}

/// The tag holding the attachments of the manifest `digest`.
pub fn attachment_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm(), digest.hex())
}

/// One signature layer as the registry holds it.
pub struct Attachment {
    pub media_type: String,
    pub payload: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

/// The attachment manifest of `digest`, none when the registry has none.
fn attachment_manifest(
    client: &RegistryClient,
    repo: &str,
    digest: &Digest,
    actions: &[&str],
) -> Result<Option<ImageManifest>> {
    let tag = attachment_tag(digest);
    let path = format!("/v2/{repo}/manifests/{tag}");
    let scope = repository_scope(repo, actions);
    let mut req = HttpRequest::new(Method::Get, &path, Some(&scope));
    req.headers.push(("Accept", OCI_MANIFEST.to_string()));
    let resp = client.request(&req)?;
    let status = resp.status().as_u16();
    if status == 404 {
        return Ok(None);
    }
    if status != 200 {
        let err = client.error_from(resp, "manifest unknown");
        if err.codes.iter().any(|c| c == "MANIFEST_UNKNOWN") {
            return Ok(None);
        }
        return Err(anyhow::Error::new(err).context(format!("reading {repo}:{tag}")));
    }
    let media_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let bytes = read_limited(resp.into_body().into_reader(), MAX_MANIFEST_SIZE)
        .with_context(|| format!("reading {repo}:{tag}"))?;
    if media_type != OCI_MANIFEST {
        bail!("unexpected MIME type for sigstore attachment manifest {repo}:{tag}: {media_type:?}");
    }
    let m: ImageManifest =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing manifest {repo}:{tag}"))?;
    Ok(Some(m))
}

fn read_limited(r: impl Read, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        bail!("more than {limit} bytes");
    }
    Ok(out)
}

fn fetch_blob(client: &RegistryClient, repo: &str, d: &Descriptor) -> Result<Vec<u8>> {
    if d.size > MAX_PAYLOAD_SIZE {
        bail!("blob {} is {} bytes, too large", d.digest, d.size);
    }
    let body = client.get_blob(repo, &d.digest)?;
    let bytes = read_limited(body, MAX_PAYLOAD_SIZE)
        .with_context(|| format!("reading blob {}", d.digest))?;
    if Digest::of_bytes(&bytes) != d.digest {
        bail!("blob {} does not match its digest", d.digest);
    }
    Ok(bytes)
}

/// Every signature attached to `digest` in `repo`.
pub fn read_attachments(
    client: &RegistryClient,
    repo: &str,
    digest: &Digest,
) -> Result<Vec<Attachment>> {
    let Some(m) = attachment_manifest(client, repo, digest, &["pull"])? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for l in &m.layers {
        out.push(Attachment {
            media_type: l.media_type.clone(),
            payload: fetch_blob(client, repo, l)?,
            annotations: l.annotations.clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

fn upload_blob(client: &RegistryClient, repo: &str, bytes: &[u8]) -> Result<Digest> {
    let digest = Digest::of_bytes(bytes);
    let scope = repository_scope(repo, &["pull", "push"]);
    let run = || -> Result<()> {
        let start = format!("/v2/{repo}/blobs/uploads/");
        let resp = client.request(&HttpRequest::new(Method::Post, &start, Some(&scope)))?;
        if resp.status().as_u16() != 202 {
            return Err(client.error_from(resp, "name unknown").into());
        }
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| anyhow!("the registry started an upload without a Location"))?
            .to_string();
        let sep = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{sep}digest={digest}");
        let mut req = HttpRequest::new(Method::Put, &target, Some(&scope));
        req.headers
            .push(("Content-Type", "application/octet-stream".into()));
        req.body = UploadBody::Bytes(bytes);
        let resp = client.request(&req)?;
        if resp.status().as_u16() != 201 {
            return Err(client.error_from(resp, "blob upload unknown").into());
        }
        Ok(())
    };
    run().with_context(|| format!("writing blob {digest}"))?;
    Ok(digest)
}

fn descriptor(media_type: &str, digest: Digest, size: usize) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest,
        size: size as u64,
        platform: None,
        annotations: None,
        urls: None,
        artifact_type: None,
    }
}

/// Sign `digest` as the manifest of `reference` and append the signature
/// to its attachment manifest (kept as is when an identical one is there).
pub fn sign_into_registry(
    client: &RegistryClient,
    reference: &Reference,
    digest: &Digest,
    key: &PrivateKey,
) -> Result<()> {
    let repo = &reference.repository;
    let payload = payload(reference, digest);
    let signature = key.sign(&payload);
    let existing = attachment_manifest(client, repo, digest, &["pull", "push"])?;
    // The attachment's config: an OCI image config whose diff ids list
    // the layers, as containers/image keeps it.
    let (mut manifest, mut config) = match existing {
        Some(m) => {
            let bytes = fetch_blob(client, repo, &m.config)
                .context("reading the sigstore attachment config")?;
            let config: Value = serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "parsing sigstore attachment config {} in {}",
                    m.config.digest,
                    reference.repo_name()
                )
            })?;
            (m, config)
        }
        None => (
            ImageManifest {
                schema_version: 2,
                media_type: Some(OCI_MANIFEST.to_string()),
                artifact_type: None,
                config: descriptor(OCI_CONFIG, Digest::of_bytes(b""), 0),
                layers: Vec::new(),
                subject: None,
                annotations: None,
            },
            json!({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": null}}),
        ),
    };
    let annotations = BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), signature)]);
    // The same signature again (same key, payload made in the same
    // second): already there, as containers/image sees it.
    let there = manifest.layers.iter().any(|l| {
        l.media_type == SIGNATURE_MIME
            && l.size == payload.len() as u64
            && l.digest == Digest::of_bytes(&payload)
            && l.annotations.as_ref() == Some(&annotations)
    });
    if there {
        return Ok(());
    }
    let payload_digest = upload_blob(client, repo, &payload)?;
    let mut layer = descriptor(SIGNATURE_MIME, payload_digest.clone(), payload.len());
    layer.annotations = Some(annotations);
    manifest.layers.push(layer);
    let rootfs = config
        .as_object_mut()
        .context("the sigstore attachment config is not an object")?
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers"}));
    let ids = rootfs
        .as_object_mut()
        .context("the sigstore attachment config's rootfs is not an object")?
        .entry("diff_ids")
        .or_insert(Value::Null);
    if !ids.is_array() {
        *ids = json!([]);
    }
    if let Some(a) = ids.as_array_mut() {
        a.push(json!(payload_digest.to_string()));
    }
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = upload_blob(client, repo, &config_bytes)?;
    manifest.config = descriptor(OCI_CONFIG, config_digest, config_bytes.len());
    let bytes = serde_json::to_vec(&manifest)?;
    crate::registry::push::put_manifest(client, repo, &attachment_tag(digest), &bytes, OCI_MANIFEST)
        .context("writing the sigstore attachment manifest")
}

/// One attachment checked against one requirement.
fn check_one(
    req: &SigstoreSigned,
    keys: &[VerifyingKey],
    pulled: &Reference,
    digest: &Digest,
    a: &Attachment,
) -> Result<()> {
    let b64 = a
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or_else(|| anyhow!("missing {SIGNATURE_ANNOTATION} annotation"))?;
    let raw = BASE64
        .decode(b64)
        .map_err(|e| anyhow!("base64 decoding: {e}"))?;
    let sig = Signature::from_der(&raw)
        .map_err(|_| anyhow!("cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature"))?;
    if !keys.iter().any(|k| k.verify(&a.payload, &sig).is_ok()) {
        bail!("cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature");
    }
    let claim = parse_payload(&a.payload)?;
    if &claim.digest != digest {
        bail!("Signature for digest {} does not match", claim.digest);
    }
    if !identity_matches(&req.identity, pulled, &claim.reference) {
        bail!(
            "Signature for identity {:?} is not accepted",
            claim.reference.to_string()
        );
    }
    Ok(())
}

/// Check that each `sigstoreSigned` requirement accepts one of the
/// attachments of `digest` (the manifest pulled) for `reference`.
/// `attachments` is none when registries.d does not enable them (then
/// nothing is read, as containers/image does).
pub fn verify(
    client: &RegistryClient,
    reference: &Reference,
    digest: &Digest,
    needed: &[SigstoreSigned],
    enabled: bool,
) -> Result<()> {
    if needed.is_empty() {
        return Ok(());
    }
    // Bad keys in the policy are its error, before anything is read.
    let mut trusted = Vec::new();
    for req in needed {
        let mut keys = Vec::new();
        for (source, pem) in &req.keys {
            keys.extend(parse_public_keys(pem, source).context("invalid signature policy")?);
        }
        trusted.push(keys);
    }
    let all = if enabled {
        read_attachments(client, &reference.repository, digest)
            .context("reading sigstore signatures")?
    } else {
        Vec::new()
    };
    let others = all
        .iter()
        .filter(|a| a.media_type != SIGNATURE_MIME)
        .count();
    let signatures: Vec<&Attachment> = all
        .iter()
        .filter(|a| a.media_type == SIGNATURE_MIME)
        .collect();
    for (req, keys) in needed.iter().zip(&trusted) {
        let mut reasons = Vec::new();
        let accepted = signatures.iter().any(|a| {
            check_one(req, keys, reference, digest, a)
                .map_err(|e| reasons.push(format!("{e:#}")))
                .is_ok()
        });
        if accepted {
            continue;
        }
        match reasons.len() {
            0 if others == 0 => {
                bail!("Source image rejected: A signature was required, but no signature exists")
            }
            0 => bail!("Source image rejected: A signature was required, but no signature exists (0 non-sigstore signatures, {others} sigstore non-signature attachments)"),
            1 => bail!("Source image rejected: {}", reasons[0]),
            _ => bail!(
                "Source image rejected: None of the signatures were accepted, reasons: {}",
                reasons.join("; ")
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PrivateKey {
        PrivateKey(SigningKey::from_bytes(&[7u8; 32].into()).unwrap())
    }

    #[test]
    fn a_signature_verifies_with_its_public_key_only() {
        let r = Reference::parse("h:5000/a/b:1").unwrap();
        let d = Digest::of_bytes(b"manifest");
        let p = payload(&r, &d);
        let b64 = key().sign(&p);
        let sig = Signature::from_der(&BASE64.decode(&b64).unwrap()).unwrap();
        assert!(key().0.verifying_key().verify(&p, &sig).is_ok());
        let mut tampered = p.clone();
        tampered[10] ^= 1;
        assert!(key().0.verifying_key().verify(&tampered, &sig).is_err());
        let claim = parse_payload(&p).unwrap();
        assert_eq!((claim.reference, claim.digest), (r, d));
    }

    #[test]
    fn payloads_are_read_strictly() {
        let ok = r#"{"critical":{"identity":{"docker-reference":"h/a:1"},"image":{"docker-manifest-digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"type":"cosign container image signature"},"optional":null}"#;
        assert!(parse_payload(ok.as_bytes()).is_ok());
        let extra = ok.replace(r#""type":"#, r#""extra":1,"type":"#);
        assert!(parse_payload(extra.as_bytes()).is_err());
        let simple = ok.replace(
            "cosign container image signature",
            "atomic container signature",
        );
        let e = parse_payload(simple.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("Unrecognized signature type"), "{e}");
    }

    #[test]
    fn attachment_tags_and_pem() {
        let d = Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
        assert_eq!(
            attachment_tag(&d),
            format!("sha256-{}.sig", "ab".repeat(32))
        );
        let blocks =
            pem_blocks("junk\n-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n");
        assert_eq!(blocks, vec![("PUBLIC KEY".to_string(), vec![0, 1, 2])]);
        assert!(parse_public_keys(b"no pem here", "t").is_err());
        let e = PrivateKey::parse_with(
            "-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n",
            b"",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("unsupported pem type"), "{e}");
    }
}
