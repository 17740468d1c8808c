//! Wildcards: Go's `filepath.Match` (COPY/ADD sources, `--filter` values,
//! `--security-opt unmask=`), and the same machinery with `**` for
//! `.containerignore` patterns.
//!
//! Patterns compile to tokens matched by a memoised search, so hostile
//! patterns (`*a*a*a*a*b`) cost O(pattern × path²) at worst, never exponential.

use std::fmt;

/// A malformed pattern (unclosed `[`, trailing `\`, `[]`), Go's `ErrBadPattern`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern(pub String);

impl fmt::Display for BadPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "syntax error in pattern: {}", self.0)
    }
}
impl std::error::Error for BadPattern {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any run of characters without `/`.
    Star,
    /// `**/` (or `**` inside a pattern): empty, or anything ending in `/`.
    AnyDirs,
    /// `**` at the end: anything at all.
    AnyRest,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// Go's `filepath.Match` syntax: `*`, `?`, `[a-z]`, `[^a]`, `\` escapes.
    pub fn new(pattern: &str) -> Result<Glob, BadPattern> {
        compile(pattern, false)
    }

    /// `.dockerignore` syntax: the above plus `**` across directories.
    pub(crate) fn new_ignore(pattern: &str) -> Result<Glob, BadPattern> {
        compile(pattern, true)
    }

    /// Whether the whole of `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let s: Vec<char> = name.chars().collect();
        Search::new(&self.tokens, &s, false).run(0, 0)
    }

    /// Whether some path starting with `prefix` could match (used to keep
    /// walking an excluded directory when an exception may re-include a file
    /// under it).
    pub(crate) fn may_match_below(&self, prefix: &str) -> bool {
        let s: Vec<char> = prefix.chars().collect();
        Search::new(&self.tokens, &s, true).run(0, 0)
    }
}

/// Whether `s` holds wildcard characters (COPY then matches instead of
/// taking the path literally).
pub fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

#[cfg(test)]
/// Go's `filepath.Match(pattern, name)`.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    Ok(Glob::new(pattern)?.matches(name))
}

fn compile(pattern: &str, double_star: bool) -> Result<Glob, BadPattern> {
    let bad = || BadPattern(pattern.to_string());
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if double_star && chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                tokens.push(if i == chars.len() {
                    Token::AnyRest
                } else {
                    Token::AnyDirs
                });
            }
            '*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            '?' => tokens.push(Token::One),
            '\\' => {
                let n = *chars.get(i).ok_or_else(bad)?;
                i += 1;
                tokens.push(Token::Lit(n));
            }
            '[' => {
                let mut negated = false;
                if chars.get(i) == Some(&'^') {
                    negated = true;
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let c = *chars.get(i).ok_or_else(bad)?;
                    if c == ']' && !ranges.is_empty() {
                        i += 1;
                        break;
                    }
                    let esc = |i: &mut usize| -> Result<char, BadPattern> {
                        let c = *chars.get(*i).ok_or_else(bad)?;
                        if c == '-' || c == ']' {
                            return Err(bad());
                        }
                        *i += 1;
                        if c == '\\' {
                            let n = *chars.get(*i).ok_or_else(bad)?;
                            *i += 1;
                            return Ok(n);
                        }
                        Ok(c)
                    };
                    let lo = esc(&mut i)?;
                    let hi = if chars.get(i) == Some(&'-') {
                        i += 1;
                        esc(&mut i)?
                    } else {
                        lo
                    };
                    if hi < lo {
                        return Err(bad());
                    }
                    ranges.push((lo, hi));
                }
                tokens.push(Token::Class { negated, ranges });
            }
            c => tokens.push(Token::Lit(c)),
        }
    }
    Ok(Glob { tokens })
}

/// Memoised match of tokens against chars. With `prefix`, succeeds when the
/// chars run out while tokens remain (a longer path could still match).
struct Search<'a> {
    tokens: &'a [Token],
    s: &'a [char],
    prefix: bool,
    /// 0 unknown, 1 false, 2 true; indexed [p * (n + 1) + j].
    memo: Vec<u8>,
}

impl<'a> Search<'a> {
    fn new(tokens: &'a [Token], s: &'a [char], prefix: bool) -> Self {
        let memo = vec![0; (tokens.len() + 1) * (s.len() + 1)];
        Search {
            tokens,
            s,
            prefix,
            memo,
        }
    }

    fn run(&mut self, p: usize, j: usize) -> bool {
        let key = p * (self.s.len() + 1) + j;
        match self.memo[key] {
            1 => return false,
            2 => return true,
            _ => {}
        }
        let r = self.step(p, j);
        self.memo[key] = if r { 2 } else { 1 };
        r
    }

    fn step(&mut self, p: usize, j: usize) -> bool {
        let n = self.s.len();
        if self.prefix && j == n {
            return p < self.tokens.len();
        }
        let Some(tok) = self.tokens.get(p) else {
            return j == n;
        };
        let c = self.s.get(j).copied();
        match tok {
            Token::Lit(x) => c == Some(*x) && self.run(p + 1, j + 1),
            Token::One => c.is_some_and(|c| c != '/') && self.run(p + 1, j + 1),
            Token::Class { negated, ranges } => {
                c.is_some_and(|c| {
                    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
                }) && self.run(p + 1, j + 1)
            }
            Token::Star => {
                self.run(p + 1, j) || (c.is_some_and(|c| c != '/') && self.run(p, j + 1))
            }
            Token::AnyRest => self.run(p + 1, j) || (c.is_some() && self.run(p, j + 1)),
            Token::AnyDirs => {
                if self.run(p + 1, j) {
                    return true;
                }
                for k in j..n {
                    if self.s[k] == '/' && self.run(p + 1, k + 1) {
                        return true;
                    }
                }
                // In prefix mode the directories may go on past the prefix.
                self.prefix
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p, s).unwrap()
    }

    #[test]
    fn go_filepath_match_cases() {
        // From Go's path/filepath match_test.go.
        assert!(m("abc", "abc"));
        assert!(m("*", "abc"));
        assert!(m("*c", "abc"));
        assert!(!m("a*", "ab/c"));
        assert!(m("a*/b", "abc/b"));
        assert!(!m("a*/b", "a/c/b"));
        assert!(m("a*b*c*d*e*/f", "axbxcxdxe/f"));
        assert!(m("a*b*c*d*e*/f", "axbxcxdxexxx/f"));
        assert!(!m("a*b*c*d*e*/f", "axbxcxdxe/xxx/f"));
        assert!(!m("a*b*c*d*e*/f", "axbxcxdxexxx/fff"));
        assert!(m("a*b?c*x", "abxbbxdbxebxczzx"));
        assert!(!m("a*b?c*x", "abxbbxdbxebxczzy"));
        assert!(m("ab[c]", "abc"));
        assert!(m("ab[b-d]", "abc"));
        assert!(!m("ab[e-g]", "abc"));
        assert!(!m("ab[^c]", "abc"));
        assert!(!m("ab[^b-d]", "abc"));
        assert!(m("ab[^e-g]", "abc"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "ab"));
        assert!(m("a?b", "a☺b"));
        assert!(m("a[^a]b", "a☺b"));
        assert!(!m("a???b", "a☺b"));
        assert!(m("[a-ζ]*", "α"));
        assert!(!m("*[a-ζ]", "A"));
        assert!(!m("a?b", "a/b"));
        assert!(!m("a*b", "a/b"));
        assert!(m("[\\]a]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(m("[x\\-]", "x"));
        assert!(!m("[x\\-]", "z"));
        assert!(m("*x", "xxx"));
        for bad in [
            "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "[a-]",
        ] {
            assert!(glob_match(bad, "a").is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_patterns_are_fast() {
        let p = "*a".repeat(30) + "b";
        let s = "a".repeat(200);
        assert!(!m(&p, &s));
    }
}
