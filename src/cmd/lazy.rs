//! Subcommands whose arguments clap builds only when they are invoked.
//!
//! The derive builds every subcommand's arguments (hundreds of `Arg`s) on
//! every start, a good part of a short command's time and heap. Wrapped in
//! these, a subcommand keeps its name and summary for the help listing and
//! builds the rest through `Command::defer` when clap reaches it (parsing,
//! help, or a full `Command::build`).

use clap::{ArgMatches, Args, Command, FromArgMatches, Subcommand};

/// Run the deferred part, keeping the summary the derive set afterwards
/// (a flattened struct's doc comment would otherwise replace it).
fn keeping_summary(cmd: Command, augment: fn(Command) -> Command) -> Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let cmd = super::bool_flags::when_valued(augment(shadowing_globals(cmd, augment)));
    let cmd = match about {
        Some(a) => cmd.about(a),
        None => cmd.about(None),
    };
    match long_about {
        Some(a) => cmd.long_about(a),
        None => cmd.long_about(None),
    }
}

/// A verb's own flag named as a global option (`commit --config FILE`,
/// podman's verbs shadow its globals so) takes that name in the verb: the
/// global clap already copied into the deferred verb steps aside, under a
/// hidden name no one types. (A verb built eagerly never gets the copy.)
fn shadowing_globals(mut cmd: Command, augment: fn(Command) -> Command) -> Command {
    let own = augment(Command::new("probe"));
    for arg in own.get_arguments() {
        let id = arg.get_id().as_str().to_string();
        if cmd
            .get_arguments()
            .any(|a| a.get_id() == id.as_str() && a.is_global_set())
        {
            // clap takes static names; a few bytes, once per invocation
            let aside: &'static str = Box::leak(format!("shadowed-global-{id}").into_boxed_str());
            cmd = cmd.mut_arg(id.as_str(), |a| {
                a.id(aside).long(aside).global(false).hide(true)
            });
        }
    }
    cmd
}

/// A subcommand's flags, built on first use.
#[derive(Debug)]
pub struct Lazy<T>(pub T);

impl<T: Args> Args for Lazy<T> {
    fn augment_args(cmd: Command) -> Command {
        cmd.defer(|c| keeping_summary(c, T::augment_args))
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        cmd.defer(|c| keeping_summary(c, T::augment_args_for_update))
    }
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

impl<T: FromArgMatches> FromArgMatches for Lazy<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Lazy)
    }
    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(Lazy)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
    fn update_from_arg_matches_mut(&mut self, m: &mut ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
}

/// A group of subcommands (`image ...`, `pod ...`), built on first use.
#[derive(Debug)]
pub struct LazyGroup<T>(pub T);

impl<T: Subcommand> Subcommand for LazyGroup<T> {
    fn augment_subcommands(cmd: Command) -> Command {
        cmd.defer(|c| keeping_summary(c, T::augment_subcommands))
    }
    fn augment_subcommands_for_update(cmd: Command) -> Command {
        cmd.defer(|c| keeping_summary(c, T::augment_subcommands_for_update))
    }
    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

impl<T: FromArgMatches> FromArgMatches for LazyGroup<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(LazyGroup)
    }
    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(LazyGroup)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
    fn update_from_arg_matches_mut(&mut self, m: &mut ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
}
