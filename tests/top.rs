//! `top`: a running container's processes, with podman's default columns,
//! custom descriptors, and `ps` options run inside the container. As root
//! and rootless.

mod common;

use common::*;

/// The rows of a `top` output, split on runs of two or more spaces (cells
/// such as `sleep 300` hold single spaces).
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

both_modes!(top_shows_the_container_processes);
fn top_shows_the_container_processes(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.run_detached("t1", &[], &img, &["sleep", "300"]);
    env.ok(&["exec", "-d", "-e", &mark, "t1", "sleep", "200"]);
    // the exec'd process shows once it runs
    assert!(
        wait_for(std::time::Duration::from_secs(10), || env
            .ok(&["top", "t1"])
            .contains("sleep 200")),
        "[{mode:?}] the exec'd sleep never showed: {:?}",
        env.run(&["top", "t1"])
    );
    let out = env.ok(&["top", "t1"]);
    let r = rows(&out);
    assert_eq!(
        r[0],
        ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"],
        "[{mode:?}] podman's default columns:\n{out}"
    );
    assert_eq!(r.len(), 3, "[{mode:?}] two processes:\n{out}");
    let first = &r[1];
    assert_eq!(
        first[0], "root",
        "[{mode:?}] user by the container's passwd:\n{out}"
    );
    assert_eq!(
        first[1], "1",
        "[{mode:?}] pid as the container sees it:\n{out}"
    );
    assert_eq!(first[2], "0", "[{mode:?}] ppid of pid 1:\n{out}");
    assert_eq!(first[5], "?", "[{mode:?}] no tty:\n{out}");
    assert_eq!(first[7], "sleep 300", "[{mode:?}]:\n{out}");
    let second = &r[2];
    assert_eq!(
        second[2], "0",
        "[{mode:?}] the exec'd process's parent is outside:\n{out}"
    );
    assert_eq!(second[7], "sleep 200", "[{mode:?}]:\n{out}");
    assert_ne!(second[1], "1", "[{mode:?}]");
    let again = rows(&env.ok(&["container", "top", "t1", "pid", "args"]));
    assert_eq!(
        again,
        [
            ["PID", "COMMAND"],
            ["1", "sleep 300"],
            [second[1].as_str(), "sleep 200"]
        ],
        "[{mode:?}] container top"
    );
}

both_modes!(top_descriptors_users_and_ps_options);
fn top_descriptors_users_and_ps_options(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("t2", &["--user", "1000"], &img, &["sleep", "300"]);

    let out = env.ok(&["top", "t2", "pid,user", "group", "hpid", "comm", "args"]);
    let r = rows(&out);
    assert_eq!(
        r[0],
        ["PID", "USER", "GROUP", "HPID", "COMMAND", "COMMAND"],
        "[{mode:?}]:\n{out}"
    );
    assert_eq!(
        r[1][..3],
        ["1", "user", "user"],
        "[{mode:?}] uid 1000 by name:\n{out}"
    );
    let hpid: i32 = r[1][3].parse().unwrap();
    assert!(
        env.marked_pids().contains(&hpid),
        "[{mode:?}] HPID {hpid} is the host pid of the container's sleep:\n{out}"
    );
    assert_eq!(r[1][4], "sleep", "[{mode:?}]:\n{out}");
    assert_eq!(r[1][5], "sleep 300", "[{mode:?}]:\n{out}");
    // AIX codes
    assert_eq!(
        rows(&env.ok(&["top", "t2", "%p", "%U"]))[1],
        ["1", "user"],
        "[{mode:?}]"
    );
    // capabilities: a non-root user has none effective
    let caps = rows(&env.ok(&["top", "t2", "capeff", "capbnd"]));
    assert_eq!(caps[1][0], "none", "[{mode:?}] {caps:?}");
    assert!(caps[1][1].contains("CHOWN"), "[{mode:?}] {caps:?}");

    // not descriptors: ps(1) in the container with these options
    let out = env.ok(&["top", "t2", "-o", "pid,args"]);
    assert!(out.contains("sleep 300"), "[{mode:?}] ps output:\n{out}");
    assert!(
        !out.contains("ps -o"),
        "[{mode:?}] ps's own line is left out:\n{out}"
    );
}

both_modes!(top_of_a_container_not_running_fails);
fn top_of_a_container_not_running_fails(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["create", "--name", "t3", "-e", &mark, &img, "sleep", "1"]);
    let out = env.run(&["top", "t3"]);
    assert_error(
        mode,
        "top t3",
        &out,
        125,
        &["top can only be used on running containers"],
    );
    let out = env.run(&["top", "nosuch"]);
    assert_error(mode, "top nosuch", &out, 125, &["nosuch"]);
}
