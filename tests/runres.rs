//! `run`/`create` flags of issue #17: real-time CPU limits, per-device
//! weights, device cgroup rules, cgroup v2 files, Intel RDT, the image's
//! seccomp profile, pull retries, registry certificates and encrypted
//! images; as root and rootless. This host mounts the cgroup v1
//! controllers (rootless gets no cgroup); cgroup v2 runs in tests/vm.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::oci::*;
use common::*;
use serde_json::json;

/// The v1 directory of a running container's cgroup for one controller.
fn v1_dir(env: &TestEnv, name: &str, controller: &str) -> PathBuf {
    let path = env.inspect_container(name)["State"]["CgroupPath"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    PathBuf::from("/sys/fs/cgroup")
        .join(controller)
        .join(path.trim_start_matches('/'))
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
        .trim()
        .to_string()
}

both_modes!(realtime_limits_device_rules_and_cgroup_files);
fn realtime_limits_device_rules_and_cgroup_files(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    // Recorded as given, shown under podman's (and docker's) keys.
    env.ok(&[
        "create",
        "--name",
        "rec",
        "--device-cgroup-rule",
        "c 1:3 rwm",
        "--device-cgroup-rule",
        "b *:* r",
        &img,
        "true",
    ]);
    let hc = &env.inspect_container("rec")["HostConfig"];
    assert_eq!(hc["DeviceCgroupRules"], json!(["c 1:3 rwm", "b *:* r"]));
    assert!(hc["CgroupConf"].is_null() && hc["BlkioWeightDevice"].is_null());
    for (args, needle) in [
        (
            &["--device-cgroup-rule", "c 1:3"][..],
            "invalid device cgroup rule",
        ),
        (
            &["--device-cgroup-rule", "x 1:3 rwm"][..],
            "invalid device cgroup rule",
        ),
        (&["--cgroup-conf", "memory.high"][..], "KEY=VALUE"),
        (
            &["--cgroup-conf", "../escape=1"][..],
            "not a controller file",
        ),
        (
            &["--blkio-weight-device", "/dev/null:500"][..],
            "not a block device",
        ),
        (
            &["--blkio-weight-device", "/dev/null:5"][..],
            "between 10 and 1000",
        ),
        (
            &["--rdt-class", "gold"][..],
            "resctrl file system is not mounted",
        ),
        (
            &["--cpu-rt-period", "1000", "--cpu-rt-runtime", "5000"][..],
            "must not exceed",
        ),
    ] {
        let mut run = vec!["run", "--rm"];
        run.extend_from_slice(args);
        run.extend_from_slice(&[&img, "true"]);
        assert_refused(&env, &run, needle);
    }
    // cgroup v2 files: this host's cgroups are v1 (v2 in tests/vm).
    let conf = [
        "run",
        "--rm",
        "--cgroup-conf",
        "memory.high=1073741824",
        &img,
        "true",
    ];
    assert_refused(&env, &conf, "--cgroup-conf");
    let rt = ["--cpu-rt-period", "1000000", "--cpu-rt-runtime", "10000"];
    if mode == Mode::Rootless {
        let mut run = vec!["run", "--rm"];
        run.extend_from_slice(&rt);
        run.extend_from_slice(&[&img, "true"]);
        assert_refused(&env, &run, "the cpu controller is not available");
        assert_refused(
            &env,
            &["update", "--cpu-rt-runtime", "1000", "rec"],
            "the cpu controller is not available",
        );
        return;
    }
    env.run_detached("rt", &rt, &img, &["sleep", "300"]);
    let cpu = v1_dir(&env, "rt", "cpu");
    assert_eq!(read(&cpu.join("cpu.rt_period_us")), "1000000");
    assert_eq!(read(&cpu.join("cpu.rt_runtime_us")), "10000");
    let hc = &env.inspect_container("rt")["HostConfig"];
    assert_eq!(
        (
            hc["CpuRealtimePeriod"].as_u64(),
            hc["CpuRealtimeRuntime"].as_i64()
        ),
        (Some(1_000_000), Some(10_000))
    );
    // update: written to the running container's cgroup, kept in the record
    env.ok(&["update", "--cpu-rt-runtime", "20000", "rt"]);
    assert_eq!(read(&cpu.join("cpu.rt_runtime_us")), "20000");
    assert_eq!(
        env.inspect_container("rt")["HostConfig"]["CpuRealtimeRuntime"],
        20000
    );
    // per-device weights: recorded (this host's disks run no BFQ to take them)
    let dev = ["/dev/vda", "/dev/sda", "/dev/loop0"]
        .into_iter()
        .find(|d| std::path::Path::new(d).exists())
        .expect("a block device");
    let weight = format!("{dev}:300");
    env.ok(&[
        "create",
        "--name",
        "w",
        "--blkio-weight-device",
        &weight,
        &img,
        "true",
    ]);
    assert_eq!(
        env.inspect_container("w")["HostConfig"]["BlkioWeightDevice"],
        json!([{"Path": dev, "Weight": 300}])
    );
}

/// A seccomp profile that lets everything through but mkdir.
const NO_MKDIR: &str = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#;

both_modes!(seccomp_policy_image_takes_the_image_profile);
fn seccomp_policy_image_takes_the_image_profile(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let layers = vec![busybox_layer().clone()];
    let mut cfg = config_json(&ImageSpec::new("seccomp-label"), &layers);
    cfg["config"]["Labels"] = json!({"io.containers.seccomp.profile": NO_MKDIR});
    let img = build_image_with_config(
        &ImageSpec::new("seccomp-label"),
        layers,
        serde_json::to_vec(&cfg).unwrap(),
    );
    let pushed = push_unique(&img, "seccomp");
    let labelled = pushed.reference();
    env.pull(&labelled);
    let script = "mkdir /tmp/d && echo made";
    assert_eq!(env.sh(&labelled, &[], script).trim(), "made");
    assert_eq!(
        env.sh(&labelled, &["--seccomp-policy", "default"], script)
            .trim(),
        "made"
    );
    let out = env.sh_out(&labelled, &["--seccomp-policy=image"], script);
    assert!(
        out.status != 0
            && out.stderr.contains("Operation not permitted")
            && !out.stdout.contains("made"),
        "[{mode:?}] the image's profile was not applied: {out:?}"
    );
    let plain = env.rt_image();
    assert_refused(
        &env,
        &["run", "--rm", "--seccomp-policy", "image", &plain, "true"],
        "no seccomp policy defined by image",
    );
    assert_refused(
        &env,
        &["run", "--rm", "--seccomp-policy", "strict", &plain, "true"],
        r#"invalid seccomp policy "strict""#,
    );
}

both_modes!(pull_flags_of_run_retry_decrypt_and_link_local);
fn pull_flags_of_run_retry_decrypt_and_link_local(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    // Nothing listens on port 1: every try fails at once, the retries'
    // delays are the time taken.
    let dead = "127.0.0.1:1/nothing/here:latest";
    let timed = |args: &[&str]| {
        let t = Instant::now();
        let out = env.run(args);
        assert_eq!(out.status, 125, "[{mode:?}] {args:?}: {out:?}");
        t.elapsed()
    };
    let fast = timed(&["run", "--rm", "--retry", "0", dead, "true"]);
    assert!(fast < Duration::from_millis(900), "[{mode:?}] {fast:?}");
    let slow = timed(&["create", "--retry", "2", "--retry-delay", "1s", dead]);
    assert!(slow >= Duration::from_secs(2), "[{mode:?}] {slow:?}");
    assert_refused(&env, &["run", "--retry-delay", "soon", dead], "soon");
    // An unencrypted image runs as ever with a key given (as podman);
    // docker's --link-local-ip is podman's documented no-op.
    let out = env.ok(&[
        "run",
        "--rm",
        "--decryption-key",
        "/no/key.pem",
        "--link-local-ip",
        "169.254.0.9",
        &img,
        "echo",
        "ran",
    ]);
    assert_eq!(out.trim(), "ran");
    // --health-log-destination at create (its effects: tests/update.rs)
    env.ok(&[
        "create",
        "--name",
        "hl",
        "--health-cmd",
        "true",
        "--health-log-destination",
        "events_logger",
        &img,
    ]);
    assert_eq!(
        env.inspect_container("hl")["Config"]["HealthLogDestination"],
        "events_logger"
    );
    assert_refused(
        &env,
        &[
            "create",
            "--health-cmd",
            "true",
            "--health-log-destination",
            "/no/such/dir",
            &img,
        ],
        "HealthCheck Log '/no/such/dir' destination error",
    );
    // An encrypted one is refused by name.
    let reg = registry();
    let repo = unique("iso/encrypted");
    let layer = busybox_layer();
    let config = serde_json::to_vec(&config_json(
        &ImageSpec::new("enc"),
        std::slice::from_ref(layer),
    ))
    .unwrap();
    push_blob(reg, &repo, &layer.blob);
    push_blob(reg, &repo, &config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "digest": sha256_digest(&layer.blob), "size": layer.blob.len()}],
    });
    push_manifest(
        reg,
        &repo,
        "1",
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    let encrypted = format!("{}/{repo}:1", reg.host);
    assert_refused(
        &env,
        &[
            "run",
            "--rm",
            "--decryption-key",
            "/no/key.pem",
            &encrypted,
            "true",
        ],
        "encrypted",
    );
}

/// `openssl s_server` on a free loopback port with `cert`/`key`; with
/// `client_ca`, it insists on a client certificate signed by it.
struct TlsServer {
    child: Child,
    port: u16,
}

impl TlsServer {
    fn start(dir: &std::path::Path, client_ca: bool) -> TlsServer {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut cmd = Command::new("openssl");
            cmd.args(["s_server", "-quiet", "-www", "-accept"])
                .arg(format!("127.0.0.1:{port}"))
                .arg("-cert")
                .arg(dir.join("server.crt"))
                .arg("-key")
                .arg(dir.join("server.key"));
            if client_ca {
                cmd.arg("-Verify")
                    .arg("1")
                    .arg("-CAfile")
                    .arg(dir.join("ca.crt"));
            }
            let mut child = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl");
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(5) {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return TlsServer { child, port };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("openssl s_server did not start");
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

both_modes!(cert_dir_trusts_its_ca_and_presents_the_client_certificate);
fn cert_dir_trusts_its_ca_and_presents_the_client_certificate(mode: Mode) {
    let env = TestEnv::new(mode);
    let pki = env.user_dir("pki");
    let certs = env.user_dir("certs");
    let p = pki.as_path();
    let subj = |cn: &str| format!("/CN={cn}");
    openssl(
        p,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            &subj("runres test CA"),
        ],
    );
    // extensions make them X.509 v3, which TLS wants
    std::fs::write(p.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(p.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for who in ["server", "client"] {
        openssl(
            p,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{who}.key"),
                "-out",
                &format!("{who}.csr"),
                "-subj",
                &subj(who),
            ],
        );
        let mut sign = vec![
            "x509",
            "-req",
            "-days",
            "2",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
        ];
        let (csr, out) = (format!("{who}.csr"), format!("{who}.crt"));
        sign.extend_from_slice(&["-in", &csr, "-out", &out]);
        let ext = format!("{who}.ext");
        sign.extend_from_slice(&["-extfile", &ext]);
        openssl(p, &sign);
    }
    for (from, to) in [
        ("ca.crt", "ca.crt"),
        ("client.crt", "client.cert"),
        ("client.key", "client.key"),
    ] {
        std::fs::copy(p.join(from), certs.join(to)).unwrap();
    }
    if mode == Mode::Rootless {
        let u = test_user();
        for f in ["ca.crt", "client.cert", "client.key"] {
            std::os::unix::fs::chown(certs.join(f), Some(u.uid), Some(u.gid)).unwrap();
        }
    }
    let dir = certs.to_str().unwrap();
    // A TLS server that is no registry: the handshake is what is tested
    // (past it, its web page is no manifest).
    let server = TlsServer::start(p, true);
    let image = format!("127.0.0.1:{}/x/y:1", server.port);
    let untrusted = env.fails(&["create", "--tls-verify", "--retry", "0", &image], 125);
    assert!(
        untrusted.stderr.to_lowercase().contains("certificate") || untrusted.stderr.contains("tls"),
        "[{mode:?}] without --cert-dir the server's CA is unknown: {}",
        untrusted.stderr
    );
    let trusted = env.fails(
        &[
            "create",
            "--tls-verify",
            "--retry",
            "0",
            "--cert-dir",
            dir,
            &image,
        ],
        125,
    );
    assert!(
        trusted.stderr.contains("malformed manifest") && !trusted.stderr.contains("tls:"),
        "[{mode:?}] with --cert-dir the handshake (CA and client certificate) passes: {}",
        trusted.stderr
    );
    // An X.509 v1 client certificate: refused in words, not a crash.
    let v1 = certs.join("client.cert");
    let (v1s, csr) = (v1.to_str().unwrap(), p.join("client.csr"));
    openssl(
        p,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-in",
            csr.to_str().unwrap(),
            "-out",
            v1s,
        ],
    );
    let out = env.fails(&["create", "--tls-verify", "--cert-dir", dir, &image], 125);
    assert!(
        out.stderr.contains("client certificate"),
        "[{mode:?}] {}",
        out.stderr
    );
    // A key without its certificate.
    std::fs::remove_file(certs.join("client.cert")).unwrap();
    let out = env.fails(
        &[
            "create",
            "--tls-verify",
            "--retry",
            "0",
            "--cert-dir",
            dir,
            &image,
        ],
        125,
    );
    assert!(
        out.stderr.contains("client certificate"),
        "[{mode:?}] {}",
        out.stderr
    );
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
}

both_modes!(cdi_devices_and_gpus_come_from_the_spec_files);
fn cdi_devices_and_gpus_come_from_the_spec_files(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let name = format!("t{}-{mode:?}", std::process::id()).to_lowercase();
    let _spec = gpu_spec(&name, &env.user_dir("cdi-data"));
    let script = CDI_PROBE;
    let want = cdi_probe_output(&name);
    assert_eq!(
        env.sh(&img, &["--gpus", &name], script),
        want,
        "[{mode:?}] --gpus"
    );
    let device = format!("nvidia.com/gpu={name}");
    assert_eq!(
        env.sh(&img, &["--device", &device], script),
        want,
        "[{mode:?}] --device"
    );
    assert_refused(
        &env,
        &[
            "run",
            "--rm",
            "--device",
            "nvidia.com/gpu=no-such-gpu",
            &img,
            "true",
        ],
        "unresolvable CDI devices nvidia.com/gpu=no-such-gpu",
    );
    assert_refused(
        &env,
        &["create", "--gpus", "no-such-gpu", &img],
        "no-such-gpu",
    );
}

both_modes!(cdi_spec_dir_and_containers_conf_say_where_specs_are);
fn cdi_spec_dir_and_containers_conf_say_where_specs_are(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let name = format!("d{}-{mode:?}", std::process::id()).to_lowercase();
    let specs = env.user_dir("cdi-specs");
    gpu_spec_in(&specs, &name, &env.user_dir("cdi-data"));
    let d = specs.to_str().unwrap();
    let device = format!("nvidia.com/gpu={name}");
    let want = cdi_probe_output(&name);
    let probe = [img.as_str(), "sh", "-c", CDI_PROBE];
    let run = |env: &TestEnv, globals: &[&str], dev: &[&str]| -> String {
        let args = [globals, &["run", "--rm"], dev, &probe].concat();
        env.ok(&args)
    };
    assert_eq!(
        run(&env, &["--cdi-spec-dir", d], &["--device", &device]),
        want,
        "[{mode:?}] --cdi-spec-dir, --device"
    );
    let twice = ["--cdi-spec-dir", "/nonexistent", "--cdi-spec-dir", d];
    assert_eq!(
        run(&env, &twice, &["--gpus", &name]),
        want,
        "[{mode:?}] --cdi-spec-dir twice, --gpus"
    );
    // Not in the default directories.
    assert_refused(
        &env,
        &["run", "--rm", "--device", &device, &img, "true"],
        &format!("unresolvable CDI devices {device}: no CDI spec in /etc/cdi or /var/run/cdi"),
    );
    // containers.conf's cdi_spec_dirs does the same; --cdi-spec-dir replaces it.
    let conf = env.home.join("cdi.conf");
    env.write_user_file(
        &conf,
        format!("[engine]\ncdi_spec_dirs = [\"{d}\"]\n").as_bytes(),
    );
    env.set_env("CONTAINERS_CONF", conf.to_str().unwrap());
    assert_eq!(
        run(&env, &[], &["--device", &device]),
        want,
        "[{mode:?}] cdi_spec_dirs"
    );
    assert_refused(
        &env,
        &[
            "--cdi-spec-dir",
            "/nonexistent",
            "run",
            "--rm",
            "--device",
            &device,
            &img,
            "true",
        ],
        &format!("unresolvable CDI devices {device}: no CDI spec in /nonexistent defines it"),
    );
}
