//! `generate systemd --new`: a unit that creates the container afresh
//! from the command line it was created with (podman's older way; Quadlet
//! files are the newer one), as podman-generate-systemd(1) writes it.

use super::lookup::container_id;
use crate::storage::store::Store;
use anyhow::{bail, Result};

pub struct SystemdOptions {
    /// Name the unit after the container's name, not its id.
    pub use_name: bool,
    pub restart_policy: Option<String>,
    pub restart_sec: Option<u32>,
    /// `-t`: the stop timeout in the unit (default: the container's).
    pub stop_timeout: Option<u32>,
    pub start_timeout: Option<u32>,
    pub container_prefix: String,
    pub separator: String,
    /// The header comment without version and time.
    pub no_header: bool,
    pub wants: Vec<String>,
    pub after: Vec<String>,
    pub requires: Vec<String>,
    /// `--env`: `Environment=` lines of the unit, `KEY=VALUE` each.
    pub env: Vec<String>,
    /// `--template`: a template unit (`NAME@.service`), each instance a
    /// container named after `%i`.
    pub template: bool,
    /// Absolute path of coracle.
    pub exe: String,
    /// When the header says it was generated.
    pub timestamp: String,
}

pub struct GeneratedUnit {
    /// `container-web` (no `.service`).
    pub name: String,
    pub text: String,
}

const RESTART_POLICIES: &[&str] = &[
    "no",
    "on-success",
    "on-failure",
    "on-abnormal",
    "on-watchdog",
    "on-abort",
    "always",
];

/// podman's escaping of one argument for a unit's command line: `$` and
/// `%` doubled, quoted when it holds blanks or quotes.
fn escape(arg: &str) -> String {
    let a = arg.replace('$', "$$").replace('%', "%%");
    if a.contains([' ', '\t', '"']) {
        format!("{a:?}")
    } else {
        a.replace('\\', "\\\\")
    }
}

/// One option per line, as podman lays the command lines out.
fn layout(words: &[String]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i == 0 {
            out.push_str(w);
        } else if w.starts_with('-') {
            out.push_str(" \\\n\t");
            out.push_str(w);
        } else {
            out.push(' ');
            out.push_str(w);
        }
    }
    out
}

/// The unit for one container. `takes_value(flag)` says whether a flag of
/// `run` reads the next word as its value (it finds where the options of
/// the recorded command line end and the image begins).
pub fn container_unit(
    store: &Store,
    target: &str,
    opts: &SystemdOptions,
    takes_value: &dyn Fn(&str) -> bool,
) -> Result<GeneratedUnit> {
    let id = container_id(store, target)?;
    let cfg = store.containers.load_config(&id)?;
    let cmd = &cfg.create_command;
    let Some(sub) = cmd.iter().position(|a| a == "run" || a == "create") else {
        bail!("container's create command is too short or invalid: {cmd:?}");
    };
    if let Some(p) = &opts.restart_policy {
        if !RESTART_POLICIES.contains(&p.as_str()) {
            bail!("{p} is not a valid restart policy");
        }
    }
    // the recorded options, up to the image
    let rest = &cmd[sub + 1..];
    let mut n_opts = rest.len();
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i];
        if a == "--" || !a.starts_with('-') || a == "-" {
            n_opts = i;
            break;
        }
        let flag = a.split_once('=').map_or(a.as_str(), |(f, _)| f);
        let attached = a.contains('=') || (!a.starts_with("--") && a.len() > 2);
        if !attached && takes_value(flag) {
            i += 1;
        }
        i += 1;
    }
    let (options, tail) = rest.split_at(n_opts.min(rest.len()));
    let mut kept: Vec<String> = Vec::new();
    let (mut named, mut detached, mut sdnotify) = (false, false, false);
    let mut restart_from_ctr: Option<String> = None;
    let mut j = 0;
    while j < options.len() {
        let a = &options[j];
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if a.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let value = |j: &mut usize| -> Option<String> {
            inline.clone().or_else(|| {
                *j += 1;
                options.get(*j).cloned()
            })
        };
        match flag {
            // coracle sets these itself
            "--rm" | "--replace" => {}
            "--cgroups" | "--cidfile" | "--conmon-pidfile" => {
                value(&mut j);
            }
            "--restart" => restart_from_ctr = value(&mut j),
            "-d" | "--detach" => detached = true,
            "--sdnotify" => match value(&mut j).as_deref() {
                // a unit of Type=notify must hear from someone
                Some("ignore") | None => {}
                Some(v) => {
                    sdnotify = true;
                    kept.push(format!("--sdnotify={v}"));
                }
            },
            "--name" => {
                named = true;
                kept.push(a.clone());
                if inline.is_none() {
                    if let Some(v) = options.get(j + 1) {
                        kept.push(v.clone());
                        j += 1;
                    }
                }
            }
            _ => {
                kept.push(a.clone());
                let attached = inline.is_some() || (!a.starts_with("--") && a.len() > 2);
                if !attached && takes_value(flag) {
                    if let Some(v) = options.get(j + 1) {
                        kept.push(v.clone());
                        j += 1;
                    }
                }
            }
        }
        j += 1;
    }
    let mut start: Vec<String> = vec![opts.exe.clone()];
    start.extend(cmd[1..sub].iter().cloned());
    start.extend(["run", "--cgroups=no-conmon", "--rm"].map(String::from));
    if !sdnotify {
        start.push("--sdnotify=conmon".into());
    }
    if !detached {
        start.push("-d".into());
    }
    start.push("--replace".into());
    if !named {
        // stop and rm below find the container by this name
        start.extend(["--name".to_string(), cfg.name.clone()]);
    }
    start.extend(kept);
    start.extend(tail.iter().cloned());
    let mut start: Vec<String> = start.iter().map(|w| escape(w)).collect();
    // An instance's container is NAME-INSTANCE (`%i` is systemd's, so it
    // is added after the escaping that doubles `%`).
    let instance = if opts.template { "-%i" } else { "" };
    if opts.template {
        if let Some(n) = start.iter().position(|w| w == "--name") {
            if let Some(v) = start.get_mut(n + 1) {
                v.push_str(instance);
            }
        } else if let Some(w) = start.iter_mut().find(|w| w.starts_with("--name=")) {
            w.push_str(instance);
        }
    }

    let mut restart = opts
        .restart_policy
        .clone()
        .unwrap_or_else(|| "on-failure".into());
    let mut burst = None;
    if opts.restart_policy.is_none() {
        match restart_from_ctr.as_deref() {
            Some(p) if p.starts_with("on-failure:") => {
                restart = "on-failure".into();
                burst = p.split_once(':').map(|(_, n)| n.to_string());
            }
            Some("unless-stopped") => restart = "always".into(),
            Some("") | Some("no") | None => {}
            Some(p) => restart = p.to_string(),
        }
    }
    let stop_timeout = opts.stop_timeout.unwrap_or(cfg.stop_timeout);
    let unit_name = format!(
        "{}{}{}",
        opts.container_prefix,
        opts.separator,
        if opts.use_name { &cfg.name } else { &cfg.id }
    );
    let name = format!("{}{instance}", escape(&cfg.name));
    let at = if opts.template { "@" } else { "" };
    let mut t = format!("# {unit_name}{at}.service\n");
    if !opts.no_header {
        t.push_str(&format!(
            "# autogenerated by coracle {}\n# {}\n",
            env!("CARGO_PKG_VERSION"),
            opts.timestamp
        ));
    }
    t.push_str(&format!(
        "\n[Unit]\nDescription=coracle {unit_name}.service\nDocumentation=man:podman-generate-systemd(1)\nWants=network-online.target\nAfter=network-online.target\nRequiresMountsFor={}\n",
        store.runroot.display()
    ));
    if !(opts.wants.is_empty() && opts.after.is_empty() && opts.requires.is_empty()) {
        t.push_str("\n# User-defined dependencies\n");
    }
    for (key, list) in [
        ("Wants", &opts.wants),
        ("After", &opts.after),
        ("Requires", &opts.requires),
    ] {
        if !list.is_empty() {
            t.push_str(&format!("{key}={}\n", list.join(" ")));
        }
    }
    t.push_str(&format!(
        "\n[Service]\nEnvironment=PODMAN_SYSTEMD_UNIT=%n{instance}\n"
    ));
    for e in &opts.env {
        t.push_str(&format!("Environment={}\n", escape(e)));
    }
    t.push_str(&format!("Restart={restart}\n"));
    if let Some(s) = opts.restart_sec {
        t.push_str(&format!("RestartSec={s}\n"));
    }
    if let Some(b) = burst {
        t.push_str(&format!("StartLimitBurst={b}\n"));
    }
    if let Some(s) = opts.start_timeout.filter(|s| *s != 0) {
        t.push_str(&format!("TimeoutStartSec={s}\n"));
    }
    t.push_str(&format!("TimeoutStopSec={}\n", 60 + stop_timeout));
    t.push_str(&format!("ExecStart={}\n", layout(&start)));
    // the store flags the container was created with (--root, --runroot)
    let mut exe = escape(&opts.exe);
    for f in &cmd[1..sub] {
        exe.push(' ');
        exe.push_str(&escape(f));
    }
    t.push_str(&format!(
        "ExecStop={exe} stop \\\n\t--ignore -t {stop_timeout} {name}\n"
    ));
    t.push_str(&format!(
        "ExecStopPost={exe} rm \\\n\t-f \\\n\t--ignore -t {stop_timeout} {name}\n"
    ));
    t.push_str("Type=notify\nNotifyAccess=all\n\n[Install]\nWantedBy=default.target\n");
    Ok(GeneratedUnit {
        name: format!("{unit_name}{at}"),
        text: t,
    })
}
