//! `image tree IMAGE`: podman's layout of an image's layers.

use super::GlobalOpts;
use crate::engine::image_tree;
use crate::format::human::human_size_with_precision;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct TreeArgs {
    pub image: String,
}

/// Go prints a `[]string` as `[a b]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

pub fn tree(g: &GlobalOpts, a: TreeArgs) -> Result<()> {
    let store = g.open_store()?;
    let t = image_tree::tree(&store, &a.image)?;
    let mut out = format!(
        "Image ID: {}\nTags:     {}\nSize:     {}\n{}\n",
        &t.id[..12.min(t.id.len())],
        go_list(&t.names),
        human_size_with_precision(t.size as f64, 4),
        if t.layers.is_empty() {
            "No Image Layers"
        } else {
            "Image Layers"
        }
    );
    for (i, l) in t.layers.iter().enumerate() {
        let branch = if i + 1 == t.layers.len() {
            "└── "
        } else {
            "├── "
        };
        let top = if l.top_of.is_empty() {
            String::new()
        } else {
            format!(" Top Layer of: {}", go_list(&l.top_of))
        };
        out.push_str(&format!(
            "{branch}ID: {} Size: {:>7}{top}\n",
            &l.id[..12],
            human_size_with_precision(l.size as f64, 4)
        ));
    }
    super::output::print(&out)
}
