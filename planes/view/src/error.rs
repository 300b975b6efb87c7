//! [`ViewError`]: why a view could not be built or read.

use istio_store::StoreError;

/// Why a view could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The store refused the read (`Compacted` below the compaction point,
    /// `FutureRevision` above the current revision, or a failure reading the state machine).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The task that keeps the view current has stopped (the member is shutting down).
    #[error(
        "the view driver has stopped; the member is shutting down or its state machine closed"
    )]
    Stopped,
}
