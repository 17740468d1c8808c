//! Flags shared by the verbs that talk to a registry (pull, run, build,
//! push, login): TLS, the auth file, credentials, the platform.

use crate::engine::types::{parse_platform, ClientOptions, Platform};
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Flags every verb that talks to a registry shares.
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryFlags {
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Path of the authentication file
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Credentials (USERNAME:PASSWORD) to use for authenticating to a registry
    #[arg(long, value_name = "USER:PASS")]
    pub creds: Option<String>,
    /// Use certificates at PATH (*.crt, *.cert, *.key) to connect to the registry (default: /etc/containers/certs.d/HOST:PORT)
    #[arg(long, value_name = "PATH")]
    pub cert_dir: Option<PathBuf>,
    /// Set from `RetryFlags` by the verbs that take them.
    #[arg(skip)]
    pub retry: Option<u32>,
    #[arg(skip)]
    pub retry_delay: Option<Duration>,
}

/// `--retry`/`--retry-delay` (pull, push, build) and podman's documented
/// no-op `--disable-content-trust`.
#[derive(Args, Debug, Clone, Default)]
pub struct RetryFlags {
    /// Number of times to retry a registry request that failed in a way retrying can fix (default 3)
    #[arg(long, value_name = "N")]
    pub retry: Option<u32>,
    /// Delay between retries (e.g. 500ms, 2s; default: from 200ms, doubling)
    #[arg(long, value_name = "DURATION")]
    pub retry_delay: Option<String>,
    /// Docker's option to skip image verification: a no-op, as in podman (scripts pass it)
    #[arg(long)]
    pub disable_content_trust: bool,
}

impl RetryFlags {
    /// Put the retry settings into `r` (checked).
    pub fn apply(&self, r: &mut RegistryFlags) -> Result<()> {
        r.retry = self.retry;
        if let Some(d) = &self.retry_delay {
            let (negative, delay) = crate::format::human::parse_go_duration(d)
                .map_err(|e| anyhow::anyhow!("invalid --retry-delay {d:?}: {e}"))?;
            if negative {
                bail!("invalid --retry-delay {d:?}: must not be negative");
            }
            r.retry_delay = Some(delay);
        }
        Ok(())
    }
}

impl RegistryFlags {
    pub fn client_options(&self) -> Result<ClientOptions> {
        let credentials = match &self.creds {
            None => None,
            Some(c) => {
                let (u, p) = c.split_once(':').unwrap_or((c.as_str(), ""));
                if u.is_empty() {
                    bail!("invalid --creds: username must not be empty");
                }
                Some(crate::engine::types::Credentials {
                    username: u.to_string(),
                    password: p.to_string(),
                })
            }
        };
        Ok(ClientOptions {
            tls_verify: self.tls_verify,
            authfile: self.authfile.clone(),
            credentials,
            retries: self.retry,
            retry_delay: self.retry_delay,
            cert_dir: self.cert_dir.clone(),
            ..ClientOptions::default()
        })
    }
}

pub fn platform_from_flags(
    platform: Option<&str>,
    os: Option<&str>,
    arch: Option<&str>,
    variant: Option<&str>,
) -> Result<Option<Platform>> {
    if platform.is_some() && (os.is_some() || arch.is_some()) {
        bail!("--platform option can not be specified with --arch or --os");
    }
    if let Some(p) = platform {
        return parse_platform(p).map(Some);
    }
    if os.is_none() && arch.is_none() && variant.is_none() {
        return Ok(None);
    }
    let host = crate::engine::types::host_platform();
    Ok(Some(Platform {
        os: os.map(str::to_string).unwrap_or(host.os),
        architecture: arch
            .map(str::to_string)
            .unwrap_or(host.architecture.clone()),
        variant: match (variant, arch) {
            (Some(v), _) => Some(v.to_string()),
            (None, Some(_)) => None,
            (None, None) => host.variant,
        },
        os_version: None,
        os_features: None,
        features: None,
    }))
}

/// Flags of podman's for features coracle does not have (image encryption,
/// signing, confidential workloads, SBOM scanners): accepted so the error
/// names the missing feature instead of the flag being unknown.
#[derive(Args, Debug, Clone, Default)]
pub struct UnsupportedFlags {
    /// Key to decrypt encrypted images with (not supported: image encryption is not implemented)
    #[arg(long, value_name = "KEY")]
    pub decryption_key: Vec<String>,
}

impl UnsupportedFlags {
    pub fn check(&self) -> Result<()> {
        if !self.decryption_key.is_empty() {
            bail!("--decryption-key: encrypted images are not supported by coracle");
        }
        Ok(())
    }
}

/// How push and manifest push compress layers.
#[derive(Args, Debug, Clone, Default)]
pub struct CompressionFlags {
    /// Compression format used to compress image layers (gzip or zstd)
    #[arg(long, value_name = "FORMAT")]
    pub compression_format: Option<String>,
    /// Compression level of new layer blobs (gzip 0-9, zstd up to 22)
    #[arg(long, value_name = "LEVEL", allow_negative_numbers = true)]
    pub compression_level: Option<i32>,
    /// Recompress layers the registry holds in another format (default: true with --compression-format)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub force_compression: Option<bool>,
}

impl CompressionFlags {
    /// Fill `opts`'s compression settings (checked).
    pub fn apply(&self, opts: &mut crate::engine::types::PushOptions) -> Result<()> {
        use crate::engine::types::Compression;
        opts.compression = self
            .compression_format
            .as_deref()
            .map(parse_compression)
            .transpose()?;
        if let Some(level) = self.compression_level {
            // Checked here so a bad level fails before anything is sent.
            crate::engine::types::check_compression_level(
                opts.compression.unwrap_or(Compression::Gzip),
                level,
            )?;
        }
        opts.compression_level = self.compression_level;
        opts.force_compression = self
            .force_compression
            .unwrap_or(self.compression_format.is_some());
        Ok(())
    }
}

/// A compression format as push's flags name it.
pub fn parse_compression(name: &str) -> Result<crate::engine::types::Compression> {
    use crate::engine::types::Compression;
    match name {
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        "zstd:chunked" => {
            bail!("compression format zstd:chunked is not supported by coracle: use zstd or gzip")
        }
        other => bail!("unsupported compression format {other:?}: use gzip or zstd"),
    }
}
