//! The on-disk store: locking, atomic records, blobs, layers, images.

pub mod atomic;
pub mod blobs;
pub mod check;
pub mod commit;
pub mod compression;
pub mod containers;
pub mod crash;
pub mod digest;
pub mod events;
pub mod fsutil;
pub mod image_config;
pub mod image_index;
pub mod images;
pub mod layer_tar;
pub mod layers;
pub mod leftovers;
pub mod lock;
pub mod modes;
pub mod names;
pub mod pods;
pub mod records;
pub mod store;
pub mod unpack;
pub mod vfs;
pub mod volumes;
