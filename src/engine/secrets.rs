//! Secrets as podman keeps them: created from a file, stdin or an
//! environment variable; found by name, id or unique id prefix; given to
//! containers (`--secret`) as a file or a variable, never stored in an
//! image or a container's record.

use super::types::Store;
use crate::storage::secrets::{SecretKind, SecretStore, SecretUse, FILE_DRIVER};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

pub use crate::storage::secrets::SecretRecord;

/// podman's limit on a secret's size.
const MAX_SIZE: usize = 512_000;

pub struct NewSecret {
    pub name: String,
    pub data: Vec<u8>,
    pub driver: String,
    pub driver_options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Update a secret of the same name (its id stays)
    pub replace: bool,
    /// Keep a secret of the same name and report its id
    pub ignore: bool,
}

fn secrets(store: &Store) -> SecretStore {
    SecretStore::at(&store.root)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 253
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Create (or with `replace`, update) a secret; returns its id.
pub fn create(store: &Store, new: NewSecret) -> Result<String> {
    if new.ignore && new.replace {
        bail!("cannot use --ignore and --replace flags together");
    }
    if !valid_name(&new.name) {
        bail!(
            "secret name {:?} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]* and be at most 253 characters",
            new.name
        );
    }
    if new.data.is_empty() || new.data.len() >= MAX_SIZE {
        bail!("secret data must be larger than 0 and less than {MAX_SIZE} bytes");
    }
    if new.driver != FILE_DRIVER {
        bail!(
            "unsupported secret driver {:?}: coracle has the file driver",
            new.driver
        );
    }
    if let Some(k) = new.driver_options.keys().find(|k| k.as_str() != "path") {
        bail!("invalid option {k:?} for the file secret driver: it takes path");
    }
    if let Some(p) = new.driver_options.get("path") {
        if !p.starts_with('/') {
            bail!("the file secret driver's path must be absolute: {p:?}");
        }
    }
    let ss = secrets(store);
    let _lock = store.lock()?;
    let now = crate::format::human::now_rfc3339();
    let existing = ss.list()?.into_iter().find(|r| r.name == new.name);
    let rec = match existing {
        Some(old) if new.ignore => return Ok(old.id),
        Some(old) if new.replace => SecretRecord {
            driver: new.driver,
            driver_options: new.driver_options,
            labels: new.labels,
            updated_at: now,
            ..old
        },
        Some(_) => bail!("{}: secret name in use", new.name),
        None => SecretRecord {
            id: crate::storage::containers::new_id()[..25].to_string(),
            name: new.name,
            driver: new.driver,
            driver_options: new.driver_options,
            labels: new.labels,
            created_at: now.clone(),
            updated_at: now,
        },
    };
    let id = rec.id.clone();
    ss.put(rec, &new.data)?;
    Ok(id)
}

/// The secret `name_or_id` names: its name, its id, or a prefix of one id.
pub fn lookup(store: &Store, name_or_id: &str) -> Result<SecretRecord> {
    let list = secrets(store).list()?;
    if let Some(r) = list
        .iter()
        .find(|r| r.name == name_or_id || r.id == name_or_id)
    {
        return Ok(r.clone());
    }
    let prefixed: Vec<&SecretRecord> = list
        .iter()
        .filter(|r| !name_or_id.is_empty() && r.id.starts_with(name_or_id))
        .collect();
    match prefixed.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!("no secret with name or id {name_or_id:?}: no such secret"),
        _ => bail!("more than one result secret with prefix {name_or_id}: secret is ambiguous"),
    }
}

pub fn exists(store: &Store, name_or_id: &str) -> bool {
    lookup(store, name_or_id).is_ok()
}

/// The secret's data (for `inspect --showsecret` and containers).
pub fn data(store: &Store, rec: &SecretRecord) -> Result<Vec<u8>> {
    secrets(store).data(rec)
}

/// The file driver's options as inspect shows them (the data directory).
pub fn driver_options(store: &Store, rec: &SecretRecord) -> BTreeMap<String, String> {
    let mut opts = rec.driver_options.clone();
    opts.entry("path".into()).or_insert_with(|| {
        crate::engine::types::path_str(&secrets(store).default_data_dir()).to_string()
    });
    opts
}

/// Secrets that pass every filter (`name=REGEX`, `id=PREFIX`, `label=...`);
/// values of one key are alternatives.
pub fn list(store: &Store, filters: &[String]) -> Result<Vec<SecretRecord>> {
    let groups = super::filter::group_filters(filters)?;
    let mut names = Vec::new();
    for (key, values) in &groups {
        match key.as_str() {
            "name" => {
                for v in values {
                    names.push(
                        regex::Regex::new(v)
                            .with_context(|| format!("invalid name filter {v:?}"))?,
                    );
                }
            }
            "id" | "label" => {}
            other => bail!("invalid filter {other:?}"),
        }
    }
    let all = secrets(store).list()?;
    Ok(all
        .into_iter()
        .filter(|r| names.is_empty() || names.iter().any(|re| re.is_match(&r.name)))
        .filter(|r| {
            groups
                .get("id")
                .is_none_or(|ids| ids.iter().any(|p| r.id.starts_with(p.as_str())))
        })
        .filter(|r| {
            groups.get("label").is_none_or(|ls| {
                ls.iter()
                    .all(|l| super::filter::label_matches(l, &r.labels))
            })
        })
        .collect())
}

/// What `secret rm` did: the ids removed, then the first failure.
pub struct Removed {
    pub ids: Vec<String>,
    pub error: Option<anyhow::Error>,
}

pub fn remove(store: &Store, names: &[String], all: bool, ignore: bool) -> Result<Removed> {
    if all && !names.is_empty() {
        bail!("when using the --all switch, you may not pass any secret names");
    }
    if !all && names.is_empty() {
        bail!("`secret rm` requires at least one secret name, or --all");
    }
    let ss = secrets(store);
    let _lock = store.lock()?;
    let targets: Vec<Result<SecretRecord>> = if all {
        ss.list()?.into_iter().map(Ok).collect()
    } else {
        names.iter().map(|n| lookup(store, n)).collect()
    };
    let mut out = Removed {
        ids: Vec::new(),
        error: None,
    };
    for t in targets {
        match t.and_then(|rec| ss.remove(&rec).map(|()| rec.id)) {
            Ok(id) => out.ids.push(id),
            Err(e) if ignore && format!("{e}").ends_with("no such secret") => {}
            Err(e) => {
                if out.error.is_none() {
                    out.error = Some(e);
                }
            }
        }
    }
    Ok(out)
}

/// `--secret NAME[,type=mount|env][,target=T][,uid=N][,gid=N][,mode=M]`,
/// checked against the store: what the container record keeps.
pub fn parse_use(store: &Store, spec: &str) -> Result<SecretUse> {
    let mut parts = spec.split(',');
    let mut source = parts.next().unwrap_or_default().to_string();
    let mut kind = SecretKind::Mount;
    let mut target = None;
    let (mut uid, mut gid, mut mode) = (None, None, None);
    let number = |v: &str, radix: u32, what: &str| {
        u32::from_str_radix(v, radix).with_context(|| format!("invalid secret {what} {v:?}"))
    };
    for opt in parts {
        let (k, v) = opt
            .split_once('=')
            .with_context(|| format!("invalid secret option {opt:?}: expected key=value"))?;
        match k {
            "source" | "src" => source = v.to_string(),
            "type" => {
                kind = match v {
                    "mount" => SecretKind::Mount,
                    "env" => SecretKind::Env,
                    _ => bail!("type {v} is invalid: secret type must be mount or env"),
                }
            }
            "target" => target = Some(v.to_string()),
            "uid" => uid = Some(number(v, 10, "uid")?),
            "gid" => gid = Some(number(v, 10, "gid")?),
            "mode" => mode = Some(number(v, 8, "mode")?),
            _ => bail!("option {k} invalid: --secret takes type, target, uid, gid and mode"),
        }
    }
    if source.is_empty() {
        bail!("no source found {spec}: --secret needs a secret name");
    }
    if kind == SecretKind::Env && (uid.is_some() || gid.is_some() || mode.is_some()) {
        bail!("UID, GID, Mode options cannot be set with secret type env");
    }
    let rec = lookup(store, &source)?;
    let target = match (kind, target) {
        (SecretKind::Env, Some(t)) => t,
        (SecretKind::Env, None) => rec.name.clone(),
        (SecretKind::Mount, Some(t)) if t.starts_with('/') => t,
        (SecretKind::Mount, Some(t)) => format!("/run/secrets/{t}"),
        (SecretKind::Mount, None) => format!("/run/secrets/{}", rec.name),
    };
    Ok(SecretUse {
        id: rec.id,
        name: rec.name,
        kind,
        target,
        uid: uid.unwrap_or(0),
        gid: gid.unwrap_or(0),
        mode: mode.unwrap_or(0o444),
    })
}

/// The variables of a container's env secrets: kept out of what inspect
/// shows, as podman does.
pub fn env_names(uses: &[SecretUse]) -> Vec<&str> {
    uses.iter()
        .filter(|u| u.kind == SecretKind::Env)
        .map(|u| u.target.as_str())
        .collect()
}
