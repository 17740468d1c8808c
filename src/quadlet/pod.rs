//! `.pod` -> a `Type=forking` service whose main process is the pod's
//! infra monitor: `pod create --replace` before, `pod start`, then `pod
//! stop` and `pod rm` when it stops; the containers that name the pod
//! (`Pod=NAME.pod`) start with it.

use super::container::{add_networks, add_volumes};
use super::convert::{init_service, kind, resource_name, user_mappings, Cmd, Ctx};
use super::keys;
use super::unit::UnitFile;
use super::words;

/// The `.service` names of the containers that start with pod `unit`:
/// those naming it in `Pod=`, unless templates or `StartWithPod=false`.
pub fn members(unit: &UnitFile, all: &[UnitFile]) -> Vec<String> {
    if kind(&unit.filename) != "pod" {
        return Vec::new();
    }
    all.iter()
        .filter(|c| kind(&c.filename) == "container" && !c.filename.contains('@'))
        .filter(|c| c.lookup_set("Container", "Pod").as_deref() == Some(unit.filename.as_str()))
        .filter(|c| c.lookup_bool("Container", "StartWithPod") != Some(false))
        .map(|c| format!("{}.service", super::convert::service_name(c)))
        .collect()
}

pub fn pod(unit: &UnitFile, ctx: &Ctx) -> Result<UnitFile, String> {
    let mut service = init_service(unit, ctx, &keys::POD)?;
    const G: &str = "Pod";
    let name = resource_name(unit);
    if let Some(info) = ctx.infos.get(&unit.filename) {
        for member in &info.pod_members {
            service.add("Unit", "Wants", member);
            service.add("Unit", "Before", member);
        }
    }
    if !service.has_key("Service", "SyslogIdentifier") {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    let mut start = Cmd::new(ctx, unit, G)?;
    start.add(&["pod", "start", &name]);
    service.add("Service", "ExecStart", &words::join(&start.0));
    let timeout = unit
        .lookup_set(G, "StopTimeout")
        .unwrap_or_else(|| "10".into());
    let mut stop = Cmd::new(ctx, unit, G)?;
    stop.add(&[
        "pod",
        "stop",
        "--ignore",
        &format!("--time={timeout}"),
        &name,
    ]);
    service.add("Service", "ExecStop", &words::join(&stop.0));
    let mut rm = Cmd::new(ctx, unit, G)?;
    rm.add(&["pod", "rm", "--ignore", "--force", &name]);
    service.add("Service", "ExecStopPost", &words::join(&rm.0));

    let mut create = Cmd::new(ctx, unit, G)?;
    create.add(&[
        "pod",
        "create",
        "--infra-conmon-pidfile=%t/%N.pid",
        "--replace",
    ]);
    if let Some(p) = unit.lookup_set(G, "ExitPolicy") {
        create.push(format!("--exit-policy={p}"));
    }
    for p in unit.lookup_all(G, "PublishPort") {
        create.add(&["--publish", p.trim()]);
    }
    user_mappings(unit, G, &mut create, true)?;
    create.key_vals(unit, G, "Label", "--label")?;
    add_networks(unit, &mut service, ctx, G, &mut create)?;
    for (key, flag) in [("IP", "--ip"), ("IP6", "--ip6"), ("ShmSize", "--shm-size")] {
        create.string(unit, G, key, flag);
    }
    for (key, flag) in [
        ("NetworkAlias", "--network-alias"),
        ("DNS", "--dns"),
        ("DNSOption", "--dns-option"),
        ("DNSSearch", "--dns-search"),
        ("AddHost", "--add-host"),
        ("HostName", "--hostname"),
    ] {
        create.strings(unit, G, key, flag);
    }
    add_volumes(unit, &mut service, ctx, G, &mut create)?;
    create.add(&["--infra-name", &format!("{name}-infra"), "--name", &name]);
    create.0.extend(unit.lookup_all_args(G, "PodmanArgs")?);
    service.add("Service", "ExecStartPre", &words::join(&create.0));
    // auto-update finds the unit to restart by this
    service.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    service.set("Service", "Type", "forking");
    service.set("Service", "PIDFile", "%t/%N.pid");
    if !unit.has_key("Service", "Restart") {
        service.set("Service", "Restart", "on-failure");
    }
    Ok(service)
}
