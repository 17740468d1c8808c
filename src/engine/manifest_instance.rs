//! A manifest list standing for one of its images: `run LIST` and
//! `FROM LIST` use the local image the list holds for the platform.

use crate::registry::manifest::{
    choose_manifest, host_platform, parse_manifest, ParsedManifest, Platform, OCI_INDEX,
};
use crate::storage::images::ImageRecord;
use crate::storage::manifest_lists as lists;
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};

/// The local image `list` holds for `platform` (this machine's when
/// `None`).
pub fn local_instance(
    store: &Store,
    list: &ImageRecord,
    platform: Option<&Platform>,
) -> Result<ImageRecord> {
    let name = list.names.first().unwrap_or(&list.id);
    let index = match parse_manifest(&lists::read_index(store, list)?, OCI_INDEX)? {
        ParsedManifest::Index(i) => i,
        ParsedManifest::Image(_) => bail!("manifest list {name}: its manifest is not an index"),
    };
    let want = platform.cloned().unwrap_or_else(host_platform);
    let entry = choose_manifest(&index, &want).with_context(|| format!("manifest list {name}"))?;
    let images = store.images.load()?;
    images
        .list
        .iter()
        .find(|i| i.manifest_digest == entry.digest && !lists::is_list(i))
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "manifest list {name}: its image for {want} ({}) is not in local storage",
                entry.digest
            )
        })
}
