//! Snapshots: the state machine's only durable form, and what openraft ships to a member that
//! is too far behind.
//!
//! A snapshot is every key and value of the map at one applied index ([`SnapshotBlob`]).
//! [`super::StateMachine`]'s `get_snapshot_builder` captures the map on the state-machine task
//! (a consistent cut between applies; values are shared, not copied) and the
//! [`SnapshotBuilder`] encodes it on a blocking thread, then saves it. Saving writes the blob
//! into sled's `sm_snapshot` tree and flushes before it is reported saved; from then on it is
//! the durable state, and the durable index ([`super::Shared::durable_index`], which the
//! Raft log's purge waits for) moves to it. Installing decodes a received snapshot, verifies
//! its state hash, saves it, and only then replaces the map, so a crash mid-install leaves the
//! old state and its log. On open the map is the saved snapshot, hash verified.
//!
//! Saves are serialized, and a snapshot no newer than the saved one is not written: openraft
//! builds on its own task, so a build captured before an install of a newer snapshot can
//! finish after it, and must not replace it (the log was purged behind the newer one).
//!
//! This is the one part of the state machine that writes to disk; it is kept apart so that
//! [`super::apply`] stays pure and the durability rules are read in one place.

use std::io::Cursor;

use openraft::storage::Snapshot;
use openraft::{LogId, RaftSnapshotBuilder, SnapshotMeta, StorageIOError, StoredMembership};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sled::IVec;

use super::{Inner, SErr, StateMachine, APPLIED, MEMBERSHIP};
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::mem::Mem;
use crate::types::*;

/// The sled tree that holds the saved snapshot (`meta` and `data`).
pub(super) const SNAPSHOT_TREE: &str = "sm_snapshot";

/// A snapshot's data: every key and value of the map.
#[derive(Serialize, Deserialize)]
pub(super) struct SnapshotBlob {
    pub(super) pairs: Vec<(ByteBuf, ByteBuf)>,
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

/// Decodes a snapshot's data into the state it holds and checks its state hash (`what`
/// names it in the error).
pub(super) fn decode_checked(
    meta: &SnapshotMeta<NodeId, Node>,
    data: &[u8],
    what: &'static str,
) -> Result<Inner, StoreError> {
    let blob: SnapshotBlob = decode(data, "snapshot")?;
    let inner = Inner::load(blob.into_mem(meta))?;
    inner.check_hash(what)?;
    Ok(inner)
}

/// A saved snapshot's metadata and data.
pub(super) type Saved = (SnapshotMeta<NodeId, Node>, IVec);

/// The saved snapshot, if one was saved.
pub(super) fn read_snapshot(snapshots: &sled::Tree) -> Result<Option<Saved>, StoreError> {
    match (snapshots.get(b"meta")?, snapshots.get(b"data")?) {
        (Some(m), Some(d)) => Ok(Some((decode(&m, "snapshot metadata")?, d))),
        _ => Ok(None),
    }
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

impl StateMachine {
    /// Captures the map for a snapshot. Runs on the state machine task, between applies: the
    /// copy is consistent. Values are shared, not copied.
    pub(super) fn capture(&self) -> SnapshotBuilder {
        let g = self.shared.read();
        let pairs = g.tree.iter().map(|(k, v)| (k.to_vec(), v.clone())).collect();
        let captured = Ok((g.applied, g.membership.clone(), pairs));
        drop(g);
        SnapshotBuilder { sm: self.clone(), captured }
    }

    /// The saved snapshot, as openraft reads it.
    pub(super) fn snapshot_from_store(&self) -> Result<Option<Snapshot<TypeConfig>>, StoreError> {
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
        self.shared.legacy.drop_trees(&self.shared.db)?;
        Ok(data)
    }

    /// Installs a received snapshot: checked, saved, then swapped in for the map.
    pub(super) async fn install(
        &self,
        meta: &SnapshotMeta<NodeId, Node>,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        let fresh = decode_checked(meta, &data, "snapshot")?;
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

#[cfg(test)]
mod tests {
    use openraft::storage::RaftStateMachine;

    use super::super::fixture::*;
    use super::super::RES;
    use super::*;

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
}
