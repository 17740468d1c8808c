//! `.kube` -> a oneshot service that plays the YAML (`kube play
//! --replace`) and stays active; `kube down` when it stops, also after a
//! failed start, so nothing is left behind. podman's runs a service
//! container and notifies systemd through it; coracle has no service
//! container, so the unit is `Type=oneshot` with `RemainAfterExit=yes`
//! (a type podman also accepts).

use super::container::add_networks;
use super::convert::{absolute, init_service, user_mappings, Cmd, Ctx};
use super::keys;
use super::unit::UnitFile;
use super::words;
use std::path::Path;

pub fn kube(unit: &UnitFile, ctx: &Ctx) -> Result<UnitFile, String> {
    let mut service = init_service(unit, ctx, &keys::KUBE)?;
    const G: &str = "Kube";
    let yamls = unit.lookup_all_strv(G, "Yaml");
    let yaml = match yamls.as_slice() {
        [] => return Err("no Yaml key specified".into()),
        [one] => absolute(unit, one),
        _ => return Err("several Yaml files are not supported: give one".into()),
    };
    match service.lookup_set("Service", "KillMode").as_deref() {
        None => service.set("Service", "KillMode", "mixed"),
        Some("mixed" | "control-group") => {}
        Some(other) => return Err(format!("invalid KillMode '{other}'")),
    }
    match service.lookup_set("Service", "Type").as_deref() {
        None | Some("oneshot") => {}
        Some(other) => {
            return Err(format!(
                "invalid service Type '{other}': coracle's .kube units are oneshot (no service container)"
            ))
        }
    }
    service.set("Service", "Type", "oneshot");
    if !unit.has_key("Service", "RemainAfterExit") {
        service.set("Service", "RemainAfterExit", "yes");
    }
    if !unit.has_key("Service", "SyslogIdentifier") {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    service.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n");

    let mut play = Cmd::new(ctx, unit, G)?;
    play.add(&["kube", "play", "--replace"]);
    play.string(unit, G, "LogDriver", "--log-driver");
    for o in unit.lookup_all_strv(G, "LogOpt") {
        play.add(&["--log-opt", &o]);
    }
    user_mappings(unit, G, &mut play, false)?;
    add_networks(unit, &mut service, ctx, G, &mut play)?;
    for c in unit.lookup_all_strv(G, "ConfigMap") {
        play.add(&["--configmap", &absolute(unit, &c)]);
    }
    for p in unit.lookup_all(G, "PublishPort") {
        play.add(&["--publish", p.trim()]);
    }
    play.0.extend(unit.lookup_all_args(G, "PodmanArgs")?);
    play.push(yaml.clone());
    service.add("Service", "ExecStart", &words::join(&play.0));

    let mut down = Cmd::new(ctx, unit, G)?;
    down.add(&["kube", "down"]);
    if unit.lookup_bool(G, "KubeDownForce") == Some(true) {
        down.push("--force".into());
    }
    down.push(yaml.clone());
    service.add("Service", "ExecStopPost", &words::join(&down.0));

    match unit.lookup_set(G, "SetWorkingDirectory").as_deref() {
        None => {}
        Some("yaml") => {
            let dir = Path::new(&yaml)
                .parent()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default();
            service.set("Service", "WorkingDirectory", &dir);
        }
        Some("unit") => {
            let dir = unit
                .path
                .as_deref()
                .and_then(Path::parent)
                .map(|d| d.to_string_lossy().into_owned())
                .ok_or("SetWorkingDirectory=unit needs the unit file's directory")?;
            service.set("Service", "WorkingDirectory", &dir);
        }
        Some(other) => {
            return Err(format!(
                "unsupported value for SetWorkingDirectory: '{other}': use yaml or unit"
            ))
        }
    }
    Ok(service)
}
