//! `system check [--repair] [--force] [--quick]`: it finds every fault
//! planted here, repairs what podman's rules allow, and never removes a
//! healthy image or a running container. Root and rootless.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn blob(env: &TestEnv, digest: &str) -> PathBuf {
    env.store_dir()
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap_or(digest))
}

fn check(env: &TestEnv, args: &[&str]) -> Out {
    let mut all = vec!["system", "check"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert_no_panic(env.mode, &all, &out);
    out
}

fn assert_clean(env: &TestEnv) {
    let out = check(env, &[]);
    assert!(
        out.status == 0 && out.stdout.is_empty() && out.stderr.is_empty(),
        "[{:?}] system check should find a clean store: {out:?}",
        env.mode
    );
}

fn assert_damaged(env: &TestEnv, args: &[&str], needles: &[&str]) -> Out {
    let out = check(env, args);
    assert_eq!(out.status, 125, "[{:?}] check {args:?}: {out:?}", env.mode);
    assert_eq!(
        out.stderr.trim(),
        "Error: damage detected in local storage",
        "[{:?}]",
        env.mode
    );
    for n in needles {
        assert!(
            out.stdout.contains(n),
            "[{:?}] check {args:?} should report {n:?}: {}",
            env.mode,
            out.stdout
        );
    }
    out
}

/// `images -q --no-trunc`, without the `sha256:`.
fn full_image_ids(env: &TestEnv) -> Vec<String> {
    env.ok(&["images", "-q", "--no-trunc"])
        .lines()
        .map(|l| l.trim().trim_start_matches("sha256:").to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn chown_to_user(env: &TestEnv, p: &Path) {
    if env.mode == Mode::Rootless {
        let u = test_user();
        std::os::unix::fs::chown(p, Some(u.uid), Some(u.gid)).unwrap();
    }
}

both_modes!(clean_store_and_damaged_images);
fn clean_store_and_damaged_images(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    assert_clean(&env);
    let rt = env.rt_image();
    let bb = busybox().reference();
    env.pull(&bb);
    let rt_id = env.inspect(&rt)["Id"].as_str().unwrap().to_string();
    let bb_id = busybox().id();
    env.ok(&["create", "--name", "c1", "-e", &env.mark(), &rt, "true"]);
    assert_clean(&env);

    // A config blob whose content no longer matches its digest: still
    // JSON, so only the full check (hashing) sees it.
    let cfg = blob(&env, &bb_id);
    let mut data = fs::read(&cfg).unwrap();
    data.extend_from_slice(b"\n");
    fs::write(&cfg, &data).unwrap();
    assert_eq!(
        check(&env, &["--quick"]).status,
        0,
        "[{mode:?}] --quick hashes nothing"
    );
    let out = assert_damaged(
        &env,
        &[],
        &[
            &format!("Damaged image {bb_id}:\n1 error occurred:\n\t* config blob sha256:{bb_id} does not match its digest\n"),
        ],
    );
    assert!(
        !out.stdout.contains(&rt_id),
        "[{mode:?}] rt is healthy: {}",
        out.stdout
    );

    // --repair removes the damaged, unused image, nothing else.
    let out = check(&env, &["--repair"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        out.stdout
            .contains(&format!("Deleted damaged image: {bb_id}\n")),
        "[{mode:?}] {}",
        out.stdout
    );
    let ids = full_image_ids(&env);
    assert!(!ids.contains(&bb_id), "[{mode:?}] {ids:?}");
    assert!(ids.contains(&rt_id), "[{mode:?}] {ids:?}");
    assert_eq!(env.all_container_ids().len(), 1, "[{mode:?}]");
    assert_clean(&env);
    // The image comes back with a pull.
    env.pull(&bb);
    assert_clean(&env);

    // A layer of rt loses its tree: rt and its container are damaged; rt is
    // in use, so --repair leaves both and says damage remains.
    let top = env.inspect(&rt)["RootFS"]["Layers"][1]
        .as_str()
        .unwrap()
        .to_string();
    let hex = top.strip_prefix("sha256:").unwrap();
    let diff = env.layer_dir(&top);
    let aside = env.dir.join("aside");
    fs::rename(&diff, &aside).unwrap();
    assert_damaged(
        &env,
        &["--quick"],
        &[
            &format!("Damaged layer {hex}:\n1 error occurred:\n\t* layer contents are missing\n"),
            &format!("Damaged image {rt_id}:"),
            &format!("\t* layer {top} is damaged\n"),
            "Damaged container ",
        ],
    );
    let out = check(&env, &["--repair"]);
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
    assert_eq!(
        out.stderr.trim(),
        "Error: damage in local storage still present after repair attempt"
    );
    assert!(
        full_image_ids(&env).contains(&rt_id),
        "[{mode:?}] rt is in use"
    );
    assert_eq!(env.all_container_ids().len(), 1, "[{mode:?}]");

    // --force takes the container, then the image and its layer.
    let out = check(&env, &["--repair", "--force"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    for n in [
        format!("Deleted damaged image: {rt_id}\n"),
        format!("Deleted damaged layer: {hex}\n"),
        "Deleted damaged container: ".to_string(),
    ] {
        assert!(
            out.stdout.contains(&n),
            "[{mode:?}] {n:?} in {}",
            out.stdout
        );
    }
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
    assert!(!full_image_ids(&env).contains(&rt_id), "[{mode:?}]");
    assert!(
        full_image_ids(&env).contains(&bb_id),
        "[{mode:?}] busybox is healthy"
    );
    assert_clean(&env);
    env.pull(&rt);
    env.ok(&["run", "--rm", &rt, "true"]);
}

/// A layer's record as the store writes it, made at `created`.
fn plant_layer(env: &TestEnv, hex: &str, created: &str) -> PathBuf {
    let dir = env.store_dir().join("layers").join(hex);
    env.write_user_file(&dir.join("diff/etc/leftover"), b"x\n");
    let rec = format!(r#"{{"diff_id":"sha256:{hex}","size":2048,"created":"{created}"}}"#);
    env.write_user_file(&dir.join("layer.json"), rec.as_bytes());
    dir
}

both_modes!(unreferenced_layers_older_than_max_are_damaged);
/// A layer no image or container uses (a pull cut short leaves one) is
/// damaged once older than `--max` (a day by default); `--repair` removes it.
fn unreferenced_layers_older_than_max_are_damaged(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let rt = env.rt_image();
    env.ok(&["create", "--name", "c1", "-e", &env.mark(), &rt, "true"]);
    let now = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let now = String::from_utf8(now.stdout).unwrap().trim().to_string();
    let hex = "ab".repeat(32);
    let dir = plant_layer(&env, &hex, &now);
    // young: perhaps a pull under way
    assert_clean(&env);
    let out = check(&env, &["--max", "1h"]);
    assert!(
        out.status == 0 && out.stdout.is_empty(),
        "[{mode:?}] {out:?}"
    );
    let report =
        format!("Damaged layer {hex}:\n1 error occurred:\n\t* layer not referenced by any images or containers\n");
    let out = assert_damaged(&env, &["--max", "0s"], &[&report]);
    assert_eq!(
        out.stdout.matches("Damaged ").count(),
        1,
        "[{mode:?}] only the unused layer: {}",
        out.stdout
    );
    // made two days ago: older than the default day
    plant_layer(&env, &hex, "2000-01-01T00:00:00Z");
    assert_damaged(&env, &["--quick"], &[&report]);
    let out = check(&env, &["--repair"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        out.stdout
            .contains(&format!("Deleted damaged layer: {hex}\n")),
        "[{mode:?}] {}",
        out.stdout
    );
    assert!(!dir.exists(), "[{mode:?}] the layer is gone");
    assert_clean(&env);
    assert_eq!(env.ok(&["start", "-a", "c1"]), "", "[{mode:?}]");
    env.ok(&["run", "--rm", &rt, "true"]);

    let out = env.fails(&["system", "check", "--max", "1x"], 125);
    assert!(
        out.stderr
            .starts_with("Error: invalid value '1x' for '--max <DURATION>'")
            && out.stderr.contains("time: unknown unit")
            && out.stderr.lines().count() == 1,
        "[{mode:?}] {}",
        out.stderr
    );
}

both_modes!(containers_volumes_names_and_leftovers);
fn containers_volumes_names_and_leftovers(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let rt = env.rt_image();
    env.ok(&["create", "--name", "c1", "-e", &env.mark(), &rt, "true"]);
    let c1 = env.inspect_container("c1")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let r1 = env.run_detached("r1", &[], &rt, &["sleep", "1000"]);
    env.ok(&["volume", "create", "v1"]);
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "v1:/data",
        &rt,
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_clean(&env);
    let root = env.store_dir();

    // A running container whose record is unreadable is reported, and
    // --repair leaves it running.
    let r1_config = root.join("containers").join(&r1).join("config.json");
    let saved = fs::read(&r1_config).unwrap();
    fs::write(&r1_config, b"{not json").unwrap();
    assert_damaged(&env, &[], &[&format!("Damaged container {r1}:")]);
    assert_eq!(check(&env, &["--repair"]).status, 125, "[{mode:?}]");
    assert!(
        root.join("containers").join(&r1).exists(),
        "[{mode:?}] running r1 kept"
    );
    fs::write(&r1_config, &saved).unwrap();
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "r1"])
            .trim(),
        "running"
    );

    // A name index entry lost; a container directory without records; a
    // volume without its record: each reported, each repaired.
    fs::remove_file(root.join("container-names/c1")).unwrap();
    let orphan = "ab".repeat(32);
    fs::create_dir_all(root.join("containers").join(&orphan).join("upper")).unwrap();
    chown_to_user(&env, &root.join("containers").join(&orphan));
    fs::remove_file(root.join("volumes/v1/volume.json")).unwrap();
    let out = assert_damaged(
        &env,
        &["--quick"],
        &[
            &format!("Damaged container {c1}:\n1 error occurred:\n\t* name \"c1\" is not indexed to it\n"),
            &format!("Damaged container {orphan}:\n1 error occurred:\n\t* container record is missing\n"),
            "Damaged volume v1:\n1 error occurred:\n\t* volume record is missing\n",
        ],
    );
    assert!(
        !out.stdout.contains(&r1),
        "[{mode:?}] r1 is healthy: {}",
        out.stdout
    );
    let out = check(&env, &["--repair"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(out
        .stdout
        .contains(&format!("Deleted damaged container: {orphan}\n")));
    assert!(
        out.stdout.contains("Rebuilt damaged volume: v1\n"),
        "{}",
        out.stdout
    );
    assert!(!root.join("containers").join(&orphan).exists());
    assert_clean(&env);
    env.fails(&["create", "--name", "c1", &rt, "true"], 125);
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), "v1");
    assert_eq!(
        env.ok(&["run", "--rm", "-v", "v1:/data", &rt, "cat", "/data/f"])
            .trim(),
        "kept"
    );
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "r1"])
            .trim(),
        "running",
        "[{mode:?}] no repair touches a running container"
    );

    // Leftovers of dead invocations are not damage; --repair sweeps them
    // wherever they are. Pid 1's start time is never 1 tick.
    let dead = "1_1";
    let leftovers = [
        root.join(format!("blobs/sha256/.tmp-{dead}-00-x")),
        root.join(format!("container-names/.tmp-{dead}-00-x")),
        root.join("containers")
            .join(&c1)
            .join(format!(".tmp-{dead}-00-state.json")),
        root.join(format!("tmp/{dead}-0000000000000000")),
    ];
    for p in &leftovers {
        fs::write(p, b"x").unwrap();
        chown_to_user(&env, p);
    }
    assert_clean(&env);
    assert_eq!(check(&env, &["--repair"]).status, 0);
    for p in &leftovers {
        assert!(!p.exists(), "[{mode:?}] {} swept", p.display());
    }
    env.ok(&["rm", "-f", "r1"]);
}

both_modes!(system_prune_renumber_migrate_and_reset);
fn system_prune_renumber_migrate_and_reset(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let rt = env.rt_image();
    let bb = busybox().reference();
    env.pull(&bb);
    env.ok(&["untag", &bb]);
    let bb_id = busybox().id();
    let stopped = env
        .ok(&[
            "create",
            "--name",
            "stopped",
            "-e",
            &env.mark(),
            &rt,
            "true",
        ])
        .trim()
        .to_string();
    env.ok(&["volume", "create", "unused"]);
    env.ok(&["volume", "create", "kept"]);
    let r1 = env.run_detached("r1", &["-v", "kept:/k"], &rt, &["sleep", "1000"]);

    // Without -f it asks; "n" leaves everything.
    let out = env.run_stdin(&["system", "prune"], b"n\n");
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert_eq!(
        out.stdout,
        "WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container\n\t- all dangling images\n\t- all dangling build cache\n\nAre you sure you want to continue? [y/N] "
    );
    assert_eq!(env.all_container_ids().len(), 2, "[{mode:?}]");

    // A filter it does not know: one line, nothing removed.
    let out = env.fails(&["system", "prune", "-f", "--filter", "bogus=1"], 125);
    assert_eq!(out.stderr.trim(), "Error: bogus=1 is an invalid filter");
    assert_eq!(env.all_container_ids().len(), 2, "[{mode:?}]");

    // Stopped containers and dangling images go; the running container,
    // its image and the volumes stay.
    let out = env.ok(&["system", "prune", "-f"]);
    assert!(
        out.starts_with(&format!(
            "Deleted Containers\n{stopped}\nDeleted Images\n{bb_id}\nTotal reclaimed space: "
        )),
        "[{mode:?}] {out}"
    );
    assert_eq!(env.all_container_ids(), vec![r1.clone()], "[{mode:?}]");
    assert_eq!(full_image_ids(&env).len(), 1, "[{mode:?}] rt is in use");
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "kept\nunused\n");

    // -a --volumes: unused volumes too; images in use still stay.
    let out = env.ok(&["system", "prune", "-a", "-f", "--volumes"]);
    assert!(
        out.starts_with("Deleted Volumes\nunused\nTotal reclaimed space: "),
        "[{mode:?}] {out}"
    );
    assert_eq!(full_image_ids(&env).len(), 1, "[{mode:?}]");

    // Filters pick containers by label.
    for (name, label) in [("lab", "keep=1"), ("nolab", "other=1")] {
        env.ok(&["create", "--name", name, "--label", label, &rt, "true"]);
    }
    let nolab = env.inspect_container("nolab")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.ok(&["system", "prune", "-f", "--filter", "label!=keep=1"]);
    assert!(
        out.starts_with(&format!("Deleted Containers\n{nolab}\nTotal")),
        "[{mode:?}] {out}"
    );
    assert!(env.run(&["container", "exists", "lab"]).status == 0);

    // renumber: lock numbers given out again densely, in name order.
    for v in ["a", "b", "c"] {
        env.ok(&["volume", "create", v]);
    }
    env.ok(&["volume", "rm", "a"]);
    let locks = |env: &TestEnv| env.ok(&["volume", "ls", "--format", "{{.Name}}={{.LockNumber}}"]);
    let before = locks(&env);
    env.ok(&["system", "renumber"]);
    assert_eq!(
        locks(&env),
        "b=0\nc=1\nkept=2\n",
        "[{mode:?}] before: {before}"
    );

    // migrate stops what runs; it starts again.
    env.ok(&["system", "migrate"]);
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "r1"])
            .trim(),
        "exited"
    );
    // --new-runtime: every container moves to that OCI runtime (an unknown
    // one changes nothing); `coracle` is the built-in one.
    let runtime = |env: &TestEnv| env.ok(&["inspect", "--format", "{{.OCIRuntime}}", "r1"]);
    let out = env.run(&["system", "migrate", "--new-runtime", "no-such-runtime"]);
    assert_error(
        mode,
        "--new-runtime unknown",
        &out,
        125,
        &["no-such-runtime"],
    );
    assert_eq!(runtime(&env).trim(), "coracle", "[{mode:?}]");
    env.ok(&["system", "migrate", "--migrate-db", "--new-runtime", "crun"]);
    assert_eq!(runtime(&env).trim(), "crun", "[{mode:?}]");
    env.ok(&["start", "r1"]);
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "r1"])
            .trim(),
        "running",
        "[{mode:?}] runs under crun"
    );
    env.ok(&["system", "migrate", "--new-runtime", "coracle"]);
    assert_eq!(runtime(&env).trim(), "coracle", "[{mode:?}]");
    env.ok(&["start", "r1"]);

    // reset: nothing of this user is left, and the store works afresh.
    let out = env.run_stdin(&["system", "reset"], b"n\n");
    assert!(out
        .stdout
        .starts_with("WARNING! This will remove:\n        - all containers\n"));
    assert_eq!(env.all_container_ids().len(), 2, "[{mode:?}] answered no");
    env.ok(&["system", "reset", "-f"]);
    assert!(
        wait_for(std::time::Duration::from_secs(10), || env
            .marked_pids()
            .is_empty()),
        "[{mode:?}] r1's processes end"
    );
    assert!(!env.store_dir().join("containers").exists(), "[{mode:?}]");
    assert!(env.all_container_ids().is_empty());
    assert!(full_image_ids(&env).is_empty());
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "");
    env.pull(&rt);
    assert_clean(&env);
}

// Stores of earlier releases kept every image record in one images.json:
// they are read as they are, and `system migrate` (or any change) moves
// them to the sharded images/ directory, one way.
both_modes!(an_images_json_store_is_read_and_migrated);
fn an_images_json_store_is_read_and_migrated(mode: Mode) {
    let env = TestEnv::new(mode);
    let rt = env.rt_image();
    env.pull(&busybox().reference());
    let root = env.store_dir();
    // Make it the old layout: every shard's records in one images.json.
    let mut all = Vec::new();
    for e in fs::read_dir(root.join("images")).unwrap() {
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap();
        all.extend(v["images"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(all.len(), 2, "[{mode:?}]");
    fs::remove_dir_all(root.join("images")).unwrap();
    let legacy = root.join("images.json");
    fs::write(&legacy, serde_json::json!({ "images": all }).to_string()).unwrap();
    chown_to_user(&env, &legacy);
    let before = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(before.lines().count(), 2, "[{mode:?}] {before}");
    assert_clean(&env);
    assert!(legacy.exists(), "[{mode:?}] reading changes nothing");
    env.ok(&["system", "migrate"]);
    assert!(!legacy.exists(), "[{mode:?}] images.json is gone");
    assert!(root.join("images").is_dir());
    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]),
        before
    );
    env.ok(&["run", "--rm", &rt, "true"]);
    assert_clean(&env);
}

both_modes!(system_prune_external_removes_what_no_record_names);
/// `system prune --external`: a container directory without records, a
/// layer nothing uses (however young) and dead invocations' leftovers go,
/// without a prompt or output; images, containers and volumes stay. No
/// other option may come with it.
fn system_prune_external_removes_what_no_record_names(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let rt = env.rt_image();
    env.ok(&["create", "--name", "c1", "-e", &env.mark(), &rt, "true"]);
    env.ok(&["volume", "create", "v1"]);
    // An image no container uses, which --external is not about.
    env.ok(&["tag", &rt, "spare:1"]);
    let root = env.store_dir();
    let orphan = "cd".repeat(32);
    let orphan_dir = root.join("containers").join(&orphan);
    env.write_user_file(&orphan_dir.join("upper/etc/f"), b"x");
    let hex = "ef".repeat(32);
    let layer = plant_layer(&env, &hex, "2099-01-01T00:00:00Z");
    let leftover = root.join("blobs/sha256/.tmp-1_1-00-x");
    fs::write(&leftover, b"x").unwrap();
    chown_to_user(&env, &leftover);
    let images = env.image_ids();
    let containers = env.all_container_ids();

    for other in [
        &["--all"][..],
        &["--volumes"],
        &["--build"],
        &["--filter", "label=a"],
    ] {
        let mut args = vec!["system", "prune", "--external"];
        args.extend_from_slice(other);
        let out = env.fails(&args, 125);
        assert_eq!(
            out.stderr.trim(),
            "Error: system prune --external cannot be combined with other options",
            "[{mode:?}] {args:?}"
        );
        assert!(orphan_dir.exists() && layer.exists(), "[{mode:?}] {args:?}");
    }
    // No prompt: stdin is not read.
    let out = env.run(&["system", "prune", "--external"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert_eq!(out.stdout, "", "[{mode:?}]");
    assert!(!orphan_dir.exists(), "[{mode:?}] the orphan directory");
    assert!(!layer.exists(), "[{mode:?}] the unused layer");
    assert!(!leftover.exists(), "[{mode:?}] the leftover");
    assert_eq!(env.image_ids(), images, "[{mode:?}]");
    assert_eq!(env.all_container_ids(), containers, "[{mode:?}]");
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), "v1");
    assert_clean(&env);
    assert_eq!(env.ok(&["start", "-a", "c1"]), "", "[{mode:?}]");
    env.ok(&["run", "--rm", "spare:1", "true"]);
    // Nothing left to do: the same, and nothing changes.
    let out = env.run(&["system", "prune", "--external"]);
    assert_eq!((out.status, out.stdout.as_str()), (0, ""), "[{mode:?}]");
    assert_eq!(env.image_ids(), images, "[{mode:?}]");
}
