//! `images` (`image ls`) with podman's filters and columns, and `image prune`,
//! which chooses with the same filters.

use super::output::{print, println, unescape};
use super::GlobalOpts;
use crate::engine::images;
use crate::engine::types::{split_name, ImageConfig, ImageRecord, Store};
use crate::error::not_found;
use crate::format::{human, table};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Display the image name history (latest first) in a last column
    #[arg(long)]
    pub history: bool,
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
pub(crate) struct Listed {
    pub(crate) rec: ImageRecord,
    pub(crate) config: ImageConfig,
}

/// The records, with each image's configuration when `with_config` (only
/// labels, platform and JSON output need it: reading 5,000 configs is most
/// of a plain listing's time in a big store).
pub(crate) fn load_listed(store: &Store, with_config: bool) -> Result<Vec<Listed>> {
    let images = store.images.read_all()?;
    let mut out = Vec::with_capacity(images.len());
    for rec in images {
        let config = if with_config {
            ImageConfig::parse(&store.blobs.read(&rec.config_digest())?)?
        } else {
            ImageConfig::default()
        };
        out.push(Listed { rec, config });
    }
    Ok(out)
}

/// Does a listing with these filters and format read image configurations?
fn needs_config(filters: &[String], format: Option<&str>) -> bool {
    filters.iter().any(|f| f.starts_with("label"))
        || format.is_some_and(|f| {
            f.contains("json")
                || f.contains("{{.}}")
                || f.contains(".Labels")
                || f.contains(".Arch")
                || f.contains(".Os")
        })
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

pub(super) fn since_text(created: Option<&str>) -> String {
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
pub(crate) type ImagePredicate = Box<dyn Fn(&Listed) -> bool>;

pub(crate) fn image_filter(filters: &[String], list: &[Listed]) -> Result<Vec<ImagePredicate>> {
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
                l.rec
                    .names
                    .iter()
                    .any(|n| crate::engine::filter::reference_matches(&value, n))
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
                            || l.rec
                                .names
                                .iter()
                                .any(|n| crate::engine::filter::reference_matches(&value, n))
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

pub(crate) fn image_json(l: &Listed) -> Value {
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
/// `slim`: only the default table's columns (a listing of thousands of
/// images builds no fields it does not print).
fn image_row(l: &Listed, repo: &str, tag: &str, no_trunc: bool, slim: bool) -> Value {
    let r = &l.rec;
    let id = if no_trunc {
        format!("sha256:{}", r.id)
    } else {
        r.id[..12].to_string()
    };
    let since = since_text(r.created.as_deref());
    if slim {
        return json!({
            "ID": id,
            "Repository": repo,
            "Tag": tag,
            "Digest": r.display_digest().to_string(),
            "Created": since,
            "Size": human::human_size(r.size),
            "History": r.names_history.join(", "),
        });
    }
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
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let all = load_listed(&store, needs_config(&filters, a.format.as_deref()))?;
    let preds = image_filter(&filters, &all)?;
    let mut list: Vec<&Listed> = all.iter().filter(|l| preds.iter().all(|p| p(l))).collect();
    match a.sort.as_str() {
        // Cached: a timestamp parsed once per image, not per comparison.
        "created" => list.sort_by_cached_key(|l| std::cmp::Reverse(created_secs(l.rec.created.as_deref()))),
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

    let slim = a.format.as_deref().is_none_or(|f| f.trim() == "table");
    let mut rows = Vec::new();
    for l in &list {
        if l.rec.names.is_empty() {
            rows.push(image_row(l, "<none>", "<none>", a.no_trunc, slim));
        }
        for name in &l.rec.names {
            let (repo, tag) = split_name(name);
            rows.push(image_row(
                l,
                repo,
                tag.unwrap_or("<none>"),
                a.no_trunc,
                slim,
            ));
        }
    }
    let mut default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.Created}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}"
    }
    .to_string();
    if a.history {
        default.push_str("\t{{.History}}");
        // podman's column says <none> for an image never renamed.
        for row in &mut rows {
            if row["History"].as_str().is_some_and(str::is_empty) {
                row["History"] = json!("<none>");
            }
        }
    }
    let format = a.format.as_deref().map(unescape);
    let out = table::render_rows(
        format.as_deref(),
        &default,
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
        ("History", "HISTORY"),
    ])
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all images not in use by containers, not just dangling ones (and the build cache, as --build-cache)
    #[arg(short, long)]
    pub all: bool,
    /// Remove the persistent build cache of RUN --mount=type=cache
    #[arg(long)]
    pub build_cache: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Remove images even when build containers (the RUN steps' of builds, running or not) use them; those containers go first
    #[arg(long)]
    pub external: bool,
}

/// `image prune`'s choice carried out: unnamed images (`all`: every one
/// no container uses) that pass `filters`; the ids removed.
pub fn prune_images(
    store: &crate::engine::types::Store,
    all: bool,
    filters: &[String],
    external: bool,
) -> Result<Vec<String>> {
    images::prune(store, external, |store| {
        let listed = load_listed(store, needs_config(filters, None))?;
        let preds = image_filter(filters, &listed)?;
        Ok(listed
            .iter()
            .filter(|l| (all || l.rec.names.is_empty()) && preds.iter().all(|p| p(l)))
            .map(|l| l.rec.id.clone())
            .collect())
    })
}

pub fn prune(g: &GlobalOpts, a: PruneArgs) -> Result<()> {
    let store = g.open_store()?;
    let removed = prune_images(&store, a.all, &a.filter, a.external)?;
    if a.build_cache || a.all {
        images::prune_build_cache(&store)?;
    }
    print(
        &removed
            .iter()
            .map(|id| format!("{id}\n"))
            .collect::<String>(),
    )
}
