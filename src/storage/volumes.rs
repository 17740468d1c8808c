//! Named volumes: `volumes/<name>/_data` (the directory containers mount,
//! podman's layout) and `volumes/<name>/volume.json` (the record, replaced
//! atomically). Which containers use a volume is not recorded here: it is
//! read from the containers' own records, so the two can never disagree.

use super::atomic;
use super::containers::ContainerStore;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The built-in driver; any other is a volume plugin's name.
pub const LOCAL_DRIVER: &str = "local";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct VolumeRecord {
    pub name: String,
    pub driver: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub created_at: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--opt` as given: type, device, o.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, an image's VOLUME): removed with
    /// it by `rm -v` and `--rm`.
    #[serde(default)]
    pub anonymous: bool,
    /// Not mounted yet: the first mount fills it from the image (copy-up)
    /// and gives it the owner and mode of the directory it covers.
    #[serde(default)]
    pub needs_copy_up: bool,
    #[serde(default)]
    pub needs_chown: bool,
    /// podman shows the number of the volume's lock; ours is a stable
    /// small number, unique among the volumes that exist.
    #[serde(default)]
    pub lock_number: u32,
}

impl VolumeRecord {
    /// A record for a new volume named `name`, to be filled on first mount.
    pub fn new(name: &str, now: String) -> VolumeRecord {
        VolumeRecord {
            name: name.to_string(),
            driver: LOCAL_DRIVER.to_string(),
            created_at: now,
            needs_copy_up: true,
            needs_chown: true,
            ..Default::default()
        }
    }

    /// A volume plugin's (its driver is not `local`): the plugin keeps
    /// its files and says where they are when a container mounts it.
    pub fn uses_plugin(&self) -> bool {
        self.driver != LOCAL_DRIVER
    }

    /// Options that change what gets mounted (a tmpfs, another directory).
    pub fn mounts_something_else(&self) -> bool {
        self.options.contains_key("type") || self.options.contains_key("device")
    }
}

/// podman's volume name rule (the container name rule).
pub fn check_name(name: &str) -> Result<()> {
    if !super::names::is_valid(name) {
        bail!(
            "running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        );
    }
    Ok(())
}

/// Check `--opt` keys and values for the local driver as podman does:
/// `type` and `device` say what to mount (tmpfs, or a directory to bind),
/// `o` its mount options.
pub fn check_options(opts: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in opts {
        match k.as_str() {
            "type" => match v.as_str() {
                "tmpfs" | "bind" | "none" => {}
                other => bail!(
                    "unsupported volume type {other:?} for driver 'local': use tmpfs or bind: invalid argument"
                ),
            },
            "device" | "o" | COPY | NO_COPY => {}
            other => bail!("invalid mount option {other} for driver 'local': invalid argument"),
        }
    }
    owner_in_options(opts)?;
    let typ = opts.get("type").map(String::as_str);
    let device = opts.get("device").map(String::as_str);
    match (typ, device) {
        (Some("bind" | "none"), None) => {
            bail!("a volume of type bind needs a device (--opt device=/path): invalid argument")
        }
        (Some("bind" | "none"), Some(d)) if !d.starts_with('/') => {
            bail!("volume device {d:?} must be an absolute path: invalid argument")
        }
        (None, Some(_)) => bail!(
            "a volume with a device needs a type (--opt type=bind or tmpfs): invalid argument"
        ),
        _ => {}
    }
    Ok(())
}

/// `--opt k=v` strings to a map (`copy` and `nocopy` stand alone).
pub fn parse_options(items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        let (k, v) = match item.split_once('=') {
            Some(kv) => kv,
            None if item == COPY || item == NO_COPY => (item.as_str(), ""),
            None => {
                bail!("invalid volume option {item:?}: expected KEY=VALUE: invalid argument")
            }
        };
        out.insert(k.to_string(), v.to_string());
    }
    check_options(&out)?;
    Ok(out)
}

/// `-o copy` (the default): the first mount fills the volume from the image.
pub const COPY: &str = "copy";
/// `-o nocopy`: it does not.
pub const NO_COPY: &str = "nocopy";

/// The `uid=` and `gid=` of the `o` option: the owner of the volume's
/// directory (and, for a tmpfs, mount options too).
pub fn owner_in_options(opts: &BTreeMap<String, String>) -> Result<(Option<u32>, Option<u32>)> {
    let (mut uid, mut gid) = (None, None);
    for o in opts.get("o").map(|o| o.split(',')).into_iter().flatten() {
        let (key, value) = o.split_once('=').unwrap_or((o, ""));
        let slot = match key.to_ascii_lowercase().as_str() {
            "uid" => &mut uid,
            "gid" => &mut gid,
            _ => continue,
        };
        if value.is_empty() {
            bail!(
                "{key} option must provide a {}: invalid argument",
                key.to_uppercase()
            );
        }
        let id = value.parse::<u32>().map_err(|_| {
            anyhow::anyhow!("cannot convert {} {value} to integer", key.to_uppercase())
        })?;
        *slot = Some(id);
    }
    Ok((uid, gid))
}

pub struct VolumeStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl VolumeStore {
    /// Volumes in `dir` (`<root>/volumes` unless `--volumepath` says).
    pub fn new(dir: &Path, root: &Path) -> VolumeStore {
        VolumeStore {
            dir: dir.to_path_buf(),
            tmp: root.join("tmp"),
        }
    }

    /// The directory every volume is in.
    pub fn base(&self) -> &Path {
        &self.dir
    }

    /// `volumes/<name>`
    pub fn dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `volumes/<name>/_data`: podman's Mountpoint.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("volume.json")
    }

    pub fn load(&self, name: &str) -> Result<Option<VolumeRecord>> {
        if !super::names::is_valid(name) {
            return Ok(None);
        }
        atomic::read_json(&self.record_path(name))
    }

    pub fn exists(&self, name: &str) -> bool {
        super::names::is_valid(name) && self.record_path(name).exists()
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<VolumeRecord>> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).context("listing volumes"),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Ok(Some(rec)) = self.load(&name) {
                out.push(rec);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Make a new volume. Call with the store lock held. The directory is
    /// made whole in tmp/ and renamed into place: a volume that exists is
    /// complete, and the rename refuses a name that is taken.
    pub fn create(&self, rec: &mut VolumeRecord) -> Result<()> {
        check_name(&rec.name)?;
        if self.exists(&rec.name) {
            return Err(exists_error(&rec.name));
        }
        let used: BTreeSet<u32> = self.list()?.iter().map(|v| v.lock_number).collect();
        rec.lock_number = (0..).find(|n| !used.contains(n)).unwrap_or(0);
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        fs::create_dir_all(&self.tmp)
            .with_context(|| format!("creating {}", self.tmp.display()))?;
        let staging = super::records::tmp_path(&self.tmp, "");
        let result = (|| -> Result<()> {
            fs::DirBuilder::new().mode(0o700).create(&staging)?;
            fs::DirBuilder::new()
                .mode(0o755)
                .create(staging.join("_data"))?;
            // The umask may have taken bits away.
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(staging.join("_data"), fs::Permissions::from_mode(0o755))?;
            atomic::write_json(&staging.join("volume.json"), rec, true)?;
            let target = self.dir(&rec.name);
            // A leftover directory without a record (a crash) is not a volume.
            if target.exists() && !self.record_path(&rec.name).exists() {
                super::layers::remove_tree(&target)?;
            }
            super::crash::point("volume-staged");
            fs::rename(&staging, &target)?;
            fs::File::open(&self.dir)?.sync_all()?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = super::layers::remove_tree(&staging);
            return Err(e).with_context(|| format!("creating volume {}", rec.name));
        }
        Ok(())
    }

    /// Rewrite a volume's record (its flags changed).
    pub fn save(&self, rec: &VolumeRecord) -> Result<()> {
        atomic::write_json(&self.record_path(&rec.name), rec, true)
    }

    /// Take a volume out of the store in one rename (into tmp/, where a
    /// crash leaves it to the next sweep); the caller deletes the returned
    /// tree, which may hold files of other owners. Call with the lock held.
    pub fn unlink(&self, name: &str) -> Result<PathBuf> {
        let doomed = super::records::tmp_path(&self.tmp, "");
        fs::create_dir_all(&self.tmp)?;
        fs::rename(self.dir(name), &doomed).with_context(|| format!("removing volume {name}"))?;
        super::crash::point("volume-unlinked");
        Ok(doomed)
    }
}

/// podman's error for a name that is taken.
pub fn exists_error(name: &str) -> anyhow::Error {
    anyhow::anyhow!("volume with name {name} already exists: volume already exists")
}

/// Which containers use each volume (ids, by volume name), from the
/// containers' records.
pub fn users(containers: &ContainerStore) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in containers.ids()? {
        let Ok(cfg) = containers.load_config(&id) else {
            continue;
        };
        let mut names: Vec<&str> = cfg
            .mounts
            .iter()
            .filter(|m| {
                m.kind == crate::storage::containers::MountKind::Volume && !m.source.is_empty()
            })
            .map(|m| m.source.as_str())
            .collect();
        names.dedup();
        for n in names {
            out.entry(n.to_string()).or_default().push(id.clone());
        }
    }
    Ok(out)
}

/// A `--filter` of `volume ls` and `volume prune`.
#[derive(Debug, Clone)]
pub enum Filter {
    Name(String),
    Label(String),
    LabelNot(String),
    Driver(String),
    Scope(String),
    Opt(String),
    Dangling(bool),
    Until(std::time::SystemTime),
    Anonymous(bool),
    /// `prune --filter all=true`: named volumes too (the scope is the
    /// caller's; every volume passes this filter itself).
    All(bool),
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => bail!("{v:?} is not a valid value for the \"{key}\" filter - must be true or false"),
    }
}

impl Filter {
    /// `key=value` as podman accepts it; `prune` takes fewer keys.
    pub fn parse(s: &str, for_prune: bool, now: std::time::SystemTime) -> Result<Filter> {
        let (k, v) = s.split_once('=').unwrap_or((s, ""));
        let f = match k {
            "label" => Filter::Label(v.to_string()),
            "label!" => Filter::LabelNot(v.to_string()),
            "until" => Filter::Until(crate::format::human::parse_duration_or_time(v, now)?),
            "name" if !for_prune => Filter::Name(v.to_string()),
            "driver" if !for_prune => Filter::Driver(v.to_string()),
            "scope" if !for_prune => Filter::Scope(v.to_string()),
            "opt" if !for_prune => Filter::Opt(v.to_string()),
            "dangling" if !for_prune => Filter::Dangling(parse_bool(k, v)?),
            "anonymous" => Filter::Anonymous(parse_bool(k, v)?),
            "all" if for_prune => Filter::All(parse_bool(k, v)?),
            _ => bail!("{k:?} is an invalid volume filter"),
        };
        Ok(f)
    }

    /// Does `v`, used by `users` containers, pass?
    pub fn matches(&self, v: &VolumeRecord, users: usize) -> bool {
        let label = |f: &str| match f.split_once('=') {
            Some((k, val)) => v.labels.get(k).is_some_and(|have| have == val),
            None => v.labels.contains_key(f),
        };
        match self {
            Filter::Name(n) => v.name.contains(n.as_str()),
            Filter::Label(l) => label(l),
            Filter::LabelNot(l) => !label(l),
            Filter::Driver(d) => v.driver == *d,
            Filter::Scope(s) => s == "local",
            Filter::Opt(o) => match o.split_once('=') {
                Some((k, val)) => v.options.get(k).is_some_and(|have| have == val),
                None => v.options.contains_key(o.as_str()),
            },
            Filter::Dangling(d) => (users == 0) == *d,
            Filter::Anonymous(a) => v.anonymous == *a,
            Filter::All(_) => true,
            Filter::Until(t) => crate::format::human::parse_rfc3339(&v.created_at)
                .map(|c| c < *t)
                .unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_like_podman() {
        let o = |items: &[&str]| {
            parse_options(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert!(o(&["type=tmpfs", "device=tmpfs", "o=size=1m"]).is_ok());
        assert!(o(&["type=bind", "device=/srv", "o=bind"]).is_ok());
        let e = o(&["foo=bar"]).unwrap_err().to_string();
        assert!(e.contains("invalid mount option foo"), "{e}");
        assert!(o(&["type=bind"]).is_err());
        assert!(o(&["type=bind", "device=rel"]).is_err());
        assert!(o(&["type=ext4", "device=/dev/sda1"]).is_err());
        assert!(o(&["novalue"]).is_err());
    }

    #[test]
    fn filters() {
        let now = std::time::SystemTime::now();
        let mut v = VolumeRecord::new("data", crate::format::human::rfc3339_nano(now));
        v.labels.insert("app".into(), "web".into());
        v.options.insert("type".into(), "tmpfs".into());
        let f = |s: &str| Filter::parse(s, false, now).unwrap();
        assert!(f("label=app").matches(&v, 0));
        assert!(f("label=app=web").matches(&v, 0));
        assert!(!f("label=app=db").matches(&v, 0));
        assert!(f("label!=app=db").matches(&v, 0));
        assert!(f("dangling=true").matches(&v, 0));
        assert!(!f("dangling=true").matches(&v, 1));
        assert!(f("opt=type=tmpfs").matches(&v, 0));
        assert!(f("name=dat").matches(&v, 0));
        assert!(f("driver=local").matches(&v, 0));
        assert!(Filter::parse("bogus=1", false, now).is_err());
        assert!(Filter::parse("name=x", true, now).is_err());
        assert!(Filter::parse("dangling=maybe", false, now).is_err());
    }
}
