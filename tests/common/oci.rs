//! A small OCI / Docker image builder and registry pusher, written in test
//! code on purpose: it shares nothing with coracle, so it is an independent
//! check of what coracle reads.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::registry::Registry;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Fixed times so fixtures are reproducible (content-derived ids stay put).
pub const FIXTURE_CREATED: &str = "2024-01-01T00:00:00Z";
pub const FIXTURE_CREATED_UNIX: i64 = 1_704_067_200;
pub const FIXTURE_MTIME: u64 = 1_700_000_000;

pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

// ---------------------------------------------------------------- tar layers

/// Builds a layer tar with explicit owners, modes and times.
pub struct TarBuilder {
    b: tar::Builder<Vec<u8>>,
}

impl Default for TarBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TarBuilder {
    pub fn new() -> Self {
        TarBuilder {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, uid: u64, gid: u64, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_size(size);
        h.set_mtime(FIXTURE_MTIME);
        h
    }

    pub fn dir(&mut self, path: &str, mode: u32, uid: u64, gid: u64) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, uid, gid, 0);
        self.b.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn file(&mut self, path: &str, content: &[u8], mode: u32, uid: u64, gid: u64) -> &mut Self {
        self.file_mtime(path, content, mode, uid, gid, FIXTURE_MTIME)
    }

    pub fn file_mtime(
        &mut self,
        path: &str,
        content: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
    ) -> &mut Self {
        let mut h = Self::header(
            tar::EntryType::Regular,
            mode,
            uid,
            gid,
            content.len() as u64,
        );
        h.set_mtime(mtime);
        self.b.append_data(&mut h, path, content).unwrap();
        self
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0, 0, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    /// A hardlink entry: `path` is another name of the earlier entry `target`.
    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0, 0, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn fifo(&mut self, path: &str, mode: u32) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Fifo, mode, 0, 0, 0);
        self.b.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    /// An entry whose name (and link name) bytes are written verbatim, so it
    /// can hold what the tar crate refuses to write (`..` components).
    pub fn raw(
        &mut self,
        kind: tar::EntryType,
        name: &str,
        link: Option<&str>,
        content: &[u8],
    ) -> &mut Self {
        let mut h = Self::header(kind, 0o644, 0, 0, content.len() as u64);
        {
            let old = h.as_old_mut();
            assert!(name.len() < 100);
            old.name = [0; 100];
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                old.linkname = [0; 100];
                old.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_cksum();
        self.b.append(&h, content).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

// ---------------------------------------------------------------- images

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

#[derive(Clone, Debug)]
pub struct Layer {
    pub media_type: String,
    pub blob: Vec<u8>,
    pub digest: String,
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
}

impl Layer {
    pub fn new(tar: &[u8], compression: Compression) -> Layer {
        let (blob, media_type) = match compression {
            Compression::None => (tar.to_vec(), OCI_LAYER),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(tar).unwrap();
                (e.finish().unwrap(), OCI_LAYER_GZIP)
            }
            Compression::Zstd => (zstd::encode_all(tar, 3).unwrap(), OCI_LAYER_ZSTD),
        };
        Layer {
            media_type: media_type.into(),
            digest: sha256_digest(&blob),
            diff_id: sha256_digest(tar),
            blob,
        }
    }

    pub fn with_media_type(mut self, media_type: &str) -> Layer {
        self.media_type = media_type.into();
        self
    }

    fn descriptor(&self) -> Value {
        json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.blob.len() })
    }
}

#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub arch: &'static str,
    pub variant: Option<&'static str>,
    pub labels: Vec<(String, String)>,
    pub cmd: Vec<String>,
    /// Docker schema2 media types instead of OCI.
    pub docker: bool,
}

impl ImageSpec {
    pub fn new(name: &str) -> ImageSpec {
        ImageSpec {
            arch: "amd64",
            variant: None,
            labels: vec![("org.coracle.fixture".into(), name.into())],
            cmd: vec!["sh".into()],
            docker: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Image {
    pub config: Vec<u8>,
    pub config_digest: String,
    pub layers: Vec<Layer>,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
    pub media_type: String,
    pub platform: String,
}

impl Image {
    /// The image id podman and coracle show: the config digest's hex.
    pub fn id(&self) -> String {
        hex_of(&self.config_digest).to_string()
    }
    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.diff_id.clone()).collect()
    }
}

pub fn config_json(spec: &ImageSpec, layers: &[Layer]) -> Value {
    let labels: serde_json::Map<String, Value> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let history: Vec<Value> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "created": FIXTURE_CREATED,
                "created_by": format!("/bin/sh -c #(nop) ADD layer{i} {}", &hex_of(&l.diff_id)[..12]),
                "comment": format!("fixture layer {i}"),
            })
        })
        .collect();
    let mut cfg = json!({
        "created": FIXTURE_CREATED,
        "architecture": spec.arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": spec.cmd,
            "Labels": labels,
            "WorkingDir": "/",
        },
        "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>() },
        "history": history,
    });
    if let Some(v) = spec.variant {
        cfg["variant"] = json!(v);
    }
    cfg
}

pub fn build_image(spec: &ImageSpec, layers: Vec<Layer>) -> Image {
    let config = serde_json::to_vec(&config_json(spec, &layers)).unwrap();
    build_image_with_config(spec, layers, config)
}

/// An image with the given config bytes (which may be anything, even broken).
pub fn build_image_with_config(spec: &ImageSpec, layers: Vec<Layer>, config: Vec<u8>) -> Image {
    let config_digest = sha256_digest(&config);
    let (media_type, config_type) = if spec.docker {
        (DOCKER_MANIFEST, DOCKER_CONFIG)
    } else {
        (OCI_MANIFEST, OCI_CONFIG)
    };
    let layer_descs: Vec<Value> = layers
        .iter()
        .map(|l| {
            let mut d = l.descriptor();
            if spec.docker && l.media_type == OCI_LAYER_GZIP {
                d["mediaType"] = json!(DOCKER_LAYER_GZIP);
            }
            d
        })
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": { "mediaType": config_type, "digest": config_digest, "size": config.len() },
        "layers": layer_descs,
    }))
    .unwrap();
    let platform = match spec.variant {
        Some(v) => format!("linux/{}/{v}", spec.arch),
        None => format!("linux/{}", spec.arch),
    };
    Image {
        manifest_digest: sha256_digest(&manifest),
        config,
        config_digest,
        layers,
        manifest,
        media_type: media_type.into(),
        platform,
    }
}

#[derive(Clone, Debug)]
pub struct Index {
    pub manifest: Vec<u8>,
    pub digest: String,
    pub media_type: String,
    pub images: Vec<Image>,
}

pub fn build_index(images: Vec<Image>, docker: bool) -> Index {
    let media_type = if docker { DOCKER_LIST } else { OCI_INDEX };
    let manifests: Vec<Value> = images
        .iter()
        .map(|img| {
            let cfg: Value = serde_json::from_slice(&img.config).unwrap();
            let mut platform = json!({ "architecture": cfg["architecture"], "os": cfg["os"] });
            if let Some(v) = cfg.get("variant") {
                platform["variant"] = v.clone();
            }
            json!({ "mediaType": img.media_type, "digest": img.manifest_digest, "size": img.manifest.len(), "platform": platform })
        })
        .collect();
    let manifest = serde_json::to_vec(
        &json!({ "schemaVersion": 2, "mediaType": media_type, "manifests": manifests }),
    )
    .unwrap();
    Index {
        digest: sha256_digest(&manifest),
        manifest,
        media_type: media_type.into(),
        images,
    }
}

// ---------------------------------------------------------------- pushing

pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .build()
        .into()
}

fn with_auth<B>(req: ureq::RequestBuilder<B>, reg: &Registry) -> ureq::RequestBuilder<B> {
    match reg.basic_auth() {
        Some(a) => req.header("Authorization", a),
        None => req,
    }
}

/// Upload a blob with the distribution API (POST uploads, then PUT ?digest=).
pub fn push_blob(reg: &Registry, repo: &str, data: &[u8]) -> String {
    let digest = sha256_digest(data);
    let agent = http_agent();
    let resp = with_auth(
        agent.post(&format!("http://{}/v2/{repo}/blobs/uploads/", reg.host)),
        reg,
    )
    .send_empty()
    .expect("POST blob upload");
    assert_eq!(
        resp.status().as_u16(),
        202,
        "starting a blob upload to {repo}"
    );
    let loc = resp
        .headers()
        .get("Location")
        .expect("upload Location")
        .to_str()
        .unwrap()
        .to_string();
    let loc = if loc.starts_with('/') {
        format!("http://{}{loc}", reg.host)
    } else {
        loc
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let resp = with_auth(agent.put(&format!("{loc}{sep}digest={digest}")), reg)
        .header("Content-Type", "application/octet-stream")
        .send(data)
        .expect("PUT blob");
    assert_eq!(
        resp.status().as_u16(),
        201,
        "finishing blob upload {digest} to {repo}"
    );
    digest
}

pub fn push_manifest(reg: &Registry, repo: &str, reference: &str, media_type: &str, body: &[u8]) {
    let mut resp = with_auth(
        http_agent().put(&format!(
            "http://{}/v2/{repo}/manifests/{reference}",
            reg.host
        )),
        reg,
    )
    .header("Content-Type", media_type)
    .send(body)
    .expect("PUT manifest");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(status, 201, "pushing manifest {repo}:{reference}: {text}");
}

pub fn push_image(reg: &Registry, repo: &str, tag: &str, img: &Image) {
    for l in &img.layers {
        push_blob(reg, repo, &l.blob);
    }
    push_blob(reg, repo, &img.config);
    push_manifest(reg, repo, tag, &img.media_type, &img.manifest);
}

pub fn push_index(reg: &Registry, repo: &str, tag: &str, idx: &Index) {
    for img in &idx.images {
        push_image(reg, repo, &img.manifest_digest, img);
    }
    push_manifest(reg, repo, tag, &idx.media_type, &idx.manifest);
}

/// GET a manifest back (what the registry really serves).
pub fn fetch_manifest(reg: &Registry, repo: &str, reference: &str) -> (Vec<u8>, String) {
    let accept = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", ");
    let mut resp = with_auth(
        http_agent().get(&format!(
            "http://{}/v2/{repo}/manifests/{reference}",
            reg.host
        )),
        reg,
    )
    .header("Accept", accept)
    .call()
    .expect("GET manifest");
    assert_eq!(
        resp.status().as_u16(),
        200,
        "fetching manifest {repo}:{reference}"
    );
    let ct = resp
        .headers()
        .get("Content-Type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (resp.body_mut().read_to_vec().unwrap(), ct)
}

pub fn fetch_blob(reg: &Registry, repo: &str, digest: &str) -> Vec<u8> {
    let mut resp = with_auth(
        http_agent().get(&format!("http://{}/v2/{repo}/blobs/{digest}", reg.host)),
        reg,
    )
    .call()
    .expect("GET blob");
    assert_eq!(resp.status().as_u16(), 200, "fetching blob {repo}@{digest}");
    resp.body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap()
}

/// Write an OCI image layout (oci-layout, index.json, blobs/sha256/...).
pub fn write_oci_layout(dir: &Path, tag: &str, img: &Image) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| std::fs::write(blobs.join(hex_of(&sha256_digest(data))), data).unwrap();
    for l in &img.layers {
        put(&l.blob);
    }
    put(&img.config);
    put(&img.manifest);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": img.media_type, "digest": img.manifest_digest, "size": img.manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": tag }
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Copy an OCI layout into the registry with skopeo (an interop check:
/// another tool's pusher, and its own conversion when `format` is given).
pub fn skopeo_push(reg: &Registry, layout: &Path, tag: &str, repo: &str, format: Option<&str>) {
    let mut cmd = Command::new("skopeo");
    cmd.args([
        "--insecure-policy",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
    ]);
    if let Some(f) = format {
        cmd.args(["--format", f]);
    }
    if let (Some(u), Some(p)) = (&reg.user, &reg.pass) {
        cmd.arg(format!("--dest-creds={u}:{p}"));
    }
    cmd.arg(format!("oci:{}:{tag}", layout.display()));
    cmd.arg(format!("docker://{}/{repo}:{tag}", reg.host));
    let out = cmd
        .output()
        .expect("running skopeo (Debian package skopeo)");
    assert!(
        out.status.success(),
        "skopeo copy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
