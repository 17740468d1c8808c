//! Images in and out: push to a registry, save to and load from archives.
//! Layer files belong to subordinate ids, so the work runs inside the
//! rootless user namespace ([`crate::runtime::userns::enter_for_storage`];
//! call while single-threaded).

use crate::registry::archive::{
    self, LoadInput, LoadedImage, SaveFormat, SaveImage, SaveOptions, SaveTarget,
};
use crate::registry::push::{self, PushOptions};
use crate::registry::reference::{parse_name, ParsedName, Reference};
use crate::registry::resolve::{find_image, try_find_image};
use crate::storage::events::{self, Event};
use crate::storage::images::{ImageRecord, Images};
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};

/// What to push where.
pub struct Push<'a> {
    /// The image as the user typed it.
    pub image: &'a str,
    /// `[docker://]REGISTRY/NAME[:TAG]`; the image's own name when absent.
    pub destination: Option<&'a str>,
    pub options: PushOptions,
    /// `--remove-signatures`: leave the image's stored signatures behind.
    pub remove_signatures: bool,
}

/// Push an image; returns the digest of the manifest pushed.
pub fn push_image(store: &Store, p: &Push) -> Result<String> {
    push_image_signed(store, p, &super::signing::Signers::default())
}

/// Push, then sign what was pushed (`push --sign-by`).
pub fn push_image_signed(
    store: &Store,
    p: &Push,
    sign: &super::signing::Signers,
) -> Result<String> {
    let images = store.images.load()?;
    let image = find_image(&images, p.image)?.clone();
    let dest = match p.destination {
        Some(d) => destination(d)?,
        None => own_destination(&image, p.image)?,
    };
    sign.check_destination(&dest)?;
    // The image's own signatures (`build --sign-by`) go along, as
    // containers/image copies them: only when the manifest stays the one
    // they sign.
    let carried = match p.remove_signatures {
        true => Vec::new(),
        false => crate::storage::image_signatures::of_manifest(
            &store.image_root,
            &image.id,
            &image.manifest_digest,
        )?,
    };
    if !carried.is_empty() && !push::keeps_manifest(store, &image, &p.options) {
        bail!("{}", push::WOULD_INVALIDATE_SIGNATURES);
    }
    crate::runtime::userns::enter_for_storage(store)?;
    let mut options = p.options.clone();
    options.keep_manifest = !carried.is_empty();
    let digest = push::push(store, &image, &dest, &options)?;
    if !carried.is_empty() {
        if digest != image.manifest_digest {
            bail!("{}", push::WOULD_INVALIDATE_SIGNATURES);
        }
        crate::registry::progress::Progress::new(p.options.quiet).line("Storing signatures");
        crate::registry::signature::store_copies(&dest, &digest, &carried, store.rootless)
            .context("writing signatures")?;
    }
    sign.sign_pushed(
        &dest,
        std::slice::from_ref(&digest),
        &p.options.client,
        store.rootless,
        p.options.quiet,
    )?;
    let pushed = p.destination.unwrap_or(p.image);
    events::append(store, Event::image("push", &image.id, pushed));
    Ok(digest.to_string())
}

/// A destination as typed: `docker://` is the only transport we speak.
fn destination(typed: &str) -> Result<Reference> {
    let s = match typed.split_once("://") {
        Some(("docker", rest)) => rest,
        Some((t, _)) => bail!("unsupported transport {t:?} in {typed:?}: only docker:// is"),
        None => typed,
    };
    let s = s.strip_prefix("//").unwrap_or(s);
    Reference::parse(s).with_context(|| format!("parsing destination {typed:?}"))
}

/// `push IMG` alone: the image's own name as the user meant it. podman
/// needs an explicit destination for a `localhost/` name.
fn own_destination(image: &ImageRecord, typed: &str) -> Result<Reference> {
    let name = match parse_name(typed) {
        Ok(ParsedName::Qualified(r)) if r.digest.is_none() => r.to_string(),
        _ => {
            let mut chosen = None;
            for n in &image.names {
                let one = Images {
                    list: vec![ImageRecord {
                        names: vec![n.clone()],
                        ..image.clone()
                    }],
                    scope: None,
                };
                if !image.id.starts_with(typed) && try_find_image(&one, typed)?.is_some() {
                    chosen = Some(n.clone());
                    break;
                }
            }
            match chosen.or_else(|| image.names.first().cloned()) {
                Some(n) => n,
                None => bail!("{typed}: the image has no name: give a destination"),
            }
        }
    };
    let r = Reference::parse(&name)?;
    if r.registry == "localhost" {
        bail!("{name}: a local image needs a destination to push to (REGISTRY/NAME[:TAG])");
    }
    Ok(r)
}

/// What to save, and how.
pub struct Save<'a> {
    pub images: &'a [String],
    pub format: SaveFormat,
    /// docker-archive with several images (`-m`).
    pub multi_image: bool,
    pub options: SaveOptions,
}

/// Where the archive goes.
pub enum SaveTo<'a> {
    Dir(&'a std::path::Path),
    Stream(&'a mut dyn std::io::Write),
}

/// Save images to an archive or a directory layout.
pub fn save_images(store: &Store, s: &Save, to: SaveTo) -> Result<()> {
    let images = store.images.load()?;
    let chosen = choose_images(&images, s.images, s.format, s.multi_image)?;
    let saved: Vec<(String, String)> = s
        .images
        .iter()
        .filter_map(|t| match try_find_image(&images, t) {
            Ok(Some(rec)) => Some((rec.id.clone(), t.clone())),
            _ => None,
        })
        .collect();
    crate::runtime::userns::enter_for_storage(store)?;
    match to {
        SaveTo::Dir(dir) => archive::save(store, &chosen, SaveTarget::Dir(dir), &s.options)?,
        SaveTo::Stream(w) => archive::save(store, &chosen, SaveTarget::Stream(w), &s.options)?,
    }
    for (id, name) in &saved {
        events::append(store, Event::image("save", id, name));
    }
    Ok(())
}

/// Write through a temp sibling renamed into place: `path` is never left
/// half written.
pub fn save_to_file(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
) -> Result<()> {
    use std::io::Write;
    // A pipe or device (`-o /dev/stdout`) cannot be renamed over.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut w = std::io::BufWriter::with_capacity(256 << 10, file);
        write(&mut w)?;
        return w
            .flush()
            .with_context(|| format!("writing {}", path.display()));
    }
    let tmp = crate::storage::atomic::temp_sibling(path);
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(256 << 10, file);
    let result = write(&mut w).and_then(|()| {
        let f = w
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", path.display()))?;
        f.sync_all()
            .with_context(|| format!("writing {}", path.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Load the images of an archive or layout; returns them as stored.
pub fn load_images(store: &Store, input: LoadInput, quiet: bool) -> Result<Vec<LoadedImage>> {
    crate::runtime::userns::enter_for_storage(store)?;
    let loaded = archive::load(store, input, quiet)?;
    for img in &loaded {
        let name = img.names.first().unwrap_or(&img.id);
        events::append(store, Event::image("load", &img.id, name));
    }
    Ok(loaded)
}

/// The images to save and the names each goes under. Without
/// `-m`, docker-archive takes one image and the other arguments are more
/// names for it, as podman.
fn choose_images(
    images: &Images,
    typed: &[String],
    format: SaveFormat,
    multi: bool,
) -> Result<Vec<SaveImage>> {
    let mut out: Vec<SaveImage> = Vec::new();
    for t in typed {
        let rec = find_image(images, t)?;
        let name = matched_name(rec, t)?;
        match out.iter_mut().find(|s| s.record.id == rec.id) {
            Some(s) => s.names.extend(name.filter(|n| !s.names.contains(n))),
            None => out.push(SaveImage {
                record: rec.clone(),
                names: name.into_iter().collect(),
            }),
        }
    }
    if out.len() > 1 {
        match format {
            SaveFormat::DockerArchive if !multi => bail!(
                "the names given are {} different images: use -m (--multi-image-archive) to save several images",
                out.len()
            ),
            SaveFormat::DockerDir => bail!("docker-dir holds one image: save the others separately"),
            _ => {}
        }
    }
    Ok(out)
}

/// The stored name `typed` found, None when it was an id.
fn matched_name(rec: &ImageRecord, typed: &str) -> Result<Option<String>> {
    let bare = typed.strip_prefix("sha256:").unwrap_or(typed);
    if rec.id.starts_with(bare) {
        return Ok(None);
    }
    for n in &rec.names {
        let one = Images {
            list: vec![ImageRecord {
                names: vec![n.clone()],
                ..rec.clone()
            }],
            scope: None,
        };
        if try_find_image(&one, typed)?.is_some() {
            return Ok(Some(n.clone()));
        }
    }
    Ok(None)
}

/// Credentials for registries: the auth file (podman's containers-auth.json)
/// and checking a login against the registry.
pub mod login {
    pub use crate::registry::login::{
        auth_file_path, remove_all_credentials, remove_credentials, store_credentials,
        stored_credentials, stored_username, verify_credentials,
    };
    /// Ask on the terminal (without echo for a secret), or read a line of
    /// stdin when it is not a terminal.
    pub use crate::runtime::attach::prompt;

    /// The auth file's key for what the user typed, or the first search
    /// registry when nothing was.
    pub fn registry_key(typed: Option<&str>) -> anyhow::Result<String> {
        match typed {
            Some(r) => crate::registry::login::normalize_key(r),
            None => match crate::registry::shortnames::search_registries()?.first() {
                Some(r) => Ok(r.clone()),
                None => anyhow::bail!("please provide a registry to log in to"),
            },
        }
    }

    /// docker's config.json key for an auth file key: Docker Hub is
    /// `https://index.docker.io/v1/` there.
    pub fn docker_config_key(key: &str) -> String {
        match key {
            "docker.io" => "https://index.docker.io/v1/".to_string(),
            k => k.to_string(),
        }
    }

    /// `login --secret NAME`: the secret's data is the password.
    pub fn secret_password(
        store: &crate::storage::store::Store,
        name: &str,
    ) -> anyhow::Result<String> {
        let rec = crate::engine::secrets::lookup(store, name)?;
        let data = crate::engine::secrets::data(store, &rec)?;
        let text = String::from_utf8(data)
            .map_err(|_| anyhow::anyhow!("secret {name:?}: the password is not UTF-8 text"))?;
        Ok(text.trim_end_matches(['\n', '\r']).to_string())
    }

    /// The credentials stored for `key` in the auth file at `path`, if any.
    pub fn stored_for(
        path: &std::path::Path,
        key: &str,
    ) -> anyhow::Result<Option<crate::registry::auth::Credentials>> {
        match crate::registry::auth::read_auth_file(path)? {
            Some(file) => stored_credentials(&file, key),
            None => Ok(None),
        }
    }
}

/// A fresh path in the image store's `tmp/` for an archive on its way in
/// (an upload to the API service): named as leftovers are, so the next
/// writer sweeps it if its process is killed before removing it.
pub fn staging_path(store: &Store, prefix: &str) -> Result<std::path::PathBuf> {
    let dir = store.image_tmp();
    std::fs::create_dir_all(&dir)?;
    Ok(crate::storage::leftovers::temp_name(&dir, prefix))
}
