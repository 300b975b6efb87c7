//! The `istiod` process: flags (DESIGN §4), start-up, cluster formation (`--peers`) or
//! joining (`--join`), the Raft and HTTP servers, and the SIGTERM drain.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use istio_store::{NodeId, StoreConfig, StoreNode};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::Authenticator;
use crate::http::{router, AppState};

/// Command-line flags of `istiod`.
#[derive(Debug, Parser)]
#[command(
    name = "istiod",
    version,
    about = "istio-rs control plane: one member of the replicated event log"
)]
pub struct Args {
    /// This member's id (> 0, unique in the cluster).
    #[arg(long, default_value_t = 1)]
    pub id: NodeId,
    /// Data directory (created if missing); restart with the same one to resume.
    #[arg(long, default_value = "./istiod-data")]
    pub data_dir: PathBuf,
    /// HTTP API listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// gRPC listen address (config, xDS, CA services; reported in cluster status).
    #[arg(long, default_value = "127.0.0.1:15010")]
    pub grpc: SocketAddr,
    /// Raft peer listen address (cluster members only).
    #[arg(long, default_value = "127.0.0.1:15011")]
    pub raft: SocketAddr,
    /// Static cluster: `1=127.0.0.1:15011,2=…` (every founding member gets the same list).
    #[arg(long, value_parser = parse_peers, conflicts_with = "join")]
    pub peers: Option<BTreeMap<NodeId, SocketAddr>>,
    /// Dial these members at these addresses instead of the Raft address the cluster
    /// advertises for them: `2=127.0.0.1:25011,3=…` (NAT; chaos runs put a fault proxy on each
    /// link this way).
    #[arg(long, value_parser = parse_peers)]
    pub peer_dial: Option<BTreeMap<NodeId, SocketAddr>>,
    /// xDS push debounce: changes within this window become one push.
    #[arg(long, default_value_t = 100)]
    pub xds_debounce_ms: u64,
    /// How long an auto-registered WorkloadEntry outlives its proxy's disconnection before it
    /// is deleted (Istio's PILOT_WORKLOAD_ENTRY_GRACE_PERIOD).
    #[arg(long, default_value_t = 10_000)]
    pub workload_entry_grace_ms: u64,
    /// Join an existing cluster through any member's HTTP address, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    pub join: Option<String>,
    /// Bearer tokens: a file of `token,user,role` lines (roles viewer, editor, admin). Without
    /// it every client is admitted as `anonymous` with role admin (loopback dev mode only).
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Bearer token (admin) this member presents when it asks to `--join`.
    #[arg(long, env = "ISTIOD_JOIN_TOKEN", hide_env_values = true)]
    pub join_token: Option<String>,
    /// Build a Raft snapshot (and purge the log behind it) every this many entries.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_logs: u64,
    /// Log entries kept behind a snapshot so lagging followers can catch up without one.
    #[arg(long, default_value_t = 1_000)]
    pub snapshot_keep_logs: u64,
    /// Events retained in the event log before compaction.
    #[arg(long, default_value_t = 100_000)]
    pub retain_revisions: u64,
    /// Also retain events younger than this (e.g. `24h`, `30m`, `7d`): an event is kept while it
    /// is among the last `--retain-revisions` or younger than `--retain-for`.
    #[arg(long, value_parser = parse_duration)]
    pub retain_for: Option<Duration>,
    /// Raft heartbeat interval in ms.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Raft election timeout (minimum) in ms; the maximum is twice this.
    #[arg(long, default_value_t = 300)]
    pub election_timeout_ms: u64,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Maintenance commands (instead of serving).
    #[command(subcommand)]
    pub command: Option<Maintenance>,
}

/// `istiod <command>`: offline maintenance of a data directory.
#[derive(Debug, clap::Subcommand)]
pub enum Maintenance {
    /// Seed a NEW data directory from an export (`istioctl export`, `GET /v1/export`). Restore
    /// every founding member of the new cluster from the same file, then start them with
    /// `--peers` (or one member alone).
    Restore {
        /// The export file.
        #[arg(long)]
        from: PathBuf,
        /// The data directory to create.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

fn parse_peers(s: &str) -> Result<BTreeMap<NodeId, SocketAddr>, String> {
    let mut out = BTreeMap::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not ID=HOST:PORT (e.g. 1=127.0.0.1:15011)"))?;
        let id: NodeId =
            id.trim().parse().map_err(|_| format!("peer id {id:?} is not a number"))?;
        if id == 0 {
            return Err("peer ids start at 1".into());
        }
        let addr: SocketAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("peer address {addr:?} is not HOST:PORT with a numeric IP"))?;
        if out.insert(id, addr).is_some() {
            return Err(format!("peer id {id} appears twice"));
        }
    }
    if out.is_empty() {
        return Err("no peers given".into());
    }
    Ok(out)
}

/// `90s`, `30m`, `24h`, `7d`, or sums like `1h30m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("{s:?}: unknown unit {c:?}; use s, m, h or d (e.g. 24h)")),
        };
        let n: u64 = num.parse().map_err(|_| format!("{s:?}: expected a number before {c:?}"))?;
        total += n * unit;
        num.clear();
    }
    if !num.is_empty() || total == 0 {
        return Err(format!("{s:?} is not a positive duration like 90s, 30m, 24h or 7d"));
    }
    Ok(Duration::from_secs(total))
}

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
    if args.id == 0 {
        bail!("--id must be > 0");
    }
    for (flag, addr) in [("--http", args.http), ("--grpc", args.grpc), ("--raft", args.raft)] {
        if !addr.ip().is_loopback() {
            bail!(
                "{flag} {addr} is not a loopback address; non-loopback listeners require TLS, \
                 which this build does not offer yet — bind 127.0.0.1"
            );
        }
    }
    if let Some(peers) = &args.peers {
        match peers.get(&args.id) {
            None => bail!("--peers does not include this member's --id {}", args.id),
            Some(a) if *a != args.raft => {
                bail!(
                    "--peers gives member {} the address {a}, but --raft is {}",
                    args.id,
                    args.raft
                )
            }
            _ => {}
        }
    }
    let raft_listener = TcpListener::bind(args.raft)
        .await
        .with_context(|| format!("cannot listen on --raft {}", args.raft))?;
    let grpc_listener = TcpListener::bind(args.grpc)
        .await
        .with_context(|| format!("cannot listen on --grpc {}", args.grpc))?;
    let http_listener = TcpListener::bind(args.http)
        .await
        .with_context(|| format!("cannot listen on --http {}", args.http))?;

    let cfg = StoreConfig {
        raft_addr: args.raft.to_string(),
        http_addr: args.http.to_string(),
        grpc_addr: args.grpc.to_string(),
        snapshot_logs: args.snapshot_logs,
        snapshot_keep_logs: args.snapshot_keep_logs,
        retain_revisions: args.retain_revisions,
        retain_for: args.retain_for,
        heartbeat: Duration::from_millis(args.heartbeat_ms),
        election_timeout: Duration::from_millis(args.election_timeout_ms),
        peer_dial: args.peer_dial.iter().flatten().map(|(id, a)| (*id, a.to_string())).collect(),
        ..StoreConfig::new(args.id, &args.data_dir)
    };
    let node = StoreNode::open(cfg)
        .await
        .with_context(|| format!("cannot open the store in {}", args.data_dir.display()))?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let raft_server =
        serve_grpc(raft_listener, grpc_server().add_service(node.raft_service()), stop_rx.clone());

    let initialized = node.is_initialized().await?;
    match (&args.peers, &args.join) {
        (Some(peers), _) => {
            let members = peers.iter().map(|(id, a)| (*id, a.to_string())).collect();
            node.initialize(members).await?;
        }
        (None, Some(url)) if !initialized => {
            let url = url.trim_end_matches('/').to_owned();
            tokio::spawn(join(node.clone(), url, args.join_token.clone()));
        }
        (None, Some(_)) => tracing::info!("already a member; ignoring --join"),
        (None, None) => {
            node.initialize(BTreeMap::from([(args.id, args.raft.to_string())])).await?;
        }
    }

    let auth = match &args.tokens {
        Some(path) => Arc::new(Authenticator::from_file(path)?),
        None => Arc::new(Authenticator::Anonymous),
    };
    let dev_mode = matches!(*auth, Authenticator::Anonymous);
    let state = Arc::new(AppState::new(node.clone(), stop_rx.clone()));
    // Pilot: the registry view, translated to xDS and served over ADS on the gRPC port.
    let snapshots = istio_planes_pilot::spawn_snapshots(
        node.state().clone(),
        Duration::from_millis(args.xds_debounce_ms),
        state.pilot.clone(),
    );
    let ads = envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryServiceServer::new(
        istio_planes_pilot::ads::Ads::new(snapshots, state.pilot.clone()).with_autoregistration(
            istio_planes_pilot::autoreg::AutoRegistry::spawn(
                node.clone(),
                Duration::from_millis(args.workload_entry_grace_ms),
            ),
        ),
    );
    let grpc_server = serve_grpc(
        grpc_listener,
        grpc_server()
            .add_service(crate::grpc::service(state.clone(), auth.clone()))
            .add_service(ads),
        stop_rx.clone(),
    );
    let app = router(state, auth);
    let mut http_stop = stop_rx.clone();
    let http_server = tokio::spawn(async move {
        axum::serve(http_listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .tcp_nodelay(true)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(
        id = args.id,
        http = %args.http,
        grpc = %args.grpc,
        raft = %args.raft,
        data_dir = %args.data_dir.display(),
        "istiod serving"
    );
    if dev_mode {
        tracing::warn!(
            "dev mode: no --tokens file, so every client is admitted as user 'anonymous' with \
             role admin (listeners are loopback-only)"
        );
    }

    shutdown_signal().await;
    tracing::info!("signal received; draining");
    let _ = stop_tx.send(true);
    if tokio::time::timeout(Duration::from_secs(5), http_server).await.is_err() {
        tracing::warn!("HTTP connections still open after 5s; closing them");
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), grpc_server).await;
    node.shutdown().await?;
    let _ = tokio::time::timeout(Duration::from_secs(2), raft_server).await;
    tracing::info!("stopped");
    Ok(())
}

/// A tonic server builder for every istiod gRPC listener.
fn grpc_server() -> tonic::transport::Server {
    tonic::transport::Server::builder()
}

/// Serves `router`'s services on `listener` until `stop` turns true. Accepted sockets get
/// `TCP_NODELAY`: with Nagle on, a small response written while the peer's delayed ACK is
/// pending waits ~40 ms (the builder's `tcp_nodelay` only reaches listeners tonic binds itself,
/// not one handed in, so it is set here).
fn serve_grpc(
    listener: TcpListener,
    router: tonic::transport::server::Router,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<(), tonic::transport::Error>> {
    tokio::spawn(async move {
        use tokio_stream::StreamExt;
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener)
            .map(|s| s.and_then(|s| s.set_nodelay(true).map(|()| s)));
        router
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    })
}

/// Asks the cluster at `url` to add this member, until it is one.
async fn join(node: Arc<StoreNode>, url: String, token: Option<String>) {
    let cfg = node.config().clone();
    let client = reqwest::Client::new();
    let body = serde_json::json!({"id": cfg.id, "raftAddress": cfg.raft_addr});
    let mut delay = Duration::from_millis(200);
    loop {
        let member = node
            .raft()
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == cfg.id);
        if member {
            tracing::info!("joined the cluster as a voter");
            return;
        }
        tracing::info!(%url, "asking to join the cluster");
        let mut req = client.post(format!("{url}/v1/cluster/members")).json(&body);
        if let Some(t) = &token {
            req = req.bearer_auth(t);
        }
        let res = req.timeout(Duration::from_secs(120)).send().await;
        match res {
            Ok(r) if r.status().is_success() => {
                tracing::info!("join accepted");
                return;
            }
            Ok(r) => {
                let code = r.status();
                let text = r.text().await.unwrap_or_default();
                tracing::warn!(%code, body = %text, "join refused; retrying");
            }
            Err(e) => tracing::warn!(error = %e, "join request failed; retrying"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_peers() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        for bad in ["", "10", "5x", "0s", "h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_peers("1=127.0.0.1:1,2=127.0.0.1:2").unwrap().len(), 2);
        for bad in ["1", "x=127.0.0.1:1", "0=127.0.0.1:1", "1=a:b", "1=127.0.0.1:1,1=127.0.0.1:2"] {
            assert!(parse_peers(bad).is_err(), "{bad}");
        }
    }
}
