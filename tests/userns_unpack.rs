//! Rootless layer unpack for real: run examples/unpack_probe as an
//! unprivileged user (CORACLE_TEST_USER, default `cotest`, which must have
//! subordinate id ranges), check ownership/modes/whiteouts from the host,
//! then mount the layers with overlayfs `userxattr` in a user namespace and
//! check that whiteouts and opaque dirs hide the lower layer.
//!
//! Needs root (to switch users and read the results). It fails, never
//! skips, when that is not possible.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

struct WorkDir(PathBuf);
impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn user() -> String {
    std::env::var("CORACLE_TEST_USER").unwrap_or_else(|_| "cotest".into())
}

fn id_of(user: &str, flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, user])
        .output()
        .expect("running id");
    assert!(
        out.status.success(),
        "test user {user:?} does not exist: create it with `useradd -m {user} && usermod \
         --add-subuids 200000-265535 --add-subgids 200000-265535 {user}` or set CORACLE_TEST_USER"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The first subordinate range of `user` in `file` (container id 1 maps to
/// its start).
fn first_subid(file: &str, user: &str, uid: u32) -> (u32, u32) {
    let text = fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            if f.len() != 3 || (f[0] != user && f[0] != uid.to_string()) {
                return None;
            }
            Some((f[1].parse().ok()?, f[2].parse().ok()?))
        })
        .find(|&(_, n): &(u32, u32)| n > 0)
        .unwrap_or_else(|| {
            panic!(
                "{user} has no range in {file}: add one with usermod --add-subuids/--add-subgids"
            )
        })
}

fn probe_binary() -> PathBuf {
    // target/debug/deps/userns_unpack-HASH -> target/debug/examples/unpack_probe
    let exe = std::env::current_exe().unwrap();
    let p = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/unpack_probe");
    assert!(
        p.is_file(),
        "{} missing: build it with `cargo build --example unpack_probe` (cargo test builds it)",
        p.display()
    );
    p
}

fn getxattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 64];
    // SAFETY: NUL-terminated path and name; pointer and length describe our buffer.
    let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (r >= 0).then(|| {
        buf.truncate(r as usize);
        buf
    })
}

fn add(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    kind: tar::EntryType,
    mode: u32,
    id: u64,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(id);
    h.set_gid(id);
    h.set_mtime(1_600_000_000);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, path, data).unwrap();
}

fn base_layer() -> Vec<u8> {
    use tar::EntryType::{Directory as D, Regular as F};
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "etc", D, 0o755, 0, b"");
    add(
        &mut b,
        "etc/passwd",
        F,
        0o644,
        0,
        b"root:x:0:0::/root:/bin/sh\n",
    );
    add(&mut b, "etc/gone", F, 0o644, 0, b"to be deleted");
    add(&mut b, "etc/stay", F, 0o644, 0, b"stays");
    add(&mut b, "opq", D, 0o755, 0, b"");
    add(&mut b, "opq/old", F, 0o644, 0, b"hidden by opaque");
    add(&mut b, "home/user", D, 0o750, 1000, b"");
    add(&mut b, "home/user/notes", F, 0o600, 1000, b"mine");
    add(&mut b, "var/nobody", F, 0o644, 65534, b"nobody's");
    add(&mut b, "bin/su", F, 0o4755, 0, b"\x7fELF");
    b.into_inner().unwrap()
}

fn upper_layer() -> Vec<u8> {
    use tar::EntryType::{Directory as D, Regular as F};
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "etc", D, 0o755, 0, b"");
    add(&mut b, "etc/.wh.gone", F, 0o644, 0, b"");
    add(&mut b, "opq", D, 0o755, 0, b"");
    add(&mut b, "opq/.wh..wh..opq", F, 0o644, 0, b"");
    add(&mut b, "opq/new", F, 0o644, 0, b"new");
    b.into_inner().unwrap()
}

fn run_checked(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn rootless_unpack_and_overlay() {
    assert_eq!(
        // SAFETY: a plain query of this process's ids.
        unsafe { libc::geteuid() },
        0,
        "this test must run as root: it switches to CORACLE_TEST_USER and inspects ownership"
    );
    let user = user();
    let uid = id_of(&user, "-u");
    let gid = id_of(&user, "-g");
    let (sub_uid, n_uid) = first_subid("/etc/subuid", &user, uid);
    let (sub_gid, n_gid) = first_subid("/etc/subgid", &user, uid);
    assert!(
        n_uid >= 65535 && n_gid >= 65535,
        "{user} needs ranges of at least 65535 ids"
    );

    let work =
        WorkDir(std::env::temp_dir().join(format!("coracle-userns-test-{}", std::process::id())));
    let w = &work.0;
    fs::create_dir_all(w).unwrap();
    fs::set_permissions(w, fs::Permissions::from_mode(0o755)).unwrap();
    // /root is 0700: the user must be able to exec its own copy.
    let probe = w.join("unpack_probe");
    fs::copy(probe_binary(), &probe).unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(w.join("base.tar"), base_layer()).unwrap();
    fs::write(w.join("upper.tar"), upper_layer()).unwrap();
    for d in ["base", "upper", "upperx", "ovl"] {
        fs::create_dir(w.join(d)).unwrap();
        std::os::unix::fs::chown(w.join(d), Some(uid), Some(gid)).unwrap();
    }

    let unpack = |tar: &str, dest: &str, form: &str| {
        run_checked(
            Command::new("runuser")
                .args(["-u", &user, "--"])
                .arg(&probe)
                .args([
                    w.join(tar).as_os_str(),
                    w.join(dest).as_os_str(),
                    "--whiteout".as_ref(),
                    form.as_ref(),
                ]),
        )
    };
    let out = unpack("base.tar", "base", "auto");
    assert!(out.contains("rootless=true"), "{out}");

    let md = |p: &str| fs::symlink_metadata(w.join(p)).unwrap();
    // Container 0 is the user; container n >= 1 is sub + n - 1.
    assert_eq!(
        (md("base/etc/passwd").uid(), md("base/etc/passwd").gid()),
        (uid, gid)
    );
    assert_eq!(md("base/home/user/notes").uid(), sub_uid + 999);
    assert_eq!(md("base/home/user/notes").gid(), sub_gid + 999);
    assert_eq!(md("base/home/user").mode() & 0o7777, 0o750);
    assert_eq!(md("base/var/nobody").uid(), sub_uid + 65533);
    assert_eq!(md("base/bin/su").mode() & 0o7777, 0o4755);
    assert_eq!(md("base/bin/su").uid(), uid);
    assert_eq!(md("base/etc/passwd").mtime(), 1_600_000_000);

    // Whiteouts in the form the probe picked (0/0 device on this kernel).
    let out = unpack("upper.tar", "upper", "auto");
    let gone = md("upper/etc/gone");
    if out.contains("whiteout=CharDevice") {
        assert!(gone.file_type().is_char_device() && gone.rdev() == 0);
    } else {
        assert!(
            gone.is_file()
                && getxattr(&w.join("upper/etc/gone"), "user.overlay.whiteout").is_some()
        );
    }
    assert_eq!(
        getxattr(&w.join("upper/opq"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(getxattr(&w.join("upper/opq"), "trusted.overlay.opaque").is_none());
    // And the xattr form, forced.
    unpack("upper.tar", "upperx", "xattr");
    assert!(md("upperx/etc/gone").is_file());
    assert!(getxattr(&w.join("upperx/etc/gone"), "user.overlay.whiteout").is_some());
    assert_eq!(
        getxattr(&w.join("upperx/etc"), "user.overlay.opaque").as_deref(),
        Some(&b"x"[..])
    );

    // Mount both forms over the base, unprivileged, and look.
    for upper in ["upper", "upperx"] {
        let o = w.join("ovl");
        let script = format!(
            "set -e; mkdir -p {o}/{u}-up {o}/{u}-work {o}/{u}-m; \
             mount -t overlay overlay -o lowerdir={w}/{u}:{w}/base,upperdir={o}/{u}-up,workdir={o}/{u}-work,userxattr {o}/{u}-m; \
             echo etc: $(ls -A {o}/{u}-m/etc); echo opq: $(ls -A {o}/{u}-m/opq); cat {o}/{u}-m/etc/stay",
            o = o.display(),
            w = w.display(),
            u = upper
        );
        let out = run_checked(
            Command::new("runuser")
                .args(["-u", &user, "--", "unshare", "-Urm", "sh", "-c"])
                .arg(&script),
        );
        assert!(out.contains("etc: passwd stay\n"), "{upper}: {out}");
        assert!(out.contains("opq: new\n"), "{upper}: {out}");
        assert!(out.contains("stays"), "{upper}: {out}");
    }
}
