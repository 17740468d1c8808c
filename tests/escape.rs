//! The container escape of CVE-2019-5736, tried as an attacker would: a
//! watcher in the container looks for a coracle process in its pid
//! namespace, keeps its `/proc/PID/exe` open, and writes through it once
//! that process has ended (before, the kernel refuses with ETXTBSY). Each
//! path that puts a coracle process there is tried: `exec CTR
//! /proc/self/exe`, an image whose `/bin/sh` (and `ps`) link to
//! `/proc/self/exe`, `top`'s ps, `cp`, the init of `run` and `--init`.
//!
//! The attack runs a freshly copied binary, owned by the user who runs it
//! (the upgrade case, and rootless the `cargo install` case): a binary
//! that a running monitor keeps busy would hide the bug. It must come out
//! unchanged, and the watcher must say it could not write.

mod common;

use common::oci::*;
use common::*;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Finds a process in its pid namespace whose binary is not busybox,
/// keeps that binary open, and tries to write through the kept descriptor
/// until the process is gone and 20 more tries failed. Reports on stdout.
const WATCHER: &str = r#"#!/bin/ash
deadline=$(( $(date +%s) + $1 ))
t=""
while [ -z "$t" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/exe" 2>/dev/null)" in /bin/busybox|"") continue;; esac
    { exec 3<"$p/exe"; } 2>/dev/null && t=$p && break
  done
done
[ -n "$t" ] || { echo "watcher: no coracle process seen"; exit 0; }
echo "watcher: holding the binary of $t"
after=0
while [ "$after" -lt 20 ] && [ "$(date +%s)" -lt "$deadline" ]; do
  if { echo PWNED >> /proc/self/fd/3; } 2>/tmp/err; then echo "watcher: WROTE"; exit 0; fi
  [ -e "$t" ] || after=$((after + 1))
  sleep 0.05
done
echo "watcher: could not write: $(cat /tmp/err)"
"#;

/// busybox, the watcher, the libraries coracle's binary loads (so that a
/// coracle exec'd inside really runs), and `/bin/sh` and `/bin/ps` linked
/// to `/proc/self/exe` as a hostile image would have them.
fn escape_image() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| {
        let mut t = TarBuilder::new();
        t.dir("bin", 0o755, 0, 0);
        t.symlink("bin/ash", "busybox");
        t.symlink("bin/sh", "/proc/self/exe");
        t.symlink("bin/ps", "/proc/self/exe");
        t.file("watch", WATCHER.as_bytes(), 0o755, 0, 0);
        let mut dirs = std::collections::BTreeSet::new();
        for lib in loaded_libraries(&coracle_bin()) {
            let rel = lib.strip_prefix("/").unwrap();
            let mut p = PathBuf::new();
            for c in rel.parent().unwrap().components() {
                p.push(c);
                if dirs.insert(p.clone()) {
                    t.dir(p.to_str().unwrap(), 0o755, 0, 0);
                }
            }
            let bytes = std::fs::read(&lib).unwrap();
            t.file(rel.to_str().unwrap(), &bytes, 0o755, 0, 0);
        }
        let img = build_image(
            &ImageSpec::new("escape"),
            vec![
                busybox_layer().clone(),
                Layer::new(&t.finish(), Compression::Gzip),
            ],
        );
        push_unique(&img, "escape")
    })
}

/// The shared libraries and loader of a dynamic binary (none if static).
fn loaded_libraries(bin: &Path) -> Vec<PathBuf> {
    let out = std::process::Command::new("ldd").arg(bin).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// A fresh copy of the binary under test, owned by the one who runs it.
fn fresh_binary(env: &TestEnv) -> PathBuf {
    let dir = env.dir.join("fresh");
    mkdir_mode(&dir, 0o755);
    let bin = dir.join("coracle");
    std::fs::copy(coracle_bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    if env.mode == Mode::Rootless {
        let u = test_user();
        chown(&bin, Some(u.uid), Some(u.gid)).unwrap();
    }
    bin
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// How the attack reaches a coracle process into the watcher's view.
enum Attack {
    /// `exec w /proc/self/exe events --until -3s`
    ExecProcSelfExe,
    /// `exec w sh events --until -3s`, sh being the link
    ExecShellLink,
    /// `top w events --until -3s`: ps(1) in the container is the link
    TopPs,
    /// `cp` out of and into the container
    Cp,
    /// `run -d --pid container:w IMG /proc/self/exe events --until -3s`
    RunInit,
    /// `run -d --init --pid container:w IMG sleep 3`
    RunWithInit,
}

fn try_escape(mode: Mode, attack: Attack) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = escape_image().reference();
    env.pull(&img);
    let fresh = fresh_binary(&env);
    let before = sha256(&fresh);
    env.run_detached("w", &[], &img, &["/watch", "20"]);
    let mark = env.mark();
    let until = ["events", "--until", "-3s"];
    let (args, must_be_seen): (Vec<&str>, bool) = match attack {
        Attack::ExecProcSelfExe => (
            [&["exec", "w", "/proc/self/exe"][..], &until].concat(),
            true,
        ),
        Attack::ExecShellLink => ([&["exec", "w", "sh"][..], &until].concat(), true),
        Attack::TopPs => ([&["top", "w"][..], &until].concat(), true),
        Attack::Cp => (vec!["cp", "w:/watch", env.home.to_str().unwrap()], false),
        Attack::RunInit => (
            [
                &["run", "-d", "-e", &mark, "--pid", "container:w", &img][..],
                &["/proc/self/exe"],
                &until,
            ]
            .concat(),
            true,
        ),
        // As root the init is not dumpable: the watcher cannot even see
        // which binary it runs.
        Attack::RunWithInit => (
            vec![
                "run",
                "-d",
                "-e",
                &mark,
                "--init",
                "--pid",
                "container:w",
                &img,
                "sleep",
                "3",
            ],
            mode == Mode::Rootless,
        ),
    };
    let out = env.run_bin(&fresh, &args);
    assert_no_panic(mode, &args, &out);
    if matches!(attack, Attack::Cp) {
        assert_eq!(out.status, 0, "[{mode:?}] cp: {}", out.stderr);
        // and into the container, too
        let back = env.home.join("watch");
        let into = env.run_bin(&fresh, &["cp", back.to_str().unwrap(), "w:/tmp/"]);
        assert_eq!(into.status, 0, "[{mode:?}] cp into: {}", into.stderr);
    }
    let code = env.ok(&["wait", "w"]);
    assert_eq!(code.trim(), "0", "[{mode:?}] the watcher's exit code");
    let report = env.ok(&["logs", "w"]);
    assert!(
        !report.contains("WROTE"),
        "[{mode:?}] the container wrote to coracle's binary on the host: {report}"
    );
    if must_be_seen {
        assert!(
            report.contains("watcher: holding") && report.contains("could not write"),
            "[{mode:?}] the watcher should have found a coracle process and failed to write: {report}\n(attack: coracle {}: {} {})",
            args.join(" "),
            out.status,
            out.stderr
        );
    }
    assert_eq!(
        sha256(&fresh),
        before,
        "[{mode:?}] coracle's binary changed on the host: {report}"
    );
}

both_modes!(exec_proc_self_exe);
fn exec_proc_self_exe(mode: Mode) {
    try_escape(mode, Attack::ExecProcSelfExe);
}

both_modes!(exec_shell_linked_to_proc_self_exe);
fn exec_shell_linked_to_proc_self_exe(mode: Mode) {
    try_escape(mode, Attack::ExecShellLink);
}

both_modes!(top_ps_linked_to_proc_self_exe);
fn top_ps_linked_to_proc_self_exe(mode: Mode) {
    try_escape(mode, Attack::TopPs);
}

both_modes!(cp_in_and_out);
fn cp_in_and_out(mode: Mode) {
    try_escape(mode, Attack::Cp);
}

both_modes!(run_init_is_proc_self_exe);
fn run_init_is_proc_self_exe(mode: Mode) {
    try_escape(mode, Attack::RunInit);
}

both_modes!(run_with_init);
fn run_with_init(mode: Mode) {
    try_escape(mode, Attack::RunWithInit);
}
