//! The layers of docs/ARCHITECTURE.md, checked: reads every `crate::` and
//! `super::` path in src/ (test code left out) and fails when a lower layer
//! names a higher one, or when modules import each other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the top; a layer may use those after it, never those before.
/// `format`, `error`, `log` and `config` are leaves anyone may use.
const LAYERS: &[&str] = &[
    "cmd", "engine", "kube", "quadlet", "build", "registry", "runtime", "storage",
];
const LEAVES: &[&str] = &["format", "error", "log", "config"];

/// Pairs (higher, lower) of the same rank that must not see each other.
const SIBLINGS_APART: &[(&str, &str)] = &[("build", "registry"), ("registry", "runtime")];

/// `api` (`system service`'s REST API) is a front end beside `cmd`: the
/// same rank, and it renders with cmd's documents.
fn rank(layer: &str) -> Option<usize> {
    let layer = if layer == "api" { "cmd" } else { layer };
    LAYERS.iter().position(|l| *l == layer)
}

/// Every .rs file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module a file belongs to, at the granularity cycles are checked:
/// `layer/file` (`runtime/monitor`), a directory module as one
/// (`runtime/cgroup`, `storage/unpack`), a top-level file as itself.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts.truncate(2);
    parts
}

/// The code of a file without its tests: `tests.rs` files, and what follows
/// a `#[cfg(test)]` line (test modules come last in this code base).
fn code_without_tests(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let end = text.find("\n#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifiers after `prefix::`, including each name of a `prefix::{a, b}` group.
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// (module -> modules it uses, with one place each use is seen).
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let known: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(f.strip_prefix(&src).unwrap()).join("/"))
        .collect();
    let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let me = module_of(rel);
        let code = code_without_tests(f);
        let mut used = Vec::new();
        for path in names_after(&code, "crate::") {
            used.push(vec![path]);
        }
        // `crate::a::b`: the second part, when it names a module of `a`.
        for (i, _) in code.match_indices("crate::") {
            let tail: Vec<&str> = code[i + 7..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .take(2)
                .collect();
            if tail.len() == 2 {
                used.push(tail.iter().map(|s| s.to_string()).collect());
            }
        }
        // `super::x` from a file of a layer names a sibling module there.
        let depth = rel.components().count();
        let parent_is_layer = depth == 2 && !rel.ends_with("mod.rs");
        if parent_is_layer || (depth == 3 && rel.ends_with("mod.rs")) {
            for name in names_after(&code, "super::") {
                used.push(vec![me[0].clone(), name]);
            }
        }
        for path in used {
            let target = match path.len() {
                2 if known.contains(&path.join("/")) => path.join("/"),
                _ => path[0].clone(),
            };
            let mine = me.join("/");
            if target != mine
                && target != me[0]
                && (known.contains(&target)
                    || LEAVES.contains(&target.as_str())
                    || rank(&target).is_some())
            {
                g.entry(mine)
                    .or_default()
                    .entry(target)
                    .or_insert_with(|| rel.display().to_string());
            }
        }
    }
    g
}

fn layer(module: &str) -> &str {
    module.split('/').next().unwrap()
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let mut wrong = Vec::new();
    for (from, tos) in graph() {
        for (to, file) in tos {
            let (a, b) = (layer(&from), layer(&to));
            if a == b {
                continue;
            }
            let upward = match (rank(a), rank(b)) {
                (Some(x), Some(y)) => y < x,
                // a leaf may use nothing but other leaves
                (None, Some(_)) => LEAVES.contains(&a),
                _ => false,
            };
            let apart = SIBLINGS_APART
                .iter()
                .any(|(x, y)| (a, b) == (*x, *y) || (a, b) == (*y, *x));
            if upward || apart {
                wrong.push(format!("{from} uses {to} ({file})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers of docs/ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_command_line_calls_only_the_engine() {
    // cmd/: flags in, engine calls, output out. What it may name besides
    // itself: the engine and the leaves.
    let mut wrong = Vec::new();
    for (from, tos) in graph() {
        if layer(&from) != "cmd" {
            continue;
        }
        for (to, file) in tos {
            let l = layer(&to);
            if !["cmd", "api", "engine"].contains(&l) && !LEAVES.contains(&l) {
                wrong.push(format!("{from} uses {to} ({file})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "cmd/ reaches past the engine:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_api_calls_only_the_engine_and_cmds_renderers() {
    // api/: requests in, engine calls, cmd's documents out.
    let mut wrong = Vec::new();
    for (from, tos) in graph() {
        if layer(&from) != "api" {
            continue;
        }
        for (to, file) in tos {
            let l = layer(&to);
            if !["api", "cmd", "engine"].contains(&l) && !LEAVES.contains(&l) {
                wrong.push(format!("{from} uses {to} ({file})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "api/ reaches past the engine:\n{}",
        wrong.join("\n")
    );
}

/// The cycles among modules, each as its sorted members.
fn cycles(g: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components.
    struct Walk<'a> {
        g: &'a BTreeMap<String, BTreeMap<String, String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    impl Walk<'_> {
        fn visit(&mut self, v: &str) {
            self.index.insert(v.to_string(), self.next);
            self.low.insert(v.to_string(), self.next);
            self.next += 1;
            self.stack.push(v.to_string());
            self.on_stack.insert(v.to_string());
            let succ: Vec<String> = self
                .g
                .get(v)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for w in succ {
                if !self.index.contains_key(&w) {
                    self.visit(&w);
                    let l = self.low[&w].min(self.low[v]);
                    self.low.insert(v.to_string(), l);
                } else if self.on_stack.contains(&w) {
                    let l = self.index[&w].min(self.low[v]);
                    self.low.insert(v.to_string(), l);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(&w);
                    comp.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.found.push(comp);
                }
            }
        }
    }
    let mut w = Walk {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in g.keys() {
        if !w.index.contains_key(v) {
            w.visit(v);
        }
    }
    w.found
}

#[test]
fn no_module_imports_itself_in_a_circle() {
    let g = graph();
    let found = cycles(&g);
    let text: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    g[a].keys()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("    {a} -> {b}"))
                })
                .collect();
            format!(
                "{} modules: {}\n{}",
                c.len(),
                c.join(", "),
                edges.join("\n")
            )
        })
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", text.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_and_an_upward_import() {
    // The checker itself, on a made-up graph: a test that cannot fail is a defect.
    let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    g.entry("runtime/a".into())
        .or_default()
        .insert("runtime/b".into(), "a.rs".into());
    g.entry("runtime/b".into())
        .or_default()
        .insert("runtime/a".into(), "b.rs".into());
    assert_eq!(
        cycles(&g),
        vec![vec!["runtime/a".to_string(), "runtime/b".to_string()]]
    );
    assert_eq!(
        names_after("use super::{caps, sys::x};", "super::"),
        ["caps", "sys"]
    );
    assert!(rank("storage") > rank("runtime"));
}
