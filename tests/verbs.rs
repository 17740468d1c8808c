//! Verbs podman and docker users type that coracle added: `pod pause` and
//! `unpause`, `volume export` and `import`, docker's `buildx build`,
//! `builder prune` and `context ls|show|use|inspect`, as root and rootless.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

fn pod_status(env: &TestEnv, pod: &str) -> String {
    let out = env.ok(&["pod", "inspect", pod]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let v = if v.is_array() { v[0].clone() } else { v };
    v["State"].as_str().unwrap_or_default().to_string()
}

both_modes!(pod_pause_freezes_every_member);
fn pod_pause_freezes_every_member(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let pod = env
        .ok(&["pod", "create", "--name", "app"])
        .trim()
        .to_string();
    let counter = "i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done";
    env.run_detached("tick1", &["--pod", "app"], &img, &["sh", "-c", counter]);
    env.run_detached("tick2", &["--pod", "app"], &img, &["sh", "-c", counter]);
    let count = |c: &str| env.ok(&["logs", c]).lines().count();
    assert!(wait_for(Duration::from_secs(20), || count("tick1") >= 3
        && count("tick2") >= 3));
    if mode == Mode::Rootless {
        // no cgroup freezer for a rootless container on this host: refused
        // as `pause` is, and nothing changes
        let out = env.run(&["pod", "pause", "app"]);
        assert_error(mode, "pod pause", &out, 125, &["cgroup"]);
        assert_eq!(pod_status(&env, "app"), "Running", "[{mode:?}]");
        env.ok(&["pod", "rm", "-f", "-t", "0", "app"]);
        return;
    }
    assert_eq!(env.ok(&["pod", "pause", "app"]).trim(), pod, "[{mode:?}]");
    assert_eq!(pod_status(&env, "app"), "Paused", "[{mode:?}]");
    for c in ["tick1", "tick2"] {
        assert_eq!(
            env.inspect_container(c)["State"]["Status"],
            "paused",
            "[{mode:?}] {c}"
        );
    }
    let frozen = (count("tick1"), count("tick2"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        (count("tick1"), count("tick2")),
        frozen,
        "[{mode:?}] a member ran while paused"
    );
    // nothing left to pause; unpausing resumes both
    let out = env.run(&["pod", "pause", "app"]);
    assert_error(mode, "pod pause twice", &out, 125, &["pod state improper"]);
    assert_eq!(
        env.ok(&["pod", "unpause", "--latest"]).trim(),
        pod,
        "[{mode:?}]"
    );
    assert!(
        wait_for(Duration::from_secs(20), || count("tick1") > frozen.0 + 2
            && count("tick2") > frozen.1 + 2),
        "[{mode:?}] the members did not resume"
    );
    assert_eq!(pod_status(&env, "app"), "Running", "[{mode:?}]");
    let out = env.run(&["pod", "unpause", "app"]);
    assert_error(
        mode,
        "pod unpause twice",
        &out,
        125,
        &["pod state improper"],
    );
    let out = env.run(&["pod", "pause", "nopod"]);
    assert_error(mode, "pod pause nopod", &out, 125, &["no such pod"]);
    env.ok(&["pod", "pause", "--all"]);
    env.ok(&["pod", "rm", "-f", "-t", "0", "app"]);
}

both_modes!(volume_export_and_import_round_trip);
fn volume_export_and_import_round_trip(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    env.ok(&["volume", "create", "src"]);
    env.sh(
        &img,
        &["-v", "src:/data"],
        "mkdir -p /data/dir && echo hello > /data/dir/f && chown 1234:2345 /data/dir/f && chmod 640 /data/dir/f && ln -s dir/f /data/link",
    );
    // to a file, and to stdout (a pipe)
    let tar = env.home.join("src.tar");
    let out = env.run(&["volume", "export", "-o", tar.to_str().unwrap(), "src"]);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, ""),
        "[{mode:?}] {out:?}"
    );
    let listing = env
        .run_program("tar", &["-tvf", tar.to_str().unwrap()])
        .stdout;
    assert!(
        listing.contains("1234/2345") && listing.contains("dir/f"),
        "[{mode:?}] {listing}"
    );
    assert!(listing.contains("link -> dir/f"), "[{mode:?}] {listing}");
    let streamed = env
        .coracle_command(&["volume", "export", "src"])
        .output()
        .unwrap();
    assert!(streamed.status.success(), "[{mode:?}] {streamed:?}");
    assert_eq!(
        streamed.stdout,
        std::fs::read(&tar).unwrap(),
        "[{mode:?}] stdout and -o differ"
    );

    // import merges into an existing volume, the tar's files winning
    env.ok(&["volume", "create", "dst"]);
    env.sh(
        &img,
        &["-v", "dst:/data"],
        "mkdir -p /data/dir && echo old > /data/dir/f && echo kept > /data/own",
    );
    env.ok(&["volume", "import", "dst", tar.to_str().unwrap()]);
    let out = env.sh(
        &img,
        &["-v", "dst:/data"],
        "cat /data/dir/f /data/own; stat -c '%u:%g %a' /data/dir/f; readlink /data/link",
    );
    assert_eq!(out, "hello\nkept\n1234:2345 640\ndir/f\n", "[{mode:?}]");
    // from stdin into a volume no container has mounted yet
    env.ok(&["volume", "create", "fresh"]);
    let out = env.run_stdin(
        &["volume", "import", "fresh", "-"],
        &std::fs::read(&tar).unwrap(),
    );
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let out = env.sh(
        &img,
        &["-v", "fresh:/etc"],
        "cat /etc/dir/f; ls /etc | grep -c group || true",
    );
    assert_eq!(
        out, "hello\n0\n",
        "[{mode:?}] the import was replaced by a copy-up"
    );

    // a missing volume or file, and a tmpfs volume, are refused
    assert_refused(
        &env,
        &["volume", "export", "-o", "/dev/null", "nope"],
        "no such volume",
    );
    assert_refused(
        &env,
        &["volume", "import", "nope", tar.to_str().unwrap()],
        "no such volume",
    );
    assert_refused(
        &env,
        &["volume", "import", "dst", "/no/such.tar"],
        "/no/such.tar",
    );
    env.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "t",
    ]);
    assert_refused(
        &env,
        &["volume", "export", "-o", "/dev/null", "t"],
        "only plain local volumes",
    );
}

both_modes!(docker_spellings_buildx_builder_context);
fn docker_spellings_buildx_builder_context(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    // buildx build is build
    let ctx: PathBuf = env.home.join("ctx");
    env.write_user_file(
        &ctx.join("Containerfile"),
        format!("FROM {img}\nRUN echo built > /built\n").as_bytes(),
    );
    let out = env.ok(&[
        "buildx",
        "build",
        "-t",
        "localhost/bx:1",
        ctx.to_str().unwrap(),
    ]);
    assert!(is_hex(out.lines().last().unwrap(), 64), "[{mode:?}] {out}");
    assert_eq!(
        env.sh("localhost/bx:1", &[], "cat /built"),
        "built\n",
        "[{mode:?}]"
    );
    // builder prune is image prune: a dangling image goes
    env.ok(&[
        "build",
        "-t",
        "localhost/bx:1",
        ctx.to_str().unwrap(),
        "--no-cache",
    ]);
    let dangling = env.ok(&["images", "-q", "--filter", "dangling=true"]);
    assert!(
        !dangling.trim().is_empty(),
        "[{mode:?}] no dangling image to prune"
    );
    env.ok(&["builder", "prune", "-f"]);
    assert_eq!(
        env.ok(&["images", "-q", "--filter", "dangling=true"]),
        "",
        "[{mode:?}]"
    );
    assert!(
        env.image_names()
            .iter()
            .any(|n| n.contains("localhost/bx:1")),
        "[{mode:?}]"
    );

    // context: the one local context
    let table = env.ok(&["context", "ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("DOCKER ENDPOINT"),
        "[{mode:?}] {table}"
    );
    assert!(lines[1].starts_with("default *"), "[{mode:?}] {table}");
    assert_eq!(lines.len(), 2, "[{mode:?}] {table}");
    assert_eq!(env.ok(&["context", "ls", "-q"]), "default\n", "[{mode:?}]");
    assert_eq!(
        env.ok(&["context", "ls", "--format", "{{.Name}} {{.Current}}"]),
        "default true\n",
        "[{mode:?}]"
    );
    assert_eq!(env.ok(&["context", "show"]), "default\n", "[{mode:?}]");
    let out = env.run(&["context", "use", "default"]);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "default\n"),
        "[{mode:?}] {out:?}"
    );
    assert!(
        out.stderr.contains("Current context is now \"default\""),
        "[{mode:?}] {out:?}"
    );
    let doc: Value = serde_json::from_str(&env.ok(&["context", "inspect"])).unwrap();
    assert_eq!(doc[0]["Name"], "default", "[{mode:?}] {doc}");
    assert_refused(
        &env,
        &["context", "use", "remote"],
        "context \"remote\" does not exist",
    );
    assert_refused(&env, &["context", "inspect", "remote"], "does not exist");
}

both_modes!(image_tree_and_runlabel);
fn image_tree_and_runlabel(mode: Mode) {
    let mut env = TestEnv::new(mode);
    env.set_env("OPT1", "one");
    let img = env.rt_image();
    let ctx: PathBuf = env.home.join("lbl");
    env.write_user_file(
        &ctx.join("Containerfile"),
        format!(
            "FROM {img}\nRUN echo x > /x\nLABEL install=\"echo IMAGE NAME --name=NAME\"\nLABEL run=\"podman run --rm --name NAME IMAGE echo from-run\"\n"
        )
        .as_bytes(),
    );
    env.ok(&["build", "-t", "localhost/lbl:1", ctx.to_str().unwrap()]);

    // image tree: the base layers, then the new one, top of the built image
    let out = env.ok(&["image", "tree", "localhost/lbl:1"]);
    let lines: Vec<&str> = out.lines().collect();
    let id = env.ok(&["images", "-q", "--no-trunc", "localhost/lbl:1"]);
    let id = id.trim().trim_start_matches("sha256:");
    assert_eq!(
        lines[0],
        format!("Image ID: {}", &id[..12]),
        "[{mode:?}] {out}"
    );
    assert_eq!(lines[1], "Tags:     [localhost/lbl:1]", "[{mode:?}] {out}");
    assert!(lines[2].starts_with("Size:     "), "[{mode:?}] {out}");
    assert_eq!(lines[3], "Image Layers", "[{mode:?}] {out}");
    assert_eq!(
        lines.len(),
        4 + 3,
        "[{mode:?}] rt has two layers, the build one more:\n{out}"
    );
    assert!(
        lines[4].starts_with("├── ID: ") && lines[5].starts_with("├── ID: "),
        "[{mode:?}] {out}"
    );
    assert!(
        lines[5].contains(&format!("Top Layer of: [{img}]")),
        "[{mode:?}] {out}"
    );
    assert!(
        lines[6].starts_with("└── ID: ") && lines[6].ends_with("Top Layer of: [localhost/lbl:1]"),
        "[{mode:?}] {out}"
    );
    assert_refused(&env, &["image", "tree", "nope:1"], "nope");

    // runlabel: the label's command with IMAGE, NAME, $OPT1 and the extra args
    let out = env.ok(&[
        "container",
        "runlabel",
        "install",
        "localhost/lbl:1",
        "$OPT1",
        "${HOME}x",
    ]);
    let home = env.home.to_str().unwrap();
    assert_eq!(
        out,
        format!("localhost/lbl:1 lbl --name=lbl one {home}x\n"),
        "[{mode:?}]"
    );
    let out = env.ok(&[
        "container",
        "runlabel",
        "--name",
        "mine",
        "INSTALL",
        "localhost/lbl:1",
    ]);
    assert_eq!(out, "localhost/lbl:1 mine --name=mine\n", "[{mode:?}]");
    // --display prints the command, runs nothing
    let out = env.ok(&[
        "container",
        "runlabel",
        "--display",
        "run",
        "localhost/lbl:1",
    ]);
    assert!(
        out.starts_with("command: ")
            && out
                .trim_end()
                .ends_with(" run --rm --name lbl localhost/lbl:1 echo from-run"),
        "[{mode:?}] {out}"
    );
    assert!(
        env.all_container_ids().is_empty(),
        "[{mode:?}] --display ran the command"
    );
    assert_refused(
        &env,
        &["container", "runlabel", "nope", "localhost/lbl:1"],
        "cannot find the value of label: nope",
    );
}

both_modes!(volume_prune_takes_anonymous_volumes_unless_all);
/// Current podman's `volume prune`: unused anonymous volumes only; named
/// ones with `--all` or `--filter all=true`; `--dry-run` lists.
fn volume_prune_takes_anonymous_volumes_unless_all(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["volume", "create", "named1"]);
    env.ok(&[
        "run", "--name", "x", "-e", &mark, "-v", "/anon", &img, "true",
    ]);
    env.ok(&["rm", "x"]);
    let names = || -> Vec<String> {
        env.ok(&["volume", "ls", "-q"])
            .lines()
            .map(str::to_string)
            .collect()
    };
    let before = names();
    assert_eq!(before.len(), 2, "[{mode:?}] {before:?}");
    let anon = before
        .iter()
        .find(|n| n.as_str() != "named1")
        .unwrap()
        .clone();

    // the prompt names what goes; answering no keeps it
    let out = env.run_stdin(&["volume", "prune"], b"n\n");
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        out.stdout
            .starts_with("WARNING! This will remove anonymous local volumes"),
        "[{mode:?}] {out:?}"
    );
    assert!(
        out.stdout.contains(&anon) && !out.stdout.contains("named1"),
        "[{mode:?}] {out:?}"
    );
    assert_eq!(names(), before, "[{mode:?}]");
    // -f: the anonymous one goes, the named one stays
    assert_eq!(
        env.ok(&["volume", "prune", "-f"]),
        format!("{anon}\n"),
        "[{mode:?}]"
    );
    assert_eq!(names(), ["named1"], "[{mode:?}]");
    let out = env.run_stdin(&["volume", "prune"], b"y\n");
    assert!(
        out.stdout.contains("No dangling anonymous volumes found"),
        "[{mode:?}] {out:?}"
    );
    // --dry-run lists and removes nothing
    assert_eq!(
        env.ok(&["volume", "prune", "--all", "--dry-run"]),
        "Volumes that would be pruned:\nnamed1\n",
        "[{mode:?}]"
    );
    assert_eq!(names(), ["named1"], "[{mode:?}]");
    assert_refused(
        &env,
        &["volume", "prune", "-a", "--filter", "all=true", "-f"],
        "--all and --filter all cannot be used together",
    );
    assert_refused(
        &env,
        &["volume", "prune", "-f", "--dry-run"],
        "--force and --dry-run cannot be used together",
    );
    assert_refused(
        &env,
        &["volume", "prune", "-f", "--filter", "all=maybe"],
        "must be true or false",
    );
    // --filter all=true is --all
    assert_eq!(
        env.ok(&["volume", "prune", "-f", "--filter", "all=true"]),
        "named1\n",
        "[{mode:?}]"
    );
    assert!(names().is_empty(), "[{mode:?}]");
}

both_modes!(pod_logs_and_volume_mount);
fn pod_logs_and_volume_mount(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["pod", "create", "--name", "app"]);
    let one = env.ok(&[
        "run",
        "-d",
        "--pod",
        "app",
        "--name",
        "one",
        "-e",
        &mark,
        &img,
        "sh",
        "-c",
        "echo from-one; echo more-one",
    ]);
    let two = env.ok(&[
        "run", "-d", "--pod", "app", "--name", "two", "-e", &mark, &img, "echo", "from-two",
    ]);
    env.ok(&["wait", "one", "two"]);
    // every member's lines, labelled by container id (several logs interleave)
    let out = env.ok(&["pod", "logs", "app"]);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    let mut want = vec![
        format!("{} from-one", &one.trim()[..12]),
        format!("{} more-one", &one.trim()[..12]),
        format!("{} from-two", &two.trim()[..12]),
    ];
    want.sort();
    assert_eq!(lines, want, "[{mode:?}] {out}");
    // one container, by name; names as labels; --tail
    assert_eq!(
        env.ok(&["pod", "logs", "-c", "one", "app"]),
        "from-one\nmore-one\n",
        "[{mode:?}]"
    );
    assert_eq!(
        env.ok(&["pod", "logs", "--names", "--tail", "1", "-c", "one", "app"]),
        "one more-one\n",
        "[{mode:?}]"
    );
    assert_eq!(
        env.ok(&["pod", "logs", "--latest", "-c", "two"]),
        "from-two\n",
        "[{mode:?}]"
    );
    assert_refused(
        &env,
        &["pod", "logs", "-c", "nope", "app"],
        "container nope is not in pod app",
    );
    assert_refused(&env, &["pod", "logs", "nopod"], "no such pod");
    env.ok(&["pod", "rm", "-f", "-t", "0", "app"]);

    // volume mount: a plain volume's directory, where a container's files are
    env.ok(&["volume", "create", "v"]);
    env.sh(&img, &["-v", "v:/data"], "echo seen > /data/f");
    let path = env.ok(&["volume", "mount", "v"]);
    let path = path.trim();
    assert_eq!(
        std::path::Path::new(path),
        env.store_dir().join("volumes/v/_data"),
        "[{mode:?}]"
    );
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(path).join("f")).unwrap(),
        "seen\n",
        "[{mode:?}]"
    );
    assert_eq!(env.ok(&["volume", "unmount", "v"]), "v\n", "[{mode:?}]");
    assert_refused(&env, &["volume", "mount", "nope"], "no such volume");
    env.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "t",
    ]);
    assert_refused(
        &env,
        &["volume", "mount", "t"],
        "only for the containers that use it",
    );
}
