//! Data dirs of earlier builds: the state machine trees `sm_<gen>` they kept in sled.
//!
//! Earlier builds kept the map itself in a sled tree `sm_<gen>` (the generation named in
//! `sm_pointer`) and wrote it as entries applied; generations other than the pointer's were
//! half-installed snapshots. On open such a tree is loaded instead of the saved snapshot when
//! it is ahead of it (only its applied id is read to decide), half-installed generations are
//! dropped, and the tree stays until the next snapshot is saved, which holds its state and
//! replaces it. A restore ([`super::seed`]) writes its state as generation 0 for the same path
//! to load.
//!
//! Everything that knows about these trees is here, and nothing else is, so that the day
//! earlier data dirs (and restores in this form) are no longer supported this file is deleted
//! and its few call sites in [`super`] with it.

use openraft::{LogId, SnapshotMeta};

use super::{Inner, APPLIED};
use crate::codec::decode;
use crate::error::StoreError;
use crate::mem::Mem;
use crate::types::{Node, NodeId};

/// The sled tree naming the current generation (`gen`).
const POINTER: &str = "sm_pointer";

/// The name of generation `gen`'s tree.
pub(super) fn tree_name(gen: u64) -> String {
    format!("sm_{gen}")
}

/// Whether a sled tree is a state machine generation `sm_<n>` (earlier builds, restores).
pub(super) fn is_generation(name: &[u8]) -> bool {
    name.strip_prefix(b"sm_")
        .and_then(|n| std::str::from_utf8(n).ok())
        .is_some_and(|n| n.parse::<u64>().is_ok())
}

/// The generation pointer of earlier builds, kept to drop their trees once a snapshot holds
/// their state.
pub(super) struct Legacy {
    pub(super) pointer: sled::Tree,
}

impl Legacy {
    /// Opens the pointer and drops the generations other than the pointer's (half-installed);
    /// returns the pointer's generation tree, if there is one.
    pub(super) fn open(db: &sled::Db) -> Result<(Self, Option<sled::Tree>), StoreError> {
        let pointer = db.open_tree(POINTER)?;
        let gen: u64 = match pointer.get(b"gen")? {
            Some(v) => decode(&v, "state machine generation")?,
            None => 0,
        };
        let current = tree_name(gen);
        let mut legacy = None;
        for name in db.tree_names().into_iter().filter(|n| is_generation(n)) {
            if name.as_ref() == current.as_bytes() {
                legacy = Some(db.open_tree(&name)?);
            } else {
                db.drop_tree(&name)?;
            }
        }
        Ok((Self { pointer }, legacy))
    }

    /// The state in `tree` if it is ahead of the saved snapshot (`saved`: its metadata, if
    /// one was saved). Only the tree's applied id decides; the tree is loaded only if it is
    /// ahead.
    pub(super) fn load_if_ahead(
        tree: &sled::Tree,
        saved: Option<&SnapshotMeta<NodeId, Node>>,
    ) -> Result<Option<Inner>, StoreError> {
        if let Some(meta) = saved {
            let applied: Option<LogId<NodeId>> = match tree.get(APPLIED)? {
                Some(v) => decode(&v, "state machine metadata")?,
                None => None,
            };
            if applied <= meta.last_log_id {
                return Ok(None);
            }
        }
        let inner = Inner::load(load_tree(tree)?)?;
        tracing::info!(
            applied_index = inner.applied.map_or(0, |l| l.index),
            "loaded the state machine from a sled tree (an earlier build's or a restore's); \
             the first snapshot replaces it"
        );
        Ok(Some(inner))
    }

    /// Drops the state machine trees of earlier builds, if any are left (a saved snapshot
    /// holds their state).
    pub(super) fn drop_trees(&self, db: &sled::Db) -> Result<(), StoreError> {
        let trees: Vec<_> = db.tree_names().into_iter().filter(|n| is_generation(n)).collect();
        if trees.is_empty() {
            return Ok(());
        }
        for name in trees {
            db.drop_tree(&name)?;
        }
        self.pointer.remove(b"gen")?;
        tracing::info!("dropped the state machine tree of an earlier build; the snapshot holds it");
        Ok(())
    }
}

/// Copies a sled tree into memory.
fn load_tree(tree: &sled::Tree) -> Result<Mem, StoreError> {
    tree.iter().map(|item| item.map(|(k, v)| (k.to_vec(), v)).map_err(StoreError::from)).collect()
}

#[cfg(test)]
mod tests {
    use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
    use sled::IVec;

    use super::super::fixture::*;
    use super::*;
    use crate::codec::encode;

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
        assert!(f.sm.shared.legacy.pointer.get(b"gen").unwrap().is_none());
        let f = reopen(f, |_| {});
        assert_eq!(f.sm.shared.applied_state(), want);
    }
}
