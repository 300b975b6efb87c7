//! The data model of the event log: keys, resources, transactions, events and the openraft
//! type configuration that carries them.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// A member's identity in the Raft cluster.
pub type NodeId = u64;
/// A member's network identity: its `--raft` address.
pub type Node = openraft::BasicNode;
/// A log revision: dense, starts at 1, one per committed transaction.
pub type Revision = u64;

openraft::declare_raft_types!(
    /// openraft type configuration of the istio-rs event log.
    pub TypeConfig:
        D = Command,
        R = Response,
        NodeId = NodeId,
        Node = Node,
        SnapshotData = Cursor<Vec<u8>>,
);

/// Identifies one resource: `(group, resource, namespace, name)`.
///
/// `resource` is the lower-case plural of the kind (as in the Kubernetes storage layout);
/// `namespace` is empty for cluster-scoped resources. The store treats all four as opaque.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceKey {
    /// API group, e.g. `networking.istio.io`.
    pub group: String,
    /// Lower-case plural resource name, e.g. `virtualservices`.
    pub resource: String,
    /// Namespace, empty for cluster-scoped resources.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl ResourceKey {
    /// Builds a key from its four parts.
    pub fn new(group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        Self {
            group: group.to_owned(),
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Whether this key lies under `prefix`.
    pub fn matches(&self, prefix: &KeyPrefix) -> bool {
        prefix.group.as_ref().is_none_or(|g| g == &self.group)
            && prefix.resource.as_ref().is_none_or(|r| r == &self.resource)
            && prefix.namespace.as_ref().is_none_or(|n| n == &self.namespace)
            && prefix.name.as_ref().is_none_or(|n| n == &self.name)
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.group.is_empty() { "core" } else { &self.group };
        if self.namespace.is_empty() {
            write!(f, "{group}/{}/{}", self.resource, self.name)
        } else {
            write!(f, "{group}/{}/{}/{}", self.resource, self.namespace, self.name)
        }
    }
}

/// Selects a set of keys: every part that is `Some` must match exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPrefix {
    /// Group to match, or any.
    pub group: Option<String>,
    /// Resource to match, or any.
    pub resource: Option<String>,
    /// Namespace to match, or any.
    pub namespace: Option<String>,
    /// Name to match, or any.
    pub name: Option<String>,
}

impl KeyPrefix {
    /// Every key.
    pub fn all() -> Self {
        Self::default()
    }

    /// Every object of one resource type, in one namespace or (`None`) in all.
    pub fn resource(group: &str, resource: &str, namespace: Option<&str>) -> Self {
        Self {
            group: Some(group.to_owned()),
            resource: Some(resource.to_owned()),
            namespace: namespace.map(str::to_owned),
            name: None,
        }
    }
}

/// A stored object and the revisions that describe its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// Where it lives.
    pub key: ResourceKey,
    /// The object itself, as the API layer encoded it (JSON); opaque to the store.
    /// (Encoded as bytes, not a sequence of numbers: the same bincode layout, decoded by copy.)
    #[serde(with = "serde_bytes")]
    pub object: Vec<u8>,
    /// Revision of the txn that created it.
    pub create_revision: Revision,
    /// Revision of the txn that last modified it; this is its `resourceVersion`.
    pub mod_revision: Revision,
    /// Number of writes since creation, starting at 1.
    pub version: u64,
    /// Proposer wall-clock time (ms since the Unix epoch) of the creating txn.
    pub create_time_ms: i64,
}

/// A condition a txn requires of the current state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Precondition {
    /// The key must not exist.
    Absent(ResourceKey),
    /// The key must exist (any revision).
    Exists(ResourceKey),
    /// The key must exist with exactly this `mod_revision`.
    ModRevision(ResourceKey, Revision),
}

impl Precondition {
    /// The key the condition is about.
    pub fn key(&self) -> &ResourceKey {
        match self {
            Precondition::Absent(k) | Precondition::Exists(k) | Precondition::ModRevision(k, _) => {
                k
            }
        }
    }
}

/// One write of a txn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Create or replace the object at `key`.
    Put {
        /// Target key.
        key: ResourceKey,
        /// Encoded object.
        #[serde(with = "serde_bytes")]
        object: Vec<u8>,
    },
    /// Remove the object at `key`; the txn fails with `NotFound` if there is none.
    Delete {
        /// Target key.
        key: ResourceKey,
    },
}

impl Op {
    /// The key the op writes.
    pub fn key(&self) -> &ResourceKey {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }
}

/// An atomic, conditional multi-key write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// All must hold, or nothing is written.
    pub preconditions: Vec<Precondition>,
    /// Applied in order under one revision.
    pub ops: Vec<Op>,
}

/// What a command asks the state machine to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandOp {
    /// A conditional write.
    Txn(Txn),
    /// Drop events with revision `<= revision` and idempotency entries older than
    /// `dedup_before_ms`. Proposed by the leader; applied identically on every node.
    Compact {
        /// Highest revision to drop.
        revision: Revision,
        /// Idempotency entries created before this time (ms) are forgotten. `i64::MIN`
        /// forgets none without looking at them (forgetting scans every entry).
        dedup_before_ms: i64,
    },
    /// Txn commands proposed together as one log entry (group commit: one Raft append and
    /// one flush for all of them). Each is applied as if proposed alone, in order, with its
    /// own revision, idempotency entry and response.
    Batch(Vec<Command>),
}

/// A log entry's payload: an operation stamped by its proposer so that applying it is
/// deterministic on every node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Unique id of the request; a command whose id was already applied returns the
    /// original result and writes nothing.
    pub request_id: String,
    /// The authenticated user that asked for it.
    pub actor: String,
    /// Network address the request came from (`ip:port`), or a component name.
    pub source: String,
    /// Proposer wall-clock time, ms since the Unix epoch.
    pub time_ms: i64,
    /// API verb (`create`, `update`, `patch`, `delete`, `apply`, …), recorded in the event.
    pub verb: String,
    /// For a rollback: the revision whose state it restores (recorded in the event).
    pub restores: Option<Revision>,
    /// What to do.
    pub op: CommandOp,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} by {}", self.verb, self.request_id, self.actor)
    }
}

/// Why a txn was not applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnFailure {
    /// Precondition `index` did not hold; `actual` is the key's current `mod_revision`.
    Precondition {
        /// Index into `Txn::preconditions`.
        index: usize,
        /// The condition that failed.
        condition: Precondition,
        /// Current `mod_revision` of the key, `None` if absent.
        actual: Option<Revision>,
    },
    /// A delete op targeted a key that does not exist.
    NotFound {
        /// The missing key.
        key: ResourceKey,
    },
}

/// The result of a txn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOutcome {
    /// Applied at `revision`; `results[i]` is the object written by op `i` (for a delete,
    /// the object as it was before).
    Committed {
        /// The txn's revision.
        revision: Revision,
        /// Per-op results.
        results: Vec<Resource>,
        /// Per-op: whether the key existed before the txn.
        existed: Vec<bool>,
    },
    /// Not applied; nothing was written. `revision` is the store revision it was checked at.
    Failed {
        /// Store revision at evaluation.
        revision: Revision,
        /// Why.
        failure: TxnFailure,
    },
}

/// What the state machine answers for a log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Blank and membership entries.
    None,
    /// A txn's outcome; `deduplicated` when the request id had been applied before and this
    /// is the original result.
    Txn {
        /// The outcome.
        outcome: TxnOutcome,
        /// Whether this is a replayed result.
        deduplicated: bool,
    },
    /// A compaction's result: the new compaction point.
    Compacted {
        /// Events `<=` this revision are gone.
        revision: Revision,
    },
    /// A batch's responses, one per command, in order.
    Batch(Vec<Response>),
}

/// How a change affected its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeType {
    /// The key did not exist before.
    Added,
    /// The key existed and was replaced.
    Modified,
    /// The key was removed.
    Deleted,
}

impl ChangeType {
    /// Kubernetes watch event type name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One key's change within an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Added, modified or deleted.
    pub kind: ChangeType,
    /// The key.
    pub key: ResourceKey,
    /// The object after the change (`None` for a delete).
    pub object: Option<Resource>,
    /// The object before the change (`None` for an add).
    pub previous: Option<Resource>,
}

/// A committed txn, as recorded in the event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its revision.
    pub revision: Revision,
    /// Proposer wall-clock time, ms since the Unix epoch.
    pub time_ms: i64,
    /// Who.
    pub actor: String,
    /// Where the request came from.
    pub source: String,
    /// The request id.
    pub request_id: String,
    /// The API verb.
    pub verb: String,
    /// For a rollback: the revision whose state it restored.
    pub restores: Option<Revision>,
    /// What changed, in op order.
    pub changes: Vec<Change>,
}

/// How fresh a read must be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consistency {
    /// Reflects every write acknowledged before the read started (ReadIndex).
    #[default]
    Linearizable,
    /// Whatever this node has applied.
    Local,
}
