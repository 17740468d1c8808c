//! Volume plugins, as root and rootless: a real plugin (a small Python
//! server of the Docker volume plugin protocol, tests/fixtures/
//! volume_plugin.py) named in containers.conf `[engine.volume_plugins]`.
//! Volumes made, listed, inspected, mounted by containers and removed
//! through it; `volume reload`; refusals that leave the store alone.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::chown;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PLUGIN: &str = include_str!("fixtures/volume_plugin.py");

/// The plugin, run as the user coracle runs as; killed on drop.
struct Plugin {
    child: Child,
    socket: PathBuf,
    /// Where its volumes are: one directory each.
    data: PathBuf,
    log: PathBuf,
}

impl Plugin {
    fn start(env: &mut TestEnv) -> Plugin {
        let dir = env.dir.join("plugin");
        mkdir_mode(&dir, 0o755);
        let script = dir.join("volume_plugin.py");
        std::fs::write(&script, PLUGIN).unwrap();
        let (socket, data, log) = (dir.join("p.sock"), dir.join("vols"), dir.join("calls"));
        std::fs::write(&log, "").unwrap();
        if env.mode == Mode::Rootless {
            let u = test_user();
            chown(&dir, Some(u.uid), Some(u.gid)).unwrap();
            chown(&log, Some(u.uid), Some(u.gid)).unwrap();
        }
        let args = [&script, &socket, &data, &log].map(|p| p.to_str().unwrap().to_string());
        let mut cmd = match env.mode {
            Mode::Root => Command::new("/usr/bin/python3"),
            Mode::Rootless => {
                let mut c = Command::new("runuser");
                c.args(["-u", "cotest", "--", "/usr/bin/python3"]);
                c
            }
        };
        // Its complaints (and runuser's when it is stopped) in a file.
        let errors = std::fs::File::create(dir.join("stderr")).unwrap();
        let child = cmd
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(errors)
            .spawn()
            .expect("starting the test volume plugin");
        assert!(
            wait_for(Duration::from_secs(10), || socket_accepts(&socket)),
            "[{:?}] the test volume plugin made no socket",
            env.mode
        );
        let conf = env.home.join("containers.conf");
        let text = format!(
            "[engine.volume_plugins]\ntestplug = \"{}\"\nghost = \"{}\"\n",
            socket.display(),
            dir.join("nobody-listens.sock").display()
        );
        env.write_user_file(&conf, text.as_bytes());
        env.set_env("CONTAINERS_CONF", conf.to_str().unwrap());
        Plugin {
            child,
            socket,
            data,
            log,
        }
    }

    /// The calls made so far, a line each.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn called(&self, line: &str) -> bool {
        self.calls().iter().any(|l| l == line)
    }

    fn stop(&mut self) {
        // runuser passes the signal on to the plugin.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn volume_names(env: &TestEnv) -> Vec<String> {
    env.ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect()
}

both_modes!(plugin_volume_lifecycle);
fn plugin_volume_lifecycle(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let plugin = Plugin::start(&mut env);
    let info = env.ok(&["info", "--format", "{{.Plugins.Volume}}"]);
    assert_eq!(info.trim(), "[local ghost testplug]", "[{mode:?}]");

    let out = env.ok(&[
        "volume", "create", "--driver", "testplug", "-o", "size=1m", "pv",
    ]);
    assert_eq!(out, "pv\n", "[{mode:?}]");
    assert!(
        plugin.data.join("pv").is_dir(),
        "[{mode:?}] {:?}",
        plugin.calls()
    );
    assert!(
        plugin.called("Create pv size=1m"),
        "[{mode:?}] {:?}",
        plugin.calls()
    );

    let ls = env.ok(&["volume", "ls"]);
    assert!(
        ls.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["testplug", "pv"]),
        "[{mode:?}] {ls}"
    );
    let doc: Value = serde_json::from_str(&env.ok(&["volume", "inspect", "pv"])).unwrap();
    let v = &doc[0];
    assert_eq!(v["Driver"], "testplug", "[{mode:?}] {v}");
    assert_eq!(
        v["Mountpoint"].as_str(),
        plugin.data.join("pv").to_str(),
        "[{mode:?}] {v}"
    );
    assert_eq!(v["Status"]["plugin"], "test", "[{mode:?}] {v}");
    assert_eq!(v["Options"]["size"], "1m", "[{mode:?}] {v}");

    // A container writes into it: the file is in the plugin's directory,
    // and the plugin was asked to mount it for that container, then to
    // unmount it when the container ended.
    let mark = env.mark();
    env.ok(&[
        "run",
        "--name",
        "writer",
        "-e",
        &mark,
        "-v",
        "pv:/data",
        &img,
        "sh",
        "-c",
        "echo from-container > /data/f",
    ]);
    let written = std::fs::read_to_string(plugin.data.join("pv/f")).unwrap_or_default();
    assert_eq!(written, "from-container\n", "[{mode:?}]");
    let id = env
        .ok(&["inspect", "--format", "{{.Id}}", "writer"])
        .trim()
        .to_string();
    assert!(
        plugin.called(&format!("Mount pv {id}")),
        "[{mode:?}] {:?}",
        plugin.calls()
    );
    assert!(
        plugin.called(&format!("Unmount pv {id}")),
        "[{mode:?}] {:?}",
        plugin.calls()
    );
    let mounts: Value =
        serde_json::from_str(&env.ok(&["inspect", "--format", "{{json .Mounts}}", "writer"]))
            .unwrap();
    assert_eq!(mounts[0]["Driver"], "testplug", "[{mode:?}] {mounts}");

    // `cp` into the stopped container's volume lands at the plugin (which
    // mounted it for the copy, under an id of its own, and unmounted it).
    let host_file = env.dir.join("from-host");
    std::fs::write(&host_file, "copied\n").unwrap();
    env.ok(&["cp", host_file.to_str().unwrap(), "writer:/data/copied"]);
    let copied = std::fs::read_to_string(plugin.data.join("pv/copied")).unwrap_or_default();
    assert_eq!(copied, "copied\n", "[{mode:?}] {:?}", plugin.calls());
    let calls = plugin.calls();
    let last_two: Vec<Vec<&str>> = calls[calls.len() - 2..]
        .iter()
        .map(|l| l.split(' ').collect())
        .collect();
    assert!(
        last_two[0][..2] == ["Mount", "pv"]
            && last_two[1][..2] == ["Unmount", "pv"]
            && last_two[0][2] == last_two[1][2]
            && last_two[0][2] != id,
        "[{mode:?}] {calls:?}"
    );

    // In use: kept. Unused: removed at the plugin too.
    env.fails(&["volume", "rm", "pv"], 2);
    assert!(plugin.data.join("pv").is_dir(), "[{mode:?}]");
    env.ok(&["rm", "writer"]);
    assert_eq!(env.ok(&["volume", "rm", "pv"]), "pv\n", "[{mode:?}]");
    assert!(!plugin.data.join("pv").exists(), "[{mode:?}]");
    assert!(
        plugin.called("Remove pv"),
        "[{mode:?}] {:?}",
        plugin.calls()
    );
    assert!(volume_names(&env).is_empty(), "[{mode:?}]");

    // `system reset` removes a plugin's volumes at the plugin.
    env.ok(&["volume", "create", "--driver", "testplug", "pv2"]);
    env.ok(&["system", "reset", "--force"]);
    assert!(!plugin.data.join("pv2").exists(), "[{mode:?}]");
    assert!(
        plugin.called("Remove pv2"),
        "[{mode:?}] {:?}",
        plugin.calls()
    );
}

both_modes!(plugin_volume_unmounted_after_monitor_killed);
fn plugin_volume_unmounted_after_monitor_killed(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let plugin = Plugin::start(&mut env);
    env.ok(&["volume", "create", "--driver", "testplug", "kv"]);
    let mark = env.mark();
    let id = env
        .ok(&[
            "run", "-d", "--name", "sleeper", "-e", &mark, "-v", "kv:/data", &img, "sleep", "60",
        ])
        .trim()
        .to_string();
    assert!(
        plugin.called(&format!("Mount kv {id}")),
        "[{mode:?}] {:?}",
        plugin.calls()
    );
    env.kill_monitor("sleeper");
    assert!(!plugin.called(&format!("Unmount kv {id}")), "[{mode:?}]");
    // The next look at the container finds it dead and unmounts its volume.
    let status = env.ok(&["inspect", "--format", "{{.State.Status}}", "sleeper"]);
    assert_eq!(status.trim(), "exited", "[{mode:?}]");
    assert!(
        plugin.called(&format!("Unmount kv {id}")),
        "[{mode:?}] {:?}",
        plugin.calls()
    );
    // Once only.
    env.ok(&["ps", "-a"]);
    let unmounts = plugin
        .calls()
        .iter()
        .filter(|l| l.starts_with("Unmount"))
        .count();
    assert_eq!(unmounts, 1, "[{mode:?}] {:?}", plugin.calls());
    env.ok(&["rm", "-f", "sleeper"]);
}

both_modes!(volume_reload_syncs_with_plugins);
fn volume_reload_syncs_with_plugins(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let mut plugin = Plugin::start(&mut env);
    for v in ["kept", "gone", "used"] {
        env.ok(&["volume", "create", "--driver", "testplug", v]);
    }
    env.ok(&["volume", "create", "plain"]);
    let mark = env.mark();
    env.ok(&[
        "create",
        "--name",
        "user",
        "-e",
        &mark,
        "-v",
        "used:/data",
        &img,
        "true",
    ]);
    // Behind coracle's back: one made at the plugin, two removed there.
    mkdir_mode(&plugin.data.join("extra"), 0o755);
    std::fs::remove_dir(plugin.data.join("gone")).unwrap();
    std::fs::remove_dir(plugin.data.join("used")).unwrap();

    let out = env.run(&["volume", "reload"]);
    assert_eq!(
        out.stdout, "Added:\nextra\nRemoved:\ngone\n",
        "[{mode:?}] {out:?}"
    );
    // `ghost`'s socket is missing, and `used` is still needed: both said,
    // the last one as the command's error.
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("Error: "))
        .collect();
    assert_eq!(errors.len(), 2, "[{mode:?}] {out:?}");
    assert!(errors[0].contains("ghost"), "[{mode:?}] {out:?}");
    assert!(
        errors[1].contains(
            "volume was removed from the plugin \"testplug\" but containers still require it"
        ),
        "[{mode:?}] {out:?}"
    );
    assert_eq!(
        volume_names(&env),
        ["extra", "kept", "plain", "used"],
        "[{mode:?}]"
    );
    let driver = env.ok(&["volume", "inspect", "--format", "{{.Driver}}", "extra"]);
    assert_eq!(driver, "testplug\n", "[{mode:?}]");

    // Nothing changed since: nothing to say but the errors.
    let again = env.run(&["volume", "reload"]);
    assert_eq!(again.stdout, "", "[{mode:?}] {again:?}");
    env.ok(&["rm", "user"]);
    let last = env.run(&["volume", "reload"]);
    assert_eq!(last.stdout, "Removed:\nused\n", "[{mode:?}] {last:?}");

    // A plugin that stopped answering: an error, and its records stay.
    plugin.stop();
    let dead = env.run(&["volume", "reload"]);
    assert_eq!(dead.status, 125, "[{mode:?}] {dead:?}");
    assert!(dead.stderr.contains("testplug"), "[{mode:?}] {dead:?}");
    assert_eq!(volume_names(&env), ["extra", "kept", "plain"], "[{mode:?}]");
}

both_modes!(plugin_refusals);
fn plugin_refusals(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let mut plugin = Plugin::start(&mut env);
    env.ok(&["volume", "create", "--driver", "testplug", "pv"]);
    let before = plugin.calls().len();
    assert_refused(
        &env,
        &["volume", "create", "--driver", "nope", "v1"],
        "no volume plugin with name nope available",
    );
    assert_refused(
        &env,
        &["volume", "create", "--driver", "ghost", "v1"],
        "cannot access plugin ghost socket",
    );
    assert_refused(
        &env,
        &[
            "volume", "create", "--driver", "testplug", "--uid", "5", "v1",
        ],
        "uid and gid options are for the local driver",
    );
    assert_refused(
        &env,
        &[
            "volume", "create", "--driver", "testplug", "-o", "novalue", "v1",
        ],
        "invalid volume option",
    );
    assert_eq!(
        plugin.calls().len(),
        before,
        "[{mode:?}] {:?}",
        plugin.calls()
    );
    assert_refused(&env, &["volume", "mount", "pv"], "volume plugin testplug");

    // The plugin is gone (its socket stays, nobody listens).
    plugin.stop();
    assert!(plugin.socket.exists());
    assert_refused(
        &env,
        &["volume", "create", "--driver", "testplug", "v2"],
        "testplug",
    );
    let mark = env.mark();
    let out = env.run(&["run", "--rm", "-e", &mark, "-v", "pv:/data", &img, "true"]);
    assert_error(mode, "run with a dead plugin", &out, 125, &["testplug"]);
    // The --rm container went with its failed start; one without --rm
    // stays created, the error recorded.
    assert_eq!(env.ok(&["ps", "-aq"]), "", "[{mode:?}]");
    let out = env.run(&[
        "run", "--name", "stays", "-e", &mark, "-v", "pv:/data", &img, "true",
    ]);
    assert_error(mode, "run with a dead plugin", &out, 125, &["testplug"]);
    let state = env.ok(&["inspect", "--format", "{{.State.Status}}", "stays"]);
    assert_eq!(state.trim(), "created", "[{mode:?}]");
    env.ok(&["rm", "stays"]);
    let out = env.run(&["volume", "inspect", "pv"]);
    assert_error(mode, "inspect with a dead plugin", &out, 125, &["testplug"]);
    assert_eq!(volume_names(&env), ["pv"], "[{mode:?}]");
}
