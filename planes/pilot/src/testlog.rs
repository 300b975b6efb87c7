//! Unit-test support: a one-member log without Raft. A real [`StateMachine`] on a temporary
//! data dir applies each command as the next log entry, as openraft would once it committed;
//! its [`Shared`] state is what a [`istio_planes_view::ViewDriver`]-fed plane reads, and it serves
//! [`EntryStore`] for auto-registration. Its wall clock follows tokio's from a fixed start
//! (2026-01-01T00:00:00Z), so tests under paused time drive the timestamps too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use istio_store::state_machine::{Shared, StateMachine};
use istio_store::{
    Command, CommandOp, KeyPrefix, NodeId, Op, Resource, ResourceKey, Response, Revision,
    StoreError, Txn, TxnOutcome,
};
use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
use tokio::time::Instant;

use crate::autoreg::EntryStore;

/// 2026-01-01T00:00:00Z, where the test log's wall clock starts.
pub(crate) const START: Duration = Duration::from_secs(1_767_225_600);

/// A state machine fed entries in order, standing in for a one-member cluster.
pub(crate) struct TestLog {
    sm: tokio::sync::Mutex<(StateMachine, u64)>,
    shared: Arc<Shared>,
    leader: AtomicBool,
    started: Instant,
    _dir: tempfile::TempDir,
}

impl TestLog {
    /// An empty log whose member leads.
    pub(crate) fn new() -> Arc<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = sled::Config::new().path(dir.path()).open().expect("sled");
        let sm = StateMachine::open(&db).expect("state machine");
        let shared = sm.shared();
        Arc::new(TestLog {
            sm: tokio::sync::Mutex::new((sm, 0)),
            shared,
            leader: AtomicBool::new(true),
            started: Instant::now(),
            _dir: dir,
        })
    }

    /// The applied state, as a member's views read it.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Makes this member a follower (`false`) or the leader again.
    pub(crate) fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }

    /// Applies `cmd` as the next entry.
    pub(crate) async fn commit(&self, cmd: Command) -> Response {
        let mut g = self.sm.lock().await;
        g.1 += 1;
        let entry = Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), g.1),
            payload: EntryPayload::Normal(cmd),
        };
        g.0.apply([entry]).await.expect("apply").pop().expect("one response")
    }

    /// Writes `object` (JSON) at `key` unconditionally; its revision.
    pub(crate) async fn put(&self, key: ResourceKey, object: &serde_json::Value) -> Revision {
        let n = self.shared.applied_state().revision + 1;
        let cmd = Command {
            request_id: format!("test-{n}-{key}"),
            actor: "test".into(),
            source: "test".into(),
            time_ms: self.now().as_millis() as i64,
            verb: "apply".into(),
            restores: None,
            op: CommandOp::Txn(Txn {
                preconditions: vec![],
                ops: vec![Op::Put { key, object: serde_json::to_vec(object).expect("json") }],
            }),
        };
        match self.commit(cmd).await {
            Response::Txn { outcome: TxnOutcome::Committed { revision, .. }, .. } => revision,
            other => panic!("put: {other:?}"),
        }
    }

    /// The object at `key`, decoded.
    pub(crate) fn object(&self, key: &ResourceKey) -> Option<serde_json::Value> {
        let r = self.shared.get(key).expect("get").0?;
        Some(serde_json::from_slice(&r.object).expect("stored JSON"))
    }
}

impl EntryStore for TestLog {
    fn member_id(&self) -> NodeId {
        1
    }

    async fn read_barrier(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn get(&self, key: &ResourceKey) -> Result<Option<Resource>, StoreError> {
        self.shared.get(key).map(|(r, _)| r)
    }

    fn list(&self, prefix: &KeyPrefix) -> Result<Vec<Resource>, StoreError> {
        self.shared.list(prefix).map(|(r, _)| r)
    }

    fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    async fn write(&self, cmd: Command) -> Result<Response, StoreError> {
        Ok(self.commit(cmd).await)
    }

    fn now(&self) -> Duration {
        START + self.started.elapsed()
    }
}
