//! The lifecycle verbs against podman's behaviour, as root and rootless:
//! stop/kill/signals, logs, a killed monitor, ps, create/start, restart,
//! wait, rename, rm, prune, inspect, rmi of an image in use.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn state(env: &TestEnv, name: &str) -> (String, i64) {
    let v = env.inspect_container(name);
    (
        v["State"]["Status"].as_str().unwrap_or("").to_string(),
        v["State"]["ExitCode"].as_i64().unwrap_or(-1),
    )
}

/// Wait until the env's container processes are all gone.
fn wait_all_exited(env: &TestEnv) {
    assert!(
        wait_for(Duration::from_secs(20), || env.marked_pids().is_empty()),
        "[{:?}] container processes still running",
        env.mode
    );
}

both_modes!(stop_kills_after_timeout_when_sigterm_is_ignored);
fn stop_kills_after_timeout_when_sigterm_is_ignored(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("s1", &[], &img, &["sleep", "300"]);
    // busybox sleep as PID 1 ignores SIGTERM: SIGKILL after 1 s
    let start = Instant::now();
    let out = env.ok(&["stop", "-t", "1", "s1"]);
    let took = start.elapsed();
    assert_eq!(
        out.trim(),
        "s1",
        "[{mode:?}] stop prints the name it was given"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "[{mode:?}] stop -t 1 took {took:?}"
    );
    assert!(
        env.marked_pids().is_empty(),
        "[{mode:?}] the container still runs after stop"
    );
    assert_eq!(state(&env, "s1"), ("exited".to_string(), 137), "[{mode:?}]");
    let st = env.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(
        st.starts_with("Exited (137)"),
        "[{mode:?}] ps -a status: {st:?}"
    );
}

both_modes!(stop_with_init_is_fast);
fn stop_with_init_is_fast(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("s2", &["--init"], &img, &["sleep", "300"]);
    // the init forwards SIGTERM to sleep, which dies of it
    let start = Instant::now();
    env.ok(&["stop", "s2"]);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "[{mode:?}] stop with --init took {:?}",
        start.elapsed()
    );
    assert_eq!(state(&env, "s2"), ("exited".to_string(), 143), "[{mode:?}]");
}

both_modes!(kill_sends_the_signal);
fn kill_sends_the_signal(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached(
        "k1",
        &[],
        &img,
        &[
            "sh",
            "-c",
            "trap 'echo got-hup' HUP; echo ready; while :; do sleep 0.1; done",
        ],
    );
    assert!(
        wait_for(Duration::from_secs(10), || env
            .run(&["logs", "k1"])
            .stdout
            .contains("ready")),
        "[{mode:?}] the container never logged ready"
    );
    env.ok(&["kill", "-s", "HUP", "k1"]);
    assert!(
        wait_for(Duration::from_secs(10), || env
            .run(&["logs", "k1"])
            .stdout
            .contains("got-hup")),
        "[{mode:?}] SIGHUP did not reach the container: {:?}",
        env.run(&["logs", "k1"])
    );
    assert_eq!(state(&env, "k1").0, "running", "[{mode:?}] HUP was trapped");
    // default signal: SIGKILL
    env.ok(&["kill", "k1"]);
    wait_all_exited(&env);
    // The monitor records the exit a moment after the process is gone.
    wait_for(Duration::from_secs(10), || state(&env, "k1").0 == "exited");
    assert_eq!(state(&env, "k1"), ("exited".to_string(), 137), "[{mode:?}]");
}

/// Start `coracle ARGS` in the foreground, wait for `ready` on its stdout,
/// send SIGTERM to the coracle process; its exit code and full stdout.
fn sigterm_foreground(env: &TestEnv, args: &[&str]) -> (i32, String) {
    let (mut child, rx) = env.spawn_lines(args);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.iter().any(|l: &String| l == "ready") {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => seen.push(l),
            Err(_) => {
                // SAFETY: a signal to a process this test started.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                panic!("[{:?}] {args:?} never printed ready: {seen:?}", env.mode);
            }
        }
    }
    let pid = coracle_pid(env.mode, child.id() as i32);
    // SAFETY: a signal to a process this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = child.wait().unwrap();
    seen.extend(rx.iter());
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    (code, seen.join("\n"))
}

both_modes!(foreground_run_forwards_sigterm);
fn foreground_run_forwards_sigterm(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let (code, out) = sigterm_foreground(
        &env,
        &[
            "run",
            "--rm",
            "-e",
            &mark,
            &img,
            "sh",
            "-c",
            "trap 'echo trapped; exit 143' TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    assert!(
        out.contains("trapped"),
        "[{mode:?}] the trap did not run: {out}"
    );
    assert_eq!(code, 143, "[{mode:?}] exit code of the trapped SIGTERM");

    // through --init, SIGTERM kills a plain sleep: 128+15
    let (code, _) = sigterm_foreground(
        &env,
        &[
            "run",
            "--rm",
            "--init",
            "-e",
            &mark,
            &img,
            "sh",
            "-c",
            "echo ready; exec sleep 300",
        ],
    );
    assert_eq!(code, 143, "[{mode:?}] --init: SIGTERM should end sleep");
    wait_all_exited(&env);
}

both_modes!(logs_keep_streams_tail_and_timestamps);
fn logs_keep_streams_tail_and_timestamps(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached(
        "l1",
        &[],
        &img,
        &[
            "sh",
            "-c",
            "echo out1; sleep 0.1; echo err >&2; sleep 0.1; echo out2",
        ],
    );
    env.ok(&["wait", "l1"]);
    let out = env.run(&["logs", "l1"]);
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (0, "out1\nout2\n", "err\n"),
        "[{mode:?}]"
    );
    let out = env.run(&["logs", "--tail", "1", "l1"]);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("out2\n", ""),
        "[{mode:?}] --tail 1"
    );
    let out = env.ok(&["logs", "-t", "l1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "[{mode:?}] logs -t: {out}");
    for (l, text) in lines.iter().zip(["out1", "out2"]) {
        let (ts, rest) = l.split_once(' ').unwrap_or(("", ""));
        // RFC 3339 with nanoseconds, e.g. 2024-05-01T10:00:00.123456789Z
        let b = ts.as_bytes();
        assert!(
            ts.len() >= 20 && b[4] == b'-' && b[10] == b'T' && ts.contains('.') && rest == text,
            "[{mode:?}] logs -t line: {l:?}"
        );
    }
}

both_modes!(logs_follow_ends_when_the_container_exits);
fn logs_follow_ends_when_the_container_exits(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached(
        "f1",
        &[],
        &img,
        &["sh", "-c", "echo first; sleep 1; echo second"],
    );
    let start = Instant::now();
    let out = env.ok(&["logs", "-f", "f1"]);
    assert_eq!(out, "first\nsecond\n", "[{mode:?}]");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "[{mode:?}] logs -f took {:?}",
        start.elapsed()
    );
}

both_modes!(killed_monitor_is_reported_as_exited);
fn killed_monitor_is_reported_as_exited(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("m1", &[], &img, &["sleep", "300"]);
    let pids = env.marked_pids();
    assert_eq!(
        pids.len(),
        1,
        "[{mode:?}] one container process expected: {pids:?}"
    );
    let pid = pids[0];
    let v = env.inspect_container("m1");
    assert_eq!(
        v["State"]["Pid"].as_i64(),
        Some(pid as i64),
        "[{mode:?}] State.Pid is the host pid"
    );
    // the monitor is the parent of the container's first process
    let monitor = ppid_of(pid).unwrap();
    // SAFETY: a signal to a process this test started.
    unsafe { libc::kill(monitor, libc::SIGKILL) };
    assert!(
        wait_for(Duration::from_secs(5), || !process_alive(monitor)),
        "[{mode:?}] monitor {monitor} survived SIGKILL"
    );
    let (status, _) = state(&env, "m1");
    assert_eq!(
        status, "exited",
        "[{mode:?}] inspect after the monitor died"
    );
    assert!(
        wait_for(Duration::from_secs(5), || !process_alive(pid)),
        "[{mode:?}] the container process {pid} outlived its monitor"
    );
    assert_eq!(
        env.ok(&["ps", "-q"]).trim(),
        "",
        "[{mode:?}] ps lists a dead container"
    );
    let st = env.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(st.starts_with("Exited"), "[{mode:?}] ps -a: {st:?}");
}

both_modes!(ps_lists_filters_and_formats);
fn ps_lists_filters_and_formats(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let up = env.run_detached("up", &[], &img, &["sleep", "300"]);
    let mark = env.mark();
    env.ok(&["run", "--name", "done", "-e", &mark, &img, "true"]);
    let done = env.inspect_container("done")["Id"]
        .as_str()
        .unwrap()
        .to_string();

    let q = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = env
            .ok(args)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        q(&["ps", "-q"]),
        vec![up[..12].to_string()],
        "[{mode:?}] ps -q"
    );
    let mut both = vec![up[..12].to_string(), done[..12].to_string()];
    both.sort();
    assert_eq!(q(&["ps", "-a", "-q"]), both, "[{mode:?}] ps -a -q");
    assert_eq!(
        q(&["ps", "-a", "-q", "--filter", "status=exited"]),
        vec![done[..12].to_string()],
        "[{mode:?}] status=exited"
    );
    assert_eq!(
        q(&["ps", "-a", "-q", "--filter", "name=up"]),
        vec![up[..12].to_string()],
        "[{mode:?}] name=up"
    );
    assert_eq!(
        q(&["ps", "-a", "-q", "--no-trunc", "--filter", "status=running"]),
        vec![up.clone()],
        "[{mode:?}]"
    );

    let table = env.ok(&["ps", "-a"]);
    let header = table.lines().next().unwrap_or("");
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "NAMES",
    ] {
        assert!(
            header.contains(col),
            "[{mode:?}] ps header lacks {col}: {header}"
        );
    }

    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["ps", "-a", "--format", "json"])).unwrap();
    let arr = json
        .as_array()
        .unwrap_or_else(|| panic!("[{mode:?}] ps --format json: {json}"));
    assert_eq!(arr.len(), 2, "[{mode:?}] {json}");
    for c in arr {
        for key in [
            "Id", "Names", "Image", "ImageID", "Command", "State", "Status", "ExitCode", "Exited",
            "Created", "Pid", "Labels", "Mounts",
        ] {
            assert!(c.get(key).is_some(), "[{mode:?}] ps json lacks {key}: {c}");
        }
    }
    let up_json = arr
        .iter()
        .find(|c| c["Id"] == up.as_str())
        .expect("up in ps json");
    assert_eq!(up_json["Names"], serde_json::json!(["up"]), "[{mode:?}]");
    assert_eq!(up_json["State"], "running", "[{mode:?}]");
    assert_eq!(
        up_json["Command"],
        serde_json::json!(["sleep", "300"]),
        "[{mode:?}]"
    );
    let _ = env.run(&["rm", "-f", "-t", "0", "up"]);
}

both_modes!(create_then_start);
fn create_then_start(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let id = env.ok(&[
        "create",
        "--name",
        "c1",
        "-e",
        &mark,
        &img,
        "sh",
        "-c",
        "echo started",
    ]);
    assert!(
        is_hex(id.trim(), 64),
        "[{mode:?}] create prints the id: {id:?}"
    );
    assert_eq!(state(&env, "c1").0, "created", "[{mode:?}]");
    assert_eq!(
        env.ok(&["ps", "-q"]).trim(),
        "",
        "[{mode:?}] a created container is not running"
    );
    assert_eq!(
        env.ok(&["start", "c1"]).trim(),
        "c1",
        "[{mode:?}] start prints the name"
    );
    assert_eq!(env.ok(&["wait", "c1"]).trim(), "0", "[{mode:?}]");
    assert_eq!(env.ok(&["logs", "c1"]), "started\n", "[{mode:?}]");
    assert_eq!(state(&env, "c1"), ("exited".to_string(), 0), "[{mode:?}]");
}

both_modes!(wait_prints_the_exit_code);
fn wait_prints_the_exit_code(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("w1", &[], &img, &["sh", "-c", "sleep 0.5; exit 7"]);
    assert_eq!(env.ok(&["wait", "w1"]), "7\n", "[{mode:?}]");

    // `run -d --rm` then `wait`: the record goes, the exit code stays.
    let id = env.run_detached("w2", &["--rm"], &img, &["sh", "-c", "sleep 0.5; exit 3"]);
    assert_eq!(env.ok(&["wait", &id]), "3\n", "[{mode:?}] while it runs");
    assert!(
        wait_for(Duration::from_secs(5), || env
            .run(&["container", "exists", &id])
            .status
            == 1),
        "[{mode:?}] --rm container still there"
    );
    assert_eq!(
        env.ok(&["wait", &id, "w1"]),
        "3\n7\n",
        "[{mode:?}] once removed"
    );
    let out = env.run(&["wait", "w2"]);
    assert_eq!(out.status, 125, "[{mode:?}] by name it is gone: {out:?}");
}

both_modes!(restart_runs_the_container_again);
fn restart_runs_the_container_again(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("r1", &[], &img, &["sh", "-c", "echo run; exec sleep 300"]);
    let pid1 = env.inspect_container("r1")["State"]["Pid"].as_i64();
    env.ok(&["restart", "-t", "0", "r1"]);
    assert!(
        wait_for(Duration::from_secs(10), || env.run(&["logs", "r1"]).stdout
            == "run\nrun\n"),
        "[{mode:?}] logs after restart: {:?}",
        env.run(&["logs", "r1"])
    );
    let v = env.inspect_container("r1");
    assert_eq!(v["State"]["Status"], "running", "[{mode:?}]");
    assert_ne!(
        v["State"]["Pid"].as_i64(),
        pid1,
        "[{mode:?}] a new process after restart"
    );
    let _ = env.run(&["rm", "-f", "-t", "0", "r1"]);
}

both_modes!(rename_changes_the_name);
fn rename_changes_the_name(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let id = env
        .ok(&["create", "--name", "old", &img, "true"])
        .trim()
        .to_string();
    env.ok(&["rename", "old", "new"]);
    let v = env.inspect_container("new");
    assert_eq!(
        (v["Name"].as_str(), v["Id"].as_str()),
        (Some("new"), Some(id.as_str())),
        "[{mode:?}]"
    );
    let out = env.run(&["inspect", "old"]);
    assert_error(mode, "inspect old (renamed)", &out, 125, &["old"]);
}

both_modes!(rm_of_a_running_container_needs_force);
fn rm_of_a_running_container_needs_force(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("busy", &[], &img, &["sleep", "300"]);
    // podman: exit 2, "cannot remove container ... as it is running"
    let out = env.run(&["rm", "busy"]);
    assert_error(mode, "rm of a running container", &out, 2, &["running"]);
    assert_eq!(
        state(&env, "busy").0,
        "running",
        "[{mode:?}] rm without -f must not stop it"
    );
    let out = env.ok(&["rm", "-f", "busy"]);
    assert_eq!(out.trim(), "busy", "[{mode:?}] rm -f prints the name");
    assert!(
        wait_for(Duration::from_secs(5), || env.marked_pids().is_empty()),
        "[{mode:?}] rm -f left the process running"
    );
    assert_eq!(env.all_container_ids(), Vec::<String>::new(), "[{mode:?}]");
    assert_eq!(
        env.container_dirs(),
        Vec::<std::path::PathBuf>::new(),
        "[{mode:?}]"
    );
    let out = env.run(&["rm", "busy"]);
    assert_error(mode, "rm of a removed container", &out, 1, &["busy"]);
}

both_modes!(container_prune_removes_only_stopped_ones);
fn container_prune_removes_only_stopped_ones(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let up = env.run_detached("up", &[], &img, &["sleep", "300"]);
    let mark = env.mark();
    env.ok(&["run", "--name", "gone", "-e", &mark, &img, "true"]);
    let gone = env.inspect_container("gone")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.ok(&["container", "prune", "-f"]);
    assert_eq!(out.trim(), gone, "[{mode:?}] prune prints the removed ids");
    assert_eq!(env.all_container_ids(), vec![up], "[{mode:?}]");
    let _ = env.run(&["rm", "-f", "-t", "0", "up"]);
}

both_modes!(inspect_has_podman_keys);
fn inspect_has_podman_keys(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    env.fails(&["run", "--name", "ins", &img, "sh", "-c", "exit 4"], 4);
    let v = env.inspect_container("ins");
    assert_eq!(v["Name"], "ins", "[{mode:?}]");
    assert!(
        is_hex(v["Id"].as_str().unwrap_or(""), 64),
        "[{mode:?}] Id: {}",
        v["Id"]
    );
    assert_eq!(v["State"]["Status"], "exited", "[{mode:?}]");
    assert_eq!(v["State"]["Running"], false, "[{mode:?}]");
    assert_eq!(v["State"]["ExitCode"], 4, "[{mode:?}]");
    assert_eq!(
        v["Config"]["Cmd"],
        serde_json::json!(["sh", "-c", "exit 4"]),
        "[{mode:?}]"
    );
    assert_eq!(v["ImageName"], img.as_str(), "[{mode:?}]");
    assert_eq!(v["Image"], rt().id().as_str(), "[{mode:?}]");
    for key in ["Created", "HostConfig", "Mounts"] {
        assert!(v.get(key).is_some(), "[{mode:?}] inspect lacks {key}");
    }
    for key in ["Pid", "StartedAt", "FinishedAt", "OOMKilled"] {
        assert!(
            v["State"].get(key).is_some(),
            "[{mode:?}] inspect lacks State.{key}"
        );
    }
    let out = env.ok(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}} {{.Name}}",
        "ins",
    ]);
    assert_eq!(out, "4 ins\n", "[{mode:?}]");
    let out = env.ok(&[
        "container",
        "inspect",
        "--format",
        "{{.State.Status}}",
        "ins",
    ]);
    assert_eq!(out, "exited\n", "[{mode:?}]");
}

both_modes!(rmi_refuses_an_image_in_use_unless_forced);
fn rmi_refuses_an_image_in_use_unless_forced(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    env.ok(&["run", "--name", "user1", &img, "true"]);
    // podman: exit 2, "image used by <id>: image is in use by a container"
    let out = env.run(&["rmi", &img]);
    assert_error(mode, "rmi of an image in use", &out, 2, &["in use"]);
    assert_eq!(env.image_ids().len(), 1, "[{mode:?}] the image was removed");
    env.ok(&["rmi", "-f", &img]);
    assert_eq!(env.image_ids(), Vec::<String>::new(), "[{mode:?}] rmi -f");
    assert_eq!(
        env.all_container_ids(),
        Vec::<String>::new(),
        "[{mode:?}] rmi -f removes the containers too"
    );
}

both_modes!(ps_size_counts_the_container_layer_and_its_image);
fn ps_size_counts_the_container_layer_and_its_image(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_kept(
        "sz",
        &[],
        &img,
        "mkdir -p /d && chown 1000:1000 /d && head -c 3000 /dev/zero > /d/f && chmod 700 /d",
    );
    let rows: serde_json::Value =
        serde_json::from_str(&env.ok(&["ps", "-a", "--size", "--format", "json"])).unwrap();
    let size = &rows[0]["Size"];
    let rw = size["rwSize"].as_u64().unwrap();
    let root = size["rootFsSize"].as_u64().unwrap();
    // The file, read through a 0700 dir of another uid (rootless too).
    assert!((3000..20_000).contains(&rw), "[{mode:?}] {size}");
    assert!(
        root > rw + 100_000,
        "[{mode:?}] the image counts too: {size}"
    );
    let table = env.ok(&["ps", "-a", "--size"]);
    let header = table.lines().next().unwrap();
    assert!(header.ends_with("SIZE"), "[{mode:?}] {table}");
    let cell = table.lines().nth(1).unwrap();
    assert!(cell.contains("kB (virtual "), "[{mode:?}] {table}");
    let plain = env.ok(&["ps", "-a", "--format", "json"]);
    assert!(
        plain.contains("\"Size\": null"),
        "[{mode:?}] no size unless asked"
    );
}
