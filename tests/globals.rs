//! podman's global options: --out/--noout, --events-backend,
//! --cgroup-manager, --module, --config, --volumepath, --syslog,
//! --storage-opt, --transient-store, the remote-only options refused, and
//! `version`/`info` in podman's keys. As root and rootless.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

both_modes!(out_and_noout_redirect_coracles_output_not_the_containers);
fn out_and_noout_redirect_coracles_output_not_the_containers(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.ok(&["create", "--name", "o1", &img, "true"]);

    let out = env.ok(&["--noout", "ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(out, "", "[{mode:?}] --noout prints nothing");

    let file = env.home.join("out.txt");
    let f = file.to_str().unwrap();
    let out = env.ok(&["--out", f, "ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(out, "", "[{mode:?}] --out leaves stdout empty");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "o1\n",
        "[{mode:?}]"
    );

    // The container's own output still reaches the terminal.
    let out = env.ok(&[
        "--out",
        f,
        "run",
        "--rm",
        &img,
        "echo",
        "from-the-container",
    ]);
    assert_eq!(out, "from-the-container\n", "[{mode:?}]");

    let out = env.ok(&["--out", f, "version", "--format", "{{.Client.Version}}"]);
    assert_eq!(out, "", "[{mode:?}]");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        env!("CARGO_PKG_VERSION"),
        "[{mode:?}] --out truncates and holds the version"
    );
    let bad = env.run(&["--out", "/nonexistent/dir/out.txt", "ps"]);
    assert_error(
        mode,
        "--out into a missing dir",
        &bad,
        125,
        &["/nonexistent/dir/out.txt"],
    );
}

fn container_events(env: &TestEnv, name: &str) -> Vec<String> {
    env.ok(&["events", "--stream=false", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["Type"] == "container" && e["Name"] == name)
        .map(|e| e["Status"].as_str().unwrap_or_default().to_string())
        .collect()
}

both_modes!(events_backend_none_and_journald);
fn events_backend_none_and_journald(mode: Mode) {
    // Only --rm containers: nothing for a reaper.
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    env.ok(&["run", "--rm", "--name", "logged", &img, "true"]);
    assert!(
        container_events(&env, "logged").contains(&"start".to_string()),
        "[{mode:?}] the file backend records"
    );
    env.ok(&[
        "--events-backend",
        "none",
        "run",
        "--rm",
        "--name",
        "quiet",
        &img,
        "true",
    ]);
    assert!(
        container_events(&env, "quiet").is_empty(),
        "[{mode:?}] none records nothing"
    );
    let out = env.run(&["--events-backend", "none", "events", "--stream=false"]);
    assert_error(mode, "events with none", &out, 125, &["none"]);

    // containers.conf's events_logger does the same.
    let conf = env.home.join("containers.conf");
    env.write_user_file(&conf, b"[engine]\nevents_logger = \"none\"\n");
    env.set_env("CONTAINERS_CONF", conf.to_str().unwrap());
    env.ok(&["run", "--rm", "--name", "quiet2", &img, "true"]);
    let out = env.ok(&["info", "--format", "{{.Host.EventLogger}}"]);
    assert_eq!(out.trim(), "none", "[{mode:?}]");
    env.remove_env("CONTAINERS_CONF");
    assert!(container_events(&env, "quiet2").is_empty(), "[{mode:?}]");

    let bad = env.run(&["--events-backend", "syslog", "ps"]);
    assert_error(mode, "--events-backend syslog", &bad, 125, &["syslog"]);
    if !Path::new("/run/systemd/journal/socket").exists() {
        let out = env.run(&["--events-backend", "journald", "ps"]);
        assert_error(mode, "journald without a journal", &out, 125, &["journal"]);
    }
}

both_modes!(cgroup_manager_cgroupfs_runs_systemd_is_refused);
fn cgroup_manager_cgroupfs_runs_systemd_is_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let out = env.ok(&[
        "--cgroup-manager",
        "cgroupfs",
        "run",
        "--rm",
        &img,
        "echo",
        "ok",
    ]);
    assert_eq!(out, "ok\n", "[{mode:?}]");
    assert_refused(
        &env,
        &["--cgroup-manager", "systemd", "run", "--rm", &img, "true"],
        "systemd",
    );
    assert_refused(&env, &["--cgroup-manager", "bogus", "ps"], "bogus");
}

both_modes!(remote_options_are_one_clear_error);
fn remote_options_are_one_clear_error(mode: Mode) {
    let env = TestEnv::new(mode);
    for args in [
        &["--remote", "ps"][..],
        &["--url", "unix:///run/podman/podman.sock", "ps"],
        &["--connection", "other", "images"],
        &["--identity", "/k", "ps"],
        &["--ssh", "native", "ps"],
        &["--tls-ca", "/ca.pem", "ps"],
    ] {
        assert_refused(&env, args, "remote connections are not supported");
    }
}

both_modes!(module_files_are_read_after_the_others);
fn module_files_are_read_after_the_others(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let abs = env.home.join("mod-abs.conf");
    env.write_user_file(&abs, b"[containers]\nenv = [\"FROM_MODULE=abs\"]\n");
    // A name is looked up in the user's containers.conf.modules first.
    let named = env
        .home
        .join(".config/containers/containers.conf.modules/named.conf");
    env.write_user_file(
        &named,
        b"[containers]\nenv = [\"FROM_MODULE=named\", \"OTHER=x\"]\n",
    );
    let echo = ["sh", "-c", "echo $FROM_MODULE $OTHER"];
    let mut args = vec!["--module", abs.to_str().unwrap(), "run", "--rm", &img];
    args.extend(echo);
    assert_eq!(env.ok(&args), "abs\n", "[{mode:?}]");
    let mut args = vec!["--module", "named.conf", "run", "--rm", &img];
    args.extend(echo);
    assert_eq!(env.ok(&args), "named x\n", "[{mode:?}]");
    // The later module wins.
    let mut args = vec!["--module", "named.conf", "--module", abs.to_str().unwrap()];
    args.extend(["run", "--rm", &img]);
    args.extend(echo);
    assert_eq!(env.ok(&args), "abs\n", "[{mode:?}]");
    assert_refused(&env, &["--module", "missing.conf", "ps"], "missing.conf");
}

both_modes!(config_dir_supplies_dockers_credentials);
fn config_dir_supplies_dockers_credentials(mode: Mode) {
    let reg = auth_registry();
    let p = push_unique_to(reg, busybox_image(), "dockercfg");
    let env = TestEnv::new(mode);
    let out = env.run(&["pull", &p.reference()]);
    assert_ne!(out.status, 0, "[{mode:?}] no credentials: {out:?}");
    let dir = env.home.join("dockercfg");
    env.write_user_file(&dir.join("config.json"), reg.auth_json().as_bytes());
    let out = env.ok(&[
        "--config",
        dir.to_str().unwrap(),
        "pull",
        "-q",
        &p.reference(),
    ]);
    assert_eq!(out.trim(), p.id(), "[{mode:?}]");
    let bad = env.run(&["--config", "/nonexistent-dir", "images"]);
    assert_error(mode, "--config missing", &bad, 125, &["/nonexistent-dir"]);
}

both_modes!(volumepath_keeps_volumes_elsewhere);
fn volumepath_keeps_volumes_elsewhere(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let dir = env.home.join("vols");
    let d = dir.to_str().unwrap();
    env.ok(&["--volumepath", d, "volume", "create", "elsewhere"]);
    let mp = env.ok(&[
        "--volumepath",
        d,
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        "elsewhere",
    ]);
    assert_eq!(
        mp.trim(),
        dir.join("elsewhere/_data").to_str().unwrap(),
        "[{mode:?}]"
    );
    env.ok(&[
        "--volumepath",
        d,
        "run",
        "--rm",
        "-v",
        "elsewhere:/data",
        &img,
        "sh",
        "-c",
        "echo hi > /data/f",
    ]);
    assert_eq!(
        std::fs::read_to_string(dir.join("elsewhere/_data/f")).unwrap(),
        "hi\n",
        "[{mode:?}] the volume's data is under --volumepath"
    );
    let default = env.ok(&["volume", "ls", "-q"]);
    assert!(
        !default.contains("elsewhere"),
        "[{mode:?}] not in the default path: {default}"
    );
    assert!(
        !env.store_dir().join("volumes/elsewhere").exists(),
        "[{mode:?}]"
    );
}

both_modes!(version_in_podmans_keys);
fn version_in_podmans_keys(mode: Mode) {
    let env = TestEnv::new(mode);
    let v: Value = serde_json::from_str(&env.ok(&["version", "--format", "json"])).unwrap();
    let c = &v["Client"];
    assert_eq!(c["Version"], env!("CARGO_PKG_VERSION"), "[{mode:?}] {v}");
    assert_eq!(c["APIVersion"], "5.0.0", "[{mode:?}] {v}");
    for key in [
        "GoVersion",
        "GitCommit",
        "BuiltTime",
        "Built",
        "OsArch",
        "Os",
    ] {
        assert!(c.get(key).is_some(), "[{mode:?}] Client.{key} missing: {v}");
    }
    assert_eq!(c["Os"], "linux");
    let human = env.ok(&["version"]);
    assert!(human.contains("API Version:  5.0.0"), "[{mode:?}] {human}");
    assert!(
        human.contains(&format!("Version:      {}", env!("CARGO_PKG_VERSION"))),
        "{human}"
    );
    assert!(human.contains("OS/Arch:      linux/"), "{human}");
    let api = env.ok(&["version", "--format", "{{.Client.APIVersion}}"]);
    assert_eq!(api, "5.0.0\n", "[{mode:?}]");
    // `podman -v` / `--version`: one line, "NAME version X"
    for flag in ["-v", "--version"] {
        assert_eq!(
            env.ok(&[flag]),
            format!("coracle version {}\n", env!("CARGO_PKG_VERSION")),
            "[{mode:?}] {flag}"
        );
    }
}

both_modes!(info_in_podmans_tree);
fn info_in_podmans_tree(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("up", &[], &img, &["sleep", "300"]);
    env.ok(&["create", "--name", "idle", &img, "true"]);
    let info: Value = serde_json::from_str(&env.ok(&["info", "--format", "json"])).unwrap();
    let store = &info["store"];
    assert_eq!(
        store["graphRoot"],
        env.store_dir().to_str().unwrap(),
        "[{mode:?}]"
    );
    assert_eq!(
        store["runRoot"],
        env.runroot_dir().to_str().unwrap(),
        "[{mode:?}]"
    );
    assert_eq!(store["imageStore"]["number"], 1, "[{mode:?}] {store}");
    let cs = &store["containerStore"];
    assert_eq!(
        (
            cs["number"].as_u64(),
            cs["running"].as_u64(),
            cs["stopped"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "[{mode:?}] {cs}"
    );
    assert_eq!(store["graphDriverName"], "overlay");
    assert_eq!(
        store["volumePath"],
        env.store_dir().join("volumes").to_str().unwrap(),
        "[{mode:?}]"
    );
    let host = &info["host"];
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    assert_eq!(
        host["cgroupVersion"],
        if v2 { "v2" } else { "v1" },
        "[{mode:?}]"
    );
    assert_eq!(
        host["security"]["rootless"],
        mode == Mode::Rootless,
        "[{mode:?}]"
    );
    assert_eq!(host["eventLogger"], "file");
    assert!(host["security"]["capabilities"]
        .as_str()
        .unwrap()
        .contains("CAP_CHOWN"));
    for key in [
        "arch",
        "cpus",
        "kernel",
        "hostname",
        "memTotal",
        "ociRuntime",
        "distribution",
        "uptime",
        "idMappings",
    ] {
        assert!(host.get(key).is_some(), "[{mode:?}] host.{key} missing");
    }
    assert_eq!(info["version"]["APIVersion"], "5.0.0");
    assert!(info["plugins"]["volume"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "local"));
    // Templates take podman's Go field names.
    let t = env.ok(&[
        "info",
        "--format",
        "{{.Host.CgroupsVersion}} {{.Store.ContainerStore.Number}} {{.Store.ImageStore.Number}} {{.Host.Security.Rootless}} {{.Version.APIVersion}} {{.Host.OS}}",
    ]);
    assert_eq!(
        t.trim(),
        format!(
            "{} 2 1 {} 5.0.0 linux",
            if v2 { "v2" } else { "v1" },
            mode == Mode::Rootless
        ),
        "[{mode:?}]"
    );
    let human = env.ok(&["info"]);
    assert!(human.contains("graphRoot: "), "[{mode:?}] {human}");
    assert!(human.contains("cgroupVersion: "), "[{mode:?}] {human}");
}

/// Poll `path` until it holds a line starting with `prefix` (the monitor
/// runs poststop hooks after the CLI has returned).
fn wait_for_line(path: &Path, prefix: &str) -> Option<String> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.starts_with(prefix)) {
            return Some(l.to_string());
        }
        if std::time::Instant::now() > until {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

both_modes!(hooks_dir_runs_oci_hooks_with_the_state);
fn hooks_dir_runs_oci_hooks_with_the_state(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let dir = env.home.join("hooks.d");
    let log = env.home.join("hooks.log");
    let script = env.home.join("hook.sh");
    env.write_user_file(
        &script,
        format!(
            "#!/bin/sh\nstate=$(cat)\necho \"$1 $HOOKVAR $state\" >> {}\n",
            log.display()
        )
        .as_bytes(),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let hook = |file: &str, stage: &str, arg: &str, when: &str| {
        env.write_user_file(
            &dir.join(file),
            format!(
                r#"{{"version": "1.0.0", "hook": {{"path": "{}", "args": ["hook.sh", "{arg}"], "env": ["HOOKVAR=set"]}}, "when": {when}, "stages": ["{stage}"]}}"#,
                script.display()
            )
            .as_bytes(),
        );
    };
    hook("pre.json", "prestart", "pre", r#"{"always": true}"#);
    hook(
        "post.json",
        "poststart",
        "post",
        r#"{"annotations": {"^hooktest$": "^yes$"}}"#,
    );
    hook(
        "stop.json",
        "poststop",
        "stop",
        r#"{"commands": ["^echo$"]}"#,
    );
    let d = dir.to_str().unwrap();
    let out = env.ok(&[
        "--hooks-dir",
        d,
        "run",
        "--rm",
        "--annotation",
        "hooktest=yes",
        &img,
        "echo",
        "hi",
    ]);
    assert_eq!(out, "hi\n", "[{mode:?}]");
    let pre = wait_for_line(&log, "pre ").expect("the prestart hook ran");
    let state: Value = serde_json::from_str(pre.trim_start_matches("pre set ")).unwrap();
    assert_eq!(state["status"], "created", "[{mode:?}] {pre}");
    assert!(state["pid"].as_i64().unwrap() > 0, "[{mode:?}] {pre}");
    assert_eq!(state["annotations"]["hooktest"], "yes", "[{mode:?}] {pre}");
    let id = state["id"].as_str().unwrap().to_string();
    assert!(
        state["bundle"].as_str().unwrap().contains(&id),
        "[{mode:?}] {pre}"
    );
    let post = wait_for_line(&log, "post ").expect("the poststart hook ran");
    assert!(post.contains("\"status\":\"running\""), "[{mode:?}] {post}");
    let stop = wait_for_line(&log, "stop ").expect("the poststop hook ran");
    assert!(
        stop.contains("\"status\":\"stopped\"") && stop.contains(&id),
        "[{mode:?}] {stop}"
    );

    // Conditions: no annotation, another command: only the prestart hook.
    std::fs::remove_file(&log).unwrap();
    env.ok(&["--hooks-dir", d, "run", "--rm", &img, "true"]);
    wait_for_line(&log, "pre ").expect("prestart again");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "[{mode:?}] only prestart matched: {text}"
    );
    // Without --hooks-dir, nothing runs (podman's default dirs are empty here).
    std::fs::remove_file(&log).unwrap();
    env.ok(&["run", "--rm", &img, "true"]);
    assert!(!log.exists(), "[{mode:?}] no hooks without --hooks-dir");
    // containers.conf's hooks_dir does the same.
    let conf = env.home.join("hooks.conf");
    env.write_user_file(
        &conf,
        format!("[engine]\nhooks_dir = [\"{d}\"]\n").as_bytes(),
    );
    env.set_env("CONTAINERS_CONF", conf.to_str().unwrap());
    env.ok(&["run", "--rm", &img, "true"]);
    wait_for_line(&log, "pre ").expect("hooks_dir in containers.conf");
    env.remove_env("CONTAINERS_CONF");

    // A failing prestart hook fails the start; a bad hook file the create.
    let fail = env.home.join("fail.d");
    env.write_user_file(
        &fail.join("f.json"),
        br#"{"version": "1.0.0", "hook": {"path": "/bin/false"}, "when": {"always": true}, "stages": ["prestart"]}"#,
    );
    let out = env.run(&[
        "--hooks-dir",
        fail.to_str().unwrap(),
        "run",
        "--rm",
        &img,
        "echo",
        "never",
    ]);
    assert_error(
        mode,
        "failing prestart hook",
        &out,
        125,
        &["prestart hook", "/bin/false"],
    );
    assert!(!out.stdout.contains("never"), "[{mode:?}]");
    let bad = env.home.join("bad.d");
    env.write_user_file(
        &bad.join("b.json"),
        br#"{"version": "2.0.0", "hook": {"path": "/bin/true"}, "when": {"always": true}, "stages": ["prestart"]}"#,
    );
    assert_refused(
        &env,
        &["--hooks-dir", bad.to_str().unwrap(), "create", &img, "true"],
        "b.json",
    );
}

both_modes!(network_config_dir_holds_the_network_files);
fn network_config_dir_holds_the_network_files(mode: Mode) {
    let env = TestEnv::new(mode);
    let dir = env.home.join("netconf");
    let d = dir.to_str().unwrap();
    let name = unique("cfgnet");
    env.ok(&["--network-config-dir", d, "network", "create", &name]);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    assert_eq!(file["name"], name.as_str(), "[{mode:?}] {file}");
    let listed = env.ok(&[
        "--network-config-dir",
        d,
        "network",
        "ls",
        "--format",
        "{{.Name}}",
    ]);
    assert!(listed.lines().any(|l| l == name), "[{mode:?}] {listed}");
    let default = env.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        !default.lines().any(|l| l == name),
        "[{mode:?}] not in the store's: {default}"
    );
    env.ok(&["--network-config-dir", d, "network", "rm", &name]);
    assert!(!dir.join(format!("{name}.json")).exists(), "[{mode:?}]");
}

both_modes!(storage_opt_mountopt_reaches_the_overlay);
/// The overlay driver's `mountopt` is in every overlay mount of the store:
/// from storage.conf, replaced by STORAGE_OPTS, replaced by `--storage-opt`
/// (an empty one: none); options coracle would not act on are refused.
fn storage_opt_mountopt_reaches_the_overlay(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    // The root mount's options (mountinfo's sixth field).
    let root_opts = |env: &TestEnv, globals: &[&str]| -> String {
        let mut args: Vec<&str> = globals.to_vec();
        args.extend(["run", "--rm", &img, "sh", "-c"]);
        args.push("awk '$5 == \"/\" {print $6}' /proc/self/mountinfo");
        env.ok(&args).trim().to_string()
    };
    let has_nodev = |opts: &str| opts.split(',').any(|o| o == "nodev");
    let plain = root_opts(&env, &[]);
    assert!(!has_nodev(&plain), "[{mode:?}] default: {plain}");
    let flagged = root_opts(&env, &["--storage-opt", "overlay.mountopt=nodev"]);
    assert!(has_nodev(&flagged), "[{mode:?}] --storage-opt: {flagged}");

    let conf = env.home.join("storage.conf");
    env.write_user_file(&conf, b"[storage.options.overlay]\nmountopt = \"nodev\"\n");
    env.set_env("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap());
    let from_conf = root_opts(&env, &[]);
    assert!(
        has_nodev(&from_conf),
        "[{mode:?}] storage.conf: {from_conf}"
    );
    let cleared = root_opts(&env, &["--storage-opt", ""]);
    assert!(
        !has_nodev(&cleared),
        "[{mode:?}] --storage-opt \"\": {cleared}"
    );
    env.set_env("STORAGE_OPTS", "overlay.mountopt=noatime");
    let from_env = root_opts(&env, &[]);
    assert!(
        !has_nodev(&from_env) && from_env.split(',').any(|o| o == "noatime"),
        "[{mode:?}] STORAGE_OPTS replaces storage.conf: {from_env}"
    );
    env.remove_env("STORAGE_OPTS");
    env.remove_env("CONTAINERS_STORAGE_CONF");

    for (opt, says) in [
        (
            "overlay.mount_program=/usr/bin/fuse-overlayfs",
            "not supported by coracle",
        ),
        ("overlay.nosuchthing=1", "unknown storage driver option"),
        ("mountopt", "expected DRIVER.KEY=VALUE"),
    ] {
        assert_refused(
            &env,
            &["--storage-opt", opt, "run", "--rm", &img, "true"],
            says,
        );
    }
}

/// Sets up a private /dev in the mount namespace `unshare` made (a tmpfs
/// with the host's basic device nodes bound in), starts the syslog
/// listener at /dev/log, runs the command, then ends the listener.
const DEV_LOG_SCRIPT: &str = r#"
set -e
s=$1; shift
mkdir -p "$s/olddev"
mount --rbind /dev "$s/olddev"
mount -t tmpfs -o mode=755 tmpfs /dev
for n in null zero full random urandom tty; do
    touch /dev/$n; mount --bind "$s/olddev/$n" /dev/$n
done
mkdir /dev/pts /dev/shm
mount --rbind "$s/olddev/pts" /dev/pts
mount --rbind "$s/olddev/shm" /dev/shm
ln -s pts/ptmx /dev/ptmx
ln -s /proc/self/fd /dev/fd
/usr/bin/python3 -c "$LISTENER" /dev/log "$s/received" &
i=0
while [ ! -e "$s/received" ]; do
    i=$((i+1)); [ $i -lt 200 ] || exit 99; sleep 0.05
done
set +e
"$@"
rc=$?
/usr/bin/python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"END", "/dev/log")'
wait
exit $rc
"#;

/// A syslog daemon's socket: every datagram, a line in the file, until END.
const LISTENER: &str = r#"
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.settimeout(30)
with open(sys.argv[2], "wb", buffering=0) as f:
    while True:
        d = s.recv(65536)
        if d == b"END":
            break
        f.write(d + b"\n")
"#;

/// `coracle ARGS`, run as the harness runs it (user, environment, store)
/// but in a mount namespace of its own whose /dev has a syslog listener
/// at /dev/log: the outcome and the datagrams from coracle the listener got.
fn with_dev_log(env: &TestEnv, args: &[&str]) -> (Out, Vec<String>) {
    let scratch = env.dir.join(unique("syslog"));
    std::fs::create_dir(&scratch).unwrap();
    let inner = env.coracle_command(args);
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env("LISTENER", LISTENER)
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .args([DEV_LOG_SCRIPT, "sh"])
        .arg(&scratch)
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(&env.dir);
    let out = cmd.output().unwrap();
    let out = Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_ne!(
        out.status, 99,
        "[{:?}] no listener: {}",
        env.mode, out.stderr
    );
    let got = std::fs::read_to_string(scratch.join("received"))
        .unwrap_or_else(|e| panic!("[{:?}] the listener's file: {e}: {}", env.mode, out.stderr));
    // runuser's PAM modules log there too (rootless); coracle's lines only.
    let ours = got.lines().filter(|l| l.contains(" coracle["));
    (out, ours.map(String::from).collect())
}

/// Whether `line` is syslog(3)'s `<PRI>Mmm dd hh:mm:ss coracle[PID]: MSG`.
fn is_syslog_line(line: &str, pri: u8, pid: &str, msg: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("<{pri}>")) else {
        return false;
    };
    let stamp = rest.as_bytes();
    stamp.len() > 15
        && stamp[..3].iter().all(u8::is_ascii_alphabetic)
        && stamp[3] == b' '
        && (stamp[9], stamp[12]) == (b':', b':')
        && rest[15..] == format!(" coracle[{pid}]: {msg}")
}

both_modes!(syslog_gets_coracles_log_lines_and_errors);
fn syslog_gets_coracles_log_lines_and_errors(mode: Mode) {
    let env = TestEnv::new(mode);
    // This host has no /dev/log: --syslog changes nothing.
    let plain = env.run(&["images"]);
    let with = env.run(&["--syslog", "images"]);
    assert_eq!(plain.status, 0, "[{mode:?}] {}", plain.stderr);
    assert_eq!(
        (with.status, &with.stdout, &with.stderr),
        (plain.status, &plain.stdout, &plain.stderr),
        "[{mode:?}] --syslog without /dev/log"
    );

    // With a listener: each debug line, from the process that printed it.
    let (out, got) = with_dev_log(&env, &["--syslog", "--log-level", "debug", "images"]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert!(
        out.stdout.starts_with("REPOSITORY"),
        "[{mode:?}] {}",
        out.stdout
    );
    let msg = "reading podman's config files";
    let pids: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("DEBU") && l.ends_with(&format!("] {msg}")))
        .filter_map(|l| l.split(" pid ").nth(1)?.split(']').next())
        .collect();
    assert!(!pids.is_empty(), "[{mode:?}] {}", out.stderr);
    for pid in pids {
        assert!(
            got.iter().any(|l| is_syslog_line(l, 15, pid, msg)),
            "[{mode:?}] pid {pid}'s {msg:?} at debug (15) in {got:#?}"
        );
    }
    // A failing command's Error line, at err.
    let (out, got) = with_dev_log(&env, &["--syslog", "rm", "no-such-ctr"]);
    assert_ne!(out.status, 0, "[{mode:?}]");
    let error = out.stderr.trim_end();
    assert!(
        error.starts_with("Error: ") && error.contains("no-such-ctr"),
        "[{mode:?}] {error}"
    );
    assert!(
        got.iter()
            .any(|l| l.starts_with("<11>") && l.ends_with(&format!("]: {error}"))),
        "[{mode:?}] {error:?} at err (11) in {got:#?}"
    );
    // Without --syslog, nothing arrives.
    let (out, got) = with_dev_log(&env, &["--log-level", "debug", "rm", "no-such-ctr"]);
    assert_ne!(out.status, 0, "[{mode:?}]");
    assert!(out.stderr.contains(msg), "[{mode:?}] {}", out.stderr);
    assert!(got.is_empty(), "[{mode:?}] without --syslog: {got:#?}");
}

/// The directories under `base` that hold container `id`'s record.
fn record_dirs(base: &Path, id: &str) -> Vec<std::path::PathBuf> {
    walk(base)
        .into_iter()
        .filter(|p| p.ends_with(id) && p.join("config.json").exists())
        .collect()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
            out.push(p);
        }
    }
    out
}

/// Files anywhere under `base` whose path names `id`.
fn files_naming(base: &Path, id: &str) -> Vec<std::path::PathBuf> {
    let mut all = walk(base);
    all.extend(walk(base).iter().flat_map(|d| {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
    }));
    all.into_iter()
        .filter(|p| p.to_string_lossy().contains(id))
        .collect()
}

/// With the transient store, `globals` (the flag, or none with storage.conf
/// saying so) keeps containers and pods under the run root: they work as
/// usual, the default store does not list them, `rm` leaves nothing, and a
/// run root wiped as by a reboot leaves no container while images stay.
fn transient_store_lives_on_the_run_root(env: &TestEnv, globals: &[&str], how: &str) {
    let mode = env.mode;
    let img = env.rt_image();
    let t = |args: &[&str]| -> String {
        let mut all: Vec<&str> = globals.to_vec();
        all.extend_from_slice(args);
        env.ok(&all)
    };
    let info = t(&["info", "--format", "{{.Store.TransientStore}}"]);
    assert_eq!(info.trim(), "true", "[{mode:?}] {how}: info");
    let id = t(&["create", "--name", "tr1", &img, "sleep", "100"])
        .trim()
        .to_string();
    t(&["start", "tr1"]);
    let runroot = env.runroot_dir();
    assert_eq!(
        record_dirs(&runroot, &id).len(),
        1,
        "[{mode:?}] {how}: the record is under the run root"
    );
    assert!(
        record_dirs(&env.store_dir(), &id).is_empty(),
        "[{mode:?}] {how}: and not under the graph root"
    );
    let ps = t(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ps.trim(), "tr1", "[{mode:?}] {how}: ps");
    let state = |env: &TestEnv| {
        let mut all: Vec<&str> = globals.to_vec();
        all.extend(["inspect", "--format", "{{.State.Status}}", "tr1"]);
        env.ok(&all).trim().to_string()
    };
    assert_eq!(state(env), "running", "[{mode:?}] {how}");
    let plain = env.ok(&["ps", "-a", "--transient-store=false", "-q"]);
    assert!(
        !plain.contains(&id[..12]),
        "[{mode:?}] {how}: the persistent store does not list it: {plain}"
    );
    // The image it uses is not removable from the other store.
    env.fails(&["--transient-store=false", "rmi", "-f", &img], 125);
    env.ok(&["--transient-store=false", "image", "prune", "-a", "-f"]);
    assert!(
        !env.image_ids().is_empty(),
        "[{mode:?}] {how}: the image stays"
    );
    t(&["stop", "-t", "0", "tr1"]);
    assert_eq!(state(env), "exited", "[{mode:?}] {how}: stopped");
    t(&["start", "tr1"]);
    let ps = t(&["ps", "--format", "{{.Names}}"]);
    assert!(ps.contains("tr1"), "[{mode:?}] {how}: started again: {ps}");
    t(&["rm", "-f", "tr1"]);
    assert!(
        files_naming(&runroot, &id).is_empty() && files_naming(&env.store_dir(), &id).is_empty(),
        "[{mode:?}] {how}: rm leaves nothing: {:?} {:?}",
        files_naming(&runroot, &id),
        files_naming(&env.store_dir(), &id)
    );

    t(&["pod", "create", "--name", "trpod"]);
    t(&[
        "run", "-d", "--pod", "trpod", "--name", "tr2", &img, "sleep", "100",
    ]);
    let pods = t(&["pod", "ps", "--format", "{{.Name}} {{.Status}}"]);
    assert!(pods.contains("trpod Running"), "[{mode:?}] {how}: {pods}");
    let plain = env.ok(&["--transient-store=false", "pod", "ps", "-q"]);
    assert_eq!(plain.trim(), "", "[{mode:?}] {how}: pod ps");
    t(&["pod", "stop", "-t", "0", "trpod"]);

    // A reboot: the run root is gone.
    std::fs::remove_dir_all(&runroot).unwrap();
    let ps = t(&["ps", "-a", "-q"]);
    assert_eq!(ps.trim(), "", "[{mode:?}] {how}: after a reboot");
    let pods = t(&["pod", "ps", "-q"]);
    assert_eq!(pods.trim(), "", "[{mode:?}] {how}: no pod after a reboot");
    let images = t(&["images", "-q"]);
    assert!(!images.trim().is_empty(), "[{mode:?}] {how}: images stay");
    t(&["run", "--rm", &img, "true"]);
}

both_modes!(transient_store_flag_keeps_containers_on_the_run_root);
fn transient_store_flag_keeps_containers_on_the_run_root(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    transient_store_lives_on_the_run_root(&env, &["--transient-store"], "--transient-store");
}

both_modes!(transient_store_from_storage_conf);
/// storage.conf's `transient_store = true` does as the flag; the flag wins.
fn transient_store_from_storage_conf(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let conf = env.home.join("storage.conf");
    env.write_user_file(&conf, b"[storage]\ntransient_store = true\n");
    env.set_env("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap());
    let _reaper = Reaper(&env);
    let off = env.ok(&[
        "--transient-store=false",
        "info",
        "--format",
        "{{.Store.TransientStore}}",
    ]);
    assert_eq!(off.trim(), "false", "[{mode:?}] the flag wins");
    transient_store_lives_on_the_run_root(&env, &[], "storage.conf");
}
