//! `--runtime NAME|PATH` and `--runtime-flag`: which external OCI runtime
//! (crun, runc, youki, runsc...) new containers are run by. A name is
//! looked up in containers.conf's `[engine.runtimes]`, then in $PATH; a
//! path is taken as it is. Resolved once, when the files are read, so an
//! unknown runtime fails the command before it changes anything.

use super::containers_conf::EngineSection;
use anyhow::{bail, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// An external OCI runtime, as a container's record keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct OciRuntime {
    /// What `inspect` shows (podman's OCIRuntime): the name given, or the
    /// file name of a path.
    pub name: String,
    pub path: PathBuf,
    /// Global flags for the runtime, each with its leading `--`
    /// (`--runtime-flag debug` is `--debug`).
    pub flags: Vec<String>,
}

/// The runtime of `--runtime` (None without it: coracle's own).
pub fn choose(
    given: Option<&str>,
    flags: &[String],
    engine: &EngineSection,
) -> Result<Option<OciRuntime>> {
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        if !flags.is_empty() {
            bail!(
                "--runtime-flag needs --runtime: coracle's built-in runtime takes no runtime flags"
            );
        }
        return Ok(None);
    };
    let (name, path) = if given.contains('/') {
        let path = PathBuf::from(given);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| given.to_string());
        (name, Some(path).filter(|p| is_executable(p)))
    } else {
        (given.to_string(), lookup(given, engine))
    };
    let Some(path) = path else {
        bail!("default OCI runtime {given:?} not found: invalid argument");
    };
    let flags = flags
        .iter()
        .map(|f| format!("--{}", f.trim_start_matches('-')))
        .collect();
    Ok(Some(OciRuntime { name, path, flags }))
}

/// `[engine.runtimes]` first, then $PATH.
fn lookup(name: &str, engine: &EngineSection) -> Option<PathBuf> {
    let configured = engine
        .runtimes
        .as_ref()
        .and_then(|r| r.get(name))
        .into_iter()
        .flatten()
        .map(PathBuf::from);
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    configured.chain(on_path).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_through_the_config_then_path() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("myrt");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut engine = EngineSection::default();
        let mut map = std::collections::BTreeMap::new();
        map.insert(
            "fancy".to_string(),
            vec!["/nonexistent/fancy".to_string(), bin.display().to_string()],
        );
        engine.runtimes = Some(map);
        let rt = choose(Some("fancy"), &["debug".into()], &engine)
            .unwrap()
            .unwrap();
        assert_eq!(rt.path, bin);
        assert_eq!(rt.name, "fancy");
        assert_eq!(rt.flags, vec!["--debug".to_string()]);
        let by_path = choose(Some(bin.to_str().unwrap()), &[], &engine)
            .unwrap()
            .unwrap();
        assert_eq!(by_path.name, "myrt");
        assert!(choose(Some("no-such-runtime-here"), &[], &engine).is_err());
        assert!(choose(None, &["debug".into()], &engine).is_err());
        assert!(choose(None, &[], &engine).unwrap().is_none());
    }
}
