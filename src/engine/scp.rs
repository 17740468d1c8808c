//! `image scp` between users of this machine, as podman does without ssh:
//! the image is saved by its owner and loaded by the other user. Another
//! user's side is this same binary run as that user (uid, gid and groups
//! of the password database, a clean environment with that user's HOME),
//! so it reads that user's own configuration and lands in that user's
//! own store, created on first use. This needs root. Remote hosts are not
//! reached: coracle has no connections.
//!
//! The archive goes through a pipe, never a file: nobody else can read it
//! and nothing is left behind. A load reads its stream to the end before it
//! stores anything (registry/archive/source.rs), and the end is given only
//! once the saving side has succeeded: a failure on either side leaves
//! both stores as they were.

use super::types::{LoadInput, SaveFormat, SaveOptions};
use crate::storage::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use nix::unistd::{Uid, User};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What `image scp` was asked.
pub struct ScpRequest<'a> {
    /// `[USER@localhost::]IMAGE`
    pub source: &'a str,
    /// `USER@localhost::[NEWNAME]`
    pub destination: Option<&'a str>,
    pub format: SaveFormat,
    pub quiet: bool,
}

/// One side: whose store (None: the caller's own), and the image (source)
/// or the new name (destination).
struct Endpoint {
    user: Option<User>,
    image: Option<String>,
}

/// `IMAGE`, `USER@localhost::[IMAGE]` (USER a name or a uid).
fn parse_endpoint(arg: &str) -> Result<Endpoint> {
    let Some((conn, image)) = arg.split_once("::") else {
        return Ok(Endpoint {
            user: None,
            image: Some(arg.to_string()),
        });
    };
    let image = (!image.is_empty()).then(|| image.to_string());
    let local = conn
        .strip_suffix("@localhost")
        .filter(|u| !u.is_empty() && !u.contains(['@', '/', ':']));
    let Some(name) = local else {
        bail!(
            "{conn:?}: remote hosts and connections are not supported: coracle copies images between users of this machine (USER@localhost::)"
        );
    };
    let found = match name.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(name),
    }
    .map_err(|e| anyhow!("looking up user {name:?}: {e}"))?
    .ok_or_else(|| anyhow!("{name}@localhost: no such user"))?;
    Ok(Endpoint {
        user: (found.uid != Uid::effective()).then_some(found),
        image,
    })
}

/// Whose store, for messages.
fn whose(user: &Option<User>) -> String {
    match user {
        Some(u) => format!("user {}'s", u.name),
        None => "your own".to_string(),
    }
}

/// Copy the image; the `Loaded image:` names of the destination.
pub fn scp(store: &Store, req: &ScpRequest) -> Result<Vec<String>> {
    let src = parse_endpoint(req.source)?;
    let mut dst = match req.destination {
        None => Endpoint {
            user: None,
            image: None,
        },
        Some(d) if !d.contains("::") => bail!(
            "destination {d:?}: name it USER@localhost::[NEWNAME] (another user of this machine)"
        ),
        Some(d) => parse_endpoint(d)?,
    };
    let Some(image) = src.image.clone() else {
        bail!("{}: no image given: [USER@localhost::]IMAGE", req.source);
    };
    if req.destination.is_none() && src.user.is_none() {
        // As podman: from root's store without a destination, to the user
        // who ran sudo.
        dst.user = sudo_user()?;
        if dst.user.is_none() {
            bail!("must specify a destination: USER@localhost::[NEWNAME]");
        }
    }
    if src.user.as_ref().map(|u| u.uid) == dst.user.as_ref().map(|u| u.uid) {
        bail!(
            "source and destination are both {} storage: name another user as USER@localhost::",
            whose(&src.user)
        );
    }
    if store.rootless {
        bail!(
            "copying images between users needs root: run `sudo coracle image scp ...` (a user cannot write another user's storage)"
        );
    }
    if format_name(req.format).is_none() {
        bail!("only the oci-archive and docker-archive formats can be copied (one archive through a pipe)");
    }
    if let Some(name) = &dst.image {
        super::images::local_name(name)?;
    }
    if src.user.is_none() {
        crate::registry::resolve::find_image(&store.images.load()?, &image)?;
    }
    let loaded = match (&src.user, &dst.user) {
        (None, Some(to)) => into_user(to, req.quiet, |w| save_here(store, &image, req, w))?,
        (Some(from), None) => {
            let saving = save_as(from, &image, req)?;
            from_user(store, saving, req.quiet)?
        }
        (Some(from), Some(to)) => {
            let mut saving = save_as(from, &image, req)?;
            into_user(to, req.quiet, |w| {
                std::io::copy(&mut saving, w)
                    .map(|_| ())
                    .map_err(|e| saving.failure().unwrap_or_else(|| anyhow!(e)))
            })?
        }
        (None, None) => unreachable!("the same user was refused above"),
    };
    if let Some(name) = &dst.image {
        let Some(first) = loaded.first() else {
            bail!("the load into {} storage named no image", whose(&dst.user));
        };
        match &dst.user {
            Some(to) => {
                let tag = as_user(to, &["tag", first, name], Stdio::null(), true)?;
                tag.finish(&format!(
                    "tagging {first} as {name} in the storage of user {}",
                    to.name
                ))?;
            }
            None => {
                super::images::tag(store, first, std::slice::from_ref(name))?;
            }
        }
    }
    Ok(loaded)
}

fn format_name(f: SaveFormat) -> Option<&'static str> {
    match f {
        SaveFormat::DockerArchive => Some("docker-archive"),
        SaveFormat::OciArchive => Some("oci-archive"),
        SaveFormat::OciDir | SaveFormat::DockerDir => None,
    }
}

/// `$SUDO_USER`, when it names another user.
fn sudo_user() -> Result<Option<User>> {
    let Some(name) = std::env::var("SUDO_USER").ok().filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let user = User::from_name(&name)
        .map_err(|e| anyhow!("looking up $SUDO_USER {name:?}: {e}"))?
        .ok_or_else(|| anyhow!("$SUDO_USER {name:?}: no such user"))?;
    Ok((user.uid != Uid::effective()).then_some(user))
}

/// The caller's image, saved into `w`.
fn save_here(store: &Store, image: &str, req: &ScpRequest, w: &mut dyn Write) -> Result<()> {
    let images = [image.to_string()];
    let s = super::transfer::Save {
        images: &images,
        format: req.format,
        multi_image: false,
        options: SaveOptions {
            format: req.format,
            compress: false,
            uncompressed: false,
            quiet: req.quiet,
        },
    };
    super::transfer::save_images(store, &s, super::transfer::SaveTo::Stream(w))
        .with_context(|| format!("saving {image}"))
}

/// This binary run as `user`: its stderr forwarded (unless `quiet`) but
/// for its `Error:` line, kept for ours.
struct AsUser {
    child: Child,
    errors: Option<JoinHandle<Option<String>>>,
    stdout: Option<JoinHandle<String>>,
}

fn as_user(user: &User, args: &[&str], stdin: Stdio, quiet: bool) -> Result<AsUser> {
    let exe = std::env::current_exe().context("finding coracle's own binary")?;
    let name = std::ffi::CString::new(user.name.as_str())?;
    let groups: Vec<libc::gid_t> = nix::unistd::getgrouplist(&name, user.gid)
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|_| vec![user.gid.as_raw()]);
    let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
    let mut c = Command::new(&exe);
    c.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH")
                .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into()),
        )
        .env("HOME", &user.dir)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name);
    // Their session's run directory when they have one; otherwise the
    // store's own fallback (/tmp/coracle-UID), as for a user without a
    // login manager.
    let run = std::path::PathBuf::from(format!("/run/user/{uid}"));
    if std::fs::metadata(&run).is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.is_dir() && m.uid() == uid
    }) {
        c.env("XDG_RUNTIME_DIR", run);
    }
    // A group of its own: a rootless coracle does its store work in a
    // child inside its user namespace, which `stop` must end as well.
    c.args(args)
        .process_group(0)
        .current_dir("/")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setgroups, setgid and setuid are async-signal-safe; the
    // group list was made before the fork.
    unsafe {
        c.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = c
        .spawn()
        .with_context(|| format!("running {} as user {}", exe.display(), user.name))?;
    let err = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut kept = None;
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            match line.strip_prefix("Error: ") {
                Some(e) => kept = Some(e.to_string()),
                None if !quiet => eprintln!("{line}"),
                None => {}
            }
        }
        kept
    });
    Ok(AsUser {
        child,
        errors: Some(errors),
        stdout: None,
    })
}

impl AsUser {
    /// Collect stdout in the background (it is small: `Loaded image:`).
    fn collect_stdout(&mut self) {
        if let Some(mut out) = self.child.stdout.take() {
            self.stdout = Some(std::thread::spawn(move || {
                let mut s = String::new();
                let _ = out.read_to_string(&mut s);
                s
            }));
        }
    }

    /// Wait; its stdout, or one error naming `what` and why.
    fn finish(mut self, what: &str) -> Result<String> {
        self.collect_stdout();
        let status = self.child.wait().with_context(|| what.to_string())?;
        let message = self.errors.take().and_then(|h| h.join().ok()).flatten();
        let stdout = self
            .stdout
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if !status.success() {
            match message {
                Some(m) => bail!("{what}: {m}"),
                None => bail!("{what}: coracle {status}"),
            }
        }
        Ok(stdout)
    }

    /// Stop it before it is given the end of its input: nothing stored.
    /// The error it reported, if it failed on its own first.
    fn stop(mut self) -> Option<String> {
        // Only while it has not been reaped: its pid (the group's id)
        // cannot have been reused.
        if matches!(self.child.try_wait(), Ok(None)) {
            let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.child.wait();
        self.errors.take().and_then(|h| h.join().ok()).flatten()
    }
}

impl AsUser {
    /// Wait for it to end on its own (its output closed), a few seconds at
    /// most before it is stopped.
    fn end(mut self) {
        for _ in 0..500 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.stop();
    }
}

/// Another user's `save`, read as a stream: at its end the process must
/// have succeeded, else the read fails with its error.
struct Saving {
    /// None once closed.
    out: Option<ChildStdout>,
    proc: Option<AsUser>,
    what: String,
    failure: Arc<Mutex<Option<anyhow::Error>>>,
}

impl Saving {
    /// The save's own error, once the stream ended in one.
    fn failure(&self) -> Option<anyhow::Error> {
        self.failure.lock().ok()?.take()
    }
}

impl Read for Saving {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(out) = self.out.as_mut() else {
            return Ok(0);
        };
        let n = out.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if let Some(p) = self.proc.take() {
                if let Err(e) = p.finish(&self.what) {
                    let line = format!("{e:#}");
                    if let Ok(mut f) = self.failure.lock() {
                        *f = Some(e);
                    }
                    return Err(std::io::Error::other(line));
                }
            }
        }
        Ok(n)
    }
}

impl Drop for Saving {
    fn drop(&mut self) {
        // Not read to its end: the other side failed first. The save
        // ends on the closed pipe and cleans up after itself.
        self.out = None;
        if let Some(p) = self.proc.take() {
            p.end();
        }
    }
}

fn save_as(user: &User, image: &str, req: &ScpRequest) -> Result<Saving> {
    let format = format_name(req.format).expect("checked");
    let mut args = vec!["save", "--format", format];
    if req.quiet {
        args.push("-q");
    }
    args.push(image);
    let mut proc = as_user(user, &args, Stdio::null(), req.quiet)?;
    let out = proc.child.stdout.take().expect("piped");
    Ok(Saving {
        out: Some(out),
        proc: Some(proc),
        what: format!("saving {image} as user {}", user.name),
        failure: Arc::new(Mutex::new(None)),
    })
}

/// Load into `user`'s store what `produce` writes; the loaded names.
fn into_user(
    user: &User,
    quiet: bool,
    produce: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<Vec<String>> {
    let what = format!("loading into the storage of user {}", user.name);
    let args: &[&str] = if quiet { &["load", "-q"] } else { &["load"] };
    let mut load = as_user(user, args, Stdio::piped(), quiet)?;
    load.collect_stdout();
    let stdin = load.child.stdin.take().expect("piped");
    let mut w = std::io::BufWriter::with_capacity(256 << 10, stdin);
    let produced = produce(&mut w).and_then(|()| w.flush().context("writing the archive"));
    if let Err(e) = produced {
        // Stopped before the end of its input, the load stores nothing. It
        // may have failed first (and so broken the pipe): its own error is
        // then the one that counts.
        let own = load.stop();
        drop(w);
        return Err(match own {
            Some(m) => anyhow!("{what}: {m}"),
            None => e,
        });
    }
    // The end of the archive: only now may the load store it.
    drop(w);
    let out = load.finish(&what)?;
    Ok(loaded_names(&out))
}

/// Load into the caller's store from another user's save.
fn from_user(store: &Store, saving: Saving, quiet: bool) -> Result<Vec<String>> {
    // The stream's end is read inside the load; the save's own error wins
    // over what the load made of a cut stream.
    let failure = saving.failure.clone();
    let loaded = super::transfer::load_images(store, LoadInput::Stream(Box::new(saving)), quiet);
    if let Some(e) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    let loaded = loaded.context("loading into your own storage")?;
    Ok(loaded
        .iter()
        .flat_map(|i| {
            if i.names.is_empty() {
                vec![format!("sha256:{}", i.id)]
            } else {
                i.names.clone()
            }
        })
        .collect())
}

fn loaded_names(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .map(|s| s.trim().to_string())
        .collect()
}
