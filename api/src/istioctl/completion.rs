//! `istioctl completion SHELL`: prints a completion script for bash, zsh, fish, elvish or
//! PowerShell.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use super::Cli;

/// Arguments of `istioctl completion`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Shell.
    pub shell: clap_complete::Shell,
}

/// Runs `istioctl completion`.
pub(super) fn run(out: &mut impl Write, args: Args) -> Result<i32> {
    // clap_complete panics when its writer fails; render into memory, then write (so a reader
    // that goes away is an error like any other write's).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "istioctl", &mut script);
    out.write_all(&script)?;
    Ok(0)
}
