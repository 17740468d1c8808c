//! `secret create|ls|inspect|rm|exists`: podman's flags and output.

use super::output::{
    key_values, print, print_inspect, print_lines, print_lines_then, print_table, println,
};
use super::GlobalOpts;
use crate::engine::secrets::{self, NewSecret, SecretRecord};
use crate::engine::types::Store;
use crate::error::SilentExit;
use crate::format::table;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::Read;

#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Create a new secret
    Create(CreateArgs),
    /// List secrets
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Inspect a secret
    Inspect(InspectArgs),
    /// Remove one or more secrets
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Check if a secret exists in local storage
    Exists(ExistsArgs),
}

pub fn dispatch(g: &GlobalOpts, c: SecretCommand) -> Result<()> {
    match c {
        SecretCommand::Create(a) => create(g, a),
        SecretCommand::Ls(a) => ls(g, a),
        SecretCommand::Inspect(a) => inspect(g, a),
        SecretCommand::Rm(a) => rm(g, a),
        SecretCommand::Exists(a) => exists(g, a),
    }
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Specify secret driver
    #[arg(short, long, default_value = "file")]
    pub driver: String,
    /// Specify driver specific options (file: path=DIR)
    #[arg(long = "driver-opts", value_name = "KEY=VALUE", value_delimiter = ',')]
    pub driver_opts: Vec<String>,
    /// Read secret data from the environment variable named by the second argument
    #[arg(long)]
    pub env: bool,
    /// If a secret with the same name exists, return its ID instead of creating one
    #[arg(long)]
    pub ignore: bool,
    /// Specify labels on the secret
    #[arg(short, long = "label", value_name = "LABEL")]
    pub label: Vec<String>,
    /// If a secret with the same name exists, replace it
    #[arg(long)]
    pub replace: bool,
    /// The secret's name
    pub name: String,
    /// A file to read the secret from, `-` for stdin (a variable's name with --env)
    pub source: String,
}

pub fn create(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    let data = if a.env {
        match std::env::var(&a.source) {
            Ok(v) if !v.is_empty() => v.into_bytes(),
            _ => bail!(
                "cannot create store secret data: environment variable {} is not set",
                a.source
            ),
        }
    } else if a.source == "-" || a.source == "/dev/stdin" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the secret from stdin")?;
        buf
    } else {
        std::fs::read(&a.source).with_context(|| format!("open {}", a.source))?
    };
    let store = g.open_store()?;
    let id = secrets::create(
        &store,
        NewSecret {
            name: a.name,
            data,
            driver: a.driver,
            driver_options: key_values(&a.driver_opts),
            labels: key_values(&a.label),
            replace: a.replace,
            ignore: a.ignore,
        },
    )?;
    println(&id)
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Filter secret output (name=REGEX, id=PREFIX, label=KEY[=VALUE])
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format secret output using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print headers
    #[arg(short = 'n', long)]
    pub noheading: bool,
    /// Print secret IDs only
    #[arg(short, long)]
    pub quiet: bool,
}

fn ago(rfc3339: &str) -> String {
    crate::format::human::parse_rfc3339(rfc3339)
        .map(crate::format::human::time_ago)
        .unwrap_or_default()
}

pub fn ls(g: &GlobalOpts, a: LsArgs) -> Result<()> {
    let store = g.open_store()?;
    let list = secrets::list(&store, &a.filter)?;
    if a.quiet && a.format.is_none() {
        return print_lines(&list.iter().map(|r| &r.id).collect::<Vec<_>>());
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|r| {
            json!({
                "ID": r.id,
                "Name": r.name,
                "Driver": r.driver,
                "CreatedAt": ago(&r.created_at),
                "UpdatedAt": ago(&r.updated_at),
            })
        })
        .collect();
    if a.format.as_deref().map(str::trim) == Some("json") {
        return println(&table::json_indented(&Value::Array(rows), 4));
    }
    print_table(
        a.format.as_deref(),
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}",
        &[("CreatedAt", "CREATED"), ("UpdatedAt", "UPDATED")],
        &rows,
        a.noheading,
    )
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format inspect output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Print inspect output in a human-readable format
    #[arg(long)]
    pub pretty: bool,
    /// Display the secret's data
    #[arg(long)]
    pub showsecret: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// podman's inspect document; the data only when asked for.
fn secret_json(store: &Store, r: &SecretRecord, show: bool) -> Result<Value> {
    let mut doc = json!({
        "ID": r.id,
        "CreatedAt": r.created_at,
        "UpdatedAt": r.updated_at,
        "Spec": {
            "Name": r.name,
            "Driver": {
                "Name": r.driver,
                "Options": secrets::driver_options(store, r),
            },
            "Labels": r.labels,
        },
    });
    if show {
        let data = secrets::data(store, r)?;
        doc["SecretData"] = json!(String::from_utf8_lossy(&data));
    }
    Ok(doc)
}

fn pretty(doc: &Value) -> String {
    let labels = doc["Spec"]["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let mut rows = vec![
        vec![
            "ID:".to_string(),
            doc["ID"].as_str().unwrap_or_default().into(),
        ],
        vec![
            "Name:".into(),
            doc["Spec"]["Name"].as_str().unwrap_or_default().into(),
        ],
        vec![
            "Driver:".into(),
            doc["Spec"]["Driver"]["Name"]
                .as_str()
                .unwrap_or_default()
                .into(),
        ],
        vec![
            "Created at:".into(),
            doc["CreatedAt"].as_str().unwrap_or_default().into(),
        ],
        vec![
            "Updated at:".into(),
            doc["UpdatedAt"].as_str().unwrap_or_default().into(),
        ],
    ];
    if !labels.is_empty() {
        rows.push(vec!["Labels:".into(), labels]);
    }
    if let Some(d) = doc["SecretData"].as_str() {
        rows.push(vec!["SecretData:".into(), d.into()]);
    }
    table::tabwrite(&rows)
}

pub fn inspect(g: &GlobalOpts, a: InspectArgs) -> Result<()> {
    let store = g.open_store()?;
    let mut docs = Vec::new();
    let mut missing = None;
    for n in &a.names {
        match secrets::lookup(&store, n) {
            Ok(r) => docs.push(secret_json(&store, &r, a.showsecret)?),
            Err(e) => {
                missing.get_or_insert(e);
            }
        }
    }
    if a.pretty {
        let text: Vec<String> = docs.iter().map(pretty).collect();
        print(&text.join("\n"))?;
    } else {
        let format = a.format.as_deref().filter(|f| f.trim() != "json");
        print_inspect(&docs, format)?;
    }
    match missing {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Remove all secrets
    #[arg(short, long)]
    pub all: bool,
    /// Ignore errors when a specified secret is missing
    #[arg(short, long)]
    pub ignore: bool,
    pub names: Vec<String>,
}

pub fn rm(g: &GlobalOpts, a: RmArgs) -> Result<()> {
    let store = g.open_store()?;
    let removed = secrets::remove(&store, &a.names, a.all, a.ignore)?;
    print_lines_then(&removed.ids, removed.error)
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    pub name: String,
}

pub fn exists(g: &GlobalOpts, a: ExistsArgs) -> Result<()> {
    let store = g.open_store()?;
    if secrets::exists(&store, &a.name) {
        Ok(())
    } else {
        Err(SilentExit(1).into())
    }
}
