//! Fixture images made from the host's busybox (Debian `busybox-static`).
//! Each is built once per test binary; shared ones are pushed once, and
//! tests that need isolation (or corrupt blobs) push their own copy.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

use super::oci::*;
use super::registry::{registry, Registry};
use super::{base_dir, mkdir_mode, unique};

pub const BUSYBOX: &str = "/bin/busybox";
/// Applets linked in the busybox fixture.
pub const APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "id", "true", "false", "sleep", "env", "mkdir", "rm", "touch",
    "stat", "test", "printf", "pwd", "hostname", "ps", "kill", "grep", "wc", "head", "tail",
    "readlink", "chmod", "ln", "mv", "cp", "whoami", "uname", "mount", "top", "wget", "nc", "ip",
    "date", "find", "tee", "yes",
];

/// An image as it sits in the registry.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub host: String,
    pub repo: String,
    pub tag: String,
    /// Digest of what `HOST/REPO:TAG` resolves to (manifest or index).
    pub digest: String,
    /// The image(s): one, or one per platform of an index.
    pub images: Vec<Image>,
}

impl Pushed {
    /// `HOST/REPO:TAG`
    pub fn reference(&self) -> String {
        format!("{}/{}:{}", self.host, self.repo, self.tag)
    }
    /// `HOST/REPO`
    pub fn name(&self) -> String {
        format!("{}/{}", self.host, self.repo)
    }
    pub fn by_digest(&self) -> String {
        format!("{}/{}@{}", self.host, self.repo, self.digest)
    }
    pub fn image(&self) -> &Image {
        &self.images[0]
    }
    pub fn id(&self) -> String {
        self.images[0].id()
    }
    pub fn diff_ids(&self) -> Vec<String> {
        self.images[0].diff_ids()
    }
    pub fn platform(&self, platform: &str) -> &Image {
        self.images
            .iter()
            .find(|i| i.platform == platform)
            .unwrap_or_else(|| panic!("no {platform} image"))
    }
}

fn pushed_image(reg: &Registry, repo: &str, tag: &str, img: &Image) -> Pushed {
    push_image(reg, repo, tag, img);
    Pushed {
        host: reg.host.clone(),
        repo: repo.into(),
        tag: tag.into(),
        digest: img.manifest_digest.clone(),
        images: vec![img.clone()],
    }
}

// ---------------------------------------------------------------- layers

/// The base layer: busybox, its applet links, /etc/passwd and group, /tmp 1777.
pub fn busybox_tar() -> &'static [u8] {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| {
        let bb = std::fs::read(BUSYBOX)
            .unwrap_or_else(|e| panic!("{BUSYBOX}: {e}: run `sudo tests/run.sh` (installs busybox-static)"));
        let mut t = TarBuilder::new();
        for d in ["bin", "etc", "root", "home", "usr", "usr/bin", "var"] {
            t.dir(d, if d == "root" { 0o700 } else { 0o755 }, 0, 0);
        }
        t.dir("tmp", 0o1777, 0, 0);
        t.file("bin/busybox", &bb, 0o755, 0, 0);
        for a in APPLETS {
            t.symlink(&format!("bin/{a}"), "busybox");
        }
        t.file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            0o644,
            0,
            0,
        );
        t.file("etc/group", b"root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n", 0o644, 0, 0);
        t.dir("home/user", 0o755, 1000, 1000);
        t.finish()
    })
}

pub fn busybox_layer() -> &'static Layer {
    static L: OnceLock<Layer> = OnceLock::new();
    L.get_or_init(|| Layer::new(busybox_tar(), Compression::Gzip))
}

// ---------------------------------------------------------------- images

/// `busybox`: one gzip layer, Cmd ["sh"].
pub fn busybox_image() -> &'static Image {
    static I: OnceLock<Image> = OnceLock::new();
    I.get_or_init(|| build_image(&ImageSpec::new("busybox"), vec![busybox_layer().clone()]))
}

/// Paths and facts of the `layers` fixture the tests assert on.
pub mod layers_fixture {
    pub const OLD_MTIME: u64 = 1_000_000_000;
    pub const SUID_PATH: &str = "usr/bin/suid-tool";
    pub const HARDLINK: &str = "etc/app/config-hardlink";
    pub const HARDLINK_TARGET: &str = "etc/app/config.txt";
    pub const REL_LINK: (&str, &str) = ("etc/app/rel-link", "config.txt");
    pub const UP_LINK: (&str, &str) = ("etc/app/up-link", "../../bin/busybox");
    pub const ABS_LINK: (&str, &str) = ("etc/app/abs-link", "/bin/busybox");
    pub const OWNED_1000: &str = "home/user/owned-1000";
    pub const OWNED_65534: &str = "var/nobody-file";
    pub const FIFO: &str = "var/fifo";
    pub const EMPTY_DIR: &str = "var/empty-dir";
    pub const OLD_FILE: &str = "var/old-file";
    /// Deleted by a whiteout in layer 2 (index 2 of the image's layers).
    pub const DELETED: &str = "etc/app/old.txt";
    /// Made opaque in layer 2, which adds `new.txt` in it.
    pub const OPAQUE_DIR: &str = "opt/data";
}

/// `layers`: busybox + 3 layers: files, owners, setuid, links, fifo, then
/// whiteout + opaque dir + a changed file (gzip), then an uncompressed one.
pub fn layers_image() -> &'static Image {
    use layers_fixture::*;
    static I: OnceLock<Image> = OnceLock::new();
    I.get_or_init(|| {
        let mut t = TarBuilder::new();
        t.dir("etc/app", 0o755, 0, 0)
            .file("etc/app/config.txt", b"v1\n", 0o644, 0, 0)
            .file(DELETED, b"to be deleted\n", 0o644, 0, 0)
            .hardlink(HARDLINK, HARDLINK_TARGET)
            .symlink(REL_LINK.0, REL_LINK.1)
            .symlink(UP_LINK.0, UP_LINK.1)
            .symlink(ABS_LINK.0, ABS_LINK.1)
            .dir("opt", 0o755, 0, 0)
            .dir(OPAQUE_DIR, 0o755, 0, 0)
            .file("opt/data/a.txt", b"a\n", 0o644, 0, 0)
            .file("opt/data/b.txt", b"b\n", 0o644, 0, 0)
            .dir("opt/data/sub", 0o755, 0, 0)
            .file("opt/data/sub/c.txt", b"c\n", 0o644, 0, 0)
            .file(SUID_PATH, b"#!/bin/sh\necho suid\n", 0o4755, 0, 0)
            .file(OWNED_1000, b"mine\n", 0o600, 1000, 1000)
            .file(OWNED_65534, b"nobody's\n", 0o644, 65534, 65534)
            .fifo(FIFO, 0o644)
            .dir(EMPTY_DIR, 0o755, 0, 0)
            .file_mtime(OLD_FILE, b"old\n", 0o644, 0, 0, OLD_MTIME);
        let l1 = Layer::new(&t.finish(), Compression::Gzip);

        let mut t = TarBuilder::new();
        t.dir("etc/app", 0o755, 0, 0)
            .file("etc/app/.wh.old.txt", b"", 0o644, 0, 0)
            .file("etc/app/config.txt", b"v2\n", 0o644, 0, 0)
            .dir(OPAQUE_DIR, 0o755, 0, 0)
            .file("opt/data/.wh..wh..opq", b"", 0o644, 0, 0)
            .file("opt/data/new.txt", b"new\n", 0o644, 0, 0);
        let l2 = Layer::new(&t.finish(), Compression::Gzip);

        let mut t = TarBuilder::new();
        t.file("etc/layer3", b"3\n", 0o644, 0, 0);
        let l3 = Layer::new(&t.finish(), Compression::None);

        build_image(
            &ImageSpec::new("layers"),
            vec![busybox_layer().clone(), l1, l2, l3],
        )
    })
}

fn arch_image(arch: &'static str, variant: Option<&'static str>) -> Image {
    let mut t = TarBuilder::new();
    t.file("etc/arch-name", format!("{arch}\n").as_bytes(), 0o644, 0, 0);
    let mut spec = ImageSpec::new("multi");
    spec.arch = arch;
    spec.variant = variant;
    build_image(
        &spec,
        vec![
            busybox_layer().clone(),
            Layer::new(&t.finish(), Compression::Gzip),
        ],
    )
}

/// `multi`: an OCI index with linux/amd64 and linux/arm64/v8 images whose
/// /etc/arch-name differ.
pub fn multi_index() -> &'static Index {
    static I: OnceLock<Index> = OnceLock::new();
    I.get_or_init(|| {
        build_index(
            vec![arch_image("amd64", None), arch_image("arm64", Some("v8"))],
            false,
        )
    })
}

/// `zstd`: busybox with its layer zstd-compressed (same diff id as busybox's).
pub fn zstd_image() -> &'static Image {
    static I: OnceLock<Image> = OnceLock::new();
    I.get_or_init(|| {
        build_image(
            &ImageSpec::new("zstd"),
            vec![Layer::new(busybox_tar(), Compression::Zstd)],
        )
    })
}

/// `docker`: Docker schema2 media types, written by our builder.
pub fn docker_image() -> &'static Image {
    static I: OnceLock<Image> = OnceLock::new();
    I.get_or_init(|| {
        let mut spec = ImageSpec::new("docker");
        spec.docker = true;
        build_image(&spec, vec![busybox_layer().clone()])
    })
}

// ---------------------------------------------------------------- shared pushes

/// busybox at `HOST/tools/busybox:1` (pushed once per test binary).
pub fn busybox() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| pushed_image(registry(), "tools/busybox", "1", busybox_image()))
}

pub fn layers() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| pushed_image(registry(), "fixtures/layers", "1", layers_image()))
}

pub fn multi() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| {
        let idx = multi_index();
        push_index(registry(), "fixtures/multi", "1", idx);
        Pushed {
            host: registry().host.clone(),
            repo: "fixtures/multi".into(),
            tag: "1".into(),
            digest: idx.digest.clone(),
            images: idx.images.clone(),
        }
    })
}

pub fn zstd() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| pushed_image(registry(), "fixtures/zstd", "1", zstd_image()))
}

/// The docker fixture pushed by our pusher.
pub fn docker() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| pushed_image(registry(), "fixtures/docker", "1", docker_image()))
}

/// An OCI-built image converted to Docker schema2 and pushed by skopeo; what
/// we record is read back from the registry (skopeo may rewrite manifests).
pub fn skopeo_docker() -> &'static Pushed {
    static P: OnceLock<Pushed> = OnceLock::new();
    P.get_or_init(|| {
        let reg = registry();
        let img = build_image(&ImageSpec::new("skopeo"), vec![busybox_layer().clone()]);
        let layout = base_dir().join(unique("oci-layout"));
        mkdir_mode(&layout, 0o755);
        write_oci_layout(&layout, "1", &img);
        let repo = "fixtures/skopeo-docker";
        skopeo_push(reg, &layout, "1", repo, Some("v2s2"));
        let _ = std::fs::remove_dir_all(&layout);
        let (manifest, media_type) = fetch_manifest(reg, repo, "1");
        let m: Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(
            m["mediaType"], DOCKER_MANIFEST,
            "skopeo --format v2s2 should store a schema2 manifest"
        );
        let config_digest = m["config"]["digest"].as_str().unwrap().to_string();
        let config = fetch_blob(reg, repo, &config_digest);
        let layers = m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .zip(img.layers.iter())
            .map(|(d, l)| Layer {
                media_type: d["mediaType"].as_str().unwrap().into(),
                ..l.clone()
            })
            .collect();
        let image = Image {
            manifest_digest: sha256_digest(&manifest),
            config,
            config_digest,
            layers,
            manifest,
            media_type,
            platform: "linux/amd64".into(),
        };
        Pushed {
            host: reg.host.clone(),
            repo: repo.into(),
            tag: "1".into(),
            digest: image.manifest_digest.clone(),
            images: vec![image],
        }
    })
}

// ---------------------------------------------------------------- per-test pushes

/// Push `img` under a fresh repository (for tests that need isolation).
pub fn push_unique(img: &Image, prefix: &str) -> Pushed {
    pushed_image(registry(), &unique(&format!("iso/{prefix}")), "1", img)
}

pub fn push_unique_to(reg: &Registry, img: &Image, prefix: &str) -> Pushed {
    pushed_image(reg, &unique(&format!("iso/{prefix}")), "1", img)
}

/// busybox plus a small layer no other image has, so its blob can be
/// corrupted in the registry without harming other tests.
pub fn unique_image(name: &str) -> Image {
    let mut t = TarBuilder::new();
    // random-ish content of a fixed size, unique to this name
    let mut content = Vec::new();
    let mut x: u64 = name.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    for _ in 0..16384 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        content.push(x as u8);
    }
    t.file("etc/unique", name.as_bytes(), 0o644, 0, 0)
        .file("etc/noise", &content, 0o644, 0, 0);
    build_image(
        &ImageSpec::new(name),
        vec![
            busybox_layer().clone(),
            Layer::new(&t.finish(), Compression::Gzip),
        ],
    )
}

/// One-layer image with a given (possibly hostile) layer.
pub fn single_layer_image(name: &str, layer: Layer) -> Image {
    build_image(&ImageSpec::new(name), vec![layer])
}

/// The marker a hostile layer tries to create on the host (must never exist).
pub fn pwned_marker(tag: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/{}", unique(&format!("pwned-{tag}"))))
}

/// Hostile layers. Each returns the layer; `marker` is the host path an unsafe
/// unpacker would create.
pub mod hostile {
    use super::*;

    const UP: &str = "../../../../../../../../../../../..";

    /// A regular file entry named `../../…/tmp/pwned-…`.
    pub fn dotdot(marker: &std::path::Path) -> Layer {
        let mut t = TarBuilder::new();
        t.file("ok.txt", b"fine\n", 0o644, 0, 0);
        t.raw(
            tar::EntryType::Regular,
            &format!("{UP}{}", marker.display()),
            None,
            b"pwned\n",
        );
        Layer::new(&t.finish(), Compression::Gzip)
    }

    /// `evil -> ../../…/tmp` then `evil/pwned-…`: writing through the link.
    pub fn symlink_escape(marker: &std::path::Path) -> Layer {
        let mut t = TarBuilder::new();
        t.symlink(
            "evil",
            &format!("{UP}{}", marker.parent().unwrap().display()),
        );
        let name = format!("evil/{}", marker.file_name().unwrap().to_string_lossy());
        t.raw(tar::EntryType::Regular, &name, None, b"pwned\n");
        Layer::new(&t.finish(), Compression::Gzip)
    }

    /// A hardlink to a host file outside the layer (`../../…/etc/passwd`).
    pub fn hardlink_escape() -> Layer {
        let mut t = TarBuilder::new();
        t.file("ok.txt", b"fine\n", 0o644, 0, 0);
        t.raw(
            tar::EntryType::Link,
            "passwd-link",
            Some(&format!("{UP}/etc/passwd")),
            b"",
        );
        Layer::new(&t.finish(), Compression::Gzip)
    }
}
