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

/// `GET /images/{name}/history`: `history`'s entries, newest first, in
/// Docker's shape (libpod answers the same).
pub fn history(ctx: &Ctx, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    find(&store, name)?;
    let (rec, entries) = crate::cmd::image_inspect::history_entries(&store, name)?;
    let count = entries.len();
    let rows: Vec<Value> = entries
        .into_iter()
        .enumerate()
        .rev()
        .map(|(i, (created, created_by, comment, size))| {
            let last = i + 1 == count;
            json!({
                "Id": if last { format!("sha256:{}", rec.id) } else { "<missing>".into() },
                "Created": created
                    .as_deref()
                    .and_then(|c| crate::format::human::parse_rfc3339(c).ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs() as i64),
                "CreatedBy": created_by,
                "Tags": if last { json!(rec.names) } else { Value::Null },
                "Size": size,
                "Comment": comment,
            })
        })
        .collect();
    Ok(Reply::Json(200, Value::Array(rows)))
}

/// A chunked reply body as a writer (an archive streamed as made).
struct ChunkWriter<'a>(&'a mut Conn);

impl std::io::Write for ChunkWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.chunk(data)?;
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `GET /images/{name}/get` and `GET /images/get?names=A&names=B`: a
/// docker-archive tar of them, as `save` (several: `save -m`).
pub fn get(ctx: &Ctx, conn: &mut Conn, req: &Request, name: Option<&str>) -> Result<Reply> {
    use crate::engine::types::{SaveFormat, SaveOptions};
    use std::io::Write;
    let store = (ctx.open_store)()?;
    let names: Vec<String> = match name {
        Some(n) => vec![n.to_string()],
        None => req
            .q_all("names")
            .into_iter()
            .flat_map(|n| n.split(',').map(str::to_string).collect::<Vec<_>>())
            .filter(|n| !n.is_empty())
            .collect(),
    };
    if names.is_empty() {
        return Err(api_error(400, "no image names given (names=)"));
    }
    // Every one is checked before the reply starts: an error is still JSON.
    for n in &names {
        find(&store, n)?;
    }
    let s = crate::engine::transfer::Save {
        images: &names,
        format: SaveFormat::DockerArchive,
        multi_image: true,
        options: SaveOptions {
            format: SaveFormat::DockerArchive,
            compress: false,
            uncompressed: false,
            quiet: true,
        },
    };
    conn.start_chunked(200, &common_headers(ctx), "application/x-tar")?;
    let mut out = std::io::BufWriter::with_capacity(256 << 10, ChunkWriter(conn));
    // Once the reply has begun a failure can only cut it short: the client
    // sees a tar without its end.
    let saved = crate::engine::transfer::save_images(
        &store,
        &s,
        crate::engine::transfer::SaveTo::Stream(&mut out),
    );
    if let Err(e) = saved {
        crate::log::error_line(&format!("saving {names:?}: {e:#}"));
        return Ok(Reply::Streamed);
    }
    out.flush()?;
    drop(out);
    conn.end_chunks()?;
    Ok(Reply::Streamed)
}

/// A file of ours removed when done with.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The most an uploaded archive may hold.
const MAX_ARCHIVE: u64 = 64 << 30;

/// A request's body written to a new file in the image store's `tmp/`
/// (`engine::transfer::staging_path`): removed when done with, swept by
/// the next writer if this process is killed first.
fn upload_to_file(
    store: &Store,
    conn: &mut Conn,
    req: &mut Request,
    prefix: &str,
) -> Result<TempFile> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = TempFile(crate::engine::transfer::staging_path(store, prefix)?);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp.0)?;
    conn.copy_body(req, &mut file, MAX_ARCHIVE)?;
    Ok(tmp)
}

/// `POST /images/load` (a tar body, as `load`): Docker's answer is a
/// JSON stream of `Loaded image: NAME` lines; libpod's `{"Names": [...]}`.
pub fn load(ctx: &Ctx, conn: &mut Conn, req: &mut Request, api: Api) -> Result<Reply> {
    use crate::engine::types::LoadInput;
    let store = (ctx.open_store)()?;
    // The archive goes to a file first: the loader reads it more than once.
    let tmp = upload_to_file(&store, conn, req, "api-load-")?;
    let loaded = crate::engine::transfer::load_images(&store, LoadInput::Path(tmp.0.clone()), true)
        .map_err(|e| {
            api_error(
                400,
                format!("payload does not match any of the supported image formats: {e:#}"),
            )
        })?;
    let names: Vec<String> = loaded
        .iter()
        .flat_map(|img| match img.names.is_empty() {
            true => vec![format!("sha256:{}", img.id)],
            false => img.names.clone(),
        })
        .collect();
    if api == Api::Libpod {
        return Ok(Reply::Json(200, json!({"Names": names})));
    }
    let lines: String = names
        .iter()
        .map(|n| format!("{}\n", json!({"stream": format!("Loaded image: {n}\n")})))
        .collect();
    Ok(Reply::Body(200, "application/json", lines.into_bytes()))
}

/// `POST /images/prune`: `image prune` (`filters` as its `--filter`;
/// Docker's `dangling=false`, or libpod's `all=true`, is `--all`).
/// Docker's answer lists what went and the bytes freed; libpod's is one
/// report per image.
pub fn prune(ctx: &Ctx, req: &Request, api: Api) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let mut all = req.q_bool("all", false)?;
    let mut filters = Vec::new();
    for f in req.filters()? {
        match f.as_str() {
            "dangling=false" | "dangling=0" => all = true,
            "dangling=true" | "dangling=1" => {}
            _ => filters.push(f),
        }
    }
    let sizes: std::collections::HashMap<String, u64> = store
        .images
        .load()?
        .list
        .into_iter()
        .map(|i| (i.id, i.size))
        .collect();
    let removed = crate::cmd::image_list::prune_images(&store, all, &filters, false)
        .map_err(|e| api_error(400, format!("{e:#}")))?;
    let size_of = |id: &String| sizes.get(id).copied().unwrap_or(0);
    if api == Api::Libpod {
        let reports: Vec<Value> = removed
            .iter()
            .map(|id| json!({"Id": id, "Err": null, "Size": size_of(id)}))
            .collect();
        return Ok(Reply::Json(200, Value::Array(reports)));
    }
    let deleted: Vec<Value> = removed
        .iter()
        .map(|id| json!({"Deleted": format!("sha256:{id}")}))
        .collect();
    Ok(Reply::Json(
        200,
        json!({"ImagesDeleted": deleted, "SpaceReclaimed": removed.iter().map(size_of).sum::<u64>()}),
    ))
}

/// `POST /images/create?fromSrc=-` (Docker's: the body is the tarball, or
/// `fromSrc=URL`; `repo`, `tag`, `message`, `changes`) and libpod's
/// `POST /libpod/images/import` (`reference`, `url`): `import`.
pub fn import(ctx: &Ctx, conn: &mut Conn, req: &mut Request, api: Api) -> Result<Reply> {
    use crate::engine::commit::{ImportPlatform, ImportSource};
    use crate::engine::types::CommitOptions;
    let store = (ctx.open_store)()?;
    let url = match api {
        Api::Libpod => req.q("url").filter(|u| !u.is_empty()),
        Api::Compat => req.q("fromSrc").filter(|u| *u != "-"),
    };
    let reference = match api {
        Api::Libpod => req
            .q("reference")
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        Api::Compat => req.q("repo").filter(|r| !r.is_empty()).map(|r| {
            match req.q("tag").filter(|t| !t.is_empty()) {
                Some(t) => format!("{r}:{t}"),
                None => r.to_string(),
            }
        }),
    };
    let mut names = Vec::new();
    if let Some(r) = &reference {
        names.push(
            crate::engine::images::local_name(r).map_err(|e| api_error(400, format!("{e:#}")))?,
        );
    }
    let opts = CommitOptions {
        message: req
            .q("message")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        changes: req.q_all("changes"),
        names,
        ..CommitOptions::default()
    };
    let platform = ImportPlatform {
        os: req.q("os").filter(|s| !s.is_empty()).map(str::to_string),
        arch: req.q("arch").filter(|s| !s.is_empty()).map(str::to_string),
        variant: req
            .q("variant")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    };
    let tmp;
    let source = match url {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            ImportSource::Url(u.to_string())
        }
        Some(u) => return Err(api_error(400, format!("{u}: not an http(s) URL"))),
        None => {
            tmp = upload_to_file(&store, conn, req, "api-import-")?;
            ImportSource::File(tmp.0.clone())
        }
    };
    let img = crate::engine::commit::import(&store, &source, opts, reference.as_deref(), &platform)
        .map_err(|e| api_error(400, format!("{e:#}")))?;
    if api == Api::Libpod {
        return Ok(Reply::Json(200, json!({"Id": img.id})));
    }
    let line = json!({"status": format!("sha256:{}", img.id)});
    Ok(Reply::Body(
        200,
        "application/json",
        format!("{line}\n").into_bytes(),
    ))
}
