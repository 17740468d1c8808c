//! `events`: the store's event journal, printed or followed as podman does.

use super::GlobalOpts;
use crate::engine::events::{watch, EventQuery, Filters};
use crate::engine::types::Event;
use crate::format::human;
use crate::format::template::Template;
use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, SystemTime};

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Filter output (container=, image=, event=, type=, label=, pod=, volume=)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format the output using a Go template, or json
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub no_trunc: bool,
    /// Show all events created since timestamp
    #[arg(long, allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Show all events created until timestamp
    #[arg(long, allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Stream new events; --stream=false prints the existing ones and exits
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub stream: bool,
}

/// How each event is printed.
enum Output {
    Human { truncate: bool },
    Json,
    Template(Template),
}

impl Output {
    fn render(&self, e: &Event) -> Result<String> {
        Ok(match self {
            Output::Human { truncate } => human_line(e, *truncate),
            Output::Json => serde_json::to_string(e)?,
            Output::Template(t) => t.render(&template_data(e))?,
        })
    }
}

/// podman's ToHumanReadable.
fn human_line(e: &Event, truncate: bool) -> String {
    let time = e
        .timestamp()
        .map(human::go_time_string)
        .unwrap_or_else(|| e.time.clone());
    let id = if truncate && e.id.len() > 12 {
        &e.id[..12]
    } else {
        &e.id
    };
    let head = format!("{time} {} {}", e.typ, e.status);
    match e.typ.as_str() {
        "container" | "pod" => {
            let mut s = format!("{head} {id} (image={}, name={}", e.image, e.name);
            if !e.pod_id.is_empty() {
                s.push_str(&format!(", pod_id={}", e.pod_id));
            }
            if !e.health_status.is_empty() {
                s.push_str(&format!(", health_status={}", e.health_status));
            }
            for (k, v) in e.attributes.iter().flatten() {
                s.push_str(&format!(", {k}={v}"));
            }
            s.push(')');
            s
        }
        "network" => format!("{head} {id} (container={id}, name={})", e.network),
        "image" => format!("{head} {id} {}", e.name),
        "system" if e.name.is_empty() => head,
        _ => format!("{head} {}", e.name),
    }
}

/// The event as a Go template sees podman's struct: every field present,
/// `.Time` as Go prints a time.
fn template_data(e: &Event) -> Value {
    let time = e
        .timestamp()
        .map(human::go_time_string)
        .unwrap_or_else(|| e.time.clone());
    json!({
        "ContainerExitCode": e.exit_code,
        "ID": e.id,
        "Image": e.image,
        "Name": e.name,
        "Network": e.network,
        "Status": e.status,
        "Time": time,
        "Type": e.typ,
        "HealthStatus": e.health_status,
        "HealthLog": e.health_log,
        "PodID": e.pod_id,
        "Attributes": e.attributes,
        "Details": {"PodID": e.pod_id, "Attributes": e.attributes},
    })
}

/// Write to stdout; false once the reader went away (`events | head -1`).
fn emit(text: &str) -> Result<bool> {
    let mut out = super::output::stdout();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub fn events(g: &GlobalOpts, a: EventsArgs) -> Result<()> {
    let now = SystemTime::now();
    let since = a
        .since
        .as_deref()
        .map(|s| human::parse_duration_or_time(s, now))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| human::parse_duration_or_time(s, now))
        .transpose()?;
    let filters = Filters::parse(&a.filter)?;
    let output = match a.format.as_deref().map(str::trim) {
        None | Some("") => Output::Human {
            truncate: !a.no_trunc,
        },
        Some("json") => Output::Json,
        Some(_) => {
            let f = super::output::unescape(a.format.as_deref().unwrap_or_default());
            Output::Template(Template::parse(&f)?)
        }
    };
    let store = g.open_store()?;
    crate::engine::events::check_readable(&store)?;
    let print_all = |list: Vec<Event>| -> Result<bool> {
        let mut text = String::new();
        for e in &list {
            text.push_str(&output.render(e)?);
            text.push('\n');
        }
        emit(&text)
    };
    let query = EventQuery {
        filters,
        since,
        until,
        stream: a.stream,
    };
    let (mut journal, older) = watch(&store, query);
    if !print_all(older)? {
        return Ok(());
    }
    loop {
        if !print_all(journal.read_new()?)? {
            return Ok(());
        }
        if journal.finished() {
            return Ok(());
        }
        // Polling keeps this simple; 100 ms is below what a reader notices.
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(typ: &str, status: &str) -> Event {
        let mut e = Event::new(typ, status);
        e.time = "2026-11-25T16:00:00.1234Z".into();
        e
    }

    #[test]
    fn human_lines_as_podman() {
        let mut c = ev("container", "create");
        c.id = "3f2a".repeat(16);
        c.name = "s1".into();
        c.image = "localhost/bb:latest".into();
        c.attributes = Some([("a".to_string(), "b".to_string())].into());
        assert_eq!(
            human_line(&c, false),
            format!("2026-11-25 16:00:00.1234 +0000 UTC container create {} (image=localhost/bb:latest, name=s1, a=b)", c.id)
        );
        assert!(human_line(&c, true).contains(" create 3f2a3f2a3f2a (image="));
        let mut i = ev("image", "pull");
        i.name = "localhost/bb".into();
        assert_eq!(
            human_line(&i, false),
            "2026-11-25 16:00:00.1234 +0000 UTC image pull  localhost/bb"
        );
        let mut v = ev("volume", "create");
        v.name = "data".into();
        assert_eq!(
            human_line(&v, false),
            "2026-11-25 16:00:00.1234 +0000 UTC volume create data"
        );
    }
}
