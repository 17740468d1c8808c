//! containers.conf's `[containers]` and `[engine]` defaults applied to a
//! request: each only where the caller left the setting open (a flag
//! always wins). The image's env comes between (create.rs).

use super::ContainerRequest;
use crate::storage::modes::UsernsMode;
use anyhow::{Context, Result};

pub fn apply(req: &mut ContainerRequest) -> Result<()> {
    let conf = &crate::config::get().containers;
    let c = &conf.containers;
    if let Some(limits) = &c.default_ulimits {
        // A --ulimit of the same resource replaces the default.
        let named = |u: &str| u.split('=').next().unwrap_or_default().to_string();
        let given: Vec<String> = req.ulimit.iter().map(|u| named(u)).collect();
        let mut all: Vec<String> = limits
            .iter()
            .filter(|u| !given.contains(&named(u)))
            .cloned()
            .collect();
        all.append(&mut req.ulimit);
        req.ulimit = all;
    }
    // A pod member's DNS is its pod's.
    if req.pod.is_none() {
        if req.dns.is_empty() {
            req.dns = c.dns_servers.clone().unwrap_or_default();
        }
        if req.dns_search.is_empty() {
            req.dns_search = c.dns_searches.clone().unwrap_or_default();
        }
        if req.dns_option.is_empty() {
            req.dns_option = c.dns_options.clone().unwrap_or_default();
        }
    }
    req.read_only |= c.read_only.unwrap_or(false);
    req.init |= c.init.unwrap_or(false);
    if let Some(vols) = &c.volumes {
        let mut all = vols.clone();
        all.append(&mut req.volume);
        req.volume = all;
    }
    // As podman: the configured mode is for containers with no maps of
    // their own and no pod (whose user namespace members take).
    let in_pod = req.pod.as_deref().is_some_and(|p| !p.is_empty());
    if req.userns == UsernsMode::Default && req.id_maps.is_empty() && !in_pod {
        if let Some(u) = c.userns.as_deref().filter(|u| !u.is_empty()) {
            req.userns = u.parse().context("containers.conf userns")?;
        }
    }
    // As podman: a profile file that does not exist means the default one.
    let profile = c
        .seccomp_profile
        .as_deref()
        .filter(|p| std::path::Path::new(p).is_file());
    if let Some(profile) = profile {
        let given = req
            .security_opt
            .iter()
            .any(|o| o.starts_with("seccomp=") || o.starts_with("seccomp:"));
        if !given {
            req.security_opt.push(format!("seccomp={profile}"));
        }
    }
    if req.stop_timeout.is_none() {
        req.stop_timeout = conf.engine.stop_timeout;
    }
    Ok(())
}
