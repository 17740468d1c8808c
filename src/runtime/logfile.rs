//! The container log in podman's k8s-file format: one line per record,
//! `<RFC 3339 nano time> <stream> <P|F> <text>`; `P` marks a partial line
//! (output that did not end in a newline yet), `F` a full one.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

pub struct LogWriter {
    file: Option<File>,
    /// Bytes past which the log is truncated (0: no limit).
    max_size: u64,
}

/// conmon's timestamp: UTC, nine fraction digits, numeric offset.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, mo, da) = crate::format::human::civil_from_days(secs.div_euclid(86400));
    let rem = secs.rem_euclid(86400);
    format!(
        "{y:04}-{mo:02}-{da:02}T{:02}:{:02}:{:02}.{:09}+00:00",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

impl LogWriter {
    pub fn open(path: &Path) -> Result<LogWriter> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening log {}", path.display()))?;
        Ok(LogWriter {
            file: Some(file),
            max_size: 0,
        })
    }

    /// `--log-opt max-size`: past it the log starts over (conmon's rule).
    pub fn max_size(mut self, bytes: i64) -> LogWriter {
        self.max_size = bytes.max(0) as u64;
        self
    }

    /// A writer that drops everything (`--log-driver none`).
    pub fn none() -> LogWriter {
        LogWriter {
            file: None,
            max_size: 0,
        }
    }

    /// Record a chunk of output: every complete line as F, a tail as P.
    pub fn write(&mut self, stream: &str, data: &[u8]) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let ts = timestamp(SystemTime::now());
        let mut out = Vec::with_capacity(data.len() + 64);
        for piece in data.split_inclusive(|b| *b == b'\n') {
            let (text, full) = match piece.strip_suffix(b"\n") {
                Some(t) => (t, true),
                None => (piece, false),
            };
            out.extend_from_slice(ts.as_bytes());
            out.push(b' ');
            out.extend_from_slice(stream.as_bytes());
            out.extend_from_slice(if full { b" F " } else { b" P " });
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        if self.max_size > 0 {
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            if size + out.len() as u64 > self.max_size {
                let _ = file.set_len(0);
                // A chunk bigger than the whole log keeps its last records.
                while out.len() as u64 > self.max_size {
                    match out.iter().position(|b| *b == b'\n') {
                        Some(i) if i + 1 < out.len() => drop(out.drain(..=i)),
                        _ => break,
                    }
                }
            }
        }
        // A full disk must not stop the container; the log just loses lines.
        let _ = file.write_all(&out);
    }
}

/// One record read back.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub time: String,
    pub stream: String,
    pub partial: bool,
    pub text: Vec<u8>,
}

pub fn parse_line(line: &[u8]) -> Option<LogRecord> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let stream = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let tag = parts.next()?;
    let text = parts.next().unwrap_or_default().to_vec();
    Some(LogRecord {
        time,
        stream,
        partial: tag == b"P",
        text,
    })
}

#[cfg(test)]
/// Every record of a log file (a missing file has none).
pub fn read_all(path: &Path) -> Result<Vec<LogRecord>> {
    use std::io::{BufRead, BufReader};
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading log {}", path.display())),
    };
    let mut out = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        if let Some(r) = parse_line(&line?) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Reads a log as it grows: each call returns the records written since
/// the last one. A line still being written stays buffered until complete.
pub struct LogFollower {
    path: std::path::PathBuf,
    offset: u64,
    pending: Vec<u8>,
}

impl LogFollower {
    pub fn new(path: &Path) -> LogFollower {
        LogFollower {
            path: path.to_path_buf(),
            offset: 0,
            pending: Vec::new(),
        }
    }

    pub fn read_new(&mut self) -> Result<Vec<LogRecord>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("reading log {}", self.path.display()))
            }
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let mut data = std::mem::take(&mut self.pending);
        let n = file.read_to_end(&mut data)?;
        self.offset += n as u64;
        let complete = match data.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None => 0,
        };
        self.pending = data.split_off(complete);
        Ok(data
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(parse_line)
            .collect())
    }
}

/// The records of the last `n` lines: a line is a run of partial records
/// ended by a full one (or the unfinished run at the very end).
pub fn tail(records: Vec<LogRecord>, n: usize) -> Vec<LogRecord> {
    let mut lines = 0;
    let mut start = records.len();
    for (i, r) in records.iter().enumerate().rev() {
        let ends_line = !r.partial || i + 1 == records.len();
        if ends_line {
            if lines == n {
                break;
            }
            lines += 1;
        }
        start = i;
    }
    if n == 0 {
        return Vec::new();
    }
    records.into_iter().skip(start).collect()
}

impl LogRecord {
    /// When the record was written (None for a garbled time).
    pub fn when(&self) -> Option<SystemTime> {
        crate::format::human::parse_rfc3339(&self.time).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_full_and_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ctr.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write("stdout", b"hello\nwor");
        w.write("stderr", b"ld\n");
        let recs = read_all(&p).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].text, b"hello");
        assert!(!recs[0].partial);
        assert!(recs[1].partial);
        assert_eq!(recs[2].stream, "stderr");
        assert!(recs[0].time.ends_with("+00:00"));
    }

    #[test]
    fn max_size_starts_over_and_keeps_the_last_records() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ctr.log");
        let mut w = LogWriter::open(&p).unwrap().max_size(200);
        for i in 0..20 {
            w.write("stdout", format!("line {i}\n").as_bytes());
        }
        let size = std::fs::metadata(&p).unwrap().len();
        assert!(size <= 200, "{size}");
        let chunk: String = (0..50).map(|i| format!("big {i}\n")).collect();
        w.write("stdout", chunk.as_bytes());
        let recs = read_all(&p).unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() <= 200);
        assert_eq!(recs.last().unwrap().text, b"big 49");
        assert!(recs.iter().all(|r| r.text.starts_with(b"big ")));
    }

    fn rec(text: &str, partial: bool) -> LogRecord {
        LogRecord {
            time: String::new(),
            stream: "stdout".into(),
            partial,
            text: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn tail_counts_whole_lines() {
        let recs = vec![
            rec("a", false),
            rec("b1", true),
            rec("b2", false),
            rec("c", true),
        ];
        let texts = |v: Vec<LogRecord>| v.into_iter().map(|r| r.text).collect::<Vec<_>>();
        assert_eq!(texts(tail(recs.clone(), 1)), vec![b"c".to_vec()]);
        assert_eq!(
            texts(tail(recs.clone(), 2)),
            vec![b"b1".to_vec(), b"b2".to_vec(), b"c".to_vec()]
        );
        assert_eq!(tail(recs.clone(), 10).len(), 4);
        assert!(tail(recs, 0).is_empty());
    }

    #[test]
    fn follower_buffers_incomplete_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ctr.log");
        let mut f = LogFollower::new(&p);
        assert!(f.read_new().unwrap().is_empty());
        std::fs::write(&p, b"t stdout F one\nt stdout F tw").unwrap();
        assert_eq!(f.read_new().unwrap().len(), 1);
        let mut file = OpenOptions::new().append(true).open(&p).unwrap();
        file.write_all(b"o\n").unwrap();
        let r = f.read_new().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].text, b"two");
    }
}
