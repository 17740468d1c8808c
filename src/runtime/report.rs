//! The start report: how a container's start went, told once over a
//! close-on-exec pipe. The monitor tells the waiting CLI (`Started` or
//! `Failed`); the container's first process tells the monitor only
//! `Failed` (its exec closing the pipe, with nothing said, is its success);
//! the helper launcher tells the monitor how its network helper started.
//!
//! One message per pipe: the writer writes it whole, in one `write`, and
//! closes; the reader reads to EOF. An empty pipe is no message.

use crate::error::{CodedError, FailureKind, StartFailed};
use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, BorrowedFd};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum Report {
    /// The program is running (for the launcher: its helper, 0 for none).
    Started { pid: i32 },
    /// It did not start: podman's exit code (125, 126, 127), the message
    /// the user sees, and what failed.
    Failed {
        code: i32,
        message: String,
        kind: FailureKind,
    },
}

impl Report {
    /// The report of a failure: its code and kind from a typed error in its
    /// chain (125 and `Other` without one), its whole message.
    pub fn failed(err: &anyhow::Error) -> Report {
        let mut code = 125;
        let mut kind = FailureKind::Other;
        for cause in err.chain() {
            if let Some(f) = cause.downcast_ref::<StartFailed>() {
                (code, kind) = (f.code, f.kind);
                break;
            }
            if let Some(c) = cause.downcast_ref::<CodedError>() {
                code = c.code;
                break;
            }
        }
        Report::Failed {
            code,
            message: format!("{err:#}"),
            kind,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // A derived Serialize of integers and strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(data: &[u8]) -> Result<Option<Report>> {
        if data.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(data).map(Some).map_err(|e| {
            anyhow!(
                "unreadable start report {:?}: {e}",
                String::from_utf8_lossy(data)
            )
        })
    }

    /// Write the report to `fd` (the caller closes it afterwards).
    pub fn send(&self, fd: BorrowedFd<'_>) -> std::io::Result<()> {
        super::sys::write_all(fd.as_raw_fd(), &self.encode())
    }

    /// Read the one report on `fd` until its writers are gone.
    pub fn receive(fd: BorrowedFd<'_>) -> Result<Option<Report>> {
        let data = super::sys::read_to_end(fd.as_raw_fd())
            .map_err(|e| anyhow!("reading the start report: {e}"))?;
        Report::decode(&data)
    }

    /// The failure as an error that keeps its code and kind; `Started` is
    /// none.
    pub fn into_result(self) -> Result<i32> {
        match self {
            Report::Started { pid } => Ok(pid),
            Report::Failed {
                code,
                message,
                kind,
            } => Err(StartFailed {
                code,
                message,
                kind,
            }
            .into()),
        }
    }
}

/// Wait for a process that reports only failures (the container's first
/// process, exec's child) to exec: Ok once its end of `fd` closed with
/// nothing said, its failure otherwise.
pub fn await_exec(fd: BorrowedFd<'_>) -> Result<()> {
    match Report::receive(fd)? {
        None => Ok(()),
        Some(Report::Started { pid }) => Err(anyhow!(
            "unexpected start report from the container process (pid {pid})"
        )),
        Some(failed) => failed.into_result().map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn round_trips() {
        for r in [
            Report::Started { pid: 4242 },
            Report::Failed {
                code: 127,
                message: "executable file `nope` not found in $PATH: \"quoted\"\nnewline".into(),
                kind: FailureKind::Other,
            },
            Report::Failed {
                code: 125,
                message: "setting up the network: port in use".into(),
                kind: FailureKind::Network,
            },
        ] {
            assert_eq!(Report::decode(&r.encode()).unwrap(), Some(r));
        }
        assert_eq!(Report::decode(b"").unwrap(), None);
        assert!(Report::decode(b"ok 12").is_err());
    }

    #[test]
    fn wire_format_is_tagged() {
        let text = String::from_utf8(Report::Started { pid: 7 }.encode()).unwrap();
        assert_eq!(text, r#"{"report":"started","pid":7}"#);
        let f = Report::Failed {
            code: 125,
            message: "m".into(),
            kind: FailureKind::Network,
        };
        let text = String::from_utf8(f.encode()).unwrap();
        assert_eq!(
            text,
            r#"{"report":"failed","code":125,"message":"m","kind":"network"}"#
        );
    }

    #[test]
    fn failure_keeps_code_and_kind() {
        let e: anyhow::Error = CodedError {
            code: 126,
            message: "sh: permission denied".into(),
        }
        .into();
        let e = e.context("starting");
        assert_eq!(
            Report::failed(&e),
            Report::Failed {
                code: 126,
                message: "starting: sh: permission denied".into(),
                kind: FailureKind::Other,
            }
        );
        let e: anyhow::Error = StartFailed {
            code: 125,
            message: "setting up the network: x".into(),
            kind: FailureKind::Network,
        }
        .into();
        let back = Report::failed(&e).into_result().unwrap_err();
        let f = back.downcast_ref::<StartFailed>().unwrap();
        assert_eq!((f.code, f.kind), (125, FailureKind::Network));
        assert_eq!(format!("{back:#}"), "setting up the network: x");
        assert_eq!(crate::error::exit_code_of(&back), 125);
        assert_eq!(
            Report::failed(&anyhow!("plain")),
            Report::Failed {
                code: 125,
                message: "plain".into(),
                kind: FailureKind::Other
            }
        );
    }

    #[test]
    fn over_a_pipe() {
        let (r, w) = super::super::sys::owned_pipe().unwrap();
        Report::Failed {
            code: 127,
            message: "not found".into(),
            kind: FailureKind::Other,
        }
        .send(w.as_fd())
        .unwrap();
        drop(w);
        let e = await_exec(r.as_fd()).unwrap_err();
        assert_eq!(crate::error::exit_code_of(&e), 127);
        assert_eq!(format!("{e:#}"), "not found");
        let (r, w) = super::super::sys::owned_pipe().unwrap();
        drop(w);
        assert!(await_exec(r.as_fd()).is_ok());
    }
}
