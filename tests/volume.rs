//! Volumes against podman's behaviour, as root and rootless: the `volume`
//! verbs and their output, copy-up with owners, data that outlives its
//! container, anonymous volumes and their cleanup, `--volumes-from`, `:U`,
//! read-only mounts, `--mount type=volume`, refusals, and `system df`.

mod common;

use common::volume_fixture::*;
use common::*;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

fn volume_img(env: &TestEnv) -> String {
    let r = rt_volume().reference();
    env.pull(&r);
    r
}

fn volume_names(env: &TestEnv) -> Vec<String> {
    env.ok(&["volume", "ls", "-q"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn inspect_volume(env: &TestEnv, name: &str) -> Value {
    let out = env.ok(&["volume", "inspect", name]);
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("[{:?}] volume inspect: not JSON ({e}): {out}", env.mode));
    assert_eq!(v.as_array().map(Vec::len), Some(1), "[{:?}] {v}", env.mode);
    v[0].clone()
}

/// The host path of a volume's data, as podman lays it out.
fn data_dir(env: &TestEnv, name: &str) -> PathBuf {
    env.store_dir().join("volumes").join(name).join("_data")
}

/// The host uid a container uid shows up as.
fn host_uid(env: &TestEnv, id: u32) -> u32 {
    match env.mode {
        Mode::Root => id,
        Mode::Rootless => test_user().host_uid(id),
    }
}

/// A script that read (printing `stdout`) then wrote to a read-only mount
/// failed on the write.
fn assert_write_refused(mode: Mode, out: &Out, stdout: &str) {
    assert_eq!(out.status, 1, "[{mode:?}] {out:?}");
    assert_eq!(out.stdout, stdout, "[{mode:?}] {out:?}");
    assert!(
        out.stderr.contains("Read-only file system"),
        "[{mode:?}] {out:?}"
    );
}

fn anonymous(names: &[String]) -> Vec<String> {
    names.iter().filter(|n| is_hex(n, 64)).cloned().collect()
}

both_modes!(volume_lifecycle_and_output);
fn volume_lifecycle_and_output(mode: Mode) {
    let env = TestEnv::new(mode);
    let out = env.ok(&[
        "volume",
        "create",
        "--label",
        "app=web",
        "--label",
        "bare",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=2m",
        "data",
    ]);
    assert_eq!(out, "data\n", "[{mode:?}] create prints the name");
    let v = inspect_volume(&env, "data");
    assert_eq!(v["Name"], "data", "[{mode:?}] {v}");
    assert_eq!(v["Driver"], "local", "[{mode:?}] {v}");
    assert_eq!(v["Scope"], "local", "[{mode:?}] {v}");
    assert_eq!(
        v["Mountpoint"].as_str(),
        Some(data_dir(&env, "data").to_str().unwrap()),
        "[{mode:?}] {v}"
    );
    assert!(data_dir(&env, "data").is_dir(), "[{mode:?}] no _data dir");
    assert_eq!(v["Labels"]["app"], "web", "[{mode:?}] {v}");
    assert_eq!(v["Labels"]["bare"], "", "[{mode:?}] {v}");
    assert_eq!(v["Options"]["type"], "tmpfs", "[{mode:?}] {v}");
    assert_eq!(v["Options"]["o"], "size=2m", "[{mode:?}] {v}");
    assert_eq!(v["MountCount"], 0, "[{mode:?}] {v}");
    assert_eq!(v["NeedsCopyUp"], true, "[{mode:?}] {v}");
    assert_eq!(v["NeedsChown"], true, "[{mode:?}] {v}");
    assert!(v["LockNumber"].is_u64(), "[{mode:?}] {v}");
    let created = v["CreatedAt"].as_str().unwrap();
    assert!(
        created.len() > 20 && created.ends_with('Z') && created.contains('T'),
        "[{mode:?}] CreatedAt should be RFC 3339: {created}"
    );

    // podman's refusal of a taken name, and --ignore.
    let out = env.run(&["volume", "create", "data"]);
    assert_error(
        mode,
        "volume create data (again)",
        &out,
        125,
        &["volume with name data already exists"],
    );
    assert_eq!(env.ok(&["volume", "create", "--ignore", "data"]), "data\n");
    let generated = env.ok(&["volume", "create"]).trim().to_string();
    assert!(
        is_hex(&generated, 64),
        "[{mode:?}] generated name {generated:?}"
    );

    let table = env.ok(&["volume", "ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["DRIVER", "VOLUME", "NAME"],
        "[{mode:?}] {table}"
    );
    assert_eq!(lines.len(), 3, "[{mode:?}] {table}");
    assert!(lines
        .iter()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["local", "data"]));
    let mut want = vec![generated.clone(), "data".to_string()];
    want.sort();
    assert_eq!(volume_names(&env), want, "[{mode:?}] ls -q");
    let json: Value = serde_json::from_str(&env.ok(&["volume", "ls", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(2), "[{mode:?}] {json}");
    let filtered = env.ok(&["volume", "ls", "-q", "--filter", "label=app=web"]);
    assert_eq!(filtered, "data\n", "[{mode:?}] ls --filter label");
    let tmpl = env.ok(&[
        "volume",
        "ls",
        "--filter",
        "name=data",
        "--format",
        "{{.Name}} {{.Labels}} {{.Driver}}",
    ]);
    assert_eq!(tmpl, "data map[app:web bare:] local\n", "[{mode:?}]");
    let created_go = env.ok(&["volume", "inspect", "data", "--format", "{{.CreatedAt}}"]);
    assert!(
        created_go.trim().ends_with("+0000 UTC"),
        "[{mode:?}] a template shows CreatedAt as Go prints a time: {created_go}"
    );

    assert_eq!(env.run(&["volume", "exists", "data"]).status, 0);
    assert_eq!(env.run(&["volume", "exists", "nope"]).status, 1);
    assert_eq!(env.ok(&["volume", "rm", "data"]), "data\n");
    assert_eq!(env.run(&["volume", "exists", "data"]).status, 1);
    assert!(
        !env.store_dir().join("volumes/data").exists(),
        "[{mode:?}] volume directory left behind"
    );

    // prune: only what the filter picks, only unused ones.
    env.ok(&["volume", "create", "--label", "keep", "kept"]);
    let out = env.ok(&["volume", "prune", "-af", "--filter", "label!=keep"]);
    assert_eq!(out, format!("{generated}\n"), "[{mode:?}] prune output");
    assert_eq!(volume_names(&env), ["kept"], "[{mode:?}] after prune");
}

both_modes!(copy_up_keeps_owners_and_data_outlives_the_container);
fn copy_up_keeps_owners_and_data_outlives_the_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = volume_img(&env);
    env.ok(&["volume", "create", "appdata"]);
    let mark = env.mark();
    let out = env.ok(&[
        "run",
        "--name",
        "first",
        "-e",
        &mark,
        "-v",
        "appdata:/var/lib/app",
        &img,
        "sh",
        "-c",
        "stat -c '%u:%g %a' /var/lib/app /var/lib/app/state.txt; cat /var/lib/app/state.txt; \
             echo written > /var/lib/app/new.txt",
    ]);
    assert_eq!(
        out,
        format!("1000:1000 750\n1000:1000 640\n{APP_CONTENT}"),
        "[{mode:?}] the new volume shows the image's files with their owners and modes"
    );
    // On the host: the copy belongs to container uid 1000, as mapped.
    let data = data_dir(&env, "appdata");
    let meta = std::fs::metadata(data.join("state.txt")).unwrap();
    assert_eq!(meta.uid(), host_uid(&env, 1000), "[{mode:?}] host owner");
    assert_eq!(
        std::fs::metadata(&data).unwrap().uid(),
        host_uid(&env, 1000),
        "[{mode:?}] the volume takes the owner of the directory it covers"
    );
    let v = inspect_volume(&env, "appdata");
    assert!(
        v.get("NeedsCopyUp").is_none() && v.get("NeedsChown").is_none(),
        "[{mode:?}] once mounted, no more copy-up: {v}"
    );

    env.ok(&["rm", "first"]);
    let named: Vec<String> = volume_names(&env)
        .into_iter()
        .filter(|n| !is_hex(n, 64))
        .collect();
    assert_eq!(named, ["appdata"], "[{mode:?}] rm keeps named volumes");
    // A second container sees the first one's data, and no second copy-up
    // brings back what was deleted.
    let out = env.sh(
        &img,
        &["-v", "appdata:/var/lib/app"],
        "cat /var/lib/app/new.txt; rm /var/lib/app/state.txt",
    );
    assert_eq!(out, "written\n", "[{mode:?}]");
    let out = env.sh(&img, &["-v", "appdata:/srv"], "ls /srv");
    assert_eq!(out, "new.txt\n", "[{mode:?}] no copy-up into a used volume");
}

both_modes!(volume_opts_nocopy_and_owner);
/// `-o nocopy` keeps the image's files out of a new volume; `-o o=uid=,gid=`
/// own its directory (and keep that owner at the first mount) as `--uid`
/// and `--gid` do, which win over them; bad ids are refused.
fn volume_opts_nocopy_and_owner(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = volume_img(&env);
    env.ok(&["volume", "create", "-o", "nocopy", "bare"]);
    env.ok(&["volume", "create", "-o", "copy", "filled"]);
    env.ok(&["volume", "create", "-o", "o=uid=1234,gid=4321", "owned"]);
    env.ok(&[
        "volume",
        "create",
        "-o",
        "o=uid=5,gid=6",
        "--uid",
        "7",
        "flagwins",
    ]);
    let seen = env.sh(
        &img,
        &[
            "-v",
            "bare:/var/lib/app",
            "-v",
            "owned:/srv/owned",
            "-v",
            "flagwins:/srv/flagwins",
        ],
        "ls -A /var/lib/app | wc -l; stat -c %u:%g /srv/owned /srv/flagwins",
    );
    assert_eq!(
        seen.split_whitespace().collect::<Vec<_>>(),
        ["0", "1234:4321", "7:6"],
        "[{mode:?}] {seen}"
    );
    let filled = env.sh(&img, &["-v", "filled:/var/lib/app"], "ls /var/lib/app");
    assert!(filled.contains("state.txt"), "[{mode:?}] copy: {filled}");
    let v = inspect_volume(&env, "bare");
    assert_eq!(v["Options"]["nocopy"], "", "[{mode:?}] {v}");
    for (opt, says) in [
        ("o=uid=abc", "cannot convert UID abc to integer"),
        ("o=gid", "gid option must provide a GID"),
        ("bogus=1", "invalid mount option bogus for driver 'local'"),
    ] {
        assert_refused(&env, &["volume", "create", "-o", opt, "badopt"], says);
    }
}

both_modes!(anonymous_volumes_go_with_rm_v_and_rm_flag);
fn anonymous_volumes_go_with_rm_v_and_rm_flag(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = volume_img(&env);
    let mark = env.mark();
    // The image's VOLUME /data and -v /scratch: two anonymous volumes.
    env.ok(&[
        "run",
        "--name",
        "a",
        "-e",
        &mark,
        "-v",
        "/scratch",
        "-v",
        "named:/named",
        &img,
        "sh",
        "-c",
        "cat /data/seed.txt > /scratch/copy",
    ]);
    let names = volume_names(&env);
    let anon = anonymous(&names);
    assert_eq!(anon.len(), 2, "[{mode:?}] two anonymous volumes: {names:?}");
    assert!(names.contains(&"named".to_string()), "[{mode:?}] {names:?}");
    let mounts = env.inspect_container("a")["Mounts"].clone();
    let data = mounts
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == VOLUME_DIR)
        .unwrap_or_else(|| panic!("[{mode:?}] no mount at /data: {mounts}"));
    assert_eq!(data["Type"], "volume", "[{mode:?}] {data}");
    let data_name = data["Name"].as_str().unwrap().to_string();
    assert!(anon.contains(&data_name), "[{mode:?}] {data}");
    assert_eq!(
        std::fs::read_to_string(data_dir(&env, &data_name).join("seed.txt")).unwrap(),
        "seed\n",
        "[{mode:?}] the image's VOLUME was filled from the image"
    );

    env.ok(&["rm", "-v", "a"]);
    assert_eq!(
        volume_names(&env),
        ["named"],
        "[{mode:?}] rm -v removes the anonymous ones"
    );
    for n in &anon {
        assert!(
            !env.store_dir().join("volumes").join(n).exists(),
            "[{mode:?}] {n} left on disk"
        );
    }

    env.sh(&img, &["-v", "/scratch"], "touch /scratch/x /data/y");
    assert_eq!(
        volume_names(&env),
        ["named"],
        "[{mode:?}] --rm removes them too"
    );

    // A plain rm keeps them, as podman's does.
    env.ok(&["run", "--name", "b", "-e", &mark, &img, "true"]);
    env.ok(&["rm", "b"]);
    assert_eq!(anonymous(&volume_names(&env)).len(), 1, "[{mode:?}]");
}

both_modes!(volumes_from_read_only_and_chown);
fn volumes_from_read_only_and_chown(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&[
        "run",
        "--name",
        "src",
        "-e",
        &mark,
        "-v",
        "shared:/shared",
        "-v",
        "/anon",
        &img,
        "sh",
        "-c",
        "echo hello > /shared/f; echo anon > /anon/g",
    ]);
    let out = env.sh(
        &img,
        &["--volumes-from", "src"],
        "cat /shared/f /anon/g; echo more >> /shared/f",
    );
    assert_eq!(out, "hello\nanon\n", "[{mode:?}] --volumes-from");
    let out = env.sh_out(
        &img,
        &["--volumes-from", "src:ro"],
        "cat /shared/f; touch /shared/new",
    );
    assert_write_refused(mode, &out, "hello\nmore\n");

    let out = env.sh_out(&img, &["-v", "shared:/s:ro"], "touch /s/new");
    assert_eq!(out.status, 1, "[{mode:?}] ro: {out:?}");
    assert!(
        out.stderr.contains("Read-only file system"),
        "[{mode:?}] {out:?}"
    );
    assert!(
        !data_dir(&env, "shared").join("new").exists(),
        "[{mode:?}] a file was written through a read-only mount"
    );

    // :U gives the volume to the container's user (ids mapped rootless).
    let out = env.sh(
        &img,
        &["-u", "1000:1000", "-v", "shared:/s:U"],
        "stat -c '%u:%g' /s /s/f; echo mine > /s/own",
    );
    assert_eq!(out, "1000:1000\n1000:1000\n", "[{mode:?}] :U");
    let meta = std::fs::metadata(data_dir(&env, "shared").join("f")).unwrap();
    assert_eq!(
        meta.uid(),
        host_uid(&env, 1000),
        "[{mode:?}] host owner after :U"
    );

    let out = env.run(&[
        "run",
        "--rm",
        "-e",
        &mark,
        "--volumes-from",
        "nope",
        &img,
        "true",
    ]);
    assert_error(
        mode,
        "--volumes-from nope",
        &out,
        125,
        &["nope", "no such container"],
    );
}

both_modes!(mount_type_volume);
fn mount_type_volume(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.sh(
        &img,
        &["--mount", "type=volume,source=mv,target=/m"],
        "echo x > /m/f",
    );
    let out = env.sh_out(
        &img,
        &["--mount", "type=volume,src=mv,dst=/m,ro"],
        "cat /m/f; touch /m/g",
    );
    assert_write_refused(mode, &out, "x\n");
    // A volume made from volume-opt: a tmpfs of the given size.
    let out = env.sh(
            &img,
            &[
                "--mount",
                "type=volume,src=tv,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m",
            ],
            "grep ' /t ' /proc/mounts",
        );
    assert!(
        out.starts_with("tmpfs /t tmpfs") && out.contains("size=2048k"),
        "[{mode:?}] {out}"
    );
    assert_eq!(
        inspect_volume(&env, "tv")["Options"]["type"],
        "tmpfs",
        "[{mode:?}]"
    );
    // noexec, nosuid, nodev reach the mount.
    let out = env.sh(&img, &["-v", "mv:/m:noexec"], "grep ' /m ' /proc/mounts");
    for flag in ["noexec", "nosuid", "nodev"] {
        assert!(out.contains(flag), "[{mode:?}] {flag} missing: {out}");
    }
}

both_modes!(a_volume_in_use_is_not_removed);
fn a_volume_in_use_is_not_removed(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let id = env.run_detached("user", &["-v", "busy:/b"], &img, &["sleep", "300"]);
    std::fs::write(data_dir(&env, "busy").join("keep"), "k").unwrap();
    for args in [
        &["volume", "rm", "busy"][..],
        &["volume", "rm", "--all"][..],
    ] {
        let out = env.run(args);
        // podman: exit 2, as `rm` of a running container.
        assert_error(
            mode,
            &args.join(" "),
            &out,
            2,
            &["busy", &id, "is being used"],
        );
    }
    env.ok(&["volume", "prune", "-f"]);
    assert_eq!(volume_names(&env), ["busy"], "[{mode:?}] the store changed");
    assert!(data_dir(&env, "busy").join("keep").exists(), "[{mode:?}]");
    env.ok(&["stop", "-t", "0", "user"]);
    let out = env.run(&["volume", "rm", "busy"]);
    assert_error(mode, "volume rm (stopped user)", &out, 2, &["busy"]);
    // -f removes the containers that use it, then the volume.
    assert_eq!(env.ok(&["volume", "rm", "-f", "busy"]), "busy\n");
    assert!(
        env.all_container_ids().is_empty(),
        "[{mode:?}] the user container stays"
    );
    assert!(volume_names(&env).is_empty(), "[{mode:?}]");
    assert!(!env.store_dir().join("volumes/busy").exists(), "[{mode:?}]");
}

both_modes!(bad_volume_input_is_refused);
fn bad_volume_input_is_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let cases: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
        (
            vec!["volume", "create", "bad/name"],
            125,
            vec!["names must match"],
        ),
        (
            vec!["volume", "create", "--opt", "foo=bar", "x"],
            125,
            vec!["invalid mount option foo"],
        ),
        (
            vec!["volume", "create", "--opt", "type=ext9", "x"],
            125,
            vec!["ext9"],
        ),
        (
            vec!["volume", "create", "--driver", "nfs", "x"],
            125,
            vec!["nfs"],
        ),
        (
            vec!["volume", "inspect", "nope"],
            125,
            vec!["no such volume nope"],
        ),
        (
            vec!["volume", "rm", "nope"],
            1,
            vec!["no volume with name \"nope\" found"],
        ),
        (
            vec!["volume", "ls", "--filter", "bogus=1"],
            125,
            vec!["bogus", "invalid volume filter"],
        ),
        (
            vec!["run", "--rm", "-v", "bad/name:/x", &img, "true"],
            125,
            vec!["names must match"],
        ),
        (
            vec!["run", "--rm", "-v", "data:rel", &img, "true"],
            125,
            vec!["\"rel\", must be an absolute path"],
        ),
        (
            vec!["run", "--rm", "-v", "data:/x:bogus", &img, "true"],
            125,
            vec!["invalid option type \"bogus\""],
        ),
        (
            vec!["run", "--rm", "-v", "data:/x:ro,rw", &img, "true"],
            125,
            vec!["'rw' or 'ro'"],
        ),
        (
            vec![
                "create",
                "--mount",
                "type=volume,src=x,dst=/m,bogus=1",
                &img,
            ],
            125,
            vec!["bogus: invalid mount option"],
        ),
        (
            vec!["create", "--mount", "type=foo,dst=/m", &img],
            125,
            vec!["invalid filesystem type \"foo\""],
        ),
        (
            vec![
                "create",
                "--mount",
                "type=volume,dst=/m,volume-opt=foo=bar",
                &img,
            ],
            125,
            vec!["foo"],
        ),
    ];
    for (args, code, needles) in &cases {
        let out = env.run(args);
        assert_error(mode, &args.join(" "), &out, *code, needles);
    }
    assert!(
        volume_names(&env).is_empty(),
        "[{mode:?}] a volume was made"
    );
    assert!(
        env.container_dirs().is_empty(),
        "[{mode:?}] a container was made"
    );
    assert_eq!(
        env.ok(&["volume", "rm", "-f", "nope"]),
        "",
        "[{mode:?}] rm -f of nothing"
    );
}

fn df(env: &TestEnv) -> Value {
    let out = env.ok(&["system", "df", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("df json ({e}): {out}"));
    assert_eq!(v.as_array().map(Vec::len), Some(3), "{v}");
    v
}

fn df_row<'a>(v: &'a Value, kind: &str) -> &'a Value {
    v.as_array()
        .unwrap()
        .iter()
        .find(|r| r["Type"] == kind)
        .unwrap()
}

both_modes!(system_df_counts);
fn system_df_counts(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["volume", "create", "idle"]);
    env.ok(&[
        "run",
        "--name",
        "w",
        "-e",
        &mark,
        "-v",
        "used:/u",
        &img,
        "sh",
        "-c",
        "yes | head -c 3000 > /u/f; yes | head -c 500 > /in-layer",
    ]);
    let v = df(&env);
    let images = df_row(&v, "Images");
    assert_eq!(
        (images["Total"].as_u64(), images["Active"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert!(
        images["RawSize"].as_u64().unwrap() > 500_000,
        "[{mode:?}] busybox is bigger: {v}"
    );
    assert_eq!(images["RawReclaimable"], 0, "[{mode:?}] {v}");
    let ctrs = df_row(&v, "Containers");
    assert_eq!(
        (ctrs["Total"].as_u64(), ctrs["Active"].as_u64()),
        (Some(1), Some(0)),
        "{v}"
    );
    assert_eq!(
        ctrs["RawSize"], 500,
        "[{mode:?}] the container's own files: {v}"
    );
    assert_eq!(ctrs["RawReclaimable"], 500, "[{mode:?}] {v}");
    let vols = df_row(&v, "Local Volumes");
    assert_eq!(
        (vols["Total"].as_u64(), vols["Active"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(vols["RawSize"], 3000, "[{mode:?}] {v}");
    assert_eq!(vols["RawReclaimable"], 0, "[{mode:?}] {v}");
    assert_eq!(vols["Size"], "3kB", "[{mode:?}] {v}");
    assert_eq!(vols["Reclaimable"], "0B (0%)", "[{mode:?}] {v}");

    let table = env.ok(&["system", "df"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        "{table}"
    );
    assert_eq!(
        lines[3],
        ["Local", "Volumes", "2", "1", "3kB", "0B", "(0%)"],
        "{table}"
    );
    let verbose = env.ok(&["system", "df", "-v"]);
    assert!(verbose.contains("Local Volumes space usage:"), "{verbose}");
    assert!(
        verbose
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["used", "1", "3kB"]),
        "[{mode:?}] {verbose}"
    );

    env.ok(&["rm", "w"]);
    let v = df(&env);
    let vols = df_row(&v, "Local Volumes");
    assert_eq!(vols["Active"], 0, "[{mode:?}] {v}");
    assert_eq!(vols["RawReclaimable"], 3000, "[{mode:?}] {v}");
    assert_eq!(vols["Reclaimable"], "3kB (100%)", "[{mode:?}] {v}");
    let images = df_row(&v, "Images");
    assert_eq!(images["Active"], 0, "[{mode:?}] {v}");
    assert_eq!(
        images["RawReclaimable"], images["RawSize"],
        "[{mode:?}] {v}"
    );
    let out = env.run(&["system", "df", "-v", "--format", "json"]);
    assert_error(mode, "df -v --format", &out, 125, &["cannot combine"]);
}
