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
    // restart of an initialized container just starts it (no stop's 137)
    env.ok(&["restart", "made"]);
    env.ok(&["wait", "made"]);
    assert!(
        ps_line(&env, "made").starts_with("made Exited (0)"),
        "[{mode:?}]"
    );
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

fn names(env: &TestEnv) -> Vec<String> {
    env.ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(String::from)
        .collect()
}

both_modes!(init_ctr_runs_before_the_pod);
fn init_ctr_runs_before_the_pod(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["pod", "create", "--name", "p"]);
    let v = "shared:/data";
    let once = env
        .ok(&[
            "create",
            "--pod",
            "p",
            "--name",
            "first",
            "--init-ctr",
            "once",
            "-v",
            v,
            &img,
            "sh",
            "-c",
            "echo once >> /data/log",
        ])
        .trim()
        .to_string();
    env.ok(&[
        "create",
        "--pod",
        "p",
        "--name",
        "every",
        "--init-ctr",
        "always",
        "-v",
        v,
        &img,
        "sh",
        "-c",
        "echo always >> /data/log",
    ]);
    env.ok(&[
        "create",
        "--pod",
        "p",
        "--name",
        "app",
        "-e",
        &mark,
        "-v",
        v,
        &img,
        "sh",
        "-c",
        "cat /data/log > /data/seen; sleep 60",
    ]);
    let create_command = env.inspect_container("every")["Config"]["CreateCommand"].to_string();
    assert!(
        create_command.contains("\"--init-ctr\",\"always\""),
        "[{mode:?}] {create_command}"
    );
    env.ok(&["pod", "start", "p"]);
    // the init containers ran in order, before the app, which saw their work
    assert_eq!(
        env.ok(&["exec", "app", "cat", "/data/seen"]),
        "once\nalways\n",
        "[{mode:?}]"
    );
    let all = names(&env);
    assert!(
        !all.contains(&"first".to_string()),
        "[{mode:?}] once: removed {all:?}"
    );
    assert!(!env.all_container_ids().contains(&once), "[{mode:?}]");
    assert!(
        ps_line(&env, "every").starts_with("every Exited (0)"),
        "[{mode:?}]"
    );
    // init containers are left out of the pod's status
    let st = env.ok(&["pod", "ps", "--format", "{{.Status}}"]);
    assert_eq!(st.trim(), "Running", "[{mode:?}]");
    // no init container on a running pod
    assert_refused(
        &env,
        &["create", "--pod", "p", "--init-ctr", "always", &img, "true"],
        "cannot add init-ctr to a running pod",
    );
    // a restart runs none
    env.ok(&["pod", "restart", "p"]);
    assert_eq!(
        env.ok(&["exec", "app", "cat", "/data/log"]),
        "once\nalways\n",
        "[{mode:?}]"
    );
    // a stop and a start: `always` again, `once` is gone
    env.ok(&["pod", "stop", "-t", "0", "p"]);
    env.ok(&["pod", "start", "p"]);
    assert_eq!(
        env.ok(&["exec", "app", "cat", "/data/log"]),
        "once\nalways\nalways\n",
        "[{mode:?}]"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", "p"]);
}

both_modes!(init_ctr_failure_stops_the_pod_start);
fn init_ctr_failure_stops_the_pod_start(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["pod", "create", "--name", "q"]);
    let bad = env
        .ok(&[
            "create",
            "--pod",
            "q",
            "--name",
            "bad",
            "--init-ctr",
            "always",
            &img,
            "sh",
            "-c",
            "exit 3",
        ])
        .trim()
        .to_string();
    env.ok(&[
        "create", "--pod", "q", "--name", "app", "-e", &mark, &img, "sleep", "60",
    ]);
    let out = env.fails(&["pod", "start", "q"], 125);
    assert!(
        out.stderr
            .contains(&format!("init container {bad} exited with code 3")),
        "[{mode:?}] {}",
        out.stderr
    );
    assert_eq!(
        ps_line(&env, "app"),
        "app Created",
        "[{mode:?}] not started"
    );
    // bad input: nothing made
    assert_refused(
        &env,
        &["create", "--init-ctr", "once", &img, "true"],
        "must specify pod value with init-ctr",
    );
    assert_refused(
        &env,
        &[
            "create",
            "--pod",
            "q",
            "--init-ctr",
            "sometimes",
            &img,
            "true",
        ],
        "init-ctr value must be 'always' or 'once'",
    );
    let out = env.run(&["run", "--init-ctr", "once", &img, "true"]);
    assert_ne!(
        out.status, 0,
        "[{mode:?}] run has no --init-ctr (podman: create only)"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", "q"]);
}

// `--runtime crun`: init writes the bundle's config.json the runtime gets.
both_modes!(init_writes_the_runtime_bundle);
fn init_writes_the_runtime_bundle(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let id = env
        .ok(&[
            "create",
            "--runtime",
            "crun",
            "--name",
            "b",
            "-e",
            &mark,
            &img,
            "sh",
            "-c",
            "echo via-crun",
        ])
        .trim()
        .to_string();
    let bundle = env
        .runroot_dir()
        .join("containers")
        .join(&id)
        .join("bundle");
    assert!(!bundle.join("config.json").exists(), "[{mode:?}]");
    env.ok(&["init", "b"]);
    let text = std::fs::read_to_string(bundle.join("config.json")).unwrap();
    let spec: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        spec["root"]["path"].as_str(),
        Some(bundle.join("rootfs").to_str().unwrap()),
        "[{mode:?}] {text}"
    );
    assert!(text.contains("echo via-crun"), "[{mode:?}] {text}");
    env.ok(&["start", "-a", "b"]);
    assert!(env.ok(&["logs", "b"]).contains("via-crun"), "[{mode:?}]");
    env.ok(&["rm", "b"]);
}
