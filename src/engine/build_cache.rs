//! `build --cache-from`/`--cache-to`: step images kept in registry
//! repositories, tagged with their cache keys, as buildah keeps them. A
//! step the local cache misses is pulled from the first `--cache-from`
//! repository that has it; every step's image is pushed to each
//! `--cache-to` repository. Both are best effort: a miss or a failed push
//! costs a rebuild, never the build.

use crate::build::builder::RemoteCache;
use crate::registry::pull::PullOptions;
use crate::registry::push::{self, PushOptions};
use crate::registry::reference::Reference;
use crate::runtime::userns;
use crate::storage::images::ImageRecord;
use crate::storage::store::Store;
use anyhow::Result;

/// The repositories and how to reach them.
pub struct Repos<'a> {
    pub store: &'a Store,
    pub from: &'a [String],
    pub to: &'a [String],
    pub options: Option<PullOptions>,
}

impl Repos<'_> {
    /// The step image tagged `key` in a `--cache-from` repository, pulled.
    pub fn fetch(&self, key: &str) -> Option<ImageRecord> {
        let mut opts = self.options.clone()?;
        opts.quiet = true;
        self.from.iter().find_map(|repo| {
            let name = format!("{repo}:{key}");
            super::images::pull_image(self.store, &name, &opts)
                .map_err(|e| crate::debug!("no cache image {name}: {e:#}"))
                .ok()
        })
    }

    /// Push a step's image as `key` to each `--cache-to` repository.
    pub fn put(&self, img: &ImageRecord, key: &str) -> Result<()> {
        let Some(pull) = &self.options else {
            return Ok(());
        };
        let opts = PushOptions {
            client: pull.client.clone(),
            quiet: true,
            ..Default::default()
        };
        for repo in self.to {
            let dest = Reference::parse(&format!("{repo}:{key}"))?;
            // Layer files belong to subordinate ids: push from inside the
            // user namespace, in a child, as the build stays outside it.
            if !self.store.rootless || userns::in_user_namespace() {
                push::push(self.store, img, &dest, &opts)?;
            } else {
                let maps = userns::IdMaps::for_current_user()?;
                userns::run_in_child_userns(&maps, || {
                    push::push(self.store, img, &dest, &opts).map(|d| d.to_string().into_bytes())
                })?;
            }
        }
        Ok(())
    }

    /// The builder's view, when there is anything to do.
    pub fn remote<'b>(
        &'b self,
        fetch: &'b dyn Fn(&str) -> Option<ImageRecord>,
        put: &'b dyn Fn(&ImageRecord, &str) -> Result<()>,
    ) -> RemoteCache<'b> {
        RemoteCache {
            fetch: (!self.from.is_empty()).then_some(fetch),
            put: (!self.to.is_empty()).then_some(put),
        }
    }
}
