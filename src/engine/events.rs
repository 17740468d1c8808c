//! The event journal as a reader sees it: which events a `--filter` list
//! and a time window select, the past ones and then the new ones as they
//! are appended. Printing them is the caller's.

use super::types::Event;
use crate::storage::events::Follower;
use crate::storage::store::Store;
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// The `--filter` values by key: one key's values OR, keys AND (podman).
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    pub fn parse(list: &[String]) -> Result<Filters> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in list {
            let Some((k, v)) = f.split_once('=') else {
                bail!("invalid filter {f:?}: use KEY=VALUE");
            };
            let key = k.to_ascii_lowercase();
            let key = match key.as_str() {
                "status" => "event".to_string(),
                "container" | "event" | "image" | "label" | "pod" | "volume" | "type" => key,
                _ => bail!("{k} is an invalid filter"),
            };
            map.entry(key).or_default().push(v.to_string());
        }
        Ok(Filters(map))
    }

    pub fn matches(&self, e: &Event) -> bool {
        self.0
            .iter()
            .all(|(key, values)| values.iter().any(|v| matches_one(key, v, e)))
    }
}

/// `localhost/bb:latest` is what `bb`, `bb:latest` and the full name mean.
fn names_image(reference: &str, typed: &str) -> bool {
    if reference.is_empty() {
        return false;
    }
    let full = [typed.to_string(), format!("{typed}:latest")];
    full.iter()
        .any(|t| reference == t || reference.ends_with(&format!("/{t}")))
}

fn matches_one(key: &str, value: &str, e: &Event) -> bool {
    match key {
        "container" => e.typ == "container" && (e.name == value || e.id.starts_with(value)),
        "event" => e.status == value,
        "type" => e.typ == value,
        "pod" => e.typ == "pod" && (e.name == value || e.id.starts_with(value)),
        "volume" => e.typ == "volume" && e.name.starts_with(value),
        "image" => match e.typ.as_str() {
            "image" => (!e.id.is_empty() && e.id.starts_with(value)) || names_image(&e.name, value),
            "container" => names_image(&e.image, value),
            _ => false,
        },
        "label" => {
            let (k, want) = match value.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (value, None),
            };
            e.attributes
                .as_ref()
                .and_then(|a| a.get(k))
                .is_some_and(|v| want.is_none_or(|w| w == v))
        }
        _ => false,
    }
}

/// What a reader of the journal asks for.
pub struct EventQuery {
    pub filters: Filters,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
    /// Keep reading new events; false: the existing ones only.
    pub stream: bool,
}

/// Whether the events this store records can be read back here: the file
/// backend's can; `none` keeps none; the journal's are journalctl's.
pub fn check_readable(store: &Store) -> Result<()> {
    use super::types::EventsBackend;
    match store.events_backend {
        EventsBackend::File => Ok(()),
        EventsBackend::None => bail!("cannot read events with the \"none\" backend"),
        EventsBackend::Journald => bail!(
            "coracle reads back the file backend's events only: read the journal's with journalctl SYSLOG_IDENTIFIER=coracle"
        ),
    }
}

/// An open reading of the journal: `read_new` gives the selected events
/// appended since the last call.
pub struct EventWatch {
    follower: Follower,
    query: EventQuery,
}

/// Open the journal for `query`: the watch, and the selected events that
/// were already there (podman shows the past only with `--since`/`--until`
/// or without streaming; otherwise none).
pub fn watch(store: &Store, query: EventQuery) -> (EventWatch, Vec<Event>) {
    let from_start = !query.stream || query.since.is_some() || query.until.is_some();
    let (follower, older) = if from_start {
        Follower::from_start(store)
    } else {
        (Follower::from_end(store), Vec::new())
    };
    let w = EventWatch { follower, query };
    let older = w.select(older);
    (w, older)
}

impl EventWatch {
    /// The selected events appended since the last call.
    pub fn read_new(&mut self) -> Result<Vec<Event>> {
        let new = self.follower.read_new()?;
        Ok(self.select(new))
    }

    /// No more to read: not streaming, or past `--until`.
    pub fn finished(&self) -> bool {
        !self.query.stream || self.query.until.is_some_and(|u| SystemTime::now() > u)
    }

    fn select(&self, list: Vec<Event>) -> Vec<Event> {
        list.into_iter().filter(|e| self.wanted(e)).collect()
    }

    fn wanted(&self, e: &Event) -> bool {
        let q = &self.query;
        if q.since.is_some() || q.until.is_some() {
            let Some(t) = e.timestamp() else {
                return false;
            };
            if q.since.is_some_and(|s| t < s) || q.until.is_some_and(|u| t > u) {
                return false;
            }
        }
        q.filters.matches(e)
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
    fn filters_or_within_a_key_and_across_keys() {
        let f = Filters::parse(&[
            "event=start".into(),
            "status=died".into(),
            "type=container".into(),
        ])
        .unwrap();
        let mut c = ev("container", "died");
        c.name = "x".into();
        assert!(f.matches(&c));
        c.status = "create".into();
        assert!(!f.matches(&c));
        let p = ev("pod", "start");
        assert!(!f.matches(&p));
        assert!(Filters::parse(&["nope=1".into()]).is_err());
        assert!(Filters::parse(&["container".into()]).is_err());
    }

    #[test]
    fn image_filter_takes_short_names() {
        let mut c = ev("container", "create");
        c.image = "127.0.0.1:5000/fixtures/rt:1".into();
        assert!(matches_one("image", "fixtures/rt:1", &c));
        assert!(!matches_one("image", "rt:2", &c));
        let mut i = ev("image", "tag");
        i.id = "abcdef".into();
        i.name = "localhost/bb:latest".into();
        assert!(matches_one("image", "abc", &i));
        assert!(matches_one("image", "bb", &i));
    }

    #[test]
    fn labels_match_key_and_value() {
        let mut c = ev("container", "create");
        c.attributes = Some([("app".to_string(), "web".to_string())].into());
        assert!(matches_one("label", "app=web", &c));
        assert!(matches_one("label", "app", &c));
        assert!(!matches_one("label", "app=db", &c));
    }
}
