//! `build --squash` and `--squash-all`: several layers made one. Each is
//! written as a tar and unpacked over the ones below it in one directory,
//! its whiteouts and opaque directories removing what they hide there;
//! that directory is then stored as a layer like any step's.

use crate::storage::commit;
use crate::storage::digest::Digest;
use crate::storage::layer_tar::{write_layer_tar, LayerTarOptions, MtimePolicy};
use crate::storage::layers::LayerRecord;
use crate::storage::store::Store;
use crate::storage::unpack::{unpack_layer, Merge, UnpackOptions};
use anyhow::{anyhow, Context, Result};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

/// Which layers `build` squashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Squash {
    #[default]
    No,
    /// `--squash`: the final stage's new layers, over its base's.
    New,
    /// `--squash-all`: every layer, the base's too.
    All,
}

/// `layers` (bottom first) as one layer, merged in `dir` (an empty
/// directory on the store's filesystem). `over_base`: the result sits on
/// other layers, so its deletions stay as whiteouts.
///
/// Rootless: call inside the user namespace.
pub fn merge_layers(
    store: &Store,
    layers: &[Digest],
    over_base: bool,
    dir: &Path,
    mtime: MtimePolicy,
    compress: bool,
) -> Result<LayerRecord> {
    merge_into(store, layers, dir, over_base)?;
    commit::layer_from_dir_as(store, dir, mtime, compress)
}

/// `layers` (bottom first) unpacked over each other into `dir`: the files
/// a container of them sees (`over_base`: with whiteouts for what lies
/// under them).
///
/// Rootless: call inside the user namespace.
pub fn merge_into(store: &Store, layers: &[Digest], dir: &Path, over_base: bool) -> Result<()> {
    let mut unpack_opts = UnpackOptions::detect(store.rootless, dir);
    unpack_opts.merge = if over_base {
        Merge::KeepWhiteouts
    } else {
        Merge::DropWhiteouts
    };
    let tar_opts = LayerTarOptions {
        xattr_prefix: store.xattr_prefix(),
        mtime: MtimePolicy::Keep,
    };
    for d in layers {
        let src = store.layers.diff_dir(d);
        copy_layer(&src, dir, &tar_opts, &unpack_opts)
            .with_context(|| format!("merging layer {d}"))?;
    }
    Ok(())
}

/// `dir` as a tar file at `dest` (`build --output type=tar`).
pub fn write_tar(store: &Store, dir: &Path, dest: &Path) -> Result<()> {
    let file = File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
    let tar_opts = LayerTarOptions {
        xattr_prefix: store.xattr_prefix(),
        mtime: MtimePolicy::Keep,
    };
    let (mut out, _) = write_layer_tar(dir, BufWriter::new(file), &tar_opts)?;
    out.flush()
        .with_context(|| format!("writing {}", dest.display()))
}

/// One layer's tar streamed into `unpack_layer` through a pipe.
fn copy_layer(
    src: &Path,
    dest: &Path,
    tar_opts: &LayerTarOptions,
    unpack_opts: &UnpackOptions,
) -> Result<()> {
    let (r, w) = nix::unistd::pipe().context("creating a pipe")?;
    let (reader, writer) = (File::from(r), File::from(w));
    let (written, unpacked) = std::thread::scope(|s| {
        let producer = s.spawn(move || -> Result<()> {
            let out = BufWriter::with_capacity(256 << 10, writer);
            let (mut out, _) = write_layer_tar(src, out, tar_opts)?;
            out.flush().context("writing the layer stream")
        });
        let mut reader = BufReader::with_capacity(256 << 10, reader);
        let unpacked = unpack_layer(&mut reader, dest, unpack_opts);
        // Drain so the writer never blocks on a full pipe after a failure.
        let _ = io::copy(&mut reader, &mut io::sink());
        drop(reader);
        let written = producer
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the layer writer panicked")));
        (written, unpacked)
    });
    written?;
    unpacked.map(drop)
}
