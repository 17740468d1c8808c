//! `init`: a container prepared to start (spec in place, root filesystem
//! mounted as root, state `initialized`) without its process; `start`,
//! `stop` and `rm` of one; `create --init-ctr` in pods.

mod common;

use common::*;

fn status(env: &TestEnv, name: &str) -> String {
    env.inspect_container(name)["State"]["Status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn ps_line(env: &TestEnv, name: &str) -> String {
    env.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .unwrap_or_default()
        .to_string()
}

both_modes!(init_prepares_without_starting);
fn init_prepares_without_starting(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let id = env
        .ok(&[
            "create",
            "--name",
            "i1",
            "-e",
            &mark,
            &img,
            "sh",
            "-c",
            "echo ran-now",
        ])
        .trim()
        .to_string();
    // podman prints what was named
    assert_eq!(env.ok(&["init", "i1"]).trim(), "i1", "[{mode:?}]");
    assert_eq!(status(&env, "i1"), "initialized", "[{mode:?}]");
    assert_eq!(ps_line(&env, "i1"), "i1 Initialized", "[{mode:?}]");
    assert!(
        !env.ok(&["ps", "--format", "{{.Names}}"]).contains("i1"),
        "[{mode:?}] not running, so not in plain ps"
    );
    let only = env.ok(&[
        "ps",
        "-a",
        "--filter",
        "status=initialized",
        "-q",
        "--no-trunc",
    ]);
    assert_eq!(only.trim(), id, "[{mode:?}]");
    // the process has not run
    assert!(!env.ok(&["logs", "i1"]).contains("ran-now"), "[{mode:?}]");
    // the OCI spec is where inspect says, holding the command
    let info = env.inspect_container("i1");
    let spec_path = info["OCIConfigPath"].as_str().unwrap().to_string();
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    assert!(
        spec.contains("echo ran-now"),
        "[{mode:?}] {spec_path}: {spec}"
    );
    let merged = env.store_dir().join("containers").join(&id).join("merged");
    if mode == Mode::Root {
        // the root filesystem is mounted where the host sees it
        assert!(merged.join("bin").join("sh").exists(), "[{mode:?}]");
        let listed = env.ok(&["mount", "--notruncate"]);
        assert!(listed.contains(&id), "[{mode:?}] {listed}");
    }
    // a second init is podman's refusal; nothing changed
    let out = env.fails(&["init", "i1"], 125);
    assert!(
        out.stderr.contains(&format!(
            "container {id} has already been created in runtime: container state improper"
        )),
        "[{mode:?}] {}",
        out.stderr
    );
    assert_eq!(status(&env, "i1"), "initialized", "[{mode:?}]");
    // start runs it; init's mount is given up
    env.ok(&["start", "-a", "i1"]);
    assert!(env.ok(&["logs", "i1"]).contains("ran-now"), "[{mode:?}]");
    assert_eq!(status(&env, "i1"), "exited", "[{mode:?}]");
    assert!(!merged.join("bin").exists(), "[{mode:?}] still mounted");
    // an exited container is initialized again, as podman's reinit
    assert_eq!(
        env.ok(&["container", "init", "i1"]).trim(),
        "i1",
        "[{mode:?}]"
    );
    assert_eq!(status(&env, "i1"), "initialized", "[{mode:?}]");
    // rm takes everything
    env.ok(&["rm", "i1"]);
    assert!(!merged.join("bin").exists(), "[{mode:?}] still mounted");
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
}

both_modes!(init_all_stop_and_running);
fn init_all_stop_and_running(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let up = env
        .ok(&[
            "run", "-d", "--name", "up", "-e", &mark, &img, "sleep", "60",
        ])
        .trim()
        .to_string();
    let made = env
        .ok(&["create", "--name", "made", "-e", &mark, &img, "true"])
        .trim()
        .to_string();
    // a running container named: podman's error, exit 125
    let out = env.fails(&["init", "up"], 125);
    assert!(
        out.stderr.contains(&format!(
            "container {up} has already been created in runtime"
        )),
        "[{mode:?}] {}",
        out.stderr
    );
    // --all: every id, the running one left alone
    let ids = env.ok(&["init", "--all"]);
    let mut got: Vec<&str> = ids.lines().collect();
    got.sort();
    let mut want = vec![up.as_str(), made.as_str()];
    want.sort();
    assert_eq!(got, want, "[{mode:?}] {ids}");
    assert_eq!(status(&env, "up"), "running", "[{mode:?}]");
    assert_eq!(status(&env, "made"), "initialized", "[{mode:?}]");
    // again: the initialized one is left alone too, no error
    env.ok(&["init", "-a"]);
    // stop of an initialized container: podman's end, exited (137), at once
    let t = std::time::Instant::now();
    env.ok(&["stop", "made"]);
    assert!(t.elapsed().as_secs() < 5, "[{mode:?}] stop waited");
    assert_eq!(status(&env, "made"), "exited", "[{mode:?}]");
    assert!(
        ps_line(&env, "made").starts_with("made Exited (137)"),
        "[{mode:?}]"
    );
    let merged = env
        .store_dir()
        .join("containers")
        .join(&made)
        .join("merged");
    assert!(!merged.join("bin").exists(), "[{mode:?}] still mounted");
    // --latest: the newest
    assert_eq!(env.ok(&["init", "-l"]).trim(), made, "[{mode:?}]");
    env.ok(&["rm", "-f", "-t", "0", "up", "made"]);
}

both_modes!(init_refuses_bad_input);
fn init_refuses_bad_input(mode: Mode) {
    let env = TestEnv::new(mode);
    let out = env.fails(&["init", "nosuch"], 125);
    assert!(
        out.stderr.contains("no such container"),
        "[{mode:?}] {}",
        out.stderr
    );
    let out = env.fails(&["init"], 125);
    assert!(
        out.stderr
            .contains("you must provide at least one name or id"),
        "[{mode:?}] {}",
        out.stderr
    );
}

// A reboot takes the volatile mount: an initialized container from an
// earlier boot reads as created, never as prepared.
both_modes!(init_from_an_earlier_boot_reads_created);
fn init_from_an_earlier_boot_reads_created(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let id = env
        .ok(&["create", "--name", "old", &img, "true"])
        .trim()
        .to_string();
    env.ok(&["init", "old"]);
    let path = env
        .store_dir()
        .join("containers")
        .join(&id)
        .join("state.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["boot_id"] = serde_json::json!("an-earlier-boot");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(ps_line(&env, "old"), "old Created", "[{mode:?}]");
    assert_eq!(status(&env, "old"), "created", "[{mode:?}]");
    env.ok(&["rm", "old"]);
}
