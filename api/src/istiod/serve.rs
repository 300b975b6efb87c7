//! [`bind`] and [`Bound::serve_until`]: istiod's start-up split at the point where every
//! address is known, so a caller (the binary, an in-process test server) can learn the ports
//! it asked the OS to choose before anything is served.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use istio_store::{NodeId, StoreConfig, StoreNode};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::args::Args;
use crate::auth::Authenticator;
use crate::http::{router, AppState};

type ServerTask = tokio::task::JoinHandle<Result<(), tonic::transport::Error>>;

/// A member whose listeners are bound and whose store is open and part of a cluster (or
/// joining one), not yet serving the API.
pub struct Bound {
    /// Bound HTTP API address.
    pub http: SocketAddr,
    /// Bound gRPC address.
    pub grpc: SocketAddr,
    /// Bound Raft peer address.
    pub raft: SocketAddr,
    /// The store member.
    pub node: Arc<StoreNode>,
    args: Args,
    auth: Arc<Authenticator>,
    http_listener: TcpListener,
    grpc_listener: TcpListener,
    raft_server: ServerTask,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("http", &self.http)
            .field("grpc", &self.grpc)
            .field("raft", &self.raft)
            .finish_non_exhaustive()
    }
}

async fn listen(flag: &str, addr: SocketAddr) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let l =
        TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {flag} {addr}"))?;
    let local = l.local_addr().with_context(|| format!("{flag} {addr}: no local address"))?;
    Ok((l, local))
}

/// Checks the flags, binds the Raft, gRPC and HTTP listeners (port 0 = any free port), opens
/// the store in `--data-dir` advertising the bound addresses, starts the Raft peer server and
/// forms (`--peers`, or alone) or joins (`--join`) the cluster.
pub async fn bind(args: Args) -> anyhow::Result<Bound> {
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
    if args.raft.port() == 0 && (args.peers.is_some() || args.join.is_some()) {
        bail!(
            "--raft {} asks for any free port, but the other members must know this member's \
             Raft address: give a fixed port with --peers or --join (port 0 suits a member alone)",
            args.raft
        );
    }
    // A ready file left by an earlier run must not be read as this run's addresses.
    if let Some(path) = &args.ready_file {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => bail!("cannot remove the old --ready-file {}: {e}", path.display()),
        }
    }
    // Read before anything starts, so a bad file stops start-up before the cluster forms.
    let auth = match &args.tokens {
        Some(path) => Arc::new(Authenticator::from_file(path)?),
        None => Arc::new(Authenticator::Anonymous),
    };
    let (raft_listener, raft) = listen("--raft", args.raft).await?;
    let (grpc_listener, grpc) = listen("--grpc", args.grpc).await?;
    let (http_listener, http) = listen("--http", args.http).await?;

    let cfg = StoreConfig {
        raft_addr: raft.to_string(),
        http_addr: http.to_string(),
        grpc_addr: grpc.to_string(),
        snapshot_logs: args.snapshot_logs,
        snapshot_keep_logs: args.snapshot_keep_logs,
        retain_revisions: args.retain_revisions,
        retain_for: args.retain_for,
        heartbeat: args.heartbeat(),
        election_timeout: args.election_timeout(),
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
            tokio::spawn(super::join::join(node.clone(), url, args.join_token.clone()));
        }
        (None, Some(_)) => tracing::info!("already a member; ignoring --join"),
        (None, None) => {
            node.initialize(BTreeMap::<NodeId, String>::from([(args.id, raft.to_string())]))
                .await?;
        }
    }
    Ok(Bound {
        http,
        grpc,
        raft,
        node,
        args,
        auth,
        http_listener,
        grpc_listener,
        raft_server,
        stop_tx,
        stop_rx,
    })
}

impl Bound {
    /// Serves the gRPC and HTTP APIs (and Pilot's ADS) until `shutdown` completes, then
    /// drains: HTTP connections get 5 s, gRPC 2 s, then the store shuts down.
    pub async fn serve_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Bound { http, grpc, raft, node, args, auth, http_listener, grpc_listener, .. } = self;
        let dev_mode = matches!(*auth, Authenticator::Anonymous);
        let stop_rx = self.stop_rx;
        let state = Arc::new(AppState::new(node.clone(), stop_rx.clone()));
        // Pilot: the registry view, translated to xDS and served over ADS on the gRPC port.
        let snapshots = istio_planes_pilot::spawn_snapshots(
            node.state().clone(),
            args.xds_debounce(),
            state.pilot.clone(),
        );
        let ads = envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryServiceServer::new(
            istio_planes_pilot::ads::Ads::new(snapshots, state.pilot.clone()).with_autoregistration(
                istio_planes_pilot::autoreg::AutoRegistry::spawn(
                    node.clone(),
                    args.workload_entry_grace(),
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
        if let Some(path) = &args.ready_file {
            write_ready_file(path, args.id, http, grpc, raft)?;
        }
        tracing::info!(
            id = args.id,
            http = %http,
            grpc = %grpc,
            raft = %raft,
            data_dir = %args.data_dir.display(),
            "istiod serving"
        );
        if dev_mode {
            tracing::warn!(
                "dev mode: no --tokens file, so every client is admitted as user 'anonymous' \
                 with role admin (listeners are loopback-only)"
            );
        }

        shutdown.await;
        tracing::info!("shutting down; draining");
        let _ = self.stop_tx.send(true);
        if tokio::time::timeout(Duration::from_secs(5), http_server).await.is_err() {
            tracing::warn!("HTTP connections still open after 5s; closing them");
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), grpc_server).await;
        node.shutdown().await?;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.raft_server).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Writes the bound addresses as JSON to `path`, whole: to `path.tmp`, then renamed, so a
/// reader never sees half a file.
fn write_ready_file(
    path: &Path,
    id: NodeId,
    http: SocketAddr,
    grpc: SocketAddr,
    raft: SocketAddr,
) -> anyhow::Result<()> {
    let body = serde_json::json!({
        "id": id,
        "http": http.to_string(),
        "grpc": grpc.to_string(),
        "raft": raft.to_string(),
        "pid": std::process::id(),
    });
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".tmp");
    std::fs::write(&tmp, format!("{body}\n"))
        .with_context(|| format!("cannot write --ready-file {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        format!("cannot rename {} to --ready-file {}", tmp.display(), path.display())
    })?;
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
) -> ServerTask {
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
