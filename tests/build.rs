//! `coracle build` as a user sees it, as root and rootless, on Containerfiles
//! the tests write: every instruction, stages, build args, ownership,
//! ignore files, heredocs, ONBUILD, the cache, failures and their cleanup,
//! and that what was built runs and pushes.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A context directory holding `files` (path, content), readable by the
/// test user. `{BASE}` in any content is replaced by the `rt` image.
fn context(env: &TestEnv, name: &str, base: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.dir.join(name);
    mkdir_mode(&dir, 0o755);
    for (path, content) in files {
        write(&dir, path, &content.replace("{BASE}", base));
    }
    dir
}

fn write(dir: &Path, path: &str, content: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    for anc in p.parent().unwrap().ancestors() {
        if anc == dir {
            break;
        }
        let _ = std::fs::set_permissions(anc, std::os::unix::fs::PermissionsExt::from_mode(0o755));
    }
    std::fs::write(&p, content).unwrap();
}

fn build(env: &TestEnv, args: &[&str], ctx: &Path) -> String {
    let mut a = vec!["build"];
    a.extend_from_slice(args);
    let c = ctx.to_str().unwrap();
    a.push(c);
    let out = env.ok(&a);
    let id = out.lines().last().unwrap_or("").to_string();
    assert!(
        is_hex(&id, 64),
        "[{:?}] build should end stdout with the image id: {out}",
        env.mode
    );
    out
}

fn last_id(out: &str) -> String {
    out.lines().last().unwrap().to_string()
}

fn config(env: &TestEnv, img: &str) -> Value {
    env.inspect(img)["Config"].clone()
}

fn history(env: &TestEnv, img: &str) -> Vec<String> {
    env.ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", img])
        .lines()
        .map(String::from)
        .collect()
}

fn sh(env: &TestEnv, img: &str, script: &str) -> String {
    env.sh(img, &[], script)
}

both_modes!(metadata_instructions_run_copy_add_and_podman_output);
fn metadata_instructions_run_copy_add_and_podman_output(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\n\
                 ENV A=1 B=\"two words\"\n\
                 LABEL x=y\n\
                 EXPOSE 80 90/udp\n\
                 VOLUME /data\n\
                 WORKDIR /app\n\
                 STOPSIGNAL SIGINT\n\
                 HEALTHCHECK --interval=5s CMD true\n\
                 MAINTAINER someone\n\
                 RUN echo \"$A $B\" > out; echo to-stdout\n\
                 RUN [\"/bin/sh\", \"-c\", \"echo exec > /exec\"]\n\
                 COPY f.txt ./\n\
                 ADD arch.tar.gz /unpacked/\n\
                 SHELL [\"/bin/sh\", \"-ec\"]\n\
                 CMD echo from-cmd\n",
            ),
            ("f.txt", "file\n"),
        ],
    );
    // A gzipped tar for ADD to extract.
    let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cd {0} && mkdir -p t/sub && echo in-tar > t/sub/x && tar -C t -czf arch.tar.gz sub && rm -rf t",
                ctx.display()
            ))
            .status()
            .unwrap();
    assert!(st.success());
    let out = build(&env, &["-t", "meta:1"], &ctx);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("STEP 1/15: FROM {base}"),
        "[{mode:?}] {out}"
    );
    assert!(lines.contains(&"STEP 10/15: RUN echo \"$A $B\" > out; echo to-stdout"));
    assert!(
        lines.contains(&"to-stdout"),
        "[{mode:?}] RUN output streamed: {out}"
    );
    assert!(lines.contains(&"COMMIT meta:1"), "[{mode:?}] {out}");
    assert!(lines.contains(&"Successfully tagged localhost/meta:1"));
    let arrows = lines.iter().filter(|l| l.starts_with("--> ")).count();
    assert_eq!(arrows, 14, "[{mode:?}] one --> per step after FROM: {out}");
    let id = last_id(&out);
    assert_eq!(env.inspect("meta:1")["Id"], id.as_str());

    let c = config(&env, "meta:1");
    assert!(c["Env"].to_string().contains("B=two words"), "{c}");
    assert_eq!(c["Labels"]["x"], "y");
    assert!(c["ExposedPorts"].get("80/tcp").is_some(), "{c}");
    assert!(c["ExposedPorts"].get("90/udp").is_some(), "{c}");
    assert!(c["Volumes"].get("/data").is_some(), "{c}");
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["/bin/sh", "-ec", "echo from-cmd"]),
        "[{mode:?}] shell-form CMD uses the SHELL in force"
    );
    let h = history(&env, "meta:1");
    assert!(
        h.contains(&"/bin/sh -c #(nop) ENV A=1 B=\"two words\"".to_string()),
        "{h:?}"
    );
    assert!(
        h.contains(&"/bin/sh -c echo \"$A $B\" > out; echo to-stdout".to_string()),
        "{h:?}"
    );

    let got = env.ok(&["run", "--rm", "meta:1"]);
    assert_eq!(got, "from-cmd\n");
    let got = sh(
        &env,
        "meta:1",
        "cat /app/out /exec /app/f.txt /unpacked/sub/x; pwd",
    );
    assert_eq!(got, "1 two words\nexec\nfile\nin-tar\n/app\n", "[{mode:?}]");
}

both_modes!(stages_copy_from_target_and_build_args);
fn stages_copy_from_target_and_build_args(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[(
            "Containerfile",
            "ARG IMG={BASE}\n\
                 FROM $IMG AS first\n\
                 ARG X=default\n\
                 RUN echo \"x=$X\" > /made\n\
                 FROM $IMG AS second\n\
                 COPY --from=first /made /copied\n\
                 RUN echo \"[$X]\" > /scoped\n\
                 FROM $IMG AS broken\n\
                 RUN exit 7\n",
        )],
    );
    let out = build(
        &env,
        &[
            "--target",
            "second",
            "--build-arg",
            "X=given",
            "--build-arg",
            "UNUSED=1",
            "-t",
            "st",
        ],
        &ctx,
    );
    assert!(out.contains("[1/2] STEP 1/3: FROM"), "[{mode:?}] {out}");
    assert!(out.contains("[2/2] COMMIT st"), "[{mode:?}] {out}");
    assert!(
        !out.contains("exit 7"),
        "[{mode:?}] the unneeded stage is skipped: {out}"
    );
    assert!(
        out.contains("[Warning] one or more build args were not consumed: [UNUSED]"),
        "[{mode:?}] {out}"
    );
    let got = sh(&env, "st", "cat /copied /scoped");
    assert_eq!(
        got, "x=given\n[]\n",
        "[{mode:?}] an ARG is scoped to its stage"
    );

    // The last stage is the default target and fails.
    let out = env.run(&["build", ctx.to_str().unwrap()]);
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
}

both_modes!(entrypoint_resets_the_inherited_cmd);
fn entrypoint_resets_the_inherited_cmd(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("Parent", "FROM {BASE}\nCMD [\"from-parent\"]\n"),
            ("Child", "FROM parent\nENTRYPOINT [\"/bin/echo\", \"ep\"]\n"),
            (
                "Both",
                "FROM parent\nCMD [\"mine\"]\nENTRYPOINT [\"/bin/echo\"]\n",
            ),
        ],
    );
    let p = |f: &str| ctx.join(f).to_str().unwrap().to_string();
    build(&env, &["-f", &p("Parent"), "-t", "parent"], &ctx);
    build(&env, &["-f", &p("Child"), "-t", "child"], &ctx);
    build(&env, &["-f", &p("Both"), "-t", "both"], &ctx);
    assert!(config(&env, "child")["Cmd"].is_null(), "[{mode:?}]");
    assert_eq!(env.ok(&["run", "--rm", "child"]), "ep\n");
    assert_eq!(env.ok(&["run", "--rm", "both"]), "mine\n");
}

both_modes!(user_chown_chmod_and_ignore_rules);
fn user_chown_chmod_and_ignore_rules(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\n\
                     COPY --chown=user:user f /home/user/f\n\
                     COPY --chmod=640 f /rootfile\n\
                     COPY . /all/\n\
                     COPY dir /dircontents\n\
                     USER user\n\
                     RUN id -u > /tmp/uid && touch /home/user/made\n",
            ),
            ("f", "data\n"),
            (".containerignore", "*.log\nsecret\n!keep.log\n"),
            ("a.log", "ignored"),
            ("keep.log", "kept"),
            ("secret/key", "hidden"),
            ("dir/sub/x", "x"),
        ],
    );
    build(&env, &["-t", "own"], &ctx);
    let got = sh(
        &env,
        "own",
        "stat -c '%u:%g %a' /home/user/f /rootfile /home/user/made; cat /tmp/uid; \
             cd /all && find . | sort; ls /dircontents",
    );
    let want = "1000:1000 644\n0:0 640\n1000:1000 644\n1000\n.\n./.containerignore\n\
                    ./Containerfile\n./dir\n./dir/sub\n./dir/sub/x\n./f\n./keep.log\nsub\n";
    assert_eq!(got, want, "[{mode:?}]");
    assert_eq!(config(&env, "own")["User"], "user");
}

both_modes!(heredocs_and_onbuild);
fn heredocs_and_onbuild(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            (
                "Base",
                "FROM {BASE}\n\
                     ARG WHO=world\n\
                     RUN <<EOF\n\
                     echo one > /h1\n\
                     echo two >> /h1\n\
                     EOF\n\
                     COPY <<EOF /greeting\n\
                     hello $WHO\n\
                     EOF\n\
                     RUN <<EOF\n\
                     #!/bin/sh\n\
                     echo script > /h2\n\
                     EOF\n\
                     ONBUILD RUN echo triggered > /trig\n",
            ),
            ("Child", "FROM hbase\nRUN cat /trig\n"),
        ],
    );
    let p = |f: &str| ctx.join(f).to_str().unwrap().to_string();
    build(&env, &["-f", &p("Base"), "-t", "hbase"], &ctx);
    let got = sh(
        &env,
        "hbase",
        "cat /h1 /greeting /h2; test -e /trig || echo no-trig",
    );
    assert_eq!(
        got, "one\ntwo\nhello world\nscript\nno-trig\n",
        "[{mode:?}]"
    );
    assert!(config(&env, "hbase").to_string().contains("echo triggered"));
    let out = build(&env, &["-f", &p("Child"), "-t", "hchild"], &ctx);
    assert!(
        out.contains("triggered\n"),
        "[{mode:?}] the trigger ran first: {out}"
    );
    assert!(
        !config(&env, "hchild")
            .to_string()
            .contains("echo triggered"),
        "[{mode:?}] triggers are not inherited further"
    );
}

fn cached_steps(out: &str) -> usize {
    out.lines()
        .filter(|l| l.starts_with("--> Using cache "))
        .count()
}

both_modes!(cache_hits_and_misses);
fn cache_hits_and_misses(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\n\
                     RUN echo first > /first\n\
                     COPY a /a\n\
                     ARG V=1\n\
                     RUN echo \"v=$V\" > /v\n\
                     COPY b /b\n",
            ),
            ("a", "a1"),
            ("b", "b1"),
        ],
    );
    let first = build(&env, &["-t", "c"], &ctx);
    assert_eq!(cached_steps(&first), 0, "[{mode:?}] {first}");
    let again = build(&env, &["-t", "c"], &ctx);
    // An ARG makes no image of its own (buildah's way), so no cache line.
    assert_eq!(cached_steps(&again), 4, "[{mode:?}] {again}");
    assert_eq!(last_id(&first), last_id(&again));

    // One copied file changed: from that step on, no earlier.
    write(&ctx, "a", "a2");
    let out = build(&env, &["-t", "c"], &ctx);
    assert_eq!(cached_steps(&out), 1, "[{mode:?}] {out}");
    // One arg changed: the RUN that uses it and after.
    let out = build(&env, &["-t", "c", "--build-arg", "V=2"], &ctx);
    assert_eq!(cached_steps(&out), 2, "[{mode:?}] {out}");
    assert_eq!(sh(&env, "c", "cat /a /v"), "a2v=2\n");
    // The last file: only the last step.
    write(&ctx, "b", "b2");
    let out = build(&env, &["-t", "c", "--build-arg", "V=2"], &ctx);
    assert_eq!(cached_steps(&out), 3, "[{mode:?}] {out}");
    let out = build(&env, &["--no-cache", "-t", "c"], &ctx);
    assert_eq!(cached_steps(&out), 0, "[{mode:?}] {out}");
    // Intermediate images are untagged, like podman's.
    assert_eq!(
        env.image_names()
            .iter()
            .filter(|n| n.contains("/c:"))
            .count(),
        1
    );
}

both_modes!(failures_leave_nothing_behind);
fn failures_leave_nothing_behind(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            (
                "Fail",
                "FROM {BASE}\nRUN echo before > /x\nRUN echo out; exit 3\n",
            ),
            ("Missing", "FROM {BASE}\nCOPY nosuchfile /x\n"),
        ],
    );
    let images_before = env.image_ids().len();
    let p = |f: &str| ctx.join(f).to_str().unwrap().to_string();
    let out = env.run(&[
        "build",
        "-f",
        &p("Fail"),
        "-t",
        "bad",
        ctx.to_str().unwrap(),
    ]);
    assert_error(
        mode,
        "build with a failing RUN",
        &out,
        125,
        &["building at STEP \"RUN echo out; exit 3\": while running runtime: exit status 3"],
    );
    assert!(out.stdout.contains("out\n"), "[{mode:?}] {out:?}");
    assert!(!env.image_names().iter().any(|n| n.contains("bad")));
    assert!(
        env.all_container_ids().is_empty(),
        "[{mode:?}] no build container left"
    );
    assert!(
        env.container_dirs().is_empty(),
        "[{mode:?}] {:?}",
        env.container_dirs()
    );
    assert!(env.image_ids().len() >= images_before);

    let out = env.run(&["build", "-f", &p("Missing"), ctx.to_str().unwrap()]);
    assert_error(mode, "COPY of a missing file", &out, 125, &["nosuchfile"]);
}

both_modes!(killed_build_leaves_a_usable_store);
fn killed_build_leaves_a_usable_store(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("Slow", "FROM {BASE}\nRUN sleep 30\n"),
            ("Ok", "FROM {BASE}\nRUN echo fine > /ok\n"),
        ],
    );
    let p = |f: &str| ctx.join(f).to_str().unwrap().to_string();
    let mut child = env
        .coracle_command(&["build", "-f", &p("Slow"), ctx.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = env.store_dir().join("containers");
    let started = wait_for(Duration::from_secs(30), || {
        std::fs::read_dir(&store)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    });
    assert!(started, "[{mode:?}] the RUN container never appeared");
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: a signal to a process this test started.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(200));

    build(&env, &["-f", &p("Ok"), "-t", "ok"], &ctx);
    assert_eq!(sh(&env, "ok", "cat /ok"), "fine\n");
    assert!(
        env.all_container_ids().is_empty(),
        "[{mode:?}] the killed build's container was swept"
    );
    env.reap();
}

both_modes!(prune_build_containers_and_cache_mounts);
/// `system prune --build` removes build containers, running or not; `image prune --build-cache` (and `-a`, `system prune
/// -a`) the directories `RUN --mount=type=cache` keeps between builds.
fn prune_build_containers_and_cache_mounts(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("Slow", "FROM {BASE}\nRUN sleep 60\n"),
            (
                "Cache",
                "FROM {BASE}\nRUN --mount=type=cache,target=/cache echo kept > /cache/f\n",
            ),
            (
                "Probe",
                "FROM {BASE}\nRUN --mount=type=cache,target=/cache ls /cache > /seen\n",
            ),
        ],
    );
    let p = |f: &str| ctx.join(f).to_str().unwrap().to_string();
    let mut child = env
        .coracle_command(&["build", "-f", &p("Slow"), ctx.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = wait_for(Duration::from_secs(30), || {
        env.ok(&["ps", "--format", "{{.ID}}"]).lines().count() == 1
    });
    assert!(started, "[{mode:?}] the RUN container never ran");
    let left = env.all_container_ids();
    assert_eq!(left.len(), 1, "[{mode:?}]");
    // A running build container: system prune leaves it, --build takes
    // it (as podman's, unsafe while a build runs: that build fails).
    let out = env.ok(&["system", "prune", "-f"]);
    assert!(!out.contains(&left[0]), "[{mode:?}] {out}");
    assert_eq!(
        env.all_container_ids(),
        left,
        "[{mode:?}] not without --build"
    );
    let out = env.ok(&["system", "prune", "-f", "--build"]);
    assert!(
        out.starts_with(&format!("Deleted Containers\n{}\n", left[0])),
        "[{mode:?}] {out}"
    );
    let ended = wait_for(Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        // SAFETY: a signal to a process this test started.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    }
    let status = child.wait().unwrap();
    assert!(
        ended && !status.success(),
        "[{mode:?}] the build fails without its container: {status:?}"
    );
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");

    let cache = env.store_dir().join("build-cache-mounts");
    let seen = |tag: &str| {
        build(&env, &["--no-cache", "-f", &p("Probe"), "-t", tag], &ctx);
        sh(&env, tag, "cat /seen")
    };
    build(&env, &["--no-cache", "-f", &p("Cache")], &ctx);
    env.ok(&["image", "prune", "-f"]);
    assert_eq!(
        seen("probe1"),
        "f\n",
        "[{mode:?}] the cache outlives a prune"
    );
    env.ok(&["image", "prune", "-f", "--build-cache"]);
    assert!(!cache.exists(), "[{mode:?}]");
    assert_eq!(seen("probe2"), "", "[{mode:?}] the cache is gone");
    build(&env, &["--no-cache", "-f", &p("Cache")], &ctx);
    env.ok(&["system", "prune", "-a", "-f"]);
    assert!(!cache.exists(), "[{mode:?}] system prune -a takes it too");
    env.reap();
}

both_modes!(image_prune_external_takes_images_only_build_containers_use);
/// `image prune --external`: images the RUN containers of builds use (here
/// a killed build's, on the dangling image of its first step) are pruned,
/// those containers first; an image a container of the user's uses stays.
fn image_prune_external_takes_images_only_build_containers_use(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[("Two", "FROM {BASE}\nRUN echo a > /a\nRUN sleep 60\n")],
    );
    let file = ctx.join("Two");
    let mut child = env
        .coracle_command(&["build", "-f", file.to_str().unwrap(), ctx.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = wait_for(Duration::from_secs(30), || {
        env.ok(&["ps", "--format", "{{.Command}}"])
            .contains("sleep")
    });
    // SAFETY: a signal to a process this test started.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    assert!(started, "[{mode:?}] the second RUN container never ran");
    let left = env.all_container_ids();
    assert_eq!(left.len(), 1, "[{mode:?}] {left:?}");
    let image = env
        .ok(&["inspect", "--format", "{{.Image}}", &left[0]])
        .trim()
        .to_string();
    assert!(is_hex(&image, 64), "[{mode:?}] {image}");
    let has_image = |env: &TestEnv| env.run(&["image", "exists", &image]).status == 0;
    assert!(has_image(&env), "[{mode:?}] the first step's image");

    // Without --external the build container keeps its image.
    let out = env.ok(&["image", "prune", "-f"]);
    assert!(!out.contains(&image), "[{mode:?}] {out}");
    assert!(has_image(&env), "[{mode:?}]");
    // A container of the user's on it: kept, with the build's container.
    env.ok(&["create", "--name", "mine", &image, "true"]);
    let out = env.ok(&["image", "prune", "-f", "--external"]);
    assert!(!out.contains(&image), "[{mode:?}] {out}");
    assert!(has_image(&env), "[{mode:?}]");
    assert_eq!(env.all_container_ids().len(), 2, "[{mode:?}]");
    env.ok(&["rm", "mine"]);
    let out = env.ok(&["image", "prune", "-f", "--external"]);
    assert!(out.lines().any(|l| l == image), "[{mode:?}] {out}");
    assert!(!has_image(&env), "[{mode:?}]");
    assert!(
        env.all_container_ids().is_empty(),
        "[{mode:?}] the build container went first"
    );
    env.ok(&["run", "--rm", &base, "true"]);
    env.reap();
}

both_modes!(stdin_file_quiet_iidfile_and_push);
fn stdin_file_quiet_iidfile_and_push(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(&env, "ctx", &base, &[("x", "x")]);
    let iid = env.home.join("iid");
    let file = format!("FROM {base}\nCOPY x /x\nCMD [\"cat\", \"/x\"]\n");
    let out = env.run_stdin(
        &[
            "build",
            "-q",
            "-f",
            "-",
            "--iidfile",
            iid.to_str().unwrap(),
            "-t",
            "pushme",
            ctx.to_str().unwrap(),
        ],
        file.as_bytes(),
    );
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let id = out.stdout.trim().to_string();
    assert!(
        is_hex(&id, 64),
        "[{mode:?}] -q prints only the id: {:?}",
        out.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&iid).unwrap(),
        format!("sha256:{id}")
    );

    let dest = format!("{}/{}:1", registry().host, unique("built/app"));
    env.ok(&["push", "--tls-verify=false", "pushme", &dest]);
    let other = TestEnv::new(mode);
    other.ok(&["pull", "--tls-verify=false", &dest]);
    assert_eq!(other.ok(&["run", "--rm", &dest]), "x");
}

// Security issue #12: every build source is resolved inside its own root
// (the context, or the source image), links followed only within it, and
// nothing is written through a link. Each test runs once per mode, as two
// test functions, so a failure as root does not hide the rootless result.

/// A host directory outside every context, writable by the test user,
/// holding a file no build may ever copy (content unique to this test).
struct HostSecret {
    dir: PathBuf,
    file: PathBuf,
    content: String,
}

fn host_secret(env: &TestEnv) -> HostSecret {
    let dir = env.dir.join("host");
    mkdir_mode(&dir, 0o777);
    let file = dir.join("secret");
    let content = unique("host-only-secret");
    std::fs::write(&file, &content).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    HostSecret { dir, file, content }
}

fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// `path` without its leading `/`, to mirror a host path inside a context
/// or climb to it with `../`.
fn rel(path: &Path) -> String {
    path.to_str().unwrap().trim_start_matches('/').to_string()
}

/// A regular file under `dir` (links not followed) holding `needle`.
fn find_content(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(dir).ok()?;
    if meta.is_file() {
        let data = std::fs::read(dir).ok()?;
        return data
            .windows(needle.len())
            .any(|w| w == needle)
            .then(|| dir.to_path_buf());
    }
    if !meta.is_dir() {
        return None;
    }
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find_map(|e| find_content(&e.path(), needle))
}

/// What a user would fear: the host's secret in any layer of the store.
fn assert_secret_nowhere(env: &TestEnv, secret: &HostSecret) {
    for id in env.layer_ids() {
        let found = find_content(&env.layer_dir(&id), secret.content.as_bytes());
        assert!(
            found.is_none(),
            "[{:?}] the host's file was copied into the store: {found:?}",
            env.mode
        );
    }
}

fn build_with(env: &TestEnv, ctx: &Path, file: &str, tag: &str) -> Out {
    let f = ctx.join(file);
    env.run(&[
        "build",
        "-f",
        f.to_str().unwrap(),
        "-t",
        tag,
        ctx.to_str().unwrap(),
    ])
}

fn assert_not_built(env: &TestEnv, what: &str, out: &Out, tag: &str, source: &str) {
    let needle = format!("\"/{source}\": no such file or directory");
    assert_error(env.mode, what, out, 125, &[&needle]);
    assert!(
        !env.image_names().iter().any(|n| n.contains(tag)),
        "[{:?}] {what}: no image tagged",
        env.mode
    );
}

both_modes!(copy_symlink_escape);
fn copy_symlink_escape(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let secret = host_secret(&env);
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("Plain", "FROM {BASE}\nCOPY s /s\n"),
            ("Wild", "FROM {BASE}\nCOPY s* /d/\n"),
            ("Add", "FROM {BASE}\nADD s /s\n"),
        ],
    );
    symlink(&secret.file, &ctx.join("s"));
    for file in ["Plain", "Wild", "Add"] {
        let out = build_with(&env, &ctx, file, "esc");
        assert_not_built(&env, file, &out, "esc", "s");
    }
    assert_secret_nowhere(&env, &secret);
}

both_modes!(copy_relative_symlink_escape);
fn copy_relative_symlink_escape(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let secret = host_secret(&env);
    let up = "../".repeat(16);
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("File", "FROM {BASE}\nCOPY s /s\n"),
            (
                "Dir",
                &format!("FROM {{BASE}}\nCOPY up/{} /s\n", rel(&secret.file)),
            ),
        ],
    );
    symlink(format!("{up}{}", rel(&secret.file)), &ctx.join("s"));
    symlink(&up, &ctx.join("up"));
    let out = build_with(&env, &ctx, "File", "rel");
    assert_not_built(&env, "a ../.. link to a host file", &out, "rel", "s");
    let out = build_with(&env, &ctx, "Dir", "rel");
    assert_not_built(
        &env,
        "a path through a ../.. link",
        &out,
        "rel",
        &format!("up/{}", rel(&secret.file)),
    );
    assert_secret_nowhere(&env, &secret);
}

both_modes!(copy_symlink_chain);
/// A chain of links ending in an absolute path resolves as if the context
/// were `/`: to the context's own copy of that path.
fn copy_symlink_chain(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let secret = host_secret(&env);
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("Containerfile", "FROM {BASE}\nCOPY a /s\nCOPY in /in\n"),
            (&rel(&secret.file), "the context's own\n"),
            ("sub/f", "inside\n"),
        ],
    );
    symlink("b", &ctx.join("a"));
    symlink("./c", &ctx.join("b"));
    symlink(&secret.file, &ctx.join("c"));
    symlink("sub/../x", &ctx.join("in"));
    symlink("/sub/f", &ctx.join("x"));
    build(&env, &["-t", "chain"], &ctx);
    let got = sh(&env, "chain", "cat /s /in; test -L /s || echo not-a-link");
    assert_eq!(got, "the context's own\ninside\nnot-a-link\n", "[{mode:?}]");
    assert_secret_nowhere(&env, &secret);
}

both_modes!(copy_symlinked_dir);
/// A named link to a host directory is refused; links below a copied
/// directory are copied as links, never followed.
fn copy_symlinked_dir(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let secret = host_secret(&env);
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("Dir", "FROM {BASE}\nCOPY d /d/\n"),
            ("Below", "FROM {BASE}\nCOPY d/secret /s\n"),
            ("Wild", "FROM {BASE}\nCOPY d/* /w/\n"),
            ("Tree", "FROM {BASE}\nCOPY tree /tree/\n"),
            ("tree/f", "plain\n"),
        ],
    );
    symlink(&secret.dir, &ctx.join("d"));
    symlink(&secret.file, &ctx.join("tree/abs"));
    symlink(
        format!("{}{}", "../".repeat(16), rel(&secret.file)),
        &ctx.join("tree/up"),
    );
    let out = build_with(&env, &ctx, "Dir", "sdir");
    assert_not_built(&env, "a link to a host directory", &out, "sdir", "d");
    let out = build_with(&env, &ctx, "Below", "sdir");
    assert_not_built(&env, "a file below a linked dir", &out, "sdir", "d/secret");
    let out = build_with(&env, &ctx, "Wild", "sdir");
    assert_not_built(&env, "a wildcard below a linked dir", &out, "sdir", "d/*");

    let out = build_with(&env, &ctx, "Tree", "tree");
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let got = sh(
        &env,
        "tree",
        "cat /tree/f; readlink /tree/abs; cat /tree/abs /tree/up 2>/dev/null; true",
    );
    assert_eq!(
        got,
        format!("plain\n{}\n", secret.file.display()),
        "[{mode:?}] links below a copied dir stay links"
    );
    assert_secret_nowhere(&env, &secret);
}

both_modes!(ignore_file_symlink_escape);
/// `.containerignore` is read inside the context too: a link to a host
/// file means the context's own (absent) file, so nothing is excluded.
fn ignore_file_symlink_escape(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let secret = host_secret(&env);
    let host_ignore = secret.dir.join("ignore");
    std::fs::write(&host_ignore, "keep\n").unwrap();
    std::fs::set_permissions(
        &host_ignore,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("Containerfile", "FROM {BASE}\nCOPY keep /keep\n"),
            ("keep", "kept\n"),
        ],
    );
    symlink(&host_ignore, &ctx.join(".containerignore"));
    build(&env, &["-t", "ign"], &ctx);
    assert_eq!(sh(&env, "ign", "cat /keep"), "kept\n", "[{mode:?}]");
}

both_modes!(copy_from_image_symlink);
/// `COPY --from` resolves links inside the source image or stage: an
/// image's `/hostroot -> /` leads to the image's own root.
fn copy_from_image_symlink(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let secret = host_secret(&env);
    let file = secret.file.display().to_string();
    let dir = secret.dir.display().to_string();
    let evil = format!(
        "FROM {{BASE}} AS evil\n\
         RUN mkdir -p {dir} && echo image-own > {file} && ln -s / /hostroot && ln -s /hostroot{file} /direct\n"
    );
    let uses = |from: &str| {
        format!(
            "FROM {{BASE}}\n\
             COPY --from={from} /hostroot{file} /s\n\
             COPY --from={from} /hostroot{dir} /d/\n\
             COPY --from={from} /direct /direct\n"
        )
    };
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("Evil", &evil),
            ("FromImage", &uses("evil")),
            ("FromStage", &format!("{evil}{}", uses("evil"))),
        ],
    );
    build(
        &env,
        &["-f", ctx.join("Evil").to_str().unwrap(), "-t", "evil"],
        &ctx,
    );
    for (file, tag) in [("FromImage", "fromimg"), ("FromStage", "fromstage")] {
        let out = build_with(&env, &ctx, file, tag);
        assert_eq!(out.status, 0, "[{mode:?}] {file}: {out:?}");
        let got = sh(
            &env,
            tag,
            "cat /s /d/secret /direct; test -L /direct || echo not-a-link",
        );
        assert_eq!(
            got, "image-own\nimage-own\nimage-own\nnot-a-link\n",
            "[{mode:?}] {file}: the image's own file, not the host's"
        );
    }
    assert_secret_nowhere(&env, &secret);
}

both_modes!(add_archive_symlinks);
/// ADD of archives: one reached through a link out of the context is not
/// found; links inside an archive are data, and an entry below such a
/// link never lands outside the image.
fn add_archive_symlinks(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let secret = host_secret(&env);
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            ("Outside", "FROM {BASE}\nADD a.tar /x/\n"),
            ("Links", "FROM {BASE}\nADD links.tar /l/\n"),
            ("Evil", "FROM {BASE}\nADD evil.tar /e/\n"),
        ],
    );
    let sh_ok = |script: String| {
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .status()
            .unwrap();
        assert!(st.success());
    };
    let (c, h) = (ctx.display(), secret.dir.display());
    // A host archive holding the secret, and a context link to it.
    sh_ok(format!(
        "cd {h} && tar -cf host.tar secret && chmod 644 host.tar"
    ));
    symlink(secret.dir.join("host.tar"), &ctx.join("a.tar"));
    // Links to the host's file and directory, and a file below the latter.
    let up = format!("{}{}", "../".repeat(16), rel(&secret.file));
    sh_ok(format!(
        "cd {c} && mkdir t && ln -s {f} t/abs && ln -s {up} t/up && ln -s {h} t/esc && \
         tar -C t -cf links.tar abs up esc && mkdir -p u/escX && echo pwned > u/escX/pwned && \
         cp links.tar evil.tar && tar -C u -rf evil.tar --transform s,^escX,esc, escX/pwned && \
         rm -rf t u",
        f = secret.file.display()
    ));

    let out = build_with(&env, &ctx, "Outside", "addx");
    assert_not_built(&env, "ADD of a linked host archive", &out, "addx", "a.tar");

    let out = build_with(&env, &ctx, "Links", "addl");
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let got = sh(
        &env,
        "addl",
        "readlink /l/abs; readlink /l/esc; cat /l/abs /l/up 2>/dev/null; ls /l/esc/ 2>/dev/null; true",
    );
    assert_eq!(
        got,
        format!("{}\n{h}\n", secret.file.display()),
        "[{mode:?}] links stay links"
    );

    let out = build_with(&env, &ctx, "Evil", "adde");
    assert!(
        !secret.dir.join("pwned").exists(),
        "[{mode:?}] an archive entry was written on the host: {out:?}"
    );
    assert_error(
        mode,
        "ADD of an archive writing below a link",
        &out,
        125,
        &["evil.tar", "esc/pwned", "is a symlink"],
    );
    assert_secret_nowhere(&env, &secret);
}

both_modes!(copy_never_writes_through_links);
/// The destination side: a link an earlier source of the same step puts in
/// the layer is replaced, never written through.
fn copy_never_writes_through_links(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let secret = host_secret(&env);
    let ctx = context(
        &env,
        "ctx",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\nCOPY a b /d/\nCOPY a <<hd /e/\nfrom-heredoc\nhd\n",
            ),
            // b/x is left out but b/x/pwned comes back: the walk reaches
            // it without making /d/x, which a/x made a link.
            (".containerignore", "b/x\n!b/x/pwned\n"),
            ("b/x/pwned", "from-context\n"),
        ],
    );
    std::fs::create_dir(ctx.join("a")).unwrap();
    symlink(&secret.dir, &ctx.join("a/x"));
    symlink(secret.dir.join("hd"), &ctx.join("a/hd"));
    let out = build_with(&env, &ctx, "Containerfile", "dst");
    let written: Vec<_> = std::fs::read_dir(&secret.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "secret")
        .collect();
    assert!(
        written.is_empty(),
        "[{mode:?}] the build wrote on the host: {written:?} {out:?}"
    );
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let got = sh(
        &env,
        "dst",
        "cat /d/x/pwned /e/hd; test -L /d/x || test -L /e/hd || echo no-links",
    );
    assert_eq!(got, "from-context\nfrom-heredoc\nno-links\n", "[{mode:?}]");
}
