//! The default seccomp filter: a small BPF program that refuses, with EPERM,
//! the syscalls podman's default profile keeps from containers (kernel
//! modules, kexec, keyrings, swap, clock setting, raw I/O ports...).
//! Capabilities that podman's profile honours unlock their syscalls again.

use anyhow::{bail, Result};

/// Syscalls refused unless a capability below unlocks them.
const ALWAYS_BLOCKED: &[&str] = &[
    "acct",
    "add_key",
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "nfsservctl",
    "open_by_handle_at",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "swapoff",
    "swapon",
    "_sysctl",
    "sysfs",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "clock_adjtime",
    "clock_settime",
    "settimeofday",
    "stime",
    "syslog",
    "bpf",
    "perf_event_open",
    "fanotify_init",
    "mount",
    "umount2",
    "pivot_root",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "open_tree",
    "move_mount",
    "mount_setattr",
    "name_to_handle_at",
    "setns",
    "process_vm_readv",
    "process_vm_writev",
];

/// (capability, syscalls it makes allowed again), as podman's profile does.
const UNLOCKED_BY_CAP: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "setns",
            "umount2",
            "pivot_root",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &["kcmp", "process_vm_readv", "process_vm_writev"],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_adjtime"],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    (
        "CAP_DAC_READ_SEARCH",
        &["open_by_handle_at", "name_to_handle_at"],
    ),
];

fn syscall_number(name: &str) -> Option<i64> {
    #[cfg(target_arch = "x86_64")]
    let table: &[(&str, i64)] = &[
        ("acct", 163),
        ("add_key", 248),
        ("create_module", 174),
        ("delete_module", 176),
        ("finit_module", 313),
        ("get_kernel_syms", 177),
        ("init_module", 175),
        ("ioperm", 173),
        ("iopl", 172),
        ("kcmp", 312),
        ("kexec_file_load", 320),
        ("kexec_load", 246),
        ("keyctl", 250),
        ("lookup_dcookie", 212),
        ("nfsservctl", 180),
        ("open_by_handle_at", 304),
        ("query_module", 178),
        ("quotactl", 179),
        ("reboot", 169),
        ("request_key", 249),
        ("swapoff", 168),
        ("swapon", 167),
        ("_sysctl", 156),
        ("sysfs", 139),
        ("uselib", 134),
        ("userfaultfd", 323),
        ("ustat", 136),
        ("clock_adjtime", 305),
        ("clock_settime", 227),
        ("settimeofday", 164),
        ("syslog", 103),
        ("bpf", 321),
        ("perf_event_open", 298),
        ("fanotify_init", 300),
        ("mount", 165),
        ("umount2", 166),
        ("pivot_root", 155),
        ("fsopen", 430),
        ("fsconfig", 431),
        ("fsmount", 432),
        ("fspick", 433),
        ("open_tree", 428),
        ("move_mount", 429),
        ("mount_setattr", 442),
        ("name_to_handle_at", 303),
        ("setns", 308),
        ("process_vm_readv", 310),
        ("process_vm_writev", 311),
    ];
    #[cfg(target_arch = "aarch64")]
    let table: &[(&str, i64)] = &[
        ("acct", 89),
        ("add_key", 217),
        ("delete_module", 106),
        ("finit_module", 273),
        ("init_module", 105),
        ("kcmp", 272),
        ("kexec_file_load", 294),
        ("kexec_load", 104),
        ("keyctl", 219),
        ("lookup_dcookie", 18),
        ("nfsservctl", 42),
        ("open_by_handle_at", 265),
        ("quotactl", 60),
        ("reboot", 142),
        ("request_key", 218),
        ("swapoff", 225),
        ("swapon", 224),
        ("userfaultfd", 282),
        ("clock_adjtime", 266),
        ("clock_settime", 112),
        ("settimeofday", 170),
        ("syslog", 116),
        ("bpf", 280),
        ("perf_event_open", 241),
        ("fanotify_init", 262),
        ("mount", 40),
        ("umount2", 39),
        ("pivot_root", 41),
        ("fsopen", 430),
        ("fsconfig", 431),
        ("fsmount", 432),
        ("fspick", 433),
        ("open_tree", 428),
        ("move_mount", 429),
        ("mount_setattr", 442),
        ("name_to_handle_at", 264),
        ("setns", 268),
        ("process_vm_readv", 270),
        ("process_vm_writev", 271),
    ];
    table.iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr)
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// The syscalls podman's default profile refuses a container holding `caps`.
pub fn default_blocked_names(caps: &[String]) -> Vec<String> {
    ALWAYS_BLOCKED
        .iter()
        .filter(|name| {
            !UNLOCKED_BY_CAP
                .iter()
                .any(|(cap, calls)| caps.iter().any(|c| c == cap) && calls.contains(name))
        })
        .map(|s| s.to_string())
        .collect()
}

/// Syscall names to numbers for this architecture; unknown names (calls
/// this architecture lacks) are skipped.
pub fn syscall_numbers(names: &[String]) -> Vec<i64> {
    let mut out: Vec<i64> = names.iter().filter_map(|n| syscall_number(n)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
fn blocked_syscalls(caps: &[String]) -> Vec<i64> {
    syscall_numbers(&default_blocked_names(caps))
}

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The BPF program: wrong architecture is killed, blocked numbers get EPERM.
pub fn build_filter(blocked: &[i64]) -> Vec<libc::sock_filter> {
    let errno = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let mut prog = vec![
        stmt(BPF_LD_W_ABS, 4), // seccomp_data.arch
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, 0), // seccomp_data.nr
    ];
    // The x32 ABI reaches the same calls with bit 30 set.
    #[cfg(target_arch = "x86_64")]
    {
        prog.push(jump(BPF_JGE_K, 0x4000_0000, 0, 1));
        prog.push(stmt(BPF_RET_K, errno));
    }
    for nr in blocked {
        prog.push(jump(BPF_JEQ_K, *nr as u32, 0, 1));
        prog.push(stmt(BPF_RET_K, errno));
    }
    prog.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    prog
}

/// Install `prog` for this thread and its children. Needs no_new_privs or
/// CAP_SYS_ADMIN; call right before exec.
pub fn install(prog: &[libc::sock_filter]) -> Result<()> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: fprog points at a live, correctly sized filter array.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            1u32, /* SECCOMP_SET_MODE_FILTER */
            0u32,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        bail!(
            "installing the seccomp filter: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_unlock_their_syscalls() {
        let none = blocked_syscalls(&[]);
        let admin = blocked_syscalls(&["CAP_SYS_ADMIN".to_string()]);
        let mount = syscall_number("mount").unwrap();
        assert!(none.contains(&mount));
        assert!(!admin.contains(&mount));
        // swap stays blocked whatever the capabilities.
        assert!(admin.contains(&syscall_number("swapon").unwrap()));
    }

    #[test]
    fn filter_ends_with_allow() {
        let prog = build_filter(&[1, 2]);
        assert_eq!(prog.last().unwrap().k, SECCOMP_RET_ALLOW);
        assert_eq!(prog[0].k, 4);
    }
}
