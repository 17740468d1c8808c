//! `build`: a Containerfile's text and the build options to an image, its
//! base images found (or pulled) as the pull policy says, and the event.

use super::types::{BuildOptions, Containerfile, ImageRecord};

use super::create::{self, CreateLimits, ImageSource};
use super::types::{ContainerConfig, NamespaceMode, NetworkMode};
use crate::build::source_policy::{SourcePolicy, Verdict, IMAGE_SCHEME};
use crate::build::sources::named_images;
use crate::build::{builder, containerfile};
use crate::storage::events::{self, Event};
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::cell::RefCell;

/// A Containerfile read and checked, before anything else is done.
pub fn parse_containerfile(text: &str, name: &str) -> Result<Containerfile> {
    containerfile::parse(text, name).map_err(|e| anyhow::anyhow!("{e}"))
}

pub use crate::build::named_context::parse as parse_build_context;

/// `build --from`: the first stage's image replaced (its `AS` and
/// `--platform` kept), and the text its STEP line shows.
pub fn replace_first_from(file: &mut Containerfile, image: &str) {
    if let Some(stage) = file.stages.first_mut() {
        stage.from.image = image.to_string();
        let mut text = String::from("FROM ");
        if let Some(p) = &stage.from.platform {
            text.push_str(&format!("--platform={p} "));
        }
        text.push_str(image);
        if let Some(a) = &stage.from.alias {
            text.push_str(&format!(" AS {a}"));
        }
        stage.text = text;
    }
}

/// What to build.
pub struct BuildRequest {
    /// The parsed Containerfile (`parse_containerfile`)
    pub file: Containerfile,
    pub options: BuildOptions,
    /// How base images are found: pulled as the policy says. A bad
    /// registry option is reported only when a base image is looked up.
    pub source: ImageSource,
}

/// Build the image and record the `build` event.
pub fn build(store: &Store, req: BuildRequest) -> Result<ImageRecord> {
    vet_sources(&req)?;
    let policy = req.source.policy;
    let repos = super::build_cache::Repos {
        store,
        from: &req.options.cache_from,
        to: &req.options.cache_to,
        options: req.source.options.as_ref().ok().cloned(),
    };
    let fetch = |key: &str| repos.fetch(key);
    let put = |img: &ImageRecord, key: &str| repos.put(img, key);
    let remote = repos.remote(&fetch, &put);
    let options = RefCell::new(req.source.options.map_err(Some));
    let source_policy = req.options.source_policy.clone();
    let resolve = |name: &str| {
        let converted = match &source_policy {
            Some(p) => apply_source_policy(p, name)?,
            None => None,
        };
        let name = converted.as_deref().unwrap_or(name);
        if let Ok(opts) = &*options.borrow() {
            return super::images::ensure_image(store, name, &policy, opts);
        }
        let e = options.borrow_mut().as_mut().err().and_then(Option::take);
        Err(e.unwrap_or_else(|| anyhow::anyhow!("invalid registry options")))
    };
    let img = builder::build(store, &req.file, &req.options, &resolve, remote)?;
    let name = req.options.tags.first().unwrap_or(&img.id);
    events::append(store, Event::image("build", &img.id, name));
    Ok(img)
}

/// The container settings every RUN step gets (`build --network`,
/// `--volume`, capabilities, limits, DNS...), in podman's flag syntax.
#[derive(Debug, Default, Clone)]
pub struct RunRequest {
    /// `None`: a private namespace with only `lo`, as before.
    pub network: Option<NetworkMode>,
    pub volume: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub ulimit: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub add_host: Vec<String>,
    pub ipc: Option<NamespaceMode>,
    pub pid: Option<NamespaceMode>,
    pub uts: Option<NamespaceMode>,
    pub limits: CreateLimits,
    /// `--device`, `--shm-size`, `--group-add`, `--no-hostname`,
    /// `--http-proxy`, `--cgroupns`, as `run` takes them.
    pub tuning: create::TuningRequest,
    pub no_hosts: bool,
    /// `--stdin`: the RUN steps read ours.
    pub stdin: bool,
    /// `--isolation`: oci (the default), rootless; chroot is refused.
    pub isolation: Option<String>,
    /// `--userns`: container (or private, ""), host.
    pub userns: Option<String>,
    /// `--userns-uid-map`, `--userns-gid-map` (container:host:size,
    /// comma separated), `--userns-uid-map-user`, `--userns-gid-map-group`.
    pub id_maps: create::idmap::IdMapRequest,
}

/// The RUN steps' container template, every value checked as `run`
/// checks it, before any step runs.
pub fn run_template(r: &RunRequest) -> Result<ContainerConfig> {
    let mut mounts = Vec::new();
    for v in &r.volume {
        mounts.push(create::parse_volume(v)?);
    }
    for u in &r.ulimit {
        crate::runtime::spec::parse_ulimit(u)?;
    }
    crate::runtime::caps::effective_set(false, &r.cap_add, &r.cap_drop)?;
    create::check_security_opts(&r.security_opt)?;
    if r.no_hosts && !r.add_host.is_empty() {
        bail!("--no-hosts and --add-host cannot be set together");
    }
    // buildah's rootless isolation: no network or UTS namespace of its own.
    let rootless_isolation = match r.isolation.as_deref() {
        None | Some("") | Some("oci") | Some("default") => false,
        Some("rootless") => true,
        Some("chroot") => bail!(
            "--isolation chroot is not supported by coracle: RUN steps always run in a container (use oci or rootless)"
        ),
        Some(other) => bail!("unrecognized isolation type {other:?}"),
    };
    let network = match &r.network {
        None if rootless_isolation => NetworkMode::Host,
        None => NetworkMode::Private,
        Some(NetworkMode::Container(_)) => bail!("--network container: is not supported by build"),
        Some(mode) => create::network_mode(Some(mode))?,
    };
    let namespace = |what: &str, m: &Option<NamespaceMode>| -> Result<NamespaceMode> {
        match m {
            Some(NamespaceMode::Container(_)) => {
                bail!("--{what} container: is not supported by build")
            }
            Some(m) => Ok(m.clone()),
            None if what == "uts" && rootless_isolation => Ok(NamespaceMode::Host),
            None => Ok(NamespaceMode::default()),
        }
    };
    let ipc = namespace("ipc", &r.ipc)?;
    let tuning = create::process_tuning(
        &r.tuning,
        &create::TuningNamespaces {
            network: &network,
            ipc: &ipc,
        },
    )?;
    let (resources, cgroups) = r.limits.resources(crate::runtime::userns::is_rootless())?;
    let id_mappings = run_id_mappings(r)?;
    Ok(ContainerConfig {
        mounts,
        cap_add: r.cap_add.clone(),
        cap_drop: r.cap_drop.clone(),
        security_opt: r.security_opt.clone(),
        ulimits: r.ulimit.clone(),
        network,
        dns: r.dns.clone(),
        dns_search: r.dns_search.clone(),
        dns_options: r.dns_option.clone(),
        add_hosts: r.add_host.clone(),
        ipc,
        pid: namespace("pid", &r.pid)?,
        uts: namespace("uts", &r.uts)?,
        resources,
        cgroup_parent: r.limits.cgroup_parent.clone().unwrap_or_default(),
        cgroups,
        tuning,
        no_hosts: r.no_hosts,
        stdin: r.stdin,
        // The host's proxy variables (`--http-proxy`, default true).
        env: create::base_env(&r.tuning, &[]),
        launch: crate::storage::launch::LaunchSettings {
            id_mappings,
            ..Default::default()
        },
        // `build --runtime`: the RUN steps go through that runtime
        oci_runtime: create::configured_oci_runtime(),
        ..Default::default()
    })
}

/// The RUN steps' own user namespace maps, if any: the `--userns-*`
/// maps, or as root with `--userns=container` and none, the whole id
/// range mapped to itself (rootless, the steps always have their own).
fn run_id_mappings(r: &RunRequest) -> Result<Option<crate::storage::launch::IdMappings>> {
    use crate::storage::launch::{IdMappings, IdRange};
    let host = match r.userns.as_deref() {
        None => None,
        Some("" | "container" | "private") => Some(false),
        Some("host") => Some(true),
        Some(other) => bail!(
            "invalid --userns {other:?}: use container or host (a user namespace path is not supported by coracle)"
        ),
    };
    if host == Some(true) && !r.id_maps.is_empty() {
        bail!("can not specify ID mappings while using host's user namespace");
    }
    for (flag, list) in [
        ("--userns-uid-map", &r.id_maps.uidmap),
        ("--userns-gid-map", &r.id_maps.gidmap),
    ] {
        for m in list {
            let fields: Vec<&str> = m.split(':').collect();
            if fields.len() != 3 || fields.iter().any(|f| f.parse::<u32>().is_err()) {
                bail!(
                    "invalid {flag} {m:?}: use container-id:host-id:size triples, comma separated"
                );
            }
        }
    }
    let maps = create::idmap::resolve(&r.id_maps, &Default::default(), false)?;
    if maps.is_none() && host == Some(false) && !crate::runtime::userns::is_rootless() {
        let all = vec![IdRange {
            container_id: 0,
            host_id: 0,
            size: u32::MAX,
        }];
        return Ok(Some(IdMappings {
            uids: all.clone(),
            gids: all,
        }));
    }
    Ok(maps)
}

/// The identifiers a source policy knows an image name by: BuildKit's
/// first (`docker-image://docker.io/library/alpine:latest`), then for a
/// name written without tag or digest buildah's (no `:latest`). None for
/// what no registry could hold (an image id).
fn policy_ids(name: &str) -> Vec<String> {
    use crate::registry::reference::Reference;
    let name = name.strip_prefix(IMAGE_SCHEME).unwrap_or(name);
    let Ok(r) = Reference::parse(name) else {
        return Vec::new();
    };
    let mut ids = vec![format!("{IMAGE_SCHEME}{r}")];
    let last = name.rsplit('/').next().unwrap_or(name);
    if !name.contains('@') && !last.contains(':') {
        ids.push(format!("{IMAGE_SCHEME}{}", r.repo_name()));
    }
    ids
}

/// `--source-policy-file`'s verdict on an image name: the name to use
/// instead (None: this one), or an error when the policy denies it.
pub fn apply_source_policy(p: &SourcePolicy, name: &str) -> Result<Option<String>> {
    let ids = policy_ids(name);
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(match p.evaluate(ids, &policy_ids)? {
        Verdict::Keep => None,
        Verdict::Convert(to) => Some(to.strip_prefix(IMAGE_SCHEME).unwrap_or(&to).to_string()),
    })
}

/// Every image the build will name, vetted by the source policy before
/// anything is made: a denied one anywhere fails the build now.
fn vet_sources(req: &BuildRequest) -> Result<()> {
    let Some(p) = &req.options.source_policy else {
        return Ok(());
    };
    for img in named_images(&req.file, req.options.selection())? {
        apply_source_policy(p, &img.name).with_context(|| img.text.clone())?;
    }
    Ok(())
}

/// `--source-policy-file`, read and checked.
pub fn load_source_policy(path: &std::path::Path) -> Result<SourcePolicy> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("loading source policy file {}: {e}", path.display()))?;
    SourcePolicy::parse(&text, &path.display().to_string())
}

/// What `--metadata-file` holds, as buildah writes it.
pub fn metadata(store: &Store, img: &ImageRecord) -> Result<serde_json::Value> {
    let manifest = store.blobs.read(&img.manifest_digest)?;
    Ok(serde_json::json!({
        "containerimage.config.digest": img.config_digest().to_string(),
        "containerimage.descriptor": {
            "mediaType": img.manifest_media_type,
            "digest": img.manifest_digest.to_string(),
            "size": manifest.len(),
        },
        "containerimage.digest": img.manifest_digest.to_string(),
        "image.name": img.names.join(","),
    }))
}

/// A `*.in` Containerfile through cpp(1), as buildah: `#include` relative
/// to its directory, `BUILDAH_CPPFLAGS` then `--cpp-flag`s.
pub fn preprocess(text: &str, dir: &std::path::Path, flags: &[String]) -> Result<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let env_flags = std::env::var("BUILDAH_CPPFLAGS").unwrap_or_default();
    let mut child = Command::new("cpp")
        .args(["-E", "-P", "-traditional", "-undef", "-iquote"])
        .arg(dir)
        .args(env_flags.split_whitespace())
        .args(flags)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("running cpp for a Containerfile.in: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output()?;
    let _ = writer.join();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "preprocessing the Containerfile with cpp: {}",
            err.lines().next().unwrap_or("failed").trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
