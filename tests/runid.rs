//! run/create's own user namespace maps (`--uidmap`, `--gidmap`,
//! `--subuidname`, `--subgidname`), descriptors passed on (`run`/`exec`
//! `--preserve-fds`, `--preserve-fd`), `--init-path`, and exec's
//! `--no-session`, as root and rootless.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use common::*;

/// The lines of /proc/self/{uid,gid}_map, spaces squeezed.
fn map_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

both_modes!(id_maps_shape_the_user_namespace);
/// The maps given are the container's (rootless through the intermediate
/// namespace), the image's files keep their owners, files the container
/// writes land on the host under the mapped ids, and inspect shows them.
fn id_maps_shape_the_user_namespace(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let u = test_user();
    // Host ids the maps land on: root's are the host's, rootless ones
    // index the intermediate namespace (1 is the first subordinate id).
    let (uid_from, gid_from, uid_host, gid_host) = match mode {
        Mode::Root => ("200000", "300000", 200000, 300000),
        Mode::Rootless => ("1", "11", u.subuid_start, u.subgid_start + 10),
    };
    let out = env.dir.join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let uidmap = format!("0:{uid_from}:5000");
    let gidmap = format!("0:{gid_from}:5000");
    let volume = format!("{}:/out", out.display());
    let got = env.run_kept(
        "mapped",
        &["--uidmap", &uidmap, "--gidmap", &gidmap, "-v", &volume],
        &img,
        "cat /proc/self/uid_map; cat /proc/self/gid_map; id -u; \
         stat -c '%u:%g' /bin/busybox /etc/group; touch /out/made",
    );
    let lines = map_lines(&got);
    assert_eq!(
        lines,
        [
            format!("0 {uid_host} 5000"),
            format!("0 {gid_host} 5000"),
            "0".to_string(),
            "0:0".to_string(),
            "0:0".to_string(),
        ],
        "[{mode:?}] {got}"
    );
    let made = std::fs::metadata(out.join("made")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (uid_host, gid_host),
        "[{mode:?}] a file the container made is owned on the host by the mapped ids"
    );
    let maps = env.ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.IDMappings.UidMap}} {{.HostConfig.IDMappings.GidMap}}",
        "mapped",
    ]);
    assert_eq!(
        maps.trim(),
        format!("[{uidmap}] [{gidmap}]"),
        "[{mode:?}] inspect"
    );
    env.ok(&["rm", "mapped"]);
    // exec joins that namespace too.
    env.run_detached(
        "mapped",
        &["--uidmap", &uidmap, "--gidmap", &gidmap],
        &img,
        &["sleep", "300"],
    );
    let exec = env.ok(&["exec", "mapped", "cat", "/proc/self/uid_map"]);
    assert_eq!(
        map_lines(&exec),
        [format!("0 {uid_host} 5000")],
        "[{mode:?}] exec"
    );
    env.ok(&["rm", "-f", "-t", "0", "mapped"]);

    // One flag serves both kinds unless `u`/`g` says otherwise; `+`
    // breaks what came before.
    let (extra_from, extra_host, g_base) = match mode {
        Mode::Root => ("300000", 300000, 200000),
        Mode::Rootless => ("200", u.subgid_start + 199, u.subgid_start),
    };
    let got = env.sh(
        &img,
        &[
            "--gidmap",
            &format!("0:{uid_from}:100"),
            "--gidmap",
            &format!("+g7:{extra_from}:1"),
        ],
        "cat /proc/self/uid_map; cat /proc/self/gid_map",
    );
    assert_eq!(
        map_lines(&got),
        [
            format!("0 {uid_host} 100"),
            format!("0 {g_base} 7"),
            format!("7 {extra_host} 1"),
            format!("8 {} 92", g_base + 8),
        ],
        "[{mode:?}] --gidmap alone, and + with g: {got}"
    );

    // --subuidname: the test user's ranges of /etc/subuid and subgid.
    let got = env.sh(
        &img,
        &["--subuidname", TEST_USER],
        "head -1 /proc/self/uid_map; head -1 /proc/self/gid_map",
    );
    let lines = map_lines(&got);
    assert!(
        lines.len() == 2
            && lines[0].starts_with(&format!("0 {} ", u.subuid_start))
            && lines[1].starts_with(&format!("0 {} ", u.subgid_start)),
        "[{mode:?}] --subuidname: {got}"
    );
}

both_modes!(bad_id_maps_are_refused);
fn bad_id_maps_are_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    for (flags, needle) in [
        (vec!["--uidmap", "0:x:1"], "invalid --uidmap"),
        (vec!["--uidmap", "0:1"], "--userns"),
        (vec!["--gidmap", "0:1:0"], "at least 1"),
        (
            vec!["--uidmap", "0:1:10", "--uidmap", "5:100:10"],
            "overlap",
        ),
        (
            vec!["--uidmap", "0:1:1", "--subuidname", TEST_USER],
            "--subuidname",
        ),
        (
            vec!["--subuidname", "nobody-has-this-name"],
            "no subordinate ids",
        ),
        (vec!["--init-path", "/bin/true"], "--init"),
        (
            vec!["--init", "--init-path", "/no/such/init"],
            "--init-path",
        ),
    ] {
        let mut args = vec!["create"];
        args.extend(&flags);
        if needle == "--userns" {
            args.extend(["--userns", "host"]);
        }
        args.extend([img.as_str(), "true"]);
        assert_refused(&env, &args, needle);
    }
    if mode == Mode::Rootless {
        // Beyond the user's intermediate namespace.
        assert_refused(
            &env,
            &["create", "--uidmap", "0:1:999999999", &img, "true"],
            "beyond",
        );
    }
}

both_modes!(preserved_fds_reach_run_and_exec);
/// The caller's descriptors reach the program under their own numbers
/// when asked for, and only then.
fn preserved_fds_reach_run_and_exec(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let file = env.dir.join("passed");
    std::fs::write(&file, "through fd 3\n").unwrap();
    // `coracle ARGS 3<file` (a file opened here, put on 3 in the child).
    let with_fd3 = |args: &[&str]| -> Out {
        let f = std::fs::File::open(&file).unwrap();
        let raw = f.as_raw_fd();
        let mut cmd = env.coracle_command(args);
        // SAFETY: dup2 is async-signal-safe; `f` outlives the spawn.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        drop(f);
        Out {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let mark = env.mark();
    let read3 = "cat <&3";
    for flags in [["--preserve-fds", "1"], ["--preserve-fd", "3"]] {
        let mut args = vec!["run", "--rm", "-e", &mark];
        args.extend(flags);
        args.extend([img.as_str(), "sh", "-c", read3]);
        let out = with_fd3(&args);
        assert_eq!(
            (out.status, out.stdout.as_str()),
            (0, "through fd 3\n"),
            "[{mode:?}] run {flags:?}: {}",
            out.stderr
        );
    }
    let out = with_fd3(&["run", "--rm", "-e", &mark, &img, "sh", "-c", read3]);
    assert_ne!(out.status, 0, "[{mode:?}] fd 3 is not passed unasked");
    // Asked for but not given: podman's error, nothing made.
    assert_refused(
        &env,
        &["run", "--rm", "--preserve-fds", "1", &img, "true"],
        "file descriptor 3 is not available",
    );

    env.run_detached("fds", &[], &img, &["sleep", "300"]);
    let out = with_fd3(&["exec", "--preserve-fd", "3", "fds", "sh", "-c", read3]);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "through fd 3\n"),
        "[{mode:?}] exec --preserve-fd: {}",
        out.stderr
    );
    let out = with_fd3(&["exec", "fds", "sh", "-c", read3]);
    assert_ne!(out.status, 0, "[{mode:?}] exec passes no fd 3 unasked");
    // --no-session: an exec as any other (coracle keeps no sessions), not
    // with --detach.
    assert_eq!(
        env.ok(&["exec", "--no-session", "fds", "echo", "ran"]),
        "ran\n"
    );
    let out = env.run(&["exec", "--no-session", "-d", "fds", "true"]);
    assert_error(mode, "exec --no-session -d", &out, 125, &["--no-session"]);
    env.ok(&["rm", "-f", "-t", "0", "fds"]);
}

both_modes!(init_path_runs_before_the_program);
/// `--init --init-path BIN`: BIN is bound at /run/podman-init and runs
/// first, with `--` and the program as its arguments.
fn init_path_runs_before_the_program(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let init = env.dir.join("my-init");
    env.write_user_file(
        &init,
        b"#!/bin/sh\necho \"init as $$: $*\"\nshift\nexec \"$@\"\n",
    );
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = init.display().to_string();
    let out = env.sh(&img, &["--init", "--init-path", &path], "echo program");
    assert_eq!(
        out, "init as 1: -- sh -c echo program\nprogram\n",
        "[{mode:?}]"
    );
}

both_modes!(systemd_mode_prepares_for_an_init);
/// `--systemd`: for an init (or always), tmpfs where systemd writes at
/// boot, a writable cgroup tree, `container_uuid` and SIGRTMIN+3; not for
/// other programs, nor with `false`.
fn systemd_mode_prepares_for_an_init(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let probe = "for d in /run /run/lock /tmp /var/log/journal; do \
                 grep -q \"^tmpfs $d tmpfs rw\" /proc/mounts && echo tmpfs $d; done; \
                 grep -q '^cgroup2 /sys/fs/cgroup cgroup2 rw' /proc/mounts && echo cgroup rw; \
                 grep -q '^tmpfs /sys/fs/cgroup/systemd tmpfs rw' /proc/mounts && echo cgroup v1; \
                 test -f /run/.containerenv && echo containerenv; \
                 echo uuid=$container_uuid";
    let init = env.dir.join("init");
    env.write_user_file(&init, format!("#!/bin/sh\n{probe}\n").as_bytes());
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bound = format!("{}:/sbin/init:ro", init.display());
    let systemd_lines = |id: &str| {
        let mut want: Vec<String> = ["/run", "/run/lock", "/tmp", "/var/log/journal"]
            .iter()
            .map(|d| format!("tmpfs {d}"))
            .collect();
        // cgroup v2: the tree writable; v1: systemd's hierarchy a tmpfs.
        let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        want.push(if v2 { "cgroup rw" } else { "cgroup v1" }.into());
        want.push("containerenv".into());
        want.push(format!("uuid={}", &id[..32]));
        want.join("\n") + "\n"
    };
    // The default (true) with an init as the program.
    let out = env.run_kept("sd", &["-v", &bound], &img, "exec /sbin/init");
    assert_eq!(out, "containerenv\nuuid=\n", "[{mode:?}] sh is no init");
    env.ok(&["rm", "sd"]);
    env.ok(&["create", "--name", "sd", "-v", &bound, &img, "/sbin/init"]);
    let id = env.ok(&["inspect", "--format", "{{.Id}}", "sd"]);
    let out = env.ok(&["start", "-a", "sd"]);
    assert_eq!(out, systemd_lines(id.trim()), "[{mode:?}] /sbin/init");
    let signal = env.ok(&["inspect", "--format", "{{.Config.StopSignal}}", "sd"]);
    // SIGRTMIN+3 (glibc's SIGRTMIN is 34), inspect's number as podman's.
    assert_eq!(signal.trim(), "37", "[{mode:?}] stop signal");
    env.ok(&["rm", "sd"]);
    // always, whatever the program.
    env.ok(&[
        "create",
        "--name",
        "sd",
        "--systemd",
        "always",
        &img,
        "sh",
        "-c",
        probe,
    ]);
    let id = env.ok(&["inspect", "--format", "{{.Id}}", "sd"]);
    assert_eq!(
        env.ok(&["start", "-a", "sd"]),
        systemd_lines(id.trim()),
        "[{mode:?}] always"
    );
    env.ok(&["rm", "sd"]);
    // false, even for an init.
    let out = env.sh(
        &img,
        &["--systemd", "false", "-v", &bound],
        "exec /sbin/init",
    );
    assert_eq!(out, "containerenv\nuuid=\n", "[{mode:?}] false");
    assert_refused(
        &env,
        &["create", "--systemd", "sometimes", &img, "true"],
        "--systemd",
    );
}

both_modes!(attach_picks_the_streams);
/// `-a`: an attached run or start relays only the streams named (the log
/// keeps everything); `-a stdin` feeds the program as `-i` does.
fn attach_picks_the_streams(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let script = "echo to-out; echo to-err >&2";
    let out = env.run(&[
        "run", "--name", "a1", "-a", "stdout", &img, "sh", "-c", script,
    ]);
    assert_eq!(out.status, 0, "[{mode:?}] {}", out.stderr);
    assert_eq!(out.stdout, "to-out\n", "[{mode:?}] -a stdout");
    assert!(!out.stderr.contains("to-err"), "[{mode:?}] {}", out.stderr);
    let logs = env.run(&["logs", "a1"]);
    assert_eq!(
        (logs.stdout.as_str(), logs.stderr.as_str()),
        ("to-out\n", "to-err\n"),
        "[{mode:?}] the log has both"
    );
    // Kept by create for start -a.
    env.ok(&[
        "create", "--name", "a2", "--attach", "stderr", &img, "sh", "-c", script,
    ]);
    let out = env.run(&["start", "-a", "a2"]);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, ""),
        "[{mode:?}] start -a of -a stderr: {}",
        out.stderr
    );
    assert!(out.stderr.contains("to-err"), "[{mode:?}] {}", out.stderr);
    // stdin without -i.
    let mark = env.mark();
    let out = env.run_stdin(
        &[
            "run", "--rm", "-e", &mark, "-a", "stdin", "-a", "stdout", &img, "cat",
        ],
        b"fed\n",
    );
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "fed\n"),
        "[{mode:?}] -a stdin: {}",
        out.stderr
    );
    assert_refused(&env, &["create", "-a", "stdfoo", &img, "true"], "stdfoo");
    assert_refused(
        &env,
        &["run", "-d", "-a", "stdout", &img, "true"],
        "--detach",
    );
    env.ok(&["rm", "a1", "a2"]);
}

/// A root filesystem directory the command's user owns: the host's
/// busybox with its applets, /etc/passwd and group, and /etc/motd.
fn busybox_rootfs(env: &TestEnv, name: &str) -> std::path::PathBuf {
    let root = env.user_dir(name);
    for d in ["bin", "etc", "tmp"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).unwrap();
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    std::fs::write(root.join("etc/motd"), "from the rootfs\n").unwrap();
    if env.mode == Mode::Rootless {
        let u = test_user();
        chown_tree(&root, u.uid, u.gid);
    }
    root
}

fn chown_tree(path: &std::path::Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

/// Every entry under `root`: its path, kind, owner, mode and contents (a
/// link's target), to tell whether anything changed.
fn tree_snapshot(root: &std::path::Path) -> Vec<String> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let what = if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                format!("{} bytes {:x}", m.len(), {
                    let data = std::fs::read(&p).unwrap();
                    data.iter()
                        .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(b as u64))
                })
            } else {
                String::new()
            };
            out.push(format!(
                "{rel} {}:{} {:o} {what}",
                m.uid(),
                m.gid(),
                m.mode()
            ));
            if m.is_dir() {
                walk(&p, root, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

both_modes!(rootfs_runs_a_directory);
/// `--rootfs DIR`: the directory is the container's root (the container
/// writes into it, its files root's inside), with `DIR:O` an overlay that
/// leaves it as it was; no image, so a command is required. Inspect shows
/// the path, restart, cp, export and commit --squash work, plain commit is
/// refused, and rm never takes the directory.
fn rootfs_runs_a_directory(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let dir = busybox_rootfs(&env, "rootfs");
    let path = dir.display().to_string();
    let overlay = format!("{path}:O");
    let mark = env.mark();
    // Written into the directory itself; the user's files are root's inside.
    let out = env.sh(
        &path,
        &["--rootfs"],
        "echo hi > /f; cat /etc/motd; id -u; stat -c %u:%g /bin/busybox /etc/motd; \
         test -c /dev/null && grep -c '^proc /proc proc' /proc/mounts; \
         grep -q ' /sys sysfs' /proc/mounts && echo sysfs",
    );
    assert_eq!(
        out, "from the rootfs\n0\n0:0\n0:0\n1\nsysfs\n",
        "[{mode:?}] --rootfs DIR"
    );
    assert_eq!(std::fs::read_to_string(dir.join("f")).unwrap(), "hi\n");
    let owner = std::fs::metadata(dir.join("f")).unwrap().uid();
    let want = match mode {
        Mode::Root => 0,
        Mode::Rootless => test_user().uid,
    };
    assert_eq!(owner, want, "[{mode:?}] /f is the user's own on the host");
    // `:O`: the container sees its writes, the directory is unchanged.
    let before = tree_snapshot(&dir);
    let out = env.sh(
        &overlay,
        &["--rootfs"],
        "echo changed > /etc/motd; rm /f; touch /g; cat /etc/motd; ls /f 2>&1 || true",
    );
    assert!(
        out.starts_with("changed\n") && out.contains("No such file"),
        "[{mode:?}] DIR:O: {out}"
    );
    assert_eq!(tree_snapshot(&dir), before, "[{mode:?}] DIR:O changed DIR");
    // A kept overlay container: its writes last across starts, inspect
    // shows the directory and no image.
    env.ok(&[
        "create",
        "--name",
        "rfs",
        "-e",
        &mark,
        "--rootfs",
        &overlay,
        "sh",
        "-c",
        "cat /count 2>/dev/null; echo x >> /count",
    ]);
    assert_eq!(
        env.ok(&["start", "-a", "rfs"]),
        "",
        "[{mode:?}] first start"
    );
    assert_eq!(
        env.ok(&["start", "-a", "rfs"]),
        "x\n",
        "[{mode:?}] restarted"
    );
    let shown = env.ok(&[
        "inspect",
        "--format",
        "{{.Rootfs}}|{{.Image}}|{{.ImageName}}",
        "rfs",
    ]);
    assert_eq!(shown.trim(), format!("{path}||"), "[{mode:?}] inspect");
    let listed = env.ok(&[
        "ps",
        "-a",
        "--filter",
        "name=rfs",
        "--format",
        "{{.Names}}:{{.Image}}",
    ]);
    assert_eq!(listed.trim(), "rfs:", "[{mode:?}] ps");
    // cp and export reach the stopped container's files.
    let out_dir = env.user_dir("out");
    let copied = out_dir.join("count");
    env.ok(&["cp", "rfs:/count", copied.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&copied).unwrap(), "x\nx\n");
    let tar = out_dir.join("rfs.tar");
    env.ok(&["export", "-o", tar.to_str().unwrap(), "rfs"]);
    let data = std::fs::read(&tar).unwrap();
    let names: Vec<String> = tar::Archive::new(&data[..])
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    for want in ["count", "bin/busybox", "etc/motd"] {
        assert!(
            names.iter().any(|n| n == want),
            "[{mode:?}] export: {names:?}"
        );
    }
    // No image below: a plain commit is refused, a squashed one works.
    assert_refused(&env, &["commit", "rfs", "rfs-img"], "--rootfs");
    env.ok(&["commit", "-q", "--squash", "rfs", "rfs-img"]);
    let out = env.ok(&[
        "run",
        "--rm",
        "-e",
        &mark,
        "rfs-img",
        "cat",
        "/count",
        "/etc/motd",
    ]);
    assert_eq!(out, "x\nx\nfrom the rootfs\n", "[{mode:?}] squashed commit");
    env.ok(&["rm", "rfs"]);
    assert_eq!(
        tree_snapshot(&dir),
        before,
        "[{mode:?}] rm of a DIR:O container"
    );
    // Without :O, rm leaves the directory and what the container wrote.
    env.ok(&[
        "create",
        "--name",
        "rw",
        "-e",
        &mark,
        "--rootfs",
        &path,
        "sh",
        "-c",
        "echo y > /y",
    ]);
    env.ok(&["start", "-a", "rw"]);
    if mode == Mode::Root {
        // Mounted on the host (rootless only inside `unshare`): rm must
        // not reach through the mount into DIR.
        env.ok(&["mount", "rw"]);
    }
    env.ok(&["rm", "rw"]);
    assert_eq!(std::fs::read_to_string(dir.join("y")).unwrap(), "y\n");
    assert!(dir.join("bin/busybox").is_file(), "[{mode:?}] rm took DIR");
    if mode == Mode::Root {
        // Nor does a `--rm` container's own removal, mounted meanwhile.
        env.ok(&[
            "run",
            "-d",
            "--rm",
            "--name",
            "auto",
            "-e",
            &mark,
            "--rootfs",
            &path,
            "sh",
            "-c",
            "while ! test -f /go; do sleep 0.1; done",
        ]);
        env.ok(&["mount", "auto"]);
        std::fs::write(dir.join("go"), "").unwrap();
        assert!(
            wait_for(std::time::Duration::from_secs(10), || env
                .all_container_ids()
                .is_empty()),
            "[{mode:?}] the --rm container stayed"
        );
        // Its files are deleted in the background, out of the store's tmp/.
        let tmp = env.store_dir().join("tmp");
        wait_for(std::time::Duration::from_secs(10), || {
            std::fs::read_dir(&tmp)
                .map(|rd| !rd.flatten().any(|e| e.path().is_dir()))
                .unwrap_or(true)
        });
        assert!(
            dir.join("bin/busybox").is_file(),
            "[{mode:?}] --rm took DIR"
        );
    }
    // No image, so no default command; what cannot be a rootfs is refused.
    assert_refused(&env, &["create", "--rootfs", &path], "no command");
    let missing = env.dir.join("missing").display().to_string();
    assert_refused(&env, &["create", "--rootfs", &missing, "sh"], "missing");
    assert_refused(
        &env,
        &["create", "--rootfs", &path, "--uidmap", "0:1:100", "sh"],
        "--rootfs",
    );
}

both_modes!(shm_size_systemd_sizes_the_tmpfs);
/// `--shm-size-systemd`: systemd mode's tmpfs (/run, /run/lock, /tmp,
/// /var/log/journal) get that size (0: the kernel's default); a pod gives
/// its value to each member, whose own flag wins; bad values are refused.
fn shm_size_systemd_sizes_the_tmpfs(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let probe = "for d in /run /run/lock /tmp /var/log/journal; do \
                 grep \"^tmpfs $d tmpfs \" /proc/mounts | cut -d' ' -f4 | tr , '\\n' | \
                 grep '^size=' || echo none; done";
    let sizes = |extra: &[&str]| {
        let mut flags = vec!["--systemd", "always"];
        flags.extend_from_slice(extra);
        env.sh(&img, &flags, probe)
    };
    let four = |s: &str| format!("{s}\n{s}\n{s}\n{s}\n");
    assert_eq!(
        sizes(&["--shm-size-systemd", "16m"]),
        four("size=16384k"),
        "[{mode:?}] 16m"
    );
    assert_eq!(
        sizes(&["--shm-size-systemd", "0"]),
        four("none"),
        "[{mode:?}] 0: no limit of its own"
    );
    assert_eq!(sizes(&[]), four("none"), "[{mode:?}] unset");
    // A pod's value reaches its members; a member's own wins.
    env.ok(&[
        "pod",
        "create",
        "--name",
        "sdpod",
        "--shm-size-systemd",
        "8m",
    ]);
    assert_eq!(
        sizes(&["--pod", "sdpod"]),
        four("size=8192k"),
        "[{mode:?}] from the pod"
    );
    assert_eq!(
        sizes(&["--pod", "sdpod", "--shm-size-systemd", "4m"]),
        four("size=4096k"),
        "[{mode:?}] the member's own"
    );
    env.ok(&["pod", "rm", "-f", "sdpod"]);
    assert_refused(
        &env,
        &["create", "--shm-size-systemd", "12x", &img, "true"],
        "--shm-size-systemd",
    );
    assert_refused(
        &env,
        &["run", "--rm", "--shm-size-systemd=-1", &img, "true"],
        "--shm-size-systemd",
    );
    assert_refused(
        &env,
        &["pod", "create", "--shm-size-systemd", "lots"],
        "--shm-size-systemd",
    );
}
