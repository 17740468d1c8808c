//! `.containerignore` / `.dockerignore`: which context files a build sees.
//!
//! Docker's rules (moby/patternmatcher): each pattern is cleaned like Go's
//! `filepath.Clean` with a leading `/` dropped; `*`, `?`, `[...]` never cross
//! `/`, `**` matches any number of directories; a pattern that matches a
//! directory also matches everything below it; `!pattern` re-includes, and
//! the last pattern that matches a path decides.
//!
//! The builder must still send the Containerfile and the ignore file itself
//! whatever the patterns say (Docker does); that is its business, not ours.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::glob::{BadPattern, Glob};

/// An ignore file that cannot be used.
#[derive(Debug)]
pub enum IgnoreError {
    Io(PathBuf, io::Error),
    Pattern {
        file: String,
        line: usize,
        error: BadPattern,
    },
}

impl fmt::Display for IgnoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IgnoreError::Io(p, e) => write!(f, "reading {}: {e}", p.display()),
            IgnoreError::Pattern { file, line, error } => write!(f, "{file}:{line}: {error}"),
        }
    }
}
impl std::error::Error for IgnoreError {}

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern, without `!` (read back by tests).
    #[cfg(test)]
    text: String,
    exclusion: bool,
    glob: Glob,
}

/// Compiled ignore patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

/// The names the ignore file may have, in the order podman looks for them.
pub const IGNORE_FILES: [&str; 2] = [".containerignore", ".dockerignore"];

impl Matcher {
    #[cfg(test)]
    /// Compiles patterns as they come from an ignore file's lines: comments
    /// (`#` first on the line) and blank lines are skipped, blanks trimmed.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, BadPattern> {
        Self::with_lines(patterns.iter().map(|p| p.as_ref()).enumerate()).map_err(|(_, e)| e)
    }

    fn with_lines<'a>(
        lines: impl Iterator<Item = (usize, &'a str)>,
    ) -> Result<Matcher, (usize, BadPattern)> {
        let mut patterns = Vec::new();
        for (n, line) in lines {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
                if p.is_empty() {
                    return Err((n, BadPattern("illegal exclusion pattern: \"!\"".into())));
                }
            }
            let mut text = clean_path(p);
            if text.len() > 1 && text.starts_with('/') {
                text.remove(0);
            }
            let glob = Glob::new_ignore(&text).map_err(|e| (n, e))?;
            patterns.push(Pattern {
                #[cfg(test)]
                text,
                exclusion,
                glob,
            });
        }
        Ok(Matcher { patterns })
    }

    /// Reads `.containerignore`, else `.dockerignore`, from a context
    /// whose files `read` returns (a link followed inside the context
    /// only); `dir` names the context in errors. No file means nothing is
    /// excluded.
    pub fn from_context_files(
        dir: &std::path::Path,
        read: impl Fn(&str) -> io::Result<String>,
    ) -> Result<Matcher, IgnoreError> {
        for name in IGNORE_FILES {
            let path = dir.join(name);
            match read(name) {
                Ok(text) => return Self::from_ignore_file(&text, &path.display().to_string()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(IgnoreError::Io(path, e)),
            }
        }
        Ok(Matcher::default())
    }

    /// Parses an ignore file's text; `file` names it in errors.
    pub fn from_ignore_file(text: &str, file: &str) -> Result<Matcher, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Self::with_lines(text.lines().enumerate()).map_err(|(n, error)| IgnoreError::Pattern {
            file: file.to_string(),
            line: n + 1,
            error,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the context path `rel_path` (relative, `/`-separated) is left
    /// out of the build context: the last pattern matching it or one of its
    /// parent directories decides. `is_dir` does not change the answer
    /// (Docker cleans `dir/` to `dir`, so no pattern is directory-only); it
    /// is there so callers state what they ask about, and for
    /// [`Matcher::must_descend`].
    pub fn is_excluded(&self, rel_path: &str, is_dir: bool) -> bool {
        let _ = is_dir;
        let path = clean_path(rel_path);
        let path = path.trim_start_matches('/');
        if path == "." || path.is_empty() {
            return false;
        }
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // An exception only matters once something is excluded, and an
            // exclusion only when the path is still included.
            if p.exclusion != excluded {
                continue;
            }
            if p.glob.matches(path) || parents.iter().any(|d| p.glob.matches(d)) {
                excluded = !p.exclusion;
            }
        }
        excluded
    }

    /// For an excluded directory: whether some `!` exception could re-include
    /// a path below it, so a walker must still look inside.
    pub fn must_descend(&self, rel_dir: &str) -> bool {
        let dir = clean_path(rel_dir);
        let prefix = format!("{}/", dir.trim_start_matches('/'));
        self.patterns
            .iter()
            .any(|p| p.exclusion && p.glob.may_match_below(&prefix))
    }

    #[cfg(test)]
    /// The cleaned patterns, `!` first on exceptions (for cache keys).
    pub fn patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| {
                if p.exclusion {
                    format!("!{}", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }
}

/// Go's `filepath.Clean` for `/`-separated paths: no `//`, no `.`, `..`
/// resolved where it can be, no trailing `/`; empty becomes `.`.
pub fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::context::ContextRoot;

    fn matcher(p: &[&str]) -> Matcher {
        Matcher::new(p).unwrap()
    }

    #[test]
    fn clean() {
        assert_eq!(clean_path("a//b/./c/"), "a/b/c");
        assert_eq!(clean_path("/../a"), "/a");
        assert_eq!(clean_path("a/../../b"), "../b");
        assert_eq!(clean_path("./"), ".");
        assert_eq!(clean_path(""), ".");
        assert_eq!(clean_path("/"), "/");
    }

    #[test]
    fn plain_and_parent_matches() {
        let m = matcher(&["node_modules", "/build/", "*.log", "docs/*.md"]);
        assert!(m.is_excluded("node_modules", true));
        assert!(m.is_excluded("node_modules/x/y.js", false));
        assert!(!m.is_excluded("src/node_modules", true));
        assert!(m.is_excluded("build/out.o", false));
        assert!(m.is_excluded("a.log", false));
        assert!(!m.is_excluded("logs/a.txt", false));
        assert!(!m.is_excluded("sub/a.log", false), "* does not cross /");
        assert!(m.is_excluded("docs/a.md", false));
        assert!(!m.is_excluded("docs/sub/a.md", false));
        assert!(!m.is_excluded("README.md", false));
        assert!(!m.is_excluded(".", true));
    }

    #[test]
    fn double_star() {
        let m = matcher(&["**/*.pyc", "a/**/z", "tmp/**"]);
        assert!(m.is_excluded("x.pyc", false));
        assert!(m.is_excluded("p/q/x.pyc", false));
        assert!(m.is_excluded("a/z", false));
        assert!(m.is_excluded("a/b/c/z", false));
        assert!(!m.is_excluded("a/b/c/zz", false));
        assert!(m.is_excluded("tmp/x", false));
        assert!(
            !m.is_excluded("tmp", true),
            "tmp/** does not match tmp itself"
        );
        assert!(matcher(&["**"]).is_excluded("anything/at/all", false));
    }

    #[test]
    fn exceptions_last_match_wins() {
        let m = matcher(&["*.md", "!README.md", "README-secret.md"]);
        assert!(m.is_excluded("a.md", false));
        assert!(!m.is_excluded("README.md", false));
        assert!(m.is_excluded("README-secret.md", false));
        let m = matcher(&["!README.md", "*.md"]);
        assert!(m.is_excluded("README.md", false));
        let m = matcher(&["docs", "!docs/keep"]);
        assert!(m.is_excluded("docs/other", false));
        assert!(!m.is_excluded("docs/keep", true));
        assert!(!m.is_excluded("docs/keep/deep/file", false));
        assert!(m.is_excluded("docs", true));
        assert!(m.must_descend("docs"));
        assert!(!matcher(&["docs"]).must_descend("docs"));
        assert!(matcher(&["*", "!**/keep.txt"]).must_descend("a/b"));
        assert!(!matcher(&["a", "!b/c"]).must_descend("a"));
    }

    #[test]
    fn file_parsing_and_errors() {
        let m =
            Matcher::from_ignore_file("# comment\n\n  *.o  \n ! keep.o\n/abs/../x\n", "f").unwrap();
        assert_eq!(m.patterns(), vec!["*.o", "!keep.o", "x"]);
        let e = Matcher::from_ignore_file("a\n[\n", ".dockerignore").unwrap_err();
        assert_eq!(e.to_string(), ".dockerignore:2: syntax error in pattern: [");
        assert!(Matcher::new(&["!"]).is_err());
        // `#` only starts a comment in the first column.
        let m = Matcher::from_ignore_file(" #x\n", "f").unwrap();
        assert!(m.is_excluded("#x", false));
    }

    #[test]
    fn walk_and_file_choice() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "a.txt",
            "b.log",
            "docs/x.md",
            "docs/keep/k.md",
            "src/m.rs",
            "src/deep/n.log",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        std::fs::write(d.join(".dockerignore"), "*.log\ndocs\n").unwrap();
        let root = ContextRoot::open(d).unwrap();
        let m = root.ignore_matcher().unwrap();
        assert_eq!(m.patterns(), vec!["*.log", "docs"]);
        std::fs::write(
            d.join(".containerignore"),
            "**/*.log\ndocs\n!docs/keep/k.md\n.*ignore\n",
        )
        .unwrap();
        let m = root.ignore_matcher().unwrap();
        let mut got: Vec<String> = Vec::new();
        root.walk(&m, "", &mut |r, _| {
            if !r.is_empty() {
                got.push(r.to_string());
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            got,
            vec!["a.txt", "docs/keep/k.md", "src", "src/deep", "src/m.rs"]
        );
        let src = ContextRoot::open(&d.join("src")).unwrap();
        assert!(src.ignore_matcher().unwrap().is_empty());
    }
}
