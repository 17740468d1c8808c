//! From the command line's `-f`, `-p`, `--env-file` and `--profile` to the
//! normalized project: which files (docker's names and override files),
//! the variables (`.env` under the environment), each file read as YAML
//! (anchors and `<<:` merge keys applied, errors with the file and line)
//! and interpolated, `include`s loaded, files merged, `extends` resolved,
//! profiles applied, then every service normalized and checked.

use super::interpolate::{self, Vars};
use super::merge::{canonical_service, merge};
use super::model::Project;
use super::normalize;
use super::values::check_keys;
use anyhow::{bail, Context, Result};
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What the command line says about the project.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f`, in order; empty: found in the current directory or above
    pub files: Vec<PathBuf>,
    /// `-p`
    pub project_name: Option<String>,
    /// `--project-directory`; default: the first file's directory
    pub project_directory: Option<PathBuf>,
    /// `--env-file`; default: `.env` in the project directory
    pub env_files: Vec<PathBuf>,
    /// `--profile`
    pub profiles: Vec<String>,
    /// Services named on the command line: enabled whatever their profiles
    pub services: Vec<String>,
}

const DEFAULT_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];
const OVERRIDE_FILES: &[&str] = &[
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];
const TOP_KEYS: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "include",
];

/// The compose files: `-f`, else `COMPOSE_FILE`, else the first default
/// name in the current directory or a parent, with its override file.
fn find_files(o: &LoadOptions) -> Result<Vec<PathBuf>> {
    let cwd = std::env::current_dir().context("the current directory")?;
    if !o.files.is_empty() {
        return Ok(o.files.iter().map(|f| cwd.join(f)).collect());
    }
    if let Ok(list) = std::env::var("COMPOSE_FILE") {
        let sep = std::env::var("COMPOSE_PATH_SEPARATOR").unwrap_or_else(|_| ":".into());
        return Ok(list
            .split(sep.as_str())
            .filter(|f| !f.is_empty())
            .map(|f| cwd.join(f))
            .collect());
    }
    let start = o
        .project_directory
        .clone()
        .map(|d| cwd.join(d))
        .unwrap_or(cwd);
    for dir in start.ancestors() {
        if let Some(f) = DEFAULT_FILES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
        {
            let mut files = vec![f];
            if let Some(o) = OVERRIDE_FILES
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
            {
                files.push(o);
            }
            return Ok(files);
        }
    }
    bail!(
        "no configuration file provided: not found (looked for {} in {} and its parents)",
        DEFAULT_FILES.join(", "),
        start.display()
    )
}

/// The variables: the process environment over the env files.
fn variables(o: &LoadOptions, dir: &Path) -> Result<Vars> {
    let process: Vars = std::env::vars().collect();
    let mut vars = Vars::new();
    if o.env_files.is_empty() {
        let dotenv = dir.join(".env");
        if dotenv.is_file() {
            vars.extend(interpolate::dotenv(&dotenv, &process)?);
        }
    }
    for f in &o.env_files {
        vars.extend(interpolate::dotenv(&dir.join(f), &process)?);
    }
    vars.extend(process);
    Ok(vars)
}

/// The largest compose or env file read: far above any real one, and a
/// bound on what a path pointing at a huge file can make us hold.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// A compose or `.env` file's text. Only a regular file: an `include:`,
/// `extends.file` or `env_file` naming a FIFO or `/dev/zero` would block
/// or read forever, so it is opened without blocking and refused.
pub(super) fn read_text(path: &Path, what: &str) -> Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    let meta = f
        .metadata()
        .with_context(|| format!("reading {what} {}", path.display()))?;
    if !meta.is_file() {
        bail!("{what} {} is not a regular file", path.display());
    }
    if meta.len() > MAX_FILE_BYTES {
        bail!(
            "{what} {} is too large ({} bytes; the limit is {MAX_FILE_BYTES})",
            path.display(),
            meta.len()
        );
    }
    let mut text = String::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    Ok(text)
}

/// One file as YAML: anchors and merge keys applied. A syntax error names
/// the file and the line.
pub fn read_yaml(path: &Path) -> Result<Value> {
    let text = read_text(path, "compose file")?;
    let mut v: Value = serde_yaml_ng::from_str(&text).map_err(|e| {
        let at = match e.location() {
            Some(l) => format!("line {}, column {}", l.line(), l.column()),
            None => "?".into(),
        };
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        anyhow::anyhow!("{}:{at}: {msg}", path.display())
    })?;
    if v.is_null() {
        bail!("{}: empty compose file", path.display());
    }
    v.apply_merge()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if !v.is_mapping() {
        bail!(
            "{}: a compose file must be a mapping at the top",
            path.display()
        );
    }
    Ok(v)
}

/// `~/x` and relative paths made absolute against `base`.
fn absolute(base: &Path, p: &str) -> String {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return Path::new(&home).join(rest).display().to_string();
        }
    }
    if p.contains("://") || p.starts_with("git@") || Path::new(p).is_absolute() {
        return p.to_string();
    }
    let joined = base.join(p);
    // Drop `.` components; keep `..` (the path may be a symlink).
    let clean: PathBuf = joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    clean.display().to_string()
}

fn set_absolute(v: &mut Value, base: &Path) {
    if let Value::String(s) = v {
        *s = absolute(base, s);
    }
}

/// Every path a file holds, made absolute against `base` (the project
/// directory for `-f` files, its own directory for an included or
/// extended file).
fn resolve_paths(file: &mut Value, base: &Path) {
    if let Some(Value::Mapping(services)) = file.get_mut("services") {
        for (_, svc) in services.iter_mut() {
            canonical_service(svc);
            let Value::Mapping(s) = svc else { continue };
            if let Some(Value::Mapping(b)) = s.get_mut("build") {
                if let Some(c) = b.get_mut("context") {
                    set_absolute(c, base);
                }
            }
            match s.get_mut("env_file") {
                Some(Value::Sequence(items)) => {
                    for i in items {
                        match i {
                            Value::Mapping(m) => {
                                if let Some(p) = m.get_mut("path") {
                                    set_absolute(p, base)
                                }
                            }
                            other => set_absolute(other, base),
                        }
                    }
                }
                Some(other) => set_absolute(other, base),
                None => {}
            }
            if let Some(Value::Sequence(vols)) = s.get_mut("volumes") {
                for vol in vols {
                    match vol {
                        Value::String(short) if short.starts_with(['.', '~']) => {
                            let (src, rest) = short.split_once(':').unwrap_or((short, ""));
                            let src = absolute(base, src);
                            *short = match rest {
                                "" => src,
                                _ => format!("{src}:{rest}"),
                            };
                        }
                        Value::Mapping(m)
                            if m.get("type").and_then(Value::as_str) == Some("bind") =>
                        {
                            if let Some(src) = m.get_mut("source") {
                                set_absolute(src, base);
                            }
                        }
                        _ => {}
                    }
                }
            }
            if let Some(Value::Mapping(e)) = s.get_mut("extends") {
                if let Some(f) = e.get_mut("file") {
                    set_absolute(f, base);
                }
            }
        }
    }
    for kind in ["secrets", "configs"] {
        if let Some(Value::Mapping(items)) = file.get_mut(kind) {
            for (_, item) in items.iter_mut() {
                if let Some(f) = item.get_mut("file") {
                    set_absolute(f, base);
                }
            }
        }
    }
}

/// A file read, interpolated, its paths resolved against `base` and its
/// `include`s merged in.
fn load_file(path: &Path, base: &Path, vars: &Vars, seen: &mut Vec<PathBuf>) -> Result<Value> {
    if seen.contains(&path.to_path_buf()) {
        bail!("{}: included in a circle", path.display());
    }
    seen.push(path.to_path_buf());
    let mut v = read_yaml(path)?;
    interpolate::value(&mut v, vars, "").with_context(|| path.display().to_string())?;
    if let Value::Mapping(m) = &v {
        check_keys(&path.display().to_string(), m, TOP_KEYS, &["models"]);
    }
    resolve_paths(&mut v, base);
    let includes = v.as_mapping_mut().and_then(|m| m.remove("include"));
    if let Some(inc) = includes {
        let Value::Sequence(items) = inc else {
            bail!("{}: include must be a list", path.display());
        };
        for item in items {
            let (paths, dir, env) = match &item {
                Value::String(p) => (vec![p.clone()], None, Vec::new()),
                Value::Mapping(m) => {
                    let paths = match m.get("path") {
                        Some(Value::Sequence(s)) => s
                            .iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect(),
                        Some(Value::String(s)) => vec![s.clone()],
                        _ => bail!("{}: include needs a path", path.display()),
                    };
                    let dir = m
                        .get("project_directory")
                        .and_then(Value::as_str)
                        .map(String::from);
                    let env = match m.get("env_file") {
                        Some(Value::String(s)) => vec![s.clone()],
                        Some(Value::Sequence(s)) => s
                            .iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect(),
                        _ => Vec::new(),
                    };
                    (paths, dir, env)
                }
                _ => bail!("{}: invalid include entry", path.display()),
            };
            let first = PathBuf::from(absolute(base, &paths[0]));
            let inc_base = match dir {
                Some(d) => PathBuf::from(absolute(base, &d)),
                None => first.parent().unwrap_or(base).to_path_buf(),
            };
            // An included project reads its own .env, under ours.
            let mut inc_vars = Vars::new();
            let dotenvs: Vec<PathBuf> = match env.is_empty() {
                true => vec![inc_base.join(".env")],
                false => env
                    .iter()
                    .map(|e| PathBuf::from(absolute(base, e)))
                    .collect(),
            };
            for e in dotenvs.iter().filter(|e| e.is_file()) {
                inc_vars.extend(interpolate::dotenv(e, vars)?);
            }
            inc_vars.extend(vars.clone());
            let mut merged: Option<Value> = None;
            for p in &paths {
                let f = PathBuf::from(absolute(base, p));
                let loaded = load_file(&f, &inc_base, &inc_vars, seen)?;
                match &mut merged {
                    None => merged = Some(loaded),
                    Some(m) => merge(m, loaded, &[]),
                }
            }
            add_included(&mut v, merged.unwrap_or(Value::Null), path, &first)?;
        }
    }
    seen.pop();
    Ok(v)
}

/// An included file's resources beside ours; the same name in both is an
/// error, as the specification says.
fn add_included(v: &mut Value, inc: Value, path: &Path, from: &Path) -> Result<()> {
    let Value::Mapping(inc) = inc else {
        return Ok(());
    };
    let top = v.as_mapping_mut().expect("checked to be a mapping");
    for kind in ["services", "networks", "volumes", "secrets", "configs"] {
        let Some(Value::Mapping(items)) = inc.get(kind) else {
            continue;
        };
        let slot = top
            .entry(kind.into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if slot.is_null() {
            *slot = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(mine) = slot else {
            bail!("{}: {kind} must be a mapping", path.display());
        };
        for (k, item) in items {
            if mine.contains_key(k) {
                bail!(
                    "{}: {kind}.{} is defined both here and in included {}",
                    path.display(),
                    k.as_str().unwrap_or("?"),
                    from.display()
                );
            }
            mine.insert(k.clone(), item.clone());
        }
    }
    Ok(())
}

/// `extends`: a service over the one it names (in the same file or in
/// `file`), resolved depth first.
fn resolve_extends(
    services: &Mapping,
    name: &str,
    vars: &Vars,
    chain: &mut Vec<String>,
) -> Result<Value> {
    let Some(svc) = services.get(name) else {
        bail!("cannot extend service {name:?}: no such service");
    };
    let mut svc = svc.clone();
    let Some(ext) = svc.as_mapping_mut().and_then(|m| m.remove("extends")) else {
        return Ok(svc);
    };
    if chain.contains(&name.to_string()) {
        bail!(
            "services.{name}: extends in a circle: {} -> {name}",
            chain.join(" -> ")
        );
    }
    chain.push(name.to_string());
    let (base_name, file) = match &ext {
        Value::String(s) => (s.clone(), None),
        Value::Mapping(m) => (
            m.get("service")
                .and_then(Value::as_str)
                .map(String::from)
                .with_context(|| format!("services.{name}.extends needs a service"))?,
            m.get("file").and_then(Value::as_str).map(PathBuf::from),
        ),
        _ => bail!("services.{name}.extends must be a string or a mapping"),
    };
    let mut base = match file {
        Some(f) => {
            let dir = f.parent().unwrap_or(Path::new("/")).to_path_buf();
            let other = load_file(&f, &dir, vars, &mut Vec::new())?;
            let empty = Mapping::new();
            let theirs = other
                .get("services")
                .and_then(Value::as_mapping)
                .unwrap_or(&empty);
            resolve_extends(theirs, &base_name, vars, &mut Vec::new())
                .with_context(|| format!("services.{name}.extends: {}", f.display()))?
        }
        None => resolve_extends(services, &base_name, vars, chain)?,
    };
    chain.pop();
    merge(&mut base, svc, &["services".into(), name.into()]);
    Ok(base)
}

/// Docker's rule: lower case, only `a-z0-9_-`, starting with a letter or digit.
pub fn valid_project_name(n: &str) -> bool {
    n.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A directory's name made a project name.
fn normalize_name(n: &str) -> String {
    let lower: String = n
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lower
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Load the project as the options say.
pub fn load(o: &LoadOptions) -> Result<Project> {
    let files = find_files(o)?;
    let cwd = std::env::current_dir()?;
    let dir = match &o.project_directory {
        Some(d) => cwd.join(d),
        None => files[0].parent().unwrap_or(Path::new("/")).to_path_buf(),
    };
    let vars = variables(o, &dir)?;
    let mut merged: Option<Value> = None;
    for f in &files {
        let v = load_file(f, &dir, &vars, &mut Vec::new())?;
        match &mut merged {
            None => merged = Some(v),
            Some(m) => merge(m, v, &[]),
        }
    }
    let merged = merged.expect("at least one file");
    let from_file = merged.get("name").and_then(Value::as_str).map(String::from);
    let name = match o
        .project_name
        .clone()
        .or_else(|| {
            vars.get("COMPOSE_PROJECT_NAME")
                .cloned()
                .filter(|n| !n.is_empty())
        })
        .or(from_file)
    {
        Some(n) => {
            if !valid_project_name(&n) {
                bail!("invalid project name {n:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number");
            }
            n
        }
        None => {
            let n = normalize_name(&dir.file_name().unwrap_or_default().to_string_lossy());
            if n.is_empty() {
                bail!("project name must not be empty: use -p NAME");
            }
            n
        }
    };
    let mut project = Project {
        name: name.clone(),
        working_dir: dir,
        files,
        ..Default::default()
    };
    let empty = Mapping::new();
    let services = merged
        .get("services")
        .and_then(Value::as_mapping)
        .unwrap_or(&empty);
    // Profiles: COMPOSE_PROFILES and --profile; `*` enables all.
    let mut active: BTreeSet<String> = o.profiles.iter().cloned().collect();
    if let Some(p) = vars.get("COMPOSE_PROFILES") {
        active.extend(p.split(',').filter(|s| !s.is_empty()).map(String::from));
    }
    let mut all_profiles = BTreeSet::new();
    let mut svcs = BTreeMap::new();
    for (k, _) in services {
        let name = k
            .as_str()
            .context("a service name must be a string")?
            .to_string();
        let resolved = resolve_extends(services, &name, &vars, &mut Vec::new())?;
        let s = normalize::service(&name, &resolved, &vars)?;
        all_profiles.extend(s.profiles.iter().cloned());
        svcs.insert(name, s);
    }
    for n in &o.services {
        if !svcs.contains_key(n) {
            bail!("no such service: {n}");
        }
    }
    let mut enabled: BTreeSet<String> = svcs
        .iter()
        .filter(|(n, s)| {
            s.profiles.is_empty()
                || active.contains("*")
                || s.profiles.iter().any(|p| active.contains(p))
                || o.services.contains(n)
        })
        .map(|(n, _)| n.clone())
        .collect();
    // What an enabled service needs is enabled too.
    loop {
        let more: Vec<String> = enabled
            .iter()
            .flat_map(|n| svcs[n].depends_on.iter())
            .filter(|(d, dep)| dep.required && svcs.contains_key(*d) && !enabled.contains(*d))
            .map(|(d, _)| d.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        enabled.extend(more);
    }
    svcs.retain(|n, _| enabled.contains(n));
    project.profiles = all_profiles.into_iter().collect();
    for (kind, slot) in [
        ("networks", 0),
        ("volumes", 1),
        ("secrets", 2),
        ("configs", 3),
    ] {
        let Some(Value::Mapping(items)) = merged.get(kind) else {
            continue;
        };
        for (k, v) in items {
            let key = k.as_str().context("a name must be a string")?.to_string();
            match slot {
                0 => {
                    project
                        .networks
                        .insert(key.clone(), normalize::network(&name, &key, v)?);
                }
                1 => {
                    project
                        .volumes
                        .insert(key.clone(), normalize::volume(&name, &key, v)?);
                }
                _ => {
                    let f = normalize::file_source(kind, &key, v, &vars)?;
                    match slot {
                        2 => project.secrets.insert(key, f),
                        _ => project.configs.insert(key, f),
                    };
                }
            }
        }
    }
    project.services = svcs;
    super::check::finish(&mut project)?;
    Ok(project)
}
