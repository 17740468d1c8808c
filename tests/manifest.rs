//! `coracle manifest ...` and `build --platform A,B --manifest LIST`: lists
//! made from images of two platforms, changed, pushed to the test registry
//! (read back by skopeo and by `manifest inspect`), pulled back per
//! platform, removed; bad input refused with the store unchanged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// A build context with a file and a Containerfile that has no RUN step,
/// so it builds for any platform without an emulator.
fn no_run_context(env: &TestEnv, name: &str, extra: &str) -> PathBuf {
    let dir = env.dir.join(name);
    mkdir_mode(&dir, 0o755);
    std::fs::write(dir.join("hello"), format!("hello {name}\n")).unwrap();
    std::fs::write(
        dir.join("Containerfile"),
        format!("FROM scratch\nCOPY hello /hello\n{extra}"),
    )
    .unwrap();
    dir
}

fn ctx(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn inspect_list(env: &TestEnv, list: &str) -> Value {
    let out = env.ok(&["manifest", "inspect", list]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("manifest inspect: {e}: {out}"))
}

/// `os/arch[/variant]` of each entry, in order.
fn platforms(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .expect("manifests array")
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p["variant"].as_str() {
                s.push('/');
                s.push_str(v);
            }
            s
        })
        .collect()
}

fn digests(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect()
}

fn skopeo_raw(reference: &str) -> Value {
    let out = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{reference}"),
        ])
        .output()
        .expect("running skopeo (Debian package skopeo)");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

both_modes!(build_two_platforms_into_a_list_push_and_pull_back_each);
fn build_two_platforms_into_a_list_push_and_pull_back_each(mode: Mode) {
    let env = TestEnv::new(mode);
    let dir = no_run_context(&env, "multi", "CMD [\"/hello\"]\n");
    let out = env.ok(&[
        "build",
        "-q",
        "--platform",
        "linux/amd64,linux/arm64",
        "--manifest",
        "mylist",
        ctx(&dir),
    ]);
    assert!(is_hex(out.lines().last().unwrap(), 64), "[{mode:?}] {out}");

    // The list is an image, as podman shows it.
    let names = env.image_names();
    assert!(
        names.iter().any(|n| n == "localhost/mylist:latest"),
        "[{mode:?}] images: {names:?}"
    );
    let index = inspect_list(&env, "mylist");
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "[{mode:?}]"
    );
    assert_eq!(
        platforms(&index),
        ["linux/amd64", "linux/arm64/v8"],
        "[{mode:?}] {index}"
    );

    // Push: every image, then the index.
    let dest = format!("{}/{}:1", registry().host, unique("lists/multi"));
    env.ok(&[
        "manifest",
        "push",
        "--tls-verify=false",
        "--digestfile",
        env.home.join("digest").to_str().unwrap(),
        "mylist",
        &format!("docker://{dest}"),
    ]);
    let raw = skopeo_raw(&dest);
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(
        platforms(&raw),
        ["linux/amd64", "linux/arm64/v8"],
        "[{mode:?}]"
    );
    let digest = std::fs::read_to_string(env.home.join("digest")).unwrap();
    assert!(digest.starts_with("sha256:"), "[{mode:?}] {digest}");
    // Each entry is in the registry under its digest.
    let repo = dest.rsplit_once(':').unwrap().0;
    for d in digests(&raw) {
        let m = skopeo_raw(&format!("{repo}@{d}"));
        assert_eq!(m["layers"].as_array().unwrap().len(), 1, "[{mode:?}] {m}");
    }

    // `manifest inspect` of the remote list.
    let remote: Value =
        serde_json::from_str(&env.ok(&["manifest", "inspect", "--tls-verify=false", &dest]))
            .unwrap();
    assert_eq!(
        remote, raw,
        "[{mode:?}] remote inspect shows the registry's index"
    );

    // Pulled back by the list's name, one platform each.
    for arch in ["amd64", "arm64"] {
        let fresh = TestEnv::new(mode);
        fresh.ok(&["pull", "-q", "--tls-verify=false", "--arch", arch, &dest]);
        let info = fresh.inspect(&dest);
        assert_eq!(
            info["Architecture"], arch,
            "[{mode:?}] pulled --arch {arch}"
        );
        assert_eq!(
            info["RepoDigests"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d.as_str().unwrap().ends_with(digest.trim()))
                .count(),
            1,
            "[{mode:?}] the list's digest is among the pulled image's: {info}"
        );
    }

    // --all copies a list's entries into another; pushed as a Docker list.
    env.ok(&["manifest", "create", "--all", "copy", "mylist"]);
    assert_eq!(
        digests(&inspect_list(&env, "copy")),
        digests(&index),
        "[{mode:?}]"
    );
    let v2 = format!("{}/{}:1", registry().host, unique("lists/v2s2"));
    env.ok(&[
        "manifest",
        "push",
        "-q",
        "--tls-verify=false",
        "--format",
        "v2s2",
        "copy",
        &v2,
    ]);
    let raw = skopeo_raw(&v2);
    assert_eq!(
        raw["mediaType"], "application/vnd.docker.distribution.manifest.list.v2+json",
        "[{mode:?}] {raw}"
    );
    for m in raw["manifests"].as_array().unwrap() {
        assert_eq!(
            m["mediaType"], "application/vnd.docker.distribution.manifest.v2+json",
            "[{mode:?}] {raw}"
        );
    }
    assert_eq!(
        platforms(&raw),
        ["linux/amd64", "linux/arm64/v8"],
        "[{mode:?}]"
    );

    // --rm: pushed again, the local list is gone, its images stay.
    let before = env.image_ids().len();
    env.ok(&[
        "manifest",
        "push",
        "--tls-verify=false",
        "--rm",
        "mylist",
        &dest,
    ]);
    env.fails(&["manifest", "exists", "mylist"], 1);
    assert_eq!(
        env.image_ids().len(),
        before - 1,
        "[{mode:?}] only the list went"
    );
}

both_modes!(manifest_create_add_annotate_remove_rm);
fn manifest_create_add_annotate_remove_rm(mode: Mode) {
    let env = TestEnv::new(mode);
    let dir = no_run_context(&env, "one", "");
    let arm = env.ok(&["build", "-q", "--arch", "arm64", "-t", "app-arm", ctx(&dir)]);
    let amd = env.ok(&["build", "-q", "-t", "app-amd", ctx(&dir)]);
    assert_ne!(
        arm.trim(),
        amd.trim(),
        "[{mode:?}] two platforms, two images"
    );
    assert_eq!(
        env.inspect("app-arm")["Architecture"],
        "arm64",
        "[{mode:?}]"
    );

    let id = env.ok(&[
        "manifest",
        "create",
        "--annotation",
        "team=a",
        "l2",
        "app-arm",
    ]);
    let id = id.trim();
    assert!(is_hex(id, 64), "[{mode:?}] create prints the list id: {id}");
    env.ok(&["manifest", "exists", "l2"]);
    // A plain image is no list.
    env.fails(&["manifest", "exists", "app-arm"], 1);
    env.fails(&["manifest", "exists", "nolist"], 1);

    let added = env.ok(&[
        "manifest",
        "add",
        "--annotation",
        "k=v",
        "--features",
        "sse4",
        "l2",
        "app-amd",
    ]);
    assert_eq!(added.trim(), id, "[{mode:?}] add prints the list id");
    let index = inspect_list(&env, "l2");
    assert_eq!(index["annotations"]["team"], "a", "[{mode:?}] {index}");
    assert_eq!(
        platforms(&index),
        ["linux/arm64", "linux/amd64"],
        "[{mode:?}]"
    );
    assert_eq!(index["manifests"][1]["annotations"]["k"], "v", "[{mode:?}]");
    assert_eq!(
        index["manifests"][1]["platform"]["features"][0], "sse4",
        "[{mode:?}]"
    );
    let d = digests(&index);

    // Adding the same image again changes nothing but its entry.
    env.ok(&["manifest", "add", "l2", "containers-storage:app-amd"]);
    assert_eq!(
        digests(&inspect_list(&env, "l2")),
        d,
        "[{mode:?}] no duplicate"
    );

    // annotate by digest and by image name; --index for the list itself.
    let out = env.ok(&[
        "manifest",
        "annotate",
        "--arch",
        "riscv64",
        "--variant",
        "",
        "l2",
        &d[0],
    ]);
    assert_eq!(out.trim(), format!("{id}: {}", d[0]), "[{mode:?}]");
    env.ok(&[
        "manifest",
        "annotate",
        "--os-version",
        "1.0",
        "--annotation",
        "x=y",
        "l2",
        "app-amd",
    ]);
    env.ok(&[
        "manifest",
        "annotate",
        "--index",
        "--annotation",
        "scope=list",
        "l2",
    ]);
    let index = inspect_list(&env, "l2");
    assert_eq!(
        index["manifests"][0]["platform"]["architecture"], "riscv64",
        "[{mode:?}]"
    );
    assert_eq!(
        index["manifests"][1]["platform"]["os.version"], "1.0",
        "[{mode:?}]"
    );
    assert_eq!(index["manifests"][1]["annotations"]["x"], "y", "[{mode:?}]");
    assert_eq!(index["annotations"]["scope"], "list", "[{mode:?}]");

    // A second create of the name fails; --amend takes the list.
    assert_refused(&env, &["manifest", "create", "l2"], "already in use");
    let amended = env.ok(&["manifest", "create", "--amend", "l2"]);
    assert_eq!(amended.trim(), id, "[{mode:?}]");

    let out = env.ok(&["manifest", "remove", "l2", &d[0]]);
    assert_eq!(out.trim(), format!("{id}: {}", d[0]), "[{mode:?}]");
    assert_eq!(
        digests(&inspect_list(&env, "l2")),
        [d[1].clone()],
        "[{mode:?}]"
    );

    let out = env.ok(&["manifest", "rm", "l2"]);
    assert_eq!(
        out,
        format!("Untagged: localhost/l2:latest\nDeleted: {id}\n"),
        "[{mode:?}]"
    );
    env.fails(&["manifest", "exists", "l2"], 1);
    // Its images stay; --ignore skips what is not there.
    env.inspect("app-arm");
    env.inspect("app-amd");
    env.ok(&["manifest", "rm", "--ignore", "l2"]);
}

both_modes!(manifest_bad_input_is_refused_and_store_unchanged);
fn manifest_bad_input_is_refused_and_store_unchanged(mode: Mode) {
    let env = TestEnv::new(mode);
    let dir = no_run_context(&env, "bad", "");
    env.ok(&["build", "-q", "-t", "plain", ctx(&dir)]);
    env.ok(&["manifest", "create", "lst", "plain"]);
    let before = env.ok(&["manifest", "inspect", "lst"]);

    assert_refused(
        &env,
        &["manifest", "add", "nolist", "plain"],
        "nolist: image not known",
    );
    assert_refused(
        &env,
        &["manifest", "add", "plain", "plain"],
        "not a manifest list",
    );
    assert_refused(
        &env,
        &["manifest", "add", "lst", "noimage"],
        "noimage: image not known",
    );
    assert_refused(
        &env,
        &["manifest", "add", "lst", "docker://127.0.0.1:1/x"],
        "127.0.0.1:1",
    );
    assert_refused(
        &env,
        &["manifest", "create", "new", "noimage"],
        "image not known",
    );
    env.fails(&["manifest", "exists", "new"], 1);
    assert_refused(
        &env,
        &["manifest", "create", "--amend", "plain"],
        "not a manifest list",
    );
    assert_refused(
        &env,
        &[
            "manifest",
            "remove",
            "lst",
            &format!("sha256:{}", "0".repeat(64)),
        ],
        "no such digest",
    );
    assert_refused(
        &env,
        &["manifest", "remove", "lst", "nodigest"],
        "invalid digest",
    );
    assert_refused(
        &env,
        &["manifest", "annotate", "lst", "noimage"],
        "image not known",
    );
    assert_refused(
        &env,
        &[
            "manifest",
            "annotate",
            "--annotation",
            "novalue",
            "lst",
            "plain",
        ],
        "KEY=VALUE",
    );
    assert_refused(&env, &["manifest", "rm", "plain"], "not a manifest list");
    assert_refused(
        &env,
        &["manifest", "rm", "nolist"],
        "nolist: image not known",
    );
    assert_refused(
        &env,
        &[
            "manifest",
            "push",
            "plain",
            &format!("{}/x/y:1", registry().host),
        ],
        "not a manifest list",
    );
    assert_refused(
        &env,
        &["manifest", "push", "-f", "v1", "lst", "x"],
        "unsupported manifest format",
    );
    assert_refused(
        &env,
        &[
            "build",
            "-q",
            "--platform",
            "linux/arm64",
            "--manifest",
            "plain",
            ctx(&dir),
        ],
        "not a manifest list",
    );
    assert_eq!(
        env.ok(&["manifest", "inspect", "lst"]),
        before,
        "[{mode:?}] list unchanged"
    );
}

both_modes!(build_foreign_platform_run_needs_an_emulator);
/// Without a registered emulator a RUN step cannot run for a foreign
/// platform: that platform is named in the error, the others are built.
fn build_foreign_platform_run_needs_an_emulator(mode: Mode) {
    if Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists() {
        eprintln!("an aarch64 emulator is registered here: nothing to refuse");
        return;
    }
    let env = TestEnv::new(mode);
    let p = busybox();
    env.pull(&p.reference());
    let dir = env.dir.join("runctx");
    mkdir_mode(&dir, 0o755);
    std::fs::write(
        dir.join("Containerfile"),
        format!("FROM {}\nRUN echo built > /built\n", p.reference()),
    )
    .unwrap();
    let out = env.fails(
        &[
            "build",
            "-q",
            "--platform",
            "linux/amd64,linux/arm64",
            "--manifest",
            "runlist",
            ctx(&dir),
        ],
        125,
    );
    assert_error(
        mode,
        "build --platform linux/amd64,linux/arm64",
        &out,
        125,
        &["linux/arm64", "emulator"],
    );
    // amd64 was built and is in the list.
    assert_eq!(
        platforms(&inspect_list(&env, "runlist")),
        ["linux/amd64"],
        "[{mode:?}]"
    );
}

both_modes!(run_a_list_runs_its_image_for_the_platform);
fn run_a_list_runs_its_image_for_the_platform(mode: Mode) {
    let env = TestEnv::new(mode);
    let p = busybox();
    env.pull(&p.reference());
    env.ok(&["manifest", "create", "bblist", &p.reference()]);
    let out = env.ok(&["run", "--rm", "bblist", "echo", "ok"]);
    assert_eq!(
        out.trim(),
        "ok",
        "[{mode:?}] run LIST runs the host's image"
    );
    // No arm64 image in the list: refused, nothing created.
    assert_refused(
        &env,
        &["run", "--rm", "--arch", "arm64", "bblist", "echo", "ok"],
        "architecture arm64",
    );
}
