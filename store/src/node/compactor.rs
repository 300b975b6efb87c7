//! The leader's periodic compaction: what decides when `CommandOp::Compact` is proposed.
//!
//! Every 500 ms the leader looks at its applied state. An event is retained while it is among
//! the last `--retain-revisions` OR younger than `--retain-for`; when events older than both
//! are retained, it proposes compacting through the last of them (every member then folds
//! them into the checkpoint, [`crate::state_machine`]). Forgetting idempotency keys older than
//! the dedup window looks at every key, so it is asked for only every tenth of the window
//! (`dedup_before_ms = i64::MIN` otherwise: forget none and skip the scan).
//!
//! The loop is written against a small [`Host`] trait — the leader check, the config, the
//! applied state, the wall clock and "propose this" — that [`StoreNode`] implements, so that
//! the tests below drive it over a real state machine under paused time, without a cluster,
//! and see exactly when it proposes what.

use std::future::Future;
use std::sync::Weak;
use std::time::Duration;

use tokio::time::Instant;

use super::{StoreConfig, StoreNode};
use crate::state_machine::Shared;
use crate::types::*;

/// What the compaction loop needs of the member it runs on.
pub(super) trait Host: Send + Sync + 'static {
    /// The retention settings (`retain_revisions`, `retain_for`, `dedup_window`) and the id.
    fn config(&self) -> &StoreConfig;
    /// Whether this member currently believes it is the leader.
    fn is_leader(&self) -> bool;
    /// The applied state.
    fn state(&self) -> &Shared;
    /// Wall-clock milliseconds since the epoch (what commands are stamped with).
    fn now_ms(&self) -> i64;
    /// Proposes `cmd` (a compaction) and waits for it to commit.
    fn propose_compaction(&self, cmd: Command) -> impl Future<Output = Result<(), String>> + Send;
}

impl Host for StoreNode {
    fn config(&self) -> &StoreConfig {
        &self.cfg
    }
    fn is_leader(&self) -> bool {
        StoreNode::is_leader(self)
    }
    fn state(&self) -> &Shared {
        &self.sm
    }
    fn now_ms(&self) -> i64 {
        crate::clock::now_ms()
    }
    async fn propose_compaction(&self, cmd: Command) -> Result<(), String> {
        self.raft.client_write(cmd).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// On the leader: proposes compaction when more than `retain_revisions` events older than
/// `retain_for` are retained, and forgets idempotency keys older than `dedup_window`. Ends
/// when the host is dropped.
pub(super) async fn run<H: Host>(host: Weak<H>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_dedup_prune = Instant::now();
    loop {
        tick.tick().await;
        let Some(n) = host.upgrade() else { return };
        if !n.is_leader() {
            continue;
        }
        let cfg = n.config();
        let st = n.state().applied_state();
        let mut target = st.revision.saturating_sub(cfg.retain_revisions);
        if let Some(d) = cfg.retain_for {
            let cutoff = n.now_ms() - d.as_millis() as i64;
            match n.state().last_revision_before(cutoff, target) {
                Ok(r) => target = target.min(r),
                Err(e) => tracing::warn!(error = %e, "compaction: cannot read event times"),
            }
        }
        let excess = target.saturating_sub(st.compact_revision);
        let prune = last_dedup_prune.elapsed() > cfg.dedup_window / 10;
        if excess == 0 && !prune {
            continue;
        }
        let cmd = Command {
            request_id: format!("compact-{}-{}", cfg.id, rand::random::<u64>()),
            actor: "system:compactor".into(),
            source: format!("istiod-{}", cfg.id),
            time_ms: n.now_ms(),
            verb: "compact".into(),
            restores: None,
            op: CommandOp::Compact {
                revision: target.max(st.compact_revision),
                // Forgetting idempotency keys looks at every one of them, so it is asked
                // for only every tenth of the window (`i64::MIN`: forget none).
                dedup_before_ms: if prune {
                    n.now_ms() - cfg.dedup_window.as_millis() as i64
                } else {
                    i64::MIN
                },
            },
        };
        match n.propose_compaction(cmd).await {
            Ok(()) if prune => last_dedup_prune = Instant::now(),
            Ok(()) => {}
            Err(e) => tracing::debug!(error = %e, "compaction not proposed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    use openraft::storage::RaftStateMachine;
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
    use parking_lot::Mutex;
    use tokio::time::sleep_until;

    use super::*;
    use crate::state_machine::StateMachine;

    /// The wall clock the fake starts at (ms since the epoch); it advances with tokio's clock.
    const EPOCH_MS: i64 = 1_700_000_000_000;

    /// A member without Raft: a state machine that each proposal is applied to at once, a
    /// wall clock that moves with tokio's (paused) clock, and a record of what was proposed
    /// when.
    struct Fake {
        _dir: tempfile::TempDir,
        cfg: StoreConfig,
        leader: AtomicBool,
        start: Instant,
        sm: tokio::sync::Mutex<StateMachine>,
        shared: Arc<Shared>,
        index: AtomicU64,
        /// (ms from the start, revision, dedup_before_ms) of each compaction proposed.
        compactions: Mutex<Vec<(u64, Revision, i64)>>,
    }

    impl Host for Fake {
        fn config(&self) -> &StoreConfig {
            &self.cfg
        }
        fn is_leader(&self) -> bool {
            self.leader.load(Ordering::Relaxed)
        }
        fn state(&self) -> &Shared {
            &self.shared
        }
        fn now_ms(&self) -> i64 {
            EPOCH_MS + self.start.elapsed().as_millis() as i64
        }
        async fn propose_compaction(&self, cmd: Command) -> Result<(), String> {
            if let CommandOp::Compact { revision, dedup_before_ms } = cmd.op {
                let at = self.start.elapsed().as_millis() as u64;
                self.compactions.lock().push((at, revision, dedup_before_ms));
            }
            self.apply(cmd).await;
            Ok(())
        }
    }

    impl Fake {
        fn new(leader: bool, cfg: impl FnOnce(&mut StoreConfig)) -> Arc<Self> {
            let dir = tempfile::tempdir().unwrap();
            let mut config = StoreConfig::new(1, dir.path());
            cfg(&mut config);
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let sm = StateMachine::open(&db).unwrap();
            Arc::new(Self {
                _dir: dir,
                cfg: config,
                leader: AtomicBool::new(leader),
                start: Instant::now(),
                shared: sm.shared(),
                sm: tokio::sync::Mutex::new(sm),
                index: AtomicU64::new(0),
                compactions: Mutex::default(),
            })
        }

        /// Starts the compaction loop on this member.
        fn spawn(self: &Arc<Self>) {
            tokio::spawn(run(Arc::downgrade(self)));
        }

        async fn apply(&self, cmd: Command) -> Response {
            let index = self.index.fetch_add(1, Ordering::Relaxed) + 1;
            let entry = Entry {
                log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
                payload: EntryPayload::Normal(cmd),
            };
            self.sm.lock().await.apply([entry]).await.unwrap().remove(0)
        }

        /// A txn stamped now, as a proposer stamps it.
        async fn write(&self, id: &str) -> Response {
            let cmd = Command {
                request_id: id.into(),
                actor: "tester".into(),
                source: "test".into(),
                time_ms: self.now_ms(),
                verb: "test".into(),
                restores: None,
                op: CommandOp::Txn(Txn {
                    preconditions: vec![],
                    ops: vec![Op::Put {
                        key: ResourceKey::new("g", "things", "ns", id),
                        object: b"x".to_vec(),
                    }],
                }),
            };
            self.apply(cmd).await
        }

        async fn writes(&self, ids: std::ops::Range<u32>) {
            for i in ids {
                self.write(&format!("w{i}")).await;
            }
        }

        async fn until(&self, s: f64) {
            sleep_until(self.start + Duration::from_secs_f64(s)).await;
        }

        fn compact_revision(&self) -> Revision {
            self.shared.applied_state().compact_revision
        }

        fn compactions(&self) -> Vec<(u64, Revision)> {
            self.compactions.lock().iter().map(|(at, rev, _)| (*at, *rev)).collect()
        }
    }

    /// With `--retain-for`, events younger than it are retained even beyond
    /// `--retain-revisions`; compaction is proposed once they age, and only through the ones
    /// that are both old enough and beyond the count.
    #[tokio::test(start_paused = true)]
    async fn events_younger_than_retain_for_are_kept_beyond_retain_revisions() {
        let fake = Fake::new(true, |c| {
            c.retain_revisions = 5;
            c.retain_for = Some(Duration::from_secs(30));
            c.dedup_window = Duration::from_secs(86_400);
        });
        fake.spawn();
        fake.writes(0..20).await; // revisions 1..=20 at 0 s
        fake.until(20.0).await;
        fake.writes(20..40).await; // revisions 21..=40 at 20 s
        fake.until(30.2).await;
        assert_eq!(fake.compact_revision(), 0, "every event is younger than 30 s");
        assert!(fake.compactions().is_empty(), "{:?}", fake.compactions());
        fake.until(31.0).await;
        // At 30.5 s the first twenty are older than 30 s; the other twenty, beyond the last
        // five, are younger and stay.
        assert_eq!(fake.compactions(), [(30_500, 20)]);
        assert_eq!(fake.compact_revision(), 20);
        assert_eq!(fake.shared.events_after(20, usize::MAX).unwrap().len(), 20);
        fake.until(60.0).await;
        // At 50.5 s all are older than 30 s: the count decides, the last five stay.
        assert_eq!(fake.compactions(), [(30_500, 20), (50_500, 35)]);
        assert_eq!(fake.compact_revision(), 35);
        assert_eq!(fake.shared.events_after(35, usize::MAX).unwrap().len(), 5);
    }

    /// Without `--retain-for` the count alone decides; a member that is not the leader
    /// proposes nothing.
    #[tokio::test(start_paused = true)]
    async fn without_retain_for_the_count_decides_and_only_the_leader_proposes() {
        let fake = Fake::new(false, |c| {
            c.retain_revisions = 5;
            c.dedup_window = Duration::from_secs(86_400);
        });
        fake.spawn();
        fake.writes(0..20).await;
        fake.until(10.2).await;
        assert!(fake.compactions().is_empty(), "a follower proposed {:?}", fake.compactions());
        fake.leader.store(true, Ordering::Relaxed);
        fake.until(10.6).await;
        assert_eq!(fake.compactions(), [(10_500, 15)]);
        assert_eq!(fake.compact_revision(), 15);
        fake.writes(20..23).await;
        fake.until(20.0).await;
        assert_eq!(fake.compactions(), [(10_500, 15), (11_000, 18)]);
    }

    /// Idempotency keys are forgotten only by a compaction that asks for it, every tenth of
    /// the dedup window; the ones in between forget none. A key is remembered for the
    /// window, then forgotten by the next prune.
    #[tokio::test(start_paused = true)]
    async fn idempotency_keys_are_pruned_every_tenth_of_the_window() {
        let fake = Fake::new(true, |c| {
            c.retain_revisions = 1_000;
            c.dedup_window = Duration::from_secs(100);
        });
        fake.spawn();
        let first = fake.write("once").await;
        assert!(matches!(first, Response::Txn { deduplicated: false, .. }));
        fake.until(95.0).await;
        let again = fake.write("once").await;
        assert!(matches!(again, Response::Txn { deduplicated: true, .. }), "{again:?}");
        fake.until(106.0).await;
        let prunes: Vec<(u64, i64)> =
            fake.compactions.lock().iter().map(|(at, _, before)| (*at, *before)).collect();
        // Strictly more than 10 s after the last one: at the tick after each tenth.
        let want: Vec<(u64, i64)> = (1..=10u64)
            .map(|i| i * 10_500)
            .map(|at| (at, EPOCH_MS + at as i64 - 100_000))
            .collect();
        assert_eq!(prunes, want);
        let after = fake.write("once").await;
        assert!(
            matches!(after, Response::Txn { deduplicated: false, .. }),
            "forgotten by the prune at 105 s: {after:?}"
        );
    }
}
