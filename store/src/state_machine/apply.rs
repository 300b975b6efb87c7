//! Applying a committed entry to the in-memory map: the pure core of the state machine.
//!
//! Nothing here does I/O, takes a lock or talks to openraft: [`Inner::apply_entry`] is
//! handed the map (under the write lock [`super::StateMachine`] holds) and an entry, and
//! returns the response and whether watchers should hear of a new revision. Keeping this
//! apart from the openraft glue in [`super`] (which locks, notifies and maps errors into
//! openraft's) is what lets the tests drive every rule of applying — dense revisions,
//! preconditions, idempotency, batches reading their own writes, all-or-nothing entries — on
//! a bare state machine, and what makes the determinism invariant easy to check: applying
//! reads nothing but the command and the map.
//!
//! A batch entry (`CommandOp::Batch`, the leader's group commit of concurrent txns) applies
//! its commands in order into one set of pending writes ([`Pending`]), and every read made
//! while applying one goes through it, so each command sees what the ones before it wrote.
//! The `m/` keys are written once per entry, at the end, from the in-memory summary
//! ([`Head`]). An entry that fails with a store error writes nothing and leaves the summary
//! as it was; a txn that fails (precondition, missing delete target) writes only its
//! idempotency entry and consumes no revision. Compaction, the other command, is in
//! [`super::compact`].

use std::collections::{hash_map, HashMap};

use openraft::{Entry, EntryPayload, StoredMembership};
use serde::{Deserialize, Serialize};
use sled::IVec;

use super::{
    resource_hash, resource_key_bytes, xor, Head, Inner, APPLIED, COMPACT, DEDUP, HASH, MEMBERSHIP,
    REVISION,
};
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::events;
use crate::pending::{Get, Pending};
use crate::types::*;

/// An idempotency entry; written from a borrowed outcome (`DedupEntry<&TxnOutcome>`, the same
/// encoding), read back owned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct DedupEntry<O = TxnOutcome> {
    pub(super) time_ms: i64,
    pub(super) outcome: O,
}

/// [`Event`]'s encoding, written from borrowed parts (the command's strings, the txn's keys,
/// the results and the objects they replaced) so that applying a txn copies none of them.
/// Field for field the same as [`Event`]; `encodes_like_the_owned_types` checks the bytes.
#[derive(Serialize)]
struct EventOut<'a> {
    revision: Revision,
    time_ms: i64,
    actor: &'a str,
    source: &'a str,
    request_id: &'a str,
    verb: &'a str,
    restores: Option<Revision>,
    changes: Vec<ChangeOut<'a>>,
}

/// [`Change`]'s encoding, borrowed (see [`EventOut`]).
#[derive(Serialize)]
struct ChangeOut<'a> {
    kind: ChangeType,
    key: &'a ResourceKey,
    object: Option<&'a Resource>,
    previous: Option<&'a Resource>,
}

/// A stored resource: decoded, and the record it was decoded from (what the state hash
/// covers, as in [`super::Shared::recompute_hash`]).
struct Stored {
    res: Resource,
    record: IVec,
}

fn read_stored(src: &impl Get, key: &[u8]) -> Result<Option<Stored>, StoreError> {
    match src.get(key)? {
        Some(record) => Ok(Some(Stored { res: decode(&record, "resource")?, record })),
        None => Ok(None),
    }
}

impl Inner {
    /// Applies one entry to the map at once: its commands' writes, then the revision, hash
    /// and compaction point if they moved, the membership, and `applied`. Returns the
    /// response and, if the entry wrote a revision or compacted, the revision to announce to
    /// watchers. On error nothing is written and the summary is as it was.
    pub(super) fn apply_entry(
        &mut self,
        entry: &Entry<TypeConfig>,
    ) -> Result<(Response, Option<Revision>), StoreError> {
        // What applying commands changes in memory. Nothing of a failed entry is written, so
        // on error this is put back and the summary matches the map again.
        let before = self.head;
        let mut pending = Pending::new(&self.tree);
        let mut membership = None;
        let result = match &entry.payload {
            EntryPayload::Blank => Ok(Response::None),
            EntryPayload::Normal(Command { op: CommandOp::Batch(cmds), .. }) => {
                // In order, each reading through `pending` what the ones before it wrote.
                cmds.iter()
                    .map(|cmd| self.head.apply_command(cmd, &mut pending))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Response::Batch)
            }
            EntryPayload::Normal(cmd) => self.head.apply_command(cmd, &mut pending),
            EntryPayload::Membership(m) => {
                membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                Ok(Response::None)
            }
        };
        let writes = pending.into_writes();
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                self.head = before;
                return Err(e);
            }
        };
        self.tree.apply(writes);
        if self.head.revision != before.revision {
            self.tree.insert(REVISION, encode(&self.head.revision));
            self.tree.insert(HASH, encode(&self.head.hash));
        }
        if self.head.compact != before.compact {
            self.tree.insert(COMPACT, encode(&self.head.compact));
        }
        if let Some(m) = &membership {
            self.tree.insert(MEMBERSHIP, encode(m));
        }
        let applied = Some(entry.log_id);
        self.tree.insert(APPLIED, encode(&applied));
        self.applied = applied;
        if let Some(m) = membership {
            self.membership = m;
        }
        let rev = self.head.revision;
        let wrote = |r: &Response| {
            matches!(r, Response::Txn { deduplicated: false, .. } | Response::Compacted { .. })
        };
        let changed = match &resp {
            Response::Batch(rs) => rs.iter().any(wrote),
            r => wrote(r),
        };
        Ok((resp, changed.then_some(rev)))
    }
}

impl Head {
    /// Applies one command into `pending` (reading through it, so it sees the writes of the
    /// commands applied before it in the same entry) and updates the in-memory revision, hash
    /// and compaction point; the caller writes those and commits. On error the caller drops
    /// `pending` and restores the summary.
    fn apply_command(
        &mut self,
        cmd: &Command,
        pending: &mut Pending<'_>,
    ) -> Result<Response, StoreError> {
        let dedup_key = [DEDUP, cmd.request_id.as_bytes()].concat();
        if let Some(v) = pending.get(&dedup_key)? {
            let d: DedupEntry = decode(&v, "idempotency entry")?;
            return Ok(Response::Txn { outcome: d.outcome, deduplicated: true });
        }
        match &cmd.op {
            CommandOp::Txn(txn) => {
                let outcome = self.apply_txn(cmd, txn, pending)?;
                let entry = DedupEntry { time_ms: cmd.time_ms, outcome: &outcome };
                pending.insert(dedup_key, encode(&entry));
                Ok(Response::Txn { outcome, deduplicated: false })
            }
            CommandOp::Compact { revision, dedup_before_ms } => {
                self.apply_compact(*revision, *dedup_before_ms, pending)
            }
            CommandOp::Batch(_) => {
                // The proposer never nests batches; every member answers the same.
                tracing::error!(request = %cmd.request_id, "nested command batch ignored");
                Ok(Response::None)
            }
        }
    }

    fn apply_txn(
        &mut self,
        cmd: &Command,
        txn: &Txn,
        pending: &mut Pending<'_>,
    ) -> Result<TxnOutcome, StoreError> {
        // The keys the preconditions read, as of before the txn; the ops reuse them.
        let mut read: HashMap<Vec<u8>, Option<Stored>> = HashMap::new();
        for (index, cond) in txn.preconditions.iter().enumerate() {
            let stored = match read.entry(resource_key_bytes(cond.key())) {
                hash_map::Entry::Occupied(e) => e.into_mut(),
                hash_map::Entry::Vacant(e) => {
                    let s = read_stored(pending, e.key())?;
                    e.insert(s)
                }
            };
            let actual = stored.as_ref().map(|s| s.res.mod_revision);
            let ok = match cond {
                Precondition::Absent(_) => actual.is_none(),
                Precondition::Exists(_) => actual.is_some(),
                Precondition::ModRevision(_, want) => actual == Some(*want),
            };
            if !ok {
                return Ok(TxnOutcome::Failed {
                    revision: self.revision,
                    failure: TxnFailure::Precondition { index, condition: cond.clone(), actual },
                });
            }
        }
        if txn.ops.is_empty() {
            return Ok(TxnOutcome::Committed {
                revision: self.revision,
                results: vec![],
                existed: vec![],
            });
        }
        let rev = self.revision + 1;
        let n = txn.ops.len();
        // Within-txn view: later ops see earlier ops' effects. Each key the txn wrote maps to
        // `None` (deleted) or the index of its new object in `results` and that object's
        // record.
        let mut written: HashMap<Vec<u8>, Option<(usize, IVec)>> = HashMap::with_capacity(n);
        // Per op: for a put, the object written; for a delete, the object removed.
        let mut results: Vec<Resource> = Vec::with_capacity(n);
        // Per op: for a put, the object it replaced (the change's `previous`).
        let mut replaced: Vec<Option<Resource>> = Vec::with_capacity(n);
        let mut existed = Vec::with_capacity(n);
        let mut hash = self.hash;
        for op in &txn.ops {
            let kb = resource_key_bytes(op.key());
            let current = match written.get(&kb) {
                Some(Some((i, record))) => {
                    Some(Stored { res: results[*i].clone(), record: record.clone() })
                }
                Some(None) => None,
                None => match read.remove(&kb) {
                    Some(s) => s,
                    None => read_stored(pending, &kb)?,
                },
            };
            if let Some(cur) = &current {
                xor(&mut hash, &resource_hash(&kb, &cur.record));
            }
            existed.push(current.is_some());
            let current = current.map(|s| s.res);
            match op {
                Op::Put { key, object } => {
                    let res = Resource {
                        key: key.clone(),
                        object: object.clone(),
                        create_revision: current.as_ref().map_or(rev, |c| c.create_revision),
                        mod_revision: rev,
                        version: current.as_ref().map_or(1, |c| c.version + 1),
                        create_time_ms: current.as_ref().map_or(cmd.time_ms, |c| c.create_time_ms),
                    };
                    let record = IVec::from(encode(&res));
                    xor(&mut hash, &resource_hash(&kb, &record));
                    written.insert(kb, Some((results.len(), record)));
                    results.push(res);
                    replaced.push(current);
                }
                Op::Delete { key } => {
                    let Some(prev) = current else {
                        return Ok(TxnOutcome::Failed {
                            revision: self.revision,
                            failure: TxnFailure::NotFound { key: key.clone() },
                        });
                    };
                    written.insert(kb, None);
                    results.push(prev);
                    replaced.push(None);
                }
            }
        }
        let changes = txn
            .ops
            .iter()
            .zip(&results)
            .zip(&replaced)
            .map(|((op, res), prev)| match op {
                Op::Put { key, .. } => ChangeOut {
                    kind: if prev.is_some() { ChangeType::Modified } else { ChangeType::Added },
                    key,
                    object: Some(res),
                    previous: prev.as_ref(),
                },
                Op::Delete { key } => {
                    ChangeOut { kind: ChangeType::Deleted, key, object: None, previous: Some(res) }
                }
            })
            .collect();
        let event = encode(&EventOut {
            revision: rev,
            time_ms: cmd.time_ms,
            actor: &cmd.actor,
            source: &cmd.source,
            request_id: &cmd.request_id,
            verb: &cmd.verb,
            restores: cmd.restores,
            changes,
        });
        for (kb, v) in written {
            match v {
                Some((_, record)) => pending.insert(kb, record),
                None => pending.remove(kb),
            }
        }
        events::append(pending, self.compact, rev, event)?;
        self.revision = rev;
        self.hash = hash;
        Ok(TxnOutcome::Committed { revision: rev, results, existed })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::*;
    use crate::state_machine::resource_key_bytes;
    use openraft::storage::RaftStateMachine;
    use openraft::{CommittedLeaderId, LogId};

    #[tokio::test]
    async fn txn_revisions_preconditions_and_events() {
        let mut f = open();
        let o = f
            .txn("1", vec![Precondition::Absent(key("a"))], vec![put("a", "1"), put("b", "1")])
            .await;
        let TxnOutcome::Committed { revision, results, existed } = o else { panic!() };
        assert_eq!((revision, existed), (1, vec![false, false]));
        assert_eq!(
            (results[0].create_revision, results[0].mod_revision, results[0].version),
            (1, 1, 1)
        );

        // Failed precondition: nothing written, no revision consumed.
        let o = f.txn("2", vec![Precondition::Absent(key("a"))], vec![put("a", "2")]).await;
        assert!(matches!(
            o,
            TxnOutcome::Failed {
                revision: 1,
                failure: TxnFailure::Precondition { actual: Some(1), .. }
            }
        ));
        let o = f.txn("3", vec![Precondition::ModRevision(key("a"), 7)], vec![put("a", "2")]).await;
        assert!(matches!(o, TxnOutcome::Failed { .. }));
        assert_eq!(f.rev(), 1);

        // CAS success; within-txn ops see each other; delete of a missing key fails the txn.
        let o = f
            .txn(
                "4",
                vec![Precondition::ModRevision(key("a"), 1)],
                vec![put("a", "2"), put("a", "3")],
            )
            .await;
        let TxnOutcome::Committed { revision: 2, results, existed } = o else { panic!("{o:?}") };
        assert_eq!(existed, vec![true, true]);
        assert_eq!((results[1].create_revision, results[1].version), (1, 3));
        let o = f
            .txn("5", vec![], vec![Op::Delete { key: key("b") }, Op::Delete { key: key("zz") }])
            .await;
        assert!(matches!(o, TxnOutcome::Failed { failure: TxnFailure::NotFound { .. }, .. }));
        assert!(f.sm.shared.get(&key("b")).unwrap().0.is_some(), "half-applied txn");

        let o = f
            .txn("6", vec![Precondition::Exists(key("b"))], vec![Op::Delete { key: key("b") }])
            .await;
        assert!(matches!(o, TxnOutcome::Committed { revision: 3, .. }));
        let events = f.sm.shared.events_after(0, 100).unwrap();
        assert_eq!(events.iter().map(|e| e.revision).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(events[2].changes[0].kind, ChangeType::Deleted);
        assert_eq!(events[2].changes[0].previous.as_ref().unwrap().object, b"1");
        assert_eq!(events[1].changes[0].kind, ChangeType::Modified);
        assert_eq!(events[0].actor, "tester");
        let (list, rev) =
            f.sm.shared.list(&KeyPrefix::resource("g", "things", Some("ns"))).unwrap();
        assert_eq!((list.len(), rev), (1, 3));
        assert_eq!(f.sm.shared.applied_state().state_hash, f.sm.shared.recompute_hash().unwrap());
    }

    #[tokio::test]
    async fn duplicate_request_id_returns_original_result() {
        let mut f = open();
        let first = f
            .apply(cmd(
                "same",
                CommandOp::Txn(Txn { preconditions: vec![], ops: vec![put("a", "1")] }),
            ))
            .await;
        let again = f
            .apply(cmd(
                "same",
                CommandOp::Txn(Txn { preconditions: vec![], ops: vec![put("a", "2")] }),
            ))
            .await;
        let (
            Response::Txn { outcome: o1, deduplicated: false },
            Response::Txn { outcome: o2, deduplicated: true },
        ) = (first, again)
        else {
            panic!()
        };
        assert_eq!(o1, o2);
        assert_eq!(f.rev(), 1);
        assert_eq!(f.sm.shared.get(&key("a")).unwrap().0.unwrap().object, b"1");
    }

    /// One batch entry whose commands read each other's writes — a precondition on a key
    /// created earlier in the entry, a delete of it, a delete that then finds nothing, a
    /// duplicate request id answered from the idempotency entry written earlier in the entry,
    /// a chunk seal gathering events from the tree and from the entry, a compaction that reads
    /// the freshly sealed chunk and forgets an idempotency entry written earlier in the entry —
    /// leaves the same tree, answers and events as one entry per command.
    #[tokio::test]
    async fn batch_entry_reads_its_own_writes_like_one_entry_per_command() {
        use crate::events::{sealed_key, single_key, CHUNK};
        let prefix = CHUNK - 6;
        let old = |id: &str, ops| {
            let mut c = txn_cmd(id, vec![], ops);
            c.time_ms = 10;
            c
        };
        let cmds = vec![
            // rev 59: creates c.
            txn_cmd("n1", vec![Precondition::Absent(key("c"))], vec![put("c", "1")]),
            // rev 60: c exists at 59.
            txn_cmd("n2", vec![Precondition::ModRevision(key("c"), 59)], vec![put("c", "2")]),
            // rev 61: deletes c.
            txn_cmd("n3", vec![Precondition::Exists(key("c"))], vec![Op::Delete { key: key("c") }]),
            // Fails: c is gone.
            txn_cmd("n4", vec![], vec![Op::Delete { key: key("c") }]),
            // n1 again: its first answer, nothing written.
            txn_cmd("n1", vec![], vec![put("c", "dup")]),
            // rev 62, with an old idempotency entry.
            old("old", vec![put("d", "x")]),
            // rev 63: the last of chunk 0, which is sealed: 1..=58 from the tree, 59..=62
            // from this entry.
            txn_cmd("n7", vec![], vec![put("e", "1")]),
            // Folds 59..=61 out of the sealed chunk written by this entry; forgets "old".
            cmd("cmp", CommandOp::Compact { revision: 61, dedup_before_ms: 500 }),
            // rev 64: "old" applies anew.
            old("old", vec![put("d", "y")]),
            // rev 65.
            txn_cmd("n10", vec![Precondition::ModRevision(key("d"), 64)], vec![put("d", "z")]),
            // rev 66: two ops on one key.
            txn_cmd(
                "n11",
                vec![],
                vec![put("f", "1"), put("f", "2"), Op::Delete { key: key("e") }],
            ),
        ];
        let mut batched = open();
        let mut single = open();
        for f in [&mut batched, &mut single] {
            for i in 0..prefix {
                f.txn(&format!("p{i}"), vec![], vec![put(&format!("k{}", i % 5), &i.to_string())])
                    .await;
            }
            assert_eq!(f.rev(), prefix);
        }
        let r = batched.apply(cmd("batch", CommandOp::Batch(cmds.clone()))).await;
        let Response::Batch(rs) = r else { panic!("{r:?}") };
        let mut one_by_one = Vec::new();
        for c in cmds {
            one_by_one.push(single.apply(c).await);
        }
        assert_eq!(rs, one_by_one);
        let summary: Vec<String> = rs
            .iter()
            .map(|r| match r {
                Response::Txn { outcome: TxnOutcome::Committed { revision, .. }, deduplicated } => {
                    format!("{revision}{}", if *deduplicated { " dup" } else { "" })
                }
                Response::Txn { outcome: TxnOutcome::Failed { failure, .. }, .. } => {
                    match failure {
                        TxnFailure::NotFound { .. } => "not found".into(),
                        TxnFailure::Precondition { .. } => "precondition".into(),
                    }
                }
                Response::Compacted { revision } => format!("compacted {revision}"),
                r => panic!("{r:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            ["59", "60", "61", "not found", "59 dup", "62", "63", "compacted 61", "64", "65", "66"]
        );
        // The same state, byte for byte, as one entry per command.
        assert_eq!(batched.raw(), single.raw());
        let (a, b) = (batched.sm.shared.applied_state(), single.sm.shared.applied_state());
        assert_eq!((a.revision, a.compact_revision, &a.state_hash), (66, 61, &b.state_hash));
        assert_eq!(a.state_hash, batched.sm.shared.recompute_hash().unwrap());
        assert_eq!(batched.sm.shared.export().unwrap(), single.sm.shared.export().unwrap());
        // Chunk 0 was sealed (and kept: it straddles the compaction point); no single of it
        // is left.
        let tree = batched.sm.shared.read().tree.clone();
        assert!(tree.get(&sealed_key(0)).is_some());
        assert!((1..CHUNK).all(|r| tree.get(&single_key(r)).is_none()));
        let events = batched.sm.shared.events_after(61, usize::MAX).unwrap();
        assert_eq!(
            events.iter().map(|e| e.revision).collect::<Vec<_>>(),
            (62..=66).collect::<Vec<_>>()
        );
        assert_eq!(events[4].changes.len(), 3);
        assert_eq!(events[4].changes[1].previous.as_ref().unwrap().object, b"1");
        let (cp_rev, cp) = batched.sm.shared.checkpoint().unwrap();
        assert_eq!(cp_rev, 61);
        assert!(cp.iter().all(|r| r.key != key("c")), "c was deleted at 61");
        assert_eq!(cp.len(), 5);
    }

    /// An entry that hits a store error in its third command writes nothing — not even its
    /// first two commands — and leaves the in-memory summary as it was; once the cause is
    /// gone, the same commands apply with the revisions they would have had.
    #[tokio::test]
    async fn an_entry_failing_midway_writes_nothing() {
        let mut f = open();
        f.txn("a", vec![], vec![put("a", "1")]).await;
        let bad = resource_key_bytes(&key("bad"));
        f.sm.shared.write().tree.insert(bad.clone(), vec![crate::codec::FORMAT_VERSION]);
        let raw = f.raw();
        let state = f.sm.shared.applied_state();
        let batch = || {
            cmd(
                "batch",
                CommandOp::Batch(vec![
                    txn_cmd("1", vec![], vec![put("a", "2")]),
                    txn_cmd("2", vec![], vec![put("b", "1")]),
                    txn_cmd("3", vec![], vec![put("bad", "1")]),
                ]),
            )
        };
        let entry = |index| Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(batch()),
        };
        assert!(f.sm.apply([entry(2)]).await.is_err());
        assert_eq!(f.raw(), raw);
        assert_eq!(f.sm.shared.applied_state(), state);
        assert_eq!(f.sm.applied_state().await.unwrap().0.map(|l| l.index), Some(1));
        f.sm.shared.write().tree.remove(&bad);
        let r = f.sm.apply([entry(2)]).await.unwrap().remove(0);
        let Response::Batch(rs) = r else { panic!("{r:?}") };
        let revs: Vec<_> = rs
            .iter()
            .map(|r| match r {
                Response::Txn { outcome: TxnOutcome::Committed { revision, .. }, deduplicated } => {
                    assert!(!deduplicated);
                    *revision
                }
                r => panic!("{r:?}"),
            })
            .collect();
        assert_eq!(revs, [2, 3, 4]);
        assert_eq!(f.sm.shared.applied_state().state_hash, f.sm.shared.recompute_hash().unwrap());
    }

    /// The borrowed forms the apply path encodes write the same bytes as the owned types
    /// readers decode. (Destructured in full, so a new field fails to compile here.)
    #[test]
    fn encodes_like_the_owned_types() {
        use crate::events::sample::{event, resource as res};
        let ev = event();
        let Event { revision, time_ms, actor, source, request_id, verb, restores, changes } = &ev;
        let out = EventOut {
            revision: *revision,
            time_ms: *time_ms,
            actor,
            source,
            request_id,
            verb,
            restores: *restores,
            changes: changes
                .iter()
                .map(|c| {
                    let Change { kind, key, object, previous } = c;
                    ChangeOut {
                        kind: *kind,
                        key,
                        object: object.as_ref(),
                        previous: previous.as_ref(),
                    }
                })
                .collect(),
        };
        assert_eq!(encode(&out), encode(&ev));
        let outcome = TxnOutcome::Committed {
            revision: 7,
            results: vec![res("n", "new", 7), res("m", "x", 2)],
            existed: vec![true, true],
        };
        let owned = encode(&DedupEntry { time_ms: 4, outcome: outcome.clone() });
        assert_eq!(encode(&DedupEntry { time_ms: 4, outcome: &outcome }), owned);
        let back: DedupEntry = decode(&owned, "idempotency entry").unwrap();
        assert_eq!(back.outcome, outcome);
    }

    /// A batch entry applies its commands in order, each with its own revision, reading what
    /// the earlier ones wrote; applying the same entry again (openraft re-applies entries
    /// whose state-machine writes a crash lost before they were flushed) answers from the
    /// idempotency table and writes nothing.
    #[tokio::test]
    async fn batched_commands_apply_in_order_and_once() {
        let mut f = open();
        f.txn("before", vec![], vec![put("a", "0")]).await;
        let batch = || {
            cmd(
                "batch-1",
                CommandOp::Batch(vec![
                    cmd(
                        "b1",
                        CommandOp::Txn(Txn { preconditions: vec![], ops: vec![put("a", "1")] }),
                    ),
                    // Sees b1's write: a's mod revision is now 2.
                    cmd(
                        "b2",
                        CommandOp::Txn(Txn {
                            preconditions: vec![Precondition::ModRevision(key("a"), 2)],
                            ops: vec![put("a", "2")],
                        }),
                    ),
                    // Fails: a is at 3 by now; consumes no revision.
                    cmd(
                        "b3",
                        CommandOp::Txn(Txn {
                            preconditions: vec![Precondition::ModRevision(key("a"), 2)],
                            ops: vec![put("a", "x")],
                        }),
                    ),
                    cmd(
                        "b4",
                        CommandOp::Txn(Txn { preconditions: vec![], ops: vec![put("b", "4")] }),
                    ),
                ]),
            )
        };
        let r = f.apply(batch()).await;
        let Response::Batch(rs) = r else { panic!("{r:?}") };
        let revs: Vec<Option<Revision>> = rs
            .iter()
            .map(|r| match r {
                Response::Txn {
                    outcome: TxnOutcome::Committed { revision, .. },
                    deduplicated: false,
                } => Some(*revision),
                Response::Txn { outcome: TxnOutcome::Failed { .. }, deduplicated: false } => None,
                r => panic!("{r:?}"),
            })
            .collect();
        assert_eq!(revs, [Some(2), Some(3), None, Some(4)]);
        assert_eq!(f.rev(), 4);
        let hash = f.sm.shared.applied_state().state_hash;
        // The same entry again (as after a crash that lost `applied`): nothing new.
        let again = f.apply(batch()).await;
        let Response::Batch(rs) = again else { panic!("{again:?}") };
        assert!(rs.iter().all(|r| matches!(r, Response::Txn { deduplicated: true, .. })), "{rs:?}");
        assert_eq!(f.rev(), 4);
        assert_eq!(f.sm.shared.applied_state().state_hash, hash);
        assert_eq!(f.sm.shared.events_after(0, usize::MAX).unwrap().len(), 4);
    }
}
