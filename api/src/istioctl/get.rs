//! `istioctl get KIND [NAME]`: lists or shows objects of a kind — now, or as of a past
//! revision (`--revision`) — as a table, YAML, JSON or names.

use std::io::Write;

use anyhow::{bail, Context, Result};
use istio_planes_config::{self as config, kinds::lookup_name};
use serde_json::Value;

use super::client::Client;
use super::{state, table, Output};

/// Arguments of `istioctl get`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kind: name, plural or short name (vs, dr, gw, se, …).
    pub kind: String,
    /// Object name.
    pub name: Option<String>,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// All namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
    /// Show the object(s) as of this past revision.
    #[arg(long)]
    pub revision: Option<u64>,
}

/// Runs `istioctl get`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { kind, name, namespace, all_namespaces, output, revision } = args;
    let info = lookup_name(&kind).with_context(|| {
        format!("unknown kind {kind:?}; known: {}", config::kinds::supported_list())
    })?;
    let ns = if all_namespaces { None } else { Some(namespace.as_str()) };
    let items = match (&name, revision) {
        (_, Some(rev)) => {
            let state = state::at(client, rev).await?;
            let items: Vec<Value> = state::select(&state, Some(info), ns, name.as_deref());
            if items.is_empty() {
                if let Some(n) = &name {
                    bail!("{} {namespace}/{n} did not exist at revision {rev}", info.kind);
                }
            }
            items
        }
        (Some(n), None) => vec![client.get(info, &namespace, n).await?],
        (None, None) => client.list(info, ns).await?,
    };
    match output {
        Output::Json if name.is_some() => {
            writeln!(out, "{}", serde_json::to_string_pretty(&items[0])?)?
        }
        Output::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "apiVersion": "v1", "kind": "List", "items": items
            }))?
        )?,
        Output::Yaml => {
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    writeln!(out, "---")?;
                }
                write!(out, "{}", serde_yaml::to_string(it)?)?;
            }
        }
        Output::Name => {
            for it in &items {
                writeln!(
                    out,
                    "{}.{}/{}",
                    info.singular(),
                    info.group,
                    it["metadata"]["name"].as_str().unwrap_or_default()
                )?;
            }
        }
        Output::Table => {
            if items.is_empty() {
                match ns {
                    Some(n) => eprintln!("No resources found in {n} namespace."),
                    None => eprintln!("No resources found."),
                }
            } else {
                write!(out, "{}", table::render(info, &items, all_namespaces))?;
            }
        }
    }
    Ok(0)
}
