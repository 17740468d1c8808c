//! `build --disable-compression` and `build --sign-by`, as root and
//! rootless, against the real registry: a build stored compressed pushes
//! byte for byte, a signature kept with the image goes along with push
//! and a policy.json `signedBy` pull verifies it.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// A context directory holding `files`; `{BASE}` becomes the base image.
fn context(env: &TestEnv, name: &str, base: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.dir.join(name);
    mkdir_mode(&dir, 0o755);
    for (path, content) in files {
        std::fs::write(dir.join(path), content.replace("{BASE}", base)).unwrap();
    }
    dir
}

/// `build -q ARGS CTX`: the image id.
fn build(env: &TestEnv, args: &[&str], ctx: &Path) -> String {
    let mut a = vec!["build", "-q"];
    a.extend_from_slice(args);
    a.push(ctx.to_str().unwrap());
    let out = env.ok(&a);
    let id = out.lines().last().unwrap_or("").to_string();
    assert!(is_hex(&id, 64), "[{:?}] no image id: {out}", env.mode);
    id
}

fn local_digest(env: &TestEnv, image: &str) -> String {
    env.ok(&["image", "inspect", "--format", "{{.Digest}}", image])
        .trim()
        .to_string()
}

/// The manifest the store keeps under `digest`.
fn stored_manifest(env: &TestEnv, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let path = env.store_dir().join("blobs/sha256").join(hex);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn layer_types(manifest: &Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap().to_string())
        .collect()
}

/// The digest the registry serves for `reference` (skopeo, an
/// independent client).
fn registry_digest(reference: &str) -> String {
    let out = std::process::Command::new("skopeo")
        .args(["--insecure-policy", "inspect", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("running skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

fn push_digest(env: &TestEnv, args: &[&str]) -> String {
    let file = env.home.join(unique("digest"));
    let mut a = vec!["push", "--digestfile", file.to_str().unwrap()];
    a.extend_from_slice(args);
    env.ok(&a);
    std::fs::read_to_string(&file).unwrap()
}

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

both_modes!(disable_compression_false_pushes_the_stored_manifest);
fn disable_compression_false_pushes_the_stored_manifest(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let base_manifest = stored_manifest(&env, &local_digest(&env, &base));
    let base_types = layer_types(&base_manifest);
    let ctx = context(
        &env,
        "dz",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\nCOPY f /f\nRUN echo made > /made\n",
            ),
            ("f", "compressed at build\n"),
        ],
    );

    // -D=false: the new layers are gzip blobs in the manifest; the base's
    // keep what they had.
    let id = build(&env, &["-D=false", "-t", "dz"], &ctx);
    let digest = local_digest(&env, "dz");
    let m = stored_manifest(&env, &digest);
    let types = layer_types(&m);
    assert_eq!(types.len(), base_types.len() + 2, "[{mode:?}] {m}");
    assert_eq!(types[..base_types.len()], base_types[..], "[{mode:?}] {m}");
    assert_eq!(types[base_types.len()..], [GZIP, GZIP], "[{mode:?}] {m}");
    for (i, l) in base_manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(&m["layers"][i], l, "[{mode:?}] a base layer changed");
    }
    // The same digest on the registry as in the store.
    let d = format!("{}/{}:1", registry().host, unique("built/dz"));
    assert_eq!(push_digest(&env, &["dz", &d]), digest, "[{mode:?}]");
    assert_eq!(registry_digest(&d), digest, "[{mode:?}]");
    // And it runs from the registry.
    let fresh = TestEnv::new(mode);
    fresh.pull(&d);
    assert_eq!(
        fresh.sh(&d, &[], "cat /f /made"),
        "compressed at build\nmade\n"
    );

    // Cache hits: the same build again is the same image.
    assert_eq!(
        build(&env, &["-D=false", "-t", "dz2"], &ctx),
        id,
        "[{mode:?}]"
    );
    assert_eq!(local_digest(&env, "dz2"), digest);

    // The default (-D, as podman): new layers stay tars locally, push
    // compresses them, so the pushed manifest is another.
    let plain = context(
        &env,
        "plain",
        &base,
        &[
            ("Containerfile", "FROM {BASE}\nCOPY f /f\n"),
            ("f", "compressed at push\n"),
        ],
    );
    build(&env, &["-t", "plain"], &plain);
    let pd = local_digest(&env, "plain");
    assert_eq!(
        layer_types(&stored_manifest(&env, &pd)).last().unwrap(),
        TAR,
        "[{mode:?}]"
    );
    let d2 = format!("{}/{}:1", registry().host, unique("built/plain"));
    let pushed = push_digest(&env, &["plain", &d2]);
    assert_ne!(
        pushed, pd,
        "[{mode:?}] push should have compressed the layer"
    );
    assert_eq!(registry_digest(&d2), pushed);
    // -D=true spelled out is the same.
    let out = env.run(&[
        "build",
        "-q",
        "-D=true",
        "-t",
        "plain2",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert_eq!(local_digest(&env, "plain2"), pd);
}

fn signatures_file(env: &TestEnv, id: &str) -> PathBuf {
    env.store_dir()
        .join("image-signatures")
        .join(format!("{id}.json"))
}

/// The payload of the first signature the lookaside keeps for
/// `repo@digest`, checked with the signer's key.
fn lookaside_payload(
    env: &TestEnv,
    signer: &Keyring,
    lookaside: &Path,
    repo: &str,
    digest: &str,
) -> Value {
    let sig = lookaside
        .join(format!("{repo}@{}", digest.replacen(':', "=", 1)))
        .join("signature-1");
    let out = signer.gpg(env, &["--decrypt", sig.to_str().unwrap()]);
    assert_eq!(
        out.status,
        0,
        "[{:?}] {}: {}",
        env.mode,
        sig.display(),
        out.stderr
    );
    serde_json::from_str(&out.stdout).unwrap()
}

both_modes!(sign_by_keeps_the_signature_and_push_carries_it);
fn sign_by_keeps_the_signature_and_push_carries_it(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let signer = Keyring::new(&mut env, "signer", "signer@example.com");
    env.set_env("GNUPGHOME", signer.home.to_str().unwrap());
    let pubkey = env.home.join("signer.asc");
    let out = signer.gpg(&env, &["--armor", "--export", "signer@example.com"]);
    env.write_user_file(&pubkey, out.stdout.as_bytes());
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
    let base = env.rt_image();
    let ctx = context(
        &env,
        "signed",
        &base,
        &[
            ("Containerfile", "FROM {BASE}\nCOPY f /f\n"),
            ("f", "signed at build\n"),
        ],
    );
    let host = registry().host.clone();
    let repo = unique("built/signed");
    let name = format!("{host}/{repo}:1");

    // A bad key: one error, nothing built or stored.
    let layers_before = env.layer_ids();
    assert_refused(
        &env,
        &[
            "build",
            "-D=false",
            "--sign-by",
            "nobody@example.com",
            "-t",
            &name,
            ctx.to_str().unwrap(),
        ],
        "nobody@example.com",
    );
    assert_eq!(
        env.layer_ids(),
        layers_before,
        "[{mode:?}] layers were stored"
    );
    assert!(!env.store_dir().join("image-signatures").exists());
    // No name to sign the image as.
    assert_refused(
        &env,
        &[
            "build",
            "--sign-by",
            "signer@example.com",
            ctx.to_str().unwrap(),
        ],
        "-t",
    );

    // Built, signed, stored with the image.
    let id = build(
        &env,
        &["-D=false", "--sign-by", "signer@example.com", "-t", &name],
        &ctx,
    );
    let digest = local_digest(&env, &name);
    let kept: Value =
        serde_json::from_slice(&std::fs::read(signatures_file(&env, &id)).unwrap()).unwrap();
    assert_eq!(
        kept[0]["manifest_digest"],
        digest.as_str(),
        "[{mode:?}] {kept}"
    );
    // A cached rebuild signs again: the newer signature replaces the older.
    let again = build(
        &env,
        &["-D=false", "--sign-by", "signer@example.com", "-t", &name],
        &ctx,
    );
    assert_eq!(again, id, "[{mode:?}] the rebuild is cached");
    let kept_again: Value =
        serde_json::from_slice(&std::fs::read(signatures_file(&env, &id)).unwrap()).unwrap();
    assert_eq!(
        kept_again.as_array().map(Vec::len),
        Some(1),
        "[{mode:?}] {kept_again}"
    );

    // Push carries it to the lookaside, unchanged manifest.
    assert_eq!(push_digest(&env, &[&name]), digest, "[{mode:?}]");
    let payload = lookaside_payload(&env, &signer, &lookaside, &repo, &digest);
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        name.as_str()
    );
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );

    // A policy that wants the signer's signature for this registry.
    let policy = env.home.join(".config/containers/policy.json");
    let pol = policy.to_str().unwrap();
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
    env.ok(&["rmi", &name]);
    assert!(
        !signatures_file(&env, &id).exists(),
        "[{mode:?}] rmi left the image's signatures"
    );
    assert_eq!(env.pull(&name), id, "[{mode:?}] the signed image pulls");
    // The control: the same policy refuses an image nobody signed.
    let unsigned = format!("{host}/{}:1", unique("built/unsigned"));
    let other = context(
        &env,
        "unsigned",
        &base,
        &[
            ("Containerfile", "FROM {BASE}\nCOPY f /f\n"),
            ("f", "never signed\n"),
        ],
    );
    build(&env, &["-D=false", "-t", &unsigned], &other);
    env.ok(&["push", &unsigned]);
    env.ok(&["rmi", &unsigned]);
    assert_refused(&env, &["pull", &unsigned], "signature");

    // Signed but stored uncompressed (the default): push would change the
    // manifest, so it refuses unless told to drop the signature.
    let plain_name = format!("{host}/{}:1", unique("built/signed-plain"));
    let plain = context(
        &env,
        "signed-plain",
        &base,
        &[
            ("Containerfile", "FROM {BASE}\nCOPY f /f\n"),
            ("f", "signed, compressed at push\n"),
        ],
    );
    let plain_id = build(
        &env,
        &["--sign-by", "signer@example.com", "-t", &plain_name],
        &plain,
    );
    assert!(signatures_file(&env, &plain_id).exists());
    let out = env.run(&["push", &plain_name]);
    assert_error(
        mode,
        "push of a signed image compressed at push",
        &out,
        125,
        &["Would invalidate signatures"],
    );
    let out = env.run(&["push", "--remove-signatures", &plain_name]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert_ne!(
        registry_digest(&plain_name),
        local_digest(&env, &plain_name)
    );
    // Nothing was carried: the pull the policy guards is refused.
    env.ok(&["rmi", &plain_name]);
    assert!(!signatures_file(&env, &plain_id).exists());
    assert_refused(&env, &["pull", &plain_name], "signature");

    // A manifest list's images carry their signatures too (manifest push
    // --all), under the list's repository; the same refusal and way out.
    let member = context(
        &env,
        "listed",
        &base,
        &[
            ("Containerfile", "FROM {BASE}\nCOPY f /f\n"),
            ("f", "signed, pushed in a list\n"),
        ],
    );
    build(
        &env,
        &[
            "-D=false",
            "--sign-by",
            "signer@example.com",
            "-t",
            "listed:1",
        ],
        &member,
    );
    let member_digest = local_digest(&env, "listed:1");
    env.ok(&["manifest", "create", "signed-list"]);
    env.ok(&[
        "manifest",
        "add",
        "signed-list",
        "containers-storage:localhost/listed:1",
    ]);
    let list_repo = unique("built/signed-list");
    env.ok(&[
        "manifest",
        "push",
        "--all",
        "signed-list",
        &format!("{host}/{list_repo}:1"),
    ]);
    let payload = lookaside_payload(&env, &signer, &lookaside, &list_repo, &member_digest);
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        member_digest.as_str()
    );
    let plain = context(
        &env,
        "listed-plain",
        &base,
        &[
            ("Containerfile", "FROM {BASE}\nCOPY f /f\n"),
            ("f", "signed, uncompressed, in a list\n"),
        ],
    );
    build(
        &env,
        &["--sign-by", "signer@example.com", "-t", "listed-plain:1"],
        &plain,
    );
    env.ok(&[
        "manifest",
        "create",
        "plain-list",
        "containers-storage:localhost/listed-plain:1",
    ]);
    let plain_list = format!("{host}/{}:1", unique("built/plain-list"));
    let out = env.run(&["manifest", "push", "--all", "plain-list", &plain_list]);
    assert_error(
        mode,
        "manifest push of a signed image compressed at push",
        &out,
        125,
        &["Would invalidate signatures"],
    );
    env.ok(&[
        "manifest",
        "push",
        "--all",
        "--remove-signatures",
        "plain-list",
        &plain_list,
    ]);
}
