//! The replicated state machine: resources, the event log, the idempotency table, and the
//! openraft `RaftStateMachine` / `RaftSnapshotBuilder` implementations.
//!
//! All state lives in one in-memory ordered map ([`crate::mem::Mem`]), and each applied
//! entry changes it at once:
//!
//! | key                      | value                                   |
//! |--------------------------|-----------------------------------------|
//! | `m/applied`              | last applied `LogId`                    |
//! | `m/membership`           | last applied membership                 |
//! | `m/revision`             | current revision                        |
//! | `m/compact`              | compaction point (events `<=` are gone) |
//! | `m/hash`                 | state hash (XOR of per-resource hashes) |
//! | `r/<group>\0<res>\0<ns>\0<name>` | `Resource`                      |
//! | `e/<revision BE>`        | `Event` (not yet sealed into a chunk)   |
//! | `s/<chunk BE>`           | a sealed chunk of events (see [`crate::events`]) |
//! | `d/<request id>`         | `DedupEntry`                            |
//! | `c/<group>\0<res>\0<ns>\0<name>` | `Resource` as of the compaction point (the checkpoint) |
//!
//! That includes a batch entry (`CommandOp::Batch`, the leader's group commit of concurrent
//! txns). An entry's commands apply in order into one set of pending writes
//! (`pending::Pending`), and every read made while applying one — its idempotency entry,
//! preconditions and current objects, the events a chunk seal gathers, a compaction's events
//! and idempotency entries — goes through it, so each command sees what the ones before it
//! wrote. The `m/` keys are written once per entry, at the end, from the in-memory summary
//! (`Inner`). An entry that fails with a store error writes nothing and leaves the summary as
//! it was; a txn that fails (precondition, missing delete target) writes only its idempotency
//! entry and consumes no revision.
//!
//! **Durability.** The map is not written as it changes: the Raft log, synced before an entry
//! counts as committed, is the write-ahead log, as in etcd. What is on disk is the last saved
//! snapshot — every key and value of the map at one applied index, in sled's `sm_snapshot`
//! tree, flushed before the snapshot is reported saved. On open the map is that snapshot, and
//! openraft applies the committed entries after it again from the log; the log is never
//! purged past the saved snapshot ([`Shared::durable_index`]). Installing a snapshot saves it
//! before the map is replaced, so a crash mid-install leaves the old state and its log.
//!
//! Earlier builds kept the map itself in a sled tree `sm_<gen>` (the generation named in
//! `sm_pointer`) and wrote it as entries applied. Such a tree is loaded on open when it is
//! ahead of the saved snapshot, and dropped once a snapshot is saved.

use std::collections::{hash_map, HashMap};
use std::io::Cursor;
use std::sync::{Arc, RwLock};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};
use sled::IVec;
use tokio::sync::watch;

use crate::borrowed::EventRef;
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::events;
use crate::mem::Mem;
use crate::pending::{Get, Pending};
use crate::types::*;

const APPLIED: &[u8] = b"m/applied";
const MEMBERSHIP: &[u8] = b"m/membership";
const REVISION: &[u8] = b"m/revision";
const COMPACT: &[u8] = b"m/compact";
const HASH: &[u8] = b"m/hash";
const RES: &[u8] = b"r/";
const DEDUP: &[u8] = b"d/";
const CHECKPOINT: &[u8] = b"c/";

type SErr = StorageError<NodeId>;

/// A 128-bit order-independent digest of every resource: XOR of SHA-256(key ‖ record) prefixes.
pub type StateHash = [u8; 16];

/// Renders a hash as lower-case hex.
pub fn hash_hex(h: &StateHash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// An idempotency entry; written from a borrowed outcome (`DedupEntry<&TxnOutcome>`, the same
/// encoding), read back owned.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DedupEntry<O = TxnOutcome> {
    time_ms: i64,
    outcome: O,
}

/// The leading field of a [`DedupEntry`]: decoding this reads its time and nothing after it.
#[derive(Deserialize)]
struct DedupTime {
    time_ms: i64,
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
/// covers, as in [`Shared::recompute_hash`]).
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

/// A snapshot's data: every key and value of the map.
#[derive(Serialize, Deserialize)]
struct SnapshotBlob {
    pairs: Vec<(ByteBuf, ByteBuf)>,
}

/// [`SnapshotBlob`]'s encoding, written from the map's own keys and values.
#[derive(Serialize)]
struct SnapshotBlobRef<'a> {
    pairs: Vec<(&'a serde_bytes::Bytes, &'a serde_bytes::Bytes)>,
}

impl SnapshotBlob {
    /// The map a snapshot holds, with `applied` and `membership` set from its metadata.
    fn into_mem(self, meta: &SnapshotMeta<NodeId, Node>) -> Mem {
        let mut mem: Mem =
            self.pairs.into_iter().map(|(k, v)| (k.into_vec(), IVec::from(v.into_vec()))).collect();
        mem.insert(APPLIED, encode(&meta.last_log_id));
        mem.insert(MEMBERSHIP, encode(&meta.last_membership));
        mem
    }
}

fn resource_key_bytes(k: &ResourceKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        RES.len() + k.group.len() + k.resource.len() + k.namespace.len() + k.name.len() + 3,
    );
    out.extend_from_slice(RES);
    for (i, part) in [&k.group, &k.resource, &k.namespace, &k.name].into_iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// The longest byte prefix implied by `p` (its leading `Some` parts).
fn prefix_bytes(p: &KeyPrefix) -> Vec<u8> {
    let mut out = RES.to_vec();
    let parts = [&p.group, &p.resource, &p.namespace, &p.name];
    for (i, part) in parts.into_iter().enumerate() {
        match part {
            Some(s) => {
                out.extend_from_slice(s.as_bytes());
                if i < 3 {
                    out.push(0);
                }
            }
            None => break,
        }
    }
    out
}

fn resource_hash(key: &[u8], record: &[u8]) -> StateHash {
    let mut h = Sha256::new();
    h.update((key.len() as u64).to_be_bytes());
    h.update(key);
    h.update(record);
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

fn xor(a: &mut StateHash, b: &StateHash) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// The map and a decoded summary of its metadata; guarded by `Shared::inner`.
struct Inner {
    tree: Mem,
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
    head: Head,
}

/// What applying commands moves: the revision, the compaction point and the state hash. Kept
/// apart from the map so that an entry can apply into pending writes over the map while
/// these change.
#[derive(Clone, Copy)]
struct Head {
    revision: Revision,
    compact: Revision,
    hash: StateHash,
}

impl Inner {
    fn load(tree: Mem) -> Result<Self, StoreError> {
        fn get<T: serde::de::DeserializeOwned + Default>(
            t: &Mem,
            k: &[u8],
        ) -> Result<T, StoreError> {
            match t.get(k) {
                Some(v) => decode(&v, "state machine metadata"),
                None => Ok(T::default()),
            }
        }
        Ok(Self {
            applied: get(&tree, APPLIED)?,
            membership: get(&tree, MEMBERSHIP)?,
            head: Head {
                revision: get(&tree, REVISION)?,
                compact: get(&tree, COMPACT)?,
                hash: get(&tree, HASH)?,
            },
            tree,
        })
    }

    fn read_resource(&self, key: &[u8]) -> Result<Option<Resource>, StoreError> {
        self.tree.get(key).map(|v| decode(&v, "resource")).transpose()
    }

    /// The state hash of the stored resources, computed afresh.
    fn hash_resources(&self) -> StateHash {
        let mut h = [0u8; 16];
        for (k, v) in self.tree.scan_prefix(RES) {
            xor(&mut h, &resource_hash(k, v));
        }
        h
    }

    /// Checks the stored state hash against the stored resources.
    fn check_hash(&self, what: &'static str) -> Result<(), StoreError> {
        let h = self.hash_resources();
        if h != self.head.hash {
            return Err(StoreError::Corrupt {
                what,
                reason: format!(
                    "state hash mismatch: it says {}, its resources hash to {}",
                    hash_hex(&self.head.hash),
                    hash_hex(&h)
                ),
            });
        }
        Ok(())
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
                let target = (*revision).min(self.revision);
                if target > self.compact {
                    // Fold the events into the checkpoint (state at `target`), then drop them.
                    let mut fold: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
                    let mut reader = events::Reader::new(&*pending);
                    for rev in self.compact + 1..=target {
                        for c in reader.expect(rev, self.revision)?.changes {
                            let ck =
                                [CHECKPOINT, &resource_key_bytes(&c.key)[RES.len()..]].concat();
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
                // outcome after it, with the objects, is left alone); `i64::MIN` forgets none
                // and skips the scan (the compactor asks for it every tenth of the window).
                let mut expired = Vec::new();
                if *dedup_before_ms > i64::MIN {
                    pending.for_each_prefix(DEDUP, |k, v| {
                        let d: DedupTime = decode(v, "idempotency entry")?;
                        if d.time_ms < *dedup_before_ms {
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

/// State shared between the openraft state machine and the readers (API, watches).
pub struct Shared {
    db: sled::Db,
    pointer: sled::Tree,
    snapshots: sled::Tree,
    inner: RwLock<Inner>,
    revision_tx: watch::Sender<Revision>,
    /// One past the highest log index whose effects are on disk (0: none): the index of the
    /// state loaded at open, then of each snapshot saved. The Raft log waits for it before
    /// purging ([`crate::log_store::LogStore::with_state_machine_durability`]).
    durable: watch::Sender<u64>,
    /// Taken for the whole of a snapshot save (across its flush): openraft builds snapshots
    /// on their own task, so a build that started before an install can finish after it, and
    /// must not replace the newer snapshot on disk.
    saving: tokio::sync::Mutex<()>,
}

/// A consistent summary of the applied state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedState {
    /// Last applied log index (0 if none).
    pub applied_index: u64,
    /// Current revision.
    pub revision: Revision,
    /// Compaction point: events `<=` this are gone.
    pub compact_revision: Revision,
    /// Hex state hash at `revision`.
    pub state_hash: String,
}

impl Shared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes to the applied revision; it changes after every applied txn and snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Revision> {
        self.revision_tx.subscribe()
    }

    /// Current revision, compaction point, hash and applied index, read atomically.
    pub fn applied_state(&self) -> AppliedState {
        let g = self.read();
        AppliedState {
            applied_index: g.applied.map_or(0, |l| l.index),
            revision: g.head.revision,
            compact_revision: g.head.compact,
            state_hash: hash_hex(&g.head.hash),
        }
    }

    /// Reads one resource and the revision it was read at.
    pub fn get(&self, key: &ResourceKey) -> Result<(Option<Resource>, Revision), StoreError> {
        let g = self.read();
        Ok((g.read_resource(&resource_key_bytes(key))?, g.head.revision))
    }

    /// Lists the resources under `prefix`, in key order, and the revision they were read at.
    pub fn list(&self, prefix: &KeyPrefix) -> Result<(Vec<Resource>, Revision), StoreError> {
        let g = self.read();
        let mut out = Vec::new();
        for (_, v) in g.tree.scan_prefix(&prefix_bytes(prefix)) {
            let r: Resource = decode(v, "resource")?;
            if r.key.matches(prefix) {
                out.push(r);
            }
        }
        Ok((out, g.head.revision))
    }

    /// Up to `limit` events with revision `> after`, in order. `Compacted` if some of them are
    /// gone.
    pub fn events_after(&self, after: Revision, limit: usize) -> Result<Vec<Event>, StoreError> {
        let g = self.read();
        if after < g.head.compact {
            return Err(StoreError::Compacted { requested: after + 1, oldest: g.head.compact + 1 });
        }
        // Revisions are dense from the compaction point to the current one, so point lookups
        // find every event; they are much cheaper than a sled range scan over large values.
        let last = g.head.revision.min(after.saturating_add(limit as u64));
        let mut out = Vec::with_capacity((last.saturating_sub(after)) as usize);
        let mut reader = events::Reader::new(&g.tree);
        for rev in after + 1..=last {
            out.push(reader.expect(rev, g.head.revision)?);
        }
        Ok(out)
    }

    /// Calls `f` with each event in `(after, until]`, in order, decoded in place (borrowing the
    /// stored bytes, so nothing is copied that `f` does not keep). Holds the read lock for one
    /// batch of events at a time, not for the whole run. Returns the last revision passed to
    /// `f` (`after` if none). `Compacted` if some of them are gone.
    pub fn for_each_event(
        &self,
        after: Revision,
        until: Revision,
        mut f: impl FnMut(&EventRef<'_>),
    ) -> Result<Revision, StoreError> {
        const BATCH: u64 = 4096;
        let mut last = after;
        loop {
            let g = self.read();
            if last < g.head.compact {
                return Err(StoreError::Compacted {
                    requested: last + 1,
                    oldest: g.head.compact + 1,
                });
            }
            let end = g.head.revision.min(until).min(last.saturating_add(BATCH));
            if end <= last {
                return Ok(last);
            }
            let mut reader = events::Reader::new(&g.tree);
            for rev in last + 1..=end {
                if reader.with_event(rev, |e| f(&e))?.is_none() {
                    return Err(events::missing(rev, g.head.revision));
                }
            }
            last = end;
        }
    }

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

    /// The state hash of a set of resources (as [`Shared::state_at`] returns them): the same
    /// digest the state machine keeps incrementally for its current state.
    pub fn hash_of(resources: &[Resource]) -> String {
        let mut h = [0u8; 16];
        for r in resources {
            xor(&mut h, &resource_hash(&resource_key_bytes(&r.key), &encode(r)));
        }
        hash_hex(&h)
    }

    /// Recomputes the state hash from every stored resource (the determinism guard).
    pub fn recompute_hash(&self) -> Result<String, StoreError> {
        Ok(hash_hex(&self.read().hash_resources()))
    }

    /// Records that everything applied through log index `index` is on disk.
    fn mark_durable(&self, index: u64) {
        self.durable.send_if_modified(|d| {
            let next = (*d).max(index + 1);
            std::mem::replace(d, next) != next
        });
    }

    /// Follows [`Shared`]'s durable point: one past the highest log index whose effects are on
    /// disk. The Raft log must not be purged past it.
    pub fn durable_index(&self) -> watch::Receiver<u64> {
        self.durable.subscribe()
    }
}

/// The export records of the current state: header, checkpoint, retained events, trailer —
/// read under one lock, so they are consistent.
impl Shared {
    /// A consistent export of the retained log (see [`crate::export`]).
    pub fn export(&self) -> Result<Vec<crate::export::Record>, StoreError> {
        use crate::export::Record;
        let g = self.read();
        let mut out = vec![Record::Header {
            compact_revision: g.head.compact,
            revision: g.head.revision,
            state_hash: hash_hex(&g.head.hash),
        }];
        let mut n_cp = 0;
        for (_, v) in g.tree.scan_prefix(CHECKPOINT) {
            out.push(Record::Checkpoint(decode(v, "checkpoint resource")?));
            n_cp += 1;
        }
        let mut n_ev = 0;
        let mut reader = events::Reader::new(&g.tree);
        for rev in g.head.compact + 1..=g.head.revision {
            out.push(Record::Event(reader.expect(rev, g.head.revision)?));
            n_ev += 1;
        }
        out.push(Record::Trailer { checkpoint: n_cp, events: n_ev });
        Ok(out)
    }
}

/// Writes a fresh state machine from export records (see [`crate::export::restore`]):
/// checkpoint, events, and the resources they fold to, as a state machine tree `sm_0` that
/// [`StateMachine::open`] loads like one of an earlier build. The state hash must come out
/// equal to the exported one.
pub fn seed(db: &sled::Db, records: &[crate::export::Record]) -> Result<AppliedState, StoreError> {
    use crate::export::Record;
    let Some(Record::Header { compact_revision, revision, state_hash }) = records.first() else {
        return Err(StoreError::Corrupt { what: "export", reason: "no header".into() });
    };
    let tree = db.open_tree("sm_0")?;
    if !tree.is_empty() {
        return Err(StoreError::Invalid("the state machine is not empty".into()));
    }
    let mut state: std::collections::BTreeMap<Vec<u8>, Resource> = Default::default();
    let mut batch = sled::Batch::default();
    let mut evs = Vec::new();
    for r in records {
        match r {
            Record::Checkpoint(res) => {
                let kb = resource_key_bytes(&res.key);
                batch.insert([CHECKPOINT, &kb[RES.len()..]].concat(), encode(res));
                state.insert(kb, res.clone());
            }
            Record::Event(ev) => {
                if ev.revision != compact_revision + 1 + evs.len() as u64 {
                    return Err(StoreError::Corrupt {
                        what: "export",
                        reason: format!(
                            "event {} out of place: expected revision {}",
                            ev.revision,
                            compact_revision + 1 + evs.len() as u64
                        ),
                    });
                }
                evs.push((ev.revision, encode(ev)));
                for c in &ev.changes {
                    let kb = resource_key_bytes(&c.key);
                    match &c.object {
                        Some(o) => state.insert(kb, o.clone()),
                        None => state.remove(&kb),
                    };
                }
            }
            Record::Header { .. } | Record::Trailer { .. } => {}
        }
    }
    if compact_revision + evs.len() as u64 != *revision {
        return Err(StoreError::Corrupt {
            what: "export",
            reason: format!(
                "events end at revision {}, the header says {revision}",
                compact_revision + evs.len() as u64
            ),
        });
    }
    events::write_all(&mut batch, &evs, *revision);
    let mut hash = [0u8; 16];
    for (kb, res) in &state {
        let rec = encode(res);
        xor(&mut hash, &resource_hash(kb, &rec));
        batch.insert(kb.clone(), rec);
    }
    if hash_hex(&hash) != *state_hash {
        return Err(StoreError::Corrupt {
            what: "export",
            reason: format!(
                "the export says state hash {state_hash}, its contents hash to {}",
                hash_hex(&hash)
            ),
        });
    }
    batch.insert(REVISION, encode(revision));
    batch.insert(COMPACT, encode(compact_revision));
    batch.insert(HASH, encode(&hash));
    tree.apply_batch(batch)?;
    Ok(AppliedState {
        applied_index: 0,
        revision: *revision,
        compact_revision: *compact_revision,
        state_hash: hash_hex(&hash),
    })
}

/// The openraft state machine handle.
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

impl StateMachine {
    /// Opens the state machine in `db`: the map of the saved snapshot, or the state machine
    /// tree of an earlier build if that is ahead of it (see the module doc). Half-installed
    /// generations of earlier builds are dropped.
    pub fn open(db: &sled::Db) -> Result<Self, StoreError> {
        let pointer = db.open_tree("sm_pointer")?;
        let snapshots = db.open_tree("sm_snapshot")?;
        let gen: u64 = match pointer.get(b"gen")? {
            Some(v) => decode(&v, "state machine generation")?,
            None => 0,
        };
        let current = format!("sm_{gen}");
        // Generations other than the pointer's were half-installed: dropped.
        let mut legacy = None;
        for name in db.tree_names().into_iter().filter(|n| is_generation(n)) {
            if name.as_ref() == current.as_bytes() {
                legacy = Some(db.open_tree(&name)?);
            } else {
                db.drop_tree(&name)?;
            }
        }
        let saved = read_snapshot(&snapshots)?;
        // Only the tree's applied id decides; the tree is loaded only if it is ahead.
        let legacy_ahead = match (&legacy, &saved) {
            (Some(tree), Some((meta, _))) => {
                let applied: Option<LogId<NodeId>> = match tree.get(APPLIED)? {
                    Some(v) => decode(&v, "state machine metadata")?,
                    None => None,
                };
                applied > meta.last_log_id
            }
            (Some(_), None) => true,
            (None, _) => false,
        };
        let inner = match (legacy, saved) {
            (Some(tree), _) if legacy_ahead => {
                let inner = Inner::load(Mem::load(&tree)?)?;
                tracing::info!(
                    applied_index = inner.applied.map_or(0, |l| l.index),
                    "loaded the state machine from a sled tree (an earlier build's or a \
                     restore's); the first snapshot replaces it"
                );
                inner
            }
            (legacy, Some((meta, data))) => {
                let blob: SnapshotBlob = decode(&data, "snapshot")?;
                let inner = Inner::load(blob.into_mem(&meta))?;
                inner.check_hash("saved snapshot")?;
                if legacy.is_some() {
                    drop_legacy(db, &pointer)?;
                }
                inner
            }
            (_, None) => Inner::load(Mem::default())?,
        };
        let (revision_tx, _) = watch::channel(inner.head.revision);
        // What is on disk at open is durable by definition.
        let (durable, _) = watch::channel(inner.applied.map_or(0, |l| l.index + 1));
        Ok(Self {
            shared: Arc::new(Shared {
                db: db.clone(),
                pointer,
                snapshots,
                inner: RwLock::new(inner),
                revision_tx,
                durable,
                saving: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The reader handle.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Applies one entry to the map at once: its commands' writes, then the revision, hash
    /// and compaction point if they moved, the membership, and `applied`.
    fn apply_entry(&self, entry: &Entry<TypeConfig>) -> Result<Response, StoreError> {
        let mut guard = self.shared.write();
        let g = &mut *guard;
        // What applying commands changes in memory. Nothing of a failed entry is written, so
        // on error this is put back and the summary matches the map again.
        let before = g.head;
        let mut pending = Pending::new(&g.tree);
        let mut membership = None;
        let result = match &entry.payload {
            EntryPayload::Blank => Ok(Response::None),
            EntryPayload::Normal(Command { op: CommandOp::Batch(cmds), .. }) => {
                // In order, each reading through `pending` what the ones before it wrote.
                cmds.iter()
                    .map(|cmd| g.head.apply_command(cmd, &mut pending))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Response::Batch)
            }
            EntryPayload::Normal(cmd) => g.head.apply_command(cmd, &mut pending),
            EntryPayload::Membership(m) => {
                membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                Ok(Response::None)
            }
        };
        let writes = pending.into_writes();
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                g.head = before;
                return Err(e);
            }
        };
        g.tree.apply(writes);
        if g.head.revision != before.revision {
            g.tree.insert(REVISION, encode(&g.head.revision));
            g.tree.insert(HASH, encode(&g.head.hash));
        }
        if g.head.compact != before.compact {
            g.tree.insert(COMPACT, encode(&g.head.compact));
        }
        if let Some(m) = &membership {
            g.tree.insert(MEMBERSHIP, encode(m));
        }
        let applied = Some(entry.log_id);
        g.tree.insert(APPLIED, encode(&applied));
        g.applied = applied;
        if let Some(m) = membership {
            g.membership = m;
        }
        let rev = g.head.revision;
        drop(guard);
        let wrote = |r: &Response| {
            matches!(r, Response::Txn { deduplicated: false, .. } | Response::Compacted { .. })
        };
        let changed = match &resp {
            Response::Batch(rs) => rs.iter().any(wrote),
            r => wrote(r),
        };
        if changed {
            self.shared.revision_tx.send_replace(rev);
        }
        Ok(resp)
    }

    fn snapshot_from_store(&self) -> Result<Option<Snapshot<TypeConfig>>, StoreError> {
        Ok(read_snapshot(&self.shared.snapshots)?
            .map(|(meta, data)| Snapshot { meta, snapshot: Box::new(Cursor::new(data.to_vec())) }))
    }

    /// Saves a snapshot and waits until it is on disk: from then on it is the state machine's
    /// durable state (the durable index moves to it), and a state machine tree of an earlier
    /// build is no longer needed. A snapshot no newer than the saved one is not written (a
    /// build that finished after a newer install): the saved one stays.
    async fn save_snapshot(
        &self,
        meta: &SnapshotMeta<NodeId, Node>,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let _saving = self.shared.saving.lock().await;
        if let Some(saved) = self.shared.snapshots.get(b"meta")? {
            let saved: SnapshotMeta<NodeId, Node> = decode(&saved, "snapshot metadata")?;
            if saved.last_log_id >= meta.last_log_id
                && self.shared.snapshots.contains_key(b"data")?
            {
                tracing::info!(
                    snapshot = %meta.snapshot_id,
                    saved = %saved.snapshot_id,
                    "not saving a snapshot that is no newer than the saved one"
                );
                return Ok(data);
            }
        }
        // Copying the state into sled: on a blocking thread.
        let tree = self.shared.snapshots.clone();
        let meta_bytes = encode(meta);
        let data = tokio::task::spawn_blocking(move || {
            let mut batch = sled::Batch::default();
            batch.insert(b"meta", meta_bytes);
            batch.insert(b"data", &data[..]);
            tree.apply_batch(batch).map(|()| data)
        })
        .await
        .map_err(|e| StoreError::Raft(format!("the snapshot save task failed: {e}")))??;
        self.shared.db.flush_async().await?;
        if let Some(l) = meta.last_log_id {
            self.shared.mark_durable(l.index);
        }
        drop_legacy(&self.shared.db, &self.shared.pointer)?;
        Ok(data)
    }

    async fn install(
        &self,
        meta: &SnapshotMeta<NodeId, Node>,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        let blob: SnapshotBlob = decode(&data, "snapshot")?;
        let fresh = Inner::load(blob.into_mem(meta))?;
        fresh.check_hash("snapshot")?;
        // On disk first: a crash from here on restarts from this snapshot.
        self.save_snapshot(meta, data).await?;
        let rev = fresh.head.revision;
        // The old map is freed after the lock is released, not while readers wait.
        let old = std::mem::replace(&mut *self.shared.write(), fresh);
        drop(old);
        self.shared.revision_tx.send_replace(rev);
        Ok(())
    }
}

/// A saved snapshot's metadata and data.
type Saved = (SnapshotMeta<NodeId, Node>, IVec);

/// The saved snapshot, if one was saved.
fn read_snapshot(snapshots: &sled::Tree) -> Result<Option<Saved>, StoreError> {
    match (snapshots.get(b"meta")?, snapshots.get(b"data")?) {
        (Some(m), Some(d)) => Ok(Some((decode(&m, "snapshot metadata")?, d))),
        _ => Ok(None),
    }
}

/// Whether a sled tree is a state machine generation `sm_<n>` (earlier builds, restores).
fn is_generation(name: &[u8]) -> bool {
    name.strip_prefix(b"sm_")
        .and_then(|n| std::str::from_utf8(n).ok())
        .is_some_and(|n| n.parse::<u64>().is_ok())
}

/// Drops the state machine trees of earlier builds, if any are left (a saved snapshot holds
/// their state).
fn drop_legacy(db: &sled::Db, pointer: &sled::Tree) -> Result<(), StoreError> {
    let trees: Vec<_> = db.tree_names().into_iter().filter(|n| is_generation(n)).collect();
    if trees.is_empty() {
        return Ok(());
    }
    for name in trees {
        db.drop_tree(&name)?;
    }
    pointer.remove(b"gen")?;
    tracing::info!("dropped the state machine tree of an earlier build; the snapshot holds it");
    Ok(())
}

/// The map's keys and values and its applied state, as captured for a snapshot.
type Captured = (Option<LogId<NodeId>>, StoredMembership<NodeId, Node>, Vec<(Vec<u8>, IVec)>);

/// Captures a consistent copy of the state when created; serializes it when asked.
pub struct SnapshotBuilder {
    sm: StateMachine,
    captured: Result<Captured, StoreError>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, SErr> {
        let (applied, membership, pairs) = std::mem::replace(
            &mut self.captured,
            Err(StoreError::Invalid("snapshot builder used twice".into())),
        )
        .map_err(|e| StorageIOError::read_state_machine(&e))?;
        // Encoding copies the whole state: on a blocking thread, not a runtime worker that
        // requests are waiting on.
        let data = tokio::task::spawn_blocking(move || {
            encode(&SnapshotBlobRef {
                pairs: pairs
                    .iter()
                    .map(|(k, v)| (serde_bytes::Bytes::new(k), serde_bytes::Bytes::new(v)))
                    .collect(),
            })
        })
        .await
        .map_err(|e| StorageIOError::read_state_machine(&e))?;
        let snapshot_id = match applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, rand::random::<u32>()),
            None => format!("0-0-{}", rand::random::<u32>()),
        };
        let meta = SnapshotMeta { last_log_id: applied, last_membership: membership, snapshot_id };
        let data = self
            .sm
            .save_snapshot(&meta, data)
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "built snapshot");
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Node>), SErr> {
        let g = self.shared.read();
        Ok((g.applied, g.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for e in entries {
            let r = self.apply_entry(&e).map_err(|err| StorageIOError::apply(e.log_id, &err))?;
            out.push(r);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Runs on the state machine task, between applies: the copy is consistent. Values are
        // shared, not copied.
        let g = self.shared.read();
        let pairs = g.tree.iter().map(|(k, v)| (k.to_vec(), v.clone())).collect();
        let captured = Ok((g.applied, g.membership.clone(), pairs));
        drop(g);
        SnapshotBuilder { sm: self.clone(), captured }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, SErr> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Node>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), SErr> {
        tracing::info!(snapshot = %meta.snapshot_id, "installing snapshot");
        self.install(meta, snapshot.into_inner())
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e).into())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, SErr> {
        self.snapshot_from_store().map_err(|e| StorageIOError::read_snapshot(None, &e).into())
    }
}

impl std::fmt::Debug for StateMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachine").field("state", &self.shared.applied_state()).finish()
    }
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;

    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        sm: StateMachine,
        index: u64,
    }

    fn open() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        Fixture { sm: StateMachine::open(&db).unwrap(), _dir: dir, index: 0 }
    }

    /// Closes the state machine (as a crash would: nothing is flushed) and opens its database
    /// with `prepare` run on it first; the fixture's log index goes back to what was applied.
    fn reopen(f: Fixture, prepare: impl FnOnce(&sled::Db)) -> Fixture {
        let Fixture { _dir: dir, sm, .. } = f;
        drop(sm);
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        prepare(&db);
        let sm = StateMachine::open(&db).unwrap();
        let index = sm.shared.applied_state().applied_index;
        Fixture { sm, _dir: dir, index }
    }

    fn key(n: &str) -> ResourceKey {
        ResourceKey::new("g", "things", "ns", n)
    }

    fn put(n: &str, v: &str) -> Op {
        Op::Put { key: key(n), object: v.as_bytes().to_vec() }
    }

    fn cmd(id: &str, op: CommandOp) -> Command {
        Command {
            request_id: id.into(),
            actor: "tester".into(),
            source: "test".into(),
            time_ms: 1000,
            verb: "test".into(),
            restores: None,
            op,
        }
    }

    impl Fixture {
        async fn apply(&mut self, c: Command) -> Response {
            self.index += 1;
            let e = Entry {
                log_id: LogId::new(CommittedLeaderId::new(1, 1), self.index),
                payload: EntryPayload::Normal(c),
            };
            self.sm.apply([e]).await.unwrap().remove(0)
        }
        async fn txn(&mut self, id: &str, pre: Vec<Precondition>, ops: Vec<Op>) -> TxnOutcome {
            match self.apply(cmd(id, CommandOp::Txn(Txn { preconditions: pre, ops }))).await {
                Response::Txn { outcome, .. } => outcome,
                r => panic!("{r:?}"),
            }
        }
        fn rev(&self) -> Revision {
            self.sm.shared.applied_state().revision
        }
        /// Every key and value of the state machine tree but `applied` (which counts entries).
        fn raw(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
            let g = self.sm.shared.read();
            g.tree
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .filter(|(k, _)| k != APPLIED)
                .collect()
        }
    }

    fn txn_cmd(id: &str, pre: Vec<Precondition>, ops: Vec<Op>) -> Command {
        cmd(id, CommandOp::Txn(Txn { preconditions: pre, ops }))
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

    #[tokio::test]
    async fn snapshot_install_reproduces_state() {
        let mut a = open();
        for i in 0..20 {
            a.txn(&format!("r{i}"), vec![], vec![put(&format!("k{}", i % 7), &i.to_string())])
                .await;
        }
        let snap = a.sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
        let mut b = open();
        b.txn("other", vec![], vec![put("zzz", "gone after install")]).await;
        b.sm.install_snapshot(&snap.meta, snap.snapshot).await.unwrap();
        assert_eq!(a.sm.shared.applied_state(), b.sm.shared.applied_state());
        assert_eq!(b.sm.shared.recompute_hash().unwrap(), a.sm.shared.applied_state().state_hash);
        assert!(b.sm.shared.get(&key("zzz")).unwrap().0.is_none());
        assert_eq!(
            a.sm.shared.events_after(0, 100).unwrap(),
            b.sm.shared.events_after(0, 100).unwrap()
        );
        let current = b.sm.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, snap.meta);
    }

    fn numbered(i: u64) -> Command {
        txn_cmd(&format!("r{i}"), vec![], vec![put(&format!("k{}", i % 7), &i.to_string())])
    }

    /// What is on disk is the last saved snapshot: a reopened state machine starts from it,
    /// with the durable index just past it, and the entries after it, applied again as
    /// openraft does from the log, give the state it had.
    #[tokio::test]
    async fn reopen_starts_from_the_saved_snapshot() {
        let mut f = open();
        for i in 0..10 {
            f.apply(numbered(i)).await;
        }
        let snap = f.sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
        assert_eq!(snap.meta.last_log_id.map(|l| l.index), Some(10));
        assert_eq!(*f.sm.shared.durable_index().borrow(), 11);
        for i in 10..15 {
            f.apply(numbered(i)).await;
        }
        let want = f.sm.shared.applied_state();
        assert_eq!(*f.sm.shared.durable_index().borrow(), 11, "applying writes nothing");

        let mut f = reopen(f, |_| {});
        let at_open = f.sm.shared.applied_state();
        assert_eq!((at_open.applied_index, at_open.revision), (10, 10));
        assert_eq!(*f.sm.shared.durable_index().borrow(), 11);
        assert_eq!(f.sm.get_current_snapshot().await.unwrap().unwrap().meta, snap.meta);
        for i in 10..15 {
            f.apply(numbered(i)).await;
        }
        assert_eq!(f.sm.shared.applied_state(), want);
        assert_eq!(f.sm.shared.recompute_hash().unwrap(), want.state_hash);
    }

    /// A saved snapshot whose resources do not hash to its state hash fails the open.
    #[tokio::test]
    async fn a_damaged_saved_snapshot_fails_the_open() {
        let mut f = open();
        for i in 0..3 {
            f.apply(numbered(i)).await;
        }
        f.sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
        let Fixture { _dir: dir, sm, .. } = f;
        let mut blob: SnapshotBlob =
            decode(&sm.shared.snapshots.get(b"data").unwrap().unwrap(), "snapshot").unwrap();
        drop(sm);
        let (k, v) = blob.pairs.iter_mut().find(|(k, _)| k.starts_with(RES)).unwrap();
        let mut res: Resource = decode(v, "resource").unwrap();
        res.object = b"tampered".to_vec();
        *v = ByteBuf::from(encode(&res));
        assert!(k.starts_with(RES));
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        db.open_tree("sm_snapshot").unwrap().insert(b"data", encode(&blob)).unwrap();
        let err = StateMachine::open(&db).expect_err("a damaged snapshot is refused");
        assert!(err.to_string().contains("state hash mismatch"), "{err}");
    }

    /// A state machine tree written by an earlier build (the map kept in sled as entries
    /// applied) is loaded when it is ahead of the saved snapshot, half-installed generations
    /// beside it are dropped, and it stays until the next snapshot is saved, which replaces it.
    #[tokio::test]
    async fn a_tree_of_an_earlier_build_is_loaded_until_a_snapshot_replaces_it() {
        let mut f = open();
        for i in 0..5 {
            f.apply(numbered(i)).await;
        }
        f.sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
        for i in 5..12 {
            f.apply(numbered(i)).await;
        }
        let want = f.sm.shared.applied_state();
        let pairs: Vec<(Vec<u8>, IVec)> =
            f.sm.shared.read().tree.iter().map(|(k, v)| (k.to_vec(), v.clone())).collect();
        let sm_trees = |db: &sled::Db| -> Vec<String> {
            db.tree_names()
                .iter()
                .filter(|n| is_generation(n))
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect()
        };
        let mut f = reopen(f, |db| {
            db.open_tree("sm_pointer").unwrap().insert(b"gen", encode(&3u64)).unwrap();
            let t = db.open_tree("sm_3").unwrap();
            for (k, v) in &pairs {
                t.insert(k, v.clone()).unwrap();
            }
            db.open_tree("sm_4").unwrap().insert(b"m/revision", encode(&99u64)).unwrap();
        });
        assert_eq!(f.sm.shared.applied_state(), want, "the tree at 12 is ahead of the snapshot");
        assert_eq!(sm_trees(&f.sm.shared.db), ["sm_3"]);
        f.apply(numbered(12)).await;
        let want = f.sm.shared.applied_state();
        f.sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
        assert!(sm_trees(&f.sm.shared.db).is_empty(), "the snapshot replaced the tree");
        assert!(f.sm.shared.pointer.get(b"gen").unwrap().is_none());
        let f = reopen(f, |_| {});
        assert_eq!(f.sm.shared.applied_state(), want);
    }

    /// openraft builds snapshots on their own task: a build captured before an install of a
    /// newer snapshot can finish after it. It must not replace the newer snapshot on disk (the
    /// log was purged behind that one), nor move the durable index back.
    #[tokio::test]
    async fn a_late_snapshot_build_does_not_replace_a_newer_install() {
        let mut a = open();
        for i in 0..5 {
            a.apply(numbered(i)).await;
        }
        let mut late = a.sm.get_snapshot_builder().await;
        let mut b = open();
        for i in 0..10 {
            b.apply(numbered(100 + i)).await;
        }
        let newer = b.sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
        a.sm.install_snapshot(&newer.meta, newer.snapshot).await.unwrap();
        let installed = a.sm.shared.applied_state();
        assert_eq!(installed.applied_index, 10);
        let built = late.build_snapshot().await.unwrap();
        assert_eq!(built.meta.last_log_id.map(|l| l.index), Some(5));
        let current = a.sm.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, newer.meta, "the newer snapshot stays saved");
        assert_eq!(*a.sm.shared.durable_index().borrow(), 11);
        drop(late);
        let a = reopen(a, |_| {});
        assert_eq!(a.sm.shared.applied_state(), installed);
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
