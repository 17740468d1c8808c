//! The artifact parts of manifest lists: `manifest add --artifact` (an
//! artifact manifest made from files, added to a list's index),
//! `manifest annotate --index --subject` (the index's subject), and
//! pushing a list's artifact manifests before the list. The manifests
//! and their blobs live in the artifact layout as unnamed entries tagged
//! with the list's id (storage/artifacts.rs), kept while the list holds
//! them.

use super::artifact_mime;
use super::artifact_transfer::{send_artifact, Transfer};
use crate::registry::client::ClientOptions;
use crate::registry::manifest::{
    parse_manifest, Descriptor as IndexEntry, ImageIndex, ParsedManifest, Platform, OCI_INDEX,
};
use crate::registry::push_index;
use crate::registry::reference::Reference;
use crate::registry::resolve::try_find_image;
use crate::storage::artifacts::{ArtifactStore, Descriptor, Manifest, OCI_MANIFEST, TITLE};
use crate::storage::digest::Digest;
use crate::storage::images::ImageRecord;
use crate::storage::manifest_lists as lists;
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

/// buildah's artifactType when `--artifact-type` is not given.
const UNKNOWN_ARTIFACT: &str = "application/vnd.unknown.artifact.v1";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// `manifest add --artifact LIST FILE...`.
#[derive(Debug, Default)]
pub struct AddArtifact {
    pub list: String,
    pub files: Vec<PathBuf>,
    /// `--artifact-type` (`Some("")` leaves the manifest without one).
    pub artifact_type: Option<String>,
    pub config_file: Option<PathBuf>,
    pub config_type: Option<String>,
    pub layer_type: Option<String>,
    pub exclude_titles: bool,
    pub subject: Option<String>,
    /// On the artifact's manifest and on its entry in the list.
    pub annotations: BTreeMap<String, String>,
    /// The entry's platform, when the flags give one.
    pub platform: Option<Platform>,
    pub client: ClientOptions,
}

fn find_list(store: &Store, name: &str) -> Result<(ImageRecord, ImageIndex)> {
    let images = store.images.load()?;
    let rec = try_find_image(&images, name)?
        .ok_or_else(|| anyhow!("{name}: image not known"))?
        .clone();
    if !lists::is_list(&rec) {
        bail!("{name}: image is not a manifest list");
    }
    let index = match parse_manifest(&lists::read_index(store, &rec)?, OCI_INDEX)? {
        ParsedManifest::Index(i) => i,
        ParsedManifest::Image(_) => bail!("the stored manifest list is not an index"),
    };
    Ok((rec, index))
}

/// `manifest add --artifact`: returns the list's id.
pub fn add(store: &Store, a: &AddArtifact) -> Result<String> {
    if a.files.is_empty() {
        bail!("manifest add artifact requires at least one file");
    }
    let (rec, _) = find_list(store, &a.list)?;
    let subject = a
        .subject
        .as_deref()
        .map(|s| subject_descriptor(store, s, &a.client))
        .transpose()?;
    let artifacts = ArtifactStore::new(store);
    let mut staged = Vec::new();
    let mut layers = Vec::new();
    for path in &a.files {
        let mut f =
            std::fs::File::open(path).with_context(|| format!("reading {:?}", path.display()))?;
        if !f.metadata()?.is_file() {
            bail!("{}: not a regular file", path.display());
        }
        let title = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let media_type = match &a.layer_type {
            Some(t) => t.clone(),
            None => {
                let mut head = Vec::new();
                (&mut f).take(512).read_to_end(&mut head)?;
                guess_type(&title, &head)
            }
        };
        let mut f = std::fs::File::open(path)?;
        let blob = artifacts.stage(&mut f, None)?;
        let mut d = Descriptor::new(&media_type, blob.digest.clone(), blob.size);
        if !a.exclude_titles {
            d.annotations = Some(BTreeMap::from([(TITLE.to_string(), title)]));
        }
        layers.push(d);
        staged.push(blob);
    }
    let config = match &a.config_file {
        Some(path) => {
            let mut f = std::fs::File::open(path).with_context(|| {
                format!("reading artifact config data file {:?}", path.display())
            })?;
            let blob = artifacts.stage(&mut f, None)?;
            let mt = a.config_type.as_deref().unwrap_or(OCI_CONFIG);
            let d = Descriptor::new(mt, blob.digest.clone(), blob.size);
            staged.push(blob);
            d
        }
        None => {
            let mut d = Descriptor::empty();
            if let Some(t) = &a.config_type {
                d.media_type = t.clone();
            }
            d
        }
    };
    let artifact_type = match &a.artifact_type {
        None => Some(UNKNOWN_ARTIFACT.to_string()),
        Some(t) if t.is_empty() => None,
        Some(t) => Some(t.clone()),
    };
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: artifact_type.clone(),
        config,
        layers,
        subject,
        annotations: (!a.annotations.is_empty()).then(|| a.annotations.clone()),
    };
    let bytes = serde_json::to_vec(&manifest)?;
    let digest = {
        let _lock = artifacts.lock()?;
        artifacts.commit_for_list(&rec.id, &bytes, staged)?
    };
    let (rec, mut index) = find_list(store, &rec.id)?;
    let entry = IndexEntry {
        media_type: OCI_MANIFEST.to_string(),
        digest: digest.clone(),
        size: bytes.len() as u64,
        platform: a.platform.clone(),
        annotations: (!a.annotations.is_empty()).then(|| a.annotations.clone()),
        urls: None,
        artifact_type,
    };
    match index.manifests.iter_mut().find(|m| m.digest == digest) {
        Some(m) => *m = entry,
        None => index.manifests.push(entry),
    }
    lists::replace_index(store, &rec.id, &serde_json::to_vec(&index)?)?;
    Ok(rec.id)
}

/// A file's type as buildah guesses it: by its extension (the system's
/// mime.types, then Go's built-in table), else by its content; without
/// parameters.
fn guess_type(title: &str, head: &[u8]) -> String {
    let by_ext = title
        .rsplit_once('.')
        .and_then(|(_, ext)| type_by_extension(&ext.to_ascii_lowercase()));
    let t = by_ext.unwrap_or_else(|| artifact_mime::detect(head).to_string());
    t.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn type_by_extension(ext: &str) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string("/etc/mime.types") {
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let mut words = line.split_whitespace();
            if let Some(t) = words.next() {
                if words.any(|w| w == ext) {
                    return Some(t.to_string());
                }
            }
        }
    }
    let builtin = match ext {
        "avif" => "image/avif",
        "css" => "text/css",
        "gif" => "image/gif",
        "htm" | "html" => "text/html",
        "jpeg" | "jpg" => "image/jpeg",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "wasm" => "application/wasm",
        "webp" => "image/webp",
        "xml" => "text/xml",
        _ => return None,
    };
    Some(builtin.to_string())
}

/// The descriptor of what `typed` names: a local image or list, else a
/// manifest in a registry.
pub fn subject_descriptor(
    store: &Store,
    typed: &str,
    client: &ClientOptions,
) -> Result<Descriptor> {
    let name = typed.strip_prefix("containers-storage:").unwrap_or(typed);
    let images = store.images.load()?;
    let local = match typed.strip_prefix("docker://") {
        Some(_) => None,
        None => try_find_image(&images, name).ok().flatten(),
    };
    let (bytes, media_type, digest) = match local {
        Some(rec) => {
            let bytes = store
                .blobs
                .read(&rec.manifest_digest)
                .with_context(|| format!("reading the manifest of {typed}"))?;
            (
                bytes,
                rec.manifest_media_type.clone(),
                rec.manifest_digest.clone(),
            )
        }
        None => {
            let remote = typed.strip_prefix("docker://").unwrap_or(typed);
            let r =
                Reference::parse(remote).with_context(|| format!("parsing subject {typed:?}"))?;
            let f = push_index::fetch_remote(&r, client).with_context(|| {
                format!("{typed}: no such local image, and reading it from its registry failed")
            })?;
            (f.bytes, f.media_type, f.digest)
        }
    };
    let mut d = Descriptor::new(&media_type, digest, bytes.len() as u64);
    if media_type != OCI_INDEX {
        d.artifact_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["artifactType"].as_str().map(str::to_string))
            .filter(|t| !t.is_empty());
    }
    Ok(d)
}

/// `manifest annotate --index --subject`: set the list's subject.
pub fn set_subject(store: &Store, list: &str, subject: &str, client: &ClientOptions) -> Result<()> {
    let (rec, _) = find_list(store, list)?;
    let d = subject_descriptor(store, subject, client)?;
    let (_, mut index) = find_list(store, &rec.id)?;
    index.subject = Some(IndexEntry {
        media_type: d.media_type,
        digest: d.digest,
        size: d.size,
        platform: None,
        annotations: None,
        urls: None,
        artifact_type: d.artifact_type,
    });
    lists::replace_index(store, &rec.id, &serde_json::to_vec(&index)?)?;
    Ok(())
}

/// Is this entry of a list an artifact manifest `add --artifact` made?
pub fn is_artifact_entry(store: &Store, digest: &Digest) -> bool {
    ArtifactStore::new(store).read_manifest(digest).is_some()
}

/// Push the list's artifact manifests (and their blobs) under their
/// digests into `dest`'s repository, before the list that names them.
pub fn push_entries(
    store: &Store,
    index: &ImageIndex,
    dest: &Reference,
    client: &ClientOptions,
    quiet: bool,
) -> Result<()> {
    let artifacts = ArtifactStore::new(store);
    let t = Transfer {
        client: client.clone(),
        quiet,
    };
    for e in &index.manifests {
        let Some(raw) = artifacts.read_manifest(&e.digest) else {
            continue;
        };
        let manifest = Manifest::parse(&raw)?;
        send_artifact(&artifacts, dest, &e.digest.to_string(), &manifest, &raw, &t)
            .with_context(|| format!("pushing artifact {} of the list", e.digest))?;
    }
    Ok(())
}
