//! The workload: concurrent clients against random members over the HTTP API — create, CAS
//! update, delete, linearizable get and list on a small key space — and watch streams that
//! stay open across faults. Every operation is recorded with monotonic invoke/complete times
//! and an outcome (ok / fail / unknown); a timeout is unknown, never fail. Writes carry an
//! `Idempotency-Key` and are retried with it, on any member, until one answers definitely.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::history::{FailReason, Key, Op, OpKind, Outcome, Revision, WatchEvent, WatchStream};

/// Namespace every key lives in.
pub const NAMESPACE: &str = "chaos";
/// Collection path of the keys under test.
pub const COLLECTION: &str = "/apis/networking.istio.io/v1/namespaces/chaos/virtualservices";
/// Annotation holding a write's unique value.
pub const VALUE_ANNOTATION: &str = "chaos.istio.io/value";

/// Workload settings.
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    /// Concurrent clients.
    pub clients: u32,
    /// Keys (`k0`..).
    pub keys: u32,
    /// Concurrent watch streams.
    pub watchers: u32,
    /// Seed for every client's choices.
    pub seed: u64,
    /// One attempt's timeout.
    pub attempt_timeout: Duration,
    /// How long a write is retried (with its key) before it is recorded as unknown.
    pub op_budget: Duration,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            clients: 16,
            keys: 24,
            watchers: 3,
            seed: 1,
            attempt_timeout: Duration::from_millis(1500),
            op_budget: Duration::from_secs(3),
        }
    }
}

/// The members clients may talk to: `(id, http address)`. The runner updates it on
/// membership changes.
pub type Targets = Arc<RwLock<Vec<(u64, SocketAddr)>>>;

/// Shared recording state.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    next_id: AtomicU64,
    ops: Mutex<Vec<Op>>,
    watches: Mutex<Vec<WatchStream>>,
    stop: AtomicBool,
    stop_watches: AtomicBool,
    /// Highest revision any watcher has received, per watcher slot.
    watch_progress: Mutex<HashMap<u32, Revision>>,
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new(start: Instant) -> Arc<Self> {
        Arc::new(Recorder {
            start,
            next_id: AtomicU64::new(0),
            ops: Mutex::new(Vec::new()),
            watches: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            stop_watches: AtomicBool::new(false),
            watch_progress: Mutex::new(HashMap::new()),
        })
    }

    /// Nanoseconds since the run started.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Tells clients to finish their current operation and stop.
    pub fn stop_clients(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Tells watchers to close their streams.
    pub fn stop_watchers(&self) {
        self.stop_watches.store(true, Ordering::SeqCst);
    }

    /// The lowest revision every watcher has reached.
    pub fn watch_low_water(&self) -> Revision {
        let p = self.watch_progress.lock().unwrap_or_else(|e| e.into_inner());
        p.values().copied().min().unwrap_or(0)
    }

    /// How many distinct clients completed an operation successfully after `since_ns`.
    pub fn ok_clients_since(&self, since_ns: u64) -> usize {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let clients: std::collections::BTreeSet<u32> = ops
            .iter()
            .filter(|o| o.invoke_ns >= since_ns && matches!(o.outcome, Outcome::Ok { .. }))
            .map(|o| o.client)
            .collect();
        clients.len()
    }

    /// Every operation and stream recorded so far (ops in invoke order).
    pub fn take(&self) -> (Vec<Op>, Vec<WatchStream>) {
        let mut ops = std::mem::take(&mut *self.ops.lock().unwrap_or_else(|e| e.into_inner()));
        ops.sort_by_key(|o| (o.invoke_ns, o.id));
        let watches = std::mem::take(&mut *self.watches.lock().unwrap_or_else(|e| e.into_inner()));
        (ops, watches)
    }

    fn record(&self, op: Op) {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).push(op);
    }
}

/// The object a write sends.
pub fn object(key: &str, value: &str, resource_version: Option<Revision>) -> Value {
    let mut metadata = json!({
        "name": key,
        "namespace": NAMESPACE,
        "annotations": {VALUE_ANNOTATION: value},
    });
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = json!(rv.to_string());
    }
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata,
        "spec": {"hosts": [format!("{key}.chaos.svc")], "http": [{"route": [{"destination": {"host": format!("{key}.chaos.svc")}}]}]},
    })
}

/// The value annotation and resourceVersion of an object.
pub fn value_of(obj: &Value) -> (Option<String>, Option<Revision>) {
    let value = obj["metadata"]["annotations"][VALUE_ANNOTATION].as_str().map(str::to_owned);
    let rv = obj["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok());
    (value, rv)
}

/// What one attempt produced.
enum Attempt {
    /// A definite answer: status and body.
    Answer(u16, Value),
    /// Not sent (connect failed): definitely not applied.
    NotSent(String),
    /// Sent, but no definite answer (timeout, reset, 5xx).
    Indefinite(String),
}

struct Client {
    id: u32,
    http: reqwest::Client,
    targets: Targets,
    rec: Arc<Recorder>,
    rng: StdRng,
    cfg: WorkloadConfig,
    /// What this client last saw of each key: value and resourceVersion.
    known: HashMap<Key, (String, Revision)>,
    writes: u64,
}

impl Client {
    fn pick_node(&mut self) -> Option<(u64, SocketAddr)> {
        let t = self.targets.read().unwrap_or_else(|e| e.into_inner());
        if t.is_empty() {
            return None;
        }
        Some(t[self.rng.gen_range(0..t.len())])
    }

    fn next_value(&mut self) -> String {
        self.writes += 1;
        format!("c{}-w{}", self.id, self.writes)
    }

    fn choose(&mut self) -> OpKind {
        let key = format!("k{}", self.rng.gen_range(0..self.cfg.keys));
        let roll = self.rng.gen_range(0..100);
        let known = self.known.get(&key).cloned();
        match (roll, known) {
            (0..=24, _) => OpKind::Get { key },
            (25..=29, _) => OpKind::List,
            (30..=49, _) => OpKind::Create { value: self.next_value(), key },
            (50..=84, Some((expect, rv))) => {
                OpKind::Update { value: self.next_value(), key, expect, expect_revision: rv }
            }
            (85..=99, Some((expect, rv))) if roll % 2 == 0 => {
                OpKind::Delete { key, expect: Some(expect), expect_revision: Some(rv) }
            }
            (85..=99, _) => OpKind::Delete { key, expect: None, expect_revision: None },
            _ => OpKind::Get { key },
        }
    }

    async fn attempt(&self, node: SocketAddr, kind: &OpKind, idempotency_key: &str) -> Attempt {
        let base = format!("http://{node}{COLLECTION}");
        let req = match kind {
            OpKind::Create { key, value } => self.http.post(&base).json(&object(key, value, None)),
            OpKind::Update { key, value, expect_revision, .. } => self
                .http
                .put(format!("{base}/{key}"))
                .json(&object(key, value, Some(*expect_revision))),
            OpKind::Delete { key, expect_revision, .. } => {
                let r = self.http.delete(format!("{base}/{key}"));
                match expect_revision {
                    Some(rv) => {
                        r.json(&json!({"preconditions": {"resourceVersion": rv.to_string()}}))
                    }
                    None => r,
                }
            }
            OpKind::Get { key } => self.http.get(format!("{base}/{key}")),
            OpKind::List => self.http.get(&base),
        };
        let req =
            if kind.is_write() { req.header("Idempotency-Key", idempotency_key) } else { req };
        let resp = match tokio::time::timeout(self.cfg.attempt_timeout, req.send()).await {
            Err(_) => return Attempt::Indefinite("timeout".into()),
            Ok(Err(e)) if e.is_connect() => return Attempt::NotSent(e.to_string()),
            Ok(Err(e)) => return Attempt::Indefinite(e.to_string()),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let body = match tokio::time::timeout(self.cfg.attempt_timeout, resp.bytes()).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Attempt::Indefinite(format!("reading the body: {e}")),
            Err(_) => return Attempt::Indefinite("timeout reading the body".into()),
        };
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status >= 500 || status == 429 {
            let msg = body["message"].as_str().unwrap_or("").to_owned();
            return Attempt::Indefinite(format!("{status} {msg}"));
        }
        Attempt::Answer(status, body)
    }

    /// Interprets a definite answer; `None` if it is not one the model knows (recorded as
    /// unknown, with the body, so a workload bug is visible rather than mis-modelled).
    fn interpret(kind: &OpKind, status: u16, body: &Value) -> Result<Outcome, String> {
        let reason = body["reason"].as_str().unwrap_or("");
        match (kind, status) {
            (OpKind::Get { .. }, 200) => {
                let (value, rv) = value_of(body);
                Ok(Outcome::Ok { revision: rv, value, list: None })
            }
            (OpKind::Get { .. }, 404) => {
                Ok(Outcome::Ok { revision: None, value: None, list: None })
            }
            (OpKind::List, 200) => {
                let rv = body["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok());
                let mut list = Vec::new();
                for item in body["items"].as_array().into_iter().flatten() {
                    let name = item["metadata"]["name"].as_str().unwrap_or("").to_owned();
                    let (value, _) = value_of(item);
                    list.push((name, value.unwrap_or_default()));
                }
                Ok(Outcome::Ok { revision: rv, value: None, list: Some(list) })
            }
            (OpKind::Create { .. } | OpKind::Update { .. } | OpKind::Delete { .. }, 200 | 201) => {
                let (_, rv) = value_of(body);
                match rv {
                    Some(rv) => Ok(Outcome::Ok { revision: Some(rv), value: None, list: None }),
                    None => Err(format!("{status} without a resourceVersion: {body}")),
                }
            }
            (OpKind::Create { .. }, 409) if reason == "AlreadyExists" => {
                Ok(Outcome::Fail { reason: FailReason::AlreadyExists })
            }
            (OpKind::Update { .. } | OpKind::Delete { .. }, 409) if reason == "Conflict" => {
                Ok(Outcome::Fail { reason: FailReason::Conflict })
            }
            (OpKind::Update { .. } | OpKind::Delete { .. }, 404) => {
                Ok(Outcome::Fail { reason: FailReason::NotFound })
            }
            _ => Err(format!("unexpected {status}: {body}")),
        }
    }

    async fn run_op(&mut self, kind: OpKind) {
        let id = self.rec.next_id.fetch_add(1, Ordering::SeqCst);
        let idem = format!("chaos-{}-{id}", self.cfg.seed);
        let invoke_ns = self.rec.now();
        let deadline = Instant::now() + self.cfg.op_budget;
        let mut node_used = 0;
        let mut sent = false;
        let mut last_error;
        let outcome = loop {
            let Some((nid, addr)) = self.pick_node() else {
                break Outcome::Fail { reason: FailReason::Refused };
            };
            if node_used == 0 {
                node_used = nid;
            }
            match self.attempt(addr, &kind, &idem).await {
                Attempt::Answer(status, body) => match Self::interpret(&kind, status, &body) {
                    Ok(o) => {
                        node_used = nid;
                        break o;
                    }
                    Err(e) => break Outcome::Unknown { error: e },
                },
                Attempt::NotSent(e) => last_error = format!("node {nid}: {e}"),
                Attempt::Indefinite(e) => {
                    sent = true;
                    last_error = format!("node {nid}: {e}");
                }
            }
            if Instant::now() >= deadline || self.rec.stop.load(Ordering::SeqCst) && !sent {
                break if sent {
                    Outcome::Unknown { error: last_error.clone() }
                } else {
                    Outcome::Fail { reason: FailReason::Refused }
                };
            }
            tokio::time::sleep(Duration::from_millis(self.rng.gen_range(20..120))).await;
        };
        // Reads that never answered are unknown; the checker drops them.
        let complete_ns = self.rec.now();
        self.learn(&kind, &outcome);
        self.rec.record(Op {
            id,
            client: self.id,
            node: node_used,
            kind,
            invoke_ns,
            complete_ns,
            outcome,
        });
    }

    /// Updates what the client knows of a key after an operation.
    fn learn(&mut self, kind: &OpKind, outcome: &Outcome) {
        match (kind, outcome) {
            (OpKind::Get { key }, Outcome::Ok { value: Some(v), revision: Some(rv), .. }) => {
                self.known.insert(key.clone(), (v.clone(), *rv));
            }
            (OpKind::Get { key }, Outcome::Ok { value: None, .. }) => {
                self.known.remove(key);
            }
            (
                OpKind::Create { key, value } | OpKind::Update { key, value, .. },
                Outcome::Ok { revision: Some(rv), .. },
            ) => {
                self.known.insert(key.clone(), (value.clone(), *rv));
            }
            (OpKind::Delete { key, .. }, Outcome::Ok { .. }) => {
                self.known.remove(key);
            }
            (OpKind::List, Outcome::Ok { list: Some(_), .. }) => {}
            // A failed CAS or an unknown write: what we knew is stale or uncertain.
            (k, Outcome::Fail { .. } | Outcome::Unknown { .. }) if k.is_write() => {
                if let Some(key) = k.key() {
                    self.known.remove(key);
                }
            }
            _ => {}
        }
    }
}

/// Runs one client until told to stop.
pub async fn run_client(id: u32, cfg: WorkloadConfig, targets: Targets, rec: Arc<Recorder>) {
    let Ok(http) = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(300))
        .pool_max_idle_per_host(2)
        .build()
    else {
        return;
    };
    let seed = cfg.seed.wrapping_mul(1_000_003).wrapping_add(u64::from(id));
    let mut c = Client {
        id,
        http,
        targets,
        rec,
        rng: StdRng::seed_from_u64(seed),
        cfg,
        known: HashMap::new(),
        writes: 0,
    };
    while !c.rec.stop.load(Ordering::SeqCst) {
        let kind = c.choose();
        c.run_op(kind).await;
    }
}

/// Runs one watcher: a stream on a random member from the last revision it saw (at first
/// `start`, which must be > 0: `resourceVersion=0` asks for the current state as synthetic
/// ADDED events, not for history); when the stream breaks (member killed, partitioned,
/// paused) it is recorded and reopened elsewhere.
pub async fn run_watcher(
    slot: u32,
    seed: u64,
    start: Revision,
    targets: Targets,
    rec: Arc<Recorder>,
) {
    let Ok(http) = reqwest::Client::builder().connect_timeout(Duration::from_millis(300)).build()
    else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5741_5443 ^ u64::from(slot));
    let mut last: Revision = start;
    while !rec.stop_watches.load(Ordering::SeqCst) {
        let pick = {
            let t = targets.read().unwrap_or_else(|e| e.into_inner());
            (!t.is_empty()).then(|| t[rng.gen_range(0..t.len())])
        };
        let Some((node, addr)) = pick else { return };
        let id = rec.next_id.fetch_add(1, Ordering::SeqCst);
        let mut stream = WatchStream {
            id,
            node,
            from_revision: last,
            open_ns: rec.now(),
            close_ns: 0,
            events: vec![],
            error: None,
        };
        let url = format!("http://{addr}{COLLECTION}?watch=true&resourceVersion={last}");
        match tokio::time::timeout(Duration::from_secs(2), http.get(&url).send()).await {
            Ok(Ok(resp)) if resp.status().is_success() => {
                let mut body = resp.bytes_stream();
                let mut buf = Vec::new();
                loop {
                    if rec.stop_watches.load(Ordering::SeqCst) {
                        break;
                    }
                    // A stalled stream (member paused or cut off) is abandoned after 3 s of
                    // silence while the workload keeps writing.
                    let chunk =
                        match tokio::time::timeout(Duration::from_secs(3), body.next()).await {
                            Err(_) => {
                                stream.error = Some("no data for 3s".into());
                                break;
                            }
                            Ok(None) => {
                                stream.error = Some("stream ended".into());
                                break;
                            }
                            Ok(Some(Err(e))) => {
                                stream.error = Some(e.to_string());
                                break;
                            }
                            Ok(Some(Ok(c))) => c,
                        };
                    buf.extend_from_slice(&chunk);
                    while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=pos).collect();
                        let Ok(v) = serde_json::from_slice::<Value>(&line) else { continue };
                        let kind = v["type"].as_str().unwrap_or("");
                        if kind == "ERROR" || kind == "BOOKMARK" {
                            if kind == "ERROR" {
                                stream.error = Some(format!("ERROR event: {}", v["object"]));
                            }
                            continue;
                        }
                        let obj = &v["object"];
                        let (value, rv) = value_of(obj);
                        let Some(rv) = rv else { continue };
                        let key = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
                        let value = if kind == "DELETED" { None } else { value };
                        stream.events.push(WatchEvent { revision: rv, key, value });
                        last = last.max(rv);
                    }
                    if stream.error.is_some() {
                        break;
                    }
                    rec.watch_progress.lock().unwrap_or_else(|e| e.into_inner()).insert(slot, last);
                }
            }
            Ok(Ok(resp)) => stream.error = Some(format!("watch answered {}", resp.status())),
            Ok(Err(e)) => stream.error = Some(e.to_string()),
            Err(_) => stream.error = Some("timeout opening the watch".into()),
        }
        rec.watch_progress.lock().unwrap_or_else(|e| e.into_inner()).insert(slot, last);
        stream.close_ns = rec.now();
        let failed_to_open = stream.events.is_empty() && stream.error.is_some();
        rec.watches.lock().unwrap_or_else(|e| e.into_inner()).push(stream);
        if failed_to_open {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(50..200))).await;
        }
    }
}
