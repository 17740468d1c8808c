//! COPY/ADD sources with wildcards (`COPY *.txt /d/`), expanded in a
//! build context; the patterns are `format::glob`'s.

pub use crate::format::glob::{has_wildcards, BadPattern, Glob};
use std::io;
use std::path::PathBuf;

/// A directory tree that wildcards are expanded in (a build context).
pub trait Tree {
    /// Whether `rel` (relative, `/`-separated) names an entry.
    fn has_entry(&self, rel: &str) -> bool;
    /// The names in directory `rel`.
    fn names(&self, rel: &str) -> io::Result<Vec<std::ffi::OsString>>;
}

/// The context paths a COPY/ADD source with wildcards names: each `/`
/// separated part is matched against directory entries (Go `filepath.Match`
/// per part, so `*` never crosses `/`). Relative to the context, sorted;
/// links on the way are followed inside the context only. A source without
/// wildcards comes back as is when it exists.
pub fn expand_sources(context: &impl Tree, pattern: &str) -> io::Result<Vec<PathBuf>> {
    let parts: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut current = vec![PathBuf::new()];
    for part in parts {
        let mut next = Vec::new();
        if part == ".." || !has_wildcards(part) {
            for base in current {
                let candidate = base.join(part);
                if context.has_entry(&candidate.to_string_lossy()) {
                    next.push(candidate);
                }
            }
        } else {
            let glob =
                Glob::new(part).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            for base in current {
                let Ok(names) = context.names(&base.to_string_lossy()) else {
                    continue;
                };
                for name in names {
                    if glob.matches(&name.to_string_lossy()) {
                        next.push(base.join(name));
                    }
                }
            }
        }
        current = next;
    }
    current.sort();
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::context::ContextRoot;

    #[test]
    fn sources_in_a_context() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("src/sub")).unwrap();
        for f in [
            "a.txt",
            "b.txt",
            "c.md",
            "src/x.rs",
            "src/y.rs",
            "src/sub/z.rs",
        ] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let root = ContextRoot::open(d).unwrap();
        let names = |p: &str| -> Vec<String> {
            expand_sources(&root, p)
                .unwrap()
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names("*.txt"), vec!["a.txt", "b.txt"]);
        assert_eq!(names("src/*.rs"), vec!["src/x.rs", "src/y.rs"]);
        assert_eq!(names("*/*.rs"), vec!["src/x.rs", "src/y.rs"]);
        assert_eq!(names("./src/s?b/*"), vec!["src/sub/z.rs"]);
        assert_eq!(names("[ab].*"), vec!["a.txt", "b.txt"]);
        assert!(names("*.none").is_empty());
        assert_eq!(names("c.md"), vec!["c.md"]);
    }
}
