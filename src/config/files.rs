//! Where podman's config files are looked for and how they are read
//! (containers/storage's `configfile`): the first main file found (the
//! user's, then /etc/containers, then /usr/share/containers) or the one an
//! environment variable names; then the drop-in directories, merged by file
//! name with the higher level winning, in name order; then modules; then
//! the `_OVERRIDE` file. Each file is TOML, merged key by key over the
//! ones before it.

use anyhow::{anyhow, bail, Result};
use std::path::{Path, PathBuf};

const SYSTEM_DIR: &str = "/usr/share/containers";
const ADMIN_DIR: &str = "/etc/containers";

/// One kind of config file: `containers.conf`, `storage.conf`.
pub struct Kind {
    /// The file name without its extension: `containers`, `storage`.
    pub name: &'static str,
    /// `CONTAINERS_CONF`, `CONTAINERS_STORAGE_CONF`.
    pub env: &'static str,
    pub drop_ins: bool,
}

/// `$XDG_CONFIG_HOME/containers`, else `~/.config/containers`.
pub fn user_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(d).join("containers"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".config/containers"))
}

/// Where a file came from: the user's level is the only one a rootless
/// user's storage paths are taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    User,
    System,
    /// Named by an environment variable, an option or a module.
    Named,
}

/// The files to read, lowest priority first, each with its level.
pub fn search(kind: &Kind, modules: &[String], uid: u32) -> Result<Vec<(PathBuf, Level)>> {
    let file = format!("{}.conf", kind.name);
    let user = user_dir().map(|d| d.join(&file));
    let admin = Path::new(ADMIN_DIR).join(&file);
    let system = Path::new(SYSTEM_DIR).join(&file);
    let mut out = Vec::new();
    let mut drop_ins = kind.drop_ins;
    match std::env::var_os(kind.env).filter(|v| !v.is_empty()) {
        Some(named) => {
            let named = PathBuf::from(named);
            if !named.exists() {
                bail!("{} {}: no such file", kind.env, named.display());
            }
            out.push((named, Level::Named));
            // The variable's file stands alone: no drop-ins.
            drop_ins = false;
        }
        None => {
            let candidates = [
                user.clone().map(|u| (u, Level::User)),
                Some((admin.clone(), Level::System)),
                Some((system.clone(), Level::System)),
            ];
            if let Some(found) = candidates.into_iter().flatten().find(|(p, _)| p.is_file()) {
                out.push(found);
            }
        }
    }
    if drop_ins {
        let mut dirs: Vec<(PathBuf, Level)> = Vec::new();
        if let Some(u) = &user {
            dirs.push((with_suffix(u, ".d"), Level::User));
        }
        for main in [&admin, &system] {
            let special = if uid > 0 { "rootless" } else { "rootful" };
            let special_dir = main.with_file_name(format!("{}.{special}.conf.d", kind.name));
            if uid > 0 {
                dirs.push((special_dir.join(uid.to_string()), Level::System));
            }
            dirs.push((special_dir, Level::System));
            dirs.push((with_suffix(main, ".d"), Level::System));
        }
        out.extend(read_drop_ins(&dirs)?);
    }
    if !modules.is_empty() {
        let module_dirs: Vec<PathBuf> = [user.as_ref(), Some(&admin), Some(&system)]
            .into_iter()
            .flatten()
            .map(|m| with_suffix(m, ".modules"))
            .collect();
        for m in modules {
            out.push((resolve_module(m, &module_dirs)?, Level::Named));
        }
    }
    // Read last of all, even after modules.
    let over = format!("{}_OVERRIDE", kind.env);
    if let Some(p) = std::env::var_os(&over).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if !p.exists() {
            bail!("{over} {}: no such file", p.display());
        }
        out.push((p, Level::Named));
    }
    Ok(out)
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// `*.conf` of every directory (highest priority first): one file per
/// name, the highest directory's, in name order.
fn read_drop_ins(dirs: &[(PathBuf, Level)]) -> Result<Vec<(PathBuf, Level)>> {
    let mut by_name = std::collections::BTreeMap::new();
    for (dir, level) in dirs.iter().rev() {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(anyhow!("reading {}: {e}", dir.display())),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".conf") && !entry.path().is_dir() {
                by_name.insert(name, (entry.path(), *level));
            }
        }
    }
    Ok(by_name.into_values().collect())
}

/// `--module NAME`: an absolute path, or the first of the module
/// directories holding it.
fn resolve_module(name: &str, dirs: &[PathBuf]) -> Result<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        bail!("could not resolve module {name:?}: no such file");
    }
    dirs.iter()
        .map(|d| d.join(name))
        .find(|c| c.is_file())
        .ok_or_else(|| {
            let tried: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            anyhow!(
                "could not resolve module {name:?}: not in {}",
                tried.join(", ")
            )
        })
}

/// One TOML file as a table; a syntax error is one line naming the file,
/// the line and the column.
pub fn read_toml(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("reading configuration {}: {e}", path.display()))?;
    text.parse::<toml::Table>().map_err(|e| {
        anyhow!(
            "decode configuration {}: {}",
            path.display(),
            one_line(&e, &text)
        )
    })
}

/// toml's error, as one line with its position.
pub fn one_line(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{msg} at line {line}, column {col}")
        }
        None => msg,
    }
}

/// `over`'s keys replace `base`'s; tables merge key by key.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Read and merge `files`; each is also checked against `T` alone, so a
/// wrong type names its file.
pub fn load<T: serde::de::DeserializeOwned + Default>(files: &[(PathBuf, Level)]) -> Result<T> {
    if files.is_empty() {
        return Ok(T::default());
    }
    let mut merged = toml::Table::new();
    for (path, _) in files {
        let table = read_toml(path)?;
        typed::<T>(table.clone(), path)?;
        merge(&mut merged, table);
    }
    typed(merged, Path::new("(merged)"))
}

/// An already merged table as `T`; errors name `path`.
pub fn load_table<T: serde::de::DeserializeOwned>(
    table: toml::Table,
    path: Option<&Path>,
) -> Result<T> {
    typed(table, path.unwrap_or(Path::new("(defaults)")))
}

fn typed<T: serde::de::DeserializeOwned>(table: toml::Table, path: &Path) -> Result<T> {
    toml::Value::Table(table).try_into::<T>().map_err(|e| {
        anyhow!(
            "decode configuration {}: {}",
            path.display(),
            e.message().trim().replace('\n', " ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_keys_win_and_tables_merge() {
        let mut a: toml::Table = "[x]\na = 1\nb = [1]\n[y]\nc = 2".parse().unwrap();
        merge(&mut a, "[x]\nb = [2, 3]".parse().unwrap());
        assert_eq!(a["x"]["a"].as_integer(), Some(1));
        assert_eq!(a["x"]["b"].as_array().unwrap().len(), 2);
        assert_eq!(a["y"]["c"].as_integer(), Some(2));
    }

    #[test]
    fn a_syntax_error_is_one_line_with_its_place() {
        let text = "[containers]\nenv = [\"A=1\"\n";
        let e = text.parse::<toml::Table>().unwrap_err();
        let line = one_line(&e, text);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("line "), "{line}");
    }
}
