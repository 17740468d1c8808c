//! Hostile and broken input: a panic, Containerfiles built to exhaust the
//! builder, limits no kernel could honour. Each gives one `Error:` line,
//! exit 125, and leaves the store as it was.

mod common;

use common::*;

both_modes!(panic_is_one_line_naming_a_bug_report);
/// A panic (forced by the test-only CORACLE_TEST_PANIC) reaches the user as
/// one `Error:` line that names a report holding the message and a
/// backtrace, under the run root, and exit 125.
fn panic_is_one_line_naming_a_bug_report(mode: Mode) {
    let mut env = TestEnv::new(mode);
    env.set_env("CORACLE_TEST_PANIC", "1");
    let out = env.run(&["images"]);
    assert_eq!(out.status, 125, "[{mode:?}] {}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "[{mode:?}] one line: {}", out.stderr);
    let line = lines[0];
    assert!(
        line.starts_with("Error: internal error (a bug in coracle): CORACLE_TEST_PANIC is set"),
        "[{mode:?}] {line}"
    );
    let path = line
        .rsplit_once("please report it with ")
        .map(|(_, p)| std::path::PathBuf::from(p))
        .unwrap_or_else(|| panic!("[{mode:?}] no report path in {line}"));
    assert!(
        path.starts_with(env.runroot_dir().join("bug-reports")),
        "[{mode:?}] report {} not under the run root",
        path.display()
    );
    let report = std::fs::read_to_string(&path).unwrap();
    assert!(report.contains("CORACLE_TEST_PANIC is set"), "{report}");
    assert!(report.contains("backtrace:"), "{report}");
    assert!(report.contains("\"images\""), "the command line: {report}");
}
