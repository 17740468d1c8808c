//! `--uidmap`, `--gidmap`, `--subuidname`, `--subgidname`: podman's
//! grammar (`[flags]container_id:host_id[:amount]`, flags `+` extend, `u`
//! or `g` one kind only, `@` a host id rootless) to the container's own
//! user namespace maps, in the caller's ids (rootless: intermediate ids).

use crate::runtime::idmap::through;
use crate::runtime::userns::{IdMapping, IdMaps};
use crate::storage::launch::{IdMappings, IdRange};
use crate::storage::modes::UsernsMode;
use anyhow::{bail, Context, Result};

/// The flags as given.
#[derive(Debug, Clone, Default)]
pub struct IdMapRequest {
    pub uidmap: Vec<String>,
    pub gidmap: Vec<String>,
    pub subuidname: Option<String>,
    pub subgidname: Option<String>,
}

impl IdMapRequest {
    pub fn is_empty(&self) -> bool {
        self.uidmap.is_empty()
            && self.gidmap.is_empty()
            && self.subuidname.is_none()
            && self.subgidname.is_none()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Uid,
    Gid,
}

#[derive(Clone, Copy)]
struct Entry {
    extend: bool,
    only: Option<Kind>,
    container: u32,
    host: u32,
    /// `@`: a host id, not an intermediate one.
    real_host: bool,
    size: u32,
}

/// The maps of a user namespace mode and the flags: `--userns nomap`'s
/// (rootless only, as podman), else `resolve`'s.
pub fn for_mode(r: &IdMapRequest, userns: &UsernsMode, in_pod: bool) -> Result<Option<IdMappings>> {
    let maps = resolve(r, userns, in_pod)?;
    if *userns != UsernsMode::NoMap {
        return Ok(maps);
    }
    if !crate::runtime::userns::is_rootless() {
        bail!("nomap is only supported in rootless mode");
    }
    // The subordinate ranges alone: intermediate ids 1.. as 0.., the
    // caller's own id (intermediate 0) left out.
    let base = IdMaps::for_current_user()?;
    let shift = |maps: &[IdMapping]| -> Vec<IdRange> {
        maps.iter()
            .filter(|m| m.container_id != 0)
            .map(|m| IdRange {
                container_id: m.container_id - 1,
                host_id: m.container_id,
                size: m.size,
            })
            .collect()
    };
    let (uids, gids) = (shift(&base.uids), shift(&base.gids));
    if uids.is_empty() || gids.is_empty() {
        bail!("--userns=nomap needs subordinate ids in /etc/subuid and /etc/subgid");
    }
    Ok(Some(IdMappings { uids, gids }))
}

/// The maps the flags ask for, checked; `None` when none was given.
pub fn resolve(r: &IdMapRequest, userns: &UsernsMode, in_pod: bool) -> Result<Option<IdMappings>> {
    if r.is_empty() {
        return Ok(None);
    }
    if *userns != UsernsMode::Default {
        bail!("--userns and --uidmap/--gidmap/--subuidname/--subgidname cannot be used together");
    }
    if in_pod {
        bail!("--uidmap/--gidmap/--subuidname/--subgidname cannot be set on a container in a pod: give them to `pod create`");
    }
    if r.subuidname.is_some() && !r.uidmap.is_empty() {
        bail!("--subuidname and --uidmap cannot be used together");
    }
    if r.subgidname.is_some() && !r.gidmap.is_empty() {
        bail!("--subgidname and --gidmap cannot be used together");
    }
    let rootless = crate::runtime::userns::is_rootless();
    let base = if rootless {
        IdMaps::for_current_user()?
    } else {
        IdMaps::identity()
    };
    let parse = |list: &[String], flag: &str| -> Result<Vec<Entry>> {
        list.iter().map(|s| parse_entry(flag, s)).collect()
    };
    let (uidmap, gidmap) = (parse(&r.uidmap, "uidmap")?, parse(&r.gidmap, "gidmap")?);
    let sub_u = sub_entries(
        r.subuidname.as_deref().or(r.subgidname.as_deref()),
        "subuid",
    )?;
    let sub_g = sub_entries(
        r.subgidname.as_deref().or(r.subuidname.as_deref()),
        "subgid",
    )?;
    // An entry goes to its own flag's kind, or only to the one `u`/`g`
    // names; one of the flags alone serves both kinds.
    let pick = |kind: Kind, own: &[Entry], other: &[Entry], other_given: bool| -> Vec<Entry> {
        let mut out: Vec<Entry> = own
            .iter()
            .filter(|e| e.only.is_none_or(|k| k == kind))
            .copied()
            .collect();
        out.extend(other.iter().filter(|e| e.only == Some(kind)));
        if !other_given {
            out.extend(other.iter().filter(|e| e.only.is_none()));
        }
        out
    };
    let uids = match sub_u {
        Some(sub) if uidmap.is_empty() && gidmap.iter().all(|e| e.only != Some(Kind::Uid)) => sub,
        _ => pick(
            Kind::Uid,
            &uidmap,
            &gidmap,
            !uidmap.is_empty() || r.subuidname.is_some(),
        ),
    };
    let gids = match sub_g {
        Some(sub) if gidmap.is_empty() && uidmap.iter().all(|e| e.only != Some(Kind::Gid)) => sub,
        _ => pick(
            Kind::Gid,
            &gidmap,
            &uidmap,
            !gidmap.is_empty() || r.subgidname.is_some(),
        ),
    };
    Ok(Some(IdMappings {
        uids: build(&uids, &base.uids, rootless, "uid")?,
        gids: build(&gids, &base.gids, rootless, "gid")?,
    }))
}

fn parse_entry(flag: &str, s: &str) -> Result<Entry> {
    let bad = || format!("invalid --{flag} {s:?}: use [flags]container_id:host_id[:amount]");
    let mut rest = s;
    let (mut extend, mut only) = (false, None);
    loop {
        match rest.chars().next() {
            Some('+') => extend = true,
            Some('u') => only = Some(Kind::Uid),
            Some('g') => only = Some(Kind::Gid),
            _ => break,
        }
        rest = &rest[1..];
    }
    let parts: Vec<&str> = rest.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        bail!(bad());
    }
    let num = |t: &str| t.parse::<u32>().ok();
    let (host_text, real_host) = match parts[1].strip_prefix('@') {
        Some(h) => (h, true),
        None => (parts[1], false),
    };
    let (Some(container), Some(host)) = (num(parts[0]), num(host_text)) else {
        bail!(bad());
    };
    let size = match parts.get(2) {
        Some(t) => num(t).with_context(bad)?,
        None => 1,
    };
    if size == 0 {
        bail!("invalid --{flag} {s:?}: the amount must be at least 1");
    }
    if container as u64 + size as u64 > u32::MAX as u64
        || host as u64 + size as u64 > u32::MAX as u64
    {
        bail!("invalid --{flag} {s:?}: the range goes past the largest id");
    }
    Ok(Entry {
        extend,
        only,
        container,
        host,
        real_host,
        size,
    })
}

/// `--subuidname NAME`: NAME's ranges of /etc/subuid (or subgid), one
/// after another from container id 0, as host ids.
fn sub_entries(name: Option<&str>, file: &str) -> Result<Option<Vec<Entry>>> {
    let Some(name) = name else { return Ok(None) };
    let path = format!("/etc/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let ranges = crate::runtime::userns::subordinate_ranges(&text, Some(name), u32::MAX);
    if ranges.is_empty() {
        bail!("no subordinate ids for {name:?} in {path}");
    }
    let mut next = 0u32;
    let mut out = Vec::new();
    for (start, count) in ranges {
        out.push(Entry {
            extend: false,
            only: None,
            container: next,
            host: start,
            real_host: true,
            size: count,
        });
        next = next.saturating_add(count);
    }
    Ok(Some(out))
}

/// One kind's entries in order to checked ranges of the caller's ids.
fn build(
    entries: &[Entry],
    base: &[IdMapping],
    rootless: bool,
    kind: &str,
) -> Result<Vec<IdRange>> {
    if entries.is_empty() {
        bail!("the id maps give no {kind} mapping: add one (or drop the `u`/`g` flag)");
    }
    let mut out: Vec<IdRange> = Vec::new();
    for e in entries {
        let pieces = match (e.real_host, rootless) {
            (true, true) => through(base, e.host, e.size, false)
                .with_context(|| {
                    format!(
                        "host {kind} {} (amount {}) is not among your subordinate ids (/etc/sub{kind})",
                        e.host, e.size
                    )
                })?
                .into_iter()
                .map(|p| IdRange {
                    container_id: e.container + (p.container_id - e.host),
                    host_id: p.host_id,
                    size: p.size,
                })
                .collect(),
            _ => vec![IdRange {
                container_id: e.container,
                host_id: e.host,
                size: e.size,
            }],
        };
        for p in pieces {
            if e.extend {
                out = out.iter().flat_map(|r| without(r, &p)).collect();
            }
            out.push(p);
        }
    }
    let total: u64 = base.iter().map(|m| m.size as u64).sum();
    if rootless && entries[0].extend {
        fill_gaps(&mut out, total);
    }
    out.sort_by_key(|r| r.container_id);
    check(&out, rootless, total, kind)?;
    Ok(out)
}

/// `r` less every id that `p` maps, on either side.
fn without(r: &IdRange, p: &IdRange) -> Vec<IdRange> {
    // Offsets into r to drop: two intervals, one per side.
    let cut = |start: u32, other: u32| -> (u64, u64) {
        let lo = (other as u64).saturating_sub(start as u64);
        let hi = (other as u64 + p.size as u64).saturating_sub(start as u64);
        (lo.min(r.size as u64), hi.min(r.size as u64))
    };
    let mut cuts = [
        cut(r.container_id, p.container_id),
        cut(r.host_id, p.host_id),
    ];
    cuts.sort();
    let mut out = Vec::new();
    let mut at = 0u64;
    for (lo, hi) in cuts {
        if lo > at {
            out.push(IdRange {
                container_id: r.container_id + at as u32,
                host_id: r.host_id + at as u32,
                size: (lo - at) as u32,
            });
        }
        at = at.max(hi);
    }
    if at < r.size as u64 {
        out.push(IdRange {
            container_id: r.container_id + at as u32,
            host_id: r.host_id + at as u32,
            size: (r.size as u64 - at) as u32,
        });
    }
    out
}

/// Rootless `+` maps: the container ids left free, from 0, get the
/// intermediate ids left free, in order, as podman fills them.
fn fill_gaps(out: &mut Vec<IdRange>, total: u64) {
    let free = |taken: Vec<(u64, u64)>, limit: u64| -> Vec<(u64, u64)> {
        let mut taken = taken;
        taken.sort();
        let mut gaps = Vec::new();
        let mut at = 0;
        for (lo, hi) in taken {
            if lo > at {
                gaps.push((at, lo.min(limit)));
            }
            at = at.max(hi);
        }
        if at < limit {
            gaps.push((at, limit));
        }
        gaps.retain(|(lo, hi)| lo < hi);
        gaps
    };
    let span = |start: u32, size: u32| (start as u64, start as u64 + size as u64);
    let hosts = free(out.iter().map(|r| span(r.host_id, r.size)).collect(), total);
    let containers = free(
        out.iter().map(|r| span(r.container_id, r.size)).collect(),
        u32::MAX as u64,
    );
    out.extend(crate::runtime::auto_userns::zip(&containers, &hosts));
}

/// No id twice on either side; rootless, nothing beyond the intermediate
/// namespace; no more lines than the kernel takes.
fn check(ranges: &[IdRange], rootless: bool, total: u64, kind: &str) -> Result<()> {
    if ranges.len() > 340 {
        bail!(
            "too many {kind} ranges ({}): the kernel takes at most 340",
            ranges.len()
        );
    }
    let overlap = |key: fn(&IdRange) -> u32, side: &str| -> Result<()> {
        let mut sorted: Vec<&IdRange> = ranges.iter().collect();
        sorted.sort_by_key(|r| key(r));
        for w in sorted.windows(2) {
            if key(w[0]) as u64 + w[0].size as u64 > key(w[1]) as u64 {
                bail!(
                    "the {kind} maps {} and {} overlap on the {side} side",
                    w[0].text(),
                    w[1].text()
                );
            }
        }
        Ok(())
    };
    overlap(|r| r.container_id, "container")?;
    overlap(|r| r.host_id, "host")?;
    if rootless {
        if let Some(r) = ranges
            .iter()
            .find(|r| r.host_id as u64 + r.size as u64 > total)
        {
            bail!(
                "the {kind} map {} goes beyond your user namespace's {total} ids (intermediate ids 0-{}: you and your /etc/sub{kind} ranges)",
                r.text(),
                total.saturating_sub(1)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(r: &[IdRange]) -> Vec<String> {
        r.iter().map(|r| r.text()).collect()
    }

    fn entries(list: &[&str]) -> Vec<Entry> {
        list.iter()
            .map(|s| parse_entry("uidmap", s).unwrap())
            .collect()
    }

    #[test]
    fn extend_breaks_earlier_ranges() {
        let got = build(&entries(&["0:0:65000", "+100000:1:1"]), &[], false, "uid").unwrap();
        assert_eq!(texts(&got), ["0:0:1", "2:2:64998", "100000:1:1"]);
    }

    #[test]
    fn rootless_extend_fills_the_gaps() {
        let base = [
            IdMapping {
                container_id: 0,
                host_id: 1000,
                size: 1,
            },
            IdMapping {
                container_id: 1,
                host_id: 100000,
                size: 9,
            },
        ];
        let got = build(&entries(&["+100:3:1"]), &base, true, "uid").unwrap();
        assert_eq!(texts(&got), ["0:0:3", "3:4:6", "100:3:1"]);
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", "0", "a:0:1", "0:0:0", "0:0:1:2", "4294967295:0:2"] {
            assert!(parse_entry("uidmap", bad).is_err(), "{bad}");
        }
        assert!(build(&entries(&["0:0:10", "5:100:10"]), &[], false, "uid").is_err());
        assert!(build(&entries(&["0:0:10", "20:5:10"]), &[], false, "uid").is_err());
    }
}
