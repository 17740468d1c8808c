//! Which containers a verb acts on (names, `--all`, `--latest`), and
//! reporting each one as podman does.

use crate::engine::containers;
use crate::engine::types::Store;
use anyhow::Result;

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
