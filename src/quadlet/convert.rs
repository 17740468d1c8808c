//! One Quadlet file to one systemd service, following podman's Quadlet
//! (docs/source/markdown/podman-systemd.unit.5.md): the `[Container]`,
//! `[Volume]`, `[Image]` or `[Build]` group becomes a coracle command line
//! in `[Service]`; `[Unit]`, `[Service]` and `[Install]` pass through.

use super::keys::{self, GroupKeys};
use super::unit::{strip_ext, UnitFile};
use super::words;
use std::collections::BTreeMap;
use std::path::Path;

/// What other units need to know of one: the service it becomes and the
/// name of what it makes (container, volume, image).
#[derive(Clone, Debug, Default)]
pub struct UnitInfo {
    pub service: String,
    pub resource: String,
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
pub const KINDS: &[&str] = &["image", "volume", "build", "container"];
/// podman's types coracle has nothing to run for yet.
pub const NOT_YET: &[(&str, &str)] = &[
    ("network", "coracle has no networks yet"),
    ("kube", "coracle has no kube play yet"),
    (
        "pod",
        "coracle's pod create has no --infra-conmon-pidfile and --replace yet",
    ),
    ("artifact", "coracle has no artifacts"),
];

pub fn kind(filename: &str) -> &str {
    filename.rsplit_once('.').map(|(_, e)| e).unwrap_or("")
}

fn group_of(kind: &str) -> &'static str {
    match kind {
        "container" => "Container",
        "volume" => "Volume",
        "image" => "Image",
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
        "container" => "",
        "volume" => "-volume",
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
fn container_name(unit: &UnitFile) -> String {
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
struct Cmd(Vec<String>);

impl Cmd {
    fn new(ctx: &Ctx, unit: &UnitFile, group: &str) -> Result<Cmd, String> {
        let mut c = Cmd(vec![ctx.exe.to_string()]);
        c.0.extend(unit.lookup_all_args(group, "GlobalArgs")?);
        Ok(c)
    }
    fn add(&mut self, args: &[&str]) {
        self.0.extend(args.iter().map(|s| s.to_string()));
    }
    fn push(&mut self, arg: String) {
        self.0.push(arg);
    }
    /// `--flag VALUE` for the last non-empty value of a key.
    fn string(&mut self, unit: &UnitFile, group: &str, key: &str, flag: &str) {
        if let Some(v) = unit.lookup_set(group, key) {
            self.add(&[flag, &v]);
        }
    }
    /// `--flag VALUE` for every value of a key.
    fn strings(&mut self, unit: &UnitFile, group: &str, key: &str, flag: &str) {
        for v in unit.lookup_all(group, key) {
            self.add(&[flag, v.trim_end()]);
        }
    }
    /// `--flag KEY=VALUE` for every assignment of a key.
    fn key_vals(
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
fn init_service(unit: &UnitFile, ctx: &Ctx, keys: &GroupKeys) -> Result<UnitFile, String> {
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
fn require(service: &mut UnitFile, ctx: &Ctx, name: &str) -> Result<String, String> {
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
fn image_source(service: &mut UnitFile, ctx: &Ctx, image: &str) -> Result<String, String> {
    if image.ends_with(".image") || image.ends_with(".build") {
        return require(service, ctx, image);
    }
    Ok(image.to_string())
}

/// A value starting with a systemd specifier (`%h/x`), not `%%`.
fn is_specifier(s: &str) -> bool {
    s.starts_with('%') && !s.starts_with("%%")
}

/// A path as the unit means it: relative to the unit file's directory.
fn absolute(unit: &UnitFile, path: &str) -> String {
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

/// The source of a `Volume=`: a host path (which must be mounted), a
/// `.volume` unit, or a volume name.
fn storage_source(
    unit: &UnitFile,
    service: &mut UnitFile,
    ctx: &Ctx,
    source: &str,
) -> Result<String, String> {
    let source = if source.starts_with('.') {
        absolute(unit, source)
    } else {
        source.to_string()
    };
    if source.starts_with('/') {
        service.add("Unit", "RequiresMountsFor", &source);
        return Ok(source);
    }
    if source.ends_with(".volume") {
        return require(service, ctx, &source);
    }
    Ok(source)
}

fn add_volumes(
    unit: &UnitFile,
    service: &mut UnitFile,
    ctx: &Ctx,
    group: &str,
    cmd: &mut Cmd,
) -> Result<(), String> {
    for v in unit.lookup_all(group, "Volume") {
        let parts: Vec<&str> = v.splitn(3, ':').collect();
        let arg = match parts.as_slice() {
            [dest] => dest.to_string(),
            [src, dest, rest @ ..] => {
                let src = storage_source(unit, service, ctx, src)?;
                let opts = rest.first().map(|o| format!(":{o}")).unwrap_or_default();
                format!("{src}:{dest}{opts}")
            }
            [] => continue,
        };
        cmd.add(&["-v", &arg]);
    }
    Ok(())
}

/// `Mount=type=volume,source=data.volume,...`: the source resolved like a
/// `Volume=`'s.
fn mount_arg(
    unit: &UnitFile,
    service: &mut UnitFile,
    ctx: &Ctx,
    mount: &str,
) -> Result<String, String> {
    let mut fields: Vec<String> = mount.split(',').map(str::to_string).collect();
    let typ = fields
        .iter()
        .find_map(|f| f.strip_prefix("type="))
        .unwrap_or("volume")
        .to_string();
    for f in fields.iter_mut() {
        let Some((k, v)) = f.split_once('=') else {
            continue;
        };
        if matches!(k, "source" | "src") && (typ == "volume" || typ == "bind") {
            let resolved = storage_source(unit, service, ctx, v)?;
            *f = format!("{k}={resolved}");
        }
    }
    Ok(fields.join(","))
}

fn add_networks(
    unit: &UnitFile,
    service: &mut UnitFile,
    ctx: &Ctx,
    group: &str,
    cmd: &mut Cmd,
) -> Result<(), String> {
    for n in unit.lookup_all(group, "Network") {
        let (name, opts) = match n.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (n.as_str(), None),
        };
        let arg = if name.ends_with(".network") {
            return Err(format!(
                "Network={name}: .network units are not supported yet (coracle has no networks)"
            ));
        } else if name.ends_with(".container") {
            if opts.is_some() {
                return Err(
                    "extra options are not supported when joining another container's network"
                        .into(),
                );
            }
            format!("container:{}", require(service, ctx, name)?)
        } else {
            n.clone()
        };
        cmd.add(&["--network", &arg]);
    }
    Ok(())
}

fn add_health(unit: &UnitFile, cmd: &mut Cmd) {
    for (key, flag) in [
        ("HealthCmd", "cmd"),
        ("HealthInterval", "interval"),
        ("HealthOnFailure", "on-failure"),
        ("HealthMaxLogCount", "max-log-count"),
        ("HealthMaxLogSize", "max-log-size"),
        ("HealthRetries", "retries"),
        ("HealthStartPeriod", "start-period"),
        ("HealthTimeout", "timeout"),
        ("HealthStartupCmd", "startup-cmd"),
        ("HealthStartupInterval", "startup-interval"),
        ("HealthStartupRetries", "startup-retries"),
        ("HealthStartupSuccess", "startup-success"),
        ("HealthStartupTimeout", "startup-timeout"),
    ] {
        cmd.string(unit, "Container", key, &format!("--health-{flag}"));
    }
}

/// ExecReload= from ReloadCmd= (exec in the container) or ReloadSignal=.
fn add_reload(
    unit: &UnitFile,
    service: &mut UnitFile,
    ctx: &Ctx,
    name: &str,
) -> Result<(), String> {
    let cmd = unit
        .lookup_last_args("Container", "ReloadCmd")?
        .filter(|c| !c.is_empty());
    let signal = unit.lookup_set("Container", "ReloadSignal");
    let mut reload = Cmd::new(ctx, unit, "Container")?;
    match (cmd, signal) {
        (None, None) => return Ok(()),
        (Some(_), Some(_)) => {
            return Err("ReloadCmd and ReloadSignal are mutually exclusive but both are set".into())
        }
        (Some(c), None) => {
            reload.add(&["exec", name]);
            reload.0.extend(c);
        }
        (None, Some(s)) => reload.add(&["kill", "--signal", &s, name]),
    }
    service.add("Service", "ExecReload", &words::join(&reload.0));
    Ok(())
}

/// `.container` -> `NAME.service` running `coracle run -d` under systemd's
/// notify protocol.
pub fn container(unit: &UnitFile, ctx: &Ctx) -> Result<UnitFile, String> {
    let mut service = init_service(unit, ctx, &keys::CONTAINER)?;
    const G: &str = "Container";
    let image = unit
        .lookup_set(G, "Image")
        .ok_or("no Image key specified")?;
    let image = image_source(&mut service, ctx, &image)?;
    let name = container_name(unit);

    // auto-update finds the unit to restart by this
    service.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    match service.lookup("Service", "KillMode").as_deref() {
        None => service.set("Service", "KillMode", "mixed"),
        Some("mixed" | "control-group") => {}
        Some(other) => return Err(format!("invalid KillMode '{other}'")),
    }
    // the container may outlive a killed monitor: remove it either way
    let mut stop = Cmd::new(ctx, unit, G)?;
    stop.add(&["rm", "-v", "-f", "-i", &name]);
    service.add("Service", "ExecStop", &words::join(&stop.0));
    stop.0[0] = format!("-{}", stop.0[0]);
    service.add("Service", "ExecStopPost", &words::join(&stop.0));
    add_reload(unit, &mut service, ctx, &name)?;

    let mut run = Cmd::new(ctx, unit, G)?;
    run.add(&["run", "--name", &name, "--replace", "--rm"]);
    run.string(unit, G, "LogDriver", "--log-driver");
    service.add("Service", "Delegate", "yes");
    match unit.lookup_set(G, "CgroupsMode") {
        Some(m) => run.add(&["--cgroups", &m]),
        None => run.add(&["--cgroups=split"]),
    }
    if let Some(e) = unit.lookup(G, "Entrypoint") {
        run.push(format!("--entrypoint={e}"));
    }
    for (key, flag) in [
        ("PidsLimit", "--pids-limit"),
        ("WorkingDir", "--workdir"),
        ("HostName", "--hostname"),
        ("StopSignal", "--stop-signal"),
        ("StopTimeout", "--stop-timeout"),
        ("Memory", "--memory"),
    ] {
        run.string(unit, G, key, flag);
    }
    if let Some(p) = unit.lookup_set(G, "Pull") {
        // coracle's --pull takes its value only after `=`
        run.push(format!("--pull={p}"));
    }
    for (key, flag) in [
        ("Ulimit", "--ulimit"),
        ("DNS", "--dns"),
        ("DNSOption", "--dns-option"),
        ("DNSSearch", "--dns-search"),
        ("AddHost", "--add-host"),
        ("Tmpfs", "--tmpfs"),
    ] {
        run.strings(unit, G, key, flag);
    }
    if unit.lookup_bool(G, "RunInit") == Some(true) {
        run.add(&["--init"]);
    }
    add_networks(unit, &mut service, ctx, G, &mut run)?;

    match service.lookup("Service", "Type").as_deref() {
        None | Some("notify") => {
            let notify = unit.lookup(G, "Notify");
            let mode = match notify.as_deref() {
                Some(v) if v.eq_ignore_ascii_case("healthy") => "healthy",
                _ if unit.lookup_bool(G, "Notify") == Some(true) => "container",
                _ => "conmon",
            };
            run.push(format!("--sdnotify={mode}"));
            service.set("Service", "Type", "notify");
            service.set("Service", "NotifyAccess", "all");
            run.add(&["-d"]);
        }
        Some("oneshot") => {}
        Some(other) => return Err(format!("invalid service Type '{other}'")),
    }
    if !unit.has_key("Service", "SyslogIdentifier") {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    if unit.lookup_bool(G, "NoNewPrivileges") == Some(true) {
        run.add(&["--security-opt=no-new-privileges"]);
    }
    if let Some(p) = unit.lookup(G, "SeccompProfile") {
        run.add(&["--security-opt", &format!("seccomp={p}")]);
    }
    for c in unit.lookup_all_strv(G, "DropCapability") {
        run.add(&["--cap-drop", &c.to_lowercase()]);
    }
    for c in unit.lookup_all_strv(G, "AddCapability") {
        run.add(&["--cap-add", &c.to_lowercase()]);
    }
    if unit.lookup_bool(G, "ReadOnly") == Some(true) {
        run.add(&["--read-only"]);
    }
    match (unit.lookup_set(G, "User"), unit.lookup_set(G, "Group")) {
        (Some(u), Some(g)) => run.add(&["--user", &format!("{u}:{g}")]),
        (Some(u), None) => run.add(&["--user", &u]),
        (None, Some(_)) => return Err("invalid Group set without User".into()),
        (None, None) => {}
    }
    run.string(unit, G, "UserNS", "--userns");
    add_volumes(unit, &mut service, ctx, G, &mut run)?;
    if let Some(policy) = unit.lookup_set(G, "AutoUpdate") {
        run.add(&["--label", &format!("io.containers.autoupdate={policy}")]);
    }
    for p in unit.lookup_all(G, "PublishPort") {
        run.add(&["--publish", p.trim()]);
    }
    run.key_vals(unit, G, "Environment", "--env")?;
    run.key_vals(unit, G, "Label", "--label")?;
    run.key_vals(unit, G, "Annotation", "--annotation")?;
    for f in unit.lookup_all_args(G, "EnvironmentFile")? {
        run.add(&["--env-file", &absolute(unit, &f)]);
    }
    for m in unit.lookup_all_args(G, "Mount")? {
        let arg = mount_arg(unit, &mut service, ctx, &m)?;
        run.add(&["--mount", &arg]);
    }
    add_health(unit, &mut run);
    run.0.extend(unit.lookup_all_args(G, "PodmanArgs")?);
    run.push(image);
    if let Some(exec) = unit.lookup_last_args(G, "Exec")? {
        run.0.extend(exec);
    }
    service.add("Service", "ExecStart", &words::join(&run.0));
    Ok(service)
}

/// The `Type=oneshot` defaults of the resource units.
fn oneshot(service: &mut UnitFile, remain: bool) {
    if !service.has_key("Service", "SyslogIdentifier") {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    if !service.has_key("Service", "Type") {
        service.set("Service", "Type", "oneshot");
    }
    if remain && !service.has_key("Service", "RemainAfterExit") {
        service.set("Service", "RemainAfterExit", "yes");
    }
}

/// `.volume` -> `NAME-volume.service`: `volume create --ignore`.
pub fn volume(unit: &UnitFile, ctx: &Ctx) -> Result<UnitFile, String> {
    let mut service = init_service(unit, ctx, &keys::VOLUME)?;
    const G: &str = "Volume";
    let mut cmd = Cmd::new(ctx, unit, G)?;
    cmd.add(&["volume", "create", "--ignore"]);
    cmd.string(unit, G, "Driver", "--driver");
    let device = unit.lookup_set(G, "Device");
    if let Some(d) = &device {
        cmd.add(&["--opt", &format!("device={d}")]);
    }
    if let Some(t) = unit.lookup_set(G, "Type") {
        let Some(d) = &device else {
            return Err("key Type can't be used without Device".into());
        };
        cmd.add(&["--opt", &format!("type={t}")]);
        if t == "bind" {
            service.add("Unit", "RequiresMountsFor", d);
        }
    }
    if let Some(o) = unit.lookup_set(G, "Options") {
        cmd.add(&["--opt", &format!("o={o}")]);
    }
    cmd.key_vals(unit, G, "Label", "--label")?;
    cmd.0.extend(unit.lookup_all_args(G, "PodmanArgs")?);
    cmd.push(resource_name(unit));
    service.add("Service", "ExecStart", &words::join(&cmd.0));
    oneshot(&mut service, true);
    Ok(service)
}

/// `.image` -> `NAME-image.service`: `image pull`.
pub fn image(unit: &UnitFile, ctx: &Ctx) -> Result<UnitFile, String> {
    let mut service = init_service(unit, ctx, &keys::IMAGE)?;
    const G: &str = "Image";
    let image = unit
        .lookup_set(G, "Image")
        .ok_or("no Image key specified")?;
    let mut cmd = Cmd::new(ctx, unit, G)?;
    cmd.add(&["image", "pull"]);
    for (key, flag) in [
        ("Arch", "--arch"),
        ("AuthFile", "--authfile"),
        ("Creds", "--creds"),
        ("OS", "--os"),
        ("Variant", "--variant"),
    ] {
        cmd.string(unit, G, key, flag);
    }
    if let Some(v) = unit.lookup_bool(G, "TLSVerify") {
        cmd.push(format!("--tls-verify={v}"));
    }
    cmd.0.extend(unit.lookup_all_args(G, "PodmanArgs")?);
    cmd.push(image);
    service.add("Service", "ExecStart", &words::join(&cmd.0));
    oneshot(&mut service, true);
    Ok(service)
}

/// `.build` -> `NAME-build.service`: `build --tag ...` in the unit's
/// working directory.
pub fn build(unit: &UnitFile, ctx: &Ctx) -> Result<UnitFile, String> {
    let mut service = init_service(unit, ctx, &keys::BUILD)?;
    const G: &str = "Build";
    if resource_name(unit).is_empty() {
        return Err("no ImageTag key specified".into());
    }
    let mut cmd = Cmd::new(ctx, unit, G)?;
    cmd.add(&["build"]);
    if let Some(p) = unit.lookup_set(G, "Pull") {
        cmd.push(format!("--pull={p}"));
    }
    cmd.string(unit, G, "AuthFile", "--authfile");
    cmd.string(unit, G, "Target", "--target");
    if let Some(v) = unit.lookup_bool(G, "TLSVerify") {
        cmd.push(format!("--tls-verify={v}"));
    }
    cmd.strings(unit, G, "ImageTag", "--tag");
    cmd.key_vals(unit, G, "BuildArg", "--build-arg")?;
    cmd.key_vals(unit, G, "Label", "--label")?;
    // SetWorkingDirectory=unit: the directory of the .build file
    let context = match unit.lookup_set(G, "SetWorkingDirectory").as_deref() {
        Some("unit") => {
            let dir = unit
                .path
                .as_deref()
                .and_then(Path::parent)
                .map(|d| d.to_string_lossy().into_owned())
                .ok_or("SetWorkingDirectory=unit needs the unit file's directory")?;
            service.set("Service", "WorkingDirectory", &dir);
            String::new()
        }
        Some("file") => {
            let file = unit
                .lookup_set(G, "File")
                .ok_or("SetWorkingDirectory=file needs File=")?;
            let dir = Path::new(&absolute(unit, &file))
                .parent()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default();
            service.set("Service", "WorkingDirectory", &dir);
            String::new()
        }
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let workdir = service.lookup_set("Service", "WorkingDirectory");
    let file = unit.lookup_set(G, "File");
    if workdir.is_none() && file.is_none() && context.is_empty() {
        return Err("neither SetWorkingDirectory, nor File key specified".into());
    }
    if let Some(f) = &file {
        cmd.add(&["--file", f]);
    }
    cmd.0.extend(unit.lookup_all_args(G, "PodmanArgs")?);
    if !context.is_empty() {
        cmd.push(context);
    } else {
        let relative = file
            .as_deref()
            .is_some_and(|f| !f.starts_with('/') && !is_specifier(f));
        match (&workdir, relative || file.is_none()) {
            (Some(w), true) => cmd.push(w.clone()),
            (None, true) => {
                return Err(
                    "relative path in File key requires SetWorkingDirectory key to be set".into(),
                )
            }
            _ => {}
        }
    }
    service.add("Service", "ExecStart", &words::join(&cmd.0));
    oneshot(&mut service, false);
    Ok(service)
}
