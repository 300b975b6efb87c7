//! `istioctl proxy-config WHAT PROXY`: what a proxy was last sent — clusters, listeners,
//! routes, endpoints or all — as tables (rendered by the `proxy` module) or Envoy's JSON.

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use serde_json::Value;

use super::client::Client;
use super::{proxy, Output};

/// Arguments of `istioctl proxy-config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which resources.
    #[arg(value_enum)]
    pub what: ProxyConfigKind,
    /// The proxy's node id.
    pub proxy: String,
    /// Output format (table, or json: Envoy's proto3 JSON).
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
}

/// What `istioctl proxy-config` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProxyConfigKind {
    /// CDS.
    #[value(alias = "clusters")]
    Cluster,
    /// LDS.
    #[value(alias = "listeners")]
    Listener,
    /// RDS.
    #[value(alias = "routes")]
    Route,
    /// EDS.
    #[value(alias = "endpoints")]
    Endpoint,
    /// Everything.
    All,
}

/// Runs `istioctl proxy-config`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    let Args { what, proxy: id, output } = args;
    let cfg = client.get_json(&format!("/v1/proxies/{id}/config"), &[]).await?;
    let short = |k: &str| cfg["types"][k]["resources"].clone();
    if output == Output::Json {
        let v = match what {
            ProxyConfigKind::Cluster => short("cds"),
            ProxyConfigKind::Listener => short("lds"),
            ProxyConfigKind::Route => short("rds"),
            ProxyConfigKind::Endpoint => short("eds"),
            ProxyConfigKind::All => cfg.clone(),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(0);
    }
    type Render = fn(&Value) -> String;
    let tables: &[(&str, Render)] = match what {
        ProxyConfigKind::Cluster => &[("", proxy::clusters)],
        ProxyConfigKind::Listener => &[("", proxy::listeners)],
        ProxyConfigKind::Route => &[("", proxy::routes)],
        ProxyConfigKind::Endpoint => &[("", proxy::endpoints)],
        ProxyConfigKind::All => &[
            ("CLUSTERS", proxy::clusters),
            ("LISTENERS", proxy::listeners),
            ("ROUTES", proxy::routes),
            ("ENDPOINTS", proxy::endpoints),
        ],
    };
    for (i, (title, render)) in tables.iter().enumerate() {
        if !title.is_empty() {
            writeln!(out, "{}{title}", if i > 0 { "\n" } else { "" })?;
        }
        write!(out, "{}", render(&cfg))?;
    }
    Ok(0)
}
