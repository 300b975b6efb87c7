//! Chaos testing for istiod clusters, in the manner of etcd's robustness tests and Jepsen: run
//! real `istiod` processes behind a fault-injecting network, drive them with concurrent clients,
//! record the history, and check it against the store's guarantees.

pub mod check;
pub mod history;
