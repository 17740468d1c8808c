//! commit, diff, export and import as a user sees them, root and rootless.

mod common;

use common::oci::TarBuilder;
use common::*;
use std::path::Path;

fn tar_names(path: &Path) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let mut a = tar::Archive::new(&data[..]);
    a.entries()
        .unwrap()
        .map(|e| {
            String::from_utf8_lossy(&e.unwrap().path_bytes())
                .trim_end_matches('/')
                .to_string()
        })
        .collect()
}

both_modes!(commit_round_trip_with_changes_and_diff);
fn commit_round_trip_with_changes_and_diff(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.run_kept(
        "c1",
        &[],
        &img,
        "echo hi > /etc/new && rm /etc/group && mkdir -p /d/e && echo x > /d/e/f",
    );

    let diff = env.ok(&["diff", "c1"]);
    for line in [
        "C /etc",
        "A /etc/new",
        "D /etc/group",
        "A /d",
        "A /d/e",
        "A /d/e/f",
    ] {
        assert!(
            diff.lines().any(|l| l == line),
            "[{mode:?}] diff lacks {line:?}:\n{diff}"
        );
    }
    let mut sorted: Vec<&str> = diff.lines().map(|l| &l[2..]).collect();
    sorted.sort();
    assert_eq!(
        diff.lines().map(|l| &l[2..]).collect::<Vec<_>>(),
        sorted,
        "[{mode:?}] sorted"
    );
    assert_eq!(env.ok(&["container", "diff", "c1"]), diff);
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["diff", "--format", "json", "c1"])).unwrap();
    assert!(
        json["added"]
            .as_array()
            .unwrap()
            .contains(&"/etc/new".into()),
        "{json}"
    );
    assert!(
        json["deleted"]
            .as_array()
            .unwrap()
            .contains(&"/etc/group".into()),
        "{json}"
    );
    assert!(
        json["changed"].as_array().unwrap().contains(&"/etc".into()),
        "{json}"
    );

    let out = env.ok(&[
        "commit",
        "-q",
        "-a",
        "me",
        "-m",
        "why",
        "-c",
        r#"CMD ["cat", "/etc/new"]"#,
        "-c",
        "ENV COMMITTED=yes",
        "c1",
        "app:2",
    ]);
    let id = out.trim();
    assert!(
        is_hex(id, 64),
        "[{mode:?}] commit -q prints only the id: {out:?}"
    );
    assert!(env.image_names().contains(&"localhost/app:2".to_string()));
    // The committed image runs with the changes.
    assert_eq!(
        env.ok(&["run", "--rm", "-e", &mark, "app:2"]),
        "hi\n",
        "[{mode:?}]"
    );
    let etc = env.ok(&["run", "--rm", "-e", &mark, "app:2", "ls", "/etc"]);
    assert!(
        !etc.lines().any(|l| l == "group"),
        "[{mode:?}] deleted file back: {etc}"
    );
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "-e",
            &mark,
            "app:2",
            "sh",
            "-c",
            "echo $COMMITTED; cat /d/e/f"
        ]),
        "yes\nx\n"
    );
    let hist = env.ok(&["history", "--format", "json", "app:2"]);
    assert!(hist.contains("why"), "[{mode:?}] history comment: {hist}");
    let layers = env.inspect("app:2")["RootFS"]["Layers"]
        .as_array()
        .map(|a| a.len());
    let base = env.inspect(&img)["RootFS"]["Layers"]
        .as_array()
        .map(|a| a.len());
    if let (Some(l), Some(b)) = (layers, base) {
        assert_eq!(l, b + 1, "[{mode:?}] one new layer");
    }

    // Without -q: progress on stderr, the id last on stdout.
    let out = env.run(&["commit", "c1"]);
    assert_eq!(out.status, 0, "{out:?}");
    assert!(is_hex(out.stdout.trim(), 64), "{out:?}");
    assert!(out.stderr.contains("Writing manifest"), "{out:?}");

    // A running container commits too.
    env.run_detached("live", &[], &img, &["sleep", "1000"]);
    env.ok(&["exec", "live", "sh", "-c", "echo live > /live"]);
    env.ok(&["commit", "-q", "--pause=false", "live", "live:1"]);
    assert_eq!(
        env.ok(&["run", "--rm", "-e", &mark, "live:1", "cat", "/live"]),
        "live\n"
    );
    env.ok(&["rm", "-f", "-t", "0", "live"]);

    // Bad input: one line, exit 125.
    let out = env.run(&["commit", "-c", "RUN rm -rf /", "c1", "bad:1"]);
    assert_error(mode, "commit -c RUN", &out, 125, &["not a valid change"]);
    let out = env.run(&["commit", "nosuch", "x:1"]);
    assert_error(mode, "commit nosuch", &out, 125, &["no such container"]);
}

both_modes!(export_lists_the_merged_files);
fn export_lists_the_merged_files(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    env.run_kept(
        "c1",
        &[],
        &img,
        "echo hi > /etc/new && rm /etc/group && /bin/busybox chown 1000:1000 /etc/new",
    );
    let file = env.home.join("out.tar");
    env.ok(&["export", "-o", file.to_str().unwrap(), "c1"]);
    let names = tar_names(&file);
    assert!(
        names.contains(&"etc/new".to_string()),
        "[{mode:?}] {names:?}"
    );
    assert!(
        names.contains(&"etc/passwd".to_string()),
        "[{mode:?}] {names:?}"
    );
    assert!(
        names.contains(&"bin/busybox".to_string()),
        "[{mode:?}] {names:?}"
    );
    assert!(
        !names.contains(&"etc/group".to_string()),
        "[{mode:?}] deleted file exported"
    );
    assert!(
        !names.iter().any(|n| n.contains(".wh.")),
        "[{mode:?}] whiteouts exported"
    );
    // Container-side owners.
    let data = std::fs::read(&file).unwrap();
    let mut a = tar::Archive::new(&data[..]);
    let owner = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| &*e.path_bytes() == b"etc/new")
        .map(|e| (e.header().uid().unwrap(), e.header().gid().unwrap()));
    assert_eq!(owner, Some((1000, 1000)), "[{mode:?}]");
    // stdout works too when redirected (here: a pipe).
    let out = env.run(&["container", "export", "c1"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.len() > 1024);
}

both_modes!(import_a_rootfs_tarball_and_run_it);
fn import_a_rootfs_tarball_and_run_it(mode: Mode) {
    let env = TestEnv::new(mode);
    let mark = env.mark();
    let file = env.dir.join("rootfs.tar");
    env.write_user_file(&file, busybox_tar());
    let out = env.ok(&[
        "import",
        "-c",
        r#"CMD ["echo", "imported"]"#,
        "-m",
        "from a tarball",
        file.to_str().unwrap(),
        "base:1",
    ]);
    let id = out.lines().last().unwrap().trim().to_string();
    assert!(is_hex(&id, 64), "[{mode:?}] {out:?}");
    assert!(env.image_names().contains(&"localhost/base:1".to_string()));
    assert_eq!(
        env.ok(&["run", "--rm", "-e", &mark, "base:1"]),
        "imported\n"
    );
    assert_eq!(
        env.ok(&["run", "--rm", "-e", &mark, "base:1", "id", "-u"]),
        "0\n"
    );

    // From stdin, gzip-compressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, busybox_tar()).unwrap();
    let gz = gz.finish().unwrap();
    let out = env.run_stdin(&["image", "import", "-q", "-", "base:2"], &gz);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    // Same tar, same layer: same diff id, so the two share it.
    assert_eq!(
        env.inspect("base:1")["RootFS"]["Layers"],
        env.inspect("base:2")["RootFS"]["Layers"]
    );
    assert_eq!(
        env.ok(&["run", "--rm", "-e", &mark, "base:2", "echo", "ok"]),
        "ok\n"
    );

    let out = env.run(&["import", "/nonexistent.tar"]);
    assert_error(mode, "import missing", &out, 125, &["/nonexistent.tar"]);
}

both_modes!(hostile_import_writes_nothing_outside);
fn hostile_import_writes_nothing_outside(mode: Mode) {
    let env = TestEnv::new(mode);
    let marker = pwned_marker("import");
    let mut t = TarBuilder::new();
    t.file("ok.txt", b"fine\n", 0o644, 0, 0);
    t.raw(
        tar::EntryType::Regular,
        &format!("../../../../../../../..{}", marker.display()),
        None,
        b"pwned\n",
    );
    let file = env.dir.join("evil.tar");
    env.write_user_file(&file, &t.finish());
    let before = env.image_ids();
    let out = env.run(&["import", file.to_str().unwrap(), "evil:1"]);
    assert_error(mode, "hostile import", &out, 125, &[]);
    assert!(!marker.exists(), "[{mode:?}] {} written", marker.display());
    assert_eq!(env.image_ids(), before, "[{mode:?}] nothing registered");

    // A symlink then a write through it.
    let marker = pwned_marker("import-link");
    let mut t = TarBuilder::new();
    t.symlink("evil", "/tmp");
    let name = format!("evil/{}", marker.file_name().unwrap().to_string_lossy());
    t.raw(tar::EntryType::Regular, &name, None, b"pwned\n");
    env.write_user_file(&file, &t.finish());
    let out = env.run(&["import", file.to_str().unwrap(), "evil:2"]);
    assert_no_panic(mode, &["import"], &out);
    assert!(!marker.exists(), "[{mode:?}] {} written", marker.display());
}

both_modes!(commit_squash_volumes_and_pause);
/// `--squash` makes one layer of the whole tree (deletions applied),
/// `--include-volumes` turns every user mount into a VOLUME (anonymous
/// volumes only without it), `--pause` freezes a running container while
/// its image is made and thaws it after.
fn commit_squash_volumes_and_pause(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let host_dir = env.user_dir("bind");
    let bind = format!("{}:/bound", host_dir.display());
    env.run_kept(
        "sq",
        &["-v", "named:/named", "-v", "/anon", "-v", &bind],
        &img,
        "echo new > /etc/new && rm /etc/group",
    );

    env.ok(&["commit", "-q", "--squash", "sq", "squashed:1"]);
    let layers = env.inspect("squashed:1")["RootFS"]["Layers"].clone();
    assert_eq!(
        layers.as_array().map(|a| a.len()),
        Some(1),
        "[{mode:?}] one layer: {layers}"
    );
    let hist = env.ok(&["history", "-q", "squashed:1"]);
    assert_eq!(
        hist.lines().count(),
        1,
        "[{mode:?}] one history entry: {hist}"
    );
    let script = "cat /etc/new; test -e /etc/group && echo group; test -x /bin/sh && echo base";
    assert_eq!(
        env.ok(&["run", "--rm", "-e", &mark, "squashed:1", "sh", "-c", script]),
        "new\nbase\n",
        "[{mode:?}] the squashed tree: base files, the change, the deletion"
    );

    let volumes = |image: &str| -> Vec<String> {
        let v = env.inspect(image)["Config"]["Volumes"].clone();
        let mut keys: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    env.ok(&["commit", "-q", "sq", "plain:1"]);
    assert_eq!(
        volumes("plain:1"),
        ["/anon"],
        "[{mode:?}] default: anonymous only"
    );
    env.ok(&["commit", "-q", "--include-volumes", "sq", "withvols:1"]);
    assert_eq!(
        volumes("withvols:1"),
        ["/anon", "/bound", "/named"],
        "[{mode:?}] --include-volumes"
    );

    env.run_detached("live", &[], &img, &["sleep", "1000"]);
    let pausing = env.run(&["pause", "live"]);
    if pausing.status != 0 {
        // No freezer (rootless without a delegated cgroup): -p cannot
        // keep its promise and says why, as `pause` does.
        let out = env.run(&["commit", "-q", "-p", "live", "paused:1"]);
        assert_error(mode, "commit -p", &out, 125, &["cgroup"]);
        assert!(env.run(&["image", "exists", "paused:1"]).status != 0);
        env.ok(&["rm", "-f", "-t", "0", "live"]);
        return;
    }
    env.ok(&["unpause", "live"]);
    env.ok(&["commit", "-q", "-p", "live", "paused:1"]);
    let events = env.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "container=live",
        "--format",
        "{{.Status}}",
    ]);
    let seen: Vec<&str> = events
        .lines()
        .filter(|l| ["pause", "unpause", "commit"].contains(l))
        .collect();
    // (after the probe's own pause and unpause)
    assert_eq!(
        seen,
        ["pause", "unpause", "pause", "commit", "unpause"],
        "[{mode:?}] {events}"
    );
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "live"])
            .trim(),
        "running",
        "[{mode:?}] thawed after the commit"
    );
    env.ok(&["rm", "-f", "-t", "0", "live"]);
}

both_modes!(commit_config_file_merges_into_the_image);
/// `commit --config FILE`: a Docker container configuration merged into
/// the image's (plain values replace, maps and Env merge, Entrypoint and
/// Cmd together), `--change` applied on top; a bad file is one error that
/// leaves the store as it was. The global `--config DIR` is another flag.
fn commit_config_file_merges_into_the_image(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    env.ok(&[
        "create", "--name", "base", "--label", "keep=1", &img, "true",
    ]);
    env.ok(&[
        "commit",
        "-q",
        "-c",
        "ENV A=0 KEEP=yes",
        "-c",
        "ENTRYPOINT [\"/bin/sh\"]",
        "base",
        "step1",
    ]);
    env.ok(&["create", "--name", "c", "step1", "true"]);
    let file = env.user_dir("cfg").join("config.json");
    env.write_user_file(
        &file,
        br#"{"User":"nobody","Env":["A=1","B=2"],"Cmd":["echo","from-config"],
            "ExposedPorts":{"8080/tcp":{}},"Labels":{"from":"file"},
            "Volumes":{"/data":{}},"WorkingDir":"/srv","StopSignal":"SIGINT",
            "Hostname":"not-for-images"}"#,
    );
    let f = file.to_string_lossy().into_owned();
    env.ok(&[
        "commit", "-q", "--config", &f, "-c", "ENV B=3", "c", "merged",
    ]);
    let cfg: serde_json::Value = serde_json::from_str(&env.ok(&[
        "image",
        "inspect",
        "merged",
        "--format",
        "{{json .Config}}",
    ]))
    .unwrap();
    let env_list: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env_list.contains(&"A=1")
            && env_list.contains(&"B=3")
            && env_list.contains(&"KEEP=yes")
            && !env_list.contains(&"A=0"),
        "[{mode:?}] {cfg}"
    );
    assert_eq!(cfg["User"], "nobody", "[{mode:?}] {cfg}");
    assert_eq!(cfg["WorkingDir"], "/srv", "[{mode:?}] {cfg}");
    assert_eq!(cfg["StopSignal"], "SIGINT", "[{mode:?}] {cfg}");
    assert_eq!(cfg["Labels"]["from"], "file", "[{mode:?}] {cfg}");
    assert!(
        cfg["ExposedPorts"].get("8080/tcp").is_some(),
        "[{mode:?}] {cfg}"
    );
    assert!(cfg["Volumes"].get("/data").is_some(), "[{mode:?}] {cfg}");
    // Cmd given alone: the entrypoint goes with it, so the image runs it
    assert!(
        cfg.get("Entrypoint").is_none_or(|e| e.is_null()),
        "[{mode:?}] {cfg}"
    );
    assert!(cfg.get("Hostname").is_none(), "[{mode:?}] {cfg}");
    let out = env.ok(&["run", "--rm", "--user", "0", "merged"]);
    assert_eq!(out, "from-config\n", "[{mode:?}]");
    // `container commit` takes it too
    env.ok(&["container", "commit", "-q", "--config", &f, "c", "merged2"]);
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "merged2",
            "--format",
            "{{.Config.User}}"
        ])
        .trim(),
        "nobody",
        "[{mode:?}]"
    );

    // bad files: one line, exit 125, nothing made
    let bad = env.user_dir("cfg").join("bad.json");
    let images_before = env.ok(&["images", "-a", "-q", "--no-trunc"]);
    for (content, says) in [
        (&b"[1, 2]"[..], "not a JSON object"),
        (&b"{\"Env\": \"A=1\"}"[..], "Env: not a list of strings"),
        (&b"{not json"[..], "not JSON"),
    ] {
        env.write_user_file(&bad, content);
        let out = env.fails(
            &["commit", "--config", &bad.to_string_lossy(), "c", "nope"],
            125,
        );
        assert!(
            out.stderr.starts_with("Error: ")
                && out.stderr.contains(says)
                && out.stderr.lines().count() == 1,
            "[{mode:?}] {}",
            out.stderr
        );
    }
    let out = env.fails(
        &["commit", "--config", "/nonexistent/c.json", "c", "nope"],
        125,
    );
    assert!(
        out.stderr
            .starts_with("Error: --config: /nonexistent/c.json"),
        "[{mode:?}] {}",
        out.stderr
    );
    assert_eq!(
        env.ok(&["images", "-a", "-q", "--no-trunc"]),
        images_before,
        "[{mode:?}]"
    );
    // the global option of the same name is still the docker config dir
    let out = env.fails(&["--config", "/nonexistent-dir", "images"], 125);
    assert_eq!(
        out.stderr, "Error: supplied --config /nonexistent-dir is not a directory\n",
        "[{mode:?}]"
    );
    env.ok(&["rm", "c", "base"]);
}
