//! seccomp as users configure it, root and rootless: the default profile
//! (podman's allowlist: a call it does not name fails with ENOSYS, the ones
//! it refuses with EPERM), a profile file in docker's JSON format with its
//! own errno, `seccomp=unconfined`, a bad profile refused at create, and
//! inspect naming the profile in use.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// A static program that makes the calls named on its command line and
/// prints `NAME ok` or `NAME errno=N` for each.
fn probe() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = base_dir().join("seccomp-probe");
        mkdir_mode(&dir, 0o755);
        let src = dir.join("probe.c");
        std::fs::write(
            &src,
            r#"#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *n = argv[i];
        long r = -1;
        errno = 0;
        if (!strcmp(n, "getpid")) r = syscall(SYS_getpid);
        /* kcmp(self, self, KCMP_FILE, 0, 0): any process may compare its own fds */
        else if (!strcmp(n, "kcmp")) r = syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0);
        else if (!strcmp(n, "add_key")) r = syscall(SYS_add_key, "user", "k", "v", 1, -3);
        else if (!strcmp(n, "mkdirat")) r = syscall(SYS_mkdirat, AT_FDCWD, "/tmp/probe-dir", 0755);
        if (r < 0) printf("%s errno=%d\n", n, errno); else printf("%s ok\n", n);
    }
    return 0;
}
"#,
        )
        .unwrap();
        let bin = dir.join("probe");
        let out = Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .expect("the seccomp tests need gcc (tests/run.sh installs it)");
        assert!(
            out.status.success(),
            "gcc: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .clone()
}

fn run_probe(env: &TestEnv, img: &str, opts: &[&str], calls: &[&str]) -> String {
    let vol = format!("{}:/probe:ro", probe().display());
    let mut args = vec!["run", "--rm", "-v", &vol];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[img, "/probe/probe"]);
    args.extend_from_slice(calls);
    env.ok(&args)
}

both_modes!(default_profile_is_podmans_allowlist);
fn default_profile_is_podmans_allowlist(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let out = run_probe(&env, &img, &[], &["getpid", "kcmp", "add_key", "mkdirat"]);
    assert_eq!(
        out, "getpid ok\nkcmp errno=1\nadd_key errno=38\nmkdirat ok\n",
        "[{mode:?}] allowed, refused (EPERM), not listed (ENOSYS), allowed"
    );
    // A capability unlocks what podman's profile gives it.
    let out = run_probe(&env, &img, &["--cap-add", "SYS_PTRACE"], &["kcmp"]);
    assert_eq!(out, "kcmp ok\n", "[{mode:?}] CAP_SYS_PTRACE allows kcmp");
}

both_modes!(a_profile_file_sets_its_errno);
/// A profile in docker's format that allows everything but mkdir/mkdirat,
/// refused with EACCES: the denied call fails with that errno, the others
/// work (kcmp too: this profile does not refuse it); inspect names it.
fn a_profile_file_sets_its_errno(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let profile = env.dir.join("profile.json");
    env.write_user_file(
        &profile,
        br#"{
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["no_such_call_anywhere"], "action": "SCMP_ACT_ERRNO"}
            ]
        }"#,
    );
    let opt = format!("seccomp={}", profile.display());
    let out = run_probe(
        &env,
        &img,
        &["--security-opt", &opt],
        &["getpid", "mkdirat", "kcmp"],
    );
    assert_eq!(
        out, "getpid ok\nmkdirat errno=13\nkcmp ok\n",
        "[{mode:?}] the profile's own errno"
    );
    let mkdir = env.run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        &img,
        "mkdir",
        "/tmp/x",
    ]);
    assert_ne!(mkdir.status, 0, "[{mode:?}]");
    assert!(
        mkdir.stderr.contains("Permission denied"),
        "[{mode:?}] {}",
        mkdir.stderr
    );

    env.ok(&[
        "create",
        "--name",
        "c",
        "--security-opt",
        &opt,
        &img,
        "true",
    ]);
    let shown = env.ok(&["inspect", "--format", "{{.HostConfig.SecurityOpt}}", "c"]);
    assert!(shown.contains(&opt), "[{mode:?}] inspect: {shown}");
}

both_modes!(a_bad_profile_fails_the_create);
fn a_bad_profile_fails_the_create(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let bad = env.dir.join("bad.json");
    env.write_user_file(&bad, br#"{"defaultAction": "SCMP_ACT_SOMETIMES"}"#);
    let before = snapshot(&env.store_dir());
    for (what, opt, needle) in [
        (
            "bad action",
            format!("seccomp={}", bad.display()),
            format!("seccomp profile {}", bad.display()),
        ),
        (
            "missing file",
            "seccomp=/nonexistent/profile.json".to_string(),
            "reading seccomp profile /nonexistent/profile.json".to_string(),
        ),
    ] {
        for verb in ["create", "run"] {
            let out = env.run(&[verb, "--security-opt", &opt, &img, "true"]);
            assert_error(mode, what, &out, 125, &[&needle]);
            assert_same_snapshot(&before, &snapshot(&env.store_dir()), what);
        }
    }
    // unconfined: no filter at all.
    let s = env.sh(
        &img,
        &["--security-opt", "seccomp=unconfined"],
        "grep ^Seccomp: /proc/self/status",
    );
    assert_eq!(s.split_whitespace().nth(1), Some("0"), "[{mode:?}] {s}");
}
