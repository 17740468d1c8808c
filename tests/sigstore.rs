//! Sigstore signing with a private key (`push`, `manifest push`, `artifact
//! push --sign-by-sigstore-private-key`) and policy.json `sigstoreSigned`
//! checks on pull, against the real registry. Keys are made, and
//! signatures checked or made, by an independent implementation:
//! tests/fixtures/sigstore_keys.py (Python cryptography + PyNaCl).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::oci::{fetch_blob, fetch_manifest, http_agent, push_blob, push_manifest};
use common::*;
use serde_json::{json, Value};

const SIG_MIME: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIG_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn python() -> String {
    std::env::var("CORACLE_PYTHON").unwrap_or_else(|_| "/opt/coracle-venv/bin/python".into())
}

fn helper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigstore_keys.py")
}

/// Run the Python helper (as root: it only reads and writes test files).
fn py(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(python())
        .arg(helper())
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run `sudo tests/run.sh` (makes the venv)",
                python()
            )
        });
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A key pair made by the Python helper, its files readable by the user.
struct KeyPair {
    private: PathBuf,
    public: PathBuf,
    pass_file: PathBuf,
    pass: String,
}

fn key_pair(env: &TestEnv, name: &str, pass: &str, label: &str) -> KeyPair {
    let tmp = env.dir.join(format!("keygen-{name}"));
    std::fs::create_dir_all(&tmp).unwrap();
    let (private, public) = (tmp.join("k.key"), tmp.join("k.pub"));
    let (code, _, err) = py(&[
        "generate",
        private.to_str().unwrap(),
        public.to_str().unwrap(),
        pass,
        "--label",
        label,
    ]);
    assert_eq!(code, 0, "key generation: {err}");
    let k = KeyPair {
        private: env.home.join(format!("{name}.key")),
        public: env.home.join(format!("{name}.pub")),
        pass_file: env.home.join(format!("{name}.pass")),
        pass: pass.to_string(),
    };
    env.write_user_file(&k.private, &std::fs::read(&private).unwrap());
    env.write_user_file(&k.public, &std::fs::read(&public).unwrap());
    // As a user writes it: with a newline (only the first line counts).
    env.write_user_file(&k.pass_file, format!("{pass}\n").as_bytes());
    k
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `default-docker: use-sigstore-attachments: true`, plus `extra` YAML.
fn enable_attachments(env: &TestEnv, extra: &str) {
    env.write_user_file(
        &env.home
            .join(".config/containers/registries.d/default.yaml"),
        format!("default-docker:\n  use-sigstore-attachments: true\n{extra}").as_bytes(),
    );
}

fn write_policy(env: &TestEnv, host: &str, requirement: Value) {
    let policy = json!({
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {"docker": {host: [requirement]}},
    });
    env.write_user_file(
        &env.home.join(".config/containers/policy.json"),
        policy.to_string().as_bytes(),
    );
}

/// `host/repo:tag` -> (repo, tag).
fn repo_tag(reference: &str) -> (String, String) {
    let path = reference.split_once('/').unwrap().1;
    let (repo, tag) = path.rsplit_once(':').unwrap();
    (repo.to_string(), tag.to_string())
}

fn attachment_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The HTTP status of a manifest GET (200, 404).
fn manifest_status(repo: &str, reference: &str) -> u16 {
    http_agent()
        .get(&format!(
            "http://{}/v2/{repo}/manifests/{reference}",
            registry().host
        ))
        .header("Accept", OCI_MANIFEST)
        .call()
        .unwrap()
        .status()
        .as_u16()
}

/// The attachment manifest of `digest` in `repo`.
fn attachments(repo: &str, digest: &str) -> Value {
    let (bytes, ct) = fetch_manifest(registry(), repo, &attachment_tag(digest));
    assert!(ct.starts_with(OCI_MANIFEST), "{ct}");
    serde_json::from_slice(&bytes).unwrap()
}

/// Each signature layer: (payload, base64 signature).
fn signatures(repo: &str, digest: &str) -> Vec<(Vec<u8>, String)> {
    let m = attachments(repo, digest);
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["mediaType"], SIG_MIME, "{m}");
            let payload = fetch_blob(registry(), repo, l["digest"].as_str().unwrap());
            assert_eq!(l["size"], payload.len(), "{m}");
            (
                payload,
                l["annotations"][SIG_ANNOTATION]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

/// The independent check: does the Python helper accept the signature?
fn py_verifies(env: &TestEnv, public: &Path, payload: &[u8], sig: &str) -> bool {
    let f = env.dir.join(format!("payload-{}", unique("p")));
    std::fs::write(&f, payload).unwrap();
    let (code, _, err) = py(&["verify", p(public), p(&f), sig]);
    assert!(code == 0 || code == 1, "verify helper: {err}");
    code == 0
}

/// Attach (replacing what is there) one signature layer to `digest`:
/// `payload` signed by the Python helper with `key`, or `signature` as is.
fn attach(
    env: &TestEnv,
    repo: &str,
    digest: &str,
    payload: &[u8],
    signature: Option<&str>,
    key: &KeyPair,
) {
    let sig = match signature {
        Some(s) => s.to_string(),
        None => {
            let f = env.dir.join(format!("payload-{}", unique("s")));
            std::fs::write(&f, payload).unwrap();
            let (code, out, err) = py(&["sign", p(&key.private), &key.pass, p(&f)]);
            assert_eq!(code, 0, "sign helper: {err}");
            out
        }
    };
    let reg = registry();
    let layer = push_blob(reg, repo, payload);
    let config = serde_json::to_vec(&json!({"architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer]}}))
    .unwrap();
    let config_digest = push_blob(reg, repo, &config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": SIG_MIME, "digest": layer, "size": payload.len(),
            "annotations": {SIG_ANNOTATION: sig}}],
    });
    push_manifest(
        reg,
        repo,
        &attachment_tag(digest),
        OCI_MANIFEST,
        &serde_json::to_vec(&manifest).unwrap(),
    );
}

fn payload_for(reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": {"creator": "sigstore_keys.py"},
    }))
    .unwrap()
}

fn push_signed(env: &TestEnv, key: &KeyPair, image: &str, dest: &str) -> String {
    let digestfile = env.home.join(unique("digest"));
    let out = env.run(&[
        "push",
        "--sign-by-sigstore-private-key",
        p(&key.private),
        "--sign-passphrase-file",
        p(&key.pass_file),
        "--digestfile",
        p(&digestfile),
        image,
        dest,
    ]);
    assert_eq!(
        out.status, 0,
        "[{:?}] signed push: {}",
        env.mode, out.stderr
    );
    assert!(
        out.stderr.contains(
            "Creating signature: Signing image using a sigstore signature\nStoring signatures"
        ),
        "{}",
        out.stderr
    );
    std::fs::read_to_string(&digestfile).unwrap()
}

both_modes!(sigstore_push_signs_into_the_registry);
/// push --sign-by-sigstore-private-key: the attachment as containers/image
/// writes it, checked by the Python helper; appended to; refused cleanly.
fn sigstore_push_signs_into_the_registry(mode: Mode) {
    let env = TestEnv::new(mode);
    let key = key_pair(&env, "signer", "correct horse", "sigstore");
    let other = key_pair(&env, "other", "battery", "cosign");
    enable_attachments(
        &env,
        &format!(
            "docker:\n  {}/nosig:\n    use-sigstore-attachments: false\n",
            registry().host
        ),
    );
    let bb = busybox();
    env.pull(&bb.reference());
    let dest = format!("{}/{}:v1", registry().host, unique("sigstore/pushed"));
    let (repo, _) = repo_tag(&dest);
    let digest = push_signed(&env, &key, &bb.reference(), &dest);

    // One signature layer, its config listing it, its payload naming what
    // was pushed, its signature good for the key and no other.
    let m = attachments(&repo, &digest);
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(m["mediaType"], OCI_MANIFEST);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let config: Value = serde_json::from_slice(&fetch_blob(
        registry(),
        &repo,
        m["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"],
        json!([m["layers"][0]["digest"]]),
        "{config}"
    );
    let sigs = signatures(&repo, &digest);
    assert_eq!(sigs.len(), 1, "[{mode:?}] {m}");
    let payload: Value = serde_json::from_slice(&sigs[0].0).unwrap();
    assert_eq!(
        payload["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(payload["critical"]["identity"]["docker-reference"], dest);
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        digest
    );
    assert!(payload["optional"]["timestamp"].is_u64(), "{payload}");
    assert!(
        py_verifies(&env, &key.public, &sigs[0].0, &sigs[0].1),
        "[{mode:?}]"
    );
    assert!(!py_verifies(&env, &other.public, &sigs[0].0, &sigs[0].1));

    // Signing again appends a second signature (a cosign-labelled key).
    push_signed(&env, &other, &bb.reference(), &dest);
    let sigs = signatures(&repo, &digest);
    assert_eq!(sigs.len(), 2, "[{mode:?}]");
    assert!(py_verifies(&env, &key.public, &sigs[0].0, &sigs[0].1));
    assert!(py_verifies(&env, &other.public, &sigs[1].0, &sigs[1].1));
    let m = attachments(&repo, &digest);
    let config: Value = serde_json::from_slice(&fetch_blob(
        registry(),
        &repo,
        m["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"].as_array().unwrap().len(),
        2,
        "{config}"
    );

    // A wrong passphrase: one clear error, nothing pushed.
    let wrong = env.home.join("wrong.pass");
    env.write_user_file(&wrong, b"not it\n");
    let dest2 = format!("{}/{}:v1", registry().host, unique("sigstore/nothing"));
    let (repo2, _) = repo_tag(&dest2);
    let out = env.run(&[
        "push",
        "--sign-by-sigstore-private-key",
        p(&key.private),
        "--sign-passphrase-file",
        p(&wrong),
        &bb.reference(),
        &dest2,
    ]);
    assert_error(mode, "wrong passphrase", &out, 125, &["decryption failed"]);
    assert_eq!(
        manifest_status(&repo2, "v1"),
        404,
        "[{mode:?}] pushed nothing"
    );
    // No passphrase and no terminal to ask on.
    let out = env.run(&[
        "push",
        "--sign-by-sigstore-private-key",
        p(&key.private),
        &bb.reference(),
        &dest2,
    ]);
    assert_error(
        mode,
        "no passphrase",
        &out,
        125,
        &["--sign-passphrase-file"],
    );
    // A scope where registries.d disables attachments.
    let nosig = format!("{}/nosig/{}:v1", registry().host, unique("x"));
    let out = env.run(&[
        "push",
        "--sign-by-sigstore-private-key",
        p(&key.private),
        "--sign-passphrase-file",
        p(&key.pass_file),
        &bb.reference(),
        &nosig,
    ]);
    assert_error(
        mode,
        "attachments disabled",
        &out,
        125,
        &["writing sigstore attachments is disabled by configuration"],
    );
    let (nosig_repo, _) = repo_tag(&nosig);
    assert_eq!(manifest_status(&nosig_repo, "v1"), 404, "[{mode:?}]");
    // Keyless signing and a key that is not a key.
    // --sign-by-sigstore: a parameter file naming the key signs the same
    // way; its keyless parts are refused by name, unknown fields too.
    let params = env.home.join("params.yaml");
    env.write_user_file(
        &params,
        format!(
            "privateKeyFile: {}\nprivateKeyPassphraseFile: {}\n",
            p(&key.private),
            p(&key.pass_file)
        )
        .as_bytes(),
    );
    let by_params = format!("{}/{}:v1", registry().host, unique("sigstore/params"));
    let (params_repo, _) = repo_tag(&by_params);
    env.ok(&[
        "push",
        "--sign-by-sigstore",
        p(&params),
        &bb.reference(),
        &by_params,
    ]);
    let sigs = signatures(&params_repo, &digest);
    assert_eq!(sigs.len(), 1, "[{mode:?}]");
    assert!(py_verifies(&env, &key.public, &sigs[0].0, &sigs[0].1));
    env.write_user_file(
        &params,
        b"fulcio:\n  fulcioURL: https://fulcio.example\n  oidcMode: interactive\nrekorURL: https://rekor.example\n",
    );
    let out = env.run(&[
        "push",
        "--sign-by-sigstore",
        p(&params),
        &bb.reference(),
        &dest2,
    ]);
    assert_error(
        mode,
        "keyless",
        &out,
        125,
        &["fulcio, rekorURL", "not supported"],
    );
    env.write_user_file(&params, b"privateKey: x\n");
    let out = env.run(&[
        "push",
        "--sign-by-sigstore",
        p(&params),
        &bb.reference(),
        &dest2,
    ]);
    assert_error(mode, "unknown field", &out, 125, &["parsing", "privateKey"]);
    let out = env.run(&[
        "push",
        "--sign-by-sigstore-private-key",
        p(&key.public),
        "--sign-passphrase-file",
        p(&key.pass_file),
        &bb.reference(),
        &dest2,
    ]);
    assert_error(
        mode,
        "public key as private",
        &out,
        125,
        &["unsupported pem type: PUBLIC KEY"],
    );
    let out = env.run(&[
        "push",
        "--sign-passphrase-file",
        p(&key.pass_file),
        &bb.reference(),
        &dest2,
    ]);
    assert_error(
        mode,
        "passphrase alone",
        &out,
        125,
        &["--sign-by-sigstore-private-key"],
    );
    assert_eq!(manifest_status(&repo2, "v1"), 404, "[{mode:?}]");
}

both_modes!(sigstore_signed_policy_checks_pulls);
/// policy.json sigstoreSigned: a pull needs an attached signature by a
/// trusted key, of this manifest, for an accepted identity.
fn sigstore_signed_policy_checks_pulls(mode: Mode) {
    let signer_env = TestEnv::new(mode);
    let key = key_pair(&signer_env, "trusted", "s3cret pass", "sigstore");
    let stranger = key_pair(&signer_env, "stranger", "other pass", "cosign");
    enable_attachments(&signer_env, "");
    let host = registry().host.clone();
    let bb = busybox();
    signer_env.pull(&bb.reference());
    let signed = format!("{host}/{}:v1", unique("sigstore/signed"));
    let signed_digest = push_signed(&signer_env, &key, &bb.reference(), &signed);

    // The verifying side: a store of its own, trusting `key` for the host.
    let env = TestEnv::new(mode);
    let public = env.home.join("trusted.pub");
    env.write_user_file(&public, &std::fs::read(&key.public).unwrap());
    let policy = env.home.join(".config/containers/policy.json");
    let pol = p(&policy);
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
        "-t",
        "sigstoreSigned",
        "-f",
        p(&public),
        &host,
    ]);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&policy).unwrap()).unwrap();
    assert_eq!(
        written["transports"]["docker"][&host],
        json!([{"type": "sigstoreSigned", "keyPath": p(&public)}]),
        "{written}"
    );
    let shown: Value =
        serde_json::from_str(&env.ok(&["image", "trust", "show", "--json"])).unwrap();
    assert_eq!(shown[1]["type"], "sigstoreSigned", "{shown}");
    assert_eq!(shown[1]["gpg_id"], "N/A");

    // Attachments not enabled in registries.d: none are read.
    assert_refused(
        &env,
        &["pull", &signed],
        "A signature was required, but no signature exists",
    );
    enable_attachments(&env, "");
    assert_eq!(env.pull(&signed), bb.id(), "[{mode:?}] signed pulls");
    env.ok(&["rmi", &signed]);

    // Unsigned: refused, for pull and for create alike, nothing stored.
    let unsigned = push_unique(&unique_image("sigstore-unsigned"), "sigstore-unsigned");
    assert_refused(
        &env,
        &["pull", &unsigned.reference()],
        "no signature exists",
    );
    assert_refused(
        &env,
        &["create", &unsigned.reference(), "true"],
        "no signature exists",
    );
    let ctx = env.home.join("ctx");
    env.write_user_file(
        &ctx.join("Containerfile"),
        format!("FROM {}\nRUN true\n", unsigned.reference()).as_bytes(),
    );
    assert_refused(
        &env,
        &["build", "-t", "localhost/from-unsigned", p(&ctx)],
        "no signature exists",
    );

    // Signed by a key the policy does not trust.
    let by_stranger = format!("{host}/{}:v1", unique("sigstore/stranger"));
    push_signed(&signer_env, &stranger, &bb.reference(), &by_stranger);
    assert_refused(
        &env,
        &["pull", &by_stranger],
        "cryptographic signature verification failed",
    );

    // A tampered payload under a good signature.
    let tampered = push_unique(&unique_image("sigstore-tampered"), "sigstore-tampered");
    let good = payload_for(&tampered.reference(), &tampered.digest);
    let f = env.dir.join("good-payload");
    std::fs::write(&f, &good).unwrap();
    let (code, sig, err) = py(&["sign", p(&key.private), &key.pass, p(&f)]);
    assert_eq!(code, 0, "{err}");
    let mut bad: Value = serde_json::from_slice(&good).unwrap();
    bad["optional"]["creator"] = json!("someone else");
    let bad = serde_json::to_vec(&bad).unwrap();
    attach(
        &env,
        &tampered.repo,
        &tampered.digest,
        &bad,
        Some(&sig),
        &key,
    );
    assert_refused(
        &env,
        &["pull", &tampered.reference()],
        "cryptographic signature verification failed",
    );
    // The untampered payload with that signature (made by Python) passes.
    attach(
        &env,
        &tampered.repo,
        &tampered.digest,
        &good,
        Some(&sig),
        &key,
    );
    assert_eq!(
        env.pull(&tampered.reference()),
        tampered.id(),
        "[{mode:?}] Python-signed"
    );

    // A good signature, but for another identity, then for another manifest.
    let misnamed = push_unique(&unique_image("sigstore-misnamed"), "sigstore-misnamed");
    let elsewhere = format!("{host}/somewhere/else:v1");
    attach(
        &env,
        &misnamed.repo,
        &misnamed.digest,
        &payload_for(&elsewhere, &misnamed.digest),
        None,
        &key,
    );
    assert_refused(
        &env,
        &["pull", &misnamed.reference()],
        "Signature for identity \"",
    );
    attach(
        &env,
        &misnamed.repo,
        &misnamed.digest,
        &payload_for(&misnamed.reference(), &signed_digest),
        None,
        &key,
    );
    assert_refused(&env, &["pull", &misnamed.reference()], "does not match");
    // ... which an exactReference policy naming that identity accepts
    // (keyData: the key inline).
    attach(
        &env,
        &misnamed.repo,
        &misnamed.digest,
        &payload_for(&elsewhere, &misnamed.digest),
        None,
        &key,
    );
    let key_data =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&key.public).unwrap());
    write_policy(
        &env,
        &host,
        json!({"type": "sigstoreSigned", "keyData": key_data,
               "signedIdentity": {"type": "exactReference", "dockerReference": elsewhere}}),
    );
    assert_eq!(
        env.pull(&misnamed.reference()),
        misnamed.id(),
        "[{mode:?}] exactReference"
    );

    // Keyless trust roots are refused by name.
    write_policy(
        &env,
        &host,
        json!({"type": "sigstoreSigned", "fulcio": {"caPath": "/x", "oidcIssuer": "https://x", "subjectEmail": "a@b"},
               "rekorPublicKeyPath": "/y"}),
    );
    assert_refused(
        &env,
        &["pull", &signed],
        "fulcio, rekorPublicKeyPath is not supported",
    );
    // A key file that is not a public key.
    write_policy(
        &env,
        &host,
        json!({"type": "sigstoreSigned", "keyPath": p(&policy)}),
    );
    assert_refused(&env, &["pull", &signed], "no PEM \"PUBLIC KEY\" block");
}

both_modes!(sigstore_manifest_and_artifact_push_sign_everything);
/// manifest push signs each instance and the list; artifact push signs
/// the artifact's manifest; the signed list pulls under the policy.
fn sigstore_manifest_and_artifact_push_sign_everything(mode: Mode) {
    let env = TestEnv::new(mode);
    let key = key_pair(&env, "lists", "list pass", "sigstore");
    enable_attachments(&env, "");
    let host = registry().host.clone();
    let m = multi();
    env.ok(&["manifest", "create", "localhost/sig-list"]);
    env.ok(&[
        "manifest",
        "add",
        "--all",
        "localhost/sig-list",
        &m.reference(),
    ]);
    let dest = format!("{host}/{}:v1", unique("sigstore/list"));
    let (repo, _) = repo_tag(&dest);
    let digestfile = env.home.join("list.digest");
    env.ok(&[
        "manifest",
        "push",
        "--sign-by-sigstore-private-key",
        p(&key.private),
        "--sign-passphrase-file",
        p(&key.pass_file),
        "--digestfile",
        p(&digestfile),
        "localhost/sig-list",
        &dest,
    ]);
    let list_digest = std::fs::read_to_string(&digestfile).unwrap();
    let (bytes, _) = fetch_manifest(registry(), &repo, &list_digest);
    let list: Value = serde_json::from_slice(&bytes).unwrap();
    let mut signed = vec![list_digest.clone()];
    for e in list["manifests"].as_array().unwrap() {
        signed.push(e["digest"].as_str().unwrap().to_string());
    }
    assert_eq!(signed.len(), 3, "{list}");
    for d in &signed {
        let sigs = signatures(&repo, d);
        assert_eq!(sigs.len(), 1, "[{mode:?}] {d}");
        let payload: Value = serde_json::from_slice(&sigs[0].0).unwrap();
        assert_eq!(payload["critical"]["image"]["docker-manifest-digest"], *d);
        assert_eq!(payload["critical"]["identity"]["docker-reference"], dest);
        assert!(
            py_verifies(&env, &key.public, &sigs[0].0, &sigs[0].1),
            "[{mode:?}] {d}"
        );
    }
    let fresh = TestEnv::new(mode);
    enable_attachments(&fresh, "");
    let public = fresh.home.join("lists.pub");
    fresh.write_user_file(&public, &std::fs::read(&key.public).unwrap());
    write_policy(
        &fresh,
        &host,
        json!({"type": "sigstoreSigned", "keyPaths": [p(&public)]}),
    );
    fresh.pull(&dest);
    let unsigned = format!("{}/{}", m.host, m.repo);
    assert_refused(
        &fresh,
        &["pull", &format!("{unsigned}:{}", m.tag)],
        "no signature exists",
    );

    // artifact push: the artifact's manifest is signed.
    let file = env.home.join("model.bin");
    env.write_user_file(&file, b"\x00weights\x01");
    let name = format!("{host}/{}:v1", unique("sigstore/artifact"));
    let (arepo, _) = repo_tag(&name);
    env.ok(&["artifact", "add", &name, p(&file)]);
    let adigest = env.home.join("artifact.digest");
    env.ok(&[
        "artifact",
        "push",
        "--sign-by-sigstore-private-key",
        p(&key.private),
        "--sign-passphrase-file",
        p(&key.pass_file),
        "--digestfile",
        p(&adigest),
        &name,
    ]);
    let ad = std::fs::read_to_string(&adigest).unwrap();
    let sigs = signatures(&arepo, &ad);
    assert_eq!(sigs.len(), 1, "[{mode:?}]");
    let payload: Value = serde_json::from_slice(&sigs[0].0).unwrap();
    assert_eq!(payload["critical"]["image"]["docker-manifest-digest"], ad);
    assert!(py_verifies(&env, &key.public, &sigs[0].0, &sigs[0].1));
}

/// Run `coracle ARGS` on a new pty, type `input` once `prompt` shows;
/// the exit code and what the terminal showed.
fn on_pty(env: &TestEnv, args: &[&str], prompt: &str, input: &str) -> (i32, String) {
    use std::io::{Read, Write};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = pty.slave;
    let mut child = env
        .coracle_command(args)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let master = std::fs::File::from(pty.master);
    let mut reader = master.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut typed = false;
    let start = Instant::now();
    let status = loop {
        while let Ok(b) = rx.recv_timeout(Duration::from_millis(20)) {
            seen.extend(b);
        }
        if !typed && String::from_utf8_lossy(&seen).contains(prompt) {
            // The prompt is printed before echo is turned off: let it be.
            std::thread::sleep(Duration::from_millis(200));
            (&master).write_all(input.as_bytes()).unwrap();
            typed = true;
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            // SAFETY: a signal to a process this test started.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            panic!(
                "{args:?} on a pty did not end: {}",
                String::from_utf8_lossy(&seen)
            );
        }
    };
    while let Ok(b) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.extend(b);
    }
    let code = status.code().unwrap_or(128 + status.signal().unwrap_or(0));
    (code, String::from_utf8_lossy(&seen).into_owned())
}

both_modes!(sigstore_passphrase_is_asked_on_a_terminal);
/// Without --sign-passphrase-file, on a terminal: asked without echo.
fn sigstore_passphrase_is_asked_on_a_terminal(mode: Mode) {
    let env = TestEnv::new(mode);
    let key = key_pair(&env, "tty", "typed secret", "sigstore");
    enable_attachments(&env, "");
    let bb = busybox();
    env.pull(&bb.reference());
    let dest = format!("{}/{}:v1", registry().host, unique("sigstore/tty"));
    let (repo, _) = repo_tag(&dest);
    let args = [
        "push",
        "--sign-by-sigstore-private-key",
        p(&key.private),
        &bb.reference(),
        &dest,
    ];
    let (code, screen) = on_pty(&env, &args, "Key Passphrase: ", "typed secret\n");
    assert_eq!(code, 0, "[{mode:?}] {screen}");
    assert!(
        !screen.contains("typed secret"),
        "[{mode:?}] echoed: {screen}"
    );
    let (bytes, _) = fetch_manifest(registry(), &repo, "v1");
    let digest = common::oci::sha256_digest(&bytes);
    let sigs = signatures(&repo, &digest);
    assert_eq!(sigs.len(), 1, "[{mode:?}]");
    assert!(py_verifies(&env, &key.public, &sigs[0].0, &sigs[0].1));
    // A wrong one typed: the clear error, nothing pushed.
    let dest2 = format!("{}/{}:v1", registry().host, unique("sigstore/tty-wrong"));
    let (repo2, _) = repo_tag(&dest2);
    let args = [
        "push",
        "--sign-by-sigstore-private-key",
        p(&key.private),
        &bb.reference(),
        &dest2,
    ];
    let (code, screen) = on_pty(&env, &args, "Key Passphrase: ", "wrong\n");
    assert_eq!(code, 125, "[{mode:?}] {screen}");
    assert!(screen.contains("decryption failed"), "{screen}");
    assert_eq!(manifest_status(&repo2, "v1"), 404);
}
