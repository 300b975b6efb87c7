//! `istioctl audit`: the audit log — who changed what, when, from where — filtered by
//! revision range, kind, namespace, name, actor and verb; `-f` keeps streaming new events.

use std::io::Write;

use anyhow::Result;

use super::client::Client;
use super::{table, Output};

/// Arguments of `istioctl audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// First revision.
    #[arg(long)]
    pub from: Option<u64>,
    /// Last revision.
    #[arg(long)]
    pub to: Option<u64>,
    /// Only changes to this kind.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only changes in this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Only changes to objects with this name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only events by this user.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only events with this verb (create, update, patch, delete, apply, …).
    #[arg(long)]
    pub verb: Option<String>,
    /// At most this many events.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Keep streaming new events.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Output format (table or json).
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

/// Runs `istioctl audit`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { from, to, kind, namespace, name, actor, verb, limit, follow, output } = args;
    let mut q: Vec<(&str, String)> = Vec::new();
    let nums = [("from", from), ("to", to), ("limit", limit)];
    q.extend(nums.into_iter().filter_map(|(k, v)| v.map(|v| (k, v.to_string()))));
    let strs = [
        ("kind", kind),
        ("namespace", namespace),
        ("name", name),
        ("actor", actor),
        ("verb", verb),
    ];
    q.extend(strs.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    if follow {
        q.push(("follow", "true".into()));
        if output != Output::Json {
            writeln!(out, "{}", table::audit_header())?;
        }
        // Each event is written (and flushed) as it arrives; a failed write ends the stream.
        client
            .stream_lines("/v1/audit", &q, |ev| {
                let line =
                    if output == Output::Json { ev.to_string() } else { table::audit_row(&ev) };
                writeln!(out, "{line}")?;
                out.flush()?;
                Ok(())
            })
            .await?;
        return Ok(0);
    }
    let res = client.get_json("/v1/audit", &q).await?;
    if output == Output::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&res)?)?;
    } else {
        write!(out, "{}", table::audit(&res))?;
    }
    Ok(0)
}
