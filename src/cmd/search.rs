//! `search TERM`: images in registries, or a repository's tags (`--list-tags`).

use super::output::{print, print_table};
use super::registry_flags::RegistryFlags;
use super::GlobalOpts;
use crate::engine::search::{self, SearchFilters, SearchRequest, SearchResult};
use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// What to search for: TERM, REGISTRY/TERM, or REGISTRY/ for everything there
    pub term: String,
    /// Also show the stars, official and automated columns, as docker does
    #[arg(long)]
    pub compatible: bool,
    /// Filter output based on conditions provided (stars=N, is-official=BOOL, is-automated=BOOL)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Change the output format to JSON or a Go template
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Limit the number of results from each registry
    #[arg(long, value_name = "N", default_value_t = search::DEFAULT_LIMIT)]
    pub limit: usize,
    /// List the tags of the repository TERM names
    #[arg(long)]
    pub list_tags: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

pub fn search(_g: &GlobalOpts, a: SearchArgs) -> Result<()> {
    let req = SearchRequest {
        term: a.term.clone(),
        // podman: 0 means the default.
        limit: if a.limit == 0 {
            search::DEFAULT_LIMIT
        } else {
            a.limit
        },
        list_tags: a.list_tags,
        filters: SearchFilters::parse(&a.filter)?,
        client: a.registry.client_options()?,
    };
    let results = search::search(&req)?;
    // Nothing found: no output at all, not even a header (as podman).
    if results.is_empty() {
        return Ok(());
    }
    let json_asked = a.format.as_deref().is_some_and(|f| f.trim() == "json");
    if a.list_tags && json_asked {
        return print(&(crate::format::table::json_pretty(&tags_json(&results)) + "\n"));
    }
    let default = if a.list_tags {
        "table {{.Name}}\t{{.Tag}}"
    } else if a.compatible {
        "table {{.Name}}\t{{.Description}}\t{{.Stars}}\t{{.Official}}\t{{.Automated}}"
    } else {
        "table {{.Name}}\t{{.Description}}"
    };
    let rows: Vec<Value> = results
        .iter()
        .map(|r| row(r, !a.no_trunc && !json_asked))
        .collect();
    print_table(a.format.as_deref(), default, &[], &rows, false)
}

/// Descriptions are cut to this many bytes unless `--no-trunc` (or JSON).
const DESCRIPTION_WIDTH: usize = 44;

/// A result as podman's report has it: `[OK]` or nothing for the flags,
/// the description on one line.
fn row(r: &SearchResult, truncate: bool) -> Value {
    let ok = |b: bool| if b { "[OK]" } else { "" };
    let mut description = r.description.replace('\n', " ");
    if truncate && description.len() > DESCRIPTION_WIDTH {
        let mut cut = DESCRIPTION_WIDTH;
        while !description.is_char_boundary(cut) {
            cut -= 1;
        }
        description = format!("{}...", description[..cut].trim());
    }
    json!({
        "Index": r.index,
        "Name": r.name,
        "Description": description,
        "Stars": r.stars,
        "Official": ok(r.official),
        "Automated": ok(r.automated),
        "Tag": r.tag,
    })
}

/// `--list-tags --format json`: one object per repository with its tags.
fn tags_json(results: &[SearchResult]) -> Value {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in results {
        match out.iter_mut().find(|(n, _)| *n == r.name) {
            Some((_, tags)) => tags.push(r.tag.clone()),
            None => out.push((r.name.clone(), vec![r.tag.clone()])),
        }
    }
    Value::Array(
        out.into_iter()
            .map(|(name, tags)| json!({ "Name": name, "Tags": tags }))
            .collect(),
    )
}
