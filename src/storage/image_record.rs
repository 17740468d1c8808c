//! One image's record: its id, names, manifest and layers.

use super::digest::Digest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// Hex digest of the config blob; podman's image id.
    pub id: String,
    /// Fully qualified names, `registry/repo:tag`. Unique across images.
    #[serde(default)]
    pub names: Vec<String>,
    /// Every name this image ever had, newest first (podman's NamesHistory).
    #[serde(default)]
    pub names_history: Vec<String>,
    /// The manifest stored with the image (its digest and media type).
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    /// `repo@sha256:...` for each repository it was pulled from.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Manifest digests this image is known by (the instance and, when pulled
    /// through an index, the index too).
    #[serde(default)]
    pub digests: Vec<Digest>,
    /// Uncompressed layer diff ids, lowest first.
    pub layers: Vec<Digest>,
    /// Sum of the layers' uncompressed sizes.
    pub size: u64,
    /// The config's `created`, when it has one.
    #[serde(default)]
    pub created: Option<String>,
    /// When this store got the image.
    pub added: String,
}

impl ImageRecord {
    /// The digest podman shows: the index's when pulled through one.
    pub fn display_digest(&self) -> &Digest {
        self.digests.first().unwrap_or(&self.manifest_digest)
    }

    pub fn config_digest(&self) -> Digest {
        Digest::from_hex(&self.id).expect("image ids are validated hex digests")
    }
}
