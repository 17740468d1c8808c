//! Small output helpers shared by the verbs.

use anyhow::Result;
use serde_json::Value;
use std::io::Write;

/// `--out FILE`/`--noout`: where coracle's own output goes instead of
/// stdout. A container's output (an attached `run`) still goes to the
/// terminal, as podman's does.
static REDIRECT: std::sync::OnceLock<std::sync::Mutex<std::fs::File>> = std::sync::OnceLock::new();

pub fn redirect(path: &std::path::Path) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("opening --out {}: {e}", path.display()))?;
    let _ = REDIRECT.set(std::sync::Mutex::new(file));
    Ok(())
}

/// Where coracle's output goes: stdout, or the `--out` file.
pub fn stdout() -> Box<dyn Write> {
    match REDIRECT.get().and_then(|f| f.lock().ok()?.try_clone().ok()) {
        Some(f) => Box::new(f),
        None => Box::new(std::io::stdout().lock()),
    }
}

/// Print to stdout, ignoring a closed pipe (`coracle images | head -1`).
pub fn print(text: &str) -> Result<()> {
    let mut out = stdout();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub fn println(text: &str) -> Result<()> {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('\n');
    print(&s)
}

/// `inspect`-style output: a JSON array, or each item through a template.
pub fn print_inspect(items: &[Value], format: Option<&str>) -> Result<()> {
    match format {
        None | Some("json") => println(&crate::format::table::json_inspect(&Value::Array(
            items.to_vec(),
        ))),
        Some(fmt) => {
            let tmpl = crate::format::template::Template::parse(&unescape(fmt))?;
            let mut out = String::new();
            for item in items {
                out.push_str(&tmpl.render(item)?);
                out.push('\n');
            }
            print(&out)
        }
    }
}

/// One item a line: the ids or names a verb acted on.
pub fn print_lines<S: AsRef<str>>(items: &[S]) -> Result<()> {
    let mut out = String::new();
    for item in items {
        out.push_str(item.as_ref());
        out.push('\n');
    }
    print(&out)
}

/// What a verb did, a line each, then the failure that stopped the rest:
/// podman prints what it removed before it reports the error.
pub fn print_lines_then<S: AsRef<str>>(items: &[S], error: Option<anyhow::Error>) -> Result<()> {
    print_lines(items)?;
    error.map_or(Ok(()), Err)
}

/// A listing in the user's `--format` or the `default` table; `headers`
/// names the columns whose heading is not the field's name in capitals.
pub fn print_table(
    format: Option<&str>,
    default: &str,
    headers: &[(&str, &str)],
    rows: &[Value],
    noheading: bool,
) -> Result<()> {
    let format = format.map(unescape);
    let headers = crate::format::table::HeaderMap::new(headers);
    let out =
        crate::format::table::render_rows(format.as_deref(), default, &headers, rows, noheading)?;
    print(&out)
}

/// podman reads `\t` and `\n` typed literally in a format as tab and newline.
pub fn unescape(fmt: &str) -> String {
    fmt.replace("\\t", "\t").replace("\\n", "\n")
}

/// Is stdout a terminal (a refreshing display clears the screen)?
pub fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

/// Ask before a destructive verb (`prune` without `--force`): print
/// `warning` and podman's question; true when the user answers yes.
pub fn confirm(warning: &str) -> Result<bool> {
    print(&format!(
        "{warning}\nAre you sure you want to continue? [y/N] "
    ))?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

/// Run `f` on every item, printing `label` of each success (unless
/// `quiet`); report every failure but the last on stderr and fail with the
/// last (podman goes on past a failing item and fails the command at the
/// end).
pub fn for_each_reported<T>(
    items: &[T],
    label: impl Fn(&T) -> &str,
    quiet: bool,
    mut f: impl FnMut(&T) -> Result<()>,
) -> Result<()> {
    let mut last: Option<anyhow::Error> = None;
    for item in items {
        match f(item) {
            Ok(()) => {
                if !quiet {
                    println(label(item))?;
                }
            }
            Err(e) => {
                if let Some(prev) = last.take() {
                    crate::log::error_line(&format!("{prev:#}").replace('\n', " "));
                }
                last = Some(e);
            }
        }
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

pub use crate::engine::filter::key_values;
