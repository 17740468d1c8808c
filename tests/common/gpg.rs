//! A GnuPG key ring for the signing tests (`image sign`, `push --sign-by`,
//! `build --sign-by`), owned by the command's user.

use super::{Out, TestEnv};
use std::path::{Path, PathBuf};

/// A GnuPG home with one passphrase-less signing key, owned by the
/// command's user; its agent is stopped on drop.
pub struct Keyring {
    pub home: PathBuf,
}

impl Keyring {
    pub fn new(env: &mut TestEnv, name: &str, email: &str) -> Keyring {
        let home = env.home.join(format!("gnupg-{name}"));
        env.write_user_file(&home.join(".keep"), b"");
        let k = Keyring { home };
        let out = k.gpg(
            env,
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                &format!("{name} <{email}>"),
                "ed25519",
                "sign",
                "never",
            ],
        );
        assert_eq!(out.status, 0, "gpg --quick-gen-key: {}", out.stderr);
        k
    }

    pub fn gpg(&self, env: &TestEnv, args: &[&str]) -> Out {
        let mut full = vec!["--homedir", self.home.to_str().unwrap(), "--batch"];
        full.extend_from_slice(args);
        env.run_program("/usr/bin/gpg", &full)
    }

    /// The public key, armored, in a file the user can read.
    pub fn export(&self, env: &TestEnv, email: &str, to: &Path) {
        let out = self.gpg(env, &["--armor", "--export", email]);
        assert!(out.stdout.contains("PUBLIC KEY"), "{}", out.stderr);
        env.write_user_file(to, out.stdout.as_bytes());
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = std::process::Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "all"])
            .status();
    }
}
