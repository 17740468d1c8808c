//! `cp CTR1:SRC CTR2:DEST`: each container's root is seen from a child of
//! its own, one after the other, so the copy goes through a tar in an
//! unlinked file of the store's tmp directory. The destination is looked
//! at first, for docker's naming rules; the tar is then written with the
//! name the copy takes there and extracted into the destination.

use super::{
    check_overwrite, extract_into, resolve_dest, resolve_followed, typed, with_container_root,
    write_source, Access, CopyOptions, Side, SourceKind,
};
use crate::storage::store::Store;
use anyhow::{Context, Result};
use std::ffi::CString;
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::AsFd;

/// The source's kind, as bytes: is_dir, is_root, then the base name.
fn encode(k: &SourceKind) -> Vec<u8> {
    let mut out = vec![u8::from(k.is_dir), u8::from(k.is_root)];
    out.extend_from_slice(k.base.as_bytes());
    out
}

fn decode(b: &[u8]) -> Result<SourceKind> {
    anyhow::ensure!(b.len() >= 2, "the source probe returned nothing");
    Ok(SourceKind {
        is_dir: b[0] == 1,
        is_root: b[1] == 1,
        base: CString::new(&b[2..]).context("the source's name")?,
    })
}

/// How the copy lands: contents straight in, or under this name.
fn encode_landing(contents: bool, name: Option<&CString>) -> Vec<u8> {
    let mut out = vec![u8::from(contents)];
    if let Some(n) = name {
        out.extend_from_slice(n.as_bytes());
    }
    out
}

pub(super) fn copy(
    store: &Store,
    (from, src_path): (&str, &str),
    (to, dst_path): (&str, &str),
    opts: &CopyOptions,
) -> Result<()> {
    let from_name = store.containers.load_config(from)?.name;
    let to_name = store.containers.load_config(to)?.name;
    let st = typed(src_path.as_bytes());
    let dt = typed(dst_path.as_bytes());
    let kind = decode(&with_container_root(store, from, Access::Live, |root| {
        let s = resolve_followed(
            Side::Container(root.fd.as_fd()),
            &st,
            &from_name,
            opts.follow,
        )?;
        Ok(encode(&s.kind()))
    })?)?;
    let landing = with_container_root(store, to, Access::Live, |root| {
        let d = resolve_dest(Side::Container(root.fd.as_fd()), &dt, Some(&kind), &to_name)?;
        check_overwrite(&d, &kind, st.contents, opts.overwrite)?;
        let contents = (st.contents && d.existing_dir) || d.name.is_none();
        Ok(encode_landing(
            contents,
            if contents { None } else { d.name.as_ref() },
        ))
    })?;
    let contents = landing.first() == Some(&1);
    let name = match &landing[1..] {
        [] => None,
        n => Some(CString::new(n).context("the destination's name")?),
    };
    std::fs::create_dir_all(&store.tmpdir)
        .with_context(|| format!("creating {}", store.tmpdir.display()))?;
    let mut staged = tempfile_in(&store.tmpdir)?;
    let owner = opts.owner;
    with_container_root(store, from, Access::Live, |root| {
        let s = resolve_followed(
            Side::Container(root.fd.as_fd()),
            &st,
            &from_name,
            opts.follow,
        )?;
        let out = std::io::BufWriter::new(&staged);
        write_source(&s, contents, name.as_deref(), out, owner)?.flush()?;
        Ok(Vec::new())
    })?;
    staged.seek(SeekFrom::Start(0))?;
    let rootless = store.rootless;
    with_container_root(store, to, Access::Live, |root| {
        let d = resolve_dest(Side::Container(root.fd.as_fd()), &dt, Some(&kind), &to_name)?;
        extract_into(std::io::BufReader::new(&staged), d.dir.as_fd(), rootless)?;
        Ok(Vec::new())
    })?;
    Ok(())
}

/// A file nobody else can open: created and unlinked at once.
fn tempfile_in(dir: &std::path::Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!(".cp-{:x}", rand::random::<u64>()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let _ = std::fs::remove_file(&path);
    Ok(f)
}
