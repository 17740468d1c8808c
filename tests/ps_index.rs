//! `ps` reads the container index (storage/container_index.rs), never a
//! stale one: every recorded change shows at once (start, the monitor's
//! exit, rename, removal), a change killed between the record and its
//! summary shows as the record says, `system check --repair` mends the
//! index, and a lost or old index is rebuilt. Root and rootless.

mod common;

use common::*;
use std::fs;
use std::time::Duration;

const CRASH_ENV: &str = "CORACLE_TEST_CRASH_AT";

fn names(env: &TestEnv) -> Vec<String> {
    let mut v: Vec<String> = env
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn status_of(env: &TestEnv, name: &str) -> String {
    env.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{name}$"),
        "--format",
        "{{.Status}}",
    ])
    .trim()
    .to_string()
}

fn index_dir(env: &TestEnv) -> std::path::PathBuf {
    env.store_dir().join("container-index")
}

fn ps_follows_every_recorded_change(mode: Mode) {
    let env = TestEnv::new(mode);
    let rt = env.rt_image();
    env.ok(&["create", "--name", "a", &rt, "sh", "-c", "exit 3"]);
    assert_eq!(status_of(&env, "a"), "Created", "[{mode:?}]");
    env.ok(&["start", "a"]);
    // The monitor records the exit; ps shows it, code and filter alike.
    assert!(
        wait_for(Duration::from_secs(20), || status_of(&env, "a")
            .starts_with("Exited (3)")),
        "[{mode:?}] ps never showed the exit: {}",
        status_of(&env, "a")
    );
    let exited = env.ok(&["ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}"]);
    assert_eq!(exited.trim(), "a", "[{mode:?}]");
    env.ok(&[
        "run", "-d", "--name", "up", "-p", "8080", &rt, "sleep", "300",
    ]);
    let up = env.ok(&["ps", "--format", "{{.Names}} {{.Status}} {{.Ports}}"]);
    assert!(
        up.starts_with("up Up") && up.contains("->8080/tcp"),
        "[{mode:?}] {up}"
    );
    env.ok(&["rename", "a", "b"]);
    assert_eq!(names(&env), ["b", "up"], "[{mode:?}]");
    env.ok(&["rm", "-f", "-t", "0", "up"]);
    env.ok(&["rm", "b"]);
    assert!(names(&env).is_empty(), "[{mode:?}]");
}

fn ps_after_a_killed_record_write(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let rt = env.rt_image();
    env.ok(&["create", "--name", "a", &rt, "true"]);
    // Killed once the record says `b`, before its summary does: ps reads
    // the record.
    env.set_env(CRASH_ENV, "container-record-written");
    let out = env.run(&["rename", "a", "b"]);
    env.remove_env(CRASH_ENV);
    assert_ne!(out.status, 0, "[{mode:?}] the kill point was not reached");
    assert_eq!(names(&env), ["b"], "[{mode:?}]");
    assert_eq!(
        env.ok(&["ps", "-a", "--filter", "name=b", "-q"])
            .lines()
            .count(),
        1,
        "[{mode:?}]"
    );
    // Killed before the record changed: still `b`.
    env.set_env(CRASH_ENV, "container-index-dirty");
    let out = env.run(&["rename", "b", "c"]);
    env.remove_env(CRASH_ENV);
    assert_ne!(out.status, 0, "[{mode:?}] the kill point was not reached");
    assert_eq!(names(&env), ["b"], "[{mode:?}]");
    // The repair leaves the index whole: no change marked under way.
    env.ok(&["system", "check", "--repair"]);
    let dirty: Vec<_> = fs::read_dir(index_dir(&env).join("dirty"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(dirty.is_empty(), "[{mode:?}] still marked: {dirty:?}");
    assert_eq!(names(&env), ["b"], "[{mode:?}]");
    env.ok(&["rename", "b", "d"]);
    assert_eq!(names(&env), ["d"], "[{mode:?}]");
}

fn ps_rebuilds_a_lost_or_old_index(mode: Mode) {
    let env = TestEnv::new(mode);
    let rt = env.rt_image();
    let a = env.ok(&["create", "--name", "a", &rt, "true"]);
    env.ok(&["create", "--name", "b", &rt, "true"]);
    assert_eq!(names(&env), ["a", "b"], "[{mode:?}]");
    // Lost whole: rebuilt from the records.
    fs::remove_dir_all(index_dir(&env)).unwrap();
    assert_eq!(names(&env), ["a", "b"], "[{mode:?}]");
    // Written in another boot (a power cut may have lost shards): rebuilt,
    // not trusted.
    let shard = index_dir(&env).join(format!("{}.json", &a.trim()[..2]));
    assert!(shard.exists(), "[{mode:?}] no shard {}", shard.display());
    fs::remove_file(&shard).unwrap();
    fs::write(index_dir(&env).join("complete"), "another-boot\n").unwrap();
    assert_eq!(names(&env), ["a", "b"], "[{mode:?}]");
    let out = env.run(&["system", "check"]);
    assert!(
        out.status == 0 && out.stdout.is_empty(),
        "[{mode:?}] {out:?}"
    );
}

both_modes!(
    ps_follows_every_recorded_change,
    ps_after_a_killed_record_write,
    ps_rebuilds_a_lost_or_old_index
);
