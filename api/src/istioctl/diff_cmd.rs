//! `istioctl diff --from N [--to M]`: what changed between two revisions, as one unified YAML
//! diff per changed object (rendered by the `diff` module; coloured on a terminal).

use std::io::Write;

use anyhow::Result;
use serde_json::Value;

use super::client::Client;
use super::diff;

/// Arguments of `istioctl diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Older revision.
    #[arg(long)]
    pub from: u64,
    /// Newer revision (default: now).
    #[arg(long)]
    pub to: Option<u64>,
    /// Only this kind.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Only objects with this name.
    #[arg(long)]
    pub name: Option<String>,
}

/// Runs `istioctl diff`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { from, to, kind, namespace, name } = args;
    let mut q = vec![("from", from.to_string())];
    q.extend(to.map(|t| ("to", t.to_string())));
    q.extend(kind.map(|k| ("kind", k)));
    q.extend(namespace.map(|n| ("namespace", n)));
    q.extend(name.map(|n| ("name", n)));
    let res = client.get_json("/v1/diff", &q).await?;
    let to = res["to"].as_u64().unwrap_or_default();
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    for c in res["changes"].as_array().into_iter().flatten() {
        let id = format!(
            "{}/{}/{}",
            c["kind"].as_str().unwrap_or_default(),
            c["namespace"].as_str().unwrap_or_default(),
            c["name"].as_str().unwrap_or_default()
        );
        let yaml = |v: &Value| {
            if v.is_null() {
                Ok(String::new())
            } else {
                serde_yaml::to_string(&strip_server_fields(v))
            }
        };
        let d = diff::unified(
            &yaml(&c["from"])?,
            &yaml(&c["to"])?,
            &format!("{id}@{from}"),
            &format!("{id}@{to}"),
            color,
        );
        write!(out, "{d}")?;
    }
    Ok(0)
}

/// The object without the metadata the server sets, so diffs show what people changed.
fn strip_server_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in ["resourceVersion", "generation", "uid", "creationTimestamp"] {
            m.remove(f);
        }
    }
    v
}
