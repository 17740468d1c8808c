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

/// A layer and the layers built on it (`image tree --whatrequires`).
pub struct LayerNode {
    pub layer: TreeLayer,
    /// Whether its parent has more than this one child (podman branches then).
    pub has_siblings: bool,
    pub children: Vec<LayerNode>,
}

/// The image's top layer and everything every other image stacks on it.
pub fn what_requires(store: &Store, image: &str) -> Result<(ImageTree, Option<LayerNode>)> {
    let head = tree(store, image)?;
    let images = store.images.load()?;
    // Layers by chain id: their diff id, parent, children in first-seen order.
    let mut diff_of: BTreeMap<String, Digest> = BTreeMap::new();
    let mut parent_of: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut tops: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for img in &images.list {
        let ids = chain_ids(&img.layers);
        for (i, id) in ids.iter().enumerate() {
            if diff_of.contains_key(id) {
                continue;
            }
            diff_of.insert(id.clone(), img.layers[i].clone());
            let parent = i.checked_sub(1).map(|p| ids[p].clone());
            if let Some(p) = &parent {
                children.entry(p.clone()).or_default().push(id.clone());
            }
            parent_of.insert(id.clone(), parent);
        }
        if let Some(top) = ids.last() {
            tops.entry(top.clone())
                .or_default()
                .extend(img.names.iter().cloned());
        }
    }
    let Some(top) = head.layers.last().map(|l| l.id.clone()) else {
        return Ok((head, None));
    };
    let siblings = |id: &str| {
        parent_of
            .get(id)
            .cloned()
            .flatten()
            .and_then(|p| children.get(&p))
            .is_some_and(|c| c.len() > 1)
    };
    fn build(
        id: &str,
        store: &Store,
        diff_of: &BTreeMap<String, Digest>,
        children: &BTreeMap<String, Vec<String>>,
        tops: &BTreeMap<String, Vec<String>>,
        siblings: &dyn Fn(&str) -> bool,
    ) -> LayerNode {
        let size = diff_of
            .get(id)
            .and_then(|d| store.layers.record(d).ok())
            .map_or(0, |r| r.size);
        LayerNode {
            layer: TreeLayer {
                id: id.to_string(),
                size,
                top_of: tops.get(id).cloned().unwrap_or_default(),
            },
            has_siblings: siblings(id),
            children: children
                .get(id)
                .into_iter()
                .flatten()
                .map(|c| build(c, store, diff_of, children, tops, siblings))
                .collect(),
        }
    }
    let node = build(&top, store, &diff_of, &children, &tops, &siblings);
    Ok((head, Some(node)))
}
