//! `container clone`, as root and rootless: a copy with the original's
//! settings under podman's default names, another name, limits, a pod,
//! `--run`, `--destroy [--force]`, and bad input refused with nothing made.

mod common;

use common::*;

struct PodReaper<'a>(&'a TestEnv);

impl Drop for PodReaper<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["pod", "rm", "-a", "-f", "-t", "0"]);
        self.0.reap();
    }
}

fn field(env: &TestEnv, name: &str, template: &str) -> String {
    env.ok(&["inspect", "--format", template, name])
        .trim()
        .to_string()
}

both_modes!(container_clone_copies_and_changes);
fn container_clone_copies_and_changes(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&[
        "create",
        "--name",
        "orig",
        "-e",
        &mark,
        "-e",
        "GREETING=hello",
        "--label",
        "team=a",
        &img,
        "sh",
        "-c",
        "echo $GREETING",
    ]);
    let id = env.ok(&["container", "clone", "orig"]).trim().to_string();
    assert!(is_hex(&id, 64), "[{mode:?}] {id}");
    assert_eq!(field(&env, &id, "{{.Name}}"), "orig-clone", "[{mode:?}]");
    assert_eq!(field(&env, "orig-clone", "{{.Config.Labels.team}}"), "a");
    assert_eq!(
        env.ok(&["start", "-a", "orig-clone"]),
        "hello\n",
        "[{mode:?}]"
    );
    // The original is untouched; the next clones count on.
    assert_eq!(field(&env, "orig", "{{.State.Status}}"), "created");
    env.ok(&["container", "clone", "orig"]);
    env.ok(&["container", "clone", "orig"]);
    let names = word_set(&env.ok(&["ps", "-a", "--format", "{{.Names}}"]));
    assert_eq!(
        names,
        word_set("orig orig-clone orig-clone1 orig-clone2"),
        "[{mode:?}]"
    );
    env.ok(&["container", "clone", "--name", "named", "orig"]);
    env.ok(&["container", "clone", "orig", "positional"]);
    assert_eq!(field(&env, "positional", "{{.Config.Labels.team}}"), "a");

    // --run starts it; --destroy needs --force for a running original.
    env.ok(&[
        "create", "--name", "sleeper", "-e", &mark, &img, "sleep", "60",
    ]);
    env.ok(&["container", "clone", "--run", "--name", "awake", "sleeper"]);
    assert_eq!(field(&env, "awake", "{{.State.Status}}"), "running");
    assert_eq!(field(&env, "sleeper", "{{.State.Status}}"), "created");
    assert_refused(
        &env,
        &["container", "clone", "--destroy", "awake"],
        "running",
    );
    assert_refused(
        &env,
        &["container", "clone", "--force", "awake"],
        "--destroy",
    );
    env.ok(&[
        "container",
        "clone",
        "--destroy",
        "--force",
        "--name",
        "moved",
        "awake",
    ]);
    assert_eq!(env.run(&["container", "exists", "awake"]).status, 1);
    assert_eq!(field(&env, "moved", "{{.State.Status}}"), "created");

    // Into a pod: it takes the pod's namespaces.
    env.ok(&["pod", "create", "--name", "home"]);
    env.ok(&[
        "container",
        "clone",
        "--pod",
        "home",
        "--name",
        "member",
        "orig",
    ]);
    let pod_id = env.ok(&["pod", "inspect", "--format", "{{.Id}}", "home"]);
    assert_eq!(
        field(&env, "member", "{{.Pod}}"),
        pod_id.trim(),
        "[{mode:?}]"
    );
    assert_eq!(
        env.ok(&["pod", "inspect", "--format", "{{.NumContainers}}", "home"])
            .trim(),
        "2"
    );
    assert_eq!(env.ok(&["start", "-a", "member"]), "hello\n", "[{mode:?}]");

    // Limits: root writes them, rootless on this host refuses them.
    if mode == Mode::Root {
        env.ok(&[
            "container",
            "clone",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--name",
            "capped",
            "orig",
        ]);
        assert_eq!(field(&env, "capped", "{{.HostConfig.Memory}}"), "67108864");
        assert_eq!(
            field(&env, "capped", "{{.HostConfig.NanoCpus}}"),
            "500000000"
        );
        // real-time CPU time and per-device weights, as run takes them
        let dev = ["/dev/vda", "/dev/sda", "/dev/loop0"]
            .into_iter()
            .find(|d| std::path::Path::new(d).exists())
            .expect("a block device");
        let weight = format!("{dev}:300");
        env.ok(&[
            "container",
            "clone",
            "--cpu-rt-period",
            "1000000",
            "--cpu-rt-runtime",
            "10000",
            "--blkio-weight-device",
            &weight,
            "--name",
            "realtime",
            "orig",
        ]);
        let hc = &env.inspect_container("realtime")["HostConfig"];
        assert_eq!(
            (
                hc["CpuRealtimePeriod"].as_u64(),
                hc["CpuRealtimeRuntime"].as_i64(),
                hc["BlkioWeightDevice"].clone()
            ),
            (
                Some(1_000_000),
                Some(10_000),
                serde_json::json!([{"Path": dev, "Weight": 300}])
            ),
            "[{mode:?}]"
        );
        assert_eq!(
            env.inspect_container("orig")["HostConfig"]["CpuRealtimePeriod"],
            0,
            "[{mode:?}] the original keeps its own"
        );
    } else {
        assert_refused(
            &env,
            &["container", "clone", "--memory", "64m", "orig"],
            "the memory controller is not available",
        );
        assert_refused(
            &env,
            &["container", "clone", "--cpu-rt-runtime", "10000", "orig"],
            "the cpu controller is not available",
        );
    }
    assert_refused(
        &env,
        &[
            "container",
            "clone",
            "--cpu-rt-period",
            "1000",
            "--cpu-rt-runtime",
            "5000",
            "orig",
        ],
        "must not exceed",
    );
    assert_refused(
        &env,
        &[
            "container",
            "clone",
            "--blkio-weight-device",
            "/dev/null:500",
            "orig",
        ],
        "not a block device",
    );
    assert_refused(
        &env,
        &["container", "clone", "nosuchthing"],
        "no such container",
    );
    assert_refused(
        &env,
        &["container", "clone", "--name", "orig", "sleeper"],
        "already in use",
    );
}

both_modes!(pod_clone_copies_the_pod_and_its_containers);
fn pod_clone_copies_the_pod_and_its_containers(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let shared = env.user_dir("shared");
    env.write_user_file(&shared.join("note"), b"shared note\n");
    let vol = format!("{}:/shared:ro", shared.display());
    env.ok(&[
        "pod",
        "create",
        "--name",
        "src",
        "--hostname",
        "srchost",
        "--label",
        "tier=web",
        "--volume",
        &vol,
        "--restart",
        "on-failure",
    ]);
    env.ok(&[
        "create",
        "--pod",
        "src",
        "--name",
        "worker",
        "-e",
        &mark,
        &img,
        "sh",
        "-c",
        "hostname; cat /shared/note",
    ]);
    let id = env
        .ok(&["pod", "clone", "--label", "copy=yes", "src"])
        .trim()
        .to_string();
    assert!(is_hex(&id, 64), "[{mode:?}] {id}");
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["pod", "inspect", "src-clone"])).unwrap();
    assert_eq!(v["Id"], id.as_str(), "[{mode:?}] {v}");
    assert_eq!(v["Hostname"], "srchost", "[{mode:?}] {v}");
    assert_eq!(v["Labels"]["tier"], "web", "[{mode:?}] {v}");
    assert_eq!(v["Labels"]["copy"], "yes", "[{mode:?}] {v}");
    assert_eq!(v["RestartPolicy"], "on-failure", "[{mode:?}] {v}");
    assert_eq!(v["NumContainers"], 2, "[{mode:?}] {v}");
    let member = v["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "worker-clone")
        .unwrap_or_else(|| panic!("[{mode:?}] no worker-clone: {v}"));
    assert_eq!(
        env.ok(&["start", "-a", member["Id"].as_str().unwrap()]),
        "srchost\nshared note\n",
        "[{mode:?}]"
    );
    // The original keeps its containers.
    assert_eq!(
        env.ok(&["pod", "inspect", "--format", "{{.NumContainers}}", "src"])
            .trim(),
        "2"
    );

    // --destroy takes the original away, --start starts the clone.
    env.ok(&[
        "pod",
        "clone",
        "--destroy",
        "--start",
        "--hostname",
        "other",
        "src",
        "moved",
    ]);
    assert_eq!(env.run(&["pod", "exists", "src"]).status, 1, "[{mode:?}]");
    assert_eq!(env.run(&["container", "exists", "worker"]).status, 1);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["pod", "inspect", "moved"])).unwrap();
    assert_eq!(v["Hostname"], "other", "[{mode:?}] {v}");
    assert_eq!(v["Labels"]["tier"], "web", "[{mode:?}] {v}");

    assert_refused(&env, &["pod", "clone", "nosuchpod"], "no such pod");
    assert_refused(
        &env,
        &["pod", "clone", "--restart", "sometimes", "moved"],
        "sometimes",
    );
    assert_refused(
        &env,
        &["pod", "clone", "--name", "moved", "src-clone"],
        "in use",
    );
}

both_modes!(pod_clone_user_namespace_and_infra_command);
/// `pod clone` keeps the original's user namespace (its members' maps)
/// or takes `--uidmap`/`--gidmap`'s; it keeps an image infra's command or
/// takes `--infra-command`'s.
fn pod_clone_user_namespace_and_infra_command(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let u = test_user();
    // Rootless maps index the intermediate namespace (1: the first subuid).
    let (from, other, host, other_host) = match mode {
        Mode::Root => ("100000", "200000", 100000, 200000),
        Mode::Rootless => ("1", "101", u.subuid_start, u.subuid_start + 100),
    };
    let map = format!("0:{from}:5000");
    env.ok(&[
        "pod", "create", "--name", "up", "--uidmap", &map, "--gidmap", &map,
    ]);
    env.ok(&[
        "create",
        "--pod",
        "up",
        "--name",
        "w",
        "-e",
        &mark,
        &img,
        "sh",
        "-c",
        "cat /proc/self/uid_map",
    ]);
    let first_map = |name: &str| -> String {
        let out = env.ok(&["start", "-a", name]);
        out.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    };
    env.ok(&["pod", "clone", "up", "kept"]);
    assert_eq!(
        first_map("w-clone"),
        format!("0 {host} 5000"),
        "[{mode:?}] kept"
    );
    let other_map = format!("0:{other}:3000");
    env.ok(&[
        "pod", "clone", "--uidmap", &other_map, "--gidmap", &other_map, "up", "changed",
    ]);
    assert_eq!(
        first_map("w-clone1"),
        format!("0 {other_host} 3000"),
        "[{mode:?}] changed"
    );
    assert_eq!(
        env.ok(&[
            "pod",
            "inspect",
            "--format",
            "{{.SharedNamespaces}}",
            "changed"
        ])
        .trim(),
        "[ipc net user uts]"
    );

    // An infra from an image: its command, or --infra-command's.
    env.ok(&[
        "pod",
        "create",
        "--name",
        "ip",
        "--infra-image",
        &img,
        "--infra-command",
        r#"["sleep","300"]"#,
    ]);
    let infra_cmdline = |pod: &str| -> Vec<u8> {
        env.ok(&["pod", "start", pod]);
        let infra = env
            .ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", pod])
            .trim()
            .to_string();
        let pid = env.ok(&["inspect", "--format", "{{.State.Pid}}", &infra]);
        std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap()
    };
    env.ok(&["pod", "clone", "ip", "ip-same"]);
    assert_eq!(infra_cmdline("ip-same"), b"sleep\x00300\x00", "[{mode:?}]");
    env.ok(&[
        "pod",
        "clone",
        "--infra-command",
        r#"["sleep","301"]"#,
        "ip",
        "ip-new",
    ]);
    assert_eq!(infra_cmdline("ip-new"), b"sleep\x00301\x00", "[{mode:?}]");

    assert_refused(
        &env,
        &["pod", "clone", "--uidmap", "0:x:1", "up"],
        "invalid --uidmap",
    );
    assert_refused(
        &env,
        &[
            "pod", "clone", "--userns", "keep-id", "--uidmap", "0:1:10", "up",
        ],
        "--userns",
    );
    // coracle's built-in infra runs no program.
    assert_refused(
        &env,
        &["pod", "clone", "--infra-command", "sleep", "up"],
        "--infra-image",
    );
}

both_modes!(generate_spec_describes_containers_and_pods);
/// `generate spec`: podman's SpecGen JSON of a container (its command,
/// environment, labels, ports, limits, restart policy) and of a pod, named
/// as a copy would be unless `--name=false`; `--compact` on one line,
/// `--filename` to a file; an unknown name is refused.
fn generate_spec_describes_containers_and_pods(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&[
        "create",
        "--name",
        "described",
        "-e",
        &mark,
        "-e",
        "GREETING=hello",
        "--label",
        "team=a",
        "--restart",
        "on-failure:3",
        "--stop-signal",
        "SIGINT",
        "-p",
        "18081:80",
        &img,
        "sleep",
        "60",
    ]);
    let text = env.ok(&["generate", "spec", "described"]);
    let spec: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(spec["name"], "described-clone", "[{mode:?}] {spec}");
    assert_eq!(
        spec["command"],
        serde_json::json!(["sleep", "60"]),
        "[{mode:?}]"
    );
    assert_eq!(spec["env"]["GREETING"], "hello", "[{mode:?}] {spec}");
    assert_eq!(spec["labels"]["team"], "a", "[{mode:?}]");
    assert_eq!(spec["restart_policy"], "on-failure", "[{mode:?}] {spec}");
    assert_eq!(spec["restart_tries"], 3, "[{mode:?}]");
    assert_eq!(spec["stop_signal"], 2, "[{mode:?}]");
    assert_eq!(
        spec["portmappings"][0]["host_port"], 18081,
        "[{mode:?}] {spec}"
    );
    assert_eq!(spec["portmappings"][0]["container_port"], 80, "[{mode:?}]");
    let id = env.ok(&["inspect", "--format", "{{.Image}}", "described"]);
    assert_eq!(spec["image"], id.trim(), "[{mode:?}]");
    // a clone's name is taken: the next one
    env.ok(&["container", "clone", "described"]);
    let spec: serde_json::Value =
        serde_json::from_str(&env.ok(&["generate", "spec", "described"])).unwrap();
    assert_eq!(spec["name"], "described-clone1", "[{mode:?}]");
    let keep = env.ok(&["generate", "spec", "--name=false", "-c", "described"]);
    assert_eq!(keep.trim().lines().count(), 1, "[{mode:?}] {keep}");
    let spec: serde_json::Value = serde_json::from_str(&keep).unwrap();
    assert_eq!(spec["name"], "described", "[{mode:?}]");
    let file = env.user_dir("spec").join("out.json");
    let path = file.display().to_string();
    let printed = env.ok(&["generate", "spec", "-f", &path, "described"]);
    assert_eq!(printed.trim(), path, "[{mode:?}]");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["name"], "described-clone1", "[{mode:?}]");

    env.ok(&[
        "pod",
        "create",
        "--name",
        "described-pod",
        "--label",
        "tier=web",
    ]);
    let spec: serde_json::Value =
        serde_json::from_str(&env.ok(&["generate", "spec", "described-pod"])).unwrap();
    assert_eq!(spec["name"], "described-pod-clone", "[{mode:?}] {spec}");
    assert_eq!(spec["labels"]["tier"], "web", "[{mode:?}]");
    assert_eq!(spec["no_infra"], false, "[{mode:?}]");

    assert_refused(
        &env,
        &["generate", "spec", "nothing-here"],
        "could not find a pod or container with the id nothing-here",
    );
}
