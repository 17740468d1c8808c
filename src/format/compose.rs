//! `compose` output as docker compose prints it: the `ps` table and JSON,
//! the `images` table, `top`'s blocks, name lists and the project as YAML
//! or JSON. The command layer fills these rows; nothing here knows a
//! container.

use super::table::tabwrite;
use anyhow::{bail, Result};
use serde::Serialize;

/// One container in `compose ps`.
#[derive(Debug, Clone, Default)]
pub struct PsRow {
    pub id: String,
    pub name: String,
    pub image: String,
    pub command: String,
    pub project: String,
    pub service: String,
    /// "5 minutes ago"
    pub created: String,
    pub state: String,
    pub health: String,
    pub exit_code: i32,
    /// "Up 5 minutes"
    pub status: String,
    pub ports: String,
}

/// docker's columns are separated by three spaces at least.
fn padded(rows: Vec<Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(|c| c + "   ").collect())
        .collect();
    tabwrite(&rows)
}

fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// `compose ps` in `format`: table or json; `quiet`: the ids alone.
pub fn ps(rows: &[PsRow], format: &str, quiet: bool) -> Result<String> {
    if quiet {
        return Ok(rows.iter().map(|r| format!("{}\n", r.id)).collect());
    }
    match format {
        "json" => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "ID": r.id,
                        "Name": r.name,
                        "Image": r.image,
                        "Command": r.command,
                        "Project": r.project,
                        "Service": r.service,
                        "State": r.state,
                        "Health": r.health,
                        "ExitCode": r.exit_code,
                        "Status": r.status,
                        "Ports": r.ports,
                    })
                })
                .collect();
            Ok(serde_json::to_string(&items)? + "\n")
        }
        "table" => {
            let mut out = vec![header(&[
                "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
            ])];
            for r in rows {
                out.push(vec![
                    r.name.clone(),
                    r.image.clone(),
                    format!("{:?}", r.command),
                    r.service.clone(),
                    r.created.clone(),
                    r.status.clone(),
                    r.ports.clone(),
                ]);
            }
            Ok(padded(out))
        }
        other => bail!("unsupported format {other:?}: use table or json"),
    }
}

/// One container's image in `compose images`.
#[derive(Debug, Clone, Default)]
pub struct ImageRow {
    pub container: String,
    pub repository: String,
    pub tag: String,
    pub id: String,
    /// "4.26MB"
    pub size: String,
}

/// `compose images`: a table, or with `quiet` each image id once.
pub fn images(rows: &[ImageRow], quiet: bool) -> String {
    if quiet {
        let mut ids: Vec<&str> = Vec::new();
        for r in rows {
            if !ids.contains(&r.id.as_str()) {
                ids.push(&r.id);
            }
        }
        return ids.iter().map(|i| format!("{i}\n")).collect();
    }
    let mut out = vec![header(&[
        "CONTAINER",
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "SIZE",
    ])];
    for r in rows {
        out.push(vec![
            r.container.clone(),
            r.repository.clone(),
            r.tag.clone(),
            r.id.chars().take(12).collect(),
            r.size.clone(),
        ]);
    }
    padded(out)
}

/// One container's processes in `compose top`: a table or raw lines.
pub enum TopBlock {
    Rows(Vec<Vec<String>>),
    Lines(Vec<String>),
}

/// `compose top`: each container's name, then its processes.
pub fn top(blocks: &[(String, TopBlock)]) -> String {
    let mut out = String::new();
    for (name, block) in blocks {
        out.push_str(name);
        out.push('\n');
        match block {
            TopBlock::Rows(rows) => out.push_str(&tabwrite(rows)),
            TopBlock::Lines(lines) => {
                for l in lines {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Names one per line (`config --services` and the like).
pub fn lines(items: &[String]) -> String {
    items.iter().map(|i| format!("{i}\n")).collect()
}

/// A document (the normalized project) as `yaml` or `json`.
pub fn document<T: Serialize>(v: &T, format: &str) -> Result<String> {
    match format {
        "yaml" => Ok(serde_yaml_ng::to_string(v)?),
        "json" => Ok(serde_json::to_string_pretty(v)? + "\n"),
        other => bail!("unsupported format {other:?}: use yaml or json"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_table_pads_and_quotes_the_command() {
        let r = PsRow {
            name: "app-web-1".into(),
            image: "busybox".into(),
            command: "sleep 600".into(),
            service: "web".into(),
            status: "Up 1 second".into(),
            ..Default::default()
        };
        let t = ps(&[r], "table", false).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0].find("IMAGE"), lines[1].find("busybox"), "{t}");
        assert!(lines[1].contains("\"sleep 600\""), "{t}");
        assert!(ps(&[], "xml", false).is_err());
    }

    #[test]
    fn images_quiet_lists_each_id_once() {
        let r = ImageRow {
            id: "abc".into(),
            ..Default::default()
        };
        assert_eq!(images(&[r.clone(), r], true), "abc\n");
    }
}
