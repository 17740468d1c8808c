//! `coracle exec` into a running container, as root and rootless.

mod common;

use common::*;

both_modes!(exec_runs_with_user_workdir_and_env);
fn exec_runs_with_user_workdir_and_env(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let id = env.run_detached("web", &[], &img, &["sleep", "300"]);
    let out = env.ok(&[
        "exec",
        "-u",
        "1000",
        "-w",
        "/tmp",
        "-e",
        "A=1",
        "web",
        "sh",
        "-c",
        "id -u; pwd; echo A=$A",
    ]);
    assert_eq!(out, "1000\n/tmp\nA=1\n", "[{mode:?}]");
    // the exec'd process joins the container: its hostname, its
    // image env, its capability and seccomp confinement
    let out = env.ok(&[
        "exec",
        "web",
        "sh",
        "-c",
        "id -u; hostname; echo $FROM_IMAGE; cat /proc/self/status",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["0", &id[..12], "yes"], "[{mode:?}] {out}");
    assert_eq!(cap_eff(&out), PODMAN_DEFAULT_CAPS, "[{mode:?}] exec CapEff");
    assert_eq!(
        status_field(&out, "Seccomp"),
        Some("2"),
        "[{mode:?}] exec seccomp"
    );
    assert_eq!(status_field(&out, "NoNewPrivs"), Some("1"), "[{mode:?}]");
    // and sees the container's processes, not the host's
    let out = env.ok(&["exec", "web", "cat", "/proc/1/cmdline"]);
    assert_eq!(
        out, "sleep\u{0}300\u{0}",
        "[{mode:?}] PID 1 of the container"
    );
    let _ = env.run(&["rm", "-f", "-t", "0", "web"]);
}

both_modes!(exec_exit_codes);
fn exec_exit_codes(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("web", &[], &img, &["sleep", "300"]);
    env.fails(&["exec", "web", "sh", "-c", "exit 5"], 5);
    let out = env.run(&["exec", "web", "nosuchcmd"]);
    assert_error(mode, "exec nosuchcmd", &out, 127, &["nosuchcmd"]);
    let out = env.run(&["exec", "web", "/tmp"]);
    assert_error(mode, "exec /tmp", &out, 126, &[]);
    let out = env.run(&["exec", "nosuchctr", "true"]);
    assert_error(
        mode,
        "exec into a missing container",
        &out,
        125,
        &["nosuchctr"],
    );
    let _ = env.run(&["rm", "-f", "-t", "0", "web"]);
}

both_modes!(exec_i_forwards_stdin);
fn exec_i_forwards_stdin(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("web", &[], &img, &["sleep", "300"]);
    let out = env.run_stdin(
        &["exec", "-i", "web", "sh", "-c", "cat; echo done"],
        b"piped\n",
    );
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "piped\ndone\n"),
        "[{mode:?}] {out:?}"
    );
    let out = env.run_stdin(&["exec", "web", "sh", "-c", "cat; echo done"], b"piped\n");
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "done\n"),
        "[{mode:?}] without -i {out:?}"
    );
    let _ = env.run(&["rm", "-f", "-t", "0", "web"]);
}

both_modes!(exec_into_a_stopped_container_fails);
fn exec_into_a_stopped_container_fails(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    env.ok(&["run", "--name", "stopped", &img, "true"]);
    // podman: "can only create exec sessions on running containers"
    // (podman 4.3 exits 255 here; the contract for own errors is 125)
    let out = env.run(&["exec", "stopped", "true"]);
    assert_error(
        mode,
        "exec into a stopped container",
        &out,
        125,
        &["running"],
    );
}

both_modes!(exec_sessions_and_container_cleanup_exec);
/// `exec -d` prints its session's id, which `inspect` lists (an attached
/// exec's session ends with it); `container cleanup --exec` refuses a
/// running session, keeps an ended one's exit code and removes its exit
/// file, and with `--rm` removes the session.
fn exec_sessions_and_container_cleanup_exec(mode: Mode) {
    use std::time::Duration;
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let id = env.run_detached("sess", &[], &img, &["sleep", "300"]);
    let exec_ids = || {
        env.ok(&["inspect", "--format", "{{json .ExecIDs}}", "sess"])
            .trim()
            .to_string()
    };
    env.ok(&["exec", "sess", "true"]);
    assert_eq!(exec_ids(), "[]", "[{mode:?}] an attached exec leaves none");
    let script = "while [ ! -e /tmp/go ]; do sleep 1; done; exit 3";
    let sid = env.ok(&["exec", "-d", "sess", "sh", "-c", script]);
    let sid = sid.trim().to_string();
    assert!(is_hex(&sid, 64), "[{mode:?}] {sid:?}");
    assert_eq!(exec_ids(), format!("[\"{sid}\"]"), "[{mode:?}]");
    let dir = env
        .runroot_dir()
        .join("containers")
        .join(&id)
        .join("exec")
        .join(&sid);
    assert!(dir.join("exit").exists(), "[{mode:?}] {}", dir.display());

    let cleanup = |extra: &[&str]| {
        let mut args = vec!["container", "cleanup", "--exec", &sid];
        args.extend_from_slice(extra);
        args.push("sess");
        env.run(&args)
    };
    let out = cleanup(&[]);
    assert_error(
        mode,
        "cleanup of a running session",
        &out,
        125,
        &["as it is running"],
    );
    let out = cleanup(&["--rm"]);
    assert_error(
        mode,
        "removal of a running session",
        &out,
        125,
        &["still running"],
    );
    assert_eq!(exec_ids(), format!("[\"{sid}\"]"), "[{mode:?}]");

    env.ok(&["exec", "sess", "touch", "/tmp/go"]);
    let ended = wait_for(Duration::from_secs(20), || cleanup(&[]).status == 0);
    assert!(ended, "[{mode:?}] the session never ended");
    // Ended and cleaned: still listed, its code kept, its exit file gone.
    assert_eq!(exec_ids(), format!("[\"{sid}\"]"), "[{mode:?}]");
    assert!(!dir.join("exit").exists(), "[{mode:?}]");
    let record = std::fs::read_to_string(dir.join("session.json")).unwrap();
    assert!(record.contains("\"exit_code\":3"), "[{mode:?}] {record}");
    let out = cleanup(&["--rm"]);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, ""),
        "[{mode:?}] {out:?}"
    );
    assert_eq!(exec_ids(), "[]", "[{mode:?}]");
    assert!(!dir.exists(), "[{mode:?}]");
    // A session already gone is no error, as podman.
    let out = cleanup(&["--rm"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let out = env.run(&["container", "cleanup", "--exec", &"ab".repeat(32), "sess"]);
    assert_eq!((out.status, out.stdout.as_str()), (0, ""), "[{mode:?}]");

    for (args, needle) in [
        (&["--all"][..], "--all and --exec cannot be set together"),
        (
            &["--rmi", "sess"],
            "--exec and --rmi cannot be set together",
        ),
        (&["sess", "sess"], "more than one container"),
    ] {
        let mut all = vec!["container", "cleanup", "--exec", &sid];
        all.extend_from_slice(args);
        let out = env.run(&all);
        assert_error(mode, &all.join(" "), &out, 125, &[needle]);
    }
    // --no-session: nothing recorded (and refused with -d, as podman).
    env.ok(&["exec", "--no-session", "sess", "true"]);
    env.fails(&["exec", "--no-session", "-d", "sess", "true"], 125);
    assert_eq!(exec_ids(), "[]", "[{mode:?}]");
    env.ok(&["rm", "-f", "-t", "0", "sess"]);
}
