//! `--cert-dir` (containers-certs.d(5)): a directory of CA certificates
//! (`*.crt`), trusted besides the system's, and a client certificate
//! (`NAME.cert` with its key `NAME.key`) presented to the registry.

use anyhow::{bail, Context, Result};
use std::path::Path;
use ureq::tls::{parse_pem, Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

/// The system's CA bundle (Debian's, which update-ca-certificates writes).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn pem_items(path: &Path) -> Result<Vec<PemItem<'static>>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_pem(&data)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not PEM", path.display()))
}

fn certificates(path: &Path) -> Result<Vec<Certificate<'static>>> {
    Ok(pem_items(path)?
        .into_iter()
        .filter_map(|i| match i {
            PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect())
}

fn private_key(path: &Path) -> Result<PrivateKey<'static>> {
    pem_items(path)?
        .into_iter()
        .find_map(|i| match i {
            PemItem::PrivateKey(k) => Some(k),
            _ => None,
        })
        .with_context(|| format!("{}: no private key in it", path.display()))
}

/// What rustls checks of a client certificate and its key (an X.509 v3
/// certificate, a key it supports, the two matching), asked here so that
/// a bad one is an error rather than ureq's panic when it connects.
fn check_client_cert(chain: &[Certificate<'static>], key: &PrivateKey<'static>) -> Result<()> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    if chain.is_empty() {
        bail!("no certificate in it");
    }
    let der = PrivateKeyDer::try_from(key.der())
        .map_err(|e| anyhow::anyhow!("its key: {e}"))?
        .clone_key();
    let certs = chain
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(certs, der)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// The TLS settings for a registry: certificate checks off when
/// `insecure`; with `cert_dir`, its CAs and client certificate.
pub fn tls_config(insecure: bool, cert_dir: Option<&Path>) -> Result<TlsConfig> {
    let mut tls = TlsConfig::builder()
        .root_certs(RootCerts::PlatformVerifier)
        .disable_verification(insecure);
    let Some(dir) = cert_dir else {
        return Ok(tls.build());
    };
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("--cert-dir {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let ext = |p: &Path, e: &str| p.extension().is_some_and(|x| x == e);
    let mut roots = Vec::new();
    for p in names.iter().filter(|p| ext(p, "crt")) {
        roots.extend(certificates(p)?);
    }
    if !roots.is_empty() {
        // Besides the system's CAs, not instead of them.
        if let Ok(system) = certificates(Path::new(SYSTEM_BUNDLE)) {
            roots.extend(system);
        }
        tls = tls.root_certs(RootCerts::new_with_certs(&roots));
    }
    if let Some(cert) = names.iter().find(|p| ext(p, "cert")) {
        let key = cert.with_extension("key");
        if !key.exists() {
            bail!(
                "missing key {} for client certificate {}: a .cert file needs its .key",
                key.display(),
                cert.display()
            );
        }
        let chain = certificates(cert)?;
        let private = private_key(&key)?;
        check_client_cert(&chain, &private)
            .with_context(|| format!("client certificate {}", cert.display()))?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, private)));
    } else if let Some(key) = names.iter().find(|p| ext(p, "key")) {
        bail!(
            "missing client certificate {} for key {}",
            key.with_extension("cert").display(),
            key.display()
        );
    }
    Ok(tls.build())
}
