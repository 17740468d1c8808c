//! `context ls|show|use` as docker spells them: coracle has one context,
//! `default`, this machine's own store (there is no daemon to point at).

use super::output::{print, println};
use crate::format::table;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

const NAME: &str = "default";
const DESCRIPTION: &str = "The local coracle store (daemonless)";
const ENDPOINT: &str = "local";

#[derive(Subcommand, Debug)]
pub enum ContextCommand {
    /// List contexts
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Print the name of the current context
    Show,
    /// Set the current context (there is one: default)
    Use(UseArgs),
    /// Display detailed information on one or more contexts
    Inspect(InspectArgs),
}

pub fn dispatch(c: ContextCommand) -> Result<()> {
    match c {
        ContextCommand::Ls(a) => ls(a),
        ContextCommand::Show => println(NAME),
        ContextCommand::Use(a) => {
            known(&a.context)?;
            println(NAME)?;
            eprintln!("Current context is now \"{NAME}\"");
            Ok(())
        }
        ContextCommand::Inspect(a) => inspect(a),
    }
}

fn known(name: &str) -> Result<()> {
    if name != NAME {
        bail!("context \"{name}\" does not exist: coracle has the one local context \"{NAME}\"");
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Format the output: table, json, or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Only show context names
    #[arg(short, long)]
    pub quiet: bool,
}

fn row() -> Value {
    json!({
        "Name": NAME,
        "Description": DESCRIPTION,
        "DockerEndpoint": ENDPOINT,
        "Current": true,
        "Error": "",
    })
}

fn ls(a: LsArgs) -> Result<()> {
    if a.quiet {
        return println(NAME);
    }
    if a.format.as_deref().map(str::trim) == Some("json") {
        return println(&table::json_compact(&row()));
    }
    let mut shown = row();
    // docker marks the current context in the table's name column
    let format = a.format.as_deref().map(super::output::unescape);
    if format.is_none() {
        shown["Name"] = json!(format!("{NAME} *"));
    }
    let headers = table::HeaderMap::new(&[("DockerEndpoint", "DOCKER ENDPOINT")]);
    print(&table::render_rows(
        format.as_deref(),
        "table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}",
        &headers,
        &[shown],
        false,
    )?)
}

#[derive(Args, Debug)]
pub struct UseArgs {
    pub context: String,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format the output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    pub contexts: Vec<String>,
}

fn inspect(a: InspectArgs) -> Result<()> {
    for c in &a.contexts {
        known(c)?;
    }
    let n = a.contexts.len().max(1);
    let doc = json!({
        "Name": NAME,
        "Metadata": {"Description": DESCRIPTION},
        "Endpoints": {"docker": {"Host": ENDPOINT}},
    });
    super::output::print_inspect(&vec![doc; n], a.format.as_deref())
}
