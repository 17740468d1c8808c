//! containers-registries.d(5): where simple signatures of each registry
//! are read from (`lookaside`, old name `sigstore`) and written to
//! (`lookaside-staging`, `sigstore-staging`, else the same). YAML files in
//! the user's `registries.d` when it exists, else the system's, merged;
//! a scope named twice is an error, as in containers/image.
//! `use-sigstore-attachments` says whether sigstore signatures are read
//! from and written to the registry itself (off unless configured).

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(rename = "default-docker")]
    default_docker: Option<Namespace>,
    #[serde(default)]
    docker: BTreeMap<String, Namespace>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct Namespace {
    lookaside: Option<String>,
    #[serde(rename = "lookaside-staging")]
    lookaside_staging: Option<String>,
    sigstore: Option<String>,
    #[serde(rename = "sigstore-staging")]
    sigstore_staging: Option<String>,
    #[serde(rename = "use-sigstore-attachments")]
    use_sigstore_attachments: Option<bool>,
}

impl Namespace {
    fn top_level(&self, write: bool) -> Option<String> {
        let staged = [&self.lookaside_staging, &self.sigstore_staging];
        let read = [&self.lookaside, &self.sigstore];
        let order: Vec<&Option<String>> = if write {
            staged.into_iter().chain(read).collect()
        } else {
            read.to_vec()
        };
        order.into_iter().flatten().find(|s| !s.is_empty()).cloned()
    }
}

/// The merged configuration.
#[derive(Debug, Default)]
pub struct Registries {
    default_docker: Option<Namespace>,
    docker: BTreeMap<String, Namespace>,
}

/// `~/.config/containers/registries.d` when it exists, else
/// `/etc/containers/registries.d`.
pub fn dir() -> PathBuf {
    super::files::user_dir()
        .map(|d| d.join("registries.d"))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("/etc/containers/registries.d"))
}

/// Read every `*.yaml` of [`dir`]; none is an empty configuration.
pub fn load() -> Result<Registries> {
    let mut out = Registries::default();
    let Ok(rd) = std::fs::read_dir(dir()) else {
        return Ok(out);
    };
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow!("reading {}: {e}", path.display()))?;
        let f: File = serde_yaml_ng::from_str(&text)
            .map_err(|e| anyhow!("parsing {}: {e}", path.display()))?;
        if let Some(d) = f.default_docker {
            if out.default_docker.is_some() {
                bail!("signature storage configuration: \"default-docker\" defined twice (again in {})", path.display());
            }
            out.default_docker = Some(d);
        }
        for (scope, ns) in f.docker {
            if out.docker.insert(scope.clone(), ns).is_some() {
                bail!("signature storage configuration: \"docker\" namespace {scope:?} defined twice (again in {})", path.display());
            }
        }
    }
    Ok(out)
}

impl Registries {
    /// The configured top-level URL for `reference` (`host/repo:tag`),
    /// most specific scope first, then `default-docker`.
    pub fn top_level(&self, reference: &str, write: bool) -> Option<String> {
        super::policy::scopes_of(reference)
            .filter_map(|s| self.docker.get(&s))
            .chain(self.default_docker.as_ref())
            .find_map(|ns| ns.top_level(write))
    }

    /// Whether sigstore attachments of `reference` are read and written:
    /// the most specific scope that says, then `default-docker`, else no.
    pub fn use_sigstore_attachments(&self, reference: &str) -> bool {
        super::policy::scopes_of(reference)
            .filter_map(|s| self.docker.get(&s))
            .chain(self.default_docker.as_ref())
            .find_map(|ns| ns.use_sigstore_attachments)
            .unwrap_or(false)
    }

    /// As podman's `image trust show` prints it: `lookaside`, else
    /// `sigstore`, of the scope named exactly (or `default-docker` for "").
    pub fn shown_for_scope(&self, scope: &str) -> Option<String> {
        let ns = if scope.is_empty() {
            self.default_docker.as_ref()
        } else {
            super::policy::scopes_of(scope)
                .find_map(|s| self.docker.get(&s))
                .or(self.default_docker.as_ref())
        }?;
        ns.top_level(false)
    }
}

/// The built-in place when nothing is configured: a `file://` URL.
pub fn builtin_default(rootless: bool) -> String {
    if rootless {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("file://{home}/.local/share/containers/sigstore")
    } else {
        "file:///var/lib/containers/sigstore".to_string()
    }
}
