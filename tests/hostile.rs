//! Hostile and broken input: a panic, Containerfiles built to exhaust the
//! builder, limits no kernel could honour. Each gives one `Error:` line,
//! exit 125, and leaves the store as it was.

mod common;

use common::oci::{build_image, Compression, ImageSpec, Layer, TarBuilder};
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

both_modes!(panic_is_one_line_naming_a_bug_report);
/// A panic (forced by the test-only CORACLE_TEST_PANIC) reaches the user as
/// one `Error:` line that names a report holding the message and a
/// backtrace, under the run root, and exit 125.
fn panic_is_one_line_naming_a_bug_report(mode: Mode) {
    let mut env = TestEnv::new(mode);
    env.set_env("CORACLE_TEST_PANIC", "1");
    let out = env.run(&["images"]);
    assert_eq!(out.status, 125, "[{mode:?}] {}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "[{mode:?}] one line: {}", out.stderr);
    let line = lines[0];
    assert!(
        line.starts_with("Error: internal error (a bug in coracle): CORACLE_TEST_PANIC is set"),
        "[{mode:?}] {line}"
    );
    let path = line
        .rsplit_once("please report it with ")
        .map(|(_, p)| std::path::PathBuf::from(p))
        .unwrap_or_else(|| panic!("[{mode:?}] no report path in {line}"));
    assert!(
        path.starts_with(env.runroot_dir().join("bug-reports")),
        "[{mode:?}] report {} not under the run root",
        path.display()
    );
    let report = std::fs::read_to_string(&path).unwrap();
    assert!(report.contains("CORACLE_TEST_PANIC is set"), "{report}");
    assert!(report.contains("backtrace:"), "{report}");
    assert!(report.contains("\"images\""), "the command line: {report}");
}

/// A context directory with one Containerfile, readable by the test user.
fn containerfile_context(env: &TestEnv, name: &str, text: &str) -> std::path::PathBuf {
    let dir = env.dir.join(name);
    mkdir_mode(&dir, 0o755);
    std::fs::write(dir.join("Containerfile"), text).unwrap();
    std::fs::set_permissions(
        dir.join("Containerfile"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    dir
}

both_modes!(doubling_args_end_in_one_error);
/// `ARG aN=${aN-1}${aN-1}` 30 deep asks for 2^30 bytes: the build stops at
/// the expansion limit with one line, and the store is as it was.
fn doubling_args_end_in_one_error(mode: Mode) {
    let env = TestEnv::new(mode);
    let mut text = String::from("FROM scratch\nARG a0=x\n");
    for n in 1..=30 {
        text.push_str(&format!("ARG a{n}=${{a{m}}}${{a{m}}}\n", m = n - 1));
    }
    text.push_str("LABEL last=$a30\n");
    let ctx = containerfile_context(&env, "doubling", &text);
    env.ok(&["images"]); // the store exists before the snapshot
    let before = snapshot(&env.store_dir());
    let start = std::time::Instant::now();
    let out = env.run(&["build", "-q", "-t", "doubling", ctx.to_str().unwrap()]);
    assert_error(
        mode,
        "doubling ARGs",
        &out,
        125,
        &["ARG a21=${a20}${a20}", "longer than 1 MiB"],
    );
    assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), "doubling ARGs");

    // The same chain before FROM (meta ARGs) fails the same way.
    let meta = text
        .replace("FROM scratch\n", "")
        .replace("LABEL last=$a30\n", "")
        + "FROM scratch\nLABEL x=1\n";
    let ctx = containerfile_context(&env, "doubling-meta", &meta);
    let out = env.run(&["build", "-q", ctx.to_str().unwrap()]);
    assert_error(
        mode,
        "doubling meta ARGs",
        &out,
        125,
        &["longer than 1 MiB"],
    );
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), "doubling meta ARGs");
}

both_modes!(many_args_make_no_intermediate_images);
/// 2000 chained ARGs build in seconds and leave one image, not one per
/// ARG: an ARG changes the scope of later steps, it makes no image.
fn many_args_make_no_intermediate_images(mode: Mode) {
    let env = TestEnv::new(mode);
    let mut text = String::from("FROM scratch\nARG a0=x\n");
    for n in 1..2000 {
        text.push_str(&format!("ARG a{n}=${{a{m}}}y\n", m = n - 1));
    }
    text.push_str("LABEL last=$a1999\n");
    let ctx = containerfile_context(&env, "chain", &text);
    let start = std::time::Instant::now();
    let out = env.ok(&["build", "-q", "-t", "chain", ctx.to_str().unwrap()]);
    let took = start.elapsed();
    assert!(took.as_secs() < 8, "[{mode:?}] 2000 ARGs took {took:?}");
    let id = out.lines().last().unwrap().to_string();
    let all = env.ok(&["images", "-a", "-q", "--no-trunc"]);
    assert_eq!(
        all.lines().count(),
        1,
        "[{mode:?}] one image, no intermediate ones: {all}"
    );
    let label = env.ok(&["inspect", "--format", "{{.Config.Labels.last}}", &id]);
    assert_eq!(label.trim(), format!("x{}", "y".repeat(1999)), "[{mode:?}]");

    // A second build hits the cache: the same image, still one.
    let again = env.ok(&["build", "-q", "-t", "chain", ctx.to_str().unwrap()]);
    assert_eq!(again.lines().last().unwrap(), id);
    // A changed default changes what follows.
    let changed = text.replace("ARG a0=x\n", "ARG a0=z\n");
    let ctx2 = containerfile_context(&env, "chain2", &changed);
    let other = env.ok(&["build", "-q", ctx2.to_str().unwrap()]);
    assert_ne!(
        other.lines().last().unwrap(),
        id,
        "[{mode:?}] cache key sees ARGs"
    );
}

both_modes!(impossible_limits_and_bogus_security_opts_are_refused);
/// `--memory 1`, a size past any machine, `--cpus -1` and a security
/// option podman does not know: refused with podman's words, before
/// anything is written, by `create` and `run` alike.
fn impossible_limits_and_bogus_security_opts_are_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    let before = snapshot(&env.store_dir());
    let cases: &[(&[&str], &str)] = &[
        (&["--memory", "1"], "minimum memory limit allowed is 6MB"),
        (&["--memory", "5m"], "minimum memory limit allowed is 6MB"),
        (
            &["--memory", "99999999999999999999"],
            "invalid value for memory: invalid size: '99999999999999999999': value out of range",
        ),
        (&["--memory", "9000000t"], "value out of range"),
        (&["--cpus", "-1"], "range of CPUs is from 0.01 to"),
        (
            &["--security-opt", "bogus"],
            "invalid --security-opt 1: \"bogus\"",
        ),
        (
            &["--security-opt", "bogus=1"],
            "invalid --security-opt 2: \"bogus=1\"",
        ),
    ];
    for verb in ["create", "run"] {
        for (flags, needle) in cases {
            let mut args = vec![verb, "--rm"];
            if verb == "create" {
                args.pop();
            }
            args.extend_from_slice(flags);
            args.extend_from_slice(&[&img, "true"]);
            let out = env.run(&args);
            assert_error(mode, &args.join(" "), &out, 125, &[needle]);
            assert_same_snapshot(&before, &snapshot(&env.store_dir()), &args.join(" "));
        }
    }
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "", "[{mode:?}]");
    // "No limit" works; so does the floor itself where the memory
    // controller is there to take it (this host delegates none to users).
    env.ok(&["run", "--rm", "--cpus", "0", &img, "true"]);
    if mode == Mode::Root {
        env.ok(&["run", "--rm", "--memory", "6m", &img, "true"]);
    }
}

// ------------------------------------------------------------ hostile layers

/// A store holding busybox, so that "unchanged" means something.
fn env_with_busybox(mode: Mode) -> TestEnv {
    let env = TestEnv::new(mode);
    env.pull(&busybox().reference());
    env
}

/// Pull an image of `layer`: one `Error:` line naming the image (and
/// `needles`), exit 125, the store as it was, and nothing written beside
/// it or at `marker`.
fn pull_is_refused(
    env: &TestEnv,
    what: &str,
    layer: Layer,
    marker: Option<&Path>,
    needles: &[&str],
) {
    let mode = env.mode;
    let p = push_unique(&single_layer_image(what, layer), what);
    let passwd = std::fs::metadata("/etc/passwd").unwrap();
    let before = snapshot(&env.store_dir());
    let out = env.run(&["pull", &p.reference()]);
    let mut all = vec![p.name()];
    all.extend(needles.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_error(mode, what, &out, 125, &all);
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), what);
    if let Some(m) = marker {
        assert!(!m.exists(), "[{mode:?}] {what}: wrote {}", m.display());
    }
    let now = std::fs::metadata("/etc/passwd").unwrap();
    assert_eq!(
        (now.nlink(), now.len(), now.mtime()),
        (passwd.nlink(), passwd.len(), passwd.mtime()),
        "[{mode:?}] {what}: /etc/passwd touched"
    );
}

const UP: &str = "../../../../../../../../../../../..";

both_modes!(escaping_links_in_layers_are_refused);
/// Absolute and chained symlinks to the host, and hard links to host files
/// by absolute path or through a symlink: the pull fails, nothing is
/// written outside the layer. (`..` entries and a relative escaping link
/// are tests/errors.rs's.)
fn escaping_links_in_layers_are_refused(mode: Mode) {
    let env = env_with_busybox(mode);

    let marker = pwned_marker("abs-link");
    let mut t = TarBuilder::new();
    t.symlink("evil", marker.parent().unwrap().to_str().unwrap());
    let name = format!("evil/{}", marker.file_name().unwrap().to_string_lossy());
    t.raw(tar::EntryType::Regular, &name, None, b"pwned\n");
    pull_is_refused(
        &env,
        "absolute-symlink",
        Layer::new(&t.finish(), Compression::Gzip),
        Some(&marker),
        &[],
    );

    // a -> b, b -> c, c -> ../../../..: each link alone points inside.
    let marker = pwned_marker("chain");
    let mut t = TarBuilder::new();
    t.dir("d", 0o755, 0, 0);
    t.symlink("d/c", UP);
    t.symlink("b", "d/c/tmp");
    t.symlink("a", "b");
    let name = format!("a/{}", marker.file_name().unwrap().to_string_lossy());
    t.raw(tar::EntryType::Regular, &name, None, b"pwned\n");
    pull_is_refused(
        &env,
        "chained-symlinks",
        Layer::new(&t.finish(), Compression::Gzip),
        Some(&marker),
        &[],
    );

    let mut t = TarBuilder::new();
    t.file("ok.txt", b"fine\n", 0o644, 0, 0);
    t.raw(tar::EntryType::Link, "pw", Some("/etc/passwd"), b"");
    pull_is_refused(
        &env,
        "absolute-hardlink",
        Layer::new(&t.finish(), Compression::Gzip),
        None,
        &[],
    );

    let mut t = TarBuilder::new();
    t.symlink("etc-link", "/etc");
    t.raw(tar::EntryType::Link, "pw", Some("etc-link/passwd"), b"");
    pull_is_refused(
        &env,
        "hardlink-through-symlink",
        Layer::new(&t.finish(), Compression::Gzip),
        None,
        &[],
    );
}

both_modes!(giant_headers_and_bombs_are_bounded);
/// A 4 MiB GNU long name (the tar parser would hold it whole), a name
/// longer than Linux takes, and a layer whose tar is larger than the size
/// limit (CORACLE_MAX_LAYER_SIZE; 16 MiB of zeros are 16 KiB of gzip):
/// each a clear error, the store unchanged.
fn giant_headers_and_bombs_are_bounded(mode: Mode) {
    let mut env = env_with_busybox(mode);

    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(4 << 20);
    h.set_path("././@LongLink").unwrap();
    h.set_cksum();
    b.append(&h, &vec![b'a'; 4 << 20][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_path("x").unwrap();
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    pull_is_refused(
        &env,
        "giant-long-name",
        Layer::new(&b.into_inner().unwrap(), Compression::Gzip),
        None,
        &["extension header of 4194304 bytes"],
    );

    let mut t = TarBuilder::new();
    t.file(&"n".repeat(300), b"x", 0o644, 0, 0);
    let deep = vec!["d".repeat(250); 20].join("/");
    t.file(&deep, b"x", 0o644, 0, 0);
    pull_is_refused(
        &env,
        "name-too-long",
        Layer::new(&t.finish(), Compression::Gzip),
        None,
        &[],
    );

    env.set_env("CORACLE_MAX_LAYER_SIZE", "8m");
    let mut t = TarBuilder::new();
    t.file("zeros", &vec![0u8; 16 << 20], 0o644, 0, 0);
    pull_is_refused(
        &env,
        "bomb",
        Layer::new(&t.finish(), Compression::Gzip),
        None,
        &["larger than the limit of 8 MiB", "CORACLE_MAX_LAYER_SIZE"],
    );
    // The same layer within the limit pulls.
    let mut t = TarBuilder::new();
    t.file("zeros", &vec![0u8; 4 << 20], 0o644, 0, 0);
    let p = push_unique(
        &single_layer_image("small", Layer::new(&t.finish(), Compression::Gzip)),
        "small",
    );
    env.pull(&p.reference());
}

both_modes!(device_nodes_in_layers_open_nothing_of_the_host);
/// A layer with the host's memory and a disk as device nodes: rootless they
/// are skipped (with a warning); as root they are made in the layer, as
/// podman makes them, and the container still cannot open them.
fn device_nodes_in_layers_open_nothing_of_the_host(mode: Mode) {
    let env = env_with_busybox(mode);
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, major, minor) in [
        ("mem", tar::EntryType::Char, 1, 1),
        ("disk", tar::EntryType::Block, 8, 0),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_mode(0o666);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(0);
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
    }
    let devices = Layer::new(&b.into_inner().unwrap(), Compression::Gzip);
    let img = build_image(
        &ImageSpec::new("devices"),
        vec![busybox_layer().clone(), devices],
    );
    let p = push_unique(&img, "devices");
    env.pull(&p.reference());
    let out = env.run(&[
        "run",
        "--rm",
        &p.reference(),
        "sh",
        "-c",
        "head -c1 /mem; head -c1 /disk",
    ]);
    assert_ne!(
        out.status, 0,
        "[{mode:?}] read a host device: {}",
        out.stdout
    );
    assert_eq!(out.stdout, "", "[{mode:?}]");
}

both_modes!(load_of_garbage_is_one_error);
/// Nothing `load` reads can be taken for an image: empty input, random
/// bytes, gzip of random bytes, a tar of nonsense, a tar whose manifest
/// names files it does not hold.
fn load_of_garbage_is_one_error(mode: Mode) {
    let env = env_with_busybox(mode);
    let before = snapshot(&env.store_dir());
    let random: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &random).unwrap();
    let gz = gz.finish().unwrap();
    let mut t = TarBuilder::new();
    t.file("nonsense", &random[..5000], 0o644, 0, 0);
    let nonsense = t.finish();
    let mut t = TarBuilder::new();
    t.file(
        "manifest.json",
        br#"[{"Config":"nosuch.json","RepoTags":["x:1"],"Layers":["nosuch.tar"]}]"#,
        0o644,
        0,
        0,
    );
    let dangling = t.finish();
    let mut t = TarBuilder::new();
    t.file(
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        0o644,
        0,
        0,
    );
    t.file("index.json", b"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"size\":2}]}", 0o644, 0, 0);
    let missing_blob = t.finish();
    for (what, data) in [
        ("empty", &[][..]),
        ("random", &random[..]),
        ("gzip of random", &gz[..]),
        ("tar of nonsense", &nonsense[..]),
        ("manifest of missing files", &dangling[..]),
        ("index of a missing blob", &missing_blob[..]),
    ] {
        let out = env.run_stdin(&["load"], data);
        assert_error(mode, what, &out, 125, &[]);
        let file = env.dir.join("garbage.tar");
        env.write_user_file(&file, data);
        let out = env.run(&["load", "-i", file.to_str().unwrap()]);
        assert_error(mode, what, &out, 125, &[]);
        assert_same_snapshot(&before, &snapshot(&env.store_dir()), what);
    }
}

both_modes!(an_index_that_names_itself_is_refused);
/// An OCI archive whose index names a blob that is an index naming itself
/// (possible only when a digest is not checked): `load` ends with one
/// error, no loop, no stack overflow, the store as it was.
fn an_index_that_names_itself_is_refused(mode: Mode) {
    let env = env_with_busybox(mode);
    let before = snapshot(&env.store_dir());
    let hex = "ab".repeat(32);
    let index_type = "application/vnd.oci.image.index.v1+json";
    let inner = |size: usize| {
        serde_json::json!({
            "schemaVersion": 2, "mediaType": index_type,
            "manifests": [{"mediaType": index_type, "digest": format!("sha256:{hex}"), "size": size}]
        })
        .to_string()
    };
    // The size field holds the blob's own length.
    let mut blob = inner(0);
    for _ in 0..3 {
        blob = inner(blob.len());
    }
    let top = serde_json::json!({
        "schemaVersion": 2, "mediaType": index_type,
        "manifests": [{"mediaType": index_type, "digest": format!("sha256:{hex}"), "size": blob.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "loop:1"}}]
    })
    .to_string();
    let mut t = TarBuilder::new();
    t.file(
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        0o644,
        0,
        0,
    );
    t.file("index.json", top.as_bytes(), 0o644, 0, 0);
    t.file(&format!("blobs/sha256/{hex}"), blob.as_bytes(), 0o644, 0, 0);
    let archive = t.finish();
    let out = env.run_stdin(&["load"], &archive);
    assert_error(mode, "self-naming index", &out, 125, &[]);
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), "self-naming index");
}

both_modes!(cp_through_escaping_links_of_a_stopped_container);
/// tests/cp.rs proves this for a running container; a stopped one is
/// read and written through its layers instead: `/evil -> /` and
/// `/up -> ../../../..` still resolve inside it, both ways.
fn cp_through_escaping_links_of_a_stopped_container(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = env.rt_image();
    env.ok(&[
        "run",
        "--name",
        "stopped",
        &img,
        "sh",
        "-c",
        "ln -s / /evil && ln -s ../../../../../../tmp /up && echo inside > /tmp/secret",
    ]);
    let src = env.dir.join("in.txt");
    env.write_user_file(&src, b"hello\n");
    for (link, tag) in [("/evil/tmp", "stopped-abs"), ("/up", "stopped-up")] {
        let marker = pwned_marker(tag);
        let name = marker.file_name().unwrap().to_str().unwrap().to_string();
        env.ok(&[
            "cp",
            src.to_str().unwrap(),
            &format!("stopped:{link}/{name}"),
        ]);
        assert!(!marker.exists(), "[{mode:?}] wrote {}", marker.display());
        let back = env.home.join(format!("back-{tag}"));
        env.ok(&[
            "cp",
            &format!("stopped:/tmp/{name}"),
            back.to_str().unwrap(),
        ]);
        assert_eq!(std::fs::read_to_string(&back).unwrap(), "hello\n");
    }
    // Out through the links: the container's files, not the host's.
    for link in ["/evil/tmp/secret", "/up/secret"] {
        let out = env.home.join("out.txt");
        let _ = std::fs::remove_file(&out);
        env.ok(&["cp", &format!("stopped:{link}"), out.to_str().unwrap()]);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "inside\n",
            "[{mode:?}] {link}"
        );
    }
}

both_modes!(a_pulled_index_that_names_an_index_is_refused);
/// A registry checks digests, so an index cannot name itself there; the
/// loop an attacker can serve is an index naming another index (which
/// could name the first one's tag again). Pull follows one level only:
/// one error naming the nested index, nothing stored.
fn a_pulled_index_that_names_an_index_is_refused(mode: Mode) {
    let inner = multi();
    let index_type = "application/vnd.oci.image.index.v1+json";
    let outer = serde_json::json!({
        "schemaVersion": 2, "mediaType": index_type,
        "manifests": [{"mediaType": index_type, "digest": inner.digest,
                       "size": common::oci::fetch_manifest(registry(), &inner.repo, &inner.digest).0.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}]
    })
    .to_string();
    common::oci::push_manifest(
        registry(),
        &inner.repo,
        "nested",
        index_type,
        outer.as_bytes(),
    );
    let env = env_with_busybox(mode);
    let before = snapshot(&env.store_dir());
    let reference = format!("{}:nested", inner.name());
    let out = env.run(&["pull", &reference]);
    assert_error(
        mode,
        "nested index",
        &out,
        125,
        &["points at another index"],
    );
    assert_same_snapshot(&before, &snapshot(&env.store_dir()), "nested index");
}

both_modes!(compose_files_that_name_devices_or_fifos_are_refused);
/// A compose file whose `include`, `extends.file`, service `env_file` or
/// `--env-file` names `/dev/zero` or a FIFO: one error naming it, at
/// once, not a read that never ends or a wait for a writer.
fn compose_files_that_name_devices_or_fifos_are_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let dir = env.dir.join("app");
    mkdir_mode(&dir, 0o755);
    let fifo = dir.join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
    std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let fifo = fifo.to_str().unwrap();
    let cases = [
        ("include of /dev/zero", "include:\n  - /dev/zero\nservices:\n  a:\n    image: busybox\n".to_string(), vec![]),
        ("include of a fifo", format!("include:\n  - {fifo}\nservices:\n  a:\n    image: busybox\n"), vec![]),
        ("extends from /dev/zero", "services:\n  a:\n    image: busybox\n    extends:\n      file: /dev/zero\n      service: b\n".to_string(), vec![]),
        ("env_file of a fifo", format!("services:\n  a:\n    image: busybox\n    env_file: {fifo}\n"), vec![]),
        ("--env-file /dev/zero", "services:\n  a:\n    image: busybox\n".to_string(), vec!["--env-file", "/dev/zero"]),
    ];
    for (what, text, extra) in cases {
        let file = dir.join("compose.yaml");
        env.write_user_file(&file, text.as_bytes());
        let file = file.to_string_lossy();
        let mut args = vec!["compose", "-p", "x", "-f", &file];
        args.extend(extra);
        args.push("config");
        let start = std::time::Instant::now();
        let out = env.run(&args);
        assert_error(mode, what, &out, 125, &["not a regular file"]);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "[{mode:?}] {what}: took {:?}",
            start.elapsed()
        );
    }
}
