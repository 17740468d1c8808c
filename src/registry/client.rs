//! An OCI distribution (registry v2) client: manifests and blobs, with
//! token/basic auth, retries, and podman's TLS rules for insecure registries.

use super::auth::{lookup_credentials, Credentials};
use super::manifest::MANIFEST_ACCEPT;
use super::reference::DOCKER_HUB;
use super::shortnames::registry_is_insecure;
use crate::storage::digest::Digest;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use ureq::http::Response;
use ureq::{Agent, Body};

/// Refuse manifests bigger than this: real ones are a few KiB.
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// Error bodies and token responses are small; don't read more.
const MAX_SMALL_BODY: u64 = 1 << 20;
/// Retries after the first try, on connection errors, timeouts, 5xx and 429.
const RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A stalled connection is given up after this long without a byte; a large
/// blob may take as long as it needs overall.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `Some(false)`: allow plain http and unverified TLS. `None`: decide from
    /// registries.conf (`insecure = true`) and whether the host is loopback.
    pub tls_verify: Option<bool>,
    pub authfile: Option<PathBuf>,
    /// Explicit credentials (`--creds`); else they are looked up in auth files.
    pub credentials: Option<Credentials>,
    pub user_agent: String,
    /// `--retry`: tries after the first on a transient failure (default 3).
    pub retries: Option<u32>,
    /// `--retry-delay`: the wait between tries (default: from 200ms,
    /// doubling).
    pub retry_delay: Option<Duration>,
    /// `--cert-dir`: CA certificates and a client certificate
    /// (containers-certs.d(5); see `certs.rs`).
    pub cert_dir: Option<PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls_verify: None,
            authfile: None,
            credentials: None,
            user_agent: format!("coracle/{}", env!("CARGO_PKG_VERSION")),
            retries: None,
            retry_delay: None,
            cert_dir: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// An error the registry answered with, for callers that branch on it
/// (short-name resolution tries the next registry on "not found").
#[derive(Debug, Clone)]
pub struct RegistryError {
    pub status: u16,
    /// The distribution error codes (`MANIFEST_UNKNOWN`...), when given.
    pub codes: Vec<String>,
    pub message: String,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for RegistryError {}

impl RegistryError {
    #[cfg(test)]
    pub fn is_not_found(&self) -> bool {
        self.status == 404
            || self.codes.iter().any(|c| {
                matches!(
                    c.as_str(),
                    "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN" | "NAME_UNKNOWN"
                )
            })
    }

    pub fn is_unauthorized(&self) -> bool {
        matches!(self.status, 401 | 403)
            || self
                .codes
                .iter()
                .any(|c| matches!(c.as_str(), "UNAUTHORIZED" | "DENIED"))
    }

    /// Build from a non-success response's status and body.
    /// `not_found` is what a bare 404 means here ("manifest unknown").
    fn from_response(status: u16, body: &[u8], not_found: &str) -> RegistryError {
        let (codes, message) = parse_error_body(body).unwrap_or_default();
        let message = if !message.is_empty() {
            message
        } else if status == 404 {
            not_found.to_string()
        } else {
            match status {
                401 => "unauthorized: authentication required".to_string(),
                403 => "denied: requested access to the resource is denied".to_string(),
                429 => "toomanyrequests: too many requests".to_string(),
                s => format!("received unexpected HTTP status: {s} {}", reason(s)),
            }
        };
        RegistryError {
            status,
            codes,
            message,
        }
    }
}

fn reason(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}` -> codes and
/// `manifest unknown: ...` (podman's wording: the code in words, then the message).
fn parse_error_body(body: &[u8]) -> Option<(Vec<String>, String)> {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let parsed: Body = serde_json::from_slice(body).ok()?;
    if parsed.errors.is_empty() {
        return None;
    }
    let mut codes = Vec::new();
    let mut parts = Vec::new();
    for e in parsed.errors {
        let words = e.code.to_ascii_lowercase().replace('_', " ");
        let text = match (words.is_empty(), e.message.is_empty()) {
            (true, _) => e.message.clone(),
            (false, true) => words,
            (false, false) if e.message.eq_ignore_ascii_case(&words) => words,
            (false, false) => format!("{words}: {}", e.message),
        };
        codes.push(e.code);
        parts.push(text);
    }
    Some((codes, parts.join("; ")))
}

/// One `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: HashMap<String, String>,
}

/// Parse `Bearer realm="...",service="...",scope="..."` (possibly several
/// challenges in one header). Scheme names are lowercased.
fn parse_challenges(header: &str) -> Vec<Challenge> {
    let s = header.as_bytes();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let is_token = |c: u8| !c.is_ascii_whitespace() && c != b',' && c != b'=' && c != b'"';
    let skip = |i: &mut usize, also_commas: bool| {
        while *i < s.len() && (s[*i].is_ascii_whitespace() || (also_commas && s[*i] == b',')) {
            *i += 1;
        }
    };
    loop {
        skip(&mut i, true);
        if i >= s.len() {
            break;
        }
        let start = i;
        while i < s.len() && is_token(s[i]) {
            i += 1;
        }
        if start == i {
            i += 1; // stray character: skip it
            continue;
        }
        let word = &header[start..i];
        let mut j = i;
        skip(&mut j, false);
        if j < s.len() && s[j] == b'=' {
            // A parameter of the current challenge.
            j += 1;
            skip(&mut j, false);
            let value = if j < s.len() && s[j] == b'"' {
                j += 1;
                let mut v = String::new();
                while j < s.len() && s[j] != b'"' {
                    if s[j] == b'\\' && j + 1 < s.len() {
                        j += 1;
                    }
                    // Push whole UTF-8 characters.
                    let ch = header[j..].chars().next().unwrap_or('?');
                    v.push(ch);
                    j += ch.len_utf8();
                }
                j += 1; // closing quote
                v
            } else {
                let vs = j;
                while j < s.len() && s[j] != b',' && !s[j].is_ascii_whitespace() {
                    j += 1;
                }
                header[vs..j].to_string()
            };
            i = j;
            if let Some(c) = out.last_mut() {
                c.params.insert(word.to_ascii_lowercase(), value);
            }
        } else {
            out.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: HashMap::new(),
            });
        }
    }
    out
}

/// Percent-encode a query value (RFC 3986 unreserved characters pass).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The host part of `host[:port]` / `[v6]:port`.
fn host_only(endpoint: &str) -> &str {
    if let Some(rest) = endpoint.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match endpoint.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => endpoint,
    }
}

/// localhost, 127.0.0.0/8 and ::1: podman-compatible tools treat these as
/// local development registries that may speak plain http.
pub fn is_loopback(endpoint: &str) -> bool {
    let host = host_only(endpoint);
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The scope to ask a token for: `repository:<repo>:<actions>`.
pub fn repository_scope(repository: &str, actions: &[&str]) -> String {
    format!("repository:{repository}:{}", actions.join(","))
}

#[derive(Default)]
struct AuthCache {
    /// The registry asked for Basic auth: send credentials on every request.
    basic: bool,
    /// Bearer tokens by scope ("" for requests without one).
    tokens: HashMap<String, String>,
}

pub struct RegistryClient {
    /// As named in references (`docker.io`).
    registry: String,
    /// What to connect to (`registry-1.docker.io`).
    endpoint: String,
    insecure: bool,
    agent: Agent,
    credentials: Option<Credentials>,
    /// "https" or "http", settled by the first successful connection.
    scheme: Mutex<Option<&'static str>>,
    auth: Mutex<AuthCache>,
    retries: u32,
    retry_delay: Option<Duration>,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("registry", &self.registry)
            .field("endpoint", &self.endpoint)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
}

/// A request body that can be sent again (after a 401 or a retry).
#[derive(Clone, Debug)]
pub enum UploadBody<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// `len` bytes of a file from `offset` on.
    File {
        path: &'a std::path::Path,
        offset: u64,
        len: u64,
    },
}

/// A request for [`RegistryClient::request`].
#[derive(Clone, Debug)]
pub struct HttpRequest<'a> {
    pub method: Method,
    /// A `/v2/...` path or an absolute URL.
    pub target: &'a str,
    /// The token scope (`repository:x:pull,push`).
    pub scope: Option<&'a str>,
    pub headers: Vec<(&'a str, String)>,
    pub body: UploadBody<'a>,
}

impl<'a> HttpRequest<'a> {
    pub fn new(method: Method, target: &'a str, scope: Option<&'a str>) -> HttpRequest<'a> {
        HttpRequest {
            method,
            target,
            scope,
            headers: Vec::new(),
            body: UploadBody::Empty,
        }
    }
}

/// What one request needs besides its path.
struct Request<'a> {
    path: &'a str,
    scope: Option<&'a str>,
    accept: Option<&'a str>,
    range_from: Option<u64>,
}

impl RegistryClient {
    pub fn new(registry: &str, opts: &ClientOptions) -> Result<RegistryClient> {
        let endpoint = if registry == DOCKER_HUB {
            "registry-1.docker.io".to_string()
        } else {
            registry.to_string()
        };
        let loopback = is_loopback(&endpoint);
        let insecure = match opts.tls_verify {
            Some(verify) => !verify,
            None => loopback || registry_is_insecure(registry),
        };
        let credentials = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None => lookup_credentials(registry, opts.authfile.as_deref())?,
        };
        let tls = super::certs::tls_config(insecure, opts.cert_dir.as_deref())?;
        let mut config = Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .user_agent(opts.user_agent.as_str())
            .max_redirects(10)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_read(Some(READ_TIMEOUT));
        if loopback {
            // As Go's http client: never send loopback traffic through a proxy.
            config = config.proxy(None);
        }
        Ok(RegistryClient {
            registry: registry.to_string(),
            endpoint,
            insecure,
            agent: config.build().new_agent(),
            credentials,
            scheme: Mutex::new(None),
            auth: Mutex::new(AuthCache::default()),
            retries: opts.retries.unwrap_or(RETRIES),
            retry_delay: opts.retry_delay,
        })
    }

    /// Fetch a manifest or index by tag or digest, with a pull scope.
    pub fn get_manifest(&self, repository: &str, reference: &str) -> Result<FetchedManifest> {
        self.get_manifest_scoped(repository, reference, &["pull"])
    }

    /// As [`get_manifest`](Self::get_manifest), asking a token for `actions`
    /// (`["pull", "push"]` when pushing, so one token serves both).
    pub fn get_manifest_scoped(
        &self,
        repository: &str,
        reference: &str,
        actions: &[&str],
    ) -> Result<FetchedManifest> {
        let sep = if reference.contains(':') { "@" } else { ":" };
        let what = format!("{}/{repository}{sep}{reference}", self.registry);
        self.fetch_manifest(repository, reference, actions)
            .with_context(|| format!("reading manifest {what}"))
    }

    fn fetch_manifest(
        &self,
        repository: &str,
        reference: &str,
        actions: &[&str],
    ) -> Result<FetchedManifest> {
        let expected = if reference.contains(':') {
            Some(Digest::parse(reference)?)
        } else {
            None
        };
        let scope = repository_scope(repository, actions);
        let accept = MANIFEST_ACCEPT.join(", ");
        let path = format!("/v2/{repository}/manifests/{reference}");
        let resp = self.send(&Request {
            path: &path,
            scope: Some(&scope),
            accept: Some(&accept),
            range_from: None,
        })?;
        if resp.status().as_u16() != 200 {
            return Err(self.status_error(resp, "manifest unknown").into());
        }
        if let Some(len) = resp.body().content_length() {
            if len > MAX_MANIFEST_SIZE {
                bail!("manifest too large: {len} bytes (limit {MAX_MANIFEST_SIZE})");
            }
        }
        let header_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let bytes = resp
            .into_body()
            .into_with_config()
            .limit(MAX_MANIFEST_SIZE)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    anyhow!("manifest too large (limit {MAX_MANIFEST_SIZE} bytes)")
                }
                e => self.transport_error(e),
            })?;
        let digest = Digest::of_bytes(&bytes);
        if let Some(want) = expected {
            if want != digest {
                bail!("manifest digest mismatch: expected {want}, got {digest}");
            }
        }
        Ok(FetchedManifest {
            media_type: media_type_of(&header_type, &bytes),
            bytes,
            digest,
        })
    }

    /// Stream a blob. The caller verifies the digest while reading.
    pub fn get_blob(&self, repository: &str, digest: &Digest) -> Result<Box<dyn Read + Send>> {
        Ok(self.get_blob_with_size(repository, digest)?.0)
    }

    /// As [`get_blob`](Self::get_blob), with the size the server announced.
    pub fn get_blob_with_size(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        self.blob(repository, digest, 0)
            .with_context(|| self.blob_context(repository, digest))
    }

    fn blob_context(&self, repository: &str, digest: &Digest) -> String {
        format!("fetching blob {digest} from {}/{repository}", self.registry)
    }

    fn blob(
        &self,
        repository: &str,
        digest: &Digest,
        offset: u64,
    ) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        let scope = repository_scope(repository, &["pull"]);
        let path = format!("/v2/{repository}/blobs/{digest}");
        let resp = self.send(&Request {
            path: &path,
            scope: Some(&scope),
            accept: None,
            range_from: (offset > 0).then_some(offset),
        })?;
        let status = resp.status().as_u16();
        let len = resp.body().content_length();
        match status {
            200 => {
                let mut reader: Box<dyn Read + Send> = Box::new(resp.into_body().into_reader());
                if offset > 0 {
                    let skipped =
                        std::io::copy(&mut (&mut reader).take(offset), &mut std::io::sink())?;
                    if skipped < offset {
                        bail!("blob ended at {skipped} bytes, before offset {offset}");
                    }
                }
                Ok((reader, len.map(|l| l.saturating_sub(offset))))
            }
            206 if offset > 0 => {
                let range = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !range.starts_with(&format!("bytes {offset}-")) {
                    bail!("registry answered range from {offset} with {range:?}");
                }
                Ok((Box::new(resp.into_body().into_reader()), len))
            }
            _ => Err(self.status_error(resp, "blob unknown").into()),
        }
    }

    /// Send any request (push needs HEAD, POST, PATCH, PUT) with the same
    /// auth, retry and TLS rules as a pull. `target` is a `/v2/...` path or an
    /// absolute URL (an upload's `Location`). The body is replayable, so a
    /// 401 challenge or a transient failure can send it again.
    pub fn request(&self, req: &HttpRequest<'_>) -> Result<Response<Body>> {
        let scope_key = req.scope.unwrap_or("");
        let mut fresh_auth = false;
        loop {
            let authorization = self.authorization(scope_key);
            let resp = self
                .call_retrying(|| {
                    let url = self.absolute_url(req.target)?;
                    self.dispatch(req, &url, authorization.as_deref())
                })
                .map_err(|e| self.transport_error(e))?;
            if resp.status().as_u16() != 401 {
                return Ok(resp);
            }
            if fresh_auth {
                return Err(self.unauthorized(resp).into());
            }
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            read_small(resp);
            self.authenticate(&challenge, req.scope)?;
            fresh_auth = true;
        }
    }

    /// A registry error from a response that was not what the caller wanted.
    pub fn error_from(&self, resp: Response<Body>, not_found: &str) -> RegistryError {
        self.status_error(resp, not_found)
    }

    /// `/v2/...` -> `scheme://host/v2/...`; absolute URLs pass unchanged.
    fn absolute_url(&self, target: &str) -> Result<String, ureq::Error> {
        if target.starts_with("http://") || target.starts_with("https://") {
            return Ok(target.to_string());
        }
        let base = self.base_url()?;
        if target.starts_with('/') {
            Ok(format!("{base}{target}"))
        } else {
            Ok(format!("{base}/{target}"))
        }
    }

    fn dispatch(
        &self,
        req: &HttpRequest<'_>,
        url: &str,
        authorization: Option<&str>,
    ) -> Result<Response<Body>, ureq::Error> {
        macro_rules! with_headers {
            ($r:expr) => {{
                let mut r = $r;
                for (k, v) in &req.headers {
                    r = r.header(*k, v.as_str());
                }
                if let Some(a) = authorization {
                    r = r.header("Authorization", a);
                }
                r
            }};
        }
        let r = match req.method {
            Method::Get => return with_headers!(self.agent.get(url)).call(),
            Method::Head => return with_headers!(self.agent.head(url)).call(),
            Method::Post => with_headers!(self.agent.post(url)),
            Method::Put => with_headers!(self.agent.put(url)),
            Method::Patch => with_headers!(self.agent.patch(url)),
        };
        match &req.body {
            UploadBody::Empty => r.header("Content-Length", "0").send_empty(),
            UploadBody::Bytes(b) => r.send(*b),
            UploadBody::File { path, offset, len } => {
                use std::io::{Seek, SeekFrom};
                let mut f = std::fs::File::open(path)?;
                f.seek(SeekFrom::Start(*offset))?;
                let mut part = f.take(*len);
                r.header("Content-Length", len.to_string())
                    .send(ureq::SendBody::from_reader(&mut part))
            }
        }
    }

    /// Send a GET, authenticating on a 401 challenge and retrying transient
    /// failures. Returns whatever final response the registry gave.
    fn send(&self, req: &Request) -> Result<Response<Body>> {
        let scope_key = req.scope.unwrap_or("");
        let mut fresh_auth = false;
        loop {
            let authorization = self.authorization(scope_key);
            let resp = self
                .call_retrying(|| {
                    let base = self.base_url()?;
                    let mut r = self.agent.get(format!("{base}{}", req.path));
                    if let Some(a) = req.accept {
                        r = r.header("Accept", a);
                    }
                    if let Some(auth) = &authorization {
                        r = r.header("Authorization", auth);
                    }
                    if let Some(from) = req.range_from {
                        r = r.header("Range", format!("bytes={from}-"));
                    }
                    r.call()
                })
                .map_err(|e| self.transport_error(e))?;
            if resp.status().as_u16() != 401 {
                return Ok(resp);
            }
            if fresh_auth {
                return Err(self.unauthorized(resp).into());
            }
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            self.authenticate(&challenge, req.scope)?;
            fresh_auth = true;
        }
    }

    /// The Authorization header to send for `scope`, from what we learnt.
    fn authorization(&self, scope: &str) -> Option<String> {
        let cache = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(token) = cache.tokens.get(scope) {
            return Some(format!("Bearer {token}"));
        }
        if cache.basic {
            return self
                .credentials
                .as_ref()
                .map(|c| format!("Basic {}", c.encode()));
        }
        None
    }

    /// Answer a 401's challenge: remember to use Basic, or get a token.
    fn authenticate(&self, header: &str, scope: Option<&str>) -> Result<()> {
        let challenges = parse_challenges(header);
        let pick = |name: &str| challenges.iter().find(|c| c.scheme == name);
        if let Some(bearer) = pick("bearer") {
            let scope = scope.or(bearer.params.get("scope").map(String::as_str));
            let token = self.fetch_token(bearer, scope)?;
            let mut cache = self.auth.lock().unwrap_or_else(|p| p.into_inner());
            cache.tokens.insert(scope.unwrap_or("").to_string(), token);
            return Ok(());
        }
        if pick("basic").is_some() {
            if self.credentials.is_none() {
                return Err(self.missing_credentials().into());
            }
            self.auth.lock().unwrap_or_else(|p| p.into_inner()).basic = true;
            return Ok(());
        }
        bail!(
            "unauthorized: {} asked for authentication without a usable challenge ({header:?})",
            self.registry
        )
    }

    fn fetch_token(&self, challenge: &Challenge, scope: Option<&str>) -> Result<String> {
        let Some(realm) = challenge.params.get("realm") else {
            bail!("{} sent a Bearer challenge without a realm", self.registry);
        };
        let mut query = Vec::new();
        if let Some(service) = challenge.params.get("service") {
            query.push(format!("service={}", query_escape(service)));
        }
        if let Some(scope) = scope {
            query.push(format!("scope={}", query_escape(scope)));
        }
        let url = if query.is_empty() {
            realm.clone()
        } else {
            let sep = if realm.contains('?') { '&' } else { '?' };
            format!("{realm}{sep}{}", query.join("&"))
        };
        let basic = self
            .credentials
            .as_ref()
            .map(|c| format!("Basic {}", c.encode()));
        let resp = self
            .call_retrying(|| {
                let mut r = self.agent.get(&url);
                if let Some(b) = &basic {
                    r = r.header("Authorization", b);
                }
                r.call()
            })
            .map_err(|e| self.transport_error(e))
            .context("requesting bearer token")?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            let mut err = RegistryError::from_response(status, &read_small(resp), "not found");
            err.message = if self.credentials.is_some() {
                format!(
                    "unable to retrieve auth token: invalid username/password for {}: {}",
                    self.registry, err.message
                )
            } else {
                format!(
                    "unable to retrieve auth token for {}: {}",
                    self.registry, err.message
                )
            };
            return Err(err.into());
        }
        if status != 200 {
            let err = self.status_error(resp, "token endpoint not found");
            return Err(anyhow::Error::new(err).context("requesting bearer token"));
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = read_small(resp);
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| anyhow!("malformed bearer token response: {e}"))?;
        parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow!("bearer token response holds no token"))
    }

    fn missing_credentials(&self) -> RegistryError {
        RegistryError {
            status: 401,
            codes: vec!["UNAUTHORIZED".into()],
            message: format!(
                "unauthorized: authentication required: no credentials for {} (log in or pass credentials)",
                self.registry
            ),
        }
    }

    /// A 401 although we just authenticated.
    fn unauthorized(&self, resp: Response<Body>) -> RegistryError {
        let mut err = RegistryError::from_response(401, &read_small(resp), "");
        err.message = match &self.credentials {
            Some(c) => format!(
                "{}: credentials for user {:?} rejected by {}",
                err.message, c.username, self.registry
            ),
            None => format!(
                "{}: no credentials for {} (log in or pass credentials)",
                err.message, self.registry
            ),
        };
        err
    }

    fn status_error(&self, resp: Response<Body>, not_found: &str) -> RegistryError {
        let status = resp.status().as_u16();
        RegistryError::from_response(status, &read_small(resp), not_found)
    }

    /// Run `call` until it gives a response that is not a transient failure
    /// (5xx, 429), or a transport error that retrying will not fix.
    fn call_retrying(
        &self,
        call: impl Fn() -> Result<Response<Body>, ureq::Error>,
    ) -> Result<Response<Body>, ureq::Error> {
        let mut attempt = 0;
        loop {
            let wait = self
                .retry_delay
                .unwrap_or_else(|| FIRST_BACKOFF * 2u32.saturating_pow(attempt.min(16)));
            match call() {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    if (s >= 500 || s == 429) && attempt < self.retries {
                        crate::debug!("{}: HTTP {s}, retrying in {wait:?}", self.registry);
                    } else {
                        return Ok(resp);
                    }
                }
                Err(e) if is_transient(&e) && attempt < self.retries => {
                    crate::debug!("{}: {e}, retrying in {wait:?}", self.registry);
                }
                Err(e) => return Err(e),
            }
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    /// `https://host` or, for an insecure registry that does not speak TLS,
    /// `http://host`. Decided once, by the first connection that works.
    fn base_url(&self) -> Result<String, ureq::Error> {
        let mut scheme = self.scheme.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = *scheme {
            return Ok(format!("{s}://{}", self.endpoint));
        }
        if !self.insecure {
            *scheme = Some("https");
            return Ok(format!("https://{}", self.endpoint));
        }
        let https = format!("https://{}", self.endpoint);
        match self.agent.get(format!("{https}/v2/")).call() {
            Ok(_) => {
                *scheme = Some("https");
                Ok(https)
            }
            Err(tls_err) => {
                let http = format!("http://{}", self.endpoint);
                match self.agent.get(format!("{http}/v2/")).call() {
                    Ok(_) => {
                        crate::debug!(
                            "{}: https failed ({tls_err}), using plain http",
                            self.registry
                        );
                        *scheme = Some("http");
                        Ok(http)
                    }
                    Err(_) => Err(tls_err),
                }
            }
        }
    }

    /// A one-line description of a connection-level failure.
    fn transport_error(&self, e: ureq::Error) -> anyhow::Error {
        let host = host_only(&self.endpoint);
        let msg = match &e {
            e if is_lookup_failure(e) => format!("dial tcp: lookup {host}: no such host"),
            e if is_not_tls(e) => format!(
                "{}: http: server gave HTTP response to HTTPS client",
                self.endpoint
            ),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                format!("dial tcp {}: connect: connection refused", self.endpoint)
            }
            // rustls' errors reach us as InvalidData io errors.
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                format!("{}: tls: {io}", self.endpoint)
            }
            ureq::Error::Io(io) => format!("{}: {io}", self.endpoint),
            ureq::Error::Timeout(t) => format!("{}: timed out ({t})", self.endpoint),
            ureq::Error::Rustls(_) => format!(
                "{}: tls: {}",
                self.endpoint,
                e.to_string().trim_start_matches("rustls: ")
            ),
            other => format!("{}: {other}", self.endpoint),
        };
        anyhow!(msg)
    }
}

/// rustls' complaint when the other end answers in plain text ("received
/// corrupt message of type InvalidContentType"), which reaches us either as
/// a rustls error or wrapped in an io::Error; the message is all there is.
fn is_not_tls(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::Rustls(_) | ureq::Error::Io(_))
        && e.to_string().contains("corrupt message")
}

fn is_lookup_failure(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::HostNotFound => true,
        ureq::Error::Io(io) => io.to_string().contains("failed to lookup address"),
        _ => false,
    }
}

/// Worth another try: the network or the server may recover. DNS failures
/// and TLS errors (io::ErrorKind::InvalidData) will not.
fn is_transient(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => {
            io.kind() != std::io::ErrorKind::InvalidData && !is_lookup_failure(e)
        }
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed | ureq::Error::Protocol(_) => true,
        _ => false,
    }
}

fn read_small(resp: Response<Body>) -> Vec<u8> {
    resp.into_body()
        .into_with_config()
        .limit(MAX_SMALL_BODY)
        .read_to_vec()
        .unwrap_or_default()
}

/// The manifest's media type: the Content-Type header unless it is generic,
/// then the document's own `mediaType`.
fn media_type_of(header: &str, bytes: &[u8]) -> String {
    let generic = matches!(
        header,
        "" | "application/json" | "text/plain" | "application/octet-stream"
    );
    if !generic {
        return header.to_string();
    }
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Doc>(bytes)
        .ok()
        .and_then(|d| d.media_type)
        .unwrap_or_else(|| header.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<RegistryClient>();
    }

    #[test]
    fn challenges() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://auth.docker.io/token");
        assert_eq!(c[0].params["service"], "registry.docker.io");
        assert_eq!(c[0].params["scope"], "repository:library/busybox:pull,push");

        let c = parse_challenges(r#"Basic realm="basic-realm""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].params["realm"], "basic-realm");

        let c =
            parse_challenges(r#"Basic realm="a \"q\"", Bearer realm=tok, error="invalid_token""#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].params["realm"], "a \"q\"");
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].params["realm"], "tok");
        assert_eq!(c[1].params["error"], "invalid_token");

        assert!(parse_challenges("").is_empty());
    }

    #[test]
    fn error_bodies() {
        let e = RegistryError::from_response(
            404,
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#,
            "manifest unknown",
        );
        assert_eq!(e.message, "manifest unknown");
        assert!(e.is_not_found());
        let e = RegistryError::from_response(
            404,
            br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
            "x",
        );
        assert_eq!(
            e.message,
            "name unknown: repository name not known to registry"
        );
        let e = RegistryError::from_response(404, b"", "blob unknown");
        assert_eq!(e.message, "blob unknown");
        let e = RegistryError::from_response(502, b"<html>bad gateway</html>", "x");
        assert_eq!(
            e.message,
            "received unexpected HTTP status: 502 Bad Gateway"
        );
        assert!(!e.is_not_found());
        let e = RegistryError::from_response(
            401,
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"},{"code":"DENIED","message":""}]}"#,
            "x",
        );
        assert_eq!(e.message, "unauthorized: authentication required; denied");
        assert!(e.is_unauthorized());
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1:5000",
            "localhost.example.com",
            "[fe80::1]:5000",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
        assert_eq!(host_only("[::1]:5000"), "::1");
        assert_eq!(host_only("reg.io:443"), "reg.io");
    }

    #[test]
    fn helpers() {
        assert_eq!(
            query_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(
            repository_scope("a/b", &["pull", "push"]),
            "repository:a/b:pull,push"
        );
        assert_eq!(
            media_type_of(
                "application/json",
                br#"{"mediaType":"application/vnd.oci.image.index.v1+json"}"#
            ),
            "application/vnd.oci.image.index.v1+json"
        );
        assert_eq!(
            media_type_of("application/vnd.oci.image.manifest.v1+json", b"{}"),
            "application/vnd.oci.image.manifest.v1+json"
        );
    }
}
