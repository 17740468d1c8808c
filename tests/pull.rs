//! `coracle pull`: every fixture, platforms, idempotence, concurrency, layer
//! sharing, and what an unpacked layer looks like on disk.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use common::*;

fn assert_pulled(env: &TestEnv, p: &Pushed, img: &common::oci::Image, what: &str) {
    let id = env.pull(&p.reference());
    assert_eq!(
        id,
        img.id(),
        "[{:?}] {what}: pull should print the config digest as the image id",
        env.mode
    );
    let info = env.inspect(&p.reference());
    assert_eq!(info["Id"], img.id(), "[{:?}] {what}: inspect .Id", env.mode);
    let layers: Vec<String> =
        serde_json::from_value(info["RootFS"]["Layers"].clone()).unwrap_or_default();
    assert_eq!(
        layers,
        img.diff_ids(),
        "[{:?}] {what}: .RootFS.Layers are the diff ids",
        env.mode
    );
    for d in img.diff_ids() {
        assert!(
            env.layer_dir(&d).is_dir(),
            "[{:?}] {what}: layer {d} not extracted at {}",
            env.mode,
            env.layer_dir(&d).display()
        );
    }
}

both_modes!(pull_busybox_prints_id_and_inspect_matches_fixture);
fn pull_busybox_prints_id_and_inspect_matches_fixture(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    assert_pulled(&env, p, p.image(), "busybox");
    let info = env.inspect(&p.reference());
    assert_eq!(
        info["Config"]["Cmd"],
        serde_json::json!(["sh"]),
        "[{mode:?}] Config.Cmd"
    );
    assert_eq!(info["Architecture"], "amd64", "[{mode:?}]");
    assert_eq!(info["Os"], "linux", "[{mode:?}]");
    assert_eq!(
        info["Digest"], p.digest,
        "[{mode:?}] .Digest is the manifest digest"
    );
    let tags: Vec<String> = serde_json::from_value(info["RepoTags"].clone()).unwrap();
    assert_eq!(tags, vec![p.reference()], "[{mode:?}] RepoTags");
    let digests: Vec<String> = serde_json::from_value(info["RepoDigests"].clone()).unwrap();
    assert!(
        digests.contains(&p.by_digest()),
        "[{mode:?}] RepoDigests {digests:?} lacks {}",
        p.by_digest()
    );
    assert_eq!(
        info["Labels"]["org.coracle.fixture"], "busybox",
        "[{mode:?}] Labels"
    );
    assert!(
        env.layer_dir(&p.diff_ids()[0])
            .join("bin/busybox")
            .is_file(),
        "[{mode:?}]"
    );
}

both_modes!(pull_accepts_tls_verify_false_and_by_digest);
fn pull_accepts_tls_verify_false_and_by_digest(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    let out = env.ok(&["pull", "--tls-verify=false", &p.by_digest()]);
    assert_eq!(
        out.lines().last().unwrap().trim(),
        p.id(),
        "[{mode:?}] pull by digest prints the id"
    );
    assert!(
        env.image_ids().contains(&p.id()[..12].to_string()),
        "[{mode:?}] images -q after pull by digest"
    );
    // pulled by digest: no tag, but the digest is recorded
    let info = env.inspect(&p.by_digest());
    let digests: Vec<String> = serde_json::from_value(info["RepoDigests"].clone()).unwrap();
    assert!(
        digests.contains(&p.by_digest()),
        "[{mode:?}] RepoDigests {digests:?}"
    );
}

both_modes!(pull_twice_is_idempotent);
fn pull_twice_is_idempotent(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    let id1 = env.pull(&p.reference());
    let before = snapshot(&env.store_dir());
    let id2 = env.pull(&p.reference());
    assert_eq!(id1, id2);
    assert_eq!(
        env.image_ids(),
        vec![p.id()[..12].to_string()],
        "[{mode:?}] one image after two pulls"
    );
    assert_eq!(
        env.layer_ids().len(),
        1,
        "[{mode:?}] one layer after two pulls"
    );
    // The second pull finds everything present: no layer or blob rewritten.
    let after = snapshot(&env.store_dir());
    let layer_files = |s: &std::collections::BTreeMap<std::path::PathBuf, Entry>| {
        s.iter()
            .filter(|(k, _)| k.starts_with("layers"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        layer_files(&before),
        layer_files(&after),
        "[{mode:?}] the second pull changed extracted layers"
    );
}

both_modes!(concurrent_pulls_of_one_image_leave_one_copy);
fn concurrent_pulls_of_one_image_leave_one_copy(mode: Mode) {
    let p = push_unique(layers_image(), "concurrent");
    let env = TestEnv::new(mode);
    let reference = p.reference();
    let outs: Vec<Out> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| env.run(&["pull", &reference])))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        assert_eq!(
            o.status, 0,
            "[{mode:?}] concurrent pull failed: {}",
            o.stderr
        );
        assert_no_panic(mode, &["pull"], o);
    }
    assert_eq!(
        env.image_ids(),
        vec![p.id()[..12].to_string()],
        "[{mode:?}] one image after concurrent pulls"
    );
    let mut want: Vec<String> = p
        .diff_ids()
        .iter()
        .map(|d| common::oci::hex_of(d).to_string())
        .collect();
    want.sort();
    assert_eq!(env.layer_ids(), want, "[{mode:?}] each layer stored once");
    assert_eq!(env.image_names(), vec![p.reference()], "[{mode:?}]");
}

both_modes!(layer_shared_by_two_images_is_stored_once);
fn layer_shared_by_two_images_is_stored_once(mode: Mode) {
    let (bb, ly, zs) = (busybox(), layers(), zstd());
    let env = TestEnv::new(mode);
    env.pull(&bb.reference());
    env.pull(&ly.reference());
    // zstd's layer is busybox's tar compressed differently: same diff id
    env.pull(&zs.reference());
    assert_eq!(
        env.layer_ids().len(),
        4,
        "[{mode:?}] busybox + 3 layers of `layers`; zstd shares busybox's: {:?}",
        env.layer_ids()
    );
    assert_eq!(env.image_ids().len(), 3, "[{mode:?}] three images");
    // removing one image keeps the shared layer for the others
    env.ok(&["rmi", &bb.reference()]);
    assert!(
        env.layer_dir(&bb.diff_ids()[0]).is_dir(),
        "[{mode:?}] shared layer removed while still used"
    );
}

both_modes!(pull_multi_default_platform_is_host_amd64);
fn pull_multi_default_platform_is_host_amd64(mode: Mode) {
    let p = multi();
    let amd = p.platform("linux/amd64");
    let env = TestEnv::new(mode);
    assert_pulled(&env, p, amd, "multi default");
    let info = env.inspect(&p.reference());
    assert_eq!(info["Architecture"], "amd64", "[{mode:?}]");
    let arch_layer = env.layer_dir(&amd.diff_ids()[1]);
    assert_eq!(
        std::fs::read_to_string(arch_layer.join("etc/arch-name")).unwrap(),
        "amd64\n",
        "[{mode:?}]"
    );
}

both_modes!(pull_multi_with_platform_arm64_picks_arm64);
fn pull_multi_with_platform_arm64_picks_arm64(mode: Mode) {
    let p = multi();
    let arm = p.platform("linux/arm64/v8");
    let env = TestEnv::new(mode);
    let id = env.ok(&["pull", "--platform", "linux/arm64", &p.reference()]);
    assert_eq!(
        id.lines().last().unwrap().trim(),
        arm.id(),
        "[{mode:?}] the arm64 config digest"
    );
    let info = env.inspect(&p.reference());
    assert_eq!(info["Id"], arm.id(), "[{mode:?}]");
    assert_eq!(info["Architecture"], "arm64", "[{mode:?}]");
    assert_eq!(info["Os"], "linux", "[{mode:?}]");
    let arch_layer = env.layer_dir(&arm.diff_ids()[1]);
    assert_eq!(
        std::fs::read_to_string(arch_layer.join("etc/arch-name")).unwrap(),
        "arm64\n",
        "[{mode:?}]"
    );
}

both_modes!(pull_zstd_layer);
fn pull_zstd_layer(mode: Mode) {
    let p = zstd();
    let env = TestEnv::new(mode);
    assert_pulled(&env, p, p.image(), "zstd");
    assert!(
        env.layer_dir(&p.diff_ids()[0])
            .join("bin/busybox")
            .is_file(),
        "[{mode:?}]"
    );
}

both_modes!(pull_docker_schema2);
fn pull_docker_schema2(mode: Mode) {
    let p = docker();
    let env = TestEnv::new(mode);
    assert_pulled(&env, p, p.image(), "docker schema2");
    let info = env.inspect(&p.reference());
    assert_eq!(
        info["Config"]["Cmd"],
        serde_json::json!(["sh"]),
        "[{mode:?}]"
    );
}

both_modes!(pull_image_pushed_by_skopeo);
fn pull_image_pushed_by_skopeo(mode: Mode) {
    // interop: skopeo converted our OCI image to Docker schema2 and pushed it
    let p = skopeo_docker();
    let env = TestEnv::new(mode);
    assert_pulled(&env, p, p.image(), "skopeo v2s2");
}

/// Owner of a fixture file as the host sees it in this mode.
fn host_owner(mode: Mode, uid: u32, gid: u32) -> (u32, u32) {
    match mode {
        Mode::Root => (uid, gid),
        Mode::Rootless => (test_user().host_uid(uid), test_user().host_gid(gid)),
    }
}

both_modes!(pull_layers_unpacks_owners_modes_links_and_whiteouts);
fn pull_layers_unpacks_owners_modes_links_and_whiteouts(mode: Mode) {
    use layers_fixture::*;
    let p = layers();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let d = p.diff_ids();
    let (l1, l2, l3) = (
        env.layer_dir(&d[1]),
        env.layer_dir(&d[2]),
        env.layer_dir(&d[3]),
    );
    let md = |p: &Path| {
        std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("[{mode:?}] {}: {e}", p.display()))
    };

    // owners: as-is for root, shifted into the subordinate range rootless
    let m = md(&l1.join(OWNED_1000));
    assert_eq!(
        (m.uid(), m.gid()),
        host_owner(mode, 1000, 1000),
        "[{mode:?}] owner of {OWNED_1000}"
    );
    let m = md(&l1.join(OWNED_65534));
    assert_eq!(
        (m.uid(), m.gid()),
        host_owner(mode, 65534, 65534),
        "[{mode:?}] owner of {OWNED_65534}"
    );
    let m = md(&l1.join(SUID_PATH));
    assert_eq!(
        (m.uid(), m.gid()),
        host_owner(mode, 0, 0),
        "[{mode:?}] owner of {SUID_PATH}"
    );
    assert_eq!(
        m.mode() & 0o7777,
        0o4755,
        "[{mode:?}] setuid bit kept on {SUID_PATH}"
    );
    assert_eq!(
        md(&l1.join(OWNED_1000)).mode() & 0o7777,
        0o600,
        "[{mode:?}] mode of {OWNED_1000}"
    );
    assert_eq!(
        md(&env.layer_dir(&d[0]).join("tmp")).mode() & 0o7777,
        0o1777,
        "[{mode:?}] /tmp is 1777"
    );

    // hardlink shares the inode
    let (a, b) = (md(&l1.join(HARDLINK)), md(&l1.join(HARDLINK_TARGET)));
    assert_eq!(
        a.ino(),
        b.ino(),
        "[{mode:?}] hardlink {HARDLINK} shares {HARDLINK_TARGET}'s inode"
    );
    assert!(b.nlink() >= 2, "[{mode:?}]");

    // symlink targets kept verbatim
    for (link, target) in [REL_LINK, UP_LINK, ABS_LINK] {
        assert_eq!(
            std::fs::read_link(l1.join(link)).unwrap().to_str().unwrap(),
            target,
            "[{mode:?}] {link}"
        );
    }
    assert!(
        md(&l1.join(FIFO)).file_type().is_fifo(),
        "[{mode:?}] {FIFO} is a fifo"
    );
    let empty = l1.join(EMPTY_DIR);
    assert!(
        md(&empty).is_dir() && std::fs::read_dir(&empty).unwrap().next().is_none(),
        "[{mode:?}] empty dir"
    );
    assert_eq!(
        md(&l1.join(OLD_FILE)).mtime() as u64,
        OLD_MTIME,
        "[{mode:?}] mtime of {OLD_FILE}"
    );
    assert_eq!(
        md(&l1.join("etc/app/config.txt")).mtime() as u64,
        common::oci::FIXTURE_MTIME,
        "[{mode:?}]"
    );

    // whiteout: overlayfs form (0/0 char device, or an xattr whiteout)
    let wh = l2.join(DELETED);
    let m = md(&wh);
    let xattr_whiteout = ["trusted.overlay.whiteout", "user.overlay.whiteout"]
        .iter()
        .any(|n| common::snapshot::get_xattr(&wh, n).is_some());
    assert!(
            (m.file_type().is_char_device() && m.rdev() == 0) || (m.file_type().is_file() && xattr_whiteout),
            "[{mode:?}] {DELETED} in the deleting layer should be an overlay whiteout, got {:?} rdev {}",
            m.file_type(),
            m.rdev()
        );
    assert!(
        !l2.join("etc/app/.wh.old.txt").exists(),
        "[{mode:?}] the .wh. file itself must not be kept"
    );

    // opaque dir: marked with the overlay xattr of this mode, new content kept
    let opaque = l2.join(OPAQUE_DIR);
    let name = match mode {
        Mode::Root => "trusted.overlay.opaque",
        Mode::Rootless => "user.overlay.opaque",
    };
    assert_eq!(
        common::snapshot::get_xattr(&opaque, name).as_deref(),
        Some(&b"y"[..]),
        "[{mode:?}] {name} on {OPAQUE_DIR}"
    );
    assert!(
        !opaque.join(".wh..wh..opq").exists(),
        "[{mode:?}] the opaque marker file must not be kept"
    );
    assert_eq!(
        std::fs::read_to_string(opaque.join("new.txt")).unwrap(),
        "new\n",
        "[{mode:?}]"
    );
    assert_eq!(
        std::fs::read_to_string(l2.join("etc/app/config.txt")).unwrap(),
        "v2\n",
        "[{mode:?}]"
    );

    // the uncompressed layer
    assert_eq!(
        std::fs::read_to_string(l3.join("etc/layer3")).unwrap(),
        "3\n",
        "[{mode:?}]"
    );
}

#[test]
fn rootless_store_lives_in_home_and_runtime_dir() {
    // DESIGN.md: rootless defaults are $HOME/.local/share/coracle and
    // $XDG_RUNTIME_DIR/coracle; files there belong to the user.
    let p = busybox();
    require_mode(Mode::Rootless);
    let env = TestEnv::new(Mode::Rootless);
    env.pull(&p.reference());
    let store = env.store_dir();
    assert!(
        store.is_dir(),
        "rootless store missing at {}",
        store.display()
    );
    assert_eq!(
        std::fs::metadata(&store).unwrap().uid(),
        test_user().uid,
        "the rootless store belongs to the user"
    );
    let stray: Vec<_> = std::fs::read_dir(&env.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        stray.len(),
        2,
        "rootless coracle wrote outside HOME and XDG_RUNTIME_DIR: {stray:?}"
    );
}

both_modes!(pull_all_tags_and_the_pull_policies);
/// `--all-tags` pulls every tag the registry lists; `--policy` decides
/// whether the registry is asked at all.
fn pull_all_tags_and_the_pull_policies(mode: Mode) {
    let p = busybox();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let repo = format!("{}/{}", registry().host, unique("alltags/bb"));
    for tag in ["a", "b"] {
        env.ok(&["push", &p.reference(), &format!("{repo}:{tag}")]);
    }
    let fresh = TestEnv::new(mode);
    let out = fresh.ok(&["pull", "-q", "--all-tags", &repo]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [p.id(), p.id()],
        "[{mode:?}] one id per tag"
    );
    assert_eq!(
        fresh.image_names(),
        [format!("{repo}:a"), format!("{repo}:b")],
        "[{mode:?}]"
    );
    assert_refused(
        &fresh,
        &["pull", "--all-tags", &format!("{repo}:a")],
        "tag can't be used with --all-tags",
    );
    assert_refused(
        &fresh,
        &["pull", "--policy", "sometimes", &repo],
        "invalid pull policy",
    );

    // A name whose registry does not answer: only `always` asks it.
    let gone = "127.0.0.1:1/policy/bb:1";
    fresh.ok(&["tag", &format!("{repo}:a"), gone]);
    for policy in ["missing", "never", "newer"] {
        let out = fresh.ok(&["pull", "--policy", policy, gone]);
        assert_eq!(
            out.trim(),
            p.id(),
            "[{mode:?}] --policy {policy} uses the local image"
        );
    }
    let out = fresh.run(&["pull", "--policy", "always", gone]);
    assert_error(mode, "pull --policy always", &out, 125, &["127.0.0.1:1"]);
    // `never` with nothing local fails; `missing` pulls.
    let other = TestEnv::new(mode);
    assert_refused(
        &other,
        &["pull", "--policy", "never", &format!("{repo}:b")],
        "image not known",
    );
    let out = other.ok(&["pull", "-q", "--policy", "missing", &format!("{repo}:b")]);
    assert_eq!(out.trim(), p.id(), "[{mode:?}]");
}

both_modes!(cert_dir_reaches_a_mutual_tls_registry);
/// A registry with a test CA's certificate that wants a client certificate:
/// `--cert-dir` (or certs.d/HOST:PORT in the user's config) supplies both,
/// for push, pull, login and search.
fn cert_dir_reaches_a_mutual_tls_registry(mode: Mode) {
    let p = busybox();
    let reg = tls_registry();
    let certs = reg.certs.as_ref().unwrap().to_str().unwrap();
    let env = TestEnv::new(mode);
    env.pull(&p.reference());
    let d = format!("{}/{}:1", reg.host, unique("tls/bb"));

    // Without the CA the server's certificate is refused.
    let out = env.run(&["push", "--tls-verify", &p.reference(), &d]);
    assert_error(mode, "push without certs", &out, 125, &[&reg.host]);
    // The CA alone: the server is trusted, but it wants a client certificate.
    let ca_only = env.home.join("ca-only");
    env.write_user_file(
        &ca_only.join("ca.crt"),
        &std::fs::read(reg.certs.as_ref().unwrap().join("ca.crt")).unwrap(),
    );
    let out = env.run(&[
        "push",
        "--tls-verify",
        "--cert-dir",
        ca_only.to_str().unwrap(),
        &p.reference(),
        &d,
    ]);
    assert_error(mode, "push with the CA only", &out, 125, &[&reg.host]);
    assert_ne!(
        out.stderr.lines().last(),
        env.run(&["push", "--tls-verify", &p.reference(), &d]).stderr.lines().last(),
        "[{mode:?}] the CA must change the failure (from an unknown issuer to a missing client certificate)"
    );
    let out = env.run(&[
        "push",
        "--tls-verify",
        "--cert-dir",
        certs,
        &p.reference(),
        &d,
    ]);
    assert_eq!(
        out.status, 0,
        "[{mode:?}] push with --cert-dir: {}",
        out.stderr
    );

    // A fresh store finds the certificates in ~/.config/containers/certs.d/HOST:PORT.
    let fresh = TestEnv::new(mode);
    let out = fresh.run(&["pull", "--tls-verify", &d]);
    assert_error(mode, "pull without certs", &out, 125, &[&reg.host]);
    let per_host = fresh
        .home
        .join(".config/containers/certs.d")
        .join(&reg.host);
    for f in ["ca.crt", "client.cert", "client.key"] {
        fresh.write_user_file(
            &per_host.join(f),
            &std::fs::read(reg.certs.as_ref().unwrap().join(f)).unwrap(),
        );
    }
    let out = fresh.ok(&["pull", "-q", "--tls-verify", &d]);
    assert!(
        is_hex(out.trim(), 64),
        "[{mode:?}] pull through certs.d: {out}"
    );
    // run's implicit pull takes --cert-dir too.
    let third = TestEnv::new(mode);
    let out = third.ok(&[
        "run",
        "--rm",
        "--tls-verify",
        "--cert-dir",
        certs,
        &d,
        "echo",
        "ok",
    ]);
    assert_eq!(out.trim(), "ok", "[{mode:?}]");

    // login and search speak to it too (it wants no password).
    let auth = env.home.join("auth.json");
    let out = env.ok(&[
        "login",
        "--tls-verify",
        "--cert-dir",
        certs,
        "--authfile",
        auth.to_str().unwrap(),
        "-u",
        "u",
        "-p",
        "p",
        &reg.host,
    ]);
    assert_eq!(out.trim(), "Login Succeeded!", "[{mode:?}]");
    let out = env.run(&[
        "login",
        "--tls-verify",
        "--authfile",
        auth.to_str().unwrap(),
        "-u",
        "u",
        "-p",
        "p",
        &reg.host,
    ]);
    assert_error(mode, "login without certs", &out, 125, &[&reg.host]);
    let repo = d.trim_end_matches(":1");
    let out = env.ok(&[
        "search",
        "--tls-verify",
        "--cert-dir",
        certs,
        "--list-tags",
        repo,
    ]);
    assert_eq!(
        out,
        format!("NAME{}TAG\n{repo}  1\n", " ".repeat(repo.len() - 2)),
        "[{mode:?}]"
    );
    let out = env.run(&[
        "search",
        "--tls-verify",
        "--cert-dir",
        ca_only.to_str().unwrap(),
        &format!("{}/tls", reg.host),
    ]);
    assert_error(
        mode,
        "search without a client certificate",
        &out,
        125,
        &[&reg.host],
    );
}
