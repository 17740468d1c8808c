//! Template functions: Go's builtins plus podman's report functions
//! (containers/common pkg/report: json, join, split, upper, lower, title,
//! truncate, pad).

use std::cmp::Ordering;

use serde_json::Value;

use super::exec::{truth, type_name};
use crate::format::gofmt;

pub const NAMES: &[&str] = &[
    "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "slice", "print",
    "printf", "println", "json", "upper", "lower", "title", "join", "split", "truncate", "pad",
    "html", "urlquery",
];

pub fn is_func(name: &str) -> bool {
    NAMES.contains(&name)
}

type R = Result<Value, String>;

fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// A string argument; other scalars are printed first, which is more
/// lenient than Go (it would reject them) but never surprising.
fn string_arg(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(gofmt::fmt_value(v, "")),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            type_name(other)
        )),
    }
}

fn int_arg(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| format!("cannot index slice/array with type {}", type_name(v))),
        _ => Err(format!("cannot use {} as int", type_name(v))),
    }
}

pub fn call(name: &str, a: &[Value]) -> R {
    match name {
        "not" => {
            want(name, a, 1)?;
            Ok(Value::Bool(!truth(&a[0])))
        }
        "eq" => {
            if a.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            for b in &a[1..] {
                if compare(&a[0], b, true)? == Ordering::Equal {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want(name, a, 2)?;
            let o = compare(&a[0], &a[1], name == "ne")?;
            Ok(Value::Bool(match name {
                "ne" => o != Ordering::Equal,
                "lt" => o == Ordering::Less,
                "le" => o != Ordering::Greater,
                "gt" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }
        "len" => {
            want(name, a, 1)?;
            match &a[0] {
                Value::String(s) => Ok(Value::from(s.len())),
                Value::Array(v) => Ok(Value::from(v.len())),
                Value::Object(m) => Ok(Value::from(m.len())),
                Value::Null => Ok(Value::from(0)),
                other => Err(format!("len of type {}", type_name(other))),
            }
        }
        "index" => {
            if a.is_empty() {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            }
            let mut cur = a[0].clone();
            for k in &a[1..] {
                cur = index(&cur, k)?;
            }
            Ok(cur)
        }
        "slice" => slice(a),
        "print" => Ok(Value::String(gofmt::sprint(a))),
        "println" => Ok(Value::String(gofmt::sprintln(a))),
        "printf" => {
            let (f, rest) = a
                .split_first()
                .ok_or("wrong number of args for printf: want at least 1 got 0")?;
            Ok(Value::String(gofmt::sprintf(&string_arg(f)?, rest)))
        }
        // podman's json does not escape HTML (SetEscapeHTML(false)).
        "json" => {
            want(name, a, 1)?;
            serde_json::to_string(&a[0])
                .map(Value::String)
                .map_err(|e| e.to_string())
        }
        "upper" => {
            want(name, a, 1)?;
            Ok(Value::String(string_arg(&a[0])?.to_uppercase()))
        }
        "lower" => {
            want(name, a, 1)?;
            Ok(Value::String(string_arg(&a[0])?.to_lowercase()))
        }
        "title" => {
            want(name, a, 1)?;
            Ok(Value::String(title(&string_arg(&a[0])?)))
        }
        "join" => {
            want(name, a, 2)?;
            let sep = string_arg(&a[1])?;
            match &a[0] {
                Value::Array(v) => {
                    let parts: Result<Vec<String>, String> = v.iter().map(string_arg).collect();
                    Ok(Value::String(parts?.join(&sep)))
                }
                Value::Null => Ok(Value::String(String::new())),
                // A lone string joins to itself: handy when a field may be either.
                Value::String(s) => Ok(Value::String(s.clone())),
                other => Err(format!(
                    "wrong type for value; expected []string; got {}",
                    type_name(other)
                )),
            }
        }
        "split" => {
            want(name, a, 2)?;
            let s = string_arg(&a[0])?;
            let sep = string_arg(&a[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Value::Array(parts))
        }
        "truncate" => {
            want(name, a, 2)?;
            let s = string_arg(&a[0])?;
            let n = int_arg(&a[1])?.max(0) as usize;
            Ok(Value::String(s.chars().take(n).collect()))
        }
        "pad" => {
            want(name, a, 3)?;
            let s = string_arg(&a[0])?;
            let pre = int_arg(&a[1])?.max(0) as usize;
            let post = int_arg(&a[2])?.max(0) as usize;
            Ok(Value::String(format!(
                "{}{s}{}",
                " ".repeat(pre),
                " ".repeat(post)
            )))
        }
        "html" => Ok(Value::String(
            gofmt::sprint(a)
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;")
                .replace('\0', "\u{fffd}"),
        )),
        "urlquery" => Ok(Value::String(urlquery(&gofmt::sprint(a)))),
        other => Err(format!("function {other:?} not defined")),
    }
}

/// Go's strings.Title: upper-case the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_');
    }
    out
}

fn urlquery(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn index(v: &Value, k: &Value) -> R {
    match v {
        Value::Array(items) => {
            let i = int_arg(k)?;
            if i < 0 || i as usize >= items.len() {
                return Err(format!("index out of range: {i}"));
            }
            Ok(items[i as usize].clone())
        }
        Value::Object(m) => {
            let key = string_arg(k)?;
            Ok(match m.get(&key) {
                Some(v) => v.clone(),
                // Go returns the zero value of the element type; podman's
                // maps (Labels, Annotations) hold strings, so "" it is.
                None if m.values().all(|v| v.is_string()) => Value::String(String::new()),
                None => Value::Null,
            })
        }
        Value::String(s) => {
            let i = int_arg(k)?;
            s.as_bytes()
                .get(i.max(0) as usize)
                .filter(|_| i >= 0)
                .map(|b| Value::from(*b))
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        // A nil map indexes to the zero value.
        Value::Null => Ok(Value::String(String::new())),
        other => Err(format!("can't index item of type {}", type_name(other))),
    }
}

fn slice(a: &[Value]) -> R {
    let (v, idx) = a
        .split_first()
        .ok_or("wrong number of args for slice: want at least 1 got 0")?;
    if idx.len() > 2 {
        return Err("too many slice indexes".into());
    }
    let len = match v {
        Value::String(s) => s.len(),
        Value::Array(x) => x.len(),
        other => return Err(format!("can't slice item of type {}", type_name(other))),
    };
    let lo = idx.first().map(int_arg).transpose()?.unwrap_or(0);
    let hi = idx.get(1).map(int_arg).transpose()?.unwrap_or(len as i64);
    if lo < 0 || hi < lo || hi as usize > len {
        return Err(format!("index out of range: {lo}:{hi}"));
    }
    let (lo, hi) = (lo as usize, hi as usize);
    match v {
        Value::String(s) => s
            .get(lo..hi)
            .map(|x| Value::String(x.to_string()))
            .ok_or_else(|| "slice splits a UTF-8 character".into()),
        Value::Array(x) => Ok(Value::Array(x[lo..hi].to_vec())),
        _ => unreachable!("checked above"),
    }
}

/// Go's comparison of basic values. `eq_only` allows nil and composite
/// values (compared structurally); ordering needs numbers or strings.
fn compare(a: &Value, b: &Value, eq_only: bool) -> Result<Ordering, String> {
    let incompatible = || Err("incompatible types for comparison".to_string());
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return Ok(x.cmp(&y));
            }
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            Ok(x.partial_cmp(&y).unwrap_or(Ordering::Less))
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if eq_only => Ok(if x == y {
            Ordering::Equal
        } else {
            Ordering::Less
        }),
        (Value::Bool(_), Value::Bool(_)) => Err("invalid type for comparison".into()),
        (Value::Null, _) | (_, Value::Null) if eq_only => Ok(if a == b {
            Ordering::Equal
        } else {
            Ordering::Less
        }),
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) if eq_only => {
            Ok(if a == b {
                Ordering::Equal
            } else {
                Ordering::Less
            })
        }
        _ if !eq_only => Err("invalid type for comparison".into()),
        _ => incompatible(),
    }
}
