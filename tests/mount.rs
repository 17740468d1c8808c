//! `mount`/`unmount`: a container's root filesystem on the host, counted,
//! listed, released by `rm`; rootless only inside `unshare`, as podman.

mod common;

use common::*;

/// `coracle ARGS` as a shell word list for a script run by `unshare`,
/// with the store flags the harness gives root.
fn nested(env: &TestEnv, args: &str) -> String {
    let bin = coracle_bin();
    match env.mode {
        Mode::Root => format!(
            "{} --root {} --runroot {} {args}",
            bin.display(),
            env.store_dir().display(),
            env.runroot_dir().display()
        ),
        Mode::Rootless => format!("{} {args}", bin.display()),
    }
}

both_modes!(mount_shows_the_container_files);
fn mount_shows_the_container_files(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let id = env
        .ok(&[
            "create",
            "--name",
            "m",
            "-e",
            &mark,
            &img,
            "sh",
            "-c",
            "echo made-here > /made",
        ])
        .trim()
        .to_string();
    env.ok(&["start", "-a", "m"]);
    // one shell in unshare's namespaces (rootless: the only place a mount
    // can be made; root: unshare just runs it)
    let script = format!(
        "set -e; p=$({m}); cat $p/made; {m} >/dev/null; {list}; echo json; {json}; \
         {un}; echo after-one; {list}; {un}; echo after-two; {list}; test ! -e $p/made && echo gone",
        m = nested(&env, "mount m"),
        list = nested(&env, "mount --notruncate"),
        json = nested(&env, "mount --format json"),
        un = nested(&env, "umount m"),
    );
    let out = env.ok(&["unshare", "sh", "-c", &script]);
    let merged = env.store_dir().join("containers").join(&id).join("merged");
    assert!(out.starts_with("made-here\n"), "[{mode:?}] {out}");
    let (before, after) = out.split_once("after-one").unwrap();
    let line = format!("{id} {}", merged.display());
    assert!(before.contains(&line), "[{mode:?}] listed: {out}");
    assert!(
        before.contains(&format!("\"mountpoint\": \"{}\"", merged.display())),
        "[{mode:?}] {out}"
    );
    assert!(
        before.contains("\"names\": [\n      \"m\""),
        "[{mode:?}] {out}"
    );
    // mounted twice: the first unmount keeps it, the second takes it
    let (one, two) = after.split_once("after-two").unwrap();
    assert!(one.contains(&line), "[{mode:?}] still mounted: {out}");
    assert!(
        !two.contains(&line) && two.contains("gone"),
        "[{mode:?}] {out}"
    );
}

both_modes!(mount_is_released_by_rm_and_force);
fn mount_is_released_by_rm_and_force(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let mut short = Vec::new();
    for n in ["a", "b", "c"] {
        let id = env.ok(&["create", "--name", n, "-e", &mark, &img, "true"]);
        short.push(id.trim()[..12].to_string());
    }
    let c = |args: &str| nested(&env, args);
    let script = [
        c("mount a"),
        c("mount a"),
        c("mount b"),
        c("unmount -f a"),
        "echo FORCED".into(),
        c("mount"),
        c("rm b"),
        "echo REMOVED".into(),
        c("mount"),
        c("mount c"),
        c("unmount --all"),
        "echo ALL".into(),
        c("mount"),
    ]
    .join(" >/dev/null; ")
    .replace("echo FORCED >/dev/null", "echo FORCED")
    .replace("echo REMOVED >/dev/null", "echo REMOVED")
    .replace("echo ALL >/dev/null", "echo ALL")
    .replace(&format!("{} >/dev/null", c("mount")), &c("mount"));
    let out = env.ok(&["unshare", "sh", "-ec", &script]);
    let (_, rest) = out.split_once("FORCED").unwrap();
    let (forced, rest) = rest.split_once("REMOVED").unwrap();
    let (removed, all) = rest.split_once("ALL").unwrap();
    // -f took both of a's mounts at once; b stays until rm releases it
    assert!(!forced.contains(&short[0]), "[{mode:?}] {out}");
    assert!(forced.contains(&short[1]), "[{mode:?}] {out}");
    assert!(
        !removed.contains("merged"),
        "[{mode:?}] rm unmounted: {out}"
    );
    assert!(!all.contains("merged"), "[{mode:?}] unmount --all: {out}");
    assert_eq!(
        env.run(&["inspect", "b"]).status,
        125,
        "[{mode:?}] b removed"
    );
}

both_modes!(mount_refusals);
fn mount_refusals(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["create", "--name", "r", "-e", &mark, &img, "true"]);
    match mode {
        // podman: rootless mounts only inside `unshare`
        Mode::Rootless => {
            assert_refused(
                &env,
                &["mount", "r"],
                "must execute `coracle unshare` first",
            );
            assert_refused(
                &env,
                &["unmount", "r"],
                "must execute `coracle unshare` first",
            );
        }
        Mode::Root => {
            assert_refused(&env, &["mount", "nosuch"], "no such container");
            assert_refused(
                &env,
                &["mount", "--format", "table", "r"],
                "unknown --format",
            );
            // not mounted: unmount says so by naming it, as podman
            assert_eq!(env.ok(&["umount", "r"]).trim(), "r");
        }
    }
}
