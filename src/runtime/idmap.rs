//! A container's own id maps (`--uidmap`...) as the kernel takes them:
//! ranges given in the caller's ids go through the caller's namespace to
//! host ids (identity as root; rootless the intermediate namespace of
//! /etc/subuid), split where that namespace's ranges split.

use super::rootfs::RootfsPlan;
use super::userns::{IdMapping, IdMaps};
use crate::storage::launch::{IdMappings, IdRange};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `[start, start + size)` of one side of `map` as pieces of the other:
/// `(from, to, len)`, `forward` meaning container ids to host ids. `None`
/// when some id of the range is not mapped.
pub fn through(map: &[IdMapping], start: u32, size: u32, forward: bool) -> Option<Vec<IdRange>> {
    let mut out = Vec::new();
    let (mut at, end) = (start as u64, start as u64 + size as u64);
    while at < end {
        let piece = map.iter().find_map(|m| {
            let (from, to) = match forward {
                true => (m.container_id as u64, m.host_id as u64),
                false => (m.host_id as u64, m.container_id as u64),
            };
            let off = at.checked_sub(from).filter(|o| *o < m.size as u64)?;
            let len = (m.size as u64 - off).min(end - at);
            Some((to + off, len))
        });
        let (to, len) = piece?;
        out.push(IdRange {
            container_id: at as u32,
            host_id: to as u32,
            size: len as u32,
        });
        at += len;
    }
    Some(out)
}

/// The maps to write for `wanted` (caller's ids) given the caller's
/// namespace `base`.
pub fn host_maps(wanted: &IdMappings, base: &IdMaps) -> Result<IdMaps> {
    let convert = |ranges: &[IdRange], base: &[IdMapping], kind: &str| -> Result<Vec<IdMapping>> {
        let mut out = Vec::new();
        for r in ranges {
            let Some(pieces) = through(base, r.host_id, r.size, true) else {
                bail!(
                    "the {kind} range {}..{} is not mapped in your user namespace (see /etc/sub{kind})",
                    r.host_id,
                    r.host_id as u64 + r.size as u64 - 1
                );
            };
            for p in pieces {
                out.push(IdMapping {
                    container_id: r.container_id + (p.container_id - r.host_id),
                    host_id: p.host_id,
                    size: p.size,
                });
            }
        }
        out.sort_by_key(|m| m.container_id);
        Ok(out)
    };
    Ok(IdMaps {
        uids: convert(&wanted.uids, &base.uids, "uid")?,
        gids: convert(&wanted.gids, &base.gids, "gid")?,
    })
}

/// In the container's first process, before it becomes root of its
/// namespace. Maps that leave out the store's owner (root's
/// `--uidmap 0:100000:65536`) leave that root no way through the store's
/// and runroot's private directories. So, still the owner: the rootfs is
/// mounted, and it and every bind source are held by descriptors the
/// returned spec names through /proc/self/fd, which reaches them without
/// walking their parents. Keep the descriptors until the rootfs is set up.
pub fn reach_before_identity(spec: &Spec, plan: &mut RootfsPlan) -> Result<(Spec, Vec<OwnedFd>)> {
    let mut spec = spec.clone();
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .context("spec has no root")?;
    super::rootfs::make_private()?;
    super::rootfs::mount_layers(&root, plan)?;
    plan.premounted = true;
    let mut held = Vec::new();
    let mut via_fd = |p: &Path| -> Result<PathBuf> {
        let fd: OwnedFd = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(p)
            .with_context(|| format!("opening {}", p.display()))?
            .into();
        let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        held.push(fd);
        Ok(path)
    };
    let new_root = via_fd(&root)?;
    if let Some(r) = spec.root_mut() {
        r.set_path(new_root);
    }
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for m in &mut mounts {
        let bind = m.typ().as_deref().unwrap_or("bind") == "bind";
        if let Some(src) = m.source().clone().filter(|s| bind && s.is_absolute()) {
            // A source that cannot be opened fails later, as it would have.
            if let Ok(p) = via_fd(&src) {
                m.set_source(Some(p));
            }
        }
    }
    spec.set_mounts(Some(mounts));
    Ok((spec, held))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: u32, h: u32, n: u32) -> IdMapping {
        IdMapping {
            container_id: c,
            host_id: h,
            size: n,
        }
    }

    #[test]
    fn ranges_split_where_the_namespace_splits() {
        let base = [m(0, 1000, 1), m(1, 100000, 65536)];
        let got = through(&base, 0, 3, true).unwrap();
        assert_eq!(
            got.iter().map(|r| r.text()).collect::<Vec<_>>(),
            ["0:1000:1", "1:100000:2"]
        );
        assert!(through(&base, 65530, 100, true).is_none());
        let back = through(&base, 100001, 2, false).unwrap();
        assert_eq!(back[0].text(), "100001:2:2");
    }
}
