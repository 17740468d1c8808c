//! Round trips: tar -> unpack_layer -> write_layer_tar -> the same entries.
//! Ownership, devices and trusted xattrs need root (CI runs unit tests as root).

use super::*;
use crate::storage::unpack::{unpack_layer, UnpackOptions, WhiteoutForm};
use std::io::Read;

/// One tar entry, as compared across a round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    name: String,
    kind: char,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    link: String,
    data: Vec<u8>,
    dev: (u32, u32),
    xattrs: Vec<(String, Vec<u8>)>,
}

fn entries(tar: &[u8]) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut a = tar::Archive::new(tar);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let name = String::from_utf8_lossy(&e.path_bytes())
            .trim_end_matches('/')
            .trim_start_matches("./")
            .to_string();
        if name.is_empty() || name == "." {
            continue;
        }
        let mut xattrs = Vec::new();
        if let Some(pax) = e.pax_extensions().unwrap() {
            for x in pax {
                let x = x.unwrap();
                if let Some(k) = x.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    xattrs.push((k.to_string(), x.value_bytes().to_vec()));
                }
            }
        }
        xattrs.sort();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        let kind = h.entry_type().as_byte() as char;
        // A whiteout's or a hard link's own metadata carries no meaning.
        let whiteout = name.rsplit('/').next().unwrap().starts_with(".wh.") || kind == '1';
        out.push(Seen {
            kind: if kind == '\0' { '0' } else { kind },
            mode: if whiteout {
                0
            } else {
                h.mode().unwrap() & 0o7777
            },
            uid: if whiteout { 0 } else { h.uid().unwrap() },
            gid: if whiteout { 0 } else { h.gid().unwrap() },
            mtime: if whiteout { 0 } else { h.mtime().unwrap() },
            link: e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default(),
            dev: (
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0),
            ),
            name,
            data,
            xattrs,
        });
    }
    out
}

/// Builds input tars with the tar crate's ordinary API.
struct In(tar::Builder<Vec<u8>>);

impl In {
    fn new() -> In {
        In(tar::Builder::new(Vec::new()))
    }
    fn add(&mut self, name: &str, kind: EntryType, mode: u32, owner: (u64, u64), data: &[u8]) {
        self.add_full(name, kind, mode, owner, data, "", (0, 0), &[]);
    }
    #[allow(clippy::too_many_arguments)]
    fn add_full(
        &mut self,
        name: &str,
        kind: EntryType,
        mode: u32,
        owner: (u64, u64),
        data: &[u8],
        link: &str,
        dev: (u32, u32),
        xattrs: &[(&str, &[u8])],
    ) {
        if !xattrs.is_empty() {
            let mut body = Vec::new();
            for (k, v) in xattrs {
                let mut kv = format!("SCHILY.xattr.{k}=").into_bytes();
                kv.extend_from_slice(v);
                kv.push(b'\n');
                body.extend(pax_record(&kv));
            }
            let mut h = Header::new_ustar();
            h.set_entry_type(EntryType::XHeader);
            h.set_path("PaxHeaders/x").unwrap();
            h.set_size(body.len() as u64);
            h.set_cksum();
            self.0.append(&h, &body[..]).unwrap();
        }
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(owner.0);
        h.set_gid(owner.1);
        h.set_mtime(1_600_000_000 + name.len() as u64);
        h.set_size(data.len() as u64);
        if matches!(kind, EntryType::Char | EntryType::Block) {
            h.set_device_major(dev.0).unwrap();
            h.set_device_minor(dev.1).unwrap();
        }
        if matches!(kind, EntryType::Symlink | EntryType::Link) {
            self.0.append_link(&mut h, name, link).unwrap();
        } else {
            self.0.append_data(&mut h, name, data).unwrap();
        }
    }
    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
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

fn round_trip(
    input: &[u8],
    prefix: XattrPrefix,
    form: WhiteoutForm,
) -> (Vec<u8>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let opts = UnpackOptions {
        xattr_prefix: prefix,
        whiteout: form,
        rootless: false,
        merge: Default::default(),
    };
    unpack_layer(input, tmp.path(), &opts).unwrap();
    let out = layer_tar_bytes(
        tmp.path(),
        &LayerTarOptions {
            xattr_prefix: prefix,
            mtime: Default::default(),
        },
    )
    .unwrap();
    (out, tmp)
}

fn sorted(mut v: Vec<Seen>) -> Vec<Seen> {
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Every entry type with its metadata, in the (sorted) order we write.
fn full_layer() -> Vec<u8> {
    let mut t = In::new();
    let long_dir = "d".repeat(60);
    let long_name = format!("{long_dir}/{}", "f".repeat(80));
    t.add("bin/", EntryType::Directory, 0o755, (0, 0), b"");
    t.add(
        "bin/busybox",
        EntryType::Regular,
        0o755,
        (0, 0),
        b"\x7fELF...",
    );
    t.add_full(
        "bin/sh",
        EntryType::Symlink,
        0o777,
        (0, 0),
        b"",
        "busybox",
        (0, 0),
        &[],
    );
    t.add("dev/", EntryType::Directory, 0o755, (0, 0), b"");
    t.add_full(
        "dev/null",
        EntryType::Char,
        0o666,
        (0, 0),
        b"",
        "",
        (1, 3),
        &[],
    );
    t.add_full(
        "dev/sda",
        EntryType::Block,
        0o660,
        (0, 6),
        b"",
        "",
        (8, 0),
        &[],
    );
    t.add(
        &format!("{long_dir}/"),
        EntryType::Directory,
        0o700,
        (1000, 1000),
        b"",
    );
    t.add(&long_name, EntryType::Regular, 0o600, (1000, 1000), b"long");
    t.add("etc/", EntryType::Directory, 0o755, (0, 0), b"");
    t.add("etc/.wh.gone", EntryType::Regular, 0o600, (0, 0), b"");
    t.add(
        "etc/passwd",
        EntryType::Regular,
        0o644,
        (0, 0),
        b"root:x:0:0\n",
    );
    t.add_full(
        "etc/passwd-",
        EntryType::Link,
        0o644,
        (0, 0),
        b"",
        "etc/passwd",
        (0, 0),
        &[],
    );
    t.add_full(
        "etc/xattr-file",
        EntryType::Regular,
        0o644,
        (0, 0),
        b"x",
        "",
        (0, 0),
        &[("user.comment", b"hello"), ("trusted.thing", b"\x00\x01")],
    );
    t.add("opt/", EntryType::Directory, 0o755, (0, 0), b"");
    t.add("opt/data/", EntryType::Directory, 0o750, (0, 0), b"");
    t.add(
        "opt/data/.wh..wh..opq",
        EntryType::Regular,
        0o600,
        (0, 0),
        b"",
    );
    t.add("opt/data/kept", EntryType::Regular, 0o644, (0, 0), b"kept");
    t.add("tmp/", EntryType::Directory, 0o1777, (0, 0), b"");
    t.add("usr/", EntryType::Directory, 0o755, (0, 0), b"");
    t.add("usr/bin/", EntryType::Directory, 0o755, (0, 0), b"");
    t.add("usr/bin/suid", EntryType::Regular, 0o4755, (0, 0), b"s");
    t.add("usr/bin/sgid", EntryType::Regular, 0o2711, (0, 42), b"g");
    t.add("var/", EntryType::Directory, 0o755, (0, 0), b"");
    t.add("var/fifo", EntryType::Fifo, 0o640, (0, 0), b"");
    t.add(
        "var/nobody",
        EntryType::Regular,
        0o640,
        (65534, 65534),
        b"n",
    );
    let big_id = 3_000_000; // beyond the 7-digit octal field: base-256
    t.add(
        "var/big-ids",
        EntryType::Regular,
        0o644,
        (big_id, big_id),
        b"b",
    );
    t.bytes()
}

#[test]
fn round_trip_every_entry_type_char_device_whiteouts() {
    require_root();
    let input = full_layer();
    let (out, _dir) = round_trip(&input, XattrPrefix::Trusted, WhiteoutForm::CharDevice);
    assert_eq!(sorted(entries(&out)), sorted(entries(&input)));
    // The opaque marker comes right after its directory, before its children.
    let names: Vec<String> = entries(&out).into_iter().map(|e| e.name).collect();
    let at = names.iter().position(|n| n == "opt/data").unwrap();
    assert_eq!(names[at + 1], "opt/data/.wh..wh..opq");
    assert_eq!(names[at + 2], "opt/data/kept");
}

#[test]
fn round_trip_xattr_whiteouts_user_prefix() {
    require_root();
    let input = full_layer();
    let (out, dir) = round_trip(&input, XattrPrefix::User, WhiteoutForm::Xattr);
    assert_eq!(sorted(entries(&out)), sorted(entries(&input)));
    // The unpacked dir really used the xattr form (no devices for whiteouts).
    let gone = dir.path().join("etc/gone");
    assert!(fs::symlink_metadata(&gone).unwrap().is_file());
}

#[test]
fn output_is_deterministic_and_a_fixed_point() {
    require_root();
    let input = full_layer();
    let (a, _d1) = round_trip(&input, XattrPrefix::Trusted, WhiteoutForm::CharDevice);
    let (b, _d2) = round_trip(&input, XattrPrefix::Trusted, WhiteoutForm::CharDevice);
    assert_eq!(a, b, "same directory content, same bytes");
    let (c, _d3) = round_trip(&a, XattrPrefix::Trusted, WhiteoutForm::CharDevice);
    assert_eq!(a, c, "our own output round-trips byte for byte");
    // And the diff id does not depend on the whiteout form on disk.
    let (x, _d4) = round_trip(&input, XattrPrefix::User, WhiteoutForm::Xattr);
    assert_eq!(entries(&a), entries(&x));
}

#[test]
fn overlay_xattrs_never_leave_and_x_is_not_opaque() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dir");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("f"), b"1").unwrap();
    let set = |p: &Path, k: &str, v: &[u8]| {
        let c = CString::new(p.as_os_str().as_bytes()).unwrap();
        let k = CString::new(k).unwrap();
        // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
        let r = unsafe { libc::lsetxattr(c.as_ptr(), k.as_ptr(), v.as_ptr().cast(), v.len(), 0) };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
    };
    // opaque=x only marks a directory holding xattr whiteouts.
    set(&d, "trusted.overlay.opaque", b"x");
    set(&d.join("f"), "trusted.overlay.redirect", b"/elsewhere");
    set(&d.join("f"), "user.overlay.origin", b"o");
    let out = layer_tar_bytes(
        tmp.path(),
        &LayerTarOptions {
            xattr_prefix: XattrPrefix::Trusted,
            mtime: Default::default(),
        },
    )
    .unwrap();
    let seen = entries(&out);
    let names: Vec<&str> = seen.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["dir", "dir/f"]);
    assert!(seen.iter().all(|e| e.xattrs.is_empty()), "{seen:?}");
}

#[test]
fn pax_record_lengths() {
    assert_eq!(pax_record(b"a=b\n"), b"6 a=b\n");
    assert_eq!(pax_record(b"k=vvvvvv\n"), b"12 k=vvvvvv\n");
    let kv = vec![b'x'; 97];
    let r = pax_record(&kv);
    assert!(
        r.starts_with(b"101 "),
        "{}",
        String::from_utf8_lossy(&r[..4])
    );
    assert_eq!(r.len(), 101);
}
