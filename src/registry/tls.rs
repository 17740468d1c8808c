//! A registry's certificates, as containers-certs.d(5) lays them out: in a
//! directory (`--cert-dir`, else `certs.d/HOST:PORT` under the user's
//! `~/.config/containers`, `/etc/containers` or `/etc/docker`, the first
//! that exists), `*.crt` are extra certificate authorities and a `*.cert`
//! with the `*.key` of the same name is the client certificate.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

/// The system's trusted authorities, where extra ones are added to them.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const SYSTEM_CERT_DIRS: [&str; 2] = ["/etc/containers/certs.d", "/etc/docker/certs.d"];

/// What a registry's certificate directory holds.
#[derive(Debug, Default)]
pub struct TlsOptions {
    /// Authorities trusted besides the system's (`*.crt`).
    pub extra_roots: Vec<Certificate<'static>>,
    /// The certificate to show the registry (`*.cert` + `*.key`).
    pub client_cert: Option<ClientCert>,
}

impl TlsOptions {
    /// Read a certificate directory. One that does not exist holds nothing,
    /// as in podman.
    pub fn from_cert_dir(dir: &Path) -> Result<TlsOptions> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TlsOptions::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        let mut out = TlsOptions::default();
        for path in &names {
            match path.extension().and_then(|e| e.to_str()) {
                Some("crt") => out.extra_roots.extend(read_certs(path)?),
                Some("cert") => {
                    let key = path.with_extension("key");
                    if !key.exists() {
                        bail!(
                            "missing key {} for client certificate {}. Note that CA certificates should use the extension .crt",
                            key.display(),
                            path.display()
                        );
                    }
                    let chain = read_certs(path)?;
                    let pem = std::fs::read(&key)
                        .with_context(|| format!("reading {}", key.display()))?;
                    let key = PrivateKey::from_pem(&pem)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
                    check_client_cert(&chain, &key)
                        .with_context(|| format!("client certificate {}", path.display()))?;
                    out.client_cert = Some(ClientCert::new_with_certs(&chain, key));
                }
                Some("key") => {
                    let cert = path.with_extension("cert");
                    if !cert.exists() {
                        bail!(
                            "missing client certificate {} for key {}",
                            cert.display(),
                            path.display()
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The certificates for `endpoint` (`host:port`): `cert_dir` when given,
    /// else the first per-host directory that exists.
    pub fn for_registry(endpoint: &str, cert_dir: Option<&Path>) -> Result<TlsOptions> {
        match cert_dir {
            Some(d) => TlsOptions::from_cert_dir(d),
            None => match default_cert_dir(endpoint) {
                Some(d) => TlsOptions::from_cert_dir(&d),
                None => Ok(TlsOptions::default()),
            },
        }
    }

    /// The client's TLS settings: the system's authorities (plus the extra
    /// ones), the client certificate, verification off when `insecure`.
    pub fn config(&self, insecure: bool) -> Result<TlsConfig> {
        let roots = if self.extra_roots.is_empty() {
            RootCerts::PlatformVerifier
        } else {
            let mut all = match std::fs::read(SYSTEM_BUNDLE) {
                Ok(pem) => certs_from_pem(&pem, Path::new(SYSTEM_BUNDLE))?,
                Err(_) => Vec::new(),
            };
            all.extend(self.extra_roots.iter().cloned());
            RootCerts::Specific(Arc::new(all))
        };
        Ok(TlsConfig::builder()
            .root_certs(roots)
            .client_cert(self.client_cert.clone())
            .disable_verification(insecure)
            .build())
    }
}

/// `certs.d/<endpoint>` in the user's config, then the system's: the first
/// that exists.
fn default_cert_dir(endpoint: &str) -> Option<PathBuf> {
    let user = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".config/containers/certs.d"));
    user.into_iter()
        .chain(SYSTEM_CERT_DIRS.iter().map(PathBuf::from))
        .map(|base| base.join(endpoint))
        .find(|d| d.is_dir())
}

/// What rustls checks of a client certificate and its key (an X.509 v3
/// certificate, a key it supports, the two matching), asked here so that
/// a bad one is an error rather than ureq's panic when it connects.
fn check_client_cert(chain: &[Certificate<'static>], key: &PrivateKey<'static>) -> Result<()> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let der = PrivateKeyDer::try_from(key.der())
        .map_err(|e| anyhow::anyhow!("its key: {e}"))?
        .clone_key();
    let certs = chain
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(certs, der)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

fn read_certs(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs = certs_from_pem(&pem, path)?;
    if certs.is_empty() {
        bail!("{}: no PEM certificate in it", path.display());
    }
    Ok(certs)
}

fn certs_from_pem(pem: &[u8], path: &Path) -> Result<Vec<Certificate<'static>>> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))? {
            ureq::tls::PemItem::Certificate(c) => out.push(c),
            _ => continue,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_dir_holds_nothing_and_lone_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let none = TlsOptions::from_cert_dir(&dir.path().join("absent")).unwrap();
        assert!(none.extra_roots.is_empty() && none.client_cert.is_none());
        std::fs::write(dir.path().join("client.key"), "x").unwrap();
        let err = TlsOptions::from_cert_dir(dir.path()).unwrap_err();
        assert!(
            format!("{err}").contains("missing client certificate"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("client.key")).unwrap();
        std::fs::write(dir.path().join("client.cert"), "x").unwrap();
        let err = TlsOptions::from_cert_dir(dir.path()).unwrap_err();
        assert!(format!("{err}").contains("missing key"), "{err}");
    }
}
