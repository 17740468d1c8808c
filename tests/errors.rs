//! Failures: each gives exit 125, one `Error: ` line naming the image or
//! registry, no panic, and leaves the store byte-for-byte as it was.

mod common;

use std::os::unix::fs::MetadataExt;

use common::oci::*;
use common::*;

/// A store that already holds busybox, so "unchanged" means something.
fn env_with_busybox(mode: Mode) -> TestEnv {
    let env = TestEnv::new(mode);
    env.pull(&busybox().reference());
    env
}

/// Pull `reference`, expect podman's error contract, and an unchanged store.
fn pull_fails_cleanly(env: &TestEnv, reference: &str, needles: &[&str], what: &str) -> Out {
    let before = snapshot(&env.store_dir());
    let out = env.run(&["pull", reference]);
    assert_error(env.mode, what, &out, 125, needles);
    assert!(
        !out.stderr.contains("\n\n"),
        "[{:?}] {what}: noisy stderr: {}",
        env.mode,
        out.stderr
    );
    let after = snapshot(&env.store_dir());
    assert_same_snapshot(&before, &after, &format!("[{:?}] {what}", env.mode));
    assert_eq!(
        env.image_ids(),
        vec![busybox().id()[..12].to_string()],
        "[{:?}] {what}: no half image registered",
        env.mode
    );
    out
}

both_modes!(pull_unknown_host);
fn pull_unknown_host(mode: Mode) {
    let env = env_with_busybox(mode);
    pull_fails_cleanly(
        &env,
        "nosuchhost.invalid:5000/x:1",
        &["nosuchhost.invalid"],
        "unknown host",
    );
}

both_modes!(pull_manifest_unknown);
fn pull_manifest_unknown(mode: Mode) {
    let p = busybox();
    let env = env_with_busybox(mode);
    let missing_tag = format!("{}:nosuchtag", p.name());
    pull_fails_cleanly(&env, &missing_tag, &[&missing_tag], "missing tag");
    let missing_repo = format!("{}/nosuch/repo:1", p.host);
    pull_fails_cleanly(&env, &missing_repo, &[&missing_repo], "missing repository");
}

both_modes!(pull_unauthorized_then_with_credentials_from_auth_json);
fn pull_unauthorized_then_with_credentials_from_auth_json(mode: Mode) {
    let reg = auth_registry();
    let p = push_unique_to(reg, busybox_image(), "auth");
    let mut env = env_with_busybox(mode);
    pull_fails_cleanly(&env, &p.reference(), &[&p.host], "no credentials");

    // podman's locations: $XDG_RUNTIME_DIR/containers/auth.json rootless,
    // REGISTRY_AUTH_FILE (any mode)
    match mode {
        Mode::Rootless => {
            env.write_user_file(
                &env.runtime_dir.join("containers/auth.json"),
                reg.auth_json().as_bytes(),
            );
        }
        Mode::Root => {
            let f = env.dir.join("auth.json");
            std::fs::write(&f, reg.auth_json()).unwrap();
            env.set_env("REGISTRY_AUTH_FILE", f.to_str().unwrap());
        }
    }
    let id = env.pull(&p.reference());
    assert_eq!(id, p.id(), "[{mode:?}] pull with credentials");
}

both_modes!(pull_wrong_credentials_is_unauthorized);
fn pull_wrong_credentials_is_unauthorized(mode: Mode) {
    let reg = auth_registry();
    let p = push_unique_to(reg, busybox_image(), "badauth");
    let mut env = env_with_busybox(mode);
    let token = "Y29yYWNsZTp3cm9uZw=="; // coracle:wrong
    let f = env.dir.join("bad-auth.json");
    std::fs::write(
        &f,
        format!(r#"{{"auths":{{"{}":{{"auth":"{token}"}}}}}}"#, reg.host),
    )
    .unwrap();
    env.set_env("REGISTRY_AUTH_FILE", f.to_str().unwrap());
    pull_fails_cleanly(&env, &p.reference(), &[&p.host], "wrong credentials");
}

/// Push a fresh image, then damage its unique layer in the registry storage.
fn corrupted(name: &str, damage: impl Fn(&std::path::Path)) -> Pushed {
    let p = push_unique(&unique_image(&unique(name)), name);
    let blob = registry().blob_data_path(&p.image().layers[1].digest);
    damage(&blob);
    p
}

both_modes!(pull_digest_mismatch);
fn pull_digest_mismatch(mode: Mode) {
    // same length, different bytes: only the sha256 check can notice
    let p = corrupted("mismatch", |blob| {
        let mut data = std::fs::read(blob).unwrap();
        for b in data.iter_mut().skip(100) {
            *b ^= 0x5a;
        }
        std::fs::write(blob, data).unwrap();
    });
    let env = env_with_busybox(mode);
    pull_fails_cleanly(&env, &p.reference(), &[&p.name()], "digest mismatch");
}

both_modes!(pull_truncated_blob);
fn pull_truncated_blob(mode: Mode) {
    let p = corrupted("truncated", |blob| {
        let len = std::fs::metadata(blob).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(blob)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
    });
    let env = env_with_busybox(mode);
    pull_fails_cleanly(&env, &p.reference(), &[&p.name()], "truncated blob");
}

both_modes!(pull_unknown_layer_media_type);
fn pull_unknown_layer_media_type(mode: Mode) {
    let mut t = TarBuilder::new();
    t.file("hello", b"hi\n", 0o644, 0, 0);
    let layer = Layer::new(&t.finish(), Compression::Gzip)
        .with_media_type("application/vnd.example.unknown");
    let p = push_unique(
        &build_image(
            &ImageSpec::new("unknown-mt"),
            vec![busybox_layer().clone(), layer],
        ),
        "unknown-mt",
    );
    let env = env_with_busybox(mode);
    let out = pull_fails_cleanly(&env, &p.reference(), &[&p.name()], "unknown media type");
    assert!(
        out.stderr.contains("application/vnd.example.unknown"),
        "[{mode:?}] say which media type: {}",
        out.stderr
    );
}

both_modes!(pull_malformed_config_json);
fn pull_malformed_config_json(mode: Mode) {
    let spec = ImageSpec::new("badconfig");
    let img = build_image_with_config(
        &spec,
        vec![busybox_layer().clone()],
        b"{\"architecture\": \"amd64\", \"os\": ".to_vec(),
    );
    let p = push_unique(&img, "badconfig");
    let env = env_with_busybox(mode);
    pull_fails_cleanly(&env, &p.reference(), &[&p.name()], "malformed config JSON");
}

fn hostile_pull(mode: Mode, name: &str, layer: Layer, marker: Option<&std::path::Path>) {
    let p = push_unique(&single_layer_image(name, layer), name);
    let passwd = std::fs::metadata("/etc/passwd").unwrap();
    let env = env_with_busybox(mode);
    pull_fails_cleanly(&env, &p.reference(), &[&p.name()], name);
    if let Some(m) = marker {
        assert!(
            !m.exists(),
            "[{mode:?}] {name}: a layer wrote {} on the host",
            m.display()
        );
    }
    let now = std::fs::metadata("/etc/passwd").unwrap();
    assert_eq!(
        (now.nlink(), now.len()),
        (passwd.nlink(), passwd.len()),
        "[{mode:?}] {name}: /etc/passwd touched"
    );
    // nothing next to the store either
    for e in std::fs::read_dir(&env.dir).unwrap().flatten() {
        assert!(
            !e.file_name().to_string_lossy().starts_with("pwned"),
            "[{mode:?}] {name}: {:?}",
            e.path()
        );
    }
}

both_modes!(pull_refuses_dotdot_entry);
fn pull_refuses_dotdot_entry(mode: Mode) {
    let marker = pwned_marker("dotdot");
    hostile_pull(mode, "dotdot", hostile::dotdot(&marker), Some(&marker));
}

both_modes!(pull_refuses_write_through_escaping_symlink);
fn pull_refuses_write_through_escaping_symlink(mode: Mode) {
    let marker = pwned_marker("symlink");
    hostile_pull(
        mode,
        "symlink-escape",
        hostile::symlink_escape(&marker),
        Some(&marker),
    );
}

both_modes!(pull_refuses_hardlink_out_of_the_layer);
fn pull_refuses_hardlink_out_of_the_layer(mode: Mode) {
    hostile_pull(mode, "hardlink-escape", hostile::hardlink_escape(), None);
}

both_modes!(rmi_of_a_missing_image);
fn rmi_of_a_missing_image(mode: Mode) {
    let env = env_with_busybox(mode);
    let before = snapshot(&env.store_dir());
    // podman: exit 1 when an image is not known (125 for other failures)
    let out = env.run(&["rmi", "nosuch:1"]);
    assert_error(mode, "rmi nosuch:1", &out, 1, &["nosuch:1"]);
    assert_same_snapshot(
        &before,
        &snapshot(&env.store_dir()),
        &format!("[{mode:?}] rmi missing"),
    );
    let out = env.run(&["image", "inspect", "nosuch:1"]);
    assert_error(mode, "inspect nosuch:1", &out, 125, &["nosuch:1"]);
}
