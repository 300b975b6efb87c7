//! Property test (seeded generator): for random sequences of applies, deletes and failed CAS
//! writes, with compactions along the way, the view built incrementally equals the view
//! rebuilt by `replay` — from revision 0 before compaction, from the checkpoint plus the tail
//! after — and `replay(N)` equals the state the live system had at N.
// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use istio_planes_view::config_view::ConfigView;
use istio_planes_view::{replay, View, ViewError};
use istio_store::state_machine::StateMachine;
use istio_store::{
    Command, CommandOp, Op, Precondition, Resource, ResourceKey, Revision, StoreError, Txn,
};
use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn key(i: u32) -> ResourceKey {
    let kind = if i % 2 == 0 { "virtualservices" } else { "destinationrules" };
    ResourceKey::new(
        "networking.istio.io",
        kind,
        if i % 3 == 0 { "a" } else { "b" },
        &format!("o{i}"),
    )
}

fn object(rng: &mut StdRng, i: u32) -> Vec<u8> {
    let app = ["web", "api", "db"][rng.gen_range(0..3)];
    format!(
        r#"{{"metadata":{{"name":"o{i}","labels":{{"app":"{app}"}}}},"spec":{{"v":{}}}}}"#,
        rng.gen::<u16>()
    )
    .into_bytes()
}

struct Live {
    sm: StateMachine,
    index: u64,
    n: u64,
}

impl Live {
    async fn apply(&mut self, op: CommandOp) {
        self.index += 1;
        self.n += 1;
        let cmd = Command {
            request_id: format!("r{}", self.n),
            actor: "prop".into(),
            source: "test".into(),
            time_ms: self.n as i64,
            verb: "test".into(),
            restores: None,
            op,
        };
        let e = Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), self.index),
            payload: EntryPayload::Normal(cmd),
        };
        self.sm.apply([e]).await.expect("apply");
    }
}

async fn run(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let mut live = Live { sm: StateMachine::open(&db).unwrap(), index: 0, n: 0 };
    let shared = live.sm.shared();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut view = ConfigView::default();
    let mut seen: BTreeMap<Revision, Vec<Resource>> = BTreeMap::from([(0, vec![])]);
    let mut compacted = false;
    for _ in 0..300 {
        let i = rng.gen_range(0..10);
        let op = match rng.gen_range(0..10) {
            0..=4 => CommandOp::Txn(Txn {
                preconditions: vec![],
                ops: vec![Op::Put { key: key(i), object: object(&mut rng, i) }],
            }),
            5 => {
                CommandOp::Txn(Txn { preconditions: vec![], ops: vec![Op::Delete { key: key(i) }] })
            }
            6 => CommandOp::Txn(Txn {
                preconditions: vec![Precondition::ModRevision(key(i), 999_999)],
                ops: vec![Op::Put { key: key(i), object: object(&mut rng, i) }],
            }),
            7 => {
                let j = rng.gen_range(0..10);
                CommandOp::Txn(Txn {
                    preconditions: vec![],
                    ops: vec![
                        Op::Put { key: key(i), object: object(&mut rng, i) },
                        Op::Put { key: key(j), object: object(&mut rng, j) },
                    ],
                })
            }
            8 => {
                let cur = shared.get(&key(i)).unwrap().0.map(|r| r.mod_revision);
                let pre = match cur {
                    Some(r) => Precondition::ModRevision(key(i), r),
                    None => Precondition::Absent(key(i)),
                };
                CommandOp::Txn(Txn {
                    preconditions: vec![pre],
                    ops: vec![Op::Put { key: key(i), object: object(&mut rng, i) }],
                })
            }
            _ => {
                let rev = shared.applied_state().revision;
                compacted |= rev > 20;
                CommandOp::Compact {
                    revision: rev.saturating_sub(rng.gen_range(5..40)),
                    dedup_before_ms: 0,
                }
            }
        };
        live.apply(op).await;
        // The incremental view follows the log.
        for ev in shared.events_after(view.revision(), 100).unwrap() {
            view.apply(&ev.as_ref());
        }
        let rev = shared.applied_state().revision;
        assert_eq!(view.revision(), rev, "seed {seed}: view lags");
        seen.insert(rev, shared.list(&istio_store::KeyPrefix::all()).unwrap().0);
        assert_eq!(view.all(), seen[&rev], "seed {seed}: incremental view differs at {rev}");
    }
    assert!(compacted, "seed {seed}: the run never compacted");
    let rev = shared.applied_state().revision;
    let (compact, _) = shared.checkpoint().unwrap();
    // Rebuilt from checkpoint + tail == incremental, byte for byte.
    let rebuilt: ConfigView = replay(&shared, rev).unwrap();
    assert_eq!(rebuilt, view, "seed {seed}: replay(now) differs from the live view");
    for (n, want) in seen.range(compact..) {
        let v: ConfigView = replay(&shared, *n).unwrap();
        assert_eq!(&v.all(), want, "seed {seed}: replay({n}) differs from the live state at {n}");
        assert_eq!(&shared.state_at(*n).unwrap(), want, "seed {seed}: state_at({n})");
    }
    if compact > 0 {
        assert!(matches!(
            replay::<ConfigView>(&shared, compact - 1),
            Err(ViewError::Store(StoreError::Compacted { .. }))
        ));
    }
    // The label index answers like a scan.
    let prefix = istio_store::KeyPrefix::resource("networking.istio.io", "virtualservices", None);
    let by_index = view.list(&prefix, Some(("app", "web")));
    let by_scan: Vec<Resource> = view
        .list(&prefix, None)
        .into_iter()
        .filter(|r| String::from_utf8_lossy(&r.object).contains(r#""app":"web""#))
        .collect();
    assert_eq!(by_index, by_scan, "seed {seed}: label index");
}

#[tokio::test]
async fn view_incremental_equals_replay_from_zero_and_from_checkpoint() {
    // Before any compaction: rebuilding from revision 0 equals the incremental view.
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    let mut live = Live { sm: StateMachine::open(&db).unwrap(), index: 0, n: 0 };
    let shared = live.sm.shared();
    let mut rng = StdRng::seed_from_u64(99);
    let mut view = ConfigView::default();
    for _ in 0..100 {
        let i = rng.gen_range(0..6);
        live.apply(CommandOp::Txn(Txn {
            preconditions: vec![],
            ops: vec![Op::Put { key: key(i), object: object(&mut rng, i) }],
        }))
        .await;
        for ev in shared.events_after(view.revision(), 100).unwrap() {
            view.apply(&ev.as_ref());
        }
    }
    assert_eq!(replay::<ConfigView>(&shared, 100).unwrap(), view);
    for seed in 1..=12 {
        run(seed).await;
    }
}
