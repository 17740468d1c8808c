//! `run -it` driven through a real pty, as root and rootless (runuser
//! passes the pty fds through).

mod common;

use common::*;

both_modes!(interactive_tty_shell);
fn interactive_tty_shell(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let (code, out) = run_on_pty(
        &env,
        &["run", "-it", "--rm", "-e", &mark, &img, "sh"],
        40,
        100,
        "echo $((6*7)); tty; stty size; exit 5\n",
    );
    assert!(out.contains("42"), "[{mode:?}] terminal:\n{out}");
    assert!(
        out.contains("/dev/pts/0"),
        "[{mode:?}] tty is the container's pts 0:\n{out}"
    );
    // the window size of our pty reaches the container's
    assert!(out.contains("40 100"), "[{mode:?}] stty size:\n{out}");
    assert_eq!(
        code, 5,
        "[{mode:?}] exit code of the shell; terminal:\n{out}"
    );
}

both_modes!(tty_exec_into_a_running_container);
fn tty_exec_into_a_running_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("web", &[], &img, &["sleep", "300"]);
    let (code, out) = run_on_pty(
        &env,
        &["exec", "-it", "web", "sh"],
        30,
        90,
        "test -t 0 && echo is-a-tty; stty size; exit 3\n",
    );
    assert!(out.contains("is-a-tty"), "[{mode:?}] terminal:\n{out}");
    assert!(out.contains("30 90"), "[{mode:?}] stty size:\n{out}");
    assert_eq!(code, 3, "[{mode:?}] terminal:\n{out}");
    let _ = env.run(&["rm", "-f", "-t", "0", "web"]);
}
