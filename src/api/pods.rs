//! libpod's pods: list, inspect, exists, create (a basic
//! PodSpecGenerator written as a `pod create` command line), start, stop,
//! kill, remove. The documents are `pod ps --format json`'s and `pod
//! inspect`'s.

use super::http::Request;
use super::reply::{api_error, Reply};
use super::Ctx;
use crate::engine::pods::{self, list_all, pod_id};
use crate::engine::types::{PodConfig, Store};
use anyhow::Result;
use serde_json::{json, Value};

fn listed(store: &Store, name: &str) -> Result<crate::engine::pods::Listed> {
    let id = pod_id(store, name)?;
    list_all(store)?
        .into_iter()
        .find(|l| l.pod.id == id)
        .ok_or_else(|| pods::no_such_pod(name))
}

fn config(store: &Store, name: &str) -> Result<PodConfig> {
    Ok(listed(store, name)?.pod)
}

/// `GET /libpod/pods/json?filters=`: `pod ps --format json`, `--filter`.
pub fn list(ctx: &Ctx, req: &Request) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let preds = crate::cmd::pod::build_filters(&req.filters()?)
        .map_err(|e| api_error(400, format!("{e:#}")))?;
    let rows: Vec<Value> = list_all(&store)?
        .iter()
        .rev()
        .filter(|l| preds.iter().all(|p| p(l)))
        .map(crate::cmd::pod::json_row)
        .collect();
    Ok(Reply::Json(200, Value::Array(rows)))
}

/// `GET /libpod/pods/{name}/json`: `pod inspect`.
pub fn inspect(ctx: &Ctx, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let l = listed(&store, name)?;
    Ok(Reply::Json(200, crate::cmd::pod::inspect_json(&store, &l)?))
}

pub fn exists(ctx: &Ctx, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    pod_id(&store, name)?;
    Ok(Reply::Empty(204))
}

/// The create flags a PodSpecGenerator's basic fields mean.
fn create_words(b: &Value) -> Result<Vec<String>> {
    let mut w = Vec::new();
    let text = |k: &str| b[k].as_str().filter(|s| !s.is_empty());
    if let Some(n) = text("name") {
        w.push(format!("--name={n}"));
    }
    if let Some(h) = text("hostname") {
        w.push(format!("--hostname={h}"));
    }
    for (k, v) in b["labels"].as_object().into_iter().flatten() {
        w.push(format!("--label={k}={}", v.as_str().unwrap_or_default()));
    }
    if b["no_infra"] == json!(true) {
        w.push("--infra=false".into());
    }
    if let Some(i) = text("infra_image") {
        w.push(format!("--infra-image={i}"));
    }
    let share: Vec<&str> = b["shared_namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !share.is_empty() {
        w.push(format!("--share={}", share.join(",")));
    }
    if let Some(mode) = b["netns"]["nsmode"].as_str().filter(|m| !m.is_empty()) {
        let net = match (mode, b["netns"]["value"].as_str()) {
            ("bridge", _) => "bridge".to_string(),
            ("none" | "host" | "private", _) => mode.to_string(),
            ("path", Some(p)) => format!("ns:{p}"),
            (other, _) => {
                return Err(api_error(
                    400,
                    format!("netns mode {other:?} is not supported"),
                ))
            }
        };
        w.push(format!("--network={net}"));
    }
    for p in b["portmappings"].as_array().into_iter().flatten() {
        let Some(cport) = p["container_port"].as_u64() else {
            return Err(api_error(400, "a port mapping needs container_port"));
        };
        let host = p["host_port"].as_u64().unwrap_or(cport);
        let ip = p["host_ip"].as_str().filter(|s| !s.is_empty());
        let proto = p["protocol"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("tcp");
        let spec = match ip {
            Some(ip) => format!("{ip}:{host}:{cport}/{proto}"),
            None => format!("{host}:{cport}/{proto}"),
        };
        w.push(format!("--publish={spec}"));
    }
    Ok(w)
}

/// `POST /libpod/pods/create`: `{"Id": ...}` with 201.
pub fn create(ctx: &Ctx, req: &Request) -> Result<Reply> {
    let body: Value = match req.body.is_empty() {
        true => json!({}),
        false => serde_json::from_slice(&req.body)
            .map_err(|e| api_error(400, format!("decode(): {e}")))?,
    };
    let words = create_words(&body)?;
    let store = (ctx.open_store)()?;
    // A name in use is refused before anything is made.
    if let Some(name) = body["name"].as_str().filter(|n| !n.is_empty()) {
        if crate::engine::pods::try_pod_id(&store, name)?.is_some() {
            return Err(api_error(
                409,
                format!("adding pod to state: name \"{name}\" is in use: pod already exists"),
            ));
        }
    }
    let pod = crate::cmd::pod::create_from_words(&store, &words).map_err(|e| {
        let text = format!("{e:#}");
        let status = if text.contains("already in use") || text.contains("already exists") {
            409
        } else {
            400
        };
        api_error(status, text)
    })?;
    Ok(Reply::Json(201, json!({"Id": pod.id})))
}

/// `POST /libpod/pods/{name}/{start,stop,restart,kill}` and `DELETE`:
/// podman's report, `{"Errs": [], "Id": ...}` (`{"Err": null, "Id"}` for
/// a removal).
pub fn action(ctx: &Ctx, req: &Request, name: &str, what: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let pod = config(&store, name)?;
    let timeout = match req.q_int("t")? {
        Some(t) => {
            Some(u32::try_from(t).map_err(|_| api_error(400, format!("t={t}: out of range")))?)
        }
        None => None,
    };
    match what {
        "start" => pods::start(&store, &pod, false)?,
        "restart" => pods::start(&store, &pod, true)?,
        "stop" => pods::stop(&store, &pod, timeout)?,
        "kill" => {
            let sig = crate::engine::containers::parse_signal(req.q("signal").unwrap_or("SIGKILL"))
                .map_err(|e| api_error(400, format!("{e:#}")))?;
            pods::kill(&store, &pod, sig)?
        }
        _ => {
            pods::remove(&store, &pod, req.q_bool("force", false)?, timeout)?;
            return Ok(Reply::Json(200, json!({"Err": null, "Id": pod.id})));
        }
    }
    Ok(Reply::Json(200, json!({"Errs": [], "Id": pod.id})))
}
