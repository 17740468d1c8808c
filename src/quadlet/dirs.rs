//! Where unit files are read from: podman's Quadlet directories, in its
//! order (an earlier directory's file hides a later one of the same name),
//! each with its subdirectories; coracle's own (`/etc/coracle/systemd`,
//! `~/.config/coracle/systemd`) after podman's of the same level.

use std::path::{Path, PathBuf};

/// Who the units are generated for, and the environment that says where
/// that user's directories are.
#[derive(Clone, Debug)]
pub struct Searcher {
    pub user: bool,
    pub uid: u32,
    /// `QUADLET_UNIT_DIRS`: a colon-separated list replacing the defaults.
    pub unit_dirs_env: Option<String>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

const TEMP: &str = "/run/containers/systemd";
const ADMIN: &str = "/etc/containers/systemd";
const DISTRO: &str = "/usr/share/containers/systemd";
const OWN_ADMIN: &str = "/etc/coracle/systemd";

impl Searcher {
    /// The directories to read, in order.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(list) = self.unit_dirs_env.as_deref().filter(|l| !l.is_empty()) {
            for d in list.split(':').filter(|d| Path::new(d).is_absolute()) {
                walk(Path::new(d), &mut out, &|_| false);
            }
            return out;
        }
        let users_of = |base: &str| Path::new(base).join("users");
        if !self.user {
            // the users/ subtrees are for the user generator
            for base in [TEMP, ADMIN, OWN_ADMIN, DISTRO] {
                let users = users_of(base);
                walk(Path::new(base), &mut out, &|p| p.starts_with(&users));
            }
            return out;
        }
        if let Some(rt) = &self.xdg_runtime_dir {
            walk(&rt.join("containers/systemd"), &mut out, &|_| false);
        }
        let config = self
            .xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")));
        if let Some(c) = config {
            walk(&c.join("containers/systemd"), &mut out, &|_| false);
            walk(&c.join("coracle/systemd"), &mut out, &|_| false);
        }
        for base in [ADMIN, DISTRO] {
            let users = users_of(base);
            // users/ and its non-numeric subdirectories are for every user;
            // users/UID for that user only
            let others = |p: &Path| {
                p.strip_prefix(&users)
                    .ok()
                    .and_then(|rest| rest.iter().next())
                    .is_some_and(|first| {
                        first.to_string_lossy().bytes().all(|b| b.is_ascii_digit())
                    })
            };
            walk(&users, &mut out, &others);
            walk(&users.join(self.uid.to_string()), &mut out, &|_| false);
        }
        out
    }
}

/// `dir` and every directory below it, except drop-in directories (`*.d`)
/// and what `skip` refuses; each once, symlinks resolved.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, skip: &dyn Fn(&Path) -> bool) {
    let Ok(real) = std::fs::canonicalize(dir) else {
        return;
    };
    if out.contains(&real) || !real.is_dir() || skip(&real) {
        return;
    }
    out.push(real.clone());
    let Ok(rd) = std::fs::read_dir(&real) else {
        return;
    };
    let mut subs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_none_or(|x| x != "d"))
        .collect();
    subs.sort();
    for s in subs {
        walk(&s, out, skip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_own_directories_come_after_podmans() {
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("containers/systemd");
        let ours = dir.path().join("coracle/systemd");
        std::fs::create_dir_all(podman.join("sub")).unwrap();
        std::fs::create_dir_all(&ours).unwrap();
        let s = Searcher {
            user: true,
            uid: 4242,
            unit_dirs_env: None,
            xdg_runtime_dir: None,
            xdg_config_home: Some(dir.path().to_path_buf()),
            home: None,
        };
        let got = s.dirs();
        let real = |p: &Path| std::fs::canonicalize(p).unwrap();
        assert_eq!(
            &got[..3],
            &[real(&podman), real(&podman.join("sub")), real(&ours)]
        );
    }
}
