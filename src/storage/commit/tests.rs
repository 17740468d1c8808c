//! Layers from directories, images from layers, `--change` parsing.
//! Whiteout devices and trusted xattrs need root (unit tests run as root).

use super::*;
use crate::storage::layer_tar::layer_tar_bytes;
use crate::storage::store::StoreOptions;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;

fn store(tmp: &Path) -> Store {
    let opts = StoreOptions {
        root: Some(tmp.join("root")),
        runroot: Some(tmp.join("run")),
        ..StoreOptions::default()
    };
    Store::open(&opts, false).unwrap()
}

fn is_root() -> bool {
    // SAFETY: a plain query of this process's ids, no pointers.
    unsafe { libc::geteuid() == 0 }
}

fn mknod_whiteout(p: &Path) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    assert_eq!(
        // SAFETY: NUL-terminated paths and descriptors we own, valid for the call; the result is checked.
        unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, libc::makedev(0, 0)) },
        0
    );
}

fn set_xattr(p: &Path, k: &str, v: &[u8]) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let k = CString::new(k).unwrap();
    assert_eq!(
        // SAFETY: a NUL-terminated path and name; pointer and length describe a buffer of ours.
        unsafe { libc::lsetxattr(c.as_ptr(), k.as_ptr(), v.as_ptr().cast(), v.len(), 0) },
        0
    );
}

#[test]
fn empty_dir_is_the_empty_layer() {
    let t = tempfile::tempdir().unwrap();
    let s = store(t.path());
    let dir = t.path().join("upper");
    fs::create_dir(&dir).unwrap();
    let rec = layer_from_dir(&s, &dir).unwrap();
    assert_eq!(rec.diff_id.to_string(), EMPTY_LAYER_DIFF_ID);
    assert_eq!(rec.size, 1024);
    assert!(s.layers.has(&rec.diff_id));
    assert_eq!(
        fs::read_dir(s.layers.diff_dir(&rec.diff_id))
            .unwrap()
            .count(),
        0
    );
    // Again: the stored layer is reused, nothing staged is left behind.
    let again = layer_from_dir(&s, &dir).unwrap();
    assert_eq!(again.diff_id, rec.diff_id);
    assert_eq!(fs::read_dir(s.root.join("tmp")).unwrap().count(), 0);
}

#[test]
fn overlay_upper_becomes_the_layer_its_tar_describes() {
    if !is_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let s = store(t.path());
    let up = t.path().join("upper");
    fs::create_dir_all(up.join("etc/app")).unwrap();
    fs::write(up.join("etc/app/conf"), b"x=1\n").unwrap();
    symlink("conf", up.join("etc/app/link")).unwrap();
    mknod_whiteout(&up.join("etc/gone"));
    fs::create_dir(up.join("opaque")).unwrap();
    fs::write(up.join("opaque/only"), b"o").unwrap();
    set_xattr(&up.join("opaque"), "trusted.overlay.opaque", b"y");

    let tar = layer_tar_bytes(
        &up,
        &LayerTarOptions {
            xattr_prefix: s.xattr_prefix(),
            mtime: Default::default(),
        },
    )
    .unwrap();
    let rec = layer_from_dir(&s, &up).unwrap();
    assert_eq!(rec.diff_id, Digest::of_bytes(&tar));
    assert_eq!(rec.size, tar.len() as u64);
    // The stored layer gives back the very same tar: pulling it would too.
    let stored = s.layers.diff_dir(&rec.diff_id);
    let again = layer_tar_bytes(
        &stored,
        &LayerTarOptions {
            xattr_prefix: s.xattr_prefix(),
            mtime: Default::default(),
        },
    )
    .unwrap();
    assert_eq!(again, tar);
    let names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    assert!(names.contains(&"etc/.wh.gone".to_string()), "{names:?}");
    assert!(
        names.contains(&"opaque/.wh..wh..opq".to_string()),
        "{names:?}"
    );
    assert_eq!(s.layers.record(&rec.diff_id).unwrap().diff_id, rec.diff_id);
}

fn config_of(s: &Store, img: &ImageRecord) -> ImageConfig {
    ImageConfig::parse(&s.blobs.read(&img.config_digest()).unwrap()).unwrap()
}

#[test]
fn images_from_layers_chain_with_history_and_changes() {
    let t = tempfile::tempdir().unwrap();
    let s = store(t.path());
    let dir = t.path().join("d");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("hello"), b"hi\n").unwrap();
    let layer = layer_from_dir(&s, &dir).unwrap();
    let base = image_from_layers(
        &s,
        None,
        Some(layer.clone()),
        |c| c.config.env = Some(vec!["PATH=/bin".into()]),
        &CommitOptions {
            history_created_by: Some("import".into()),
            changes: vec!["CMD [\"/bin/sh\"]".into()],
            apply_changes: Some(crate::build::changes::apply_changes),
            names: vec!["localhost/base:1".into()],
            ..CommitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(base.names, ["localhost/base:1"]);
    assert_eq!(base.layers, std::slice::from_ref(&layer.diff_id));
    assert_eq!(base.manifest_media_type, OCI_MANIFEST);
    let m: Value = serde_json::from_slice(&s.blobs.read(&base.manifest_digest).unwrap()).unwrap();
    assert_eq!(m["config"]["digest"], format!("sha256:{}", base.id));
    assert_eq!(m["layers"][0]["mediaType"], OCI_LAYER_TAR);
    assert_eq!(m["layers"][0]["digest"], layer.diff_id.to_string());
    let c = config_of(&s, &base);
    assert_eq!(c.os, "linux");
    assert_eq!(c.rootfs.diff_ids, [layer.diff_id.to_string()]);
    assert_eq!(c.config.cmd.as_deref(), Some(&["/bin/sh".to_string()][..]));
    assert_eq!(c.history.len(), 1);
    assert!(!c.history[0].empty_layer);

    let child = image_from_layers(
        &s,
        Some(&base),
        None,
        |_| {},
        &CommitOptions {
            author: Some("me".into()),
            message: Some("why".into()),
            changes: vec!["ENV GREETING=hi-$PATH".into(), "WORKDIR app".into()],
            apply_changes: Some(crate::build::changes::apply_changes),
            format: ImageFormat::Docker,
            ..CommitOptions::default()
        },
    )
    .unwrap();
    assert!(child.names.is_empty());
    assert_eq!(child.layers, base.layers);
    assert_eq!(child.manifest_media_type, DOCKER_MANIFEST);
    let c = config_of(&s, &child);
    assert_eq!(c.author.as_deref(), Some("me"));
    assert_eq!(c.history.len(), 2);
    assert!(c.history[1].empty_layer);
    assert_eq!(c.history[1].comment.as_deref(), Some("why"));
    assert_eq!(c.config.working_dir.as_deref(), Some("/app"));
    assert!(c
        .config
        .env
        .unwrap()
        .contains(&"GREETING=hi-/bin".to_string()));
    let all = s.images.load().unwrap();
    assert_eq!(all.list.len(), 2);
}

fn changed(changes: &[&str]) -> Result<ImageConfig> {
    let mut c = ImageConfig::default();
    let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
    crate::build::changes::apply_changes(&mut c, &changes)?;
    Ok(c)
}

#[test]
fn change_lines() {
    let c = changed(&[
        "CMD echo hi",
        "ENTRYPOINT [\"/bin/app\", \"-v\"]",
        "EXPOSE 80 53/UDP",
        "LABEL a=b \"c d\"=e",
        "USER 1000:1000",
        "VOLUME /data",
        "STOPSIGNAL SIGINT",
        "ONBUILD RUN echo later",
        "env=A=1",
        "ENV A=2",
    ])
    .unwrap();
    let cc = &c.config;
    assert_eq!(cc.cmd.clone().unwrap(), ["/bin/sh", "-c", "echo hi"]);
    assert_eq!(cc.entrypoint.clone().unwrap(), ["/bin/app", "-v"]);
    let ports: Vec<&String> = cc.exposed_ports.as_ref().unwrap().keys().collect();
    assert_eq!(ports, ["53/udp", "80/tcp"]);
    assert_eq!(cc.labels.as_ref().unwrap()["c d"], "e");
    assert_eq!(cc.user.as_deref(), Some("1000:1000"));
    assert!(cc.volumes.as_ref().unwrap().contains_key("/data"));
    assert_eq!(cc.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(cc.extra["OnBuild"], json!(["RUN echo later"]));
    assert_eq!(cc.env.clone().unwrap(), ["A=2"]);
    assert_eq!(
        changed(&["CMD=[\"/x\"]"]).unwrap().config.cmd.unwrap(),
        ["/x"]
    );

    let err = |c: &str| format!("{:#}", changed(&[c]).unwrap_err());
    assert!(err("RUN rm -rf /").contains("not a valid change"));
    assert!(err("FROM busybox").contains("not a valid change"));
    assert!(err("CMD a\nRUN b").contains("one line"));
    assert!(err("").contains("not a valid change"));
    assert!(err("ENV").contains("invalid change"));
}

fn header() -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

#[test]
fn hostile_import_writes_nothing_outside() {
    let t = tempfile::tempdir().unwrap();
    let s = store(t.path());
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "evil", t.path()).unwrap();
    let mut h = header();
    h.set_size(2);
    h.set_mode(0o644);
    // The tar crate refuses to write `..` names; poke the header directly.
    let name = b"evil/escaped";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    b.append(&h, &b"no"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    // The symlink resolves inside the layer (to a missing dir): refused,
    // and in no case written through to the host.
    assert!(layer_from_tar(&s, &tar[..]).is_err());
    assert!(!t.path().join("escaped").exists());

    let mut b = tar::Builder::new(Vec::new());
    let mut h = header();
    h.set_size(2);
    h.set_mode(0o644);
    let name = b"../../escaped2";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    b.append(&h, &b"no"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let err = layer_from_tar(&s, &tar[..]).unwrap_err();
    assert!(format!("{err:#}").contains("climbs above"), "{err:#}");
    assert!(!t.path().join("escaped2").exists());
    assert!(!t.path().join("root/escaped2").exists());
    assert_eq!(fs::read_dir(s.root.join("tmp")).unwrap().count(), 0);
}

#[test]
fn compressed_layers_keep_a_gzip_blob_of_their_tar() {
    let t = tempfile::tempdir().unwrap();
    let s = store(t.path());
    let dir = t.path().join("upper");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("f"), b"kept gzipped\n").unwrap();
    let check = |rec: &LayerRecord| {
        let path = s.layers.stored_compressed(rec).expect("a kept blob");
        let blob = fs::read(&path).unwrap();
        assert_eq!(Some(Digest::of_bytes(&blob)), rec.compressed_digest);
        assert_eq!(Some(blob.len() as u64), rec.compressed_size);
        assert_eq!(rec.media_type.as_deref(), Some(OCI_LAYER_GZIP));
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&blob[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(Digest::of_bytes(&tar), rec.diff_id);
    };
    // A layer stored plain first, then made again compressed: the blob
    // is added to it.
    let plain = layer_from_dir(&s, &dir).unwrap();
    assert!(s.layers.stored_compressed(&plain).is_none());
    let again = layer_from_dir_as(&s, &dir, MtimePolicy::Keep, true).unwrap();
    assert_eq!(again.diff_id, plain.diff_id);
    check(&again);
    check(&s.layers.record(&plain.diff_id).unwrap());
    // A new layer made compressed.
    fs::write(dir.join("g"), b"another\n").unwrap();
    let fresh = layer_from_dir_as(&s, &dir, MtimePolicy::Keep, true).unwrap();
    check(&fresh);
    // Its image describes the kept blob.
    let img = image_from_layers(
        &s,
        None,
        Some(fresh.clone()),
        |_| {},
        &CommitOptions::default(),
    )
    .unwrap();
    let m: Value = serde_json::from_slice(&s.blobs.read(&img.manifest_digest).unwrap()).unwrap();
    assert_eq!(m["layers"][0]["mediaType"], OCI_LAYER_GZIP);
    assert_eq!(
        m["layers"][0]["digest"],
        fresh.compressed_digest.unwrap().to_string()
    );
    // Nothing left in tmp/.
    assert_eq!(fs::read_dir(s.root.join("tmp")).unwrap().count(), 0);
}
