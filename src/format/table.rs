//! podman's `--format` handling for list verbs (containers/common
//! pkg/report): `json`, `table ...` with a header row aligned like Go's
//! tabwriter, or a plain template per row.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Map, Value};

use super::template::Template;

/// Per-verb header overrides, e.g. `ID` -> `IMAGE ID`. Fields without an
/// entry get [`default_header`].
#[derive(Debug, Clone, Default)]
pub struct HeaderMap {
    map: BTreeMap<String, String>,
}

impl HeaderMap {
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        HeaderMap {
            map: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn header(&self, field: &str) -> String {
        self.map
            .get(field)
            .cloned()
            .unwrap_or_else(|| default_header(field))
    }
}

/// podman's header for a field without an override: the camel-case words
/// upper-cased and joined by spaces (`CreatedAt` -> `CREATED AT`,
/// `ImageID` -> `IMAGE ID`), as fatih/camelcase splits them.
pub fn default_header(field: &str) -> String {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Lower,
        Upper,
        Digit,
        Other,
    }
    let class = |c: char| {
        if c.is_lowercase() {
            Class::Lower
        } else if c.is_uppercase() {
            Class::Upper
        } else if c.is_numeric() {
            Class::Digit
        } else {
            Class::Other
        }
    };
    let mut runs: Vec<(Class, Vec<char>)> = Vec::new();
    for c in field.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some((last, chars)) if *last == k => chars.push(c),
            _ => runs.push((k, vec![c])),
        }
    }
    // An upper-case run followed by lower case gives its last letter to the
    // next word: "HTTPServer" -> "HTTP", "Server".
    for i in 0..runs.len().saturating_sub(1) {
        if runs[i].0 == Class::Upper && runs[i + 1].0 == Class::Lower && runs[i].1.len() > 1 {
            if let Some(c) = runs[i].1.pop() {
                runs[i + 1].1.insert(0, c);
            }
        }
    }
    let mut words: Vec<String> = Vec::new();
    for (i, (k, chars)) in runs.iter().enumerate() {
        let w: String = chars.iter().collect();
        // "Created" is split as Upper "C" + Lower "reated": glue them back.
        if *k == Class::Lower && i > 0 && runs[i - 1].0 == Class::Upper && runs[i - 1].1.len() == 1
        {
            if let Some(last) = words.last_mut() {
                last.push_str(&w);
                continue;
            }
        }
        if !w.is_empty() {
            words.push(w);
        }
    }
    words.join(" ").to_uppercase()
}

/// What a `--format` value asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum FormatSpec {
    /// A pretty JSON array of the rows.
    Json,
    /// A header row plus one row per item, columns aligned. Holds the
    /// template without the `table` keyword.
    Table(String),
    /// One rendered template per row, no header, no alignment.
    Template(String),
}

impl FormatSpec {
    /// Classify `format`; `None` (no `--format`) and a bare `table` mean the
    /// verb's default table.
    pub fn parse(format: Option<&str>, default_table: &str) -> FormatSpec {
        let f = format.unwrap_or(default_table);
        let t = f.trim();
        if t == "json" {
            return FormatSpec::Json;
        }
        if t == "table" {
            return FormatSpec::parse(None, default_table.trim_start());
        }
        match f.strip_prefix("table") {
            Some(rest) if rest.starts_with([' ', '\t', '\n']) || rest.starts_with("\\t") => {
                let rest = rest.strip_prefix("\\t").unwrap_or(&rest[1..]);
                FormatSpec::Table(rest.to_string())
            }
            _ => FormatSpec::Template(f.to_string()),
        }
    }
}

/// podman's NormalizeFormat: the two-character escapes `\t` and `\n` become
/// a tab and a newline, and every row ends with a newline.
pub fn normalize(format: &str) -> String {
    let mut f = format.replace("\\t", "\t").replace("\\n", "\n");
    if !f.ends_with('\n') {
        f.push('\n');
    }
    f
}

/// In table mode podman turns spaces into column breaks
/// (`table {{.ID}} {{.Names}}` is two columns). We do it only in the text
/// between actions, so spaces inside string literals survive.
fn spaces_to_tabs(format: &str) -> String {
    let mut out = String::with_capacity(format.len());
    let mut rest = format;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open].replace(' ', "\t"));
        rest = &rest[open..];
        let close = rest.find("}}").map(|c| c + 2).unwrap_or(rest.len());
        out.push_str(&rest[..close]);
        rest = &rest[close..];
    }
    out.push_str(&rest.replace(' ', "\t"));
    out
}

/// Render `rows` as `--format` asks, ready to print (ends with a newline
/// unless there is nothing to print).
pub fn render_rows(
    format: Option<&str>,
    default_table: &str,
    headers: &HeaderMap,
    rows: &[Value],
    noheading: bool,
) -> Result<String> {
    match FormatSpec::parse(format, default_table) {
        FormatSpec::Json => Ok(json_pretty(&Value::Array(rows.to_vec())) + "\n"),
        FormatSpec::Template(src) => {
            let tmpl = Template::parse(&normalize(&src))?;
            let mut out = String::new();
            for r in rows {
                out.push_str(&tmpl.render(r)?);
            }
            Ok(out)
        }
        FormatSpec::Table(src) => {
            let tmpl = Template::parse(&normalize(&spaces_to_tabs(&src)))?;
            let mut text = String::new();
            if !noheading {
                text.push_str(&render_header(&tmpl, headers));
            }
            for r in rows {
                text.push_str(&tmpl.render(r)?);
            }
            Ok(tabwrite_text(&text))
        }
    }
}

/// podman renders the header by running the row template on a map from
/// field name to header text; we build that map from the fields the
/// template reads (nested `.A.B` gets the header of `B`).
fn render_header(tmpl: &Template, headers: &HeaderMap) -> String {
    let paths = tmpl.field_paths();
    let mut data = Map::new();
    for p in &paths {
        let mut obj = &mut data;
        for (i, f) in p.iter().enumerate() {
            if i + 1 == p.len() {
                obj.entry(f.clone())
                    .or_insert_with(|| Value::String(headers.header(f)));
            } else {
                let slot = obj
                    .entry(f.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                obj = slot.as_object_mut().expect("just made an object");
            }
        }
    }
    match tmpl.render(&Value::Object(data)) {
        Ok(h) => h,
        // A template that cannot run on header text (say `range` over a
        // field) still gets one header cell per field.
        Err(_) => {
            let cells: Vec<String> = paths
                .iter()
                .filter_map(|p| p.last())
                .map(|f| headers.header(f))
                .collect();
            cells.join("\t") + "\n"
        }
    }
}

/// Go's tabwriter as podman configures it: minwidth 12, tabwidth 2,
/// padding 2, pad with spaces, no flags.
const MIN_WIDTH: usize = 12;
const PADDING: usize = 2;

/// Align text whose cells are separated by tabs and lines by newlines.
pub fn tabwrite_text(text: &str) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    let trailing_newline = text.ends_with('\n');
    if trailing_newline {
        lines.pop();
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let mut out = tabwrite(&rows);
    if !trailing_newline && out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Align rows of cells like Go's tabwriter: every cell but a line's last is
/// tab-terminated and padded to its column's width (widest cell + padding,
/// at least the minimum width). A column spans a block of consecutive lines
/// that have a cell there, so a short line splits the columns to its right,
/// exactly as Go does. The last cell of a line is never padded. Each row
/// becomes one output line ending in a newline.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(rows, 0, rows.len(), &mut widths, &mut out);
    out
}

/// Number of tab-terminated cells in a row.
fn cells(row: &[String]) -> usize {
    row.len().saturating_sub(1)
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Go's `Writer.format`: lay out lines [line0, line1) given the widths of
/// the columns to the left.
fn format_block(
    rows: &[Vec<String>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column >= cells(&rows[this]) {
            this += 1;
            continue;
        }
        // A cell in this column: print the lines before the block, then
        // find the block's extent and its width.
        write_lines(rows, line0, this, widths, out);
        line0 = this;
        let mut w = MIN_WIDTH;
        while this < line1 && column < cells(&rows[this]) {
            w = w.max(width(&rows[this][column]) + PADDING);
            this += 1;
        }
        widths.push(w);
        format_block(rows, line0, this, widths, out);
        widths.pop();
        line0 = this;
    }
    write_lines(rows, line0, line1, widths, out);
}

fn write_lines(
    rows: &[Vec<String>],
    line0: usize,
    line1: usize,
    widths: &[usize],
    out: &mut String,
) {
    for row in &rows[line0..line1] {
        for (j, c) in row.iter().enumerate() {
            out.push_str(c);
            if j < widths.len() && j + 1 < row.len() {
                out.push_str(&" ".repeat(widths[j].saturating_sub(width(c))));
            }
        }
        out.push('\n');
    }
}

/// JSON as podman prints it (Go's json.MarshalIndent with four spaces):
/// `<`, `>`, `&`, U+2028 and U+2029 are escaped as Go does.
pub fn json_pretty(v: &Value) -> String {
    json_indented(v, 4)
}

/// podman's `inspect` documents: indented by five spaces, as its Go code does.
pub fn json_inspect(v: &Value) -> String {
    json_indented(v, 5)
}

/// JSON indented `width` spaces a level; podman's verbs differ (2 for
/// `ps`, `pod ps`, `volume ls`, `info`; 4 for `images`; 5 for `inspect`).
pub fn json_indented(v: &Value, width: usize) -> String {
    use serde::Serialize;
    let indent = " ".repeat(width);
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serializing a Value into a Vec cannot fail.
    v.serialize(&mut ser).expect("serialize JSON value");
    go_escape_html(&String::from_utf8(buf).expect("serde_json writes UTF-8"))
}

/// One-line JSON, as podman prints `version`, `history` and `diff`.
pub fn json_compact(v: &Value) -> String {
    go_escape_html(&v.to_string())
}

/// These characters occur only inside JSON strings, so a plain replace is
/// safe.
fn go_escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const IMAGES: &str = "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Created}}\\t{{.Size}}";

    fn image_headers() -> HeaderMap {
        HeaderMap::new(&[("ID", "IMAGE ID"), ("ReadOnly", "R/O")])
    }

    fn image_row() -> Value {
        json!({"Repository": "localhost/tiny", "Tag": "1", "ID": "76184515c06c",
               "Created": "Less than a second ago", "Size": "11.3 kB", "Names": ["localhost/tiny:1"],
               "VirtualSize": 11331, "Labels": {"a": "<b>&c"}})
    }

    #[test]
    fn default_headers() {
        assert_eq!(default_header("CreatedAt"), "CREATED AT");
        assert_eq!(default_header("ID"), "ID");
        assert_eq!(default_header("ImageID"), "IMAGE ID");
        assert_eq!(default_header("VirtualSize"), "VIRTUAL SIZE");
        assert_eq!(default_header("HTTPServer"), "HTTP SERVER");
        assert_eq!(default_header("Names"), "NAMES");
        assert_eq!(default_header("Size2"), "SIZE 2");
        assert_eq!(image_headers().header("ID"), "IMAGE ID");
        assert_eq!(image_headers().header("Repository"), "REPOSITORY");
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(FormatSpec::parse(Some("json"), IMAGES), FormatSpec::Json);
        assert_eq!(FormatSpec::parse(Some(" json "), IMAGES), FormatSpec::Json);
        assert_eq!(
            FormatSpec::parse(Some("{{json .}}"), IMAGES),
            FormatSpec::Template("{{json .}}".into())
        );
        assert_eq!(
            FormatSpec::parse(Some("table {{.ID}}"), IMAGES),
            FormatSpec::Table("{{.ID}}".into())
        );
        assert_eq!(
            FormatSpec::parse(Some("{{.ID}}"), IMAGES),
            FormatSpec::Template("{{.ID}}".into())
        );
        assert_eq!(
            FormatSpec::parse(Some("tablefoo"), IMAGES),
            FormatSpec::Template("tablefoo".into())
        );
        let def = FormatSpec::parse(None, IMAGES);
        assert!(matches!(&def, FormatSpec::Table(s) if s.starts_with("{{.Repository}}")));
        assert_eq!(FormatSpec::parse(Some("table"), IMAGES), def);
    }

    #[test]
    fn tabwriter_matches_podman_images() {
        // Real `podman images` output: minwidth 12, padding 2, last cell bare.
        let rows = [
            vec!["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            vec![
                "localhost/tiny",
                "1",
                "76184515c06c",
                "Less than a second ago",
                "11.3 kB",
            ],
        ];
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect();
        assert_eq!(
            tabwrite(&rows),
            "REPOSITORY      TAG         IMAGE ID      CREATED                 SIZE\n\
             localhost/tiny  1           76184515c06c  Less than a second ago  11.3 kB\n"
        );
    }

    #[test]
    fn tabwriter_blocks_and_edges() {
        assert_eq!(tabwrite(&[]), "");
        assert_eq!(tabwrite_text("a\tb\n"), "a           b\n");
        assert_eq!(tabwrite_text("no tabs\nhere\n"), "no tabs\nhere\n");
        // A line without the column ends the block: widths restart after it.
        assert_eq!(
            tabwrite_text("aaaaaaaaaaaaaaaa\tx\nbreak\nb\ty\n"),
            "aaaaaaaaaaaaaaaa  x\nbreak\nb           y\n"
        );
        // Trailing tab: the cell before it is padded, an empty last cell.
        assert_eq!(tabwrite_text("a\t\n"), "a           \n");
        // Widths count characters, not bytes.
        assert_eq!(
            tabwrite_text("ééééééééééééé\tx\nb\ty\n"),
            "ééééééééééééé  x\nb              y\n"
        );
        assert_eq!(tabwrite_text("a\tb"), "a           b");
    }

    #[test]
    fn table_rendering() {
        let rows = vec![image_row()];
        let out = render_rows(None, IMAGES, &image_headers(), &rows, false).unwrap();
        assert_eq!(
            out,
            "REPOSITORY      TAG         IMAGE ID      CREATED                 SIZE\n\
             localhost/tiny  1           76184515c06c  Less than a second ago  11.3 kB\n"
        );
        let out = render_rows(None, IMAGES, &image_headers(), &rows, true).unwrap();
        assert_eq!(
            out,
            "localhost/tiny  1           76184515c06c  Less than a second ago  11.3 kB\n"
        );
        // The header of an empty table is still printed.
        let out = render_rows(None, IMAGES, &image_headers(), &[], false).unwrap();
        assert_eq!(
            out,
            "REPOSITORY  TAG         IMAGE ID    CREATED     SIZE\n"
        );
        assert_eq!(
            render_rows(None, IMAGES, &image_headers(), &[], true).unwrap(),
            ""
        );
    }

    #[test]
    fn table_spaces_and_functions() {
        let rows = vec![image_row()];
        // As in podman, spaces in table text are column breaks.
        let out = render_rows(
            Some("table {{.Repository}} {{.Tag}}"),
            IMAGES,
            &image_headers(),
            &rows,
            false,
        )
        .unwrap();
        assert_eq!(out, "REPOSITORY      TAG\nlocalhost/tiny  1\n");
        // Functions run on the header text too, like podman (`"NAMES"`).
        let out = render_rows(
            Some("table {{json .Names}}\\t{{.VirtualSize}}"),
            IMAGES,
            &image_headers(),
            &rows,
            false,
        )
        .unwrap();
        assert_eq!(
            out,
            "\"NAMES\"               VIRTUAL SIZE\n[\"localhost/tiny:1\"]  11331\n"
        );
        // Spaces inside actions survive.
        let out = render_rows(
            Some(r#"table {{printf "%s %s" .Tag .Tag}}"#),
            IMAGES,
            &image_headers(),
            &rows,
            true,
        )
        .unwrap();
        assert_eq!(out, "1 1\n");
        // Nested fields get the header of their last segment.
        let out = render_rows(
            Some("table {{.Labels.a}}"),
            IMAGES,
            &image_headers(),
            &rows,
            false,
        )
        .unwrap();
        assert_eq!(out, "A\n<b>&c\n");
    }

    #[test]
    fn plain_templates() {
        let rows = vec![
            image_row(),
            json!({"Repository": "x", "Tag": "2", "ID": "b3bd"}),
        ];
        let out = render_rows(
            Some("{{.Repository}}\\t{{.Tag}}"),
            IMAGES,
            &image_headers(),
            &rows,
            false,
        )
        .unwrap();
        // No header and no alignment: podman prints the tab as is.
        assert_eq!(out, "localhost/tiny\t1\nx\t2\n");
        let out = render_rows(Some("{{.ID}}\\n"), IMAGES, &image_headers(), &rows, false).unwrap();
        assert_eq!(out, "76184515c06c\nb3bd\n");
        let out = render_rows(
            Some("{{json .Labels}}"),
            IMAGES,
            &image_headers(),
            &rows[..1],
            false,
        )
        .unwrap();
        assert_eq!(out, "{\"a\":\"<b>&c\"}\n");
        let err =
            render_rows(Some("{{.Nope}}"), IMAGES, &image_headers(), &rows, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template: executing at <.Nope>: can't evaluate field Nope"
        );
        assert!(
            render_rows(Some("{{.Nope}}"), IMAGES, &image_headers(), &[], false)
                .unwrap()
                .is_empty()
        );
        assert!(render_rows(Some("{{"), IMAGES, &image_headers(), &[], false).is_err());
    }

    #[test]
    fn json_output() {
        assert_eq!(
            render_rows(Some("json"), IMAGES, &image_headers(), &[], false).unwrap(),
            "[]\n"
        );
        let v = json!([{"Id": "abc", "Labels": {"a": "<b>&c"}, "Names": ["x"], "Empty": [], "Obj": {}, "N": null}]);
        assert_eq!(
            json_pretty(&v),
            // Keys keep their insertion order, as Go keeps struct field order.
            "[\n    {\n        \"Id\": \"abc\",\n        \"Labels\": {\n            \"a\": \"\\u003cb\\u003e\\u0026c\"\n        },\n        \"Names\": [\n            \"x\"\n        ],\n        \"Empty\": [],\n        \"Obj\": {},\n        \"N\": null\n    }\n]"
        );
        let doc = json!([{"Id": "a", "Tags": ["<x>"]}]);
        assert_eq!(
            json_inspect(&doc),
            "[\n     {\n          \"Id\": \"a\",\n          \"Tags\": [\n               \"\\u003cx\\u003e\"\n          ]\n     }\n]"
        );
        assert_eq!(
            json_compact(&doc),
            "[{\"Id\":\"a\",\"Tags\":[\"\\u003cx\\u003e\"]}]"
        );
    }
}
