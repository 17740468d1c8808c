//! `completion SHELL` and the hidden `__generate-docs DIR`: shell
//! completions (clap_complete) and a man page per command (clap_mangen,
//! with the examples, exit status and files sections it has no place for),
//! all from the same clap definitions the parser uses, so they cannot
//! drift from the flags.

use super::docs_prose;
use anyhow::{Context, Result};
use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl CompletionShell {
    fn generator(self) -> Shell {
        match self {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        }
    }
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// Output the completion to a file (`-` is stdout)
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Don't include descriptions in the completion output
    #[arg(long)]
    pub no_desc: bool,
    /// The shell: bash, zsh, fish or powershell
    pub shell: CompletionShell,
}

/// The command tree as clap sees it, every deferred subcommand built.
fn full_command() -> clap::Command {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Without the help texts (`--no-desc`): the shells then offer bare names.
fn without_descriptions(cmd: clap::Command) -> clap::Command {
    let cmd = cmd
        .about(None)
        .long_about(None)
        .mut_args(|a| a.help(None).long_help(None));
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    names
        .into_iter()
        .fold(cmd, |c, n| c.mut_subcommand(n, without_descriptions))
}

fn completion_script(shell: CompletionShell, descriptions: bool) -> Vec<u8> {
    let mut cmd = full_command();
    if !descriptions {
        cmd = without_descriptions(cmd);
    }
    let mut out = Vec::new();
    clap_complete::generate(shell.generator(), &mut cmd, "coracle", &mut out);
    out
}

pub fn completion(a: CompletionArgs) -> Result<()> {
    let script = completion_script(a.shell, !a.no_desc);
    match a.file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::write(&p, script).with_context(|| format!("writing {}", p.display()))
        }
        _ => super::output::print(&String::from_utf8_lossy(&script)),
    }
}

#[derive(Args, Debug)]
pub struct GenerateDocsArgs {
    /// Where to write man/man1/*.1 and completions/{bash,zsh,fish}/
    pub dir: PathBuf,
}

/// Write the man pages and the completion scripts under `a.dir`.
pub fn generate_docs(a: GenerateDocsArgs) -> Result<()> {
    let man = a.dir.join("man/man1");
    std::fs::create_dir_all(&man).with_context(|| format!("creating {}", man.display()))?;
    let mut pages = Vec::new();
    let root = full_command();
    let globals: Vec<String> = root
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| id != "help")
        .collect();
    write_pages(&root, None, &globals, &man, &mut pages)?;
    for (shell, sub, name) in [
        (CompletionShell::Bash, "bash", "coracle"),
        (CompletionShell::Zsh, "zsh", "_coracle"),
        (CompletionShell::Fish, "fish", "coracle.fish"),
    ] {
        let dir = a.dir.join("completions").join(sub);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join(name), completion_script(shell, true))
            .with_context(|| format!("writing {}", dir.join(name).display()))?;
    }
    super::output::println(&format!(
        "{} man pages, 3 completion scripts in {}",
        pages.len(),
        a.dir.display()
    ))
}

/// The page of `cmd`, then its subcommands' pages (hidden ones left out).
/// The global options are described once, on coracle(1).
fn write_pages(
    cmd: &clap::Command,
    parent: Option<&str>,
    globals: &[String],
    dir: &Path,
    written: &mut Vec<String>,
) -> Result<()> {
    let page = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let path = dir.join(format!("{page}.1"));
    let mut own = cmd.clone();
    if parent.is_some() {
        for id in globals {
            if own.get_arguments().any(|a| a.get_id() == id.as_str()) {
                own = own.mut_arg(id, |a| a.hide(true));
            }
        }
    }
    let mut f =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    render_page(&own, &page, parent, &mut f)
        .with_context(|| format!("writing {}", path.display()))?;
    written.push(page.clone());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, Some(&page), globals, dir, written)?;
    }
    Ok(())
}

fn render_page(
    cmd: &clap::Command,
    page: &str,
    parent: Option<&str>,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page.to_uppercase())
        .manual("coracle Manual")
        .source(format!("coracle {}", env!("CARGO_PKG_VERSION")));
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    if let Some(text) = docs_prose::description(page) {
        paragraphs(w, text)?;
    }
    if parent.is_some() {
        paragraphs(
            w,
            "The global options of coracle(1) (--root, --runroot, --log-level...) apply too.",
        )?;
    }
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(w)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(w)?;
    }
    let examples = docs_prose::examples(page);
    if !examples.is_empty() {
        writeln!(w, ".SH EXAMPLES")?;
        for (what, line) in examples {
            writeln!(
                w,
                ".PP\n{}\n.PP\n.RS 4\n.nf\n$ {}\n.fi\n.RE",
                roff(what),
                roff(line)
            )?;
        }
    }
    writeln!(w, ".SH \"EXIT STATUS\"")?;
    for (code, meaning) in docs_prose::exit_status(page) {
        writeln!(w, ".TP\n\\fB{code}\\fR\n{}", roff(meaning))?;
    }
    writeln!(w, ".SH FILES")?;
    for (file, meaning) in docs_prose::FILES {
        writeln!(w, ".TP\n\\fI{}\\fR\n{}", roff(file), roff(meaning))?;
    }
    writeln!(w, ".SH \"SEE ALSO\"")?;
    let mut see: Vec<String> = parent.into_iter().map(|p| format!("{p}(1)")).collect();
    see.extend(
        cmd.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!("{page}-{}(1)", s.get_name())),
    );
    if page != "coracle" && parent != Some("coracle") {
        see.push("coracle(1)".into());
    }
    see.push("podman(1)".into());
    writeln!(w, "{}", roff(&see.join(", ")))
}

fn paragraphs(w: &mut dyn Write, text: &str) -> std::io::Result<()> {
    for p in text.split("\n\n") {
        writeln!(w, ".PP\n{}", roff(p.trim()))?;
    }
    Ok(())
}

/// Text safe in roff: backslashes doubled, no line starting a request.
fn roff(text: &str) -> String {
    text.replace('\\', "\\e")
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace('-', "\\-")
}
