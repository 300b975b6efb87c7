//! `istioctl`: apply, get, delete, validate (offline), audit and time travel, proxy-status and
//! proxy-config, cluster status/add/remove, completion.
//!
//! Talks to istiod's HTTP API (`--server`, env `ISTIOCTL_SERVER`) with an optional bearer token
//! (`--token`, env `ISTIOCTL_TOKEN`). Every failure exits non-zero with a message naming the
//! file, document index, kind, name and field path where they apply; a reader of standard
//! output that goes away (`istioctl get vs -o yaml | head -1`) ends istioctl quietly with 141,
//! as SIGPIPE would (see [`stdout`]).
//!
//! One module per subcommand holds its arguments (`Args`) and its `run`; this module parses,
//! dispatches and turns the outcome into an exit code.

pub mod apply;
pub mod audit;
mod client;
pub mod cluster;
pub mod completion;
pub mod delete;
mod diff;
pub mod diff_cmd;
pub mod export;
mod files;
pub mod get;
pub mod history;
mod proxy;
pub mod proxy_config;
pub mod proxy_status;
pub mod replay;
pub mod rollback;
mod state;
pub mod stdout;
mod table;
pub mod validate;

use std::io::Write;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use client::Client;

/// Command-line interface of `istioctl`.
#[derive(Debug, Parser)]
#[command(name = "istioctl", version, about = "Manage istio-rs configuration and clusters")]
pub struct Cli {
    /// istiod HTTP address.
    #[arg(long, global = true, env = "ISTIOCTL_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Bearer token.
    #[arg(long, global = true, env = "ISTIOCTL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// YAML documents.
    Yaml,
    /// JSON.
    Json,
    /// `kind.group/name` per line.
    Name,
}

/// Subcommands. Each variant's doc comment is its help text; its arguments live with its code.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply configuration files atomically (one revision for everything).
    Apply(apply::Args),
    /// List or show objects of a kind.
    Get(get::Args),
    /// Delete objects by kind and name, or every object in files.
    Delete(delete::Args),
    /// Validate configuration files offline, with istiod's validator.
    Validate(validate::Args),
    /// Every object (or one kind / object) as of a revision, as multi-document YAML.
    Replay(replay::Args),
    /// What changed between two revisions: a unified YAML diff per object.
    Diff(diff_cmd::Args),
    /// Commit a new revision that restores the state of an old one (admin).
    Rollback(rollback::Args),
    /// Save the retained log (checkpoint + events) for `istiod restore` (admin).
    Export(export::Args),
    /// The audit log: who changed what, when, from where.
    Audit(audit::Args),
    /// The life of one object: every retained event that touched it.
    History(history::Args),
    /// Every proxy connected over xDS (to any member): per type SYNCED / STALE / NACKED /
    /// NOT SENT, and the log revision it has applied. With a proxy id: that proxy per type.
    ProxyStatus(proxy_status::Args),
    /// What a proxy was last sent: clusters, listeners, routes or endpoints.
    ProxyConfig(proxy_config::Args),
    /// Inspect and change cluster membership.
    Cluster(cluster::Args),
    /// Print a shell completion script.
    Completion(completion::Args),
}

/// Runs istioctl; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) if stdout::reader_gone(&e) => stdout::EXIT_READER_GONE,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// Runs one subcommand, writing its output to standard output; returns the exit code.
async fn run(cli: Cli) -> Result<i32> {
    let client = Client::new(&cli.server, cli.token.as_deref())?;
    let mut out = stdout::Stdout::lock();
    let code = match cli.command {
        Command::Apply(args) => apply::run(&client, &mut out, args).await?,
        Command::Get(args) => get::run(&client, &mut out, args).await?,
        Command::Delete(args) => delete::run(&client, &mut out, args).await?,
        Command::Validate(args) => validate::run(&mut out, args)?,
        Command::Replay(args) => replay::run(&client, &mut out, args).await?,
        Command::Diff(args) => diff_cmd::run(&client, &mut out, args).await?,
        Command::Rollback(args) => rollback::run(&client, &mut out, args).await?,
        Command::Export(args) => export::run(&client, &mut out, args).await?,
        Command::Audit(args) => audit::run(&client, &mut out, args).await?,
        Command::History(args) => history::run(&client, &mut out, args).await?,
        Command::ProxyStatus(args) => proxy_status::run(&client, &mut out, args).await?,
        Command::ProxyConfig(args) => proxy_config::run(&client, &mut out, args).await?,
        Command::Cluster(args) => cluster::run(&client, &mut out, args).await?,
        Command::Completion(args) => completion::run(&mut out, args)?,
    };
    // What is still buffered is written now, so a failure to write it is reported too.
    out.flush()?;
    Ok(code)
}
