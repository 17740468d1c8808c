//! `coracle save` and `load`: every format round trips into a fresh store
//! and runs; skopeo (an independent implementation) reads what we write
//! and writes what we load; bad archives change nothing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::oci::{hex_of, Image, TarBuilder};
use common::*;
use serde_json::Value;

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

/// A path the command's user may create (its home).
fn user_path(env: &TestEnv, name: &str) -> PathBuf {
    env.home.join(name)
}

/// A root-made file every test user can read.
fn shared_path(name: &str) -> PathBuf {
    base_dir().join(unique(name))
}

fn make_readable(p: &Path) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// `Loaded image: X` lines of a load.
fn loaded(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .map(|s| s.trim().to_string())
        .collect()
}

fn runs(env: &TestEnv, image: &str) {
    let out = env.ok(&["run", "--rm", image, "echo", "ok"]);
    assert_eq!(out.trim(), "ok", "[{:?}] running {image}", env.mode);
}

fn id_of(env: &TestEnv, image: &str) -> String {
    env.inspect(image)["Id"].as_str().unwrap().to_string()
}

both_modes!(every_format_round_trips_into_a_fresh_store_and_runs);
fn every_format_round_trips_into_a_fresh_store_and_runs(mode: Mode) {
    let p = busybox();
    let src = TestEnv::new(mode);
    let id = src.pull(&p.reference());
    for format in ["docker-archive", "oci-archive", "oci-dir"] {
        let out = user_path(&src, &format!("saved-{format}"));
        src.ok(&[
            "save",
            "-q",
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
            &p.reference(),
        ]);
        let dst = TestEnv::new(mode);
        let stdout = dst.ok(&["load", "-i", out.to_str().unwrap()]);
        assert_eq!(
            loaded(&stdout),
            [p.reference()],
            "[{mode:?}] {format}: {stdout}"
        );
        runs(&dst, &p.reference());
        // The id stays exactly when the written layer is byte for byte
        // the pulled one; otherwise the config names what was written.
        let loaded_id = id_of(&dst, &p.reference());
        let diff_ids = dst.inspect(&p.reference())["RootFS"]["Layers"].clone();
        if diff_ids == serde_json::json!(p.diff_ids()) {
            assert_eq!(loaded_id, id, "[{mode:?}] {format}: same layers, same id");
        }
        // A second round trip from our own writer must byte-match: same id.
        let again = user_path(&dst, &format!("again-{format}"));
        dst.ok(&[
            "save",
            "-q",
            "--format",
            format,
            "-o",
            again.to_str().unwrap(),
            &p.reference(),
        ]);
        let third = TestEnv::new(mode);
        third.ok(&["load", "-q", "-i", again.to_str().unwrap()]);
        assert_eq!(
            id_of(&third, &p.reference()),
            loaded_id,
            "[{mode:?}] {format}: a re-saved image keeps its id"
        );
        runs(&third, &p.reference());
    }
}

both_modes!(docker_archive_has_the_docker_layout);
fn docker_archive_has_the_docker_layout(mode: Mode) {
    let p = layers();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let out = user_path(&env, "d.tar");
    env.ok(&["save", "-o", out.to_str().unwrap(), &p.reference()]);
    let mut names = Vec::new();
    let mut manifest = Vec::new();
    let f = std::fs::File::open(&out).unwrap();
    let mut a = tar::Archive::new(f);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if name == "manifest.json" {
            std::io::Read::read_to_end(&mut e, &mut manifest).unwrap();
        }
        names.push(name);
    }
    assert!(names.contains(&"repositories".to_string()), "{names:?}");
    let m: Value = serde_json::from_slice(&manifest).unwrap();
    let item = &m[0];
    assert_eq!(item["RepoTags"], serde_json::json!([p.reference()]));
    let layers = item["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), p.diff_ids().len(), "{m}");
    for l in layers {
        let l = l.as_str().unwrap();
        assert!(
            l.ends_with("/layer.tar") && names.contains(&l.to_string()),
            "{l}"
        );
    }
    let config = item["Config"].as_str().unwrap();
    assert!(config.ends_with(".json") && names.contains(&config.to_string()));
    // Stdout is the default target.
    let piped = env.ok(&["save", &p.reference()]);
    assert!(!piped.is_empty(), "[{mode:?}] save to a pipe");
}

both_modes!(skopeo_reads_and_pushes_an_oci_dir);
fn skopeo_reads_and_pushes_an_oci_dir(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let dir = user_path(&env, "layout");
    env.ok(&[
        "save",
        "--format",
        "oci-dir",
        "-o",
        dir.to_str().unwrap(),
        &p.reference(),
    ]);
    let target = format!("oci:{}:{}", dir.display(), p.reference());
    let info: Value = serde_json::from_str(&skopeo(&["inspect", &target])).unwrap();
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1, "{info}");
    let cfg: Value = serde_json::from_str(&skopeo(&["inspect", "--config", &target])).unwrap();
    assert_eq!(cfg["config"]["Cmd"], serde_json::json!(["sh"]), "{cfg}");
    let dest = format!("{}/{}:1", registry().host, unique("saved/oci-dir"));
    skopeo(&[
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        &target,
        &format!("docker://{dest}"),
    ]);
    let fresh = TestEnv::new(mode);
    fresh.ok(&["pull", "--tls-verify=false", &dest]);
    runs(&fresh, &dest);
}

both_modes!(archives_made_by_skopeo_load_and_run);
fn archives_made_by_skopeo_load_and_run(mode: Mode) {
    let p = busybox();
    let docker_tar = shared_path("skopeo-docker.tar");
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &format!("docker://{}", p.reference()),
        &format!("docker-archive:{}:img:tag", docker_tar.display()),
    ]);
    make_readable(&docker_tar);
    let oci_tar = shared_path("skopeo-oci.tar");
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &format!("docker://{}", p.reference()),
        &format!("oci-archive:{}:myimg:2", oci_tar.display()),
    ]);
    make_readable(&oci_tar);
    let env = TestEnv::new(mode);
    let out = env.ok(&["load", "-i", docker_tar.to_str().unwrap()]);
    // As podman: docker-archive names are Docker references.
    assert_eq!(loaded(&out), ["docker.io/library/img:tag"], "[{mode:?}]");
    runs(&env, "docker.io/library/img:tag");
    let out = env.ok(&["load", "-i", oci_tar.to_str().unwrap()]);
    assert_eq!(loaded(&out), ["localhost/myimg:2"], "[{mode:?}]");
    runs(&env, "myimg:2");
    assert_eq!(id_of(&env, "myimg:2"), p.id(), "[{mode:?}] same image");
}

both_modes!(several_images_in_one_archive);
fn several_images_in_one_archive(mode: Mode) {
    let (a, b) = (busybox(), layers());
    let env = TestEnv::new(mode);
    env.pull(&a.reference());
    env.pull(&b.reference());
    let out = user_path(&env, "multi.tar");
    let o = out.to_str().unwrap();
    let refused = env.fails(&["save", "-o", o, &a.reference(), &b.reference()], 125);
    assert_error(mode, "save two images without -m", &refused, 125, &["-m"]);
    for format in ["docker-archive", "oci-archive"] {
        env.ok(&[
            "save",
            "-q",
            "-m",
            "--format",
            format,
            "-o",
            o,
            &a.reference(),
            &b.reference(),
        ]);
        let fresh = TestEnv::new(mode);
        let stdout = fresh.ok(&["load", "-i", o]);
        let mut got = loaded(&stdout);
        got.sort();
        let mut want = vec![a.reference(), b.reference()];
        want.sort();
        assert_eq!(got, want, "[{mode:?}] {format}");
        runs(&fresh, &a.reference());
        runs(&fresh, &b.reference());
    }
}

both_modes!(compressed_archive_loads_from_stdin);
fn compressed_archive_loads_from_stdin(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let out = user_path(&env, "plain.tar");
    env.ok(&["save", "-o", out.to_str().unwrap(), &p.reference()]);
    let gz = Command::new("gzip")
        .arg("-c")
        .arg(&out)
        .output()
        .unwrap()
        .stdout;
    let fresh = TestEnv::new(mode);
    let r = fresh.run_stdin(&["load"], &gz);
    assert_eq!(r.status, 0, "[{mode:?}] {}", r.stderr);
    assert_eq!(loaded(&r.stdout), [p.reference()]);
    runs(&fresh, &p.reference());
    // And a gzip file through -i.
    let gz_path = user_path(&fresh, "x.tar.gz");
    fresh.write_user_file(&gz_path, &gz);
    let again = TestEnv::new(mode);
    again.ok(&["load", "-i", gz_path.to_str().unwrap()]);
    runs(&again, &p.reference());
}

/// A store with one image, to prove a failed load leaves it as it was.
fn store_with_an_image(mode: Mode) -> TestEnv {
    let env = TestEnv::new(mode);
    env.pull(&busybox().reference());
    env
}

both_modes!(truncated_or_corrupt_archive_registers_nothing);
fn truncated_or_corrupt_archive_registers_nothing(mode: Mode) {
    let p = layers();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let out = user_path(&env, "good.tar");
    env.ok(&["save", "-o", out.to_str().unwrap(), &p.reference()]);
    let good = std::fs::read(&out).unwrap();

    let target = store_with_an_image(mode);
    let before = snapshot(&target.store_dir());
    // Cut in the middle of the last layer, and at a block boundary.
    for cut in [good.len() * 2 / 3, (good.len() / 2) & !511] {
        let bad = user_path(&target, "cut.tar");
        target.write_user_file(&bad, &good[..cut]);
        let r = target.run(&["load", "-i", bad.to_str().unwrap()]);
        assert_error(mode, "load a truncated archive", &r, 125, &[]);
        assert_same_snapshot(
            &before,
            &snapshot(&target.store_dir()),
            "the store after a failed load",
        );
        // The same through a pipe.
        let r = target.run_stdin(&["load"], &good[..cut]);
        assert_error(mode, "load a truncated stream", &r, 125, &[]);
        assert_same_snapshot(
            &before,
            &snapshot(&target.store_dir()),
            "the store after a failed load",
        );
    }
    // A flipped byte inside a layer: its diff id no longer matches.
    let mut flipped = good.clone();
    let at = good.len() / 2;
    flipped[at] ^= 0x55;
    let r = target.run_stdin(&["load"], &flipped);
    assert_error(mode, "load a corrupt archive", &r, 125, &[]);
    assert_same_snapshot(
        &before,
        &snapshot(&target.store_dir()),
        "the store after a failed load",
    );
    assert_eq!(target.image_names(), [busybox().reference()]);
}

/// A docker-archive around `layer` with `extra` entries first.
fn handmade_archive(img: &Image, extra: impl FnOnce(&mut TarBuilder)) -> Vec<u8> {
    let mut t = TarBuilder::new();
    extra(&mut t);
    let hex = hex_of(&img.config_digest).to_string();
    let mut layers = Vec::new();
    for (i, l) in img.layers.iter().enumerate() {
        let name = format!("layer{i}.tar");
        t.file(&name, &l.blob, 0o644, 0, 0);
        layers.push(name);
    }
    t.file(&format!("{hex}.json"), &img.config, 0o644, 0, 0);
    let m = serde_json::json!([{ "Config": format!("{hex}.json"), "RepoTags": ["hostile:1"], "Layers": layers }]);
    t.file(
        "manifest.json",
        &serde_json::to_vec(&m).unwrap(),
        0o644,
        0,
        0,
    );
    t.finish()
}

both_modes!(hostile_archive_entries_are_refused);
fn hostile_archive_entries_are_refused(mode: Mode) {
    let target = store_with_an_image(mode);
    let before = snapshot(&target.store_dir());

    // `../` in the archive itself.
    let marker = pwned_marker("archive");
    let img = busybox_image();
    let up = "../../../../../../../../../..";
    let bad = handmade_archive(img, |t| {
        t.raw(
            tar::EntryType::Regular,
            &format!("{up}{}", marker.display()),
            None,
            b"pwned\n",
        );
    });
    let r = target.run_stdin(&["load"], &bad);
    assert_error(mode, "load an archive with ../", &r, 125, &["refusing"]);
    assert!(
        !marker.exists(),
        "[{mode:?}] wrote outside: {}",
        marker.display()
    );
    assert_same_snapshot(
        &before,
        &snapshot(&target.store_dir()),
        "the store after a failed load",
    );

    // A hostile layer inside a well-formed archive.
    let marker = pwned_marker("layer");
    let img = single_layer_image("hostile", hostile::dotdot(&marker));
    let bad = handmade_archive(&img, |_| {});
    let path = user_path(&target, "hostile.tar");
    target.write_user_file(&path, &bad);
    let r = target.run(&["load", "-i", path.to_str().unwrap()]);
    assert_error(mode, "load an archive with a hostile layer", &r, 125, &[]);
    assert!(
        !marker.exists(),
        "[{mode:?}] wrote outside: {}",
        marker.display()
    );
    assert_same_snapshot(
        &before,
        &snapshot(&target.store_dir()),
        "the store after a failed load",
    );

    // The same construction with a harmless layer loads: the test above
    // failed for the layer, not for the way the archive was made.
    let ok = handmade_archive(busybox_image(), |_| {});
    let r = target.run_stdin(&["load"], &ok);
    assert_eq!(r.status, 0, "[{mode:?}] {}", r.stderr);
    assert_eq!(loaded(&r.stdout), ["docker.io/library/hostile:1"]);
}

both_modes!(save_refuses_a_terminal_and_unknown_images);
fn save_refuses_a_terminal_and_unknown_images(mode: Mode) {
    let env = TestEnv::new(mode);
    let r = env.run(&["save", "-o", "/dev/null", "nosuch:1"]);
    assert_error(mode, "save a missing image", &r, 125, &["nosuch"]);
    let r = env.run(&["save", "--format", "zip", "x"]);
    assert_error(mode, "save --format zip", &r, 125, &["zip"]);
}
