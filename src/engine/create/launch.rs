//! The launch settings of a new container (`--uidmap` and kin,
//! `--init-path`), checked before anything is pulled or written.

use super::ContainerRequest;
use crate::storage::launch::LaunchSettings;
use anyhow::{bail, Result};

pub fn settings(req: &ContainerRequest) -> Result<LaunchSettings> {
    let in_pod = req.pod.as_deref().is_some_and(|p| !p.is_empty());
    let init_path = match &req.init_path {
        None => None,
        Some(p) if !req.init => bail!("--init-path {p:?} is the init --init runs: add --init"),
        Some(p) if !p.starts_with('/') => bail!("--init-path {p:?}: must be an absolute path"),
        Some(p) => match std::fs::metadata(p) {
            Ok(m) if m.is_file() => Some(p.clone()),
            Ok(_) => bail!("--init-path {p:?}: not a file"),
            Err(e) => bail!("--init-path {p:?}: {e}"),
        },
    };
    let id_mappings = super::idmap::resolve(&req.id_maps, &req.userns, in_pod)?;
    if id_mappings.is_some() && crate::config::get().runtime.is_some() {
        bail!(
            "--uidmap/--gidmap/--subuidname/--subgidname need coracle's own runtime, not --runtime"
        );
    }
    if !matches!(req.systemd.as_str(), "" | "true" | "false" | "always") {
        bail!(
            "invalid --systemd {:?}: use true, false or always",
            req.systemd
        );
    }
    let mut attach = Vec::new();
    for stream in &req.attach {
        let s = stream.to_ascii_lowercase();
        if !matches!(s.as_str(), "stdin" | "stdout" | "stderr") {
            bail!(
                "invalid stream {stream:?} for --attach - must be one of stdin, stdout, or stderr"
            );
        }
        if !attach.contains(&s) {
            attach.push(s);
        }
    }
    Ok(LaunchSettings {
        id_mappings,
        init_path,
        systemd: false,
        attach,
    })
}

/// `--systemd`: always, or (true, the default) when the program is
/// systemd or an init, as podman decides. Systemd stops on SIGRTMIN+3
/// unless a stop signal was given or the image has one.
pub fn apply_systemd(flag: &str, cfg: &mut crate::storage::containers::ContainerConfig) {
    let program = cfg.args.first().map(String::as_str).unwrap_or_default();
    let init = matches!(
        program,
        "/sbin/init" | "/usr/sbin/init" | "/usr/local/sbin/init"
    ) || std::path::Path::new(program).file_name() == Some("systemd".as_ref());
    cfg.launch.systemd = flag == "always" || (flag != "false" && init);
    if cfg.launch.systemd && cfg.stop_signal.is_empty() {
        cfg.stop_signal = "SIGRTMIN+3".into();
    }
}

/// `--preserve-fds N` and `--preserve-fd LIST`: the descriptor numbers,
/// each one the caller passed.
pub fn preserved_fds(count: u32, listed: &[u32]) -> Result<Vec<i32>> {
    crate::runtime::launch::preserved_fds(count, listed)
}

/// The descriptors the containers this process starts get (`run`).
pub fn pass_fds(fds: Vec<i32>) {
    crate::runtime::launch::pass_fds(fds)
}
