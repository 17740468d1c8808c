//! An image's parents, as podman finds them: the image whose history and
//! layers the child's begin with. `rmi` removes a removed image's untagged
//! parents that nothing else stands on (a build's intermediate images),
//! unless `--no-prune`.

use crate::storage::image_config::ImageConfig;
use crate::storage::images::{ImageRecord, Images};
use crate::storage::store::Store;

/// An image's history, each step by its time and command.
type Steps = Vec<(Option<String>, Option<String>)>;

fn steps(store: &Store, rec: &ImageRecord) -> Option<Steps> {
    let cfg = ImageConfig::parse(&store.blobs.read(&rec.config_digest()).ok()?).ok()?;
    Some(
        cfg.history
            .into_iter()
            .map(|h| (h.created, h.created_by))
            .collect(),
    )
}

/// `child` stands on `parent`: its history and layers extend the parent's.
fn extends(child: &(ImageRecord, Steps), parent: &(ImageRecord, Steps)) -> bool {
    let (c, ch) = child;
    let (p, ph) = parent;
    c.id != p.id
        && !ph.is_empty()
        && ph.len() < ch.len()
        && ch.starts_with(ph)
        && c.layers.starts_with(&p.layers)
}

/// The untagged parents of `removed` to remove with it, nearest first:
/// the chain stops at a tagged image, one a container uses (`in_use`), or
/// one another image also stands on.
pub fn dangling_parents(
    store: &Store,
    images: &Images,
    removed: &ImageRecord,
    in_use: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let Some(first) = steps(store, removed) else {
        return Vec::new();
    };
    // A parent's layers begin the child's, and whatever stands on a parent
    // begins with its layers: when the removed image has layers and no
    // layerless image exists, only images sharing its first layer matter,
    // and only their configs are read (a few among thousands, not all).
    let base = removed.layers.first();
    let layerless = images.list.iter().any(|i| i.layers.is_empty());
    let all: Vec<(ImageRecord, Steps)> = images
        .list
        .iter()
        .filter(|i| base.is_none() || layerless || i.layers.first() == base)
        .filter_map(|i| Some((i.clone(), steps(store, i)?)))
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut child = (removed.clone(), first);
    loop {
        let parent = all
            .iter()
            .filter(|p| extends(&child, p))
            .max_by_key(|(_, h)| h.len());
        let Some(parent) = parent else { break };
        let id = &parent.0.id;
        let others = all
            .iter()
            .filter(|o| o.0.id != removed.id && !out.contains(&o.0.id))
            .any(|o| extends(o, parent));
        if !parent.0.names.is_empty() || in_use(id) || others {
            break;
        }
        out.push(id.clone());
        child = parent.clone();
    }
    out
}
