//! Named networks, root and rootless: `network create/ls/inspect/exists/
//! rm/prune`; containers on a bridge that find each other by name and
//! alias (busybox wget and nslookup, glibc's getent) through the network's
//! name server, published ports, `--internal`, connect and disconnect,
//! parallel starts with distinct addresses, `network rm` of a network in
//! use, and nothing left behind after a killed monitor or a prune; and
//! `unshare`.
//!
//! Root tests share the host's network namespace: each uses its own
//! subnet (10.89.K.0/24) and bridge name. Rootless ones have the rootless
//! network namespace of their own store, seen through `coracle unshare
//! --rootless-netns`.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use common::oci::*;
use common::*;
use serde_json::Value;

const INDEX: &str = "hello from the db container\n";

/// busybox, and glibc's getent with the libraries it needs.
fn net_image() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| {
        let mut t = TarBuilder::new();
        for d in ["usr", "usr/bin", "lib", "lib/x86_64-linux-gnu", "lib64"] {
            t.dir(d, 0o755, 0, 0);
        }
        for f in [
            "/usr/bin/getent",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2",
        ] {
            let data = std::fs::read(f).unwrap_or_else(|e| panic!("{f}: {e}"));
            t.file(&f[1..], &data, 0o755, 0, 0);
        }
        t.symlink("bin/nslookup", "busybox");
        t.symlink("bin/httpd", "busybox");
        let img = build_image(
            &ImageSpec::new("net"),
            vec![
                busybox_layer().clone(),
                Layer::new(&t.finish(), Compression::Gzip),
            ],
        );
        push_unique(&img, "net")
    })
}

fn image(env: &TestEnv) -> String {
    let r = net_image().reference();
    env.pull(&r);
    r
}

/// A network for this test: subnet 10.89.K.0/24 and a bridge name no
/// other test process uses. Returns its (unique) name.
fn create_net(env: &TestEnv, k: u8, extra: &[&str]) -> String {
    remove_stale_bridges(k);
    let name = unique("net");
    let subnet = format!("10.89.{k}.0/24");
    let bridge = bridge_name(k);
    let mut args = vec![
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
    ];
    args.extend_from_slice(extra);
    args.push(&name);
    assert_eq!(env.ok(&args).trim(), name, "[{:?}]", env.mode);
    name
}

/// Bridges of test processes that died (a failed run whose containers
/// were killed with their monitors) would hold the subnet.
fn remove_stale_bridges(k: u8) {
    let prefix = format!("cot{k}p");
    for e in std::fs::read_dir("/sys/class/net").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(&prefix) else {
            continue;
        };
        let ours = pid.parse::<u32>() == Ok(std::process::id() % 100_000);
        let alive = std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
            p.file_name()
                .to_string_lossy()
                .parse::<u32>()
                .is_ok_and(|n| n % 100_000 == pid.parse().unwrap_or(u32::MAX))
                && std::fs::read_to_string(p.path().join("comm"))
                    .is_ok_and(|c| c.starts_with("networks"))
        });
        if !ours && !alive {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", &name])
                .status();
        }
    }
}

fn bridge_name(k: u8) -> String {
    format!("cot{k}p{}", std::process::id() % 100_000)
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The veths on a bridge (its ports).
fn bridge_ports(bridge: &str) -> Vec<String> {
    std::fs::read_dir(Path::new("/sys/class/net").join(bridge).join("brif"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Live name servers of network `name` (their title is `coracle dns NAME`).
fn dns_servers(name: &str) -> Vec<i32> {
    let want = format!("coracle dns {name}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_string_lossy().parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd);
            (cmd.trim_end_matches(['\0', ' ']) == want && process_alive(pid)).then_some(pid)
        })
        .collect()
}

fn nft_map(map: &str) -> String {
    let out = std::process::Command::new("nft")
        .args(["list", "map", "ip", "coracle", map])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip_of(env: &TestEnv, ctr: &str, net: &str) -> String {
    let f = format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}");
    env.ok(&["inspect", "--format", &f, ctr]).trim().to_string()
}

/// The links of the namespace the mode's networks live in: the host's, or
/// the rootless network namespace (which must be running: asking for it
/// would make it).
fn links(env: &TestEnv) -> Vec<String> {
    if env.mode == Mode::Root {
        return std::fs::read_dir("/sys/class/net")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
    }
    assert!(
        rootless_netns_supervisor(env).is_some(),
        "no rootless netns"
    );
    parse_links(&env.ok(&["unshare", "--rootless-netns", "ip", "-o", "link"]))
}

/// `ip -o link` lines to link names (`4: veth0@if2: <...` -> `veth0`).
fn parse_links(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

fn has_link(env: &TestEnv, name: &str) -> bool {
    links(env).iter().any(|l| l == name)
}

/// The veths on a bridge, in the mode's namespace.
fn ports_of(env: &TestEnv, bridge: &str) -> Vec<String> {
    if env.mode == Mode::Root {
        return bridge_ports(bridge);
    }
    parse_links(&env.ok(&[
        "unshare",
        "--rootless-netns",
        "ip",
        "-o",
        "link",
        "show",
        "master",
        bridge,
    ]))
}

/// The supervisor of the store's rootless network namespace, if it runs.
fn rootless_netns_supervisor(env: &TestEnv) -> Option<i32> {
    let state = std::fs::read_to_string(env.runroot_dir().join("rootless-netns/state")).ok()?;
    let pid: i32 = state.split_whitespace().next()?.parse().ok()?;
    process_alive(pid).then_some(pid)
}

/// Rootless: with no member left, nothing of the rootless network
/// namespace runs (its supervisor checks every second); root: the
/// bridge is gone.
fn assert_network_gone(env: &TestEnv, k: u8) {
    if env.mode == Mode::Root {
        assert!(!link_exists(&bridge_name(k)), "the bridge is left");
        return;
    }
    let sup = std::fs::read_to_string(env.runroot_dir().join("rootless-netns/state"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<i32>().ok());
    assert!(
        wait_for(Duration::from_secs(4), || {
            sup.is_none_or(|p| !process_alive(p)) && rootless_netns_supervisor(env).is_none()
        }),
        "the rootless network namespace outlived its members"
    );
    let title = format!("{}", env.runroot_dir().join("rootless-netns").display());
    let pasta: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("pasta") && c.contains(&title))
        .collect();
    assert!(pasta.is_empty(), "pasta is left: {pasta:?}");
}

both_modes!(network_verbs_work_as_podmans);
fn network_verbs_work_as_podmans(mode: Mode) {
    let env = TestEnv::new(mode);
    // The default network is there from the start, and stays.
    assert_eq!(env.ok(&["network", "ls", "-q"]), "podman\n");
    let d: Value = serde_json::from_str(&env.ok(&["network", "inspect", "podman"])).unwrap();
    assert_eq!(d[0]["subnets"][0]["subnet"], "10.88.0.0/16", "{d}");
    assert_eq!(d[0]["network_interface"], "podman0");
    assert_eq!(d[0]["dns_enabled"], false);

    // Automatic subnets skip those in use.
    env.ok(&[
        "network",
        "create",
        "--subnet",
        "10.89.0.0/24",
        "--interface-name",
        &bridge_name(100),
        "--label",
        "team=web",
        "first",
    ]);
    assert_eq!(env.ok(&["network", "create", "app"]), "app\n");
    let d: Value = serde_json::from_str(&env.ok(&["network", "inspect", "app"])).unwrap();
    let n = &d[0];
    assert_eq!(n["name"], "app");
    assert_eq!(n["driver"], "bridge");
    assert_eq!(n["id"].as_str().unwrap().len(), 64, "{n}");
    assert_eq!(n["subnets"][0]["subnet"], "10.89.1.0/24", "{n}");
    assert_eq!(n["subnets"][0]["gateway"], "10.89.1.1");
    assert_eq!(n["dns_enabled"], true);
    assert_eq!(n["internal"], false);
    assert_eq!(n["ipam_options"]["driver"], "host-local");
    assert!(n["network_interface"]
        .as_str()
        .unwrap()
        .starts_with("podman"));
    assert_eq!(n["containers"], serde_json::json!({}));
    // The file is netavark's, under the store.
    let file = env.store_dir().join("networks/app.json");
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(on_disk["subnets"], n["subnets"]);

    env.ok(&[
        "network",
        "create",
        "--subnet",
        "10.89.7.0/24",
        "--gateway",
        "10.89.7.254",
        "--ip-range",
        "10.89.7.128/25",
        "--internal",
        "--disable-dns",
        "--interface-name",
        &bridge_name(101),
        "backend",
    ]);
    let b: Value = serde_json::from_str(&env.ok(&["network", "inspect", "backend"])).unwrap();
    assert_eq!(b[0]["internal"], true);
    assert_eq!(b[0]["dns_enabled"], false);
    assert_eq!(b[0]["subnets"][0]["gateway"], "10.89.7.254");
    assert_eq!(b[0]["subnets"][0]["lease_range"]["start_ip"], "10.89.7.129");

    assert_eq!(
        env.ok(&[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Internal}}"
        ]),
        "app bridge false\nbackend bridge true\nfirst bridge false\npodman bridge false\n"
    );
    let table = env.ok(&["network", "ls"]);
    assert!(
        table.starts_with("NETWORK ID    NAME        DRIVER\n"),
        "{table}"
    );
    assert_eq!(
        env.ok(&["network", "ls", "-q", "--filter", "label=team=web"]),
        "first\n"
    );
    assert_eq!(
        env.ok(&["network", "ls", "-q", "--filter", "name=^back"]),
        "backend\n"
    );
    assert_eq!(
        env.ok(&[
            "network",
            "inspect",
            "--format",
            "{{.Name}} {{.NetworkInterface}}",
            "backend"
        ]),
        format!("backend {}\n", bridge_name(101))
    );
    env.ok(&["network", "exists", "app"]);
    env.fails(&["network", "exists", "nope"], 1);

    // Bad input: one line, 125, nothing changed.
    let before = env.ok(&["network", "ls", "-q"]);
    for bad in [
        vec!["network", "create", "app"],
        vec!["network", "create", "--subnet", "bogus", "x1"],
        vec!["network", "create", "--subnet", "10.89.1.0/24", "x2"],
        vec!["network", "create", "--gateway", "10.0.0.1", "x3"],
        vec!["network", "create", "-d", "macvlan", "x4"],
        vec!["network", "create", "--opt", "bogus=1", "x5"],
        vec!["network", "create", "--subnet", "fd00:1::/130", "x6"],
        vec![
            "network",
            "create",
            "--subnet",
            "fd00:1::/64",
            "--subnet",
            "fd00:2::/64",
            "x7",
        ],
        vec![
            "network",
            "create",
            "--subnet",
            "fd00:1::/64",
            "--gateway",
            "fd00:2::1",
            "x8",
        ],
        vec!["network", "create", "bad name"],
        vec!["network", "rm", "podman"],
    ] {
        let out = env.fails(&bad, 125);
        assert_eq!(out.stderr.lines().count(), 1, "{bad:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("Error: "), "{bad:?}: {}", out.stderr);
    }
    assert_eq!(env.ok(&["network", "ls", "-q"]), before);
    let out = env.fails(&["network", "rm", "nope"], 1);
    assert_eq!(
        out.stderr,
        "Error: unable to find network with name or ID nope: network not found\n"
    );
    assert_eq!(env.ok(&["network", "create", "--ignore", "app"]), "app\n");

    assert_eq!(env.ok(&["network", "rm", "first"]), "first\n");
    assert!(!env.store_dir().join("networks/first.json").exists());
    assert_eq!(
        env.ok(&["network", "prune", "-f", "--filter", "label=x"]),
        ""
    );
    let pruned: BTreeSet<String> = env
        .ok(&["network", "prune", "-f"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(pruned, ["app", "backend"].map(String::from).into());
    assert_eq!(env.ok(&["network", "ls", "-q"]), "podman\n");
}

/// An HTTP server in the test process on every host address: what a
/// container reaches when it has a way out.
fn host_http_server() -> u16 {
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\nhost-ok\n");
        }
    });
    port
}

/// The host's address on its default route.
fn host_address() -> Ipv4Addr {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("198.51.100.1:9").unwrap();
    match s.local_addr().unwrap().ip() {
        std::net::IpAddr::V4(a) => a,
        other => panic!("no IPv4 host address: {other}"),
    }
}

both_modes!(containers_find_each_other_by_name_and_alias);
fn containers_find_each_other_by_name_and_alias(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(&env, 110, &[]);
    let www = www_dir(&env, INDEX);
    let port = free_port();
    let publish = format!("{port}:80");
    env.run_detached(
        "db",
        &[
            "--network",
            &net,
            "--network-alias",
            "database",
            "-p",
            &publish,
            "-v",
            &www,
        ],
        &img,
        HTTPD,
    );
    let db_ip = ip_of(&env, "db", &net);
    assert!(db_ip.starts_with("10.89.110."), "{db_ip}");
    // A later container finds the earlier one by name and by alias.
    let out = env.sh(
        &img,
        &["--network", &net],
        "wget -qO- http://db/ && wget -qO- http://database/ && nslookup db && getent hosts database",
    );
    assert_eq!(out.matches(INDEX).count(), 2, "{out}");
    assert!(out.contains(&format!("Address: {db_ip}")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&db_ip) && l.contains(" database")),
        "getent hosts database: {out}"
    );
    // Published on the host (root: DNAT to the container's address;
    // rootless: the relay into its namespace).
    assert_eq!(http_get(mode, port), INDEX);
    let ps = env.ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(ps.trim(), format!("0.0.0.0:{port}->80/tcp"));
    // The earlier one finds a later one, and loses it once it stops.
    env.run_detached("late", &["--network", &net], &img, &["sleep", "600"]);
    let late_ip = ip_of(&env, "late", &net);
    assert_ne!(late_ip, db_ip);
    let found = env.ok(&["exec", "db", "nslookup", "late"]);
    assert!(found.contains(&format!("Address: {late_ip}")), "{found}");
    env.ok(&["rm", "-f", "-t", "0", "late"]);
    let gone = env.run(&["exec", "db", "nslookup", "late"]);
    assert!(!gone.stdout.contains(&late_ip), "{gone:?}");
    // Names outside the network are not the network's: no answer for a
    // member's name from another network.
    env.ok(&["rm", "-f", "-t", "0", "db"]);
    assert!(
        wait_for(Duration::from_secs(3), || dns_servers(&net).is_empty()),
        "the name server outlived the network's containers"
    );
    assert_network_gone(&env, 110);
}

both_modes!(internal_network_has_no_way_out);
fn internal_network_has_no_way_out(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let internal = create_net(&env, 111, &["--internal"]);
    let open = create_net(&env, 112, &["--opt", "mtu=1400"]);
    let port = host_http_server();
    let url = format!("http://{}:{port}/", host_address());
    let out = env.sh(
        &img,
        &["--network", &open],
        &format!("cat /sys/class/net/eth0/mtu; wget -qO- {url}"),
    );
    assert_eq!(out, "1400\nhost-ok\n", "--opt mtu=1400, and a way out");
    let out = env.sh_out(
        &img,
        &["--network", &internal],
        &format!("ip route; wget -qO- {url}"),
    );
    assert_ne!(out.status, 0, "{out:?}");
    assert!(!out.stdout.contains("host-ok"), "{out:?}");
    assert!(!out.stdout.contains("default"), "{out:?}");
}

both_modes!(connect_and_disconnect_a_running_container);
fn connect_and_disconnect_a_running_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let a = create_net(&env, 113, &[]);
    let b = create_net(&env, 114, &[]);
    let out = env.fails(&["network", "connect", &b, "nope"], 125);
    assert_eq!(out.stderr.lines().count(), 1);
    // Asked-for address, MAC and alias on the first network.
    let first = format!("{a}:ip=10.89.113.50,mac=92:d0:c6:0a:29:33,alias=front");
    env.run_detached("web", &["--network", &first], &img, &["sleep", "600"]);
    assert_eq!(ip_of(&env, "web", &a), "10.89.113.50");
    let mac_of = format!("{{{{(index .NetworkSettings.Networks \"{a}\").MacAddress}}}}");
    assert_eq!(
        env.ok(&["inspect", "--format", &mac_of, "web"]).trim(),
        "92:d0:c6:0a:29:33"
    );
    let out = env.sh(&img, &["--network", &a], "nslookup front");
    assert!(out.contains("Address: 10.89.113.50"), "{out}");
    // The same address again: one line, and no container.
    let out = env.fails(
        &[
            "run",
            "-d",
            "--name",
            "twin",
            "--network",
            &a,
            "--ip",
            "10.89.113.50",
            &img,
            "true",
        ],
        125,
    );
    assert!(out.stderr.contains("already allocated"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    env.fails(&["container", "exists", "twin"], 1);
    env.ok(&["network", "connect", "--alias", "svc", &b, "web"]);
    let ip_b = ip_of(&env, "web", &b);
    assert!(ip_b.starts_with("10.89.114."), "{ip_b}");
    let addrs = env.ok(&["exec", "web", "ip", "-4", "addr"]);
    assert!(addrs.contains(&ip_b), "{addrs}");
    let out = env.sh(&img, &["--network", &b], "nslookup svc");
    assert!(out.contains(&format!("Address: {ip_b}")), "{out}");
    let out = env.fails(&["network", "connect", &b, "web"], 125);
    assert!(out.stderr.contains("already connected"), "{}", out.stderr);

    env.ok(&["network", "disconnect", "--force", &b, "web"]);
    let addrs = env.ok(&["exec", "web", "ip", "-4", "addr"]);
    assert!(!addrs.contains(&ip_b), "{addrs}");
    assert!(
        !has_link(&env, &bridge_name(114)),
        "the last member left: the bridge goes"
    );
    assert!(has_link(&env, &bridge_name(113)));
    let events = env.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "type=network",
        "--format",
        "{{.Status}} {{.Network}}",
    ]);
    assert_eq!(events, format!("connect {b}\ndisconnect {b}\n"));
    let nets = env.ok(&[
        "inspect",
        "--format",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        "web",
    ]);
    assert_eq!(nets.trim(), a);
    env.ok(&["rm", "-f", "-t", "0", "web"]);
    assert_network_gone(&env, 113);
}

both_modes!(parallel_starts_get_distinct_addresses);
fn parallel_starts_get_distinct_addresses(mode: Mode) {
    // Rootless starts cost more (an id map each): fewer, still racing.
    let n: usize = if mode == Mode::Root { 50 } else { 24 };
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(&env, 115, &[]);
    let mark = env.mark();
    let children: Vec<_> = (0..n)
        .map(|i| {
            let name = format!("c{i}");
            env.coracle_command(&[
                "run",
                "-d",
                "--name",
                &name,
                "-e",
                &mark,
                "--network",
                &net,
                &img,
                "sleep",
                "600",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ips: BTreeSet<String> = (0..n)
        .map(|i| ip_of(&env, &format!("c{i}"), &net))
        .collect();
    assert_eq!(ips.len(), n, "{ips:?}");
    assert!(ips.iter().all(|ip| ip.starts_with("10.89.115.")), "{ips:?}");
    assert_eq!(ports_of(&env, &bridge_name(115)).len(), n);
    env.ok(&["rm", "-af", "-t", "0"]);
    assert_network_gone(&env, 115);
}

both_modes!(network_rm_in_use_exits_2_unless_forced);
fn network_rm_in_use_exits_2_unless_forced(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(&env, 116, &[]);
    env.run_detached("web", &["--network", &net], &img, &["sleep", "600"]);
    let out = env.fails(&["network", "rm", &net], 2);
    assert_eq!(
        out.stderr,
        format!("Error: \"{net}\" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used\n")
    );
    env.ok(&["network", "exists", &net]);
    // A stopped container counts too.
    env.ok(&["stop", "-t", "0", "web"]);
    env.fails(&["network", "rm", &net], 2);
    env.ok(&["start", "web"]);
    assert_eq!(
        env.ok(&["network", "rm", "-f", "-t", "0", &net]),
        format!("{net}\n")
    );
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    env.fails(&["network", "exists", &net], 1);
    assert_network_gone(&env, 116);
    assert!(dns_servers(&net).is_empty());
}

both_modes!(killed_monitor_leaves_nothing_after_the_next_command);
fn killed_monitor_leaves_nothing_after_the_next_command(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(&env, 117, &[]);
    let port = free_port();
    let publish = format!("{port}:80");
    let www = www_dir(&env, INDEX);
    env.run_detached(
        "web",
        &["--network", &net, "-p", &publish, "-v", &www],
        &img,
        HTTPD,
    );
    let bridge = bridge_name(117);
    let veths = ports_of(&env, &bridge);
    assert_eq!(veths.len(), 1);
    assert_eq!(dns_servers(&net).len(), 1);
    assert_eq!(http_get(mode, port), INDEX);
    if mode == Mode::Root {
        assert!(nft_map("net_tcp").contains(&format!("{port} : ")));
    }
    env.kill_monitor("web");
    env.ok(&["ps", "-a"]);
    if mode == Mode::Root {
        for v in &veths {
            assert!(!link_exists(v), "veth {v} is left");
        }
        assert!(
            !nft_map("net_tcp").contains(&format!("{port} : ")),
            "{}",
            nft_map("net_tcp")
        );
    }
    assert_network_gone(&env, 117);
    assert!(wait_for(Duration::from_secs(3), || dns_servers(&net).is_empty()));
    // Nothing serves the published port any more, and it is free.
    assert!(http_get_once(port).is_err());
    TcpListener::bind(("0.0.0.0", port)).expect("the published port is free");
    // Its address is free again: the next container gets the first one.
    env.ok(&["rm", "-f", "web"]);
    env.run_detached("again", &["--network", &net], &img, &["sleep", "600"]);
    assert_eq!(ip_of(&env, "again", &net), "10.89.117.2");
    env.ok(&["rm", "-f", "-t", "0", "again"]);
    // And prune leaves nothing of the network.
    assert_eq!(env.ok(&["network", "prune", "-f"]), format!("{net}\n"));
    assert_network_gone(&env, 117);
    assert!(dns_servers(&net).is_empty());
    assert!(!env
        .store_dir()
        .join(format!("networks/{net}.json"))
        .exists());
    let leftovers: Vec<String> = std::fs::read_dir(env.runroot_dir().join("networks"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".lock"))
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

both_modes!(a_pod_on_a_named_network_answers_by_its_name);
fn a_pod_on_a_named_network_answers_by_its_name(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(&env, 118, &[]);
    env.ok(&["pod", "create", "--name", "shop", "--network", &net]);
    let www = www_dir(&env, INDEX);
    env.run_detached("web", &["--pod", "shop", "-v", &www], &img, HTTPD);
    let out = env.sh(&img, &["--network", &net], "wget -qO- http://shop/");
    assert_eq!(out, INDEX);
    let filter = format!("network={net}");
    assert_eq!(
        env.ok(&["pod", "ps", "--format", "{{.Name}}", "--filter", &filter]),
        "shop\n"
    );
    assert_eq!(
        env.ok(&["ps", "-a", "--format", "{{.Networks}}", "--filter", &filter])
            .lines()
            .count(),
        1,
        "the infra is on the network"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", "shop"]);
    assert_network_gone(&env, 118);
}

/// A name server on the host at `addr`:53 that answers every A query with
/// 192.0.2.`last`: what "the host's resolvers" are for the test.
fn fake_upstream(addr: Ipv4Addr, last: u8) {
    let sock = std::net::UdpSocket::bind((addr, 53)).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            // header, then the question up to its end (name, type, class)
            let mut end = 12;
            while end < n && q[end] != 0 {
                end += q[end] as usize + 1;
            }
            end += 5;
            if end > n {
                continue;
            }
            let mut r = Vec::new();
            r.extend_from_slice(&q[0..2]);
            r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
            r.extend_from_slice(&q[12..end]);
            r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, last]);
            let _ = sock.send_to(&r, peer);
        }
    });
}

both_modes!(names_outside_the_network_go_to_its_upstream_servers);
fn names_outside_the_network_go_to_its_upstream_servers(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    // One per mode: both run at once in this process.
    let upstream = Ipv4Addr::new(127, 88, 0, 1 + (mode == Mode::Rootless) as u8);
    let dns = upstream.to_string();
    let net = create_net(&env, 119, &["--dns", &dns]);
    fake_upstream(upstream, 77);
    env.run_detached("db", &["--network", &net], &img, &["sleep", "600"]);
    let out = env.sh(
        &img,
        &["--network", &net],
        "nslookup elsewhere.example; nslookup db",
    );
    assert!(out.contains("Address: 192.0.2.77"), "forwarded: {out}");
    let db_ip = ip_of(&env, "db", &net);
    assert!(out.contains(&format!("Address: {db_ip}")), "member: {out}");

    // network update: the running members' server turns to the new list.
    let second = Ipv4Addr::new(127, 88, 0, 3 + (mode == Mode::Rootless) as u8);
    fake_upstream(second, 78);
    let add = second.to_string();
    assert_eq!(
        env.ok(&[
            "network",
            "update",
            "--dns-drop",
            &dns,
            "--dns-add",
            &add,
            &net
        ]),
        format!("{net}\n")
    );
    let servers = env.ok(&[
        "network",
        "inspect",
        "--format",
        "{{.NetworkDNSServers}}",
        &net,
    ]);
    assert_eq!(servers.trim(), format!("[{add}]"), "[{mode:?}]");
    let out = env.ok(&[
        "exec",
        "db",
        "sh",
        "-c",
        "for i in $(seq 50); do nslookup elsewhere.example | grep -q 192.0.2.78 && exit 0; sleep 0.1; done; exit 1",
    ]);
    assert_eq!(out, "", "[{mode:?}]");
    let bad = env.run(&["network", "update", "--dns-add", "not-an-ip", &net]);
    assert_error(
        mode,
        "update --dns-add not-an-ip",
        &bad,
        125,
        &["not-an-ip"],
    );
    let bad = env.run(&["network", "update", "--dns-add", &add, "podman"]);
    assert_error(mode, "update podman", &bad, 125, &["cannot be modified"]);
    env.ok(&["rm", "-f", "-t", "0", "db"]);
}

both_modes!(static_routes_reach_every_member);
/// `--route`: every member gets the network's static routes; a gateway on
/// none of the subnets is refused when the network is made.
fn static_routes_reach_every_member(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(
        &env,
        126,
        &[
            "--route",
            "10.1.0.0/24,10.89.126.10,100",
            "--route",
            "172.30.0.0/16,10.89.126.11",
        ],
    );
    let routes = env.ok(&["network", "inspect", "--format", "{{json .Routes}}", &net]);
    let v: serde_json::Value = serde_json::from_str(&routes).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            {"destination": "10.1.0.0/24", "gateway": "10.89.126.10", "metric": 100},
            {"destination": "172.30.0.0/16", "gateway": "10.89.126.11"}
        ]),
        "[{mode:?}]"
    );
    let table = env.sh(&img, &["--network", &net], "ip route");
    assert!(
        table.contains("10.1.0.0/24 via 10.89.126.10 dev eth0  metric 100")
            && table.contains("172.30.0.0/16 via 10.89.126.11 dev eth0"),
        "[{mode:?}] {table}"
    );
    let bad = env.run(&[
        "network",
        "create",
        "--subnet",
        "10.89.127.0/24",
        "--route",
        "10.1.0.0/24,192.168.1.1",
        "badroute",
    ]);
    assert_error(
        mode,
        "--route off the subnet",
        &bad,
        125,
        &["none of the network's subnets"],
    );
    let bad = env.run(&[
        "network",
        "create",
        "--route",
        "10.1.0.0,10.89.127.1",
        "badroute",
    ]);
    assert_error(
        mode,
        "--route without a prefix",
        &bad,
        125,
        &["ADDRESS/PREFIX"],
    );
    assert!(env.run(&["network", "exists", "badroute"]).status != 0);
}

both_modes!(network_reload_puts_back_the_rules);
fn network_reload_puts_back_the_rules(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(&env, 120, &[]);
    env.fails(&["network", "reload", "nope"], 125);
    let www = www_dir(&env, INDEX);
    let port = free_port();
    let publish = format!("{port}:80");
    let id = env.run_detached(
        "web",
        &["--network", &net, "-p", &publish, "-v", &www],
        &img,
        HTTPD,
    );
    assert_eq!(http_get(mode, port), INDEX);
    if mode == Mode::Rootless {
        // The rules live in the rootless namespace: put back all the same.
        env.ok(&[
            "unshare",
            "--rootless-netns",
            "nft",
            "flush",
            "table",
            "ip",
            "coracle",
        ]);
        assert_eq!(env.ok(&["network", "reload", "web"]), format!("{id}\n"));
        let rules = env.ok(&[
            "unshare",
            "--rootless-netns",
            "nft",
            "list",
            "table",
            "ip",
            "coracle",
        ]);
        assert!(rules.contains("10.89.120.0/24"), "{rules}");
        assert_eq!(
            env.ok(&["network", "reload", "--latest"]),
            format!("{id}\n")
        );
        env.ok(&["rm", "-f", "-t", "0", "web"]);
        return;
    }
    // A firewall reload took our element away: nothing answers there.
    let status = std::process::Command::new("nft")
        .args([
            "delete",
            "element",
            "ip",
            "coracle",
            "net_tcp",
            &format!("{{ {port} }}"),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(http_get_once(port).is_err());
    assert_eq!(env.ok(&["network", "reload", "web"]), format!("{id}\n"));
    assert_eq!(http_get(mode, port), INDEX);
    env.fails(&["network", "reload"], 125);
    // --latest: the container made last
    assert_eq!(
        env.ok(&["network", "reload", "--latest"]),
        format!("{id}\n")
    );
    env.fails(&["network", "reload", "--latest", "web"], 125);
    env.ok(&["rm", "-f", "-t", "0", "web"]);
}

both_modes!(unshare_runs_a_command_in_the_rootless_user_namespace);
fn unshare_runs_a_command_in_the_rootless_user_namespace(mode: Mode) {
    let env = TestEnv::new(mode);
    let map = env.ok(&["unshare", "cat", "/proc/self/uid_map"]);
    let first: Vec<&str> = map.lines().next().unwrap().split_whitespace().collect();
    match mode {
        // Root runs the command as it is.
        Mode::Root => assert_eq!(first, ["0", "0", "4294967295"], "{map}"),
        // Rootless: 0 is the caller, then its subordinate ids.
        Mode::Rootless => {
            assert_eq!(first[0], "0", "{map}");
            assert_ne!(first[1], "0", "{map}");
            assert_eq!(map.lines().count(), 2, "{map}");
        }
    }
    // The store's files belong to root there, and its paths are named.
    let out = env.ok(&[
        "unshare",
        "sh",
        "-c",
        "stat -c %u \"$CONTAINERS_GRAPHROOT\"",
    ]);
    assert_eq!(out, "0\n");
    let out = env.run(&["unshare", "sh", "-c", "exit 3"]);
    assert_eq!(out.status, 3, "{out:?}");
    let out = env.fails(&["unshare", "no-such-program"], 127);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    match mode {
        Mode::Root => {
            let out = env.fails(&["unshare", "--rootless-netns", "true"], 125);
            assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        }
        Mode::Rootless => {
            // Made for the command, and gone after it.
            let out = env.ok(&["unshare", "--rootless-netns", "ip", "-o", "link"]);
            assert!(out.contains("lo:"), "{out}");
            assert!(out.lines().count() >= 2, "pasta's interface: {out}");
            let ours = env.ok(&["unshare", "readlink", "/proc/self/ns/net"]);
            let theirs = env.ok(&[
                "unshare",
                "--rootless-netns",
                "readlink",
                "/proc/self/ns/net",
            ]);
            assert_ne!(ours, theirs);
            assert_network_gone(&env, 0);
            // A store removed under a running namespace (its run dir gone)
            // takes the namespace with it.
            let mut user = env
                .coracle_command(&["unshare", "--rootless-netns", "sleep", "3"])
                .spawn()
                .unwrap();
            assert!(wait_for(Duration::from_secs(5), || {
                rootless_netns_supervisor(&env).is_some()
            }));
            let sup = rootless_netns_supervisor(&env).unwrap();
            std::fs::remove_dir_all(env.runroot_dir().join("rootless-netns")).unwrap();
            assert!(
                wait_for(Duration::from_secs(4), || !process_alive(sup)),
                "the supervisor outlived its store"
            );
            user.wait().unwrap();
        }
    }
}

both_modes!(hosts_file_flags_and_expose_as_podmans);
fn hosts_file_flags_and_expose_as_podmans(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    // Ours by default: the container's own name is there.
    let own = env.sh(&img, &["--name", "withhosts"], "cat /etc/hosts");
    assert!(own.contains("withhosts"), "{own}");
    // --no-hosts: none mounted (this image has none of its own).
    let out = env.sh(
        &img,
        &["--name", "nohosts", "--no-hosts"],
        "cat /etc/hosts 2>/dev/null; echo end",
    );
    assert!(!out.contains("nohosts"), "{out}");
    // --hosts-file: its lines first, then ours.
    let base = env.user_dir("base");
    let base_file = base.join("hosts");
    env.write_user_file(&base_file, b"192.0.2.9\tfromfile\n");
    let base_path = base_file.display().to_string();
    let out = env.sh(
        &img,
        &["--name", "based", "--hosts-file", &base_path],
        "cat /etc/hosts",
    );
    assert!(out.starts_with("192.0.2.9\tfromfile\n"), "{out}");
    assert!(out.contains("based") && out.contains("localhost"), "{out}");
    let out = env.sh(&img, &["--hosts-file", "none"], "cat /etc/hosts");
    assert!(!out.contains("fromfile"), "{out}");
    assert_refused(
        &env,
        &["create", "--hosts-file", "relative/hosts", &img],
        "absolute path",
    );
    assert_refused(
        &env,
        &["create", "--hosts-file", "/no/such/file", &img],
        "hosts-file",
    );
    assert_refused(
        &env,
        &["create", "--no-hosts", "--add-host", "a:192.0.2.1", &img],
        "cannot be set together",
    );
    assert_refused(&env, &["create", "--expose", "0", &img], "expose");
    assert_refused(&env, &["create", "--expose", "80/icmp", &img], "protocol");
    // --expose: recorded as podman keys them, and published by -P.
    env.ok(&[
        "create",
        "--name",
        "exp",
        "--expose",
        "8000-8001/udp",
        "--expose",
        "9000",
        &img,
    ]);
    let keys = env.ok(&[
        "inspect",
        "--format",
        "{{range $k, $v := .Config.ExposedPorts}}{{$k}} {{end}}",
        "exp",
    ]);
    assert_eq!(word_set(&keys), word_set("8000/udp 8001/udp 9000/tcp"));
    env.ok(&["create", "--name", "pub", "-P", "--expose", "9000", &img]);
    let ports = env.ok(&["port", "pub"]);
    assert!(ports.starts_with("9000/tcp -> 0.0.0.0:"), "{ports}");
}

both_modes!(pod_create_network_flags_reach_its_infra);
fn pod_create_network_flags_reach_its_infra(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(&env, 121, &[]);
    env.ok(&[
        "pod",
        "create",
        "--name",
        "shop",
        "--network",
        &net,
        "--ip",
        "10.89.121.40",
        "--mac-address",
        "92:d0:c6:0a:29:40",
        "--network-alias",
        "store",
    ]);
    env.run_detached("web", &["--pod", "shop"], &img, &["sleep", "600"]);
    let out = env.sh(&img, &["--network", &net], "nslookup store; nslookup shop");
    assert_eq!(out.matches("Address: 10.89.121.40").count(), 2, "{out}");
    let mac = env.ok(&["exec", "web", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(mac.trim(), "92:d0:c6:0a:29:40");
    assert_refused(
        &env,
        &["pod", "create", "--name", "bad", "--ip", "10.89.121.41"],
        "named network",
    );
    assert_refused(
        &env,
        &[
            "pod",
            "create",
            "--name",
            "bad",
            "--no-hosts",
            "--add-host",
            "a:192.0.2.1",
        ],
        "cannot be set together",
    );
    // --no-hosts and --hosts-file reach the members.
    env.ok(&["pod", "create", "--name", "bare", "--no-hosts"]);
    let out = env.sh(
        &img,
        &["--pod", "bare"],
        "cat /etc/hosts 2>/dev/null; echo end",
    );
    assert!(!out.contains("bare"), "{out}");
    let base = env.user_dir("podbase");
    let base_file = base.join("hosts");
    env.write_user_file(&base_file, b"192.0.2.10\tpodbase\n");
    let base_path = base_file.display().to_string();
    env.ok(&[
        "pod",
        "create",
        "--name",
        "based",
        "--hosts-file",
        &base_path,
    ]);
    let out = env.sh(&img, &["--pod", "based"], "cat /etc/hosts");
    assert!(out.contains("192.0.2.10\tpodbase"), "{out}");
    env.ok(&["pod", "rm", "-af", "-t", "0"]);
    assert_network_gone(&env, 121);
}

/// The `index`th address of an IPv6 subnet written `ADDR/PREFIX`.
fn v6_host(subnet: &str, index: u128) -> Ipv6Addr {
    let base: Ipv6Addr = subnet.split('/').next().unwrap().parse().unwrap();
    Ipv6Addr::from(u128::from(base) + index)
}

both_modes!(ipv6_network_members_reach_each_other);
fn ipv6_network_members_reach_each_other(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(&env, 122, &["--ipv6"]);
    // Dual stack: the IPv4 subnet asked, and a random unique local /64.
    let doc: Value = serde_json::from_str(&env.ok(&["network", "inspect", &net])).unwrap();
    let doc = &doc[0];
    assert_eq!(doc["ipv6_enabled"], true, "{doc}");
    let subnets = doc["subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 2, "{doc}");
    assert_eq!(subnets[0]["subnet"], "10.89.122.0/24");
    let subnet6 = subnets[1]["subnet"].as_str().unwrap().to_string();
    assert!(
        subnet6.starts_with("fd") && subnet6.ends_with("::/64"),
        "{subnet6}"
    );
    let gw6 = v6_host(&subnet6, 1);
    assert_eq!(subnets[1]["gateway"], gw6.to_string());
    let fixed = v6_host(&subnet6, 0x99);

    let www = www_dir(&env, INDEX);
    let ip6 = fixed.to_string();
    env.run_detached(
        "db6",
        &["--network", &net, "--ip6", &ip6, "-v", &www],
        &img,
        HTTPD,
    );
    let key = |k: &str| {
        let f = format!("{{{{(index .NetworkSettings.Networks \"{net}\").{k}}}}}");
        env.ok(&["inspect", "--format", &f, "db6"])
            .trim()
            .to_string()
    };
    assert_eq!(key("GlobalIPv6Address"), ip6);
    assert_eq!(key("GlobalIPv6PrefixLen"), "64");
    assert_eq!(key("IPv6Gateway"), gw6.to_string());
    assert!(key("IPAddress").starts_with("10.89.122."));
    if mode == Mode::Root {
        // Egress over IPv6 is masqueraded as over IPv4.
        let out = std::process::Command::new("nft")
            .args(["list", "set", "ip6", "coracle", "net_masq"])
            .output()
            .unwrap();
        let set = String::from_utf8_lossy(&out.stdout);
        assert!(set.contains(&subnet6), "{set}");
    }
    // The other picks the first free address (the gateway is ::1) and
    // reaches db6 over IPv6, by address and by name (AAAA).
    let peer = format!("{net}:ip6={}", v6_host(&subnet6, 0x42));
    let out = env.sh(
        &img,
        &["--network", &peer],
        &format!(
            "ip -6 addr show dev eth0; wget -qO- http://[{ip6}]:80/ && nslookup -type=AAAA db6 && getent ahostsv6 db6"
        ),
    );
    assert!(
        out.contains(&format!("{}/64", v6_host(&subnet6, 0x42))),
        "{out}"
    );
    assert!(out.contains(INDEX), "{out}");
    assert!(out.contains(&format!("Address: {ip6}")), "{out}");
    assert!(out.lines().any(|l| l.starts_with(&ip6)), "getent: {out}");
    let auto = env.sh(&img, &["--network", &net], "ip -6 addr show dev eth0");
    assert!(
        auto.contains(&format!("{}/64", v6_host(&subnet6, 2))),
        "{auto}"
    );
    // An address taken, outside the subnet, or not IPv6: refused.
    let taken = format!("{net}:ip6={ip6}");
    let out = env.run(&["run", "--rm", "--network", &taken, &img, "true"]);
    assert!(out.stderr.contains("already allocated"), "{out:?}");
    assert_refused(
        &env,
        &[
            "run",
            "--rm",
            "--network",
            &net,
            "--ip6",
            "10.0.0.1",
            &img,
            "true",
        ],
        "invalid IPv6 address",
    );

    // `network connect --ip6` and `pod create --ip6` ask the same.
    let other = create_net(&env, 123, &[]);
    let c2 = unique("c2");
    env.ok(&[
        "create",
        "--name",
        &c2,
        "--network",
        &other,
        &img,
        "sleep",
        "600",
    ]);
    let at = v6_host(&subnet6, 0x77).to_string();
    env.ok(&["network", "connect", "--ip6", &at, &net, &c2]);
    env.ok(&["start", &c2]);
    let f = format!("{{{{(index .NetworkSettings.Networks \"{net}\").GlobalIPv6Address}}}}");
    assert_eq!(env.ok(&["inspect", "--format", &f, &c2]).trim(), at);
    env.ok(&["rm", "-f", "-t", "0", &c2]);
    let pod = unique("p6");
    let at = v6_host(&subnet6, 0x66).to_string();
    env.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--network",
        &net,
        "--ip6",
        &at,
    ]);
    let out = env.sh(&img, &["--pod", &pod], "ip -6 addr show dev eth0");
    assert!(out.contains(&format!("{at}/64")), "{out}");
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);

    env.ok(&["rm", "-f", "-t", "0", "db6"]);
    assert_network_gone(&env, 122);
    if mode == Mode::Root {
        let out = std::process::Command::new("nft")
            .args(["list", "set", "ip6", "coracle", "net_subnets"])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(&subnet6[..subnet6.len() - 3]),
            "the v6 subnet is left in nftables"
        );
    }
    env.ok(&["network", "rm", &net, &other]);
    assert!(!env.ok(&["network", "ls", "-q"]).contains(&net));
}

/// A veth pair in the host's namespace, one end the parent of
/// macvlan/ipvlan networks (the VM's uplink is left alone, and its kernel
/// has no dummy links), named for this test process and mode; gone when
/// dropped, with any sub-interface left on it.
struct TestParent(String);

fn ip_ok(args: &[&str]) -> bool {
    std::process::Command::new("ip")
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

impl TestParent {
    fn new(n: u8) -> TestParent {
        let id = std::process::id() % 100_000;
        let (name, peer) = (format!("cotp{n}x{id}"), format!("cotq{n}x{id}"));
        // A test process of the same pid that died left it.
        ip_ok(&["link", "del", &name]);
        assert!(ip_ok(&[
            "link", "add", &name, "type", "veth", "peer", "name", &peer
        ]));
        assert!(ip_ok(&["link", "set", &peer, "up"]));
        assert!(ip_ok(&["link", "set", &name, "up"]));
        TestParent(name)
    }

    /// The host's links hanging on it (`ip -o link`: `NAME@PARENT`),
    /// but its own peer.
    fn children(&self) -> Vec<String> {
        let out = std::process::Command::new("ip")
            .args(["-o", "link"])
            .output()
            .unwrap();
        let peer = self.0.replacen("cotp", "cotq", 1);
        parse_links_with_parent(&String::from_utf8_lossy(&out.stdout))
            .into_iter()
            .filter(|(n, p)| *p == self.0 && *n != peer)
            .map(|(n, _)| n)
            .collect()
    }

    /// Whether the kernel makes links of `kind` (this VM's has no ipvlan).
    fn kernel_has(&self, kind: &str) -> bool {
        let probe = format!("{}p", self.0);
        let made = ip_ok(&["link", "add", &probe, "link", &self.0, "type", kind]);
        ip_ok(&["link", "del", &probe]);
        made
    }
}

impl Drop for TestParent {
    fn drop(&mut self) {
        ip_ok(&["link", "del", &self.0]);
    }
}

/// `ip -o link` lines to (name, parent) for the links that have one.
fn parse_links_with_parent(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .filter_map(|n| n.split_once('@'))
        .map(|(n, p)| (n.to_string(), p.to_string()))
        .collect()
}

/// `ip -d link show IFACE` in a running container's network namespace,
/// seen from the host (busybox's ip shows no link details).
fn link_details(env: &TestEnv, ctr: &str, iface: &str) -> String {
    let pid = env.ok(&["inspect", "--format", "{{.State.Pid}}", ctr]);
    let out = std::process::Command::new("nsenter")
        .args(["-t", pid.trim(), "-n", "ip", "-d", "link", "show", iface])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Bad macvlan/ipvlan input: refused as podman refuses it, no network.
fn vlan_refusals(env: &TestEnv, parent: &str) {
    let p = format!("parent={parent}");
    let sub = "--subnet=10.89.150.0/24";
    let bad: [(&[&str], &str); 8] = [
        (
            &["-d", "macvlan", "-o", &p, sub, "-o", "mode=l2"],
            "unknown macvlan mode",
        ),
        (
            &["-d", "ipvlan", "-o", &p, sub, "-o", "mode=vepa"],
            "unknown ipvlan mode",
        ),
        (
            &["-d", "macvlan", "-o", "parent=cotnosuch0", sub],
            "parent interface cotnosuch0 does not exist",
        ),
        (&["-d", "macvlan", "-o", &p], "DHCP"),
        (
            &["-d", "ipvlan", "-o", &p],
            "ipam driver dhcp is not supported with ipvlan",
        ),
        (
            &["-d", "macvlan", "-o", &p, "--ipam-driver", "dhcp"],
            "ipam driver dhcp",
        ),
        (
            &["-d", "macvlan", "-o", &p, sub, "-o", "vlan=4"],
            "unsupported macvlan network option vlan",
        ),
        (
            &["-d", "macvlan", "-o", &p, sub, "--dns", "10.0.0.53"],
            "DNS is not enabled",
        ),
    ];
    for (extra, needle) in bad {
        let name = unique("badvlan");
        let mut args = vec!["network", "create"];
        args.extend_from_slice(extra);
        args.push(&name);
        assert_refused(env, &args, needle);
        env.fails(&["network", "exists", &name], 1);
    }
}

both_modes!(macvlan_and_ipvlan_networks_as_podmans);
fn macvlan_and_ipvlan_networks_as_podmans(mode: Mode) {
    let parent = TestParent::new(mode as u8);
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    vlan_refusals(&env, &parent.0);
    let mac = unique("mac");
    let p = format!("parent={}", parent.0);
    env.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        &p,
        "-o",
        "mode=bridge",
        "-o",
        "mtu=1400",
        "--subnet",
        "10.89.140.0/24",
        &mac,
    ]);
    let d: Value = serde_json::from_str(&env.ok(&["network", "inspect", &mac])).unwrap();
    let n = &d[0];
    assert_eq!(n["driver"], "macvlan", "{n}");
    assert_eq!(n["network_interface"], parent.0.as_str(), "{n}");
    assert_eq!(
        n["options"],
        serde_json::json!({"mode": "bridge", "mtu": "1400"})
    );
    assert_eq!(n["dns_enabled"], false, "podman: no DNS on macvlan");
    assert_eq!(n["ipam_options"]["driver"], "host-local");
    assert_eq!(n["subnets"][0]["gateway"], "10.89.140.1");
    let ls = env.ok(&[
        "network",
        "ls",
        "--filter",
        "driver=macvlan",
        "--format",
        "{{.Name}} {{.Driver}}",
    ]);
    assert_eq!(ls, format!("{mac} macvlan\n"));
    // No parent: the default route's interface, chosen when a member
    // starts (inspect shows none, as podman's).
    let dflt = unique("macdef");
    env.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "--subnet",
        "10.89.141.0/24",
        &dflt,
    ]);
    let d: Value = serde_json::from_str(&env.ok(&["network", "inspect", &dflt])).unwrap();
    assert_eq!(d[0]["network_interface"], "", "{d}");
    env.ok(&["network", "rm", &dflt]);

    let img = image(&env);
    if mode == Mode::Rootless {
        // The rootless network namespace has no host interface: refused
        // before anything is made.
        assert_refused(
            &env,
            &["run", "--rm", "--network", &mac, &img, "true"],
            "macvlan networks need root",
        );
        env.ok(&["network", "rm", &mac]);
        return;
    }

    let www = www_dir(&env, INDEX);
    env.run_detached("mv1", &["--network", &mac, "-v", &www], &img, HTTPD);
    assert_eq!(ip_of(&env, "mv1", &mac), "10.89.140.2");
    let details = link_details(&env, "mv1", "eth0");
    assert!(details.contains("macvlan mode bridge"), "{details}");
    assert!(details.contains("mtu 1400"), "{details}");
    let mac_of = format!("{{{{(index .NetworkSettings.Networks \"{mac}\").MacAddress}}}}");
    let mv1_mac = env.ok(&["inspect", "--format", &mac_of, "mv1"]);
    assert!(
        details.contains(&format!("link/ether {}", mv1_mac.trim())),
        "{details}"
    );
    // A second member reaches the first by address over the parent; its
    // default route is the network's gateway; no name server is named.
    let out = env.sh(
        &img,
        &["--network", &mac],
        "wget -qO- http://10.89.140.2/ && ip route && cat /etc/resolv.conf",
    );
    assert!(out.contains(INDEX), "{out}");
    assert!(out.contains("default via 10.89.140.1 dev eth0"), "{out}");
    assert!(!out.contains("nameserver 10.89.140.1"), "{out}");
    // -o no_default_route: podman's boolean, written as netavark reads it.
    let nodef = unique("nodef");
    env.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        &p,
        "-o",
        "no_default_route=1",
        "--subnet",
        "10.89.143.0/24",
        &nodef,
    ]);
    let d: Value = serde_json::from_str(&env.ok(&["network", "inspect", &nodef])).unwrap();
    assert_eq!(d[0]["options"]["no_default_route"], "true", "{d}");
    let out = env.sh(&img, &["--network", &nodef], "ip route");
    assert!(out.contains("10.89.143.0/24 dev eth0"), "{out}");
    assert!(!out.contains("default"), "{out}");
    env.ok(&["network", "rm", &nodef]);
    // Nothing of the members is on the host: the sub-interfaces live in
    // their namespaces.
    assert!(parent.children().is_empty(), "{:?}", parent.children());
    env.ok(&["network", "disconnect", &mac, "mv1"]);
    assert_eq!(link_details(&env, "mv1", "eth0"), "");

    // A killed monitor: its container and sub-interface die with it, the
    // next command frees its address.
    env.run_detached("mv3", &["--network", &mac], &img, &["sleep", "600"]);
    assert_eq!(ip_of(&env, "mv3", &mac), "10.89.140.2", "mv1's went");
    env.kill_monitor("mv3");
    env.ok(&["ps", "-a"]);
    env.ok(&["rm", "-f", "mv3"]);
    env.run_detached("mv2", &["--network", &mac], &img, &["sleep", "600"]);
    assert_eq!(ip_of(&env, "mv2", &mac), "10.89.140.2");
    env.ok(&["rm", "-f", "-t", "0", "mv1", "mv2"]);
    assert!(parent.children().is_empty(), "{:?}", parent.children());

    // ipvlan l2: members share the parent's MAC and reach each other.
    let ipv = unique("ipv");
    env.ok(&[
        "network",
        "create",
        "-d",
        "ipvlan",
        "--interface-name",
        &parent.0,
        "--subnet",
        "10.89.142.0/24",
        "--internal",
        &ipv,
    ]);
    let d: Value = serde_json::from_str(&env.ok(&["network", "inspect", &ipv])).unwrap();
    assert_eq!(d[0]["driver"], "ipvlan");
    assert!(d[0].get("options").is_none(), "none given: omitted, {d}");
    assert!(
        d[0]["subnets"][0].get("gateway").is_none(),
        "internal: no gateway, {d}"
    );
    if !parent.kernel_has("ipvlan") {
        // The kernel's refusal is the error, and the half-made start
        // leaves nothing: no link on the parent, no lease.
        let out = env.run(&["run", "--rm", "--network", &ipv, &img, "true"]);
        assert_ne!(out.status, 0, "{out:?}");
        assert!(
            out.stderr
                .contains("creating the container's ipvlan interface"),
            "{out:?}"
        );
        assert!(parent.children().is_empty(), "{:?}", parent.children());
        assert!(nets_leases(&env).is_empty(), "{:?}", nets_leases(&env));
    } else {
        env.run_detached("iv1", &["--network", &ipv, "-v", &www], &img, HTTPD);
        let details = link_details(&env, "iv1", "eth0");
        assert!(details.contains("mode l2"), "{details}");
        let parent_mac =
            std::fs::read_to_string(format!("/sys/class/net/{}/address", parent.0)).unwrap();
        assert!(
            details.contains(&format!("link/ether {}", parent_mac.trim())),
            "{details}"
        );
        let iv1 = ip_of(&env, "iv1", &ipv);
        let out = env.sh(
            &img,
            &["--network", &ipv],
            &format!("wget -qO- http://{iv1}/ && ip route"),
        );
        assert!(out.contains(INDEX), "{out}");
        assert!(
            !out.contains("default"),
            "--internal: no default route, {out}"
        );
        env.ok(&["rm", "-f", "-t", "0", "iv1"]);
        assert!(parent.children().is_empty(), "{:?}", parent.children());
    }
    env.ok(&["network", "rm", &mac, &ipv]);
    assert!(link_exists(&parent.0), "the parent is the host's: it stays");
    assert!(nets_leases(&env).is_empty(), "{:?}", nets_leases(&env));
}

/// The lease files of the store's networks.
fn nets_leases(env: &TestEnv) -> Vec<String> {
    std::fs::read_dir(env.runroot_dir().join("networks"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".leases"))
                .collect()
        })
        .unwrap_or_default()
}

/// An IPv6 subnet for this test process, mode and test (`k`): root's
/// bridges share the host's namespace.
fn v6_subnet(mode: Mode, k: u8) -> String {
    format!(
        "fd89:{:x}:{}:{k}::/64",
        std::process::id() % 0xffff,
        mode as u8
    )
}

both_modes!(ipv6_only_network_answers_on_its_v6_gateway);
fn ipv6_only_network_answers_on_its_v6_gateway(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    remove_stale_bridges(124);
    let subnet = v6_subnet(mode, 124);
    let net = unique("v6only");
    let bridge = bridge_name(124);
    env.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
        &net,
    ]);
    // One subnet, IPv6: no IPv4 one is added (as podman 5).
    let doc: Value = serde_json::from_str(&env.ok(&["network", "inspect", &net])).unwrap();
    let subnets = doc[0]["subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 1, "{doc}");
    assert_eq!(subnets[0]["subnet"], subnet.as_str());
    let gw6 = v6_host(&subnet, 1).to_string();
    assert_eq!(subnets[0]["gateway"], gw6.as_str());
    assert_eq!(doc[0]["ipv6_enabled"], true);

    let www = www_dir(&env, INDEX);
    env.run_detached("db6", &["--network", &net, "-v", &www], &img, HTTPD);
    let key = |k: &str| {
        let f = format!("{{{{(index .NetworkSettings.Networks \"{net}\").{k}}}}}");
        env.ok(&["inspect", "--format", &f, "db6"])
            .trim()
            .to_string()
    };
    let db6 = v6_host(&subnet, 2).to_string();
    assert_eq!(key("GlobalIPv6Address"), db6);
    assert_eq!(key("IPAddress"), "");
    assert_eq!(key("Gateway"), "");
    assert_eq!(key("IPv6Gateway"), gw6);
    // A member has no IPv4 address; its name server is the network's, on
    // the IPv6 gateway, and answers AAAA for the other member.
    let out = env.sh(
        &img,
        &["--network", &net],
        "echo v4:; ip -4 addr show dev eth0; cat /etc/resolv.conf; nslookup db6; wget -qO- http://db6/",
    );
    assert!(!out.contains("inet "), "{out}");
    assert!(out.contains(&format!("nameserver {gw6}")), "{out}");
    assert!(out.contains(&format!("Address: {db6}")), "{out}");
    assert!(out.contains(INDEX), "{out}");
    if mode == Mode::Root {
        let set = std::process::Command::new("nft")
            .args(["list", "set", "ip6", "coracle", "net_masq"])
            .output()
            .unwrap();
        let set = String::from_utf8_lossy(&set.stdout);
        assert!(
            set.contains(&subnet[..subnet.len() - 3]),
            "egress is masqueraded: {set}"
        );
    }
    // An IPv4 address asked on it: refused.
    let out = env.run(&[
        "run",
        "--rm",
        "--network",
        &net,
        "--ip",
        "10.89.124.9",
        &img,
        "true",
    ]);
    assert!(out.stderr.contains("not in any subnet"), "{out:?}");
    env.ok(&["rm", "-f", "-t", "0", "db6"]);
    assert!(wait_for(Duration::from_secs(3), || dns_servers(&net).is_empty()));
    assert_network_gone(&env, 124);
    env.ok(&["network", "rm", &net]);
}

/// GET `/` at `addr` until a full HTTP response comes back; its body.
fn http_get_at(addr: std::net::SocketAddr) -> String {
    let start = std::time::Instant::now();
    let mut last = String::new();
    while start.elapsed() < Duration::from_secs(8) {
        let got = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut resp = String::new();
            s.read_to_string(&mut resp)?;
            Ok(resp)
        })();
        match got {
            Ok(r) if r.starts_with("HTTP/1.") => {
                return r
                    .split_once("\r\n\r\n")
                    .map(|(_, b)| b)
                    .unwrap_or("")
                    .into();
            }
            Ok(r) => last = format!("response {r:?}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no HTTP response on {addr} within 8s (last: {last})");
}

/// The global IPv6 addresses of the host's uplink, the interface of its
/// IPv4 default route (`/proc/net/if_inet6`: scope 00). Not every
/// interface's: the bridges of networks other tests make and remove
/// meanwhile come and go, and drop what is not theirs.
fn host_v6_addresses() -> Vec<Ipv6Addr> {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let Some(uplink) = routes.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"00000000")).then(|| f[0].to_string())
    }) else {
        return Vec::new();
    };
    std::fs::read_to_string("/proc/net/if_inet6")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(3) == Some(&"00") && f.get(5) == Some(&uplink.as_str()))
                .then(|| u128::from_str_radix(f[0], 16).ok())
                .flatten()
                .map(Ipv6Addr::from)
        })
        .collect()
}

both_modes!(published_ports_answer_over_ipv6);
fn published_ports_answer_over_ipv6(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = image(&env);
    let net = create_net(&env, 125, &["--ipv6"]);
    let www = www_dir(&env, INDEX);
    let port = free_port();
    let publish = format!("{port}:80");
    env.run_detached(
        "web6",
        &["--network", &net, "-p", &publish, "-v", &www],
        &img,
        HTTPD,
    );
    let at = |ip: std::net::IpAddr| http_get_at(std::net::SocketAddr::new(ip, port));
    // Root: the kernel does not DNAT IPv6's loopback (no route_localnet),
    // so [::1] is the relay's, rootless only (as podman).
    if mode == Mode::Rootless {
        assert_eq!(at(Ipv6Addr::LOCALHOST.into()), INDEX, "[::1]");
    }
    assert_eq!(at(Ipv4Addr::LOCALHOST.into()), INDEX, "127.0.0.1");
    let globals = host_v6_addresses();
    if globals.is_empty() {
        eprintln!("[{mode:?}] the uplink has no global IPv6 address: [::1] and 127.0.0.1 only");
    }
    for a in &globals {
        assert_eq!(at((*a).into()), INDEX, "[{a}]");
    }
    if mode == Mode::Root {
        let map = std::process::Command::new("nft")
            .args(["list", "map", "ip6", "coracle", "net_tcp"])
            .output()
            .unwrap();
        let map = String::from_utf8_lossy(&map.stdout).into_owned();
        assert!(map.contains(&format!("{port} : ")), "{map}");
    }
    env.ok(&["rm", "-f", "-t", "0", "web6"]);
    for a in &globals {
        let gone = std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::new((*a).into(), port),
            Duration::from_secs(2),
        );
        assert!(gone.is_err(), "[{a}]:{port} still answers");
    }
    assert_network_gone(&env, 125);
    if mode == Mode::Rootless {
        // The default rootless network (pasta) publishes on IPv6 too.
        let port = free_port();
        let publish = format!("{port}:80");
        env.run_detached("plain6", &["-p", &publish, "-v", &www], &img, HTTPD);
        let at = |ip: std::net::IpAddr| http_get_at(std::net::SocketAddr::new(ip, port));
        assert_eq!(at(Ipv6Addr::LOCALHOST.into()), INDEX, "[::1], pasta");
        for a in &globals {
            assert_eq!(at((*a).into()), INDEX, "[{a}], pasta");
        }
    }
}
