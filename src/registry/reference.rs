//! Image references (`registry/repo[:tag][@digest]`), parsed and normalized the
//! way docker and podman do: `busybox` is short, `docker.io/busybox` means
//! `docker.io/library/busybox`, `index.docker.io` means `docker.io`.

use crate::storage::digest::Digest;
use anyhow::{anyhow, bail, Result};
use std::fmt;

pub const DOCKER_HUB: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

const NAME_TOTAL_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// A fully qualified image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// What the user typed: either names a registry or needs short-name resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedName {
    Qualified(Reference),
    Short {
        /// As typed (`busybox`, `library/busybox`); qualifying adds `library/`
        /// only for Docker Hub.
        repository: String,
        tag: Option<String>,
        digest: Option<Digest>,
    },
}

impl ParsedName {
    /// Qualify a short name with `registry` (a search registry), or return
    /// the qualified reference as is. Applies the default tag.
    pub fn qualify(&self, registry: &str) -> Reference {
        match self {
            ParsedName::Qualified(r) => r.clone(),
            ParsedName::Short {
                repository,
                tag,
                digest,
            } => Reference::new(registry, repository, tag.clone(), digest.clone()),
        }
    }

    #[cfg(test)]
    pub fn is_short(&self) -> bool {
        matches!(self, ParsedName::Short { .. })
    }
}

/// `latest` when neither a tag nor a digest was given; otherwise `tag` unchanged.
pub fn default_tag(tag: Option<String>, digest: Option<&Digest>) -> Option<String> {
    match (tag, digest) {
        (None, None) => Some(DEFAULT_TAG.to_string()),
        (tag, _) => tag,
    }
}

impl Reference {
    /// Build a reference, normalizing Docker Hub's names and defaulting the tag.
    /// The parts are assumed valid (they come from [`parse_name`] or a registry).
    pub fn new(
        registry: &str,
        repository: &str,
        tag: Option<String>,
        digest: Option<Digest>,
    ) -> Reference {
        let registry = normalize_registry(registry);
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        let tag = default_tag(tag, digest.as_ref());
        Reference {
            registry,
            repository,
            tag,
            digest,
        }
    }

    /// Parse and qualify: a short name is taken to be on Docker Hub
    /// (`busybox` -> `docker.io/library/busybox:latest`).
    pub fn parse(s: &str) -> Result<Reference> {
        let r = parse_name(s)?.qualify(DOCKER_HUB);
        // The limit holds for the name as qualified (docker's
        // ParseNormalizedNamed): `docker.io/library/` may push it over.
        if r.repo_name().len() > NAME_TOTAL_MAX {
            return Err(format_error(&format!(
                "repository name must not be more than {NAME_TOTAL_MAX} characters"
            )));
        }
        Ok(r)
    }

    /// `docker.io/library/busybox`.
    pub fn repo_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to put in `/v2/<repo>/manifests/<ref>`: the digest when known.
    pub fn reference_str(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    #[cfg(test)]
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    #[cfg(test)]
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Reference> {
        Reference::parse(s)
    }
}

fn normalize_registry(registry: &str) -> String {
    if registry == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        registry.to_string()
    }
}

fn format_error(why: &str) -> anyhow::Error {
    if why.is_empty() {
        anyhow!("invalid reference format")
    } else {
        anyhow!("invalid reference format: {why}")
    }
}

/// Parse an image name as docker/podman accept it on the command line.
pub fn parse_name(s: &str) -> Result<ParsedName> {
    if s.is_empty() {
        return Err(format_error(
            "repository name must have at least one component",
        ));
    }
    // A bare 64-hex string is an image id, never a repository name.
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("invalid repository name ({s}), cannot specify 64-byte hexadecimal strings");
    }

    let (name, digest) = match s.split_once('@') {
        Some((name, d)) => {
            let digest = Digest::parse(d).map_err(|e| format_error(&e.to_string()))?;
            (name, Some(digest))
        }
        None => (s, None),
    };
    // The tag is after the last ':' that follows the last '/' (a port's ':' is before it).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&name[..at], Some(name[at + 1..].to_string()))
        }
        None => (name, None),
    };
    if let Some(t) = &tag {
        validate_tag(t)?;
    }
    if name.is_empty() {
        return Err(format_error(""));
    }
    if name.len() > NAME_TOTAL_MAX {
        return Err(format_error(&format!(
            "repository name must not be more than {NAME_TOTAL_MAX} characters"
        )));
    }

    let (registry, path) = split_registry(name);
    validate_path(path)?;
    match registry {
        Some(reg) => {
            validate_domain(reg)?;
            // Qualified names get the default tag right away (in Reference::new).
            Ok(ParsedName::Qualified(Reference::new(
                reg, path, tag, digest,
            )))
        }
        None => Ok(ParsedName::Short {
            repository: path.to_string(),
            tag,
            digest,
        }),
    }
}

/// The first component names a registry when it looks like a host:
/// it has a '.' or a ':' (port), or is `localhost`.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn validate_tag(tag: &str) -> Result<()> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = !tag.is_empty()
        && tag.len() <= TAG_MAX
        && word(tag.as_bytes()[0])
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format_error(""))
    }
}

/// Path components: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn validate_path(path: &str) -> Result<()> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format_error("repository name must be lowercase"));
    }
    for comp in path.split('/') {
        if !valid_path_component(comp) {
            return Err(format_error(""));
        }
    }
    Ok(())
}

fn valid_path_component(comp: &str) -> bool {
    let b = comp.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or "-"+, followed by alnum.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &comp[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]` where host is dotted labels or a bracketed IPv6 address.
fn validate_domain(domain: &str) -> Result<()> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(format_error(""));
        };
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(format_error(""));
        }
        match after.strip_prefix(':') {
            Some(p) => ("v6", Some(p)),
            None if after.is_empty() => ("v6", None),
            None => return Err(format_error("")),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format_error(""));
        }
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    if !host.split('.').all(label_ok) {
        return Err(format_error(""));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_limit_holds_once_qualified() {
        // Found by fuzzing: 246 characters parse, their qualified form
        // (docker.io/library/...) did not parse back.
        let short = "a".repeat(246);
        assert!(parse_name(&short).is_ok());
        let e = Reference::parse(&short).unwrap_err().to_string();
        assert!(e.contains("must not be more than 255"), "{e}");
        let fits = "a".repeat(255 - "docker.io/library/".len());
        let r = Reference::parse(&fits).unwrap();
        assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn q(s: &str) -> Reference {
        match parse_name(s).unwrap() {
            ParsedName::Qualified(r) => r,
            other => panic!("{s}: expected qualified, got {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        parse_name(s).unwrap_err().to_string()
    }

    #[test]
    fn short_names_stay_short() {
        assert_eq!(
            parse_name("busybox").unwrap(),
            ParsedName::Short {
                repository: "busybox".into(),
                tag: None,
                digest: None
            }
        );
        assert_eq!(
            parse_name("library/busybox:1.36").unwrap(),
            ParsedName::Short {
                repository: "library/busybox".into(),
                tag: Some("1.36".into()),
                digest: None
            }
        );
        let p = parse_name("busybox").unwrap();
        assert!(p.is_short());
        assert_eq!(
            p.qualify("docker.io").to_string(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(p.qualify("quay.io").to_string(), "quay.io/busybox:latest");
    }

    #[test]
    fn reference_parse_defaults_to_docker_hub() {
        assert_eq!(
            Reference::parse("busybox").unwrap().to_string(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            Reference::parse("library/busybox").unwrap().to_string(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            Reference::parse("foo/bar:1").unwrap().to_string(),
            "docker.io/foo/bar:1"
        );
    }

    #[test]
    fn docker_hub_normalization() {
        let r = q("docker.io/busybox");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.repo_name(), "docker.io/library/busybox");
        assert_eq!(
            q("index.docker.io/busybox:1").to_string(),
            "docker.io/library/busybox:1"
        );
        assert_eq!(
            q("docker.io/foo/bar").to_string(),
            "docker.io/foo/bar:latest"
        );
        // Only Docker Hub gets library/.
        assert_eq!(q("quay.io/busybox").to_string(), "quay.io/busybox:latest");
    }

    #[test]
    fn registries_with_ports_and_localhost() {
        let r = q("localhost/x");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost", "x")
        );
        let r = q("127.0.0.1:5000/a/b:1");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.reference_str(), "1");
        assert_eq!(r.to_string(), "127.0.0.1:5000/a/b:1");
        assert_eq!(q("localhost:5000/a").to_string(), "localhost:5000/a:latest");
        assert_eq!(q("[::1]:5000/a:t").registry, "[::1]:5000");
        // A first component without '.', ':' or "localhost" is a namespace.
        assert!(parse_name("host/a").unwrap().is_short());
        // A port-less name with a colon is a tag: "localhost:5000" alone is short.
        assert!(parse_name("localhost:5000").unwrap().is_short());
    }

    #[test]
    fn digests() {
        let s = format!("a@sha256:{HEX}");
        match parse_name(&s).unwrap() {
            ParsedName::Short {
                repository,
                tag,
                digest,
            } => {
                assert_eq!(repository, "a");
                assert_eq!(tag, None);
                assert_eq!(digest.unwrap().hex(), HEX);
            }
            other => panic!("{other:?}"),
        }
        let r = Reference::parse(&s).unwrap();
        assert_eq!(r.tag, None, "a digest means no default tag");
        assert_eq!(r.to_string(), format!("docker.io/library/a@sha256:{HEX}"));
        assert_eq!(r.reference_str(), format!("sha256:{HEX}"));

        let r = Reference::parse(&format!("host.io/a:t@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.to_string(), format!("host.io/a:t@sha256:{HEX}"));
        assert_eq!(
            r.reference_str(),
            format!("sha256:{HEX}"),
            "digest preferred"
        );

        let r = Reference::parse(&format!("host:5000/a/b@sha256:{HEX}")).unwrap();
        assert_eq!(r.to_string(), format!("host:5000/a/b@sha256:{HEX}"));

        assert!(parse_name("a@sha256:1234").is_err());
        assert!(parse_name(&format!("a@md5:{HEX}")).is_err());
    }

    #[test]
    fn with_tag_and_digest() {
        let r = Reference::parse("x.io/a:1").unwrap();
        let d = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        assert_eq!(
            r.with_digest(d.clone()).to_string(),
            format!("x.io/a:1@sha256:{HEX}")
        );
        assert_eq!(r.with_tag("2").to_string(), "x.io/a:2");
        assert_eq!(default_tag(None, None).as_deref(), Some("latest"));
        assert_eq!(default_tag(None, Some(&d)), None);
        assert_eq!(default_tag(Some("x".into()), None).as_deref(), Some("x"));
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(
            err("Busybox"),
            "invalid reference format: repository name must be lowercase"
        );
        assert_eq!(
            err("quay.io/Foo/bar"),
            "invalid reference format: repository name must be lowercase"
        );
        assert_eq!(
            err(""),
            "invalid reference format: repository name must have at least one component"
        );
        assert_eq!(err(":tag"), "invalid reference format");
        assert_eq!(err("a:"), "invalid reference format");
        assert_eq!(err("a:-x"), "invalid reference format");
        assert_eq!(err("a:t/x"), "invalid reference format");
        assert!(parse_name(&format!("a:{}", "x".repeat(129))).is_err());
        assert!(parse_name(&format!("a:{}", "x".repeat(128))).is_ok());
        assert_eq!(err("a//b"), "invalid reference format");
        assert_eq!(err("a/"), "invalid reference format");
        assert_eq!(err("-a"), "invalid reference format");
        assert_eq!(err("a..b"), "invalid reference format");
        assert_eq!(err("a___b"), "invalid reference format");
        assert_eq!(err("a b"), "invalid reference format");
        assert_eq!(err("host:port/a"), "invalid reference format");
        assert_eq!(err("bad_host.io/a"), "invalid reference format");
        assert!(err(HEX).contains("cannot specify 64-byte hexadecimal strings"));
        assert!(err(&"a".repeat(256)).contains("must not be more than 255 characters"));
    }

    #[test]
    fn accepts_separators() {
        for ok in [
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "a1/b2/c3",
            "my.reg-1.io:443/x_y/z",
        ] {
            parse_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }
}
