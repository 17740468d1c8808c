//! Builds the tree of a template from the lexer's segments.

use super::lex::{Segment, Tok};
use super::TemplateError;

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`) by this pipeline.
    pub vars: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Vec<Operand>>,
}

#[derive(Debug, Clone)]
pub enum Operand {
    /// `.A.B`: fields of dot.
    Field(Vec<String>),
    Dot,
    /// `$x.A.B`
    Var(String, Vec<String>),
    Func(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    /// `(pipeline).A.B`
    Sub(Box<Pipeline>, Vec<String>),
}

impl Operand {
    /// The operand as written, for `at <...>` in errors.
    pub fn text(&self) -> String {
        let chain = |c: &[String]| c.iter().map(|f| format!(".{f}")).collect::<String>();
        match self {
            Operand::Field(c) => chain(c),
            Operand::Dot => ".".into(),
            Operand::Var(v, c) => format!("{v}{}", chain(c)),
            Operand::Func(f) => f.clone(),
            Operand::Str(s) => format!("{s:?}"),
            Operand::Int(i) => i.to_string(),
            Operand::Float(f) => f.to_string(),
            Operand::Bool(b) => b.to_string(),
            Operand::Nil => "nil".into(),
            Operand::Sub(_, c) => format!("(...){}", chain(c)),
        }
    }
}

/// What ended a list of nodes.
enum Stop {
    Eof,
    End,
    Else(Vec<Tok>),
}

pub struct Parser<'f> {
    segs: std::vec::IntoIter<Segment>,
    is_func: &'f dyn Fn(&str) -> bool,
    range_depth: usize,
}

pub fn parse(
    segs: Vec<Segment>,
    is_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Node>, TemplateError> {
    let mut p = Parser {
        segs: segs.into_iter(),
        is_func,
        range_depth: 0,
    };
    let (nodes, end) = p.list()?;
    match end {
        Stop::Eof => Ok(nodes),
        Stop::End => Err(perr("unexpected {{end}}")),
        Stop::Else(_) => Err(perr("unexpected {{else}}")),
    }
}

fn perr(msg: &str) -> TemplateError {
    TemplateError::Parse(msg.to_string())
}

fn strip_spaces(toks: &[Tok]) -> &[Tok] {
    let mut t = toks;
    while let [Tok::Space, rest @ ..] = t {
        t = rest;
    }
    while let [rest @ .., Tok::Space] = t {
        t = rest;
    }
    t
}

impl Parser<'_> {
    fn list(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(seg) = self.segs.next() {
            let toks = match seg {
                Segment::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Segment::Action(t) => t,
            };
            let toks = strip_spaces(&toks);
            let (kw, rest) = match toks {
                [Tok::Ident(k), rest @ ..] => (k.as_str(), rest),
                _ => ("", toks),
            };
            match kw {
                "end" => {
                    if !strip_spaces(rest).is_empty() {
                        return Err(perr("unexpected token in end"));
                    }
                    return Ok((nodes, Stop::End));
                }
                "else" => return Ok((nodes, Stop::Else(strip_spaces(rest).to_vec()))),
                "if" | "range" | "with" => nodes.push(self.control(kw, rest)?),
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return Err(perr(&format!("{{{{{kw}}}}} outside {{{{range}}}}")));
                    }
                    nodes.push(if kw == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                "define" | "template" | "block" => {
                    return Err(perr(&format!("{{{{{kw}}}}} is not supported")))
                }
                _ => {
                    if toks.is_empty() {
                        return Err(perr("missing value for command"));
                    }
                    nodes.push(Node::Action(self.pipeline(toks, true)?));
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    /// `if`/`range`/`with` up to and including its `{{end}}`; an
    /// `{{else if ...}}` is a nested `if` that shares the outer `{{end}}`.
    fn control(&mut self, kw: &str, toks: &[Tok]) -> Result<Node, TemplateError> {
        let toks = strip_spaces(toks);
        if toks.is_empty() {
            return Err(perr(&format!("missing value for {kw}")));
        }
        let pipe = self.pipeline(toks, kw == "range")?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let body = self.list();
        if kw == "range" {
            self.range_depth -= 1;
        }
        let (body, end) = body?;
        let alt = match end {
            Stop::Eof => return Err(perr(&format!("unexpected EOF in {kw}"))),
            Stop::End => Vec::new(),
            Stop::Else(rest) if rest.is_empty() => match self.list()? {
                (alt, Stop::End) => alt,
                (_, Stop::Else(_)) => return Err(perr("expected end; found {{else}}")),
                (_, Stop::Eof) => return Err(perr(&format!("unexpected EOF in {kw}"))),
            },
            Stop::Else(rest) => match rest.as_slice() {
                [Tok::Ident(k), more @ ..] if (k == "if" || k == "with") && kw != "range" => {
                    vec![self.control(k, more)?]
                }
                _ => return Err(perr("unexpected token in else")),
            },
        };
        Ok(match kw {
            "if" => Node::If(pipe, body, alt),
            "range" => Node::Range(pipe, body, alt),
            _ => Node::With(pipe, body, alt),
        })
    }

    fn pipeline(&self, toks: &[Tok], allow_two: bool) -> Result<Pipeline, TemplateError> {
        let toks = strip_spaces(toks);
        let mut vars = Vec::new();
        let mut assign = false;
        let mut body = toks;
        // Look for `$x :=`, `$x =` or `$i, $e :=` at the start.
        let mut j = 0;
        let mut found = Vec::new();
        loop {
            while toks.get(j) == Some(&Tok::Space) {
                j += 1;
            }
            match toks.get(j) {
                Some(Tok::Var(v)) => found.push(v.clone()),
                _ => break,
            }
            j += 1;
            while toks.get(j) == Some(&Tok::Space) {
                j += 1;
            }
            match toks.get(j) {
                Some(Tok::Comma) if found.len() == 1 && allow_two => j += 1,
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    assign = toks[j] == Tok::Assign;
                    vars = std::mem::take(&mut found);
                    body = &toks[j + 1..];
                    break;
                }
                _ => break,
            }
        }
        let mut cmds = Vec::new();
        for part in split_top(body, &Tok::Pipe) {
            let part = strip_spaces(part);
            if part.is_empty() {
                return Err(perr("missing value for command"));
            }
            cmds.push(self.command(part)?);
        }
        if cmds.is_empty() {
            return Err(perr("missing value for command"));
        }
        Ok(Pipeline { vars, assign, cmds })
    }

    fn command(&self, toks: &[Tok]) -> Result<Vec<Operand>, TemplateError> {
        let mut ops = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if toks[i] == Tok::Space {
                i += 1;
                continue;
            }
            let (op, next) = self.operand(toks, i)?;
            // Operands must be separated by spaces: `.A"x"` is an error.
            if next < toks.len() && toks[next] != Tok::Space {
                return Err(perr(&format!(
                    "unexpected {} in operand",
                    tok_text(&toks[next])
                )));
            }
            ops.push(op);
            i = next;
        }
        Ok(ops)
    }

    fn operand(&self, toks: &[Tok], i: usize) -> Result<(Operand, usize), TemplateError> {
        let chain = |mut j: usize| {
            let mut c = Vec::new();
            while let Some(Tok::Field(f)) = toks.get(j) {
                c.push(f.clone());
                j += 1;
            }
            (c, j)
        };
        Ok(match &toks[i] {
            Tok::Field(_) => {
                let (c, j) = chain(i);
                (Operand::Field(c), j)
            }
            Tok::Dot => (Operand::Dot, i + 1),
            Tok::Var(v) => {
                let (c, j) = chain(i + 1);
                (Operand::Var(v.clone(), c), j)
            }
            Tok::Str(s) => (Operand::Str(s.clone()), i + 1),
            Tok::Char(c) => (Operand::Int(*c as i64), i + 1),
            Tok::Num(n) => (number(n)?, i + 1),
            Tok::Ident(id) => match id.as_str() {
                "true" => (Operand::Bool(true), i + 1),
                "false" => (Operand::Bool(false), i + 1),
                "nil" => (Operand::Nil, i + 1),
                f if (self.is_func)(f) => (Operand::Func(f.to_string()), i + 1),
                f => return Err(TemplateError::Parse(format!("function {f:?} not defined"))),
            },
            Tok::LParen => {
                let mut depth = 0;
                let mut j = i;
                loop {
                    match toks.get(j) {
                        Some(Tok::LParen) => depth += 1,
                        Some(Tok::RParen) => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Some(_) => {}
                        None => return Err(perr("unclosed left paren")),
                    }
                    j += 1;
                }
                let inner = self.pipeline(&toks[i + 1..j], false)?;
                let (c, k) = chain(j + 1);
                (Operand::Sub(Box::new(inner), c), k)
            }
            t => return Err(perr(&format!("unexpected {} in operand", tok_text(t)))),
        })
    }
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Pipe => "\"|\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Ident(i) | Tok::Num(i) | Tok::Var(i) => format!("<{i}>"),
        other => format!("{other:?}"),
    }
}

/// Split on `sep` outside parentheses.
fn split_top<'a>(toks: &'a [Tok], sep: &Tok) -> Vec<&'a [Tok]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut st = 0;
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            t if t == sep && depth == 0 => {
                parts.push(&toks[st..i]);
                st = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&toks[st..]);
    parts
}

fn number(s: &str) -> Result<Operand, TemplateError> {
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let lower = body.to_ascii_lowercase();
    let radix = |p: &str, r: u32| -> Option<i64> {
        lower
            .strip_prefix(p)
            .and_then(|d| i64::from_str_radix(d, r).ok())
    };
    let int = radix("0x", 16)
        .or_else(|| radix("0o", 8))
        .or_else(|| radix("0b", 2))
        .or_else(|| {
            if lower.len() > 1
                && lower.starts_with('0')
                && lower.chars().all(|c| c.is_ascii_digit())
            {
                i64::from_str_radix(&lower[1..], 8).ok()
            } else {
                lower.parse::<i64>().ok()
            }
        });
    if let Some(i) = int {
        return Ok(Operand::Int(if neg { -i } else { i }));
    }
    match lower.parse::<f64>() {
        Ok(f) if !lower.starts_with("0x") && !lower.contains("inf") && !lower.contains("nan") => {
            Ok(Operand::Float(if neg { -f } else { f }))
        }
        _ => Err(TemplateError::Parse(format!("bad number syntax: {s:?}"))),
    }
}
