//! Replay throughput: events/s to rebuild the configuration view from the event log, for 100k
//! and 1M events, next to a baseline — a raw scan of the same events (read + decode in place,
//! no view) — run side by side in the same process.
//!
//! `cargo bench -p istio-planes-view --bench replay` (or `-- 100000 1000000 5000000` for other sizes).

use istio_planes_view::config_view::ConfigView;
use istio_planes_view::{replay, View};
use istio_store::state_machine::StateMachine;
use istio_store::{Command, CommandOp, Op, ResourceKey, Txn};
use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
// tokio's clock, as everywhere in planes (clippy.toml); nothing pauses it here, so it is the
// monotonic wall clock the measurement needs.
use tokio::time::Instant;

/// The allocator istiod uses too (glibc malloc fragments badly under sled's workload).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: u64 = 10_000;

fn object(i: u64, gen: u64) -> Vec<u8> {
    format!(
        r#"{{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{{"name":"vs{i}","namespace":"ns{}","labels":{{"app":"app{}","version":"v{gen}"}}}},"spec":{{"hosts":["svc{i}.example.com"],"http":[{{"route":[{{"destination":{{"host":"svc{i}","subset":"v1"}},"weight":90}},{{"destination":{{"host":"svc{i}","subset":"v2"}},"weight":10}}]}}]}}}}"#,
        i % 20,
        i % 50
    )
    .into_bytes()
}

async fn build(n: u64) -> (tempfile::TempDir, StateMachine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::Config::new().path(dir.path()).cache_capacity(1 << 30).open().expect("sled");
    let mut sm = StateMachine::open(&db).expect("state machine");
    // Commands that fail (deletes of absent keys) consume no revision: go on until exactly
    // `n` events are committed.
    let mut index = 0;
    let mut committed = 0;
    while committed < n {
        let batch: Vec<Entry<istio_store::TypeConfig>> = (0..1000.min(n - committed))
            .map(|_| {
                index += 1;
                let i = index % KEYS;
                let key = ResourceKey::new(
                    "networking.istio.io",
                    "virtualservices",
                    &format!("ns{}", i % 20),
                    &format!("vs{i}"),
                );
                let op = if index % 10 == 9 {
                    Op::Delete { key }
                } else {
                    Op::Put { key, object: object(i, index / KEYS) }
                };
                // Deletes of absent keys fail and consume no revision; that is fine here.
                let cmd = Command {
                    request_id: format!("r{index}"),
                    actor: "bench".into(),
                    source: "bench".into(),
                    time_ms: index as i64,
                    verb: "apply".into(),
                    restores: None,
                    op: CommandOp::Txn(Txn { preconditions: vec![], ops: vec![op] }),
                };
                Entry {
                    log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
                    payload: EntryPayload::Normal(cmd),
                }
            })
            .collect();
        sm.apply(batch).await.expect("apply");
        committed = sm.shared().applied_state().revision;
    }
    // Let sled write everything back before measuring, so its background flushing does not
    // compete with the measured reads.
    db.flush().expect("flush");
    (dir, sm)
}

fn main() {
    let sizes: Vec<u64> =
        std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect::<Vec<_>>();
    let sizes = if sizes.is_empty() { vec![100_000, 1_000_000] } else { sizes };
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    println!(
        "{:>10} {:>10} {:>14} {:>14} {:>8}",
        "events", "objects", "replay ev/s", "scan ev/s", "ratio"
    );
    for n in sizes {
        let (_dir, sm) = rt.block_on(build(n));
        let shared = sm.shared();
        let rev = shared.applied_state().revision;
        let mut best_replay = f64::MAX;
        let mut best_scan = f64::MAX;
        let mut objects = 0;
        let rounds: usize =
            std::env::var("REPLAY_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
        for _ in 0..rounds {
            // Baseline: read and decode every event (in place, as replay does), nothing else.
            let t = Instant::now();
            let mut count = 0u64;
            let mut bytes = 0usize;
            shared
                .for_each_event(0, rev, |e| {
                    count += 1;
                    bytes += e
                        .changes
                        .iter()
                        .filter_map(|c| c.object)
                        .map(|o| o.object.len())
                        .sum::<usize>();
                })
                .expect("events");
            assert_eq!(count, rev);
            assert!(bytes > 0);
            best_scan = best_scan.min(t.elapsed().as_secs_f64());
            // Replay: checkpoint + every event folded into the view.
            let t = Instant::now();
            let v: ConfigView = replay(&shared, rev).expect("replay");
            best_replay = best_replay.min(t.elapsed().as_secs_f64());
            assert_eq!(v.revision(), rev);
            objects = v.len();
        }
        let (r, s) = (rev as f64 / best_replay, rev as f64 / best_scan);
        println!("{rev:>10} {objects:>10} {r:>14.0} {s:>14.0} {:>8.2}", r / s);
    }
}
