//! `istioctl proxy-status [PROXY]`: every proxy connected over xDS to any member, per type
//! SYNCED / STALE / NACKED / NOT SENT and the revision it has applied; with a proxy id, that
//! proxy per type (tables rendered by the `proxy` module).

use std::io::Write;

use anyhow::{bail, Result};

use super::client::Client;
use super::{proxy, Output};

/// Arguments of `istioctl proxy-status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this proxy (its node id).
    pub proxy: Option<String>,
    /// Output format (table or json).
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

/// Runs `istioctl proxy-status`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { proxy, output } = args;
    let res = client.get_json("/v1/proxies", &[]).await?;
    let res = match &proxy {
        Some(id) => {
            let one = res["proxies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["id"] == id.as_str())
                .max_by_key(|p| p["connection"].as_u64())
                .cloned();
            match one {
                Some(p) => p,
                None => bail!("no proxy {id:?} is connected to any istiod member"),
            }
        }
        None => res,
    };
    if output == Output::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&res)?)?;
    } else if proxy.is_some() {
        write!(out, "{}", proxy::status_of(&res))?;
    } else {
        write!(out, "{}", proxy::status(&res))?;
    }
    Ok(0)
}
