//! The project checked as a whole: every network, volume, secret and
//! service a service names exists, the implicit `default` network, and
//! dependencies without a circle (in the order services start).

use super::model::{Dependency, MountType, Network, Project, ServiceNetwork};
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};

/// Complete and check a loaded project.
pub fn finish(p: &mut Project) -> Result<()> {
    let names: BTreeSet<String> = p.services.keys().cloned().collect();
    let mut uses_default = false;
    for (name, s) in p.services.iter_mut() {
        if let Some(mode) = &s.network_mode {
            if let Some(other) = mode.strip_prefix("service:") {
                if !names.contains(other) {
                    bail!("service {name:?} uses the network of undefined service {other:?}");
                }
                s.depends_on.entry(other.to_string()).or_insert(Dependency {
                    condition: "service_started".into(),
                    required: true,
                    restart: false,
                });
            }
        } else if s.networks.is_empty() {
            s.networks
                .insert("default".into(), ServiceNetwork::default());
        }
        uses_default |= s.networks.contains_key("default");
        for n in s.networks.keys() {
            if n != "default" && !p.networks.contains_key(n) {
                bail!("service {name:?} refers to undefined network {n}: invalid compose project");
            }
        }
        for m in &s.volumes {
            if let (MountType::Volume, Some(v)) = (&m.kind, &m.source) {
                if !p.volumes.contains_key(v) {
                    bail!(
                        "service {name:?} refers to undefined volume {v}: invalid compose project"
                    );
                }
            }
        }
        for (kind, mounts, sources) in [
            ("secret", &s.secrets, &p.secrets),
            ("config", &s.configs, &p.configs),
        ] {
            for f in mounts {
                let Some(src) = sources.get(&f.source) else {
                    bail!(
                        "service {name:?} refers to undefined {kind} {}: invalid compose project",
                        f.source
                    );
                };
                if src.file.is_some() && (f.uid.is_some() || f.gid.is_some() || f.mode.is_some()) {
                    crate::warn!("service {name:?}: {kind} {}: uid, gid and mode do not apply to a file bound from the host", f.source);
                }
            }
        }
        let mut missing = Vec::new();
        for (d, dep) in &s.depends_on {
            if !names.contains(d) {
                if dep.required {
                    bail!("service {name:?} depends on undefined service {d:?}: invalid compose project");
                }
                missing.push(d.clone());
            }
        }
        for d in missing {
            s.depends_on.remove(&d);
        }
    }
    if uses_default && !p.networks.contains_key("default") {
        p.networks.insert(
            "default".into(),
            Network {
                name: format!("{}_default", p.name),
                ..Default::default()
            },
        );
    }
    start_order(p, &[], true)?;
    Ok(())
}

/// The services to act on, dependencies first: `names` (all when empty)
/// and, with `with_deps`, what they depend on.
pub fn start_order(p: &Project, names: &[String], with_deps: bool) -> Result<Vec<String>> {
    for n in names {
        if !p.services.contains_key(n) {
            bail!("no such service: {n}");
        }
    }
    let wanted: Vec<String> = match names.is_empty() {
        true => p.services.keys().cloned().collect(),
        false => names.to_vec(),
    };
    let mut order = Vec::new();
    let mut state: BTreeMap<String, bool> = BTreeMap::new(); // false: visiting
    fn visit(
        p: &Project,
        n: &str,
        deps: Option<&[String]>,
        state: &mut BTreeMap<String, bool>,
        order: &mut Vec<String>,
        path: &mut Vec<String>,
    ) -> Result<()> {
        match state.get(n) {
            Some(true) => return Ok(()),
            Some(false) => bail!("dependency cycle: {} -> {n}", path.join(" -> ")),
            None => {}
        }
        state.insert(n.to_string(), false);
        path.push(n.to_string());
        if let Some(s) = p.services.get(n) {
            for d in s.depends_on.keys() {
                if p.services.contains_key(d) && deps.is_none_or(|w| w.contains(d)) {
                    visit(p, d, deps, state, order, path)?;
                }
            }
        }
        path.pop();
        state.insert(n.to_string(), true);
        order.push(n.to_string());
        Ok(())
    }
    let only = (!with_deps).then_some(wanted.as_slice());
    for n in &wanted {
        visit(p, n, only, &mut state, &mut order, &mut Vec::new())?;
    }
    Ok(order)
}
