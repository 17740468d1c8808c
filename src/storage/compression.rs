//! Layer compression: detect by magic bytes, decompress as a stream, and
//! compress for push.

use std::io::{self, BufReader, Read, Write};

use anyhow::{Context, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// The compression of a stream that starts with `prefix`. A prefix too short
/// to tell is taken as uncompressed.
pub fn detect(prefix: &[u8]) -> Compression {
    if prefix.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if prefix.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wrap `r` so that reading it yields the decompressed bytes.
pub fn decompress<'a>(r: impl Read + 'a, c: Compression) -> Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::None => Box::new(r),
        // Multi-member: some tools write a gzip stream as several members.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::Decoder::new(r).context("starting the zstd decoder")?),
    })
}

/// Read the first bytes of `r` and decompress accordingly.
pub fn auto_decompress<'a>(mut r: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    // Keep reading until 4 bytes or EOF: a pipe may hand out fewer at first.
    let mut prefix = [0u8; 4];
    let mut n = 0;
    while n < prefix.len() {
        match r.read(&mut prefix[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("reading the start of a layer"),
        }
    }
    let c = detect(&prefix[..n]);
    // Put the peeked bytes back in front of the rest of the stream.
    let whole = io::Cursor::new(prefix[..n].to_vec()).chain(r);
    let buffered = BufReader::with_capacity(64 * 1024, whole);
    Ok(match c {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => {
            Box::new(zstd::Decoder::with_buffer(buffered).context("starting the zstd decoder")?)
        }
    })
}

/// A compressing writer; call `finish` to write the trailer and get `W` back.
pub enum CompressWriter<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::Encoder<'static, W>),
}

/// Compress what is written to the result into `w`.
#[cfg(test)]
pub fn compress_writer<W: Write>(w: W, c: Compression) -> Result<CompressWriter<W>> {
    compress_writer_at(w, c, None)
}

/// Whether `level` is one `c` has (gzip 0-9, zstd up to 22).
pub fn check_level(c: Compression, level: i32) -> Result<()> {
    match c {
        Compression::Gzip if !(0..=9).contains(&level) => {
            anyhow::bail!("invalid gzip compression level {level}: use 0 to 9")
        }
        Compression::Zstd if !zstd::compression_level_range().contains(&level) => {
            anyhow::bail!("invalid zstd compression level {level}: use up to 22")
        }
        _ => Ok(()),
    }
}

/// As [`compress_writer`], at `level` (push's `--compression-level`) or the
/// format's default.
pub fn compress_writer_at<W: Write>(
    w: W,
    c: Compression,
    level: Option<i32>,
) -> Result<CompressWriter<W>> {
    if let Some(l) = level {
        check_level(c, l)?;
    }
    Ok(match c {
        Compression::None => CompressWriter::None(w),
        Compression::Gzip => CompressWriter::Gzip(flate2::write::GzEncoder::new(
            w,
            level.map_or(flate2::Compression::default(), |l| {
                flate2::Compression::new(l as u32)
            }),
        )),
        Compression::Zstd => CompressWriter::Zstd(
            zstd::Encoder::new(w, level.unwrap_or(zstd::DEFAULT_COMPRESSION_LEVEL))
                .context("starting the zstd encoder")?,
        ),
    })
}

impl<W: Write> CompressWriter<W> {
    pub fn finish(self) -> io::Result<W> {
        match self {
            CompressWriter::None(w) => Ok(w),
            CompressWriter::Gzip(e) => e.finish(),
            CompressWriter::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for CompressWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            CompressWriter::None(w) => w.write(buf),
            CompressWriter::Gzip(e) => e.write(buf),
            CompressWriter::Zstd(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            CompressWriter::None(w) => w.flush(),
            CompressWriter::Gzip(e) => e.flush(),
            CompressWriter::Zstd(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(c: Compression) {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut w = compress_writer(Vec::new(), c).unwrap();
        w.write_all(&data).unwrap();
        let packed = w.finish().unwrap();
        assert_eq!(detect(&packed), c);
        let mut out = Vec::new();
        auto_decompress(&packed[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let mut out = Vec::new();
        decompress(&packed[..], c)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn roundtrips() {
        roundtrip(Compression::None);
        roundtrip(Compression::Gzip);
        roundtrip(Compression::Zstd);
    }

    #[test]
    fn short_and_trickling_input() {
        assert_eq!(detect(&[0x1f]), Compression::None);
        let mut out = Vec::new();
        auto_decompress(&b"ab"[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"ab");
        // A reader that yields one byte per read must still be detected.
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[self.1];
                self.1 += 1;
                Ok(1)
            }
        }
        let mut w = compress_writer(Vec::new(), Compression::Gzip).unwrap();
        w.write_all(b"hello").unwrap();
        let packed = w.finish().unwrap();
        let mut out = Vec::new();
        auto_decompress(Trickle(packed, 0))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
    }

    #[test]
    fn multi_member_gzip() {
        let mut all = Vec::new();
        for part in [&b"one "[..], &b"two"[..]] {
            let mut w = compress_writer(Vec::new(), Compression::Gzip).unwrap();
            w.write_all(part).unwrap();
            all.extend(w.finish().unwrap());
        }
        let mut out = Vec::new();
        auto_decompress(&all[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"one two");
    }
}
