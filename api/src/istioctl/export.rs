//! `istioctl export -o FILE`: saves the retained log (checkpoint + events) to a file that
//! `istiod restore` reads (admin).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::client::Client;

/// Arguments of `istioctl export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output file.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
}

/// Runs `istioctl export`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { output } = args;
    let bytes = client.get_bytes("/v1/export").await?;
    std::fs::write(&output, &bytes)
        .with_context(|| format!("cannot write {}", output.display()))?;
    writeln!(out, "wrote {} bytes to {}", bytes.len(), output.display())?;
    Ok(0)
}
