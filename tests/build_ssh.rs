//! `build --ssh` and `RUN --mount=type=ssh`, as root and rootless: a real
//! ssh-agent holding a generated key is reached from inside RUN steps (the
//! host's `ssh-add`, run there with its own libraries, lists the key), key
//! files get an agent of their own, the sockets leave no trace in the
//! image or the store, the cache does not depend on which agent served,
//! and the errors are one line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;

const COMMENT: &str = "coracle-ssh-test-key";

/// An `ssh-agent` run as the test's user, killed with its process group.
struct Agent {
    child: Child,
    socket: PathBuf,
}

impl Agent {
    fn start(env: &TestEnv, socket: &Path) -> Agent {
        let child = env
            .program_command("ssh-agent", &["-D", "-a", socket.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent (openssh-client) is installed");
        let started = Instant::now();
        while !socket_accepts(socket) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "ssh-agent did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Agent {
            child,
            socket: socket.to_path_buf(),
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SAFETY: the agent's own process group (the harness makes one).
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A generated ed25519 key (no passphrase) the test's user owns.
fn make_key(env: &TestEnv) -> PathBuf {
    let key = env.user_dir("ssh").join("id_test");
    let out = env.run_program(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            COMMENT,
            "-f",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status, 0, "ssh-keygen: {out:?}");
    key
}

/// The host's `ssh-add` with its loader and libraries, to run in busybox.
fn copy_ssh_add(dir: &Path) {
    mkdir_mode(dir, 0o755);
    let ldd = std::process::Command::new("ldd")
        .arg("/usr/bin/ssh-add")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&ldd.stdout).into_owned();
    let mut files = vec!["/usr/bin/ssh-add".to_string()];
    for word in listing.split_whitespace() {
        if word.starts_with('/') {
            files.push(word.to_string());
        }
    }
    let mut loader = None;
    for f in &files {
        let name = Path::new(f)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        std::fs::copy(f, dir.join(&name)).unwrap();
        if name.starts_with("ld-linux") {
            loader = Some(name);
        }
    }
    // One name for the loader whatever the architecture calls it.
    let loader = loader.expect("ssh-add is dynamically linked");
    std::fs::copy(dir.join(&loader), dir.join("ld.so")).unwrap();
}

/// The step's command that lists the agent's keys into `out`.
fn list_keys(out: &str) -> String {
    format!("/tools/ld.so --library-path /tools /tools/ssh-add -l > {out}")
}

fn context(env: &TestEnv, name: &str, containerfile: &str) -> PathBuf {
    let dir = env.dir.join(name);
    mkdir_mode(&dir, 0o755);
    std::fs::write(
        dir.join("Containerfile"),
        containerfile.replace("{BASE}", &env.rt_image()),
    )
    .unwrap();
    dir
}

fn build(env: &TestEnv, args: &[&str]) -> String {
    let out = env.ok(args);
    let id = out.lines().last().unwrap_or("").to_string();
    assert!(is_hex(&id, 64), "[{:?}] no image id: {out}", env.mode);
    id
}

fn cat(env: &TestEnv, img: &str, path: &str) -> String {
    env.sh(img, &[], &format!("cat {path}")).trim().to_string()
}

/// Processes of the test's user running an agent coracle started.
fn coracle_agents(env: &TestEnv) -> Vec<String> {
    let uid = match env.mode {
        Mode::Root => 0,
        Mode::Rootless => test_user().uid,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let p = entry.path();
        let Ok(cmdline) = std::fs::read(p.join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
        let owner = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        if cmdline.starts_with("ssh-agent")
            && cmdline.contains("coracle-ssh-")
            && owner == Some(uid)
        {
            found.push(cmdline);
        }
    }
    found
}

both_modes!(ssh_agents_reach_run_steps_and_leave_no_trace);
fn ssh_agents_reach_run_steps_and_leave_no_trace(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let key = make_key(&env);
    let agent = Agent::start(&env, &env.user_dir("agent").join("sock"));
    env.set_env("SSH_AUTH_SOCK", agent.socket.to_str().unwrap());
    let added = env.run_program("ssh-add", &[key.to_str().unwrap()]);
    assert_eq!(added.status, 0, "[{mode:?}] ssh-add: {added:?}");

    let file = format!(
        "FROM {{BASE}}\n\
         RUN --mount=type=ssh --mount=type=bind,source=tools,target=/tools test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /sockpath && {}\n\
         RUN --mount=type=ssh,id=absent test -z \"$SSH_AUTH_SOCK\" && echo none > /absent\n\
         RUN test -z \"$SSH_AUTH_SOCK\" && echo unset > /later\n\
         RUN mkdir /out && chmod 777 /out\n\
         USER 1000:1000\n\
         RUN --mount=type=ssh,id=keys,target=/run/agent.sock,uid=1000,gid=1000 --mount=type=bind,source=tools,target=/tools stat -c %u:%g:%a /run/agent.sock > /out/owner && SSH_AUTH_SOCK=/run/agent.sock {}\n",
        list_keys("/keys"),
        list_keys("/out/keys"),
    );
    let ctx = context(&env, "ctx", &file);
    copy_ssh_add(&ctx.join("tools"));
    let c = ctx.to_str().unwrap();
    let k = format!("keys={}", key.display());

    // The user's agent by default; a key file gets an agent of the build's.
    let id = build(
        &env,
        &[
            "build", "-q", "--ssh", "default", "--ssh", &k, "-t", "one", c,
        ],
    );
    let keys = cat(&env, "one", "/keys");
    assert!(
        keys.contains(COMMENT) && keys.contains("ED25519"),
        "[{mode:?}] the step did not list the agent's key: {keys:?}"
    );
    assert_eq!(cat(&env, "one", "/sockpath"), "/run/buildkit/ssh_agent.0");
    assert_eq!(cat(&env, "one", "/absent"), "none", "[{mode:?}]");
    assert_eq!(cat(&env, "one", "/later"), "unset", "[{mode:?}]");
    // The step's user owns its socket (the mount's uid/gid, mode 0600).
    assert_eq!(
        cat(&env, "one", "/out/owner"),
        "1000:1000:600",
        "[{mode:?}]"
    );
    let keys = cat(&env, "one", "/out/keys");
    assert!(
        keys.contains(COMMENT),
        "[{mode:?}] key-file agent: {keys:?}"
    );

    // No socket, mount point or variable stays in the image.
    let probe =
        "for p in /run/buildkit /run/agent.sock; do test -e $p && echo $p; done; env | grep SSH_; echo end";
    assert_eq!(env.sh("one", &[], probe).trim(), "end", "[{mode:?}]");
    let v = env.inspect("one");
    assert!(
        !v["Config"]["Env"].to_string().contains("SSH_AUTH_SOCK"),
        "[{mode:?}] {}",
        v["Config"]
    );
    let history = v["History"].to_string();
    assert!(
        !history.contains(agent.socket.to_str().unwrap()) && !history.contains("id_test"),
        "[{mode:?}] {history}"
    );
    // Neither the agent's path nor the key's is anywhere in the store.
    let out = std::process::Command::new("grep")
        .args(["-rlaF", "-e"])
        .arg(agent.socket.to_str().unwrap())
        .args(["-e", "id_test"])
        .arg(env.store_dir())
        .arg(env.runroot_dir())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "[{mode:?}] agent or key path found in {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The agent the build started for the key file is gone with it.
    assert_eq!(coracle_agents(&env), Vec::<String>::new(), "[{mode:?}]");

    // Another agent serving the same ids: the cache is used as is.
    let again = build(
        &env,
        &[
            "build",
            "-q",
            "--ssh",
            &format!("default={}", key.display()),
            "--ssh",
            &k,
            c,
        ],
    );
    assert_eq!(again, id, "[{mode:?}] a different agent missed the cache");
    for verb in [&["image", "build"][..], &["buildx", "build"][..]] {
        let mut args = verb.to_vec();
        args.extend_from_slice(&["-q", "--ssh", "default", "--ssh", &k, c]);
        assert_eq!(build(&env, &args), id, "[{mode:?}] {verb:?}");
    }
    assert_eq!(coracle_agents(&env), Vec::<String>::new(), "[{mode:?}]");
}

both_modes!(ssh_errors_are_one_line_and_change_nothing);
fn ssh_errors_are_one_line_and_change_nothing(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let agent = Agent::start(&env, &env.user_dir("agent").join("sock"));
    let required = context(
        &env,
        "required",
        "FROM {BASE}\nRUN --mount=type=ssh,id=gone,required=true true\n",
    );
    let r = required.to_str().unwrap();
    let before = env.ok(&["images", "-a", "-q", "--no-trunc"]);
    let one_error = |out: &Out, what: &str| {
        assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("Error:"))
            .collect();
        assert_eq!(errors.len(), 1, "[{mode:?}] {}", out.stderr);
        assert!(errors[0].contains(what), "[{mode:?}] {}", out.stderr);
    };

    // A required id no --ssh gave.
    let sock = format!("other={}", agent.socket.display());
    let out = env.run(&["build", "--ssh", &sock, r]);
    one_error(&out, "\"gone\"");
    // `default` with no agent in the environment.
    env.remove_env("SSH_AUTH_SOCK");
    let out = env.run(&["build", "--ssh", "default", r]);
    one_error(&out, "SSH_AUTH_SOCK");
    // A key that is not there; a key file that is no key.
    let missing = format!("k={}", env.dir.join("nokey").display());
    one_error(&env.run(&["build", "--ssh", &missing, r]), "nokey");
    let not_key = env.dir.join("ctx-not-key");
    env.write_user_file(&not_key, b"not a key\n");
    let bad = format!("k={}", not_key.display());
    one_error(&env.run(&["build", "--ssh", &bad, r]), "--ssh k");
    // The global option before another verb is still remote mode's error.
    one_error(&env.run(&["--ssh", "x", "images"]), "remote");
    assert_eq!(
        env.ok(&["images", "-a", "-q", "--no-trunc"]),
        before,
        "[{mode:?}] a failed build left images"
    );
    assert_eq!(coracle_agents(&env), Vec::<String>::new(), "[{mode:?}]");
}
