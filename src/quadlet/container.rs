//! `.container` -> a `Type=notify` service running `coracle run -d`.

use super::convert::{
    absolute, container_name, image_source, init_service, require, user_mappings, Cmd, Ctx,
};
use super::keys;
use super::unit::UnitFile;
use super::words;

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

pub(super) fn add_volumes(
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

pub(super) fn add_networks(
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
            let resolved = require(service, ctx, name)?;
            match opts {
                Some(o) => format!("{resolved}:{o}"),
                None => resolved,
            }
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
        ("HealthLogDestination", "log-destination"),
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
    // the image, or (Rootfs=) a directory to run from
    let image = match (unit.lookup_set(G, "Image"), unit.lookup_set(G, "Rootfs")) {
        (None, None) => return Err("no Image or Rootfs key specified".into()),
        (Some(_), Some(_)) => {
            return Err("the Image And Rootfs keys conflict can not be specified together".into())
        }
        (Some(i), None) => vec![image_source(&mut service, ctx, &i)?],
        (None, Some(r)) => vec!["--rootfs".to_string(), r],
    };
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
        ("Timezone", "--tz"),
        ("ShmSize", "--shm-size"),
        ("IP", "--ip"),
        ("IP6", "--ip6"),
        ("Retry", "--retry"),
        ("RetryDelay", "--retry-delay"),
    ] {
        run.string(unit, G, key, flag);
    }
    for (key, flag) in [("Sysctl", "--sysctl"), ("LogOpt", "--log-opt")] {
        for v in unit.lookup_all_strv(G, key) {
            run.add(&[flag, &v]);
        }
    }
    for (key, flag) in [
        ("EnvironmentHost", "--env-host"),
        ("ReadOnlyTmpfs", "--read-only-tmpfs"),
        ("HttpProxy", "--http-proxy"),
    ] {
        if let Some(b) = unit.lookup_bool(G, key) {
            run.push(format!("{flag}={b}"));
        }
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
        ("GroupAdd", "--group-add"),
        ("NetworkAlias", "--network-alias"),
        ("ExposeHostPort", "--expose"),
    ] {
        run.strings(unit, G, key, flag);
    }
    // `AddDevice=-/dev/x`: only when the device exists, as podman.
    for dev in unit.lookup_all(G, "AddDevice") {
        match dev.strip_prefix('-') {
            Some(d) if !std::path::Path::new(d.split(':').next().unwrap_or(d)).exists() => {}
            Some(d) => run.add(&["--device", d]),
            None => run.add(&["--device", &dev]),
        }
    }
    if unit.lookup_bool(G, "RunInit") == Some(true) {
        run.add(&["--init"]);
    }
    add_networks(unit, &mut service, ctx, G, &mut run)?;
    if let Some(pod) = unit.lookup_set(G, "Pod") {
        if !pod.ends_with(".pod") {
            return Err(format!("pod {pod} is not Quadlet based"));
        }
        let info = ctx
            .infos
            .get(&pod)
            .ok_or_else(|| format!("quadlet pod unit {pod} does not exist"))?;
        run.add(&["--pod", &info.resource]);
        let s = format!("{}.service", info.service);
        service.add("Unit", "BindsTo", &s);
        service.add("Unit", "After", &s);
    }

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
    if unit.lookup_bool(G, "SecurityLabelDisable") == Some(true) {
        // no SELinux here: coracle accepts it as podman does on such a host
        run.add(&["--security-opt", "label=disable"]);
    }
    match unit.lookup_set(G, "AppArmor").as_deref() {
        None => {}
        Some("unconfined") => run.add(&["--security-opt", "apparmor=unconfined"]),
        Some(p) => {
            return Err(format!(
                "AppArmor={p} is not supported by coracle (no AppArmor profiles): only unconfined"
            ))
        }
    }
    for mask in unit.lookup_all_args(G, "Mask")? {
        run.add(&["--security-opt", &format!("mask={mask}")]);
    }
    for unmask in unit.lookup_all_args(G, "Unmask")? {
        run.add(&["--security-opt", &format!("unmask={unmask}")]);
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
    let read_only = unit.lookup_bool(G, "ReadOnly") == Some(true);
    if read_only {
        run.add(&["--read-only"]);
    }
    if unit.lookup_bool(G, "VolatileTmp") == Some(true) && !read_only {
        run.add(&["--tmpfs", "/tmp:rw,size=512M,mode=1777"]);
    }
    match (unit.lookup_set(G, "User"), unit.lookup_set(G, "Group")) {
        (Some(u), Some(g)) => run.add(&["--user", &format!("{u}:{g}")]),
        (Some(u), None) => run.add(&["--user", &u]),
        (None, Some(_)) => return Err("invalid Group set without User".into()),
        (None, None) => {}
    }
    user_mappings(unit, G, &mut run, true)?;
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
    for s in unit.lookup_all_args(G, "Secret")? {
        run.add(&["--secret", &s]);
    }
    for m in unit.lookup_all_args(G, "Mount")? {
        let arg = mount_arg(unit, &mut service, ctx, &m)?;
        run.add(&["--mount", &arg]);
    }
    add_health(unit, &mut run);
    run.0.extend(unit.lookup_all_args(G, "PodmanArgs")?);
    run.0.extend(image);
    if let Some(exec) = unit.lookup_last_args(G, "Exec")? {
        run.0.extend(exec);
    }
    service.add("Service", "ExecStart", &words::join(&run.0));
    Ok(service)
}
