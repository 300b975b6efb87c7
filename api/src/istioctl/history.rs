//! `istioctl history KIND NAME`: the life of one object — every retained event that touched
//! it — as a table or JSON.

use std::io::Write;

use anyhow::{Context, Result};
use istio_planes_config::kinds::lookup_name;

use super::client::Client;
use super::{table, Output};

/// Arguments of `istioctl history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kind (vs, dr, VirtualService, …).
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Output format (table or json).
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

/// Runs `istioctl history`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { kind, name, namespace, output } = args;
    let info = lookup_name(&kind).with_context(|| format!("unknown kind {kind:?}"))?;
    let path = format!("/v1/history/{}/{}/{namespace}/{name}", info.group, info.plural);
    let res = client.get_json(&path, &[]).await?;
    if output == Output::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&res)?)?;
    } else if res["items"].as_array().is_none_or(Vec::is_empty) {
        eprintln!("no retained events for {} {namespace}/{name}", info.kind);
    } else {
        write!(out, "{}", table::history(&res))?;
    }
    Ok(0)
}
