//! `--detach-keys`: podman's key sequence grammar, and spotting the
//! sequence in what the user types.

use anyhow::{bail, Result};

/// podman's default.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// The bytes `spec` stands for: comma-separated keys, each a single
/// character or `ctrl-<value>` (`a-z`, `@`, `[`, `\`, `]`, `^`, `_`).
/// An empty `spec` turns detaching off (no bytes).
pub fn parse(spec: &str) -> Result<Vec<u8>> {
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for key in spec.split(',') {
        let b = key.as_bytes();
        match b {
            [c] => out.push(*c),
            [b'c', b't', b'r', b'l', b'-', v] => {
                let v = v.to_ascii_lowercase();
                out.push(match v {
                    b'a'..=b'z' => v - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => bail!(
                        "invalid detach keys: {spec}: unknown character {:?}",
                        v as char
                    ),
                });
            }
            _ => bail!("invalid detach keys: {spec}: {key:?} is not a key"),
        }
    }
    Ok(out)
}

/// Follows typed input for the sequence. Bytes that might start it are
/// held back until it is clear they do not.
pub struct Matcher {
    keys: Vec<u8>,
    held: usize,
}

/// What to do with a chunk of input.
#[derive(Debug, PartialEq)]
pub enum Seen {
    /// Pass these bytes on.
    Forward(Vec<u8>),
    /// The sequence was typed: detach (what came before it goes first).
    Detach(Vec<u8>),
}

impl Matcher {
    pub fn new(keys: Vec<u8>) -> Matcher {
        Matcher { keys, held: 0 }
    }

    pub fn feed(&mut self, input: &[u8]) -> Seen {
        if self.keys.is_empty() {
            return Seen::Forward(input.to_vec());
        }
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    self.held = 0;
                    return Seen::Detach(out);
                }
                continue;
            }
            // Not the sequence after all: what was held goes on.
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if b == self.keys[0] {
                self.held = 1;
                if self.keys.len() == 1 {
                    self.held = 0;
                    return Seen::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Seen::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_grammar() {
        assert_eq!(parse(DEFAULT).unwrap(), vec![16, 17]);
        assert_eq!(parse("a,ctrl-@,ctrl-[").unwrap(), vec![b'a', 0, 27]);
        assert!(parse("").unwrap().is_empty());
        assert!(parse("ctrl-1").is_err());
        assert!(parse("ab").is_err());
    }

    #[test]
    fn sequence_is_spotted_across_chunks() {
        let mut m = Matcher::new(vec![16, 17]);
        assert_eq!(m.feed(b"ab\x10"), Seen::Forward(b"ab".to_vec()));
        assert_eq!(m.feed(b"\x11zz"), Seen::Detach(Vec::new()));
        // a lone ctrl-p goes on once the next key is not ctrl-q
        assert_eq!(m.feed(b"\x10x"), Seen::Forward(b"\x10x".to_vec()));
        assert_eq!(m.feed(b"\x10\x10\x11"), Seen::Detach(b"\x10".to_vec()));
    }
}
