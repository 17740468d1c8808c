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
    // Not hex letters: a name like "b" is also a prefix of some ids.
    for n in ["ka", "kb", "kc"] {
        let id = env.ok(&["create", "--name", n, "-e", &mark, &img, "true"]);
        short.push(id.trim()[..12].to_string());
    }
    let c = |args: &str| nested(&env, args);
    let script = [
        c("mount ka"),
        c("mount ka"),
        c("mount kb"),
        c("unmount -f ka"),
        "echo FORCED".into(),
        c("mount"),
        c("rm kb"),
        "echo REMOVED".into(),
        c("mount"),
        c("mount kc"),
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
        env.run(&["container", "exists", "kb"]).status,
        1,
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

both_modes!(cleanup_unmounts_and_removes_exited_containers);
fn cleanup_unmounts_and_removes_exited_containers(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let done = env.ok(&["create", "--name", "done", "-e", &mark, &img, "true"]);
    let done = done.trim().to_string();
    env.ok(&["start", "-a", "done"]);
    let busy = env.run_detached("busy", &[], &img, &["sleep", "300"]);
    // the exited container's mount goes; the running one is passed over
    let script = format!(
        "set -e; {} >/dev/null; {}; echo LIST; {}",
        nested(&env, "mount done"),
        nested(&env, "container cleanup --all"),
        nested(&env, "mount")
    );
    let out = env.ok(&["unshare", "sh", "-c", &script]);
    let (cleaned, listed) = out.split_once("LIST").unwrap();
    assert!(cleaned.contains(&done), "[{mode:?}] {out}");
    assert!(
        !cleaned.contains(&busy),
        "[{mode:?}] running one cleaned: {out}"
    );
    assert!(
        !listed.contains("merged"),
        "[{mode:?}] still mounted: {out}"
    );
    assert_eq!(env.ok(&["container", "cleanup", "busy"]), "", "[{mode:?}]");
    assert!(env.ok(&["ps", "-q"]).contains(&busy[..12]), "[{mode:?}]");
    // --rm: the container goes
    assert_eq!(
        env.ok(&["container", "cleanup", "--rm", "done"]).trim(),
        "done"
    );
    assert_eq!(
        env.run(&["container", "exists", "done"]).status,
        1,
        "[{mode:?}]"
    );
    // --rmi: its image too once no other container uses it (by the name
    // it was made from: the other name stays)
    env.ok(&["rm", "-f", "-t", "0", "busy"]);
    env.ok(&["tag", &img, "localhost/only-mine:1"]);
    env.ok(&[
        "create",
        "--name",
        "mine",
        "-e",
        &mark,
        "localhost/only-mine:1",
        "true",
    ]);
    assert_eq!(
        env.ok(&["container", "cleanup", "--rmi", "mine"]).trim(),
        "mine"
    );
    assert_eq!(
        env.run(&["container", "exists", "mine"]).status,
        1,
        "[{mode:?}]"
    );
    assert_eq!(
        env.run(&["image", "exists", "localhost/only-mine:1"])
            .status,
        1,
        "[{mode:?}] the image went"
    );
    assert_eq!(
        env.run(&["image", "exists", &img]).status,
        0,
        "[{mode:?}] its other name stays"
    );
}
