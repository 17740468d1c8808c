//! The gpg binary as the signing mechanism: sign with the caller's key
//! ring, verify against a throwaway key ring holding only the trusted keys
//! (so any good signature is by one of them).

use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn gpg() -> Command {
    let mut c = Command::new("gpg");
    c.args(["--batch", "--no-tty"]);
    c
}

fn spawn_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        anyhow!("signing needs gpg, which is not installed")
    } else {
        anyhow!("running gpg: {e}")
    }
}

/// gpg's own last words, for an error.
fn last_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("failed")
        .trim_start_matches("gpg: ")
        .to_string()
}

/// Fail unless the caller's key ring has a secret key `key` can sign
/// with: checked before work that a signature ends.
pub fn check_signing_key(key: &str) -> Result<()> {
    let out = gpg()
        .args(["--list-secret-keys", "--with-colons", "--", key])
        .stdin(Stdio::null())
        .output()
        .map_err(spawn_error)?;
    if !out.status.success() {
        bail!(
            "signing with key {key:?}: no secret key found ({})",
            last_line(&out.stderr)
        );
    }
    Ok(())
}

/// An opaque signed message of `payload` by `key` (an id, fingerprint or
/// e-mail of the caller's key ring).
pub fn sign(payload: &[u8], key: &str, passphrase_file: Option<&Path>) -> Result<Vec<u8>> {
    let mut c = gpg();
    c.args(["--yes", "--local-user", key]);
    if let Some(p) = passphrase_file {
        c.args(["--pinentry-mode", "loopback", "--passphrase-file"])
            .arg(p);
    }
    c.args(["--output", "-", "--sign"]);
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    child
        .stdin
        .take()
        .context("gpg's stdin")?
        .write_all(payload)
        .context("writing to gpg")?;
    let out = child.wait_with_output().context("waiting for gpg")?;
    if !out.status.success() || out.stdout.is_empty() {
        bail!("signing with key {key:?}: {}", last_line(&out.stderr));
    }
    Ok(out.stdout)
}

/// A key ring of its own, removed (with its agent) when dropped.
struct TempHome(PathBuf);

impl TempHome {
    fn new() -> Result<TempHome> {
        use std::os::unix::fs::DirBuilderExt;
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("coracle-gpg-{}-{n}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempHome(dir))
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.0)
            .args(["--kill", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The payload of `signature` when one of `keys` made it; an error naming
/// why not otherwise.
pub fn verify(keys: &[Vec<u8>], signature: &[u8]) -> Result<Vec<u8>> {
    let home = TempHome::new()?;
    for (i, k) in keys.iter().enumerate() {
        let f = home.0.join(format!("key-{i}"));
        std::fs::write(&f, k).context("writing a trusted key")?;
        let out = gpg()
            .arg("--homedir")
            .arg(&home.0)
            .arg("--import")
            .arg(&f)
            .output()
            .map_err(spawn_error)?;
        if !out.status.success() {
            bail!("importing a trusted key: {}", last_line(&out.stderr));
        }
    }
    let sig = home.0.join("signature");
    std::fs::write(&sig, signature).context("writing the signature")?;
    let status = home.0.join("status");
    let out = gpg()
        .arg("--homedir")
        .arg(&home.0)
        .args(["--trust-model", "always", "--status-file"])
        .arg(&status)
        .args(["--output", "-", "--decrypt"])
        .arg(&sig)
        .stdin(Stdio::null())
        .output()
        .map_err(spawn_error)?;
    let status = std::fs::read_to_string(&status).unwrap_or_default();
    let has = |word: &str| {
        status
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(word))
    };
    if !out.status.success() || !has("GOODSIG") || !has("VALIDSIG") {
        if has("NO_PUBKEY") || has("ERRSIG") {
            bail!("signature by an unknown key");
        }
        bail!("invalid signature: {}", last_line(&out.stderr));
    }
    Ok(out.stdout)
}

/// The user ids (their e-mail where there is one) of the keys in `file`,
/// as `image trust show` names them.
pub fn key_ids(file: &Path) -> Vec<String> {
    let Ok(out) = gpg()
        .args(["--with-colons", "--show-keys"])
        .arg(file)
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("uid:") || l.starts_with("pub:"))
        .filter_map(|l| l.split(':').nth(9).filter(|u| !u.is_empty()))
        .map(|u| match u.split_once('<') {
            Some((_, rest)) => rest.split('>').next().unwrap_or(rest).to_string(),
            None => u.to_string(),
        })
        .collect()
}
