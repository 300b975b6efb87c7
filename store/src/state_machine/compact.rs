//! Compaction and the checkpoint: folding old events into the state at the compaction point,
//! and reading state back from it.
//!
//! The leader proposes `CommandOp::Compact` (see [`crate::node`]'s compactor); every member
//! applies it identically here, folding the events up to the target revision into the
//! checkpoint (`c/…`, every resource as of the compaction point) and dropping them, and
//! forgetting idempotency entries older than the dedup window. Applying it is pure, like the
//! rest of [`super::apply`]: it reads and writes only the pending writes of its entry, so a
//! compaction batched after txns folds what they wrote.
//!
//! The readers here are the other side of the fold: [`Shared::state_at`] is checkpoint +
//! events up to N, for any N from the compaction point to now; [`Shared::checkpoint`] is what
//! views start from; [`Shared::last_revision_before`] is how the compactor honours
//! `--retain-for`. They live beside the fold because they are its inverse: a change to how
//! the checkpoint is written is a change to how these read it.

use std::collections::HashMap;

use serde::Deserialize;

use super::{resource_key_bytes, Head, Shared, CHECKPOINT, DEDUP, RES};
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::events;
use crate::pending::Pending;
use crate::types::*;

/// The leading field of an idempotency entry ([`super::apply::DedupEntry`]): decoding this
/// reads its time and nothing after it.
#[derive(Deserialize)]
struct DedupTime {
    time_ms: i64,
}

impl Head {
    /// Applies `CommandOp::Compact`: folds the events up to `revision` (at most the current
    /// one) into the checkpoint and drops them, then forgets the idempotency entries older than
    /// `dedup_before_ms` (`i64::MIN`: none).
    pub(super) fn apply_compact(
        &mut self,
        revision: Revision,
        dedup_before_ms: i64,
        pending: &mut Pending<'_>,
    ) -> Result<Response, StoreError> {
        let target = revision.min(self.revision);
        if target > self.compact {
            // Fold the events into the checkpoint (state at `target`), then drop them.
            let mut fold: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
            let mut reader = events::Reader::new(&*pending);
            for rev in self.compact + 1..=target {
                for c in reader.expect(rev, self.revision)?.changes {
                    let ck = [CHECKPOINT, &resource_key_bytes(&c.key)[RES.len()..]].concat();
                    fold.insert(ck, c.object.map(|o| encode(&o)));
                }
            }
            events::remove_through(pending, self.compact, target);
            for (k, v) in fold {
                match v {
                    Some(v) => pending.insert(k, v),
                    None => pending.remove(k),
                }
            }
            self.compact = target;
        }
        // Forgetting looks at every idempotency entry, so only its time is decoded (the
        // outcome after it, with the objects, is left alone); `i64::MIN` forgets none and
        // skips the scan (the compactor asks for it every tenth of the window).
        let mut expired = Vec::new();
        if dedup_before_ms > i64::MIN {
            pending.for_each_prefix(DEDUP, |k, v| {
                let d: DedupTime = decode(v, "idempotency entry")?;
                if d.time_ms < dedup_before_ms {
                    expired.push(k.to_vec());
                }
                Ok(())
            })?;
        }
        for k in expired {
            pending.remove(k);
        }
        Ok(Response::Compacted { revision: self.compact })
    }
}

impl Shared {
    /// The last revision, at most `limit`, whose event is older than `cutoff_ms` (or the
    /// compaction point if none is).
    pub fn last_revision_before(
        &self,
        cutoff_ms: i64,
        limit: Revision,
    ) -> Result<Revision, StoreError> {
        let g = self.read();
        let mut last = g.head.compact;
        let mut reader = events::Reader::new(&g.tree);
        for rev in g.head.compact + 1..=g.head.revision.min(limit) {
            if reader.expect(rev, g.head.revision)?.time_ms >= cutoff_ms {
                break;
            }
            last = rev;
        }
        Ok(last)
    }

    /// The checkpoint: the compaction point and every resource as of it, in key order.
    pub fn checkpoint(&self) -> Result<(Revision, Vec<Resource>), StoreError> {
        let g = self.read();
        let mut out = Vec::new();
        for (_, v) in g.tree.scan_prefix(CHECKPOINT) {
            out.push(decode(v, "checkpoint resource")?);
        }
        Ok((g.head.compact, out))
    }

    /// Every resource as of `revision`: the checkpoint (state at the compaction point) plus the
    /// retained events up to `revision`, in key order. `Compacted` below the compaction point,
    /// `FutureRevision` above the current revision.
    pub fn state_at(&self, revision: Revision) -> Result<Vec<Resource>, StoreError> {
        let g = self.read();
        if revision < g.head.compact {
            return Err(StoreError::Compacted { requested: revision, oldest: g.head.compact });
        }
        if revision > g.head.revision {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: g.head.revision,
            });
        }
        let mut state: std::collections::BTreeMap<Vec<u8>, Resource> = Default::default();
        for (k, v) in g.tree.scan_prefix(CHECKPOINT) {
            state.insert(k[CHECKPOINT.len()..].to_vec(), decode(v, "checkpoint resource")?);
        }
        let mut reader = events::Reader::new(&g.tree);
        for rev in g.head.compact + 1..=revision {
            for c in reader.expect(rev, g.head.revision)?.changes {
                let kb = resource_key_bytes(&c.key)[RES.len()..].to_vec();
                match c.object {
                    Some(o) => state.insert(kb, o),
                    None => state.remove(&kb),
                };
            }
        }
        Ok(state.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::apply::DedupEntry;
    use super::super::fixture::*;
    use super::super::{seed, StateMachine};
    use super::*;

    #[tokio::test]
    async fn compaction_drops_events_and_old_dedup_entries() {
        let mut f = open();
        for i in 0..10 {
            f.txn(&format!("r{i}"), vec![], vec![put("a", &i.to_string())]).await;
        }
        // `i64::MIN` compacts events and forgets no idempotency entry.
        let r = f.apply(cmd("c0", CommandOp::Compact { revision: 3, dedup_before_ms: i64::MIN }));
        assert_eq!(r.await, Response::Compacted { revision: 3 });
        let o = f.txn("r0", vec![], vec![put("a", "x")]).await;
        assert!(matches!(o, TxnOutcome::Committed { revision: 1, .. }), "still remembered");
        let r = f.apply(cmd("c", CommandOp::Compact { revision: 6, dedup_before_ms: 2000 })).await;
        assert_eq!(r, Response::Compacted { revision: 6 });
        assert!(matches!(
            f.sm.shared.events_after(5, 10),
            Err(StoreError::Compacted { requested: 6, oldest: 7 })
        ));
        assert_eq!(f.sm.shared.events_after(6, 10).unwrap().len(), 4);
        // Dedup entries were at time 1000 < 2000: forgotten, so "r0" applies anew.
        let o = f.txn("r0", vec![], vec![put("a", "x")]).await;
        assert!(matches!(o, TxnOutcome::Committed { revision: 11, .. }));
    }

    #[tokio::test]
    async fn state_at_any_retained_revision_matches_history() {
        let mut f = open();
        let mut seen = vec![Vec::new()];
        for i in 0..30u32 {
            let k = format!("k{}", i % 5);
            let ops = if i % 7 == 6 {
                vec![Op::Delete { key: key(&k) }]
            } else {
                vec![put(&k, &i.to_string())]
            };
            f.txn(&format!("r{i}"), vec![], ops).await;
            seen.push(f.sm.shared.list(&KeyPrefix::all()).unwrap().0);
        }
        let rev = f.rev() as usize;
        assert_eq!(seen.len(), rev + 1);
        for (n, want) in seen.iter().enumerate() {
            let got = f.sm.shared.state_at(n as u64).unwrap();
            assert_eq!(&got, want, "before compaction, at {n}");
        }
        f.apply(cmd("c1", CommandOp::Compact { revision: 10, dedup_before_ms: 0 })).await;
        f.apply(cmd("c2", CommandOp::Compact { revision: 17, dedup_before_ms: 0 })).await;
        assert!(matches!(f.sm.shared.state_at(16), Err(StoreError::Compacted { .. })));
        assert!(matches!(
            f.sm.shared.state_at(rev as u64 + 1),
            Err(StoreError::FutureRevision { .. })
        ));
        for (n, want) in seen.iter().enumerate().skip(17) {
            let got = f.sm.shared.state_at(n as u64).unwrap();
            assert_eq!(&got, want, "after compaction, at {n}");
        }
    }

    #[tokio::test]
    async fn last_revision_before_a_time() {
        let mut f = open();
        for t in [100, 200, 300, 400] {
            let mut c = cmd(
                &format!("t{t}"),
                CommandOp::Txn(Txn { preconditions: vec![], ops: vec![put("a", "x")] }),
            );
            c.time_ms = t;
            f.apply(c).await;
        }
        let sh = &f.sm.shared;
        assert_eq!(sh.last_revision_before(250, 10).unwrap(), 2);
        assert_eq!(sh.last_revision_before(250, 1).unwrap(), 1, "bounded by the limit");
        assert_eq!(sh.last_revision_before(50, 10).unwrap(), 0);
        assert_eq!(sh.last_revision_before(1_000, 10).unwrap(), 4);
    }

    /// Events across many sealed chunks, compaction in the middle of a chunk (then sealing
    /// the rest of it), reads at every revision, export and restore, and snapshot install.
    #[tokio::test]
    async fn events_across_sealed_chunks_and_mid_chunk_compaction() {
        use crate::events::CHUNK;
        let mut f = open();
        let mut all = Vec::new();
        let total = 4 * CHUNK + 37;
        let compact_at = CHUNK + 100;
        for i in 0..total {
            if f.rev() == compact_at {
                all = f.sm.shared.events_after(0, usize::MAX).unwrap();
                let r = f.apply(cmd(
                    "c",
                    CommandOp::Compact { revision: compact_at, dedup_before_ms: 0 },
                ));
                assert_eq!(r.await, Response::Compacted { revision: compact_at });
            }
            let n = format!("k{}", i % 17);
            let op = if i % 5 == 4 { Op::Delete { key: key(&n) } } else { put(&n, &i.to_string()) };
            f.txn(&format!("r{i}"), vec![], vec![op]).await;
        }
        let rev = f.rev();
        assert!(rev > 3 * CHUNK, "enough events to seal several chunks ({rev})");
        let sealed = f.sm.shared.read().tree.scan_prefix(crate::events::SEALED).count();
        assert!(sealed >= 2, "chunks were sealed ({sealed})");
        let tail = f.sm.shared.events_after(compact_at, usize::MAX).unwrap();
        assert_eq!(tail.len() as u64, rev - compact_at);
        for (i, e) in tail.iter().enumerate() {
            assert_eq!(e.revision, compact_at + 1 + i as u64);
        }
        // The events before compaction read the same as they did when written.
        assert_eq!(all.len() as u64, compact_at);
        // Every revision from the compaction point: state_at folds the same as replaying.
        let (cp_rev, cp) = f.sm.shared.checkpoint().unwrap();
        assert_eq!(cp_rev, compact_at);
        let mut state: std::collections::BTreeMap<ResourceKey, Resource> =
            cp.into_iter().map(|r| (r.key.clone(), r)).collect();
        for e in &tail {
            for c in &e.changes {
                match &c.object {
                    Some(o) => state.insert(c.key.clone(), o.clone()),
                    None => state.remove(&c.key),
                };
            }
            if e.revision % 97 == 0 || e.revision == rev {
                let at = f.sm.shared.state_at(e.revision).unwrap();
                assert_eq!(at, state.values().cloned().collect::<Vec<_>>(), "at {}", e.revision);
            }
        }
        // Export, then seed a fresh store from it: same events, same hash.
        let records = f.sm.shared.export().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let seeded = seed(&db, &records).unwrap();
        let restored = StateMachine::open(&db).unwrap();
        assert_eq!(seeded.state_hash, f.sm.shared.applied_state().state_hash);
        assert_eq!(restored.shared.events_after(compact_at, usize::MAX).unwrap(), tail);
        assert_eq!(restored.shared.export().unwrap(), records);
        // Compacting again past several sealed chunks leaves only the straddling one.
        let again = rev - 10;
        f.apply(cmd("c2", CommandOp::Compact { revision: again, dedup_before_ms: 0 })).await;
        assert_eq!(
            f.sm.shared.events_after(again, usize::MAX).unwrap()[..],
            tail[tail.len() - 10..]
        );
        let sealed = f.sm.shared.read().tree.scan_prefix(crate::events::SEALED).count();
        assert!(sealed <= 1, "whole chunks below the compaction point are gone ({sealed})");
    }

    /// Compaction reads only the time of each idempotency entry; it is the same time the
    /// whole entry holds.
    #[test]
    fn an_idempotency_entry_time_decodes_alone() {
        let outcome = TxnOutcome::Committed { revision: 7, results: vec![], existed: vec![] };
        let bytes = encode(&DedupEntry { time_ms: -1_234_567_890_123, outcome: &outcome });
        let whole: DedupEntry = decode(&bytes, "idempotency entry").unwrap();
        let time: DedupTime = decode(&bytes, "idempotency entry").unwrap();
        assert_eq!(time.time_ms, whole.time_ms);
        assert_eq!(time.time_ms, -1_234_567_890_123);
    }
}
