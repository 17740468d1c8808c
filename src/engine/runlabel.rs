//! `container runlabel LABEL IMAGE [ARG...]`: the command an image's label
//! holds, with podman's substitutions (IMAGE, NAME, $PWD, $HOME, $OPT1-3),
//! run on the host; `podman`, `docker` and `coracle` mean this binary.
//! Trusted images only, as podman warns: the label is any host command.

use super::types::{PullOptions, Store};
use anyhow::{bail, Context, Result};

pub struct RunLabel {
    pub label: String,
    pub image: String,
    /// `--name`; else the image's base name
    pub name: Option<String>,
    pub args: Vec<String>,
    pub pull: PullOptions,
}

/// The command line to run, every substitution made.
pub fn command(store: &Store, r: &RunLabel) -> Result<Vec<String>> {
    let img = super::images::ensure_image(store, &r.image, "missing", &r.pull)?;
    let cfg =
        crate::storage::image_config::ImageConfig::parse(&store.blobs.read(&img.config_digest())?)?;
    let labels = cfg.config.labels.unwrap_or_default();
    let Some(value) = labels
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case(&r.label) && !v.is_empty())
        .map(|(_, v)| v.clone())
    else {
        bail!(
            "cannot find the value of label: {} in image: {}",
            r.label,
            r.image
        );
    };
    let image_name = img
        .names_history
        .first()
        .or(img.names.first())
        .cloned()
        .unwrap_or_else(|| img.id.clone());
    let name = r.name.clone().unwrap_or_else(|| {
        let typed = if img.id.starts_with(&r.image) {
            &image_name
        } else {
            &r.image
        };
        let last = typed.rsplit('/').next().unwrap_or(typed);
        last.split(':').next().unwrap_or(last).to_string()
    });
    let mut line = value;
    if !r.args.is_empty() {
        line = format!("{line} {}", r.args.join(" "));
    }
    let words = crate::format::shell_words::split(&line).map_err(anyhow::Error::msg)?;
    let Some((program, rest)) = words.split_first() else {
        bail!("label {} of image {} is empty", r.label, r.image);
    };
    let mut cmd = vec![program_path(program)?];
    for arg in rest {
        cmd.push(match arg.as_str() {
            "IMAGE=IMAGE" => format!("IMAGE={image_name}"),
            "NAME=NAME" => format!("NAME={name}"),
            a => substitute(&substitute(a, "IMAGE", &image_name), "NAME", &name),
        });
    }
    // Each word expanded on its own: a quoted argument stays one (podman
    // joins and splits again, which loses the quotes).
    Ok(cmd.iter().map(|a| expand_env(a)).collect())
}

/// `--replace`: the container the command names with `--name` goes first.
pub fn remove_named(store: &Store, cmd: &[String]) -> Result<()> {
    let named = cmd
        .iter()
        .position(|a| a == "--name")
        .and_then(|i| cmd.get(i + 1));
    if let Some(name) = named {
        if let Some(id) = super::lookup::try_container_id(store, name)? {
            let how = super::containers::Removal {
                force: true,
                ..Default::default()
            };
            super::containers::remove(store, &id, how)?;
        }
    }
    Ok(())
}

/// `IMAGE`, `$IMAGE`, `${IMAGE}` and a trailing `=IMAGE` (the same for NAME).
fn substitute(arg: &str, var: &str, value: &str) -> String {
    if arg == var {
        return value.to_string();
    }
    let mut out = arg
        .replace(&format!("${{{var}}}"), value)
        .replace(&format!("${var}"), value);
    if let Some(head) = out.strip_suffix(&format!("={var}")) {
        out = format!("{head}={value}");
    }
    out
}

/// A path must exist; `podman`, `coracle` and any `docker` mean this binary.
fn program_path(p: &str) -> Result<String> {
    if p.contains('/') || p.starts_with('.') {
        let abs = std::path::absolute(p).with_context(|| format!("resolving {p}"))?;
        if !abs.exists() {
            bail!("{p}: no such file or directory");
        }
        return Ok(abs.to_string_lossy().into_owned());
    }
    if matches!(p, "podman" | "coracle" | "docker") {
        let me = std::env::current_exe().context("finding coracle's own binary")?;
        return Ok(me.to_string_lossy().into_owned());
    }
    Ok(p.to_string())
}

/// Go's os.Expand as podman uses it: $PWD, $HOME and $OPT1-3 from here,
/// any other variable empty.
fn expand_env(s: &str) -> String {
    expand_with(s, |k| match k {
        "PWD" => std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default(),
        "HOME" | "OPT1" | "OPT2" | "OPT3" => std::env::var(k).unwrap_or_default(),
        _ => String::new(),
    })
}

fn expand_with(s: &str, value: impl Fn(&str) -> String) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' || i + 1 == b.len() {
            let ch = s[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        if b[i + 1] == b'{' {
            if let Some(end) = s[i + 2..].find('}') {
                out.push_str(&value(&s[i + 2..i + 2 + end]));
                i += end + 3;
                continue;
            }
        }
        let len = s[i + 1..]
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        if len == 0 {
            out.push('$');
            i += 1;
        } else {
            out.push_str(&value(&s[i + 1..i + 1 + len]));
            i += 1 + len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_as_podman() {
        assert_eq!(substitute("IMAGE", "IMAGE", "img"), "img");
        assert_eq!(substitute("--name=$NAME", "NAME", "n"), "--name=n");
        assert_eq!(substitute("x${IMAGE}y", "IMAGE", "i"), "xiy");
        assert_eq!(substitute("--image=IMAGE", "IMAGE", "i"), "--image=i");
        assert_eq!(substitute("IMAGES", "IMAGE", "i"), "IMAGES");
    }

    #[test]
    fn expands_only_podmans_variables() {
        let v = |k: &str| {
            if k == "OPT1" {
                "one".into()
            } else {
                String::new()
            }
        };
        assert_eq!(expand_with("a $OPT1 ${OPT1} $NOPE$", v), "a one one $");
    }
}
