//! `.volume`, `.network`, `.image` and `.build` -> `Type=oneshot` services
//! that make what containers use (a volume, a network, an image).

use super::container::{add_networks, add_volumes};
use super::convert::{absolute, init_service, is_specifier, resource_name, Cmd, Ctx};
use super::keys;
use super::unit::UnitFile;
use super::words;
use std::path::Path;

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
    cmd.string(unit, G, "UID", "--uid");
    cmd.string(unit, G, "GID", "--gid");
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
    match unit.lookup_bool(G, "Copy") {
        Some(true) => cmd.add(&["--opt", "copy"]),
        Some(false) => cmd.add(&["--opt", "nocopy"]),
        None => {}
    }
    // `User=`/`Group=` own the volume's directory: `o=uid=,gid=` before
    // the mount options, as podman writes them.
    let mut o = Vec::new();
    for (key, opt) in [("User", "uid"), ("Group", "gid")] {
        if let Some(v) = unit.lookup(G, key) {
            let id: u32 = v
                .trim()
                .parse()
                .map_err(|_| format!("invalid {key}={v}: a numeric id is needed"))?;
            o.push(format!("{opt}={id}"));
        }
    }
    o.extend(unit.lookup_set(G, "Options"));
    if !o.is_empty() {
        cmd.add(&["--opt", &format!("o={}", o.join(","))]);
    }
    cmd.key_vals(unit, G, "Label", "--label")?;
    cmd.0.extend(unit.lookup_all_args(G, "PodmanArgs")?);
    cmd.push(resource_name(unit));
    service.add("Service", "ExecStart", &words::join(&cmd.0));
    oneshot(&mut service, true);
    Ok(service)
}

/// `.network` -> `NAME-network.service`: `network create --ignore`
/// (and `network rm` when it stops, with `NetworkDeleteOnStop=true`).
pub fn network(unit: &UnitFile, ctx: &Ctx) -> Result<UnitFile, String> {
    let mut service = init_service(unit, ctx, &keys::NETWORK)?;
    const G: &str = "Network";
    let name = resource_name(unit);
    let mut cmd = Cmd::new(ctx, unit, G)?;
    cmd.add(&["network", "create", "--ignore"]);
    if unit.lookup_bool(G, "DisableDNS") == Some(true) {
        cmd.add(&["--disable-dns"]);
    }
    cmd.strings(unit, G, "DNS", "--dns");
    cmd.string(unit, G, "Driver", "--driver");
    cmd.strings(unit, G, "Subnet", "--subnet");
    cmd.strings(unit, G, "Gateway", "--gateway");
    cmd.strings(unit, G, "IPRange", "--ip-range");
    cmd.string(unit, G, "InterfaceName", "--interface-name");
    cmd.string(unit, G, "IPAMDriver", "--ipam-driver");
    cmd.boolean(unit, G, "IPv6", "--ipv6");
    if unit.lookup_bool(G, "Internal") == Some(true) {
        cmd.add(&["--internal"]);
    }
    cmd.key_vals(unit, G, "Options", "--opt")?;
    cmd.key_vals(unit, G, "Label", "--label")?;
    cmd.0.extend(unit.lookup_all_args(G, "PodmanArgs")?);
    cmd.push(name.clone());
    service.add("Service", "ExecStart", &words::join(&cmd.0));
    if unit.lookup_bool(G, "NetworkDeleteOnStop") == Some(true) {
        let mut rm = Cmd::new(ctx, unit, G)?;
        rm.add(&["network", "rm", "-f", &name]);
        service.add("Service", "ExecStopPost", &words::join(&rm.0));
    }
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
        ("CertDir", "--cert-dir"),
        ("Creds", "--creds"),
        ("OS", "--os"),
        ("Policy", "--policy"),
        ("Variant", "--variant"),
        ("Retry", "--retry"),
        ("RetryDelay", "--retry-delay"),
    ] {
        cmd.string(unit, G, key, flag);
    }
    cmd.boolean(unit, G, "AllTags", "--all-tags");
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
    for (key, flag) in [
        ("Arch", "--arch"),
        ("AuthFile", "--authfile"),
        ("IgnoreFile", "--ignorefile"),
        ("Target", "--target"),
        ("Variant", "--variant"),
        ("Retry", "--retry"),
        ("RetryDelay", "--retry-delay"),
    ] {
        cmd.string(unit, G, key, flag);
    }
    if let Some(v) = unit.lookup_bool(G, "TLSVerify") {
        cmd.push(format!("--tls-verify={v}"));
    }
    cmd.boolean(unit, G, "ForceRM", "--force-rm");
    for (key, flag) in [
        ("DNS", "--dns"),
        ("DNSOption", "--dns-option"),
        ("DNSSearch", "--dns-search"),
        ("GroupAdd", "--group-add"),
        ("ImageTag", "--tag"),
    ] {
        cmd.strings(unit, G, key, flag);
    }
    cmd.key_vals(unit, G, "BuildArg", "--build-arg")?;
    cmd.key_vals(unit, G, "Environment", "--env")?;
    cmd.key_vals(unit, G, "Label", "--label")?;
    cmd.key_vals(unit, G, "Annotation", "--annotation")?;
    add_networks(unit, &mut service, ctx, G, &mut cmd)?;
    for s in unit.lookup_all_args(G, "Secret")? {
        cmd.add(&["--secret", &s]);
    }
    add_volumes(unit, &mut service, ctx, G, &mut cmd)?;
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
