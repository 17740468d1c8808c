//! podman's boolean flags take a value too (`--rm=false`, `-d=true`), as Go's
//! flag package allows; clap's `SetTrue` flags take none. A command line is
//! parsed as declared first, so help and usage keep their plain `--rm`; only
//! when that fails is it parsed again with every `SetTrue` flag of every verb
//! taking an optional `=true|false` (the flag alone still means true).

use clap::builder::BoolValueParser;
use clap::error::ErrorKind;
use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set for the second parse: lazily built subcommands read it when clap
/// builds them (see `lazy.rs`).
static VALUED: AtomicBool = AtomicBool::new(false);

/// Parse this process's command line into `T`, accepting `--flag=true|false`
/// for every boolean flag.
pub fn parse<T: CommandFactory + FromArgMatches>() -> Result<T, clap::Error> {
    parse_from::<T>(std::env::args_os().collect())
}

fn parse_from<T: CommandFactory + FromArgMatches>(
    argv: Vec<std::ffi::OsString>,
) -> Result<T, clap::Error> {
    let first = T::command()
        .try_get_matches_from(argv.iter())
        .and_then(|m| T::from_arg_matches(&m));
    match &first {
        Ok(_) => return first,
        Err(e) if is_display(e.kind()) => return first,
        Err(_) => {}
    }
    VALUED.store(true, Ordering::Relaxed);
    // The valued grammar accepts all the declared one does and more, so its
    // error (if any) names the real problem.
    valued(T::command())
        .try_get_matches_from(argv.iter())
        .and_then(|m| T::from_arg_matches(&m))
}

fn is_display(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    )
}

/// `cmd` as it stands, or with valued booleans during the second parse.
/// Called by every lazily built subcommand once it has its flags.
pub fn when_valued(cmd: Command) -> Command {
    if VALUED.load(Ordering::Relaxed) {
        valued(cmd)
    } else {
        cmd
    }
}

/// `cmd` and the subcommands it already holds with each `SetTrue` flag
/// taking an optional `=true|false`. Deferred subcommands come back through
/// [`when_valued`] when clap builds them.
fn valued(mut cmd: Command) -> Command {
    let flags: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|a| matches!(a.get_action(), ArgAction::SetTrue))
        .map(|a| a.get_id().clone())
        .collect();
    for id in flags {
        cmd = cmd.mut_arg(id, valued_flag);
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in subs {
        cmd = cmd.mut_subcommand(name, valued);
    }
    cmd
}

fn valued_flag(arg: Arg) -> Arg {
    let id = arg.get_id().clone();
    arg.action(ArgAction::Set)
        .num_args(0..=1)
        // `--rm false` stays a flag and a word, as in podman.
        .require_equals(true)
        .default_missing_value("true")
        .default_value("false")
        .value_name("true|false")
        .value_parser(BoolValueParser::new())
        // Given twice, the last one counts (SetTrue allowed repeats too).
        .overrides_with(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct T {
        #[arg(long)]
        rm: bool,
        #[arg(short, long)]
        detach: bool,
        #[arg(short)]
        interactive: bool,
        #[arg(long)]
        name: Option<String>,
        /// Before the image, `-d=true` is a flag (as in `run`).
        image: Option<String>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    }

    fn p(args: &[&str]) -> Result<T, clap::Error> {
        let mut argv = vec!["t".into()];
        argv.extend(args.iter().map(std::ffi::OsString::from));
        parse_from::<T>(argv)
    }

    #[test]
    fn values_and_repeats() {
        let t = p(&[
            "--rm=false",
            "-d=true",
            "img",
            "cmd",
            "--rm=true",
            "-d=false",
        ])
        .unwrap();
        assert!(!t.rm && t.detach, "{t:?}");
        assert_eq!(t.image.as_deref(), Some("img"));
        assert_eq!(t.rest, ["cmd", "--rm=true", "-d=false"]);
        let t = p(&["--rm", "--rm=false", "-id"]).unwrap();
        assert!(!t.rm && t.detach && t.interactive);
        let t = p(&["--rm=true", "--rm"]).unwrap();
        assert!(t.rm);
        assert_eq!(
            p(&["--rm=bogus"]).unwrap_err().kind(),
            ErrorKind::InvalidValue
        );
        assert!(p(&["--name=x", "--rm=false", "--bogus"]).is_err());
    }
}
