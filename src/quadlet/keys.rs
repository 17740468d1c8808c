//! Which keys each Quadlet group knows: podman's whole list (a key outside
//! it is a typo, "unsupported key"), and the part coracle turns into flags
//! it has (a podman key outside that is refused by name, never dropped).

use super::unit::UnitFile;

pub struct GroupKeys {
    pub group: &'static str,
    /// Keys podman's Quadlet reads in this group.
    pub podman: &'static [&'static str],
    /// The ones coracle supports.
    pub coracle: &'static [&'static str],
}

#[rustfmt::skip]
pub const CONTAINER: GroupKeys = GroupKeys {
    group: "Container",
    podman: &[
        "AddCapability", "AddDevice", "AddHost", "Annotation", "AppArmor", "AutoUpdate",
        "CgroupsMode", "ContainerName", "ContainersConfModule", "DNS", "DNSOption", "DNSSearch",
        "DropCapability", "Environment", "EnvironmentFile", "EnvironmentHost", "Entrypoint",
        "Exec", "ExposeHostPort", "GIDMap", "GlobalArgs", "Group", "GroupAdd", "HealthCmd",
        "HealthInterval", "HealthOnFailure", "HealthLogDestination", "HealthMaxLogCount",
        "HealthMaxLogSize", "HealthRetries", "HealthStartPeriod", "HealthStartupCmd",
        "HealthStartupInterval", "HealthStartupRetries", "HealthStartupSuccess",
        "HealthStartupTimeout", "HealthTimeout", "HostName", "HttpProxy", "IP6", "IP", "Image",
        "Label", "LogDriver", "LogOpt", "Mask", "Memory", "Mount", "Network", "NetworkAlias",
        "NoNewPrivileges", "Notify", "PidsLimit", "Pod", "PodmanArgs", "PublishPort", "Pull",
        "ReadOnly", "ReadOnlyTmpfs", "ReloadCmd", "ReloadSignal", "RemapGid", "RemapUid",
        "RemapUidSize", "RemapUsers", "Retry", "RetryDelay", "Rootfs", "RunInit",
        "SeccompProfile", "Secret", "SecurityLabelDisable", "SecurityLabelFileType",
        "SecurityLabelLevel", "SecurityLabelNested", "SecurityLabelType", "ServiceName",
        "ShmSize", "StopSignal", "StartWithPod", "StopTimeout", "SubGIDMap", "SubUIDMap",
        "Sysctl", "Timezone", "Tmpfs", "UIDMap", "Ulimit", "Unmask", "User", "UserNS",
        "VolatileTmp", "Volume", "WorkingDir",
    ],
    coracle: &[
        "AddCapability", "AddDevice", "AddHost", "Annotation", "AutoUpdate", "CgroupsMode",
        "ContainerName", "DNS", "DNSOption", "DNSSearch", "DropCapability", "Environment",
        "EnvironmentFile", "EnvironmentHost", "Entrypoint", "Exec", "ExposeHostPort", "GlobalArgs",
        "Group", "GroupAdd", "HealthCmd", "HealthInterval", "HttpProxy", "IP", "IP6", "LogOpt",
        "NetworkAlias", "ReadOnlyTmpfs", "ShmSize", "Sysctl", "Timezone",
        "HealthOnFailure", "HealthMaxLogCount", "HealthMaxLogSize", "HealthRetries",
        "HealthStartPeriod", "HealthStartupCmd",
        "HealthStartupInterval", "HealthStartupRetries", "HealthStartupSuccess",
        "HealthStartupTimeout", "HealthTimeout", "HostName", "Image", "Label", "LogDriver",
        "Mask", "Memory", "Mount", "Network", "NoNewPrivileges", "Notify", "PidsLimit", "Pod",
        "PodmanArgs", "PublishPort", "Pull", "ReadOnly", "ReloadCmd", "ReloadSignal", "RunInit",
        "SeccompProfile", "ServiceName", "StartWithPod", "StopSignal", "StopTimeout", "Tmpfs",
        "Ulimit", "Unmask", "User", "UserNS", "Volume", "WorkingDir",
        "AppArmor", "ContainersConfModule", "GIDMap", "HealthLogDestination", "RemapGid",
        "RemapUid", "RemapUidSize", "RemapUsers", "Retry", "RetryDelay", "Rootfs", "Secret",
        "SecurityLabelDisable", "SubGIDMap", "SubUIDMap", "UIDMap", "VolatileTmp",
    ],
};

#[rustfmt::skip]
pub const VOLUME: GroupKeys = GroupKeys {
    group: "Volume",
    podman: &[
        "ContainersConfModule", "Copy", "Device", "Driver", "GlobalArgs", "Group", "Image",
        "Label", "Options", "PodmanArgs", "ServiceName", "Type", "User", "VolumeName", "UID",
        "GID",
    ],
    coracle: &[
        "Device", "Driver", "GlobalArgs", "Label", "Options", "PodmanArgs", "ServiceName",
        "Type", "VolumeName", "ContainersConfModule", "UID", "GID", "Copy", "User", "Group",
    ],
};

#[rustfmt::skip]
pub const NETWORK: GroupKeys = GroupKeys {
    group: "Network",
    podman: &[
        "ContainersConfModule", "DisableDNS", "DNS", "Driver", "Gateway", "GlobalArgs",
        "InterfaceName", "Internal", "IPAMDriver", "IPRange", "IPv6", "Label",
        "NetworkDeleteOnStop", "NetworkName", "Options", "PodmanArgs", "ServiceName", "Subnet",
    ],
    coracle: &[
        "DisableDNS", "DNS", "Driver", "Gateway", "GlobalArgs", "InterfaceName", "Internal",
        "IPRange", "Label", "NetworkDeleteOnStop", "NetworkName", "Options", "PodmanArgs",
        "ServiceName", "Subnet", "ContainersConfModule", "IPAMDriver", "IPv6",
    ],
};

#[rustfmt::skip]
pub const POD: GroupKeys = GroupKeys {
    group: "Pod",
    podman: &[
        "AddHost", "ContainersConfModule", "DNS", "DNSOption", "DNSSearch", "ExitPolicy",
        "GIDMap", "GlobalArgs", "HostName", "IP", "IP6", "Label", "Network", "NetworkAlias",
        "PodmanArgs", "PodName", "PublishPort", "ServiceName", "ShmSize", "StopTimeout",
        "SubGIDMap", "SubUIDMap", "UIDMap", "UserNS", "Volume",
    ],
    coracle: &[
        "AddHost", "DNS", "DNSOption", "DNSSearch", "ExitPolicy", "GlobalArgs", "HostName",
        "Label", "Network", "PodmanArgs", "PodName", "PublishPort", "ServiceName", "StopTimeout",
        "ContainersConfModule", "GIDMap", "IP", "IP6", "NetworkAlias", "ShmSize", "SubGIDMap",
        "SubUIDMap", "UIDMap", "UserNS", "Volume",
    ],
};

#[rustfmt::skip]
pub const IMAGE: GroupKeys = GroupKeys {
    group: "Image",
    podman: &[
        "AllTags", "Arch", "AuthFile", "CertDir", "ContainersConfModule", "Creds",
        "DecryptionKey", "GlobalArgs", "Image", "ImageTag", "OS", "PodmanArgs", "Policy",
        "Retry", "RetryDelay", "ServiceName", "TLSVerify", "Variant",
    ],
    coracle: &[
        "Arch", "AuthFile", "Creds", "GlobalArgs", "Image", "ImageTag", "OS", "PodmanArgs",
        "ServiceName", "TLSVerify", "Variant", "AllTags", "CertDir", "ContainersConfModule",
        "Policy", "Retry", "RetryDelay",
    ],
};

#[rustfmt::skip]
pub const BUILD: GroupKeys = GroupKeys {
    group: "Build",
    podman: &[
        "Annotation", "Arch", "AuthFile", "BuildArg", "ContainersConfModule", "DNS", "DNSOption",
        "DNSSearch", "Environment", "File", "ForceRM", "GlobalArgs", "GroupAdd", "IgnoreFile",
        "ImageTag", "Label", "Network", "PodmanArgs", "Pull", "Retry", "RetryDelay", "Secret",
        "ServiceName", "SetWorkingDirectory", "Target", "TLSVerify", "Variant", "Volume",
    ],
    coracle: &[
        "AuthFile", "BuildArg", "File", "GlobalArgs", "ImageTag", "Label", "PodmanArgs", "Pull",
        "ServiceName", "SetWorkingDirectory", "Target", "TLSVerify", "Annotation", "Arch",
        "ContainersConfModule", "DNS", "DNSOption", "DNSSearch", "Environment", "ForceRM",
        "GroupAdd", "IgnoreFile", "Network", "Retry", "RetryDelay", "Secret", "Variant",
        "Volume",
    ],
};

#[rustfmt::skip]
pub const KUBE: GroupKeys = GroupKeys {
    group: "Kube",
    podman: &[
        "AutoUpdate", "ConfigMap", "ContainersConfModule", "ExitCodePropagation", "GlobalArgs",
        "KubeDownForce", "LogDriver", "LogOpt", "Network", "PodmanArgs", "PublishPort",
        "ServiceName", "SetWorkingDirectory", "UserNS", "Yaml",
    ],
    coracle: &[
        "ConfigMap", "GlobalArgs", "KubeDownForce", "Network", "PodmanArgs", "PublishPort",
        "ServiceName", "SetWorkingDirectory", "Yaml", "ContainersConfModule", "LogDriver",
        "LogOpt", "UserNS",
    ],
};

/// `[Quadlet]` (any unit type).
const QUADLET: &[&str] = &["DefaultDependencies"];

/// Every key of `keys.group` (and of `[Quadlet]`) is known to podman and
/// supported by coracle; else the first that is not, with its file and line.
pub fn check(unit: &UnitFile, keys: &GroupKeys) -> Result<(), String> {
    for (group, podman, coracle) in [
        (keys.group, keys.podman, keys.coracle),
        ("Quadlet", QUADLET, QUADLET),
    ] {
        for e in unit.entries(group) {
            let at = e
                .origin
                .as_ref()
                .map(|o| o.to_string())
                .unwrap_or_else(|| unit.filename.clone());
            if !podman.contains(&e.key.as_str()) {
                return Err(format!(
                    "unsupported key '{}' in group '{group}' in {at}",
                    e.key
                ));
            }
            if !coracle.contains(&e.key.as_str()) {
                return Err(format!(
                    "key '{}' in group '{group}' in {at} is not supported by coracle yet",
                    e.key
                ));
            }
        }
    }
    Ok(())
}
