//! Small typed errors that callers branch on. Everything else is `anyhow`.

use std::fmt;

/// End the command with this exit code and print nothing more
/// (`image exists` answering "no" exits 1 without a message).
#[derive(Debug)]
pub struct SilentExit(pub i32);

impl fmt::Display for SilentExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}
impl std::error::Error for SilentExit {}

/// An error that must end the command with a specific exit code
/// (126: not executable, 127: not found; 125 is the default for all others).
#[derive(Debug)]
pub struct CodedError {
    pub code: i32,
    pub message: String,
}

impl fmt::Display for CodedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for CodedError {}

/// What failed when a container did not start, for callers that clean up
/// by kind rather than by reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The network helper (pasta, slirp4netns) could not set up: the
    /// half-made container is discarded.
    Network,
    /// Anything else: the container's setup, its program (126/127), the
    /// monitor.
    Other,
}

/// A container that did not start: podman's exit code for it, the message,
/// and what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFailed {
    pub code: i32,
    pub message: String,
    pub kind: FailureKind,
}

impl fmt::Display for StartFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for StartFailed {}

/// A named thing that does not exist (image, container, volume...).
#[derive(Debug)]
pub struct NotFound {
    pub what: &'static str,
    pub name: String,
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} not known", self.name, self.what)
    }
}
impl std::error::Error for NotFound {}

pub fn not_found(what: &'static str, name: impl Into<String>) -> anyhow::Error {
    NotFound {
        what,
        name: name.into(),
    }
    .into()
}

/// The exit code an error should end the process with.
pub fn exit_code_of(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(s) = cause.downcast_ref::<SilentExit>() {
            return s.0;
        }
        if let Some(c) = cause.downcast_ref::<CodedError>() {
            return c.code;
        }
        if let Some(f) = cause.downcast_ref::<StartFailed>() {
            return f.code;
        }
    }
    125
}
