//! `--security-opt` as podman reads it: `key=value` (or docker's older
//! `key:value`), refused with podman's messages when malformed. Only what
//! coracle enforces is accepted; an option it would silently ignore is an
//! error that says so.

use anyhow::{bail, Result};

/// Checks every option; the first bad one is the error.
pub fn check_security_opts(opts: &[String]) -> Result<()> {
    opts.iter().try_for_each(|o| check_one(o))
}

/// The image label that carries a seccomp profile (`--seccomp-policy=image`).
pub const IMAGE_SECCOMP_LABEL: &str = "io.containers.seccomp.profile";

/// `--seccomp-policy`: `default` (the usual choice of profile) or `image`
/// (the profile in the image's label, which then wins; checked here so a
/// bad one fails the create).
pub fn image_seccomp(
    policy: &str,
    labels: Option<&std::collections::BTreeMap<String, String>>,
) -> Result<Option<String>> {
    match policy {
        "" | "default" => Ok(None),
        "image" => {
            let Some(profile) = labels
                .and_then(|l| l.get(IMAGE_SECCOMP_LABEL))
                .filter(|p| !p.is_empty())
            else {
                bail!("no seccomp policy defined by image");
            };
            crate::runtime::seccomp::Profile::parse(profile.as_bytes(), IMAGE_SECCOMP_LABEL)
                .map_err(|e| anyhow::anyhow!("loading seccomp profile failed: {e:#}"))?;
            Ok(Some(profile.clone()))
        }
        other => {
            bail!(r#"invalid seccomp policy "{other}": valid policies are ["default" "image"]"#)
        }
    }
}

fn check_one(opt: &str) -> Result<()> {
    let (key, value) = if opt.contains('=') {
        opt.split_once('=')
    } else {
        opt.split_once(':')
    }
    .map_or((opt, None), |(k, v)| (k, Some(v)));
    match (key, value) {
        ("no-new-privileges", None) => Ok(()),
        (_, None) => bail!("invalid --security-opt 1: {opt:?}"),
        ("no-new-privileges", Some(v)) => match parse_go_bool(v) {
            Some(_) => Ok(()),
            None => bail!("invalid --security-opt 2: {opt:?}"),
        },
        // The profile is read when the container is created.
        ("seccomp", Some(_)) => Ok(()),
        // podman's answer on a host without SELinux or AppArmor: nothing
        // to turn off.
        ("label", Some("disable")) | ("apparmor", Some("unconfined")) => Ok(()),
        // coracle's own: the tmpfs mounts of --read-only left out.
        ("read-only-tmpfs", Some("false" | "true")) => Ok(()),
        ("mask", Some(paths)) => {
            for p in paths.split(':').filter(|p| !p.is_empty()) {
                if !p.starts_with('/') {
                    bail!("--security-opt {opt}: {p:?} is not an absolute path");
                }
            }
            Ok(())
        }
        ("unmask", Some(patterns)) => {
            for p in patterns.split(':') {
                if !p.eq_ignore_ascii_case("all") {
                    crate::format::glob::Glob::new(p)
                        .map_err(|e| anyhow::anyhow!("--security-opt {opt}: {e}"))?;
                }
            }
            Ok(())
        }
        ("systempaths", Some("unconfined")) => Ok(()),
        ("systempaths", Some(v)) => {
            bail!("invalid systempaths option {v:?}, only `unconfined` is supported")
        }
        // Options of the /proc mount, checked by the kernel at start.
        ("proc-opts", Some(_)) => Ok(()),
        ("label" | "apparmor", Some(_)) => {
            bail!("--security-opt {opt}: not supported by coracle")
        }
        _ => bail!("invalid --security-opt 2: {opt:?}"),
    }
}

/// Go's strconv.ParseBool, which podman uses for `no-new-privileges=`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(opt: &str) -> String {
        check_security_opts(&[opt.to_string()])
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn podman_messages() {
        assert_eq!(err("bogus"), "invalid --security-opt 1: \"bogus\"");
        assert_eq!(err("bogus=1"), "invalid --security-opt 2: \"bogus=1\"");
        assert_eq!(
            err("no-new-privileges=maybe"),
            "invalid --security-opt 2: \"no-new-privileges=maybe\""
        );
        assert_eq!(
            err("apparmor=myprofile"),
            "--security-opt apparmor=myprofile: not supported by coracle"
        );
        assert_eq!(
            err("mask=proc/a"),
            "--security-opt mask=proc/a: \"proc/a\" is not an absolute path"
        );
        assert_eq!(
            err("unmask=/proc/[a"),
            "--security-opt unmask=/proc/[a: syntax error in pattern: /proc/[a"
        );
        assert_eq!(
            err("systempaths=open"),
            "invalid systempaths option \"open\", only `unconfined` is supported"
        );
        for ok in [
            "no-new-privileges",
            "no-new-privileges=false",
            "no-new-privileges:true",
            "seccomp=unconfined",
            "seccomp:/x.json",
            "label=disable",
            "label:disable",
            "apparmor=unconfined",
            "read-only-tmpfs=false",
            "mask=/proc/a:/sys/b",
            "unmask=ALL",
            "unmask=/proc/*:/sys/firmware",
            "systempaths=unconfined",
            "proc-opts=hidepid=2",
        ] {
            assert!(check_security_opts(&[ok.into()]).is_ok(), "{ok}");
        }
    }
}
