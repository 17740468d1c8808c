//! Unit files as systemd and Quadlet read them: `[Group]` headers,
//! `Key=Value` lines, `#`/`;` comments, a trailing backslash continuing a
//! line. Each value remembers the file and line it came from, so an error
//! can name them; drop-ins merge into the unit they extend.

use super::words;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Where a line was read: `FILE:LINE`.
#[derive(Clone, Debug)]
pub struct Origin {
    pub file: Rc<PathBuf>,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub entries: Vec<Entry>,
}

/// One unit file: its file name (`web.container`), where it was read, and
/// its groups in order.
#[derive(Clone, Debug, Default)]
pub struct UnitFile {
    pub filename: String,
    pub path: Option<PathBuf>,
    pub groups: Vec<Group>,
}

/// Truthy as systemd reads booleans.
fn truthy(v: &str) -> bool {
    ["1", "yes", "true", "on"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
}

impl UnitFile {
    pub fn new(filename: &str) -> UnitFile {
        UnitFile {
            filename: filename.to_string(),
            ..UnitFile::default()
        }
    }

    pub fn read(path: &Path) -> Result<UnitFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut unit = UnitFile::parse(&name, &text, path)?;
        unit.path = Some(path.to_path_buf());
        Ok(unit)
    }

    /// Parse `text`, read from `path` (for error messages and origins).
    pub fn parse(filename: &str, text: &str, path: &Path) -> Result<UnitFile, String> {
        let file = Rc::new(path.to_path_buf());
        let mut unit = UnitFile::new(filename);
        let mut pending = String::new();
        let mut pending_from = 0;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            // comments are dropped, also inside a continued value (as systemd)
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if pending.is_empty() {
                pending_from = i + 1;
            }
            if let Some(head) = line.strip_suffix('\\') {
                pending.push_str(head);
                continue;
            }
            pending.push_str(line);
            let origin = Origin {
                file: file.clone(),
                line: pending_from,
            };
            unit.parse_line(&std::mem::take(&mut pending), origin)?;
        }
        if !pending.is_empty() {
            let origin = Origin {
                file: file.clone(),
                line: pending_from,
            };
            unit.parse_line(&pending, origin)?;
        }
        Ok(unit)
    }

    fn parse_line(&mut self, line: &str, origin: Origin) -> Result<(), String> {
        if let Some(rest) = line.strip_prefix('[') {
            if let Some(end) = rest.find(']') {
                if rest[end + 1..].trim().is_empty() {
                    let name = &rest[..end];
                    if name.is_empty() || name.chars().any(|c| c == '[' || c.is_control()) {
                        return Err(format!("invalid group name '{name}' at {origin}"));
                    }
                    self.group_mut(name);
                    return Ok(());
                }
            }
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "{origin}: '{line}' is not a key-value pair, group, or comment"
            ));
        };
        let key = key.trim_end();
        if key.is_empty() {
            return Err(format!("{origin}: a key is empty in '{line}'"));
        }
        let Some(group) = self.groups.last_mut() else {
            return Err(format!("{origin}: a key before any [Group]"));
        };
        group.entries.push(Entry {
            key: key.to_string(),
            value: value.trim_start().to_string(),
            origin: Some(origin),
        });
        Ok(())
    }

    fn group_mut(&mut self, name: &str) -> &mut Group {
        let i = match self.groups.iter().position(|g| g.name == name) {
            Some(i) => i,
            None => {
                self.groups.push(Group {
                    name: name.to_string(),
                    entries: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        &mut self.groups[i]
    }

    fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    pub fn has_group(&self, name: &str) -> bool {
        self.group(name).is_some()
    }

    /// A drop-in's groups and lines appended to this unit's.
    pub fn merge(&mut self, other: &UnitFile) {
        for g in &other.groups {
            self.group_mut(&g.name)
                .entries
                .extend(g.entries.iter().cloned());
        }
    }

    /// Every key of a group, with where it was written.
    pub fn entries(&self, group: &str) -> &[Entry] {
        self.group(group)
            .map(|g| g.entries.as_slice())
            .unwrap_or(&[])
    }

    pub fn has_key(&self, group: &str, key: &str) -> bool {
        self.entries(group).iter().any(|e| e.key == key)
    }

    /// The last value of a key, trailing space trimmed and one pair of
    /// surrounding double quotes removed.
    pub fn lookup(&self, group: &str, key: &str) -> Option<String> {
        let e = self.entries(group).iter().rev().find(|e| e.key == key)?;
        let v = e.value.trim_end();
        Some(
            match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) if v.len() >= 2 => inner.to_string(),
                _ => v.to_string(),
            },
        )
    }

    /// The last value, non-empty.
    pub fn lookup_set(&self, group: &str, key: &str) -> Option<String> {
        self.lookup(group, key).filter(|v| !v.is_empty())
    }

    pub fn lookup_bool(&self, group: &str, key: &str) -> Option<bool> {
        self.lookup(group, key).map(|v| truthy(&v))
    }

    /// Every value of a key in order; an empty assignment clears the ones
    /// before it.
    pub fn lookup_all(&self, group: &str, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.entries(group).iter().filter(|e| e.key == key) {
            if e.value.is_empty() {
                out.clear();
            } else {
                out.push(e.value.clone());
            }
        }
        out
    }

    /// Every value split into words, exec-like (quotes and C escapes).
    pub fn lookup_all_args(&self, group: &str, key: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for v in self.lookup_all(group, key) {
            out.extend(words::split(&v, true)?);
        }
        Ok(out)
    }

    /// Every value split into words, list-like (`WantedBy=a b`).
    pub fn lookup_all_strv(&self, group: &str, key: &str) -> Vec<String> {
        self.lookup_all(group, key)
            .iter()
            .flat_map(|v| words::split(v, false).unwrap_or_default())
            .collect()
    }

    /// The last value split exec-like (`Exec=`).
    pub fn lookup_last_args(&self, group: &str, key: &str) -> Result<Option<Vec<String>>, String> {
        let Some(e) = self.entries(group).iter().rev().find(|e| e.key == key) else {
            return Ok(None);
        };
        words::split(&e.value, true).map(Some)
    }

    /// `KEY=VALUE` words of every value (`Environment=A=1 "B=two words"`),
    /// in the order written; a later assignment of a key replaces an
    /// earlier one.
    pub fn lookup_all_key_vals(
        &self,
        group: &str,
        key: &str,
    ) -> Result<Vec<(String, Option<String>)>, String> {
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        for w in self.lookup_all_args(group, key)? {
            let (k, v) = match w.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (w, None),
            };
            out.retain(|(old, _)| *old != k);
            out.push((k, v));
        }
        Ok(out)
    }

    pub fn add(&mut self, group: &str, key: &str, value: &str) {
        self.group_mut(group).entries.push(Entry {
            key: key.to_string(),
            value: value.to_string(),
            origin: None,
        });
    }

    /// Replace every value of a key with one.
    pub fn set(&mut self, group: &str, key: &str, value: &str) {
        let g = self.group_mut(group);
        match g.entries.iter().rposition(|e| e.key == key) {
            Some(i) => {
                g.entries[i].value = value.to_string();
                let mut n = 0;
                g.entries.retain(|e| {
                    n += 1;
                    e.key != key || n == i + 1
                });
            }
            None => g.entries.push(Entry {
                key: key.to_string(),
                value: value.to_string(),
                origin: None,
            }),
        }
    }

    pub fn unset(&mut self, group: &str, key: &str) {
        self.group_mut(group).entries.retain(|e| e.key != key);
    }

    /// A line at the start of a group (the group comes first if new).
    pub fn prepend(&mut self, group: &str, key: &str, value: &str) {
        if !self.has_group(group) {
            self.groups.insert(
                0,
                Group {
                    name: group.to_string(),
                    entries: Vec::new(),
                },
            );
        }
        self.group_mut(group).entries.insert(
            0,
            Entry {
                key: key.to_string(),
                value: value.to_string(),
                origin: None,
            },
        );
    }

    pub fn rename_group(&mut self, from: &str, to: &str) {
        let Some(i) = self.groups.iter().position(|g| g.name == from) else {
            return;
        };
        let g = self.groups.remove(i);
        self.group_mut(to).entries.extend(g.entries);
    }

    /// `foo@bar.container` -> ("foo", Some("bar")); `foo@.container` ->
    /// ("foo", Some("")); `foo.container` -> ("foo", None).
    pub fn template_parts(&self) -> (String, Option<String>) {
        let base = strip_ext(&self.filename);
        match base.split_once('@') {
            Some((t, i)) => (t.to_string(), Some(i.to_string())),
            None => (base.to_string(), None),
        }
    }

    /// The file as systemd reads it: groups separated by a blank line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!("[{}]\n", g.name));
            for e in &g.entries {
                out.push_str(&format!("{}={}\n", e.key, e.value));
            }
        }
        out
    }
}

/// The name without its last extension (`web.container` -> `web`).
pub fn strip_ext(name: &str) -> &str {
    match name.rfind('.') {
        Some(dot) if dot > 0 => &name[..dot],
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> UnitFile {
        UnitFile::parse("t.container", text, Path::new("/x/t.container")).unwrap()
    }

    #[test]
    fn continuation_comments_and_quotes() {
        let u = parse("# c\n[Container]\nImage=\"img\"\nExec=sh \\\n# skipped\n  -c true\n[Service]\nRestart=always\n");
        assert_eq!(u.lookup("Container", "Image").unwrap(), "img");
        assert_eq!(
            u.lookup_last_args("Container", "Exec").unwrap().unwrap(),
            vec!["sh", "-c", "true"]
        );
        let exec = u
            .entries("Container")
            .iter()
            .find(|e| e.key == "Exec")
            .unwrap();
        assert_eq!(exec.origin.as_ref().unwrap().line, 4);
        assert_eq!(u.lookup("Service", "Restart").unwrap(), "always");
    }

    #[test]
    fn empty_value_resets_a_list() {
        let u = parse("[Container]\nVolume=a:/a\nVolume=\nVolume=b:/b\n");
        assert_eq!(u.lookup_all("Container", "Volume"), vec!["b:/b"]);
    }

    #[test]
    fn a_line_that_is_nothing_is_an_error_with_its_line() {
        let e = UnitFile::parse(
            "t.container",
            "[Container]\nbogus\n",
            Path::new("/x/t.container"),
        )
        .unwrap_err();
        assert!(e.contains("/x/t.container:2"), "{e}");
    }
}
