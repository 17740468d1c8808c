//! The container's /etc/passwd and /etc/group entries podman adds: for a
//! numeric `--user` the image does not know (`--passwd`, on by default,
//! shaped by `--passwd-entry`/`--group-entry`), and for `--hostuser`
//! names copied from the host. The image's files plus the new lines are
//! written to the container's userdata and bind-mounted over /etc, so the
//! image's layers stay untouched.

use crate::storage::containers::ContainerConfig;
use anyhow::{bail, Result};

/// The default `--passwd-entry` shape (podman's).
const PASSWD_ENTRY: &str = "$USERNAME:*:$UID:$GID:$NAME:$HOME:/bin/sh";
/// The default `--group-entry` shape (podman's).
const GROUP_ENTRY: &str = "$GROUPNAME:x:$GID:$USERNAME";

fn field(line: &str, n: usize) -> Option<&str> {
    line.split(':').nth(n)
}

/// A line of a passwd or group text whose name (field 0) or id (field 2)
/// is `key`.
fn find<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| field(l, 0) == Some(key) || field(l, 2) == Some(key))
}

fn expand(template: &str, vars: &[(&str, &str)]) -> String {
    // Longest names first: $USERNAME before $UID's cousins never clash,
    // but $GROUPNAME must win over a shorter prefix.
    let mut vars = vars.to_vec();
    vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${k}"), v);
    }
    out
}

/// The lines to add to the image's passwd and group files (each ends with
/// a newline; empty when nothing is added).
pub fn additions(
    cfg: &ContainerConfig,
    passwd: &str,
    group: &str,
    host_passwd: &str,
) -> Result<(String, String)> {
    let t = &cfg.tuning;
    let mut users = String::new();
    let mut groups = String::new();
    let home = if cfg.workdir.is_empty() {
        "/"
    } else {
        cfg.workdir.as_str()
    };
    for name in &t.host_users {
        let Some(line) = find(host_passwd, name) else {
            bail!("unable to find user {name} on the host: no matching entries in passwd file");
        };
        let user = field(line, 0).unwrap_or(name);
        if find(passwd, user).is_none() && find(&users, user).is_none() {
            users.push_str(line);
            users.push('\n');
        }
    }
    let (user, grp) = match cfg.user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (cfg.user.as_str(), None),
    };
    let numeric_uid = user.parse::<u32>().is_ok();
    if !t.no_passwd && numeric_uid && find(passwd, user).is_none() && find(&users, user).is_none() {
        let gid = match grp {
            Some(g) if g.parse::<u32>().is_ok() => g.to_string(),
            Some(g) => match find(group, g).and_then(|l| field(l, 2)) {
                Some(gid) => gid.to_string(),
                None => bail!("unable to find group {g}: no matching entries in group file"),
            },
            None => "0".to_string(),
        };
        let template = if t.passwd_entry.is_empty() {
            PASSWD_ENTRY
        } else {
            t.passwd_entry.as_str()
        };
        let name = if t.passwd_entry.is_empty() {
            "container user"
        } else {
            ""
        };
        users.push_str(&expand(
            template,
            &[
                ("USERNAME", user),
                ("UID", user),
                ("GID", &gid),
                ("NAME", name),
                ("HOME", home),
            ],
        ));
        users.push('\n');
        // A numeric group the image does not know gets its line too.
        if let Some(g) = grp.filter(|g| g.parse::<u32>().is_ok()) {
            if find(group, g).is_none() || !t.group_entry.is_empty() {
                let template = if t.group_entry.is_empty() {
                    GROUP_ENTRY
                } else {
                    t.group_entry.as_str()
                };
                groups.push_str(&expand(
                    template,
                    &[("GROUPNAME", g), ("GID", g), ("USERNAME", user)],
                ));
                groups.push('\n');
            }
        }
    }
    Ok((users, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:\n";
    const HOST: &str =
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1500:1500:Alice:/home/alice:/bin/bash\n";

    fn cfg(user: &str) -> ContainerConfig {
        ContainerConfig {
            user: user.into(),
            workdir: "/work".into(),
            ..Default::default()
        }
    }

    #[test]
    fn numeric_users_get_an_entry() {
        let (u, g) = additions(&cfg("1234"), PASSWD, GROUP, HOST).unwrap();
        assert_eq!(u, "1234:*:1234:0:container user:/work:/bin/sh\n");
        assert_eq!(g, "");
        let (u, g) = additions(&cfg("1234:4321"), PASSWD, GROUP, HOST).unwrap();
        assert_eq!(u, "1234:*:1234:4321:container user:/work:/bin/sh\n");
        assert_eq!(g, "4321:x:4321:1234\n");
        let (u, _) = additions(&cfg("1234:wheel"), PASSWD, GROUP, HOST).unwrap();
        assert_eq!(u, "1234:*:1234:10:container user:/work:/bin/sh\n");
        // known users, names and --passwd=false add nothing
        assert_eq!(additions(&cfg("0"), PASSWD, GROUP, HOST).unwrap().0, "");
        assert_eq!(additions(&cfg("root"), PASSWD, GROUP, HOST).unwrap().0, "");
        let mut c = cfg("1234");
        c.tuning.no_passwd = true;
        assert_eq!(additions(&c, PASSWD, GROUP, HOST).unwrap().0, "");
    }

    #[test]
    fn templates_and_host_users() {
        let mut c = cfg("1234:77");
        c.tuning.passwd_entry = "$USERNAME:x:$UID:$GID::$HOME:/bin/ash".into();
        c.tuning.group_entry = "g$GROUPNAME:x:$GID:$USERNAME".into();
        c.tuning.host_users = vec!["alice".into()];
        let (u, g) = additions(&c, PASSWD, GROUP, HOST).unwrap();
        assert_eq!(
            u,
            "alice:x:1500:1500:Alice:/home/alice:/bin/bash\n1234:x:1234:77::/work:/bin/ash\n"
        );
        assert_eq!(g, "g77:x:77:1234\n");
        c.tuning.host_users = vec!["nobody-here".into()];
        assert!(additions(&c, PASSWD, GROUP, HOST).is_err());
    }
}
