//! Variable expansion in Containerfile words, following Docker's shell-word
//! rules (buildkit's `shell.Lex`): `$V`, `${V}`, `${V:-d}`, `${V:+a}`,
//! `${V-d}`, `${V+a}`, `${V?msg}`, `${V:?msg}`, single quotes that do not
//! expand, double quotes that do, and the escape character.
//!
//! The builder calls these with the scope in force at a step (ARGs and ENVs).
//! Which instructions expand is decided by `Instruction::expand`.

use std::fmt;

/// The longest word an expansion may produce. `ARG b=${a}${a}` doubles
/// with each step: thirty of them would ask for gigabytes.
pub const MAX_EXPANDED_BYTES: usize = 1 << 20;

/// What the variables in scope at one step (ARGs and ENVs) may hold
/// together: a chain of ARGs each built from the one before ends in an
/// error, not in all the memory there is. (Linux passes a program at most
/// a few MiB of environment anyway.)
pub const MAX_SCOPE_BYTES: usize = 16 << 20;

/// Looks a variable up in the current ARG/ENV scope; `None` means unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A word that cannot be expanded (bad substitution, unterminated quote, `${V?}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError(pub String);

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ExpandError {}

/// Expands one word with the default escape character `\`: quotes are
/// removed, `$` references replaced, escapes resolved. Whitespace is kept
/// (`ENV a b c` gives `b c`), the word is never split.
pub fn expand(word: &str, lookup: Lookup) -> Result<String, ExpandError> {
    expand_with_escape(word, '\\', lookup)
}

/// `expand` for a file whose `# escape=` directive chose another character.
pub fn expand_with_escape(word: &str, escape: char, lookup: Lookup) -> Result<String, ExpandError> {
    Lexer::new(word, escape, Mode::Word, Some(lookup)).word()
}

/// Expands a heredoc body (`COPY <<EOF` with an unquoted delimiter): quotes
/// are ordinary characters, as in a shell heredoc; `$`, `` ` `` and the escape
/// character itself can be escaped, any other escape is kept as written.
pub fn expand_heredoc(body: &str, escape: char, lookup: Lookup) -> Result<String, ExpandError> {
    Lexer::new(body, escape, Mode::Heredoc, Some(lookup)).word()
}

/// Removes quotes and escapes without expanding anything: `$V` stays as
/// written. Used for heredoc delimiters (`<<"EOF"` names `EOF`).
pub(crate) fn unquote(word: &str, escape: char) -> Result<String, ExpandError> {
    Lexer::new(word, escape, Mode::Word, None).word()
}

/// Like `unquote` but the quote characters are kept in the output; comparing
/// the two tells whether a heredoc delimiter was quoted.
pub(crate) fn unquote_keep_quotes(word: &str, escape: char) -> Result<String, ExpandError> {
    Lexer::new(word, escape, Mode::RawQuotes, None).word()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Word,
    RawQuotes,
    Heredoc,
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    mode: Mode,
    /// None: expand nothing, keep `$...` verbatim.
    lookup: Option<Lookup<'a>>,
}

fn err<T>(msg: impl Into<String>) -> Result<T, ExpandError> {
    Err(ExpandError(msg.into()))
}

fn too_long(out: &str) -> Result<(), ExpandError> {
    if out.len() > MAX_EXPANDED_BYTES {
        return err(format!(
            "expanding variables gives a word longer than {} MiB",
            MAX_EXPANDED_BYTES >> 20
        ));
    }
    Ok(())
}

impl<'a> Lexer<'a> {
    fn new(word: &str, escape: char, mode: Mode, lookup: Option<Lookup<'a>>) -> Self {
        Lexer {
            chars: word.chars().collect(),
            pos: 0,
            escape,
            mode,
            lookup,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn word(&mut self) -> Result<String, ExpandError> {
        self.until(None)
    }

    /// Processes up to `stop` (consumed) or the end of input.
    fn until(&mut self, stop: Option<char>) -> Result<String, ExpandError> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                if stop.is_some() {
                    return err("syntax error: missing '}'");
                }
                return too_long(&out).map(|()| out);
            };
            if Some(c) == stop {
                self.pos += 1;
                return too_long(&out).map(|()| out);
            }
            too_long(&out)?;
            match c {
                '\'' if self.mode != Mode::Heredoc => out.push_str(&self.single_quoted()?),
                '"' if self.mode != Mode::Heredoc => out.push_str(&self.double_quoted()?),
                '$' => out.push_str(&self.dollar()?),
                c if c == self.escape => {
                    self.pos += 1;
                    match self.next() {
                        // A lone escape at the end of a word is dropped, as Docker does.
                        None => {}
                        Some(n) if self.mode == Mode::Heredoc => {
                            if n != '$' && n != '`' && n != self.escape {
                                out.push(c);
                            }
                            out.push(n);
                        }
                        Some(n) => out.push(n),
                    }
                }
                c => {
                    self.pos += 1;
                    out.push(c);
                }
            }
        }
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        self.pos += 1;
        let mut out = String::new();
        if self.mode == Mode::RawQuotes {
            out.push('\'');
        }
        loop {
            match self.next() {
                None => {
                    return err(
                        "unexpected end of statement while looking for matching single-quote",
                    )
                }
                Some('\'') => break,
                Some(c) => out.push(c),
            }
        }
        if self.mode == Mode::RawQuotes {
            out.push('\'');
        }
        Ok(out)
    }

    fn double_quoted(&mut self) -> Result<String, ExpandError> {
        self.pos += 1;
        let mut out = String::new();
        if self.mode == Mode::RawQuotes {
            out.push('"');
        }
        loop {
            match self.peek() {
                None => {
                    return err(
                        "unexpected end of statement while looking for matching double-quote",
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    break;
                }
                Some('$') => {
                    out.push_str(&self.dollar()?);
                    too_long(&out)?;
                }
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            // Only these can be escaped inside double quotes, as in bash.
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                out.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
        if self.mode == Mode::RawQuotes {
            out.push('"');
        }
        Ok(out)
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(|d| d.is_ascii_digit()) {
                    self.pos += 1;
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!0".contains(c) {
                self.pos += 1;
                name.push(c);
                return name;
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            self.pos += 1;
            name.push(c);
        }
        name
    }

    fn get(&self, name: &str) -> Option<String> {
        self.lookup.and_then(|l| l(name))
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        let start = self.pos;
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            if self.lookup.is_none() {
                return Ok(self.chars[start..self.pos].iter().collect());
            }
            return Ok(self.get(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return err("syntax error: missing '}'"),
            Some('{') | Some('}') | Some(':') => return err("syntax error: bad substitution"),
            _ => {}
        }
        let name = self.name();
        let op = match self.next() {
            None => return err("syntax error: missing '}'"),
            Some('}') => None,
            Some(':') => match self.next() {
                Some(m @ ('-' | '+' | '?')) => Some((true, m)),
                Some(m) => return err(format!("unsupported modifier (:{m}) in substitution")),
                None => return err("syntax error: missing '}'"),
            },
            Some(m @ ('-' | '+' | '?')) => Some((false, m)),
            Some(m) => return err(format!("unsupported modifier ({m}) in substitution")),
        };
        if name.is_empty() {
            return err("syntax error: bad substitution");
        }
        let word = match op {
            Some(_) => Some(self.until(Some('}'))?),
            None => None,
        };
        if self.lookup.is_none() {
            return Ok(self.chars[start..self.pos].iter().collect());
        }
        let value = self.get(&name);
        let Some((colon, modifier)) = op else {
            return Ok(value.unwrap_or_default());
        };
        let word = word.unwrap_or_default();
        // With a colon, an empty value counts as unset (POSIX).
        let set = match &value {
            Some(v) => !(colon && v.is_empty()),
            None => false,
        };
        match modifier {
            '-' => Ok(if set { value.unwrap_or_default() } else { word }),
            '+' => Ok(if set { word } else { String::new() }),
            _ => {
                if set {
                    Ok(value.unwrap_or_default())
                } else if !word.is_empty() {
                    err(format!("{name}: {word}"))
                } else if value.is_some() {
                    err(format!("{name}: is not allowed to be empty"))
                } else {
                    err(format!("{name}: is not allowed to be unset"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(name: &str) -> Option<String> {
        match name {
            "A" => Some("a".into()),
            "SP" => Some("x y".into()),
            "EMPTY" => Some(String::new()),
            "_u1" => Some("u".into()),
            _ => None,
        }
    }

    fn ex(w: &str) -> String {
        expand(w, &scope).unwrap()
    }

    #[test]
    fn simple_references() {
        assert_eq!(ex("$A"), "a");
        assert_eq!(ex("${A}"), "a");
        assert_eq!(ex("pre${A}post"), "preapost");
        assert_eq!(ex("$A/b"), "a/b");
        assert_eq!(ex("$Ab"), "");
        assert_eq!(ex("$_u1-x"), "u-x");
        assert_eq!(ex("$UNSET"), "");
        assert_eq!(ex("$"), "$");
        assert_eq!(ex("a$ b"), "a$ b");
        assert_eq!(ex("$SP"), "x y");
        assert_eq!(ex("100%"), "100%");
    }

    #[test]
    fn modifiers() {
        assert_eq!(ex("${A:-d}"), "a");
        assert_eq!(ex("${UNSET:-d}"), "d");
        assert_eq!(ex("${EMPTY:-d}"), "d");
        assert_eq!(ex("${EMPTY-d}"), "");
        assert_eq!(ex("${UNSET-d}"), "d");
        assert_eq!(ex("${A:+alt}"), "alt");
        assert_eq!(ex("${EMPTY:+alt}"), "");
        assert_eq!(ex("${EMPTY+alt}"), "alt");
        assert_eq!(ex("${UNSET+alt}"), "");
        assert_eq!(ex("${UNSET:-$A/x}"), "a/x");
        assert_eq!(ex("${UNSET:-${A:+y}}"), "y");
        assert_eq!(ex("${UNSET:-'q d'}"), "q d");
        assert_eq!(ex("${A?}"), "a");
        let e = expand("${UNSET?need it}", &scope).unwrap_err();
        assert_eq!(e.0, "UNSET: need it");
        let e = expand("${EMPTY:?}", &scope).unwrap_err();
        assert_eq!(e.0, "EMPTY: is not allowed to be empty");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(ex("'$A'"), "$A");
        assert_eq!(ex("\"$A\""), "a");
        assert_eq!(ex("\"a b\""), "a b");
        assert_eq!(ex("\\$A"), "$A");
        assert_eq!(ex("\\${A}"), "${A}");
        assert_eq!(ex("a\\ b"), "a b");
        assert_eq!(ex("\"\\$A \\\" \\n\""), "$A \" \\n");
        assert_eq!(ex("'it'\\''s'"), "it's");
        assert_eq!(ex("trailing\\"), "trailing");
        assert_eq!(ex("C:\\\\dir"), "C:\\dir");
        assert_eq!(
            expand_with_escape("C:\\dir `$A", '`', &scope).unwrap(),
            "C:\\dir $A"
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "${A", "${", "${}", "${:x}", "${A:x}", "${A%x}", "'abc", "\"abc", "${A:-x",
        ] {
            assert!(expand(bad, &scope).is_err(), "{bad}");
        }
    }

    #[test]
    fn heredoc_bodies_keep_quotes() {
        let body = "echo '$A' \"$A\" \\$A \\n\n";
        assert_eq!(
            expand_heredoc(body, '\\', &scope).unwrap(),
            "echo 'a' \"a\" $A \\n\n"
        );
    }

    #[test]
    fn unquote_keeps_references() {
        assert_eq!(unquote("\"EOF\"", '\\').unwrap(), "EOF");
        assert_eq!(unquote("'E$X'", '\\').unwrap(), "E$X");
        assert_eq!(unquote("E${X:-y}", '\\').unwrap(), "E${X:-y}");
        assert_eq!(unquote_keep_quotes("\"EOF\"", '\\').unwrap(), "\"EOF\"");
    }
}
