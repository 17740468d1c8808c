//! `image inspect`, the generic `inspect` (containers, images, volumes,
//! pods by name) and `image history`: podman's documents of an image.

use super::output::{print, print_inspect, println, unescape};
use super::GlobalOpts;
use crate::engine::lookup::try_find_image;
use crate::engine::types::{ImageConfig, ImageRecord, Store};
use crate::error::not_found;
use crate::format::{human, table};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

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
    let typed: Vec<&str> = a.images.iter().map(String::as_str).collect();
    let mut images = store.images.load_for(&typed)?;
    let mut docs = Vec::new();
    let mut missing = None;
    for name in &a.images {
        match crate::engine::images::try_found(&store, &mut images, name)? {
            Some(rec) => docs.push(inspect_json(&store, &rec)?),
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
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    #[arg(required_unless_present = "latest", value_name = "NAME")]
    pub names: Vec<String>,
}

/// Top-level `inspect`: containers first, then images (podman's order).
pub fn inspect(g: &GlobalOpts, a: InspectArgs) -> Result<()> {
    if a.latest {
        if !a.names.is_empty() {
            bail!("--latest and containers cannot be used together");
        }
        if a.r#type == "image" {
            bail!("--latest is for containers: it cannot be used with --type image");
        }
    }
    let kind = if a.latest {
        "container"
    } else {
        a.r#type.as_str()
    };
    match kind {
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
                latest: a.latest,
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

/// One line of an image's history: when, by what, its comment, the
/// size of the layer it made (0 for none).
pub type HistoryEntry = (Option<String>, String, String, u64);

/// Image `name`'s record and its history, oldest first (`history`, and
/// the API's `/images/NAME/history`).
pub fn history_entries(
    store: &crate::engine::types::Store,
    name: &str,
) -> Result<(crate::engine::types::ImageRecord, Vec<HistoryEntry>)> {
    let mut images = store.images.load_for(&[name])?;
    let rec = crate::engine::images::found(store, &mut images, name)?;
    let config = ImageConfig::parse(&store.blobs.read(&rec.config_digest())?)?;
    let mut layer_sizes = rec
        .layers
        .iter()
        .map(|d| store.layers.record(d).map(|r| r.size).unwrap_or(0));
    let mut entries = Vec::new();
    if config.history.is_empty() {
        for _ in &rec.layers {
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
    Ok((rec, entries))
}

pub fn history(g: &GlobalOpts, a: HistoryArgs) -> Result<()> {
    let store = g.open_store()?;
    let (rec, entries) = history_entries(&store, &a.image)?;
    let rec = &rec;
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
            super::image_list::since_text(created.as_deref())
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
