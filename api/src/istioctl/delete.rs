//! `istioctl delete KIND NAME` or `istioctl delete -f …`: deletes objects one by one,
//! reporting each failure and exiting 1 when any failed.

use std::io::Write;

use anyhow::{bail, Result};
use istio_planes_config::kinds::lookup_name;

use super::client::Client;
use super::files;

/// Arguments of `istioctl delete`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kind (when not using -f).
    pub kind: Option<String>,
    /// Name (when not using -f).
    pub name: Option<String>,
    /// Delete the objects described in these files.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<String>,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
}

/// Runs `istioctl delete`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { kind, name, files, namespace } = args;
    let targets: Vec<(String, String, String)> = if !files.is_empty() {
        if kind.is_some() {
            bail!("give either KIND NAME or -f FILE, not both");
        }
        let docs = files::load(&files)?;
        let mut t = Vec::new();
        for d in &docs {
            let kind = d.value["kind"].as_str().unwrap_or_default().to_owned();
            let name = d.value["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let ns = d.value["metadata"]["namespace"].as_str().unwrap_or(&namespace).to_owned();
            t.push((kind, ns, name));
        }
        t
    } else {
        match (kind, name) {
            (Some(k), Some(n)) => vec![(k, namespace.clone(), n)],
            _ => bail!("give KIND NAME, or -f FILE"),
        }
    };
    let mut failed = 0;
    for (kind, ns, name) in targets {
        let Some(info) = lookup_name(&kind) else {
            eprintln!("error: unknown kind {kind:?}");
            failed += 1;
            continue;
        };
        match client.delete(info, &ns, &name).await {
            Ok(()) => writeln!(out, "{}.{}/{name} deleted", info.singular(), info.group)?,
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
