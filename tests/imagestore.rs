//! The global `--imagestore` (and storage.conf's `imagestore`): images,
//! their layers and blobs under the image store, containers under the
//! graph root; pull, run, build, commit, save/load, rmi and prune with
//! one; the flag over the file; `info`; an image store that cannot be
//! made (or made for another driver); a killed pull's leftovers in the
//! image store's tmp/ swept by the next command; graph roots sharing one
//! image store (pulls at once, each other's images kept); `system reset`;
//! `system check` clean. As root and rootless.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// Names in `dir` (none when it does not exist), sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What images keep in a store dir: blobs, layers, image records.
fn image_parts(dir: &Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    (
        entries(&dir.join("blobs/sha256")),
        entries(&dir.join("layers")),
        entries(&dir.join("images"))
            .into_iter()
            .filter(|n| n.ends_with(".json"))
            .collect(),
    )
}

/// An image store dir the command's user may create.
fn image_store_path(env: &TestEnv, name: &str) -> PathBuf {
    env.home.join(name)
}

fn hex(id: &str) -> String {
    id.strip_prefix("sha256:").unwrap_or(id).to_string()
}

both_modes!(images_live_in_the_image_store_containers_in_the_root);
fn images_live_in_the_image_store_containers_in_the_root(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let a = env.store_dir();
    let b = image_store_path(&env, "images-b");
    let bs = b.to_str().unwrap();
    let is = |args: &[&str]| -> String {
        let mut all = vec!["--imagestore", bs];
        all.extend_from_slice(args);
        env.ok(&all)
    };

    // An image of the root's own, pulled without an image store.
    let old = env.pull(&busybox().reference());
    let a_before = image_parts(&a);
    assert!(!a_before.1.is_empty(), "[{mode:?}] the root's own layers");

    // Pulled with the image store: everything of it under B, nothing new under A.
    let rt = rt().reference();
    let out = is(&["pull", &rt]);
    let rt_id = out.lines().last().unwrap().trim().to_string();
    assert!(is_hex(&rt_id, 64), "[{mode:?}] pull printed {out:?}");
    let (blobs, layers, shards) = image_parts(&b);
    assert!(
        blobs.contains(&rt_id),
        "[{mode:?}] the config blob is under the image store: {blobs:?}"
    );
    for d in rt_image().diff_ids() {
        assert!(
            layers.contains(&hex(&d)),
            "[{mode:?}] layer {d} is under the image store: {layers:?}"
        );
    }
    assert!(!shards.is_empty(), "[{mode:?}] image records under B");
    // (busybox's layer is rt's first too: B has its own copy.)
    assert_eq!(
        image_parts(&a),
        a_before,
        "[{mode:?}] the root gained nothing"
    );

    // Each mode sees its own images.
    let listed = is(&["images", "-q", "--no-trunc"]);
    assert_eq!(hex(listed.trim()), rt_id, "[{mode:?}] with --imagestore");
    let plain = env.ok(&["images", "-q", "--no-trunc"]);
    assert_eq!(
        hex(plain.trim()),
        old,
        "[{mode:?}] without it, the root's own"
    );

    // info: the count and where the image store is.
    let n = is(&["info", "--format", "{{.Store.ImageStore.Number}}"]);
    assert_eq!(n.trim(), "1", "[{mode:?}] info's image count");
    let info: serde_json::Value = serde_json::from_str(&is(&["info", "--format", "json"])).unwrap();
    assert_eq!(
        info["store"]["imageStore"]["path"], bs,
        "[{mode:?}] info names the image store"
    );
    assert_eq!(info["store"]["graphRoot"], a.to_str().unwrap());
    let plain: serde_json::Value =
        serde_json::from_str(&env.ok(&["info", "--format", "json"])).unwrap();
    assert!(
        plain["store"]["imageStore"].get("path").is_none(),
        "[{mode:?}] none without one: {}",
        plain["store"]["imageStore"]
    );

    // A container from it: its writable layer is under the root.
    let out = is(&[
        "run",
        "--name",
        "c1",
        &rt,
        "sh",
        "-c",
        "echo hi > /f && cat /f",
    ]);
    assert_eq!(out.trim(), "hi", "[{mode:?}] run");
    let cid = is(&["inspect", "--format", "{{.Id}}", "c1"])
        .trim()
        .to_string();
    assert_eq!(
        fs::read_to_string(a.join("containers").join(&cid).join("upper/f")).unwrap(),
        "hi\n",
        "[{mode:?}] the container's upper dir is under the root"
    );
    assert!(
        !b.join("containers").exists(),
        "[{mode:?}] no container under the image store"
    );
    // The container knows where its layers are: a command without the
    // image store starts it as well.
    let out = env.ok(&["start", "-a", "c1"]);
    assert_eq!(out.trim(), "hi", "[{mode:?}] started without --imagestore");
    // A commit there would name an image and layers the root does not
    // have: refused, by name.
    for extra in [&[][..], &["--squash"][..]] {
        let mut args = vec!["commit"];
        args.extend_from_slice(extra);
        args.extend(["c1", "localhost/is-other"]);
        let out = env.run(&args);
        assert_error(
            mode,
            "commit into another image store",
            &out,
            125,
            &["--imagestore", bs],
        );
    }

    // commit: the new layer and image under B.
    let committed = is(&["commit", "-q", "c1", "localhost/is-commit"])
        .trim()
        .to_string();
    let out = is(&["run", "--rm", "localhost/is-commit", "cat", "/f"]);
    assert_eq!(out.trim(), "hi", "[{mode:?}] the committed image runs");
    let committed_layers = image_parts(&b).1;
    assert_eq!(
        committed_layers.len(),
        layers.len() + 1,
        "[{mode:?}] one more layer under B"
    );

    // cp from the stopped container mounts its layers from the image store.
    let copied = env.home.join("f-copy");
    is(&["cp", "c1:/f", copied.to_str().unwrap()]);
    assert_eq!(
        fs::read_to_string(&copied).unwrap(),
        "hi\n",
        "[{mode:?}] cp"
    );
    // push compresses the new layer in the image store's tmp/; pulled
    // back into a third image store, it runs.
    let dest = format!("{}/{}:1", registry().host, unique("imagestore/commit"));
    is(&["push", "--tls-verify=false", "localhost/is-commit", &dest]);
    let c = image_store_path(&env, "images-c");
    let cs = c.to_str().unwrap();
    env.ok(&["--imagestore", cs, "pull", "--tls-verify=false", &dest]);
    let out = env.ok(&["--imagestore", cs, "run", "--rm", &dest, "cat", "/f"]);
    assert_eq!(out.trim(), "hi", "[{mode:?}] pushed and pulled back");
    assert!(
        entries(&b.join("tmp")).is_empty(),
        "[{mode:?}] push left nothing in tmp/"
    );

    // build: the same.
    let ctx = env.home.join("ctx");
    env.write_user_file(
        &ctx.join("Containerfile"),
        format!("FROM {rt}\nRUN echo built > /built\n").as_bytes(),
    );
    is(&[
        "build",
        "-q",
        "-t",
        "localhost/is-built",
        ctx.to_str().unwrap(),
    ]);
    let out = is(&["run", "--rm", "localhost/is-built", "cat", "/built"]);
    assert_eq!(out.trim(), "built", "[{mode:?}] the built image runs");
    assert_eq!(
        image_parts(&b).1.len(),
        layers.len() + 2,
        "[{mode:?}] the build's layer under B"
    );

    // save and load through the image store.
    let archive = env.home.join("commit.tar");
    let ar = archive.to_str().unwrap();
    is(&["save", "-o", ar, "localhost/is-commit"]);
    is(&["rmi", "localhost/is-commit"]);
    assert!(
        !b.join("blobs/sha256").join(hex(&committed)).exists(),
        "[{mode:?}] rmi removed the config blob from B"
    );
    let out = is(&["load", "-i", ar]);
    assert!(out.contains("is-commit"), "[{mode:?}] load: {out}");
    let out = is(&["run", "--rm", "localhost/is-commit", "cat", "/f"]);
    assert_eq!(out.trim(), "hi", "[{mode:?}] the loaded image runs");

    // df counts the image store's images and the root's containers.
    let df = is(&["system", "df", "--format", "{{.Type}} {{.Total}}"]);
    assert!(
        df.lines().any(|l| l == "Images 3") && df.lines().any(|l| l == "Containers 1"),
        "[{mode:?}] df: {df}"
    );

    assert_eq!(
        image_parts(&a),
        a_before,
        "[{mode:?}] after all of it the root still holds only its own image"
    );
    let out = env.run(&["--imagestore", bs, "system", "check"]);
    assert_eq!(out.status, 0, "[{mode:?}] system check with it: {out:?}");
    let out = env.run(&["system", "check"]);
    assert_eq!(out.status, 0, "[{mode:?}] system check without it: {out:?}");

    // rmi and prune empty the image store, the root's image stays.
    is(&["rm", "c1"]);
    assert!(
        !a.join("containers").join(&cid).exists(),
        "[{mode:?}] rm removed the container from the root"
    );
    is(&["rmi", "localhost/is-built"]);
    is(&["image", "prune", "-a", "-f"]);
    assert_eq!(
        is(&["images", "-q"]).trim(),
        "",
        "[{mode:?}] no image left in B"
    );
    let (blobs, layers, _) = image_parts(&b);
    assert!(
        blobs.is_empty() && layers.is_empty(),
        "[{mode:?}] B holds no blob or layer: {blobs:?} {layers:?}"
    );
    assert!(
        entries(&b.join("tmp")).is_empty(),
        "[{mode:?}] B's tmp/ is empty"
    );
    assert_eq!(
        env.image_ids().len(),
        1,
        "[{mode:?}] the root's own image stays"
    );
    assert_eq!(image_parts(&a), a_before, "[{mode:?}]");
    let out = env.run(&["--imagestore", bs, "system", "check"]);
    assert_eq!(out.status, 0, "[{mode:?}] system check after: {out:?}");
}

both_modes!(storage_conf_sets_the_image_store_and_the_flag_wins);
fn storage_conf_sets_the_image_store_and_the_flag_wins(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let b = image_store_path(&env, "from-conf");
    let c = image_store_path(&env, "from-flag");
    let conf = env.home.join("storage.conf");
    env.write_user_file(
        &conf,
        format!("[storage]\nimagestore = \"{}\"\n", b.display()).as_bytes(),
    );
    env.set_env("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap());
    let _reaper = Reaper(&env);
    let img = busybox();
    let id = env.pull(&img.reference());
    assert!(
        b.join("blobs/sha256").join(&id).exists(),
        "[{mode:?}] storage.conf's image store holds the pull"
    );
    assert!(
        !env.store_dir().join("blobs/sha256").join(&id).exists(),
        "[{mode:?}] not the root"
    );
    let path = env.ok(&["info", "--format", "{{.Store.ImageStore.Path}}"]);
    assert_eq!(path.trim(), b.to_str().unwrap(), "[{mode:?}] info");
    let out = env.ok(&["run", "--rm", &img.reference(), "echo", "ok"]);
    assert_eq!(out.trim(), "ok", "[{mode:?}] run from it");

    // The flag wins over the file.
    let cs = c.to_str().unwrap();
    let listed = env.ok(&["--imagestore", cs, "images", "-q"]);
    assert_eq!(listed.trim(), "", "[{mode:?}] another image store is empty");
    env.ok(&["--imagestore", cs, "pull", &img.reference()]);
    assert!(
        c.join("blobs/sha256").join(&id).exists(),
        "[{mode:?}] the flag's image store holds its pull"
    );
    let path = env.ok(&[
        "--imagestore",
        cs,
        "info",
        "--format",
        "{{.Store.ImageStore.Path}}",
    ]);
    assert_eq!(path.trim(), cs, "[{mode:?}] info with the flag");
    env.ok(&["--imagestore", cs, "rmi", &img.reference()]);
    // And "" is none: the graph root's own images.
    let listed = env.ok(&["--imagestore", "", "images", "-q"]);
    assert_eq!(listed.trim(), "", "[{mode:?}] the root has none");
    let path = env.ok(&[
        "--imagestore",
        "",
        "info",
        "--format",
        "{{.Store.ImageStore.Number}}",
    ]);
    assert_eq!(path.trim(), "0", "[{mode:?}] info without one");
    assert!(
        !c.join("blobs/sha256").join(&id).exists(),
        "[{mode:?}] rmi removed it from the flag's store"
    );
    assert!(
        b.join("blobs/sha256").join(&id).exists(),
        "[{mode:?}] and left the file's"
    );
    let out = env.run(&["system", "check"]);
    assert_eq!(out.status, 0, "[{mode:?}] system check: {out:?}");
}

both_modes!(an_image_store_that_cannot_be_made_is_one_error);
fn an_image_store_that_cannot_be_made_is_one_error(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    env.ok(&["images"]);
    let before = entries(&env.store_dir());
    // Below a regular file: ENOTDIR whoever asks.
    let file = env.home.join("plain-file");
    env.write_user_file(&file, b"x");
    let bad = file.join("store");
    let out = env.run(&["--imagestore", bad.to_str().unwrap(), "images"]);
    assert_error(
        mode,
        "--imagestore under a file",
        &out,
        125,
        &["image store", bad.to_str().unwrap()],
    );
    assert!(!bad.exists(), "[{mode:?}]");
    let out = env.run(&["--imagestore", "/proc/no-such/dir", "pull", "x"]);
    assert_error(mode, "--imagestore in /proc", &out, 125, &["image store"]);
    // The graph root itself is not an image store (c/storage's rule).
    let a = env.store_dir();
    let out = env.run(&["--imagestore", a.to_str().unwrap(), "images"]);
    assert_error(
        mode,
        "--imagestore = graph root",
        &out,
        125,
        &["different than graphroot"],
    );
    assert_eq!(entries(&a), before, "[{mode:?}] the root is as it was");
    // An image store made for overlay refuses another driver's root, and
    // the refused command makes no root.
    let b = image_store_path(&env, "overlay-images");
    env.ok(&["--imagestore", b.to_str().unwrap(), "images"]);
    let root3 = env.home.join("vfs-root");
    let run3 = env.home.join("vfs-run");
    let out = env.run_program(
        coracle_bin().to_str().unwrap(),
        &[
            "--root",
            root3.to_str().unwrap(),
            "--runroot",
            run3.to_str().unwrap(),
            "--storage-driver",
            "vfs",
            "--imagestore",
            b.to_str().unwrap(),
            "images",
        ],
    );
    assert_error(
        mode,
        "--imagestore of another driver",
        &out,
        125,
        &["image store", "overlay", "vfs"],
    );
    assert!(!root3.exists() && !run3.exists(), "[{mode:?}] nothing made");
}

both_modes!(a_killed_pull_leaves_leftovers_in_the_image_store_the_next_command_sweeps);
fn a_killed_pull_leaves_leftovers_in_the_image_store_the_next_command_sweeps(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let b = image_store_path(&env, "images-crash");
    let bs = b.to_str().unwrap();
    env.ok(&["--imagestore", bs, "images"]);
    let bin = coracle_bin();
    let mut args = vec![
        "CORACLE_TEST_CRASH_AT=layer-staged".to_string(),
        bin.display().to_string(),
    ];
    if mode == Mode::Root {
        args.extend([
            "--root".to_string(),
            env.store_dir().display().to_string(),
            "--runroot".to_string(),
            env.runroot_dir().display().to_string(),
        ]);
    }
    args.extend([
        "--imagestore".to_string(),
        bs.to_string(),
        "pull".to_string(),
        rt().reference(),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = env.run_program("/usr/bin/env", &refs);
    assert_ne!(out.status, 0, "[{mode:?}] the pull was killed: {out:?}");
    let left = entries(&b.join("tmp"));
    assert!(
        !left.is_empty(),
        "[{mode:?}] the staged layer is in the image store's tmp/"
    );
    assert!(
        entries(&env.store_dir().join("tmp")).is_empty(),
        "[{mode:?}] not in the root's"
    );
    // A dead writer's record temp file beside the image store's records.
    let dead = b.join(".tmp-1_1-01-images.json");
    fs::write(&dead, b"{").unwrap();
    // The next command that takes the lock (here one about volumes) sweeps
    // the image store too.
    env.ok(&["--imagestore", bs, "volume", "create", "after"]);
    assert!(
        entries(&b.join("tmp")).is_empty(),
        "[{mode:?}] swept: {:?}",
        entries(&b.join("tmp"))
    );
    assert!(!dead.exists(), "[{mode:?}] the dead .tmp file is gone");
    assert_eq!(
        env.ok(&["--imagestore", bs, "images", "-q"]).trim(),
        "",
        "[{mode:?}] no half image"
    );
    let out = env.run(&["--imagestore", bs, "system", "check"]);
    assert_eq!(out.status, 0, "[{mode:?}] system check: {out:?}");
    // The pull succeeds when run again.
    env.ok(&["--imagestore", bs, "pull", &rt().reference()]);
    let out = env.ok(&["--imagestore", bs, "run", "--rm", &rt().reference(), "true"]);
    assert_eq!(out, "", "[{mode:?}]");
}

both_modes!(graph_roots_sharing_an_image_store_keep_each_others_images);
/// Two graph roots on one image store: an image the other root's
/// container uses is neither removed nor pruned from under it.
fn graph_roots_sharing_an_image_store_keep_each_others_images(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let b = image_store_path(&env, "shared-images");
    let bs = b.to_str().unwrap();
    let root2 = env.home.join("root2");
    let run2 = env.home.join("run2");
    let second = |args: &[&str]| -> Out {
        let mut all = vec![
            "--root",
            root2.to_str().unwrap(),
            "--runroot",
            run2.to_str().unwrap(),
            "--imagestore",
            bs,
        ];
        all.extend_from_slice(args);
        env.run_program(coracle_bin().to_str().unwrap(), &all)
    };
    let rt = rt().reference();
    env.ok(&["--imagestore", bs, "pull", &rt]);
    // The second root sees the image without pulling it and makes a
    // container on it.
    let out = second(&["create", "--name", "s1", &rt, "true"]);
    assert_eq!(
        out.status, 0,
        "[{mode:?}] create in the second root: {out:?}"
    );
    assert!(
        root2.join("containers").read_dir().unwrap().count() == 1,
        "[{mode:?}] its container is under its own root"
    );
    // The first root cannot take it away.
    let out = env.run(&["--imagestore", bs, "rmi", &rt]);
    assert_ne!(out.status, 0, "[{mode:?}] rmi of an image in use: {out:?}");
    assert!(out.stderr.contains("in use"), "[{mode:?}] {}", out.stderr);
    env.ok(&["--imagestore", bs, "image", "prune", "-a", "-f"]);
    assert_eq!(
        env.ok(&["--imagestore", bs, "images", "-q"])
            .lines()
            .count(),
        1,
        "[{mode:?}] prune kept it"
    );
    let out = second(&["start", "-a", "s1"]);
    assert_eq!(
        out.status, 0,
        "[{mode:?}] the container still runs: {out:?}"
    );
    // Once that container is gone, the image may go.
    let out = second(&["rm", "s1"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    env.ok(&["--imagestore", bs, "rmi", &rt]);
    assert!(
        entries(&b.join("layers")).is_empty(),
        "[{mode:?}] its layers went"
    );
    let out = second(&["system", "check"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
}

both_modes!(system_reset_empties_the_image_store);
fn system_reset_empties_the_image_store(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let b = image_store_path(&env, "images-reset");
    let bs = b.to_str().unwrap();
    let rt = rt().reference();
    env.ok(&["--imagestore", bs, "pull", &rt]);
    env.ok(&["--imagestore", bs, "create", "--name", "r1", &rt, "true"]);
    assert!(!entries(&b.join("layers")).is_empty(), "[{mode:?}]");
    env.ok(&["--imagestore", bs, "system", "reset", "-f"]);
    let (blobs, layers, shards) = image_parts(&b);
    assert!(
        blobs.is_empty() && layers.is_empty() && shards.is_empty(),
        "[{mode:?}] reset emptied the image store: {blobs:?} {layers:?} {shards:?}"
    );
    assert!(
        entries(&env.store_dir().join("containers")).is_empty(),
        "[{mode:?}] and the root"
    );
    assert_eq!(env.ok(&["--imagestore", bs, "images", "-q"]).trim(), "");
    assert_eq!(env.ok(&["--imagestore", bs, "ps", "-a", "-q"]).trim(), "");
}

both_modes!(two_graph_roots_pull_into_one_image_store_at_once);
/// Pulls from two graph roots into one image store at the same time
/// serialize on its lock: both succeed, one image, a clean store.
fn two_graph_roots_pull_into_one_image_store_at_once(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let b = image_store_path(&env, "pulled-twice");
    let bs = b.to_str().unwrap();
    let root2 = env.home.join("root2");
    let run2 = env.home.join("run2");
    let second = |args: &[&str]| -> Out {
        let mut all = vec![
            "--root",
            root2.to_str().unwrap(),
            "--runroot",
            run2.to_str().unwrap(),
            "--imagestore",
            bs,
        ];
        all.extend_from_slice(args);
        env.run_program(coracle_bin().to_str().unwrap(), &all)
    };
    let reference = layers().reference();
    let (one, two) = std::thread::scope(|s| {
        let one = s.spawn(|| env.run(&["--imagestore", bs, "pull", "-q", &reference]));
        let two = s.spawn(|| second(&["pull", "-q", &reference]));
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_eq!(one.status, 0, "[{mode:?}] first root: {one:?}");
    assert_eq!(two.status, 0, "[{mode:?}] second root: {two:?}");
    assert_eq!(one.stdout, two.stdout, "[{mode:?}] the same image");
    let listed = env.ok(&["--imagestore", bs, "images", "-q"]);
    assert_eq!(listed.lines().count(), 1, "[{mode:?}] one image: {listed}");
    let out = second(&["images", "-q"]);
    assert_eq!(out.stdout, listed, "[{mode:?}] seen from both roots");
    assert!(
        entries(&b.join("tmp")).is_empty(),
        "[{mode:?}] tmp/ is empty"
    );
    let out = env.run(&["--imagestore", bs, "system", "check"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let out = second(&["run", "--rm", &reference, "true"]);
    assert_eq!(
        out.status, 0,
        "[{mode:?}] runs from the second root: {out:?}"
    );
}
