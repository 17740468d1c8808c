//! Deleting a tree of container files.

use super::userns::IdMaps;
use crate::storage::store::Store;
use anyhow::{Context, Result};
use std::path::Path;

/// Delete a tree of container files. Rootless, it may hold files owned by
/// subordinate ids: when the plain way is refused, delete from inside the
/// user namespace.
pub fn delete_tree(store: &Store, path: &Path) -> Result<()> {
    let plain = crate::storage::layers::remove_tree(path);
    if plain.is_ok() || !store.rootless || super::userns::in_user_namespace() {
        return plain.with_context(|| format!("removing {}", path.display()));
    }
    let maps = IdMaps::for_current_user()?;
    super::userns::run_in_child_userns(&maps, || {
        crate::storage::layers::remove_tree(path)?;
        Ok(Vec::new())
    })
    .with_context(|| format!("removing {}", path.display()))?;
    Ok(())
}
