//! Lookaside storage: simple signatures kept beside a registry, one file
//! per signature, at `BASE/REPO@ALGO=HEX/signature-N` (N from 1). Read
//! from `file://` and `http(s)://` URLs, written to `file://` ones.

use crate::config::registries_d;
use crate::registry::reference::Reference;
use crate::storage::digest::Digest;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The most signatures read for one image: a bound on a hostile server.
const MAX_SIGNATURES: usize = 64;
/// The largest signature file read.
const MAX_SIGNATURE_BYTES: u64 = 4 << 20;

/// Where `reference`'s signatures live: the configured (or built-in) top
/// level and the repository path below it.
fn base_url(reference: &Reference, write: bool, rootless: bool) -> Result<String> {
    let config = registries_d::load()?;
    let top = config
        .top_level(&reference.to_string(), write)
        .unwrap_or_else(|| registries_d::builtin_default(rootless));
    Ok(format!(
        "{}/{}",
        top.trim_end_matches('/'),
        reference.repository
    ))
}

fn signature_dir(base: &str, digest: &Digest) -> String {
    format!("{base}@{}={}", digest.algorithm(), digest.hex())
}

/// The directory signatures of `digest` are written to: `directory/REPO`
/// when given (`--directory`), else the registries.d write location,
/// which must be a `file://` URL.
pub fn write_dir(
    reference: &Reference,
    digest: &Digest,
    directory: Option<&Path>,
    rootless: bool,
) -> Result<PathBuf> {
    let base = match directory {
        Some(d) => format!("{}/{}", d.display(), reference.repository),
        None => {
            let url = base_url(reference, true, rootless)?;
            match url.strip_prefix("file://") {
                Some(p) => p.to_string(),
                None => bail!(
                    "writing signatures to {url}: only file:// signature storage can be written"
                ),
            }
        }
    };
    Ok(PathBuf::from(signature_dir(&base, digest)))
}

/// Store `signature` in `dir` as the first free `signature-N`.
pub fn put(dir: &Path, signature: &[u8]) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o751)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut n = 1;
    loop {
        let path = dir.join(format!("signature-{n}"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(signature)
                    .with_context(|| format!("writing {}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
}

/// Every signature stored for `digest` of `reference`, in order; none is
/// an empty list (the first missing `signature-N` ends it).
pub fn get_all(reference: &Reference, digest: &Digest, rootless: bool) -> Result<Vec<Vec<u8>>> {
    let dir = signature_dir(&base_url(reference, false, rootless)?, digest);
    let mut out = Vec::new();
    for n in 1..=MAX_SIGNATURES {
        let url = format!("{dir}/signature-{n}");
        match read_one(&url).with_context(|| format!("reading signature {url}"))? {
            Some(sig) => out.push(sig),
            None => break,
        }
    }
    Ok(out)
}

/// One signature file; None when it does not exist.
fn read_one(url: &str) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    if let Some(path) = url.strip_prefix("file://") {
        return match std::fs::File::open(path) {
            Ok(f) => {
                let mut buf = Vec::new();
                f.take(MAX_SIGNATURE_BYTES).read_to_end(&mut buf)?;
                Ok(Some(buf))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        };
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return match ureq::get(url).call() {
            Ok(resp) => {
                let mut buf = Vec::new();
                resp.into_body()
                    .into_reader()
                    .take(MAX_SIGNATURE_BYTES)
                    .read_to_end(&mut buf)?;
                Ok(Some(buf))
            }
            Err(ureq::Error::StatusCode(404)) => Ok(None),
            Err(e) => Err(e.into()),
        };
    }
    bail!("unsupported signature storage URL: use file://, http:// or https://")
}
