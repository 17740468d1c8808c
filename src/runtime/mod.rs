//! From a container spec to a running, supervised process: user namespace
//! and id maps, namespaces, rootfs and mounts, capabilities, seccomp,
//! process exec, tty and stdio, the per-container monitor, exec.

pub mod attach;
pub mod bridge;
pub mod caps;
pub mod cgroup;
pub mod container;
pub mod cp;
pub mod delete;
pub mod dns;
pub mod exec;
pub mod health;
pub mod infra;
pub mod init;
pub mod logfile;
pub mod memory;
pub mod monitor;
pub mod name_files;
pub mod namespaces;
pub mod net_routes;
pub mod network;
pub mod pod;
pub mod port_nat;
pub mod port_relay;
pub mod prepared;
pub mod process;
pub mod publish;
pub mod relay;
pub mod removal;
pub mod report;
pub mod resources;
pub mod restart;
pub mod rootfs;
pub mod sdnotify;
pub mod sealed_exe;
pub mod seccomp;
pub mod seccomp_default;
pub mod service;
pub mod signals;
pub mod spec;
pub mod state;
pub mod sys;
pub mod top;
pub mod user;
pub mod userns;
pub mod volume;
