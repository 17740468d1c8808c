//! What a handler answers, and errors as podman words them:
//! `{"cause": ..., "message": ..., "response": STATUS}` with the status
//! the kind of failure means (404 missing, 409 conflict, 500 otherwise).

use super::Ctx;
use serde_json::{json, Value};

/// Which API a request is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Api {
    Compat,
    Libpod,
}

/// Headers on every answer: the API versions (Docker's clients negotiate
/// from `Api-Version`), the server, and `--cors`.
pub fn common_headers(ctx: &Ctx) -> Vec<(String, String)> {
    let mut h = vec![
        (
            "Api-Version".to_string(),
            super::COMPAT_API_VERSION.to_string(),
        ),
        (
            "Libpod-Api-Version".to_string(),
            crate::engine::system::PODMAN_API_VERSION.to_string(),
        ),
        (
            "Server".to_string(),
            format!("Libpod/{} (linux)", env!("CARGO_PKG_VERSION")),
        ),
        ("Date".to_string(), http_date(std::time::SystemTime::now())),
    ];
    if let Some(origin) = &ctx.cors {
        h.push(("Access-Control-Allow-Origin".into(), origin.clone()));
        h.push((
            "Access-Control-Allow-Headers".into(),
            "Authorization, Content-Type, X-Registry-Auth".into(),
        ));
        h.push((
            "Access-Control-Allow-Methods".into(),
            "HEAD, GET, POST, DELETE, PUT, OPTIONS".into(),
        ));
    }
    h
}

/// RFC 7231's date: `Fri, 04 Dec 2026 10:23:36 GMT`.
fn http_date(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = crate::format::human::civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub enum Reply {
    Json(u16, Value),
    /// A status with no body (204, 304).
    Empty(u16),
    /// A body of a given content type.
    Body(u16, &'static str, Vec<u8>),
    /// The handler wrote the whole response (a stream); the connection
    /// ends after it.
    Streamed,
}

/// An error with the status it answers with.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

pub fn api_error(status: u16, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(ApiError {
        status,
        message: message.into(),
    })
}

/// The status an engine error answers with, by what it says (the
/// engine's errors name the kind as podman's do: "no such container",
/// "image not known", "in use"...).
pub fn status_of(e: &anyhow::Error) -> u16 {
    if let Some(a) = e.downcast_ref::<ApiError>() {
        return a.status;
    }
    let text = format!("{e:#}").to_ascii_lowercase();
    let missing = [
        "no such container",
        "no such image",
        "image not known",
        "no such volume",
        "no such network",
        "network not found",
        "no such exec",
        "no such pod",
        "not found in local storage",
    ];
    let conflict = [
        "in use",
        "is running",
        "is paused",
        "already exists",
        "is not running",
        "cannot remove",
        "is being used",
        "state improper",
        "has dependent containers",
    ];
    if missing.iter().any(|m| text.contains(m)) {
        404
    } else if conflict.iter().any(|m| text.contains(m)) {
        409
    } else {
        500
    }
}

/// podman's error document: `cause` is the innermost reason (the text
/// after the last ": ").
pub fn error_json(status: u16, message: &str) -> Value {
    let cause = message.rsplit(": ").next().unwrap_or(message);
    json!({"cause": cause, "message": message, "response": status})
}

pub fn from_error(e: &anyhow::Error) -> Reply {
    let status = status_of(e);
    let message = match e.downcast_ref::<ApiError>() {
        Some(a) => a.message.clone(),
        None => format!("{e:#}"),
    };
    Reply::Json(status, error_json(status, &message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_379_816);
        assert_eq!(http_date(t), "Fri, 04 Dec 2026 10:23:36 GMT");
    }

    #[test]
    fn statuses() {
        let e = anyhow::anyhow!("no container with name or ID \"x\" found: no such container");
        assert_eq!(status_of(&e), 404);
        assert_eq!(
            error_json(404, &format!("{e}"))["cause"],
            "no such container"
        );
        assert_eq!(status_of(&anyhow::anyhow!("name \"a\" is in use")), 409);
        assert_eq!(status_of(&api_error(400, "bad")), 400);
        assert_eq!(status_of(&anyhow::anyhow!("boom")), 500);
    }
}
