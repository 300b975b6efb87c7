//! `bench xds`: xDS push convergence and memory with N simulated ADS clients.
//!
//! `bench xds --clients 100,1000,5000 --services 1000 --rounds 20` starts a one-member istiod
//! per client count, registers `--services` ServiceEntries, connects N simulated ADS clients
//! (each its own HTTP/2 connection; wildcard CDS plus EDS for `--watch` clusters, one of them
//! shared by all), then commits `--rounds` endpoint changes to the shared service (or, with
//! `--change virtualservice`, changes of its VirtualService). For each it measures commit (the
//! write's response) → each client's ACK of the EDS (RDS) push carrying it,
//! and prints p50/p99 over every (client, round), p50/max of the per-round "all ACKed" time,
//! and istiod's RSS before and after the clients connect (per proxy). Clients and istiod
//! share this machine's cores; the numbers include that. `--hold` keeps the clients
//! connected after the RSS is read, until Ctrl-C, to inspect istiod's memory there (heap profilers,
//! gdb, `/proc/<pid>/smaps`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use envoy_types::pb::envoy::config::core::v3::Node as XdsNode;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest};
use futures::StreamExt;
use istio_chaos::cluster::{http_client, Cluster, ClusterConfig};

use crate::stats::percentile;
use tokio::sync::{mpsc, watch};

const LDS: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
const RDS: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
const CDS: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const EDS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/// `bench xds` flags.
#[derive(clap::Args, Debug)]
pub(crate) struct XdsArgs {
    /// Client counts, one run each.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    clients: Vec<usize>,
    /// ServiceEntries registered before the clients connect.
    #[arg(long, default_value_t = 1000)]
    services: usize,
    /// Endpoint changes measured per run.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Services each client uses (one shared by all, the rest spread).
    #[arg(long, default_value_t = 10)]
    watch: usize,
    /// `sidecar`: wildcard CDS + EDS of the watched clusters (Envoy's way); `proxyless`:
    /// LDS, RDS, CDS and EDS named for the watched services only (gRPC's way); `delta`: the
    /// sidecar's subscriptions over delta ADS.
    #[arg(long, value_enum, default_value = "sidecar")]
    mode: Mode,
    /// istiod's `--xds-debounce-ms`.
    #[arg(long, default_value_t = 100)]
    debounce_ms: u64,
    /// The istiod binary (default: next to this one).
    #[arg(long)]
    istiod: Option<PathBuf>,
    /// Keep the clients connected after the RSS is read (istiod's pid printed) until Ctrl-C,
    /// for inspecting istiod's memory (smaps, gdb, heap profilers) at that point.
    #[arg(long)]
    hold: bool,
    /// What each round changes: `endpoints` (the shared service's endpoint; measured to the
    /// EDS ACK) or `virtualservice` (the shared service's VirtualService, a new route timeout
    /// each round: a routing change; measured to the RDS ACK; `--mode proxyless` only, the
    /// mode whose clients subscribe to routes).
    #[arg(long, value_enum, default_value = "endpoints")]
    change: Change,
}

/// What each measured round changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Change {
    /// An endpoint of the shared service.
    Endpoints,
    /// The shared service's VirtualService.
    Virtualservice,
}

impl Change {
    /// The type whose ACK completes a round.
    fn acked_type(self) -> &'static str {
        match self {
            Change::Endpoints => EDS,
            Change::Virtualservice => RDS,
        }
    }
}

/// The shared service's VirtualService in round `round`: its route times out after
/// `round + 1` seconds, so each round changes the route configuration.
fn virtual_service(round: usize) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "svc0", "namespace": "bench"},
        "spec": {
            "hosts": ["svc0.bench.example.com"],
            "http": [{
                "timeout": format!("{}s", round + 1),
                "route": [{"destination": {"host": "svc0.bench.example.com"}}],
            }],
        },
    })
}

/// How simulated clients subscribe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Wildcard CDS, named EDS.
    Sidecar,
    /// Named LDS, RDS, CDS, EDS.
    Proxyless,
    /// Wildcard CDS, named EDS, over delta (incremental) ADS.
    Delta,
}

fn service_entry(i: usize, ip: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": format!("svc{i}"), "namespace": "bench"},
        "spec": {
            "hosts": [format!("svc{i}.bench.example.com")],
            "ports": [{"number": 8080, "name": "grpc", "protocol": "GRPC"}],
            "resolution": "STATIC",
            "endpoints": [{"address": ip, "locality": "us/east/a"}, {"address": "10.9.9.9"}],
        },
    })
}

fn cluster_of(i: usize) -> String {
    format!("outbound|8080||svc{i}.bench.example.com")
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Clients that have their endpoints, and the first client error.
#[derive(Debug, Default)]
struct Ready {
    count: usize,
    error: Option<String>,
}

/// One EDS ACK: client, the version it ACKed, when.
type Ack = (usize, u64, Instant);

/// A simulated proxy using `services`: subscribes as `mode` says, ACKs every response at once
/// and reports EDS ACKs on `acks`. Counts itself in `ready` on its first EDS response, or
/// records its error there if it fails.
async fn client(
    id: usize,
    grpc: String,
    services: Vec<usize>,
    (mode, change): (Mode, Change),
    acks: mpsc::UnboundedSender<Ack>,
    ready: watch::Sender<Ready>,
) -> Result<()> {
    let clusters: Vec<String> = services.iter().map(|i| cluster_of(*i)).collect();
    if mode == Mode::Delta {
        return delta_client(id, grpc, clusters, acks, ready).await;
    }
    let listeners: Vec<String> =
        services.iter().map(|i| format!("svc{i}.bench.example.com:8080")).collect();
    let mut ads = ads_client(&grpc).await?;
    let (tx, rx) = mpsc::channel(4);
    let node = bench_node(id);
    let req = |type_url: &str, names: &[String], version: String, nonce: String| DiscoveryRequest {
        node: Some(node.clone()),
        type_url: type_url.into(),
        resource_names: names.to_vec(),
        version_info: version,
        response_nonce: nonce,
        ..Default::default()
    };
    let names = |type_url: &str| -> Vec<String> {
        match (mode, type_url) {
            (_, EDS) => clusters.clone(),
            (Mode::Sidecar | Mode::Delta, _) => Vec::new(),
            (Mode::Proxyless, CDS) => clusters.clone(),
            (Mode::Proxyless, _) => listeners.clone(),
        }
    };
    let types: &[&str] = match mode {
        Mode::Sidecar | Mode::Delta => &[CDS, EDS],
        Mode::Proxyless => &[LDS, RDS, CDS, EDS],
    };
    for t in types {
        tx.send(req(t, &names(t), String::new(), String::new())).await?;
    }
    let mut inbound = ads
        .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut first = true;
    while let Some(r) = inbound.message().await? {
        tx.send(req(&r.type_url, &names(&r.type_url), r.version_info.clone(), r.nonce.clone()))
            .await?;
        if r.type_url == change.acked_type() {
            let _ = acks.send((id, r.version_info.parse().unwrap_or(0), Instant::now()));
        }
        if r.type_url == EDS && first {
            first = false;
            ready.send_modify(|r| r.count += 1);
        }
    }
    Ok(())
}

/// An ADS client on its own HTTP/2 connection to `grpc`.
async fn ads_client(
    grpc: &str,
) -> Result<AggregatedDiscoveryServiceClient<tonic::transport::Channel>> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))?
        .connect_timeout(Duration::from_secs(30))
        .connect()
        .await?;
    Ok(AggregatedDiscoveryServiceClient::new(channel))
}

/// Simulated proxy `id`'s node.
fn bench_node(id: usize) -> XdsNode {
    XdsNode { id: format!("bench-{id}"), cluster: "bench".into(), ..Default::default() }
}

/// [`client`] over delta ADS: wildcard CDS, named EDS; ACKs every response by nonce.
async fn delta_client(
    id: usize,
    grpc: String,
    clusters: Vec<String>,
    acks: mpsc::UnboundedSender<Ack>,
    ready: watch::Sender<Ready>,
) -> Result<()> {
    let mut ads = ads_client(&grpc).await?;
    let (tx, rx) = mpsc::channel(4);
    let node = bench_node(id);
    tx.send(DeltaDiscoveryRequest { node: Some(node), type_url: CDS.into(), ..Default::default() })
        .await?;
    tx.send(DeltaDiscoveryRequest {
        type_url: EDS.into(),
        resource_names_subscribe: clusters,
        ..Default::default()
    })
    .await?;
    let mut inbound = ads
        .delta_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut first = true;
    while let Some(r) = inbound.message().await? {
        tx.send(DeltaDiscoveryRequest {
            type_url: r.type_url.clone(),
            response_nonce: r.nonce.clone(),
            ..Default::default()
        })
        .await?;
        if r.type_url == EDS {
            let _ = acks.send((id, r.system_version_info.parse().unwrap_or(0), Instant::now()));
            if first {
                first = false;
                ready.send_modify(|r| r.count += 1);
            }
        }
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

struct XdsRun {
    clients: usize,
    per_proxy_p50: Duration,
    per_proxy_p99: Duration,
    all_p50: Duration,
    all_max: Duration,
    rss_before_kib: u64,
    rss_after_kib: u64,
    connect: Duration,
}

#[allow(clippy::too_many_arguments)]
async fn xds_run(
    istiod: &std::path::Path,
    n: usize,
    services: usize,
    rounds: usize,
    watch: usize,
    (mode, change): (Mode, Change),
    debounce_ms: u64,
    hold: bool,
) -> Result<XdsRun> {
    let root = std::env::temp_dir().join(format!("istio-bench-xds-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let cfg = ClusterConfig {
        istiod: istiod.to_path_buf(),
        root: root.clone(),
        args: vec!["--xds-debounce-ms".into(), debounce_ms.to_string()],
        direct: false,
    };
    let mut cluster = Cluster::start(cfg, 1).await?;
    let node = cluster.node(1)?;
    let http = http_client()?;
    let url = |i: usize| {
        node.url(&format!("/apis/networking.istio.io/v1/namespaces/bench/serviceentries/svc{i}"))
    };

    // Register the services, 16 writes at a time.
    let puts = futures::stream::iter(0..services).map(|i| {
        let http = http.clone();
        let u = url(i);
        async move {
            let r = http.put(&u).json(&service_entry(i, "10.0.0.1")).send().await?;
            if !r.status().is_success() {
                bail!("PUT svc{i}: {} {}", r.status(), r.text().await.unwrap_or_default());
            }
            Ok(())
        }
    });
    let results: Vec<Result<()>> = puts.buffer_unordered(16).collect().await;
    results.into_iter().collect::<Result<Vec<()>>>()?;

    let pid = node.pid().context("istiod is not running")?;
    let grpc = node.grpc.to_string();
    let rss_before_kib = rss_kib(pid);

    // Connect the clients, 64 at a time, and wait until each has its endpoints.
    let (ack_tx, mut acks) = mpsc::unbounded_channel::<Ack>();
    let (ready_tx, mut ready) = watch::channel(Ready::default());
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for id in 0..n {
        let mut used = vec![0];
        used.extend((1..watch).map(|k| 1 + (id * 7 + k * 13) % (services - 1).max(1)));
        used.sort();
        used.dedup();
        let (acks, status, grpc) = (ack_tx.clone(), ready_tx.clone(), grpc.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = client(id, grpc, used, (mode, change), acks, status.clone()).await {
                status.send_modify(|r| {
                    r.error.get_or_insert_with(|| format!("client {id}: {e:#}"));
                });
            }
        }));
        if id % 64 == 63 {
            ready.wait_for(|r| r.count + 64 >= id || r.error.is_some()).await?;
        }
    }
    let all_ready = ready.wait_for(|r| r.count >= n || r.error.is_some());
    let outcome = match tokio::time::timeout(Duration::from_secs(300), all_ready).await {
        Ok(Ok(r)) => r.error.clone(),
        Ok(Err(_)) => Some("the clients' status channel closed".into()),
        Err(_) => None,
    };
    let got = ready.borrow().count;
    if let Some(e) = outcome {
        bail!("a client failed: {e}");
    }
    if got < n {
        bail!("only {got} of {n} clients got their endpoints in 300 s");
    }
    let connect = started.elapsed();
    let rss_after_kib = rss_kib(pid);
    if hold {
        eprintln!("holding until Ctrl-C: istiod pid {pid}, RSS {rss_after_kib} KiB");
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    }

    let mut per_proxy = Vec::with_capacity(n * rounds);
    let mut all = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let r = match change {
            Change::Endpoints => {
                let ip = format!("10.1.{}.{}", round / 250, round % 250 + 1);
                http.put(url(0)).json(&service_entry(0, &ip)).send().await?
            }
            Change::Virtualservice => {
                http.put(
                    node.url("/apis/networking.istio.io/v1/namespaces/bench/virtualservices/svc0"),
                )
                .json(&virtual_service(round))
                .send()
                .await?
            }
        };
        let committed = Instant::now();
        if !r.status().is_success() {
            bail!("round {round}: PUT svc0 ({change:?}): {}", r.status());
        }
        let body: serde_json::Value = r.json().await?;
        let rev: u64 = body["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .context("the write's resourceVersion")?;
        let mut done = vec![false; n];
        let mut left = n;
        let mut last = committed;
        let deadline = committed + Duration::from_secs(60);
        while left > 0 {
            let Ok(Some((id, version, at))) =
                tokio::time::timeout_at(deadline.into(), acks.recv()).await
            else {
                bail!("round {round}: {left} of {n} clients never ACKed revision {rev}");
            };
            if version >= rev && !done[id] {
                done[id] = true;
                left -= 1;
                let took = at.saturating_duration_since(committed);
                per_proxy.push(took);
                last = last.max(at);
            }
        }
        all.push(last.saturating_duration_since(committed));
        // The arrival pattern: the next change comes a debounce window (plus 50 ms) after the
        // last ACK, so each change is measured alone rather than batched with the next. (ACKs
        // of older revisions still queued are skipped by the `version >= rev` test.)
        tokio::time::sleep_until((last + Duration::from_millis(debounce_ms + 50)).into()).await;
    }
    per_proxy.sort();
    all.sort();
    for t in &tasks {
        t.abort();
    }
    cluster.shutdown();
    let _ = std::fs::remove_dir_all(&root);
    Ok(XdsRun {
        clients: n,
        per_proxy_p50: percentile(&per_proxy, 0.50),
        per_proxy_p99: percentile(&per_proxy, 0.99),
        all_p50: percentile(&all, 0.50),
        all_max: all.last().copied().unwrap_or_default(),
        rss_before_kib,
        rss_after_kib,
        connect,
    })
}

/// Runs `bench xds` and prints its table.
pub(crate) async fn run(args: XdsArgs) -> Result<()> {
    let XdsArgs { clients, services, rounds, watch, mode, debounce_ms, istiod, hold, change } =
        args;
    if change == Change::Virtualservice && mode != Mode::Proxyless {
        bail!(
            "--change virtualservice needs --mode proxyless (the clients that subscribe to routes)"
        );
    }
    let istiod = match istiod {
        Some(p) => p,
        None => istio_chaos::cluster::sibling_istiod()?,
    };
    println!(
        "xDS: {services} services, {rounds} {change:?} changes, {mode:?} clients using {watch} services each, debounce {debounce_ms} ms"
    );
    println!(
        "{:>8} {:>12} {:>12} {:>14} {:>14} {:>10} {:>10} {:>12} {:>10}",
        "clients",
        "p50 ms",
        "p99 ms",
        "all-ACK p50",
        "all-ACK max",
        "RSS0 MiB",
        "RSS MiB",
        "KiB/proxy",
        "connect s"
    );
    for n in clients {
        let r =
            xds_run(&istiod, n, services, rounds, watch, (mode, change), debounce_ms, hold).await?;
        let per = r.rss_after_kib.saturating_sub(r.rss_before_kib) / r.clients.max(1) as u64;
        println!(
            "{:>8} {:>12} {:>12} {:>14} {:>14} {:>10} {:>10} {:>12} {:>10.1}",
            r.clients,
            ms(r.per_proxy_p50),
            ms(r.per_proxy_p99),
            ms(r.all_p50),
            ms(r.all_max),
            r.rss_before_kib / 1024,
            r.rss_after_kib / 1024,
            per,
            r.connect.as_secs_f64()
        );
    }
    Ok(())
}
