//! `--runtime NAME|PATH` and `--runtime-flag`: containers created and
//! started by an external OCI runtime (crun, runc) from the bundle coracle
//! writes, with coracle's monitor still owning logs, exit codes and
//! cleanup, and the same isolation as the built-in runtime.

mod common;

use common::*;
use std::time::Duration;

/// The runtimes these tests run through (tests/run.sh installs them).
const RUNTIMES: &[&str] = &["crun", "runc"];

fn have(rt: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(rt).is_file()))
        .unwrap_or(false)
}

fn runtimes() -> Vec<&'static str> {
    let v: Vec<&str> = RUNTIMES.iter().copied().filter(|r| have(r)).collect();
    assert!(!v.is_empty(), "neither crun nor runc is installed");
    v
}

/// The runtime's containers under coracle's runroot (its `--root`).
fn runtime_state(env: &TestEnv, rt: &str) -> Vec<String> {
    let dir = env.runroot_dir().join("oci-runtime").join(rt);
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

both_modes!(runs_a_command_with_output_and_exit_code);
fn runs_a_command_with_output_and_exit_code(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    for rt in runtimes() {
        let out = env.run(&[
            "--runtime",
            rt,
            "run",
            "--rm",
            &img,
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ]);
        assert_eq!(out.status, 3, "[{mode:?}] {rt}: {}", out.stderr);
        assert_eq!(out.stdout, "out\n", "[{mode:?}] {rt}");
        assert!(
            out.stderr.contains("err"),
            "[{mode:?}] {rt}: {}",
            out.stderr
        );
        // The container is created by the runtime: inspect says which, and
        // its state is gone once the container ended.
        let name = format!("named-{rt}");
        env.ok(&["--runtime", rt, "run", "--name", &name, &img, "true"]);
        let got = env.ok(&["inspect", "--format", "{{.OCIRuntime}}", &name]);
        assert_eq!(got.trim(), rt, "[{mode:?}]");
        let code = env.ok(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
        assert_eq!(code.trim(), "0", "[{mode:?}] {rt}");
        assert_eq!(
            runtime_state(&env, rt),
            Vec::<String>::new(),
            "[{mode:?}] {rt} delete"
        );
        // A later `start` without --runtime keeps the container's runtime.
        let out = env.ok(&["start", "-a", &name]);
        assert_eq!(out, "", "[{mode:?}] {rt}");
        env.ok(&["rm", &name]);
    }
    // The built-in runtime stays the default.
    env.ok(&["run", "--name", "builtin", &img, "true"]);
    let got = env.ok(&["inspect", "--format", "{{.OCIRuntime}}", "builtin"]);
    assert_eq!(got.trim(), "coracle", "[{mode:?}]");
    // A path works as a name does; `info` names the runtime.
    let info = env.ok(&[
        "--runtime",
        "/usr/bin/crun",
        "info",
        "--format",
        "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}",
    ]);
    assert_eq!(info.trim(), "crun /usr/bin/crun", "[{mode:?}]");
}

both_modes!(detached_logs_exec_stop_rm);
fn detached_logs_exec_stop_rm(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    for rt in runtimes() {
        let name = format!("web-{rt}");
        let id = env.run_detached(
            &name,
            &["--runtime", rt],
            &img,
            &[
                "sh",
                "-c",
                "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done",
            ],
        );
        let mut logs = String::new();
        for _ in 0..100 {
            logs = env.ok(&["logs", &name]);
            if logs.contains("ready") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(logs, "ready\n", "[{mode:?}] {rt} logs");
        let state = env.ok(&["inspect", "--format", "{{.State.Status}}", &name]);
        assert_eq!(state.trim(), "running", "[{mode:?}] {rt}");
        assert_eq!(runtime_state(&env, rt), vec![id.clone()], "[{mode:?}] {rt}");
        // exec through the runtime: output, exit code, user, env, stdin
        let out = env.run(&[
            "exec",
            "-e",
            "V=1",
            &name,
            "sh",
            "-c",
            "echo $V; id -u; exit 4",
        ]);
        assert_eq!(out.status, 4, "[{mode:?}] {rt} exec: {}", out.stderr);
        assert_eq!(out.stdout, "1\n0\n", "[{mode:?}] {rt} exec");
        let out = env.ok(&["exec", "-u", "1000", &name, "id", "-u"]);
        assert_eq!(out, "1000\n", "[{mode:?}] {rt} exec -u");
        let out = env.run_stdin(&["exec", "-i", &name, "cat"], b"piped\n");
        assert_eq!(
            out.stdout, "piped\n",
            "[{mode:?}] {rt} exec -i: {}",
            out.stderr
        );
        // the exec'd process is in the container: its PID 1 is the program
        let out = env.ok(&["exec", &name, "cat", "/proc/1/cmdline"]);
        assert!(
            out.starts_with("sh\u{0}-c\u{0}trap"),
            "[{mode:?}] {rt}: {out:?}"
        );
        // pause and unpause through the runtime (the freezer of the
        // container's cgroup, which rootless here has none of)
        if mode == Mode::Root {
            env.ok(&["pause", &name]);
            let got = env.ok(&["inspect", "--format", "{{.State.Status}}", &name]);
            assert_eq!(got.trim(), "paused", "[{mode:?}] {rt}");
            // the runtime froze the cgroup coracle gave it (cgroup v1 here)
            let cg = env.inspect_container(&name)["State"]["CgroupPath"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let state_file = std::path::Path::new("/sys/fs/cgroup/freezer")
                .join(cg.trim_start_matches('/'))
                .join("freezer.state");
            let text = std::fs::read_to_string(&state_file)
                .unwrap_or_else(|e| panic!("[{mode:?}] {rt}: {}: {e}", state_file.display()));
            assert_eq!(text.trim(), "FROZEN", "[{mode:?}] {rt}");
            let frozen = env.ok(&["logs", &name]);
            env.fails(&["exec", &name, "true"], 125);
            env.ok(&["unpause", &name]);
            let got = env.ok(&["inspect", "--format", "{{.State.Status}}", &name]);
            assert_eq!(got.trim(), "running", "[{mode:?}] {rt}");
            assert_eq!(frozen, "ready\n", "[{mode:?}] {rt}");
        } else {
            env.fails(&["pause", &name], 125);
        }
        // stop goes through the runtime's kill: the program's trap runs
        env.ok(&["stop", "-t", "5", &name]);
        let got = env.ok(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            &name,
        ]);
        assert_eq!(got.trim(), "exited 7", "[{mode:?}] {rt}");
        assert_eq!(
            runtime_state(&env, rt),
            Vec::<String>::new(),
            "[{mode:?}] {rt}"
        );
        // and it starts again through the same runtime
        env.ok(&["start", &name]);
        env.ok(&["kill", &name]);
        env.ok(&["wait", &name]);
        env.ok(&["rm", &name]);
        assert!(
            env.marked_pids().is_empty(),
            "[{mode:?}] {rt}: processes left"
        );
        let out = env.ok(&["ps", "-a", "-q"]);
        assert_eq!(out, "", "[{mode:?}] {rt}");
    }
}

both_modes!(terminal_through_the_console_socket);
fn terminal_through_the_console_socket(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    for rt in runtimes() {
        let name = format!("tty-{rt}");
        env.ok(&[
            "--runtime",
            rt,
            "run",
            "-t",
            "--name",
            &name,
            &img,
            "sh",
            "-c",
            "tty; test -t 1 && echo is-a-tty",
        ]);
        let logs = env.ok(&["logs", &name]);
        assert!(
            logs.contains("/dev/pts/0") && logs.contains("is-a-tty"),
            "[{mode:?}] {rt}: {logs:?}"
        );
        env.ok(&["rm", &name]);
    }
}

both_modes!(monitor_duties_restart_and_healthcheck);
fn monitor_duties_restart_and_healthcheck(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let rt = runtimes()[0];
    let field = |name: &str, f: &str| env.ok(&["inspect", "--format", f, name]).trim().to_string();
    // the restart policy: the monitor has the runtime create it again
    env.run_detached(
        "again",
        &["--runtime", rt, "--restart", "on-failure:2"],
        &img,
        &["sh", "-c", "echo run; exit 1"],
    );
    // one reading of the three: between runs it is exited with fewer restarts
    let ended = "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}";
    assert!(
        wait_for(Duration::from_secs(30), || field("again", ended)
            == "exited 2 1"),
        "[{mode:?}] {rt}: restarts: {} ({})",
        field("again", ended),
        field("again", "{{.State.Error}}")
    );
    assert_eq!(
        env.ok(&["logs", "again"]),
        "run\nrun\nrun\n",
        "[{mode:?}] {rt}"
    );
    // healthchecks run in the runtime's container
    env.run_detached(
        "health",
        &[
            "--runtime",
            rt,
            "--health-cmd",
            "test -f /tmp/ok",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &img,
        &["sleep", "300"],
    );
    assert!(
        wait_for(Duration::from_secs(15), || field(
            "health",
            "{{.State.Health.Status}}"
        ) == "unhealthy"),
        "[{mode:?}] {rt}: never unhealthy"
    );
    env.ok(&["exec", "health", "touch", "/tmp/ok"]);
    assert!(
        wait_for(Duration::from_secs(15), || field(
            "health",
            "{{.State.Health.Status}}"
        ) == "healthy"),
        "[{mode:?}] {rt}: never healthy"
    );
    env.ok(&["rm", "-f", "-t", "0", "health", "again"]);
    assert_eq!(
        runtime_state(&env, rt),
        Vec::<String>::new(),
        "[{mode:?}] {rt}"
    );
}

both_modes!(interactive_terminal_run_and_exec);
fn interactive_terminal_run_and_exec(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let typed = "test -t 0 && echo is-a-tty; stty size; exit 3\n";
    for rt in runtimes() {
        let (code, out) = run_on_pty(
            &env,
            &["--runtime", rt, "run", "-it", "--rm", &img, "sh"],
            30,
            90,
            typed,
        );
        assert!(
            out.contains("is-a-tty") && out.contains("30 90"),
            "[{mode:?}] {rt} run -it:\n{out}"
        );
        assert_eq!(code, 3, "[{mode:?}] {rt} run -it:\n{out}");
        let name = format!("it-{rt}");
        env.run_detached(&name, &["--runtime", rt], &img, &["sleep", "300"]);
        let (code, out) = run_on_pty(&env, &["exec", "-it", &name, "sh"], 30, 90, typed);
        assert!(
            out.contains("is-a-tty") && out.contains("30 90"),
            "[{mode:?}] {rt} exec -it:\n{out}"
        );
        assert_eq!(code, 3, "[{mode:?}] {rt} exec -it:\n{out}");
        // the detach keys leave the exec'd program running
        let waits = "while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after > /tmp/after\n\x10\x11";
        let (code, out) = run_on_pty(&env, &["exec", "-it", &name, "sh"], 30, 90, waits);
        assert_eq!(code, 0, "[{mode:?}] {rt} exec -it detached:\n{out}");
        env.ok(&["exec", &name, "touch", "/tmp/go"]);
        assert!(
            wait_for(Duration::from_secs(10), || {
                env.run(&["exec", &name, "cat", "/tmp/after"]).stdout == "after\n"
            }),
            "[{mode:?}] {rt}: the exec'd shell did not run on after the detach"
        );
        env.ok(&["rm", "-f", "-t", "0", &name]);
    }
}

both_modes!(runtime_flags_reach_the_runtime);
fn runtime_flags_reach_the_runtime(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    for rt in runtimes() {
        let log = env.runroot_dir().join(format!("{rt}-flag.log"));
        let log_flag = format!("log={}", log.display());
        let out = env.ok(&[
            "--runtime",
            rt,
            "--runtime-flag",
            &log_flag,
            "--runtime-flag",
            "debug",
            "run",
            "--rm",
            &img,
            "echo",
            "hi",
        ]);
        assert_eq!(out, "hi\n", "[{mode:?}] {rt}");
        let text = std::fs::read_to_string(&log)
            .unwrap_or_else(|e| panic!("[{mode:?}] {rt}: --runtime-flag log=: {e}"));
        // crun logs only warnings; runc's --debug writes its steps.
        if rt == "runc" {
            assert!(
                !text.is_empty(),
                "[{mode:?}] {rt}: the runtime logged nothing"
            );
        }
        // A flag the runtime does not know fails the start with its words.
        let out = env.run(&[
            "--runtime",
            rt,
            "--runtime-flag",
            "no-such-flag-here",
            "run",
            "--rm",
            &img,
            "true",
        ]);
        assert_ne!(out.status, 0, "[{mode:?}] {rt}");
        assert!(
            out.stderr.contains("no-such-flag-here") && out.stderr.contains("Error: "),
            "[{mode:?}] {rt}: {}",
            out.stderr
        );
    }
}

both_modes!(unknown_runtime_is_refused);
fn unknown_runtime_is_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    assert_refused(
        &env,
        &["--runtime", "no-such-runtime", "run", "--rm", &img, "true"],
        "no-such-runtime",
    );
    assert_refused(
        &env,
        &["--runtime", "/nonexistent/crun", "create", &img, "true"],
        "/nonexistent/crun",
    );
    assert_refused(
        &env,
        &["--runtime-flag", "debug", "run", "--rm", &img, "true"],
        "--runtime-flag",
    );
    // a program that is not there, or cannot run: podman's 127 and 126
    for rt in runtimes() {
        let out = env.run(&["--runtime", rt, "run", "--rm", &img, "no-such-program"]);
        assert_error(mode, rt, &out, 127, &["no-such-program"]);
        let out = env.run(&["--runtime", rt, "run", "--rm", &img, "/etc"]);
        assert_error(mode, rt, &out, 126, &[rt]);
    }
    // what coracle keeps to its own runtime is refused at create
    assert_refused(
        &env,
        &["--runtime", "crun", "create", "--init", &img, "true"],
        "--init",
    );
}

/// What a container sees of its confinement: capabilities, no_new_privs,
/// seccomp, id maps, masked and read-only paths, its identity.
const CONFINEMENT: &str =
    "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; \
cat /proc/self/uid_map /proc/self/gid_map; \
wc -c < /proc/kcore; ls /proc/acpi /sys/firmware | wc -l; \
touch /proc/sys/kernel/x 2>/dev/null || echo proc-sys-ro; \
echo 1 > /proc/sysrq-trigger 2>/dev/null || echo sysrq-ro; \
id; hostname | wc -c";

both_modes!(same_isolation_as_the_builtin_runtime);
fn same_isolation_as_the_builtin_runtime(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let builtin = env.ok(&["run", "--rm", &img, "sh", "-c", CONFINEMENT]);
    assert_eq!(cap_eff(&builtin), PODMAN_DEFAULT_CAPS, "[{mode:?}]");
    assert!(builtin.contains("proc-sys-ro"), "[{mode:?}] {builtin}");
    for rt in runtimes() {
        let out = env.ok(&[
            "--runtime",
            rt,
            "run",
            "--rm",
            &img,
            "sh",
            "-c",
            CONFINEMENT,
        ]);
        assert_eq!(
            out, builtin,
            "[{mode:?}] {rt} differs from the built-in runtime"
        );
        // and for a user's changes, the same as the built-in again
        let extra = [
            "--cap-drop",
            "chown",
            "--cap-add",
            "net_admin",
            "--user",
            "1000",
        ];
        let mut a = vec!["run", "--rm"];
        a.extend(extra);
        a.extend([img.as_str(), "sh", "-c", CONFINEMENT]);
        let want = env.ok(&a);
        let mut b = vec!["--runtime", rt];
        b.extend(a.iter());
        assert_eq!(env.ok(&b), want, "[{mode:?}] {rt} with --cap-drop/--user");
    }
}

both_modes!(the_container_cannot_reach_coracle);
fn the_container_cannot_reach_coracle(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let bin = coracle_bin();
    let script = format!(
        "for p in /proc/[0-9]*; do readlink $p/exe; done; test -e {} && echo bin-visible; true",
        bin.display()
    );
    for rt in runtimes() {
        let name = format!("peek-{rt}");
        env.run_detached(&name, &["--runtime", rt], &img, &["sleep", "300"]);
        for out in [
            env.ok(&["exec", &name, "sh", "-c", &script]),
            env.ok(&["--runtime", rt, "run", "--rm", &img, "sh", "-c", &script]),
        ] {
            assert!(
                !out.contains("coracle") && !out.contains("bin-visible"),
                "[{mode:?}] {rt}: coracle reachable from the container:\n{out}"
            );
        }
        env.ok(&["rm", "-f", "-t", "0", &name]);
    }
}

both_modes!(build_runs_its_steps_through_the_runtime);
/// `build --runtime PATH --runtime-flag F`: the RUN steps are created and
/// started by that runtime (a wrapper that logs its calls, then runs crun
/// or runc), with the flag; without it, the built-in runtime runs them.
fn build_runs_its_steps_through_the_runtime(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let rt = runtimes()[0];
    let dir = env.user_dir("wrapped");
    let log = dir.join("calls.log");
    let wrapper = dir.join("logging-runtime");
    env.write_user_file(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {rt} \"$@\"\n",
            log.display()
        )
        .as_bytes(),
    );
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let ctx = env.user_dir("ctx");
    env.write_user_file(
        &ctx.join("Containerfile"),
        format!("FROM {img}\nRUN echo built > /built\n").as_bytes(),
    );
    let out = env.ok(&[
        "build",
        "-q",
        "--no-cache",
        "--runtime",
        &wrapper.to_string_lossy(),
        "--runtime-flag",
        "debug",
        "-t",
        "through-runtime",
        &ctx.to_string_lossy(),
    ]);
    assert!(!out.trim().is_empty(), "[{mode:?}]");
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        calls
            .lines()
            .any(|l| l.contains(" --debug create --bundle ")),
        "[{mode:?}] the RUN step did not go through the runtime: {calls:?}"
    );
    assert_eq!(
        env.sh("through-runtime", &[], "cat /built").trim(),
        "built",
        "[{mode:?}]"
    );
    // without --runtime the steps run built in: the wrapper is not called
    std::fs::remove_file(&log).unwrap();
    env.ok(&[
        "build",
        "-q",
        "--no-cache",
        "-t",
        "built-in",
        &ctx.to_string_lossy(),
    ]);
    assert!(
        !log.exists(),
        "[{mode:?}] the wrapper ran without --runtime"
    );
}
