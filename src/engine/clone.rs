//! `container clone`: a new container from an existing one's record, with
//! other limits, another name, image or pod; the original removed
//! (`--destroy`) and the clone started (`--run`) when asked.

use super::create::CreateLimits;
use super::types::{ContainerConfig, MountKind, Store};
use crate::storage::containers::Resources;
use anyhow::{bail, Result};

/// What `container clone` asks for.
#[derive(Debug, Clone, Default)]
pub struct CloneRequest {
    /// The container to copy (name or id).
    pub source: String,
    /// The clone's name; `None`: podman's `<name>-clone`.
    pub name: Option<String>,
    /// Another image for the clone.
    pub image: Option<String>,
    /// The limits given; the others stay the original's.
    pub limits: CreateLimits,
    /// A pod to put the clone in.
    pub pod: Option<String>,
    /// Remove the original (`--force`: even when it runs).
    pub destroy: bool,
    pub force: bool,
    /// Start the clone.
    pub run: bool,
}

/// podman's default name for a clone: `NAME-clone`, then `NAME-clone1`,
/// `NAME-clone2`... (a clone's clone counts on from its own number).
pub fn clone_name(original: &str, taken: impl Fn(&str) -> bool) -> String {
    let base = match original.find("-clone") {
        Some(i) => original[..i + "-clone".len()].to_string(),
        None => format!("{original}-clone"),
    };
    if !original.contains("-clone") && !taken(&base) {
        return base;
    }
    (1u32..)
        .map(|n| format!("{base}{n}"))
        .find(|n| !taken(n))
        .unwrap_or(base)
}

/// The limits given on the command line over the original's (`base`),
/// checked against what this host can enforce.
pub fn merge_limits(
    base: &Resources,
    l: &CreateLimits,
    cgroups: &str,
    rootless: bool,
) -> Result<Resources> {
    let mut r = base.clone();
    // Per-device rates given replace the original's for that device.
    l.limits.apply_to(&mut r)?;
    // The original's pids limit was decided when it was made.
    crate::runtime::cgroup::check(&mut r, true, cgroups, rootless)?;
    Ok(r)
}

/// Make the clone; its config. Nothing is written when a check fails.
pub fn clone_container(store: &Store, req: CloneRequest) -> Result<ContainerConfig> {
    if req.force && !req.destroy {
        bail!("cannot set --force without --destroy");
    }
    let id = super::lookup::container_id(store, &req.source)?;
    let mut cfg = store.containers.load_config(&id)?;
    if cfg.is_infra {
        bail!("cannot clone {}: it is a pod's infra container", cfg.name);
    }
    if req.destroy && !req.force && super::containers::is_running_now(store, &id) {
        bail!(
            "cannot remove container {id} as it is running - running or paused containers cannot be removed without force: container state improper"
        );
    }
    cfg.resources = merge_limits(&cfg.resources, &req.limits, &cfg.cgroups, store.rootless)?;
    if let Some(p) = req.pod.as_deref().filter(|p| !p.is_empty()) {
        let pod = store.pods.load(&super::pods::pod_id(store, p)?)?;
        super::create::into_pod(&pod, &mut cfg)?;
    }
    let img = match &req.image {
        // A `--rootfs` container's clone has the same directory for a root.
        None if cfg.launch.rootfs.is_some() => None,
        Some(name) => {
            // Another image replaces the `--rootfs` directory.
            cfg.launch.rootfs = None;
            let img = super::images::ensure_image(store, name, "missing", &Default::default())?;
            cfg.image_name = img
                .names
                .iter()
                .find(|n| n.ends_with(name.as_str()))
                .or(img.names.first())
                .cloned()
                .unwrap_or_else(|| name.clone());
            Some(img)
        }
        None => Some(
            store
                .images
                .load()?
                .by_id(&cfg.image_id)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("the image of {} is gone", cfg.name))?,
        ),
    };
    // A hostname that was the original's id is the clone's own id.
    if cfg.hostname.len() == 12 && id.starts_with(&cfg.hostname) {
        cfg.hostname.clear();
    }
    // Anonymous volumes are the original's own: the clone gets new ones.
    for m in cfg
        .mounts
        .iter_mut()
        .filter(|m| m.kind == MountKind::Volume)
    {
        if let Ok(Some(v)) = store.volumes.load(&m.source) {
            if v.anonymous {
                m.source.clear();
            }
        }
    }
    let original = cfg.name.clone();
    cfg.name = req
        .name
        .clone()
        .unwrap_or_else(|| clone_name(&original, |n| store.containers.name_owner(n).is_some()));
    cfg.cidfile = None;
    // `--userns=auto`: the clone gets a range of its own.
    if matches!(cfg.userns, crate::storage::modes::UsernsMode::Auto(_))
        && cfg.launch.userns_from.is_none()
    {
        cfg.launch.id_mappings = None;
    }
    cfg.create_command = crate::storage::containers::command_line_without_secrets(std::env::args());
    let clone = super::containers::create(store, cfg, img.as_ref())?;
    if req.destroy {
        let how = super::containers::Removal {
            force: req.force,
            ..Default::default()
        };
        super::containers::remove(store, &id, how)?;
    }
    if req.run {
        super::containers::start(store, &clone.id)?;
    }
    Ok(clone)
}
