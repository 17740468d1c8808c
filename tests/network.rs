//! Networking as root (slirp4netns) and rootless (pasta): published TCP and
//! UDP ports reached from the host (UDP answers back to the sender, bulk TCP
//! both ways), `-P`, `port`/`ps`/`inspect`, port
//! conflicts, outbound to the host's loopback, /etc/hosts and resolv.conf,
//! `--network container:`/`none`, and cleanup of the helper processes.
//! All traffic stays on this machine's loopback.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

const INDEX: &str = "hello from coracle httpd\n";

/// Two free host ports in a row; the first.
fn free_port_pair() -> u16 {
    loop {
        let p = free_port();
        if p < u16::MAX && port_is_free(p + 1) {
            return p;
        }
    }
}

fn published_port(env: &TestEnv, ctr: &str, spec: &str) -> u16 {
    let out = env.ok(&["port", ctr, spec]);
    let line = out.lines().next().unwrap_or("").trim();
    line.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("[{:?}] `port {ctr} {spec}`: {out:?}", env.mode))
}

fn container_pid(env: &TestEnv, ctr: &str) -> i32 {
    env.ok(&["inspect", "--format", "{{.State.Pid}}", ctr])
        .trim()
        .parse()
        .unwrap()
}

/// Live pasta / slirp4netns processes serving this env's container whose
/// first process is `ctr_pid`: both take that pid on their command line,
/// pasta's readiness FIFO lives in the run root.
fn helper_pids(env: &TestEnv, ctr_pid: i32) -> Vec<i32> {
    let runroot = env.runroot_dir().to_string_lossy().into_owned();
    let pid_arg = ctr_pid.to_string();
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        // pasta runs as `passt.avx2` or `pasta`
        if !(comm.starts_with("pas") || comm == "slirp4netns") {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let ours =
            args.iter().any(|a| a.contains(&runroot)) || (ctr_pid > 0 && args.contains(&pid_arg));
        if ours && process_alive(pid) {
            v.push(pid);
        }
    }
    v
}

/// Kill helpers a failed test may leave (the reaper only knows container
/// processes, which carry the mark; helpers do not).
struct HelperReaper<'a>(&'a TestEnv);

impl Drop for HelperReaper<'_> {
    fn drop(&mut self) {
        for pid in helper_pids(self.0, 0) {
            // SAFETY: a signal to a process this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

both_modes!(published_tcp_port_serves_httpd_to_the_host);
fn published_tcp_port_serves_httpd_to_the_host(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let www = www_dir(&env, INDEX);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.run_detached("web", &["-p", &publish, "-v", &www], &img, HTTPD);
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}] body via {publish}");

    // random host port: `port` tells which
    env.run_detached("web2", &["-p", "127.0.0.1::80", "-v", &www], &img, HTTPD);
    let random = published_port(&env, "web2", "80");
    assert_ne!(random, 0, "[{mode:?}]");
    assert_eq!(
        http_get(mode, random),
        INDEX,
        "[{mode:?}] body via random port"
    );
    env.ok(&["rm", "-f", "-t", "0", "web", "web2"]);
}

both_modes!(published_udp_port_delivers_datagrams);
fn published_udp_port_delivers_datagrams(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let tools = format!("{}:/tools:ro", udp_receiver().display());
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:5353/udp");
    env.run_detached(
        "udp",
        &["-p", &publish, "-v", &tools],
        &img,
        &["/tools/udprecv", "5353", "/tmp/got"],
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // datagrams sent before the receiver binds are lost: resend until one
    // is in the container's file
    let mut got = String::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        sock.send_to(b"ping-udp\n", ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        got = env.run(&["exec", "udp", "cat", "/tmp/got"]).stdout;
        if got.lines().any(|l| l == "ping-udp") {
            break;
        }
    }
    assert!(
        got.lines().any(|l| l == "ping-udp"),
        "[{mode:?}] no datagram arrived in the container through {publish}: {got:?}"
    );
    env.ok(&["rm", "-f", "-t", "0", "udp"]);
}

/// Send `msg` from a fresh host socket to 127.0.0.1:port until an answer
/// comes back (the receiver may still be starting); the answer and where it
/// came from, or None after 8s.
fn udp_round_trip(port: u16, msg: &[u8]) -> Option<(Vec<u8>, std::net::SocketAddr)> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 2048];
    while start.elapsed() < Duration::from_secs(8) {
        sock.send_to(msg, ("127.0.0.1", port)).unwrap();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            return Some((buf[..n].to_vec(), from));
        }
    }
    None
}

both_modes!(published_udp_port_answers_the_sender);
fn published_udp_port_answers_the_sender(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let tools = format!("{}:/tools:ro", udp_receiver().display());
    // Both shapes of a mapping: a host port above the container's (a
    // DNS server on 5353) and below it.
    let high = free_port();
    const LOW_TARGET: u16 = 65500;
    let low = loop {
        let p = free_port();
        if p < LOW_TARGET {
            break p;
        }
    };
    let p_high = format!("127.0.0.1:{high}:5353/udp");
    let p_low = format!("127.0.0.1:{low}:{LOW_TARGET}/udp");
    env.run_detached(
        "echo",
        &["-p", &p_high, "-p", &p_low, "-v", &tools],
        &img,
        &[
            "sh",
            "-c",
            "/tools/udprecv 5353 /tmp/a & exec /tools/udprecv 65500 /tmp/b",
        ],
    );
    for (port, spec) in [(high, &p_high), (low, &p_low)] {
        let msg = format!("question via {port}");
        let got = udp_round_trip(port, msg.as_bytes());
        let Some((answer, from)) = got else {
            let seen = env.run(&["exec", "echo", "cat", "/tmp/a", "/tmp/b"]).stdout;
            panic!(
                    "[{mode:?}] no answer through {spec} within 8s (the container received {} of the datagrams)",
                    seen.matches(&msg).count()
                );
        };
        assert_eq!(
            String::from_utf8_lossy(&answer),
            msg,
            "[{mode:?}] answer through {spec}"
        );
        // A client that connect()s its socket only accepts this source.
        assert_eq!(
            from.to_string(),
            format!("127.0.0.1:{port}"),
            "[{mode:?}] the answer through {spec} came from elsewhere"
        );
    }
    env.ok(&["rm", "-f", "-t", "0", "echo"]);
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Connect to 127.0.0.1:port until the container's listener takes it.
fn connect_when_up(
    mode: Mode,
    port: u16,
    mut probe: impl FnMut(&mut TcpStream) -> bool,
) -> TcpStream {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            if probe(&mut s) {
                return s;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("[{mode:?}] nothing took connections on 127.0.0.1:{port} within 8s");
}

both_modes!(published_tcp_port_carries_bulk_data_both_ways_with_half_close);
fn published_tcp_port_carries_bulk_data_both_ways_with_half_close(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let (down, up) = (free_port(), free_port());
    let p_down = format!("127.0.0.1:{down}:9000");
    let p_up = format!("127.0.0.1:{up}:9001");
    // 8 MiB out of the container (then EOF), and whatever comes in
    // until the sender's EOF.
    env.run_detached(
        "bulk",
        &["-p", &p_down, "-p", &p_up],
        &img,
        &[
            "sh",
            "-c",
            "dd if=/dev/urandom of=/tmp/out bs=1M count=8 2>/dev/null; \
                 sha256sum /tmp/out > /tmp/out.sum; \
                 nc -l -p 9000 < /tmp/out & nc -l -p 9001 > /tmp/in; exec sleep 300",
        ],
    );

    // Download: the first byte proves the container's nc has the file.
    let mut first = [0u8; 1];
    let mut s = connect_when_up(mode, down, |s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        matches!(s.read(&mut first), Ok(1))
    });
    let mut got = first.to_vec();
    s.read_to_end(&mut got).unwrap();
    let want = env.ok(&["exec", "bulk", "cat", "/tmp/out.sum"]);
    assert_eq!(got.len(), 8 << 20, "[{mode:?}] bytes out of the container");
    assert_eq!(
        want.split_whitespace().next().unwrap_or(""),
        sha256_hex(&got),
        "[{mode:?}] the download's content"
    );

    // Upload, then half-close: the container's nc ends on our EOF.
    let data: Vec<u8> = (0..(6u32 << 20))
        .map(|i| (i * 7 + i / 4093) as u8)
        .collect();
    let mut s = TcpStream::connect(("127.0.0.1", up)).unwrap();
    s.write_all(&data).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // EOF from the far side: its nc is done sending (which may come before
    // it has written all it read to the file; wait for the whole upload).
    s.read_to_end(&mut rest).unwrap();
    let size = format!("{}", data.len());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while env
        .ok(&["exec", "bulk", "stat", "-c", "%s", "/tmp/in"])
        .trim()
        != size
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let sum = env.ok(&["exec", "bulk", "busybox", "sha256sum", "/tmp/in"]);
    assert_eq!(
        sum.split_whitespace().next().unwrap_or(""),
        sha256_hex(&data),
        "[{mode:?}] the upload's content in the container"
    );
    env.ok(&["rm", "-f", "-t", "0", "bulk"]);
}

both_modes!(publish_all_maps_the_images_exposed_ports);
fn publish_all_maps_the_images_exposed_ports(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = rt_expose().reference();
    env.pull(&img);
    let www = www_dir(&env, INDEX);
    env.run_detached("web", &["-P", "-v", &www], &img, HTTPD);
    let all = env.ok(&["port", "web"]);
    let lines: Vec<&str> = all.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "[{mode:?}] `port web` after -P with EXPOSE 80: {all:?}"
    );
    assert!(
        lines[0].starts_with("80/tcp -> "),
        "[{mode:?}] `port web`: {all:?}"
    );
    let port = published_port(&env, "web", "80/tcp");
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}] body via -P port");
    env.ok(&["rm", "-f", "-t", "0", "web"]);
}

both_modes!(port_ps_and_inspect_show_the_mappings);
fn port_ps_and_inspect_show_the_mappings(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let range = free_port_pair();
    let udp = free_port();
    let tcp_spec = format!("127.0.0.1:{}-{}:80-81", range, range + 1);
    let udp_spec = format!("127.0.0.1:{udp}:53/udp");
    env.run_detached(
        "ports",
        &["-p", &tcp_spec, "-p", &udp_spec],
        &img,
        &["sleep", "300"],
    );

    let out = env.ok(&["port", "ports"]);
    let want = [
        format!("80/tcp -> 127.0.0.1:{range}"),
        format!("81/tcp -> 127.0.0.1:{}", range + 1),
        format!("53/udp -> 127.0.0.1:{udp}"),
    ];
    let mut got: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    got.sort();
    let mut want_sorted: Vec<&str> = want.iter().map(String::as_str).collect();
    want_sorted.sort();
    assert_eq!(got, want_sorted, "[{mode:?}] `port ports`:\n{out}");
    assert_eq!(
        env.ok(&["port", "ports", "81"]).trim(),
        format!("127.0.0.1:{}", range + 1),
        "[{mode:?}] `port ports 81`"
    );
    assert_eq!(
        env.ok(&["port", "ports", "53/udp"]).trim(),
        format!("127.0.0.1:{udp}"),
        "[{mode:?}] `port ports 53/udp`"
    );

    let ps = env.ok(&["ps", "--format", "{{.Ports}}", "--filter", "name=ports"]);
    for m in [
        format!("127.0.0.1:{range}->80/tcp"),
        format!("127.0.0.1:{}->81/tcp", range + 1),
        format!("127.0.0.1:{udp}->53/udp"),
    ] {
        // podman may fold a range into `a-b->80-81/tcp`; accept either
        let folded = format!("127.0.0.1:{}-{}->80-81/tcp", range, range + 1);
        assert!(
            ps.contains(&m) || (m.ends_with("/tcp") && ps.contains(&folded)),
            "[{mode:?}] ps PORTS lacks {m}: {ps:?}"
        );
    }
    let table = env.ok(&["ps"]);
    assert!(
        table.lines().next().unwrap_or("").contains("PORTS"),
        "[{mode:?}] ps has no PORTS column:\n{table}"
    );

    let v = env.inspect_container("ports");
    let ports = &v["NetworkSettings"]["Ports"];
    let entry = |key: &str, port: u16| {
        assert_eq!(
            ports[key],
            serde_json::json!([{"HostIp": "127.0.0.1", "HostPort": port.to_string()}]),
            "[{mode:?}] inspect NetworkSettings.Ports[{key}]: {ports}"
        );
    };
    entry("80/tcp", range);
    entry("81/tcp", range + 1);
    entry("53/udp", udp);
    assert_eq!(
        ports.as_object().map(|o| o.len()),
        Some(3),
        "[{mode:?}] NetworkSettings.Ports: {ports}"
    );
    env.ok(&["rm", "-f", "-t", "0", "ports"]);
}

both_modes!(host_port_in_use_fails_and_leaves_no_container);
fn host_port_in_use_fails_and_leaves_no_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let publish = format!("127.0.0.1:{port}:80");
    let mark = env.mark();
    let out = env.run(&[
        "run", "-d", "--name", "clash", "-e", &mark, "-p", &publish, &img, "sleep", "300",
    ]);
    assert_error(
        mode,
        "run -d -p <port in use>",
        &out,
        125,
        &[&port.to_string()],
    );
    let names = env.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        !names.lines().any(|l| l.trim() == "clash"),
        "[{mode:?}] a failed start left the container behind:\n{names}"
    );
    assert!(
        env.all_container_ids().is_empty(),
        "[{mode:?}] ps -a after the failed run: {:?}",
        env.all_container_ids()
    );
    assert!(
        wait_for(Duration::from_secs(5), || env.marked_pids().is_empty()),
        "[{mode:?}] container processes left: {:?}",
        env.marked_pids()
    );
    // the name is free again
    env.run_detached("clash", &[], &img, &["sleep", "300"]);
    env.ok(&["rm", "-f", "-t", "0", "clash"]);
    drop(held);
}

/// A one-shot-per-connection HTTP responder on the host's 127.0.0.1 that
/// answers every request with `body`; its port.
fn host_http_responder(body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = write!(
                    s,
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

both_modes!(container_reaches_host_loopback_as_host_containers_internal_when_allowed);
fn container_reaches_host_loopback_as_host_containers_internal_when_allowed(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let port = host_http_responder("marker-from-host\n");
    // The host's loopback is closed unless the network opens it
    // (host_loopback_closed_by_default): podman's options for that.
    let network = match mode {
        Mode::Root => "--network=slirp4netns:allow_host_loopback=true",
        Mode::Rootless => "--network=pasta:--map-gw",
    };
    let out = env.sh(
        &img,
        &[network],
        &format!(
            "grep -w host.containers.internal /etc/hosts; echo ---; ip route; echo ---; \
                 ip -6 route; echo ---; wget -q -O- http://host.containers.internal:{port}/"
        ),
    );
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts.len(), 4, "[{mode:?}] {out}");
    // The program's first request out goes through, though pasta
    // (rootless) lets it start once the namespace is configured,
    // before pasta itself is fully up.
    assert_eq!(
        parts[3], "marker-from-host\n",
        "[{mode:?}] outbound to the host's loopback:\n{out}"
    );
    // ... and its default routes were in place by then.
    if host_has_default_route(false) {
        assert!(
            parts[1].lines().any(|l| l.starts_with("default via")),
            "[{mode:?}] no IPv4 default route when the program started:\n{out}"
        );
    }
    // slirp4netns (root's default) runs without IPv6.
    if mode == Mode::Rootless && host_has_default_route(true) {
        assert!(
            parts[2].lines().any(|l| l.starts_with("default via")),
            "[{mode:?}] no IPv6 default route when the program started:\n{out}"
        );
    }
    let hosts_ip = parts[0].split_whitespace().next().unwrap_or("");
    match mode {
        Mode::Root => assert_eq!(
            hosts_ip, "10.0.2.2",
            "[{mode:?}] slirp4netns's host address in /etc/hosts:\n{out}"
        ),
        Mode::Rootless => {
            // pasta: the container's default gateway stands for the host
            let gw = parts[1]
                .lines()
                .find_map(|l| l.strip_prefix("default via "))
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("");
            assert_eq!(
                hosts_ip, gw,
                "[{mode:?}] host.containers.internal should be the gateway:\n{out}"
            );
        }
    }
}

both_modes!(dns_and_host_flags_fill_resolv_conf_hosts_and_hostname);
fn dns_and_host_flags_fill_resolv_conf_hosts_and_hostname(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let out = env.sh(
        &img,
        &[
            "--name",
            "named",
            "--hostname",
            "h",
            "--dns",
            "1.1.1.1",
            "--dns-search",
            "corp",
            "--dns-option",
            "ndots:2",
            "--add-host",
            "db:10.0.0.5",
        ],
        "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; cat /etc/hostname",
    );
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts.len(), 3, "[{mode:?}] {out}");
    let resolv: Vec<&str> = parts[0].lines().map(str::trim).collect();
    for want in ["search corp", "nameserver 1.1.1.1", "options ndots:2"] {
        assert!(
            resolv.contains(&want),
            "[{mode:?}] resolv.conf lacks {want:?}:\n{}",
            parts[0]
        );
    }
    // --dns replaces the default resolvers
    let servers: Vec<&&str> = resolv
        .iter()
        .filter(|l| l.starts_with("nameserver"))
        .collect();
    assert_eq!(servers, [&"nameserver 1.1.1.1"], "[{mode:?}]\n{}", parts[0]);

    let hosts = parts[1];
    assert!(
        hosts.lines().any(|l| l == "10.0.0.5\tdb"),
        "[{mode:?}] /etc/hosts lacks `10.0.0.5\\tdb`:\n{hosts}"
    );
    let has_name = |n: &str| {
        hosts
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| l.split_whitespace().skip(1).any(|w| w == n))
    };
    for n in ["h", "named", "localhost", "host.containers.internal"] {
        assert!(has_name(n), "[{mode:?}] /etc/hosts lacks {n}:\n{hosts}");
    }
    assert_eq!(parts[2], "h\n", "[{mode:?}] /etc/hostname");

    // without --dns the container still has a resolver
    let out = env.sh(&img, &[], "cat /etc/resolv.conf");
    assert!(
        out.lines().any(|l| l.starts_with("nameserver ")),
        "[{mode:?}] default resolv.conf has no nameserver:\n{out}"
    );
}

both_modes!(network_container_shares_localhost);
fn network_container_shares_localhost(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let www = www_dir(&env, INDEX);
    env.run_detached("web", &["-v", &www], &img, HTTPD);
    let out = env.sh(
            &img,
            &["--network", "container:web"],
            "for i in $(seq 80); do wget -q -O- http://127.0.0.1:80/ && exit 0; sleep 0.1; done; exit 1",
        );
    assert_eq!(out, INDEX, "[{mode:?}] web's httpd over shared localhost");
    env.ok(&["rm", "-f", "-t", "0", "web"]);
}

both_modes!(programs_that_exit_at_once_start_with_their_network_every_time);
/// A program that ends the moment it starts never loses the race with its
/// network helper. Rootless with `--userns keep-id` (0 maps to a subuid,
/// so the switch to it used to make the process non-dumpable while pasta
/// was still opening its namespaces: one start in four failed).
fn programs_that_exit_at_once_start_with_their_network_every_time(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let userns: &[&str] = match mode {
        Mode::Rootless => &["--userns", "keep-id"],
        Mode::Root => &[],
    };
    let mut first = None;
    for i in 0..30 {
        let mut args = vec!["run", "--rm"];
        args.extend(userns);
        args.extend([img.as_str(), "cat", "/proc/self/uid_map"]);
        let map = env.ok(&args);
        assert!(!map.trim().is_empty(), "[{mode:?}] start {i}: no uid map");
        assert_eq!(
            first.get_or_insert_with(|| map.clone()),
            &map,
            "[{mode:?}] start {i}"
        );
    }
    assert!(
        env.ok(&["ps", "-aq"]).is_empty(),
        "[{mode:?}] --rm left containers"
    );
}

both_modes!(network_none_has_only_loopback_and_refuses_publishing);
fn network_none_has_only_loopback_and_refuses_publishing(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let out = env.sh(
        &img,
        &["--network", "none"],
        "ip -o addr; echo ---; ip -o link",
    );
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts.len(), 2, "[{mode:?}] {out}");
    for part in &parts {
        let ifaces: Vec<&str> = part
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|n| n.trim_end_matches(':'))
            .collect();
        assert!(
            !ifaces.is_empty() && ifaces.iter().all(|n| *n == "lo"),
            "[{mode:?}] --network none should show only lo:\n{out}"
        );
    }
    // the default network has more than lo
    let out = env.sh(&img, &[], "ip -o link");
    assert!(
        out.lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .any(|n| n.trim_end_matches(':') != "lo"),
        "[{mode:?}] the default network has no interface besides lo:\n{out}"
    );

    for net in ["none", "host"] {
        let mark = env.mark();
        let out = env.run(&[
            "run",
            "--rm",
            "-e",
            &mark,
            "--network",
            net,
            "-p",
            "8080:80",
            &img,
            "true",
        ]);
        assert_error(mode, &format!("run --network {net} -p"), &out, 125, &[]);
    }
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
}

both_modes!(stop_and_rm_stop_the_helper_and_free_the_port);
fn stop_and_rm_stop_the_helper_and_free_the_port(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let www = www_dir(&env, INDEX);

    // stop
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.run_detached("web", &["-p", &publish, "-v", &www], &img, HTTPD);
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}]");
    let pid = container_pid(&env, "web");
    let helpers = helper_pids(&env, pid);
    assert!(
        !helpers.is_empty(),
        "[{mode:?}] no pasta/slirp4netns found for container pid {pid}"
    );
    env.ok(&["stop", "-t", "0", "web"]);
    assert!(
        wait_for(Duration::from_secs(5), || helper_pids(&env, pid).is_empty()),
        "[{mode:?}] helpers left after stop: {:?}",
        helper_pids(&env, pid)
    );
    assert!(
        wait_for(Duration::from_secs(5), || port_is_free(port)),
        "[{mode:?}] port {port} still taken after stop"
    );
    env.ok(&["rm", "web"]);

    // rm -f of a running container
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.run_detached("web", &["-p", &publish, "-v", &www], &img, HTTPD);
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}]");
    let pid = container_pid(&env, "web");
    assert!(!helper_pids(&env, pid).is_empty(), "[{mode:?}]");
    env.ok(&["rm", "-f", "-t", "0", "web"]);
    assert!(
        wait_for(Duration::from_secs(5), || helper_pids(&env, pid).is_empty()),
        "[{mode:?}] helpers left after rm -f: {:?}",
        helper_pids(&env, pid)
    );
    assert!(
        wait_for(Duration::from_secs(5), || port_is_free(port)),
        "[{mode:?}] port {port} still taken after rm -f"
    );
    // the same port can be published again at once
    env.run_detached("again", &["-p", &publish, "-v", &www], &img, HTTPD);
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}] republished");
    env.ok(&["rm", "-f", "-t", "0", "again"]);
}

both_modes!(killed_monitor_takes_its_helper_along);
fn killed_monitor_takes_its_helper_along(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let www = www_dir(&env, INDEX);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.run_detached("web", &["-p", &publish, "-v", &www], &img, HTTPD);
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}]");
    let pid = container_pid(&env, "web");
    assert!(!helper_pids(&env, pid).is_empty(), "[{mode:?}]");

    env.kill_monitor("web");
    // The helper and the port go with the monitor, before any other
    // coracle command runs.
    assert!(
        wait_for(Duration::from_secs(5), || helper_pids(&env, pid).is_empty()),
        "[{mode:?}] pasta/slirp4netns outlived its killed monitor: {:?}",
        helper_pids(&env, pid)
    );
    assert!(
        wait_for(Duration::from_secs(5), || port_is_free(port)),
        "[{mode:?}] port {port} still taken after the monitor died"
    );
    // The contract: no orphaned helper after the next coracle
    // command (which notices the dead monitor).
    let status = env.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        wait_for(Duration::from_secs(5), || helper_pids(&env, pid).is_empty()),
        "[{mode:?}] pasta/slirp4netns still alive after kill -9 of the monitor and a ps: {:?}",
        helper_pids(&env, pid)
    );
    let line = status.lines().find(|l| l.starts_with("web ")).unwrap_or("");
    assert!(
        line.contains("Exited"),
        "[{mode:?}] after kill -9 of the monitor, ps -a should show web exited:\n{status}"
    );
    assert!(
        wait_for(Duration::from_secs(5), || port_is_free(port)),
        "[{mode:?}] port {port} still taken after the monitor died"
    );
    env.ok(&["rm", "-f", "web"]);
}

/// Whether the host (this test's network namespace) has a default route of
/// that family, as /proc shows it.
fn host_has_default_route(v6: bool) -> bool {
    if v6 {
        std::fs::read_to_string("/proc/net/ipv6_route").is_ok_and(|t| {
            t.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() >= 10 && f[0].bytes().all(|b| b == b'0') && f[1] == "00" && f[9] != "lo"
            })
        })
    } else {
        std::fs::read_to_string("/proc/net/route").is_ok_and(|t| {
            t.lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
        })
    }
}

/// The peer address the container saw on its port `ctr_port`, from the
/// `netstat -tn` it runs on each connection (see SOURCE_PROBE).
fn peer_seen(mode: Mode, host: &str, port: u16, ctr_port: u16) -> String {
    peer_seen_as(mode, host, port, ctr_port, |_| true)
}

/// The same, asking again (for up to 8s) until `want` accepts the peer;
/// then the last peer seen.
fn peer_seen_as(
    mode: Mode,
    host: &str,
    port: u16,
    ctr_port: u16,
    want: impl Fn(&str) -> bool,
) -> String {
    let start = Instant::now();
    let mut last = String::new();
    let mut seen = None;
    while start.elapsed() < Duration::from_secs(8) {
        if let Ok(mut s) = TcpStream::connect((host, port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
            // as `echo | nc`: a line, then our end closes
            let _ = s.write_all(b"\n");
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            // local address ends in :ctr_port; the peer is the next column
            let local = format!(":{ctr_port}");
            if let Some(peer) = out.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 5 && f[0] == "tcp" && f[3].ends_with(&local)).then(|| f[4].to_string())
            }) {
                let peer = peer.trim_start_matches("::ffff:").to_string();
                if want(&peer) {
                    return peer;
                }
                seen = Some(peer);
            }
            last = out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(peer) = seen {
        return peer;
    }
    panic!("[{mode:?}] no netstat answer from {host}:{port} (last: {last:?})");
}

/// Whether root's published TCP ports take the NAT path here (nftables is
/// installed; the test setup installs it).
fn root_nat(mode: Mode) -> bool {
    mode == Mode::Root
        && ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
            .iter()
            .any(|p| std::path::Path::new(p).exists())
}

/// The elements of root's DNAT maps whose key ends in host port `port`.
fn nat_elements(port: u16) -> Vec<String> {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "ip", "coracle"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let tail = format!(" {port}");
    out.split(['{', '}', ','])
        .map(str::trim)
        .filter(|e| {
            e.split_once(" : ")
                .is_some_and(|(key, _)| key == port.to_string() || key.ends_with(&tail))
        })
        .map(str::to_string)
        .collect()
}

const SOURCE_PROBE: &str = "nc -ll -p 80 -e netstat -tn & nc -ll -p 81 -e netstat -tn";

both_modes!(published_ports_show_the_source_address_pasta_would);
fn published_ports_show_the_source_address_pasta_would(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let local = free_port();
    let any = free_port();
    let (p1, p2) = (format!("127.0.0.1:{local}:80"), format!("{any}:81"));
    env.run_detached(
        "probe",
        &["-p", &p1, "-p", &p2],
        &img,
        &["sh", "-c", SOURCE_PROBE],
    );
    // A host-loopback client arrives from the namespace's loopback,
    // whether the port is bound to loopback only or to every address;
    // as root with NAT, from the host's end of the port link, once the
    // rules are in (the relay serves until then).
    let local_peer = if root_nat(mode) {
        "169.254."
    } else {
        "127.0.0.1:"
    };
    let seen = peer_seen_as(mode, "127.0.0.1", local, 80, |p| p.starts_with(local_peer));
    assert!(
        seen.starts_with(local_peer),
        "[{mode:?}] loopback bind: peer {seen}"
    );
    let seen = peer_seen_as(mode, "127.0.0.1", any, 81, |p| p.starts_with(local_peer));
    assert!(
        seen.starts_with(local_peer),
        "[{mode:?}] wildcard bind: peer {seen}"
    );
    // Rootless, pasta forwards the other addresses through its tap:
    // the container sees a real address there, not its loopback.
    let outward = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    if let (Mode::Rootless, Some(ip)) = (mode, outward) {
        let seen = peer_seen(mode, &ip.to_string(), any, 81);
        assert!(
            !seen.starts_with("127."),
            "[{mode:?}] a client at {ip} showed as loopback: {seen}"
        );
    }
    env.ok(&["rm", "-f", "-t", "0", "probe"]);
}

both_modes!(root_tcp_ports_get_dnat_for_local_clients_and_the_rules_go_with_the_container);
fn root_tcp_ports_get_dnat_for_local_clients_and_the_rules_go_with_the_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let www = www_dir(&env, INDEX);
    let nat = root_nat(mode);

    // stop removes the elements
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.run_detached("web", &["-p", &publish, "-v", &www], &img, HTTPD);
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}]");
    if nat {
        assert!(
            wait_for(Duration::from_secs(5), || nat_elements(port).len() == 1),
            "[{mode:?}] no DNAT element for port {port}: {:?}",
            nat_elements(port)
        );
        let link = env.ok(&["exec", "web", "ip", "addr", "show", "ports0"]);
        assert!(link.contains("169.254."), "[{mode:?}] ports0:\n{link}");
    } else {
        // Rootless never touches the host's firewall.
        assert!(
            nat_elements(port).is_empty(),
            "[{mode:?}] {:?}",
            nat_elements(port)
        );
    }
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}] through the rules");
    env.ok(&["stop", "-t", "0", "web"]);
    assert!(
        nat_elements(port).is_empty(),
        "[{mode:?}] DNAT left after stop: {:?}",
        nat_elements(port)
    );
    // the port serves the next container at once
    env.ok(&["rm", "web"]);
    env.run_detached("web", &["-p", &publish, "-v", &www], &img, HTTPD);
    assert_eq!(http_get(mode, port), INDEX, "[{mode:?}] republished");

    // a killed monitor's elements go with the next command
    if nat {
        assert!(
            wait_for(Duration::from_secs(5), || nat_elements(port).len() == 1),
            "[{mode:?}] no DNAT element after republishing"
        );
    }
    env.kill_monitor("web");
    env.ok(&["ps", "-a"]);
    assert!(
        nat_elements(port).is_empty(),
        "[{mode:?}] DNAT left after a killed monitor: {:?}",
        nat_elements(port)
    );
    env.ok(&["rm", "-f", "-t", "0", "web"]);
}

both_modes!(helper_options_keep_the_name_files_and_narrow_the_routes_waited_for);
fn helper_options_keep_the_name_files_and_narrow_the_routes_waited_for(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    // root's default helper is slirp4netns, rootless pasta (here IPv4 only)
    let network = match mode {
        Mode::Root => "--network=slirp4netns:mtu=65520",
        Mode::Rootless => "--network=pasta:-4",
    };
    let out = env.sh(
            &img,
            &[network],
            "grep -c host.containers.internal /etc/hosts; ip -4 route | grep -c ^default; ip -6 route | grep -c ^default; true",
        );
    let counts: Vec<&str> = out.lines().collect();
    assert_eq!(
        counts.first(),
        Some(&"1"),
        "[{mode:?}] {network}: /etc/hosts\n{out}"
    );
    if host_has_default_route(false) {
        assert_eq!(
            counts.get(1),
            Some(&"1"),
            "[{mode:?}] {network}: IPv4 default\n{out}"
        );
    }
    assert_eq!(
        counts.get(2),
        Some(&"0"),
        "[{mode:?}] {network}: no IPv6 default\n{out}"
    );
}

// --- The host's loopback is closed to containers unless asked for ----------

/// A TCP responder on the host at `ip`, on a random port, that answers
/// every connection with `body` and closes; it stops accepting after
/// `lifetime`. Its port.
fn host_responder(ip: std::net::IpAddr, body: &'static str, lifetime: Duration) -> u16 {
    let l = TcpListener::bind((ip, 0)).unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let end = Instant::now() + lifetime;
        while Instant::now() < end {
            match l.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let _ = s.write_all(body.as_bytes());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    port
}

/// A service only on the host's loopback that no other listener can shadow:
/// it holds its port on every address (so no parallel test's responder
/// gets the same port on the host's address) but answers only connections
/// made to 127.0.0.1.
fn loopback_responder(body: &'static str, lifetime: Duration) -> u16 {
    let l = TcpListener::bind(("0.0.0.0", 0)).unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let end = Instant::now() + lifetime;
        while Instant::now() < end {
            match l.accept() {
                Ok((mut s, _)) => {
                    let to_loopback = s.local_addr().is_ok_and(|a| a.ip().is_loopback());
                    if to_loopback {
                        let _ = s.set_nonblocking(false);
                        let _ = s.write_all(body.as_bytes());
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    port
}

/// The host's first IPv4 address that is not loopback (`ip -4 -o addr`).
fn host_non_loopback_v4() -> std::net::Ipv4Addr {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let a = l.split_whitespace().skip_while(|w| *w != "inet").nth(1)?;
            a.split('/').next()?.parse::<std::net::Ipv4Addr>().ok()
        })
        .find(|a| !a.is_loopback())
        .expect("this test needs a host address other than loopback (ip -4 addr)")
}

const LOOPBACK_MARK: &str = "from-host-loopback-only\n";
const HOST_ADDR_MARK: &str = "from-host-address\n";

/// In the container: `NAME:` then what `nc ADDR PORT` read (empty when it
/// could not connect), for each `(NAME, ADDR)`.
fn probe_script(targets: &[(&str, String)], port: u16) -> String {
    targets
        .iter()
        .map(|(n, a)| {
            format!("echo '{n}:'$(timeout 5 nc {a} {port} </dev/null 2>/dev/null | head -n 1);")
        })
        .collect()
}

/// `NAME` -> what it read, from the output of probe_script.
fn probed(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("<no answer line>")
        .trim()
        .to_string()
}

/// The networks whose host-loopback policy is checked, for the mode: the
/// default (no --network) and each helper by name.
const HELPERS: [Option<&str>; 3] = [None, Some("slirp4netns"), Some("pasta")];

/// `run --rm [--network=NET] IMG sh -c SCRIPT`: its stdout, or None where
/// the helper cannot run at all: pasta as root (it drops to nobody before
/// it opens the container's namespaces), which must then fail as a network
/// setup error, and nothing ran.
fn run_probe(env: &TestEnv, img: &str, net: Option<&str>, script: &str) -> Option<String> {
    let flag = net.map(|n| format!("--network={n}"));
    let extra: Vec<&str> = flag.iter().map(String::as_str).collect();
    let out = env.sh_out(img, &extra, script);
    let root_pasta = env.mode == Mode::Root && net.is_some_and(|n| n.starts_with("pasta"));
    if root_pasta && out.status == 125 {
        assert_error(env.mode, "run --network=pasta", &out, 125, &["pasta"]);
        return None;
    }
    assert_eq!(
        out.status, 0,
        "[{:?}] run {extra:?} sh -c {script:?}\nstdout:\n{}\nstderr:\n{}",
        env.mode, out.stdout, out.stderr
    );
    Some(out.stdout)
}

both_modes!(host_loopback_closed_by_default);
fn host_loopback_closed_by_default(mode: Mode) {
    let env = TestEnv::new(mode);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let lifetime = Duration::from_secs(150);
    let lo_port = loopback_responder(LOOPBACK_MARK, lifetime);
    let host_ip = host_non_loopback_v4();
    let addr_port = host_responder(host_ip.into(), HOST_ADDR_MARK, lifetime);
    for helper in HELPERS {
        let what = format!("[{mode:?}] {}", helper.unwrap_or("default network"));
        // Where a container found the host's loopback before: slirp4netns's
        // 10.0.2.2, pasta's gateway as host.containers.internal. (pasta's
        // gateway now is an address outside this machine: not probed.)
        let targets = [
            ("hci", "host.containers.internal".to_string()),
            ("hdi", "host.docker.internal".to_string()),
            ("slirp_host", "10.0.2.2".to_string()),
        ];
        let targets: Vec<_> = match helper {
            Some("pasta") => targets[..2].to_vec(),
            _ if helper.is_none() && mode == Mode::Rootless => targets[..2].to_vec(),
            _ => targets.to_vec(),
        };
        let script = format!(
            "{} echo addr:$(timeout 5 nc {host_ip} {addr_port} </dev/null | head -n 1)",
            probe_script(&targets, lo_port)
        );
        let Some(out) = run_probe(&env, &img, helper, &script) else {
            continue;
        };
        for (name, addr) in &targets {
            assert_eq!(
                probed(&out, name),
                "",
                "{what}: a service on the host's 127.0.0.1 answered at {addr}:\n{out}"
            );
        }
        // The container does have a network: the host's own address answers.
        assert_eq!(
            probed(&out, "addr"),
            HOST_ADDR_MARK.trim(),
            "{what}: the host at {host_ip}:\n{out}"
        );
    }
}

both_modes!(host_loopback_opt_in);
fn host_loopback_opt_in(mode: Mode) {
    let env = TestEnv::new(mode);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let lo_port = loopback_responder(LOOPBACK_MARK, Duration::from_secs(120));
    for (net, at) in [
        ("slirp4netns:allow_host_loopback=true", "10.0.2.2"),
        (
            "pasta:--map-gw",
            "$(ip route | sed -n 's/^default via \\([^ ]*\\).*/\\1/p')",
        ),
    ] {
        let what = format!("[{mode:?}] --network={net}");
        let targets = [
            ("hci", "host.containers.internal".to_string()),
            ("direct", at.to_string()),
        ];
        let Some(out) = run_probe(&env, &img, Some(net), &probe_script(&targets, lo_port)) else {
            continue;
        };
        for (name, addr) in &targets {
            assert_eq!(
                probed(&out, name),
                LOOPBACK_MARK.trim(),
                "{what}: the host's 127.0.0.1 service at {addr}:\n{out}"
            );
        }
    }
}

both_modes!(host_containers_internal_reaches_host_address);
fn host_containers_internal_reaches_host_address(mode: Mode) {
    let env = TestEnv::new(mode);
    let _helpers = HelperReaper(&env);
    let img = env.rt_image();
    let host_ip = host_non_loopback_v4();
    let port = host_responder(host_ip.into(), HOST_ADDR_MARK, Duration::from_secs(120));
    for helper in HELPERS {
        let what = format!("[{mode:?}] {}", helper.unwrap_or("default network"));
        let targets = [
            ("hci", "host.containers.internal".to_string()),
            ("hdi", "host.docker.internal".to_string()),
        ];
        let script = format!(
            "grep -w host.containers.internal /etc/hosts; {}",
            probe_script(&targets, port)
        );
        let Some(out) = run_probe(&env, &img, helper, &script) else {
            continue;
        };
        for (name, addr) in &targets {
            assert_eq!(
                probed(&out, name),
                HOST_ADDR_MARK.trim(),
                "{what}: a service on the host's {host_ip} at {addr}:\n{out}"
            );
        }
    }
}

both_modes!(bad_helper_options_give_one_short_line);
/// A helper option the helper rejects, or one coracle does not know: one
/// `Error:` line naming it (not pasta's whole usage text), exit 125, and no
/// container left behind.
fn bad_helper_options_give_one_short_line(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    for (network, needle) in [
        ("pasta:--no-such-flag", "--no-such-flag"),
        ("slirp4netns:bogus=1", "bogus=1"),
    ] {
        let out = env.run(&["run", "--rm", "--network", network, &img, "true"]);
        assert_error(mode, network, &out, 125, &[needle]);
        assert!(
            !out.stderr.contains("Usage"),
            "[{mode:?}] {network}: {}",
            out.stderr
        );
        assert!(
            env.all_container_ids().is_empty(),
            "[{mode:?}] {network} left a container"
        );
    }
}
