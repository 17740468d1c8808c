//! Man pages and completions: `contrib/install.sh` into a staging
//! directory puts a page per command where `man coracle-run` finds it,
//! pages that render without warnings and carry the flags, examples, exit
//! status and files; `coracle completion` scripts that the shells load and
//! that complete coracle's verbs and flags.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// Copy contrib/install.sh (and the unit it installs) where the test's
/// user can read it; returns its path.
fn installer(env: &TestEnv) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib");
    let dest = env.home.join("contrib");
    for f in ["install.sh", "systemd/coracle-restart.service"] {
        let data = std::fs::read(src.join(f)).unwrap();
        env.write_user_file(&dest.join(f), &data);
    }
    dest.join("install.sh")
}

/// Install with DESTDIR into the test's home; returns the staged prefix.
fn install(env: &mut TestEnv) -> PathBuf {
    let script = installer(env);
    let stage = env.home.join("stage");
    env.set_env("DESTDIR", stage.to_str().unwrap());
    env.set_env("PREFIX", "/usr");
    let bin = coracle_bin();
    let out = env.run_program("sh", &[script.to_str().unwrap(), bin.to_str().unwrap()]);
    assert_eq!(out.status, 0, "[{:?}] install.sh: {out:?}", env.mode);
    stage.join("usr")
}

/// `man` reading pages from `manpath` only, rendered as plain text.
fn man(env: &TestEnv, manpath: &Path, args: &[&str]) -> Out {
    let mut all = vec![
        "MANPATH=".to_string() + manpath.to_str().unwrap(),
        "MANWIDTH=200".into(),
        "man".into(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut out = env.run_program("env", &refs);
    // bold and underline are overstrikes: keep the last character of each
    let mut plain = String::new();
    for c in out.stdout.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    out.stdout = plain;
    out
}

fn visible_verbs(env: &TestEnv) -> Vec<String> {
    let help = env.ok(&["--help"]);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|v| v != "help")
        .collect()
}

both_modes!(install_puts_man_pages_in_place);
fn install_puts_man_pages_in_place(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let prefix = install(&mut env);
    assert!(prefix.join("bin/coracle").is_file(), "[{mode:?}]");
    let manpath = prefix.join("share/man");
    let man1 = manpath.join("man1");
    // a page per verb, and one per subcommand of a group
    for verb in visible_verbs(&env) {
        assert!(
            man1.join(format!("coracle-{verb}.1")).is_file(),
            "[{mode:?}] no page for {verb}"
        );
    }
    for page in [
        "coracle",
        "coracle-secret-create",
        "coracle-container-run",
        "coracle-volume-ls",
        "coracle-image-pull",
    ] {
        assert!(
            man1.join(format!("{page}.1")).is_file(),
            "[{mode:?}] no page {page}"
        );
    }

    // man finds and renders a page by name, with its flags and prose
    let out = man(&env, &manpath, &["coracle-run"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    for needle in [
        "coracle-run - Run a command in a new container",
        "SYNOPSIS",
        "--secret",
        "--publish",
        "EXAMPLES",
        "EXIT STATUS",
        "127",
        "FILES",
        "/var/lib/coracle",
        "SEE ALSO",
    ] {
        assert!(
            out.stdout.contains(needle),
            "[{mode:?}] `man coracle-run` lacks {needle:?}:\n{}",
            out.stdout
        );
    }
    // global options are on coracle(1), not repeated per page
    assert!(!out.stdout.contains("--runroot <PATH>"), "[{mode:?}]");
    let out = man(&env, &manpath, &["coracle"]);
    assert!(
        out.stdout.contains("--runroot") && out.stdout.contains("daemonless"),
        "[{mode:?}] {out:?}"
    );
    let out = man(&env, &manpath, &["coracle-secret-inspect"]);
    assert!(out.stdout.contains("--showsecret"), "[{mode:?}] {out:?}");
    let out = man(&env, &manpath, &["coracle-volume-exists"]);
    assert!(
        out.stdout.contains("The object does not exist"),
        "[{mode:?}] {out:?}"
    );

    // every page renders without a groff warning
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    assert!(pages.len() > 100, "[{mode:?}] only {} pages", pages.len());
    for p in pages.iter().filter(|p| {
        let n = p.file_name().unwrap().to_string_lossy();
        n.starts_with("coracle-secret")
            || n == "coracle-run.1"
            || n == "coracle-ps.1"
            || n == "coracle-completion.1"
    }) {
        let out = man(&env, &manpath, &["--warnings", "-l", p.to_str().unwrap()]);
        assert_eq!(out.status, 0, "[{mode:?}] {}: {out:?}", p.display());
        assert!(
            out.stderr.trim().is_empty(),
            "[{mode:?}] {} warns: {}",
            p.display(),
            out.stderr
        );
    }
}

both_modes!(completion_scripts_load_and_complete);
fn completion_scripts_load_and_complete(mode: Mode) {
    let mut env = TestEnv::new(mode);
    // bash: the installed script registers the function, which completes
    let prefix = install(&mut env);
    let bash = prefix.join("share/bash-completion/completions/coracle");
    let script = format!(
        "source {}; complete -p coracle; COMP_WORDS=(coracle secret cr); COMP_CWORD=2; _coracle coracle cr secret; echo \"words: ${{COMPREPLY[*]}}\"; COMP_WORDS=(coracle run --secr); COMP_CWORD=2; _coracle coracle --secr run; echo \"flags: ${{COMPREPLY[*]}}\"",
        bash.display()
    );
    let out = env.run_program("bash", &["-c", &script]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        out.stdout.contains("-F _coracle coracle\n"),
        "[{mode:?}] {out:?}"
    );
    assert!(out.stdout.contains("words: create"), "[{mode:?}] {out:?}");
    assert!(out.stdout.contains("flags: --secret"), "[{mode:?}] {out:?}");

    // the verb prints the same script; -f writes it to a file
    assert_eq!(
        env.ok(&["completion", "bash"]),
        std::fs::read_to_string(&bash).unwrap(),
        "[{mode:?}]"
    );
    let file = env.home.join("c.fish");
    let out = env.run(&["completion", "--file", file.to_str().unwrap(), "fish"]);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, ""),
        "[{mode:?}] {out:?}"
    );
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("complete -c coracle"),
        "[{mode:?}]"
    );
    // --no-desc leaves the descriptions out
    let with = env.ok(&["completion", "fish"]);
    let without = env.ok(&["completion", "--no-desc", "fish"]);
    assert!(with.contains("Create a new secret"), "[{mode:?}]");
    assert!(
        !without.contains("Create a new secret") && without.contains("create"),
        "[{mode:?}]"
    );
    assert!(
        env.ok(&["completion", "powershell"])
            .contains("Register-ArgumentCompleter"),
        "[{mode:?}]"
    );
    assert_refused(&env, &["completion", "tcsh"], "tcsh");

    // zsh: the script parses; fish: it loads and completes subcommands
    let zsh = prefix.join("share/zsh/site-functions/_coracle");
    let out = env.run_program("zsh", &["-n", zsh.to_str().unwrap()]);
    assert_eq!(out.status, 0, "[{mode:?}] zsh -n: {out:?}");
    let fish = prefix.join("share/fish/vendor_completions.d/coracle.fish");
    let out = env.run_program(
        "fish",
        &[
            "-c",
            &format!("source {}; complete -C 'coracle secret '", fish.display()),
        ],
    );
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    for sub in ["create", "ls", "inspect", "rm", "exists"] {
        assert!(
            out.stdout.lines().any(|l| l.starts_with(sub)),
            "[{mode:?}] fish offers no {sub}: {out:?}"
        );
    }
}
