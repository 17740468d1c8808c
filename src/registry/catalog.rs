//! What a registry lists: its repositories (`/v2/_catalog`) and a
//! repository's tags (`/v2/<name>/tags/list`), page after page as the
//! `Link` header leads.

use super::client::{repository_scope, ClientOptions, HttpRequest, Method, RegistryClient};
use anyhow::{bail, Context, Result};

/// Stop following `Link` after this many pages: a registry that links to
/// itself forever must not keep us.
const MAX_PAGES: usize = 1000;

/// Every tag of `repository`, in the registry's order.
pub fn list_tags(registry: &str, repository: &str, opts: &ClientOptions) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Page {
        #[serde(default)]
        tags: Option<Vec<String>>,
    }
    let client = RegistryClient::new(registry, opts)?;
    let scope = repository_scope(repository, &["pull"]);
    let mut out = Vec::new();
    for body in pages(
        &client,
        &format!("/v2/{repository}/tags/list"),
        Some(&scope),
    )
    .with_context(|| format!("listing the tags of {registry}/{repository}"))?
    {
        let page: Page = serde_json::from_slice(&body)
            .with_context(|| format!("{registry}/{repository}: malformed tag list"))?;
        out.extend(page.tags.unwrap_or_default());
    }
    Ok(out)
}

/// Every repository the registry lists.
pub fn catalog(registry: &str, opts: &ClientOptions) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Page {
        #[serde(default)]
        repositories: Option<Vec<String>>,
    }
    let client = RegistryClient::new(registry, opts)?;
    let mut out = Vec::new();
    for body in pages(&client, "/v2/_catalog", Some("registry:catalog:*"))
        .with_context(|| format!("listing the repositories of {registry}"))?
    {
        let page: Page = serde_json::from_slice(&body)
            .with_context(|| format!("{registry}: malformed catalog"))?;
        out.extend(page.repositories.unwrap_or_default());
    }
    Ok(out)
}

/// GET `first` and each page its `Link: <...>; rel="next"` names.
fn pages(client: &RegistryClient, first: &str, scope: Option<&str>) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(target) = next.take() {
        if out.len() >= MAX_PAGES {
            bail!("more than {MAX_PAGES} pages");
        }
        let resp = client.request(&HttpRequest::new(Method::Get, &target, scope))?;
        if resp.status().as_u16() != 200 {
            return Err(client.error_from(resp, "name unknown").into());
        }
        next = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        let body = resp
            .into_body()
            .into_with_config()
            .limit(super::client::MAX_MANIFEST_SIZE)
            .read_to_vec()
            .context("reading the listing")?;
        out.push(body);
    }
    Ok(out)
}

/// `</v2/_catalog?last=b&n=2>; rel="next"` -> `/v2/_catalog?last=b&n=2`.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn link_header() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
    }
}

/// One result of a registry's search API (`/v1/search`, Docker Hub's and a
/// few others'): the repository with its description and marks.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct V1Result {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: u64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}

/// Ask the registry's search API for `term`. `None` when it has none (any
/// failure: the caller falls back to the catalog, as podman does).
pub fn v1_search(
    registry: &str,
    term: &str,
    limit: usize,
    opts: &ClientOptions,
) -> Option<Vec<V1Result>> {
    #[derive(serde::Deserialize)]
    struct Page {
        #[serde(default)]
        results: Vec<V1Result>,
    }
    // Docker Hub answers searches at its index host.
    let host = if registry == super::reference::DOCKER_HUB {
        "index.docker.io"
    } else {
        registry
    };
    let client = RegistryClient::new(host, opts).ok()?;
    let target = format!(
        "/v1/search?q={}&n={limit}",
        super::client::query_escape(term)
    );
    let resp = client
        .request(&HttpRequest::new(Method::Get, &target, None))
        .map_err(|e| crate::debug!("{registry}: no search API ({e:#}), reading the catalog"))
        .ok()?;
    if resp.status().as_u16() != 200 {
        return None;
    }
    let body = resp
        .into_body()
        .into_with_config()
        .limit(super::client::MAX_MANIFEST_SIZE)
        .read_to_vec()
        .ok()?;
    serde_json::from_slice::<Page>(&body)
        .ok()
        .map(|p| p.results)
}
