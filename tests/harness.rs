//! Checks of the harness itself (independent of coracle): the fixtures are
//! valid images as another tool (skopeo) sees them, and the registry helpers
//! point at real files. If these fail, fix the harness before the product.

mod common;

use common::*;

fn skopeo_inspect(reg: &Registry, reference: &str, extra: &[&str]) -> serde_json::Value {
    let mut cmd = std::process::Command::new("skopeo");
    cmd.args(["inspect", "--tls-verify=false"]).args(extra);
    if let (Some(u), Some(p)) = (&reg.user, &reg.pass) {
        cmd.arg(format!("--creds={u}:{p}"));
    }
    let out = cmd
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn fixtures_are_valid_images_for_skopeo() {
    let reg = registry();
    for p in [busybox(), layers(), zstd(), docker(), skopeo_docker()] {
        let v = skopeo_inspect(reg, &p.reference(), &[]);
        assert_eq!(v["Digest"], p.digest, "{}", p.reference());
        let layers: Vec<String> = p.image().layers.iter().map(|l| l.digest.clone()).collect();
        assert_eq!(v["Layers"], serde_json::json!(layers), "{}", p.reference());
        let cfg = skopeo_inspect(reg, &p.reference(), &["--config"]);
        assert_eq!(
            cfg["rootfs"]["diff_ids"],
            serde_json::json!(p.diff_ids()),
            "{}",
            p.reference()
        );
        for l in &p.image().layers {
            assert!(
                reg.blob_data_path(&l.digest).is_file(),
                "blob_data_path of {}",
                l.digest
            );
        }
    }
    let m = multi();
    let raw = skopeo_inspect(reg, &m.reference(), &["--raw"]);
    assert_eq!(raw["manifests"].as_array().unwrap().len(), 2);
    let arm = skopeo_inspect(
        reg,
        &m.reference(),
        &["--override-arch", "arm64", "--override-variant", "v8"],
    );
    assert_eq!(arm["Architecture"], "arm64");
    assert_eq!(arm["Digest"], m.digest, "skopeo reports the index digest");
    let amd = skopeo_inspect(reg, &m.reference(), &["--override-arch", "amd64"]);
    assert_eq!(amd["Architecture"], "amd64");
}

#[test]
fn auth_registry_wants_credentials() {
    let reg = auth_registry();
    let p = push_unique_to(reg, busybox_image(), "harness");
    skopeo_inspect(reg, &p.reference(), &[]);
    let out = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--no-creds",
            &format!("docker://{}", p.reference()),
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the auth registry served an anonymous client"
    );
}

#[test]
fn modes_and_envs_work() {
    let ms = modes();
    assert_eq!(ms, vec![Mode::Root, Mode::Rootless]);
    let env = TestEnv::new(Mode::Rootless);
    let u = test_user();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&env.home).unwrap().uid(), u.uid);
    assert!(u.host_uid(1000) > 65535);
    let dir = env.dir.clone();
    drop(env);
    assert!(!dir.exists(), "TestEnv leaves {dir:?} behind");
}

#[test]
fn snapshot_sees_changes() {
    let env = TestEnv::new(Mode::Root);
    let d = env.dir.join("snap");
    std::fs::create_dir_all(d.join("a")).unwrap();
    std::fs::write(d.join("a/f"), b"1").unwrap();
    let s1 = snapshot(&d);
    std::fs::write(d.join("a/f"), b"2").unwrap();
    let s2 = snapshot(&d);
    assert_ne!(s1, s2);
    let r = std::panic::catch_unwind(|| assert_same_snapshot(&s1, &s2, "test"));
    assert!(r.is_err());
}

both_modes!(commands_run_as_the_mode_user_with_a_clean_environment);
fn commands_run_as_the_mode_user_with_a_clean_environment(mode: Mode) {
    let env = TestEnv::new(mode);
    let out = env.run_program("/usr/bin/id", &["-u"]);
    let want = match mode {
        Mode::Root => 0,
        Mode::Rootless => test_user().uid,
    };
    assert_eq!(
        out.stdout.trim(),
        want.to_string(),
        "[{mode:?}] {}",
        out.stderr
    );
    let out = env.run_program("/usr/bin/env", &[]);
    assert!(
        out.stdout
            .contains(&format!("HOME={}\n", env.home.display())),
        "[{mode:?}] {}",
        out.stdout
    );
    if mode == Mode::Rootless {
        assert!(
            out.stdout
                .contains(&format!("XDG_RUNTIME_DIR={}\n", env.runtime_dir.display())),
            "{}",
            out.stdout
        );
        // the user can write its home and runtime dir
        let t = env.runtime_dir.join("probe");
        let out = env.run_program(
            "/usr/bin/touch",
            &[
                t.to_str().unwrap(),
                env.home.join("probe").to_str().unwrap(),
            ],
        );
        assert_eq!(out.status, 0, "{}", out.stderr);
    }
}

both_modes!(a_store_leaving_nothing_fails_on_a_live_monitor);
/// A [`TestEnv::leaving_nothing`] store whose container still runs fails
/// its test when dropped (naming the monitor) and kills what was left;
/// one whose container was removed drops quietly.
fn a_store_leaving_nothing_fails_on_a_live_monitor(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    env.run_detached("left", &[], &img, &["sleep", "1000"]);
    let home = format!("HOME={}", env.home.display());
    assert!(
        !env.store_processes().is_empty(),
        "[{mode:?}] the running container's monitor is not seen"
    );
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(env)));
    let message = match dropped {
        Ok(()) => panic!("[{mode:?}] a live monitor passed the drop's check"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        message.contains("outlived") && message.contains("--name left"),
        "[{mode:?}] {message}"
    );
    assert_eq!(pids_with_env(&home), Vec::<i32>::new(), "[{mode:?}]");

    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    env.run_detached("gone", &[], &img, &["sleep", "1000"]);
    env.ok(&["rm", "-f", "-t", "0", "gone"]);
    drop(env);
}
