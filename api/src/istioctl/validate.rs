//! `istioctl validate -f …`: checks configuration files offline with istiod's own validator
//! and reports every problem (file, document index, kind, name and field path).

use std::io::Write;

use anyhow::{bail, Result};

use super::files;

/// Arguments of `istioctl validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// File, directory (recursive) or `-`; repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<String>,
}

/// Runs `istioctl validate`: no istiod needed.
pub(super) fn run(out: &mut impl Write, args: Args) -> Result<i32> {
    let docs = files::load(&args.files)?;
    let errors = files::validate(&docs);
    for (file, n) in files::count_by_file(&docs) {
        if !errors.iter().any(|e| e.starts_with(&format!("{file}:"))) {
            writeln!(out, "{file}: {n} document(s) valid")?;
        }
    }
    if errors.is_empty() {
        return Ok(0);
    }
    for e in &errors {
        eprintln!("{e}");
    }
    bail!("{} problem(s) found", errors.len());
}
