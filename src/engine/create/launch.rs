//! The launch settings of a new container (`--uidmap` and kin,
//! `--init-path`), checked before anything is pulled or written.

use super::ContainerRequest;
use crate::storage::launch::{LaunchSettings, RootfsDir};
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
    let id_mappings = super::idmap::for_mode(&req.id_maps, &req.userns, in_pod)?;
    let auto = matches!(req.userns, crate::storage::modes::UsernsMode::Auto(_));
    if auto && crate::config::get().runtime.is_some() {
        bail!("--userns=auto needs coracle's own runtime, not --runtime");
    }
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
    let systemd_tmpfs_size = systemd_tmpfs_size(req.shm_size_systemd.as_deref())?;
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
    let rootfs = match req.rootfs {
        false => None,
        true => Some(rootfs_dir(&req.image)?),
    };
    if rootfs.is_some() && (id_mappings.is_some() || req.userns.is_keep_id() || auto) {
        bail!("--rootfs cannot be used with --uidmap/--gidmap/--subuidname/--subgidname or --userns keep-id or auto");
    }
    Ok(LaunchSettings {
        id_mappings,
        init_path,
        systemd: false,
        systemd_tmpfs_size,
        attach,
        rootfs,
        userns_from: None,
    })
}

/// `--shm-size-systemd`: podman's size format (64m, 1g, bytes alone).
pub fn systemd_tmpfs_size(size: Option<&str>) -> Result<Option<u64>> {
    let Some(s) = size else { return Ok(None) };
    let n = super::limits::parse_bytes(s, "--shm-size-systemd")?;
    if n < 0 {
        bail!("invalid value for --shm-size-systemd: {s:?}");
    }
    Ok(Some(n as u64))
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
pub fn pass_fds(fds: Vec<i32>) -> Result<()> {
    if !fds.is_empty() && crate::config::get().runtime.is_some() {
        bail!("--preserve-fds/--preserve-fd need coracle's own runtime, not --runtime");
    }
    crate::runtime::launch::pass_fds(fds);
    Ok(())
}

/// `--rootfs PATH[:O]`: an existing directory, kept by its absolute path
/// (as given, symlinks not resolved: podman's `Rootfs`).
fn rootfs_dir(spec: &str) -> Result<RootfsDir> {
    let (path, overlay) = match spec.rsplit_once(':') {
        Some((p, "O")) if !p.is_empty() => (p, true),
        Some((_, o)) if o == "idmap" || o.starts_with("idmap=") => {
            bail!("--rootfs {spec:?}: the idmap option is not supported")
        }
        _ => (spec, false),
    };
    if path.is_empty() {
        bail!("--rootfs needs a directory: the first argument is the root filesystem's path");
    }
    let abs = std::path::absolute(path).map_err(|e| anyhow::anyhow!("--rootfs {path:?}: {e}"))?;
    match std::fs::metadata(&abs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("--rootfs {path:?}: not a directory"),
        Err(e) => bail!("--rootfs {path:?}: {e}"),
    }
    let path = abs.to_string_lossy().into_owned();
    // overlayfs takes its layers as "lowerdir=A:B,...": no room for these.
    if overlay && path.contains([':', ',']) {
        bail!(
            "--rootfs {path:?}:O: an overlay's lower directory cannot have ':' or ',' in its path"
        );
    }
    Ok(RootfsDir { path, overlay })
}
