//! podman's config files, written in podman's formats and found where
//! podman finds them: containers.conf (CONTAINERS_CONF, the user's file,
//! drop-ins, CONTAINERS_CONF_OVERRIDE) and its defaults in containers,
//! storage.conf (CONTAINERS_STORAGE_CONF), policy.json, and the one-line
//! error for a malformed file. As root and rootless.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

/// Write `text` as a containers.conf in the test's home and point
/// CONTAINERS_CONF at it.
fn use_conf(env: &mut TestEnv, name: &str, text: &str) -> PathBuf {
    let path = env.home.join(name);
    env.write_user_file(&path, text.as_bytes());
    env.set_env("CONTAINERS_CONF", path.to_str().unwrap());
    path
}

fn default_caps(env: &TestEnv) -> String {
    env.ok(&["info", "--format", "{{.Host.Security.DefaultCapabilities}}"])
        .trim()
        .to_string()
}

both_modes!(containers_conf_sets_container_defaults);
fn containers_conf_sets_container_defaults(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let hostdir = env.home.join("shared");
    env.write_user_file(&hostdir.join("note"), b"from the host\n");
    use_conf(
        &mut env,
        "containers.conf",
        &format!(
            r#"
[containers]
env = ["CONF_A=conf", "CONF_B=conf"]
default_ulimits = ["nofile=1234:1234"]
default_capabilities = ["CHOWN", "CAP_KILL"]
dns_servers = ["192.0.2.53"]
dns_searches = ["conf.example"]
volumes = ["{}:/confvol:ro"]

[engine]
stop_timeout = 42
"#,
            hostdir.display()
        ),
    );
    let _reaper = Reaper(&env);
    let out = env.ok(&[
        "run", "--rm", "-e", "CONF_B=flag", &img, "sh", "-c",
        "echo $CONF_A $CONF_B; ulimit -n; grep CapEff /proc/self/status; cat /confvol/note; cat /etc/resolv.conf",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "conf flag",
        "[{mode:?}] conf env, the flag wins: {out}"
    );
    assert_eq!(lines[1], "1234", "[{mode:?}] default_ulimits: {out}");
    // CAP_CHOWN (0) and CAP_KILL (5)
    assert_eq!(
        lines[2], "CapEff:\t0000000000000021",
        "[{mode:?}] default_capabilities: {out}"
    );
    assert_eq!(lines[3], "from the host", "[{mode:?}] volumes: {out}");
    assert!(
        out.contains("nameserver 192.0.2.53"),
        "[{mode:?}] dns_servers: {out}"
    );
    assert!(
        out.contains("search conf.example"),
        "[{mode:?}] dns_searches: {out}"
    );
    // A flag still wins over each default.
    let out = env.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=999:999",
        "--dns",
        "192.0.2.1",
        &img,
        "sh",
        "-c",
        "ulimit -n; cat /etc/resolv.conf",
    ]);
    assert!(out.starts_with("999\n"), "[{mode:?}] {out}");
    assert!(
        out.contains("nameserver 192.0.2.1") && !out.contains("192.0.2.53"),
        "[{mode:?}] {out}"
    );
    env.ok(&["create", "--name", "st", &img, "true"]);
    let t = env.ok(&["inspect", "--format", "{{.Config.StopTimeout}}", "st"]);
    assert_eq!(t.trim(), "42", "[{mode:?}] engine.stop_timeout");
    env.ok(&[
        "create",
        "--name",
        "st2",
        "--stop-timeout",
        "3",
        &img,
        "true",
    ]);
    let t = env.ok(&["inspect", "--format", "{{.Config.StopTimeout}}", "st2"]);
    assert_eq!(t.trim(), "3", "[{mode:?}] the flag wins");
}

both_modes!(containers_conf_read_only_init_and_seccomp_profile);
fn containers_conf_read_only_init_and_seccomp_profile(mode: Mode) {
    // Only --rm containers: nothing for a reaper.
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let profile = env.home.join("seccomp.json");
    env.write_user_file(
        &profile,
        br#"{
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        }"#,
    );
    use_conf(
        &mut env,
        "containers.conf",
        "[containers]\nread_only = true\ninit = true\n",
    );
    let out = env.run(&["run", "--rm", &img, "touch", "/newfile"]);
    assert_ne!(out.status, 0, "[{mode:?}] read_only: {out:?}");
    assert!(
        out.stderr.contains("Read-only file system"),
        "[{mode:?}] {}",
        out.stderr
    );
    let out = env.ok(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    assert!(
        !out.starts_with("sh "),
        "[{mode:?}] init: pid 1 is the init, not sh: {out}"
    );
    env.remove_env("CONTAINERS_CONF");
    use_conf(
        &mut env,
        "seccomp.conf",
        &format!(
            "[containers]\nseccomp_profile = \"{}\"\n",
            profile.display()
        ),
    );
    let out = env.run(&["run", "--rm", &img, "mkdir", "/tmp/x"]);
    assert!(
        out.stderr.contains("Operation not permitted"),
        "[{mode:?}] seccomp_profile: {out:?}"
    );
    // --security-opt seccomp= wins over the configured profile.
    env.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        &img,
        "mkdir",
        "/tmp/x",
    ]);
}

both_modes!(containers_conf_search_order_drop_ins_and_overrides);
fn containers_conf_search_order_drop_ins_and_overrides(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let user = env.home.join(".config/containers");
    // The user's file is the main file (it hides /usr/share's).
    env.write_user_file(
        &user.join("containers.conf"),
        b"[containers]\ndefault_capabilities = [\"CHOWN\"]\n",
    );
    assert_eq!(default_caps(&env), "CAP_CHOWN", "[{mode:?}] user file");
    // Drop-ins come after it, in name order.
    env.write_user_file(
        &user.join("containers.conf.d/20-b.conf"),
        b"[containers]\ndefault_capabilities = [\"SETUID\"]\n",
    );
    env.write_user_file(
        &user.join("containers.conf.d/10-a.conf"),
        b"[containers]\ndefault_capabilities = [\"KILL\"]\n[engine]\nevents_logger = \"none\"\n",
    );
    assert_eq!(
        default_caps(&env),
        "CAP_SETUID",
        "[{mode:?}] the last drop-in wins"
    );
    let logger = env.ok(&["info", "--format", "{{.Host.EventLogger}}"]);
    assert_eq!(logger.trim(), "none", "[{mode:?}] keys merge across files");
    // CONTAINERS_CONF alone: no user file, no drop-ins.
    use_conf(
        &mut env,
        "only.conf",
        "[containers]\ndefault_capabilities = [\"FOWNER\"]\n",
    );
    assert_eq!(
        default_caps(&env),
        "CAP_FOWNER",
        "[{mode:?}] CONTAINERS_CONF"
    );
    let logger = env.ok(&["info", "--format", "{{.Host.EventLogger}}"]);
    assert_eq!(
        logger.trim(),
        "file",
        "[{mode:?}] drop-ins ignored under CONTAINERS_CONF"
    );
    // CONTAINERS_CONF_OVERRIDE is read last.
    let over = env.home.join("override.conf");
    env.write_user_file(
        &over,
        b"[containers]\ndefault_capabilities = [\"NET_RAW\"]\n",
    );
    env.set_env("CONTAINERS_CONF_OVERRIDE", over.to_str().unwrap());
    assert_eq!(default_caps(&env), "CAP_NET_RAW", "[{mode:?}] override");
    env.set_env("CONTAINERS_CONF_OVERRIDE", "/nonexistent/override.conf");
    let out = env.run(&["ps"]);
    assert_error(
        mode,
        "a missing override",
        &out,
        125,
        &["/nonexistent/override.conf"],
    );
}

both_modes!(malformed_config_files_are_one_error_naming_them);
fn malformed_config_files_are_one_error_naming_them(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    env.ok(&["create", "--name", "kept", &img, "true"]);
    let before = (env.all_container_ids(), env.image_ids());
    let cases: [(&str, &str, &[&str]); 5] = [
        ("CONTAINERS_CONF", "[containers\nenv = 1\n", &["line 1"]),
        (
            "CONTAINERS_CONF",
            "[containers]\nenv = 5\n",
            &["invalid type"],
        ),
        (
            "CONTAINERS_CONF",
            "[engine]\nevents_logger = \"syslog\"\n",
            &["events_logger"],
        ),
        (
            "CONTAINERS_STORAGE_CONF",
            "[storage]\ndriver = \"btrfs\"\n",
            &["btrfs"],
        ),
        ("CONTAINERS_STORAGE_CONF", "[storage\n", &["line 1"]),
    ];
    for (i, (var, text, needles)) in cases.iter().enumerate() {
        let path = env.home.join(format!("bad-{i}.conf"));
        env.write_user_file(&path, text.as_bytes());
        env.set_env(var, path.to_str().unwrap());
        let mut all = needles.to_vec();
        let shown = path.to_str().unwrap().to_string();
        if !text.contains("syslog") {
            all.push(&shown);
        }
        for args in [&["ps", "-a"][..], &["run", "--rm", &img, "true"]] {
            let out = env.run(args);
            assert_error(mode, &format!("{var} {text:?}: {args:?}"), &out, 125, &all);
        }
        env.remove_env(var);
    }
    assert_eq!(
        (env.all_container_ids(), env.image_ids()),
        before,
        "[{mode:?}] store unchanged"
    );
}

both_modes!(storage_conf_places_the_store);
fn storage_conf_places_the_store(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let graph = env.home.join("graph");
    let run = env.home.join("runroot");
    let conf = env.home.join("storage.conf");
    env.write_user_file(
        &conf,
        format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n\n[storage.options.overlay]\nmountopt = \"nodev\"\n",
            graph.display(),
            run.display()
        )
        .as_bytes(),
    );
    env.set_env("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap());
    let bin = coracle_bin();
    let bin = bin.to_str().unwrap();
    // No --root/--runroot: the file decides.
    let info = env.run_program(bin, &["info", "--format", "json"]);
    assert_eq!(info.status, 0, "[{mode:?}] {info:?}");
    let info: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(
        info["store"]["graphRoot"],
        graph.to_str().unwrap(),
        "[{mode:?}]"
    );
    assert_eq!(
        info["store"]["runRoot"],
        run.to_str().unwrap(),
        "[{mode:?}]"
    );
    assert_eq!(
        info["store"]["configFile"],
        conf.to_str().unwrap(),
        "[{mode:?}]"
    );
    assert_eq!(
        info["store"]["graphOptions"]["overlay"]["mountopt"], "nodev",
        "[{mode:?}]"
    );
    let r = rt().reference();
    let out = env.run_program(bin, &["pull", "-q", &r]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        graph
            .join("blobs/sha256")
            .read_dir()
            .unwrap()
            .next()
            .is_some(),
        "[{mode:?}] blobs in graphroot"
    );
    let ids = env.run_program(bin, &["images", "-q"]);
    assert_eq!(ids.stdout.trim().len(), 12, "[{mode:?}] {ids:?}");
    if mode == Mode::Root {
        // --root wins over the file (the harness passes it as root).
        assert!(
            env.image_ids().is_empty(),
            "[{mode:?}] --root is another store"
        );
    }
    env.remove_env("CONTAINERS_STORAGE_CONF");
    assert!(
        env.image_ids().is_empty(),
        "[{mode:?}] the default store is another"
    );
}

both_modes!(policy_json_refuses_what_it_rejects);
fn policy_json_refuses_what_it_rejects(mode: Mode) {
    let env = TestEnv::new(mode);
    let p = push_unique(busybox_image(), "policy");
    let policy = env.home.join(".config/containers/policy.json");
    let write = |default: &str, scoped: &str| {
        env.write_user_file(
            &policy,
            format!(
                r#"{{"default": [{{"type": "{default}"}}], "transports": {{"docker": {{"{}": [{scoped}]}}}}}}"#,
                p.name()
            )
            .as_bytes(),
        );
    };
    write("reject", r#"{"type": "reject"}"#);
    assert_refused(&env, &["pull", &p.reference()], "rejected by policy");
    write(
        "reject",
        r#"{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}"#,
    );
    assert_refused(
        &env,
        &["pull", &p.reference()],
        "reading signedBy key /k.gpg",
    );
    write("reject", r#"{"type": "insecureAcceptAnything"}"#);
    let id = env.pull(&p.reference());
    assert_eq!(id, p.id(), "[{mode:?}] the repository's own scope accepts");
    env.write_user_file(&policy, b"{\"default\": [");
    assert_refused(&env, &["pull", &p.reference()], policy.to_str().unwrap());
}

both_modes!(helper_binaries_dir_is_searched_first);
fn helper_binaries_dir_is_searched_first(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let helpers = env.home.join("helpers");
    let marks = env.home.join("marks");
    env.write_user_file(&marks.join(".keep"), b"");
    for name in ["pasta", "slirp4netns"] {
        let script = helpers.join(name);
        env.write_user_file(
            &script,
            format!(
                "#!/bin/sh\ntouch {}/{name}\nexec /usr/bin/{name} \"$@\"\n",
                marks.display()
            )
            .as_bytes(),
        );
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    use_conf(
        &mut env,
        "containers.conf",
        &format!(
            "[engine]\nhelper_binaries_dir = [\"{}\"]\n",
            helpers.display()
        ),
    );
    assert_eq!(
        env.ok(&["run", "--rm", &img, "echo", "ok"]),
        "ok\n",
        "[{mode:?}]"
    );
    let used: Vec<String> = std::fs::read_dir(&marks)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".keep")
        .collect();
    assert_eq!(
        used.len(),
        1,
        "[{mode:?}] the network helper ran from helper_binaries_dir: {used:?}"
    );
}

both_modes!(containers_conf_userns_and_pids_limit);
fn containers_conf_userns_and_pids_limit(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let map = ["run", "--rm", &img, "cat", "/proc/self/uid_map"];
    let default = env.ok(&map);
    env.ok(&["create", "--name", "p0", &img, "true"]);
    let pids_default = env.ok(&["inspect", "--format", "{{.HostConfig.PidsLimit}}", "p0"]);
    // A value the flag refuses is refused from the file too; the flag wins.
    use_conf(
        &mut env,
        "bad.conf",
        "[containers]\nuserns = \"sideways\"\n",
    );
    let out = env.run(&map);
    assert_error(
        mode,
        "userns = sideways",
        &out,
        125,
        &["userns", "sideways"],
    );
    let host = env.ok(&[
        "run",
        "--rm",
        "--userns",
        "host",
        &img,
        "cat",
        "/proc/self/uid_map",
    ]);
    assert_eq!(host, default, "[{mode:?}] --userns wins over the file");
    env.remove_env("CONTAINERS_CONF");
    // keep-id is rootless only (root refuses it, from a flag or the file).
    let userns = match mode {
        Mode::Rootless => "userns = \"keep-id\"\n",
        Mode::Root => "",
    };
    use_conf(
        &mut env,
        "containers.conf",
        &format!("[containers]\n{userns}pids_limit = 77\n"),
    );
    if mode == Mode::Rootless {
        let flag = env.ok(&[
            "run",
            "--rm",
            "--userns",
            "keep-id",
            &img,
            "cat",
            "/proc/self/uid_map",
        ]);
        assert_ne!(flag, default, "[{mode:?}] keep-id maps the user");
        assert_eq!(env.ok(&map), flag, "[{mode:?}] containers.conf userns");
    }
    env.ok(&["create", "--name", "p1", &img, "true"]);
    let pids = env.ok(&["inspect", "--format", "{{.HostConfig.PidsLimit}}", "p1"]);
    match mode {
        // The pids controller: the configured default replaces 2048, a
        // flag replaces both.
        Mode::Root => {
            assert_eq!(pids_default.trim(), "2048", "[{mode:?}]");
            assert_eq!(pids.trim(), "77", "[{mode:?}]");
            env.ok(&["create", "--name", "p2", "--pids-limit", "5", &img, "true"]);
            let pids = env.ok(&["inspect", "--format", "{{.HostConfig.PidsLimit}}", "p2"]);
            assert_eq!(pids.trim(), "5", "[{mode:?}] the flag wins");
        }
        // No pids controller for this user: no limit either way, and no
        // error for a default the host cannot apply.
        Mode::Rootless => assert_eq!(pids.trim(), pids_default.trim(), "[{mode:?}]"),
    }
}
