//! The process flags of `run`/`create` (devices, /dev/shm, sysctls, time
//! zone, umask, groups, environment, labels, dependencies, timeout, --rmi),
//! `--cidfile`/`--filter`/`--latest` on the lifecycle verbs, the
//! `stopping` state, and `ps` templates and filters, as root and rootless.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// `run --rm [mark] ARGS...` with the whole outcome.
fn run_rm(env: &TestEnv, args: &[&str]) -> Out {
    let mark = env.mark();
    let mut all = vec!["run", "--rm", "-e", &mark];
    all.extend_from_slice(args);
    env.run(&all)
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_string).collect()
}

both_modes!(process_settings_reach_the_program);
fn process_settings_reach_the_program(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let out = env.sh(
        &img,
        &[
            "--shm-size",
            "2m",
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=42",
            "--tz",
            "Asia/Tokyo",
            "--umask",
            "0077",
            "--group-add",
            "wheel",
            "--group-add",
            "4242",
            "--device",
            "/dev/null:/dev/mynull:rw",
        ],
        "busybox df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2; \
         cat /proc/sys/net/ipv4/ip_unprivileged_port_start; \
         date +%Z; umask; id -G; stat -c '%t,%T' /dev/mynull; \
         echo x > /dev/mynull && echo writable",
    );
    let got = lines(&out);
    assert_eq!(got.len(), 7, "[{mode:?}] {out:?}");
    assert_eq!(got[0], "2048", "[{mode:?}] /dev/shm size in KiB: {out:?}");
    assert_eq!(got[1], "42", "[{mode:?}] sysctl: {out:?}");
    assert_eq!(got[2], "JST", "[{mode:?}] time zone: {out:?}");
    assert_eq!(got[3], "0077", "[{mode:?}] umask: {out:?}");
    let groups = word_set(&got[4]);
    assert!(
        groups.contains("10") && groups.contains("4242"),
        "[{mode:?}] --group-add: {out:?}"
    );
    assert_eq!(got[5], "1,3", "[{mode:?}] the device node: {out:?}");
    assert_eq!(got[6], "writable", "[{mode:?}] {out:?}");

    // The defaults without them: 64 MiB of shm, umask 0022, no extra group.
    let out = env.sh(
        &img,
        &[],
        "busybox df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2; umask; id -G; test -e /dev/mynull || echo none",
    );
    assert_eq!(
        lines(&out),
        ["65536", "0022", "0", "none"],
        "[{mode:?}] defaults: {out:?}"
    );

    // Recorded where podman's inspect shows them.
    env.ok(&[
        "create",
        "--name",
        "tuned",
        "--shm-size",
        "1g",
        "--sysctl",
        "net.core.somaxconn=100",
        "--tz",
        "local",
        "--umask",
        "027",
        "--group-add",
        "wheel",
        "--device",
        "/dev/null:/dev/mynull",
        "--timeout",
        "30",
        &img,
        "true",
    ]);
    let v = env.inspect_container("tuned");
    let hc = &v["HostConfig"];
    assert_eq!(hc["ShmSize"], 1u64 << 30, "[{mode:?}] {hc}");
    assert_eq!(
        hc["Sysctls"]["net.core.somaxconn"], "100",
        "[{mode:?}] {hc}"
    );
    assert_eq!(hc["GroupAdd"][0], "wheel", "[{mode:?}] {hc}");
    assert_eq!(
        hc["Devices"][0]["PathOnHost"], "/dev/null",
        "[{mode:?}] {hc}"
    );
    assert_eq!(
        hc["Devices"][0]["PathInContainer"], "/dev/mynull",
        "[{mode:?}] {hc}"
    );
    assert_eq!(v["Config"]["Umask"], "027", "[{mode:?}]");
    assert_eq!(v["Config"]["Timezone"], "local", "[{mode:?}]");
    assert_eq!(v["Config"]["Timeout"], 30, "[{mode:?}]");
    assert_eq!(hc["ShmSize"].as_u64(), Some(1 << 30));
}

both_modes!(namespace_and_file_flags);
fn namespace_and_file_flags(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let host_ns = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    let host_ns = host_ns.to_string_lossy();
    let inside = env.sh(
        &img,
        &["--cgroupns", "host"],
        "readlink /proc/self/ns/cgroup",
    );
    assert_eq!(inside.trim(), host_ns, "[{mode:?}] --cgroupns host");
    let inside = env.sh(&img, &[], "readlink /proc/self/ns/cgroup");
    assert_ne!(inside.trim(), host_ns, "[{mode:?}] private by default");

    // LINUX32: what uname shows for the machine
    let out = env.sh(&img, &["--personality", "LINUX32"], "uname -m");
    assert_eq!(out.trim(), "i686", "[{mode:?}] --personality LINUX32");

    let out = env.sh(
        &img,
        &["--no-hostname"],
        "test -e /etc/hostname && echo yes || echo no",
    );
    assert_eq!(out.trim(), "no", "[{mode:?}] --no-hostname");
    let out = env.sh(&img, &[], "test -e /etc/hostname && echo yes || echo no");
    assert_eq!(out.trim(), "yes", "[{mode:?}] /etc/hostname by default");

    // --read-only keeps /tmp writable unless --read-only-tmpfs=false
    env.sh(&img, &["--read-only"], "touch /tmp/x");
    let out = run_rm(
        &env,
        &[
            "--read-only",
            "--read-only-tmpfs=false",
            &img,
            "touch",
            "/tmp/x",
        ],
    );
    assert_ne!(out.status, 0, "[{mode:?}] /tmp must be read-only: {out:?}");
}

both_modes!(environment_flags_build_on_the_image);
fn environment_flags_build_on_the_image(mode: Mode) {
    // No reaper: it would borrow `env`, which set_env changes; every run
    // here is a short --rm one.
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let mark = env.mark();
    let printenv = |env: &TestEnv, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&img, "env"]);
        let mut v: Vec<String> = lines(&env.ok(&args))
            .into_iter()
            .filter(|l| !l.starts_with("CORACLE_TEST_MARK="))
            .collect();
        v.sort();
        v
    };
    let out = printenv(
        &env,
        &[
            "-e",
            &mark,
            "--env-merge",
            "FROM_IMAGE=${FROM_IMAGE}-merged",
            "--env-merge",
            "NEW=$NOPE/x",
        ],
    );
    assert!(
        out.contains(&"FROM_IMAGE=yes-merged".to_string()) && out.contains(&"NEW=/x".to_string()),
        "[{mode:?}] --env-merge: {out:?}"
    );
    let out = printenv(&env, &["-e", &mark, "--unsetenv", "FROM_IMAGE"]);
    assert!(
        !out.iter().any(|l| l.starts_with("FROM_IMAGE="))
            && out.iter().any(|l| l.starts_with("PATH=")),
        "[{mode:?}] --unsetenv: {out:?}"
    );
    let out = printenv(
        &env,
        &["-e", &mark, "--unsetenv", "PATH", "--unsetenv", "HOSTNAME"],
    );
    assert!(
        !out.iter()
            .any(|l| l.starts_with("PATH=") || l.starts_with("HOSTNAME=")),
        "[{mode:?}] --unsetenv of runtime defaults: {out:?}"
    );
    let out = printenv(&env, &["-e", &mark, "--unsetenv-all", "-e", "KEEP=1"]);
    assert_eq!(out, ["KEEP=1"], "[{mode:?}] --unsetenv-all");

    // From our own environment: proxies by default, everything with --env-host.
    env.set_env("http_proxy", "http://proxy.invalid:3128");
    env.set_env("RF_HOST_ONLY", "from-host");
    let out = printenv(&env, &["-e", &mark]);
    assert!(
        out.contains(&"http_proxy=http://proxy.invalid:3128".to_string())
            && !out.iter().any(|l| l.starts_with("RF_HOST_ONLY=")),
        "[{mode:?}] default: proxies only: {out:?}"
    );
    let out = printenv(&env, &["-e", &mark, "--http-proxy=false"]);
    assert!(
        !out.iter().any(|l| l.starts_with("http_proxy=")),
        "[{mode:?}] --http-proxy=false: {out:?}"
    );
    let out = printenv(
        &env,
        &["-e", &mark, "--env-host", "-e", "RF_HOST_ONLY=mine"],
    );
    assert!(
        out.contains(&"RF_HOST_ONLY=mine".to_string()),
        "[{mode:?}] --env over --env-host: {out:?}"
    );
    let out = printenv(&env, &["-e", &mark, "--env-host"]);
    assert!(
        out.contains(&"RF_HOST_ONLY=from-host".to_string()),
        "[{mode:?}] --env-host: {out:?}"
    );
}

both_modes!(labels_from_files_and_ps_templates);
fn labels_from_files_and_ps_templates(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let file = env.home.join("labels");
    env.write_user_file(&file, b"# a comment\nteam=infra\n\ntier=low\n");
    let file = file.to_string_lossy().to_string();
    env.ok(&[
        "create",
        "--name",
        "labelled",
        "--label-file",
        &file,
        "--label",
        "tier=high",
        &img,
        "true",
    ]);
    env.ok(&["create", "--name", "plain", &img, "true"]);
    let out = env.ok(&[
        "ps",
        "-a",
        "--filter",
        "name=labelled",
        "--format",
        "{{.Names}} {{.Label \"team\"}} [{{.Label \"missing\"}}] {{.Labels}}",
    ]);
    assert_eq!(
        out, "labelled infra [] org.coracle.fixture=rt,team=infra,tier=high\n",
        "[{mode:?}] label file, then --label over it"
    );
    let out = env.ok(&["ps", "-a", "--sort", "names", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let by_name = |n: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|c| c["Names"][0] == n)
            .cloned()
            .unwrap_or_else(|| panic!("[{mode:?}] {n} in {out}"))
    };
    assert_eq!(
        by_name("labelled")["Labels"],
        serde_json::json!({"org.coracle.fixture": "rt", "team": "infra", "tier": "high"}),
        "[{mode:?}]"
    );
    assert_eq!(
        by_name("plain")["Labels"],
        serde_json::json!({"org.coracle.fixture": "rt"}),
        "[{mode:?}] the image's own: {out}"
    );
}

both_modes!(ps_filters_use_go_regexps_and_volumes);
fn ps_filters_use_go_regexps_and_volumes(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    for (name, extra) in [
        ("web-01", vec![]),
        ("web-2", vec![]),
        ("db1", vec!["-v", "rfvol:/data"]),
    ] {
        let mut args = vec!["create", "--name", name];
        args.extend(extra);
        args.extend([img.as_str(), "true"]);
        env.ok(&args);
    }
    let names = |filters: &[&str]| {
        let mut args = vec!["ps", "-a", "--sort", "names", "--format", "{{.Names}}"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        env.ok(&args)
    };
    assert_eq!(names(&["name=^web-[0-9]{2}$"]), "web-01\n", "[{mode:?}]");
    assert_eq!(names(&["name=^(db|web-2)"]), "db1\nweb-2\n", "[{mode:?}]");
    assert_eq!(names(&["name=\\d$"]), "db1\nweb-01\nweb-2\n", "[{mode:?}]");
    assert_eq!(
        names(&["name=a("]),
        "",
        "[{mode:?}] a bad pattern matches nothing"
    );
    assert_eq!(names(&["volume=rfvol"]), "db1\n", "[{mode:?}]");
    assert_eq!(names(&["volume=rfvol:/data"]), "db1\n", "[{mode:?}]");
    assert_eq!(names(&["volume=rfvol:/other"]), "", "[{mode:?}]");
    assert_eq!(names(&["until=1h"]), "", "[{mode:?}] none is an hour old");
    assert_eq!(
        names(&["until=2099-01-01T00:00:00Z"]).lines().count(),
        3,
        "[{mode:?}]"
    );
}

both_modes!(lifecycle_verbs_take_cidfiles_filters_and_latest);
fn lifecycle_verbs_take_cidfiles_filters_and_latest(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let cidfile = env.home.join("ctr.cid");
    let cid = cidfile.to_string_lossy().to_string();
    let id = env.ok(&[
        "create",
        "--cidfile",
        &cid,
        "-e",
        &mark,
        "--name",
        "rf-a",
        &img,
        "sh",
        "-c",
        "trap 'exit 7' HUP; while true; do sleep 1; done",
    ]);
    let id = id.trim();
    env.ok(&["start", "rf-a"]);
    let state = |n: &str| env.ok(&["inspect", "--format", "{{.State.Status}}", n]);
    assert_eq!(
        env.ok(&["exec", "--cidfile", &cid, "echo", "hi"]),
        "hi\n",
        "[{mode:?}]"
    );
    env.ok(&["stop", "-t", "0", "--cidfile", &cid]);
    assert_eq!(state("rf-a"), "exited\n", "[{mode:?}] stop --cidfile");
    env.ok(&["start", "rf-a"]);
    env.ok(&["kill", "--cidfile", &cid, "-s", "HUP"]);
    assert!(
        wait_for(Duration::from_secs(10), || state("rf-a") == "exited\n"),
        "[{mode:?}] kill --cidfile -s HUP"
    );
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.ExitCode}}", "rf-a"]),
        "7\n",
        "[{mode:?}] the program's HUP trap ran"
    );
    // --latest: the last one made
    env.ok(&["create", "--name", "rf-b", &img, "true"]);
    assert_eq!(
        env.ok(&["inspect", "--latest", "--format", "{{.Name}}"]),
        "rf-b\n",
        "[{mode:?}]"
    );
    env.ok(&["rm", "--cidfile", &cid]);
    assert!(
        !env.all_container_ids().contains(&id.to_string()),
        "[{mode:?}] rm --cidfile"
    );
    // a missing cidfile: an error, unless --ignore
    env.ok(&[
        "rm",
        "--ignore",
        "--cidfile",
        &cid.replace("ctr.cid", "none.cid"),
    ]);
    assert_refused(&env, &["rm", "--cidfile", "/nonexistent/x.cid"], "x.cid");

    // --filter selects among all containers
    env.run_detached("rf-run1", &[], &img, &["sleep", "300"]);
    env.run_detached("rf-run2", &[], &img, &["sleep", "300"]);
    env.ok(&["stop", "-t", "0", "--filter", "name=^rf-run1$"]);
    assert_eq!(
        (state("rf-run1"), state("rf-run2")),
        ("exited\n".to_string(), "running\n".to_string()),
        "[{mode:?}] stop --filter"
    );
    env.ok(&["rm", "-f", "--filter", "name=^rf-run"]);
    let left = env.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left, "rf-b\n", "[{mode:?}] rm --filter");
}

both_modes!(stop_shows_stopping_while_it_waits);
fn stop_shows_stopping_while_it_waits(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached(
        "stubborn",
        &[],
        &img,
        &["sh", "-c", "trap '' TERM; sleep 300"],
    );
    let mut stop = env
        .coracle_command(&["stop", "-t", "4", "stubborn"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = || env.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(
        wait_for(Duration::from_secs(3), || status() == "Stopping\n"),
        "[{mode:?}] ps during stop: {}",
        status()
    );
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "stubborn"]),
        "stopping\n",
        "[{mode:?}]"
    );
    assert!(stop.wait().unwrap().success());
    assert!(
        status().starts_with("Exited (137)"),
        "[{mode:?}] after stop: {}",
        status()
    );
}

both_modes!(requires_timeout_and_rmi);
fn requires_timeout_and_rmi(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["create", "--name", "dep", "-e", &mark, &img, "sleep", "300"]);
    env.ok(&[
        "create",
        "--name",
        "app",
        "-e",
        &mark,
        "--requires",
        "dep",
        &img,
        "sleep",
        "300",
    ]);
    let dep_id = env.ok(&["inspect", "--format", "{{.Id}}", "dep"]);
    assert_eq!(
        env.ok(&[
            "inspect",
            "--format",
            "{{range .Dependencies}}{{.}}{{end}}",
            "app"
        ]),
        dep_id,
        "[{mode:?}] Dependencies"
    );
    env.ok(&["start", "app"]);
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "dep"]),
        "running\n",
        "[{mode:?}] the required container starts first"
    );
    assert_refused(
        &env,
        &["create", "--requires", "nosuchctr", &img, "true"],
        "nosuchctr",
    );
    env.ok(&["rm", "-f", "-t", "0", "app", "dep"]);

    // --timeout: killed after its time, no restart
    let started = Instant::now();
    let out = run_rm(&env, &["--timeout", "2", &img, "sleep", "60"]);
    assert_eq!(out.status, 137, "[{mode:?}] --timeout: {out:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "[{mode:?}]");

    // --rmi: the image goes with the container, unless another uses it
    let pushed = push_unique(&unique_image("rmi"), "rmi");
    let reference = pushed.reference();
    env.pull(&reference);
    let short_id = pushed.id().trim_start_matches("sha256:")[..12].to_string();
    env.ok(&["create", "--name", "holder", &reference, "true"]);
    assert_eq!(
        env.ok(&["run", "--rmi", &reference, "echo", "ran"]),
        "ran\n"
    );
    assert!(
        env.image_ids().contains(&short_id),
        "[{mode:?}] an image in use stays"
    );
    env.ok(&["rm", "holder"]);
    assert_eq!(
        env.ok(&["run", "--rmi", &reference, "echo", "ran"]),
        "ran\n"
    );
    assert!(
        !env.image_ids().contains(&short_id),
        "[{mode:?}] --rmi left the image"
    );
    assert!(
        env.image_ids().len() == 1,
        "[{mode:?}] only the rt image is left"
    );
    assert!(
        env.all_container_ids().is_empty(),
        "[{mode:?}] --rmi implies --rm"
    );
}

both_modes!(bad_process_flags_are_refused);
fn bad_process_flags_are_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let refused = |flags: &[&str], needle: &str| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&img, "true"]);
        assert_refused(&env, &args, needle);
    };
    refused(&["--sysctl", "kernel.hostname=x"], "kernel.hostname");
    refused(&["--sysctl", "novalue"], "novalue");
    refused(
        &["--network", "host", "--sysctl", "net.core.somaxconn=1"],
        "net.core.somaxconn",
    );
    refused(
        &["--ipc", "host", "--sysctl", "kernel.shmmax=1"],
        "kernel.shmmax",
    );
    refused(&["--ipc", "host", "--shm-size", "1m"], "--shm-size");
    refused(&["--shm-size", "lots"], "lots");
    refused(&["--tz", "Mars/Olympus"], "Mars/Olympus");
    refused(&["--tz", "../../etc/passwd"], "passwd");
    refused(&["--umask", "0999"], "0999");
    refused(&["--device", "/dev/nosuchdevice"], "/dev/nosuchdevice");
    refused(&["--device", "/etc/hostname"], "not a device");
    refused(&["--device", "/dev/null:/dev/x:rwq"], "rwq");
    refused(
        &["--group-add", "keep-groups", "--group-add", "wheel"],
        "keep-groups",
    );
    refused(&["--personality", "LINUX64"], "LINUX64");
    refused(&["--cgroupns", "shared"], "shared");
    refused(&["--env-merge", "NOEQUALS"], "NOEQUALS");
    refused(
        &["--label-file", "/nonexistent/labels"],
        "/nonexistent/labels",
    );
    refused(&["--pod-id-file", "/nonexistent/pod"], "/nonexistent/pod");
    refused(&["-d", "--rmi"], "--rmi");
    // a group the image does not know: podman's 126 at start
    let out = run_rm(&env, &["--group-add", "nosuchgroup", &img, "true"]);
    assert_error(mode, "--group-add nosuchgroup", &out, 126, &["nosuchgroup"]);
}

both_modes!(ps_watch_refreshes);
fn ps_watch_refreshes(mode: Mode) {
    let env = TestEnv::new(mode);
    let (mut child, rx) = env.spawn_lines(&["ps", "--watch", "1", "--format", "table {{.Names}}"]);
    let start = Instant::now();
    let mut headers = 0;
    while start.elapsed() < Duration::from_secs(10) && headers < 2 {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("NAMES") {
                assert!(line.starts_with("\x1b[2J"), "[{mode:?}] cleared: {line:?}");
                headers += 1;
            }
        }
    }
    // The whole group: rootless, the child is runuser and coracle its own.
    // SAFETY: a signal to the process group this test started.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    assert_eq!(headers, 2, "[{mode:?}] two refreshes");
    assert_refused(&env, &["ps", "--watch", "1", "-q"], "--watch");
}

both_modes!(passwd_entries_for_unknown_users);
fn passwd_entries_for_unknown_users(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    // a numeric user the image does not know gets podman's entry
    let out = env.sh(
        &img,
        &["--user", "1234:4321", "-w", "/tmp"],
        "whoami; grep ^1234: /etc/passwd; grep ^4321: /etc/group; echo $HOME",
    );
    assert_eq!(
        out, "1234\n1234:*:1234:4321:container user:/tmp:/bin/sh\n4321:x:4321:1234\n/tmp\n",
        "[{mode:?}]"
    );
    let out = env.sh(
        &img,
        &[
            "--user",
            "1234",
            "--passwd-entry",
            "u$UID:x:$UID:$GID:$NAME:/home/u:/bin/false",
        ],
        "grep ^u1234: /etc/passwd; whoami",
    );
    assert_eq!(
        out, "u1234:x:1234:0::/home/u:/bin/false\nu1234\n",
        "[{mode:?}]"
    );
    let out = run_rm(
        &env,
        &[
            "--user",
            "1234",
            "--passwd=false",
            &img,
            "grep",
            "-c",
            "1234",
            "/etc/passwd",
        ],
    );
    assert_eq!(out.stdout, "0\n", "[{mode:?}] --passwd=false: {out:?}");
    // --hostuser copies the host's entry (root is in every host's passwd)
    let host_root = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("daemon:"))
        .map(str::to_string);
    if let Some(line) = host_root {
        let out = env.sh(&img, &["--hostuser", "daemon"], "grep ^daemon: /etc/passwd");
        assert_eq!(out.trim(), line, "[{mode:?}] --hostuser");
    }
    assert_refused(
        &env,
        &["create", "--hostuser", "no-such-host-user", &img, "true"],
        "no-such-host-user",
    );
    // the image's own files stay as they were
    let out = env.sh(&img, &[], "grep -c . /etc/passwd");
    assert_eq!(out, "3\n", "[{mode:?}]");
}

both_modes!(log_options);
fn log_options(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let path = env.home.join("logs").join("ctr.log");
    env.write_user_file(&path, b"");
    let log_opt = format!("path={}", path.display());
    let mark = env.mark();
    env.ok(&[
        "run",
        "--name",
        "logged",
        "-e",
        &mark,
        "--log-opt",
        &log_opt,
        "--log-opt",
        "tag=mytag",
        &img,
        "echo",
        "to-the-file",
    ]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(" stdout F to-the-file"),
        "[{mode:?}] the log went to the path: {text:?}"
    );
    assert_eq!(env.ok(&["logs", "logged"]), "to-the-file\n", "[{mode:?}]");
    let v = env.inspect_container("logged");
    assert_eq!(
        v["HostConfig"]["LogConfig"]["Path"],
        path.to_string_lossy().as_ref(),
        "[{mode:?}]"
    );
    assert_eq!(v["HostConfig"]["LogConfig"]["Tag"], "mytag", "[{mode:?}]");

    // max-size: the log starts over instead of growing past it
    env.ok(&[
        "run",
        "--name",
        "capped",
        "-e",
        &mark,
        "--log-opt",
        "max-size=2k",
        &img,
        "sh",
        "-c",
        "for i in $(seq 1 200); do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxx; done",
    ]);
    let logs = env.ok(&["logs", "capped"]);
    assert!(
        logs.ends_with("line-200-xxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
        "[{mode:?}] {logs:?}"
    );
    assert!(
        !logs.contains("line-1-"),
        "[{mode:?}] the start was dropped"
    );
    assert!(logs.len() < 2048, "[{mode:?}] {} bytes", logs.len());
    assert_refused(
        &env,
        &["create", "--log-opt", "color=blue", &img, "true"],
        "color=blue",
    );
}

/// A block device of this host, for the per-device rates.
fn a_block_device() -> Option<(String, String)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().find_map(|n| {
        let path = format!("/dev/{n}");
        let meta = std::fs::metadata(&path).ok()?;
        meta.file_type().is_block_device().then(|| {
            let rdev = meta.rdev();
            (path, format!("{}:{}", libc::major(rdev), libc::minor(rdev)))
        })
    })
}

both_modes!(memory_and_io_limits);
fn memory_and_io_limits(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    assert_refused(
        &env,
        &["create", "--memory-swappiness", "101", &img, "true"],
        "0-100",
    );
    assert_refused(
        &env,
        &["create", "--device-read-bps", "/dev/null:1mb", &img, "true"],
        "not a block device",
    );
    let Some((dev, numbers)) = a_block_device() else {
        eprintln!("no block device on this host: the rate checks are skipped");
        return;
    };
    let rate = format!("{dev}:1mb");
    let iops = format!("{dev}:100");
    let flags = [
        "--memory-swappiness",
        "10",
        "--oom-kill-disable",
        "--device-read-bps",
        &rate,
        "--device-write-iops",
        &iops,
    ];
    if mode == Mode::Rootless {
        // No delegated cgroup here (tests/limits.rs): one clear refusal.
        let mut args = vec!["create"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&[&img, "true"]);
        assert_refused(&env, &args, "controller is not available");
        return;
    }
    env.run_detached("limited", &flags, &img, &["sleep", "300"]);
    let cg = env.inspect_container("limited")["State"]["CgroupPath"]
        .as_str()
        .unwrap()
        .to_string();
    let read = |controller: &str, file: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{controller}{cg}/{file}"))
            .unwrap_or_else(|e| panic!("{controller}/{file}: {e}"))
    };
    assert_eq!(read("memory", "memory.swappiness"), "10\n");
    assert!(read("memory", "memory.oom_control").contains("oom_kill_disable 1"));
    assert_eq!(
        read("blkio", "blkio.throttle.read_bps_device"),
        format!("{numbers} 1048576\n")
    );
    assert_eq!(
        read("blkio", "blkio.throttle.write_iops_device"),
        format!("{numbers} 100\n")
    );
    let hc = &env.inspect_container("limited")["HostConfig"];
    assert_eq!(hc["MemorySwappiness"], 10);
    assert_eq!(hc["OomKillDisable"], true);
    assert_eq!(hc["BlkioDeviceReadBps"][0]["Path"], dev.as_str());
    assert_eq!(hc["BlkioDeviceReadBps"][0]["Rate"], 1048576);
    assert_eq!(hc["BlkioDeviceWriteIOps"][0]["Rate"], 100);
}

both_modes!(wait_exit_first_match);
fn wait_exit_first_match(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("long", &[], &img, &["sleep", "300"]);
    env.run_detached("short", &[], &img, &["sh", "-c", "sleep 1; exit 3"]);
    let started = Instant::now();
    let out = env.ok(&["wait", "--exit-first-match", "long", "short"]);
    assert_eq!(out, "3\n", "[{mode:?}] the first to exit");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "[{mode:?}] did not wait for the long one"
    );
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "long"]),
        "running\n",
        "[{mode:?}]"
    );
    env.ok(&["rm", "-f", "-t", "0", "long", "short"]);
}

both_modes!(chrootdirs_get_the_generated_etc_files);
fn chrootdirs_get_the_generated_etc_files(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let out = env.sh(
        &img,
        &["--hostname", "jailed", "--chrootdirs", "/srv/jail,/opt/j2"],
        "cat /srv/jail/etc/hostname /opt/j2/etc/hostname; \
         [ \"$(cat /etc/hosts)\" = \"$(cat /srv/jail/etc/hosts)\" ] && \
         [ \"$(cat /etc/resolv.conf)\" = \"$(cat /opt/j2/etc/resolv.conf)\" ] && echo same",
    );
    assert_eq!(out, "jailed\njailed\nsame\n", "[{mode:?}]");
    assert_refused(
        &env,
        &["create", "--chrootdirs", "relative", &img, "true"],
        "relative",
    );
}

both_modes!(logs_color_as_podman);
/// `logs --color`: each container's lines (prefix, text) in its own color
/// by its place in the list, podman's order of colors, reset at the end.
fn logs_color_as_podman(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let mut ids = Vec::new();
    for (name, word) in [("c1", "one"), ("c2", "two")] {
        env.ok(&["run", "--name", name, "-e", &mark, &img, "echo", word]);
        ids.push(env.inspect_container(name)["Id"].as_str().unwrap()[..12].to_string());
    }
    assert_eq!(
        env.ok(&["logs", "--color", "c1", "c2"]),
        format!(
            "\x1b[37m{} one\x1b[0m\n\x1b[31m{} two\x1b[0m\n",
            ids[0], ids[1]
        ),
        "[{mode:?}]"
    );
    assert_eq!(
        env.ok(&["logs", "--color", "c1"]),
        "\x1b[37mone\x1b[0m\n",
        "[{mode:?}]"
    );
    assert_eq!(
        env.ok(&["logs", "c1", "c2"]),
        format!("{} one\n{} two\n", ids[0], ids[1])
    );
}

both_modes!(log_driver_none_keeps_no_log);
/// `--log-driver none`: an attached run still shows the output, but no
/// log file holds it, `logs` refuses as podman does, and inspect says so.
fn log_driver_none_keeps_no_log(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    // What the program prints is not in its command line (which the
    // container's record keeps).
    let out = env.ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        &img,
        "sh",
        "-c",
        "echo unlogged-$((40+2))",
    ]);
    assert!(out.contains("unlogged-42"), "[{mode:?}] {out:?}");
    let out = env.run(&["logs", "quiet"]);
    assert_error(
        mode,
        "logs of a none-driver container",
        &out,
        125,
        &["'none' log driver"],
    );
    let driver = env.ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.LogConfig.Type}}",
        "quiet",
    ]);
    assert_eq!(driver.trim(), "none", "[{mode:?}]");
    let held = std::process::Command::new("grep")
        .args(["-rl", "unlogged-42"])
        .arg(env.store_dir())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&held.stdout).trim().is_empty(),
        "[{mode:?}] the output was kept in {}",
        String::from_utf8_lossy(&held.stdout)
    );
    // The default driver keeps it, for contrast.
    env.ok(&["run", "--name", "loud", &img, "echo", "logged-line"]);
    let out = env.ok(&["logs", "loud"]);
    assert_eq!(out.trim(), "logged-line", "[{mode:?}]");
    let driver = env.ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.LogConfig.Type}}",
        "loud",
    ]);
    assert_eq!(driver.trim(), "k8s-file", "[{mode:?}]");
}
