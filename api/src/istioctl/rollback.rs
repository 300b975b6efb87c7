//! `istioctl rollback --to-revision N [KIND [NAME]]`: commits a new revision that restores
//! the state of an old one (admin), and prints what it changed.

use std::io::Write;

use anyhow::Result;

use super::client::Client;

/// Arguments of `istioctl rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The revision to restore.
    #[arg(long)]
    pub to_revision: u64,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this object (needs KIND).
    pub name: Option<String>,
    /// Only this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// Runs `istioctl rollback`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { to_revision, kind, name, namespace } = args;
    let mut body = serde_json::json!({"toRevision": to_revision});
    if let Some(k) = kind {
        body["kind"] = k.into();
    }
    if let Some(n) = name {
        body["name"] = n.into();
    }
    if let Some(n) = namespace {
        body["namespace"] = n.into();
    }
    let res = client.post_json("/v1/rollback", &body).await?;
    for o in res["objects"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "{} {}/{} {}",
            o["kind"].as_str().unwrap_or_default(),
            o["namespace"].as_str().unwrap_or_default(),
            o["name"].as_str().unwrap_or_default(),
            o["result"].as_str().unwrap_or_default()
        )?;
    }
    writeln!(out, "revision {} restores revision {to_revision}", res["revision"])?;
    Ok(0)
}
