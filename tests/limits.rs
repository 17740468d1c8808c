//! Resource limits, OOM records, pause/unpause, update and stats, as root
//! and rootless. This host mounts the cgroup v1 controllers (its cgroup v2
//! has none): root gets its limits through v1; rootless gets a clear error
//! for a limit, and stats from /proc. cgroup v2 runs in a VM: tests/vm/.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// The v1 directory of a container's cgroup for one controller.
fn v1_dir(env: &TestEnv, name: &str, controller: &str) -> PathBuf {
    let path = env.inspect_container(name)["State"]["CgroupPath"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        path.starts_with("/coracle/coracle-"),
        "[{:?}] CgroupPath of a running container: {path:?}",
        env.mode
    );
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(path.trim_start_matches('/'))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// A rootless limit on this host: one clear line naming the controller,
/// exit 125, and no container left behind.
fn assert_refused(env: &TestEnv, img: &str, flags: &[&str], controller: &str) {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[img, "true"]);
    let out = env.fails(&args, 125);
    let err = out.stderr.trim();
    assert!(
        err.starts_with("Error: ")
            && err.lines().count() == 1
            && err.contains(&format!("the {controller} controller is not available")),
        "[{:?}] {flags:?}: {err:?}",
        env.mode
    );
    assert!(
        env.all_container_ids().is_empty(),
        "[{:?}] {flags:?} left a container",
        env.mode
    );
}

both_modes!(memory_limit_oom_kill_is_recorded);
fn memory_limit_oom_kill_is_recorded(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    if mode == Mode::Rootless {
        assert_refused(&env, &img, &["--memory", "32m"], "memory");
        assert_refused(&env, &img, &["--memory-reservation", "8m"], "memory");
        return;
    }
    let mark = env.mark();
    let out = env.run(&[
        "run",
        "--name",
        "hog",
        "-e",
        &mark,
        "--memory",
        "32m",
        &img,
        "sh",
        "-c",
        "x=$(yes | head -c 200000000); echo survived",
    ]);
    assert_eq!(out.status, 137, "[{mode:?}] an OOM kill exits 137: {out:?}");
    assert!(!out.stdout.contains("survived"), "[{mode:?}] {out:?}");
    let v = env.inspect_container("hog");
    assert_eq!(v["State"]["OOMKilled"], true, "[{mode:?}] {}", v["State"]);
    assert_eq!(v["State"]["ExitCode"], 137);
    assert_eq!(v["HostConfig"]["Memory"], 32 << 20);
    assert_eq!(
        v["HostConfig"]["MemorySwap"],
        64 << 20,
        "podman's default swap"
    );
    // The cgroup went with the container.
    let id = v["Id"].as_str().unwrap();
    let dir = Path::new("/sys/fs/cgroup/memory/coracle").join(format!("coracle-{id}"));
    assert!(!dir.exists(), "[{mode:?}] {} left behind", dir.display());
    // A run that stays below the limit is not an OOM kill.
    let out = env.run(&[
        "run",
        "--name",
        "fits",
        "-e",
        &mark,
        "--memory",
        "32m",
        &img,
        "sh",
        "-c",
        "x=$(yes | head -c 1000000); echo ok",
    ]);
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(env.inspect_container("fits")["State"]["OOMKilled"], false);
}

both_modes!(pids_limit_stops_forks);
fn pids_limit_stops_forks(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    if mode == Mode::Rootless {
        assert_refused(&env, &img, &["--pids-limit", "5"], "pids");
        // No limit asked for: it runs, and shows no default limit it
        // could not enforce.
        env.run_detached("free", &[], &img, &["sleep", "300"]);
        assert_eq!(env.inspect_container("free")["HostConfig"]["PidsLimit"], 0);
        return;
    }
    env.run_detached("dflt", &[], &img, &["sleep", "300"]);
    assert_eq!(
        env.inspect_container("dflt")["HostConfig"]["PidsLimit"],
        2048,
        "podman's default pids limit"
    );
    assert_eq!(
        read(&v1_dir(&env, "dflt", "pids").join("pids.max")).trim(),
        "2048"
    );
    // busybox sh gives up at the first failed fork
    let script = "for i in 1 2 3 4 5 6 7 8; do sleep 300 & done; echo all-forked";
    let out = env.sh_out(&img, &["--pids-limit", "5"], script);
    assert!(
        out.status != 0 && out.stderr.contains("can't fork") && !out.stdout.contains("all-forked"),
        "[{mode:?}] forks beyond --pids-limit 5 must fail: {out:?}"
    );
    let out = env.sh_out(&img, &["--pids-limit", "20"], script);
    assert_eq!(out.stdout.trim(), "all-forked", "[{mode:?}] {out:?}");
}

both_modes!(cpu_quota_throttles_a_busy_loop);
fn cpu_quota_throttles_a_busy_loop(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    if mode == Mode::Rootless {
        assert_refused(&env, &img, &["--cpus", "0.2"], "cpu");
        assert_refused(&env, &img, &["--cpu-quota", "20000"], "cpu");
        assert_refused(&env, &img, &["--cpuset-cpus", "0"], "cpuset");
        return;
    }
    env.run_detached(
        "spin",
        &["--cpus", "0.2"],
        &img,
        &["sh", "-c", "while :; do :; done"],
    );
    let v = env.inspect_container("spin");
    assert_eq!(v["HostConfig"]["NanoCpus"], 200_000_000);
    assert_eq!(v["HostConfig"]["CpuQuota"], 20_000);
    assert_eq!(v["HostConfig"]["CpuPeriod"], 100_000);
    let dir = v1_dir(&env, "spin", "cpu");
    assert_eq!(read(&dir.join("cpu.cfs_quota_us")).trim(), "20000");
    let field = |k: &str| -> u64 {
        read(&dir.join("cpu.stat"))
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k} ")).map(|v| v.parse().unwrap()))
            .unwrap_or(0)
    };
    assert!(
        wait_for(Duration::from_secs(20), || field("nr_periods") >= 10),
        "[{mode:?}] the loop never ran 10 periods"
    );
    assert!(
        field("nr_throttled") >= 5,
        "[{mode:?}] a busy loop under a 20% quota must be throttled: {}",
        read(&dir.join("cpu.stat"))
    );
    // Held to its quota: never more than 20% of a CPU on average
    // (a loaded machine gives less, never more).
    let avg = env.ok(&["stats", "--no-stream", "--format", "{{.AVGCPU}}", "spin"]);
    let avg: f64 = avg.trim().trim_end_matches('%').parse().unwrap();
    assert!(avg > 0.0 && avg < 30.0, "[{mode:?}] AVG CPU % {avg}");
    env.run_detached(
        "cpus",
        &["--cpuset-cpus", "0", "--cpu-shares", "512"],
        &img,
        &["sleep", "300"],
    );
    assert_eq!(
        read(&v1_dir(&env, "cpus", "cpuset").join("cpuset.cpus")).trim(),
        "0"
    );
    assert_eq!(
        read(&v1_dir(&env, "cpus", "cpu").join("cpu.shares")).trim(),
        "512"
    );
}

both_modes!(pause_freezes_and_unpause_thaws);
fn pause_freezes_and_unpause_thaws(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached(
        "tick",
        &[],
        &img,
        &[
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done",
        ],
    );
    let count = || env.ok(&["logs", "tick"]).lines().count();
    assert!(wait_for(Duration::from_secs(20), || count() >= 3));
    if mode == Mode::Rootless {
        let out = env.fails(&["pause", "tick"], 125);
        assert!(
            out.stderr.trim().lines().count() == 1 && out.stderr.contains("no cgroup"),
            "[{mode:?}] {}",
            out.stderr
        );
        let before = count();
        assert!(
            wait_for(Duration::from_secs(20), || count() > before),
            "still running"
        );
        assert_eq!(env.inspect_container("tick")["State"]["Status"], "running");
        return;
    }
    assert_eq!(env.ok(&["pause", "tick"]).trim(), "tick");
    let v = env.inspect_container("tick");
    assert_eq!(v["State"]["Status"], "paused");
    assert_eq!(v["State"]["Paused"], true);
    assert_eq!(
        env.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]).trim(),
        "tick Paused"
    );
    assert_eq!(
        read(&v1_dir(&env, "tick", "freezer").join("freezer.state")).trim(),
        "FROZEN"
    );
    let frozen = count();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        count(),
        frozen,
        "[{mode:?}] the counter advanced while paused"
    );
    env.fails(&["pause", "tick"], 125);
    env.fails(&["exec", "tick", "true"], 125);
    assert_eq!(env.ok(&["unpause", "tick"]).trim(), "tick");
    assert!(
        wait_for(Duration::from_secs(20), || count() > frozen + 2),
        "[{mode:?}] the counter did not resume"
    );
    assert_eq!(env.inspect_container("tick")["State"]["Status"], "running");
    env.fails(&["unpause", "tick"], 125);
    // A paused container can still be stopped.
    env.ok(&["pause", "tick"]);
    env.ok(&["stop", "-t", "0", "tick"]);
    assert_eq!(env.inspect_container("tick")["State"]["Status"], "exited");
}

both_modes!(stats_reports_plausible_numbers);
fn stats_reports_plausible_numbers(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let limit: &[&str] = if mode == Mode::Root {
        &["--memory", "64m"]
    } else {
        &[]
    };
    let id = env.run_detached(
        "busy",
        limit,
        &img,
        &["sh", "-c", "sleep 300 & sleep 300 & while :; do :; done"],
    );
    env.run_detached("idle", &[], &img, &["sleep", "300"]);
    env.run(&["create", "--name", "made", &img, "true"]);
    // the table: podman's columns, running containers only
    assert!(wait_for(Duration::from_secs(20), || {
        env.ok(&["stats", "--no-stream", "--format", "{{.PIDS}}", "busy"])
            .trim()
            == "3"
    }));
    let table = env.ok(&["stats", "--no-stream"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET IO",
            "BLOCK IO",
            "PIDS",
            "CPU TIME",
            "AVG CPU %"
        ],
        "[{mode:?}] {table}"
    );
    let names: Vec<&str> = lines
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, ["busy", "idle"], "[{mode:?}] {table}");
    assert!(table.contains(&id[..12]) && !table.contains(&id));
    assert!(env
        .ok(&["stats", "--no-stream", "--no-trunc"])
        .contains(&id));
    assert!(env
        .ok(&["stats", "--no-stream", "-a", "--format", "{{.Name}}"])
        .contains("made"));
    // JSON with podman's keys
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["stats", "--no-stream", "--format", "json", "busy"]))
            .unwrap();
    let row = &json[0];
    for k in [
        "id",
        "name",
        "cpu_time",
        "cpu_percent",
        "avg_cpu",
        "mem_usage",
        "mem_percent",
        "net_io",
        "block_io",
        "pids",
    ] {
        assert!(row[k].is_string(), "[{mode:?}] key {k} in {row}");
    }
    assert_eq!(row["name"], "busy");
    assert_eq!(row["pids"], "3");
    assert_ne!(
        row["cpu_time"], "0s",
        "[{mode:?}] a busy loop uses CPU: {row}"
    );
    let cpu: f64 = row["cpu_percent"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(
        cpu > 1.0 && cpu <= 205.0,
        "[{mode:?}] CPU % of a busy loop: {cpu}"
    );
    let mem = row["mem_usage"].as_str().unwrap();
    let (usage, lim) = mem.split_once(" / ").unwrap();
    assert_ne!(usage, "0B", "[{mode:?}] {mem}");
    if mode == Mode::Root {
        assert_eq!(lim, "67.11MB", "[{mode:?}] the --memory limit");
        // against the cgroup's own files
        let dir = v1_dir(&env, "busy", "memory");
        let cg_usage: u64 = read(&dir.join("memory.usage_in_bytes"))
            .trim()
            .parse()
            .unwrap();
        let shown = env.ok(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsageBytes}}",
            "busy",
        ]);
        assert!(cg_usage > 0 && shown.contains(" / 64MiB"), "{shown}");
        assert_eq!(
            read(&v1_dir(&env, "busy", "pids").join("pids.current")).trim(),
            "3"
        );
    } else {
        assert!(
            lim.ends_with("GB") || lim.ends_with("MB"),
            "host memory as the limit: {mem}"
        );
    }
    // a stopped container is not in the default list
    env.ok(&["stop", "-t", "0", "idle"]);
    let names = env.ok(&["stats", "--no-stream", "--format", "{{.Name}}"]);
    assert_eq!(names.trim(), "busy", "[{mode:?}]");
}

both_modes!(update_changes_a_running_container);
fn update_changes_a_running_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let id = env.run_detached("up", &[], &img, &["sleep", "300"]);
    if mode == Mode::Rootless {
        let out = env.fails(&["update", "--memory", "128m", "up"], 125);
        assert!(
            out.stderr
                .contains("the memory controller is not available"),
            "{}",
            out.stderr
        );
        assert_eq!(env.inspect_container("up")["HostConfig"]["Memory"], 0);
        return;
    }
    assert_eq!(
        env.ok(&[
            "update",
            "--memory",
            "128m",
            "--pids-limit",
            "100",
            "--cpus",
            "0.5",
            "up"
        ])
        .trim(),
        id
    );
    let v = env.inspect_container("up");
    assert_eq!(v["HostConfig"]["Memory"], 128 << 20);
    assert_eq!(v["HostConfig"]["PidsLimit"], 100);
    assert_eq!(v["HostConfig"]["NanoCpus"], 500_000_000);
    assert_eq!(
        read(&v1_dir(&env, "up", "memory").join("memory.limit_in_bytes")).trim(),
        (128u64 << 20).to_string()
    );
    assert_eq!(
        read(&v1_dir(&env, "up", "pids").join("pids.max")).trim(),
        "100"
    );
    assert_eq!(
        read(&v1_dir(&env, "up", "cpu").join("cpu.cfs_quota_us")).trim(),
        "50000"
    );
    // kept for the next start
    env.ok(&["stop", "-t", "0", "up"]);
    env.ok(&["start", "up"]);
    assert_eq!(
        read(&v1_dir(&env, "up", "pids").join("pids.max")).trim(),
        "100"
    );
    env.fails(&["update", "--memory", "64x", "up"], 125);
    env.fails(
        &["update", "--cpus", "0.5", "--cpu-quota", "1000", "up"],
        125,
    );
}

both_modes!(bad_limits_are_refused_before_anything_is_made);
fn bad_limits_are_refused_before_anything_is_made(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    for (flags, msg) in [
        (&["--memory", "64x"][..], "invalid size"),
        (&["--memory-swap", "64m"][..], "memory limit"),
        (
            &["--memory", "64m", "--memory-swap", "32m"][..],
            "larger than memory",
        ),
        (
            &["--cpus", "0.5", "--cpu-quota", "1000"][..],
            "cannot be set together",
        ),
        (&["--cgroups", "bogus"][..], "invalid cgroup mode"),
        (
            &["--cgroups=disabled", "--memory", "64m"][..],
            "--cgroups=disabled",
        ),
        (&["--oom-score-adj", "5000"][..], "out of range"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&img, "true"]);
        let out = env.fails(&args, 125);
        assert!(
            out.stderr.contains(msg),
            "[{mode:?}] {flags:?}: {}",
            out.stderr
        );
    }
    assert!(env.all_container_ids().is_empty());
    // without a cgroup at all, a container still runs
    assert_eq!(
        env.ok(&["run", "--rm", "--cgroups=disabled", &img, "echo", "hi"])
            .trim(),
        "hi"
    );
}
