//! The error type of istio-store.
//!
//! Each variant is one kind of cause, so that callers can map it without reading messages:
//! the caller's mistake ([`StoreError::Invalid`], [`StoreError::Compacted`], ...), the
//! cluster's state ([`StoreError::NoLeader`], [`StoreError::Timeout`], ...), and the
//! member's own storage failing ([`StoreError::Io`], [`StoreError::Sled`],
//! [`StoreError::Corrupt`]), which is never the request's fault.

use std::path::PathBuf;

use crate::types::{NodeId, Revision};

/// Everything that can go wrong in the store, phrased for the operator who has to act on it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory of the data dir (the Raft log's segments and their directory, the
    /// data dir itself) could not be read, written, synced, created or removed: usually a
    /// full or failing disk, or permissions. The member cannot go on storing; the request is
    /// not at fault.
    #[error("I/O error {op} {}: {source} (check the disk and the data directory: free space, permissions, device errors in the system log, and that no other istiod uses it)", .path.display())]
    Io {
        /// What was being done (`writing`, `syncing`, `creating`, ...).
        op: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// sled failed; usually disk full, permissions, or a data dir used by another process.
    #[error("storage I/O failed: {0} (check the data directory: free space, permissions, and that no other istiod uses it)")]
    Sled(#[from] sled::Error),
    /// A persisted or received record could not be decoded.
    #[error("corrupt {what}: {reason} (was the data directory written by an incompatible build?)")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// Decoder message.
        reason: String,
    },
    /// A revision older than the compaction point was asked for.
    #[error("revision {requested} has been compacted; the oldest available revision is {oldest}")]
    Compacted {
        /// What was asked.
        requested: Revision,
        /// Oldest revision whose events are still retained.
        oldest: Revision,
    },
    /// A revision newer than the current one was asked for.
    #[error("revision {requested} is in the future; the current revision is {current}")]
    FutureRevision {
        /// What was asked.
        requested: Revision,
        /// The current revision.
        current: Revision,
    },
    /// No leader is known (election in progress, or no quorum).
    #[error("no leader is available ({0}); the cluster may be electing or have lost quorum")]
    NoLeader(String),
    /// The request could not be completed in time; it may or may not have been applied.
    #[error("timed out after {0:?} waiting for the cluster; the request may still be applied — retry with the same Idempotency-Key")]
    Timeout(std::time::Duration),
    /// Talking to a peer failed.
    #[error("peer {peer} at {addr} unreachable: {reason}")]
    Peer {
        /// Peer id.
        peer: NodeId,
        /// Peer raft address.
        addr: String,
        /// Transport message.
        reason: String,
    },
    /// A membership change was refused.
    #[error("membership change refused: {0}")]
    Membership(String),
    /// openraft reported a fatal error or the node is shutting down.
    #[error("raft is not running: {0}")]
    Raft(String),
    /// A bad argument from the caller.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl From<StoreError> for std::io::Error {
    fn from(e: StoreError) -> Self {
        std::io::Error::other(e.to_string())
    }
}
