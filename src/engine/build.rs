//! `build`: a Containerfile's text and the build options to an image, its
//! base images found (or pulled) as the pull policy says, and the event.

use super::types::{BuildOptions, Containerfile, ImageRecord};

use super::create::ImageSource;
use crate::build::{builder, containerfile};
use crate::storage::events::{self, Event};
use crate::storage::store::Store;
use anyhow::Result;
use std::cell::RefCell;

/// A Containerfile read and checked, before anything else is done.
pub fn parse_containerfile(text: &str, name: &str) -> Result<Containerfile> {
    containerfile::parse(text, name).map_err(|e| anyhow::anyhow!("{e}"))
}

/// What to build.
pub struct BuildRequest {
    /// The parsed Containerfile (`parse_containerfile`)
    pub file: Containerfile,
    pub options: BuildOptions,
    /// How base images are found: pulled as the policy says. A bad
    /// registry option is reported only when a base image is looked up.
    pub source: ImageSource,
}

/// Build the image and record the `build` event.
pub fn build(store: &Store, req: BuildRequest) -> Result<ImageRecord> {
    let policy = req.source.policy;
    let options = RefCell::new(req.source.options.map_err(Some));
    let resolve = |name: &str| {
        if let Ok(opts) = &*options.borrow() {
            return super::images::ensure_image(store, name, &policy, opts);
        }
        let e = options.borrow_mut().as_mut().err().and_then(Option::take);
        Err(e.unwrap_or_else(|| anyhow::anyhow!("invalid registry options")))
    };
    let img = builder::build(store, &req.file, &req.options, &resolve)?;
    let name = req.options.tags.first().unwrap_or(&img.id);
    events::append(store, Event::image("build", &img.id, name));
    Ok(img)
}
