//! The vocabulary front ends share with the engine: the records and their
//! parts, and the option structs of requests. Front ends name these from
//! here, never from `storage`, `runtime` or `registry`, so the engine is
//! the one surface they build on.

pub use crate::build::builder::{BuildOptions, BuildOutput, KeepContainers, SOURCE_DATE_EPOCH};
pub use crate::build::containerfile::Containerfile;
pub use crate::build::image_edits::ImageEdits;
pub use crate::build::named_context::NamedContext;
pub use crate::build::run_mounts::{check_spec as check_run_mount, parse_secret_flag, Secrets};
pub use crate::build::sbom::SbomFlags;
pub use crate::build::squash::Squash;
pub use crate::build::ssh::SshAgents;
pub use crate::registry::archive::{LoadInput, SaveFormat, SaveOptions};
pub use crate::registry::auth::Credentials;
pub use crate::registry::client::ClientOptions;
pub use crate::registry::manifest::{host_platform, parse_platform, Platform};
pub use crate::registry::pull::PullOptions;
pub use crate::registry::push::{ManifestFormat, PushOptions, DEFAULT_CHUNK_SIZE};
pub use crate::registry::resolve::split_name;
pub use crate::runtime::cgroup::usage::Usage;
pub use crate::runtime::exec::ExecOptions;
pub use crate::runtime::logfile::LogRecord;
pub use crate::runtime::state::is_running;
pub use crate::storage::commit::{ChangeKind, CommitOptions, ImageFormat};
pub use crate::storage::compression::{check_level as check_compression_level, Compression};
pub use crate::storage::containers::{
    ContainerConfig, ContainerState, DeviceRate, MountKind, MountSpec, PortMapping, Status,
};
pub use crate::storage::events::{Backend as EventsBackend, Event};
pub use crate::storage::exec_sessions::ExecRequest;
pub use crate::storage::health::{HealthConfig, HealthSettings, HealthState};
pub use crate::storage::image_config::ImageConfig;
pub use crate::storage::images::ImageRecord;
pub use crate::storage::launch::IdRange;
pub use crate::storage::layer_tar::MtimePolicy;
pub use crate::storage::modes::{ModeError, NamespaceMode, NetworkMode, RestartPolicy, UsernsMode};
pub use crate::storage::pods::{MemberDefaults, PodConfig};
pub use crate::storage::store::{path_str, Driver, Store, StoreOptions};
pub use crate::storage::volumes::{Filter as VolumeFilter, VolumeRecord, LOCAL_DRIVER};
