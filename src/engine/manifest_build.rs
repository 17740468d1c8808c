//! `build --platform A,B --manifest LIST`: one build per platform, each
//! result added to the list. A RUN step for a platform this machine cannot
//! execute needs a user-mode emulator registered with binfmt_misc; without
//! one that platform is left out with a clear error, the others are built.

use super::build::{build, BuildRequest};
use super::manifest::{self, Create};
use crate::build::builder::BuildPlatform;
use crate::build::containerfile::Instruction;
use crate::registry::manifest::{host_platform, Platform};
use crate::registry::resolve::try_find_image;
use crate::storage::images::ImageRecord;
use crate::storage::manifest_lists;
use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::path::Path;

/// One platform's build.
pub struct PlatformBuild {
    /// None: this machine's platform.
    pub platform: Option<Platform>,
    pub request: BuildRequest,
}

/// Build each platform in turn; with `list`, add each image to that
/// manifest list (made when missing). Fails, after building the others,
/// naming the platforms that could not be built.
pub fn build_platforms(
    store: &Store,
    builds: Vec<PlatformBuild>,
    list: Option<&str>,
) -> Result<Vec<ImageRecord>> {
    if let Some(name) = list {
        let images = store.images.load()?;
        if let Some(rec) = try_find_image(&images, name)? {
            if !manifest_lists::is_list(rec) {
                bail!("{name}: image is not a manifest list");
            }
        }
    }
    let mut built = Vec::new();
    let mut failed = Vec::new();
    for PlatformBuild {
        platform,
        mut request,
    } in builds
    {
        if let Some(p) = &platform {
            if has_run(&request) && !can_execute(p) {
                failed.push(format!(
                    "{p}: RUN instructions need an emulator for {} and none is registered with binfmt_misc (install qemu-user-binfmt or build without RUN steps)",
                    p.architecture
                ));
                continue;
            }
            request.options.platform = Some(BuildPlatform {
                os: p.os.clone(),
                architecture: p.architecture.clone(),
                variant: p.variant.clone(),
            });
        }
        let img = build(store, request)?;
        if let Some(name) = list {
            manifest::create(
                store,
                &Create {
                    list: name.to_string(),
                    images: vec![img.id.clone()],
                    amend: true,
                    ..Default::default()
                },
            )?;
        }
        built.push(img);
    }
    match failed.len() {
        0 => Ok(built),
        1 => bail!("building for {}", failed[0]),
        _ => bail!("building for {}", failed.join("; ")),
    }
}

fn has_run(r: &BuildRequest) -> bool {
    r.file.stages.iter().any(|s| {
        s.instructions
            .iter()
            .any(|i| matches!(i.instruction, Instruction::Run(_)))
    })
}

/// Can this machine run programs of platform `p`: natively, or through a
/// qemu-user handler registered with binfmt_misc?
fn can_execute(p: &Platform) -> bool {
    let host = host_platform();
    if p.os != host.os {
        return false;
    }
    if p.architecture == host.architecture
        || (host.architecture == "amd64" && p.architecture == "386")
    {
        return true;
    }
    let qemu = match p.architecture.as_str() {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "386" => "i386",
        "arm" => "arm",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64le" => "mips64el",
        "loong64" => "loongarch64",
        other => other,
    };
    handler_enabled(Path::new("/proc/sys/fs/binfmt_misc"), qemu)
}

fn handler_enabled(dir: &Path, qemu_arch: &str) -> bool {
    let enabled =
        |f: &Path| std::fs::read_to_string(f).is_ok_and(|s| s.lines().next() == Some("enabled"));
    enabled(&dir.join("status")) && enabled(&dir.join(format!("qemu-{qemu_arch}")))
}
