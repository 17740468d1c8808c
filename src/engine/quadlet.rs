//! Quadlet for front ends: which directories this user's unit files are
//! read from, the generator run (systemd's, or a dry run printing what it
//! would write), and the `quadlet install/list/print/rm` verbs.

pub use crate::quadlet::Outcome;
use crate::quadlet::{self as q, Searcher};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The search directories of the user generator (`user`) or the system
/// one, from this process's environment.
pub fn searcher(user: bool) -> Searcher {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    Searcher {
        user,
        uid: nix::unistd::getuid().as_raw(),
        unit_dirs_env: std::env::var("QUADLET_UNIT_DIRS").ok(),
        xdg_runtime_dir: env("XDG_RUNTIME_DIR"),
        xdg_config_home: env("XDG_CONFIG_HOME"),
        home: env("HOME"),
    }
}

/// The absolute path of the running coracle: generated units run it.
pub fn own_path() -> Result<String> {
    let exe = std::env::current_exe().context("finding coracle's own path")?;
    Ok(exe.to_string_lossy().into_owned())
}

/// Read every unit file of these directories and convert them.
pub fn generate(user: bool) -> Result<Outcome> {
    let exe = own_path()?;
    let dirs = searcher(user).dirs();
    let mut out = Outcome::default();
    let units = q::load(&dirs, &mut out);
    q::generate(&units, &exe, user, &mut out);
    Ok(out)
}

/// systemd's generator protocol: write the services into `out_dir`.
pub fn run_generator(out_dir: &Path, user: bool, generated_by: &str) -> Result<Outcome> {
    let out = generate(user)?;
    q::write(out_dir, &out.units, generated_by)
        .with_context(|| format!("writing units into {}", out_dir.display()))?;
    Ok(out)
}
