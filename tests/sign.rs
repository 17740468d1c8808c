//! Simple signing: `image sign`, `push --sign-by`, `image trust show|set`,
//! and pulls that policy.json's `signedBy` makes verify, against the real
//! registry with a file:// lookaside and a key ring the test makes.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// Where a signature of `digest` for `repo` lands under a lookaside dir.
fn sig_dir(base: &Path, repo: &str, digest: &str) -> PathBuf {
    base.join(format!("{repo}@{}", digest.replacen(':', "=", 1)))
}

/// The payload a signature file carries, checked by gpg with the key ring.
fn payload(env: &TestEnv, k: &Keyring, file: &Path) -> Value {
    let out = k.gpg(env, &["--decrypt", file.to_str().unwrap()]);
    assert_eq!(
        out.status,
        0,
        "gpg --decrypt {}: {}",
        file.display(),
        out.stderr
    );
    serde_json::from_str(&out.stdout).unwrap()
}

both_modes!(sign_verify_and_trust);
fn sign_verify_and_trust(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let signer = Keyring::new(&mut env, "signer", "signer@example.com");
    let other = Keyring::new(&mut env, "other", "other@example.com");
    env.set_env("GNUPGHOME", signer.home.to_str().unwrap());
    let pubkey = env.home.join("signer.asc");
    signer.export(&env, "signer@example.com", &pubkey);
    let lookaside = env.home.join("sigstore");
    env.write_user_file(&lookaside.join(".keep"), b"");
    env.write_user_file(
        &env.home
            .join(".config/containers/registries.d/default.yaml"),
        format!(
            "default-docker:\n  lookaside: file://{}\n",
            lookaside.display()
        )
        .as_bytes(),
    );

    // image sign: the registry's manifest, signed into the lookaside.
    let signed = push_unique(busybox_image(), "signed");
    env.ok(&[
        "image",
        "sign",
        "--sign-by",
        "signer@example.com",
        &format!("docker://{}", signed.reference()),
    ]);
    let file = sig_dir(&lookaside, &signed.repo, &signed.digest).join("signature-1");
    let p = payload(&env, &signer, &file);
    assert_eq!(p["critical"]["type"], "atomic container signature");
    assert_eq!(
        p["critical"]["image"]["docker-manifest-digest"], signed.digest,
        "[{mode:?}] {p}"
    );
    assert_eq!(
        p["critical"]["identity"]["docker-reference"],
        signed.reference()
    );
    // --directory: REPO@sha256=HEX/signature-N below it, numbered on.
    let dir = env.home.join("sigs");
    for _ in 0..2 {
        env.ok(&[
            "image",
            "sign",
            "--sign-by",
            "signer@example.com",
            "-d",
            dir.to_str().unwrap(),
            &format!("docker://{}", signed.reference()),
        ]);
    }
    let d = sig_dir(&dir, &signed.repo, &signed.digest);
    assert!(
        d.join("signature-1").is_file() && d.join("signature-2").is_file(),
        "[{mode:?}] two signatures in {}",
        d.display()
    );
    assert_refused(
        &env,
        &["image", "sign", &format!("docker://{}", signed.reference())],
        "--sign-by",
    );
    assert_refused(
        &env,
        &[
            "image",
            "sign",
            "--sign-by",
            "signer@example.com",
            &signed.reference(),
        ],
        "transport",
    );

    // trust set/show: the policy the pulls below follow.
    let policy = env.home.join(".config/containers/policy.json");
    let pol = policy.to_str().unwrap();
    let host = signed.host.clone();
    env.ok(&[
        "image",
        "trust",
        "set",
        "--signature-policy",
        pol,
        "-t",
        "accept",
        "default",
    ]);
    env.ok(&[
        "image",
        "trust",
        "set",
        "--signature-policy",
        pol,
        "-f",
        pubkey.to_str().unwrap(),
        &host,
    ]);
    assert_refused(
        &env,
        &[
            "image",
            "trust",
            "set",
            "--signature-policy",
            pol,
            "-t",
            "bogus",
            &host,
        ],
        "invalid choice",
    );
    assert_refused(
        &env,
        &[
            "image",
            "trust",
            "set",
            "--signature-policy",
            pol,
            "-t",
            "signedBy",
            &host,
        ],
        "at least one public key",
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&policy).unwrap()).unwrap();
    assert_eq!(written["default"][0]["type"], "insecureAcceptAnything");
    assert_eq!(
        written["transports"]["docker"][&host][0]["type"],
        "signedBy"
    );
    assert_eq!(
        written["transports"]["docker"][&host][0]["keyType"],
        "GPGKeys"
    );
    let table = env.ok(&["image", "trust", "show"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["TRANSPORT", "NAME", "TYPE", "ID", "STORE"],
        "{table}"
    );
    assert_eq!(lines[1][..3], ["all", "default", "accept"], "{table}");
    let store = format!("file://{}", lookaside.display());
    assert_eq!(
        lines[2],
        [
            "repository",
            host.as_str(),
            "signed",
            "signer@example.com",
            store.as_str()
        ],
        "[{mode:?}] {table}"
    );
    assert!(!env
        .ok(&["image", "trust", "show", "-n"])
        .contains("TRANSPORT"));
    let json: Value = serde_json::from_str(&env.ok(&["image", "trust", "show", "--json"])).unwrap();
    assert_eq!(json[1]["gpg_id"], "signer@example.com", "{json}");
    assert_eq!(json[1]["type"], "signed");
    assert_eq!(json[0]["name"], "* (default)");
    let raw: Value = serde_json::from_str(&env.ok(&["image", "trust", "show", "--raw"])).unwrap();
    assert_eq!(raw, written);

    // Pulls verify: signed passes, unsigned and misdirected fail.
    assert_eq!(env.pull(&signed.reference()), signed.id(), "[{mode:?}]");
    let unsigned = push_unique(&unique_image("unsigned"), "unsigned");
    assert_refused(
        &env,
        &["pull", &unsigned.reference()],
        "no signature exists",
    );
    // The signature of another manifest, copied to this one's place.
    let wrong = sig_dir(&lookaside, &unsigned.repo, &unsigned.digest);
    env.write_user_file(&wrong.join("signature-1"), &std::fs::read(&file).unwrap());
    assert_refused(
        &env,
        &["pull", &unsigned.reference()],
        "signature is for manifest",
    );
    // Signed by a key the policy does not trust.
    env.set_env("GNUPGHOME", other.home.to_str().unwrap());
    let stranger = push_unique(&unique_image("stranger"), "stranger");
    env.ok(&[
        "image",
        "sign",
        "--sign-by",
        "other@example.com",
        &format!("docker://{}", stranger.reference()),
    ]);
    assert_refused(&env, &["pull", &stranger.reference()], "unknown key");

    // push --sign-by: what was pushed is signed, and so pulls.
    env.set_env("GNUPGHOME", signer.home.to_str().unwrap());
    let dest = format!("{host}/{}:v1", unique("pushed-signed"));
    env.ok(&[
        "push",
        "--sign-by",
        "signer@example.com",
        &signed.reference(),
        &dest,
    ]);
    let fresh = TestEnv::new(mode);
    let mut fresh = fresh;
    fresh.set_env("GNUPGHOME", signer.home.to_str().unwrap());
    for (f, content) in [
        (
            ".config/containers/policy.json",
            std::fs::read(&policy).unwrap(),
        ),
        (
            ".config/containers/registries.d/default.yaml",
            std::fs::read(
                env.home
                    .join(".config/containers/registries.d/default.yaml"),
            )
            .unwrap(),
        ),
    ] {
        fresh.write_user_file(&fresh.home.join(f), &content);
    }
    assert_eq!(
        fresh.pull(&dest),
        signed.id(),
        "[{mode:?}] pushed and signed"
    );

    // manifest push --sign-by: the list pushed is signed, so it pulls.
    env.ok(&["manifest", "create", "localhost/signed-list"]);
    env.ok(&[
        "manifest",
        "add",
        "localhost/signed-list",
        &signed.reference(),
    ]);
    let list_dest = format!("{host}/{}:v1", unique("list-signed"));
    let digestfile = env.home.join("list.digest");
    env.ok(&[
        "manifest",
        "push",
        "--sign-by",
        "signer@example.com",
        "--digestfile",
        digestfile.to_str().unwrap(),
        "localhost/signed-list",
        &list_dest,
    ]);
    let list_digest = std::fs::read_to_string(&digestfile).unwrap();
    let repo = list_dest
        .split_once('/')
        .unwrap()
        .1
        .rsplit_once(':')
        .unwrap()
        .0;
    let sig = sig_dir(&lookaside, repo, list_digest.trim()).join("signature-1");
    assert_eq!(
        payload(&env, &signer, &sig)["critical"]["image"]["docker-manifest-digest"],
        list_digest.trim(),
        "[{mode:?}]"
    );
    assert_eq!(
        fresh.pull(&list_dest),
        signed.id(),
        "[{mode:?}] the signed list"
    );
}

/// Every `signature-N` file below `dir`.
fn signature_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(signature_files(&p));
        } else if e.file_name().to_string_lossy().starts_with("signature-") {
            found.push(p);
        }
    }
    found
}

both_modes!(image_sign_cert_dir_reaches_a_mutual_tls_registry);
/// `image sign --cert-dir`: the registry's CA and the client certificate it
/// wants, to read the manifest that is signed.
fn image_sign_cert_dir_reaches_a_mutual_tls_registry(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let signer = Keyring::new(&mut env, "signer", "signer@example.com");
    env.set_env("GNUPGHOME", signer.home.to_str().unwrap());
    let reg = tls_registry();
    let certs = reg.certs.as_ref().unwrap().to_str().unwrap();
    let bb = busybox();
    env.pull(&bb.reference());
    let dest = format!("{}/{}:1", reg.host, unique("tls/signed"));
    env.ok(&[
        "push",
        "--tls-verify",
        "--cert-dir",
        certs,
        &bb.reference(),
        &dest,
    ]);
    let dir = env.home.join("tls-sigs");
    let d = dir.to_str().unwrap();
    let typed = format!("docker://{dest}");
    let sign = ["image", "sign", "--sign-by", "signer@example.com", "-d", d];

    // Without the client certificate the registry will not talk.
    let mut args = sign.to_vec();
    args.push(&typed);
    let out = env.fails(&args, 125);
    assert!(
        out.stderr.starts_with("Error: ") && out.stderr.contains(&reg.host),
        "[{mode:?}] {}",
        out.stderr
    );
    assert!(
        signature_files(&dir).is_empty(),
        "[{mode:?}] nothing signed"
    );

    let mut args = sign.to_vec();
    args.extend_from_slice(&["--cert-dir", certs, &typed]);
    env.ok(&args);
    let files = signature_files(&dir);
    assert_eq!(files.len(), 1, "[{mode:?}] {files:?}");
    let p = payload(&env, &signer, &files[0]);
    assert_eq!(
        p["critical"]["identity"]["docker-reference"], dest,
        "[{mode:?}] {p}"
    );
    let digest = p["critical"]["image"]["docker-manifest-digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        files[0]
            .to_string_lossy()
            .contains(&digest.replacen(':', "=", 1)),
        "[{mode:?}] {files:?}"
    );
}

both_modes!(artifact_push_sign_by_signs_the_pushed_manifest);
/// `artifact push --sign-by [--sign-passphrase-file]`: the manifest pushed
/// is signed into the registry's lookaside, as `push --sign-by` does.
fn artifact_push_sign_by_signs_the_pushed_manifest(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let signer = Keyring::new(&mut env, "signer", "signer@example.com");
    // a second key, under a passphrase
    let out = signer.gpg(
        &env,
        &[
            "--passphrase",
            "sekrit",
            "--quick-gen-key",
            "locked <locked@example.com>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    assert_eq!(out.status, 0, "gpg --quick-gen-key: {}", out.stderr);
    env.set_env("GNUPGHOME", signer.home.to_str().unwrap());
    let lookaside = env.home.join("sigstore");
    env.write_user_file(&lookaside.join(".keep"), b"");
    env.write_user_file(
        &env.home
            .join(".config/containers/registries.d/default.yaml"),
        format!(
            "default-docker:\n  lookaside: file://{}\n",
            lookaside.display()
        )
        .as_bytes(),
    );
    let name = format!("{}/{}:1", registry().host, unique("signed/artifact"));
    let file = env.home.join("f.txt");
    env.write_user_file(&file, b"payload\n");
    env.ok(&["artifact", "add", &name, file.to_str().unwrap()]);
    let digestfile = env.home.join("digest");
    let push = |extra: &[&str]| {
        let mut args = vec![
            "artifact",
            "push",
            "-q",
            "--tls-verify=false",
            "--digestfile",
            digestfile.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push(&name);
        env.run(&args)
    };

    let out = push(&[]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        signature_files(&lookaside).is_empty(),
        "[{mode:?}] unsigned"
    );
    let out = push(&["--sign-by", "signer@example.com"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let digest = std::fs::read_to_string(&digestfile).unwrap();
    let files = signature_files(&lookaside);
    assert_eq!(files.len(), 1, "[{mode:?}] {files:?}");
    let p = payload(&env, &signer, &files[0]);
    assert_eq!(p["critical"]["type"], "atomic container signature");
    assert_eq!(
        p["critical"]["image"]["docker-manifest-digest"], digest,
        "[{mode:?}] {p}"
    );
    assert_eq!(p["critical"]["identity"]["docker-reference"], name);

    // The locked key: a wrong passphrase fails the signing, the right one signs.
    let wrong = env.home.join("wrong");
    env.write_user_file(&wrong, b"not it\n");
    let right = env.home.join("right");
    env.write_user_file(&right, b"sekrit\n");
    let locked = ["--sign-by", "locked@example.com", "--sign-passphrase-file"];
    let mut args = locked.to_vec();
    args.push(wrong.to_str().unwrap());
    let out = push(&args);
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
    assert_eq!(signature_files(&lookaside).len(), 1, "[{mode:?}]");
    let mut args = locked.to_vec();
    args.push(right.to_str().unwrap());
    let out = push(&args);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let files = signature_files(&lookaside);
    assert_eq!(files.len(), 2, "[{mode:?}] {files:?}");

    assert_refused(
        &env,
        &[
            "artifact",
            "push",
            "--tls-verify=false",
            "--sign-passphrase-file",
            right.to_str().unwrap(),
            &name,
        ],
        "--sign-by",
    );
}
