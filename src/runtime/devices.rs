//! What `--device`, `--sysctl` and `--personality` put in the spec, and
//! how the container's first process applies them. As root a device is a
//! new node (mknod) in the container's /dev; rootless, where mknod is not
//! allowed, the host's node is bind-mounted, as podman does.

use super::sys;
use crate::storage::tuning::ProcessTuning;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    LinuxBuilder, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceType, LinuxPersonalityBuilder,
    LinuxPersonalityDomain, Mount, MountBuilder, Spec,
};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

fn linux_device(host: &str, ctr: &str) -> Result<LinuxDevice> {
    let meta = std::fs::metadata(host).with_context(|| format!("device {host}"))?;
    let typ = if meta.file_type().is_block_device() {
        LinuxDeviceType::B
    } else if meta.file_type().is_char_device() {
        LinuxDeviceType::C
    } else {
        bail!("{host} is not a device");
    };
    let rdev = meta.rdev();
    Ok(LinuxDeviceBuilder::default()
        .path(ctr)
        .typ(typ)
        .major(libc::major(rdev) as i64)
        .minor(libc::minor(rdev) as i64)
        .file_mode(meta.mode() & 0o7777)
        .uid(meta.uid())
        .gid(meta.gid())
        .build()?)
}

/// The devices (as root), sysctls and personality in the spec's `linux`.
pub fn add_to_spec(
    mut linux: LinuxBuilder,
    tuning: &ProcessTuning,
    rootless: bool,
) -> Result<LinuxBuilder> {
    if !rootless && !tuning.devices.is_empty() {
        let devices = tuning
            .devices
            .iter()
            .map(|d| linux_device(&d.host_path, &d.container_path))
            .collect::<Result<Vec<_>>>()?;
        linux = linux.devices(devices);
    }
    if !tuning.sysctls.is_empty() {
        linux = linux.sysctl(
            tuning
                .sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    if !tuning.personality.is_empty() {
        let domain = match tuning.personality.as_str() {
            "LINUX32" => LinuxPersonalityDomain::PerLinux32,
            _ => LinuxPersonalityDomain::PerLinux,
        };
        linux = linux.personality(LinuxPersonalityBuilder::default().domain(domain).build()?);
    }
    Ok(linux)
}

/// Rootless: the host's device nodes, bind-mounted.
pub fn bind_mounts(tuning: &ProcessTuning, rootless: bool) -> Result<Vec<Mount>> {
    if !rootless {
        return Ok(Vec::new());
    }
    tuning
        .devices
        .iter()
        .map(|d| {
            Ok(MountBuilder::default()
                .destination(&d.container_path)
                .typ("bind")
                .source(&d.host_path)
                .options(vec![
                    "bind".to_string(),
                    "nosuid".to_string(),
                    "noexec".to_string(),
                ])
                .build()?)
        })
        .collect()
}

/// Make the spec's device nodes under the container's /dev (root only);
/// `in_root` places a container path inside the rootfs (rootfs.rs's
/// secure join, passed in so the two modules stay apart).
pub fn make_nodes(spec: &Spec, in_root: impl Fn(&Path) -> std::path::PathBuf) -> Result<()> {
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for d in devices {
        let path = in_root(d.path());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let _ = std::fs::remove_file(&path);
        let kind = match d.typ() {
            LinuxDeviceType::B => libc::S_IFBLK,
            _ => libc::S_IFCHR,
        };
        let mode = d.file_mode().unwrap_or(0o666);
        let c = sys::cstr(&path)?;
        // SAFETY: a valid path; makedev is pure.
        let made = unsafe {
            libc::mknod(
                c.as_ptr(),
                kind | mode,
                libc::makedev(d.major() as u32, d.minor() as u32),
            )
        };
        if made != 0 {
            bail!("creating device {}: {}", d.path().display(), sys::errno());
        }
        // mknod is subject to the umask: the host node's mode and owner.
        std::os::unix::fs::chown(&path, d.uid(), d.gid())
            .with_context(|| format!("chown {}", d.path().display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Write the spec's sysctls through /proc/sys, from inside the container's
/// namespaces (net.* and the IPC ones are per namespace).
pub fn apply_sysctls(spec: &Spec) -> Result<()> {
    let sysctls = spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().clone())
        .unwrap_or_default();
    for (key, value) in sysctls {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value.as_bytes())
            .with_context(|| format!("setting sysctl {key}={value}"))?;
    }
    Ok(())
}

/// The execution domain `--personality` asked for.
pub fn apply_personality(spec: &Spec) -> Result<()> {
    let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().clone()) else {
        return Ok(());
    };
    // <sys/personality.h>: PER_LINUX and PER_LINUX32.
    let persona: libc::c_ulong = match p.domain() {
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
        LinuxPersonalityDomain::PerLinux => 0x0000,
    };
    // SAFETY: personality takes an integer and changes only this process.
    if unsafe { libc::personality(persona) } == -1 {
        bail!("setting the personality: {}", sys::errno());
    }
    Ok(())
}
