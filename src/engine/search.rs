//! `search` and `pull --all-tags`: what registries list. A registry's
//! search API (`/v1/search`) is asked first; one without it (a plain v2
//! registry) has its `/v2/_catalog` names matched against the term, as
//! podman does: such results carry no description, stars or marks.

use crate::registry::catalog;
use crate::registry::client::ClientOptions;
use crate::registry::reference::{parse_name, ParsedName, DOCKER_HUB};
use crate::registry::shortnames::search_registries;
use anyhow::{bail, Result};

/// podman's default `--limit`.
pub const DEFAULT_LIMIT: usize = 25;

/// `--filter`: podman's search filters.
#[derive(Debug, Default, Clone)]
pub struct SearchFilters {
    pub stars: u64,
    pub is_official: Option<bool>,
    pub is_automated: Option<bool>,
}

impl SearchFilters {
    /// Parse `stars=N`, `is-official=BOOL`, `is-automated=BOOL`.
    pub fn parse(filters: &[String]) -> Result<SearchFilters> {
        let mut out = SearchFilters::default();
        for f in filters {
            let Some((key, value)) = f.split_once('=') else {
                bail!("invalid filter {f:?}: the form is KEY=VALUE");
            };
            let boolean = || -> Result<bool> {
                match value {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => bail!("invalid filter {f:?}: {key} takes true or false"),
                }
            };
            match key {
                "stars" => {
                    out.stars = value.parse().map_err(|_| {
                        anyhow::anyhow!("invalid filter {f:?}: stars takes a number")
                    })?
                }
                "is-official" => out.is_official = Some(boolean()?),
                "is-automated" => out.is_automated = Some(boolean()?),
                _ => bail!("invalid filter type {key:?}: use stars, is-official or is-automated"),
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.stars == 0 && self.is_official.is_none() && self.is_automated.is_none()
    }

    fn keeps(&self, r: &SearchResult) -> bool {
        r.stars >= self.stars
            && self.is_official.is_none_or(|o| o == r.official)
            && self.is_automated.is_none_or(|a| a == r.automated)
    }
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub term: String,
    /// Results per registry.
    pub limit: usize,
    pub list_tags: bool,
    pub filters: SearchFilters,
    pub client: ClientOptions,
}

/// One line of `search`'s output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchResult {
    /// The registry.
    pub index: String,
    pub name: String,
    pub description: String,
    pub stars: u64,
    pub official: bool,
    pub automated: bool,
    /// Only with `--list-tags`.
    pub tag: String,
}

/// Search each registry the term names (or the unqualified-search ones).
/// A registry that fails is warned about, unless every one failed.
pub fn search(req: &SearchRequest) -> Result<Vec<SearchResult>> {
    if req.list_tags {
        if !req.filters.is_empty() {
            bail!("filters are not applicable to list tags result");
        }
        return list_tags(req);
    }
    let (registries, term) = match split_registry(&req.term) {
        Some((registry, term)) => (vec![registry.to_string()], term.to_string()),
        None => (search_registries()?, req.term.clone()),
    };
    if registries.is_empty() {
        bail!("no registries to search: set unqualified-search-registries in registries.conf or name one in the term");
    }
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for registry in &registries {
        let found = match search_api(registry, &term, req) {
            Some(found) => Ok(found),
            None => catalog_matches(registry, &term, req),
        };
        match found {
            Ok(found) => results.extend(found),
            Err(e) => errors.push(format!("{registry}: {e:#}")),
        }
    }
    if !errors.is_empty() && errors.len() == registries.len() {
        bail!("couldn't search registry {}", errors.join("; "));
    }
    for e in errors {
        crate::warn!("couldn't search registry {e}");
    }
    Ok(results)
}

/// Results of the registry's search API, when it has one (never asked for
/// an empty term, as podman).
fn search_api(registry: &str, term: &str, req: &SearchRequest) -> Option<Vec<SearchResult>> {
    if term.is_empty() {
        return None;
    }
    let found = catalog::v1_search(registry, term, req.limit, &req.client)?;
    Some(
        found
            .into_iter()
            .map(|r| SearchResult {
                index: registry.to_string(),
                name: if registry == DOCKER_HUB && !r.name.contains('/') {
                    format!("{registry}/library/{}", r.name)
                } else {
                    format!("{registry}/{}", r.name)
                },
                description: r.description,
                stars: r.star_count,
                official: r.is_official,
                automated: r.is_automated,
                tag: String::new(),
            })
            .filter(|r| req.filters.keeps(r))
            .take(req.limit)
            .collect(),
    )
}

/// The catalog's repositories whose names contain `term` (an exact match
/// first), up to the limit, filtered.
fn catalog_matches(registry: &str, term: &str, req: &SearchRequest) -> Result<Vec<SearchResult>> {
    let mut names: Vec<String> = catalog::catalog(registry, &req.client)?
        .into_iter()
        .filter(|repo| repo.contains(term))
        .collect();
    if let Some(i) = names.iter().position(|n| n == term) {
        let exact = names.remove(i);
        names.insert(0, exact);
    }
    Ok(names
        .into_iter()
        .map(|repo| SearchResult {
            index: registry.to_string(),
            name: format!("{registry}/{repo}"),
            ..SearchResult::default()
        })
        .filter(|r| req.filters.keeps(r))
        .take(req.limit)
        .collect())
}

/// `--list-tags`: the tags of the one repository the term names.
fn list_tags(req: &SearchRequest) -> Result<Vec<SearchResult>> {
    let (registry, repository) = repository_of(&req.term)?;
    let tags = catalog::list_tags(&registry, &repository, &req.client)?;
    Ok(tags
        .into_iter()
        .take(req.limit)
        .map(|tag| SearchResult {
            index: registry.clone(),
            name: format!("{registry}/{repository}"),
            tag,
            ..SearchResult::default()
        })
        .collect())
}

/// `host[:port]/rest` -> (host, rest) when the first component is a
/// registry (has a dot or a port, or is localhost), as podman reads a term.
fn split_registry(term: &str) -> Option<(&str, &str)> {
    let (first, rest) = term.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some((first, rest))
}

/// The registry and repository a name means (a short name is Docker Hub's,
/// as podman normalizes it); a tag or digest in it is ignored.
fn repository_of(name: &str) -> Result<(String, String)> {
    Ok(match parse_name(name)? {
        ParsedName::Qualified(r) => (r.registry, r.repository),
        ParsedName::Short { repository, .. } => {
            let repository = if repository.contains('/') {
                repository
            } else {
                format!("library/{repository}")
            };
            (DOCKER_HUB.to_string(), repository)
        }
    })
}

/// `pull --all-tags`: every `registry/repository:tag` of the repository
/// `name` means. A name with a tag or digest is refused, as podman does.
pub fn all_tags(name: &str, client: &ClientOptions) -> Result<Vec<String>> {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || name.contains('@') {
        bail!("tag can't be used with --all-tags/-a");
    }
    let candidates: Vec<(String, String)> = match parse_name(name)? {
        ParsedName::Qualified(r) => vec![(r.registry, r.repository)],
        ParsedName::Short { repository, .. } => search_registries()?
            .into_iter()
            .map(|registry| {
                let repository = if registry == DOCKER_HUB && !repository.contains('/') {
                    format!("library/{repository}")
                } else {
                    repository.clone()
                };
                (registry, repository)
            })
            .collect(),
    };
    let mut last_error = None;
    for (registry, repository) in candidates {
        match catalog::list_tags(&registry, &repository, client) {
            Ok(tags) => {
                return Ok(tags
                    .into_iter()
                    .map(|t| format!("{registry}/{repository}:{t}"))
                    .collect())
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| anyhow::anyhow!("{name}: no registries to search for short names")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_and_filters() {
        assert_eq!(
            split_registry("127.0.0.1:5000/app"),
            Some(("127.0.0.1:5000", "app"))
        );
        assert_eq!(split_registry("quay.io/"), Some(("quay.io", "")));
        assert_eq!(split_registry("library/alpine"), None);
        assert_eq!(split_registry("alpine"), None);
        let f = SearchFilters::parse(&["stars=3".into(), "is-official=true".into()]).unwrap();
        assert_eq!(f.stars, 3);
        assert!(!f.keeps(&SearchResult::default()));
        assert!(SearchFilters::parse(&["color=red".into()]).is_err());
        assert!(SearchFilters::parse(&["stars=x".into()]).is_err());
    }
}
