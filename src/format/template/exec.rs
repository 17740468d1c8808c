//! Walks the tree against a JSON value, as Go's text/template executes
//! against podman's report structs.

use serde_json::{Map, Value};

use super::funcs;
use super::parse::{Node, Operand, Pipeline};
use super::TemplateError;
use crate::format::gofmt;

enum Flow {
    Normal,
    Break,
    Continue,
}

pub struct Exec<'a> {
    root: &'a Value,
    vars: Vec<(String, Value)>,
    /// `range` iterations left: a template such as `{{range 1e12}}` (or
    /// ranges nested over large lists) ends in one error, not in memory or
    /// time out of proportion to the records it formats.
    steps_left: u64,
    pub out: String,
}

/// More `range` iterations than any one record's listing needs (each row
/// of a table is its own render).
const MAX_RANGE_STEPS: u64 = 100_000;

fn xerr(at: &str, msg: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec {
        at: at.to_string(),
        msg: msg.to_string(),
    }
}

/// Go's notion of truth for `if`, `with`, `and`, `or`, `not`.
pub fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// An object whose keys all look like exported Go fields stands for a
/// struct (a missing field is an error, as in podman); anything else is a
/// map such as `Labels`, where a missing key prints `<no value>`.
fn looks_like_struct(m: &Map<String, Value>) -> bool {
    !m.is_empty()
        && m.keys()
            .all(|k| k.starts_with(|c: char| c.is_ascii_uppercase()))
}

impl<'a> Exec<'a> {
    pub fn new(root: &'a Value) -> Self {
        Exec {
            root,
            // `$` is the root, looked up in place (no copy of every row).
            vars: Vec::new(),
            steps_left: MAX_RANGE_STEPS,
            out: String::new(),
        }
    }

    pub fn run(&mut self, nodes: &[Node], dot: &Value) -> Result<(), TemplateError> {
        self.list(nodes, dot).map(|_| ())
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        for n in nodes {
            match self.node(n, dot)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    /// Run a block with its own variable scope.
    fn scoped(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        let mark = self.vars.len();
        let r = self.list(nodes, dot);
        self.vars.truncate(mark);
        r
    }

    fn node(&mut self, n: &Node, dot: &Value) -> Result<Flow, TemplateError> {
        match n {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                let v = self.pipeline(p, dot)?;
                if p.vars.is_empty() {
                    self.out.push_str(&gofmt::fmt_value(&v, "<no value>"));
                }
            }
            Node::If(p, body, alt) | Node::With(p, body, alt) => {
                let mark = self.vars.len();
                let v = self.pipeline(p, dot)?;
                let is_with = matches!(n, Node::With(..));
                let flow = if truth(&v) {
                    let d = if is_with { &v } else { dot };
                    self.scoped(body, d)
                } else {
                    self.scoped(alt, dot)
                };
                self.vars.truncate(mark);
                return flow;
            }
            Node::Range(p, body, alt) => return self.range(p, body, alt, dot),
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn range(
        &mut self,
        p: &Pipeline,
        body: &[Node],
        alt: &[Node],
        dot: &Value,
    ) -> Result<Flow, TemplateError> {
        let v = self.commands(p, dot)?;
        let count = match &v {
            Value::Array(a) => a.len() as u64,
            Value::Object(m) => m.len() as u64,
            Value::Number(n) => n.as_i64().unwrap_or(0).max(0) as u64,
            _ => 0,
        };
        if count > self.steps_left {
            return Err(xerr(
                &pipe_text(p),
                format!("range: more than {MAX_RANGE_STEPS} iterations in one template"),
            ));
        }
        self.steps_left -= count;
        let items: Vec<(Value, Value)> = match &v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::from(i), e.clone()))
                .collect(),
            Value::Object(m) => {
                // Go ranges over a map in sorted key order.
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                keys.into_iter()
                    .map(|k| (Value::from(k.clone()), m[k].clone()))
                    .collect()
            }
            Value::Null => Vec::new(),
            // Go 1.22: range over an integer counts from 0.
            Value::Number(n) if n.as_i64().is_some() => (0..n.as_i64().unwrap_or(0).max(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            other => {
                return Err(xerr(
                    &pipe_text(p),
                    format!(
                        "range can't iterate over {}",
                        gofmt::fmt_value(other, "<nil>")
                    ),
                ))
            }
        };
        if items.is_empty() {
            return self.scoped(alt, dot);
        }
        let mark = self.vars.len();
        for (k, e) in items {
            self.vars.truncate(mark);
            match p.vars.as_slice() {
                [] => {}
                [one] => self.set_var(one, e.clone(), p.assign)?,
                [a, b, ..] => {
                    self.set_var(a, k, p.assign)?;
                    self.set_var(b, e.clone(), p.assign)?;
                }
            }
            match self.scoped(body, &e)? {
                Flow::Break => break,
                Flow::Normal | Flow::Continue => {}
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn set_var(&mut self, name: &str, v: Value, assign: bool) -> Result<(), TemplateError> {
        if assign {
            match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v,
                None => return Err(TemplateError::Parse(format!("undefined variable: {name}"))),
            }
        } else {
            self.vars.push((name.to_string(), v));
        }
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let v = self.commands(p, dot)?;
        for name in &p.vars {
            self.set_var(name, v.clone(), p.assign)?;
        }
        Ok(v)
    }

    fn commands(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let mut last: Option<Value> = None;
        for cmd in &p.cmds {
            last = Some(self.command(cmd, dot, last)?);
        }
        Ok(last.unwrap_or(Value::Null))
    }

    fn command(
        &mut self,
        ops: &[Operand],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        if let Some(Operand::Func(name)) = ops.first() {
            return self.call(name, &ops[1..], dot, piped);
        }
        if let Some(Operand::Field(chain)) = ops.first() {
            if ops.len() > 1 || piped.is_some() {
                if let Some(v) = self.method(chain, &ops[1..], dot, piped.clone())? {
                    return Ok(v);
                }
            }
        }
        let first = &ops[0];
        if ops.len() > 1 || piped.is_some() {
            return Err(xerr(
                &first.text(),
                format!("can't give argument to non-function {}", first.text()),
            ));
        }
        self.arg(first, dot)
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Operand],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        // `and` and `or` stop at the first operand that decides the result.
        if name == "and" || name == "or" {
            let n = args.len() + piped.is_some() as usize;
            if n == 0 {
                return Err(xerr(
                    name,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut v = Value::Null;
            for (i, a) in args.iter().enumerate() {
                v = self.arg(a, dot)?;
                if truth(&v) == (name == "or") && (i + 1 < n) {
                    return Ok(v);
                }
            }
            if let Some(p) = piped {
                v = p;
            }
            return Ok(v);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(a, dot)?);
        }
        if let Some(p) = piped {
            vals.push(p);
        }
        funcs::call(name, &vals).map_err(|msg| xerr(name, format!("error calling {name}: {msg}")))
    }

    /// A method with an argument, as podman's report types have them
    /// (`{{.Label "key"}}`): the row carries its table as `"Name()"`, a
    /// map from the argument to the result (a missing key gives "").
    fn method(
        &mut self,
        chain: &[String],
        args: &[Operand],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Option<Value>, TemplateError> {
        let Some((name, path)) = chain.split_last() else {
            return Ok(None);
        };
        let base = self.fields(dot, path, &Operand::Field(path.to_vec()))?;
        let Some(Value::Object(table)) = base.get(format!("{name}()")) else {
            return Ok(None);
        };
        let mut vals = Vec::new();
        for a in args {
            vals.push(self.arg(a, dot)?);
        }
        vals.extend(piped);
        let [Value::String(key)] = vals.as_slice() else {
            return Err(xerr(
                name,
                format!(
                    "wrong number of args for {name}: want 1 string got {}",
                    vals.len()
                ),
            ));
        };
        Ok(Some(
            table
                .get(key)
                .cloned()
                .unwrap_or_else(|| Value::String(String::new())),
        ))
    }

    fn arg(&mut self, op: &Operand, dot: &Value) -> Result<Value, TemplateError> {
        match op {
            Operand::Dot => Ok(dot.clone()),
            Operand::Field(chain) => self.fields(dot, chain, op),
            Operand::Var(name, chain) => {
                let v = match self.vars.iter().rev().find(|(n, _)| n == name) {
                    Some((_, v)) => v.clone(),
                    None if name == "$" => return self.fields(self.root, chain, op),
                    None => {
                        return Err(TemplateError::Parse(format!(
                            "undefined variable \"{name}\""
                        )))
                    }
                };
                self.fields(&v, chain, op)
            }
            Operand::Sub(p, chain) => {
                let v = self.pipeline(p, dot)?;
                self.fields(&v, chain, op)
            }
            Operand::Func(name) => self.call(name, &[], dot, None),
            Operand::Str(s) => Ok(Value::String(s.clone())),
            Operand::Int(i) => Ok(Value::from(*i)),
            Operand::Float(f) => Ok(serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
            Operand::Bool(b) => Ok(Value::Bool(*b)),
            Operand::Nil => Ok(Value::Null),
        }
    }

    fn fields(&self, base: &Value, chain: &[String], op: &Operand) -> Result<Value, TemplateError> {
        // Walk by reference; only the value reached is copied (a copy of
        // the whole row per field was most of a 5,000-row listing).
        static NULL: Value = Value::Null;
        let mut cur = base;
        for f in chain {
            cur = match cur {
                Value::Object(m) => match lookup(m, f) {
                    Some(v) => v,
                    // Compare with the root only on a miss: the row is a
                    // struct in podman, so its unknown fields are errors.
                    None if looks_like_struct(m) || cur == self.root => {
                        return Err(TemplateError::MissingField {
                            field: f.clone(),
                            at: op.text(),
                            in_type: None,
                        })
                    }
                    None => &NULL,
                },
                // A nil map (or nil pointer) yields no value, not an error.
                Value::Null => &NULL,
                other => {
                    return Err(TemplateError::MissingField {
                        field: f.clone(),
                        at: op.text(),
                        in_type: Some(type_name(other)),
                    })
                }
            };
        }
        Ok(cur.clone())
    }
}

/// Exact key first, then case-insensitive: podman's fields are Go names
/// (`.ID`, `.Names`) but users type `.Id` or `.names` too.
fn lookup<'m>(m: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn pipe_text(p: &Pipeline) -> String {
    p.cmds
        .iter()
        .map(|c| c.iter().map(|o| o.text()).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}
