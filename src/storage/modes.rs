//! The typed container spec (podman's specgen): how a container's network,
//! namespaces and restart policy are asked for. Parsed once from the
//! command line (`FromStr`, podman's spellings), matched on everywhere
//! else, and kept in the records as the strings coracle always wrote
//! (`serialize_record`), so a store written by any release reads the same.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// `--network`. In a record: `none`, `host`, `private`, `pasta[:OPTS]`,
/// `slirp4netns[:OPTS]`, `container:ID`, `ns:PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// No network namespace of its own... but one with only `lo`.
    None,
    /// The host's network namespace.
    Host,
    /// Its own network namespace with only `lo` and no helper (also the
    /// meaning of an empty mode in an old record).
    #[default]
    Private,
    /// pasta with its command-line options (comma-separated in the mode).
    Pasta(Vec<String>),
    /// slirp4netns with its `key=value` options.
    Slirp4netns(Vec<String>),
    /// Another container's network namespace (its id once resolved).
    Container(String),
    /// A network namespace file.
    Ns(String),
    /// podman's `bridge` (no names: the command line maps it to the
    /// default mode) or named networks (`network create`).
    Bridge(Vec<String>),
}

impl NetworkMode {
    /// The options a network helper is started with (empty ones dropped).
    pub fn helper_options(&self) -> Vec<String> {
        match self {
            NetworkMode::Pasta(o) | NetworkMode::Slirp4netns(o) => {
                o.iter().filter(|o| !o.is_empty()).cloned().collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether a helper (pasta, slirp4netns) gives the namespace its network.
    pub fn needs_helper(&self) -> bool {
        matches!(self, NetworkMode::Pasta(_) | NetworkMode::Slirp4netns(_))
    }

    /// The container whose network namespace this one joins.
    pub fn container(&self) -> Option<&str> {
        match self {
            NetworkMode::Container(id) => Some(id),
            _ => None,
        }
    }

    /// Whether ports can be published: through a helper, or by DNAT to
    /// an address on named networks.
    pub fn takes_ports(&self) -> bool {
        self.needs_helper() || matches!(self, NetworkMode::Bridge(n) if !n.is_empty())
    }
}

fn with_options(out: &mut fmt::Formatter, mode: &str, opts: &[String]) -> fmt::Result {
    if opts.is_empty() {
        write!(out, "{mode}")
    } else {
        write!(out, "{mode}:{}", opts.join(","))
    }
}

/// Options after `mode:`, kept as given (`pasta:` keeps one empty option,
/// so the record reads back the same).
fn options(opts: Option<&str>) -> Vec<String> {
    opts.map(|o| o.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            NetworkMode::None => write!(f, "none"),
            NetworkMode::Host => write!(f, "host"),
            NetworkMode::Private => write!(f, "private"),
            NetworkMode::Pasta(o) => with_options(f, "pasta", o),
            NetworkMode::Slirp4netns(o) => with_options(f, "slirp4netns", o),
            NetworkMode::Container(id) => write!(f, "container:{id}"),
            NetworkMode::Ns(path) => write!(f, "ns:{path}"),
            NetworkMode::Bridge(names) if names.is_empty() => write!(f, "bridge"),
            NetworkMode::Bridge(names) => write!(f, "{}", names.join(",")),
        }
    }
}

/// A name podman would take for a network (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
fn is_network_name(s: &str) -> bool {
    crate::storage::names::is_valid(s)
}

impl FromStr for NetworkMode {
    type Err = ModeError;

    fn from_str(s: &str) -> Result<Self, ModeError> {
        let (mode, opts) = match s.split_once(':') {
            Some((m, o)) => (m, Some(o)),
            None => (s, None),
        };
        let arg = opts.filter(|o| !o.is_empty());
        Ok(match (mode, opts) {
            ("" | "private", None) => NetworkMode::Private,
            ("none", None) => NetworkMode::None,
            ("host", None) => NetworkMode::Host,
            ("bridge", None) => NetworkMode::Bridge(Vec::new()),
            ("pasta", _) => NetworkMode::Pasta(options(opts)),
            ("slirp4netns", _) => NetworkMode::Slirp4netns(options(opts)),
            ("container", Some(_)) if arg.is_some() => NetworkMode::Container(arg.unwrap_or_default().into()),
            ("ns", Some(_)) if arg.is_some() => NetworkMode::Ns(arg.unwrap_or_default().into()),
            (_, None) if s.split(',').all(is_network_name) => {
                NetworkMode::Bridge(s.split(',').map(str::to_string).collect())
            }
            _ => {
                return Err(ModeError(format!(
                    "invalid network mode {s:?}: use pasta, slirp4netns, none, host, container:NAME or ns:PATH"
                )))
            }
        })
    }
}

/// How a container gets one of its pid, ipc, uts or cgroup namespaces
/// (podman's `--pid`, `--ipc`, `--uts`, `--cgroupns`). In a record:
/// `""` (private), `host`, `container:ID`, `ns:PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NamespaceMode {
    /// A namespace of its own.
    #[default]
    Private,
    /// `--ipc shareable`: its own, which others may join (every private
    /// namespace may be joined here); the command line stores it private.
    Shareable,
    /// The host's.
    Host,
    /// Another container's (its id once resolved).
    Container(String),
    /// A namespace file.
    Ns(String),
}

impl NamespaceMode {
    /// The spelling kept in a record: private is the empty string.
    pub fn record(&self) -> String {
        match self {
            NamespaceMode::Private => String::new(),
            other => other.to_string(),
        }
    }

    pub fn is_host(&self) -> bool {
        *self == NamespaceMode::Host
    }

    /// The container whose namespace this one joins.
    pub fn container(&self) -> Option<&str> {
        match self {
            NamespaceMode::Container(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for NamespaceMode {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            NamespaceMode::Private => write!(f, "private"),
            NamespaceMode::Shareable => write!(f, "shareable"),
            NamespaceMode::Host => write!(f, "host"),
            NamespaceMode::Container(id) => write!(f, "container:{id}"),
            NamespaceMode::Ns(path) => write!(f, "ns:{path}"),
        }
    }
}

impl FromStr for NamespaceMode {
    type Err = ModeError;

    fn from_str(s: &str) -> Result<Self, ModeError> {
        let (mode, arg) = s.split_once(':').unwrap_or((s, ""));
        Ok(match mode {
            "" | "private" if arg.is_empty() => NamespaceMode::Private,
            "shareable" if arg.is_empty() => NamespaceMode::Shareable,
            "host" if arg.is_empty() => NamespaceMode::Host,
            "container" if !arg.is_empty() => NamespaceMode::Container(arg.into()),
            "ns" if arg.starts_with('/') => NamespaceMode::Ns(arg.into()),
            _ => {
                return Err(ModeError(format!(
                    "invalid namespace mode {s:?}: use private, host, container:NAME or ns:PATH"
                )))
            }
        })
    }
}

/// `--userns`. coracle makes a user namespace for every rootless container
/// whatever the mode; `keep-id` maps the caller's ids to themselves.
/// In a record: `""`, `host`, `private`, `keep-id`, `nomap`, `auto...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UsernsMode {
    /// Not given.
    #[default]
    Default,
    Host,
    Private,
    /// `keep-id[:uid=U,gid=G]`: the caller's ids appear as U and G (as
    /// themselves when not given).
    KeepId {
        uid: Option<u32>,
        gid: Option<u32>,
    },
    /// Rootless: the caller's own ids are not mapped, only its
    /// subordinate ranges (the launch settings carry those maps).
    NoMap,
    /// `auto[:size=N,uidmapping=C:H:S,gidmapping=C:H:S]`: a range of
    /// subordinate ids no other container of the store uses, chosen when
    /// the container is created (the launch settings carry the maps).
    Auto(AutoUserns),
}

/// `--userns=auto`'s options, as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AutoUserns {
    /// `size=`: the namespace's ids (none: from the image).
    pub size: Option<u32>,
    /// `uidmapping=`: forced uid mappings.
    pub uidmapping: Vec<AutoMapping>,
    /// `gidmapping=`: forced gid mappings.
    pub gidmapping: Vec<AutoMapping>,
}

/// `CONTAINER:HOST:SIZE` (`@HOST`: a host id, not an intermediate one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub real_host: bool,
    pub size: u32,
}

impl fmt::Display for AutoMapping {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let at = if self.real_host { "@" } else { "" };
        write!(
            f,
            "{}:{at}{}:{}",
            self.container_id, self.host_id, self.size
        )
    }
}

impl AutoUserns {
    fn parse(whole: &str, opts: &str) -> Result<AutoUserns, ModeError> {
        let mut out = AutoUserns::default();
        for opt in opts.split(',') {
            let bad = |why: &str| {
                ModeError(format!(
                    "--userns={whole}: invalid auto option {opt:?}: {why}"
                ))
            };
            let (k, v) = opt
                .split_once('=')
                .ok_or_else(|| bad("use size=, uidmapping= or gidmapping="))?;
            match k {
                "size" => match v.parse::<u32>() {
                    Ok(n) if n > 0 => out.size = Some(n),
                    _ => return Err(bad("the size must be a number of ids, at least 1")),
                },
                "uidmapping" | "gidmapping" => {
                    let m = AutoMapping::parse(v)
                        .ok_or_else(|| bad("use CONTAINER_ID:HOST_ID:SIZE"))?;
                    if k == "uidmapping" {
                        out.uidmapping.push(m);
                    } else {
                        out.gidmapping.push(m);
                    }
                }
                _ => return Err(bad("use size=, uidmapping= or gidmapping=")),
            }
        }
        Ok(out)
    }
}

impl AutoMapping {
    fn parse(s: &str) -> Option<AutoMapping> {
        let mut parts = s.split(':');
        let (c, h, n) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let (h, real_host) = match h.strip_prefix('@') {
            Some(h) => (h, true),
            None => (h, false),
        };
        let m = AutoMapping {
            container_id: c.parse().ok()?,
            host_id: h.parse().ok()?,
            real_host,
            size: n.parse().ok().filter(|n| *n > 0)?,
        };
        let fits = |start: u32| start as u64 + m.size as u64 <= u32::MAX as u64;
        (fits(m.container_id) && fits(m.host_id)).then_some(m)
    }
}

impl UsernsMode {
    /// Plain `keep-id`.
    pub const KEEP_ID: UsernsMode = UsernsMode::KeepId {
        uid: None,
        gid: None,
    };

    pub fn is_keep_id(&self) -> bool {
        matches!(self, UsernsMode::KeepId { .. })
    }
}

impl fmt::Display for UsernsMode {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            UsernsMode::Default => Ok(()),
            UsernsMode::Host => f.write_str("host"),
            UsernsMode::Private => f.write_str("private"),
            UsernsMode::KeepId { uid, gid } => {
                f.write_str("keep-id")?;
                let opts: Vec<String> = [("uid", uid), ("gid", gid)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
                    .collect();
                if !opts.is_empty() {
                    write!(f, ":{}", opts.join(","))?;
                }
                Ok(())
            }
            UsernsMode::NoMap => f.write_str("nomap"),
            UsernsMode::Auto(a) => {
                f.write_str("auto")?;
                let mut opts: Vec<String> = a.size.iter().map(|n| format!("size={n}")).collect();
                opts.extend(a.uidmapping.iter().map(|m| format!("uidmapping={m}")));
                opts.extend(a.gidmapping.iter().map(|m| format!("gidmapping={m}")));
                if !opts.is_empty() {
                    write!(f, ":{}", opts.join(","))?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for UsernsMode {
    type Err = ModeError;

    fn from_str(s: &str) -> Result<Self, ModeError> {
        Ok(match s {
            "" => UsernsMode::Default,
            "host" => UsernsMode::Host,
            "private" => UsernsMode::Private,
            "keep-id" => UsernsMode::KEEP_ID,
            "nomap" => UsernsMode::NoMap,
            "auto" => UsernsMode::Auto(AutoUserns::default()),
            other if other.starts_with("auto:") => {
                UsernsMode::Auto(AutoUserns::parse(other, &other["auto:".len()..])?)
            }
            other if other.starts_with("keep-id:") => {
                let (mut uid, mut gid) = (None, None);
                for opt in other["keep-id:".len()..].split(',') {
                    let bad = || {
                        ModeError(format!(
                            "--userns={other}: invalid keep-id option {opt:?}: use uid=UID,gid=GID"
                        ))
                    };
                    let (k, v) = opt.split_once('=').ok_or_else(bad)?;
                    let v: u32 = v.parse().map_err(|_| bad())?;
                    match k {
                        "uid" => uid = Some(v),
                        "gid" => gid = Some(v),
                        _ => return Err(bad()),
                    }
                }
                UsernsMode::KeepId { uid, gid }
            }
            other => {
                return Err(ModeError(format!(
                    "--userns={other}: use auto, keep-id, nomap or the default"
                )))
            }
        })
    }
}

/// `--restart`: podman's policies. coracle supervises no restarts (a
/// systemd unit does): the command line refuses all but `no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    #[default]
    No,
    /// At most this many retries (none: no limit).
    OnFailure(Option<u32>),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    pub fn is_no(&self) -> bool {
        *self == RestartPolicy::No
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            RestartPolicy::No => write!(f, "no"),
            RestartPolicy::OnFailure(None) => write!(f, "on-failure"),
            RestartPolicy::OnFailure(Some(n)) => write!(f, "on-failure:{n}"),
            RestartPolicy::Always => write!(f, "always"),
            RestartPolicy::UnlessStopped => write!(f, "unless-stopped"),
        }
    }
}

impl FromStr for RestartPolicy {
    type Err = ModeError;

    fn from_str(s: &str) -> Result<Self, ModeError> {
        Ok(match s {
            "" | "no" | "never" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure(None),
            _ => match s.strip_prefix("on-failure:") {
                Some(n) => RestartPolicy::OnFailure(Some(n.parse().map_err(|_| {
                    ModeError(format!(
                        "invalid restart policy {s:?}: the retry count must be a number"
                    ))
                })?)),
                None => {
                    return Err(ModeError(format!(
                        "invalid restart policy {s:?}: use no, on-failure[:N], always or unless-stopped"
                    )))
                }
            },
        })
    }
}

/// A spelling no mode has: one line, said as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeError(pub String);

impl fmt::Display for ModeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModeError {}

/// Records keep the strings coracle has always written.
macro_rules! record_serde {
    ($t:ty, $record:expr) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let record: fn(&$t) -> String = $record;
                s.serialize_str(&record(self))
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

record_serde!(NetworkMode, |m| m.to_string());
record_serde!(NamespaceMode, |m| m.record());
record_serde!(UsernsMode, |m| m.to_string());
record_serde!(RestartPolicy, |m| m.to_string());

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(spellings: &[&str])
    where
        T: FromStr + fmt::Display + fmt::Debug,
        T::Err: fmt::Debug,
    {
        for s in spellings {
            let v: T = s.parse().unwrap();
            assert_eq!(v.to_string(), *s, "{v:?}");
        }
    }

    #[test]
    fn network_spellings_round_trip() {
        round_trip::<NetworkMode>(&[
            "none",
            "host",
            "private",
            "pasta",
            "pasta:-4,--mtu,1500",
            "pasta:",
            "slirp4netns",
            "slirp4netns:allow_host_loopback=true,mtu=1500",
            "container:0123abc",
            "ns:/proc/1/ns/net",
            "ns:/run/netns/x",
            "bridge",
            "net1",
            "net1,net2",
        ]);
        assert_eq!("".parse::<NetworkMode>().unwrap(), NetworkMode::Private);
        assert_eq!(
            "pasta:-4,--mtu,1500".parse::<NetworkMode>().unwrap(),
            NetworkMode::Pasta(vec!["-4".into(), "--mtu".into(), "1500".into()])
        );
        assert_eq!(
            "pasta:-4,,x"
                .parse::<NetworkMode>()
                .unwrap()
                .helper_options(),
            ["-4", "x"]
        );
        assert_eq!(
            "container:web".parse::<NetworkMode>().unwrap().container(),
            Some("web")
        );
    }

    #[test]
    fn network_errors_are_one_line() {
        for bad in [
            "host:x",
            "none:1",
            "container:",
            "ns:",
            "private:x",
            "a b",
            "x:y",
        ] {
            let e = bad.parse::<NetworkMode>().unwrap_err().to_string();
            assert!(e.starts_with("invalid network mode"), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn namespace_spellings_round_trip() {
        round_trip::<NamespaceMode>(&[
            "private",
            "shareable",
            "host",
            "container:abc",
            "ns:/proc/1/ns/ipc",
        ]);
        assert_eq!("".parse::<NamespaceMode>().unwrap(), NamespaceMode::Private);
        assert_eq!(NamespaceMode::Private.record(), "");
        assert_eq!(NamespaceMode::Host.record(), "host");
        for bad in ["bogus", "host:1", "container:", "ns:relative", "private:x"] {
            let e = bad.parse::<NamespaceMode>().unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("use private, host"), "{e}");
        }
    }

    #[test]
    fn userns_spellings_round_trip() {
        round_trip::<UsernsMode>(&[
            "",
            "host",
            "private",
            "keep-id",
            "nomap",
            "keep-id:uid=1",
            "keep-id:uid=200,gid=300",
            "keep-id:gid=3",
            "auto",
            "auto:size=8192",
            "auto:size=10,uidmapping=0:@1000:1,gidmapping=0:5:2",
        ]);
        for bad in [
            "auto:",
            "auto:size=0",
            "auto:size=x",
            "auto:uidmapping=0:1",
            "auto:uidmapping=0:1:0",
            "auto:gidmapping=4294967295:0:2",
            "auto:other=1",
        ] {
            let e = bad.parse::<UsernsMode>().unwrap_err().to_string();
            assert!(e.contains("invalid auto option"), "{bad}: {e}");
        }
        assert_eq!(
            "keep-id:gid=3,uid=2".parse::<UsernsMode>().unwrap(),
            UsernsMode::KeepId {
                uid: Some(2),
                gid: Some(3)
            }
        );
        for bad in ["autox", "bogus"] {
            let e = bad.parse::<UsernsMode>().unwrap_err().to_string();
            assert_eq!(
                e,
                format!("--userns={bad}: use auto, keep-id, nomap or the default")
            );
        }
        for bad in [
            "keep-id:",
            "keep-id:uid=x",
            "keep-id:size=10",
            "keep-id:uid",
        ] {
            let e = bad.parse::<UsernsMode>().unwrap_err().to_string();
            assert!(e.contains("invalid keep-id option"), "{e}");
        }
    }

    #[test]
    fn restart_spellings_round_trip() {
        round_trip::<RestartPolicy>(&[
            "no",
            "on-failure",
            "on-failure:3",
            "always",
            "unless-stopped",
        ]);
        assert_eq!("".parse::<RestartPolicy>().unwrap(), RestartPolicy::No);
        assert!("on-failure:x"
            .parse::<RestartPolicy>()
            .unwrap_err()
            .to_string()
            .contains("retry count"));
        assert!("sometimes"
            .parse::<RestartPolicy>()
            .unwrap_err()
            .to_string()
            .contains("use no, on-failure[:N], always or unless-stopped"));
        assert!("no:1".parse::<RestartPolicy>().is_err());
    }

    #[test]
    fn records_keep_their_strings() {
        for (json, mode) in [
            ("\"\"", NamespaceMode::Private),
            ("\"host\"", NamespaceMode::Host),
            ("\"container:abc\"", NamespaceMode::Container("abc".into())),
        ] {
            let m: NamespaceMode = serde_json::from_str(json).unwrap();
            assert_eq!(m, mode);
            assert_eq!(serde_json::to_string(&m).unwrap(), json);
        }
        for json in [
            "\"pasta\"",
            "\"slirp4netns:mtu=1500\"",
            "\"none\"",
            "\"private\"",
        ] {
            let m: NetworkMode = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&m).unwrap(), json);
        }
        for json in ["\"\"", "\"host\"", "\"keep-id\""] {
            let m: UsernsMode = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&m).unwrap(), json);
        }
        assert!(serde_json::from_str::<NetworkMode>("\"container:\"").is_err());
    }

    /// A store as coracle wrote it before these types (tests/fixtures/
    /// store-v1, both modes) reads into them and writes back byte for byte.
    #[test]
    fn records_of_the_previous_release_round_trip() {
        use crate::storage::containers::{ContainerConfig, ContainerState};
        use crate::storage::pods::PodConfig;
        use std::path::Path;

        fn same<T: serde::de::DeserializeOwned + Serialize>(path: &Path) -> T {
            let text = std::fs::read(path).unwrap();
            let v: T =
                serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let again = serde_json::to_vec(&v).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&again),
                String::from_utf8_lossy(&text),
                "{} does not round-trip",
                path.display()
            );
            v
        }
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1");
        let mut seen = std::collections::BTreeSet::new();
        for mode in ["root", "rootless"] {
            let store = base.join(mode);
            for e in std::fs::read_dir(store.join("containers")).unwrap() {
                let dir = e.unwrap().path();
                let cfg: ContainerConfig = same(&dir.join("config.json"));
                let _: ContainerState = same(&dir.join("state.json"));
                seen.insert(format!("network {}", cfg.network));
                seen.insert(format!("pid {}", cfg.pid));
                seen.insert(format!("ipc {}", cfg.ipc));
                seen.insert(format!("uts {}", cfg.uts));
                seen.insert(format!("userns {}", cfg.userns));
            }
            for e in std::fs::read_dir(store.join("pods")).unwrap() {
                let pod: PodConfig = same(&e.unwrap().path().join("pod.json"));
                seen.insert(format!("pod network {}", pod.network));
            }
        }
        // The fixture holds what it is meant to.
        for want in [
            "network none",
            "network host",
            "network private",
            "network pasta",
            "network pasta:-4,--mtu,1500",
            "network slirp4netns",
            "network slirp4netns:allow_host_loopback=true,mtu=1500",
            "network ns:/proc/1/ns/net",
            "pid host",
            "pid private",
            "ipc host",
            "uts host",
            "userns keep-id",
            "userns host",
            "userns ",
            "pod network none",
            "pod network pasta",
        ] {
            assert!(seen.contains(want), "{want:?} not in the fixture: {seen:?}");
        }
        assert!(seen.iter().any(|s| s.starts_with("network container:")));
        assert!(seen.iter().any(|s| s.starts_with("pid container:")));
    }
}
