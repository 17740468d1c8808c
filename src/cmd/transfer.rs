//! Moving images to registries and the credentials for it: push, login, logout.

use super::output::println;
use super::registry_flags::{CompressionFlags, RegistryFlags, RetryFlags};
use super::GlobalOpts;
use crate::engine::transfer;
use crate::engine::transfer::login;
use crate::engine::types::{
    ClientOptions, Credentials, ManifestFormat, PushOptions, DEFAULT_CHUNK_SIZE,
};
use crate::error::CodedError;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::Read;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Image to push (a local name or id)
    pub image: String,
    /// Where to push it: [docker://]REGISTRY/NAME[:TAG] (default: the image's own name)
    pub destination: Option<String>,
    /// Manifest type (oci or v2s2) to use when pushing
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    #[command(flatten)]
    pub compression: CompressionFlags,
    /// Compress layers when pushing to a dir: destination (a no-op here, as podman's for registries: their layers are always compressed)
    #[arg(long)]
    pub compress: bool,
    /// Write the digest of the pushed image to the specified file
    #[arg(long, value_name = "PATH")]
    pub digestfile: Option<PathBuf>,
    /// Suppress output information when pushing images
    #[arg(short, long)]
    pub quiet: bool,
    /// Discard any pre-existing signatures in the image (those `build --sign-by` stored with it)
    #[arg(long)]
    pub remove_signatures: bool,
    #[command(flatten)]
    pub sign: super::sign_flags::SignFlags,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
    /// Layers to encrypt (not supported: image encryption is not implemented)
    #[arg(long, value_name = "LAYERS")]
    pub encrypt_layer: Option<String>,
    /// Key to encrypt layers with (not supported: image encryption is not implemented)
    #[arg(long, value_name = "KEY")]
    pub encryption_key: Vec<String>,
}

/// Test knob: a smaller chunk size makes the chunked upload path testable
/// with small images.
const CHUNK_SIZE_ENV: &str = "CORACLE_PUSH_CHUNK_SIZE";

pub fn push(g: &GlobalOpts, mut a: PushArgs) -> Result<()> {
    if a.encrypt_layer.is_some() || !a.encryption_key.is_empty() {
        bail!("--encryption-key/--encrypt-layer: encrypted images are not supported by coracle");
    }
    a.retry.apply(&mut a.registry)?;
    let chunk_size = std::env::var(CHUNK_SIZE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_CHUNK_SIZE);
    let mut options = PushOptions {
        client: a.registry.client_options()?,
        format: a.format.as_deref().map(ManifestFormat::parse).transpose()?,
        quiet: a.quiet,
        chunk_size,
        ..PushOptions::default()
    };
    a.compression.apply(&mut options)?;
    let sign = a.sign.signers()?;
    let store = g.open_store()?;
    let digest = transfer::push_image_signed(
        &store,
        &transfer::Push {
            image: &a.image,
            destination: a.destination.as_deref(),
            options,
            remove_signatures: a.remove_signatures,
        },
        &sign,
    )?;
    if let Some(path) = &a.digestfile {
        std::fs::write(path, digest)
            .with_context(|| format!("writing digest file {}", path.display()))?;
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Registry to log in to (default: the first unqualified-search registry)
    pub registry: Option<String>,
    /// Username for the registry
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password for the registry
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Read the password from the secret NAME (and use NAME as the username unless --username is given)
    #[arg(long, value_name = "NAME")]
    pub secret: Option<String>,
    /// Return the current login user for the registry
    #[arg(long)]
    pub get_login: bool,
    #[command(flatten)]
    pub files: AuthFileFlags,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Use certificates at PATH (*.crt, *.cert, *.key) to connect to the registry (default: /etc/containers/certs.d/HOST:PORT)
    #[arg(long, value_name = "PATH")]
    pub cert_dir: Option<PathBuf>,
    /// Print which credentials file is used
    #[arg(short, long)]
    pub verbose: bool,
}

/// Where login and logout keep credentials: podman's auth file, or a file
/// in docker's config.json format.
#[derive(Args, Debug)]
pub struct AuthFileFlags {
    /// Path of the authentication file
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Path of a Docker-compatible config file (~/.docker/config.json) to update instead
    #[arg(long, value_name = "PATH")]
    pub compat_auth_file: Option<PathBuf>,
}

impl AuthFileFlags {
    /// The file to change and the key `typed` has in it.
    fn resolve(&self, typed: Option<&str>) -> Result<(PathBuf, String)> {
        let key = login::registry_key(typed)?;
        match &self.compat_auth_file {
            Some(_) if self.authfile.is_some() => bail!(
                "options for paths to the credential file and to the Docker-compatible credential file can not be set simultaneously"
            ),
            Some(p) => Ok((p.clone(), login::docker_config_key(&key))),
            None => Ok((login::auth_file_path(self.authfile.as_deref())?, key)),
        }
    }
}

fn not_logged_in(key: &str) -> anyhow::Error {
    CodedError {
        code: 125,
        message: format!("not logged into {key}"),
    }
    .into()
}

pub fn login(g: &GlobalOpts, a: LoginArgs) -> Result<()> {
    let (path, key) = a.files.resolve(a.registry.as_deref())?;
    if a.get_login {
        return match login::stored_username(&path, &key)? {
            Some(u) => println(&u),
            None => Err(not_logged_in(&key)),
        };
    }
    let client = ClientOptions {
        tls_verify: a.tls_verify,
        cert_dir: a.cert_dir.clone(),
        ..ClientOptions::default()
    };
    let given = [a.password.is_some(), a.password_stdin, a.secret.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        bail!("only one of --password, --password-stdin and --secret can be given");
    }
    if a.password_stdin && a.username.is_none() {
        bail!("must provide --username with --password-stdin");
    }
    // The secret is read before anything is asked, so a wrong name fails at once.
    let secret = match &a.secret {
        Some(name) => Some(login::secret_password(&g.open_store()?, name)?),
        None => None,
    };
    // No new credentials given: check the stored ones, as podman does.
    if a.username.is_none() && a.password.is_none() && !a.password_stdin && secret.is_none() {
        if let Some(creds) = login::stored_for(&path, &key)? {
            eprintln!("Authenticating with existing credentials for {key}");
            login::verify_credentials(&key, &creds, &client)?;
            return println(&format!(
                "Existing credentials are valid. Already logged in to {key}"
            ));
        }
    }
    let username = match (a.username, &a.secret) {
        (Some(u), _) => u,
        (None, Some(name)) => name.clone(),
        (None, None) => login::prompt("Username: ", false)?,
    };
    if username.is_empty() {
        bail!("username is required");
    }
    let password = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from stdin")?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = secret {
        p
    } else {
        match a.password {
            Some(p) => p,
            None => login::prompt("Password: ", true)?,
        }
    };
    if password.is_empty() {
        bail!("password is required");
    }
    let creds = Credentials { username, password };
    login::verify_credentials(&key, &creds, &client)?;
    login::store_credentials(&path, &key, &creds)?;
    if a.verbose {
        println(&format!("Used: {}", path.display()))?;
    }
    println("Login Succeeded!")
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Registry to log out of
    pub registry: Option<String>,
    /// Remove the cached credentials for all registries in the auth file
    #[arg(short, long)]
    pub all: bool,
    #[command(flatten)]
    pub files: AuthFileFlags,
}

pub fn logout(_g: &GlobalOpts, a: LogoutArgs) -> Result<()> {
    if a.all {
        if a.registry.is_some() {
            bail!("--all takes no registry argument");
        }
        let (path, _) = a.files.resolve(Some("localhost"))?;
        login::remove_all_credentials(&path)?;
        return println("Removed login credentials for all registries");
    }
    let (path, key) = a.files.resolve(a.registry.as_deref())?;
    if login::remove_credentials(&path, &key)? {
        println(&format!("Removed login credentials for {key}"))
    } else {
        Err(not_logged_in(&key))
    }
}
