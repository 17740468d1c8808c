//! Quadlet: systemd unit files that describe containers (`.container`,
//! `.volume`, `.image`, `.build`), turned into `.service` units that run
//! coracle, as podman's Quadlet generator does. Text in, text out: nothing
//! here touches the store; the engine (engine/quadlet.rs) calls it, and
//! the binary runs it as a systemd generator.

mod container;
mod convert;
mod dirs;
mod keys;
mod kube;
mod oneshot;
mod pod;
mod unit;
mod words;

pub use convert::service_name;
pub use convert::{Ctx, UnitInfo};
pub use dirs::Searcher;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
pub use unit::UnitFile;

/// One generated service: its file name, its text, and the symlinks
/// (relative to the output directory) its `[Install]` asks for.
#[derive(Debug, Clone)]
pub struct Generated {
    pub filename: String,
    pub text: String,
    pub symlinks: Vec<String>,
}

/// What a generator run produced, and the files it could not convert
/// (each message names the file).
#[derive(Debug, Default)]
pub struct Outcome {
    pub units: Vec<Generated>,
    pub errors: Vec<String>,
}

/// Whether a file name is a Quadlet unit (of any of podman's types).
pub fn is_unit_name(name: &str) -> bool {
    let k = convert::kind(name);
    name.len() > k.len() + 1
        && (convert::KINDS.contains(&k) || convert::NOT_YET.iter().any(|(n, _)| *n == k))
}

/// Every unit file in `dirs`, an earlier directory's hiding a later one's
/// of the same name, with the drop-ins of each merged in.
pub fn load(dirs: &[PathBuf], out: &mut Outcome) -> Vec<UnitFile> {
    let mut seen = std::collections::BTreeSet::new();
    let mut units = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| is_unit_name(n))
            .collect();
        names.sort();
        for name in names {
            if !seen.insert(name.clone()) {
                continue;
            }
            match UnitFile::read(&dir.join(&name)) {
                Ok(u) => units.push(u),
                Err(e) => out
                    .errors
                    .push(format!("error loading {:?}: {e}", dir.join(&name))),
            }
        }
    }
    for u in units.iter_mut() {
        merge_dropins(u, dirs, out);
    }
    units
}

/// The drop-in directories of a unit, most specific first:
/// `web@a.container.d`, `web@.container.d`, `web-.container.d` (for
/// `web-x`), `container.d`.
fn dropin_dirs(u: &UnitFile) -> Vec<String> {
    let ext = format!("{}.d", convert::kind(&u.filename));
    let (template, instance) = u.template_parts();
    let mut v = vec![ext.clone()];
    let parts: Vec<&str> = template.split('-').collect();
    for i in 1..parts.len() {
        let prefix = format!("{}-", parts[..i].join("-"));
        v.push(format!("{prefix}.{ext}"));
        if instance.is_some() {
            v.push(format!("{prefix}@.{ext}"));
        }
    }
    if instance.as_deref().is_some_and(|i| !i.is_empty()) {
        v.push(format!("{template}@.{ext}"));
    }
    v.push(format!("{}.d", u.filename));
    v.reverse();
    v
}

/// `*.conf` drop-ins merged in name order; of two of the same name, the
/// more specific directory's (then the earlier search directory's) wins.
fn merge_dropins(u: &mut UnitFile, dirs: &[PathBuf], out: &mut Outcome) {
    let mut chosen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for d in dropin_dirs(u) {
        for base in dirs {
            let Ok(rd) = std::fs::read_dir(base.join(&d)) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".conf") {
                    chosen.entry(name).or_insert_with(|| e.path());
                }
            }
        }
    }
    for path in chosen.values() {
        match UnitFile::read(path) {
            Ok(d) => u.merge(&d),
            Err(e) => out.errors.push(format!("error loading {path:?}: {e}")),
        }
    }
}

/// Convert every unit: the services (in the order podman converts types),
/// and one message per file that could not be, naming it.
pub fn generate(units: &[UnitFile], exe: &str, user: bool, out: &mut Outcome) {
    let infos: BTreeMap<String, UnitInfo> = units
        .iter()
        .map(|u| {
            let info = UnitInfo {
                service: convert::service_name(u),
                resource: convert::resource_name(u),
                pod_members: pod::members(u, units),
            };
            (u.filename.clone(), info)
        })
        .collect();
    let ctx = Ctx {
        exe,
        user,
        infos: &infos,
    };
    let mut ordered: Vec<&UnitFile> = units.iter().collect();
    let rank = |u: &UnitFile| {
        let k = convert::kind(&u.filename);
        convert::KINDS
            .iter()
            .position(|x| *x == k)
            .unwrap_or(usize::MAX)
    };
    ordered.sort_by_key(|u| rank(u));
    for u in ordered {
        let k = convert::kind(&u.filename);
        if let Some((_, why)) = convert::NOT_YET.iter().find(|(n, _)| *n == k) {
            out.errors.push(format!(
                "converting {:?}: .{k} units are not supported yet ({why})",
                u.filename
            ));
            continue;
        }
        let converted = match k {
            "container" => container::container(u, &ctx),
            "volume" => oneshot::volume(u, &ctx),
            "network" => oneshot::network(u, &ctx),
            "pod" => pod::pod(u, &ctx),
            "image" => oneshot::image(u, &ctx),
            "kube" => kube::kube(u, &ctx),
            _ => oneshot::build(u, &ctx),
        };
        match converted {
            Ok(s) => out.units.push(Generated {
                symlinks: install_symlinks(&s),
                text: s.render(),
                filename: s.filename,
            }),
            Err(e) => out.errors.push(format!("converting {:?}: {e}", u.filename)),
        }
    }
}

/// What `systemctl enable` would link, which it cannot do for generated
/// units: `Alias=`, and `TARGET.wants/NAME` for `WantedBy=` (`requires`,
/// `upholds` likewise). A template without `DefaultInstance=` is linked
/// only through its instances.
fn install_symlinks(s: &UnitFile) -> Vec<String> {
    let mut links: Vec<String> = s.lookup_all_strv("Install", "Alias");
    let (template, instance) = s.template_parts();
    let name = match instance.as_deref() {
        Some("") => s
            .lookup_set("Install", "DefaultInstance")
            .map(|i| format!("{template}@{i}.service")),
        _ => Some(s.filename.clone()),
    };
    if let Some(name) = name {
        for (key, dir) in [
            ("WantedBy", "wants"),
            ("RequiredBy", "requires"),
            ("UpheldBy", "upholds"),
        ] {
            for target in s.lookup_all_strv("Install", key) {
                if !target.contains('/') {
                    links.push(format!("{target}.{dir}/{name}"));
                }
            }
        }
    }
    links
}

/// Write the services into a generator's output directory, with their
/// install symlinks.
pub fn write(out_dir: &Path, units: &[Generated], generated_by: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(out_dir)?;
    for g in units {
        let text = format!("# Automatically generated by {generated_by}\n#\n{}", g.text);
        std::fs::write(out_dir.join(&g.filename), text)?;
        for link in &g.symlinks {
            let path = out_dir.join(link);
            let depth = Path::new(link).components().count() - 1;
            let target = format!("{}{}", "../".repeat(depth), g.filename);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let _ = std::fs::remove_file(&path);
            std::os::unix::fs::symlink(target, &path)?;
        }
    }
    Ok(())
}
