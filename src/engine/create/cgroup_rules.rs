//! The cgroup settings of `run`/`create` that are no plain limit:
//! `--device-cgroup-rule`, `--cgroup-conf` and `--rdt-class`, checked as
//! podman checks them before anything is made.

use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Where the kernel's resctrl file system (Intel RDT) is mounted.
pub const RESCTRL: &str = "/sys/fs/resctrl";

/// `TYPE MAJOR:MINOR ACCESS` as the devices cgroup takes it: type a, b
/// or c; numbers or `*`; access a set of r, w and m.
pub fn device_rule(rule: &str) -> Result<String> {
    let bad = || {
        anyhow::anyhow!(
            "invalid device cgroup rule requires type, major:Minor, and access rules: {rule:?}"
        )
    };
    let parts: Vec<&str> = rule.split(' ').collect();
    let [kind, numbers, access] = parts[..] else {
        return Err(bad());
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| n == "*" || (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let access_ok = !access.is_empty()
        && access.len() <= 3
        && access.bytes().all(|b| b"rwm".contains(&b))
        && (1..access.len()).all(|i| !access[..i].contains(&access[i..i + 1]));
    if !matches!(kind, "a" | "b" | "c") || !number(major) || !number(minor) || !access_ok {
        return Err(bad());
    }
    Ok(rule.to_string())
}

/// `KEY=VALUE` pairs: KEY a file of the container's cgroup directory.
pub fn cgroup_conf(items: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        let Some((key, value)) = item.split_once('=') else {
            bail!("--cgroup-conf {item:?}: must be formatted KEY=VALUE");
        };
        if key.is_empty() || key.contains('/') || key.starts_with('.') || key.starts_with("cgroup.")
        {
            bail!("--cgroup-conf {item:?}: {key:?} is not a controller file of the container's cgroup");
        }
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

/// A class of service that exists under the resctrl mount.
pub fn rdt_class(class: &str) -> Result<String> {
    if class.is_empty() || class.contains('/') || class.starts_with('.') {
        bail!("--rdt-class {class:?}: not a class of service name");
    }
    let root = Path::new(RESCTRL);
    if !root.join("tasks").exists() {
        bail!("--rdt-class {class}: Intel RDT is not available: the resctrl file system is not mounted at {RESCTRL}");
    }
    if !root.join(class).join("tasks").exists() {
        bail!("--rdt-class {class}: there is no class of service {class:?} in {RESCTRL} (create it first)");
    }
    Ok(class.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_rules_as_the_kernel_spells_them() {
        assert!(device_rule("c 1:3 rwm").is_ok());
        assert!(device_rule("b *:* r").is_ok());
        assert!(device_rule("a 7:* mw").is_ok());
        for bad in [
            "c 1:3", "x 1:3 r", "c 1-3 r", "c 1:3 rx", "c 1:3 rr", "c a:3 r", "",
        ] {
            assert!(device_rule(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cgroup_conf_takes_file_names_only() {
        let m = cgroup_conf(&["memory.high=1073741824".into()]).unwrap();
        assert_eq!(m["memory.high"], "1073741824");
        assert!(cgroup_conf(&["memory.high".into()]).is_err());
        assert!(cgroup_conf(&["../x=1".into()]).is_err());
        assert!(cgroup_conf(&["cgroup.procs=1".into()]).is_err());
    }
}
