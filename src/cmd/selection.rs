//! Which containers a verb acts on (names, `--all`, `--latest`), and
//! reporting each one as podman does.

use crate::engine::containers;
use crate::engine::types::Store;
use anyhow::{Context, Result};

/// Resolve names (or `--all`/`--latest`) to (typed, id) pairs: see
/// [`engine::containers::targets`].
pub fn targets(
    store: &Store,
    names: &[String],
    all: bool,
    latest: bool,
    ignore: bool,
) -> Result<Vec<(String, String)>> {
    containers::targets(
        store,
        &containers::Targets {
            names,
            all,
            latest,
            ignore_missing: ignore,
        },
    )
}

/// Run `f` on every target; print what the user gave for each success and
/// report every failure, ending with the last one (podman goes on past a
/// failing container and fails the command at the end).
pub fn for_each(
    list: &[(String, String)],
    mut f: impl FnMut(&str, &str) -> Result<()>,
    quiet: bool,
) -> Result<()> {
    super::output::for_each_reported(list, |(typed, _)| typed, quiet, |(typed, id)| f(typed, id))
}

/// The container ids `--cidfile` files hold (first line of each); with
/// `ignore`, a missing file is skipped.
pub fn cidfile_names(files: &[String], ignore: bool) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in files {
        match std::fs::read_to_string(f) {
            Ok(text) => out.push(text.lines().next().unwrap_or("").trim().to_string()),
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading CIDFile {f}")),
        }
    }
    Ok(out)
}

/// `--filter` on a lifecycle verb: only the containers the filters select
/// (as `ps --filter`); without names it means every container.
pub fn filtered(
    store: &Store,
    list: Vec<(String, String)>,
    filters: &[String],
) -> Result<Vec<(String, String)>> {
    if filters.is_empty() {
        return Ok(list);
    }
    let selected = super::ps::filtered_ids(store, filters)?;
    Ok(list
        .into_iter()
        .filter(|(_, id)| selected.contains(id))
        .collect())
}
