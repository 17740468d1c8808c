//! info and version.

use super::output::{print_inspect, println};
use super::GlobalOpts;
use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Change the output format to JSON or a Go template
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Change the output format to JSON or a Go template
    #[arg(short, long)]
    pub format: Option<String>,
}

fn version_json() -> Value {
    json!({
        "APIVersion": env!("CARGO_PKG_VERSION"),
        "Version": env!("CARGO_PKG_VERSION"),
        "GoVersion": "",
        "RustVersion": option_env!("CARGO_PKG_RUST_VERSION").unwrap_or(""),
        "GitCommit": "",
        "BuiltTime": "",
        "Built": 0,
        "OsArch": format!("linux/{}", crate::registry::manifest::host_platform().architecture),
        "Os": "linux",
    })
}

pub fn version(_g: &GlobalOpts, a: VersionArgs) -> Result<()> {
    let v = version_json();
    match a.format.as_deref() {
        Some("json") => println(&crate::format::table::json_pretty(&json!({"Client": v}))),
        Some(f) => print_inspect(&[json!({"Client": v, "Version": v["Version"]})], Some(f)),
        None => println(&format!(
            "Version:      {}\nAPI Version:  {}\nOS/Arch:      {}",
            v["Version"].as_str().unwrap_or_default(),
            v["APIVersion"].as_str().unwrap_or_default(),
            v["OsArch"].as_str().unwrap_or_default()
        )),
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_release() -> (String, String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (get("ID"), get("VERSION_ID"), get("VERSION_CODENAME"))
}

fn meminfo(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub fn info(g: &GlobalOpts, a: InfoArgs) -> Result<()> {
    let store = g.open_store()?;
    let images = store.images.load()?;
    let rootless = store.rootless;
    let (distro, distro_version, codename) = os_release();
    let cgroup_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let id_mappings = if rootless {
        match crate::runtime::userns::IdMaps::for_current_user() {
            Ok(m) => json!({
                "uidmap": m.uids.iter().map(|x| json!({"container_id": x.container_id, "host_id": x.host_id, "size": x.size})).collect::<Vec<_>>(),
                "gidmap": m.gids.iter().map(|x| json!({"container_id": x.container_id, "host_id": x.host_id, "size": x.size})).collect::<Vec<_>>(),
            }),
            Err(_) => json!({"uidmap": null, "gidmap": null}),
        }
    } else {
        json!({"uidmap": null, "gidmap": null})
    };
    let info = json!({
        "host": {
            "arch": crate::registry::manifest::host_platform().architecture,
            "cgroupManager": "cgroupfs",
            "cgroupVersion": if cgroup_v2 { "v2" } else { "v1" },
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "distribution": {"distribution": distro, "version": distro_version, "codename": codename},
            "eventLogger": "file",
            "hostname": read_trim("/proc/sys/kernel/hostname"),
            "idMappings": id_mappings,
            "kernel": read_trim("/proc/sys/kernel/osrelease"),
            "logDriver": "k8s-file",
            "memFree": meminfo("MemAvailable"),
            "memTotal": meminfo("MemTotal"),
            "swapFree": meminfo("SwapFree"),
            "swapTotal": meminfo("SwapTotal"),
            "os": "linux",
            "ociRuntime": {"name": "coracle", "path": std::env::current_exe().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(), "version": env!("CARGO_PKG_VERSION")},
            "security": {"rootless": rootless, "seccompEnabled": true, "selinuxEnabled": false, "apparmorEnabled": false},
            "uptime": read_trim("/proc/uptime").split(' ').next().unwrap_or("").to_string(),
        },
        "store": {
            "configFile": "",
            "containerStore": {"number": 0, "paused": 0, "running": 0, "stopped": 0},
            "graphDriverName": store.driver.name(),
            "graphOptions": {},
            "graphRoot": store.root.to_string_lossy(),
            "graphStatus": {},
            "imageCopyTmpDir": store.tmpdir.to_string_lossy(),
            "imageStore": {"number": images.list.len()},
            "runRoot": store.runroot.to_string_lossy(),
            "volumePath": store.root.join("volumes").to_string_lossy(),
        },
        "registries": {"search": crate::registry::shortnames::search_registries().unwrap_or_default()},
        "version": version_json(),
    });
    match a.format.as_deref() {
        None => println(&yamlish(&info, 0)),
        Some("json") => println(&crate::format::table::json_pretty(&info)),
        // Templates use podman's Go field names (Store.GraphRoot, Host.Arch).
        Some(f) => print_inspect(&[go_names(&info)], Some(f)),
    }
}

/// JSON keys as Go struct field names: `graphRoot` -> `GraphRoot`.
fn go_names(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let key = match c.next() {
                        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                        None => String::new(),
                    };
                    (key, go_names(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(go_names).collect()),
        other => other.clone(),
    }
}

/// The human `info` view: YAML-like, as podman prints it.
fn yamlish(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent);
    let mut out = String::new();
    if let Value::Object(m) = v {
        for (k, val) in m {
            match val {
                Value::Object(inner) if !inner.is_empty() => {
                    out.push_str(&format!("{pad}{k}:\n{}", yamlish(val, indent + 1)));
                }
                Value::Object(_) => out.push_str(&format!("{pad}{k}: {{}}\n")),
                Value::Array(items) if !items.is_empty() => {
                    out.push_str(&format!("{pad}{k}:\n"));
                    for item in items {
                        match item {
                            Value::Object(_) => {
                                let body = yamlish(item, indent + 1);
                                let body = body.trim_start();
                                out.push_str(&format!("{pad}- {body}"));
                            }
                            other => out.push_str(&format!("{pad}- {}\n", scalar(other))),
                        }
                    }
                }
                Value::Array(_) => out.push_str(&format!("{pad}{k}: []\n")),
                other => out.push_str(&format!("{pad}{k}: {}\n", scalar(other))),
            }
        }
    }
    out.trim_end_matches('\n').to_string() + if indent == 0 { "" } else { "\n" }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
