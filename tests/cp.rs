//! `cp` between the host and containers, root and rootless: both
//! directions, docker's path rules, tar streams, owners, symlinks that try
//! to leave the container, stopped and running containers.

mod common;

use common::oci::TarBuilder;
use common::*;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;

fn host_tree(env: &TestEnv) -> std::path::PathBuf {
    let src = env.dir.join("src");
    env.write_user_file(&src.join("file.txt"), b"hello\n");
    env.write_user_file(&src.join("dir/a.txt"), b"a\n");
    env.write_user_file(&src.join("dir/sub/b.txt"), b"b\n");
    std::fs::set_permissions(
        src.join("dir/a.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o751),
    )
    .unwrap();
    src
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

both_modes!(copies_both_ways_with_docker_path_rules);
fn copies_both_ways_with_docker_path_rules(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let src = host_tree(&env);
    // A stopped container: writes go through its overlay (copy-up).
    env.ok(&["run", "--name", "c", "-e", &mark, &img, "mkdir", "/target"]);

    env.ok(&["cp", s(&src.join("file.txt")), "c:/etc/"]); // into a dir
    env.ok(&["cp", s(&src.join("file.txt")), "c:/renamed.txt"]); // new name
    env.ok(&["cp", s(&src.join("dir")), "c:/etc"]); // dir into a dir
    env.ok(&["cp", &format!("{}/.", s(&src.join("dir"))), "c:/target"]); // contents
    env.ok(&["cp", s(&src.join("dir")), "c:/newdir"]); // dir to a new name
    env.ok(&["cp", s(&src.join("file.txt")), "c:/etc/passwd"]); // over a lower file

    // Read back through a committed image: what the container now holds.
    env.ok(&["commit", "-q", "c", "after:1"]);
    let ls = env.sh(
        "after:1",
        &[],
        "cat /etc/file.txt /renamed.txt /etc/dir/a.txt /etc/dir/sub/b.txt /target/a.txt \
             /target/sub/b.txt /newdir/a.txt /etc/passwd; stat -c %a /etc/dir/a.txt; \
             test -e /target/dir && echo WRONG; true",
    );
    assert_eq!(
        ls, "hello\nhello\na\nb\na\nb\na\nhello\n751\n",
        "[{mode:?}]"
    );

    // Trailing slash on a missing destination: it must be a directory.
    let out = env.run(&["cp", s(&src.join("file.txt")), "c:/nodir/"]);
    assert_error(mode, "cp to missing dir/", &out, 125, &[]);
    // A directory onto a file.
    let out = env.run(&["cp", s(&src.join("dir")), "c:/etc/passwd"]);
    assert_error(mode, "cp dir onto file", &out, 125, &[]);
    // A missing container path: podman's words, exit 125.
    let out = env.run(&["cp", "c:/no/such", s(&env.dir)]);
    assert_error(
        mode,
        "cp missing",
        &out,
        125,
        &["could not be found on container c"],
    );

    // Out of the container.
    let dest = env.dir.join("out");
    mkdir_mode(&dest, 0o755);
    if mode == Mode::Rootless {
        let u = test_user();
        std::os::unix::fs::chown(&dest, Some(u.uid), Some(u.gid)).unwrap();
    }
    env.ok(&["cp", "c:/etc/dir", s(&dest)]);
    env.ok(&["cp", "c:/target/.", s(&dest.join("contents"))]);
    env.ok(&["cp", "c:/renamed.txt", s(&dest.join("one.txt"))]);
    assert_eq!(
        std::fs::read_to_string(dest.join("dir/sub/b.txt")).unwrap(),
        "b\n"
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("contents/a.txt")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("one.txt")).unwrap(),
        "hello\n"
    );
    // Files copied out belong to the caller.
    let me = match mode {
        Mode::Root => 0,
        Mode::Rootless => test_user().uid,
    };
    assert_eq!(std::fs::metadata(dest.join("one.txt")).unwrap().uid(), me);
    assert_eq!(
        std::fs::metadata(dest.join("dir/a.txt")).unwrap().mode() & 0o777,
        0o751
    );
}

both_modes!(running_container_sees_copies_at_once_with_owners_and_no_escape);
fn running_container_sees_copies_at_once_with_owners_and_no_escape(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let src = host_tree(&env);
    let id = env.run_detached("live", &[], &img, &["sleep", "1000"]);
    env.ok(&["cp", s(&src.join("file.txt")), "live:/tmp/f"]);
    assert_eq!(env.ok(&["exec", "live", "cat", "/tmp/f"]), "hello\n");
    // Owned by the container's user (root) inside; on the host by the
    // id that container root maps to.
    assert_eq!(
        env.ok(&["exec", "live", "stat", "-c", "%u:%g", "/tmp/f"]),
        "0:0\n"
    );
    let upper = env
        .store_dir()
        .join("containers")
        .join(&id)
        .join("upper/tmp/f");
    let host_uid = std::fs::metadata(&upper).unwrap().uid();
    let expect = match mode {
        Mode::Root => 0,
        Mode::Rootless => test_user().uid,
    };
    assert_eq!(host_uid, expect, "[{mode:?}] owner of {}", upper.display());
    // A file owned by a container user copies out with... the caller's
    // ids, but keeps its mode; and keeps its owner in a tar stream.
    env.ok(&[
        "exec",
        "live",
        "sh",
        "-c",
        "echo u > /tmp/u && /bin/busybox chown 1000:1000 /tmp/u",
    ]);
    let mut cmd = env.coracle_command(&["cp", "live:/tmp/u", "-"]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tar_bytes = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut tar_bytes)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let mut a = tar::Archive::new(&tar_bytes[..]);
    let entries: Vec<(String, u64)> = a
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                e.header().uid().unwrap(),
            )
        })
        .collect();
    assert_eq!(entries, [("u".to_string(), 1000)], "[{mode:?}]");

    // `ln -s / /evil`: a copy through it lands in the container.
    env.ok(&["exec", "live", "ln", "-s", "/", "/evil"]);
    let marker = pwned_marker("cp");
    let name = marker.file_name().unwrap().to_str().unwrap().to_string();
    env.ok(&[
        "cp",
        s(&src.join("file.txt")),
        &format!("live:/evil/tmp/{name}"),
    ]);
    assert!(
        !marker.exists(),
        "[{mode:?}] wrote {} on the host",
        marker.display()
    );
    assert_eq!(
        env.ok(&["exec", "live", "cat", &format!("/tmp/{name}")]),
        "hello\n"
    );
    // A relative link that climbs: still inside.
    env.ok(&["exec", "live", "ln", "-s", "../../../../../../tmp", "/up"]);
    let marker = pwned_marker("cp-up");
    let name = marker.file_name().unwrap().to_str().unwrap().to_string();
    env.ok(&["cp", s(&src.join("file.txt")), &format!("live:/up/{name}")]);
    assert!(
        !marker.exists(),
        "[{mode:?}] wrote {} on the host",
        marker.display()
    );
    // Reading through a link to the host's files reads the container's.
    env.ok(&["exec", "live", "ln", "-s", "/etc/passwd", "/tmp/pw"]);
    let out_dir = env.home.join("pw");
    env.ok(&["cp", "live:/evil/etc/passwd", s(&out_dir)]);
    let got = std::fs::read_to_string(&out_dir).unwrap();
    assert!(
        got.contains("user:x:1000"),
        "[{mode:?}] not the container's passwd: {got}"
    );

    // A tar on stdin; a hostile one writes nothing outside.
    let mut t = TarBuilder::new();
    t.file("from-tar.txt", b"t\n", 0o640, 0, 0);
    let out = env.run_stdin(&["cp", "-", "live:/tmp"], &t.finish());
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(env.ok(&["exec", "live", "cat", "/tmp/from-tar.txt"]), "t\n");
    let marker = pwned_marker("cp-tar");
    let mut t = TarBuilder::new();
    t.raw(
        tar::EntryType::Regular,
        &format!("../../../../../../../..{}", marker.display()),
        None,
        b"pwned\n",
    );
    let out = env.run_stdin(&["cp", "-", "live:/tmp"], &t.finish());
    assert_error(mode, "cp hostile tar", &out, 125, &[]);
    assert!(
        !marker.exists(),
        "[{mode:?}] wrote {} on the host",
        marker.display()
    );
    env.ok(&["rm", "-f", "-t", "0", "live"]);
}

both_modes!(stopped_container_volumes_and_binds_are_seen_by_cp);
fn stopped_container_volumes_and_binds_are_seen_by_cp(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let src = host_tree(&env);
    let bind = env.dir.join("bind");
    env.write_user_file(&bind.join("ro.txt"), b"from the host\n");
    let ro_bind = format!("{}:/hostro:ro", s(&bind));
    env.ok(&[
        "create",
        "--name",
        "c",
        "-e",
        &mark,
        "-v",
        "cpvol:/data",
        "-v",
        &ro_bind,
        &img,
        "true",
    ]);
    // Into the (never started) container's named volume, and out of its bind.
    env.ok(&["cp", s(&src.join("file.txt")), "c:/data/"]);
    let out = env.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    if mode == Mode::Rootless {
        std::os::unix::fs::chown(&out, Some(test_user().uid), Some(test_user().gid)).unwrap();
    }
    env.ok(&["cp", "c:/hostro/ro.txt", s(&out)]);
    assert_eq!(
        std::fs::read_to_string(out.join("ro.txt")).unwrap(),
        "from the host\n",
        "[{mode:?}] read through the bind mount"
    );
    // A read-only bind stays read-only.
    let denied = env.run(&["cp", s(&src.join("file.txt")), "c:/hostro/"]);
    assert_ne!(
        denied.status, 0,
        "[{mode:?}] wrote into a :ro bind: {denied:?}"
    );
    assert!(
        !bind.join("file.txt").exists(),
        "[{mode:?}] the host dir changed"
    );
    // The file is in the volume, not in the container's own layer.
    let seen = env.ok(&[
        "run",
        "--rm",
        "-e",
        &mark,
        "-v",
        "cpvol:/v",
        &img,
        "cat",
        "/v/file.txt",
    ]);
    assert_eq!(seen, "hello\n", "[{mode:?}]");
    let diff = env.ok(&["diff", "c"]);
    assert!(
        !diff.contains("file.txt"),
        "[{mode:?}] landed in the upper dir: {diff}"
    );
}

both_modes!(copies_between_two_containers);
/// `cp A:SRC B:DEST`: the same path rules as with the host, a running and
/// a stopped container, the destination's user as owner (`--archive`) or
/// the source's owners kept (`--archive=false`).
fn copies_between_two_containers(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_kept("a", &[], &img, "mkdir -p /data/sub && echo one > /data/f && echo two > /data/sub/g && chown -R 1234:2345 /data && mkdir /empty");
    env.run_detached("b", &["--user", "1000:1000"], &img, &["sleep", "600"]);
    env.ok(&["exec", "-u", "0", "b", "mkdir", "-p", "/into"]);

    env.ok(&["cp", "a:/data/f", "b:/into/"]); // a file into a dir
    env.ok(&["cp", "a:/data/f", "b:/into/renamed"]); // a file to a new name
    env.ok(&["cp", "a:/data", "b:/into"]); // a dir into a dir
    env.ok(&["cp", "a:/data/.", "b:/tmp"]); // a dir's contents
    env.ok(&["cp", "a:/data", "b:/copied"]); // a dir to a new name
    env.ok(&["cp", "--archive=false", "a:/data/sub/g", "b:/into/kept"]);
    let out = env.ok(&[
        "exec", "b", "sh", "-c",
        "cat /into/f /into/renamed /into/data/sub/g /tmp/f /tmp/sub/g /copied/f; \
         stat -c '%u:%g' /into/f /into/data/sub/g /into/kept; test -e /tmp/data && echo WRONG; true",
    ]);
    assert_eq!(
        out, "one\none\ntwo\none\ntwo\none\n1000:1000\n1000:1000\n1234:2345\n",
        "[{mode:?}]"
    );
    // and back into the stopped one
    env.ok(&["cp", "b:/into/renamed", "a:/back"]);
    env.ok(&["commit", "-q", "a", "back:1"]);
    assert_eq!(env.sh("back:1", &[], "cat /back"), "one\n", "[{mode:?}]");
    // the rules' refusals, with nothing changed
    for (args, needle) in [
        (
            ["cp", "a:/nope", "b:/into/"],
            "could not be found on container a",
        ),
        (["cp", "a:/data", "b:/into/f"], "onto a file"),
        (
            ["cp", "a:/data/f", "b:/no/such/dir/"],
            "could not be found on container b",
        ),
    ] {
        assert_refused(&env, &args, needle);
    }
    env.ok(&["rm", "-f", "-t", "0", "a", "b"]);
}

both_modes!(overwrite_is_needed_to_swap_a_directory_and_a_file);
/// docker's and podman's `--overwrite`: without it, a copy that would
/// replace a directory by a file (or a file by a directory) is refused.
fn overwrite_is_needed_to_swap_a_directory_and_a_file(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_kept(
        "c",
        &[],
        &img,
        "mkdir -p /t/x/inner /t/y && echo file > /t/d",
    );
    let host = env.dir.join("host");
    env.write_user_file(&host.join("x"), b"a file\n");
    env.write_user_file(&host.join("d/in"), b"in a dir\n");
    // a file where the container has a directory, and the other way round
    assert_refused(
        &env,
        &["cp", s(&host.join("x")), "c:/t"],
        "cannot overwrite directory \"x\" with non-directory",
    );
    assert_refused(
        &env,
        &["cp", s(&host.join("d")), "c:/t"],
        "cannot overwrite non-directory \"d\" with directory",
    );
    let back = env.dir.join("back");
    env.write_user_file(&back.join("y"), b"a file\n");
    assert_refused(
        &env,
        &["cp", "c:/t/y", s(&back)],
        "cannot overwrite non-directory \"y\" with directory",
    );
    // --overwrite swaps them
    env.ok(&["cp", "--overwrite", s(&host.join("x")), "c:/t"]);
    env.ok(&["cp", "--overwrite", s(&host.join("d")), "c:/t"]);
    env.ok(&["cp", "--overwrite", "c:/t/y", s(&back)]);
    assert!(back.join("y").is_dir(), "[{mode:?}]");
    env.ok(&["commit", "-q", "c", "swapped:1"]);
    let out = env.sh("swapped:1", &[], "cat /t/x /t/d/in");
    assert_eq!(out, "a file\nin a dir\n", "[{mode:?}]");
    env.ok(&["rm", "c"]);
}

both_modes!(follow_link_copies_what_a_link_points_to);
/// `cp -L`: a source symlink is copied as its target, under the link's
/// name; without it the link itself is copied. A container's links resolve
/// inside its root.
fn follow_link_copies_what_a_link_points_to(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_kept("c", &[], &img, "mkdir -p /data && echo real > /data/real && ln -s real /data/link && ln -s /data /dlink && ln -s /etc/group /grp");
    let out = env.dir.join("out");
    env.write_user_file(&out.join(".keep"), b"");
    env.ok(&["cp", "c:/data/link", s(&out.join("plain"))]);
    assert!(
        std::fs::symlink_metadata(out.join("plain"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "[{mode:?}]"
    );
    env.ok(&["cp", "-L", "c:/data/link", s(&out)]);
    let meta = std::fs::symlink_metadata(out.join("link")).unwrap();
    assert!(meta.is_file(), "[{mode:?}] -L copied the link itself");
    assert_eq!(
        std::fs::read_to_string(out.join("link")).unwrap(),
        "real\n",
        "[{mode:?}]"
    );
    env.ok(&["cp", "--follow-link", "c:/dlink", s(&out)]);
    assert!(out.join("dlink").is_dir(), "[{mode:?}]");
    assert_eq!(
        std::fs::read_to_string(out.join("dlink/real")).unwrap(),
        "real\n",
        "[{mode:?}]"
    );
    // an absolute link is the container's file, not the host's
    env.ok(&["cp", "-L", "c:/grp", s(&out)]);
    assert_eq!(
        std::fs::read(out.join("grp")).unwrap(),
        RT_GROUP,
        "[{mode:?}]"
    );
    // into a container: the host link's target
    let host = env.dir.join("hostside");
    env.write_user_file(&host.join("target.txt"), b"from host\n");
    std::os::unix::fs::symlink("target.txt", host.join("hl")).unwrap();
    env.ok(&["cp", "-L", s(&host.join("hl")), "c:/"]);
    env.ok(&["commit", "-q", "c", "followed:1"]);
    assert_eq!(
        env.sh("followed:1", &[], "test -L /hl || cat /hl"),
        "from host\n",
        "[{mode:?}]"
    );
    env.ok(&["rm", "c"]);
}
