//! `system service`: podman's REST API on a unix socket, driven by curl
//! and by the real docker CLI (where /usr/bin/docker is installed), as
//! root and rootless. What the API makes the CLI sees, and the other way
//! round; podman's error shapes; the idle exit; socket activation.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

/// A running service, killed (its process group) on drop.
struct Service {
    child: Child,
    sock: PathBuf,
}

impl Service {
    fn start(env: &TestEnv, extra: &[&str]) -> Service {
        let sock = env.runtime_dir.join(format!("{}.sock", unique("api")));
        let uri = format!("unix://{}", sock.display());
        let mut args = vec!["system", "service"];
        args.extend_from_slice(extra);
        args.push(&uri);
        let child = env
            .coracle_command(&args)
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let s = Service { child, sock };
        assert!(
            wait_for(Duration::from_secs(20), || socket_accepts(&s.sock)),
            "[{:?}] the service never made its socket {}",
            env.mode,
            s.sock.display()
        );
        s
    }

    fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: signalling the process group we made for the service.
        unsafe { libc::kill(-pid, libc::SIGTERM) };
        if !wait_for(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }) {
            // SAFETY: as above.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

/// `curl` as the user of the store: status code, headers and body.
struct Http {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Http {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn curl(env: &TestEnv, svc: &Service, method: &str, path: &str, body: Option<&Value>) -> Http {
    let hdr = env.dir.join(format!("{}.hdr", unique("h")));
    let out = env.dir.join(format!("{}.out", unique("o")));
    // the user writes these files
    std::fs::write(&hdr, "").unwrap();
    std::fs::write(&out, "").unwrap();
    if env.mode == Mode::Rootless {
        let u = test_user();
        for f in [&hdr, &out] {
            std::os::unix::fs::chown(f, Some(u.uid), Some(u.gid)).unwrap();
        }
    }
    let sock = svc.sock.display().to_string();
    let url = format!("http://d{path}");
    let (h, o) = (hdr.display().to_string(), out.display().to_string());
    let mut args = vec![
        "-s",
        "--unix-socket",
        &sock,
        "-X",
        method,
        "-D",
        &h,
        "-o",
        &o,
        "--max-time",
        "60",
    ];
    let body_text = body.map(|b| b.to_string());
    if let Some(b) = &body_text {
        args.extend_from_slice(&["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    if method == "HEAD" {
        args.retain(|a| *a != "-X" && *a != "HEAD");
        args.push("-I");
    }
    args.push(&url);
    let r = env.run_program("curl", &args);
    assert_eq!(
        r.status, 0,
        "[{:?}] curl {method} {path}: {}",
        env.mode, r.stderr
    );
    let headers = std::fs::read_to_string(&hdr).unwrap();
    let body = std::fs::read(&out).unwrap();
    let status = headers
        .lines()
        .rev()
        .find(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Http {
        status,
        headers,
        body,
    }
}

/// Docker's multiplexed frames as (stream, payload) pairs.
fn frames(mut data: &[u8]) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    while data.len() >= 8 {
        let n = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
        assert_eq!(&data[1..4], &[0, 0, 0], "a frame header: {data:?}");
        out.push((
            data[0],
            String::from_utf8_lossy(&data[8..8 + n]).into_owned(),
        ));
        data = &data[8 + n..];
    }
    assert!(data.is_empty(), "trailing bytes after the frames: {data:?}");
    out
}

fn docker() -> Option<&'static str> {
    let found = ["/usr/local/bin/docker", "/usr/bin/docker"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if found.is_none() {
        println!("note: the docker CLI is not installed: the docker CLI checks are skipped");
    }
    found
}

/// The docker CLI against `svc` with `input` piped to its stdin.
fn docker_piped(env: &TestEnv, docker: &str, svc: &Service, args: &[&str], input: &[u8]) -> Out {
    use std::io::Write;
    let host = svc.host();
    let mut all = vec!["-H", host.as_str()];
    all.extend_from_slice(args);
    let mut child = env
        .program_command(docker, &all)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The docker CLI against `svc` on a pty of 33x101: once the shell
/// prompts, `probe` is typed (again every half second: the client sets
/// the size after the start, the shell may read first) until the terminal
/// shows `until`, then `input`; its exit code and what the terminal showed.
fn docker_on_pty(
    env: &TestEnv,
    docker: &str,
    svc: &Service,
    args: &[&str],
    (probe, until, input): (&str, &str, &str),
) -> (i32, String) {
    use nix::pty::{openpty, Winsize};
    use std::io::{Read, Write};
    let ws = Winsize {
        ws_row: 33,
        ws_col: 101,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&ws), None).unwrap();
    let host = svc.host();
    let mut all = vec!["-H", host.as_str()];
    all.extend_from_slice(args);
    let slave = pty.slave;
    let mut child = env
        .program_command(docker, &all)
        .stdin(std::process::Stdio::from(slave.try_clone().unwrap()))
        .stdout(std::process::Stdio::from(slave.try_clone().unwrap()))
        .stderr(std::process::Stdio::from(slave))
        .spawn()
        .unwrap();
    let master = std::fs::File::from(pty.master);
    let mut reader = master.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut typed = false;
    let mut probed: Option<std::time::Instant> = None;
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        while let Ok(b) = rx.try_recv() {
            seen.extend(b);
        }
        let shown = String::from_utf8_lossy(&seen).into_owned();
        if !typed && shown.contains(until) {
            (&master).write_all(input.as_bytes()).unwrap();
            typed = true;
        } else if !typed
            && shown.contains("# ")
            && probed.is_none_or(|t| t.elapsed() > Duration::from_millis(500))
        {
            (&master).write_all(probe.as_bytes()).unwrap();
            probed = Some(std::time::Instant::now());
        }
        if start.elapsed() > Duration::from_secs(30) {
            // SAFETY: a signal to the process group this test started.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            panic!(
                "[{:?}] docker {args:?} on a pty did not end; it showed:\n{}",
                env.mode,
                String::from_utf8_lossy(&seen)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    while let Ok(b) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.extend(b);
    }
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&seen).into_owned(),
    )
}

both_modes!(ping_version_and_podmans_error_shapes);
fn ping_version_and_podmans_error_shapes(mode: Mode) {
    let env = TestEnv::new(mode);
    let svc = Service::start(&env, &["--time", "0"]);
    let meta = std::fs::symlink_metadata(&svc.sock).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "[{mode:?}] the socket is its user's only, as podman's"
    );

    let ping = curl(&env, &svc, "GET", "/_ping", None);
    assert_eq!(
        (ping.status, ping.text().as_str()),
        (200, "OK"),
        "[{mode:?}]"
    );
    let h = ping.headers.to_ascii_lowercase();
    for want in [
        "api-version: 1.41",
        "libpod-api-version:",
        "docker-experimental: true",
    ] {
        assert!(h.contains(want), "[{mode:?}] {want} in:\n{}", ping.headers);
    }
    let head = curl(&env, &svc, "HEAD", "/libpod/_ping", None);
    assert_eq!(head.status, 200, "[{mode:?}] HEAD _ping");

    let v = curl(&env, &svc, "GET", "/v1.41/version", None).json();
    assert_eq!(v["ApiVersion"], "1.41", "[{mode:?}] {v}");
    assert_eq!(v["Os"], "linux");
    let info = curl(&env, &svc, "GET", "/v5.0.0/libpod/info", None).json();
    assert_eq!(
        info["host"]["security"]["rootless"],
        json!(mode == Mode::Rootless)
    );

    let missing = curl(&env, &svc, "GET", "/v1.41/containers/nosuch/json", None);
    assert_eq!(missing.status, 404, "[{mode:?}]");
    let m = missing.json();
    assert_eq!(m["cause"], "no such container", "[{mode:?}] {m}");
    assert_eq!(m["response"], 404);
    assert!(m["message"].as_str().unwrap().contains("nosuch"), "{m}");
    let img = curl(&env, &svc, "GET", "/libpod/images/nosuch/json", None);
    assert_eq!(img.status, 404, "[{mode:?}] {}", img.text());
    let page = curl(&env, &svc, "GET", "/v1.41/no/such/endpoint", None);
    assert_eq!(page.status, 404);
    assert_eq!(page.json()["message"], "page not found");
    let bad = curl(
        &env,
        &svc,
        "POST",
        "/v1.41/containers/create",
        Some(&json!({"Cmd": ["x"]})),
    );
    assert_eq!(bad.status, 400, "[{mode:?}] no image: {}", bad.text());
}

both_modes!(containers_through_the_api_are_the_clis);
fn containers_through_the_api_are_the_clis(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let svc = Service::start(&env, &["--time", "0"]);

    // Docker's create body: a container `coracle ps` shows.
    let body = json!({
        "Image": img,
        "Cmd": ["sh", "-c", "echo to-out; echo to-err >&2; sleep 300"],
        "Env": [mark, "GREETING=hello"],
        "Labels": {"made.by": "api"},
        "HostConfig": {"NetworkMode": "none"},
    });
    let created = curl(
        &env,
        &svc,
        "POST",
        "/v1.41/containers/create?name=web",
        Some(&body),
    );
    assert_eq!(created.status, 201, "[{mode:?}] {}", created.text());
    let id = created.json()["Id"].as_str().unwrap().to_string();
    let ps = env.ok(&["ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
    assert!(
        ps.contains(&format!("{} web Created", &id[..12])),
        "[{mode:?}] {ps}"
    );
    let again = curl(
        &env,
        &svc,
        "POST",
        "/v1.41/containers/create?name=web",
        Some(&body),
    );
    assert_eq!(
        again.status,
        409,
        "[{mode:?}] a name in use: {}",
        again.text()
    );

    assert_eq!(
        curl(&env, &svc, "POST", "/v1.41/containers/web/start", None).status,
        204
    );
    assert_eq!(
        curl(&env, &svc, "POST", "/v1.41/containers/web/start", None).status,
        304,
        "[{mode:?}] start of a running container"
    );
    let ins = curl(&env, &svc, "GET", "/v1.41/containers/web/json", None).json();
    assert_eq!(ins["Name"], "/web", "[{mode:?}] Docker's name");
    assert_eq!(ins["State"]["Running"], true);
    assert_eq!(ins["Config"]["Labels"]["made.by"], "api");
    let cli = env.inspect_container("web");
    assert_eq!(cli["Id"], ins["Id"], "[{mode:?}] the CLI's container");

    // logs, in Docker's frames
    assert!(wait_for(Duration::from_secs(10), || {
        curl(
            &env,
            &svc,
            "GET",
            "/v1.41/containers/web/logs?stdout=1&stderr=1",
            None,
        )
        .body
        .len()
            >= 2 * 8 + 14
    }));
    let logs = curl(
        &env,
        &svc,
        "GET",
        "/v1.41/containers/web/logs?stdout=1&stderr=1",
        None,
    );
    let f = frames(&logs.body);
    assert!(f.contains(&(1, "to-out\n".into())), "[{mode:?}] {f:?}");
    assert!(f.contains(&(2, "to-err\n".into())), "[{mode:?}] {f:?}");
    let only_err = curl(
        &env,
        &svc,
        "GET",
        "/v1.41/containers/web/logs?stderr=1",
        None,
    );
    assert_eq!(frames(&only_err.body), [(2, "to-err\n".to_string())]);

    // exec: create, start (framed output), inspect (exit code)
    let exec = curl(
        &env,
        &svc,
        "POST",
        "/v1.41/containers/web/exec",
        Some(
            &json!({"Cmd": ["sh", "-c", "echo $GREETING; echo oops >&2; exit 3"], "AttachStdout": true, "AttachStderr": true}),
        ),
    );
    assert_eq!(exec.status, 201, "[{mode:?}] {}", exec.text());
    let eid = exec.json()["Id"].as_str().unwrap().to_string();
    let started = curl(
        &env,
        &svc,
        "POST",
        &format!("/v1.41/exec/{eid}/start"),
        Some(&json!({"Detach": false})),
    );
    let f = frames(&started.body);
    assert!(f.contains(&(1, "hello\n".into())), "[{mode:?}] {f:?}");
    assert!(f.contains(&(2, "oops\n".into())), "[{mode:?}] {f:?}");
    let ej = curl(&env, &svc, "GET", &format!("/v1.41/exec/{eid}/json"), None).json();
    assert_eq!(
        (ej["ExitCode"].as_i64(), ej["Running"].as_bool()),
        (Some(3), Some(false)),
        "[{mode:?}] {ej}"
    );

    // list: running only unless all=1; filters
    let running = curl(&env, &svc, "GET", "/v1.41/containers/json", None).json();
    assert_eq!(running.as_array().unwrap().len(), 1, "[{mode:?}] {running}");
    assert_eq!(running[0]["Names"], json!(["/web"]));
    assert_eq!(running[0]["State"], "running");
    env.ok(&[
        "create",
        "--name",
        "cli-made",
        "--network",
        "none",
        &img,
        "true",
    ]);
    let filtered = curl(
        &env,
        &svc,
        "GET",
        "/v1.41/containers/json?all=1&filters=%7B%22name%22%3A%5B%22cli-made%22%5D%7D",
        None,
    )
    .json();
    assert_eq!(
        filtered.as_array().unwrap().len(),
        1,
        "[{mode:?}] {filtered}"
    );
    assert_eq!(
        filtered[0]["Names"],
        json!(["/cli-made"]),
        "[{mode:?}] the CLI's container"
    );
    let libpod = curl(
        &env,
        &svc,
        "GET",
        "/v5.0.0/libpod/containers/json?all=true",
        None,
    )
    .json();
    let names: Vec<&str> = libpod
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Names"][0].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"web") && names.contains(&"cli-made"),
        "[{mode:?}] podman's shape: {libpod}"
    );

    // conflicts and the rest of the lifecycle
    let rm_running = curl(&env, &svc, "DELETE", "/v1.41/containers/web", None);
    assert_eq!(rm_running.status, 409, "[{mode:?}] {}", rm_running.text());
    assert_eq!(
        curl(
            &env,
            &svc,
            "POST",
            "/v1.41/containers/web/kill?signal=KILL",
            None
        )
        .status,
        204
    );
    let waited = curl(&env, &svc, "POST", "/v1.41/containers/web/wait", None).json();
    assert_eq!(waited["StatusCode"], 137, "[{mode:?}] {waited}");
    assert_eq!(
        curl(&env, &svc, "POST", "/v1.41/containers/web/stop", None).status,
        304
    );
    let kill_stopped = curl(&env, &svc, "POST", "/v1.41/containers/web/kill", None);
    assert_eq!(
        kill_stopped.status,
        409,
        "[{mode:?}] {}",
        kill_stopped.text()
    );
    assert_eq!(
        curl(
            &env,
            &svc,
            "POST",
            "/v1.41/containers/web/rename?name=web2",
            None
        )
        .status,
        204
    );
    assert_eq!(
        curl(&env, &svc, "DELETE", "/v1.41/containers/web2", None).status,
        204
    );
    assert_eq!(
        curl(&env, &svc, "DELETE", "/v1.41/containers/web2", None).status,
        404
    );
    let ps = env.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ps.trim(), "cli-made", "[{mode:?}] {ps}");

    // libpod's create (SpecGenerator) and wait
    let spec = json!({"image": img, "name": "spec", "command": ["sh", "-c", "exit 7"], "env": {"A": "b"}, "netns": {"nsmode": "none"}});
    let made = curl(
        &env,
        &svc,
        "POST",
        "/v5.0.0/libpod/containers/create",
        Some(&spec),
    );
    assert_eq!(made.status, 201, "[{mode:?}] {}", made.text());
    assert_eq!(
        curl(
            &env,
            &svc,
            "POST",
            "/v5.0.0/libpod/containers/spec/start",
            None
        )
        .status,
        204
    );
    let code = curl(
        &env,
        &svc,
        "POST",
        "/v5.0.0/libpod/containers/spec/wait?condition=stopped",
        None,
    )
    .json();
    assert_eq!(code, json!(7), "[{mode:?}]");
    let envs = env.inspect_container("spec")["Config"]["Env"].to_string();
    assert!(envs.contains("A=b"), "[{mode:?}] {envs}");
    let rm = curl(
        &env,
        &svc,
        "DELETE",
        "/v5.0.0/libpod/containers/spec?force=true",
        None,
    );
    assert_eq!(rm.status, 200, "[{mode:?}] {}", rm.text());

    // the events the API's requests made, read back (not streamed)
    let events = curl(
        &env,
        &svc,
        "GET",
        "/v1.41/events?stream=false&filters=%7B%22container%22%3A%5B%22web%22%5D%7D",
        None,
    )
    .text();
    let actions: Vec<String> = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["Actor"]["Attributes"]["name"] == "web")
        .map(|e| e["Action"].as_str().unwrap().to_string())
        .collect();
    for want in ["create", "start", "kill"] {
        assert!(
            actions.iter().any(|a| a == want),
            "[{mode:?}] {want} in {actions:?}"
        );
    }

    // prune takes the stopped ones: the CLI's container
    let cli_id = env.inspect_container("cli-made")["Id"].clone();
    let pruned = curl(&env, &svc, "POST", "/v1.41/containers/prune", None).json();
    assert_eq!(
        pruned["ContainersDeleted"],
        json!([cli_id]),
        "[{mode:?}] {pruned}"
    );
    assert_eq!(env.ok(&["ps", "-aq"]).trim(), "", "[{mode:?}]");
}

both_modes!(images_volumes_and_networks);
fn images_volumes_and_networks(mode: Mode) {
    let env = TestEnv::new(mode);
    let svc = Service::start(&env, &["--time", "0"]);
    let r = rt().reference();
    let (repo, tag) = r.rsplit_once(':').unwrap();
    let pulled = curl(
        &env,
        &svc,
        "POST",
        &format!("/v1.41/images/create?fromImage={repo}&tag={tag}"),
        None,
    );
    assert_eq!(pulled.status, 200, "[{mode:?}] {}", pulled.text());
    assert!(
        pulled.text().contains("Status: Downloaded newer image for"),
        "[{mode:?}] {}",
        pulled.text()
    );
    let listed = env.ok(&["images", "-q", "--no-trunc", &r]);
    let hex = listed.trim().trim_start_matches("sha256:");
    assert_eq!(hex.len(), 64, "[{mode:?}] the CLI sees the pull: {listed}");
    let id = format!("sha256:{hex}");
    let list = curl(&env, &svc, "GET", "/v1.41/images/json", None).json();
    assert_eq!(list[0]["Id"], json!(id), "[{mode:?}] {list}");
    assert_eq!(list[0]["RepoTags"], json!([r]));
    let ins = curl(&env, &svc, "GET", &format!("/v1.41/images/{r}/json"), None).json();
    assert_eq!(ins["Id"], json!(id));
    assert_eq!(
        curl(
            &env,
            &svc,
            "POST",
            &format!("/v1.41/images/{r}/tag?repo=localhost/other&tag=v1"),
            None
        )
        .status,
        201
    );
    assert!(env
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .contains("localhost/other:v1"));
    let del = curl(
        &env,
        &svc,
        "DELETE",
        "/v1.41/images/localhost/other:v1",
        None,
    )
    .json();
    assert_eq!(
        del,
        json!([{"Untagged": "localhost/other:v1"}]),
        "[{mode:?}]"
    );
    let unknown = curl(
        &env,
        &svc,
        "POST",
        &format!("/v1.41/images/create?fromImage={repo}-missing&tag=x"),
        None,
    );
    assert_eq!(unknown.status, 404, "[{mode:?}] {}", unknown.text());
    let lp = curl(
        &env,
        &svc,
        "POST",
        &format!("/v5.0.0/libpod/images/pull?reference={r}"),
        None,
    );
    assert!(
        lp.text()
            .contains(&format!("\"id\":\"{}\"", id.trim_start_matches("sha256:"))),
        "[{mode:?}] {}",
        lp.text()
    );

    let vol = curl(
        &env,
        &svc,
        "POST",
        "/v1.41/volumes/create",
        Some(&json!({"Name": "data", "Labels": {"k": "v"}})),
    );
    assert_eq!(vol.status, 201, "[{mode:?}] {}", vol.text());
    assert_eq!(vol.json()["Name"], "data");
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), "data");
    let vl = curl(&env, &svc, "GET", "/v1.41/volumes", None).json();
    assert_eq!(vl["Volumes"][0]["Labels"]["k"], "v", "[{mode:?}] {vl}");
    assert_eq!(
        curl(&env, &svc, "GET", "/v5.0.0/libpod/volumes/data/json", None).json()["Name"],
        "data"
    );
    assert_eq!(
        curl(&env, &svc, "DELETE", "/v1.41/volumes/data", None).status,
        204
    );
    assert_eq!(
        curl(&env, &svc, "GET", "/v1.41/volumes/data", None).status,
        404
    );

    env.ok(&["network", "create", "apinet"]);
    let nets = curl(&env, &svc, "GET", "/v1.41/networks", None).json();
    let names: Vec<&str> = nets
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"apinet"), "[{mode:?}] {nets}");
    let n = curl(&env, &svc, "GET", "/v1.41/networks/apinet", None).json();
    assert!(
        n["IPAM"]["Config"][0]["Subnet"].is_string(),
        "[{mode:?}] {n}"
    );
    assert_eq!(
        curl(&env, &svc, "GET", "/v1.41/networks/nonet", None).status,
        404
    );
    env.ok(&["network", "rm", "apinet"]);
}

both_modes!(the_docker_cli_drives_it);
fn the_docker_cli_drives_it(mode: Mode) {
    let Some(docker) = docker() else { return };
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let svc = Service::start(&env, &["--time", "0"]);
    let host = svc.host();
    let d = |args: &[&str]| {
        let mut all = vec!["-H", host.as_str()];
        all.extend_from_slice(args);
        env.run_program(docker, &all)
    };
    let ok = |args: &[&str]| {
        let o = d(args);
        assert_eq!(
            o.status, 0,
            "[{mode:?}] docker {args:?}: {}{}",
            o.stdout, o.stderr
        );
        o.stdout
    };
    let v = ok(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(v.trim(), "1.41", "[{mode:?}]");
    let r = rt().reference();
    ok(&["pull", &r]);
    assert!(ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).contains(&r));
    let mark = env.mark();
    let hi = ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        &mark,
        &r,
        "echo",
        "hi",
    ]);
    assert_eq!(hi, "hi\n", "[{mode:?}]");
    let code = d(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        &mark,
        &r,
        "sh",
        "-c",
        "echo bye >&2; exit 4",
    ]);
    assert_eq!(
        (code.status, code.stderr.as_str()),
        (4, "bye\n"),
        "[{mode:?}] exit code and stderr"
    );
    assert_eq!(
        env.ok(&["ps", "-aq"]).trim(),
        "",
        "[{mode:?}] --rm removed them"
    );

    ok(&[
        "run",
        "-d",
        "--name",
        "bg",
        "--network",
        "none",
        "-e",
        &mark,
        &r,
        "sh",
        "-c",
        "echo ready; sleep 300",
    ]);
    assert!(
        env.ok(&["ps", "--format", "{{.Names}}"]).contains("bg"),
        "[{mode:?}] the CLI sees docker's"
    );
    env.ok(&[
        "create",
        "--name",
        "from-cli",
        "--network",
        "none",
        &r,
        "true",
    ]);
    let ps = ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert!(
        ps.contains("bg running") && ps.contains("from-cli created"),
        "[{mode:?}] {ps}"
    );
    assert!(wait_for(Duration::from_secs(10), || d(&["logs", "bg"])
        .stdout
        == "ready\n"));
    let ex = d(&["exec", "bg", "sh", "-c", "echo in-$((1+2)); exit 5"]);
    assert_eq!(
        (ex.status, ex.stdout.as_str()),
        (5, "in-3\n"),
        "[{mode:?}] {}",
        ex.stderr
    );
    let missing = d(&["rm", "nosuch"]);
    assert_ne!(missing.status, 0);
    assert!(
        missing.stderr.contains("no such container"),
        "[{mode:?}] {}",
        missing.stderr
    );
    ok(&["rm", "-f", "bg", "from-cli"]);
    assert_eq!(env.ok(&["ps", "-aq"]).trim(), "", "[{mode:?}]");
}

both_modes!(idle_exit_activation_and_bad_endpoints);
fn idle_exit_activation_and_bad_endpoints(mode: Mode) {
    let env = TestEnv::new(mode);
    // --time 1: gone by itself a second after its last connection.
    let mut svc = Service::start(&env, &["--time", "1"]);
    assert_eq!(curl(&env, &svc, "GET", "/_ping", None).status, 200);
    // A client that leaves a stream (events follow) ends its connection.
    let sock = svc.sock.display().to_string();
    let left = env.run_program(
        "curl",
        &[
            "-s",
            "--max-time",
            "1",
            "--unix-socket",
            &sock,
            "http://d/v1.41/events",
        ],
    );
    assert_eq!(
        left.status, 28,
        "[{mode:?}] curl's timeout: {}",
        left.stderr
    );
    assert!(
        wait_for(Duration::from_secs(15), || matches!(
            svc.child.try_wait(),
            Ok(Some(_))
        )),
        "[{mode:?}] the service did not exit when idle"
    );
    assert!(svc.child.try_wait().unwrap().unwrap().success());
    assert!(!svc.sock.exists(), "[{mode:?}] its socket is removed");

    // A client that keeps its connection alive and idle (a pooled one, as
    // docker-py's) does not keep the service: the connection is closed
    // after twice --time without a request (podman's IdleTimeout).
    let mut svc = Service::start(&env, &["--time", "1"]);
    let mut pooled = std::os::unix::net::UnixStream::connect(&svc.sock).unwrap();
    pooled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let asked = std::time::Instant::now();
    pooled
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"OK") {
        let n = pooled.read(&mut buf).unwrap();
        assert!(n > 0, "[{mode:?}] closed before its reply: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "[{mode:?}]");
    let closed = pooled.read(&mut buf).unwrap();
    let idle = asked.elapsed();
    assert_eq!(
        closed, 0,
        "[{mode:?}] the server closed the idle connection"
    );
    assert!(
        idle >= Duration::from_millis(1900) && idle < Duration::from_secs(15),
        "[{mode:?}] kept alive for {idle:?}, not 2 s"
    );
    assert!(
        wait_for(Duration::from_secs(15), || matches!(
            svc.child.try_wait(),
            Ok(Some(_))
        )),
        "[{mode:?}] the service did not exit once the idle connection closed"
    );

    // A socket a service answers on is not taken over.
    let live = Service::start(&env, &["--time", "0"]);
    let taken = env.run(&["system", "service", "--time", "0", &live.host()]);
    assert_eq!(taken.status, 125, "[{mode:?}] {}", taken.stderr);
    assert!(
        taken.stderr.starts_with("Error: ") && taken.stderr.contains("in use"),
        "{}",
        taken.stderr
    );
    assert_eq!(
        curl(&env, &live, "GET", "/_ping", None).status,
        200,
        "still served"
    );
    let bad = env.run(&["system", "service", "http://x"]);
    assert_eq!(bad.status, 125);
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("not supported"), "{}", bad.stderr);

    // systemd's socket activation: the passed socket is served.
    let sock = env.runtime_dir.join("activated.sock");
    let bin = coracle_bin().display().to_string();
    let (root, runroot) = (
        env.store_dir().display().to_string(),
        env.runroot_dir().display().to_string(),
    );
    let mut args = vec!["-l", sock.to_str().unwrap(), &bin];
    if mode == Mode::Root {
        args.extend_from_slice(&["--root", &root, "--runroot", &runroot]);
    }
    args.extend_from_slice(&["system", "service", "--time", "0"]);
    let child = env
        .program_command("/usr/bin/systemd-socket-activate", &args)
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let activated = Service { child, sock };
    assert!(wait_for(Duration::from_secs(10), || activated
        .sock
        .exists()));
    let p = curl(&env, &activated, "GET", "/v1.41/info", None);
    assert_eq!(p.status, 200, "[{mode:?}] {}", p.text());
    assert_eq!(
        p.json()["DockerRootDir"],
        json!(env.store_dir().display().to_string()),
        "[{mode:?}] this store's service"
    );
}

both_modes!(stdin_through_attach_and_exec);
fn stdin_through_attach_and_exec(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let svc = Service::start(&env, &["--time", "0"]);
    let r = rt().reference();
    env.ok(&["pull", &r]);
    let mark = env.mark();

    // A container without a terminal or -i: nothing to resize.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "plain",
        "--network",
        "none",
        "-e",
        &mark,
        &r,
        "sleep",
        "300",
    ]);
    let resize = curl(
        &env,
        &svc,
        "POST",
        "/v1.41/containers/plain/resize?h=10&w=20",
        None,
    );
    assert_eq!(resize.status, 409, "[{mode:?}] {}", resize.text());
    let bad = curl(
        &env,
        &svc,
        "POST",
        &format!("/v1.41/exec/{}/resize?h=1&w=1", "0".repeat(64)),
        None,
    );
    assert_eq!(bad.status, 404, "[{mode:?}] {}", bad.text());
    // An exec session made with AttachStdin, started through curl: the
    // body after the request is its stdin, curl's end of input its EOF.
    let created = curl(
        &env,
        &svc,
        "POST",
        "/v1.41/containers/plain/exec",
        Some(
            &json!({"Cmd": ["sh", "-c", "cat; echo end"], "AttachStdin": true,
                     "AttachStdout": true, "AttachStderr": true}),
        ),
    );
    assert_eq!(created.status, 201, "[{mode:?}] {}", created.text());
    let exec_id = created.json()["Id"].as_str().unwrap().to_string();
    // Started on a raw connection, as docker's client does: the bytes
    // after the request are the stdin, the half-close its end.
    let out = {
        use std::io::{Read, Write};
        let body = r#"{"Detach":false,"Tty":false}"#;
        let mut c = std::os::unix::net::UnixStream::connect(&svc.sock).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            c,
            "POST /v1.41/exec/{exec_id}/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\n\
             Upgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        c.write_all(b"from the client\n").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        all
    };
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 101"),
        "[{mode:?}] {}",
        String::from_utf8_lossy(&out)
    );
    let got = frames(&out[head_end + 4..]);
    assert!(got.iter().all(|(s, _)| *s == 1), "[{mode:?}] {got:?}");
    let text: String = got.into_iter().map(|(_, t)| t).collect();
    assert_eq!(text, "from the client\nend\n", "[{mode:?}]");
    let ins = curl(
        &env,
        &svc,
        "GET",
        &format!("/v1.41/exec/{exec_id}/json"),
        None,
    )
    .json();
    assert_eq!(
        (ins["Running"].clone(), ins["OpenStdin"].clone()),
        (json!(false), json!(true)),
        "[{mode:?}] {ins}"
    );

    let Some(docker) = docker() else { return };
    // docker run -i: piped input reaches the program, its EOF ends it.
    let cat = docker_piped(
        &env,
        docker,
        &svc,
        &[
            "run",
            "-i",
            "--rm",
            "--network",
            "none",
            "-e",
            &mark,
            &r,
            "sh",
            "-c",
            "cat; exit 3",
        ],
        b"line one\nline two\n",
    );
    assert_eq!(
        (cat.status, cat.stdout.as_str()),
        (3, "line one\nline two\n"),
        "[{mode:?}] {}",
        cat.stderr
    );
    let big: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let counted = docker_piped(
        &env,
        docker,
        &svc,
        &[
            "run",
            "-i",
            "--rm",
            "--network",
            "none",
            "-e",
            &mark,
            &r,
            "wc",
            "-c",
        ],
        &big,
    );
    assert_eq!(
        counted.stdout.trim(),
        "200000",
        "[{mode:?}] {}",
        counted.stderr
    );
    // docker exec -i.
    let ex = docker_piped(
        &env,
        docker,
        &svc,
        &["exec", "-i", "plain", "sh", "-c", "cat; echo done; exit 2"],
        b"piped\n",
    );
    assert_eq!(
        (ex.status, ex.stdout.as_str()),
        (2, "piped\ndone\n"),
        "[{mode:?}] {}",
        ex.stderr
    );
    // -it on a terminal: a shell that sees the client's window size.
    for args in [
        vec!["exec", "-it", "plain", "sh"],
        vec![
            "run",
            "-it",
            "--rm",
            "--network",
            "none",
            "-e",
            &mark,
            &r,
            "sh",
        ],
    ] {
        let (code, shown) = docker_on_pty(
            &env,
            docker,
            &svc,
            &args,
            ("stty size\n", "33 101", "exit 3\n"),
        );
        assert_eq!(code, 3, "[{mode:?}] docker {args:?}: {shown}");
        assert!(
            shown.contains("33 101"),
            "[{mode:?}] docker {args:?}: {shown}"
        );
    }
    assert_eq!(
        env.ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "plain",
        "[{mode:?}] the --rm ones are gone"
    );
    env.ok(&["rm", "-f", "-t", "0", "plain"]);
}

both_modes!(service_timeout_from_containers_conf);
fn service_timeout_from_containers_conf(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let conf = env.home.join("containers.conf");
    env.write_user_file(&conf, b"[engine]\nservice_timeout = 1\n");
    env.set_env("CONTAINERS_CONF", conf.to_str().unwrap());
    // No --time: containers.conf's one second.
    let mut svc = Service::start(&env, &[]);
    assert_eq!(curl(&env, &svc, "GET", "/_ping", None).status, 200);
    assert!(
        wait_for(Duration::from_secs(15), || matches!(
            svc.child.try_wait(),
            Ok(Some(_))
        )),
        "[{mode:?}] the service did not exit after service_timeout"
    );
    assert!(!svc.sock.exists(), "[{mode:?}] its socket is removed");
    // --time wins over it: 0 is never.
    let mut kept = Service::start(&env, &["--time", "0"]);
    assert_eq!(curl(&env, &kept, "GET", "/_ping", None).status, 200);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        matches!(kept.child.try_wait(), Ok(None)),
        "[{mode:?}] --time 0 kept it"
    );
    assert_eq!(curl(&env, &kept, "GET", "/_ping", None).status, 200);
}

both_modes!(image_history_save_and_load);
fn image_history_save_and_load(mode: Mode) {
    let env = TestEnv::new(mode);
    let svc = Service::start(&env, &["--time", "0"]);
    let r = rt().reference();
    env.ok(&["pull", &r]);
    let id = env.ok(&["image", "inspect", "--format", "{{.Id}}", &r]);
    let id = id.trim();
    // history: the CLI's entries, newest first, the image's id on top
    let h = curl(
        &env,
        &svc,
        "GET",
        &format!("/v1.41/images/{r}/history"),
        None,
    );
    assert_eq!(h.status, 200, "[{mode:?}] {}", h.text());
    let rows = h.json();
    let cli: Value = serde_json::from_str(&env.ok(&["history", "--format", "json", &r])).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(
        rows.len(),
        cli.as_array().unwrap().len(),
        "[{mode:?}] {rows:?}"
    );
    assert_eq!(rows[0]["Id"], json!(format!("sha256:{id}")), "[{mode:?}]");
    assert_eq!(rows[0]["Tags"], json!([r]), "[{mode:?}]");
    assert_eq!(rows[0]["CreatedBy"], cli[0]["CreatedBy"], "[{mode:?}]");
    assert_eq!(
        curl(&env, &svc, "GET", "/v1.41/images/nosuch/history", None).status,
        404
    );
    // get: a docker-archive the CLI loads back
    let got = curl(&env, &svc, "GET", &format!("/v1.41/images/{r}/get"), None);
    assert_eq!(got.status, 200, "[{mode:?}] {}", got.headers);
    let tar = env.dir.join("got.tar");
    std::fs::write(&tar, &got.body).unwrap();
    let listed = env.run_program("tar", &["tf", tar.to_str().unwrap()]);
    assert!(
        listed.stdout.lines().any(|l| l == "manifest.json"),
        "[{mode:?}] {}",
        listed.stdout
    );
    let multi = curl(
        &env,
        &svc,
        "GET",
        &format!("/v1.41/images/get?names={r}"),
        None,
    );
    assert_eq!(multi.status, 200, "[{mode:?}]");
    assert_eq!(
        curl(&env, &svc, "GET", "/v1.41/images/get?names=nosuch", None).status,
        404,
        "[{mode:?}] an unknown name is an error before any tar"
    );
    // load: the tar as the body, Docker's stream and libpod's names
    env.ok(&["rmi", &r]);
    let loaded = curl_file(&env, &svc, "/v1.41/images/load", &tar);
    assert_eq!(loaded.status, 200, "[{mode:?}] {}", loaded.text());
    assert!(
        loaded.text().contains(&format!("Loaded image: {r}")),
        "[{mode:?}] {}",
        loaded.text()
    );
    assert!(env
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .contains(&r));
    env.ok(&["rmi", &r]);
    let loaded = curl_file(&env, &svc, "/v5.0.0/libpod/images/load", &tar);
    assert_eq!(loaded.json()["Names"], json!([r]), "[{mode:?}]");
    let junk = env.dir.join("junk.tar");
    std::fs::write(&junk, b"not a tar at all").unwrap();
    let before = env.ok(&["images", "-q"]);
    let bad = curl_file(&env, &svc, "/v1.41/images/load", &junk);
    assert_eq!(bad.status, 400, "[{mode:?}] {}", bad.text());
    assert_eq!(
        env.ok(&["images", "-q"]),
        before,
        "[{mode:?}] store unchanged"
    );
    let leftovers: Vec<_> = std::fs::read_dir(env.store_dir().join("tmp"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("api-load"))
        .collect();
    assert!(leftovers.is_empty(), "[{mode:?}] the upload is removed");

    let Some(docker) = docker() else { return };
    let host = svc.host();
    // (a directory the user may write)
    let saved = env.home.join("docker-saved.tar");
    let d = |args: &[&str]| {
        let mut all = vec!["-H", host.as_str()];
        all.extend_from_slice(args);
        env.run_program(docker, &all)
    };
    let s = d(&["save", "-o", saved.to_str().unwrap(), &r]);
    assert_eq!(s.status, 0, "[{mode:?}] {}", s.stderr);
    env.ok(&["rmi", &r]);
    let l = d(&["load", "-i", saved.to_str().unwrap()]);
    assert_eq!(
        (l.status, l.stdout.trim()),
        (0, format!("Loaded image: {r}").as_str()),
        "[{mode:?}] {}",
        l.stderr
    );
    let now = env.ok(&["image", "inspect", "--format", "{{.Id}}", &r]);
    let hist = d(&["history", "-q", &r]);
    assert_eq!(
        hist.stdout.lines().next(),
        Some(&now.trim()[..12]),
        "[{mode:?}] {}",
        hist.stderr
    );
}

/// POST a file as the body with curl; status and body.
fn curl_file(env: &TestEnv, svc: &Service, path: &str, file: &Path) -> Http {
    if env.mode == Mode::Rootless {
        let u = test_user();
        std::os::unix::fs::chown(file, Some(u.uid), Some(u.gid)).unwrap();
    }
    let out = env.dir.join(format!("{}.out", unique("o")));
    std::fs::write(&out, "").unwrap();
    if env.mode == Mode::Rootless {
        let u = test_user();
        std::os::unix::fs::chown(&out, Some(u.uid), Some(u.gid)).unwrap();
    }
    let sock = svc.sock.display().to_string();
    let url = format!("http://d{path}");
    let data = format!("@{}", file.display());
    let o = out.display().to_string();
    let r = env.run_program(
        "curl",
        &[
            "-s",
            "--unix-socket",
            &sock,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
            &data,
            "-o",
            &o,
            "-w",
            "%{http_code}",
            "--max-time",
            "60",
            &url,
        ],
    );
    Http {
        status: r.stdout.trim().parse().unwrap_or(0),
        headers: String::new(),
        body: std::fs::read(&out).unwrap(),
    }
}

both_modes!(system_df_and_image_prune);
fn system_df_and_image_prune(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let svc = Service::start(&env, &["--time", "0"]);
    let r = rt().reference();
    env.ok(&["pull", &r]);
    let id = env.ok(&["image", "inspect", "--format", "{{.Id}}", &r]);
    let id = id.trim().to_string();
    let mark = env.mark();
    env.ok(&["volume", "create", "dfvol"]);
    let c = env.ok(&[
        "run",
        "-d",
        "--name",
        "dfc",
        "--network",
        "none",
        "-e",
        &mark,
        "-v",
        "dfvol:/data",
        &r,
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /data/f; sleep 300",
    ]);
    let c = c.trim().to_string();
    assert!(wait_for(Duration::from_secs(10), || {
        env.run(&["exec", "dfc", "test", "-s", "/data/f"]).status == 0
    }));
    let df = curl(&env, &svc, "GET", "/v1.41/system/df", None);
    assert_eq!(df.status, 200, "[{mode:?}] {}", df.text());
    let df = df.json();
    let img = df["Images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["Id"] == json!(format!("sha256:{id}")))
        .unwrap_or_else(|| panic!("[{mode:?}] {df}"))
        .clone();
    assert_eq!(img["Containers"], 1, "[{mode:?}] {img}");
    assert!(img["Size"].as_u64().unwrap() > 0, "[{mode:?}] {img}");
    assert!(df["LayersSize"].as_u64().unwrap() > 0, "[{mode:?}] {df}");
    assert!(
        df["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["Id"] == json!(c)),
        "[{mode:?}] {df}"
    );
    let vol = df["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["Name"] == "dfvol")
        .unwrap_or_else(|| panic!("[{mode:?}] {df}"))
        .clone();
    assert_eq!(vol["UsageData"]["RefCount"], 1, "[{mode:?}] {vol}");
    assert!(
        vol["UsageData"]["Size"].as_u64().unwrap() >= 5000,
        "[{mode:?}] {vol}"
    );

    // prune: the unnamed image goes, the named one in use stays
    let dangling = env.ok(&["commit", "dfc"]);
    let dangling = dangling.trim().trim_start_matches("sha256:").to_string();
    let pruned = curl(&env, &svc, "POST", "/v1.41/images/prune", None);
    assert_eq!(pruned.status, 200, "[{mode:?}] {}", pruned.text());
    assert_eq!(
        pruned.json()["ImagesDeleted"],
        json!([{"Deleted": format!("sha256:{dangling}")}]),
        "[{mode:?}]"
    );
    let left = env.ok(&["images", "-q", "--no-trunc"]);
    assert!(
        !left.contains(&dangling) && left.contains(&id),
        "[{mode:?}] {left}"
    );
    // dangling=false is --all: still not an image a container uses
    let all = curl(
        &env,
        &svc,
        "POST",
        "/v1.41/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D",
        None,
    );
    assert_eq!(all.json()["ImagesDeleted"], json!([]), "[{mode:?}]");
    env.ok(&["rm", "-f", "-t", "0", "dfc"]);
    let lib = curl(
        &env,
        &svc,
        "POST",
        "/v5.0.0/libpod/images/prune?all=true",
        None,
    );
    assert_eq!(lib.status, 200, "[{mode:?}] {}", lib.text());
    let ids: Vec<String> = lib
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["Id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids, vec![id.clone()], "[{mode:?}]");
    assert_eq!(env.ok(&["images", "-q"]).trim(), "", "[{mode:?}]");

    let Some(docker) = docker() else { return };
    let host = svc.host();
    let o = env.run_program(docker, &["-H", &host, "system", "df"]);
    assert_eq!(o.status, 0, "[{mode:?}] {}", o.stderr);
    assert!(
        o.stdout.contains("Local Volumes"),
        "[{mode:?}] {}",
        o.stdout
    );
    let o = env.run_program(docker, &["-H", &host, "image", "prune", "-f"]);
    assert_eq!(o.status, 0, "[{mode:?}] {}", o.stderr);
    env.ok(&["volume", "rm", "dfvol"]);
}

both_modes!(image_import);
fn image_import(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let svc = Service::start(&env, &["--time", "0"]);
    let r = rt().reference();
    env.ok(&["pull", &r]);
    env.ok(&["create", "--name", "src", "--network", "none", &r, "true"]);
    // (a file the user may write)
    let tar = env.home.join("rootfs.tar");
    env.ok(&["export", "-o", tar.to_str().unwrap(), "src"]);
    let before = env.ok(&["images", "-q"]);
    let made = curl_file(
        &env,
        &svc,
        "/v1.41/images/create?fromSrc=-&repo=imported&tag=v1&changes=ENV%20FOO%3Dbar&message=hi",
        &tar,
    );
    assert_eq!(made.status, 200, "[{mode:?}] {}", made.text());
    let id = env.ok(&["image", "inspect", "--format", "{{.Id}}", "imported:v1"]);
    assert_eq!(
        made.text().trim(),
        json!({"status": format!("sha256:{}", id.trim())}).to_string(),
        "[{mode:?}]"
    );
    let env_of = env.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.Env}}",
        "imported:v1",
    ]);
    assert!(env_of.contains("FOO=bar"), "[{mode:?}] {env_of}");
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "imported:v1",
        "cat",
        "/etc/group",
    ]);
    assert!(
        !out.is_empty(),
        "[{mode:?}] the imported root is the container's"
    );
    let lib = curl_file(
        &env,
        &svc,
        "/v5.0.0/libpod/images/import?reference=imported:v2",
        &tar,
    );
    assert_eq!(lib.status, 200, "[{mode:?}] {}", lib.text());
    let id2 = env.ok(&["image", "inspect", "--format", "{{.Id}}", "imported:v2"]);
    assert_eq!(lib.json()["Id"], json!(id2.trim()), "[{mode:?}]");
    // a body that is no tarball: an error, nothing stored, no upload left
    let junk = env.dir.join("junk.tar");
    std::fs::write(&junk, b"not a tarball").unwrap();
    let with_two = env.ok(&["images", "-q"]);
    let bad = curl_file(&env, &svc, "/v1.41/images/create?fromSrc=-&repo=bad", &junk);
    assert_eq!(bad.status, 400, "[{mode:?}] {}", bad.text());
    assert_eq!(env.ok(&["images", "-q"]), with_two, "[{mode:?}]");
    assert_ne!(with_two, before);
    let leftovers = std::fs::read_dir(env.store_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".api-"))
        .count();
    assert_eq!(leftovers, 0, "[{mode:?}] the uploads are removed");

    let Some(docker) = docker() else { return };
    let o = env.run_program(
        docker,
        &[
            "-H",
            &svc.host(),
            "import",
            tar.to_str().unwrap(),
            "imported:v3",
        ],
    );
    assert_eq!(o.status, 0, "[{mode:?}] {}", o.stderr);
    let id3 = env.ok(&["image", "inspect", "--format", "{{.Id}}", "imported:v3"]);
    assert_eq!(
        o.stdout.trim(),
        format!("sha256:{}", id3.trim()),
        "[{mode:?}]"
    );
}

both_modes!(libpod_pods);
fn libpod_pods(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let svc = Service::start(&env, &["--time", "0"]);
    let r = rt().reference();
    env.ok(&["pull", &r]);
    let made = curl(
        &env,
        &svc,
        "POST",
        "/v5.0.0/libpod/pods/create",
        Some(&json!({"name": "apipod", "labels": {"made.by": "api"}, "no_infra": true})),
    );
    assert_eq!(made.status, 201, "[{mode:?}] {}", made.text());
    let id = made.json()["Id"].as_str().unwrap().to_string();
    assert_eq!(
        env.ok(&[
            "pod",
            "inspect",
            "--format",
            "{{.Id}} {{.Labels}}",
            "apipod"
        ])
        .trim(),
        format!("{id} map[made.by:api]"),
        "[{mode:?}] the CLI sees the API's pod"
    );
    let again = curl(
        &env,
        &svc,
        "POST",
        "/v5.0.0/libpod/pods/create",
        Some(&json!({"name": "apipod", "no_infra": true})),
    );
    assert_eq!(again.status, 409, "[{mode:?}] {}", again.text());
    let mark = env.mark();
    env.ok(&[
        "create",
        "--pod",
        "apipod",
        "--name",
        "member",
        "--network",
        "none",
        "-e",
        &mark,
        &r,
        "sleep",
        "300",
    ]);
    let list = curl(&env, &svc, "GET", "/v5.0.0/libpod/pods/json", None).json();
    let row = &list.as_array().unwrap()[0];
    assert_eq!(
        (
            row["Name"].clone(),
            row["Containers"].as_array().unwrap().len()
        ),
        (json!("apipod"), 1),
        "[{mode:?}] {list}"
    );
    let filtered = curl(
        &env,
        &svc,
        "GET",
        "/v5.0.0/libpod/pods/json?filters=%7B%22name%22%3A%5B%22nosuch%22%5D%7D",
        None,
    );
    assert_eq!(filtered.json(), json!([]), "[{mode:?}]");
    let ins = curl(&env, &svc, "GET", "/v5.0.0/libpod/pods/apipod/json", None).json();
    assert_eq!(ins["Id"], json!(id), "[{mode:?}] {ins}");
    for (path, code) in [
        ("apipod/exists", 204),
        ("nosuch/exists", 404),
        ("nosuch/json", 404),
    ] {
        let got = curl(
            &env,
            &svc,
            "GET",
            &format!("/v5.0.0/libpod/pods/{path}"),
            None,
        );
        assert_eq!(got.status, code, "[{mode:?}] {path}");
    }
    let report = |what: &str| {
        let r = curl(
            &env,
            &svc,
            "POST",
            &format!("/v5.0.0/libpod/pods/apipod/{what}"),
            None,
        );
        assert_eq!(r.status, 200, "[{mode:?}] {what}: {}", r.text());
        assert_eq!(r.json(), json!({"Errs": [], "Id": id}), "[{mode:?}] {what}");
    };
    report("start");
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "member"])
            .trim(),
        "running",
        "[{mode:?}]"
    );
    report("kill?signal=SIGKILL");
    assert!(wait_for(Duration::from_secs(10), || env
        .ok(&["inspect", "--format", "{{.State.Status}}", "member"])
        .trim()
        == "exited"));
    report("start");
    report("stop?t=0");
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.Status}}", "member"])
            .trim(),
        "exited",
        "[{mode:?}]"
    );
    let gone = curl(
        &env,
        &svc,
        "DELETE",
        "/v5.0.0/libpod/pods/apipod?force=true",
        None,
    );
    assert_eq!(gone.json(), json!({"Err": null, "Id": id}), "[{mode:?}]");
    assert_eq!(env.ok(&["pod", "ps", "-q"]).trim(), "", "[{mode:?}]");
    assert_eq!(
        env.ok(&["ps", "-aq"]).trim(),
        "",
        "[{mode:?}] its member went too"
    );
}

both_modes!(api_exec_sessions_are_the_engines);
/// An exec made through the API is one of the engine's sessions: inspect's
/// ExecIDs lists it from its create on, its exit code is the API's
/// ExitCode, `container cleanup --exec` settles and removes it (after
/// which the API no longer knows it), and a session starts only once.
fn api_exec_sessions_are_the_engines(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    env.run_detached("box", &["--network", "none"], &img, &["sleep", "300"]);
    let svc = Service::start(&env, &["--time", "0"]);
    let exec_ids = || env.ok(&["inspect", "box", "--format", "{{.ExecIDs}}"]);
    let make = |cmd: Value| {
        let made = curl(
            &env,
            &svc,
            "POST",
            "/v1.41/containers/box/exec",
            Some(&json!({"Cmd": cmd, "AttachStdout": true, "AttachStderr": true})),
        );
        assert_eq!(made.status, 201, "[{mode:?}] {}", made.text());
        made.json()["Id"].as_str().unwrap().to_string()
    };
    let inspect = |eid: &str| curl(&env, &svc, "GET", &format!("/v1.41/exec/{eid}/json"), None);
    let start = |eid: &str, detach: bool| {
        let path = format!("/v1.41/exec/{eid}/start");
        curl(&env, &svc, "POST", &path, Some(&json!({"Detach": detach})))
    };

    let eid = make(json!(["sh", "-c", "echo ran; exit 4"]));
    assert!(exec_ids().contains(&eid), "[{mode:?}] {}", exec_ids());
    let before = inspect(&eid).json();
    assert_eq!(
        (before["Running"].as_bool(), before["Pid"].as_i64()),
        (Some(false), Some(0)),
        "[{mode:?}] {before}"
    );
    let started = start(&eid, false);
    assert_eq!(
        frames(&started.body),
        [(1, "ran\n".to_string())],
        "[{mode:?}]"
    );
    let after = inspect(&eid).json();
    assert_eq!(
        (after["ExitCode"].as_i64(), after["Running"].as_bool()),
        (Some(4), Some(false)),
        "[{mode:?}] {after}"
    );
    assert_eq!(
        after["ContainerID"],
        json!(env.ok(&["inspect", "box", "--format", "{{.Id}}"]).trim())
    );
    assert!(exec_ids().contains(&eid), "[{mode:?}] {}", exec_ids());
    let again = start(&eid, false);
    assert_eq!(again.status, 409, "[{mode:?}] {}", again.text());

    // detached: the engine's waiting process records the end
    let bg = make(json!(["sh", "-c", "exit 6"]));
    let detached = start(&bg, true);
    assert_eq!(detached.status, 200, "[{mode:?}] {}", detached.text());
    assert!(
        wait_for(Duration::from_secs(20), || inspect(&bg).json()["Running"]
            == json!(false)),
        "[{mode:?}] {}",
        inspect(&bg).text()
    );
    assert_eq!(inspect(&bg).json()["ExitCode"], json!(6), "[{mode:?}]");

    // cleanup --exec keeps the exit code in the record; --rm ends it
    env.ok(&["container", "cleanup", "--exec", &eid, "box"]);
    assert_eq!(inspect(&eid).json()["ExitCode"], json!(4), "[{mode:?}]");
    env.ok(&["container", "cleanup", "--exec", &eid, "--rm", "box"]);
    let gone = inspect(&eid);
    assert_eq!(gone.status, 404, "[{mode:?}] {}", gone.text());
    assert!(!exec_ids().contains(&eid), "[{mode:?}] {}", exec_ids());
    assert!(exec_ids().contains(&bg), "[{mode:?}] {}", exec_ids());
    // one store of sessions: the API keeps none of its own
    assert!(
        !env.runroot_dir().join("api-exec").exists(),
        "[{mode:?}] the API made its own exec records"
    );
    env.ok(&["rm", "-f", "-t", "0", "box"]);
}
