//! `image tree IMAGE`: podman's layout of an image's layers.

use super::GlobalOpts;
use crate::engine::image_tree;
use crate::format::human::human_size_with_precision;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct TreeArgs {
    pub image: String,
    /// Show all child images and layers of the specified image
    #[arg(long)]
    pub whatrequires: bool,
}

/// Go prints a `[]string` as `[a b]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// One line of the tree: `ID: <12> Size: <7> [Top Layer of: [...]]`.
fn layer_line(l: &image_tree::TreeLayer) -> String {
    let top = if l.top_of.is_empty() {
        String::new()
    } else {
        format!(" Top Layer of: {}", go_list(&l.top_of))
    };
    format!(
        "ID: {} Size: {:>7}{top}",
        &l.id[..12],
        human_size_with_precision(l.size as f64, 4)
    )
}

/// A tree as podman's tree printer (gotree) draws it.
struct Drawn {
    text: String,
    items: Vec<Drawn>,
}

fn draw_items(items: &[Drawn], spaces: &mut Vec<bool>, out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        let last = i + 1 == items.len();
        for s in spaces.iter() {
            out.push_str(if *s { "    " } else { "│   " });
        }
        out.push_str(if last { "└── " } else { "├── " });
        out.push_str(&item.text);
        out.push('\n');
        if !item.items.is_empty() {
            spaces.push(last);
            draw_items(&item.items, spaces, out);
            spaces.pop();
        }
    }
}

/// podman's traversal: a layer without siblings continues its parent's
/// list; one with siblings opens a branch of its own.
fn add_children(node: &image_tree::LayerNode, into: &mut Vec<Drawn>) {
    let mut me = Drawn {
        text: layer_line(&node.layer),
        items: Vec::new(),
    };
    if node.has_siblings {
        for c in &node.children {
            add_children(c, &mut me.items);
        }
        into.push(me);
    } else {
        into.push(me);
        for c in &node.children {
            add_children(c, into);
        }
    }
}

fn header(t: &image_tree::ImageTree) -> String {
    format!(
        "Image ID: {}\nTags:     {}\nSize:     {}\n{}",
        &t.id[..12.min(t.id.len())],
        go_list(&t.names),
        human_size_with_precision(t.size as f64, 4),
        if t.layers.is_empty() {
            "No Image Layers"
        } else {
            "Image Layers"
        }
    )
}

fn what_requires(store: &crate::engine::types::Store, image: &str) -> Result<()> {
    let (head, node) = image_tree::what_requires(store, image)?;
    let mut items = Vec::new();
    if let Some(n) = &node {
        add_children(n, &mut items);
    }
    let mut out = header(&head);
    out.push('\n');
    draw_items(&items, &mut Vec::new(), &mut out);
    super::output::print(&out)
}

pub fn tree(g: &GlobalOpts, a: TreeArgs) -> Result<()> {
    let store = g.open_store()?;
    if a.whatrequires {
        return what_requires(&store, &a.image);
    }
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
