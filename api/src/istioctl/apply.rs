//! `istioctl apply -f …`: validates the files offline, then applies every document in one
//! revision (`POST /v1/apply`, optionally as a dry run) and prints each object's result.

use std::io::Write;

use anyhow::{bail, Result};
use istio_planes_config as config;

use super::client::Client;
use super::files;

/// Arguments of `istioctl apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// File, directory (recursive) or `-` for stdin; repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<String>,
    /// Namespace for documents that do not name one.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Validate and report what would change, without writing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `istioctl apply`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { files, namespace, dry_run } = args;
    let docs = files::load(&files)?;
    let mut errors = files::validate(&docs);
    errors.extend(files::duplicates(&docs));
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        bail!("nothing applied: {} problem(s) found", errors.len());
    }
    let body = files::join(&docs)?;
    let res = client.apply(&body, &namespace, dry_run).await?;
    for o in res["objects"].as_array().into_iter().flatten() {
        let kind = o["kind"].as_str().unwrap_or_default();
        let group = config::KINDS.iter().find(|k| k.kind == kind).map_or("", |k| k.group);
        writeln!(
            out,
            "{}.{}/{} {}{}",
            kind.to_ascii_lowercase(),
            group,
            o["name"].as_str().unwrap_or_default(),
            o["result"].as_str().unwrap_or_default(),
            if dry_run { " (dry run)" } else { "" }
        )?;
    }
    writeln!(out, "revision {}", res["revision"])?;
    Ok(0)
}
