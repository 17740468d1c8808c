//! Volumes (list, create, inspect, remove) and networks (list, inspect),
//! as the `volume` and `network` verbs' documents; Docker's shapes are
//! made from them.

use super::http::Request;
use super::reply::{api_error, Api, Reply};
use super::Ctx;
use crate::engine::types::Store;
use anyhow::Result;
use serde_json::{json, Map, Value};

fn volume_doc(store: &Store, name: &str) -> Result<Value> {
    let users = crate::engine::volumes::users(store)?;
    let Some(rec) = store.volumes.load(name)? else {
        return Err(api_error(
            404,
            format!("no volume with name {name:?} found: no such volume"),
        ));
    };
    let u = users.get(&rec.name).cloned().unwrap_or_default();
    crate::cmd::volume::volume_json(store, &rec, &u, true)
}

/// `GET /volumes` (Docker: `{"Volumes": [...], "Warnings": []}`) and
/// `GET /libpod/volumes/json` (a list), `filters` as `volume ls --filter`.
pub fn volume_list(ctx: &Ctx, req: &Request, api: Api) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let filters = crate::cmd::volume::parse_filters(&req.filters()?, false)
        .map_err(|e| api_error(400, format!("{e:#}")))?;
    let users = crate::engine::volumes::users(&store)?;
    let none = Vec::new();
    let mut docs = Vec::new();
    for v in store.volumes.list()? {
        let u = users.get(&v.name).unwrap_or(&none);
        if filters.iter().all(|f| f.matches(&v, u.len())) {
            docs.push(crate::cmd::volume::volume_json(&store, &v, u, false)?);
        }
    }
    Ok(match api {
        Api::Libpod => Reply::Json(200, Value::Array(docs)),
        Api::Compat => Reply::Json(200, json!({"Volumes": docs, "Warnings": []})),
    })
}

/// `POST /volumes/create`: Docker's `{Name, Driver, DriverOpts, Labels}`
/// or libpod's `{Name, Driver, Options, Label}`.
pub fn volume_create(ctx: &Ctx, req: &Request, api: Api) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let body: Value = match req.body.is_empty() {
        true => json!({}),
        false => serde_json::from_slice(&req.body)
            .map_err(|e| api_error(400, format!("decode(): {e}")))?,
    };
    let map_of = |keys: &[&str]| -> Map<String, Value> {
        keys.iter()
            .find_map(|k| body.get(*k).and_then(Value::as_object).cloned())
            .unwrap_or_default()
    };
    let options = map_of(&["DriverOpts", "Options"])
        .into_iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    let labels = map_of(&["Labels", "Label"])
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect();
    let name = body["Name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    // Docker's create of an existing volume answers it (podman's too).
    if let Some(n) = &name {
        if api == Api::Compat && store.volumes.load(n)?.is_some() {
            return Ok(Reply::Json(201, volume_doc(&store, n)?));
        }
    }
    let created = crate::engine::volumes::create(
        &store,
        crate::engine::volumes::NewVolume {
            name,
            driver: body["Driver"]
                .as_str()
                .filter(|d| !d.is_empty())
                .unwrap_or("local")
                .to_string(),
            options,
            labels,
            ignore_existing: false,
            uid: None,
            gid: None,
        },
    )?;
    Ok(Reply::Json(201, volume_doc(&store, &created)?))
}

pub fn volume_inspect(ctx: &Ctx, _api: Api, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    Ok(Reply::Json(200, volume_doc(&store, name)?))
}

/// `DELETE /volumes/{name}?force=`: 409 while a container uses it.
pub fn volume_remove(ctx: &Ctx, req: &Request, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    volume_doc(&store, name)?;
    crate::engine::volumes::remove(
        &store,
        &crate::engine::volumes::Removal {
            names: vec![name.to_string()],
            all: false,
            force: req.q_bool("force", false)?,
            stop_timeout: None,
        },
    )?;
    Ok(Reply::Empty(204))
}

/// Docker's network document from podman's (netavark's) one.
fn compat_network(doc: &Value) -> Value {
    let config: Vec<Value> = doc["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| json!({"Subnet": s["subnet"], "Gateway": s["gateway"]}))
        .collect();
    json!({
        "Name": doc["name"],
        "Id": doc["id"],
        "Created": doc["created"],
        "Scope": "local",
        "Driver": doc["driver"],
        "EnableIPv6": doc["ipv6_enabled"],
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": doc["internal"],
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": {},
        "Options": doc.get("options").cloned().unwrap_or(json!({})),
        "Labels": doc.get("labels").cloned().unwrap_or(json!({})),
    })
}

pub fn network_list(ctx: &Ctx, api: Api) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let list = crate::engine::networks::list(&store, &[])?;
    let docs = list
        .iter()
        .map(|l| crate::cmd::network::network_json(&store, l))
        .map(|d| {
            if api == Api::Compat {
                compat_network(&d)
            } else {
                d
            }
        })
        .collect();
    Ok(Reply::Json(200, Value::Array(docs)))
}

pub fn network_inspect(ctx: &Ctx, api: Api, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let network = crate::engine::networks::find(&store, name)
        .map_err(|e| api_error(404, format!("{e:#}: network not found")))?;
    let mut users = crate::engine::networks::users(&store)?;
    let l = crate::engine::networks::Listed {
        containers: users.remove(&network.name).unwrap_or_default(),
        network,
    };
    let doc = crate::cmd::network::network_json(&store, &l);
    Ok(Reply::Json(
        200,
        if api == Api::Compat {
            compat_network(&doc)
        } else {
            doc
        },
    ))
}
