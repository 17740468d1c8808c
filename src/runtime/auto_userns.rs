//! `--userns=auto`: a user namespace of its own range of subordinate ids
//! for each container, as podman (containers/storage) allocates them.
//! As root the ids come from the /etc/subuid and /etc/subgid ranges of
//! storage.conf's `root-auto-userns-user` (`containers`); rootless from the
//! caller's own (intermediate ids 1..). The size is `size=`, else the
//! image's highest file owner or /etc/passwd and /etc/group id plus one,
//! between `auto-userns-min-size` and `auto-userns-max-size`. The range is
//! one no other container of the store maps (`launch.id_mappings`, keep-id
//! rootless: everything): `allocate` runs under the store lock the create
//! holds, so two creates at once get different ranges; the record keeps
//! the maps, so a restart has the same and a removal frees them.

use super::idmap::through;
use super::userns::{IdMapping, IdMaps};
use crate::storage::digest::Digest;
use crate::storage::launch::{IdMappings, IdRange};
use crate::storage::modes::{AutoMapping, AutoUserns, UsernsMode};
use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What `allocate` needs, worked out before the lock: the size and the
/// forced mappings in the caller's ids.
#[derive(Debug, Clone)]
pub struct Plan {
    size: u32,
    uids: Vec<IdRange>,
    gids: Vec<IdRange>,
}

/// storage.conf's `[storage.options]` for auto namespaces.
struct Settings {
    user: String,
    min: u32,
    max: u32,
}

fn settings() -> Settings {
    let options = crate::config::get().storage.options.clone();
    let get = |key: &str| options.as_ref().and_then(|t| t.get(key)).cloned();
    let num = |key: &str, default: u32| match get(key) {
        Some(toml::Value::Integer(n)) => u32::try_from(n).unwrap_or(default),
        Some(toml::Value::String(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    };
    Settings {
        user: match get("root-auto-userns-user") {
            Some(toml::Value::String(s)) if !s.is_empty() => s,
            _ => "containers".into(),
        },
        min: num("auto-userns-min-size", 1024),
        max: num("auto-userns-max-size", 65536),
    }
}

/// The size and forced maps of `opts` for an image of `layers` (bottom
/// first; none without an image).
pub fn plan(store: &Store, opts: &AutoUserns, layers: &[Digest]) -> Result<Plan> {
    let s = settings();
    let base = base_maps(store)?;
    let size = match opts.size {
        Some(n) => n,
        None => {
            let needed = image_ids(store, layers, &base).max(s.min);
            if s.max > 0 && needed > s.max {
                bail!("the container needs a user namespace with size {needed} that is bigger than the maximum value allowed with userns=auto {} (auto-userns-max-size in storage.conf)", s.max);
            }
            needed
        }
    };
    let forced = |list: &[AutoMapping], maps: &[IdMapping], kind: &str| -> Result<Vec<IdRange>> {
        let mut out = Vec::new();
        for m in list {
            if !(m.real_host && store.rootless) {
                out.push(IdRange {
                    container_id: m.container_id,
                    host_id: m.host_id,
                    size: m.size,
                });
                continue;
            }
            let Some(pieces) = through(maps, m.host_id, m.size, false) else {
                bail!(
                    "--userns=auto: host {kind} {} (amount {}) is not among your subordinate ids (/etc/sub{kind})",
                    m.host_id,
                    m.size
                );
            };
            out.extend(pieces.into_iter().map(|p| IdRange {
                container_id: m.container_id + (p.container_id - m.host_id),
                host_id: p.host_id,
                size: p.size,
            }));
        }
        Ok(out)
    };
    Ok(Plan {
        size,
        uids: forced(&opts.uidmapping, &base.uids, "uid")?,
        gids: forced(&opts.gidmapping, &base.gids, "gid")?,
    })
}

fn base_maps(store: &Store) -> Result<IdMaps> {
    if store.rootless {
        IdMaps::for_current_user()
    } else {
        Ok(IdMaps::identity())
    }
}

/// Half-open intervals of ids, sorted and apart.
type Ids = Vec<(u64, u64)>;

fn normalize(mut v: Ids) -> Ids {
    v.retain(|(a, b)| a < b);
    v.sort();
    let mut out: Ids = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn subtract(from: &Ids, take: &Ids) -> Ids {
    let mut out = Vec::new();
    for &(mut a, b) in from {
        for &(c, d) in take {
            if d <= a || c >= b {
                continue;
            }
            if c > a {
                out.push((a, c));
            }
            a = a.max(d);
        }
        if a < b {
            out.push((a, b));
        }
    }
    normalize(out)
}

fn count(ids: &Ids) -> u64 {
    ids.iter().map(|(a, b)| b - a).sum()
}

fn host_ids(ranges: &[IdRange]) -> Ids {
    normalize(
        ranges
            .iter()
            .map(|r| (r.host_id as u64, r.host_id as u64 + r.size as u64))
            .collect(),
    )
}

/// The ids auto namespaces may use: root, the configured user's
/// subordinate ranges (host ids); rootless, the intermediate ids of the
/// caller's own ranges (1..).
fn available(store: &Store, base: &IdMaps, file: &str) -> Result<Ids> {
    if store.rootless {
        let total: u64 = match file {
            "subuid" => &base.uids,
            _ => &base.gids,
        }
        .iter()
        .map(|m| m.size as u64)
        .sum();
        if total <= 1 {
            bail!("--userns=auto needs subordinate ids in /etc/{file}: there are none for you");
        }
        return Ok(vec![(1, total)]);
    }
    let user = settings().user;
    let path = format!("/etc/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let ranges = super::userns::subordinate_ranges(&text, Some(&user), u32::MAX);
    if ranges.is_empty() {
        bail!("--userns=auto: no subordinate ids for {user:?} in {path} (storage.conf's root-auto-userns-user names the user whose ranges auto namespaces take)");
    }
    Ok(normalize(
        ranges
            .into_iter()
            .map(|(start, n)| (start as u64, start as u64 + n as u64))
            .collect(),
    ))
}

/// The ids the store's containers map already (host side, in the
/// caller's ids): explicit and auto maps, and rootless keep-id's all.
fn used(store: &Store) -> Result<(Ids, Ids)> {
    let (mut uids, mut gids) = (Vec::new(), Vec::new());
    for id in store.containers.ids()? {
        let Ok(cfg) = store.containers.load_config(&id) else {
            continue;
        };
        if let Some(m) = &cfg.launch.id_mappings {
            uids.extend(host_ids(&m.uids));
            gids.extend(host_ids(&m.gids));
        } else if store.rootless && matches!(cfg.userns, UsernsMode::KeepId { .. }) {
            uids.push((0, u32::MAX as u64));
            gids.push((0, u32::MAX as u64));
        }
    }
    Ok((normalize(uids), normalize(gids)))
}

/// Choose the maps of `plan`: call with the store lock held, and record
/// them in the same hold.
pub fn allocate(store: &Store, plan: &Plan) -> Result<IdMappings> {
    let base = base_maps(store)?;
    let (used_u, used_g) = used(store)?;
    let one = |forced: &[IdRange], used: &Ids, file: &str, kind: &str| -> Result<Vec<IdRange>> {
        let pool = available(store, &base, file)?;
        let mut taken = used.clone();
        taken.extend(host_ids(forced));
        let free = subtract(&pool, &normalize(taken));
        let containers = normalize(
            forced
                .iter()
                .map(|r| (r.container_id as u64, r.container_id as u64 + r.size as u64))
                .collect(),
        );
        let wanted = subtract(&vec![(0, plan.size as u64)], &containers);
        let need = count(&wanted);
        if count(&free) < need {
            let whose = if store.rootless {
                "your ranges".to_string()
            } else {
                format!("the ranges of {:?}", settings().user)
            };
            bail!(
                "--userns=auto: not enough free subordinate {kind}s for a user namespace of {} ids: {} are free in {whose} in /etc/{file}",
                plan.size,
                count(&free),
            );
        }
        let mut out = zip(&wanted, &free);
        out.extend_from_slice(forced);
        out.sort_by_key(|r| r.container_id);
        if out.len() > 340 {
            bail!("--userns=auto: the free {kind}s are in too many pieces ({}): the kernel takes at most 340", out.len());
        }
        Ok(out)
    };
    Ok(IdMappings {
        uids: one(&plan.uids, &used_u, "subuid", "uid")?,
        gids: one(&plan.gids, &used_g, "subgid", "gid")?,
    })
}

/// The container ids of `wanted`, in order, to the first free ids, in
/// order (`[lo, hi)` spans on both sides; as many as the free ids cover).
pub(crate) fn zip(wanted: &[(u64, u64)], free: &[(u64, u64)]) -> Vec<IdRange> {
    let mut out = Vec::new();
    let mut hosts = free.iter().copied();
    let mut host = hosts.next();
    for &(mut c, end) in wanted {
        while c < end {
            let Some((h, h_end)) = host else { return out };
            let len = (end - c).min(h_end - h);
            out.push(IdRange {
                container_id: c as u32,
                host_id: h as u32,
                size: len as u32,
            });
            c += len;
            host = if h + len < h_end {
                Some((h + len, h_end))
            } else {
                hosts.next()
            };
        }
    }
    out
}

/// The ids an image needs: one more than the highest owner of a file of
/// its layers (in the caller's ids) or id of its /etc/passwd and
/// /etc/group (nobody, nogroup and 65534 left out, as podman).
fn image_ids(store: &Store, layers: &[Digest], base: &IdMaps) -> u32 {
    let mut top = 0u64;
    let back = |id: u32, maps: &[IdMapping]| -> Option<u32> {
        if !store.rootless {
            return Some(id);
        }
        through(maps, id, 1, false).and_then(|p| p.first().map(|p| p.host_id))
    };
    for layer in layers {
        let dir = store.layers.diff_dir(layer);
        walk(&dir, &mut |m: &std::fs::Metadata| {
            for id in [back(m.uid(), &base.uids), back(m.gid(), &base.gids)]
                .into_iter()
                .flatten()
            {
                top = top.max(id as u64 + 1);
            }
        });
    }
    for (file, fields) in [("etc/passwd", &[2usize, 3][..]), ("etc/group", &[2][..])] {
        let Some(text) = layers
            .iter()
            .rev()
            .find_map(|l| std::fs::read_to_string(store.layers.diff_dir(l).join(file)).ok())
        else {
            continue;
        };
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if matches!(f.first(), Some(&("nobody" | "nogroup"))) {
                continue;
            }
            for &i in fields {
                if let Some(id) = f.get(i).and_then(|v| v.trim().parse::<u32>().ok()) {
                    if id != 65534 {
                        top = top.max(id as u64 + 1);
                    }
                }
            }
        }
    }
    top.min(u32::MAX as u64) as u32
}

/// Every entry below `dir` (not following links); what cannot be read is
/// skipped (a best effort, as podman's).
fn walk(dir: &Path, f: &mut dyn FnMut(&std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        f(&m);
        if m.is_dir() {
            walk(&e.path(), f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_skip_what_is_used_and_forced() {
        let free = subtract(&vec![(100, 200), (300, 400)], &vec![(90, 110), (150, 160)]);
        assert_eq!(free, vec![(110, 150), (160, 200), (300, 400)]);
        let wanted = subtract(&vec![(0, 100)], &vec![(0, 1)]);
        let got: Vec<String> = zip(&wanted, &free).iter().map(|r| r.text()).collect();
        assert_eq!(got, ["1:110:40", "41:160:40", "81:300:19"]);
    }
}
