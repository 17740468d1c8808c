//! Flags shared by the verbs that talk to a registry (pull, run, build,
//! push, login): TLS, the auth file, credentials, the platform.

use crate::engine::types::{parse_platform, ClientOptions, Platform};
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

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
    }))
}
