//! `top`: the processes of a running container.

use super::output::print;
use super::GlobalOpts;
use crate::engine::top::{container_top, TopReport};
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct TopArgs {
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// CONTAINER, then format descriptors (pid user args...) or ps(1) options
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CONTAINER [DESCRIPTORS|ARGS...]"
    )]
    pub args: Vec<String>,
}

pub fn top(g: &GlobalOpts, a: TopArgs) -> Result<()> {
    let store = g.open_store()?;
    match container_top(&store, a.latest, &a.args)? {
        TopReport::Rows(rows) => print(&columns(&rows)),
        TopReport::Lines(lines) => {
            let mut out = lines.join("\n");
            out.push('\n');
            print(&out)
        }
    }
}

/// podman's tabwriter for top: cells padded to at least 12 columns and 2
/// past their widest text; the last cell as it is.
pub(super) fn columns(rows: &[Vec<String>]) -> String {
    let ncol = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..ncol)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count() + 2)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < r.len() {
                let pad = widths[c] - cell.chars().count();
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laid_out_as_podman() {
        let rows = vec![
            vec!["USER".to_string(), "ELAPSED".into(), "COMMAND".into()],
            vec!["0".to_string(), "1.00412298s".into(), "sleep 300 ".into()],
        ];
        assert_eq!(
            columns(&rows),
            "USER        ELAPSED      COMMAND\n0           1.00412298s  sleep 300 \n"
        );
    }
}
