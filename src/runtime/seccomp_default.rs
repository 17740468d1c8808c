//! The default seccomp profile, equal in effect to podman's default
//! (containers/common pkg/seccomp/seccomp.json): an allowlist. A call it
//! does not name fails with ENOSYS, as on a kernel without it; the calls
//! below that podman refuses outright fail with EPERM. Written as tables,
//! turned into a [`Profile`] (the same type a user's JSON profile becomes).

use super::seccomp::{Action, Arg, Filter, Profile, Rule};
use oci_spec::runtime::LinuxSeccompOperator;

/// ENOSYS: what a call outside the allowlist returns.
const DEFAULT_ERRNO: u32 = 38;
const EPERM: u32 = 1;
const EINVAL: u32 = 22;

/// Refused with EPERM whatever the capabilities.
const REFUSED: &[&str] = &[
    "bdflush",
    "cachestat",
    "futex_requeue",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "io_pgetevents",
    "io_pgetevents_time64",
    "kexec_file_load",
    "kexec_load",
    "map_shadow_stack",
    "migrate_pages",
    "move_pages",
    "nfsservctl",
    "nice",
    "oldfstat",
    "oldlstat",
    "oldolduname",
    "oldstat",
    "olduname",
    "pciconfig_iobase",
    "pciconfig_read",
    "pciconfig_write",
    "sgetmask",
    "ssetmask",
    "swapoff",
    "swapon",
    "syscall",
    "sysfs",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "vmsplice",
];

/// Allowed to every container.
const ALLOWED: &[&str] = &[
    "_llseek",
    "_newselect",
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "clone",
    "clone3",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_init",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsconfig",
    "fsetxattr",
    "fsmount",
    "fsopen",
    "fspick",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futimesat",
    "get_mempolicy",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_setup",
    "io_submit",
    "ioctl",
    "ioprio_get",
    "ioprio_set",
    "ipc",
    "keyctl",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "mbind",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mount",
    "mount_setattr",
    "move_mount",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "open",
    "open_tree",
    "openat",
    "openat2",
    "pause",
    "pidfd_getfd",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pivot_root",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "process_vm_readv",
    "process_vm_writev",
    "pselect6",
    "pselect6_time64",
    "ptrace",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "reboot",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "set_mempolicy",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setns",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "setsid",
    "setsockopt",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signal",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "syslog",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "umount",
    "umount2",
    "uname",
    "unlink",
    "unlinkat",
    "unshare",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// personality(2) with these personas only (Linux, 32-bit, their
/// UNAME26 forms, and the query).
const PERSONAS: &[u64] = &[0, 8, 131072, 131080, 4294967295];

/// Allowed on these architectures only (Go's names, as the profile's).
const ARCH_ONLY: &[(&str, &[&str])] = &[
    ("ppc64le", &["sync_file_range2", "swapcontext"]),
    (
        "arm",
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "breakpoint",
            "cacheflush",
            "set_tls",
            "sync_file_range2",
        ],
    ),
    (
        "arm64",
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "breakpoint",
            "cacheflush",
            "set_tls",
            "sync_file_range2",
        ],
    ),
    ("amd64", &["arch_prctl", "modify_ldt"]),
    ("x32", &["arch_prctl", "modify_ldt"]),
    ("x86", &["modify_ldt"]),
    (
        "s390",
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (
        "s390x",
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    ("riscv64", &["riscv_flush_icache"]),
];

/// (capability, calls it allows, calls refused with EPERM without it).
const BY_CAP: &[(&str, &[&str], &[&str])] = &[
    (
        "CAP_DAC_READ_SEARCH",
        &["open_by_handle_at"],
        &["open_by_handle_at"],
    ),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "lookup_dcookie",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
        ],
        &[
            "lookup_dcookie",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
        ],
    ),
    ("CAP_SYS_CHROOT", &["chroot"], &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &[
            "delete_module",
            "finit_module",
            "init_module",
            "query_module",
        ],
        &[
            "delete_module",
            "finit_module",
            "init_module",
            "query_module",
        ],
    ),
    ("CAP_SYS_PACCT", &["acct"], &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &["kcmp", "process_madvise"],
        &["kcmp", "process_madvise"],
    ),
    ("CAP_SYS_RAWIO", &["ioperm", "iopl"], &["ioperm", "iopl"]),
    (
        "CAP_SYS_TIME",
        &["clock_settime", "clock_settime64", "settimeofday", "stime"],
        &["clock_settime", "clock_settime64", "settimeofday", "stime"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"], &["vhangup"]),
];

fn rule(names: &[&str], action: Action, errno: Option<u32>) -> Rule {
    Rule {
        names: names.iter().map(|s| s.to_string()).collect(),
        name: None,
        action,
        errno_ret: errno,
        args: None,
        includes: Filter::default(),
        excludes: Filter::default(),
    }
}

fn caps(c: &[&str]) -> Filter {
    Filter {
        caps: c.iter().map(|s| s.to_string()).collect(),
        arches: Vec::new(),
    }
}

fn eq(index: u32, value: u64, op: LinuxSeccompOperator) -> Arg {
    Arg {
        index,
        value,
        value_two: 0,
        op,
    }
}

/// The default profile.
pub fn profile() -> Profile {
    use LinuxSeccompOperator::{ScmpCmpEq as Eq, ScmpCmpNe as Ne};
    let allow = Action::ScmpActAllow;
    let errno = Action::ScmpActErrno;
    let mut rules = vec![
        rule(REFUSED, errno, Some(EPERM)),
        rule(ALLOWED, allow, None),
    ];
    for p in PERSONAS {
        rules.push(Rule {
            args: Some(vec![eq(0, *p, Eq)]),
            ..rule(&["personality"], allow, None)
        });
    }
    for (arch, names) in ARCH_ONLY {
        rules.push(Rule {
            includes: Filter {
                caps: Vec::new(),
                arches: vec![arch.to_string()],
            },
            ..rule(names, allow, None)
        });
    }
    for (cap, allowed, refused) in BY_CAP {
        rules.push(Rule {
            includes: caps(&[cap]),
            ..rule(allowed, allow, None)
        });
        rules.push(Rule {
            excludes: caps(&[cap]),
            ..rule(refused, errno, Some(EPERM))
        });
    }
    // socket(AF_NETLINK, _, NETLINK_AUDIT) without CAP_AUDIT_WRITE: EINVAL;
    // any other socket is allowed.
    const AF_NETLINK: u64 = 16;
    const NETLINK_AUDIT: u64 = 9;
    let no_audit = caps(&["CAP_AUDIT_WRITE"]);
    rules.push(Rule {
        args: Some(vec![eq(0, AF_NETLINK, Eq), eq(2, NETLINK_AUDIT, Eq)]),
        excludes: no_audit.clone(),
        ..rule(&["socket"], errno, Some(EINVAL))
    });
    for arg in [eq(2, NETLINK_AUDIT, Ne), eq(0, AF_NETLINK, Ne)] {
        rules.push(Rule {
            args: Some(vec![arg]),
            excludes: no_audit.clone(),
            ..rule(&["socket"], allow, None)
        });
    }
    rules.push(Rule {
        includes: no_audit,
        ..rule(&["socket"], allow, None)
    });
    // bpf and perf_event_open: CAP_SYS_ADMIN (above), or their own caps.
    for (call, cap) in [("bpf", "CAP_BPF"), ("perf_event_open", "CAP_PERFMON")] {
        rules.push(Rule {
            excludes: caps(&["CAP_SYS_ADMIN", cap]),
            ..rule(&[call], errno, Some(EPERM))
        });
        rules.push(Rule {
            includes: caps(&[cap]),
            ..rule(&[call], allow, None)
        });
    }
    Profile {
        default_action: errno,
        default_errno_ret: Some(DEFAULT_ERRNO),
        syscalls: rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same rules as podman's file, as resolved for a few capability
    /// sets (a copy of podman's seccomp.json is not kept here: the
    /// counts and spot checks are taken from it).
    #[test]
    fn podman_default_in_effect() {
        let p = profile();
        assert_eq!(REFUSED.len(), 35);
        assert_eq!(ALLOWED.len(), 370);
        let find = |sc: &oci_spec::runtime::LinuxSeccomp, name: &str| -> Vec<String> {
            sc.syscalls()
                .clone()
                .unwrap()
                .iter()
                .filter(|s| s.names().iter().any(|n| n == name))
                .map(|s| format!("{:?}/{:?}", s.action(), s.errno_ret()))
                .collect()
        };
        let default_caps: Vec<String> = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let sc = p.resolve(&default_caps).unwrap();
        assert_eq!(sc.default_errno_ret(), Some(38));
        assert_eq!(find(&sc, "kcmp"), ["ScmpActErrno/Some(1)"]);
        assert_eq!(find(&sc, "chroot"), ["ScmpActAllow/None"]);
        assert_eq!(find(&sc, "mkdir"), ["ScmpActAllow/None"]);
        assert_eq!(find(&sc, "swapon"), ["ScmpActErrno/Some(1)"]);
        assert_eq!(find(&sc, "bpf"), ["ScmpActErrno/Some(1)"]);
        assert_eq!(find(&sc, "socket").len(), 3);
        let admin = p.resolve(&["CAP_SYS_ADMIN".to_string()]).unwrap();
        assert_eq!(
            find(&admin, "setns"),
            ["ScmpActAllow/None", "ScmpActAllow/None"]
        );
        assert_eq!(find(&admin, "bpf"), ["ScmpActAllow/None"]);
        assert!(
            find(&admin, "perf_event_open").is_empty(),
            "PERFMON still needed"
        );
    }
}
