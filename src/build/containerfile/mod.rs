//! Containerfile / Dockerfile syntax: text to typed instructions.
//!
//! [`parse`] gives a [`Containerfile`]: the `ARG`s before the first `FROM`
//! and the stages, each a `FROM` and its steps. Words are kept as written;
//! the builder expands them step by step with [`Instruction::expand`] and the
//! ARG/ENV scope in force at that step, because only it knows that scope.
//!
//! Which instructions expand variables (Docker's list): ADD, COPY, ENV,
//! EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and ARG (names and
//! defaults). RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and MAINTAINER do not:
//! the shell expands them when the command runs. ONBUILD does not either; its
//! trigger expands when a later build runs it. A `FROM` is expanded with the
//! meta ARGs (those before the first FROM) only; see [`Containerfile::meta_args`].

mod expand;
mod heredoc;
mod lexer;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub use expand::{
    expand, expand_heredoc, expand_with_escape, ExpandError, Lookup, MAX_SCOPE_BYTES,
};
pub use heredoc::Heredoc;
pub use parse::parse;

/// A parse failure: `file:line: message: offending text`, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    /// 1-based line where the offending instruction starts.
    pub line: usize,
    pub message: String,
    /// The instruction as written (continuations joined).
    pub text: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)?;
        let text = self.text.trim();
        if !text.is_empty() {
            // Keep the error on one line whatever the text holds.
            let one_line: String = text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            write!(f, ": {one_line}")?;
        }
        Ok(())
    }
}
impl std::error::Error for ParseError {}

/// A parsed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containerfile {
    /// The escape character (`\`, or `` ` `` from `# escape=`); pass it to
    /// [`Instruction::expand`].
    pub escape: char,
    /// `ARG`s before the first `FROM`: the only variables a `FROM` may use.
    pub args_before_from: Vec<Arg>,
    pub stages: Vec<Stage>,
}

/// One `FROM` and the steps after it, up to the next `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The `AS` name, lower-cased as Docker does.
    pub name: Option<String>,
    pub from: From,
    /// Line and text of the `FROM` itself.
    pub line: usize,
    pub text: String,
    pub instructions: Vec<Step>,
}

/// One instruction with where it came from. `text` is the instruction as
/// written (continuations joined, no heredoc bodies): what podman prints as
/// `STEP n/m: ...` and records as `created_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    pub text: String,
    pub instruction: Instruction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From(From),
    Run(Run),
    Cmd(Command),
    Entrypoint(Command),
    Env(Vec<KeyValue>),
    Arg(Vec<Arg>),
    Label(Vec<KeyValue>),
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    /// Always the JSON form.
    Shell(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    OnBuild(OnBuild),
    Maintainer(String),
    Copy(Copy),
    /// ADD shares COPY's fields; `from` is always None, `checksum` and
    /// `keep_git_dir` are ADD's only.
    Add(Copy),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// An image reference, `scratch`, or the name or index of an earlier
    /// stage (after expansion with the meta ARGs).
    pub image: String,
    pub alias: Option<String>,
    pub platform: Option<String>,
}

/// Shell form (run as `SHELL + [string]`) or exec form (a JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: Command,
    /// Each `--mount=` value as written, e.g. `type=cache,target=/root/.cache`.
    pub mounts: Vec<String>,
    /// `--network=default|none|host`.
    pub network: Option<String>,
    /// `--security=insecure|sandbox`.
    pub security: Option<String>,
    /// Heredoc bodies opened in `command` (shell form only).
    pub heredocs: Vec<Heredoc>,
}

/// What a RUN step executes, decided as Docker decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Exec form: run this argv as is.
    Exec(Vec<String>),
    /// Run with the stage's SHELL and this one argument
    /// (`/bin/sh -c <script>`). A command with heredocs (`python3 <<EOF`)
    /// arrives here as the whole line followed by the bodies and delimiters,
    /// so the shell feeds each body to the command's stdin.
    Shell(String),
    /// `RUN <<EOF` whose body starts with `#!`: write `content` to an
    /// executable file (mode 0755) and run that file with no shell.
    Script { name: String, content: String },
}

impl Run {
    /// The program to execute for this step (buildkit's `dispatchRun`).
    pub fn program(&self) -> Program {
        let line = match &self.command {
            Command::Exec(argv) => return Program::Exec(argv.clone()),
            Command::Shell(line) => line,
        };
        if self.heredocs.is_empty() {
            return Program::Shell(line.clone());
        }
        // The command is nothing but one heredoc: its body is the script.
        if self.heredocs.len() == 1 {
            let only = &self.heredocs[0];
            let word = line.trim();
            if heredoc::parse_heredoc_word(word, '\\')
                .ok()
                .flatten()
                .is_some_and(|h| h.name == only.name)
            {
                if only.content.starts_with("#!") {
                    return Program::Script {
                        name: only.name.clone(),
                        content: only.content.clone(),
                    };
                }
                return Program::Shell(only.content.clone());
            }
        }
        let mut script = line.clone();
        for doc in &self.heredocs {
            script.push('\n');
            script.push_str(&doc.content);
            script.push_str(&doc.name);
        }
        Program::Shell(script)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub name: String,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable any inherited check.
    None,
    Cmd {
        /// Exec form becomes `["CMD", ...]` in the image config, shell form
        /// `["CMD-SHELL", line]`.
        test: Command,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        retries: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnBuild {
    /// The trigger as written (`RUN echo hi`): what the image config stores.
    pub trigger: String,
    /// The trigger parsed, so errors show up at the ONBUILD line.
    pub instruction: Box<Instruction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copy {
    /// `--from=stage|index|image` (COPY only).
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// `--checksum=sha256:...` (ADD only, for URLs).
    pub checksum: Option<String>,
    /// `--keep-git-dir` (ADD only, for git URLs).
    pub keep_git_dir: bool,
    /// In the order written; heredocs and paths may be mixed.
    pub sources: Vec<Source>,
    pub dest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A context path (maybe with wildcards: see `build::glob`), a URL (ADD),
    /// or a path in the `--from` stage/image.
    Path(String),
    /// `COPY <<name /dst/`: a file called `name` holding the body.
    Heredoc(Heredoc),
}

impl Instruction {
    /// The instruction's keyword, upper case (`RUN`).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::From(_) => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Label(_) => "LABEL",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Volume(_) => "VOLUME",
            Instruction::User(_) => "USER",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Shell(_) => "SHELL",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::OnBuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
        }
    }

    /// Whether Docker substitutes variables in this instruction's words.
    pub fn expands_variables(&self) -> bool {
        !matches!(
            self,
            Instruction::Run(_)
                | Instruction::Cmd(_)
                | Instruction::Entrypoint(_)
                | Instruction::Shell(_)
                | Instruction::Healthcheck(_)
                | Instruction::OnBuild(_)
                | Instruction::Maintainer(_)
        )
    }

    /// The instruction with its variables substituted from `scope` (the ARGs
    /// and ENVs in force before it; ENV `a=1 b=$a` sees the old `a`, as in
    /// Docker). Instructions that do not expand come back unchanged.
    /// `escape` is [`Containerfile::escape`].
    pub fn expand(&self, escape: char, scope: Lookup) -> Result<Instruction, ExpandError> {
        let x = |w: &str| expand_with_escape(w, escape, scope);
        let xo = |w: &Option<String>| w.as_deref().map(x).transpose();
        let kvs = |kvs: &[KeyValue]| {
            kvs.iter()
                .map(|kv| {
                    Ok(KeyValue {
                        key: x(&kv.key)?,
                        value: x(&kv.value)?,
                    })
                })
                .collect::<Result<Vec<_>, ExpandError>>()
        };
        let all = |ws: &[String]| ws.iter().map(|w| x(w)).collect::<Result<Vec<_>, _>>();
        Ok(match self {
            Instruction::From(f) => Instruction::From(From {
                image: x(&f.image)?,
                alias: f.alias.clone(),
                platform: xo(&f.platform)?,
            }),
            Instruction::Env(v) => Instruction::Env(kvs(v)?),
            Instruction::Label(v) => Instruction::Label(kvs(v)?),
            Instruction::Arg(args) => Instruction::Arg(
                args.iter()
                    .map(|a| {
                        Ok(Arg {
                            name: x(&a.name)?,
                            default: xo(&a.default)?,
                        })
                    })
                    .collect::<Result<_, ExpandError>>()?,
            ),
            // A variable may hold several ports (`EXPOSE $PORTS`).
            Instruction::Expose(ports) => Instruction::Expose(
                all(ports)?
                    .iter()
                    .flat_map(|p| p.split_whitespace().map(String::from))
                    .collect(),
            ),
            Instruction::Volume(v) => Instruction::Volume(all(v)?),
            Instruction::User(u) => Instruction::User(x(u)?),
            Instruction::Workdir(w) => Instruction::Workdir(x(w)?),
            Instruction::StopSignal(s) => Instruction::StopSignal(x(s)?),
            Instruction::Copy(c) | Instruction::Add(c) => {
                let sources = c
                    .sources
                    .iter()
                    .map(|s| match s {
                        Source::Path(p) => Ok(Source::Path(x(p)?)),
                        Source::Heredoc(h) if h.expand => Ok(Source::Heredoc(Heredoc {
                            content: expand_heredoc(&h.content, escape, scope)?,
                            ..h.clone()
                        })),
                        Source::Heredoc(h) => Ok(Source::Heredoc(h.clone())),
                    })
                    .collect::<Result<_, ExpandError>>()?;
                let c = Copy {
                    from: xo(&c.from)?,
                    chown: xo(&c.chown)?,
                    chmod: xo(&c.chmod)?,
                    link: c.link,
                    checksum: xo(&c.checksum)?,
                    keep_git_dir: c.keep_git_dir,
                    sources,
                    dest: x(&c.dest)?,
                };
                match self {
                    Instruction::Copy(_) => Instruction::Copy(c),
                    _ => Instruction::Add(c),
                }
            }
            other => other.clone(),
        })
    }
}

/// A failure to pick the stages for a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageError(pub String);

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for StageError {}

/// What a `FROM` or a `COPY --from` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    Image(String),
}

impl Containerfile {
    /// The meta ARGs' values: each `ARG` before the first FROM takes its
    /// `--build-arg` value when given, else its default expanded with the
    /// meta ARGs before it; an ARG with neither stays unset.
    pub fn meta_args(&self, build_args: Lookup) -> Result<BTreeMap<String, String>, ExpandError> {
        let mut scope = BTreeMap::new();
        for arg in &self.args_before_from {
            let value = match build_args(&arg.name) {
                Some(v) => Some(v),
                None => match &arg.default {
                    Some(d) => Some(expand_with_escape(d, self.escape, &|n: &str| {
                        scope.get(n).cloned()
                    })?),
                    None => None,
                },
            };
            if let Some(v) = value {
                scope.insert(arg.name.clone(), v);
            }
            let size: usize = scope.iter().map(|(k, v)| k.len() + v.len()).sum();
            if size > MAX_SCOPE_BYTES {
                return Err(ExpandError(format!(
                    "the build arguments exceed {} MiB together",
                    MAX_SCOPE_BYTES >> 20
                )));
            }
        }
        Ok(scope)
    }

    /// The index of a stage named `name` (case-insensitive) or numbered so.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        if let Ok(i) = name.parse::<usize>() {
            return (i < self.stages.len()).then_some(i);
        }
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// What stage `index`'s FROM names once expanded with the meta ARGs:
    /// `scratch`, an earlier stage, or an image.
    pub fn resolve_from(
        &self,
        index: usize,
        meta: &BTreeMap<String, String>,
    ) -> Result<BaseRef, StageError> {
        let stage = &self.stages[index];
        let image = expand_with_escape(&stage.from.image, self.escape, &|n: &str| {
            meta.get(n).cloned()
        })
        .map_err(|e| StageError(format!("{}: {e}", stage.text)))?;
        if image.is_empty() {
            return Err(StageError(format!(
                "{}: base name should not be blank",
                stage.text
            )));
        }
        if image.eq_ignore_ascii_case("scratch") {
            return Ok(BaseRef::Scratch);
        }
        Ok(self
            .earlier_stage(index, &image)
            .map_or(BaseRef::Image(image), BaseRef::Stage))
    }

    /// What a `COPY --from=value` (or `RUN --mount=from=value`) in stage
    /// `index` refers to: an earlier stage by name or number, else an image.
    pub fn resolve_copy_from(&self, index: usize, value: &str) -> Result<BaseRef, StageError> {
        if let Ok(n) = value.parse::<usize>() {
            if n >= index {
                return Err(StageError(format!(
                    "invalid from flag value {value}: refers to current or future build stage"
                )));
            }
            return Ok(BaseRef::Stage(n));
        }
        if value.eq_ignore_ascii_case("scratch") {
            return Ok(BaseRef::Scratch);
        }
        Ok(self
            .earlier_stage(index, value)
            .map_or(BaseRef::Image(value.to_string()), BaseRef::Stage))
    }

    fn earlier_stage(&self, index: usize, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages[..index]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// The stages a build of `target` (a stage name; None: the last stage)
    /// needs, as indices in file order: the target and, transitively, the
    /// stages it uses through `FROM`, `COPY --from` and `RUN --mount=from=`.
    /// `COPY --from` values are expanded with the meta ARGs here; the builder
    /// expands them again with the stage's scope when it runs the step.
    pub fn stages_for_target(
        &self,
        target: Option<&str>,
        build_args: Lookup,
    ) -> Result<Vec<usize>, StageError> {
        if self.stages.is_empty() {
            return Err(StageError("no build stages".into()));
        }
        let target = match target {
            None => self.stages.len() - 1,
            Some(t) => {
                let lower = t.to_ascii_lowercase();
                self.stages
                    .iter()
                    .position(|s| s.name.as_deref() == Some(lower.as_str()))
                    .ok_or_else(|| StageError(format!("target stage \"{t}\" could not be found")))?
            }
        };
        let meta = self
            .meta_args(build_args)
            .map_err(|e| StageError(e.to_string()))?;
        let mut needed = vec![false; self.stages.len()];
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if std::mem::replace(&mut needed[i], true) {
                continue;
            }
            todo.extend(self.stage_needs(i, &meta, false)?);
        }
        Ok((0..self.stages.len()).filter(|i| needed[*i]).collect())
    }

    /// The earlier stages stage `i` uses (its FROM, its `--from`s). With
    /// `strict`, a `--from` that names a variable the meta ARGs do not set
    /// (a stage's own ARG may) counts as needing every earlier stage.
    pub fn stage_needs(
        &self,
        i: usize,
        meta: &BTreeMap<String, String>,
        strict: bool,
    ) -> Result<Vec<usize>, StageError> {
        let mut out = Vec::new();
        if let BaseRef::Stage(s) = self.resolve_from(i, meta)? {
            out.push(s);
        }
        for step in &self.stages[i].instructions {
            for from in step_references(&step.instruction) {
                if strict && from.contains('$') {
                    let known =
                        expand_with_escape(&from, self.escape, &|n: &str| meta.get(n).cloned());
                    if known.is_err()
                        || from.split('$').skip(1).any(|v| {
                            let name: String = v
                                .trim_start_matches('{')
                                .chars()
                                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                                .collect();
                            !meta.contains_key(&name)
                        })
                    {
                        out.extend(0..i);
                        continue;
                    }
                }
                let from = expand_with_escape(&from, self.escape, &|n: &str| meta.get(n).cloned())
                    .unwrap_or(from);
                let r = self
                    .resolve_copy_from(i, &from)
                    .map_err(|e| StageError(format!("line {}: {e}", step.line)))?;
                if let BaseRef::Stage(s) = r {
                    out.push(s);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// The `--from` values a step refers to.
fn step_references(ins: &Instruction) -> Vec<String> {
    match ins {
        Instruction::Copy(c) => c.from.iter().cloned().collect(),
        Instruction::Run(r) => r
            .mounts
            .iter()
            .filter_map(|m| {
                m.split(',')
                    .find_map(|kv| kv.trim().strip_prefix("from="))
                    .map(String::from)
            })
            .collect(),
        _ => Vec::new(),
    }
}
