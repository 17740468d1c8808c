//! A real distribution v2 registry (Debian's `docker-registry`) on a random
//! loopback port, started once per test binary and killed with it.

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
                        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n{auth_conf}",
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
                match wait_ready(&host, &mut child) {
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
    }
}

/// Wait until `GET /v2/` answers (200, or 401 for the auth registry).
fn wait_ready(host: &str, child: &mut Child) -> Result<(), String> {
    let agent = super::oci::http_agent();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!("registry exited: {st}"));
        }
        if let Ok(resp) = agent.get(&format!("http://{host}/v2/")).call() {
            let s = resp.status().as_u16();
            if s == 200 || s == 401 {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("registry did not answer GET /v2/ within 20s".into())
}
