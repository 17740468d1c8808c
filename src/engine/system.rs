//! The store as a whole: what images, containers and volumes take on disk
//! (`system df`), as podman counts it.

use super::containers::Listed;
use crate::storage::images::ImageRecord;
use crate::storage::store::Store;
use anyhow::Result;
use std::collections::BTreeMap;

/// One image's share of the disk.
pub struct ImageUsage {
    pub record: ImageRecord,
    /// Bytes of layers no other image has.
    pub unique: u64,
    /// Containers made from it.
    pub containers: usize,
}

/// One container's writable layer.
pub struct ContainerUsage {
    pub listed: Listed,
    pub rw_size: u64,
}

/// One volume's data and how many containers use it.
pub struct VolumeUsage {
    pub name: String,
    pub links: usize,
    pub size: u64,
}

pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

/// Measure everything. Rootless, volumes and container layers hold files
/// of subordinate ids in directories only the user namespace may enter, so
/// this enters it (call while single-threaded).
pub fn disk_usage(store: &Store) -> Result<DiskUsage> {
    crate::runtime::userns::enter_for_storage(store)?;
    let images = store.images.load()?;
    let containers = super::containers::list_all(store)?;
    let volumes = store.volumes.list()?;
    let users = crate::storage::volumes::users(&store.containers)?;
    // A layer shared by several images is "shared" in each.
    let mut layer_refs: BTreeMap<String, usize> = BTreeMap::new();
    for img in &images.list {
        for l in &img.layers {
            *layer_refs.entry(l.to_string()).or_default() += 1;
        }
    }
    let layer_size =
        |d: &crate::storage::digest::Digest| store.layers.record(d).map(|r| r.size).unwrap_or(0);
    let image_usage = images
        .list
        .iter()
        .map(|img| ImageUsage {
            unique: img
                .layers
                .iter()
                .filter(|l| layer_refs.get(&l.to_string()) == Some(&1))
                .map(layer_size)
                .sum(),
            containers: containers
                .iter()
                .filter(|c| c.cfg.image_id == img.id)
                .count(),
            record: img.clone(),
        })
        .collect();
    let container_usage = containers
        .into_iter()
        .map(|c| ContainerUsage {
            rw_size: crate::runtime::volume::tree_size(
                &store.containers.dir(&c.cfg.id).join("upper"),
            ),
            listed: c,
        })
        .collect();
    let volume_usage = volumes
        .iter()
        .map(|v| VolumeUsage {
            name: v.name.clone(),
            links: users.get(&v.name).map(Vec::len).unwrap_or(0),
            size: crate::runtime::volume::tree_size(&store.volumes.data_dir(&v.name)),
        })
        .collect();
    Ok(DiskUsage {
        images: image_usage,
        containers: container_usage,
        volumes: volume_usage,
    })
}

/// The id ranges of this user's containers: (container id, host id, size)
/// for uids, then gids; None when the user has no subordinate range.
pub type IdRanges = Vec<(u32, u32, u32)>;

pub fn id_mappings() -> Option<(IdRanges, IdRanges)> {
    let m = crate::runtime::userns::IdMaps::for_current_user().ok()?;
    let ranges = |v: &[crate::runtime::userns::IdMapping]| {
        v.iter()
            .map(|x| (x.container_id, x.host_id, x.size))
            .collect()
    };
    Some((ranges(&m.uids), ranges(&m.gids)))
}

/// The registries short names are looked up in.
pub fn search_registries() -> Vec<String> {
    crate::registry::shortnames::search_registries().unwrap_or_default()
}
