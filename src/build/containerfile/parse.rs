//! Logical lines to typed instructions and stages.

use std::time::Duration;

use super::heredoc::{parse_heredoc_word, Heredoc};
use super::lexer::{lex, split_flags, split_words_raw, LogicalLine};
use super::{
    Arg, Command, Containerfile, Copy, From, Healthcheck, Instruction, KeyValue, OnBuild,
    ParseError, Run, Source, Stage, Step,
};

/// Parses a Containerfile. `file_name` only labels errors.
pub fn parse(text: &str, file_name: &str) -> Result<Containerfile, ParseError> {
    let fail = |line: usize, message: String, text: &str| ParseError {
        file: file_name.to_string(),
        line,
        message,
        text: text.to_string(),
    };
    let lexed = lex(text).map_err(|e| fail(e.line, e.message, &e.text))?;
    let escape = lexed.escape;
    let mut file = Containerfile {
        escape,
        args_before_from: Vec::new(),
        stages: Vec::new(),
    };
    for logical in lexed.lines {
        let LogicalLine {
            line,
            text,
            heredocs,
        } = logical;
        let instruction =
            parse_instruction(&text, heredocs, escape).map_err(|m| fail(line, m, &text))?;
        let text = text.trim().to_string();
        match instruction {
            Instruction::From(from) => {
                if let Some(name) = &from.alias {
                    if file.stages.iter().any(|s| s.name.as_ref() == Some(name)) {
                        return Err(fail(line, format!("duplicate stage name {name:?}"), &text));
                    }
                }
                file.stages.push(Stage {
                    name: from.alias.clone(),
                    from,
                    line,
                    text,
                    instructions: Vec::new(),
                });
            }
            instruction => match file.stages.last_mut() {
                Some(stage) => stage.instructions.push(Step {
                    line,
                    text,
                    instruction,
                }),
                None => match instruction {
                    Instruction::Arg(args) => file.args_before_from.extend(args),
                    _ => {
                        return Err(fail(
                            line,
                            "no build stage in current context".into(),
                            &text,
                        ))
                    }
                },
            },
        }
    }
    if file.stages.is_empty() {
        let line = text.lines().count().max(1);
        return Err(fail(line, "file with no instructions".into(), ""));
    }
    Ok(file)
}

/// Splits `KEYWORD rest` and dispatches on the keyword.
fn parse_instruction(
    text: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
) -> Result<Instruction, String> {
    let text = text.trim();
    let (keyword, rest) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    };
    let keyword = keyword.to_ascii_lowercase();
    let (flags, rest) = split_flags(rest);
    let mut flags = Flags::new(flags);
    let ins = match keyword.as_str() {
        "from" => parse_from(rest, &mut flags)?,
        "run" => {
            let mounts = flags.strings("mount")?;
            let network = flags.string("network")?;
            let security = flags.string("security")?;
            let command = maybe_json(rest)?;
            if matches!(&command, Command::Shell(s) if s.is_empty()) {
                return Err("RUN requires at least one argument".into());
            }
            let heredocs = match command {
                Command::Shell(_) => heredocs,
                Command::Exec(_) => Vec::new(),
            };
            Instruction::Run(Run {
                command,
                mounts,
                network,
                security,
                heredocs,
            })
        }
        "cmd" => Instruction::Cmd(command_or_empty(rest)?),
        "entrypoint" => Instruction::Entrypoint(command_or_empty(rest)?),
        "env" => Instruction::Env(name_values(rest, "ENV", escape)?),
        "label" => Instruction::Label(name_values(rest, "LABEL", escape)?),
        "arg" => {
            let words = split_words_raw(rest, escape);
            if words.is_empty() {
                return Err("ARG requires at least one argument".into());
            }
            let mut args = Vec::new();
            for w in words {
                let (name, default) = match w.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (w, None),
                };
                if name.is_empty() {
                    return Err("ARG names can not be blank".into());
                }
                args.push(Arg { name, default });
            }
            Instruction::Arg(args)
        }
        "expose" => {
            let ports = whitespace_words(rest);
            if ports.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            Instruction::Expose(ports)
        }
        "volume" => {
            let vols = json_or_words(rest)?;
            if vols.is_empty() || vols.iter().any(|v| v.trim().is_empty()) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            Instruction::Volume(vols)
        }
        "user" => Instruction::User(one_string(rest, "USER")?),
        "workdir" => Instruction::Workdir(one_string(rest, "WORKDIR")?),
        "stopsignal" => Instruction::StopSignal(one_string(rest, "STOPSIGNAL")?),
        "maintainer" => Instruction::Maintainer(one_string(rest, "MAINTAINER")?),
        "shell" => match json_array(rest) {
            Some(Ok(v)) if !v.is_empty() => Instruction::Shell(v),
            Some(Err(e)) => return Err(e),
            _ => return Err("SHELL requires the arguments to be in JSON form".into()),
        },
        "healthcheck" => parse_healthcheck(rest, &mut flags)?,
        "onbuild" => {
            let sub = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            match sub.as_str() {
                "" => return Err("ONBUILD requires at least one argument".into()),
                "onbuild" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into())
                }
                "from" | "maintainer" => {
                    return Err(format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        sub.to_ascii_uppercase()
                    ))
                }
                _ => {}
            }
            // A trigger's heredocs are not read: Docker does not either.
            let instruction = parse_instruction(rest, Vec::new(), escape)?;
            Instruction::OnBuild(OnBuild {
                trigger: rest.to_string(),
                instruction: Box::new(instruction),
            })
        }
        "copy" | "add" => parse_copy(&keyword, rest, heredocs, &mut flags, escape)?,
        _ => {
            return Err(format!(
                "unknown instruction: {}",
                keyword.to_ascii_uppercase()
            ));
        }
    };
    flags.finish()?;
    Ok(ins)
}

fn parse_from(rest: &str, flags: &mut Flags) -> Result<Instruction, String> {
    let platform = flags.string("platform")?;
    let words = whitespace_words(rest);
    let alias = match words.len() {
        1 => None,
        3 if words[1].eq_ignore_ascii_case("as") => {
            let name = words[2].to_ascii_lowercase();
            let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(format!(
                    "invalid name for build stage: {:?}, name can't start with a number or contain symbols",
                    words[2]
                ));
            }
            Some(name)
        }
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    Ok(Instruction::From(From {
        image: words[0].clone(),
        alias,
        platform,
    }))
}

fn parse_healthcheck(rest: &str, flags: &mut Flags) -> Result<Instruction, String> {
    let (kind, cmd) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim_start()),
        None => (rest, ""),
    };
    match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !cmd.is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".into());
            }
            flags.clear();
            Ok(Instruction::Healthcheck(Healthcheck::None))
        }
        "CMD" => {
            let mut duration = |name: &str| -> Result<Option<Duration>, String> {
                let Some(v) = flags.string(name)? else {
                    return Ok(None);
                };
                let d =
                    parse_go_duration(&v).ok_or_else(|| format!("time: invalid duration {v:?}"))?;
                if !d.is_zero() && d < Duration::from_millis(1) {
                    return Err(format!("{name} cannot be less than 1ms"));
                }
                Ok(Some(d))
            };
            let interval = duration("interval")?;
            let timeout = duration("timeout")?;
            let start_period = duration("start-period")?;
            let start_interval = duration("start-interval")?;
            let retries = match flags.string("retries")? {
                None => None,
                Some(r) => {
                    let n: i64 = r
                        .parse()
                        .map_err(|_| format!("invalid --retries value {r:?}"))?;
                    if n < 0 {
                        return Err("--retries cannot be negative".into());
                    }
                    Some(u32::try_from(n).map_err(|_| format!("invalid --retries value {r:?}"))?)
                }
            };
            let test = maybe_json(cmd)?;
            if matches!(&test, Command::Shell(s) if s.is_empty())
                || matches!(&test, Command::Exec(v) if v.is_empty())
            {
                return Err("Missing command after HEALTHCHECK CMD".into());
            }
            Ok(Instruction::Healthcheck(Healthcheck::Cmd {
                test,
                interval,
                timeout,
                start_period,
                start_interval,
                retries,
            }))
        }
        "" => Err("HEALTHCHECK requires at least one argument".into()),
        other => Err(format!("Unknown type {other:?} in HEALTHCHECK (try CMD)")),
    }
}

fn parse_copy(
    keyword: &str,
    rest: &str,
    heredocs: Vec<Heredoc>,
    flags: &mut Flags,
    escape: char,
) -> Result<Instruction, String> {
    let upper = keyword.to_ascii_uppercase();
    let is_add = keyword == "add";
    let mut copy = Copy {
        from: if is_add { None } else { flags.string("from")? },
        chown: flags.string("chown")?,
        chmod: flags.string("chmod")?,
        link: flags.bool("link")?,
        checksum: if is_add {
            flags.string("checksum")?
        } else {
            None
        },
        keep_git_dir: is_add && flags.bool("keep-git-dir")?,
        ..Copy::default()
    };
    let (words, json) = match json_array(rest) {
        Some(r) => (r?, true),
        None => (whitespace_words(rest), false),
    };
    if words.len() < 2 {
        return Err(format!(
            "{upper} requires at least two arguments, but only {} provided. Destination could not be determined",
            if words.is_empty() { "none was" } else { "one was" }
        ));
    }
    let (dest, srcs) = words.split_last().expect("two words");
    let mut bodies = heredocs.into_iter();
    let as_heredoc = |w: &str| {
        if json {
            Ok(None)
        } else {
            parse_heredoc_word(w, escape).map_err(|e| e.0)
        }
    };
    if as_heredoc(dest)?.is_some() {
        return Err(format!("{upper} cannot accept a heredoc as a destination"));
    }
    for src in srcs {
        if let Some(opener) = as_heredoc(src)? {
            // The lexer read the bodies in the order the openers appear.
            let body = bodies
                .by_ref()
                .find(|b| b.name == opener.name)
                .ok_or_else(|| format!("heredoc {} has no body", opener.name))?;
            copy.sources.push(Source::Heredoc(body));
        } else {
            copy.sources.push(Source::Path(src.clone()));
        }
    }
    copy.dest = dest.clone();
    Ok(if is_add {
        Instruction::Add(copy)
    } else {
        Instruction::Copy(copy)
    })
}

/// ENV and LABEL: `k=v k2="v 2"`, or the legacy `k v with spaces`. Values
/// stay as written (quotes included) until `Instruction::expand`.
fn name_values(rest: &str, what: &str, escape: char) -> Result<Vec<KeyValue>, String> {
    let words = split_words_raw(rest, escape);
    let Some(first) = words.first() else {
        return Err(format!("{what} names can not be blank"));
    };
    if !first.contains('=') {
        // Legacy form: the first word is the name, everything after is the value.
        let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let value = rest[name_end..].trim_start();
        if value.is_empty() {
            return Err(format!("{what} must have two arguments"));
        }
        return Ok(vec![KeyValue {
            key: rest[..name_end].to_string(),
            value: value.to_string(),
        }]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(format!("{what} names can not be blank")),
            Some((k, v)) => Ok(KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            }),
            None => Err(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            )),
        })
        .collect()
}

fn one_string(rest: &str, what: &str) -> Result<String, String> {
    if rest.is_empty() {
        return Err(format!("{what} requires exactly one argument"));
    }
    Ok(rest.to_string())
}

/// Docker splits these on blanks only; quotes are handled at expansion.
fn whitespace_words(rest: &str) -> Vec<String> {
    rest.split([' ', '\t', '\r', '\u{b}', '\u{c}'])
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// `Some` when `rest` is a JSON array: Ok with its strings, or Err when it is
/// valid JSON but holds something other than strings. `None`: not JSON.
fn json_array(rest: &str) -> Option<Result<Vec<String>, String>> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(rest).ok()?;
    let items = value.as_array()?;
    Some(
        items
            .iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                "when using JSON array syntax, arrays must be comprised of strings only".to_string()
            }),
    )
}

/// Exec form when the arguments are a JSON array of strings, else shell form
/// (Docker falls back to shell form for anything that is not valid JSON).
fn maybe_json(rest: &str) -> Result<Command, String> {
    match json_array(rest) {
        Some(r) => Ok(Command::Exec(r?)),
        None => Ok(Command::Shell(rest.to_string())),
    }
}

/// CMD/ENTRYPOINT with nothing after them clear the value: exec form, empty.
fn command_or_empty(rest: &str) -> Result<Command, String> {
    if rest.is_empty() {
        return Ok(Command::Exec(Vec::new()));
    }
    maybe_json(rest)
}

fn json_or_words(rest: &str) -> Result<Vec<String>, String> {
    match json_array(rest) {
        Some(r) => r,
        None => Ok(whitespace_words(rest)),
    }
}

/// Builder flags of one instruction: each lookup takes its flag out, and
/// `finish` rejects any left (an unknown flag). Docker's `BFlags`.
struct Flags {
    given: Vec<(String, Option<String>)>,
}

impl Flags {
    fn new(words: Vec<String>) -> Self {
        let given = words
            .into_iter()
            .map(|w| {
                let w = w.trim_start_matches('-').to_string();
                match w.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (w, None),
                }
            })
            .collect();
        Flags { given }
    }

    fn take(&mut self, name: &str) -> Vec<Option<String>> {
        let mut out = Vec::new();
        self.given.retain(|(n, v)| {
            if n == name {
                out.push(v.clone());
                false
            } else {
                true
            }
        });
        out
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, String> {
        let vals = self.take(name);
        if vals.len() > 1 {
            return Err(format!("duplicate flag specified: {name}"));
        }
        match vals.into_iter().next() {
            None => Ok(None),
            Some(None) => Err(format!("missing a value on flag: {name}")),
            Some(Some(v)) => Ok(Some(v)),
        }
    }

    fn strings(&mut self, name: &str) -> Result<Vec<String>, String> {
        self.take(name)
            .into_iter()
            .map(|v| v.ok_or_else(|| format!("missing a value on flag: {name}")))
            .collect()
    }

    fn bool(&mut self, name: &str) -> Result<bool, String> {
        let vals = self.take(name);
        if vals.len() > 1 {
            return Err(format!("duplicate flag specified: {name}"));
        }
        match vals.into_iter().next() {
            None => Ok(false),
            Some(None) => Ok(true),
            Some(Some(v)) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(Some(v)) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(Some(v)) => Err(format!("expecting boolean value for flag {name}, not: {v}")),
        }
    }

    fn clear(&mut self) {
        self.given.clear();
    }

    fn finish(&self) -> Result<(), String> {
        match self.given.first() {
            Some((n, _)) => Err(format!("unknown flag: {n}")),
            None => Ok(()),
        }
    }
}

/// Go's `time.ParseDuration`: `1h30m`, `1.5s`, `300ms`, `0`.
pub(crate) fn parse_go_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() || rest.starts_with('-') {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * nanos;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total as u64))
}
