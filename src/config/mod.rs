//! podman's config files, read once per invocation: containers.conf
//! (`containers_conf`), storage.conf (`storage_conf`), policy.json
//! (`policy`), registries.d (`registries_d`: where signatures live), each found as podman finds it (`files`). A leaf: it names nothing else of coracle's, so every
//! layer may read it. registries.conf stays with its user,
//! `registry/shortnames.rs`.

mod containers_conf;
pub mod files;
pub mod oci_runtime;
pub mod policy;
pub mod registries_d;
mod storage_conf;

pub use containers_conf::ContainersConf;
pub use oci_runtime::OciRuntime;
pub use storage_conf::StorageConf;

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Everything read, merged.
#[derive(Debug, Default)]
pub struct Config {
    pub containers: ContainersConf,
    /// The containers.conf files read, in order.
    pub containers_files: Vec<PathBuf>,
    pub storage: StorageConf,
    /// The storage.conf read last (podman's `store.configFile`).
    pub storage_file: Option<PathBuf>,
    /// OCI hook directories (`--hooks-dir`, else `[engine] hooks_dir`);
    /// None: podman's defaults.
    pub hooks_dirs: Option<Vec<PathBuf>>,
    /// CDI spec directories (`--cdi-spec-dir`, else `[engine]
    /// cdi_spec_dirs`); None: /etc/cdi and /var/run/cdi.
    pub cdi_spec_dirs: Option<Vec<PathBuf>>,
    /// Named networks' files (`--network-config-dir`, else `[network]
    /// network_config_dir`); None: in the store.
    pub network_config_dir: Option<PathBuf>,
    /// `--runtime`: the external OCI runtime new containers are run by;
    /// None: coracle's own.
    pub runtime: Option<OciRuntime>,
}

/// What the command line adds to the search.
#[derive(Debug, Default)]
pub struct LoadOptions {
    /// `--module`: more containers.conf files, read after the others.
    pub modules: Vec<String>,
    /// `--hooks-dir`
    pub hooks_dirs: Vec<PathBuf>,
    /// `--cdi-spec-dir`
    pub cdi_spec_dirs: Vec<PathBuf>,
    /// `--network-config-dir`
    pub network_config_dir: Option<PathBuf>,
    /// `--storage-opt` (None: not given)
    pub storage_opts: Option<Vec<String>>,
    /// `--runtime`
    pub runtime: Option<String>,
    /// `--runtime-flag`
    pub runtime_flags: Vec<String>,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Read the files (the first call does; later ones get the same). A
/// malformed file is an error naming it.
pub fn load(opts: &LoadOptions) -> Result<&'static Config> {
    if let Some(c) = CONFIG.get() {
        return Ok(c);
    }
    let config = read(opts)?;
    Ok(CONFIG.get_or_init(|| config))
}

/// The config this invocation read; a process that never called `load`
/// (a generator run by systemd) reads it now, and a broken file counts as
/// none (the command line's `load` reports it).
pub fn get() -> &'static Config {
    CONFIG.get_or_init(|| read(&LoadOptions::default()).unwrap_or_default())
}

fn read(opts: &LoadOptions) -> Result<Config> {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let kind = files::Kind {
        name: "containers",
        env: "CONTAINERS_CONF",
        drop_ins: true,
    };
    let found = files::search(&kind, &opts.modules, uid)?;
    let containers: ContainersConf = files::load(&found)?;
    containers.validate().with_context(|| {
        let last = found.last().map(|(p, _)| p.display().to_string());
        format!("containers.conf {}", last.unwrap_or_default())
    })?;
    let (mut storage, storage_file) = storage_conf::load(uid)?;
    let env_opts = std::env::var("STORAGE_OPTS").ok();
    storage.overlay_mountopt = storage_conf::overlay_mountopt(
        &storage,
        opts.storage_opts.as_deref(),
        env_opts.as_deref(),
    )?;
    let hooks_dirs = if opts.hooks_dirs.is_empty() {
        containers
            .engine
            .hooks_dir
            .as_ref()
            .map(|d| d.iter().map(PathBuf::from).collect())
    } else {
        Some(opts.hooks_dirs.clone())
    };
    let cdi_spec_dirs = if opts.cdi_spec_dirs.is_empty() {
        containers
            .engine
            .cdi_spec_dirs
            .as_ref()
            .map(|d| d.iter().map(PathBuf::from).collect())
    } else {
        Some(opts.cdi_spec_dirs.clone())
    };
    let network_config_dir = opts.network_config_dir.clone().or_else(|| {
        let conf = containers.network.network_config_dir.as_deref();
        conf.filter(|d| !d.is_empty()).map(PathBuf::from)
    });
    let runtime = oci_runtime::choose(
        opts.runtime.as_deref(),
        &opts.runtime_flags,
        &containers.engine,
    )?;
    Ok(Config {
        runtime,
        network_config_dir,
        hooks_dirs,
        cdi_spec_dirs,
        containers,
        containers_files: found.into_iter().map(|(p, _)| p).collect(),
        storage,
        storage_file,
    })
}
