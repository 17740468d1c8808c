//! `-u user[:group]` resolved through the container's /etc/passwd and
//! /etc/group, as podman does: names or numbers, supplementary groups, HOME.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || line.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || line.starts_with('#') {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f[3].split(',').filter(|m| !m.is_empty()).collect(),
        })
    })
}

/// Resolve `spec` (`""`, `name`, `1000`, `name:group`, `1000:1000`).
/// Numeric ids need no entry; names that match nothing are an error.
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ResolvedUser> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|e| e.uid == uid),
        Err(_) => Some(
            passwd_entries(passwd)
                .find(|e| e.name == user)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "unable to find user {user}: no matching entries in passwd file"
                    )
                })?,
        ),
    };
    let uid = match user.parse::<u32>() {
        Ok(n) => n,
        Err(_) => entry.as_ref().map(|e| e.uid).unwrap_or(0),
    };
    let gid = match grp {
        Some(g) if !g.is_empty() => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group)
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| {
                    anyhow::anyhow!("unable to find group {g}: no matching entries in group file")
                })?,
        },
        _ => entry.as_ref().map(|e| e.gid).unwrap_or(0),
    };
    // Supplementary groups come from /etc/group membership, only when the
    // group was not given explicitly (podman's rule).
    let mut additional_gids = Vec::new();
    if grp.is_none() {
        if let Some(e) = &entry {
            for g in group_entries(group) {
                if g.members.contains(&e.name) && g.gid != gid && !additional_gids.contains(&g.gid)
                {
                    additional_gids.push(g.gid);
                }
            }
        }
    }
    let home = entry
        .as_ref()
        .map(|e| e.home.to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".to_string());
    if uid == u32::MAX || gid == u32::MAX {
        bail!("invalid user {spec:?}");
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// `--group-add` groups (names from the container's /etc/group, or
/// numbers) added to `user`'s supplementary groups.
pub fn add_groups(user: &mut ResolvedUser, names: &[String], group: &str) -> Result<()> {
    for name in names.iter().filter(|n| *n != "keep-groups") {
        let gid = match name.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group)
                .find(|e| e.name == name)
                .map(|e| e.gid)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "unable to find group {name}: no matching entries in group file"
                    )
                })?,
        };
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nuser:x:1000:\nwheel:x:10:user\naudio:x:29:user,root\n";

    #[test]
    fn names_numbers_and_groups() {
        let u = resolve("user", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/home/user"));
        assert_eq!(u.additional_gids, vec![10, 29]);
        let u = resolve("1000:10", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 10));
        assert!(u.additional_gids.is_empty());
        let u = resolve("4242", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        let u = resolve("user:wheel", PASSWD, GROUP).unwrap();
        assert_eq!(u.gid, 10);
        assert!(resolve("nobody", PASSWD, GROUP).is_err());
        assert!(resolve("user:nogroup", PASSWD, GROUP).is_err());
        let r = resolve("", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
    }
}
