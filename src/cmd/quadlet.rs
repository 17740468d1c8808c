//! `quadlet --dryrun [--user]` (what podman's /usr/libexec/podman/quadlet
//! prints) and the systemd generator the binary is when called
//! `coracle-system-generator` or `coracle-user-generator`.

use crate::engine::quadlet as q;
use crate::error::SilentExit;
use anyhow::Result;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct QuadletArgs {
    /// Print the units that would be generated instead of writing them
    #[arg(long)]
    pub dryrun: bool,
    /// Generate units for the user's systemd (the user's directories)
    #[arg(long)]
    pub user: bool,
}

pub fn quadlet(a: QuadletArgs) -> Result<()> {
    if !a.dryrun {
        anyhow::bail!(
            "quadlet: nothing to do: use --dryrun to print the units the generator writes"
        );
    }
    let out = q::generate(a.user)?;
    print_units(&out);
    finish(&out, "Error: ")
}

/// Print each file's problem on its own line; a failed file fails the run
/// (the others were still generated).
fn finish(out: &q::Outcome, prefix: &str) -> Result<()> {
    for e in &out.errors {
        eprintln!("{prefix}{e}");
    }
    if out.errors.is_empty() {
        Ok(())
    } else {
        Err(SilentExit(125).into())
    }
}

/// The binary called by systemd as a generator: `NAME NORMAL-DIR
/// [EARLY-DIR LATE-DIR]` (units go to the normal directory, as podman's);
/// `--dryrun` prints instead. The name says which generator it is.
pub fn generator(program: &str, args: &[String]) -> i32 {
    let mut user = program.contains("user");
    let mut dryrun = false;
    let mut dirs = Vec::new();
    for a in args {
        match a.as_str() {
            "-dryrun" | "--dryrun" => dryrun = true,
            "-user" | "--user" => user = true,
            // podman's: verbose, and logging to the console instead of kmsg
            "-v" | "--v" | "-no-kmsg-log" | "--no-kmsg-log" => {}
            _ if a.starts_with('-') => {
                eprintln!("{program}: unknown option {a}");
                return 1;
            }
            _ => dirs.push(a.clone()),
        }
    }
    let result = match (dryrun, dirs.first()) {
        (true, _) => q::generate(user).inspect(print_units),
        (false, Some(dir)) => q::run_generator(Path::new(dir), user, program),
        (false, None) => {
            eprintln!("{program}: missing output directory argument");
            return 1;
        }
    };
    let done = result.and_then(|out| finish(&out, &format!("{program}: ")));
    match done {
        Ok(()) => 0,
        Err(e) => {
            if e.downcast_ref::<SilentExit>().is_none() {
                eprintln!("{program}: {e:#}");
            }
            1
        }
    }
}

/// podman's dry-run listing: each unit under a `---NAME---` line.
fn print_units(out: &q::Outcome) {
    for u in &out.units {
        println!("---{}---\n{}", u.filename, u.text);
    }
}
