//! Checkers: one module per invariant, each reading a [`crate::history::History`] and returning
//! a [`CheckResult`].

use serde::{Deserialize, Serialize};

/// One checker's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The invariant, e.g. `linearizable`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// How many items (operations, events, streams, nodes) it checked.
    pub checked: usize,
    /// A one-line summary (what held, or what broke).
    pub message: String,
    /// When it failed: a minimal counterexample (the operations/events involved), as JSON.
    pub counterexample: Option<serde_json::Value>,
    /// Ids of the operations involved in a violation (for the timeline to mark).
    #[serde(default)]
    pub violating_ops: Vec<u64>,
}
