//! Splits a template into text and actions, then an action into tokens.
//! Trim markers (`{{- ` and ` -}}`) and comments are resolved here so the
//! parser only sees text and token lists.

use super::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// `.Name` (one segment; `.A.B` is two adjacent Field tokens).
    Field(String),
    /// A lone `.`.
    Dot,
    /// `$` or `$name`.
    Var(String),
    Ident(String),
    Str(String),
    Num(String),
    Char(char),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    /// Whitespace: it separates arguments, so `.A .B` differs from `.A.B`.
    Space,
}

#[derive(Debug)]
pub enum Segment {
    Text(String),
    Action(Vec<Tok>),
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Cut `src` into text and actions.
pub fn segments(src: &str) -> Result<Vec<Segment>, TemplateError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut trim_next_text = false;
    loop {
        let open = src[pos..].find("{{").map(|i| pos + i);
        let text_end = open.unwrap_or(b.len());
        let mut text = &src[pos..text_end];
        if trim_next_text {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let open = match open {
            Some(o) => o,
            None => {
                if !text.is_empty() {
                    out.push(Segment::Text(text.to_string()));
                }
                return Ok(out);
            }
        };
        let mut start = open + 2;
        // `{{- ` trims the whitespace before the action.
        if b.get(start) == Some(&b'-') && b.get(start + 1).is_some_and(|c| is_space(*c)) {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            start += 2;
        }
        if !text.is_empty() {
            out.push(Segment::Text(text.to_string()));
        }
        let (inner, end, trim_right) = find_action_end(src, start)?;
        trim_next_text = trim_right;
        pos = end;
        let trimmed = inner.trim_matches([' ', '\t', '\r', '\n']);
        if trimmed.starts_with("/*") {
            if !trimmed.ends_with("*/") {
                return Err(TemplateError::Parse("unclosed comment".into()));
            }
            continue;
        }
        out.push(Segment::Action(tokens(inner)?));
    }
}

/// Find the `}}` closing the action whose body starts at `start`, skipping
/// quoted strings and comments. Returns (body, index after `}}`, trim flag).
fn find_action_end(src: &str, start: usize) -> Result<(&str, usize, bool), TemplateError> {
    let b = src.as_bytes();
    let mut i = start;
    // A comment may hold anything, even `}}`, up to its `*/`.
    let lead = src[start..].trim_start_matches([' ', '\t', '\r', '\n']);
    if lead.starts_with("/*") {
        let cstart = start + (src.len() - start - lead.len());
        match src[cstart + 2..].find("*/") {
            Some(e) => i = cstart + 2 + e + 2,
            None => return Err(TemplateError::Parse("unclosed comment".into())),
        }
    }
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'`' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return Err(TemplateError::Parse(match q {
                        b'"' => "unterminated quoted string".into(),
                        b'`' => "unterminated raw quoted string".into(),
                        _ => "unterminated character constant".into(),
                    }));
                }
                i += 1;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                // ` -}}` trims the whitespace after the action.
                if i >= start + 2 && b[i - 1] == b'-' && is_space(b[i - 2]) {
                    return Ok((&src[start..i - 1], i + 2, true));
                }
                return Ok((&src[start..i], i + 2, false));
            }
            _ => i += 1,
        }
    }
    if src[start..].contains('}') {
        Err(TemplateError::Parse("unexpected \"}\" in operand".into()))
    } else {
        Err(TemplateError::Parse("unclosed action".into()))
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tokenize the body of one action.
pub fn tokens(s: &str) -> Result<Vec<Tok>, TemplateError> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: &mut usize| -> String {
        let st = *i;
        while *i < cs.len() && is_ident_char(cs[*i]) {
            *i += 1;
        }
        cs[st..*i].iter().collect()
    };
    while i < cs.len() {
        let c = cs[i];
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                while i < cs.len() && matches!(cs[i], ' ' | '\t' | '\r' | '\n') {
                    i += 1;
                }
                out.push(Tok::Space);
            }
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '=' => {
                out.push(Tok::Assign);
                i += 1;
            }
            ':' if cs.get(i + 1) == Some(&'=') => {
                out.push(Tok::Declare);
                i += 2;
            }
            '.' if cs.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                out.push(Tok::Num(number(&cs, &mut i)));
            }
            '.' => {
                i += 1;
                if cs.get(i).is_some_and(|c| is_ident_char(*c)) {
                    out.push(Tok::Field(word(&mut i)));
                } else {
                    out.push(Tok::Dot);
                }
            }
            '$' => {
                i += 1;
                out.push(Tok::Var(format!("${}", word(&mut i))));
            }
            '"' => {
                i += 1;
                let mut v = String::new();
                while i < cs.len() && cs[i] != '"' {
                    if cs[i] == '\\' {
                        i += 1;
                        v.push(unescape(&cs, &mut i)?);
                    } else {
                        v.push(cs[i]);
                        i += 1;
                    }
                }
                i += 1;
                out.push(Tok::Str(v));
            }
            '`' => {
                i += 1;
                let st = i;
                while i < cs.len() && cs[i] != '`' {
                    i += 1;
                }
                out.push(Tok::Str(cs[st..i].iter().collect()));
                i += 1;
            }
            '\'' => {
                i += 1;
                let ch = if cs.get(i) == Some(&'\\') {
                    i += 1;
                    unescape(&cs, &mut i)?
                } else {
                    let ch = *cs.get(i).unwrap_or(&'\0');
                    i += 1;
                    ch
                };
                if cs.get(i) != Some(&'\'') {
                    return Err(TemplateError::Parse("malformed character constant".into()));
                }
                i += 1;
                out.push(Tok::Char(ch));
            }
            '+' | '-'
                if cs
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.') =>
            {
                out.push(Tok::Num(number(&cs, &mut i)));
            }
            c if c.is_ascii_digit() => out.push(Tok::Num(number(&cs, &mut i))),
            c if is_ident_char(c) => out.push(Tok::Ident(word(&mut i))),
            c => {
                return Err(TemplateError::Parse(format!(
                    "unexpected {:?} in operand",
                    c.to_string()
                )))
            }
        }
    }
    Ok(out)
}

fn number(cs: &[char], i: &mut usize) -> String {
    let st = *i;
    if matches!(cs[*i], '+' | '-') {
        *i += 1;
    }
    while *i < cs.len() {
        let c = cs[*i];
        let exp_sign =
            matches!(c, '+' | '-') && *i > st && matches!(cs[*i - 1], 'e' | 'E' | 'p' | 'P');
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' || exp_sign {
            *i += 1;
        } else {
            break;
        }
    }
    cs[st..*i].iter().collect()
}

fn unescape(cs: &[char], i: &mut usize) -> Result<char, TemplateError> {
    let c = *cs
        .get(*i)
        .ok_or_else(|| TemplateError::Parse("unterminated quoted string".into()))?;
    *i += 1;
    let hex = |i: &mut usize, n: usize| -> Result<char, TemplateError> {
        let h: String = cs.get(*i..*i + n).unwrap_or(&[]).iter().collect();
        *i += n;
        u32::from_str_radix(&h, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| TemplateError::Parse(format!("invalid escape \\{h}")))
    };
    Ok(match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'a' => '\x07',
        'b' => '\x08',
        'f' => '\x0c',
        'v' => '\x0b',
        '0'..='7' => {
            let o: String = cs.get(*i - 1..*i + 2).unwrap_or(&[]).iter().collect();
            *i += 2;
            char::from_u32(u32::from_str_radix(&o, 8).unwrap_or(0)).unwrap_or('\0')
        }
        'x' => hex(i, 2)?,
        'u' => hex(i, 4)?,
        'U' => hex(i, 8)?,
        c @ ('\\' | '"' | '\'') => c,
        c => {
            return Err(TemplateError::Parse(format!(
                "unknown escape sequence: \\{c}"
            )))
        }
    })
}
