//! From text to logical lines: parser directives, comments, line
//! continuations and heredoc bodies, the way Docker's parser reads a file.

use super::heredoc::{find_heredocs, Heredoc};

/// One instruction as written: its first line, its text with continuations
/// joined (comment lines inside a continuation dropped), and the bodies of
/// the heredocs it opens, in order.
#[derive(Debug, Clone)]
pub(crate) struct LogicalLine {
    pub line: usize,
    pub text: String,
    pub heredocs: Vec<Heredoc>,
}

/// A lexing failure, with the line it starts on and the offending text.
#[derive(Debug)]
pub(crate) struct LexError {
    pub line: usize,
    pub message: String,
    pub text: String,
}

pub(crate) struct Lexed {
    pub escape: char,
    pub lines: Vec<LogicalLine>,
}

pub(crate) fn lex(text: &str) -> Result<Lexed, LexError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let escape = directives(&lines)?;

    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = lines[i].trim_start();
        i += 1;
        let start = i;
        if first.starts_with('#') {
            continue;
        }
        let (text, mut done) = trim_continuation(first, escape);
        if done && text.trim().is_empty() {
            continue;
        }
        let mut text = text.to_string();
        while !done && i < lines.len() {
            let raw = lines[i];
            i += 1;
            // Docker drops comment lines and blank lines inside a continuation.
            let trimmed = raw.trim_start();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let (part, d) = trim_continuation(raw, escape);
            text.push_str(part);
            done = d;
        }
        let mut heredocs = Vec::new();
        if can_contain_heredoc(&text) && text.contains("<<") {
            let found = find_heredocs(&text, escape).map_err(|e| LexError {
                line: start,
                message: e.0,
                text: text.clone(),
            })?;
            for mut doc in found {
                let mut terminated = false;
                while i < lines.len() {
                    let raw = lines[i];
                    i += 1;
                    let candidate = if doc.chomp {
                        raw.trim_start_matches('\t')
                    } else {
                        raw
                    };
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(raw);
                    doc.content.push('\n');
                }
                if !terminated {
                    return Err(LexError {
                        line: start,
                        message: format!("unterminated heredoc {}", doc.name),
                        text,
                    });
                }
                if doc.chomp {
                    doc.content = chomp(&doc.content);
                }
                heredocs.push(doc);
            }
        }
        out.push(LogicalLine {
            line: start,
            text,
            heredocs,
        });
    }
    Ok(Lexed { escape, lines: out })
}

/// `<<-EOF`: leading tabs go from every line of the body.
fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

fn can_contain_heredoc(text: &str) -> bool {
    let word = text.split_whitespace().next().unwrap_or("");
    ["run", "copy", "add"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}

/// Reads the parser directives at the top of the file and returns the escape
/// character. Docker stops looking at the first line that is not a known
/// directive (a blank line, another comment, an instruction).
fn directives(lines: &[&str]) -> Result<char, LexError> {
    let mut escape = '\\';
    let mut seen: Vec<String> = Vec::new();
    for (n, raw) in lines.iter().enumerate() {
        let Some((name, value)) = directive(raw.trim_start()) else {
            break;
        };
        if !matches!(name.as_str(), "escape" | "syntax" | "check") {
            break;
        }
        let fail = |message: String| LexError {
            line: n + 1,
            message,
            text: raw.to_string(),
        };
        if seen.contains(&name) {
            return Err(fail(format!(
                "only one {name} parser directive can be used"
            )));
        }
        if name == "escape" {
            escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(fail(format!(
                        "invalid escape token {value} does not match ` or \\"
                    )))
                }
            };
        }
        seen.push(name);
    }
    Ok(escape)
}

/// `# name = value`, Docker's `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..end];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[end..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.to_string()))
}

/// Strips a trailing escape character (and blanks after it) that continues
/// the line; returns whether the logical line ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(rest) => (rest, false),
        None => (line, true),
    }
}

/// Splits on whitespace, keeping quotes and escapes in the words: Docker's
/// `parseWords`, used for ENV, LABEL and ARG before their values are expanded.
pub(crate) fn split_words_raw(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    // A quoted empty string ("") is still a word.
    let mut blank_ok = false;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == escape && q != '\'' {
                // The escape keeps the next character inside the quotes.
                if let Some(n) = chars.next() {
                    word.push(c);
                    word.push(n);
                    continue;
                }
                continue;
            }
            word.push(c);
            continue;
        }
        if c.is_whitespace() {
            if in_word && (blank_ok || !word.is_empty()) {
                words.push(std::mem::take(&mut word));
            }
            in_word = false;
            blank_ok = false;
            continue;
        }
        in_word = true;
        if c == '\'' || c == '"' {
            quote = Some(c);
            blank_ok = true;
        } else if c == escape {
            // An escape at the very end is dropped.
            if let Some(n) = chars.next() {
                word.push(c);
                word.push(n);
            }
            continue;
        }
        word.push(c);
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// Splits leading `--flag[=value]` words off an instruction's arguments
/// (Docker's `extractBuilderFlags`): quotes and backslashes inside flags are
/// resolved, a lone `--` ends the flags. Returns the flags and the rest.
pub(crate) fn split_flags(line: &str) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let bytes: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].1.is_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            return (flags, "");
        }
        let start = bytes[i].0;
        if !line[start..].starts_with("--") {
            return (flags, &line[start..]);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while i < bytes.len() {
            let c = bytes[i].1;
            i += 1;
            match quote {
                Some(q) if c == q => quote = None,
                None if c.is_whitespace() => break,
                None if c == '\'' || c == '"' => quote = Some(c),
                _ if c == '\\' => {
                    if i < bytes.len() {
                        word.push(bytes[i].1);
                        i += 1;
                    }
                }
                _ => word.push(c),
            }
        }
        if word == "--" {
            let end = bytes.get(i).map(|b| b.0).unwrap_or(line.len());
            return (flags, line[end..].trim_start());
        }
        flags.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(usize, String)> {
        lex(src)
            .unwrap()
            .lines
            .into_iter()
            .map(|l| (l.line, l.text))
            .collect()
    }

    #[test]
    fn continuations_and_comments() {
        let src = "FROM a\n\n# c\nRUN echo a \\\n  # inside\n\n   b \\   \n  c\nCMD x\n";
        assert_eq!(
            texts(src),
            vec![
                (1, "FROM a".to_string()),
                (4, "RUN echo a    b   c".to_string()),
                (9, "CMD x".to_string()),
            ]
        );
    }

    #[test]
    fn directives_only_at_top() {
        let l = lex("# escape=`\nFROM a\nRUN a `\n b\n").unwrap();
        assert_eq!(l.escape, '`');
        assert_eq!(l.lines[1].text, "RUN a  b");
        let l = lex("# syntax=docker/dockerfile:1\n#escape = `\nFROM a").unwrap();
        assert_eq!(l.escape, '`');
        // After any other comment, a directive is only a comment.
        let l = lex("# hello\n# escape=`\nFROM a").unwrap();
        assert_eq!(l.escape, '\\');
        let l = lex("\n# escape=`\nFROM a").unwrap();
        assert_eq!(l.escape, '\\');
        let e = lex("# escape=`\n# escape=\\\nFROM a").err().unwrap();
        assert_eq!(e.line, 2);
        assert!(lex("# escape=x\nFROM a").is_err());
    }

    #[test]
    fn crlf_and_bom() {
        assert_eq!(
            texts("\u{feff}FROM a\r\nRUN b \\\r\n c\r\n"),
            vec![(1, "FROM a".into()), (2, "RUN b  c".into())]
        );
    }

    #[test]
    fn raw_words() {
        assert_eq!(
            split_words_raw(r#"a=b c="d e" f='g h' i=j\ k """#, '\\'),
            vec!["a=b", "c=\"d e\"", "f='g h'", "i=j\\ k", "\"\""]
        );
    }

    #[test]
    fn flags() {
        assert_eq!(
            split_flags("--from=a --chown=\"1 2\" src dst"),
            (vec!["--from=a".into(), "--chown=1 2".into()], "src dst")
        );
        assert_eq!(split_flags("-- --x y"), (vec![], "--x y"));
        assert_eq!(split_flags("--link"), (vec!["--link".into()], ""));
        assert_eq!(split_flags("[\"a\"]"), (vec![], "[\"a\"]"));
    }
}
