//! The global options and podman's config files, applied: read the files
//! once (`crate::config`), refuse what coracle cannot do, and fill the
//! store's options from storage.conf and containers.conf where the
//! command line left them open.

use super::types::{Driver, EventsBackend, StoreOptions};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// The global options that are not the store's own.
#[derive(Debug, Default)]
pub struct Globals {
    /// `--module`
    pub modules: Vec<String>,
    /// `--cgroup-manager`
    pub cgroup_manager: Option<String>,
    /// `--config`: a directory with docker's `config.json`.
    pub docker_config: Option<PathBuf>,
    /// `--hooks-dir`
    pub hooks_dirs: Vec<PathBuf>,
    /// `--cdi-spec-dir`
    pub cdi_spec_dirs: Vec<PathBuf>,
    /// `--network-config-dir`
    pub network_config_dir: Option<PathBuf>,
    /// `--storage-opt` (None: not given)
    pub storage_opts: Option<Vec<String>>,
    /// The remote-only option given, if any (`--remote`, `--url`, ...).
    pub remote: Option<&'static str>,
    /// `--runtime`: an external OCI runtime's name or path.
    pub runtime: Option<String>,
    /// `--runtime-flag`
    pub runtime_flags: Vec<String>,
}

/// First thing a command does: the config files read (an error names a
/// malformed one), the options no local tool can honour refused.
pub fn configure(g: &Globals) -> Result<()> {
    if let Some(flag) = g.remote {
        bail!("{flag}: remote connections are not supported: coracle is daemonless and works on this machine only");
    }
    crate::debug!("reading podman's config files");
    let conf = crate::config::load(&crate::config::LoadOptions {
        modules: g.modules.clone(),
        hooks_dirs: g.hooks_dirs.clone(),
        cdi_spec_dirs: g.cdi_spec_dirs.clone(),
        network_config_dir: g.network_config_dir.clone(),
        storage_opts: g.storage_opts.clone(),
        runtime: g.runtime.clone(),
        runtime_flags: g.runtime_flags.clone(),
    })?;
    crate::debug!(
        "containers.conf files read: {:?}; storage.conf: {:?}",
        conf.containers_files,
        conf.storage_file
    );
    if g.cgroup_manager.as_deref() == Some("systemd") {
        bail!("--cgroup-manager systemd: not supported: coracle writes the cgroup files itself (cgroupfs)");
    }
    if let Some(dir) = &g.docker_config {
        if !dir.is_dir() {
            bail!("supplied --config {} is not a directory", dir.display());
        }
        // Read where credentials are looked up (registry/auth.rs), as
        // podman's --config sets it. Single-threaded here.
        std::env::set_var("DOCKER_CONFIG", dir);
    }
    Ok(())
}

/// `opts` with what the command line left open taken from storage.conf
/// (graphroot, runroot, driver) and containers.conf (events_logger,
/// volume_path).
pub fn store_options(opts: &StoreOptions) -> Result<StoreOptions> {
    let conf = crate::config::get();
    let mut out = opts.clone();
    let storage = &conf.storage;
    let file = || {
        conf.storage_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    if out.root.is_none() {
        out.root = storage
            .graphroot
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
    }
    if out.runroot.is_none() {
        out.runroot = storage
            .runroot
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
    }
    if out.driver.is_none() {
        if let Some(d) = storage.driver.as_deref().filter(|d| !d.is_empty()) {
            out.driver = Some(
                d.parse::<Driver>()
                    .with_context(|| format!("storage configuration {}", file()))?,
            );
        }
    }
    let engine = &conf.containers.engine;
    if out.events_backend.is_none() {
        if let Some(l) = &engine.events_logger {
            out.events_backend = Some(l.parse::<EventsBackend>()?);
        }
    }
    if out.transient.is_none() {
        out.transient = storage.transient_store;
    }
    if out.image_store.is_none() {
        out.image_store = storage
            .imagestore
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
    }
    if out.volume_path.is_none() {
        out.volume_path = engine
            .volume_path
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
    }
    Ok(out)
}

/// storage.conf's `[storage.options]`, as written.
pub fn storage_options_json() -> serde_json::Value {
    crate::config::get()
        .storage
        .options
        .as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or_else(|| serde_json::json!({}))
}
