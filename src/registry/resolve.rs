//! Finding a local image from what a user typed: a full or short id, a
//! fully qualified name, or a short name (matched as podman does).

use super::reference::{parse_name, ParsedName};
use crate::error::not_found;
use crate::storage::images::{ImageRecord, Images};
use anyhow::{bail, Result};

/// Look `input` up among `images`. Errors with podman's "image not known".
pub fn find_image<'a>(images: &'a Images, input: &str) -> Result<&'a ImageRecord> {
    match try_find_image(images, input)? {
        Some(img) => Ok(img),
        None => Err(not_found("image", input)),
    }
}

pub fn try_find_image<'a>(images: &'a Images, input: &str) -> Result<Option<&'a ImageRecord>> {
    let input = input.trim();
    if input.is_empty() {
        bail!("invalid image reference: empty name");
    }
    let bare = input.strip_prefix("sha256:").unwrap_or(input);
    if let Some(img) = images.by_id(bare) {
        return Ok(Some(img));
    }
    if let Ok(parsed) = parse_name(input) {
        if let Some(img) = find_by_parsed(images, &parsed) {
            return Ok(Some(img));
        }
    }
    let by_prefix = images.by_id_prefix(bare);
    match by_prefix.len() {
        0 => Ok(None),
        1 => Ok(Some(by_prefix[0])),
        _ => bail!(
            "{input}: image id prefix is ambiguous: it matches {} images",
            by_prefix.len()
        ),
    }
}

fn find_by_parsed<'a>(images: &'a Images, parsed: &ParsedName) -> Option<&'a ImageRecord> {
    match parsed {
        ParsedName::Qualified(r) => {
            if let Some(d) = &r.digest {
                return images.list.iter().find(|i| {
                    i.repo_digests.contains(&format!("{}@{}", r.repo_name(), d))
                        || (i.digests.contains(d)
                            && i.names.iter().any(|n| repo_of(n) == r.repo_name()))
                });
            }
            images.by_name(&r.to_string())
        }
        ParsedName::Short {
            repository,
            tag,
            digest,
        } => {
            // podman: a short name first means localhost/NAME, then any local
            // name whose repository path ends with "/NAME".
            let suffix = format!("/{repository}");
            let matches_repo = |name: &str| {
                let repo = repo_of(name);
                repo.ends_with(&suffix)
                    || repo == format!("docker.io/library/{repository}").as_str()
            };
            if let Some(d) = digest {
                return images
                    .list
                    .iter()
                    .find(|i| i.digests.contains(d) && i.names.iter().any(|n| matches_repo(n)));
            }
            let tag = tag.as_deref().unwrap_or("latest");
            let local = format!("localhost/{repository}:{tag}");
            if let Some(img) = images.by_name(&local) {
                return Some(img);
            }
            images.list.iter().find(|i| {
                i.names
                    .iter()
                    .any(|n| matches_repo(n) && tag_of(n) == Some(tag))
            })
        }
    }
}

/// `registry/repo` of a stored `registry/repo:tag` name.
pub fn repo_of(name: &str) -> &str {
    split_name(name).0
}

pub fn tag_of(name: &str) -> Option<&str> {
    split_name(name).1
}

/// Split a stored name into repository and tag (a `:` after the last `/`).
pub fn split_name(name: &str) -> (&str, Option<&str>) {
    let name = name.split('@').next().unwrap_or(name);
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], Some(&name[slash + i + 1..])),
        None => (name, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names() {
        assert_eq!(
            split_name("127.0.0.1:5000/a/b:1"),
            ("127.0.0.1:5000/a/b", Some("1"))
        );
        assert_eq!(split_name("localhost/x"), ("localhost/x", None));
        assert_eq!(
            split_name("docker.io/library/busybox:latest"),
            ("docker.io/library/busybox", Some("latest"))
        );
    }
}
