//! Raft log storage on sled (openraft `RaftLogStorage`, storage-v2).
//!
//! Entries live in the `raft_log` tree under big-endian index keys so that sled's byte order is
//! index order. The vote, the committed log id and the last purged log id live in `raft_meta`.
//! Appends are acknowledged to openraft (the `LogFlushed` callback) only after a sled flush
//! that covers them has completed; a single background flusher groups the flushes of
//! concurrent appends into one fsync (group commit). `save_vote` and `truncate` flush before
//! returning.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use tokio::sync::mpsc;

use crate::codec::{decode, encode};
use crate::types::{NodeId, TypeConfig};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";

type SErr = StorageError<NodeId>;

fn read_err(e: impl std::error::Error + 'static) -> SErr {
    StorageIOError::read_logs(&e).into()
}
fn write_err(e: impl std::error::Error + 'static) -> SErr {
    StorageIOError::write_logs(&e).into()
}

/// Counters of the log's writes, for metrics: how well appends group into flushes, and what
/// the flushes cost.
#[derive(Debug, Default)]
pub struct LogIoStats {
    /// `append` calls.
    pub appends: AtomicU64,
    /// Entries appended.
    pub entries: AtomicU64,
    /// Group-commit flushes.
    pub flushes: AtomicU64,
    /// Time spent in those flushes, in microseconds.
    pub flush_micros: AtomicU64,
}

/// The sled-backed Raft log.
#[derive(Clone)]
pub struct LogStore {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    flusher: mpsc::UnboundedSender<LogFlushed<TypeConfig>>,
    stats: Arc<LogIoStats>,
}

impl LogStore {
    /// Opens (or creates) the log in `db`. Must be called within a tokio runtime: it starts the
    /// flusher task.
    pub fn open(db: &sled::Db) -> Result<Self, crate::StoreError> {
        let log = db.open_tree("raft_log")?;
        let meta = db.open_tree("raft_meta")?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(LogIoStats::default());
        tokio::spawn(flusher(db.clone(), rx, stats.clone()));
        Ok(Self { db: db.clone(), log, meta, flusher: tx, stats })
    }

    /// The log's write counters.
    pub fn stats(&self) -> Arc<LogIoStats> {
        self.stats.clone()
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, SErr> {
        match self.meta.get(key).map_err(read_err)? {
            Some(v) => Ok(Some(decode(&v, "raft metadata").map_err(read_err)?)),
            None => Ok(None),
        }
    }

    fn last_log_id(&self) -> Result<Option<LogId<NodeId>>, SErr> {
        match self.log.last().map_err(read_err)? {
            Some((_, v)) => {
                let e: Entry<TypeConfig> = decode(&v, "raft log entry").map_err(read_err)?;
                Ok(Some(e.log_id))
            }
            None => Ok(None),
        }
    }
}

/// Group commit: each wake-up takes every queued callback, flushes once, then acknowledges
/// them all in order. Entries were inserted before their callback was queued, so the flush
/// covers them.
async fn flusher(
    db: sled::Db,
    mut rx: mpsc::UnboundedReceiver<LogFlushed<TypeConfig>>,
    stats: Arc<LogIoStats>,
) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let start = std::time::Instant::now();
        let res = db.flush_async().await;
        stats.flushes.fetch_add(1, Ordering::Relaxed);
        stats.flush_micros.fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        for cb in batch.drain(..) {
            cb.log_io_completed(
                res.as_ref().map(|_| ()).map_err(|e| std::io::Error::other(e.to_string())),
            );
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, SErr> {
        use std::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i + 1,
            Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        for item in self.log.range(start.to_be_bytes()..) {
            let (k, v) = item.map_err(read_err)?;
            let idx = u64::from_be_bytes(k.as_ref().try_into().map_err(|_| {
                read_err(crate::StoreError::Corrupt {
                    what: "raft log key",
                    reason: "not 8 bytes".into(),
                })
            })?);
            if !range.contains(&idx) {
                break;
            }
            out.push(decode(&v, "raft log entry").map_err(read_err)?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, SErr> {
        let last_purged: Option<LogId<NodeId>> = self.get_meta(LAST_PURGED)?;
        let last = self.last_log_id()?.or(last_purged);
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), SErr> {
        self.meta.insert(VOTE, encode(vote)).map_err(|e| StorageIOError::write_vote(&e))?;
        self.db.flush_async().await.map_err(|e| StorageIOError::write_vote(&e))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, SErr> {
        self.get_meta(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), SErr> {
        // Not flushed: losing it only means re-applying a little more on restart.
        self.meta.insert(COMMITTED, encode(&committed)).map_err(write_err)?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, SErr> {
        Ok(self.get_meta::<Option<LogId<NodeId>>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for e in entries {
            batch.insert(&e.log_id.index.to_be_bytes(), encode(&e));
            n += 1;
        }
        self.log.apply_batch(batch).map_err(write_err)?;
        self.stats.appends.fetch_add(1, Ordering::Relaxed);
        self.stats.entries.fetch_add(n, Ordering::Relaxed);
        if let Err(mpsc::error::SendError(cb)) = self.flusher.send(callback) {
            // The flusher is gone (runtime shutting down): flush inline.
            let res = self.db.flush_async().await;
            cb.log_io_completed(res.map(|_| ()).map_err(|e| std::io::Error::other(e.to_string())));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), SErr> {
        let mut batch = sled::Batch::default();
        for item in self.log.range(log_id.index.to_be_bytes()..) {
            let (k, _) = item.map_err(read_err)?;
            batch.remove(k);
        }
        self.log.apply_batch(batch).map_err(write_err)?;
        self.db.flush_async().await.map_err(write_err)?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), SErr> {
        // Record the purge point first: a crash in between leaves extra entries, never a hole.
        self.meta.insert(LAST_PURGED, encode(&log_id)).map_err(write_err)?;
        let mut batch = sled::Batch::default();
        for item in self.log.range(..=log_id.index.to_be_bytes()) {
            let (k, _) = item.map_err(read_err)?;
            batch.remove(k);
        }
        self.log.apply_batch(batch).map_err(write_err)?;
        Ok(())
    }
}
