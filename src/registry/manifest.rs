//! OCI and Docker schema2 manifests and indexes: media types, parsing, and
//! choosing the manifest for a platform from an index.

use crate::storage::digest::Digest;
use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_NONDIST_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_NONDIST_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_LAYER_NONDIST_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Schema1 is only named so it can be refused clearly.
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The Accept header for manifest requests: every kind `parse_manifest` reads.
pub const MANIFEST_ACCEPT: [&str; 4] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// Annotation docker buildx puts on attestation manifests in an index.
const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
// Unboxed on purpose: callers match on it directly and it lives briefly.
#[allow(clippy::large_enum_variant)]
pub enum ParsedManifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerCompression {
    None,
    Gzip,
    Zstd,
}

/// How a layer blob of this media type is compressed; unknown types are refused.
pub fn layer_compression(media_type: &str) -> Result<LayerCompression> {
    Ok(match media_type {
        OCI_LAYER_TAR | OCI_LAYER_NONDIST_TAR | DOCKER_LAYER_TAR => LayerCompression::None,
        OCI_LAYER_GZIP | OCI_LAYER_NONDIST_GZIP | DOCKER_LAYER_GZIP | DOCKER_FOREIGN_LAYER => {
            LayerCompression::Gzip
        }
        OCI_LAYER_ZSTD | OCI_LAYER_NONDIST_ZSTD => LayerCompression::Zstd,
        other if other.ends_with("+encrypted") => bail!(
            "layer media type {other:?}: the image is encrypted, and decrypting images (--decryption-key) is not supported by coracle"
        ),
        other => bail!("unsupported layer media type {other:?}"),
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Image,
    Index,
}

fn kind_of(media_type: &str) -> Result<Option<Kind>> {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Ok(Some(Kind::Image)),
        OCI_INDEX | DOCKER_MANIFEST_LIST => Ok(Some(Kind::Index)),
        // Generic types say nothing: look at the document instead.
        "" | "application/json" | "text/plain" | "application/octet-stream" => Ok(None),
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => {
            bail!("unsupported manifest media type {media_type:?} (Docker schema 1 is obsolete)")
        }
        other => bail!("unsupported manifest media type {other:?}"),
    }
}

/// The fields that tell what a document is when no media type says so.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shape {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
    layers: Option<serde_json::Value>,
}

/// Parse a manifest or index. The kind comes from `content_type` (the HTTP
/// header), else the document's own `mediaType`, else its shape.
pub fn parse_manifest(bytes: &[u8], content_type: &str) -> Result<ParsedManifest> {
    let shape: Shape =
        serde_json::from_slice(bytes).map_err(|e| anyhow!("malformed manifest: {e}"))?;
    let header_type = content_type.split(';').next().unwrap_or("").trim();
    let from_header = kind_of(header_type)?;
    let from_doc = match shape.media_type.as_deref() {
        Some(t) => kind_of(t)?,
        None => None,
    };
    let kind = match (from_header, from_doc) {
        (Some(h), Some(d)) if h != d => bail!(
            "manifest media type mismatch: served as {header_type:?}, document says {:?}",
            shape.media_type.as_deref().unwrap_or_default()
        ),
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => {
            if shape.schema_version == Some(1) {
                bail!("unsupported manifest media type {DOCKER_SCHEMA1:?} (Docker schema 1 is obsolete)");
            }
            if shape.manifests.is_some() {
                Kind::Index
            } else if shape.config.is_some() && shape.layers.is_some() {
                Kind::Image
            } else {
                bail!("malformed manifest: neither an image manifest nor an index");
            }
        }
    };
    if shape.schema_version != Some(2) {
        bail!(
            "malformed manifest: schemaVersion {} (expected 2)",
            shape
                .schema_version
                .map_or("missing".to_string(), |v| v.to_string())
        );
    }
    match kind {
        Kind::Image => {
            let m: ImageManifest =
                serde_json::from_slice(bytes).map_err(|e| anyhow!("malformed manifest: {e}"))?;
            for layer in &m.layers {
                layer_compression(&layer.media_type)?;
            }
            Ok(ParsedManifest::Image(m))
        }
        Kind::Index => {
            let i: ImageIndex =
                serde_json::from_slice(bytes).map_err(|e| anyhow!("malformed manifest: {e}"))?;
            Ok(ParsedManifest::Index(i))
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    /// Docker lists' CPU features (`manifest add --features`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Go's architecture names for the aliases people type (uname's among them).
fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        "armhf" | "armel" => "arm",
        a => a,
    }
}

/// A variant in canonical form (`8` -> `v8`), with each arch's default
/// filled in, so that `arm64` and `arm64/v8` compare equal.
fn normalize_variant(arch: &str, variant: Option<&str>) -> String {
    let v = variant.unwrap_or("").to_ascii_lowercase();
    let v = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        format!("v{v}")
    } else {
        v
    };
    match (arch, v.as_str()) {
        ("arm64", "") => "v8".into(),
        ("arm", "") => "v7".into(),
        ("amd64", "") => "v1".into(),
        _ => v,
    }
}

/// `os/arch[/variant]`, as `--platform` takes it.
pub fn parse_platform(s: &str) -> Result<Platform> {
    let parts: Vec<&str> = s.split('/').collect();
    let bad = || anyhow!("invalid platform {s:?}: expected os/arch[/variant]");
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let arch = normalize_arch(&parts[1].to_ascii_lowercase()).to_string();
    let variant = match parts.get(2) {
        Some(v) => Some(normalize_variant(&arch, Some(v))),
        // Spell out arm64's default so errors read like podman's.
        None if arch == "arm64" => Some("v8".into()),
        None if arch == "arm" => Some("v7".into()),
        None => None,
    };
    Ok(Platform {
        architecture: arch,
        os: parts[0].to_ascii_lowercase(),
        variant,
        ..Default::default()
    })
}

/// The platform this binary runs on, in Go's names.
pub fn host_platform() -> Platform {
    let (arch, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "x86" => ("386", None),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
        "powerpc64" => ("ppc64", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        "loongarch64" => ("loong64", None),
        "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
        other => (other, None),
    };
    Platform {
        architecture: arch.to_string(),
        os: std::env::consts::OS.to_string(),
        variant: variant.map(str::to_string),
        ..Default::default()
    }
}

/// Variants that run on `want`'s, best first (an arm v8 CPU runs v7 code...).
fn compatible_variants(arch: &str, want: &str) -> Vec<String> {
    let level = |v: &str| v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok());
    match (arch, level(want)) {
        ("arm", Some(n)) => (5..=n).rev().map(|i| format!("v{i}")).collect(),
        ("amd64", Some(n)) => (1..=n).rev().map(|i| format!("v{i}")).collect(),
        _ => vec![want.to_string()],
    }
}

fn is_attestation(d: &Descriptor) -> bool {
    let annotated = d
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(DOCKER_REFERENCE_TYPE));
    let unknown = d
        .platform
        .as_ref()
        .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown");
    annotated || unknown
}

/// Whether two platforms are one once normalized (`linux/arm64` is
/// `linux/arm64/v8`, `linux/x86_64` is `linux/amd64`).
pub fn same_platform(a: &Platform, b: &Platform) -> bool {
    let (arch_a, arch_b) = (
        normalize_arch(&a.architecture),
        normalize_arch(&b.architecture),
    );
    a.os == b.os
        && arch_a == arch_b
        && normalize_variant(arch_a, a.variant.as_deref())
            == normalize_variant(arch_b, b.variant.as_deref())
}

/// The platforms an index's entries have images for, each once, in order:
/// entries without a platform, attestations, artifacts and `unknown` ones
/// left out.
pub fn image_platforms(entries: &[Descriptor]) -> Vec<Platform> {
    let mut out: Vec<Platform> = Vec::new();
    for d in entries {
        let Some(p) = &d.platform else { continue };
        let unknown = |s: &str| s.is_empty() || s == "unknown";
        if is_attestation(d)
            || d.artifact_type.is_some()
            || unknown(&p.os)
            || unknown(&p.architecture)
        {
            continue;
        }
        if !out.iter().any(|o| same_platform(o, p)) {
            out.push(p.clone());
        }
    }
    out
}

/// The index entry for `want`: os and architecture must match; among
/// compatible variants the closest wins; attestation entries are skipped.
pub fn choose_manifest<'a>(index: &'a ImageIndex, want: &Platform) -> Result<&'a Descriptor> {
    let want_arch = normalize_arch(&want.architecture);
    let want_variant = want
        .variant
        .as_deref()
        .map(|v| normalize_variant(want_arch, Some(v)));
    let mut best: Option<(usize, &Descriptor)> = None;
    for d in index.manifests.iter().filter(|d| !is_attestation(d)) {
        let Some(p) = &d.platform else { continue };
        let arch = normalize_arch(&p.architecture);
        if p.os != want.os || arch != want_arch {
            continue;
        }
        let have = normalize_variant(arch, p.variant.as_deref());
        let rank = match &want_variant {
            Some(w) => match compatible_variants(arch, w).iter().position(|v| *v == have) {
                Some(r) => r,
                None => continue,
            },
            // No variant asked for: take any, preferring the arch's baseline.
            None => usize::from(have != normalize_variant(arch, None)),
        };
        if best.is_none_or(|(r, _)| rank < r) {
            best = Some((rank, d));
        }
    }
    if let Some((_, d)) = best {
        return Ok(d);
    }
    let available: Vec<String> = index
        .manifests
        .iter()
        .filter(|d| !is_attestation(d))
        .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
        .collect();
    bail!(
        "no image found in image index for architecture {}, variant {:?}, OS {} (available: {})",
        want.architecture,
        want.variant.as_deref().unwrap_or(""),
        want.os,
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn digest(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn image_json(layer_type: &str) -> serde_json::Value {
        json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest(1), "size": 10},
            "layers": [{"mediaType": layer_type, "digest": digest(2), "size": 20,
                        "annotations": {"a": "b"}}]
        })
    }

    fn entry(os: &str, arch: &str, variant: Option<&str>, n: u8) -> serde_json::Value {
        let mut p = json!({"os": os, "architecture": arch});
        if let Some(v) = variant {
            p["variant"] = json!(v);
        }
        json!({"mediaType": OCI_MANIFEST, "digest": digest(n), "size": 100, "platform": p})
    }

    fn index(entries: Vec<serde_json::Value>) -> ImageIndex {
        let doc = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        match parse_manifest(doc.to_string().as_bytes(), OCI_INDEX).unwrap() {
            ParsedManifest::Index(i) => i,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_image_manifest() {
        let bytes = image_json(OCI_LAYER_GZIP).to_string();
        let ParsedManifest::Image(m) = parse_manifest(bytes.as_bytes(), OCI_MANIFEST).unwrap()
        else {
            panic!()
        };
        assert_eq!(m.config.size, 10);
        assert_eq!(m.layers[0].digest.to_string(), digest(2));
        assert_eq!(m.layers[0].annotations.as_ref().unwrap()["a"], "b");
        // Round trip keeps OCI names and omits absent fields.
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(back["layers"][0]["mediaType"], OCI_LAYER_GZIP);
        assert!(back["layers"][0].get("platform").is_none());
    }

    #[test]
    fn kind_from_header_document_or_shape() {
        let bytes = image_json(DOCKER_LAYER_GZIP).to_string();
        for ct in [
            OCI_MANIFEST,
            "application/json",
            "",
            "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
        ] {
            assert!(
                matches!(
                    parse_manifest(bytes.as_bytes(), ct).unwrap(),
                    ParsedManifest::Image(_)
                ),
                "{ct}"
            );
        }
        let mut doc = image_json(OCI_LAYER_TAR);
        doc.as_object_mut().unwrap().remove("mediaType");
        let bytes = doc.to_string();
        assert!(matches!(
            parse_manifest(bytes.as_bytes(), "").unwrap(),
            ParsedManifest::Image(_)
        ));
        let idx = json!({"schemaVersion": 2, "manifests": []}).to_string();
        assert!(matches!(
            parse_manifest(idx.as_bytes(), "application/json").unwrap(),
            ParsedManifest::Index(_)
        ));
        assert!(matches!(
            parse_manifest(idx.as_bytes(), DOCKER_MANIFEST_LIST).unwrap(),
            ParsedManifest::Index(_)
        ));
    }

    #[test]
    fn refuses_unknown_and_broken() {
        let bytes = image_json(OCI_LAYER_GZIP).to_string();
        let e = parse_manifest(bytes.as_bytes(), "application/x-weird")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported manifest media type \"application/x-weird\""),
            "{e}"
        );
        let e = parse_manifest(bytes.as_bytes(), DOCKER_SCHEMA1_SIGNED)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported manifest media type") && e.contains("v1+prettyjws"),
            "{e}"
        );
        let s1 = json!({"schemaVersion": 1, "name": "x", "fsLayers": []}).to_string();
        assert!(parse_manifest(s1.as_bytes(), "")
            .unwrap_err()
            .to_string()
            .contains("schema 1"));
        let e = parse_manifest(b"{not json", OCI_MANIFEST)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("malformed manifest: "), "{e}");
        let e = parse_manifest(bytes.as_bytes(), OCI_INDEX)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mismatch"), "{e}");
        let bad_layer = image_json("application/x-foo").to_string();
        let e = parse_manifest(bad_layer.as_bytes(), OCI_MANIFEST)
            .unwrap_err()
            .to_string();
        assert!(e.contains("application/x-foo"), "{e}");
        let no_config =
            json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).to_string();
        assert!(parse_manifest(no_config.as_bytes(), "")
            .unwrap_err()
            .to_string()
            .starts_with("malformed manifest"));
    }

    #[test]
    fn layer_compressions() {
        assert_eq!(
            layer_compression(OCI_LAYER_TAR).unwrap(),
            LayerCompression::None
        );
        assert_eq!(
            layer_compression(OCI_LAYER_NONDIST_GZIP).unwrap(),
            LayerCompression::Gzip
        );
        assert_eq!(
            layer_compression(DOCKER_LAYER_GZIP).unwrap(),
            LayerCompression::Gzip
        );
        assert_eq!(
            layer_compression(DOCKER_FOREIGN_LAYER).unwrap(),
            LayerCompression::Gzip
        );
        assert_eq!(
            layer_compression(OCI_LAYER_ZSTD).unwrap(),
            LayerCompression::Zstd
        );
        assert!(layer_compression("application/vnd.oci.image.layer.v1.tar+bzip2").is_err());
    }

    #[test]
    fn platforms() {
        let p = parse_platform("linux/arm64/v8").unwrap();
        assert_eq!(
            (p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()),
            ("linux", "arm64", Some("v8"))
        );
        assert_eq!(
            parse_platform("linux/arm64").unwrap().variant.as_deref(),
            Some("v8")
        );
        assert_eq!(
            parse_platform("linux/arm/7").unwrap().variant.as_deref(),
            Some("v7")
        );
        assert_eq!(
            parse_platform("linux/x86_64").unwrap().architecture,
            "amd64"
        );
        assert_eq!(parse_platform("linux/amd64").unwrap().variant, None);
        assert!(parse_platform("linux").is_err());
        assert!(parse_platform("linux//v8").is_err());
        assert!(parse_platform("a/b/c/d").is_err());
        let host = host_platform();
        assert_eq!(host.os, "linux");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(host.architecture, "amd64");
        }
        let json = serde_json::to_value(Platform {
            os_version: Some("10".into()),
            os_features: Some(vec!["sse4".into()]),
            ..parse_platform("windows/amd64").unwrap()
        })
        .unwrap();
        assert_eq!(json["os.version"], "10");
        assert_eq!(json["os.features"][0], "sse4");
    }

    #[test]
    fn chooses_by_platform() {
        let idx = index(vec![
            entry("linux", "amd64", None, 1),
            entry("linux", "arm", Some("v6"), 2),
            entry("linux", "arm", Some("v7"), 3),
            entry("linux", "arm64", Some("v8"), 4),
            entry("windows", "amd64", None, 5),
            entry("unknown", "unknown", None, 6),
        ]);
        let pick = |s: &str| {
            choose_manifest(&idx, &parse_platform(s).unwrap())
                .unwrap()
                .digest
                .to_string()
        };
        assert_eq!(pick("linux/amd64"), digest(1));
        assert_eq!(pick("linux/arm64"), digest(4));
        assert_eq!(pick("linux/arm64/v8"), digest(4));
        assert_eq!(pick("linux/arm/v7"), digest(3));
        assert_eq!(pick("linux/arm/v8"), digest(3), "v8 runs v7, the closest");
        assert_eq!(pick("linux/arm/v6"), digest(2));
        assert_eq!(pick("windows/amd64"), digest(5));
        assert!(choose_manifest(&idx, &parse_platform("linux/arm/v5").unwrap()).is_err());

        // arm64 without a variant in the index is v8.
        let idx2 = index(vec![entry("linux", "arm64", None, 7)]);
        assert_eq!(
            choose_manifest(&idx2, &parse_platform("linux/arm64/v8").unwrap())
                .unwrap()
                .digest
                .to_string(),
            digest(7)
        );
    }

    #[test]
    fn skips_attestations_and_lists_platforms() {
        let mut att = entry("linux", "arm64", None, 9);
        att["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest"});
        let idx = index(vec![
            att,
            entry("linux", "amd64", None, 1),
            entry("linux", "arm", Some("v7"), 3),
        ]);
        let e = choose_manifest(&idx, &parse_platform("linux/arm64").unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "no image found in image index for architecture arm64, variant \"v8\", OS linux \
             (available: linux/amd64, linux/arm/v7)"
        );
    }
}
