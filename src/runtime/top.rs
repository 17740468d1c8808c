//! `top`: the processes of a running container, described by podman's
//! (psgo's) AIX-style descriptors, read from the host's /proc. A process
//! belongs to the container when it shares its first process's pid
//! namespace; pids are shown as the container sees them (NSpid), users
//! and groups as the container names them (its /etc/passwd and group).

use super::state::{current_state, is_running};
use super::sys;
use crate::storage::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// podman's default: `user pid ppid pcpu etime tty time args`.
pub const DEFAULT_DESCRIPTORS: &[&str] = &[
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

/// Descriptor, its AIX code, and its column header (psgo's table).
const DESCRIPTORS: &[(&str, &str, &str)] = &[
    ("args", "%a", "COMMAND"),
    ("capamb", "", "AMBIENT CAPS"),
    ("capbnd", "", "BOUNDING CAPS"),
    ("capeff", "", "EFFECTIVE CAPS"),
    ("capinh", "", "INHERITED CAPS"),
    ("capprm", "", "PERMITTED CAPS"),
    ("comm", "%c", "COMMAND"),
    ("etime", "%t", "ELAPSED"),
    ("group", "%G", "GROUP"),
    ("hgroup", "", "HGROUP"),
    ("hpid", "", "HPID"),
    ("huser", "", "HUSER"),
    ("label", "", "LABEL"),
    ("nice", "%n", "NI"),
    ("pcpu", "%C", "%CPU"),
    ("pgid", "%r", "PGID"),
    ("pid", "%p", "PID"),
    ("ppid", "%P", "PPID"),
    ("rgroup", "%g", "RGROUP"),
    ("ruser", "%u", "RUSER"),
    ("seccomp", "", "SECCOMP"),
    ("state", "", "STATE"),
    ("stime", "", "STIME"),
    ("time", "%x", "TIME"),
    ("tty", "%y", "TTY"),
    ("user", "%U", "USER"),
    ("vsz", "%z", "VSZ"),
];

/// The descriptor a word names (`pid`, `%p`), if any.
fn descriptor(word: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    DESCRIPTORS
        .iter()
        .find(|(name, code, _)| *name == word || (!code.is_empty() && *code == word))
}

/// Split podman's way (`pid,user` and `pid user` are the same); None when
/// a word is not a descriptor (the words are then `ps` options).
pub fn parse_descriptors(words: &[String]) -> Option<Vec<&'static str>> {
    let mut out = Vec::new();
    for w in words
        .iter()
        .flat_map(|w| w.split(','))
        .filter(|w| !w.is_empty())
    {
        out.push(descriptor(w)?.0);
    }
    if out.is_empty() {
        out.extend_from_slice(DEFAULT_DESCRIPTORS);
    }
    Some(out)
}

/// What /proc says about one process.
struct Proc {
    hpid: i32,
    /// The pid in the container's namespace.
    pid: i32,
    ppid_host: i32,
    pgrp_host: i32,
    state: String,
    tty_nr: u64,
    cpu_ticks: u64,
    nice: i64,
    start_ticks: u64,
    vsize: u64,
    /// real, effective (host ids)
    uids: [u32; 2],
    gids: [u32; 2],
    caps: [u64; 5],
    seccomp: u32,
    args: Vec<String>,
    comm: String,
    label: String,
}

fn read_proc(hpid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{hpid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    // Fields from 3 (state) on; index 0 here is field 3.
    let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let num = |i: usize| f.get(i - 3).and_then(|v| v.parse::<i64>().ok());
    let status = std::fs::read_to_string(format!("/proc/{hpid}/status")).ok()?;
    let field = |key: &str| {
        status.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix(':'))
                .map(str::trim)
        })
    };
    let ids = |key: &str| -> [u32; 2] {
        let v: Vec<u32> = field(key)
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        [
            v.first().copied().unwrap_or(0),
            v.get(1).copied().unwrap_or(0),
        ]
    };
    let cap = |key: &str| {
        field(key)
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap_or(0)
    };
    let pid = field("NSpid")
        .and_then(|v| v.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(hpid);
    let cmdline = std::fs::read(format!("/proc/{hpid}/cmdline")).unwrap_or_default();
    // Split on NUL keeps the empty word after the last one: podman's
    // COMMAND ends in a space, and so does ours.
    let args = if cmdline.is_empty() {
        Vec::new()
    } else {
        cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    };
    let label = std::fs::read_to_string(format!("/proc/{hpid}/attr/current"))
        .map(|l| l.trim_end_matches(['\0', '\n']).to_string())
        .ok()
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "?".to_string());
    Some(Proc {
        hpid,
        pid,
        ppid_host: num(4)? as i32,
        pgrp_host: num(5)? as i32,
        state: f.first()?.to_string(),
        tty_nr: num(7)? as u64,
        cpu_ticks: (num(14)? + num(15)?) as u64,
        nice: num(19)?,
        start_ticks: num(22)? as u64,
        vsize: num(23)? as u64,
        uids: ids("Uid"),
        gids: ids("Gid"),
        caps: [
            cap("CapInh"),
            cap("CapPrm"),
            cap("CapEff"),
            cap("CapBnd"),
            cap("CapAmb"),
        ],
        seccomp: field("Seccomp").and_then(|v| v.parse().ok()).unwrap_or(0),
        args,
        comm,
        label,
    })
}

/// One line of an id map: container ids `inside..inside+count` are host
/// ids `outside..`.
#[derive(Clone, Copy)]
struct MapRange {
    inside: u64,
    outside: u64,
    count: u64,
}

fn read_map(path: &str) -> Vec<MapRange> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (v.len() == 3).then(|| MapRange {
                inside: v[0],
                outside: v[1],
                count: v[2],
            })
        })
        .collect()
}

/// The container's id for a host id; the overflow id when unmapped.
fn to_container(map: &[MapRange], host: u32) -> u32 {
    let h = host as u64;
    map.iter()
        .find(|r| h >= r.outside && h < r.outside + r.count)
        .map(|r| (r.inside + h - r.outside) as u32)
        .unwrap_or(65534)
}

/// `name:x:id:...` files: id to name.
fn names_by_id(text: &str) -> HashMap<u32, String> {
    let mut m = HashMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() >= 3 {
            if let Ok(id) = f[2].parse() {
                m.entry(id).or_insert_with(|| f[0].to_string());
            }
        }
    }
    m
}

fn name_or_id(names: &HashMap<u32, String>, id: u32) -> String {
    names.get(&id).cloned().unwrap_or_else(|| id.to_string())
}

/// Go's `time.Duration.String()`: `0s`, `1.5ms`, `2.850467285s`, `1h2m3s`.
fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let small = |unit: u128, digits: usize, suffix: &str| {
        let frac = format!("{:0digits$}", ns % unit);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            format!("{}{suffix}", ns / unit)
        } else {
            format!("{}.{frac}{suffix}", ns / unit)
        }
    };
    match ns {
        0 => "0s".to_string(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => small(1_000, 3, "µs"),
        n if n < 1_000_000_000 => small(1_000_000, 6, "ms"),
        _ => {
            let secs = d.as_secs();
            let (h, m) = (secs / 3600, secs / 60 % 60);
            let mut out = String::new();
            if h > 0 {
                out.push_str(&format!("{h}h"));
            }
            if h > 0 || m > 0 {
                out.push_str(&format!("{m}m"));
            }
            let rest = Duration::new(secs % 60, d.subsec_nanos()).as_nanos();
            let frac = format!("{:09}", rest % 1_000_000_000);
            let frac = frac.trim_end_matches('0');
            out.push_str(&(rest / 1_000_000_000).to_string());
            if !frac.is_empty() {
                out.push('.');
                out.push_str(frac);
            }
            out.push('s');
            out
        }
    }
}

/// Capability names as psgo prints them: sorted, no `CAP_`; `full`, `none`.
fn cap_names(mask: u64) -> String {
    let all = super::caps::ALL;
    let mut names: Vec<&str> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, n)| n.trim_start_matches("CAP_"))
        .collect();
    if names.is_empty() {
        return "none".to_string();
    }
    if names.len() == all.len() {
        return "full".to_string();
    }
    names.sort_unstable();
    names.join(",")
}

/// A tty number as a name (`pts/0`, `tty1`), `?` for none.
fn tty_name(nr: u64) -> String {
    if nr == 0 {
        return "?".to_string();
    }
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 0 => "tty".to_string(),
        5 if minor == 1 => "console".to_string(),
        _ => format!("{major}:{minor}"),
    }
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn boot_time() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

/// What resolves a process's fields: the container's id maps and names.
struct TopContext {
    uid_map: Vec<MapRange>,
    gid_map: Vec<MapRange>,
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    host_users: HashMap<u32, String>,
    host_groups: HashMap<u32, String>,
    /// host pid -> container pid, for PPID and PGID.
    pids: HashMap<i32, i32>,
    ticks: u64,
    boot: u64,
    now: SystemTime,
}

fn value(d: &str, p: &Proc, cx: &TopContext) -> String {
    let started = UNIX_EPOCH + Duration::from_secs(cx.boot) + ticks(p.start_ticks, cx.ticks);
    let elapsed = cx.now.duration_since(started).unwrap_or_default();
    let cpu = ticks(p.cpu_ticks, cx.ticks);
    let uid = |i: usize| to_container(&cx.uid_map, p.uids[i]);
    let gid = |i: usize| to_container(&cx.gid_map, p.gids[i]);
    match d {
        "args" if p.args.is_empty() => format!("[{}]", p.comm),
        "args" => p.args.join(" "),
        "comm" => p.comm.clone(),
        "capinh" => cap_names(p.caps[0]),
        "capprm" => cap_names(p.caps[1]),
        "capeff" => cap_names(p.caps[2]),
        "capbnd" => cap_names(p.caps[3]),
        "capamb" => cap_names(p.caps[4]),
        "etime" => go_duration(elapsed),
        "group" => name_or_id(&cx.groups, gid(1)),
        "rgroup" => name_or_id(&cx.groups, gid(0)),
        "hgroup" => name_or_id(&cx.host_groups, p.gids[1]),
        "user" => name_or_id(&cx.users, uid(1)),
        "ruser" => name_or_id(&cx.users, uid(0)),
        "huser" => name_or_id(&cx.host_users, p.uids[1]),
        "hpid" => p.hpid.to_string(),
        "pid" => p.pid.to_string(),
        "ppid" => cx.pids.get(&p.ppid_host).copied().unwrap_or(0).to_string(),
        "pgid" => cx.pids.get(&p.pgrp_host).copied().unwrap_or(0).to_string(),
        "label" => p.label.clone(),
        "nice" => p.nice.to_string(),
        "pcpu" => {
            let e = elapsed.as_secs_f64();
            let pct = if e > 0.0 {
                cpu.as_secs_f64() / e * 100.0
            } else {
                0.0
            };
            format!("{pct:.3}")
        }
        "seccomp" => match p.seccomp {
            0 => "disabled",
            1 => "strict",
            _ => "filter",
        }
        .to_string(),
        "state" => p.state.clone(),
        "stime" => crate::format::human::go_time_string(
            UNIX_EPOCH
                + Duration::from_secs(
                    started
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs(),
                ),
        ),
        "time" => go_duration(cpu),
        "tty" => tty_name(p.tty_nr),
        "vsz" => (p.vsize / 1024).to_string(),
        _ => "?".to_string(),
    }
}

fn ticks(n: u64, per_sec: u64) -> Duration {
    Duration::from_nanos(n.saturating_mul(1_000_000_000) / per_sec)
}

/// Host pids of the processes in `init`'s pid namespace, init first.
fn container_pids(init: i32) -> Result<Vec<i32>> {
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid"))
        .with_context(|| format!("reading the pid namespace of process {init}"))?;
    let mut out = vec![init];
    for e in std::fs::read_dir("/proc")?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid != init && std::fs::read_link(e.path().join("ns/pid")).ok().as_ref() == Some(&ns) {
            out.push(pid);
        }
    }
    Ok(out)
}

/// The rows of `top`: the header, then one row per process (by pid).
pub fn top(store: &Store, id: &str, descriptors: &[&str]) -> Result<Vec<Vec<String>>> {
    let state = current_state(store, id)?;
    if !is_running(&state) || !sys::process_is(state.pid, state.pid_start) {
        bail!("top can only be used on running containers");
    }
    let init = state.pid;
    let mut procs: Vec<Proc> = container_pids(init)?
        .into_iter()
        .filter_map(read_proc)
        .collect();
    procs.sort_by_key(|p| p.pid);
    let cfg = store.containers.load_config(id)?;
    // The container's own files, as it sees them now; the image's when its
    // root cannot be read through /proc.
    let etc = |rel: &str| {
        std::fs::read_to_string(Path::new(&format!("/proc/{init}/root")).join(rel))
            .ok()
            .or_else(|| super::container::read_image_file(store, &cfg, rel))
            .unwrap_or_default()
    };
    let cx = TopContext {
        uid_map: read_map(&format!("/proc/{init}/uid_map")),
        gid_map: read_map(&format!("/proc/{init}/gid_map")),
        users: names_by_id(&etc("etc/passwd")),
        groups: names_by_id(&etc("etc/group")),
        host_users: names_by_id(&std::fs::read_to_string("/etc/passwd").unwrap_or_default()),
        host_groups: names_by_id(&std::fs::read_to_string("/etc/group").unwrap_or_default()),
        pids: procs.iter().map(|p| (p.hpid, p.pid)).collect(),
        ticks: clock_ticks(),
        boot: boot_time(),
        now: SystemTime::now(),
    };
    let mut rows = vec![descriptors
        .iter()
        .map(|d| descriptor(d).map(|x| x.2).unwrap_or("?").to_string())
        .collect::<Vec<_>>()];
    for p in &procs {
        rows.push(descriptors.iter().map(|d| value(d, p, &cx)).collect());
    }
    Ok(rows)
}

/// `ps ARGS` run in the container (podman's fallback for words that are
/// not descriptors); its output lines, minus the line of `ps` itself.
pub fn ps_in_container(store: &Store, id: &str, args: &[String]) -> Result<Vec<String>> {
    let state = current_state(store, id)?;
    if !is_running(&state) {
        bail!("top can only be used on running containers");
    }
    let mut argv = vec!["ps".to_string()];
    argv.extend(args.iter().cloned());
    let opts = super::exec::ExecOptions {
        args: argv,
        env: Vec::new(),
        user: None,
        workdir: None,
        tty: false,
        interactive: false,
        detach: false,
        privileged: false,
        preserve_fds: Vec::new(),
        detach_keys: Vec::new(),
        no_session: true,
    };
    // The exec'd ps writes to our stdout: point that at a file meanwhile,
    // which cannot fill up and block the way a pipe would.
    let capture = tempfile_in(&store.tmpdir)?;
    use std::os::fd::AsRawFd;
    // SAFETY: dup/dup2 on our own descriptors; stdout is restored below.
    let saved = unsafe { libc::dup(1) };
    if saved < 0 {
        bail!("dup: {}", sys::errno());
    }
    // SAFETY: as above.
    unsafe { libc::dup2(capture.as_raw_fd(), 1) };
    let result = super::exec::exec(store, id, &opts).map(|o| o.code);
    // SAFETY: as above.
    unsafe {
        libc::dup2(saved, 1);
        libc::close(saved);
    }
    let code = result.map_err(|e| anyhow::anyhow!("executing ps(1) in the container: {e:#}"))?;
    let text = std::fs::read_to_string(format!("/proc/self/fd/{}", capture.as_raw_fd()))
        .context("reading the output of ps(1)")?;
    if code != 0 {
        bail!("executing ps(1) in the container: ps(1) failed with exit code {code}");
    }
    let own = args.join(" ");
    Ok(text
        .lines()
        .filter(|l| own.is_empty() || !l.contains(&own))
        .map(str::to_string)
        .collect())
}

/// An anonymous file in `dir` (created and unlinked at once).
fn tempfile_in(dir: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("top-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let _ = std::fs::remove_file(&path);
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_prints_them() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(
            go_duration(Duration::from_nanos(1_004_122_980)),
            "1.00412298s"
        );
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(go_duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(go_duration(Duration::from_nanos(42)), "42ns");
    }

    #[test]
    fn descriptors_and_codes() {
        let w = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_descriptors(&w(&["pid,user", "args"])).unwrap(),
            ["pid", "user", "args"]
        );
        assert_eq!(
            parse_descriptors(&w(&["%p", "%U"])).unwrap(),
            ["pid", "user"]
        );
        assert_eq!(parse_descriptors(&[]).unwrap(), DEFAULT_DESCRIPTORS);
        assert!(parse_descriptors(&w(&["-ef"])).is_none());
    }

    #[test]
    fn ids_through_the_map() {
        let map = [
            MapRange {
                inside: 0,
                outside: 1000,
                count: 1,
            },
            MapRange {
                inside: 1,
                outside: 100000,
                count: 65536,
            },
        ];
        assert_eq!(to_container(&map, 1000), 0);
        assert_eq!(to_container(&map, 100999), 1000);
        assert_eq!(to_container(&map, 5), 65534);
    }

    #[test]
    fn caps_sorted_without_prefix() {
        assert_eq!(cap_names(0), "none");
        assert_eq!(cap_names(1 | (1 << 5)), "CHOWN,KILL");
        assert_eq!(
            cap_names((1u64 << super::super::caps::ALL.len()) - 1),
            "full"
        );
    }

    #[test]
    fn tty_names() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
    }
}
