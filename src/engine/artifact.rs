//! `artifact add|ls|inspect|rm|extract`: OCI artifacts (files as the
//! layers of an image manifest with the empty config) in their own layout
//! under the store (storage/artifacts.rs). Names follow podman's rules:
//! fully qualified (`registry/repo[:tag]`), `:latest` when no tag is given;
//! an artifact is also found by a prefix of its manifest's digest.
//! `artifact_transfer.rs` pushes and pulls them.

use super::artifact_mime;
use crate::registry::reference::{parse_name, ParsedName, Reference};
use crate::storage::artifacts::{
    copy_to_file, ArtifactStore, Descriptor, Manifest, StagedBlob, OCI_MANIFEST, TITLE,
};
pub use crate::storage::artifacts::{Artifact, CREATED};
use crate::storage::digest::Digest;
use crate::storage::events::{self, Event};
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A name as stored: canonical, with `:latest` when neither a tag nor a
/// digest is given (podman's `reference.ParseNamed` + `TagNameOnly`).
pub fn artifact_name(typed: &str) -> Result<String> {
    Ok(artifact_reference(typed)?.to_string())
}

/// The reference behind an artifact name (its registry for push and pull).
pub fn artifact_reference(typed: &str) -> Result<Reference> {
    let r = match parse_name(typed)? {
        ParsedName::Qualified(r) => r,
        ParsedName::Short { .. } => bail!("{typed}: repository name must be canonical"),
    };
    let (name, _) = typed.split_once('@').unwrap_or((typed, ""));
    let given_tag = name
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    if given_tag && r.digest.is_some() {
        bail!("{typed}: reference cannot be tagged and digested");
    }
    // `docker.io/busybox` means `docker.io/library/busybox`: not canonical.
    let bare = typed.split(['@']).next().unwrap_or(typed);
    let bare = match bare.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => n,
        _ => bare,
    };
    if r.repo_name() != bare {
        bail!("{typed}: repository name must be canonical");
    }
    let mut r = r;
    if r.digest.is_some() {
        r.tag = None;
    }
    Ok(r)
}

/// The artifact `typed` names: by name, else by a prefix of its digest.
pub fn find<'a>(all: &'a [Artifact], typed: &str) -> Result<&'a Artifact> {
    if typed.is_empty() {
        bail!("nameOrDigest cannot be empty");
    }
    match artifact_reference(typed) {
        Ok(r) => {
            let name = r.to_string();
            let found = match &r.digest {
                // name@digest: any artifact of that repository with the digest.
                Some(d) => all.iter().find(|a| {
                    &a.digest == d
                        && artifact_reference(&a.name).is_ok_and(|s| s.repo_name() == r.repo_name())
                }),
                None => all.iter().find(|a| a.name == name),
            };
            found.ok_or_else(|| anyhow!("{name}: artifact does not exist"))
        }
        Err(e) if e.to_string().contains("tagged and digested") => Err(e),
        Err(_) => {
            let hits: Vec<&Artifact> = all
                .iter()
                .filter(|a| a.digest.hex().starts_with(typed))
                .collect();
            match hits.as_slice() {
                [] => bail!("{typed}: artifact does not exist"),
                [one] => Ok(one),
                many => bail!(
                    "multiple artifacts found with matching digest: {:?}",
                    many.iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            }
        }
    }
}

/// `artifact add`.
#[derive(Debug, Default)]
pub struct Add {
    pub name: String,
    pub files: Vec<PathBuf>,
    /// On the manifest of a new artifact and on each new layer.
    pub annotations: BTreeMap<String, String>,
    pub append: bool,
    pub replace: bool,
    /// `--file-type`: the layers' media type instead of the sniffed one.
    pub file_type: Option<String>,
    /// `--type`: the manifest's artifactType.
    pub artifact_type: Option<String>,
}

/// One file to become a layer.
struct NewLayer {
    path: PathBuf,
    title: String,
    /// The title came from `--annotation`, not the file's name.
    titled: bool,
    media_type: String,
}

/// `artifact add`: returns the manifest's digest.
pub fn add(store: &Store, a: &Add) -> Result<Digest> {
    if a.append && a.replace {
        bail!("--append and --replace options cannot be used together");
    }
    if a.append && a.artifact_type.is_some() {
        bail!("append option is not compatible with type option");
    }
    let name = artifact_name(&a.name)?;
    let layers = new_layers(a)?;
    let artifacts = ArtifactStore::new(store);
    // Checked before anything is copied, and again under the lock.
    compose(&artifacts.list()?, &name, a, &layers, &[])?;
    let mut staged = Vec::new();
    for l in &layers {
        let mut f =
            std::fs::File::open(&l.path).with_context(|| format!("open {}", l.path.display()))?;
        staged.push(artifacts.stage(&mut f, None)?);
    }
    let _lock = artifacts.lock()?;
    let manifest = compose(&artifacts.list()?, &name, a, &layers, &staged)?;
    let bytes = serde_json::to_vec(&manifest)?;
    let digest = artifacts.commit(&name, &bytes, staged)?;
    event(store, "add", &digest, &name);
    Ok(digest)
}

/// podman's artifact events: `add`, `pull`, `push`, `remove`.
pub(super) fn event(store: &Store, status: &str, digest: &Digest, name: &str) {
    events::append(
        store,
        Event {
            id: digest.to_string(),
            name: name.to_string(),
            ..Event::new("artifact", status)
        },
    );
}

fn new_layers(a: &Add) -> Result<Vec<NewLayer>> {
    let mut out = Vec::new();
    for path in &a.files {
        let mut f =
            std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        let meta = f.metadata()?;
        if !meta.is_file() {
            bail!("{}: not a regular file", path.display());
        }
        let media_type = match &a.file_type {
            Some(t) => t.clone(),
            None => {
                let mut head = Vec::with_capacity(512);
                (&mut f)
                    .take(512)
                    .read_to_end(&mut head)
                    .with_context(|| format!("reading {}", path.display()))?;
                artifact_mime::detect(&head).to_string()
            }
        };
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (title, titled) = match a.annotations.get(TITLE) {
            Some(t) => (t.clone(), true),
            None => (base, false),
        };
        out.push(NewLayer {
            path: path.clone(),
            title,
            titled,
            media_type,
        });
    }
    Ok(out)
}

/// The manifest `add` stores, from the artifacts as they are now. With no
/// `staged` blobs it only checks (the layers get placeholder digests).
fn compose(
    all: &[Artifact],
    name: &str,
    a: &Add,
    layers: &[NewLayer],
    staged: &[StagedBlob],
) -> Result<Manifest> {
    let existing = all.iter().find(|x| x.name == name);
    let mut manifest = match existing {
        Some(x) if a.append => x.manifest.clone(),
        None if a.append => bail!("{name}: artifact does not exist"),
        Some(_) if !a.replace => bail!("{name}: artifact already exists"),
        _ => {
            let mut annotations = a.annotations.clone();
            annotations.insert(CREATED.to_string(), crate::format::human::now_rfc3339());
            Manifest {
                schema_version: 2,
                media_type: Some(OCI_MANIFEST.to_string()),
                artifact_type: a.artifact_type.clone().filter(|t| !t.is_empty()),
                config: Descriptor::empty(),
                layers: Vec::new(),
                subject: None,
                annotations: Some(annotations),
            }
        }
    };
    for (i, l) in layers.iter().enumerate() {
        if manifest.layers.iter().any(|x| x.title() == Some(&l.title)) {
            if l.titled {
                bail!("duplicate layers {TITLE} labels within an artifact not allowed");
            }
            bail!("{}: file already exists in artifact", l.title);
        }
        let (digest, size) = match staged.get(i) {
            Some(s) => (s.digest.clone(), s.size),
            None => (Digest::of_bytes(l.title.as_bytes()), 0),
        };
        let mut annotations = a.annotations.clone();
        annotations.insert(TITLE.to_string(), l.title.clone());
        let mut d = Descriptor::new(&l.media_type, digest, size);
        d.annotations = Some(annotations);
        manifest.layers.push(d);
    }
    Ok(manifest)
}

/// Every artifact (`artifact ls`).
pub fn list(store: &Store) -> Result<Vec<Artifact>> {
    ArtifactStore::new(store).list()
}

/// `artifact inspect`: the artifact `typed` names.
pub fn inspect(store: &Store, typed: &str) -> Result<Artifact> {
    let all = list(store)?;
    Ok(find(&all, typed)?.clone())
}

/// `artifact rm`: every name is found before any is removed (an unknown
/// one is skipped with `ignore`). Returns the removed manifests' digests.
pub fn remove(store: &Store, typed: &[String], all: bool, ignore: bool) -> Result<Vec<Digest>> {
    if all && !typed.is_empty() {
        bail!("when using the --all switch, you may not pass any artifact names or digests");
    }
    if !all && typed.is_empty() {
        bail!("at least one artifact name or digest must be specified");
    }
    let artifacts = ArtifactStore::new(store);
    let _lock = artifacts.lock()?;
    let stored = artifacts.list()?;
    let mut doomed: Vec<&Artifact> = Vec::new();
    if all {
        doomed.extend(&stored);
    }
    for t in typed {
        match find(&stored, t) {
            Ok(a) => {
                if !doomed.iter().any(|d| d.name == a.name) {
                    doomed.push(a);
                }
            }
            Err(e) if ignore && e.to_string().ends_with("artifact does not exist") => {}
            Err(e) => return Err(e),
        }
    }
    for a in &doomed {
        artifacts.remove(&a.name)?;
        event(store, "remove", &a.digest, &a.name);
    }
    Ok(doomed.iter().map(|a| a.digest.clone()).collect())
}

/// `artifact extract` options: one blob by digest or by title.
#[derive(Debug, Default)]
pub struct Extract {
    pub digest: Option<String>,
    pub title: Option<String>,
}

/// `artifact extract`: into a directory (it must exist; one file per blob,
/// named by its title or digest) or a file (created or replaced; one blob).
pub fn extract(store: &Store, typed: &str, target: &Path, e: &Extract) -> Result<()> {
    if e.digest.is_some() && e.title.is_some() {
        bail!("cannot specify both digest and title");
    }
    let artifacts = ArtifactStore::new(store);
    let all = artifacts.list()?;
    let a = find(&all, typed)?;
    let layers = &a.manifest.layers;
    if layers.is_empty() {
        bail!("the artifact has no blobs, nothing to extract");
    }
    let to_dir = match std::fs::metadata(target) {
        Ok(m) => m.is_dir(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => false,
        Err(err) => return Err(anyhow!("{}: {err}", target.display())),
    };
    let selected = (e.digest.is_some() || e.title.is_some())
        .then(|| select(layers, e))
        .transpose()?;
    let copy = |d: &Digest, dest: &Path| -> Result<()> {
        let mut src = artifacts.read_blob(d)?;
        copy_to_file(&mut src, dest)
    };
    if !to_dir {
        let layer = match selected {
            Some(l) => l,
            None if layers.len() == 1 => &layers[0],
            None => bail!(
                "the artifact consists of several blobs and the target {:?} is not a directory and neither digest or title was specified to only copy a single blob",
                target.display().to_string()
            ),
        };
        return copy(&layer.digest, target);
    }
    let chosen: Vec<(&Descriptor, Option<&str>)> = match selected {
        // With --digest the file is named by the digest, as podman does.
        Some(l) => vec![(l, e.title.as_deref())],
        None => layers.iter().map(|l| (l, l.title())).collect(),
    };
    // Every name is checked before the first file is written.
    let mut names = Vec::new();
    for (l, title) in &chosen {
        names.push(blob_file_name(title.unwrap_or(""), &l.digest)?);
    }
    for ((l, _), name) in chosen.iter().zip(names) {
        copy(&l.digest, &target.join(name))?;
    }
    Ok(())
}

fn select<'a>(layers: &'a [Descriptor], e: &Extract) -> Result<&'a Descriptor> {
    let hits: Vec<&Descriptor> = layers
        .iter()
        .filter(|l| match (&e.digest, &e.title) {
            (Some(d), _) => l.digest.to_string() == *d,
            (None, Some(t)) => l.title() == Some(t.as_str()),
            (None, None) => false,
        })
        .collect();
    match (hits.as_slice(), &e.digest, &e.title) {
        ([one], _, _) => Ok(one),
        ([], Some(d), _) => bail!("no blob with the digest {d:?}"),
        ([], _, Some(t)) => bail!("no blob with the title {t:?}"),
        (_, Some(d), _) => bail!("more than one match for the digest {d:?}"),
        (_, _, t) => bail!(
            "more than one match for the title {:?}",
            t.clone().unwrap_or_default()
        ),
    }
}

/// A blob's file name: its title, else its digest with `-` for `:`.
fn blob_file_name(title: &str, digest: &Digest) -> Result<String> {
    let name = if title.is_empty() {
        digest.to_string().replace(':', "-")
    } else {
        title.to_string()
    };
    if name.contains('/') {
        bail!("invalid name: {name:?} cannot contain /: artifact blob title invalid");
    }
    if name == "." || name == ".." {
        bail!("invalid name: {name:?}: artifact blob title invalid");
    }
    Ok(name)
}
