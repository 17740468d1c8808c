//! Hostile and broken input: a panic, Containerfiles built to exhaust the
//! builder, limits no kernel could honour. Each gives one `Error:` line,
//! exit 125, and leaves the store as it was.

mod common;

use common::*;

both_modes!(panic_is_one_line_naming_a_bug_report);
/// A panic (forced by the test-only CORACLE_TEST_PANIC) reaches the user as
/// one `Error:` line that names a report holding the message and a
/// backtrace, under the run root, and exit 125.
fn panic_is_one_line_naming_a_bug_report(mode: Mode) {
    let mut env = TestEnv::new(mode);
    env.set_env("CORACLE_TEST_PANIC", "1");
    let out = env.run(&["images"]);
    assert_eq!(out.status, 125, "[{mode:?}] {}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "[{mode:?}] one line: {}", out.stderr);
    let line = lines[0];
    assert!(
        line.starts_with("Error: internal error (a bug in coracle): CORACLE_TEST_PANIC is set"),
        "[{mode:?}] {line}"
    );
    let path = line
        .rsplit_once("please report it with ")
        .map(|(_, p)| std::path::PathBuf::from(p))
        .unwrap_or_else(|| panic!("[{mode:?}] no report path in {line}"));
    assert!(
        path.starts_with(env.runroot_dir().join("bug-reports")),
        "[{mode:?}] report {} not under the run root",
        path.display()
    );
    let report = std::fs::read_to_string(&path).unwrap();
    assert!(report.contains("CORACLE_TEST_PANIC is set"), "{report}");
    assert!(report.contains("backtrace:"), "{report}");
    assert!(report.contains("\"images\""), "the command line: {report}");
}

/// A context directory with one Containerfile, readable by the test user.
fn containerfile_context(env: &TestEnv, name: &str, text: &str) -> std::path::PathBuf {
    let dir = env.dir.join(name);
    mkdir_mode(&dir, 0o755);
    std::fs::write(dir.join("Containerfile"), text).unwrap();
    std::fs::set_permissions(
        dir.join("Containerfile"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    dir
}

both_modes!(doubling_args_end_in_one_error);
/// `ARG aN=${aN-1}${aN-1}` 30 deep asks for 2^30 bytes: the build stops at
/// the expansion limit with one line, and the store is as it was.
fn doubling_args_end_in_one_error(mode: Mode) {
    let env = TestEnv::new(mode);
    let mut text = String::from("FROM scratch\nARG a0=x\n");
    for n in 1..=30 {
        text.push_str(&format!("ARG a{n}=${{a{m}}}${{a{m}}}\n", m = n - 1));
    }
    text.push_str("LABEL last=$a30\n");
    let ctx = containerfile_context(&env, "doubling", &text);
    env.ok(&["images"]); // the store exists before the snapshot
    let before = snapshot(&env.store_dir());
    let start = std::time::Instant::now();
    let out = env.run(&["build", "-q", "-t", "doubling", ctx.to_str().unwrap()]);
    assert_error(
        mode,
        "doubling ARGs",
        &out,
        125,
        &["ARG a21=${a20}${a20}", "longer than 1 MiB"],
    );
    assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), "doubling ARGs");

    // The same chain before FROM (meta ARGs) fails the same way.
    let meta = text
        .replace("FROM scratch\n", "")
        .replace("LABEL last=$a30\n", "")
        + "FROM scratch\nLABEL x=1\n";
    let ctx = containerfile_context(&env, "doubling-meta", &meta);
    let out = env.run(&["build", "-q", ctx.to_str().unwrap()]);
    assert_error(
        mode,
        "doubling meta ARGs",
        &out,
        125,
        &["longer than 1 MiB"],
    );
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), "doubling meta ARGs");
}

both_modes!(many_args_make_no_intermediate_images);
/// 2000 chained ARGs build in seconds and leave one image, not one per
/// ARG: an ARG changes the scope of later steps, it makes no image.
fn many_args_make_no_intermediate_images(mode: Mode) {
    let env = TestEnv::new(mode);
    let mut text = String::from("FROM scratch\nARG a0=x\n");
    for n in 1..2000 {
        text.push_str(&format!("ARG a{n}=${{a{m}}}y\n", m = n - 1));
    }
    text.push_str("LABEL last=$a1999\n");
    let ctx = containerfile_context(&env, "chain", &text);
    let start = std::time::Instant::now();
    let out = env.ok(&["build", "-q", "-t", "chain", ctx.to_str().unwrap()]);
    let took = start.elapsed();
    assert!(took.as_secs() < 8, "[{mode:?}] 2000 ARGs took {took:?}");
    let id = out.lines().last().unwrap().to_string();
    let all = env.ok(&["images", "-a", "-q", "--no-trunc"]);
    assert_eq!(
        all.lines().count(),
        1,
        "[{mode:?}] one image, no intermediate ones: {all}"
    );
    let label = env.ok(&["inspect", "--format", "{{.Config.Labels.last}}", &id]);
    assert_eq!(label.trim(), format!("x{}", "y".repeat(1999)), "[{mode:?}]");

    // A second build hits the cache: the same image, still one.
    let again = env.ok(&["build", "-q", "-t", "chain", ctx.to_str().unwrap()]);
    assert_eq!(again.lines().last().unwrap(), id);
    // A changed default changes what follows.
    let changed = text.replace("ARG a0=x\n", "ARG a0=z\n");
    let ctx2 = containerfile_context(&env, "chain2", &changed);
    let other = env.ok(&["build", "-q", ctx2.to_str().unwrap()]);
    assert_ne!(
        other.lines().last().unwrap(),
        id,
        "[{mode:?}] cache key sees ARGs"
    );
}

both_modes!(impossible_limits_and_bogus_security_opts_are_refused);
/// `--memory 1`, a size past any machine, `--cpus -1` and a security
/// option podman does not know: refused with podman's words, before
/// anything is written, by `create` and `run` alike.
fn impossible_limits_and_bogus_security_opts_are_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let before = snapshot(&env.store_dir());
    let cases: &[(&[&str], &str)] = &[
        (&["--memory", "1"], "minimum memory limit allowed is 6MB"),
        (&["--memory", "5m"], "minimum memory limit allowed is 6MB"),
        (
            &["--memory", "99999999999999999999"],
            "invalid value for memory: invalid size: '99999999999999999999': value out of range",
        ),
        (&["--memory", "9000000t"], "value out of range"),
        (&["--cpus", "-1"], "range of CPUs is from 0.01 to"),
        (
            &["--security-opt", "bogus"],
            "invalid --security-opt 1: \"bogus\"",
        ),
        (
            &["--security-opt", "bogus=1"],
            "invalid --security-opt 2: \"bogus=1\"",
        ),
    ];
    for verb in ["create", "run"] {
        for (flags, needle) in cases {
            let mut args = vec![verb, "--rm"];
            if verb == "create" {
                args.pop();
            }
            args.extend_from_slice(flags);
            args.extend_from_slice(&[&img, "true"]);
            let out = env.run(&args);
            assert_error(mode, &args.join(" "), &out, 125, &[needle]);
            assert_same_snapshot(&before, &snapshot(&env.store_dir()), &args.join(" "));
        }
    }
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "", "[{mode:?}]");
    // "No limit" works; so does the floor itself where the memory
    // controller is there to take it (this host delegates none to users).
    env.ok(&["run", "--rm", "--cpus", "0", &img, "true"]);
    if mode == Mode::Root {
        env.ok(&["run", "--rm", "--memory", "6m", &img, "true"]);
    }
}
