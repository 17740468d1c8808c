//! A real distribution v2 registry (Debian's `docker-registry`) on a random
//! loopback port, started once per test binary and killed with it.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;

use super::{base_dir, mkdir_mode};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

#[derive(Debug)]
pub struct Registry {
    /// "127.0.0.1:PORT"
    pub host: String,
    pub storage_dir: PathBuf,
    /// Basic auth credentials (auth registry only).
    pub user: Option<String>,
    pub pass: Option<String>,
    /// TLS registry only: a certs.d directory for it (`ca.crt`, and the
    /// client certificate `client.cert` with `client.key`).
    pub certs: Option<PathBuf>,
}

/// The shared anonymous registry.
pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| start("registry", false))
}

/// A registry that wants htpasswd Basic auth (user `coracle`, password `s3cret`).
pub fn auth_registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| start("auth-registry", true))
}

/// A registry that speaks only TLS, with a certificate from a test CA, and
/// wants a client certificate that CA signed (mutual TLS).
pub fn tls_registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| start("tls-registry", false))
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made
/// with openssl in `dir`; returns the registry's `http.tls` settings. The
/// files are world-readable: the rootless test user reads them too.
fn make_certs(dir: &Path) -> String {
    let certs = dir.join("certs");
    let keys = dir.join("keys");
    mkdir_mode(&certs, 0o755);
    mkdir_mode(&keys, 0o755);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&keys)
            .output()
            .expect("openssl (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "3", "-subj", "/CN=coracle test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    openssl(&ca);
    std::fs::write(
        keys.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    std::fs::write(keys.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let subj = format!("/CN=coracle test {name}");
        let mut req = vec!["req", "-subj", subj.as_str()];
        req.extend(ec);
        req.extend(["-keyout", key.as_str(), "-out", csr.as_str()]);
        openssl(&req);
        openssl(&[
            "x509",
            "-req",
            "-days",
            "3",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            ext,
            "-out",
            &crt,
        ]);
    }
    for (from, to) in [
        ("ca.crt", "ca.crt"),
        ("client.crt", "client.cert"),
        ("client.key", "client.key"),
    ] {
        std::fs::copy(keys.join(from), certs.join(to)).unwrap();
        std::fs::set_permissions(certs.join(to), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    format!(
        "  tls:\n    certificate: {k}/server.crt\n    key: {k}/server.key\n    clientcas:\n      - {k}/ca.crt\n",
        k = keys.display()
    )
}

impl Registry {
    /// Where the registry keeps a blob: tests corrupt or truncate it in place.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.storage_dir
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `Authorization` header value for pushes, if the registry wants one.
    pub fn basic_auth(&self) -> Option<String> {
        let (u, p) = (self.user.as_ref()?, self.pass.as_ref()?);
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        ))
    }

    /// containers-auth.json content with this registry's credentials.
    pub fn auth_json(&self) -> String {
        let (u, p) = (self.user.as_deref().unwrap(), self.pass.as_deref().unwrap());
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        serde_json::json!({ "auths": { self.host.clone(): { "auth": token } } }).to_string()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(name: &str, with_auth: bool) -> Registry {
    assert!(
        Path::new(REGISTRY_BIN).exists(),
        "{REGISTRY_BIN} is missing: run `sudo tests/run.sh` (installs Debian's docker-registry)"
    );
    let dir = base_dir().join(name);
    mkdir_mode(&dir, 0o755);
    let storage_dir = dir.join("storage");
    mkdir_mode(&storage_dir, 0o755);
    let tls = name == "tls-registry";
    let tls_conf = if tls { make_certs(&dir) } else { String::new() };
    let certs = tls.then(|| dir.join("certs"));
    let (user, pass) = if with_auth {
        (Some("coracle".to_string()), Some("s3cret".to_string()))
    } else {
        (None, None)
    };
    let auth_conf = if with_auth {
        let out = Command::new("htpasswd")
            .args(["-Bbn", "coracle", "s3cret"])
            .output()
            .expect("htpasswd (apache2-utils)");
        assert!(out.status.success(), "htpasswd failed");
        let htpasswd = dir.join("htpasswd");
        std::fs::write(&htpasswd, &out.stdout).unwrap();
        format!(
            "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
            htpasswd.display()
        )
    } else {
        String::new()
    };

    // The child gets PR_SET_PDEATHSIG, which fires when the *thread* that
    // spawned it exits: spawn from a thread that never ends, not a test thread.
    let (tx, rx) = mpsc::channel::<Result<String, String>>();
    let storage = storage_dir.clone();
    std::thread::Builder::new()
        .name(format!("{name}-keeper"))
        .spawn(move || {
            let mut last_err = String::new();
            for _attempt in 0..5 {
                let port = free_port();
                let host = format!("127.0.0.1:{port}");
                let config = dir.join("config.yml");
                std::fs::write(
                    &config,
                    format!(
                        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n{tls_conf}{auth_conf}",
                        storage.display()
                    ),
                )
                .unwrap();
                let log = std::fs::File::create(dir.join("registry.log")).unwrap();
                let mut cmd = Command::new(REGISTRY_BIN);
                cmd.arg("serve").arg(&config).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
                // SAFETY: the pre-exec closure only calls setpgid, which is async-signal-safe.
                unsafe {
                    cmd.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                let mut child: Child = match cmd.spawn() {
                    Ok(c) => c,
                    Err(e) => {
                        last_err = format!("spawning {REGISTRY_BIN}: {e}");
                        continue;
                    }
                };
                match wait_ready(&host, &mut child, tls) {
                    Ok(()) => {
                        tx.send(Ok(host)).unwrap();
                        // keep the child (and this thread) alive as long as the process
                        loop {
                            std::thread::park();
                        }
                    }
                    Err(e) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        let log = std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
                        last_err = format!("{e}; log:\n{log}");
                    }
                }
            }
            tx.send(Err(last_err)).unwrap();
        })
        .unwrap();
    let host = match rx.recv().unwrap() {
        Ok(h) => h,
        Err(e) => panic!("could not start {REGISTRY_BIN}: {e}"),
    };
    Registry {
        host,
        storage_dir,
        user,
        pass,
        certs,
    }
}

/// Wait until `GET /v2/` answers (200, or 401 for the auth registry; 400
/// from a TLS registry asked in plain http).
fn wait_ready(host: &str, child: &mut Child, tls: bool) -> Result<(), String> {
    let agent = super::oci::http_agent();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!("registry exited: {st}"));
        }
        if let Ok(resp) = agent.get(&format!("http://{host}/v2/")).call() {
            let s = resp.status().as_u16();
            if s == 200 || s == 401 || (tls && s == 400) {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("registry did not answer GET /v2/ within 20s".into())
}
