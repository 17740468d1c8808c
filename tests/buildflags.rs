//! `coracle build`'s flags beyond the Containerfile, as root and rootless:
//! what they change on the image made (labels, environment, annotations,
//! history, timestamps), what the RUN steps' containers get (network,
//! volumes, capabilities, hosts, ulimits, memory), the build-arg and ignore
//! files, and `rmi` of what was built (its intermediate images go too).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// A context directory holding `files`; `{BASE}` becomes the `rt` image.
fn context(env: &TestEnv, name: &str, base: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.dir.join(name);
    mkdir_mode(&dir, 0o755);
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content.replace("{BASE}", base)).unwrap();
    }
    dir
}

/// `build ARGS CTX`; returns the image id (stdout's last line).
fn build(env: &TestEnv, args: &[&str], ctx: &Path) -> String {
    let mut a = vec!["build", "-q"];
    a.extend_from_slice(args);
    a.push(ctx.to_str().unwrap());
    let out = env.ok(&a);
    let id = out.lines().last().unwrap_or("").to_string();
    assert!(is_hex(&id, 64), "[{:?}] no image id: {out}", env.mode);
    id
}

/// A file's content in an image (a container that cats it).
fn cat(env: &TestEnv, img: &str, path: &str) -> String {
    env.sh(img, &[], &format!("cat {path}")).trim().to_string()
}

fn env_list(v: &Value) -> Vec<String> {
    v["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

both_modes!(final_image_labels_env_annotations_and_history);
fn final_image_labels_env_annotations_and_history(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "edits",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nLABEL keep=1 drop=2\nENV E1=a E2=b\nRUN echo \"$E1\" > /seen\n",
        )],
    );
    let id = build(
        &env,
        &[
            "-t",
            "edits",
            "--label",
            "new=3",
            "--unsetlabel",
            "drop",
            "--env",
            "E1=z",
            "--env",
            "E3=c",
            "--unsetenv",
            "E2",
            "--annotation",
            "a1=v1",
            "--omit-history",
        ],
        &ctx,
    );
    let v = env.inspect("edits");
    assert_eq!(v["Id"], id.as_str());
    let labels = &v["Config"]["Labels"];
    assert_eq!(labels["keep"], "1", "[{mode:?}] {labels}");
    assert_eq!(labels["new"], "3", "[{mode:?}] {labels}");
    assert!(labels.get("drop").is_none(), "[{mode:?}] {labels}");
    let e = env_list(&v);
    assert!(e.contains(&"E1=z".to_string()), "[{mode:?}] {e:?}");
    assert!(e.contains(&"E3=c".to_string()), "[{mode:?}] {e:?}");
    assert!(!e.iter().any(|x| x.starts_with("E2=")), "[{mode:?}] {e:?}");
    // --env is the final image's, not the RUN steps'.
    assert_eq!(cat(&env, "edits", "/seen"), "a");
    assert_eq!(
        env.sh("edits", &[], "echo $E1-$E3-${E2:-unset}").trim(),
        "z-c-unset"
    );
    let ann = &v["Annotations"];
    assert_eq!(ann["a1"], "v1", "[{mode:?}] {ann}");
    let created = ann["org.opencontainers.image.created"].as_str().unwrap();
    assert_eq!(created, v["Created"].as_str().unwrap(), "[{mode:?}]");
    assert_eq!(
        v["History"],
        serde_json::json!([]),
        "[{mode:?}] --omit-history"
    );

    // An image built on it inherits its labels and annotations...
    let ctx2 = context(
        &env,
        "child",
        &base,
        &[("Containerfile", "FROM edits\nRUN true\n")],
    );
    build(&env, &["-t", "child"], &ctx2);
    let v = env.inspect("child");
    assert_eq!(
        v["Annotations"]["a1"], "v1",
        "[{mode:?}] {}",
        v["Annotations"]
    );
    assert_eq!(v["Config"]["Labels"]["new"], "3");
    assert!(!v["History"].as_array().unwrap().is_empty());
    // ...unless told not to.
    build(
        &env,
        &[
            "-t",
            "orphan",
            "--inherit-labels=false",
            "--inherit-annotations=false",
            "--created-annotation=false",
        ],
        &ctx2,
    );
    let v = env.inspect("orphan");
    assert!(
        v["Annotations"].as_object().is_none_or(|m| m.is_empty()),
        "[{mode:?}] {}",
        v["Annotations"]
    );
    // Nothing inherited: only the label every build step sets.
    let kept: Vec<&String> = (v["Config"]["Labels"].as_object())
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        kept,
        ["io.buildah.version"],
        "[{mode:?}] {}",
        v["Config"]["Labels"]
    );
    // --unsetannotation drops an inherited one.
    build(&env, &["-t", "unann", "--unsetannotation", "a1"], &ctx2);
    let v = env.inspect("unann");
    assert!(v["Annotations"].get("a1").is_none(), "[{mode:?}]");
    // --format docker has no manifest annotations.
    build(
        &env,
        &["-t", "dock", "--format", "docker", "--annotation", "x=y"],
        &ctx2,
    );
    let v = env.inspect("dock");
    assert!(v["Annotations"].get("x").is_none(), "[{mode:?}]");
}

both_modes!(timestamps_make_builds_reproducible);
fn timestamps_make_builds_reproducible(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ts",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\nARG SOURCE_DATE_EPOCH\nRUN echo \"x$SOURCE_DATE_EPOCH\" > /made\nCOPY f /f\n",
            ),
            ("f", "content\n"),
        ],
    );
    let a = build(&env, &["--no-cache", "--timestamp", "0", "-t", "ts0"], &ctx);
    // New times on everything: the same inputs still give the same image.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(ctx.join("f"), "content\n").unwrap();
    let b = build(&env, &["--no-cache", "--timestamp", "0"], &ctx);
    assert_eq!(a, b, "[{mode:?}] --timestamp builds differ");
    let v = env.inspect(&a);
    assert_eq!(v["Created"], "1970-01-01T00:00:00Z", "[{mode:?}]");
    assert_eq!(
        env.sh("ts0", &[], "stat -c %Y /made /f")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "0"],
        "[{mode:?}] file times of new layers"
    );
    // Without it, two builds differ.
    let c = build(&env, &["--no-cache"], &ctx);
    let d = build(&env, &["--no-cache"], &ctx);
    assert_ne!(c, d, "[{mode:?}]");

    // --source-date-epoch: the created time and the build arg; file
    // times stay unless --rewrite-timestamp clamps them.
    let s = build(
        &env,
        &["--no-cache", "--source-date-epoch", "86400", "-t", "sde"],
        &ctx,
    );
    let v = env.inspect(&s);
    assert_eq!(v["Created"], "1970-01-02T00:00:00Z", "[{mode:?}]");
    assert_eq!(cat(&env, "sde", "/made"), "x86400");
    let t: u64 = env
        .sh("sde", &[], "stat -c %Y /made")
        .trim()
        .parse()
        .unwrap();
    assert!(t > 86400, "[{mode:?}] {t}");
    build(
        &env,
        &[
            "--no-cache",
            "--source-date-epoch",
            "86400",
            "--rewrite-timestamp",
            "-t",
            "rw",
        ],
        &ctx,
    );
    assert_eq!(
        env.sh("rw", &[], "stat -c %Y /made /f")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["86400", "86400"]
    );
    // Without the flag, the ARG has no value and no warning is given.
    let out = env.ok(&["build", "--no-cache", ctx.to_str().unwrap()]);
    assert!(!out.contains("not consumed"), "[{mode:?}] {out}");
}

both_modes!(run_steps_get_network_volumes_caps_hosts_and_ulimits);
fn run_steps_get_network_volumes_caps_hosts_and_ulimits(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ifaces =
        "RUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' ' > /ifaces\n";
    let ctx = context(
        &env,
        "net",
        &base,
        &[("Containerfile", &format!("FROM {{BASE}}\n{ifaces}"))],
    );
    build(&env, &["--network", "none", "-t", "none"], &ctx);
    assert_eq!(cat(&env, "none", "/ifaces"), "lo");
    // Same steps, another network: not the cached image.
    build(&env, &["--network=host", "-t", "host"], &ctx);
    let host_ifaces = std::fs::read_to_string("/proc/net/dev").unwrap();
    let mut want: Vec<&str> = host_ifaces
        .lines()
        .skip(2)
        .map(|l| l.split(':').next().unwrap().trim())
        .collect();
    want.sort();
    assert_eq!(cat(&env, "host", "/ifaces"), want.join(" "), "[{mode:?}]");

    // -v: the RUN steps see the host directory, write through to it, and
    // the mount point stays out of the image.
    let shared = env.user_dir("shared");
    env.write_user_file(&shared.join("data"), b"from-host\n");
    let ctx = context(
        &env,
        "vol",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN cat /opt/in/data > /copied && echo back > /opt/in/written\n",
        )],
    );
    let vol = format!("{}:/opt/in", shared.display());
    build(&env, &["-v", &vol, "-t", "vol"], &ctx);
    assert_eq!(cat(&env, "vol", "/copied"), "from-host");
    assert_eq!(
        std::fs::read_to_string(shared.join("written")).unwrap(),
        "back\n"
    );
    assert_eq!(
        env.sh("vol", &[], "test -e /opt/in && echo there || echo absent")
            .trim(),
        "absent",
        "[{mode:?}] the volume's mount point was committed"
    );

    // Capabilities, hosts, DNS and ulimits of the RUN containers.
    let ctx = context(
        &env,
        "caps",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN grep CapEff /proc/self/status | cut -f2 > /caps; \
             grep -w buildhost /etc/hosts | cut -f1 > /hosts; \
             grep nameserver /etc/resolv.conf | head -n1 > /dns; ulimit -n > /nofile\n",
        )],
    );
    build(
        &env,
        &[
            "--cap-drop",
            "ALL",
            "--add-host",
            "buildhost:10.1.2.3",
            "--dns",
            "10.9.9.9",
            "--ulimit",
            "nofile=123:123",
            "-t",
            "caps",
        ],
        &ctx,
    );
    assert_eq!(cat(&env, "caps", "/caps"), "0000000000000000", "[{mode:?}]");
    assert_eq!(cat(&env, "caps", "/hosts"), "10.1.2.3", "[{mode:?}]");
    assert_eq!(
        cat(&env, "caps", "/dns"),
        "nameserver 10.9.9.9",
        "[{mode:?}]"
    );
    assert_eq!(cat(&env, "caps", "/nofile"), "123", "[{mode:?}]");
    // The container made for the step is gone.
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
}

both_modes!(run_steps_get_a_memory_limit);
fn run_steps_get_a_memory_limit(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "mem",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN x=$(yes | head -c 200000000); echo survived > /s\n",
        )],
    );
    if mode == Mode::Rootless {
        // As `run`: no memory controller for the unprivileged user here.
        let c = ctx.to_str().unwrap();
        assert_refused(&env, &["build", "--memory", "32m", c], "memory");
        return;
    }
    let out = env.run(&["build", "--memory", "32m", ctx.to_str().unwrap()]);
    assert_ne!(
        out.status, 0,
        "[{mode:?}] the step ran past its limit: {out:?}"
    );
    assert!(out.stderr.contains("exit status 137"), "[{mode:?}] {out:?}");
    build(&env, &["--memory", "512m", "-t", "fits"], &ctx);
    assert_eq!(cat(&env, "fits", "/s"), "survived");
}

both_modes!(build_arg_file_ignorefile_and_iidfile_raw);
fn build_arg_file_ignorefile_and_iidfile_raw(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "files",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\nARG A\nARG B\nRUN echo \"$A $B\" > /args\nCOPY . /ctx/\n",
            ),
            ("keep.txt", "k\n"),
            ("secret.txt", "s\n"),
            (".containerignore", "keep.txt\n"),
        ],
    );
    let argfile = env.dir.join("args.conf");
    std::fs::write(&argfile, "# a comment\n\nA=fromfile\nB=fromfile\n").unwrap();
    let ignore = env.dir.join("my.ignore");
    std::fs::write(&ignore, "secret.txt\n").unwrap();
    let raw = env.user_dir("out").join("iid-raw");
    let id = build(
        &env,
        &[
            "--build-arg-file",
            argfile.to_str().unwrap(),
            "--build-arg",
            "B=cli",
            "--ignorefile",
            ignore.to_str().unwrap(),
            "--iidfile-raw",
            raw.to_str().unwrap(),
            "-t",
            "files",
        ],
        &ctx,
    );
    assert_eq!(std::fs::read_to_string(&raw).unwrap(), id, "[{mode:?}]");
    assert_eq!(cat(&env, "files", "/args"), "fromfile cli");
    // The named ignore file replaces the context's .containerignore.
    assert_eq!(
        env.sh("files", &[], "ls /ctx | tr '\\n' ' '").trim(),
        "Containerfile keep.txt",
        "[{mode:?}]"
    );
    let bad = env.dir.join("bad.conf");
    std::fs::write(&bad, "NOEQUALS\n").unwrap();
    let c = ctx.to_str().unwrap();
    assert_refused(
        &env,
        &["build", "--build-arg-file", bad.to_str().unwrap(), c],
        "NOEQUALS",
    );
    assert_refused(
        &env,
        &["build", "--build-arg-file", "/nonexistent.conf", c],
        "nonexistent.conf",
    );
    assert_refused(&env, &["build", "--network", "bad!name", c], "bad!name");
    assert_refused(&env, &["build", "--ulimit", "nofile=abc", c], "nofile");
    assert_refused(&env, &["build", "--cap-add", "NOTACAP", c], "NOTACAP");
    assert_refused(&env, &["build", "--ipc", "container:x", c], "container");
    assert_refused(&env, &["build", "--security-opt", "bogus", c], "bogus");
    assert_refused(
        &env,
        &["build", "--timestamp", "1", "--source-date-epoch", "1", c],
        "--timestamp",
    );
    assert_refused(&env, &["build", "--timestamp", "soon", c], "soon");
}

both_modes!(rmi_of_a_built_image_removes_its_intermediate_images);
fn rmi_of_a_built_image_removes_its_intermediate_images(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let before = all_ids(&env);
    let ctx = context(
        &env,
        "chain",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN echo 1 > /a\nRUN echo 2 > /b\nLABEL x=y\n",
        )],
    );
    let id = build(&env, &["-t", "chain"], &ctx);
    let all = all_ids(&env);
    assert_eq!(all.len(), before.len() + 3, "[{mode:?}] {all:?}");
    let out = env.ok(&["rmi", "chain"]);
    let deleted: Vec<&str> = out.lines().filter(|l| l.starts_with("Deleted: ")).collect();
    assert_eq!(
        out.lines().next(),
        Some("Untagged: localhost/chain:latest"),
        "{out}"
    );
    assert_eq!(deleted.len(), 3, "[{mode:?}] {out}");
    assert_eq!(deleted[0], format!("Deleted: {id}"));
    assert_eq!(all_ids(&env), before, "[{mode:?}] intermediate images left");

    // --no-prune keeps them; a tagged parent always stays.
    let ctx = context(
        &env,
        "chain2",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN echo 3 > /c\nRUN echo 4 > /d\n",
        )],
    );
    build(&env, &["-t", "chain2"], &ctx);
    let out = env.ok(&["rmi", "--no-prune", "chain2"]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("Deleted: ")).count(),
        1,
        "{out}"
    );
    assert_eq!(all_ids(&env).len(), before.len() + 1, "[{mode:?}]");
    env.inspect(&base);

    // A missing image: exit 1, or 0 with -f (as podman).
    let out = env.run(&["rmi", "no-such-image"]);
    assert_eq!(out.status, 1, "[{mode:?}] {out:?}");
    let out = env.run(&["rmi", "-f", "no-such-image"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
}

/// Every image's id, intermediate ones too, sorted.
fn all_ids(env: &TestEnv) -> Vec<String> {
    let mut v: Vec<String> = env
        .ok(&["images", "-a", "-q", "--no-trunc"])
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

both_modes!(squash_and_squash_all_make_one_layer);
fn squash_and_squash_all_make_one_layer(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let base_layers = env.inspect(&base)["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .len();
    let ctx = context(
        &env,
        "squash",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\n\
             RUN mkdir -p /sq/d && echo 1 > /sq/a && echo 2 > /sq/d/b && echo x > /sq/gone && rm /bin/stty\n\
             RUN rm /sq/gone && echo 3 > /sq/c\n\
             RUN rm -rf /sq/d && mkdir /sq/d && echo new > /sq/d/n\n\
             CMD [\"sh\"]\n",
        )],
    );
    let view = "find /sq | sort | tr '\\n' ' '; cat /sq/a /sq/c /sq/d/n | tr '\\n' ' '; \
                test -e /bin/stty && echo stty-there || echo stty-gone";
    let want = "/sq /sq/a /sq/c /sq/d /sq/d/n 1 3 new stty-gone";
    let plain = build(&env, &["-t", "plain"], &ctx);
    assert_eq!(
        env.sh(&plain, &[], view).trim(),
        want,
        "[{mode:?}] unsquashed"
    );

    let id = build(&env, &["--squash", "-t", "sq"], &ctx);
    let v = env.inspect("sq");
    assert_eq!(v["Id"], id.as_str());
    let layers = v["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), base_layers + 1, "[{mode:?}] {layers:?}");
    assert_eq!(env.sh("sq", &[], view).trim(), want, "[{mode:?}] --squash");
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sh"]));
    // The untagged unsquashed image lost the tag to the squashed one.
    assert_eq!(env.inspect("plain")["Id"], plain.as_str());

    build(&env, &["--squash-all", "-t", "sqall"], &ctx);
    let v = env.inspect("sqall");
    let layers = v["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "[{mode:?}] {layers:?}");
    assert_eq!(v["History"].as_array().unwrap().len(), 1, "[{mode:?}]");
    assert_eq!(
        env.sh("sqall", &[], view).trim(),
        want,
        "[{mode:?}] --squash-all"
    );
    // Everything else of the base is there.
    assert_eq!(
        env.sh("sqall", &[], "test -e /etc/group && echo ok").trim(),
        "ok"
    );
    assert_refused(
        &env,
        &["build", "--squash", "--squash-all", ctx.to_str().unwrap()],
        "--squash",
    );
}

both_modes!(run_mounts_secret_bind_cache_and_tmpfs);
fn run_mounts_secret_bind_cache_and_tmpfs(mode: Mode) {
    let mut env = TestEnv::new(mode);
    env.set_env("MYTOK", "fromenv-t0ken");
    let base = env.rt_image();
    let ctx = context(
        &env,
        "mounts",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\n\
                 RUN --mount=type=secret,id=tok test \"$(tr a-z A-Z < /run/secrets/tok)\" = S3CRET-VALUE && echo ok > /proof\n\
                 RUN --mount=type=secret,id=envtok,env=TOKVAR test \"$(echo $TOKVAR | tr a-z A-Z)\" = FROMENV-T0KEN && echo ok > /proof2\n\
                 RUN --mount=type=secret,id=tok,target=/etc/tok,mode=0444 stat -c %a /etc/tok > /mode\n\
                 RUN --mount=type=secret,id=absent true\n\
                 RUN --mount=type=bind,source=sub,target=/src cat /src/f > /from-bind\n\
                 RUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log > /count\n\
                 RUN --mount=type=tmpfs,target=/scratchy grep ' /scratchy ' /proc/mounts | cut -d' ' -f3 > /fstype\n",
            ),
            ("sub/f", "bound\n"),
        ],
    );
    let secret_file = env.dir.join("secret.txt");
    std::fs::write(&secret_file, "s3cret-value").unwrap();
    let src = format!("id=tok,src={}", secret_file.display());
    let c = ctx.to_str().unwrap();
    let args = ["--secret", &src, "--secret", "id=envtok,env=MYTOK"];
    let mut first = vec!["--no-cache", "-t", "m1"];
    first.extend_from_slice(&args);
    build(&env, &first, &ctx);
    for f in ["/proof", "/proof2"] {
        assert_eq!(cat(&env, "m1", f), "ok", "[{mode:?}] {f}");
    }
    assert_eq!(cat(&env, "m1", "/mode"), "444", "[{mode:?}]");
    assert_eq!(cat(&env, "m1", "/from-bind"), "bound", "[{mode:?}]");
    assert_eq!(cat(&env, "m1", "/count"), "1", "[{mode:?}]");
    assert_eq!(cat(&env, "m1", "/fstype"), "tmpfs", "[{mode:?}]");
    // Nothing mounted for a step stays in the image.
    let probe = "for p in /run/secrets /etc/tok /src /cache /scratchy; do test -e $p && echo $p; done; echo end";
    assert_eq!(env.sh("m1", &[], probe).trim(), "end", "[{mode:?}]");
    let v = env.inspect("m1");
    assert!(
        !v["Config"]["Env"].to_string().contains("TOKVAR"),
        "[{mode:?}]"
    );
    // The secrets are in no layer, config or record of the store.
    let out = std::process::Command::new("grep")
        .args(["-rlaE", "s3cret-value|fromenv-t0ken"])
        .arg(env.store_dir())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "[{mode:?}] secret found in {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The cache directory outlives the build.
    let mut again = vec!["--no-cache", "-t", "m2"];
    again.extend_from_slice(&args);
    build(&env, &again, &ctx);
    assert_eq!(cat(&env, "m2", "/count"), "2", "[{mode:?}]");

    // A required secret not given fails the build; bad mounts are named.
    let bad = context(
        &env,
        "badmount",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN --mount=type=secret,id=gone,required=true true\n",
        )],
    );
    let out = env.run(&["build", bad.to_str().unwrap()]);
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
    assert!(out.stderr.contains("\"gone\""), "[{mode:?}] {}", out.stderr);
    let esc = context(
        &env,
        "escape",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN --mount=type=bind,source=../..,target=/x true\n",
        )],
    );
    let out = env.run(&["build", esc.to_str().unwrap()]);
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
    assert!(
        out.stderr.contains("outside the build context"),
        "[{mode:?}] {}",
        out.stderr
    );
    assert_refused(&env, &["build", "--secret", "src=/etc/passwd", c], "id=");
    assert_refused(
        &env,
        &["build", "--secret", "id=x,env=NO_SUCH_VARIABLE_HERE", c],
        "NO_SUCH_VARIABLE_HERE",
    );
}

both_modes!(retry_flags_unsupported_features_and_build_arch);
fn retry_flags_unsupported_features_and_build_arch(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    // Nothing listens on port 1: each try fails at once, so the time
    // taken is the retries' delays.
    let dead = "127.0.0.1:1/nothing/here:latest";
    let timed = |args: &[&str]| {
        let t = std::time::Instant::now();
        let out = env.run(args);
        assert_eq!(out.status, 125, "[{mode:?}] {args:?}: {out:?}");
        t.elapsed()
    };
    let fast = timed(&["pull", "--retry", "0", dead]);
    assert!(
        fast < std::time::Duration::from_millis(900),
        "[{mode:?}] {fast:?}"
    );
    let slow = timed(&["pull", "--retry", "2", "--retry-delay", "1s", dead]);
    assert!(
        slow >= std::time::Duration::from_secs(2),
        "[{mode:?}] {slow:?}"
    );
    let slow = timed(&["push", "--retry=1", "--retry-delay=1500ms", &base, dead]);
    assert!(
        slow >= std::time::Duration::from_millis(1500),
        "[{mode:?}] {slow:?}"
    );
    let ctx = context(
        &env,
        "dead",
        &base,
        &[("Containerfile", &format!("FROM {dead}\n"))],
    );
    let c = ctx.to_str().unwrap();
    let slow = timed(&["build", "--retry", "1", "--retry-delay", "1s", c]);
    assert!(
        slow >= std::time::Duration::from_secs(1),
        "[{mode:?}] {slow:?}"
    );
    assert_refused(&env, &["pull", "--retry-delay", "soon", dead], "soon");
    // podman's documented no-op.
    env.ok(&["pull", "--disable-content-trust", &base]);

    for (args, needle) in [
        (
            vec!["pull", "--decryption-key", "k.pem", &base],
            "--decryption-key",
        ),
        (
            vec!["push", "--encryption-key", "jwe:k.pem", &base, dead],
            "--encryption-key",
        ),
        (
            vec!["build", "--decryption-key", "k.pem", c],
            "--decryption-key",
        ),
        (vec!["build", "--cw", "type=sev", c], "--cw"),
        (
            vec!["build", "--platform", "linux/arm64", "--arch", "arm64", c],
            "--platform",
        ),
    ] {
        assert_refused(&env, &args, needle);
    }

    // --arch picks the base image of that architecture.
    let multi = multi();
    let ctx = context(
        &env,
        "arch",
        &base,
        &[(
            "Containerfile",
            &format!("FROM {}\nLABEL built=1\n", multi.reference()),
        )],
    );
    build(
        &env,
        &["--arch", "arm64", "--variant", "v8", "-t", "armbuilt"],
        &ctx,
    );
    let v = env.inspect("armbuilt");
    assert_eq!(v["Architecture"], "arm64", "[{mode:?}]");
    assert_eq!(v["Config"]["Labels"]["built"], "1");
}

both_modes!(images_history_and_commit_iidfile);
fn images_history_and_commit_iidfile(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    env.ok(&["tag", &base, "renamed:1"]);
    env.ok(&["untag", &base]);
    let out = env.ok(&["images", "--history", "--no-trunc"]);
    let header = out.lines().next().unwrap();
    assert!(header.trim_end().ends_with("HISTORY"), "[{mode:?}] {out}");
    let none_row = out
        .lines()
        .find(|l| l.starts_with("<none>"))
        .unwrap_or_else(|| panic!("{out}"));
    let last = none_row
        .split("  ")
        .filter(|c| !c.trim().is_empty())
        .last()
        .unwrap()
        .trim();
    assert!(
        last.contains("localhost/renamed:1") && last.contains(&base),
        "[{mode:?}] the names it had: {none_row}"
    );
    let plain = env.ok(&["images"]);
    assert!(!plain.contains("HISTORY"), "[{mode:?}] {plain}");

    env.ok(&["tag", &env.image_ids()[0], "back:1"]);
    env.ok(&[
        "run",
        "--name",
        "c1",
        "localhost/back:1",
        "sh",
        "-c",
        "echo hi > /f",
    ]);
    let iid = env.user_dir("out").join("iid");
    let out = env.ok(&[
        "commit",
        "-q",
        "--iidfile",
        iid.to_str().unwrap(),
        "c1",
        "committed",
    ]);
    let id = out.lines().last().unwrap();
    assert!(is_hex(id, 64), "{out}");
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id, "[{mode:?}]");
    assert_eq!(cat(&env, "committed", "/f"), "hi");
}

both_modes!(output_writes_the_image_files_and_unused_stages);
fn output_writes_the_image_files_and_unused_stages(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "out",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE} AS unused\nRUN echo built-unused-stage\n\
             FROM {BASE}\nRUN mkdir /out-test && echo v > /out-test/f && rm /bin/tty\n",
        )],
    );
    let o = env.user_dir("o");
    let local = o.join("local");
    let spec = format!("type=local,dest={}", local.display());
    build(&env, &["-o", &spec], &ctx);
    assert_eq!(
        std::fs::read_to_string(local.join("out-test/f")).unwrap(),
        "v\n"
    );
    assert!(
        local.join("bin/busybox").exists(),
        "[{mode:?}] the base's files"
    );
    assert!(local.join("etc/group").exists(), "[{mode:?}]");
    assert!(
        std::fs::symlink_metadata(local.join("bin/tty")).is_err(),
        "[{mode:?}] a file the build removed"
    );
    let plain = o.join("plain");
    build(&env, &["--output", plain.to_str().unwrap()], &ctx);
    assert!(plain.join("out-test/f").exists(), "[{mode:?}]");
    let tar = o.join("img.tar");
    build(
        &env,
        &["-o", &format!("type=tar,dest={}", tar.display())],
        &ctx,
    );
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.trim_end_matches('/') == "out-test/f"),
        "[{mode:?}] {list}"
    );
    assert!(list.lines().any(|l| l == "bin/busybox"), "[{mode:?}]");
    assert!(
        !list
            .lines()
            .any(|l| l.contains("tty") && !l.contains("stty")),
        "[{mode:?}] {list}"
    );
    assert!(!list.contains(".wh."), "[{mode:?}]");
    let c = ctx.to_str().unwrap();
    assert_refused(&env, &["build", "-o", "type=oci,dest=x", c], "oci");
    assert_refused(&env, &["build", "-o", "type=tar,dest=-", c], "stdout");

    // The stage nothing needs is skipped unless told otherwise.
    let out = env.ok(&["build", "--no-cache", c]);
    assert!(!out.contains("built-unused-stage"), "[{mode:?}] {out}");
    let out = env.ok(&["build", "--no-cache", "--skip-unused-stages=false", c]);
    assert!(
        out.lines().any(|l| l == "built-unused-stage"),
        "[{mode:?}] {out}"
    );
}

both_modes!(volume_create_uid_gid_own_the_directory);
fn volume_create_uid_gid_own_the_directory(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    env.ok(&[
        "volume", "create", "--uid", "1234", "--gid", "4321", "owned",
    ]);
    let ids = env.sh(&base, &["-v", "owned:/v"], "stat -c %u:%g /v");
    assert_eq!(ids.trim(), "1234:4321", "[{mode:?}]");
    env.ok(&["volume", "create", "--gid", "7", "gidonly"]);
    let ids = env.sh(&base, &["-v", "gidonly:/v"], "stat -c %u:%g /v");
    assert_eq!(ids.trim(), "0:7", "[{mode:?}]");
    if mode == Mode::Rootless {
        // An id the user namespace does not map: refused, nothing made.
        assert_refused(
            &env,
            &["volume", "create", "--uid", "4000000000", "unmapped"],
            "unmapped",
        );
    }
}

// `--from`, `--build-context` (a directory for COPY --from, an image for
// FROM, before a stage of the same name) and a `Containerfile.in` through
// cpp with `--cpp-flag`.
both_modes!(from_build_contexts_and_cpp);
fn from_build_contexts_and_cpp(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let extra = context(&env, "extra", &base, &[("hello.txt", "from-extra\n")]);
    let ctx = context(
        &env,
        "cpp",
        &base,
        &[
            ("from.inc", "FROM no-such-image-anywhere\n"),
            (
                "Containerfile.in",
                "#include \"from.inc\"\nCOPY --from=extra hello.txt /hello\n\
                 RUN echo GREETING > /greeting\n",
            ),
            ("hello.txt", "from-main\n"),
        ],
    );
    let file = ctx.join("Containerfile.in");
    let extra_arg = format!("extra={}", extra.display());
    build(
        &env,
        &[
            "-f",
            file.to_str().unwrap(),
            "--from",
            &base,
            "--build-context",
            &extra_arg,
            "--cpp-flag=-DGREETING=hi",
            "-t",
            "srcs",
        ],
        &ctx,
    );
    assert_eq!(cat(&env, "srcs", "/hello"), "from-extra", "[{mode:?}]");
    assert_eq!(cat(&env, "srcs", "/greeting"), "hi", "[{mode:?}]");

    // A context named like a stage wins over it; an image context is a base.
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM basectx AS extra\nCOPY hello.txt /hello.txt\nFROM basectx\nCOPY --from=extra hello.txt /h\n",
    )
    .unwrap();
    let image_arg = format!("basectx=docker-image://{base}");
    build(
        &env,
        &[
            "--build-context",
            &image_arg,
            "--build-context",
            &extra_arg,
            "-t",
            "named",
        ],
        &ctx,
    );
    assert_eq!(cat(&env, "named", "/h"), "from-extra", "[{mode:?}]");

    let ctx_arg = ctx.to_str().unwrap();
    assert_refused(
        &env,
        &["build", "--build-context", "nameonly", ctx_arg],
        "invalid --build-context",
    );
    let dir_base = format!("basectx={}", extra.display());
    assert_refused(
        &env,
        &["build", "--build-context", &dir_base, ctx_arg],
        "FROM needs an image",
    );
}

// What the RUN containers get: `--no-hosts`, `--no-hostname`,
// `--shm-size`, `--group-add`, `--device`, `--http-proxy`, `--stdin`,
// `--isolation rootless`; the defaults for contrast.
both_modes!(run_step_process_flags);
fn run_step_process_flags(mode: Mode) {
    let mut env = TestEnv::new(mode);
    env.set_env("http_proxy", "http://proxy.invalid:3128");
    let base = env.rt_image();
    let ctx = context(
        &env,
        "proc",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN read line; echo \"$line\" > /stdin; echo '10.7.7.7 imagehost' > /etc/hosts || true\n\
             RUN grep -c imagehost /etc/hosts > /hosts; \
             (test -e /etc/hostname && echo yes || echo no) > /hostname; \
             df -k /dev/shm | tail -n 1 | tr -s ' ' | cut -d' ' -f2 > /shm; \
             id -G > /groups; echo \"$http_proxy\" > /proxy; \
             (test -c /dev/mynull && echo yes || echo no) > /dev-node; \
             hostname > /uts; cut -d: -f3 /proc/self/cgroup > /cgroup\n",
        )],
    );
    let ctx_arg = ctx.to_str().unwrap();
    let out = env.run_stdin(
        &[
            "build",
            "-q",
            "--no-hosts",
            "--no-hostname",
            "--shm-size",
            "7m",
            "--group-add",
            "1234",
            "--device",
            "/dev/null:/dev/mynull",
            "--http-proxy=false",
            "--stdin",
            "--isolation",
            "rootless",
            "--cgroupns",
            "host",
            "-t",
            "tuned",
            ctx_arg,
        ],
        b"typed-in\n",
    );
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert_eq!(cat(&env, "tuned", "/hosts"), "1", "[{mode:?}]");
    assert_eq!(cat(&env, "tuned", "/hostname"), "no", "[{mode:?}]");
    assert_eq!(cat(&env, "tuned", "/shm"), "7168", "[{mode:?}]");
    assert!(
        cat(&env, "tuned", "/groups")
            .split(' ')
            .any(|g| g == "1234"),
        "[{mode:?}]"
    );
    assert_eq!(cat(&env, "tuned", "/proxy"), "", "[{mode:?}]");
    assert_eq!(cat(&env, "tuned", "/dev-node"), "yes", "[{mode:?}]");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(cat(&env, "tuned", "/uts"), host.trim(), "[{mode:?}]");
    assert_eq!(cat(&env, "tuned", "/stdin"), "typed-in", "[{mode:?}]");

    build(&env, &["-t", "plain"], &ctx);
    assert_eq!(cat(&env, "plain", "/hosts"), "0", "[{mode:?}]");
    assert_eq!(cat(&env, "plain", "/hostname"), "yes", "[{mode:?}]");
    assert_eq!(
        cat(&env, "plain", "/proxy"),
        "http://proxy.invalid:3128",
        "[{mode:?}]"
    );
    assert_eq!(cat(&env, "plain", "/stdin"), "", "[{mode:?}]");
    // A private cgroup namespace's root is the container's cgroup (in
    // every hierarchy, on cgroup v1); --cgroupns host shows the host's.
    let all_root = |img: &str| {
        let text = cat(&env, img, "/cgroup");
        (text.lines().all(|l| l == "/"), text)
    };
    let (root, text) = all_root("plain");
    assert!(root, "[{mode:?}] {text}");
    let (root, text) = all_root("tuned");
    assert!(!root, "[{mode:?}] {text}");
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");

    assert_refused(
        &env,
        &["build", "--isolation", "chroot", ctx_arg],
        "--isolation chroot is not supported",
    );
    assert_refused(
        &env,
        &["build", "--isolation", "bogus", ctx_arg],
        "unrecognized isolation type",
    );
    assert_refused(
        &env,
        &["build", "--no-hosts", "--add-host", "a:10.0.0.1", ctx_arg],
        "--no-hosts and --add-host cannot be set together",
    );
}

// `--rm=false` and `--force-rm=false` keep the RUN containers; by default
// none stay, failing or not.
both_modes!(rm_and_force_rm_keep_run_containers);
fn rm_and_force_rm_keep_run_containers(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ok = context(
        &env,
        "ok",
        &base,
        &[("Containerfile", "FROM {BASE}\nRUN echo kept > /k\n")],
    );
    let bad = context(
        &env,
        "bad",
        &base,
        &[("Containerfile", "FROM {BASE}\nRUN echo failing; exit 3\n")],
    );
    build(&env, &["--rm=false"], &ok);
    let kept = env.all_container_ids();
    assert_eq!(kept.len(), 1, "[{mode:?}] {kept:?}");
    // A later build sweeps no kept container; the user removes it.
    build(&env, &["--no-cache"], &ok);
    assert_eq!(env.all_container_ids(), kept, "[{mode:?}]");
    env.ok(&["rm", &kept[0]]);

    env.fails(&["build", "-q", bad.to_str().unwrap()], 125);
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
    env.fails(
        &["build", "-q", "--force-rm=false", bad.to_str().unwrap()],
        125,
    );
    assert_eq!(env.all_container_ids().len(), 1, "[{mode:?}]");
}

// The image-level flags: `--layer-label`, `--save-stages --stage-labels`,
// `--os-version`, `--os-feature`, `--metadata-file`, `--cache-ttl`,
// `--logfile` (`--logsplit` per platform) and `--compress`.
both_modes!(labels_os_fields_metadata_cache_ttl_and_logfile);
fn labels_os_fields_metadata_cache_ttl_and_logfile(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "meta",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE} AS first\nENV A=1\nFROM {BASE}\nENV B=2\nCOPY hello.txt /\n",
            ),
            ("hello.txt", "hi\n"),
        ],
    );
    let outdir = env.user_dir("out");
    let meta = outdir.join("meta.json");
    let id = build(
        &env,
        &[
            "--skip-unused-stages=false",
            "--layer-label",
            "lay=1",
            "--save-stages",
            "--stage-labels",
            "--os-version",
            "10.0.1",
            "--os-feature",
            "win32k",
            "--compress",
            "--metadata-file",
            meta.to_str().unwrap(),
            "--manifest",
            "metalist",
            "-t",
            "meta",
        ],
        &ctx,
    );
    let v = env.inspect("meta");
    let labels = &v["Config"]["Labels"];
    assert!(labels.get("lay").is_none(), "[{mode:?}] {labels}");
    assert_eq!(labels["io.buildah.stage.name"], "1", "[{mode:?}] {labels}");
    let intermediate = env.ok(&["images", "-a", "-q", "--filter", "label=lay=1"]);
    assert!(!intermediate.trim().is_empty(), "[{mode:?}]");
    let first = env.ok(&[
        "images",
        "-a",
        "-q",
        "--filter",
        "label=io.buildah.stage.name=first",
    ]);
    assert!(!first.trim().is_empty(), "[{mode:?}]");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    assert_eq!(m["containerimage.digest"], v["Digest"], "[{mode:?}] {m}");
    assert!(
        m["image.name"]
            .as_str()
            .unwrap()
            .contains("localhost/meta:latest"),
        "[{mode:?}] {m}"
    );
    assert!(
        m["containerimage.config.digest"]
            .as_str()
            .unwrap()
            .ends_with(&id),
        "[{mode:?}] {m}"
    );
    let list: Value = serde_json::from_str(&env.ok(&["manifest", "inspect", "metalist"])).unwrap();
    assert_eq!(
        list["manifests"][0]["platform"]["os.version"], "10.0.1",
        "[{mode:?}] {list}"
    );
    let saved = outdir.join("meta.tar");
    env.ok(&["save", "-o", saved.to_str().unwrap(), "meta"]);
    let tar = |member: &str| {
        let o = std::process::Command::new("tar")
            .args(["-xOf", saved.to_str().unwrap(), member])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let manifest: Value = serde_json::from_str(&tar("manifest.json")).unwrap();
    let config: Value =
        serde_json::from_str(&tar(manifest[0]["Config"].as_str().unwrap())).unwrap();
    assert_eq!(
        config["os.features"],
        serde_json::json!(["win32k"]),
        "[{mode:?}]"
    );

    // --cache-ttl: a cached step made before the ttl is not used.
    build(&env, &[], &ctx);
    let log = outdir.join("build.log");
    let log_arg = log.to_str().unwrap();
    let ctx_arg = ctx.to_str().unwrap();
    let out = env.ok(&["build", "--logfile", log_arg, "--cache-ttl", "1h", ctx_arg]);
    assert_eq!(out, "", "[{mode:?}] output outside the log file");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("STEP 1/"), "[{mode:?}] {logged}");
    assert!(logged.contains("Using cache"), "[{mode:?}] {logged}");
    let out = env.ok(&["build", "--cache-ttl", "1ns", ctx_arg]);
    assert!(!out.contains("Using cache"), "[{mode:?}] {out}");

    // --logsplit: one log per platform.
    let scratch = context(
        &env,
        "split",
        &base,
        &[
            ("Containerfile", "FROM scratch\nCOPY hello.txt /\n"),
            ("hello.txt", "x\n"),
        ],
    );
    env.ok(&[
        "build",
        "--platform",
        "linux/amd64,linux/arm64",
        "--logfile",
        log_arg,
        "--logsplit",
        scratch.to_str().unwrap(),
    ]);
    for p in ["amd64", "arm64"] {
        let f = format!("{log_arg}_linux_{p}");
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(text.contains("COPY hello.txt"), "[{mode:?}] {f}: {text}");
    }

    assert_refused(&env, &["build", "--stage-labels", ctx_arg], "--save-stages");
    assert_refused(
        &env,
        &[
            "build",
            "--metadata-file",
            meta.to_str().unwrap(),
            "--platform",
            "linux/amd64,linux/arm64",
            ctx_arg,
        ],
        "--metadata-file cannot be used with more than one --platform",
    );
    assert_refused(
        &env,
        &["build", "--logsplit", ctx_arg],
        "--logsplit needs --logfile",
    );
}

// `--cache-to` pushes each step's image to a registry repository under its
// cache key; another store's `--cache-from` build takes them from there
// instead of running the steps.
both_modes!(cache_from_and_cache_to_share_steps_through_a_registry);
fn cache_from_and_cache_to_share_steps_through_a_registry(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let repo = format!("{}/{}", registry().host, unique("buildcache"));
    let ctx = context(
        &env,
        "remote",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN echo ran-the-step; echo built > /b\nENV X=1\n",
        )],
    );
    let ctx_arg = ctx.to_str().unwrap();
    let out = env.run(&["build", "--tls-verify=false", "--cache-to", &repo, ctx_arg]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert!(out.stderr.is_empty(), "[{mode:?}] {}", out.stderr);
    assert!(
        out.stdout.lines().any(|l| l == "ran-the-step"),
        "[{mode:?}]"
    );

    // Another store: every step comes from the registry, none runs.
    let other = TestEnv::new(mode);
    other.rt_image();
    let out = other.ok(&[
        "build",
        "--tls-verify=false",
        "--cache-from",
        &repo,
        ctx_arg,
    ]);
    let hits: Vec<&str> = (out.lines())
        .filter_map(|l| l.strip_prefix("--> Using cache "))
        .collect();
    assert_eq!(hits.len(), 2, "[{mode:?}] {out}");
    assert!(
        !out.lines().any(|l| l == "ran-the-step"),
        "[{mode:?}] the RUN step ran: {out}"
    );
    let id = out.lines().last().unwrap();
    assert_eq!(id, hits[1], "[{mode:?}] {out}");
    assert_eq!(cat(&other, id, "/b"), "built", "[{mode:?}]");

    assert_refused(
        &env,
        &["build", "--cache-to", "no-registry", ctx_arg],
        "invalid cache repository",
    );
}

/// Every image in the store, intermediate ones too.
fn all_images(env: &TestEnv) -> Vec<String> {
    let mut v: Vec<String> = env
        .ok(&["images", "-a", "-q", "--no-trunc"])
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

// `--source-policy-file`: a CONVERT rule rewrites what FROM names (here to
// an image by digest), a DENY rule fails the build before anything is
// made, whatever names the image (FROM, --from, COPY --from, a build
// context); a bad policy file is one error.
both_modes!(source_policy_converts_and_denies_images);
fn source_policy_converts_and_denies_images(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let digest = env.inspect(&base)["Digest"].as_str().unwrap().to_string();
    let pinned = format!("{}@{digest}", base.rsplit_once(':').unwrap().0);
    let dir = env.user_dir("policies");
    let policy = |name: &str, json: &str| -> String {
        let p = dir.join(name);
        env.write_user_file(&p, json.as_bytes());
        format!("--source-policy-file={}", p.display())
    };
    // `nothing-here` is docker.io/library/nothing-here:latest to the
    // policy; the pinned image is allowed, any other of the test
    // registry's fixtures denied (a converted name is vetted again).
    let rules = policy(
        "rules.json",
        &format!(
            r#"{{"rules":[
              {{"action":"CONVERT","selector":{{"identifier":"docker-image://docker.io/library/nothing-here:latest","matchType":"EXACT"}},
                "updates":{{"identifier":"docker-image://{pinned}"}}}},
              {{"action":"ALLOW","selector":{{"identifier":"docker-image://{pinned}","matchType":"EXACT"}}}},
              {{"action":"DENY","selector":{{"identifier":"docker-image://127.0.0.1:*/fixtures/*"}}}}]}}"#
        ),
    );
    let ctx = context(
        &env,
        "converted",
        &base,
        &[(
            "Containerfile",
            "FROM nothing-here\nRUN echo converted > /seen\n",
        )],
    );
    build(&env, &[&rules, "-t", "converted"], &ctx);
    assert_eq!(cat(&env, "converted", "/seen"), "converted", "[{mode:?}]");
    let v = env.inspect("converted");
    let layers = |v: &Value| v["RootFS"]["Layers"].as_array().unwrap().len();
    assert_eq!(layers(&v), layers(&env.inspect(&base)) + 1, "[{mode:?}]");

    // Stage one is allowed and would RUN; stage two's base is denied:
    // the build fails first, and nothing is left of stage one.
    let ctx_arg = ctx.to_str().unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM nothing-here AS one\nRUN echo one > /one\nFROM {base}\nCOPY --from=one /one /one\n"),
    )
    .unwrap();
    let before = all_images(&env);
    assert_refused(
        &env,
        &["build", &rules, ctx_arg],
        &format!("FROM {base}: source docker-image://{base} denied by source policy"),
    );
    assert_eq!(all_images(&env), before, "[{mode:?}] the build made images");
    // COPY --from an image, --from and a build context are vetted too.
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM scratch\nCOPY --from={base} /bin/busybox /busybox\n"),
    )
    .unwrap();
    assert_refused(&env, &["build", &rules, ctx_arg], "denied by source policy");
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM nothing-here AS base\nRUN true\n",
    )
    .unwrap();
    let from = format!("--from={base}");
    assert_refused(
        &env,
        &["build", &rules, &from, ctx_arg],
        "denied by source policy",
    );
    let context_arg = format!("--build-context=nothing-here=docker-image://{base}");
    assert_refused(
        &env,
        &["build", &rules, &context_arg, ctx_arg],
        "denied by source policy",
    );

    // FROM scratch is no image: a policy denying every image allows it.
    let deny_all = policy(
        "deny-all.json",
        r#"{"rules":[{"action":"DENY","selector":{"identifier":"docker-image://*"}}]}"#,
    );
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM scratch\nCOPY Containerfile /\n",
    )
    .unwrap();
    build(&env, &[&deny_all], &ctx);

    // A bad policy: one error, nothing built.
    for (file, json, why) in [
        ("bad.json", "{not json", "invalid JSON"),
        (
            "noaction.json",
            r#"{"rules":[{"selector":{"identifier":"docker-image://x"}}]}"#,
            "rule 1: action is required",
        ),
        (
            "noupdate.json",
            r#"{"rules":[{"action":"CONVERT","selector":{"identifier":"docker-image://x"}}]}"#,
            "updates.identifier is required for CONVERT",
        ),
    ] {
        let bad = policy(file, json);
        assert_refused(
            &env,
            &["build", &bad, ctx_arg],
            "loading source policy file",
        );
        assert_refused(&env, &["build", &bad, ctx_arg], why);
    }
    assert_refused(
        &env,
        &[
            "build",
            "--source-policy-file=/nonexistent/policy.json",
            ctx_arg,
        ],
        "loading source policy file /nonexistent/policy.json",
    );
}

// `--compat-volumes`: what RUN steps change under a VOLUME is undone.
both_modes!(compat_volumes_undoes_run_changes_under_volumes);
fn compat_volumes_undoes_run_changes_under_volumes(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "vols",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\nRUN mkdir -p /data && echo before > /data/f\nVOLUME /data\n\
             RUN echo after > /data/f && echo new > /data/g\n",
        )],
    );
    build(&env, &["--compat-volumes", "-t", "compat"], &ctx);
    assert_eq!(
        env.sh("compat", &[], "cat /data/f; ls /data").trim(),
        "before\nf",
        "[{mode:?}]"
    );
    build(&env, &["-t", "plain"], &ctx);
    assert_eq!(
        env.sh("plain", &[], "cat /data/f; ls /data").trim(),
        "after\nf\ng",
        "[{mode:?}]"
    );
}

/// `os/arch[/variant]` of each entry of a local list, sorted.
fn list_platforms(env: &TestEnv, list: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(&env.ok(&["manifest", "inspect", list])).unwrap();
    let mut out: Vec<String> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(var) = p["variant"].as_str() {
                s.push('/');
                s.push_str(var);
            }
            s
        })
        .collect();
    out.sort();
    out
}

// `--all-platforms`: one image for each platform every base offers (a
// list its entries', an image its own; local, or in a registry), into
// the --manifest list. No RUN steps: this host runs no arm64 binaries.
both_modes!(all_platforms_builds_what_every_base_offers);
fn all_platforms_builds_what_every_base_offers(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "multi",
        &base,
        &[
            ("Containerfile", "FROM scratch\nCOPY hello.txt /\n"),
            ("hello.txt", "x\n"),
        ],
    );
    let ctx_arg = ctx.to_str().unwrap();
    // A base list: the host's busybox image and an arm64 one.
    build(&env, &["--platform", "linux/arm64", "-t", "armbase"], &ctx);
    env.ok(&["manifest", "create", "baselist", &base, "armbase"]);
    let write = |text: &str| std::fs::write(ctx.join("Containerfile"), text).unwrap();

    write("FROM baselist\nCOPY hello.txt /again\nENV BUILT=1\n");
    build(&env, &["--all-platforms", "--manifest", "both"], &ctx);
    assert_eq!(
        list_platforms(&env, "both"),
        ["linux/amd64", "linux/arm64/v8"],
        "[{mode:?}]"
    );
    // The host's image of the list is built on busybox.
    assert_eq!(cat(&env, "both", "/again"), "x", "[{mode:?}]");
    assert_eq!(env.sh("both", &[], "echo $BUILT").trim(), "1", "[{mode:?}]");

    // A second base offers only the host's platform: only that is built.
    write(&format!(
        "FROM {base} AS tools\nFROM baselist\nCOPY --from=tools /bin/busybox /bb\n"
    ));
    build(&env, &["--all-platforms", "--manifest", "hostonly"], &ctx);
    assert_eq!(
        list_platforms(&env, "hostonly"),
        ["linux/amd64"],
        "[{mode:?}]"
    );

    // A base list from a registry, not in this store: asked of the registry.
    let dest = format!("{}/{}:1", registry().host, unique("lists/allbase"));
    env.ok(&[
        "manifest",
        "push",
        "--all",
        "--tls-verify=false",
        "baselist",
        &format!("docker://{dest}"),
    ]);
    let fresh = TestEnv::new(mode);
    let fresh_ctx = context(
        &fresh,
        "remote",
        &base,
        &[
            ("Containerfile", &format!("FROM {dest}\nCOPY hello.txt /\n")),
            ("hello.txt", "y\n"),
        ],
    );
    let out = fresh.ok(&[
        "build",
        "-q",
        "--all-platforms",
        "--tls-verify=false",
        "--manifest",
        "fromremote",
        fresh_ctx.to_str().unwrap(),
    ]);
    assert!(
        is_hex(out.lines().last().unwrap_or(""), 64),
        "[{mode:?}] {out}"
    );
    assert_eq!(
        list_platforms(&fresh, "fromremote"),
        ["linux/amd64", "linux/arm64/v8"],
        "[{mode:?}]"
    );

    // Refused: bases with no platform in common, only FROM scratch, no
    // --manifest, with --platform.
    write(&format!(
        "FROM {base} AS a\nFROM armbase\nCOPY --from=a /bin/busybox /bb\n"
    ));
    assert_refused(
        &env,
        &["build", "--all-platforms", "--manifest", "none", ctx_arg],
        "the base images have no platform in common",
    );
    write("FROM scratch\nCOPY hello.txt /\n");
    assert_refused(
        &env,
        &["build", "--all-platforms", "--manifest", "none", ctx_arg],
        "every stage is FROM scratch",
    );
    write("FROM baselist\nCOPY hello.txt /\n");
    assert_refused(
        &env,
        &["build", "--all-platforms", ctx_arg],
        "--all-platforms needs --manifest",
    );
    assert_refused(
        &env,
        &[
            "build",
            "--all-platforms",
            "--platform",
            "linux/amd64",
            "--manifest",
            "none",
            ctx_arg,
        ],
        "--platform",
    );
}

both_modes!(build_mount_reaches_every_run_step_and_identity_label);
fn build_mount_reaches_every_run_step_and_identity_label(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "bmount",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\n\
                 RUN cat /run/secrets/tok > /got-secret\n\
                 RUN --mount=type=tmpfs,target=/t cat /src/f > /got-bind && grep -q ' /t ' /proc/mounts && echo both > /both\n",
            ),
            ("sub/f", "bound\n"),
        ],
    );
    let secret_file = env.dir.join("tok.txt");
    std::fs::write(&secret_file, "hello").unwrap();
    let secret = format!("id=tok,src={}", secret_file.display());
    let c = ctx.to_str().unwrap();
    // Without --mount the steps find nothing there.
    let out = env.run(&["build", "--no-cache", "--secret", &secret, c]);
    assert_ne!(out.status, 0, "[{mode:?}] {out:?}");
    build(
        &env,
        &[
            "--secret",
            &secret,
            "--mount",
            "type=secret,id=tok",
            "--mount=type=bind,source=sub,target=/src",
            "-t",
            "bm",
        ],
        &ctx,
    );
    assert_eq!(cat(&env, "bm", "/got-secret"), "hello", "[{mode:?}]");
    assert_eq!(cat(&env, "bm", "/got-bind"), "bound", "[{mode:?}]");
    // A step's own --mount and the flag's, together.
    assert_eq!(cat(&env, "bm", "/both"), "both", "[{mode:?}]");
    // Mounted for the steps only: nothing of them in the image.
    let probe = "for p in /run/secrets/tok /src/f; do test -e $p && echo $p; done; echo end";
    assert_eq!(env.sh("bm", &[], probe).trim(), "end", "[{mode:?}]");
    // A mount the builder cannot make is refused before anything is built.
    assert_refused(
        &env,
        &["build", "--mount", "type=volume,target=/v", c],
        "unsupported mount type",
    );
    assert_refused(
        &env,
        &["build", "--mount", "type=bind,target=/v,bogus=1", c],
        "bogus",
    );

    // --identity-label: io.buildah.version names the builder's version on
    // the images made, as buildah's.
    let version = env.ok(&["--version"]);
    let version = version.trim().rsplit(' ').next().unwrap().to_string();
    let ictx = context(
        &env,
        "ident",
        &base,
        &[("Containerfile", "FROM {BASE}\nRUN echo x > /x\n")],
    );
    let label = |img: &str| env.inspect(img)["Config"]["Labels"]["io.buildah.version"].clone();
    build(&env, &["-t", "id-default"], &ictx);
    assert_eq!(label("id-default"), version.as_str(), "[{mode:?}]");
    // ...on the intermediate images too.
    let layers = env.ok(&["images", "-a", "-q", "--filter", "label=io.buildah.version"]);
    assert!(layers.lines().count() >= 2, "[{mode:?}] {layers}");
    let off = build(&env, &["--identity-label=false", "-t", "id-off"], &ictx);
    assert!(label("id-off").is_null(), "[{mode:?}]");
    assert_ne!(off, env.inspect("id-default")["Id"].as_str().unwrap());
    // Fixed times leave it off unless asked for.
    build(&env, &["--timestamp", "0", "-t", "id-ts"], &ictx);
    assert!(label("id-ts").is_null(), "[{mode:?}]");
    build(
        &env,
        &["--timestamp", "0", "--identity-label", "-t", "id-ts-on"],
        &ictx,
    );
    assert_eq!(label("id-ts-on"), version.as_str(), "[{mode:?}]");
    // --unsetlabel removes it from the final image.
    build(
        &env,
        &["--unsetlabel", "io.buildah.version", "-t", "id-unset"],
        &ictx,
    );
    assert!(label("id-unset").is_null(), "[{mode:?}]");
    assert_refused(&env, &["build", "--identity-label=maybe", c], "maybe");
}
