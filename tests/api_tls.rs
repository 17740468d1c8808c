//! `system service --tls-cert --tls-key [--tls-client-ca]`: the API over
//! TLS (and mutual TLS), driven by curl and the real docker CLI (attach
//! and stdin over TLS too), as root and rootless. Certificates are made
//! with openssl for each test.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

/// A CA, a server certificate for 127.0.0.1 and localhost, a client
/// certificate from the same CA, and one from another CA; the docker
/// CLI's directory (ca.pem, cert.pem, key.pem) beside.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn make(env: &TestEnv) -> Certs {
        let dir = env.dir.join(unique("certs"));
        std::fs::create_dir_all(dir.join("docker")).unwrap();
        let sh = r#"set -e
for ca in ca other-ca; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca-key.pem -out $ca.pem -days 2 -subj /CN=coracle-$ca
done
openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 2 -extfile server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
for c in client:ca stranger:other-ca; do
  name=${c%%:*}; ca=${c#*:}
  openssl req -newkey rsa:2048 -nodes -keyout $name-key.pem -out $name.csr -subj /CN=$name
  openssl x509 -req -in $name.csr -CA $ca.pem -CAkey $ca-key.pem -CAcreateserial -out $name-cert.pem -days 2 -extfile client.ext
done
cp ca.pem docker/ca.pem; cp client-cert.pem docker/cert.pem; cp client-key.pem docker/key.pem
"#;
        let out = std::process::Command::new("sh")
            .args(["-c", sh])
            .current_dir(&dir)
            .output()
            .expect("openssl (tests/run.sh installs it)");
        assert!(
            out.status.success(),
            "making certificates: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if env.mode == Mode::Rootless {
            let u = test_user();
            for e in walk(&dir) {
                std::os::unix::fs::chown(&e, Some(u.uid), Some(u.gid)).unwrap();
            }
        }
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A running service on a loopback port, killed (its process group) on drop.
struct Service {
    child: Child,
    port: u16,
}

impl Service {
    fn start(env: &TestEnv, tls: &[&str], uri: &str) -> Service {
        let mut args = vec!["system", "service", "--time", "0"];
        args.extend_from_slice(tls);
        args.push(uri);
        let child = env
            .coracle_command(&args)
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let port = uri
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        Service { child, port }
    }

    fn tcp(env: &TestEnv, tls: &[&str]) -> Service {
        let port = free_port();
        let s = Service::start(env, tls, &format!("tcp://127.0.0.1:{port}"));
        assert!(
            wait_for(Duration::from_secs(20), || !port_is_free(port)),
            "[{:?}] the service never listened on port {port}",
            env.mode
        );
        s
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
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

/// curl as the store's user: its exit code and what it printed.
fn curl(env: &TestEnv, args: &[&str]) -> Out {
    let mut all = vec!["-sS", "--max-time", "30"];
    all.extend_from_slice(args);
    env.run_program("curl", &all)
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

/// The docker CLI against a TLS service the way its users point it
/// (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), `input` on stdin.
fn docker_tls(env: &TestEnv, svc: &Service, certs: &Certs, args: &[&str], input: &[u8]) -> Out {
    use std::io::Write;
    let host = format!("DOCKER_HOST=tcp://127.0.0.1:{}", svc.port);
    let cert_path = format!("DOCKER_CERT_PATH={}", certs.path("docker"));
    let mut all = vec![
        host.as_str(),
        "DOCKER_TLS_VERIFY=1",
        cert_path.as_str(),
        docker().unwrap(),
    ];
    all.extend_from_slice(args);
    let mut child = env
        .program_command("/usr/bin/env", &all)
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

both_modes!(bad_tls_flags_are_one_error);
fn bad_tls_flags_are_one_error(mode: Mode) {
    let env = TestEnv::new(mode);
    let certs = Certs::make(&env);
    let (cert, key) = (certs.path("server-cert.pem"), certs.path("server-key.pem"));
    let wrong_key = certs.path("client-key.pem");
    let port = free_port();
    let uri = format!("tcp://127.0.0.1:{port}");
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["--tls-cert", &cert],
            &["--tls-cert provided without --tls-key"],
        ),
        (
            vec!["--tls-key", &key],
            &["--tls-key provided without --tls-cert"],
        ),
        (
            vec!["--tls-client-ca", &cert],
            &["--tls-client-ca", "--tls-cert and --tls-key"],
        ),
        (
            vec!["--tls-cert", "/nonexistent/c.pem", "--tls-key", &key],
            &["/nonexistent/c.pem"],
        ),
        // a key where the certificate belongs, and the other way round
        (
            vec!["--tls-cert", &key, "--tls-key", &key],
            &["no PEM certificate"],
        ),
        (
            vec!["--tls-cert", &cert, "--tls-key", &cert],
            &["no PEM private key"],
        ),
        (
            vec!["--tls-cert", &cert, "--tls-key", &wrong_key],
            &["is not the certificate's"],
        ),
        (
            vec![
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--tls-client-ca",
                &key,
            ],
            &["no PEM certificate"],
        ),
    ];
    for (flags, needles) in cases {
        let mut args = vec!["system", "service", "--time", "1"];
        args.extend_from_slice(&flags);
        args.push(&uri);
        let out = env.run(&args);
        assert_error(mode, &format!("service {flags:?}"), &out, 125, needles);
        assert!(port_is_free(port), "[{mode:?}] {flags:?}: it listened");
    }
    // The verb's own --tls-cert is not the global remote option, which
    // still is an error for every other verb.
    let out = env.run(&["--tls-cert", &cert, "images"]);
    assert_error(
        mode,
        "--tls-cert images",
        &out,
        125,
        &["--tls-cert", "remote connections are not supported"],
    );
}

both_modes!(the_api_over_tls);
fn the_api_over_tls(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let certs = Certs::make(&env);
    let r = rt().reference();
    env.ok(&["pull", &r]);
    let name = unique("tlsctr");
    env.ok(&["create", "--name", &name, "--network", "none", &r, "true"]);
    let (cert, key) = (certs.path("server-cert.pem"), certs.path("server-key.pem"));
    let svc = Service::tcp(&env, &["--tls-cert", &cert, "--tls-key", &key]);
    let ca = certs.path("ca.pem");

    let ping = curl(&env, &["--cacert", &ca, &svc.url("/_ping")]);
    assert_eq!(
        (ping.status, ping.stdout.as_str()),
        (0, "OK"),
        "[{mode:?}] {}",
        ping.stderr
    );
    let list = curl(
        &env,
        &["--cacert", &ca, &svc.url("/v1.41/containers/json?all=1")],
    );
    assert_eq!(list.status, 0, "[{mode:?}] {}", list.stderr);
    let v: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|c| c["Names"][0] == format!("/{name}")),
        "[{mode:?}] the CLI's container over https: {v}"
    );
    // The server's certificate is checked: another CA does not trust it.
    let other = curl(
        &env,
        &["--cacert", &certs.path("other-ca.pem"), &svc.url("/_ping")],
    );
    assert_ne!(other.status, 0, "[{mode:?}] {}", other.stdout);
    // Plain HTTP to the TLS port: Go's (podman's) 400, nothing served.
    let plain = curl(
        &env,
        &[
            "-w",
            "\n%{http_code}",
            &format!("http://127.0.0.1:{}/v1.41/containers/json", svc.port),
        ],
    );
    assert!(
        plain
            .stdout
            .contains("Client sent an HTTP request to an HTTPS server.")
            && plain.stdout.ends_with("\n400")
            && !plain.stdout.contains(&name),
        "[{mode:?}] plain http: {:?} {}",
        plain.stdout,
        plain.stderr
    );

    if docker().is_none() {
        return;
    }
    let ps = docker_tls(
        &env,
        &svc,
        &certs,
        &["ps", "-a", "--format", "{{.Names}}"],
        b"",
    );
    assert_eq!(ps.status, 0, "[{mode:?}] docker ps: {}", ps.stderr);
    assert!(
        ps.stdout.lines().any(|l| l == name),
        "[{mode:?}] {}",
        ps.stdout
    );
    let mark = env.mark();
    let base = ["run", "--rm", "--network", "none", "-e", &mark];
    let mut hi: Vec<&str> = base.to_vec();
    hi.extend_from_slice(&[&r, "echo", "hi"]);
    let out = docker_tls(&env, &svc, &certs, &hi, b"");
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "hi\n"),
        "[{mode:?}] docker run over TLS: {}",
        out.stderr
    );
    // Attach with stdin: the piped bytes reach the program over TLS and
    // their end (the client's half-close) ends its input.
    let mut cat: Vec<&str> = base.to_vec();
    cat.push("-i");
    cat.extend_from_slice(&[&r, "sh", "-c", "cat; exit 3"]);
    let big: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let out = docker_tls(&env, &svc, &certs, &cat, &big);
    assert_eq!(
        out.status, 3,
        "[{mode:?}] docker run -i over TLS: {}",
        out.stderr
    );
    assert!(
        out.stdout.as_bytes() == big.as_slice(),
        "[{mode:?}] docker run -i over TLS: {} bytes back of {}",
        out.stdout.len(),
        big.len()
    );
    // exec: a second hijacked stream.
    let ctr = unique("tlsexec");
    let mut top: Vec<&str> = vec![
        "run",
        "-d",
        "--name",
        &ctr,
        "--network",
        "none",
        "-e",
        &mark,
    ];
    top.extend_from_slice(&[&r, "sleep", "300"]);
    let started = docker_tls(&env, &svc, &certs, &top, b"");
    assert_eq!(started.status, 0, "[{mode:?}] {}", started.stderr);
    let ex = docker_tls(
        &env,
        &svc,
        &certs,
        &["exec", "-i", &ctr, "sh", "-c", "read l; echo got:$l"],
        b"tls\n",
    );
    assert_eq!(
        (ex.status, ex.stdout.as_str()),
        (0, "got:tls\n"),
        "[{mode:?}] docker exec -i over TLS: {}",
        ex.stderr
    );
    // exec with a terminal: the raw stream of its pty over TLS.
    let tty = docker_tls(
        &env,
        &svc,
        &certs,
        &["exec", "-t", &ctr, "sh", "-c", "tty; echo on-tty"],
        b"",
    );
    assert!(
        tty.status == 0 && tty.stdout.contains("/dev/pts/") && tty.stdout.contains("on-tty"),
        "[{mode:?}] docker exec -t over TLS: {} {:?} {}",
        tty.status,
        tty.stdout,
        tty.stderr
    );
    env.ok(&["rm", "-f", "-t", "0", &ctr]);
}

both_modes!(mutual_tls_needs_a_client_certificate);
fn mutual_tls_needs_a_client_certificate(mode: Mode) {
    let env = TestEnv::new(mode);
    let certs = Certs::make(&env);
    let (cert, key, ca) = (
        certs.path("server-cert.pem"),
        certs.path("server-key.pem"),
        certs.path("ca.pem"),
    );
    let svc = Service::tcp(
        &env,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &ca,
        ],
    );
    let url = svc.url("/_ping");
    let none = curl(&env, &["--cacert", &ca, &url]);
    assert!(
        none.status != 0 && none.stdout.is_empty(),
        "[{mode:?}] no client certificate: {} {:?}",
        none.status,
        none.stdout
    );
    let (sc, sk) = (
        certs.path("stranger-cert.pem"),
        certs.path("stranger-key.pem"),
    );
    let stranger = curl(&env, &["--cacert", &ca, "--cert", &sc, "--key", &sk, &url]);
    assert!(
        stranger.status != 0 && stranger.stdout.is_empty(),
        "[{mode:?}] a certificate of another CA: {} {:?}",
        stranger.status,
        stranger.stdout
    );
    let (cc, ck) = (certs.path("client-cert.pem"), certs.path("client-key.pem"));
    let good = curl(&env, &["--cacert", &ca, "--cert", &cc, "--key", &ck, &url]);
    assert_eq!(
        (good.status, good.stdout.as_str()),
        (0, "OK"),
        "[{mode:?}] {}",
        good.stderr
    );
    if docker().is_some() {
        let v = docker_tls(
            &env,
            &svc,
            &certs,
            &["version", "--format", "{{.Server.APIVersion}}"],
            b"",
        );
        assert_eq!(
            (v.status, v.stdout.trim()),
            (0, "1.41"),
            "[{mode:?}] docker with its client certificate: {}",
            v.stderr
        );
    }
    drop(svc);

    // As podman's, TLS is the listener's, a unix socket's too.
    let sock = env.runtime_dir.join(format!("{}.sock", unique("tls")));
    let _unix = Service::start(
        &env,
        &["--tls-cert", &cert, "--tls-key", &key],
        &format!("unix://{}", sock.display()),
    );
    assert!(
        wait_for(Duration::from_secs(20), || socket_accepts(&sock)),
        "[{mode:?}] no socket"
    );
    let s = sock.display().to_string();
    let over_unix = curl(
        &env,
        &[
            "--unix-socket",
            &s,
            "--cacert",
            &ca,
            "https://localhost/_ping",
        ],
    );
    assert_eq!(
        (over_unix.status, over_unix.stdout.as_str()),
        (0, "OK"),
        "[{mode:?}] {}",
        over_unix.stderr
    );
    let plain = curl(&env, &["--unix-socket", &s, "http://localhost/_ping"]);
    assert!(
        !plain.stdout.contains("OK"),
        "[{mode:?}] plain http on the TLS socket: {:?}",
        plain.stdout
    );
}
