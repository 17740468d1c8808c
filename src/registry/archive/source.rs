//! Reading an archive's files by name, whatever it came as: an uncompressed
//! tar file (read in place by offset), a compressed file or a pipe (each
//! file spooled to a private temp dir, since manifest.json may come last),
//! or an OCI layout directory.
//!
//! Nothing is ever created under an archive's own names: entries are only
//! indexed, so a hostile name cannot write anywhere. Names that climb out
//! (`..`, absolute paths, links leading outside) are refused outright.

use crate::storage::compression::auto_decompress;
use crate::storage::layers::remove_tree;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// manifest.json, index.json, configs: refuse a hostile endless one.
const MAX_SMALL: u64 = 16 << 20;
/// Symlinks followed in a row before giving up (a loop).
const MAX_LINKS: usize = 16;

pub(super) trait Source {
    /// The file `name` (already clean), its whole content as a stream.
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>>;
    fn has(&self, name: &str) -> bool;

    /// A small file in memory.
    fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        self.open(name)?
            .take(MAX_SMALL + 1)
            .read_to_end(&mut data)
            .with_context(|| format!("reading {name}"))?;
        if data.len() as u64 > MAX_SMALL {
            bail!("{name} is too large");
        }
        Ok(data)
    }
}

/// Where load reads from.
pub enum LoadInput {
    /// `-i PATH`: an archive file or an OCI layout directory.
    Path(PathBuf),
    /// Standard input.
    Stream(Box<dyn Read>),
}

/// Open `input`; temp files go under `scratch` (the store's tmp).
pub(super) fn open(input: LoadInput, scratch: &Path) -> Result<Box<dyn Source>> {
    match input {
        LoadInput::Path(p) if p.is_dir() => Ok(Box::new(DirSource { root: p })),
        LoadInput::Path(p) => {
            let file = File::open(&p).with_context(|| format!("opening {}", p.display()))?;
            let mut magic = [0u8; 4];
            let n = file.read_at(&mut magic, 0).unwrap_or(0);
            let compressed = crate::storage::compression::detect(&magic[..n])
                != crate::storage::compression::Compression::None;
            if compressed {
                Ok(Box::new(Spool::read(auto_decompress(file)?, scratch)?))
            } else {
                Ok(Box::new(FileIndex::read(file)?))
            }
        }
        LoadInput::Stream(r) => Ok(Box::new(Spool::read(auto_decompress(r)?, scratch)?)),
    }
}

/// A path inside the archive as a clean relative name, or an error for one
/// that would lead outside it.
pub(super) fn clean_name(raw: &[u8]) -> Result<String> {
    let text = std::str::from_utf8(raw).map_err(|_| {
        anyhow!(
            "refusing archive entry {:?}: not UTF-8",
            String::from_utf8_lossy(raw)
        )
    })?;
    if text.starts_with('/') {
        bail!("refusing archive entry {text:?}: absolute path");
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => bail!("refusing archive entry {text:?}: it leads outside the archive"),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Where a symlink at `at` pointing to `target` leads, within the archive.
fn resolve_link(at: &str, target: &[u8]) -> Result<String> {
    let t = std::str::from_utf8(target)
        .map_err(|_| anyhow!("refusing archive link {at:?}: target not UTF-8"))?;
    if t.starts_with('/') {
        bail!("refusing archive link {at:?} -> {t:?}: absolute target");
    }
    let mut parts: Vec<&str> = at.split('/').collect();
    parts.pop();
    for p in t.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    bail!("refusing archive link {at:?} -> {t:?}: it leads outside the archive");
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Walk an archive's entries: `file` gets each regular file; symlinks and
/// hard links are returned as name -> name within the archive.
fn scan<R: Read>(
    entries: tar::Entries<'_, R>,
    mut file: impl FnMut(String, &mut tar::Entry<'_, R>) -> Result<()>,
) -> Result<HashMap<String, String>> {
    let mut links = HashMap::new();
    for (i, entry) in entries.enumerate() {
        let mut entry = match entry {
            Ok(e) => e,
            // Garbage from the first header on: say so, not what tar saw.
            Err(_) if i == 0 => bail!("not an image archive: not a tar file"),
            Err(e) => return Err(e).context("reading the archive"),
        };
        let kind = entry.header().entry_type();
        let name = clean_name(&entry.path_bytes())?;
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => file(name, &mut entry)?,
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default();
                links.insert(name.clone(), resolve_link(&name, &target)?);
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().unwrap_or_default();
                links.insert(name, clean_name(&target)?);
            }
            tar::EntryType::GNUSparse => bail!("refusing archive entry {name:?}: sparse file"),
            // Directories, pax headers, devices: nothing to read.
            _ => {}
        }
    }
    Ok(links)
}

/// Follow `links` from `name` to a file `known` has.
fn follow<'a>(
    name: &'a str,
    links: &'a HashMap<String, String>,
    known: impl Fn(&str) -> bool,
) -> Result<&'a str> {
    let mut at = name;
    for _ in 0..MAX_LINKS {
        if known(at) {
            return Ok(at);
        }
        match links.get(at) {
            Some(next) => at = next,
            None => bail!("the archive has no {name}: it is incomplete or truncated"),
        }
    }
    bail!("too many links resolving {name} in the archive")
}

/// An uncompressed tar file, read in place.
struct FileIndex {
    file: File,
    files: HashMap<String, (u64, u64)>,
    links: HashMap<String, String>,
}

impl FileIndex {
    fn read(file: File) -> Result<FileIndex> {
        let len = file.metadata()?.len();
        let mut files = HashMap::new();
        let mut archive = tar::Archive::new(&file);
        let links = scan(archive.entries_with_seek()?, |name, entry| {
            let (at, size) = (entry.raw_file_position(), entry.size());
            // Seeking past the end is no error; a short file is.
            if at.saturating_add(size) > len {
                bail!("the archive is truncated (in {name})");
            }
            files.insert(name, (at, size));
            Ok(())
        })?;
        Ok(FileIndex { file, files, links })
    }
}

impl Source for FileIndex {
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>> {
        let name = follow(name, &self.links, |n| self.files.contains_key(n))?;
        let (pos, size) = self.files[name];
        Ok(Box::new(Slice {
            file: &self.file,
            pos,
            end: pos + size,
        }))
    }
    fn has(&self, name: &str) -> bool {
        follow(name, &self.links, |n| self.files.contains_key(n)).is_ok()
    }
}

/// `[pos, end)` of a file; ending early is an error, not a short read.
struct Slice<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive is truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A stream's files copied to a private temp dir (removed on drop).
struct Spool {
    dir: PathBuf,
    files: HashMap<String, PathBuf>,
    links: HashMap<String, String>,
}

impl Spool {
    fn read(stream: impl Read, scratch: &Path) -> Result<Spool> {
        fs::create_dir_all(scratch).with_context(|| format!("creating {}", scratch.display()))?;
        let nonce: u64 = rand::random();
        // Named after our pid: a later run's sweep removes it if we die.
        let dir = scratch.join(format!("{}-{nonce:016x}-load", std::process::id()));
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut spool = Spool {
            dir,
            files: HashMap::new(),
            links: HashMap::new(),
        };
        let mut archive = tar::Archive::new(stream);
        let dir = spool.dir.clone();
        let mut files = HashMap::new();
        let links = scan(
            archive.entries().context("reading the archive")?,
            |name, entry| {
                // Our own names: the archive's never touch the filesystem.
                let path = dir.join(files.len().to_string());
                let mut out =
                    File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                let n = io::copy(entry, &mut out).context("reading the archive")?;
                if n != entry.size() {
                    bail!("the archive is truncated (in {name})");
                }
                files.insert(name, path);
                Ok(())
            },
        )?;
        // To the stream's end, past the archive's closing blocks: a writer
        // at the other end of a pipe (`image scp`) has finished, and its
        // failure is seen, before anything is stored.
        io::copy(&mut archive.into_inner(), &mut io::sink()).context("reading the archive")?;
        spool.files = files;
        spool.links = links;
        Ok(spool)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = remove_tree(&self.dir);
    }
}

impl Source for Spool {
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>> {
        let name = follow(name, &self.links, |n| self.files.contains_key(n))?;
        let f = File::open(&self.files[name]).with_context(|| format!("reading {name}"))?;
        Ok(Box::new(io::BufReader::with_capacity(256 << 10, f)))
    }
    fn has(&self, name: &str) -> bool {
        follow(name, &self.links, |n| self.files.contains_key(n)).is_ok()
    }
}

/// An OCI layout directory.
struct DirSource {
    root: PathBuf,
}

impl Source for DirSource {
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>> {
        let clean = clean_name(name.as_bytes())?;
        let path = self.root.join(clean);
        let f = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Box::new(io::BufReader::with_capacity(256 << 10, f)))
    }
    fn has(&self, name: &str) -> bool {
        clean_name(name.as_bytes())
            .map(|c| self.root.join(c).is_file())
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside() {
        assert_eq!(clean_name(b"./a//b/./c").unwrap(), "a/b/c");
        assert!(clean_name(b"../x").is_err());
        assert!(clean_name(b"a/../../x").is_err());
        assert!(clean_name(b"/etc/passwd").is_err());
        assert_eq!(
            resolve_link("abc/layer.tar", b"../def.tar").unwrap(),
            "def.tar"
        );
        assert!(resolve_link("abc/layer.tar", b"../../x").is_err());
        assert!(resolve_link("a", b"/etc/passwd").is_err());
    }

    #[test]
    fn links_are_followed_and_loops_stop() {
        let mut links = HashMap::new();
        links.insert("a".to_string(), "b".to_string());
        links.insert("b".to_string(), "c".to_string());
        assert_eq!(follow("a", &links, |n| n == "c").unwrap(), "c");
        links.insert("c".to_string(), "a".to_string());
        assert!(follow("a", &links, |_| false).is_err());
    }
}
