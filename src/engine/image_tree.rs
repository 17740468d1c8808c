//! `image tree`: an image's layers, base first, each with its id (the
//! chain id, as containers/storage names a pulled layer), its size, and
//! the images whose top layer it is.

use super::types::Store;
use crate::storage::digest::Digest;
use anyhow::Result;
use std::collections::BTreeMap;

pub struct TreeLayer {
    pub id: String,
    pub size: u64,
    /// Names of the images this layer is the top of.
    pub top_of: Vec<String>,
}

pub struct ImageTree {
    pub id: String,
    pub names: Vec<String>,
    pub size: u64,
    /// Base first.
    pub layers: Vec<TreeLayer>,
}

/// The chain ids of a stack of diff ids: each layer named with all below it.
fn chain_ids(diff_ids: &[Digest]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let id = match out.last() {
            None => d.hex().to_string(),
            Some(below) => Digest::of_bytes(format!("sha256:{below} {d}").as_bytes())
                .hex()
                .to_string(),
        };
        out.push(id);
    }
    out
}

pub fn tree(store: &Store, image: &str) -> Result<ImageTree> {
    let images = store.images.load()?;
    let img = crate::registry::resolve::find_image(&images, image)?;
    let mut tops: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for other in &images.list {
        if let Some(top) = chain_ids(&other.layers).pop() {
            tops.entry(top)
                .or_default()
                .extend(other.names.iter().cloned());
        }
    }
    let layers = chain_ids(&img.layers)
        .into_iter()
        .zip(&img.layers)
        .map(|(id, diff)| TreeLayer {
            size: store.layers.record(diff).map(|r| r.size).unwrap_or(0),
            top_of: tops.get(&id).cloned().unwrap_or_default(),
            id,
        })
        .collect();
    Ok(ImageTree {
        id: img.id.clone(),
        names: img.names.clone(),
        size: img.size,
        layers,
    })
}
