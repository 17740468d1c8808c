//! Where events go: the store's journal file, the systemd journal or
//! nowhere (`--events-backend`, containers.conf `events_logger`).

use anyhow::Result;
use std::path::Path;

/// Where events go (`--events-backend`, containers.conf `events_logger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The journal file described above.
    #[default]
    File,
    /// The systemd journal, through its native socket.
    Journald,
    /// Nowhere.
    None,
}

/// The systemd journal's socket for native messages.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

impl std::str::FromStr for Backend {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Backend> {
        match s {
            "file" => Ok(Backend::File),
            "journald" => {
                if !Path::new(JOURNAL_SOCKET).exists() {
                    anyhow::bail!(
                        "events backend journald: the systemd journal is not running here (no {JOURNAL_SOCKET}); use file or none"
                    );
                }
                Ok(Backend::Journald)
            }
            "none" => Ok(Backend::None),
            _ => anyhow::bail!("invalid events backend {s:?}: use file, journald or none"),
        }
    }
}
