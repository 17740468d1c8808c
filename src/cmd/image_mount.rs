//! `image mount` and `image unmount`/`umount`: images' root filesystems,
//! read-only, on the host.

use super::output::{print, println};
use super::GlobalOpts;
use crate::engine::image_mount as engine;
use crate::format::table::tabwrite;
use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct ImageMountArgs {
    /// Mount all images
    #[arg(short, long)]
    pub all: bool,
    /// Print the mounted images in specified format (json)
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    pub images: Vec<String>,
}

#[derive(serde::Serialize)]
struct JsonMount {
    id: String,
    #[serde(rename = "Names")]
    names: Vec<String>,
    #[serde(rename = "Repositories")]
    repositories: Vec<String>,
    mountpoint: String,
}

pub fn mount(g: &GlobalOpts, a: ImageMountArgs) -> Result<()> {
    if !a.images.is_empty() && a.all {
        bail!("when using the --all switch, you may not pass any image names or IDs");
    }
    let json = match a.format.as_deref() {
        None | Some("") => false,
        Some("json") | Some("{{json .}}") => true,
        Some(f) => bail!("unknown --format argument: {f:?}"),
    };
    let store = g.open_store()?;
    engine::check_allowed(&store, "image mount")?;
    let reports = if a.images.is_empty() && !a.all {
        engine::mounted(&store)?
    } else {
        engine::mount(&store, &a.images, a.all)?
    };
    if a.images.len() == 1 && !json && !a.all {
        return println(&reports[0].path.to_string_lossy());
    }
    if json {
        let v: Vec<JsonMount> = reports
            .into_iter()
            .map(|r| JsonMount {
                id: r.id,
                names: vec![r.digest],
                repositories: r.repositories,
                mountpoint: r.path.to_string_lossy().into_owned(),
            })
            .collect();
        return println(&crate::format::table::json_indented(
            &serde_json::to_value(v)?,
            1,
        ));
    }
    let rows: Vec<Vec<String>> = reports
        .into_iter()
        .map(|r| {
            let shown = r.repositories.first().cloned().unwrap_or(r.id);
            vec![shown, r.path.to_string_lossy().into_owned()]
        })
        .collect();
    print(&tabwrite(&rows))
}

#[derive(Args, Debug)]
pub struct ImageUnmountArgs {
    /// Unmount all of the currently mounted images
    #[arg(short, long)]
    pub all: bool,
    /// Force the complete unmount of the specified mounted images
    #[arg(short, long)]
    pub force: bool,
    pub images: Vec<String>,
}

pub fn unmount(g: &GlobalOpts, a: ImageUnmountArgs) -> Result<()> {
    if a.images.is_empty() && !a.all {
        bail!("image name or ID must be specified");
    }
    if !a.images.is_empty() && a.all {
        bail!("when using the --all switch, you may not pass any image names or IDs");
    }
    let store = g.open_store()?;
    engine::check_allowed(&store, "image unmount")?;
    for id in engine::unmount(&store, &a.images, a.all, a.force)? {
        println(&id)?;
    }
    Ok(())
}
