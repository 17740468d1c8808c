//! `build --build-context NAME=VALUE`: an extra source a Containerfile
//! names where it would name a stage (`FROM NAME`, `COPY --from=NAME`),
//! taking precedence over a stage or image of that name, as buildah.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A local directory: COPY --from reads it as it reads the context.
    Dir(PathBuf),
    /// An image reference (`container-image://`, `docker-image://`,
    /// `docker://`): used as that image.
    Image(String),
}

/// The prefixes that make a value an image reference.
const IMAGE_PREFIXES: &[&str] = &["container-image://", "docker-image://", "docker://"];

/// One `--build-context` value, checked (a directory must exist).
pub fn parse(flag: &str) -> Result<(String, NamedContext)> {
    let Some((name, value)) = flag
        .split_once('=')
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
    else {
        bail!("invalid --build-context {flag:?}: use NAME=PATH or NAME=container-image://IMAGE");
    };
    for p in IMAGE_PREFIXES {
        if let Some(image) = value.strip_prefix(p) {
            if image.is_empty() {
                bail!("invalid --build-context {flag:?}: no image after {p}");
            }
            return Ok((name.to_string(), NamedContext::Image(image.to_string())));
        }
    }
    if value.starts_with("http://") || value.starts_with("https://") {
        bail!("--build-context {name}: URL contexts are not supported by coracle; download it and name the directory");
    }
    let dir =
        std::fs::canonicalize(value).with_context(|| format!("--build-context {name}: {value}"))?;
    if !dir.is_dir() {
        bail!("--build-context {name}: {value} is not a directory");
    }
    Ok((name.to_string(), NamedContext::Dir(dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_dirs_and_bad_values() {
        assert_eq!(
            parse("b=docker-image://busybox").unwrap(),
            ("b".into(), NamedContext::Image("busybox".into()))
        );
        assert_eq!(
            parse("t=/tmp").unwrap(),
            ("t".into(), NamedContext::Dir("/tmp".into()))
        );
        assert!(parse("noequals").is_err());
        assert!(parse("=x").is_err());
        assert!(parse("x=https://example.org/a.tar").is_err());
        assert!(parse("x=/nonexistent-coracle-dir").is_err());
    }
}
