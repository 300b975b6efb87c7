//! The replicated state machine: resources, the event log, the idempotency table, and the
//! openraft `RaftStateMachine` / `RaftSnapshotBuilder` implementations.
//!
//! All state lives in one in-memory ordered map (`Mem`, in the private `mem` module), and each
//! applied entry changes it at once:
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
//! The module is split by concern, so that each rule is read in one place:
//!
//! - `apply`: applying an entry to the map — pure, no I/O, no lock, no openraft; batches,
//!   preconditions, idempotency, all-or-nothing entries.
//! - `compact`: compaction folding events into the checkpoint, and the readers that fold
//!   them back (`state_at`, `checkpoint`).
//! - `snapshot`: the snapshot blob, its builder, saving, installing and reading it — the
//!   only durable form of the state.
//! - `upgrade`: the state machine trees of earlier builds' data dirs, and nothing else.
//! - this file: the key layout and state hash, the [`Shared`] reader handle and its reads,
//!   export and [`seed`], and [`StateMachine`], the glue that takes the lock, calls into the
//!   others and answers openraft.
//!
//! **Durability.** The map is not written as it changes: the Raft log, synced before an entry
//! counts as committed, is the write-ahead log, as in etcd. What is on disk is the last saved
//! snapshot — every key and value of the map at one applied index, in sled's `sm_snapshot`
//! tree, flushed before the snapshot is reported saved. On open the map is that snapshot, and
//! openraft applies the committed entries after it again from the log; the log is never
//! purged past the saved snapshot ([`Shared::durable_index`]). Installing a snapshot saves it
//! before the map is replaced, so a crash mid-install leaves the old state and its log.
//!
//! Earlier builds kept the map itself in a sled tree (see `upgrade`); such a tree is loaded
//! on open when it is ahead of the saved snapshot, and dropped once a snapshot is saved.

use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, LogId, OptionalSend, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::borrowed::EventRef;
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::events;
use crate::mem::Mem;
use crate::types::*;

mod apply;
mod compact;
mod snapshot;
mod upgrade;

pub use snapshot::SnapshotBuilder;

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

/// State shared between the openraft state machine and the readers (API, watches).
pub struct Shared {
    db: sled::Db,
    /// The trees of earlier builds' data dirs, dropped by the first snapshot saved.
    legacy: upgrade::Legacy,
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
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read()
    }
    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write()
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
/// checkpoint, events, and the resources they fold to, as a state machine tree of generation 0
/// that [`StateMachine::open`] loads like one of an earlier build (see the `upgrade` module).
/// The state hash must come out equal to the exported one.
pub fn seed(db: &sled::Db, records: &[crate::export::Record]) -> Result<AppliedState, StoreError> {
    use crate::export::Record;
    let Some(Record::Header { compact_revision, revision, state_hash }) = records.first() else {
        return Err(StoreError::Corrupt { what: "export", reason: "no header".into() });
    };
    let tree = db.open_tree(upgrade::tree_name(0))?;
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
        let (legacy, legacy_tree) = upgrade::Legacy::open(db)?;
        let snapshots = db.open_tree(snapshot::SNAPSHOT_TREE)?;
        let saved = snapshot::read_snapshot(&snapshots)?;
        let ahead = match &legacy_tree {
            Some(tree) => upgrade::Legacy::load_if_ahead(tree, saved.as_ref().map(|(m, _)| m))?,
            None => None,
        };
        let inner = match (ahead, saved) {
            (Some(inner), _) => inner,
            (None, Some((meta, data))) => {
                let inner = snapshot::decode_checked(&meta, &data, "saved snapshot")?;
                if legacy_tree.is_some() {
                    legacy.drop_trees(db)?;
                }
                inner
            }
            (None, None) => Inner::load(Mem::default())?,
        };
        let (revision_tx, _) = watch::channel(inner.head.revision);
        // What is on disk at open is durable by definition.
        let (durable, _) = watch::channel(inner.applied.map_or(0, |l| l.index + 1));
        Ok(Self {
            shared: Arc::new(Shared {
                db: db.clone(),
                legacy,
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

    /// Applies one entry under the write lock ([`Inner::apply_entry`]), then tells watchers
    /// of the new revision if it wrote one.
    fn apply_entry(&self, entry: &Entry<TypeConfig>) -> Result<Response, StoreError> {
        let (resp, changed) = self.shared.write().apply_entry(entry)?;
        if let Some(rev) = changed {
            self.shared.revision_tx.send_replace(rev);
        }
        Ok(resp)
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
        self.capture()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<std::io::Cursor<Vec<u8>>>, SErr> {
        Ok(Box::new(std::io::Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Node>,
        snapshot: Box<std::io::Cursor<Vec<u8>>>,
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

/// What the tests of every part of the state machine drive it with: a state machine on a
/// fresh data dir, fed entries as openraft would.
#[cfg(test)]
mod fixture {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;

    pub(super) struct Fixture {
        pub(super) _dir: tempfile::TempDir,
        pub(super) sm: StateMachine,
        pub(super) index: u64,
    }

    pub(super) fn open() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        Fixture { sm: StateMachine::open(&db).unwrap(), _dir: dir, index: 0 }
    }

    /// Closes the state machine (as a crash would: nothing is flushed) and opens its database
    /// with `prepare` run on it first; the fixture's log index goes back to what was applied.
    pub(super) fn reopen(f: Fixture, prepare: impl FnOnce(&sled::Db)) -> Fixture {
        let Fixture { _dir: dir, sm, .. } = f;
        drop(sm);
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        prepare(&db);
        let sm = StateMachine::open(&db).unwrap();
        let index = sm.shared.applied_state().applied_index;
        Fixture { sm, _dir: dir, index }
    }

    pub(super) fn key(n: &str) -> ResourceKey {
        ResourceKey::new("g", "things", "ns", n)
    }

    pub(super) fn put(n: &str, v: &str) -> Op {
        Op::Put { key: key(n), object: v.as_bytes().to_vec() }
    }

    pub(super) fn cmd(id: &str, op: CommandOp) -> Command {
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
        pub(super) async fn apply(&mut self, c: Command) -> Response {
            self.index += 1;
            let e = Entry {
                log_id: LogId::new(CommittedLeaderId::new(1, 1), self.index),
                payload: EntryPayload::Normal(c),
            };
            self.sm.apply([e]).await.unwrap().remove(0)
        }
        pub(super) async fn txn(
            &mut self,
            id: &str,
            pre: Vec<Precondition>,
            ops: Vec<Op>,
        ) -> TxnOutcome {
            match self.apply(cmd(id, CommandOp::Txn(Txn { preconditions: pre, ops }))).await {
                Response::Txn { outcome, .. } => outcome,
                r => panic!("{r:?}"),
            }
        }
        pub(super) fn rev(&self) -> Revision {
            self.sm.shared.applied_state().revision
        }
        /// Every key and value of the state machine tree but `applied` (which counts entries).
        pub(super) fn raw(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
            let g = self.sm.shared.read();
            g.tree
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .filter(|(k, _)| k != APPLIED)
                .collect()
        }
    }

    pub(super) fn txn_cmd(id: &str, pre: Vec<Precondition>, ops: Vec<Op>) -> Command {
        cmd(id, CommandOp::Txn(Txn { preconditions: pre, ops }))
    }

    pub(super) fn numbered(i: u64) -> Command {
        txn_cmd(&format!("r{i}"), vec![], vec![put(&format!("k{}", i % 7), &i.to_string())])
    }
}
