//! CDI, the Container Device Interface: `--device VENDOR/CLASS=NAME` and
//! `--gpus` (podman's spelling for the GPU vendor's `VENDOR/gpu=NAME`)
//! resolved through the spec files in /etc/cdi and /var/run/cdi (or the
//! `--cdi-spec-dir`s, else containers.conf's `cdi_spec_dirs`) into the
//! device nodes, bind mounts and environment the container gets.

use super::ContainerRequest;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where CDI spec files live unless `--cdi-spec-dir` or containers.conf's
/// `cdi_spec_dirs` says otherwise, the later directory winning.
const SPEC_DIRS: &[&str] = &["/etc/cdi", "/var/run/cdi"];
/// GPU vendors `--gpus` looks for, in podman's order of preference.
const GPU_VENDORS: &[&str] = &["nvidia.com", "amd.com"];

#[derive(Deserialize)]
struct Spec {
    kind: String,
    #[serde(default)]
    devices: Vec<Device>,
    #[serde(default, rename = "containerEdits")]
    edits: Edits,
}

#[derive(Deserialize)]
struct Device {
    name: String,
    #[serde(default, rename = "containerEdits")]
    edits: Edits,
}

#[derive(Deserialize, Default, Clone)]
struct Edits {
    #[serde(default)]
    env: Vec<String>,
    #[serde(default, rename = "deviceNodes")]
    device_nodes: Vec<DeviceNode>,
    #[serde(default)]
    mounts: Vec<Mount>,
    #[serde(default)]
    hooks: Vec<serde_json::Value>,
    #[serde(default, rename = "additionalGIDs")]
    additional_gids: Vec<u32>,
}

#[derive(Deserialize, Clone)]
struct DeviceNode {
    path: String,
    #[serde(default, rename = "hostPath")]
    host_path: Option<String>,
    #[serde(default)]
    permissions: Option<String>,
}

#[derive(Deserialize, Clone)]
struct Mount {
    #[serde(rename = "hostPath")]
    host_path: String,
    #[serde(rename = "containerPath")]
    container_path: String,
    #[serde(default)]
    options: Vec<String>,
}

/// `vendor.com/class=name`: a CDI device, not a path.
pub fn is_cdi_name(s: &str) -> bool {
    match s.split_once('=') {
        Some((kind, name)) => {
            !s.starts_with('/')
                && !name.is_empty()
                && kind
                    .split_once('/')
                    .is_some_and(|(v, c)| !v.is_empty() && !c.is_empty() && !c.contains('/'))
        }
        None => false,
    }
}

/// The directories searched: `--cdi-spec-dir`, else containers.conf's
/// `cdi_spec_dirs`, else [`SPEC_DIRS`].
fn spec_dirs() -> Vec<PathBuf> {
    match &crate::config::get().cdi_spec_dirs {
        Some(dirs) => dirs.clone(),
        None => SPEC_DIRS.iter().map(PathBuf::from).collect(),
    }
}

fn spec_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "json" || x == "yaml" || x == "yml")
            })
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

fn load(path: &Path) -> Result<Spec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading CDI spec {}", path.display()))?;
    serde_yaml_ng::from_str(&text).with_context(|| format!("CDI spec {}", path.display()))
}

fn load_all(dirs: &[PathBuf]) -> Result<Vec<Spec>> {
    spec_files(dirs).iter().map(|p| load(p)).collect()
}

/// The edits that device `name` ("vendor/class=dev") brings: the spec's
/// own and the device's ("all", when no device has that name, is every
/// device of the kind).
fn edits_of(specs: &[Spec], dirs: &[PathBuf], name: &str) -> Result<Vec<Edits>> {
    let (kind, dev) = name.split_once('=').unwrap_or((name, ""));
    let mut out = Vec::new();
    for spec in specs.iter().filter(|s| s.kind == kind) {
        let named: Vec<&Device> = spec.devices.iter().filter(|d| d.name == dev).collect();
        let chosen: Vec<&Device> = if named.is_empty() && dev == "all" {
            spec.devices.iter().collect()
        } else {
            named
        };
        if !chosen.is_empty() {
            out.push(spec.edits.clone());
            out.extend(chosen.into_iter().map(|d| d.edits.clone()));
        }
    }
    if out.is_empty() {
        let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        bail!(
            "unresolvable CDI devices {name}: no CDI spec in {} defines it",
            dirs.join(" or ")
        );
    }
    Ok(out)
}

/// Replace the CDI names among `--device`s (and the `--gpus`) with what
/// their specs give: device nodes, bind mounts, environment, groups. Both
/// are used up, so a second call (once a pod's devices and GPUs are in)
/// resolves only what came since.
pub fn resolve(req: &mut ContainerRequest) -> Result<()> {
    let names: Vec<String> = req
        .tuning
        .device
        .iter()
        .filter(|d| is_cdi_name(d))
        .cloned()
        .collect();
    let gpus = std::mem::take(&mut req.gpus);
    if names.is_empty() && gpus.is_empty() {
        return Ok(());
    }
    let dirs = spec_dirs();
    let specs = load_all(&dirs)?;
    let mut wanted = names.clone();
    if !gpus.is_empty() {
        let vendor = GPU_VENDORS
            .iter()
            .find(|v| specs.iter().any(|s| s.kind.split('/').next() == Some(**v)))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--gpus: could not discover GPU vendor: no known GPU vendor found in CDI specs"
                )
            })?;
        for gpu in gpus
            .iter()
            .flat_map(|g| g.split(','))
            .filter(|g| !g.is_empty())
        {
            wanted.push(format!("{vendor}/gpu={gpu}"));
        }
    }
    req.tuning.device.retain(|d| !is_cdi_name(d));
    let mut env = Vec::new();
    for name in &wanted {
        for e in edits_of(&specs, &dirs, name)? {
            if !e.hooks.is_empty() {
                bail!("CDI device {name}: its spec asks for OCI hooks, which coracle does not run for CDI devices");
            }
            for n in &e.device_nodes {
                let host = n.host_path.as_deref().unwrap_or(&n.path);
                let perms = n.permissions.as_deref().unwrap_or("rwm");
                let spec = format!("{host}:{}:{perms}", n.path);
                if !req.tuning.device.contains(&spec) {
                    req.tuning.device.push(spec);
                }
            }
            for m in &e.mounts {
                let opts: Vec<&str> = m
                    .options
                    .iter()
                    .map(String::as_str)
                    .filter(|o| *o == "ro" || *o == "rw")
                    .collect();
                let mut v = format!("{}:{}", m.host_path, m.container_path);
                if !opts.is_empty() {
                    v.push(':');
                    v.push_str(&opts.join(","));
                }
                if !req.volume.contains(&v) {
                    req.volume.push(v);
                }
            }
            env.extend(e.env.iter().cloned());
            req.tuning
                .group_add
                .extend(e.additional_gids.iter().map(u32::to_string));
        }
    }
    // The user's own -e wins over a spec's.
    env.append(&mut req.env);
    req.env = env;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdi_names_are_not_paths() {
        assert!(is_cdi_name("nvidia.com/gpu=0"));
        assert!(is_cdi_name("vendor.com/class=all"));
        assert!(!is_cdi_name("/dev/fuse"));
        assert!(!is_cdi_name("/dev/a=b"));
        assert!(!is_cdi_name("nvidia.com/gpu="));
        assert!(!is_cdi_name("gpu=0"));
    }

    #[test]
    fn all_is_every_device_unless_one_is_named_so() {
        let spec: Spec = serde_yaml_ng::from_str(
            "cdiVersion: 0.6.0\nkind: v.com/gpu\ncontainerEdits:\n  env: [A=1]\ndevices:\n- name: '0'\n  containerEdits:\n    deviceNodes: [{path: /dev/x0}]\n- name: '1'\n  containerEdits:\n    deviceNodes: [{path: /dev/x1}]\n",
        )
        .unwrap();
        let specs = vec![spec];
        let dirs = [PathBuf::from("/etc/cdi")];
        assert_eq!(edits_of(&specs, &dirs, "v.com/gpu=all").unwrap().len(), 3);
        assert_eq!(
            edits_of(&specs, &dirs, "v.com/gpu=1").unwrap()[1].device_nodes[0].path,
            "/dev/x1"
        );
        assert!(edits_of(&specs, &dirs, "v.com/gpu=2").is_err());
    }
}
