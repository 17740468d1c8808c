//! One Quadlet file to one systemd service, following podman's Quadlet
//! (docs/source/markdown/podman-systemd.unit.5.md): the `[Container]`,
//! `[Volume]`, `[Image]` or `[Build]` group becomes a coracle command line
//! in `[Service]`; `[Unit]`, `[Service]` and `[Install]` pass through.
//! Here: names, the parts every type shares; `container.rs` and
//! `oneshot.rs` the types.

use super::keys::{self, GroupKeys};
use super::unit::{strip_ext, UnitFile};
use std::collections::BTreeMap;
use std::path::Path;

/// What other units need to know of one: the service it becomes and the
/// name of what it makes (container, volume, image).
#[derive(Clone, Debug, Default)]
pub struct UnitInfo {
    pub service: String,
    pub resource: String,
    /// A pod's containers that start with it (their `.service` names).
    pub pod_members: Vec<String>,
}

/// Shared by every conversion of one generator run.
pub struct Ctx<'a> {
    /// Absolute path of coracle, for the command lines.
    pub exe: &'a str,
    /// The user generator (a user's systemd) or the system one.
    pub user: bool,
    /// Every unit by file name (`data.volume`).
    pub infos: &'a BTreeMap<String, UnitInfo>,
}

/// The unit types and the order they are converted in.
pub const KINDS: &[&str] = &[
    "image",
    "volume",
    "network",
    "build",
    "pod",
    "container",
    "kube",
];
/// podman's types coracle has nothing to run for yet.
pub const NOT_YET: &[(&str, &str)] = &[("artifact", "coracle has no artifacts")];

pub fn kind(filename: &str) -> &str {
    filename.rsplit_once('.').map(|(_, e)| e).unwrap_or("")
}

fn group_of(kind: &str) -> &'static str {
    match kind {
        "container" => "Container",
        "volume" => "Volume",
        "network" => "Network",
        "pod" => "Pod",
        "image" => "Image",
        "kube" => "Kube",
        _ => "Build",
    }
}

/// The service's name without `.service`: `ServiceName=`, or the file's
/// name with the type's suffix (`data.volume` -> `data-volume`), a
/// template keeping its `@`.
pub fn service_name(unit: &UnitFile) -> String {
    let k = kind(&unit.filename);
    if let Some(s) = unit.lookup_set(group_of(k), "ServiceName") {
        return s;
    }
    let suffix = match k {
        "container" | "kube" => "",
        "volume" => "-volume",
        "network" => "-network",
        "pod" => "-pod",
        "image" => "-image",
        _ => "-build",
    };
    let base = strip_ext(&unit.filename);
    match base.strip_suffix('@') {
        Some(t) => format!("{t}{suffix}@"),
        None => format!("{base}{suffix}"),
    }
}

/// The container's name as written, specifiers unresolved.
pub(super) fn container_name(unit: &UnitFile) -> String {
    unit.lookup_set("Container", "ContainerName")
        .unwrap_or_else(|| {
            if unit.filename.contains('@') {
                "systemd-%p_%i".to_string()
            } else {
                "systemd-%N".to_string()
            }
        })
}

/// The name of what a unit makes, as other units refer to it (empty when
/// it depends on a template instance).
pub fn resource_name(unit: &UnitFile) -> String {
    let prefixed = |key: &str, group: &str| {
        unit.lookup_set(group, key).unwrap_or_else(|| {
            let base = format!("systemd-{}", strip_ext(&unit.filename));
            match base.strip_suffix('@') {
                Some(t) => format!("{t}-%i"),
                None => base,
            }
        })
    };
    match kind(&unit.filename) {
        "container" => {
            let n = container_name(unit).replace("%N", &service_name(unit));
            if n.contains('%') {
                String::new()
            } else {
                n
            }
        }
        "volume" => prefixed("VolumeName", "Volume"),
        "network" => prefixed("NetworkName", "Network"),
        "pod" => prefixed("PodName", "Pod"),
        "image" => unit
            .lookup_set("Image", "ImageTag")
            .or_else(|| unit.lookup_set("Image", "Image"))
            .unwrap_or_default(),
        "build" => unit
            .lookup_all("Build", "ImageTag")
            .into_iter()
            .next()
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// A coracle command line being built.
pub(super) struct Cmd(pub(super) Vec<String>);

impl Cmd {
    pub(super) fn new(ctx: &Ctx, unit: &UnitFile, group: &str) -> Result<Cmd, String> {
        let mut c = Cmd(vec![ctx.exe.to_string()]);
        // ContainersConfModule=: the global --module, before GlobalArgs=
        for m in unit.lookup_all(group, "ContainersConfModule") {
            c.push(format!("--module={}", m.trim_end()));
        }
        c.0.extend(unit.lookup_all_args(group, "GlobalArgs")?);
        Ok(c)
    }
    pub(super) fn add(&mut self, args: &[&str]) {
        self.0.extend(args.iter().map(|s| s.to_string()));
    }
    pub(super) fn push(&mut self, arg: String) {
        self.0.push(arg);
    }
    /// `--flag VALUE` for the last non-empty value of a key.
    pub(super) fn string(&mut self, unit: &UnitFile, group: &str, key: &str, flag: &str) {
        if let Some(v) = unit.lookup_set(group, key) {
            self.add(&[flag, &v]);
        }
    }
    /// `--flag VALUE` for every value of a key.
    pub(super) fn strings(&mut self, unit: &UnitFile, group: &str, key: &str, flag: &str) {
        for v in unit.lookup_all(group, key) {
            self.add(&[flag, v.trim_end()]);
        }
    }
    /// `--flag` when a boolean key is true, `--flag=false` when false.
    pub(super) fn boolean(&mut self, unit: &UnitFile, group: &str, key: &str, flag: &str) {
        if let Some(b) = unit.lookup_bool(group, key) {
            self.push(if b {
                flag.to_string()
            } else {
                format!("{flag}=false")
            });
        }
    }
    /// `--flag KEY=VALUE` for every assignment of a key.
    pub(super) fn key_vals(
        &mut self,
        unit: &UnitFile,
        group: &str,
        key: &str,
        flag: &str,
    ) -> Result<(), String> {
        for (k, v) in unit.lookup_all_key_vals(group, key)? {
            match v {
                Some(v) => self.add(&[flag, &format!("{k}={v}")]),
                None => self.add(&[flag, &k]),
            }
        }
        Ok(())
    }
}

/// The unit file a conversion starts from: the source with its own group
/// renamed `X-...` (systemd ignores it), dependencies on other Quadlet
/// files turned into their services, the default network dependency,
/// where it came from.
pub(super) fn init_service(
    unit: &UnitFile,
    ctx: &Ctx,
    keys: &GroupKeys,
) -> Result<UnitFile, String> {
    keys::check(unit, keys)?;
    let mut service = unit.clone();
    service.filename = format!("{}.service", service_name(unit));
    translate_dependencies(&mut service, ctx)?;
    let default_deps = unit
        .lookup_bool("Quadlet", "DefaultDependencies")
        .unwrap_or(true);
    // a user's systemd has no network-online.target to wait for
    if default_deps && !ctx.user {
        service.prepend("Unit", "After", "network-online.target");
        service.prepend("Unit", "Wants", "network-online.target");
    }
    if let Some(p) = &unit.path {
        service.add("Unit", "SourcePath", &p.to_string_lossy());
    }
    // coracle's run root must be mounted
    service.add("Unit", "RequiresMountsFor", "%t/coracle");
    service.rename_group(keys.group, &format!("X-{}", keys.group));
    service.rename_group("Quadlet", "X-Quadlet");
    for key in ["User", "Group", "DynamicUser"] {
        if unit.has_key("Service", key) {
            crate::warn!(
                "{}: {key}= in [Service] is not supported: the container runs as the service's user",
                unit.filename
            );
        }
    }
    Ok(service)
}

const DEPENDENCY_KEYS: &[&str] = &[
    "After",
    "Before",
    "BindsTo",
    "Conflicts",
    "OnFailure",
    "OnSuccess",
    "PartOf",
    "PropagatesReloadTo",
    "PropagatesStopTo",
    "ReloadPropagatedFrom",
    "Requires",
    "Requisite",
    "StopPropagatedFrom",
    "Upholds",
    "Wants",
];

/// `After=db.container` means `After=db.service`.
fn translate_dependencies(service: &mut UnitFile, ctx: &Ctx) -> Result<(), String> {
    for key in DEPENDENCY_KEYS {
        let deps = service.lookup_all_strv("Unit", key);
        if !deps.iter().any(|d| is_quadlet_name(d)) {
            continue;
        }
        let mut out = Vec::new();
        for d in deps {
            if is_quadlet_name(&d) {
                let info = ctx
                    .infos
                    .get(&d)
                    .ok_or_else(|| format!("unable to translate dependency for {d}"))?;
                out.push(format!("{}.service", info.service));
            } else {
                out.push(d);
            }
        }
        service.unset("Unit", key);
        service.add("Unit", key, &out.join(" "));
    }
    Ok(())
}

fn is_quadlet_name(name: &str) -> bool {
    let k = kind(name);
    KINDS.contains(&k) || NOT_YET.iter().any(|(n, _)| *n == k)
}

/// Another Quadlet unit this one needs: Requires= and After= its service.
pub(super) fn require(service: &mut UnitFile, ctx: &Ctx, name: &str) -> Result<String, String> {
    let info = ctx
        .infos
        .get(name)
        .ok_or_else(|| format!("requested Quadlet unit {name} was not found"))?;
    if info.resource.is_empty() {
        return Err(format!("cannot get the resource name of {name}"));
    }
    let s = format!("{}.service", info.service);
    service.add("Unit", "Requires", &s);
    service.add("Unit", "After", &s);
    Ok(info.resource.clone())
}

/// `Image=`: a name, or a `.image`/`.build` unit that makes it.
pub(super) fn image_source(
    service: &mut UnitFile,
    ctx: &Ctx,
    image: &str,
) -> Result<String, String> {
    if image.ends_with(".image") || image.ends_with(".build") {
        return require(service, ctx, image);
    }
    Ok(image.to_string())
}

/// A value starting with a systemd specifier (`%h/x`), not `%%`.
pub(super) fn is_specifier(s: &str) -> bool {
    s.starts_with('%') && !s.starts_with("%%")
}

/// A path as the unit means it: relative to the unit file's directory.
pub(super) fn absolute(unit: &UnitFile, path: &str) -> String {
    if path.starts_with('/') || is_specifier(path) {
        return path.to_string();
    }
    match unit.path.as_deref().and_then(Path::parent) {
        Some(dir) => clean(&dir.join(path)),
        None => path.to_string(),
    }
}

/// A path with its `.` and `..` components resolved lexically.
fn clean(path: &Path) -> String {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.to_string_lossy().into_owned()
}

/// The user namespace keys, as podman's Quadlet reads them: `UserNS=`,
/// `UIDMap=`, `GIDMap=`, `SubUIDMap=`, `SubGIDMap=`; without any of those,
/// the older `RemapUsers=` (with `RemapUid=`, `RemapGid=`), which becomes
/// `--userns keep-id:...`, `--userns auto:...` (`RemapUidSize=` its size)
/// or (`manual`, where the type has it) plain id maps.
pub(super) fn user_mappings(
    unit: &UnitFile,
    group: &str,
    cmd: &mut Cmd,
    manual: bool,
) -> Result<(), String> {
    let mut defined = false;
    if let Some(u) = unit.lookup_set(group, "UserNS") {
        cmd.add(&["--userns", &u]);
        defined = true;
    }
    for (key, flag) in [("UIDMap", "--uidmap"), ("GIDMap", "--gidmap")] {
        for m in unit.lookup_all_strv(group, key) {
            cmd.add(&[flag, &m]);
            defined = true;
        }
    }
    for (key, flag) in [("SubUIDMap", "--subuidname"), ("SubGIDMap", "--subgidname")] {
        if let Some(n) = unit.lookup_set(group, key) {
            cmd.add(&[flag, &n]);
            defined = true;
        }
    }
    let uids = unit.lookup_all_strv(group, "RemapUid");
    let gids = unit.lookup_all_strv(group, "RemapGid");
    let users = unit.lookup(group, "RemapUsers");
    if defined {
        if unit.has_key(group, "RemapUid") || unit.has_key(group, "RemapGid") || users.is_some() {
            return Err("deprecated Remap keys are set along with explicit mapping keys".into());
        }
        return Ok(());
    }
    match users.as_deref().unwrap_or("") {
        "" if !uids.is_empty() => return Err("UidMap set without RemapUsers".into()),
        "" if !gids.is_empty() => return Err("GidMap set without RemapUsers".into()),
        "" => {}
        "manual" if manual => {
            for m in &uids {
                cmd.add(&["--uidmap", m]);
            }
            for m in &gids {
                cmd.add(&["--gidmap", m]);
            }
        }
        "manual" => return Err("RemapUsers=manual is not supported".into()),
        "auto" => {
            let mut opts: Vec<String> = uids.iter().map(|m| format!("uidmapping={m}")).collect();
            opts.extend(gids.iter().map(|m| format!("gidmapping={m}")));
            // podman reads a bad or zero size as no size
            if let Some(n) = unit
                .lookup(group, "RemapUidSize")
                .and_then(|v| v.trim().parse::<u32>().ok())
                .filter(|n| *n > 0)
            {
                opts.push(format!("size={n}"));
            }
            let mode = match opts.is_empty() {
                true => "auto".to_string(),
                false => format!("auto:{}", opts.join(",")),
            };
            cmd.add(&["--userns", &mode]);
        }
        "keep-id" => {
            let mut opts = Vec::new();
            for (what, maps) in [("uid", &uids), ("gid", &gids)] {
                match maps.as_slice() {
                    [] => {}
                    [one] => opts.push(format!("{what}={one}")),
                    _ => {
                        return Err(format!(
                            "RemapUsers=keep-id supports only a single value for {} mapping",
                            what.to_uppercase()
                        ))
                    }
                }
            }
            let mode = match opts.is_empty() {
                true => "keep-id".to_string(),
                false => format!("keep-id:{}", opts.join(",")),
            };
            cmd.add(&["--userns", &mode]);
        }
        other => return Err(format!("unsupported RemapUsers option '{other}'")),
    }
    Ok(())
}
