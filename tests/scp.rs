//! `image scp` between users of this machine: root copies an image into
//! the test user's own storage (found as a real user's is: from their
//! home's storage.conf), the user runs it, root copies it back under a new
//! name; failures on either side change neither store; remote hosts and a
//! rootless caller are refused.

mod common;

use common::*;
use std::os::unix::fs::chown;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// The test user's storage.conf is one file: one test at a time uses it.
static USER_CONF: Mutex<()> = Mutex::new(());

/// For as long as it lives, `cotest`'s own ~/.config/containers/storage.conf
/// (in the home of the password database, where `image scp` runs the
/// user's side) puts that user's store where `user`'s commands find it.
struct UserStore {
    _lock: MutexGuard<'static, ()>,
    file: PathBuf,
    before: Option<Vec<u8>>,
    made: Vec<PathBuf>,
}

fn passwd_home(user: &str) -> PathBuf {
    let out = std::process::Command::new("getent")
        .args(["passwd", user])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    PathBuf::from(line.trim().split(':').nth(5).expect("a passwd line"))
}

fn user_store(user: &TestEnv) -> UserStore {
    assert_eq!(user.mode, Mode::Rootless);
    let lock = USER_CONF.lock().unwrap_or_else(|e| e.into_inner());
    let u = test_user();
    let home = passwd_home(TEST_USER);
    assert!(
        home.is_dir(),
        "{TEST_USER}'s home {} is missing",
        home.display()
    );
    let mut made = Vec::new();
    let mut dir = home.clone();
    for part in [".config", "containers"] {
        dir.push(part);
        if !dir.exists() {
            mkdir_mode(&dir, 0o700);
            chown(&dir, Some(u.uid), Some(u.gid)).unwrap();
            made.push(dir.clone());
        }
    }
    let file = dir.join("storage.conf");
    let before = std::fs::read(&file).ok();
    std::fs::write(
        &file,
        format!(
            "[storage]\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            user.store_dir().display(),
            user.runroot_dir().display()
        ),
    )
    .unwrap();
    chown(&file, Some(u.uid), Some(u.gid)).unwrap();
    UserStore {
        _lock: lock,
        file,
        before,
        made,
    }
}

impl Drop for UserStore {
    fn drop(&mut self) {
        match &self.before {
            Some(b) => {
                let _ = std::fs::write(&self.file, b);
            }
            None => {
                let _ = std::fs::remove_file(&self.file);
            }
        }
        for d in self.made.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// `Loaded image: X` lines.
fn loaded(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .map(|s| s.trim().to_string())
        .collect()
}

fn id_of(env: &TestEnv, image: &str) -> String {
    env.inspect(image)["Id"].as_str().unwrap().to_string()
}

fn runs(env: &TestEnv, image: &str) {
    let out = env.ok(&["run", "--rm", image, "echo", "ok"]);
    assert_eq!(out.trim(), "ok", "[{:?}] running {image}", env.mode);
}

fn both() -> (TestEnv, TestEnv) {
    require_mode(Mode::Root);
    require_mode(Mode::Rootless);
    (TestEnv::new(Mode::Root), TestEnv::new(Mode::Rootless))
}

#[test]
fn root_copies_to_the_user_who_runs_it_and_back_under_a_new_name() {
    let (root, user) = both();
    let _conf = user_store(&user);
    let image = root.rt_image();
    let name = root.image_names().pop().unwrap();
    // The user's store does not exist yet: the copy is its first use.
    assert!(!user.store_dir().exists());
    let out = root.ok(&["image", "scp", &image, &format!("{TEST_USER}@localhost::")]);
    assert_eq!(loaded(&out), std::slice::from_ref(&name), "stdout: {out}");
    assert_eq!(user.image_names(), std::slice::from_ref(&name));
    runs(&user, &image);

    // Back into another store of root's (a fresh one: save rewrites an
    // image's layer tars, so a copy's id is not always the original's).
    let back = TestEnv::new(Mode::Root);
    let out = back.ok(&[
        "image",
        "scp",
        &format!("{TEST_USER}@localhost::{image}"),
        "root@localhost::copied/back:v2",
    ]);
    assert_eq!(loaded(&out), std::slice::from_ref(&name), "stdout: {out}");
    let mut want = vec!["localhost/copied/back:v2".to_string(), name.clone()];
    want.sort();
    assert_eq!(back.image_names(), want);
    assert_eq!(
        id_of(&back, "localhost/copied/back:v2"),
        id_of(&user, &image)
    );
    runs(&back, "localhost/copied/back:v2");
    // The user's store is as it was.
    assert_eq!(user.image_names(), [name]);
}

#[test]
fn oci_archive_quiet_and_to_the_sudo_user() {
    let (mut root, user) = both();
    let _conf = user_store(&user);
    let image = root.rt_image();
    let out = root.run(&[
        "image",
        "scp",
        "-q",
        "--format",
        "oci-archive",
        &image,
        &format!("{TEST_USER}@localhost::oci/copy"),
    ]);
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(out.stdout, "", "-q prints nothing");
    assert_eq!(out.stderr, "", "-q prints nothing");
    runs(&user, "localhost/oci/copy:latest");
    assert_eq!(
        id_of(&user, "localhost/oci/copy:latest"),
        id_of(&user, &image)
    );

    // No destination: to the user who ran sudo, as podman.
    user.ok(&["rmi", "-a"]);
    root.set_env("SUDO_USER", TEST_USER);
    let out = root.ok(&["image", "scp", &image]);
    assert_eq!(loaded(&out).len(), 1, "stdout: {out}");
    runs(&user, &image);
}

#[test]
fn failures_on_either_side_change_neither_store() {
    let (root, user) = both();
    let _conf = user_store(&user);
    let image = root.rt_image();
    // The user's side has it too (the last failure must be the loading side's).
    assert_eq!(user.rt_image(), image);
    let root_before = root.image_names();
    let user_before = user.image_names();
    let check = |args: &[&str], needle: &str| {
        let out = root.run(args);
        assert_error(Mode::Root, &args.join(" "), &out, 125, &[needle]);
        assert_eq!(out.stdout, "", "{args:?}");
        assert_eq!(
            root.image_names(),
            root_before,
            "{args:?} changed root's store"
        );
        assert_eq!(
            user.image_names(),
            user_before,
            "{args:?} changed the user's store"
        );
    };
    let to_user = format!("{TEST_USER}@localhost::");
    check(&["image", "scp", "nosuch", &to_user], "nosuch");
    check(
        &["image", "scp", &format!("{TEST_USER}@localhost::nosuch")],
        &format!("saving nosuch as user {TEST_USER}"),
    );
    // The loading side fails: nobody's home (/nonexistent) cannot hold a store.
    assert!(!passwd_home("nobody").exists(), "nobody has a home here");
    check(
        &["image", "scp", &image, "nobody@localhost::"],
        "loading into the storage of user nobody",
    );
    check(
        &[
            "image",
            "scp",
            &format!("{TEST_USER}@localhost::{image}"),
            "nobody@localhost::",
        ],
        "loading into the storage of user nobody",
    );
    check(&["image", "scp", &image, "otherhost::"], "remote hosts");
    check(
        &["image", "scp", &image, "me@example.com::"],
        "remote hosts",
    );
    check(&["image", "scp", "otherhost::x"], "remote hosts");
    check(
        &["image", "scp", &image, "nosuchuser@localhost::"],
        "no such user",
    );
    check(&["image", "scp", &image, "plain"], "USER@localhost::");
    check(&["image", "scp", &image], "must specify a destination");
    check(
        &["image", "scp", "--format", "oci-dir", &image, &to_user],
        "oci-archive and docker-archive",
    );
    check(
        &["image", "scp", &image, &format!("{to_user}Bad")],
        "lowercase",
    );
    check(
        &["image", "scp", &image, "root@localhost::"],
        "both your own",
    );

    // A save that fails half way through (a layer gone) on either side:
    // the archive has begun, but the load is never given its end.
    root.ok(&["image", "scp", "-q", &image, &to_user]);
    let break_layers = |env: &TestEnv| {
        for hex in env.layer_ids() {
            let d = env.store_dir().join("layers").join(hex);
            std::fs::rename(d.join("diff"), d.join("diff.gone")).unwrap();
        }
    };
    let user_names = user.image_names();
    break_layers(&root);
    let out = root.run(&["image", "scp", &image, &format!("{to_user}again")]);
    assert_error(
        Mode::Root,
        "scp (layer gone)",
        &out,
        125,
        &[&format!("saving {image}")],
    );
    assert_eq!(user.image_names(), user_names, "the user's store changed");
    break_layers(&user);
    let fresh = TestEnv::new(Mode::Root);
    let out = fresh.run(&["image", "scp", &format!("{to_user}{image}")]);
    assert_error(
        Mode::Root,
        "scp (layer gone)",
        &out,
        125,
        &[&format!("saving {image} as user {TEST_USER}")],
    );
    assert_eq!(fresh.image_names(), Vec::<String>::new());
    // Each save cleaned up after itself, and no load left a spool behind.
    for env in [&root, &user, &fresh] {
        let tmp = env.store_dir().join("tmp");
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "[{:?}] left in {}: {left:?}",
            env.mode,
            tmp.display()
        );
    }
}

#[test]
fn a_rootless_caller_is_refused() {
    require_mode(Mode::Rootless);
    let user = TestEnv::new(Mode::Rootless);
    let image = user.rt_image();
    let before = user.image_names();
    for args in [
        vec!["image", "scp", &image, "root@localhost::"],
        vec!["image", "scp", "root@localhost::alpine"],
    ] {
        let out = user.run(&args);
        assert_error(Mode::Rootless, &args.join(" "), &out, 125, &["needs root"]);
    }
    assert_eq!(user.image_names(), before);
}
