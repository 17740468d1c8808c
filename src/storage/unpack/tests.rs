//! Unpack tests. They build tars in memory, writing raw headers where a
//! hostile name must get past the tar crate's own checks. Ownership and
//! device tests need root (CI runs them as root).

use super::*;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

use tar::{Builder, Header};

struct Tar(Builder<Vec<u8>>);

#[derive(Clone)]
struct E<'a> {
    name: &'a [u8],
    kind: EntryType,
    link: &'a [u8],
    data: &'a [u8],
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    dev: (u32, u32),
    pax: Vec<(&'a str, &'a [u8])>,
}

fn e(name: &str, kind: EntryType) -> E<'_> {
    E {
        name: name.as_bytes(),
        kind,
        link: b"",
        data: b"",
        mode: if kind == EntryType::Directory {
            0o755
        } else {
            0o644
        },
        // SAFETY: a plain query of this process's ids, no pointers.
        uid: unsafe { libc::geteuid() } as u64,
        // SAFETY: a plain query of this process's ids, no pointers.
        gid: unsafe { libc::getegid() } as u64,
        mtime: 1_600_000_000,
        dev: (0, 0),
        pax: Vec::new(),
    }
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> E<'a> {
    E {
        data,
        ..e(name, EntryType::Regular)
    }
}
fn dir(name: &str) -> E<'_> {
    e(name, EntryType::Directory)
}
fn symlink<'a>(name: &'a str, target: &'a str) -> E<'a> {
    E {
        link: target.as_bytes(),
        mode: 0o777,
        ..e(name, EntryType::Symlink)
    }
}
fn hardlink<'a>(name: &'a str, target: &'a str) -> E<'a> {
    E {
        link: target.as_bytes(),
        ..e(name, EntryType::Link)
    }
}

impl Tar {
    fn new() -> Tar {
        Tar(Builder::new(Vec::new()))
    }

    /// GNU long-name/long-link records, then a raw header: no path checks.
    fn add(&mut self, x: E<'_>) -> &mut Tar {
        if !x.pax.is_empty() {
            let mut body = Vec::new();
            for (k, v) in &x.pax {
                // "len key=value\n" where len counts itself.
                let rest = k.len() + v.len() + 3;
                let mut len = rest + 1;
                while len.to_string().len() + rest != len {
                    len += 1;
                }
                body.extend_from_slice(format!("{len} {k}=").as_bytes());
                body.extend_from_slice(v);
                body.push(b'\n');
            }
            self.special(b"pax", EntryType::XHeader, &body);
        }
        if x.name.len() > 99 {
            let mut n = x.name.to_vec();
            n.push(0);
            self.special(b"././@LongLink", EntryType::GNULongName, &n);
        }
        if x.link.len() > 99 {
            let mut n = x.link.to_vec();
            n.push(0);
            self.special(b"././@LongLink", EntryType::GNULongLink, &n);
        }
        let mut h = Header::new_gnu();
        set_raw(&mut h.as_old_mut().name, x.name);
        set_raw(&mut h.as_old_mut().linkname, x.link);
        h.set_entry_type(x.kind);
        h.set_mode(x.mode);
        h.set_uid(x.uid);
        h.set_gid(x.gid);
        h.set_mtime(x.mtime);
        h.set_size(x.data.len() as u64);
        h.set_device_major(x.dev.0).unwrap();
        h.set_device_minor(x.dev.1).unwrap();
        h.set_cksum();
        self.0.append(&h, x.data).unwrap();
        self
    }

    fn special(&mut self, name: &[u8], kind: EntryType, data: &[u8]) {
        let mut h = Header::new_gnu();
        set_raw(&mut h.as_old_mut().name, name);
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
    }

    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn set_raw(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len() - 1);
    field[..n].copy_from_slice(&value[..n]);
}

/// A temp dir holding `dest/` (the layer) and `outside/secret` (a canary).
struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("dest")).unwrap();
        fs::create_dir(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside/secret"), b"canary").unwrap();
        Sandbox { tmp }
    }
    fn dest(&self) -> PathBuf {
        self.tmp.path().join("dest")
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.dest().join(rel)
    }
    fn unpack_with(&self, tar: Tar, opts: &UnpackOptions) -> Result<UnpackStats> {
        unpack_layer(&tar.bytes()[..], &self.dest(), opts)
    }
    fn unpack(&self, tar: Tar) -> Result<UnpackStats> {
        self.unpack_with(tar, &root_opts())
    }
    /// Nothing may have appeared or changed outside `dest`.
    fn assert_contained(&self) {
        let mut top: Vec<String> = fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        top.sort();
        assert_eq!(top, ["dest", "outside"]);
        let out: Vec<_> = fs::read_dir(self.tmp.path().join("outside"))
            .unwrap()
            .collect();
        assert_eq!(out.len(), 1);
        let secret = self.tmp.path().join("outside/secret");
        assert_eq!(fs::read(&secret).unwrap(), b"canary");
        let md = fs::symlink_metadata(&secret).unwrap();
        assert!(md.file_type().is_file());
        assert_eq!(md.nlink(), 1);
        assert_eq!(md.mode() & 0o7777, 0o644);
    }
}

fn root_opts() -> UnpackOptions {
    UnpackOptions {
        xattr_prefix: XattrPrefix::Trusted,
        whiteout: WhiteoutForm::CharDevice,
        rootless: false,
        merge: Default::default(),
    }
}

fn require_root() {
    assert_eq!(
        // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
        unsafe { libc::geteuid() },
        0,
        "this test needs root (ownership, devices, trusted xattrs); run the unit tests as root"
    );
}

fn getxattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
    let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

fn err_text(r: Result<UnpackStats>) -> String {
    format!("{:#}", r.expect_err("unpack should have failed"))
}

#[test]
fn every_entry_type_with_metadata() {
    require_root();
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(E {
        mode: 0o750,
        mtime: 1_500_000_000,
        ..dir("./etc/")
    })
    .add(E {
        uid: 1000,
        gid: 1001,
        mtime: 1_400_000_000,
        ..file("./etc/passwd", b"root:x:0:0\n")
    })
    .add(E {
        mode: 0o4755,
        uid: 0,
        gid: 0,
        ..file("usr/bin/su", b"\x7fELF")
    })
    .add(E {
        mode: 0o2755,
        uid: 1000,
        gid: 1000,
        ..file("usr/bin/wall", b"w")
    })
    .add(E {
        mode: 0o1777,
        ..dir("tmp")
    })
    .add(E {
        mode: 0o2775,
        uid: 1000,
        gid: 50,
        ..dir("srv")
    })
    .add(E {
        mtime: 1_300_000_000,
        uid: 1000,
        gid: 1000,
        ..symlink("etc/link", "passwd")
    })
    .add(hardlink("etc/passwd.hard", "etc/passwd"))
    .add(E {
        dev: (1, 3),
        mode: 0o666,
        ..e("dev/null", EntryType::Char)
    })
    .add(E {
        dev: (7, 0),
        mode: 0o660,
        gid: 6,
        ..e("dev/loop0", EntryType::Block)
    })
    .add(E {
        mode: 0o620,
        ..e("run/fifo", EntryType::Fifo)
    })
    .add(E {
        pax: vec![
            ("SCHILY.xattr.user.note", b"hello"),
            (
                "SCHILY.xattr.security.capability",
                b"\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
            ),
            ("mtime", b"1700000000.25"),
        ],
        mode: 0o755,
        ..file("usr/bin/ping", b"ping")
    });
    let stats = sb.unpack(t).unwrap();
    assert_eq!(stats.files, 4);
    assert_eq!(stats.bytes, 11 + 4 + 1 + 4);

    let md = |p: &str| fs::symlink_metadata(sb.p(p)).unwrap();
    assert_eq!(fs::read(sb.p("etc/passwd")).unwrap(), b"root:x:0:0\n");
    assert_eq!(
        (md("etc/passwd").uid(), md("etc/passwd").gid()),
        (1000, 1001)
    );
    assert_eq!(md("etc/passwd").mtime(), 1_400_000_000);
    assert_eq!(md("etc").mode() & 0o7777, 0o750);
    // Directory mtime survives children being added after it.
    assert_eq!(md("etc").mtime(), 1_500_000_000);
    assert_eq!(md("usr/bin/su").mode() & 0o7777, 0o4755);
    assert_eq!(md("usr/bin/wall").mode() & 0o7777, 0o2755);
    assert_eq!(md("usr/bin/wall").uid(), 1000);
    assert_eq!(md("tmp").mode() & 0o7777, 0o1777);
    assert_eq!(md("srv").mode() & 0o7777, 0o2775);
    assert_eq!(md("srv").gid(), 50);
    // Implicit parents.
    assert!(md("usr/bin").is_dir());
    assert_eq!(md("usr/bin").mode() & 0o777, 0o755);

    let l = md("etc/link");
    assert!(l.file_type().is_symlink());
    assert_eq!(
        fs::read_link(sb.p("etc/link")).unwrap(),
        Path::new("passwd")
    );
    assert_eq!(l.mtime(), 1_300_000_000);
    assert_eq!(l.uid(), 1000);

    assert_eq!(md("etc/passwd.hard").ino(), md("etc/passwd").ino());
    assert_eq!(md("etc/passwd").nlink(), 2);

    let null = md("dev/null");
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    let lp = md("dev/loop0");
    assert!(lp.file_type().is_block_device());
    assert_eq!(lp.rdev(), libc::makedev(7, 0));
    assert_eq!(lp.gid(), 6);
    let f = md("run/fifo");
    assert!(f.file_type().is_fifo());
    assert_eq!(f.mode() & 0o7777, 0o620);

    let ping = sb.p("usr/bin/ping");
    assert_eq!(getxattr(&ping, "user.note").unwrap(), b"hello");
    assert!(getxattr(&ping, "security.capability").is_some());
    assert_eq!(md("usr/bin/ping").mtime(), 1_700_000_000);
    assert_eq!(md("usr/bin/ping").mtime_nsec(), 250_000_000);
    sb.assert_contained();
}

#[test]
fn rootless_skips_devices_keeps_fifos() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(E {
        dev: (1, 3),
        ..e("dev/null", EntryType::Char)
    })
    .add(E {
        dev: (8, 0),
        ..e("dev/sda", EntryType::Block)
    })
    .add(e("fifo", EntryType::Fifo))
    .add(E {
        pax: vec![("SCHILY.xattr.trusted.x", b"1")],
        ..file("f", b"")
    });
    let opts = UnpackOptions {
        xattr_prefix: XattrPrefix::User,
        rootless: true,
        merge: Default::default(),
        ..root_opts()
    };
    sb.unpack_with(t, &opts).unwrap();
    assert!(!sb.p("dev/null").exists() && !sb.p("dev/sda").exists());
    assert!(fs::symlink_metadata(sb.p("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn whiteouts_char_device_form() {
    require_root();
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(dir("etc"))
        .add(file("etc/.wh.gone", b""))
        .add(file("etc/kept", b"k"))
        // A same-layer file is not hidden by its whiteout (OCI spec).
        .add(file("etc/.wh.kept", b""))
        .add(dir("opq"))
        .add(file("opq/.wh..wh..opq", b""))
        .add(file("opq/new", b"n"))
        .add(file("implicit/.wh..wh..opq", b""));
    sb.unpack(t).unwrap();
    let gone = fs::symlink_metadata(sb.p("etc/gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert!(!sb.p("etc/.wh.gone").exists());
    assert_eq!(fs::read(sb.p("etc/kept")).unwrap(), b"k");
    assert_eq!(
        getxattr(&sb.p("opq"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(!sb.p("opq/.wh..wh..opq").exists());
    assert_eq!(
        getxattr(&sb.p("implicit"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(getxattr(&sb.p("etc"), "trusted.overlay.opaque").is_none());
}

#[test]
fn whiteouts_xattr_form_user_prefix() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(dir("etc"))
        .add(file("etc/.wh.gone", b""))
        .add(dir("opq"))
        .add(file("opq/.wh..wh..opq", b""))
        .add(file("opq/.wh.x", b""));
    let opts = UnpackOptions {
        xattr_prefix: XattrPrefix::User,
        whiteout: WhiteoutForm::Xattr,
        rootless: true,
        merge: Default::default(),
    };
    sb.unpack_with(t, &opts).unwrap();
    let gone = fs::symlink_metadata(sb.p("etc/gone")).unwrap();
    assert!(gone.file_type().is_file());
    assert_eq!(gone.len(), 0);
    assert!(getxattr(&sb.p("etc/gone"), "user.overlay.whiteout").is_some());
    assert_eq!(getxattr(&sb.p("etc"), "user.overlay.opaque").unwrap(), b"x");
    // An opaque=y directory stays y even when it also holds whiteouts.
    assert_eq!(getxattr(&sb.p("opq"), "user.overlay.opaque").unwrap(), b"y");
}

#[test]
fn layer_cannot_forge_overlay_xattrs() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(E {
        pax: vec![
            ("SCHILY.xattr.user.overlay.opaque", b"y"),
            ("SCHILY.xattr.user.overlay.redirect", b"/etc"),
        ],
        ..dir("d")
    });
    sb.unpack(t).unwrap();
    assert!(getxattr(&sb.p("d"), "user.overlay.opaque").is_none());
    assert!(getxattr(&sb.p("d"), "user.overlay.redirect").is_none());
}

#[test]
fn replacement_semantics() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(dir("d"))
        .add(file("d/a", b"a"))
        // dir over dir keeps contents, takes the new mode.
        .add(E {
            mode: 0o700,
            ..dir("d")
        })
        .add(file("f", b"old"))
        .add(file("f", b"new"))
        // file over dir removes the tree.
        .add(dir("x"))
        .add(file("x/inner", b"i"))
        .add(file("x", b"now a file"))
        // dir over file.
        .add(file("y", b"file"))
        .add(dir("y"))
        // symlink over file, then file over symlink: must replace the link,
        // never write through it.
        .add(file("s", b"s"))
        .add(symlink("s", "../outside/secret"))
        .add(file("s", b"replaced"))
        .add(symlink("abs", "/etc/passwd"))
        .add(file("abs", b"plain"));
    sb.unpack(t).unwrap();
    assert_eq!(fs::read(sb.p("d/a")).unwrap(), b"a");
    assert_eq!(
        fs::metadata(sb.p("d")).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(fs::read(sb.p("f")).unwrap(), b"new");
    assert_eq!(fs::read(sb.p("x")).unwrap(), b"now a file");
    assert!(fs::symlink_metadata(sb.p("y")).unwrap().is_dir());
    let s = fs::symlink_metadata(sb.p("s")).unwrap();
    assert!(s.file_type().is_file());
    assert_eq!(fs::read(sb.p("s")).unwrap(), b"replaced");
    assert_eq!(fs::read(sb.p("abs")).unwrap(), b"plain");
    sb.assert_contained();
}

#[test]
fn refuses_names_climbing_out() {
    for name in ["../evil", "a/../../evil", "./../outside/secret", "/../evil"] {
        let sb = Sandbox::new();
        let mut t = Tar::new();
        t.add(file(name, b"pwned"));
        let msg = err_text(sb.unpack(t));
        assert!(msg.contains(name) && msg.contains("climbs above"), "{msg}");
        sb.assert_contained();
    }
    // The same through a GNU long name record.
    let long = format!("{}../outside/secret", "a/../".repeat(30));
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(file(&long, b"pwned"));
    assert!(err_text(sb.unpack(t)).contains("climbs above"));
    sb.assert_contained();
}

#[test]
fn absolute_names_are_anchored_at_root() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(file("/etc/x", b"x"));
    sb.unpack(t).unwrap();
    assert_eq!(fs::read(sb.p("etc/x")).unwrap(), b"x");
    sb.assert_contained();
}

#[test]
fn refuses_hardlink_climbing_out() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(hardlink("passwd", "../../etc/passwd"));
    let msg = err_text(sb.unpack(t));
    assert!(
        msg.contains("passwd") && msg.contains("climbs above"),
        "{msg}"
    );
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(hardlink("secret", "../outside/secret"));
    assert!(err_text(sb.unpack(t)).contains("climbs above"));
    sb.assert_contained();
}

#[test]
fn absolute_symlink_parent_stays_inside() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(symlink("evil", "/"))
        .add(file("evil/etc/x", b"x"))
        .add(dir("evil/newdir"))
        .add(dir("var/run"))
        .add(symlink("run", "/var/run"))
        .add(file("run/pid", b"1"));
    sb.unpack(t).unwrap();
    assert_eq!(fs::read(sb.p("etc/x")).unwrap(), b"x");
    assert!(sb.p("newdir").is_dir());
    assert!(fs::symlink_metadata(sb.p("evil"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(sb.p("var/run/pid")).unwrap(), b"1");
    sb.assert_contained();
}

#[test]
fn relative_escaping_symlink_parent_stays_inside() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(symlink("evil", "../../.."))
        .add(file("evil/x", b"x"))
        .add(dir("outside"))
        .add(symlink("out", "../outside"))
        .add(file("out/secret", b"pwned"))
        .add(dir("etc"))
        .add(symlink("deep", "../../../../../../etc"))
        .add(file("deep/shadow", b"s"));
    sb.unpack(t).unwrap();
    // `..` from the root stays at the root, like in a container.
    assert_eq!(fs::read(sb.p("x")).unwrap(), b"x");
    assert_eq!(fs::read(sb.p("outside/secret")).unwrap(), b"pwned");
    assert_eq!(fs::read(sb.p("etc/shadow")).unwrap(), b"s");
    sb.assert_contained();
}

#[test]
fn dangling_symlink_parent_is_not_followed() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(symlink("evil", "../outside/newdir"))
        .add(file("evil/x", b"x"));
    // Its target does not exist inside the root: refuse rather than follow.
    let msg = err_text(sb.unpack(t));
    assert!(msg.contains("evil/x"), "{msg}");
    sb.assert_contained();
}

#[test]
fn hardlink_through_escaping_symlink() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(symlink("evil", "../outside"))
        .add(hardlink("stolen", "evil/secret"));
    let msg = err_text(sb.unpack(t));
    assert!(
        msg.contains("stolen") && msg.contains("not in this layer"),
        "{msg}"
    );
    sb.assert_contained();

    // A hard link whose target is a symlink links the symlink itself.
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(symlink("l", "../outside/secret"))
        .add(hardlink("h", "l"));
    sb.unpack(t).unwrap();
    assert!(fs::symlink_metadata(sb.p("h"))
        .unwrap()
        .file_type()
        .is_symlink());
    sb.assert_contained();

    // Hard link into a dir reached through an in-root symlink: fine.
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(file("real/f", b"f"))
        .add(symlink("alias", "/real"))
        .add(hardlink("h", "alias/f"));
    sb.unpack(t).unwrap();
    assert_eq!(
        fs::metadata(sb.p("h")).unwrap().ino(),
        fs::metadata(sb.p("real/f")).unwrap().ino()
    );
}

#[test]
fn hardlink_to_missing_target_fails() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(hardlink("h", "nope"));
    assert!(err_text(sb.unpack(t)).contains("not in this layer"));
}

#[test]
fn file_through_file_parent_fails() {
    let sb = Sandbox::new();
    let mut t = Tar::new();
    t.add(file("a", b"")).add(file("a/b", b""));
    let msg = err_text(sb.unpack(t));
    assert!(msg.contains("a/b"), "{msg}");
}

#[test]
fn root_entry_and_long_names() {
    let sb = Sandbox::new();
    let long = format!("{}/file", "d".repeat(150));
    let target = format!("/{}", "t".repeat(150));
    let mut t = Tar::new();
    t.add(E {
        mode: 0o711,
        ..dir("./")
    })
    .add(file(&long, b"long"))
    .add(symlink("ln", &target));
    sb.unpack(t).unwrap();
    assert_eq!(
        fs::metadata(sb.dest()).unwrap().permissions().mode() & 0o777,
        0o711
    );
    assert_eq!(fs::read(sb.p(&long)).unwrap(), b"long");
    assert_eq!(fs::read_link(sb.p("ln")).unwrap(), Path::new(&target));
}

#[test]
fn probe_finds_a_form_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let form = probe_whiteout_form(tmp.path());
    // SAFETY: a plain query of this process's ids, no pointers.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(form, WhiteoutForm::CharDevice);
    }
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn pax_time_parsing() {
    let t = parse_pax_time(b"1700000000.123456789123").unwrap();
    assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 123_456_789));
    let t = parse_pax_time(b"12").unwrap();
    assert_eq!((t.tv_sec, t.tv_nsec), (12, 0));
    let t = parse_pax_time(b"-1.5").unwrap();
    assert_eq!((t.tv_sec, t.tv_nsec), (-2, 500_000_000));
    assert!(parse_pax_time(b"x").is_none());
}
