//! [`PilotError`]: why Pilot could not do what a proxy or the API asked of it.

use istio_store::StoreError;

/// Why Pilot could not do what a proxy or the API asked of it.
#[derive(Debug, thiserror::Error)]
pub enum PilotError {
    /// A proxy's WorkloadGroup auto-registration cannot be done.
    #[error("auto-registration of proxy {proxy:?}: {message}")]
    AutoRegistration {
        /// The proxy's node id.
        proxy: String,
        /// What is wrong and what to check.
        message: String,
    },
    /// The store failed under a write or read Pilot made.
    #[error(transparent)]
    Store(#[from] StoreError),
}
