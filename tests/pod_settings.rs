//! `pod create`'s settings, as root and rootless: what every member gets
//! (volumes, devices, GPUs and CDI devices, sysctls, security options,
//! /dev/shm, restart policy, no /etc/hostname), the pod's cgroup with its
//! limits as the members' parent (root; rootless on this cgroup v1 host, a
//! clear refusal), per-device I/O weights, the infra's --pid/--uts; and
//! the lifecycle verbs' id files and filters (`pod start/stop/rm
//! --pod-id-file`, `pause/unpause/restart --cidfile/--filter`).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Kills what a test left (containers, pods and their infra).
struct PodReaper<'a>(&'a TestEnv);

impl Drop for PodReaper<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["pod", "rm", "-a", "-f", "-t", "0"]);
        self.0.reap();
    }
}

fn pod_json(env: &TestEnv, name: &str) -> Value {
    let out = env.ok(&["pod", "inspect", name]);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("[{:?}] pod inspect {name}: not JSON ({e}): {out}", env.mode))
}

fn status(env: &TestEnv, name: &str) -> String {
    env.inspect_container(name)["State"]["Status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn pid_of(env: &TestEnv, name: &str) -> i64 {
    env.inspect_container(name)["State"]["Pid"]
        .as_i64()
        .unwrap_or_default()
}

both_modes!(pod_settings_reach_every_member);
fn pod_settings_reach_every_member(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let shared = env.user_dir("shared");
    env.write_user_file(&shared.join("note"), b"from the pod\n");
    let own = env.user_dir("own");
    env.write_user_file(&own.join("note"), b"the member's own\n");
    let labels = env.user_dir("labels").join("labels");
    env.write_user_file(&labels, b"from.file=yes\n");
    let vol = format!("{}:/shared:ro", shared.display());
    env.ok(&[
        "pod",
        "create",
        "--name",
        "team",
        "--volume",
        &vol,
        "--device",
        "/dev/null:/dev/podnull",
        "--sysctl",
        "net.ipv4.ip_unprivileged_port_start=42",
        "--security-opt",
        "no-new-privileges",
        "--shm-size",
        "3m",
        "--restart",
        "on-failure:3",
        "--no-hostname",
        "--label-file",
        labels.to_str().unwrap(),
    ]);
    let v = pod_json(&env, "team");
    assert_eq!(v["Labels"]["from.file"], "yes", "[{mode:?}] {v}");
    assert_eq!(v["mounts"][0]["Destination"], "/shared", "[{mode:?}] {v}");
    assert_eq!(v["mounts"][0]["RW"], false, "[{mode:?}] {v}");
    assert_eq!(
        v["devices"][0]["PathInContainer"], "/dev/podnull",
        "[{mode:?}] {v}"
    );
    assert_eq!(v["security_opt"][0], "no-new-privileges", "[{mode:?}] {v}");
    assert_eq!(v["RestartPolicy"], "on-failure:3", "[{mode:?}] {v}");
    assert_eq!(v["InfraConfig"]["NoManageHostname"], true, "[{mode:?}] {v}");

    let out = env.sh(
        &img,
        &["--pod", "team"],
        "cat /shared/note; test -c /dev/podnull && echo device; \
         cat /proc/sys/net/ipv4/ip_unprivileged_port_start; \
         grep NoNewPrivs /proc/self/status; \
         grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k'; \
         grep -c ' /etc/hostname ' /proc/mounts || true",
    );
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "from the pod",
            "device",
            "42",
            "NoNewPrivs:\t1",
            "size=3072k",
            "0"
        ],
        "[{mode:?}] {out}"
    );
    // A member's own volume at the same place wins; its restart policy too.
    let own_vol = format!("{}:/shared:ro", own.display());
    let out = env.sh(&img, &["--pod", "team", "-v", &own_vol], "cat /shared/note");
    assert_eq!(out, "the member's own\n", "[{mode:?}]");
    env.ok(&["create", "--pod", "team", "--name", "pol", &img, "true"]);
    let policy = &env.inspect_container("pol")["HostConfig"]["RestartPolicy"];
    assert_eq!(policy["Name"], "on-failure", "[{mode:?}] {policy}");
    assert_eq!(policy["MaximumRetryCount"], 3, "[{mode:?}] {policy}");
    env.ok(&[
        "create",
        "--pod",
        "team",
        "--name",
        "own",
        "--restart",
        "always",
        &img,
        "true",
    ]);
    let policy = &env.inspect_container("own")["HostConfig"]["RestartPolicy"];
    assert_eq!(policy["Name"], "always", "[{mode:?}] {policy}");

    // --uts host: the members see the host's name.
    env.ok(&["pod", "create", "--name", "hostuts", "--uts", "host"]);
    let v = pod_json(&env, "hostuts");
    assert_eq!(v["InfraConfig"]["uts_ns"], "host", "[{mode:?}] {v}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        env.sh(&img, &["--pod", "hostuts"], "hostname").trim(),
        host.trim(),
        "[{mode:?}]"
    );

    // --infra-image: the infra runs that image's program (--infra-command).
    env.ok(&[
        "pod",
        "create",
        "--name",
        "imaged",
        "--infra-image",
        &img,
        "--infra-command",
        r#"["sleep","300"]"#,
    ]);
    env.ok(&["pod", "start", "imaged"]);
    let infra = pod_json(&env, "imaged")["InfraContainerID"]
        .as_str()
        .unwrap()
        .to_string();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid_of(&env, &infra))).unwrap();
    assert_eq!(cmdline, b"sleep\x00300\x00", "[{mode:?}]");
    assert_eq!(
        env.sh(&img, &["--pod", "imaged"], "echo member"),
        "member\n"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", "imaged"]);

    // Bad settings are refused before anything is made.
    assert_refused(
        &env,
        &["pod", "create", "--infra-command", "sleep"],
        "--infra-image",
    );
    assert_refused(
        &env,
        &["pod", "create", "--sysctl", "kernel.hostname=x"],
        "kernel.hostname",
    );
    assert_refused(
        &env,
        &["pod", "create", "--restart", "sometimes"],
        "sometimes",
    );
    assert_refused(
        &env,
        &["pod", "create", "--device", "/nonexistent"],
        "/nonexistent",
    );
    assert_refused(&env, &["pod", "create", "--shm-size", "lots"], "lots");
    assert_refused(
        &env,
        &["pod", "create", "--pid", "container:someone"],
        "--pid",
    );
    assert_refused(
        &env,
        &["pod", "create", "--uts", "host", "--hostname", "x"],
        "hostname",
    );
}

both_modes!(pod_gpus_and_cdi_devices_reach_every_member);
fn pod_gpus_and_cdi_devices_reach_every_member(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let name = format!("pod{}-{mode:?}", std::process::id()).to_lowercase();
    let _spec = gpu_spec(&name, &env.user_dir("cdi-data"));
    let want = cdi_probe_output(&name);
    env.ok(&["pod", "create", "--name", "gpu", "--gpus", &name]);
    assert_eq!(
        env.sh(&img, &["--pod", "gpu"], CDI_PROBE),
        want,
        "[{mode:?}] pod --gpus"
    );
    // every member: a second one too, and the member's own -e wins
    assert_eq!(
        env.sh(&img, &["--pod", "gpu", "-e", "CDI_GPU=mine"], CDI_PROBE),
        want.replacen(&name, "mine", 1),
        "[{mode:?}] a member's own environment"
    );
    // a CDI name among the pod's --devices
    let device = format!("nvidia.com/gpu={name}");
    env.ok(&["pod", "create", "--name", "cdidev", "--device", &device]);
    assert_eq!(
        env.sh(&img, &["--pod", "cdidev"], CDI_PROBE),
        want,
        "[{mode:?}] pod --device CDI"
    );
    // a clone keeps them
    env.ok(&["pod", "clone", "--name", "gpu2", "gpu"]);
    assert_eq!(
        env.sh(&img, &["--pod", "gpu2"], CDI_PROBE),
        want,
        "[{mode:?}] pod clone"
    );
    assert_refused(
        &env,
        &["pod", "create", "--gpus", "no-such-gpu"],
        "no-such-gpu",
    );
    assert_refused(
        &env,
        &["pod", "create", "--device", "nvidia.com/gpu=no-such-gpu"],
        "unresolvable CDI devices nvidia.com/gpu=no-such-gpu",
    );
}

both_modes!(pod_blkio_weight_device_goes_to_the_pods_cgroup);
fn pod_blkio_weight_device_goes_to_the_pods_cgroup(mode: Mode) {
    use std::os::unix::fs::MetadataExt;
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let dev = ["/dev/vda", "/dev/sda", "/dev/loop0"]
        .into_iter()
        .find(|d| Path::new(d).exists())
        .expect("a block device");
    let weight = format!("{dev}:300");
    // Bad values are refused before anything is made.
    assert_refused(
        &env,
        &["pod", "create", "--blkio-weight-device", "/dev/null:300"],
        "not a block device",
    );
    assert_refused(
        &env,
        &[
            "pod",
            "create",
            "--blkio-weight-device",
            &format!("{dev}:5"),
        ],
        "between 10 and 1000",
    );
    assert_refused(
        &env,
        &["pod", "create", "--blkio-weight-device", "300"],
        "DEVICE:WEIGHT",
    );
    if mode == Mode::Rootless {
        // This host's cgroup v1 controllers are not delegated to users.
        assert_refused(
            &env,
            &["pod", "create", "--blkio-weight-device", &weight],
            "--blkio-weight-device: the io controller is not available",
        );
        return;
    }
    env.ok(&[
        "pod",
        "create",
        "--name",
        "weighted",
        "--blkio-weight-device",
        &weight,
    ]);
    let v = pod_json(&env, "weighted");
    assert_eq!(
        v["blkio_weight_device"],
        serde_json::json!([{"Path": dev, "Weight": 300}]),
        "[{mode:?}] {v}"
    );
    let id = v["Id"].as_str().unwrap().to_string();
    // Per-device weights need CFQ's or BFQ's file in the blkio controller.
    let blkio = Path::new("/sys/fs/cgroup/blkio");
    let file = ["blkio.weight_device", "blkio.bfq.weight_device"]
        .into_iter()
        .find(|f| blkio.join(f).exists());
    let Some(file) = file else {
        assert_refused(
            &env,
            &["pod", "start", "weighted"],
            "--blkio-weight-device: this kernel's blkio controller takes no per-device weights",
        );
        return;
    };
    env.run_detached("heavy", &["--pod", "weighted"], &img, &["sleep", "60"]);
    let rdev = std::fs::metadata(dev).unwrap().rdev();
    let line = format!("{}:{} 300", libc::major(rdev), libc::minor(rdev));
    let got = std::fs::read_to_string(
        blkio
            .join("coracle")
            .join(format!("coracle-pod-{id}"))
            .join(file),
    )
    .unwrap_or_default();
    assert!(got.contains(&line), "[{mode:?}] {file}: {got}");
}

both_modes!(pod_limits_go_to_the_pods_cgroup);
fn pod_limits_go_to_the_pods_cgroup(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    if mode == Mode::Rootless {
        // This host's cgroup v1 controllers are not delegated to users.
        assert_refused(
            &env,
            &["pod", "create", "--memory", "64m"],
            "the memory controller is not available",
        );
        assert_refused(
            &env,
            &["pod", "create", "--cpus", "1"],
            "the cpu controller is not available",
        );
        return;
    }
    env.ok(&[
        "pod",
        "create",
        "--name",
        "capped",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
    ]);
    let v = pod_json(&env, "capped");
    assert_eq!(v["memory_limit"], 64 << 20, "[{mode:?}] {v}");
    assert_eq!(v["cpu_quota"], 50_000, "[{mode:?}] {v}");
    assert_eq!(v["cpu_period"], 100_000, "[{mode:?}] {v}");
    assert_eq!(v["cpu_shares"], 512, "[{mode:?}] {v}");
    assert_eq!(v["cpuset_cpus"], "0", "[{mode:?}] {v}");
    let path = v["CgroupPath"].as_str().unwrap().to_string();
    let id = v["Id"].as_str().unwrap();
    assert_eq!(path, format!("/coracle/coracle-pod-{id}"), "[{mode:?}] {v}");
    let dir = |ctrl: &str| Path::new("/sys/fs/cgroup").join(ctrl).join(&path[1..]);
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .trim()
            .to_string()
    };

    env.run_detached("inside", &["--pod", "capped"], &img, &["sleep", "60"]);
    assert_eq!(
        read(&dir("memory").join("memory.limit_in_bytes")),
        "67108864"
    );
    assert_eq!(read(&dir("cpu").join("cpu.cfs_quota_us")), "50000");
    assert_eq!(read(&dir("cpu").join("cpu.shares")), "512");
    assert_eq!(read(&dir("cpuset").join("cpuset.cpus")), "0");
    let pid = pid_of(&env, "inside");
    let cgroups = read(Path::new(&format!("/proc/{pid}/cgroup")));
    assert!(
        cgroups
            .lines()
            .any(|l| l.contains(":memory:") && l.contains(&format!("coracle-pod-{id}/coracle-"))),
        "[{mode:?}] the member's cgroup is below the pod's: {cgroups}"
    );

    // --share-parent=false: members' cgroups are their own.
    env.ok(&[
        "pod",
        "create",
        "--name",
        "apart",
        "--share-parent=false",
        "--memory",
        "64m",
    ]);
    env.run_detached("outside", &["--pod", "apart"], &img, &["sleep", "60"]);
    let pid = pid_of(&env, "outside");
    let cgroups = read(Path::new(&format!("/proc/{pid}/cgroup")));
    assert!(
        cgroups
            .lines()
            .any(|l| l.contains(":memory:/coracle/coracle-"))
            && !cgroups.contains("coracle-pod-"),
        "[{mode:?}] {cgroups}"
    );

    env.ok(&["pod", "rm", "-f", "-t", "0", "capped"]);
    assert!(
        !dir("memory").exists(),
        "[{mode:?}] the pod's cgroup outlived it"
    );
}

both_modes!(lifecycle_verbs_take_id_files_and_filters);
fn lifecycle_verbs_take_id_files_and_filters(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let podfile = env.user_dir("ids").join("pod-id");
    let podfile = podfile.to_str().unwrap();
    let id = env
        .ok(&["pod", "create", "--name", "ids", "--pod-id-file", podfile])
        .trim()
        .to_string();
    env.ok(&["create", "--pod", "ids", "--name", "m", &img, "sleep", "60"]);
    assert_eq!(
        env.ok(&["pod", "start", "--pod-id-file", podfile]).trim(),
        id
    );
    assert_eq!(status(&env, "m"), "running", "[{mode:?}]");
    assert_eq!(
        env.ok(&["pod", "stop", "-t", "0", "--pod-id-file", podfile])
            .trim(),
        id
    );
    assert_eq!(status(&env, "m"), "exited", "[{mode:?}]");
    assert_eq!(env.ok(&["pod", "rm", "--pod-id-file", podfile]).trim(), id);
    assert!(!Path::new(podfile).exists(), "[{mode:?}] the id file stays");
    assert!(env.ok(&["pod", "ps", "-q"]).trim().is_empty(), "[{mode:?}]");
    // --ignore: a missing file is nothing to do; without it, an error.
    env.ok(&["pod", "rm", "--ignore", "--pod-id-file", podfile]);
    env.ok(&["pod", "stop", "--ignore", "--pod-id-file", podfile]);
    assert_refused(&env, &["pod", "start", "--pod-id-file", podfile], "pod-id");

    let cid = env.user_dir("ids").join("cid");
    let cid = cid.to_str().unwrap();
    env.ok(&[
        "run",
        "-d",
        "--name",
        "a",
        "--cidfile",
        cid,
        "-e",
        &env.mark(),
        &img,
        "sleep",
        "60",
    ]);
    env.run_detached("b", &[], &img, &["sleep", "60"]);
    let (a, b) = (pid_of(&env, "a"), pid_of(&env, "b"));
    let a_id = std::fs::read_to_string(cid).unwrap();
    assert_eq!(
        env.ok(&["restart", "-t", "0", "--cidfile", cid]).trim(),
        a_id.trim()
    );
    assert!(
        wait_for(Duration::from_secs(10), || status(&env, "a") == "running"),
        "[{mode:?}]"
    );
    assert_ne!(pid_of(&env, "a"), a, "[{mode:?}] restart --cidfile");
    assert_eq!(pid_of(&env, "b"), b, "[{mode:?}] b was not selected");
    let restarted = env.ok(&["restart", "-t", "0", "--filter", "name=^b$"]);
    assert_eq!(restarted.lines().count(), 1, "[{mode:?}] {restarted}");
    assert_ne!(pid_of(&env, "b"), b, "[{mode:?}] restart --filter");

    if mode == Mode::Rootless {
        // No cgroup, so no freezer: the error names the selected container.
        let out = env.fails(&["pause", "--cidfile", cid], 125);
        assert!(
            out.stderr.contains("no cgroup"),
            "[{mode:?}] {}",
            out.stderr
        );
        let out = env.fails(&["pause", "--filter", "name=^b$"], 125);
        assert!(
            out.stderr.contains("no cgroup"),
            "[{mode:?}] {}",
            out.stderr
        );
        return;
    }
    assert_eq!(env.ok(&["pause", "--cidfile", cid]).trim(), a_id.trim());
    assert_eq!(status(&env, "a"), "paused");
    assert_eq!(status(&env, "b"), "running");
    env.ok(&["pause", "--filter", "name=^b$"]);
    assert_eq!(status(&env, "b"), "paused");
    // A filter alone: every paused container it selects.
    let out = env.ok(&["unpause", "--filter", "status=paused"]);
    assert_eq!(out.lines().count(), 2, "[{mode:?}] {out}");
    assert_eq!(status(&env, "a"), "running");
    assert_eq!(status(&env, "b"), "running");
    env.ok(&["pause", "a"]);
    env.ok(&["unpause", "--cidfile", cid]);
    assert_eq!(status(&env, "a"), "running");
    env.ok(&["rm", "-f", "-t", "0", "a", "b"]);
}

/// The lines of /proc/self/uid_map, spaces squeezed.
fn map_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

both_modes!(pod_user_namespace_is_every_members);
/// `pod create --uidmap/--gidmap` (and rootless `--userns keep-id`): the
/// infra's user namespace, which every member joins; pod inspect shows it;
/// a member's own --userns is refused as podman does.
fn pod_user_namespace_is_every_members(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    let u = test_user();
    let (from, uid_host, gid_host) = match mode {
        Mode::Root => ("100000", 100000, 100000),
        Mode::Rootless => ("1", u.subuid_start, u.subgid_start),
    };
    let map = format!("0:{from}:5000");
    env.ok(&[
        "pod", "create", "--name", "mp", "--uidmap", &map, "--gidmap", &map,
    ]);
    let doc = pod_json(&env, "mp");
    assert_eq!(doc["InfraConfig"]["userns"], "private", "[{mode:?}] {doc}");
    assert_eq!(
        doc["SharedNamespaces"],
        serde_json::json!(["ipc", "net", "user", "uts"]),
        "[{mode:?}] {doc}"
    );
    env.run_detached("m1", &["--pod", "mp"], &img, &["sleep", "300"]);
    env.run_detached("m2", &["--pod", "mp"], &img, &["sleep", "300"]);
    let script = "cat /proc/self/uid_map /proc/self/gid_map; id -u; readlink /proc/self/ns/user";
    let one = map_lines(&env.ok(&["exec", "m1", "sh", "-c", script]));
    let two = map_lines(&env.ok(&["exec", "m2", "sh", "-c", script]));
    assert_eq!(
        one[..3],
        [
            format!("0 {uid_host} 5000"),
            format!("0 {gid_host} 5000"),
            "0".to_string()
        ],
        "[{mode:?}] {one:?}"
    );
    assert_eq!(one, two, "[{mode:?}] both members in one user namespace");
    // A container outside the pod has a user namespace of its own.
    let alone = map_lines(&env.sh(&img, &[], "readlink /proc/self/ns/user"));
    assert_ne!(alone[0], one[3], "[{mode:?}] {alone:?}");
    // A member's own user namespace mode is podman's error.
    assert_refused(
        &env,
        &["create", "--pod", "mp", "--userns", "keep-id", &img, "true"],
        "cannot set user namespace mode when joining pod with infra container",
    );
    assert_refused(
        &env,
        &["create", "--pod", "mp", "--uidmap", "0:1:10", &img, "true"],
        "--uidmap",
    );

    // keep-id: the caller's ids as themselves, rootless only (podman).
    if mode == Mode::Root {
        assert_refused(
            &env,
            &["pod", "create", "--name", "kp", "--userns", "keep-id"],
            "keep-id",
        );
    } else {
        env.ok(&["pod", "create", "--name", "kp", "--userns", "keep-id"]);
        let got = env.sh(&img, &["--pod", "kp"], "id -u; id -g");
        assert_eq!(
            map_lines(&got),
            [u.uid.to_string(), u.gid.to_string()],
            "[{mode:?}] keep-id member runs as the caller"
        );
        // --user still wins, in the same namespace.
        let got = env.sh(&img, &["--pod", "kp", "--user", "0"], "id -u");
        assert_eq!(got.trim(), "0", "[{mode:?}]");
        assert_eq!(pod_json(&env, "kp")["InfraConfig"]["userns"], "private");
        // keep-id:uid=,gid=: the caller's ids appear as those.
        env.ok(&[
            "pod",
            "create",
            "--name",
            "kq",
            "--userns",
            "keep-id:uid=200,gid=210",
        ]);
        let script = "id -u; id -g; grep '^ *200 ' /proc/self/uid_map";
        let want = [
            "200".to_string(),
            "210".to_string(),
            format!("200 {} 1", u.uid),
        ];
        let got = env.sh(&img, &["--pod", "kq"], script);
        assert_eq!(map_lines(&got), want, "[{mode:?}] keep-id:uid= pod member");
        let got = env.sh(&img, &["--userns", "keep-id:uid=200,gid=210"], script);
        assert_eq!(map_lines(&got), want, "[{mode:?}] run keep-id:uid=");
    }
    // nomap: the subordinate ranges alone, the caller's id left out
    // (rootless only, as podman); run takes it too.
    if mode == Mode::Root {
        assert_refused(
            &env,
            &["pod", "create", "--name", "np", "--userns", "nomap"],
            "nomap",
        );
    } else {
        env.ok(&["pod", "create", "--name", "np", "--userns", "nomap"]);
        let script = "head -1 /proc/self/uid_map; head -1 /proc/self/gid_map; id -u";
        let want = [
            format!("0 {} 65536", u.subuid_start),
            format!("0 {} 65536", u.subgid_start),
            "0".to_string(),
        ];
        let got = env.sh(&img, &["--pod", "np"], script);
        assert_eq!(map_lines(&got), want, "[{mode:?}] nomap pod member");
        let got = env.sh(&img, &["--userns", "nomap"], script);
        assert_eq!(map_lines(&got), want, "[{mode:?}] run --userns nomap");
        assert_refused(
            &env,
            &["create", "--pod", "np", "--userns", "nomap", &img, "true"],
            "cannot set user namespace mode when joining pod with infra container",
        );
    }
    // host and "" are the default: no user namespace of the pod's own.
    env.ok(&["pod", "create", "--name", "hp", "--userns", "host"]);
    let doc = pod_json(&env, "hp");
    assert_eq!(doc["InfraConfig"]["userns"], "host", "[{mode:?}] {doc}");
    assert_eq!(
        doc["SharedNamespaces"],
        serde_json::json!(["ipc", "net", "uts"]),
        "[{mode:?}] {doc}"
    );

    // Bad values change nothing.
    for (args, needle) in [
        (vec!["--uidmap", "0:x:1"], "invalid --uidmap"),
        (
            vec!["--userns", "keep-id", "--uidmap", "0:1:10"],
            "--userns",
        ),
        (
            vec!["--subuidname", "no-such-user-here"],
            "no-such-user-here",
        ),
        (vec!["--infra=false", "--uidmap", "0:1:10"], "--infra=false"),
        (vec!["--userns", "bogus"], "bogus"),
        (
            vec!["--userns", "keep-id:size=10"],
            "invalid keep-id option",
        ),
    ] {
        let mut cmd = vec!["pod", "create", "--name", "bad"];
        cmd.extend(args);
        assert_refused(&env, &cmd, needle);
    }
}
