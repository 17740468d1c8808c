//! Image verbs: pull, images, image inspect/tag/untag/rm/prune/history/exists.

use super::output::{print, print_inspect, println, unescape};
use super::registry_flags::{platform_from_flags, RegistryFlags};
use super::GlobalOpts;
use crate::engine::images;
use crate::engine::lookup::{find_image, try_find_image};
use crate::engine::types::{split_name, ImageConfig, ImageRecord, PullOptions, Store};
use crate::error::{not_found, SilentExit};
use crate::format::{human, table};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Build an image from a Containerfile
    Build(super::build::BuildArgs),
    /// Pull an image from a registry
    Pull(PullArgs),
    /// List images in local storage
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Display the configuration of an image
    Inspect(ImageInspectArgs),
    /// Add an additional name to a local image
    Tag(TagArgs),
    /// Remove a name from a local image
    Untag(UntagArgs),
    /// Remove one or more images from local storage
    Rm(RmiArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Show history of a specified image
    History(HistoryArgs),
    /// Check if an image exists in local storage
    Exists(ExistsArgs),
    /// Save image(s) to an archive
    Save(super::archive::SaveArgs),
    /// Load image(s) from a tar archive
    Load(super::archive::LoadArgs),
    /// Import a tarball to create a filesystem image
    Import(super::commit::ImportArgs),
}

pub fn dispatch(g: &GlobalOpts, c: ImageCommand) -> Result<()> {
    match c {
        ImageCommand::Build(a) => super::build::build(g, a),
        ImageCommand::Pull(a) => pull(g, a),
        ImageCommand::Ls(a) => images(g, a),
        ImageCommand::Inspect(a) => image_inspect(g, a),
        ImageCommand::Tag(a) => tag(g, a),
        ImageCommand::Untag(a) => untag(g, a),
        ImageCommand::Rm(a) => rmi(g, a),
        ImageCommand::Prune(a) => prune(g, a),
        ImageCommand::History(a) => history(g, a),
        ImageCommand::Exists(a) => exists(g, a),
        ImageCommand::Save(a) => super::archive::save(g, a),
        ImageCommand::Load(a) => super::archive::load(g, a),
        ImageCommand::Import(a) => super::commit::import(g, a),
    }
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Image to pull (NAME[:TAG|@DIGEST])
    pub image: String,
    /// Set the OS/ARCH[/VARIANT] of the image to pull
    #[arg(long)]
    pub platform: Option<String>,
    /// Use ARCH instead of the architecture of the machine
    #[arg(long)]
    pub arch: Option<String>,
    /// Use OS instead of the running OS
    #[arg(long)]
    pub os: Option<String>,
    /// Use VARIANT instead of the running architecture variant
    #[arg(long)]
    pub variant: Option<String>,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

pub fn pull(g: &GlobalOpts, a: PullArgs) -> Result<()> {
    let store = g.open_store()?;
    let opts = PullOptions {
        client: a.registry.client_options()?,
        platform: platform_from_flags(
            a.platform.as_deref(),
            a.os.as_deref(),
            a.arch.as_deref(),
            a.variant.as_deref(),
        )?,
        quiet: a.quiet,
    };
    let img = pull_image(&store, &a.image, &opts)?;
    println(&img.id)
}

/// Pull (see [`images::pull_image`]).
pub use crate::engine::images::pull_image;

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Change the output format to JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print column headings
    #[arg(short = 'n', long)]
    pub noheading: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Display only image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Sort by created, id, repository, size or tag
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Optional repository[:tag] to list
    pub reference: Option<String>,
}

/// One image's parts for listing: the record plus its parsed config.
struct Listed {
    rec: ImageRecord,
    config: ImageConfig,
}

fn load_listed(store: &Store) -> Result<Vec<Listed>> {
    let images = store.images.load()?;
    let mut out = Vec::with_capacity(images.list.len());
    for rec in images.list {
        let config = ImageConfig::parse(&store.blobs.read(&rec.config_digest())?)?;
        out.push(Listed { rec, config });
    }
    Ok(out)
}

fn created_secs(created: Option<&str>) -> i64 {
    created
        .and_then(|c| human::parse_rfc3339(c).ok())
        .map(unix_secs)
        .unwrap_or(0)
}

fn unix_secs(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn created_time(created: Option<&str>) -> Option<std::time::SystemTime> {
    created.and_then(|c| human::parse_rfc3339(c).ok())
}

fn since_text(created: Option<&str>) -> String {
    match created_time(created) {
        Some(t) => human::time_ago(t),
        None => "N/A".to_string(),
    }
}

fn created_at_text(created: Option<&str>) -> String {
    match created_time(created) {
        Some(t) => human::go_time_string(t),
        None => String::new(),
    }
}

/// One `--filter` condition on an image.
type ImagePredicate = Box<dyn Fn(&Listed) -> bool>;

fn image_filter(filters: &[String], list: &[Listed]) -> Result<Vec<ImagePredicate>> {
    let mut preds: Vec<ImagePredicate> = Vec::new();
    for f in filters {
        let (key, value) = f
            .split_once('=')
            .with_context(|| format!("invalid image filter {f:?}: expected key=value"))?;
        let value = value.to_string();
        match key {
            "dangling" => {
                let want = parse_bool_filter(&value)?;
                preds.push(Box::new(move |l| l.rec.names.is_empty() == want));
            }
            "reference" => preds.push(Box::new(move |l| {
                l.rec.names.iter().any(|n| reference_matches(&value, n))
            })),
            "label" => {
                let (k, v) = match value.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (value.clone(), None),
                };
                preds.push(Box::new(move |l| {
                    let labels = l.config.config.labels.as_ref();
                    match (labels.and_then(|m| m.get(&k)), &v) {
                        (Some(_), None) => true,
                        (Some(have), Some(want)) => have == want,
                        _ => false,
                    }
                }));
            }
            "id" => preds.push(Box::new(move |l| l.rec.id.starts_with(&value))),
            "before" | "since" => {
                let anchor = list
                    .iter()
                    .find(|l| {
                        l.rec.id.starts_with(&value)
                            || l.rec.names.iter().any(|n| reference_matches(&value, n))
                    })
                    .map(|l| created_secs(l.rec.created.as_deref()))
                    .ok_or_else(|| not_found("image", value.clone()))?;
                let before = key == "before";
                preds.push(Box::new(move |l| {
                    let c = created_secs(l.rec.created.as_deref());
                    if before {
                        c < anchor
                    } else {
                        c > anchor
                    }
                }));
            }
            "readonly" => {
                let want = parse_bool_filter(&value)?;
                preds.push(Box::new(move |_| !want));
            }
            "intermediate" => {
                let want = parse_bool_filter(&value)?;
                preds.push(Box::new(move |_| !want));
            }
            _ => bail!("invalid image filter {key:?}"),
        }
    }
    Ok(preds)
}

fn parse_bool_filter(v: &str) -> Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => bail!("invalid filter value {v:?}: expected true or false"),
    }
}

/// podman's `reference=` filter: a glob over the full name, or over the
/// name without its registry (so `busybox` and `*/busybox:1` work).
fn reference_matches(pattern: &str, name: &str) -> bool {
    let (repo, tag) = split_name(name);
    let with_tag_default = |p: &str| -> bool {
        let (prepo, ptag) = split_name(p);
        let repo_ok = glob_match(prepo, repo)
            || repo
                .split_once('/')
                .map(|(_, rest)| {
                    glob_match(prepo, rest)
                        || rest
                            .rsplit('/')
                            .next()
                            .map(|last| glob_match(prepo, last))
                            .unwrap_or(false)
                })
                .unwrap_or(false);
        let tag_ok = match ptag {
            Some(t) => tag.map(|have| glob_match(t, have)).unwrap_or(false),
            None => true,
        };
        repo_ok && tag_ok
    };
    glob_match(pattern, name) || with_tag_default(pattern)
}

/// Shell-style `*` and `?` matching (what podman's reference filter takes).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn image_json(l: &Listed) -> Value {
    let r = &l.rec;
    json!({
        "Id": r.id,
        "ParentId": "",
        "RepoTags": r.names,
        "RepoDigests": r.repo_digests,
        "Size": r.size,
        "SharedSize": 0,
        "VirtualSize": r.size,
        "Labels": l.config.config.labels,
        "Containers": 0,
        "Names": r.names,
        "Digest": r.display_digest().to_string(),
        "History": r.names_history,
        "Created": created_secs(r.created.as_deref()),
        "CreatedAt": r.created.clone().unwrap_or_default(),
    })
}

/// A row for the images table and its templates (podman's field names).
fn image_row(l: &Listed, repo: &str, tag: &str, no_trunc: bool) -> Value {
    let r = &l.rec;
    let id = if no_trunc {
        format!("sha256:{}", r.id)
    } else {
        r.id[..12].to_string()
    };
    let since = since_text(r.created.as_deref());
    let history = r.names_history.join(", ");
    json!({
        "ID": id,
        "Id": r.id,
        "Repository": repo,
        "Tag": tag,
        "Digest": r.display_digest().to_string(),
        "Created": since,
        "CreatedSince": since,
        "CreatedAt": created_at_text(r.created.as_deref()),
        "CreatedTime": r.created.clone().unwrap_or_default(),
        "Size": human::human_size(r.size),
        "VirtualSize": r.size,
        "SharedSize": 0,
        "ReadOnly": false,
        "IsReadOnly": false,
        "History": history,
        "Containers": 0,
        "Names": r.names,
        "RepoTags": r.names,
        "RepoDigests": r.repo_digests,
        "Labels": l.config.config.labels.clone().unwrap_or_default(),
        "Dangling": r.names.is_empty(),
        "Arch": l.config.architecture,
        "Os": l.config.os,
    })
}

pub fn images(g: &GlobalOpts, a: ImagesArgs) -> Result<()> {
    let store = g.open_store()?;
    let all = load_listed(&store)?;
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let preds = image_filter(&filters, &all)?;
    let mut list: Vec<&Listed> = all.iter().filter(|l| preds.iter().all(|p| p(l))).collect();
    match a.sort.as_str() {
        "created" => list.sort_by_key(|l| std::cmp::Reverse(created_secs(l.rec.created.as_deref()))),
        "id" => list.sort_by(|x, y| x.rec.id.cmp(&y.rec.id)),
        "size" => list.sort_by_key(|l| std::cmp::Reverse(l.rec.size)),
        "repository" | "tag" => list.sort_by(|x, y| x.rec.names.first().cmp(&y.rec.names.first())),
        other => bail!("invalid option for --sort {other:?}: must be one of created, id, repository, size or tag"),
    }

    if a.quiet {
        let mut out = String::new();
        let mut seen = std::collections::HashSet::new();
        for l in &list {
            if seen.insert(&l.rec.id) {
                out.push_str(if a.no_trunc {
                    &l.rec.id
                } else {
                    &l.rec.id[..12]
                });
                out.push('\n');
            }
        }
        return print(&out);
    }
    if a.format.as_deref() == Some("json") {
        let rows: Vec<Value> = list.iter().map(|l| image_json(l)).collect();
        return println(&table::json_pretty(&Value::Array(rows)));
    }

    let mut rows = Vec::new();
    for l in &list {
        if l.rec.names.is_empty() {
            rows.push(image_row(l, "<none>", "<none>", a.no_trunc));
        }
        for name in &l.rec.names {
            let (repo, tag) = split_name(name);
            rows.push(image_row(l, repo, tag.unwrap_or("<none>"), a.no_trunc));
        }
    }
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.Created}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}"
    };
    let format = a.format.as_deref().map(unescape);
    let out = table::render_rows(
        format.as_deref(),
        default,
        &image_headers(),
        &rows,
        a.noheading,
    )?;
    print(&out)
}

fn image_headers() -> table::HeaderMap {
    table::HeaderMap::new(&[
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("Created", "CREATED"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
        ("ReadOnly", "R/O"),
    ])
}

/// podman's `image inspect` document for one image.
pub fn inspect_json(store: &Store, rec: &ImageRecord) -> Result<Value> {
    let raw_config = store.blobs.read(&rec.config_digest())?;
    let config = ImageConfig::parse(&raw_config)?;
    let raw: Value = serde_json::from_slice(&raw_config)?;
    let annotations = manifest_annotations(store, rec);
    let layer_dirs: Vec<String> = rec
        .layers
        .iter()
        .rev()
        .map(|d| store.layers.diff_dir(d).to_string_lossy().into_owned())
        .collect();
    let mut graph_data = serde_json::Map::new();
    if let Some((upper, lower)) = layer_dirs.split_first() {
        graph_data.insert("UpperDir".into(), json!(upper));
        if !lower.is_empty() {
            graph_data.insert("LowerDir".into(), json!(lower.join(":")));
        }
    }
    Ok(json!({
        "Id": rec.id,
        "Digest": rec.display_digest().to_string(),
        "RepoTags": rec.names,
        "RepoDigests": rec.repo_digests,
        "Parent": "",
        "Comment": config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": config.created.clone().unwrap_or_default(),
        "Config": raw.get("config").cloned().unwrap_or_else(|| json!({})),
        "Version": raw.get("docker_version").cloned().unwrap_or_else(|| json!("")),
        "Author": config.author.clone().unwrap_or_default(),
        "Architecture": config.architecture,
        "Variant": config.variant.clone().unwrap_or_default(),
        "Os": config.os,
        "Size": rec.size,
        "VirtualSize": rec.size,
        "GraphDriver": {"Name": store.driver.name(), "Data": graph_data},
        "RootFS": {"Type": "layers", "Layers": rec.layers.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
        "Labels": config.config.labels,
        "Annotations": annotations,
        "ManifestType": rec.manifest_media_type,
        "User": config.config.user.clone().unwrap_or_default(),
        "History": raw.get("history").cloned().unwrap_or_else(|| json!([])),
        "NamesHistory": rec.names_history,
    }))
}

fn manifest_annotations(store: &Store, rec: &ImageRecord) -> Value {
    store
        .blobs
        .read(&rec.manifest_digest)
        .ok()
        .and_then(|m| serde_json::from_slice::<Value>(&m).ok())
        .and_then(|m| m.get("annotations").cloned())
        .unwrap_or_else(|| json!({}))
}

#[derive(Args, Debug)]
pub struct ImageInspectArgs {
    /// Format the output to a Go template or json
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

pub fn image_inspect(g: &GlobalOpts, a: ImageInspectArgs) -> Result<()> {
    let store = g.open_store()?;
    let images = store.images.load()?;
    let mut docs = Vec::new();
    let mut missing = None;
    for name in &a.images {
        match try_find_image(&images, name)? {
            Some(rec) => docs.push(inspect_json(&store, rec)?),
            None => missing = Some(name.clone()),
        }
    }
    print_inspect(&docs, a.format.as_deref())?;
    match missing {
        Some(name) => Err(not_found("image", name)).context("inspecting object"),
        None => Ok(()),
    }
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format the output to a Go template or json
    #[arg(short, long)]
    pub format: Option<String>,
    /// Specify inspect-object type (image, container or all)
    #[arg(short, long, default_value = "all")]
    pub r#type: String,
    /// Display the total file size (containers)
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

/// Top-level `inspect`: containers first, then images (podman's order).
pub fn inspect(g: &GlobalOpts, a: InspectArgs) -> Result<()> {
    match a.r#type.as_str() {
        "image" => image_inspect(
            g,
            ImageInspectArgs {
                format: a.format,
                images: a.names,
            },
        ),
        "container" => super::inspect::container_inspect(
            g,
            super::inspect::ContainerInspectArgs {
                format: a.format,
                latest: false,
                size: a.size,
                containers: a.names,
            },
        ),
        "all" => {
            let store = g.open_store()?;
            let images = store.images.load()?;
            let mut docs = Vec::new();
            let mut missing = None;
            for name in &a.names {
                if let Some(id) = crate::engine::lookup::try_container_id(&store, name)? {
                    docs.push(super::inspect::inspect_json(&store, &id)?);
                } else if let Some(rec) = try_find_image(&images, name)? {
                    docs.push(inspect_json(&store, rec)?);
                } else {
                    missing = Some(name.clone());
                }
            }
            print_inspect(&docs, a.format.as_deref())?;
            match missing {
                Some(name) => bail!("inspecting object: no such object: {name:?}"),
                None => Ok(()),
            }
        }
        other => bail!("invalid type {other:?}: must be 'image', 'container' or 'all'"),
    }
}

#[derive(Args, Debug)]
pub struct TagArgs {
    pub image: String,
    #[arg(required = true, value_name = "TARGET_NAME")]
    pub targets: Vec<String>,
}

pub fn tag(g: &GlobalOpts, a: TagArgs) -> Result<()> {
    let store = g.open_store()?;
    images::tag(&store, &a.image, &a.targets).map(drop)
}

#[derive(Args, Debug)]
pub struct UntagArgs {
    pub image: String,
    /// Names to remove (all names when none given)
    pub names: Vec<String>,
}

pub fn untag(g: &GlobalOpts, a: UntagArgs) -> Result<()> {
    let store = g.open_store()?;
    images::untag(&store, &a.image, &a.names)
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove all images
    #[arg(short, long)]
    pub all: bool,
    /// Force removal of the image and any containers using it
    #[arg(short, long)]
    pub force: bool,
    /// Ignore errors if a specified image does not exist
    #[arg(short, long)]
    pub ignore: bool,
    pub images: Vec<String>,
}

pub fn rmi(g: &GlobalOpts, a: RmiArgs) -> Result<()> {
    let store = g.open_store()?;
    let report = images::remove(
        &store,
        &images::Removal {
            images: a.images,
            all: a.all,
            force: a.force,
            ignore_missing: a.ignore,
        },
    )?;
    let mut out = String::new();
    for line in &report.done {
        match line {
            images::Removed::Untagged(name) => out.push_str(&format!("Untagged: {name}\n")),
            images::Removed::Deleted(id) => out.push_str(&format!("Deleted: {id}\n")),
        }
    }
    print(&out)?;
    match report.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all images not in use by containers, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

pub fn prune(g: &GlobalOpts, a: PruneArgs) -> Result<()> {
    let store = g.open_store()?;
    let removed = images::prune(&store, |store| {
        let listed = load_listed(store)?;
        let preds = image_filter(&a.filter, &listed)?;
        Ok(listed
            .iter()
            .filter(|l| (a.all || l.rec.names.is_empty()) && preds.iter().all(|p| p(l)))
            .map(|l| l.rec.id.clone())
            .collect())
    })?;
    print(
        &removed
            .iter()
            .map(|id| format!("{id}\n"))
            .collect::<String>(),
    )
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    pub image: String,
    /// Display sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub human: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Display the numeric IDs only
    #[arg(short, long)]
    pub quiet: bool,
    /// Change the output to JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
}

pub fn history(g: &GlobalOpts, a: HistoryArgs) -> Result<()> {
    let store = g.open_store()?;
    let images = store.images.load()?;
    let rec = find_image(&images, &a.image)?;
    let config = ImageConfig::parse(&store.blobs.read(&rec.config_digest())?)?;
    let mut layer_sizes = rec
        .layers
        .iter()
        .map(|d| store.layers.record(d).map(|r| r.size).unwrap_or(0));
    let mut entries = Vec::new();
    if config.history.is_empty() {
        for d in &rec.layers {
            let _ = d;
            entries.push((
                None,
                String::new(),
                String::new(),
                layer_sizes.next().unwrap_or(0),
            ));
        }
    } else {
        for h in &config.history {
            let size = if h.empty_layer {
                0
            } else {
                layer_sizes.next().unwrap_or(0)
            };
            entries.push((
                h.created.clone(),
                h.created_by.clone().unwrap_or_default(),
                h.comment.clone().unwrap_or_default(),
                size,
            ));
        }
    }
    let count = entries.len();
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for (i, (created, created_by, comment, size)) in entries.into_iter().enumerate().rev() {
        let id_full = if i + 1 == count {
            rec.id.clone()
        } else {
            "<missing>".to_string()
        };
        let id = if a.no_trunc || id_full == "<missing>" {
            id_full.clone()
        } else {
            id_full[..12].to_string()
        };
        let by = if a.no_trunc || created_by.chars().count() <= 45 {
            created_by.clone()
        } else {
            format!("{}...", created_by.chars().take(42).collect::<String>())
        };
        let created_disp = if a.human {
            since_text(created.as_deref())
        } else {
            created.clone().unwrap_or_default()
        };
        let size_disp = if a.human {
            human::human_size(size)
        } else {
            size.to_string()
        };
        rows.push(json!({
            "ID": id, "Created": created_disp, "CreatedSince": created_disp,
            "CreatedAt": created.clone().unwrap_or_default(),
            "CreatedBy": by, "Size": size_disp, "Comment": comment, "Tags": rec.names.join(","),
        }));
        json_rows.push(json!({
            "id": id_full, "created": created, "CreatedBy": created_by,
            "size": size, "comment": comment, "tags": if i + 1 == count { json!(rec.names) } else { Value::Null },
        }));
    }
    if a.quiet {
        let mut out = String::new();
        for r in &rows {
            out.push_str(r["ID"].as_str().unwrap_or_default());
            out.push('\n');
        }
        return print(&out);
    }
    if a.format.as_deref() == Some("json") {
        return println(&table::json_compact(&Value::Array(json_rows)));
    }
    let headers = table::HeaderMap::new(&[
        ("ID", "ID"),
        ("Created", "CREATED"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ]);
    let format = a.format.as_deref().map(unescape);
    let out = table::render_rows(
        format.as_deref(),
        "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        &headers,
        &rows,
        false,
    )?;
    print(&out)
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    pub image: String,
}

pub fn exists(g: &GlobalOpts, a: ExistsArgs) -> Result<()> {
    let store = g.open_store()?;
    let images = store.images.load()?;
    match try_find_image(&images, &a.image)? {
        Some(_) => Ok(()),
        None => Err(SilentExit(1).into()),
    }
}
