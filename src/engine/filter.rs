//! podman's `key=value` flags and `--filter` values: `key=value` pairs
//! grouped by key, label matches, image reference matches, and
//! Go's regexp (RE2, through the `regex` crate) for name and ancestor filters.

use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// `--filter key=value` flags, the values grouped by key.
pub fn group_filters(filters: &[String]) -> Result<BTreeMap<String, Vec<String>>> {
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .with_context(|| format!("invalid filter {f:?}: expected key=value"))?;
        by_key.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(by_key)
}

/// `KEY=VALUE` flags (`--label`, `--annotation`) as a map; a bare `KEY`
/// has an empty value.
pub fn key_values(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// A `label=` filter: `key` (present) or `key=value`.
pub fn label_matches(filter: &str, labels: &BTreeMap<String, String>) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(filter),
    }
}

/// Go's regexp (RE2) as podman's name and ancestor filters use it, through
/// the `regex` crate (the same syntax and linear-time semantics). A pattern
/// that does not compile matches nothing, as podman's filters ignore it.
pub struct Regex {
    /// Unanchored, as Go's `MatchString`.
    anywhere: Option<regex::Regex>,
    /// Anchored at both ends, for whole-name matches.
    whole: Option<regex::Regex>,
}

impl Regex {
    pub fn new(pattern: &str) -> Regex {
        Regex {
            anywhere: regex::Regex::new(pattern).ok(),
            whole: regex::Regex::new(&format!("^(?:{pattern})$")).ok(),
        }
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.anywhere.as_ref().is_some_and(|r| r.is_match(text))
    }

    pub fn is_full_match(&self, text: &str) -> bool {
        self.whole.as_ref().is_some_and(|r| r.is_match(text))
    }
}

/// podman's `reference=` filter: the pattern matches the whole name, or
/// its repository part (and tag) matches the repository without its
/// registry, or the repository's last path part. Wildcards as Go's
/// `path.Match`, which podman uses: `*` stays within one path part.
pub fn reference_matches(pattern: &str, name: &str) -> bool {
    let glob = |p: &str, t: &str| crate::format::glob::Glob::new(p).is_ok_and(|g| g.matches(t));
    let (repo, tag) = crate::registry::resolve::split_name(name);
    let (prepo, ptag) = crate::registry::resolve::split_name(pattern);
    let repo_ok = glob(prepo, repo)
        || repo.split_once('/').is_some_and(|(_, rest)| {
            glob(prepo, rest)
                || rest
                    .rsplit('/')
                    .next()
                    .is_some_and(|last| glob(prepo, last))
        });
    let tag_ok = match ptag {
        Some(t) => tag.is_some_and(|have| glob(t, have)),
        None => true,
    };
    glob(pattern, name) || (repo_ok && tag_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_as_podman_matches_them() {
        let name = "127.0.0.1:5000/tools/busybox:1";
        for yes in [
            "busybox",
            "busybox:1",
            "tools/busybox",
            "*box",
            "busy*:1",
            "127.0.0.1:5000/tools/busybox:1",
            "tools/*",
        ] {
            assert!(reference_matches(yes, name), "{yes}");
        }
        for no in ["busybox:2", "box", "127.0.0.1:5000/*", "tool*", "other"] {
            assert!(!reference_matches(no, name), "{no}");
        }
    }

    #[test]
    fn regex_backtracking_is_bounded() {
        // Found by fuzzing: exponential before failed states were kept.
        let start = std::time::Instant::now();
        let re = Regex::new(&format!("^{}b", "a*".repeat(30)));
        assert!(!re.is_match(&"a".repeat(200)));
        assert!(re.is_match(&format!("{}b", "a".repeat(200))));
        assert!(start.elapsed().as_secs() < 2, "{:?}", start.elapsed());
    }

    #[test]
    fn regex_subset() {
        assert!(Regex::new("web").is_match("myweb1"));
        assert!(!Regex::new("^web$").is_match("myweb"));
        assert!(Regex::new("^w.b$").is_match("wab"));
        assert!(Regex::new("a.*z").is_match("xxabcz"));
        assert!(Regex::new("^ab+c").is_match("abbbc"));
        assert!(!Regex::new("^ab+c").is_match("ac"));
        assert!(Regex::new("colou?r$").is_match("color"));
        assert!(Regex::new("a\\.b").is_match("a.b"));
        assert!(!Regex::new("a\\.b").is_match("axb"));
        assert!(!Regex::new("busy.*").is_full_match("127.0.0.1:5000/tools/busybox:1"));
        assert!(Regex::new(".*busybox.*").is_full_match("127.0.0.1:5000/tools/busybox:1"));
        // RE2 beyond the old subset: classes, alternation, groups, counts.
        assert!(Regex::new("^web-[0-9]{2}$").is_match("web-42"));
        assert!(!Regex::new("^web-[0-9]{2}$").is_match("web-4"));
        assert!(Regex::new("^(db|cache)").is_match("cache1"));
        assert!(Regex::new(r"\d+").is_match("a1"));
        assert!(!Regex::new("a(").is_match("a("));
        assert!(Regex::new("a|b").is_full_match("b"));
    }

    #[test]
    fn labels() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), "b".to_string());
        assert!(label_matches("a", &m));
        assert!(label_matches("a=b", &m));
        assert!(!label_matches("a=c", &m));
        assert!(!label_matches("c", &m));
    }
}
