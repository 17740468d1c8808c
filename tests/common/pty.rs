//! Running coracle on a pseudo-terminal, as a user at a shell does
//! (`-t`, `exec -it`, detach keys).

use super::TestEnv;
use nix::pty::{openpty, Winsize};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Run `coracle ARGS` on a new pty of `rows`x`cols`, type `input` once the
/// shell prompts; the exit code and everything the terminal showed.
pub fn run_on_pty(
    env: &TestEnv,
    args: &[&str],
    rows: u16,
    cols: u16,
    input: &str,
) -> (i32, String) {
    let ws = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&ws), None).expect("openpty");
    let slave: OwnedFd = pty.slave;
    let mut child = env
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
        // EIO once every slave fd is closed
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    // wait for the prompt (`# `) so the input goes to the shell, not to
    // the pty before the terminal is set up
    let deadline = Instant::now() + Duration::from_secs(15);
    while !String::from_utf8_lossy(&seen).contains("# ") && Instant::now() < deadline {
        if let Ok(b) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.extend(b);
        }
    }
    let mut w = master.try_clone().unwrap();
    w.write_all(input.as_bytes()).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        while let Ok(b) = rx.try_recv() {
            seen.extend(b);
        }
        if start.elapsed() > Duration::from_secs(20) {
            // SAFETY: a signal to a process this test started.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            panic!(
                "[{:?}] {args:?} on a pty did not end; terminal showed:\n{}",
                env.mode,
                String::from_utf8_lossy(&seen)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    while let Ok(b) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.extend(b);
    }
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    (code, String::from_utf8_lossy(&seen).into_owned())
}
