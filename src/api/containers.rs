//! Containers: list, create (Docker's body and libpod's SpecGenerator,
//! both made a `create` command line so every default is the CLI's),
//! inspect, the lifecycle verbs, logs, attach, remove, prune.

use super::http::{frame, Conn, Request};
use super::reply::{api_error, common_headers, Api, Reply};
use super::Ctx;
use crate::engine::containers::{self as ctrs, Listed, WaitCondition};
use crate::engine::types::{is_running, LogRecord, Status, Store};
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::time::{Duration, SystemTime};

fn id_of(store: &Store, name: &str) -> Result<String> {
    crate::engine::lookup::container_id(store, name)
}

fn unix_of(s: Option<&str>) -> i64 {
    s.filter(|s| !s.is_empty())
        .and_then(|s| crate::format::human::parse_rfc3339(s).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// `GET /containers/json`: running ones (`all` for every one), newest
/// first, `limit`ed, `filters` as `ps --filter`.
pub fn list(ctx: &Ctx, req: &Request, api: Api) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let limit = req.q_int("limit")?.filter(|n| *n > 0);
    let all = req.q_bool("all", false)? || limit.is_some();
    let filters = req.filters()?;
    let keep: Option<Vec<String>> = match filters.is_empty() {
        true => None,
        false => Some(crate::cmd::ps::filtered_ids(&store, &filters)?),
    };
    let mut listed: Vec<Listed> = ctrs::list_summaries(&store)?
        .into_iter()
        .filter(|l| all || is_running(&l.state))
        .filter(|l| keep.as_ref().is_none_or(|k| k.contains(&l.cfg.id)))
        .filter(|l| !l.cfg.is_infra || api == Api::Libpod)
        .collect();
    listed.reverse();
    if let Some(n) = limit {
        listed.truncate(n as usize);
    }
    let now = SystemTime::now();
    let rows: Vec<Value> = match api {
        Api::Libpod => {
            let pods = crate::cmd::ps::pod_names(&store, &listed);
            listed
                .iter()
                .map(|l| {
                    let pod = pods.get(&l.cfg.pod).map(String::as_str).unwrap_or("");
                    crate::cmd::ps::json_row(l, now, None, pod)
                })
                .collect()
        }
        Api::Compat => listed.iter().map(|l| compat_row(l, now)).collect(),
    };
    Ok(Reply::Json(200, Value::Array(rows)))
}

/// Docker's STATUS: podman's, without "ago" after an uptime.
fn compat_status(l: &Listed, now: SystemTime) -> String {
    let s = crate::cmd::ps::status_text(l, now);
    match s.strip_prefix("Up ") {
        Some(rest) => format!("Up {}", rest.replacen(" ago", "", 1)),
        None => s,
    }
}

fn compat_ports(l: &Listed) -> Vec<Value> {
    l.cfg
        .ports
        .iter()
        .map(|p| {
            json!({
                "IP": if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip },
                "PrivatePort": p.container_port,
                "PublicPort": p.host_port,
                "Type": p.protocol,
            })
        })
        .collect()
}

/// Docker's list entry.
fn compat_row(l: &Listed, now: SystemTime) -> Value {
    let c = &l.cfg;
    let networks: Map<String, Value> = crate::engine::networks::networks_of(c)
        .iter()
        .map(|n| (n.clone(), json!({"NetworkID": n})))
        .collect();
    json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image_name,
        "ImageID": format!("sha256:{}", c.image_id),
        "Command": c.args.join(" "),
        "Created": unix_of(Some(&c.created)),
        "Ports": compat_ports(l),
        "Labels": c.labels,
        "State": l.state.status.as_str(),
        "Status": compat_status(l, now),
        "HostConfig": {"NetworkMode": network_mode_name(c)},
        "NetworkSettings": {"Networks": networks},
        "Mounts": c.mounts.iter().map(|m| json!({"Destination": m.destination})).collect::<Vec<_>>(),
    })
}

fn network_mode_name(c: &crate::engine::types::ContainerConfig) -> String {
    let s = c.network.to_string();
    if s.is_empty() {
        "bridge".into()
    } else {
        s
    }
}

/// The words of `-e`, `--label`... pairs, in flag syntax.
fn push_each(words: &mut Vec<String>, flag: &str, values: Option<&Value>) {
    if let Some(Value::Array(a)) = values {
        for v in a.iter().filter_map(Value::as_str) {
            words.push(format!("{flag}={v}"));
        }
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn parse_body(req: &Request) -> Result<Value> {
    if req.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&req.body).map_err(|e| api_error(400, format!("decode(): {e}")))
}

/// Docker's create body as a `create` command line.
fn compat_words(body: &Value, name: Option<&str>) -> Result<Vec<String>> {
    let mut w: Vec<String> = vec!["--pull=never".into()];
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        w.push(format!("--name={n}"));
    }
    push_each(&mut w, "--env", body.get("Env"));
    if let Some(Value::Object(labels)) = body.get("Labels") {
        for (k, v) in labels {
            w.push(format!("--label={k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for (key, flag) in [
        ("WorkingDir", "--workdir"),
        ("User", "--user"),
        ("Hostname", "--hostname"),
        ("StopSignal", "--stop-signal"),
    ] {
        if let Some(v) = str_of(body, key) {
            w.push(format!("{flag}={v}"));
        }
    }
    if let Some(t) = body.get("StopTimeout").and_then(Value::as_i64) {
        w.push(format!("--stop-timeout={t}"));
    }
    if body.get("Tty").and_then(Value::as_bool) == Some(true) {
        w.push("--tty".into());
    }
    if body.get("OpenStdin").and_then(Value::as_bool) == Some(true) {
        w.push("--interactive".into());
    }
    match body.get("Entrypoint") {
        Some(Value::String(s)) if !s.is_empty() => w.push(format!("--entrypoint={s}")),
        Some(v @ Value::Array(_)) => w.push(format!("--entrypoint={v}")),
        _ => {}
    }
    if let Some(Value::Object(ports)) = body.get("ExposedPorts") {
        for p in ports.keys() {
            w.push(format!("--expose={p}"));
        }
    }
    let empty = json!({});
    let h = body.get("HostConfig").unwrap_or(&empty);
    push_each(&mut w, "--volume", h.get("Binds"));
    push_each(&mut w, "--dns", h.get("Dns"));
    push_each(&mut w, "--dns-search", h.get("DnsSearch"));
    push_each(&mut w, "--dns-option", h.get("DnsOptions"));
    push_each(&mut w, "--add-host", h.get("ExtraHosts"));
    push_each(&mut w, "--cap-add", h.get("CapAdd"));
    push_each(&mut w, "--cap-drop", h.get("CapDrop"));
    push_each(&mut w, "--security-opt", h.get("SecurityOpt"));
    push_each(&mut w, "--volumes-from", h.get("VolumesFrom"));
    if let Some(Value::Object(bindings)) = h.get("PortBindings") {
        for (port, list) in bindings {
            for b in list.as_array().into_iter().flatten() {
                let ip = str_of(b, "HostIp").unwrap_or("");
                let hp = str_of(b, "HostPort").unwrap_or("");
                w.push(match (ip, hp) {
                    ("", "") => format!("--publish={port}"),
                    ("", hp) => format!("--publish={hp}:{port}"),
                    (ip, hp) => format!("--publish={ip}:{hp}:{port}"),
                });
            }
        }
    }
    if let Some(Value::Array(mounts)) = h.get("Mounts") {
        for m in mounts {
            let mut spec = format!(
                "type={},target={}",
                str_of(m, "Type").unwrap_or("volume"),
                str_of(m, "Target").unwrap_or_default()
            );
            if let Some(s) = str_of(m, "Source") {
                spec.push_str(&format!(",source={s}"));
            }
            if m.get("ReadOnly").and_then(Value::as_bool) == Some(true) {
                spec.push_str(",readonly");
            }
            w.push(format!("--mount={spec}"));
        }
    }
    if let Some(Value::Object(t)) = h.get("Tmpfs") {
        for (path, opts) in t {
            match opts.as_str().filter(|o| !o.is_empty()) {
                Some(o) => w.push(format!("--tmpfs={path}:{o}")),
                None => w.push(format!("--tmpfs={path}")),
            }
        }
    }
    for (key, flag) in [
        ("AutoRemove", "--rm"),
        ("Privileged", "--privileged"),
        ("ReadonlyRootfs", "--read-only"),
        ("PublishAllPorts", "--publish-all"),
        ("Init", "--init"),
    ] {
        if h.get(key).and_then(Value::as_bool) == Some(true) {
            w.push(flag.into());
        }
    }
    match str_of(h, "NetworkMode") {
        None | Some("default") => {}
        Some(n) => w.push(format!("--network={n}")),
    }
    for (key, flag) in [
        ("Memory", "--memory"),
        ("MemorySwap", "--memory-swap"),
        ("MemoryReservation", "--memory-reservation"),
        ("CpuShares", "--cpu-shares"),
        ("CpuQuota", "--cpu-quota"),
        ("CpuPeriod", "--cpu-period"),
        ("PidsLimit", "--pids-limit"),
    ] {
        if let Some(n) = h.get(key).and_then(Value::as_i64).filter(|n| *n != 0) {
            w.push(format!("{flag}={n}"));
        }
    }
    if let Some(n) = h.get("NanoCpus").and_then(Value::as_i64).filter(|n| *n > 0) {
        w.push(format!("--cpus={}", n as f64 / 1e9));
    }
    if let Some(s) = str_of(h, "CpusetCpus") {
        w.push(format!("--cpuset-cpus={s}"));
    }
    if let Some(p) = h.get("RestartPolicy") {
        match str_of(p, "Name") {
            None | Some("no") => {}
            Some("on-failure") => match p.get("MaximumRetryCount").and_then(Value::as_u64) {
                Some(n) if n > 0 => w.push(format!("--restart=on-failure:{n}")),
                _ => w.push("--restart=on-failure".into()),
            },
            Some(other) => w.push(format!("--restart={other}")),
        }
    }
    let Some(image) = str_of(body, "Image") else {
        return Err(api_error(400, "Image is required"));
    };
    w.push(image.to_string());
    if let Some(Value::Array(cmd)) = body.get("Cmd") {
        w.extend(cmd.iter().filter_map(Value::as_str).map(str::to_string));
    }
    Ok(w)
}

/// libpod's SpecGenerator body (its main fields) as a command line.
fn libpod_words(b: &Value) -> Result<Vec<String>> {
    let mut w: Vec<String> = Vec::new();
    if let Some(n) = str_of(b, "name") {
        w.push(format!("--name={n}"));
    }
    if let Some(Value::Object(env)) = b.get("env") {
        for (k, v) in env {
            w.push(format!("--env={k}={}", v.as_str().unwrap_or_default()));
        }
    }
    if let Some(Value::Object(labels)) = b.get("labels") {
        for (k, v) in labels {
            w.push(format!("--label={k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for (key, flag) in [
        ("work_dir", "--workdir"),
        ("user", "--user"),
        ("hostname", "--hostname"),
        ("pod", "--pod"),
        ("restart_policy", "--restart"),
    ] {
        if let Some(v) = str_of(b, key) {
            w.push(format!("{flag}={v}"));
        }
    }
    for (key, flag) in [
        ("terminal", "--tty"),
        ("stdin", "--interactive"),
        ("remove", "--rm"),
        ("privileged", "--privileged"),
        ("read_only_filesystem", "--read-only"),
        ("publish_image_ports", "--publish-all"),
        ("init", "--init"),
    ] {
        if b.get(key).and_then(Value::as_bool) == Some(true) {
            w.push(flag.into());
        }
    }
    if let Some(Value::Array(ep)) = b.get("entrypoint") {
        w.push(format!("--entrypoint={}", Value::Array(ep.clone())));
    }
    push_each(&mut w, "--cap-add", b.get("cap_add"));
    push_each(&mut w, "--cap-drop", b.get("cap_drop"));
    for m in b
        .get("mounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut spec = format!(
            "type={},source={},target={}",
            str_of(m, "type").unwrap_or("bind"),
            str_of(m, "source").unwrap_or_default(),
            str_of(m, "destination").unwrap_or_default()
        );
        for o in m
            .get("options")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(o) = o.as_str() {
                spec.push_str(&format!(",{o}"));
            }
        }
        w.push(format!("--mount={spec}"));
    }
    for v in b
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        w.push(format!(
            "--volume={}:{}",
            str_of(v, "Name").unwrap_or_default(),
            str_of(v, "Dest").unwrap_or_default()
        ));
    }
    for p in b
        .get("portmappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let cp = p.get("container_port").and_then(Value::as_u64).unwrap_or(0);
        let hp = p.get("host_port").and_then(Value::as_u64).unwrap_or(0);
        let proto = str_of(p, "protocol").unwrap_or("tcp");
        let ip = str_of(p, "host_ip")
            .map(|i| format!("{i}:"))
            .unwrap_or_default();
        let hp = if hp == 0 {
            String::new()
        } else {
            hp.to_string()
        };
        w.push(format!("--publish={ip}{hp}:{cp}/{proto}"));
    }
    if let Some(ns) = b.get("netns").and_then(|n| str_of(n, "nsmode")) {
        w.push(format!(
            "--network={}",
            if ns == "private" { "bridge" } else { ns }
        ));
    }
    if let Some(Value::Object(nets)) = b.get("Networks") {
        for n in nets.keys() {
            w.push(format!("--network={n}"));
        }
    }
    if let Some(m) = b
        .pointer("/resource_limits/memory/limit")
        .and_then(Value::as_i64)
    {
        w.push(format!("--memory={m}"));
    }
    if let Some(p) = b
        .pointer("/resource_limits/pids/limit")
        .and_then(Value::as_i64)
    {
        w.push(format!("--pids-limit={p}"));
    }
    let Some(image) = str_of(b, "image") else {
        return Err(api_error(400, "no image or rootfs specified"));
    };
    w.push(image.to_string());
    if let Some(Value::Array(cmd)) = b.get("command") {
        w.extend(cmd.iter().filter_map(Value::as_str).map(str::to_string));
    }
    Ok(w)
}

fn create_from_words(ctx: &Ctx, words: &[String]) -> Result<String> {
    let store = (ctx.open_store)()?;
    let req =
        crate::cmd::run::request_from_words(words).map_err(|e| api_error(400, format!("{e:#}")))?;
    let cfg = crate::engine::create::create_container(&store, req)?;
    Ok(cfg.id)
}

/// `POST /containers/create?name=`: Docker's body. A missing image is a
/// 404 (Docker's clients pull it then and try again).
pub fn create_compat(ctx: &Ctx, req: &Request) -> Result<Reply> {
    let body = parse_body(req)?;
    let words = compat_words(&body, req.q("name"))?;
    let id = create_from_words(ctx, &words)?;
    Ok(Reply::Json(201, json!({"Id": id, "Warnings": []})))
}

/// `POST /libpod/containers/create`: podman's SpecGenerator.
pub fn create_libpod(ctx: &Ctx, req: &Request) -> Result<Reply> {
    let body = parse_body(req)?;
    let words = libpod_words(&body)?;
    let id = create_from_words(ctx, &words)?;
    Ok(Reply::Json(201, json!({"Id": id, "Warnings": []})))
}

/// `GET /containers/{id}/json`: `inspect`'s document; Docker's has the
/// name with its slash.
pub fn inspect(ctx: &Ctx, _req: &Request, api: Api, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    let mut doc = crate::cmd::inspect::inspect_json(&store, &id)?;
    if api == Api::Compat {
        if let Some(n) = doc
            .get("Name")
            .and_then(Value::as_str)
            .map(|n| format!("/{n}"))
        {
            doc["Name"] = json!(n);
        }
        doc["Image"] = json!(format!(
            "sha256:{}",
            doc["Image"].as_str().unwrap_or_default()
        ));
        // Docker's clients decode it as a string (a signal name).
        if let Some(n) = doc["Config"]["StopSignal"].as_i64() {
            let name = nix::sys::signal::Signal::try_from(n as i32)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| n.to_string());
            doc["Config"]["StopSignal"] = json!(name);
        }
    }
    Ok(Reply::Json(200, doc))
}

pub fn exists(ctx: &Ctx, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    id_of(&store, name)?;
    Ok(Reply::Empty(204))
}

/// Start; 304 when it runs already.
pub fn start(ctx: &Ctx, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    if ctrs::is_running_now(&store, &id) {
        return Ok(Reply::Empty(304));
    }
    crate::engine::create::start_detached(&store, &id)?;
    Ok(Reply::Empty(204))
}

fn timeout_of(req: &Request) -> Result<Option<u32>> {
    let t = match req.q_int("t")? {
        Some(t) => Some(t),
        None => req.q_int("timeout")?,
    };
    Ok(t.map(|t| t.max(0) as u32))
}

/// Stop; 304 when it is not running.
pub fn stop(ctx: &Ctx, req: &Request, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    if !ctrs::is_running_now(&store, &id) {
        return Ok(Reply::Empty(304));
    }
    ctrs::stop(&store, &id, timeout_of(req)?)?;
    Ok(Reply::Empty(204))
}

/// Send a signal (default SIGKILL); 409 when it is not running.
pub fn kill(ctx: &Ctx, req: &Request, _api: Api, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    let sig = ctrs::parse_signal(req.q("signal").filter(|s| !s.is_empty()).unwrap_or("KILL"))
        .map_err(|e| api_error(400, format!("{e:#}")))?;
    if !ctrs::is_running_now(&store, &id) {
        return Err(api_error(
            409,
            format!(
                "can only kill running containers. {id} is in state {}: container state improper",
                ctrs::state(&store, &id)?.status.as_str()
            ),
        ));
    }
    ctrs::kill(&store, &id, sig)?;
    Ok(Reply::Empty(204))
}

pub fn restart(ctx: &Ctx, req: &Request, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    ctrs::restart(&store, &id, timeout_of(req)?)?;
    Ok(Reply::Empty(204))
}

pub fn pause(ctx: &Ctx, name: &str, pause: bool) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    match pause {
        true => ctrs::pause(&store, &id)?,
        false => ctrs::unpause(&store, &id)?,
    }
    Ok(Reply::Empty(204))
}

pub fn rename(ctx: &Ctx, req: &Request, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    let Some(new) = req.q("name").filter(|n| !n.is_empty()) else {
        return Err(api_error(400, "a new name is required (name=)"));
    };
    ctrs::rename(&store, &id, new)?;
    Ok(Reply::Empty(204))
}

/// `top`: `ps_args` as `top`'s descriptors; Docker's Titles/Processes.
pub fn top(ctx: &Ctx, req: &Request, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let mut args = vec![name.to_string()];
    if let Some(a) = req.q("ps_args").filter(|a| !a.is_empty()) {
        args.extend(a.split_whitespace().map(str::to_string));
    }
    let rows = match crate::engine::top::container_top(&store, false, &args)? {
        crate::engine::top::TopReport::Rows(rows) => rows,
        crate::engine::top::TopReport::Lines(lines) => lines
            .iter()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect(),
    };
    let titles = rows.first().cloned().unwrap_or_default();
    let processes: Vec<Vec<String>> = rows.into_iter().skip(1).collect();
    Ok(Reply::Json(
        200,
        json!({"Titles": titles, "Processes": processes}),
    ))
}

/// `DELETE /containers/{id}?force=&v=`: 409 for a running one without
/// force.
pub fn remove(ctx: &Ctx, req: &Request, api: Api, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    let force = req.q_bool("force", false)?;
    let volumes = req.q_bool("v", false)? || req.q_bool("volumes", false)?;
    if !force && ctrs::is_running_now(&store, &id) {
        return Err(api_error(
            409,
            format!("cannot remove container {id} as it is running - running or paused containers cannot be removed without force: container state improper"),
        ));
    }
    // Docker's forced removal kills at once; podman's waits the timeout.
    let stop_timeout = match (timeout_of(req)?, api) {
        (Some(t), _) => Some(t),
        (None, Api::Compat) => Some(0),
        (None, Api::Libpod) => None,
    };
    let how = ctrs::Removal {
        force,
        stop_timeout,
        volumes,
    };
    ctrs::remove(&store, &id, how)?;
    Ok(match api {
        Api::Compat => Reply::Empty(204),
        Api::Libpod => Reply::Json(200, json!([{"Id": id, "Err": null, "RawInput": name}])),
    })
}

pub fn prune(ctx: &Ctx, req: &Request) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let filter =
        ctrs::PruneFilter::parse(&req.filters()?).map_err(|e| api_error(400, format!("{e:#}")))?;
    let report = ctrs::prune(&store, &filter)?;
    if let Some(e) = report.error {
        return Err(e);
    }
    Ok(Reply::Json(
        200,
        json!({"ContainersDeleted": report.removed, "SpaceReclaimed": 0}),
    ))
}

/// `wait?condition=`: Docker's `not-running` (default; a created one
/// answers at once), `next-exit` (its next stop after a start), `removed`;
/// libpod's are states (`stopped`, `exited`, `running`...) or health
/// statuses. Docker's clients wait for the reply's head before they start
/// the container, so the head goes out first and the body when it ends.
pub fn wait(ctx: &Ctx, conn: &mut Conn, req: &Request, api: Api, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    let conds = req.q_all("condition");
    let cond = conds.first().map(String::as_str).unwrap_or("");
    let libpod_conds: Vec<WaitCondition> = match api {
        Api::Libpod => {
            let list = if conds.is_empty() {
                vec!["stopped".to_string()]
            } else {
                conds.clone()
            };
            list.iter()
                .map(|c| parse_libpod_condition(c))
                .collect::<Result<_>>()?
        }
        Api::Compat => {
            if !["", "not-running", "next-exit", "removed"].contains(&cond) {
                return Err(api_error(400, format!("invalid condition {cond:?}")));
            }
            Vec::new()
        }
    };
    if api == Api::Libpod {
        let code = ctrs::wait(&store, &id, &libpod_conds, Duration::from_millis(250))?;
        return Ok(Reply::Json(200, json!(code)));
    }
    wait_compat(ctx, conn, &store, &id, cond)
}

fn parse_libpod_condition(c: &str) -> Result<WaitCondition> {
    Ok(match c {
        "stopped" | "exited" => WaitCondition::State(Status::Exited),
        "created" | "configured" => WaitCondition::State(Status::Created),
        "running" => WaitCondition::State(Status::Running),
        "paused" => WaitCondition::State(Status::Paused),
        "stopping" => WaitCondition::State(Status::Stopping),
        "initialized" => WaitCondition::State(Status::Initialized),
        "healthy" => WaitCondition::Health("healthy"),
        "unhealthy" => WaitCondition::Health("unhealthy"),
        other => return Err(api_error(400, format!("invalid condition {other:?}"))),
    })
}

fn wait_compat(ctx: &Ctx, conn: &mut Conn, store: &Store, id: &str, cond: &str) -> Result<Reply> {
    conn.start_chunked(200, &common_headers(ctx), "application/json")?;
    let code = match cond {
        "next-exit" => wait_next_exit(store, id, conn, false),
        "removed" => wait_next_exit(store, id, conn, true),
        _ => ctrs::wait(
            store,
            id,
            &[WaitCondition::State(Status::Exited)],
            Duration::from_millis(100),
        ),
    };
    let body = match code {
        Ok(code) => json!({"StatusCode": code, "Error": null}),
        Err(e) => json!({"StatusCode": -1, "Error": {"Message": format!("{e:#}")}}),
    };
    conn.chunk(format!("{body}\n").as_bytes())?;
    conn.end_chunks()?;
    Ok(Reply::Streamed)
}

/// Until the container's next exit (a created one must start first):
/// its code. With `removed`, until it is gone too (a `--rm` container's
/// code is kept by its monitor).
fn wait_next_exit(store: &Store, id: &str, conn: &Conn, removed: bool) -> Result<i32> {
    let first = ctrs::state(store, id)?;
    let mut seen_running = is_running(&first);
    let mut delay = Duration::from_millis(5);
    loop {
        if conn.client_gone() {
            anyhow::bail!("client went away");
        }
        let gone = !store_has(store, id);
        if gone {
            // the monitor kept the exit code of a removed container
            return ctrs::wait(store, id, &[WaitCondition::State(Status::Exited)], delay);
        }
        let st = ctrs::state(store, id)?;
        let ran = seen_running || st.finished_at != first.finished_at;
        if is_running(&st) {
            seen_running = true;
        } else if ran && st.status == Status::Exited && !removed {
            return Ok(st.exit_code);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(100));
    }
}

fn store_has(store: &Store, id: &str) -> bool {
    crate::engine::lookup::try_container_id(store, id)
        .ok()
        .flatten()
        .is_some()
}

/// The bytes of a log record as the streams carry them.
fn record_bytes(r: &LogRecord, timestamps: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if timestamps {
        out.extend_from_slice(r.time.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(&r.text);
    if !r.partial {
        out.push(b'\n');
    }
    out
}

/// `logs`: the records (`tail`, `since`, `until`, `timestamps`), then with
/// `follow` new ones until the container stops; each in Docker's frame
/// unless the container has a terminal.
pub fn logs(ctx: &Ctx, conn: &mut Conn, req: &Request, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    let mut out = req.q_bool("stdout", false)?;
    let mut err = req.q_bool("stderr", false)?;
    if !out && !err {
        if req.path.contains("/libpod/") {
            (out, err) = (true, true);
        } else {
            return Err(api_error(
                400,
                "Bad parameters: you must choose at least one stream",
            ));
        }
    }
    let now = SystemTime::now();
    let time = |k: &str| -> Result<Option<SystemTime>> {
        match req.q(k) {
            None | Some("") | Some("0") => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(secs) => Ok(Some(
                    std::time::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64),
                )),
                Err(_) => crate::format::human::parse_duration_or_time(v, now).map(Some),
            },
        }
    };
    let window = crate::engine::logs::LogWindow {
        since: time("since")?,
        until: time("until")?,
    };
    let tail = match req.q("tail") {
        None | Some("") | Some("all") => -1,
        Some(n) => n
            .parse::<i64>()
            .map_err(|_| api_error(400, format!("invalid tail {n:?}")))?,
    };
    let timestamps = req.q_bool("timestamps", false)?;
    let follow = req.q_bool("follow", false)?;
    let tty = crate::cmd::inspect::inspect_json(&store, &id)?["Config"]["Tty"] == json!(true);
    let mut sources = crate::engine::logs::open(&store, vec![id.clone()], window)?;
    let mut src = sources.remove(0);
    let ct = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    conn.start_chunked(200, &common_headers(ctx), ct)?;
    let send = |conn: &mut Conn, records: &[LogRecord]| -> std::io::Result<()> {
        let mut buf = Vec::new();
        for r in records {
            let stream = if r.stream == "stderr" { 2 } else { 1 };
            if (stream == 1 && !out) || (stream == 2 && !err) {
                continue;
            }
            let bytes = record_bytes(r, timestamps);
            match tty {
                true => buf.extend_from_slice(&bytes),
                false => buf.extend_from_slice(&frame(stream, &bytes)),
            }
        }
        conn.chunk(&buf)
    };
    let first = src.read_existing(tail)?;
    send(conn, &first)?;
    if follow {
        while !src.done() {
            if conn.client_gone() {
                return Ok(Reply::Streamed);
            }
            let new = src.follow(&store)?;
            send(conn, &new)?;
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    conn.end_chunks()?;
    Ok(Reply::Streamed)
}

/// The client's input to a container started with `-i`, through its
/// monitor's attach socket (as `coracle attach` sends it): what comes
/// before the start waits for it, the client's half-close is stdin's end.
struct StdinRelay {
    sock: Option<crate::engine::attach::AttachSocket>,
    queued: Vec<u8>,
    client_done: bool,
    eof_sent: bool,
}

/// Input held for a container that has not started yet, at most.
const STDIN_QUEUE_MAX: usize = 1 << 20;

fn readable(fd: std::os::fd::RawFd, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd for an open descriptor of ours.
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) > 0 }
}

impl StdinRelay {
    /// Still reading the client's input (worth waiting on its socket).
    fn reading(&self) -> bool {
        !self.client_done && self.queued.len() < STDIN_QUEUE_MAX
    }

    fn pump(&mut self, store: &Store, id: &str, conn: &mut Conn, running: bool) -> Result<()> {
        let mut buf = vec![0u8; 32768];
        while self.reading() && (conn.has_pending() || readable(conn.raw_fd(), 0)) {
            let n = conn.read_input(&mut buf)?;
            if n == 0 {
                self.client_done = true;
            }
            self.queued.extend_from_slice(&buf[..n]);
        }
        if self.eof_sent || !running {
            return Ok(());
        }
        if self.sock.is_none() && (!self.queued.is_empty() || self.client_done) {
            self.sock = crate::engine::attach::AttachSocket::connect(store, id).ok();
        }
        let Some(s) = &self.sock else {
            return Ok(());
        };
        // The monitor sends us its output too: not wanted (the log is
        // relayed), but read so that it does not drop us as stalled.
        while readable(s.raw_fd(), 0) {
            // SAFETY: buf is valid for writes of its length.
            let n = unsafe { libc::read(s.raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                self.sock = None;
                return Ok(());
            }
        }
        let mut sent = Ok(());
        if !self.queued.is_empty() {
            sent = s.send_stdin(&self.queued);
        }
        if sent.is_ok() && self.client_done {
            sent = s.send_stdin_eof();
        }
        match sent {
            Ok(()) => {
                self.queued.clear();
                self.eof_sent = self.client_done;
            }
            Err(_) => self.sock = None,
        }
        Ok(())
    }
}

/// `POST /containers/{id}/resize?h=&w=`: a running container's terminal
/// gets that size (its monitor sets it, as for `coracle attach`).
pub fn resize(ctx: &Ctx, req: &Request, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    let (rows, cols) = super::exec::size_of(req)?;
    if !ctrs::is_running_now(&store, &id) {
        return Err(api_error(
            409,
            format!("container {id} is not running: container state improper"),
        ));
    }
    if crate::cmd::inspect::inspect_json(&store, &id)?["Config"]["Tty"] != json!(true) {
        return Err(api_error(
            409,
            format!("container {id} has no terminal: container state improper"),
        ));
    }
    let sock = crate::engine::attach::AttachSocket::connect(&store, &id)?;
    sock.send_resize(rows, cols)?;
    sock.finish();
    Ok(Reply::Json(200, json!({})))
}

/// `attach?stream=1&stdout=1&stderr=1`: the connection is taken over and
/// the container's output relayed (framed unless it has a terminal) from
/// its start, or from now when it runs already, until it stops. `logs=1`
/// sends what it wrote before first. With `stdin=1` and a container made
/// with `-i` (`OpenStdin`), the client's bytes are its input.
pub fn attach(ctx: &Ctx, conn: &mut Conn, req: &Request, name: &str) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let id = id_of(&store, name)?;
    let want_stdin = req.q_bool("stdin", false)?;
    let out = req.q_bool("stdout", false)?;
    let err = req.q_bool("stderr", false)?;
    let stream = req.q_bool("stream", false)?;
    let logs = req.q_bool("logs", false)?;
    let inspected = crate::cmd::inspect::inspect_json(&store, &id)?;
    let tty = inspected["Config"]["Tty"] == json!(true);
    // Docker's daemon too ignores stdin=1 for a container without it.
    let mut stdin =
        (want_stdin && stream && inspected["Config"]["OpenStdin"] == json!(true)).then(|| {
            StdinRelay {
                sock: None,
                queued: Vec::new(),
                client_done: false,
                eof_sent: false,
            }
        });
    let st = ctrs::state(&store, &id)?;
    let not_started = matches!(st.status, Status::Created | Status::Initialized);
    let mut live = crate::engine::logs::open_live(&store, &id, logs || not_started)?;
    conn.hijack(req, &common_headers(ctx), tty)?;
    let send = |conn: &mut Conn, records: &[LogRecord]| -> std::io::Result<()> {
        let mut buf = Vec::new();
        for r in records {
            let s = if r.stream == "stderr" { 2 } else { 1 };
            if (s == 1 && !out) || (s == 2 && !err) {
                continue;
            }
            let bytes = record_bytes(r, false);
            match tty {
                true => buf.extend_from_slice(&bytes),
                false => buf.extend_from_slice(&frame(s, &bytes)),
            }
        }
        if buf.is_empty() {
            return Ok(());
        }
        conn.write_all(&buf)
    };
    if !stream {
        let records = live.read_new()?;
        send(conn, &records)?;
        return Ok(Reply::Streamed);
    }
    // Until it has run and stopped (or is gone): a created one waits for
    // its start.
    let mut started = !not_started;
    loop {
        let gone = !store_has(&store, &id);
        let running = !gone && ctrs::is_running_now(&store, &id);
        let st = if gone {
            None
        } else {
            ctrs::state(&store, &id).ok()
        };
        if running
            || st.as_ref().is_some_and(|s| {
                s.finished_at.is_some()
                    && s.status == Status::Exited
                    && not_started
                    && s.started_at.is_some()
            })
        {
            started = true;
        }
        if let Some(relay) = &mut stdin {
            relay.pump(&store, &id, conn, running)?;
        }
        let records = live.read_new()?;
        send(conn, &records)?;
        if gone || (started && !running) {
            let records = live.read_new()?;
            send(conn, &records)?;
            break;
        }
        // A client that ended its input (a half-close: docker's does at
        // once without -i) still reads.
        if conn.client_hung_up() {
            break;
        }
        let pause = if started { 50 } else { 5 };
        match &stdin {
            Some(relay) if relay.reading() => {
                readable(conn.raw_fd(), pause);
            }
            _ => std::thread::sleep(Duration::from_millis(pause as u64)),
        }
    }
    Ok(Reply::Streamed)
}
