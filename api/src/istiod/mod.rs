//! The `istiod` process: flags (DESIGN §4), start-up, cluster formation (`--peers`) or
//! joining (`--join`), the Raft, gRPC and HTTP servers, and the SIGTERM drain.
//!
//! Start-up is two steps so tests and embedders can run istiod in-process: [`bind`] checks the
//! flags, binds every listener (port 0 = any free port), opens the store and forms or joins
//! the cluster, returning a [`Bound`] whose addresses are known; [`Bound::serve_until`] serves
//! until a shutdown future completes, then drains. The binary's [`run`] is the two with
//! SIGTERM/SIGINT as the shutdown.

mod args;
mod join;
mod serve;

pub use args::{parse_duration, parse_duration_or_zero, parse_peers, Args, Maintenance};
pub use serve::{bind, Bound};

use anyhow::Context;
use clap::Parser;

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,openraft=warn,sled=warn,h2=warn,tower=warn,hyper=warn".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

/// Entry point of the `istiod` binary.
pub fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_tracing(&args.log_format);
    if let Some(Maintenance::Restore { from, data_dir }) = &args.command {
        let mut f =
            std::fs::File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
        let records = istio_store::export::read_all(&mut f)
            .with_context(|| format!("{} is not a usable export", from.display()))?;
        let st = istio_store::export::restore(&records, data_dir)?;
        println!(
            "restored revision {} (compaction point {}, state hash {}) into {}",
            st.revision,
            st.compact_revision,
            st.state_hash,
            data_dir.display()
        );
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(args))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! { _ = t.recv() => {}, _ = i.recv() => {} }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Runs istiod until SIGTERM/SIGINT, then drains and returns.
pub async fn run(args: Args) -> anyhow::Result<()> {
    bind(args).await?.serve_until(shutdown_signal()).await
}
