//! `build --ssh` and `RUN --mount=type=ssh`: SSH agents a RUN step may use.
//!
//! `--ssh ID=SOCKET` (or `default`, `$SSH_AUTH_SOCK`) names an agent the
//! user already runs; `--ssh ID=KEY[,KEY...]` starts the system `ssh-agent`
//! on a private socket for the build, loads the keys with `ssh-add` and
//! stops it when the build ends ([`SshAgents`]). A step's ssh mount gets a
//! fresh socket of its own in the build's scratch directory, served by a
//! forked [`Forwarder`] that relays each connection to the agent: its
//! owner and mode are the mount's (`uid`, `gid`, `mode`), so the step's
//! user can reach it while the user's own socket is never touched, and the
//! agent's host path enters neither the container nor a cache key.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `--ssh` ids to the host sockets of their agents. Cloned into every
/// platform's build options; the agents it names live in [`SshAgents`].
#[derive(Clone, Debug, Default)]
pub struct SshSources(pub BTreeMap<String, PathBuf>);

/// One `--ssh` value: its id and the socket or key files it names.
pub fn parse_ssh_flag(spec: &str) -> Result<(String, Vec<PathBuf>)> {
    let (id, paths) = match spec.split_once('=') {
        Some((id, paths)) => (id, paths),
        None => (spec, ""),
    };
    if id.is_empty() {
        bail!("invalid --ssh {spec:?}: use default or ID[=SOCKET|KEY[,KEY...]]");
    }
    let paths: Vec<PathBuf> = (paths.split(','))
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect();
    if !paths.is_empty() {
        return Ok((id.to_string(), paths));
    }
    match std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) {
        Some(sock) => Ok((id.to_string(), vec![PathBuf::from(sock)])),
        None => bail!(
            "--ssh {id}: SSH_AUTH_SOCK is not set (start an ssh-agent, or name a socket or key files: --ssh {id}=PATH)"
        ),
    }
}

fn is_socket(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// The agents of one build: the sockets by id, and the `ssh-agent`s
/// started for key files, stopped (and their directory removed) on drop.
#[derive(Debug, Default)]
pub struct SshAgents {
    pub sources: SshSources,
    agents: Vec<Child>,
    dir: Option<PathBuf>,
}

impl SshAgents {
    /// Resolve every `--ssh` value, starting an agent for each key list.
    pub fn start(flags: &[String]) -> Result<SshAgents> {
        let mut out = SshAgents::default();
        for spec in flags {
            let (id, paths) = parse_ssh_flag(spec)?;
            let socket = match &paths[..] {
                [one] if is_socket(one) => one.clone(),
                _ => out.agent_for_keys(&id, &paths)?,
            };
            out.sources.0.insert(id, socket);
        }
        Ok(out)
    }

    fn agent_for_keys(&mut self, id: &str, keys: &[PathBuf]) -> Result<PathBuf> {
        for k in keys {
            let m = fs::metadata(k).with_context(|| format!("--ssh {id}: {}", k.display()))?;
            if m.file_type().is_socket() {
                bail!(
                    "--ssh {id}: {} is a socket: give one agent socket or key files, not both",
                    k.display()
                );
            }
            if !m.is_file() {
                bail!("--ssh {id}: {} is not a key file", k.display());
            }
        }
        let dir = match &self.dir {
            Some(d) => d.clone(),
            None => {
                // Short and private, as ssh-agent's own: a socket path has
                // a 108-byte limit.
                let dir = std::env::temp_dir().join(format!(
                    "coracle-ssh-{}-{:08x}",
                    std::process::id(),
                    rand::random::<u32>()
                ));
                fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
                self.dir = Some(dir.clone());
                dir
            }
        };
        let socket = dir.join(format!("agent.{}", self.agents.len()));
        let mut agent = Command::new("ssh-agent");
        agent
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: prctl with integer arguments, between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            agent.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = agent.spawn().with_context(|| {
            format!(
                "--ssh {id}: starting ssh-agent (install openssh-client, or give an agent socket)"
            )
        })?;
        self.agents.push(child);
        let started = Instant::now();
        // Listening, not only bound: the socket file appears before
        // ssh-agent listens, and ssh-add would be refused in between.
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            let child = self.agents.last_mut().expect("pushed above");
            if let Some(status) = child.try_wait()? {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                bail!("--ssh {id}: ssh-agent exited ({status}): {}", err.trim());
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("--ssh {id}: ssh-agent did not start");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let added = Command::new("ssh-add")
            .args(keys)
            .env("SSH_AUTH_SOCK", &socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .with_context(|| format!("--ssh {id}: running ssh-add (install openssh-client)"))?;
        if !added.status.success() {
            // ssh-add's message without its banner, on one line.
            let err = String::from_utf8_lossy(&added.stderr);
            let said: Vec<&str> = (err.lines())
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('@'))
                .collect();
            bail!("--ssh {id}: loading the keys: {}", said.join(" "));
        }
        Ok(socket)
    }
}

impl Drop for SshAgents {
    fn drop(&mut self) {
        for a in &mut self.agents {
            let _ = a.kill();
            let _ = a.wait();
        }
        if let Some(d) = &self.dir {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// A forked process relaying connections on `socket` to an agent; killed
/// (and its socket removed) on drop.
#[derive(Debug)]
pub struct Forwarder {
    pid: libc::pid_t,
    pub socket: PathBuf,
}

impl Forwarder {
    /// Listen on `dir/name` with `mode` and relay to `upstream`.
    pub fn start(upstream: &Path, dir: &Path, name: &str, mode: u32) -> Result<Forwarder> {
        let socket = dir.join(name);
        // Bound through the directory's descriptor: the scratch path may be
        // longer than a socket address holds.
        let dir_fd = fs::File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
        let short = format!("/proc/self/fd/{}/{name}", dir_fd.as_raw_fd());
        let listener =
            UnixListener::bind(&short).with_context(|| format!("binding {}", socket.display()))?;
        drop(dir_fd);
        fs::set_permissions(&socket, fs::Permissions::from_mode(mode))?;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the builder is single-threaded here; the child only
        // relays bytes and never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            bail!(
                "starting the ssh agent forwarder: {}",
                std::io::Error::last_os_error()
            );
        }
        if pid == 0 {
            // SAFETY: prctl with integer arguments; getppid.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(0);
                }
            }
            relay(listener, upstream);
        }
        Ok(Forwarder { pid, socket })
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        // SAFETY: our own child, killed and reaped.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
        let _ = fs::remove_file(&self.socket);
    }
}

/// The forwarder's loop: each client connection paired with one to the
/// agent, bytes copied both ways as they come.
fn relay(listener: UnixListener, upstream: &Path) -> ! {
    let mut pairs: Vec<(UnixStream, UnixStream)> = Vec::new();
    loop {
        let mut fds = vec![libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        for (client, agent) in &pairs {
            for fd in [client.as_raw_fd(), agent.as_raw_fd()] {
                fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        // SAFETY: fds is a valid array of its length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            continue;
        }
        let mut open = Vec::with_capacity(pairs.len());
        for (i, (mut client, mut agent)) in pairs.drain(..).enumerate() {
            let (from_client, from_agent) = (fds[1 + 2 * i].revents, fds[2 + 2 * i].revents);
            let alive = (from_client == 0 || pump(&mut client, &mut agent))
                && (from_agent == 0 || pump(&mut agent, &mut client));
            if alive {
                open.push((client, agent));
            }
        }
        pairs = open;
        if fds[0].revents & libc::POLLIN != 0 {
            if let Ok((client, _)) = listener.accept() {
                // An agent that cannot be reached: the client sees EOF.
                if let Ok(agent) = UnixStream::connect(upstream) {
                    pairs.push((client, agent));
                }
            }
        }
    }
}

/// Copy what `from` has to `to`; false when either side is done.
fn pump(from: &mut UnixStream, to: &mut UnixStream) -> bool {
    let mut buf = [0u8; 16384];
    match from.read(&mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => to.write_all(&buf[..n]).is_ok(),
    }
}
