//! `_ping`, `version`, `info` and `events`.

use super::http::{Conn, Request};
use super::reply::{common_headers, Api, Reply};
use super::Ctx;
use crate::engine::events::{EventQuery, Filters};
use crate::engine::types::Event;
use anyhow::Result;
use serde_json::{json, Value};

/// `_ping`: "OK" with the headers clients negotiate by.
pub fn ping(_req: &Request) -> Reply {
    Reply::Body(200, "text/plain; charset=utf-8", b"OK".to_vec())
}

/// Headers `_ping` adds to the common ones, as podman's.
pub fn ping_headers() -> Vec<(String, String)> {
    [
        ("BuildKit-Version", ""),
        ("Builder-Version", ""),
        ("Docker-Experimental", "true"),
        ("Cache-Control", "no-cache"),
        ("Pragma", "no-cache"),
        ("OSType", "linux"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The Docker-shaped version document (podman answers it on both APIs).
pub fn version(_ctx: &Ctx) -> Result<Reply> {
    let v = crate::engine::system::version_report();
    let arch = crate::engine::types::host_platform().architecture;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let version = v["Version"].as_str().unwrap_or_default().to_string();
    let details = json!({
        "APIVersion": v["APIVersion"],
        "Arch": arch,
        "BuildTime": "1970-01-01T00:00:00Z",
        "Experimental": "false",
        "GitCommit": "",
        "GoVersion": "",
        "KernelVersion": kernel,
        "MinAPIVersion": super::MIN_COMPAT_API_VERSION,
        "Os": "linux",
    });
    Ok(Reply::Json(
        200,
        json!({
            "Platform": {"Name": format!("linux/{arch}/{}", os_name())},
            "Components": [{"Name": "Podman Engine", "Version": version, "Details": details}],
            "Version": version,
            "ApiVersion": super::COMPAT_API_VERSION,
            "MinAPIVersion": super::MIN_COMPAT_API_VERSION,
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": kernel,
            "BuildTime": "1970-01-01T00:00:00Z",
        }),
    ))
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("ID=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_default()
}

/// libpod's info is `coracle info`'s document; Docker's is made from it.
pub fn info(ctx: &Ctx, api: Api) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let i = crate::engine::system::info_report(&store)?;
    if api == Api::Libpod {
        return Ok(Reply::Json(200, i));
    }
    let host = &i["host"];
    let st = &i["store"];
    let cs = &st["containerStore"];
    let mut security = vec!["name=seccomp,profile=default".to_string()];
    if store.rootless {
        security.push("name=rootless".into());
    }
    let doc = json!({
        "ID": "",
        "Containers": cs["number"],
        "ContainersRunning": cs["running"],
        "ContainersPaused": cs["paused"],
        "ContainersStopped": cs["stopped"],
        "Images": st["imageStore"]["number"],
        "Driver": st["graphDriverName"],
        "DriverStatus": [],
        "DockerRootDir": st["graphRoot"],
        "SystemStatus": null,
        "Plugins": {"Volume": i["plugins"]["volume"], "Network": i["plugins"]["network"], "Log": i["plugins"]["log"]},
        "MemoryLimit": true,
        "SwapLimit": true,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "Debug": false,
        "NFd": 0,
        "OomKillDisable": false,
        "NGoroutines": 0,
        "LoggingDriver": host["logDriver"],
        "CgroupDriver": host["cgroupManager"],
        "CgroupVersion": host["cgroupVersion"].as_str().map(|v| v.trim_start_matches('v').to_string()),
        "KernelVersion": host["kernel"],
        "OperatingSystem": host["distribution"]["distribution"],
        "OSVersion": host["distribution"]["version"],
        "OSType": "linux",
        "Architecture": host["arch"],
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": null,
        "NCPU": host["cpus"],
        "MemTotal": host["memTotal"],
        "GenericResources": null,
        "HttpProxy": std::env::var("HTTP_PROXY").unwrap_or_default(),
        "HttpsProxy": std::env::var("HTTPS_PROXY").unwrap_or_default(),
        "NoProxy": std::env::var("NO_PROXY").unwrap_or_default(),
        "Name": host["hostname"],
        "Labels": [],
        "ExperimentalBuild": true,
        "ServerVersion": i["version"]["Version"],
        "Runtimes": {"coracle": {"path": host["ociRuntime"]["path"]}},
        "DefaultRuntime": "coracle",
        "LiveRestoreEnabled": false,
        "Isolation": "",
        "InitBinary": "",
        "SecurityOptions": security,
        "Warnings": [],
    });
    Ok(Reply::Json(200, doc))
}

/// An event as both APIs send it (podman's libpod events are Docker's
/// messages too).
pub fn event_json(e: &Event) -> Value {
    let nanos = e
        .timestamp()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let mut attrs = serde_json::Map::new();
    if let Some(a) = &e.attributes {
        for (k, v) in a {
            attrs.insert(k.clone(), json!(v));
        }
    }
    if !e.name.is_empty() {
        attrs.insert("name".into(), json!(e.name));
    }
    if !e.image.is_empty() {
        attrs.insert("image".into(), json!(e.image));
    }
    if e.typ == "container" && e.status == "died" {
        attrs.insert("containerExitCode".into(), json!(e.exit_code.to_string()));
    }
    if !e.pod_id.is_empty() {
        attrs.insert("podId".into(), json!(e.pod_id));
    }
    let id = if e.typ == "volume" { &e.name } else { &e.id };
    json!({
        "status": e.status,
        "id": id,
        "from": e.image,
        "Type": e.typ,
        "Action": e.status,
        "Actor": {"ID": id, "Attributes": attrs},
        "scope": "local",
        "time": nanos / 1_000_000_000,
        "timeNano": nanos,
    })
}

/// `events`: the journal's events as JSON lines, streamed (`stream`,
/// default true) until the client goes or `until` passes.
pub fn events(ctx: &Ctx, conn: &mut Conn, req: &Request, api: Api) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    crate::engine::events::check_readable(&store)?;
    let now = std::time::SystemTime::now();
    let time = |k: &str| -> Result<Option<std::time::SystemTime>> {
        match req.q(k) {
            None | Some("") => Ok(None),
            Some(v) => crate::format::human::parse_duration_or_time(v, now).map(Some),
        }
    };
    let query = EventQuery {
        filters: Filters::parse(&req.filters()?)?,
        since: time("since")?,
        until: time("until")?,
        stream: req.q_bool("stream", true)?,
    };
    let _ = api;
    let (mut watch, older) = crate::engine::events::watch(&store, query);
    conn.start_chunked(200, &common_headers(ctx), "application/json")?;
    let send = |conn: &mut Conn, list: &[Event]| -> std::io::Result<()> {
        let mut buf = Vec::new();
        for e in list {
            buf.extend_from_slice(event_json(e).to_string().as_bytes());
            buf.push(b'\n');
        }
        conn.chunk(&buf)
    };
    send(conn, &older)?;
    // The live journal is read by the watch itself, the first time too.
    loop {
        let new = watch.read_new()?;
        send(conn, &new)?;
        if watch.finished() || conn.client_gone() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    conn.end_chunks()?;
    Ok(Reply::Streamed)
}

fn unix_seconds(s: Option<&str>) -> i64 {
    s.filter(|s| !s.is_empty())
        .and_then(|s| crate::format::human::parse_rfc3339(s).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// `GET /system/df`: `system df`'s measures (the engine's), in Docker's
/// shape: images with their shared and unique sizes, containers with
/// their writable layer, volumes with their size and users.
pub fn df(ctx: &Ctx) -> Result<Reply> {
    let store = (ctx.open_store)()?;
    let usage = crate::engine::system::disk_usage(&store)?;
    // every layer once, however many images share it
    let layers_size: u64 = usage
        .images
        .iter()
        .flat_map(|u| u.record.layers.iter())
        .map(|d| (d.to_string(), store.layers.record(d).map_or(0, |r| r.size)))
        .collect::<std::collections::BTreeMap<_, _>>()
        .values()
        .sum();
    let images: Vec<Value> = usage
        .images
        .iter()
        .map(|u| {
            let img = &u.record;
            json!({
                "Id": format!("sha256:{}", img.id),
                "ParentId": "",
                "RepoTags": img.names,
                "RepoDigests": img.repo_digests,
                "Created": unix_seconds(img.created.as_deref()),
                "Size": img.size,
                "SharedSize": img.size.saturating_sub(u.unique),
                "VirtualSize": img.size,
                "Labels": {},
                "Containers": u.containers,
            })
        })
        .collect();
    let image_size = |id: &str| {
        usage
            .images
            .iter()
            .find(|u| u.record.id == id)
            .map_or(0, |u| u.record.size)
    };
    let containers: Vec<Value> = usage
        .containers
        .iter()
        .map(|u| {
            let c = &u.listed;
            json!({
                "Id": c.cfg.id,
                "Names": [format!("/{}", c.cfg.name)],
                "Image": c.cfg.image_name,
                "ImageID": format!("sha256:{}", c.cfg.image_id),
                "Command": c.cfg.args.join(" "),
                "Created": unix_seconds(Some(&c.cfg.created)),
                "State": c.state.status.as_str(),
                "Status": c.state.status.as_str(),
                "SizeRw": u.rw_size,
                "SizeRootFs": u.rw_size + image_size(&c.cfg.image_id),
            })
        })
        .collect();
    let volumes: Vec<Value> = usage
        .volumes
        .iter()
        .map(|v| {
            json!({
                "Name": v.name,
                "Driver": "local",
                "Mountpoint": store.volumes.data_dir(&v.name),
                "UsageData": {"Size": v.size, "RefCount": v.links},
            })
        })
        .collect();
    Ok(Reply::Json(
        200,
        json!({
            "LayersSize": layers_size,
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }),
    ))
}
