//! Integration-test harness: runs the real `coracle` binary as root and as
//! the unprivileged user `cotest`, each test in a fresh store, against a real
//! registry (Debian's `docker-registry`) on a random loopback port.
//!
//! Set the machine up and run everything with `sudo tests/run.sh`.
#![allow(dead_code, unused_imports)]

pub mod cdi;
pub mod ctr;
pub mod fixtures;
pub mod gpg;
pub mod http;
pub mod oci;
pub mod pty;
pub mod registry;
pub mod snapshot;

pub use cdi::*;
pub use ctr::*;
pub use fixtures::*;
pub use gpg::Keyring;
pub use http::*;
pub use pty::*;
pub use registry::{auth_registry, registry, tls_registry, Registry};
pub use snapshot::{assert_same_snapshot, snapshot, Entry};

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The unprivileged user tests/run.sh creates for rootless runs.
pub const TEST_USER: &str = "cotest";
const TEST_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
/// No single coracle invocation in these tests should take longer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Root,
    Rootless,
}

/// Every test runs in both modes. Not being able to is a setup error, never a
/// reason to skip: a test that cannot fail is a defect.
pub fn modes() -> Vec<Mode> {
    let all = vec![Mode::Root, Mode::Rootless];
    for &mode in &all {
        require_mode(mode);
    }
    all
}

/// Panics unless a test can run in `mode`: the tests run as root (they also
/// run coracle as the unprivileged user `cotest`, who must exist). Called
/// first by every test of `both_modes!`, so a machine that is not set up
/// fails the test instead of skipping it.
pub fn require_mode(mode: Mode) {
    // SAFETY: a plain query of this process's effective uid.
    if unsafe { libc::geteuid() } != 0 {
        panic!(
            "[{mode:?}] the integration tests must run as root (they also run coracle as the \
             unprivileged user `{TEST_USER}`): run `sudo tests/run.sh`"
        );
    }
    let _ = test_user();
}

/// One test per mode of each `fn NAME(mode: Mode)` named: the tests
/// `NAME::root` and `NAME::rootless`, each checking the machine with
/// [`require_mode`] first. A failure as root then does not hide the
/// rootless result, and the result list says which mode failed:
///
/// ```ignore
/// both_modes!(pulls_layers);
/// /// Doc comments go below the macro (on the function).
/// fn pulls_layers(mode: Mode) {
///     let env = TestEnv::new(mode);
///     // ...
/// }
/// ```
///
/// `cargo test pulls_layers` runs both, `cargo test pulls_layers::rootless`
/// one (`NAME::root` also matches `NAME::rootless`: add `-- --exact`), and
/// `cargo test -- --skip ::rootless` every test as root only. The body stays
/// an ordinary function so that rustfmt formats it (it leaves macro bodies
/// alone); a function no `both_modes!` names is dead code, which clippy
/// refuses.
#[allow(unused_macros)] // test files without per-mode tests
macro_rules! both_modes {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn root() {
                $crate::common::require_mode($crate::common::Mode::Root);
                super::$name($crate::common::Mode::Root);
            }

            #[test]
            fn rootless() {
                $crate::common::require_mode($crate::common::Mode::Rootless);
                super::$name($crate::common::Mode::Rootless);
            }
        }
    )+};
}
pub(crate) use both_modes;

/// uid, gid and first subordinate uid/gid of the test user.
#[derive(Clone, Copy, Debug)]
pub struct TestUser {
    pub uid: u32,
    pub gid: u32,
    pub subuid_start: u32,
    pub subgid_start: u32,
}

pub fn test_user() -> TestUser {
    static USER: OnceLock<TestUser> = OnceLock::new();
    *USER.get_or_init(|| {
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, TEST_USER]).output().unwrap();
            if !out.status.success() {
                panic!("test user `{TEST_USER}` is missing: run `sudo tests/run.sh` to set the machine up");
            }
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        TestUser {
            uid: id("-u"),
            gid: id("-g"),
            subuid_start: first_subordinate("/etc/subuid"),
            subgid_start: first_subordinate("/etc/subgid"),
        }
    })
}

/// The first range of the test user in /etc/subuid or /etc/subgid: container
/// ids 1..65536 map into it (0 maps to the user itself).
fn first_subordinate(file: &str) -> u32 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            (f.next()? == TEST_USER).then(|| f.next()?.parse().ok())?
        })
        .next()
        .unwrap_or_else(|| panic!("`{TEST_USER}` has no range in {file}: run `sudo tests/run.sh`"))
}

impl TestUser {
    /// Host uid of a file owned by `id` in a container of the test user.
    pub fn host_uid(&self, id: u32) -> u32 {
        if id == 0 {
            self.uid
        } else {
            self.subuid_start + id - 1
        }
    }
    pub fn host_gid(&self, id: u32) -> u32 {
        if id == 0 {
            self.gid
        } else {
            self.subgid_start + id - 1
        }
    }
}

/// The binary under test. tests/run.sh sets CORACLE_BIN to a copy the test
/// user can read; otherwise copy cargo's build to such a place.
pub fn coracle_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("CORACLE_BIN") {
            return PathBuf::from(p);
        }
        let dir = base_dir().join("bin");
        mkdir_mode(&dir, 0o755);
        let dst = dir.join("coracle");
        std::fs::copy(env!("CARGO_BIN_EXE_coracle"), &dst).unwrap();
        dst
    })
    .clone()
}

/// /tmp/coracle-tests-<pid>: every temp dir of this test process lives here,
/// traversable by the test user. Stale ones of dead test processes are removed.
pub fn base_dir() -> PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        remove_stale_base_dirs();
        let dir = PathBuf::from(format!("/tmp/coracle-tests-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        mkdir_mode(&dir, 0o755);
        dir
    })
    .clone()
}

fn remove_stale_base_dirs() {
    let Ok(rd) = std::fs::read_dir("/tmp") else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("coracle-tests-") {
            if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

pub fn mkdir_mode(dir: &Path, mode: u32) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A unique name for this process: tests run in parallel and share a registry.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Out {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// One isolated store, used as root or as the test user.
pub struct TestEnv {
    pub mode: Mode,
    /// The test's private dir (removed on drop).
    pub dir: PathBuf,
    pub home: PathBuf,
    /// XDG_RUNTIME_DIR (rootless) / --runroot parent (root).
    pub runtime_dir: PathBuf,
    extra_env: Vec<(String, String)>,
    /// Set by [`TestEnv::leaving_nothing`]: the drop fails the test when a
    /// process of this store outlives it.
    forbid_leftovers: bool,
}

impl TestEnv {
    pub fn new(mode: Mode) -> TestEnv {
        let dir = base_dir().join(unique(match mode {
            Mode::Root => "root",
            Mode::Rootless => "rootless",
        }));
        mkdir_mode(&dir, 0o755);
        let home = dir.join("home");
        let runtime_dir = dir.join("run");
        mkdir_mode(&home, 0o700);
        mkdir_mode(&runtime_dir, 0o700);
        if mode == Mode::Rootless {
            let u = test_user();
            chown(&home, Some(u.uid), Some(u.gid)).unwrap();
            chown(&runtime_dir, Some(u.uid), Some(u.gid)).unwrap();
        } else {
            mkdir_mode(&dir.join("root"), 0o700);
        }
        TestEnv {
            mode,
            dir,
            home,
            runtime_dir,
            extra_env: Vec::new(),
            forbid_leftovers: false,
        }
    }

    /// A store whose test must leave nothing running: when it is dropped,
    /// any process of it (a monitor, its network helper, a container's
    /// program) still there after a short grace is killed and, unless the
    /// test failed already, the test fails naming it.
    pub fn leaving_nothing(mode: Mode) -> TestEnv {
        let mut env = TestEnv::new(mode);
        env.forbid_leftovers = true;
        env
    }

    /// The graph root: where images, blobs and layers are stored.
    pub fn store_dir(&self) -> PathBuf {
        match self.mode {
            Mode::Root => self.dir.join("root"),
            Mode::Rootless => self.home.join(".local/share/coracle"),
        }
    }

    /// The run root (volatile state).
    pub fn runroot_dir(&self) -> PathBuf {
        match self.mode {
            Mode::Root => self.runtime_dir.join("coracle"),
            Mode::Rootless => self.runtime_dir.join("coracle"),
        }
    }

    /// Directory of an extracted layer: the store's layout contract.
    pub fn layer_dir(&self, diff_id: &str) -> PathBuf {
        let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
        self.store_dir().join("layers").join(hex).join("diff")
    }

    /// Every extracted layer in the store (`<graphroot>/layers/<hex>`).
    pub fn layer_ids(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.store_dir().join("layers"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Add an environment variable to every later command.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_string(), value.to_string()));
    }

    /// Stop adding `key` to later commands.
    pub fn remove_env(&mut self, key: &str) {
        self.extra_env.retain(|(k, _)| k != key);
    }

    /// Write a file the command's user can read (owned by cotest rootless).
    pub fn write_user_file(&self, path: &Path, content: &[u8]) {
        let mut p = PathBuf::new();
        // create missing parents, owned by the user as a real tool would find them
        for comp in path.parent().unwrap().components() {
            p.push(comp);
            if !p.exists() {
                mkdir_mode(&p, 0o700);
                if self.mode == Mode::Rootless {
                    let u = test_user();
                    chown(&p, Some(u.uid), Some(u.gid)).unwrap();
                }
            }
        }
        std::fs::write(path, content).unwrap();
        if self.mode == Mode::Rootless {
            let u = test_user();
            chown(path, Some(u.uid), Some(u.gid)).unwrap();
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        self.command_for(&coracle_bin(), args, true)
    }

    /// The `coracle ARGS` command exactly as `run` builds it (user, env,
    /// store flags, own process group), for tests that drive the process
    /// themselves (spawn many, send signals, attach a pty).
    pub fn coracle_command(&self, args: &[&str]) -> Command {
        self.command(args)
    }

    /// Another program's command as coracle's is built (same user and
    /// environment, own process group, no store flags), to spawn.
    pub fn program_command(&self, program: &str, args: &[&str]) -> Command {
        self.command_for(Path::new(program), args, false)
    }

    /// Run another program the way coracle is run (same user and
    /// environment, no store flags): for checks of the harness itself.
    pub fn run_program(&self, program: &str, args: &[&str]) -> Out {
        let mut cmd = self.command_for(Path::new(program), args, false);
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        Out {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn command_for(&self, bin: &Path, args: &[&str], store_flags: bool) -> Command {
        let mut cmd = match self.mode {
            Mode::Root => {
                let mut c = Command::new(bin);
                c.env_clear()
                    .env("HOME", &self.home)
                    .env("USER", "root")
                    .env("PATH", TEST_PATH);
                for (k, v) in &self.extra_env {
                    c.env(k, v);
                }
                let runroot = self.runroot_dir();
                if store_flags {
                    c.arg("--root")
                        .arg(self.store_dir())
                        .arg("--runroot")
                        .arg(runroot);
                }
                c
            }
            Mode::Rootless => {
                let mut c = Command::new("runuser");
                let mut envs: Vec<OsString> = vec![
                    format!("HOME={}", self.home.display()).into(),
                    format!("USER={TEST_USER}").into(),
                    format!("PATH={TEST_PATH}").into(),
                    format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display()).into(),
                ];
                for (k, v) in &self.extra_env {
                    envs.push(format!("{k}={v}").into());
                }
                c.env_clear()
                    .env("PATH", TEST_PATH)
                    .args(["-u", TEST_USER, "--", "env", "-i"])
                    .args(envs)
                    .arg(bin);
                c
            }
        };
        cmd.args(args).current_dir(&self.dir);
        // own process group, so a hung command can be killed with its children
        // SAFETY: the pre-exec closure only calls setpgid, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with_stdin(args, None)
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        self.run_with_stdin(args, Some(input))
    }

    /// Run another coracle binary (e.g. a fresh copy) on this store.
    pub fn run_bin(&self, bin: &Path, args: &[&str]) -> Out {
        self.run_bin_with_stdin(bin, args, None)
    }

    fn run_with_stdin(&self, args: &[&str], input: Option<&[u8]>) -> Out {
        self.run_bin_with_stdin(&coracle_bin(), args, input)
    }

    fn run_bin_with_stdin(&self, bin: &Path, args: &[&str], input: Option<&[u8]>) -> Out {
        let mut cmd = self.command_for(bin, args, true);
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning coracle");
        if let Some(data) = input {
            let mut stdin = child.stdin.take().unwrap();
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
        }
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let t_out = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = so.read_to_end(&mut s);
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = se.read_to_end(&mut s);
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if start.elapsed() > COMMAND_TIMEOUT {
                // SAFETY: a signal to the process group of the command this test started.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                panic!(
                    "[{:?}] coracle {:?} did not finish within {:?}",
                    self.mode, args, COMMAND_TIMEOUT
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        Out {
            status: code,
            stdout: String::from_utf8_lossy(&t_out.join().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
        }
    }

    /// Run and require exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status == 0,
            "[{:?}] `coracle {}` exited {}\nstdout:\n{}\nstderr:\n{}",
            self.mode,
            args.join(" "),
            out.status,
            out.stdout,
            out.stderr
        );
        assert_no_panic(self.mode, args, &out);
        out.stdout
    }

    /// Run and require the given exit code.
    pub fn fails(&self, args: &[&str], code: i32) -> Out {
        let out = self.run(args);
        assert!(
            out.status == code,
            "[{:?}] `coracle {}`: expected exit {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.mode,
            args.join(" "),
            out.status,
            out.stdout,
            out.stderr
        );
        assert_no_panic(self.mode, args, &out);
        out
    }

    /// Pull and return the full image id printed on stdout (as podman does).
    pub fn pull(&self, reference: &str) -> String {
        let stdout = self.ok(&["pull", reference]);
        let id = stdout.lines().last().unwrap_or("").trim().to_string();
        assert!(
            is_hex(&id, 64),
            "[{:?}] `coracle pull {reference}` should print the 64-hex image id last on stdout, got {stdout:?}",
            self.mode
        );
        id
    }

    /// `image inspect` parsed.
    pub fn inspect(&self, image: &str) -> serde_json::Value {
        let out = self.ok(&["image", "inspect", image]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| {
            panic!(
                "[{:?}] image inspect {image}: not JSON ({e}): {out}",
                self.mode
            )
        });
        assert!(
            v.is_array() && v.as_array().unwrap().len() == 1,
            "inspect {image}: {v}"
        );
        v[0].clone()
    }

    /// `images --format '{{.Repository}}:{{.Tag}}'` as a sorted list.
    pub fn image_names(&self) -> Vec<String> {
        let out = self.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        let mut v: Vec<String> = out
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        v.sort();
        v
    }

    /// Ids from `images -q`.
    pub fn image_ids(&self) -> Vec<String> {
        self.ok(&["images", "-q"])
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if self.forbid_leftovers {
            self.end_leftovers();
        }
        // root can remove files of any subordinate owner
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("warning: could not remove {}: {e}", self.dir.display());
        }
    }
}

pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn assert_no_panic(mode: Mode, args: &[&str], out: &Out) {
    for bad in [
        "panicked at",
        "RUST_BACKTRACE",
        "stack backtrace",
        "a bug in coracle",
    ] {
        assert!(
            !out.stderr.contains(bad),
            "[{mode:?}] `coracle {}` panicked (a panic is a bug):\n{}",
            args.join(" "),
            out.stderr
        );
    }
}

/// podman's error contract: exit 125 and exactly one `Error: ` line on
/// stderr that names the thing (each of `needles` appears in it).
pub fn assert_error(mode: Mode, what: &str, out: &Out, code: i32, needles: &[&str]) {
    assert_eq!(
        out.status, code,
        "[{mode:?}] {what}: expected exit {code}, got {}\nstdout:\n{}\nstderr:\n{}",
        out.status, out.stdout, out.stderr
    );
    assert_no_panic(mode, &[what], out);
    let errs: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("Error: "))
        .collect();
    assert_eq!(
        errs.len(),
        1,
        "[{mode:?}] {what}: want exactly one `Error: ` line on stderr, got:\n{}",
        out.stderr
    );
    for n in needles {
        assert!(
            errs[0].contains(n),
            "[{mode:?}] {what}: the error should name {n:?}: {}",
            errs[0]
        );
    }
}
