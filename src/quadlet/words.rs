//! systemd's word rules: splitting a value into words (quotes, C escapes),
//! as `ExecStart=` and Quadlet's `Exec=`/`PodmanArgs=` read them, and
//! quoting words back into one command line systemd splits the same way.

/// Split `s` into words at whitespace. Single and double quotes group;
/// with `unescape`, C escapes (`\n`, `\t`, `\xHH`, `\\`, `\"`...) are
/// decoded (exec-like keys); without, backslashes are kept as written
/// (list keys such as `WantedBy=`).
pub fn split(s: &str, unescape: bool) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', _) => {
                    let Some(n) = chars.next() else {
                        return Err(format!("a trailing backslash in '{s}'"));
                    };
                    if !unescape {
                        word.push('\\');
                        word.push(n);
                        continue;
                    }
                    word.push(match n {
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'v' => '\u{b}',
                        's' => ' ',
                        'x' => {
                            let hex: String = (0..2).filter_map(|_| chars.next()).collect();
                            u8::from_str_radix(&hex, 16)
                                .map(char::from)
                                .map_err(|_| format!("a bad \\x escape in '{s}'"))?
                        }
                        other => other,
                    });
                }
                (q @ ('"' | '\''), None) => quote = Some(q),
                (c, Some(q)) if c == q => quote = None,
                (c, None) if c.is_whitespace() => break,
                (c, _) => word.push(c),
            }
        }
        if quote.is_some() {
            return Err(format!("an unterminated quote in '{s}'"));
        }
        words.push(word);
    }
}

/// One word as systemd reads it back: quoted with C escapes when it holds
/// whitespace, quotes, backslashes or control characters.
fn quote(word: &str) -> String {
    let needs = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\');
    if !word.is_empty() && !word.chars().any(needs) {
        return word.to_string();
    }
    let mut out = String::from("\"");
    for c in word.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            ' ' => out.push(' '),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A command line for `ExecStart=` and friends.
pub fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quotes_and_escapes() {
        let w = split(r#"sh -c "echo 'a b'" x\ty "\x41""#, true).unwrap();
        assert_eq!(w, vec!["sh", "-c", "echo 'a b'", "x\ty", "A"]);
        assert!(split("a \"b", true).is_err());
    }

    #[test]
    fn joins_what_split_reads_back() {
        let words: Vec<String> = ["run", "a b", "q\"uote", "", "tab\there"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(split(&join(&words), true).unwrap(), words);
    }
}
