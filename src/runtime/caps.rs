//! Linux capabilities: names, podman's default set, and applying a set to
//! the current process right before exec.

use anyhow::{bail, Result};

pub const ALL: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// podman's default capabilities (containers.conf `default_capabilities`).
pub const DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name the same capability.
pub fn normalize(name: &str) -> Result<String> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if !ALL.contains(&full.as_str()) {
        bail!("unknown capability {name:?}");
    }
    Ok(full)
}

pub fn number(name: &str) -> Option<u32> {
    ALL.iter().position(|c| *c == name).map(|i| i as u32)
}

/// The capability set after `--privileged`, `--cap-add` and `--cap-drop`.
pub fn effective_set(privileged: bool, add: &[String], drop: &[String]) -> Result<Vec<String>> {
    let mut set: Vec<String> = if privileged {
        ALL.iter().map(|s| s.to_string()).collect()
    } else {
        match &crate::config::get()
            .containers
            .containers
            .default_capabilities
        {
            // containers.conf may spell them without `CAP_`.
            Some(list) => list.iter().map(|c| normalize(c)).collect::<Result<_>>()?,
            None => DEFAULT.iter().map(|s| s.to_string()).collect(),
        }
    };
    let drop = drop
        .iter()
        .map(|d| normalize(d))
        .collect::<Result<Vec<_>>>()?;
    let add = add
        .iter()
        .map(|a| normalize(a))
        .collect::<Result<Vec<_>>>()?;
    if drop.iter().any(|d| d == "ALL") {
        set.clear();
    } else {
        set.retain(|c| !drop.contains(c));
    }
    for a in add {
        if a == "ALL" {
            set = ALL.iter().map(|s| s.to_string()).collect();
        } else if !set.contains(&a) {
            set.push(a);
        }
    }
    Ok(set)
}

/// The highest capability this kernel knows (bounding-set drops above it fail).
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Drop every capability not in `keep` from the bounding set (needs
/// CAP_SETPCAP, so before switching user).
pub fn drop_bounding(keep: &[String]) -> Result<()> {
    let keep_nums: Vec<u32> = keep.iter().filter_map(|c| number(c)).collect();
    for cap in 0..=last_cap() {
        if keep_nums.contains(&cap) {
            continue;
        }
        // SAFETY: prctl with integer arguments.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINVAL) {
                bail!("dropping capability {cap} from the bounding set: {err}");
            }
        }
    }
    // SAFETY: clearing the ambient set takes no pointers.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    Ok(())
}

/// Make `keep` the effective and permitted sets (root in the
/// container). A non-root user already lost them all when its uid changed.
pub fn set_process_caps(keep: &[String]) -> Result<()> {
    let header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    // What we hold now bounds what we may keep (`--privileged` asks for
    // all, but a host may withhold some, e.g. CAP_SYS_RESOURCE).
    let mut held = [CapData::default(); 2];
    // SAFETY: capget fills the two-element array.
    unsafe {
        libc::syscall(
            libc::SYS_capget,
            &header as *const CapHeader,
            held.as_mut_ptr(),
        )
    };
    let mut data = [CapData::default(); 2];
    for cap in keep.iter().filter_map(|c| number(c)) {
        let (word, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
        if held[word].permitted & bit != 0 {
            data[word].permitted |= bit;
            data[word].effective |= bit;
        }
    }
    // SAFETY: header and a two-element data array as capset(2) expects.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if rc != 0 {
        bail!("setting capabilities: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_drop() {
        let s = effective_set(false, &["net_admin".into()], &["chown".into()]).unwrap();
        assert!(s.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!s.contains(&"CAP_CHOWN".to_string()));
        assert!(effective_set(false, &[], &["all".into()])
            .unwrap()
            .is_empty());
        assert!(effective_set(false, &["bogus".into()], &[]).is_err());
        assert_eq!(effective_set(true, &[], &[]).unwrap().len(), ALL.len());
    }
}
