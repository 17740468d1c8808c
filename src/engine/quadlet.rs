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

/// Where `quadlet install` puts files: /etc/containers/systemd, or the
/// user's ~/.config/containers/systemd.
pub fn install_dir(user: bool) -> Result<PathBuf> {
    if !user {
        return Ok(PathBuf::from("/etc/containers/systemd"));
    }
    let s = searcher(true);
    let config = s
        .xdg_config_home
        .or_else(|| s.home.map(|h| h.join(".config")))
        .context("neither XDG_CONFIG_HOME nor HOME is set")?;
    Ok(config.join("containers/systemd"))
}

/// `systemctl [--user] ARGS`, its stdout when it succeeded.
fn systemctl(user: bool, args: &[&str]) -> Result<String> {
    let mut cmd = std::process::Command::new("systemctl");
    if user {
        cmd.arg("--user");
    }
    let out = cmd
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .context("running systemctl")?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', " ");
        anyhow::bail!("systemctl {}: {}: {why}", args.join(" "), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn reload_systemd(user: bool) -> Result<()> {
    systemctl(user, &["daemon-reload"]).map(|_| ())
}

/// One installed (or otherwise found) Quadlet file.
#[derive(Debug, Clone)]
pub struct Installed {
    pub name: String,
    pub unit: String,
    pub path: PathBuf,
    /// systemd's `ActiveState/SubState`, or "Not loaded".
    pub status: String,
    /// `Pod=` of a .container.
    pub pod: String,
}

/// Every Quadlet file this user's generator reads, as `quadlet list`
/// shows them.
pub fn list(user: bool) -> Result<Vec<Installed>> {
    let dirs = searcher(user).dirs();
    let mut out = Outcome::default();
    let units = q::load(&dirs, &mut out);
    let mut list = Vec::new();
    for u in units {
        let unit = format!("{}.service", q::service_name(&u));
        let status = systemctl(
            user,
            &[
                "show",
                "-P",
                "LoadState",
                "-P",
                "ActiveState",
                "-P",
                "SubState",
                &unit,
            ],
        )
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.lines().collect();
            (f.first() == Some(&"loaded") && f.len() == 3).then(|| format!("{}/{}", f[1], f[2]))
        })
        .unwrap_or_else(|| "Not loaded".to_string());
        list.push(Installed {
            name: u.filename.clone(),
            pod: u.lookup_set("Container", "Pod").unwrap_or_default(),
            unit,
            path: u.path.clone().unwrap_or_default(),
            status,
        });
    }
    Ok(list)
}

/// The file of a Quadlet by name (`web.container`), first in search order.
pub fn find(user: bool, name: &str) -> Option<PathBuf> {
    if name.contains('/') || !q::is_unit_name(name) {
        return None;
    }
    searcher(user)
        .dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Copy Quadlet files (and the files they use) into the install directory;
/// a directory installs every file in it. Returns the paths written.
pub fn install(user: bool, sources: &[PathBuf], replace: bool) -> Result<Vec<PathBuf>> {
    let Some(first) = sources.first() else {
        anyhow::bail!("quadlet install: a file or directory to install is required");
    };
    let mut files: Vec<PathBuf> = Vec::new();
    if first.is_dir() {
        let rd =
            std::fs::read_dir(first).with_context(|| format!("reading {}", first.display()))?;
        let mut v: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        if !v.iter().any(|p| {
            p.file_name()
                .is_some_and(|n| q::is_unit_name(&n.to_string_lossy()))
        }) {
            anyhow::bail!("no Quadlet files found in {}", first.display());
        }
        files.extend(v);
    } else {
        let name = first
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if first.to_string_lossy().contains("://") {
            anyhow::bail!(
                "{}: installing from a URL is not supported: give a local file",
                first.display()
            );
        }
        if !q::is_unit_name(&name) {
            anyhow::bail!("{}: not a Quadlet file (.container, .volume, .image, .build, .pod, .network, .kube)", first.display());
        }
        files.push(first.clone());
    }
    files.extend(sources[1..].iter().cloned());
    let dir = install_dir(user)?;
    for f in &files {
        let name = f.file_name().context("a file name is required")?;
        let dest = dir.join(name);
        if !f.is_file() {
            anyhow::bail!("{}: no such file", f.display());
        }
        if dest.exists() && !replace {
            anyhow::bail!(
                "a Quadlet with name {} already exists, refusing to overwrite (use --replace)",
                name.to_string_lossy()
            );
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for f in &files {
        let dest = dir.join(f.file_name().expect("checked above"));
        std::fs::copy(f, &dest).with_context(|| format!("installing {}", dest.display()))?;
        written.push(dest);
    }
    Ok(written)
}

/// Remove installed Quadlet files; a running unit only with `force`
/// (stopped first). Returns the names removed.
pub fn remove(
    user: bool,
    names: &[String],
    all: bool,
    force: bool,
    ignore: bool,
) -> Result<Vec<String>> {
    let dir = install_dir(user)?;
    let names: Vec<String> = if all {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| q::is_unit_name(n))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    } else {
        names.to_vec()
    };
    let mut removed = Vec::new();
    for name in names {
        let path = dir.join(&name);
        if name.contains('/') || !q::is_unit_name(&name) || !path.is_file() {
            if ignore {
                continue;
            }
            anyhow::bail!("{name}: no such Quadlet installed in {}", dir.display());
        }
        let unit = crate::quadlet::UnitFile::read(&path)
            .map(|u| format!("{}.service", q::service_name(&u)))
            .map_err(|e| anyhow::anyhow!(e))?;
        let active = systemctl(user, &["is-active", &unit]).is_ok_and(|s| s.trim() == "active");
        if active {
            if !force {
                anyhow::bail!(
                    "{name}: its unit {unit} is running: use --force to stop and remove it"
                );
            }
            systemctl(user, &["stop", &unit])?;
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        removed.push(name);
    }
    Ok(removed)
}

/// The verbs work on the calling user's Quadlets: a user's own directory,
/// root's the system's.
pub fn for_user() -> bool {
    crate::runtime::userns::is_rootless()
}
