//! What a pull shows: bars on a terminal, podman's plain lines otherwise,
//! nothing with `--quiet`. Always on stderr, so stdout stays the image id.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read};

pub struct Progress {
    quiet: bool,
    bars: Option<MultiProgress>,
}

/// One blob's progress.
pub struct BlobProgress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let bars = (!quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { quiet, bars }
    }

    /// A plain status line.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    pub fn blob(&self, label: &str, size: u64) -> BlobProgress {
        let Some(m) = &self.bars else {
            return BlobProgress { bar: None };
        };
        let bar = m.add(ProgressBar::new(size));
        bar.set_style(
            ProgressStyle::with_template("Copying blob {msg} [{bar:30}] {bytes} / {total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        BlobProgress { bar: Some(bar) }
    }

    /// A blob finished: a bar turns into its final line, plain mode prints it.
    pub fn blob_done(&self, blob: BlobProgress, what: &str, label: &str, note: &str) {
        match blob.bar {
            Some(bar) => {
                bar.finish_and_clear();
                self.line(&format!("Copying {what} {label} {note}"));
            }
            None => self.line(&format!("Copying {what} {label} {note}")),
        }
    }
}

impl BlobProgress {
    pub fn wrap<R: Read>(&self, inner: R) -> CountingReader<R> {
        CountingReader {
            inner,
            bar: self.bar.clone(),
        }
    }
}

pub struct CountingReader<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}
