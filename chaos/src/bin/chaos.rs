//! `chaos`: runs fault-injection scenarios against a real istiod cluster and checks the
//! recorded history. `chaos run --scenario NAME|all --nodes 3 --duration 30s --seed S --out DIR`
//! exits 0 only when every checker passes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use istio_chaos::runner::{self, RunConfig};
use istio_chaos::scenario::Scenario;
use istio_chaos::workload::WorkloadConfig;

#[derive(Parser, Debug)]
#[command(name = "chaos", about = "Fault injection and history checking for istiod clusters")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run one scenario (or `all`, one after another) and check it.
    Run {
        /// Scenario name, or `all`.
        #[arg(long)]
        scenario: String,
        /// Founding members (3 or 5).
        #[arg(long, default_value_t = 3)]
        nodes: u64,
        /// Fault phase length, e.g. `30s`, `2m`.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        duration: Duration,
        /// Seed (the same seed gives the same fault schedule and client choices).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output directory (`report.json`, `history.json`, `timeline.html`).
        #[arg(long, default_value = "chaos-out")]
        out: PathBuf,
        /// Concurrent clients.
        #[arg(long, default_value_t = 16)]
        clients: u32,
        /// Keys under test.
        #[arg(long, default_value_t = 24)]
        keys: u32,
        /// Concurrent watch streams.
        #[arg(long, default_value_t = 3)]
        watchers: u32,
        /// The istiod binary (default: next to this one).
        #[arg(long)]
        istiod: Option<PathBuf>,
    },
    /// List the scenarios.
    List,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?} (e.g. 30s, 2m)"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "ms" => Ok(Duration::from_millis(n)),
        _ => Err(format!("bad duration unit in {s:?} (use ms, s or m)")),
    }
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    match Cli::parse().cmd {
        Cmd::List => {
            for s in Scenario::ALL {
                println!("{}", s.name());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run { scenario, nodes, duration, seed, out, clients, keys, watchers, istiod } => {
            let scenarios: Vec<Scenario> = if scenario == "all" {
                Scenario::ALL.to_vec()
            } else {
                let mut v = Vec::new();
                for name in scenario.split(',') {
                    match Scenario::parse(name) {
                        Some(s) => v.push(s),
                        None => bail!("unknown scenario {name:?}; `chaos list` shows them"),
                    }
                }
                v
            };
            let istiod = match istiod {
                Some(p) => p,
                None => istio_chaos::cluster::sibling_istiod()?,
            };
            let workload = WorkloadConfig { clients, keys, watchers, ..Default::default() };
            let mut all_passed = true;
            for s in scenarios {
                let dir = if scenario.contains(',') || scenario == "all" {
                    out.join(s.name())
                } else {
                    out.clone()
                };
                let cfg = RunConfig {
                    scenario: s,
                    nodes,
                    duration,
                    seed,
                    out: dir.clone(),
                    istiod: istiod.clone(),
                    workload: workload.clone(),
                };
                let report =
                    runner::run(&cfg).await.with_context(|| format!("scenario {}", s.name()))?;
                println!("{}", runner::summary(&report));
                for c in report.checks.iter().filter(|c| !c.passed) {
                    println!("  {}: {}", c.name, c.message);
                }
                println!("  report: {}", dir.join("report.json").display());
                all_passed &= report.passed;
            }
            Ok(if all_passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
