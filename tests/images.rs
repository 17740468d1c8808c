//! Image commands against podman's behaviour: images (table, -q, json,
//! --digests, templates), tag, untag, rmi, prune, history, exists, short names.

mod common;

use common::*;
use serde_json::Value;

fn header_columns(line: &str) -> Vec<String> {
    // podman separates columns by 2+ spaces; "IMAGE ID" has one inside
    line.split("  ")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

both_modes!(images_table_quiet_json_digests_and_template);
fn images_table_quiet_json_digests_and_template(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let short = &p.id()[..12];

    let table = env.ok(&["images"]);
    let mut lines = table.lines();
    assert_eq!(
        header_columns(lines.next().unwrap()),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "[{mode:?}] {table}"
    );
    let row: Vec<&str> = lines.next().expect("one row").split_whitespace().collect();
    assert_eq!(
        &row[..3],
        &[p.name().as_str(), "1", short],
        "[{mode:?}] {table}"
    );
    assert!(
        lines.next().is_none(),
        "[{mode:?}] one image, one row: {table}"
    );

    assert_eq!(
        env.ok(&["images", "-q"]).trim(),
        short,
        "[{mode:?}] images -q"
    );
    assert!(is_hex(short, 12));

    let digests = env.ok(&["images", "--digests"]);
    let mut lines = digests.lines();
    assert_eq!(
        header_columns(lines.next().unwrap()),
        ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
        "[{mode:?}] {digests}"
    );
    assert!(
        lines.next().unwrap().contains(&p.digest),
        "[{mode:?}] digest column: {digests}"
    );

    let json: Value = serde_json::from_str(&env.ok(&["images", "--format", "json"]))
        .expect("images --format json");
    let arr = json.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 1, "[{mode:?}]");
    let img = &arr[0];
    for key in [
        "Id",
        "ParentId",
        "RepoTags",
        "RepoDigests",
        "Size",
        "Created",
        "Names",
        "Digest",
        "Labels",
        "Containers",
    ] {
        assert!(
            img.get(key).is_some(),
            "[{mode:?}] images json lacks podman's key {key}: {img}"
        );
    }
    assert_eq!(img["Id"], p.id(), "[{mode:?}]");
    assert_eq!(img["Digest"], p.digest, "[{mode:?}]");
    assert_eq!(
        img["Names"],
        serde_json::json!([p.reference()]),
        "[{mode:?}]"
    );
    assert_eq!(
        img["Created"],
        common::oci::FIXTURE_CREATED_UNIX,
        "[{mode:?}] Created is the config's time"
    );
    assert!(
        img["Size"].as_u64().unwrap() > 1_000_000,
        "[{mode:?}] Size counts the busybox binary"
    );
    assert!(
        img["RepoDigests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == &Value::String(p.by_digest())),
        "[{mode:?}] RepoDigests"
    );

    let t = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(
        t.trim(),
        format!("{} {short}", p.reference()),
        "[{mode:?}] template"
    );
    let t = env.ok(&["images", "--noheading"]);
    assert!(
        !t.contains("REPOSITORY") && t.contains(short),
        "[{mode:?}] --noheading: {t}"
    );
}

both_modes!(tag_adds_names_and_untag_removes_them);
fn tag_adds_names_and_untag_removes_them(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    env.ok(&["tag", &p.reference(), "new/name:2"]);
    env.ok(&["tag", &p.id()[..12], "other:3"]);
    let mut want = vec![
        p.reference(),
        "localhost/new/name:2".to_string(),
        "localhost/other:3".to_string(),
    ];
    want.sort();
    assert_eq!(
        env.image_names(),
        want,
        "[{mode:?}] tags are localhost/ names, one image"
    );
    assert_eq!(env.image_ids().len(), 1, "[{mode:?}]");
    // a locally named image is found by its short name
    assert_eq!(env.inspect("new/name:2")["Id"], p.id(), "[{mode:?}]");
    assert_eq!(env.inspect("localhost/other:3")["Id"], p.id(), "[{mode:?}]");

    env.ok(&["untag", &p.id()[..12], "localhost/other:3"]);
    let mut want = vec![p.reference(), "localhost/new/name:2".to_string()];
    want.sort();
    assert_eq!(
        env.image_names(),
        want,
        "[{mode:?}] untag IMAGE NAME removes that name only"
    );

    // podman: untag without names removes them all, the image stays (dangling)
    env.ok(&["untag", "new/name:2"]);
    assert_eq!(
        env.image_names(),
        vec!["<none>:<none>".to_string()],
        "[{mode:?}]"
    );
    assert_eq!(
        env.image_ids(),
        vec![p.id()[..12].to_string()],
        "[{mode:?}]"
    );
}

both_modes!(rmi_by_name_and_by_id_prefix);
fn rmi_by_name_and_by_id_prefix(mode: Mode) {
    let (bb, ly) = (busybox(), layers());
    let env = TestEnv::new(mode);
    env.pull(&bb.reference());
    env.pull(&ly.reference());
    env.ok(&["rmi", &bb.reference()]);
    assert_eq!(
        env.image_names(),
        vec![ly.reference()],
        "[{mode:?}] rmi by name"
    );
    env.ok(&["rmi", &ly.id()[..8]]);
    assert!(env.image_ids().is_empty(), "[{mode:?}] rmi by id prefix");
    assert!(
        env.layer_ids().is_empty(),
        "[{mode:?}] layers of removed images are removed: {:?}",
        env.layer_ids()
    );
}

both_modes!(rmi_of_a_multi_tagged_image_by_name_only_untags);
fn rmi_of_a_multi_tagged_image_by_name_only_untags(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    env.ok(&["tag", &p.reference(), "new/name:2"]);
    let out = env.ok(&["rmi", "new/name:2"]);
    assert!(
        out.contains("Untagged: localhost/new/name:2"),
        "[{mode:?}] podman prints `Untagged: NAME`: {out}"
    );
    assert_eq!(
        env.image_names(),
        vec![p.reference()],
        "[{mode:?}] the image stays with its other name"
    );
    assert_eq!(env.layer_ids().len(), 1, "[{mode:?}]");
    // rmi by id of a multi-tagged image needs --force in podman; the last name removes it
    env.ok(&["rmi", &p.reference()]);
    assert!(env.image_ids().is_empty(), "[{mode:?}]");
}

both_modes!(image_prune_removes_dangling_only_and_all_with_a);
fn image_prune_removes_dangling_only_and_all_with_a(mode: Mode) {
    let (bb, ly) = (busybox(), layers());
    let env = TestEnv::new(mode);
    env.pull(&bb.reference());
    env.pull(&ly.reference());
    env.ok(&["untag", &ly.reference()]); // now dangling
    env.ok(&["image", "prune", "-f"]);
    assert_eq!(
        env.image_names(),
        vec![bb.reference()],
        "[{mode:?}] prune removes the dangling image only"
    );
    assert_eq!(env.layer_ids().len(), 1, "[{mode:?}] its layers go too");
    env.ok(&["image", "prune", "-a", "-f"]);
    assert!(
        env.image_ids().is_empty(),
        "[{mode:?}] prune -a removes unused images"
    );
    assert!(env.layer_ids().is_empty(), "[{mode:?}]");
}

both_modes!(image_history_lists_layers_newest_first);
fn image_history_lists_layers_newest_first(mode: Mode) {
    let p = layers();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let out = env.ok(&["image", "history", &p.reference()]);
    let mut lines = out.lines();
    assert_eq!(
        header_columns(lines.next().unwrap()),
        ["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        "[{mode:?}] {out}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4, "[{mode:?}] one row per history entry: {out}");
    assert!(
        rows[0].starts_with(&p.id()[..12]),
        "[{mode:?}] the newest row carries the image id: {out}"
    );
    assert!(
        rows[0].contains("fixture layer 3") && rows[3].contains("fixture layer 0"),
        "[{mode:?}] newest first: {out}"
    );
    let q = env.ok(&["image", "history", "-q", &p.reference()]);
    assert_eq!(
        q.lines().next().unwrap().trim(),
        &p.id()[..12],
        "[{mode:?}] history -q"
    );
}

both_modes!(image_exists_answers_with_exit_code_silently);
fn image_exists_answers_with_exit_code_silently(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    for name in [
        p.reference(),
        p.id(),
        p.id()[..12].to_string(),
        "tools/busybox:1".into(),
        "busybox:1".into(),
    ] {
        let out = env.run(&["image", "exists", &name]);
        assert_eq!(
            (out.status, out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "[{mode:?}] exists {name}"
        );
    }
    for name in ["nosuch:1", "tools/busybox:2", "ools/busybox:1"] {
        let out = env.run(&["image", "exists", name]);
        assert_eq!(
            (out.status, out.stdout.as_str(), out.stderr.as_str()),
            (1, "", ""),
            "[{mode:?}] exists {name}"
        );
    }
}

both_modes!(short_names_match_local_images_by_repository_path_suffix);
fn short_names_match_local_images_by_repository_path_suffix(mode: Mode) {
    // podman: `tools/busybox:1` and `busybox:1` find `HOST/tools/busybox:1`
    // locally (suffix on a path-component boundary); `ools/busybox` does not.
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    for short in ["tools/busybox:1", "busybox:1"] {
        assert_eq!(
            env.inspect(short)["Id"],
            p.id(),
            "[{mode:?}] inspect {short}"
        );
    }
    env.ok(&["tag", "busybox:1", "mine:1"]);
    assert!(
        env.image_names().contains(&"localhost/mine:1".to_string()),
        "[{mode:?}]"
    );
    let out = env.run(&["image", "inspect", "ools/busybox:1"]);
    assert_ne!(
        out.status, 0,
        "[{mode:?}] a partial path component must not match"
    );
}

both_modes!(images_filter_by_reference);
/// `--filter reference=` as podman matches it: by the last path part of
/// the repository, with the tag, and `*` staying within one path part.
fn images_filter_by_reference(mode: Mode) {
    let (bb, other) = (busybox(), layers());
    let env = TestEnv::new(mode);
    env.pull(&bb.reference());
    env.pull(&other.reference());
    env.ok(&["tag", &other.reference(), "localhost/team/tool:2"]);
    let ids = |filter: &str| -> Vec<String> {
        let out = env.ok(&[
            "images",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("reference={filter}"),
        ]);
        let mut v: Vec<String> = out
            .lines()
            .map(|l| l.trim_start_matches("sha256:").to_string())
            .collect();
        v.dedup();
        v
    };
    let last = bb.repo.rsplit('/').next().unwrap().to_string();
    assert_eq!(ids(&last), [bb.id()], "[{mode:?}] by the last part");
    assert_eq!(ids("tool:2"), [other.id()], "[{mode:?}] with a tag");
    assert_eq!(ids("team/*"), [other.id()], "[{mode:?}] a glob");
    assert!(ids("tool:9").is_empty(), "[{mode:?}] another tag");
    assert!(
        ids("localhost/*").is_empty(),
        "[{mode:?}] `*` stays in one path part"
    );
}
