//! The flags `create` and `run` share: everything that makes a container.

use super::registry_flags::RegistryFlags;
use crate::engine::types::{ModeError, NamespaceMode, NetworkMode, UsernsMode};
use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct CreateFlags {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY for container
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables in container
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Bind mount a volume into the container
    #[arg(short, long = "volume", value_name = "VOLUME")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount", value_name = "MOUNT")]
    pub mount: Vec<String>,
    /// Mount a temporary filesystem (tmpfs) into a container
    #[arg(long = "tmpfs", value_name = "TMPFS")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", value_name = "CONTAINER[:OPTIONS]")]
    pub volumes_from: Vec<String>,
    /// Tells podman how to handle the builtin image volumes (bind, tmpfs, ignore)
    #[arg(long = "image-volume", default_value = "bind")]
    pub image_volume: String,
    /// Make containers root filesystem read-only
    #[arg(long)]
    pub read_only: bool,
    /// Set container hostname
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Set metadata on container
    #[arg(short, long = "label", value_name = "LABEL")]
    pub label: Vec<String>,
    /// Add annotations to container (key=value)
    #[arg(long = "annotation", value_name = "ANNOTATION")]
    pub annotation: Vec<String>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    /// Pull image policy: always, missing, never, newer
    #[arg(long, default_value = "missing", num_args = 0..=1, default_missing_value = "always", require_equals = true)]
    pub pull: String,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub quiet: bool,
    /// Add capabilities to the container
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop capabilities from the container
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to the container
    #[arg(long)]
    pub privileged: bool,
    /// Security options: seccomp=PATH|unconfined, no-new-privileges[=BOOL], mask=PATHS, unmask=ALL|PATTERNS, systempaths=unconfined, proc-opts=OPTS, label=disable, apparmor=unconfined
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Ulimit options
    #[arg(long = "ulimit", value_name = "ULIMIT")]
    pub ulimit: Vec<String>,
    /// Connect a container to a network: NAME[:ip=,mac=,alias=,interface_name=] (repeatable), pasta[:OPTIONS], slirp4netns, none, host, container:NAME, ns:PATH
    #[arg(long, alias = "net", value_name = "NETWORK")]
    pub network: Vec<String>,
    /// Add a network-scoped alias for the container
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// Specify a static IPv4 address for the container on its network
    #[arg(long)]
    pub ip: Option<String>,
    /// Specify a static IPv6 address for the container on its network
    #[arg(long)]
    pub ip6: Option<String>,
    /// Container MAC address on its network (e.g. 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Publish a container's port, or a range of ports, to the host
    #[arg(short, long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports on the host interfaces
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Set custom DNS servers
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set custom DNS options
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Do not create /etc/hosts for the container (the image's stays)
    #[arg(long = "no-hosts")]
    pub no_hosts: bool,
    /// Base file for the container's /etc/hosts: an absolute host path, none, or image
    #[arg(long = "hosts-file", value_name = "PATH")]
    pub hosts_file: Option<String>,
    /// Expose a port, or a range of ports (PORT[-END][/PROTO]), published by -P
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// User namespace to use (auto[:size=N,uidmapping=,gidmapping=], keep-id, nomap, host)
    #[arg(long, default_value = "")]
    pub userns: UsernsMode,
    /// Signal to stop a container
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Set the OS/ARCH[/VARIANT] of the image to pull
    #[arg(long)]
    pub platform: Option<String>,
    /// Use OS instead of the host's when pulling the image
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Use ARCH instead of the host's architecture when pulling the image
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Use VARIANT instead of the host's architecture variant when pulling the image
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Logging driver for the container (k8s-file, none)
    #[arg(long, default_value = "k8s-file")]
    pub log_driver: String,
    /// Run container in an existing pod (new:NAME creates the pod)
    #[arg(long)]
    pub pod: Option<String>,
    /// IPC namespace to use: private, host, container:NAME, ns:PATH
    #[arg(long)]
    pub ipc: Option<NamespaceMode>,
    /// PID namespace to use: private, host, container:NAME, ns:PATH
    #[arg(long)]
    pub pid: Option<NamespaceMode>,
    /// UTS namespace to use: private, host, container:NAME, ns:PATH
    #[arg(long)]
    pub uts: Option<NamespaceMode>,
    /// Add a secret to the container: NAME[,type=mount|env][,target=T][,uid=N][,gid=N][,mode=M]
    #[arg(long = "secret", value_name = "SECRET")]
    pub secret: Vec<String>,
    // issue #17 (runres): pulling the image, its seccomp profile, docker's leftovers
    /// Number of times to retry pulling the image in case of failure (default 3)
    #[arg(long, value_name = "N")]
    pub retry: Option<u32>,
    /// Delay between retries of the pull (e.g. 500ms, 2s; default: from 200ms, doubling)
    #[arg(long, value_name = "DURATION")]
    pub retry_delay: Option<String>,
    /// Key to decrypt an encrypted image with (decryption is not supported: an encrypted image is refused; others pull as usual)
    #[arg(long, value_name = "KEY[:PASSPHRASE]")]
    pub decryption_key: Vec<String>,
    /// Where the seccomp profile comes from: default, or image (the image's io.containers.seccomp.profile label)
    #[arg(long, value_name = "POLICY", default_value = "default")]
    pub seccomp_policy: String,
    /// Container IPv4/IPv6 link-local addresses: not implemented, as in podman (accepted for docker compatibility, no effect)
    #[arg(long, value_name = "IP")]
    pub link_local_ip: Vec<String>,
    /// GPUs to add through CDI: "all", or the vendor's names ("0", "1"...), as the GPU vendor's CDI spec (/etc/cdi, /var/run/cdi) defines them
    #[arg(long, value_name = "ENTRY")]
    pub gpus: Vec<String>,
    // end of issue #17 (runres)
    // Id maps and the init binary (issue 17, run/create's own namespace).
    /// Container UID:host UID[:amount] to map in a user namespace of the container's own (+ extends, u/g one kind only, @ a host id rootless; repeatable)
    #[arg(long, value_name = "UIDMAP")]
    pub uidmap: Vec<String>,
    /// Container GID:host GID[:amount] to map (as --uidmap; alone it maps uids too)
    #[arg(long, value_name = "GIDMAP")]
    pub gidmap: Vec<String>,
    /// Map the container's uids to NAME's ranges in /etc/subuid
    #[arg(long, value_name = "NAME")]
    pub subuidname: Option<String>,
    /// Map the container's gids to NAME's ranges in /etc/subgid
    #[arg(long, value_name = "NAME")]
    pub subgidname: Option<String>,
    /// The init binary --init runs (bound at /run/podman-init) instead of coracle's own
    #[arg(long, value_name = "PATH")]
    pub init_path: Option<String>,
    /// Systemd mode (tmpfs on /run, /run/lock, /tmp, /var/log/journal; writable /sys/fs/cgroup; stop signal SIGRTMIN+3): true when the command is systemd or an init, false, always
    #[arg(long, value_name = "true|false|always", default_value = "true")]
    pub systemd: String,
    /// Size of systemd mode's tmpfs mounts (/run, /run/lock, /tmp, /var/log/journal) (format: <number>[<unit>]; 0: no limit, half the memory)
    #[arg(long, value_name = "SIZE")]
    pub shm_size_systemd: Option<String>,
    /// The image argument is an exploded root filesystem directory (PATH[:O]; :O overlays it, leaving it unchanged)
    #[arg(long)]
    pub rootfs: bool,
    /// Attach to STDIN, STDOUT or STDERR (repeatable; an attached start relays only these)
    #[arg(short, long, value_name = "STREAM")]
    pub attach: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub limits: super::limits::CreateLimitFlags,
    #[command(flatten)]
    pub service: super::service_flags::ServiceFlags,
    #[command(flatten)]
    pub process: super::process_flags::ProcessFlags,
}

/// `--network` as given: an empty value is the default (podman's bridge).
pub fn network_flag(s: &str) -> Result<NetworkMode, ModeError> {
    if s.is_empty() {
        return Ok(NetworkMode::Bridge(Vec::new()));
    }
    s.parse()
}
