//! Registry credentials from containers-auth.json(5) and docker's config.json.
//!
//! `AuthFile` keeps unknown fields so `login` (registry::login) can rewrite
//! a file without losing what other tools put there.

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The `auth` field's form: base64("user:pass").
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }

    pub fn decode(auth: &str) -> Result<Credentials> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .context("invalid base64 in \"auth\"")?;
        let text = String::from_utf8(raw).context("\"auth\" is not UTF-8")?;
        let Some((user, pass)) = text.split_once(':') else {
            bail!("\"auth\" does not hold user:password");
        };
        Ok(Credentials {
            username: user.to_string(),
            password: pass.to_string(),
        })
    }
}

/// One `auths` entry. Other fields (`identitytoken`, ...) are kept verbatim.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuthEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// An auth.json / config.json document.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuthFile {
    #[serde(default)]
    pub auths: BTreeMap<String, AuthEntry>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl AuthFile {
    pub fn parse(bytes: &[u8]) -> Result<AuthFile> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// `~/.dockercfg`: the `auths` map is the whole document.
    pub fn parse_legacy(bytes: &[u8]) -> Result<AuthFile> {
        Ok(AuthFile {
            auths: serde_json::from_slice(bytes)?,
            other: Default::default(),
        })
    }

    /// Credentials for `registry` (`host[:port]`) and optionally a repository
    /// in it: the most specific `host/namespace` key wins, then `host`, then
    /// docker's legacy URL keys (`https://host/v1/`).
    pub fn find(&self, registry: &str, repository: Option<&str>) -> Result<Option<Credentials>> {
        let mut wanted: Vec<String> = Vec::new();
        if let Some(repo) = repository {
            let parts: Vec<&str> = repo.split('/').collect();
            for n in (1..=parts.len()).rev() {
                wanted.push(format!("{registry}/{}", parts[..n].join("/")));
            }
        }
        wanted.push(registry.to_string());
        for key in &wanted {
            if let Some(entry) = self.auths.get(key) {
                return entry_credentials(key, entry);
            }
        }
        // Legacy keys are URLs; only their host counts.
        for (key, entry) in &self.auths {
            if key.contains("://") && normalize_key(key) == registry {
                return entry_credentials(key, entry);
            }
        }
        Ok(None)
    }
}

fn entry_credentials(key: &str, entry: &AuthEntry) -> Result<Option<Credentials>> {
    match entry.auth.as_deref() {
        Some(a) if !a.is_empty() => Credentials::decode(a)
            .map(Some)
            .with_context(|| format!("entry {key:?}")),
        _ => Ok(None),
    }
}

/// `https://index.docker.io/v1/` -> `docker.io`; `http://host:5000/x` -> `host:5000`.
fn normalize_key(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// podman's per-user default: `$XDG_RUNTIME_DIR/containers/auth.json`,
/// else `/run/containers/<uid>/auth.json` (`/run/containers/0/...` for root).
fn runtime_auth_file() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(run) => PathBuf::from(run).join("containers/auth.json"),
        None => PathBuf::from(format!(
            "/run/containers/{}/auth.json",
            nix::unistd::geteuid().as_raw()
        )),
    }
}

/// The file `login` writes and `logout` edits: `REGISTRY_AUTH_FILE`, else
/// podman's per-user default (the first file credentials are looked up in).
pub fn default_auth_file() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    Ok(runtime_auth_file())
}

/// Where credentials are looked for, in order (podman's list).
pub fn auth_file_candidates() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut out = vec![runtime_auth_file()];
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")));
    if let Some(c) = config_home {
        out.push(c.join("containers/auth.json"));
    }
    // docker's own file: in DOCKER_CONFIG (which --config sets), else ~/.docker.
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(dir) => out.push(PathBuf::from(dir).join("config.json")),
        None => {
            if let Some(h) = home() {
                out.push(h.join(".docker/config.json"));
            }
        }
    }
    if let Some(h) = home() {
        out.push(h.join(".dockercfg"));
    }
    out
}

/// Read one auth file; `None` when it does not exist.
pub fn read_auth_file(path: &Path) -> Result<Option<AuthFile>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Some(AuthFile::default()));
    }
    let legacy = path.file_name().is_some_and(|n| n == ".dockercfg");
    let parsed = if legacy {
        AuthFile::parse_legacy(&bytes)
    } else {
        AuthFile::parse(&bytes)
    };
    parsed
        .map(Some)
        .with_context(|| format!("malformed auth file {}", path.display()))
}

/// Credentials for `registry`, from `authfile` when given (it must exist),
/// else from the first candidate file holding an entry.
pub fn lookup_credentials(registry: &str, authfile: Option<&Path>) -> Result<Option<Credentials>> {
    lookup_credentials_for(registry, None, authfile)
}

/// As [`lookup_credentials`], also matching `host/namespace` keys for `repository`.
pub fn lookup_credentials_for(
    registry: &str,
    repository: Option<&str>,
    authfile: Option<&Path>,
) -> Result<Option<Credentials>> {
    let files = match authfile {
        Some(p) => {
            if !p.exists() {
                bail!(
                    "credential file is not accessible: {}: no such file",
                    p.display()
                );
            }
            vec![p.to_path_buf()]
        }
        None => auth_file_candidates(),
    };
    for path in files {
        let Some(file) = read_auth_file(&path)? else {
            continue;
        };
        let found = file
            .find(registry, repository)
            .with_context(|| format!("malformed auth file {}", path.display()))?;
        if found.is_some() {
            crate::debug!("credentials for {registry} from {}", path.display());
            return Ok(found);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn debug_hides_password() {
        let s = format!("{:?}", creds("bob", "hunter2"));
        assert!(s.contains("bob") && !s.contains("hunter2"), "{s}");
    }

    #[test]
    fn encode_decode() {
        let c = creds("user", "pa:ss");
        assert_eq!(c.encode(), "dXNlcjpwYTpzcw==");
        assert_eq!(Credentials::decode(&c.encode()).unwrap(), c);
        assert!(Credentials::decode("!!!").is_err());
        assert!(Credentials::decode("bm9jb2xvbg==").is_err()); // "nocolon"
    }

    #[test]
    fn find_by_host_repo_and_legacy_keys() {
        let a = |u: &str| creds(u, "p").encode();
        let file = AuthFile::parse(
            serde_json::json!({
                "auths": {
                    "127.0.0.1:5000": {"auth": a("host")},
                    "127.0.0.1:5000/team": {"auth": a("team")},
                    "https://index.docker.io/v1/": {"auth": a("hub")},
                    "http://legacy.io:8080/v1/": {"auth": a("legacy")},
                    "empty.io": {}
                },
                "credHelpers": {"x": "y"}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let user =
            |reg: &str, repo: Option<&str>| file.find(reg, repo).unwrap().map(|c| c.username);
        assert_eq!(user("127.0.0.1:5000", None).as_deref(), Some("host"));
        assert_eq!(
            user("127.0.0.1:5000", Some("team/app")).as_deref(),
            Some("team")
        );
        assert_eq!(
            user("127.0.0.1:5000", Some("other/app")).as_deref(),
            Some("host")
        );
        assert_eq!(user("docker.io", None).as_deref(), Some("hub"));
        assert_eq!(user("legacy.io:8080", None).as_deref(), Some("legacy"));
        assert_eq!(user("empty.io", None), None);
        assert_eq!(user("nowhere.io", None), None);
        // Unknown fields survive a round trip (for a later `login`).
        let back = serde_json::to_value(&file).unwrap();
        assert_eq!(back["credHelpers"]["x"], "y");
    }

    #[test]
    fn lookup_in_files() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("auth.json");
        std::fs::write(
            &good,
            format!(
                r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#,
                creds("u", "p").encode()
            ),
        )
        .unwrap();
        assert_eq!(
            lookup_credentials("r.io", Some(&good)).unwrap(),
            Some(creds("u", "p"))
        );
        assert_eq!(lookup_credentials("x.io", Some(&good)).unwrap(), None);

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();
        let err = format!("{:#}", lookup_credentials("r.io", Some(&bad)).unwrap_err());
        assert!(err.contains("bad.json"), "{err}");

        let bad_auth = dir.path().join("badauth.json");
        std::fs::write(&bad_auth, r#"{"auths":{"r.io":{"auth":"%%%"}}}"#).unwrap();
        let err = format!(
            "{:#}",
            lookup_credentials("r.io", Some(&bad_auth)).unwrap_err()
        );
        assert!(err.contains("badauth.json"), "{err}");

        let missing = dir.path().join("missing.json");
        assert!(lookup_credentials("r.io", Some(&missing)).is_err());
        assert!(read_auth_file(&missing).unwrap().is_none());

        let legacy = dir.path().join(".dockercfg");
        std::fs::write(
            &legacy,
            format!(
                r#"{{"https://l.io":{{"auth":"{}"}}}}"#,
                creds("l", "p").encode()
            ),
        )
        .unwrap();
        let f = read_auth_file(&legacy).unwrap().unwrap();
        assert_eq!(f.find("l.io", None).unwrap(), Some(creds("l", "p")));
    }
}
