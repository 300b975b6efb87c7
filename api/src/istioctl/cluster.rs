//! `istioctl cluster status|add|remove`: shows the members (roles, term, applied revision,
//! health) and adds or removes one.

use std::io::Write;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::client::Client;
use super::{table, Output};

/// Arguments of `istioctl cluster`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cluster subcommand.
    #[command(subcommand)]
    pub command: ClusterCommand,
}

/// `istioctl cluster …`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Members, roles, term, applied revision and health.
    Status {
        /// Output format (table or json).
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Add a member: `ID=RAFTADDR` (it must be running, started with the same id).
    Add {
        /// `ID=HOST:PORT`.
        member: String,
    },
    /// Remove a member by id.
    Remove {
        /// Member id.
        id: u64,
    },
}

/// Runs `istioctl cluster …`.
pub(super) async fn run(client: &Client, out: &mut impl Write, args: Args) -> Result<i32> {
    match args.command {
        ClusterCommand::Status { output } => {
            let st = client.cluster().await?;
            if output == Output::Json {
                writeln!(out, "{}", serde_json::to_string_pretty(&st)?)?;
            } else {
                write!(out, "{}", table::cluster(&st))?;
            }
        }
        ClusterCommand::Add { member } => {
            let (id, addr) = member
                .split_once('=')
                .context("member must be ID=HOST:PORT, e.g. 4=127.0.0.1:15041")?;
            let id: u64 =
                id.parse().with_context(|| format!("member id {id:?} is not a number"))?;
            client.add_member(id, addr).await?;
            writeln!(out, "member {id} added")?;
        }
        ClusterCommand::Remove { id } => {
            client.remove_member(id).await?;
            writeln!(out, "member {id} removed")?;
        }
    }
    Ok(0)
}
