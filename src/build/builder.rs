//! The builder: a parsed Containerfile to an image, step by step, podman's
//! way. Every step makes an (untagged) image: metadata instructions a new
//! config with an `empty_layer` history entry, RUN a container whose upper
//! dir becomes a layer, COPY/ADD a layer written directly. Each step's image
//! is remembered in the build cache under a key of everything that decides
//! its content, so an unchanged step costs a lookup.
//!
//! Rootless, the build process itself stays outside the user namespace (the
//! RUN containers' monitors must write their id maps from outside); only the
//! file work on layers (committing an upper dir, writing a COPY layer) runs
//! in a short-lived child inside it.

use super::cache::{self, BuildCache};
use super::containerfile::{
    self, BaseRef, Command, Containerfile, Healthcheck, Instruction, Program, Source,
    MAX_SCOPE_BYTES,
};
use super::context::ContextRoot;
use super::copy::{self, Attrs, CopyPlan, ImageView, Item};
use super::ignore::Matcher;
use super::image_edits::{ImageEdits, OS_FEATURES, OS_VERSION};
use super::named_context::NamedContext;
use super::run_mounts;
use super::sbom;
use super::squash::{self, Squash};
use crate::runtime::container;
use crate::runtime::userns::{self, IdMaps};
use crate::storage::commit::{self, CommitOptions, ImageFormat};
use crate::storage::containers::{ContainerConfig, MountSpec};
use crate::storage::image_config::ImageConfig;
use crate::storage::images::ImageRecord;
use crate::storage::layers::LayerRecord;
use crate::storage::modes::NetworkMode;
use crate::storage::store::{Driver, Store};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The PATH buildah gives an image that has none (FROM scratch).
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Annotation on a RUN step's container: the building process's pid, so a
/// later build can sweep containers of builds that were killed.
pub const BUILD_ANNOTATION: &str = "io.coracle.build.pid";

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub context: PathBuf,
    /// Fully qualified names for the result (`localhost/app:latest`).
    pub tags: Vec<String>,
    /// The first `-t` as the user typed it, for `COMMIT name`.
    pub commit_name: Option<String>,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    pub quiet: bool,
    /// `--label`, `--env`, `--annotation`, `--timestamp`...: what the
    /// flags change on the images made.
    pub edits: ImageEdits,
    pub format: ImageFormat,
    /// Every RUN step's container settings (`build --network`,
    /// `--volume`, capabilities, limits): the builder fills in the rest.
    pub run: ContainerConfig,
    /// `--ignorefile`: read instead of the context's ignore files.
    pub ignorefile: Option<PathBuf>,
    /// `--squash`/`--squash-all`: the result's layers made one.
    pub squash: Squash,
    /// `--output`: the final image's files written out too.
    pub output: Option<BuildOutput>,
    /// `--skip-unused-stages=false`: build every stage up to the target.
    pub all_stages: bool,
    /// `--secret`: id to content, for `RUN --mount=type=secret` (never
    /// written into an image or a cache key).
    pub secrets: run_mounts::Secrets,
    /// `--platform`: the platform the image is built for (FROM scratch
    /// stages get it; the cache keeps platforms apart). None: this host's.
    pub platform: Option<BuildPlatform>,
    /// `--build-context NAME=...`: what `FROM NAME` and `COPY --from=NAME`
    /// mean, before stages and images of that name.
    pub contexts: BTreeMap<String, NamedContext>,
    /// `--rm=false`/`--force-rm=false`: which RUN containers stay.
    pub keep_containers: KeepContainers,
    /// `--cache-ttl`: cached step images made longer ago are not used.
    pub cache_ttl: Option<std::time::Duration>,
    /// `--stage-labels`: each stage's images carry its name and base.
    pub stage_labels: bool,
    /// `--logfile`: the build's output appended to this file instead.
    pub log_file: Option<PathBuf>,
    /// `--cache-from`, `--cache-to`: registry repositories of step images.
    pub cache_from: Vec<String>,
    pub cache_to: Vec<String>,
    /// `--source-policy-file`: rules for the images FROM and COPY --from
    /// name (the engine vets them all first, and applies them as it
    /// resolves each name).
    pub source_policy: Option<super::source_policy::SourcePolicy>,
    /// `--compat-volumes`: RUN steps' changes under VOLUME paths dropped.
    pub compat_volumes: bool,
    /// `--sbom*`: the final image scanned, the SBOM written out and/or
    /// added to it.
    pub sbom: Option<super::sbom::SbomOptions>,
    /// `--jobs`: how many stages may be built at once (0: no limit).
    /// None: one after the other.
    pub jobs: Option<usize>,
    /// `build --mount`: added to every RUN step after its own `--mount`s.
    pub run_mounts: Vec<String>,
    /// `build --ssh`: id to agent socket, for `RUN --mount=type=ssh`
    /// (never in an image or a cache key).
    pub ssh: super::ssh::SshSources,
    /// `--disable-compression=false`: the layers made are kept gzipped
    /// too, and the manifests describe those blobs.
    pub compress_layers: bool,
}

impl BuildOptions {
    /// What picks the stages to build and what their names mean.
    pub fn selection(&self) -> super::sources::Selection<'_> {
        super::sources::Selection {
            target: self.target.as_deref(),
            build_args: &self.build_args,
            all_stages: self.all_stages,
            contexts: &self.contexts,
        }
    }
}

/// Step images in registry repositories under their cache keys
/// (`--cache-from`, `--cache-to`); the engine does the pulls and pushes.
#[derive(Default, Clone, Copy)]
pub struct RemoteCache<'a> {
    /// The image a step with this key made, from a repository.
    pub fetch: Option<FetchStep<'a>>,
    /// Keep a step's image under its key.
    pub put: Option<PutStep<'a>>,
}

pub type FetchStep<'a> = &'a dyn Fn(&str) -> Option<ImageRecord>;
pub type PutStep<'a> = &'a dyn Fn(&ImageRecord, &str) -> Result<()>;

/// RUN step containers left in the store (podman's `--rm`, `--force-rm`).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeepContainers {
    pub after_success: bool,
    pub after_failure: bool,
}

/// The labels `--stage-labels` sets.
pub const STAGE_NAME_LABEL: &str = "io.buildah.stage.name";
pub const STAGE_BASE_LABEL: &str = "io.buildah.stage.base";

/// The platform an image is built for, in Go's names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildPlatform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

/// `build --output`: where the final image's files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildOutput {
    /// `type=local,dest=DIR`: a directory tree.
    Local(PathBuf),
    /// `type=tar,dest=FILE`: a tar of that tree.
    Tar(PathBuf),
}

/// Where `RUN --mount=type=cache` directories live in the store.
pub const CACHE_MOUNTS_DIR: &str = "build-cache-mounts";

/// The build arg `--source-date-epoch` sets: never reported unused.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// Finds (pulling per the user's policy) the image a FROM or COPY --from names.
pub type ResolveImage<'a> = &'a dyn Fn(&str) -> Result<ImageRecord>;

/// Build `file`; returns the final image (tagged with `opts.tags`).
pub fn build(
    store: &Store,
    file: &Containerfile,
    opts: &BuildOptions,
    resolve: ResolveImage,
    remote: RemoteCache,
) -> Result<ImageRecord> {
    if store.driver == Driver::Vfs {
        bail!("build needs the overlay storage driver (this store uses vfs)");
    }
    sweep_stale(store);
    let images = store.images.load()?;
    let live: HashMap<String, ImageRecord> =
        images.list.into_iter().map(|i| (i.id.clone(), i)).collect();
    let context = ContextRoot::open(&opts.context)?;
    let mut b = Builder {
        store,
        file,
        opts,
        resolve,
        remote,
        live,
        cache: BuildCache::load(&store.image_root),
        matcher: match &opts.ignorefile {
            Some(f) => {
                let text = fs::read_to_string(f)
                    .with_context(|| format!("reading ignore file {}", f.display()))?;
                Matcher::from_ignore_file(&text, &f.display().to_string())?
            }
            None => context.ignore_matcher()?,
        },
        context,
        used_args: BTreeSet::new(),
        stage_images: BTreeMap::new(),
        stage_remote_keys: BTreeMap::new(),
        maps: None,
        scratch: None,
        final_base: None,
    };
    {
        let live = &b.live;
        b.cache.forget_missing(&|id| live.contains_key(id));
    }
    let redirect = match &opts.log_file {
        Some(f) => Some(OutputRedirect::to(f)?),
        None => None,
    };
    let result = b.run();
    drop(redirect);
    // Steps that succeeded stay cached even when a later one failed.
    let _ = b.cache.save();
    if let Some(dir) = b.scratch.take() {
        remove_tree_any(store, &dir);
    }
    result
}

struct Builder<'a> {
    store: &'a Store,
    file: &'a Containerfile,
    opts: &'a BuildOptions,
    resolve: ResolveImage<'a>,
    remote: RemoteCache<'a>,
    /// The images in the store, by id (grows as steps commit).
    live: HashMap<String, ImageRecord>,
    cache: BuildCache,
    /// The context directory, where COPY and ADD sources are resolved.
    context: ContextRoot,
    matcher: Matcher,
    used_args: BTreeSet<String>,
    /// Final image of each finished stage, by stage index.
    stage_images: BTreeMap<usize, ImageRecord>,
    /// The remote cache key each finished stage ended on.
    stage_remote_keys: BTreeMap<usize, String>,
    maps: Option<IdMaps>,
    /// This build's private temp dir in the store's tmp/ (swept if killed).
    scratch: Option<PathBuf>,
    /// The final stage's base image (what `--squash` keeps).
    final_base: Option<ImageRecord>,
}

/// Where a stage stands: its current image and config, and its ARGs.
struct StageState {
    image: Option<ImageRecord>,
    config: ImageConfig,
    /// ARGs declared in this stage, in order, with their values.
    args: Vec<(String, Option<String>)>,
    /// CMD was set in this stage (ENTRYPOINT keeps it then).
    cmd_set: bool,
    /// The base had ONBUILD triggers: the first image made drops them.
    clear_onbuild: bool,
    /// The base image's manifest annotations (the final image inherits).
    base_annotations: BTreeMap<String, String>,
    /// `--stage-labels` this stage's images carry (their cache keys too).
    stage_labels: Vec<(String, String)>,
    /// The chain of keys `--cache-from`/`--cache-to` tag step images
    /// with: each step's key made from its parent's key, not its parent's
    /// id, which a push may change (a layer tarred again is another blob).
    remote_parent: String,
}

impl StageState {
    fn lookup(&self, name: &str) -> Option<String> {
        let env = self.config.config.env.as_deref().unwrap_or_default();
        if let Some(v) = env.iter().rev().find_map(|e| {
            e.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }) {
            return Some(v);
        }
        self.args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone())
    }

    /// ARGs with a value that no ENV of the same name overrides.
    fn arg_env(&self) -> Vec<(String, String)> {
        let env = self.config.config.env.as_deref().unwrap_or_default();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (k, v) in self.args.iter().rev() {
            let Some(v) = v else { continue };
            if !seen.insert(k.clone()) {
                continue;
            }
            if env
                .iter()
                .any(|e| e.split_once('=').map(|(n, _)| n) == Some(k))
            {
                continue;
            }
            out.push((k.clone(), v.clone()));
        }
        out.reverse();
        out
    }

    fn parent_key(&self) -> String {
        self.image
            .as_ref()
            .map(|i| i.id.clone())
            .unwrap_or_else(|| "scratch".into())
    }
}

fn say(quiet: bool, line: &str) {
    if quiet {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn short(id: &str) -> &str {
    // podman 4's buildah prints eleven characters here.
    &id[..id.len().min(11)]
}

impl Builder<'_> {
    fn run(&mut self) -> Result<ImageRecord> {
        let file = self.file;
        let lookup = |n: &str| self.opts.build_args.get(n).cloned();
        let stages = super::sources::stages_to_build(file, self.opts.selection())?;
        let meta = file.meta_args(&lookup).map_err(|e| anyhow!("{e}"))?;
        for a in &file.args_before_from {
            if self.opts.build_args.contains_key(&a.name) {
                self.used_args.insert(a.name.clone());
            }
        }
        let count = stages.len();
        let prefix = |n: usize| {
            if count > 1 {
                format!("[{}/{}] ", n + 1, count)
            } else {
                String::new()
            }
        };
        if self.opts.jobs.is_some_and(|j| j != 1) && count > 2 {
            let others: Vec<(usize, String)> = (stages[..count - 1].iter())
                .enumerate()
                .map(|(n, &i)| (i, prefix(n)))
                .collect();
            self.build_concurrently(&others, &meta)?;
        }
        let mut last = None;
        for (n, &index) in stages.iter().enumerate() {
            let is_final = n + 1 == count;
            if !is_final && self.stage_images.contains_key(&index) {
                continue;
            }
            let img = self.build_stage(index, &meta, &prefix(n), is_final)?;
            self.stage_images.insert(index, img.clone());
            last = Some(img);
        }
        let mut img = last.context("no build stages")?;
        if let Some(s) = &self.opts.sbom {
            img = self.sbom(&img, s)?;
        }
        if self.opts.squash != Squash::No {
            img = self.squash(&img)?;
        }
        if let Some(out) = self.opts.output.clone() {
            self.write_output(&img, &out)?;
        }
        let quiet = self.opts.quiet;
        for t in &self.opts.tags {
            say(quiet, &format!("Successfully tagged {t}"));
        }
        let unused: Vec<&str> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !self.used_args.contains(*k) && k.as_str() != SOURCE_DATE_EPOCH)
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            say(
                quiet,
                &format!(
                    "[Warning] one or more build args were not consumed: [{}]",
                    unused.join(" ")
                ),
            );
        }
        Ok(img)
    }

    /// `--jobs`: `stages` (not the final one; index and prefix) built in
    /// child processes, as many at once as allowed, each once the stages
    /// it needs are done. A failure stops new starts; the running finish.
    fn build_concurrently(
        &mut self,
        stages: &[(usize, String)],
        meta: &BTreeMap<String, String>,
    ) -> Result<()> {
        let mut needs = BTreeMap::new();
        for (i, _) in stages {
            let n = (self.file.stage_needs(*i, meta, true)).map_err(|e| anyhow!("{e}"))?;
            needs.insert(*i, n);
        }
        let limit = match self.opts.jobs {
            Some(0) | None => usize::MAX,
            Some(n) => n,
        };
        let scratch = self.scratch_dir()?;
        let mut pending: Vec<(usize, String)> = stages.to_vec();
        let mut running: HashMap<libc::pid_t, (usize, PathBuf)> = HashMap::new();
        let mut failure: Option<anyhow::Error> = None;
        loop {
            while failure.is_none() && running.len() < limit {
                let ready = pending
                    .iter()
                    .position(|(i, _)| needs[i].iter().all(|d| self.stage_images.contains_key(d)));
                let Some(pos) = ready else { break };
                let (index, prefix) = pending.remove(pos);
                let path = scratch.join(format!("stage-{index}.json"));
                let pid = super::jobs::fork(&path, || self.stage_in_child(index, meta, &prefix))?;
                running.insert(pid, (index, path));
            }
            if running.is_empty() {
                break;
            }
            let pid = super::jobs::wait_any()?;
            let Some((index, path)) = running.remove(&pid) else {
                continue;
            };
            match super::jobs::read(&path) {
                Ok(r) => {
                    for img in r.new_images {
                        self.live.insert(img.id.clone(), img);
                    }
                    self.cache.absorb(r.cache);
                    self.used_args.extend(r.used_args);
                    if let Some(k) = r.remote_key {
                        self.stage_remote_keys.insert(index, k);
                    }
                    let img = r.image.context("a build stage process made no image")?;
                    self.stage_images.insert(index, img);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            // Anything left (it cannot be: stages only need earlier ones)
            // is built in order by the caller.
            None => Ok(()),
        }
    }

    /// In a `--jobs` child: one stage built, and what it made.
    fn stage_in_child(
        &mut self,
        index: usize,
        meta: &BTreeMap<String, String>,
        prefix: &str,
    ) -> super::jobs::StageResult {
        let before: BTreeSet<String> = self.live.keys().cloned().collect();
        match self.build_stage(index, meta, prefix, false) {
            Ok(img) => super::jobs::StageResult {
                image: Some(img),
                error: None,
                remote_key: self.stage_remote_keys.get(&index).cloned(),
                used_args: self.used_args.iter().cloned().collect(),
                new_images: (self.live.iter())
                    .filter(|(id, _)| !before.contains(*id))
                    .map(|(_, img)| img.clone())
                    .collect(),
                cache: self.cache.snapshot(),
            },
            Err(e) => super::jobs::StageResult {
                error: Some(format!("{e:#}")),
                ..Default::default()
            },
        }
    }

    /// An image's manifest annotations (none if its manifest is unreadable).
    fn annotations_of(&self, img: &ImageRecord) -> BTreeMap<String, String> {
        self.store
            .blobs
            .read(&img.manifest_digest)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|m| serde_json::from_value(m.get("annotations")?.clone()).ok())
            .unwrap_or_default()
    }

    /// How a step's image is committed: the last one tagged and given the
    /// final edits (annotations, history), every one the fixed time if any.
    fn commit_options(
        &self,
        st: &StageState,
        last: bool,
        created_by: Option<String>,
    ) -> CommitOptions {
        let e = &self.opts.edits;
        let mut o = CommitOptions {
            format: self.opts.format,
            history_created_by: created_by,
            created: e.created_rfc3339(),
            ..Default::default()
        };
        if last {
            if !self.tags_later() {
                o.names = self.opts.tags.clone();
            }
            o.omit_history = e.omit_history;
            let at = o
                .created
                .get_or_insert_with(crate::format::human::now_rfc3339)
                .clone();
            o.annotations = e.final_annotations(&st.base_annotations, &at);
        }
        o
    }

    fn config_of(&self, img: &ImageRecord) -> Result<ImageConfig> {
        ImageConfig::parse(&self.store.blobs.read(&img.config_digest())?)
            .with_context(|| format!("reading the configuration of image {}", img.id))
    }

    fn build_stage(
        &mut self,
        index: usize,
        meta: &BTreeMap<String, String>,
        prefix: &str,
        is_final: bool,
    ) -> Result<ImageRecord> {
        let file = self.file;
        let stage = &file.stages[index];
        let total = stage.instructions.len() + 1;
        let quiet = self.opts.quiet;
        let base = file.resolve_from(index, meta).map_err(|e| anyhow!("{e}"))?;
        let base = super::sources::context_base(self.opts.selection(), stage, base)?;
        let mut st = StageState {
            image: None,
            config: ImageConfig::default(),
            args: Vec::new(),
            cmd_set: false,
            clear_onbuild: false,
            base_annotations: BTreeMap::new(),
            stage_labels: Vec::new(),
            remote_parent: String::new(),
        };
        let from_text = match &base {
            BaseRef::Stage(s) => {
                let id = &self.stage_images[s].id;
                match &stage.from.alias {
                    Some(a) => format!("FROM {id} AS {a}"),
                    None => format!("FROM {id}"),
                }
            }
            _ => stage.text.clone(),
        };
        say(quiet, &format!("{prefix}STEP 1/{total}: {from_text}"));
        match &base {
            BaseRef::Scratch => {
                match &self.opts.platform {
                    Some(p) => {
                        st.config.architecture = p.architecture.clone();
                        st.config.os = p.os.clone();
                        st.config.variant = p.variant.clone();
                    }
                    None => {
                        st.config.architecture = host_arch().into();
                        st.config.os = "linux".into();
                    }
                }
                st.config.config.env = Some(vec![DEFAULT_PATH.to_string()]);
            }
            BaseRef::Stage(s) => {
                let img = self.stage_images[s].clone();
                st.config = self.config_of(&img)?;
                st.base_annotations = self.annotations_of(&img);
                st.image = Some(img);
            }
            BaseRef::Image(name) => {
                let img = (self.resolve)(name)?;
                self.live.insert(img.id.clone(), img.clone());
                st.config = self.config_of(&img)?;
                st.base_annotations = self.annotations_of(&img);
                st.image = Some(img);
            }
        }
        if !self.opts.edits.inherit_labels {
            st.config.config.labels = None;
        }
        st.remote_parent = match &base {
            BaseRef::Stage(s) => self.stage_remote_keys[s].clone(),
            _ => st.parent_key(),
        };
        if self.opts.stage_labels {
            let name = stage.name.clone().unwrap_or_else(|| index.to_string());
            let base_name = match &base {
                BaseRef::Scratch => "scratch".to_string(),
                BaseRef::Image(n) => n.clone(),
                BaseRef::Stage(_) => st.image.as_ref().map(|i| i.id.clone()).unwrap_or_default(),
            };
            st.stage_labels = vec![
                (STAGE_NAME_LABEL.to_string(), name),
                (STAGE_BASE_LABEL.to_string(), base_name),
            ];
            let labels = st.config.config.labels.get_or_insert_with(Default::default);
            labels.extend(st.stage_labels.iter().cloned());
        }
        if is_final {
            self.final_base = st.image.clone();
        }
        // ONBUILD triggers of the base run first, as if written here.
        let triggers: Vec<String> = st
            .config
            .config
            .extra
            .get("OnBuild")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if !triggers.is_empty() {
            st.clear_onbuild = true;
            st.config.config.extra.remove("OnBuild");
            for t in &triggers {
                let parsed = containerfile::parse(&format!("FROM scratch\n{t}\n"), "ONBUILD")
                    .map_err(|e| anyhow!("parsing ONBUILD trigger {t:?}: {e}"))?;
                let step = parsed
                    .stages
                    .first()
                    .and_then(|s| s.instructions.first())
                    .context("empty ONBUILD trigger")?
                    .clone();
                self.step(index, &mut st, &step.text, &step.instruction, prefix, false)
                    .with_context(|| format!("building at STEP \"{}\"", step.text))?;
            }
        }
        let steps = &stage.instructions;
        for (i, step) in steps.iter().enumerate() {
            say(
                quiet,
                &format!("{prefix}STEP {}/{total}: {}", i + 2, step.text),
            );
            let last = is_final && i + 1 == steps.len();
            self.step(index, &mut st, &step.text, &step.instruction, prefix, last)
                .map_err(|e| flatten(e).context(format!("building at STEP \"{}\"", step.text)))?;
        }
        self.stage_remote_keys
            .insert(index, st.remote_parent.clone());
        if (steps.is_empty() && is_final) || st.image.is_none() {
            return self.finish_empty_stage(&mut st, prefix, is_final);
        }
        st.image.context("the stage made no image")
    }

    /// A stage that is only a FROM: its result is the base (tagged when
    /// final); FROM scratch alone, or labels to add, make a new image.
    fn finish_empty_stage(
        &mut self,
        st: &mut StageState,
        prefix: &str,
        is_final: bool,
    ) -> Result<ImageRecord> {
        let quiet = self.opts.quiet;
        if is_final {
            say(
                quiet,
                &commit_line(prefix, self.opts.commit_name.as_deref()),
            );
        }
        let new_image = (is_final && self.opts.edits.change_final()) || self.opts.stage_labels;
        let img = match (&st.image, new_image) {
            (Some(img), false) => {
                let img = img.clone();
                if is_final {
                    self.add_names(&img)?;
                }
                img
            }
            _ => {
                self.opts.edits.add_identity_label(&mut st.config);
                if is_final {
                    self.apply_final_edits(st);
                }
                let opts = self.commit_options(st, is_final, None);
                let cfg = st.config.clone();
                let img = commit::image_from_layers(
                    self.store,
                    st.image.as_ref(),
                    None,
                    |c| copy_config(c, &cfg),
                    &opts,
                )?;
                self.live.insert(img.id.clone(), img.clone());
                img
            }
        };
        say(quiet, &format!("--> {}", short(&img.id)));
        st.image = Some(img.clone());
        Ok(img)
    }

    /// The last step's image is not the result (`--squash`, or `--sbom`
    /// adds a layer): the tags go to the image made after it.
    fn tags_later(&self) -> bool {
        self.opts.squash != Squash::No || self.opts.sbom.is_some()
    }

    fn apply_final_edits(&self, st: &mut StageState) {
        self.opts.edits.apply_to_final(&mut st.config);
    }

    fn add_names(&self, img: &ImageRecord) -> Result<()> {
        // Squashing: the tags go to the squashed image.
        if self.tags_later() {
            return Ok(());
        }
        self.name_image(img)
    }

    /// The tags given to `img` (taken from any image that had them).
    fn name_image(&self, img: &ImageRecord) -> Result<()> {
        if self.opts.tags.iter().all(|t| img.names.contains(t)) {
            return Ok(());
        }
        let _lock = self.store.lock()?;
        let mut images = self.store.images.load()?;
        for t in &self.opts.tags {
            images.add_name(&img.id, t)?;
        }
        self.store.images.save(&images)
    }

    /// One instruction: expand, look up the cache, else do it and commit.
    fn step(
        &mut self,
        stage_index: usize,
        st: &mut StageState,
        text: &str,
        ins: &Instruction,
        prefix: &str,
        last: bool,
    ) -> Result<()> {
        let escape = self.file.escape;
        let expanded = if ins.expands_variables() {
            let scope = |n: &str| st.lookup(n);
            ins.expand(escape, &scope).map_err(|e| anyhow!("{e}"))?
        } else {
            ins.clone()
        };
        let quiet = self.opts.quiet;
        // What besides the parent and the instruction decides the result.
        let mut extra: Vec<String> = vec![
            format!("{:?}", self.opts.format),
            self.opts.edits.step_key(),
        ];
        let mut copy_plan = None;
        let mut created_by = format!("/bin/sh -c #(nop) {}", text.trim());
        match &expanded {
            Instruction::Arg(args) => {
                for a in args {
                    let value = self
                        .opts
                        .build_args
                        .get(&a.name)
                        .cloned()
                        .or_else(|| a.default.clone())
                        .or_else(|| {
                            self.file
                                .args_before_from
                                .iter()
                                .any(|m| m.name == a.name)
                                .then(|| {
                                    let lookup = |n: &str| self.opts.build_args.get(n).cloned();
                                    self.file.meta_args(&lookup).ok()?.get(&a.name).cloned()
                                })
                                .flatten()
                        });
                    if self.opts.build_args.contains_key(&a.name) {
                        self.used_args.insert(a.name.clone());
                    }
                    st.args.retain(|(k, _)| k != &a.name);
                    st.args.push((a.name.clone(), value.clone()));
                    extra.push(format!("{}={:?}", a.name, value));
                }
                check_scope_size(st)?;
                // An ARG changes only the scope of later steps (their cache
                // keys hold what they read of it): no image of its own, as
                // buildah, unless it ends the build.
                if !last {
                    return Ok(());
                }
                let names: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
                created_by = format!("/bin/sh -c #(nop) ARG {}", names.join(" "));
            }
            Instruction::Run(run) => {
                let args = st.arg_env();
                for (k, v) in &args {
                    extra.push(format!("{k}={v}"));
                }
                let body = strip_keyword(text);
                created_by = if args.is_empty() {
                    format!("/bin/sh -c {body}")
                } else {
                    let kv: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("|{} {} /bin/sh -c {body}", args.len(), kv.join(" "))
                };
                // Heredoc bodies are not in the text: key on them too.
                extra.push(format!("{:?}", run.program()));
            }
            Instruction::Copy(c) | Instruction::Add(c) => {
                let (plan, hash, kind) =
                    self.plan_copy(stage_index, st, c, matches!(expanded, Instruction::Add(_)))?;
                extra.push(hash.clone());
                created_by = format!(
                    "/bin/sh -c #(nop) {} {kind}:{hash} in {} ",
                    expanded.keyword(),
                    c.dest
                );
                copy_plan = Some(plan);
            }
            _ => {}
        }
        if last {
            extra.push(self.opts.edits.final_key());
        } else {
            extra.push(self.opts.edits.layer_key());
        }
        if !st.stage_labels.is_empty() {
            extra.push(format!("stage labels {:?}", st.stage_labels));
        }
        if let Some(p) = &self.opts.platform {
            // A scratch stage's steps have no parent image to tell
            // platforms apart.
            extra.push(format!(
                "platform {}/{}/{:?}",
                p.os, p.architecture, p.variant
            ));
        }
        if self.opts.compress_layers {
            // Its images describe their layers by other blobs.
            extra.push("compressed layers".into());
        }
        if matches!(expanded, Instruction::Run(_)) {
            // What the RUN container was given can change what it makes.
            extra.push(run_key(&self.opts.run));
            if !self.opts.run_mounts.is_empty() {
                extra.push(format!("build mounts {:?}", self.opts.run_mounts));
            }
            if self.opts.compat_volumes {
                extra.push("compat-volumes".into());
            }
        }
        let ins_repr = format!("{expanded:?}");
        let parent = st.parent_key();
        let mut parts: Vec<&str> = vec![&parent, &ins_repr];
        parts.extend(extra.iter().map(String::as_str));
        if st.clear_onbuild {
            parts.push("clear-onbuild");
        }
        let key = cache::key(&parts);
        parts[0] = &st.remote_parent;
        let remote_key = cache::key(&parts);

        if !self.opts.no_cache {
            let fresh = |img: &&ImageRecord| match self.opts.cache_ttl {
                None => true,
                Some(ttl) => created_within(img, ttl),
            };
            let local = (self.cache.get(&key))
                .and_then(|id| self.live.get(id))
                .filter(fresh)
                .cloned();
            let found = local.or_else(|| {
                let img = (self.remote.fetch?)(&remote_key)?;
                self.live.insert(img.id.clone(), img.clone());
                self.cache.put(key.clone(), img.id.clone());
                Some(img)
            });
            {
                if let Some(img) = found {
                    let id = img.id.clone();
                    say(quiet, &format!("--> Using cache {id}"));
                    st.config = self.config_of(&img)?;
                    if !last {
                        // An intermediate image's `--layer-label`s are its own.
                        self.opts.edits.remove_layer_labels(&mut st.config);
                    }
                    st.clear_onbuild = false;
                    if matches!(expanded, Instruction::Cmd(_)) {
                        st.cmd_set = true;
                    }
                    if last {
                        say(
                            quiet,
                            &commit_line(prefix, self.opts.commit_name.as_deref()),
                        );
                        self.add_names(&img)?;
                    }
                    say(quiet, &format!("--> {}", short(&img.id)));
                    self.put_remote(&img, &remote_key);
                    st.remote_parent = remote_key;
                    st.image = Some(img);
                    return Ok(());
                }
            }
        }

        // Not cached: do it.
        let layer: Option<LayerRecord> = match &expanded {
            Instruction::Run(run) => Some(self.run_step(st, run)?),
            Instruction::Copy(_) | Instruction::Add(_) => {
                let plan = copy_plan.take().expect("planned above");
                Some(self.copy_step(&plan)?)
            }
            other => {
                apply_instruction(st, other)?;
                None
            }
        };
        if st.clear_onbuild {
            st.config.config.extra.remove("OnBuild");
            st.clear_onbuild = false;
        }
        if last {
            say(
                quiet,
                &commit_line(prefix, self.opts.commit_name.as_deref()),
            );
        }
        // Every committed image names its builder (buildah's identity label).
        self.opts.edits.add_identity_label(&mut st.config);
        if last {
            // After the step ran: `--env` is the image's, not the RUN's.
            self.apply_final_edits(st);
        }
        let opts = self.commit_options(st, last, Some(created_by));
        let mut cfg = st.config.clone();
        if !last {
            self.opts.edits.add_layer_labels(&mut cfg);
        }
        let img = commit::image_from_layers(
            self.store,
            st.image.as_ref(),
            layer,
            |c| copy_config(c, &cfg),
            &opts,
        )?;
        self.live.insert(img.id.clone(), img.clone());
        self.cache.put(key.clone(), img.id.clone());
        say(quiet, &format!("--> {}", short(&img.id)));
        self.put_remote(&img, &remote_key);
        st.remote_parent = remote_key;
        st.image = Some(img);
        Ok(())
    }

    /// `--cache-to`: a failed push costs a later build a rebuild, no more.
    fn put_remote(&self, img: &ImageRecord, key: &str) {
        if let Some(put) = self.remote.put {
            if let Err(e) = put(img, key) {
                crate::warn!("pushing the cache image of a step: {e:#}");
            }
        }
    }

    /// `--squash`: the final image's layers over its base made one;
    /// `--squash-all`: all of its layers. The config is the final image's,
    /// the history its base's (none with `--squash-all`) and one entry.
    fn squash(&mut self, img: &ImageRecord) -> Result<ImageRecord> {
        let all = self.opts.squash == Squash::All;
        let base = if all { None } else { self.final_base.clone() };
        let base_layers = base.as_ref().map(|b| b.layers.clone()).unwrap_or_default();
        let new = img
            .layers
            .strip_prefix(base_layers.as_slice())
            .context("the final image does not stand on its base's layers")?
            .to_vec();
        let layer = if new.is_empty() {
            None
        } else {
            let dir = self
                .scratch_dir()?
                .join(format!("squash-{:08x}", rand::random::<u32>()));
            let (store, mtime, over_base) = (self.store, self.opts.edits.mtime, base.is_some());
            let compress = self.opts.compress_layers;
            Some(self.in_storage_ns(|| {
                fs::create_dir(&dir)?;
                let made = squash::merge_layers(store, &new, over_base, &dir, mtime, compress);
                let _ = crate::storage::layers::remove_tree(&dir);
                made
            })?)
        };
        let cfg = self.config_of(img)?;
        let e = &self.opts.edits;
        let opts = CommitOptions {
            format: self.opts.format,
            names: self.opts.tags.clone(),
            history_created_by: Some("/bin/sh -c #(nop) squashed".into()),
            created: e.created_rfc3339(),
            omit_history: e.omit_history,
            annotations: self.annotations_of(img),
            ..Default::default()
        };
        let img = commit::image_from_layers(
            self.store,
            base.as_ref(),
            layer,
            |c| copy_config(c, &cfg),
            &opts,
        )?;
        self.live.insert(img.id.clone(), img.clone());
        say(self.opts.quiet, &format!("--> {}", short(&img.id)));
        Ok(img)
    }

    /// `--sbom`: the scanner image run over the final image's files and
    /// the context directories, once per command; its outputs merged into
    /// the SBOM and the package URL list, written to local files and/or
    /// added to the image in one more layer (the image then takes the tags).
    fn sbom(&mut self, img: &ImageRecord, s: &sbom::SbomOptions) -> Result<ImageRecord> {
        let scanner = (self.resolve)(&s.image)
            .with_context(|| format!("pulling SBOM scanner image {}", s.image))?;
        self.live.insert(scanner.id.clone(), scanner.clone());
        let scanner_cfg = self.config_of(&scanner)?.config;
        let shell: Vec<String> = (scanner_cfg.extra.get("Shell"))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        let mut contexts = vec![self.opts.context.clone()];
        for c in self.opts.contexts.values() {
            if let super::named_context::NamedContext::Dir(d) = c {
                if !contexts.contains(d) {
                    contexts.push(d.clone());
                }
            }
        }
        let commands = sbom::scan_commands(&s.commands, contexts.len(), &shell);
        if commands.is_empty() {
            bail!(
                "no SBOM scanner command names {{ROOTFS}} or {{CONTEXT}}: there is nothing to scan"
            );
        }
        let dir = self
            .scratch_dir()?
            .join(format!("sbom-{:08x}", rand::random::<u32>()));
        let (rootfs, scans) = (dir.join("rootfs"), dir.join("scans"));
        fs::create_dir(&dir)?;
        fs::create_dir(&scans)?;
        use std::os::unix::fs::PermissionsExt;
        // Any user the scanner runs as writes its output here.
        fs::set_permissions(&scans, fs::Permissions::from_mode(0o777))?;
        let result = self.scan(
            img,
            &scanner,
            &scanner_cfg,
            &contexts,
            &commands,
            &rootfs,
            &scans,
        );
        let made = result.and_then(|outputs| {
            let (doc, purls) = sbom::combine(s.merge, &outputs)?;
            for (path, bytes) in [(&s.output, &doc), (&s.purl_output, &purls)] {
                if let Some(p) = path {
                    fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))?;
                }
            }
            let files: Vec<(String, Vec<u8>)> =
                [(&s.image_output, doc), (&s.image_purl_output, purls)]
                    .into_iter()
                    .filter_map(|(p, b)| Some((p.clone()?, b)))
                    .collect();
            if files.is_empty() {
                if self.opts.squash == Squash::No {
                    self.name_image(img)?;
                }
                return Ok(img.clone());
            }
            self.add_files(img, &dir.join("layer"), &rootfs, files)
        });
        remove_tree_any(self.store, &dir);
        made
    }

    /// The scanner's commands run, each in a container of its own; their
    /// output files, in order.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &mut self,
        img: &ImageRecord,
        scanner: &ImageRecord,
        scanner_cfg: &crate::storage::image_config::ContainerConfig,
        contexts: &[PathBuf],
        commands: &[sbom::ScanCommand],
        rootfs: &Path,
        scans: &Path,
    ) -> Result<Vec<Vec<u8>>> {
        let (store, layers) = (self.store, img.layers.clone());
        let root = rootfs.to_path_buf();
        self.in_storage_ns(|| {
            fs::create_dir(&root)?;
            squash::merge_into(store, &layers, &root, false)
        })?;
        let bind = |source: &Path, destination: String, options: &[&str]| MountSpec {
            kind: crate::storage::containers::MountKind::Bind,
            source: source.to_string_lossy().into_owned(),
            destination,
            options: options.iter().map(|o| o.to_string()).collect(),
            ..Default::default()
        };
        let template = &self.opts.run;
        let mut mounts = template.mounts.clone();
        mounts.push(bind(scans, sbom::SCANS_TARGET.into(), &[]));
        mounts.push(bind(rootfs, sbom::ROOTFS_TARGET.into(), &["ro"]));
        for (i, c) in contexts.iter().enumerate() {
            let target = format!("{}{i}", sbom::CONTEXT_TARGET_PREFIX);
            mounts.push(bind(c, target, &["ro"]));
        }
        let mut annotations = BTreeMap::new();
        annotations.insert(BUILD_ANNOTATION.to_string(), builder_identity());
        for c in commands {
            let cfg = ContainerConfig {
                image_name: (scanner.names.first().cloned()).unwrap_or_else(|| scanner.id.clone()),
                args: c.argv.clone(),
                env: scanner_cfg.env.clone().unwrap_or_default(),
                workdir: (scanner_cfg.working_dir.clone())
                    .filter(|w| !w.is_empty())
                    .unwrap_or_else(|| "/".into()),
                user: scanner_cfg.user.clone().unwrap_or_default(),
                annotations: annotations.clone(),
                mounts: mounts.clone(),
                stop_timeout: 10,
                create_command: crate::storage::containers::command_line_without_secrets(
                    std::env::args(),
                ),
                ..template.clone()
            };
            let id = container::create(self.store, cfg, scanner)?.id;
            let ran = self.run_container(&id);
            if let Err(e) = crate::runtime::removal::remove_files(self.store, &id) {
                crate::warn!("removing SBOM scanner container {id}: {e:#}");
            }
            ran.with_context(|| format!("running scanning command {:?}", c.argv))?;
        }
        let files: Vec<PathBuf> = commands.iter().map(|c| scans.join(&c.output)).collect();
        self.in_storage_ns(|| {
            let mut out = Vec::new();
            for f in &files {
                let name = f.file_name().unwrap_or_default().to_string_lossy();
                out.push(fs::read(f).with_context(|| {
                    format!(
                        "reading the output of SBOM scanner command ({SCANS}/{name})",
                        SCANS = sbom::SCANS_TARGET
                    )
                })?);
            }
            Ok(out)
        })
    }

    /// `files` (absolute paths in the image) added to `img` as one layer.
    fn add_files(
        &mut self,
        img: &ImageRecord,
        dir: &Path,
        rootfs: &Path,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<ImageRecord> {
        let (store, mtime, dir_owned) = (self.store, self.opts.edits.mtime, dir.to_path_buf());
        let compress = self.opts.compress_layers;
        let paths: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
        let rootfs = rootfs.to_path_buf();
        let layer = self.in_storage_ns(move || {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            fs::create_dir(&dir_owned)?;
            for (path, bytes) in &files {
                let rel = path.trim_start_matches('/');
                // Directories on the way keep the image's owner and mode.
                let mut at = PathBuf::new();
                let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
                for c in &comps[..comps.len().saturating_sub(1)] {
                    at.push(c);
                    let made = dir_owned.join(&at);
                    if made.is_dir() {
                        continue;
                    }
                    fs::create_dir(&made)?;
                    if let Ok(m) = fs::symlink_metadata(rootfs.join(&at)) {
                        if !m.is_dir() {
                            bail!("{path} in the image: /{} is not a directory", at.display());
                        }
                        fs::set_permissions(&made, fs::Permissions::from_mode(m.mode() & 0o7777))?;
                        std::os::unix::fs::lchown(&made, Some(m.uid()), Some(m.gid()))?;
                    }
                }
                fs::write(dir_owned.join(rel), bytes)?;
            }
            commit::layer_from_dir_as(store, &dir_owned, mtime, compress)
        })?;
        let e = &self.opts.edits;
        let opts = CommitOptions {
            format: self.opts.format,
            names: match self.opts.squash {
                Squash::No => self.opts.tags.clone(),
                _ => Vec::new(),
            },
            history_created_by: Some(format!("/bin/sh -c #(nop) SBOM {}", paths.join(" "))),
            created: e.created_rfc3339(),
            omit_history: e.omit_history,
            annotations: self.annotations_of(img),
            ..Default::default()
        };
        let img = commit::image_from_layers(self.store, Some(img), Some(layer), |_| {}, &opts)?;
        self.live.insert(img.id.clone(), img.clone());
        say(self.opts.quiet, &format!("--> {}", short(&img.id)));
        Ok(img)
    }

    /// `--output`: the image's merged files into a directory, or a tar.
    fn write_output(&mut self, img: &ImageRecord, out: &BuildOutput) -> Result<()> {
        let layers = img.layers.clone();
        let store = self.store;
        let scratch = self.scratch_dir()?;
        let out = out.clone();
        self.in_storage_ns(|| match &out {
            BuildOutput::Local(dest) => {
                fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
                squash::merge_into(store, &layers, dest, false)
            }
            BuildOutput::Tar(dest) => {
                let dir = scratch.join(format!("output-{:08x}", rand::random::<u32>()));
                fs::create_dir(&dir)?;
                let made = squash::merge_into(store, &layers, &dir, false)
                    .and_then(|()| squash::write_tar(store, &dir, dest));
                let _ = crate::storage::layers::remove_tree(&dir);
                made
            }
        })
    }

    /// The view of an image's layers.
    fn view(&self, img: Option<&ImageRecord>) -> ImageView {
        ImageView {
            layers: img
                .map(|i| {
                    i.layers
                        .iter()
                        .map(|d| self.store.layers.diff_dir(d))
                        .collect()
                })
                .unwrap_or_default(),
            prefix: Some(self.store.xattr_prefix()),
        }
    }

    fn scratch_dir(&mut self) -> Result<PathBuf> {
        if let Some(d) = &self.scratch {
            return Ok(d.clone());
        }
        // The image root's tmp/: layers made here are moved into its store.
        let tmp = self.store.image_tmp();
        fs::create_dir_all(&tmp)?;
        // `<pid>-<nonce>`: the store's sweep removes it if we are killed.
        let dir = tmp.join(format!(
            "{}-build{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.scratch = Some(dir.clone());
        Ok(dir)
    }

    /// Decide what a COPY/ADD takes and hash it for the cache key.
    fn plan_copy(
        &mut self,
        stage_index: usize,
        st: &StageState,
        c: &containerfile::Copy,
        add: bool,
    ) -> Result<(CopyPlan, String, &'static str)> {
        let base = self.view(st.image.as_ref());
        // `COPY --from=` a `--build-context` directory: read as the context
        // is (no ignore file of its own), with its own root.
        let mut dir_context: Option<(ContextRoot, PathBuf)> = None;
        let from = match &c.from {
            None => None,
            Some(f) if self.opts.contexts.contains_key(f) => match &self.opts.contexts[f] {
                NamedContext::Dir(d) => {
                    dir_context = Some((ContextRoot::open(d)?, d.clone()));
                    None
                }
                NamedContext::Image(name) => {
                    let img = (self.resolve)(name)?;
                    self.live.insert(img.id.clone(), img.clone());
                    Some(self.view(Some(&img)))
                }
            },
            Some(f) => {
                let r = self
                    .file
                    .resolve_copy_from(stage_index, f)
                    .map_err(|e| anyhow!("{e}"))?;
                Some(match r {
                    BaseRef::Scratch => ImageView::default(),
                    BaseRef::Stage(s) => {
                        let img = self
                            .stage_images
                            .get(&s)
                            .with_context(|| format!("stage {f} was not built"))?
                            .clone();
                        self.view(Some(&img))
                    }
                    BaseRef::Image(name) => {
                        let img = (self.resolve)(&name)?;
                        self.live.insert(img.id.clone(), img.clone());
                        self.view(Some(&img))
                    }
                })
            }
        };
        let attrs = Attrs {
            owner: match &c.chown {
                Some(spec) => Some(copy::resolve_chown(spec, &base)?),
                None => None,
            },
            mode: c.chmod.as_deref().map(copy::parse_chmod).transpose()?,
        };
        let workdir = st
            .config
            .config
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        let dest = if c.dest.starts_with('/') {
            c.dest.clone()
        } else {
            let joined = format!("{}/{}", workdir.trim_end_matches('/'), c.dest);
            let mut d = super::ignore::clean_path(&joined);
            if c.dest.ends_with('/') || c.dest == "." || c.dest.ends_with("/.") {
                d.push('/');
            }
            d
        };
        let mut items = Vec::new();
        let mut hash = crate::storage::digest::Hasher::new();
        let mut context_rels = Vec::new();
        let (matcher, context_dir) = match &dir_context {
            Some((_, d)) => {
                hash.update(format!("context {}\0", d.display()).as_bytes());
                (Matcher::default(), d.clone())
            }
            None => (self.matcher.clone(), self.opts.context.clone()),
        };
        for s in &c.sources {
            match s {
                Source::Heredoc(h) => {
                    hash.update(format!("heredoc {}\0{}\0", h.name, h.content).as_bytes());
                    items.push(Item::Heredoc {
                        name: h.name.clone(),
                        content: h.content.clone(),
                    });
                }
                Source::Path(p) if add && is_url(p) => {
                    let (path, name, digest) = self.fetch(p, c.checksum.as_deref())?;
                    hash.update(format!("url {p}\0{digest}\0").as_bytes());
                    items.push(Item::Fetched { path, name });
                }
                Source::Path(p) => match &from {
                    Some(_) => {
                        let rel = super::ignore::clean_path(&format!("/{p}"));
                        hash.update(format!("from {rel}\0").as_bytes());
                        items.push(Item::Image {
                            rel: rel.trim_start_matches('/').to_string(),
                        });
                    }
                    None => {
                        let root = dir_context.as_ref().map_or(&self.context, |(r, _)| r);
                        for rel in copy::context_sources(root, &matcher, p)? {
                            context_rels.push(rel.clone());
                            items.push(Item::Context { rel });
                        }
                    }
                },
            }
        }
        if let Some(f) = &from {
            // The source image's layers decide the content.
            for l in &f.layers {
                hash.update(l.as_os_str().as_encoded_bytes());
            }
        }
        let mut kind = if items.len() > 1 { "multi" } else { "file" };
        if !context_rels.is_empty() {
            let cache = &self.cache;
            let known = |k: &str| cache.content_for_stat(k).map(String::from);
            let root = dir_context.as_ref().map_or(&self.context, |(r, _)| r);
            let (stat_key, content) =
                copy::hash_context_sources(root, &matcher, &context_rels, &known)?;
            if self.cache.content_for_stat(&stat_key).is_none() {
                self.cache.remember_stat(stat_key, content.clone());
            }
            hash.update(content.as_bytes());
            if items.len() == 1 && root.is_dir(&context_rels[0]) {
                kind = "dir";
            }
        }
        if (items.len() > 1)
            && !dest.ends_with('/')
            && !base.find(&dest).is_some_and(|(_, m)| m.is_dir())
        {
            bail!(
                "adding multiple sources to non-directory destination {:?}",
                c.dest
            );
        }
        let plan = CopyPlan {
            context: context_dir,
            matcher,
            from,
            base,
            items,
            dest,
            attrs,
            extract: add,
        };
        Ok((plan, hash.finish().hex().to_string(), kind))
    }

    /// ADD of a URL: download into the build's scratch dir, verify a
    /// `--checksum`, name it after the URL's last path element.
    fn fetch(&mut self, url: &str, checksum: Option<&str>) -> Result<(PathBuf, String, String)> {
        let dir = self.scratch_dir()?;
        let path = dir.join(format!("fetch-{:08x}", rand::random::<u32>()));
        let mut resp = ureq::get(url)
            .call()
            .with_context(|| format!("fetching {url}"))?;
        let mut reader = resp.body_mut().as_reader();
        let mut f = fs::File::create(&path)?;
        let mut h = crate::storage::digest::Hasher::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = std::io::Read::read(&mut reader, &mut buf)
                .with_context(|| format!("fetching {url}"))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            f.write_all(&buf[..n])?;
        }
        let digest = h.finish().to_string();
        if let Some(want) = checksum {
            if want != digest {
                bail!("checksum mismatch for {url}: expected {want}, got {digest}");
            }
        }
        let name = url
            .split(['?', '#'])
            .next()
            .unwrap_or(url)
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty() && !n.contains(':'))
            .unwrap_or("index.html")
            .to_string();
        Ok((path, name, digest))
    }

    /// The ids the storage work sees: rootless, the user namespace's.
    fn id_maps_of_store(&mut self) -> Result<IdMaps> {
        if self.store.rootless {
            self.id_maps()
        } else {
            Ok(IdMaps::identity())
        }
    }

    fn id_maps(&mut self) -> Result<IdMaps> {
        if self.maps.is_none() {
            self.maps = Some(IdMaps::for_current_user()?);
        }
        Ok(self.maps.clone().expect("set above"))
    }

    /// Run `f` where layer files may be handled: in a user-namespace child
    /// when rootless, here when root.
    fn in_storage_ns<T: serde::Serialize + serde::de::DeserializeOwned>(
        &mut self,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        if !self.store.rootless || userns::in_user_namespace() {
            return f();
        }
        let maps = self.id_maps()?;
        let bytes = userns::run_in_child_userns(&maps, || Ok(serde_json::to_vec(&f()?)?))?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    fn copy_step(&mut self, plan: &CopyPlan) -> Result<LayerRecord> {
        let scratch = self.scratch_dir()?;
        let mtime = self.opts.edits.mtime;
        let compress = self.opts.compress_layers;
        let store = self.store;
        self.in_storage_ns(|| {
            let layer = scratch.join(format!("copy-{:08x}", rand::random::<u32>()));
            let work = scratch.join(format!("work-{:08x}", rand::random::<u32>()));
            fs::create_dir(&layer)?;
            fs::create_dir(&work)?;
            let result = copy::write_layer(plan, &layer, &work)
                .and_then(|()| commit::layer_from_dir_as(store, &layer, mtime, compress));
            let _ = crate::storage::layers::remove_tree(&layer);
            let _ = crate::storage::layers::remove_tree(&work);
            result
        })
    }

    /// RUN: a container on the current image, its changes a new layer.
    fn run_step(&mut self, st: &StageState, run: &containerfile::Run) -> Result<LayerRecord> {
        let img = st.image.clone().context(
            "RUN in an empty image (FROM scratch with nothing added): there is no shell to run",
        )?;
        let shell: Vec<String> = st
            .config
            .config
            .extra
            .get("Shell")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        let mut mounts = Vec::new();
        let args = match run.program() {
            Program::Exec(argv) => argv,
            Program::Shell(script) => shell.iter().cloned().chain([script]).collect(),
            Program::Script { content, .. } => {
                let dir = self.scratch_dir()?;
                let path = dir.join(format!("script-{:08x}", rand::random::<u32>()));
                fs::write(&path, content)?;
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
                // Under /dev (a tmpfs): the script never lands in the layer.
                let target = "/dev/.coracle-run-script".to_string();
                mounts.push(MountSpec {
                    kind: crate::storage::containers::MountKind::Bind,
                    source: path.to_string_lossy().into_owned(),
                    destination: target.clone(),
                    options: vec!["ro".into()],
                    ..Default::default()
                });
                vec![target]
            }
        };
        let workdir = st
            .config
            .config
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        let scratch = self.scratch_dir()?;
        let step_mounts = run_mounts::prepare(
            &[&run.mounts[..], &self.opts.run_mounts[..]].concat(),
            &run_mounts::Sources {
                secrets: &self.opts.secrets,
                ssh: &self.opts.ssh,
                context: &self.opts.context,
                scratch: &scratch,
                cache_root: &self.store.root.join(CACHE_MOUNTS_DIR),
                workdir: &workdir,
            },
        )?;
        mounts.extend(step_mounts.mounts.iter().cloned());
        let template = &self.opts.run;
        // The template's (the host's proxy variables) under the image's.
        let image_env = st.config.config.env.clone().unwrap_or_default();
        let key = |e: &String| e.split_once('=').map_or(e.clone(), |(k, _)| k.to_string());
        let mut env: Vec<String> = (template.env.iter())
            .filter(|e| !image_env.iter().any(|i| key(i) == key(e)))
            .cloned()
            .collect();
        env.extend(image_env);
        for (k, v) in st.arg_env() {
            env.push(format!("{k}={v}"));
        }
        env.extend(step_mounts.env.iter().cloned());
        let network = match run.network.as_deref() {
            Some("none") => NetworkMode::None,
            Some("host") => NetworkMode::Host,
            _ => template.network.clone(),
        };
        mounts.extend(template.mounts.iter().cloned());
        let mut annotations = BTreeMap::new();
        annotations.insert(BUILD_ANNOTATION.to_string(), builder_identity());
        let cfg = ContainerConfig {
            image_name: img.names.first().cloned().unwrap_or_else(|| img.id.clone()),
            args,
            env,
            workdir,
            user: st.config.config.user.clone().unwrap_or_default(),
            annotations,
            mounts,
            tmpfs: (template.tmpfs.iter())
                .chain(&step_mounts.tmpfs)
                .cloned()
                .collect(),
            network,
            stop_timeout: 10,
            create_command: crate::storage::containers::command_line_without_secrets(
                std::env::args(),
            ),
            ..template.clone()
        };
        let cfg = container::create(self.store, cfg, &img)?;
        let id = cfg.id.clone();
        let outcome = self
            .own_ssh_sockets(&step_mounts.ssh, &cfg)
            .and_then(|()| self.run_container(&id));
        let result = outcome.and_then(|()| {
            let store = self.store;
            let upper = store.containers.dir(&id).join("upper");
            let view = self.view(Some(&img));
            let mtime = self.opts.edits.mtime;
            let compress = self.opts.compress_layers;
            let mut targets: Vec<String> = (self.opts.run.mounts.iter())
                .map(|m| m.destination.clone())
                .collect();
            targets.extend(step_mounts.targets());
            // `--compat-volumes`: what the step did under a VOLUME is undone.
            let volumes: Vec<String> = match &st.config.config.volumes {
                Some(v) if self.opts.compat_volumes => v.keys().cloned().collect(),
                _ => Vec::new(),
            };
            // With id maps the upper dir is the whole tree, ids shifted.
            let remap = match &cfg.launch.id_mappings {
                Some(wanted) => {
                    let base = self.id_maps_of_store()?;
                    let maps = crate::runtime::idmap::host_maps(wanted, &base)?;
                    let dir = self
                        .scratch_dir()?
                        .join(format!("remap-{:08x}", rand::random::<u32>()));
                    Some((base, maps, dir))
                }
                None => None,
            };
            let layers = img.layers.clone();
            self.in_storage_ns(|| {
                prune_mount_targets(&upper, &view, &targets);
                for v in &volumes {
                    let rel = super::ignore::clean_path(&format!("/{v}"));
                    let rel = rel.trim_start_matches('/');
                    if !rel.is_empty() && parents_are_dirs(&upper, rel) {
                        let _ = crate::storage::layers::remove_tree(&upper.join(rel));
                    }
                }
                let Some((base, maps, dir)) = &remap else {
                    return commit::layer_from_dir_as(store, &upper, mtime, compress);
                };
                let unshift = |u: u32, g: u32| {
                    let u = (base.host_uid(u)).and_then(|h| maps.container_uid(h));
                    let g = (base.host_gid(g)).and_then(|h| maps.container_gid(h));
                    (u.unwrap_or(65534), g.unwrap_or(65534))
                };
                let old = dir.join("image");
                let tar = dir.join("layer.tar");
                let made = (|| {
                    fs::create_dir_all(&old)?;
                    squash::merge_into(store, &layers, &old, false)?;
                    let out = std::io::BufWriter::new(fs::File::create(&tar)?);
                    super::remap_diff::write_diff(&upper, &old, &unshift, mtime, out)?;
                    let layer = commit::layer_from_tar(store, fs::File::open(&tar)?)?;
                    match compress {
                        true => commit::keep_compressed_tar(store, layer, &tar),
                        false => Ok(layer),
                    }
                })();
                let _ = crate::storage::layers::remove_tree(dir);
                made
            })
        });
        let keep = self.opts.keep_containers;
        if if result.is_ok() {
            keep.after_success
        } else {
            keep.after_failure
        } {
            keep_container(self.store, &id);
        } else if let Err(e) = crate::runtime::removal::remove_files(self.store, &id) {
            crate::warn!("removing build container {id}: {e:#}");
        }
        result
    }

    /// Give each `type=ssh` socket the owner its mount asks for, as the
    /// build container's ids map it (created here, they are root's).
    fn own_ssh_sockets(
        &mut self,
        sockets: &[run_mounts::SshSocket],
        cfg: &ContainerConfig,
    ) -> Result<()> {
        if sockets.is_empty() {
            return Ok(());
        }
        let base = self.id_maps_of_store()?;
        let maps = match &cfg.launch.id_mappings {
            Some(wanted) => Some(crate::runtime::idmap::host_maps(wanted, &base)?),
            None => None,
        };
        let mut owners = Vec::new();
        for s in sockets {
            let (uid, gid) = match &maps {
                Some(m) => (
                    (m.host_uid(s.uid)).and_then(|h| base.container_uid(h)),
                    (m.host_gid(s.gid)).and_then(|h| base.container_gid(h)),
                ),
                None => (Some(s.uid), Some(s.gid)),
            };
            let (Some(uid), Some(gid)) = (uid, gid) else {
                bail!(
                    "RUN --mount=type=ssh: uid {} or gid {} is not mapped in the build container",
                    s.uid,
                    s.gid
                );
            };
            if (uid, gid) != (0, 0) {
                owners.push((s.forwarder.socket.clone(), uid, gid));
            }
        }
        if owners.is_empty() {
            return Ok(());
        }
        self.in_storage_ns(|| {
            for (path, uid, gid) in &owners {
                std::os::unix::fs::lchown(path, Some(*uid), Some(*gid))
                    .with_context(|| format!("RUN --mount=type=ssh: owning {}", path.display()))?;
            }
            Ok(())
        })
    }

    /// Start the container attached to our stdio and wait for it.
    fn run_container(&self, id: &str) -> Result<()> {
        let _ = std::io::stdout().flush();
        // -q: the commands' output is not shown either (stderr still is).
        let saved = if self.opts.quiet {
            // SAFETY: plain fd juggling on our own stdout.
            unsafe {
                let saved = libc::dup(1);
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
                libc::dup2(null, 1);
                libc::close(null);
                Some(saved)
            }
        } else {
            None
        };
        let started = container::start(self.store, id, true);
        if let Some(fd) = saved {
            // SAFETY: restore the stdout saved above.
            unsafe {
                libc::dup2(fd, 1);
                libc::close(fd);
            }
        }
        let started = started.map_err(|e| anyhow!("while running runtime: {e:#}"))?;
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child, the monitor.
            let r = unsafe { libc::waitpid(started.monitor, &mut status, 0) };
            if r == started.monitor {
                break;
            }
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                bail!(
                    "waiting for the build container: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        if code != 0 {
            bail!("while running runtime: exit status {code}");
        }
        Ok(())
    }
}

/// The RUN containers' settings as they enter a RUN step's cache key.
fn run_key(t: &ContainerConfig) -> String {
    format!(
        "run {} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        t.network,
        t.mounts
            .iter()
            .map(|m| (&m.source, &m.destination, &m.options))
            .collect::<Vec<_>>(),
        t.cap_add,
        t.cap_drop,
        t.security_opt,
        t.add_hosts,
        (&t.dns, &t.dns_search, &t.dns_options),
        (&t.ipc, &t.pid, &t.uts),
    ) + &tuning_key(t)
}

/// `--device`, `--shm-size`, `--group-add`, `--no-hosts`... in the key
/// only when set, so plain builds keep their cache.
fn tuning_key(t: &ContainerConfig) -> String {
    let mut k = String::new();
    if let Some(m) = &t.launch.id_mappings {
        k.push_str(&format!(" idmap {m:?}"));
    }
    if t.tuning != Default::default() {
        k.push_str(&format!(" {:?}", t.tuning));
    }
    if t.no_hosts {
        k.push_str(" no-hosts");
    }
    k
}

/// The error's whole chain as one message with no typed causes, so a
/// failing step always ends the build with 125 as podman does.
fn flatten(e: anyhow::Error) -> anyhow::Error {
    anyhow!("{e:#}")
}

fn commit_line(prefix: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{prefix}COMMIT {n}"),
        None => format!("{prefix}COMMIT"),
    }
}

/// The instruction text after its keyword (`RUN echo hi` -> `echo hi`).
fn strip_keyword(text: &str) -> &str {
    let t = text.trim_start();
    let end = t.find(char::is_whitespace).unwrap_or(t.len());
    t[end..].trim()
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The stage's config written over what `image_from_layers` started from
/// (the parent's); history and rootfs stay its business.
fn copy_config(c: &mut ImageConfig, mine: &ImageConfig) {
    c.config = mine.config.clone();
    c.author = mine.author.clone();
    // The stage's platform wins: a scratch stage built for another
    // platform has no parent to carry it.
    if c.architecture.is_empty() || !mine.architecture.is_empty() {
        c.architecture = mine.architecture.clone();
        c.variant = mine.variant.clone();
    }
    if c.os.is_empty() || !mine.os.is_empty() {
        c.os = mine.os.clone();
    }
    // `--os-version`, `--os-feature`: the stage's, or none.
    for k in [OS_VERSION, OS_FEATURES] {
        match mine.extra.get(k) {
            Some(v) => c.extra.insert(k.to_string(), v.clone()),
            None => c.extra.remove(k),
        };
    }
}

fn command_argv(cmd: &Command, shell: &[String]) -> Vec<String> {
    match cmd {
        Command::Exec(argv) => argv.clone(),
        Command::Shell(line) => shell.iter().cloned().chain([line.clone()]).collect(),
    }
}

fn nanos(d: &Option<std::time::Duration>) -> Option<Value> {
    d.map(|d| json!(d.as_nanos() as u64))
}

/// A metadata instruction applied to the stage's config.
/// ARG and ENV values together stay within [`MAX_SCOPE_BYTES`].
fn check_scope_size(st: &StageState) -> Result<()> {
    let args: usize = st
        .args
        .iter()
        .map(|(k, v)| k.len() + v.as_ref().map_or(0, String::len))
        .sum();
    let env: usize = st
        .config
        .config
        .env
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(String::len)
        .sum();
    if args + env > MAX_SCOPE_BYTES {
        bail!(
            "the build arguments and environment exceed {} MiB together",
            MAX_SCOPE_BYTES >> 20
        );
    }
    Ok(())
}

fn apply_instruction(st: &mut StageState, ins: &Instruction) -> Result<()> {
    let shell: Vec<String> = st
        .config
        .config
        .extra
        .get("Shell")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    let c = &mut st.config.config;
    match ins {
        Instruction::Env(kvs) => {
            super::config_edit::set_env(c, kvs);
            return check_scope_size(st);
        }
        Instruction::Label(kvs) => super::config_edit::add_labels(c, kvs),
        Instruction::Expose(ports) => super::config_edit::expose(c, ports),
        Instruction::Volume(vols) => super::config_edit::add_volumes(c, vols),
        Instruction::User(u) => c.user = Some(u.clone()),
        Instruction::Workdir(w) => {
            let joined = if w.starts_with('/') {
                w.clone()
            } else {
                let base = c.working_dir.clone().unwrap_or_else(|| "/".into());
                format!("{}/{w}", base.trim_end_matches('/'))
            };
            c.working_dir = Some(super::ignore::clean_path(&joined));
        }
        Instruction::StopSignal(s) => c.stop_signal = Some(s.clone()),
        Instruction::Cmd(cmd) => {
            c.cmd = Some(command_argv(cmd, &shell));
            st.cmd_set = true;
        }
        Instruction::Entrypoint(cmd) => {
            c.entrypoint = Some(command_argv(cmd, &shell));
            // Docker: an ENTRYPOINT drops the CMD inherited from the base.
            if !st.cmd_set {
                c.cmd = None;
            }
        }
        Instruction::Shell(argv) => {
            c.extra.insert("Shell".into(), json!(argv));
        }
        Instruction::Healthcheck(h) => {
            let v = match h {
                Healthcheck::None => json!({"Test": ["NONE"]}),
                Healthcheck::Cmd {
                    test,
                    interval,
                    timeout,
                    start_period,
                    start_interval,
                    retries,
                } => {
                    let test = match test {
                        Command::Exec(argv) => std::iter::once("CMD".to_string())
                            .chain(argv.iter().cloned())
                            .collect(),
                        Command::Shell(line) => vec!["CMD-SHELL".to_string(), line.clone()],
                    };
                    let mut m = serde_json::Map::new();
                    m.insert("Test".into(), json!(test));
                    for (k, d) in [
                        ("Interval", interval),
                        ("Timeout", timeout),
                        ("StartPeriod", start_period),
                        ("StartInterval", start_interval),
                    ] {
                        if let Some(v) = nanos(d) {
                            m.insert(k.into(), v);
                        }
                    }
                    if let Some(r) = retries {
                        m.insert("Retries".into(), json!(r));
                    }
                    Value::Object(m)
                }
            };
            c.extra.insert("Healthcheck".into(), v);
        }
        Instruction::OnBuild(o) => {
            let list = c
                .extra
                .entry("OnBuild")
                .or_insert_with(|| Value::Array(Vec::new()));
            if !list.is_array() {
                *list = Value::Array(Vec::new());
            }
            list.as_array_mut()
                .expect("an array")
                .push(Value::String(o.trigger.clone()));
        }
        Instruction::Maintainer(m) => st.config.author = Some(m.clone()),
        Instruction::Arg(_) => {}
        Instruction::From(_) => bail!("FROM inside a stage"),
        other => bail!("{} is not a metadata instruction", other.keyword()),
    }
    Ok(())
}

/// The runtime makes mount points (/etc/hosts, /proc...) in the rootfs when
/// the image lacks them; those empty files and dirs are not the step's
/// work. Remove them from the upper dir, and parents left empty that only
/// came along with them.
/// `extra`: the destinations of `build --volume` mounts, as podman leaves
/// them out too.
fn prune_mount_targets(upper: &Path, view: &ImageView, extra: &[String]) {
    use std::os::unix::fs::MetadataExt;
    const TARGETS: &[&str] = &[
        "etc/hosts",
        "etc/hostname",
        "etc/resolv.conf",
        "run/.containerenv",
        "dev/.coracle-run-script",
        "proc",
        "sys",
        "dev",
    ];
    let extra = extra.iter().map(|d| d.trim_start_matches('/'));
    for t in TARGETS.iter().copied().chain(extra) {
        // The step may have made a parent a link (`ln -s /x /etc`): never
        // look, let alone remove, through it.
        if !parents_are_dirs(upper, t) {
            continue;
        }
        let p = upper.join(t);
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        let empty = if m.is_dir() {
            fs::read_dir(&p)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false)
        } else {
            m.is_file() && m.len() == 0
        };
        if !empty || view.find(t).is_some() {
            continue;
        }
        let _ = if m.is_dir() {
            fs::remove_dir(&p)
        } else {
            fs::remove_file(&p)
        };
        // Parents that are empty now and hold nothing new about themselves.
        let mut rel = Path::new(t).parent().map(Path::to_path_buf);
        while let Some(r) = rel.filter(|r| !r.as_os_str().is_empty()) {
            let dir = upper.join(&r);
            let is_empty = fs::read_dir(&dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            let Ok(dm) = fs::symlink_metadata(&dir) else {
                break;
            };
            // Made only to hold the mount point, or a copy-up of the
            // image's own directory that changed nothing about it.
            let redundant = match view.find(&r.to_string_lossy()) {
                None => true,
                Some((_, lm)) => {
                    lm.is_dir()
                        && lm.mode() == dm.mode()
                        && lm.uid() == dm.uid()
                        && lm.gid() == dm.gid()
                }
            };
            if !is_empty || !redundant {
                break;
            }
            let _ = fs::remove_dir(&dir);
            rel = r.parent().map(Path::to_path_buf);
        }
    }
}

/// Whether every parent of `rel` below `root` is a directory, not a link.
fn parents_are_dirs(root: &Path, rel: &str) -> bool {
    let mut cur = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    parts[..parts.len() - 1].iter().all(|part| {
        cur.push(part);
        fs::symlink_metadata(&cur).is_ok_and(|m| m.is_dir())
    })
}

/// Delete a tree that may hold files of subordinate owners.
fn remove_tree_any(store: &Store, dir: &Path) {
    if crate::storage::layers::remove_tree(dir).is_ok() || !store.rootless {
        return;
    }
    if let Ok(maps) = IdMaps::for_current_user() {
        let _ = userns::run_in_child_userns(&maps, || {
            crate::storage::layers::remove_tree(dir)?;
            Ok(Vec::new())
        });
    }
}

/// Leftovers of builds that were killed: their RUN containers (found by
/// the annotation, their builder gone) and staging dirs in tmp/.
fn sweep_stale(store: &Store) {
    store.layers.sweep_stale_temp();
    let Ok(ids) = store.containers.ids() else {
        return;
    };
    for id in ids {
        let Ok(cfg) = store.containers.load_config(&id) else {
            continue;
        };
        let Some(owner) = cfg.annotations.get(BUILD_ANNOTATION) else {
            continue;
        };
        // A zombie builder (killed, not reaped yet) counts as gone.
        let (pid, start) = owner.split_once(':').unwrap_or((owner, "0"));
        let (pid, start) = (pid.parse().unwrap_or(0), start.parse().unwrap_or(0));
        if crate::runtime::sys::process_is(pid, start) {
            continue;
        }
        if let Ok(state) = crate::runtime::state::current_state(store, &id) {
            if crate::runtime::state::is_running(&state) {
                let _ = container::stop(store, &id, 0);
            }
        }
        let _ = crate::runtime::removal::remove_files(store, &id);
    }
}

/// A RUN container `--rm=false` keeps: no longer its builder's, so no
/// later build sweeps it; the user removes it as any other.
fn keep_container(store: &Store, id: &str) {
    let kept = store.containers.load_config(id).and_then(|mut cfg| {
        cfg.annotations.remove(BUILD_ANNOTATION);
        store.containers.save_config(&cfg)
    });
    if let Err(e) = kept {
        crate::warn!("keeping build container {id}: {e:#}");
    }
}

/// Whether `img` was made less than `ttl` ago (`--cache-ttl`).
fn created_within(img: &ImageRecord, ttl: std::time::Duration) -> bool {
    let Some(created) = img.created.as_deref() else {
        return false;
    };
    let Ok(at) = crate::format::human::parse_rfc3339(created) else {
        return false;
    };
    std::time::SystemTime::now()
        .duration_since(at)
        .is_ok_and(|age| age < ttl)
}

/// `--logfile`: stdout and stderr appended to a file until dropped.
struct OutputRedirect {
    saved: [i32; 2],
}

impl OutputRedirect {
    fn to(path: &Path) -> Result<OutputRedirect> {
        use std::os::fd::AsRawFd;
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening log file {}", path.display()))?;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        let mut saved = [-1; 2];
        for (i, fd) in [1, 2].into_iter().enumerate() {
            // SAFETY: duplicating our own standard descriptors onto the log
            // file; the originals are kept to be put back on drop.
            unsafe {
                saved[i] = libc::dup(fd);
                libc::dup2(file.as_raw_fd(), fd);
            }
        }
        Ok(OutputRedirect { saved })
    }
}

impl Drop for OutputRedirect {
    fn drop(&mut self) {
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        for (i, fd) in [1, 2].into_iter().enumerate() {
            if self.saved[i] >= 0 {
                // SAFETY: restoring the descriptors saved in `to`.
                unsafe {
                    libc::dup2(self.saved[i], fd);
                    libc::close(self.saved[i]);
                }
            }
        }
    }
}

/// `pid:start-time` of this process: what a RUN container records of its
/// builder, so a sweep never mistakes a reused pid for a live build.
fn builder_identity() -> String {
    let pid = std::process::id() as i32;
    let start = crate::runtime::sys::process_start_time(pid).unwrap_or(0);
    format!("{pid}:{start}")
}

/// The OCI name of this machine's architecture.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> StageState {
        StageState {
            image: None,
            config: ImageConfig::default(),
            args: Vec::new(),
            cmd_set: false,
            clear_onbuild: false,
            base_annotations: BTreeMap::new(),
            stage_labels: Vec::new(),
            remote_parent: String::new(),
        }
    }

    #[test]
    fn entrypoint_resets_inherited_cmd_only() {
        let mut st = state();
        st.config.config.cmd = Some(vec!["base".into()]);
        apply_instruction(
            &mut st,
            &Instruction::Entrypoint(Command::Exec(vec!["/e".into()])),
        )
        .unwrap();
        assert_eq!(st.config.config.cmd, None);
        let mut st = state();
        apply_instruction(&mut st, &Instruction::Cmd(Command::Exec(vec!["c".into()]))).unwrap();
        apply_instruction(
            &mut st,
            &Instruction::Entrypoint(Command::Shell("run".into())),
        )
        .unwrap();
        assert_eq!(st.config.config.cmd, Some(vec!["c".to_string()]));
        assert_eq!(
            st.config.config.entrypoint,
            Some(vec!["/bin/sh".to_string(), "-c".into(), "run".into()])
        );
    }

    #[test]
    fn env_wins_over_arg_and_args_become_env() {
        let mut st = state();
        st.args.push(("A".into(), Some("arg".into())));
        st.args.push(("B".into(), Some("b".into())));
        st.args.push(("C".into(), None));
        st.config.config.env = Some(vec!["A=env".into()]);
        assert_eq!(st.lookup("A").as_deref(), Some("env"));
        assert_eq!(st.lookup("B").as_deref(), Some("b"));
        assert_eq!(st.lookup("C"), None);
        assert_eq!(st.arg_env(), vec![("B".to_string(), "b".to_string())]);
    }

    #[test]
    fn workdir_is_relative_to_the_last() {
        let mut st = state();
        apply_instruction(&mut st, &Instruction::Workdir("/a".into())).unwrap();
        apply_instruction(&mut st, &Instruction::Workdir("b/../c".into())).unwrap();
        assert_eq!(st.config.config.working_dir.as_deref(), Some("/a/c"));
        assert_eq!(strip_keyword("RUN  echo hi"), "echo hi");
    }

    #[test]
    fn pruning_never_looks_through_a_link_the_step_made() {
        let upper = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("hosts"), "").unwrap();
        std::os::unix::fs::symlink(outside.path(), upper.path().join("etc")).unwrap();
        fs::create_dir(upper.path().join("run")).unwrap();
        fs::write(upper.path().join("run/.containerenv"), "").unwrap();
        prune_mount_targets(upper.path(), &ImageView::default(), &[]);
        assert!(
            outside.path().join("hosts").exists(),
            "a file beyond a link"
        );
        assert!(
            !upper.path().join("run").exists(),
            "the step's own mount target"
        );
    }
}
