//! `update` beyond the basic limits (those are in limits.rs): the
//! environment, rlimits and restart policy of a container, its healthcheck
//! changed while it runs, and what it refuses; as root and rootless.

mod common;

use std::time::Duration;

use common::*;

fn field(env: &TestEnv, name: &str, template: &str) -> String {
    env.ok(&["inspect", "--format", template, name])
        .trim()
        .to_string()
}

/// The NUL-separated environment of the container's first process.
fn first_process_env(env: &TestEnv, name: &str) -> Vec<String> {
    env.ok(&["exec", name, "cat", "/proc/1/environ"])
        .split('\0')
        .map(str::to_string)
        .collect()
}

both_modes!(update_sets_env_ulimits_and_restart_policy);
fn update_sets_env_ulimits_and_restart_policy(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let script = "trap 'exit 3' TERM; sleep 300 & wait";
    let id = env.run_detached(
        "u",
        &["-e", "KEEP=1", "-e", "DROP=2"],
        &img,
        &["sh", "-c", script],
    );
    let out = env.ok(&[
        "update",
        "--env",
        "NEW=3",
        "-e",
        "KEEP=9",
        "--unsetenv",
        "DROP",
        "--ulimit",
        "nofile=512:1024",
        "--restart",
        "always",
        "u",
    ]);
    assert_eq!(out.trim(), id, "[{mode:?}] update prints the id");
    let v = env.inspect_container("u");
    let cenv: Vec<&str> = v["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(
        cenv.contains(&"NEW=3")
            && cenv.contains(&"KEEP=9")
            && !cenv.iter().any(|e| e.starts_with("DROP=")),
        "[{mode:?}] Config.Env: {cenv:?}"
    );
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "always");
    // The running program keeps its environment (as podman: next start).
    assert!(first_process_env(&env, "u").contains(&"DROP=2".to_string()));
    // The new policy is the monitor's now: the program ends, it comes back.
    // (the exec may die with the container's pid namespace: its status
    // is no matter)
    env.run(&["exec", "u", "kill", "1"]);
    assert!(
        wait_for(Duration::from_secs(20), || {
            field(&env, "u", "{{.RestartCount}} {{.State.Status}}") == "1 running"
        }),
        "[{mode:?}] not restarted by the updated policy: {}",
        field(&env, "u", "{{.RestartCount}} {{.State.Status}}")
    );
    // A new start runs with the new environment and rlimits.
    env.ok(&["stop", "-t", "0", "u"]);
    env.ok(&["start", "u"]);
    let penv = first_process_env(&env, "u");
    assert!(
        penv.contains(&"NEW=3".to_string())
            && penv.contains(&"KEEP=9".to_string())
            && !penv.iter().any(|e| e.starts_with("DROP=")),
        "[{mode:?}] environment after a start: {penv:?}"
    );
    let limits = env.ok(&["exec", "u", "cat", "/proc/1/limits"]);
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(nofile[3..5], ["512", "1024"], "[{mode:?}] {limits}");
    // Bad input: one line, exit 125, the record unchanged.
    for (args, needle) in [
        (
            &["update", "--ulimit", "nofile=x", "u"][..],
            "invalid ulimit",
        ),
        (&["update", "--restart", "sometimes", "u"][..], "sometimes"),
        (
            &["update", "--blkio-weight-device", "/dev/null:5", "u"][..],
            "blkio-weight-device",
        ),
    ] {
        assert_refused(&env, args, needle);
    }
    assert_eq!(
        field(&env, "u", "{{.HostConfig.RestartPolicy.Name}}"),
        "always"
    );
    env.ok(&["rm", "-f", "-t", "0", "u"]);
    // --rm containers take no restart policy.
    env.run_detached("r", &["--rm"], &img, &["sleep", "300"]);
    assert_refused(&env, &["update", "--restart", "always", "r"], "--rm");
}

both_modes!(update_changes_the_healthcheck_of_a_running_container);
fn update_changes_the_healthcheck_of_a_running_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let id = env.run_detached("h", &[], &img, &["sleep", "300"]);
    // Nothing to tune without a healthcheck.
    assert_refused(
        &env,
        &["update", "--health-retries", "2", "h"],
        "no healthcheck",
    );
    assert!(env.inspect_container("h")["Config"]["Healthcheck"].is_null());
    let logs = env.user_dir("health-logs");
    let dest = logs.to_str().unwrap();
    env.ok(&[
        "update",
        "--health-cmd",
        "echo probing; test -f /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "--health-log-destination",
        dest,
        "--health-max-log-count",
        "2",
        "h",
    ]);
    let v = env.inspect_container("h");
    assert_eq!(
        v["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "echo probing; test -f /tmp/ok"])
    );
    assert_eq!(v["Config"]["HealthLogDestination"], dest);
    assert_eq!(v["Config"]["HealthcheckMaxLogCount"], 2);
    // The monitor runs the new check on its own: unhealthy, then healthy.
    assert!(
        wait_for(Duration::from_secs(15), || field(
            &env,
            "h",
            "{{.State.Health.Status}}"
        ) == "unhealthy"),
        "[{mode:?}] the updated check never ran: {}",
        field(&env, "h", "{{.State.Health.Status}}")
    );
    env.ok(&["exec", "h", "touch", "/tmp/ok"]);
    assert!(
        wait_for(Duration::from_secs(15), || field(
            &env,
            "h",
            "{{.State.Health.Status}}"
        ) == "healthy"),
        "[{mode:?}] never healthy"
    );
    // podman's results file in the destination directory
    let file = logs.join(format!("{id}-healthcheck.log"));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_default())
            .unwrap_or_else(|e| panic!("[{mode:?}] {}: {e}", file.display()));
    assert_eq!(results["Status"], "healthy", "[{mode:?}] {results}");
    assert!(
        results["Log"].as_array().is_some_and(|l| l.len() <= 2),
        "[{mode:?}] {results}"
    );
    // events_logger: each result in its health_status event too
    env.ok(&[
        "update",
        "--health-log-destination",
        "events_logger",
        "--health-cmd",
        "echo in-event",
        "h",
    ]);
    assert!(
        wait_for(Duration::from_secs(15), || {
            env.ok(&[
                "events",
                "--stream=false",
                "--filter",
                "event=health_status",
                "--format",
                "json",
            ])
            .contains("in-event")
        }),
        "[{mode:?}] no health_status event with the result"
    );
    assert_refused(
        &env,
        &["update", "--health-on-failure", "explode", "h"],
        "explode",
    );
    assert_refused(
        &env,
        &["update", "--health-log-destination", "/no/such/dir", "h"],
        "/no/such/dir",
    );
    assert_refused(
        &env,
        &["update", "--no-healthcheck", "--health-retries", "2", "h"],
        "no-healthcheck",
    );
    assert_eq!(
        field(&env, "h", "{{.Config.HealthcheckOnFailureAction}}"),
        "none"
    );
    env.ok(&["update", "--no-healthcheck", "--latest"]);
    assert!(env.inspect_container("h")["Config"]["Healthcheck"].is_null());
}
