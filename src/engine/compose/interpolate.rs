//! Compose's variable syntax: `$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
//! `${VAR+alt}` and `$$` for a literal dollar; and `.env` files.

use anyhow::{bail, Context, Result};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Where variables come from: the process environment over the `.env` file.
pub type Vars = BTreeMap<String, String>;

/// Every string of `v` interpolated (mapping keys are left alone, as
/// docker does).
pub fn value(v: &mut Value, vars: &Vars, at: &str) -> Result<()> {
    match v {
        Value::String(s) => {
            *s = text(s, vars).with_context(|| format!("{at}: {s:?}"))?;
        }
        Value::Sequence(seq) => {
            for (i, item) in seq.iter_mut().enumerate() {
                value(item, vars, &format!("{at}[{i}]"))?;
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                let key = k.as_str().unwrap_or("?");
                let at = if at.is_empty() {
                    key.to_string()
                } else {
                    format!("{at}.{key}")
                };
                value(item, vars, &at)?;
            }
        }
        Value::Tagged(t) => value(&mut t.value, vars, at)?,
        _ => {}
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// One string with its variables replaced.
pub fn text(s: &str, vars: &Vars) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body)
                .with_context(|| "missing closing brace in variable substitution")?;
            out.push_str(&braced(&body[..end], vars)?);
            rest = &body[end + 1..];
        } else {
            let n = after.find(|c| !is_name_char(c)).unwrap_or(after.len());
            if n == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
                // A lone `$` stays as it is.
                out.push('$');
                rest = after;
            } else {
                out.push_str(vars.get(&after[..n]).map(String::as_str).unwrap_or(""));
                rest = &after[n..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The `}` that closes a `${`, nested `${...}` in defaults counted.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0;
    let bytes = body.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn braced(body: &str, vars: &Vars) -> Result<String> {
    let n = body.find(|c| !is_name_char(c)).unwrap_or(body.len());
    let (name, op) = body.split_at(n);
    if name.is_empty() {
        bail!("invalid variable name in ${{{body}}}");
    }
    let val = vars.get(name);
    let set = val.is_some();
    let non_empty = val.is_some_and(|v| !v.is_empty());
    let own = || val.cloned().unwrap_or_default();
    // The default, alternative or message may hold variables too.
    let arg = |skip: usize| text(&op[skip..], vars);
    Ok(match op {
        "" => own(),
        _ if op.starts_with(":-") => {
            if non_empty {
                own()
            } else {
                arg(2)?
            }
        }
        _ if op.starts_with('-') => {
            if set {
                own()
            } else {
                arg(1)?
            }
        }
        _ if op.starts_with(":+") => {
            if non_empty {
                arg(2)?
            } else {
                String::new()
            }
        }
        _ if op.starts_with('+') => {
            if set {
                arg(1)?
            } else {
                String::new()
            }
        }
        _ if op.starts_with(":?") => {
            if !non_empty {
                bail!("required variable {name} is missing a value: {}", arg(2)?);
            }
            own()
        }
        _ if op.starts_with('?') => {
            if !set {
                bail!("required variable {name} is missing a value: {}", arg(1)?);
            }
            own()
        }
        _ => bail!("invalid variable substitution ${{{body}}}"),
    })
}

/// A `.env` file (`KEY=VALUE`, `export KEY=VALUE`, quotes, comments), its
/// values interpolated with what came before and `outer`.
pub fn dotenv(path: &Path, outer: &Vars) -> Result<Vars> {
    let content = super::loader::read_text(path, "env file")?;
    let mut out = Vars::new();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            // A bare name takes its value from the environment.
            if let Some(v) = outer.get(line) {
                out.insert(line.to_string(), v.clone());
            }
            continue;
        };
        let key = k.trim();
        if key.is_empty() || !key.chars().all(|c| is_name_char(c) || c == '.' || c == '-') {
            bail!(
                "{}:{}: invalid variable name {key:?}",
                path.display(),
                n + 1
            );
        }
        let v = v.trim();
        let value = if let Some(q) = v.strip_prefix('\'') {
            q.rsplit_once('\'').map(|(s, _)| s).unwrap_or(q).to_string()
        } else if let Some(q) = v.strip_prefix('"') {
            let inner = q.rsplit_once('"').map(|(s, _)| s).unwrap_or(q);
            let inner = inner.replace("\\n", "\n").replace("\\\"", "\"");
            let mut scope = outer.clone();
            scope.extend(out.clone());
            text(&inner, &scope)?
        } else {
            // An unquoted value ends at an inline comment.
            let v = match v.find(" #") {
                Some(i) => v[..i].trim_end(),
                None => v,
            };
            let mut scope = outer.clone();
            scope.extend(out.clone());
            text(v, &scope)?
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("A", "1"), ("EMPTY", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_spec_forms() {
        let v = vars();
        let t = |s: &str| text(s, &v).unwrap();
        assert_eq!(t("$A ${A} x$$A"), "1 1 x$A");
        assert_eq!(t("${B:-d} ${EMPTY:-d} ${EMPTY-d} ${B-d}"), "d d  d");
        assert_eq!(t("${A:+y}${B:+y}${EMPTY+z}"), "yz");
        assert_eq!(t("${B:-${A}}"), "1");
        assert_eq!(t("cost $5 and $"), "cost $5 and $");
        let e = text("${B:?B is needed}", &v).unwrap_err().to_string();
        assert!(e.contains("B is needed"), "{e}");
        assert!(text("${EMPTY?x}", &v).is_ok());
        assert!(text("${A", &v).is_err());
    }
}
