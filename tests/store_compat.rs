//! A store written by the previous release (tests/fixtures/store-v1, made
//! by its gen.sh and capture.sh with coracle 435e209) loads with this
//! binary, and its containers and pods start. One test per mode.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(mode: Mode) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store-v1")
        .join(match mode {
            Mode::Root => "root",
            Mode::Rootless => "rootless",
        })
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// A directory the command's user owns.
fn user_dir(env: &TestEnv, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    if env.mode == Mode::Rootless {
        let u = test_user();
        std::os::unix::fs::chown(dir, Some(u.uid), Some(u.gid)).unwrap();
    }
}

/// Put the fixture's records into `env`'s store, pointed at the `rt`
/// image pulled there (and, rootless, at this host's id maps).
fn install(env: &TestEnv, img: &str) {
    let image = env.inspect(img);
    let image_id = image["Id"].as_str().unwrap().to_string();
    let layers = image["RootFS"]["Layers"].clone();
    // This host's id maps, from a container the new binary makes.
    let probe = env.ok(&["create", "--name", "probe", img, "true"]);
    let probe_spec: Value = serde_json::from_slice(
        &std::fs::read(
            env.store_dir()
                .join("containers")
                .join(probe.trim())
                .join("spec.json"),
        )
        .unwrap(),
    )
    .unwrap();
    env.ok(&["rm", "probe"]);
    let root = env.store_dir();
    let runroot = env.runroot_dir();
    let src = fixture(env.mode);
    let mut all = Vec::new();
    files(&src, &mut all);
    for f in all {
        let rel = f.strip_prefix(&src).unwrap();
        let text = std::fs::read_to_string(&f)
            .unwrap()
            .replace("@ROOT@", root.to_str().unwrap())
            .replace("@RUNROOT@", runroot.to_str().unwrap());
        let name = rel.file_name().unwrap().to_str().unwrap();
        let text = match name {
            "config.json" => {
                let mut v: Value = serde_json::from_str(&text).unwrap();
                // A pod's infra has no image (one with an image runs its
                // program): only the records that had one get this host's.
                if !v["image_id"].as_str().unwrap_or_default().is_empty() {
                    v["image_id"] = image_id.clone().into();
                    v["image_name"] = img.into();
                }
                if !v["layers"].as_array().unwrap().is_empty() {
                    v["layers"] = layers.clone();
                }
                v.to_string()
            }
            "spec.json" if env.mode == Mode::Rootless => {
                let mut v: Value = serde_json::from_str(&text).unwrap();
                for key in ["uidMappings", "gidMappings"] {
                    v["linux"][key] = probe_spec["linux"][key].clone();
                }
                v.to_string()
            }
            _ => text,
        };
        for dir in rel.parent().unwrap().ancestors() {
            if !dir.as_os_str().is_empty() {
                user_dir(env, &root.join(dir));
            }
        }
        env.write_user_file(&root.join(rel), text.as_bytes());
    }
    for e in std::fs::read_dir(root.join("containers")).unwrap() {
        let dir = e.unwrap().path();
        user_dir(env, &dir.join("upper"));
        user_dir(env, &dir.join("work"));
    }
}

fn old_store_loads_and_starts(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    install(&env, &img);
    let names = env.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut want = vec![
        "net-none",
        "net-host",
        "net-private",
        "net-slirp",
        "net-pasta",
        "net-default",
        "net-join",
        "ns-host",
        "ns-join",
        "ns-path",
        "ran",
        "in-p1",
        "in-p2",
        "in-p3",
    ];
    if mode == Mode::Rootless {
        want.extend(["keep-id", "userns-host"]);
    } else {
        want.push("lim");
    }
    for n in &want {
        assert!(
            names.lines().any(|l| l == *n),
            "[{mode:?}] {n} missing from ps -a:\n{names}"
        );
        let v = env.inspect_container(n);
        assert_eq!(v["Name"], *n, "[{mode:?}] inspect {n}");
    }
    let hc = env.inspect_container("net-slirp")["HostConfig"].clone();
    assert_eq!(hc["NetworkMode"], "private", "[{mode:?}]");
    let hc = env.inspect_container("ns-host")["HostConfig"].clone();
    assert_eq!(hc["PidMode"], "host", "[{mode:?}]");
    assert_eq!(hc["UTSMode"], "host", "[{mode:?}]");
    let pods = env.ok(&["pod", "ps", "--format", "{{.Name}}"]);
    for p in ["p1", "p2", "p3"] {
        assert!(pods.lines().any(|l| l == p), "[{mode:?}] pod {p}:\n{pods}");
    }
    // They start (a pod member starts its pod's infra first).
    let mut start = vec![
        "net-none",
        "net-host",
        "net-private",
        "net-slirp",
        "net-default",
        "ns-host",
        "ran",
        "in-p1",
        "in-p3",
    ];
    match mode {
        Mode::Root => start.push("lim"),
        // pasta as root drops to nobody, who may not enter the container's
        // namespaces (the previous release fails alike): rootless only.
        Mode::Rootless => start.push("net-pasta"),
    }
    for n in start {
        let out = env.run(&["start", "-a", n]);
        assert_eq!(
            out.status, 0,
            "[{mode:?}] start -a {n}: {}{}",
            out.stdout, out.stderr
        );
        let v = env.inspect_container(n);
        assert_eq!(v["State"]["Status"], "exited", "[{mode:?}] {n}");
        assert_eq!(v["State"]["ExitCode"], 0, "[{mode:?}] {n}");
    }
    env.ok(&["pod", "rm", "-f", "-t", "0", "p1", "p2", "p3"]);
    env.ok(&["rm", "-a", "-f", "-t", "0"]);
}

#[test]
fn old_store_loads_and_starts_root() {
    modes();
    old_store_loads_and_starts(Mode::Root);
}

#[test]
fn old_store_loads_and_starts_rootless() {
    modes();
    old_store_loads_and_starts(Mode::Rootless);
}
