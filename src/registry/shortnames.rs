//! containers-registries.conf(5): the search list for short names and the
//! registries marked insecure, read from the same files, in the same order,
//! as podman (containers/image sysregistriesv2).

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SYSTEM_CONF: &str = "/etc/containers/registries.conf";
const SYSTEM_DROPIN_DIR: &str = "/etc/containers/registries.conf.d";

/// The parts of registries.conf coracle uses, merged over all files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegistriesConf {
    /// `None` when no file set it (so a drop-in can tell "unset" from "empty").
    pub unqualified_search_registries: Option<Vec<String>>,
    /// `[[registry]]` tables by prefix (or location when there is no prefix).
    pub registries: BTreeMap<String, RegistryEntry>,
    /// `[aliases]`: short name -> fully qualified name.
    pub aliases: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct RegistryEntry {
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub blocked: bool,
}

/// The file's raw shape (v2, plus v1's `[registries.*]` tables which podman still reads).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawConf {
    #[serde(rename = "unqualified-search-registries")]
    unqualified_search_registries: Option<Vec<String>>,
    registry: Vec<RegistryEntry>,
    aliases: BTreeMap<String, String>,
    registries: Option<V1Tables>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1Tables {
    search: Option<V1List>,
    insecure: Option<V1List>,
    block: Option<V1List>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1List {
    registries: Vec<String>,
}

impl RegistryEntry {
    fn key(&self) -> Option<&str> {
        self.prefix.as_deref().or(self.location.as_deref())
    }
}

/// Parse one registries.conf document.
pub fn parse_registries_conf(text: &str) -> Result<RegistriesConf> {
    let raw: RawConf = toml::from_str(text)?;
    let mut conf = RegistriesConf {
        unqualified_search_registries: raw.unqualified_search_registries,
        aliases: raw.aliases,
        ..Default::default()
    };
    for entry in raw.registry {
        if let Some(key) = entry.key() {
            conf.registries.insert(key.to_string(), entry.clone());
        }
    }
    if let Some(v1) = raw.registries {
        if let Some(search) = v1.search {
            conf.unqualified_search_registries
                .get_or_insert_with(Vec::new)
                .extend(search.registries);
        }
        for (list, insecure) in [(v1.insecure, true), (v1.block, false)] {
            for host in list.map(|l| l.registries).unwrap_or_default() {
                let e = conf
                    .registries
                    .entry(host.clone())
                    .or_insert(RegistryEntry {
                        location: Some(host),
                        ..Default::default()
                    });
                if insecure {
                    e.insecure = true;
                } else {
                    e.blocked = true;
                }
            }
        }
    }
    Ok(conf)
}

impl RegistriesConf {
    /// Apply a later file on top of this one, as podman merges drop-ins:
    /// a set search list replaces the earlier one, registries and aliases
    /// override entry by entry.
    pub fn merge(&mut self, later: RegistriesConf) {
        if later.unqualified_search_registries.is_some() {
            self.unqualified_search_registries = later.unqualified_search_registries;
        }
        self.registries.extend(later.registries);
        self.aliases.extend(later.aliases);
    }

    /// The search list, `["docker.io"]` when nothing configures one.
    pub fn search_registries(&self) -> Vec<String> {
        match &self.unqualified_search_registries {
            Some(list) => list.clone(),
            None => vec![super::reference::DOCKER_HUB.to_string()],
        }
    }

    /// Whether `host` (`name[:port]`) is marked insecure. An entry matches by
    /// its exact prefix/location or by a `*.domain` wildcard.
    pub fn is_insecure(&self, host: &str) -> bool {
        self.registries.iter().any(|(key, e)| {
            let matches = key == host
                || key
                    .strip_prefix("*.")
                    .is_some_and(|dom| host.ends_with(&format!(".{dom}")));
            matches && e.insecure
        })
    }
}

/// The main file and the drop-in directories, in podman's precedence.
fn config_paths() -> (PathBuf, Vec<PathBuf>) {
    let user_dir = config_home().map(|d| d.join("containers"));
    let user_dropins = user_dir.as_ref().map(|d| d.join("registries.conf.d"));
    if let Some(p) = std::env::var_os("CONTAINERS_REGISTRIES_CONF").filter(|v| !v.is_empty()) {
        let mut dirs = vec![PathBuf::from(SYSTEM_DROPIN_DIR)];
        dirs.extend(user_dropins);
        return (PathBuf::from(p), dirs);
    }
    if let Some(user_file) = user_dir.map(|d| d.join("registries.conf")) {
        // A per-user file replaces the system file and the system drop-ins.
        if user_file.exists() {
            return (user_file, user_dropins.into_iter().collect());
        }
    }
    let mut dirs = vec![PathBuf::from(SYSTEM_DROPIN_DIR)];
    dirs.extend(user_dropins);
    (PathBuf::from(SYSTEM_CONF), dirs)
}

fn config_home() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".config"))
}

fn read_conf_file(path: &Path) -> Result<Option<RegistriesConf>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    parse_registries_conf(&text)
        .map(Some)
        .with_context(|| format!("loading registries configuration {}", path.display()))
}

/// Load and merge registries.conf and its drop-ins (`*.conf`, by file name,
/// a later directory's file overriding an earlier one of the same name).
pub fn load_registries_conf() -> Result<RegistriesConf> {
    let (main, dirs) = config_paths();
    let mut conf = read_conf_file(&main)?.unwrap_or_default();
    let mut dropins: BTreeMap<std::ffi::OsString, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "conf") && path.is_file() {
                dropins.insert(entry.file_name(), path);
            }
        }
    }
    for path in dropins.values() {
        if let Some(d) = read_conf_file(path)? {
            conf.merge(d);
        }
    }
    Ok(conf)
}

/// Registries to try, in order, for a short name.
pub fn search_registries() -> Result<Vec<String>> {
    Ok(load_registries_conf()?.search_registries())
}

/// Whether registries.conf marks `host` insecure. A broken config is warned
/// about and treated as "not insecure" (the safe answer).
pub fn registry_is_insecure(host: &str) -> bool {
    match load_registries_conf() {
        Ok(conf) => conf.is_insecure(host),
        Err(e) => {
            crate::warn!("{e:#}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v2() {
        let conf = parse_registries_conf(
            r#"
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]
short-name-mode = "enforcing"

[[registry]]
location = "localhost:5000"
insecure = true

[[registry]]
prefix = "example.com/foo"
location = "mirror.example.com/foo"

[[registry]]
location = "*.internal"
insecure = true

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"#,
        )
        .unwrap();
        assert_eq!(
            conf.search_registries(),
            vec!["registry.fedoraproject.org", "docker.io"]
        );
        assert!(conf.is_insecure("localhost:5000"));
        assert!(!conf.is_insecure("localhost"));
        assert!(!conf.is_insecure("example.com"));
        assert!(conf.is_insecure("reg.internal"));
        assert!(!conf.is_insecure("internal"));
        assert_eq!(conf.aliases["fedora"], "registry.fedoraproject.org/fedora");
    }

    #[test]
    fn parses_v1() {
        let conf = parse_registries_conf(
            r#"
[registries.search]
registries = ['quay.io']
[registries.insecure]
registries = ['10.0.0.1:5000']
"#,
        )
        .unwrap();
        assert_eq!(conf.search_registries(), vec!["quay.io"]);
        assert!(conf.is_insecure("10.0.0.1:5000"));
    }

    #[test]
    fn defaults_and_empty_lists() {
        let conf = parse_registries_conf("").unwrap();
        assert_eq!(conf.search_registries(), vec!["docker.io"]);
        let conf = parse_registries_conf("unqualified-search-registries = []").unwrap();
        assert!(conf.search_registries().is_empty());
    }

    #[test]
    fn dropins_override() {
        let mut conf = parse_registries_conf(
            "unqualified-search-registries = ['a.io']\n[[registry]]\nlocation='x:1'\ninsecure=true",
        )
        .unwrap();
        conf.merge(parse_registries_conf("[aliases]\nfoo = 'a.io/foo'").unwrap());
        assert_eq!(
            conf.search_registries(),
            vec!["a.io"],
            "unset list keeps the earlier one"
        );
        conf.merge(
            parse_registries_conf(
                "unqualified-search-registries = ['b.io']\n[[registry]]\nlocation='x:1'",
            )
            .unwrap(),
        );
        assert_eq!(conf.search_registries(), vec!["b.io"]);
        assert!(
            !conf.is_insecure("x:1"),
            "a later entry replaces the earlier one"
        );
        assert_eq!(conf.aliases["foo"], "a.io/foo");
    }

    #[test]
    fn malformed_toml_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registries.conf");
        std::fs::write(&path, "unqualified-search-registries = [\"a\"\n").unwrap();
        let err = read_conf_file(&path).unwrap_err();
        assert!(
            format!("{err:#}").contains(&path.display().to_string()),
            "{err:#}"
        );
        assert!(read_conf_file(&dir.path().join("nope")).unwrap().is_none());
        std::fs::write(&path, "unqualified-search-registries = \"a\"\n").unwrap();
        assert!(read_conf_file(&path).is_err(), "a string is not a list");
    }
}
