//! `coracle push`, `login`, `logout`: against the real registry, read back
//! by skopeo (an independent client), pulled back and run by coracle.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

/// A fresh destination repository on `reg`.
fn dest(reg: &Registry, what: &str) -> String {
    format!("{}/{}:1", reg.host, unique(&format!("pushed/{what}")))
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("running skopeo (Debian package skopeo)");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn skopeo_inspect(reference: &str, raw: bool, creds: Option<&Registry>) -> Value {
    let mut args = vec!["inspect", "--tls-verify=false"];
    let c;
    if let Some(r) = creds {
        c = format!(
            "--creds={}:{}",
            r.user.as_ref().unwrap(),
            r.pass.as_ref().unwrap()
        );
        args.push(&c);
    }
    if raw {
        args.push("--raw");
    }
    let target = format!("docker://{reference}");
    args.push(&target);
    serde_json::from_str(&skopeo(&args)).unwrap()
}

/// `Copying blob ...` lines of a push's stderr.
fn blob_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("Copying blob"))
        .collect()
}

/// Pull `reference` into a fresh store and run `echo ok` in it.
fn pull_and_run(mode: Mode, reference: &str, extra_pull: &[&str]) {
    let env = TestEnv::new(mode);
    let mut args = vec!["pull"];
    args.extend_from_slice(extra_pull);
    args.push(reference);
    env.ok(&args);
    let out = env.ok(&["run", "--rm", reference, "echo", "ok"]);
    assert_eq!(out.trim(), "ok", "[{mode:?}] running the pushed image");
}

both_modes!(push_pulled_image_skopeo_reads_it_and_it_runs);
fn push_pulled_image_skopeo_reads_it_and_it_runs(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let d = dest(registry(), "bb");
    let digestfile = env.home.join("digest");
    let out = env.run(&[
        "push",
        "--tls-verify=false",
        "--digestfile",
        digestfile.to_str().unwrap(),
        &p.reference(),
        &d,
    ]);
    assert_eq!(out.status, 0, "[{mode:?}] push: {}", out.stderr);
    assert!(
        out.stderr.contains("Writing manifest to image destination"),
        "[{mode:?}] {}",
        out.stderr
    );
    let digest = std::fs::read_to_string(&digestfile).unwrap();
    // Unchanged and already on this registry: mounted, same manifest.
    assert_eq!(
        digest, p.digest,
        "[{mode:?}] an unchanged pulled image keeps its manifest digest"
    );
    let info = skopeo_inspect(&d, false, None);
    assert_eq!(info["Digest"], digest, "[{mode:?}] skopeo sees the digest");
    assert_eq!(
        info["Layers"].as_array().unwrap().len(),
        1,
        "[{mode:?}] {info}"
    );
    let layout = env.dir.join("oci-copy");
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &format!("docker://{d}"),
        &format!("oci:{}:copied", layout.display()),
    ]);
    assert!(
        layout.join("index.json").is_file(),
        "[{mode:?}] skopeo copy"
    );
    pull_and_run(mode, &d, &[]);
}

both_modes!(repush_sends_no_layer_and_keeps_the_digest);
fn repush_sends_no_layer_and_keeps_the_digest(mode: Mode) {
    let p = layers();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let d = dest(registry(), "again");
    let f1 = env.home.join("d1");
    let f2 = env.home.join("d2");
    env.ok(&[
        "push",
        "--digestfile",
        f1.to_str().unwrap(),
        &p.reference(),
        &d,
    ]);
    let out = env.run(&[
        "push",
        "--digestfile",
        f2.to_str().unwrap(),
        &p.reference(),
        &d,
    ]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    let lines = blob_lines(&out.stderr);
    assert_eq!(lines.len(), p.diff_ids().len(), "[{mode:?}] {}", out.stderr);
    for l in lines {
        assert!(
            l.ends_with("skipped: already exists"),
            "[{mode:?}] a re-push sent a layer: {l}"
        );
    }
    let (a, b) = (
        std::fs::read_to_string(&f1).unwrap(),
        std::fs::read_to_string(&f2).unwrap(),
    );
    assert_eq!(a, b, "[{mode:?}] re-push changed the manifest digest");
    assert_eq!(a, p.digest, "[{mode:?}]");
}

both_modes!(zstd_push_rebuilds_layers_deterministically_in_chunks);
/// zstd layers are made from the layer directories (whiteouts, hard links,
/// setuid, odd owners of the `layers` fixture) and sent in small chunks;
/// making them again gives the same bytes, so a re-push sends nothing.
fn zstd_push_rebuilds_layers_deterministically_in_chunks(mode: Mode) {
    let p = layers();
    let mut env = TestEnv::new(mode);
    env.set_env("CORACLE_PUSH_CHUNK_SIZE", "65536");
    env.pull(&p.reference());
    let d = dest(registry(), "zstd");
    let f1 = env.home.join("d1");
    let out = env.run(&[
        "push",
        "--compression-format",
        "zstd",
        "--digestfile",
        f1.to_str().unwrap(),
        &p.reference(),
        &d,
    ]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert!(
        blob_lines(&out.stderr).iter().any(|l| l.ends_with(" done")),
        "[{mode:?}] zstd blobs must be sent: {}",
        out.stderr
    );
    let raw = skopeo_inspect(&d, true, None);
    assert_eq!(
        raw["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    for l in raw["layers"].as_array().unwrap() {
        assert_eq!(
            l["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd",
            "[{mode:?}] {raw}"
        );
    }
    let f2 = env.home.join("d2");
    let out = env.run(&[
        "push",
        "--compression-format=zstd",
        "--digestfile",
        f2.to_str().unwrap(),
        &p.reference(),
        &d,
    ]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert!(
        blob_lines(&out.stderr)
            .iter()
            .all(|l| l.ends_with("skipped: already exists")),
        "[{mode:?}] {}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&f1).unwrap(),
        std::fs::read_to_string(&f2).unwrap(),
        "[{mode:?}] the same layers must give the same blobs"
    );
    // What was made from the directories unpacks to the same tree.
    let back = TestEnv::new(mode);
    back.ok(&["pull", &d]);
    let info = back.inspect(&d);
    let layers: Vec<String> = serde_json::from_value(info["RootFS"]["Layers"].clone()).unwrap();
    let orig = env.layer_dir(&p.diff_ids()[1]);
    let again = back.layer_dir(&layers[1]);
    assert_same_snapshot(
        &snapshot(&orig),
        &snapshot(&again),
        &format!("[{mode:?}] layer 2"),
    );
    pull_and_run(mode, &d, &[]);
}

both_modes!(format_v2s2_gives_a_docker_manifest);
fn format_v2s2_gives_a_docker_manifest(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let d = dest(registry(), "v2s2");
    env.ok(&["push", "--format", "v2s2", &p.reference(), &d]);
    let raw = skopeo_inspect(&d, true, None);
    assert_eq!(
        raw["mediaType"], "application/vnd.docker.distribution.manifest.v2+json",
        "[{mode:?}] {raw}"
    );
    assert_eq!(
        raw["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );
    assert_eq!(
        raw["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    pull_and_run(mode, &d, &[]);
    let out = env.run(&[
        "push",
        "--format",
        "v2s2",
        "--compression-format",
        "zstd",
        &p.reference(),
        &d,
    ]);
    assert_error(mode, "push v2s2 zstd", &out, 125, &["zstd"]);
}

/// The auth file login writes for this env: the default one rootless
/// ($XDG_RUNTIME_DIR/containers/auth.json), REGISTRY_AUTH_FILE as root
/// (podman's root default is the host's /run/containers/0).
fn auth_file(env: &mut TestEnv) -> std::path::PathBuf {
    match env.mode {
        Mode::Rootless => env.runtime_dir.join("containers/auth.json"),
        Mode::Root => {
            let f = env.home.join("conf/auth.json");
            env.set_env("REGISTRY_AUTH_FILE", f.to_str().unwrap());
            f
        }
    }
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

both_modes!(login_push_logout_against_htpasswd_registry);
fn login_push_logout_against_htpasswd_registry(mode: Mode) {
    let p = busybox();
    let reg = auth_registry();
    let host = reg.host.as_str();
    let mut env = TestEnv::new(mode);
    env.pull(&p.reference());
    let file = auth_file(&mut env);
    // Another tool's entry and field: login keeps them, a failed login
    // leaves the whole file as it was.
    let before =
        br#"{"auths":{"other.example":{"auth":"b3RoZXI6cHc="}},"credHelpers":{"x.io":"pass"}}"#;
    env.write_user_file(&file, before);
    let d = dest(reg, "auth");

    let out = env.run(&["push", &p.reference(), &d]);
    assert_error(mode, "push without login", &out, 125, &[host]);
    assert!(
        out.stderr.contains("unauthorized") || out.stderr.contains("authentication"),
        "[{mode:?}] {}",
        out.stderr
    );

    let out = env.run_stdin(
        &[
            "login",
            "--tls-verify=false",
            "-u",
            "coracle",
            "--password-stdin",
            host,
        ],
        b"wrong\n",
    );
    assert_error(
        mode,
        "login wrong password",
        &out,
        125,
        &["invalid username/password", host],
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "[{mode:?}] auth file changed"
    );

    let out = env.run_stdin(
        &[
            "login",
            "--tls-verify=false",
            "-u",
            "coracle",
            "--password-stdin",
            host,
        ],
        b"s3cret\n",
    );
    assert_eq!(out.status, 0, "[{mode:?}] login: {}", out.stderr);
    assert_eq!(out.stdout.trim(), "Login Succeeded!");
    assert!(!out.stdout.contains("s3cret") && !out.stderr.contains("s3cret"));
    assert_eq!(mode_of(&file), 0o600, "[{mode:?}] auth file mode");
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(v["auths"][host]["auth"].is_string(), "[{mode:?}] {v}");
    assert_eq!(v["auths"]["other.example"]["auth"], "b3RoZXI6cHc=");
    assert_eq!(v["credHelpers"]["x.io"], "pass");
    assert_eq!(env.ok(&["login", "--get-login", host]).trim(), "coracle");
    assert!(file.exists(), "[{mode:?}] the auth file has it");

    let out = env.run(&["push", &p.reference(), &d]);
    assert_eq!(out.status, 0, "[{mode:?}] push after login: {}", out.stderr);
    assert!(!out.stderr.contains("s3cret"));
    let info = skopeo_inspect(&d, false, Some(reg));
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1);
    // The layer was made again from its directory; pushing again finds
    // the blob made the first time and sends nothing.
    let out = env.run(&["push", &p.reference(), &d]);
    assert_eq!(out.status, 0, "[{mode:?}] re-push: {}", out.stderr);
    let lines = blob_lines(&out.stderr);
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.ends_with("skipped: already exists")),
        "[{mode:?}] {}",
        out.stderr
    );
    let again = skopeo_inspect(&d, false, Some(reg));
    assert_eq!(
        again["Digest"], info["Digest"],
        "[{mode:?}] re-push changed the digest"
    );
    // Sent from the layer directory to a registry that had nothing.
    pull_and_run(mode, &d, &["--creds", "coracle:s3cret"]);

    let out = env.ok(&["logout", host]);
    assert_eq!(out.trim(), format!("Removed login credentials for {host}"));
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(v["auths"].get(host).is_none(), "[{mode:?}] {v}");
    assert!(v["auths"].get("other.example").is_some());
    let out = env.run(&["login", "--get-login", host]);
    assert_error(
        mode,
        "get-login after logout",
        &out,
        125,
        &["not logged into", host],
    );
    let out = env.run(&["logout", host]);
    assert_error(mode, "logout twice", &out, 125, &["not logged into"]);
    env.ok(&["logout", "--all"]);
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["auths"], serde_json::json!({}));
}

both_modes!(login_creates_a_private_auth_file_with_password_flag);
fn login_creates_a_private_auth_file_with_password_flag(mode: Mode) {
    let reg = auth_registry();
    let mut env = TestEnv::new(mode);
    let file = auth_file(&mut env);
    assert!(!file.exists());
    let out = env.ok(&[
        "login",
        "--tls-verify=false",
        "-u",
        "coracle",
        "-p",
        "s3cret",
        &reg.host,
    ]);
    assert_eq!(out.trim(), "Login Succeeded!");
    assert_eq!(mode_of(&file), 0o600);
    assert_eq!(
        mode_of(file.parent().unwrap()),
        0o700,
        "[{mode:?}] new parent dir"
    );
    // Stored credentials are checked again when none are given.
    let out = env.run(&["login", "--tls-verify=false", &reg.host]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert!(
        out.stdout.contains("Already logged in"),
        "[{mode:?}] {}",
        out.stdout
    );
    // pull finds the credentials in the same default file.
    let p = push_unique_to(reg, busybox_image(), "login-pull");
    env.ok(&["pull", &p.reference()]);
}

both_modes!(push_refusals_are_one_error_line);
fn push_refusals_are_one_error_line(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let out = env.run(&["push", "no-such-image:1", &dest(registry(), "x")]);
    assert_error(mode, "push unknown image", &out, 125, &["no-such-image"]);
    env.ok(&["tag", &p.reference(), "mine:1"]);
    let out = env.run(&["push", "mine:1"]);
    assert_error(
        mode,
        "push localhost image alone",
        &out,
        125,
        &["localhost/mine:1"],
    );
    let out = env.run(&["push", &p.reference(), "127.0.0.1:1/nowhere/app:1"]);
    assert_error(mode, "push to no registry", &out, 125, &["127.0.0.1:1"]);
    // `push IMG` alone goes to the image's own name.
    let own = push_unique(busybox_image(), "own");
    env.pull(&own.reference());
    let out = env.run(&["push", &own.reference()]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    let out = env.run(&[
        "push",
        "--format",
        "v1",
        &p.reference(),
        &dest(registry(), "x"),
    ]);
    assert_error(mode, "push bad format", &out, 125, &["v1"]);
}

/// Every file under `dir` (binary-safe) that holds `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return hits;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            hits.extend(files_holding(&path, needle));
        } else if meta.is_file() {
            let data = std::fs::read(&path).unwrap_or_default();
            if data.windows(needle.len()).any(|w| w == needle) {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}

both_modes!(credentials_never_stored_or_printed);
/// Credentials given on the command line serve the pull or push and are
/// forgotten: no record, event, log or output of any verb holds the password.
fn credentials_never_stored_or_printed(mode: Mode) {
    let reg = auth_registry();
    let host = reg.host.as_str();
    let (user, pass) = (reg.user.as_deref().unwrap(), reg.pass.as_deref().unwrap());
    let creds = format!("{user}:{pass}");
    let src = push_unique_to(reg, rt_image(), "creds").reference();
    let mut env = TestEnv::new(mode);
    // login writes its file outside the store, where it belongs.
    let _ = auth_file(&mut env);
    let _reaper = Reaper(&env);
    let mark = env.mark();
    env.ok(&["pull", "--creds", &creds, &src]);
    env.ok(&[
        "run", "--name", "r", "-e", &mark, "--creds", &creds, &src, "echo", "ran",
    ]);
    env.ok(&[
        "run",
        "--rm",
        "-e",
        &mark,
        &format!("--creds={creds}"),
        &src,
        "true",
    ]);
    env.ok(&[
        "create", "--name", "c", "-e", &mark, "--creds", &creds, &src, "true",
    ]);
    env.ok(&["push", "--creds", &creds, &src, &dest(reg, "creds")]);
    env.ok(&["login", "-u", user, "-p", pass, host]);
    env.ok(&["run", "--rm", "-e", &mark, &src, "true"]);
    let mut outputs = Vec::new();
    for args in [
        &["inspect", "r", "c"][..],
        &["ps", "-a", "--no-trunc", "--format", "json"],
        &["ps", "-a", "--no-trunc"],
        &["events", "--stream=false", "--format", "json"],
        &["logs", "r"],
        &["history", &src],
        &["image", "inspect", &src],
        &["info"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status, 0, "[{mode:?}] {args:?}: {}", out.stderr);
        outputs.push((args.join(" "), format!("{}{}", out.stdout, out.stderr)));
    }
    // The checks can see what they look for: the run was recorded.
    assert!(
        outputs[0].1.contains("--creds"),
        "[{mode:?}] {}",
        outputs[0].1
    );
    for (what, out) in &outputs {
        assert!(
            !out.contains(pass),
            "[{mode:?}] `coracle {what}` prints the password:\n{out}"
        );
    }
    for dir in [env.store_dir(), env.runroot_dir()] {
        let hits = files_holding(&dir, pass.as_bytes());
        assert!(
            hits.is_empty(),
            "[{mode:?}] the password is stored in {hits:#?}"
        );
    }
}

both_modes!(compression_flags_choose_and_reuse_blobs);
/// `--compression-format` recompresses (forced by default), `--force-compression=false`
/// reuses what the registry holds, `--compression-level` changes the bytes.
fn compression_flags_choose_and_reuse_blobs(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let layer_type = |d: &str| skopeo_inspect(d, true, None)["layers"][0]["mediaType"].clone();
    let d1 = dest(registry(), "lvl");
    env.ok(&[
        "push",
        "--compression-format",
        "zstd",
        "--compression-level",
        "1",
        &p.reference(),
        &d1,
    ]);
    assert_eq!(
        layer_type(&d1),
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "[{mode:?}]"
    );
    let low = skopeo_inspect(&d1, true, None)["layers"][0]["size"]
        .as_u64()
        .unwrap();
    // A fresh store: this one remembers the blob it made and would reuse it.
    let other = TestEnv::new(mode);
    other.pull(&p.reference());
    let d2 = dest(registry(), "lvl");
    other.ok(&[
        "push",
        "--compression-format=zstd",
        "--compression-level=19",
        &p.reference(),
        &d2,
    ]);
    let high = skopeo_inspect(&d2, true, None)["layers"][0]["size"]
        .as_u64()
        .unwrap();
    assert!(
        high < low,
        "[{mode:?}] level 19 ({high} bytes) must be smaller than level 1 ({low})"
    );

    // The pulled gzip blob is on the registry: not forced, zstd asked for
    // but the gzip blob reused; forced (the default with the format), zstd.
    let d3 = dest(registry(), "reuse");
    let out = env.run(&[
        "push",
        "--compression-format",
        "zstd",
        "--force-compression=false",
        &p.reference(),
        &d3,
    ]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert_eq!(
        layer_type(&d3),
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "[{mode:?}] reused"
    );
    assert!(
        blob_lines(&out.stderr)
            .iter()
            .all(|l| l.ends_with("skipped: already exists")),
        "[{mode:?}] {}",
        out.stderr
    );
    // --compress only concerns dir: destinations; a registry push accepts it.
    env.ok(&[
        "push",
        "--compress",
        "--compression-format",
        "zstd",
        &p.reference(),
        &d3,
    ]);
    assert_eq!(
        layer_type(&d3),
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "[{mode:?}] forced"
    );

    let d4 = dest(registry(), "bad");
    assert_refused(
        &env,
        &[
            "push",
            "--compression-format",
            "zstd:chunked",
            &p.reference(),
            &d4,
        ],
        "zstd:chunked",
    );
    assert_refused(
        &env,
        &[
            "push",
            "--compression-format",
            "gzip",
            "--compression-level",
            "10",
            &p.reference(),
            &d4,
        ],
        "level 10",
    );
    assert_refused(
        &env,
        &["push", "--compression-format", "lz4", &p.reference(), &d4],
        "lz4",
    );
}

both_modes!(login_compat_auth_file_and_secret);
/// `--compat-auth-file` writes docker's config.json instead of the auth
/// file; `--secret` takes the password from a secret.
fn login_compat_auth_file_and_secret(mode: Mode) {
    let reg = auth_registry();
    let host = reg.host.as_str();
    let mut env = TestEnv::new(mode);
    let file = auth_file(&mut env);
    // As in podman, REGISTRY_AUTH_FILE is --authfile's default, and the two
    // files cannot both be named.
    env.remove_env("REGISTRY_AUTH_FILE");
    let docker = env.home.join(".docker/config.json");
    let out = env.ok(&[
        "login",
        "--tls-verify=false",
        "--compat-auth-file",
        docker.to_str().unwrap(),
        "-u",
        "coracle",
        "-p",
        "s3cret",
        host,
    ]);
    assert_eq!(out.trim(), "Login Succeeded!", "[{mode:?}]");
    let v: Value = serde_json::from_slice(&std::fs::read(&docker).unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::from_str::<Value>(&reg.auth_json()).unwrap(),
        "[{mode:?}] docker's format"
    );
    assert_eq!(mode_of(&docker), 0o600);
    assert!(!file.exists(), "[{mode:?}] the auth file is left alone");
    let out = env.ok(&[
        "login",
        "--get-login",
        "--compat-auth-file",
        docker.to_str().unwrap(),
        host,
    ]);
    assert_eq!(out.trim(), "coracle", "[{mode:?}]");
    let out = env.run(&[
        "login",
        "--authfile",
        file.to_str().unwrap(),
        "--compat-auth-file",
        docker.to_str().unwrap(),
        "-u",
        "a",
        "-p",
        "b",
        host,
    ]);
    assert_error(
        mode,
        "both files",
        &out,
        125,
        &["can not be set simultaneously"],
    );
    let out = env.ok(&[
        "logout",
        "--compat-auth-file",
        docker.to_str().unwrap(),
        host,
    ]);
    assert_eq!(out.trim(), format!("Removed login credentials for {host}"));
    let v: Value = serde_json::from_slice(&std::fs::read(&docker).unwrap()).unwrap();
    assert_eq!(v["auths"], serde_json::json!({}), "[{mode:?}]");

    // --secret: the password from the store's secret, its name the user.
    let file = auth_file(&mut env);
    let pw = env.home.join("pw");
    env.write_user_file(&pw, b"s3cret");
    env.ok(&["secret", "create", "coracle", pw.to_str().unwrap()]);
    let out = env.ok(&[
        "login",
        "-v",
        "--tls-verify=false",
        "--secret",
        "coracle",
        host,
    ]);
    assert_eq!(
        out,
        format!("Used: {}\nLogin Succeeded!\n", file.display()),
        "[{mode:?}]"
    );
    assert_eq!(env.ok(&["login", "--get-login", host]).trim(), "coracle");
    assert!(file.exists(), "[{mode:?}] the auth file has it");
    env.write_user_file(&pw, b"wrong");
    env.ok(&["secret", "create", "bad", pw.to_str().unwrap()]);
    let out = env.run(&[
        "login",
        "--tls-verify=false",
        "--secret",
        "bad",
        "-u",
        "coracle",
        host,
    ]);
    assert_error(
        mode,
        "login with a wrong secret",
        &out,
        125,
        &["invalid username/password"],
    );
    let out = env.run(&["login", "--tls-verify=false", "--secret", "nosuch", host]);
    assert_error(mode, "login with no such secret", &out, 125, &["nosuch"]);
    let out = env.run(&[
        "login",
        "--tls-verify=false",
        "--secret",
        "bad",
        "-p",
        "x",
        "-u",
        "coracle",
        host,
    ]);
    assert_error(mode, "--secret and --password", &out, 125, &["only one of"]);
}

both_modes!(manifest_add_from_a_registry_and_push_copies_it);
/// `manifest add docker://...` reads the registry (nothing is pulled);
/// `manifest push` copies those images: mounted on the same registry,
/// streamed to another one.
fn manifest_add_from_a_registry_and_push_copies_it(mode: Mode) {
    let m = multi();
    let b = busybox();
    let env = TestEnv::new(mode);
    let inspect = |list: &str| -> Value {
        serde_json::from_str(&env.ok(&["manifest", "inspect", list])).unwrap()
    };
    let digests = |v: &Value| -> Vec<String> {
        v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["digest"].as_str().unwrap().to_string())
            .collect()
    };
    let amd = m.platform("linux/amd64");
    let arm = m.platform("linux/arm64/v8");

    env.ok(&[
        "manifest",
        "create",
        "--tls-verify=false",
        "one",
        &format!("docker://{}", m.reference()),
    ]);
    assert_eq!(
        digests(&inspect("one")),
        vec![amd.manifest_digest.clone()],
        "[{mode:?}] the host's entry"
    );
    env.ok(&[
        "manifest",
        "add",
        "--arch",
        "arm64",
        "one",
        &format!("docker://{}", m.reference()),
    ]);
    env.ok(&["manifest", "add", "one", &b.reference()]);
    let v = inspect("one");
    assert_eq!(
        digests(&v),
        [
            amd.manifest_digest.clone(),
            arm.manifest_digest.clone(),
            b.digest.clone()
        ],
        "[{mode:?}] {v}"
    );
    assert_eq!(
        v["manifests"][2]["platform"]["architecture"], "amd64",
        "[{mode:?}] from the image's config"
    );
    env.ok(&["manifest", "create", "all"]);
    env.ok(&[
        "manifest",
        "add",
        "--all",
        "all",
        &format!("docker://{}", m.reference()),
    ]);
    assert_eq!(
        digests(&inspect("all")),
        [amd.manifest_digest.clone(), arm.manifest_digest.clone()]
    );
    assert_eq!(
        env.image_ids().len(),
        2,
        "[{mode:?}] only the two lists: nothing pulled"
    );

    // Same registry: blobs mounted. Another registry (wanting a login): sent.
    let same = dest(registry(), "remote-list");
    env.ok(&["manifest", "push", "one", &same]);
    let raw = skopeo_inspect(&same, true, None);
    assert_eq!(digests(&raw), digests(&v), "[{mode:?}] {raw}");
    let reg = auth_registry();
    let other = dest(reg, "remote-list");
    let creds = format!(
        "--creds={}:{}",
        reg.user.as_deref().unwrap(),
        reg.pass.as_deref().unwrap()
    );
    let out = env.run(&["manifest", "push", &creds, "one", &other]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert!(
        blob_lines(&out.stderr).iter().any(|l| l.ends_with(" done")),
        "[{mode:?}] {}",
        out.stderr
    );
    let back = TestEnv::new(mode);
    let out = back.ok(&["pull", "-q", &creds, "--platform", "linux/arm64", &other]);
    assert_eq!(out.trim(), arm.id(), "[{mode:?}] the arm64 image, copied");

    // Reading from the registry that wants a login needs the credentials.
    let out = env.run(&["manifest", "add", "one", &format!("docker://{other}")]);
    assert_error(
        mode,
        "manifest add without credentials",
        &out,
        125,
        &[&reg.host],
    );
    env.ok(&[
        "manifest",
        "add",
        &creds,
        "all",
        &format!("docker://{other}"),
    ]);
}
