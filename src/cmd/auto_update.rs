//! `auto-update [--dry-run] [--format] [--rollback] [--authfile]
//! [--tls-verify]`: podman's columns UNIT CONTAINER IMAGE POLICY UPDATED.

use super::output::{print, println, unescape};
use super::GlobalOpts;
use crate::engine::auto_update::{auto_update as update, AutoUpdateRequest, UpdateReport};
use crate::engine::types::ClientOptions;
use crate::error::SilentExit;
use crate::format::table;
use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AutoUpdateArgs {
    /// Check for pending updates, pull and restart nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Change the output format to JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Roll back to the previous image when the restarted unit fails
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true")]
    pub rollback: bool,
    /// Path of the authentication file
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
}

fn row(r: &UpdateReport) -> Value {
    let short: String = r.container_id.chars().take(12).collect();
    json!({
        "Unit": r.unit,
        "Container": format!("{short} ({})", r.container_name),
        "ContainerID": r.container_id,
        "ContainerName": r.container_name,
        "Image": r.image,
        "Policy": r.policy,
        "Updated": r.updated,
    })
}

pub fn auto_update(g: &GlobalOpts, a: AutoUpdateArgs) -> Result<()> {
    let store = g.open_store()?;
    let req = AutoUpdateRequest {
        dry_run: a.dry_run,
        rollback: a.rollback,
        client: ClientOptions {
            tls_verify: a.tls_verify,
            authfile: a.authfile.clone(),
            ..ClientOptions::default()
        },
    };
    let (reports, errors) = update(&store, &req)?;
    let rows: Vec<Value> = reports.iter().map(row).collect();
    if a.format.as_deref().map(str::trim) == Some("json") {
        println(&table::json_indented(&Value::Array(rows), 4))?;
    } else if !rows.is_empty() || a.format.is_some() {
        let format = a.format.as_deref().map(unescape);
        let headers = table::HeaderMap::new(&[("Container", "CONTAINER")]);
        let out = table::render_rows(
            format.as_deref(),
            "table {{.Unit}}\t{{.Container}}\t{{.Image}}\t{{.Policy}}\t{{.Updated}}",
            &headers,
            &rows,
            false,
        )?;
        print(&out)?;
    }
    if errors.is_empty() {
        return Ok(());
    }
    for e in &errors {
        crate::log::error_line(&e.to_string());
    }
    Err(SilentExit(125).into())
}
