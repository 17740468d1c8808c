//! Finding a container from what a user typed: full id, unique id prefix,
//! or name.

use crate::error::CodedError;
/// Images by name, id or digest, as podman resolves what a user typed.
pub use crate::registry::resolve::try_find_image;
use crate::storage::store::Store;
use anyhow::{bail, Result};

/// The full id of the container `input` names. Unknown: podman's message.
pub fn container_id(store: &Store, input: &str) -> Result<String> {
    match try_container_id(store, input)? {
        Some(id) => Ok(id),
        None => Err(CodedError {
            code: 125,
            message: format!("no container with name or ID \"{input}\" found: no such container"),
        }
        .into()),
    }
}

pub fn try_container_id(store: &Store, input: &str) -> Result<Option<String>> {
    if input.is_empty() {
        bail!("container name or ID cannot be empty");
    }
    if input.len() == 64 && store.containers.dir(input).join("config.json").exists() {
        return Ok(Some(input.to_string()));
    }
    if let Some(id) = store.containers.name_owner(input) {
        return Ok(Some(id));
    }
    let ids = store.containers.ids()?;
    for id in &ids {
        if let Ok(cfg) = store.containers.load_config(id) {
            if cfg.name == input {
                return Ok(Some(id.clone()));
            }
        }
    }
    unique_prefix(&ids, input, "container")
}

/// The one id among `ids` that starts with `input` (None when none does);
/// several is an error, as in podman.
pub fn unique_prefix(ids: &[String], input: &str, kind: &str) -> Result<Option<String>> {
    let matches: Vec<&String> = ids.iter().filter(|i| i.starts_with(input)).collect();
    match matches.len() {
        0 => Ok(None),
        1 => Ok(Some(matches[0].clone())),
        n => bail!("more than one result for {kind} \"{input}\": {n} {kind}s match"),
    }
}

/// podman's `rm` exits 1, not 125, when a thing to remove does not exist:
/// recode the lookup's "no such" error.
pub fn missing_exits_1<T>(r: Result<T>) -> Result<T> {
    match r {
        Err(e) if e.downcast_ref::<CodedError>().is_some() => Err(CodedError {
            code: 1,
            message: format!("{e:#}"),
        }
        .into()),
        r => r,
    }
}
