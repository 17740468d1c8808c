//! `manifest create|add|annotate|inspect|exists|remove|rm|push`: manifest
//! lists (image indexes) kept in the store as images whose manifest is the
//! index (storage/manifest_lists.rs). Entries name local images by their
//! manifest digest; `push` sends those images, then the index.

use crate::registry::client::ClientOptions;
use crate::registry::manifest::{
    choose_manifest, host_platform, parse_manifest, Descriptor, ImageIndex, ParsedManifest,
    Platform, OCI_INDEX,
};
use crate::registry::push::{ManifestFormat, PushOptions};
use crate::registry::push_index::{self, Instance};
use crate::registry::reference::{parse_name, ParsedName, Reference};
use crate::registry::resolve::try_find_image;
use crate::storage::compression::Compression;
use crate::storage::digest::Digest;
use crate::storage::events::{self, Event};
use crate::storage::image_config::ImageConfig;
use crate::storage::images::{ImageRecord, Images};
use crate::storage::manifest_lists as lists;
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;

/// Platform fields to record for an entry instead of the image's own.
#[derive(Debug, Default, Clone)]
pub struct PlatformOverride {
    pub os: Option<String>,
    pub arch: Option<String>,
    pub variant: Option<String>,
    pub os_version: Option<String>,
    pub os_features: Vec<String>,
    pub features: Vec<String>,
}

/// `manifest create`.
#[derive(Debug, Default)]
pub struct Create {
    pub list: String,
    pub images: Vec<String>,
    /// Add every entry of an image that is itself a list.
    pub all: bool,
    /// Use an existing list of that name instead of failing.
    pub amend: bool,
    pub annotations: BTreeMap<String, String>,
    /// For images named in a registry (`--tls-verify`).
    pub client: ClientOptions,
}

/// `manifest add`.
#[derive(Debug, Default)]
pub struct Add {
    pub list: String,
    pub images: Vec<String>,
    pub all: bool,
    pub annotations: BTreeMap<String, String>,
    pub platform: PlatformOverride,
    /// For images named in a registry (`--authfile`, `--creds`, ...).
    pub client: ClientOptions,
}

/// `manifest annotate`.
#[derive(Debug, Default)]
pub struct Annotate {
    pub list: String,
    /// An entry's digest or a local image in the list; ignored with `index`.
    pub target: String,
    /// Annotate the index itself rather than one entry.
    pub index: bool,
    pub annotations: BTreeMap<String, String>,
    pub platform: PlatformOverride,
}

/// `manifest push`.
pub struct Push {
    pub list: String,
    pub destination: Option<String>,
    /// Push the entries' images too (podman's default).
    pub all: bool,
    /// The list's type (`--format`): OCI index or Docker list.
    pub format: ManifestFormat,
    /// Remove the local list once pushed.
    pub remove: bool,
    pub options: PushOptions,
    /// `--sign-by`, `--sign-by-sigstore-private-key`: sign the list
    /// pushed and, with `all`, each instance pushed with it (as podman).
    pub sign_by: super::signing::Signers,
    /// `--add-compression`: also push each image in these compressions,
    /// as further entries.
    pub add_compression: Vec<Compression>,
    /// The images' own signatures are not pushed with them.
    pub remove_signatures: bool,
}

/// `KEY=VALUE` annotations as typed.
pub fn parse_annotations(items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in items {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| anyhow!("no value given for annotation {a:?}: use KEY=VALUE"))?;
        if k.is_empty() {
            bail!("invalid annotation {a:?}: empty key");
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn empty_index() -> ImageIndex {
    ImageIndex {
        schema_version: 2,
        media_type: Some(OCI_INDEX.to_string()),
        artifact_type: None,
        manifests: Vec::new(),
        subject: None,
        annotations: None,
    }
}

/// The local list `name`; any other image is refused.
fn find_list(images: &Images, name: &str) -> Result<ImageRecord> {
    let rec = try_find_image(images, name)?.ok_or_else(|| anyhow!("{name}: image not known"))?;
    if !lists::is_list(rec) {
        bail!("{name}: image is not a manifest list");
    }
    Ok(rec.clone())
}

fn load_list(store: &Store, name: &str) -> Result<(ImageRecord, ImageIndex)> {
    let images = store.images.load()?;
    let rec = find_list(&images, name)?;
    let index = parse_index(&lists::read_index(store, &rec)?)?;
    Ok((rec, index))
}

fn parse_index(bytes: &[u8]) -> Result<ImageIndex> {
    match parse_manifest(bytes, OCI_INDEX)? {
        ParsedManifest::Index(i) => Ok(i),
        ParsedManifest::Image(_) => bail!("the stored manifest list is not an index"),
    }
}

fn save(store: &Store, id: &str, index: &ImageIndex) -> Result<()> {
    lists::replace_index(store, id, &serde_json::to_vec(index)?)?;
    Ok(())
}

/// Does a local manifest list of this name exist?
pub fn exists(store: &Store, name: &str) -> Result<bool> {
    let images = store.images.load()?;
    Ok(try_find_image(&images, name)
        .ok()
        .flatten()
        .is_some_and(lists::is_list))
}

/// Make a list (or, with `amend`, take the existing one) and add images.
/// Returns the list's id.
pub fn create(store: &Store, c: &Create) -> Result<String> {
    let name = super::images::local_name(&c.list)?;
    let existing = {
        let images = store.images.load()?;
        match try_find_image(&images, &name)? {
            Some(rec) if c.amend && lists::is_list(rec) => Some(rec.id.clone()),
            Some(_) if c.amend => bail!("{}: image is not a manifest list", c.list),
            Some(_) => bail!("{}: image name is already in use", c.list),
            None => None,
        }
    };
    // Everything is checked before the list is made.
    let entries = entries_for(
        store,
        &c.images,
        c.all,
        &BTreeMap::new(),
        &Default::default(),
        &c.client,
    )?;
    let id = match existing {
        Some(id) => id,
        None => {
            let mut index = empty_index();
            if !c.annotations.is_empty() {
                index.annotations = Some(c.annotations.clone());
            }
            let rec = lists::create(store, &name, &serde_json::to_vec(&index)?)?;
            events::append(store, Event::image("create", &rec.id, &name));
            return finish_create(store, &rec.id, entries);
        }
    };
    let (rec, mut index) = load_list(store, &id)?;
    if !c.annotations.is_empty() {
        index
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(c.annotations.clone());
    }
    merge(store, &rec.id, &mut index, entries)?;
    save(store, &rec.id, &index)?;
    Ok(rec.id)
}

fn finish_create(store: &Store, id: &str, entries: Vec<Entry>) -> Result<String> {
    if !entries.is_empty() {
        let (_, mut index) = load_list(store, id)?;
        merge(store, id, &mut index, entries)?;
        save(store, id, &index)?;
    }
    Ok(id.to_string())
}

/// Entries replace those of the same digest, else go at the end. Where an
/// entry came from a registry is kept with the list (its repo digests), for
/// `push` to copy it from there.
fn merge(store: &Store, id: &str, index: &mut ImageIndex, entries: Vec<Entry>) -> Result<()> {
    let sources: Vec<String> = entries.iter().filter_map(|e| e.source.clone()).collect();
    if !sources.is_empty() {
        lists::add_sources(store, id, &sources)?;
    }
    for Entry { descriptor: e, .. } in entries {
        match index.manifests.iter_mut().find(|m| m.digest == e.digest) {
            Some(m) => *m = e,
            None => index.manifests.push(e),
        }
    }
    Ok(())
}

/// `manifest add`: returns the list's id.
pub fn add(store: &Store, a: &Add) -> Result<String> {
    let (rec, mut index) = load_list(store, &a.list)?;
    let entries = entries_for(
        store,
        &a.images,
        a.all,
        &a.annotations,
        &a.platform,
        &a.client,
    )?;
    merge(store, &rec.id, &mut index, entries)?;
    save(store, &rec.id, &index)?;
    Ok(rec.id)
}

/// An entry to add, and where it is when it is not a local image
/// (`registry/repository@digest`).
struct Entry {
    descriptor: Descriptor,
    source: Option<String>,
}

/// The index entries for images as typed: local ones (`containers-storage:`
/// allowed), or in a registry (`docker://`, or a qualified name not found
/// here, as podman). An image that is a list gives its entries (`all`) or
/// the one for this machine (or the `--os`/`--arch`/`--variant` asked).
fn entries_for(
    store: &Store,
    typed: &[String],
    all: bool,
    annotations: &BTreeMap<String, String>,
    over: &PlatformOverride,
    client: &ClientOptions,
) -> Result<Vec<Entry>> {
    let images = store.images.load()?;
    let mut out = Vec::new();
    for t in typed {
        let (name, remote) = match t.split_once("://") {
            Some(("docker", rest)) => (rest, true),
            Some((tr, _)) => bail!("{t}: unsupported transport {tr:?}"),
            None => (t.strip_prefix("containers-storage:").unwrap_or(t), false),
        };
        let local = if remote {
            None
        } else {
            try_find_image(&images, name)?
        };
        let mut found: Vec<Entry> = match local {
            Some(img) if lists::is_list(img) => {
                let index = parse_index(&lists::read_index(store, img)?)?;
                let chosen = if all {
                    index.manifests
                } else {
                    vec![choose_manifest(&index, &host_platform())?.clone()]
                };
                chosen.into_iter().map(local_entry).collect()
            }
            Some(img) => vec![local_entry(image_entry(store, img)?)],
            None => remote_entries(t, name, all, over, client)?,
        };
        for e in &mut found {
            apply_override(&mut e.descriptor, over);
            if !annotations.is_empty() {
                e.descriptor
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .extend(annotations.clone());
            }
        }
        out.extend(found);
    }
    Ok(out)
}

fn local_entry(descriptor: Descriptor) -> Entry {
    Entry {
        descriptor,
        source: None,
    }
}

/// Entries for an image or list in a registry, read there (nothing pulled).
fn remote_entries(
    typed: &str,
    name: &str,
    all: bool,
    over: &PlatformOverride,
    client: &ClientOptions,
) -> Result<Vec<Entry>> {
    let r = match parse_name(name)? {
        ParsedName::Qualified(r) => r,
        ParsedName::Short { .. } => bail!("{typed}: image not known"),
    };
    let host = host_platform();
    let want = Platform {
        os: over.os.clone().unwrap_or(host.os),
        architecture: over.arch.clone().unwrap_or(host.architecture),
        variant: over.variant.clone().or(if over.arch.is_some() {
            None
        } else {
            host.variant
        }),
        ..Platform::default()
    };
    let found = push_index::remote_entries(&r, all, &want, client)
        .with_context(|| format!("adding {typed}"))?;
    Ok(found
        .into_iter()
        .map(|descriptor| Entry {
            source: Some(format!("{}@{}", r.repo_name(), descriptor.digest)),
            descriptor,
        })
        .collect())
}

/// A local image as an index entry: its manifest, and its platform from
/// its configuration.
fn image_entry(store: &Store, img: &ImageRecord) -> Result<Descriptor> {
    let manifest = store
        .blobs
        .read(&img.manifest_digest)
        .with_context(|| format!("reading the manifest of image {}", img.id))?;
    let config = ImageConfig::parse(&store.blobs.read(&img.config_digest())?)?;
    let os_version = config
        .extra
        .get("os.version")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Ok(Descriptor {
        media_type: img.manifest_media_type.clone(),
        digest: img.manifest_digest.clone(),
        size: manifest.len() as u64,
        platform: Some(Platform {
            architecture: config.architecture,
            os: config.os,
            variant: config.variant.filter(|v| !v.is_empty()),
            os_version,
            os_features: None,
            features: None,
        }),
        annotations: None,
        urls: None,
        artifact_type: None,
    })
}

fn apply_override(e: &mut Descriptor, o: &PlatformOverride) {
    let p = e.platform.get_or_insert_with(Platform::default);
    if let Some(v) = &o.os {
        p.os = v.clone();
    }
    if let Some(v) = &o.arch {
        p.architecture = v.clone();
    }
    if let Some(v) = &o.variant {
        // `--variant ""` clears it.
        p.variant = Some(v.clone()).filter(|v| !v.is_empty());
    }
    if let Some(v) = &o.os_version {
        p.os_version = Some(v.clone());
    }
    if !o.os_features.is_empty() {
        p.os_features = Some(o.os_features.clone());
    }
    if !o.features.is_empty() {
        p.features = Some(o.features.clone());
    }
}

/// The entry `target` names: a digest in the list, or a local image whose
/// manifest is in it.
fn entry_index(store: &Store, index: &ImageIndex, target: &str) -> Result<usize> {
    let by_digest = |d: &Digest| index.manifests.iter().position(|m| m.digest == *d);
    if let Ok(d) = Digest::parse(target) {
        return by_digest(&d)
            .ok_or_else(|| anyhow!("{target}: no such digest in the manifest list"));
    }
    let images = store.images.load()?;
    let img =
        try_find_image(&images, target)?.ok_or_else(|| anyhow!("{target}: image not known"))?;
    std::iter::once(&img.manifest_digest)
        .chain(&img.digests)
        .find_map(by_digest)
        .ok_or_else(|| anyhow!("{target}: image is not in the manifest list"))
}

/// `manifest annotate`: returns the list's id and the entry's digest
/// (the list's own with `index`).
pub fn annotate(store: &Store, a: &Annotate) -> Result<(String, Digest)> {
    let (rec, mut index) = load_list(store, &a.list)?;
    let digest = if a.index {
        index
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(a.annotations.clone());
        None
    } else {
        let i = entry_index(store, &index, &a.target)?;
        let e = &mut index.manifests[i];
        apply_override(e, &a.platform);
        if !a.annotations.is_empty() {
            e.annotations
                .get_or_insert_with(BTreeMap::new)
                .extend(a.annotations.clone());
        }
        Some(e.digest.clone())
    };
    save(store, &rec.id, &index)?;
    let digest = match digest {
        Some(d) => d,
        None => load_list(store, &rec.id)?.0.manifest_digest,
    };
    Ok((rec.id, digest))
}

/// `manifest remove LIST DIGEST`: returns the list's id and the digest.
pub fn remove(store: &Store, list: &str, digest: &str) -> Result<(String, Digest)> {
    let d = Digest::parse(digest).map_err(|e| anyhow!("invalid digest {digest:?}: {e:#}"))?;
    let (rec, mut index) = load_list(store, list)?;
    let before = index.manifests.len();
    index.manifests.retain(|m| m.digest != d);
    if index.manifests.len() == before {
        bail!("{digest}: no such digest in manifest list {list}");
    }
    save(store, &rec.id, &index)?;
    Ok((rec.id, d))
}

/// The ids `manifest rm` may remove: each name must be a local list
/// (unknown ones are skipped with `ignore`). Checked before any removal.
pub fn lists_to_remove(store: &Store, names: &[String], ignore: bool) -> Result<Vec<String>> {
    let images = store.images.load()?;
    let mut ids = Vec::new();
    for n in names {
        match try_find_image(&images, n)? {
            None if ignore => continue,
            None => bail!("{n}: image not known"),
            Some(rec) if !lists::is_list(rec) => bail!("{n}: image is not a manifest list"),
            Some(rec) => ids.push(rec.id.clone()),
        }
    }
    Ok(ids)
}

/// `manifest inspect`: a local list's index, else the manifest or index
/// the name has in its registry, as JSON.
pub fn inspect(
    store: &Store,
    name: &str,
    client: &crate::registry::client::ClientOptions,
) -> Result<serde_json::Value> {
    let images = store.images.load()?;
    if let Some(rec) = try_find_image(&images, name)? {
        if lists::is_list(rec) {
            let bytes = lists::read_index(store, rec)?;
            return Ok(serde_json::from_slice(&bytes)?);
        }
    }
    let typed = name.strip_prefix("docker://").unwrap_or(name);
    let r = Reference::parse(typed).with_context(|| format!("parsing {name:?}"))?;
    let fetched = push_index::fetch_remote(&r, client)?;
    serde_json::from_slice(&fetched.bytes)
        .with_context(|| format!("{name}: the registry's manifest is not JSON"))
}

/// `manifest push`: returns the digest of the index pushed.
pub fn push(store: &Store, p: &Push) -> Result<Digest> {
    let (rec, index) = load_list(store, &p.list)?;
    let typed = p.destination.as_deref().unwrap_or(&p.list);
    let typed = typed.strip_prefix("docker://").unwrap_or(typed);
    let dest = Reference::parse(typed).with_context(|| format!("parsing destination {typed:?}"))?;
    if p.destination.is_none() && dest.registry == "localhost" {
        bail!(
            "{}: a local list needs a destination to push to (REGISTRY/NAME[:TAG])",
            p.list
        );
    }
    let images = store.images.load()?;
    let mut instances = Vec::new();
    for e in &index.manifests {
        // Not pushed with it (--all=false), or an artifact manifest that
        // `add --artifact` made (pushed below).
        if !p.all || super::artifact_manifest::is_artifact_entry(store, &e.digest) {
            instances.push(Instance {
                image: None,
                remote: None,
                keep_manifest: false,
            });
            continue;
        }
        let image = images
            .list
            .iter()
            .find(|i| i.manifest_digest == e.digest && !lists::is_list(i));
        // Not here: an entry added from a registry is copied from there.
        let remote = match image {
            Some(_) => None,
            None => {
                let suffix = format!("@{}", e.digest);
                let source = rec
                    .repo_digests
                    .iter()
                    .find(|s| s.ends_with(&suffix))
                    .ok_or_else(|| {
                        anyhow!(
                            "image {} of manifest list {} is not in local storage",
                            e.digest,
                            p.list
                        )
                    })?;
                Some(Reference::parse(source)?)
            }
        };
        instances.push(Instance {
            image,
            remote,
            keep_manifest: false,
        });
    }
    // A local image's own signatures (`build --sign-by`) go with it, as
    // containers/image copies them: only if its manifest goes unchanged.
    let mut carried = Vec::new();
    for inst in instances.iter_mut().filter(|_| !p.remove_signatures) {
        let Some(image) = inst.image else { continue };
        let signatures = crate::storage::image_signatures::of_manifest(
            &store.image_root,
            &image.id,
            &image.manifest_digest,
        )?;
        if signatures.is_empty() {
            continue;
        }
        if !crate::registry::push::keeps_manifest(store, image, &p.options) {
            bail!("{}", crate::registry::push::WOULD_INVALIDATE_SIGNATURES);
        }
        inst.keep_manifest = true;
        carried.push((image.manifest_digest.clone(), signatures));
    }
    let mut options = p.options.clone();
    if p.format == ManifestFormat::V2s2 && options.format.is_none() {
        options.format = Some(ManifestFormat::V2s2);
    }
    p.sign_by.check_destination(&dest)?;
    crate::runtime::userns::enter_for_storage(store)?;
    if p.all {
        let quiet = options.quiet;
        super::artifact_manifest::push_entries(store, &index, &dest, &options.client, quiet)?;
    }
    let list = push_index::ListPush {
        index: &index,
        instances: &instances,
        format: p.format,
        variants: &p.add_compression,
    };
    let digest = push_index::push_list(store, &list, &dest, &options)?;
    for (instance, signatures) in &carried {
        crate::registry::signature::store_copies(&dest, instance, signatures, store.rootless)
            .with_context(|| format!("writing the signatures of {instance}"))?;
    }
    if !p.sign_by.is_empty() {
        let mut signed = Vec::new();
        if p.all {
            // The instances as the list pushed names them (with the
            // --add-compression variants).
            let pushed =
                crate::registry::client::RegistryClient::new(&dest.registry, &options.client)?
                    .get_manifest(&dest.repository, &digest.to_string())?;
            if let ParsedManifest::Index(i) = parse_manifest(&pushed.bytes, &pushed.media_type)? {
                signed.extend(i.manifests.into_iter().map(|d| d.digest));
            }
        }
        signed.push(digest.clone());
        p.sign_by.sign_pushed(
            &dest,
            &signed,
            &options.client,
            store.rootless,
            options.quiet,
        )?;
    }
    events::append(store, Event::image("push", &rec.id, typed));
    if p.remove {
        let report = super::images::remove(
            store,
            &super::images::Removal {
                images: vec![rec.id.clone()],
                ..Default::default()
            },
        )?;
        if let Some(e) = report.error {
            return Err(e.context("removing the pushed list"));
        }
    }
    Ok(digest)
}
