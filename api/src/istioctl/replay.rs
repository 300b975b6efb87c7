//! `istioctl replay --revision N [KIND [NAME]]`: every object (or one kind / object) as of a
//! past revision, as multi-document YAML headed by the state hash.

use std::io::Write;

use anyhow::{Context, Result};
use istio_planes_config::kinds::lookup_name;

use super::client::Client;
use super::state;

/// Arguments of `istioctl replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The revision.
    #[arg(long)]
    pub revision: u64,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this object.
    pub name: Option<String>,
    /// Only this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// Runs `istioctl replay`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { revision, kind, name, namespace } = args;
    let info = kind
        .as_deref()
        .map(|k| lookup_name(k).with_context(|| format!("unknown kind {k:?}")))
        .transpose()?;
    let state = state::at(client, revision).await?;
    let items = state::select(&state, info, namespace.as_deref(), name.as_deref());
    writeln!(
        out,
        "# state at revision {revision} (state hash {})",
        state["stateHash"].as_str().unwrap_or_default()
    )?;
    for it in &items {
        writeln!(out, "---")?;
        write!(out, "{}", serde_yaml::to_string(it)?)?;
    }
    Ok(0)
}
