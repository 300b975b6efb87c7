//! The recorded history of a chaos run: every client operation (invoke and completion times,
//! outcome), every watch stream, the final event log and each node's final state. Checkers read
//! only this; the runner writes it.

use serde::{Deserialize, Serialize};

/// A key under test (one object name; all keys share one kind and namespace).
pub type Key = String;
/// A value written by a client; every write writes a value no other write uses.
pub type Value = String;
/// A store revision.
pub type Revision = u64;

/// What a client asked for.
// Each variant's doc says what its fields are.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpKind {
    /// Create `key` with `value`; fails if the key exists.
    Create { key: Key, value: Value },
    /// Replace `key` with `value` if its current value is `expect` (compare-and-set on the
    /// resourceVersion the client read together with `expect`).
    Update { key: Key, value: Value, expect: Value, expect_revision: Revision },
    /// Delete `key`; with `expect`, only if its current value is `expect`.
    Delete { key: Key, expect: Option<Value>, expect_revision: Option<Revision> },
    /// Linearizable read of one key.
    Get { key: Key },
    /// Linearizable list of every key.
    List,
}

impl OpKind {
    /// The key it touches (`None` for a list).
    pub fn key(&self) -> Option<&Key> {
        match self {
            OpKind::Create { key, .. }
            | OpKind::Update { key, .. }
            | OpKind::Delete { key, .. }
            | OpKind::Get { key } => Some(key),
            OpKind::List => None,
        }
    }

    /// Whether it may change state.
    pub fn is_write(&self) -> bool {
        matches!(self, OpKind::Create { .. } | OpKind::Update { .. } | OpKind::Delete { .. })
    }
}

/// Why an operation definitely did not take effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// Create of an existing key (409 AlreadyExists).
    AlreadyExists,
    /// The compare-and-set precondition did not hold (409 Conflict).
    Conflict,
    /// The key does not exist (404).
    NotFound,
    /// Refused before it could take effect (connection refused, 503 before proposing, ...).
    Refused,
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// It took effect (writes) or answered (reads).
    Ok {
        /// Writes: the revision the write committed at. Lists: the revision the list was read
        /// at. Gets: the key's modRevision (`None` when absent).
        revision: Option<Revision>,
        /// Gets: the value read (`None`: the key does not exist).
        value: Option<Value>,
        /// Lists: every key and its value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list: Option<Vec<(Key, Value)>>,
    },
    /// It definitely did not take effect.
    Fail {
        /// Why.
        reason: FailReason,
    },
    /// Unknown: it may or may not have taken effect (timeout, connection lost after sending).
    Unknown {
        /// What the client saw.
        error: String,
    },
}

/// One client operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Unique id within the history.
    pub id: u64,
    /// The client (each client runs one operation at a time).
    pub client: u32,
    /// The node the client sent it to.
    pub node: u64,
    /// What it asked for.
    pub kind: OpKind,
    /// Monotonic invoke time, ns since the run started.
    pub invoke_ns: u64,
    /// Monotonic completion time, ns since the run started (for `Unknown`, when the client gave
    /// up; the op may take effect any time after `invoke_ns`).
    pub complete_ns: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// One change in a committed event, as the final event log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChange {
    /// The key.
    pub key: Key,
    /// The value after the change (`None`: deleted).
    pub value: Option<Value>,
}

/// One committed event of the final log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    /// Its revision.
    pub revision: Revision,
    /// The request id (Idempotency-Key) that produced it.
    pub request_id: String,
    /// What changed.
    pub changes: Vec<LogChange>,
}

/// One event received on a watch stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEvent {
    /// The revision of the event (the object's resourceVersion).
    pub revision: Revision,
    /// The key.
    pub key: Key,
    /// The value after the event (`None`: deleted).
    pub value: Option<Value>,
}

/// One watch stream, from open to close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchStream {
    /// Its id.
    pub id: u64,
    /// The node it was opened on.
    pub node: u64,
    /// It asked for every event after this revision.
    pub from_revision: Revision,
    /// When it was opened (ns since the run started).
    pub open_ns: u64,
    /// When it was closed (ns since the run started).
    pub close_ns: u64,
    /// What it received, in order.
    pub events: Vec<WatchEvent>,
    /// How it ended (`None`: the runner closed it; otherwise the error, e.g. a dropped connection
    /// or 410 Expired).
    pub error: Option<String>,
}

/// A node's state once the run has healed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// Member id.
    pub node: u64,
    /// Applied revision.
    pub revision: Revision,
    /// State hash at that revision.
    pub hash: String,
}

/// Everything a run recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Every operation, in invoke order.
    pub ops: Vec<Op>,
    /// Every watch stream.
    pub watches: Vec<WatchStream>,
    /// The final event log, restricted to the keys under test, in revision order. Revisions
    /// are dense across the whole store; events outside the keys under test are absent, so
    /// consecutive entries may skip revisions only where `other_revisions` lists them.
    pub log: Vec<LogEvent>,
    /// Revisions committed by writes outside the keys under test (e.g. the runner's setup).
    pub other_revisions: Vec<Revision>,
    /// Final linearizable reads of every key after healing: key -> value.
    pub final_state: Vec<(Key, Option<Value>)>,
    /// Each node's final state.
    pub nodes: Vec<NodeState>,
    /// Every fault the nemesis injected.
    pub faults: Vec<Fault>,
}

/// One injected fault, from injection to heal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// What: `kill`, `pause`, `partition`, `asymmetric-partition`, `delay`, `restart`,
    /// `add-member`, `remove-member`, ...
    pub kind: String,
    /// Which nodes or links, e.g. `node 2` or `1->3`.
    pub target: String,
    /// When it was injected (ns since the run started).
    pub start_ns: u64,
    /// When it was healed (ns since the run started; `end_ns == start_ns` for an instant
    /// fault such as a kill followed by a restart later, which is its own fault).
    pub end_ns: u64,
}
