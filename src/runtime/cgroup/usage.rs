//! What a container uses: CPU time, memory, processes, block and network
//! I/O, read from its cgroup (v2 or v1), or, for a rootless container on a
//! host that delegates no cgroup, summed over the processes of its PID
//! namespace in /proc (exact for CPU time and processes; memory is the sum
//! of resident sets, which counts shared pages once per process).

use super::{host_memory, Cgroup, Hierarchy};
use std::collections::HashMap;
use std::fs;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub cpu_ns: u64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub pids: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub net_rx: u64,
    pub net_tx: u64,
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

fn num(p: &Path) -> Option<u64> {
    read(p).trim().parse().ok()
}

/// `key value` lines (cpu.stat, memory.stat, memory.events).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// Usage from the container's cgroup.
pub fn of_cgroup(cg: &Cgroup) -> Usage {
    let host = host_memory();
    let mut u = Usage::default();
    match cg.hierarchy {
        Hierarchy::V2 => {
            let d = cg.dir("");
            u.cpu_ns = keyed(&read(&d.join("cpu.stat")), "usage_usec").unwrap_or(0) * 1000;
            let current = num(&d.join("memory.current")).unwrap_or(0);
            let inactive = keyed(&read(&d.join("memory.stat")), "inactive_file").unwrap_or(0);
            u.mem_usage = current.saturating_sub(inactive);
            u.mem_limit = num(&d.join("memory.max")).unwrap_or(host).min(host);
            u.pids = num(&d.join("pids.current"))
                .unwrap_or_else(|| read(&d.join("cgroup.threads")).lines().count() as u64);
            for line in read(&d.join("io.stat")).lines() {
                for f in line.split_whitespace().skip(1) {
                    if let Some(v) = f.strip_prefix("rbytes=") {
                        u.blk_read += v.parse::<u64>().unwrap_or(0);
                    } else if let Some(v) = f.strip_prefix("wbytes=") {
                        u.blk_write += v.parse::<u64>().unwrap_or(0);
                    }
                }
            }
        }
        Hierarchy::V1 => {
            u.cpu_ns = num(&cg.dir("cpuacct").join("cpuacct.usage")).unwrap_or(0);
            let mem = cg.dir("memory");
            let usage = num(&mem.join("memory.usage_in_bytes")).unwrap_or(0);
            let inactive =
                keyed(&read(&mem.join("memory.stat")), "total_inactive_file").unwrap_or(0);
            u.mem_usage = usage.saturating_sub(inactive);
            u.mem_limit = num(&mem.join("memory.limit_in_bytes"))
                .unwrap_or(host)
                .min(host);
            u.pids = num(&cg.dir("pids").join("pids.current"))
                .unwrap_or_else(|| read(&mem.join("tasks")).lines().count() as u64);
            let blk = cg.dir("blkio");
            let mut text = read(&blk.join("blkio.throttle.io_service_bytes_recursive"));
            if text.trim().is_empty() {
                text = read(&blk.join("blkio.throttle.io_service_bytes"));
            }
            for line in text.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                if let [_, op, v] = f.as_slice() {
                    let v = v.parse::<u64>().unwrap_or(0);
                    match *op {
                        "Read" => u.blk_read += v,
                        "Write" => u.blk_write += v,
                        _ => {}
                    }
                }
            }
        }
    }
    u
}

/// Processes by PID namespace, from one pass over /proc (shared by every
/// container a `stats` call reports on).
#[derive(Default)]
pub struct ProcIndex {
    by_ns: HashMap<String, Vec<i32>>,
}

impl ProcIndex {
    pub fn scan() -> ProcIndex {
        let mut by_ns: HashMap<String, Vec<i32>> = HashMap::new();
        if let Ok(rd) = fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                    continue;
                };
                if let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/pid")) {
                    by_ns
                        .entry(ns.to_string_lossy().into_owned())
                        .or_default()
                        .push(pid);
                }
            }
        }
        ProcIndex { by_ns }
    }
}

/// Usage summed over the processes that share `pid`'s PID namespace.
pub fn of_processes(pid: i32, index: &ProcIndex) -> Usage {
    let mut u = Usage {
        mem_limit: host_memory(),
        ..Default::default()
    };
    let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/pid")) else {
        return u;
    };
    // SAFETY: sysconf has no preconditions.
    let (tick, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK).max(1) as u64,
            libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64,
        )
    };
    let members = index
        .by_ns
        .get(ns.to_string_lossy().as_ref())
        .cloned()
        .unwrap_or_default();
    for p in members {
        let stat = read(Path::new(&format!("/proc/{p}/stat")));
        // Fields after the command name, which may hold spaces.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state): utime is field 14, num_threads 20, rss 24.
        let field = |n: usize| {
            f.get(n - 3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let ticks = field(14) + field(15) + field(16) + field(17);
        u.cpu_ns += ticks * 1_000_000_000 / tick;
        u.pids += field(20);
        u.mem_usage += field(24) * page;
        let io = read(Path::new(&format!("/proc/{p}/io")));
        u.blk_read += keyed_colon(&io, "read_bytes");
        u.blk_write += keyed_colon(&io, "write_bytes");
    }
    u
}

fn keyed_colon(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k == key).then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// Bytes received and sent on the container's network interfaces (its
/// network namespace, seen through its first process), loopback left out.
pub fn network(pid: i32) -> (u64, u64) {
    let text = read(Path::new(&format!("/proc/{pid}/net/dev")));
    let mut rx = 0;
    let mut tx = 0;
    for line in text.lines().skip(2) {
        let Some((name, data)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = data
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}
