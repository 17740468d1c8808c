//! `--userns=auto[:size=,uidmapping=,gidmapping=]`: each container gets a
//! range of subordinate ids no other container of the store maps (as
//! root the `containers` user's ranges, rootless the caller's), sized from
//! the image unless `size=` says, kept across restarts and freed by rm.

mod common;

use std::sync::OnceLock;

use common::oci::*;
use common::*;

/// One line of /proc/self/{uid,gid}_map: (container, host, size).
type Line = (u64, u64, u64);

fn parse_map(text: &str) -> Vec<Line> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .map(|w| w.parse().ok())
                .collect::<Option<_>>()?;
            (f.len() == 3).then(|| (f[0], f[1], f[2]))
        })
        .collect()
}

/// The uid and gid maps a container prints with `SCRIPT`.
const SCRIPT: &str = "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map";

fn maps(out: &str) -> (Vec<Line>, Vec<Line>) {
    let (u, g) = out.split_once("--").expect("both maps");
    (parse_map(u), parse_map(g))
}

/// The host ids auto namespaces take from: `containers`'s ranges as
/// root, the test user's own rootless. Half-open.
fn pool(mode: Mode, file: &str) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(file).unwrap();
    let who = match mode {
        Mode::Root => "containers",
        Mode::Rootless => TEST_USER,
    };
    let ranges: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            (f.len() == 3 && f[0] == who).then(|| {
                let (s, n): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                (s, s + n)
            })
        })
        .collect();
    assert!(
        !ranges.is_empty(),
        "{file} has no range for {who} (tests/run.sh adds them)"
    );
    ranges
}

fn within(pool: &[(u64, u64)], lines: &[Line]) -> bool {
    lines
        .iter()
        .all(|&(_, h, n)| pool.iter().any(|&(s, e)| h >= s && h + n <= e))
}

fn overlap(a: &[Line], b: &[Line]) -> bool {
    a.iter()
        .any(|&(_, h, n)| b.iter().any(|&(_, h2, n2)| h < h2 + n2 && h2 < h + n))
}

fn total(lines: &[Line]) -> u64 {
    lines.iter().map(|l| l.2).sum()
}

/// Create container `name` with `--userns USERNS` printing its maps, and
/// start it attached: its maps.
fn create_and_show(env: &TestEnv, name: &str, userns: &str, img: &str) -> (Vec<Line>, Vec<Line>) {
    let mark = env.mark();
    env.ok(&[
        "create", "--name", name, "-e", &mark, "--userns", userns, img, "sh", "-c", SCRIPT,
    ]);
    maps(&env.ok(&["start", "-a", name]))
}

both_modes!(auto_ranges_are_apart_and_kept);
/// Two auto containers get disjoint ranges of the right pool, of the
/// image's size (1024 at least); inspect shows the mode and the maps; a
/// restart keeps the range and a removal frees it for the next.
fn auto_ranges_are_apart_and_kept(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let (pu, pg) = (pool(mode, "/etc/subuid"), pool(mode, "/etc/subgid"));
    let (a_u, a_g) = create_and_show(&env, "a", "auto", &img);
    let (b_u, b_g) = create_and_show(&env, "b", "auto", &img);
    for (name, u, g) in [("a", &a_u, &a_g), ("b", &b_u, &b_g)] {
        assert_eq!(
            (total(u), total(g)),
            (1024, 1024),
            "[{mode:?}] {name}: auto-userns-min-size ids: {u:?} {g:?}"
        );
        assert_eq!(u[0].0, 0, "[{mode:?}] {name} maps root: {u:?}");
        assert!(
            within(&pu, u) && within(&pg, g),
            "[{mode:?}] {name}'s ids come from {pu:?} / {pg:?}: {u:?} {g:?}"
        );
    }
    assert!(
        !overlap(&a_u, &b_u) && !overlap(&a_g, &b_g),
        "[{mode:?}] two auto containers share ids: {a_u:?} {b_u:?} / {a_g:?} {b_g:?}"
    );
    let shown = env.ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.UsernsMode}} {{len .HostConfig.IDMappings.UidMap}} {{index .HostConfig.IDMappings.UidMap 0}}",
        "a",
    ]);
    let words: Vec<&str> = shown.split_whitespace().collect();
    assert!(
        words.len() == 3
            && words[0] == "private"
            && words[1] == "1"
            && words[2].starts_with("0:")
            && words[2].ends_with(":1024"),
        "[{mode:?}] inspect: {shown}"
    );
    // A restart keeps the range.
    assert_eq!(
        maps(&env.ok(&["start", "-a", "a"])),
        (a_u.clone(), a_g.clone()),
        "[{mode:?}] the range survives a restart"
    );
    // b's range is free once b is gone, and the next auto container gets it.
    env.ok(&["rm", "b"]);
    let (c_u, c_g) = create_and_show(&env, "c", "auto", &img);
    assert_eq!(
        (&c_u, &c_g),
        (&b_u, &b_g),
        "[{mode:?}] rm frees the range for the next auto container"
    );
    // An explicit --uidmap container's ids are not handed out either.
    env.ok(&["rm", "c"]);
    let explicit = match mode {
        Mode::Root => b_u[0].1,
        Mode::Rootless => b_u[0].1 - pu[0].0 + 1,
    };
    let mark = env.mark();
    env.ok(&[
        "create",
        "--name",
        "x",
        "-e",
        &mark,
        "--uidmap",
        &format!("0:{explicit}:10"),
        "--gidmap",
        &format!("0:{explicit}:10"),
        &img,
        "true",
    ]);
    let (d_u, _) = create_and_show(&env, "d", "auto", &img);
    assert!(
        !overlap(&d_u, &[(0, b_u[0].1, 10)]) && !overlap(&d_u, &a_u),
        "[{mode:?}] auto skips ids an explicit map uses: {d_u:?}"
    );
    // A clone of an auto container gets a range of its own.
    env.ok(&["container", "clone", "a", "a2"]);
    let (e_u, _) = maps(&env.ok(&["start", "-a", "a2"]));
    assert!(
        total(&e_u) == 1024 && !overlap(&e_u, &a_u) && !overlap(&e_u, &d_u),
        "[{mode:?}] clone: {e_u:?} (a {a_u:?}, d {d_u:?})"
    );
}

/// busybox and a file owned by 5000:5001.
fn high_owner_image(env: &TestEnv) -> String {
    static P: OnceLock<Pushed> = OnceLock::new();
    let p = P.get_or_init(|| {
        let mut t = TarBuilder::new();
        t.dir("srv", 0o755, 0, 0)
            .file("srv/high", b"x", 0o644, 5000, 5001);
        let extra = Layer::new(&t.finish(), Compression::Gzip);
        let img = build_image(
            &ImageSpec::new("highowner"),
            vec![busybox_layer().clone(), extra],
        );
        push_image(registry(), "fixtures/highowner", "1", &img);
        Pushed {
            host: registry().host.clone(),
            repo: "fixtures/highowner".into(),
            tag: "1".into(),
            digest: img.manifest_digest.clone(),
            images: vec![img],
        }
    });
    let r = p.reference();
    env.pull(&r);
    r
}

both_modes!(auto_options_shape_the_namespace);
/// `size=N` gives N ids; `uidmapping=` forces a mapping (its container
/// ids left out of the automatic part); without size, a file owned by a
/// high id in the image makes the namespace cover it.
fn auto_options_shape_the_namespace(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let u = test_user();
    let (pu, pg) = (pool(mode, "/etc/subuid"), pool(mode, "/etc/subgid"));
    let (su, sg) = maps(&env.sh(&img, &["--userns", "auto:size=300"], SCRIPT));
    assert_eq!(
        (total(&su), total(&sg)),
        (300, 300),
        "[{mode:?}] size=300: {su:?} {sg:?}"
    );
    // 0 forced to (intermediate) id 5000, the other 99 automatic.
    let (fu, fg) = maps(&env.sh(
        &img,
        &["--userns", "auto:size=100,uidmapping=0:5000:1"],
        SCRIPT,
    ));
    let forced_host = match mode {
        Mode::Root => 5000,
        Mode::Rootless => u.subuid_start as u64 + 4999,
    };
    assert!(
        fu.len() == 2
            && fu[0] == (0, forced_host, 1)
            && (fu[1].0, fu[1].2) == (1, 99)
            && within(&pu, &fu[1..]),
        "[{mode:?}] uidmapping=0:5000:1: {fu:?}"
    );
    assert!(
        total(&fg) == 100 && fg[0].0 == 0 && within(&pg, &fg),
        "[{mode:?}] uidmapping leaves the gid map automatic: {fg:?}"
    );
    let high = high_owner_image(&env);
    let (hu, hg) = maps(&env.sh(
        &high,
        &["--userns", "auto"],
        &format!("{SCRIPT}; stat -c %u:%g /srv/high"),
    ));
    assert_eq!(
        (total(&hu), total(&hg)),
        (5002, 5002),
        "[{mode:?}] the image's highest owner (5001) is covered: {hu:?} {hg:?}"
    );
}

both_modes!(auto_refusals);
/// More ids than are free, bad options, and auto with explicit maps: one
/// Error line, exit 125, no container. storage.conf's
/// auto-userns-max-size caps the size worked out from the image.
fn auto_refusals(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    for (userns, extra, needle) in [
        ("auto:size=100000000", None, "not enough free subordinate"),
        ("auto:size=0", None, "invalid auto option"),
        ("auto:bogus=1", None, "invalid auto option"),
        ("auto:uidmapping=0:1", None, "invalid auto option"),
        ("auto", Some("--uidmap"), "cannot be used together"),
    ] {
        let mut args = vec!["create", "--userns", userns];
        if let Some(flag) = extra {
            args.extend([flag, "0:1:10"]);
        }
        args.extend([img.as_str(), "true"]);
        assert_refused(&env, &args, needle);
    }
    let high = high_owner_image(&env);
    let conf = env.home.join("storage.conf");
    env.write_user_file(
        &conf,
        b"[storage.options]\nauto-userns-max-size = 2000\nroot-auto-userns-user = \"nobody-has-this-name\"\n",
    );
    env.set_env("CONTAINERS_STORAGE_CONF", conf.to_str().unwrap());
    assert_refused(
        &env,
        &["create", "--userns", "auto", &high, "true"],
        "bigger than the maximum value allowed with userns=auto 2000",
    );
    match mode {
        // As root the ids are that user's: it has none.
        Mode::Root => assert_refused(
            &env,
            &["create", "--userns", "auto", &img, "true"],
            "no subordinate ids for \"nobody-has-this-name\"",
        ),
        // Rootless the setting does not apply: the caller's ids serve.
        Mode::Rootless => {
            env.ok(&["create", "--userns", "auto", &img, "true"]);
        }
    }
}

/// Removes the test's pods (their infras run on) and what it started.
struct PodReaper<'a>(&'a TestEnv);

impl Drop for PodReaper<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["pod", "rm", "-a", "-f", "-t", "0"]);
        self.0.reap();
    }
}

both_modes!(auto_pods_get_a_range_each);
/// `pod create --userns auto`: the infra gets a free range and every
/// member is made in it; another pod and a lone auto container get ranges
/// of their own.
fn auto_pods_get_a_range_each(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = PodReaper(&env);
    let img = env.rt_image();
    env.ok(&["pod", "create", "--name", "p1", "--userns", "auto:size=500"]);
    env.ok(&["pod", "create", "--name", "p2", "--userns", "auto"]);
    let (p1_u, p1_g) = maps(&env.sh(&img, &["--pod", "p1"], SCRIPT));
    let (again, _) = maps(&env.sh(&img, &["--pod", "p1"], SCRIPT));
    let (p2_u, _) = maps(&env.sh(&img, &["--pod", "p2"], SCRIPT));
    let (lone_u, _) = maps(&env.sh(&img, &["--userns", "auto"], SCRIPT));
    assert_eq!(
        (total(&p1_u), total(&p1_g), total(&p2_u)),
        (500, 500, 1024),
        "[{mode:?}] {p1_u:?} {p1_g:?} {p2_u:?}"
    );
    assert_eq!(p1_u, again, "[{mode:?}] members share the pod's range");
    // inspect says what podman reads from the spec: a member joins the
    // infra's namespace, the infra has one of its own
    env.ok(&["create", "--name", "member", "--pod", "p1", &img, "true"]);
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", "p1"]);
    let userns_of = |c: &str| env.ok(&["inspect", "--format", "{{.HostConfig.UsernsMode}}", c]);
    assert_eq!(
        (userns_of("member"), userns_of(infra.trim())),
        (format!("container:{infra}"), "private\n".to_string()),
        "[{mode:?}] UsernsMode"
    );
    assert!(
        !overlap(&p1_u, &p2_u) && !overlap(&p1_u, &lone_u) && !overlap(&p2_u, &lone_u),
        "[{mode:?}] pods and containers get ranges apart: {p1_u:?} {p2_u:?} {lone_u:?}"
    );
    // A clone of the pod gets a range of its own, of the same size.
    env.ok(&["pod", "clone", "--name", "p3", "p1"]);
    let (p3_u, _) = maps(&env.sh(&img, &["--pod", "p3"], SCRIPT));
    assert!(
        total(&p3_u) == 500 && !overlap(&p3_u, &p1_u) && !overlap(&p3_u, &p2_u),
        "[{mode:?}] pod clone: {p3_u:?} (p1 {p1_u:?})"
    );
    assert_refused(
        &env,
        &["create", "--pod", "p1", "--userns", "auto", &img, "true"],
        "cannot set user namespace mode when joining pod with infra container",
    );
    assert_refused(
        &env,
        &[
            "pod",
            "create",
            "--name",
            "bad",
            "--userns",
            "auto",
            "--infra=false",
        ],
        "--infra=false",
    );
    assert_refused(
        &env,
        &[
            "pod",
            "create",
            "--name",
            "big",
            "--userns",
            "auto:size=100000000",
        ],
        "not enough free subordinate",
    );
}

both_modes!(concurrent_auto_creates_get_ranges_apart);
/// Four creates at once: the store lock orders the choices, so no two
/// ranges meet.
fn concurrent_auto_creates_get_ranges_apart(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let children: Vec<_> = (0..4)
        .map(|i| {
            env.coracle_command(&[
                "create",
                "--name",
                &format!("c{i}"),
                "--userns",
                "auto:size=100",
                &img,
                "true",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "[{mode:?}] a create failed");
    }
    let ranges: Vec<Vec<Line>> = (0..4)
        .map(|i| {
            let text = env.ok(&[
                "inspect",
                "--format",
                "{{range .HostConfig.IDMappings.UidMap}}{{.}}\n{{end}}",
                &format!("c{i}"),
            ]);
            // container:host:size, in the caller's ids
            parse_map(&text.replace(':', " "))
        })
        .collect();
    for (i, a) in ranges.iter().enumerate() {
        assert_eq!(total(a), 100, "[{mode:?}] c{i}: {a:?}");
        for b in &ranges[i + 1..] {
            assert!(!overlap(a, b), "[{mode:?}] {ranges:?}");
        }
    }
}

both_modes!(quadlet_userns_auto_reaches_run);
/// Quadlet's `UserNS=auto:size=2000` becomes run's `--userns`, and the
/// container that line makes has a range of 2000 ids; `RemapUsers=auto`
/// with `RemapUidSize=` becomes the same.
fn quadlet_userns_auto_reaches_run(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let dir = env.dir.join("units");
    env.write_user_file(
        &dir.join("auto.container"),
        format!("[Container]\nImage={img}\nUserNS=auto:size=2000\nExec=true\n").as_bytes(),
    );
    // podman's older spelling of the same, RemapUsers=auto with RemapUidSize=
    env.write_user_file(
        &dir.join("remap.container"),
        format!("[Container]\nImage={img}\nRemapUsers=auto\nRemapUidSize=500\nExec=true\n")
            .as_bytes(),
    );
    env.set_env("QUADLET_UNIT_DIRS", &dir.to_string_lossy());
    let out = env.ok(&["quadlet", "--dryrun"]);
    let starts: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    assert!(
        starts
            .iter()
            .any(|l| l.contains(" --userns auto:size=500 ")),
        "[{mode:?}] RemapUsers=auto: {out}"
    );
    let start = *starts
        .iter()
        .find(|l| !l.contains(" --userns auto:size=500 "))
        .unwrap_or_else(|| panic!("[{mode:?}] no ExecStart for auto.container: {out}"));
    assert!(
        start.contains(" --userns auto:size=2000 "),
        "[{mode:?}] {start}"
    );
    // The same flags, made (not run) as the unit would.
    let args: Vec<String> = start["ExecStart=".len()..]
        .split(' ')
        .skip(1)
        .map(|a| if a == "run" { "create" } else { a })
        .filter(|a| {
            !a.starts_with("--cidfile")
                && !a.starts_with("--sdnotify")
                && *a != "--cgroups=split"
                && *a != "--replace"
                && *a != "-d"
                && *a != "--rm"
        })
        .map(|a| a.replace("%N", "auto"))
        .collect();
    env.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let shown = env.ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.UsernsMode}} {{range .HostConfig.IDMappings.GidMap}}{{.}}{{end}}",
        "systemd-auto",
    ]);
    assert!(
        shown.starts_with("private 0:") && shown.trim_end().ends_with(":2000"),
        "[{mode:?}] {shown}"
    );
}

both_modes!(containers_conf_userns_auto);
/// containers.conf's `userns = "auto..."` is every new container's mode,
/// unless it has maps of its own or joins a pod.
fn containers_conf_userns_auto(mode: Mode) {
    let mut env = TestEnv::new(mode);
    let img = env.rt_image();
    let conf = env.home.join("containers.conf");
    env.write_user_file(&conf, b"[containers]\nuserns = \"auto:size=300\"\n");
    env.set_env("CONTAINERS_CONF", conf.to_str().unwrap());
    let _reaper = PodReaper(&env);
    let (u, _) = maps(&env.sh(&img, &[], SCRIPT));
    assert_eq!(total(&u), 300, "[{mode:?}] the configured mode: {u:?}");
    let (own, _) = maps(&env.sh(&img, &["--uidmap", "0:1:10"], SCRIPT));
    assert_eq!(total(&own), 10, "[{mode:?}] --uidmap wins: {own:?}");
    env.ok(&["pod", "create", "--name", "pp"]);
    env.sh(&img, &["--pod", "pp"], "true");
}
