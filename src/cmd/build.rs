//! `build`: flags in, the engine's build, the image id out (last line of
//! stdout).

use super::build_flags::{build_args, ImageEditFlags, RunStepFlags, SbomArgs};
use super::build_sources::SourceFlags;
use super::create_flags::CreateFlags;
use super::output::println;
use super::registry_flags::{platform_from_flags, RegistryFlags, RetryFlags, UnsupportedFlags};
use super::run::image_source;
use super::GlobalOpts;
use crate::engine::build::{self as engine, BuildRequest};
use crate::engine::build_platforms::base_platforms;
use crate::engine::manifest_build::{build_platforms, PlatformBuild};
use crate::engine::types::{
    check_run_mount, parse_platform, parse_secret_flag, BuildOptions, BuildOutput, ImageFormat,
    KeepContainers, Platform, Secrets, Squash, SshAgents, SOURCE_DATE_EPOCH,
};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag for the built image (repeatable)
    #[arg(short, long = "tag", value_name = "NAME")]
    pub tag: Vec<String>,
    /// Containerfile to build (`-` reads it from stdin)
    #[arg(short, long = "file", value_name = "FILE")]
    pub file: Option<String>,
    /// Build up to and including this stage
    #[arg(long)]
    pub target: Option<String>,
    /// ARG values (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg", value_name = "ARG")]
    pub build_arg: Vec<String>,
    /// A file of ARG=VALUE lines (comments and blank lines skipped), read before --build-arg
    #[arg(long = "build-arg-file", value_name = "FILE")]
    pub build_arg_file: Vec<PathBuf>,
    /// Path to an alternate .containerignore file
    #[arg(long, value_name = "FILE")]
    pub ignorefile: Option<PathBuf>,
    /// Do not use cached steps
    #[arg(long)]
    pub no_cache: bool,
    /// Pull the base images: always, missing, never (true = always, false = missing)
    #[arg(long, default_value = "missing", num_args = 0..=1, default_missing_value = "always", require_equals = true)]
    pub pull: String,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image id to this file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Write the image id to this file without the algorithm prefix
    #[arg(long, value_name = "FILE")]
    pub iidfile_raw: Option<PathBuf>,
    /// Add this mount to every RUN step, as if written RUN --mount=SPEC (type=bind, cache, secret or tmpfs; repeatable)
    #[arg(long = "mount", value_name = "SPEC")]
    pub mount: Vec<String>,
    /// Secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VARIABLE (never stored in the image)
    #[arg(long = "secret", value_name = "SECRET")]
    pub secret: Vec<String>,
    /// SSH agent socket or keys for RUN --mount=type=ssh: default, ID, or ID=SOCKET|KEY[,KEY...] (default: $SSH_AUTH_SOCK; repeatable)
    #[arg(long = "ssh", value_name = "default|ID[=SOCKET|KEY]")]
    pub ssh: Vec<String>,
    /// Also write the image's files out: type=local,dest=DIR, type=tar,dest=FILE, or DIR
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: Option<String>,
    /// Skip stages the target stage does not need
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub skip_unused_stages: bool,
    /// Squash the final stage's new layers into one new layer over its base's
    #[arg(long, conflicts_with = "squash_all")]
    pub squash: bool,
    /// Squash all of the image's layers, its base's included, into one layer
    #[arg(long)]
    pub squash_all: bool,
    /// Cache intermediate images (each step's image)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub layers: bool,
    /// Platform to build for (OS/ARCH[/VARIANT]); several, comma separated, build one image each
    #[arg(long)]
    pub platform: Option<String>,
    /// Add the image to this manifest list, creating it if needed
    #[arg(long, value_name = "LIST")]
    pub manifest: Option<String>,
    /// Manifest type of the built image: oci or docker
    #[arg(long, default_value = "oci")]
    pub format: String,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
    #[command(flatten)]
    pub unsupported: UnsupportedFlags,
    /// Confidential workload options (not supported: coracle builds no confidential workload images)
    #[arg(long, value_name = "OPTIONS")]
    pub cw: Option<String>,
    /// Use ARCH instead of the architecture of the machine for the base images
    #[arg(long)]
    pub arch: Option<String>,
    /// Use OS instead of the running OS for the base images
    #[arg(long)]
    pub os: Option<String>,
    /// Use VARIANT instead of the running architecture variant for the base images
    #[arg(long)]
    pub variant: Option<String>,
    /// Use cached step images only when made less than this long ago (a duration such as 1h; 0 is --no-cache)
    #[arg(long, value_name = "DURATION")]
    pub cache_ttl: Option<String>,
    /// Registry repository whose step images (tagged with their cache keys) may stand in for steps to build
    #[arg(long = "cache-from", value_name = "REPOSITORY", value_delimiter = ',')]
    pub cache_from: Vec<String>,
    /// Registry repository to push every step's image to, tagged with its cache key
    #[arg(long = "cache-to", value_name = "REPOSITORY", value_delimiter = ',')]
    pub cache_to: Vec<String>,
    /// Remove the RUN steps' containers after a successful build
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub rm: bool,
    /// Remove the RUN steps' containers even when the build fails
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub force_rm: bool,
    /// Keep each stage's image (coracle always keeps them: they are its build cache); --stage-labels needs it
    #[arg(long)]
    pub save_stages: bool,
    /// Label each stage's images with io.buildah.stage.name and io.buildah.stage.base (needs --save-stages)
    #[arg(long)]
    pub stage_labels: bool,
    /// Accepted for compatibility, as podman does: with no daemon there is nothing to compress data for
    #[arg(long)]
    pub compress: bool,
    /// Write the build's output (stdout and stderr) to this file instead
    #[arg(long, value_name = "FILE")]
    pub logfile: Option<PathBuf>,
    /// With --logfile and --platform: one log file per platform, LOGFILE_OS_ARCH
    #[arg(long, value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub logsplit: bool,
    /// Write the built image's digests and names (JSON) to this file
    #[arg(long, value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// BuildKit source policy (JSON): rules that deny or convert the images FROM and COPY --from name
    #[arg(long, value_name = "FILE")]
    pub source_policy_file: Option<PathBuf>,
    /// Sign the built image (its manifest, simple signing) with the GPG key FINGERPRINT, as its first -t name; the signature is kept with the image and push carries it
    #[arg(long, value_name = "FINGERPRINT")]
    pub sign_by: Option<String>,
    /// Don't compress layers by default: with =false the layers made are stored gzipped, so push sends the image as it is (same manifest digest)
    #[arg(short = 'D', long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_compression: bool,
    /// Undo what RUN steps change under VOLUME paths (only ADD and COPY change them), as docker did
    #[arg(long, value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub compat_volumes: bool,
    /// Build up to N stages that do not need each other at once (0: no limit); stdin is then not read
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Build for every platform all the base images are available for (needs --manifest)
    #[arg(long, conflicts_with_all = ["platform", "arch", "os", "variant"])]
    pub all_platforms: bool,
    #[command(flatten)]
    pub sources: SourceFlags,
    #[command(flatten)]
    pub edits: ImageEditFlags,
    #[command(flatten)]
    pub run: RunStepFlags,
    #[command(flatten)]
    pub sbom: SbomArgs,
    /// The build context directory
    pub context: Option<PathBuf>,
}

/// `--output`: `type=local,dest=DIR`, `type=tar,dest=FILE` or a plain DIR.
fn build_output(s: &str) -> Result<BuildOutput> {
    if !s.contains('=') {
        return Ok(BuildOutput::Local(PathBuf::from(s)));
    }
    let (mut kind, mut dest) = (None, None);
    for part in s.split(',') {
        match part.split_once('=') {
            Some(("type", v)) => kind = Some(v),
            Some(("dest", v)) => dest = Some(PathBuf::from(v)),
            _ => bail!("invalid --output {s:?}: use type=local,dest=DIR or type=tar,dest=FILE"),
        }
    }
    let dest = dest.with_context(|| format!("invalid --output {s:?}: dest= is required"))?;
    if dest.as_os_str() == "-" {
        bail!("invalid --output {s:?}: writing to stdout is not supported, name a file");
    }
    match kind {
        Some("local") | None => Ok(BuildOutput::Local(dest)),
        Some("tar") => Ok(BuildOutput::Tar(dest)),
        Some(other) => bail!("invalid --output type {other:?}: use local or tar"),
    }
}

/// `--cache-from`/`--cache-to` values: repositories, the tag is ours.
fn cache_repos(items: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for r in items {
        let r = r.trim().strip_prefix("docker://").unwrap_or(r.trim());
        let last = r.rsplit('/').next().unwrap_or(r);
        if r.is_empty() || r.contains('@') || last.contains(':') || !r.contains('/') {
            bail!(
                "invalid cache repository {r:?}: use REGISTRY/REPOSITORY, without a tag or digest"
            );
        }
        out.push(r.to_string());
    }
    Ok(out)
}

/// podman's pull policies, with its boolean spellings.
fn pull_policy(s: &str) -> Result<&'static str> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "always" | "true" => "always",
        "missing" | "ifmissing" | "false" => "missing",
        "never" => "never",
        "newer" | "ifnewer" => "newer",
        other => bail!("invalid pull policy {other:?}: use always, missing, never or newer"),
    })
}

/// The Containerfile: `-f` (relative to the current directory, as podman),
/// else Containerfile, else Dockerfile in the context.
fn read_containerfile(file: Option<&str>, context: &Path) -> Result<(String, String)> {
    match file {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the Containerfile from stdin")?;
            Ok((text, "-".into()))
        }
        Some(f) => {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading Containerfile {f}"))?;
            Ok((text, f.to_string()))
        }
        None => {
            for name in ["Containerfile", "Dockerfile"] {
                let p = context.join(name);
                if let Ok(text) = std::fs::read_to_string(&p) {
                    return Ok((text, p.display().to_string()));
                }
            }
            bail!(
                "no Containerfile or Dockerfile specified or found in context directory, {}: no such file or directory",
                context.display()
            )
        }
    }
}

pub fn build(g: &GlobalOpts, mut a: BuildArgs) -> Result<()> {
    a.unsupported.check()?;
    if a.cw.is_some() {
        bail!("--cw: confidential workload images are not supported by coracle");
    }
    a.retry.apply(&mut a.registry)?;
    let platforms: Vec<Option<Platform>> = match a.platform.as_deref() {
        Some(list) if list.contains(',') => {
            if a.os.is_some() || a.arch.is_some() {
                bail!("--platform option can not be specified with --arch or --os");
            }
            list.split(',')
                .map(|p| parse_platform(p.trim()).map(Some))
                .collect::<Result<_>>()?
        }
        _ => vec![platform_from_flags(
            a.platform.as_deref(),
            a.os.as_deref(),
            a.arch.as_deref(),
            a.variant.as_deref(),
        )?],
    };
    let context = a.context.clone().unwrap_or_else(|| PathBuf::from("."));
    let context = std::fs::canonicalize(&context)
        .with_context(|| format!("context directory {}", context.display()))?;
    if !context.is_dir() {
        bail!("context {} is not a directory", context.display());
    }
    let (text, name) = read_containerfile(a.file.as_deref(), &context)?;
    let text = a.sources.preprocess(text, &name)?;
    let mut file = engine::parse_containerfile(&text, &name)?;
    a.sources.apply_from(&mut file)?;
    if a.all_platforms && a.manifest.is_none() {
        bail!(
            "--all-platforms needs --manifest: the list to hold the images built for each platform"
        );
    }
    if a.stage_labels && !a.save_stages {
        bail!("--stage-labels requires --save-stages");
    }
    if a.logsplit && a.logfile.is_none() {
        bail!("--logsplit needs --logfile");
    }
    let cache_ttl = match a.cache_ttl.as_deref() {
        None => None,
        Some(t) => match crate::format::human::parse_go_duration(t)? {
            (true, _) => bail!("invalid --cache-ttl {t:?}: negative"),
            (false, d) => Some(d),
        },
    };
    let format: ImageFormat = a.format.parse()?;
    let mut tags = Vec::new();
    for t in &a.tag {
        tags.push(crate::engine::images::local_name(t)?);
    }
    let mut build_args = build_args(&a.build_arg_file, &a.build_arg)?;
    if let Some(t) = a.edits.source_date_epoch {
        // buildah gives the time to stages that declare the ARG.
        build_args
            .entry(SOURCE_DATE_EPOCH.to_string())
            .or_insert_with(|| t.to_string());
    }
    let run = engine::run_template(&a.run.request()?)?;
    for m in &a.mount {
        check_run_mount(m)?;
    }
    let mut secrets = Secrets::default();
    for s in &a.secret {
        let (id, content) = parse_secret_flag(s)?;
        secrets.0.insert(id, content);
    }
    // Up for the whole build; key-file agents stop when this drops.
    let ssh_agents = SshAgents::start(&a.ssh)?;
    let opts = BuildOptions {
        context,
        tags,
        commit_name: a.tag.first().cloned(),
        target: a.target.clone(),
        build_args,
        no_cache: a.no_cache || !a.layers || cache_ttl.is_some_and(|d| d.is_zero()),
        quiet: a.quiet,
        edits: a.edits.edits(),
        format,
        run,
        ignorefile: a.ignorefile.clone(),
        squash: match (a.squash, a.squash_all) {
            (true, _) => Squash::New,
            (_, true) => Squash::All,
            _ => Squash::No,
        },
        secrets,
        output: a.output.as_deref().map(build_output).transpose()?,
        all_stages: !a.skip_unused_stages,
        platform: None,
        contexts: a.sources.contexts()?,
        keep_containers: KeepContainers {
            after_success: !a.rm,
            after_failure: !a.force_rm,
        },
        cache_ttl,
        stage_labels: a.stage_labels,
        log_file: None,
        cache_from: cache_repos(&a.cache_from)?,
        cache_to: cache_repos(&a.cache_to)?,
        source_policy: a
            .source_policy_file
            .as_deref()
            .map(engine::load_source_policy)
            .transpose()?,
        compat_volumes: a.compat_volumes,
        sbom: a.sbom.flags().options()?,
        jobs: (a.jobs != 1).then_some(a.jobs),
        run_mounts: a.mount.clone(),
        ssh: ssh_agents.sources.clone(),
        compress_layers: !a.disable_compression,
    };
    let pull = pull_policy(&a.pull)?.to_string();
    let flags = |platform: Option<&Platform>| CreateFlags {
        pull: pull.clone(),
        platform: platform.map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        }),
        quiet: a.quiet,
        registry: a.registry.clone(),
        ..Default::default()
    };
    let store = g.open_store()?;
    let platforms: Vec<Option<Platform>> = if a.all_platforms {
        let source = image_source(&flags(None));
        base_platforms(&store, &file, &opts, &source)?
            .into_iter()
            .map(Some)
            .collect()
    } else {
        platforms
    };
    // A missing key fails before anything is built.
    let signer = match &a.sign_by {
        Some(key) => {
            if platforms.len() > 1 {
                bail!("--sign-by cannot be used with more than one --platform: sign the images of the list with manifest push --sign-by");
            }
            let by = crate::engine::signing::SignBy {
                key: key.clone(),
                passphrase_file: None,
            };
            let name = crate::engine::signing::check_build_signer(&by, &opts.tags)?;
            Some((by, name))
        }
        None => None,
    };
    if a.metadata_file.is_some() && platforms.len() > 1 {
        bail!("--metadata-file cannot be used with more than one --platform");
    }
    let log_file = |p: &Option<Platform>| -> Option<PathBuf> {
        let f = a.logfile.as_ref()?;
        match p {
            Some(p) if a.logsplit => {
                let mut s = f.clone().into_os_string();
                s.push(format!("_{}_{}", p.os, p.architecture));
                Some(PathBuf::from(s))
            }
            _ => Some(f.clone()),
        }
    };
    for p in &platforms {
        if let Some(f) = log_file(p) {
            std::fs::write(&f, "").with_context(|| format!("creating log file {}", f.display()))?;
        }
    }
    let builds = platforms
        .into_iter()
        .map(|platform| {
            let flags = flags(platform.as_ref());
            let mut options = opts.clone();
            options.log_file = log_file(&platform);
            PlatformBuild {
                platform,
                request: BuildRequest {
                    file: file.clone(),
                    options,
                    source: image_source(&flags),
                },
            }
        })
        .collect();
    let built = build_platforms(&store, builds, a.manifest.as_deref())?;
    let img = built.last().expect("one build at least");
    if let Some((by, name)) = &signer {
        crate::engine::signing::sign_built(&store, img, name, by)?;
    }
    if let Some(path) = &a.iidfile {
        std::fs::write(path, format!("sha256:{}", img.id))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &a.iidfile_raw {
        std::fs::write(path, &img.id).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &a.metadata_file {
        let meta = engine::metadata(&store, img)?;
        std::fs::write(path, serde_json::to_string_pretty(&meta)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    match &a.logfile {
        // The id is output too: it goes where the rest went.
        Some(f) if !a.logsplit => {
            use std::io::Write;
            let mut log = std::fs::OpenOptions::new().append(true).open(f)?;
            writeln!(log, "{}", img.id)?;
            Ok(())
        }
        _ => println(&img.id),
    }
}
