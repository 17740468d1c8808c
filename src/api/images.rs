//! Images: list, pull (Docker's `images/create` progress stream and
//! libpod's `images/pull`), inspect, exists, tag, remove.

use super::http::{Conn, Request};
use super::reply::{api_error, common_headers, Api, Reply};
use super::Ctx;
use crate::engine::types::{ImageRecord, PullOptions, Store};
use anyhow::Result;
use serde_json::{json, Value};

fn find(store: &Store, name: &str) -> Result<ImageRecord> {
    let mut images = store.images.load_for(&[name])?;
    crate::engine::images::try_found(store, &mut images, name)?
        .ok_or_else(|| api_error(404, format!("{name}: image not known")))
}

/// `GET /images/json`: `images --format json`'s entries (Docker's with
/// `sha256:` ids), `filters` as `images --filter`.
pub fn list(ctx: &Ctx, req: &Request, api: Api) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let filters = req.filters()?;
    let listed = crate::cmd::image_list::load_listed(&store, true)?;
    let preds = crate::cmd::image_list::image_filter(&filters, &listed)
        .map_err(|e| api_error(400, format!("{e:#}")))?;
    let mut rows = Vec::new();
    for l in listed.iter().filter(|l| preds.iter().all(|p| p(l))) {
        let mut row = crate::cmd::image_list::image_json(l);
        if api == Api::Compat {
            row["Id"] = json!(format!("sha256:{}", l.rec.id));
            row["SharedSize"] = json!(-1);
            row["Containers"] = json!(-1);
            if let Some(o) = row.as_object_mut() {
                for k in ["Names", "Digest", "History", "CreatedAt"] {
                    o.remove(k);
                }
            }
        }
        rows.push(row);
    }
    rows.reverse();
    Ok(Reply::Json(200, Value::Array(rows)))
}

/// Registry options from the query (`tlsVerify`) and `X-Registry-Auth`
/// (base64 of `{"username":..,"password":..}`), used for this pull only.
fn pull_options(req: &Request) -> Result<PullOptions> {
    let mut opts = PullOptions {
        quiet: true,
        ..Default::default()
    };
    if req.q("tlsVerify").is_some() {
        opts.client.tls_verify = Some(req.q_bool("tlsVerify", true)?);
    }
    if let Some(auth) = req
        .header("X-Registry-Auth")
        .filter(|a| !a.is_empty() && *a != "null")
    {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(auth.trim_end_matches('='))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(auth))
            .or_else(|_| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(auth.trim_end_matches('='))
            })
            .map_err(|_| api_error(400, "failed to parse X-Registry-Auth header"))?;
        let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        let user = v["username"].as_str().unwrap_or_default();
        let pass = v["password"].as_str().unwrap_or_default();
        if !user.is_empty() {
            opts.client.credentials = Some(crate::engine::types::Credentials {
                username: user.to_string(),
                password: pass.to_string(),
            });
        }
    }
    Ok(opts)
}

/// `POST /images/create?fromImage=&tag=`: pull, answered as Docker's
/// progress stream (JSON messages) once the image is in. A failed pull
/// is an error status (404 for an unknown image) before any stream.
pub fn create(ctx: &Ctx, conn: &mut Conn, req: &Request) -> Result<Reply> {
    if req.q("fromSrc").is_some_and(|s| !s.is_empty()) {
        return Err(api_error(
            400,
            "importing (fromSrc) is not supported by coracle's API service",
        ));
    }
    let Some(from) = req.q("fromImage").filter(|s| !s.is_empty()) else {
        return Err(api_error(400, "fromImage is required"));
    };
    let name = match req.q("tag").filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("sha256:") => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None if from.contains(':') || from.contains('@') => from.to_string(),
        None => format!("{from}:latest"),
    };
    let store = (ctx.open_store)()?;
    let opts = pull_options(req)?;
    let rec = crate::engine::images::pull_image(&store, &name, &opts).map_err(|e| {
        let text = format!("{e:#}");
        let status = if text.contains("manifest unknown")
            || text.contains("not found")
            || text.contains("unauthorized")
        {
            404
        } else {
            500
        };
        api_error(status, text)
    })?;
    conn.start_chunked(200, &common_headers(ctx), "application/json")?;
    let (repo, tag) = name.rsplit_once(':').unwrap_or((&name, "latest"));
    let digest = rec.display_digest().to_string();
    let messages = [
        json!({"status": format!("Pulling from {repo}"), "id": tag}),
        json!({"status": format!("Digest: {digest}")}),
        json!({"status": format!("Status: Downloaded newer image for {name}")}),
    ];
    for m in messages {
        conn.chunk(format!("{m}\n").as_bytes())?;
    }
    conn.end_chunks()?;
    Ok(Reply::Streamed)
}

/// `POST /libpod/images/pull?reference=`: podman's stream (`stream`
/// lines, then `images` and `id`).
pub fn pull_libpod(ctx: &Ctx, conn: &mut Conn, req: &Request) -> Result<Reply> {
    let Some(name) = req.q("reference").filter(|s| !s.is_empty()) else {
        return Err(api_error(400, "reference parameter cannot be empty"));
    };
    let store = (ctx.open_store)()?;
    let opts = pull_options(req)?;
    let quiet = req.q_bool("quiet", false)?;
    conn.start_chunked(200, &common_headers(ctx), "application/json")?;
    match crate::engine::images::pull_image(&store, name, &opts) {
        Ok(rec) => {
            if !quiet {
                let m = json!({"stream": format!("Pulling image {name}\n")});
                conn.chunk(format!("{m}\n").as_bytes())?;
            }
            let m = json!({"images": [rec.id], "id": rec.id});
            conn.chunk(format!("{m}\n").as_bytes())?;
        }
        Err(e) => {
            let m = json!({"error": format!("{e:#}")});
            conn.chunk(format!("{m}\n").as_bytes())?;
        }
    }
    conn.end_chunks()?;
    Ok(Reply::Streamed)
}

/// `GET /images/{name}/json`: `image inspect`'s document.
pub fn inspect(ctx: &Ctx, api: Api, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let rec = find(&store, name)?;
    let mut doc = crate::cmd::image_inspect::inspect_json(&store, &rec)?;
    if api == Api::Compat {
        doc["Id"] = json!(format!("sha256:{}", rec.id));
    }
    Ok(Reply::Json(200, doc))
}

pub fn exists(ctx: &Ctx, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    find(&store, name)?;
    Ok(Reply::Empty(204))
}

/// `POST /images/{name}/tag?repo=&tag=`.
pub fn tag(ctx: &Ctx, req: &Request, _api: Api, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let Some(repo) = req.q("repo").filter(|r| !r.is_empty()) else {
        return Err(api_error(400, "repo parameter is required"));
    };
    let tag = req.q("tag").filter(|t| !t.is_empty()).unwrap_or("latest");
    find(&store, name)?;
    crate::engine::images::tag(&store, name, &[format!("{repo}:{tag}")])?;
    Ok(Reply::Empty(201))
}

/// `DELETE /images/{name}?force=`: Docker's list of what was untagged and
/// deleted; libpod's report.
pub fn remove(ctx: &Ctx, req: &Request, api: Api, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    find(&store, name)?;
    let r = crate::engine::images::Removal {
        images: vec![name.to_string()],
        force: req.q_bool("force", false)?,
        no_prune: req.q_bool("noprune", false)?,
        ..Default::default()
    };
    let report = crate::engine::images::remove(&store, &r)?;
    if let Some(e) = report.error {
        let status = super::reply::status_of(&e);
        let status = if status == 500 { 409 } else { status };
        return Err(api_error(status, format!("{e:#}")));
    }
    let (mut untagged, mut deleted) = (Vec::new(), Vec::new());
    for d in &report.done {
        match d {
            crate::engine::images::Removed::Untagged(n) => untagged.push(n.clone()),
            crate::engine::images::Removed::Deleted(id) => deleted.push(id.clone()),
        }
    }
    Ok(match api {
        Api::Compat => Reply::Json(
            200,
            Value::Array(
                untagged
                    .iter()
                    .map(|n| json!({"Untagged": n}))
                    .chain(
                        deleted
                            .iter()
                            .map(|d| json!({"Deleted": format!("sha256:{d}")})),
                    )
                    .collect(),
            ),
        ),
        Api::Libpod => Reply::Json(
            200,
            json!({"Untagged": untagged, "Deleted": deleted, "Errors": [], "ExitCode": 0}),
        ),
    })
}
