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
