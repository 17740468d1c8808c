//! Heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) in RUN, COPY and ADD.

use super::expand::{unquote, unquote_keep_quotes, ExpandError};
use super::lexer::split_words_raw;

/// One heredoc: its delimiter and body. `content` ends with a newline per
/// line and, for `<<-`, has the leading tabs already removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter without quotes (`EOF` for `<<"EOF"`); for `COPY <<name
    /// /dst/` it is also the file's name.
    pub name: String,
    pub content: String,
    /// False when the delimiter was quoted: the body is taken literally.
    pub expand: bool,
    /// `<<-`: leading tabs were stripped from the body and the delimiter.
    pub chomp: bool,
    /// The file descriptor in `3<<EOF`; 0 (stdin) when not written.
    pub fd: u32,
}

/// Parses one word as a heredoc opener, Docker's `^(\d*)<<(-?)([^<]*)$`.
pub(crate) fn parse_heredoc_word(word: &str, escape: char) -> Result<Option<Heredoc>, ExpandError> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let fd = if digits == 0 {
        0
    } else {
        match word[..digits].parse() {
            Ok(fd) => fd,
            Err(_) => return Ok(None),
        }
    };
    let name = unquote(rest, escape)?;
    if name.is_empty() {
        return Ok(None);
    }
    // Quotes that disappear when unquoting mean the delimiter was quoted.
    let raw = unquote_keep_quotes(rest, escape)?;
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let expand = quotes(&raw) == quotes(&name);
    Ok(Some(Heredoc {
        name,
        content: String::new(),
        expand,
        chomp,
        fd,
    }))
}

/// The heredocs opened on an instruction line, in order of appearance.
pub(crate) fn find_heredocs(line: &str, escape: char) -> Result<Vec<Heredoc>, ExpandError> {
    let mut out = Vec::new();
    for word in split_words_raw(line, escape) {
        if let Some(h) = parse_heredoc_word(&word, escape)? {
            out.push(h);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(w: &str) -> Option<Heredoc> {
        parse_heredoc_word(w, '\\').unwrap()
    }

    #[test]
    fn openers() {
        let d = h("<<EOF").unwrap();
        assert_eq!(
            (d.name.as_str(), d.expand, d.chomp, d.fd),
            ("EOF", true, false, 0)
        );
        let d = h("<<-EOT").unwrap();
        assert_eq!((d.name.as_str(), d.expand, d.chomp), ("EOT", true, true));
        let d = h("<<\"EOF\"").unwrap();
        assert_eq!((d.name.as_str(), d.expand), ("EOF", false));
        let d = h("<<'EOF'").unwrap();
        assert_eq!((d.name.as_str(), d.expand), ("EOF", false));
        let d = h("3<<-X").unwrap();
        assert_eq!((d.name.as_str(), d.fd, d.chomp), ("X", 3, true));
        assert_eq!(h("<<"), None);
        assert_eq!(h("<<<EOF"), None);
        assert_eq!(h("cat<<EOF"), None);
        assert_eq!(h("\"<<EOF\""), None);
        assert_eq!(h("<<''"), None);
    }

    #[test]
    fn several_on_a_line() {
        let docs = find_heredocs("RUN cat <<A - <<\"B\" > f 'x <<C'", '\\').unwrap();
        let names: Vec<_> = docs.iter().map(|d| (d.name.as_str(), d.expand)).collect();
        assert_eq!(names, vec![("A", true), ("B", false)]);
    }
}
