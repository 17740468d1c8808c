//! `attach` to containers started with `-d` (pipes and terminals), the
//! detach keys there, on a foreground `run` and on `exec -it`, and
//! `start -a` of a running container, as root and rootless.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use nix::pty::{openpty, Winsize};

/// `coracle ARGS` on a new pty: type into it, wait for what it shows.
struct Pty {
    child: Child,
    master: std::fs::File,
    rx: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    what: String,
}

impl Pty {
    fn spawn(env: &TestEnv, args: &[&str]) -> Pty {
        let ws = Winsize {
            ws_row: 33,
            ws_col: 77,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&ws), None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        let child = env
            .coracle_command(args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .unwrap();
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            child,
            master,
            rx,
            seen: Vec::new(),
            what: format!("[{:?}] {args:?}", env.mode),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    fn type_in(&mut self, s: &[u8]) {
        self.master.write_all(s).unwrap();
    }

    /// Type `line` until the terminal shows `needle`: the program may not
    /// read its terminal yet when the first one is typed.
    fn type_until(&mut self, line: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.type_in(line.as_bytes());
            let next = Instant::now() + Duration::from_secs(2);
            while Instant::now() < next && !self.text().contains(needle) {
                if let Ok(b) = self.rx.recv_timeout(Duration::from_millis(100)) {
                    self.seen.extend(b);
                }
            }
            if self.text().contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: never showed {needle:?}; terminal:\n{}",
                self.what,
                self.text()
            );
        }
    }

    /// The exit code, within 20 seconds.
    fn wait(mut self) -> i32 {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            while let Ok(b) = self.rx.try_recv() {
                self.seen.extend(b);
            }
            if start.elapsed() > Duration::from_secs(20) {
                // SAFETY: a signal to a process this test started.
                unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
                let _ = self.child.wait();
                panic!("{} did not end; terminal:\n{}", self.what, self.text());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        use std::os::unix::process::ExitStatusExt;
        status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
    }
}

fn state(env: &TestEnv, name: &str) -> String {
    env.ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        name,
    ])
    .trim()
    .to_string()
}

both_modes!(attach_relays_stdin_and_both_streams);
fn attach_relays_stdin_and_both_streams(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached(
        "piped",
        &["-i"],
        &img,
        &[
            "sh",
            "-c",
            "read x; echo \"got $x\"; echo oops >&2; read y; echo \"and $y\"; exit 3",
        ],
    );
    // `-d -i` keeps stdin open: the program waits for it.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(state(&env, "piped"), "running 0", "[{mode:?}]");
    let out = env.run_stdin(&["attach", "piped"], b"hello\nworld\n");
    assert_eq!(
        out.status, 3,
        "[{mode:?}] attach gives the exit code: {out:?}"
    );
    assert!(
        out.stdout.contains("got hello\nand world\n"),
        "[{mode:?}] {out:?}"
    );
    assert!(out.stderr.contains("oops"), "[{mode:?}] stderr: {out:?}");
    assert!(
        !out.stdout.contains("oops"),
        "[{mode:?}] streams apart: {out:?}"
    );
    assert_eq!(state(&env, "piped"), "exited 3", "[{mode:?}]");
    // the output went to the log as well
    let logs = env.ok(&["logs", "piped"]);
    assert!(logs.contains("got hello"), "[{mode:?}] logs: {logs}");
}

both_modes!(attach_socket_is_the_owners_alone);
fn attach_socket_is_the_owners_alone(mode: Mode) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let id = env.run_detached("sock", &[], &img, &["sleep", "300"]);
    let path = env
        .runroot_dir()
        .join("containers")
        .join(&id)
        .join("attach");
    let meta =
        std::fs::metadata(&path).unwrap_or_else(|e| panic!("[{mode:?}] {}: {e}", path.display()));
    assert!(
        meta.file_type().is_socket(),
        "[{mode:?}] {}",
        path.display()
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "[{mode:?}]");
    let owner = match mode {
        Mode::Root => 0,
        Mode::Rootless => test_user().uid,
    };
    assert_eq!(meta.uid(), owner, "[{mode:?}] socket owner");
    env.ok(&["rm", "-f", "-t", "0", "sock"]);
}

both_modes!(attach_to_a_terminal_detach_and_come_back);
fn attach_to_a_terminal_detach_and_come_back(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("term", &["-i", "-t"], &img, &["sh"]);
    let mut p = Pty::spawn(&env, &["attach", "term"]);
    p.type_until("echo $((6*7))x\n", "42x");
    // the container's terminal took our size
    p.type_until("stty size\n", "33 77");
    // ctrl-p ctrl-q: attach ends, the container runs on
    p.type_in(b"\x10\x11");
    assert_eq!(p.wait(), 0, "[{mode:?}] detaching is a success");
    assert_eq!(state(&env, "term"), "running 0", "[{mode:?}]");
    // another sequence, chosen with --detach-keys
    let mut p = Pty::spawn(&env, &["attach", "--detach-keys", "ctrl-x,y", "term"]);
    p.type_until("echo $((7*8))x\n", "56x");
    p.type_in(b"\x18y");
    assert_eq!(p.wait(), 0, "[{mode:?}]");
    assert_eq!(state(&env, "term"), "running 0", "[{mode:?}]");
    // the program's end ends attach, with its code
    let mut p = Pty::spawn(&env, &["attach", "term"]);
    p.type_until("echo $((8*9))x\n", "72x");
    p.type_in(b"exit 4\n");
    assert_eq!(p.wait(), 4, "[{mode:?}] the program's exit code");
    assert_eq!(state(&env, "term"), "exited 4", "[{mode:?}]");
}

both_modes!(run_detach_keys_leave_the_container_running);
fn run_detach_keys_leave_the_container_running(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let mut p = Pty::spawn(
        &env,
        &["run", "-it", "--name", "fg", "-e", &mark, &img, "sh"],
    );
    p.type_until("echo $((6*7))x\n", "42x");
    p.type_in(b"\x10\x11");
    assert_eq!(p.wait(), 0, "[{mode:?}] run ends when detached");
    assert_eq!(state(&env, "fg"), "running 0", "[{mode:?}]");
    let mut p = Pty::spawn(&env, &["attach", "fg"]);
    p.type_until("echo $((8*9))x\n", "72x");
    p.type_in(b"exit 6\n");
    assert_eq!(p.wait(), 6, "[{mode:?}]");
    // --detach-keys "" turns detaching off: the keys reach the program
    let mut p = Pty::spawn(
        &env,
        &[
            "run",
            "-it",
            "--rm",
            "--detach-keys=",
            "-e",
            &mark,
            &img,
            "sh",
        ],
    );
    p.type_until("echo $((6*7))x\n", "42x");
    p.type_in(b"\x10\x11");
    p.type_until("echo still-here\n", "still-here\r\n");
    p.type_in(b"exit 2\n");
    assert_eq!(p.wait(), 2, "[{mode:?}]");
}

both_modes!(exec_detach_keys_leave_the_program_running);
fn exec_detach_keys_leave_the_program_running(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("box", &[], &img, &["sleep", "300"]);
    let exists = |path: &str| env.run(&["exec", "box", "test", "-e", path]).status == 0;
    let mut p = Pty::spawn(&env, &["exec", "-it", "box", "sh"]);
    p.type_until("echo $((6*7))x\n", "42x");
    // The shell waits for a file that only appears after we have left.
    p.type_in(b"while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after > /tmp/after\n");
    std::thread::sleep(Duration::from_millis(300));
    p.type_in(b"\x10\x11");
    assert_eq!(p.wait(), 0, "[{mode:?}] detaching from exec is a success");
    assert!(!exists("/tmp/after"), "[{mode:?}] ran on before the go");
    env.ok(&["exec", "box", "touch", "/tmp/go"]);
    assert!(
        wait_for(Duration::from_secs(10), || exists("/tmp/after")),
        "[{mode:?}] the exec'd shell did not run on after the detach"
    );
    assert_eq!(
        env.ok(&["exec", "box", "cat", "/tmp/after"]),
        "after\n",
        "[{mode:?}]"
    );
    assert_eq!(state(&env, "box"), "running 0", "[{mode:?}]");
    // another sequence, chosen with --detach-keys
    let mut p = Pty::spawn(
        &env,
        &["exec", "-it", "--detach-keys", "ctrl-x,y", "box", "sh"],
    );
    p.type_until("echo $((7*8))x\n", "56x");
    p.type_in(b"\x18y");
    assert_eq!(p.wait(), 0, "[{mode:?}]");
    // --detach-keys "" turns detaching off: the keys reach the program
    let mut p = Pty::spawn(&env, &["exec", "-it", "--detach-keys=", "box", "sh"]);
    p.type_until("echo $((6*7))x\n", "42x");
    p.type_in(b"\x10\x11");
    p.type_until("echo still-here\n", "still-here\r\n");
    p.type_in(b"exit 2\n");
    assert_eq!(p.wait(), 2, "[{mode:?}] the program's exit code");
    // the program's own end still ends exec, with its code
    let mut p = Pty::spawn(&env, &["exec", "-it", "box", "sh"]);
    p.type_until("echo $((8*9))x\n", "72x");
    p.type_in(b"exit 5\n");
    assert_eq!(p.wait(), 5, "[{mode:?}]");
    assert_refused(
        &env,
        &["exec", "-it", "--detach-keys", "ctrl-1", "box", "sh"],
        "invalid detach keys",
    );
    assert_refused(
        &env,
        &[
            "exec",
            "--no-session",
            "--detach-keys",
            "ctrl-a",
            "box",
            "true",
        ],
        "--detach-keys",
    );
}

both_modes!(start_attach_joins_a_running_container);
fn start_attach_joins_a_running_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached(
        "again",
        &["-i"],
        &img,
        &["sh", "-c", "read x; echo \"start got $x\"; exit 5"],
    );
    let out = env.run_stdin(&["start", "-a", "-i", "again"], b"yo\n");
    assert_eq!(out.status, 5, "[{mode:?}] {out:?}");
    assert!(out.stdout.contains("start got yo"), "[{mode:?}] {out:?}");
    // --no-stdin: our input stays here, the container keeps waiting
    env.run_detached(
        "nostdin",
        &["-i"],
        &img,
        &["sh", "-c", "read x; echo never"],
    );
    let mut child = env
        .coracle_command(&["attach", "--no-stdin", "nostdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"x\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "[{mode:?}] attach ended"
    );
    assert_eq!(state(&env, "nostdin"), "running 0", "[{mode:?}]");
    env.ok(&["stop", "-t", "0", "nostdin"]);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137), "[{mode:?}] killed by stop");
}

both_modes!(attach_refuses_bad_input);
fn attach_refuses_bad_input(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["create", "--name", "idle", "-e", &mark, &img, "true"]);
    assert_refused(
        &env,
        &["attach", "idle"],
        "only attach to running containers",
    );
    assert_refused(&env, &["attach", "nosuch"], "no such container");
    assert_refused(&env, &["attach"], "attach requires");
    assert_refused(
        &env,
        &["attach", "--detach-keys", "ctrl-1", "idle"],
        "invalid detach keys",
    );
    assert_refused(
        &env,
        &["run", "--detach-keys", "ctrl-xx", "-e", &mark, &img, "true"],
        "invalid detach keys",
    );
    assert_refused(
        &env,
        &["start", "-a", "--detach-keys", "bad-keys", "idle"],
        "invalid detach keys",
    );
}
