//! Reaching a container's published port from the host: free ports, a
//! plain HTTP/1.0 GET, and a host dir for busybox httpd to serve.

use super::{Mode, TestEnv};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// `busybox httpd` serving /www on port 80, in the foreground.
pub const HTTPD: &[&str] = &["busybox", "httpd", "-f", "-p", "80", "-h", "/www"];

/// A host port nobody listens on right now (TCP and UDP both free).
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// One HTTP/1.0 GET of `/` on 127.0.0.1:port: the whole response.
pub fn http_get_once(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    Ok(resp)
}

/// GET `/` until a full HTTP response comes back (the server may still be
/// starting: the helper then accepts and closes, or refuses); its body.
pub fn http_get(mode: Mode, port: u16) -> String {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < Duration::from_secs(8) {
        match http_get_once(port) {
            Ok(r) if r.starts_with("HTTP/1.") => {
                let body = r.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
                return body.to_string();
            }
            Ok(r) => last = format!("response {r:?}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("[{mode:?}] no HTTP response on 127.0.0.1:{port} within 8s (last: {last})");
}

/// A host dir with index.html holding `index`, as a `-v` for /www (ro).
pub fn www_dir(env: &TestEnv, index: &str) -> String {
    let d = env.user_dir("www");
    env.write_user_file(&d.join("index.html"), index.as_bytes());
    format!("{}:/www:ro", d.display())
}
