//! Helpers for the container tests (run, exec, lifecycle, tty): the `rt`
//! fixture image, host-side probes of processes and mounts, and a reaper
//! that kills whatever a failed test left running.

use std::collections::BTreeSet;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::oci::*;
use super::*;

/// Groups of the `rt` image: `user` is a supplementary member of two.
pub const RT_GROUP: &[u8] =
    b"root:x:0:\nuser:x:1000:\nnogroup:x:65534:\nwheel:x:10:user\naudio:x:63:other,user\n";
/// Set by the `rt` image's config (ENV FROM_IMAGE=yes).
pub const RT_IMAGE_ENV: &str = "FROM_IMAGE=yes";

fn rt_config(name: &str, layers: &[Layer], workdir: &str) -> Vec<u8> {
    let mut cfg = config_json(&ImageSpec::new(name), layers);
    cfg["config"]["Env"] = json!([
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        RT_IMAGE_ENV
    ]);
    cfg["config"]["WorkingDir"] = json!(workdir);
    serde_json::to_vec(&cfg).unwrap()
}

fn rt_layers() -> Vec<Layer> {
    static L: OnceLock<Layer> = OnceLock::new();
    let extra = L.get_or_init(|| {
        let mut t = TarBuilder::new();
        t.dir("bin", 0o755, 0, 0);
        // applets the container tests need beyond the shared busybox fixture
        for a in ["stty", "tty", "seq", "sed", "cut", "tr"] {
            t.symlink(&format!("bin/{a}"), "busybox");
        }
        t.dir("etc", 0o755, 0, 0)
            .file("etc/group", RT_GROUP, 0o644, 0, 0);
        Layer::new(&t.finish(), Compression::Gzip)
    });
    vec![busybox_layer().clone(), extra.clone()]
}

/// `rt`: busybox with a few more applets, supplementary groups for `user`,
/// ENV FROM_IMAGE=yes, WorkingDir /.
pub fn rt_image() -> &'static Image {
    static I: OnceLock<Image> = OnceLock::new();
    I.get_or_init(|| {
        let layers = rt_layers();
        let cfg = rt_config("rt", &layers, "/");
        build_image_with_config(&ImageSpec::new("rt"), layers, cfg)
    })
}

/// Where `rt_workdir_image` points WorkingDir: a directory it does not have.
pub const RT_MISSING_WORKDIR: &str = "/srv/app/work";

/// `rt` with WorkingDir set to a directory missing from its layers.
pub fn rt_workdir_image() -> &'static Image {
    static I: OnceLock<Image> = OnceLock::new();
    I.get_or_init(|| {
        let layers = rt_layers();
        let cfg = rt_config("rt-wd", &layers, RT_MISSING_WORKDIR);
        build_image_with_config(&ImageSpec::new("rt-wd"), layers, cfg)
    })
}

pub fn rt() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| {
        let img = rt_image();
        push_image(registry(), "fixtures/rt", "1", img);
        Pushed {
            host: registry().host.clone(),
            repo: "fixtures/rt".into(),
            tag: "1".into(),
            digest: img.manifest_digest.clone(),
            images: vec![img.clone()],
        }
    })
}

pub fn rt_workdir() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| {
        let img = rt_workdir_image();
        push_image(registry(), "fixtures/rt-wd", "1", img);
        Pushed {
            host: registry().host.clone(),
            repo: "fixtures/rt-wd".into(),
            tag: "1".into(),
            digest: img.manifest_digest.clone(),
            images: vec![img.clone()],
        }
    })
}

/// Environment variable every container a test starts carries, so the
/// reaper can find (and kill) what a failing test left behind.
pub const MARK_VAR: &str = "CORACLE_TEST_MARK";

impl TestEnv {
    /// Pull the `rt` fixture into this store; returns its reference.
    pub fn rt_image(&self) -> String {
        let r = rt().reference();
        self.pull(&r);
        r
    }

    /// The pid of the monitor of container `ctr` (`State.ConmonPid`).
    pub fn monitor_pid(&self, ctr: &str) -> i32 {
        let out = self.ok(&["inspect", "--format", "{{.State.ConmonPid}}", ctr]);
        let pid = out.trim().parse().unwrap_or(0);
        assert!(pid > 0, "[{:?}] ConmonPid of {ctr}: {out:?}", self.mode);
        pid
    }

    /// SIGKILL the monitor of container `ctr` and wait until it is gone
    /// (kill(2) returns before the process has ended).
    pub fn kill_monitor(&self, ctr: &str) {
        let monitor = self.monitor_pid(ctr);
        // SAFETY: a signal to a process of this test's container.
        unsafe { libc::kill(monitor, libc::SIGKILL) };
        assert!(
            wait_for(Duration::from_secs(5), || !process_alive(monitor)),
            "[{:?}] monitor {monitor} of {ctr} survived SIGKILL",
            self.mode
        );
    }

    /// `-e CORACLE_TEST_MARK=<this env>`: put it on every `run`/`create`.
    pub fn mark(&self) -> String {
        format!("{MARK_VAR}={}", self.dir.display())
    }

    /// `coracle run --rm [extra] IMG sh -c SCRIPT`, which must succeed; stdout.
    pub fn sh(&self, img: &str, extra: &[&str], script: &str) -> String {
        let mark = self.mark();
        let mut args = vec!["run", "--rm", "-e", &mark];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[img, "sh", "-c", script]);
        self.ok(&args)
    }

    /// `coracle run --rm [extra] IMG sh -c SCRIPT`, which may fail: the
    /// whole outcome.
    pub fn sh_out(&self, img: &str, extra: &[&str], script: &str) -> Out {
        let mark = self.mark();
        let mut args = vec!["run", "--rm", "-e", &mark];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[img, "sh", "-c", script]);
        self.run(&args)
    }

    /// `coracle run --name NAME [extra] IMG sh -c SCRIPT`, which must
    /// succeed, the container kept for what the test does next; stdout.
    pub fn run_kept(&self, name: &str, extra: &[&str], img: &str, script: &str) -> String {
        let mark = self.mark();
        let mut args = vec!["run", "--name", name, "-e", &mark];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[img, "sh", "-c", script]);
        self.ok(&args)
    }

    /// Spawn `coracle ARGS` (stdin closed, stderr inherited) with its
    /// stdout read line by line on another thread.
    pub fn spawn_lines(
        &self,
        args: &[&str],
    ) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
        use std::io::{BufRead, BufReader};
        use std::os::unix::process::CommandExt;
        use std::process::Stdio;
        let mut cmd = self.coracle_command(args);
        // A streaming verb is stopped with SIGINT as at a terminal: its
        // default action, even when the suite was started in the
        // background (where a shell leaves SIGINT ignored, for every child).
        // SAFETY: signal() is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        (child, rx)
    }

    /// `coracle run -d --name NAME [extra] IMG CMD...`: the printed id.
    pub fn run_detached(&self, name: &str, extra: &[&str], img: &str, cmd: &[&str]) -> String {
        let mark = self.mark();
        let mut args = vec!["run", "-d", "--name", name, "-e", &mark];
        args.extend_from_slice(extra);
        args.push(img);
        args.extend_from_slice(cmd);
        let out = self.ok(&args);
        let id = out.trim().to_string();
        assert!(
            is_hex(&id, 64),
            "[{:?}] `coracle {}` should print the 64-hex id, got {out:?}",
            self.mode,
            args.join(" ")
        );
        id
    }

    /// `inspect NAME`, the first (only) element.
    pub fn inspect_container(&self, name: &str) -> Value {
        let out = self.ok(&["inspect", name]);
        let v: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("[{:?}] inspect {name}: not JSON ({e}): {out}", self.mode));
        assert!(
            v.as_array().map(|a| a.len()) == Some(1),
            "[{:?}] inspect {name} should be a one-element array: {v}",
            self.mode
        );
        v[0].clone()
    }

    /// `ps -a -q --no-trunc`.
    pub fn all_container_ids(&self) -> Vec<String> {
        self.ok(&["ps", "-a", "-q", "--no-trunc"])
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// A host directory the command's user owns (for `-v` sources).
    pub fn user_dir(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        mkdir_mode(&d, 0o755);
        if self.mode == Mode::Rootless {
            let u = test_user();
            chown(&d, Some(u.uid), Some(u.gid)).unwrap();
        }
        d
    }

    /// Entries of the store's containers directory (and the runroot's).
    pub fn container_dirs(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for d in [
            self.store_dir().join("containers"),
            self.runroot_dir().join("containers"),
        ] {
            if let Ok(rd) = std::fs::read_dir(&d) {
                v.extend(rd.flatten().map(|e| e.path()));
            }
        }
        v.sort();
        v
    }

    /// Host processes started by this env's containers (found by the mark).
    pub fn marked_pids(&self) -> Vec<i32> {
        pids_with_env(&self.mark())
    }

    /// Kill every process of this env's containers (cleanup after a test,
    /// whether or not the lifecycle verbs worked).
    pub fn reap(&self) {
        for pid in self.marked_pids() {
            // SAFETY: a signal to a process this test's containers started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl TestEnv {
    /// Host processes of this store: every coracle command of the env runs
    /// with its HOME, which the monitors and helpers it forks keep, and
    /// containers started by the helpers carry the mark. Their descendants
    /// count too (a container's program under its monitor).
    pub fn store_processes(&self) -> Vec<i32> {
        let home = format!("HOME={}", self.home.display());
        let mut found = pids_with_env(&home);
        found.extend(self.marked_pids());
        let mut i = 0;
        while i < found.len() {
            for child in children_of(found[i]) {
                if !found.contains(&child) {
                    found.push(child);
                }
            }
            i += 1;
        }
        found.retain(|&pid| process_alive(pid));
        found.sort();
        found
    }

    /// The drop of a [`TestEnv::leaving_nothing`] store: what still runs
    /// after a grace (a monitor finishes its cleanup after `rm` returns) is
    /// killed, then the test fails naming it, unless it failed already.
    pub(crate) fn end_leftovers(&self) {
        let grace = Instant::now() + Duration::from_secs(10);
        let mut left = self.store_processes();
        while !left.is_empty() && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(50));
            left = self.store_processes();
        }
        if left.is_empty() {
            return;
        }
        let named: Vec<String> = left
            .iter()
            .map(|pid| {
                let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let args: Vec<String> = args
                    .split(|&b| b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                format!("{pid} {}", args.join(" "))
            })
            .collect();
        for &pid in &left {
            // SAFETY: a signal to a process of this test's own store.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let gone = Instant::now() + Duration::from_secs(10);
        while !self.store_processes().is_empty() && Instant::now() < gone {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !std::thread::panicking() {
            panic!(
                "[{:?}] processes of the test's store outlived it (killed now):\n{}",
                self.mode,
                named.join("\n")
            );
        }
    }
}

/// Kills what a test started when it ends, even by a failed assertion.
pub struct Reaper<'a>(pub &'a TestEnv);

impl Drop for Reaper<'_> {
    fn drop(&mut self) {
        self.0.reap();
    }
}

/// As [`Reaper`], for tests whose pods outlive their containers: the pods
/// are removed, then every process of the test's store (an infra, its
/// network helper) that is still there is killed.
pub struct StoreReaper<'a>(pub &'a TestEnv);

impl Drop for StoreReaper<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["pod", "rm", "-a", "-f", "-t", "0"]);
        self.0.reap();
        for pid in self.0.store_processes() {
            // SAFETY: a signal to a process of this test's store.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Pids of host processes whose environment holds `entry` (`K=V`).
pub fn pids_with_env(entry: &str) -> Vec<i32> {
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(env) = std::fs::read(e.path().join("environ")) {
            if env.split(|&b| b == 0).any(|kv| kv == entry.as_bytes()) {
                v.push(pid);
            }
        }
    }
    v
}

/// A field of /proc/PID/status (or of its text as printed in a container).
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim())
    })
}

/// CapEff of a /proc/self/status text, as a number.
pub fn cap_eff(status: &str) -> u64 {
    let hex =
        status_field(status, "CapEff").unwrap_or_else(|| panic!("no CapEff line in:\n{status}"));
    u64::from_str_radix(hex, 16).unwrap()
}

/// podman's default capabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL
/// NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT.
pub const PODMAN_DEFAULT_CAPS: u64 = 0x0000_0000_8004_05fb;
pub const CAP_CHOWN: u32 = 0;
pub const CAP_NET_ADMIN: u32 = 12;

/// The kernel's full capability set (CapBnd of this test process, root).
pub fn full_caps() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    u64::from_str_radix(status_field(&s, "CapBnd").unwrap(), 16).unwrap()
}

pub fn ppid_of(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&s, "PPid")?.parse().ok()
}

pub fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

pub fn process_alive(pid: i32) -> bool {
    // a zombie is dead for our purposes
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(s) => !status_field(&s, "State").unwrap_or("").starts_with('Z'),
        Err(_) => false,
    }
}

/// Lines of the host's mount table that mention `path`.
pub fn host_mounts_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(String::from)
        .collect()
}

/// Poll `f` until it is true or `timeout` passes; whether it became true.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a server listens on unix socket `path`: the file appears at
/// bind, a moment before listen, when a client is still refused.
pub fn socket_accepts(path: &std::path::Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// The pid of the coracle process a `coracle_command` child runs: the child
/// itself as root, the child of `runuser` rootless.
pub fn coracle_pid(mode: Mode, child_pid: i32) -> i32 {
    if mode == Mode::Root {
        return child_pid;
    }
    let mut found = None;
    let ok = wait_for(Duration::from_secs(10), || {
        found = children_of(child_pid).into_iter().find(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .map(|c| c.trim() == "coracle")
                .unwrap_or(false)
        });
        found.is_some()
    });
    assert!(ok, "runuser ({child_pid}) has no coracle child");
    found.unwrap()
}

/// Build a static helper from C with the host's gcc. A missing gcc or
/// static libc fails the test (`who` says which): a helper that cannot be
/// built proves nothing.
pub fn compile_static(src: &Path, bin: &Path, who: &str) {
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(bin)
        .arg(src)
        .output()
        .unwrap_or_else(|e| panic!("{who} needs gcc (apt-get install gcc libc6-dev): {e}"));
    assert!(
        out.status.success(),
        "gcc -static failed ({who} needs gcc and a static libc, libc6-dev):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(bin, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A static probe, compiled once per test binary with the host's gcc: it
/// calls `kcmp` and `keyctl` and prints `NAME ok` or `NAME errno=N` for each.
/// A missing gcc or static libc fails the test: a probe that cannot run
/// proves nothing.
pub fn syscall_probe() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = base_dir().join("probe");
        mkdir_mode(&dir, 0o755);
        let src = dir.join("probe.c");
        std::fs::write(
            &src,
            r#"#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
static void report(const char *name, long r) {
    if (r < 0) printf("%s errno=%d\n", name, errno); else printf("%s ok\n", name);
}
int main(void) {
    /* kcmp(self, self, KCMP_FILE, 0, 0): any process may compare its own fds */
    report("kcmp", syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0));
    /* keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, create) */
    report("keyctl", syscall(SYS_keyctl, 0, -3, 1));
    return 0;
}
"#,
        )
        .unwrap();
        compile_static(&src, &dir.join("probe"), "the seccomp test");
        dir
    })
    .clone()
}

/// Bad input as podman answers it: exit 125, one `Error:` line naming the
/// problem (`needle`), and no container, image or volume added or lost.
pub fn assert_refused(env: &TestEnv, args: &[&str], needle: &str) {
    let objects = |env: &TestEnv| {
        (
            env.all_container_ids(),
            env.image_ids(),
            env.ok(&["volume", "ls", "-q"]),
            env.ok(&["pod", "ps", "-q"]),
        )
    };
    let before = objects(env);
    let out = env.run(args);
    assert_error(env.mode, &args.join(" "), &out, 125, &[needle]);
    assert!(
        objects(env) == before,
        "[{:?}] `{}` changed the store",
        env.mode,
        args.join(" ")
    );
}

/// Set of words, for comparing outputs regardless of order.
pub fn word_set(s: &str) -> BTreeSet<String> {
    s.split_whitespace().map(String::from).collect()
}

/// `rt` whose config EXPOSEs 80/tcp (for `run -P`).
pub fn rt_expose() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| {
        let layers = rt_layers();
        let mut cfg: Value = serde_json::from_slice(&rt_config("rt-expose", &layers, "/")).unwrap();
        cfg["config"]["ExposedPorts"] = json!({"80/tcp": {}});
        let img = build_image_with_config(
            &ImageSpec::new("rt-expose"),
            layers,
            serde_json::to_vec(&cfg).unwrap(),
        );
        push_image(registry(), "fixtures/rt-expose", "1", &img);
        Pushed {
            host: registry().host.clone(),
            repo: "fixtures/rt-expose".into(),
            tag: "1".into(),
            digest: img.manifest_digest.clone(),
            images: vec![img],
        }
    })
}

/// A static UDP receiver, compiled once per test binary with the host's gcc
/// (busybox has no UDP listener): `udprecv PORT FILE` appends each datagram
/// to FILE and echoes it back to its sender. Returns the directory holding it.
pub fn udp_receiver() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = base_dir().join("udprecv");
        mkdir_mode(&dir, 0o755);
        let src = dir.join("udprecv.c");
        std::fs::write(
            &src,
            r#"#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[1]));
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) return 1;
    for (;;) {
        char buf[2048];
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n < 0) continue;
        int f = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (f >= 0) { write(f, buf, n); close(f); }
        sendto(s, buf, n, 0, (struct sockaddr *)&peer, len);
    }
}
"#,
        )
        .unwrap();
        compile_static(&src, &dir.join("udprecv"), "the UDP test");
        dir
    })
    .clone()
}

/// Facts of the `rt-volume` fixture the volume tests assert on.
pub mod volume_fixture {
    /// Owned by 1000:1000 (the dir too, mode 0750) in the image.
    pub const APP_DIR: &str = "/var/lib/app";
    pub const APP_FILE: &str = "/var/lib/app/state.txt";
    pub const APP_CONTENT: &str = "from the image\n";
    /// The image's VOLUME, holding `seed.txt` (root's).
    pub const VOLUME_DIR: &str = "/data";
    pub const SEED_FILE: &str = "/data/seed.txt";
}

/// `rt` plus files owned by uid 1000 under /var/lib/app and VOLUME /data.
pub fn rt_volume() -> &'static Pushed {
    use volume_fixture::*;
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| {
        let mut t = TarBuilder::new();
        t.dir("var/lib", 0o755, 0, 0)
            .dir("var/lib/app", 0o750, 1000, 1000)
            .file(&APP_FILE[1..], APP_CONTENT.as_bytes(), 0o640, 1000, 1000)
            .dir("data", 0o755, 0, 0)
            .file(&SEED_FILE[1..], b"seed\n", 0o644, 0, 0);
        let mut layers = rt_layers();
        layers.push(Layer::new(&t.finish(), Compression::Gzip));
        let mut cfg: Value = serde_json::from_slice(&rt_config("rt-volume", &layers, "/")).unwrap();
        cfg["config"]["Volumes"] = json!({ VOLUME_DIR: {} });
        let img = build_image_with_config(
            &ImageSpec::new("rt-volume"),
            layers,
            serde_json::to_vec(&cfg).unwrap(),
        );
        push_image(registry(), "fixtures/rt-volume", "1", &img);
        Pushed {
            host: registry().host.clone(),
            repo: "fixtures/rt-volume".into(),
            tag: "1".into(),
            digest: img.manifest_digest.clone(),
            images: vec![img],
        }
    })
}
