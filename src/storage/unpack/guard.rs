//! A reader between a layer's bytes and the tar parser that bounds what
//! a hostile layer can make the parser hold or write: an extension header
//! (a GNU long name, PAX records) larger than [`MAX_EXTENSION`], which the
//! parser would read whole into memory, and a tar larger than the layer
//! size limit (a "bomb": a few MB of gzip that unpack to terabytes).
//!
//! It follows the tar's block structure as the bytes pass, without
//! changing them. A header whose checksum is wrong stops the following
//! (the parser refuses such a tar on its own); only the size limit then
//! still applies.

use std::io::{self, Read};

/// The largest extension header accepted: Linux paths end at 4 KiB, and
/// PAX records of real layers (xattrs, long links) are far below this.
pub const MAX_EXTENSION: u64 = 1 << 20;

/// The default limit of a layer's uncompressed tar.
const DEFAULT_MAX_LAYER: u64 = 64 << 30;

/// The environment variable that changes the limit (`512m`, `100g`, bytes).
pub const MAX_LAYER_ENV: &str = "CORACLE_MAX_LAYER_SIZE";

/// The layer size limit in force: the environment's, else 64 GiB.
pub fn max_layer_size() -> io::Result<u64> {
    match std::env::var(MAX_LAYER_ENV) {
        Ok(v) => parse_size(&v).ok_or_else(|| {
            io::Error::other(format!(
                "{MAX_LAYER_ENV}={v:?}: not a size (a number with an optional k, m, g or t)"
            ))
        }),
        Err(_) => Ok(DEFAULT_MAX_LAYER),
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.trim_end_matches('b').trim_end_matches('i');
    let (num, shift) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 10),
        'm' => (&s[..s.len() - 1], 20),
        'g' => (&s[..s.len() - 1], 30),
        't' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    num.parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n => format!("{n} bytes"),
    }
}

enum State {
    /// Filling the next 512-byte header.
    Header { filled: usize },
    /// GNU sparse extension blocks after a sparse header, then `data`.
    SparseExt { filled: usize, data: u64 },
    /// Inside an entry's data and padding; PAX records are kept to read
    /// the size of the entry they describe.
    Data { left: u64, pax: Option<Vec<u8>> },
    /// The structure was lost: only the size limit applies.
    Lost,
}

pub struct TarGuard<R> {
    inner: R,
    limit: u64,
    total: u64,
    state: State,
    block: [u8; 512],
    /// The size a PAX `size=` record gives the next entry.
    pax_size: Option<u64>,
}

impl<R: Read> TarGuard<R> {
    pub fn new(inner: R, limit: u64) -> TarGuard<R> {
        TarGuard {
            inner,
            limit,
            total: 0,
            state: State::Header { filled: 0 },
            block: [0; 512],
            pax_size: None,
        }
    }

    fn observe(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Lost => return Ok(()),
                State::Header { filled } | State::SparseExt { filled, .. } => {
                    let n = (512 - *filled).min(bytes.len());
                    self.block[*filled..*filled + n].copy_from_slice(&bytes[..n]);
                    *filled += n;
                    bytes = &bytes[n..];
                    if *filled == 512 {
                        self.state = self.next_after_block()?;
                    }
                }
                State::Data { left, pax } => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    if let Some(p) = pax {
                        p.extend_from_slice(&bytes[..n]);
                    }
                    *left -= n as u64;
                    bytes = &bytes[n..];
                    if *left == 0 {
                        if let Some(p) = pax.take() {
                            self.pax_size = pax_size(&p).or(self.pax_size);
                        }
                        self.state = State::Header { filled: 0 };
                    }
                }
            }
        }
        Ok(())
    }

    /// Where a complete block leads.
    fn next_after_block(&mut self) -> io::Result<State> {
        let b = &self.block;
        if let State::SparseExt { data, .. } = self.state {
            return Ok(if b[504] != 0 {
                State::SparseExt { filled: 0, data }
            } else {
                data_state(data, None)
            });
        }
        if b.iter().all(|&x| x == 0) {
            return Ok(State::Header { filled: 0 });
        }
        if !checksum_ok(b) {
            return Ok(State::Lost);
        }
        let Some(mut size) = octal_or_binary(&b[124..136]) else {
            return Ok(State::Lost);
        };
        let kind = b[156];
        let extension = matches!(kind, b'L' | b'K' | b'x' | b'g');
        if extension {
            if size > MAX_EXTENSION {
                return Err(io::Error::other(format!(
                    "a tar extension header of {size} bytes: more than the {} a layer may use",
                    human(MAX_EXTENSION)
                )));
            }
            return Ok(data_state(size, (kind == b'x').then(Vec::new)));
        }
        if let Some(s) = self.pax_size.take() {
            size = s;
        }
        if kind == b'S' && b[482] != 0 {
            return Ok(State::SparseExt {
                filled: 0,
                data: size,
            });
        }
        Ok(data_state(size, None))
    }
}

fn data_state(size: u64, pax: Option<Vec<u8>>) -> State {
    let padded = size.div_ceil(512).saturating_mul(512);
    if padded == 0 {
        // PAX records of no length still end the extension.
        State::Header { filled: 0 }
    } else {
        State::Data { left: padded, pax }
    }
}

fn checksum_ok(b: &[u8; 512]) -> bool {
    let Some(want) = octal_or_binary(&b[148..156]) else {
        return false;
    };
    let sum: u64 = b
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (148..156).contains(&i) {
                32
            } else {
                x as u64
            }
        })
        .sum();
    sum == want
}

/// A numeric header field: octal text, or base-256 with the high bit set.
fn octal_or_binary(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        if field[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut n: u64 = u64::from(field[0] & 0x3f);
        for &x in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(x))?;
        }
        return Some(n);
    }
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// The `size` record of PAX extension data (`<len> size=<n>\n`...).
fn pax_size(records: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(records);
    text.split('\n')
        .filter_map(|r| r.split_once(' ').map(|(_, kv)| kv))
        .filter_map(|kv| kv.strip_prefix("size="))
        .next_back()
        .and_then(|v| v.parse().ok())
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if self.total > self.limit {
            return Err(io::Error::other(format!(
                "the layer is larger than the limit of {} ({MAX_LAYER_ENV} changes it)",
                human(self.limit)
            )));
        }
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(kind: tar::EntryType, name_len: usize, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        let name = "n".repeat(name_len);
        b.append_data(&mut h, &name, data).unwrap();
        b.into_inner().unwrap()
    }

    fn read_all(data: &[u8], limit: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        TarGuard::new(data, limit).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn real_tars_pass_unchanged() {
        let mut b = tar::Builder::new(Vec::new());
        for (i, len) in [10usize, 300, 5000].iter().enumerate() {
            let mut h = tar::Header::new_gnu();
            h.set_size(*len as u64);
            h.set_mode(0o644);
            // names over 100 bytes make GNU long-name entries
            let name = format!("{i}{}", "x".repeat(150 * i));
            b.append_data(&mut h, &name, &vec![7u8; *len][..]).unwrap();
        }
        // PAX records (an xattr) before an entry
        b.append_pax_extensions([("SCHILY.xattr.user.a", &b"1"[..])])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, "last", &b"abc"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        assert_eq!(read_all(&tar, u64::MAX).unwrap(), tar);
    }

    #[test]
    fn giant_long_name_is_refused() {
        let mut tar = tar_with(tar::EntryType::GNULongName, 10, &vec![b'a'; 2 << 20]);
        tar.extend(tar_with(tar::EntryType::Regular, 10, b"x"));
        let e = read_all(&tar, u64::MAX).unwrap_err().to_string();
        assert_eq!(
            e,
            "a tar extension header of 2097152 bytes: more than the 1 MiB a layer may use"
        );
        // A PAX header the same.
        let tar = tar_with(tar::EntryType::XHeader, 10, &vec![b'a'; 2 << 20]);
        assert!(read_all(&tar, u64::MAX).is_err());
    }

    #[test]
    fn pax_size_is_followed() {
        // A PAX `size` record makes the next entry's data longer than its
        // header says: the guard must not take that data for a header.
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([("size", &b"1024"[..])]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_path("big").unwrap();
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
        let mut tar = b.into_inner().unwrap();
        tar.truncate(tar.len() - 1024); // the end-of-archive blocks
        let at = tar.len();
        // data that looks like a giant long-name header
        let fake = tar_with(tar::EntryType::GNULongName, 10, &[]);
        let mut fake_header = fake[..512].to_vec();
        fake_header[124..136].copy_from_slice(b"77777777777\0");
        let mut h = tar::Header::from_byte_slice(&fake_header).clone();
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        tar.extend_from_slice(&[0u8; 512]);
        assert_eq!(tar.len(), at + 1024);
        tar.extend_from_slice(&[0u8; 1024]);
        read_all(&tar, u64::MAX).unwrap();
    }

    #[test]
    fn size_limit() {
        let tar = tar_with(tar::EntryType::Regular, 10, &vec![0u8; 1 << 20]);
        let e = read_all(&tar, 1 << 20).unwrap_err().to_string();
        assert_eq!(
            e,
            "the layer is larger than the limit of 1 MiB (CORACLE_MAX_LAYER_SIZE changes it)"
        );
        assert!(read_all(&tar, 2 << 20).is_ok());
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("x"), None);
    }
}
