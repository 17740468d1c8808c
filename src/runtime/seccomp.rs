//! seccomp as users configure it: a profile in the OCI/docker JSON format
//! (`--security-opt seccomp=PROFILE.json`) or the default one
//! (`seccomp_default`), resolved for a container's capabilities and this
//! architecture into the OCI spec's seccomp section, and compiled into a
//! kernel filter by libseccomp right before the program's exec.

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};
use serde::Deserialize;

/// What a rule does with a call it matches.
pub type Action = LinuxSeccompAction;

/// A profile in docker's seccomp.json format (what podman and docker users
/// already have); fields coracle does not use (`archMap`, `flags`...) are
/// accepted and ignored: the filter is built for this architecture.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: Action,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub names: Vec<String>,
    /// docker's older single-name form.
    #[serde(default)]
    pub name: Option<String>,
    pub action: Action,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub includes: Filter,
    #[serde(default)]
    pub excludes: Filter,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: LinuxSeccompOperator,
}

/// When a rule applies: `includes` needs all its capabilities and this
/// architecture among its arches; `excludes` drops the rule when any of
/// its capabilities is held or this architecture is listed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub caps: Vec<String>,
    #[serde(default)]
    pub arches: Vec<String>,
}

impl Profile {
    /// A profile file's content; `path` only names it in errors.
    pub fn parse(data: &[u8], path: &str) -> Result<Profile> {
        let p: Profile =
            serde_json::from_slice(data).map_err(|e| anyhow!("seccomp profile {path}: {e}"))?;
        if matches!(p.default_action, LinuxSeccompAction::ScmpActNotify) {
            bail!("seccomp profile {path}: SCMP_ACT_NOTIFY is not supported");
        }
        if p.syscalls
            .iter()
            .any(|r| matches!(r.action, LinuxSeccompAction::ScmpActNotify))
        {
            bail!("seccomp profile {path}: SCMP_ACT_NOTIFY is not supported");
        }
        Ok(p)
    }

    /// The spec's seccomp section for a container holding `caps`, on this
    /// architecture: the rules that apply, as the kernel filter will hold them.
    pub fn resolve(&self, caps: &[String]) -> Result<LinuxSeccomp> {
        let arch = go_arch();
        let mut out: Vec<LinuxSyscall> = Vec::new();
        for r in &self.syscalls {
            let holds = |c: &String| caps.iter().any(|h| h == c);
            let applies = r.includes.caps.iter().all(holds)
                && (r.includes.arches.is_empty() || r.includes.arches.iter().any(|a| a == arch))
                && !r.excludes.caps.iter().any(holds)
                && !r.excludes.arches.iter().any(|a| a == arch);
            if !applies {
                continue;
            }
            let mut names = r.names.clone();
            names.extend(r.name.clone());
            let mut b = LinuxSyscallBuilder::default().names(names).action(r.action);
            if let Some(e) = r.errno_ret {
                b = b.errno_ret(e);
            }
            if let Some(args) = &r.args {
                let args = args
                    .iter()
                    .map(|a| {
                        LinuxSeccompArgBuilder::default()
                            .index(a.index as usize)
                            .value(a.value)
                            .value_two(a.value_two)
                            .op(a.op)
                            .build()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                b = b.args(args);
            }
            out.push(b.build()?);
        }
        let mut b = LinuxSeccompBuilder::default()
            .default_action(self.default_action)
            .syscalls(out);
        if let Some(e) = self.default_errno_ret {
            b = b.default_errno_ret(e);
        }
        Ok(b.build()?)
    }
}

/// This architecture as profiles name it (Go's names).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The errno of an ERRNO action without its own: EPERM, as runc and crun.
const DEFAULT_ACTION_ERRNO: u32 = libc::EPERM as u32;

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<libseccomp::ScmpAction> {
    use libseccomp::ScmpAction as S;
    use LinuxSeccompAction as A;
    Ok(match a {
        A::ScmpActKill | A::ScmpActKillThread => S::KillThread,
        A::ScmpActKillProcess => S::KillProcess,
        A::ScmpActTrap => S::Trap,
        A::ScmpActErrno => S::Errno(errno.unwrap_or(DEFAULT_ACTION_ERRNO) as i32),
        A::ScmpActTrace => S::Trace(errno.unwrap_or(libc::EPERM as u32) as u16),
        A::ScmpActAllow => S::Allow,
        A::ScmpActLog => S::Log,
        A::ScmpActNotify => bail!("SCMP_ACT_NOTIFY is not supported"),
    })
}

fn compare(a: &oci_spec::runtime::LinuxSeccompArg) -> libseccomp::ScmpArgCompare {
    use libseccomp::ScmpCompareOp as C;
    use LinuxSeccompOperator as O;
    let op = match a.op() {
        O::ScmpCmpNe => C::NotEqual,
        O::ScmpCmpLt => C::Less,
        O::ScmpCmpLe => C::LessOrEqual,
        O::ScmpCmpEq => C::Equal,
        O::ScmpCmpGe => C::GreaterEqual,
        O::ScmpCmpGt => C::Greater,
        O::ScmpCmpMaskedEq => C::MaskedEqual(a.value()),
    };
    // MASKED_EQ: `value` is the mask, `valueTwo` the value compared.
    let datum = if matches!(a.op(), O::ScmpCmpMaskedEq) {
        a.value_two().unwrap_or(0)
    } else {
        a.value()
    };
    libseccomp::ScmpArgCompare::new(a.index() as u32, op, datum)
}

/// Compile the spec's section and load it for this thread and its
/// children. A call this architecture lacks is skipped, as runc and crun
/// do. Does not set no_new_privs itself: the caller decides (it needs
/// no_new_privs or CAP_SYS_ADMIN); call right before exec.
pub fn install(sc: &LinuxSeccomp) -> Result<()> {
    let default = action(sc.default_action(), sc.default_errno_ret())?;
    let mut ctx =
        libseccomp::ScmpFilterContext::new(default).context("creating the seccomp filter")?;
    ctx.set_ctl_nnp(false)?;
    for rule in sc.syscalls().as_deref().unwrap_or_default() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue; // libseccomp refuses a rule equal to the default
        }
        let conds: Vec<_> = rule
            .args()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(compare)
            .collect();
        for name in rule.names() {
            let Ok(call) = libseccomp::ScmpSyscall::from_name(name) else {
                continue;
            };
            if conds.is_empty() {
                ctx.add_rule(act, call)
            } else {
                ctx.add_rule_conditional(act, call, &conds)
            }
            .with_context(|| format!("seccomp rule for {name}"))?;
        }
    }
    ctx.load().context("installing the seccomp filter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_profiles_parse_and_resolve_by_caps_and_arch() {
        let json = br#"{
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_CHROOT"]}},
                {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_CHROOT"]}},
                {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
                {"names": ["s390_runtime_instr"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}}
            ]
        }"#;
        let p = Profile::parse(json, "test.json").unwrap();
        let names = |caps: &[&str]| -> Vec<String> {
            let caps: Vec<String> = caps.iter().map(|s| s.to_string()).collect();
            let sc = p.resolve(&caps).unwrap();
            assert_eq!(sc.default_errno_ret(), Some(38));
            sc.syscalls()
                .clone()
                .unwrap()
                .iter()
                .map(|s| format!("{}:{:?}", s.names().join(","), s.action()))
                .collect()
        };
        let none = names(&[]);
        assert!(none.contains(&"mkdir:ScmpActErrno".to_string()));
        assert!(none.contains(&"chroot:ScmpActErrno".to_string()));
        assert!(!none.iter().any(|n| n.starts_with("s390")));
        if go_arch() == "amd64" {
            assert!(none.contains(&"arch_prctl:ScmpActAllow".to_string()));
        }
        let chroot = names(&["CAP_SYS_CHROOT"]);
        assert!(chroot.contains(&"chroot:ScmpActAllow".to_string()));
        assert!(!chroot.contains(&"chroot:ScmpActErrno".to_string()));

        let e = Profile::parse(b"{\"defaultAction\": \"SCMP_ACT_BOGUS\"}", "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("seccomp profile x.json: "), "{e}");
    }
}
