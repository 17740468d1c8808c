//! `container checkpoint` and `container restore` (CRIU): a counting
//! container stopped and brought back where it was, its log continued;
//! `--leave-running`, `--keep`, `--print-stats`, `--export`/`--import`,
//! `--all`. Rootless: podman's refusal, nothing changed.

mod common;

use common::*;
use std::time::Duration;

const COUNTER: &str =
    "i=0; while true; do i=$((i+1)); echo tick $i; echo $i > /tmp/n; sleep 0.2; done";

fn count(env: &TestEnv, name: &str) -> u64 {
    // the counter rewrites the file: a read may fall between truncate and write
    for _ in 0..50 {
        if let Ok(n) = env.ok(&["exec", name, "cat", "/tmp/n"]).trim().parse() {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no count in {name}'s /tmp/n");
}

fn status(env: &TestEnv, name: &str) -> String {
    env.ok(&["inspect", "--format", "{{.State.Status}}", name])
        .trim()
        .to_string()
}

/// The container's userdata directory in the store.
fn userdata(env: &TestEnv, name: &str) -> std::path::PathBuf {
    let id = env
        .ok(&["inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string();
    env.container_dirs()
        .into_iter()
        .map(|d| d.join("userdata"))
        .find(|d| d.parent().unwrap().ends_with(&id) && d.is_dir())
        .expect("the container's userdata")
}

/// Start the counter and let it count past 3.
fn counter(env: &TestEnv, name: &str) {
    counter_with(env, name, &[]);
}

fn counter_with(env: &TestEnv, name: &str, extra: &[&str]) {
    let img = env.rt_image();
    env.run_detached(name, extra, &img, &["sh", "-c", COUNTER]);
    assert!(
        wait_for(Duration::from_secs(10), || env
            .run(&["exec", name, "cat", "/tmp/n"])
            .stdout
            .trim()
            .parse::<u64>()
            .is_ok_and(|n| n > 3)),
        "the counter never counted"
    );
}

both_modes!(checkpoint_and_restore_continue_the_program);
fn checkpoint_and_restore_continue_the_program(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    if mode == Mode::Rootless {
        let img = env.rt_image();
        env.run_detached("c1", &[], &img, &["sleep", "300"]);
        let out = env.fails(&["container", "checkpoint", "c1"], 125);
        assert_eq!(
            out.stderr.trim(),
            "Error: checkpointing a container requires root",
            "[{mode:?}]"
        );
        assert_eq!(status(&env, "c1"), "running", "[{mode:?}] unchanged");
        let out = env.fails(&["container", "restore", "c1"], 125);
        assert_eq!(
            out.stderr.trim(),
            "Error: restoring a container requires root"
        );
        assert_eq!(status(&env, "c1"), "running", "[{mode:?}] unchanged");
        return;
    }
    counter(&env, "c1");
    env.ok(&["container", "checkpoint", "c1"]);
    assert_eq!(status(&env, "c1"), "exited");
    let state = env.ok(&[
        "inspect",
        "--format",
        "{{.State.Checkpointed}} {{.State.ExitCode}}",
        "c1",
    ]);
    assert_eq!(state.trim(), "true 0", "podman's state after a checkpoint");
    let logs = env.ok(&["logs", "c1"]);
    let before: u64 = logs
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("tick "))
        .unwrap()
        .parse()
        .unwrap();
    // stopped: the log does not grow
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(env.ok(&["logs", "c1"]), logs, "the counter stopped");
    // a checkpoint of an exited container is refused, store unchanged
    let out = env.fails(&["container", "checkpoint", "c1"], 125);
    assert!(
        out.stderr.contains("is not running, cannot checkpoint"),
        "{}",
        out.stderr
    );
    env.ok(&["container", "restore", "c1"]);
    assert_eq!(status(&env, "c1"), "running");
    let state = env.ok(&[
        "inspect",
        "--format",
        "{{.State.Restored}} {{.State.Checkpointed}}",
        "c1",
    ]);
    assert_eq!(state.trim(), "true false");
    let n = count(&env, "c1");
    assert!(n >= before, "went on from {before}, not from 0: {n}");
    assert!(
        wait_for(Duration::from_secs(10), || env
            .ok(&["logs", "c1"])
            .contains(&format!("tick {}", before + 2))),
        "the log continues after the restore:\n{}",
        env.ok(&["logs", "c1"])
    );
    let logs = env.ok(&["logs", "c1"]);
    assert!(
        logs.starts_with("tick 1\n"),
        "both parts in the log:\n{logs}"
    );
    // restoring a running container is refused
    let out = env.fails(&["container", "restore", "c1"], 125);
    assert!(out.stderr.contains("cannot restore"), "{}", out.stderr);
    // without --keep, nothing of the checkpoint stays
    let ud = userdata(&env, "c1");
    assert!(!ud.join("checkpoint").exists() && !ud.join("dump.log").exists());
}

both_modes!(leave_running_keep_and_stats);
fn leave_running_keep_and_stats(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    counter(&env, "c2");
    if mode == Mode::Rootless {
        let out = env.fails(
            &["container", "checkpoint", "--leave-running", "--keep", "c2"],
            125,
        );
        assert_eq!(
            out.stderr.trim(),
            "Error: checkpointing a container requires root"
        );
        assert!(
            !userdata(&env, "c2").join("checkpoint").exists(),
            "nothing written"
        );
        let a = count(&env, "c2");
        assert!(
            wait_for(Duration::from_secs(5), || count(&env, "c2") > a),
            "still counting"
        );
        return;
    }
    let out = env.ok(&[
        "container",
        "checkpoint",
        "--leave-running",
        "--keep",
        "--print-stats",
        "c2",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect(&out);
    assert!(
        doc["podman_checkpoint_duration"].as_i64().unwrap() > 0,
        "{out}"
    );
    let c = &doc["container_statistics"][0];
    assert!(
        c["runtime_checkpoint_duration"].as_i64().unwrap() > 0,
        "{out}"
    );
    for key in [
        "freezing_time",
        "frozen_time",
        "memdump_time",
        "pages_scanned",
        "pages_written",
    ] {
        assert!(
            c["criu_statistics"][key].as_u64().is_some(),
            "{key} in {out}"
        );
    }
    assert_eq!(status(&env, "c2"), "running", "--leave-running");
    let a = count(&env, "c2");
    std::thread::sleep(Duration::from_millis(600));
    assert!(count(&env, "c2") > a, "still counting");
    let ud = userdata(&env, "c2");
    assert!(ud.join("dump.log").is_file(), "--keep keeps criu's log");
    assert!(
        ud.join("checkpoint/inventory.img").is_file(),
        "and the images"
    );
}

both_modes!(export_and_import_as_a_new_container);
fn export_and_import_as_a_new_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    counter_with(&env, "c3", &["-v", "ckdata:/data"]);
    let archive = env.dir.join("c3.tar.zst");
    let archive = archive.to_str().unwrap();
    if mode == Mode::Rootless {
        let out = env.fails(&["container", "checkpoint", "-e", archive, "c3"], 125);
        assert_eq!(
            out.stderr.trim(),
            "Error: checkpointing a container requires root"
        );
        assert!(
            !std::path::Path::new(archive).exists(),
            "no archive written"
        );
        import_refused_rootless(&env, &["-i", archive, "--name", "c3b"]);
        return;
    }
    env.ok(&[
        "exec",
        "c3",
        "sh",
        "-c",
        "echo kept > /data/f; echo changed > /etc/motd",
    ]);
    env.ok(&["container", "checkpoint", "-e", archive, "c3"]);
    let before = env.ok(&["logs", "c3"]).lines().count() as u64;
    // the archive is podman's layout
    let listing = std::process::Command::new("tar")
        .args(["--zstd", "-tf", archive])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    for entry in [
        "checkpoint/inventory.img",
        "config.dump",
        "spec.dump",
        "rootfs-diff.tar",
        "volumes/ckdata.tar",
    ] {
        assert!(
            listing.lines().any(|l| l.trim_start_matches("./") == entry),
            "{entry} in:\n{listing}"
        );
    }
    env.ok(&["rm", "c3"]);
    env.ok(&["volume", "rm", "ckdata"]);
    env.ok(&["container", "restore", "-i", archive, "--name", "c3b"]);
    assert_eq!(status(&env, "c3b"), "running");
    let n = count(&env, "c3b");
    assert!(
        n >= before,
        "the imported container counts on from {before}: {n}"
    );
    assert_eq!(
        env.ok(&["exec", "c3b", "cat", "/data/f", "/etc/motd"]),
        "kept\nchanged\n",
        "volume and root filesystem changes came along"
    );
    // --ignore-volumes and --ignore-rootfs leave them out
    let bare = env.dir.join("bare.tar");
    let bare = bare.to_str().unwrap();
    env.ok(&[
        "container",
        "checkpoint",
        "-e",
        bare,
        "-c",
        "none",
        "--ignore-volumes",
        "--ignore-rootfs",
        "--leave-running",
        "c3b",
    ]);
    let listing = std::process::Command::new("tar")
        .args(["-tf", bare])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(
        listing.contains("config.dump")
            && !listing.contains("rootfs-diff.tar")
            && !listing.contains("volumes/"),
        "{listing}"
    );
    // the name is taken now: a second import is refused, nothing made
    let ids = env.all_container_ids();
    let out = env.fails(
        &["container", "restore", "-i", archive, "--name", "c3b"],
        125,
    );
    assert!(out.stderr.contains("already in use"), "{}", out.stderr);
    assert_eq!(env.all_container_ids(), ids);
}

both_modes!(all_checkpoints_and_restores_every_container);
fn all_checkpoints_and_restores_every_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    counter(&env, "a1");
    counter(&env, "a2");
    if mode == Mode::Rootless {
        env.fails(&["container", "checkpoint", "--all"], 125);
        assert_eq!(status(&env, "a1"), "running");
        assert_eq!(status(&env, "a2"), "running");
        return;
    }
    env.ok(&["container", "checkpoint", "--all"]);
    assert_eq!(status(&env, "a1"), "exited");
    assert_eq!(status(&env, "a2"), "exited");
    env.ok(&["container", "restore", "--all"]);
    assert_eq!(status(&env, "a1"), "running");
    assert_eq!(status(&env, "a2"), "running");
}

both_modes!(a_failing_criu_names_its_log_and_changes_nothing);
fn a_failing_criu_names_its_log_and_changes_nothing(mode: Mode) {
    let mut env = TestEnv::new(mode);
    // a criu wrapper, found first through helper_binaries_dir: it records
    // its arguments, and fails while `fail` exists
    let helpers = env.dir.join("helpers");
    std::fs::create_dir_all(&helpers).unwrap();
    let fake = helpers.join("criu");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {d}/args\n[ -e {d}/fail ] && exit 1\nexec /usr/local/sbin/criu \"$@\"\n",
        d = helpers.display()
    );
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(helpers.join("fail"), "").unwrap();
    let conf = env.home.join("containers.conf");
    env.write_user_file(
        &conf,
        format!(
            "[engine]\nhelper_binaries_dir = [\"{}\"]\n",
            helpers.display()
        )
        .as_bytes(),
    );
    env.set_env("CONTAINERS_CONF", conf.to_str().unwrap());
    let _reaper = Reaper(&env);
    counter(&env, "f1");
    let last_args = || {
        std::fs::read_to_string(helpers.join("args"))
            .unwrap_or_default()
            .lines()
            .last()
            .unwrap_or("")
            .to_string()
    };
    let out = env.fails(
        &[
            "container",
            "checkpoint",
            "--tcp-established",
            "--file-locks",
            "f1",
        ],
        125,
    );
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "[{mode:?}] one line: {line}");
    if mode == Mode::Rootless {
        assert_eq!(line, "Error: checkpointing a container requires root");
        assert!(last_args().is_empty(), "criu never ran");
        assert_eq!(status(&env, "f1"), "running");
        return;
    }
    assert!(
        line.starts_with("Error: criu failed: checkpointing container")
            && line.contains(&fake.display().to_string())
            && line.contains("userdata/dump.log"),
        "names criu and its log: {line}"
    );
    let args = last_args();
    assert!(
        args.starts_with("dump ")
            && args.contains("--tcp-established")
            && args.contains("--file-locks"),
        "the flags reach criu: {args}"
    );
    assert!(
        !userdata(&env, "f1").join("checkpoint").exists(),
        "no images left"
    );
    assert_eq!(status(&env, "f1"), "running", "left running");
    let a = count(&env, "f1");
    assert!(
        wait_for(Duration::from_secs(5), || count(&env, "f1") > a),
        "still counting"
    );

    // a restore criu fails leaves the checkpoint to try again
    std::fs::remove_file(helpers.join("fail")).unwrap();
    env.ok(&["container", "checkpoint", "f1"]);
    std::fs::write(helpers.join("fail"), "").unwrap();
    let out = env.fails(
        &["container", "restore", "--tcp-close", "--file-locks", "f1"],
        125,
    );
    let line = out.stderr.trim();
    assert!(
        line.starts_with("Error: criu failed: restoring container")
            && line.contains("userdata/restore.log"),
        "{line}"
    );
    let args = last_args();
    assert!(
        args.starts_with("restore ")
            && args.contains("--tcp-close")
            && args.contains("--file-locks"),
        "the flags reach criu: {args}"
    );
    let state = env.ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.Checkpointed}}",
        "f1",
    ]);
    assert_eq!(state.trim(), "exited true", "still checkpointed");
    std::fs::remove_file(helpers.join("fail")).unwrap();
    env.ok(&["container", "restore", "--keep", "f1"]);
    assert_eq!(status(&env, "f1"), "running");
    let ud = userdata(&env, "f1");
    assert!(
        ud.join("restore.log").is_file() && ud.join("checkpoint/inventory.img").is_file(),
        "--keep keeps criu's restore log and images"
    );
}

both_modes!(a_restored_container_keeps_its_published_port_and_volume);
fn a_restored_container_keeps_its_published_port_and_volume(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let port = free_port();
    let www = www_dir(&env, "served after restore\n");
    let img = env.rt_image();
    let publish = format!("{port}:80");
    env.run_detached(
        "p1",
        &["-p", &publish, "-v", &www],
        &img,
        &["sh", "-c", COUNTER],
    );
    if mode == Mode::Rootless {
        env.fails(&["container", "checkpoint", "p1"], 125);
        assert_eq!(status(&env, "p1"), "running");
        return;
    }
    env.ok(&["container", "checkpoint", "p1"]);
    env.ok(&["container", "restore", "p1"]);
    // the bound volume is there again, and the port reaches the new
    // network namespace (criu cannot dump a listening TCP socket on every
    // kernel: the server starts after the restore)
    assert_eq!(
        env.ok(&["exec", "p1", "cat", "/www/index.html"]),
        "served after restore\n"
    );
    let mut httpd = vec!["exec", "-d", "p1"];
    httpd.extend_from_slice(HTTPD);
    env.ok(&httpd);
    assert_eq!(http_get(mode, port), "served after restore\n");
}

both_modes!(import_twice_with_new_ports_and_without_the_static_ip);
fn import_twice_with_new_ports_and_without_the_static_ip(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let archive = env.dir.join("n1.tar.zst");
    let archive = archive.to_str().unwrap();
    if mode == Mode::Rootless {
        let out = env.fails(
            &[
                "container",
                "restore",
                "-i",
                archive,
                "-p",
                "8080:80",
                "--ignore-static-ip",
            ],
            125,
        );
        assert_eq!(
            out.stderr.trim(),
            "Error: restoring a container requires root"
        );
        return;
    }
    let net = format!("ck{}", std::process::id());
    env.ok(&["network", "create", "--subnet", "10.89.177.0/24", &net]);
    let network = format!("{net}:ip=10.89.177.50");
    counter_with(&env, "n1", &["--network", &network]);
    env.ok(&[
        "container",
        "checkpoint",
        "-e",
        archive,
        "--leave-running",
        "n1",
    ]);
    // the original still holds its address: a copy asking for it fails,
    // and leaves nothing behind
    let ids = env.all_container_ids();
    let out = env.fails(&["container", "restore", "-i", archive, "-n", "n2"], 125);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert_eq!(env.all_container_ids(), ids, "no container made");
    let port = free_port();
    let publish = format!("{port}:80");
    env.ok(&[
        "container",
        "restore",
        "-i",
        archive,
        "-n",
        "n2",
        "--ignore-static-ip",
        "-p",
        &publish,
    ]);
    assert_eq!(status(&env, "n2"), "running");
    let ip = env.ok(&[
        "inspect",
        "--format",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        "n2",
    ]);
    assert!(
        ip.trim().starts_with("10.89.177.") && ip.trim() != "10.89.177.50",
        "{ip}"
    );
    let www = env.ok(&[
        "exec",
        "n2",
        "sh",
        "-c",
        "mkdir -p /www && echo copy > /www/index.html",
    ]);
    assert!(www.is_empty());
    let mut httpd = vec!["exec", "-d", "n2"];
    httpd.extend_from_slice(HTTPD);
    env.ok(&httpd);
    assert_eq!(http_get(mode, port), "copy\n");
    env.ok(&["rm", "-f", "n1", "n2"]);
    env.ok(&["network", "rm", &net]);
}

both_modes!(create_image_then_restore_from_it);
fn create_image_then_restore_from_it(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    counter(&env, "m1");
    if mode == Mode::Rootless {
        env.fails(
            &["container", "checkpoint", "--create-image", "m1-ckpt", "m1"],
            125,
        );
        assert!(
            env.run(&["image", "exists", "m1-ckpt"]).status != 0,
            "no image made"
        );
        assert_eq!(status(&env, "m1"), "running");
        return;
    }
    env.ok(&["container", "checkpoint", "--create-image", "m1-ckpt", "m1"]);
    let before = count_exited(&env, "m1");
    let name = env.ok(&[
        "image",
        "inspect",
        "--format",
        "{{index .Annotations \"io.podman.annotations.checkpoint.name\"}}",
        "m1-ckpt",
    ]);
    assert_eq!(name.trim(), "m1", "podman's checkpoint annotation");
    env.ok(&["rm", "m1"]);
    env.ok(&["container", "restore", "m1-ckpt"]);
    assert_eq!(status(&env, "m1"), "running", "named as the original");
    let n = count(&env, "m1");
    assert!(n >= before, "counts on from {before}: {n}");
}

/// The last count an exited counter logged.
fn count_exited(env: &TestEnv, name: &str) -> u64 {
    env.ok(&["logs", name])
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("tick "))
        .unwrap()
        .parse()
        .unwrap()
}

/// `container restore ARGS` rootless: podman's refusal, no container made.
fn import_refused_rootless(env: &TestEnv, args: &[&str]) {
    let ids = env.all_container_ids();
    let out = env.fails(&[&["container", "restore"], args].concat(), 125);
    assert_eq!(
        out.stderr.trim(),
        "Error: restoring a container requires root"
    );
    assert_eq!(env.all_container_ids(), ids, "no container made");
}

/// The namespace `ns` of container `name`'s first process.
fn ns_of(env: &TestEnv, name: &str, ns: &str) -> String {
    let pid = env.ok(&["inspect", "--format", "{{.State.Pid}}", name]);
    std::fs::read_link(format!("/proc/{}/ns/{ns}", pid.trim()))
        .unwrap()
        .display()
        .to_string()
}

fn pod_json_id(env: &TestEnv, pod: &str) -> String {
    env.ok(&["pod", "inspect", "--format", "{{.Id}}", pod])
        .trim()
        .to_string()
}

fn infra_of(env: &TestEnv, pod: &str) -> String {
    env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", pod])
        .trim()
        .to_string()
}

both_modes!(pod_members_are_checkpointed_and_restored_into_a_pod);
/// A pod member is checkpointed with its infra's namespaces left out and
/// restored into them again; exported, it goes into another pod with
/// `restore --pod` (one sharing the same namespaces), as podman's.
fn pod_members_are_checkpointed_and_restored_into_a_pod(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = StoreReaper(&env);
    env.ok(&["pod", "create", "--name", "cp1"]);
    let archive = env.dir.join("member.tar.gz");
    let archive = archive.to_str().unwrap();
    if mode == Mode::Rootless {
        let img = env.rt_image();
        env.run_detached("pm", &["--pod", "cp1"], &img, &["sleep", "300"]);
        let out = env.fails(&["container", "checkpoint", "pm"], 125);
        assert_eq!(
            out.stderr.trim(),
            "Error: checkpointing a container requires root"
        );
        assert_eq!(status(&env, "pm"), "running", "[{mode:?}] unchanged");
        import_refused_rootless(&env, &["-i", archive, "--pod", "cp1"]);
        return;
    }
    counter_with(&env, "pm", &["--pod", "cp1"]);
    env.ok(&["container", "checkpoint", "pm"]);
    assert_eq!(status(&env, "pm"), "exited");
    assert_eq!(
        status(&env, &infra_of(&env, "cp1")),
        "running",
        "the pod goes on"
    );
    env.ok(&["container", "restore", "pm"]);
    let before = count(&env, "pm");
    assert!(before > 3, "went on from where it was: {before}");
    for ns in ["net", "ipc", "uts"] {
        assert_eq!(
            ns_of(&env, "pm", ns),
            ns_of(&env, &infra_of(&env, "cp1"), ns),
            "restored into the pod's {ns} namespace"
        );
    }
    assert_ne!(
        ns_of(&env, "pm", "pid"),
        ns_of(&env, &infra_of(&env, "cp1"), "pid")
    );

    // Exported: it needs a pod to go into, one sharing what it shared.
    env.ok(&["container", "checkpoint", "-e", archive, "pm"]);
    let refused = |args: &[&str], says: &str| {
        let ids = env.all_container_ids();
        let out = env.fails(args, 125);
        assert_eq!(out.stderr.trim(), format!("Error: {says}"), "{args:?}");
        assert_eq!(env.all_container_ids(), ids, "{args:?}: no container made");
    };
    let restore = ["container", "restore", "-i", archive, "--name", "pm2"];
    refused(&restore, "cannot restore pod container without --pod");
    let no_uts = env
        .ok(&["pod", "create", "--name", "cp2", "--share", "net,ipc"])
        .trim()
        .to_string();
    refused(
        &[&restore[..], &["--pod", "cp2"]].concat(),
        &format!("pod {no_uts} does not share the UTS namespace"),
    );
    refused(
        &["container", "restore", "--pod", "cp2", "pm"],
        "--pod can only be used with image or --import",
    );
    let cp3 = env
        .ok(&["pod", "create", "--name", "cp3"])
        .trim()
        .to_string();
    env.ok(&[&restore[..], &["--pod", "cp3"]].concat());
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.Pod}} {{.State.Status}}", "pm2"])
            .trim(),
        format!("{cp3} running"),
        "the pod was started for it"
    );
    let n = count(&env, "pm2");
    assert!(n >= before, "went on from {before}: {n}");
    for ns in ["net", "ipc", "uts"] {
        assert_eq!(
            ns_of(&env, "pm2", ns),
            ns_of(&env, &infra_of(&env, "cp3"), ns),
            "in the new pod's {ns} namespace"
        );
    }
    // A checkpoint image of a member, restored into a pod as --import.
    env.ok(&[
        "container",
        "checkpoint",
        "--create-image",
        "pm-ckpt",
        "pm2",
    ]);
    env.ok(&[
        "container",
        "restore",
        "--pod",
        "cp1",
        "--name",
        "pm3",
        "pm-ckpt",
    ]);
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.Pod}} {{.State.Status}}", "pm3"])
            .trim(),
        format!("{} running", pod_json_id(&env, "cp1")),
    );
    assert!(count(&env, "pm3") >= n, "went on from {n}");

    // A container outside any pod does not go into one.
    let img = env.rt_image();
    env.run_detached("solo", &[], &img, &["sleep", "300"]);
    let solo = env.dir.join("solo.tar");
    env.ok(&[
        "container",
        "checkpoint",
        "-e",
        solo.to_str().unwrap(),
        "solo",
    ]);
    let ids = env.all_container_ids();
    let out = env.fails(
        &[
            "container",
            "restore",
            "-i",
            solo.to_str().unwrap(),
            "--name",
            "solo2",
            "--pod",
            "cp3",
        ],
        125,
    );
    assert_eq!(
        out.stderr.trim(),
        "Error: cannot restore non pod container into pod"
    );
    assert_eq!(env.all_container_ids(), ids, "no container made");

    // A member sharing its infra's pid namespace is not checkpointed.
    env.ok(&[
        "pod",
        "create",
        "--name",
        "cp4",
        "--share",
        "net,ipc,uts,pid",
    ]);
    env.run_detached("pidshare", &["--pod", "cp4"], &img, &["sleep", "300"]);
    let out = env.fails(&["container", "checkpoint", "pidshare"], 125);
    assert_eq!(
        out.stderr.trim(),
        "Error: cannot checkpoint container pidshare: it joins another container's pid namespace"
    );
    assert_eq!(status(&env, "pidshare"), "running");
}
