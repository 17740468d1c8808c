//! `coracle compose`: the tutorial application (a `build: .` busybox httpd
//! web service and a client that finds it by its service name), ordering
//! by `depends_on: service_healthy`, recreation of what changed only,
//! `down` removing what the project made and nothing else, attached `up`
//! stopping everything on SIGTERM, interpolation and `.env`, warnings for
//! unknown keys, errors naming the file and line, and `compose config` on
//! every real-world-shaped file in tests/fixtures/compose/.
//!
//! Root tests share the host's network namespace: each project's default
//! network has its own subnet (10.89.K.0/24) and bridge name.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A project directory of this test, with its name.
struct App<'a> {
    env: &'a TestEnv,
    dir: PathBuf,
}

impl<'a> App<'a> {
    fn new(env: &'a TestEnv, name: &str) -> App<'a> {
        let dir = env.user_dir(name);
        App { env, dir }
    }

    fn write(&self, file: &str, text: &str) {
        self.env
            .write_user_file(&self.dir.join(file), text.as_bytes());
    }

    /// `coracle compose -f DIR/compose.yaml ARGS`
    fn args<'b>(&'b self, file: &'b str, args: &[&'b str]) -> Vec<&'b str> {
        let mut v = vec!["compose", "--project-directory", self.dir.to_str().unwrap()];
        if !file.is_empty() {
            v.extend(["-f", file]);
        }
        v.extend_from_slice(args);
        v
    }

    fn ok(&self, args: &[&str]) -> String {
        self.env.ok(&self.args("", args))
    }

    fn run(&self, args: &[&str]) -> Out {
        self.env.run(&self.args("", args))
    }

    /// The id of a container by name.
    fn id(&self, name: &str) -> String {
        self.env.inspect_container(name)["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// The default network of a root test: its own subnet and bridge.
fn default_network(k: u8) -> String {
    format!(
        "networks:\n  default:\n    driver_opts:\n      com.docker.network.bridge.name: coc{k}p{}\n    ipam:\n      config:\n        - subnet: 10.89.{k}.0/24\n",
        std::process::id() % 100_000
    )
}

fn busybox_ref(env: &TestEnv) -> String {
    let r = busybox().reference();
    env.pull(&r);
    r
}

fn names(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out.split_whitespace().map(String::from).collect();
    v.sort();
    v
}

both_modes!(tutorial_web_and_client_by_service_name);
/// `build: .` for a busybox httpd, a client finding it as `web`; `up -d`,
/// `ps`, `logs`, `exec`, then `down` (volumes kept) and `down -v`: only
/// what the project made goes.
fn tutorial_web_and_client_by_service_name(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let base = busybox_ref(&env);
    let app = App::new(&env, "tutorial");
    app.write(
        "Containerfile",
        &format!(
            "FROM {base}\nRUN mkdir -p /www && echo hello from web > /www/index.html\nCMD [\"busybox\", \"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n"
        ),
    );
    let mark = env.mark();
    app.write(
        "compose.yaml",
        &format!(
            "services:\n  web:\n    build: .\n    environment: [{mark}]\n  client:\n    image: {base}\n    command: sh -c 'echo client is up; sleep 600'\n    environment: [{mark}]\n    depends_on: [web]\n    volumes:\n      - data:/data\nvolumes:\n  data:\n{}",
            default_network(221)
        ),
    );
    // Things that are not the project's, which down must leave alone.
    env.ok(&["volume", "create", "bystander"]);
    env.ok(&["create", "--name", "bystander", &base, "true"]);
    let up = app.run(&["up", "-d"]);
    assert_eq!(up.status, 0, "[{mode:?}] compose up -d: {up:?}");
    for line in [
        "Network tutorial_default  Created",
        "Volume tutorial_data  Created",
        "Container tutorial-web-1  Started",
        "Container tutorial-client-1  Started",
    ] {
        assert!(
            up.stderr.contains(line),
            "[{mode:?}] {line:?} in {}",
            up.stderr
        );
    }
    // ps: docker's names, the service column, both running.
    let ps = app.ok(&["ps"]);
    let rows: Vec<&str> = ps.lines().collect();
    assert!(rows[0].starts_with("NAME"), "{ps}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("tutorial-web-1") && r.contains(" web ") && r.contains("Up")),
        "[{mode:?}] {ps}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("tutorial-client-1") && r.contains(" client ")),
        "[{mode:?}] {ps}"
    );
    assert_eq!(names(&app.ok(&["ps", "--services"])), ["client", "web"]);
    // Labels as docker's.
    let labels = &env.inspect_container("tutorial-web-1")["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.project"], "tutorial");
    assert_eq!(labels["com.docker.compose.service"], "web");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(
        labels["com.docker.compose.config-hash"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    // The client reaches the web service by its name.
    let deadline = Instant::now() + Duration::from_secs(20);
    let got = loop {
        let out = app.run(&["exec", "-T", "client", "wget", "-qO-", "http://web/"]);
        if out.status == 0 || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(got.stdout, "hello from web\n", "[{mode:?}] {got:?}");
    // logs: prefixed by the container's name.
    let logs = app.ok(&["logs", "client"]);
    assert!(
        logs.lines()
            .any(|l| l.starts_with("tutorial-client-1") && l.ends_with("| client is up")),
        "[{mode:?}] {logs:?}"
    );
    // A one-off container: the service's settings, another command, gone after.
    let before = env.all_container_ids().len();
    let one = app.ok(&[
        "run",
        "--rm",
        "-T",
        "client",
        "sh",
        "-c",
        "ls -d /data && echo one-off",
    ]);
    assert_eq!(one, "/data\none-off\n", "[{mode:?}]");
    assert_eq!(
        env.all_container_ids().len(),
        before,
        "[{mode:?}] run --rm left a container"
    );
    // down: containers and network gone, volumes kept; others untouched.
    app.ok(&["down", "-t", "0"]);
    assert!(app.ok(&["ps", "-a", "-q"]).trim().is_empty());
    let nets = env.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains("tutorial_default"), "[{mode:?}] {nets}");
    assert_eq!(
        names(&env.ok(&["volume", "ls", "-q"])),
        ["bystander", "tutorial_data"]
    );
    // down -v takes the project's volumes too, and nothing else.
    app.ok(&["up", "-d"]);
    app.ok(&["down", "-v", "-t", "0"]);
    assert_eq!(names(&env.ok(&["volume", "ls", "-q"])), ["bystander"]);
    assert_eq!(
        names(&env.ok(&["ps", "-a", "--format", "{{.Names}}"])),
        ["bystander"]
    );
    assert_eq!(
        env.ok(&["images", "-q", "localhost/tutorial-web"])
            .lines()
            .count(),
        1
    );
}

/// The container's start time (and whether it is running).
fn started_at(env: &TestEnv, name: &str) -> String {
    env.inspect_container(name)["State"]["StartedAt"]
        .as_str()
        .unwrap()
        .to_string()
}

both_modes!(depends_on_service_healthy_waits);
/// `app` starts only once `db` is healthy (db becomes so after 3 s);
/// `up --wait` returns once everything is healthy.
fn depends_on_service_healthy_waits(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let base = busybox_ref(&env);
    let app = App::new(&env, "health");
    let mark = env.mark();
    app.write(
        "compose.yaml",
        &format!(
            "services:\n  db:\n    image: {base}\n    command: sh -c 'sleep 3; touch /tmp/ready; exec sleep 600'\n    environment: [{mark}]\n    healthcheck:\n      test: [CMD, test, -f, /tmp/ready]\n      interval: 1s\n      retries: 30\n  app:\n    image: {base}\n    command: sleep 600\n    environment: [{mark}]\n    depends_on:\n      db:\n        condition: service_healthy\n{}",
            default_network(222)
        ),
    );
    let t0 = Instant::now();
    app.ok(&["up", "-d", "--wait"]);
    assert!(
        t0.elapsed() >= Duration::from_secs(3),
        "[{mode:?}] up returned before db was healthy"
    );
    let db = env.inspect_container("health-db-1");
    assert_eq!(db["State"]["Health"]["Status"], "healthy", "[{mode:?}]");
    // The app started after db's first healthy check, which came 3 s
    // after db started.
    let log = db["State"]["Health"]["Log"].as_array().unwrap();
    let healthy_at = log
        .iter()
        .find(|e| e["ExitCode"] == 0)
        .map(|e| e["Start"].as_str().unwrap().to_string())
        .expect("a passing check");
    let app_started = started_at(&env, "health-app-1");
    let db_started = started_at(&env, "health-db-1");
    assert!(
        app_started[..19] >= healthy_at[..19] && app_started > db_started,
        "[{mode:?}] app started {app_started}, db started {db_started}, healthy at {healthy_at}"
    );
    app.ok(&["down", "-t", "0"]);
}

both_modes!(changed_service_recreated_unchanged_kept);
/// A second `up` keeps a container whose service did not change, and
/// recreates (same name, new id) the one whose service did; `--scale`
/// adds numbered containers; `--force-recreate` recreates all.
fn changed_service_recreated_unchanged_kept(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let base = busybox_ref(&env);
    let app = App::new(&env, "change");
    let mark = env.mark();
    let file = |greeting: &str| {
        format!(
            "services:\n  a:\n    image: {base}\n    command: sleep 600\n    environment: [{mark}]\n  b:\n    image: {base}\n    command: sleep 600\n    environment: [{mark}, GREETING={greeting}]\n  c:\n    image: {base}\n    command: sleep 600\n    environment: [{mark}]\n    depends_on:\n      b: {{condition: service_started, restart: true}}\n{}",
            default_network(223)
        )
    };
    app.write("compose.yaml", &file("hi"));
    app.ok(&["up", "-d"]);
    let (a1, b1, c1) = (
        app.id("change-a-1"),
        app.id("change-b-1"),
        app.id("change-c-1"),
    );
    let c_started = started_at(&env, "change-c-1");
    let again = app.run(&["up", "-d"]);
    assert_eq!(again.status, 0, "{again:?}");
    assert_eq!(
        (app.id("change-a-1"), app.id("change-b-1")),
        (a1.clone(), b1.clone())
    );
    assert_eq!(
        started_at(&env, "change-c-1"),
        c_started,
        "[{mode:?}] c restarted for nothing"
    );
    app.write("compose.yaml", &file("hello"));
    let out = app.run(&["up", "-d", "-t", "0"]);
    assert!(
        out.stderr.contains("Container change-b-1  Recreate"),
        "[{mode:?}] {}",
        out.stderr
    );
    assert_eq!(
        app.id("change-a-1"),
        a1,
        "[{mode:?}] unchanged a was recreated"
    );
    let b2 = app.id("change-b-1");
    assert_ne!(b2, b1, "[{mode:?}] changed b was kept");
    let env_b = env.inspect_container("change-b-1")["Config"]["Env"].to_string();
    assert!(env_b.contains("GREETING=hello"), "{env_b}");
    assert!(env.inspect_container("change-b-1")["State"]["Running"] == true);
    // c depends on b with `restart: true`: kept, but started again.
    assert_eq!(app.id("change-c-1"), c1, "[{mode:?}] c was recreated");
    assert_ne!(
        started_at(&env, "change-c-1"),
        c_started,
        "[{mode:?}] c was not restarted"
    );
    assert_eq!(
        env.inspect_container("change-c-1")["State"]["Running"],
        true
    );
    // --scale adds a-2 and keeps a-1; back to 1 removes a-2.
    app.ok(&["up", "-d", "--scale", "a=2"]);
    assert_eq!(app.id("change-a-1"), a1);
    assert_eq!(
        env.inspect_container("change-a-2")["Config"]["Labels"]
            ["com.docker.compose.container-number"],
        "2"
    );
    app.ok(&["up", "-d", "-t", "0"]);
    assert!(
        env.run(&["inspect", "change-a-2"]).status != 0,
        "[{mode:?}] a-2 kept after scaling down"
    );
    app.ok(&["up", "-d", "--force-recreate", "-t", "0"]);
    assert_ne!(app.id("change-a-1"), a1);
    // stop, start, restart and kill act on the services' containers.
    app.ok(&["stop", "-t", "0", "a"]);
    assert_eq!(
        env.inspect_container("change-a-1")["State"]["Running"],
        false
    );
    assert_eq!(
        env.inspect_container("change-b-1")["State"]["Running"],
        true
    );
    app.ok(&["start", "a"]);
    assert_eq!(
        env.inspect_container("change-a-1")["State"]["Running"],
        true
    );
    app.ok(&["kill", "b"]);
    env.ok(&["wait", "change-b-1"]);
    assert_eq!(
        env.inspect_container("change-b-1")["State"]["Running"],
        false
    );
    app.ok(&["rm", "-f", "b"]);
    assert!(env.run(&["inspect", "change-b-1"]).status != 0);
    app.ok(&["down", "-t", "0"]);
}

both_modes!(attached_up_streams_and_stops_all_on_sigterm);
/// `up` without `-d` prints every service's output prefixed with its
/// container's name, and SIGTERM stops every container.
fn attached_up_streams_and_stops_all_on_sigterm(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let base = busybox_ref(&env);
    let app = App::new(&env, "attached");
    let mark = env.mark();
    app.write(
        "compose.yaml",
        &format!(
            "services:\n  one:\n    image: {base}\n    command: sh -c 'echo one says hi; exec sleep 600'\n    environment: [{mark}]\n    stop_grace_period: 1s\n  two:\n    image: {base}\n    command: sh -c 'echo two says hi; exec sleep 600'\n    environment: [{mark}]\n    stop_grace_period: 1s\n{}",
            default_network(224)
        ),
    );
    let args = app.args("", &["up"]);
    let (mut child, lines) = env.spawn_lines(&args);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 2 && Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("[{mode:?}] attached up ended early ({st}) after {seen:?}");
        }
        if let Ok(l) = lines.recv_timeout(Duration::from_secs(1)) {
            if l.contains("says hi") {
                seen.push(l);
            }
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "attached-one-1  | one says hi",
            "attached-two-1  | two says hi"
        ],
        "[{mode:?}]"
    );
    // To coracle itself (rootless, `runuser` runs it as a child).
    let pid = coracle_pid(mode, child.id() as i32);
    // SAFETY: a signal to the compose process this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "[{mode:?}] attached up did not end"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(143), "[{mode:?}]");
    for c in ["attached-one-1", "attached-two-1"] {
        assert_eq!(
            env.inspect_container(c)["State"]["Running"],
            false,
            "[{mode:?}] {c}"
        );
    }
    app.ok(&["down"]);
}

/// `compose config --format json` of the project, parsed.
fn config_json(app: &App) -> Value {
    serde_json::from_str(&app.ok(&["config", "--format", "json"])).unwrap()
}

both_modes!(interpolation_and_dotenv);
/// `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `$$`, `.env` under the environment,
/// `--env-file`, and `${VAR:?msg}` failing with the message.
fn interpolation_and_dotenv(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let app = App::new(&env, "vars");
    app.write(
        "compose.yaml",
        "name: ${PROJECT:-fromdefault}\nservices:\n  web:\n    image: \"busybox:${TAG}\"\n    environment:\n      A: ${FROM_ENV}\n      B: ${UNSET:-dflt}\n      C: ${EMPTY-kept}\n      D: $$HOME\n      E: ${EMPTY:-was-empty}\n    ports: [\"${PORT:-8080}:80\"]\n",
    );
    app.write(
        ".env",
        "TAG=1.36\nFROM_ENV=from-dotenv\nEMPTY=\nPORT=9999\n",
    );
    app.write("other.env", "TAG=other\n");
    let v = config_json(&app);
    assert_eq!(v["name"], "fromdefault");
    let web = &v["services"]["web"];
    assert_eq!(web["image"], "busybox:1.36");
    assert_eq!(web["environment"]["A"], "from-dotenv");
    assert_eq!(web["environment"]["B"], "dflt");
    assert_eq!(web["environment"]["C"], "");
    assert_eq!(web["environment"]["D"], "$HOME");
    assert_eq!(web["environment"]["E"], "was-empty");
    assert_eq!(web["ports"][0]["published"], "9999");
    // --env-file replaces .env.
    let other = app.dir.join("other.env");
    let out = env.ok(&app.args(
        "",
        &["--env-file", other.to_str().unwrap(), "config", "--images"],
    ));
    assert_eq!(out, "busybox:other\n");
    // The environment wins over .env.
    let dir = app.dir.clone();
    env.set_env("FROM_ENV", "from-shell");
    env.set_env("PROJECT", "shellproject");
    let app = App { env: &env, dir };
    let v = config_json(&app);
    assert_eq!(v["services"]["web"]["environment"]["A"], "from-shell");
    assert_eq!(v["name"], "shellproject");
    // A required variable missing: one error with its message.
    app.write(
        "compose.yaml",
        "services:\n  web:\n    image: \"busybox:${NOPE:?set NOPE please}\"\n",
    );
    let out = app.run(&["config"]);
    assert_error(mode, "config", &out, 125, &["NOPE", "set NOPE please"]);
}

both_modes!(unknown_key_warns_and_bad_files_fail_with_file_and_line);
/// An unknown key is a warning naming it (extensions `x-` are not); a
/// malformed file is one error naming the file and line; a bad project
/// is refused before anything is made.
fn unknown_key_warns_and_bad_files_fail_with_file_and_line(mode: Mode) {
    let env = TestEnv::new(mode);
    let app = App::new(&env, "warns");
    app.write(
        "compose.yaml",
        "x-shared: &shared {restart: always}\nservices:\n  web:\n    <<: *shared\n    image: busybox\n    flavour: vanilla\n    x-mine: ignored\n",
    );
    let out = app.run(&["config"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        out.stderr.contains("services.web: unknown key \"flavour\""),
        "[{mode:?}] {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("x-mine") && !out.stderr.contains("x-shared"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("restart: always"),
        "anchors and <<: apply: {}",
        out.stdout
    );

    let file = app.dir.join("compose.yaml");
    app.write(
        "compose.yaml",
        "services:\n  web:\n    image: busybox\n   ports: [80]\n",
    );
    let out = app.run(&["config"]);
    assert_error(
        mode,
        "config",
        &out,
        125,
        &[file.to_str().unwrap(), "line 4"],
    );

    // Refused with the store unchanged: an undefined dependency, a bad name.
    let base = busybox_ref(&env);
    app.write(
        "compose.yaml",
        &format!("services:\n  web:\n    image: {base}\n    depends_on: [db]\n"),
    );
    let nets = env.ok(&["network", "ls", "-q"]);
    assert_refused(
        &env,
        &app.args("", &["up", "-d"]),
        "depends on undefined service \"db\"",
    );
    app.write(
        "compose.yaml",
        &format!("services:\n  web:\n    image: {base}\n"),
    );
    assert_refused(
        &env,
        &app.args("", &["-p", "Bad Name", "up", "-d"]),
        "invalid project name",
    );
    assert_refused(
        &env,
        &app.args("", &["up", "-d", "nosuch"]),
        "no such service: nosuch",
    );
    assert_eq!(env.ok(&["network", "ls", "-q"]), nets);
}

/// Copy a directory tree where the command's user can read it.
fn copy_tree(env: &TestEnv, from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(env, &p, &dest);
        } else {
            env.write_user_file(&dest, &std::fs::read(&p).unwrap());
        }
    }
}

both_modes!(config_parses_every_fixture);
/// Every compose file of tests/fixtures/compose/ parses; merging,
/// profiles, extends and include come out as docker resolves them.
fn config_parses_every_fixture(mode: Mode) {
    let env = TestEnv::new(mode);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose");
    let root = env.user_dir("fixtures");
    copy_tree(&env, &src, &root);
    let mut count = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let d = dir.to_str().unwrap();
        let out = env.run(&[
            "compose",
            "--project-directory",
            d,
            "config",
            "--format",
            "json",
        ]);
        assert_eq!(out.status, 0, "[{mode:?}] {d}: {}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert!(
            v["services"].as_object().is_some_and(|s| !s.is_empty()),
            "{d}: {v}"
        );
        count += 1;
    }
    assert!(count >= 12, "only {count} fixtures");
    let config = |dir: &str, extra: &[&str]| {
        let d = root.join(dir);
        let mut args = vec!["compose", "--project-directory", d.to_str().unwrap()];
        args.extend_from_slice(extra);
        env.ok(&args)
    };
    // compose.override.yaml merged over compose.yaml.
    let v: Value =
        serde_json::from_str(&config("override", &["config", "--format", "json"])).unwrap();
    let web = &v["services"]["web"];
    assert_eq!(web["environment"]["MODE"], "dev");
    assert_eq!(web["environment"]["DEBUG"], "1");
    assert_eq!(web["ports"].as_array().unwrap().len(), 2);
    // Profiles.
    assert_eq!(config("profiles", &["config", "--services"]), "app\n");
    assert_eq!(
        names(&config(
            "profiles",
            &["--profile", "debug", "config", "--services"]
        )),
        ["app", "debug", "mail"]
    );
    assert_eq!(
        config("profiles", &["config", "--profiles"]),
        "debug\ndev\n"
    );
    // extends (same file and another), anchors and include.
    let v: Value =
        serde_json::from_str(&config("extends-anchors", &["config", "--format", "json"])).unwrap();
    assert_eq!(v["services"]["api"]["environment"]["TZ"], "UTC");
    assert_eq!(v["services"]["api"]["environment"]["ROLE"], "api");
    assert_eq!(v["services"]["worker"]["environment"]["JOB"], "yes");
    assert_eq!(v["services"]["worker"]["restart"], "on-failure:3");
    assert_eq!(
        names(&config("include", &["config", "--services"])),
        ["app", "cache"]
    );
    // The project name: `name:` in the file, else the directory's.
    assert_eq!(
        serde_json::from_str::<Value>(&config(
            "prometheus-grafana",
            &["config", "--format", "json"]
        ))
        .unwrap()["name"],
        "monitoring"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&config("gitea", &["config", "--format", "json"])).unwrap()
            ["networks"]["gitea"]["name"],
        "gitea_gitea"
    );
}

both_modes!(up_abort_on_container_exit_and_exit_code_from);
/// Attached `up --abort-on-container-exit` stops everything once a
/// container exits and returns its code; `--exit-code-from` returns the
/// named service's; only the services named are attached unless
/// `--attach-dependencies`; `--no-log-prefix` prints bare lines.
fn up_abort_on_container_exit_and_exit_code_from(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let base = busybox_ref(&env);
    let app = App::new(&env, "abort");
    let mark = env.mark();
    app.write(
        "compose.yaml",
        &format!(
            "services:\n  long:\n    image: {base}\n    command: sh -c 'echo long is up; exec sleep 600'\n    environment: [{mark}]\n    stop_signal: SIGKILL\n  quick:\n    image: {base}\n    command: sh -c 'sleep 2; echo quick is done; exit 3'\n    environment: [{mark}]\n    depends_on: [long]\n{}",
            default_network(225)
        ),
    );
    let running = |c: &str| env.inspect_container(c)["State"]["Running"] == true;
    let out = app.run(&["up", "--abort-on-container-exit"]);
    assert_eq!(out.status, 3, "[{mode:?}] {out:?}");
    // Prefixes are padded to the longest name.
    let long_line = |out: &str| {
        out.lines()
            .any(|l| l.starts_with("abort-long-1 ") && l.ends_with("| long is up"))
    };
    assert!(
        out.stdout.contains("abort-quick-1  | quick is done") && long_line(&out.stdout),
        "[{mode:?}] {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("Aborting on container exit"),
        "{}",
        out.stderr
    );
    assert!(!running("abort-long-1"), "[{mode:?}] long still runs");

    // The code of the service asked for: long's, killed by the abort.
    let out = app.run(&["up", "--exit-code-from", "long"]);
    let long_code = env.inspect_container("abort-long-1")["State"]["ExitCode"]
        .as_i64()
        .unwrap();
    assert_eq!(long_code, 137, "[{mode:?}] {out:?}");
    assert_eq!(out.status, 137, "[{mode:?}] {out:?}");
    let out = app.run(&["up", "--exit-code-from", "quick"]);
    assert_eq!(out.status, 3, "[{mode:?}] {out:?}");

    // Only quick is attached when named; its dependency too on request.
    let out = app.run(&[
        "up",
        "--abort-on-container-exit",
        "--no-log-prefix",
        "quick",
    ]);
    assert_eq!(out.status, 3, "[{mode:?}] {out:?}");
    assert!(
        out.stdout.lines().any(|l| l == "quick is done"),
        "[{mode:?}] {}",
        out.stdout
    );
    assert!(!out.stdout.contains("long is up"), "{}", out.stdout);
    assert!(!running("abort-long-1"), "[{mode:?}] long still runs");
    let out = app.run(&[
        "up",
        "--abort-on-container-exit",
        "--attach-dependencies",
        "quick",
    ]);
    assert_eq!(out.status, 3, "[{mode:?}] {out:?}");
    assert!(long_line(&out.stdout), "[{mode:?}] {}", out.stdout);

    assert_refused(
        &env,
        &app.args("", &["up", "--exit-code-from", "nosuch"]),
        "no such service: nosuch",
    );
    let out = app.run(&["up", "-d", "--abort-on-container-exit"]);
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
    app.ok(&["down", "-t", "0"]);
}

both_modes!(up_recreate_flags_and_anonymous_volumes);
/// `--no-start` creates only; a recreated container keeps its
/// predecessor's anonymous volumes unless `-V`; `--always-recreate-deps`
/// recreates what the named service depends on; `--no-recreate` keeps a
/// changed service's container; `--remove-orphans` removes a service's
/// containers that left the file.
fn up_recreate_flags_and_anonymous_volumes(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let base = busybox_ref(&env);
    let app = App::new(&env, "flags");
    let mark = env.mark();
    let file = |greeting: &str, with_web: bool| {
        let web = match with_web {
            true => format!("  web:\n    image: {base}\n    command: sleep 600\n    stop_signal: SIGKILL\n    environment: [{mark}, GREETING={greeting}]\n    depends_on: [db]\n"),
            false => String::new(),
        };
        format!(
            "services:\n  db:\n    image: {base}\n    command: sleep 600\n    stop_signal: SIGKILL\n    environment: [{mark}]\n    volumes:\n      - /data\n{web}{}",
            default_network(226)
        )
    };
    app.write("compose.yaml", &file("hi", true));
    app.ok(&["up", "-d", "--no-start"]);
    for c in ["flags-db-1", "flags-web-1"] {
        assert_eq!(
            env.inspect_container(c)["State"]["Status"],
            "created",
            "[{mode:?}] {c}"
        );
    }
    app.ok(&["up", "-d"]);
    assert_eq!(
        env.inspect_container("flags-web-1")["State"]["Running"],
        true
    );
    app.ok(&["exec", "-T", "db", "sh", "-c", "echo kept > /data/f"]);
    let cat = |env: &TestEnv| env.run(&["exec", "flags-db-1", "cat", "/data/f"]);
    let db1 = app.id("flags-db-1");
    app.ok(&["up", "-d", "--force-recreate", "db"]);
    let db2 = app.id("flags-db-1");
    assert_ne!(db1, db2, "[{mode:?}] not recreated");
    assert_eq!(
        cat(&env).stdout,
        "kept\n",
        "[{mode:?}] the anonymous volume was not carried over"
    );
    app.ok(&["up", "-d", "--force-recreate", "-V", "db"]);
    assert_ne!(app.id("flags-db-1"), db2);
    assert_ne!(
        cat(&env).status,
        0,
        "[{mode:?}] -V kept the old anonymous volume"
    );

    let (db3, web1) = (app.id("flags-db-1"), app.id("flags-web-1"));
    app.ok(&["up", "-d", "--always-recreate-deps", "web"]);
    assert_ne!(app.id("flags-db-1"), db3, "[{mode:?}] db not recreated");
    assert_eq!(app.id("flags-web-1"), web1, "[{mode:?}] web recreated");

    app.write("compose.yaml", &file("hello", true));
    app.ok(&["up", "-d", "--no-recreate"]);
    assert_eq!(app.id("flags-web-1"), web1, "[{mode:?}] web recreated");
    let env_web = env.inspect_container("flags-web-1")["Config"]["Env"].to_string();
    assert!(env_web.contains("GREETING=hi"), "{env_web}");
    assert_refused(
        &env,
        &app.args("", &["up", "-d", "--no-recreate", "--always-recreate-deps"]),
        "cannot be used with",
    );

    app.write("compose.yaml", &file("hello", false));
    let out = app.run(&["up", "-d"]);
    assert!(
        out.stderr.contains("Found orphan containers (flags-web-1)"),
        "[{mode:?}] {}",
        out.stderr
    );
    assert_eq!(app.id("flags-web-1"), web1);
    app.ok(&["up", "-d", "--remove-orphans"]);
    assert!(
        env.run(&["inspect", "flags-web-1"]).status != 0,
        "[{mode:?}] orphan kept"
    );
    app.ok(&["down", "-v", "-t", "0"]);
}

both_modes!(up_pull_policies_quiet_pull_and_wait_timeout);
/// `--pull never` refuses a missing image; `--quiet-pull` pulls without
/// progress lines (a plain `up` prints them); `--no-build` does not build;
/// `--wait --wait-timeout` gives up on a service that never gets healthy.
fn up_pull_policies_quiet_pull_and_wait_timeout(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let base = busybox().reference();
    let app = App::new(&env, "pulls");
    let mark = env.mark();
    let file = |extra: &str| {
        format!(
            "services:\n  one:\n    image: {base}\n    command: sleep 600\n    stop_signal: SIGKILL\n    environment: [{mark}]\n{extra}{}",
            default_network(227)
        )
    };
    app.write("compose.yaml", &file(""));
    let out = app.run(&["up", "-d", "--pull", "never"]);
    assert_ne!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(out.stderr.contains("image not known"), "{}", out.stderr);
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");

    let out = app.run(&["up", "-d", "--quiet-pull"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(!out.stderr.contains("Copying"), "[{mode:?}] {}", out.stderr);
    app.ok(&["down", "-t", "0"]);
    env.ok(&["rmi", &base]);
    let out = app.run(&["up", "-d"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        out.stderr.contains("Copying blob"),
        "[{mode:?}] {}",
        out.stderr
    );
    app.ok(&["down", "-t", "0"]);

    // `build:` without an image: --no-build neither builds nor starts it.
    app.write("Containerfile", &format!("FROM {base}\n"));
    app.write(
        "compose.yaml",
        &format!(
            "services:\n  built:\n    build: .\n    command: sleep 600\n    environment: [{mark}]\n{}",
            default_network(227)
        ),
    );
    let out = app.run(&["up", "-d", "--no-build", "--pull", "never"]);
    assert_ne!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        env.run(&["image", "exists", "localhost/pulls-built"])
            .status
            != 0,
        "[{mode:?}] --no-build built"
    );

    app.write(
        "compose.yaml",
        &file("    healthcheck:\n      test: [CMD, test, -f, /never]\n      interval: 1s\n      retries: 1000\n"),
    );
    let t0 = Instant::now();
    let out = app.run(&["up", "-d", "--wait", "--wait-timeout", "2"]);
    assert_ne!(out.status, 0, "[{mode:?}] {out:?}");
    assert!(
        out.stderr
            .contains("timeout waiting for container pulls-one-1"),
        "[{mode:?}] {}",
        out.stderr
    );
    assert!(t0.elapsed() < Duration::from_secs(30), "[{mode:?}]");
    app.ok(&["down", "-t", "0"]);
}

both_modes!(secrets_and_configs_from_environment_content_and_external);
/// Top-level secrets from a variable (`.env` here), configs from inline
/// content, an external secret from the store; the long syntax's target,
/// uid, gid and mode. The variable's value is never printed by `config`
/// nor kept in the container's record; `down` removes what `up` stored.
fn secrets_and_configs_from_environment_content_and_external(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let base = busybox_ref(&env);
    let app = App::new(&env, "secrets");
    let mark = env.mark();
    let value = format!("s3cr3t-{}", std::process::id());
    app.write(".env", &format!("TOKEN={value}\nWHO=world\n"));
    app.write(
        "compose.yaml",
        &format!(
            "services:\n  app:\n    image: {base}\n    command: sleep 600\n    stop_signal: SIGKILL\n    environment: [{mark}]\n    secrets:\n      - token\n      - source: ext\n        target: /etc/ext.txt\n        mode: 0400\n    configs:\n      - source: motd\n        target: /etc/motd\n        uid: '123'\n        gid: '456'\n        mode: 0440\n      - greeting\nsecrets:\n  token:\n    environment: TOKEN\n  ext:\n    external: true\n    name: cotest-ext\nconfigs:\n  motd:\n    content: |\n      hello ${{WHO}}\n  greeting:\n    environment: WHO\n{}",
            default_network(228)
        ),
    );
    let config = app.ok(&["config"]);
    assert!(!config.contains(&value), "[{mode:?}] {config}");
    assert!(config.contains("environment: TOKEN"), "{config}");
    assert!(config.contains("hello world"), "{config}");

    assert_refused(
        &env,
        &app.args("", &["up", "-d"]),
        "external secret \"cotest-ext\" not found",
    );
    let ext = app.dir.join("ext.txt");
    app.write("ext.txt", "from the store\n");
    env.ok(&["secret", "create", "cotest-ext", ext.to_str().unwrap()]);
    app.ok(&["up", "-d"]);
    let sh = |script: &str| app.ok(&["exec", "-T", "app", "sh", "-c", script]);
    assert_eq!(sh("cat /run/secrets/token"), value, "[{mode:?}]");
    assert_eq!(sh("cat /etc/ext.txt"), "from the store\n");
    assert_eq!(sh("cat /etc/motd"), "hello world\n");
    assert_eq!(sh("cat /greeting"), "world");
    assert_eq!(
        sh("stat -c '%u %g %a' /etc/motd /etc/ext.txt"),
        "123 456 440\n0 0 400\n",
        "[{mode:?}]"
    );
    let inspect = env.ok(&["inspect", "secrets-app-1"]);
    assert!(!inspect.contains(&value), "[{mode:?}] in inspect");
    let records = env.store_dir().join("containers");
    let grep = std::process::Command::new("grep")
        .args(["-rl", "--include=*.json", &value])
        .arg(&records)
        .output()
        .unwrap();
    assert!(
        grep.stdout.is_empty(),
        "[{mode:?}] the value is in {}",
        String::from_utf8_lossy(&grep.stdout)
    );
    let stored = env.ok(&["secret", "ls", "--format", "{{.Name}}"]);
    assert!(
        stored.contains("secrets_secret_token") && stored.contains("secrets_config_motd"),
        "{stored}"
    );
    app.ok(&["down", "-t", "0"]);
    assert_eq!(
        env.ok(&["secret", "ls", "--format", "{{.Name}}"]),
        "cotest-ext\n",
        "[{mode:?}] down left stored files, or removed the external one"
    );

    // A variable that is not set, and a source of two kinds: refused.
    app.write(
        "compose.yaml",
        &format!("services:\n  app:\n    image: {base}\n    secrets: [t]\nsecrets:\n  t:\n    environment: NOT_SET_ANYWHERE\n"),
    );
    assert_refused(
        &env,
        &app.args("", &["up", "-d"]),
        "secrets.t: environment variable \"NOT_SET_ANYWHERE\" is not set",
    );
    app.write(
        "compose.yaml",
        &format!("services:\n  app:\n    image: {base}\nsecrets:\n  t:\n    environment: WHO\n    file: ./x\n"),
    );
    assert_refused(
        &env,
        &app.args("", &["config"]),
        "secrets.t: takes only one of file, environment or external",
    );
}
