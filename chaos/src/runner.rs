//! One chaos run: start the cluster, run the workload while the scenario's nemesis injects
//! faults, heal, wait for the cluster to recover (liveness), collect the final log and node
//! states, run every checker, and write `report.json`, `history.json` and `timeline.html`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use serde_json::{json, Value};

use crate::check::{self, CheckResult};
use crate::cluster::{http_client, poll_until, Cluster, ClusterConfig};
use crate::history::{Fault, History, LogChange, LogEvent, NodeState, OpKind, Outcome, Revision};
use crate::scenario::{Nemesis, Scenario};
use crate::workload::{self, Recorder, Targets, WorkloadConfig, COLLECTION, NAMESPACE};
use crate::ChaosError;

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The scenario.
    pub scenario: Scenario,
    /// Founding members.
    pub nodes: u64,
    /// Length of the fault phase.
    pub duration: Duration,
    /// Seed for the nemesis and the workload.
    pub seed: u64,
    /// Where the report goes (member data dirs go under `DIR/cluster`).
    pub out: PathBuf,
    /// The `istiod` binary.
    pub istiod: PathBuf,
    /// Workload settings (its seed is overridden by `seed`).
    pub workload: WorkloadConfig,
}

/// What a run found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Founding members.
    pub nodes: u64,
    /// Fault phase length, seconds.
    pub duration_s: f64,
    /// Operations by outcome.
    pub ops: OpCounts,
    /// Watch streams opened and events they received.
    pub watch_streams: usize,
    /// Events received on watch streams.
    pub watch_events: usize,
    /// Faults injected.
    pub faults: Vec<Fault>,
    /// Per-checker results.
    pub checks: Vec<CheckResult>,
    /// Revision every member ended at.
    pub final_revision: Revision,
    /// Whether every checker passed.
    pub passed: bool,
}

/// Operations by outcome.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OpCounts {
    /// Every operation.
    pub total: usize,
    /// Succeeded.
    pub ok: usize,
    /// Definitely failed.
    pub fail: usize,
    /// Unknown.
    pub unknown: usize,
    /// Writes among them.
    pub writes: usize,
}

/// Runs one scenario end to end.
pub async fn run(cfg: &RunConfig) -> Result<Report, ChaosError> {
    let started = Instant::now();
    std::fs::create_dir_all(&cfg.out)?;
    let root = cfg.out.join("cluster");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    let args = vec![
        // Keep every event for the checkers; snapshot often so snapshot install is exercised.
        "--retain-revisions".into(),
        "100000000".into(),
        "--snapshot-logs".into(),
        "300".into(),
        "--snapshot-keep-logs".into(),
        "100".into(),
    ];
    let mut cluster = Cluster::start(
        ClusterConfig { istiod: cfg.istiod.clone(), root, args, direct: false },
        cfg.nodes,
    )
    .await?;
    cluster.wait_leader(Duration::from_secs(20)).await?;
    let start_revision = setup_write(&cluster).await?;
    let targets: Targets =
        Arc::new(RwLock::new(cluster.nodes.values().map(|n| (n.id, n.http)).collect::<Vec<_>>()));
    let rec = Recorder::new(started);
    let mut wl = cfg.workload.clone();
    wl.seed = cfg.seed;
    let mut tasks = Vec::new();
    for c in 0..wl.clients {
        tasks.push(tokio::spawn(workload::run_client(c, wl.clone(), targets.clone(), rec.clone())));
    }
    let mut watchers = Vec::new();
    for w in 0..wl.watchers {
        watchers.push(tokio::spawn(workload::run_watcher(
            w,
            cfg.seed,
            start_revision,
            targets.clone(),
            rec.clone(),
        )));
    }

    // Fault phase.
    let mut nemesis = Nemesis::new(cfg.scenario, StdRng::seed_from_u64(cfg.seed ^ 0x4e45_4d45));
    let mut faults = Vec::new();
    let fault_end = Instant::now() + cfg.duration;
    let nemesis_result = nemesis.run(&mut cluster, &rec, &targets, fault_end, &mut faults).await;

    // Heal phase: undo every fault, let the workload run a little on the healed cluster.
    let heal_start = rec.now();
    let healed = heal(&mut cluster, Duration::from_secs(30)).await;
    faults.push(Fault {
        kind: "heal".into(),
        target: "all".into(),
        start_ns: heal_start,
        end_ns: rec.now(),
    });
    {
        let mut t = targets.write().unwrap_or_else(|e| e.into_inner());
        *t = cluster.nodes.values().filter(|n| n.running()).map(|n| (n.id, n.http)).collect();
    }
    // Liveness evidence: every client completes an operation on the healed cluster.
    let healed_at = rec.now();
    let deadline = Instant::now() + Duration::from_secs(15);
    while rec.ok_clients_since(healed_at) < wl.clients as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rec.stop_clients();
    for t in tasks {
        let _ = t.await;
    }

    let mut liveness = Vec::new();
    if let Err(e) = &nemesis_result {
        liveness.push(format!("nemesis: {e}"));
    }
    if let Err(e) = &healed {
        liveness.push(format!("heal: {e}"));
    }
    let converged = wait_converged(&cluster, Duration::from_secs(30)).await;
    let nodes = match &converged {
        Ok(n) => n.clone(),
        Err((e, n)) => {
            liveness.push(format!("convergence: {e}"));
            n.clone()
        }
    };
    let final_revision = nodes.iter().map(|n| n.revision).max().unwrap_or(0);
    // Watches must catch up with the final revision.
    let deadline = Instant::now() + Duration::from_secs(15);
    while rec.watch_low_water() < final_revision && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let low = rec.watch_low_water();
    if wl.watchers > 0 && low < final_revision {
        liveness.push(format!("watch streams stopped at revision {low} < final {final_revision}"));
    }
    rec.stop_watchers();
    for w in watchers {
        let _ = w.await;
    }

    let (log, other_revisions) = fetch_log(&cluster).await?;
    let final_state = final_reads(&cluster, wl.keys).await?;
    let (ops, watches) = rec.take();
    let history = History { ops, watches, log, other_revisions, final_state, nodes, faults };
    let mut checks = check::all(&history);
    checks.push(if liveness.is_empty() {
        CheckResult::pass(
            "liveness",
            history.nodes.len(),
            "the cluster healed, converged and every watch caught up",
        )
    } else {
        CheckResult::fail("liveness", history.nodes.len(), liveness.join("; "), None, vec![])
    });
    let report = report(cfg, &history, checks);
    write_outputs(&cfg.out, cfg.scenario.name(), &history, &report)?;
    if !report.passed {
        for n in cluster.nodes.values() {
            let _ = std::fs::write(cfg.out.join(format!("node{}.tail.log", n.id)), n.log_tail(200));
        }
    }
    cluster.shutdown();
    Ok(report)
}

fn report(cfg: &RunConfig, h: &History, checks: Vec<CheckResult>) -> Report {
    let mut ops = OpCounts { total: h.ops.len(), ..Default::default() };
    for o in &h.ops {
        match o.outcome {
            Outcome::Ok { .. } => ops.ok += 1,
            Outcome::Fail { .. } => ops.fail += 1,
            Outcome::Unknown { .. } => ops.unknown += 1,
        }
        if o.kind.is_write() {
            ops.writes += 1;
        }
    }
    Report {
        scenario: cfg.scenario.name().into(),
        seed: cfg.seed,
        nodes: cfg.nodes,
        duration_s: cfg.duration.as_secs_f64(),
        ops,
        watch_streams: h.watches.len(),
        watch_events: h.watches.iter().map(|w| w.events.len()).sum(),
        faults: h.faults.clone(),
        final_revision: h.nodes.iter().map(|n| n.revision).max().unwrap_or(0),
        passed: checks.iter().all(|c| c.passed),
        checks,
    }
}

fn write_outputs(out: &Path, name: &str, h: &History, r: &Report) -> Result<(), ChaosError> {
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(r)?)?;
    std::fs::write(out.join("history.json"), serde_json::to_vec(h)?)?;
    let title = format!("chaos: {name}, seed {}, {} nodes", r.seed, r.nodes);
    std::fs::write(out.join("timeline.html"), crate::timeline::render(&title, h, &r.checks))?;
    Ok(())
}

/// Writes one object outside the keys under test, so the log does not start with them: watch
/// streams then start from its revision (`resourceVersion=0` would mean "current state").
async fn setup_write(c: &Cluster) -> Result<Revision, ChaosError> {
    let client = http_client()?;
    let mut body = workload::object("chaos-start", "setup", None);
    body["metadata"]["namespace"] = json!("chaos-setup");
    poll_until(Duration::from_secs(20), "committed set-up write", || async {
        for id in c.running_ids() {
            let url = c.node(id)?.url(
                "/apis/networking.istio.io/v1/namespaces/chaos-setup/virtualservices/chaos-start",
            );
            let put = client.put(&url).header("Idempotency-Key", "chaos-setup").json(&body);
            if let Ok(r) = put.send().await {
                if r.status().is_success() {
                    if let Ok(v) = r.json::<Value>().await {
                        if let (_, Some(rev)) = workload::value_of(&v) {
                            return Ok(Some(rev));
                        }
                    }
                }
            }
        }
        Ok(None)
    })
    .await
}

/// Undoes every fault: heals the network, resumes paused members, restarts dead voters.
async fn heal(c: &mut Cluster, within: Duration) -> Result<(), ChaosError> {
    c.net.heal();
    let voters = c.members().await.unwrap_or_else(|_| c.nodes.keys().copied().collect());
    let ids: Vec<u64> = c.nodes.keys().copied().collect();
    for id in ids {
        c.resume(id)?;
        if voters.contains(&id) && !c.node(id)?.running() {
            c.restart(id).await?;
        }
    }
    c.wait_leader(within).await.map(|_| ())
}

/// Waits until every running voter has applied the same revision with the same state hash,
/// and the cluster accepts a write (a no-op marker write outside the keys under test is not
/// needed: the workload's last writes are committed by then).
async fn wait_converged(
    c: &Cluster,
    within: Duration,
) -> Result<Vec<NodeState>, (String, Vec<NodeState>)> {
    let client = http_client().map_err(|e| (e.to_string(), vec![]))?;
    let deadline = Instant::now() + within;
    loop {
        let voters = c.members().await.unwrap_or_default();
        let mut states = Vec::new();
        for id in &voters {
            let Ok(node) = c.node(*id) else { continue };
            if !node.running() {
                continue;
            }
            if let Ok(r) = client.get(node.url("/v1/cluster")).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    let me = v["members"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|m| m["id"].as_u64() == Some(*id))
                        .cloned()
                        .unwrap_or(Value::Null);
                    let applied = &me["status"]["applied"];
                    if let (Some(rev), Some(hash)) =
                        (applied["revision"].as_u64(), applied["stateHash"].as_str())
                    {
                        states.push(NodeState { node: *id, revision: rev, hash: hash.into() });
                    }
                }
            }
        }
        let same =
            states.windows(2).all(|w| w[0].revision == w[1].revision && w[0].hash == w[1].hash);
        if !voters.is_empty() && states.len() == voters.len() && same {
            return Ok(states);
        }
        if Instant::now() > deadline {
            return Err((
                format!("members did not converge within {within:?}: {states:?}"),
                states,
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The final event log (every retained event, via `/v1/audit`), split into events on the keys
/// under test and the revisions of anything else.
async fn fetch_log(c: &Cluster) -> Result<(Vec<LogEvent>, Vec<Revision>), ChaosError> {
    let client = http_client()?;
    let mut from = 1;
    let mut log = Vec::new();
    let mut other = Vec::new();
    let mut nodes: Vec<u64> = c.running_ids();
    nodes.rotate_left(1);
    'page: loop {
        let mut page = None;
        for id in &nodes {
            let url = c.node(*id)?.url(&format!("/v1/audit?from={from}&limit=5000"));
            if let Ok(r) = client.get(&url).timeout(Duration::from_secs(10)).send().await {
                if r.status().is_success() {
                    if let Ok(v) = r.json::<Value>().await {
                        page = Some(v);
                        break;
                    }
                }
            }
        }
        let page = page.ok_or_else(|| ChaosError::Liveness("no member serves /v1/audit".into()))?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break 'page;
        }
        for ev in &items {
            let revision = ev["revision"].as_u64().unwrap_or(0);
            from = revision + 1;
            let mut changes = Vec::new();
            let mut ours = true;
            for ch in ev["changes"].as_array().into_iter().flatten() {
                if ch["namespace"].as_str() != Some(NAMESPACE) || ch["kind"] != "VirtualService" {
                    ours = false;
                    continue;
                }
                let value = match ch["type"].as_str() {
                    Some("DELETED") => None,
                    _ => workload::value_of(&ch["object"]).0,
                };
                changes.push(LogChange { key: ch["name"].as_str().unwrap_or("").into(), value });
            }
            if ours && !changes.is_empty() {
                let request_id = ev["requestId"].as_str().unwrap_or("").to_owned();
                log.push(LogEvent { revision, request_id, changes });
            } else {
                other.push(revision);
            }
        }
    }
    Ok((log, other))
}

/// Linearizable reads of every key, from any member that answers.
async fn final_reads(c: &Cluster, keys: u32) -> Result<Vec<(String, Option<String>)>, ChaosError> {
    let client = http_client()?;
    let mut out = Vec::new();
    for k in 0..keys {
        let key = format!("k{k}");
        let mut got = None;
        for id in c.running_ids() {
            let url = c.node(id)?.url(&format!("{COLLECTION}/{key}"));
            if let Ok(r) = client.get(&url).send().await {
                match r.status().as_u16() {
                    200 => {
                        if let Ok(v) = r.json::<Value>().await {
                            got = Some(workload::value_of(&v).0);
                            break;
                        }
                    }
                    404 => {
                        got = Some(None);
                        break;
                    }
                    _ => {}
                }
            }
        }
        let v = got.ok_or_else(|| ChaosError::Liveness(format!("no member answers GET {key}")))?;
        out.push((key, v));
    }
    Ok(out)
}

/// Whether an op is one the report counts as a write (for summaries).
pub fn is_write(k: &OpKind) -> bool {
    k.is_write()
}

/// A compact summary line of a report.
pub fn summary(r: &Report) -> String {
    let failed: Vec<&str> =
        r.checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
    format!(
        "{:<30} nodes={} seed={} ops={} (ok {}, fail {}, unknown {}) faults={} watch-events={} final-rev={} {}",
        r.scenario,
        r.nodes,
        r.seed,
        r.ops.total,
        r.ops.ok,
        r.ops.fail,
        r.ops.unknown,
        r.faults.iter().filter(|f| f.kind != "heal").count(),
        r.watch_events,
        r.final_revision,
        if r.passed { "PASS".to_owned() } else { format!("FAIL {}", json!(failed)) }
    )
}
