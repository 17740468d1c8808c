//! Pods and shared namespaces, as root and rootless: `pod create/ps/
//! inspect/start/stop/restart/kill/rm/exists/prune`, members reaching each
//! other on localhost and sharing /etc/hosts and the hostname, a port
//! published on the pod, cleanup of the network helper after `pod rm` and
//! after the infra's monitor is killed, and `--ipc/--pid/--uts` with
//! `container:NAME` and `host`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const INDEX: &str = "hello from a pod\n";
fn www_dir(env: &TestEnv) -> String {
    common::www_dir(env, INDEX)
}

/// A pod `app` (with `create_flags`) publishing a free port to port 80 of
/// its member `web`, which serves INDEX; the host port.
fn pod_serving_httpd(env: &TestEnv, img: &str, create_flags: &[&str]) -> u16 {
    let www = www_dir(env);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let mut args = vec!["pod", "create", "--name", "app"];
    args.extend_from_slice(create_flags);
    args.extend_from_slice(&["-p", &publish]);
    env.ok(&args);
    env.run_detached("web", &["--pod", "app", "-v", &www], img, HTTPD);
    port
}

/// Host processes this env's coracle started that are not container
/// processes: monitors, infra processes, pasta, slirp4netns. They all
/// inherit the CLI's environment, HOME included.
fn env_pids(env: &TestEnv) -> Vec<i32> {
    pids_with_env(&format!("HOME={}", env.home.display()))
        .into_iter()
        .filter(|p| process_alive(*p))
        .collect()
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Live network helpers of this env (pasta runs as `passt.avx2` or `pasta`).
fn helper_pids(env: &TestEnv) -> Vec<i32> {
    env_pids(env)
        .into_iter()
        .filter(|p| {
            let c = comm(*p);
            c.starts_with("pas") || c == "slirp4netns"
        })
        .collect()
}

/// Kills whatever a failed test left: container processes and the rest.
struct PodReaper<'a>(&'a TestEnv);

impl Drop for PodReaper<'_> {
    fn drop(&mut self) {
        self.0.reap();
        for pid in env_pids(self.0) {
            // SAFETY: a signal to a process this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn pod_json(env: &TestEnv, name: &str) -> Value {
    let out = env.ok(&["pod", "inspect", name]);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("[{:?}] pod inspect {name}: not JSON ({e}): {out}", env.mode))
}

fn pod_status(env: &TestEnv, name: &str) -> String {
    env.ok(&[
        "pod",
        "ps",
        "--filter",
        &format!("name=^{name}$"),
        "--format",
        "{{.Status}}",
    ])
    .trim()
    .to_string()
}

fn ctr_pid(env: &TestEnv, ctr: &str) -> i32 {
    env.ok(&["inspect", "--format", "{{.State.Pid}}", ctr])
        .trim()
        .parse()
        .unwrap()
}

both_modes!(pod_create_ps_and_inspect_show_the_pod_and_its_infra);
fn pod_create_ps_and_inspect_show_the_pod_and_its_infra(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = env
        .ok(&[
            "pod",
            "create",
            "--name",
            "app",
            "--label",
            "tier=web",
            "--hostname",
            "podhost",
            "-p",
            &publish,
        ])
        .trim()
        .to_string();
    assert!(is_hex(&id, 64), "[{mode:?}] pod create printed {id:?}");

    let table = env.ok(&["pod", "ps"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "POD ID",
            "NAME",
            "STATUS",
            "CREATED",
            "INFRA ID",
            "# OF CONTAINERS"
        ],
        "[{mode:?}] pod ps header:\n{table}"
    );
    let row: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(row.first(), Some(&&id[..12]), "[{mode:?}]\n{table}");
    assert_eq!(row.get(1), Some(&"app"), "[{mode:?}]\n{table}");
    assert_eq!(row.get(2), Some(&"Created"), "[{mode:?}]\n{table}");
    assert_eq!(
        row.last(),
        Some(&"1"),
        "[{mode:?}] one container (the infra):\n{table}"
    );

    let v = pod_json(&env, "app");
    assert_eq!(v["Id"], id.as_str(), "[{mode:?}] {v}");
    assert_eq!(v["Name"], "app", "[{mode:?}]");
    assert_eq!(v["State"], "Created", "[{mode:?}]");
    assert_eq!(v["Hostname"], "podhost", "[{mode:?}]");
    assert_eq!(v["Labels"]["tier"], "web", "[{mode:?}]");
    assert_eq!(v["CreateInfra"], true, "[{mode:?}]");
    assert_eq!(
        v["SharedNamespaces"],
        serde_json::json!(["ipc", "net", "uts"]),
        "[{mode:?}]"
    );
    assert_eq!(v["NumContainers"], 1, "[{mode:?}]");
    assert_eq!(
        v["InfraConfig"]["PortBindings"]["80/tcp"],
        serde_json::json!([{"HostIp": "127.0.0.1", "HostPort": port.to_string()}]),
        "[{mode:?}] {v}"
    );
    let infra = v["InfraContainerID"].as_str().unwrap().to_string();
    assert!(is_hex(&infra, 64), "[{mode:?}] {v}");
    assert_eq!(v["Containers"][0]["Id"], infra.as_str(), "[{mode:?}]");
    assert_eq!(
        v["Containers"][0]["Name"],
        format!("{}-infra", &id[..12]).as_str(),
        "[{mode:?}] the infra is named <pod id>-infra"
    );

    // the infra is a container: ps -a lists it, with its pod
    let ps = env.ok(&["ps", "-a", "--pod"]);
    let header = ps.lines().next().unwrap_or("");
    assert!(
        header.contains("POD ID") && header.contains("PODNAME"),
        "[{mode:?}] ps --pod header:\n{ps}"
    );
    let infra_line = ps
        .lines()
        .find(|l| l.starts_with(&infra[..12]))
        .unwrap_or_else(|| panic!("[{mode:?}] ps -a lacks the infra:\n{ps}"));
    assert!(
        infra_line.contains(&id[..12]) && infra_line.trim_end().ends_with("app"),
        "[{mode:?}] infra row lacks its pod:\n{ps}"
    );
    let rows: Value = serde_json::from_str(&env.ok(&["ps", "-a", "--format", "json"])).unwrap();
    assert_eq!(rows[0]["IsInfra"], true, "[{mode:?}] {rows}");
    assert_eq!(rows[0]["Pod"], id.as_str(), "[{mode:?}] {rows}");

    let json: Value = serde_json::from_str(&env.ok(&["pod", "ps", "--format", "json"])).unwrap();
    assert_eq!(json[0]["Id"], id.as_str(), "[{mode:?}] {json}");
    assert_eq!(json[0]["InfraId"], infra.as_str(), "[{mode:?}]");
    assert_eq!(json[0]["Status"], "Created", "[{mode:?}]");
    assert_eq!(json[0]["Containers"][0]["Status"], "created", "[{mode:?}]");

    assert_eq!(env.ok(&["pod", "ps", "-q"]).trim(), &id[..12], "[{mode:?}]");
    let names = env.ok(&["pod", "ps", "--ctr-names", "--ctr-status", "--noheading"]);
    assert!(
        names.contains(&format!("{}-infra", &id[..12])) && names.contains("created"),
        "[{mode:?}] pod ps --ctr-names --ctr-status:\n{names}"
    );
    assert!(
        env.ok(&["pod", "ps", "-q", "--filter", "label=tier=db"])
            .trim()
            .is_empty(),
        "[{mode:?}] label filter"
    );
    env.ok(&["pod", "exists", "app"]);
    env.fails(&["pod", "exists", "nope"], 1);

    // a second pod with the same name is refused, nothing changes
    let before = snapshot(&env.store_dir());
    let out = env.run(&["pod", "create", "--name", "app"]);
    assert_error(mode, "pod create (name in use)", &out, 125, &["app"]);
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), "failed pod create");

    env.ok(&["pod", "rm", "app"]);
    assert!(env.ok(&["pod", "ps", "-q"]).trim().is_empty(), "[{mode:?}]");
    assert!(env.all_container_ids().is_empty(), "[{mode:?}] infra left");
}

both_modes!(pod_members_talk_over_localhost_and_the_pod_port_reaches_them);
fn pod_members_talk_over_localhost_and_the_pod_port_reaches_them(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let port = pod_serving_httpd(&env, &img, &["--hostname", "podhost"]);
    assert_eq!(pod_status(&env, "app"), "Running", "[{mode:?}]");
    // A member shows the pod's published port, as podman's ps does.
    let ports = env.ok(&["ps", "--filter", "name=^web$", "--format", "{{.Ports}}"]);
    assert_eq!(
        ports.trim(),
        format!("127.0.0.1:{port}->80/tcp"),
        "[{mode:?}]"
    );

    let out = env.sh(
        &img,
        &["--pod", "app", "--name", "client"],
        "for i in $(seq 80); do wget -q -O- http://127.0.0.1:80/ && break; sleep 0.1; done; \
             echo ---; hostname; echo ---; cat /etc/hosts",
    );
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts.len(), 3, "[{mode:?}] {out}");
    assert_eq!(
        parts[0], INDEX,
        "[{mode:?}] web's httpd over the pod's localhost"
    );
    assert_eq!(parts[1], "podhost\n", "[{mode:?}] the pod's hostname");
    let names: Vec<&str> = parts[2]
        .lines()
        .flat_map(|l| l.split_whitespace().skip(1))
        .collect();
    for n in ["podhost", "web", "client", "localhost"] {
        assert!(
            names.contains(&n),
            "[{mode:?}] /etc/hosts lacks {n}:\n{}",
            parts[2]
        );
    }

    // the port published on the pod reaches the member
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}] via the pod's port");
    // `client` is gone (--rm): its name left the shared /etc/hosts
    let hosts = env.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains("\tweb") && !hosts.contains("client"),
        "[{mode:?}] /etc/hosts after client's removal:\n{hosts}"
    );
    let v = env.inspect_container("web");
    let infra = pod_json(&env, "app")["InfraContainerID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v["Pod"], pod_json(&env, "app")["Id"], "[{mode:?}]");
    assert_eq!(
        v["HostConfig"]["NetworkMode"],
        format!("container:{infra}").as_str(),
        "[{mode:?}]"
    );
    let ps = env.ok(&["ps", "--filter", "pod=app", "--format", "{{.Names}}"]);
    let mut got: Vec<&str> = ps.lines().collect();
    got.sort();
    let infra_name = format!(
        "{}-infra",
        &pod_json(&env, "app")["Id"].as_str().unwrap()[..12]
    );
    assert_eq!(
        got,
        [infra_name.as_str(), "web"],
        "[{mode:?}] ps --filter pod=app"
    );

    // a member cannot publish its own ports or set its own hostname
    let mark = env.mark();
    for extra in [["-p", "8080:80"], ["--hostname", "mine"]] {
        let before = env.all_container_ids();
        let mut args = vec!["run", "--rm", "-e", &mark, "--pod", "app"];
        args.extend(extra);
        args.extend([img.as_str(), "true"]);
        let out = env.run(&args);
        assert_error(
            mode,
            &format!("run --pod {}", extra[0]),
            &out,
            125,
            &["pod"],
        );
        assert_eq!(env.all_container_ids(), before, "[{mode:?}]");
    }
    let out = env.run(&["run", "--rm", "-e", &mark, "--pod", "nope", &img, "true"]);
    assert_error(
        mode,
        "run --pod <unknown>",
        &out,
        125,
        &["nope", "no such pod"],
    );
    // the infra goes with its pod only
    let out = env.run(&["rm", "-f", &infra]);
    assert_error(mode, "rm <infra>", &out, 125, &["infra container"]);

    env.ok(&["pod", "rm", "-f", "-t", "0", "app"]);
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
    assert!(
        wait_for(Duration::from_secs(5), || port_is_free(port)),
        "[{mode:?}] port {port} still taken after pod rm -f"
    );
}

both_modes!(pod_new_creates_the_pod_around_the_container);
fn pod_new_creates_the_pod_around_the_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let www = www_dir(&env);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.run_detached(
        "web",
        &["--pod", "new:fresh", "-p", &publish, "-v", &www],
        &img,
        HTTPD,
    );
    let v = pod_json(&env, "fresh");
    assert_eq!(v["NumContainers"], 2, "[{mode:?}] {v}");
    assert_eq!(
        v["InfraConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        port.to_string().as_str(),
        "[{mode:?}] the ports moved to the pod: {v}"
    );
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}]");
    env.ok(&["pod", "rm", "-f", "-t", "0", "fresh"]);
}

both_modes!(pod_stop_start_restart_kill_and_rm);
fn pod_stop_start_restart_kill_and_rm(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let www = www_dir(&env);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = env
        .ok(&["pod", "create", "--name", "app", "-p", &publish])
        .trim()
        .to_string();
    env.ok(&[
        "create",
        "--pod",
        "app",
        "--name",
        "web",
        "-e",
        &env.mark(),
        "-v",
        &www,
        &img,
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert_eq!(pod_status(&env, "app"), "Created", "[{mode:?}]");

    assert_eq!(env.ok(&["pod", "start", "app"]).trim(), id, "[{mode:?}]");
    assert_eq!(pod_status(&env, "app"), "Running", "[{mode:?}]");
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}] after pod start");
    assert!(
        !helper_pids(&env).is_empty(),
        "[{mode:?}] no network helper"
    );

    assert_eq!(
        env.ok(&["pod", "stop", "-t", "0", "app"]).trim(),
        id,
        "[{mode:?}]"
    );
    assert_eq!(pod_status(&env, "app"), "Exited", "[{mode:?}]");
    let ps = env.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        ps.lines().all(|l| l.contains("Exited")),
        "[{mode:?}] all containers exited after pod stop:\n{ps}"
    );
    assert!(
        wait_for(Duration::from_secs(5), || helper_pids(&env).is_empty()),
        "[{mode:?}] helpers left after pod stop: {:?}",
        helper_pids(&env)
    );
    assert!(
        port_is_free(port),
        "[{mode:?}] port {port} taken after pod stop"
    );

    // starting a member starts its pod's infra first
    env.ok(&["start", "web"]);
    assert_eq!(pod_status(&env, "app"), "Running", "[{mode:?}]");
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}] after start web");

    let before = ctr_pid(&env, "web");
    assert_eq!(env.ok(&["pod", "restart", "app"]).trim(), id, "[{mode:?}]");
    assert_eq!(pod_status(&env, "app"), "Running", "[{mode:?}]");
    assert_ne!(
        ctr_pid(&env, "web"),
        before,
        "[{mode:?}] restart made a new process"
    );
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}] after pod restart");

    assert_eq!(env.ok(&["pod", "kill", "app"]).trim(), id, "[{mode:?}]");
    assert_eq!(pod_status(&env, "app"), "Exited", "[{mode:?}]");
    env.ok(&["pod", "start", "app"]);

    // rm refuses a pod whose containers run; nothing changes
    let before = snapshot(&env.store_dir());
    let out = env.run(&["pod", "rm", "app"]);
    assert_error(mode, "pod rm <running pod>", &out, 125, &["running"]);
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), "refused pod rm");
    assert_eq!(pod_status(&env, "app"), "Running", "[{mode:?}]");

    assert_eq!(
        env.ok(&["pod", "rm", "-f", "-t", "0", "app"]).trim(),
        id,
        "[{mode:?}]"
    );
    assert!(env.ok(&["pod", "ps", "-q"]).trim().is_empty(), "[{mode:?}]");
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
    assert!(
        wait_for(Duration::from_secs(5), || env_pids(&env).is_empty()),
        "[{mode:?}] processes left after pod rm -f: {:?}",
        env_pids(&env).iter().map(|p| comm(*p)).collect::<Vec<_>>()
    );
    assert!(
        port_is_free(port),
        "[{mode:?}] port {port} taken after pod rm -f"
    );
    let out = env.run(&["pod", "rm", "app"]);
    assert_error(mode, "pod rm <gone>", &out, 1, &["no such pod"]);

    // prune removes pods with nothing running
    env.ok(&["pod", "create", "--name", "idle"]);
    let idle = pod_json(&env, "idle")["Id"].as_str().unwrap().to_string();
    assert_eq!(env.ok(&["pod", "prune", "-f"]).trim(), idle, "[{mode:?}]");
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
}

both_modes!(killed_infra_monitor_leaves_no_helper_behind);
fn killed_infra_monitor_leaves_no_helper_behind(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let port = pod_serving_httpd(&env, &img, &[]);
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}]");
    let infra = pod_json(&env, "app")["InfraContainerID"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!helper_pids(&env).is_empty(), "[{mode:?}]");
    env.kill_monitor(&infra);
    // the next command notices and ends the helper
    let status = env.ok(&["pod", "ps", "--format", "{{.Status}}"]);
    assert!(
        wait_for(Duration::from_secs(5), || helper_pids(&env).is_empty()),
        "[{mode:?}] helpers alive after kill -9 of the infra's monitor: {:?}",
        helper_pids(&env)
    );
    assert_eq!(
        status.trim(),
        "Degraded",
        "[{mode:?}] web still runs, the infra not"
    );
    assert!(
        wait_for(Duration::from_secs(5), || port_is_free(port)),
        "[{mode:?}] port {port} taken after the infra's monitor died"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", "app"]);
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
}

both_modes!(pod_share_pid_shows_every_members_processes);
fn pod_share_pid_shows_every_members_processes(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    env.ok(&["pod", "create", "--name", "app", "--share", "+pid"]);
    env.run_detached("sleeper", &["--pod", "app"], &img, &["sleep", "4242"]);
    let out = env.sh(&img, &["--pod", "app"], "ps -o pid,args");
    assert!(
        out.contains("sleep 4242"),
        "[{mode:?}] a member sees the other's processes:\n{out}"
    );
    // without pid sharing it does not
    env.ok(&["pod", "create", "--name", "apart"]);
    env.run_detached("sleeper2", &["--pod", "apart"], &img, &["sleep", "4343"]);
    let out = env.sh(&img, &["--pod", "apart"], "ps -o pid,args");
    assert!(!out.contains("sleep 4343"), "[{mode:?}]\n{out}");
    env.ok(&["pod", "rm", "-f", "-t", "0", "app", "apart"]);
}

both_modes!(ipc_pid_and_uts_join_another_container);
fn ipc_pid_and_uts_join_another_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    env.run_detached(
        "first",
        &["--hostname", "firsthost"],
        &img,
        &["sh", "-c", "touch /dev/mqueue/firstq; exec sleep 4444"],
    );
    assert!(
        wait_for(Duration::from_secs(5), || env
            .run(&["exec", "first", "ls", "/dev/mqueue"])
            .stdout
            .contains("firstq")),
        "[{mode:?}] first never made its queue"
    );
    let out = env.sh(&img, &["--pid", "container:first"], "ps -o pid,args");
    assert!(
        out.contains("sleep 4444"),
        "[{mode:?}] --pid container:\n{out}"
    );
    let out = env.sh(&img, &["--ipc", "container:first"], "ls /dev/mqueue");
    assert_eq!(out, "firstq\n", "[{mode:?}] --ipc container:");
    let out = env.sh(&img, &[], "ls /dev/mqueue");
    assert_eq!(out, "", "[{mode:?}] a private ipc namespace");
    let out = env.sh(&img, &["--uts", "container:first"], "hostname");
    assert_eq!(out, "firsthost\n", "[{mode:?}] --uts container:");
    let v = env.inspect_container("first");
    let id = v["Id"].as_str().unwrap().to_string();
    let mark = env.mark();
    env.ok(&[
        "create",
        "--name",
        "joiner",
        "-e",
        &mark,
        "--ipc",
        "container:first",
        "--pid",
        "container:first",
        &img,
        "true",
    ]);
    let j = env.inspect_container("joiner");
    for key in ["IpcMode", "PidMode"] {
        assert_eq!(
            j["HostConfig"][key],
            format!("container:{id}").as_str(),
            "[{mode:?}] {key}"
        );
    }
    let out = env.run(&[
        "run",
        "--rm",
        "-e",
        &mark,
        "--uts",
        "container:first",
        "--hostname",
        "x",
        &img,
        "true",
    ]);
    assert_error(
        mode,
        "--uts container: --hostname",
        &out,
        125,
        &["hostname"],
    );
    let out = env.run(&["run", "--rm", "-e", &mark, "--ipc", "bogus", &img, "true"]);
    assert_error(mode, "--ipc bogus", &out, 125, &["bogus"]);
    env.ok(&["rm", "-f", "-t", "0", "first", "joiner"]);
}

both_modes!(pid_uts_and_ipc_host);
fn pid_uts_and_ipc_host(mode: Mode) {
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    // the host's pid 1 is visible, and our own pid is not 1
    let out = env.sh(
        &img,
        &["--pid", "host"],
        "echo $$; cat /proc/1/comm 2>/dev/null || echo hidden",
    );
    let mut lines = out.lines();
    let own: i32 = lines.next().unwrap_or("").parse().unwrap_or(0);
    assert!(
        own > 1,
        "[{mode:?}] --pid host: the shell is pid {own}:\n{out}"
    );
    let out = env.sh(&img, &[], "echo $$");
    assert_eq!(out, "1\n", "[{mode:?}] private pid namespace");
    let out = env.sh(&img, &["--uts", "host"], "hostname");
    assert_eq!(out, host_name, "[{mode:?}] --uts host");
    if mode == Mode::Root {
        // the host's ipc namespace: a queue one container makes, another sees
        let q = unique("q");
        env.sh(&img, &["--ipc", "host"], &format!("touch /dev/mqueue/{q}"));
        let seen = env.sh(
            &img,
            &["--ipc", "host"],
            &format!("ls /dev/mqueue; rm /dev/mqueue/{q}"),
        );
        assert!(
            seen.lines().any(|l| l == q),
            "[{mode:?}] --ipc host:\n{seen}"
        );
        let private = env.sh(&img, &[], "ls /dev/mqueue");
        assert!(!private.contains(&q), "[{mode:?}]");
    }
}

both_modes!(pod_top_and_pod_stats_cover_every_member);
fn pod_top_and_pod_stats_cover_every_member(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.ok(&["pod", "create", "--name", "watch"]);
    env.run_detached("busy", &["--pod", "watch"], &img, &["sleep", "300"]);
    let mark = env.mark();
    env.ok(&[
        "create", "--pod", "watch", "--name", "idle", "-e", &mark, &img, "true",
    ]);

    // The infra (named as what it is) first, then the running member.
    let top = env.ok(&["pod", "top", "watch"]);
    let lines: Vec<&str> = top.lines().collect();
    assert_eq!(lines.len(), 3, "[{mode:?}] header + infra + member:\n{top}");
    assert!(
        lines[0].starts_with("USER") && lines[0].contains("COMMAND"),
        "[{mode:?}] {top}"
    );
    assert!(
        lines[1].trim_end().ends_with("pause"),
        "[{mode:?}] infra:\n{top}"
    );
    assert!(
        lines[2].trim_end().ends_with("sleep 300"),
        "[{mode:?}] member:\n{top}"
    );
    let custom = env.ok(&["pod", "top", "watch", "pid", "args"]);
    assert!(custom.starts_with("PID"), "[{mode:?}] {custom}");
    assert!(custom.contains("sleep 300"), "[{mode:?}] {custom}");

    let stats: Value =
        serde_json::from_str(&env.ok(&["pod", "stats", "--no-stream", "--format", "json"]))
            .unwrap();
    let rows = stats.as_array().unwrap();
    assert_eq!(rows.len(), 3, "[{mode:?}] {stats:#}");
    let by_name = |n: &str| rows.iter().find(|r| r["Name"] == n).unwrap().clone();
    assert_eq!(by_name("busy")["PIDS"], "1", "[{mode:?}] {stats:#}");
    assert!(
        by_name("busy")["CPU"].as_str().unwrap().ends_with('%'),
        "[{mode:?}]"
    );
    assert_eq!(
        by_name("idle")["CPU"],
        "--",
        "[{mode:?}] not running: {stats:#}"
    );
    let pod_id = pod_json(&env, "watch")["Id"].as_str().unwrap().to_string();
    assert!(
        rows.iter().all(|r| r["Pod"] == pod_id[..12]),
        "[{mode:?}] {stats:#}"
    );
    let table = env.ok(&["pod", "stats", "--no-stream", "watch"]);
    assert!(table.starts_with("POD "), "[{mode:?}] {table}");
    assert!(table.contains("MEM USAGE/ LIMIT"), "[{mode:?}] {table}");

    env.ok(&["pod", "stop", "-t", "0", "watch"]);
    let out = env.run(&["pod", "top", "watch"]);
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
    assert!(out.stderr.starts_with("Error: "), "[{mode:?}] {out:?}");
    // By default only running pods are shown.
    let none = env.ok(&["pod", "stats", "--no-stream", "--format", "{{.Name}}"]);
    assert_eq!(none, "", "[{mode:?}]");
}

both_modes!(exit_policy_stop_ends_the_pod_and_a_new_member_restarts_it);
/// `pod create --exit-policy=stop`: the pod stops when its last container
/// ends (`continue`, the default, keeps the infra). A member started right
/// after one ended (a unit restarting it) finds the pod stopped or running,
/// never an infra on its way out, and starts it again.
fn exit_policy_stop_ends_the_pod_and_a_new_member_restarts_it(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let wait_status = |pod: &str, want: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let mut now = pod_status(&env, pod);
        while now != want && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            now = pod_status(&env, pod);
        }
        assert_eq!(now, want, "[{mode:?}] pod {pod}");
    };
    env.ok(&["pod", "create", "--name", "ep", "--exit-policy=stop"]);
    env.ok(&["pod", "create", "--name", "cp"]);
    for pod in ["ep", "cp"] {
        let name = format!("{pod}-once");
        env.ok(&["run", "-d", "--pod", pod, "--name", &name, &img, "true"]);
    }
    wait_status("ep", "Exited");
    wait_status("cp", "Degraded");
    let infra = |pod: &str| {
        env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", pod])
            .trim()
            .to_string()
    };
    let state = env.ok(&["inspect", "--format", "{{.State.Status}}", &infra("cp")]);
    assert_eq!(
        state.trim(),
        "running",
        "[{mode:?}] continue keeps the infra"
    );
    env.ok(&["rm", "ep-once"]);

    let run = [
        "run",
        "-d",
        "--rm",
        "--replace",
        "--pod",
        "ep",
        "--name",
        "again",
        &img,
        "sleep",
        "1000",
    ];
    env.ok(&run);
    for round in 0..6 {
        env.ok(&["stop", "-t", "0", "again"]);
        let out = env.run(&run);
        assert_eq!(out.status, 0, "[{mode:?}] round {round}: {out:?}");
        assert_eq!(
            pod_status(&env, "ep"),
            "Running",
            "[{mode:?}] round {round}: {}",
            env.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        );
    }
    env.ok(&["stop", "-t", "0", "again"]);
    wait_status("ep", "Exited");
}
