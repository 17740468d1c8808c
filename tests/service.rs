//! Containers as services, root and rootless: restart policies kept by
//! the monitor, healthchecks on their interval and their on-failure
//! actions, systemd's notify socket, and the files and flags units use.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn field(env: &TestEnv, name: &str, template: &str) -> String {
    env.ok(&["inspect", "--format", template, name])
        .trim()
        .to_string()
}

fn restart_count(env: &TestEnv, name: &str) -> u64 {
    field(env, name, "{{.RestartCount}}").parse().unwrap()
}

/// Wait until the container has stopped for good (exited, not restarting).
fn wait_settled(env: &TestEnv, name: &str, timeout: Duration) -> bool {
    wait_for(timeout, || {
        field(env, name, "{{.State.Status}} {{.State.Restarting}}") == "exited false"
    })
}

both_modes!(on_failure_restarts_up_to_its_count);
fn on_failure_restarts_up_to_its_count(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let id = env.run_detached(
        "of",
        &["--restart", "on-failure:2"],
        &img,
        &["sh", "-c", "echo ran; exit 3"],
    );
    assert!(
        wait_settled(&env, "of", Duration::from_secs(20)),
        "[{mode:?}] on-failure:2 never settled"
    );
    assert_eq!(restart_count(&env, "of"), 2, "[{mode:?}]");
    assert_eq!(field(&env, "of", "{{.State.ExitCode}}"), "3", "[{mode:?}]");
    // the same container each time: one id, one log with three runs
    assert_eq!(env.all_container_ids(), vec![id], "[{mode:?}]");
    let logs = env.ok(&["logs", "of"]);
    assert_eq!(logs.matches("ran").count(), 3, "[{mode:?}] logs: {logs:?}");
    let policy = env.inspect_container("of")["HostConfig"]["RestartPolicy"].clone();
    assert_eq!(
        policy,
        serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 2}),
        "[{mode:?}]"
    );
    // a clean exit is not restarted by on-failure
    env.run_detached("ok", &["--restart", "on-failure"], &img, &["true"]);
    assert!(wait_settled(&env, "ok", Duration::from_secs(10)));
    assert_eq!(restart_count(&env, "ok"), 0, "[{mode:?}]");
}

both_modes!(always_restarts_with_backoff_until_stopped);
fn always_restarts_with_backoff_until_stopped(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("al", &["--restart", "always"], &img, &["true"]);
    // backoff 100, 200, 400, 800 ms...: a few restarts in 2 s, not dozens
    std::thread::sleep(Duration::from_millis(2000));
    let n = restart_count(&env, "al");
    assert!((1..=6).contains(&n), "[{mode:?}] {n} restarts in 2 s");
    let out = env.ok(&["stop", "al"]);
    assert_eq!(out.trim(), "al");
    assert!(
        wait_settled(&env, "al", Duration::from_secs(5)),
        "[{mode:?}]"
    );
    let after_stop = restart_count(&env, "al");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        restart_count(&env, "al"),
        after_stop,
        "[{mode:?}] restarted after stop"
    );
    assert!(env.marked_pids().is_empty(), "[{mode:?}] still running");
    // a user's start applies the policy again; rm -f ends it for good
    env.run_detached("al2", &["--restart", "always"], &img, &["sleep", "0.2"]);
    assert!(wait_for(Duration::from_secs(10), || restart_count(
        &env, "al2"
    ) >= 1));
    env.ok(&["rm", "-f", "al2"]);
    env.fails(&["inspect", "al2"], 125);
    assert!(
        wait_for(Duration::from_secs(5), || env.marked_pids().is_empty()),
        "[{mode:?}] a process of al2 survived rm -f"
    );
}

both_modes!(kill_is_not_undone_by_the_restart_policy);
fn kill_is_not_undone_by_the_restart_policy(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("k", &["--restart", "always"], &img, &["sleep", "300"]);
    env.ok(&["kill", "k"]);
    assert!(
        wait_settled(&env, "k", Duration::from_secs(10)),
        "[{mode:?}]"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(restart_count(&env, "k"), 0, "[{mode:?}]");
    assert_eq!(field(&env, "k", "{{.State.ExitCode}}"), "137");
    // rm -f of one that keeps restarting leaves nothing
    env.run_detached("k2", &["--restart", "always"], &img, &["sleep", "0.1"]);
    std::thread::sleep(Duration::from_millis(300));
    env.ok(&["rm", "-f", "k2"]);
    env.fails(&["inspect", "k2"], 125);
}

both_modes!(restart_policy_and_rm_conflict);
fn restart_policy_and_rm_conflict(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let before = snapshot(&env.store_dir());
    assert_refused(
        &env,
        &["run", "--rm", "--restart", "always", &img, "true"],
        "the --rm option conflicts with --restart",
    );
    assert_refused(
        &env,
        &["create", "--restart", "sometimes", &img],
        "invalid restart policy",
    );
    assert_refused(
        &env,
        &["create", "--sdnotify", "sometimes", &img],
        "invalid sdnotify value",
    );
    assert_refused(
        &env,
        &["create", "--health-cmd", "[bad", &img],
        "invalid healthcheck command",
    );
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), "refused creates");
    assert!(
        env.all_container_ids().is_empty(),
        "[{mode:?}] store changed"
    );
}

both_modes!(start_after_reboot_filter_picks_always_containers);
fn start_after_reboot_filter_picks_always_containers(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("a", &["--restart", "always"], &img, &["sleep", "300"]);
    env.run_detached(
        "u",
        &["--restart", "unless-stopped"],
        &img,
        &["sleep", "300"],
    );
    env.run_detached("n", &[], &img, &["sleep", "300"]);
    let mark = env.mark();
    env.ok(&[
        "create",
        "--name",
        "c",
        "--restart",
        "always",
        "-e",
        &mark,
        &img,
        "sleep",
        "300",
    ]);
    // what a reboot leaves: every container exited; u by a user's stop
    env.ok(&["stop", "-t", "0", "a", "u", "n"]);
    let out = env.ok(&[
        "ps",
        "-a",
        "--filter",
        "should-start-on-boot=true",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(word_set(&out), word_set("a"), "[{mode:?}]");
    let out = env.ok(&[
        "ps",
        "-a",
        "--filter",
        "restart-policy=always",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(word_set(&out), word_set("a c"), "[{mode:?}]");
    let out = env.ok(&[
        "ps",
        "-a",
        "--filter",
        "restart-policy=none",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(word_set(&out), word_set("n"), "[{mode:?}]");
    env.fails(&["ps", "--filter", "restart-policy=bogus"], 125);
    env.ok(&["start", "--all", "--filter", "restart-policy=always"]);
    let out = env.ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(word_set(&out), word_set("a c"), "[{mode:?}]");
}

/// Wait for the health status of `name` to become `want`.
fn wait_health(env: &TestEnv, name: &str, want: &str, timeout: Duration) -> bool {
    wait_for(timeout, || {
        field(env, name, "{{.State.Health.Status}}") == want
    })
}

both_modes!(healthcheck_runs_on_its_interval_and_reports_like_podman);
fn healthcheck_runs_on_its_interval_and_reports_like_podman(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let flags = [
        "--health-cmd",
        "echo checking; test -f /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
    ];
    env.run_detached("h", &flags, &img, &["sleep", "300"]);
    assert_eq!(field(&env, "h", "{{.State.Health.Status}}"), "starting");
    let out = env.ok(&["ps", "--format", "{{.Status}}"]);
    assert!(out.contains("(starting)"), "[{mode:?}] ps: {out:?}");
    // two failures in a row: unhealthy, found by the monitor alone
    assert!(
        wait_health(&env, "h", "unhealthy", Duration::from_secs(10)),
        "[{mode:?}] never unhealthy"
    );
    let out = env.ok(&[
        "ps",
        "--filter",
        "health=unhealthy",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert!(
        out.starts_with("h Up") && out.contains("(unhealthy)"),
        "[{mode:?}] {out:?}"
    );
    // healthcheck run: podman's exit code 1 and the status printed
    let out = env.fails(&["healthcheck", "run", "h"], 1);
    assert_eq!(out.stdout.trim(), "unhealthy");
    env.ok(&["healthcheck", "run", "--ignore-result", "h"]);
    env.ok(&["exec", "h", "sh", "-c", "echo > /tmp/ok"]);
    let out = env.ok(&["healthcheck", "run", "h"]);
    assert_eq!(out, "", "[{mode:?}] a healthy check prints nothing");
    let out = env.ok(&["wait", "--condition", "healthy", "h"]);
    assert_eq!(
        out.trim(),
        "-1",
        "[{mode:?}] podman's answer to a health condition"
    );
    let v = env.inspect_container("h");
    let health = &v["State"]["Health"];
    assert_eq!(health["Status"], "healthy");
    assert_eq!(health["FailingStreak"], 0);
    let log = health["Log"].as_array().unwrap();
    assert!(log.len() >= 3 && log.len() <= 5, "[{mode:?}] {log:?}");
    let last = log.last().unwrap();
    assert_eq!(last["ExitCode"], 0);
    assert_eq!(last["Output"], "checking\n");
    assert!(last["Start"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        v["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo checking; test -f /tmp/ok"],
            "StartPeriod": 0, "Interval": 1_000_000_000u64, "Timeout": 30_000_000_000u64, "Retries": 2})
    );
    assert_eq!(v["Config"]["HealthcheckOnFailureAction"], "none");
    let events = env.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=health_status",
    ]);
    assert!(
        events.contains("health_status=unhealthy") && events.contains("health_status=healthy"),
        "[{mode:?}] events: {events}"
    );
    // checks keep running: the log stays trimmed to its five entries
    std::thread::sleep(Duration::from_millis(3500));
    let n = env.inspect_container("h")["State"]["Health"]["Log"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(n, 5, "[{mode:?}]");
}

both_modes!(health_on_failure_actions);
fn health_on_failure_actions(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let failing = |action: &str| {
        vec![
            "--health-cmd".to_string(),
            "false".to_string(),
            "--health-interval".into(),
            "1s".into(),
            "--health-retries".into(),
            "1".into(),
            "--health-on-failure".into(),
            action.into(),
            "--stop-timeout".into(),
            "1".into(),
        ]
    };
    for (name, action) in [("hk", "kill"), ("hs", "stop"), ("hr", "restart")] {
        let f = failing(action);
        let f: Vec<&str> = f.iter().map(String::as_str).collect();
        env.run_detached(name, &f, &img, &["sleep", "300"]);
    }
    assert!(
        wait_settled(&env, "hk", Duration::from_secs(10)),
        "[{mode:?}] kill"
    );
    assert_eq!(field(&env, "hk", "{{.State.ExitCode}}"), "137");
    assert!(
        wait_settled(&env, "hs", Duration::from_secs(10)),
        "[{mode:?}] stop"
    );
    assert!(
        wait_for(Duration::from_secs(15), || restart_count(&env, "hr") >= 1),
        "[{mode:?}] restart action never restarted"
    );
    assert!(
        wait_for(Duration::from_secs(5), || field(
            &env,
            "hr",
            "{{.State.Status}}"
        ) == "running"),
        "[{mode:?}] restarted container not running"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(restart_count(&env, "hk"), 0, "[{mode:?}] kill was undone");
    assert_eq!(restart_count(&env, "hs"), 0, "[{mode:?}] stop was undone");
    // bad values are podman's errors, nothing created
    for (flag, value, error) in [
        ("--health-on-failure", "reboot", "invalid on-failure action"),
        ("--health-interval", "10ms", "must be at least 1 second"),
        ("--health-timeout", "0s", "must be at least 1 second"),
        ("--health-retries", "0", "must be greater than 0"),
    ] {
        assert_refused(
            &env,
            &["create", "--health-cmd", "true", flag, value, &img],
            error,
        );
    }
}

both_modes!(startup_healthcheck_gates_the_regular_one);
fn startup_healthcheck_gates_the_regular_one(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let flags = [
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        "--health-startup-cmd",
        "test -e /tmp/up",
        "--health-startup-interval",
        "1s",
        "--health-startup-success",
        "2",
    ];
    env.run_detached("su", &flags, &img, &["sleep", "300"]);
    // the regular check (`true`) would pass at once; the startup one holds
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        field(&env, "su", "{{.State.Health.Status}}"),
        "starting",
        "[{mode:?}]"
    );
    env.ok(&["exec", "su", "sh", "-c", "echo > /tmp/up"]);
    assert!(
        wait_health(&env, "su", "healthy", Duration::from_secs(10)),
        "[{mode:?}] never healthy after the startup check passed twice"
    );
    let v = env.inspect_container("su");
    assert_eq!(
        v["Config"]["StartupHealthCheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "test -e /tmp/up"])
    );
    assert_eq!(v["Config"]["StartupHealthCheck"]["Successes"], 2);
    // a startup check that fails its retries restarts the container
    let flags = [
        "--health-cmd",
        "true",
        "--health-startup-cmd",
        "false",
        "--health-startup-interval",
        "1s",
        "--health-startup-retries",
        "2",
        "--stop-timeout",
        "1",
    ];
    env.run_detached("sx", &flags, &img, &["sleep", "300"]);
    assert!(
        wait_for(Duration::from_secs(15), || restart_count(&env, "sx") >= 1),
        "[{mode:?}] exhausted startup check did not restart the container"
    );
}

both_modes!(healthcheck_from_the_image_and_its_errors);
fn healthcheck_from_the_image_and_its_errors(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let ctx = env.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {img}\nHEALTHCHECK --interval=1s --retries=1 CMD test -e /ready\n"),
    )
    .unwrap();
    std::fs::set_permissions(&ctx, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        ctx.join("Containerfile"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    env.ok(&["build", "-q", "-t", "localhost/hc", ctx.to_str().unwrap()]);
    let cfg = env.inspect("localhost/hc");
    assert_eq!(
        cfg["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "test -e /ready"]),
        "[{mode:?}] build records HEALTHCHECK"
    );
    env.run_detached("img", &[], "localhost/hc", &["sleep", "300"]);
    assert!(
        wait_health(&env, "img", "unhealthy", Duration::from_secs(10)),
        "[{mode:?}]"
    );
    env.run_detached(
        "off",
        &["--no-healthcheck"],
        "localhost/hc",
        &["sleep", "300"],
    );
    assert_eq!(field(&env, "off", "{{.State.Health.Status}}"), "");
    assert_refused(
        &env,
        &["healthcheck", "run", "off"],
        "has no defined healthcheck",
    );
    env.ok(&["stop", "-t", "0", "img"]);
    assert_refused(&env, &["healthcheck", "run", "img"], "is not running");
    assert_refused(&env, &["healthcheck", "run", "nosuch"], "no such container");
    assert_refused(
        &env,
        &["wait", "--condition", "healthy", "off"],
        "has no healthcheck",
    );
}

/// A datagram socket the test listens on, reachable by the test user.
fn notify_socket(env: &TestEnv) -> (UnixDatagram, String) {
    let dir = env.dir.join("notify");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.join("sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    (sock, path.to_str().unwrap().to_string())
}

fn receive(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    match sock.recv(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(e) => format!("<nothing: {e}>"),
    }
}

/// A static program that sends its argument to $NOTIFY_SOCKET, as
/// sd_notify(3) does; bound into containers.
fn notify_sender() -> std::path::PathBuf {
    static P: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let dir = base_dir().join("sdnotify");
        mkdir_mode(&dir, 0o755);
        let src = dir.join("send.c");
        std::fs::write(
            &src,
            r#"#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || argc < 2) return 2;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    return sendto(s, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&a, sizeof a) < 0;
}
"#,
        )
        .unwrap();
        compile_static(&src, &dir.join("send"), "the sdnotify test");
        dir.join("send")
    })
    .clone()
}

both_modes!(sdnotify_modes_tell_systemd_as_podman_does);
fn sdnotify_modes_tell_systemd_as_podman_does(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let (sock, path) = notify_socket(&env);
    env.set_env("NOTIFY_SOCKET", &path);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    // conmon: the monitor is MAINPID and says READY once started
    env.run_detached("cm", &["--sdnotify", "conmon"], &img, &["sleep", "300"]);
    let msg = receive(&sock);
    let monitor = env.monitor_pid("cm");
    assert_eq!(msg, format!("MAINPID={monitor}\nREADY=1"), "[{mode:?}]");
    // container: the program says READY itself, through a socket bound in
    let sender = notify_sender();
    let bind = format!("{}:/send:ro", sender.display());
    env.run_detached(
        "ct",
        &["--sdnotify", "container", "-v", &bind],
        &img,
        &[
            "sh",
            "-c",
            "test -S $NOTIFY_SOCKET && sleep 1 && /send READY=1; sleep 300",
        ],
    );
    let first = receive(&sock);
    let monitor = env.monitor_pid("ct");
    assert_eq!(
        first,
        format!("MAINPID={monitor}"),
        "[{mode:?}] not ready yet"
    );
    let ready = receive(&sock);
    assert_eq!(ready, format!("MAINPID={monitor}\nREADY=1"), "[{mode:?}]");
    // healthy: READY once the healthcheck passes
    let started = Instant::now();
    env.run_detached(
        "hy",
        &[
            "--sdnotify",
            "healthy",
            "--health-cmd",
            "test -e /tmp/up",
            "--health-interval",
            "1s",
        ],
        &img,
        &["sh", "-c", "sleep 2; echo > /tmp/up; sleep 300"],
    );
    let msg = receive(&sock);
    let monitor = env.monitor_pid("hy");
    assert_eq!(msg, format!("MAINPID={monitor}"), "[{mode:?}]");
    let msg = receive(&sock);
    assert_eq!(msg, format!("MAINPID={monitor}\nREADY=1"), "[{mode:?}]");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "[{mode:?}] ready too early"
    );
    // ignore: nothing at all, and the container never sees the socket
    sock.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let out = env.sh(
        &img,
        &["--sdnotify", "ignore"],
        "echo ${NOTIFY_SOCKET:-unset}",
    );
    assert_eq!(out.trim(), "unset");
    assert!(receive(&sock).starts_with("<nothing"), "[{mode:?}]");
    assert_refused(
        &env,
        &["create", "--sdnotify", "healthy", &img],
        "requires a healthcheck",
    );
}

both_modes!(pid_files_and_replace_for_units);
fn pid_files_and_replace_for_units(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let pidfile = env.runtime_dir.join("ctr.pid");
    let conmon = env.runtime_dir.join("conmon.pid");
    let (p, c) = (pidfile.to_str().unwrap(), conmon.to_str().unwrap());
    let first = env.run_detached(
        "svc",
        &["--pidfile", p, "--conmon-pidfile", c],
        &img,
        &["sleep", "300"],
    );
    let v: Value = env.inspect_container("svc");
    let read = |f: &std::path::Path| std::fs::read_to_string(f).unwrap().trim().to_string();
    assert_eq!(read(&pidfile), v["State"]["Pid"].to_string(), "[{mode:?}]");
    assert_eq!(
        read(&conmon),
        v["State"]["ConmonPid"].to_string(),
        "[{mode:?}]"
    );
    assert_eq!(v["PidFile"], p);
    assert_eq!(v["ConmonPidFile"], c);
    // --replace: the name is taken over, the old container is gone
    let second = env.run_detached("svc", &["--replace"], &img, &["sleep", "300"]);
    assert_ne!(first, second);
    assert_eq!(env.all_container_ids(), vec![second], "[{mode:?}]");
    assert_refused(
        &env,
        &["run", "-d", "--replace", &img, "true"],
        "without --name",
    );
}

both_modes!(foreground_run_stops_on_sigterm_despite_its_policy);
fn foreground_run_stops_on_sigterm_despite_its_policy(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    // what a unit runs in the foreground: systemd's stop is a SIGTERM to it
    let mut child = env
        .coracle_command(&[
            "run",
            "--name",
            "fg",
            "--init",
            "--restart",
            "always",
            "-e",
            &mark,
            &img,
            "sleep",
            "300",
        ])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cli = coracle_pid(mode, child.id() as i32);
    assert!(wait_for(Duration::from_secs(10), || {
        env.run(&["inspect", "--format", "{{.State.Status}}", "fg"])
            .stdout
            .trim()
            == "running"
    }));
    // SAFETY: a signal to the CLI this test started.
    unsafe { libc::kill(cli, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(143),
        "[{mode:?}] the program's SIGTERM status"
    );
    assert!(
        wait_settled(&env, "fg", Duration::from_secs(5)),
        "[{mode:?}]"
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        restart_count(&env, "fg"),
        0,
        "[{mode:?}] restarted after the unit's stop"
    );
    assert!(env.marked_pids().is_empty(), "[{mode:?}] still running");
}

/// The unit that brings containers back after a reboot is one systemd
/// accepts, and its command selects what podman-restart.service does.
#[test]
fn restart_unit_passes_systemd_analyze() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("systemd-analyze is missing (apt-get install systemd)");
    }
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib/systemd/coracle-restart.service"),
    )
    .unwrap();
    assert!(unit.contains("start --all --filter should-start-on-boot=true"));
    let dir = base_dir().join(unique("unit"));
    mkdir_mode(&dir, 0o755);
    let path = dir.join("coracle-restart.service");
    let bin = coracle_bin();
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/coracle", bin.to_str().unwrap()),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("coracle-restart.service"))
        .collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
