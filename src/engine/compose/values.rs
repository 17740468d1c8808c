//! Reading YAML values in compose's loose shapes: a scalar of any type as
//! text, a string or a list, a list of `K=V` or a mapping, a command as a
//! string (split as a shell would) or a list. Errors name where they are.

use anyhow::{bail, Result};
use serde_yaml_ng::{Mapping, Value};

/// A scalar as text (`8080`, `true`, `"x"`); `None` for null.
pub fn scalar(at: &str, v: &Value) -> Result<Option<String>> {
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => return scalar(at, &t.value),
        _ => bail!("{at} must be a string or a number"),
    })
}

pub fn string(at: &str, v: &Value) -> Result<String> {
    scalar(at, v)?.ok_or_else(|| anyhow::anyhow!("{at} must not be empty"))
}

pub fn boolean(at: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if matches!(s.as_str(), "true" | "yes" | "True") => Ok(true),
        Value::String(s) if matches!(s.as_str(), "false" | "no" | "False") => Ok(false),
        _ => bail!("{at} must be true or false"),
    }
}

pub fn number<T: std::str::FromStr>(at: &str, v: &Value) -> Result<T> {
    string(at, v)?
        .parse()
        .map_err(|_| anyhow::anyhow!("{at} must be a number"))
}

pub fn mapping<'a>(at: &str, v: &'a Value) -> Result<&'a Mapping> {
    match v {
        Value::Mapping(m) => Ok(m),
        _ => bail!("{at} must be a mapping"),
    }
}

/// A string or a list of strings.
pub fn strings(at: &str, v: &Value) -> Result<Vec<String>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(s) => s
            .iter()
            .enumerate()
            .map(|(i, x)| string(&format!("{at}[{i}]"), x))
            .collect(),
        _ => Ok(vec![string(at, v)?]),
    }
}

/// `[K=V, K]` or `{K: V, K: null}` as pairs (`None`: no value given).
pub fn pairs(at: &str, v: &Value, sep: char) -> Result<Vec<(String, Option<String>)>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(s) => s
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let item = string(&format!("{at}[{i}]"), x)?;
                Ok(match item.split_once(sep) {
                    Some((k, v)) => (k.trim().to_string(), Some(v.to_string())),
                    None => (item, None),
                })
            })
            .collect(),
        Value::Mapping(m) => m
            .iter()
            .map(|(k, x)| {
                let key = string(at, k)?;
                Ok((key.clone(), scalar(&format!("{at}.{key}"), x)?))
            })
            .collect(),
        _ => bail!("{at} must be a list or a mapping"),
    }
}

/// A command: a list as is, a string split as a shell splits words.
pub fn command(at: &str, v: &Value) -> Result<Vec<String>> {
    match v {
        Value::Sequence(_) => strings(at, v),
        _ => crate::format::shell_words::split(&string(at, v)?)
            .map_err(|e| anyhow::anyhow!("{at}: {e}")),
    }
}

/// Warn about the keys of `m` that are neither `known` nor extensions
/// (`x-`); warn that the `unsupported` ones are ignored.
pub fn check_keys(at: &str, m: &Mapping, known: &[&str], unsupported: &[&str]) {
    for k in m.keys() {
        let Some(k) = k.as_str() else { continue };
        if k.starts_with("x-") || known.contains(&k) {
            continue;
        }
        if unsupported.contains(&k) {
            crate::warn!("{at}: {k:?} is not supported by coracle and is ignored");
        } else {
            crate::warn!("{at}: unknown key {k:?} is ignored");
        }
    }
}
