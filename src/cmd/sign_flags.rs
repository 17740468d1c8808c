//! The signing flags of the verbs that push (push, manifest push,
//! artifact push), as podman spells them.

use crate::engine::signing::{load_sigstore_key, load_sigstore_params, SignBy, Signers};
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone, Default)]
pub struct SignFlags {
    /// Sign what is pushed with this GPG key (simple signing)
    #[arg(long, value_name = "KEY")]
    pub sign_by: Option<String>,
    /// Sign with the sigstore parameter file at PATH (containers-sigstore-signing-params.yaml: privateKeyFile; keyless fulcio/rekorURL are refused)
    #[arg(long, value_name = "PATH")]
    pub sign_by_sigstore: Option<PathBuf>,
    /// Sign what is pushed with the sigstore (cosign) private key at PATH
    #[arg(long, value_name = "PATH")]
    pub sign_by_sigstore_private_key: Option<PathBuf>,
    /// Read the signing key's passphrase from this file
    #[arg(long, value_name = "PATH")]
    pub sign_passphrase_file: Option<PathBuf>,
}

impl SignFlags {
    /// Check the combination and load the keys (asking a sigstore key's
    /// passphrase now, before anything is pushed).
    pub fn signers(&self) -> Result<Signers> {
        let gpg = self.sign_by.is_some();
        let sigstore = self.sign_by_sigstore_private_key.is_some();
        if self.sign_passphrase_file.is_some() {
            if !gpg && !sigstore {
                bail!("--sign-passphrase-file needs --sign-by or --sign-by-sigstore-private-key");
            }
            if gpg && sigstore {
                bail!("only one of --sign-by and --sign-by-sigstore-private-key can be used with --sign-passphrase-file");
            }
        }
        let mut sigstore = Vec::new();
        if let Some(path) = &self.sign_by_sigstore {
            sigstore.push(load_sigstore_params(path)?);
        }
        if let Some(path) = &self.sign_by_sigstore_private_key {
            sigstore.push(load_sigstore_key(
                path,
                self.sign_passphrase_file.as_deref(),
            )?);
        }
        Ok(Signers {
            gpg: self.sign_by.clone().map(|key| SignBy {
                key,
                passphrase_file: self.sign_passphrase_file.clone(),
            }),
            sigstore,
        })
    }
}
