//! Quadlet: unit files (.container, .volume, .network, .pod, .image, .build) with drop-ins
//! and templates turned into systemd services, as podman's Quadlet writes
//! them: `quadlet --dryrun`, the binary run as systemd's generator (by its
//! name, into an output directory, with [Install] symlinks), errors that
//! name the file and line, and every generated unit accepted by
//! `systemd-analyze verify`. Running the units under a real systemd is
//! tests/vm (the systemd boot). `generate systemd --new` (podman's older
//! form) writes a unit from a container's recorded command line.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const WEB: &str = "\
# a web server
[Unit]
Description=A web server
After=data.volume

[Container]
Image=busybox.image
Exec=httpd -f -p 8080 -h \"/srv/my www\"
PublishPort=8080:8080
Volume=data.volume:/srv
Volume=./site:/site:ro
Environment=A=1 \"B=two words\"
HealthCmd=wget -qO- http://127.0.0.1:8080/
Notify=healthy
AutoUpdate=registry
Memory=64m
User=1000
Group=1000

[Service]
Restart=always

[Install]
WantedBy=default.target multi-user.target
";

const DATA: &str = "[Volume]\nLabel=app=web\n";
const BUSYBOX: &str = "[Image]\nImage=registry.example/busybox:1\nTLSVerify=false\n";
const ECHO: &str = "[Container]\nImage=busybox\nExec=sh -c \\\n  \"echo %i\"\n";
const APP: &str = "\
[Build]
ImageTag=localhost/app:1
SetWorkingDirectory=unit
";

/// A directory of unit files the command's user owns.
fn unit_dir(env: &TestEnv, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.dir.join("units");
    for (name, text) in files {
        env.write_user_file(&dir.join(name), text.as_bytes());
    }
    dir
}

fn the_set(env: &TestEnv) -> PathBuf {
    unit_dir(
        env,
        &[
            ("web.container", WEB),
            ("data.volume", DATA),
            ("busybox.image", BUSYBOX),
            ("echo@.container", ECHO),
            ("app.build", APP),
            // a drop-in of this unit, and one of every .container
            (
                "web.container.d/10-label.conf",
                "[Container]\nLabel=from=dropin\n",
            ),
            ("container.d/50-all.conf", "[Container]\nLabel=all=yes\n"),
            // an instance of the template, with a drop-in of the template
            ("echo@one.container", ECHO),
            (
                "echo@.container.d/tz.conf",
                "[Container]\nEnvironment=WHO=%i\n",
            ),
        ],
    )
}

/// `---NAME---` sections of a dry run.
fn sections(stdout: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("---").and_then(|l| l.strip_suffix("---")) {
            out.push((name.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out
}

fn exe() -> String {
    std::fs::canonicalize(coracle_bin())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

both_modes!(
    dryrun_prints_podmans_units,
    generator_writes_units_and_install_links,
    user_generator_reads_the_users_directory,
    an_unknown_key_names_its_file_and_line,
    unsupported_keys_and_types_are_refused_by_name,
    generated_units_pass_systemd_analyze_verify,
    generate_systemd_new_recreates_the_container,
    generate_systemd_new_pod_units_run_the_pod,
    quadlet_install_list_print_rm,
    network_units_make_the_network_containers_join,
    pod_units_run_the_pod_and_its_containers,
    kube_units_play_the_yaml_and_take_it_down,
    process_keys_become_their_run_flags,
    id_map_secret_and_module_keys_reach_the_container,
    pod_keys_map_ids_and_share_them_with_members,
    kube_keys_set_the_user_namespace_and_logs,
    image_build_volume_network_keys_reach_their_commands,
);

/// The [Pod] keys added with their `pod create` flags: the pod's user
/// namespace (UIDMap/GIDMap, which its member shares), /dev/shm size, a
/// volume of every member, addresses and aliases, a module.
fn pod_keys_map_ids_and_share_them_with_members(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let u = test_user();
    let (from, uid_host) = match mode {
        Mode::Root => ("100000", 100000),
        Mode::Rootless => ("1", u.subuid_start),
    };
    let module = env.home.join("pod-mod.conf");
    env.write_user_file(&module, b"[containers]\nenv = [\"FROM_MODULE=yes\"]\n");
    let dir = unit_dir(
        &env,
        &[
            (
                "mp.pod",
                &format!(
                    "[Pod]\nContainersConfModule={}\nUIDMap=0:{from}:5000\nGIDMap=0:{from}:5000\nShmSize=16m\n\
                     Volume=./shared:/shared:ro\n",
                    module.display()
                ),
            ),
            (
                "member.container",
                &format!("[Container]\nImage={img}\nPod=mp.pod\nExec=sleep 30\n"),
            ),
            (
                "net.pod",
                "[Pod]\nIP=10.88.0.50\nIP6=fd00::50\nNetworkAlias=web\nNetworkAlias=www\nUserNS=keep-id\n\
                 SubUIDMap=someone\nSubGIDMap=someone\n",
            ),
            ("shared/hello", "from the host\n"),
        ],
    );
    // readable by the pod's mapped ids
    use std::os::unix::fs::PermissionsExt;
    for (p, m) in [("shared", 0o755), ("shared/hello", 0o644)] {
        std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(m)).unwrap();
    }
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let _reaper = Reaper(&env);
    let out = env.ok(&["quadlet", "--dryrun"]);
    let units = sections(&out);
    let get = |name: &str| {
        units
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("[{mode:?}] no {name} in {out}"))
    };
    let line = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("[{mode:?}] no {key} in {text}"))
            .to_string()
    };
    let exe = exe();
    let d = dir.display();
    let pod = get("mp-pod.service");
    let create = line(&pod, "ExecStartPre");
    assert_eq!(
        create,
        format!(
            "{exe} --module={} pod create --infra-conmon-pidfile=%t/%N.pid --replace --uidmap 0:{from}:5000 \
             --gidmap 0:{from}:5000 --shm-size 16m -v {d}/shared:/shared:ro --infra-name systemd-mp-infra --name systemd-mp",
            module.display()
        ),
        "[{mode:?}]"
    );
    assert!(
        pod.contains(&format!("RequiresMountsFor={d}/shared\n")),
        "[{mode:?}] {pod}"
    );
    let net = line(&get("net-pod.service"), "ExecStartPre");
    assert!(
        net.contains(
            " --userns keep-id --subuidname someone --subgidname someone --ip 10.88.0.50 --ip6 fd00::50 \
             --network-alias web --network-alias www --infra-name "
        ),
        "[{mode:?}] {net}"
    );
    // what systemd would run: the pod, then its member
    let t = env.runtime_dir.to_string_lossy().into_owned();
    for key in ["ExecStartPre", "ExecStart"] {
        env.ok(&expand(&line(&pod, key), &exe, &t, "mp-pod")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>());
    }
    run_as_the_unit(&env, &exec_start(&get("member.service")), "member");
    let seen = env.ok(&[
        "exec",
        "systemd-member",
        "sh",
        "-c",
        "cat /proc/self/uid_map; cat /shared/hello; df -k /dev/shm | tail -1",
    ]);
    let got: Vec<String> = seen
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        got[..2],
        [format!("0 {uid_host} 5000"), "from the host".into()],
        "[{mode:?}] {seen}"
    );
    assert_eq!(
        got[2].split(' ').nth(1),
        Some("16384"),
        "[{mode:?}] /dev/shm: {seen}"
    );
    env.ok(&expand(&line(&pod, "ExecStopPost"), &exe, &t, "mp-pod")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(
        env.ok(&["pod", "ps", "-q"]),
        "",
        "[{mode:?}] the pod is gone"
    );
}

/// The [Kube] keys added with their `kube play` flags: the pods' user
/// namespace (over the YAML's annotation), the log driver and options,
/// a module.
fn kube_keys_set_the_user_namespace_and_logs(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    // root: the YAML asks for keep-id (rootless only), which UserNS=host
    // overrides; rootless: keep-id from the unit
    let (annotation, userns) = match mode {
        Mode::Root => (
            "  annotations:\n    io.podman.annotations.userns: keep-id\n",
            "host",
        ),
        Mode::Rootless => ("", "keep-id"),
    };
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kp\n{annotation}spec:\n  containers:\n  - name: c\n    image: {img}\n\
         \x20   command: [sleep, \"30\"]\n    env:\n    - name: {MARK_VAR}\n      value: \"{}\"\n",
        env.dir.display()
    );
    let module = env.home.join("kube-mod.conf");
    env.write_user_file(&module, b"[containers]\nenv = [\"FROM_MODULE=yes\"]\n");
    let unit = format!(
        "[Kube]\nYaml=kp.yaml\nContainersConfModule={}\nUserNS={userns}\nLogDriver=k8s-file\nLogOpt=tag=kubetag\n",
        module.display()
    );
    let dir = unit_dir(&env, &[("kp.kube", &unit), ("kp.yaml", &yaml)]);
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let _reaper = Reaper(&env);
    let out = env.ok(&["quadlet", "--dryrun"]);
    let service = &sections(&out)[0].1;
    let exe = exe();
    let d = dir.display();
    let start = exec_start(service);
    assert_eq!(
        start,
        format!(
            "{exe} --module={} kube play --replace --log-driver k8s-file --log-opt tag=kubetag --userns {userns} {d}/kp.yaml",
            module.display()
        ),
        "[{mode:?}]"
    );
    let t = env.runtime_dir.to_string_lossy().into_owned();
    env.ok(&expand(&start, &exe, &t, "kp")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let id = env.ok(&["exec", "kp-c", "id", "-u"]);
    let want = match mode {
        Mode::Root => "0".to_string(),
        Mode::Rootless => test_user().uid.to_string(),
    };
    assert_eq!(id.trim(), want, "[{mode:?}] UserNS={userns}");
    let v = env.inspect_container("kp-c");
    assert_eq!(v["HostConfig"]["LogConfig"]["Tag"], "kubetag", "[{mode:?}]");
    assert_eq!(
        v["HostConfig"]["LogConfig"]["Type"], "k8s-file",
        "[{mode:?}]"
    );
    assert_eq!(
        env.ok(&["exec", "kp-c", "sh", "-c", "echo $FROM_MODULE"]),
        "yes\n",
        "[{mode:?}] the module's env"
    );
    let stop = line_of(service, "ExecStopPost");
    env.ok(&expand(&stop, &exe, &t, "kp")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(
        env.ok(&["pod", "ps", "-q"]),
        "",
        "[{mode:?}] the pod is gone"
    );
}

/// The [Image], [Build], [Volume] and [Network] keys added with their
/// flags: pull's policy, retries and certificates; build's environment,
/// annotations, secrets, volumes, ignore file, network; a volume's owner;
/// a dual-stack network with its IPAM driver; each with a module. Each
/// command run as the unit would makes what it says.
fn image_build_volume_network_keys_reach_their_commands(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let src = rt().reference();
    let module = env.home.join("res-mod.conf");
    env.write_user_file(&module, b"[containers]\nenv = [\"FROM_MODULE=yes\"]\n");
    let m = module.display().to_string();
    let base = env.dir.join("units");
    let b = base.display();
    let dir = unit_dir(
        &env,
        &[
            (
                "rt.image",
                &format!(
                    "[Image]\nImage={src}\nContainersConfModule={m}\nPolicy=always\nRetry=1\nRetryDelay=10ms\n\
                     CertDir={b}/certs\n"
                ),
            ),
            (
                "all.image",
                "[Image]\nImage=registry.example/all\nAllTags=true\nDecryptionKey=\n",
            ),
            (
                "app.build",
                &format!(
                    "[Build]\nImageTag=localhost/qk:1\nSetWorkingDirectory=unit\nContainersConfModule={m}\n\
                     Environment=E=fromenv\nAnnotation=a1=v1\nSecret=id=tok,src={b}/secret.txt\n\
                     Volume=./data:/data:ro\nIgnoreFile={b}/myignore\nNetwork=none\nForceRM=false\n\
                     Retry=1\nRetryDelay=10ms\nDNS=10.9.9.9\nDNSOption=ndots:2\nDNSSearch=example.com\n\
                     GroupAdd=10\nArch=amd64\nVariant=v1\n"
                ),
            ),
            (
                "Containerfile",
                &format!(
                    "FROM {src}\nCOPY . /ctx\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /sec\n\
                     RUN cat /data/x > /copied && test ! -e /ctx/skipped.txt\n"
                ),
            ),
            ("secret.txt", "s3cret"),
            ("myignore", "skipped.txt\n"),
            ("skipped.txt", "ignored\n"),
            ("data/x", "from the volume\n"),
            ("certs/.keep", ""),
            (
                "owned.volume",
                &format!("[Volume]\nContainersConfModule={m}\nUID=7\nGID=8\n"),
            ),
            ("plain.volume", "[Volume]\nUser=11\nGroup=12\nCopy=false\n"),
            (
                "dual.network",
                &format!("[Network]\nContainersConfModule={m}\nIPv6=true\nIPAMDriver=host-local\n"),
            ),
        ],
    );
    use std::os::unix::fs::PermissionsExt;
    for (p, mode) in [("data", 0o755), ("data/x", 0o644)] {
        std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let _reaper = Reaper(&env);
    // DecryptionKey= stays refused: coracle cannot decrypt images
    let out = env.fails(&["quadlet", "--dryrun"], 125);
    assert!(
        out.stderr.contains("key 'DecryptionKey' in group 'Image'"),
        "[{mode:?}] {}",
        out.stderr
    );
    env.write_user_file(
        &dir.join("all.image"),
        b"[Image]\nImage=registry.example/all\nAllTags=true\n",
    );
    let out = env.ok(&["quadlet", "--dryrun"]);
    let units = sections(&out);
    let get = |name: &str| {
        units
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| exec_start(t))
            .unwrap_or_else(|| panic!("[{mode:?}] no {name} in {out}"))
    };
    let exe = exe();
    let d = dir.display();
    let pull = get("rt-image.service");
    assert_eq!(
        pull,
        format!(
            "{exe} --module={m} image pull --cert-dir {d}/certs --policy always --retry 1 --retry-delay 10ms {src}"
        ),
        "[{mode:?}]"
    );
    assert_eq!(
        get("all-image.service"),
        format!("{exe} image pull --all-tags registry.example/all"),
        "[{mode:?}]"
    );
    let build = get("app-build.service");
    assert_eq!(
        build,
        format!(
            "{exe} --module={m} build --arch amd64 --ignorefile {d}/myignore --variant v1 --retry 1 --retry-delay 10ms \
             --force-rm=false --dns 10.9.9.9 --dns-option ndots:2 --dns-search example.com --group-add 10 \
             --tag localhost/qk:1 --env E=fromenv --annotation a1=v1 --network none \
             --secret id=tok,src={d}/secret.txt -v {d}/data:/data:ro {d}"
        ),
        "[{mode:?}]"
    );
    let volume = get("owned-volume.service");
    assert_eq!(
        volume,
        format!("{exe} --module={m} volume create --ignore --uid 7 --gid 8 systemd-owned"),
        "[{mode:?}]"
    );
    let plain = get("plain-volume.service");
    assert_eq!(
        plain,
        format!("{exe} volume create --ignore --opt nocopy --opt o=uid=11,gid=12 systemd-plain"),
        "[{mode:?}]"
    );
    let network = get("dual-network.service");
    assert_eq!(
        network,
        format!(
            "{exe} --module={m} network create --ignore --ipam-driver host-local --ipv6 systemd-dual"
        ),
        "[{mode:?}]"
    );

    // what systemd would run
    let t = env.runtime_dir.to_string_lossy().into_owned();
    let run = |line: &str| {
        let args = expand(line, &exe, &t, "x");
        env.ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run(&pull);
    assert!(env.image_names().contains(&src), "[{mode:?}] pulled {src}");
    // the build line less --arch/--variant (a cross build needs an emulator)
    run(&build
        .replace(" --arch amd64", "")
        .replace(" --variant v1", ""));
    let v = env.inspect("localhost/qk:1");
    assert_eq!(v["Annotations"]["a1"], "v1", "[{mode:?}] {v}");
    let mark = env.mark();
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "-e",
            &mark,
            "localhost/qk:1",
            "sh",
            "-c",
            "cat /sec; echo; cat /copied; echo $E"
        ]),
        "s3cret\nfrom the volume\nfromenv\n",
        "[{mode:?}] the build's secret, volume and env"
    );
    run(&volume);
    assert_eq!(
        env.sh(&src, &["-v", "systemd-owned:/v"], "stat -c %u:%g /v")
            .trim(),
        "7:8",
        "[{mode:?}] UID=/GID="
    );
    run(&plain);
    // (what nocopy does is tested in tests/volume.rs)
    assert_eq!(
        env.sh(&src, &["-v", "systemd-plain:/v"], "stat -c %u:%g /v")
            .trim(),
        "11:12",
        "[{mode:?}] User=/Group="
    );
    let inspect = env.ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Options}}",
        "systemd-plain",
    ]);
    assert!(
        inspect.contains("nocopy"),
        "[{mode:?}] Copy=false: {inspect}"
    );
    run(&network);
    let doc: serde_json::Value =
        serde_json::from_str(&env.ok(&["network", "inspect", "systemd-dual"])).unwrap();
    assert_eq!(doc[0]["ipv6_enabled"], true, "[{mode:?}] {doc}");
    assert_eq!(
        doc[0]["ipam_options"]["driver"], "host-local",
        "[{mode:?}] {doc}"
    );
    env.ok(&["network", "rm", "-f", "systemd-dual"]);
}

/// The value of a key of a generated service.
fn line_of(service: &str, key: &str) -> String {
    service
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {service}"))
        .to_string()
}

fn exec_start(service: &str) -> String {
    service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap_or_else(|| panic!("no ExecStart in {service}"))
        .to_string()
}

/// A generated `run` line run as systemd would (less its notify and
/// cgroup parts, `%N` filled in), the container marked for the reaper.
fn run_as_the_unit(env: &TestEnv, start: &str, unit: &str) {
    let mut args: Vec<String> = start
        .replace("%N", unit)
        .split(' ')
        .skip(1)
        .map(String::from)
        .filter(|a| !a.starts_with("--sdnotify") && a != "--cgroups=split")
        .collect();
    let at = args.iter().position(|a| a == "run").unwrap() + 1;
    args.insert(at, env.mark());
    args.insert(at, "-e".into());
    env.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The [Container] keys added with their run flags: id maps, secrets, a
/// containers.conf module, a volatile /tmp, Rootfs= for Image=, the
/// health log destination, SecurityLabelDisable/AppArmor=unconfined (no
/// such confinement here), RemapUsers=keep-id; the container the line
/// makes has them.
fn id_map_secret_and_module_keys_reach_the_container(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let u = test_user();
    let (from, uid_host) = match mode {
        Mode::Root => ("100000", 100000),
        Mode::Rootless => ("1", u.subuid_start),
    };
    let module = env.home.join("quadlet-mod.conf");
    env.write_user_file(&module, b"[containers]\nenv = [\"FROM_MODULE=yes\"]\n");
    env.run_stdin(&["secret", "create", "tok", "-"], b"s3cret");
    let rootfs = env.user_dir("rootfs");
    std::fs::create_dir(rootfs.join("bin")).unwrap();
    std::fs::copy(common::fixtures::BUSYBOX, rootfs.join("bin/busybox")).unwrap();
    for a in ["sh", "cat", "sleep"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
    }
    std::fs::write(rootfs.join("motd"), "from the rootfs\n").unwrap();
    if mode == Mode::Rootless {
        for p in ["bin", "bin/busybox", "motd"] {
            std::os::unix::fs::chown(rootfs.join(p), Some(u.uid), Some(u.gid)).unwrap();
        }
    }
    let dir = unit_dir(
        &env,
        &[
            (
                "mapped.container",
                &format!(
                    "[Container]\nImage={img}\nContainersConfModule={}\nUIDMap=0:{from}:5000\nGIDMap=0:{from}:5000\n\
                     Secret=tok,type=env,target=TOK\nSecret=tok\nRetry=2\nRetryDelay=1s\nVolatileTmp=true\n\
                     SecurityLabelDisable=true\nAppArmor=unconfined\nHealthCmd=true\n\
                     HealthLogDestination=events_logger\nMask=/proc/cpuinfo\nUnmask=/proc/keys\nExec=sleep 30\n",
                    module.display()
                ),
            ),
            (
                "rootfs.container",
                &format!("[Container]\nRootfs={}\nExec=sleep 30\n", rootfs.display()),
            ),
            (
                "remap.container",
                "[Container]\nImage=busybox\nRemapUsers=keep-id\nRemapUid=200\nRemapGid=210\n",
            ),
        ],
    );
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let _reaper = Reaper(&env);
    let out = env.ok(&["quadlet", "--dryrun"]);
    let units = sections(&out);
    let get = |name: &str| {
        units
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| exec_start(t))
            .unwrap_or_else(|| panic!("[{mode:?}] no {name} in {out}"))
    };
    let mapped = get("mapped.service");
    let exe = exe();
    assert!(
        mapped.starts_with(&format!("{exe} --module={} run ", module.display())),
        "[{mode:?}] {mapped}"
    );
    for want in [
        format!(" --uidmap 0:{from}:5000 --gidmap 0:{from}:5000 "),
        " --secret tok,type=env,target=TOK --secret tok ".into(),
        " --retry 2 --retry-delay 1s ".into(),
        " --tmpfs /tmp:rw,size=512M,mode=1777 ".into(),
        " --security-opt label=disable --security-opt apparmor=unconfined ".into(),
        " --health-log-destination events_logger ".into(),
        " --security-opt mask=/proc/cpuinfo --security-opt unmask=/proc/keys ".into(),
    ] {
        assert!(mapped.contains(&want), "[{mode:?}] {want:?} in {mapped}");
    }
    let rootfs_line = get("rootfs.service");
    assert!(
        rootfs_line.ends_with(&format!(" --rootfs {} sleep 30", rootfs.display())),
        "[{mode:?}] {rootfs_line}"
    );
    assert!(
        get("remap.service").contains(" --userns keep-id:uid=200,gid=210 busybox"),
        "[{mode:?}] {out}"
    );

    run_as_the_unit(&env, &mapped, "mapped");
    let seen = env.ok(&[
        "exec",
        "systemd-mapped",
        "sh",
        "-c",
        "cat /proc/self/uid_map; echo $FROM_MODULE $TOK; cat /run/secrets/tok; echo; \
         grep -c '^tmpfs /tmp tmpfs' /proc/mounts; head -c1 /proc/cpuinfo | wc -c; \
         awk '$5 == \"/proc/keys\"' /proc/self/mountinfo | wc -l",
    ]);
    let got: Vec<String> = seen
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        got,
        [
            format!("0 {uid_host} 5000"),
            "yes s3cret".into(),
            "s3cret".into(),
            "1".into(),
            "0".into(),
            "0".into()
        ],
        "[{mode:?}] {seen}"
    );
    let v = env.inspect_container("systemd-mapped");
    assert_eq!(
        v["Config"]["HealthLogDestination"], "events_logger",
        "[{mode:?}]"
    );
    run_as_the_unit(&env, &rootfs_line, "rootfs");
    assert_eq!(
        env.ok(&["exec", "systemd-rootfs", "cat", "/motd"]),
        "from the rootfs\n",
        "[{mode:?}] Rootfs="
    );
    env.ok(&["rm", "-f", "-t", "0", "systemd-mapped", "systemd-rootfs"]);
}

/// The [Container] keys whose run flags exist now (time zone, shm, sysctls,
/// groups, devices, addresses, aliases, exposed ports, log options) reach
/// the generated `run` line, and the container that line makes has them.
fn process_keys_become_their_run_flags(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let dir = unit_dir(
        &env,
        &[(
            "tuned.container",
            &format!(
                "[Container]\nImage={img}\nTimezone=UTC\nShmSize=32m\nSysctl=net.ipv4.ip_forward=1 kernel.msgmax=8192\n\
                 GroupAdd=10\nExposeHostPort=8080\nLogOpt=tag=tuned\nEnvironmentHost=false\n\
                 AddDevice=-/dev/no-such-device\nAddDevice=/dev/null\nExec=sleep 30\n"
            ),
        )],
    );
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let out = env.ok(&["quadlet", "--dryrun"]);
    let units = sections(&out);
    let start = units[0]
        .1
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .unwrap()
        .to_string();
    for want in [
        " --tz UTC ",
        " --shm-size 32m ",
        " --sysctl net.ipv4.ip_forward=1 --sysctl kernel.msgmax=8192 ",
        " --log-opt tag=tuned ",
        " --env-host=false ",
        " --group-add 10 ",
        " --expose 8080 ",
        " --device /dev/null ",
    ] {
        assert!(start.contains(want), "[{mode:?}] {want:?} in {start}");
    }
    assert!(!start.contains("no-such-device"), "[{mode:?}] {start}");
    // The same flags, run as the unit would (less systemd's parts).
    let args: Vec<String> = start["ExecStart=".len()..]
        .replace("%N", "tuned")
        .split(' ')
        .skip(1)
        .map(String::from)
        .filter(|a| {
            !a.starts_with("--cidfile") && !a.starts_with("--sdnotify") && a != "--cgroups=split"
        })
        .collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    env.ok(&refs);
    let v = env.inspect_container("systemd-tuned");
    assert_eq!(v["HostConfig"]["ShmSize"], 32 * 1024 * 1024, "[{mode:?}]");
    assert_eq!(
        v["HostConfig"]["Sysctls"]["kernel.msgmax"], "8192",
        "[{mode:?}]"
    );
    assert_eq!(v["Config"]["Timezone"], "UTC", "[{mode:?}]");
    env.ok(&["rm", "-f", "-t", "0", "systemd-tuned"]);
}

/// A generated command line with systemd's specifiers filled in.
fn expand(line: &str, exe: &str, t: &str, n: &str) -> Vec<String> {
    line.trim_start_matches(&format!("{exe} "))
        .replace("%t", t)
        .replace("%N", n)
        .split(' ')
        .map(String::from)
        .collect()
}

/// A `.kube` unit: a oneshot service running `kube play --replace` with
/// the unit's port and ConfigMap, and `kube down` after it; run as
/// systemd would, the pod serves the ConfigMap's page on the port, a
/// second start replaces it, and the stop removes it with its volume.
fn kube_units_play_the_yaml_and_take_it_down(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let port = free_port();
    let yaml = format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: site-data\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata:\n  name: site\nspec:\n  containers:\n  - name: web\n    image: {img}\n\
         \x20   command: [busybox, httpd, -f, -p, \"80\", -h, /www]\n\
         \x20   env:\n    - name: {MARK_VAR}\n      value: \"{}\"\n\
         \x20   ports:\n    - containerPort: 80\n\
         \x20   volumeMounts:\n    - name: www\n      mountPath: /www\n    - name: data\n      mountPath: /data\n\
         \x20 volumes:\n  - name: www\n    configMap:\n      name: pages\n  - name: data\n    persistentVolumeClaim:\n      claimName: site-data\n",
        env.dir.display()
    );
    let pages = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pages\ndata:\n  index.html: from a quadlet\n";
    let unit = format!(
        "[Kube]\nYaml=app.yaml\nConfigMap=pages.yaml\nPublishPort=127.0.0.1:{port}:80\nKubeDownForce=true\n"
    );
    let dir = unit_dir(
        &env,
        &[
            ("app.kube", &unit),
            ("app.yaml", &yaml),
            ("pages.yaml", pages),
        ],
    );
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let out = env.ok(&["quadlet", "--dryrun"]);
    let units = sections(&out);
    let (_, service) = units
        .iter()
        .find(|(n, _)| n == "app.service")
        .unwrap_or_else(|| panic!("[{mode:?}] no app.service in {out}"));
    let exe = exe();
    let d = dir.display();
    let line = |key: &str| {
        service
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("[{mode:?}] no {key} in {service}"))
            .to_string()
    };
    assert_eq!(
        line("ExecStart"),
        format!("{exe} kube play --replace --configmap {d}/pages.yaml --publish 127.0.0.1:{port}:80 {d}/app.yaml"),
        "[{mode:?}]"
    );
    assert_eq!(
        line("ExecStopPost"),
        format!("{exe} kube down --force {d}/app.yaml"),
        "[{mode:?}]"
    );
    for want in ["Type=oneshot", "RemainAfterExit=yes", "KillMode=mixed"] {
        assert!(service.contains(want), "[{mode:?}] no {want} in {service}");
    }
    let t = env.runtime_dir.to_string_lossy().into_owned();
    let start = expand(&line("ExecStart"), &exe, &t, "app");
    let start: Vec<&str> = start.iter().map(String::as_str).collect();
    env.ok(&start);
    assert_eq!(http_get(mode, port), "from a quadlet", "[{mode:?}]");
    // a restart of the unit replaces the pod
    env.ok(&start);
    assert_eq!(http_get(mode, port), "from a quadlet", "[{mode:?}]");
    let stop = expand(&line("ExecStopPost"), &exe, &t, "app");
    env.ok(&stop.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        env.ok(&["pod", "ps", "-q"]),
        "",
        "[{mode:?}] the pod is gone"
    );
    assert_eq!(
        env.ok(&["volume", "ls", "-q"]),
        "",
        "[{mode:?}] KubeDownForce"
    );
}

fn pod_units_run_the_pod_and_its_containers(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let dir = unit_dir(
        &env,
        &[
            ("app.pod", "[Pod]\nExitPolicy=stop\nLabel=team=a\n"),
            (
                "web.container",
                &format!("[Container]\nImage={img}\nPod=app.pod\nExec=sleep 2\n"),
            ),
            (
                "later.container",
                &format!("[Container]\nImage={img}\nPod=app.pod\nStartWithPod=false\nExec=true\n"),
            ),
        ],
    );
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let _reaper = Reaper(&env);
    let out = env.ok(&["quadlet", "--dryrun"]);
    let units = sections(&out);
    let exe = exe();
    let get = |name: &str| {
        units
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("[{mode:?}] no {name} in {out}"))
    };
    let pod = get("app-pod.service");
    let line = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("[{mode:?}] no {key} in {text}"))
            .to_string()
    };
    assert_eq!(
        line(&pod, "ExecStartPre"),
        format!("{exe} pod create --infra-conmon-pidfile=%t/%N.pid --replace --exit-policy=stop --label team=a --infra-name systemd-app-infra --name systemd-app")
    );
    assert_eq!(
        line(&pod, "ExecStart"),
        format!("{exe} pod start systemd-app")
    );
    assert_eq!(
        line(&pod, "ExecStop"),
        format!("{exe} pod stop --ignore --time=10 systemd-app")
    );
    assert_eq!(
        line(&pod, "ExecStopPost"),
        format!("{exe} pod rm --ignore --force systemd-app")
    );
    assert!(
        pod.contains("Type=forking") && pod.contains("PIDFile=%t/%N.pid"),
        "{pod}"
    );
    assert!(
        pod.contains("Wants=web.service") && pod.contains("Before=web.service"),
        "{pod}"
    );
    assert!(
        !pod.contains("later.service"),
        "[{mode:?}] StartWithPod=false: {pod}"
    );
    let web = get("web.service");
    assert!(web.contains("BindsTo=app-pod.service") && web.contains("After=app-pod.service"));
    // what systemd would run, in its order
    let t = env.runtime_dir.to_string_lossy().into_owned();
    env.ok(&expand(&line(&pod, "ExecStartPre"), &exe, &t, "app-pod")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    // --replace: starting the unit again makes the pod afresh
    env.ok(&expand(&line(&pod, "ExecStartPre"), &exe, &t, "app-pod")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    env.ok(&expand(&line(&pod, "ExecStart"), &exe, &t, "app-pod")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let pidfile = env.runtime_dir.join("app-pod.pid");
    let main_pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        main_pid,
        env.ok(&[
            "inspect",
            "--format",
            "{{.State.ConmonPid}}",
            "systemd-app-infra"
        ])
        .trim(),
        "[{mode:?}] PIDFile is the infra's monitor"
    );
    let mut run = expand(&line(&web, "ExecStart"), &exe, &t, "web");
    let mark = env.mark();
    run.insert(1, mark);
    run.insert(1, "-e".into());
    env.ok(&run.iter().map(String::as_str).collect::<Vec<_>>());
    // ExitPolicy=stop: the pod (and so the unit's main process) ends with its last container
    assert!(
        wait_for(std::time::Duration::from_secs(20), || !process_alive(
            main_pid.parse().unwrap()
        )),
        "[{mode:?}] the infra's monitor outlived the pod's last container"
    );
    let ps = env.ok(&["pod", "ps", "--format", "{{.Name}} {{.Status}}"]);
    assert_eq!(ps.trim(), "systemd-app Exited", "[{mode:?}]");
    env.ok(&expand(&line(&pod, "ExecStop"), &exe, &t, "app-pod")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    env.ok(&expand(&line(&pod, "ExecStopPost"), &exe, &t, "app-pod")
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(
        env.ok(&["pod", "ps", "-q"]),
        "",
        "[{mode:?}] the pod is gone"
    );
    // the pod flags the unit uses refuse what they cannot do
    assert_refused(
        &env,
        &["pod", "create", "--exit-policy", "sometimes", "--name", "x"],
        "invalid pod exit policy",
    );
    assert_refused(&env, &["pod", "create", "--replace"], "without --name");
}

fn network_units_make_the_network_containers_join(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let dir = unit_dir(
        &env,
        &[
            (
                "app.network",
                "[Network]\nSubnet=10.89.40.0/24\nGateway=10.89.40.1\nInternal=true\nLabel=team=a\nNetworkDeleteOnStop=true\n",
            ),
            (
                "web.container",
                "[Container]\nImage=busybox\nNetwork=app.network:alias=www\nExec=sleep 100\n",
            ),
        ],
    );
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let out = env.ok(&["quadlet", "--dryrun"]);
    let units = sections(&out);
    let names: Vec<&str> = units.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["app-network.service", "web.service"],
        "[{mode:?}] {out}"
    );
    let exe = exe();
    let net = &units[0].1;
    let create = format!(
        "ExecStart={exe} network create --ignore --subnet 10.89.40.0/24 --gateway 10.89.40.1 --internal --label team=a systemd-app"
    );
    assert!(net.contains(&create), "[{mode:?}] {net}");
    assert!(net.contains(&format!("ExecStopPost={exe} network rm -f systemd-app")));
    assert!(net.contains("Type=oneshot") && net.contains("RemainAfterExit=yes"));
    let web = &units[1].1;
    assert!(
        web.contains("Requires=app-network.service") && web.contains("After=app-network.service")
    );
    assert!(
        web.contains("--network systemd-app:alias=www"),
        "[{mode:?}] {web}"
    );
    // the unit's command makes the network as described, and again is no error
    let args: Vec<&str> = create
        .trim_start_matches(&format!("ExecStart={exe} "))
        .split(' ')
        .collect();
    env.ok(&args);
    env.ok(&args);
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["network", "inspect", "systemd-app"])).unwrap();
    assert_eq!(v[0]["internal"], true, "[{mode:?}] {v}");
    assert_eq!(v[0]["subnets"][0]["subnet"], "10.89.40.0/24");
    assert_eq!(v[0]["labels"]["team"], "a");
    env.ok(&["network", "rm", "-f", "systemd-app"]);
}

fn dryrun_prints_podmans_units(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let dir = the_set(&env);
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let out = env.ok(&["quadlet", "--dryrun"]);
    let units = sections(&out);
    let names: Vec<&str> = units.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "busybox-image.service",
            "data-volume.service",
            "app-build.service",
            "echo@.service",
            "echo@one.service",
            "web.service"
        ],
        "[{mode:?}] {out}"
    );
    let exe = exe();
    let d = dir.display();
    let web = &units[5].1;
    let expected = format!(
        "[Unit]
Wants=network-online.target
After=network-online.target
Description=A web server
After=data-volume.service
SourcePath={d}/web.container
RequiresMountsFor=%t/coracle
Requires=busybox-image.service
After=busybox-image.service
Requires=data-volume.service
After=data-volume.service
RequiresMountsFor={d}/site

[Service]
Restart=always
Environment=PODMAN_SYSTEMD_UNIT=%n
KillMode=mixed
ExecStop={exe} rm -v -f -i systemd-%N
ExecStopPost=-{exe} rm -v -f -i systemd-%N
Delegate=yes
Type=notify
NotifyAccess=all
SyslogIdentifier=%N
ExecStart={exe} run --name systemd-%N --replace --rm --cgroups=split --memory 64m --sdnotify=healthy -d --user 1000:1000 -v systemd-data:/srv -v {d}/site:/site:ro --label io.containers.autoupdate=registry --publish 8080:8080 --env A=1 --env \"B=two words\" --label from=dropin --label all=yes --health-cmd \"wget -qO- http://127.0.0.1:8080/\" registry.example/busybox:1 httpd -f -p 8080 -h \"/srv/my www\"

[Install]
WantedBy=default.target multi-user.target

[X-Container]
Image=busybox.image
Exec=httpd -f -p 8080 -h \"/srv/my www\"
PublishPort=8080:8080
Volume=data.volume:/srv
Volume=./site:/site:ro
Environment=A=1 \"B=two words\"
HealthCmd=wget -qO- http://127.0.0.1:8080/
Notify=healthy
AutoUpdate=registry
Memory=64m
User=1000
Group=1000
Label=from=dropin
Label=all=yes

"
    );
    assert_eq!(web, &expected, "[{mode:?}] web.service");

    let volume = &units[1].1;
    assert!(
        volume.contains(&format!(
            "ExecStart={exe} volume create --ignore --label app=web systemd-data\n"
        )) && volume.contains("Type=oneshot\nRemainAfterExit=yes\n"),
        "[{mode:?}] {volume}"
    );
    let image = &units[0].1;
    assert!(
        image.contains(&format!(
            "ExecStart={exe} image pull --tls-verify=false registry.example/busybox:1\n"
        )),
        "[{mode:?}] {image}"
    );
    let build = &units[2].1;
    assert!(
        build.contains(&format!("WorkingDirectory={d}\n"))
            && build.contains(&format!(
                "ExecStart={exe} build --tag localhost/app:1 {d}\n"
            ))
            && build.contains("Type=oneshot\n")
            && !build.contains("RemainAfterExit"),
        "[{mode:?}] {build}"
    );
    // the template: named by its instance, the template's drop-in applied
    // to both, the continued Exec= line joined
    for (_, t) in &units[3..5] {
        assert!(
            t.contains(&format!(
                "ExecStart={exe} run --name systemd-%p_%i --replace --rm --cgroups=split --sdnotify=conmon -d --env WHO=%i --label all=yes busybox sh -c \"echo %i\"\n"
            )),
            "[{mode:?}] {t}"
        );
    }
}

fn generator_writes_units_and_install_links(mode: Mode) {
    let env = TestEnv::new(mode);
    let dir = the_set(&env);
    let gen = env.dir.join("coracle-system-generator");
    std::os::unix::fs::symlink(coracle_bin(), &gen).unwrap();
    let out_dir = env.dir.join("generated");
    env.write_user_file(&out_dir.join(".keep"), b"");
    let out = env.run_program(
        "env",
        &[
            &format!("QUADLET_UNIT_DIRS={}", dir.display()),
            &gen.to_string_lossy(),
            &out_dir.to_string_lossy(),
            "/nonexistent-early",
            "/nonexistent-late",
        ],
    );
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let web = std::fs::read_to_string(out_dir.join("web.service")).unwrap();
    assert!(
        web.starts_with("# Automatically generated by coracle-system-generator\n"),
        "[{mode:?}] {web}"
    );
    assert!(web.contains("ExecStart="), "[{mode:?}] {web}");
    for target in ["default.target", "multi-user.target"] {
        let link = out_dir.join(format!("{target}.wants/web.service"));
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("../web.service"),
            "[{mode:?}] {link:?}"
        );
        assert!(std::fs::read_to_string(&link).unwrap() == web);
    }
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".service"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "app-build.service",
            "busybox-image.service",
            "data-volume.service",
            "echo@.service",
            "echo@one.service",
            "web.service"
        ],
        "[{mode:?}]"
    );
    // no output directory: systemd's protocol broken, said so
    let out = env.run_program(
        "env",
        &[
            &format!("QUADLET_UNIT_DIRS={}", dir.display()),
            &gen.to_string_lossy(),
        ],
    );
    assert_eq!(out.status, 1, "[{mode:?}] {out:?}");
    assert_eq!(
        out.stderr, "coracle-system-generator: missing output directory argument\n",
        "[{mode:?}]"
    );
}

fn user_generator_reads_the_users_directory(mode: Mode) {
    let env = TestEnv::new(mode);
    // ~/.config/containers/systemd, podman's first directory of a user
    let dir = env.home.join(".config/containers/systemd");
    env.write_user_file(&dir.join("mine.container"), b"[Container]\nImage=busybox\n");
    let out = env.ok(&["quadlet", "--dryrun", "--user"]);
    let units = sections(&out);
    assert_eq!(units.len(), 1, "[{mode:?}] {out}");
    assert_eq!(units[0].0, "mine.service");
    // a user's systemd has no network-online.target
    assert!(
        !units[0].1.contains("network-online.target")
            && units[0]
                .1
                .contains(&format!("SourcePath={}/mine.container\n", dir.display())),
        "[{mode:?}] {}",
        units[0].1
    );
    // the user generator by its name reads the same directory
    let gen = env.dir.join("coracle-user-generator");
    std::os::unix::fs::symlink(coracle_bin(), &gen).unwrap();
    let out = env.run_program(&gen.to_string_lossy(), &["--dryrun"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert_eq!(sections(&out.stdout)[0].0, "mine.service");
}

fn an_unknown_key_names_its_file_and_line(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let dir = unit_dir(
        &env,
        &[
            ("good.container", "[Container]\nImage=busybox\n"),
            (
                "typo.container",
                "[Container]\nImage=busybox\n# a comment\nImgae=busybox\n",
            ),
        ],
    );
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let out = env.fails(&["quadlet", "--dryrun"], 125);
    assert_eq!(
        out.stderr,
        format!(
            "Error: converting \"typo.container\": unsupported key 'Imgae' in group 'Container' in {}/typo.container:4\n",
            dir.display()
        ),
        "[{mode:?}]"
    );
    // the good file is still generated
    let units = sections(&out.stdout);
    assert_eq!(units.len(), 1, "[{mode:?}] {}", out.stdout);
    assert_eq!(units[0].0, "good.service");

    // a key in a drop-in is named by the drop-in's file and line
    env.write_user_file(
        &dir.join("good.container.d/x.conf"),
        b"[Container]\n\nPublishPorts=80\n",
    );
    let out = env.fails(&["quadlet", "--dryrun"], 125);
    assert!(
        out.stderr.contains(&format!(
            "unsupported key 'PublishPorts' in group 'Container' in {}/good.container.d/x.conf:3\n",
            dir.display()
        )),
        "[{mode:?}] {}",
        out.stderr
    );
    // a line that is not a key, group or comment
    std::fs::remove_file(dir.join("good.container.d/x.conf")).unwrap();
    env.write_user_file(&dir.join("typo.container"), b"[Container]\nImage busybox\n");
    let out = env.fails(&["quadlet", "--dryrun"], 125);
    assert!(
        out.stderr.contains(&format!(
            "{}/typo.container:2: 'Image busybox' is not a key-value pair, group, or comment",
            dir.display()
        )),
        "[{mode:?}] {}",
        out.stderr
    );
}

fn unsupported_keys_and_types_are_refused_by_name(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let dir = unit_dir(
        &env,
        &[
            (
                "label.container",
                "[Container]\nImage=busybox\nSecurityLabelType=spc_t\n",
            ),
            (
                "app.kube",
                "[Kube]\nYaml=app.yaml\nExitCodePropagation=all\n",
            ),
            (
                "nogroup.container",
                "[Container]\nImage=busybox\nGroup=10\n",
            ),
            ("noimage.container", "[Container]\nExec=true\n"),
            // values coracle cannot honour, and podman's conflicts
            (
                "armor.container",
                "[Container]\nImage=busybox\nAppArmor=myprofile\n",
            ),
            (
                "both.container",
                "[Container]\nImage=busybox\nUIDMap=0:1:10\nRemapUsers=keep-id\n",
            ),
            (
                "twice.container",
                "[Container]\nImage=busybox\nRootfs=/srv/root\n",
            ),
        ],
    );
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let out = env.fails(&["quadlet", "--dryrun"], 125);
    let d = dir.display();
    assert_eq!(out.stdout, "", "[{mode:?}]");
    let mut lines: Vec<&str> = out.stderr.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            format!("Error: converting \"app.kube\": key 'ExitCodePropagation' in group 'Kube' in {d}/app.kube:3 is not supported by coracle yet"),
            "Error: converting \"armor.container\": AppArmor=myprofile is not supported by coracle (no AppArmor profiles): only unconfined".to_string(),
            "Error: converting \"both.container\": deprecated Remap keys are set along with explicit mapping keys".to_string(),
            format!("Error: converting \"label.container\": key 'SecurityLabelType' in group 'Container' in {d}/label.container:3 is not supported by coracle yet"),
            "Error: converting \"nogroup.container\": invalid Group set without User".to_string(),
            "Error: converting \"noimage.container\": no Image or Rootfs key specified".to_string(),
            "Error: converting \"twice.container\": the Image And Rootfs keys conflict can not be specified together".to_string(),
        ],
        "[{mode:?}]"
    );
}

fn generated_units_pass_systemd_analyze_verify(mode: Mode) {
    let env = TestEnv::new(mode);
    let dir = the_set(&env);
    let out_dir = env.dir.join("generated");
    let gen = env.dir.join("coracle-system-generator");
    std::os::unix::fs::symlink(coracle_bin(), &gen).unwrap();
    env.write_user_file(&out_dir.join(".keep"), b"");
    let out = env.run_program(
        "env",
        &[
            &format!("QUADLET_UNIT_DIRS={}", dir.display()),
            &gen.to_string_lossy(),
            &out_dir.to_string_lossy(),
        ],
    );
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    let mut units: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".service") && !n.ends_with("@.service"))
        .collect();
    units.sort();
    assert_eq!(units.len(), 5, "[{mode:?}] {units:?}");
    let v = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .current_dir(&out_dir)
        .output()
        .expect("running systemd-analyze (tests/run.sh installs systemd)");
    let stderr = String::from_utf8_lossy(&v.stderr);
    assert!(
        v.status.success() && stderr.trim().is_empty(),
        "[{mode:?}] systemd-analyze verify {units:?}: {:?}\n{stderr}",
        v.status
    );
    // the checker is awake: a unit broken by hand fails it
    let web = out_dir.join("web.service");
    let text = std::fs::read_to_string(&web)
        .unwrap()
        .replace("ExecStart=/", "ExecStart=");
    std::fs::write(&web, text).unwrap();
    let v = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    assert!(
        !v.status.success()
            && String::from_utf8_lossy(&v.stderr)
                .contains("Neither a valid executable name nor an absolute path"),
        "[{mode:?}] {v:?}"
    );
}

fn generate_systemd_new_recreates_the_container(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = busybox().reference();
    env.pull(&img);
    env.ok(&[
        "create",
        "--name",
        "web",
        "-e",
        "A=1 2",
        "--label",
        "x=y",
        "--network",
        "none",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo $HOME 100%",
    ]);
    let exe = exe();
    let root_flags = match mode {
        Mode::Root => format!(
            " \\\n\t--root {} \\\n\t--runroot {}",
            env.store_dir().display(),
            env.runroot_dir().display()
        ),
        Mode::Rootless => String::new(),
    };
    let stop_flags = root_flags.replace(" \\\n\t", " ");
    let out = env.ok(&[
        "generate",
        "systemd",
        "--new",
        "--name",
        "--no-header",
        "web",
    ]);
    let expected = format!(
        "# container-web.service

[Unit]
Description=coracle container-web.service
Documentation=man:podman-generate-systemd(1)
Wants=network-online.target
After=network-online.target
RequiresMountsFor={runroot}

[Service]
Environment=PODMAN_SYSTEMD_UNIT=%n
Restart=on-failure
TimeoutStopSec=70
ExecStart={exe}{root_flags} run \\
\t--cidfile=%t/%n.ctr-id \\
\t--cgroups=no-conmon \\
\t--rm \\
\t--sdnotify=conmon \\
\t-d \\
\t--replace \\
\t--name web \\
\t-e \"A=1 2\" \\
\t--label x=y \\
\t--network none {img} sh \\
\t-c \"echo $$HOME 100%%\"
ExecStop={exe}{stop_flags} stop \\
\t--ignore -t 10 \\
\t--cidfile=%t/%n.ctr-id
ExecStopPost={exe}{stop_flags} rm \\
\t-f \\
\t--ignore -t 10 \\
\t--cidfile=%t/%n.ctr-id
Type=notify
NotifyAccess=all

[Install]
WantedBy=default.target
",
        runroot = env.runroot_dir().display(),
    );
    assert_eq!(out, expected, "[{mode:?}]");

    // --files: written to the current directory (the test's, the user's
    // own), its path printed
    if mode == Mode::Rootless {
        let u = test_user();
        std::os::unix::fs::chown(&env.dir, Some(u.uid), Some(u.gid)).unwrap();
    }
    let out = env.ok(&[
        "generate",
        "systemd",
        "--new",
        "--files",
        "-t",
        "3",
        "--restart-policy",
        "always",
        "--after",
        "db.service",
        "web",
    ]);
    let id = env
        .ok(&["inspect", "web", "--format", "{{.Id}}"])
        .trim()
        .to_string();
    let path = env.dir.join(format!("container-{id}.service"));
    assert_eq!(out, format!("{}\n", path.display()), "[{mode:?}]");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&format!(
            "# container-{id}.service\n# autogenerated by coracle "
        )) && text.contains("\n# User-defined dependencies\nAfter=db.service\n")
            && text.contains("\nRestart=always\nTimeoutStopSec=63\n")
            && text.contains("\t--ignore -t 3 \\\n\t--cidfile=%t/%n.ctr-id\n"),
        "[{mode:?}] {text}"
    );
    let v = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&v.stderr);
    assert!(
        v.status.success() && !stderr.contains(&format!("container-{id}.service")),
        "[{mode:?}] {v:?}"
    );

    // --template: NAME@.service, each instance a container NAME-INSTANCE;
    // --env: KEY=VALUE, KEY from here, PREFIX* (unset KEY: left out)
    env.set_env("GEN_HOST", "from here");
    env.set_env("GENP_A", "1");
    env.set_env("GENP_B", "2");
    let out = env.ok(&[
        "generate",
        "systemd",
        "--template",
        "--name",
        "--no-header",
        "-e",
        "GIVEN=x y",
        "--env",
        "GEN_HOST",
        "-e",
        "GEN_UNSET_HERE",
        "-e",
        "GENP_*",
        "--stop-timeout",
        "4",
        "web",
    ]);
    assert!(
        out.starts_with("# container-web@.service\n")
            && out.contains(
                "Environment=PODMAN_SYSTEMD_UNIT=%n-%i\nEnvironment=\"GIVEN=x y\"\nEnvironment=\"GEN_HOST=from here\"\nEnvironment=GENP_A=1\nEnvironment=GENP_B=2\nRestart="
            )
            && !out.contains("GEN_UNSET_HERE")
            && out.contains("\t--name web-%i \\\n")
            && out.contains("\t--ignore -t 4 \\\n\t--cidfile=%t/%n.ctr-id\n"),
        "[{mode:?}] {out}"
    );
    let out = env.ok(&[
        "generate",
        "systemd",
        "--template",
        "--files",
        "--name",
        "web",
    ]);
    let path = env.dir.join("container-web@.service");
    assert_eq!(out, format!("{}\n", path.display()), "[{mode:?}]");
    let v = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(env.dir.join("container-web@x.service"))
        .current_dir(&env.dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&v.stderr);
    assert!(
        !stderr.contains("container-web@"),
        "[{mode:?}] systemd-analyze on an instance: {v:?}"
    );

    // refusals, one line each
    let out = env.fails(&["generate", "systemd", "web"], 125);
    assert_eq!(
        out.stderr,
        "Error: generate systemd: only --new is supported: coracle keeps no pid file of a container's monitor for a unit to start an existing container with\n",
        "[{mode:?}]"
    );
    let out = env.fails(
        &[
            "generate",
            "systemd",
            "--new",
            "--restart-policy",
            "sometimes",
            "web",
        ],
        125,
    );
    assert_eq!(
        out.stderr, "Error: sometimes is not a valid restart policy\n",
        "[{mode:?}]"
    );
    // --stop-timeout and its older spelling -t/--time: one or the other
    let out = env.fails(
        &[
            "generate",
            "systemd",
            "--new",
            "--stop-timeout",
            "5",
            "-t",
            "6",
            "web",
        ],
        125,
    );
    assert_eq!(
        out.stderr, "Error: stop-timeout and time are redundant and cannot be used together\n",
        "[{mode:?}]"
    );
    let out = env.fails(&["generate", "systemd", "--new", "nosuch"], 125);
    assert!(
        out.stderr.starts_with("Error: ") && out.stderr.lines().count() == 1,
        "[{mode:?}] {}",
        out.stderr
    );
    env.ok(&["rm", "web"]);
}

/// The command lines of a unit's `KEY=` entries, continuations joined and
/// systemd's `%t` as `rt`.
fn exec_lines(unit: &str, key: &str, rt: &Path) -> Vec<String> {
    let prefix = format!("{key}=");
    // systemd's %n: the unit's name, from its first line "# NAME"
    let name = unit.lines().next().unwrap_or("").trim_start_matches("# ");
    unit.replace(" \\\n\t", " ")
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|l| l.replace("%t", rt.to_str().unwrap()).replace("%n", name))
        .collect()
}

/// `generate systemd --new POD`: the pod's unit (named with `--pod-prefix`)
/// makes the pod and follows its infra's monitor; each member's unit is
/// bound to it and joins it by the pod id file. Their command lines, run
/// as systemd would, start and remove the pod and its containers.
fn generate_systemd_new_pod_units_run_the_pod(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    env.ok(&["pod", "create", "--name", "sp"]);
    env.ok(&[
        "create", "--pod", "sp", "--name", "c1", &img, "sleep", "1000",
    ]);
    env.ok(&["create", "--pod=sp", "--name", "c2", &img, "true"]);
    let out = env.ok(&[
        "generate",
        "systemd",
        "--new",
        "--name",
        "--no-header",
        "--pod-prefix",
        "pd",
        "sp",
    ]);
    assert!(
        out.starts_with("# pd-sp.service\n")
            && out.contains("\nWants=container-c1.service container-c2.service\nBefore=container-c1.service container-c2.service\n")
            && out.contains(" pod create \\\n\t--infra-conmon-pidfile %t/pd-sp.pid \\\n\t--pod-id-file %t/pd-sp.pod-id \\\n\t--exit-policy=stop \\\n\t--name sp \\\n\t--replace\n")
            && out.contains("\nPIDFile=%t/pd-sp.pid\nType=forking\n")
            && out.contains("WantedBy=default.target\n# container-c1.service\n")
            && out.contains("\nBindsTo=pd-sp.service\nAfter=pd-sp.service\n")
            && out.contains("\t--rm \\\n\t--pod-id-file %t/pd-sp.pod-id \\\n")
            && !out.contains("--pod sp")
            && !out.contains("--pod=sp"),
        "[{mode:?}] {out}"
    );
    let json: serde_json::Value = serde_json::from_str(&env.ok(&[
        "generate", "systemd", "--new", "--name", "--format", "json", "sp",
    ]))
    .unwrap();
    let units = json.as_object().unwrap();
    assert_eq!(
        units.keys().collect::<Vec<_>>(),
        ["container-c1", "container-c2", "pod-sp"],
        "[{mode:?}] the default prefix"
    );
    let pod_unit = units["pod-sp"].as_str().unwrap().to_string();
    let c1_unit = units["container-c1"].as_str().unwrap().to_string();

    // Run the units' command lines as systemd would, in a runtime dir.
    env.ok(&["pod", "rm", "-f", "-t", "0", "sp"]);
    let rt = env.home.join("rt");
    env.write_user_file(&rt.join(".keep"), b"");
    let sh = |line: &String| {
        let out = env.run_program("sh", &["-c", line]);
        assert_eq!(out.status, 0, "[{mode:?}] {line}: {out:?}");
    };
    for key in ["ExecStartPre", "ExecStart"] {
        exec_lines(&pod_unit, key, &rt).iter().for_each(sh);
    }
    // systemd follows the infra's monitor through the pid file
    let pid = std::fs::read_to_string(rt.join("pod-sp.pid")).unwrap();
    assert!(
        Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "[{mode:?}] pid file {pid:?}"
    );
    exec_lines(&c1_unit, "ExecStart", &rt).iter().for_each(sh);
    // stop and rm find it by the id file run wrote; rm takes the file away,
    // so the unit starts again
    let cid_file = rt.join("container-c1.service.ctr-id");
    let c1_id = env.ok(&["inspect", "c1", "--format", "{{.Id}}"]);
    assert_eq!(
        std::fs::read_to_string(&cid_file)
            .unwrap_or_default()
            .trim(),
        c1_id.trim(),
        "[{mode:?}]"
    );
    for key in ["ExecStop", "ExecStopPost", "ExecStart"] {
        exec_lines(&c1_unit, key, &rt).iter().for_each(sh);
    }
    assert!(cid_file.exists(), "[{mode:?}] restarted");
    assert_eq!(
        env.ok(&[
            "ps",
            "--format",
            "{{.Names}} {{.PodName}}",
            "--filter",
            "name=^c1$"
        ]),
        "c1 sp\n",
        "[{mode:?}]"
    );
    for key in ["ExecStop", "ExecStopPost"] {
        exec_lines(&c1_unit, key, &rt).iter().for_each(sh);
    }
    assert!(!cid_file.exists(), "[{mode:?}] the id file went with c1");
    for key in ["ExecStop", "ExecStopPost"] {
        exec_lines(&pod_unit, key, &rt).iter().for_each(sh);
    }
    assert_eq!(env.run(&["pod", "exists", "sp"]).status, 1, "[{mode:?}]");
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");

    // --files: one file each, their paths printed; systemd reads the pod's
    env.ok(&["pod", "create", "--name", "fp"]);
    env.ok(&["create", "--pod", "fp", "--name", "m", &img, "true"]);
    if mode == Mode::Rootless {
        let u = test_user();
        std::os::unix::fs::chown(&env.dir, Some(u.uid), Some(u.gid)).unwrap();
    }
    let out = env.ok(&["generate", "systemd", "--new", "--files", "--name", "fp"]);
    let pod_file = env.dir.join("pod-fp.service");
    assert_eq!(
        out,
        format!(
            "{}\n{}\n",
            pod_file.display(),
            env.dir.join("container-m.service").display()
        ),
        "[{mode:?}]"
    );
    let v = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&pod_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&v.stderr);
    assert!(!stderr.contains("pod-fp.service"), "[{mode:?}] {v:?}");

    // refusals
    let out = env.fails(&["generate", "systemd", "--template", "fp"], 125);
    assert_eq!(
        out.stderr, "Error: --template is not supported for pods\n",
        "[{mode:?}]"
    );
    env.ok(&["pod", "create", "--name", "empty"]);
    let out = env.fails(&["generate", "systemd", "--new", "empty"], 125);
    assert_eq!(
        out.stderr, "Error: generating systemd unit files: Pod \"empty\" has no containers\n",
        "[{mode:?}]"
    );
    env.ok(&["pod", "create", "--infra=false", "--name", "bare"]);
    let out = env.fails(&["generate", "systemd", "--new", "bare"], 125);
    assert_eq!(
        out.stderr, "Error: generating systemd unit files: Pod \"bare\" has no infra container\n",
        "[{mode:?}]"
    );
    env.ok(&["pod", "rm", "-a", "-f", "-t", "0"]);
}

/// The calling user's install directory: root's is the system's.
fn install_dir(env: &TestEnv) -> PathBuf {
    match env.mode {
        Mode::Root => PathBuf::from("/etc/containers/systemd"),
        Mode::Rootless => env.home.join(".config/containers/systemd"),
    }
}

fn quadlet_install_list_print_rm(mode: Mode) {
    let mut env = TestEnv::new(mode);
    // a stand-in systemctl that records what it was asked
    let bin = env.dir.join("fakebin");
    mkdir_mode(&bin, 0o755);
    let log = env.dir.join("systemctl.log");
    env.write_user_file(&log, b"");
    std::fs::write(
        bin.join("systemctl"),
        format!("#!/bin/sh\necho \"$*\" >> {}\nexit 1\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("systemctl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    env.set_env(
        "PATH",
        &format!(
            "{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            bin.display()
        ),
    );
    let name = unique("inst").replace('-', "x");
    let src = env.dir.join("src");
    let file = format!("{name}.container");
    let text = format!("# mine\n[Container]\nImage=busybox\nPod={name}.pod\n");
    env.write_user_file(&src.join(&file), text.as_bytes());
    env.write_user_file(&src.join("app.conf"), b"setting=1\n");
    let dir = install_dir(&env);

    let out = env.ok(&[
        "quadlet",
        "install",
        "--reload-systemd=false",
        &src.join(&file).to_string_lossy(),
        &src.join("app.conf").to_string_lossy(),
    ]);
    assert_eq!(
        out,
        format!("{}/{file}\n{}/app.conf\n", dir.display(), dir.display()),
        "[{mode:?}]"
    );
    assert_eq!(std::fs::read_to_string(dir.join(&file)).unwrap(), text);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "",
        "[{mode:?}] not reloaded"
    );

    // again: refused unless --replace; the default reloads systemd
    let out = env.fails(
        &["quadlet", "install", &src.join(&file).to_string_lossy()],
        125,
    );
    assert_eq!(
        out.stderr,
        format!("Error: a Quadlet with name {file} already exists, refusing to overwrite (use --replace)\n"),
        "[{mode:?}]"
    );
    let out = env.fails(
        &[
            "quadlet",
            "install",
            "--replace",
            &src.join(&file).to_string_lossy(),
        ],
        125,
    );
    assert!(
        out.stderr
            .starts_with("Error: systemctl daemon-reload: exit status: 1"),
        "[{mode:?}] {}",
        out.stderr
    );
    let reload = match mode {
        Mode::Root => "daemon-reload\n",
        Mode::Rootless => "--user daemon-reload\n",
    };
    assert_eq!(std::fs::read_to_string(&log).unwrap(), reload, "[{mode:?}]");

    // list: podman's columns; systemd does not know the unit
    let out = env.ok(&["quadlet", "list", "--filter", &format!("name={name}*")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "[{mode:?}] {out}");
    assert!(
        lines[0].starts_with("NAME")
            && lines[0].contains("UNIT NAME")
            && lines[0].contains("PATH ON DISK")
            && lines[0].contains("STATUS")
            && lines[0].contains("APPLICATION")
            && lines[0].ends_with("POD"),
        "[{mode:?}] {out}"
    );
    let fields: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        fields,
        [
            file.as_str(),
            &format!("{name}.service"),
            &format!("{}/{file}", dir.display()),
            "Not",
            "loaded",
            &format!("{name}.pod")
        ],
        "[{mode:?}] {out}"
    );
    let out = env.ok(&[
        "quadlet",
        "list",
        "--filter",
        &format!("name={name}*"),
        "--format",
        "{{.UnitName}} {{.Status}}",
    ]);
    assert_eq!(out, format!("{name}.service Not loaded\n"), "[{mode:?}]");
    let out = env.ok(&[
        "quadlet",
        "list",
        "--filter",
        "name=nothing-like-this*",
        "--noheading",
    ]);
    assert_eq!(out, "", "[{mode:?}]");

    // print: the file as written, comments too
    assert_eq!(env.ok(&["quadlet", "print", &file]), text, "[{mode:?}]");
    let out = env.fails(&["quadlet", "print", "nosuch.container"], 125);
    assert_eq!(
        out.stderr, "Error: quadlet \"nosuch.container\" not found\n",
        "[{mode:?}]"
    );

    // rm
    let out = env.ok(&["quadlet", "rm", "--reload-systemd=false", &file]);
    assert_eq!(out, format!("{file}\n"), "[{mode:?}]");
    assert!(!dir.join(&file).exists());
    let out = env.fails(&["quadlet", "rm", "--reload-systemd=false", &file], 125);
    assert_eq!(
        out.stderr,
        format!(
            "Error: {file}: no such Quadlet installed in {}\n",
            dir.display()
        ),
        "[{mode:?}]"
    );
    assert_eq!(
        env.ok(&["quadlet", "rm", "-i", "--reload-systemd=false", &file]),
        ""
    );
    let out = env.fails(&["quadlet", "--dryrun", "list"], 125);
    assert!(
        out.stderr
            .starts_with("Error: quadlet: --dryrun and --user go without a verb"),
        "[{mode:?}]"
    );
    std::fs::remove_file(dir.join("app.conf")).unwrap();
}
