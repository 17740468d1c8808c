//! podman's boolean flags take `=true` / `=false` (Go's flag syntax) on
//! every verb: `run --rm=false` keeps the container, `-d=false` stays
//! attached, the flag alone still means true, the last one given counts,
//! and anything but true or false is refused.

mod common;

use common::*;

fn names(env: &TestEnv) -> Vec<String> {
    let out = env.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

both_modes!(run_rm_and_detach_take_values);
fn run_rm_and_detach_take_values(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let mark = env.mark();
    let run = |name: &str, flags: &[&str], script: &str| {
        let mut a = vec!["run", "--name", name, "-e", &mark];
        a.extend_from_slice(flags);
        a.extend_from_slice(&[&img, "sh", "-c", script]);
        env.ok(&a)
    };
    // --rm=false keeps the container, even after a bare --rm
    assert_eq!(run("kept", &["--rm=false"], "echo hi"), "hi\n");
    assert_eq!(run("kept2", &["--rm", "--rm=false"], "true"), "");
    assert_eq!(run("gone", &["--rm=true"], "true"), "");
    assert_eq!(run("gone2", &["--rm=false", "--rm"], "true"), "");
    assert_eq!(names(&env), ["kept", "kept2"], "[{mode:?}]");

    // -d=false is attached: the program's output, not an id
    assert_eq!(
        run("att", &["--rm", "-d=false"], "echo attached"),
        "attached\n"
    );
    assert_eq!(
        run("att2", &["--rm", "--detach=false"], "echo attached"),
        "attached\n"
    );
    let id = run("det", &["-d=true"], "sleep 600");
    assert!(is_hex(id.trim(), 64), "[{mode:?}] -d=true printed {id:?}");
    // short flags in a cluster still work beside a valued one
    let out = run("cl", &["--rm=true", "-i=false", "-t=false"], "echo ok");
    assert_eq!(out, "ok\n", "[{mode:?}]");

    // --tty=false: no terminal
    let out = run(
        "notty",
        &["--rm", "--tty=false"],
        "[ -t 1 ] && echo tty || echo notty",
    );
    assert_eq!(out, "notty\n", "[{mode:?}]");
    // a word after the image is the program's, never a flag of coracle's
    let out = env.ok(&[
        "run",
        "--rm",
        "-e",
        &mark,
        &img,
        "echo",
        "--rm=false",
        "-d=true",
    ]);
    assert_eq!(out, "--rm=false -d=true\n", "[{mode:?}]");

    // ps --all=true lists the exited containers, --all=false does not
    let running = env.ok(&["ps", "--all=false", "--format", "{{.Names}}"]);
    assert_eq!(running, "det\n", "[{mode:?}]");
    let all = env.ok(&["ps", "--all=true", "--format", "{{.Names}}"]);
    assert_eq!(
        word_set(&all),
        word_set("det kept kept2"),
        "[{mode:?}] {all}"
    );

    // rm --force=true removes a running container; --force=false refuses
    let out = env.run(&["rm", "--force=false", "det"]);
    assert_ne!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(names(&env).contains(&"det".to_string()), "[{mode:?}]");
    env.ok(&["rm", "--force=true", "-t", "0", "det"]);
    assert_eq!(names(&env), ["kept", "kept2"], "[{mode:?}]");
    env.ok(&["rm", "--all=true"]);
    assert!(names(&env).is_empty(), "[{mode:?}]");
}

both_modes!(bad_boolean_values_are_refused);
fn bad_boolean_values_are_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    for (args, needle) in [
        (
            vec!["run", "--rm=bogus", &img, "true"],
            "invalid value 'bogus'",
        ),
        (vec!["run", "-d=yes", &img, "true"], "invalid value 'yes'"),
        (
            vec!["run", "--rm=", &img, "true"],
            "a value is required for '--rm",
        ),
        (
            vec!["run", "--bogus=false", &img, "true"],
            "unexpected argument '--bogus'",
        ),
        (
            vec!["run", "--rm=false", "--bogus", &img, "true"],
            "unexpected argument '--bogus'",
        ),
        (vec!["ps", "--all=maybe"], "invalid value 'maybe'"),
    ] {
        assert_refused(&env, &args, needle);
    }
    // help stays as declared: a boolean shows no value
    let help = env.ok(&["run", "--help"]);
    let rm = help.lines().find(|l| l.contains("--rm ")).unwrap_or("");
    assert!(!rm.contains("true|false"), "[{mode:?}] {rm}");
}

both_modes!(images_and_build_take_values);
fn images_and_build_take_values(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = env.dir.join("ctx");
    mkdir_mode(&ctx, 0o755);
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {base}\nRUN echo one > /one\nRUN echo two > /two\n"),
    )
    .unwrap();
    let ctx = ctx.to_str().unwrap();
    let cached = |out: &str| {
        out.lines()
            .filter(|l| l.starts_with("--> Using cache"))
            .count()
    };
    env.ok(&["build", "-t", "b", ctx]);
    let out = env.ok(&["build", "--no-cache=false", "-t", "b", ctx]);
    assert_eq!(cached(&out), 2, "[{mode:?}] {out}");
    let out = env.ok(&["build", "--no-cache=true", "-t", "b", ctx]);
    assert_eq!(cached(&out), 0, "[{mode:?}] {out}");

    // images --all=false is plain `images`, --all=true is `images -a`
    let q = |args: &[&str]| word_set(&env.ok(args));
    assert_eq!(
        q(&["images", "-q", "--all=false"]),
        q(&["images", "-q"]),
        "[{mode:?}]"
    );
    assert_eq!(
        q(&["images", "-q", "--all=true"]),
        q(&["images", "-q", "-a"]),
        "[{mode:?}]"
    );
}
