//! Chaos testing for istiod clusters, in the manner of etcd's robustness tests and Jepsen: run
//! real `istiod` processes behind a fault-injecting network, drive them with concurrent clients,
//! record the history, and check it against the store's guarantees.
//!
//! - [`cluster`]: the processes under test and the process faults;
//! - [`faultnet`]: the per-link fault proxies between members;
//! - [`workload`]: clients and watchers, recording the history;
//! - [`scenario`]: the named nemesis schedules;
//! - [`check`]: one checker per invariant;
//! - [`runner`]: one run end to end, with its report and [`timeline`].

pub mod check;
pub mod cluster;
pub mod faultnet;
pub mod history;
pub mod runner;
pub mod scenario;
pub mod timeline;
pub mod workload;

/// What can stop a chaos run (as opposed to a checker finding a violation).
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    /// Local I/O: data dirs, logs, reports, proxies.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A member process could not be started, stopped or signalled.
    #[error("process: {0}")]
    Process(String),
    /// A member id the cluster does not have.
    #[error("no member {0}")]
    NoSuchNode(u64),
    /// The cluster did not recover in time (no leader, no convergence).
    #[error("liveness: {0}")]
    Liveness(String),
    /// Encoding the report.
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
}
