//! `image diff` (against the parent or another image), `diff --latest`
//! and two-argument `diff`, `import --arch/--os/--variant`, `image tree
//! --whatrequires`.

mod common;

use common::*;
use serde_json::Value;

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

both_modes!(image_diff_import_and_tree);
fn image_diff_import_and_tree(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    env.ok(&[
        "run",
        "--name",
        "c1",
        "--network",
        "none",
        &img,
        "sh",
        "-c",
        "echo hi > /added && mkdir -p /d/e && echo x > /d/e/f && rm /bin/true",
    ]);
    env.ok(&["commit", "-q", "c1", "child"]);

    // Against its parent layer: the commit's own changes.
    let own = env.ok(&["image", "diff", "child"]);
    for want in ["A /added", "A /d", "A /d/e/f", "D /bin/true", "C /bin"] {
        assert!(
            lines(&own).contains(&want),
            "[{mode:?}] {want:?} in:\n{own}"
        );
    }
    // Against the base image, named: the same tree difference.
    let two = env.ok(&["image", "diff", "child", &img]);
    assert_eq!(two, own, "[{mode:?}] child vs its base");
    // And the other way round: added is deleted, deleted added.
    let back = env.ok(&["image", "diff", &img, "child"]);
    for want in ["D /added", "D /d", "A /bin/true", "C /bin"] {
        assert!(
            lines(&back).contains(&want),
            "[{mode:?}] {want:?} in:\n{back}"
        );
    }
    assert!(
        !back.contains("/d/e/f"),
        "[{mode:?}] a deleted dir is one line: {back}"
    );
    let json: Value =
        serde_json::from_str(&env.ok(&["image", "diff", "--format", "json", "child", &img]))
            .unwrap();
    assert!(
        json["added"].as_array().unwrap().contains(&"/added".into()),
        "{json}"
    );
    assert!(
        json["deleted"]
            .as_array()
            .unwrap()
            .contains(&"/bin/true".into()),
        "{json}"
    );
    // image diff names images only: a container is no image.
    assert_refused(&env, &["image", "diff", "c1"], "c1");
    assert_refused(
        &env,
        &["image", "diff", "child", "nosuchimage"],
        "nosuchimage",
    );

    // diff --latest is the last container; two names compare them.
    let latest = env.ok(&["diff", "--latest"]);
    assert!(lines(&latest).contains(&"A /added"), "[{mode:?}] {latest}");
    assert_eq!(env.ok(&["container", "diff", "-l"]), latest);
    assert_eq!(
        env.ok(&["diff", "c1", "child"]),
        "",
        "[{mode:?}] c1 is what child holds"
    );
    assert_refused(&env, &["diff", "--latest", "c1"], "--latest");

    // tree --whatrequires: the base's top layer, then the child's on it.
    let t = env.ok(&["image", "tree", "--whatrequires", &img]);
    let tl = lines(&t);
    assert!(tl[0].starts_with("Image ID: "), "{t}");
    assert_eq!(tl[3], "Image Layers", "{t}");
    assert!(
        tl[4].starts_with("├── ID: ") || tl[4].starts_with("└── ID: "),
        "{t}"
    );
    assert!(
        tl.last().unwrap().starts_with("└── ID: ")
            && tl
                .last()
                .unwrap()
                .ends_with("Top Layer of: [localhost/child:latest]"),
        "[{mode:?}] the child's layer last:\n{t}"
    );
    assert_eq!(tl.len(), 6, "[{mode:?}] two layers below the header:\n{t}");

    // import --arch/--os/--variant land in the image's config.
    let tar = env.home.join("c1.tar");
    env.ok(&["export", "-o", tar.to_str().unwrap(), "c1"]);
    env.ok(&[
        "import",
        "-q",
        "--arch",
        "arm64",
        "--os",
        "linux",
        "--variant",
        "v8",
        tar.to_str().unwrap(),
        "imported",
    ]);
    let i = env.inspect("imported");
    assert_eq!(i["Architecture"], "arm64", "[{mode:?}] {i}");
    assert_eq!(i["Variant"], "v8");
    assert_eq!(i["Os"], "linux");
}

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

both_modes!(image_mount_and_unmount);
fn image_mount_and_unmount(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let id = env.inspect(&img)["Id"].as_str().unwrap().to_string();
    let script = format!(
        "set -e; p=$({m}); test -e $p/bin/busybox && echo has-busybox; \
         touch $p/new 2>/dev/null || echo read-only; {m} >/dev/null; {list}; echo json; {json}; \
         {un}; echo after-one; {list}; {un}; echo after-two; {list}; \
         test ! -e $p/bin/busybox && echo gone; {un}",
        m = nested(&env, &format!("image mount {img}")),
        list = nested(&env, "image mount"),
        json = nested(&env, "image mount --format json"),
        un = nested(&env, &format!("image unmount {img}")),
    );
    let out = env.ok(&["unshare", "sh", "-c", &script]);
    let merged = env
        .store_dir()
        .join("image-mounts")
        .join(&id)
        .join("merged");
    assert!(
        out.starts_with("has-busybox\nread-only\n"),
        "[{mode:?}] {out}"
    );
    let (before, after) = out.split_once("after-one").unwrap();
    let listed = format!("{img}  {}", merged.display());
    assert!(before.contains(&listed), "[{mode:?}] listed: {out}");
    let json_text = before.split_once("json\n").unwrap().1;
    let json_text = &json_text[..json_text.rfind(']').unwrap() + 1];
    let v: Value = serde_json::from_str(json_text).unwrap();
    assert_eq!(v[0]["id"], id.as_str(), "[{mode:?}] {json_text}");
    assert_eq!(v[0]["Repositories"][0], img.as_str());
    assert_eq!(v[0]["mountpoint"], merged.to_str().unwrap());
    assert!(v[0]["Names"][0].as_str().unwrap().starts_with("sha256:"));
    // Mounted twice: the first unmount keeps it, the second takes it.
    let (one, two) = after.split_once("after-two").unwrap();
    assert!(
        before.ends_with(&format!("{id}\n")),
        "[{mode:?}] unmount prints the id: {out}"
    );
    assert!(one.contains(&listed), "[{mode:?}] still mounted: {out}");
    assert!(
        !two.contains(&listed) && two.contains("gone"),
        "[{mode:?}] {out}"
    );
    match mode {
        // podman: rootless mounts only inside `unshare`
        Mode::Rootless => assert_refused(
            &env,
            &["image", "mount", &img],
            "must execute `coracle unshare` first",
        ),
        Mode::Root => {
            assert_refused(
                &env,
                &["image", "unmount"],
                "image name or ID must be specified",
            );
            assert_refused(
                &env,
                &["image", "mount", "--format", "table", &img],
                "unknown --format",
            );
            assert_refused(&env, &["image", "mount", "-a", &img], "--all");
        }
    }
}
