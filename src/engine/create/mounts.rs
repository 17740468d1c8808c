//! `-v`, `--mount`, `--tmpfs`, `--volumes-from` and the image's VOLUMEs:
//! flags to the container's mount records, checked as podman checks them.

use crate::storage::containers::MountKind;
use crate::storage::containers::{ContainerConfig, MountSpec};
use crate::storage::image_config::ImageConfig;
use crate::storage::store::Store;
use crate::storage::volumes;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

/// Options `-v` accepts after the second colon.
fn check_volume_options(opts: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" | "rw" | "z" | "Z" | "U" | "nosuid" | "suid" | "nodev" | "dev" | "noexec"
            | "exec" | "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
            | "bind" | "rbind" | "copy" | "nocopy" => out.push(o.to_string()),
            "O" | "idmap" => bail!("the {o:?} volume option is not supported"),
            other => bail!("invalid option type {other:?}"),
        }
    }
    let rw: Vec<&str> = out
        .iter()
        .map(String::as_str)
        .filter(|o| *o == "ro" || *o == "rw")
        .collect();
    if rw.len() > 1 {
        bail!(
            "invalid options {:?}, can only specify 1 'rw' or 'ro' option",
            rw.join(", ")
        );
    }
    Ok(out)
}

fn check_destination(dst: &str) -> Result<()> {
    if !dst.starts_with('/') {
        bail!("invalid container path {dst:?}, must be an absolute path");
    }
    Ok(())
}

fn check_volume_name(name: &str) -> Result<()> {
    volumes::check_name(name).with_context(|| format!("creating named volume {name:?}"))
}

fn bind_source(src: &str) -> Result<String> {
    let path = std::fs::canonicalize(src).with_context(|| format!("statfs {src}"))?;
    Ok(path.to_string_lossy().into_owned())
}

/// `-v [SRC:]DST[:OPTS]`: a host path (absolute or `./`) binds it, a name
/// is a named volume, no source an anonymous volume.
pub fn parse_volume(v: &str) -> Result<MountSpec> {
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        [src, dst] => (*src, *dst, ""),
        [src, dst, opts] => (*src, *dst, *opts),
        _ => bail!("invalid volume specification {v:?}: expected [SRC:]DST[:OPTIONS]"),
    };
    check_destination(dst)?;
    let options = check_volume_options(opts)?;
    let (kind, source) = if src.is_empty() {
        (MountKind::Volume, String::new())
    } else if src.starts_with('/') || src.starts_with('.') {
        (MountKind::Bind, bind_source(src)?)
    } else {
        check_volume_name(src)?;
        (MountKind::Volume, src.to_string())
    };
    Ok(MountSpec {
        kind,
        source,
        destination: dst.to_string(),
        options,
        ..Default::default()
    })
}

/// A `--mount` boolean: `ro`, `ro=true`, `readonly=false`...
fn mount_bool(k: &str, v: Option<&str>) -> Result<bool> {
    match v {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => bail!("invalid value {other:?} for {k}: must be true or false"),
    }
}

/// `--mount type=bind|volume|tmpfs,src=..,dst=..,OPTIONS`.
pub fn parse_mount(m: &str) -> Result<MountSpec> {
    let mut kind = String::new();
    let mut spec = MountSpec::default();
    let mut volume_opts: Vec<String> = Vec::new();
    for field in m.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let value = || {
            v.filter(|v| !v.is_empty())
                .map(str::to_string)
                .with_context(|| format!("{k}: option requires a value: invalid mount option"))
        };
        match k {
            "type" => kind = value()?,
            "source" | "src" => spec.source = value()?,
            "target" | "destination" | "dst" => spec.destination = value()?,
            "ro" | "readonly" => {
                if mount_bool(k, v)? {
                    spec.options.push("ro".into());
                }
            }
            "rw" | "readwrite" => {
                if !mount_bool(k, v)? {
                    spec.options.push("ro".into());
                }
            }
            "U" | "chown" => {
                if mount_bool(k, v)? {
                    spec.options.push("U".into());
                }
            }
            "nosuid" | "suid" | "nodev" | "dev" | "noexec" | "exec" | "z" | "Z" => {
                spec.options.push(k.to_string())
            }
            "bind-propagation" => spec.options.push(value()?),
            "tmpfs-size" => spec.options.push(format!("size={}", value()?)),
            "tmpfs-mode" => spec.options.push(format!("mode={}", value()?)),
            "volume-opt" => volume_opts.push(value()?),
            "volume-nocopy" | "nocopy" => {
                if mount_bool(k, v)? {
                    spec.options.push("nocopy".into());
                }
            }
            "relabel" | "consistency" | "bind-nonrecursive" | "tmpcopyup" | "notmpcopyup" => {}
            other => bail!("{other}: invalid mount option"),
        }
    }
    if kind.is_empty() {
        bail!("invalid mount {m:?}: type must be given (bind, volume or tmpfs)");
    }
    if spec.destination.is_empty() {
        bail!("invalid mount {m:?}: target must be given");
    }
    check_destination(&spec.destination)?;
    match kind.as_str() {
        "bind" => {
            if spec.source.is_empty() {
                bail!("invalid mount {m:?}: a bind mount needs a source");
            }
            spec.source = bind_source(&spec.source)?;
            spec.kind = MountKind::Bind;
        }
        "volume" => {
            if !spec.source.is_empty() {
                check_volume_name(&spec.source)?;
            }
            spec.volume_options = volumes::parse_options(&volume_opts)?;
            spec.kind = MountKind::Volume;
        }
        "tmpfs" => {
            spec.kind = MountKind::Tmpfs;
            spec.source = "tmpfs".into();
            spec.options.retain(|o| o != "U" && o != "nocopy");
            if !spec.options.iter().any(|o| o.starts_with("size=")) {
                spec.options.push("size=65536k".into());
            }
        }
        other => bail!("invalid filesystem type {other:?}"),
    }
    if kind != "volume" && !volume_opts.is_empty() {
        bail!("volume-opt: invalid mount option for a {kind} mount");
    }
    Ok(spec)
}

/// `--tmpfs DST[:OPTS]`.
pub fn parse_tmpfs(t: &str) -> Result<MountSpec> {
    let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
    if !dst.starts_with('/') {
        bail!("invalid tmpfs {t:?}: the path must be absolute");
    }
    let mut options: Vec<String> = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    if !options.iter().any(|o| o.starts_with("size=")) {
        options.push("size=65536k".into());
    }
    Ok(MountSpec {
        kind: MountKind::Tmpfs,
        source: "tmpfs".into(),
        destination: dst.to_string(),
        options,
        ..Default::default()
    })
}

fn taken(cfg: &ContainerConfig, dest: &str) -> bool {
    let norm = |d: &str| d.trim_end_matches('/').to_string();
    cfg.mounts
        .iter()
        .chain(cfg.tmpfs.iter())
        .any(|m| norm(&m.destination) == norm(dest))
}

/// `--volumes-from CTR[:ro|rw]`: the other container's binds and volumes at
/// the same places, unless this container mounts something there itself.
pub fn add_volumes_from(store: &Store, cfg: &mut ContainerConfig, from: &[String]) -> Result<()> {
    for item in from {
        let (name, opts) = item.split_once(':').unwrap_or((item.as_str(), ""));
        let mut mode = None;
        for o in opts.split(',').filter(|o| !o.is_empty()) {
            match o {
                "ro" | "rw" if mode.is_none() => mode = Some(o),
                "ro" | "rw" => bail!("cannot set ro or rw options more than once"),
                "z" | "Z" => {}
                other => {
                    bail!("invalid option {other:?} for --volumes-from {item:?}: use ro, rw or z")
                }
            }
        }
        let id = crate::engine::lookup::container_id(store, name)
            .with_context(|| format!("looking up container {name:?} for volumes-from"))?;
        let other = store.containers.load_config(&id)?;
        for m in other.mounts {
            if !matches!(m.kind, MountKind::Bind | MountKind::Volume) || taken(cfg, &m.destination)
            {
                continue;
            }
            let mut m = MountSpec {
                volume_options: BTreeMap::new(),
                ..m
            };
            if let Some(mode) = mode {
                m.options.retain(|o| o != "ro" && o != "rw");
                if mode == "ro" {
                    m.options.push("ro".into());
                }
            }
            // The first container's copy-up and chown were its own.
            m.options.retain(|o| o != "U");
            cfg.mounts.push(m);
        }
    }
    Ok(())
}

/// The image's VOLUMEs the flags leave uncovered, as podman's
/// `--image-volume`: anonymous volumes (`bind`, the default), tmpfs, or
/// nothing (`ignore`).
pub fn add_image_volumes(cfg: &mut ContainerConfig, img: &ImageConfig, how: &str) -> Result<()> {
    if !matches!(how, "bind" | "tmpfs" | "ignore") {
        bail!("invalid image volume type {how:?}: must be bind, tmpfs or ignore");
    }
    let paths: Vec<String> = img
        .config
        .volumes
        .as_ref()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    if how == "ignore" {
        return Ok(());
    }
    for p in paths {
        if !p.starts_with('/') || taken(cfg, &p) {
            continue;
        }
        if how == "tmpfs" {
            cfg.tmpfs.push(parse_tmpfs(&p)?);
        } else {
            cfg.mounts.push(MountSpec {
                kind: MountKind::Volume,
                destination: p,
                ..Default::default()
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags() {
        let m = parse_volume("data:/var/lib/app:ro,U").unwrap();
        assert_eq!((m.kind.as_str(), m.source.as_str()), ("volume", "data"));
        assert_eq!(m.options, ["ro", "U"]);
        let m = parse_volume("/anon").unwrap();
        assert_eq!((m.kind.as_str(), m.source.as_str()), ("volume", ""));
        let m = parse_volume("/:/host:ro").unwrap();
        assert_eq!((m.kind.as_str(), m.source.as_str()), ("bind", "/"));
        let e = |v: &str| format!("{:#}", parse_volume(v).unwrap_err());
        assert!(e("data:rel").contains("must be an absolute path"));
        assert!(e("/anon:ro").contains("\"ro\", must be an absolute path"));
        assert!(e("bad/name:/x").contains("names must match"));
        assert!(e("data:/x:bogus").contains("invalid option type \"bogus\""));
        assert!(e("data:/x:ro,rw").contains("can only specify 1 'rw' or 'ro' option"));
    }

    #[test]
    fn mount_flags() {
        let m = parse_mount(
            "type=volume,src=x,dst=/x,ro,volume-opt=type=tmpfs,volume-opt=device=tmpfs",
        )
        .unwrap();
        assert_eq!((m.kind.as_str(), m.source.as_str()), ("volume", "x"));
        assert_eq!(m.options, ["ro"]);
        assert_eq!(
            m.volume_options.get("type").map(String::as_str),
            Some("tmpfs")
        );
        let m = parse_mount("type=volume,target=/y,readonly=false,chown=true").unwrap();
        assert_eq!(m.source, "");
        assert_eq!(m.options, ["U"]);
        let e = |v: &str| format!("{:#}", parse_mount(v).unwrap_err());
        assert!(e("type=volume,src=x,dst=/m,bogus=1").contains("bogus: invalid mount option"));
        assert!(e("type=foo,dst=/m").contains("invalid filesystem type \"foo\""));
        assert!(e("type=volume,dst=/m,volume-opt=foo=bar").contains("invalid mount option foo"));
        assert!(e("type=volume,src=a/b,dst=/m").contains("names must match"));
        assert!(e("type=volume,src=x").contains("target"));
    }
}
