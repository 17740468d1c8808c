//! What `build`'s flags change on the images it makes beyond the
//! Containerfile: the final image's labels, environment and annotations
//! (`--label`, `--env`, `--annotation` and their `--unset*`), what is
//! inherited from the base, the creation time and the history.

use crate::storage::image_config::ImageConfig;
use crate::storage::layer_tar::MtimePolicy;
use std::collections::BTreeMap;

/// The image config keys of `--os-version` and `--os-feature`.
pub const OS_VERSION: &str = "os.version";
pub const OS_FEATURES: &str = "os.features";

/// The OCI annotation `--created-annotation` writes.
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

#[derive(Debug, Clone)]
pub struct ImageEdits {
    /// `--label`: set on the final image.
    pub labels: BTreeMap<String, String>,
    pub unset_labels: Vec<String>,
    /// `--env` as `KEY=VALUE`, set on the final image.
    pub env: Vec<String>,
    pub unset_env: Vec<String>,
    pub annotations: BTreeMap<String, String>,
    pub unset_annotations: Vec<String>,
    /// Keep the labels of each stage's base (default true).
    pub inherit_labels: bool,
    /// Keep the final stage's base image's annotations (default true).
    pub inherit_annotations: bool,
    /// Annotate the final image with its creation time (default true).
    pub created_annotation: bool,
    /// No history in the final image.
    pub omit_history: bool,
    /// Every image's creation time, seconds since the epoch.
    pub created: Option<u64>,
    /// The times new layers' files carry.
    pub mtime: MtimePolicy,
    /// `--layer-label`: on the intermediate images only.
    pub layer_labels: BTreeMap<String, String>,
    /// `--os-version`: the final image's.
    pub os_version: Option<String>,
    /// `--os-feature`: added, or removed when written `NAME-`.
    pub os_features: Vec<String>,
    /// `--identity-label`: None when not given (then the label goes on
    /// unless the build's times are fixed, as buildah decides).
    pub identity_label: Option<bool>,
}

/// The label buildah puts on each image it commits, naming its version.
pub const IDENTITY_LABEL: &str = "io.buildah.version";

impl Default for ImageEdits {
    fn default() -> Self {
        ImageEdits {
            labels: BTreeMap::new(),
            unset_labels: Vec::new(),
            env: Vec::new(),
            unset_env: Vec::new(),
            annotations: BTreeMap::new(),
            unset_annotations: Vec::new(),
            inherit_labels: true,
            inherit_annotations: true,
            created_annotation: true,
            omit_history: false,
            created: None,
            mtime: MtimePolicy::Keep,
            layer_labels: BTreeMap::new(),
            os_version: None,
            os_features: Vec::new(),
            identity_label: None,
        }
    }
}

impl ImageEdits {
    /// Whether the final image differs from its stage's last image: a
    /// stage that is only a FROM then still makes a new image.
    pub fn change_final(&self) -> bool {
        !self.labels.is_empty()
            || !self.unset_labels.is_empty()
            || !self.env.is_empty()
            || !self.unset_env.is_empty()
            || !self.annotations.is_empty()
            || !self.unset_annotations.is_empty()
            || !self.inherit_labels
            || !self.inherit_annotations
            || self.omit_history
            || self.created.is_some()
            || self.os_version.is_some()
            || !self.os_features.is_empty()
    }

    /// What an intermediate step's cache key must hold of these edits.
    pub fn layer_key(&self) -> String {
        if self.layer_labels.is_empty() {
            return String::new();
        }
        format!("layer labels {:?}", self.layer_labels)
    }

    /// An intermediate image's config: `--layer-label`s added.
    pub fn add_layer_labels(&self, c: &mut ImageConfig) {
        if !self.layer_labels.is_empty() {
            let labels = c.config.labels.get_or_insert_with(Default::default);
            labels.extend(self.layer_labels.clone());
        }
    }

    /// A cached intermediate image's config as the stage goes on with it.
    pub fn remove_layer_labels(&self, c: &mut ImageConfig) {
        if let Some(labels) = &mut c.config.labels {
            labels.retain(|k, _| !self.layer_labels.contains_key(k));
        }
    }

    /// What the final step's cache key must hold of these edits.
    pub fn final_key(&self) -> String {
        format!(
            "os {:?} {:?} labels {:?} -{:?} env {:?} -{:?} ann {:?} -{:?} inherit {} created {} history {} at {:?} {:?}",
            self.os_version,
            self.os_features,
            self.labels,
            self.unset_labels,
            self.env,
            self.unset_env,
            self.annotations,
            self.unset_annotations,
            self.inherit_annotations,
            self.created_annotation,
            self.omit_history,
            self.created,
            self.mtime,
        )
    }

    /// What every step's cache key must hold (they change each image).
    pub fn step_key(&self) -> String {
        format!(
            "inherit-labels {} at {:?} {:?} identity {}",
            self.inherit_labels,
            self.created,
            self.mtime,
            self.wants_identity_label()
        )
    }

    /// Whether each committed image gets `io.buildah.version`: asked, or
    /// by default unless `--timestamp`/`--source-date-epoch` fix the
    /// build's times (a reproducible image names no builder version).
    pub fn wants_identity_label(&self) -> bool {
        self.identity_label.unwrap_or(self.created.is_none())
    }

    /// A committed image's config: the identity label set, as buildah does
    /// on every commit. Without it a base image's label is left as it is.
    pub fn add_identity_label(&self, c: &mut ImageConfig) {
        if self.wants_identity_label() {
            c.config
                .labels
                .get_or_insert_with(Default::default)
                .insert(IDENTITY_LABEL.into(), env!("CARGO_PKG_VERSION").into());
        }
    }

    /// The final image's config edits: labels, environment, OS version
    /// and features.
    pub fn apply_to_final(&self, c: &mut ImageConfig) {
        if let Some(v) = &self.os_version {
            c.extra.insert(OS_VERSION.into(), v.clone().into());
        }
        if !self.os_features.is_empty() {
            let mut features: Vec<String> = c
                .extra
                .get(OS_FEATURES)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            for f in &self.os_features {
                match f.strip_suffix('-') {
                    Some(gone) => features.retain(|x| x != gone),
                    None if !features.contains(f) => features.push(f.clone()),
                    None => {}
                }
            }
            if features.is_empty() {
                c.extra.remove(OS_FEATURES);
            } else {
                c.extra.insert(OS_FEATURES.into(), features.into());
            }
        }
        if !self.labels.is_empty() || !self.unset_labels.is_empty() {
            let labels = c.config.labels.get_or_insert_with(Default::default);
            for (k, v) in &self.labels {
                labels.insert(k.clone(), v.clone());
            }
            for k in &self.unset_labels {
                labels.remove(k);
            }
        }
        if !self.env.is_empty() || !self.unset_env.is_empty() {
            let env = c.config.env.get_or_insert_with(Default::default);
            for e in &self.env {
                let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
                env.retain(|x| x.split_once('=').map_or(x.as_str(), |(k, _)| k) != key);
                env.push(e.clone());
            }
            env.retain(|x| {
                let key = x.split_once('=').map_or(x.as_str(), |(k, _)| k);
                !self.unset_env.iter().any(|u| u == key)
            });
        }
    }

    /// The final image's manifest annotations: the base's (if inherited)
    /// without the unset ones, then `--annotation`, then the creation time.
    pub fn final_annotations(
        &self,
        base: &BTreeMap<String, String>,
        created: &str,
    ) -> BTreeMap<String, String> {
        let mut out = if self.inherit_annotations {
            base.clone()
        } else {
            BTreeMap::new()
        };
        for k in &self.unset_annotations {
            out.remove(k);
        }
        out.extend(self.annotations.clone());
        if self.created_annotation {
            out.entry(CREATED_ANNOTATION.to_string())
                .or_insert_with(|| created.to_string());
        }
        out
    }

    /// The creation time to record, RFC 3339, if fixed.
    pub fn created_rfc3339(&self) -> Option<String> {
        self.created.map(|s| {
            crate::format::human::rfc3339_nano(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(s),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_replaces_and_unset_removes() {
        let mut c = ImageConfig::default();
        c.config.env = Some(vec!["A=1".into(), "B=2".into(), "PATH=/bin".into()]);
        let e = ImageEdits {
            env: vec!["A=9".into(), "C=3".into()],
            unset_env: vec!["B".into()],
            ..Default::default()
        };
        e.apply_to_final(&mut c);
        assert_eq!(
            c.config.env.unwrap(),
            vec!["PATH=/bin".to_string(), "A=9".into(), "C=3".into()]
        );
    }

    #[test]
    fn annotations_inherit_unset_and_created() {
        let base: BTreeMap<String, String> =
            [("a".to_string(), "1".to_string()), ("b".into(), "2".into())].into();
        let e = ImageEdits {
            unset_annotations: vec!["b".into()],
            annotations: [("c".to_string(), "3".to_string())].into(),
            ..Default::default()
        };
        let got = e.final_annotations(&base, "T");
        assert_eq!(got.get("a").map(String::as_str), Some("1"));
        assert!(!got.contains_key("b"));
        assert_eq!(got.get(CREATED_ANNOTATION).map(String::as_str), Some("T"));
        let e = ImageEdits {
            inherit_annotations: false,
            created_annotation: false,
            ..Default::default()
        };
        assert!(e.final_annotations(&base, "T").is_empty());
    }
}
