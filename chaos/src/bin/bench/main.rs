//! `bench`: load benchmarks against real istiod processes, printed as tables.
//!
//! - `bench xds` ([`xds`]): xDS push convergence and memory with simulated ADS clients;
//! - `bench store` ([`store`]): writes and reads per second and their latencies through the
//!   gRPC and HTTP APIs, optionally next to etcd ([`etcd`]) with the same workload.

mod etcd;
mod stats;
mod store;
mod xds;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "bench", about = "Load benchmarks against real istiod processes")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// xDS push convergence and memory with N simulated ADS clients.
    Xds(xds::XdsArgs),
    /// Store throughput and latency through the APIs, optionally against etcd.
    Store(store::StoreArgs),
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Xds(args) => xds::run(args).await,
        Cmd::Store(args) => store::run(args).await,
    }
}
