//! One connection's requests, each to its handler: the version prefix
//! (`/v1.41`, `/v5.0.0`) taken off, `/libpod` noted (podman's shapes
//! instead of Docker's), the path's segments matched.

use super::http::{Conn, Request};
use super::reply::{common_headers, error_json, from_error, Api, Reply};
use super::{containers, exec, images, objects, pods, system, Ctx};
use anyhow::Result;
use std::os::fd::OwnedFd;

/// The most a request body may hold, but an image archive's.
pub const MAX_BODY: u64 = 8 << 20;

/// Serve requests until the client closes, asks to, or a stream ends.
pub fn serve_connection(fd: OwnedFd, ctx: &Ctx) -> Result<()> {
    let mut conn = Conn::new(fd);
    let mut served = 0u64;
    loop {
        // A kept-alive connection idle too long is closed, as podman's.
        if let (true, Some(idle)) = (served > 0, ctx.keep_alive_idle) {
            if !conn.request_within(idle) {
                crate::debug!("API connection: idle for {idle:?}, closing");
                break;
            }
        }
        let Some(mut req) = conn.read_request()? else {
            break;
        };
        served += 1;
        let full_path = req.path.clone();
        let (api, path) = split_path(&full_path);
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        // An archive's body is the handler's to copy (it may be big).
        let read = match streams_body(&req, api, &segments) {
            true => Ok(()),
            false => conn.read_body(&mut req, MAX_BODY),
        };
        let reply = match read {
            Ok(()) => route(ctx, &mut conn, &mut req, api, &segments),
            Err(e) => {
                req.keep_alive = false;
                Ok(Reply::Json(413, error_json(413, &format!("{e:#}"))))
            }
        };
        let reply = reply.unwrap_or_else(|e| from_error(&e));
        let mut headers = common_headers(ctx);
        if segments == ["_ping"] {
            headers.extend(system::ping_headers());
        }
        let head_only = req.method == "HEAD";
        match reply {
            Reply::Streamed => return Ok(()),
            Reply::Json(status, v) => {
                let mut body = serde_json::to_vec(&v)?;
                body.push(b'\n');
                if head_only {
                    body.clear();
                }
                conn.respond(status, &headers, Some("application/json"), &body)?;
            }
            Reply::Empty(status) => conn.respond(status, &headers, None, b"")?,
            Reply::Body(status, ct, body) => {
                let body = if head_only { Vec::new() } else { body };
                conn.respond(status, &headers, Some(ct), &body)?
            }
        }
        if !req.keep_alive {
            break;
        }
    }
    Ok(())
}

/// The API and the path below the version prefix (`/v1.41/x` -> `/x`,
/// `/v5.0.0/libpod/x` -> libpod `/x`).
pub fn split_path(path: &str) -> (Api, &str) {
    let mut p = path;
    if let Some(rest) = p.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let version = &rest[..end];
        if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.') {
            p = &rest[end..];
        }
    }
    match p.strip_prefix("/libpod") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => (Api::Libpod, rest),
        _ => (Api::Compat, p),
    }
}

/// Requests whose body is an archive the handler reads itself.
fn streams_body(req: &Request, api: Api, seg: &[&str]) -> bool {
    match (req.method.as_str(), seg) {
        ("POST", ["images", "load"]) => true,
        ("POST", ["images", "import"]) => api == Api::Libpod,
        ("POST", ["images", "create"]) => api == Api::Compat && req.q("fromSrc") == Some("-"),
        _ => false,
    }
}

fn route(ctx: &Ctx, conn: &mut Conn, req: &mut Request, api: Api, seg: &[&str]) -> Result<Reply> {
    let m = req.method.as_str();
    let lib = api == Api::Libpod;
    match (m, seg) {
        ("GET" | "HEAD", ["_ping"]) => Ok(system::ping(req)),
        ("GET", ["version"]) => system::version(ctx),
        ("GET", ["info"]) => system::info(ctx, api),
        ("GET", ["events"]) => system::events(ctx, conn, req, api),
        ("GET", ["system", "df"]) if !lib => system::df(ctx),

        ("GET", ["containers", "json"]) => containers::list(ctx, req, api),
        ("POST", ["containers", "create"]) if lib => containers::create_libpod(ctx, req),
        ("POST", ["containers", "create"]) => containers::create_compat(ctx, req),
        ("POST", ["containers", "prune"]) => containers::prune(ctx, req),
        ("GET", ["containers", id, "json"]) => containers::inspect(ctx, req, api, id),
        ("GET", ["containers", id, "exists"]) if lib => containers::exists(ctx, id),
        ("POST", ["containers", id, "start"]) => containers::start(ctx, id),
        ("POST", ["containers", id, "stop"]) => containers::stop(ctx, req, id),
        ("POST", ["containers", id, "kill"]) => containers::kill(ctx, req, api, id),
        ("POST", ["containers", id, "restart"]) => containers::restart(ctx, req, id),
        ("POST", ["containers", id, "wait"]) => containers::wait(ctx, conn, req, api, id),
        ("POST", ["containers", id, "pause"]) => containers::pause(ctx, id, true),
        ("POST", ["containers", id, "unpause"]) => containers::pause(ctx, id, false),
        ("POST", ["containers", id, "rename"]) => containers::rename(ctx, req, id),
        ("GET", ["containers", id, "top"]) => containers::top(ctx, req, id),
        ("GET", ["containers", id, "logs"]) => containers::logs(ctx, conn, req, id),
        ("POST", ["containers", id, "attach"]) => containers::attach(ctx, conn, req, id),
        ("POST", ["containers", id, "resize"]) => containers::resize(ctx, req, id),
        ("DELETE", ["containers", id]) => containers::remove(ctx, req, api, id),
        ("POST", ["containers", id, "exec"]) => exec::create(ctx, req, id),
        ("POST", ["exec", id, "start"]) => exec::start(ctx, conn, req, id),
        ("GET", ["exec", id, "json"]) => exec::inspect(ctx, id),
        ("POST", ["exec", id, "resize"]) => exec::resize(ctx, req, id),

        ("GET", ["images", "json"]) => images::list(ctx, req, api),
        ("POST", ["images", "load"]) => images::load(ctx, conn, req, api),
        ("POST", ["images", "prune"]) => images::prune(ctx, req, api),
        ("POST", ["images", "import"]) if lib => images::import(ctx, conn, req, api),
        ("GET", ["images", "get"]) => images::get(ctx, conn, req, None),
        ("GET", ["images", rest @ .., "get"]) if !rest.is_empty() => {
            images::get(ctx, conn, req, Some(&rest.join("/")))
        }
        ("GET", ["images", rest @ .., "history"]) if !rest.is_empty() => {
            images::history(ctx, &rest.join("/"))
        }
        ("POST", ["images", "create"])
            if !lib && req.q("fromSrc").is_some_and(|s| !s.is_empty()) =>
        {
            images::import(ctx, conn, req, api)
        }
        ("POST", ["images", "create"]) if !lib => images::create(ctx, conn, req),
        ("POST", ["images", "pull"]) if lib => images::pull_libpod(ctx, conn, req),
        ("GET", ["images", rest @ .., "json"]) if !rest.is_empty() => {
            images::inspect(ctx, api, &rest.join("/"))
        }
        ("GET", ["images", rest @ .., "exists"]) if lib && !rest.is_empty() => {
            images::exists(ctx, &rest.join("/"))
        }
        ("POST", ["images", rest @ .., "tag"]) if !rest.is_empty() => {
            images::tag(ctx, req, api, &rest.join("/"))
        }
        ("DELETE", ["images", rest @ ..]) if !rest.is_empty() => {
            images::remove(ctx, req, api, &rest.join("/"))
        }

        ("GET", ["pods", "json"]) if lib => pods::list(ctx, req),
        ("POST", ["pods", "create"]) if lib => pods::create(ctx, req),
        ("GET", ["pods", name, "json"]) if lib => pods::inspect(ctx, name),
        ("GET", ["pods", name, "exists"]) if lib => pods::exists(ctx, name),
        ("POST", ["pods", name, what @ ("start" | "stop" | "restart" | "kill")]) if lib => {
            pods::action(ctx, req, name, what)
        }
        ("DELETE", ["pods", name]) if lib => pods::action(ctx, req, name, "rm"),

        ("GET", ["volumes"]) if !lib => objects::volume_list(ctx, req, api),
        ("GET", ["volumes", "json"]) if lib => objects::volume_list(ctx, req, api),
        ("POST", ["volumes", "create"]) => objects::volume_create(ctx, req, api),
        ("GET", ["volumes", name]) if !lib => objects::volume_inspect(ctx, api, name),
        ("GET", ["volumes", name, "json"]) if lib => objects::volume_inspect(ctx, api, name),
        ("DELETE", ["volumes", name]) => objects::volume_remove(ctx, req, name),

        ("GET", ["networks"]) if !lib => objects::network_list(ctx, api),
        ("GET", ["networks", "json"]) if lib => objects::network_list(ctx, api),
        ("GET", ["networks", name]) if !lib => objects::network_inspect(ctx, api, name),
        ("GET", ["networks", name, "json"]) if lib => objects::network_inspect(ctx, api, name),

        _ => Ok(Reply::Json(404, error_json(404, "page not found"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            split_path("/v1.41/containers/json"),
            (Api::Compat, "/containers/json")
        );
        assert_eq!(
            split_path("/containers/json"),
            (Api::Compat, "/containers/json")
        );
        assert_eq!(split_path("/v5.0.0/libpod/_ping"), (Api::Libpod, "/_ping"));
        assert_eq!(split_path("/libpodx"), (Api::Compat, "/libpodx"));
        assert_eq!(split_path("/volumes/v1"), (Api::Compat, "/volumes/v1"));
    }
}
