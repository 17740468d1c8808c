//! The image key index (storage/image_keys.rs): `tag`, `rmi` and name
//! resolution read only the image shards a name can be in, so the index
//! must stay exact through every change (tag, untag, rmi, pull, commit,
//! build, load), a stale or lost index must never change an answer,
//! `system check` must report a stale one and `--repair` rebuild it, and a
//! save killed between the records and the index must leave a store the
//! next command reads right. Root and rootless.

mod common;

use common::*;
use std::fs;

const CRASH_ENV: &str = "CORACLE_TEST_CRASH_AT";

fn id_of(env: &TestEnv, name: &str) -> String {
    env.ok(&["image", "inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string()
}

/// `system check` finds nothing (it compares the index with the records).
fn assert_clean(env: &TestEnv, ctx: &str) {
    let out = env.run(&["system", "check", "--quick"]);
    assert!(
        out.status == 0 && out.stdout.is_empty(),
        "[{:?}] {ctx}: system check: {out:?}",
        env.mode
    );
}

both_modes!(the_key_index_follows_every_image_change);
fn the_key_index_follows_every_image_change(mode: Mode) {
    let (bb, ly) = (busybox(), layers());
    let env = TestEnv::new(mode);
    env.pull(&bb.reference());
    env.pull(&ly.reference());
    assert!(env.store_dir().join("image-keys/complete").exists());
    // One short name on two images: each tag found by it, then moved.
    env.ok(&["tag", &bb.reference(), "short:1"]);
    env.ok(&["tag", &ly.reference(), "short:2"]);
    assert_eq!(id_of(&env, "short:1"), bb.id(), "[{mode:?}]");
    assert_eq!(id_of(&env, "localhost/short:2"), ly.id(), "[{mode:?}]");
    env.ok(&["tag", &bb.id()[..12], "short:2"]);
    assert_eq!(id_of(&env, "short:2"), bb.id(), "[{mode:?}] the tag moved");
    env.ok(&["untag", &bb.reference(), "short:1"]);
    env.fails(&["image", "inspect", "short:1"], 125);
    assert_clean(&env, "after tag and untag");
    // rmi by id prefix: the image and its layers go, the other stays.
    env.ok(&["rmi", &ly.id()[..8]]);
    assert_eq!(
        env.image_ids(),
        vec![bb.id()[..12].to_string()],
        "[{mode:?}]"
    );
    let mut want: Vec<String> = bb
        .diff_ids()
        .iter()
        .map(|d| d.trim_start_matches("sha256:").to_string())
        .collect();
    want.sort();
    assert_eq!(env.layer_ids(), want, "[{mode:?}] ly's layers went");
    assert_eq!(id_of(&env, "short:2"), bb.id(), "[{mode:?}]");
    // commit, build and load name new images, found by those names.
    env.ok(&["create", "--name", "c", &bb.reference(), "true"]);
    env.ok(&["commit", "-q", "c", "localhost/committed"]);
    env.ok(&["image", "exists", "committed"]);
    let ctx = env.home.join("ctx");
    env.write_user_file(
        &ctx.join("Containerfile"),
        format!("FROM {}\nLABEL built=yes\n", bb.reference()).as_bytes(),
    );
    env.ok(&["build", "-q", "-t", "built:7", ctx.to_str().unwrap()]);
    let built = env.inspect("localhost/built:7");
    assert_eq!(built["Labels"]["built"], "yes", "[{mode:?}]");
    let archive = env.home.join("committed.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "committed"]);
    env.ok(&["rmi", "committed"]);
    env.fails(&["image", "exists", "committed"], 1);
    env.ok(&["load", "-i", archive.to_str().unwrap()]);
    let loaded = id_of(&env, "committed");
    let listed = env.ok(&[
        "images",
        "-q",
        "--no-trunc",
        "--filter",
        "reference=committed",
    ]);
    assert_eq!(listed.trim(), loaded, "[{mode:?}]");
    assert_clean(&env, "after rmi, commit, build and load");
}

both_modes!(a_stale_or_lost_key_index_is_repaired);
fn a_stale_or_lost_key_index_is_repaired(mode: Mode) {
    let bb = busybox();
    let env = TestEnv::new(mode);
    env.pull(&bb.reference());
    env.ok(&["tag", &bb.reference(), "x:1"]);
    let keys = env.store_dir().join("image-keys");
    // Every shard emptied, the index still marked whole: answers stay
    // right (a miss is looked for among all records), check reports it.
    for e in fs::read_dir(&keys).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".json") {
            env.write_user_file(&e.path(), b"{}");
        }
    }
    assert_eq!(
        id_of(&env, "x:1"),
        bb.id(),
        "[{mode:?}] a stale index misled"
    );
    let out = env.run(&["system", "check"]);
    assert!(
        out.status != 0 && out.stdout.contains("Damaged index image-keys:"),
        "[{mode:?}] check did not report the stale index: {out:?}"
    );
    let out = env.ok(&["system", "check", "--repair"]);
    assert!(
        out.contains("Rebuilt damaged index: image-keys"),
        "[{mode:?}] {out}"
    );
    assert_clean(&env, "after --repair");
    assert_eq!(
        env.image_ids(),
        vec![bb.id()[..12].to_string()],
        "[{mode:?}]"
    );
    // Lost whole (an earlier release's store): the next reader rebuilds it.
    fs::remove_dir_all(&keys).unwrap();
    env.ok(&["image", "exists", "x:1"]);
    assert!(keys.join("complete").exists(), "[{mode:?}] not rebuilt");
    assert_clean(&env, "after a rebuild");
    let out = env.ok(&["rmi", "x:1"]);
    assert!(out.contains("Untagged: localhost/x:1"), "[{mode:?}] {out}");
    assert_clean(&env, "after rmi");
}

both_modes!(a_save_killed_between_records_and_keys);
fn a_save_killed_between_records_and_keys(mode: Mode) {
    let bb = busybox();
    let mut env = TestEnv::new(mode);
    env.pull(&bb.reference());
    // Killed once the record has the tag, before the index does.
    env.set_env(CRASH_ENV, "images-written");
    let out = env.run(&["tag", &bb.reference(), "k:1"]);
    env.remove_env(CRASH_ENV);
    assert_ne!(out.status, 0, "[{mode:?}] the crash point was not reached");
    assert!(env.store_dir().join("image-keys/dirty").exists());
    assert_eq!(id_of(&env, "k:1"), bb.id(), "[{mode:?}]");
    assert_clean(&env, "after a tag killed past its records");
    // Killed with the index marked, before the records change: the
    // tag is still there, and the index says so.
    env.set_env(CRASH_ENV, "image-keys-dirty");
    let out = env.run(&["rmi", "k:1"]);
    env.remove_env(CRASH_ENV);
    assert_ne!(out.status, 0, "[{mode:?}] the crash point was not reached");
    env.ok(&["image", "exists", "k:1"]);
    assert_clean(&env, "after an rmi killed before its records");
    env.ok(&["rmi", "k:1"]);
    env.fails(&["image", "exists", "k:1"], 1);
    assert_eq!(id_of(&env, &bb.reference()), bb.id(), "[{mode:?}]");
}
