//! `image sign`: simple signatures of images a registry holds, by gpg.

use super::GlobalOpts;
use crate::engine::signing::{self, SignBy, SignRequest};
use crate::engine::types::ClientOptions;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SignArgs {
    /// Images to sign (docker://REGISTRY/NAME[:TAG])
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Sign all the manifests of the multi-architecture image
    #[arg(short, long)]
    pub all: bool,
    /// Path of the authentication file
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Use certificates at this path (*.crt, *.cert, *.key) to reach the registry
    #[arg(long, value_name = "PATH")]
    pub cert_dir: Option<PathBuf>,
    /// Store the signatures in the specified directory (default: registries.d's lookaside, else /var/lib/containers/sigstore)
    #[arg(short, long, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Sign with this GPG key (its id, fingerprint or e-mail)
    #[arg(long, value_name = "IDENTITY")]
    pub sign_by: Option<String>,
    /// Read the key's passphrase from this file
    #[arg(long, value_name = "PATH")]
    pub sign_passphrase_file: Option<PathBuf>,
}

pub fn sign(_g: &GlobalOpts, a: SignArgs) -> Result<()> {
    let req = SignRequest {
        images: a.images,
        sign_by: SignBy {
            key: a.sign_by.unwrap_or_default(),
            passphrase_file: a.sign_passphrase_file,
        },
        directory: a.directory,
        all: a.all,
        client: ClientOptions {
            authfile: a.authfile,
            cert_dir: a.cert_dir,
            ..ClientOptions::default()
        },
    };
    signing::sign_images(&req).map(drop)
}
