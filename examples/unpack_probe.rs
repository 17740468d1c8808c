//! Unpack one layer tar the way rootless coracle does (enter the user
//! namespace, probe the whiteout form, unpack) and list what was written.
//! Used by tests/userns_unpack.rs; handy for poking at layers by hand.
//!
//! usage: unpack_probe LAYER.tar DEST_DIR [--whiteout auto|char|xattr]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use coracle::testing::auto_decompress;
use coracle::testing::{enter_user_namespace, is_rootless, IdMaps};
use coracle::testing::{unpack_layer, UnpackOptions, WhiteoutForm};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (tar, dest, form) = match args.as_slice() {
        [t, d] => (t, d, "auto"),
        [t, d, flag, f] if flag == "--whiteout" => (t, d, f.as_str()),
        _ => bail!("usage: unpack_probe LAYER.tar DEST_DIR [--whiteout auto|char|xattr]"),
    };
    // Decide before entering: inside the namespace we are uid 0.
    let rootless = is_rootless();
    let maps = IdMaps::for_current_user()?;
    enter_user_namespace(&maps)?;

    let dest = PathBuf::from(dest);
    // Probe in dest itself: it is ours to write, and the probe leaves nothing.
    let mut opts = UnpackOptions::detect(rootless, &dest);
    match form {
        "auto" => {}
        "char" => opts.whiteout = WhiteoutForm::CharDevice,
        "xattr" => opts.whiteout = WhiteoutForm::Xattr,
        other => bail!("unknown whiteout form {other:?}"),
    }
    let file = std::fs::File::open(tar).with_context(|| format!("opening {tar}"))?;
    let stats = unpack_layer(auto_decompress(file)?, &dest, &opts)?;
    println!(
        "rootless={rootless} whiteout={:?} files={} bytes={} entries={}",
        opts.whiteout, stats.files, stats.bytes, stats.entries
    );
    list(&dest, &dest)?;
    Ok(())
}

/// One line per path: owner and mode as seen inside the namespace.
fn list(root: &Path, dir: &Path) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let md = e.metadata()?;
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        println!("{rel} {}:{} {:o}", md.uid(), md.gid(), md.mode());
        if md.is_dir() {
            list(root, &e.path())?;
        }
    }
    Ok(())
}
