//! login/logout: check credentials against the registry, then keep them in
//! a containers-auth.json(5) file (mode 0600, replaced atomically, other
//! entries and unknown fields kept). The password is never printed or logged.

use super::auth::{default_auth_file, read_auth_file, AuthEntry, AuthFile, Credentials};
use super::client::{ClientOptions, HttpRequest, Method, RegistryClient, RegistryError};
use crate::error::CodedError;
use crate::storage::atomic::temp_sibling;
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The auth file to change: `--authfile`, else `REGISTRY_AUTH_FILE`, else
/// podman's default for this user.
pub fn auth_file_path(authfile: Option<&Path>) -> Result<PathBuf> {
    match authfile {
        Some(p) => Ok(p.to_path_buf()),
        None => default_auth_file(),
    }
}

/// `https://reg.io/v2/` -> `reg.io`; `index.docker.io` -> `docker.io`. A
/// `host/namespace` key is kept (auth.json allows per-repository entries).
pub fn normalize_key(input: &str) -> Result<String> {
    let s = input.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let s = s.strip_prefix("docker://").unwrap_or(s);
    let s = s.trim_end_matches('/');
    let s = s.strip_suffix("/v2").or(s.strip_suffix("/v1")).unwrap_or(s);
    if s.is_empty() {
        bail!("no registry given");
    }
    if s.contains('@')
        || s.rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':') && s.contains('/'))
    {
        bail!("{input}: a registry (and optional namespace) is expected, not an image reference");
    }
    let (host, rest) = match s.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (s, None),
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    };
    Ok(match rest {
        Some(r) => format!("{host}/{r}"),
        None => host.to_string(),
    })
}

fn registry_of(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}

/// Ask the registry whether `creds` are good: GET /v2/ through the
/// client's Basic or token flow.
pub fn verify_credentials(key: &str, creds: &Credentials, client: &ClientOptions) -> Result<()> {
    let registry = registry_of(key);
    let opts = ClientOptions {
        credentials: Some(creds.clone()),
        ..client.clone()
    };
    let c = RegistryClient::new(registry, &opts)?;
    let result = c
        .request(&HttpRequest::new(Method::Get, "/v2/", None))
        .and_then(|resp| match resp.status().as_u16() {
            200..=299 => Ok(()),
            _ => Err(c.error_from(resp, "not found").into()),
        });
    match result {
        Ok(()) => Ok(()),
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<RegistryError>()
                    .is_some_and(|r| r.is_unauthorized())
            }) =>
        {
            Err(CodedError {
                code: 125,
                message: format!("logging into {registry:?}: invalid username/password"),
            }
            .into())
        }
        Err(e) => Err(e.context(format!(
            "authenticating creds for {registry:?}: pinging container registry {registry}"
        ))),
    }
}

/// Store `creds` under `key` in `path`.
pub fn store_credentials(path: &Path, key: &str, creds: &Credentials) -> Result<()> {
    let mut file = read_auth_file(path)?.unwrap_or_default();
    let entry = file
        .auths
        .entry(key.to_string())
        .or_insert_with(AuthEntry::default);
    entry.auth = Some(creds.encode());
    write_auth_file(path, &file)
}

/// The stored username for `key`, when there is one.
pub fn stored_username(path: &Path, key: &str) -> Result<Option<String>> {
    let Some(file) = read_auth_file(path)? else {
        return Ok(None);
    };
    Ok(stored_credentials(&file, key)?.map(|c| c.username))
}

pub fn stored_credentials(file: &AuthFile, key: &str) -> Result<Option<Credentials>> {
    match file.auths.get(key).and_then(|e| e.auth.as_deref()) {
        Some(a) if !a.is_empty() => Credentials::decode(a)
            .map(Some)
            .with_context(|| format!("entry {key:?}")),
        _ => Ok(None),
    }
}

/// Remove `key`; false when it was not there.
pub fn remove_credentials(path: &Path, key: &str) -> Result<bool> {
    let Some(mut file) = read_auth_file(path)? else {
        return Ok(false);
    };
    if file.auths.remove(key).is_none() {
        return Ok(false);
    }
    write_auth_file(path, &file)?;
    Ok(true)
}

/// Remove every entry; other top-level fields stay.
pub fn remove_all_credentials(path: &Path) -> Result<()> {
    let Some(mut file) = read_auth_file(path)? else {
        return Ok(());
    };
    file.auths.clear();
    write_auth_file(path, &file)
}

/// Replace the auth file atomically, mode 0600, its directory created 0700.
pub fn write_auth_file(path: &Path, file: &AuthFile) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let mut data = serde_json::to_vec_pretty(file)?;
    data.push(b'\n');
    let tmp = temp_sibling(path);
    let result = (|| -> Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        // The umask cannot widen 0600, but an inherited ACL default might.
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(&data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
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
    fn keys() {
        assert_eq!(normalize_key("127.0.0.1:5000").unwrap(), "127.0.0.1:5000");
        assert_eq!(normalize_key("https://reg.io/").unwrap(), "reg.io");
        assert_eq!(normalize_key("http://reg.io:80/v2/").unwrap(), "reg.io:80");
        assert_eq!(normalize_key("index.docker.io").unwrap(), "docker.io");
        assert_eq!(normalize_key("quay.io/team").unwrap(), "quay.io/team");
        assert!(normalize_key("quay.io/team/app:1").is_err());
        assert!(normalize_key("").is_err());
    }

    #[test]
    fn store_keeps_other_entries_and_fields_and_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/auth.json");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            &path,
            r#"{"auths":{"other.io":{"auth":"b3RoZXI6cA==","identitytoken":"t"}},"credHelpers":{"x":"y"}}"#,
        )
        .unwrap();
        store_credentials(&path, "reg.io", &creds("me", "pw")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["credHelpers"]["x"], "y");
        assert_eq!(v["auths"]["other.io"]["identitytoken"], "t");
        assert_eq!(v["auths"]["reg.io"]["auth"], creds("me", "pw").encode());
        assert_eq!(
            stored_username(&path, "reg.io").unwrap().as_deref(),
            Some("me")
        );

        assert!(remove_credentials(&path, "reg.io").unwrap());
        assert!(!remove_credentials(&path, "reg.io").unwrap());
        assert_eq!(stored_username(&path, "reg.io").unwrap(), None);
        remove_all_credentials(&path).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["auths"], serde_json::json!({}));
        assert_eq!(v["credHelpers"]["x"], "y");
    }

    #[test]
    fn missing_parent_is_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("containers/auth.json");
        store_credentials(&path, "reg.io", &creds("me", "pw")).unwrap();
        let mode = std::fs::metadata(dir.path().join("containers"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
        // No temporary files are left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("containers"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["auth.json"]);
    }
}
