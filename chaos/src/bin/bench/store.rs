//! `bench store`: write and read throughput and latency of istiod's store through its public
//! APIs, optionally next to an etcd cluster driven with the same workload (`--vs-etcd`).
//!
//! Per (nodes, target, value size, client count) cell: C clients issue operations back to back
//! for `--warmup` (not counted) and then `--duration`; an operation counts if it started and
//! completed inside the measured window. Ops, in order: `write` (ours: gRPC `Apply` or HTTP
//! `PUT` of one AuthorizationPolicy whose annotation carries the value; etcd: `Put`), `read`
//! (linearizable get of a key this cell wrote) and `read-local` (the member's own state:
//! `local`/`consistency=local` for ours, `serializable` for etcd). Client `i` talks to member
//! `i % nodes` over connection `i % conns`. Each run starts fresh clusters; figures are the
//! medians over `--runs`. Besides rates and latencies, each cell reports the CPU time all the
//! server processes (every member) used inside the measured window, per operation: on a shared
//! machine the two stores compete for the same cores, so CPU per operation is what decides
//! who leads under load.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use istio_chaos::cluster::{Cluster, ClusterConfig};
use istio_proto::config::config_service_client::ConfigServiceClient;
use istio_proto::config::{ApplyRequest, GetRequest};
use tonic::transport::Channel;

use crate::etcd::pb::kv_client::KvClient;
use crate::etcd::pb::{PutRequest, RangeRequest};
use crate::etcd::EtcdCluster;
use crate::stats::{self, Summary};

/// The namespace every benchmark object lives in.
const NAMESPACE: &str = "bench";
/// The annotation whose value is the payload.
const ANNOTATION: &str = "bench.istio-rs.dev/value";
/// The namespace `--preload` fills (apart from the measured objects, so reads and writes of
/// the cells never touch them).
const PRELOAD_NAMESPACE: &str = "preload";

/// The kind every measured write creates or replaces (`--kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BenchKind {
    /// Folded by no plane but the configuration view.
    Authorizationpolicy,
    /// Folded by Pilot: a service (host, port, one endpoint) per object.
    Serviceentry,
    /// Folded by Pilot: the routes of one host.
    Virtualservice,
}

impl BenchKind {
    fn kind(self) -> &'static str {
        match self {
            BenchKind::Authorizationpolicy => "AuthorizationPolicy",
            BenchKind::Serviceentry => "ServiceEntry",
            BenchKind::Virtualservice => "VirtualService",
        }
    }

    fn api_version(self) -> &'static str {
        match self {
            BenchKind::Authorizationpolicy => "security.istio.io/v1",
            _ => "networking.istio.io/v1",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            BenchKind::Authorizationpolicy => "authorizationpolicies",
            BenchKind::Serviceentry => "serviceentries",
            BenchKind::Virtualservice => "virtualservices",
        }
    }

    /// A valid spec for object `name` (JSON), as users write them.
    fn spec(self, name: &str, namespace: &str) -> String {
        let host = format!("{name}.{namespace}.svc.cluster.local");
        match self {
            BenchKind::Authorizationpolicy => "{}".into(),
            BenchKind::Serviceentry => {
                let h = name.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
                format!(
                    r#"{{"hosts":["{host}"],"location":"MESH_INTERNAL","resolution":"STATIC","ports":[{{"number":8080,"name":"http","protocol":"HTTP"}}],"endpoints":[{{"address":"10.{}.{}.{}"}}]}}"#,
                    (h >> 16) & 0xff,
                    (h >> 8) & 0xff,
                    (h & 0xfe) + 1
                )
            }
            BenchKind::Virtualservice => format!(
                r#"{{"hosts":["{host}"],"http":[{{"timeout":"5s","route":[{{"destination":{{"host":"{host}","port":{{"number":8080}}}}}}]}}]}}"#
            ),
        }
    }
}

/// `bench store` flags.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct StoreArgs {
    /// Cluster sizes, one set of cells each (etcd gets the same size).
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub nodes: Vec<u64>,
    /// Concurrent clients, one cell each.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    pub clients: Vec<usize>,
    /// Measured time per (cell, op), e.g. `10s`, `500ms`.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Time before the measured window, not counted.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub warmup: Duration,
    /// Value sizes in bytes.
    #[arg(long, value_delimiter = ',', default_value = "256,4096")]
    pub value_sizes: Vec<usize>,
    /// Our API(s): `grpc` (ConfigService) and/or `http`.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "grpc")]
    pub api: Vec<Api>,
    /// Operations measured per cell, in this order (reads read keys the write phase made).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "write,read,read-local")]
    pub ops: Vec<OpKind>,
    /// Runs; each figure is the median over them.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Also run an etcd cluster of the same size through the same workload.
    #[arg(long)]
    pub vs_etcd: bool,
    /// gRPC connections per cell (clients share them round-robin); HTTP clients use one
    /// keep-alive connection per in-flight request.
    #[arg(long, default_value_t = 16)]
    pub conns: usize,
    /// Distinct keys each client cycles through.
    #[arg(long, default_value_t = 100)]
    pub keys_per_client: usize,
    /// Also write every sample and median as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The istiod binary (default: next to this one).
    #[arg(long)]
    pub istiod: Option<PathBuf>,
    /// The etcd binary.
    #[arg(long, default_value = "/usr/bin/etcd")]
    pub etcd: PathBuf,
    /// Where data dirs go (default: the system temp dir). Must be a real disk, not tmpfs.
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Keep istiod's Raft links going through the chaos fault proxies (default: direct).
    #[arg(long)]
    pub via_faultnet: bool,
    /// The kind every measured write creates or replaces (ours; etcd puts the value).
    #[arg(long, value_enum, default_value = "authorizationpolicy")]
    pub kind: BenchKind,
    /// Before measuring, fill the registry with this many ServiceEntries (one service each,
    /// in their own namespace, applied in batches): the mesh the writes land in.
    #[arg(long, default_value_t = 0)]
    pub preload: usize,
}

/// Our API used by a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Api {
    /// The gRPC ConfigService (`Apply`, `Get`).
    Grpc,
    /// The HTTP API (`PUT`, `GET`).
    Http,
}

/// An operation kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum OpKind {
    /// Replace one object / put one key.
    Write,
    /// Linearizable read of one key.
    Read,
    /// The member's local state (ours: `local`; etcd: serializable).
    ReadLocal,
}

impl OpKind {
    fn name(self) -> &'static str {
        match self {
            OpKind::Write => "write",
            OpKind::Read => "read",
            OpKind::ReadLocal => "read-local",
        }
    }
}

/// Parses `10s`, `250ms`, `1m` or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// Where one cell's operations go.
#[derive(Clone)]
enum Conn {
    Grpc(ConfigServiceClient<Channel>, BenchKind),
    Http { client: reqwest::Client, base: String, kind: BenchKind },
    Etcd(KvClient<Channel>),
}

/// One measured (cell, op, run).
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Sample {
    /// Cluster size.
    pub nodes: u64,
    /// `ours-grpc`, `ours-http` or `etcd`.
    pub target: String,
    /// Value size in bytes.
    pub value_size: usize,
    /// Client count.
    pub clients: usize,
    /// The operation.
    pub op: OpKind,
    /// Run number (1-based).
    pub run: usize,
    /// What it measured.
    #[serde(flatten)]
    pub summary: Summary,
    /// The first error seen, if any.
    pub first_error: Option<String>,
}

/// A value of `size` bytes (ASCII letters and digits, valid in JSON and YAML without escaping)
/// whose first 20 bytes are `stamp`, so every write changes the object.
pub(crate) fn value(base: &str, stamp: u64) -> String {
    let stamp = format!("{stamp:020}");
    let n = stamp.len().min(base.len());
    let mut v = String::with_capacity(base.len());
    v.push_str(&stamp[..n]);
    v.push_str(&base[n..]);
    v
}

fn base_value(size: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..size).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// The object a write of `value` to `name` sends to istiod (JSON, one document).
pub(crate) fn object(kind: BenchKind, name: &str, value: &str) -> String {
    object_in(kind, NAMESPACE, name, value)
}

fn object_in(kind: BenchKind, namespace: &str, name: &str, value: &str) -> String {
    format!(
        r#"{{"apiVersion":"{}","kind":"{}","metadata":{{"name":"{name}","namespace":"{namespace}","annotations":{{"{ANNOTATION}":"{value}"}}}},"spec":{}}}"#,
        kind.api_version(),
        kind.kind(),
        kind.spec(name, namespace)
    )
}

/// Applies `n` ServiceEntries to the member at `grpc`, 500 per revision.
async fn preload(grpc: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let start = Instant::now();
    let ch = Channel::from_shared(format!("http://{grpc}"))?.connect().await?;
    let mut c = ConfigServiceClient::new(ch).max_decoding_message_size(64 << 20);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let docs: Vec<String> = chunk
            .iter()
            .map(|i| {
                object_in(BenchKind::Serviceentry, PRELOAD_NAMESPACE, &format!("svc-{i}"), "p")
            })
            .collect();
        let req = ApplyRequest {
            documents: docs.join("\n---\n"),
            namespace: PRELOAD_NAMESPACE.into(),
            ..Default::default()
        };
        c.apply(req).await.with_context(|| format!("preloading ServiceEntries at {grpc}"))?;
    }
    eprintln!("  preloaded {n} ServiceEntries in {:.1?}", start.elapsed());
    Ok(())
}

fn key_name(client: usize, i: usize) -> String {
    format!("b{client}-{i}")
}

impl Conn {
    async fn op(&mut self, op: OpKind, name: &str, value: Option<&str>) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        match (self, op) {
            (Conn::Grpc(c, kind), OpKind::Write) => {
                let req = ApplyRequest {
                    documents: object(*kind, name, value.unwrap_or_default()),
                    namespace: NAMESPACE.into(),
                    ..Default::default()
                };
                c.apply(req).await.map_err(|e| err(&e)).map(drop)
            }
            (Conn::Grpc(c, kind), read) => {
                let req = GetRequest {
                    kind: kind.kind().into(),
                    namespace: NAMESPACE.into(),
                    name: name.into(),
                    local: read == OpKind::ReadLocal,
                };
                c.get(req).await.map_err(|e| err(&e)).map(drop)
            }
            (Conn::Http { client, base, kind }, op) => {
                let url = format!(
                    "{base}/apis/{}/namespaces/{NAMESPACE}/{}/{name}",
                    kind.api_version(),
                    kind.plural()
                );
                let req = match op {
                    OpKind::Write => client
                        .put(url)
                        .header("content-type", "application/json")
                        .body(object(*kind, name, value.unwrap_or_default())),
                    OpKind::Read => client.get(url),
                    OpKind::ReadLocal => client.get(format!("{url}?consistency=local")),
                };
                let r = req.send().await.map_err(|e| err(&e))?;
                let status = r.status();
                let body = r.bytes().await.map_err(|e| err(&e))?;
                if !status.is_success() {
                    return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
                }
                Ok(())
            }
            (Conn::Etcd(c), OpKind::Write) => {
                let req = PutRequest {
                    key: format!("/bench/{name}").into_bytes(),
                    value: value.unwrap_or_default().as_bytes().to_vec(),
                };
                c.put(req).await.map_err(|e| err(&e)).map(drop)
            }
            (Conn::Etcd(c), read) => {
                let req = RangeRequest {
                    key: format!("/bench/{name}").into_bytes(),
                    serializable: read == OpKind::ReadLocal,
                };
                let r = c.range(req).await.map_err(|e| err(&e))?.into_inner();
                if r.kvs.is_empty() {
                    return Err(format!("etcd: no key /bench/{name}"));
                }
                Ok(())
            }
        }
    }
}

/// How clients reach the members of one target.
enum Endpoints {
    Grpc(Vec<String>),
    Http(Vec<String>),
    Etcd(Vec<String>),
}

impl Endpoints {
    async fn connect(&self, clients: usize, conns: usize, kind: BenchKind) -> Result<Vec<Conn>> {
        let n = clients.min(conns).max(1);
        let mut out = Vec::with_capacity(n);
        let channel = |addr: &str| {
            let addr = addr.to_string();
            async move {
                Channel::from_shared(format!("http://{addr}"))?
                    .connect_timeout(Duration::from_secs(10))
                    .tcp_nodelay(true)
                    .connect()
                    .await
                    .with_context(|| format!("connect to {addr}"))
            }
        };
        match self {
            Endpoints::Grpc(members) => {
                for i in 0..n {
                    let ch = channel(&members[i % members.len()]).await?;
                    out.push(Conn::Grpc(
                        ConfigServiceClient::new(ch).max_decoding_message_size(8 << 20),
                        kind,
                    ));
                }
            }
            Endpoints::Etcd(members) => {
                for i in 0..n {
                    let ch = channel(&members[i % members.len()]).await?;
                    out.push(Conn::Etcd(KvClient::new(ch)));
                }
            }
            Endpoints::Http(members) => {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .pool_max_idle_per_host(clients.max(1))
                    .tcp_nodelay(true)
                    .build()?;
                for m in members {
                    out.push(Conn::Http {
                        client: client.clone(),
                        base: format!("http://{m}"),
                        kind,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// What one client did in a phase.
#[derive(Default)]
struct ClientResult {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
    /// Writes it completed (any time in the phase): its keys `0..min(writes, keys)` exist.
    writes: usize,
}

/// Runs one phase: `clients` clients doing `op` for `--warmup` + `--duration`, counting operations
/// that start and complete inside the measured window.
async fn phase(
    conns: &[Conn],
    op: OpKind,
    clients: usize,
    args: &StoreArgs,
    base: Arc<String>,
    written: &[usize],
    pids: &[u32],
) -> (Summary, Option<String>, Vec<usize>) {
    let (warmup, duration, keys) = (args.warmup, args.duration, args.keys_per_client);
    let start = Instant::now();
    let from = start + warmup;
    let until = from + duration;
    // The servers' CPU time over exactly the measured window.
    let cpu = {
        let pids = pids.to_vec();
        tokio::spawn(async move {
            tokio::time::sleep_until(from.into()).await;
            let a = stats::cpu_micros(&pids);
            tokio::time::sleep_until(until.into()).await;
            stats::cpu_micros(&pids).saturating_sub(a)
        })
    };
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let mut conn = conns[c % conns.len()].clone();
        let base = base.clone();
        // Reads go to keys this client wrote (client 0's when it wrote none).
        let (reader_of, readable) = match written.get(c) {
            Some(&w) if w > 0 => (c, w.min(keys)),
            _ => (0, written.first().copied().unwrap_or(1).clamp(1, keys)),
        };
        tasks.push(tokio::spawn(async move {
            let mut r = ClientResult::default();
            let mut i = 0usize;
            loop {
                let t0 = Instant::now();
                if t0 >= until {
                    break;
                }
                let res = if op == OpKind::Write {
                    let name = key_name(c, i % keys);
                    let v = value(&base, ((c as u64) << 32) | i as u64);
                    conn.op(op, &name, Some(&v)).await
                } else {
                    let name = key_name(reader_of, i % readable);
                    conn.op(op, &name, None).await
                };
                let t1 = Instant::now();
                let counted = t0 >= from && t1 <= until;
                match res {
                    Ok(()) => {
                        if op == OpKind::Write {
                            r.writes += 1;
                        }
                        if counted {
                            r.latencies.push(t1 - t0);
                        }
                    }
                    Err(e) => {
                        if counted {
                            r.errors += 1;
                        }
                        r.first_error.get_or_insert(e);
                    }
                }
                i += 1;
            }
            r
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    let mut writes = Vec::with_capacity(clients);
    for t in tasks {
        match t.await {
            Ok(r) => {
                latencies.extend(r.latencies);
                errors += r.errors;
                first_error = first_error.or(r.first_error);
                writes.push(r.writes);
            }
            Err(e) => {
                first_error.get_or_insert(format!("client task: {e}"));
                writes.push(0);
            }
        }
    }
    let mut summary = Summary::of(latencies, errors, duration);
    if let Ok(micros) = cpu.await {
        if summary.ops > 0 && !pids.is_empty() {
            summary.cpu_us_per_op = micros as f64 / summary.ops as f64;
        }
    }
    (summary, first_error, writes)
}

/// Runs every (value size, clients, op) cell against one started target.
async fn cells(
    args: &StoreArgs,
    nodes: u64,
    target: &str,
    endpoints: &Endpoints,
    pids: &[u32],
    run: usize,
    out: &mut Vec<Sample>,
) -> Result<()> {
    for &size in &args.value_sizes {
        let base = Arc::new(base_value(size));
        for &clients in &args.clients {
            let conns = endpoints.connect(clients, args.conns, args.kind).await?;
            let mut written: Vec<usize> = Vec::new();
            for &op in &args.ops {
                let (summary, first_error, writes) =
                    phase(&conns, op, clients, args, base.clone(), &written, pids).await;
                if op == OpKind::Write {
                    written = writes;
                }
                eprintln!(
                    "  nodes {nodes} {target:<9} {size:>5} B {clients:>4} clients {:<10} run {run}: {:>9}/s p50 {} p99 {} p999 {} ms, cpu {} us/op{}",
                    op.name(),
                    stats::rate(summary.rate),
                    stats::ms(summary.p50_ms),
                    stats::ms(summary.p99_ms),
                    stats::ms(summary.p999_ms),
                    stats::us(summary.cpu_us_per_op),
                    if summary.errors > 0 {
                        format!(", {} errors (first: {})", summary.errors, first_error.clone().unwrap_or_default())
                    } else {
                        String::new()
                    }
                );
                if summary.ops == 0 {
                    bail!(
                        "{target} nodes {nodes}, {size} B, {clients} clients, {}: no operation completed; first error: {}",
                        op.name(),
                        first_error.unwrap_or_else(|| "none (window too short?)".into())
                    );
                }
                out.push(Sample {
                    nodes,
                    target: target.into(),
                    value_size: size,
                    clients,
                    op,
                    run,
                    summary,
                    first_error,
                });
            }
        }
    }
    Ok(())
}

fn data_root(args: &StoreArgs, what: &str) -> PathBuf {
    args.data_root
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("istio-bench-store-{}-{what}", std::process::id()))
}

async fn run_ours(
    args: &StoreArgs,
    istiod: &Path,
    nodes: u64,
    api: Api,
    run: usize,
    out: &mut Vec<Sample>,
) -> Result<()> {
    let root = data_root(args, &format!("ours-{nodes}-{run}"));
    let _ = std::fs::remove_dir_all(&root);
    let cfg = ClusterConfig {
        istiod: istiod.to_path_buf(),
        root: root.clone(),
        args: vec![],
        direct: !args.via_faultnet,
    };
    let mut cluster = Cluster::start(cfg, nodes).await?;
    cluster.wait_leader(Duration::from_secs(30)).await?;
    let endpoints = match api {
        Api::Grpc => Endpoints::Grpc(cluster.nodes.values().map(|n| n.grpc.to_string()).collect()),
        Api::Http => Endpoints::Http(cluster.nodes.values().map(|n| n.http.to_string()).collect()),
    };
    let target = match api {
        Api::Grpc => "ours-grpc",
        Api::Http => "ours-http",
    };
    if let Some(first) = cluster.nodes.values().next() {
        preload(&first.grpc.to_string(), args.preload).await?;
    }
    let pids: Vec<u32> = cluster.nodes.values().filter_map(|n| n.pid()).collect();
    let res = cells(args, nodes, target, &endpoints, &pids, run, out).await;
    cluster.shutdown();
    let _ = std::fs::remove_dir_all(&root);
    res
}

async fn run_etcd(args: &StoreArgs, nodes: u64, run: usize, out: &mut Vec<Sample>) -> Result<()> {
    let root = data_root(args, &format!("etcd-{nodes}-{run}"));
    let _ = std::fs::remove_dir_all(&root);
    let etcd = EtcdCluster::start(&args.etcd, &root, nodes as usize).await?;
    let endpoints = Endpoints::Etcd(etcd.clients.iter().map(ToString::to_string).collect());
    let res = cells(args, nodes, "etcd", &endpoints, &etcd.pids(), run, out).await;
    drop(etcd);
    let _ = std::fs::remove_dir_all(&root);
    res
}

/// The median of every cell over its runs.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Cell {
    /// Cluster size.
    pub nodes: u64,
    /// `ours-grpc`, `ours-http` or `etcd`.
    pub target: String,
    /// Value size in bytes.
    pub value_size: usize,
    /// Client count.
    pub clients: usize,
    /// The operation.
    pub op: OpKind,
    /// Medians over the runs.
    #[serde(flatten)]
    pub summary: Summary,
    /// How many runs.
    pub runs: usize,
}

/// Groups samples by (nodes, target, size, clients, op) and takes medians.
pub(crate) fn medians(samples: &[Sample]) -> Vec<Cell> {
    let mut cells: Vec<Cell> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in samples {
        let key = (s.nodes, s.target.clone(), s.value_size, s.clients, s.op);
        if !seen.insert(key.clone()) {
            continue;
        }
        let runs: Vec<Summary> = samples
            .iter()
            .filter(|o| (o.nodes, o.target.clone(), o.value_size, o.clients, o.op) == key)
            .map(|o| o.summary.clone())
            .collect();
        cells.push(Cell {
            nodes: s.nodes,
            target: s.target.clone(),
            value_size: s.value_size,
            clients: s.clients,
            op: s.op,
            summary: Summary::median_of(&runs),
            runs: runs.len(),
        });
    }
    cells
}

/// One table per (nodes, our API, value size): a row per (op, clients), ours next to etcd
/// (when measured) and the ratio ours/etcd of the rates.
pub(crate) fn tables(cells: &[Cell]) -> String {
    let mut groups: Vec<(u64, String, usize)> = Vec::new();
    for c in cells.iter().filter(|c| c.target != "etcd") {
        let g = (c.nodes, c.target.clone(), c.value_size);
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let find = |nodes: u64, target: &str, size: usize, clients: usize, op: OpKind| {
        cells.iter().find(|c| {
            c.nodes == nodes
                && c.target == target
                && c.value_size == size
                && c.clients == clients
                && c.op == op
        })
    };
    let mut out = String::new();
    for (nodes, target, size) in groups {
        let _ = writeln!(
            out,
            "\n{nodes} node(s), {target}, {size} B values (rates in ops/s, latencies in ms; medians)"
        );
        let header = [
            "op",
            "clients",
            "ours/s",
            "etcd/s",
            "ours/etcd",
            "p50",
            "etcd p50",
            "p99",
            "etcd p99",
            "p999",
            "etcd p999",
            "cpu us/op",
            "etcd cpu",
            "errors",
        ];
        let mut rows = Vec::new();
        for c in
            cells.iter().filter(|c| c.nodes == nodes && c.target == target && c.value_size == size)
        {
            let e = find(nodes, "etcd", size, c.clients, c.op).map(|e| &e.summary);
            let o = &c.summary;
            let opt = |f: fn(&Summary) -> f64| e.map_or("-".into(), |e| stats::ms(f(e)));
            rows.push(vec![
                c.op.name().to_string(),
                c.clients.to_string(),
                stats::rate(o.rate),
                e.map_or("-".into(), |e| stats::rate(e.rate)),
                stats::ratio(Some(o.rate), e.map(|e| e.rate)),
                stats::ms(o.p50_ms),
                opt(|s| s.p50_ms),
                stats::ms(o.p99_ms),
                opt(|s| s.p99_ms),
                stats::ms(o.p999_ms),
                opt(|s| s.p999_ms),
                stats::us(o.cpu_us_per_op),
                e.map_or("-".into(), |e| stats::us(e.cpu_us_per_op)),
                (o.errors + e.map_or(0, |e| e.errors)).to_string(),
            ]);
        }
        out.push_str(&stats::render(&header, &rows));
    }
    out
}

/// Runs `bench store` and prints its tables.
pub(crate) async fn run(args: StoreArgs) -> Result<()> {
    let istiod = match &args.istiod {
        Some(p) => p.clone(),
        None => istio_chaos::cluster::sibling_istiod()?,
    };
    if args.runs == 0 || args.clients.is_empty() || args.value_sizes.is_empty() {
        bail!("--runs, --clients and --value-sizes must not be empty");
    }
    let example = object(args.kind, "b0-0", &"x".repeat(256));
    eprintln!(
        "bench store: {} object per write (overhead {} B over the value), {} ServiceEntries preloaded, window {:?} after {:?} warm-up, {} run(s)",
        args.kind.kind(),
        example.len() - 256,
        args.preload,
        args.duration,
        args.warmup,
        args.runs
    );
    let mut samples = Vec::new();
    for &nodes in &args.nodes {
        for run in 1..=args.runs {
            for &api in &args.api {
                run_ours(&args, &istiod, nodes, api, run, &mut samples).await?;
            }
            if args.vs_etcd {
                run_etcd(&args, nodes, run, &mut samples).await?;
            }
        }
    }
    let cells = medians(&samples);
    print!("{}", tables(&cells));
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "args": {
                "nodes": args.nodes, "clients": args.clients,
                "duration_s": args.duration.as_secs_f64(), "warmup_s": args.warmup.as_secs_f64(),
                "value_sizes": args.value_sizes, "api": args.api, "ops": args.ops,
                "runs": args.runs, "vs_etcd": args.vs_etcd, "conns": args.conns,
                "keys_per_client": args.keys_per_client,
                "kind": args.kind, "preload": args.preload,
            },
            "cells": cells,
            "samples": samples,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn values_have_the_size_and_change_per_write() {
        let base = base_value(256);
        assert_eq!(base.len(), 256);
        let (a, b) = (value(&base, 1), value(&base, 2));
        assert_eq!(a.len(), 256);
        assert_ne!(a, b);
        assert_eq!(value("abc", 7), "000");
        let o: serde_json::Value =
            serde_json::from_str(&object(BenchKind::Authorizationpolicy, "b1-2", &a)).unwrap();
        assert_eq!(o["metadata"]["annotations"][ANNOTATION], a.as_str());
        assert_eq!(o["metadata"]["name"], "b1-2");
    }

    /// Every `--kind`'s objects, and the preload's, are what istiod accepts.
    #[test]
    fn every_kind_writes_valid_objects() {
        use clap::ValueEnum;
        for kind in BenchKind::value_variants() {
            for (ns, name) in [(NAMESPACE, "b3-7"), (PRELOAD_NAMESPACE, "svc-12345")] {
                let o: serde_json::Value =
                    serde_json::from_str(&object_in(*kind, ns, name, "v")).unwrap();
                let info = istio_planes_config::validate_object(&o)
                    .unwrap_or_else(|e| panic!("{kind:?} {o}: {e}"));
                assert_eq!(info.kind, kind.kind());
            }
        }
    }

    fn sample(target: &str, clients: usize, op: OpKind, run: usize, rate: f64) -> Sample {
        Sample {
            nodes: 3,
            target: target.into(),
            value_size: 256,
            clients,
            op,
            run,
            summary: Summary { ops: 10, rate, p50_ms: 1.0, p99_ms: 2.0, ..Default::default() },
            first_error: None,
        }
    }

    #[test]
    fn medians_and_tables() {
        let samples = vec![
            sample("ours-grpc", 1, OpKind::Write, 1, 100.0),
            sample("ours-grpc", 1, OpKind::Write, 2, 300.0),
            sample("ours-grpc", 1, OpKind::Write, 3, 200.0),
            sample("etcd", 1, OpKind::Write, 1, 100.0),
            sample("ours-grpc", 16, OpKind::Read, 1, 5000.0),
        ];
        let cells = medians(&samples);
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[0].summary.rate, 200.0);
        assert_eq!(cells[0].runs, 3);
        let t = tables(&cells);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[1],
            "3 node(s), ours-grpc, 256 B values (rates in ops/s, latencies in ms; medians)"
        );
        let write: Vec<&str> = lines[4].split_whitespace().collect();
        assert_eq!(
            write,
            [
                "write", "1", "200", "100", "2.00x", "1.00", "1.00", "2.00", "2.00", "0.00",
                "0.00", "-", "-", "0"
            ]
        );
        let read: Vec<&str> = lines[5].split_whitespace().collect();
        assert_eq!(read[..5], ["read", "16", "5,000", "-", "-"]);
        assert!(!t.contains("etcd,"), "etcd gets no table of its own");
    }
}
