//! Small output helpers shared by the verbs.

use anyhow::Result;
use serde_json::Value;
use std::io::Write;

/// Print to stdout, ignoring a closed pipe (`coracle images | head -1`).
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
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

/// podman reads `\t` and `\n` typed literally in a format as tab and newline.
pub fn unescape(fmt: &str) -> String {
    fmt.replace("\\t", "\t").replace("\\n", "\n")
}

/// Is stdout a terminal (a refreshing display clears the screen)?
pub fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}
