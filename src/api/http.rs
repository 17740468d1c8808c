//! HTTP/1.1 as the API needs it, on std: requests read one at a time off
//! a connection (keep-alive), bodies by Content-Length or chunked and
//! bounded, replies with a length or chunked, and the "hijacked" raw
//! stream that attach and exec use.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};

/// The most a request's head (request line and headers) may take.
const MAX_HEAD: usize = 64 << 10;

/// How a request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

pub struct Request {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    pub framing: BodyFraming,
    /// The body once read (`Conn::read_body`).
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of query parameter `key`.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of query parameter `key` (`?cmd=a&cmd=b`).
    pub fn q_all(&self, key: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean parameter as Go's strconv.ParseBool reads it (docker's
    /// clients send `1`, podman's `true`); absent is `default`.
    pub fn q_bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.q(key) {
            None | Some("") => Ok(default),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(v) => bail!(
                "failed to parse parameters for {:?}: invalid boolean {v:?} for {key}",
                self.path
            ),
        }
    }

    /// `filters` (JSON: `{"key": ["v", ...]}`, or Docker's older
    /// `{"key": {"v": true}}`) as podman's `key=value` filter words.
    pub fn filters(&self) -> Result<Vec<String>> {
        let raw = match self.q("filters") {
            None | Some("") => return Ok(Vec::new()),
            Some(r) => r,
        };
        let v: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| super::reply::api_error(400, format!("failed to parse filters: {e}")))?;
        let mut out = Vec::new();
        for (k, vals) in v.as_object().into_iter().flatten() {
            match vals {
                serde_json::Value::Array(a) => out.extend(
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .map(|x| format!("{k}={x}")),
                ),
                serde_json::Value::Object(o) => out.extend(
                    o.iter()
                        .filter(|(_, on)| on.as_bool() == Some(true))
                        .map(|(x, _)| format!("{k}={x}")),
                ),
                serde_json::Value::String(x) => out.push(format!("{k}={x}")),
                _ => {}
            }
        }
        Ok(out)
    }

    pub fn q_int(&self, key: &str) -> Result<Option<i64>> {
        match self.q(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                anyhow::anyhow!("failed to parse parameters: invalid number {v:?} for {key}")
            }),
        }
    }
}

/// Percent-decoding (`+` is a space in a query, not in a path).
pub fn decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k, true), decode(v, true)),
            None => (decode(p, true), String::new()),
        })
        .collect()
}

/// One client connection: a socket (unix or tcp) and what was read past
/// the last request.
pub struct Conn {
    sock: std::fs::File,
    pending: Vec<u8>,
}

impl Conn {
    pub fn new(fd: std::os::fd::OwnedFd) -> Conn {
        Conn {
            sock: std::fs::File::from(fd),
            pending: Vec::new(),
        }
    }

    /// Has the client hung up? (A stream stops then.)
    pub fn client_gone(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one pollfd for our own open socket, no wait.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
    }

    /// Has the client closed the connection both ways? (A client that
    /// only ended its standing-in stdin, a half-close, is still there.)
    pub fn client_hung_up(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: one pollfd for our own open socket, no wait.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0
    }

    /// The socket, to poll for the client's input on a taken-over stream.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.sock.as_raw_fd()
    }

    /// The client's next bytes on a taken-over stream (what came after
    /// the request's head first); 0: it ended its input. Blocks unless
    /// something was pending or the socket polled readable.
    pub fn read_input(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.pending.is_empty() {
            let n = self.pending.len().min(buf.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(n);
        }
        loop {
            match self.sock.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(0),
                other => return other,
            }
        }
    }

    /// Bytes read past the request's head are waiting.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    fn fill(&mut self) -> Result<bool> {
        let mut buf = [0u8; 16384];
        let n = loop {
            match self.sock.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        };
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n > 0)
    }

    /// Whether a next request starts within `timeout`: bytes already
    /// read, or the socket readable (its end of file too).
    pub fn request_within(&self, timeout: std::time::Duration) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        if !self.pending.is_empty() {
            return true;
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.sock.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) => return false,
                Ok(_) => return true,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return true,
            }
        }
    }

    /// The next request's head; `None` when the client closed first.
    pub fn read_request(&mut self) -> Result<Option<Request>> {
        let end = loop {
            if let Some(i) = find(&self.pending, b"\r\n\r\n") {
                break i;
            }
            if self.pending.len() > MAX_HEAD {
                bail!("request header too large");
            }
            if !self.fill()? {
                if self.pending.is_empty() {
                    return Ok(None);
                }
                bail!("connection closed within a request");
            }
        };
        let head = String::from_utf8_lossy(&self.pending[..end]).into_owned();
        self.pending.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let mut parts = first.split(' ');
        let (Some(method), Some(target), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            bail!("malformed request line {first:?}");
        };
        let mut headers = Vec::new();
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, parse_query(q)),
            None => (target, Vec::new()),
        };
        let mut req = Request {
            method: method.to_string(),
            path: decode(path, false),
            query,
            headers,
            framing: BodyFraming::None,
            body: Vec::new(),
            keep_alive: version == "HTTP/1.1",
        };
        match req.header("Connection").map(str::to_ascii_lowercase) {
            Some(c) if c.contains("close") => req.keep_alive = false,
            Some(c) if c.contains("keep-alive") => req.keep_alive = true,
            _ => {}
        }
        if req
            .header("Transfer-Encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
        {
            req.framing = BodyFraming::Chunked;
        } else if let Some(l) = req.header("Content-Length") {
            let n: u64 = l.parse().context("bad Content-Length")?;
            if n > 0 {
                req.framing = BodyFraming::Length(n);
            }
        }
        Ok(Some(req))
    }

    /// Copy the request's body to `out`, failing past `limit` bytes.
    pub fn copy_body(&mut self, req: &mut Request, out: &mut dyn Write, limit: u64) -> Result<u64> {
        let mut total = 0u64;
        match req.framing {
            BodyFraming::None => {}
            BodyFraming::Length(n) => {
                if n > limit {
                    bail!("request body of {n} bytes is over the limit of {limit}");
                }
                total = self.copy_exact(n, out)?;
            }
            BodyFraming::Chunked => loop {
                let line = self.read_line()?;
                let size = u64::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .context("bad chunk size")?;
                if size == 0 {
                    // trailers up to the empty line
                    while !self.read_line()?.is_empty() {}
                    break;
                }
                total += size;
                if total > limit {
                    bail!("request body is over the limit of {limit} bytes");
                }
                self.copy_exact(size, out)?;
                self.read_line()?;
            },
        }
        req.framing = BodyFraming::None;
        Ok(total)
    }

    /// Read the whole body into `req.body` (bounded by `limit`).
    pub fn read_body(&mut self, req: &mut Request, limit: u64) -> Result<()> {
        let mut body = Vec::new();
        self.copy_body(req, &mut body, limit)?;
        req.body = body;
        Ok(())
    }

    fn copy_exact(&mut self, mut n: u64, out: &mut dyn Write) -> Result<u64> {
        let total = n;
        while n > 0 {
            if self.pending.is_empty() && !self.fill()? {
                bail!("connection closed within a request body");
            }
            let take = (n as usize).min(self.pending.len());
            out.write_all(&self.pending[..take])?;
            self.pending.drain(..take);
            n -= take as u64;
        }
        Ok(total)
    }

    fn read_line(&mut self) -> Result<String> {
        loop {
            if let Some(i) = find(&self.pending, b"\r\n") {
                let line = String::from_utf8_lossy(&self.pending[..i]).into_owned();
                self.pending.drain(..i + 2);
                return Ok(line);
            }
            if self.pending.len() > MAX_HEAD {
                bail!("chunk header too long");
            }
            if !self.fill()? {
                bail!("connection closed within a chunked body");
            }
        }
    }

    pub fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.sock.write_all(data)
    }

    /// A whole reply with a Content-Length body.
    pub fn respond(
        &mut self,
        status: u16,
        headers: &[(String, String)],
        content_type: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<()> {
        let mut head = status_line(status);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut all = head.into_bytes();
        all.extend_from_slice(body);
        self.sock.write_all(&all)
    }

    /// The head of a chunked reply; the body follows by [`Conn::chunk`].
    pub fn start_chunked(
        &mut self,
        status: u16,
        headers: &[(String, String)],
        content_type: &str,
    ) -> std::io::Result<()> {
        let mut head = status_line(status);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        self.sock.write_all(head.as_bytes())
    }

    pub fn chunk(&mut self, data: &[u8]) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut all = format!("{:x}\r\n", data.len()).into_bytes();
        all.extend_from_slice(data);
        all.extend_from_slice(b"\r\n");
        self.sock.write_all(&all)
    }

    pub fn end_chunks(&mut self) -> std::io::Result<()> {
        self.sock.write_all(b"0\r\n\r\n")
    }

    /// Take the connection over for a raw stream (attach, exec start): a
    /// `101 UPGRADED` when the client asked to upgrade, else a 200 whose
    /// body runs to the connection's end, as docker's daemon answers.
    pub fn hijack(
        &mut self,
        req: &Request,
        headers: &[(String, String)],
        tty: bool,
    ) -> std::io::Result<()> {
        let content_type = match tty {
            true => "application/vnd.docker.raw-stream",
            false => "application/vnd.docker.multiplexed-stream",
        };
        let mut head = match req.header("Upgrade") {
            Some(_) => {
                "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n".to_string()
            }
            None => "HTTP/1.1 200 OK\r\nConnection: close\r\n".to_string(),
        };
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Type: {content_type}\r\n\r\n"));
        self.sock.write_all(head.as_bytes())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        _ => "Status",
    };
    format!("HTTP/1.1 {status} {reason}\r\n")
}

/// Docker's multiplexed stream framing: a stream byte (1 stdout, 2
/// stderr), three zeros, the payload's length (big endian), the payload.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.push(stream);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(decode("a%2Fb+c", true), "a/b c");
        assert_eq!(decode("a%2Fb+c", false), "a/b+c");
        assert_eq!(decode("100%", false), "100%");
        assert_eq!(decode("%zz", false), "%zz");
        let q = parse_query("all=1&filters=%7B%22a%22%3A1%7D&x");
        assert_eq!(q[1].1, "{\"a\":1}");
        assert_eq!(q[2], ("x".to_string(), String::new()));
    }

    #[test]
    fn framing() {
        assert_eq!(frame(1, b"hi"), vec![1, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
    }
}
