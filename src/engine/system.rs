//! The store as a whole: what images, containers and volumes take on disk
//! (`system df`), as podman counts it.

use super::containers::Listed;
use crate::storage::images::ImageRecord;
use crate::storage::store::Store;
use anyhow::Result;
use std::collections::BTreeMap;

/// One image's share of the disk.
pub struct ImageUsage {
    pub record: ImageRecord,
    /// Bytes of layers no other image has.
    pub unique: u64,
    /// Containers made from it.
    pub containers: usize,
}

/// One container's writable layer.
pub struct ContainerUsage {
    pub listed: Listed,
    pub rw_size: u64,
}

/// One volume's data and how many containers use it.
pub struct VolumeUsage {
    pub name: String,
    pub links: usize,
    pub size: u64,
}

/// `info`'s `store.imageStore`: podman's count, and, when an image store
/// is set (`--imagestore`), where it is.
fn image_store_info(store: &Store, number: usize) -> serde_json::Value {
    let mut out = serde_json::json!({ "number": number });
    if let Some(dir) = &store.image_store {
        out["path"] = serde_json::json!(dir.to_string_lossy());
    }
    out
}

pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

/// Measure everything. Rootless, volumes and container layers hold files
/// of subordinate ids in directories only the user namespace may enter, so
/// this enters it (call while single-threaded).
pub fn disk_usage(store: &Store) -> Result<DiskUsage> {
    crate::runtime::userns::enter_for_storage(store)?;
    let images = store.images.load()?;
    let containers = super::containers::list_all(store)?;
    let volumes = store.volumes.list()?;
    let users = crate::storage::volumes::users(&store.containers)?;
    // A layer shared by several images is "shared" in each.
    let mut layer_refs: BTreeMap<String, usize> = BTreeMap::new();
    for img in &images.list {
        for l in &img.layers {
            *layer_refs.entry(l.to_string()).or_default() += 1;
        }
    }
    let layer_size =
        |d: &crate::storage::digest::Digest| store.layers.record(d).map(|r| r.size).unwrap_or(0);
    let image_usage = images
        .list
        .iter()
        .map(|img| ImageUsage {
            unique: img
                .layers
                .iter()
                .filter(|l| layer_refs.get(&l.to_string()) == Some(&1))
                .map(layer_size)
                .sum(),
            containers: containers
                .iter()
                .filter(|c| c.cfg.image_id == img.id)
                .count(),
            record: img.clone(),
        })
        .collect();
    let container_usage = containers
        .into_iter()
        .map(|c| ContainerUsage {
            rw_size: crate::runtime::volume::tree_size(
                &store.containers.dir(&c.cfg.id).join("upper"),
            ),
            listed: c,
        })
        .collect();
    let volume_usage = volumes
        .iter()
        .map(|v| VolumeUsage {
            name: v.name.clone(),
            links: users.get(&v.name).map(Vec::len).unwrap_or(0),
            size: crate::runtime::volume::tree_size(&store.volumes.data_dir(&v.name)),
        })
        .collect();
    Ok(DiskUsage {
        images: image_usage,
        containers: container_usage,
        volumes: volume_usage,
    })
}

/// The id ranges of this user's containers: (container id, host id, size)
/// for uids, then gids; None when the user has no subordinate range.
pub type IdRanges = Vec<(u32, u32, u32)>;

pub fn id_mappings() -> Option<(IdRanges, IdRanges)> {
    let m = crate::runtime::userns::IdMaps::for_current_user().ok()?;
    let ranges = |v: &[crate::runtime::userns::IdMapping]| {
        v.iter()
            .map(|x| (x.container_id, x.host_id, x.size))
            .collect()
    };
    Some((ranges(&m.uids), ranges(&m.gids)))
}

/// The registries short names are looked up in.
pub fn search_registries() -> Vec<String> {
    crate::registry::shortnames::search_registries().unwrap_or_default()
}

/// The podman release whose command line and API coracle follows:
/// `version`'s API Version, for scripts that gate on it.
pub const PODMAN_API_VERSION: &str = "5.0.0";

/// `version`'s `Client` (and `info`'s `version`), in podman's keys.
pub fn version_report() -> serde_json::Value {
    serde_json::json!({
        "APIVersion": PODMAN_API_VERSION,
        "Version": env!("CARGO_PKG_VERSION"),
        "GoVersion": "",
        "GitCommit": "",
        "BuiltTime": "Thu Jan  1 00:00:00 1970",
        "Built": 0,
        "OsArch": format!("linux/{}", crate::registry::manifest::host_platform().architecture),
        "Os": "linux",
    })
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_release() -> serde_json::Value {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    serde_json::json!({
        "distribution": get("ID"),
        "version": get("VERSION_ID"),
        "codename": get("VERSION_CODENAME"),
    })
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

/// podman's uptime: `6h 57m 45.00s (Approximately 0.25 days)`.
fn uptime() -> String {
    let secs: f64 = read_trim("/proc/uptime")
        .split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    let whole = secs as u64;
    let (h, m) = (whole / 3600, (whole % 3600) / 60);
    let s = secs - (h * 3600 + m * 60) as f64;
    format!(
        "{h}h {m}m {s:.2}s (Approximately {:.2} days)",
        secs / 86400.0
    )
}

/// Time spent since boot, as podman's `cpuUtilization` percentages.
fn cpu_utilization() -> serde_json::Value {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = f.iter().sum();
    let pct = |v: f64| {
        if total > 0.0 {
            (v * 10000.0 / total).round() / 100.0
        } else {
            0.0
        }
    };
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0);
    serde_json::json!({
        "userPercent": pct(at(0) + at(1)),
        "systemPercent": pct(at(2)),
        "idlePercent": pct(at(3)),
    })
}

/// A helper program's path and its first `--version` line.
fn helper(name: &str) -> serde_json::Value {
    let Some(path) = crate::runtime::network::find_program(name) else {
        return serde_json::json!({"executable": "", "package": "", "version": ""});
    };
    let version = std::process::Command::new(&path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    serde_json::json!({"executable": path.to_string_lossy(), "package": "", "version": version})
}

/// Total and used bytes of the file system holding `path`.
fn fs_usage(path: &std::path::Path) -> (u64, u64) {
    match nix::sys::statvfs::statvfs(path) {
        Ok(s) => {
            let frag = s.fragment_size();
            let total = s.blocks() * frag;
            (total, total.saturating_sub(s.blocks_free() * frag))
        }
        Err(_) => (0, 0),
    }
}

/// The name podman gives the file system under `path`.
fn backing_filesystem(path: &std::path::Path) -> String {
    let Ok(s) = nix::sys::statfs::statfs(path) else {
        return String::new();
    };
    #[allow(clippy::unnecessary_cast)]
    let magic = s.filesystem_type().0 as i64;
    match magic {
        0xEF53 => "extfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x0102_1994 => "tmpfs".into(),
        0x794C_7630 => "overlayfs".into(),
        0x2FC1_2FC1 => "zfs".into(),
        other => format!("{other:#x}"),
    }
}

/// podman's `info` tree (its JSON keys), filled with this host's and this
/// store's facts.
pub fn info_report(store: &Store) -> Result<serde_json::Value> {
    use serde_json::json;
    let images = store.images.load()?;
    let mut counts = BTreeMap::from([("paused", 0), ("running", 0), ("stopped", 0)]);
    let listed = super::containers::list_all(store)?;
    for l in &listed {
        let key = match l.state.status.as_str() {
            "running" | "stopping" => "running",
            "paused" => "paused",
            _ => "stopped",
        };
        *counts.entry(key).or_default() += 1;
    }
    let id_mappings = match (store.rootless, id_mappings()) {
        (true, Some((uids, gids))) => {
            let ranges = |v: &[(u32, u32, u32)]| {
                v.iter()
                    .map(|(c, h, n)| json!({"container_id": c, "host_id": h, "size": n}))
                    .collect::<Vec<_>>()
            };
            json!({"gidmap": ranges(&gids), "uidmap": ranges(&uids)})
        }
        _ => json!({"gidmap": null, "uidmap": null}),
    };
    let conf = crate::config::get();
    let caps = crate::runtime::caps::effective_set(false, &[], &[])?;
    let seccomp_profile = conf
        .containers
        .containers
        .seccomp_profile
        .clone()
        .filter(|p| std::path::Path::new(p).is_file())
        .unwrap_or_default();
    let avail = crate::runtime::cgroup::available(store.rootless);
    let cgroup_version = match crate::runtime::cgroup::hierarchy() {
        Some(crate::runtime::cgroup::Hierarchy::V2) => "v2",
        _ => "v1",
    };
    let event_logger = match store.events_backend {
        crate::storage::events::Backend::File => "file",
        crate::storage::events::Backend::Journald => "journald",
        crate::storage::events::Backend::None => "none",
    };
    let (allocated, used) = fs_usage(&store.root);
    let backing = backing_filesystem(&store.root);
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let search = search_registries();
    let registries = if search.is_empty() {
        json!({})
    } else {
        json!({ "search": search })
    };
    let graph_status = match store.driver {
        crate::storage::store::Driver::Overlay => json!({
            "Backing Filesystem": backing,
            "Native Overlay Diff": "true",
            "Supports d_type": "true",
            "Using metacopy": "false",
        }),
        crate::storage::store::Driver::Vfs => json!({}),
    };
    Ok(json!({
        "host": {
            "arch": crate::registry::manifest::host_platform().architecture,
            "buildahVersion": "",
            "cgroupManager": "cgroupfs",
            "cgroupVersion": cgroup_version,
            "cgroupControllers": avail.controllers,
            "conmon": {"package": "", "path": "", "version": ""},
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "cpuUtilization": cpu_utilization(),
            "databaseBackend": "json",
            "distribution": os_release(),
            "eventLogger": event_logger,
            "hostname": read_trim("/proc/sys/kernel/hostname"),
            "idMappings": id_mappings,
            "kernel": read_trim("/proc/sys/kernel/osrelease"),
            "logDriver": "k8s-file",
            "memFree": meminfo("MemAvailable"),
            "memTotal": meminfo("MemTotal"),
            "networkBackend": "netavark",
            "networkBackendInfo": {"backend": "netavark", "dns": {}},
            "ociRuntime": oci_runtime_info(&exe),
            "os": "linux",
            "remoteSocket": {"path": "", "exists": false},
            "rootlessNetworkCmd": if store.rootless { "pasta" } else { "" },
            "serviceIsRemote": false,
            "security": {
                "apparmorEnabled": false,
                "capabilities": caps.join(","),
                "rootless": store.rootless,
                "seccompEnabled": true,
                "seccompProfilePath": seccomp_profile,
                "selinuxEnabled": false,
            },
            "pasta": helper("pasta"),
            "swapFree": meminfo("SwapFree"),
            "swapTotal": meminfo("SwapTotal"),
            "uptime": uptime(),
            "variant": "",
            "linkmode": "static",
        },
        "store": {
            "configFile": conf.storage_file.as_ref().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(),
            "containerStore": {
                "number": listed.len(),
                "paused": counts["paused"],
                "running": counts["running"],
                "stopped": counts["stopped"],
            },
            "graphDriverName": store.driver.name(),
            "graphOptions": super::config::storage_options_json(),
            "graphRoot": store.root.to_string_lossy(),
            "graphRootAllocated": allocated,
            "graphRootUsed": used,
            "graphStatus": graph_status,
            "imageCopyTmpDir": store.tmpdir.to_string_lossy(),
            "imageStore": image_store_info(store, images.list.len()),
            "runRoot": store.runroot.to_string_lossy(),
            "volumePath": store.volumes.base().to_string_lossy(),
            "transientStore": store.transient,
        },
        "registries": registries,
        "plugins": {
            // The local driver, then each configured volume plugin.
            "volume": std::iter::once("local".to_string())
                .chain(crate::runtime::volume_plugin::configured().into_keys())
                .collect::<Vec<_>>(),
            "network": ["bridge"],
            "log": ["k8s-file", "none"],
            "authorization": null,
        },
        "version": version_report(),
    }))
}

/// `info`'s ociRuntime: the `--runtime` given (its `--version`'s first
/// line), else coracle's own.
fn oci_runtime_info(exe: &str) -> serde_json::Value {
    match &crate::config::get().runtime {
        Some(rt) => {
            let version = std::process::Command::new(&rt.path)
                .arg("--version")
                .output()
                .ok()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .unwrap_or_default();
            serde_json::json!({"name": rt.name, "package": "", "path": rt.path, "version": version})
        }
        None => {
            serde_json::json!({"name": "coracle", "package": "", "path": exe, "version": env!("CARGO_PKG_VERSION")})
        }
    }
}
